/*
 * test_json.c — the HTTP API's JSON (core/json.c): request bodies are read
 * strictly (400 malformed / bad UTF-8, 413 oversize, 422 missing, mistyped,
 * out-of-range, unknown enum or unknown field, each naming the field), every
 * step type parses, and the case JSON carries every docs/api.md key and no
 * personal data unless asked, with Chinese text kept byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "rules.h"

/* 2026-11-27T10:03:00+08:00 */
#define T_AT 1795744980

static const char EVAL_BODY[] =
    "{\"unit\":{\"code\":\"630102-001\",\"name\":\"城东区政务服务中心\"},"
    "\"window\":\"3号窗口\","
    "\"staff\":{\"id\":\"S017\",\"name\":\"张三\",\"phone\":\"13800000001\"},"
    "\"service_item\":{\"code\":\"11630102MB1234567X\",\"name\":\"营业执照办理\"},"
    "\"channel\":\"window_device\",\"rating\":2,"
    "\"dimensions\":[\"attitude\",\"proficiency\"],"
    "\"complainant\":{\"name\":\"李四\",\"phone\":\"13900000002\","
    "\"id_number\":\"630102199001011234\",\"organization\":\"青海高原牧业公司\"},"
    "\"content\":\"窗口工作人员态度冷淡，材料要求反复变化。𠀀😀\","
    "\"at\":\"2026-11-27T10:03:00+08:00\"}";

static const char CASE_BODY[] =
    "{\"kind\":\"complaint\","
    "\"unit\":{\"code\":\"630102-001\",\"name\":\"城东区政务服务中心\"},"
    "\"staff\":{\"id\":\"S017\",\"name\":\"张三\",\"phone\":\"13800000001\"},"
    "\"service_item\":{\"code\":\"11630102MB1234567X\",\"name\":\"营业执照办理\"},"
    "\"channel\":\"12345\",\"dimensions\":[\"rights\"],"
    "\"complainant\":{\"name\":\"李四\",\"phone\":\"13900000002\","
    "\"id_number\":\"630102199001011234\",\"organization\":\"青海高原牧业公司\"},"
    "\"content\":\"办理营业执照时被要求提供法律未规定的证明材料。\"}";

/* ------------------------------------------------------------ helpers */

/* Load a NUL-terminated body; fails the test unless it is an object. */
static json_t *must_load(const char *body)
{
    json_t *o = NULL;
    hcp_json_err err;
    assert_int_equal(hcp_json_load(body, strlen(body), &o, &err), HCP_OK);
    assert_non_null(o);
    return o;
}

/* The object at a dotted path's parent and the last key, creating nothing. */
static json_t *parent_of(json_t *root, const char *path, char *last, size_t n)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = root;
    char *dot;
    char *p = buf;
    while ((dot = strchr(p, '.')) != NULL) {
        *dot = '\0';
        cur = json_object_get(cur, p);
        assert_non_null(cur);
        p = dot + 1;
    }
    snprintf(last, n, "%s", p);
    return cur;
}

/* Set (value non-NULL, stolen) or delete (NULL) the field at path. */
static void set_path(json_t *root, const char *path, json_t *value)
{
    char last[256];
    json_t *parent = parent_of(root, path, last, sizeof(last));
    if (value == NULL)
        assert_int_equal(json_object_del(parent, last), 0);
    else
        assert_int_equal(json_object_set_new(parent, last, value), 0);
}

/* Read obj as an intake and expect a 422 naming field. */
static void expect_intake_422(const json_t *obj, bool is_case, const char *field)
{
    hcp_intake in;
    hcp_time at;
    hcp_json_err err;
    int rc = hcp_json_read_intake(obj, is_case, &in, &at, &err);
    hcp_intake_clear(&in);
    if (rc != HCP_EINVAL || err.status != 422 || strcmp(err.field, field) != 0)
        fail_msg("expected 422 on %s, got rc %d status %d field '%s' (%s)", field, rc, err.status,
                 err.field, err.detail);
    assert_true(err.detail[0] != '\0');
    assert_true(hcp_utf8_valid(err.detail, strlen(err.detail)));
}

/* A copy of the body with path changed (value) or removed (NULL), read as
 * an intake: expect 422 naming field. */
static void mutate_expect(const char *body, bool is_case, const char *path, json_t *value,
                          const char *field)
{
    json_t *o = must_load(body);
    set_path(o, path, value);
    expect_intake_422(o, is_case, field);
    json_decref(o);
}

/* Load body and expect the given HTTP status and error code. */
static void expect_load(const char *body, size_t n, int status, int code)
{
    json_t *o = NULL;
    hcp_json_err err;
    int rc = hcp_json_load(body, n, &o, &err);
    if (rc != code || err.status != status)
        fail_msg("body '%.40s': got rc %d status %d (%s)", body, rc, err.status, err.detail);
    assert_null(o);
    assert_true(hcp_utf8_valid(err.detail, strlen(err.detail)));
}

/* ------------------------------------------------------------ intake */

