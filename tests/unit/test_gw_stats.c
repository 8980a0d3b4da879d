/*
 * test_gw_stats.c — the province's figures (gateway/stats.h): a period
 * split into day and month buckets (month and year edges, one day, open
 * bounds), the stored value and key forms, the missed and still-running
 * deadlines of a case, who owes a revisit, and the central promise: the
 * deltas of every transition of a case, summed, equal the contribution of
 * its final state (a dispute upheld or found mistaken, an unsatisfied
 * revisit sent back to rectification), so the counters never drift; and
 * in a real LMDB, the writer's batch sums (defer, flush, drop) leave the
 * same buckets as writing each delta at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gwstore.h"
#include "rules_fixture.h"
#include "stats.h"

/* Sum of the days the span covers, day by day: each day counted once. */
static void span_covers(hcp_day from, hcp_day to)
{
    gw_st_span sp;
    gw_stats_span(from, to, &sp);
    hcp_day n = 0;
    for (hcp_day d = sp.d1a; d <= sp.d1b; d++, n++)
        assert_true(d >= from && d <= to);
    for (int32_t m = sp.m1; m <= sp.m2; m++) {
        hcp_day a = gw_stats_month_start(m), b = gw_stats_month_start(m + 1) - 1;
        assert_true(a >= from && b <= to);
        n += b - a + 1;
    }
    for (hcp_day d = sp.d2a; d <= sp.d2b; d++, n++)
        assert_true(d >= from && d <= to);
    assert_int_equal(n, to - from + 1);
}

static void test_span(void **state)
{
    (void)state;
    span_covers(D("2025-12-31"), D("2026-01-01")); /* a year end */
    span_covers(D("2026-01-01"), D("2026-12-31")); /* whole months */
    span_covers(D("2026-03-05"), D("2026-03-05")); /* one day */
    span_covers(D("2026-03-01"), D("2026-03-15"));
    span_covers(D("2026-03-15"), D("2026-03-31"));
    span_covers(D("2026-02-10"), D("2026-05-20"));
    span_covers(D("2024-02-29"), D("2024-03-01")); /* a leap day */
    gw_st_span sp;
    gw_stats_span(D("2026-01-01"), D("2026-12-31"), &sp);
    assert_true(sp.d1a > sp.d1b && sp.d2a > sp.d2b);
    assert_int_equal(sp.m1, 2026 * 12);
    assert_int_equal(sp.m2, 2026 * 12 + 11);
    gw_stats_span(-1, -1, &sp); /* open: every month the figures know */
    assert_int_equal(sp.m1, 2000 * 12);
    assert_int_equal(sp.m2, 2199 * 12 + 11);
    assert_int_equal(gw_stats_month_of(D("2026-12-31")), 2026 * 12 + 11);
    assert_int_equal(gw_stats_year_of(D("2027-01-01")), 2027);
}

static void test_forms(void **state)
{
    (void)state;
    int64_t v[3] = {5, -2, 0}, sum[4] = {1, 1, 1, 1};
    uint8_t b[GW_ST_VAL_MAX];
    size_t n = gw_stats_val_pack(v, 3, b);
    assert_int_equal(n, 25);
    assert_int_equal(gw_stats_val_add(b, n, sum, 4), HCP_OK);
    assert_int_equal(sum[0], 6);
    assert_int_equal(sum[1], -1);
    assert_int_equal(sum[3], 1);                                       /* absent: adds nothing */
    assert_int_equal(gw_stats_val_add(b, n - 1, sum, 4), HCP_EFORMAT); /* cut */
    uint8_t k[GW_ST_KEY_MAX], kind, gran;
    int32_t p;
    const uint8_t *rest;
    size_t rl;
    size_t kl = gw_stats_key(k, GW_STK_COUNTY, GW_STG_MONTH, 2026 * 12 + 3, "630102", 6);
    assert_int_equal(kl, 12);
    assert_true(gw_stats_key_parse(k, kl, &kind, &gran, &p, &rest, &rl));
    assert_int_equal(kind, GW_STK_COUNTY);
    assert_int_equal(gran, GW_STG_MONTH);
    assert_int_equal(p, 2026 * 12 + 3);
    assert_int_equal(rl, 6);
    assert_memory_equal(rest, "630102", 6);
    assert_false(gw_stats_key_parse(k, 5, &kind, &gran, &p, &rest, &rl));
    /* later periods sort later: a range scan is a period range */
    uint8_t k2[GW_ST_KEY_MAX];
    (void)gw_stats_key(k2, GW_STK_COUNTY, GW_STG_MONTH, 2026 * 12 + 4, "630101", 6);
    assert_true(memcmp(k, k2, kl) < 0);
}

