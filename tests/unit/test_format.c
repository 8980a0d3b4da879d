/*
 * test_format.c — the stores' data-format version (daemon/format.h) on a
 * real LMDB environment in a temporary directory: a new store is stamped,
 * a store from before the key is stamped 1, a newer store is refused with
 * a message naming both formats, every migration step runs in order and a
 * failing one stops the open, a read-only open neither stamps nor migrates,
 * a malformed value is refused. Also: --version (HCPD_CONF_VERSION).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "be.h"
#include "format.h"
#include "hcpd.h"

typedef struct fixture {
    char dir[64];
    MDB_env *env;
    MDB_dbi meta;
    unsigned steps[8];
    size_t nsteps;
    int fail_at; /* a step from this format fails; -1: none */
} fixture;

/* A fresh environment with an empty meta table. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/hcp-format-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(mdb_env_create(&f->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(f->env, 4), 0);
    assert_int_equal(mdb_env_open(f->env, f->dir, 0, 0600), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", MDB_CREATE, &f->meta), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    f->fail_at = -1;
    *state = f;
    return 0;
}

/* Close and remove the environment. */
static int teardown(void **state)
{
    fixture *f = *state;
    mdb_env_close(f->env);
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", f->dir);
    (void)unlink(p); /* a test that failed early may not have made it */
    snprintf(p, sizeof(p), "%s/lock.mdb", f->dir);
    (void)unlink(p);
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

/* Store a raw "format" value of len bytes. */
static void put_raw(fixture *f, const void *val, size_t len)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
    MDB_val k = {6, "format"}, v = {len, (void *)val};
    assert_int_equal(mdb_put(txn, f->meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

/* Store format n. */
static void put_format(fixture *f, unsigned n)
{
    uint8_t b[4];
    hcp_be32_put(b, n);
    put_raw(f, b, sizeof(b));
}

/* The stored format, 0 when absent. */
static unsigned get_format(fixture *f)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
    MDB_val k = {6, "format"}, v;
    int rc = mdb_get(txn, f->meta, &k, &v);
    unsigned n = rc == 0 && v.mv_size == 4 ? hcp_be32_get(v.mv_data) : 0;
    mdb_txn_abort(txn);
    return n;
}

/* A migration step: records from, fails at f->fail_at. */
static int step(void *arg, MDB_txn *txn, unsigned from)
{
    fixture *f = arg;
    (void)txn;
    if ((int)from == f->fail_at)
        return EIO;
    if (f->nsteps < 8)
        f->steps[f->nsteps++] = from;
    return 0;
}

/* hcpd_format_check in a transaction of its own, committed on success. */
static int check(fixture *f, unsigned current, bool readonly, bool migrate, unsigned *stored,
                 char *err, size_t errlen)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->env, NULL, readonly ? MDB_RDONLY : 0, &txn), 0);
    err[0] = '\0';
    int rc = hcpd_format_check(txn, f->meta, "hcp-node", current, readonly, migrate ? step : NULL,
                               f, stored, err, errlen);
    if (rc == 0 && !readonly)
        assert_int_equal(mdb_txn_commit(txn), 0);
    else
        mdb_txn_abort(txn);
    return rc;
}

/* A new (or pre-format) store is stamped with the current format. */
static void test_stamps_new(void **state)
{
    fixture *f = *state;
    char err[512];
    unsigned stored = 0;
    assert_int_equal(get_format(f), 0);
    assert_int_equal(check(f, HCPD_FORMAT_NODE, false, false, &stored, err, sizeof(err)), 0);
    assert_int_equal(stored, 1); /* absent reads as 1 */
    assert_int_equal(get_format(f), HCPD_FORMAT_NODE);
    /* again: nothing changes */
    assert_int_equal(check(f, HCPD_FORMAT_NODE, false, false, &stored, err, sizeof(err)), 0);
    assert_int_equal(stored, HCPD_FORMAT_NODE);
}

