/*
 * canary.c — the gateway checks, every CANARY_EVERY_S seconds, that its own
 * replication listener still answers: a fresh connection to it (as a node
 * would make: TLS with the gateway's certificate as the client's), one
 * `ping`, one answer (`unauthenticated`: the canary never says hello, so it
 * touches no county). nng 1.5.2 can wedge after connections are cut in the
 * middle of TLS records (docs/replication.md, "Reconnects"): handshakes
 * still complete but no message reaches the contexts, or a close never
 * returns. Then the canary asks for a restart in place (daemon/restart.c):
 *   - CANARY_FAILS probes in a row without an answer, or
 *   - one call into nng that does not return within CANARY_STUCK_S.
 * A probe that cannot connect for a reason other than time (refused, a TLS
 * failure: a gateway certificate without clientAuth, issued before hcp-certs
 * added it; a listener address this host cannot dial) before the canary
 * ever had an answer says why and stops the canary: it cannot tell a wedge
 * from its own misconfiguration. A wedge can come before the first answer
 * (seen: within 2 s of the start under the cut-connection test), so a
 * timeout counts from the first probe on. The first probe dials
 * synchronously to learn why a connection fails; later ones do not wait for
 * the connection: the answer's timeout bounds them.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock.h"
#include "gw.h"
#include "repl.h"

#define CANARY_EVERY_S   10
#define CANARY_ANSWER_MS 15000 /* a probe's send and receive, each */
#define CANARY_STUCK_S   60    /* a probe's nng calls, together */
#define CANARY_FAILS     3
#define CANARY_FILE_MAX  (1u << 20)

enum probe_result { P_ANSWERED, P_NO_ANSWER, P_CANNOT_DIAL };

/* One probe's state, owned by the runner thread when the probe is
 * abandoned (stuck in nng): then it leaks until the exit. */
typedef struct probe {
    char url[600];
    nng_tls_config *tls; /* borrowed from the canary (NULL: tcp://) */
    bool first;          /* no answer yet: dial synchronously */
    int result;          /* enum probe_result */
    int rv;              /* the nng error, if any */
} probe;

struct gw_canary {
    gw *g;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    nng_tls_config *tls;
    char url[600];
};

/* The probe itself: connect, ping, wait for the answer, close. */
static void probe_fn(void *arg)
{
    probe *p = arg;
    nng_socket s;
    nng_dialer d;
    nng_msg *m = NULL;
    repl_frame f = {.type = REPL_PING};
    p->result = P_NO_ANSWER;
    int rv = nng_req0_open(&s);
    if (rv != 0) {
        p->rv = rv;
        return;
    }
    rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, CANARY_ANSWER_MS);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, CANARY_ANSWER_MS);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (rv == 0)
        rv = nng_dialer_create(&d, s, p->url);
    if (rv == 0 && p->tls != NULL)
        rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, p->tls);
    if (rv == 0 && (rv = nng_dialer_start(d, p->first ? 0 : NNG_FLAG_NONBLOCK)) != 0 &&
        rv != NNG_ETIMEDOUT)
        p->result = P_CANNOT_DIAL; /* refused, bad certificate, bad address */
    if (rv == 0 && repl_encode_msg(&f, &m) != HCP_OK)
        rv = NNG_ENOMEM;
    if (rv == 0 && (rv = nng_sendmsg(s, m, 0)) != 0)
        nng_msg_free(m); /* on success nng owns it */
    m = NULL;
    if (rv == 0)
        rv = nng_recvmsg(s, &m, 0);
    if (rv == 0) {
        repl_frame r;
        if (repl_decode(nng_msg_body(m), nng_msg_len(m), &r) == HCP_OK)
            p->result = P_ANSWERED; /* any frame: the path works */
        repl_frame_clear(&r);
        nng_msg_free(m);
    }
    p->rv = rv;
    (void)nng_close(s); /* only NNG_ECLOSED: the probe's socket is gone either way */
}

