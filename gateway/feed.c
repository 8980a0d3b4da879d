/*
 * feed.c — the public disclosure feed (docs/feed.md, the regulation
 * Art. 13): GET /feed/requests.json (Open311 GeoReport v2 names) and
 * GET /feed/atom.xml, without a token.
 *
 * Privacy (Art. 6): each entry is built once, when the writer commits a
 * change to its case (gw_feed_value), from the fields the public may see;
 * every free text in it goes through hcp_redact_known with the case's own
 * personal data (complainant, staff, verifier) as known strings, which
 * also drops the characters XML cannot carry (redact.h). The
 * routes only ever read those stored entries, never a case.
 *
 * Speed: a page is the concatenation of stored entries (a reverse cursor
 * scan of the "feed" index), and rendered pages are kept per feed version
 * in a small cache; the ETag is a digest of the bytes, so a conditional
 * GET of an unchanged page costs one cache look-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/sha256.h>

#include "division.h"
#include "gwstore.h"
#include "json.h"
#include "redact.h"
#include "rules.h"

#define FEED_PAGE_DEFAULT 50
#define FEED_PAGE_MAX     200
#define FEED_PAGES_MAX    100000 /* highest page number accepted */
#define FEED_ATOM_ENTRIES 100
#define FEED_BODY_MAX     (32u << 20)
#define FEED_CACHE_SLOTS  256
#define FEED_QKEY_MAX     192
#define FEED_KNOWN_MAX    12

#define FEED_TITLE "青海省政务服务差评投诉处理结果公开"
#define FEED_JSON  "application/json; charset=utf-8"
#define FEED_ATOM  "application/atom+xml; charset=utf-8"

/* ---- building an entry (writer side) ---- */

/* Where the case stands, in one fixed phrase (no free text). */
static const char *status_note(const hcp_case *c)
{
    if (c->outcome == HCP_OUT_MISTAKEN)
        return "经复核为误评，不予采纳";
    if (c->outcome == HCP_OUT_MALICIOUS)
        return "经复核为恶意差评，不予采纳";
    bool subst = c->outcome == HCP_OUT_SUBSTANTIATED;
    switch (c->status) {
    case HCP_ST_RECEIVED:
        return "已受理，等待核实";
    case HCP_ST_VERIFYING:
        return "已受理，正在核实";
    case HCP_ST_DISPUTED:
        return "工作人员申请复核，正在复核";
    case HCP_ST_RECTIFYING:
        return "经核实属实，正在整改";
    case HCP_ST_FEEDBACK_PENDING:
        return subst ? "整改完成，正在反馈整改结果" : "经核实不属实，正在反馈核实结果";
    case HCP_ST_AWAITING_REVISIT:
        return "已反馈整改结果，等待回访";
    case HCP_ST_RESOLVED:
    case HCP_ST_CLOSED:
        if (c->outcome == HCP_OUT_UNSUBSTANTIATED)
            return "经核实不属实，已反馈核实结果";
        if (subst)
            return c->revisited_at != 0 ? "已反馈整改结果，已回访" : "已反馈整改结果";
        return "已办结";
    default:
        return "已受理";
    }
}

/* The instant after which c's still-open deadline is missed (0: none). */
static hcp_time flip_at(const hcp_case *c)
{
    hcp_time t = 0;
    if (!c->adopted)
        return 0;
    if (c->feedback_at == 0 && c->feedback_due.at != 0)
        t = c->feedback_due.at;
    if (c->disputed_at != 0 && c->decided_at == 0 && (t == 0 || c->rereview_due.at < t))
        t = c->rereview_due.at;
    return t;
}

/* The personal strings of c (borrowed from it) to mask wherever they appear. */
static size_t known_of(const hcp_case *c, const char *k[FEED_KNOWN_MAX])
{
    const char *all[] = {c->in.complainant.name,
                         c->in.complainant.phone,
                         c->in.complainant.id_number,
                         c->in.complainant.organization,
                         c->in.staff.name,
                         c->in.staff.phone,
                         c->in.staff.id,
                         c->verifier.name,
                         c->verifier.phone};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && n < FEED_KNOWN_MAX; i++)
        if (all[i] != NULL && all[i][0] != '\0')
            k[n++] = all[i];
    return n;
}

