/* test_node_store.c — the node's store queries (node/store.c) against a real
 * LMDB in a temporary directory: the open cases the sweep visits, the case
 * list's scan with its cursor, the month's ledger scan, the status index's
 * key, and the subcommands' opens. Under ASan a cursor left open on any
 * path shows as a leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rules_fixture.h"
#include "store.h"
#include "writer.h"

#define COUNTY "630102"

typedef struct fixture {
    char dir[64];
    hcp_sealer *sealer;
    hcp_cal *cal;
    node_store s;
    bool open;
} fixture;

/* The cases the tests store: id and status (the index is by status). */
static const struct {
    const char *id;
    uint8_t status;
} cases[] = {
    {"630102-20260105-0003", HCP_ST_FEEDBACK_PENDING}, {"630102-20260213-0001", HCP_ST_RECEIVED},
    {"630102-20260213-0002", HCP_ST_VERIFYING},        {"630102-20260214-0001", HCP_ST_CLOSED},
    {"630102-20260301-0001", HCP_ST_DISPUTED},         {"630102-20260301-0002", HCP_ST_RESOLVED},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* A case opened by the rules, then given id and status. */
static void make_case(fixture *f, const char *id, uint8_t status, hcp_case *c)
{
    hcp_event ev;
    make_open(&ev, HCP_KIND_COMPLAINT, 0, true, T("2026-02-13T10:00:00+08:00"));
    snprintf(ev.case_id, sizeof(ev.case_id), "%s", id);
    memset(c, 0, sizeof(*c));
    assert_int_equal(hcp_rules_apply(c, &ev, f->cal, ev.at, NULL), HCP_OK);
    c->status = status;
    hcp_event_clear(&ev);
}

/* Write every case of `cases` in one transaction. */
static void put_cases(fixture *f)
{
    MDB_txn *txn;
    assert_int_equal(store_write_begin(&f->s, &txn), HCP_OK);
    for (size_t i = 0; i < NCASES; i++) {
        hcp_case c;
        make_case(f, cases[i].id, cases[i].status, &c);
        assert_int_equal(store_case_put(&f->s, txn, NULL, &c), HCP_OK);
        hcp_case_clear(&c);
    }
    assert_int_equal(store_cache_flush(&f->s, txn), HCP_OK);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    store_cache_drop(&f->s);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_node_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    uint8_t key[HCP_SEAL_KEY_LEN];
    memset(key, 7, sizeof(key));
    assert_int_equal(hcp_sealer_new(key, &f->sealer), HCP_OK);
    assert_int_equal(hcp_cal_default(&f->cal), HCP_OK);
    char err[256];
    assert_int_equal(store_open(&f->s, f->dir, COUNTY, false, f->sealer, err, sizeof(err)), HCP_OK);
    f->open = true;
    put_cases(f);
    *state = f;
    return 0;
}

/* Remove the store's files and its directory. */
static void remove_dir(const char *dir)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", dir);
    (void)unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", dir);
    (void)unlink(p);
    (void)rmdir(dir);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->open)
        store_close(&f->s);
    remove_dir(f->dir);
    hcp_sealer_free(f->sealer);
    hcp_cal_free(f->cal);
    free(f);
    return 0;
}

/* ---- the status index's key ---- */

