/*
 * writer.c — the gateway's group commit (gwwriter.h), the province half of
 * docs/replication.md "Ordering, idempotence, window".
 *
 * Each batch is checked event by event against the county's chain: an
 * event at a known position must carry the hash the gateway has (else the
 * county forked), the next one must chain onto the head, decode, belong to
 * the proven county and (with its personal record) match its digest. The
 * case it touches is rebuilt with hcp_rules_apply; an event the rules
 * refuse is stored all the same (the log is the county's word) but counted
 * and logged, never trusted silently.
 *
 * A node keeps several batches in flight, and the gateway verifies their
 * signatures in parallel, so a county's batches may reach the writer out
 * of order. A batch that starts beyond the county's next position is
 * parked (at most GW_PARK_MAX, each for at most GW_PARK_MS) and tried
 * again with every later transaction, its county's batches sorted by
 * position; one still out of place after GW_PARK_MS is answered `gap`.
 *
 * The queue, the transaction, map growth and a full disk are the group
 * commit's (daemon/gc.h): this file supplies its hooks. A transaction that
 * cannot commit for want of room answers every batch in it `storage_full`
 * (never an ack), and the nodes send them again later.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gwcalendar.h"
#include "chain.h"
#include "checks.h"
#include "codec.h"
#include "gwstore.h"
#include "gwwriter.h"
#include "gc.h"
#include "metrics.h"
#include "park.h"
#include "plog.h"
#include "report.h"
#include "rules.h"
#include "stats.h"

/* ---- per-transaction county state ---- */

typedef struct tentative {
    gw_county c[GW_BATCH_ITEMS];
    size_t n;
} tentative;

/* Outcome of checking a batch against a county, for the reply. */
typedef struct verdict {
    const char *code; /* NULL: ack (or parked) */
    uint64_t expected;
    bool park; /* wait for the batches before it */
} verdict;

typedef struct outcome {
    verdict vd[GW_BATCH_ITEMS];
} outcome;

struct gw_writer {
    hcpd_gc *gc; /* the group commit (daemon/gc.h) */
    uv_timer_t park_timer;
    gw_park park; /* batches that overtook others (park.h); loop thread only */
    tentative t;  /* the attempt's county states */
    outcome o;    /* the attempt's verdicts, one per item */
};

_Static_assert(offsetof(gw_item, link) == 0, "gw_item converts from its hcpd_gc_item");

/* The item after it in a batch or in the parked list. */
static gw_item *item_next(const gw_item *it)
{
    return (gw_item *)it->link.next;
}

/* ---- work done before the writer (gw_item_prepare) ---- */

struct gw_pre {
    size_t n;
    hcp_event *ev; /* n decoded events (each cleared at free) */
    int *rc;       /* n: the decode's result per event */
    uint8_t *link; /* n: 1 when event i (>= 1) chains onto event i - 1's hash */
};

static _Atomic size_t pre_held; /* events held decoded in all items */

/* Decode one event of a batch as the writer checks it: the record, its
 * personal record if sent, and one announced but not sent is an error. */
static int decode_event(const repl_event *e, hcp_event *ev)
{
    int rc = hcp_event_decode(e->rec, e->rec_len, ev);
    if (rc == HCP_OK && e->pii != NULL)
        rc = hcp_event_decode_pii(e->pii, e->pii_len, ev);
    if (rc == HCP_OK && ev->has_pii && e->pii == NULL)
        rc = HCP_EFORMAT; /* personal data announced but not sent */
    return rc;
}

/* Release what gw_item_prepare made, and its share of GW_PRE_EVENTS. */
static void pre_free(gw_pre *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        hcp_event_clear(&p->ev[i]);
    atomic_fetch_sub(&pre_held, p->n);
    free(p->ev);
    free(p->rc);
    free(p->link);
    free(p);
}

