/*
 * sync.c — the node's half of replication (docs/replication.md): dial the
 * gateway, prove the county (hello, challenge, signed auth), then send the
 * log from the gateway's acknowledged position in signed batches, one in
 * flight, and record every acknowledgement durably (through the writer).
 *
 * One nng req socket and one context, driven by one aio on nng's threads;
 * a second aio sleeps (idle, backoff). The state machine is small:
 *   HELLO → (CHALLENGE) AUTH → WELCOME → STREAM ⇄ IDLE (PING) ; any failure → BACKOFF → HELLO
 * nng redials by itself; a lost pipe cancels the request in flight so the
 * session restarts at once on the next pipe.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "repl.h"
#include "store.h"
#include "writer.h"

#define SYNC_TIMEOUT_MS  5000        /* an answer takes at most this long */
#define SYNC_BATCH_MIN   (16u << 10) /* batches shrink to this on a slow link */
#define SYNC_IDLE_MS     1000        /* re-check for new events this often when idle */
#define SYNC_PING_EVERY  10          /* idle rounds between pings (heartbeat) */
#define SYNC_BACKOFF_MIN 100
#define SYNC_BACKOFF_MAX 30000
#define SYNC_FILE_MAX    (1u << 20)

enum sy_state { SY_HELLO, SY_AUTH, SY_STREAM, SY_FETCH, SY_PING, SY_IDLE, SY_BACKOFF, SY_STOPPED };

struct node_sync {
    node *n;
    nng_socket sock;
    nng_dialer dialer;
    nng_tls_config *tls;
    nng_ctx ctx;
    nng_aio *aio;      /* request/answer */
    nng_aio *sleep;    /* idle and backoff waits */
    repl_identity *id; /* NULL when insecure (tcp://) */
    bool insecure;
    _Atomic uint64_t head; /* the store's committed head (writer → kick) */
    pthread_mutex_t mu;    /* everything below */
    uint8_t head_hash[HCP_HASH_LEN];
    int state;
    bool sending, stopping;
    bool connected;
    uint64_t acked;
    uint64_t batch_last; /* last seq of the batch in flight */
    uint64_t remote;     /* the gateway's applied position for this county */
    uint64_t fetch_from; /* first seq of the fetch in flight */
    bool synced_sent;    /* W_SYNCED queued (restore complete) */
    int timeouts;        /* requests in a row that got no answer */
    size_t batch_bytes;  /* current batch size: halved after a timeout, regrown on acks */
    bool redialing;      /* the socket is being replaced (on_pipe keeps off) */
    int backoff_ms, idle_rounds;
    char last_error[160];
};

/* ---- small helpers ---- */

/* Ask the writer to record the acknowledged position durably. */
static void persist_ack(node_sync *sy, uint64_t seq)
{
    node_write *w = node_write_new(W_ACK, NULL);
    if (w == NULL)
        return; /* recorded with the next acknowledgement */
    w->seq = seq;
    node_writer_submit(sy->n, w);
}

static void fail(node_sync *sy, const char *what);

/* Send frame f and then wait for the answer. mu held. */
static void send_frame(node_sync *sy, const repl_frame *f)
{
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    nng_msg *m = NULL;
    int rc = repl_encode(f, &b);
    if (rc == HCP_OK && (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, b.data, b.len) != 0))
        rc = HCP_ENOMEM;
    hcp_buf_free(&b);
    if (rc != HCP_OK) {
        nng_msg_free(m);
        fail(sy, "cannot encode a frame");
        return;
    }
    sy->sending = true;
    nng_aio_set_msg(sy->aio, m);
    nng_aio_set_timeout(sy->aio, SYNC_TIMEOUT_MS);
    nng_ctx_send(sy->ctx, sy->aio);
}

/* Something failed: note it, drop the session, retry after a backoff with
 * jitter (exponential, 100 ms to 30 s). mu held. */
