/*
 * test_gw_checks.c — the gateway's checks (gateway/checks.h): the
 * backdated classification at its working-day boundary, overdue marks the
 * county's log does not show (once per deadline, not when marked, not
 * within the sweep's grace), deadlines that disagree (a refusal only another
 * deadline explains), self-decided disputes (filer, staff member), gaps in a
 * day's case numbers, the stored form of a case's checks, and the whole
 * path against a real LMDB: a synthetic log with a gap in its case numbers
 * gives the county's and the day's tallies and the case's finding.
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

#include "checks.h"
#include "gwstore.h"
#include "rules_fixture.h"

#define COUNTY "630102"

typedef struct fx {
    hcp_cal *cal;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(hcp_cal_default(&f->cal), HCP_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    hcp_cal_free(f->cal);
    free(f);
    return 0;
}

/* An open case received at `at` (2026-11-20 is a Friday), applied by the rules. */
static void open_case(const hcp_cal *cal, hcp_case *c, hcp_time at)
{
    hcp_event ev;
    make_open(&ev, HCP_KIND_COMPLAINT, 0, true, at);
    ev.in.staff.id = S("S-0042");
    ev.in.staff.name = S("窗口人员甲");
    memset(c, 0, sizeof(*c));
    assert_int_equal(hcp_rules_apply(c, &ev, cal, at, NULL), HCP_OK);
    hcp_event_clear(&ev);
}

static size_t count(const gw_case_checks *cc, int code)
{
    size_t n = 0;
    for (size_t i = 0; i < cc->n; i++)
        n += cc->f[i].code == code;
    return n;
}

/* ---- backdated ---- */

static void test_backdated_boundary(void **state)
{
    fx *f = *state;
    hcp_event ev;
    make_step(&ev, HCP_EV_VERIFY_START, T("2026-11-20T10:00:00+08:00"));
    /* 3 working days after Friday 11-20: Mon 23, Tue 24, Wed 25 */
    ev.recorded_at = T("2026-11-25T23:59:59+08:00");
    assert_false(checks_step_backdated(&ev, f->cal, 3));
    ev.recorded_at = T("2026-11-26T00:00:00+08:00");
    assert_true(checks_step_backdated(&ev, f->cal, 3));
    assert_false(checks_step_backdated(&ev, f->cal, 0));
    assert_false(checks_step_backdated(&ev, f->cal, 5)); /* Fri 27 ends later */
    assert_false(checks_step_backdated(&ev, NULL, 3));
    ev.type = HCP_EV_OVERDUE; /* the sweep's observation, not a step */
    assert_false(checks_step_backdated(&ev, f->cal, 3));
    ev.type = HCP_EV_CASE_OPEN; /* a paper case entered late starts its own deadline */
    assert_false(checks_step_backdated(&ev, f->cal, 3));
    hcp_event_clear(&ev);
}

/* ---- the case judgements ---- */

/* Apply ev to c (the rules at ev's recorded_at) and judge it into cc/found. */
static int judge(const hcp_cal *cal, hcp_case *c, hcp_event *ev, gw_case_checks *cc,
                 uint64_t found[GW_FIND_COUNT_])
{
    hcp_case before;
    gw_checks_snapshot(&before, c);
    hcp_refusal why = {0};
    int rr = hcp_rules_apply(c, ev, cal, ev->recorded_at, &why);
    gw_checks_case_event(cc, ev, &before, c, rr, &why, cal, found);
    return rr;
}

/* The finding 1: received Fri 11-20 (due 11-27), steps dated 11-21 …
 * 11-26 recorded 12-03; marked overdue first or not. */