/* ---- a case walked through the rules, its counters summed as deltas ---- */

typedef struct walk {
    hcp_cal *cal;
    hcp_case c;
    hcp_case before;
    gw_st_list sum; /* the counters as the writer keeps them */
    gw_st_list a, b, d;
} walk;

/* Add delta d into sum (merging keys). */
static void sum_add(gw_st_list *sum, const gw_st_list *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const gw_st_item *x = &d->it[i];
        size_t j = 0;
        while (j < sum->n &&
               !(sum->it[j].klen == x->klen && memcmp(sum->it[j].key, x->key, x->klen) == 0))
            j++;
        if (j == sum->n) {
            assert_true(sum->n < GW_ST_LIST_MAX);
            sum->it[sum->n] = *x;
            memset(sum->it[sum->n].v, 0, sizeof(x->v));
            sum->n++;
        }
        if (x->n > sum->it[j].n)
            sum->it[j].n = x->n;
        for (size_t k = 0; k < x->n; k++)
            sum->it[j].v[k] += x->v[k];
    }
}

/* The summed counters equal f(current case): nonzero buckets alike. */
static void check_sum(walk *w)
{
    gw_stats_case_contrib(&w->c, &w->c.in, &w->a);
    gw_st_list empty = {0};
    gw_stats_delta(&empty, &w->sum, &w->b); /* drops the buckets that went to zero */
    gw_stats_delta(&w->a, &w->b, &w->d);
    assert_int_equal(w->d.n, 0);
}

/* Apply one event (must pass) and add its delta, as the writer does. */
static void step(walk *w, hcp_event *ev)
{
    hcp_case snap = w->c; /* the scalars; pointers shared, not freed */
    snap.in.kind = w->c.in.kind;
    gw_stats_case_contrib(&snap, &w->c.in, &w->a);
    bool open = ev->type == HCP_EV_CASE_OPEN;
    assert_int_equal(hcp_rules_apply(&w->c, ev, w->cal, ev->recorded_at, NULL), HCP_OK);
    if (open)
        w->a.n = 0;
    gw_stats_case_contrib(&w->c, &w->c.in, &w->b);
    gw_stats_delta(&w->a, &w->b, &w->d);
    sum_add(&w->sum, &w->d);
    hcp_event_clear(ev);
    check_sum(w);
}

static walk *walk_new(int kind, int rating, hcp_time at)
{
    walk *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    assert_int_equal(hcp_cal_default(&w->cal), HCP_OK);
    hcp_event ev;
    make_open(&ev, kind, rating, true, at);
    ev.in.staff.id = S("S-0042");
    ev.in.staff.name = S("窗口人员甲");
    step(w, &ev);
    return w;
}

static void walk_free(walk *w)
{
    hcp_case_clear(&w->c);
    hcp_cal_free(w->cal);
    free(w);
}

static void ev_at(walk *w, int type, const char *at)
{
    hcp_event ev;
    make_step(&ev, type, T(at));
    step(w, &ev);
}

/* The bucket of kind/gran in list l, or NULL. */
static const gw_st_item *bucket(const gw_st_list *l, uint8_t kind, uint8_t gran)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->it[i].key[0] == kind && l->it[i].key[1] == gran)
            return &l->it[i];
    return NULL;
}

