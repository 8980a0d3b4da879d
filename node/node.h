/*
 * node.h — hcp-node's internals, shared by the files of node/ (prefix node_).
 *
 * Threads: the main thread runs the libuv loop (signals, the deadline sweep
 * timer, and the single LMDB writer). The HTTP server (daemon/http.c) calls
 * handlers on its own thread: reads are served there from read-only LMDB transactions;
 * writes are queued to the loop (mutex + uv_async_send), which applies every
 * queued write in one LMDB transaction (group commit) and replies to each
 * only after that transaction committed.
 */
#ifndef NODE_H
#define NODE_H

#include <limits.h>
#include <uv.h>
#include <jansson.h>

#include "calendar.h"
#include "accounts.h"
#include "hcpd.h"
#include "seal.h"

#define NODE_PATH_MAX 4096

typedef struct node_config {
    char data[NODE_PATH_MAX];           /* --data DIR (required) */
    char county[8];                     /* --county CODE (required, a known division) */
    char listen_http[256];              /* --listen-http HOST:PORT, default 127.0.0.1:8701 */
    char gateway[512];                  /* --gateway URL, "" = offline */
    char tls_cert[NODE_PATH_MAX];       /* --tls-cert */
    char tls_key[NODE_PATH_MAX];        /* --tls-key */
    char tls_ca[NODE_PATH_MAX];         /* --tls-ca */
    char tls_server_name[256];          /* --tls-server-name */
    char api_token_file[NODE_PATH_MAX]; /* --api-token-file, default DIR/api.token */
    char calendar[NODE_PATH_MAX];       /* --calendar, "" = the compiled-in one */
    char divisions[NODE_PATH_MAX];      /* --divisions, "" = the compiled-in list */
    char seal_key_file[NODE_PATH_MAX];  /* --seal-key-file, default DIR.keys/seal.key */
    bool insecure;                      /* --insecure: allow tcp:// to the gateway */
    int sweep_seconds;                  /* --sweep-interval, default 60 */
    int map_max_mib;                    /* --map-max-mib: ceiling of the LMDB map */
} node_config;

typedef struct node_store node_store;   /* store.c */
typedef struct node_writer node_writer; /* writer.c */
typedef struct node_sync node_sync;     /* sync.c */

typedef struct node {
    node_config cfg;
    uv_loop_t *loop;
    hcp_cal *cal;
    hcp_sealer *sealer;
    node_store *store;
    node_writer *writer;
    hcpd_http *http;
    node_sync *sync;
    hcpd_acct acct;  /* named accounts and the access log (daemon/accounts.h) */
    char token[128]; /* the API bearer token: the account "admin" */
    int lock_fd;     /* flock on DIR/node.lock */
} node;

/* ---- config.c: flags and the INI file (see hcp-node.conf.example). ---- */
#define NODE_CFG_OK    0 /* cfg is complete and valid: run */
#define NODE_CFG_HELP  1 /* --help was given: usage printed, exit 0 */
#define NODE_CFG_ERROR 2 /* bad input: message in err, exit 2 */
/* Fill cfg (zeroed first) from argv (argv[0] is the program) and the file of
 * --config, flags winning; check it. Returns one of NODE_CFG_*. */
int node_config_parse(node_config *cfg, int argc, char **argv, char *err, size_t errlen);
/* Print the usage text to stdout. */
void node_config_usage(void);

/* ---- logging and HTTP come from libhcpd (daemon/hcpd.h) ---- */
#define node_log hcpd_log
typedef hcpd_req node_req;
#define node_req_method      hcpd_req_method
#define node_req_path        hcpd_req_path
#define node_req_query       hcpd_req_query
#define node_req_header      hcpd_req_header
#define node_req_body        hcpd_req_body
#define node_req_reply_json  hcpd_req_reply_json
#define node_req_reply_error hcpd_req_reply_error
#define node_req_reply_raw   hcpd_req_reply_raw

/* Start serving on n->cfg.listen_http (api.c): /healthz is public, every
 * other route needs the token. */
int node_http_start(node *n);
/* Stop accepting and wait for in-flight requests to be answered; then free. */
void node_http_stop(node *n);

/* ---- api.c: route a request (auth already checked). Must make the request
 * be replied to exactly once, now or later from the loop thread. ---- */
void node_api_handle(node *n, node_req *r);

/* ---- store.c / writer.c (LMDB, group commit) ---- */
int node_store_open(node *n); /* opens DIR/store (LMDB), verifies the head */
void node_store_close(node *n);
int node_writer_start(node *n); /* uv_async + queue; sweep timer */
void node_writer_stop(node *n); /* drain the queue, commit, close handles */
void node_writer_free(node *n); /* after the loop ran the close callbacks */

/* ---- sync.c: replication to the gateway (docs/replication.md) ---- */
/* Start dialing cfg.gateway (nothing when it is ""). */
int node_sync_start(node *n);
/* Close the connection and wait for its callbacks; then free. */
void node_sync_stop(node *n);
/* The writer committed events up to head: wake the sender. Any thread. */
void node_sync_kick(node *n, uint64_t head, const uint8_t hash[32]);
/* {gateway, connected, log_head, acked, lag, last_error} for GET /v1/sync. */
json_t *node_sync_json(node *n);
/* Append the replication-latency histogram (Prometheus text) to out. */
int node_sync_metrics(node *n, hcp_buf *out);

/* ---- subcommands (ops.c). main passes argc - 1, argv + 1: argv[0] is the
 * subcommand's name ("backup"); the return value is the exit status. ---- */
int node_cmd_backup(int argc, char **argv);
int node_cmd_verify(int argc, char **argv);
/* `hcp-node user add|list|disable` (daemon/accounts.c, roles clerk,
 * supervisor, auditor). */
int node_cmd_user(int argc, char **argv);

#endif