static void late_steps(const hcp_cal *cal, bool marked, gw_case_checks *cc,
                       uint64_t found[GW_FIND_COUNT_])
{
    hcp_case c;
    open_case(cal, &c, T("2026-11-20T09:00:00+08:00"));
    hcp_time rec = T("2026-12-03T10:00:00+08:00");
    hcp_event ev;
    if (marked) {
        make_step(&ev, HCP_EV_OVERDUE, T("2026-11-28T00:01:00+08:00"));
        ev.deadline = HCP_DL_FEEDBACK;
        assert_int_equal(judge(cal, &c, &ev, cc, found), HCP_OK);
        hcp_event_clear(&ev);
    }
    static const int types[] = {HCP_EV_VERIFY_START,   HCP_EV_NOTIFY_STAFF, HCP_EV_VERIFY_CONCLUDE,
                                HCP_EV_RECTIFY_ASSIGN, HCP_EV_RECTIFY_DONE, HCP_EV_FEEDBACK};
    for (int i = 0; i < 6; i++) {
        char at[32];
        snprintf(at, sizeof(at), "2026-11-%02dT10:00:00+08:00", 21 + i);
        make_step(&ev, types[i], T(at));
        ev.recorded_at = rec + i;
        ev.seq = (uint64_t)(2 + i);
        assert_int_equal(judge(cal, &c, &ev, cc, found), HCP_OK);
        hcp_event_clear(&ev);
    }
    hcp_case_clear(&c);
}

static void test_backdated_and_marked(void **state)
{
    fx *f = *state;
    gw_case_checks cc;
    uint64_t found[GW_FIND_COUNT_] = {0};
    memset(&cc, 0, sizeof(cc));
    late_steps(f->cal, true, &cc, found);
    assert_int_equal(found[GW_FIND_BACKDATED], 6);
    assert_int_equal(found[GW_FIND_OVERDUE_UNMARKED], 0);
    assert_int_equal(count(&cc, GW_FIND_BACKDATED), 6);
    assert_non_null(strstr(cc.f[0].detail, "verify_start is dated 2026-11-21"));
    assert_int_equal(cc.f[0].seq, 2);
}

static void test_overdue_unmarked_once(void **state)
{
    fx *f = *state;
    gw_case_checks cc;
    uint64_t found[GW_FIND_COUNT_] = {0};
    memset(&cc, 0, sizeof(cc));
    late_steps(f->cal, false, &cc, found);
    assert_int_equal(found[GW_FIND_BACKDATED], 6);
    assert_int_equal(found[GW_FIND_OVERDUE_UNMARKED], 1); /* once, at the first late step */
    assert_true(cc.flagged & (1u << HCP_DL_FEEDBACK));
    assert_int_equal(cc.f[1].code, GW_FIND_OVERDUE_UNMARKED);
    assert_non_null(strstr(cc.f[1].detail, "feedback deadline 2026-11-27T23:59:59+08:00"));
}

static void test_overdue_grace(void **state)
{
    fx *f = *state;
    hcp_case c;
    open_case(f->cal, &c, T("2026-11-20T09:00:00+08:00"));
    gw_case_checks cc;
    uint64_t found[GW_FIND_COUNT_] = {0};
    memset(&cc, 0, sizeof(cc));
    hcp_event ev; /* recorded just after the deadline, before a sweep could mark it */
    make_step(&ev, HCP_EV_VERIFY_START, T("2026-11-27T23:30:00+08:00"));
    ev.recorded_at = T("2026-11-28T00:00:30+08:00");
    assert_int_equal(judge(f->cal, &c, &ev, &cc, found), HCP_OK);
    assert_int_equal(found[GW_FIND_OVERDUE_UNMARKED], 0);
    hcp_event_clear(&ev);
    hcp_case_clear(&c);
}

static void test_deadline_mismatch(void **state)
{
    fx *f = *state;
    hcp_case c;
    open_case(f->cal, &c, T("2026-11-20T09:00:00+08:00"));
    gw_case_checks cc;
    uint64_t found[GW_FIND_COUNT_] = {0};
    memset(&cc, 0, sizeof(cc));
    hcp_event ev; /* the county's sweep marked it overdue before the gateway's deadline */
    make_step(&ev, HCP_EV_OVERDUE, T("2026-11-26T00:01:00+08:00"));
    ev.deadline = HCP_DL_FEEDBACK;
    assert_int_equal(judge(f->cal, &c, &ev, &cc, found), HCP_ERULE);
    assert_int_equal(found[GW_FIND_DEADLINE_MISMATCH], 1);
    assert_non_null(strstr(cc.f[0].detail, "not_overdue"));
    hcp_event_clear(&ev);
    /* a refusal no deadline explains is no mismatch */
    make_step(&ev, HCP_EV_FEEDBACK, T("2026-11-21T10:00:00+08:00"));
    assert_int_equal(judge(f->cal, &c, &ev, &cc, found), HCP_ERULE);
    assert_int_equal(found[GW_FIND_DEADLINE_MISMATCH], 1);
    hcp_event_clear(&ev);
    hcp_case_clear(&c);
}

