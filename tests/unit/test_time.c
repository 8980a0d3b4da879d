/* test_time.c — civil days in UTC+8, Gregorian conversion, weekdays, and
 * RFC 3339 parsing and formatting, including the rejections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hcp_time.h"

/* Parse a NUL-terminated string with hcp_time_parse; returns its code. */
static int parse(const char *s, hcp_time *t)
{
    return hcp_time_parse(s, strlen(s), t);
}

/* The day numbers of known dates, both directions, and the range ends. */
static void test_ymd(void **state)
{
    (void)state;
    hcp_day d;
    int y, m, dd;
    assert_int_equal(hcp_day_from_ymd(1970, 1, 1, &d), HCP_OK);
    assert_int_equal(d, 0);
    assert_int_equal(hcp_day_from_ymd(2026, 2, 13, &d), HCP_OK);
    assert_int_equal(d, 20497);
    assert_int_equal(hcp_day_from_ymd(2000, 2, 29, &d), HCP_OK);
    assert_int_equal(hcp_day_from_ymd(9999, 12, 31, &d), HCP_OK);
    assert_int_equal(d, 2932896);
    hcp_day_to_ymd(20497, &y, &m, &dd);
    assert_int_equal(y * 10000 + m * 100 + dd, 20260213);
    /* Every day of the range round-trips. */
    for (hcp_day i = 0; i <= 2932896; i += 7) {
        hcp_day back;
        hcp_day_to_ymd(i, &y, &m, &dd);
        assert_int_equal(hcp_day_from_ymd(y, m, dd, &back), HCP_OK);
        assert_int_equal(back, i);
    }
}

