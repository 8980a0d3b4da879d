/*
 * test_gw_feed_marks.c — a filtered walk's marks (gateway/feed_marks.h,
 * docs/feed.md "page=N"): the mark list of a filter (its next mark only,
 * the stride doubling when full, snapshots, the least recently used
 * filter out), and, on a store, every filtered page=N rendered from the
 * marks earlier walks left is byte for byte the page a walk from the
 * newest entry finds, for many pages and page sizes, before and after the
 * feed changes, and in a transaction still reading the old snapshot.
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

#include "feed_marks.h"
#include "gwfeed.h"
#include "gwstore.h"
#include "seal.h"
#include "gw_store_fixture.h"

_Static_assert(GW_FEED_MARK_KEY_MAX == GWS_FEED_KEY_MAX, "a mark holds a feed key");

/* ---- the mark list ---- */

/* A fake feed key for rank r. */
static size_t fake_key(uint8_t k[GW_FEED_MARK_KEY_MAX], uint64_t r)
{
    memset(k, 0, GW_FEED_MARK_KEY_MAX);
    memcpy(k, &r, sizeof(r));
    return 8 + (size_t)(r % 7);
}

static void t_marks(void **state)
{
    (void)state;
    gw_feed_marks *m;
    assert_int_equal(gw_feed_marks_new(&m), HCP_OK);
    uint8_t k[GW_FEED_MARK_KEY_MAX], got[GW_FEED_MARK_KEY_MAX];
    size_t klen, glen;
    uint64_t mrank, stride;
    assert_false(gw_feed_marks_find(m, "f", 5, 0, &mrank, got, &glen));
    /* only the next mark is kept: a note past it (an evicted set) is not */
    klen = fake_key(k, 256);
    gw_feed_marks_note(m, "f", 5, 256, k, klen);
    assert_int_equal(gw_feed_marks_count(m, "f", 5, NULL), 0);
    uint64_t total = (uint64_t)GW_FEED_MARKS_PER * GW_FEED_MARK_EVERY * 2;
    for (uint64_t r = 0; r < total; r += GW_FEED_MARK_EVERY) {
        klen = fake_key(k, r);
        gw_feed_marks_note(m, "f", 5, r, k, klen);
        gw_feed_marks_note(m, "f", 5, r, k, klen); /* twice: kept once */
    }
    /* filled twice over: the stride doubled, every rank still covered */
    assert_int_equal(gw_feed_marks_count(m, "f", 5, &stride), GW_FEED_MARKS_PER);
    assert_int_equal(stride, GW_FEED_MARK_EVERY * 2);
    for (uint64_t r = 0; r < total + 5000; r += 333) {
        assert_true(gw_feed_marks_find(m, "f", 5, r, &mrank, got, &glen));
        uint64_t want =
            r / stride < GW_FEED_MARKS_PER ? r / stride * stride : (GW_FEED_MARKS_PER - 1) * stride;
        assert_int_equal(mrank, want);
        klen = fake_key(k, want);
        assert_int_equal(glen, klen);
        assert_memory_equal(got, k, klen);
    }
    /* another snapshot: nothing found; an older one's note is ignored; a
     * newer one starts the list over */
    assert_false(gw_feed_marks_find(m, "f", 6, 1000, &mrank, got, &glen));
    assert_false(gw_feed_marks_find(m, "f", 4, 1000, &mrank, got, &glen));
    klen = fake_key(k, 0);
    gw_feed_marks_note(m, "f", 4, 0, k, klen); /* older: ignored */
    assert_int_equal(gw_feed_marks_count(m, "f", 5, NULL), GW_FEED_MARKS_PER);
    klen = fake_key(k, total); /* one more: full, halved again */
    gw_feed_marks_note(m, "f", 5, total, k, klen);
    assert_int_equal(gw_feed_marks_count(m, "f", 5, &stride), GW_FEED_MARKS_PER / 2 + 1);
    assert_int_equal(stride, GW_FEED_MARK_EVERY * 4);
    assert_true(gw_feed_marks_find(m, "f", 5, total + 1, &mrank, got, &glen));
    assert_int_equal(mrank, total);
    assert_memory_equal(got, k, klen);
    klen = fake_key(k, 0);
    gw_feed_marks_note(m, "f", 6, 0, k, klen);
    assert_int_equal(gw_feed_marks_count(m, "f", 6, &stride), 1);
    assert_int_equal(stride, GW_FEED_MARK_EVERY);
    assert_false(gw_feed_marks_find(m, "f", 5, 0, &mrank, got, &glen));
    /* a rank not a multiple of the stride, bad lengths: nothing */
    gw_feed_marks_note(m, "f", 6, GW_FEED_MARK_EVERY + 1, k, klen);
    gw_feed_marks_note(m, "f", 6, GW_FEED_MARK_EVERY, k, 0);
    gw_feed_marks_note(m, "f", 6, GW_FEED_MARK_EVERY, k, GW_FEED_MARK_KEY_MAX + 1);
    assert_int_equal(gw_feed_marks_count(m, "f", 6, NULL), 1);
    /* the least recently used filter makes room */
    char f[32];
    for (int i = 0; i < GW_FEED_MARK_SETS; i++) {
        snprintf(f, sizeof(f), "g%d", i);
        gw_feed_marks_note(m, f, 6, 0, k, klen);
        assert_true(gw_feed_marks_find(m, "f", 6, 0, &mrank, got, &glen)); /* "f" stays used */
    }
    assert_int_equal(gw_feed_marks_count(m, "f", 6, NULL), 1);
    assert_int_equal(gw_feed_marks_count(m, "g0", 6, NULL), 0); /* the oldest went */
    assert_int_equal(gw_feed_marks_count(m, "g1", 6, NULL), 1);
    assert_false(gw_feed_marks_find(NULL, "f", 6, 0, &mrank, got, &glen));
    assert_false(gw_feed_marks_find(m, NULL, 6, 0, &mrank, got, &glen));
    gw_feed_marks_free(m);
    gw_feed_marks_free(NULL);
}

