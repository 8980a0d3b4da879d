/*
 * feed_query.c — parsing and applying the feed routes' query
 * (feed_query.h).
 */
#define _GNU_SOURCE /* memmem */
#include "feed_query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "be.h"
#include "division.h"

const char *const gw_feed_query_keys[] = {"county",
                                          "status",
                                          "start_date",
                                          "end_date",
                                          "updated_after",
                                          "service_request_id",
                                          "service_code",
                                          "page",
                                          "page_size",
                                          "cursor",
                                          NULL};

/* Name the refused parameter; HCP_EINVAL for the caller to return. */
static int bad(gw_feed_q_err *err, const char *param, const char *detail)
{
    err->param = param;
    err->detail = detail;
    return HCP_EINVAL;
}

/* A positive integer of digits only, within 1..max; false if not. */
static bool parse_count(const char *s, uint32_t max, uint32_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
        return false;
    unsigned long v = strtoul(s, NULL, 10);
    if (v < 1 || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A date (YYYY-MM-DD: its first or last second) or an RFC 3339 instant. */
static bool parse_when(const char *s, bool end_of_day, hcp_time *out)
{
    hcp_day d;
    if (strlen(s) == 10 && hcp_date_parse(s, 10, &d) == HCP_OK) {
        *out = end_of_day ? hcp_day_end(d) : hcp_day_start(d);
        return true;
    }
    return hcp_time_parse(s, strlen(s), out) == HCP_OK;
}

/* county: six digits, a county or a prefecture. */
static int parse_county(const char *v, gw_feed_q *q, gw_feed_q_err *err)
{
    if (strlen(v) != HCP_COUNTY_LEN || strspn(v, "0123456789") != HCP_COUNTY_LEN)
        return bad(err, "county", "expected a six-digit division code");
    memcpy(q->county, v, sizeof(q->county));
    q->prefecture = hcp_division_find(v) == NULL && hcp_prefecture_known(v);
    return HCP_OK;
}

/* The items of comma list v (GeoReport v2: "a,b,c"), each handed to
 * fn(q, item, len); false when an item is empty, fn refuses one, or
 * there are more than GW_FEED_LIST_MAX. */
static bool list_each(const char *v, gw_feed_q *q, bool (*fn)(gw_feed_q *, const char *, size_t))
{
    size_t count = 0;
    for (const char *p = v;; p++) {
        size_t n = strcspn(p, ",");
        if (n == 0 || ++count > GW_FEED_LIST_MAX || !fn(q, p, n))
            return false;
        p += n;
        if (*p == '\0')
            return true;
    }
}

/* One item of status: open or closed (both: any). */
static bool status_item(gw_feed_q *q, const char *s, size_t n)
{
    int st = n == 4 && memcmp(s, "open", 4) == 0     ? GW_FEED_Q_OPEN
             : n == 6 && memcmp(s, "closed", 6) == 0 ? GW_FEED_Q_CLOSED
                                                     : -1;
    if (st < 0)
        return false;
    q->status = q->status == GW_FEED_Q_ANY || q->status == st ? st : GW_FEED_Q_BOTH;
    return true;
}

/* status=open|closed, or a comma list of them. */
static int parse_status(const char *v, gw_feed_q *q, gw_feed_q_err *err)
{
    if (!list_each(v, q, status_item))
        return bad(err, "status", "expected open or closed (or a comma list of them)");
    if (q->status == GW_FEED_Q_BOTH)
        q->status = GW_FEED_Q_ANY;
    return HCP_OK;
}

/* One item of service_request_id: a case id. */
static bool id_item(gw_feed_q *q, const char *s, size_t n)
{
    char id[HCP_CASE_ID_MAX], county[HCP_COUNTY_LEN + 1];
    if (n >= sizeof(id))
        return false;
    memcpy(id, s, n);
    id[n] = '\0';
    if (hcp_case_id_parse(id, county, NULL, NULL) != HCP_OK)
        return false;
    for (size_t i = 0; i < q->nids; i++)
        if (strcmp(q->ids[i], id) == 0)
            return true; /* named twice: once is enough */
    memcpy(q->ids[q->nids++], id, n + 1);
    return true;
}

/* One item of service_code: any text but a control character. */
static bool code_item(gw_feed_q *q, const char *s, size_t n)
{
    if (n >= GW_FEED_CODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return false;
    memcpy(q->codes[q->ncodes], s, n);
    q->codes[q->ncodes++][n] = '\0';
    return true;
}

/* start_date, end_date and updated_after. */
static int parse_dates(gw_feed_q *q, gw_feed_param_fn get, void *arg, gw_feed_q_err *err)
{
    char v[GW_FEED_PARAM_MAX];
    if (get(arg, "start_date", v, sizeof(v)) && v[0] && !parse_when(v, false, &q->start))
        return bad(err, "start_date", "expected YYYY-MM-DD or RFC 3339");
    if (get(arg, "end_date", v, sizeof(v)) && v[0] && !parse_when(v, true, &q->end))
        return bad(err, "end_date", "expected YYYY-MM-DD or RFC 3339");
    if (q->start && q->end && q->end < q->start)
        return bad(err, "end_date", "before start_date");
    if (get(arg, "updated_after", v, sizeof(v)) && v[0]) {
        if (hcp_time_parse(v, strlen(v), &q->after) != HCP_OK)
            return bad(err, "updated_after", "expected RFC 3339");
        q->has_after = true;
    }
    return HCP_OK;
}

/* The filters, in the order the route always checked them. */
static int parse_filters(gw_feed_q *q, gw_feed_param_fn get, void *arg, gw_feed_q_err *err)
{
    char v[GW_FEED_PARAM_MAX];
    int rc = HCP_OK;
    if (get(arg, "county", v, sizeof(v)) && v[0])
        rc = parse_county(v, q, err);
    if (rc == HCP_OK && get(arg, "status", v, sizeof(v)) && v[0])
        rc = parse_status(v, q, err);
    if (rc == HCP_OK)
        rc = parse_dates(q, get, arg, err);
    if (rc == HCP_OK && get(arg, "service_request_id", v, sizeof(v)) && v[0] &&
        !list_each(v, q, id_item))
        return bad(err, "service_request_id", "expected a case id (or a comma list of at most 20)");
    if (rc == HCP_OK && get(arg, "service_code", v, sizeof(v)) && v[0] &&
        !list_each(v, q, code_item))
        return bad(err, "service_code", "expected a service code (or a comma list of at most 20)");
    return rc;
}

#define CURSOR_VERSION 1
#define CURSOR_CHECK   4

/* The check of a cursor's payload p (n bytes): the first CURSOR_CHECK
 * bytes of a SHA-256 over a label and p (catches a cursor edited by hand
 * or cut short; a position is public, so no secret is needed). */
static int cursor_check(const uint8_t *p, size_t n, uint8_t out[CURSOR_CHECK])
{
    static const char label[] = "hcp feed cursor";
    const void *parts[] = {label, p};
    size_t lens[] = {sizeof(label), n};
    uint8_t h[32];
    int rc = hcp_sha256(parts, lens, 2, h);
    if (rc == HCP_OK)
        memcpy(out, h, CURSOR_CHECK);
    return rc;
}

int gw_feed_cursor_encode(hcp_time at, const char *id, char out[GW_FEED_CURSOR_MAX])
{
    size_t idlen = id != NULL ? strnlen(id, HCP_CASE_ID_MAX) : HCP_CASE_ID_MAX;
    if (out == NULL || idlen >= HCP_CASE_ID_MAX)
        return HCP_EINVAL;
    uint8_t p[1 + 8 + HCP_CASE_ID_MAX + CURSOR_CHECK];
    p[0] = CURSOR_VERSION;
    hcp_be64_put(p + 1, (uint64_t)at);
    memcpy(p + 9, id, idlen);
    int rc = cursor_check(p, 9 + idlen, p + 9 + idlen);
    if (rc != HCP_OK)
        return rc;
    static const char hex[] = "0123456789abcdef";
    size_t n = 9 + idlen + CURSOR_CHECK;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
    return HCP_OK;
}

/* The value of hex digit c (lower case only: the encoder's), or -1. */
static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int gw_feed_cursor_decode(const char *s, hcp_time *at, char id[HCP_CASE_ID_MAX])
{
    if (s == NULL || at == NULL || id == NULL)
        return HCP_EINVAL;
    size_t len = strnlen(s, GW_FEED_CURSOR_MAX);
    uint8_t p[1 + 8 + HCP_CASE_ID_MAX + CURSOR_CHECK];
    if (len >= GW_FEED_CURSOR_MAX || len % 2 != 0 ||
        len / 2 < 9 + HCP_COUNTY_LEN + 1 + CURSOR_CHECK || len / 2 > sizeof(p))
        return HCP_EINVAL;
    size_t n = len / 2;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return HCP_EINVAL;
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    uint8_t check[CURSOR_CHECK];
    size_t idlen = n - 9 - CURSOR_CHECK;
    if (p[0] != CURSOR_VERSION || cursor_check(p, n - CURSOR_CHECK, check) != HCP_OK ||
        memcmp(check, p + n - CURSOR_CHECK, CURSOR_CHECK) != 0 || idlen >= HCP_CASE_ID_MAX)
        return HCP_EINVAL;
    char county[HCP_COUNTY_LEN + 1];
    memcpy(id, p + 9, idlen);
    id[idlen] = '\0';
    if (strlen(id) != idlen || hcp_case_id_parse(id, county, NULL, NULL) != HCP_OK)
        return HCP_EINVAL;
    *at = (hcp_time)hcp_be64_get(p + 1);
    return HCP_OK;
}

/* page and page_size (Atom: the latest GW_FEED_ATOM_ENTRIES, no paging). */
static int parse_paging(gw_feed_q *q, gw_feed_param_fn get, void *arg, gw_feed_q_err *err)
{
    char v[32];
    q->page = 1;
    q->size = q->atom ? GW_FEED_ATOM_ENTRIES : GW_FEED_PAGE_DEFAULT;
    if (q->atom)
        return HCP_OK;
    if ((q->has_page = get(arg, "page", v, sizeof(v))) &&
        !parse_count(v, GW_FEED_PAGES_MAX, &q->page))
        return bad(err, "page", "expected an integer from 1 to 100000000");
    if (get(arg, "page_size", v, sizeof(v)) && !parse_count(v, GW_FEED_PAGE_MAX, &q->size))
        return bad(err, "page_size", "expected an integer from 1 to 200");
    char c[GW_FEED_PARAM_MAX];
    if (!get(arg, "cursor", c, sizeof(c)))
        return HCP_OK;
    if (q->has_page)
        return bad(err, "cursor", "not with page (a cursor continues a walk)");
    if (gw_feed_cursor_decode(c, &q->cur_at, q->cur_id) != HCP_OK)
        return bad(err, "cursor", "not a cursor of this feed (take it from a Link: rel=next)");
    q->has_cursor = true;
    return HCP_OK;
}

/* Append fmt's text to out (len bytes) at n, the length so far: the new
 * length, len or more once the text no longer fits (later calls then add
 * nothing), -1 after an encoding error. */
static int put(char *out, size_t len, int n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *out, size_t len, int n, const char *fmt, ...)
{
    if (n < 0 || (size_t)n >= len)
        return n;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    return w < 0 ? -1 : n + w;
}

/* q's filters other than the service codes, in the canonical form of the
 * page cache's key and of the marks' (put's rules). */
static int put_fields(const gw_feed_q *q, char *out, size_t len, int n)
{
    return put(out, len, n, "%s|%d|%d|%lld|%lld|%d|%lld", q->county, q->prefecture, q->status,
               (long long)q->start, (long long)q->end, q->has_after, (long long)q->after);
}

/* q's service codes, each "\nc<code>" (NUL-free and without '\n': the
 * keys stay unambiguous; put's rules). */
static int put_codes(const gw_feed_q *q, char *out, size_t len, int n)
{
    for (size_t i = 0; i < q->ncodes; i++)
        n = put(out, len, n, "\nc%s", q->codes[i]);
    return n;
}

int gw_feed_query_parse(gw_feed_q *q, bool atom, gw_feed_param_fn get, void *arg,
                        gw_feed_q_err *err)
{
    if (q == NULL || get == NULL || err == NULL)
        return HCP_EINVAL;
    memset(q, 0, sizeof(*q));
    q->atom = atom;
    int rc = parse_filters(q, get, arg, err);
    if (rc == HCP_OK)
        rc = parse_paging(q, get, arg, err);
    if (rc != HCP_OK)
        return rc;
    size_t len = sizeof(q->key);
    int n = put(q->key, len, 0, "%c|", atom ? 'a' : 'j');
    n = put_fields(q, q->key, len, n);
    n = put(q->key, len, n, "|%u|%u", q->page, q->size);
    /* the lists, each item NUL-free and without '\n': the key stays unambiguous */
    for (size_t i = 0; i < q->nids; i++)
        n = put(q->key, len, n, "\ni%s", q->ids[i]);
    n = put_codes(q, q->key, len, n);
    if (q->has_cursor)
        n = put(q->key, len, n, "\nk%lld %s", (long long)q->cur_at, q->cur_id);
    return n >= 0 && (size_t)n < len ? HCP_OK : bad(err, "service_code", "too long");
}

int gw_feed_query_filter_key(const gw_feed_q *q, char *out, size_t len)
{
    if (q == NULL || out == NULL || len == 0 || q->nids > 0)
        return HCP_EINVAL;
    out[0] = '\0';
    int n = put_codes(q, out, len, put_fields(q, out, len, 0));
    return n >= 0 && (size_t)n < len ? HCP_OK : HCP_ERANGE;
}

/* Whether case id lies in q's county, or in a county of q's prefecture. */
static bool county_match(const gw_feed_q *q, const char *id)
{
    if (q->county[0] == '\0')
        return true;
    if (!q->prefecture)
        return strncmp(id, q->county, HCP_COUNTY_LEN) == 0;
    char c[HCP_COUNTY_LEN + 1];
    memcpy(c, id, HCP_COUNTY_LEN);
    c[HCP_COUNTY_LEN] = '\0';
    const hcp_division *d = hcp_division_find(c);
    return d != NULL && strcmp(d->prefecture, q->county) == 0;
}

/* Whether text s may stand in a JSON document as it is (jansson escapes
 * only '"', '\\' and control characters when it writes a string). */
static bool json_plain(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return false;
    return true;
}

/* Whether the entry's service_code is one of q's. The entry's JSON is
 * parsed only when one of the codes occurs in its bytes (a code that
 * occurs nowhere in the text cannot be its service_code). */
static bool code_match(const gw_feed_q *q, const gw_feed_meta *m)
{
    bool maybe = false;
    for (size_t i = 0; i < q->ncodes && !maybe; i++)
        maybe = !json_plain(q->codes[i]) ||
                memmem(m->json, m->json_len, q->codes[i], strlen(q->codes[i])) != NULL;
    if (!maybe)
        return false;
    json_t *o = json_loadb(m->json, m->json_len, 0, NULL);
    const char *code = json_string_value(json_object_get(o, "service_code"));
    bool found = false;
    for (size_t i = 0; code != NULL && i < q->ncodes && !found; i++)
        found = strcmp(code, q->codes[i]) == 0;
    json_decref(o);
    return found;
}

bool gw_feed_query_match(const gw_feed_q *q, const char *id, const gw_feed_meta *m)
{
    if (strnlen(id, HCP_COUNTY_LEN + 1) <= HCP_COUNTY_LEN || !county_match(q, id))
        return false;
    if ((q->status == GW_FEED_Q_OPEN && m->closed) || (q->status == GW_FEED_Q_CLOSED && !m->closed))
        return false;
    if ((q->start && m->received_at < q->start) || (q->end && m->received_at > q->end))
        return false;
    return q->ncodes == 0 || code_match(q, m);
}