/* A redacted copy of free text s as JSON (null for NULL); NULL on failure. */
static json_t *red(const char *s, const char *const *known, size_t nk)
{
    if (s == NULL)
        return json_null();
    char *r = hcp_redact_dup(s, known, nk);
    json_t *j = r != NULL ? json_string(r) : NULL;
    free(r);
    return j;
}

/* A name of an enum table as JSON (null for 0 or out of range). */
static json_t *name_of(const char *const *names, int count, int v)
{
    return v > 0 && v < count && names[v] != NULL ? json_string(names[v]) : json_null();
}

static json_t *dimensions_json(uint32_t dims)
{
    json_t *a = json_array();
    for (int d = 1; a != NULL && d < HCP_DIM_COUNT_; d++)
        if (dims & HCP_DIM_BIT(d))
            json_array_append_new(a, json_string(hcp_dimension_names[d]));
    return a;
}

/* The public entry of c, every free text redacted. New reference or NULL. */
static json_t *entry_json(const hcp_case *c)
{
    const char *known[FEED_KNOWN_MAX];
    size_t nk = known_of(c, known);
    bool closed = c->status == HCP_ST_RESOLVED || c->status == HCP_ST_CLOSED;
    const hcp_coded *agency = c->rectify_unit.name != NULL ? &c->rectify_unit : &c->in.unit;
    const hcp_division *d = hcp_division_find(c->county);
    return json_pack("{ss ss ss so so so so so so ss so so so so so so sb}", "service_request_id",
                     c->id, "status", closed ? "closed" : "open", "status_notes", status_note(c),
                     "service_code", red(c->in.service_item.code, known, nk), "service_name",
                     red(c->in.service_item.name, known, nk), "agency_responsible",
                     red(agency->name, known, nk), "requested_datetime",
                     hcp_json_time(c->received_at), "updated_datetime", hcp_json_time(c->last_at),
                     "expected_datetime", hcp_json_time(c->feedback_due.at), "county", c->county,
                     "county_name", d != NULL ? json_string(d->name) : json_null(), "kind",
                     name_of(hcp_kind_names, HCP_KIND_COUNT_, c->in.kind), "channel",
                     name_of(hcp_channel_names, HCP_CH_COUNT_, c->in.channel), "dimensions",
                     dimensions_json(c->in.dimensions), "outcome",
                     name_of(hcp_outcome_names, HCP_OUT_COUNT_, c->outcome), "rectification_result",
                     red(c->rectification_result, known, nk), "revisited", c->revisited_at != 0);
}

int gw_feed_value(const hcp_case *c, hcp_time now, hcp_buf *out)
{
    if (c == NULL || out == NULL)
        return HCP_EINVAL;
    json_t *j = entry_json(c);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return HCP_ENOMEM;
    uint8_t hdr[GWS_FEED_HDR] = {1, 0};
    bool closed = c->status == HCP_ST_RESOLVED || c->status == HCP_ST_CLOSED;
    hdr[1] = (uint8_t)((closed ? GWS_FEED_CLOSED : 0) |
                       (hcp_case_deadline_met(c, now) ? GWS_FEED_MET : 0));
    hcpd_be64_put(hdr + 2, (uint64_t)c->received_at);
    hcpd_be64_put(hdr + 10, (uint64_t)flip_at(c));
    hcp_buf_reset(out);
    int rc = hcp_buf_append(out, hdr, sizeof(hdr));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, text, strlen(text));
    free(text);
    return rc;
}

/* ---- the query ---- */

enum { Q_ANY = 0, Q_OPEN, Q_CLOSED };

typedef struct feed_q {
    bool atom;
    char county[HCP_COUNTY_LEN + 1]; /* "" any */
    bool prefecture;                 /* county names a prefecture (市州) */
    int status;                      /* Q_* */
    hcp_time start, end;             /* on requested_datetime, inclusive; 0 none */
    bool has_after;
    hcp_time after; /* updated_datetime > after */
    char id[HCP_CASE_ID_MAX];
    uint32_t page, size;
    char key[FEED_QKEY_MAX]; /* canonical form: the cache key */
} feed_q;

