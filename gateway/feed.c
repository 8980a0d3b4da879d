/*
 * feed.c — the public disclosure feed's routes (gwfeed.h, docs/feed.md, the
 * regulation's Art. 13): GET /feed/requests.json (Open311 GeoReport v2
 * names) and GET /feed/atom.xml, without a token.
 *
 * Privacy (Art. 6): each entry is built once, when the writer commits a
 * change to its case (feed_entry.h, through the store), from the fields
 * the public may see, every free text redacted. The routes only ever read
 * those stored entries, never a case.
 *
 * Speed: a page is the concatenation of stored entries (a reverse cursor
 * scan of the "feed" index), and rendered pages are kept per feed version
 * in a small cache (feed_cache.h) that the store's hook invalidates; the
 * ETag is a digest of the bytes, so a conditional GET of an unchanged page
 * costs one cache look-up. A filtered page=N starts at a mark a walk of
 * the same filter left in the same snapshot (feed_marks.h).
 */
#include "be.h"
#include "gwfeed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "feed_cache.h"
#include "feed_entry.h"
#include "feed_marks.h"
#include "feed_query.h"
#include "gwstore.h"
#include "monthly.h"
#include "rules.h"
#include "tlog.h"

#define FEED_BODY_MAX (32u << 20)

#define FEED_TITLE "青海省政务服务差评投诉处理结果公开"
#define FEED_JSON  "application/json; charset=utf-8"
#define FEED_ATOM  "application/atom+xml; charset=utf-8"

/* ---- the query ---- */

/* hcpd_req_query as a gw_feed_param_fn. */
static bool req_param(void *arg, const char *key, char *buf, size_t len)
{
    return hcpd_req_query(arg, key, buf, len);
}

/* Parse the request's query into q; false when a 400 was sent. */
static bool parse_query(hcpd_req *r, bool atom, gw_feed_q *q)
{
    if (!hcpd_req_params_ok(r, gw_feed_query_keys, GW_FEED_PARAM_MAX))
        return false;
    gw_feed_q_err err = {"", ""};
    if (gw_feed_query_parse(q, atom, req_param, r, &err) == HCP_OK)
        return true;
    char msg[160];
    snprintf(msg, sizeof(msg), "%s: %s", err.param, err.detail);
    hcpd_req_reply_error(r, 400, "invalid_parameter", msg);
    return false;
}

/* ---- scanning the index ---- */

/* One stored entry as the scan hands it over (borrowed for the call). */
typedef struct feed_ent {
    char id[HCP_CASE_ID_MAX];
    hcp_time updated;
    const char *json; /* the object's text, not NUL-terminated (ent_resolve) */
    size_t json_len;
    bool met;          /* deadline_met now */
    gw_feed_meta meta; /* the stored value, its leaf read only for an entry shown */
} feed_ent;

typedef int (*feed_emit)(void *arg, const feed_ent *e);

/* What a render found out besides the bytes. */
typedef struct feed_stat {
    hcp_time now;
    hcp_time expires; /* a shown deadline_met turns false after this; 0 never */
    hcp_time flipped; /* the latest such turn already past (Last-Modified) */
    uint32_t shown;   /* entries on the page */
    hcp_time last_at; /* the last one's position, for the next page's cursor */
    char last_id[HCP_CASE_ID_MAX];
} feed_stat;

_Static_assert(GW_FEED_NEXT_MAX >= GW_FEED_CURSOR_MAX, "a page holds its next cursor");

static void note_flip(const gw_feed_meta *m, feed_stat *st);

/* Hand entry e to fn and note it as the page's last so far, and when its
 * deadline_met turns false (only a shown entry's counts: the entries
 * passed over before the page, which a walk from a mark or the count
 * index never reads, change nothing on it). */
static int show(feed_stat *st, const feed_ent *e, feed_emit fn, void *arg)
{
    note_flip(&e->meta, st);
    st->shown++;
    st->last_at = e->updated;
    memcpy(st->last_id, e->id, sizeof(st->last_id));
    return fn(arg, e);
}

/* Note in st when the entry's deadline_met turns (or turned) false. */
static void note_flip(const gw_feed_meta *m, feed_stat *st)
{
    if (!m->met || m->flip_at == 0)
        return;
    if (st->now > m->flip_at) {
        if (m->flip_at + 1 > st->flipped)
            st->flipped = m->flip_at + 1;
    } else if (st->expires == 0 || m->flip_at < st->expires)
        st->expires = m->flip_at;
}

