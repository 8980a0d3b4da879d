/*
 * test_gw_feed_entry.c — the feed entry builder (gateway/feed_entry.h):
 * every field of the public entry, the redaction of every free text with
 * the case's own personal data, missing optional fields as null, the
 * stored value's header and its parsing, and the JSON and Atom renderings
 * of a stored entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "feed_entry.h"
#include "rules.h"
#include "redact.h"

#define T0 1798732800 /* 2027-01-01T00:00:00+08:00 */

/* A string member of o, or NULL when absent or not a string. */
static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A full case of 630102 (城东区): a complaint found substantiated,
 * rectified and revisited, with personal data in its free texts. */
static void full_case(hcp_case *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "630102-20270101-0001");
    snprintf(c->county, sizeof(c->county), "630102");
    c->in.kind = HCP_KIND_COMPLAINT;
    c->in.channel = HCP_CH_12345;
    c->in.dimensions = HCP_DIM_BIT(HCP_DIM_ATTITUDE) | HCP_DIM_BIT(HCP_DIM_GUIDE);
    c->in.unit.code = strdup("U1");
    c->in.unit.name = strdup("城东区政务服务中心");
    c->in.service_item.code = strdup("S-01");
    c->in.service_item.name = strdup("营业执照办理，联系张三");
    c->in.staff.name = strdup("李四");
    c->in.staff.phone = strdup("13912345678");
    c->in.has_complainant = true;
    c->in.complainant.name = strdup("张三");
    c->in.complainant.phone = strdup("13800001111");
    c->verifier.name = strdup("王五");
    c->rectify_unit.name = strdup("城东区市场监管局");
    c->rectification_result = strdup("已向张三道歉，李四(13912345678)已培训；王五复核");
    c->in.content = strdup("张三投诉：窗口李四态度差，电话13800001111");
    c->received_at = T0;
    c->last_at = T0 + 3600;
    c->last_recorded_at = T0 + 3600;
    c->feedback_due.at = T0 + 5 * 86400;
    c->feedback_at = T0 + 86400;
    c->revisited_at = T0 + 2 * 86400;
    c->status = HCP_ST_CLOSED;
    c->outcome = HCP_OUT_SUBSTANTIATED;
    c->adopted = true;
}

/* A step entered days after the date it claims (issue #13, finding 1): the
 * entry's update time is when it was recorded, so a poller's updated_after
 * sees it; the claimed date stays visible beside it. */
static void t_backdated_step_updates_now(void **state)
{
    (void)state;
    hcp_case c;
    full_case(&c);
    c.last_at = T0 + 3600;               /* said to have happened then */
    c.last_recorded_at = T0 + 6 * 86400; /* entered six days later */
    json_t *j = gw_feed_entry_json(&c);
    assert_non_null(j);
    assert_string_equal(str(j, "step_datetime"), "2027-01-01T01:00:00+08:00");
    assert_string_equal(str(j, "recorded_datetime"), "2027-01-07T00:00:00+08:00");
    assert_string_equal(str(j, "updated_datetime"), "2027-01-07T00:00:00+08:00");
    assert_int_equal(hcp_case_updated_at(&c), T0 + 6 * 86400);
    json_decref(j);
    hcp_case_clear(&c);
}

