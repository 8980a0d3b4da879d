/*
 * test_gw_report.c — the gateway keeps each case's row of the monthly form
 * rendered and sealed (gateway/report.h, `rp_form`); the form is read from
 * it. These tests drive cases through every kind of step the rules accept,
 * write each state with gws_case_put (as the writer does), and check that
 * the kept row equals a row rendered afresh from the case as stored, that a
 * store without rows gets them at open, and that a row moved to another
 * case does not unseal. And the forms kept in memory (gw_report_form): a
 * form is answered from them only at the version of its rows its own
 * snapshot reads, which every write of a row of its prefecture-month
 * raises in the row's transaction.
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
#include "gz_fixture.h"
#include "monthly.h"
#include "record.h"
#include "report.h"
#include "rules_fixture.h"
#include "seal.h"

typedef struct fx {
    char dir[64];
    gw_store s;
    hcp_cal *cal;
    bool deferred; /* HCP_GW_FORM_ROWS=deferred: a write keeps no row (step) */
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
    assert_int_equal(mdb_dbi_open(txn, "ov_run", MDB_CREATE, &f->s.ov_run), 0); /* gws_case_put's */
    assert_int_equal(gw_report_open(&f->s, txn), HCP_OK);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void fx_close(fx *f, bool keep)
{
    hcpd_env_close(&f->s.db);
    gw_report_close(&f->s);
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

/* The kept row of case id: its public part into pub and its personal part
 * unsealed (with the associated data of case aad_id) into prv, both
 * emptied first. flip: a byte of the public part is altered first (the
 * row must then not authenticate). */
static int kept_row(fx *f, const char *id, const char *aad_id, bool flip, hcp_buf *pub,
                    hcp_buf *prv)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, MDB_RDONLY, &txn), 0);
    MDB_dbi dbi;
    assert_int_equal(mdb_dbi_open(txn, "rp_form", 0, &dbi), 0);
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    hcp_buf_reset(pub);
    hcp_buf_reset(prv);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return HCP_ENOTFOUND;
    }
    const uint8_t *p = v.mv_data;
    assert_true(v.mv_size > 5);
    assert_int_equal(p[0], HCPD_MONTHLY_ROW_LAYOUT);
    size_t publen = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    assert_true(5 + publen < v.mv_size);
    hcp_buf aad;
    hcp_buf_init(&aad, 1 << 20);
    assert_int_equal(hcp_buf_append(&aad, "rp:", 3), HCP_OK);
    assert_int_equal(hcp_buf_append(&aad, aad_id, strlen(aad_id)), HCP_OK);
    assert_int_equal(hcp_buf_append(&aad, p, 5 + publen), HCP_OK);
    if (flip)
        aad.data[3 + strlen(aad_id) + 5 + publen / 2] ^= 1;
    assert_int_equal(hcp_buf_append(pub, p + 5, publen), HCP_OK);
    rc = hcp_unseal(f->s.sealer, aad.data, aad.len, p + 5 + publen, v.mv_size - 5 - publen, prv);
    hcp_buf_free(&aad);
    mdb_txn_abort(txn);
    return rc;
}

/* Whether needle occurs in b's bytes. */
static bool holds(const hcp_buf *b, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0)
            return true;
    return false;
}

/* The kept row of c equals one rendered now from c as stored (read back
 * with its personal record) and from c itself; its public part holds none
 * of c's personal data. */