static void test_substantiated_walk(void **state)
{
    (void)state;
    walk *w = walk_new(HCP_KIND_REVIEW, 1, T("2025-12-31T10:00:00+08:00"));
    assert_int_not_equal(gw_stats_open_due(&w->c), 0);
    ev_at(w, HCP_EV_VERIFY_START, "2026-01-02T10:00:00+08:00");
    ev_at(w, HCP_EV_NOTIFY_STAFF, "2026-01-02T11:00:00+08:00");
    ev_at(w, HCP_EV_VERIFY_CONCLUDE, "2026-01-03T10:00:00+08:00");
    gw_stats_case_contrib(&w->c, &w->c.in, &w->a);
    const gw_st_item *f = bucket(&w->a, GW_STK_STAFF, GW_STG_YEAR);
    assert_non_null(f);
    /* the year of receipt, not of the conclusion */
    assert_int_equal(
        (int32_t)((f->key[2] << 24) | (f->key[3] << 16) | (f->key[4] << 8) | f->key[5]), 2025);
    assert_int_equal(f->v[GW_SF_CASES], 1);
    ev_at(w, HCP_EV_DISPUTE_FILE, "2026-01-04T10:00:00+08:00");
    gw_stats_case_contrib(&w->c, &w->c.in, &w->a);
    f = bucket(&w->a, GW_STK_STAFF, GW_STG_YEAR);
    assert_int_equal(f->v[GW_SF_CASES], 0);
    assert_int_equal(f->v[GW_SF_PENDING], 1);
    const gw_st_item *u = bucket(&w->a, GW_STK_RATING, GW_STG_YEAR);
    assert_int_equal(u->v[GW_SU_RATINGS], 1);
    assert_int_equal(u->v[GW_SU_PENDING], 1);
    hcp_event ev;
    make_step(&ev, HCP_EV_DISPUTE_DECIDE, T("2026-01-05T10:00:00+08:00"));
    ev.verdict = HCP_VD_UPHELD;
    step(w, &ev);
    ev_at(w, HCP_EV_RECTIFY_ASSIGN, "2026-01-05T11:00:00+08:00");
    ev_at(w, HCP_EV_RECTIFY_DONE, "2026-01-05T12:00:00+08:00");
    ev_at(w, HCP_EV_FEEDBACK, "2026-01-05T13:00:00+08:00");
    assert_true(gw_stats_revisit_owed(&w->c));
    assert_int_equal(gw_stats_open_due(&w->c), 0);
    gw_st_sets sets;
    gw_stats_case_sets(&w->c, &w->c.in, &sets);
    assert_int_equal(sets.n, 2); /* the staff case, the revisit missing */
    make_step(&ev, HCP_EV_REVISIT, T("2026-01-06T10:00:00+08:00"));
    ev.satisfied = false; /* back to rectification */
    step(w, &ev);
    assert_int_equal(w->c.status, HCP_ST_RECTIFYING);
    ev_at(w, HCP_EV_RECTIFY_DONE, "2026-01-07T10:00:00+08:00");
    ev_at(w, HCP_EV_FEEDBACK, "2026-01-07T11:00:00+08:00");
    make_step(&ev, HCP_EV_REVISIT, T("2026-01-08T10:00:00+08:00"));
    ev.satisfied = true;
    step(w, &ev);
    ev_at(w, HCP_EV_CLOSE, "2026-01-08T11:00:00+08:00");
    gw_stats_case_contrib(&w->c, &w->c.in, &w->a);
    const gw_st_item *c = bucket(&w->a, GW_STK_COUNTY, GW_STG_DAY);
    assert_int_equal(c->v[GW_SC_CASES], 1);
    assert_int_equal(c->v[GW_SC_ON_TIME], 1);
    assert_int_equal(c->v[GW_SC_REVISITED], 1);
    assert_int_equal(c->v[GW_SC_SATISFIED], 1);
    assert_int_equal(c->v[GW_SC_STATUS + HCP_ST_CLOSED - 1], 1);
    gw_stats_case_sets(&w->c, &w->c.in, &sets);
    assert_int_equal(sets.n, 1); /* the staff case only */
    walk_free(w);
}