/* Every member the public sees, with its value. */
static void t_every_field(void **state)
{
    (void)state;
    hcp_case c;
    full_case(&c);
    json_t *j = gw_feed_entry_json(&c);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 29);
    /* GeoReport v2: the masked content, and the members hcp has no value for */
    assert_string_equal(str(j, "description"), "**投诉：窗口**态度差，电话***********");
    static const char *const nulls[] = {
        "service_notice", "address", "address_id", "zipcode", "lat", "long", "media_url"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        assert_non_null(json_object_get(j, nulls[i]));
        assert_true(json_is_null(json_object_get(j, nulls[i])));
    }
    assert_true(json_is_false(json_object_get(j, "deadline_provisional")));
    assert_true(json_is_null(json_object_get(j, "deadline_note")));
    assert_string_equal(str(j, "service_request_id"), "630102-20270101-0001");
    assert_string_equal(str(j, "status"), "closed");
    assert_string_equal(str(j, "status_notes"), "已反馈整改结果，已回访");
    assert_string_equal(str(j, "service_code"), "S-01");
    assert_non_null(str(j, "service_name"));
    assert_non_null(strstr(str(j, "service_name"), "营业执照办理"));
    assert_string_equal(str(j, "agency_responsible"), "城东区市场监管局"); /* the rectifier */
    assert_string_equal(str(j, "requested_datetime"), "2027-01-01T00:00:00+08:00");
    assert_string_equal(str(j, "updated_datetime"), "2027-01-01T01:00:00+08:00");
    assert_string_equal(str(j, "step_datetime"), "2027-01-01T01:00:00+08:00");
    assert_string_equal(str(j, "recorded_datetime"), "2027-01-01T01:00:00+08:00");
    assert_string_equal(str(j, "expected_datetime"), "2027-01-06T00:00:00+08:00");
    assert_string_equal(str(j, "county"), "630102");
    assert_string_equal(str(j, "county_name"), "城东区");
    assert_string_equal(str(j, "kind"), "complaint");
    assert_string_equal(str(j, "channel"), hcp_channel_names[HCP_CH_12345]);
    json_t *d = json_object_get(j, "dimensions");
    assert_true(json_is_array(d));
    assert_int_equal(json_array_size(d), 2);
    assert_string_equal(json_string_value(json_array_get(d, 0)),
                        hcp_dimension_names[HCP_DIM_GUIDE]);
    assert_string_equal(json_string_value(json_array_get(d, 1)),
                        hcp_dimension_names[HCP_DIM_ATTITUDE]);
    assert_string_equal(str(j, "outcome"), "substantiated");
    assert_non_null(str(j, "rectification_result"));
    assert_true(json_is_true(json_object_get(j, "revisited")));
    assert_null(json_object_get(j, "deadline_met")); /* added by the routes */
    json_decref(j);
    hcp_case_clear(&c);
}

/* The case's personal data never shows, in any free text; what is not
 * personal stays. */
static void t_redaction_kept(void **state)
{
    (void)state;
    hcp_case c;
    full_case(&c);
    json_t *j = gw_feed_entry_json(&c);
    assert_non_null(j);
    const char *keys[] = {"service_code", "service_name", "agency_responsible",
                          "rectification_result"};
    const char *personal[] = {"张三", "李四", "王五", "13912345678", "13800001111"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = str(j, keys[i]);
        assert_non_null(v);
        for (size_t k = 0; k < sizeof(personal) / sizeof(personal[0]); k++)
            assert_null(strstr(v, personal[k]));
        char again[512];
        assert_int_equal(hcp_redact(v, again, sizeof(again)), HCP_OK);
        assert_string_equal(v, again); /* nothing left to mask */
    }
    assert_non_null(strstr(str(j, "rectification_result"), "已向"));
    assert_non_null(strstr(str(j, "rectification_result"), "*"));
    json_decref(j);
    hcp_case_clear(&c);
}

/* A bare case: every optional field null, dimensions empty, open. */
static void t_missing_optional(void **state)
{
    (void)state;
    hcp_case c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "999999-20270101-0001");
    snprintf(c.county, sizeof(c.county), "999999"); /* not a known division */
    c.status = HCP_ST_RECEIVED;
    c.received_at = T0;
    c.last_at = T0;
    json_t *j = gw_feed_entry_json(&c);
    assert_non_null(j);
    const char *nulls[] = {"service_code",      "service_name", "agency_responsible",
                           "expected_datetime", "county_name",  "kind",
                           "channel",           "outcome",      "rectification_result"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        assert_true(json_is_null(json_object_get(j, nulls[i])));
    assert_int_equal(json_array_size(json_object_get(j, "dimensions")), 0);
    assert_string_equal(str(j, "status"), "open");
    assert_string_equal(str(j, "status_notes"), "已受理，等待核实");
    assert_true(json_is_false(json_object_get(j, "revisited")));
    json_decref(j);
    assert_null(gw_feed_entry_json(NULL));
}