static void check_row(fx *f, const hcp_case *c)
{
    hcp_buf kept[2], fresh[2], mine[2];
    for (int i = 0; i < 2; i++) {
        hcp_buf_init(&kept[i], 1 << 20);
        hcp_buf_init(&fresh[i], 1 << 20);
        hcp_buf_init(&mine[i], 1 << 20);
    }
    assert_int_equal(kept_row(f, c->id, c->id, false, &kept[0], &kept[1]), HCP_OK);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, MDB_RDONLY, &txn), 0);
    hcp_case back;
    assert_int_equal(gws_case_get(&f->s, txn, c->id, true, &back), HCP_OK);
    mdb_txn_abort(txn);
    assert_int_equal(hcpd_monthly_render(&back, true, &fresh[0], &fresh[1]), HCP_OK);
    assert_int_equal(hcpd_monthly_render(c, true, &mine[0], &mine[1]), HCP_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kept[i].len, fresh[i].len);
        assert_memory_equal(kept[i].data, fresh[i].data, kept[i].len);
        assert_int_equal(mine[i].len, fresh[i].len);
        assert_memory_equal(mine[i].data, fresh[i].data, fresh[i].len);
    }
    const char *secret[] = {
        c->in.complainant.name, c->in.complainant.phone, c->in.complainant.organization,
        c->in.staff.phone,      c->verifier.phone,       c->in.content,
        c->in.window,           c->rectification_result};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        if (secret[i] != NULL && strlen(secret[i]) >= 2)
            assert_false(holds(&kept[0], secret[i]));
    hcp_case_clear(&back);
    for (int i = 0; i < 2; i++) {
        hcp_buf_free(&kept[i]);
        hcp_buf_free(&fresh[i]);
        hcp_buf_free(&mine[i]);
    }
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
    if (!f->deferred)
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
    /* a row under another case's id does not unseal, nor one whose public
     * part was altered */
    hcp_buf b, b2;
    hcp_buf_init(&b, 1 << 20);
    hcp_buf_init(&b2, 1 << 20);
    assert_int_equal(kept_row(&f, "630102-20260213-0001", "630102-20260213-0002", false, &b, &b2),
                     HCP_ECRYPTO);
    assert_int_equal(kept_row(&f, "630102-20260213-0001", "630102-20260213-0001", true, &b, &b2),
                     HCP_ECRYPTO);
    hcp_buf_free(&b);
    hcp_buf_free(&b2);
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
    hcp_buf b, b2;
    hcp_buf_init(&b, 1 << 20);
    hcp_buf_init(&b2, 1 << 20);
    assert_int_equal(kept_row(&f, "630102-20260213-0001", "630102-20260213-0001", false, &b, &b2),
                     HCP_ENOTFOUND);
    fx_close(&f, true);
    fx_open(&f, true);
    hcp_case c;
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(gws_case_get(&f.s, txn, "630102-20260213-0001", true, &c), HCP_OK);
    mdb_txn_abort(txn);
    check_row(&f, &c);
    /* rows of the layout before (the whole row sealed, no layout recorded)
     * are made again in this one */
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, 0, &txn), 0);
    MDB_val k = {strlen(c.id), c.id},
            v = {40, (void *)"\x01 an old sealed row of layout one ....."};
    assert_int_equal(mdb_put(txn, f.s.rp_form, &k, &v, 0), 0);
    MDB_val lk = {6, (void *)"layout"};
    assert_int_equal(mdb_del(txn, f.s.rp_ver, &lk, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    fx_close(&f, true);
    fx_open(&f, true);
    check_row(&f, &c);
    hcp_case_clear(&c);
    hcp_buf_free(&b);
    hcp_buf_free(&b2);
    fx_close(&f, false);
}

/* Open case id received at `at` (a review of 630102's kind) and write it. */
static void open_case(fx *f, hcp_case *c, const char *id, hcp_time at)
{
    memset(c, 0, sizeof(*c));
    hcp_event ev;
    make_open(&ev, HCP_KIND_REVIEW, 1, true, at);
    strcpy(ev.case_id, id);
    ev.in.staff.name = S("王窗口");
    ev.in.staff.phone = S("0971-7654321");
    assert_true(step(f, c, &ev));
}

/* One more step of c (verify_start, then the next ones), written. */
static void next_step(fx *f, hcp_case *c, int type, hcp_time at)
{
    hcp_event ev;
    make_step(&ev, type, at);
    ev.seq = 2;
    assert_true(step(f, c, &ev));
}

/* The form of 630100 in month y-m, format fm, by filler, through
 * gw_report_form in txn (NULL: a fresh read transaction): body into out
 * (emptied first), *hit whether the cache answered; returns the rows. */
static size_t form_gz(fx *f, MDB_txn *txn, int y, int m, hcpd_mformat fm, bool gz,
                      const char *filler, hcp_buf *out, bool *hit)
{
    MDB_txn *own = NULL;
    if (txn == NULL) {
        assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, MDB_RDONLY, &own), 0);
        txn = own;
    }
    hcpd_monthly form;
    assert_int_equal(hcpd_monthly_init(&form, y, m, "630100", "西宁市",
                                       T("2026-03-02T09:00:00+08:00"), filler, "", true),
                     HCP_OK);
    hcp_buf_reset(out);
    size_t rows = 99;
    assert_int_equal(gw_report_form(&f->s, txn, &form, fm, gz, out, &rows, hit), HCP_OK);
    hcpd_monthly_free(&form);
    if (own != NULL)
        mdb_txn_abort(own);
    return rows;
}