/* Answer 400 naming the parameter; false for the caller to return. */
static bool bad(hcpd_req *r, const char *param, const char *detail)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "%s: %s", param, detail);
    hcpd_req_reply_error(r, 400, "invalid_parameter", msg);
    return false;
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
static bool parse_county(hcpd_req *r, const char *v, feed_q *q)
{
    if (strlen(v) != HCP_COUNTY_LEN || strspn(v, "0123456789") != HCP_COUNTY_LEN)
        return bad(r, "county", "expected a six-digit division code");
    memcpy(q->county, v, sizeof(q->county));
    q->prefecture = hcp_division_find(v) == NULL && hcp_prefecture_known(v);
    return true;
}

/* The filters and paging; false when a 400 was sent. */
static bool parse_filters(hcpd_req *r, feed_q *q)
{
    char v[128];
    if (hcpd_req_query(r, "county", v, sizeof(v)) && v[0] && !parse_county(r, v, q))
        return false;
    if (hcpd_req_query(r, "status", v, sizeof(v)) && v[0]) {
        if (strcmp(v, "open") != 0 && strcmp(v, "closed") != 0)
            return bad(r, "status", "expected open or closed");
        q->status = v[0] == 'o' ? Q_OPEN : Q_CLOSED;
    }
    if (hcpd_req_query(r, "start_date", v, sizeof(v)) && v[0] && !parse_when(v, false, &q->start))
        return bad(r, "start_date", "expected YYYY-MM-DD or RFC 3339");
    if (hcpd_req_query(r, "end_date", v, sizeof(v)) && v[0] && !parse_when(v, true, &q->end))
        return bad(r, "end_date", "expected YYYY-MM-DD or RFC 3339");
    if (q->start && q->end && q->end < q->start)
        return bad(r, "end_date", "before start_date");
    if (hcpd_req_query(r, "updated_after", v, sizeof(v)) && v[0]) {
        if (hcp_time_parse(v, strlen(v), &q->after) != HCP_OK)
            return bad(r, "updated_after", "expected RFC 3339");
        q->has_after = true;
    }
    if (hcpd_req_query(r, "service_request_id", v, sizeof(v)) && v[0]) {
        char county[HCP_COUNTY_LEN + 1];
        if (strlen(v) >= sizeof(q->id) || hcp_case_id_parse(v, county, NULL, NULL) != HCP_OK)
            return bad(r, "service_request_id", "expected a case id");
        memcpy(q->id, v, strlen(v) + 1);
    }
    return true;
}

/* page and page_size (Atom: the latest FEED_ATOM_ENTRIES, no paging). */
static bool parse_paging(hcpd_req *r, feed_q *q)
{
    char v[32];
    q->page = 1;
    q->size = q->atom ? FEED_ATOM_ENTRIES : FEED_PAGE_DEFAULT;
    if (q->atom)
        return true;
    if (hcpd_req_query(r, "page", v, sizeof(v)) && !parse_count(v, FEED_PAGES_MAX, &q->page))
        return bad(r, "page", "expected an integer from 1");
    if (hcpd_req_query(r, "page_size", v, sizeof(v)) && !parse_count(v, FEED_PAGE_MAX, &q->size))
        return bad(r, "page_size", "expected an integer from 1 to 200");
    return true;
}

/* Parse the request's query into q; false when a 400 was sent. */
static bool parse_query(hcpd_req *r, bool atom, feed_q *q)
{
    static const char *const keys[] = {"county",   "status",        "start_date",
                                       "end_date", "updated_after", "service_request_id",
                                       "page",     "page_size",     NULL};
    memset(q, 0, sizeof(*q));
    q->atom = atom;
    if (!hcpd_req_params_ok(r, keys, 64)) /* no valid value is longer than 63 bytes */
        return false;
    if (!parse_filters(r, q) || !parse_paging(r, q))
        return false;
    snprintf(q->key, sizeof(q->key), "%c|%s|%d|%d|%lld|%lld|%d|%lld|%s|%u|%u", atom ? 'a' : 'j',
             q->county, q->prefecture, q->status, (long long)q->start, (long long)q->end,
             q->has_after, (long long)q->after, q->id, q->page, q->size);
    return true;
}

