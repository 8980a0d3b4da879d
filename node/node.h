/*
 * node.h — hcp-node's internals, shared by the files of node/ (prefix node_).
 *
 * Threads: the main thread runs the libuv loop (signals, the deadline sweep
 * timer, and the single LMDB writer). nng's HTTP server calls handlers on its
 * own threads: reads are served there from read-only LMDB transactions;
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
#include "seal.h"

#define NODE_PATH_MAX 4096

typedef struct node_config {
    char data[NODE_PATH_MAX];       /* --data DIR (required) */
    char county[8];                 /* --county CODE (required, a known division) */
    char listen_http[256];          /* --listen-http HOST:PORT, default 127.0.0.1:8701 */
    char gateway[512];              /* --gateway URL, "" = offline */
    char tls_cert[NODE_PATH_MAX];   /* --tls-cert */
    char tls_key[NODE_PATH_MAX];    /* --tls-key */
    char tls_ca[NODE_PATH_MAX];     /* --tls-ca */
    char tls_server_name[256];      /* --tls-server-name */
    char api_token_file[NODE_PATH_MAX]; /* --api-token-file, default DIR/api.token */
    char calendar[NODE_PATH_MAX];   /* --calendar, "" = the compiled-in one */
    char seal_key_file[NODE_PATH_MAX];  /* --seal-key-file, default DIR/seal.key */
    bool insecure;                  /* --insecure: allow tcp:// to the gateway */
    int sweep_seconds;              /* --sweep-interval, default 60 */
} node_config;

typedef struct node_store node_store;   /* store.c */
typedef struct node_writer node_writer; /* writer.c */
typedef struct node_http node_http;     /* http.c */

typedef struct node {
    node_config cfg;
    uv_loop_t *loop;
    hcp_cal *cal;
    hcp_sealer *sealer;
    node_store *store;
    node_writer *writer;
    node_http *http;
    char token[128]; /* the API bearer token */
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

/* ---- log.c: one structured line per event on stderr, never personal data.
 * node_log("info", "http.listen", "addr=%s", addr) prints
 * 2026-11-27T10:03:00.123+08:00 level=info id=http.listen addr=127.0.0.1:8701 */
void node_log(const char *level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- http.c: the HTTP server (nng). One node_req per request. ---- */
typedef struct node_req node_req;

/* Start serving on n->cfg.listen_http; bearer-token checks for every route
 * but /healthz are done here, before node_api_handle sees a request. */
int node_http_start(node *n);
/* Stop accepting and wait for in-flight handlers to reply; then free. */
void node_http_stop(node *n);

const char *node_req_method(const node_req *r);
/* The path without the query string, e.g. "/v1/cases/630102-20261127-0001/events". */
const char *node_req_path(const node_req *r);
/* Copy query parameter key (URL-decoded) into buf; false when absent or too long. */
bool node_req_query(const node_req *r, const char *key, char *buf, size_t len);
/* A request header's value (borrowed until the reply), or NULL. */
const char *node_req_header(const node_req *r, const char *name);
/* The request body (borrowed until the reply). */
void node_req_body(const node_req *r, const char **body, size_t *len);
/* Reply exactly once, from any thread. body is stolen (decref'd). */
void node_req_reply_json(node_req *r, int status, json_t *body);
/* Reply with {"error": error, "detail": detail}. */
void node_req_reply_error(node_req *r, int status, const char *error, const char *detail);
/* Reply with bytes of a content type (copied). */
void node_req_reply_raw(node_req *r, int status, const char *content_type, const void *data,
                        size_t len);

/* ---- api.c: route a request (auth already checked). Must make the request
 * be replied to exactly once, now or later from the loop thread. ---- */
void node_api_handle(node *n, node_req *r);

/* ---- store.c / writer.c (LMDB, group commit) ---- */
int node_store_open(node *n);   /* opens DIR/store (LMDB), verifies the head */
void node_store_close(node *n);
int node_writer_start(node *n); /* uv_async + queue; sweep timer */
void node_writer_stop(node *n); /* drain the queue, commit, close handles */
void node_writer_free(node *n); /* after the loop ran the close callbacks */

/* ---- subcommands (ops.c). main passes argc - 1, argv + 1: argv[0] is the
 * subcommand's name ("backup"); the return value is the exit status. ---- */
int node_cmd_backup(int argc, char **argv);
int node_cmd_verify(int argc, char **argv);

#endif
