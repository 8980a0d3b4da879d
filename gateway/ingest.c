/*
 * ingest.c — the gateway's replication listener (docs/replication.md).
 *
 * One nng rep socket; GW_WORKERS contexts, each a small state machine on its
 * own aio: receive, handle, send, receive again. Hello, auth and ping are
 * answered at once; a batch is verified here (its signature, on nng's
 * thread, in parallel) and handed to the writer, which sends the answer on
 * the same context after the commit. Every rejection is logged with a
 * stable id (repl.*) and a reason.
 *
 * A connection is known by its nng pipe. Sessions (pipe → nonce, proven
 * county, verified certificate) live in a table under `mu`, begin when
 * the pipe comes up and end when it goes away.
 *
 * Before auth a peer has proven nothing, so nothing it says is stored: a
 * hello only leaves a nonce and its words (county, head) in the session;
 * the county's state is touched only after auth verified the certificate
 * and the signature, and only for the county the certificate names. A
 * pipe that has not authenticated within auth_ms (10 s; HCP_REPL_AUTH_MS
 * for tests) is closed by a sweep, and at most pending_max pipes may be
 * unauthenticated at once (HCP_REPL_PENDING_MAX, default 256): beyond
 * that the newest is closed as it comes up, so idle or silent peers cannot
 * take the descriptors authenticated counties and the HTTP port need.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock.h"
#include "codec.h"
#include "division.h"
#include "gwstore.h"
#include "gwwriter.h"
#include "metrics.h"
#include "plog.h"
#include "reaper.h"
#include "repl.h"

#define GW_WORKERS      32
#define GW_SESSIONS     8192 /* open addressing; more than the 2,900 counties */
#define GW_FILE_MAX     (1u << 20)
#define GW_AUTH_MS      10000 /* unauthenticated connections last at most 10 s (docs/replication.md) */
#define GW_PENDING_MAX  256 /* unauthenticated pipes at once */
#define GW_SWEEP_MIN_MS 50

typedef struct session {
    uint32_t pipe;    /* 0: free */
    nng_time since;   /* when the pipe came up (nng_clock) */
    hcpd_peer remote; /* its remote address (the reaper leaves pipes alone) */
    bool authed;      /* auth verified (or the link is insecure and hello came) */
    bool has_nonce;
    uint8_t nonce[REPL_NONCE_LEN];
    char county[HCP_COUNTY_LEN + 1];       /* "" until proven */
    struct shared_peer *peer;              /* the verified certificate */
    char hello_county[HCP_COUNTY_LEN + 1]; /* the county the hello claimed (unproven) */
    uint64_t hello_seq;                    /* the node's head, as its hello told (unproven) */
    bool hello_has_hash;
    uint8_t hello_hash[HCP_HASH_LEN];
    bool zstd; /* both sides offered compression (the hello's "zstd") */
} session;

typedef struct worker {
    gw *g;
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
} worker;

struct gw_ingest {
    nng_socket sock;
    nng_listener listener;
    nng_tls_config *tls;
    repl_verifier *verifier; /* NULL when insecure */
    repl_identity *id;       /* the gateway's key: signs directives (NULL when insecure) */
    pthread_mutex_t id_mu;   /* one signer at a time (repl.h) */
    bool insecure;
    char gw_id[REPL_ID_MAX + 1];
    pthread_mutex_t mu;
    session sessions[GW_SESSIONS];
    size_t pending;         /* sessions not authenticated (mu) */
    uint64_t closed_idle;   /* pipes closed for not authenticating in time (mu) */
    uint64_t closed_excess; /* pipes closed over pending_max (mu) */
    nng_duration auth_ms;   /* HCP_REPL_AUTH_MS */
    size_t pending_max;     /* HCP_REPL_PENDING_MAX */
    nng_aio *sweep;         /* the periodic sweep of late pipes */
    hcpd_reaper *reaper;    /* connections that never became a pipe */
    worker workers[GW_WORKERS];
};

static hcp_time now_sec(void)
{
    return (hcp_time)time(NULL);
}

/* ---- sessions ---- */

/* A verified certificate shared between a session and the batches being
 * verified with it: signatures are checked outside the session lock (they
 * take milliseconds), and a session may end meanwhile. */
typedef struct shared_peer {
    repl_peer *p;
    atomic_int refs;
} shared_peer;

static shared_peer *sp_new(repl_peer *p)
{
    shared_peer *sp = calloc(1, sizeof(*sp));
    if (sp != NULL) {
        sp->p = p;
        atomic_init(&sp->refs, 1);
    }
    return sp;
}

static shared_peer *sp_hold(shared_peer *sp)
{
    if (sp != NULL)
        atomic_fetch_add(&sp->refs, 1);
    return sp;
}

static void sp_release(shared_peer *sp)
{
    if (sp != NULL && atomic_fetch_sub(&sp->refs, 1) == 1) {
        repl_peer_free(sp->p);
        free(sp);
    }
}

/* The session of pipe id p (created when create), or NULL. mu held. */
static session *sess_find(gw_ingest *in, uint32_t p, bool create)
{
    size_t i = p % GW_SESSIONS;
    for (size_t k = 0; k < GW_SESSIONS; k++, i = (i + 1) % GW_SESSIONS) {
        session *s = &in->sessions[i];
        if (s->pipe == p)
            return s;
        if (s->pipe == 0) {
            if (!create)
                return NULL;
            memset(s, 0, sizeof(*s));
            s->pipe = p;
            return s;
        }
    }
    return NULL;
}

