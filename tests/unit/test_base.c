/*
 * test_base.c — the shared core (core/hcp.c) and the case model's helpers
 * (core/case.c): the bounded buffer's ceiling, UTF-8 validation, error
 * strings, name tables, case ids, real-name rule, deep copies (no leaks
 * under ASan) and which events carry personal data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "be.h"
#include "case.h"
#include "hcp.h"

/* ---- hcp_buf ---- */

static void test_buf_ceiling(void **state)
{
    (void)state;
    hcp_buf b;
    uint8_t src[128];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)i;
    hcp_buf_init(&b, 100);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(hcp_buf_append(&b, src, 60), HCP_OK);
    uint8_t *data = b.data;
    size_t cap = b.cap;
    /* past the ceiling: refused, the buffer as it was */
    assert_int_equal(hcp_buf_append(&b, src + 60, 41), HCP_ERANGE);
    assert_int_equal(b.len, 60);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_memory_equal(b.data, src, 60);
    assert_int_equal(hcp_buf_append(&b, src, SIZE_MAX), HCP_ERANGE);
    assert_int_equal(b.len, 60);
    /* up to the ceiling exactly is fine */
    assert_int_equal(hcp_buf_append(&b, src + 60, 40), HCP_OK);
    assert_int_equal(b.len, 100);
    assert_memory_equal(b.data, src, 100);
    assert_true(b.cap >= 100);
    assert_int_equal(hcp_buf_append(&b, src, 1), HCP_ERANGE);
    assert_int_equal(hcp_buf_append(&b, NULL, 0), HCP_OK);
    assert_int_equal(b.len, 100);
    /* arguments */
    assert_int_equal(hcp_buf_append(&b, NULL, 1), HCP_EINVAL);
    assert_int_equal(hcp_buf_append(NULL, src, 1), HCP_EINVAL);
    /* reset keeps the storage, free is safe twice */
    hcp_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(hcp_buf_append(&b, src, 3), HCP_OK);
    assert_memory_equal(b.data, src, 3);
    hcp_buf_free(&b);
    assert_null(b.data);
    hcp_buf_free(&b);
    hcp_buf_free(NULL);
    hcp_buf_reset(NULL);
    hcp_buf_init(NULL, 1);
}

static void test_buf_growth(void **state)
{
    (void)state;
    hcp_buf b;
    hcp_buf_init(&b, 1u << 20);
    for (unsigned i = 0; i < 10000; i++) {
        uint8_t c = (uint8_t)(i * 31);
        assert_int_equal(hcp_buf_append(&b, &c, 1), HCP_OK);
    }
    assert_int_equal(b.len, 10000);
    for (unsigned i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], (uint8_t)(i * 31));
    hcp_buf_free(&b);
    /* a zero ceiling takes nothing */
    hcp_buf_init(&b, 0);
    assert_int_equal(hcp_buf_append(&b, "x", 1), HCP_ERANGE);
    assert_int_equal(hcp_buf_append(&b, "x", 0), HCP_OK);
    hcp_buf_free(&b);
    /* reserve: one allocation, kept by the appends that fit it */
    hcp_buf_init(&b, 1000);
    assert_int_equal(hcp_buf_reserve(&b, 1001), HCP_ERANGE);
    assert_null(b.data);
    assert_int_equal(hcp_buf_reserve(&b, 700), HCP_OK);
    assert_int_equal(b.cap, 700);
    uint8_t *kept = b.data;
    for (unsigned i = 0; i < 700; i++) {
        uint8_t c = (uint8_t)i;
        assert_int_equal(hcp_buf_append(&b, &c, 1), HCP_OK);
    }
    assert_ptr_equal(b.data, kept);
    assert_int_equal(hcp_buf_reserve(&b, 10), HCP_OK); /* never shrinks */
    assert_int_equal(b.cap, 700);
    assert_int_equal(b.data[699], (uint8_t)699);
    assert_int_equal(hcp_buf_reserve(NULL, 1), HCP_EINVAL);
    hcp_buf_free(&b);
    /* a zeroed buffer frees fine */
    hcp_buf z = {0};
    hcp_buf_free(&z);
}

