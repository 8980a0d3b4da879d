/*
 * node.h — hcp-node's settings and the node aggregate, shared by the files
 * of node/ (prefix node_).
 *
 * Layers (each file includes only headers below it; none reaches up):
 *   store.h   the LMDB store and its queries (no HTTP, no node struct)
 *   node.h    the settings (config.c) and the node aggregate
 *   writer.h  the single writer (group commit); tells whoever registered a
 *             commit hook (node_writer_on_commit) of new events
 *   api.h, sync.h, ops.h  the HTTP routes, replication, the subcommands;
 *             sync registers its commit hook with the writer
 *   main.c    wires them together (not in the hcpnode library)
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

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <uv.h>

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
    int backdate_days; /* --backdate-days: working days before a step is backdated (rules.h) */
    int map_max_mib;   /* --map-max-mib: ceiling of the LMDB map */
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
    struct node_calendar *calendar; /* the federation calendar's state (calendar_fed.h) */
    hcpd_acct acct;                 /* named accounts and the access log (daemon/accounts.h) */
    char token[128];                /* the API bearer token: the account "admin" */
    int lock_fd;                    /* flock on DIR/node.lock */
} node;

/* ---- config.c: flags and the INI file (see hcp-node.conf.example). ---- */
#define NODE_CFG_OK      0 /* cfg is complete and valid: run */
#define NODE_CFG_HELP    1 /* --help was given: the caller prints the usage, exits 0 */
#define NODE_CFG_ERROR   2 /* bad input: message in err, exit 2 */
#define NODE_CFG_VERSION 3 /* --version was given: the caller prints it, exits 0 */
/* Fill cfg (zeroed first) from argv (argv[0] is the program) and the file of
 * --config, flags winning; check it (the county a known division, the
 * gateway URL with its TLS files or --insecure, HOST:PORT addresses, the
 * numbers in range). Returns one of NODE_CFG_*; on NODE_CFG_ERROR err
 * holds a one-line message (for stderr) and cfg is not to be used. */
HCP_NODISCARD int node_config_parse(node_config *cfg, int argc, char **argv, char *err,
                                    size_t errlen);
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

#endif