/* Remove pipe p's session, keeping the probe chains of the others intact. */
static void sess_drop(gw_ingest *in, uint32_t p)
{
    hcp_mutex_lock(&in->mu);
    session *s = sess_find(in, p, false);
    if (s != NULL) {
        if (!s->authed && s->since != 0 && in->pending > 0) /* counted at ADD_POST */
            in->pending--;
        sp_release(s->peer);
        memset(s, 0, sizeof(*s));
        size_t i = (size_t)(s - in->sessions);
        for (size_t j = (i + 1) % GW_SESSIONS; in->sessions[j].pipe != 0;
             j = (j + 1) % GW_SESSIONS) {
            session moved = in->sessions[j];
            memset(&in->sessions[j], 0, sizeof(session));
            *sess_find(in, moved.pipe, true) = moved;
        }
    }
    hcp_mutex_unlock(&in->mu);
}

/* Mark pipe p's session authenticated (it no longer counts as pending).
 * mu held. */
static void sess_authed(gw_ingest *in, session *s)
{
    if (!s->authed && s->since != 0 && in->pending > 0) /* counted at ADD_POST */
        in->pending--;
    s->authed = true;
}

/* The remote address of pipe p; false when nng does not know it. */
static bool peer_of(nng_pipe p, hcpd_peer *out)
{
    nng_sockaddr sa;
    if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
        return false;
    memset(out, 0, sizeof(*out));
    if (sa.s_family == NNG_AF_INET) {
        out->family = AF_INET;
        out->port = ntohs(sa.s_in.sa_port);
        memcpy(out->addr, &sa.s_in.sa_addr, 4);
        return true;
    }
    if (sa.s_family == NNG_AF_INET6) {
        out->family = AF_INET6;
        out->port = ntohs(sa.s_in6.sa_port);
        memcpy(out->addr, sa.s_in6.sa_addr, 16);
        return true;
    }
    return false;
}

/* The reaper's view of the live pipes: their remote addresses. */
static size_t pipe_peers(void *arg, hcpd_peer *out, size_t cap)
{
    gw_ingest *in = arg;
    size_t n = 0;
    hcp_mutex_lock(&in->mu);
    for (size_t i = 0; i < GW_SESSIONS && n < cap; i++)
        if (in->sessions[i].pipe != 0)
            out[n++] = in->sessions[i].remote;
    hcp_mutex_unlock(&in->mu);
    return n;
}

/* A new pipe gets its session (and its clock) at once; one over the cap
 * of unauthenticated pipes, or with no session slot left, is closed: the
 * newest goes, those already waiting keep their chance. */
static void pipe_added(gw_ingest *in, nng_pipe p)
{
    uint32_t id = (uint32_t)nng_pipe_id(p);
    bool refuse = false;
    size_t pending;
    hcpd_peer peer;
    if (!peer_of(p, &peer))
        memset(&peer, 0, sizeof(peer));
    hcp_mutex_lock(&in->mu);
    session *s = in->pending >= in->pending_max ? NULL : sess_find(in, id, true);
    if (s != NULL && s->since == 0) {
        s->since = nng_clock();
        s->remote = peer;
        if (!s->authed) /* a hello may have come first (insecure links) */
            in->pending++;
    } else if (s == NULL) {
        refuse = true;
        in->closed_excess++;
    }
    pending = in->pending;
    uint64_t excess = in->closed_excess;
    hcp_mutex_unlock(&in->mu);
    if (refuse) {
        if (excess == 1 || excess % 100 == 0)
            gw_log("warn", "repl.pending_full",
                   "pending=%zu max=%zu closed=%llu detail=\"too many connections not yet "
                   "authenticated: the newest is closed\"",
                   pending, in->pending_max, (unsigned long long)excess);
        (void)nng_pipe_close(p); /* NNG_ENOENT: it went away by itself, as wanted */
    }
}

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    if (ev == NNG_PIPE_EV_ADD_POST)
        pipe_added(arg, p);
    else if (ev == NNG_PIPE_EV_REM_POST)
        sess_drop(arg, (uint32_t)nng_pipe_id(p));
}

/* Close every pipe that came up more than auth_ms ago and has not
 * authenticated (docs/replication.md "Limits before auth": 10 s). Runs on
 * nng's timer, re-arming itself. */
#define SWEEP_BATCH 256
static void on_sweep(void *arg)
{
    gw_ingest *in = arg;
    if (nng_aio_result(in->sweep) != 0)
        return; /* stopped */
    uint32_t late[SWEEP_BATCH];
    size_t n = 0;
    nng_time now = nng_clock();
    hcp_mutex_lock(&in->mu);
    for (size_t i = 0; i < GW_SESSIONS && n < SWEEP_BATCH; i++) {
        session *s = &in->sessions[i];
        if (s->pipe != 0 && !s->authed && s->since != 0 && now - s->since >= (nng_time)in->auth_ms)
            late[n++] = s->pipe;
    }
    in->closed_idle += n;
    uint64_t total = in->closed_idle;
    hcp_mutex_unlock(&in->mu);
    for (size_t i = 0; i < n; i++) {
        nng_pipe p = NNG_PIPE_INITIALIZER;
        /* nng 1.5.2 has no lookup by id; a pipe's handle is its id */
        p.id = late[i];
        (void)nng_pipe_close(p); /* NNG_ENOENT: it went away by itself, as wanted */
    }
    if (n > 0)
        gw_log("info", "repl.auth_timeout",
               "closed=%zu total=%llu limit_ms=%d detail=\"connections that did not "
               "authenticate in time\"",
               n, (unsigned long long)total, (int)in->auth_ms);
    nng_duration every = in->auth_ms / 4 > GW_SWEEP_MIN_MS ? in->auth_ms / 4 : GW_SWEEP_MIN_MS;
    nng_sleep_aio(every, in->sweep);
}