/* Dates that are not real, or out of 1970..9999, are refused. */
static void test_ymd_invalid(void **state)
{
    (void)state;
    hcp_day d;
    assert_int_equal(hcp_day_from_ymd(2026, 2, 30, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(2026, 2, 29, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(1900, 2, 29, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(2026, 4, 31, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(2026, 13, 1, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(2026, 0, 1, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(2026, 1, 0, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(1969, 12, 31, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(10000, 1, 1, &d), HCP_EINVAL);
    assert_int_equal(hcp_day_from_ymd(2026, 1, 1, NULL), HCP_EINVAL);
}

/* ISO weekdays: 1970-01-01 Thursday, 2026-02-14 Saturday, 2026-01-04 Sunday. */
static void test_weekday(void **state)
{
    (void)state;
    assert_int_equal(hcp_weekday(0), 4);
    assert_int_equal(hcp_weekday(20497), 5); /* 2026-02-13 Fri */
    assert_int_equal(hcp_weekday(20498), 6); /* 2026-02-14 Sat */
    assert_int_equal(hcp_weekday(20457), 7); /* 2026-01-04 Sun */
    assert_int_equal(hcp_weekday(20499), 7);
    assert_int_equal(hcp_weekday(20500), 1);
    assert_int_equal(hcp_weekday(-1), 3); /* 1969-12-31 Wed */
    assert_int_equal(hcp_weekday(-4), 7);
}

/* A civil day runs from 16:00Z the day before to 15:59:59Z. */
static void test_day_bounds(void **state)
{
    (void)state;
    hcp_time t;
    assert_int_equal(parse("2026-02-12T16:00:00Z", &t), HCP_OK);
    assert_int_equal(hcp_day_of(t), 20497);
    assert_int_equal(hcp_day_of(t - 1), 20496);
    assert_int_equal(hcp_day_start(20497), t);
    assert_int_equal(hcp_day_end(20497), t + 86399);
    assert_int_equal(hcp_day_of(hcp_day_end(20497)), 20497);
    assert_int_equal(hcp_day_of(-28800), 0);
    assert_int_equal(hcp_day_of(-28801), -1);
}

/* Offsets, Z, lower-case t/z and fractions all give the same instant. */
static void test_parse_ok(void **state)
{
    (void)state;
    hcp_time a, b;
    assert_int_equal(parse("2026-02-13T10:00:00+08:00", &a), HCP_OK);
    assert_int_equal(a, 1770948000);
    assert_int_equal(parse("2026-02-13T02:00:00Z", &b), HCP_OK);
    assert_int_equal(a, b);
    assert_int_equal(parse("2026-02-12T21:00:00-05:00", &b), HCP_OK);
    assert_int_equal(a, b);
    assert_int_equal(parse("2026-02-13t02:00:00.999999999z", &b), HCP_OK);
    assert_int_equal(a, b);
    assert_int_equal(parse("2026-02-13T10:00:00.5+08:00", &b), HCP_OK);
    assert_int_equal(a, b);
    assert_int_equal(parse("2026-02-13T07:30:00+05:30", &b), HCP_OK);
    assert_int_equal(a, b);
    assert_int_equal(parse("1970-01-01T00:00:00Z", &b), HCP_OK);
    assert_int_equal(b, 0);
    /* Not NUL-terminated: only n bytes are read. */
    assert_int_equal(hcp_time_parse("2026-02-13T02:00:00Zjunk", 20, &b), HCP_OK);
    assert_int_equal(a, b);
}

/* Everything that is not strict RFC 3339 with an offset is HCP_EFORMAT. */
static void test_parse_reject(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026-02-13",
        "2026-02-13T10:00:00",          /* no offset */
        "2026-02-13 10:00:00+08:00",    /* space */
        "2026-02-30T10:00:00+08:00",    /* no such day */
        "2026-02-13T24:00:00+08:00",    /* hour 24 */
        "2026-02-13T10:60:00+08:00",    /* minute 60 */
        "2026-02-13T10:00:60+08:00",    /* leap second */
        "2026-02-13T10:00:00+0800",     /* offset without colon */
        "2026-02-13T10:00:00+24:00",    /* offset hour */
        "2026-02-13T10:00:00+08:60",    /* offset minute */
        "2026-02-13T10:00:00.+08:00",   /* empty fraction */
        "2026-02-13T10:00+08:00",       /* no seconds */
        "2026-2-13T10:00:00+08:00",     /* short month */
        "2026-02-13T10:00:00+08:00 ",   /* trailing space */
        "2026-02-13T10:00:00Z+08:00",   /* two offsets */
        " 2026-02-13T10:00:00+08:00",   /* leading space */
        "+2026-02-13T10:00:00+08:00",   /* sign on year */
        "1969-12-31T23:59:59Z",         /* before 1970 */
        "2026-02-13T1a:00:00+08:00",    /* not a digit */
        "2026-02-13T10:00:00+08:00:00", /* seconds in offset */
    };
    hcp_time t = 12345;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], &t) != HCP_EFORMAT)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(t, 12345);
    assert_int_equal(hcp_time_parse(NULL, 0, &t), HCP_EINVAL);
    assert_int_equal(hcp_time_parse("x", 1, NULL), HCP_EINVAL);
    /* Truncated input: n cuts the offset off. */
    assert_int_equal(hcp_time_parse("2026-02-13T10:00:00+08:00", 22, &t), HCP_EFORMAT);
}

/* Formatting is always +08:00 and parses back to the same instant. */
static void test_format(void **state)
{
    (void)state;
    char buf[HCP_TIME_STRLEN];
    hcp_time t, back;
    assert_int_equal(parse("2026-02-13T02:00:00.75Z", &t), HCP_OK);
    assert_int_equal(hcp_time_format(t, buf, sizeof buf), HCP_OK);
    assert_string_equal(buf, "2026-02-13T10:00:00+08:00");
    assert_int_equal(hcp_time_format(hcp_day_end(20512), buf, sizeof buf), HCP_OK);
    assert_string_equal(buf, "2026-02-28T23:59:59+08:00");
    assert_int_equal(hcp_time_format(-28800, buf, sizeof buf), HCP_OK);
    assert_string_equal(buf, "1970-01-01T00:00:00+08:00");
    for (t = -28800; t < 4102444800; t += 9876543) {
        assert_int_equal(hcp_time_format(t, buf, sizeof buf), HCP_OK);
        assert_int_equal(parse(buf, &back), HCP_OK);
        assert_int_equal(back, t);
    }
    assert_int_equal(hcp_time_format(t, buf, sizeof buf - 1), HCP_ERANGE);
    assert_int_equal(hcp_time_format(t, NULL, sizeof buf), HCP_EINVAL);
    assert_int_equal(hcp_time_format(-28801, buf, sizeof buf), HCP_ERANGE);
    assert_int_equal(hcp_time_format(INT64_MAX, buf, sizeof buf), HCP_ERANGE);
    assert_int_equal(hcp_time_format(INT64_MIN, buf, sizeof buf), HCP_ERANGE);
}

/* "YYYY-MM-DD" both ways, and what it refuses. */
static void test_date(void **state)
{
    (void)state;
    char buf[HCP_DATE_STRLEN];
    hcp_day d;
    assert_int_equal(hcp_date_parse("2026-02-14", 10, &d), HCP_OK);
    assert_int_equal(d, 20498);
    assert_int_equal(hcp_date_format(d, buf, sizeof buf), HCP_OK);
    assert_string_equal(buf, "2026-02-14");
    assert_int_equal(hcp_date_format(d, buf, sizeof buf - 1), HCP_ERANGE);
    assert_int_equal(hcp_date_format(-1, buf, sizeof buf), HCP_ERANGE);
    assert_int_equal(hcp_date_format(d, NULL, 11), HCP_EINVAL);
    assert_int_equal(hcp_date_parse("2026-02-30", 10, &d), HCP_EFORMAT);
    assert_int_equal(hcp_date_parse("2026-02-1", 9, &d), HCP_EFORMAT);
    assert_int_equal(hcp_date_parse("2026-02-14 ", 11, &d), HCP_EFORMAT);
    assert_int_equal(hcp_date_parse("2026/02/14", 10, &d), HCP_EFORMAT);
    assert_int_equal(hcp_date_parse("2026-02-14", 10, NULL), HCP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ymd),      cmocka_unit_test(test_ymd_invalid),
        cmocka_unit_test(test_weekday),  cmocka_unit_test(test_day_bounds),
        cmocka_unit_test(test_parse_ok), cmocka_unit_test(test_parse_reject),
        cmocka_unit_test(test_format),   cmocka_unit_test(test_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