/* form_gz, not gzipped. */
static size_t form_in(fx *f, MDB_txn *txn, int y, int m, hcpd_mformat fm, const char *filler,
                      hcp_buf *out, bool *hit)
{
    return form_gz(f, txn, y, m, fm, false, filler, out, hit);
}

/* Whether needle is in hay's bytes. */
static bool contains(const hcp_buf *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay->len; i++)
        if (memcmp(hay->data + i, needle, n) == 0)
            return true;
    return false;
}

/* The form made directly from the cases as stored (ids in order), as the
 * node makes it: what the gateway's answer must equal. */
static void form_direct(fx *f, const char *const *ids, size_t n, hcpd_mformat fm, hcp_buf *out)
{
    hcpd_monthly form;
    assert_int_equal(hcpd_monthly_init(&form, 2026, 2, "630100", "西宁市",
                                       T("2026-03-02T09:00:00+08:00"), "sup", "", true),
                     HCP_OK);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, MDB_RDONLY, &txn), 0);
    for (size_t i = 0; i < n; i++) {
        hcp_case c;
        assert_int_equal(gws_case_get(&f->s, txn, ids[i], true, &c), HCP_OK);
        assert_int_equal(hcpd_monthly_add(&form, &c), HCP_OK);
        hcp_case_clear(&c);
    }
    mdb_txn_abort(txn);
    hcp_buf_reset(out);
    if (fm == HCPD_MF_JSON)
        assert_int_equal(hcpd_monthly_json_stream(&form, out), HCP_OK);
    else
        assert_int_equal(hcpd_monthly_csv(&form, out), HCP_OK);
    hcpd_monthly_free(&form);
}

static void assert_same(const hcp_buf *a, const hcp_buf *b)
{
    if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
        fprintf(stderr, "got:  %.*s\nwant: %.*s\n", (int)a->len, (const char *)a->data, (int)b->len,
                (const char *)b->data);
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->data, b->data, a->len);
}

/* The cache answers only at the version its snapshot reads: a step of a
 * case of the month makes the next form read the rows again; a case of
 * another month or prefecture does not. */