/* ---- replies ---- */

/* Send reply bytes on worker w (any thread). */
static void send_reply(worker *w, const hcp_buf *reply)
{
    nng_msg *m;
    if (reply->len == 0 || nng_msg_alloc(&m, 0) != 0 ||
        nng_msg_append(m, reply->data, reply->len) != 0) {
        /* nothing sensible to send: drop the request, the node times out */
        w->sending = false;
        nng_ctx_recv(w->ctx, w->aio);
        return;
    }
    w->sending = true;
    nng_aio_set_msg(w->aio, m);
    nng_ctx_send(w->ctx, w->aio);
}

static void reply_frame(worker *w, const repl_frame *r)
{
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    if (repl_encode(r, &b) != HCP_OK)
        hcp_buf_reset(&b);
    send_reply(w, &b);
    hcp_buf_free(&b);
}

static void reply_error(worker *w, const char *code, uint64_t seq)
{
    gw_metrics_refusal(code); /* metrics.h */
    repl_frame r;
    memset(&r, 0, sizeof(r));
    r.type = REPL_ERROR;
    snprintf(r.code, sizeof(r.code), "%s", code);
    r.seq = seq;
    reply_frame(w, &r);
}

/* Directives (docs/directives.md): the province log entries waiting for
 * county after the position the request stated, signed with the
 * gateway's key, into r (bytes in buf, signatures in sigs); none when the
 * request stated no position (an older node). Nothing on a failure: the
 * node asks again. */
static void attach_dirs(gw_ingest *in, gw *g, const char *county, const repl_frame *req,
                        repl_frame *r, hcp_buf *buf, repl_dir *dirs, uint8_t (*sigs)[REPL_SIG_MAX])
{
    if (req == NULL || !req->has_dseq)
        return;
    MDB_txn *txn;
    size_t n = 0;
    bool more = false;
    int rc = gws_read_begin(g->store, &txn);
    if (rc == HCP_OK) {
        rc = gw_plog_pending(g->store, txn, county, req->dseq, buf, dirs, &n, &more);
        gws_read_end(g->store, txn);
    }
    for (size_t i = 0; rc == HCP_OK && i < n; i++) {
        repl_dir_entry e;
        rc = repl_dir_decode(dirs[i].rec, dirs[i].rec_len, &e);
        size_t len = 1;
        sigs[i][0] = 0; /* insecure: an unsigned marker, as for batches */
        if (rc == HCP_OK && in->id != NULL) {
            len = REPL_SIG_MAX;
            hcp_mutex_lock(&in->id_mu);
            rc = repl_sign_directive(in->id, e.seq, dirs[i].hash, dirs[i].rec, dirs[i].rec_len,
                                     sigs[i], &len);
            hcp_mutex_unlock(&in->id_mu);
        }
        dirs[i].sig = sigs[i];
        dirs[i].sig_len = len;
        if (rc == HCP_OK && i + 1 == n)
            gw_plog_delivered(g->store, county, req->dseq, e.seq);
    }
    if (rc != HCP_OK) {
        gw_log("warn", "plog.deliver_failed", "county=%s after=%llu err=\"%s\"", county,
               (unsigned long long)req->dseq, hcp_strerror(rc));
        return;
    }
    if (n == 0)
        gw_plog_delivered(g->store, county, req->dseq, 0);
    r->dirs = n > 0 ? dirs : NULL;
    r->ndirs = n;
    r->dmore = more;
}

/* welcome/pong: the county's applied position, and the directives waiting
 * for it after the position req (the hello, auth or ping) stated. */
static void reply_position(worker *w, uint8_t type, const char *county, const repl_frame *req)
{
    gw_county c;
    gws_county_get(w->g->store, county, &c);
    static const char *const states[] = {"never_seen", "ok", "forked", "unauthorized"};
    repl_frame r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.seq = c.applied;
    r.has_hash = type == REPL_WELCOME && c.applied > 0;
    memcpy(r.hash, c.head, HCP_HASH_LEN);
    if (type == REPL_WELCOME)
        snprintf(r.state, sizeof(r.state), "%s", states[c.state < 4 ? c.state : 0]);
    gw_ingest *in = w->g->ingest;
    if (type == REPL_WELCOME && in->id != NULL) /* the node checks directives with it */
        r.gcert = repl_identity_cert(in->id, &r.gcert_len);
    /* an insecure link's welcome answers the hello: compression accepted here */
    if (type == REPL_WELCOME && req != NULL && req->type == REPL_HELLO && req->zstd >= 1 &&
        repl_zstd_level() > 0)
        r.zstd = REPL_ZSTD_VERSION;
    hcp_buf buf;
    hcp_buf_init(&buf, REPL_FRAME_MAX / 2);
    repl_dir dirs[REPL_DIRS_MAX];
    uint8_t sigs[REPL_DIRS_MAX][REPL_SIG_MAX];
    attach_dirs(in, w->g, county, req, &r, &buf, dirs, sigs);
    reply_frame(w, &r);
    hcp_buf_free(&buf);
}

/* ---- handlers ---- */

/* Whether the node's head (seq, hash) contradicts the county's log here:
 * the same position with another hash is a rewritten history. */
