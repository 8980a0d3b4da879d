/*
 * test_gw_feed_query.c — the feed routes' query (gateway/feed_query.h):
 * defaults, every filter, paging and its bounds, the Atom route's fixed
 * page, each refusal naming its parameter, the canonical cache key, and
 * which stored entries the filters let through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "feed_query.h"

/* A query string's parameters: "key", "value" pairs, NULL-terminated. */
typedef struct params {
    const char *kv[32];
} params;

/* gw_feed_param_fn over a params list (first occurrence wins). */
static bool get(void *arg, const char *key, char *buf, size_t len)
{
    const params *p = arg;
    for (size_t i = 0; p->kv[i] != NULL; i += 2)
        if (strcmp(p->kv[i], key) == 0) {
            if (strlen(p->kv[i + 1]) >= len)
                return false;
            snprintf(buf, len, "%s", p->kv[i + 1]);
            return true;
        }
    return false;
}

/* Parse p for the JSON route (or atom); the result code. */
static int parse(const params *p, bool atom, gw_feed_q *q, gw_feed_q_err *err)
{
    return gw_feed_query_parse(q, atom, get, (void *)p, err);
}

static void t_defaults(void **state)
{
    (void)state;
    params p = {{NULL}};
    gw_feed_q q;
    gw_feed_q_err err = {NULL, NULL};
    assert_int_equal(parse(&p, false, &q, &err), HCP_OK);
    assert_int_equal(q.page, 1);
    assert_int_equal(q.size, GW_FEED_PAGE_DEFAULT);
    assert_int_equal(q.status, GW_FEED_Q_ANY);
    assert_string_equal(q.county, "");
    assert_string_equal(q.key, "j||0|0|0|0|0|0|1|50");
    assert_int_equal(parse(&p, true, &q, &err), HCP_OK);
    assert_int_equal(q.size, GW_FEED_ATOM_ENTRIES);
    assert_string_equal(q.key, "a||0|0|0|0|0|0|1|100");
    assert_null(err.param);
}

static void t_filters(void **state)
{
    (void)state;
    params p = {{"county", "630100", "status", "closed", "start_date", "2027-01-01", "end_date",
                 "2027-01-31", "updated_after", "2027-01-02T00:00:00+08:00", "service_request_id",
                 "630102-20270101-0001", "page", "3", "page_size", "200", NULL}};
    gw_feed_q q;
    gw_feed_q_err err;
    assert_int_equal(parse(&p, false, &q, &err), HCP_OK);
    assert_string_equal(q.county, "630100");
    assert_true(q.prefecture); /* 西宁市 */
    assert_int_equal(q.status, GW_FEED_Q_CLOSED);
    assert_int_equal(q.start, 1798732800);
    assert_int_equal(q.end, 1798732800 + 31 * 86400 - 1);
    assert_true(q.has_after);
    assert_int_equal(q.after, 1798732800 + 86400);
    assert_int_equal(q.nids, 1);
    assert_string_equal(q.ids[0], "630102-20270101-0001");
    assert_int_equal(q.page, 3);
    assert_int_equal(q.size, 200);
    /* Atom: no paging, whatever is asked */
    assert_int_equal(parse(&p, true, &q, &err), HCP_OK);
    assert_int_equal(q.page, 1);
    assert_int_equal(q.size, GW_FEED_ATOM_ENTRIES);
    params c = {{"county", "630102", "status", "open", NULL}};
    assert_int_equal(parse(&c, false, &q, &err), HCP_OK);
    assert_false(q.prefecture);
    assert_int_equal(q.status, GW_FEED_Q_OPEN);
}

/* One refusal: the parameter it names. */
static void refused(const char *key, const char *value, const char *param)
{
    params p = {{key, value, NULL}};
    gw_feed_q q;
    gw_feed_q_err err = {NULL, NULL};
    assert_int_equal(parse(&p, false, &q, &err), HCP_EINVAL);
    assert_non_null(err.param);
    assert_string_equal(err.param, param);
    assert_non_null(err.detail);
}

