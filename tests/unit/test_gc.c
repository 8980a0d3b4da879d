/*
 * test_gc.c — the group-commit engine (daemon/gc.h) on a real LMDB
 * environment in a temporary directory: a full map grows and the batch is
 * redone; a map at its ceiling answers HCP_EFULL and the engine goes on;
 * the growth policy never passes the ceiling or what the disk can hold;
 * ENOSPC/EDQUOT count as a full disk, a plain EIO with room does not; a
 * stopped engine refuses. hcpd_gc_exec (the daemon's own work between
 * batches) grows a full map the same way and stops at the ceiling; the
 * engine counts the time its batches take. Both keep zeros written ahead
 * of LMDB's pages (hcpd_env_ahead), so the file grows by chunks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gc.h"
#include "hcp.h"

#define VAL_LEN (64u << 10)

typedef struct titem {
    hcpd_gc_item link;
    uint32_t key;
} titem;

typedef struct fixture {
    char dir[64];
    uv_loop_t loop;
    hcpd_env env;
    hcpd_gc *gc;
    size_t answered, refused;
    int last_rc;
    uint8_t val[VAL_LEN];
} fixture;

static int t_item(void *arg, MDB_txn *txn, hcpd_gc_item *it, size_t index)
{
    (void)index;
    fixture *f = arg;
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    if (rc != MDB_SUCCESS)
        return hcpd_mdb_err(rc);
    uint32_t key = ((titem *)it)->key;
    MDB_val k = {sizeof(key), &key}, v = {VAL_LEN, f->val};
    return hcpd_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

static void t_answer(void *arg, hcpd_gc_item *batch, int rc)
{
    fixture *f = arg;
    f->last_rc = rc;
    while (batch != NULL) {
        hcpd_gc_item *next = batch->next;
        f->answered++;
        free(batch);
        batch = next;
    }
}

static void t_refuse(void *arg, hcpd_gc_item *it)
{
    fixture *f = arg;
    f->refused++;
    free(it);
}

static int setup_map(void **state, size_t map_max, size_t initial)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/hcp-test-gc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(hcpd_env_open(&f->env, f->dir, initial, false, 8), MDB_SUCCESS);
    hcpd_gc_cfg cfg = {.loop = &f->loop,
                       .env = &f->env,
                       .dir = f->dir,
                       .max_items = 1000,
                       .map_max = map_max,
                       .ops = {.item = t_item, .answer = t_answer, .refuse = t_refuse},
                       .arg = f};
    assert_int_equal(hcpd_gc_start(&cfg, &f->gc), HCP_OK);
    *state = f;
    return 0;
}

static int setup_big(void **state)
{
    return setup_map(state, 0, 1u << 20);
}

static int setup_small(void **state)
{
    return setup_map(state, 2u << 20, 1u << 20);
}

/* A 32 MiB map from the start: room for the zeros written ahead. */
static int setup_roomy(void **state)
{
    return setup_map(state, 0, 32u << 20);
}

