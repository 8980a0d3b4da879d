/*
 * sync.c — the node's half of replication (docs/replication.md): dial the
 * gateway, prove the county (hello, challenge, signed auth), then send the
 * log from the gateway's acknowledged position in signed batches, up to
 * SYNC_WINDOW of them in flight, and record every acknowledgement durably
 * (through the writer).
 *
 * One nng req socket with SYNC_WINDOW contexts ("slots"), each driven by
 * its own aio on nng's threads; one more aio sleeps (idle, backoff, and
 * "run now" when the writer commits). The session is small:
 *   BACKOFF → HELLO → (CHALLENGE) AUTH → STREAM ; any failure → BACKOFF
 * In STREAM, batches go out while a slot is free and the gateway lacks
 * events; a restored store fetches its history back first (FETCH), and an
 * idle link pings. Every request carries the session's epoch: a failure
 * starts a new epoch, and answers to older requests are ignored, except
 * acknowledgements, which are facts whenever they arrive. nng redials by
 * itself; a lost pipe cancels the requests in flight so the session
 * restarts at once on the next pipe.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "lock.h"
#include "codec.h"
#include "record.h"
#include "directive.h"
#include "repl.h"
#include "store.h"
#include "sync.h"
#include "writer.h"

#ifndef SYNC_WINDOW
#define SYNC_WINDOW 4 /* batches in flight */
#endif
#define SYNC_TIMEOUT_MS  5000        /* an answer takes at most this long */
#define SYNC_BATCH_MIN   (16u << 10) /* batches shrink to this on a slow link */
#define SYNC_GROW_ACKS   8u          /* batches acknowledged in time before one doubling */
#define SYNC_IDLE_MS     1000        /* re-check for new events this often when idle */
#define SYNC_PING_EVERY  10          /* idle rounds between pings (heartbeat) */
#define SYNC_DPOLL_EVERY 2           /* idle rounds between pings that ask for directives */
#define SYNC_BACKOFF_MIN 100
#define SYNC_BACKOFF_MAX 30000
#define SYNC_DRAIN_MS    20  /* a new session waits this long for old requests to end */
#define SYNC_ACK_EVERY   250 /* ms: acknowledgements are recorded at most this often */
#define SYNC_FILE_MAX    (1u << 20)
#define SYNC_LAT_RING    1024 /* commits awaiting their acknowledgement, timed */

/* Bounds (seconds) of the replication-latency histogram's buckets; +Inf last. */
static const double lat_bounds[] = {0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005,
                                    0.0075, 0.01,  0.015,  0.02,  0.03,  0.05,  0.1,
                                    0.25,   0.5,   1,      2.5,   5,     10};
#define SYNC_LAT_BUCKETS (sizeof(lat_bounds) / sizeof(lat_bounds[0]))

/* Events from..to, committed at t_ns (CLOCK_MONOTONIC), not acknowledged yet. */
typedef struct lat_commit {
    uint64_t from, to, t_ns;
} lat_commit;

enum sy_state { SY_BACKOFF, SY_HELLO, SY_AUTH, SY_STREAM };
enum sy_kind { K_NONE, K_HELLO, K_AUTH, K_BATCH, K_FETCH, K_PING };

typedef struct sync_conn sync_conn;

typedef struct sync_slot {
    sync_conn *c; /* the connection (socket) it belongs to */
    nng_ctx ctx;
    nng_aio *aio;
    bool busy;      /* a send or a receive is pending on aio */
    bool sending;   /* ... and it is the send */
    int kind;       /* enum sy_kind: what the request asked */
    unsigned epoch; /* the session it belongs to */
} sync_slot;

/* One socket with its dialer and request contexts. The watchdog replaces
 * it whole; a replaced one whose close nng never finishes is abandoned
 * (its late callbacks see it is not sy->conn and do nothing). */
struct sync_conn {
    node_sync *sy;
    nng_socket sock;
    nng_dialer dialer;
    sync_slot slot[SYNC_WINDOW];
};

struct node_sync {
    node *n;
    /* send_batch's scratch (used with mu held): one copy on the heap, not
     * a _Thread_local one in each of the process's ~18 threads (352 KiB
     * each, zeroed and so resident at every thread's start) */
    repl_event batch_evs[REPL_BATCH_EVENTS];
    size_t batch_offs[REPL_BATCH_EVENTS][3];
    hcp_buf batch_buf; /* the batch's records, reused (a fresh one per batch was grown from 64
                        * bytes to ~1 MiB by doubling, and its pages faulted in each time) */
    nng_tls_config *tls;
    nng_aio *sleep;    /* idle, backoff and "run now" */
    repl_identity *id; /* NULL when insecure (tcp://) */
    /* directives (docs/directives.md): the CA that vouches for the
     * gateway's key, the gateway's certificate as its welcome gave it
     * (verified), the last entry handed to the writer in this session,
     * whether the gateway said more wait, entries refused for their
     * signature (never applied, never acknowledged) */
    repl_verifier *verifier;
    repl_peer *gwpeer;
    uint64_t dqueued;
    nng_time dqueued_at; /* when: a write that failed (disk full) is offered again later */
    bool dmore;
    uint64_t dbad;
    _Atomic uint64_t head; /* the store's committed head (writer → kick) */
    bool insecure;
    pthread_mutex_t mu;  /* everything below */
    sync_conn *conn;     /* the current connection (changed by redial) */
    pthread_t redialer;  /* the thread replacing it (joined before the next) */
    uint64_t acked;      /* the gateway's applied position, as last acknowledged */
    uint64_t sent;       /* last seq sent in this epoch (≥ acked) */
    uint64_t remote;     /* the gateway's applied position for this county */
    uint64_t fetch_from; /* first seq of the fetch in flight */
    uint64_t persisted;  /* the last acknowledgement handed to the writer */
    nng_time persisted_at;
    size_t batch_bytes; /* current batch size: halved after a timeout, regrown on acks */
    unsigned acks_kept; /* batches acknowledged in time since the size last changed */
    int state;          /* enum sy_state */
    bool zstd;          /* the gateway accepted compressed batches in this session */
    unsigned epoch;     /* bumped by every failure */
    int sleep_rearm;    /* ≥ 0: when the pending sleep ends, sleep this long instead */
    int timeouts;       /* requests in a row that got no answer */
    int backoff_ms, idle_rounds;
    /* The gateway refused a batch for want of room (storage_full): its
     * welcome does not end the backoff, only an acknowledged batch does,
     * so that a full gateway is asked less and less often. */
    bool gw_full;
    uint64_t tls_fails_seen; /* TLS handshake failures counted at the last welcome */
    bool sleep_busy;         /* the sleep aio is pending */
    bool sleep_idle;         /* ... and it (or its re-arm) is an idle wait (arm_idle) */
    bool stopping, connected;
    bool synced_sent;  /* W_SYNCED queued (restore complete) */
    bool redialing;    /* the socket is being replaced (on_pipe keeps off) */
    bool has_redialer; /* redialer was started and not joined */
    bool abandoned;    /* a connection could not be closed: keep sy to the exit */
    uint8_t head_hash[HCP_HASH_LEN];
    char last_error[160];
    /* replication latency (commit → acknowledgement), for GET /metrics */
    lat_commit lat_ring[SYNC_LAT_RING];
    size_t lat_first, lat_len;
    uint64_t lat_last;                        /* the last head timed */
    uint64_t lat_count[SYNC_LAT_BUCKETS + 1]; /* per bucket, not cumulative */
    uint64_t lat_total;
    double lat_sum;
    nng_time ack_at; /* the last acknowledgement (welcome, ack, pong); the start before one */
};