static void fail(node_sync *sy, const char *what)
{
    bool timeout = strstr(what, "imed out") != NULL || strstr(what, "no answer") != NULL;
    sy->timeouts = timeout ? sy->timeouts + 1 : 0;
    /* a slow or flaky link gets smaller batches (regrown by acks) */
    if ((timeout || sy->state == SY_STREAM) && sy->batch_bytes / 2 >= SYNC_BATCH_MIN)
        sy->batch_bytes /= 2;
    if (sy->connected || strcmp(sy->last_error, what) != 0)
        node_log("warn", "sync.failed", "gateway=%s reason=\"%s\"", sy->n->cfg.gateway, what);
    snprintf(sy->last_error, sizeof(sy->last_error), "%s", what);
    sy->connected = false;
    sy->state = SY_BACKOFF;
    sy->backoff_ms = sy->backoff_ms ? sy->backoff_ms * 2 : SYNC_BACKOFF_MIN;
    if (sy->backoff_ms > SYNC_BACKOFF_MAX)
        sy->backoff_ms = SYNC_BACKOFF_MAX;
    uint16_t r = 0;
    if (hcp_random(&r, sizeof(r)) != HCP_OK)
        r = 0;
    int wait = sy->backoff_ms / 2 + (int)(r % (unsigned)(sy->backoff_ms + 1));
    nng_sleep_aio(wait, sy->sleep);
}

static void send_hello(node_sync *sy)
{
    repl_frame f;
    memset(&f, 0, sizeof(f));
    f.type = REPL_HELLO;
    f.v = REPL_VERSION;
    f.vmin = REPL_VERSION_MIN;
    memcpy(f.county, sy->n->cfg.county, sizeof(f.county));
    snprintf(f.node, sizeof(f.node), "%s", sy->n->store->node_id);
    f.seq = atomic_load(&sy->head);
    f.has_hash = f.seq > 0;
    memcpy(f.hash, sy->head_hash, HCP_HASH_LEN);
    sy->state = SY_HELLO;
    send_frame(sy, &f);
}

static void send_auth(node_sync *sy, const repl_frame *challenge)
{
    repl_frame f;
    memset(&f, 0, sizeof(f));
    f.type = REPL_AUTH;
    memcpy(f.county, sy->n->cfg.county, sizeof(f.county));
    snprintf(f.node, sizeof(f.node), "%s", sy->n->store->node_id);
    uint8_t sig[REPL_SIG_MAX];
    size_t siglen = sizeof(sig);
    f.cert = repl_identity_cert(sy->id, &f.cert_len);
    if (repl_sign_auth(sy->id, challenge->nonce, f.county, f.node, sig, &siglen) != HCP_OK) {
        fail(sy, "cannot sign the challenge");
        return;
    }
    f.sig = sig;
    f.sig_len = siglen;
    sy->state = SY_AUTH;
    send_frame(sy, &f);
}

/* ---- batches ---- */

/* Read events acked+1.. into buf (records and personal records back to
 * back) and describe them in evs; *n events. */
static int read_batch(node_sync *sy, uint64_t from, uint64_t head, hcp_buf *buf, repl_event *evs,
                      size_t *n)
{
    node_store *s = sy->n->store;
    MDB_txn *txn;
    int rc = store_read_begin(s, &txn);
    if (rc != HCP_OK)
        return rc;
    size_t k = 0;
    size_t offs[REPL_BATCH_EVENTS][3];
    for (uint64_t seq = from; seq <= head && k < REPL_BATCH_EVENTS && rc == HCP_OK; seq++) {
        if (buf->len >= sy->batch_bytes)
            break;
        size_t start = buf->len;
        hcp_buf pii;
        hcp_buf_init(&pii, HCP_RECORD_MAX);
        rc = store_log_wire(s, txn, seq, evs[k].hash, buf, &pii);
        size_t mid = buf->len;
        if (rc == HCP_OK)
            rc = hcp_buf_append(buf, pii.data, pii.len);
        hcp_buf_free(&pii);
        offs[k][0] = start;
        offs[k][1] = mid;
        offs[k][2] = buf->len;
        k += rc == HCP_OK;
    }
    store_read_end(s, txn);
    for (size_t i = 0; i < k; i++) { /* buf no longer moves: point into it */
        evs[i].rec = buf->data + offs[i][0];
        evs[i].rec_len = offs[i][1] - offs[i][0];
        evs[i].pii_len = offs[i][2] - offs[i][1];
        evs[i].pii = evs[i].pii_len ? buf->data + offs[i][1] : NULL;
    }
    *n = k;
    return k > 0 || rc != HCP_OK ? rc : HCP_ENOTFOUND;
}