/* ---- scanning the index ---- */

/* One stored entry as the scan hands it over (borrowed for the call). */
typedef struct feed_ent {
    char id[HCP_CASE_ID_MAX];
    hcp_time updated;
    const char *json; /* the object's text, not NUL-terminated */
    size_t json_len;
    bool met; /* deadline_met now */
} feed_ent;

typedef int (*feed_emit)(void *arg, const feed_ent *e);

/* What a render found out besides the bytes. */
typedef struct feed_stat {
    hcp_time now;
    hcp_time expires; /* a shown deadline_met turns false after this; 0 never */
    hcp_time flipped; /* the latest such turn already past (Last-Modified) */
} feed_stat;

/* Whether the entry (key k, value v) passes q's filters; fills e. */
static bool feed_match(const feed_q *q, const MDB_val *k, const MDB_val *v, feed_stat *st,
                       feed_ent *e)
{
    if (k->mv_size <= 8 + HCP_COUNTY_LEN || k->mv_size >= 8 + HCP_CASE_ID_MAX ||
        v->mv_size <= GWS_FEED_HDR)
        return false;
    const uint8_t *kv = k->mv_data, *vv = v->mv_data;
    memcpy(e->id, kv + 8, k->mv_size - 8);
    e->id[k->mv_size - 8] = '\0';
    e->updated = (hcp_time)hcpd_be64_get(kv);
    if (q->county[0] && !q->prefecture && memcmp(e->id, q->county, HCP_COUNTY_LEN) != 0)
        return false;
    if (q->prefecture) {
        char c[HCP_COUNTY_LEN + 1];
        memcpy(c, e->id, HCP_COUNTY_LEN);
        c[HCP_COUNTY_LEN] = '\0';
        const hcp_division *d = hcp_division_find(c);
        if (d == NULL || strcmp(d->prefecture, q->county) != 0)
            return false;
    }
    bool closed = vv[1] & GWS_FEED_CLOSED;
    hcp_time received = (hcp_time)hcpd_be64_get(vv + 2), flip = (hcp_time)hcpd_be64_get(vv + 10);
    if ((q->status == Q_OPEN && closed) || (q->status == Q_CLOSED && !closed) ||
        (q->start && received < q->start) || (q->end && received > q->end))
        return false;
    e->met = (vv[1] & GWS_FEED_MET) != 0;
    if (e->met && flip != 0 && st->now > flip) {
        e->met = false;
        if (flip + 1 > st->flipped)
            st->flipped = flip + 1;
    } else if (e->met && flip != 0 && (st->expires == 0 || flip < st->expires))
        st->expires = flip;
    e->json = (const char *)vv + GWS_FEED_HDR;
    e->json_len = v->mv_size - GWS_FEED_HDR;
    return true;
}

/* The single entry of q->id, if it passes the filters. */
static int scan_one(gw_store *s, MDB_txn *txn, const feed_q *q, feed_stat *st, feed_emit fn,
                    void *arg)
{
    hcp_case c;
    int rc = gws_case_get(s, txn, q->id, false, &c);
    hcp_time at = c.last_at;
    hcp_case_clear(&c);
    if (rc == HCP_ENOTFOUND)
        return HCP_OK;
    if (rc != HCP_OK)
        return rc;
    uint8_t kb[8 + HCP_CASE_ID_MAX];
    size_t n = strlen(q->id);
    hcpd_be64_put(kb, (uint64_t)at);
    memcpy(kb + 8, q->id, n);
    MDB_val k = {8 + n, kb}, v;
    int mrc = mdb_get(txn, s->feed, &k, &v);
    if (mrc == MDB_NOTFOUND || q->page > 1)
        return HCP_OK;
    feed_ent e;
    if (mrc == MDB_SUCCESS && feed_match(q, &k, &v, st, &e) &&
        !(q->has_after && e.updated <= q->after))
        return fn(arg, &e);
    return gws_err(mrc);
}