/* Whether the entry (key k, value v) passes q's filters; fills e. */
static bool feed_match(gw_store *s, MDB_txn *txn, MDB_cursor **tcur, const gw_feed_q *q,
                       const MDB_val *k, const MDB_val *v, const feed_stat *st, feed_ent *e)
{
    gw_feed_meta *m = &e->meta;
    if (!gws_feed_key_parse(k->mv_data, k->mv_size, &e->updated, e->id) ||
        gw_feed_value_parse(v->mv_data, v->mv_size, m) != HCP_OK ||
        (q->ncodes > 0 &&
         gws_feed_meta_resolve(s, txn, tcur, m) != HCP_OK) || /* codes read the JSON */
        !gw_feed_query_match(q, e->id, m))
        return false;
    e->met = gw_feed_meta_met_at(m, st->now);
    e->json = m->json;
    e->json_len = m->json_len;
    return true;
}

/* The JSON of an entry about to be shown (a leaf reference is read only
 * now, so skipping to a deep page reads no leaves); false when its leaf
 * cannot be read, and the entry is left out as an unreadable value is. */
static bool ent_resolve(gw_store *s, MDB_txn *txn, MDB_cursor **tcur, feed_ent *e)
{
    if (gws_feed_meta_resolve(s, txn, tcur, &e->meta) != HCP_OK)
        return false;
    e->json = e->meta.json;
    e->json_len = e->meta.json_len;
    return true;
}

/* One case of a service_request_id list, found: its feed key and value. */
typedef struct id_hit {
    uint8_t key[GWS_FEED_KEY_MAX];
    size_t key_len;
    MDB_val v; /* borrowed from the transaction */
} id_hit;

/* Two feed keys in LMDB's order (bytes, then the shorter first). */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* Newest update first: the feed's own order, the keys compared backwards. */
static int hit_cmp(const void *a, const void *b)
{
    const id_hit *x = a, *y = b;
    return key_cmp(y->key, y->key_len, x->key, x->key_len);
}

/* The entries of q's service_request_id list (GeoReport v2 allows a comma
 * list) that pass the other filters, newest update first, paged. */
static int scan_ids(gw_store *s, MDB_txn *txn, const gw_feed_q *q, feed_stat *st, feed_emit fn,
                    void *arg)
{
    id_hit hits[GW_FEED_LIST_MAX];
    size_t nhits = 0;
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < q->nids; i++) {
        hcp_case c;
        rc = gws_case_get(s, txn, q->ids[i], false, &c);
        hcp_time at = hcp_case_updated_at(&c);
        hcp_case_clear(&c);
        if (rc == HCP_OK)
            rc = gws_feed_get(s, txn, q->ids[i], at, &hits[nhits].v);
        if (rc == HCP_ENOTFOUND) { /* no such case, or not in the feed */
            rc = HCP_OK;
            continue;
        }
        if (rc == HCP_OK)
            hits[nhits].key_len = gws_feed_key(hits[nhits].key, at, q->ids[i]);
        nhits += rc == HCP_OK;
    }
    if (rc != HCP_OK)
        return rc;
    qsort(hits, nhits, sizeof(hits[0]), hit_cmp);
    uint8_t ck[GWS_FEED_KEY_MAX];
    size_t cklen = q->has_cursor ? gws_feed_key(ck, q->cur_at, q->cur_id) : 0;
    uint64_t skip = (uint64_t)(q->page - 1) * q->size;
    MDB_cursor *tcur = NULL; /* the leaves' cursor, kept from entry to entry */
    for (size_t i = 0; rc == HCP_OK && i < nhits && st->shown < q->size; i++) {
        MDB_val k = {hits[i].key_len, hits[i].key};
        feed_ent e;
        if (cklen > 0 && key_cmp(hits[i].key, hits[i].key_len, ck, cklen) >= 0)
            continue; /* not after the cursor */
        if (!feed_match(s, txn, &tcur, q, &k, &hits[i].v, st, &e) ||
            (q->has_after && e.updated <= q->after))
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        if (!ent_resolve(s, txn, &tcur, &e))
            continue;
        rc = show(st, &e, fn, arg);
    }
    if (tcur != NULL)
        mdb_cursor_close(tcur);
    return rc;
}

/* Whether q selects every entry (updated_after aside: it only ends the
 * scan early), so that the count index can find a page's first entry. */
static bool unfiltered(const gw_feed_q *q)
{
    return q->county[0] == '\0' && q->status == GW_FEED_Q_ANY && q->start == 0 && q->end == 0 &&
           q->ncodes == 0 && q->nids == 0 && !q->has_cursor;
}

/* A walk's marks (feed_marks.h): the filter's key, the snapshot, and the
 * rank (among the entries passing the filter) of the next one to pass. */
typedef struct feed_walk {
    gw_feed_marks *marks; /* NULL: the walk neither uses nor leaves marks */
    uint64_t snap;
    uint64_t rank;
    char filter[GW_FEED_QKEY_MAX];
} feed_walk;

