/*
 * test_gw_report.c — the gateway keeps each case's row of the monthly form
 * rendered and sealed (gateway/report.h, `rp_form`); the form is read from
 * it. These tests drive cases through every kind of step the rules accept,
 * write each state with gws_case_put (as the writer does), and check that
 * the kept row equals a row rendered afresh from the case as stored, that a
 * store without rows gets them at open, and that a row moved to another
 * case does not unseal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gwstore.h"
#include "monthly.h"
#include "record.h"
#include "report.h"
#include "rules_fixture.h"
#include "seal.h"

typedef struct fx {
    char dir[64];
    gw_store s;
    hcp_cal *cal;
} fx;

/* A store with the cases and the report's databases, a fixed seal key. */
static void fx_open(fx *f, bool reopen)
{
    if (!reopen) {
        memset(f, 0, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/test_gw_report.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        uint8_t key[HCP_SEAL_KEY_LEN];
        memset(key, 7, sizeof(key));
        assert_int_equal(hcp_sealer_new(key, &f->s.sealer), HCP_OK);
        assert_int_equal(hcp_cal_default(&f->cal), HCP_OK);
    }
    assert_int_equal(hcpd_env_open(&f->s.db, f->dir, 16u << 20, false, 16), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "cases", MDB_CREATE, &f->s.cases), 0);
    assert_int_equal(gw_report_open(&f->s, txn), HCP_OK);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void fx_close(fx *f, bool keep)
{
    hcpd_env_close(&f->s.db);
    if (keep)
        return;
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", f->dir);
    (void)unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", f->dir);
    (void)unlink(p);
    (void)rmdir(f->dir);
    hcp_sealer_free(f->s.sealer);
    hcp_cal_free(f->cal);
}

/* The kept row of case id, unsealed, into out (emptied first). */
static int kept_row(fx *f, const char *id, const char *aad_id, hcp_buf *out)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, MDB_RDONLY, &txn), 0);
    MDB_dbi dbi;
    assert_int_equal(mdb_dbi_open(txn, "rp_form", 0, &dbi), 0);
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    char aad[64];
    int an = snprintf(aad, sizeof(aad), "rp:%s", aad_id);
    hcp_buf_reset(out);
    if (rc == 0)
        rc = hcp_unseal(f->s.sealer, aad, (size_t)an, v.mv_data, v.mv_size, out);
    else
        rc = HCP_ENOTFOUND;
    mdb_txn_abort(txn);
    return rc;
}

/* The kept row of c equals one rendered now from c as stored (read back
 * with its personal record) and from c itself. */
static void check_row(fx *f, const hcp_case *c)
{
    hcp_buf kept, fresh, mine;
    hcp_buf_init(&kept, 1 << 20);
    hcp_buf_init(&fresh, 1 << 20);
    hcp_buf_init(&mine, 1 << 20);
    assert_int_equal(kept_row(f, c->id, c->id, &kept), HCP_OK);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, MDB_RDONLY, &txn), 0);
    hcp_case back;
    assert_int_equal(gws_case_get(&f->s, txn, c->id, true, &back), HCP_OK);
    mdb_txn_abort(txn);
    assert_int_equal(hcpd_monthly_render(&back, true, &fresh), HCP_OK);
    assert_int_equal(hcpd_monthly_render(c, true, &mine), HCP_OK);
    assert_int_equal(kept.len, fresh.len);
    assert_memory_equal(kept.data, fresh.data, kept.len);
    assert_int_equal(mine.len, fresh.len);
    assert_memory_equal(mine.data, fresh.data, fresh.len);
    hcp_case_clear(&back);
    hcp_buf_free(&kept);
    hcp_buf_free(&fresh);
    hcp_buf_free(&mine);
}

/* Apply ev to c (refused steps are skipped); when applied, write c as the
 * writer does and check its row. Returns whether it applied. */
static bool step(fx *f, hcp_case *c, hcp_event *ev)
{
    hcp_refusal why = {0};
    if (c->id[0] != '\0') /* a step of the case opened before */
        memcpy(ev->case_id, c->id, sizeof(ev->case_id));
    int rr = hcp_rules_apply(c, ev, f->cal, ev->recorded_at, &why);
    hcp_event_clear(ev);
    if (rr != HCP_OK)
        return false;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, 0, &txn), 0);
    assert_int_equal(gws_case_put(&f->s, txn, c), HCP_OK);
    assert_int_equal(mdb_txn_commit(txn), 0);
    check_row(f, c);
    return true;
}