/* Wait up to secs for stop; true when stopping. */
static bool canary_wait(gw_canary *c, int secs)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += secs;
    hcp_mutex_lock(&c->mu);
    while (!c->stopping && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
        ;
    bool stop = c->stopping;
    hcp_mutex_unlock(&c->mu);
    return stop;
}

/* Log the TLS handshakes the listener refused since the last call, at most
 * one line per round: who keeps knocking without a valid certificate. */
static void log_refusals(uint64_t *seen)
{
    char why[REPL_TLS_WHY_MAX];
    uint64_t n = repl_tls_failures(true, NULL, why, sizeof(why));
    if (n > *seen)
        gw_log("warn", "repl.tls_refused", "count=%llu last=\"%s\"",
               (unsigned long long)(n - *seen), why);
    *seen = n;
}

/* One probe; what to do after it. */
enum { C_GO_ON, C_OFF, C_RESTART };

static int probe_once(gw_canary *c, int *fails, bool *answered_once)
{
    probe *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return C_GO_ON;
    memcpy(p->url, c->url, sizeof(p->url));
    p->tls = c->tls;
    p->first = !*answered_once;
    if (!hcpd_nng_bounded(probe_fn, p, CANARY_STUCK_S)) {
        gw_log("error", "repl.canary_stuck",
               "url=%s detail=\"a call into nng did not return within %d s\"", c->url,
               CANARY_STUCK_S);
        hcpd_restart_request("the replication listener's canary is stuck in nng");
        return C_RESTART; /* p belongs to the abandoned call */
    }
    int result = p->result, rv = p->rv;
    free(p);
    if (result == P_ANSWERED) {
        if (*fails > 0 || !*answered_once)
            gw_log("info", "repl.canary_ok", "url=%s", c->url);
        *fails = 0;
        *answered_once = true;
        return C_GO_ON;
    }
    if (result == P_CANNOT_DIAL && !*answered_once) {
        char why[REPL_TLS_WHY_MAX];
        repl_tls_failures(false, NULL, why, sizeof(why));
        gw_log("warn", "repl.canary_off",
               "url=%s reason=\"%s\" tls=\"%s\" detail=\"cannot reach the listener as a node "
               "would; wedges of nng go undetected (a gateway certificate without clientAuth? "
               "hcp-certs gateway issues it with)\"",
               c->url, rv ? nng_strerror(rv) : "no answer", why);
        return C_OFF;
    }
    (*fails)++;
    gw_log("warn", "repl.canary_failed", "url=%s reason=\"%s\" fails=%d", c->url,
           rv ? nng_strerror(rv) : "no answer", *fails);
    if (*fails < CANARY_FAILS)
        return C_GO_ON;
    hcpd_restart_request("the replication listener does not answer its canary");
    return C_RESTART;
}

static void *canary_main(void *arg)
{
    gw_canary *c = arg;
    int fails = 0, next = C_GO_ON;
    bool answered_once = false;
    uint64_t refused = 0;
    while (next != C_RESTART && !canary_wait(c, CANARY_EVERY_S)) {
        if (next == C_GO_ON)
            next = probe_once(c, &fails, &answered_once);
        log_refusals(&refused);
    }
    return NULL;
}

/* The canary's lock and condition; HCP_ENOMEM when either cannot be made
 * (nothing is left to destroy then). */
static int canary_sync_init(gw_canary *c)
{
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return HCP_ENOMEM;
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        (void)pthread_mutex_destroy(&c->mu); /* just made, never locked */
        return HCP_ENOMEM;
    }
    return HCP_OK;
}

/* Destroy what canary_sync_init made, with no thread using it any more:
 * destroying an unused mutex or condition cannot fail. */
static void canary_sync_destroy(gw_canary *c)
{
    (void)pthread_cond_destroy(&c->cv);
    (void)pthread_mutex_destroy(&c->mu);
}