static void test_mistaken_walk(void **state)
{
    (void)state;
    walk *w = walk_new(HCP_KIND_REVIEW, 2, T("2026-03-02T10:00:00+08:00"));
    ev_at(w, HCP_EV_VERIFY_START, "2026-03-02T11:00:00+08:00");
    ev_at(w, HCP_EV_NOTIFY_STAFF, "2026-03-02T12:00:00+08:00");
    ev_at(w, HCP_EV_VERIFY_CONCLUDE, "2026-03-02T13:00:00+08:00");
    ev_at(w, HCP_EV_DISPUTE_FILE, "2026-03-03T10:00:00+08:00");
    hcp_event ev;
    make_step(&ev, HCP_EV_DISPUTE_DECIDE, T("2026-03-20T10:00:00+08:00")); /* late */
    ev.verdict = HCP_VD_MISTAKEN;
    step(w, &ev);
    gw_stats_case_contrib(&w->c, &w->c.in, &w->a);
    /* no staff, no hot spot, no negative: only the rating and the county row */
    assert_null(bucket(&w->a, GW_STK_STAFF, GW_STG_YEAR));
    assert_null(bucket(&w->a, GW_STK_ITEM, GW_STG_DAY));
    const gw_st_item *u = bucket(&w->a, GW_STK_RATING, GW_STG_YEAR);
    assert_int_equal(u->v[GW_SU_RATINGS], 1);
    assert_int_equal(u->v[GW_SU_NEGATIVE], 0);
    const gw_st_item *c = bucket(&w->a, GW_STK_COUNTY, GW_STG_MONTH);
    assert_int_equal(c->v[GW_SC_OUTCOME + HCP_OUT_MISTAKEN], 1);
    assert_int_equal(c->v[GW_SC_ON_TIME], 1); /* not adopted: owes nothing */
    assert_false(gw_stats_missed(&w->c));
    walk_free(w);
}

static void test_late_and_running(void **state)
{
    (void)state;
    walk *w = walk_new(HCP_KIND_COMPLAINT, 0, T("2026-03-02T10:00:00+08:00"));
    hcp_time due = gw_stats_open_due(&w->c);
    assert_int_equal(due, w->c.feedback_due.at);
    ev_at(w, HCP_EV_VERIFY_START, "2026-03-02T11:00:00+08:00");
    hcp_event ev;
    make_step(&ev, HCP_EV_VERIFY_CONCLUDE, T("2026-03-02T12:00:00+08:00"));
    ev.outcome = HCP_OUT_UNSUBSTANTIATED;
    step(w, &ev);
    make_step(&ev, HCP_EV_OVERDUE, T("2026-03-20T10:00:00+08:00"));
    ev.deadline = HCP_DL_FEEDBACK;
    step(w, &ev);
    assert_true(gw_stats_missed(&w->c));
    assert_int_equal(gw_stats_open_due(&w->c), 0); /* counted late already */
    gw_stats_case_contrib(&w->c, &w->c.in, &w->a);
    assert_int_equal(bucket(&w->a, GW_STK_COUNTY, GW_STG_DAY)->v[GW_SC_LATE_OPEN], 1);
    ev_at(w, HCP_EV_FEEDBACK, "2026-03-21T10:00:00+08:00");
    ev_at(w, HCP_EV_CLOSE, "2026-03-21T11:00:00+08:00");
    gw_stats_case_contrib(&w->c, &w->c.in, &w->a);
    const gw_st_item *c = bucket(&w->a, GW_STK_COUNTY, GW_STG_DAY);
    assert_int_equal(c->v[GW_SC_LATE_OPEN], 0);
    assert_int_equal(c->v[GW_SC_LATE_CLOSED], 1);
    assert_int_equal(c->v[GW_SC_REVISIT_OWED], 0); /* unsubstantiated */
    walk_free(w);
}

/* ---- in a store: deferred sums equal direct writes ---- */

typedef struct store_fx {
    char dir[64];
    gw_store s;
} store_fx;

