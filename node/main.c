/*
 * main.c — hcp-node, the county daemon: parse the settings, take the data
 * directory (one node per DIR), load the token, the seal key and the
 * calendar, open the store, then run the libuv loop (signals, the writer)
 * beside the HTTP server (daemon/http.c) until SIGTERM or SIGINT. SIGHUP, or nng wedged
 * for good (sync.c), stops it the same way and restarts it in place
 * (daemon/restart.c: same PID, same arguments).
 *
 * Exit status: 0 after a clean stop or --help, 2 for bad flags or config,
 * 1 when start-up fails (directory locked, unreadable key, store, port).
 */
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "calendar_fed.h"
#include "directive.h"
#include "node.h"
#include "ops.h"
#include "repl.h"
#include "store.h"
#include "sync.h"
#include "writer.h"

/* A new store beside a gateway: the county may have history there (a
 * replaced disk): mark it to fetch that before handing out any number. */
static int main_store_mark_new(node_store *s)
{
    MDB_txn *txn;
    int rc = store_write_begin(s, &txn);
    if (rc == HCP_OK && (rc = store_needs_sync_put(s, txn, true)) == HCP_OK)
        rc = store_err(mdb_txn_commit(txn));
    else if (rc == HCP_OK)
        mdb_txn_abort(txn);
    store_cache_drop(s);
    atomic_store(&s->needs_sync, rc == HCP_OK);
    return rc;
}

/* Open DIR's store (LMDB) into n->store, verify its head, open the
 * accounts beside it and say whether it must fetch its history first. */
static int main_store_open(node *n)
{
    node_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return HCP_ENOMEM;
    char err[256];
    int rc = store_open(s, n->cfg.data, n->cfg.county, false, n->sealer, err, sizeof(err));
    if (rc != HCP_OK) {
        node_log("error", "store.open_failed", "dir=%s reason=\"%s\"", n->cfg.data, err);
        free(s);
        return rc;
    }
    char hex[2 * HCP_HASH_LEN + 1];
    hcp_hash_hex(s->chain.head, hex);
    node_log("info", "store.open", "dir=%s head=%llu hash=%s mapsize=%zu", n->cfg.data,
             (unsigned long long)s->chain.seq, hex, s->db.mapsize);
    n->store = s;
    if ((rc = hcpd_acct_open(&n->acct, &s->db)) != HCP_OK) { /* accounts, access log */
        node_log("error", "store.accounts_failed", "dir=%s reason=\"%s\"", n->cfg.data,
                 hcp_strerror(rc));
        return rc;
    }
    if (s->created && n->cfg.gateway[0] != '\0' && (rc = main_store_mark_new(s)) != HCP_OK)
        return rc;
    if (atomic_load(&s->needs_sync))
        node_log(n->cfg.gateway[0] ? "info" : "warn", "store.needs_sync", "detail=\"%s\"",
                 n->cfg.gateway[0]
                     ? "writes wait until the county's history is fetched from the gateway"
                     : "a restored copy running offline: writes made now fork the county's "
                       "history from the province's");
    return HCP_OK;
}

/* Close and free n->store (NULL-safe). */
static void main_store_close(node *n)
{
    if (n->store == NULL)
        return;
    store_close(n->store);
    free(n->store);
    n->store = NULL;
}

/* The steps before serving, in order; each one prints its own error. */
static int main_prepare(node *n)
{
    int rc;
    hcpd_raise_nofile();
    hcpd_malloc_keep();
    if ((rc = repl_tls_engine_use()) != HCP_OK) {
        fprintf(stderr,
                "hcp-node"
                ": cannot set up TLS (OpenSSL): %s\n",
                hcp_strerror(rc));
        return rc;
    }
    node_log("info", "tls.engine", "engine=%s version=\"%s\"", nng_tls_engine_name(),
             repl_tls_engine_version());
    if ((rc = hcpd_mkdir("hcp-node", n->cfg.data)) != HCP_OK ||
        (rc = hcpd_lock("hcp-node", n->cfg.data, "node.lock", &n->lock_fd)) != HCP_OK ||
        (rc = hcpd_token("hcp-node", n->cfg.api_token_file, n->cfg.data, "api.token", n->token,
                         sizeof(n->token))) != HCP_OK ||
        (rc = hcpd_seal("hcp-node", n->cfg.seal_key_file, n->cfg.data, "data.mdb", &n->sealer)) !=
            HCP_OK ||
        (rc = hcpd_calendar("hcp-node", n->cfg.calendar, &n->cal)) != HCP_OK) {
        return rc;
    }
    if ((rc = main_store_open(n)) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot open the store in %s: %s\n", n->cfg.data,
                hcp_strerror(rc));
        return rc;
    }
    char err[1024]; /* the federation calendar: the store's version, or the seed */
    if ((rc = node_calendar_start(n, &n->calendar, err, sizeof(err))) != HCP_OK) {
        fprintf(stderr, "hcp-node: %s\n", err);
        return rc;
    }
    /* the province's calendar arrives as a directive (docs/directives.md) */
    if ((rc = node_directive_register("calendar", node_calendar_apply, n->calendar)) != HCP_OK ||
        (rc = node_directive_on_commit("calendar", node_calendar_after, n->calendar)) != HCP_OK ||
        (rc = node_directive_on_restore("calendar", node_calendar_restore, n->calendar)) !=
            HCP_OK ||
        (rc = node_directive_resume(n->store)) != HCP_OK) /* a restore's debt */
        fprintf(stderr, "hcp-node: cannot register the calendar directive: %s\n", hcp_strerror(rc));
    return rc;
}

