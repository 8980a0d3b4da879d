/* calendar.c — the PRC working-day calendar: a strict TSV reader, a sorted
 * array of listed days (off/work) looked up by binary search, and a bitmap
 * of the years whose State Council notice the file holds. docs/calendar.md
 * describes the file; docs/calendar.md the rule. */
#include "calendar.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The build embeds data/calendar.tsv here (cmake/embed.cmake). */
extern const unsigned char hcp_data_calendar[];
extern const size_t hcp_data_calendar_len;

#define CAL_MAX_BYTES (1024 * 1024) /* a calendar file's ceiling */
#define CAL_YEAR_MIN  1970
#define CAL_YEAR_MAX  9999
#define CAL_NYEARS    (CAL_YEAR_MAX - CAL_YEAR_MIN + 1)
#define CAL_DAY_MAX   2932896 /* 9999-12-31 */
#define CAL_HEADER    "date\tkind\tname\tnotice_year"
#define CAL_FIELDS    4

/* One listed day: a holiday (work = 0) or an adjusted working day (work = 1),
 * with the file line it came from for error messages. */
struct cal_row {
    hcp_day day;
    uint32_t line;
    uint8_t work;
};

struct hcp_cal {
    struct cal_row *rows; /* sorted by day, no duplicates; owned */
    size_t n;
    size_t cap;
    int first, last;                     /* known years, 0 if none */
    uint8_t known[(CAL_NYEARS + 7) / 8]; /* bit (y - 1970): notice y present */
};

/* State of one parse: the calendar being built and where errors go. */
struct cal_parser {
    hcp_cal *cal;
    size_t line;
    bool header_seen;
    char *err;
    size_t errlen;
};

/* Write "line N: reason" into the caller's err buffer (if any) and return
 * HCP_EFORMAT, so a parse step can `return cal_fail(...)`. */
__attribute__((format(printf, 3, 4))) static int cal_fail(struct cal_parser *p, size_t line,
                                                          const char *fmt, ...)
{
    va_list ap;
    if (p->err == NULL || p->errlen == 0)
        return HCP_EFORMAT;
    int w = snprintf(p->err, p->errlen, "line %zu: ", line);
    if (w > 0 && (size_t)w < p->errlen) {
        va_start(ap, fmt);
        vsnprintf(p->err + w, p->errlen - (size_t)w, fmt, ap);
        va_end(ap);
    }
    return HCP_EFORMAT;
}

/* Mark year y (already range-checked) as known. */
static void cal_set_known(hcp_cal *cal, int y)
{
    int i = y - CAL_YEAR_MIN;
    cal->known[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Whether year y has its notice in the calendar. */
static bool cal_year_known(const hcp_cal *cal, int y)
{
    if (y < CAL_YEAR_MIN || y > CAL_YEAR_MAX)
        return false;
    int i = y - CAL_YEAR_MIN;
    return (cal->known[i / 8] >> (i % 8)) & 1u;
}

/* Append a row, growing the array geometrically. The parser's input is at
 * most CAL_MAX_BYTES, which bounds the row count. */
static int cal_push(hcp_cal *cal, const struct cal_row *row)
{
    if (cal->n == cal->cap) {
        size_t cap = cal->cap ? cal->cap * 2 : 256;
        struct cal_row *r = realloc(cal->rows, cap * sizeof *r);
        if (r == NULL)
            return HCP_ENOMEM;
        cal->rows = r;
        cal->cap = cap;
    }
    cal->rows[cal->n++] = *row;
    return HCP_OK;
}

/* Split a line at tabs into at most `max` fields; returns how many fields the
 * line has (max + 1 if it has more). Field pointers borrow from line. */
static size_t split_tabs(const char *line, size_t len, const char **f, size_t *flen, size_t max)
{
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != '\t')
            continue;
        if (count == max)
            return max + 1;
        f[count] = line + start;
        flen[count] = i - start;
        count++;
        start = i + 1;
    }
    return count;
}

