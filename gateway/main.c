/*
 * main.c — hcp-gateway, the province daemon: parse the settings, take the
 * data directory (one gateway per DIR), load the admin token, the seal key
 * and the calendar, open the store, then run the libuv loop (signals, the
 * writer) beside nng's replication listener and our HTTP server until SIGTERM
 * or SIGINT. SIGHUP, or nng wedged for good (canary.c), stops it the same
 * way and restarts it in place (daemon/restart.c: same PID, same arguments).
 *
 * Exit status: 0 after a clean stop or --help, 2 for bad flags or config,
 * 1 when start-up fails (directory locked, unreadable key, store, port).
 */
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gwcalendar.h"
#include "plog.h"
#include "gw.h"
#include "report.h"
#include "publish.h"
#include "repl.h"
#include "spot.h"
#include "tlog.h"

#define PROG "hcp-gateway"

/* The steps before serving, in order; each one prints its own error. */
static int main_prepare(gw *g)
{
    const gw_config *c = &g->cfg;
    int rc;
    hcpd_raise_nofile();
    hcpd_malloc_keep();
    if ((rc = repl_tls_engine_use()) != HCP_OK) {
        fprintf(stderr, PROG ": cannot set up TLS (OpenSSL): %s\n", hcp_strerror(rc));
        return rc;
    }
    gw_log("info", "tls.engine", "engine=%s version=\"%s\"", nng_tls_engine_name(),
           repl_tls_engine_version());
    if ((rc = hcpd_mkdir(PROG, c->data)) != HCP_OK ||
        (rc = hcpd_lock(PROG, c->data, "gateway.lock", &g->lock_fd)) != HCP_OK ||
        (rc = hcpd_token(PROG, c->admin_token_file, c->data, "admin.token", g->token,
                         sizeof(g->token))) != HCP_OK ||
        (rc = hcpd_seal(PROG, c->seal_key_file, c->data, "data.mdb", &g->sealer)) != HCP_OK ||
        (rc = hcpd_calendar(PROG, c->calendar, &g->cal)) != HCP_OK) {
        return rc;
    }
    if ((rc = gw_store_open(g)) != HCP_OK) {
        fprintf(stderr, PROG ": cannot open the store in %s: %s\n", c->data, hcp_strerror(rc));
        return rc;
    }
    char err[1024]; /* the federation calendar: the store's version, or the seed */
    if ((rc = gw_calendar_start(g, &g->calendar, err, sizeof(err))) != HCP_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        return rc;
    }
    /* a calendar appended through the API applies itself in its txn */
    if ((rc = gw_plog_hook("calendar", gw_calendar_apply, g->calendar)) != HCP_OK)
        fprintf(stderr, PROG ": cannot register the calendar hook: %s\n", hcp_strerror(rc));
    if (rc == HCP_OK && (rc = gw_spot_hooks()) != HCP_OK) /* spot checks: spot.h */
        fprintf(stderr, PROG ": cannot register the spot-check hooks: %s\n", hcp_strerror(rc));
    return rc;
}

/* Start the writer, the replication listener and the HTTP server; on a
 * failure stop what was started. */
static int main_start(gw *g)
{
    int rc;
    if ((rc = gw_writer_start(g)) != HCP_OK) {
        fprintf(stderr, PROG ": cannot start the writer: %s\n", hcp_strerror(rc));
        return rc;
    }
    if ((rc = gw_tlog_start(g)) != HCP_OK) { /* the transparency log's key and checkpoint */
        fprintf(stderr, PROG ": cannot start the transparency log: %s\n", hcp_strerror(rc));
        gw_writer_stop(g);
        return rc;
    }
    if ((rc = gw_ingest_start(g)) != HCP_OK) {
        fprintf(stderr, PROG ": cannot listen on %s: %s\n", g->cfg.listen, hcp_strerror(rc));
        gw_writer_stop(g);
        return rc;
    }
    if ((rc = gw_http_start(g)) != HCP_OK) {
        fprintf(stderr, PROG ": cannot listen on %s: %s\n", g->cfg.listen_http,
                rc == HCP_EBUSY ? "the address is already in use" : hcp_strerror(rc));
        gw_writer_stop(g);
        gw_ingest_stop(g);
        return rc;
    }
    if (gw_report_start(g) != HCP_OK) /* without it, the form's rows wait: downloads render them */
        gw_log("warn", "report.drain_off", "detail=\"the form's waiting rows are not written\"");
    (void)gw_canary_start(g, gw_ingest_port(g)); /* without it, wedges go undetected (logged) */
    (void)gw_calendar_watch_start(g->calendar);  /* without it, a publish shows at the next batch */
    return HCP_OK;
}

