/* test_calendar_both.c — the federation calendar at both ends, against real
 * LMDB stores in temporary directories (issue #13; docs/calendar.md "The
 * federation calendar"): the node's directive handler
 * (node/calendar_fed.h: apply in a write transaction, swap after commit,
 * refusals), the gateway's province-log hook (gateway/gwcalendar.h), and
 * the same versions applied to a node store and a gateway store holding
 * the same cases: every case's deadlines compared, case by case. The
 * daemons call these handlers through the directive transport
 * (docs/directives.md); the calendar_fed system test covers that path. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rules_fixture.h"

#include "calendar_fed.h" /* node/ */
#include "format.h"       /* daemon/ */
#include "gwcalendar.h"   /* gateway/ */
#include "record.h"       /* core/ */

extern const unsigned char hcp_data_calendar[];
extern const size_t hcp_data_calendar_len;

#define Y2027                                                                                      \
    "2027-01-01\toff\t元旦\t2027\n2027-01-02\toff\t元旦\t2027\n2027-01-03\toff\t元旦\t2027\n"

typedef struct fixture {
    char ndir[64], gdir[64], stale_path[96];
    hcp_sealer *sealer;
    hcp_cal *stale;
    hcp_buf stale_tsv, full_tsv, next_tsv;
    node n;
    node_store ns;
    gw g;
    node_calendar *nc;
    gw_calendar *gc;
} fixture;

static fixture *F; /* large: static storage, one fixture at a time */

/* data/calendar.tsv without notice year `drop` (0: none), plus extra. */
static void tsv_variant(hcp_buf *b, int drop, const char *extra)
{
    hcp_buf_init(b, 2u << 20);
    const char *p = (const char *)hcp_data_calendar, *end = p + hcp_data_calendar_len;
    char tail[8];
    snprintf(tail, sizeof(tail), "\t%d", drop);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (!(drop != 0 && n >= 5 && memcmp(p + n - 5, tail, 5) == 0)) {
            assert_int_equal(hcp_buf_append(b, p, n), HCP_OK);
            assert_int_equal(hcp_buf_append(b, "\n", 1), HCP_OK);
        }
        p += n + 1;
    }
    if (extra != NULL)
        assert_int_equal(hcp_buf_append(b, extra, strlen(extra)), HCP_OK);
}

static void remove_dir(const char *dir)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", dir);
    (void)unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", dir);
    (void)unlink(p);
    (void)rmdir(dir);
}

/* ---- the cases, made by the rules with the stale calendar ---- */

static void apply(hcp_case *c, hcp_event *ev, const hcp_cal *cal)
{
    hcp_refusal why = {0};
    int rc = hcp_rules_apply(c, ev, cal, ev->at, &why);
    if (rc != HCP_OK)
        fail_msg("%s: %s", why.rule ? why.rule : hcp_strerror(rc), why.detail);
    hcp_event_clear(ev);
}

static void step(hcp_case *c, int type, const char *at, const hcp_cal *cal)
{
    hcp_event ev;
    make_step(&ev, type, T(at));
    apply(c, &ev, cal);
}

#define NCASES 6
static const char *const ids[NCASES] = {
    "630102-20260929-0001", /* received: feedback 10-06 (stale) / 10-12 */
    "630102-20260929-0002", /* staff notified 09-30: dispute window 10-02 / 10-09 */
    "630102-20260929-0003", /* disputed 09-30: re-review 10-07 / 10-13 */
    "630102-20261224-0001", /* extended into 2027: provisional until 2027 is known */
    "630102-20260921-0001", /* closed: never recounted */
    "630102-20260921-0002", /* rectifying, 5 days into September: the same either way */
};