/* ---- small helpers ---- */

/* Now on the monotonic clock, in ns (0 if it cannot be read: the
 * latency histogram then shows nonsense, nothing else depends on it). */
static uint64_t mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The writer committed events up to head: time them. Events the gateway
 * holds already (fetched back after a restore) are not timed; when the ring
 * is full the oldest commit is dropped untimed. mu held. */
static void lat_commit_note(node_sync *sy, uint64_t head)
{
    if (head <= sy->lat_last)
        return;
    uint64_t from = sy->lat_last + 1;
    sy->lat_last = head;
    if (head <= sy->remote)
        return;
    if (sy->lat_len == SYNC_LAT_RING) {
        sy->lat_first = (sy->lat_first + 1) % SYNC_LAT_RING;
        sy->lat_len--;
    }
    lat_commit *c = &sy->lat_ring[(sy->lat_first + sy->lat_len++) % SYNC_LAT_RING];
    c->from = from > sy->remote ? from : sy->remote + 1;
    c->to = head;
    c->t_ns = mono_ns();
}

/* The gateway acknowledged every event up to applied: observe how long each
 * timed one waited since its commit. mu held. */
static void lat_ack_note(node_sync *sy, uint64_t applied)
{
    uint64_t now = 0;
    while (sy->lat_len > 0 && sy->lat_ring[sy->lat_first].from <= applied) {
        lat_commit *c = &sy->lat_ring[sy->lat_first];
        uint64_t last = c->to <= applied ? c->to : applied;
        if (now == 0)
            now = mono_ns();
        double secs = (double)(now - c->t_ns) / 1e9;
        size_t b = 0;
        while (b < SYNC_LAT_BUCKETS && secs > lat_bounds[b])
            b++;
        uint64_t k = last - c->from + 1;
        sy->lat_count[b] += k;
        sy->lat_total += k;
        sy->lat_sum += secs * (double)k;
        if (last < c->to) {
            c->from = last + 1; /* the rest waits for a later acknowledgement */
            break;
        }
        sy->lat_first = (sy->lat_first + 1) % SYNC_LAT_RING;
        sy->lat_len--;
    }
}

/* Ask the writer to record the acknowledged position seq durably — unless
 * one was recorded less than SYNC_ACK_EVERY ms ago and !force: then it is
 * recorded later (when idle, with a later one, or at stop). Losing the last
 * few acknowledgements in a crash costs nothing: the gateway tells its
 * position at every welcome and a re-sent batch is acknowledged again
 * without change. Recording every one doubled the node's commits under a
 * trickle (one per event, one per acknowledgement). mu held. */
static void persist_ack(node_sync *sy, uint64_t seq, bool force)
{
    nng_time now = nng_clock();
    if (seq > atomic_load(&sy->head)) /* a restore: the fetched events are not written yet */
        return;
    if (seq == sy->persisted || (!force && now - sy->persisted_at < SYNC_ACK_EVERY))
        return;
    node_write *w = node_write_new(W_ACK, NULL);
    if (w == NULL)
        return; /* recorded with the next acknowledgement */
    w->seq = seq;
    sy->persisted = seq;
    sy->persisted_at = now;
    node_writer_submit(sy->n, w);
}

/* Sleep ms on the sleep aio, then on_sleep; a pending sleep is cut short and
 * replaced. idle: the wait of a link with nothing to do (arm_idle). mu held. */
static void arm_sleep_as(node_sync *sy, int ms, bool idle)
{
    if (sy->sleep_busy) {
        sy->sleep_rearm = ms;
        sy->sleep_idle = idle;
        nng_aio_cancel(sy->sleep); /* on_sleep re-arms with ms */
        return;
    }
    sy->sleep_busy = true;
    sy->sleep_idle = idle;
    nng_sleep_aio(ms, sy->sleep);
}

static void arm_sleep(node_sync *sy, int ms)
{
    arm_sleep_as(sy, ms, false);
}

/* Wait at most SYNC_IDLE_MS for something to do (the writer's kick and the
 * answers wake the session sooner). An idle wait already pending is kept:
 * it ends within SYNC_IDLE_MS anyway. Replacing it after every
 * acknowledgement, as before, cost a cancel, a callback on nng's thread
 * and a re-armed timer — thread hand-offs — per live event. mu held. */
static void arm_idle(node_sync *sy)
{
    if (sy->sleep_busy && sy->sleep_idle && sy->sleep_rearm < 0)
        return;
    arm_sleep_as(sy, SYNC_IDLE_MS, true);
}

/* A free slot, or NULL. mu held. */
static sync_slot *free_slot(node_sync *sy)
{
    for (int i = 0; i < SYNC_WINDOW; i++)
        if (!sy->conn->slot[i].busy)
            return &sy->conn->slot[i];
    return NULL;
}

/* Requests of kind k (K_NONE: any) of the current session in flight. mu held. */
static int in_flight(const node_sync *sy, int k)
{
    int c = 0;
    for (int i = 0; i < SYNC_WINDOW; i++) {
        const sync_slot *s = &sy->conn->slot[i];
        c += s->busy && s->epoch == sy->epoch && (k == K_NONE || s->kind == k);
    }
    return c;
}

