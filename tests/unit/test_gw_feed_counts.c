/*
 * test_gw_feed_counts.c — the feed's count index (gateway/gwstore.h,
 * gws_feed_seek_rank): a store whose feed entries were written without
 * counts (as by a gateway older than the index) gets them rebuilt when it
 * is opened, and then every rank lands on the entry a walk from the newest
 * finds there: thousands of entries in one second, case numbers of 4 to 7
 * digits, update times whose bytes are 0xff, one entry alone in its year.
 * An index built with other levels is rebuilt at open, in a map grown first
 * when it is full.
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
#include "seal.h"
#include "gw_store_fixture.h"

typedef gw_store_fixture fixture;

static int setup(void **state)
{
    return gw_store_fixture_setup(state, "test_gw_feed_counts");
}

static int teardown(void **state)
{
    return gw_store_fixture_teardown(state);
}

/* Put feed key (at, id) with a dummy value straight into the feed dbi. */
static void put_raw(gw_store *s, MDB_txn *txn, hcp_time at, const char *id)
{
    uint8_t kb[GWS_FEED_KEY_MAX];
    MDB_val k = {gws_feed_key(kb, at, id), kb}, v = {1, "x"};
    assert_int_equal(mdb_put(txn, s->feed, &k, &v, 0), MDB_SUCCESS);
}

/* Every rank of the feed lands where a walk from the newest finds it. */
static void check_ranks(gw_store *s, size_t want)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_stat(txn, s->feed, &st), MDB_SUCCESS);
    size_t total = st.ms_entries;
    assert_int_equal(total, want);
    /* the reference: the keys newest first, by a walk */
    char(*keys)[GWS_FEED_KEY_MAX] = calloc(total, GWS_FEED_KEY_MAX);
    size_t *lens = calloc(total, sizeof(*lens));
    assert_non_null(keys);
    assert_non_null(lens);
    MDB_cursor *walk, *cur;
    assert_int_equal(mdb_cursor_open(txn, s->feed, &walk), MDB_SUCCESS);
    assert_int_equal(mdb_cursor_open(txn, s->feed, &cur), MDB_SUCCESS);
    MDB_val k, v;
    size_t i = 0;
    for (int rc = mdb_cursor_get(walk, &k, &v, MDB_LAST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(walk, &k, &v, MDB_PREV), i++) {
        memcpy(keys[i], k.mv_data, k.mv_size);
        lens[i] = k.mv_size;
    }
    assert_int_equal(i, total);
    for (size_t r = 0; r < total; r++) {
        assert_int_equal(gws_feed_seek_rank(s, txn, cur, r, &k, &v), HCP_OK);
        assert_int_equal(k.mv_size, lens[r]);
        assert_memory_equal(k.mv_data, keys[r], lens[r]);
        if (r + 1 < total) { /* the cursor is left there: the next is one step on */
            assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_PREV), MDB_SUCCESS);
            assert_memory_equal(k.mv_data, keys[r + 1], lens[r + 1]);
        }
    }
    assert_int_equal(gws_feed_seek_rank(s, txn, cur, total, &k, &v), HCP_ENOTFOUND);
    assert_int_equal(gws_feed_seek_rank(s, txn, cur, total + 1000, &k, &v), HCP_ENOTFOUND);
    mdb_cursor_close(walk);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    free(keys);
    free(lens);
}

/* Open the fixture's store and begin a write transaction on it. */
static gw_store *open_write(fixture *f, MDB_txn **txn)
{
    assert_int_equal(gw_store_open(&f->g), HCP_OK);
    assert_int_equal(mdb_txn_begin(f->g.store->db.env, NULL, 0, txn), MDB_SUCCESS);
    return f->g.store;
}