static void make_case(int i, hcp_case *c, const hcp_cal *cal)
{
    static const char *const received[NCASES] = {
        "2026-09-29T10:00:00+08:00", "2026-09-29T10:00:00+08:00", "2026-09-29T10:00:00+08:00",
        "2026-12-24T10:00:00+08:00", "2026-09-21T10:00:00+08:00", "2026-09-21T10:00:00+08:00"};
    hcp_event ev;
    make_open(&ev, HCP_KIND_COMPLAINT, 0, true, T(received[i]));
    snprintf(ev.case_id, sizeof(ev.case_id), "%s", ids[i]);
    memset(c, 0, sizeof(*c));
    apply(c, &ev, cal);
    switch (i) {
    case 1:
    case 2:
        step(c, HCP_EV_VERIFY_START, "2026-09-29T11:00:00+08:00", cal);
        step(c, HCP_EV_NOTIFY_STAFF, "2026-09-30T10:00:00+08:00", cal);
        if (i == 2)
            step(c, HCP_EV_DISPUTE_FILE, "2026-09-30T11:00:00+08:00", cal);
        break;
    case 3:
        step(c, HCP_EV_VERIFY_START, "2026-12-24T11:00:00+08:00", cal);
        step(c, HCP_EV_VERIFY_CONCLUDE, "2026-12-24T12:00:00+08:00", cal);
        step(c, HCP_EV_RECTIFY_ASSIGN, "2026-12-24T13:00:00+08:00", cal);
        make_step(&ev, HCP_EV_RECTIFY_EXTEND, T("2026-12-28T10:00:00+08:00"));
        ev.new_due = D("2027-01-01");
        apply(c, &ev, cal);
        break;
    case 4:
    case 5:
        step(c, HCP_EV_VERIFY_START, "2026-09-21T11:00:00+08:00", cal);
        step(c, HCP_EV_VERIFY_CONCLUDE, "2026-09-21T12:00:00+08:00", cal);
        if (i == 4) {
            c->status = HCP_ST_CLOSED; /* as if closed: its deadlines are history */
            c->closed_at = T("2026-09-25T10:00:00+08:00");
        }
        break;
    default:
        break;
    }
}

/* The same cases into both stores. */
static void put_cases(fixture *f)
{
    MDB_txn *txn;
    assert_int_equal(store_write_begin(&f->ns, &txn), HCP_OK);
    MDB_txn *gtxn;
    assert_int_equal(mdb_txn_begin(f->g.store->db.env, NULL, 0, &gtxn), MDB_SUCCESS);
    for (int i = 0; i < NCASES; i++) {
        hcp_case c;
        make_case(i, &c, f->stale);
        c.county[0] = '\0';
        snprintf(c.county, sizeof(c.county), "630102");
        assert_int_equal(store_case_put(&f->ns, txn, NULL, &c), HCP_OK);
        assert_int_equal(gws_case_put(f->g.store, gtxn, &c), HCP_OK);
        assert_int_equal(gws_feed_update(f->g.store, gtxn, 0, &c, c.last_at), HCP_OK);
        hcp_case_clear(&c);
    }
    assert_int_equal(store_cache_flush(&f->ns, txn), HCP_OK);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    store_cache_drop(&f->ns);
    assert_int_equal(mdb_txn_commit(gtxn), MDB_SUCCESS);
}