static void test_eval_valid(void **state)
{
    (void)state;
    json_t *o = must_load(EVAL_BODY);
    hcp_intake in;
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, false, &in, &at, &err), HCP_OK);
    assert_int_equal(in.kind, HCP_KIND_NONE);
    assert_int_equal(in.channel, HCP_CH_WINDOW_DEVICE);
    assert_int_equal(in.rating, 2);
    assert_int_equal(in.dimensions,
                     HCP_DIM_BIT(HCP_DIM_ATTITUDE) | HCP_DIM_BIT(HCP_DIM_PROFICIENCY));
    assert_string_equal(in.unit.code, "630102-001");
    assert_string_equal(in.unit.name, "城东区政务服务中心");
    assert_string_equal(in.window, "3号窗口");
    assert_string_equal(in.staff.id, "S017");
    assert_string_equal(in.staff.name, "张三");
    assert_string_equal(in.staff.phone, "13800000001");
    assert_string_equal(in.service_item.name, "营业执照办理");
    assert_true(in.has_complainant);
    assert_string_equal(in.complainant.name, "李四");
    assert_string_equal(in.complainant.id_number, "630102199001011234");
    assert_string_equal(in.complainant.organization, "青海高原牧业公司");
    assert_string_equal(in.content, "窗口工作人员态度冷淡，材料要求反复变化。𠀀😀");
    assert_int_equal(at, T_AT);
    hcp_intake_clear(&in);
    json_decref(o);
}

static void test_case_valid(void **state)
{
    (void)state;
    json_t *o = must_load(CASE_BODY);
    hcp_intake in;
    hcp_time at = 7;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, true, &in, &at, &err), HCP_OK);
    assert_int_equal(in.kind, HCP_KIND_COMPLAINT);
    assert_int_equal(in.rating, 0);
    assert_int_equal(in.channel, HCP_CH_12345);
    assert_int_equal(in.dimensions, HCP_DIM_BIT(HCP_DIM_RIGHTS));
    assert_null(in.window);
    assert_int_equal(at, 0);
    assert_string_equal(in.content, "办理营业执照时被要求提供法律未规定的证明材料。");
    hcp_intake_clear(&in);

    /* a review from the ledger: rating required and kept */
    set_path(o, "kind", json_string("review"));
    set_path(o, "rating", json_integer(1));
    assert_int_equal(hcp_json_read_intake(o, true, &in, &at, &err), HCP_OK);
    assert_int_equal(in.kind, HCP_KIND_REVIEW);
    assert_int_equal(in.rating, 1);
    hcp_intake_clear(&in);

    /* a complaint may send rating null (as the case JSON shows it) */
    set_path(o, "kind", json_string("complaint"));
    set_path(o, "rating", json_null());
    assert_int_equal(hcp_json_read_intake(o, true, &in, &at, &err), HCP_OK);
    hcp_intake_clear(&in);
    json_decref(o);
}

static void test_optional_absent(void **state)
{
    (void)state;
    json_t *o = must_load(EVAL_BODY);
    set_path(o, "window", NULL);
    set_path(o, "staff", json_null());
    set_path(o, "dimensions", json_array());
    set_path(o, "complainant", json_null());
    set_path(o, "at", NULL);
    hcp_intake in;
    hcp_time at = 1;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, false, &in, &at, &err), HCP_OK);
    assert_null(in.window);
    assert_null(in.staff.id);
    assert_int_equal(in.dimensions, 0);
    assert_false(in.has_complainant);
    assert_int_equal(at, 0);
    hcp_intake_clear(&in);

    /* complainant absent is the same as null; staff.phone is optional */
    set_path(o, "complainant", NULL);
    set_path(o, "dimensions", NULL);
    set_path(o, "staff", json_pack("{s:s, s:s}", "id", "S1", "name", "王五"));
    assert_int_equal(hcp_json_read_intake(o, false, &in, &at, &err), HCP_OK);
    assert_false(in.has_complainant);
    assert_null(in.staff.phone);
    hcp_intake_clear(&in);
    json_decref(o);
}

static void test_required_missing(void **state)
{
    (void)state;
    static const char *const required[] = {"unit",
                                           "unit.code",
                                           "unit.name",
                                           "service_item",
                                           "service_item.code",
                                           "service_item.name",
                                           "channel",
                                           "rating",
                                           "content",
                                           "staff.id",
                                           "staff.name"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        mutate_expect(EVAL_BODY, false, required[i], NULL, required[i]);
    static const char *const case_required[] = {"kind", "unit.code", "service_item.name", "channel",
                                                "content"};
    for (size_t i = 0; i < sizeof(case_required) / sizeof(case_required[0]); i++)
        mutate_expect(CASE_BODY, true, case_required[i], NULL, case_required[i]);
    /* null counts as missing for a required field */
    mutate_expect(EVAL_BODY, false, "content", json_null(), "content");
    mutate_expect(EVAL_BODY, false, "unit", json_null(), "unit");
    /* empty required strings */
    mutate_expect(EVAL_BODY, false, "content", json_string(""), "content");
    mutate_expect(EVAL_BODY, false, "unit.code", json_string(""), "unit.code");
}

static void test_wrong_types(void **state)
{
    (void)state;
    mutate_expect(EVAL_BODY, false, "unit", json_string("城东"), "unit");
    mutate_expect(EVAL_BODY, false, "unit.code", json_integer(630102), "unit.code");
    mutate_expect(EVAL_BODY, false, "window", json_integer(3), "window");
    mutate_expect(EVAL_BODY, false, "staff", json_string("张三"), "staff");
    mutate_expect(EVAL_BODY, false, "staff.phone", json_integer(138), "staff.phone");
    mutate_expect(EVAL_BODY, false, "channel", json_integer(1), "channel");
    mutate_expect(EVAL_BODY, false, "rating", json_string("2"), "rating");
    mutate_expect(EVAL_BODY, false, "rating", json_real(2.0), "rating");
    mutate_expect(EVAL_BODY, false, "rating", json_true(), "rating");
    mutate_expect(EVAL_BODY, false, "dimensions", json_string("attitude"), "dimensions");
    mutate_expect(EVAL_BODY, false, "dimensions", json_pack("[s,i]", "attitude", 1),
                  "dimensions[1]");
    mutate_expect(EVAL_BODY, false, "complainant", json_string("李四"), "complainant");
    mutate_expect(EVAL_BODY, false, "complainant", json_array(), "complainant");
    mutate_expect(EVAL_BODY, false, "complainant.phone", json_integer(13900000002LL),
                  "complainant.phone");
    mutate_expect(EVAL_BODY, false, "content", json_array(), "content");
    mutate_expect(EVAL_BODY, false, "at", json_integer(T_AT), "at");
    mutate_expect(EVAL_BODY, false, "at", json_string("2026-11-27 10:03"), "at");
    mutate_expect(EVAL_BODY, false, "at", json_string("2026-11-27T10:03:00"), "at");
    mutate_expect(CASE_BODY, true, "kind", json_integer(1), "kind");
}

static void step_ok(const char *body, hcp_event *ev);
static void step_422(const char *body, const char *field);

/* at: nothing before the regulation took effect (2022-05-01T00:00:00+08:00,
 * issue #10); the first second it was in force is accepted. */
static void test_at_lower_bound(void **state)
{
    (void)state;
    mutate_expect(EVAL_BODY, false, "at", json_string("1970-01-01T00:00:00Z"), "at");
    mutate_expect(CASE_BODY, true, "at", json_string("2022-04-30T23:59:59+08:00"), "at");
    mutate_expect(CASE_BODY, true, "at", json_string("2022-04-30T15:59:59Z"), "at");
    mutate_expect(CASE_BODY, true, "at", json_string("1969-12-31T23:59:59Z"), "at");
    json_t *o = must_load(CASE_BODY);
    set_path(o, "at", json_string("2022-04-30T16:00:00Z"));
    hcp_intake in;
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, true, &in, &at, &err), HCP_OK);
    assert_int_equal(at, HCP_AT_MIN);
    hcp_intake_clear(&in);
    json_decref(o);
    step_422("{\"type\":\"close\",\"at\":\"2022-04-30T23:59:59+08:00\"}", "at");
    step_422("{\"type\":\"notify_staff\",\"at\":\"1970-01-01T08:00:00+08:00\"}", "at");
    hcp_event ev;
    step_ok("{\"type\":\"close\",\"at\":\"2022-05-01T00:00:00+08:00\"}", &ev);
    assert_int_equal(ev.at, HCP_AT_MIN);
    hcp_event_clear(&ev);
}

