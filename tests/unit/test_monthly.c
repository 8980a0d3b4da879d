/*
 * test_monthly.c — the monthly form's writer (daemon/monthly.h,
 * docs/reports.md): 结果运用 as the table maps it, the rows' personal and
 * non-personal columns, CSV quoting and its BOM, the JSON's keys, an XLSX
 * that is a zip, and the query parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gz_fixture.h"
#include "hcp_time.h"
#include "monthly.h"

/* An owned copy of a string literal. */
static char *S(const char *s)
{
    return hcp_strndup(s, strlen(s));
}

/* A case received 2026-11-27 10:03 (+08:00) with every field the form uses. */
static void make_case(hcp_case *c, uint8_t outcome, uint8_t status)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "630102-20261127-0001");
    memcpy(c->county, "630102", 7);
    c->received_at = 1795744980; /* 2026-11-27T10:03:00+08:00 */
    c->in.kind = HCP_KIND_REVIEW;
    c->in.rating = 1;
    c->in.has_complainant = true;
    c->in.complainant.name = S("李明");
    c->in.complainant.phone = S("13900001234");
    c->in.content = S("态度差, 说\"再等等\"");
    c->in.unit.name = S("城东区政务服务中心");
    c->in.staff.name = S("王芳");
    c->in.staff.phone = S("0971-0001234");
    c->verifier.name = S("赵敏");
    c->verifier.phone = S("0971-0005678");
    c->outcome = outcome;
    c->status = status;
}

/* 结果运用 from status and outcome (docs/reports.md). */
static void test_use(void **state)
{
    (void)state;
    hcp_case c;
    memset(&c, 0, sizeof(c));
    c.status = HCP_ST_RECEIVED;
    assert_string_equal(hcpd_monthly_use(&c), "处理中");
    c.outcome = HCP_OUT_SUBSTANTIATED;
    assert_string_equal(hcpd_monthly_use(&c), "纳入年度考核");
    c.status = HCP_ST_DISPUTED;
    assert_string_equal(hcpd_monthly_use(&c), "复核中");
    c.status = HCP_ST_CLOSED;
    c.outcome = HCP_OUT_UNSUBSTANTIATED;
    assert_string_equal(hcpd_monthly_use(&c), "不纳入考核");
    c.outcome = HCP_OUT_MISTAKEN;
    assert_string_equal(hcpd_monthly_use(&c), "不予采纳");
    c.outcome = HCP_OUT_MALICIOUS;
    assert_string_equal(hcpd_monthly_use(&c), "不予采纳");
}

/* Personal rows show the contacts; the others never do. */
static void test_rows(void **state)
{
    (void)state;
    hcp_case c;
    make_case(&c, HCP_OUT_SUBSTANTIATED, HCP_ST_CLOSED);
    for (int personal = 0; personal <= 1; personal++) {
        hcpd_monthly m;
        assert_int_equal(hcpd_monthly_init(&m, 2026, 11, "630100", "西宁市", c.received_at, "sup",
                                           "0971-6155517", personal),
                         HCP_OK);
        assert_int_equal(hcpd_monthly_add(&m, &c), HCP_OK);
        assert_int_equal(m.n, 1);
        char **cell = m.rows[0].cell;
        assert_string_equal(cell[0], "2026-11-27 10:03");
        assert_string_equal(m.filled_on, "2026年11月27日");
        assert_non_null(strstr(cell[2], "差评（非常不满意）"));
        assert_string_equal(cell[6], "纳入年度考核");
        assert_non_null(strstr(cell[7], "630102-20261127-0001"));
        const char *secrets[] = {"13900001234", "0971-0001234", "0971-0005678", "李明"};
        for (size_t i = 0; i < 4; i++) {
            bool found = false;
            for (int k = 0; k < HCPD_MONTHLY_COLS - 1; k++)
                found = found || strstr(cell[k], secrets[i]) != NULL;
            assert_int_equal(found, personal);
        }
        hcpd_monthly_free(&m);
    }
    hcp_case_clear(&c);
}

/* The time cell at the edges of a day and of years: what hcp_time_format
 * says, cut to the minute (the cell is written digit by digit). */