/* A dispute filed by filer and decided by decider (accounts; NULL: none). */
static uint64_t dispute(const hcp_cal *cal, const char *filer, const char *decider)
{
    hcp_case c;
    open_case(cal, &c, T("2026-11-20T09:00:00+08:00"));
    gw_case_checks cc;
    uint64_t found[GW_FIND_COUNT_] = {0};
    memset(&cc, 0, sizeof(cc));
    hcp_event ev;
    make_step(&ev, HCP_EV_NOTIFY_STAFF, T("2026-11-20T10:00:00+08:00"));
    assert_int_equal(judge(cal, &c, &ev, &cc, found), HCP_OK);
    hcp_event_clear(&ev);
    make_step(&ev, HCP_EV_DISPUTE_FILE, T("2026-11-20T11:00:00+08:00"));
    ev.account = S(filer);
    assert_int_equal(judge(cal, &c, &ev, &cc, found), HCP_OK);
    hcp_event_clear(&ev);
    make_step(&ev, HCP_EV_DISPUTE_DECIDE, T("2026-11-23T11:00:00+08:00"));
    ev.verdict = HCP_VD_MALICIOUS;
    ev.account = S(decider);
    assert_int_equal(judge(cal, &c, &ev, &cc, found), HCP_OK);
    hcp_event_clear(&ev);
    hcp_case_clear(&c);
    return found[GW_FIND_SELF_DECIDED];
}

static void test_self_decided(void **state)
{
    fx *f = *state;
    assert_int_equal(dispute(f->cal, "admin", "admin"), 1);
    assert_int_equal(dispute(f->cal, "sup1", "S-0042"), 1);     /* the staff member's id */
    assert_int_equal(dispute(f->cal, "sup1", "窗口人员甲"), 1); /* or name */
    assert_int_equal(dispute(f->cal, "王窗口", "王窗口"), 1);   /* who applied (`by`) */
    assert_int_equal(dispute(f->cal, "sup1", "sup2"), 0);
    assert_int_equal(dispute(f->cal, NULL, NULL), 0); /* records older than accounts */
}

/* ---- case numbers ---- */

static void test_case_number_gaps(void **state)
{
    (void)state;
    hcp_day day = D("2026-11-20");
    uint32_t max = 0;
    gw_finding fd;
    assert_false(gw_checks_number(&max, 1, day, &fd));
    assert_false(gw_checks_number(&max, 2, day, &fd));
    assert_true(gw_checks_number(&max, 5, day, &fd));
    assert_int_equal(fd.code, GW_FIND_CASE_NUMBER_GAP);
    assert_non_null(strstr(fd.detail, "case numbers 0003 to 0004 of 2026-11-20"));
    assert_int_equal(max, 5);
    assert_false(gw_checks_number(&max, 6, day, &fd));
    assert_false(gw_checks_number(&max, 3, day, &fd)); /* late, lower: no new gap */
    assert_int_equal(max, 6);
    max = 0;
    assert_true(gw_checks_number(&max, 2, day, &fd)); /* a day starts at 0001 */
    assert_non_null(strstr(fd.detail, "case number 0001 of"));
}

/* ---- the stored form ---- */