/* Start w for q in txn: marks are used by a walk from the newest entry
 * (no cursor, no service_request_id list) of a filter (without one the
 * count index finds any page). */
static void walk_init(feed_walk *w, gw_store *s, gw_feed_marks *marks, MDB_txn *txn,
                      const gw_feed_q *q)
{
    w->marks = NULL;
    w->rank = 0;
    w->snap = mdb_txn_id(txn); /* the snapshot the transaction reads */
    if (marks != NULL && !q->has_cursor && !(unfiltered(q) && s->feed_cnt_ok) &&
        gw_feed_query_filter_key(q, w->filter, sizeof(w->filter)) == HCP_OK)
        w->marks = marks;
}

/* Put cur on the greatest mark of w's filter and snapshot whose rank is at
 * most *skip, *skip then counted from it; false (cur unmoved or to be
 * moved again) when there is none. */
static bool seek_mark(feed_walk *w, MDB_cursor *cur, uint64_t *skip, MDB_val *k, MDB_val *v)
{
    uint8_t kb[GW_FEED_MARK_KEY_MAX]; /* the mark's key, alive while LMDB reads it */
    size_t klen;
    uint64_t rank;
    if (w->marks == NULL ||
        !gw_feed_marks_find(w->marks, w->filter, w->snap, *skip, &rank, kb, &klen))
        return false;
    k->mv_size = klen;
    k->mv_data = kb;
    /* the same snapshot holds the marked entry: SET_RANGE lands on it */
    if (mdb_cursor_get(cur, k, v, MDB_SET_RANGE) != MDB_SUCCESS || k->mv_size != klen ||
        memcmp(k->mv_data, kb, klen) != 0) {
        gw_log("warn", "feed.mark_missing", "rank=%llu", (unsigned long long)rank);
        return false;
    }
    w->rank = rank;
    *skip -= rank;
    return true;
}

/* Put cur on the first entry to consider for q's page (newest first):
 * after q's cursor (the entries older than its position); the page's
 * first entry through the count index when nothing is filtered (then
 * *skip is 0); else the greatest mark of w at or before it, or the
 * newest, *skip entries still to pass over. Returns LMDB's code
 * (MDB_NOTFOUND: nothing to show). */
static int scan_start(gw_store *s, MDB_txn *txn, const gw_feed_q *q, feed_walk *w, MDB_cursor *cur,
                      uint64_t *skip, MDB_val *k, MDB_val *v)
{
    uint8_t kb[GWS_FEED_KEY_MAX]; /* the cursor's key, alive while LMDB reads it */
    if (q->has_cursor) {
        k->mv_size = gws_feed_key(kb, q->cur_at, q->cur_id);
        k->mv_data = kb;
        int mrc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE); /* the first at or after it */
        return mrc == MDB_NOTFOUND  ? mdb_cursor_get(cur, k, v, MDB_LAST)
               : mrc == MDB_SUCCESS ? mdb_cursor_get(cur, k, v, MDB_PREV)
                                    : mrc;
    }
    if (*skip > 0 && unfiltered(q)) {
        int rc = gws_feed_seek_rank(s, txn, cur, *skip, k, v);
        if (rc == HCP_OK || rc == HCP_ENOTFOUND) {
            *skip = 0;
            w->marks = NULL; /* ranks of their own: nothing to mark */
            return rc == HCP_OK ? MDB_SUCCESS : MDB_NOTFOUND;
        }
        if (rc != HCP_EFORMAT || s->feed_cnt_ok) /* else a store opened without the index */
            gw_log("warn", "feed.rank_failed", "rank=%llu err=\"%s\"", (unsigned long long)*skip,
                   hcp_strerror(rc)); /* walk instead */
    }
    if (seek_mark(w, cur, skip, k, v))
        return MDB_SUCCESS;
    w->rank = 0;
    return mdb_cursor_get(cur, k, v, MDB_LAST);
}

/* Newest update first: hand the entries of q's page to fn; with marks, a
 * walk starts at the greatest mark before the page and leaves one at
 * every GW_FEED_MARK_EVERY-th entry passing q's filters that it passes. */