/* ---- UTF-8 ---- */

typedef struct utf8_case {
    const char *s;
    size_t n;
    bool ok;
} utf8_case;

#define U8(lit, ok)                                                                                \
    {                                                                                              \
        lit, sizeof(lit) - 1, ok                                                                   \
    }

static void test_utf8(void **state)
{
    (void)state;
    static const utf8_case cases[] = {
        U8("", true),
        U8("plain ASCII ~", true),
        U8("投诉：窗口服务态度差", true),
        U8("\xc2\x80", true),              /* U+0080, smallest 2-byte */
        U8("\xdf\xbf", true),              /* U+07FF */
        U8("\xe0\xa0\x80", true),          /* U+0800, smallest 3-byte */
        U8("\xed\x9f\xbf", true),          /* U+D7FF, just below surrogates */
        U8("\xee\x80\x80", true),          /* U+E000, just above */
        U8("\xef\xbf\xbf", true),          /* U+FFFF */
        U8("\xf0\x90\x80\x80", true),      /* U+10000 */
        U8("\xf0\x9f\x98\x80", true),      /* U+1F600 */
        U8("\xf4\x8f\xbf\xbf", true),      /* U+10FFFF, the last */
        U8("\xc0\x80", false),             /* overlong NUL */
        U8("\xc1\xbf", false),             /* overlong 2-byte */
        U8("\xe0\x80\xaf", false),         /* overlong '/' */
        U8("\xe0\x9f\xbf", false),         /* overlong 3-byte */
        U8("\xf0\x8f\xbf\xbf", false),     /* overlong 4-byte */
        U8("\xed\xa0\x80", false),         /* U+D800 surrogate */
        U8("\xed\xbf\xbf", false),         /* U+DFFF surrogate */
        U8("\xf4\x90\x80\x80", false),     /* U+110000 */
        U8("\xf5\x80\x80\x80", false),     /* lead byte past U+10FFFF */
        U8("\xf8\x88\x80\x80\x80", false), /* 5-byte form */
        U8("\xff", false),
        U8("\xfe", false),
        U8("\x80", false),             /* lone continuation */
        U8("a\xbf", false),            /* continuation after ASCII */
        U8("\xe6\xb5", false),         /* truncated 3-byte */
        U8("\xf0\x9f\x98", false),     /* truncated 4-byte */
        U8("\xc3", false),             /* truncated 2-byte */
        U8("\xe6\x41\x8b", false),     /* bad continuation */
        U8("\xf0\x9f\x41\x80", false), /* bad 3rd byte */
        U8("\xf0\x9f\x98\x41", false), /* bad 4th byte */
        U8("\xe6\xb5\x8b\xe8", false), /* good then truncated */
        U8("a\0b", false),             /* NUL refused */
        U8("\0", false),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (hcp_utf8_valid(cases[i].s, cases[i].n) != cases[i].ok)
            fail_msg("case %zu: expected %d", i, cases[i].ok);
    }
    /* length, not the NUL, ends the text */
    assert_true(hcp_utf8_valid("ab\xff", 2));
    assert_true(hcp_utf8_valid(NULL, 0));
    assert_false(hcp_utf8_valid(NULL, 1));
}

/* The definition, byte by byte (what hcp_utf8_valid was before its fast
 * paths): the length of the well-formed sequence at s, or 0. */