/* Newest update first: hand the entries of q's page to fn. */
static int scan(gw_store *s, MDB_txn *txn, const feed_q *q, feed_stat *st, feed_emit fn, void *arg)
{
    if (q->id[0])
        return scan_one(s, txn, q, st, fn, arg);
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->feed, &cur));
    if (rc != HCP_OK)
        return rc;
    uint64_t skip = (uint64_t)(q->page - 1) * q->size, shown = 0;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS && shown < q->size;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        feed_ent e;
        if (q->has_after && k.mv_size >= 8 && (hcp_time)hcpd_be64_get(k.mv_data) <= q->after)
            break; /* everything further is older */
        if (!feed_match(q, &k, &v, st, &e))
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        rc = fn(arg, &e);
        shown++;
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    return rc;
}

/* ---- rendering ---- */

/* Append a NUL-terminated string. */
static int put_s(hcp_buf *b, const char *s)
{
    return hcp_buf_append(b, s, strlen(s));
}

typedef struct json_page {
    hcp_buf *out;
    size_t n;
} json_page;

/* One entry of the JSON array: the stored object plus deadline_met. */
static int emit_json(void *arg, const feed_ent *e)
{
    json_page *p = arg;
    int rc = p->n++ > 0 ? put_s(p->out, ",") : HCP_OK;
    if (rc == HCP_OK)
        rc = hcp_buf_append(p->out, e->json, e->json_len - 1); /* without its '}' */
    if (rc == HCP_OK)
        rc = put_s(p->out, e->met ? ",\"deadline_met\":true}" : ",\"deadline_met\":false}");
    return rc;
}

/* Append s with XML's five special characters escaped and every
 * character hcp_text_publishable refuses (or a byte that is not UTF-8)
 * dropped. Entries built since the redaction cleans its text hold none,
 * but an entry stored before that must not make the whole document
 * ill-formed either. */
static int put_xml(hcp_buf *b, const char *s)
{
    int rc = HCP_OK;
    size_t n = s != NULL ? strlen(s) : 0, k;
    for (size_t i = 0; i < n && rc == HCP_OK; i += k) {
        uint32_t cp;
        k = hcp_text_next(s + i, n - i, &cp);
        const char *ent = cp == '&'    ? "&amp;"
                          : cp == '<'  ? "&lt;"
                          : cp == '>'  ? "&gt;"
                          : cp == '"'  ? "&quot;"
                          : cp == '\'' ? "&apos;"
                                       : NULL;
        if (ent != NULL)
            rc = put_s(b, ent);
        else if (cp != HCP_TEXT_BAD && hcp_text_publishable(cp))
            rc = hcp_buf_append(b, s + i, k);
    }
    return rc;
}

/* A string member of o, or dflt. */
static const char *str_of(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : dflt;
}

/* The text content of an Atom entry: labelled lines. */
static int atom_content(hcp_buf *b, const json_t *o, bool met)
{
    static const char *const rows[][2] = {
        {"地区", "county_name"},
        {"事项", "service_name"},
        {"责任单位", "agency_responsible"},
        {"受理时间", "requested_datetime"},
        {"办理期限", "expected_datetime"},
        {"办理状态", "status_notes"},
        {"整改结果", "rectification_result"},
    };
    int rc = HCP_OK;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && rc == HCP_OK; i++) {
        const char *v = str_of(o, rows[i][1], NULL);
        if (v == NULL)
            continue;
        rc = put_xml(b, rows[i][0]);
        if (rc == HCP_OK)
            rc = put_s(b, "：");
        if (rc == HCP_OK)
            rc = put_xml(b, v);
        if (rc == HCP_OK)
            rc = put_s(b, "\n");
    }
    if (rc == HCP_OK)
        rc = put_s(b, met ? "按期办理：是" : "按期办理：否");
    return rc;
}