void gw_item_prepare(gw_item *it)
{
    size_t n = it != NULL ? it->f.nevents : 0;
    if (n == 0 || it->pre != NULL)
        return;
    /* reserve first: receiving threads prepare at once */
    if (atomic_fetch_add(&pre_held, n) + n > GW_PRE_EVENTS) {
        atomic_fetch_sub(&pre_held, n);
        return;
    }
    gw_pre *p = calloc(1, sizeof(*p));
    if (p != NULL) {
        p->ev = calloc(n, sizeof(*p->ev));
        p->rc = calloc(n, sizeof(*p->rc));
        p->link = calloc(n, 1);
    }
    if (p == NULL || p->ev == NULL || p->rc == NULL || p->link == NULL) {
        if (p != NULL) {
            free(p->ev);
            free(p->rc);
            free(p->link);
            free(p);
        }
        atomic_fetch_sub(&pre_held, n);
        return;
    }
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        const repl_event *e = &it->f.events[i];
        p->rc[i] = decode_event(e, &p->ev[i]);
        uint8_t want[HCP_HASH_LEN];
        p->link[i] = i > 0 &&
                     hcp_chain_hash(it->f.events[i - 1].hash, it->f.seq + i, e->rec, e->rec_len,
                                    want) == HCP_OK &&
                     memcmp(want, e->hash, HCP_HASH_LEN) == 0;
    }
    it->pre = p;
}

void gw_item_free(gw_item *it)
{
    if (it == NULL)
        return;
    pre_free(it->pre);
    repl_frame_clear(&it->f);
    nng_msg_free(it->msg);
    free(it->cert);
    free(it);
}

/* The tentative state of county code in this transaction. */
static gw_county *tent_get(gw *g, tentative *t, const char *code)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->c[i].code, code) == 0)
            return &t->c[i];
    if (t->n == GW_BATCH_ITEMS)
        return NULL;
    gws_county_get(g->store, code, &t->c[t->n]);
    return &t->c[t->n++];
}

/* ---- applying one event ---- */

/* Rebuild the case an event touches. Refusals are flagged, not fatal. */
static int apply_case(gw *g, MDB_txn *txn, gw_county *cs, const hcp_event *ev)
{
    if (ev->case_id[0] == '\0' || ev->type == HCP_EV_EVALUATION)
        return HCP_OK;
    hcp_case c;
    int rc = HCP_OK;
    if (ev->type == HCP_EV_CASE_OPEN)
        memset(&c, 0, sizeof(c));
    else
        rc = gws_case_get(g->store, txn, ev->case_id, true, &c);
    if (rc == HCP_ENOTFOUND) {
        memset(&c, 0, sizeof(c));
        rc = HCP_OK; /* a step for a case never opened: the rules refuse it below */
    }
    hcp_time prev_at =
        c.status != HCP_ST_NONE ? hcp_case_updated_at(&c) : 0; /* its feed key's time */
    hcp_refusal why = {0};
    hcp_case before; /* scalars only: what the checks compare (checks.h) */
    gw_checks_snapshot(&before, &c);
    int rr = rc == HCP_OK ? hcp_rules_apply(&c, ev, g->cal, ev->recorded_at, &why) : rc;
    bool judged = rr == HCP_OK || rr == HCP_ERULE || rr == HCP_EINVAL;
    if (rc == HCP_OK && judged) /* the gateway's own judgement, in this transaction */
        rc = gw_checks_event(g->store, txn, g->cal, ev, &before, &c, rr, &why);
    if (rc != HCP_OK) { /* a store error: the transaction fails as a whole */
        hcp_case_clear(&c);
        return rc;
    }
    if (rr == HCP_ERULE || rr == HCP_EINVAL) {
        cs->rule_flags++;
        gw_log("warn", "repl.rule_refused", "county=%s seq=%llu case=%s type=%s rule=%s", cs->code,
               (unsigned long long)ev->seq, ev->case_id, hcp_ev_type_names[ev->type],
               why.rule ? why.rule : "invalid");
        rc = HCP_OK;
    } else if (rr == HCP_OK) {
        rc = gws_case_put(g->store, txn, &c);
        if (rc == HCP_OK) /* the public feed, in the same transaction */
            rc = gws_feed_update(g->store, txn, prev_at, &c, (hcp_time)time(NULL));
        if (rc == HCP_OK) /* the province's figures: f(after) - f(before) (stats.h) */
            rc = gw_stats_case(g->store, txn, &before, &c);
    } else
        rc = rr;
    if (rc == HCP_OK)
        rc = gws_case_event_add(g->store, txn, ev->case_id, cs->code, ev->seq);
    hcp_case_clear(&c);
    return rc;
}

/* Check and apply event i of batch it, the county's next (seq ==
 * applied + 1). The work gw_item_prepare did is used where it holds: the
 * decoded event, and the hash when the event's link inside the batch was
 * checked and the head is the hash of the event before it. */