static size_t ref_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return c != 0;
    size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (len == 0 || n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

static bool ref_valid(const unsigned char *s, size_t n)
{
    while (n > 0) {
        size_t k = ref_seq(s, n);
        if (k == 0)
            return false;
        s += k;
        n -= k;
    }
    return true;
}

/* The fast paths agree with the definition: every string of up to four
 * bytes over the boundary bytes, each behind 0..9 bytes of ASCII (so the
 * eight-at-a-time path ends anywhere), and random mixtures of valid
 * sequences with one byte changed. */
static void test_utf8_same_as_definition(void **state)
{
    (void)state;
    static const unsigned char edge[] = {0x00, 0x01, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
                                         0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                                         0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    const size_t ne = sizeof(edge);
    unsigned char buf[64];
    size_t checked = 0;
    for (size_t len = 1; len <= 4; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= ne;
        for (size_t code = 0; code < total; code++) {
            size_t pre = code % 10, x = code;
            memset(buf, 'a', pre);
            for (size_t i = 0; i < len; i++, x /= ne)
                buf[pre + i] = edge[x % ne];
            size_t n = pre + len;
            if (hcp_utf8_valid((const char *)buf, n) != ref_valid(buf, n))
                fail_msg("differs on a string of %zu bytes (code %zu)", n, code);
            checked++;
        }
    }
    static const char *const pieces[] = {"a",
                                         "Z0",
                                         "\xc3\xa9",
                                         "\xe6\xb5\x8b",
                                         "\xed\x9f\xbf",
                                         "\xef\xbf\xbd",
                                         "\xe0\xa0\x80",
                                         "\xf0\x9f\x98\x80",
                                         "abcdefgh"};
    uint32_t r = 12345;
    for (int round = 0; round < 200000; round++) {
        size_t n = 0;
        while (n < 40) {
            r = r * 1103515245u + 12345u;
            const char *pc = pieces[(r >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t l = strlen(pc);
            memcpy(buf + n, pc, l);
            n += l;
        }
        r = r * 1103515245u + 12345u;
        if (round % 2 == 1)
            buf[(r >> 8) % n] = (unsigned char)(r >> 20); /* one byte changed */
        if (hcp_utf8_valid((const char *)buf, n) != ref_valid(buf, n))
            fail_msg("differs on random string %d", round);
        checked++;
    }
    assert_true(checked > 400000);
}

/* ---- errors and small helpers ---- */

static void test_strerror(void **state)
{
    (void)state;
    const char *unknown = hcp_strerror(-1);
    assert_non_null(unknown);
    assert_string_equal(hcp_strerror(HCP_OK), "success");
    for (int e = 0; e < HCP_ERR_COUNT_; e++) {
        const char *t = hcp_strerror(e);
        assert_non_null(t);
        assert_true(strlen(t) > 0);
        assert_string_not_equal(t, unknown);
        for (int f = 0; f < e; f++)
            assert_string_not_equal(t, hcp_strerror(f));
    }
    assert_string_equal(hcp_strerror(HCP_ERR_COUNT_), unknown);
    assert_string_equal(hcp_strerror(9999), unknown);
    assert_string_equal(hcp_strerror(INT32_MIN), unknown);
}

static void test_strndup(void **state)
{
    (void)state;
    char *d = hcp_strndup("青海省xyz", 9);
    assert_non_null(d);
    assert_string_equal(d, "青海省");
    free(d);
    d = hcp_strndup("", 0);
    assert_non_null(d);
    assert_string_equal(d, "");
    free(d);
    d = hcp_strndup(NULL, 0);
    assert_non_null(d);
    free(d);
    assert_null(hcp_strndup(NULL, 1));
}

/* ---- name tables ---- */

/* Every name of table maps back to its index, index 0 is NULL, and names
 * are distinct. */
#define CHECK_TABLE(table)                                                                         \
    do {                                                                                           \
        int count_ = (int)(sizeof((table)) / sizeof((table)[0]));                                  \
        assert_null((table)[0]);                                                                   \
        for (int i_ = 1; i_ < count_; i_++) {                                                      \
            assert_non_null((table)[i_]);                                                          \
            assert_int_equal(HCP_LOOKUP((table), (table)[i_], strlen((table)[i_])), i_);           \
            assert_true(hcp_utf8_valid((table)[i_], strlen((table)[i_])));                         \
        }                                                                                          \
        assert_int_equal(HCP_LOOKUP((table), "nope", 4), 0);                                       \
        assert_int_equal(HCP_LOOKUP((table), "", 0), 0);                                           \
        assert_int_equal(HCP_LOOKUP((table), NULL, 0), 0);                                         \
        /* a prefix or an extension of a name is not the name */                                   \
        assert_int_equal(HCP_LOOKUP((table), (table)[1], strlen((table)[1]) - 1), 0);              \
    } while (0)

static void test_name_tables(void **state)
{
    (void)state;
    CHECK_TABLE(hcp_kind_names);
    CHECK_TABLE(hcp_channel_names);
    CHECK_TABLE(hcp_dimension_names);
    CHECK_TABLE(hcp_status_names);
    CHECK_TABLE(hcp_outcome_names);
    CHECK_TABLE(hcp_verdict_names);
    CHECK_TABLE(hcp_rectify_mode_names);
    CHECK_TABLE(hcp_deadline_names);
    CHECK_TABLE(hcp_ev_type_names);

    assert_string_equal(hcp_channel_names[HCP_CH_12345], "12345");
    assert_string_equal(hcp_kind_names[HCP_KIND_COMPLAINT], "complaint");
    assert_string_equal(hcp_ev_type_names[HCP_EV_OVERDUE], "overdue");
    assert_string_equal(hcp_status_names[HCP_ST_AWAITING_REVISIT], "awaiting_revisit");
    /* s need not be NUL-terminated */
    assert_int_equal(HCP_LOOKUP(hcp_kind_names, "reviewXYZ", 6), HCP_KIND_REVIEW);
    assert_int_equal(HCP_LOOKUP(hcp_kind_names, "review", 7), 0);
    assert_int_equal(HCP_LOOKUP(hcp_kind_names, "Review", 6), 0);
    assert_int_equal(hcp_name_lookup(NULL, 3, "review", 6), 0);
}

/* ---- case ids ---- */

static hcp_day day_of(int y, int m, int d)
{
    hcp_day day = 0;
    assert_int_equal(hcp_day_from_ymd(y, m, d, &day), HCP_OK);
    return day;
}

static void test_case_id_round_trip(void **state)
{
    (void)state;
    char buf[HCP_CASE_ID_MAX], county[HCP_COUNTY_LEN + 1];
    hcp_day day = day_of(2026, 11, 27), got_day = 0;
    uint32_t n = 0;
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "630102", day, 42), HCP_OK);
    assert_string_equal(buf, "630102-20261127-0042");
    assert_int_equal(hcp_case_id_parse(buf, county, &got_day, &n), HCP_OK);
    assert_string_equal(county, "630102");
    assert_int_equal(got_day, day);
    assert_int_equal(n, 42);

    static const uint32_t ns[] = {1, 9999, 10000, 12345, 999999, 1000000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "632801", day_of(1970, 1, 1), ns[i]),
                         HCP_OK);
        assert_int_equal(hcp_case_id_parse(buf, county, &got_day, &n), HCP_OK);
        assert_string_equal(county, "632801");
        assert_int_equal(got_day, day_of(1970, 1, 1));
        assert_int_equal(n, ns[i]);
    }
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "630102", day, 12345), HCP_OK);
    assert_string_equal(buf, "630102-20261127-12345");
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "630102", day, UINT32_MAX), HCP_OK);
    assert_string_equal(buf, "630102-20261127-4294967295");
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "630102", day_of(9999, 12, 31), 1),
                     HCP_OK);
    assert_string_equal(buf, "630102-99991231-0001");
    /* out-parameters are optional */
    assert_int_equal(hcp_case_id_parse("630102-20240229-0001", NULL, NULL, NULL), HCP_OK);
}