/* One Atom entry from a stored entry. */
static int emit_atom(void *arg, const feed_ent *e)
{
    hcp_buf *b = arg;
    json_t *o = json_loadb(e->json, e->json_len, 0, NULL);
    if (o == NULL)
        return HCP_EFORMAT;
    char head[256];
    snprintf(head, sizeof(head), "<entry><id>urn:hcp:case:%s:%lld</id><title>", e->id,
             (long long)e->updated);
    int rc = put_s(b, head);
    if (rc == HCP_OK)
        rc = put_xml(b, e->id);
    if (rc == HCP_OK)
        rc = put_s(b, " ");
    if (rc == HCP_OK)
        rc = put_xml(b, str_of(o, "status_notes", ""));
    if (rc == HCP_OK)
        rc = put_s(b, "</title><updated>");
    if (rc == HCP_OK)
        rc = put_xml(b, str_of(o, "updated_datetime", ""));
    snprintf(head, sizeof(head),
             "</updated><link rel=\"alternate\" type=\"application/json\" "
             "href=\"/feed/requests.json?service_request_id=%s\"/><content type=\"text\">",
             e->id);
    if (rc == HCP_OK)
        rc = put_s(b, head);
    if (rc == HCP_OK)
        rc = atom_content(b, o, e->met);
    if (rc == HCP_OK)
        rc = put_s(b, "</content></entry>\n");
    json_decref(o);
    return rc;
}

/* The Atom document's head; updated is the feed's last change. */
static int atom_head(hcp_buf *b, hcp_time updated)
{
    char ts[HCP_TIME_STRLEN];
    int rc = hcp_time_format(updated, ts, sizeof(ts));
    char head[1024];
    snprintf(head, sizeof(head),
             "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
             "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"zh-CN\">\n"
             "<id>urn:hcp:feed:630000</id>\n<title>%s</title>\n"
             "<subtitle>依据《青海省受理政务服务差评投诉规定》第十三条实时公开</subtitle>\n"
             "<updated>%s</updated>\n"
             "<link rel=\"self\" type=\"application/atom+xml\" href=\"/feed/atom.xml\"/>\n"
             "<link rel=\"alternate\" type=\"application/json\" href=\"/feed/requests.json\"/>\n"
             "<author><name>青海省政务服务监督管理部门</name></author>\n",
             FEED_TITLE, ts);
    return rc == HCP_OK ? put_s(b, head) : rc;
}

/* Render q's page into out (a read transaction of its own). */
static int render(gw_store *s, const feed_q *q, hcp_time mtime, feed_stat *st, hcp_buf *out)
{
    MDB_txn *txn;
    int rc = gws_read_begin(s, &txn);
    if (rc != HCP_OK)
        return rc;
    json_page jp = {out, 0};
    if (q->atom) {
        rc = atom_head(out, mtime);
        if (rc == HCP_OK)
            rc = scan(s, txn, q, st, emit_atom, out);
        if (rc == HCP_OK)
            rc = put_s(out, "</feed>\n");
    } else {
        rc = put_s(out, "[");
        if (rc == HCP_OK)
            rc = scan(s, txn, q, st, emit_json, &jp);
        if (rc == HCP_OK)
            rc = put_s(out, "]");
    }
    gws_read_end(s, txn);
    return rc;
}

/* ---- the page cache ---- */

/* Rendered bytes, shared by the cache and the replies being sent. */
typedef struct blob {
    _Atomic int refs;
    size_t len;
    char etag[40];    /* "\"<32 hex>\"" */
    hcp_time lastmod; /* Last-Modified */
    char data[];
} blob;

typedef struct slot {
    char key[FEED_QKEY_MAX];
    uint64_t version;
    hcp_time expires; /* 0: until the version changes */
    blob *b;
} slot;

struct gw_feed_cache {
    pthread_mutex_t mu;
    slot slots[FEED_CACHE_SLOTS];
};