static void test_status_key(void **state)
{
    (void)state;
    uint8_t buf[STORE_STATUS_KEY_MAX];
    size_t len;
    uint8_t st;
    char id[HCP_CASE_ID_MAX];
    assert_int_equal(
        store_status_key_encode(HCP_ST_DISPUTED, "630102-20260213-0001", buf, sizeof(buf), &len),
        HCP_OK);
    assert_int_equal(len, 1 + strlen("630102-20260213-0001"));
    assert_int_equal(buf[0], HCP_ST_DISPUTED);
    assert_int_equal(store_status_key_decode(buf, len, &st, id), HCP_OK);
    assert_int_equal(st, HCP_ST_DISPUTED);
    assert_string_equal(id, "630102-20260213-0001");
    /* the longest id that fits a case id's buffer */
    char longest[HCP_CASE_ID_MAX];
    memset(longest, '9', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    assert_int_equal(store_status_key_encode(1, longest, buf, sizeof(buf), &len), HCP_OK);
    assert_int_equal(store_status_key_decode(buf, len, &st, id), HCP_OK);
    assert_string_equal(id, longest);
    /* refusals */
    assert_int_equal(store_status_key_encode(1, longest, buf, 8, &len), HCP_ERANGE);
    assert_int_equal(store_status_key_encode(1, "", buf, sizeof(buf), &len), HCP_EINVAL);
    assert_int_equal(store_status_key_decode("\x01", 1, &st, id), HCP_EFORMAT);
    assert_int_equal(store_status_key_decode("\x01"
                                             "ab\0c",
                                             5, &st, id),
                     HCP_EFORMAT);
    uint8_t big[HCP_CASE_ID_MAX + 1];
    memset(big, 'x', sizeof(big));
    assert_int_equal(store_status_key_decode(big, sizeof(big), &st, id), HCP_ERANGE);
}

/* ---- open case ids ---- */

static void test_open_case_ids(void **state)
{
    fixture *f = *state;
    MDB_txn *txn;
    char(*ids)[HCP_CASE_ID_MAX] = NULL;
    size_t n = 0;
    assert_int_equal(store_read_begin(&f->s, &txn), HCP_OK);
    assert_int_equal(store_open_case_ids(&f->s, txn, &ids, &n), HCP_OK);
    store_read_end(&f->s, txn);
    /* by status (received, verifying, disputed, rectifying, feedback pending), then id */
    assert_int_equal(n, 4);
    assert_string_equal(ids[0], "630102-20260213-0001");
    assert_string_equal(ids[1], "630102-20260213-0002");
    assert_string_equal(ids[2], "630102-20260301-0001");
    assert_string_equal(ids[3], "630102-20260105-0003");
    free(ids);
}

/* A case that moves on leaves the open set; a malformed index key is skipped. */
static void test_open_case_ids_after_change(void **state)
{
    fixture *f = *state;
    MDB_txn *txn;
    hcp_case old, c;
    make_case(f, "630102-20260213-0001", HCP_ST_RECEIVED, &old);
    make_case(f, "630102-20260213-0001", HCP_ST_AWAITING_REVISIT, &c);
    assert_int_equal(store_write_begin(&f->s, &txn), HCP_OK);
    assert_int_equal(store_case_put(&f->s, txn, &old, &c), HCP_OK);
    MDB_val k = {1, "\x01"}, v = {0, ""}; /* status received, no id */
    assert_int_equal(mdb_put(txn, f->s.status_idx, &k, &v, 0), MDB_SUCCESS);
    uint64_t received = 9;
    assert_int_equal(store_counter_get(&f->s, txn, "st:1", &received), HCP_OK);
    assert_int_equal(received, 0);
    assert_int_equal(store_cache_flush(&f->s, txn), HCP_OK);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    store_cache_drop(&f->s);
    hcp_case_clear(&old);
    hcp_case_clear(&c);

    char(*ids)[HCP_CASE_ID_MAX] = NULL;
    size_t n = 0;
    assert_int_equal(store_read_begin(&f->s, &txn), HCP_OK);
    assert_int_equal(store_open_case_ids(&f->s, txn, &ids, &n), HCP_OK);
    store_read_end(&f->s, txn);
    assert_int_equal(n, 3);
    assert_string_equal(ids[0], "630102-20260213-0002");
    free(ids);
}

/* ---- the case list's scan ---- */

typedef struct collected {
    char ids[NCASES + 2][HCP_CASE_ID_MAX];
    size_t n, stop_at; /* STORE_STOP once n reaches stop_at (0: never) */
    int fail_with;     /* returned instead at the first case, if not 0 */
} collected;

/* A store_case_fn keeping the ids it is shown. */
static int collect(void *arg, const char *id, const hcp_case *c)
{
    collected *col = arg;
    assert_string_equal(id, c->id);
    if (col->fail_with != 0)
        return col->fail_with;
    assert_true(col->n < NCASES + 2);
    snprintf(col->ids[col->n++], HCP_CASE_ID_MAX, "%s", id);
    return col->stop_at != 0 && col->n >= col->stop_at ? STORE_STOP : HCP_OK;
}

/* Scan with status and after in a read transaction; the scan's result. */
static int scan(fixture *f, uint8_t status, const char *after, collected *col)
{
    MDB_txn *txn;
    assert_int_equal(store_read_begin(&f->s, &txn), HCP_OK);
    int rc = store_cases_after(&f->s, txn, status, after, collect, col);
    store_read_end(&f->s, txn);
    return rc;
}

static void test_cases_after(void **state)
{
    fixture *f = *state;
    collected col = {0};
    assert_int_equal(scan(f, 0, "", &col), HCP_OK); /* every case, in id order */
    assert_int_equal(col.n, NCASES);
    for (size_t i = 0; i < NCASES; i++)
        assert_string_equal(col.ids[i], cases[i].id);

    memset(&col, 0, sizeof(col)); /* strictly after an id that exists */
    assert_int_equal(scan(f, 0, "630102-20260213-0002", &col), HCP_OK);
    assert_int_equal(col.n, 3);
    assert_string_equal(col.ids[0], "630102-20260214-0001");

    memset(&col, 0, sizeof(col)); /* after one that does not: what sorts after it */
    assert_int_equal(scan(f, 0, "630102-20260200", &col), HCP_OK);
    assert_int_equal(col.n, 5);
    assert_string_equal(col.ids[0], "630102-20260213-0001");

    memset(&col, 0, sizeof(col)); /* past the end */
    assert_int_equal(scan(f, 0, "9", &col), HCP_OK);
    assert_int_equal(col.n, 0);

    memset(&col, 0, sizeof(col)); /* the visitor ends a page */
    col.stop_at = 2;
    assert_int_equal(scan(f, 0, NULL, &col), HCP_OK);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.ids[1], "630102-20260213-0001");
}