static void store_open(store_fx *sf)
{
    memset(sf, 0, sizeof(*sf));
    snprintf(sf->dir, sizeof(sf->dir), "/tmp/test_gw_stats.XXXXXX");
    assert_non_null(mkdtemp(sf->dir));
    assert_int_equal(hcpd_env_open(&sf->s.db, sf->dir, 8u << 20, false, 16), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sf->s.db.env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "st_cnt", MDB_CREATE, &sf->s.st_cnt), 0);
    assert_int_equal(mdb_dbi_open(txn, "st_set", MDB_CREATE, &sf->s.st_set), 0);
    assert_int_equal(mdb_dbi_open(txn, "st_due", MDB_CREATE, &sf->s.st_due), 0);
    assert_int_equal(mdb_dbi_open(txn, "st_name", MDB_CREATE, &sf->s.st_name), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void store_close(store_fx *sf)
{
    gw_stats_free(&sf->s);
    hcpd_env_close(&sf->s.db);
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", sf->dir);
    (void)unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", sf->dir);
    (void)unlink(p);
    (void)rmdir(sf->dir);
}

/* n new cases of 2026-03-02 (ids from first) through gw_stats_case in txn. */
static void add_cases(store_fx *sf, MDB_txn *txn, const hcp_cal *cal, int first, int n)
{
    for (int i = first; i < first + n; i++) {
        hcp_event ev;
        make_open(&ev, HCP_KIND_REVIEW, 1, true, T("2026-03-02T10:00:00+08:00"));
        snprintf(ev.case_id, sizeof(ev.case_id), "630102-20260302-%04d", i);
        hcp_case before, after;
        memset(&before, 0, sizeof(before));
        memset(&after, 0, sizeof(after));
        assert_int_equal(hcp_rules_apply(&after, &ev, cal, ev.recorded_at, NULL), HCP_OK);
        assert_int_equal(gw_stats_case(&sf->s, txn, &before, &after), HCP_OK);
        hcp_case_clear(&after);
        hcp_event_clear(&ev);
    }
}

/* The cases counted in 630102's bucket of March 2026 (0 when none). */
static int64_t march(store_fx *sf)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sf->s.db.env, NULL, MDB_RDONLY, &txn), 0);
    uint8_t k[GW_ST_KEY_MAX];
    MDB_val key = {gw_stats_key(k, GW_STK_COUNTY, GW_STG_MONTH, 2026 * 12 + 2, "630102", 6), k}, v;
    int64_t c[GW_SC_N_] = {0};
    if (mdb_get(txn, sf->s.st_cnt, &key, &v) == MDB_SUCCESS)
        assert_int_equal(gw_stats_val_add(v.mv_data, v.mv_size, c, GW_SC_N_), HCP_OK);
    mdb_txn_abort(txn);
    return c[GW_SC_CASES];
}

static void test_store_batches(void **state)
{
    (void)state;
    hcp_cal *cal;
    assert_int_equal(hcp_cal_default(&cal), HCP_OK);
    store_fx sf;
    store_open(&sf);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sf.s.db.env, NULL, 0, &txn), 0);
    add_cases(&sf, txn, cal, 1, 3); /* written at once */
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_int_equal(march(&sf), 3);
    assert_int_equal(mdb_txn_begin(sf.s.db.env, NULL, 0, &txn), 0);
    gw_stats_defer(&sf.s);
    add_cases(&sf, txn, cal, 4, 5);
    assert_int_equal(gw_stats_flush(&sf.s, txn), HCP_OK);
    add_cases(&sf, txn, cal, 9, 1); /* after the flush: at once again */
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_int_equal(march(&sf), 9);
    assert_int_equal(mdb_txn_begin(sf.s.db.env, NULL, 0, &txn), 0);
    gw_stats_defer(&sf.s);
    add_cases(&sf, txn, cal, 10, 2);
    gw_stats_drop(&sf.s); /* the transaction is abandoned, its sums with it */
    mdb_txn_abort(txn);
    assert_int_equal(mdb_txn_begin(sf.s.db.env, NULL, 0, &txn), 0);
    assert_int_equal(gw_stats_flush(&sf.s, txn), HCP_OK); /* nothing left to write */
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_int_equal(march(&sf), 9);
    store_close(&sf);
    hcp_cal_free(cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_span),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_substantiated_walk),
        cmocka_unit_test(test_mistaken_walk),
        cmocka_unit_test(test_late_and_running),
        cmocka_unit_test(test_store_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