/* TLS of the canary's connections: the gateway's own certificate as the
 * client's; the server is not verified (it is this process). */
static int canary_tls(gw_canary *c)
{
    const gw_config *cfg = &c->g->cfg;
    char *cert = hcpd_read_text(cfg->tls_cert, CANARY_FILE_MAX),
         *key = hcpd_read_text(cfg->tls_key, CANARY_FILE_MAX);
    int rv = cert && key ? nng_tls_config_alloc(&c->tls, NNG_TLS_MODE_CLIENT) : NNG_ENOENT;
    if (rv == 0)
        rv = nng_tls_config_own_cert(c->tls, cert, key, NULL);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(c->tls, NNG_TLS_AUTH_MODE_NONE);
    free(cert);
    free(key);
    return rv == 0 ? HCP_OK : HCP_ECRYPTO;
}

int gw_canary_start(gw *g, int port)
{
    if (g == NULL || port <= 0 || port > 65535)
        return HCP_EINVAL;
    gw_canary *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return HCP_ENOMEM;
    c->g = g;
    /* the listener's URL with the bound port, and a host this machine can
     * dial: the listener's own, or loopback for a wildcard address */
    const char *l = g->cfg.listen, *h = strstr(l, "://");
    int rc = h != NULL ? HCP_OK : HCP_EINVAL;
    char host[300] = "";
    if (rc == HCP_OK) {
        const char *a = h + 3, *end = a[0] == '[' ? strchr(a, ']') : strrchr(a, ':');
        size_t len = end == NULL ? strlen(a) : (size_t)(end - a) + (a[0] == '[');
        if (len >= sizeof(host))
            rc = HCP_EINVAL;
        else
            memcpy(host, a, len);
    }
    if (strcmp(host, "") == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    else if (strcmp(host, "[::]") == 0)
        snprintf(host, sizeof(host), "[::1]");
    int n = rc == HCP_OK
                ? snprintf(c->url, sizeof(c->url), "%.*s://%s:%d", (int)(h - l), l, host, port)
                : -1;
    if (n < 0 || (size_t)n >= sizeof(c->url))
        rc = HCP_EINVAL;
    if (rc == HCP_OK && strncmp(l, "tcp", 3) != 0)
        rc = canary_tls(c);
    if (rc == HCP_OK) {
        rc = canary_sync_init(c);
        if (rc == HCP_OK && pthread_create(&c->thread, NULL, canary_main, c) != 0) {
            canary_sync_destroy(c);
            rc = HCP_ENOMEM;
        }
    }
    if (rc != HCP_OK) {
        if (c->tls != NULL)
            nng_tls_config_free(c->tls);
        free(c);
        gw_log("warn", "repl.canary_off", "reason=\"%s\"", hcp_strerror(rc));
        return rc;
    }
    g->canary = c;
    return HCP_OK;
}

void gw_canary_stop(gw *g)
{
    gw_canary *c = g != NULL ? g->canary : NULL;
    if (c == NULL)
        return;
    hcp_mutex_lock(&c->mu);
    c->stopping = true;
    (void)hcp_cond_signal(&c->cv); /* fails only on an invalid cond: c->cv is valid */
    hcp_mutex_unlock(&c->mu);
    g->canary = NULL;
    /* a probe normally ends in milliseconds; one stuck in nng would hold a
     * SIGTERM up to CANARY_STUCK_S: wait 3 s, then leave it to the exit */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    if (pthread_timedjoin_np(c->thread, NULL, &until) != 0) {
        gw_log("warn", "repl.canary_stuck", "detail=\"left to the exit\"");
        hcpd_nng_set_stuck(); /* it may be inside nng: no nng_fini under it */
        return;
    }
    if (hcpd_nng_stuck())
        return; /* an abandoned probe may still use the TLS config */
    if (c->tls != NULL)
        nng_tls_config_free(c->tls);
    canary_sync_destroy(c);
    free(c);
}