/* Short fields refuse controls (tab and line breaks too) and
 * non-characters; free text keeps them (the feed drops them). */
static void test_short_field_chars(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a\x01",        "a\tb",      "a\nb",         "\xef\xbf\xbe",
        "\xef\xbf\xbf", "x\xc2\x85", "\xef\xb7\x90", "\xf0\x9f\xbf\xbf",
        "\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mutate_expect(CASE_BODY, true, "service_item.name", json_string(bad[i]),
                      "service_item.name");
        mutate_expect(CASE_BODY, true, "unit.code", json_string(bad[i]), "unit.code");
        mutate_expect(EVAL_BODY, false, "complainant.name", json_string(bad[i]),
                      "complainant.name");
        mutate_expect(EVAL_BODY, false, "window", json_string(bad[i]), "window");
    }
    step_422("{\"type\":\"feedback\",\"via\":\"sms\\u0085\",\"text\":\"x\"}", "via");
    step_422("{\"type\":\"revisit\",\"by\":\"\\uffff\",\"satisfied\":true}", "by");
    json_t *o = must_load(CASE_BODY);
    set_path(o, "content", json_string("第一行\n\t第二行\x01\xef\xbf\xbe"));
    set_path(o, "service_item.name", json_string("不动产登记（二手房）\xef\xbf\xbd"));
    hcp_intake in;
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, true, &in, &at, &err), HCP_OK);
    assert_string_equal(in.content, "第一行\n\t第二行\x01\xef\xbf\xbe");
    hcp_intake_clear(&in);
    json_decref(o);
    hcp_event ev;
    step_ok("{\"type\":\"rectify_done\",\"result\":\"ok\\u0001\\uffff\"}", &ev);
    hcp_event_clear(&ev);
}

static void test_unknown_enums(void **state)
{
    (void)state;
    mutate_expect(EVAL_BODY, false, "channel", json_string("fax"), "channel");
    mutate_expect(EVAL_BODY, false, "channel", json_string("WEB"), "channel");
    mutate_expect(EVAL_BODY, false, "dimensions", json_pack("[s,s,s]", "guide", "modes", "speed"),
                  "dimensions[2]");
    mutate_expect(EVAL_BODY, false, "dimensions", json_pack("[s,s]", "guide", "guide"),
                  "dimensions[1]");
    mutate_expect(CASE_BODY, true, "kind", json_string("praise"), "kind");

    /* the detail names the value and the allowed ones */
    json_t *o = must_load(EVAL_BODY);
    set_path(o, "channel", json_string("fax"));
    hcp_intake in;
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, false, &in, &at, &err), HCP_EINVAL);
    assert_non_null(strstr(err.detail, "\"fax\""));
    assert_non_null(strstr(err.detail, "window_device"));
    hcp_intake_clear(&in);
    json_decref(o);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    mutate_expect(EVAL_BODY, false, "contnet", json_string("x"), "contnet");
    mutate_expect(EVAL_BODY, false, "staff.mobile", json_string("1"), "staff.mobile");
    mutate_expect(EVAL_BODY, false, "unit.address", json_string("1"), "unit.address");
    mutate_expect(EVAL_BODY, false, "complainant.email", json_string("a@b.c"), "complainant.email");
    mutate_expect(EVAL_BODY, false, "service_item.id", json_string("1"), "service_item.id");
    /* kind is a case field: an evaluation refuses it */
    mutate_expect(EVAL_BODY, false, "kind", json_string("review"), "kind");

    /* a long Chinese key is cut on a character boundary */
    char key[200] = "";
    for (int i = 0; i < 30; i++)
        strcat(key, "汉");
    json_t *o = must_load(EVAL_BODY);
    set_path(o, key, json_true());
    hcp_intake in;
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, false, &in, &at, &err), HCP_EINVAL);
    assert_int_equal(err.status, 422);
    assert_true(strlen(err.field) > 0 && strlen(err.field) < sizeof(err.field));
    assert_true(hcp_utf8_valid(err.field, strlen(err.field)));
    assert_true(hcp_utf8_valid(err.detail, strlen(err.detail)));
    hcp_intake_clear(&in);
    json_decref(o);

    /* inside an object: "unit." and whole characters up to the buffer
     * (5 + 19 * 3 = 62 bytes; a 20th would not fit in 63) */
    char nested[220] = "unit.";
    strcat(nested, key);
    o = must_load(EVAL_BODY);
    set_path(o, nested, json_true());
    assert_int_equal(hcp_json_read_intake(o, false, &in, &at, &err), HCP_EINVAL);
    assert_int_equal(err.status, 422);
    assert_int_equal(strlen(err.field), 62);
    assert_int_equal(strncmp(err.field, nested, 62), 0);
    hcp_intake_clear(&in);
    json_decref(o);
}