/* Send the next batch from acked+1. mu held. */
static void send_batch(node_sync *sy, uint64_t head)
{
    static _Thread_local repl_event evs[REPL_BATCH_EVENTS];
    hcp_buf buf;
    hcp_buf_init(&buf, REPL_BATCH_BYTES + 2 * HCP_RECORD_MAX);
    size_t n = 0;
    int rc = read_batch(sy, sy->acked + 1, head, &buf, evs, &n);
    repl_frame f;
    memset(&f, 0, sizeof(f));
    uint8_t sig[REPL_SIG_MAX] = {0};
    size_t siglen = 1; /* insecure: an unsigned marker */
    if (rc == HCP_OK && sy->id != NULL) {
        siglen = sizeof(sig);
        rc = repl_sign_batch(sy->id, sy->n->cfg.county, sy->acked + n, evs[n - 1].hash, sig,
                             &siglen);
    }
    if (rc != HCP_OK) {
        hcp_buf_free(&buf);
        fail(sy, "cannot read or sign the log");
        return;
    }
    f.type = REPL_BATCH;
    memcpy(f.county, sy->n->cfg.county, sizeof(f.county));
    f.seq = sy->acked + 1;
    f.events = evs;
    f.nevents = n;
    f.sig = sig;
    f.sig_len = siglen;
    sy->batch_last = sy->acked + n;
    sy->state = SY_STREAM;
    send_frame(sy, &f);
    hcp_buf_free(&buf);
}

static void send_fetch(node_sync *sy, uint64_t from)
{
    repl_frame f;
    memset(&f, 0, sizeof(f));
    f.type = REPL_FETCH;
    f.seq = from;
    f.max = REPL_BATCH_EVENTS;
    sy->fetch_from = from;
    sy->state = SY_FETCH;
    send_frame(sy, &f);
}

/* A restored node: its history is complete; let writes resume. mu held. */
static void restore_done(node_sync *sy)
{
    node_write *w = node_write_new(W_SYNCED, NULL);
    if (w == NULL)
        return; /* tried again at the next step */
    sy->synced_sent = true;
    node_writer_submit(sy->n, w);
}

/* Send what the gateway lacks, fetch what this node lacks, or wait. mu held. */
static void next_step(node_sync *sy)
{
    uint64_t head = atomic_load(&sy->head);
    bool needs = atomic_load(&sy->n->store->needs_sync);
    if (needs && sy->remote > head) {
        send_fetch(sy, head + 1);
        return;
    }
    if (needs && !sy->synced_sent)
        restore_done(sy);
    if (sy->acked < head) {
        sy->idle_rounds = 0;
        send_batch(sy, head);
        return;
    }
    if (++sy->idle_rounds >= SYNC_PING_EVERY) {
        sy->idle_rounds = 0;
        repl_frame f = {.type = REPL_PING};
        sy->state = SY_PING;
        send_frame(sy, &f);
        return;
    }
    sy->state = SY_IDLE;
    nng_sleep_aio(SYNC_IDLE_MS, sy->sleep);
}