static void test_case_id_format_errors(void **state)
{
    (void)state;
    char buf[HCP_CASE_ID_MAX];
    hcp_day day = day_of(2026, 11, 27);
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "630102", day, 0), HCP_EINVAL);
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "63010", day, 1), HCP_EINVAL);
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "6301021", day, 1), HCP_EINVAL);
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "63o102", day, 1), HCP_EINVAL);
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), NULL, day, 1), HCP_EINVAL);
    assert_int_equal(hcp_case_id_format(NULL, 32, "630102", day, 1), HCP_EINVAL);
    assert_int_equal(hcp_case_id_format(buf, 20, "630102", day, 42), HCP_ERANGE); /* no NUL room */
    assert_int_equal(hcp_case_id_format(buf, 21, "630102", day, 42), HCP_OK);
    assert_int_equal(hcp_case_id_format(buf, 0, "630102", day, 42), HCP_ERANGE);
    /* days that would not parse back */
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "630102", -1, 1), HCP_ERANGE);
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "630102", INT32_MAX, 1), HCP_ERANGE);
    assert_int_equal(hcp_case_id_format(buf, sizeof(buf), "630102", INT32_MIN, 1), HCP_ERANGE);
}

static void test_case_id_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "630102-20261127-004",         /* n too short */
        "630102-20261127",             /* no n */
        "630102_20261127-0042",        /* wrong separator */
        "630102-20261127_0042",        /* wrong separator */
        "63010a-20261127-0042",        /* county not digits */
        "6301-2020261127-0042",        /* dash in the wrong place */
        "630102-2026112a-0042",        /* date not digits */
        "630102-20261131-0042",        /* 31 November */
        "630102-20250229-0042",        /* not a leap year */
        "630102-20261327-0042",        /* month 13 */
        "630102-19691231-0042",        /* before 1970 */
        "630102-20261127-0000",        /* n == 0 */
        "630102-20261127-00042",       /* non-canonical n */
        "630102-20261127-04294967295", /* too long */
        "630102-20261127-4294967296",  /* past UINT32_MAX */
        "630102-20261127-9999999999",  /* past UINT32_MAX */
        "630102-20261127-0042 ",       /* trailing space */
        " 630102-20261127-0042",       /* leading space */
        "630102-20261127--042",        /* sign */
        "630102-20261127-+042",        /* sign */
        "630102-2026-11-27-42",        /* dashed date */
    };
    char county[HCP_COUNTY_LEN + 1] = "xxxxxx";
    hcp_day day = 7;
    uint32_t n = 7;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (hcp_case_id_parse(bad[i], county, &day, &n) != HCP_EFORMAT)
            fail_msg("accepted %s", bad[i]);
    }
    /* nothing written on failure */
    assert_string_equal(county, "xxxxxx");
    assert_int_equal(day, 7);
    assert_int_equal(n, 7);
    assert_int_equal(hcp_case_id_parse(NULL, county, &day, &n), HCP_EINVAL);
}