/* A string of n bytes of 'x' (caller frees). */
static char *filler(size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'x', n);
    s[n] = '\0';
    return s;
}

static void test_oversize_strings(void **state)
{
    (void)state;
    char *big = filler(HCP_TEXT_MAX + 1);
    mutate_expect(EVAL_BODY, false, "content", json_string(big), "content");
    big[HCP_SHORT_MAX + 1] = '\0';
    mutate_expect(EVAL_BODY, false, "unit.name", json_string(big), "unit.name");
    mutate_expect(EVAL_BODY, false, "complainant.name", json_string(big), "complainant.name");
    mutate_expect(EVAL_BODY, false, "window", json_string(big), "window");
    free(big);

    /* exactly at the ceilings is fine */
    json_t *o = must_load(EVAL_BODY);
    char *text = filler(HCP_TEXT_MAX);
    char *name = filler(HCP_SHORT_MAX);
    set_path(o, "content", json_string(text));
    set_path(o, "unit.name", json_string(name));
    hcp_intake in;
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, false, &in, &at, &err), HCP_OK);
    assert_int_equal(strlen(in.content), HCP_TEXT_MAX);
    hcp_intake_clear(&in);
    free(text);
    free(name);
    json_decref(o);
}

static void test_rating_rules(void **state)
{
    (void)state;
    mutate_expect(EVAL_BODY, false, "rating", json_integer(0), "rating");
    mutate_expect(EVAL_BODY, false, "rating", json_integer(6), "rating");
    mutate_expect(EVAL_BODY, false, "rating", json_integer(-1), "rating");
    mutate_expect(EVAL_BODY, false, "rating", json_integer(1LL << 40), "rating");
    /* a complaint carries no rating */
    mutate_expect(CASE_BODY, true, "rating", json_integer(2), "rating");
    /* a review needs one */
    mutate_expect(CASE_BODY, true, "kind", json_string("review"), "rating");

    for (int r = 1; r <= 5; r++) {
        json_t *o = must_load(EVAL_BODY);
        set_path(o, "rating", json_integer(r));
        hcp_intake in;
        hcp_time at;
        hcp_json_err err;
        assert_int_equal(hcp_json_read_intake(o, false, &in, &at, &err), HCP_OK);
        assert_int_equal(in.rating, r);
        hcp_intake_clear(&in);
        json_decref(o);
    }
}

/* ------------------------------------------------------------ load */

static void test_load_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {"",
                                      "{",
                                      "{\"a\":",
                                      "{\"a\":1,}",
                                      "{'a':1}",
                                      "{\"a\":1} x",
                                      "{\"a\":1,\"a\":2}",
                                      "{\"a\":\"\\u0000\"}",
                                      "{\"a\":1e999999}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_load(bad[i], strlen(bad[i]), 400, HCP_EFORMAT);

    /* the detail carries jansson's text and the position */
    json_t *o = NULL;
    hcp_json_err err;
    assert_int_equal(hcp_json_load("{\"a\":1,}", 8, &o, &err), HCP_EFORMAT);
    assert_non_null(strstr(err.detail, "line 1"));
    assert_string_equal(err.field, "");
}

static void test_load_bad_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"content\":\"\xff\"}",         /* never valid */
        "{\"content\":\"\xc0\xaf\"}",     /* overlong '/' */
        "{\"content\":\"\xe6\xb1\"}",     /* truncated 汉 */
        "{\"content\":\"\xed\xa0\x80\"}", /* a surrogate */
        "{\"\xe6\xb1\":1}",               /* in a key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_load(bad[i], strlen(bad[i]), 400, HCP_EUTF8);
}

static void test_load_sizes(void **state)
{
    (void)state;
    /* exactly HCP_BODY_MAX bytes: fine; one more: 413 before parsing */
    char *body = malloc(HCP_BODY_MAX + 2);
    assert_non_null(body);
    memset(body, ' ', HCP_BODY_MAX + 1);
    body[0] = '{';
    body[HCP_BODY_MAX - 1] = '}';
    body[HCP_BODY_MAX + 1] = '\0';
    json_t *o = NULL;
    hcp_json_err err;
    assert_int_equal(hcp_json_load(body, HCP_BODY_MAX, &o, &err), HCP_OK);
    json_decref(o);
    o = NULL;
    assert_int_equal(hcp_json_load(body, HCP_BODY_MAX + 1, &o, &err), HCP_ERANGE);
    assert_int_equal(err.status, 413);
    assert_null(o);
    free(body);

    /* the body need not be NUL-terminated: only n bytes are read */
    assert_int_equal(hcp_json_load("{}garbage", 2, &o, &err), HCP_OK);
    json_decref(o);

    /* bad arguments */
    assert_int_equal(hcp_json_load(NULL, 3, &o, &err), HCP_EINVAL);
    assert_int_equal(hcp_json_load("{}", 2, NULL, &err), HCP_EINVAL);
    assert_int_equal(hcp_json_load("{}", 2, &o, NULL), HCP_EINVAL);
}