static bool head_forks(gw *g, const char *county, uint64_t seq, bool has_hash,
                       const uint8_t hash[HCP_HASH_LEN])
{
    gw_county c;
    gws_county_get(g->store, county, &c);
    if (seq == 0 || seq > c.applied || !has_hash)
        return false;
    uint8_t have[HCP_HASH_LEN];
    MDB_txn *txn;
    if (gws_read_begin(g->store, &txn) != HCP_OK)
        return false;
    int rc = gws_log_hash(g->store, txn, county, seq, have);
    gws_read_end(g->store, txn);
    return rc == HCP_OK && memcmp(have, hash, HCP_HASH_LEN) != 0;
}

/* Record a fork seen at hello (through the writer: it persists). */
static void mark_forked(gw *g, const char *county, uint64_t seq)
{
    gw_log("error", "repl.fork",
           "county=%s seq=%llu detail=\"the node's head differs from the "
           "county's log at the same position: its history was rewritten\"",
           county, (unsigned long long)seq);
    gw_item *it = calloc(1, sizeof(*it));
    if (it == NULL)
        return;
    it->fork_mark = true;
    memcpy(it->county, county, sizeof(it->county));
    gw_writer_submit(g, it);
}

/* Take a proven county's first word into the counties table: a known
 * division only, and only when a slot is free (a full table is logged by
 * the store). The reason to answer, or NULL. */
static const char *county_admit(gw *g, const char *county, uint64_t head)
{
    if (hcp_division_find(county) == NULL)
        return "not_a_county";
    if (!gws_county_seen(g->store, county, head, now_sec())) {
        gw_log("error", "repl.counties_full",
               "county=%s detail=\"no slot in the counties table: the county is refused\"", county);
        return "overloaded";
    }
    return NULL;
}

/* hello: a nonce for the pipe. The county and head it claims are only
 * remembered in the session, unproven; nothing is stored (an insecure
 * link, tcp:// for tests and demos, takes the hello's word as proof). */
static void on_hello(worker *w, uint32_t pipe, const repl_frame *f)
{
    gw_ingest *in = w->g->ingest;
    if (f->vmin > REPL_VERSION || f->v < REPL_VERSION_MIN) {
        gw_log("warn", "repl.version", "county=%s v=%u vmin=%u", f->county, f->v, f->vmin);
        reply_error(w, "version", 0);
        return;
    }
    if (in->insecure) {
        gw_county c;
        gws_county_get(w->g->store, f->county, &c);
        const char *why = c.state == GW_FORKED ? "forked" : NULL;
        if (why == NULL && head_forks(w->g, f->county, f->seq, f->has_hash, f->hash)) {
            mark_forked(w->g, f->county, f->seq);
            why = "forked";
        }
        if (why == NULL)
            why = county_admit(w->g, f->county, f->seq);
        if (why != NULL) {
            reply_error(w, why, 0);
            return;
        }
    }
    hcp_mutex_lock(&in->mu);
    session *s = sess_find(in, pipe, true);
    bool ok = s != NULL && hcp_random(s->nonce, sizeof(s->nonce)) == HCP_OK;
    if (ok) {
        s->has_nonce = true;
        memcpy(s->hello_county, f->county, sizeof(s->hello_county));
        s->hello_seq = f->seq;
        s->hello_has_hash = f->has_hash;
        memcpy(s->hello_hash, f->hash, HCP_HASH_LEN);
        s->zstd = f->zstd >= 1 && repl_zstd_level() > 0; /* an older node sends no key */
        if (in->insecure) { /* tcp:// (tests, demo): the hello's word is taken */
            memcpy(s->county, f->county, sizeof(s->county));
            sess_authed(in, s);
        }
    }
    repl_frame r;
    memset(&r, 0, sizeof(r));
    r.type = REPL_CHALLENGE;
    r.v = REPL_VERSION;
    if (ok)
        memcpy(r.nonce, s->nonce, sizeof(r.nonce));
    r.zstd = ok && s->zstd ? REPL_ZSTD_VERSION : 0; /* accepted: the node may compress */
    memcpy(r.gw, in->gw_id, sizeof(r.gw));
    hcp_mutex_unlock(&in->mu);
    if (!ok) {
        reply_error(w, "overloaded", 0);
        return;
    }
    if (in->insecure) {
        reply_position(w, REPL_WELCOME, f->county, f);
        return;
    }
    reply_frame(w, &r);
}

/* Check an auth frame against the pipe's hello and nonce, the CA and the
 * CRL: NULL when it proves f->county (nonce receives the nonce it signed,
 * *peer the verified certificate, owned by the caller), else the reason
 * to answer (*peer is then a certificate to free, or NULL). */
static const char *auth_verify(gw_ingest *in, uint32_t pipe, const repl_frame *f,
                               uint8_t nonce[REPL_NONCE_LEN], repl_peer **peer)
{
    char hello_county[HCP_COUNTY_LEN + 1] = "";
    *peer = NULL;
    hcp_mutex_lock(&in->mu);
    session *s = sess_find(in, pipe, false);
    bool has = s != NULL && s->has_nonce;
    if (has) {
        memcpy(nonce, s->nonce, REPL_NONCE_LEN);
        memcpy(hello_county, s->hello_county, sizeof(hello_county));
    }
    hcp_mutex_unlock(&in->mu);
    if (!has)
        return "unauthenticated";
    if (strcmp(hello_county, f->county) != 0)
        return "county_mismatch"; /* the hello's head was told for another county */
    if (repl_verifier_reload(in->verifier) != HCP_OK)
        gw_log("warn", "repl.crl_reload_failed", "detail=\"keeping the previous CRL\"");
    const char *why = NULL;
    if (repl_peer_new(in->verifier, f->cert, f->cert_len, peer, &why) != 0) {
        *peer = NULL;
        return why != NULL ? why : "bad_cert";
    }
    if (strcmp(repl_peer_county(*peer), f->county) != 0)
        return "county_mismatch";
    if (repl_peer_verify_auth(*peer, nonce, f->county, f->node, f->sig, f->sig_len) != 0)
        return "bad_signature";
    return NULL;
}