static void test_cases_after_status(void **state)
{
    fixture *f = *state;
    collected col = {0};
    assert_int_equal(scan(f, HCP_ST_VERIFYING, "", &col), HCP_OK);
    assert_int_equal(col.n, 1);
    assert_string_equal(col.ids[0], "630102-20260213-0002");

    memset(&col, 0, sizeof(col)); /* the cursor within one status */
    assert_int_equal(scan(f, HCP_ST_VERIFYING, "630102-20260213-0002", &col), HCP_OK);
    assert_int_equal(col.n, 0);

    memset(&col, 0, sizeof(col)); /* a status nobody has */
    assert_int_equal(scan(f, HCP_ST_RECTIFYING, "", &col), HCP_OK);
    assert_int_equal(col.n, 0);
}

/* The visitor's error ends the scan and comes back; so do bad arguments. */
static void test_cases_after_errors(void **state)
{
    fixture *f = *state;
    collected col = {0};
    col.fail_with = HCP_ENOMEM;
    assert_int_equal(scan(f, 0, "", &col), HCP_ENOMEM);
    col.fail_with = HCP_ENOMEM;
    assert_int_equal(scan(f, HCP_ST_RECEIVED, "", &col), HCP_ENOMEM);
    col.fail_with = 0;
    char big[HCP_CASE_ID_MAX + 4];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(scan(f, 0, big, &col), HCP_ERANGE);
    MDB_txn *txn;
    assert_int_equal(store_read_begin(&f->s, &txn), HCP_OK);
    assert_int_equal(store_cases_after(&f->s, txn, 0, "", NULL, NULL), HCP_EINVAL);
    store_read_end(&f->s, txn);
}

/* ---- the month's ledger scan ---- */

static void test_cases_of_month(void **state)
{
    fixture *f = *state;
    MDB_txn *txn;
    collected col = {0};
    assert_int_equal(store_read_begin(&f->s, &txn), HCP_OK);
    assert_int_equal(store_cases_of_month(&f->s, txn, 2026, 2, true, collect, &col), HCP_OK);
    assert_int_equal(col.n, 3);
    assert_string_equal(col.ids[0], "630102-20260213-0001");
    assert_string_equal(col.ids[2], "630102-20260214-0001");

    memset(&col, 0, sizeof(col));
    assert_int_equal(store_cases_of_month(&f->s, txn, 2026, 4, false, collect, &col), HCP_OK);
    assert_int_equal(col.n, 0);

    memset(&col, 0, sizeof(col));
    col.stop_at = 1;
    assert_int_equal(store_cases_of_month(&f->s, txn, 2026, 3, false, collect, &col), HCP_OK);
    assert_int_equal(col.n, 1);

    memset(&col, 0, sizeof(col));
    col.fail_with = HCP_EIO;
    assert_int_equal(store_cases_of_month(&f->s, txn, 2026, 1, false, collect, &col), HCP_EIO);

    assert_int_equal(store_cases_of_month(&f->s, txn, 2026, 13, false, collect, &col), HCP_EINVAL);
    assert_int_equal(store_cases_of_month(&f->s, txn, 1999, 1, false, collect, &col), HCP_EINVAL);
    store_read_end(&f->s, txn);
}

/* Personal records come back unsealed only when asked for. */
static int check_personal(void *arg, const char *id, const hcp_case *c)
{
    (void)id;
    bool personal = *(bool *)arg;
    if (personal)
        assert_string_equal(c->in.complainant.name, "张三");
    else
        assert_null(c->in.complainant.name);
    return HCP_OK;
}

static void test_cases_of_month_personal(void **state)
{
    fixture *f = *state;
    MDB_txn *txn;
    assert_int_equal(store_read_begin(&f->s, &txn), HCP_OK);
    bool personal = true;
    assert_int_equal(store_cases_of_month(&f->s, txn, 2026, 2, true, check_personal, &personal),
                     HCP_OK);
    personal = false;
    assert_int_equal(store_cases_of_month(&f->s, txn, 2026, 2, false, check_personal, &personal),
                     HCP_OK);
    store_read_end(&f->s, txn);
}