static void test_load_not_object(void **state)
{
    (void)state;
    static const char *const bad[] = {"[1,2]", "42", "\"x\"", "null", "true", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_load(bad[i], strlen(bad[i]), 422, HCP_EINVAL);

    /* and the readers refuse a non-object too */
    json_t *a = json_array();
    hcp_intake in;
    hcp_event ev;
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(a, false, &in, &at, &err), HCP_EINVAL);
    assert_int_equal(err.status, 422);
    assert_int_equal(hcp_json_read_intake(NULL, true, &in, &at, &err), HCP_EINVAL);
    assert_int_equal(hcp_json_read_step(a, &ev, &err), HCP_EINVAL);
    assert_int_equal(err.status, 422);
    assert_int_equal(hcp_json_read_step(a, NULL, &err), HCP_EINVAL);
    json_decref(a);
}

/* ------------------------------------------------------------ steps */

/* Parse a step body; expect success. ev is the caller's to clear. */
static void step_ok(const char *body, hcp_event *ev)
{
    json_t *o = must_load(body);
    hcp_json_err err;
    int rc = hcp_json_read_step(o, ev, &err);
    if (rc != HCP_OK)
        fail_msg("step %s: rc %d field '%s' (%s)", body, rc, err.field, err.detail);
    json_decref(o);
}

/* Parse a step body; expect 422 naming field. */
static void step_422(const char *body, const char *field)
{
    json_t *o = must_load(body);
    hcp_event ev;
    hcp_json_err err;
    int rc = hcp_json_read_step(o, &ev, &err);
    hcp_event_clear(&ev);
    json_decref(o);
    if (rc != HCP_EINVAL || err.status != 422 || strcmp(err.field, field) != 0)
        fail_msg("step %s: expected 422 on %s, got rc %d field '%s' (%s)", body, field, rc,
                 err.field, err.detail);
}

static void test_steps_verify(void **state)
{
    (void)state;
    hcp_event ev;
    step_ok(
        "{\"type\":\"verify_start\",\"verifier\":{\"name\":\"赵六\",\"phone\":\"0971-1234567\"},"
        "\"at\":\"2026-11-27T10:03:00+08:00\"}",
        &ev);
    assert_int_equal(ev.type, HCP_EV_VERIFY_START);
    assert_string_equal(ev.verifier.name, "赵六");
    assert_string_equal(ev.verifier.phone, "0971-1234567");
    assert_int_equal(ev.at, T_AT);
    hcp_event_clear(&ev);

    step_ok("{\"type\":\"notify_staff\"}", &ev);
    assert_int_equal(ev.type, HCP_EV_NOTIFY_STAFF);
    assert_int_equal(ev.at, 0);
    hcp_event_clear(&ev);

    step_ok("{\"type\":\"verify_conclude\",\"outcome\":\"substantiated\",\"note\":\"属实\"}", &ev);
    assert_int_equal(ev.outcome, HCP_OUT_SUBSTANTIATED);
    assert_string_equal(ev.note, "属实");
    hcp_event_clear(&ev);
    step_ok("{\"type\":\"verify_conclude\",\"outcome\":\"unsubstantiated\"}", &ev);
    assert_int_equal(ev.outcome, HCP_OUT_UNSUBSTANTIATED);
    assert_null(ev.note);
    hcp_event_clear(&ev);

    step_ok("{\"type\":\"dispute_file\",\"by\":\"张三\",\"reason\":\"评价人误解办理流程\"}", &ev);
    assert_int_equal(ev.type, HCP_EV_DISPUTE_FILE);
    assert_string_equal(ev.by, "张三");
    assert_string_equal(ev.reason, "评价人误解办理流程");
    hcp_event_clear(&ev);

    static const struct {
        const char *name;
        int verdict;
    } verdicts[] = {
        {"upheld", HCP_VD_UPHELD}, {"mistaken", HCP_VD_MISTAKEN}, {"malicious", HCP_VD_MALICIOUS}};
    for (size_t i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"type\":\"dispute_decide\",\"outcome\":\"%s\"}",
                 verdicts[i].name);
        step_ok(body, &ev);
        assert_int_equal(ev.verdict, verdicts[i].verdict);
        assert_int_equal(ev.outcome, 0);
        hcp_event_clear(&ev);
    }
}