static void t_ranks(void **state)
{
    fixture *f = *state;
    MDB_txn *txn;
    gw_store *s = open_write(f, &txn);
    char id[HCP_CASE_ID_MAX];
    hcp_time t0 = 1796356800;         /* 2026-12-04 12:00:00 +08:00 */
    for (int n = 1; n <= 3000; n++) { /* 3,000 in one second */
        snprintf(id, sizeof(id), "630102-20261204-%04d", n);
        put_raw(s, txn, t0, id);
    }
    for (int n = 99990; n <= 101200; n++) { /* 5 and 6 digits, one second */
        snprintf(id, sizeof(id), "630202-20261204-%d", n);
        put_raw(s, txn, t0 + 1, id);
    }
    for (int n = 0; n < 400; n++) { /* spread over days, some 7 digits */
        snprintf(id, sizeof(id), "630103-20261203-%d", 1000000 + n * 7);
        put_raw(s, txn, t0 - 86400 + n * 97, id);
    }
    put_raw(s, txn, 0x6a5100ff, "630102-20261203-0001"); /* 0xff bytes in the time */
    put_raw(s, txn, 0x6a51ffff, "630102-20261203-0002");
    put_raw(s, txn, t0 - 400 * 86400, "630102-20251030-0001"); /* alone, a year before */
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    gw_store_close(&f->g); /* written without counts: the next open rebuilds them */
    assert_int_equal(gw_store_open(&f->g), HCP_OK);
    s = f->g.store;
    assert_true(s->feed_cnt_ok);

    check_ranks(s, 3000 + 1211 + 400 + 3);
}

/* An index built with other levels (an older gateway's: no key naming
 * them, or another list) is rebuilt at open, and then serves every rank. */
static void t_levels_changed(void **state)
{
    fixture *f = *state;
    MDB_txn *txn;
    gw_store *s = open_write(f, &txn);
    char id[HCP_CASE_ID_MAX];
    static char big[1024]; /* entries of 1 KiB: a store of a few MiB */
    memset(big, 'x', sizeof(big));
    for (int n = 1; n <= 2500; n++) { /* one second, 6-digit numbers */
        snprintf(id, sizeof(id), "630102-20261204-%06d", 100000 + n * 3);
        uint8_t kb[GWS_FEED_KEY_MAX];
        MDB_val k = {gws_feed_key(kb, 1796356800, id), kb}, v = {sizeof(big), big};
        assert_int_equal(mdb_put(txn, s->feed, &k, &v, 0), MDB_SUCCESS);
    }
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    gw_store_close(&f->g);
    assert_int_equal(gw_store_open(&f->g), HCP_OK); /* counted at this open */
    s = f->g.store;
    check_ranks(s, 2500);

    /* as an older gateway left it: the levels' key gone, the deepest
     * level's buckets missing; the top level's totals still agree */
    static const uint8_t fkey[] = {0xff, 'l', 'e', 'v', 'e', 'l', 's'};
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, 0, &txn), MDB_SUCCESS);
    MDB_val k = {sizeof(fkey), (void *)fkey}, v;
    assert_int_equal(mdb_get(txn, s->feed_cnt, &k, &v), MDB_SUCCESS);
    assert_int_equal(v.mv_size, 8); /* eight levels */
    assert_int_equal(mdb_del(txn, s->feed_cnt, &k, NULL), MDB_SUCCESS);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, s->feed_cnt, &cur), MDB_SUCCESS);
    size_t gone = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (((const uint8_t *)k.mv_data)[0] == 28) {
            assert_int_equal(mdb_cursor_del(cur, 0), MDB_SUCCESS);
            gone++;
        }
    mdb_cursor_close(cur);
    assert_true(gone > 0);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    gw_store_close(&f->g);
    /* and mapped no larger than its file, as LMDB maps a store bigger than
     * the map asked for: the rebuild needs room the open must make first */
    assert_int_equal(setenv("HCP_MAPSIZE", "1048576", 1), 0);
    f->g.cfg.map_max_mib = 1024;
    int orc = gw_store_open(&f->g);
    unsetenv("HCP_MAPSIZE");
    assert_int_equal(orc, HCP_OK);
    s = f->g.store;
    assert_true(s->feed_cnt_ok);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(s->db.env, &info), MDB_SUCCESS);
    assert_true(info.me_mapsize >= (size_t)4 << 20); /* grown from the file's size */
    check_ranks(s, 2500);
    assert_int_equal(mdb_txn_begin(s->db.env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    k = (MDB_val){sizeof(fkey), (void *)fkey};
    assert_int_equal(mdb_get(txn, s->feed_cnt, &k, &v), MDB_SUCCESS); /* named again */
    mdb_txn_abort(txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_ranks, setup, teardown),
        cmocka_unit_test_setup_teardown(t_levels_changed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
