/* test_calendar.c — the working-day calendar: the shipped data (2022-2026),
 * deadlines across the 2026 Spring Festival and National Day, provisional
 * deadlines past the known years, a replacement calendar, and every parse
 * error naming its line. Facts checked against data/calendar.tsv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "calendar.h"

#define HDR "date\tkind\tname\tnotice_year\n"

/* Set up: the compiled-in calendar, freed in teardown. */
static int cal_setup(void **state)
{
    hcp_cal *cal = NULL;
    if (hcp_cal_default(&cal) != HCP_OK)
        return -1;
    *state = cal;
    return 0;
}

/* Teardown for cal_setup. */
static int cal_teardown(void **state)
{
    hcp_cal_free(*state);
    return 0;
}

/* The civil day of "YYYY-MM-DD", asserting that it parses. */
static hcp_day day(const char *s)
{
    hcp_day d = 0;
    assert_int_equal(hcp_date_parse(s, strlen(s), &d), HCP_OK);
    return d;
}

/* The instant of an RFC 3339 string, asserting that it parses. */
static hcp_time at(const char *s)
{
    hcp_time t = 0;
    assert_int_equal(hcp_time_parse(s, strlen(s), &t), HCP_OK);
    return t;
}

/* Assert that n working days after `from` end at `want` (RFC 3339) with the
 * given provisional flag. */
static void expect_due(const hcp_cal *cal, const char *from, int n, const char *want, bool prov)
{
    hcp_time due = 0;
    bool p = !prov;
    char buf[HCP_TIME_STRLEN];
    assert_int_equal(hcp_cal_add_workdays(cal, at(from), n, &due, &p), HCP_OK);
    assert_int_equal(hcp_time_format(due, buf, sizeof buf), HCP_OK);
    if (strcmp(buf, want) != 0)
        fail_msg("%d working days after %s: got %s, want %s", n, from, buf, want);
    assert_int_equal(p, prov);
}

/* Parse a string calendar that must be refused; check err names the line. */
static void expect_bad(const char *text, const char *line_prefix, const char *reason)
{
    hcp_cal *cal = NULL;
    char err[160];
    int rc = hcp_cal_parse(text, strlen(text), &cal, err, sizeof err);
    hcp_cal_free(cal);
    if (rc != HCP_EFORMAT)
        fail_msg("accepted (rc %d) \"%s\"", rc, text);
    if (strncmp(err, line_prefix, strlen(line_prefix)) != 0 || strstr(err, reason) == NULL)
        fail_msg("error \"%s\", want \"%s...%s\"", err, line_prefix, reason);
}

/* The shipped data: years 2022-2026, 2022-12-31 in the 2023 notice. */
static void test_default_years(void **state)
{
    const hcp_cal *cal = *state;
    int first, last;
    hcp_cal_years(cal, &first, &last);
    assert_int_equal(first, 2022);
    assert_int_equal(last, 2026);
    assert_true(hcp_cal_known(cal, day("2022-01-01")));
    assert_true(hcp_cal_known(cal, day("2026-12-31")));
    assert_false(hcp_cal_known(cal, day("2021-12-31")));
    assert_false(hcp_cal_known(cal, day("2027-01-01")));
    assert_false(hcp_cal_is_workday(cal, day("2022-12-31")));
    assert_false(hcp_cal_is_workday(cal, day("2023-01-02"))); /* Monday, 元旦 */
}

/* Single days of 2026: holidays, adjusted Saturdays and Sundays, plain days. */
static void test_default_days(void **state)
{
    const hcp_cal *cal = *state;
    static const char *const work[] = {"2026-01-04", "2026-02-13", "2026-02-14", "2026-02-24",
                                       "2026-02-28", "2026-09-20", "2026-10-08", "2026-10-09",
                                       "2026-10-10", "2026-05-09"};
    static const char *const off[] = {"2026-01-01", "2026-01-03", "2026-02-15", "2026-02-16",
                                      "2026-02-23", "2026-10-01", "2026-10-07", "2026-10-11",
                                      "2026-03-01", "2026-09-19"};
    for (size_t i = 0; i < sizeof work / sizeof work[0]; i++)
        if (!hcp_cal_is_workday(cal, day(work[i])))
            fail_msg("%s should be a working day", work[i]);
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
        if (hcp_cal_is_workday(cal, day(off[i])))
            fail_msg("%s should be a day off", off[i]);
    /* Unknown years: Monday–Friday. */
    assert_true(hcp_cal_is_workday(cal, day("2027-01-01")));
    assert_false(hcp_cal_is_workday(cal, day("2027-01-02")));
}