static void t_refusals(void **state)
{
    (void)state;
    refused("county", "63010", "county");
    refused("county", "63010x", "county");
    refused("status", "done", "status");
    refused("start_date", "2027-13-01", "start_date");
    refused("end_date", "yesterday", "end_date");
    refused("updated_after", "2027-01-01", "updated_after"); /* RFC 3339 only */
    refused("service_request_id", "630102-2027", "service_request_id");
    refused("service_request_id", "630102-20270101-0001,", "service_request_id");
    refused("service_request_id", ",630102-20270101-0001", "service_request_id");
    refused("status", "open,,closed", "status");
    refused("status", "open,done", "status");
    refused("service_code", "SI-1,,SI-2", "service_code");
    refused("service_code",
            "SI-1,SI-2,SI-3,SI-4,SI-5,SI-6,SI-7,SI-8,SI-9,SI-10,SI-11,SI-12,"
            "SI-13,SI-14,SI-15,SI-16,SI-17,SI-18,SI-19,SI-20,SI-21",
            "service_code");
    refused("page", "0", "page");
    refused("page", "100000001", "page"); /* 200,000 pages of 50 at 10M cases are valid */
    refused("page", "", "page");
    refused("page", "+1", "page");
    refused("page_size", "201", "page_size");
    refused("page_size", "1e2", "page_size");
    params p = {{"start_date", "2027-02-01", "end_date", "2027-01-01", NULL}};
    gw_feed_q q;
    gw_feed_q_err err;
    assert_int_equal(parse(&p, false, &q, &err), HCP_EINVAL);
    assert_string_equal(err.param, "end_date");
    assert_int_equal(gw_feed_query_parse(&q, false, NULL, NULL, &err), HCP_EINVAL);
}

/* Empty values are "not given" for the filters. */
static void t_empty_values(void **state)
{
    (void)state;
    params p = {{"county", "", "status", "", "service_request_id", "", NULL}};
    gw_feed_q q;
    gw_feed_q_err err;
    assert_int_equal(parse(&p, false, &q, &err), HCP_OK);
    assert_string_equal(q.county, "");
    assert_int_equal(q.status, GW_FEED_Q_ANY);
}

static void t_match(void **state)
{
    (void)state;
    gw_feed_q q;
    gw_feed_q_err err;
    gw_feed_meta m = {.closed = false, .received_at = 1798732800};
    params any = {{NULL}};
    assert_int_equal(parse(&any, false, &q, &err), HCP_OK);
    assert_true(gw_feed_query_match(&q, "630102-20270101-0001", &m));
    assert_false(gw_feed_query_match(&q, "6301", &m)); /* not an id */
    params county = {{"county", "630102", NULL}};
    assert_int_equal(parse(&county, false, &q, &err), HCP_OK);
    assert_true(gw_feed_query_match(&q, "630102-20270101-0001", &m));
    assert_false(gw_feed_query_match(&q, "630103-20270101-0001", &m));
    params pref = {{"county", "630100", NULL}};
    assert_int_equal(parse(&pref, false, &q, &err), HCP_OK);
    assert_true(gw_feed_query_match(&q, "630103-20270101-0001", &m));
    assert_false(gw_feed_query_match(&q, "632221-20270101-0001", &m)); /* 海北州 */
    params closed = {{"status", "closed", NULL}};
    assert_int_equal(parse(&closed, false, &q, &err), HCP_OK);
    assert_false(gw_feed_query_match(&q, "630102-20270101-0001", &m));
    m.closed = true;
    assert_true(gw_feed_query_match(&q, "630102-20270101-0001", &m));
    params dates = {{"start_date", "2027-01-02", NULL}};
    assert_int_equal(parse(&dates, false, &q, &err), HCP_OK);
    assert_false(gw_feed_query_match(&q, "630102-20270101-0001", &m));
    m.received_at += 86400;
    assert_true(gw_feed_query_match(&q, "630102-20270101-0001", &m));
    params until = {{"end_date", "2027-01-01", NULL}};
    assert_int_equal(parse(&until, false, &q, &err), HCP_OK);
    assert_false(gw_feed_query_match(&q, "630102-20270101-0001", &m));
}