static int apply_next(gw *g, MDB_txn *txn, gw_county *cs, const gw_item *it, size_t i, verdict *vd)
{
    const repl_event *e = &it->f.events[i];
    uint64_t seq = it->f.seq + i;
    const gw_pre *pre = it->pre != NULL && i < it->pre->n ? it->pre : NULL;
    bool linked = pre != NULL && i > 0 && pre->link[i] &&
                  memcmp(cs->head, it->f.events[i - 1].hash, HCP_HASH_LEN) == 0;
    int rc;
    if (!linked) {
        uint8_t want[HCP_HASH_LEN];
        rc = hcp_chain_hash(cs->head, seq, e->rec, e->rec_len, want);
        if (rc != HCP_OK || memcmp(want, e->hash, HCP_HASH_LEN) != 0) {
            vd->code = "malformed"; /* the chain does not hold: refuse, keep nothing */
            return HCP_OK;
        }
    }
    hcp_event local;
    const hcp_event *ev = &local;
    if (pre != NULL) {
        ev = &pre->ev[i];
        rc = pre->rc[i];
    } else
        rc = decode_event(e, &local);
    if (rc != HCP_OK) {
        if (pre == NULL)
            hcp_event_clear(&local);
        vd->code = "malformed";
        return HCP_OK;
    }
    if (strcmp(ev->county, cs->code) != 0 || ev->seq != seq) {
        gw_log("warn", "repl.unauthorized", "proven=%s event_county=%s seq=%llu", cs->code,
               ev->county, (unsigned long long)seq);
        if (pre == NULL)
            hcp_event_clear(&local);
        cs->state = GW_UNAUTHORIZED;
        vd->code = "county_mismatch";
        return HCP_OK;
    }
    rc = gws_log_put(g->store, txn, cs->code, seq, e->hash, e->rec, e->rec_len, e->pii, e->pii_len);
    if (rc == HCP_OK)
        rc = apply_case(g, txn, cs, ev);
    if (rc == HCP_OK && ev->type == HCP_EV_EVALUATION) /* a rating for Art. 11 (stats.h) */
        rc = gw_stats_evaluation(g->store, txn, ev);
    if (rc == HCP_OK && ev->type == HCP_EV_DIRECTIVE) /* the county's answer (plog.h) */
        rc = gw_plog_ack(g->store, txn, cs->code, ev);
    if (rc == HCP_OK && ev->type == HCP_EV_CONTACT) /* Art. 14's register (report.h) */
        rc = gw_report_contact(g->store, txn, cs->code, ev);
    if (pre == NULL)
        hcp_event_clear(&local);
    if (rc == HCP_OK) {
        cs->applied = seq;
        memcpy(cs->head, e->hash, HCP_HASH_LEN);
    }
    return rc;
}

/* An event at a position the gateway has: the same hash, or a fork. */
static int check_known(gw *g, MDB_txn *txn, gw_county *cs, uint64_t seq, const repl_event *e,
                       verdict *vd)
{
    uint8_t have[HCP_HASH_LEN];
    int rc = gws_log_hash(g->store, txn, cs->code, seq, have);
    if (rc != HCP_OK)
        return rc;
    if (memcmp(have, e->hash, HCP_HASH_LEN) != 0) {
        gw_log("error", "repl.fork",
               "county=%s seq=%llu detail=\"a known position with a "
               "different hash: the county's history was rewritten\"",
               cs->code, (unsigned long long)seq);
        cs->state = GW_FORKED;
        vd->code = "forked";
    }
    return HCP_OK;
}

/* Apply one batch to its county's tentative state. Store errors abort the
 * whole transaction; protocol refusals only set vd. */