/* Run the loop until a signal, then stop: HTTP (drain in-flight requests),
 * the writer (commit what is queued), the loop's handles. */
static int main_serve(node *n)
{
    int rc;
    if ((rc = hcpd_signals(n->loop, "node")) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot watch signals\n");
        return rc;
    }
    if ((rc = node_writer_start(n)) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot start the writer: %s\n", hcp_strerror(rc));
        return rc;
    }
    if ((rc = node_sync_start(n)) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot set up replication to %s: %s\n", n->cfg.gateway,
                hcp_strerror(rc));
        node_sync_stop(n);
        node_writer_stop(n);
        return rc;
    }
    if ((rc = node_http_start(n)) != HCP_OK) {
        fprintf(stderr, "hcp-node: cannot listen on %s: %s\n", n->cfg.listen_http,
                rc == HCP_EBUSY ? "the address is already in use" : hcp_strerror(rc));
        node_sync_stop(n);
        node_writer_stop(n);
        return rc;
    }
    node_log("info", "node.ready", "county=%s http=%s gateway=%s restarts=%ld version=%s",
             n->cfg.county, n->cfg.listen_http, n->cfg.gateway[0] ? n->cfg.gateway : "none",
             hcpd_restart_count(), hcpd_version());
    /* until a signal stops it (nonzero: handles are left, closed below) */
    (void)uv_run(n->loop, UV_RUN_DEFAULT);
    node_http_stop(n);   /* new requests get 503; in-flight ones are answered */
    node_sync_stop(n);   /* the connection closes; what was acked is recorded */
    node_writer_stop(n); /* everything queued is committed before we go */
    return HCP_OK;
}

/* Free what main_prepare made (safe on a half-built node). */
static void main_teardown(node *n)
{
    hcpd_loop_close(n->loop, "node"); /* NULL-safe */
    node_writer_free(n);              /* its handles were closed above */
    main_store_close(n);
    node_calendar_free(n->calendar);
    hcp_sealer_free(n->sealer);
    hcp_cal_free(n->cal);
    explicit_bzero(n->token, sizeof(n->token));
    if (n->lock_fd >= 0) {
        close(n->lock_fd); /* releases the flock */
    }
}

/* hcp-node [backup|verify|user] ...: see node_config_usage. */
int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "backup") == 0) {
        return node_cmd_backup(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "verify") == 0) {
        return node_cmd_verify(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "user") == 0) {
        return node_cmd_user(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "calendar") == 0) {
        return node_cmd_calendar(argc - 1, argv + 1);
    }
    static node n; /* large (paths): not on the stack */
    char err[1024];
    int rc = node_config_parse(&n.cfg, argc, argv, err, sizeof(err));
    if (rc == NODE_CFG_HELP) {
        node_config_usage();
        return 0;
    }
    if (rc == NODE_CFG_VERSION) {
        hcpd_version_print("hcp-node");
        return 0;
    }
    if (rc != NODE_CFG_OK) {
        fprintf(stderr, "hcp-node: %s\n", err);
        return 2;
    }
    n.lock_fd = -1;
    static uv_loop_t loop;
    rc = main_prepare(&n);
    if (rc == HCP_OK && uv_loop_init(&loop) != 0) {
        fprintf(stderr, "hcp-node: cannot create the event loop\n");
        rc = HCP_EIO;
    } else if (rc == HCP_OK) {
        n.loop = &loop;
        rc = main_serve(&n);
    }
    main_teardown(&n);
    if (!hcpd_nng_stuck()) /* else nng_fini would hang on what nng could not close */
        nng_fini();
    if (rc == HCP_OK && hcpd_restart_requested()) {
        hcpd_restart_exec(argv); /* returns only if exec failed */
        rc = HCP_EIO;
    }
    node_log("info", "node.exit", "status=%d", rc == HCP_OK ? 0 : 1);
    return rc == HCP_OK ? 0 : 1;
}
