/*
 * test_gw_log.c — the gateway's event log (gateway/gwstore.h, gws_log_put
 * and gws_log_get). A county's events put in seq order at the end of the
 * tree are appended: LMDB fills each page (6 events of ~650 bytes to a
 * 4 KiB page, where its ordinary split leaves 5). Events of a county whose
 * keys sort before the tree's end, and an event put again, take the
 * ordinary put; every event reads back with its hash, record and personal
 * part either way.
 * The transparency log's readers through a cursor (gw_tlog_entry,
 * gw_tlog_leaf_hash), which step to a near key instead of searching from
 * the root, find what a fresh search finds in any order of look-ups:
 * neighbours both ways, jumps, gaps of every size, past the end, and the
 * two kinds of key on one cursor.
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

#include "codec.h"
#include "gwstore.h"
#include "merkle.h"
#include "tlog.h"
#include "seal.h"
#include "gw_store_fixture.h"

typedef gw_store_fixture fixture;

#define REC_LEN 560 /* with its header and sealed name, ~640 stored bytes */

static int setup(void **state)
{
    return gw_store_fixture_setup(state, "test_gw_log");
}

static int teardown(void **state)
{
    return gw_store_fixture_teardown(state);
}

/* The record, hash and personal part of (county, seq): its bytes name it. */
static void event_of(const char *county, uint64_t seq, uint8_t hash[HCP_HASH_LEN],
                     uint8_t rec[REC_LEN], char pii[32])
{
    for (size_t i = 0; i < HCP_HASH_LEN; i++)
        hash[i] = (uint8_t)(seq * 7 + i + (uint8_t)county[5]);
    for (size_t i = 0; i < REC_LEN; i++)
        rec[i] = (uint8_t)(seq + i * 3 + (uint8_t)county[5]);
    snprintf(pii, 32, "name-%s-%llu", county, (unsigned long long)seq);
}

static void put(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq)
{
    uint8_t hash[HCP_HASH_LEN], rec[REC_LEN];
    char pii[32];
    event_of(county, seq, hash, rec, pii);
    assert_int_equal(gws_log_put(s, txn, county, seq, hash, rec, sizeof(rec), pii, strlen(pii)),
                     HCP_OK);
}

static void check(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq)
{
    uint8_t hash[HCP_HASH_LEN], rec[REC_LEN], got_hash[HCP_HASH_LEN];
    char pii[32];
    event_of(county, seq, hash, rec, pii);
    hcp_buf r, p;
    hcp_buf_init(&r, HCP_RECORD_MAX);
    hcp_buf_init(&p, HCP_RECORD_MAX);
    assert_int_equal(gws_log_get(s, txn, county, seq, true, got_hash, &r, &p, NULL), HCP_OK);
    assert_memory_equal(got_hash, hash, sizeof(hash));
    assert_int_equal(r.len, sizeof(rec));
    assert_memory_equal(r.data, rec, sizeof(rec));
    assert_int_equal(p.len, strlen(pii));
    assert_memory_equal(p.data, pii, p.len);
    hcp_buf_free(&r);
    hcp_buf_free(&p);
}

static size_t leaf_pages(gw_store *s, MDB_txn *txn)
{
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, s->log, &st), MDB_SUCCESS);
    return st.ms_leaf_pages;
}

static void t_append_and_fallback(void **state)
{
    fixture *f = *state;
    assert_int_equal(gw_store_open(&f->g), HCP_OK);
    gw_store *s = f->g.store;
    const uint64_t n = 1200;
    MDB_txn *txn;

    /* one county in seq order, in transactions of 300: appended, so 6 a
     * page (LMDB's ordinary split would give n / 5 = 240 pages) */
    for (uint64_t seq = 1; seq <= n; seq++) {
        if (seq % 300 == 1)
            assert_int_equal(mdb_txn_begin(s->db.env, NULL, 0, &txn), MDB_SUCCESS);
        put(s, txn, "630122", seq);
        if (seq % 300 == 0)
            assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    }
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    size_t pages = leaf_pages(s, txn);
    assert_true(pages <= n / 6 + 1);
    mdb_txn_abort(txn);

    /* a county sorting before it, and an event put again: the ordinary put */
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, 0, &txn), MDB_SUCCESS);
    for (uint64_t seq = 1; seq <= 100; seq++)
        put(s, txn, "630102", seq);
    put(s, txn, "630122", 7);
    put(s, txn, "630122", n);
    put(s, txn, "630122", n + 1); /* the end of the tree again */
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);

    assert_int_equal(mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, s->log, &st), MDB_SUCCESS);
    assert_int_equal(st.ms_entries, n + 1 + 100);
    for (uint64_t seq = 1; seq <= n + 1; seq++)
        check(s, txn, "630122", seq);
    for (uint64_t seq = 1; seq <= 100; seq++)
        check(s, txn, "630102", seq);
    uint8_t h[HCP_HASH_LEN];
    assert_int_equal(gws_log_hash(s, txn, "630102", 101, h), HCP_ENOTFOUND);
    mdb_txn_abort(txn);
}