/* A newer store is refused, saying both formats and what to do. */
static void test_refuses_newer(void **state)
{
    fixture *f = *state;
    char err[512];
    put_format(f, 7);
    unsigned stored = 0;
    assert_int_equal(check(f, 2, false, true, &stored, err, sizeof(err)), MDB_INCOMPATIBLE);
    assert_int_equal(stored, 7);
    assert_non_null(strstr(err, "data format 7"));
    assert_non_null(strstr(err, "newer hcp-node"));
    assert_non_null(strstr(err, "up to 2"));
    assert_non_null(strstr(err, hcpd_version()));
    assert_int_equal(f->nsteps, 0);
    assert_int_equal(get_format(f), 7); /* untouched */
    /* read-only too */
    assert_int_equal(check(f, 2, true, false, NULL, err, sizeof(err)), MDB_INCOMPATIBLE);
}

/* An older store runs every step in order, then is stamped. */
static void test_migrates_older(void **state)
{
    fixture *f = *state;
    char err[512];
    put_format(f, 1);
    assert_int_equal(check(f, 4, false, true, NULL, err, sizeof(err)), 0);
    assert_int_equal(f->nsteps, 3);
    assert_int_equal(f->steps[0], 1);
    assert_int_equal(f->steps[1], 2);
    assert_int_equal(f->steps[2], 3);
    assert_int_equal(get_format(f), 4);
}

/* A failing step stops the open and leaves the store as it was. */
static void test_failed_migration(void **state)
{
    fixture *f = *state;
    char err[512];
    put_format(f, 1);
    f->fail_at = 2;
    assert_int_equal(check(f, 4, false, true, NULL, err, sizeof(err)), EIO);
    assert_non_null(strstr(err, "from data format 2 to 3"));
    assert_int_equal(get_format(f), 1);
}

/* Read-only: an absent key or an older format without steps is read as
 * it is; one that needs a step is refused until the daemon migrates it. */
static void test_readonly(void **state)
{
    fixture *f = *state;
    char err[512];
    assert_int_equal(check(f, 1, true, false, NULL, err, sizeof(err)), 0);
    assert_int_equal(get_format(f), 0); /* not stamped */
    put_format(f, 1);
    assert_int_equal(check(f, 2, true, false, NULL, err, sizeof(err)), 0);
    assert_int_equal(check(f, 2, true, true, NULL, err, sizeof(err)), MDB_INCOMPATIBLE);
    assert_non_null(strstr(err, "start the daemon once"));
    assert_int_equal(f->nsteps, 0);
}

/* A malformed value (not 4 bytes, or 0) is refused. */
static void test_malformed(void **state)
{
    fixture *f = *state;
    char err[512];
    put_raw(f, "abc", 3);
    assert_int_equal(check(f, 1, false, false, NULL, err, sizeof(err)), MDB_CORRUPTED);
    assert_non_null(strstr(err, "malformed"));
    put_format(f, 0);
    assert_int_equal(check(f, 1, false, false, NULL, err, sizeof(err)), MDB_CORRUPTED);
}

/* --version is its own answer of the flag parser; the string looks like one. */
static void test_version_flag(void **state)
{
    (void)state;
    typedef struct {
        char data[64];
    } cfg_t;
    static const hcpd_conf_opt opts[] = {HCPD_CONF_STR_OPT(cfg_t, "data", data)};
    const hcpd_conf c = {opts, 1, NULL};
    cfg_t cfg = {{0}};
    char err[256];
    char *argv[] = {"prog", "--data", "x", "--version", NULL};
    assert_int_equal(hcpd_conf_parse(&c, &cfg, 4, argv, err, sizeof(err)), HCPD_CONF_VERSION);
    const char *v = hcpd_version();
    assert_non_null(v);
    assert_true(v[0] >= '0' && v[0] <= '9');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stamps_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_older, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test(test_version_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