static int scan(gw_store *s, MDB_txn *txn, const gw_feed_q *q, gw_feed_marks *marks, feed_stat *st,
                feed_emit fn, void *arg)
{
    if (q->nids > 0)
        return scan_ids(s, txn, q, st, fn, arg);
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->feed, &cur));
    if (rc != HCP_OK)
        return rc;
    feed_walk *w = malloc(sizeof(*w)); /* a filter key of up to 4 KB: not on a worker's stack */
    if (w == NULL) {
        mdb_cursor_close(cur);
        return HCP_ENOMEM;
    }
    walk_init(w, s, marks, txn, q);
    uint64_t skip = (uint64_t)(q->page - 1) * q->size;
    MDB_cursor *tcur = NULL; /* the leaves' cursor, kept from entry to entry */
    MDB_val k, v;
    int mrc = scan_start(s, txn, q, w, cur, &skip, &k, &v);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS && st->shown < q->size;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        feed_ent e;
        if (q->has_after && k.mv_size >= 8 && (hcp_time)hcp_be64_get(k.mv_data) <= q->after)
            break; /* everything further is older */
        if (!feed_match(s, txn, &tcur, q, &k, &v, st, &e))
            continue;
        if (w->marks != NULL && w->rank++ % GW_FEED_MARK_EVERY == 0)
            gw_feed_marks_note(w->marks, w->filter, w->snap, w->rank - 1, k.mv_data, k.mv_size);
        if (skip > 0) {
            skip--;
            continue;
        }
        if (!ent_resolve(s, txn, &tcur, &e))
            continue;
        rc = show(st, &e, fn, arg);
    }
    free(w);
    mdb_cursor_close(cur);
    if (tcur != NULL)
        mdb_cursor_close(tcur);
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

/*
 * A JSON page and, when tag is not NULL, the parts its ETag is a digest
 * of (docs/feed.md "ETag"): the page's own bytes ('L', be32 length,
 * bytes) and, for each entry, its log leaf's hash and deadline_met ('E',
 * 32 bytes, 0|1), which the log keeps already, or, for an entry that is no
 * leaf, its JSON ('R', be32 length, bytes, 0|1). Each part says how long it
 * is, and a leaf's hash stands for exactly its bytes, so the digest stands
 * for the page's bytes as a digest of them would, without reading the
 * ~40 KB of a page again (a third of an uncached page's CPU).
 */
typedef struct json_page {
    hcp_buf *out;
    size_t n;
    hcp_buf *tag;     /* the ETag's parts, or NULL */
    gw_store *s;      /* for the leaves' hashes: */
    MDB_txn *txn;     /* the page's read transaction */
    MDB_cursor *hcur; /* on the log, opened at the first leaf, closed by render_txn */
} json_page;

/* One part of the ETag's: kind, be32 n, the n bytes. */
static int tag_part(hcp_buf *tag, char kind, const void *p, size_t n)
{
    uint8_t hdr[5] = {(uint8_t)kind};
    if (n > UINT32_MAX)
        return HCP_ERANGE;
    hcp_be32_put(hdr + 1, (uint32_t)n);
    int rc = hcp_buf_append(tag, hdr, sizeof(hdr));
    return rc == HCP_OK ? hcp_buf_append(tag, p, n) : rc;
}

/* Bytes of the page's own (brackets, commas). */
static int put_lit(json_page *p, const char *s)
{
    int rc = put_s(p->out, s);
    return rc == HCP_OK && p->tag != NULL ? tag_part(p->tag, 'L', s, strlen(s)) : rc;
}

/* Entry e's part of the ETag's: its leaf's hash as the log keeps it, or
 * its JSON when it is no leaf or the hash cannot be read. */
static int tag_entry(json_page *p, const feed_ent *e)
{
    uint8_t part[1 + 32 + 1] = {'E'};
    part[33] = e->met ? 1 : 0;
    bool hashed = e->meta.is_leaf &&
                  (p->hcur != NULL || mdb_cursor_open(p->txn, p->s->tlog, &p->hcur) == 0) &&
                  gw_tlog_leaf_hash(p->hcur, e->meta.leaf, part + 1) == HCP_OK;
    if (hashed)
        return hcp_buf_append(p->tag, part, sizeof(part));
    int rc = tag_part(p->tag, 'R', e->json, e->json_len);
    return rc == HCP_OK ? hcp_buf_append(p->tag, part + 33, 1) : rc;
}

/* One entry of the JSON array: the stored object plus deadline_met. */
static int emit_json(void *arg, const feed_ent *e)
{
    json_page *p = arg;
    int rc = p->n++ > 0 ? put_lit(p, ",") : HCP_OK;
    if (rc == HCP_OK)
        rc = gw_feed_entry_json_append(p->out, e->json, e->json_len, e->met);
    if (rc == HCP_OK && p->tag != NULL)
        rc = tag_entry(p, e);
    return rc;
}