/* Spring Festival 2026: off 02-15..23, work Sat 02-14 and Sat 02-28. */
static void test_spring_festival(void **state)
{
    const hcp_cal *cal = *state;
    /* Received Friday 02-13: 02-14 (Sat, work), 02-24, 25, 26, 27. */
    expect_due(cal, "2026-02-13T10:00:00+08:00", 5, "2026-02-27T23:59:59+08:00", false);
    expect_due(cal, "2026-02-13T10:00:00+08:00", 1, "2026-02-14T23:59:59+08:00", false);
    expect_due(cal, "2026-02-13T10:00:00+08:00", 2, "2026-02-24T23:59:59+08:00", false);
    /* The sixth is Saturday 02-28 (work), the seventh Monday 03-02. */
    expect_due(cal, "2026-02-13T10:00:00+08:00", 6, "2026-02-28T23:59:59+08:00", false);
    expect_due(cal, "2026-02-13T10:00:00+08:00", 7, "2026-03-02T23:59:59+08:00", false);
    /* 23:59 Friday and 00:00 Saturday (+08:00) are different days. */
    expect_due(cal, "2026-02-13T15:59:59Z", 1, "2026-02-14T23:59:59+08:00", false);
    expect_due(cal, "2026-02-13T16:00:00Z", 1, "2026-02-24T23:59:59+08:00", false);
    /* Received during the holiday: counting starts the next day. */
    expect_due(cal, "2026-02-18T09:00:00+08:00", 1, "2026-02-24T23:59:59+08:00", false);
}

/* National Day 2026: off 10-01..07, work Sun 09-20 and Sat 10-10. */
static void test_national_day(void **state)
{
    const hcp_cal *cal = *state;
    /* From Wednesday 09-30: 10-08 (Thu), 10-09 (Fri), 10-10 (Sat, work). */
    expect_due(cal, "2026-09-30T10:00:00+08:00", 1, "2026-10-08T23:59:59+08:00", false);
    expect_due(cal, "2026-09-30T10:00:00+08:00", 2, "2026-10-09T23:59:59+08:00", false);
    expect_due(cal, "2026-09-30T10:00:00+08:00", 3, "2026-10-10T23:59:59+08:00", false);
    expect_due(cal, "2026-09-30T10:00:00+08:00", 4, "2026-10-12T23:59:59+08:00", false);
    /* From Saturday 09-19: Sunday 09-20 is a working day. */
    expect_due(cal, "2026-09-19T10:00:00+08:00", 1, "2026-09-20T23:59:59+08:00", false);
    /* From Wednesday 2025-12-31: 01-01..03 off, Sunday 01-04 works. */
    expect_due(cal, "2025-12-31T10:00:00+08:00", 1, "2026-01-04T23:59:59+08:00", false);
    expect_due(cal, "2025-12-31T10:00:00+08:00", 2, "2026-01-05T23:59:59+08:00", false);
}

/* Past 2026 the count is Monday–Friday and provisional; inside it is not. */
static void test_provisional(void **state)
{
    const hcp_cal *cal = *state;
    /* Thursday 12-24: 12-25, 28, 29, 30, 31 — all of 2026. */
    expect_due(cal, "2026-12-24T10:00:00+08:00", 5, "2026-12-31T23:59:59+08:00", false);
    /* The sixth reaches Friday 2027-01-01: unknown year. */
    expect_due(cal, "2026-12-24T10:00:00+08:00", 6, "2027-01-01T23:59:59+08:00", true);
    expect_due(cal, "2026-12-31T10:00:00+08:00", 1, "2027-01-01T23:59:59+08:00", true);
    /* Before the first known year as well. */
    expect_due(cal, "2021-06-01T10:00:00+08:00", 1, "2021-06-02T23:59:59+08:00", true);
    /* Starting in an unknown year and ending in a known one. */
    expect_due(cal, "2021-12-30T10:00:00+08:00", 2, "2022-01-04T23:59:59+08:00", true);
    /* A long deadline spanning whole known years. */
    expect_due(cal, "2024-01-01T10:00:00+08:00", 365, "2025-06-20T23:59:59+08:00", false);
}