static void test_steps_rectify(void **state)
{
    (void)state;
    hcp_event ev;
    step_ok(
        "{\"type\":\"rectify_assign\",\"unit\":{\"code\":\"630102-007\",\"name\":\"市场监管局\"},"
        "\"mode\":\"deferred\"}",
        &ev);
    assert_int_equal(ev.type, HCP_EV_RECTIFY_ASSIGN);
    assert_string_equal(ev.unit.name, "市场监管局");
    assert_int_equal(ev.mode, HCP_RM_DEFERRED);
    hcp_event_clear(&ev);

    hcp_day want;
    assert_int_equal(hcp_day_from_ymd(2026, 12, 5, &want), HCP_OK);
    step_ok("{\"type\":\"rectify_extend\",\"reason\":\"需跨部门协调\",\"new_due\":\"2026-12-05\"}",
            &ev);
    assert_int_equal(ev.new_due, want);
    assert_string_equal(ev.reason, "需跨部门协调");
    hcp_event_clear(&ev);
    /* a date-time: its civil day in Asia/Shanghai */
    step_ok("{\"type\":\"rectify_extend\",\"reason\":\"r\",\"new_due\":\"2026-12-04T20:00:00Z\"}",
            &ev);
    assert_int_equal(ev.new_due, want);
    hcp_event_clear(&ev);

    step_ok("{\"type\":\"rectify_done\",\"result\":\"已取消多余材料要求\"}", &ev);
    assert_string_equal(ev.result, "已取消多余材料要求");
    hcp_event_clear(&ev);

    step_ok("{\"type\":\"feedback\",\"via\":\"phone\",\"text\":\"已电话告知整改结果\"}", &ev);
    assert_string_equal(ev.via, "phone");
    assert_string_equal(ev.text, "已电话告知整改结果");
    hcp_event_clear(&ev);

    step_ok("{\"type\":\"revisit\",\"by\":\"监管局\",\"satisfied\":true,\"note\":\"满意\"}", &ev);
    assert_true(ev.satisfied);
    assert_string_equal(ev.by, "监管局");
    hcp_event_clear(&ev);
    step_ok("{\"type\":\"revisit\",\"by\":\"监管局\",\"satisfied\":false}", &ev);
    assert_false(ev.satisfied);
    hcp_event_clear(&ev);

    step_ok("{\"type\":\"close\",\"at\":\"2026-11-27T02:03:00Z\"}", &ev);
    assert_int_equal(ev.type, HCP_EV_CLOSE);
    assert_int_equal(ev.at, T_AT);
    hcp_event_clear(&ev);
}

static void test_steps_bad(void **state)
{
    (void)state;
    step_422("{\"type\":\"evaluation\"}", "type");
    step_422("{\"type\":\"case_open\"}", "type");
    step_422("{\"type\":\"overdue\",\"deadline\":\"feedback\"}", "type");
    step_422("{\"type\":\"fax\"}", "type");
    step_422("{\"type\":5}", "type");
    step_422("{}", "type");
    step_422("{\"type\":null}", "type");
    step_422("{\"type\":\"notify_staff\",\"note\":\"x\"}", "note");
    step_422("{\"type\":\"close\",\"at\":\"soon\"}", "at");
    step_422("{\"type\":\"verify_start\"}", "verifier");
    step_422("{\"type\":\"verify_start\",\"verifier\":{\"name\":\"赵六\"}}", "verifier.phone");
    step_422("{\"type\":\"verify_start\",\"verifier\":{\"name\":\"a\",\"phone\":\"1\",\"x\":1}}",
             "verifier.x");
    step_422("{\"type\":\"verify_conclude\"}", "outcome");
    step_422("{\"type\":\"verify_conclude\",\"outcome\":\"mistaken\"}", "outcome");
    step_422("{\"type\":\"verify_conclude\",\"outcome\":\"substantiated\",\"note\":5}", "note");
    step_422("{\"type\":\"dispute_file\",\"by\":\"张三\"}", "reason");
    step_422("{\"type\":\"dispute_decide\",\"outcome\":\"substantiated\"}", "outcome");
    step_422("{\"type\":\"rectify_assign\",\"mode\":\"immediate\"}", "unit");
    step_422(
        "{\"type\":\"rectify_assign\",\"unit\":{\"code\":\"1\",\"name\":\"n\"},\"mode\":\"x\"}",
        "mode");
    step_422("{\"type\":\"rectify_extend\",\"reason\":\"r\"}", "new_due");
    step_422("{\"type\":\"rectify_extend\",\"reason\":\"r\",\"new_due\":\"2026-02-30\"}",
             "new_due");
    step_422("{\"type\":\"rectify_extend\",\"reason\":\"r\",\"new_due\":20261205}", "new_due");
    step_422("{\"type\":\"rectify_done\",\"result\":\"\"}", "result");
    step_422("{\"type\":\"feedback\",\"text\":\"t\"}", "via");
    step_422("{\"type\":\"revisit\",\"by\":\"b\"}", "satisfied");
    step_422("{\"type\":\"revisit\",\"by\":\"b\",\"satisfied\":\"yes\"}", "satisfied");
    step_422("{\"type\":\"revisit\",\"satisfied\":true}", "by");
}

/* ------------------------------------------------------------ case JSON */

/* A case with its intake read from CASE_BODY and state set by hand, and
 * three events (case_open, verify_start, rectify_extend). */
static void make_case(hcp_case *c, hcp_event ev[3])
{
    memset(c, 0, sizeof(*c));
    memset(ev, 0, 3 * sizeof(*ev));
    json_t *o = must_load(CASE_BODY);
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, true, &c->in, &at, &err), HCP_OK);
    json_decref(o);
    snprintf(c->id, sizeof(c->id), "630102-20261127-0042");
    snprintf(c->county, sizeof(c->county), "630102");
    c->real_name = hcp_intake_real_name(&c->in);
    c->received_at = T_AT;
    c->status = HCP_ST_RECTIFYING;
    c->outcome = HCP_OUT_SUBSTANTIATED;
    c->adopted = true;
    c->feedback_due.at = 1796399999; /* 2026-12-04T23:59:59+08:00 */
    c->verifier.name = hcp_strndup("赵六", strlen("赵六"));
    c->verifier.phone = hcp_strndup("13700000003", 11);
    assert_non_null(c->verifier.phone);

    ev[0].seq = 41;
    ev[0].type = HCP_EV_CASE_OPEN;
    ev[0].at = ev[0].recorded_at = T_AT;
    assert_int_equal(hcp_intake_copy(&ev[0].in, &c->in), HCP_OK);
    ev[1].seq = 42;
    ev[1].type = HCP_EV_VERIFY_START;
    ev[1].at = ev[1].recorded_at = T_AT + 60;
    ev[1].verifier.name = hcp_strndup("赵六", strlen("赵六"));
    ev[1].verifier.phone = hcp_strndup("13700000003", 11);
    ev[2].seq = 43;
    ev[2].type = HCP_EV_RECTIFY_EXTEND;
    ev[2].at = ev[2].recorded_at = T_AT + 120;
    ev[2].reason = hcp_strndup("需跨部门协调", strlen("需跨部门协调"));
    assert_int_equal(hcp_day_from_ymd(2026, 12, 11, &ev[2].new_due), HCP_OK);
}