static int apply_batch(gw *g, MDB_txn *txn, tentative *t, gw_item *it, verdict *vd)
{
    gw_county *cs = tent_get(g, t, it->county);
    if (cs == NULL)
        return HCP_ERANGE;
    if (it->fork_mark) {
        cs->state = GW_FORKED;
        return gws_county_put(g->store, txn, cs);
    }
    if (cs->state == GW_FORKED) {
        vd->code = "forked";
        return HCP_OK;
    }
    uint64_t first = it->f.seq, before = cs->applied;
    gw_writer *wr = g->writer;
    switch (gw_park_decide(&wr->park, it, cs->applied, uv_now(g->loop), hcpd_gc_stopping(wr->gc))) {
    case GW_PARK_WAIT:
        vd->park = true;
        return HCP_OK;
    case GW_PARK_GAP:
        vd->code = "gap";
        vd->expected = cs->applied + 1;
        return HCP_OK;
    case GW_PARK_APPLY:
        break;
    }
    int rc = HCP_OK;
    for (size_t i = 0; i < it->f.nevents && rc == HCP_OK && vd->code == NULL; i++) {
        uint64_t seq = first + i;
        if (seq <= cs->applied)
            rc = check_known(g, txn, cs, seq, &it->f.events[i], vd);
        else
            rc = apply_next(g, txn, cs, it, i, vd);
    }
    uint64_t last = first + it->f.nevents - 1;
    if (last > cs->reported)
        cs->reported = last;
    if (rc == HCP_OK && cs->state == GW_NEVER_SEEN)
        cs->state = GW_OK;
    if (rc == HCP_OK && cs->applied > before && it->cert != NULL)
        rc = gws_proof_put(g->store, txn, cs->code, cs->applied, it->f.sig, it->f.sig_len, it->cert,
                           it->cert_len);
    if (rc == HCP_OK)
        rc = gws_county_put(g->store, txn, cs);
    return rc;
}

/* The answer to a batch: ack at the county's applied position, or error. */
static int encode_reply(const gw_county *cs, const verdict *vd, hcp_buf *out)
{
    repl_frame r;
    memset(&r, 0, sizeof(r));
    if (vd->code != NULL) {
        r.type = REPL_ERROR;
        snprintf(r.code, sizeof(r.code), "%s", vd->code);
        r.seq = vd->expected;
    } else {
        r.type = REPL_ACK;
        r.seq = cs->applied;
        r.has_hash = cs->applied > 0;
        memcpy(r.hash, cs->head, HCP_HASH_LEN);
    }
    return repl_encode(&r, out);
}

/* ---- the batch of batches: hooks of the group commit (daemon/gc.h) ---- */

/* A new attempt: forget what the last one decided. */
static int gc_begin(void *arg, MDB_txn *txn)
{
    (void)txn;
    gw *g = arg;
    g->writer->t.n = 0;
    gw_park_round(&g->writer->park);
    memset(&g->writer->o, 0, sizeof(g->writer->o));
    g->store->feed_dirty = false;
    gw_stats_drop(g->store); /* a redone attempt starts its figures' deltas afresh */
    gws_feed_drop(g->store); /* and the feed's counts' (gwstore.h) */
    return gw_calendar_sync(g->calendar, txn); /* a version another process published */
}

static int gc_item(void *arg, MDB_txn *txn, hcpd_gc_item *item, size_t i)
{
    gw *g = arg;
    if (i >= GW_BATCH_ITEMS)
        return HCP_ERANGE;
    /* the figures' deltas of the batch are summed, each bucket written once (stats.h) */
    gw_stats_defer(g->store);
    gws_feed_defer(g->store);
    int rc = apply_batch(g, txn, &g->writer->t, (gw_item *)item, &g->writer->o.vd[i]);
    if (rc == HCP_OK)
        rc = gws_feed_flush(g->store, txn);
    if (rc == HCP_OK)
        return gw_stats_flush(g->store, txn);
    gw_stats_drop(g->store);
    gws_feed_drop(g->store);
    return rc;
}

/* The reply to one item of a batch that failed as a whole: nothing of it
 * was committed, so never an ack; the node backs off and sends it again. */
static verdict failed_verdict(int rc)
{
    verdict v = {"overloaded", 0, false};
    if (rc == HCP_ENOSPC || rc == HCP_EFULL)
        v.code = "storage_full";
    return v;
}

static void on_park_tick(uv_timer_t *t);