/* Parse a four-digit notice year. */
static bool parse_year(const char *s, size_t n, int *out)
{
    int v = 0;
    if (n != 4)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Check the notice year against the date: a notice for year Y lists days of
 * Y and, at most, the end of Y - 1 (2022-12-31 is in the 2023 notice). */
static int check_notice(struct cal_parser *p, hcp_day day, const char *s, size_t n)
{
    int ny, y;
    if (!parse_year(s, n, &ny) || ny < CAL_YEAR_MIN || ny > CAL_YEAR_MAX)
        return cal_fail(p, p->line, "bad notice_year (want four digits, 1970..9999)");
    hcp_day_to_ymd(day, &y, NULL, NULL);
    if (ny != y && ny != y + 1)
        return cal_fail(p, p->line, "notice_year %d cannot list a day of %d (want %d or %d)", ny, y,
                        y, y + 1);
    cal_set_known(p->cal, ny);
    return HCP_OK;
}

/* Parse one data row: date, kind, name, notice_year. */
static int cal_row_parse(struct cal_parser *p, const char *line, size_t len)
{
    const char *f[CAL_FIELDS];
    size_t fl[CAL_FIELDS];
    struct cal_row row = {0};
    size_t nf = split_tabs(line, len, f, fl, CAL_FIELDS);
    if (nf > CAL_FIELDS)
        return cal_fail(p, p->line, "want 4 tab-separated columns, found more");
    if (nf < CAL_FIELDS)
        return cal_fail(p, p->line, "want 4 tab-separated columns, found %zu", nf);
    if (hcp_date_parse(f[0], fl[0], &row.day) != HCP_OK)
        return cal_fail(p, p->line, "bad date (want YYYY-MM-DD, a real day in 1970..9999)");
    if (fl[1] == 4 && memcmp(f[1], "work", 4) == 0)
        row.work = 1;
    else if (!(fl[1] == 3 && memcmp(f[1], "off", 3) == 0))
        return cal_fail(p, p->line, "unknown kind (want \"off\" or \"work\")");
    if (row.work && hcp_weekday(row.day) <= 5)
        return cal_fail(p, p->line, "\"work\" on a weekday (Mon-Fri are working days already)");
    if (fl[2] == 0)
        return cal_fail(p, p->line, "empty name");
    if (!hcp_utf8_valid(f[2], fl[2]))
        return cal_fail(p, p->line, "name is not valid UTF-8");
    int rc = check_notice(p, row.day, f[3], fl[3]);
    if (rc != HCP_OK)
        return rc;
    row.line = p->line > UINT32_MAX ? UINT32_MAX : (uint32_t)p->line;
    return cal_push(p->cal, &row);
}

/* Handle one line (without its '\n'): a tolerated '\r' is dropped, blank and
 * '#' lines are skipped, the first other line must be the header. */
static int cal_line(struct cal_parser *p, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0 || line[0] == '#')
        return HCP_OK;
    if (!p->header_seen) {
        if (len != strlen(CAL_HEADER) || memcmp(line, CAL_HEADER, len) != 0)
            return cal_fail(p, p->line,
                            "want the header \"date<TAB>kind<TAB>name<TAB>notice_year\"");
        p->header_seen = true;
        return HCP_OK;
    }
    return cal_row_parse(p, line, len);
}

/* qsort order: by day, then by file line so duplicates report in order. */
static int row_cmp(const void *a, const void *b)
{
    const struct cal_row *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Sort the rows, refuse a date listed twice, and note the known-year span. */
static int cal_finish(struct cal_parser *p)
{
    hcp_cal *cal = p->cal;
    char date[HCP_DATE_STRLEN];
    if (cal->n > 1)
        qsort(cal->rows, cal->n, sizeof *cal->rows, row_cmp);
    for (size_t i = 1; i < cal->n; i++) {
        if (cal->rows[i].day != cal->rows[i - 1].day)
            continue;
        if (hcp_date_format(cal->rows[i].day, date, sizeof date) != HCP_OK)
            date[0] = '\0';
        return cal_fail(p, cal->rows[i].line, "%s listed twice (first on line %u)", date,
                        (unsigned)cal->rows[i - 1].line);
    }
    cal->first = cal->last = 0;
    for (int y = CAL_YEAR_MIN; y <= CAL_YEAR_MAX; y++) {
        if (!cal_year_known(cal, y))
            continue;
        if (cal->first == 0)
            cal->first = y;
        cal->last = y;
    }
    return HCP_OK;
}

/* Feed text line by line through the parser. */
static int cal_lines(struct cal_parser *p, const char *text, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        p->line++;
        int rc = cal_line(p, text + pos, end - pos);
        if (rc != HCP_OK)
            return rc;
        pos = end + 1;
    }
    if (!p->header_seen)
        return cal_fail(p, p->line + 1,
                        "missing header \"date<TAB>kind<TAB>name<TAB>notice_year\"");
    return HCP_OK;
}

/* Parse TSV text (borrowed); *out receives a new calendar owned by the
 * caller. On failure nothing is allocated and err says which line. */
int hcp_cal_parse(const char *text, size_t len, hcp_cal **out, char *err, size_t errlen)
{
    struct cal_parser p = {0};
    int rc;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL || (text == NULL && len > 0))
        return HCP_EINVAL;
    if (len > CAL_MAX_BYTES)
        return HCP_ERANGE;
    p.cal = calloc(1, sizeof *p.cal);
    if (p.cal == NULL)
        return HCP_ENOMEM;
    p.err = err;
    p.errlen = errlen;
    rc = cal_lines(&p, text, len);
    if (rc == HCP_OK)
        rc = cal_finish(&p);
    if (rc != HCP_OK)
        goto fail;
    *out = p.cal;
    return HCP_OK;
fail:
    hcp_cal_free(p.cal);
    return rc;
}

/* Copy a short message into the caller's err buffer, if any. */
static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* Read at most CAL_MAX_BYTES of the file at path into a new buffer the
 * caller frees; HCP_ERANGE if the file is larger, HCP_EIO if unreadable. */