static void fail(node_sync *sy, const char *what);

/* Send frame f on slot s as a request of kind k; its answer comes to
 * on_io. mu held. */
static void send_frame(node_sync *sy, sync_slot *s, const repl_frame *f, int k)
{
    nng_msg *m;
    repl_frame df = *f; /* the directive position rides on every request that may carry it,
                         * except while a restore still fetches the history */
    df.has_dseq = !atomic_load(&sy->n->store->needs_sync) && sy->n->store->has_dirs;
    df.dseq = df.has_dseq ? atomic_load(&sy->n->store->dseq) : 0;
    f = &df;
    if (repl_encode_msg(f, &m) != HCP_OK) {
        fail(sy, "cannot encode a frame");
        return;
    }
    s->busy = true;
    s->sending = true;
    s->kind = k;
    s->epoch = sy->epoch;
    nng_aio_set_msg(s->aio, m);
    nng_aio_set_timeout(s->aio, SYNC_TIMEOUT_MS);
    nng_ctx_send(s->ctx, s->aio);
}

/* Something failed: note it, end the session (a new epoch; requests in
 * flight are cancelled), retry after a backoff with jitter (exponential,
 * 100 ms to 30 s). mu held. */
static void fail(node_sync *sy, const char *reason)
{
    /* a dial that never completes shows only as a timeout: say why the TLS
     * handshakes failed meanwhile (wrong --tls-server-name, another CA, a
     * revoked certificate at the TLS layer) */
    char what[sizeof(sy->last_error)], tls[REPL_TLS_WHY_MAX];
    uint64_t age = 0;
    if (sy->tls != NULL && repl_tls_failures(false, &age, tls, sizeof(tls)) > sy->tls_fails_seen &&
        age < 2 * SYNC_BACKOFF_MAX)
        snprintf(what, sizeof(what), "%s (TLS handshake: %s)", reason, tls);
    else
        snprintf(what, sizeof(what), "%s", reason);
    bool timeout = strstr(what, "imed out") != NULL || strstr(what, "no answer") != NULL;
    sy->timeouts = timeout ? sy->timeouts + 1 : 0;
    /* a slow or flaky link gets smaller batches (regrown by acks) */
    if ((timeout || in_flight(sy, K_BATCH) > 0) && sy->batch_bytes / 2 >= SYNC_BATCH_MIN)
        sy->batch_bytes /= 2;
    sy->acks_kept = 0;
    if (sy->connected || strcmp(sy->last_error, what) != 0)
        node_log("warn", "sync.failed", "gateway=%s reason=\"%s\"", sy->n->cfg.gateway, what);
    snprintf(sy->last_error, sizeof(sy->last_error), "%s", what);
    sy->connected = false;
    sy->state = SY_BACKOFF;
    sy->epoch++;
    for (int i = 0; i < SYNC_WINDOW; i++)
        if (sy->conn->slot[i].busy)
            nng_aio_cancel(sy->conn->slot[i].aio); /* completes later, ignored (old epoch) */
    sy->backoff_ms = sy->backoff_ms ? sy->backoff_ms * 2 : SYNC_BACKOFF_MIN;
    if (sy->backoff_ms > SYNC_BACKOFF_MAX)
        sy->backoff_ms = SYNC_BACKOFF_MAX;
    uint16_t r = 0;
    if (hcp_random(&r, sizeof(r)) != HCP_OK)
        r = 0;
    arm_sleep(sy, sy->backoff_ms / 2 + (int)(r % (unsigned)(sy->backoff_ms + 1)));
}

/* Start a session: hello on a free slot (all are free after a drain). mu held. */
static void send_hello(node_sync *sy)
{
    sync_slot *s = free_slot(sy);
    if (s == NULL) { /* cannot happen after a drain; try again shortly */
        arm_sleep(sy, SYNC_DRAIN_MS);
        return;
    }
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
    f.zstd = repl_zstd_level() > 0 ? REPL_ZSTD_VERSION : 0; /* offered; used once accepted */
    sy->zstd = false;
    sy->state = SY_HELLO;
    send_frame(sy, s, &f, K_HELLO);
}

static void send_auth(node_sync *sy, sync_slot *s, const repl_frame *challenge)
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
    send_frame(sy, s, &f, K_AUTH);
}

/* ---- batches ---- */

/* The next record of the log under cur, which must be seq's (the first
 * call positions the cursor at it, later ones step to the next key): one
 * B-tree descent per batch instead of one per event. What store_log_wire
 * reads, from the same db: the record and its personal record appended to
 * buf and pii, its hash into hash. */