/* Answer each batch (or park it again), after the commit or the failure. */
static void gc_answer(void *arg, hcpd_gc_item *first, int rc)
{
    gw *g = arg;
    gw_writer *wr = g->writer;
    tentative *t = &wr->t;
    if (rc == HCP_OK) {
        for (size_t i = 0; i < t->n; i++)
            (void)gws_county_publish(g->store, &t->c[i]); /* no slot: logged by the store */
        if (g->store->feed_dirty) /* committed: the feed shows it from now */
            gws_feed_changed(g->store, (hcp_time)time(NULL));
    }
    verdict failed = failed_verdict(rc), busy = {"overloaded", 0, false};
    size_t i = 0;
    for (gw_item *it = (gw_item *)first, *next; it != NULL; it = next, i++) {
        next = item_next(it);
        if (rc == HCP_OK && wr->o.vd[i].park) { /* no answer yet: it waits */
            gw_park_keep(&wr->park, it, uv_now(g->loop));
            continue;
        }
        hcp_buf reply;
        hcp_buf_init(&reply, REPL_FRAME_MAX);
        gw_county *cs = rc == HCP_OK ? tent_get(g, t, it->county) : NULL;
        verdict v = rc != HCP_OK ? failed : cs != NULL ? wr->o.vd[i] : busy;
        int erc = encode_reply(cs, &v, &reply);
        if (erc != HCP_OK)
            hcp_buf_reset(&reply);
        if (it->done != NULL) {
            gw_metrics_batch(v.code); /* metrics.h */
            it->done(it->arg, it, &reply);
        }
        hcp_buf_free(&reply);
        gw_item_free(it);
    }
    if (gw_park_pending(&wr->park) && !uv_is_active((uv_handle_t *)&wr->park_timer) &&
        !hcpd_gc_stopping(wr->gc))
        if (uv_timer_start(&wr->park_timer, on_park_tick, GW_PARK_TICK, 0) != 0)
            gw_log("warn", "repl.park_timer_failed",
                   "detail=\"parked batches wait for the next batch to be retried\"");
}

/* The new batch with the parked ones, each county's in order (park.h). */
static hcpd_gc_item *gc_merge(void *arg, hcpd_gc_item *first)
{
    gw *g = arg;
    return gw_park_merge(&g->writer->park, first);
}

/* Stopping, or queued after the stop: refused, the node sends it again. */
static void gc_refuse(void *arg, hcpd_gc_item *item)
{
    (void)arg;
    gw_item *it = (gw_item *)item;
    hcp_buf reply;
    hcp_buf_init(&reply, 256);
    repl_frame r = {.type = REPL_ERROR};
    snprintf(r.code, sizeof(r.code), "overloaded");
    if (repl_encode(&r, &reply) != HCP_OK)
        hcp_buf_reset(&reply);
    if (it->done != NULL) {
        gw_metrics_batch(r.code); /* metrics.h */
        it->done(it->arg, it, &reply);
    }
    hcp_buf_free(&reply);
    gw_item_free(it);
}

/* Parked batches wait: try them again (those past GW_PARK_MS get `gap`). */
static void on_park_tick(uv_timer_t *t)
{
    gw *g = t->data;
    hcpd_gc_run(g->writer->gc);
}

void gw_writer_submit(gw *g, gw_item *it)
{
    hcpd_gc_submit(g->writer->gc, &it->link);
}

uint64_t gw_writer_busy_ns(gw *g)
{
    if (g == NULL || g->writer == NULL || g->writer->gc == NULL)
        return 0;
    hcpd_gc_stats st;
    hcpd_gc_get_stats(g->writer->gc, &st);
    return st.busy_ns;
}

int gw_writer_exec(gw *g, int (*fn)(void *arg, MDB_txn *txn), void *arg)
{
    if (g == NULL || g->writer == NULL || g->writer->gc == NULL)
        return HCP_EINVAL;
    return hcpd_gc_exec(g->writer->gc, fn, arg);
}

int gw_writer_start(gw *g)
{
    gw_writer *wr = calloc(1, sizeof(*wr));
    if (wr == NULL)
        return HCP_ENOMEM;
    wr->park_timer.data = g;
    g->writer = wr;
    if (uv_timer_init(g->loop, &wr->park_timer) != 0)
        return HCP_EIO;
    hcpd_gc_cfg cfg = {.loop = g->loop,
                       .env = &g->store->db,
                       .dir = g->cfg.data,
                       .max_items = GW_BATCH_ITEMS - GW_PARK_MAX,
                       .map_max = (size_t)g->cfg.map_max_mib << 20,
                       .ops = {.merge = gc_merge,
                               .begin = gc_begin,
                               .item = gc_item,
                               .answer = gc_answer,
                               .refuse = gc_refuse},
                       .arg = g};
    return hcpd_gc_start(&cfg, &wr->gc);
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void gw_writer_stop(gw *g)
{
    gw_writer *wr = g->writer;
    if (wr == NULL)
        return;
    (void)uv_timer_stop(&wr->park_timer); /* always 0 (libuv) */
    hcpd_gc_stop(wr->gc);                 /* stopping: nothing parks again */
    uv_close((uv_handle_t *)&wr->park_timer, on_closed);
}

void gw_writer_free(gw *g)
{
    if (g->writer == NULL)
        return;
    hcpd_gc_free(g->writer->gc);
    free(g->writer);
    g->writer = NULL;
}