static int read_small_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return HCP_EIO;
    char *buf = malloc(CAL_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return HCP_ENOMEM;
    }
    size_t n = fread(buf, 1, CAL_MAX_BYTES + 1, f);
    int rc = ferror(f) ? HCP_EIO : n > CAL_MAX_BYTES ? HCP_ERANGE : HCP_OK;
    if (fclose(f) != 0 && rc == HCP_OK)
        rc = HCP_EIO;
    if (rc != HCP_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return HCP_OK;
}

/* Load the calendar file at path (borrowed); *out as for hcp_cal_parse. */
int hcp_cal_load(const char *path, hcp_cal **out, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (path == NULL || out == NULL)
        return HCP_EINVAL;
    int rc = read_small_file(path, &data, &len);
    if (rc == HCP_EIO)
        set_err(err, errlen, "cannot read the calendar file");
    else if (rc == HCP_ERANGE)
        set_err(err, errlen, "calendar file larger than 1 MiB");
    if (rc != HCP_OK)
        return rc;
    rc = hcp_cal_parse(data, len, out, err, errlen);
    free(data);
    return rc;
}

/* Parse the calendar compiled into the binary; *out is the caller's. */
int hcp_cal_default(hcp_cal **out)
{
    if (out == NULL)
        return HCP_EINVAL;
    return hcp_cal_parse((const char *)hcp_data_calendar, hcp_data_calendar_len, out, NULL, 0);
}

/* Free a calendar; NULL is fine. */
void hcp_cal_free(hcp_cal *cal)
{
    if (cal == NULL)
        return;
    free(cal->rows);
    free(cal);
}

/* First and last known year into the caller's ints (either may be NULL). */
void hcp_cal_years(const hcp_cal *cal, int *first, int *last)
{
    if (first != NULL)
        *first = cal != NULL ? cal->first : 0;
    if (last != NULL)
        *last = cal != NULL ? cal->last : 0;
}

/* Whether the notice for d's year is in the calendar. */
bool hcp_cal_known(const hcp_cal *cal, hcp_day d)
{
    int y;
    if (cal == NULL)
        return false;
    hcp_day_to_ymd(d, &y, NULL, NULL);
    return cal_year_known(cal, y);
}

/* Index of the first row whose day is >= d (cal->n if none). */
static size_t row_lower_bound(const hcp_cal *cal, hcp_day d)
{
    size_t lo = 0, hi = cal->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->rows[mid].day < d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Day d's status given the index of the first row >= d: a listed day is
 * what the notice says, any other day Monday–Friday. */
static bool workday_at(const hcp_cal *cal, size_t idx, hcp_day d)
{
    if (idx < cal->n && cal->rows[idx].day == d)
        return cal->rows[idx].work != 0;
    return hcp_weekday(d) <= 5;
}

/* Whether d is a working day. Listed rows always apply (a row may sit in an
 * unknown year only when the next year's notice lists it); otherwise
 * Monday–Friday. A NULL calendar knows nothing. */
bool hcp_cal_is_workday(const hcp_cal *cal, hcp_day d)
{
    if (cal == NULL)
        return hcp_weekday(d) <= 5;
    return workday_at(cal, row_lower_bound(cal, d), d);
}

/* The day number of January 1 of year y + 1, i.e. one past y's last day. */
static hcp_day next_year_start(int y)
{
    hcp_day d;
    if (hcp_day_from_ymd(y + 1, 1, 1, &d) != HCP_OK)
        return CAL_DAY_MAX + 1;
    return d;
}

/* Walk forward from the day after `from`, one day at a time, keeping a
 * cursor into the sorted rows (no search per day) and the year's knownness
 * (recomputed only at year boundaries). */
int hcp_cal_add_workdays(const hcp_cal *cal, hcp_time from, int n, hcp_time *deadline,
                         bool *provisional)
{
    if (cal == NULL || deadline == NULL || provisional == NULL || n < 1 || n > 365)
        return HCP_EINVAL;
    hcp_day d = hcp_day_of(from);
    if (d < 0 || d > CAL_DAY_MAX)
        return HCP_EINVAL;
    bool prov = false;
    int y, left = n;
    hcp_day year_end = -1;
    size_t idx = row_lower_bound(cal, d + 1);
    while (left > 0) {
        if (++d > CAL_DAY_MAX)
            return HCP_ERANGE;
        if (d > year_end) {
            hcp_day_to_ymd(d, &y, NULL, NULL);
            year_end = next_year_start(y) - 1;
            prov = prov || !cal_year_known(cal, y);
        }
        while (idx < cal->n && cal->rows[idx].day < d)
            idx++;
        if (workday_at(cal, idx, d))
            left--;
    }
    *deadline = hcp_day_end(d);
    *provisional = prov;
    return HCP_OK;
}

/* Number of listed rows. */
size_t hcp_cal_days(const hcp_cal *cal)
{
    return cal != NULL ? cal->n : 0;
}

/* Same rows (day and kind; the file line does not matter) and the same
 * known-year bitmap. */
bool hcp_cal_same(const hcp_cal *a, const hcp_cal *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->n != b->n || memcmp(a->known, b->known, sizeof(a->known)) != 0)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->rows[i].day != b->rows[i].day || a->rows[i].work != b->rows[i].work)
            return false;
    return true;
}