/* A replacement calendar that adds 2027 makes that deadline firm. */
static void test_replacement(void **state)
{
    (void)state;
    static const char text[] = "# test calendar\n" HDR "2026-10-01\toff\t国庆节\t2026\n"
                               "2027-01-01\toff\t元旦\t2027\n";
    hcp_cal *cal = NULL;
    char err[128];
    int first, last;
    assert_int_equal(hcp_cal_parse(text, strlen(text), &cal, err, sizeof err), HCP_OK);
    hcp_cal_years(cal, &first, &last);
    assert_int_equal(first, 2026);
    assert_int_equal(last, 2027);
    /* 12-25, 28, 29, 30, 31, then 2027-01-01 is off: Monday 01-04. */
    expect_due(cal, "2026-12-24T10:00:00+08:00", 6, "2027-01-04T23:59:59+08:00", false);
    expect_due(cal, "2027-12-30T10:00:00+08:00", 2, "2028-01-03T23:59:59+08:00", true);
    hcp_cal_free(cal);
}

/* Odd but valid input: CRLF, comments anywhere, blank lines, rows out of
 * order, no final newline, an "off" on a weekend, an empty calendar. */
static void test_parse_tolerated(void **state)
{
    (void)state;
    static const char crlf[] = "# c\r\ndate\tkind\tname\tnotice_year\r\n"
                               "2026-02-14\twork\t春节调休\t2026\r\n"
                               "# between\r\n\r\n"
                               "2026-01-03\toff\t元旦\t2026\r\n"
                               "2023-01-01\toff\t元旦\t2023";
    hcp_cal *cal = NULL;
    int first, last;
    assert_int_equal(hcp_cal_parse(crlf, strlen(crlf), &cal, NULL, 0), HCP_OK);
    assert_true(hcp_cal_is_workday(cal, day("2026-02-14")));
    assert_false(hcp_cal_is_workday(cal, day("2026-01-03")));
    hcp_cal_years(cal, &first, &last);
    assert_int_equal(first, 2023);
    assert_int_equal(last, 2026);
    assert_false(hcp_cal_known(cal, day("2024-06-01")));
    hcp_cal_free(cal);

    /* Only the 2023 notice: 2022-12-31 is listed but 2022 stays unknown. */
    static const char cross[] = HDR "2022-12-31\toff\t元旦\t2023\n";
    assert_int_equal(hcp_cal_parse(cross, strlen(cross), &cal, NULL, 0), HCP_OK);
    assert_false(hcp_cal_known(cal, day("2022-12-31")));
    assert_true(hcp_cal_known(cal, day("2023-01-01")));
    hcp_cal_free(cal);

    assert_int_equal(hcp_cal_parse(HDR, strlen(HDR), &cal, NULL, 0), HCP_OK);
    hcp_cal_years(cal, &first, &last);
    assert_int_equal(first, 0);
    assert_int_equal(last, 0);
    expect_due(cal, "2026-02-13T10:00:00+08:00", 1, "2026-02-16T23:59:59+08:00", true);
    hcp_cal_free(cal);
}

/* Every malformed line is HCP_EFORMAT with "line N: reason". */
static void test_parse_errors(void **state)
{
    (void)state;
    expect_bad("", "line 1:", "missing header");
    expect_bad("# only a comment\n", "line 2:", "missing header");
    expect_bad("date\tkind\tname\n", "line 1:", "header");
    expect_bad("#c\n" HDR "2026-02-30\toff\tx\t2026\n", "line 3:", "bad date");
    expect_bad(HDR "2026-1-01\toff\tx\t2026\n", "line 2:", "bad date");
    expect_bad(HDR "2026-01-01\tholiday\tx\t2026\n", "line 2:", "unknown kind");
    expect_bad(HDR "2026-01-01\tOFF\tx\t2026\n", "line 2:", "unknown kind");
    expect_bad(HDR "2026-01-01\toff\tx\n", "line 2:", "found 3");
    expect_bad(HDR "2026-01-01\toff\tx\t2026\textra\n", "line 2:", "found more");
    expect_bad(HDR "2026-01-01 off x 2026\n", "line 2:", "found 1");
    expect_bad(HDR "2026-01-01\toff\t\t2026\n", "line 2:", "empty name");
    expect_bad(HDR "2026-01-01\toff\t\xff\t2026\n", "line 2:", "UTF-8");
    expect_bad(HDR "2026-01-01\toff\tx\t26\n", "line 2:", "notice_year");
    expect_bad(HDR "2026-01-01\toff\tx\t2028\n", "line 2:", "notice_year");
    expect_bad(HDR "2026-01-01\toff\tx\t2025\n", "line 2:", "notice_year");
    /* Thursday 2026-01-01 cannot be an adjusted working day. */
    expect_bad(HDR "2026-01-01\twork\tx\t2026\n", "line 2:", "weekday");
    expect_bad(HDR "2026-01-01\toff\ta\t2026\n2026-02-14\twork\tb\t2026\n"
                   "2026-01-01\toff\tc\t2026\n",
               "line 4:", "listed twice (first on line 2)");
    expect_bad(HDR "2026-01-01\toff\tx\t2026\n" HDR, "line 3:", "bad date");
}