static void test_time_cell(void **state)
{
    (void)state;
    hcp_case c;
    make_case(&c, HCP_OUT_SUBSTANTIATED, HCP_ST_CLOSED);
    const hcp_time base = c.received_at;
    const long offs[] = {0, 1, 59, 60, 3599, 3600, 86399, 86400, -86400 * 400L, 86400 * 3000L};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        hcp_time t = base - (base % 86400) + offs[i]; /* UTC midnights: 08:00 in the day */
        for (int h = 0; h < 24; h += 8) {
            c.received_at = t + h * 3600 - 8 * 3600;
            char iso[HCP_TIME_STRLEN], want[32];
            assert_int_equal(hcp_time_format(c.received_at, iso, sizeof(iso)), HCP_OK);
            snprintf(want, sizeof(want), "%.10s %.5s", iso, iso + 11);
            hcpd_monthly m;
            assert_int_equal(hcpd_monthly_init(&m, 2026, 11, "630100", "西宁市", base, "sup",
                                               "0971-6155517", false),
                             HCP_OK);
            assert_int_equal(hcpd_monthly_add(&m, &c), HCP_OK);
            assert_string_equal(m.rows[0].cell[0], want);
            hcpd_monthly_free(&m);
        }
    }
    hcp_case_clear(&c);
}

/* CSV: a BOM, the title first, quoting of quotes and commas, CRLF. */
static void test_csv_json_xlsx(void **state)
{
    (void)state;
    hcp_case c;
    make_case(&c, HCP_OUT_MISTAKEN, HCP_ST_CLOSED);
    hcpd_monthly m;
    assert_int_equal(
        hcpd_monthly_init(&m, 2026, 11, "630100", "西宁市", c.received_at, "sup", NULL, true),
        HCP_OK);
    assert_int_equal(hcpd_monthly_add(&m, &c), HCP_OK);
    hcp_buf b;
    hcp_buf_init(&b, 1 << 20);
    assert_int_equal(hcpd_monthly_csv(&m, &b), HCP_OK);
    assert_true(b.len > 3 && memcmp(b.data, "\xEF\xBB\xBF", 3) == 0);
    assert_int_equal(hcp_buf_append(&b, "", 1), HCP_OK); /* NUL-terminate */
    const char *s = (const char *)b.data + 3;
    assert_memory_equal(s, hcpd_monthly_title, strlen(hcpd_monthly_title));
    assert_non_null(strstr(s, ",\"差评（非常不满意）：态度差, 说\"\"再等等\"\"\","));
    assert_non_null(strstr(s, "序号,差评投诉时间,差评投诉人及联系方式"));
    assert_non_null(strstr(s, ",不予采纳,"));
    assert_non_null(strstr(s, "\r\n填表人：sup,填表人联系电话：\r\n"));
    hcp_buf_free(&b);

    json_t *j = hcpd_monthly_json(&m);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "填报地区(单位盖章)")), "西宁市");
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "序号")), 1);
    assert_string_equal(json_string_value(json_object_get(row, "结果运用")), "不予采纳");
    assert_int_equal(json_array_size(json_object_get(j, "columns")), HCPD_MONTHLY_COLS);
    json_decref(j);

    hcp_buf_init(&b, 1 << 24);
    assert_int_equal(hcpd_monthly_xlsx(&m, &b), HCP_OK);
    assert_true(b.len > 1000 && memcmp(b.data, "PK\x03\x04", 4) == 0); /* a zip */
    hcp_buf_free(&b);
    hcpd_monthly_free(&m);
    hcp_case_clear(&c);
}

/* The JSON written row by row is byte for byte jansson's dump of the whole
 * form, also with quotes, backslashes, control characters, a slash, long
 * cells and many rows; a block that is not a rendered row is refused. */