/* One Atom entry from a stored entry. */
static int emit_atom(void *arg, const feed_ent *e)
{
    return gw_feed_entry_atom_append(arg, e->id, e->updated, e->json, e->json_len, e->met);
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

/* Render q's page into out, in txn (a read transaction). */
static int render_txn(gw_store *s, MDB_txn *txn, const gw_feed_q *q, gw_feed_marks *marks,
                      hcp_time mtime, feed_stat *st, hcp_buf *out, uint8_t etag[32])
{
    int rc;
    hcp_buf tag; /* what the ETag digests: an Atom page's bytes, a JSON page's parts */
    hcp_buf_init(&tag, FEED_BODY_MAX);
    json_page jp = {out, 0, etag != NULL && !q->atom ? &tag : NULL, s, txn, NULL};
    if (q->atom) {
        rc = atom_head(out, mtime);
        if (rc == HCP_OK)
            rc = scan(s, txn, q, marks, st, emit_atom, out);
        if (rc == HCP_OK)
            rc = put_s(out, "</feed>\n");
    } else {
        /* a page's parts: 50 entries of 34 bytes and the commas */
        rc = jp.tag != NULL ? hcp_buf_reserve(&tag, 64 + (size_t)q->size * 40) : HCP_OK;
        if (rc == HCP_OK && jp.tag != NULL)
            rc = tag_part(&tag, 'F', GW_FEED_ENTRY_JSON_FORM, strlen(GW_FEED_ENTRY_JSON_FORM));
        if (rc == HCP_OK)
            rc = put_lit(&jp, "[");
        if (rc == HCP_OK)
            rc = scan(s, txn, q, marks, st, emit_json, &jp);
        if (rc == HCP_OK)
            rc = put_lit(&jp, "]");
    }
    if (rc == HCP_OK && etag != NULL) {
        const hcp_buf *d = q->atom ? out : &tag;
        const void *parts[] = {d->data};
        size_t lens[] = {d->len};
        rc = hcp_sha256(parts, lens, 1, etag);
    }
    if (jp.hcur != NULL)
        mdb_cursor_close(jp.hcur);
    hcp_buf_free(&tag);
    return rc;
}

/* Render q's page into out (a read transaction of its own) and its ETag's
 * digest into etag. */
static int render(gw_store *s, const gw_feed_q *q, gw_feed_marks *marks, hcp_time mtime,
                  feed_stat *st, hcp_buf *out, uint8_t etag[32])
{
    MDB_txn *txn;
    int rc = gws_read_begin(s, &txn);
    if (rc != HCP_OK)
        return rc;
    rc = render_txn(s, txn, q, marks, mtime, st, out, etag);
    gws_read_end(s, txn);
    return rc;
}

int gw_feed_render(gw_store *s, MDB_txn *txn, const gw_feed_q *q, gw_feed_marks *marks,
                   hcp_time now, hcp_time mtime, hcp_buf *out)
{
    if (s == NULL || txn == NULL || q == NULL || out == NULL)
        return HCP_EINVAL;
    feed_stat st = {.now = now};
    return render_txn(s, txn, q, marks, mtime, &st, out, NULL);
}

/* ---- the service list (GET /feed/services.json) ---- */

/* Note the entry's service item in services (code -> GeoReport service):
 * the first entry seen of a code (the newest) names it. */
static int service_note(json_t *services, const char *json, size_t len)
{
    json_t *o = json_loadb(json, len, 0, NULL);
    const char *code = json_string_value(json_object_get(o, "service_code"));
    int rc = HCP_OK;
    if (code != NULL && code[0] != '\0' && json_object_get(services, code) == NULL) {
        json_t *name = json_object_get(o, "service_name");
        json_t *svc = json_pack("{ss sO so sb ss so so}", "service_code", code, "service_name",
                                json_is_string(name) ? name : json_null(), "description",
                                json_null(), "metadata", false, "type", "realtime", "keywords",
                                json_null(), "group", json_null());
        if (svc == NULL || json_object_set_new(services, code, svc) != 0)
            rc = HCP_ENOMEM;
    }
    json_decref(o);
    return rc;
}

/* Ascending strcmp of two C strings' addresses (qsort). */
static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The services of map (code -> service) as a JSON array by code into out. */
static int services_dump(json_t *map, hcp_buf *out)
{
    size_t n = json_object_size(map), k = 0;
    const char **codes = calloc(n + 1, sizeof(*codes));
    json_t *arr = json_array();
    int rc = codes != NULL && arr != NULL ? HCP_OK : HCP_ENOMEM;
    const char *code;
    json_t *v;
    json_object_foreach(map, code, v)
    {
        if (codes != NULL && k < n)
            codes[k++] = code;
    }
    if (rc == HCP_OK)
        qsort(codes, k, sizeof(*codes), str_cmp);
    for (size_t i = 0; rc == HCP_OK && i < k; i++)
        if (json_array_append(arr, json_object_get(map, codes[i])) != 0)
            rc = HCP_ENOMEM;
    char *text = rc == HCP_OK ? json_dumps(arr, JSON_COMPACT) : NULL;
    if (rc == HCP_OK && text == NULL)
        rc = HCP_ENOMEM;
    if (rc == HCP_OK)
        rc = put_s(out, text);
    free(text);
    free(codes);
    json_decref(arr);
    return rc;
}

int gw_feed_services(gw_store *s, MDB_txn *txn, hcp_buf *out)
{
    if (s == NULL || txn == NULL || out == NULL)
        return HCP_EINVAL;
    json_t *map = json_object();
    MDB_cursor *cur = NULL, *tcur = NULL; /* the feed's, and its leaves' */
    int rc = map != NULL ? gws_err(mdb_cursor_open(txn, s->feed, &cur)) : HCP_ENOMEM;
    MDB_val k, v;
    int mrc = rc == HCP_OK ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : MDB_NOTFOUND;
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        gw_feed_meta m;
        if (gws_feed_value_read(s, txn, &tcur, v.mv_data, v.mv_size, &m) == HCP_OK)
            rc = service_note(map, m.json, m.json_len);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (tcur != NULL)
        mdb_cursor_close(tcur);
    if (rc == HCP_OK && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    if (rc == HCP_OK)
        rc = services_dump(map, out);
    json_decref(map);
    return rc;
}

/* The service list from the cache or built now; *out has a reference. */
static int services_get(gw *g, gw_feed_page **out)
{
    static const char key[] = "services";
    hcp_time now = (hcp_time)time(NULL), mtime;
    uint64_t version = gw_feed_cache_version(g->feed_cache, &mtime);
    if ((*out = gw_feed_cache_get(g->feed_cache, key, version, now)) != NULL)
        return HCP_OK;
    hcp_buf body;
    hcp_buf_init(&body, FEED_BODY_MAX);
    MDB_txn *txn;
    int rc = gws_read_begin(g->store, &txn);
    if (rc == HCP_OK) {
        rc = gw_feed_services(g->store, txn, &body);
        gws_read_end(g->store, txn);
    }
    gw_feed_page *p = NULL;
    if (rc == HCP_OK && (p = gw_feed_page_new(body.data, body.len, mtime)) == NULL)
        rc = HCP_ENOMEM;
    hcp_buf_free(&body);
    if (rc != HCP_OK)
        return rc;
    gw_feed_cache_put(g->feed_cache, key, version, 0, p);
    *out = p;
    return HCP_OK;
}

/* ---- the next page's link ---- */

/* Append text s percent-encoded (RFC 3986: all but the unreserved
 * characters and ',' of the GeoReport lists). */
static int put_pct(hcp_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = HCP_OK;
    for (; rc == HCP_OK && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~,", c) != NULL)
            rc = hcp_buf_append(b, s, 1);
        else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = hcp_buf_append(b, e, 3);
        }
    }
    return rc;
}

/* Append "key=" and value v percent-encoded, then "&". */
static int put_param(hcp_buf *out, const char *key, const char *v)
{
    int rc = put_s(out, key);
    if (rc == HCP_OK)
        rc = put_s(out, "=");
    if (rc == HCP_OK)
        rc = put_pct(out, v);
    return rc == HCP_OK ? put_s(out, "&") : rc;
}

/* Append "key=" and instant t (RFC 3339), then "&". */
static int put_time(hcp_buf *out, const char *key, hcp_time t)
{
    char ts[HCP_TIME_STRLEN];
    int rc = hcp_time_format(t, ts, sizeof(ts));
    return rc == HCP_OK ? put_param(out, key, ts) : rc;
}

/* Append "key=" and the n items of list (rows of width bytes) joined by
 * commas, then "&" (nothing when n is 0). */
static int put_list(hcp_buf *out, const char *key, const char *list, size_t width, size_t n)
{
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < n; i++) {
        rc = put_s(out, i == 0 ? key : ",");
        if (rc == HCP_OK && i == 0)
            rc = put_s(out, "=");
        if (rc == HCP_OK)
            rc = put_pct(out, list + i * width);
    }
    return rc == HCP_OK && n > 0 ? put_s(out, "&") : rc;
}