/* ---- the map, and the subcommands' opens ---- */

static void test_map_usage(void **state)
{
    fixture *f = *state;
    uint64_t used = 0, size = 0;
    assert_int_equal(store_map_usage(&f->s, &used, &size), HCP_OK);
    assert_true(used > 0);
    assert_true(size >= used);
}

static void test_county_and_mark(void **state)
{
    fixture *f = *state;
    store_close(&f->s);
    f->open = false;
    char county[HCP_COUNTY_LEN + 1], err[256];
    assert_int_equal(store_county_of(f->dir, county, err, sizeof(err)), HCP_OK);
    assert_string_equal(county, COUNTY);
    assert_int_equal(store_mark_needs_sync(f->dir), HCP_OK);
    assert_int_equal(store_open(&f->s, f->dir, COUNTY, true, NULL, err, sizeof(err)), HCP_OK);
    f->open = true;
    assert_true(atomic_load(&f->s.needs_sync));
    store_close(&f->s);
    f->open = false;
    /* another county's store is refused */
    assert_int_equal(store_open(&f->s, f->dir, "630121", true, NULL, err, sizeof(err)),
                     HCP_EFORMAT);
    assert_non_null(strstr(err, "630102"));
    /* a directory without a store */
    char empty[64];
    snprintf(empty, sizeof(empty), "/tmp/test_node_store_empty.XXXXXX");
    assert_non_null(mkdtemp(empty));
    err[0] = '\0';
    assert_int_not_equal(store_county_of(empty, county, err, sizeof(err)), HCP_OK);
    assert_true(err[0] != '\0');
    remove_dir(empty);
}

/* The size of the store's data file. */
static uint64_t data_size(const fixture *f)
{
    char path[sizeof(f->dir) + 16];
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* The shared room ahead (hcpd_env_ahead) on the node's store, inside a
 * write transaction: the file gains a chunk of zeros once, and not again
 * while the room lasts; the store still reads and writes as before. */
static void test_ahead_writes(void **state)
{
    fixture *f = *state;
    uint64_t before = data_size(f);
    MDB_txn *txn;
    assert_int_equal(store_write_begin(&f->s, &txn), HCP_OK);
    hcpd_env_ahead(&f->s.db, txn);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    uint64_t after = data_size(f);
    assert_true(after >= before + HCPD_AHEAD_CHUNK / 2); /* the map may cut the chunk */
    assert_int_equal(f->s.db.ahead_end, after);          /* known: later calls need no fstat */
    assert_int_equal(store_write_begin(&f->s, &txn), HCP_OK);
    hcpd_env_ahead(&f->s.db, txn);
    uint64_t no = 0;
    assert_int_equal(store_counter_add(&f->s, txn, "eval", 1, &no), HCP_OK);
    assert_int_equal(store_cache_flush(&f->s, txn), HCP_OK);
    store_cache_drop(&f->s);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    assert_int_equal(data_size(f), after);
    assert_int_equal(store_read_begin(&f->s, &txn), HCP_OK);
    assert_int_equal(store_counter_get(&f->s, txn, "eval", &no), HCP_OK);
    store_read_end(&f->s, txn);
    assert_int_equal(no, 1);
}

/* When the replier answers batches committed with MDB_NOMETASYNC. */
static void test_meta_sync_plan(void **state)
{
    (void)state;
    /* covered by its own or a later sync of the replier */
    assert_int_equal(node_meta_sync_plan(7, 7, 7, true, false), NODE_META_DURABLE);
    assert_int_equal(node_meta_sync_plan(7, 7, 9, false, false), NODE_META_DURABLE);
    /* covered by a later commit's data flush */
    assert_int_equal(node_meta_sync_plan(7, 8, 0, false, false), NODE_META_DURABLE);
    /* its own commit is the newest: wait for the batch under way, once */
    assert_int_equal(node_meta_sync_plan(7, 7, 6, true, false), NODE_META_WAIT);
    assert_int_equal(node_meta_sync_plan(7, 7, 6, true, true), NODE_META_SYNC);
    /* nothing under way: flush now */
    assert_int_equal(node_meta_sync_plan(7, 7, 6, false, false), NODE_META_SYNC);
    /* an unknown txnid is never covered by a commit */
    assert_int_equal(node_meta_sync_plan(UINT64_MAX, 9, 8, false, false), NODE_META_SYNC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ahead_writes, setup, teardown),
        cmocka_unit_test(test_meta_sync_plan),
        cmocka_unit_test(test_status_key),
        cmocka_unit_test_setup_teardown(test_open_case_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_case_ids_after_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cases_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cases_after_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cases_after_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cases_of_month, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cases_of_month_personal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_county_and_mark, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