static int setup(void **state)
{
    F = calloc(1, sizeof(*F));
    fixture *f = F;
    assert_non_null(f);
    snprintf(f->ndir, sizeof(f->ndir), "/tmp/test_calendar_both.n.XXXXXX");
    snprintf(f->gdir, sizeof(f->gdir), "/tmp/test_calendar_both.g.XXXXXX");
    assert_non_null(mkdtemp(f->ndir));
    assert_non_null(mkdtemp(f->gdir));
    uint8_t key[HCP_SEAL_KEY_LEN];
    memset(key, 7, sizeof(key));
    assert_int_equal(hcp_sealer_new(key, &f->sealer), HCP_OK);
    tsv_variant(&f->stale_tsv, 2026, NULL);
    tsv_variant(&f->full_tsv, 0, NULL);
    tsv_variant(&f->next_tsv, 0, Y2027);
    assert_int_equal(
        hcp_cal_parse((const char *)f->stale_tsv.data, f->stale_tsv.len, &f->stale, NULL, 0),
        HCP_OK);
    /* the stale calendar as a file: the seed both daemons started with */
    snprintf(f->stale_path, sizeof(f->stale_path), "%s.stale.tsv", f->ndir);
    FILE *fp = fopen(f->stale_path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(f->stale_tsv.data, 1, f->stale_tsv.len, fp), f->stale_tsv.len);
    assert_int_equal(fclose(fp), 0);
    char err[1024];
    assert_int_equal(store_open(&f->ns, f->ndir, "630102", false, f->sealer, err, sizeof(err)),
                     HCP_OK);
    f->n.store = &f->ns;
    snprintf(f->n.cfg.data, sizeof(f->n.cfg.data), "%s", f->ndir);
    snprintf(f->n.cfg.calendar, sizeof(f->n.cfg.calendar), "%s", f->stale_path);
    snprintf(f->g.cfg.data, sizeof(f->g.cfg.data), "%s", f->gdir);
    snprintf(f->g.cfg.calendar, sizeof(f->g.cfg.calendar), "%s", f->stale_path);
    f->g.sealer = f->sealer;
    f->g.lock_fd = -1;
    assert_int_equal(gw_store_open(&f->g), HCP_OK);
    put_cases(f);
    /* both start with the stale seed: version 0 stored, counted alike */
    assert_int_equal(node_calendar_start(&f->n, &f->nc, err, sizeof(err)), HCP_OK);
    assert_int_equal(gw_calendar_start(&f->g, &f->gc, err, sizeof(err)), HCP_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    node_calendar_free(f->nc);
    gw_calendar_free(f->gc);
    store_close(&f->ns);
    gw_store_close(&f->g);
    hcp_cal_free(f->n.cal);
    hcp_cal_free(f->g.cal);
    remove_dir(f->ndir);
    remove_dir(f->gdir);
    (void)unlink(f->stale_path);
    hcp_sealer_free(f->sealer);
    hcp_cal_free(f->stale);
    hcp_buf_free(&f->stale_tsv);
    hcp_buf_free(&f->full_tsv);
    hcp_buf_free(&f->next_tsv);
    free(f);
    F = NULL;
    return 0;
}

/* ---- applying a version ---- */

/* The node's handler in one write transaction; commit (and swap) on OK. */
static int node_apply(fixture *f, uint64_t seq, uint32_t version, const hcp_buf *tsv, char *why,
                      size_t why_len)
{
    hcp_buf body;
    hcp_buf_init(&body, HCP_CALVER_ENCMAX);
    assert_int_equal(hcp_calver_encode(version, (const char *)tsv->data, tsv->len, &body), HCP_OK);
    MDB_txn *txn;
    assert_int_equal(store_write_begin(&f->ns, &txn), HCP_OK);
    int rc = node_calendar_apply(f->nc, &f->ns, txn, seq, body.data, body.len, why, why_len);
    if (rc == HCP_OK) {
        assert_int_equal(store_cache_flush(&f->ns, txn), HCP_OK);
        assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
        node_calendar_after(f->nc, seq);
    } else
        mdb_txn_abort(txn);
    store_cache_drop(&f->ns);
    hcp_buf_free(&body);
    return rc;
}

/* The gateway's hook, as the province log's append runs it. */
static int gw_apply(fixture *f, uint64_t seq, uint32_t version, const hcp_buf *tsv)
{
    hcp_buf body;
    hcp_buf_init(&body, HCP_CALVER_ENCMAX);
    assert_int_equal(hcp_calver_encode(version, (const char *)tsv->data, tsv->len, &body), HCP_OK);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->g.store->db.env, NULL, 0, &txn), MDB_SUCCESS);
    int rc = gw_calendar_apply(f->gc, f->g.store, txn, seq, "calendar", body.data, body.len);
    if (rc == HCP_OK) {
        assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
        gw_calendar_after(f->gc, seq);
    } else
        mdb_txn_abort(txn);
    hcp_buf_free(&body);
    return rc;
}

static void node_case(fixture *f, const char *id, hcp_case *c)
{
    MDB_txn *txn;
    assert_int_equal(store_read_begin(&f->ns, &txn), HCP_OK);
    assert_int_equal(store_case_get(&f->ns, txn, id, true, c), HCP_OK);
    store_read_end(&f->ns, txn);
}

static void gw_case(fixture *f, const char *id, hcp_case *c)
{
    MDB_txn *txn;
    assert_int_equal(gws_read_begin(f->g.store, &txn), HCP_OK);
    assert_int_equal(gws_case_get(f->g.store, txn, id, true, c), HCP_OK);
    gws_read_end(f->g.store, txn);
}

static void assert_due_equal(const hcp_due *a, const hcp_due *b, const char *id, const char *what)
{
    if (a->at != b->at || a->provisional != b->provisional)
        fail_msg("%s %s: node %lld%s, gateway %lld%s", id, what, (long long)a->at,
                 a->provisional ? " (provisional)" : "", (long long)b->at,
                 b->provisional ? " (provisional)" : "");
}