/* The gateway told its position for this county. mu held. */
static void on_position(node_sync *sy, uint64_t applied)
{
    uint64_t head = atomic_load(&sy->head);
    sy->remote = applied;
    if (applied > head && atomic_load(&sy->n->store->needs_sync)) {
        if (!sy->connected)
            node_log("info", "sync.restoring", "gateway=%s applied=%llu head=%llu",
                     sy->n->cfg.gateway, (unsigned long long)applied, (unsigned long long)head);
        sy->connected = true;
        sy->backoff_ms = 0;
        sy->last_error[0] = '\0';
        sy->acked = applied;
        next_step(sy);
        return;
    }
    if (applied > head) {
        char what[160];
        snprintf(what, sizeof(what),
                 "gateway holds %llu events, node %llu, store not a restored copy: refusing",
                 (unsigned long long)applied, (unsigned long long)head);
        fail(sy, what);
        return;
    }
    if (!sy->connected)
        node_log("info", "sync.connected", "gateway=%s applied=%llu head=%llu", sy->n->cfg.gateway,
                 (unsigned long long)applied, (unsigned long long)head);
    sy->connected = true;
    sy->backoff_ms = 0;
    sy->timeouts = 0;
    if (sy->batch_bytes < REPL_BATCH_BYTES)
        sy->batch_bytes *= 2;
    sy->last_error[0] = '\0';
    if (applied != sy->acked) {
        sy->acked = applied;
        persist_ack(sy, applied);
    }
    next_step(sy);
}

/* A page of the county's own history came back: hand it to the writer,
 * then wait for its commit (the writer's kick wakes us). mu held. */
static void on_events(node_sync *sy, const repl_frame *r)
{
    sy->remote = r->seq;
    if (r->nevents == 0) {
        next_step(sy);
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < r->nevents; i++)
        total += r->events[i].rec_len + r->events[i].pii_len;
    node_write *w = node_write_new(W_REMOTE, NULL);
    if (w != NULL) {
        w->remote = malloc(total);
        w->remote_ev = calloc(r->nevents, sizeof(*w->remote_ev));
    }
    if (w == NULL || w->remote == NULL || w->remote_ev == NULL) {
        node_write_free(w);
        fail(sy, "out of memory for fetched events");
        return;
    }
    uint8_t *p = w->remote;
    for (size_t i = 0; i < r->nevents; i++) {
        const repl_event *e = &r->events[i];
        memcpy(p, e->rec, e->rec_len);
        if (e->pii_len > 0)
            memcpy(p + e->rec_len, e->pii, e->pii_len);
        p += e->rec_len + e->pii_len;
        w->remote_ev[i].rec_len = e->rec_len;
        w->remote_ev[i].pii_len = e->pii_len;
        memcpy(w->remote_ev[i].hash, e->hash, HCP_HASH_LEN);
    }
    w->seq = sy->fetch_from;
    w->nremote = r->nevents;
    node_writer_submit(sy->n, w);
    sy->state = SY_IDLE;
    nng_sleep_aio(SYNC_IDLE_MS, sy->sleep);
}

/* Whether answer type t to a request of state st tells the gateway's
 * position: welcome (hello/auth), ack (batch), pong (ping). */
static bool tells_position(int st, uint8_t t)
{
    return ((st == SY_HELLO || st == SY_AUTH) && t == REPL_WELCOME) ||
           (st == SY_STREAM && t == REPL_ACK) || (st == SY_PING && t == REPL_PONG);
}

/* An answer arrived. mu held. */
static void on_answer(node_sync *sy, const repl_frame *r)
{
    if (r->type == REPL_ERROR && strcmp(r->code, "gap") == 0 && r->seq >= 1) {
        sy->acked = r->seq - 1;
        next_step(sy);
    } else if (r->type == REPL_ERROR) {
        char what[64];
        snprintf(what, sizeof(what), "gateway refused: %s", r->code);
        fail(sy, what);
    } else if (sy->state == SY_HELLO && r->type == REPL_CHALLENGE && sy->id != NULL)
        send_auth(sy, r);
    else if (tells_position(sy->state, r->type))
        on_position(sy, r->seq);
    else if (sy->state == SY_FETCH && r->type == REPL_EVENTS)
        on_events(sy, r);
    else
        fail(sy, "unexpected answer from the gateway");
}