static void test_form_cache_follows_rows(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, false);
    static const char *const ids[] = {"630102-20260213-0001", "630103-20260214-0001"};
    hcp_case a, b, other;
    open_case(&f, &a, ids[0], T("2026-02-13T10:00:00+08:00"));
    open_case(&f, &b, ids[1], T("2026-02-14T10:00:00+08:00"));
    hcp_buf got, want, first, zipped;
    hcp_buf_init(&zipped, 1 << 24);
    hcp_buf_init(&got, 1 << 24);
    hcp_buf_init(&want, 1 << 24);
    hcp_buf_init(&first, 1 << 24);
    MDB_txn *txn;
    uint64_t v0, v1, v2;
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(gw_report_version(&f.s, txn, "630100", 2026, 2, &v0), HCP_OK);
    mdb_txn_abort(txn);
    assert_true(v0 >= 2); /* raised by each case written */
    for (hcpd_mformat fm = HCPD_MF_JSON; fm <= HCPD_MF_CSV; fm++) {
        bool hit = true;
        assert_int_equal(form_in(&f, NULL, 2026, 2, fm, "sup", &got, &hit), 2);
        assert_false(hit);
        form_direct(&f, ids, 2, fm, &want);
        assert_same(&got, &want);
        if (fm == HCPD_MF_JSON) /* the JSON form before any step, for below */
            assert_int_equal(hcp_buf_append(&first, got.data, got.len), HCP_OK);
        assert_int_equal(form_in(&f, NULL, 2026, 2, fm, "sup", &got, &hit), 2);
        assert_true(hit);
        assert_same(&got, &want);
        /* another filler: the same rows from the cache, its own header */
        assert_int_equal(form_in(&f, NULL, 2026, 2, fm, "另一位", &got, &hit), 2);
        assert_true(hit);
        assert_true(contains(&got, "另一位"));
        /* gzipped: the rows deflated once (the plain ones kept do not
         * count), then kept; each decompresses to the plain form */
        for (int round = 0; round < 2; round++) {
            assert_int_equal(form_gz(&f, NULL, 2026, 2, fm, true, "sup", &zipped, &hit), 2);
            assert_int_equal(hit, round == 1);
            gz_fixture_gunzip(zipped.data, zipped.len, &got);
            assert_same(&got, &want);
        }
        assert_int_equal(form_gz(&f, NULL, 2026, 2, fm, true, "另一位", &zipped, &hit), 2);
        assert_true(hit);
        gz_fixture_gunzip(zipped.data, zipped.len, &got);
        assert_true(contains(&got, "另一位"));
    }
    /* a case of another prefecture (Haidong) and one of another month */
    open_case(&f, &other, "630202-20260213-0001", T("2026-02-13T10:00:00+08:00"));
    hcp_case_clear(&other);
    open_case(&f, &other, "630102-20260301-0001", T("2026-03-01T10:00:00+08:00"));
    hcp_case_clear(&other);
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(gw_report_version(&f.s, txn, "630100", 2026, 2, &v1), HCP_OK);
    assert_int_equal(v1, v0);
    bool hit = false;
    assert_int_equal(form_in(&f, txn, 2026, 2, HCPD_MF_JSON, "sup", &got, &hit), 2);
    assert_true(hit);
    /* txn still reads v0: a step written now is not in its snapshot */
    next_step(&f, &a, HCP_EV_VERIFY_START, T("2026-02-13T12:00:00+08:00"));
    MDB_txn *now;
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &now), 0);
    assert_int_equal(gw_report_version(&f.s, now, "630100", 2026, 2, &v2), HCP_OK);
    assert_true(v2 > v1);
    mdb_txn_abort(now);
    assert_int_equal(form_in(&f, txn, 2026, 2, HCPD_MF_JSON, "sup", &got, &hit), 2);
    assert_true(hit); /* the old snapshot: the old form, which it is */
    assert_same(&got, &first);
    mdb_txn_abort(txn);
    /* a new snapshot reads the rows again and shows the step */
    assert_int_equal(form_in(&f, NULL, 2026, 2, HCPD_MF_JSON, "sup", &got, &hit), 2);
    assert_false(hit);
    form_direct(&f, ids, 2, HCPD_MF_JSON, &want);
    assert_same(&got, &want);
    assert_false(got.len == first.len && memcmp(got.data, first.data, got.len) == 0);
    assert_int_equal(form_in(&f, NULL, 2026, 2, HCPD_MF_JSON, "sup", &got, &hit), 2);
    assert_true(hit);
    assert_same(&got, &want);
    /* nor the gzipped one */
    assert_int_equal(form_gz(&f, NULL, 2026, 2, HCPD_MF_JSON, true, "sup", &zipped, &hit), 2);
    assert_false(hit);
    gz_fixture_gunzip(zipped.data, zipped.len, &got);
    assert_same(&got, &want);
    /* the CSV kept before the step is not used either */
    assert_int_equal(form_in(&f, NULL, 2026, 2, HCPD_MF_CSV, "sup", &got, &hit), 2);
    assert_false(hit);
    form_direct(&f, ids, 2, HCPD_MF_CSV, &want);
    assert_same(&got, &want);
    /* XLSX: the whole workbook, kept per header: the same filler hits,
     * another one is written afresh */
    assert_int_equal(form_in(&f, NULL, 2026, 2, HCPD_MF_XLSX, "sup", &first, &hit), 2); /* reset */
    assert_false(hit);
    assert_int_equal(form_in(&f, NULL, 2026, 2, HCPD_MF_XLSX, "sup", &got, &hit), 2);
    assert_true(hit);
    assert_same(&got, &first);
    assert_int_equal(form_in(&f, NULL, 2026, 2, HCPD_MF_XLSX, "另一位", &got, &hit), 2);
    assert_false(hit);
    next_step(&f, &b, HCP_EV_VERIFY_START, T("2026-02-14T12:00:00+08:00"));
    assert_int_equal(form_in(&f, NULL, 2026, 2, HCPD_MF_XLSX, "sup", &got, &hit), 2);
    assert_false(hit);
    /* a month without cases: no rows, nothing written */
    assert_int_equal(form_in(&f, NULL, 2026, 5, HCPD_MF_JSON, "sup", &got, &hit), 0);
    assert_false(hit);
    assert_int_equal(got.len, 0);
    hcp_case_clear(&a);
    hcp_case_clear(&b);
    hcp_buf_free(&got);
    hcp_buf_free(&want);
    hcp_buf_free(&first);
    hcp_buf_free(&zipped);
    fx_close(&f, false);
}