/* Take the hello's word (its head) out of the session if the nonce is
 * still the one signed: false when the pipe went away or another hello
 * came meanwhile. One auth per nonce. */
static bool auth_take_hello(gw_ingest *in, uint32_t pipe, const uint8_t nonce[REPL_NONCE_LEN],
                            uint64_t *hseq, bool *hhas, uint8_t hhash[HCP_HASH_LEN])
{
    bool bound = false;
    hcp_mutex_lock(&in->mu);
    session *s = sess_find(in, pipe, false);
    if (s != NULL && s->has_nonce && memcmp(s->nonce, nonce, REPL_NONCE_LEN) == 0) {
        s->has_nonce = false;
        *hseq = s->hello_seq;
        *hhas = s->hello_has_hash;
        memcpy(hhash, s->hello_hash, HCP_HASH_LEN);
        bound = true;
    }
    hcp_mutex_unlock(&in->mu);
    return bound;
}

/* The county is proven (peer, owned here on): record what its hello
 * told, refuse a forked or unknown county, else bind the session to it
 * and welcome it. */
static void auth_bind(worker *w, uint32_t pipe, const repl_frame *f,
                      const uint8_t nonce[REPL_NONCE_LEN], repl_peer *peer)
{
    gw_ingest *in = w->g->ingest;
    uint64_t hseq = 0;
    bool hhas = false;
    uint8_t hhash[HCP_HASH_LEN] = {0};
    if (!auth_take_hello(in, pipe, nonce, &hseq, &hhas, hhash)) {
        repl_peer_free(peer);
        reply_error(w, "unauthenticated", 0);
        return;
    }
    gw_county c;
    gws_county_get(w->g->store, f->county, &c);
    const char *refuse = c.state == GW_FORKED ? "forked" : NULL;
    if (refuse == NULL && head_forks(w->g, f->county, hseq, hhas, hhash)) {
        mark_forked(w->g, f->county, hseq);
        refuse = "forked";
    }
    if (refuse == NULL)
        refuse = county_admit(w->g, f->county, hseq);
    shared_peer *sp = refuse == NULL ? sp_new(peer) : NULL;
    if (refuse == NULL && sp == NULL)
        refuse = "overloaded";
    if (refuse != NULL) {
        if (sp == NULL)
            repl_peer_free(peer);
        sp_release(sp);
        reply_error(w, refuse, 0);
        return;
    }
    bool zstd = false;
    hcp_mutex_lock(&in->mu);
    session *s = sess_find(in, pipe, false);
    if (s != NULL) {
        sp_release(s->peer);
        s->peer = sp;
        sp = NULL;
        memcpy(s->county, f->county, sizeof(s->county));
        sess_authed(in, s);
        zstd = s->zstd;
    }
    hcp_mutex_unlock(&in->mu);
    sp_release(sp);
    gw_log("info", "repl.auth", "county=%s node=%s zstd=%s", f->county, f->node,
           zstd ? "on" : "off");
    reply_position(w, REPL_WELCOME, f->county, f);
}

/* Verify an auth frame; on success bind the pipe's session to the county
 * the certificate proves, and only then record anything about it: the
 * head its hello told, when it was seen, a fork that head reveals. */
static void on_auth(worker *w, uint32_t pipe, const repl_frame *f)
{
    uint8_t nonce[REPL_NONCE_LEN];
    repl_peer *peer = NULL;
    const char *reason = auth_verify(w->g->ingest, pipe, f, nonce, &peer);
    if (reason != NULL) {
        gw_log("warn", "repl.auth_refused", "county=%s cert=%s reason=%s", f->county,
               peer ? repl_peer_county(peer) : "-", reason);
        repl_peer_free(peer);
        reply_error(w, reason, 0);
        return;
    }
    auth_bind(w, pipe, f, nonce, peer); /* proven: f->county is the certificate's county */
}

static void batch_done(void *arg, gw_item *it, const hcp_buf *reply)
{
    (void)it;
    send_reply(arg, reply);
}

/* Check a batch's session and signature, then queue it to the writer.
 * Takes ownership of msg (the frame borrows from it). */