static void on_io(void *arg)
{
    node_sync *sy = arg;
    int rv = nng_aio_result(sy->aio);
    pthread_mutex_lock(&sy->mu);
    if (sy->stopping || sy->redialing) { /* the old socket's last word */
        if (sy->sending) {
            if (rv != 0)
                nng_msg_free(nng_aio_get_msg(sy->aio));
            sy->sending = false;
        } else if (rv == 0)
            nng_msg_free(nng_aio_get_msg(sy->aio));
        pthread_mutex_unlock(&sy->mu);
        return;
    }
    if (sy->sending) {
        sy->sending = false;
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(sy->aio));
            fail(sy, nng_strerror(rv));
        } else {
            nng_aio_set_timeout(sy->aio, SYNC_TIMEOUT_MS);
            nng_ctx_recv(sy->ctx, sy->aio);
        }
    } else if (rv != 0) {
        fail(sy, rv == NNG_ETIMEDOUT ? "no answer from the gateway" : nng_strerror(rv));
    } else {
        nng_msg *m = nng_aio_get_msg(sy->aio);
        repl_frame r;
        if (repl_decode(nng_msg_body(m), nng_msg_len(m), &r) == HCP_OK)
            on_answer(sy, &r);
        else
            fail(sy, "malformed answer from the gateway");
        repl_frame_clear(&r);
        nng_msg_free(m);
    }
    pthread_mutex_unlock(&sy->mu);
}

static int open_socket(node_sync *sy);

/*
 * The watchdog: requests that time out again and again while nng believes
 * it is connected mean a connection that died without nng noticing (seen
 * when a link is cut in the middle of a TLS record: nng 1.5.2 then never
 * redials). Replace the socket, dialer and request aio; called without mu,
 * from the sleep aio's callback (node_sync_stop waits for it).
 */
static void redial(node_sync *sy)
{
    node_log("warn", "sync.redial",
             "gateway=%s detail=\"no answer to %d requests; new "
             "connection\"",
             sy->n->cfg.gateway, sy->timeouts);
    nng_close(sy->sock); /* pipes, dialer, context; on_pipe keeps off (redialing) */
    nng_aio_free(sy->aio);
    sy->aio = NULL;
    int rc = nng_aio_alloc(&sy->aio, on_io, sy) == 0 ? open_socket(sy) : HCP_ENOMEM;
    pthread_mutex_lock(&sy->mu);
    sy->redialing = false;
    sy->timeouts = 0;
    if (rc != HCP_OK || sy->aio == NULL)
        fail(sy, "cannot open a new connection");
    else if (!sy->stopping)
        send_hello(sy);
    pthread_mutex_unlock(&sy->mu);
}

static void on_sleep(void *arg)
{
    node_sync *sy = arg;
    pthread_mutex_lock(&sy->mu);
    bool again = !sy->stopping && sy->state == SY_BACKOFF && sy->timeouts >= 1;
    if (again)
        sy->redialing = true;
    else if (!sy->stopping && sy->state == SY_BACKOFF)
        send_hello(sy);
    else if (!sy->stopping && sy->state == SY_IDLE)
        next_step(sy);
    pthread_mutex_unlock(&sy->mu);
    if (again)
        redial(sy);
}

/* The connection went away: abandon the request in flight now. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    node_sync *sy = arg;
    if (ev != NNG_PIPE_EV_REM_POST)
        return;
    pthread_mutex_lock(&sy->mu);
    if (!sy->redialing && !sy->stopping && sy->aio != NULL)
        nng_aio_cancel(sy->aio); /* completes later, on nng's task thread */
    pthread_mutex_unlock(&sy->mu);
}