/* GeoReport v2 comma lists: status, service_request_id, service_code. */
static void t_lists(void **state)
{
    (void)state;
    gw_feed_q q, q2;
    gw_feed_q_err err;
    params both = {{"status", "open,closed", NULL}};
    assert_int_equal(parse(&both, false, &q, &err), HCP_OK);
    assert_int_equal(q.status, GW_FEED_Q_ANY);
    params twice = {{"status", "closed,closed", NULL}};
    assert_int_equal(parse(&twice, false, &q, &err), HCP_OK);
    assert_int_equal(q.status, GW_FEED_Q_CLOSED);
    params ids = {{"service_request_id",
                   "630102-20270101-0001,630202-20270102-0002,"
                   "630102-20270101-0001",
                   NULL}};
    assert_int_equal(parse(&ids, false, &q, &err), HCP_OK);
    assert_int_equal(q.nids, 2); /* named twice: once */
    assert_string_equal(q.ids[1], "630202-20270102-0002");
    params codes = {{"service_code", "SI-002,SI-010", NULL}};
    assert_int_equal(parse(&codes, false, &q2, &err), HCP_OK);
    assert_int_equal(q2.ncodes, 2);
    assert_string_not_equal(q.key, q2.key);
    const char json[] = "{\"service_request_id\":\"630102-20270101-0001\",\"service_code\":"
                        "\"SI-010\",\"service_name\":\"SI-002\"}";
    gw_feed_meta m = {.received_at = 1798732800, .json = json, .json_len = sizeof(json) - 1};
    assert_true(gw_feed_query_match(&q2, "630102-20270101-0001", &m));
    params other = {{"service_code", "SI-002", NULL}}; /* only in another member */
    assert_int_equal(parse(&other, false, &q2, &err), HCP_OK);
    assert_false(gw_feed_query_match(&q2, "630102-20270101-0001", &m));
}

/* The cursor: what is encoded decodes to the same position; an edited,
 * cut or lengthened one, or one beside page=, is refused naming cursor. */
static void t_cursor(void **state)
{
    (void)state;
    char c[GW_FEED_CURSOR_MAX], id[HCP_CASE_ID_MAX];
    hcp_time at = 0;
    assert_int_equal(gw_feed_cursor_encode(1798732800, "630102-20270101-0001", c), HCP_OK);
    assert_int_equal(gw_feed_cursor_decode(c, &at, id), HCP_OK);
    assert_int_equal(at, 1798732800);
    assert_string_equal(id, "630102-20270101-0001");
    params p = {{"cursor", c, "page_size", "20", NULL}};
    gw_feed_q q, q2;
    gw_feed_q_err err;
    assert_int_equal(parse(&p, false, &q, &err), HCP_OK);
    assert_true(q.has_cursor);
    assert_int_equal(q.cur_at, 1798732800);
    assert_string_equal(q.cur_id, "630102-20270101-0001");
    assert_int_equal(q.page, 1);
    params none = {{"page_size", "20", NULL}};
    assert_int_equal(parse(&none, false, &q2, &err), HCP_OK);
    assert_string_not_equal(q.key, q2.key); /* a page of its own in the cache */
    char bad[GW_FEED_CURSOR_MAX + 4];
    size_t n = strlen(c);
    snprintf(bad, sizeof(bad), "%s", c);
    bad[12] = bad[12] == '0' ? '1' : '0'; /* an edited position */
    const char *refused[] = {"", "zz", "0123", bad, NULL};
    for (size_t i = 0; refused[i] != NULL; i++) {
        params r = {{"cursor", refused[i], NULL}};
        err.param = NULL;
        assert_int_equal(parse(&r, false, &q, &err), HCP_EINVAL);
        assert_string_equal(err.param, "cursor");
    }
    snprintf(bad, sizeof(bad), "%.*s", (int)(n - 2), c); /* cut */
    assert_int_equal(gw_feed_cursor_decode(bad, &at, id), HCP_EINVAL);
    snprintf(bad, sizeof(bad), "%s00", c); /* lengthened */
    assert_int_equal(gw_feed_cursor_decode(bad, &at, id), HCP_EINVAL);
    params both = {{"cursor", c, "page", "2", NULL}};
    assert_int_equal(parse(&both, false, &q, &err), HCP_EINVAL);
    assert_string_equal(err.param, "cursor");
    assert_int_equal(gw_feed_cursor_encode(0, "630102-20270101-000000000000000000001", c),
                     HCP_EINVAL); /* an id too long */
}