static void on_batch(worker *w, uint32_t pipe, nng_msg *msg, repl_frame *f)
{
    gw_ingest *in = w->g->ingest;
    gw_item *it = calloc(1, sizeof(*it));
    const char *reason = NULL;
    shared_peer *sp = NULL;
    hcp_mutex_lock(&in->mu);
    session *s = sess_find(in, pipe, false);
    if (it == NULL)
        reason = "overloaded";
    else if (s == NULL || s->county[0] == '\0')
        reason = "unauthenticated";
    else if (strcmp(s->county, f->county) != 0)
        reason = "county_mismatch";
    else {
        memcpy(it->county, s->county, sizeof(it->county));
        sp = sp_hold(s->peer);
    }
    hcp_mutex_unlock(&in->mu);
    /* the signature, outside the lock: batches of many counties verify at once;
     * a certificate revoked while its session lives stops here (the CRL file
     * is re-read when it changed: a stat per batch) */
    const repl_event *last = &f->events[f->nevents - 1];
    if (reason == NULL && sp != NULL && repl_verifier_reload(in->verifier) != HCP_OK)
        gw_log("warn", "repl.crl_reload_failed", "detail=\"keeping the previous CRL\"");
    if (reason == NULL && sp != NULL && repl_peer_revoked(in->verifier, sp->p))
        reason = "revoked";
    else if (reason == NULL && sp != NULL &&
             repl_peer_verify_batch(sp->p, f->county, f->seq + f->nevents - 1, last->hash, f->sig,
                                    f->sig_len) != HCP_OK)
        reason = "bad_signature";
    if (reason == NULL && sp != NULL) {
        size_t len = 0;
        const uint8_t *der = repl_peer_cert(sp->p, &len);
        it->cert = malloc(len);
        if (it->cert != NULL) {
            memcpy(it->cert, der, len);
            it->cert_len = len;
        }
    }
    sp_release(sp);
    if (reason != NULL) {
        gw_log("warn", "repl.batch_refused", "county=%s first=%llu reason=%s", f->county,
               (unsigned long long)f->seq, reason);
        if (it != NULL)
            free(it->cert);
        free(it);
        repl_frame_clear(f);
        nng_msg_free(msg);
        reply_error(w, reason, 0);
        return;
    }
    gws_county_seen(w->g->store, it->county, f->seq + f->nevents - 1, now_sec());
    if (f->has_dseq) /* the node's directive position (docs/directives.md) */
        gw_plog_delivered(w->g->store, it->county, f->dseq, 0);
    it->msg = msg;
    it->f = *f; /* the frame now belongs to the item */
    memset(f, 0, sizeof(*f));
    it->done = batch_done;
    it->arg = w;
    /* decode and chain-check here, in parallel on nng's threads: the
     * writer's one thread then only applies (gwwriter.h) */
    gw_item_prepare(it);
    gw_writer_submit(w->g, it);
}

/* A page of a county's own log, back to its node (restore), personal
 * records unsealed: they cross only inside TLS. */
static void on_fetch(worker *w, const char *county, bool zstd, const repl_frame *f)
{
    /* on the heap, per fetch: a _Thread_local array would be a resident,
     * zeroed copy in every thread of the process, nng's included */
    repl_event *evs = calloc(REPL_BATCH_EVENTS, sizeof(*evs));
    size_t(*offs)[3] = calloc(REPL_BATCH_EVENTS, sizeof(*offs));
    if (evs == NULL || offs == NULL) {
        free(evs);
        free(offs);
        gw_log("warn", "repl.fetch_failed", "county=%s err=\"%s\"", county,
               hcp_strerror(HCP_ENOMEM));
        reply_error(w, "malformed", 0);
        return;
    }
    gw_county c;
    gws_county_get(w->g->store, county, &c);
    hcp_buf buf;
    hcp_buf_init(&buf, REPL_BATCH_BYTES + 2 * HCP_RECORD_MAX);
    size_t n = 0, max = f->max > 0 && f->max < REPL_BATCH_EVENTS ? f->max : REPL_BATCH_EVENTS;
    MDB_txn *txn;
    int rc = f->seq >= 1 ? gws_read_begin(w->g->store, &txn) : HCP_EINVAL;
    if (rc == HCP_OK) {
        for (uint64_t seq = f->seq; seq <= c.applied && n < max && rc == HCP_OK; seq++) {
            if (buf.len >= REPL_BATCH_BYTES)
                break;
            offs[n][0] = buf.len;
            hcp_buf pii;
            hcp_buf_init(&pii, HCP_RECORD_MAX);
            rc = gws_log_get(w->g->store, txn, county, seq, false, evs[n].hash, &buf, &pii, NULL);
            offs[n][1] = buf.len;
            if (rc == HCP_OK)
                rc = hcp_buf_append(&buf, pii.data, pii.len);
            offs[n][2] = buf.len;
            hcp_buf_free(&pii);
            n += rc == HCP_OK;
        }
        gws_read_end(w->g->store, txn);
    }
    if (rc != HCP_OK) {
        hcp_buf_free(&buf);
        gw_log("warn", "repl.fetch_failed", "county=%s from=%llu err=\"%s\"", county,
               (unsigned long long)f->seq, hcp_strerror(rc));
        reply_error(w, "malformed", 0);
        free(evs);
        free(offs);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        evs[i].rec = buf.data + offs[i][0];
        evs[i].rec_len = offs[i][1] - offs[i][0];
        evs[i].pii_len = offs[i][2] - offs[i][1];
        evs[i].pii = evs[i].pii_len ? buf.data + offs[i][1] : NULL;
    }
    repl_frame r;
    memset(&r, 0, sizeof(r));
    r.type = REPL_EVENTS;
    r.seq = c.applied;
    r.events = evs;
    r.nevents = n;
    r.zlevel = zstd ? repl_zstd_level() : 0; /* only to a node that offered it */
    gw_log("info", "repl.fetch", "county=%s from=%llu events=%zu", county,
           (unsigned long long)f->seq, n);
    reply_frame(w, &r);
    hcp_buf_free(&buf);
    free(evs);
    free(offs);
}

/* The county a pipe proved ("" when none), and whether both sides offered
 * compression. */
static void session_county(gw_ingest *in, uint32_t pipe, char county[HCP_COUNTY_LEN + 1],
                           bool *zstd)
{
    county[0] = '\0';
    *zstd = false;
    hcp_mutex_lock(&in->mu);
    session *s = sess_find(in, pipe, false);
    if (s != NULL) {
        memcpy(county, s->county, HCP_COUNTY_LEN + 1);
        *zstd = s->zstd;
    }
    hcp_mutex_unlock(&in->mu);
}

/* ---- the worker state machine ---- */