static void test_encode_decode(void **state)
{
    (void)state;
    gw_case_checks *cc = calloc(2, sizeof(*cc));
    assert_non_null(cc);
    cc->flagged = 1u << HCP_DL_FEEDBACK;
    snprintf(cc->filer, sizeof(cc->filer), "admin");
    snprintf(cc->filer_by, sizeof(cc->filer_by), "S-0042");
    for (int i = 0; i < GW_CHECKS_CASE_MAX + 3; i++) {
        gw_finding f = {.code = GW_FIND_BACKDATED, .seq = (uint64_t)i + 1};
        snprintf(f.detail, sizeof(f.detail), "finding %d", i);
        gw_checks_add(cc, &f);
    }
    assert_int_equal(cc->n, GW_CHECKS_CASE_MAX);
    assert_int_equal(cc->more, 3);
    hcp_buf b;
    hcp_buf_init(&b, 1 << 16);
    assert_int_equal(gw_case_checks_encode(cc, &b), HCP_OK);
    assert_int_equal(gw_case_checks_decode(b.data, b.len, &cc[1]), HCP_OK);
    assert_int_equal(cc[1].flagged, cc[0].flagged);
    assert_int_equal(cc[1].more, 3);
    assert_string_equal(cc[1].filer, ""); /* never stored: `by` may be personal */
    assert_string_equal(cc[1].filer_by, "");
    for (size_t i = 0; i + 6 <= b.len; i++)
        assert_false(memcmp(b.data + i, "S-0042", 6) == 0);
    assert_int_equal(cc[1].n, GW_CHECKS_CASE_MAX);
    assert_string_equal(cc[1].f[7].detail, "finding 7");
    assert_int_equal(cc[1].f[7].seq, 8);
    json_t *j = gw_checks_case_json(&cc[1]);
    assert_int_equal(json_array_size(j), GW_CHECKS_CASE_MAX + 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "code")),
                        "backdated");
    json_decref(j);
    for (size_t cut = 0; cut < b.len; cut++) /* every truncation is refused */
        assert_int_equal(gw_case_checks_decode(b.data, cut, &cc[1]), HCP_EFORMAT);
    hcp_buf_free(&b);
    free(cc);
}

/* ---- in a store ---- */

typedef struct store_fx {
    char dir[64];
    gw_store s;
} store_fx;

static void store_open(store_fx *sf)
{
    memset(sf, 0, sizeof(*sf));
    snprintf(sf->dir, sizeof(sf->dir), "/tmp/test_gw_checks.XXXXXX");
    assert_non_null(mkdtemp(sf->dir));
    assert_int_equal(hcpd_env_open(&sf->s.db, sf->dir, 8u << 20, false, 16), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sf->s.db.env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "checks", MDB_CREATE, &sf->s.checks), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void store_close(store_fx *sf)
{
    hcpd_env_close(&sf->s.db);
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", sf->dir);
    (void)unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", sf->dir);
    (void)unlink(p);
    (void)rmdir(sf->dir);
}

/* Open case number n of 2026-11-20 (log position seq) through the checks in txn. */
static void open_numbered(store_fx *sf, MDB_txn *txn, const hcp_cal *cal, uint32_t n, uint64_t seq)
{
    hcp_event ev;
    make_open(&ev, HCP_KIND_COMPLAINT, 0, true, T("2026-11-20T09:00:00+08:00"));
    snprintf(ev.case_id, sizeof(ev.case_id), "630102-20261120-%04u", n);
    ev.seq = seq;
    hcp_case before, after;
    memset(&before, 0, sizeof(before));
    memset(&after, 0, sizeof(after));
    hcp_refusal why = {0};
    int rr = hcp_rules_apply(&after, &ev, cal, ev.recorded_at, &why);
    assert_int_equal(rr, HCP_OK);
    assert_int_equal(gw_checks_event(&sf->s, txn, cal, &ev, &before, &after, rr, &why), HCP_OK);
    hcp_case_clear(&after);
    hcp_event_clear(&ev);
}

static void test_store_gap(void **state)
{
    fx *f = *state;
    store_fx sf;
    store_open(&sf);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(sf.s.db.env, NULL, 0, &txn), 0);
    open_numbered(&sf, txn, f->cal, 1, 1);
    open_numbered(&sf, txn, f->cal, 2, 2);
    open_numbered(&sf, txn, f->cal, 5, 3); /* 0003 and 0004 never came */
    assert_int_equal(mdb_txn_commit(txn), 0);

    assert_int_equal(gws_read_begin(&sf.s, &txn), HCP_OK);
    gw_tally t;
    assert_int_equal(gw_checks_county_tally(&sf.s, txn, COUNTY, &t), HCP_OK);
    assert_int_equal(t.found[GW_FIND_CASE_NUMBER_GAP], 1);
    assert_int_equal(t.status[HCP_ST_RECEIVED], 3);
    memset(&t, 0, sizeof(t));
    assert_int_equal(gw_checks_days_tally(&sf.s, txn, COUNTY, D("2026-11-20"), D("2026-11-20"), &t),
                     HCP_OK);
    assert_int_equal(t.status[HCP_ST_RECEIVED], 3);
    memset(&t, 0, sizeof(t));
    assert_int_equal(gw_checks_days_tally(&sf.s, txn, COUNTY, D("2026-11-21"), -1, &t), HCP_OK);
    assert_int_equal(t.status[HCP_ST_RECEIVED], 0);
    assert_int_equal(gw_checks_days_tally(&sf.s, txn, "630202", -1, -1, &t), HCP_OK);
    assert_int_equal(t.status[HCP_ST_RECEIVED], 0);
    gw_case_checks *cc = malloc(sizeof(*cc));
    assert_non_null(cc);
    assert_int_equal(gw_checks_case_get(&sf.s, txn, "630102-20261120-0005", cc), HCP_OK);
    assert_int_equal(cc->n, 1);
    assert_int_equal(cc->f[0].code, GW_FIND_CASE_NUMBER_GAP);
    assert_int_equal(cc->f[0].seq, 3);
    assert_int_equal(gw_checks_case_get(&sf.s, txn, "630102-20261120-0002", cc), HCP_OK);
    assert_int_equal(cc->n, 0);
    free(cc);
    gws_read_end(&sf.s, txn);
    json_t *tj = gw_checks_findings_json(&t);
    assert_int_equal(json_integer_value(json_object_get(tj, "case_number_gaps")), 0);
    assert_int_equal(json_object_size(tj), GW_FIND_COUNT_ - 1);
    json_decref(tj);
    store_close(&sf);
}