static int read_next(node_store *s, MDB_cursor *cur, bool first, uint64_t seq,
                     uint8_t hash[HCP_HASH_LEN], hcp_buf *buf, hcp_buf *pii)
{
    uint8_t kb[8];
    hcp_be64_put(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = store_err(mdb_cursor_get(cur, &k, &v, first ? MDB_SET_KEY : MDB_NEXT));
    if (rc != HCP_OK)
        return rc;
    if (k.mv_size != 8 || hcp_be64_get(k.mv_data) != seq)
        return HCP_ENOTFOUND; /* a hole: what a lookup of seq would have said */
    return hcp_stored_event_unpack(s->sealer, s->county, seq, v.mv_data, v.mv_size, false, hash,
                                   buf, pii, NULL);
}

/* Read events from..head into buf (records and personal records back to
 * back) and describe them in evs; *n events. */
static int read_batch(node_sync *sy, uint64_t from, uint64_t head, hcp_buf *buf, repl_event *evs,
                      size_t *n)
{
    node_store *s = sy->n->store;
    MDB_txn *txn;
    int rc = store_read_begin(s, &txn);
    if (rc != HCP_OK)
        return rc;
    MDB_cursor *cur = NULL;
    rc = store_err(mdb_cursor_open(txn, s->log, &cur));
    size_t k = 0;
    size_t(*offs)[3] = sy->batch_offs;
    hcp_buf pii;
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    for (uint64_t seq = from; seq <= head && k < REPL_BATCH_EVENTS && rc == HCP_OK; seq++) {
        if (buf->len >= sy->batch_bytes)
            break;
        size_t start = buf->len;
        hcp_buf_reset(&pii);
        rc = read_next(s, cur, seq == from, seq, evs[k].hash, buf, &pii);
        size_t mid = buf->len;
        if (rc == HCP_OK)
            rc = hcp_buf_append(buf, pii.data, pii.len);
        offs[k][0] = start;
        offs[k][1] = mid;
        offs[k][2] = buf->len;
        k += rc == HCP_OK;
    }
    hcp_buf_free(&pii);
    if (cur != NULL)
        mdb_cursor_close(cur);
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

/* Send the next batch, from sent+1, on slot s. mu held. */
static void send_batch(node_sync *sy, sync_slot *s, uint64_t head)
{
    repl_event *evs = sy->batch_evs;
    hcp_buf *buf = &sy->batch_buf; /* kept from batch to batch: grown once */
    hcp_buf_reset(buf);
    size_t n = 0;
    uint64_t first = sy->sent + 1;
    int rc = read_batch(sy, first, head, buf, evs, &n);
    repl_frame f;
    memset(&f, 0, sizeof(f));
    uint8_t sig[REPL_SIG_MAX] = {0};
    size_t siglen = 1; /* insecure: an unsigned marker */
    if (rc == HCP_OK && sy->id != NULL) {
        siglen = sizeof(sig);
        rc = repl_sign_batch(sy->id, sy->n->cfg.county, first + n - 1, evs[n - 1].hash, sig,
                             &siglen);
    }
    if (rc != HCP_OK) {
        fail(sy, "cannot read or sign the log");
        return;
    }
    f.type = REPL_BATCH;
    memcpy(f.county, sy->n->cfg.county, sizeof(f.county));
    f.seq = first;
    f.events = evs;
    f.nevents = n;
    f.sig = sig;
    f.sig_len = siglen;
    f.zlevel = sy->zstd ? repl_zstd_level() : 0; /* the signature is over the events, not this */
    sy->sent = first + n - 1;
    send_frame(sy, s, &f, K_BATCH); /* encoded into the message: buf is free again */
}

static void send_fetch(node_sync *sy, sync_slot *s, uint64_t from)
{
    repl_frame f;
    memset(&f, 0, sizeof(f));
    f.type = REPL_FETCH;
    f.seq = from;
    f.max = REPL_BATCH_EVENTS;
    sy->fetch_from = from;
    send_frame(sy, s, &f, K_FETCH);
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

/* In a session: fetch what this node lacks, fill the window with what the
 * gateway lacks, or wait (pinging now and then). mu held. */
static void step(node_sync *sy)
{
    if (sy->state != SY_STREAM)
        return;
    uint64_t head = atomic_load(&sy->head);
    bool needs = atomic_load(&sy->n->store->needs_sync);
    sync_slot *s;
    if (needs && sy->remote > head) {
        if (in_flight(sy, K_NONE) == 0 && (s = free_slot(sy)) != NULL)
            send_fetch(sy, s, head + 1);
        else
            arm_idle(sy); /* the writer's kick wakes us */
        return;
    }
    if (needs && !sy->synced_sent)
        restore_done(sy);
    while (sy->state == SY_STREAM && sy->sent < head && (s = free_slot(sy)) != NULL) {
        sy->idle_rounds = 0;
        send_batch(sy, s, head);
    }
    if (sy->state != SY_STREAM || in_flight(sy, K_NONE) > 0)
        return; /* answers drive the next step */
    uint64_t dseq = atomic_load(&sy->n->store->dseq);
    bool dnow = sy->dmore && (dseq >= sy->dqueued || nng_clock() - sy->dqueued_at >=
                                                         SYNC_TIMEOUT_MS); /* ask for the rest */
    ++sy->idle_rounds;
    if ((dnow || sy->idle_rounds >= SYNC_PING_EVERY || sy->idle_rounds % SYNC_DPOLL_EVERY == 0) &&
        (s = free_slot(sy)) != NULL) {
        sy->dmore = false;
        sy->idle_rounds = 0;
        repl_frame f = {.type = REPL_PING};
        send_frame(sy, s, &f, K_PING);
        return;
    }
    persist_ack(sy, sy->acked, false); /* or at the next idle round */
    arm_idle(sy);
}

static void server_name(const node_config *c, char *buf, size_t len);

/* The gateway's certificate from a welcome: verified against the CA and
 * the server name this node dials, it is the key directives must carry.
 * mu held. */
static void take_gcert(node_sync *sy, const repl_frame *r)
{
    if (r->gcert == NULL || sy->verifier == NULL)
        return;
    char name[256];
    server_name(&sy->n->cfg, name, sizeof(name));
    repl_peer *p = NULL;
    const char *why = NULL;
    if (repl_gateway_new(sy->verifier, r->gcert, r->gcert_len, name, &p, &why) != HCP_OK) {
        node_log("warn", "directive.gateway_cert",
                 "reason=%s detail=\"the gateway's "
                 "certificate is not one the CA vouches for: its directives are refused\"",
                 why != NULL ? why : "bad_cert");
        p = NULL;
    }
    repl_peer_free(sy->gwpeer);
    sy->gwpeer = p;
}

/* Directives in an answer (welcome, ack, pong): those after what is
 * applied or queued, each signed by the gateway's key (checked here), go
 * to the writer in order; the first that does not verify stops the rest
 * (its seq is the sender's word: it moves nothing). mu held. */
static void take_dirs(node_sync *sy, const repl_frame *r)
{
    if (r->ndirs == 0 || atomic_load(&sy->n->store->needs_sync))
        return;
    uint64_t after = atomic_load(&sy->n->store->dseq);
    if (sy->dqueued > after && nng_clock() - sy->dqueued_at < SYNC_TIMEOUT_MS)
        after = sy->dqueued; /* in the writer's queue: not twice (it would skip them anyway) */
    size_t first = r->ndirs, k = 0;
    uint64_t last = 0;
    for (size_t i = 0; i < r->ndirs; i++) {
        const repl_dir *d = &r->dirs[i];
        repl_dir_entry e;
        if (repl_dir_decode(d->rec, d->rec_len, &e) != HCP_OK) {
            node_log("warn", "directive.malformed", "detail=\"an entry does not decode\"");
            break;
        }
        if (e.seq <= after || e.seq <= last)
            continue;
        if (!sy->insecure &&
            (sy->gwpeer == NULL ||
             repl_peer_verify_directive(sy->gwpeer, e.seq, d->hash, d->rec, d->rec_len, d->sig,
                                        d->sig_len) != HCP_OK)) {
            sy->dbad++;
            node_log("warn", "directive.bad_signature",
                     "seq=%llu refused=%llu detail=\"not signed by the gateway key the CA "
                     "vouches for: refused\"",
                     (unsigned long long)e.seq, (unsigned long long)sy->dbad);
            break;
        }
        if (first == r->ndirs)
            first = i;
        k = i - first + 1;
        last = e.seq;
    }
    if (k == 0)
        return;
    node_write *w = node_write_new(W_DIRECTIVE, NULL);
    if (w != NULL && (w->dirs = node_directive_batch(&r->dirs[first], k)) != NULL) {
        sy->dqueued = last;
        sy->dqueued_at = nng_clock();
        sy->dmore = r->dmore || k < r->ndirs - first;
        node_writer_submit(sy->n, w);
    } else
        node_write_free(w); /* asked again at the next ping */
}

/* A batch was acknowledged in time: after SYNC_GROW_ACKS of them in a row
 * the batch size doubles back towards REPL_BATCH_BYTES. Regrowing on a
 * welcome instead undid the halving at every redial, so a link too slow for
 * full batches timed out again and again. mu held. */
static void grow_batch(node_sync *sy)
{
    if (sy->batch_bytes >= REPL_BATCH_BYTES || ++sy->acks_kept < SYNC_GROW_ACKS)
        return;
    sy->batch_bytes =
        sy->batch_bytes * 2 < REPL_BATCH_BYTES ? sy->batch_bytes * 2 : REPL_BATCH_BYTES;
    sy->acks_kept = 0;
}

/* The gateway told its position for this county in a welcome. mu held. */
static void on_welcome(node_sync *sy, uint64_t applied)
{
    uint64_t head = atomic_load(&sy->head);
    bool needs = atomic_load(&sy->n->store->needs_sync);
    sy->remote = applied;
    if (applied > head && !needs) {
        char what[160];
        snprintf(what, sizeof(what),
                 "gateway holds %llu events, node %llu, store not a restored copy: refusing",
                 (unsigned long long)applied, (unsigned long long)head);
        fail(sy, what);
        return;
    }
    lat_ack_note(sy, applied);
    sy->ack_at = nng_clock(); /* for GET /metrics */
    if (!sy->connected)
        node_log("info", applied > head ? "sync.restoring" : "sync.connected",
                 "gateway=%s applied=%llu head=%llu zstd=%s", sy->n->cfg.gateway,
                 (unsigned long long)applied, (unsigned long long)head, sy->zstd ? "on" : "off");
    sy->connected = true;
    sy->tls_fails_seen = repl_tls_failures(false, NULL, NULL, 0);
    if (!sy->gw_full)
        sy->backoff_ms = 0;
    sy->timeouts = 0;
    sy->last_error[0] = '\0';
    if (applied != sy->acked && applied <= head) {
        sy->acked = applied;
        persist_ack(sy, applied, true);
    } else
        sy->acked = applied;
    sy->sent = applied; /* resend from the gateway's position */
    sy->state = SY_STREAM;
    step(sy);
}

/* An acknowledgement (ack, or pong) of position applied: a fact whatever
 * epoch asked for it. mu held. */
static void on_ack(node_sync *sy, uint64_t applied)
{
    if (applied > sy->remote)
        sy->remote = applied;
    lat_ack_note(sy, applied);
    sy->ack_at = nng_clock(); /* for GET /metrics */
    sy->idle_rounds = 0;      /* the link is busy: no ping needed */
    if (applied > sy->acked && applied <= atomic_load(&sy->head)) {
        sy->acked = applied;
        persist_ack(sy, applied, false);
    }
    if (sy->sent < sy->acked)
        sy->sent = sy->acked;
}

/* A page of the county's own history came back: hand it to the writer,
 * then wait for its commit (the writer's kick wakes us). mu held. */
static void on_events(node_sync *sy, const repl_frame *r)
{
    sy->remote = r->seq;
    if (r->nevents == 0) {
        step(sy);
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
    arm_idle(sy);
}

/* The answer r to a request of kind k from the current session. mu held. */
static void on_answer(node_sync *sy, sync_slot *s, int k, const repl_frame *r)
{
    if (r->type == REPL_ERROR && k == K_BATCH && strcmp(r->code, "gap") == 0 && r->seq >= 1) {
        /* the gateway lacks what precedes this batch (an earlier one was lost
         * or waited too long): resend from its position, in a new epoch so
         * the answers to the batches after this one are ignored */
        sy->epoch++;
        sy->sent = r->seq - 1 > sy->acked ? r->seq - 1 : sy->acked;
        step(sy);
    } else if (r->type == REPL_ERROR) {
        if (k == K_BATCH && strcmp(r->code, "storage_full") == 0)
            sy->gw_full = true; /* retried after a growing backoff */
        char what[64];
        snprintf(what, sizeof(what), "gateway refused: %s", r->code);
        fail(sy, what);
    } else if (k == K_HELLO && r->type == REPL_CHALLENGE && sy->id != NULL) {
        /* compression only when both sides offered it (an older gateway never answers the key) */
        sy->zstd = r->zstd >= 1 && repl_zstd_level() > 0;
        send_auth(sy, s, r);
    } else if ((k == K_HELLO || k == K_AUTH) && r->type == REPL_WELCOME) {
        if (k == K_HELLO) /* an insecure link: the welcome answers the hello */
            sy->zstd = r->zstd >= 1 && repl_zstd_level() > 0;
        sy->dqueued = 0; /* a new session: what was queued has committed or failed */
        take_gcert(sy, r);
        take_dirs(sy, r);
        on_welcome(sy, r->seq);
    } else if ((k == K_BATCH && r->type == REPL_ACK) || (k == K_PING && r->type == REPL_PONG)) {
        if (k == K_BATCH) {
            sy->gw_full = false;
            grow_batch(sy);
        }
        take_dirs(sy, r);
        on_ack(sy, r->seq);
        sy->timeouts = 0;
        step(sy);
    } else if (k == K_FETCH && r->type == REPL_EVENTS)
        on_events(sy, r);
    else
        fail(sy, "unexpected answer from the gateway");
}

/* A reply of an earlier session (before a failure or a gap): only an
 * acknowledgement still means something. mu held. */
static void on_stale(node_sync *sy, int k, const repl_frame *r)
{
    if (k == K_BATCH && r->type == REPL_ACK && sy->state == SY_STREAM) {
        on_ack(sy, r->seq);
        step(sy);
    }
}

/* A slot's send or receive completed. */
static void on_io(void *arg)
{
    sync_slot *s = arg;
    node_sync *sy = s->c->sy;
    int rv = nng_aio_result(s->aio);
    hcp_mutex_lock(&sy->mu);
    bool mine = s->c == sy->conn && !sy->stopping && !sy->redialing;
    bool current = mine && s->epoch == sy->epoch;
    if (s->sending) {
        s->sending = false;
        if (rv != 0 || !current) {
            if (rv != 0)
                nng_msg_free(nng_aio_get_msg(s->aio));
            s->busy = false; /* a new request on this context replaces an old one */
            if (rv != 0 && current)
                fail(sy, nng_strerror(rv));
        } else {
            nng_aio_set_timeout(s->aio, SYNC_TIMEOUT_MS);
            nng_ctx_recv(s->ctx, s->aio);
        }
        hcp_mutex_unlock(&sy->mu);
        return;
    }
    s->busy = false;
    if (rv != 0) {
        if (current)
            fail(sy, rv == NNG_ETIMEDOUT ? "no answer from the gateway" : nng_strerror(rv));
        hcp_mutex_unlock(&sy->mu);
        return;
    }
    nng_msg *m = nng_aio_get_msg(s->aio);
    repl_frame r;
    int rc = repl_decode(nng_msg_body(m), nng_msg_len(m), &r);
    if (mine) {
        if (rc != HCP_OK && current)
            fail(sy, "malformed answer from the gateway");
        else if (rc == HCP_OK && current)
            on_answer(sy, s, s->kind, &r);
        else if (rc == HCP_OK)
            on_stale(sy, s->kind, &r);
    }
    repl_frame_clear(&r);
    nng_msg_free(m);
    hcp_mutex_unlock(&sy->mu);
}

static int open_socket(node_sync *sy, sync_conn *c);

/* Free a connection's aios (waits for their callbacks) and the connection;
 * its socket is closed already. Without mu. */
static void conn_free(sync_conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < SYNC_WINDOW; i++)
        nng_aio_free(c->slot[i].aio);
    free(c);
}

/* A new connection: aios, socket, contexts and a started dialer. */
static int conn_new(node_sync *sy, sync_conn **out)
{
    sync_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return HCP_ENOMEM;
    c->sy = sy;
    int rc = HCP_OK;
    for (int i = 0; rc == HCP_OK && i < SYNC_WINDOW; i++) {
        c->slot[i].c = c;
        if (nng_aio_alloc(&c->slot[i].aio, on_io, &c->slot[i]) != 0)
            rc = HCP_ENOMEM;
    }
    if (rc == HCP_OK)
        rc = open_socket(sy, c);
    if (rc != HCP_OK) {
        conn_free(c);
        return rc;
    }
    *out = c;
    return HCP_OK;
}

/* Close a connection that is no longer current, within 3 s, and free it; one
 * nng cannot close is abandoned (logged; sy then lives to the exit) and,
 * unless the node is stopping anyway, the node restarts itself in place. */
static void conn_close(node_sync *sy, sync_conn *c)
{
    if (c == NULL)
        return;
    if (hcpd_nng_close_bounded(c->sock, 3)) {
        conn_free(c); /* the close ended every request first */
        return;
    }
    node_log("error", "sync.close_stuck",
             "gateway=%s detail=\"nng did not close a connection within 3 s; abandoned\"",
             sy->n->cfg.gateway);
    hcp_mutex_lock(&sy->mu);
    sy->abandoned = true;
    bool stopping = sy->stopping;
    hcp_mutex_unlock(&sy->mu);
    /* nng's reaper is stuck: new sockets get no answers either (nng 1.5.2;
     * docs/replication.md, "Reconnects"). Only a new process image helps. */
    if (!stopping)
        hcpd_restart_request("nng could not close a replication connection");
}

/*
 * The watchdog: requests that time out again and again while nng believes
 * it is connected mean a connection that died without nng noticing (seen
 * when a link is cut in the middle of a TLS record: nng 1.5.2 then never
 * redials). Open a new socket and switch to it, then close the old one, on
 * a thread of its own and with a time limit: nng_close waits for nng's
 * callbacks (so never from one of them) and nng 1.5.2 can hang in it for
 * good (seen under a link cut again and again: its reaper stuck). The
 * new connection works meanwhile. node_sync_stop joins this thread.
 */
static void *redial(void *arg)
{
    node_sync *sy = arg;
    node_log("warn", "sync.redial",
             "gateway=%s detail=\"no answer to %d requests; new "
             "connection\"",
             sy->n->cfg.gateway, sy->timeouts);
    sync_conn *c = NULL, *old = NULL;
    int rc = conn_new(sy, &c);
    hcp_mutex_lock(&sy->mu);
    if (rc == HCP_OK) {
        old = sy->conn;
        sy->conn = c; /* the old one's callbacks are ignored from now */
    }
    sy->redialing = false;
    sy->timeouts = 0;
    if (rc != HCP_OK)
        fail(sy, "cannot open a new connection");
    else if (!sy->stopping)
        send_hello(sy);
    hcp_mutex_unlock(&sy->mu);
    if (old != NULL)
        conn_close(sy, old);
    return NULL;
}

/* Start redial on its thread (the previous one has finished its work: it
 * cleared `redialing`). mu held. */
static void start_redial(node_sync *sy)
{
    if (sy->has_redialer && pthread_join(sy->redialer, NULL) != 0) /* finished: joinable */
        node_log("error", "sync.join_failed", "thread=redial");
    sy->has_redialer = false;
    sy->redialing = true;
    if (pthread_create(&sy->redialer, NULL, redial, sy) != 0) {
        sy->redialing = false;
        sy->timeouts = 0; /* no thread: keep the socket, say hello again */
        send_hello(sy);
        return;
    }
    sy->has_redialer = true;
}

/* The sleep ended (or was cut short): re-arm, start a session, or step. */
static void on_sleep(void *arg)
{
    node_sync *sy = arg;
    hcp_mutex_lock(&sy->mu);
    sy->sleep_busy = false;
    if (sy->stopping || sy->redialing) {
        /* nothing: the node stops, or the redial thread says hello */
    } else if (sy->sleep_rearm >= 0) {
        int ms = sy->sleep_rearm;
        sy->sleep_rearm = -1;
        arm_sleep_as(sy, ms, sy->sleep_idle);
    } else if (sy->state == SY_BACKOFF) {
        bool drained = true;
        for (int i = 0; i < SYNC_WINDOW; i++)
            drained = drained && !sy->conn->slot[i].busy;
        if (!drained)
            arm_sleep(sy, SYNC_DRAIN_MS); /* cancelled requests still completing */
        else if (sy->timeouts >= 1)
            start_redial(sy);
        else
            send_hello(sy);
    } else if (sy->state == SY_STREAM) {
        /* a kept idle wait may end soon after an answer: the link was busy
         * a moment ago, so this is not an idle round yet (no ping) */
        nng_time since = nng_clock() - sy->ack_at;
        if (sy->sleep_idle && sy->ack_at != 0 && since < SYNC_IDLE_MS &&
            in_flight(sy, K_NONE) == 0 && sy->sent >= atomic_load(&sy->head))
            arm_sleep_as(sy, (int)(SYNC_IDLE_MS - since), true);
        else
            step(sy);
    }
    hcp_mutex_unlock(&sy->mu);
}

/* The connection went away: abandon the requests in flight now. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    sync_conn *c = arg;
    node_sync *sy = c->sy;
    if (ev != NNG_PIPE_EV_REM_POST)
        return;
    hcp_mutex_lock(&sy->mu);
    bool any = false;
    if (c == sy->conn && !sy->redialing && !sy->stopping)
        for (int i = 0; i < SYNC_WINDOW; i++)
            if (c->slot[i].busy) {
                any = true;
                nng_aio_cancel(c->slot[i].aio); /* completes later, on nng's thread */
            }
    /* an idle session lost its pipe (a gateway restarted between two
     * pings): nng redials by itself, but the next request would reach a
     * gateway that never heard this node's hello; say hello again first
     * (with pings every 2 s for directives this is no longer rare) */
    if (!any && c == sy->conn && !sy->redialing && !sy->stopping && sy->state == SY_STREAM) {
        sy->connected = false;
        sy->state = SY_BACKOFF;
        sy->epoch++;
        arm_sleep(sy, SYNC_DRAIN_MS);
    }
    hcp_mutex_unlock(&sy->mu);
}

/* The writer's commit hook (writer.h): events up to head, whose hash is
 * hash, are committed and synced. Wake the sender. */
static void on_commit(void *arg, uint64_t head, const uint8_t hash[HCP_HASH_LEN])
{
    node_sync *sy = arg;
    hcp_mutex_lock(&sy->mu);
    atomic_store(&sy->head, head);
    memcpy(sy->head_hash, hash, HCP_HASH_LEN);
    lat_commit_note(sy, head);
    /* a session with a free slot sends at once, from this thread (the
     * replier's, after the sync that made the commit durable): a read and a
     * signature cost ~0.1 ms,
     * less than the three thread hand-offs of waking nng's sleep for it */
    if (sy->state == SY_STREAM && !sy->stopping && free_slot(sy) != NULL)
        step(sy);
    hcp_mutex_unlock(&sy->mu);
}

json_t *node_sync_json(node *n)
{
    node_sync *sy = n->sync;
    uint64_t head = atomic_load(&n->store->head_seq); /* the committed head */
    bool connected = false;
    uint64_t acked = n->store->acked;
    char err[160] = "";
    if (sy != NULL) {
        hcp_mutex_lock(&sy->mu);
        connected = sy->connected;
        acked = sy->acked;
        memcpy(err, sy->last_error, sizeof(err));
        hcp_mutex_unlock(&sy->mu);
        head = atomic_load(&sy->head);
    }
    return json_pack("{so,sb,sI,sI,sI,so}", "gateway",
                     n->cfg.gateway[0] ? json_string(n->cfg.gateway) : json_null(), "connected",
                     connected, "log_head", (json_int_t)head, "acked", (json_int_t)acked, "lag",
                     (json_int_t)(head > acked ? head - acked : 0), "last_error",
                     err[0] ? json_string(err) : json_null());
}

int node_sync_metrics(node *n, hcp_buf *out)
{
    node_sync *sy = n->sync;
    if (out == NULL)
        return HCP_EINVAL;
    if (sy == NULL)
        return HCP_OK; /* offline: nothing is replicated */
    uint64_t count[SYNC_LAT_BUCKETS + 1], total, acked;
    double sum;
    bool connected;
    nng_time ack_at;
    hcp_mutex_lock(&sy->mu);
    memcpy(count, sy->lat_count, sizeof(count));
    total = sy->lat_total;
    sum = sy->lat_sum;
    connected = sy->connected;
    acked = sy->acked;
    ack_at = sy->ack_at;
    hcp_mutex_unlock(&sy->mu);
    uint64_t head = atomic_load(&sy->head);
    nng_time now = nng_clock();
    char line[512];
    int len = snprintf(
        line, sizeof(line),
        "# HELP hcp_node_sync_connected Whether the node is connected to its gateway (1) or not "
        "(0).\n# TYPE hcp_node_sync_connected gauge\nhcp_node_sync_connected %d\n"
        "# HELP hcp_node_sync_lag_events Events committed here that the gateway has not yet "
        "acknowledged.\n# TYPE hcp_node_sync_lag_events gauge\nhcp_node_sync_lag_events %llu\n",
        connected ? 1 : 0, (unsigned long long)(head > acked ? head - acked : 0));
    int rc = hcp_buf_append(out, line, (size_t)len);
    len = snprintf(line, sizeof(line),
                   "# HELP hcp_node_sync_acked_events The gateway's position in this county's log "
                   "as last acknowledged.\n# TYPE hcp_node_sync_acked_events gauge\n"
                   "hcp_node_sync_acked_events %llu\n"
                   "# HELP hcp_node_sync_last_ack_age_seconds Seconds since the gateway last "
                   "acknowledged (or, before it ever did, since the start).\n"
                   "# TYPE hcp_node_sync_last_ack_age_seconds gauge\n"
                   "hcp_node_sync_last_ack_age_seconds %.3f\n",
                   (unsigned long long)acked, now > ack_at ? (double)(now - ack_at) / 1000.0 : 0.0);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, line, (size_t)len);
    static const char name[] = "hcp_node_sync_replication_seconds";
    len = snprintf(line, sizeof(line),
                   "# HELP %s Time from an event's commit here to the gateway's acknowledgement.\n"
                   "# TYPE %s histogram\n",
                   name, name);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, line, (size_t)len);
    uint64_t cum = 0;
    for (size_t b = 0; rc == HCP_OK && b <= SYNC_LAT_BUCKETS; b++) {
        cum += count[b];
        if (b < SYNC_LAT_BUCKETS)
            len = snprintf(line, sizeof(line), "%s_bucket{le=\"%g\"} %llu\n", name, lat_bounds[b],
                           (unsigned long long)cum);
        else
            len = snprintf(line, sizeof(line), "%s_bucket{le=\"+Inf\"} %llu\n", name,
                           (unsigned long long)cum);
        rc = hcp_buf_append(out, line, (size_t)len);
    }
    len = snprintf(line, sizeof(line), "%s_sum %.6f\n%s_count %llu\n", name, sum, name,
                   (unsigned long long)total);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, line, (size_t)len);
    /* compressed batches (docs/replication.md, "Compression") */
    return rc == HCP_OK ? repl_zstd_metrics("hcp_node_sync", out) : rc;
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
    if (rc == HCP_OK) /* the CA that vouches for the gateway's directives */
        rc = repl_verifier_load(c->tls_ca, NULL, &sy->verifier);
    if (rc == HCP_OK && strcmp(repl_identity_cn(sy->id), c->county) != 0)
        node_log("warn", "sync.cert_county",
                 "cert=%s county=%s detail=\"the gateway will refuse "
                 "this certificate for this county\"",
                 repl_identity_cn(sy->id), c->county);
    return rc;
}

