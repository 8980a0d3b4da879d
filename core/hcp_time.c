/* hcp_time.c — civil days in Asia/Shanghai (UTC+8, no DST), the proleptic
 * Gregorian calendar, and RFC 3339 instants. No libc time zone machinery:
 * the offset is fixed, so plain integer arithmetic is exact and thread-safe. */
#include "hcp_time.h"

#include <stdio.h>

#define DAY_SECONDS 86400
#define YEAR_MIN    1970
#define YEAR_MAX    9999

/* Floor division for a possibly negative numerator and a positive divisor. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && a < 0)
        q--;
    return q;
}

/* Whether y is a Gregorian leap year. */
static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month m (1..12) of year y. */
static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (m == 2 && is_leap(y)) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a Gregorian date, valid or not (H. Hinnant's
 * days_from_civil); callers check the date first. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The civil day containing t: shift to UTC+8 and divide, rounding down. */
hcp_day hcp_day_of(hcp_time t)
{
    /* Instants too far out for a 32-bit day number are clamped; no real
     * instant of the system comes near either end. */
    if (t > INT64_MAX - HCP_TZ_OFFSET)
        return INT32_MAX;
    int64_t d = floor_div(t + HCP_TZ_OFFSET, DAY_SECONDS);
    if (d > INT32_MAX)
        return INT32_MAX;
    if (d < INT32_MIN)
        return INT32_MIN;
    return (hcp_day)d;
}

/* 00:00:00+08:00 of day d, as a UTC instant. */
hcp_time hcp_day_start(hcp_day d)
{
    return (hcp_time)d * DAY_SECONDS - HCP_TZ_OFFSET;
}

/* 23:59:59+08:00 of day d: the moment a deadline on d expires. */
hcp_time hcp_day_end(hcp_day d)
{
    return hcp_day_start(d) + DAY_SECONDS - 1;
}

/* ISO weekday, 1 = Monday … 7 = Sunday, for any day number. */
int hcp_weekday(hcp_day d)
{
    /* 1970-01-01 was a Thursday (ISO 4). */
    int64_t r = ((int64_t)d + 3) % 7;
    if (r < 0)
        r += 7;
    return (int)r + 1;
}

/* A checked date (1970..9999) to its day number in *out (caller's). */
int hcp_day_from_ymd(int y, int m, int d, hcp_day *out)
{
    if (out == NULL || y < YEAR_MIN || y > YEAR_MAX || m < 1 || m > 12 || d < 1 ||
        d > month_days(y, m))
        return HCP_EINVAL;
    *out = (hcp_day)days_from_civil(y, m, d);
    return HCP_OK;
}

/* A day number to its date; any of the out pointers may be NULL. */
void hcp_day_to_ymd(hcp_day day, int *y, int *m, int *d)
{
    /* H. Hinnant's civil_from_days; exact for every 32-bit day number. */
    int64_t z = (int64_t)day + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    int64_t yy = yoe + era * 400 + (mm <= 2);
    if (y != NULL)
        *y = (int)yy;
    if (m != NULL)
        *m = (int)mm;
    if (d != NULL)
        *d = (int)dd;
}

/* Read exactly `count` ASCII digits at s[*pos] as a number; advances *pos.
 * Returns false if fewer digits are there. */