void node_sync_kick(node *n, uint64_t head, const uint8_t hash[HCP_HASH_LEN])
{
    node_sync *sy = n->sync;
    if (sy == NULL)
        return;
    pthread_mutex_lock(&sy->mu);
    atomic_store(&sy->head, head);
    memcpy(sy->head_hash, hash, HCP_HASH_LEN);
    bool idle = sy->state == SY_IDLE;
    pthread_mutex_unlock(&sy->mu);
    if (idle)
        nng_aio_cancel(sy->sleep); /* on_sleep runs at once and sends */
}

json_t *node_sync_json(node *n)
{
    node_sync *sy = n->sync;
    uint64_t head = n->store->chain.seq; /* a read of the committed head */
    bool connected = false;
    uint64_t acked = n->store->acked;
    char err[160] = "";
    if (sy != NULL) {
        pthread_mutex_lock(&sy->mu);
        connected = sy->connected;
        acked = sy->acked;
        memcpy(err, sy->last_error, sizeof(err));
        pthread_mutex_unlock(&sy->mu);
        head = atomic_load(&sy->head);
    }
    return json_pack("{so,sb,sI,sI,sI,so}", "gateway",
                     n->cfg.gateway[0] ? json_string(n->cfg.gateway) : json_null(), "connected",
                     connected, "log_head", (json_int_t)head, "acked", (json_int_t)acked, "lag",
                     (json_int_t)(head > acked ? head - acked : 0), "last_error",
                     err[0] ? json_string(err) : json_null());
}

/* The server name to check in the gateway's certificate. */
static void server_name(const node_config *c, char *buf, size_t len)
{
    if (c->tls_server_name[0]) {
        snprintf(buf, len, "%s", c->tls_server_name);
        return;
    }
    const char *h = strstr(c->gateway, "://");
    h = h ? h + 3 : c->gateway;
    size_t n = strcspn(h, ":/");
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), h);
}

/* TLS for the dialer: our certificate, the CA pinned, the gateway's name
 * checked. Complete before the dialer starts (nng never locks a config). */
static int tls_setup(node_sync *sy)
{
    const node_config *c = &sy->n->cfg;
    char name[256];
    server_name(c, name, sizeof(name));
    char *cert = hcpd_read_text(c->tls_cert, SYNC_FILE_MAX),
         *key = hcpd_read_text(c->tls_key, SYNC_FILE_MAX);
    int rv = cert && key ? nng_tls_config_alloc(&sy->tls, NNG_TLS_MODE_CLIENT) : NNG_ENOENT;
    if (rv == 0)
        rv = nng_tls_config_own_cert(sy->tls, cert, key, NULL);
    if (rv == 0)
        rv = nng_tls_config_ca_file(sy->tls, c->tls_ca);
    if (rv == 0)
        rv = nng_tls_config_server_name(sy->tls, name);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(sy->tls, NNG_TLS_AUTH_MODE_REQUIRED);
    free(cert);
    free(key);
    if (rv != 0) {
        node_log("error", "sync.tls_failed", "reason=\"%s\"", nng_strerror(rv));
        return HCP_ECRYPTO;
    }
    int rc = repl_identity_load(c->tls_cert, c->tls_key, &sy->id);
    if (rc == HCP_OK && strcmp(repl_identity_cn(sy->id), c->county) != 0)
        node_log("warn", "sync.cert_county",
                 "cert=%s county=%s detail=\"the gateway will refuse "
                 "this certificate for this county\"",
                 repl_identity_cn(sy->id), c->county);
    return rc;
}