/* The phrases of the statuses and outcomes. */
static void t_status_notes(void **state)
{
    (void)state;
    hcp_case c;
    memset(&c, 0, sizeof(c));
    c.status = HCP_ST_VERIFYING;
    assert_string_equal(gw_feed_entry_status_note(&c), "已受理，正在核实");
    c.status = HCP_ST_FEEDBACK_PENDING;
    assert_string_equal(gw_feed_entry_status_note(&c), "经核实不属实，正在反馈核实结果");
    c.outcome = HCP_OUT_SUBSTANTIATED;
    assert_string_equal(gw_feed_entry_status_note(&c), "整改完成，正在反馈整改结果");
    c.status = HCP_ST_RESOLVED;
    c.outcome = HCP_OUT_UNSUBSTANTIATED;
    assert_string_equal(gw_feed_entry_status_note(&c), "经核实不属实，已反馈核实结果");
    c.outcome = HCP_OUT_MALICIOUS;
    assert_string_equal(gw_feed_entry_status_note(&c), "经复核为恶意差评，不予采纳");
    c.outcome = HCP_OUT_MISTAKEN;
    assert_string_equal(gw_feed_entry_status_note(&c), "经复核为误评，不予采纳");
    c.outcome = HCP_OUT_NONE;
    c.status = HCP_ST_NONE;
    assert_string_equal(gw_feed_entry_status_note(&c), "已受理");
}

/* The stored value: header fields, the JSON after it, parsed back. */
static void t_value_roundtrip(void **state)
{
    (void)state;
    hcp_case c;
    full_case(&c);
    c.status = HCP_ST_RECTIFYING;
    c.feedback_at = 0; /* open: the feedback deadline is still ahead */
    hcp_buf b;
    hcp_buf_init(&b, 1u << 20);
    assert_int_equal(gw_feed_entry_value(&c, T0 + 60, &b), HCP_OK);
    gw_feed_meta m;
    assert_int_equal(gw_feed_value_parse(b.data, b.len, &m), HCP_OK);
    assert_false(m.closed);
    assert_true(m.met);
    assert_int_equal(m.received_at, T0);
    assert_int_equal(m.flip_at, T0 + 5 * 86400);
    assert_int_equal(gw_feed_entry_flip_at(&c), T0 + 5 * 86400);
    assert_true(gw_feed_meta_met_at(&m, T0 + 5 * 86400));
    assert_false(gw_feed_meta_met_at(&m, T0 + 5 * 86400 + 1));
    json_t *j = json_loadb(m.json, m.json_len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str(j, "status"), "open");
    json_decref(j);
    /* closed, deadline missed */
    c.status = HCP_ST_CLOSED;
    c.feedback_at = T0 + 6 * 86400;
    assert_int_equal(gw_feed_entry_value(&c, T0 + 7 * 86400, &b), HCP_OK);
    assert_int_equal(gw_feed_value_parse(b.data, b.len, &m), HCP_OK);
    assert_true(m.closed);
    assert_false(m.met);
    assert_int_equal(m.flip_at, 0);
    assert_int_equal(gw_feed_entry_value(NULL, 0, &b), HCP_EINVAL);
    hcp_buf_free(&b);
    hcp_case_clear(&c);
}

/* Values that cannot be entries are refused. */
static void t_value_parse_bad(void **state)
{
    (void)state;
    gw_feed_meta m;
    uint8_t v[GW_FEED_HDR + 4] = {GW_FEED_FORMAT};
    memcpy(v + GW_FEED_HDR, "{}", 2);
    assert_int_equal(gw_feed_value_parse(v, GW_FEED_HDR + 2, &m), HCP_OK);
    assert_int_equal(gw_feed_value_parse(v, GW_FEED_HDR + 1, &m), HCP_EFORMAT);
    assert_int_equal(gw_feed_value_parse(v, 3, &m), HCP_EFORMAT);
    v[0] = 2;
    assert_int_equal(gw_feed_value_parse(v, GW_FEED_HDR + 2, &m), HCP_EFORMAT);
    v[0] = GW_FEED_FORMAT;
    memcpy(v + GW_FEED_HDR, "[]", 2);
    assert_int_equal(gw_feed_value_parse(v, GW_FEED_HDR + 2, &m), HCP_EFORMAT);
    assert_int_equal(gw_feed_value_parse(NULL, 0, &m), HCP_EINVAL);
}

/* A value turned into a reference to the log's leaf keeps its header and
 * says which leaf; only a form-1 value can be turned. */