static void handle(worker *w, nng_msg *msg)
{
    uint32_t pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(msg));
    repl_frame f;
    int rc = repl_decode(nng_msg_body(msg), nng_msg_len(msg), &f);
    if (rc != HCP_OK) {
        gw_log("warn", "repl.malformed", "pipe=%u err=\"%s\"", pipe, hcp_strerror(rc));
        repl_frame_clear(&f);
        nng_msg_free(msg);
        reply_error(w, "malformed", 0);
        return;
    }
    if (f.type == REPL_BATCH) {
        on_batch(w, pipe, msg, &f);
        return;
    }
    if (f.type == REPL_HELLO)
        on_hello(w, pipe, &f);
    else if (f.type == REPL_AUTH && !w->g->ingest->insecure)
        on_auth(w, pipe, &f);
    else if (f.type == REPL_PING || f.type == REPL_FETCH) {
        char county[HCP_COUNTY_LEN + 1];
        bool zstd;
        session_county(w->g->ingest, pipe, county, &zstd);
        if (county[0] == '\0')
            reply_error(w, "unauthenticated", 0);
        else if (f.type == REPL_PING) {
            /* a heartbeat of a proven county: it is alive (last_seen, /metrics) */
            (void)gws_county_seen(w->g->store, county, 0, now_sec()); /* it has its slot */
            reply_position(w, REPL_PONG, county, &f);
        } else
            on_fetch(w, county, zstd, &f);
    } else
        reply_error(w, "malformed", 0);
    repl_frame_clear(&f);
    nng_msg_free(msg);
}

static void on_io(void *arg)
{
    worker *w = arg;
    int rv = nng_aio_result(w->aio);
    if (w->sending) {
        w->sending = false;
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(w->aio));
    } else if (rv == 0) {
        handle(w, nng_aio_get_msg(w->aio));
        return; /* handle() sends (or the writer will) */
    }
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    nng_ctx_recv(w->ctx, w->aio);
}

/* ---- start / stop ---- */

/* TLS for the listener: our certificate, the CA and its CRL, client
 * certificates required. Complete before the listener starts. */
static int tls_setup(gw *g, gw_ingest *in)
{
    const gw_config *c = &g->cfg;
    char *ca = hcpd_read_text(c->tls_ca, GW_FILE_MAX);
    char *crl = c->tls_crl[0] ? hcpd_read_text(c->tls_crl, GW_FILE_MAX) : NULL;
    int rv = ca == NULL || (c->tls_crl[0] && crl == NULL) ? NNG_ENOENT : 0;
    /* the handshake's own limits, and the CRL file followed by the
     * listener's TLS: a revocation counts from the next handshake */
    if (rv == 0 && repl_tls_server_setup(c->tls_crl, (int)in->auth_ms) != HCP_OK)
        rv = NNG_EINVAL;
    if (rv == 0)
        rv = nng_tls_config_alloc(&in->tls, NNG_TLS_MODE_SERVER);
    if (rv == 0) {
        /* the certificate and the key are separate PEM files */
        char *cert = hcpd_read_text(c->tls_cert, GW_FILE_MAX),
             *key = hcpd_read_text(c->tls_key, GW_FILE_MAX);
        rv = cert && key ? nng_tls_config_own_cert(in->tls, cert, key, NULL) : NNG_ENOENT;
        free(cert);
        free(key);
    }
    if (rv == 0)
        rv = nng_tls_config_ca_chain(in->tls, ca, crl);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(in->tls, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv == 0)
        rv = nng_listener_set_ptr(in->listener, NNG_OPT_TLS_CONFIG, in->tls);
    free(ca);
    free(crl);
    if (rv != 0) {
        gw_log("error", "repl.tls_failed", "reason=\"%s\"", nng_strerror(rv));
        return HCP_ECRYPTO;
    }
    int hrc = repl_verifier_load(c->tls_ca, c->tls_crl[0] ? c->tls_crl : NULL, &in->verifier);
    if (hrc != HCP_OK)
        gw_log("error", "repl.ca_failed", "reason=\"%s\"", hcp_strerror(hrc));
    /* the key that signs the province log's entries (docs/directives.md) */
    if (hrc == HCP_OK && (hrc = repl_identity_load(c->tls_cert, c->tls_key, &in->id)) != HCP_OK)
        gw_log("error", "repl.identity_failed", "reason=\"%s\"", hcp_strerror(hrc));
    return hrc;
}