/* The filter's key (walk marks, feed_marks.h): the same whatever the
 * route, page and page_size; another for another filter; none for a
 * service_request_id list. */
static void t_filter_key(void **state)
{
    (void)state;
    params a = {{"county", "630100", "status", "open", "service_code", "S1,S2", NULL}};
    params b = {{"county", "630100", "status", "open", "service_code", "S1,S2", "page", "7",
                 "page_size", "13", NULL}};
    params c = {{"county", "630100", "status", "closed", "service_code", "S1,S2", NULL}};
    params d = {{"county", "630100", "status", "open", "service_code", "S1", NULL}};
    params e = {{"service_request_id", "630102-20270101-0001", NULL}};
    gw_feed_q q;
    gw_feed_q_err err;
    char ka[GW_FEED_QKEY_MAX], kb[GW_FEED_QKEY_MAX];
    assert_int_equal(parse(&a, false, &q, &err), HCP_OK);
    assert_int_equal(gw_feed_query_filter_key(&q, ka, sizeof(ka)), HCP_OK);
    assert_string_equal(ka, "630100|1|1|0|0|0|0\ncS1\ncS2");
    assert_int_equal(parse(&b, false, &q, &err), HCP_OK);
    assert_int_equal(gw_feed_query_filter_key(&q, kb, sizeof(kb)), HCP_OK);
    assert_string_equal(ka, kb);
    assert_int_equal(parse(&a, true, &q, &err), HCP_OK); /* Atom */
    assert_int_equal(gw_feed_query_filter_key(&q, kb, sizeof(kb)), HCP_OK);
    assert_string_equal(ka, kb);
    assert_int_equal(parse(&c, false, &q, &err), HCP_OK);
    assert_int_equal(gw_feed_query_filter_key(&q, kb, sizeof(kb)), HCP_OK);
    assert_string_not_equal(ka, kb);
    assert_int_equal(parse(&d, false, &q, &err), HCP_OK);
    assert_int_equal(gw_feed_query_filter_key(&q, kb, sizeof(kb)), HCP_OK);
    assert_string_not_equal(ka, kb);
    assert_int_equal(gw_feed_query_filter_key(&q, kb, 8), HCP_ERANGE);
    assert_int_equal(parse(&e, false, &q, &err), HCP_OK);
    assert_int_equal(gw_feed_query_filter_key(&q, kb, sizeof(kb)), HCP_EINVAL);
    assert_int_equal(gw_feed_query_filter_key(NULL, kb, sizeof(kb)), HCP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_defaults), cmocka_unit_test(t_filters),
        cmocka_unit_test(t_refusals), cmocka_unit_test(t_empty_values),
        cmocka_unit_test(t_match),    cmocka_unit_test(t_lists),
        cmocka_unit_test(t_cursor),   cmocka_unit_test(t_filter_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