static void test_json_stream_same_bytes(void **state)
{
    (void)state;
    static const char *const odd[] = {"引号\"与\\反斜杠/斜杠", "换行\n回车\r制表\t\x01\x1f", "",
                                      "ascii only, plain",
                                      "\xF0\x9F\x98\x80 emoji 与 \xE2\x80\xA8 分隔符"};
    hcpd_monthly m;
    assert_int_equal(hcpd_monthly_init(&m, 2026, 11, "630100", "西宁\"市\\", 1795744980, "sup\"/x",
                                       "+86 (0971)", true),
                     HCP_OK);
    char *long_text = malloc(20000);
    assert_non_null(long_text);
    for (size_t i = 0; i < 19999; i++)
        long_text[i] = (char)('a' + i % 26);
    long_text[19999] = '\0';
    for (int i = 0; i < 300; i++) {
        hcp_case c;
        make_case(&c, (uint8_t)(i % 5), (uint8_t)(1 + i % 8));
        snprintf(c.id, sizeof(c.id), "630102-20261127-%04d", i + 1);
        free(c.in.content);
        c.in.content = S(i == 7 ? long_text : odd[i % 5]);
        free(c.in.complainant.name);
        c.in.complainant.name = S(odd[(i + 1) % 5]);
        c.in.has_complainant = i % 3 != 0;
        c.overdue_marked = (uint8_t)(i % 2 ? 2 : 0);
        c.revisited_at = i % 4 ? 0 : c.received_at + 1000;
        assert_int_equal(hcpd_monthly_add(&m, &c), HCP_OK);
        hcp_case_clear(&c);
    }
    free(long_text);
    json_t *j = hcpd_monthly_json(&m);
    char *whole = json_dumps(j, JSON_COMPACT);
    assert_non_null(whole);
    hcp_buf b;
    hcp_buf_init(&b, 1 << 24);
    assert_int_equal(hcpd_monthly_json_stream(&m, &b), HCP_OK);
    assert_int_equal(b.len, strlen(whole));
    assert_memory_equal(b.data, whole, b.len);
    free(whole);
    json_decref(j);
    hcp_buf_free(&b);
    /* a rendered row added again is the same row; its personal data only
     * in the personal part */
    hcp_case c;
    make_case(&c, HCP_OUT_SUBSTANTIATED, HCP_ST_CLOSED);
    hcp_buf pub, prv;
    hcp_buf_init(&pub, 1 << 20);
    hcp_buf_init(&prv, 1 << 20);
    assert_int_equal(hcpd_monthly_render(&c, true, &pub, &prv), HCP_OK);
    assert_int_equal(hcpd_monthly_add_rendered(&m, c.id, pub.data, pub.len, prv.data, prv.len),
                     HCP_OK);
    assert_int_equal(hcpd_monthly_add(&m, &c), HCP_OK);
    for (int k = 0; k < HCPD_MONTHLY_COLS - 1; k++) {
        const hcpd_monthly_row *a = &m.rows[m.n - 1], *b2 = &m.rows[m.n - 2];
        assert_string_equal(a->cell[k], b2->cell[k]);
        assert_true((a->json[k] == NULL) == (b2->json[k] == NULL));
        assert_true((a->csv[k] == NULL) == (b2->csv[k] == NULL));
        if (a->json[k] != NULL) {
            assert_string_equal(a->json[k], b2->json[k]);
            assert_string_equal(a->csv[k], b2->csv[k]);
        }
    }
    const char *secret[] = {"李明", "13900001234", "0971-0001234", "0971-0005678", "态度差"};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        size_t n = strlen(secret[i]);
        bool in_pub = false, in_prv = false;
        for (size_t at = 0; at + n <= pub.len; at++)
            in_pub = in_pub || memcmp(pub.data + at, secret[i], n) == 0;
        for (size_t at = 0; at + n <= prv.len; at++)
            in_prv = in_prv || memcmp(prv.data + at, secret[i], n) == 0;
        assert_false(in_pub);
        assert_true(in_prv);
    }
    assert_int_equal(hcpd_monthly_add_rendered(&m, c.id, pub.data, pub.len - 1, prv.data, prv.len),
                     HCP_EFORMAT);
    assert_int_equal(hcpd_monthly_add_rendered(&m, c.id, pub.data, pub.len, prv.data, prv.len - 1),
                     HCP_EFORMAT);
    assert_int_equal(hcpd_monthly_add_rendered(&m, c.id, "\0\0a\0b\0", 6, "", 0), HCP_EFORMAT);
    hcp_buf_free(&pub);
    hcp_buf_free(&prv);
    hcp_case_clear(&c);
    hcpd_monthly_free(&m);
}

/* The query parsers. */
static void test_params(void **state)
{
    (void)state;
    int y, m;
    hcpd_mformat f;
    assert_true(hcpd_monthly_month_parse("2026-11", &y, &m));
    assert_int_equal(y * 100 + m, 202611);
    const char *bad[] = {"2026-13", "2026-00", "1999-12", "2026-1", "2026/11", "abcd-ef", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(hcpd_monthly_month_parse(bad[i], &y, &m));
    assert_true(hcpd_monthly_format_parse("", &f) && f == HCPD_MF_JSON);
    assert_true(hcpd_monthly_format_parse("csv", &f) && f == HCPD_MF_CSV);
    assert_true(hcpd_monthly_format_parse("xlsx", &f) && f == HCPD_MF_XLSX);
    assert_false(hcpd_monthly_format_parse("pdf", &f));
    assert_true(hcpd_monthly_phone_ok(""));
    assert_true(hcpd_monthly_phone_ok("+86 (0971) 615-5517"));
    assert_false(hcpd_monthly_phone_ok("0971;DROP"));
    assert_false(hcpd_monthly_phone_ok("012345678901234567890123456789012"));
}

/* Accept-Encoding as a browser sends it, and odd ones. */
static void test_accepts_gzip(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "gzip",         "GZIP", "x-gzip",      "gzip, deflate, br, zstd", "deflate, gzip;q=1.0",
        "gzip;q=0.001", "*",    "br, *;q=0.1", " gzip ; q=0.5",           "identity, gzip"};
    static const char *const no[] = {
        "",           "gzip;q=0",   "gzip; q=0.000", "br",    "identity", "*;q=0", "gzip;q=0, *",
        "gzip;q=abc", "gzip;q=1.5", "deflate",       "gzipx", ";q=1",     ",,,",   "x-gzip;Q=0"};
    assert_false(hcpd_accepts_gzip(NULL));
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!hcpd_accepts_gzip(yes[i]))
            fprintf(stderr, "refused: %s\n", yes[i]);
        assert_true(hcpd_accepts_gzip(yes[i]));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (hcpd_accepts_gzip(no[i]))
            fprintf(stderr, "accepted: %s\n", no[i]);
        assert_false(hcpd_accepts_gzip(no[i]));
    }
}