/* cn's req socket, contexts and dialer (TLS config, if any, made before).
 * On failure the socket, if opened, is closed. */
static int open_socket(node_sync *sy, sync_conn *cn)
{
    const node_config *c = &sy->n->cfg;
    int rv = nng_req0_open(&cn->sock);
    if (rv == 0)
        rv = nng_socket_set_ms(cn->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    /* after a gateway restart every county redials at once: spread the
     * first retry over 0.1–3 s so the TLS handshakes do not all collide */
    uint16_t r = 0;
    if (hcp_random(&r, sizeof(r)) != HCP_OK)
        r = 0;
    if (rv == 0)
        rv = nng_socket_set_ms(cn->sock, NNG_OPT_RECONNMINT, SYNC_BACKOFF_MIN + r % 2900);
    if (rv == 0)
        rv = nng_socket_set_ms(cn->sock, NNG_OPT_RECONNMAXT, SYNC_BACKOFF_MAX);
    if (rv == 0)
        rv = nng_socket_set_size(cn->sock, NNG_OPT_RECVMAXSZ, REPL_FRAME_MAX + 1024);
    if (rv == 0)
        rv = nng_pipe_notify(cn->sock, NNG_PIPE_EV_REM_POST, on_pipe, cn);
    if (rv == 0)
        rv = nng_dialer_create(&cn->dialer, cn->sock, c->gateway);
    if (rv == 0)
        (void)nng_dialer_set_bool(cn->dialer, NNG_OPT_TCP_KEEPALIVE, true); /* best effort */
    if (rv == 0 && sy->tls != NULL)
        rv = nng_dialer_set_ptr(cn->dialer, NNG_OPT_TLS_CONFIG, sy->tls);
    for (int i = 0; rv == 0 && i < SYNC_WINDOW; i++)
        rv = nng_ctx_open(&cn->slot[i].ctx, cn->sock);
    if (rv == 0)
        rv = nng_dialer_start(cn->dialer, NNG_FLAG_NONBLOCK);
    if (rv != 0 && nng_socket_id(cn->sock) > 0)
        (void)nng_close(cn->sock); /* nothing was sent on it: the open's error is what counts */
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
    if (nng_aio_alloc(&sy->sleep, on_sleep, sy) != 0)
        return HCP_ENOMEM;
    return conn_new(sy, &sy->conn);
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
    sy->persisted = sy->acked;
    sy->batch_bytes = REPL_BATCH_BYTES;
    hcp_buf_init(&sy->batch_buf, REPL_BATCH_BYTES + 2 * HCP_RECORD_MAX);
    sy->sleep_rearm = -1;
    sy->ack_at = nng_clock();
    atomic_store(&sy->head, n->store->chain.seq);
    sy->lat_last = n->store->chain.seq; /* what is there already is not timed */
    memcpy(sy->head_hash, n->store->chain.head, HCP_HASH_LEN);
    if (pthread_mutex_init(&sy->mu, NULL) != 0) {
        free(sy);
        return HCP_EIO;
    }
    n->sync = sy;
    node_writer_on_commit(n->writer, on_commit, sy);
    int rc = dial(sy);
    if (rc != HCP_OK)
        return rc;
    node_log("info", "sync.start", "gateway=%s node=%s acked=%llu", n->cfg.gateway,
             n->store->node_id, (unsigned long long)sy->acked);
    hcp_mutex_lock(&sy->mu);
    send_hello(sy);
    hcp_mutex_unlock(&sy->mu);
    return HCP_OK;
}

void node_sync_stop(node *n)
{
    node_sync *sy = n->sync;
    if (sy == NULL)
        return;
    node_writer_on_commit(n->writer, NULL, NULL); /* no call reaches sy after this */
    hcp_mutex_lock(&sy->mu);
    sy->stopping = true;
    persist_ack(sy, sy->acked, true); /* the writer drains after us */
    hcp_mutex_unlock(&sy->mu);
    if (sy->sleep != NULL)
        nng_aio_stop(sy->sleep); /* no new redial starts after this */
    if (sy->has_redialer && pthread_join(sy->redialer, NULL) != 0) /* a redial finishes */
        node_log("error", "sync.join_failed", "thread=redial");
    conn_close(sy, sy->conn);
    if (sy->abandoned)
        return; /* nng may still call into sy: it lives until the exit */
    nng_aio_free(sy->sleep);
    if (sy->tls != NULL)
        nng_tls_config_free(sy->tls);
    repl_identity_free(sy->id);
    repl_peer_free(sy->gwpeer);
    repl_verifier_free(sy->verifier);
    hcp_buf_free(&sy->batch_buf);
    (void)pthread_mutex_destroy(&sy->mu); /* every callback has ended: not busy */
    free(sy);
    n->sync = NULL;
}