/* Argument checks and limits. */
static void test_args(void **state)
{
    const hcp_cal *cal = *state;
    hcp_time due;
    bool prov;
    hcp_cal *c = NULL;
    hcp_time t = at("2026-02-13T10:00:00+08:00");
    assert_int_equal(hcp_cal_add_workdays(cal, t, 0, &due, &prov), HCP_EINVAL);
    assert_int_equal(hcp_cal_add_workdays(cal, t, 366, &due, &prov), HCP_EINVAL);
    assert_int_equal(hcp_cal_add_workdays(cal, t, -1, &due, &prov), HCP_EINVAL);
    assert_int_equal(hcp_cal_add_workdays(NULL, t, 5, &due, &prov), HCP_EINVAL);
    assert_int_equal(hcp_cal_add_workdays(cal, t, 5, NULL, &prov), HCP_EINVAL);
    assert_int_equal(hcp_cal_add_workdays(cal, t, 5, &due, NULL), HCP_EINVAL);
    assert_int_equal(hcp_cal_add_workdays(cal, -100000, 5, &due, &prov), HCP_EINVAL);
    assert_int_equal(hcp_cal_add_workdays(cal, at("9999-12-30T10:00:00+08:00"), 5, &due, &prov),
                     HCP_ERANGE);
    assert_int_equal(hcp_cal_parse(NULL, 1, &c, NULL, 0), HCP_EINVAL);
    assert_int_equal(hcp_cal_parse(HDR, strlen(HDR), NULL, NULL, 0), HCP_EINVAL);
    assert_int_equal(hcp_cal_parse(HDR, 1024 * 1024 + 1, &c, NULL, 0), HCP_ERANGE);
    assert_int_equal(hcp_cal_default(NULL), HCP_EINVAL);
    assert_false(hcp_cal_known(NULL, 0));
    hcp_cal_free(NULL);
}

/* hcp_cal_load: a good file, a missing one, one over 1 MiB. */
static void test_load(void **state)
{
    (void)state;
    char path[] = "/tmp/hcp-test-calendar-XXXXXX";
    hcp_cal *cal = NULL;
    char err[128];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_true(fputs(HDR "2027-01-01\toff\t元旦\t2027\n", f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(hcp_cal_load(path, &cal, err, sizeof err), HCP_OK);
    assert_false(hcp_cal_is_workday(cal, day("2027-01-01")));
    hcp_cal_free(cal);
    cal = NULL;

    f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(HDR, f) >= 0);
    for (int i = 0; i < 1024 * 1024 / 16 + 1; i++)
        assert_true(fputs("# padding......\n", f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(hcp_cal_load(path, &cal, err, sizeof err), HCP_ERANGE);
    assert_null(cal);
    assert_int_equal(remove(path), 0);
    assert_int_equal(hcp_cal_load(path, &cal, err, sizeof err), HCP_EIO);
    assert_int_equal(hcp_cal_load(NULL, &cal, err, sizeof err), HCP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_years, cal_setup, cal_teardown),
        cmocka_unit_test_setup_teardown(test_default_days, cal_setup, cal_teardown),
        cmocka_unit_test_setup_teardown(test_spring_festival, cal_setup, cal_teardown),
        cmocka_unit_test_setup_teardown(test_national_day, cal_setup, cal_teardown),
        cmocka_unit_test_setup_teardown(test_provisional, cal_setup, cal_teardown),
        cmocka_unit_test(test_replacement),
        cmocka_unit_test(test_parse_tolerated),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test_setup_teardown(test_args, cal_setup, cal_teardown),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