/* ---- pages from marks on a store ---- */

typedef gw_store_fixture fixture;

static int setup(void **state)
{
    return gw_store_fixture_setup(state, "test_gw_feed_marks");
}

static int teardown(void **state)
{
    return gw_store_fixture_teardown(state);
}

#define T0 1796356800 /* 2026-12-04 12:00:00 +08:00 */

/* Put case (county, n) updated at `at` (open or closed) into the feed
 * with its entry's value inline. */
static void put_case(gw_store *s, MDB_txn *txn, const char *county, int n, hcp_time at, bool closed)
{
    hcp_case c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "%s-20261204-%04d", county, n);
    snprintf(c.county, sizeof(c.county), "%s", county);
    c.in.kind = HCP_KIND_COMPLAINT;
    c.received_at = T0 - 86400;
    c.last_at = c.last_recorded_at = at;
    c.status = closed ? HCP_ST_CLOSED : HCP_ST_VERIFYING;
    hcp_buf b;
    hcp_buf_init(&b, 1 << 20);
    assert_int_equal(gw_feed_entry_value(&c, at, &b), HCP_OK);
    uint8_t kb[GWS_FEED_KEY_MAX];
    MDB_val k = {gws_feed_key(kb, at, c.id), kb}, v = {b.len, b.data};
    assert_int_equal(mdb_put(txn, s->feed, &k, &v, 0), MDB_SUCCESS);
    hcp_buf_free(&b);
}

/* Drop case (county, n)'s entry of time at. */
static void del_case(gw_store *s, MDB_txn *txn, const char *county, int n, hcp_time at)
{
    char id[HCP_CASE_ID_MAX];
    snprintf(id, sizeof(id), "%s-20261204-%04d", county, n);
    uint8_t kb[GWS_FEED_KEY_MAX];
    MDB_val k = {gws_feed_key(kb, at, id), kb};
    assert_int_equal(mdb_del(txn, s->feed, &k, NULL), MDB_SUCCESS);
}

/* The query's parameters: "k=v&k=v" (no escapes). */
static bool param(void *arg, const char *key, char *buf, size_t len)
{
    const char *q = arg;
    size_t kl = strlen(key);
    for (const char *p = q; p != NULL && *p; p = strchr(p, '&'), p = p != NULL ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '&');
            size_t vl = e != NULL ? (size_t)(e - v) : strlen(v);
            if (vl >= len)
                return false;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return true;
        }
    }
    return false;
}

/* The page of query text qs in txn, with marks m (NULL: a walk from the
 * newest entry) into out. */
static void page(gw_store *s, MDB_txn *txn, gw_feed_marks *m, const char *qs, hcp_buf *out)
{
    gw_feed_q q;
    gw_feed_q_err err;
    assert_int_equal(gw_feed_query_parse(&q, false, param, (void *)qs, &err), HCP_OK);
    hcp_buf_reset(out);
    assert_int_equal(gw_feed_render(s, txn, &q, m, T0 + 86400, T0, out), HCP_OK);
}

/* Every page (1 .. past the end) of the filter at several page sizes, in
 * a scattered order, with marks m and without: the same bytes. Returns
 * the entries the filter's pages held at page_size 7. */