/* The Link header's value of the page after q's, whose cursor is next,
 * into out (NUL-terminated): q's filters and page_size as the query
 * parser reads them back (dates as the RFC 3339 instants they stand
 * for), then cursor (RFC 8288, relative to the gateway). */
static int next_link(const gw_feed_q *q, const char *next, hcp_buf *out)
{
    static const char *const status[] = {"", "open", "closed"};
    int rc = put_s(out, "</feed/requests.json?");
    if (rc == HCP_OK && q->county[0] != '\0')
        rc = put_param(out, "county", q->county);
    if (rc == HCP_OK && q->status > GW_FEED_Q_ANY && q->status <= GW_FEED_Q_CLOSED)
        rc = put_param(out, "status", status[q->status]);
    if (rc == HCP_OK && q->start != 0)
        rc = put_time(out, "start_date", q->start);
    if (rc == HCP_OK && q->end != 0)
        rc = put_time(out, "end_date", q->end);
    if (rc == HCP_OK && q->has_after)
        rc = put_time(out, "updated_after", q->after);
    if (rc == HCP_OK)
        rc = put_list(out, "service_request_id", q->ids[0], sizeof(q->ids[0]), q->nids);
    if (rc == HCP_OK)
        rc = put_list(out, "service_code", q->codes[0], sizeof(q->codes[0]), q->ncodes);
    char tail[GW_FEED_NEXT_MAX + 64];
    snprintf(tail, sizeof(tail), "page_size=%u&cursor=%s>; rel=\"next\"", q->size, next);
    return rc == HCP_OK ? hcp_buf_append(out, tail, strlen(tail) + 1) : rc;
}