/* ---- real name ---- */

static void test_real_name(void **state)
{
    (void)state;
    hcp_intake in = {0};
    assert_false(hcp_intake_real_name(NULL));
    assert_false(hcp_intake_real_name(&in));
    in.complainant.name = "张三";
    in.complainant.phone = "13800000000";
    assert_false(hcp_intake_real_name(&in)); /* anonymous: complainant null */
    in.has_complainant = true;
    assert_true(hcp_intake_real_name(&in));
    in.complainant.phone = NULL;
    assert_false(hcp_intake_real_name(&in)); /* a name alone cannot be revisited */
    in.complainant.id_number = "630102199001011234";
    assert_true(hcp_intake_real_name(&in));
    in.complainant.id_number = "";
    assert_false(hcp_intake_real_name(&in));
    in.complainant.phone = "13800000000";
    in.complainant.name = "";
    assert_false(hcp_intake_real_name(&in)); /* an empty name is no name */
    in.complainant.name = NULL;
    assert_false(hcp_intake_real_name(&in));
    in.complainant.name = "张三";
    in.complainant.phone = "";
    in.complainant.organization = "某公司";
    assert_false(hcp_intake_real_name(&in));
}

/* ---- deep copies ---- */

/* A heap copy of s for a struct to own. */
static char *own(const char *s)
{
    char *d = hcp_strndup(s, strlen(s));
    assert_non_null(d);
    return d;
}