static void t_value_leaf(void **state)
{
    (void)state;
    hcp_buf b;
    hcp_buf_init(&b, 1024);
    uint8_t v[GW_FEED_HDR + 2] = {GW_FEED_FORMAT, GW_FEED_CLOSED};
    v[9] = 7;  /* received_at 7 */
    v[17] = 9; /* flip_at 9 */
    memcpy(v + GW_FEED_HDR, "{}", 2);
    assert_int_equal(hcp_buf_append(&b, v, sizeof(v)), HCP_OK);
    assert_int_equal(gw_feed_value_to_leaf(&b, 0x0102030405ULL), HCP_OK);
    assert_int_equal(b.len, GW_FEED_HDR + 8);
    gw_feed_meta m;
    assert_int_equal(gw_feed_value_parse(b.data, b.len, &m), HCP_OK);
    assert_true(m.is_leaf);
    assert_int_equal(m.leaf, 0x0102030405ULL);
    assert_null(m.json);
    assert_int_equal(m.json_len, 0);
    assert_true(m.closed);
    assert_int_equal(m.received_at, 7);
    assert_int_equal(m.flip_at, 9);
    assert_int_equal(gw_feed_value_to_leaf(&b, 1), HCP_EFORMAT); /* already a reference */
    assert_int_equal(gw_feed_value_parse(b.data, b.len - 1, &m), HCP_EFORMAT);
    assert_int_equal(gw_feed_value_parse(v, sizeof(v), &m), HCP_OK);
    assert_false(m.is_leaf);
    hcp_buf_free(&b);
}

/* The JSON page's item: deadline_met added before the closing brace. */
static void t_json_append(void **state)
{
    (void)state;
    hcp_buf b;
    hcp_buf_init(&b, 1024);
    /* the bytes of GW_FEED_ENTRY_JSON_FORM: change that string with them */
    assert_string_equal(GW_FEED_ENTRY_JSON_FORM, "hcp-feed-entry-json/1");
    assert_int_equal(gw_feed_entry_json_append(&b, "{\"a\":1}", 7, true), HCP_OK);
    assert_int_equal(b.len, strlen("{\"a\":1,\"deadline_met\":true}"));
    assert_memory_equal(b.data, "{\"a\":1,\"deadline_met\":true}", b.len);
    assert_int_equal(gw_feed_entry_json_append(&b, "{\"a\":1", 6, true), HCP_EFORMAT);
    hcp_buf_free(&b);
}

/* The Atom entry: escaped, characters XML cannot carry dropped, the
 * labelled lines and the deadline line. */
static void t_atom_append(void **state)
{
    (void)state;
    const char *json =
        "{\"status_notes\":\"a<b&c\",\"updated_datetime\":\"2027-01-01T01:00:00+08:00\","
        "\"county_name\":\"城东区\",\"rectification_result\":\"x\\u0001y\\\"z'\"}";
    hcp_buf b;
    hcp_buf_init(&b, 1u << 16);
    assert_int_equal(
        gw_feed_entry_atom_append(&b, "630102-20270101-0001", T0, json, strlen(json), false),
        HCP_OK);
    assert_int_equal(hcp_buf_append(&b, "", 1), HCP_OK);
    const char *s = (const char *)b.data;
    assert_non_null(strstr(s, "<id>urn:hcp:case:630102-20270101-0001:1798732800</id>"));
    assert_non_null(strstr(s, "<title>630102-20270101-0001 a&lt;b&amp;c</title>"));
    assert_non_null(strstr(s, "地区：城东区\n"));
    assert_non_null(strstr(s, "整改结果：xy&quot;z&apos;\n"));
    assert_non_null(strstr(s, "按期办理：否</content></entry>\n"));
    assert_null(strchr(s, '\x01'));
    hcp_buf_reset(&b);
    assert_int_equal(gw_feed_entry_atom_append(&b, "630102-x", T0, "[1]", 3, true), HCP_EFORMAT);
    assert_int_equal(gw_feed_entry_atom_append(&b, "a<b", T0, "{}", 2, true), HCP_EFORMAT);
    hcp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_every_field),     cmocka_unit_test(t_backdated_step_updates_now),
        cmocka_unit_test(t_redaction_kept),  cmocka_unit_test(t_missing_optional),
        cmocka_unit_test(t_status_notes),    cmocka_unit_test(t_value_roundtrip),
        cmocka_unit_test(t_value_parse_bad), cmocka_unit_test(t_value_leaf),
        cmocka_unit_test(t_json_append),     cmocka_unit_test(t_atom_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