/* Entries in database name of f's store. */
static size_t entries(fx *f, const char *name)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

/* gw_report_pending: the rows waiting for the drain, as /metrics shows them
 * (hcp_gateway_report_rows_pending); the same as rp_dirty's entries. */
static uint64_t pending(fx *f)
{
    MDB_txn *txn;
    uint64_t n = UINT64_MAX;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(gw_report_pending(&f->s, txn, &n), HCP_OK);
    assert_int_equal(gw_report_pending(NULL, txn, &n), HCP_EINVAL);
    assert_int_equal(gw_report_pending(&f->s, NULL, &n), HCP_EINVAL);
    assert_int_equal(gw_report_pending(&f->s, txn, NULL), HCP_EINVAL);
    mdb_txn_abort(txn);
    assert_int_equal(n, entries(f, "rp_dirty"));
    return n;
}

/* Open n cases of 630102 received 2026-02-13, ids[i] (kept by the caller),
 * all in ONE write transaction, as a catch-up's batch writes them. */
static void open_many(fx *f, size_t n, char (*ids)[HCP_CASE_ID_MAX])
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.db.env, NULL, 0, &txn), 0);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], HCP_CASE_ID_MAX, "630102-20260213-%04zu", 100 + i);
        hcp_case c;
        memset(&c, 0, sizeof(c));
        hcp_event ev;
        make_open(&ev, HCP_KIND_REVIEW, 1, true, T("2026-02-13T10:00:00+08:00"));
        strcpy(ev.case_id, ids[i]);
        ev.in.staff.phone = S("0971-7654321");
        hcp_refusal why = {0};
        assert_int_equal(hcp_rules_apply(&c, &ev, f->cal, ev.recorded_at, &why), HCP_OK);
        hcp_event_clear(&ev);
        assert_int_equal(gws_case_put(&f->s, txn, &c), HCP_OK);
        hcp_case_clear(&c);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
}

/* The JSON and CSV forms of 2026-02 equal the forms made from the cases
 * ids as stored. */
static void form_equals_cases(fx *f, const char *const *ids, size_t n)
{
    hcp_buf got, want;
    hcp_buf_init(&got, 1 << 24);
    hcp_buf_init(&want, 1 << 24);
    for (hcpd_mformat fm = HCPD_MF_JSON; fm <= HCPD_MF_CSV; fm++) {
        bool hit;
        assert_int_equal(form_in(f, NULL, 2026, 2, fm, "sup", &got, &hit), n);
        form_direct(f, ids, n, fm, &want);
        assert_same(&got, &want);
    }
    hcp_buf_free(&got);
    hcp_buf_free(&want);
}

/* Rows written behind: a transaction writing many cases (a catch-up)
 * writes the first RP_SYNC_MAX (32) rows at once and marks the rest; a
 * download renders the marked ones from their cases (also one whose kept
 * row is older), the marks survive a restart, and the drain writes the
 * rows, unmarks them and changes no form. */