static size_t compare_pages(gw_store *s, MDB_txn *txn, gw_feed_marks *m, const char *filter)
{
    static const unsigned sizes[] = {7, 1, 50, 200, 13};
    hcp_buf a, b;
    hcp_buf_init(&a, 8u << 20);
    hcp_buf_init(&b, 8u << 20);
    size_t entries = 0;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        unsigned size = sizes[si];
        unsigned pages = 3000 / size + 2;
        unsigned step = size == 1 ? 97 : 1; /* page_size=1: a sample of the pages */
        for (unsigned i = 0; i < pages; i += step) {
            unsigned p = 1 + (i * 7919u) % pages; /* scattered: deep before shallow */
            char qs[256];
            snprintf(qs, sizeof(qs), "%s&page=%u&page_size=%u", filter, p, size);
            page(s, txn, m, qs, &a);
            page(s, txn, NULL, qs, &b);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.data, b.data, a.len);
            if (size == 7 && a.len > 2)
                for (size_t j = 0; j < a.len; j++)
                    entries += memcmp(a.data + j, "\"service_request_id\"", 20) == 0;
        }
    }
    hcp_buf_free(&a);
    hcp_buf_free(&b);
    return entries;
}

static void t_pages(void **state)
{
    fixture *f = *state;
    assert_int_equal(gw_store_open(&f->g), HCP_OK);
    gw_store *s = f->g.store;
    gw_feed_marks *m;
    assert_int_equal(gw_feed_marks_new(&m), HCP_OK);
    MDB_txn *txn;
    /* the newest 500 entries of 海东 (no match), then 西宁 and 海东 mixed,
     * every fifth 西宁 case closed; several entries in one second */
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, 0, &txn), MDB_SUCCESS);
    for (int n = 1; n <= 2600; n++)
        put_case(s, txn, n % 3 == 0 ? "630202" : "630102", n, T0 + n / 3, n % 5 == 0);
    for (int n = 1; n <= 500; n++)
        put_case(s, txn, "630203", n, T0 + 1000 + n, false);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);

    static const char *const filters[] = {"county=630100&status=open", "county=630102",
                                          "status=closed", "county=630202&status=open"};
    char fkey[GW_FEED_QKEY_MAX];
    gw_feed_q q;
    gw_feed_q_err err;
    assert_int_equal(gw_feed_query_parse(&q, false, param, (void *)filters[0], &err), HCP_OK);
    assert_int_equal(gw_feed_query_filter_key(&q, fkey, sizeof(fkey)), HCP_OK);

    assert_int_equal(mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    uint64_t snap = mdb_txn_id(txn);
    /* 西宁 open: 2/3 of 2600, less every fifth */
    size_t want = 0;
    for (int n = 1; n <= 2600; n++)
        want += n % 3 != 0 && n % 5 != 0;
    assert_int_equal(compare_pages(s, txn, m, filters[0]), want);
    assert_int_equal(gw_feed_marks_count(m, fkey, snap, NULL),
                     (want + GW_FEED_MARK_EVERY - 1) / GW_FEED_MARK_EVERY);
    for (size_t i = 1; i < sizeof(filters) / sizeof(filters[0]); i++)
        (void)compare_pages(s, txn, m, filters[i]);
    MDB_txn *old = txn; /* kept open: it still reads the feed before the change */

    /* the feed changes: cases updated (moved to the front), one dropped,
     * new ones; the marks of the old snapshot must not serve the new */
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, 0, &txn), MDB_SUCCESS);
    for (int n = 1; n <= 2600; n += 37) {
        del_case(s, txn, n % 3 == 0 ? "630202" : "630102", n, T0 + n / 3);
        put_case(s, txn, n % 3 == 0 ? "630202" : "630102", n, T0 + 5000 + n, n % 2 == 0);
    }
    del_case(s, txn, "630102", 1001, T0 + 1001 / 3); /* not moved above */
    for (int n = 3001; n <= 3100; n++)
        put_case(s, txn, "630102", n, T0 + 2000 + n, false);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);

    assert_int_equal(mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    assert_true(mdb_txn_id(txn) != snap);
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        (void)compare_pages(s, txn, m, filters[i]);
    assert_true(gw_feed_marks_count(m, fkey, mdb_txn_id(txn), NULL) > 0);
    /* the old snapshot's transaction, after the new one left its marks */
    assert_int_equal(gw_feed_marks_count(m, fkey, snap, NULL), 0);
    assert_int_equal(compare_pages(s, old, m, filters[0]), want);
    mdb_txn_abort(old);
    mdb_txn_abort(txn);
    gw_feed_marks_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_marks),
        cmocka_unit_test_setup_teardown(t_pages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