static int listen_up(gw *g, gw_ingest *in)
{
    int rv = nng_rep0_open(&in->sock);
    if (rv == 0)
        rv = nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, REPL_FRAME_MAX + 1024);
    if (rv == 0)
        rv = nng_pipe_notify(in->sock, NNG_PIPE_EV_ADD_POST, on_pipe, in);
    if (rv == 0)
        rv = nng_pipe_notify(in->sock, NNG_PIPE_EV_REM_POST, on_pipe, in);
    if (rv == 0)
        rv = nng_listener_create(&in->listener, in->sock, g->cfg.listen);
    if (rv != 0) {
        gw_log("error", "repl.listen_failed", "url=%s reason=\"%s\"", g->cfg.listen,
               nng_strerror(rv));
        return HCP_EIO;
    }
    if (!in->insecure && tls_setup(g, in) != HCP_OK)
        return HCP_ECRYPTO;
    for (int i = 0; i < GW_WORKERS; i++) {
        worker *w = &in->workers[i];
        w->g = g;
        if (nng_ctx_open(&w->ctx, in->sock) != 0 || nng_aio_alloc(&w->aio, on_io, w) != 0)
            return HCP_ENOMEM;
    }
    if ((rv = nng_listener_start(in->listener, 0)) != 0) {
        gw_log("error", "repl.listen_failed", "url=%s reason=\"%s\"", g->cfg.listen,
               nng_strerror(rv));
        return HCP_EIO;
    }
    for (int i = 0; i < GW_WORKERS; i++)
        nng_ctx_recv(in->workers[i].ctx, in->workers[i].aio);
    if (nng_aio_alloc(&in->sweep, on_sweep, in) != 0)
        return HCP_ENOMEM;
    nng_sleep_aio(GW_SWEEP_MIN_MS, in->sweep);
    int port = 0;
    if (nng_listener_get_int(in->listener, NNG_OPT_TCP_BOUND_PORT, &port) == 0 && port > 0 &&
        port <= 65535) {
        int rrc = hcpd_reaper_start((uint16_t)port, (int)in->auth_ms, in->pending_max, pipe_peers,
                                    in, "repl", &in->reaper);
        if (rrc != HCP_OK)
            gw_log("warn", "repl.reaper_failed", "reason=\"%s\"", hcp_strerror(rrc));
    } else {
        gw_log("warn", "repl.reaper_failed", "reason=\"the listener's port is unknown\"");
    }
    gw_log("info", "repl.listen", "url=%s mode=%s auth_ms=%d pending_max=%zu", g->cfg.listen,
           in->insecure ? "insecure" : "mutual-tls", (int)in->auth_ms, in->pending_max);
    return HCP_OK;
}

/* A positive integer from the environment (tests shorten the limits),
 * else def; out-of-range values keep def. */
static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = getenv(name);
    char *end = NULL;
    long l = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || end == v || *end != '\0' || l < lo || l > hi) {
        if (v != NULL)
            gw_log("warn", "config.env_ignored", "name=%s value_len=%zu min=%ld max=%ld", name,
                   strlen(v), lo, hi);
        return def;
    }
    return l;
}

int gw_ingest_start(gw *g)
{
    gw_ingest *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return HCP_ENOMEM;
    if (pthread_mutex_init(&in->mu, NULL) != 0) {
        free(in);
        return HCP_ENOMEM;
    }
    if (pthread_mutex_init(&in->id_mu, NULL) != 0) {
        (void)pthread_mutex_destroy(&in->mu); /* never locked */
        free(in);
        return HCP_ENOMEM;
    }
    in->auth_ms = (nng_duration)env_long("HCP_REPL_AUTH_MS", GW_AUTH_MS, 100, 3600000);
    in->pending_max = (size_t)env_long("HCP_REPL_PENDING_MAX", GW_PENDING_MAX, 1, GW_SESSIONS / 2);
    in->insecure = strncmp(g->cfg.listen, "tcp://", 6) == 0;
    uint8_t id[8];
    if (hcp_random(id, sizeof(id)) == HCP_OK)
        snprintf(in->gw_id, sizeof(in->gw_id), "gw-%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
    g->ingest = in;
    return listen_up(g, in);
}

int gw_ingest_port(gw *g)
{
    int port = 0;
    if (g == NULL || g->ingest == NULL ||
        nng_listener_get_int(g->ingest->listener, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
        return 0;
    return port;
}

/* /metrics: the replication connections against their caps, counted
 * under the session lock (a scan of the session table). */
gw_ingest_conns gw_ingest_conn_stats(gw *g)
{
    gw_ingest_conns s;
    memset(&s, 0, sizeof(s));
    gw_ingest *in = g != NULL ? g->ingest : NULL;
    if (in == NULL)
        return s;
    hcp_mutex_lock(&in->mu);
    for (size_t i = 0; i < GW_SESSIONS; i++)
        s.open += in->sessions[i].pipe != 0;
    s.pending = in->pending;
    s.closed_idle = in->closed_idle;
    s.closed_excess = in->closed_excess;
    s.pending_max = in->pending_max;
    hcp_mutex_unlock(&in->mu);
    s.max = GW_SESSIONS;
    return s;
}

void gw_ingest_stop(gw *g)
{
    gw_ingest *in = g->ingest;
    if (in == NULL)
        return;
    hcpd_reaper_stop(in->reaper); /* before the close: it reads the sessions */
    in->reaper = NULL;
    if (in->sweep != NULL)
        nng_aio_stop(in->sweep); /* waits for a sweep running now; no more after */
    /* the close first: it ends every context, so each worker's aio
     * completes (ECLOSED) and the worker stops; then the aios are freed */
    if (!hcpd_nng_close_bounded(in->sock, 3)) {
        gw_log("error", "repl.close_stuck",
               "detail=\"nng did not close the replication socket within 3 s; going on\"");
        g->ingest = NULL; /* nng may still use it: leave it to the exit */
        return;
    }
    for (int i = 0; i < GW_WORKERS; i++)
        if (in->workers[i].aio != NULL)
            nng_aio_stop(in->workers[i].aio);
    for (int i = 0; i < GW_WORKERS; i++)
        nng_aio_free(in->workers[i].aio);
    nng_aio_free(in->sweep);
    if (in->tls != NULL)
        nng_tls_config_free(in->tls);
    for (size_t i = 0; i < GW_SESSIONS; i++)
        sp_release(in->sessions[i].peer);
    repl_verifier_free(in->verifier);
    repl_identity_free(in->id);
    (void)pthread_mutex_destroy(&in->id_mu); /* no worker is left to hold it */
    (void)pthread_mutex_destroy(&in->mu);    /* no worker is left to hold it */
    free(in);
    g->ingest = NULL;
}