/* Case number n of day `day` of COUNTY through the checks in txn. */
static void open_on(store_fx *sf, MDB_txn *txn, const hcp_cal *cal, hcp_day day, uint32_t n,
                    uint64_t seq)
{
    hcp_event ev;
    make_open(&ev, HCP_KIND_COMPLAINT, 0, true, hcp_day_start(day) + 9 * 3600);
    char ymd[HCP_DATE_STRLEN];
    assert_int_equal(hcp_date_format(day, ymd, sizeof(ymd)), HCP_OK);
    snprintf(ev.case_id, sizeof(ev.case_id), "630102-%.4s%.2s%.2s-%04u", ymd, ymd + 5, ymd + 8, n);
    ev.seq = seq;
    hcp_case before, after;
    memset(&before, 0, sizeof(before));
    memset(&after, 0, sizeof(after));
    hcp_refusal why = {0};
    int rr = hcp_rules_apply(&after, &ev, cal, ev.recorded_at, &why);
    assert_int_equal(rr, HCP_OK);
    assert_int_equal(gw_checks_event(&sf->s, txn, cal, &ev, &before, &after, rr, &why), HCP_OK);
    hcp_case_clear(&after);
    hcp_event_clear(&ev);
}

#define MT_DAYS 130 /* 2025-12-01 .. 2026-04-09: a year end, whole and cut months */

/* Compare the tallies of every period in ranges with the counts made
 * here (received and number gaps per day). */