/* Give every string of in a value. */
static void intake_fill(hcp_intake *in)
{
    in->kind = HCP_KIND_COMPLAINT;
    in->channel = HCP_CH_12345;
    in->dimensions = HCP_DIM_BIT(HCP_DIM_ATTITUDE) | HCP_DIM_BIT(HCP_DIM_GUIDE);
    in->unit.code = own("U-630102-001");
    in->unit.name = own("城东区政务服务中心");
    in->window = own("3号窗口");
    in->staff.id = own("S-0042");
    in->staff.name = own("李四");
    in->staff.phone = own("13900000000");
    in->service_item.code = own("SI-001");
    in->service_item.name = own("营业执照办理");
    in->has_complainant = true;
    in->complainant.name = own("张三");
    in->complainant.phone = own("13800000000");
    in->complainant.id_number = own("630102199001011234");
    in->complainant.organization = own("某公司");
    in->content = own("窗口人员态度生硬，材料被退回三次。");
}

/* Set extra to n owned bytes. */
static void extra_fill(hcp_extra *x, size_t n)
{
    x->data = malloc(n);
    assert_non_null(x->data);
    for (size_t i = 0; i < n; i++)
        x->data[i] = (uint8_t)(0xA0 + i);
    x->len = n;
    x->count = 1;
}

/* dst's string equals src's and is a different allocation. */
#define SAME_STR(dst, src)                                                                         \
    do {                                                                                           \
        assert_non_null(dst);                                                                      \
        assert_ptr_not_equal(dst, src);                                                            \
        assert_string_equal(dst, src);                                                             \
    } while (0)

static void intake_check(const hcp_intake *d, const hcp_intake *s)
{
    assert_int_equal(d->kind, s->kind);
    assert_int_equal(d->channel, s->channel);
    assert_int_equal(d->dimensions, s->dimensions);
    assert_int_equal(d->has_complainant, s->has_complainant);
    SAME_STR(d->unit.code, s->unit.code);
    SAME_STR(d->unit.name, s->unit.name);
    SAME_STR(d->window, s->window);
    SAME_STR(d->staff.id, s->staff.id);
    SAME_STR(d->staff.name, s->staff.name);
    SAME_STR(d->staff.phone, s->staff.phone);
    SAME_STR(d->service_item.code, s->service_item.code);
    SAME_STR(d->service_item.name, s->service_item.name);
    SAME_STR(d->complainant.name, s->complainant.name);
    SAME_STR(d->complainant.phone, s->complainant.phone);
    SAME_STR(d->complainant.id_number, s->complainant.id_number);
    SAME_STR(d->complainant.organization, s->complainant.organization);
    SAME_STR(d->content, s->content);
}