static void free_case(hcp_case *c, hcp_event ev[3])
{
    hcp_case_clear(c);
    for (int i = 0; i < 3; i++)
        hcp_event_clear(&ev[i]);
}

static void test_case_keys(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "id",     "county",  "kind",      "rating",      "channel",   "dimensions", "service_item",
        "unit",   "window",  "staff",     "complainant", "real_name", "content",    "received_at",
        "status", "outcome", "deadlines", "overdue",     "events"};
    hcp_case c;
    hcp_event ev[3];
    make_case(&c, ev);
    json_t *j = hcp_json_case(&c, ev, 3, T_AT + 3600, true);
    assert_non_null(j);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_object_get(j, keys[i]) == NULL)
            fail_msg("case JSON lacks %s", keys[i]);
    json_t *dl = json_object_get(j, "deadlines");
    assert_true(json_is_object(dl));
    assert_string_equal(json_string_value(json_object_get(dl, "feedback_due")),
                        "2026-12-04T23:59:59+08:00");
    assert_true(json_is_null(json_object_get(dl, "dispute_due")));
    assert_true(json_is_null(json_object_get(dl, "rereview_due")));
    assert_true(json_is_false(json_object_get(dl, "provisional")));

    assert_string_equal(json_string_value(json_object_get(j, "id")), "630102-20261127-0042");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "complaint");
    assert_true(json_is_null(json_object_get(j, "rating")));
    assert_string_equal(json_string_value(json_object_get(j, "channel")), "12345");
    assert_string_equal(json_string_value(json_object_get(j, "received_at")),
                        "2026-11-27T10:03:00+08:00");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "rectifying");
    assert_string_equal(json_string_value(json_object_get(j, "outcome")), "substantiated");
    assert_true(json_is_true(json_object_get(j, "real_name")));
    assert_true(json_is_boolean(json_object_get(j, "overdue")));
    assert_true(json_is_null(json_object_get(j, "window")));
    json_t *dims = json_object_get(j, "dimensions");
    assert_int_equal(json_array_size(dims), 1);
    assert_string_equal(json_string_value(json_array_get(dims, 0)), "rights");
    json_t *cp = json_object_get(j, "complainant");
    assert_string_equal(json_string_value(json_object_get(cp, "phone")), "13900000002");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "staff"), "phone")),
                        "13800000001");

    /* events: their types and fields */
    json_t *evs = json_object_get(j, "events");
    assert_int_equal(json_array_size(evs), 3);
    json_t *e0 = json_array_get(evs, 0);
    assert_int_equal(json_integer_value(json_object_get(e0, "seq")), 41);
    assert_string_equal(json_string_value(json_object_get(e0, "type")), "case_open");
    assert_string_equal(json_string_value(json_object_get(e0, "kind")), "complaint");
    assert_non_null(json_object_get(e0, "complainant"));
    json_t *e1 = json_array_get(evs, 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(e1, "verifier"), "phone")),
        "13700000003");
    json_t *e2 = json_array_get(evs, 2);
    assert_string_equal(json_string_value(json_object_get(e2, "new_due")), "2026-12-11");
    assert_string_equal(json_string_value(json_object_get(e2, "recorded_at")),
                        "2026-11-27T10:05:00+08:00");
    json_decref(j);

    /* no events */
    j = hcp_json_case(&c, NULL, 0, T_AT, false);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
    json_decref(j);
    assert_null(hcp_json_case(&c, NULL, 2, T_AT, false));
    assert_null(hcp_json_case(NULL, NULL, 0, T_AT, false));
    free_case(&c, ev);
}

static void test_case_no_personal(void **state)
{
    (void)state;
    static const char *const personal[] = {
        "李四",        "13900000002", "630102199001011234", "青海高原牧业公司",
        "13800000001", "13700000003"};
    hcp_case c;
    hcp_event ev[3];
    make_case(&c, ev);
    json_t *j = hcp_json_case(&c, ev, 3, T_AT, false);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "complainant")));
    json_t *staff = json_object_get(j, "staff");
    assert_null(json_object_get(staff, "phone"));
    assert_string_equal(json_string_value(json_object_get(staff, "name")), "张三");
    char *s = json_dumps(j, 0);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof(personal) / sizeof(personal[0]); i++)
        if (strstr(s, personal[i]) != NULL)
            fail_msg("personal data %s in %s", personal[i], s);
    assert_non_null(strstr(s, "赵六")); /* the verifier's name is not personal */
    free(s);
    json_decref(j);

    /* the same with personal: every one of them is there */
    j = hcp_json_case(&c, ev, 3, T_AT, true);
    s = json_dumps(j, 0);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof(personal) / sizeof(personal[0]); i++)
        assert_non_null(strstr(s, personal[i]));
    free(s);
    json_decref(j);
    free_case(&c, ev);
}