static void blob_unref(blob *b)
{
    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

int gw_feed_cache_new(struct gw_feed_cache **out)
{
    struct gw_feed_cache *fc = calloc(1, sizeof(*fc));
    if (fc == NULL)
        return HCP_ENOMEM;
    pthread_mutex_init(&fc->mu, NULL);
    *out = fc;
    return HCP_OK;
}

void gw_feed_cache_free(struct gw_feed_cache *fc)
{
    if (fc == NULL)
        return;
    for (size_t i = 0; i < FEED_CACHE_SLOTS; i++)
        blob_unref(fc->slots[i].b);
    pthread_mutex_destroy(&fc->mu);
    free(fc);
}

/* SHA-256 of [p, p+n) (mbedtls). */
static int sha256(const void *p, size_t n, uint8_t out[32])
{
    return mbedtls_sha256_ret(p, n, out, 0) == 0 ? HCP_OK : HCP_ECRYPTO;
}

/* The slot of a query key. */
static slot *slot_of(struct gw_feed_cache *fc, const char *key)
{
    uint8_t h[32];
    if (sha256(key, strlen(key), h) != HCP_OK)
        h[0] = h[1] = 0;
    return &fc->slots[((size_t)h[0] << 8 | h[1]) % FEED_CACHE_SLOTS];
}

/* A cached page for q at version, with a reference for the caller. */
static blob *cache_get(struct gw_feed_cache *fc, const feed_q *q, uint64_t version, hcp_time now)
{
    slot *sl = slot_of(fc, q->key);
    blob *b = NULL;
    pthread_mutex_lock(&fc->mu);
    if (sl->b != NULL && sl->version == version && strcmp(sl->key, q->key) == 0 &&
        (sl->expires == 0 || now <= sl->expires)) {
        b = sl->b;
        atomic_fetch_add(&b->refs, 1);
    }
    pthread_mutex_unlock(&fc->mu);
    return b;
}

/* Keep b (one more reference) as q's page at version. */
static void cache_put(struct gw_feed_cache *fc, const feed_q *q, uint64_t version, hcp_time expires,
                      blob *b)
{
    slot *sl = slot_of(fc, q->key);
    atomic_fetch_add(&b->refs, 1);
    pthread_mutex_lock(&fc->mu);
    blob *old = sl->b;
    snprintf(sl->key, sizeof(sl->key), "%s", q->key);
    sl->version = version;
    sl->expires = expires;
    sl->b = b;
    pthread_mutex_unlock(&fc->mu);
    blob_unref(old);
}

/* A blob of the bytes of out, its ETag their digest. NULL on failure. */
static blob *blob_of(const hcp_buf *out, hcp_time lastmod)
{
    uint8_t h[32];
    if (sha256(out->data, out->len, h) != HCP_OK)
        return NULL;
    blob *b = malloc(sizeof(*b) + out->len);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = out->len;
    b->lastmod = lastmod;
    char *p = b->etag;
    *p++ = '"';
    for (int i = 0; i < 16; i++, p += 2)
        snprintf(p, 3, "%02x", h[i]);
    snprintf(p, 2, "\"");
    memcpy(b->data, out->data, out->len);
    return b;
}

/* q's page if the cache holds it at the current version (a reference for
 * the caller), else NULL: the cheap look-up done on the server thread. */
static blob *page_cached(gw_store *s, const feed_q *q)
{
    return cache_get(s->feed_cache, q, atomic_load(&s->feed_version), (hcp_time)time(NULL));
}

/* q's page, from the cache or rendered now; *out has a reference. */
static int page_get(gw_store *s, const feed_q *q, blob **out)
{
    hcp_time now = (hcp_time)time(NULL);
    /* the version before the transaction: a commit is visible before its
     * version is, so a page is never kept under a newer version than its data */
    uint64_t version = atomic_load(&s->feed_version);
    hcp_time mtime = atomic_load(&s->feed_mtime);
    if ((*out = cache_get(s->feed_cache, q, version, now)) != NULL)
        return HCP_OK;
    feed_stat st = {now, 0, 0};
    hcp_buf body;
    hcp_buf_init(&body, FEED_BODY_MAX);
    int rc = render(s, q, mtime, &st, &body);
    blob *b = NULL;
    if (rc == HCP_OK && (b = blob_of(&body, st.flipped > mtime ? st.flipped : mtime)) == NULL)
        rc = HCP_ENOMEM;
    hcp_buf_free(&body);
    if (rc != HCP_OK)
        return rc;
    cache_put(s->feed_cache, q, version, st.expires, b);
    *out = b;
    return HCP_OK;
}

/* ---- conditional GET ---- */

/* An HTTP date (IMF-fixdate) of t. */
static void http_date(hcp_time t, char buf[40])
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    snprintf(buf, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday % 7], tm.tm_mday,
             mo[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Parse an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); false if not one. */
static bool http_date_parse(const char *s, hcp_time *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    int d, y, hh, mm, ss;
    if (sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &d, mon, &y, &hh, &mm, &ss) != 6)
        return false;
    const char *m = strstr(months, mon);
    hcp_day day;
    if (strlen(mon) != 3 || m == NULL || (m - months) % 3 != 0 || hh > 23 || mm > 59 || ss > 60 ||
        hcp_day_from_ymd(y, (int)(m - months) / 3 + 1, d, &day) != HCP_OK)
        return false;
    /* hcp_day_start is midnight in +08:00: UTC midnight is 8 hours later */
    *out = hcp_day_start(day) + HCP_TZ_OFFSET + hh * 3600 + mm * 60 + ss;
    return true;
}