/* Every case: the same deadlines at both ends. */
static void compare_both(fixture *f)
{
    for (int i = 0; i < NCASES; i++) {
        hcp_case a, b;
        node_case(f, ids[i], &a);
        gw_case(f, ids[i], &b);
        assert_due_equal(&a.feedback_due, &b.feedback_due, ids[i], "feedback_due");
        assert_due_equal(&a.dispute_due, &b.dispute_due, ids[i], "dispute_due");
        assert_due_equal(&a.rereview_due, &b.rereview_due, ids[i], "rereview_due");
        hcp_case_clear(&a);
        hcp_case_clear(&b);
    }
}

static hcp_due node_due(fixture *f, int i, int which)
{
    hcp_case c;
    node_case(f, ids[i], &c);
    hcp_due d = which == 0 ? c.feedback_due : which == 1 ? c.dispute_due : c.rereview_due;
    hcp_case_clear(&c);
    return d;
}

/* One version at both ends recounts every open case to the same values;
 * the next year firms up the extension into 2027; closed cases stay. */
static void t_both_ends_same(void **state)
{
    fixture *f = *state;
    hcp_due closed_before = node_due(f, 4, 0);
    compare_both(f); /* the stale seed, alike */
    assert_int_equal(node_due(f, 0, 0).at, T("2026-10-06T23:59:59+08:00"));
    assert_true(node_due(f, 0, 0).provisional);

    char why[256] = "";
    assert_int_equal(gw_apply(f, 1, 1, &f->full_tsv), HCP_OK);
    assert_int_equal(node_apply(f, 1, 1, &f->full_tsv, why, sizeof(why)), HCP_OK);
    compare_both(f);
    assert_int_equal(node_due(f, 0, 0).at, T("2026-10-12T23:59:59+08:00"));
    assert_false(node_due(f, 0, 0).provisional);
    assert_int_equal(node_due(f, 1, 1).at, T("2026-10-09T23:59:59+08:00"));
    assert_int_equal(node_due(f, 2, 2).at, T("2026-10-13T23:59:59+08:00"));
    assert_true(node_due(f, 3, 0).provisional); /* 2027 not covered yet */
    hcp_due closed_after = node_due(f, 4, 0);
    assert_int_equal(closed_after.at, closed_before.at);
    /* n->cal and g->cal are the new version after the commit */
    assert_true(hcp_cal_known(f->n.cal, D("2026-10-01")));
    assert_true(hcp_cal_known(f->g.cal, D("2026-10-01")));
    assert_int_equal(f->nc->version, 1);

    assert_int_equal(gw_apply(f, 2, 2, &f->next_tsv), HCP_OK);
    assert_int_equal(node_apply(f, 2, 2, &f->next_tsv, why, sizeof(why)), HCP_OK);
    compare_both(f);
    assert_false(node_due(f, 3, 0).provisional);
    assert_int_equal(node_due(f, 3, 0).at, T("2027-01-01T23:59:59+08:00"));
    assert_false(hcp_cal_is_workday(f->n.cal, D("2027-01-01")));
}

/* The handler's refusals: an old version, a bad body, a bad calendar; a
 * refused apply swaps nothing. */
static void t_node_refusals(void **state)
{
    fixture *f = *state;
    char why[256] = "";
    assert_int_equal(node_apply(f, 1, 3, &f->full_tsv, why, sizeof(why)), HCP_OK);
    hcp_cal *before = f->n.cal;
    assert_int_equal(node_apply(f, 2, 3, &f->next_tsv, why, sizeof(why)), HCP_ERULE);
    assert_non_null(strstr(why, "stale_version"));
    hcp_buf bad;
    hcp_buf_init(&bad, 256);
    const char *text = "date\tkind\tname\tnotice_year\n2027-02-30\toff\t春节\t2027\n";
    assert_int_equal(hcp_buf_append(&bad, text, strlen(text)), HCP_OK);
    assert_int_equal(node_apply(f, 3, 4, &bad, why, sizeof(why)), HCP_ERULE);
    assert_non_null(strstr(why, "bad_calendar: line 2"));
    hcp_buf_free(&bad);
    MDB_txn *txn;
    assert_int_equal(store_write_begin(&f->ns, &txn), HCP_OK);
    assert_int_equal(node_calendar_apply(f->nc, &f->ns, txn, 4, "\x07", 1, why, sizeof(why)),
                     HCP_ERULE);
    assert_non_null(strstr(why, "bad_body"));
    mdb_txn_abort(txn);
    store_cache_drop(&f->ns);
    node_calendar_after(f->nc, 4); /* nothing pending for 4 */
    assert_ptr_equal(f->n.cal, before);
    assert_int_equal(f->nc->version, 3);
}