static int teardown(void **state)
{
    fixture *f = *state;
    hcpd_gc_stop(f->gc);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    hcpd_gc_free(f->gc);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    hcpd_env_close(&f->env);
    char path[128];
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Queue n items with keys from first and run the loop until all answered. */
static void put_n(fixture *f, uint32_t first, size_t n)
{
    size_t want = f->answered + n;
    for (size_t i = 0; i < n; i++) {
        titem *it = calloc(1, sizeof(*it));
        assert_non_null(it);
        it->key = first + (uint32_t)i;
        hcpd_gc_submit(f->gc, &it->link);
    }
    for (int i = 0; i < 1000 && f->answered < want; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->answered, want);
}

static void full_map_grows(void **state)
{
    fixture *f = *state;
    put_n(f, 0, 40); /* 2.5 MiB into a 1 MiB map */
    assert_int_equal(f->last_rc, HCP_OK);
    hcpd_gc_stats st;
    hcpd_gc_get_stats(f->gc, &st);
    assert_true(st.grows >= 1);
    assert_int_equal(st.commits, 1);
    assert_int_equal(st.disk_full, 0);
    assert_true(f->env.mapsize >= (4u << 20));
}

static void ceiling_refuses_and_goes_on(void **state)
{
    fixture *f = *state;
    put_n(f, 0, 60); /* 3.75 MiB: more than the 2 MiB ceiling */
    assert_int_equal(f->last_rc, HCP_EFULL);
    assert_int_equal(f->env.mapsize, 2u << 20);
    hcpd_gc_stats st;
    hcpd_gc_get_stats(f->gc, &st);
    assert_int_equal(st.disk_full, 1);
    assert_int_equal(st.commits, 0);
    put_n(f, 100, 4); /* what fits still commits */
    assert_int_equal(f->last_rc, HCP_OK);
    hcpd_gc_get_stats(f->gc, &st);
    assert_int_equal(st.commits, 1);
}

/* hcpd_gc_exec's work: e->n values of VAL_LEN from key e->first, counted
 * per call (a redo after growing calls it again). */
typedef struct exec_job {
    fixture *f;
    uint32_t first;
    size_t n, calls;
} exec_job;

static int t_exec(void *arg, MDB_txn *txn)
{
    exec_job *e = arg;
    e->calls++;
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    for (size_t i = 0; rc == MDB_SUCCESS && i < e->n; i++) {
        uint32_t key = e->first + (uint32_t)i;
        MDB_val k = {sizeof(key), &key}, v = {VAL_LEN, e->f->val};
        rc = mdb_put(txn, dbi, &k, &v, 0);
    }
    return hcpd_mdb_err(rc);
}

static void exec_grows_the_map(void **state)
{
    fixture *f = *state;
    exec_job e = {.f = f, .first = 500, .n = 40}; /* 2.5 MiB into a 1 MiB map */
    assert_int_equal(hcpd_gc_exec(f->gc, t_exec, &e), HCP_OK);
    assert_true(e.calls >= 2);
    hcpd_gc_stats st;
    hcpd_gc_get_stats(f->gc, &st);
    assert_true(st.grows >= 1);
    assert_true(f->env.mapsize >= (4u << 20));
    assert_int_equal(hcpd_gc_exec(NULL, t_exec, &e), HCP_EINVAL);
    assert_int_equal(hcpd_gc_exec(f->gc, NULL, &e), HCP_EINVAL);
    /* the batches' time is counted, exec's is not */
    assert_int_equal(st.busy_ns, 0);
    put_n(f, 0, 2);
    hcpd_gc_get_stats(f->gc, &st);
    assert_true(st.busy_ns > 0);
}

static void exec_stops_at_the_ceiling(void **state)
{
    fixture *f = *state;
    exec_job e = {.f = f, .first = 0, .n = 60}; /* 3.75 MiB: more than the 2 MiB ceiling */
    assert_int_equal(hcpd_gc_exec(f->gc, t_exec, &e), HCP_EFULL);
    assert_int_equal(f->env.mapsize, 2u << 20);
    e.n = 4; /* what fits still commits */
    assert_int_equal(hcpd_gc_exec(f->gc, t_exec, &e), HCP_OK);
}

static void grow_target_policy(void **state)
{
    fixture *f = *state;
    int rc = -1;
    assert_int_equal(hcpd_gc_grow_target(f->dir, 1u << 20, (size_t)1 << 40, &rc), 2u << 20);
    assert_int_equal(rc, HCP_OK);
    assert_int_equal(hcpd_gc_grow_target(f->dir, 2u << 20, 3u << 20, &rc), 3u << 20);
    assert_int_equal(rc, HCP_OK);
    assert_int_equal(hcpd_gc_grow_target(f->dir, 1u << 20, 1u << 20, &rc), 0);
    assert_int_equal(rc, HCP_EFULL);
    /* no disk here holds 2 PiB: the disk, not the ceiling, says no */
    assert_int_equal(hcpd_gc_grow_target(f->dir, (size_t)1 << 50, SIZE_MAX, &rc), 0);
    assert_int_equal(rc, HCP_ENOSPC);
}

static void disk_full_codes(void **state)
{
    fixture *f = *state;
    assert_true(hcpd_gc_disk_full(f->dir, ENOSPC));
    assert_true(hcpd_gc_disk_full(f->dir, EDQUOT));
    assert_false(hcpd_gc_disk_full(f->dir, MDB_MAP_FULL));
    assert_false(hcpd_gc_disk_full(NULL, EIO));
    assert_int_equal(hcpd_mdb_err(MDB_MAP_FULL), HCP_EFULL);
    assert_int_equal(hcpd_mdb_err(ENOSPC), HCP_ENOSPC);
    assert_int_equal(hcpd_mdb_err(EDQUOT), HCP_ENOSPC);
    assert_string_equal(hcp_strerror(HCP_ENOSPC), "no space left on the disk");
}

/* hcpd_gc_pending: true while items wait for the loop, false once they
 * ran and once the engine stops. */
static void pending_while_queued(void **state)
{
    fixture *f = *state;
    assert_false(hcpd_gc_pending(f->gc));
    assert_false(hcpd_gc_pending(NULL));
    titem *it = calloc(1, sizeof(*it));
    assert_non_null(it);
    size_t want = f->answered + 1;
    hcpd_gc_submit(f->gc, &it->link);
    assert_true(hcpd_gc_pending(f->gc));
    for (int i = 0; i < 1000 && f->answered < want; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->answered, want);
    assert_false(hcpd_gc_pending(f->gc));
    hcpd_gc_stop(f->gc);
    assert_false(hcpd_gc_pending(f->gc));
}

static void stopped_refuses(void **state)
{
    fixture *f = *state;
    put_n(f, 0, 2);
    hcpd_gc_stop(f->gc);
    assert_true(hcpd_gc_stopping(f->gc));
    titem *it = calloc(1, sizeof(*it));
    assert_non_null(it);
    hcpd_gc_submit(f->gc, &it->link);
    assert_int_equal(f->refused, 1);
    hcpd_gc_stop(f->gc); /* a second stop does nothing (teardown stops a third time) */
}

/* The room written ahead of LMDB's pages: only when less than
 * HCPD_AHEAD_LOW is left, one chunk from the end, never past the map. */
static void ahead_plan(void **state)
{
    (void)state;
    const uint64_t mib = 1u << 20, map = 64 * mib;
    uint64_t off = 1;
    assert_int_equal(hcpd_ahead_plan(10 * mib, 10 * mib - HCPD_AHEAD_LOW, 0, map, &off), 0);
    assert_int_equal(off, 10 * mib);
    assert_int_equal(hcpd_ahead_plan(10 * mib, 10 * mib - HCPD_AHEAD_LOW + 4096, 0, map, &off),
                     HCPD_AHEAD_CHUNK);
    assert_int_equal(off, 10 * mib);
    assert_int_equal(hcpd_ahead_plan(45056, 45056, 0, map, &off), HCPD_AHEAD_CHUNK);
    /* LMDB already past the end of the file: it grows the file itself */
    assert_int_equal(hcpd_ahead_plan(10 * mib, 11 * mib, 0, map, &off), 0);
    /* the map's end cuts the chunk; at or past it nothing */
    assert_int_equal(hcpd_ahead_plan(map - mib, map - mib, 0, map, &off), mib);
    assert_int_equal(hcpd_ahead_plan(map, map, 0, map, &off), 0);
    assert_int_equal(hcpd_ahead_plan(map + mib, map, 0, map, &off), 0);
    assert_int_equal(hcpd_ahead_plan(0, 0, 0, map, NULL), 0);
    /* after a big commit (a catch-up) LMDB grows the file itself; a small
     * one gets the chunk */
    assert_int_equal(hcpd_ahead_plan(10 * mib, 10 * mib, HCPD_AHEAD_BIG, map, &off), 0);
    assert_int_equal(hcpd_ahead_plan(10 * mib, 10 * mib, HCPD_AHEAD_BIG - 4096, map, &off),
                     HCPD_AHEAD_CHUNK);
    hcpd_env_ahead(NULL, NULL); /* NULL-safe */
}

/* The size of data.mdb, and the bytes of it LMDB's committed pages use. */
static uint64_t file_size(const fixture *f)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static uint64_t used_bytes(const fixture *f)
{
    MDB_envinfo info;
    MDB_stat st;
    assert_int_equal(mdb_env_info(f->env.env, &info), MDB_SUCCESS);
    assert_int_equal(mdb_env_stat(f->env.env, &st), MDB_SUCCESS);
    return ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

/* Both ways into a write transaction (the batches and hcpd_gc_exec) keep
 * zeros ahead of LMDB's pages: the file grows a chunk at a time, not at
 * every commit, except after big commits; what was committed reads back. */
static void commits_write_room_ahead(void **state)
{
    fixture *f = *state;
    put_n(f, 0, 1);
    uint64_t size = file_size(f);
    assert_true(size >= used_bytes(f) + HCPD_AHEAD_LOW);
    assert_true(size >= HCPD_AHEAD_CHUNK);
    assert_int_equal(f->env.ahead_end, size); /* known: later commits need no fstat */
    /* 80 commits of 64 KiB each (5 MiB): each commit's pages land in the
     * room, and the file grows in chunks only */
    uint64_t last = size;
    size_t growths = 0;
    for (uint32_t i = 1; i <= 80; i++) {
        if (i % 2 == 0) {
            put_n(f, i, 1);
        } else {
            exec_job e = {.f = f, .first = i, .n = 1};
            assert_int_equal(hcpd_gc_exec(f->gc, t_exec, &e), HCP_OK);
        }
        uint64_t now = file_size(f);
        assert_true(now > used_bytes(f));
        if (now != last)
            growths++;
        assert_true(now - last == 0 || now - last >= HCPD_AHEAD_CHUNK); /* never a page or two */
        last = now;
    }
    assert_true(growths >= 1 && growths <= 3);
    /* commits of 1.3 MiB each (a catch-up): no zeros, LMDB grows the file
     * itself (every new byte written once) */
    for (uint32_t i = 0; i < 8; i++) {
        exec_job e = {.f = f, .first = 1000 + 20 * i, .n = 20};
        assert_int_equal(hcpd_gc_exec(f->gc, t_exec, &e), HCP_OK);
    }
    assert_true(file_size(f) < used_bytes(f) + HCPD_AHEAD_LOW);
    /* small commits again: the room comes back */
    put_n(f, 2000, 1);
    put_n(f, 2001, 1);
    assert_true(file_size(f) >= used_bytes(f) + HCPD_AHEAD_LOW);
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat ms;
    assert_int_equal(hcpd_env_read_begin(&f->env, &txn), HCP_OK);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), MDB_SUCCESS);
    assert_int_equal(mdb_stat(txn, dbi, &ms), MDB_SUCCESS);
    hcpd_env_read_end(&f->env, txn);
    assert_int_equal(ms.ms_entries, 81 + 160 + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(full_map_grows, setup_big, teardown),
        cmocka_unit_test_setup_teardown(ceiling_refuses_and_goes_on, setup_small, teardown),
        cmocka_unit_test_setup_teardown(grow_target_policy, setup_big, teardown),
        cmocka_unit_test_setup_teardown(disk_full_codes, setup_big, teardown),
        cmocka_unit_test_setup_teardown(stopped_refuses, setup_big, teardown),
        cmocka_unit_test_setup_teardown(exec_grows_the_map, setup_big, teardown),
        cmocka_unit_test_setup_teardown(exec_stops_at_the_ceiling, setup_small, teardown),
        cmocka_unit_test_setup_teardown(pending_while_queued, setup_big, teardown),
        cmocka_unit_test(ahead_plan),
        cmocka_unit_test_setup_teardown(commits_write_room_ahead, setup_roomy, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