/* The form gzipped around kept deflated rows decompresses to the plain
 * form, byte for byte (the CRC and length checked by zlib), as JSON and
 * CSV, with odd cells; a whole body gzipped in one piece too. */
static void test_gzip_form(void **state)
{
    (void)state;
    hcpd_monthly m;
    assert_int_equal(
        hcpd_monthly_init(&m, 2026, 11, "630100", "西宁市", 1795744980, "sup", "+86 (0971)", true),
        HCP_OK);
    for (int i = 0; i < 500; i++) {
        hcp_case c;
        make_case(&c, (uint8_t)(i % 5), (uint8_t)(1 + i % 8));
        snprintf(c.id, sizeof(c.id), "630102-20261127-%04d", i + 1);
        if (i % 7 == 0) {
            free(c.in.content);
            c.in.content = S("换行\n\"引号\"，逗号, 反斜杠\\");
        }
        assert_int_equal(hcpd_monthly_add(&m, &c), HCP_OK);
        hcp_case_clear(&c);
    }
    hcp_buf plain, rows, gz, back;
    hcp_buf_init(&plain, 1 << 26);
    hcp_buf_init(&rows, 1 << 26);
    hcp_buf_init(&gz, 1 << 26);
    hcp_buf_init(&back, 1 << 26);
    for (int f = HCPD_MF_JSON; f <= HCPD_MF_CSV; f++) {
        hcp_buf_reset(&plain);
        hcp_buf_reset(&rows);
        hcp_buf_reset(&gz);
        if (f == HCPD_MF_JSON) {
            assert_int_equal(hcpd_monthly_json_stream(&m, &plain), HCP_OK);
            assert_int_equal(hcpd_monthly_json_rows(&m, &rows), HCP_OK);
        } else {
            assert_int_equal(hcpd_monthly_csv(&m, &plain), HCP_OK);
            assert_int_equal(hcpd_monthly_csv_rows(&m, &rows), HCP_OK);
        }
        hcpd_gz part;
        assert_int_equal(hcpd_gz_part(rows.data, rows.len, &part), HCP_OK);
        assert_true(part.len > 0 && part.len < rows.len / 3);
        assert_int_equal(hcpd_monthly_gzip_wrap(&m, (hcpd_mformat)f, &part, &gz), HCP_OK);
        assert_true(gz.len > 18 && gz.data[0] == 0x1f && gz.data[1] == 0x8b);
        gz_fixture_gunzip(gz.data, gz.len, &back);
        assert_int_equal(back.len, plain.len);
        assert_memory_equal(back.data, plain.data, plain.len);
        hcpd_gz_free(&part);
        hcp_buf_reset(&gz);
        assert_int_equal(hcpd_gzip(plain.data, plain.len, &gz), HCP_OK);
        gz_fixture_gunzip(gz.data, gz.len, &back);
        assert_int_equal(back.len, plain.len);
        assert_memory_equal(back.data, plain.data, plain.len);
        /* at a level of the caller's (the feed's fast one), the same bytes back */
        for (int level = 1; level <= 9; level += 8) {
            hcp_buf_reset(&gz);
            assert_int_equal(hcpd_gzip_level(plain.data, plain.len, level, &gz), HCP_OK);
            gz_fixture_gunzip(gz.data, gz.len, &back);
            assert_int_equal(back.len, plain.len);
            assert_memory_equal(back.data, plain.data, plain.len);
        }
        assert_int_equal(hcpd_gzip_level(plain.data, plain.len, 0, &gz), HCP_EINVAL);
        assert_int_equal(hcpd_gzip_level(plain.data, plain.len, 10, &gz), HCP_EINVAL);
    }
    hcpd_gz none = {NULL, 0, 0, 0};
    assert_int_equal(hcpd_monthly_gzip_wrap(&m, HCPD_MF_XLSX, &none, &gz), HCP_EINVAL);
    hcp_buf_free(&plain);
    hcp_buf_free(&rows);
    hcp_buf_free(&gz);
    hcp_buf_free(&back);
    hcpd_monthly_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_use),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_time_cell),
        cmocka_unit_test(test_csv_json_xlsx),
        cmocka_unit_test(test_json_stream_same_bytes),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_gzip_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