static void test_round_trip(void **state)
{
    (void)state;
    /* an evaluation read from a body, written as an event, dumped and read
     * back: every string byte for byte */
    json_t *o = must_load(EVAL_BODY);
    hcp_event ev;
    memset(&ev, 0, sizeof(ev));
    hcp_time at;
    hcp_json_err err;
    assert_int_equal(hcp_json_read_intake(o, false, &ev.in, &at, &err), HCP_OK);
    ev.type = HCP_EV_EVALUATION;
    ev.seq = 7;
    ev.at = at;
    ev.evaluation_no = 1234;
    json_t *j = hcp_json_event(&ev, true);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "evaluation_no")), 1234);
    assert_null(json_object_get(j, "kind"));
    char *s = json_dumps(j, JSON_ENSURE_ASCII);
    assert_non_null(s);
    json_t *back = must_load(s);
    free(s);

    /* the event's fields are the request's fields: read it as one */
    json_object_del(back, "seq");
    json_object_del(back, "type");
    json_object_del(back, "recorded_at");
    json_object_del(back, "evaluation_no");
    hcp_intake in2;
    hcp_time at2;
    assert_int_equal(hcp_json_read_intake(back, false, &in2, &at2, &err), HCP_OK);
    assert_int_equal(at2, at);
    assert_int_equal(strlen(in2.content), strlen(ev.in.content));
    assert_memory_equal(in2.content, ev.in.content, strlen(ev.in.content) + 1);
    assert_string_equal(in2.unit.name, ev.in.unit.name);
    assert_string_equal(in2.complainant.organization, ev.in.complainant.organization);
    assert_string_equal(in2.window, ev.in.window);
    assert_int_equal(in2.dimensions, ev.in.dimensions);
    /* and the content is the original request's bytes */
    const char *orig = json_string_value(json_object_get(o, "content"));
    assert_memory_equal(in2.content, orig, strlen(orig) + 1);
    hcp_intake_clear(&in2);
    json_decref(back);
    json_decref(j);
    hcp_event_clear(&ev);
    json_decref(o);
}

static void test_event_fields(void **state)
{
    (void)state;
    hcp_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = HCP_EV_DISPUTE_DECIDE;
    ev.verdict = HCP_VD_MALICIOUS;
    ev.at = T_AT;
    json_t *j = hcp_json_event(&ev, false);
    assert_string_equal(json_string_value(json_object_get(j, "outcome")), "malicious");
    assert_null(json_object_get(j, "note"));
    assert_true(json_is_null(json_object_get(j, "recorded_at")));
    json_decref(j);

    ev.type = HCP_EV_OVERDUE;
    ev.deadline = HCP_DL_REREVIEW;
    j = hcp_json_event(&ev, false);
    assert_string_equal(json_string_value(json_object_get(j, "deadline")), "rereview");
    json_decref(j);

    ev.type = HCP_EV_REVISIT;
    ev.satisfied = true;
    j = hcp_json_event(&ev, false);
    assert_true(json_is_true(json_object_get(j, "satisfied")));
    json_decref(j);

    ev.type = HCP_EV_VERIFY_CONCLUDE;
    ev.outcome = HCP_OUT_UNSUBSTANTIATED;
    j = hcp_json_event(&ev, false);
    assert_string_equal(json_string_value(json_object_get(j, "outcome")), "unsubstantiated");
    json_decref(j);

    ev.type = HCP_EV_RECTIFY_ASSIGN;
    ev.mode = HCP_RM_IMMEDIATE;
    ev.unit.code = hcp_strndup("630102-007", 10);
    ev.unit.name = hcp_strndup("市场监管局", strlen("市场监管局"));
    j = hcp_json_event(&ev, false);
    assert_string_equal(json_string_value(json_object_get(j, "mode")), "immediate");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "unit"), "name")),
                        "市场监管局");
    json_decref(j);
    hcp_event_clear(&ev);
    assert_null(hcp_json_event(NULL, true));
}

static void test_time_and_error(void **state)
{
    (void)state;
    json_t *t = hcp_json_time(0);
    assert_true(json_is_null(t));
    json_decref(t);
    t = hcp_json_time(T_AT);
    assert_string_equal(json_string_value(t), "2026-11-27T10:03:00+08:00");
    json_decref(t);

    json_t *e = hcp_json_error("invalid", "channel \"fax\" is not one of …");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "error")), "invalid");
    assert_string_equal(json_string_value(json_object_get(e, "detail")),
                        "channel \"fax\" is not one of …");
    json_decref(e);
    e = hcp_json_error("x", "\xff");
    assert_string_equal(json_string_value(json_object_get(e, "detail")), "");
    json_decref(e);
    assert_null(hcp_json_error(NULL, "d"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_valid),      cmocka_unit_test(test_case_valid),
        cmocka_unit_test(test_optional_absent), cmocka_unit_test(test_required_missing),
        cmocka_unit_test(test_wrong_types),     cmocka_unit_test(test_unknown_enums),
        cmocka_unit_test(test_at_lower_bound),  cmocka_unit_test(test_short_field_chars),
        cmocka_unit_test(test_unknown_keys),    cmocka_unit_test(test_oversize_strings),
        cmocka_unit_test(test_rating_rules),    cmocka_unit_test(test_load_malformed),
        cmocka_unit_test(test_load_bad_utf8),   cmocka_unit_test(test_load_sizes),
        cmocka_unit_test(test_load_not_object), cmocka_unit_test(test_steps_verify),
        cmocka_unit_test(test_steps_rectify),   cmocka_unit_test(test_steps_bad),
        cmocka_unit_test(test_case_keys),       cmocka_unit_test(test_case_no_personal),
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_time_and_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
