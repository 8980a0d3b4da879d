/* test_node_query.c — the query strings of the node's list routes
 * (node/query.c): GET /v1/cases and GET /v1/ledger, good and bad. The
 * parameters come from a table instead of a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hcpd.h"
#include "query.h"

/* One parameter of a fake query: key, decoded value, or bad (malformed). */
typedef struct param {
    const char *key;
    const char *value;
    bool bad;
} param;

/* node_query_get_fn over a NULL-key-terminated table of params. */
static int table_get(void *arg, const char *key, char *buf, size_t len)
{
    buf[0] = '\0';
    for (const param *p = arg; p->key != NULL; p++) {
        if (strcmp(p->key, key) != 0)
            continue;
        if (p->bad || strlen(p->value) >= len)
            return HCPD_Q_BAD;
        snprintf(buf, len, "%s", p->value);
        return HCPD_Q_OK;
    }
    return HCPD_Q_ABSENT;
}

static void test_list_defaults(void **state)
{
    (void)state;
    param none[] = {{NULL, NULL, false}};
    node_list_query q;
    node_query_err e;
    assert_int_equal(node_list_query_parse(table_get, none, &q, &e), HCP_OK);
    assert_int_equal(q.status, 0);
    assert_false(q.overdue);
    assert_int_equal(q.limit, NODE_LIST_DEFAULT);
    assert_string_equal(q.after, "");
}

static void test_list_good(void **state)
{
    (void)state;
    param ps[] = {{"status", "verifying", false},
                  {"overdue", "true", false},
                  {"limit", "500", false},
                  {"after", "630102-20260213-0001", false},
                  {NULL, NULL, false}};
    node_list_query q;
    node_query_err e;
    assert_int_equal(node_list_query_parse(table_get, ps, &q, &e), HCP_OK);
    assert_int_equal(q.status, HCP_ST_VERIFYING);
    assert_true(q.overdue);
    assert_int_equal(q.limit, 500);
    assert_string_equal(q.after, "630102-20260213-0001");

    param ps2[] = {{"status", "", false},
                   {"overdue", "false", false},
                   {"limit", "1", false},
                   {NULL, NULL, false}};
    assert_int_equal(node_list_query_parse(table_get, ps2, &q, &e), HCP_OK);
    assert_int_equal(q.status, 0); /* empty: any */
    assert_false(q.overdue);
    assert_int_equal(q.limit, 1);
}

/* One refused parameter: its status, error and the start of its detail. */
typedef struct bad_case {
    param p;
    int status;
    const char *error;
    const char *detail;
} bad_case;

static void test_list_bad(void **state)
{
    (void)state;
    static const bad_case bad[] = {
        {{"status", "x", true}, 400, "invalid_parameter", "status: malformed"},
        {{"status", "open", false}, 422, "invalid_field", "status: unknown status"},
        {{"overdue", "yes", false}, 422, "invalid_field", "overdue: expected true or false"},
        {{"overdue", "", false}, 422, "invalid_field", "overdue: expected true or false"},
        {{"overdue", "x", true}, 400, "invalid_parameter", "overdue: malformed"},
        {{"limit", "0", false}, 422, "invalid_field", "limit: expected 1..500"},
        {{"limit", "501", false}, 422, "invalid_field", "limit: expected 1..500"},
        {{"limit", "-1", false}, 422, "invalid_field", "limit: expected 1..500"},
        {{"limit", "10x", false}, 422, "invalid_field", "limit: expected 1..500"},
        {{"limit", "", false}, 422, "invalid_field", "limit: expected 1..500"},
        {{"limit", "99999999999999999999", false}, 422, "invalid_field", "limit: expected"},
        {{"limit", "x", true}, 400, "invalid_parameter", "limit: malformed"},
        {{"after", "630102-20260213-0001-0000000000000", false},
         422,
         "invalid_field",
         "after: not a case id"},
        {{"after", "x", true}, 400, "invalid_parameter", "after: malformed"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        param ps[] = {bad[i].p, {NULL, NULL, false}};
        node_list_query q;
        node_query_err e;
        if (node_list_query_parse(table_get, ps, &q, &e) != HCP_EINVAL)
            fail_msg("case %zu (%s=%s) accepted", i, bad[i].p.key, bad[i].p.value);
        assert_int_equal(e.status, bad[i].status);
        assert_string_equal(e.error, bad[i].error);
        if (strncmp(e.detail, bad[i].detail, strlen(bad[i].detail)) != 0)
            fail_msg("case %zu: detail \"%s\"", i, e.detail);
    }
}

/* The first bad parameter decides, in the order status, overdue, limit, after. */
static void test_list_order(void **state)
{
    (void)state;
    param ps[] = {{"after", "x", true}, {"limit", "0", false}, {NULL, NULL, false}};
    node_list_query q;
    node_query_err e;
    assert_int_equal(node_list_query_parse(table_get, ps, &q, &e), HCP_EINVAL);
    assert_string_equal(e.detail, "limit: expected 1..500");
    assert_int_equal(node_list_query_parse(NULL, ps, &q, &e), HCP_EINVAL);
    assert_int_equal(node_list_query_parse(table_get, ps, NULL, &e), HCP_EINVAL);
}

static void test_ledger_good(void **state)
{
    (void)state;
    static const struct {
        const char *month;
        int y, m;
    } good[] = {{"2026-02", 2026, 2}, {"2000-01", 2000, 1}, {"9999-12", 9999, 12}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        param ps[] = {{"month", good[i].month, false}, {NULL, NULL, false}};
        int y = 0, m = 0;
        node_query_err e;
        assert_int_equal(node_ledger_query_parse(table_get, ps, &y, &m, &e), HCP_OK);
        assert_int_equal(y, good[i].y);
        assert_int_equal(m, good[i].m);
    }
}

static void test_ledger_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {"",        "2026",    "2026-2",    "2026-13",
                                      "2026-00", "1999-12", "2026-02x",  "26-02",
                                      "2026/02", "+026-02", "2026-02-01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        param ps[] = {{"month", bad[i], false}, {NULL, NULL, false}};
        int y = -1, m = -1;
        node_query_err e;
        if (node_ledger_query_parse(table_get, ps, &y, &m, &e) != HCP_EINVAL)
            fail_msg("month \"%s\" accepted", bad[i]);
        assert_int_equal(e.status, 422);
        assert_string_equal(e.detail, "month: expected YYYY-MM");
        assert_int_equal(y, -1); /* untouched */
    }
    param none[] = {{NULL, NULL, false}};
    int y, m;
    node_query_err e;
    assert_int_equal(node_ledger_query_parse(table_get, none, &y, &m, &e), HCP_EINVAL);
    assert_int_equal(e.status, 422);
    param malformed[] = {{"month", "x", true}, {NULL, NULL, false}};
    assert_int_equal(node_ledger_query_parse(table_get, malformed, &y, &m, &e), HCP_EINVAL);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.error, "invalid_parameter");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_defaults), cmocka_unit_test(test_list_good),
        cmocka_unit_test(test_list_bad),      cmocka_unit_test(test_list_order),
        cmocka_unit_test(test_ledger_good),   cmocka_unit_test(test_ledger_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
