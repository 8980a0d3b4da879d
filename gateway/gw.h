/*
 * gw.h — hcp-gateway's internals (prefix gw_), the province side of
 * docs/replication.md.
 *
 * Threads: the main thread runs the libuv loop (signals, timers, and the
 * single LMDB writer, as in the node). nng's threads run the replication
 * listener (rep contexts: decode, authenticate, verify signatures) and the
 * HTTP server; they queue batches to the writer, which applies every queued
 * batch in one LMDB transaction and acknowledges each only after it
 * committed.
 */
#ifndef GW_H
#define GW_H

#include <uv.h>

#include "calendar.h"
#include "accounts.h"
#include "hcpd.h"
#include "seal.h"

#define GW_PATH_MAX 4096

typedef struct gw_config {
    char data[GW_PATH_MAX];             /* --data DIR (required) */
    char listen[512];                   /* --listen URL, default tls+tcp://0.0.0.0:8700 */
    char listen_http[256];              /* --listen-http HOST:PORT, default 0.0.0.0:8080 */
    char tls_cert[GW_PATH_MAX];         /* --tls-cert: the gateway's certificate */
    char tls_key[GW_PATH_MAX];          /* --tls-key */
    char tls_ca[GW_PATH_MAX];           /* --tls-ca: the province CA */
    char tls_crl[GW_PATH_MAX];          /* --tls-crl: its CRL ("" = none) */
    char admin_token_file[GW_PATH_MAX]; /* default DIR/admin.token */
    char calendar[GW_PATH_MAX];         /* "" = compiled in */
    char divisions[GW_PATH_MAX];        /* --divisions, "" = the compiled-in list */
    char seal_key_file[GW_PATH_MAX];    /* default DIR.keys/seal.key */
    bool insecure;                      /* --insecure: allow tcp:// (tests, demo) */
    int map_max_mib;                    /* --map-max-mib: ceiling of the LMDB map */
} gw_config;

typedef struct gw_store gw_store;           /* store.c */
typedef struct gw_ingest gw_ingest;         /* ingest.c */
typedef struct gw_writer gw_writer;         /* writer.c */
typedef struct gw_canary gw_canary;         /* canary.c */
typedef struct gw_feed_cache gw_feed_cache; /* feed_cache.c */
typedef struct gw_feed_marks gw_feed_marks; /* feed_marks.c */
typedef struct gw_tlog gw_tlog;             /* tlog.c */

typedef struct gw {
    gw_config cfg;
    uv_loop_t *loop;
    hcp_cal *cal;
    hcp_sealer *sealer;
    gw_store *store;
    gw_ingest *ingest;
    gw_writer *writer;
    gw_canary *canary;
    gw_feed_cache *feed_cache;    /* the feed's rendered pages (gwfeed.h) */
    gw_feed_marks *feed_marks;    /* where filtered walks found their entries (feed_marks.h) */
    struct gw_calendar *calendar; /* the federation calendar's state (gwcalendar.h) */
    gw_tlog *tlog;                /* the transparency log's key and checkpoint (tlog.h) */
    hcpd_http *http;
    hcpd_acct acct;  /* named accounts and the access log (daemon/accounts.h) */
    char token[128]; /* the admin bearer token: the account "admin" */
    int lock_fd;
} gw;

#define gw_log hcpd_log

/* config.c: fill cfg from argv (argv[0] the program) and an optional
 * --config FILE (flags win), then check it. cfg is zeroed and given the
 * defaults first. Returns HCPD_CONF_OK (cfg complete and valid),
 * HCPD_CONF_HELP (--help: print gw_config_usage), HCPD_CONF_VERSION
 * (--version: hcpd_version_print) or HCPD_CONF_ERROR (a
 * one-line message in err, errlen bytes). A --divisions file is loaded
 * into core/division.h's list as a side effect of the check. */
HCP_NODISCARD int gw_config_parse(gw_config *cfg, int argc, char **argv, char *err, size_t errlen);
/* Print the usage text to stdout (--help). */
void gw_config_usage(void);

/* store.c: open (creating) the LMDB store in cfg.data, load the counties'
 * state, index the feed of a store written before it existed, and open
 * the accounts (g->acct); g->store on success. Errors: HCP_EINVAL (no
 * divisions in use), HCP_ENOMEM, LMDB's as hcpd_mdb_err maps them (e.g.
 * HCP_EIO); logged as store.open_failed. */
HCP_NODISCARD int gw_store_open(gw *g);
/* Close the store and free it (safe when not open). */
void gw_store_close(gw *g);
/* writer.c: the group commit on the loop thread (gwwriter.h). HCP_ENOMEM,
 * HCP_EIO (its timer), or the group commit's start errors. */
HCP_NODISCARD int gw_writer_start(gw *g);
void gw_writer_stop(gw *g); /* apply what is queued, close the handles */
void gw_writer_free(gw *g); /* after the loop ran the close callbacks */
/* ingest.c: the nng listener on cfg.listen. HCP_ENOMEM, HCP_EIO (cannot
 * listen: logged repl.listen_failed), HCP_ECRYPTO (TLS set-up). */
HCP_NODISCARD int gw_ingest_start(gw *g);
void gw_ingest_stop(gw *g); /* close the socket, wait for the workers */
int gw_ingest_port(gw *g);  /* the bound port of the listener; 0 if unknown */
/* The replication connections for /metrics (any thread; zeros before the
 * start): open pipes, of which not yet authenticated, the caps of both,
 * and the pipes closed so far for not authenticating in time (idle) or
 * over the cap of unauthenticated ones (excess). */
typedef struct gw_ingest_conns {
    size_t open, max, pending, pending_max;
    uint64_t closed_idle, closed_excess;
} gw_ingest_conns;
gw_ingest_conns gw_ingest_conn_stats(gw *g);
/* canary.c: a probe of the listener every 10 s; restarts in place on a
 * wedge. An error (HCP_EINVAL, HCP_ECRYPTO, HCP_ENOMEM) only means no
 * canary (logged repl.canary_off): the daemon runs on without it. */
int gw_canary_start(gw *g, int port);
void gw_canary_stop(gw *g);
/* api.c: admin routes (token) and public routes, the feed's included
 * (gwfeed.h). HCP_EBUSY when the address is in use, else the HTTP
 * server's start errors. */
HCP_NODISCARD int gw_http_start(gw *g);
/* Stop the HTTP server (in-flight requests answered), then the feed. */
void gw_http_stop(gw *g);

#endif