/* The gateway's ov_run holds exactly the cases with a running deadline
 * (gwstore.h): those /metrics judges for its overdue gauge. Returns how
 * many. */
static size_t check_ov_run(gw_store *s)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, s->cases, &cur), MDB_SUCCESS);
    MDB_val k, v, x;
    size_t want = 0, not_running = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[HCP_CASE_ID_MAX];
        assert_true(k.mv_size < sizeof(id));
        memcpy(id, k.mv_data, k.mv_size);
        id[k.mv_size] = '\0';
        hcp_case c;
        assert_int_equal(hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, false, &c),
                         HCP_OK);
        bool running = hcp_case_deadline_running(&c);
        assert_int_equal(mdb_get(txn, s->ov_run, &k, &x), running ? MDB_SUCCESS : MDB_NOTFOUND);
        want += running;
        not_running += !running;
        hcp_case_clear(&c);
    }
    mdb_cursor_close(cur);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, s->ov_run, &st), MDB_SUCCESS);
    assert_int_equal(st.ms_entries, want); /* nothing else in it */
    assert_true(not_running > 0);          /* the fixture holds both kinds */
    mdb_txn_abort(txn);
    return want;
}

/* ov_run is kept by every case written (the fixture's, the calendar's
 * re-dated ones) and, for a store of format 2, made at its first open by a
 * newer gateway, which stamps format 3. */
static void t_ov_run(void **state)
{
    fixture *f = *state;
    size_t running = check_ov_run(f->g.store);
    assert_true(running > 0);
    /* a new calendar re-dates the cases through gws_case_put: still exact */
    assert_int_equal(gw_apply(f, 1, 1, &f->full_tsv), HCP_OK);
    assert_int_equal(check_ov_run(f->g.store), running);
    /* as a format-2 store: no index, the older stamp */
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->g.store->db.env, NULL, 0, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_drop(txn, f->g.store->ov_run, 1), MDB_SUCCESS);
    uint8_t two[4] = {0, 0, 0, 2};
    MDB_val fk = {6, "format"}, fv = {sizeof(two), two};
    assert_int_equal(mdb_put(txn, f->g.store->meta, &fk, &fv, 0), MDB_SUCCESS);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    gw_store_close(&f->g);
    assert_int_equal(gw_store_open(&f->g), HCP_OK);
    assert_int_equal(check_ov_run(f->g.store), running);
    assert_int_equal(mdb_txn_begin(f->g.store->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_get(txn, f->g.store->meta, &fk, &fv), MDB_SUCCESS);
    assert_int_equal(fv.mv_size, 4);
    assert_int_equal(((const uint8_t *)fv.mv_data)[3], HCPD_FORMAT_GATEWAY);
    mdb_txn_abort(txn);
}

/* A node that applied version V refuses to start with a --calendar that
 * counts differently, starts with none (version V in force) or the same. */
static void t_node_start_refuses(void **state)
{
    fixture *f = *state;
    char why[256] = "", err[1024] = "";
    assert_int_equal(node_apply(f, 1, 1, &f->full_tsv, why, sizeof(why)), HCP_OK);
    node_calendar *nc = NULL;
    assert_int_equal(node_calendar_start(&f->n, &nc, err, sizeof(err)), HCP_EVERSION);
    assert_non_null(strstr(err, "differs from the federation calendar version 1"));
    assert_null(nc);
    f->n.cfg.calendar[0] = '\0'; /* compiled in: the stored version is used */
    hcp_cal_free(f->n.cal);
    assert_int_equal(
        hcp_cal_parse((const char *)f->stale_tsv.data, f->stale_tsv.len, &f->n.cal, NULL, 0),
        HCP_OK);
    assert_int_equal(node_calendar_start(&f->n, &nc, err, sizeof(err)), HCP_OK);
    assert_int_equal(nc->version, 1);
    assert_true(hcp_cal_known(f->n.cal, D("2026-10-01")));
    node_calendar_free(nc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_both_ends_same, setup, teardown),
        cmocka_unit_test_setup_teardown(t_node_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(t_node_start_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(t_ov_run, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