/* Run the loop until a signal, then stop: HTTP (drain in-flight requests),
 * the writer (commit and acknowledge what is queued or parked, through the
 * workers, which must still be alive; batches that arrive meanwhile are
 * answered `overloaded`), then the listener. The loop's handles are closed
 * by main_teardown. */
static int main_serve(gw *g)
{
    int rc;
    if ((rc = hcpd_signals(g->loop, "gateway")) != HCP_OK) {
        fprintf(stderr, PROG ": cannot watch signals\n");
        return rc;
    }
    if ((rc = main_start(g)) != HCP_OK) {
        return rc;
    }
    gw_log("info", "gateway.ready", "listen=%s http=%s restarts=%ld version=%s", g->cfg.listen,
           g->cfg.listen_http, hcpd_restart_count(), hcpd_version());
    /* non-zero only when stopped with handles still active: the stop below
     * and main_teardown close them */
    (void)uv_run(g->loop, UV_RUN_DEFAULT);
    gw_calendar_watch_stop(g->calendar);
    gw_canary_stop(g);
    gw_http_stop(g);   /* new requests get 503; in-flight ones are answered */
    gw_tlog_stop(g);   /* its timer; the last checkpoint was signed */
    gw_report_stop(g); /* the form's drain timer (its rows wait: rp_dirty) */
    gw_writer_stop(g); /* everything queued is committed and answered */
    gw_ingest_stop(g); /* then the workers and the socket go */
    return HCP_OK;
}

/* Free what main_prepare and main_serve made (safe on a half-built gw). */
static void main_teardown(gw *g)
{
    hcpd_loop_close(g->loop, "gateway"); /* NULL-safe */
    if (g->writer != NULL) {
        gw_writer_free(g); /* its handles were closed above */
    }
    if (g->store != NULL) {
        gw_store_close(g);
    }
    gw_tlog_free(g); /* its timer was closed above */
    gw_calendar_free(g->calendar);
    hcp_sealer_free(g->sealer);
    hcp_cal_free(g->cal);
    explicit_bzero(g->token, sizeof(g->token));
    if (g->lock_fd >= 0) {
        close(g->lock_fd); /* releases the flock */
    }
}

/* hcp-gateway --data DIR ... | user ... | calendar ... | publish ...: see
 * gw_config_usage. */
int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "user") == 0) /* supervisors and auditors */
        return hcpd_acct_cmd(PROG, HCPD_ROLE_SUPERVISOR | HCPD_ROLE_AUDITOR, argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "calendar") == 0) /* the federation calendar */
        return gw_cmd_calendar(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "publish") == 0) /* the public files, static */
        return gw_cmd_publish(argc - 1, argv + 1);
    static gw g; /* large (paths): not on the stack */
    char err[1024];
    int rc = gw_config_parse(&g.cfg, argc, argv, err, sizeof(err));
    if (rc == HCPD_CONF_HELP) {
        gw_config_usage();
        return 0;
    }
    if (rc == HCPD_CONF_VERSION) {
        hcpd_version_print(PROG);
        return 0;
    }
    if (rc != HCPD_CONF_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    g.lock_fd = -1;
    static uv_loop_t loop;
    rc = main_prepare(&g);
    if (rc == HCP_OK && uv_loop_init(&loop) != 0) {
        fprintf(stderr, PROG ": cannot create the event loop\n");
        rc = HCP_EIO;
    } else if (rc == HCP_OK) {
        g.loop = &loop;
        rc = main_serve(&g);
    }
    main_teardown(&g);
    if (!hcpd_nng_stuck())
        nng_fini();
    if (rc == HCP_OK && hcpd_restart_requested()) {
        hcpd_restart_exec(argv); /* returns only if exec failed */
        rc = HCP_EIO;
    }
    gw_log("info", "gateway.exit", "status=%d", rc == HCP_OK ? 0 : 1);
    return rc == HCP_OK ? 0 : 1;
}