static bool read_digits(const char *s, size_t n, size_t *pos, int count, int *out)
{
    int v = 0;
    if (n - *pos < (size_t)count)
        return false;
    for (int i = 0; i < count; i++) {
        char c = s[*pos + (size_t)i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *pos += (size_t)count;
    *out = v;
    return true;
}

/* Consume the single character c at s[*pos]; false if something else is there. */
static bool read_char(const char *s, size_t n, size_t *pos, char c)
{
    if (*pos >= n || s[*pos] != c)
        return false;
    (*pos)++;
    return true;
}

/* Parse "YYYY-MM-DD" at s[*pos] into a checked civil day. */
static bool read_date(const char *s, size_t n, size_t *pos, hcp_day *out)
{
    int y, m, d;
    if (!read_digits(s, n, pos, 4, &y) || !read_char(s, n, pos, '-') ||
        !read_digits(s, n, pos, 2, &m) || !read_char(s, n, pos, '-') ||
        !read_digits(s, n, pos, 2, &d))
        return false;
    return hcp_day_from_ymd(y, m, d, out) == HCP_OK;
}

/* Parse "HH:MM:SS" with an optional ".fraction" (truncated) into seconds of
 * the day. Hour 24 and leap second 60 are refused. */
static bool read_clock(const char *s, size_t n, size_t *pos, int *secs)
{
    int h, mi, se;
    if (!read_digits(s, n, pos, 2, &h) || !read_char(s, n, pos, ':') ||
        !read_digits(s, n, pos, 2, &mi) || !read_char(s, n, pos, ':') ||
        !read_digits(s, n, pos, 2, &se))
        return false;
    if (h > 23 || mi > 59 || se > 59)
        return false;
    if (*pos < n && s[*pos] == '.') {
        size_t start = ++(*pos);
        while (*pos < n && s[*pos] >= '0' && s[*pos] <= '9')
            (*pos)++;
        if (*pos == start)
            return false;
    }
    *secs = h * 3600 + mi * 60 + se;
    return true;
}

/* Parse the offset "Z" or "±hh:mm" into seconds east of UTC. */
static bool read_offset(const char *s, size_t n, size_t *pos, int *off)
{
    int h, mi, sign;
    if (*pos >= n)
        return false;
    if (s[*pos] == 'Z' || s[*pos] == 'z') {
        (*pos)++;
        *off = 0;
        return true;
    }
    if (s[*pos] != '+' && s[*pos] != '-')
        return false;
    sign = s[*pos] == '-' ? -1 : 1;
    (*pos)++;
    if (!read_digits(s, n, pos, 2, &h) || !read_char(s, n, pos, ':') ||
        !read_digits(s, n, pos, 2, &mi) || h > 23 || mi > 59)
        return false;
    *off = sign * (h * 3600 + mi * 60);
    return true;
}

/* Strict RFC 3339 with a mandatory offset; s is borrowed, *out the caller's. */
int hcp_time_parse(const char *s, size_t n, hcp_time *out)
{
    size_t pos = 0;
    hcp_day day;
    int secs, off;
    if (s == NULL || out == NULL)
        return HCP_EINVAL;
    if (!read_date(s, n, &pos, &day))
        return HCP_EFORMAT;
    if (pos >= n || (s[pos] != 'T' && s[pos] != 't'))
        return HCP_EFORMAT;
    pos++;
    if (!read_clock(s, n, &pos, &secs) || !read_offset(s, n, &pos, &off) || pos != n)
        return HCP_EFORMAT;
    /* day counts from 1970-01-01 in the written date's own calendar; the
     * UTC instant is that local midnight plus the clock minus the offset. */
    *out = (hcp_time)day * DAY_SECONDS + secs - off;
    return HCP_OK;
}

/* t as "YYYY-MM-DDTHH:MM:SS+08:00" in the caller's buf; HCP_ERANGE if buf is
 * too small or the year falls outside 1970..9999. */
int hcp_time_format(hcp_time t, char *buf, size_t len)
{
    int y, m, d;
    if (buf == NULL)
        return HCP_EINVAL;
    if (len < HCP_TIME_STRLEN)
        return HCP_ERANGE;
    hcp_day day = hcp_day_of(t);
    hcp_day_to_ymd(day, &y, &m, &d);
    if (y < YEAR_MIN || y > YEAR_MAX)
        return HCP_ERANGE;
    int secs = (int)(t - hcp_day_start(day));
    int w = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, m, d, secs / 3600,
                     secs / 60 % 60, secs % 60);
    if (w != HCP_TIME_STRLEN - 1)
        return HCP_ERANGE;
    return HCP_OK;
}

/* Exactly "YYYY-MM-DD" (n == 10), a real date in 1970..9999. */
int hcp_date_parse(const char *s, size_t n, hcp_day *out)
{
    size_t pos = 0;
    if (s == NULL || out == NULL)
        return HCP_EINVAL;
    if (!read_date(s, n, &pos, out) || pos != n)
        return HCP_EFORMAT;
    return HCP_OK;
}

/* d as "YYYY-MM-DD" in the caller's buf (at least HCP_DATE_STRLEN bytes). */
int hcp_date_format(hcp_day d, char *buf, size_t len)
{
    int y, m, dd;
    if (buf == NULL)
        return HCP_EINVAL;
    if (len < HCP_DATE_STRLEN)
        return HCP_ERANGE;
    hcp_day_to_ymd(d, &y, &m, &dd);
    if (y < YEAR_MIN || y > YEAR_MAX)
        return HCP_ERANGE;
    int w = snprintf(buf, len, "%04d-%02d-%02d", y, m, dd);
    if (w != HCP_DATE_STRLEN - 1)
        return HCP_ERANGE;
    return HCP_OK;
}