/* ---- pages ---- */

/* q's page, from the cache or rendered now; *out has a reference. */
static int page_get(gw *g, const gw_feed_q *q, gw_feed_page **out)
{
    hcp_time now = (hcp_time)time(NULL), mtime;
    /* the version before the transaction: a commit is visible before its
     * version is, so a page is never kept under a newer version than its data */
    uint64_t version = gw_feed_cache_version(g->feed_cache, &mtime);
    if ((*out = gw_feed_cache_get(g->feed_cache, q->key, version, now)) != NULL)
        return HCP_OK;
    feed_stat st = {.now = now};
    hcp_buf body;
    hcp_buf_init(&body, FEED_BODY_MAX);
    uint8_t etag[32];
    /* one allocation for a page of entries of about a kilobyte, which the
     * page then takes without a copy */
    int rc = hcp_buf_reserve(&body, 64 + (size_t)q->size * 1024);
    if (rc == HCP_OK)
        rc = render(g->store, q, g->feed_marks, mtime, &st, &body, etag);
    gw_feed_page *p = NULL;
    if (rc == HCP_OK &&
        (p = gw_feed_page_take(&body, etag, st.flipped > mtime ? st.flipped : mtime)) == NULL)
        rc = HCP_ENOMEM;
    /* a full page links to the entries after its last (docs/feed.md), the
     * link made once here, not per request */
    if (rc == HCP_OK && !q->atom && st.shown == q->size &&
        gw_feed_cursor_encode(st.last_at, st.last_id, p->next) == HCP_OK) {
        hcp_buf_reset(&body);
        if (next_link(q, p->next, &body) == HCP_OK && (p->link = strdup((char *)body.data)) == NULL)
            rc = HCP_ENOMEM;
    } /* else no link (an id too long for a cursor); the page still stands */
    if (rc != HCP_OK)
        gw_feed_page_unref(p);
    hcp_buf_free(&body);
    if (rc != HCP_OK)
        return rc;
    gw_feed_cache_put(g->feed_cache, q->key, version, st.expires, p);
    *out = p;
    return HCP_OK;
}

int gw_feed_start(gw *g)
{
    int rc = gw_feed_cache_new(&g->feed_cache, (hcp_time)time(NULL));
    if (rc == HCP_OK && (rc = gw_feed_marks_new(&g->feed_marks)) != HCP_OK) {
        gw_feed_cache_free(g->feed_cache);
        g->feed_cache = NULL;
    }
    if (rc == HCP_OK)
        gws_feed_listen(g->store, gw_feed_cache_changed, g->feed_cache);
    return rc;
}