/* Whether the client's copy is current (RFC 9110 13.2.2: If-None-Match
 * decides when present; If-Modified-Since only without it). A page changed
 * within the current second is never "not modified" by date. */
static bool not_modified(hcpd_req *r, const blob *b)
{
    const char *inm = hcpd_req_header(r, "If-None-Match");
    if (inm != NULL)
        return strcmp(inm, "*") == 0 || strstr(inm, b->etag) != NULL;
    const char *ims = hcpd_req_header(r, "If-Modified-Since");
    hcp_time since;
    return ims != NULL && http_date_parse(ims, &since) && b->lastmod <= since &&
           b->lastmod < (hcp_time)time(NULL);
}

/* ---- the routes ---- */

bool gw_feed_is_route(const char *path)
{
    return path != NULL &&
           (strcmp(path, "/feed/requests.json") == 0 || strcmp(path, "/feed/atom.xml") == 0);
}

/* Answer r with page b (200, or 304 when the client's copy is current)
 * and drop the caller's reference. */
static void feed_send(hcpd_req *r, const feed_q *q, blob *b)
{
    char date[40];
    http_date(b->lastmod, date);
    hcpd_hdr h[] = {{"ETag", b->etag},
                    {"Last-Modified", date},
                    {"Cache-Control", "no-cache"},
                    {"Access-Control-Allow-Origin", "*"}};
    bool same = not_modified(r, b);
    hcpd_req_reply_hdrs(r, same ? 304 : 200, q->atom ? FEED_ATOM : FEED_JSON, b->data,
                        same ? 0 : b->len, h, sizeof(h) / sizeof(h[0]));
    blob_unref(b);
}

/* A page to render off the server thread: the query, copied. */
typedef struct feed_job {
    gw *g;
    feed_q q;
} feed_job;

/* Render (or find, if another request rendered it meanwhile) and answer
 * the job's page; on a worker thread, or inline when offloading was
 * refused. Frees the job. */
static void feed_work(void *arg, hcpd_req *r)
{
    feed_job *j = arg;
    blob *b = NULL;
    int rc = page_get(j->g->store, &j->q, &b);
    if (rc != HCP_OK) {
        gw_log("warn", "feed.render_failed", "err=\"%s\"", hcp_strerror(rc));
        hcpd_req_reply_error(r, rc == HCP_ENOMEM ? 503 : 500, "storage_error", hcp_strerror(rc));
    } else
        feed_send(r, &j->q, b);
    free(j);
}

/* A cached page is answered here, on the server thread (a look-up and a
 * copy); a miss renders from LMDB, skipping up to page x page_size entries
 * (tens of ms), so it goes to the server's worker pool instead of holding
 * every other connection (docs/http.md "Slow handlers"). */
void gw_feed_handle(gw *g, hcpd_req *r)
{
    bool atom = strcmp(hcpd_req_path(r), "/feed/atom.xml") == 0;
    feed_q q;
    if (!parse_query(r, atom, &q))
        return;
    blob *b = page_cached(g->store, &q);
    if (b != NULL) {
        feed_send(r, &q, b);
        return;
    }
    feed_job *j = malloc(sizeof(*j));
    if (j == NULL) {
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    j->g = g;
    j->q = q;
    if (hcpd_req_offload(r, feed_work, j) != HCP_OK)
        feed_work(j, r); /* not on the server thread: render here */
}