/* Leaf i's bytes: their length and content name it. */
static size_t leaf_of(uint64_t i, char *buf, size_t max)
{
    int n = snprintf(buf, max, "{\"leaf\":%llu,\"pad\":\"%0*d\"}", (unsigned long long)i,
                     (int)(i % 17), 0);
    assert_true(n > 0 && (size_t)n < max);
    return (size_t)n;
}

/* gw_tlog_entry on cur gives leaf i's bytes, or not found past the end. */
static void check_entry(MDB_cursor *cur, uint64_t i, uint64_t size)
{
    const void *p = NULL;
    size_t n = 0;
    if (i >= size) {
        assert_int_equal(gw_tlog_entry(cur, i, &p, &n), HCP_ENOTFOUND);
        return;
    }
    char want[128];
    size_t wn = leaf_of(i, want, sizeof(want));
    assert_int_equal(gw_tlog_entry(cur, i, &p, &n), HCP_OK);
    assert_int_equal(n, wn);
    assert_memory_equal(p, want, wn);
}

/* gw_tlog_leaf_hash on cur gives leaf i's hash, or not found past the end. */
static void check_hash(MDB_cursor *cur, uint64_t i, uint64_t size)
{
    uint8_t h[32], want_h[32];
    if (i >= size) {
        assert_int_equal(gw_tlog_leaf_hash(cur, i, h), HCP_ENOTFOUND);
        return;
    }
    char want[128];
    size_t wn = leaf_of(i, want, sizeof(want));
    assert_int_equal(hcp_merkle_leaf_hash(want, wn, want_h), HCP_OK);
    assert_int_equal(gw_tlog_leaf_hash(cur, i, h), HCP_OK);
    assert_memory_equal(h, want_h, 32);
}

/* Both on one cursor: the two kinds of key in turn. */
static void check_leaf(MDB_cursor *cur, uint64_t i, uint64_t size)
{
    check_entry(cur, i, size);
    check_hash(cur, i, size);
}

static void t_tlog_near(void **state)
{
    fixture *f = *state;
    assert_int_equal(gw_store_open(&f->g), HCP_OK);
    gw_store *s = f->g.store;
    const uint64_t size = 300;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, 0, &txn), MDB_SUCCESS);
    for (uint64_t i = 0; i < size; i++) {
        char buf[128];
        size_t n = leaf_of(i, buf, sizeof(buf));
        assert_int_equal(gw_tlog_append(txn, s->tlog, buf, n), HCP_OK);
    }
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);

    assert_int_equal(mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    /* one cursor for entries, one for hashes, one for both kinds mixed */
    MDB_cursor *ec, *hc, *mixed;
    assert_int_equal(mdb_cursor_open(txn, s->tlog, &ec), MDB_SUCCESS);
    assert_int_equal(mdb_cursor_open(txn, s->tlog, &hc), MDB_SUCCESS);
    assert_int_equal(mdb_cursor_open(txn, s->tlog, &mixed), MDB_SUCCESS);
    static const uint64_t order[] = {
        299, 298, 297, 293, 289, 284, 283, 290, 295, 299, 300, 301,  296, 0,   1,   5, 4, 0,
        10,  15,  11,  7,   250, 254, 258, 262, 266, 270, 269, 9999, 298, 303, 299, 2, 3, 1,
    };
    for (size_t j = 0; j < sizeof(order) / sizeof(order[0]); j++) {
        uint64_t i = order[j];
        check_leaf(mixed, i, size);
        /* the entry and the hash alone, each on a cursor of its own */
        check_entry(ec, i, size);
        check_hash(hc, i, size);
    }
    /* a walk down the whole log, newest first, and up again, stepping */
    for (uint64_t i = size; i-- > 0;)
        check_leaf(ec, i, size);
    for (uint64_t i = 0; i < size; i += 3)
        check_leaf(hc, i, size);
    mdb_cursor_close(ec);
    mdb_cursor_close(hc);
    mdb_cursor_close(mixed);
    mdb_txn_abort(txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_append_and_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tlog_near, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