void gw_feed_stop(gw *g)
{
    if (g->feed_cache == NULL)
        return;
    gws_feed_listen(g->store, NULL, NULL);
    gw_feed_cache_free(g->feed_cache);
    g->feed_cache = NULL;
    gw_feed_marks_free(g->feed_marks);
    g->feed_marks = NULL;
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

/* Whether the client's copy (ETag etag, of page b) is current (RFC 9110
 * 13.2.2: If-None-Match decides when present; If-Modified-Since only
 * without it). A page changed within the current second is never "not
 * modified" by date. */
static bool not_modified(hcpd_req *r, const gw_feed_page *b, const char *etag)
{
    const char *inm = hcpd_req_header(r, "If-None-Match");
    if (inm != NULL)
        return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
    const char *ims = hcpd_req_header(r, "If-Modified-Since");
    hcp_time since;
    return ims != NULL && http_date_parse(ims, &since) && b->lastmod <= since &&
           b->lastmod < (hcp_time)time(NULL);
}

/* ---- the routes ---- */

bool gw_feed_is_route(const char *path)
{
    return path != NULL &&
           (strcmp(path, "/feed/requests.json") == 0 || strcmp(path, "/feed/atom.xml") == 0 ||
            strcmp(path, "/feed/services.json") == 0);
}

/* Whether r's client takes gzip (its Accept-Encoding). */
static bool wants_gzip(hcpd_req *r)
{
    return hcpd_accepts_gzip(hcpd_req_header(r, "Accept-Encoding"));
}

/* The reply's hold on its page: dropped when the bytes are written. */
static void page_done(void *arg)
{
    gw_feed_page_unref(arg);
}

/* Answer r with page b (200, or 304 when the client's copy is current),
 * gzipped when z is b's gzip form (the client takes it), and hand the
 * caller's reference to the reply, which lends b's bytes (no copy). A
 * full JSON page carries the link to the next one. */
static void feed_send(hcpd_req *r, const gw_feed_q *q, gw_feed_page *b, const gw_feed_gz *z)
{
    char date[40];
    http_date(b->lastmod, date);
    const char *etag = z != NULL ? z->etag : b->etag;
    hcpd_hdr h[7] = {{"ETag", etag},
                     {"Last-Modified", date},
                     {"Cache-Control", "no-cache"},
                     {"Access-Control-Allow-Origin", "*"},
                     {"Vary", "Accept-Encoding"}}; /* gzipped for a client that takes it */
    size_t nh = 5;
    if (!q->atom && b->link != NULL)
        h[nh++] = (hcpd_hdr){"Link", b->link};
    if (z != NULL)
        h[nh++] = (hcpd_hdr){"Content-Encoding", "gzip"};
    bool same = not_modified(r, b, etag);
    const void *data = z != NULL ? (const void *)z->data : (const void *)b->data;
    size_t len = same ? 0 : z != NULL ? z->len : b->len;
    hcpd_req_reply_lent(r, same ? 304 : 200, q->atom ? FEED_ATOM : FEED_JSON, data, len, h, nh,
                        page_done, b);
}

/* A page to render off the server thread: the query, copied. */
typedef struct feed_job {
    gw *g;
    bool services; /* GET /feed/services.json: no query */
    bool gz;       /* the client takes gzip */
    gw_feed_q q;
} feed_job;

/* Render (or find, if another request rendered it meanwhile) and answer
 * the job's page, or the service list when the job has no query, its gzip
 * form made (and kept with the page) when the client takes gzip; on a
 * worker thread, or inline when offloading was refused. Frees the job. */
static void feed_work(void *arg, hcpd_req *r)
{
    feed_job *j = arg;
    gw_feed_page *b = NULL;
    int rc = j->services ? services_get(j->g, &b) : page_get(j->g, &j->q, &b);
    if (rc != HCP_OK) {
        gw_log("warn", "feed.render_failed", "err=\"%s\"", hcp_strerror(rc));
        hcpd_req_reply_error(r, rc == HCP_ENOMEM ? 503 : 500, "storage_error", hcp_strerror(rc));
    } else /* gzip failing (memory) leaves the plain answer */
        feed_send(r, &j->q, b, j->gz ? gw_feed_page_gzip(b) : NULL);
    free(j);
}

/* A cached page is answered here, on the server thread (a look-up; the
 * bytes are lent to the reply); a miss renders from LMDB (a filtered
 * page=N reads the entries before the page from the nearest mark, every
 * one the first time), and a kept page whose gzip
 * form is not made yet is compressed, both on the server's worker pool
 * instead of holding every other connection (docs/http.md "Slow
 * handlers"). */
void gw_feed_handle(gw *g, hcpd_req *r)
{
    bool atom = strcmp(hcpd_req_path(r), "/feed/atom.xml") == 0;
    bool services = strcmp(hcpd_req_path(r), "/feed/services.json") == 0;
    gw_feed_q q;
    memset(&q, 0, sizeof(q));
    if (services)
        snprintf(q.key, sizeof(q.key), "services"); /* the service list takes no query */
    else if (!parse_query(r, atom, &q))
        return;
    bool gz = wants_gzip(r);
    /* the cheap look-up, done here on the server thread */
    gw_feed_page *b = gw_feed_cache_get(
        g->feed_cache, q.key, gw_feed_cache_version(g->feed_cache, NULL), (hcp_time)time(NULL));
    const gw_feed_gz *z = gz ? gw_feed_page_gz_kept(b) : NULL;
    if (b != NULL && (!gz || z != NULL)) {
        feed_send(r, &q, b, z);
        return;
    }
    gw_feed_page_unref(b); /* kept, but not its gzip form yet: made by a worker */
    feed_job *j = malloc(sizeof(*j));
    if (j == NULL) {
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    j->g = g;
    j->services = services;
    j->gz = gz;
    j->q = q;
    if (hcpd_req_offload(r, feed_work, j) != HCP_OK)
        feed_work(j, r); /* not on the server thread: render here */
}