static void month_ranges_check(store_fx *sf, const int64_t *rec, const uint64_t *gaps, hcp_day d0)
{
    MDB_txn *txn;
    assert_int_equal(gws_read_begin(&sf->s, &txn), HCP_OK);
    for (int a = 0; a < MT_DAYS; a += 3)
        for (int b = a; b < MT_DAYS; b += 7) {
            int64_t r = 0;
            uint64_t g = 0;
            for (int i = a; i <= b; i++) {
                r += rec[i];
                g += gaps[i];
            }
            gw_tally t;
            memset(&t, 0, sizeof(t));
            assert_int_equal(gw_checks_days_tally(&sf->s, txn, COUNTY, d0 + a, d0 + b, &t), HCP_OK);
            assert_int_equal(t.status[HCP_ST_RECEIVED], r);
            assert_int_equal(t.found[GW_FIND_CASE_NUMBER_GAP], g);
        }
    /* whole months exactly, and a whole year's worth with open ends */
    gw_tally t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(
        gw_checks_days_tally(&sf->s, txn, COUNTY, D("2026-01-01"), D("2026-03-31"), &t), HCP_OK);
    int64_t r = 0;
    for (int i = (int)(D("2026-01-01") - d0); i <= (int)(D("2026-03-31") - d0); i++)
        r += rec[i];
    assert_int_equal(t.status[HCP_ST_RECEIVED], r);
    memset(&t, 0, sizeof(t));
    assert_int_equal(gw_checks_days_tally(&sf->s, txn, COUNTY, -1, D("2025-12-31"), &t), HCP_OK);
    r = 0;
    for (int i = 0; i <= (int)(D("2025-12-31") - d0); i++)
        r += rec[i];
    assert_int_equal(t.status[HCP_ST_RECEIVED], r);
    gws_read_end(&sf->s, txn);
}

/* The month tallies: a store filled before they existed (its 'm' entries
 * then made by gw_checks_upgrade from the days), then cases added with
 * them kept; every period read through months and edge days equals the
 * counts made here, day by day. */
static void test_store_months(void **state)
{
    fx *f = *state;
    store_fx sf;
    store_open(&sf);
    hcp_day d0 = D("2025-12-01");
    int64_t rec[MT_DAYS] = {0};
    uint64_t gaps[MT_DAYS] = {0};
    uint64_t seq = 1;
    MDB_txn *txn;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(mdb_txn_begin(sf.s.db.env, NULL, 0, &txn), 0);
        for (int i = 0; i < MT_DAYS; i++) {
            uint32_t base = round == 0 ? 0 : 10; /* the second round's numbers follow */
            int k = (i * 7 + round) % 4;         /* 0..3 cases that day */
            for (int j = 1; j <= k; j++) {
                uint32_t n = base + (uint32_t)j + (i % 5 == 0 && j == k ? 1u : 0u);
                if (round == 1 && j == 1)
                    n = base + 1; /* after 10 (none in round 0 past 4): gaps counted */
                open_on(&sf, txn, f->cal, d0 + i, n, seq++);
                rec[i]++;
            }
        }
        assert_int_equal(mdb_txn_commit(txn), 0);
        /* the gaps as the store counted them, day by day (a pure walk) */
        assert_int_equal(gws_read_begin(&sf.s, &txn), HCP_OK);
        for (int i = 0; i < MT_DAYS; i++) {
            gw_tally t;
            memset(&t, 0, sizeof(t));
            assert_int_equal(gw_checks_days_tally(&sf.s, txn, COUNTY, d0 + i, d0 + i, &t), HCP_OK);
            assert_int_equal(t.status[HCP_ST_RECEIVED], rec[i]);
            gaps[i] = t.found[GW_FIND_CASE_NUMBER_GAP];
        }
        gws_read_end(&sf.s, txn);
        month_ranges_check(&sf, rec, gaps, d0); /* round 0: days only (no mark yet) */
        if (round == 0) {                       /* made from the days, once */
            assert_int_equal(mdb_txn_begin(sf.s.db.env, NULL, 0, &txn), 0);
            assert_int_equal(gw_checks_upgrade(&sf.s, txn), HCP_OK);
            assert_int_equal(gw_checks_upgrade(&sf.s, txn), HCP_OK); /* marked: nothing */
            assert_int_equal(mdb_txn_commit(txn), 0);
            month_ranges_check(&sf, rec, gaps, d0);
        }
    }
    uint64_t all = 0;
    for (int i = 0; i < MT_DAYS; i++)
        all += gaps[i];
    assert_true(all > 0);
    store_close(&sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backdated_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_months, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backdated_and_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overdue_unmarked_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overdue_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_decided, setup, teardown),
        cmocka_unit_test(test_case_number_gaps),
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test_setup_teardown(test_store_gap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