static void test_rows_deferred(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, false);
    char many[40][HCP_CASE_ID_MAX];
    open_many(&f, 40, many);
    assert_int_equal(entries(&f, "rp_form"), 32);
    assert_int_equal(entries(&f, "rp_dirty"), 8);
    assert_int_equal(pending(&f), 8);
    const char *ids[42];
    for (size_t i = 0; i < 40; i++)
        ids[i] = many[i];
    form_equals_cases(&f, ids, 40);
    /* every row behind (HCP_GW_FORM_ROWS=deferred), from the next open on */
    fx_close(&f, true);
    assert_int_equal(setenv("HCP_GW_FORM_ROWS", "deferred", 1), 0);
    fx_open(&f, true);
    f.deferred = true;
    hcp_case a;
    open_case(&f, &a, "630102-20260213-0001", T("2026-02-13T10:00:00+08:00"));
    MDB_txn *txn;
    uint64_t v0, v1;
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(gw_report_version(&f.s, txn, "630100", 2026, 2, &v0), HCP_OK);
    mdb_txn_abort(txn);
    assert_int_equal(entries(&f, "rp_dirty"), 9);
    ids[40] = a.id;
    /* a kept row (written at once above) whose case moves on: its row is
     * older, the form shows the case */
    hcp_case old;
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(gws_case_get(&f.s, txn, many[0], true, &old), HCP_OK);
    mdb_txn_abort(txn);
    next_step(&f, &old, HCP_EV_VERIFY_START, T("2026-02-13T12:00:00+08:00"));
    hcp_case_clear(&old);
    assert_int_equal(entries(&f, "rp_dirty"), 10);
    assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(gw_report_version(&f.s, txn, "630100", 2026, 2, &v1), HCP_OK);
    mdb_txn_abort(txn);
    assert_true(v1 > v0); /* a marked row still raises its month's version */
    /* sorted as the form sorts them: a.id (-0001) first */
    const char *sorted[41];
    sorted[0] = a.id;
    for (size_t i = 0; i < 40; i++)
        sorted[i + 1] = many[i];
    form_equals_cases(&f, sorted, 41);
    /* a restart keeps the marks (and rebuilds nothing) */
    fx_close(&f, true);
    assert_int_equal(unsetenv("HCP_GW_FORM_ROWS"), 0);
    fx_open(&f, true);
    f.deferred = false;
    assert_int_equal(entries(&f, "rp_dirty"), 10);
    assert_int_equal(pending(&f), 10);
    assert_int_equal(entries(&f, "rp_form"), 32);
    form_equals_cases(&f, sorted, 41);
    /* the drain, 4 rows a transaction */
    size_t done = 0, total = 0;
    bool more = true;
    for (int i = 0; more && i < 10; i++) {
        assert_int_equal(gw_report_drain(&f.s, 4, &done, &more), HCP_OK);
        assert_true(done <= 4);
        total += done;
    }
    assert_false(more);
    assert_int_equal(total, 10);
    assert_int_equal(entries(&f, "rp_dirty"), 0);
    assert_int_equal(pending(&f), 0);
    assert_int_equal(entries(&f, "rp_form"), 41);
    assert_int_equal(gw_report_drain(&f.s, 4, &done, &more), HCP_OK);
    assert_int_equal(done, 0);
    assert_false(more);
    for (size_t i = 0; i < 41; i++) {
        hcp_case c;
        assert_int_equal(mdb_txn_begin(f.s.db.env, NULL, MDB_RDONLY, &txn), 0);
        assert_int_equal(gws_case_get(&f.s, txn, sorted[i], true, &c), HCP_OK);
        mdb_txn_abort(txn);
        check_row(&f, &c);
        hcp_case_clear(&c);
    }
    form_equals_cases(&f, sorted, 41);
    assert_int_equal(gw_report_drain(NULL, 4, &done, &more), HCP_EINVAL);
    assert_int_equal(gw_report_drain(&f.s, 0, &done, &more), HCP_EINVAL);
    hcp_case_clear(&a);
    fx_close(&f, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_after_every_step),
        cmocka_unit_test(test_rows_rebuilt_at_open),
        cmocka_unit_test(test_form_cache_follows_rows),
        cmocka_unit_test(test_rows_deferred),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