/* The req socket and its dialer (TLS config, if any, made before). */
static int open_socket(node_sync *sy)
{
    const node_config *c = &sy->n->cfg;
    int rv = nng_req0_open(&sy->sock);
    if (rv == 0)
        rv = nng_socket_set_ms(sy->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    /* after a gateway restart every county redials at once: spread the
     * first retry over 0.1–3 s so the TLS handshakes do not all collide */
    uint16_t r = 0;
    if (hcp_random(&r, sizeof(r)) != HCP_OK)
        r = 0;
    if (rv == 0)
        rv = nng_socket_set_ms(sy->sock, NNG_OPT_RECONNMINT, SYNC_BACKOFF_MIN + r % 2900);
    if (rv == 0)
        rv = nng_socket_set_ms(sy->sock, NNG_OPT_RECONNMAXT, SYNC_BACKOFF_MAX);
    if (rv == 0)
        rv = nng_socket_set_size(sy->sock, NNG_OPT_RECVMAXSZ, REPL_FRAME_MAX + 1024);
    if (rv == 0)
        rv = nng_pipe_notify(sy->sock, NNG_PIPE_EV_REM_POST, on_pipe, sy);
    if (rv == 0)
        rv = nng_dialer_create(&sy->dialer, sy->sock, c->gateway);
    if (rv == 0)
        (void)nng_dialer_set_bool(sy->dialer, NNG_OPT_TCP_KEEPALIVE, true); /* best effort */
    if (rv == 0 && sy->tls != NULL)
        rv = nng_dialer_set_ptr(sy->dialer, NNG_OPT_TLS_CONFIG, sy->tls);
    if (rv == 0)
        rv = nng_ctx_open(&sy->ctx, sy->sock);
    if (rv == 0)
        rv = nng_dialer_start(sy->dialer, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        node_log("error", "sync.dial_failed", "gateway=%s reason=\"%s\"", c->gateway,
                 nng_strerror(rv));
        return HCP_EIO;
    }
    return HCP_OK;
}

static int dial(node_sync *sy)
{
    if (!sy->insecure && tls_setup(sy) != HCP_OK)
        return HCP_ECRYPTO;
    if (nng_aio_alloc(&sy->aio, on_io, sy) != 0 || nng_aio_alloc(&sy->sleep, on_sleep, sy) != 0)
        return HCP_ENOMEM;
    return open_socket(sy);
}

int node_sync_start(node *n)
{
    if (n->cfg.gateway[0] == '\0')
        return HCP_OK; /* offline: GET /v1/sync says so */
    node_sync *sy = calloc(1, sizeof(*sy));
    if (sy == NULL)
        return HCP_ENOMEM;
    sy->n = n;
    sy->insecure = strncmp(n->cfg.gateway, "tcp://", 6) == 0;
    sy->acked = n->store->acked;
    sy->batch_bytes = REPL_BATCH_BYTES;
    atomic_store(&sy->head, n->store->chain.seq);
    memcpy(sy->head_hash, n->store->chain.head, HCP_HASH_LEN);
    pthread_mutex_init(&sy->mu, NULL);
    n->sync = sy;
    int rc = dial(sy);
    if (rc != HCP_OK)
        return rc;
    node_log("info", "sync.start", "gateway=%s node=%s acked=%llu", n->cfg.gateway,
             n->store->node_id, (unsigned long long)sy->acked);
    pthread_mutex_lock(&sy->mu);
    send_hello(sy);
    pthread_mutex_unlock(&sy->mu);
    return HCP_OK;
}

void node_sync_stop(node *n)
{
    node_sync *sy = n->sync;
    if (sy == NULL)
        return;
    pthread_mutex_lock(&sy->mu);
    sy->stopping = true;
    pthread_mutex_unlock(&sy->mu);
    if (sy->sleep != NULL)
        nng_aio_stop(sy->sleep); /* first: a redial in progress finishes */
    if (sy->aio != NULL)
        nng_aio_stop(sy->aio);
    nng_close(sy->sock);
    nng_aio_free(sy->aio);
    nng_aio_free(sy->sleep);
    if (sy->tls != NULL)
        nng_tls_config_free(sy->tls);
    repl_identity_free(sy->id);
    pthread_mutex_destroy(&sy->mu);
    free(sy);
    n->sync = NULL;
}