static void test_event_copy(void **state)
{
    (void)state;
    hcp_event src = {0}, dst = {0};
    src.seq = 77;
    memcpy(src.county, "630102", 7);
    src.type = HCP_EV_CASE_OPEN;
    src.at = 1795000000;
    memcpy(src.case_id, "630102-20261127-0042", 21);
    intake_fill(&src.in);
    src.verifier.name = own("王五");
    src.verifier.phone = own("13700000000");
    src.note = own("note");
    src.by = own("by");
    src.reason = own("reason");
    src.unit.code = own("U-2");
    src.unit.name = own("整改单位");
    src.result = own("已整改");
    src.via = own("phone");
    src.text = own("已电话告知");
    src.has_pii = true;
    memset(src.pii_salt, 0x5A, sizeof(src.pii_salt));
    memset(src.pii_digest, 0xA5, sizeof(src.pii_digest));
    extra_fill(&src.extra, 9);

    assert_int_equal(hcp_event_copy(&dst, &src), HCP_OK);
    assert_int_equal(dst.seq, 77);
    assert_string_equal(dst.county, "630102");
    assert_string_equal(dst.case_id, "630102-20261127-0042");
    assert_int_equal(dst.type, HCP_EV_CASE_OPEN);
    intake_check(&dst.in, &src.in);
    SAME_STR(dst.verifier.name, src.verifier.name);
    SAME_STR(dst.verifier.phone, src.verifier.phone);
    SAME_STR(dst.note, src.note);
    SAME_STR(dst.by, src.by);
    SAME_STR(dst.reason, src.reason);
    SAME_STR(dst.unit.code, src.unit.code);
    SAME_STR(dst.unit.name, src.unit.name);
    SAME_STR(dst.result, src.result);
    SAME_STR(dst.via, src.via);
    SAME_STR(dst.text, src.text);
    assert_true(dst.has_pii);
    assert_memory_equal(dst.pii_salt, src.pii_salt, HCP_SALT_LEN);
    assert_memory_equal(dst.pii_digest, src.pii_digest, HCP_HASH_LEN);
    assert_ptr_not_equal(dst.extra.data, src.extra.data);
    assert_int_equal(dst.extra.len, 9);
    assert_int_equal(dst.extra.count, 1);
    assert_memory_equal(dst.extra.data, src.extra.data, 9);

    /* the copy outlives its source */
    hcp_event_clear(&src);
    hcp_event zero = {0};
    assert_memory_equal(&src, &zero, sizeof(zero));
    assert_string_equal(dst.in.content, "窗口人员态度生硬，材料被退回三次。");
    assert_string_equal(dst.text, "已电话告知");
    hcp_event_clear(&dst);
    hcp_event_clear(&dst); /* safe twice */
    hcp_event_clear(NULL);

    /* a zeroed event copies to a zeroed event */
    assert_int_equal(hcp_event_copy(&dst, &zero), HCP_OK);
    assert_null(dst.in.content);
    assert_null(dst.note);
    assert_null(dst.extra.data);
    hcp_event_clear(&dst);
    assert_int_equal(hcp_event_copy(NULL, &zero), HCP_EINVAL);
    assert_int_equal(hcp_event_copy(&dst, NULL), HCP_EINVAL);
}

static void test_case_copy(void **state)
{
    (void)state;
    hcp_case src = {0}, dst = {0};
    memcpy(src.id, "630102-20261127-0042", 21);
    memcpy(src.county, "630102", 7);
    intake_fill(&src.in);
    src.real_name = true;
    src.status = HCP_ST_RECTIFYING;
    src.feedback_due.at = 1795500000;
    src.verifier.name = own("王五");
    src.verifier.phone = own("13700000000");
    src.rectify_unit.code = own("U-2");
    src.rectify_unit.name = own("整改单位");
    src.rectification_result = own("已整改");
    src.nevents = 5;
    src.last_seq = 99;
    extra_fill(&src.extra, 3);

    assert_int_equal(hcp_case_copy(&dst, &src), HCP_OK);
    assert_string_equal(dst.id, src.id);
    assert_string_equal(dst.county, "630102");
    intake_check(&dst.in, &src.in);
    SAME_STR(dst.verifier.name, src.verifier.name);
    SAME_STR(dst.verifier.phone, src.verifier.phone);
    SAME_STR(dst.rectify_unit.code, src.rectify_unit.code);
    SAME_STR(dst.rectify_unit.name, src.rectify_unit.name);
    SAME_STR(dst.rectification_result, src.rectification_result);
    assert_int_equal(dst.status, HCP_ST_RECTIFYING);
    assert_int_equal(dst.feedback_due.at, 1795500000);
    assert_int_equal(dst.nevents, 5);
    assert_int_equal(dst.last_seq, 99);
    assert_ptr_not_equal(dst.extra.data, src.extra.data);
    assert_memory_equal(dst.extra.data, src.extra.data, 3);

    hcp_case_clear(&src);
    hcp_case zero = {0};
    assert_memory_equal(&src, &zero, sizeof(zero));
    assert_string_equal(dst.rectification_result, "已整改");
    hcp_case_clear(&dst);
    hcp_case_clear(&dst);
    hcp_case_clear(NULL);
    assert_int_equal(hcp_case_copy(&dst, &zero), HCP_OK);
    assert_null(dst.in.content);
    assert_null(dst.rectification_result);
    assert_null(dst.extra.data);
    hcp_case_clear(&dst);
    assert_int_equal(hcp_case_copy(NULL, &zero), HCP_EINVAL);
    assert_int_equal(hcp_case_copy(&dst, NULL), HCP_EINVAL);

    /* the intake alone */
    hcp_intake a = {0}, b = {0};
    intake_fill(&a);
    assert_int_equal(hcp_intake_copy(&b, &a), HCP_OK);
    intake_check(&b, &a);
    hcp_intake_clear(&a);
    assert_string_equal(b.complainant.name, "张三");
    hcp_intake_clear(&b);
    hcp_intake_clear(NULL);
    assert_int_equal(hcp_intake_copy(NULL, &a), HCP_EINVAL);
}