/* One path of steps from case_open; marks each kind applied in seen. */
static void path(fx *f, const char *id, bool dispute, bool seen[HCP_EV_COUNT_])
{
    static const int plain[] = {
        HCP_EV_VERIFY_START,   HCP_EV_NOTIFY_STAFF, HCP_EV_VERIFY_CONCLUDE, HCP_EV_RECTIFY_ASSIGN,
        HCP_EV_RECTIFY_EXTEND, HCP_EV_RECTIFY_DONE, HCP_EV_OVERDUE,         HCP_EV_FEEDBACK,
        HCP_EV_REVISIT,        HCP_EV_CLOSE};
    static const int disputed[] = {
        HCP_EV_VERIFY_START,   HCP_EV_NOTIFY_STAFF,   HCP_EV_VERIFY_CONCLUDE, HCP_EV_DISPUTE_FILE,
        HCP_EV_DISPUTE_DECIDE, HCP_EV_RECTIFY_ASSIGN, HCP_EV_RECTIFY_DONE,    HCP_EV_FEEDBACK,
        HCP_EV_REVISIT,        HCP_EV_CLOSE};
    const int *steps = dispute ? disputed : plain;
    size_t n = dispute ? sizeof(disputed) / sizeof(disputed[0]) : sizeof(plain) / sizeof(plain[0]);
    hcp_case c;
    memset(&c, 0, sizeof(c));
    hcp_event ev;
    hcp_time at = T("2026-02-13T10:00:00+08:00");
    make_open(&ev, HCP_KIND_REVIEW, 1, true, at);
    strcpy(ev.case_id, id);
    ev.in.staff.name = S("王窗口");
    ev.in.staff.phone = S("0971-7654321");
    ev.in.window = S("3号窗口");
    assert_true(step(f, &c, &ev));
    seen[HCP_EV_CASE_OPEN] = true;
    uint64_t seq = 1;
    for (size_t i = 0; i < n; i++) {
        at += 3600;
        make_step(&ev, steps[i], at);
        ev.seq = ++seq;
        if (step(f, &c, &ev))
            seen[steps[i]] = true;
    }
    hcp_case_clear(&c);
}

/* After every kind of step, the kept row is the row rendered afresh. */
static void test_row_after_every_step(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, false);
    bool seen[HCP_EV_COUNT_] = {false};
    path(&f, "630102-20260213-0001", false, seen);
    path(&f, "630102-20260213-0002", true, seen);
    static const int want[] = {HCP_EV_CASE_OPEN,       HCP_EV_VERIFY_START, HCP_EV_NOTIFY_STAFF,
                               HCP_EV_VERIFY_CONCLUDE, HCP_EV_DISPUTE_FILE, HCP_EV_DISPUTE_DECIDE,
                               HCP_EV_RECTIFY_ASSIGN,  HCP_EV_RECTIFY_DONE, HCP_EV_FEEDBACK,
                               HCP_EV_REVISIT,         HCP_EV_CLOSE};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!seen[want[i]])
            fprintf(stderr, "step %s never applied\n", hcp_ev_type_names[want[i]]);
        assert_true(seen[want[i]]);
    }
    /* a row under another case's id does not unseal */
    hcp_buf b;
    hcp_buf_init(&b, 1 << 20);
    assert_int_equal(kept_row(&f, "630102-20260213-0001", "630102-20260213-0002", &b), HCP_ECRYPTO);
    hcp_buf_free(&b);
    fx_close(&f, false);
}

/* A store whose cases have no kept rows gets them when opened. */
static void test_rows_rebuilt_at_open(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, false);
    bool seen[HCP_EV_COUNT_] = {false};
    path(&f, "630102-20260213-0001", true, seen);
    MDB_txn *txn; /* drop the rows, as in a store from before them */
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_drop(txn, f.s.rp_form, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    hcp_buf b;
    hcp_buf_init(&b, 1 << 20);
    assert_int_equal(kept_row(&f, "630102-20260213-0001", "630102-20260213-0001", &b),
                     HCP_ENOTFOUND);
    fx_close(&f, true);
    fx_open(&f, true);
    hcp_case c;
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(gws_case_get(&f.s, txn, "630102-20260213-0001", true, &c), HCP_OK);
    mdb_txn_abort(txn);
    check_row(&f, &c);
    hcp_case_clear(&c);
    hcp_buf_free(&b);
    fx_close(&f, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_after_every_step),
        cmocka_unit_test(test_rows_rebuilt_at_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