/* ---- personal data ---- */

static void test_has_personal(void **state)
{
    (void)state;
    hcp_event ev = {0};
    assert_false(hcp_event_has_personal(NULL));
    assert_false(hcp_event_has_personal(&ev));
    /* names of staff and verifier, the content: not personal data */
    ev.in.staff.name = "李四";
    ev.in.staff.id = "S-1";
    ev.verifier.name = "王五";
    ev.in.content = "内容";
    ev.in.unit.name = "单位";
    assert_false(hcp_event_has_personal(&ev));

    /* each personal field on its own is enough */
    char **fields[] = {
        &ev.in.staff.phone,           &ev.in.complainant.name,         &ev.in.complainant.phone,
        &ev.in.complainant.id_number, &ev.in.complainant.organization, &ev.verifier.phone};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        *fields[i] = "x";
        if (!hcp_event_has_personal(&ev))
            fail_msg("field %zu not seen as personal", i);
        *fields[i] = NULL;
        assert_false(hcp_event_has_personal(&ev));
    }
}

/* The big-endian helpers: byte order, round trips, the extremes. */
static void test_be(void **state)
{
    (void)state;
    uint8_t b[8];
    hcp_be16_put(b, 0x0102);
    assert_memory_equal(b, "\x01\x02", 2);
    assert_int_equal(hcp_be16_get(b), 0x0102);
    hcp_be32_put(b, 0x01020304u);
    assert_memory_equal(b, "\x01\x02\x03\x04", 4);
    assert_int_equal(hcp_be32_get(b), 0x01020304u);
    hcp_be64_put(b, 0x0102030405060708ull);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(hcp_be64_get(b) == 0x0102030405060708ull);
    hcp_be64_put(b, UINT64_MAX);
    assert_true(hcp_be64_get(b) == UINT64_MAX);
    hcp_be32_put(b, UINT32_MAX);
    assert_true(hcp_be32_get(b) == UINT32_MAX);
    hcp_be16_put(b, UINT16_MAX);
    assert_true(hcp_be16_get(b) == UINT16_MAX);
    /* Keys sort in numeric order under memcmp. */
    uint8_t lo[8], hi[8];
    hcp_be64_put(lo, 255);
    hcp_be64_put(hi, 256);
    assert_true(memcmp(lo, hi, 8) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_ceiling),
        cmocka_unit_test(test_be),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_same_as_definition),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_strndup),
        cmocka_unit_test(test_name_tables),
        cmocka_unit_test(test_case_id_round_trip),
        cmocka_unit_test(test_case_id_format_errors),
        cmocka_unit_test(test_case_id_parse_rejects),
        cmocka_unit_test(test_real_name),
        cmocka_unit_test(test_event_copy),
        cmocka_unit_test(test_case_copy),
        cmocka_unit_test(test_has_personal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
