/*
 * spot.c — spot checks at the gateway (spot.h, docs/spotchecks.md): the
 * draw over the transparency log's leaves, its storage, the directives it
 * sends, the findings, and the routes.
 */
#include "spot.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be.h"
#include "chain.h"
#include "division.h"
#include "json.h"
#include "note.h"
#include "plog.h"
#include "redact.h"
#include "sample.h"
#include "seal.h"
#include "tlog.h"

#define MIN_PER_COUNTY_MAX 1000000
#define FIND_KEY_MAX       (8 + HCP_CASE_ID_MAX)
#define ID_PATH_MAX        24

/* Set while this thread appends the directives of a draw or a finding:
 * the hook below lets only those through. */
static _Thread_local bool spot_appending;

/* The province-log hook of the spot-check types: refuses an entry that
 * did not come from a draw or a finding of this module. */
static int spot_hook(void *arg, gw_store *s, MDB_txn *txn, uint64_t seq, const char *type,
                     const void *body, size_t len)
{
    (void)arg;
    (void)s;
    (void)txn;
    (void)seq;
    (void)type;
    (void)body;
    (void)len;
    return spot_appending ? HCP_OK : HCP_EINVAL;
}

int gw_spot_hooks(void)
{
    int rc = gw_plog_hook("spotcheck", spot_hook, NULL);
    return rc == HCP_OK ? gw_plog_hook("spotcheck_result", spot_hook, NULL) : rc;
}

/* ---- storage ---- */

/* A store opened without the spot-check dbs (publish's read-only open)
 * opens them in txn; *none when the store is older than spot checks. */
static int dbs_ready(gw_store *s, MDB_txn *txn, bool *none)
{
    *none = false;
    if (s->sc_draw != 0)
        return HCP_OK;
    int mrc = mdb_dbi_open(txn, "sc_draw", 0, &s->sc_draw);
    if (mrc == 0)
        mrc = mdb_dbi_open(txn, "sc_find", 0, &s->sc_find);
    if (mrc != 0)
        s->sc_draw = s->sc_find = 0;
    if (mrc == MDB_NOTFOUND)
        *none = true;
    return mrc == 0 || mrc == MDB_NOTFOUND ? HCP_OK : gws_err(mrc);
}

static size_t find_key(uint8_t k[FIND_KEY_MAX], uint64_t id, const char *cid)
{
    size_t n = strlen(cid);
    hcp_be64_put(k, id);
    memcpy(k + 8, cid, n);
    return 8 + n;
}

/* The stored draw id in txn as a new JSON object into *out. */
static int draw_get(gw_store *s, MDB_txn *txn, uint64_t id, json_t **out)
{
    uint8_t k[8];
    hcp_be64_put(k, id);
    MDB_val key = {8, k}, v;
    int rc = gws_err(mdb_get(txn, s->sc_draw, &key, &v));
    if (rc != HCP_OK)
        return rc;
    *out = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    return *out != NULL ? HCP_OK : HCP_EFORMAT;
}

/* Take a stored finding apart: its JSON (new reference) and the sealed note. */
static json_t *find_parse(const MDB_val *v, const uint8_t **sealed, size_t *slen)
{
    if (v->mv_size < 4)
        return NULL;
    const uint8_t *p = v->mv_data;
    uint32_t n = hcp_be32_get(p);
    if ((size_t)n > v->mv_size - 4)
        return NULL;
    if (sealed != NULL) {
        *sealed = p + 4 + n;
        *slen = v->mv_size - 4 - n;
    }
    return json_loadb((const char *)p + 4, n, 0, NULL);
}

/* Every finding of draw id, in case-id order: a JSON array (new). */
static json_t *findings_of(gw_store *s, MDB_txn *txn, uint64_t id, int *rc)
{
    json_t *arr = json_array();
    MDB_cursor *cur = NULL;
    *rc = arr != NULL ? gws_err(mdb_cursor_open(txn, s->sc_find, &cur)) : HCP_ENOMEM;
    if (*rc != HCP_OK) {
        json_decref(arr);
        return NULL;
    }
    uint8_t k[8];
    hcp_be64_put(k, id);
    MDB_val key = {8, k}, v;
    int mrc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
    while (mrc == 0 && key.mv_size > 8 && memcmp(key.mv_data, k, 8) == 0) {
        json_t *f = find_parse(&v, NULL, NULL);
        if (f == NULL || json_array_append_new(arr, f) != 0) {
            *rc = f == NULL ? HCP_EFORMAT : HCP_ENOMEM;
            break;
        }
        mrc = mdb_cursor_get(cur, &key, &v, MDB_NEXT);
    }
    if (*rc == HCP_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        *rc = gws_err(mrc);
    mdb_cursor_close(cur);
    if (*rc != HCP_OK) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* Run fn in a write transaction of this thread (the pattern of
 * plog_api.c: the resize lock shared, LMDB's writer lock orders it). */
static int write_txn(gw *g, int (*fn)(void *arg, MDB_txn *txn), void *arg)
{
    if (pthread_rwlock_rdlock(&g->store->db.resize) != 0) /* EAGAIN: too many readers */
        return HCP_EBUSY;
    MDB_txn *txn;
    int rc = gws_err(mdb_txn_begin(g->store->db.env, NULL, 0, &txn));
    if (rc == HCP_OK) {
        rc = fn(arg, txn);
        if (rc == HCP_OK)
            rc = gws_err(mdb_txn_commit(txn));
        else
            mdb_txn_abort(txn);
    }
    (void)pthread_rwlock_unlock(&g->store->db.resize); /* held by this thread */
    return rc;
}

/* ---- results ---- */

typedef struct tally {
    long population, sample, checked, reached, rectified, satisfied, failed;
} tally;

/* Count the true members of a finding into t. */
static void tally_add(tally *t, const json_t *f)
{
    bool a = json_is_true(json_object_get(f, "reached"));
    bool b = json_is_true(json_object_get(f, "rectified"));
    bool c = json_is_true(json_object_get(f, "satisfied"));
    t->checked++;
    t->reached += a;
    t->rectified += b;
    t->satisfied += c;
    t->failed += !(a && b && c);
}

/* One county's row (new reference). */
static json_t *tally_json(const char *county, const tally *t)
{
    const hcp_division *d = hcp_division_find(county);
    return json_pack("{ss,so,sI,sI,sI,sI,sI,sI,sI}", "county", county, "county_name",
                     d != NULL ? json_string(d->name) : json_null(), "population",
                     (json_int_t)t->population, "sample", (json_int_t)t->sample, "checked",
                     (json_int_t)t->checked, "reached", (json_int_t)t->reached, "rectified",
                     (json_int_t)t->rectified, "satisfied", (json_int_t)t->satisfied, "failed",
                     (json_int_t)t->failed);
}

/* Per-county rows of a draw and its findings (both borrowed). */
static json_t *results_of(const json_t *draw, const json_t *finds)
{
    json_t *rows = json_array();
    json_t *pop = json_object_get(draw, "population");
    json_t *sample = json_object_get(draw, "sample");
    const char *county;
    json_t *n;
    json_object_foreach(pop, county, n)
    {
        tally t = {0};
        t.population = (long)json_integer_value(n);
        t.sample = (long)json_array_size(json_object_get(sample, county));
        size_t i;
        json_t *f;
        json_array_foreach(finds, i, f)
        {
            const char *fc = json_string_value(json_object_get(f, "county"));
            if (fc != NULL && strcmp(fc, county) == 0)
                tally_add(&t, f);
        }
        if (json_array_append_new(rows, tally_json(county, &t)) != 0) {
            json_decref(rows);
            return NULL;
        }
    }
    return rows;
}

json_t *gw_spot_results_json(gw_store *s, MDB_txn *txn, uint64_t id, int *rc)
{
    json_t *draw = NULL;
    *rc = draw_get(s, txn, id, &draw);
    if (*rc != HCP_OK)
        return NULL;
    json_t *finds = findings_of(s, txn, id, rc);
    json_t *rows = finds != NULL ? results_of(draw, finds) : NULL;
    if (rows == NULL && *rc == HCP_OK)
        *rc = HCP_ENOMEM;
    json_decref(finds);
    json_decref(draw);
    return rows;
}

/* ---- the figures (stats.c's summary and public figures) ---- */

static const char *const tally_keys[] = {"population", "sample",    "checked", "reached",
                                         "rectified",  "satisfied", "failed"};
#define TALLY_N (sizeof(tally_keys) / sizeof(tally_keys[0]))

/* Add row's counts (a row of results_of) to sum. */
static void sum_add(json_int_t sum[TALLY_N], const json_t *row)
{
    for (size_t i = 0; i < TALLY_N; i++)
        sum[i] += json_integer_value(json_object_get(row, tally_keys[i]));
}

/* The counts as a JSON object (new reference or NULL). */
static json_t *sum_json(const json_int_t sum[TALLY_N])
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < TALLY_N; i++)
        if (json_object_set_new(o, tally_keys[i], json_integer(sum[i])) != 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* Whether the month "YYYY-MM" of period meets the days from..to (-1: open). */
static bool period_meets(const char *period, hcp_day from, hcp_day to)
{
    int y = 0, m = 0;
    hcp_day first, next;
    if (period == NULL || sscanf(period, "%4d-%2d", &y, &m) != 2 ||
        hcp_day_from_ymd(y, m, 1, &first) != HCP_OK ||
        hcp_day_from_ymd(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1, &next) != HCP_OK)
        return false;
    return (to < 0 || first <= to) && (from < 0 || next - 1 >= from);
}

/* Whether the county code c is in the scope (county, prefecture; "" any). */
static bool in_scope(const char *c, const char *county, const char *prefecture)
{
    if (c == NULL)
        return false;
    if (county[0] != '\0')
        return strcmp(c, county) == 0;
    if (prefecture[0] == '\0')
        return true;
    const hcp_division *d = hcp_division_find(c);
    return d != NULL && strcmp(d->prefecture, prefecture) == 0;
}

/* One draw's entry of the figures: its rows in scope, their total; each
 * row's counts added to the per-county sums in bycounty (code -> array of
 * counts as a JSON object of integers). New reference or NULL (*rc). */
static json_t *figures_draw(gw_store *s, MDB_txn *txn, uint64_t id, const json_t *draw,
                            const char *county, const char *prefecture, json_t *bycounty, int *rc)
{
    json_t *rows = gw_spot_results_json(s, txn, id, rc), *mine = json_array();
    json_int_t tot[TALLY_N] = {0};
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *c = json_string_value(json_object_get(row, "county"));
        if (mine == NULL || !in_scope(c, county, prefecture))
            continue;
        sum_add(tot, row);
        json_t *acc = json_object_get(bycounty, c);
        json_int_t cs[TALLY_N] = {0};
        for (size_t k = 0; k < TALLY_N; k++)
            cs[k] = json_integer_value(json_object_get(acc, tally_keys[k]));
        sum_add(cs, row);
        if (json_object_set_new(bycounty, c, sum_json(cs)) != 0 ||
            json_array_append(mine, row) != 0) {
            json_decref(mine);
            mine = NULL;
        }
    }
    json_decref(rows);
    if (*rc != HCP_OK || mine == NULL) {
        json_decref(mine);
        *rc = *rc != HCP_OK ? *rc : HCP_ENOMEM;
        return NULL;
    }
    json_t *out = json_pack(
        "{sI,sO,sO,sO,sO,so*,so}", "id", (json_int_t)id, "period", json_object_get(draw, "period"),
        "drawn_datetime", json_object_get(draw, "drawn_datetime"), "rate",
        json_object_get(draw, "rate"), "min_per_county", json_object_get(draw, "min_per_county"),
        "total", sum_json(tot), "counties", mine);
    if (out == NULL)
        *rc = HCP_ENOMEM;
    return out;
}

int gw_spot_stats_merge(gw_store *s, MDB_txn *txn, const char *county, const char *prefecture,
                        hcp_day from, hcp_day to, json_t *body)
{
    if (s == NULL || txn == NULL || body == NULL)
        return HCP_EINVAL;
    county = county != NULL ? county : "";
    prefecture = prefecture != NULL ? prefecture : "";
    bool none = false;
    int rc = dbs_ready(s, txn, &none);
    json_t *draws = json_array(), *bycounty = json_object();
    json_int_t tot[TALLY_N] = {0};
    MDB_cursor *cur = NULL;
    if (rc == HCP_OK && (draws == NULL || bycounty == NULL))
        rc = HCP_ENOMEM;
    if (rc == HCP_OK && !none)
        rc = gws_err(mdb_cursor_open(txn, s->sc_draw, &cur));
    MDB_val k, v;
    int mrc = cur != NULL ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : MDB_NOTFOUND;
    for (; rc == HCP_OK && mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        json_t *draw = k.mv_size == 8 ? json_loadb(v.mv_data, v.mv_size, 0, NULL) : NULL;
        if (draw == NULL) {
            rc = HCP_EFORMAT;
            break;
        }
        if (period_meets(json_string_value(json_object_get(draw, "period")), from, to)) {
            json_t *d = figures_draw(s, txn, hcp_be64_get(k.mv_data), draw, county, prefecture,
                                     bycounty, &rc);
            if (d != NULL) {
                sum_add(tot, json_object_get(d, "total"));
                if (json_array_append_new(draws, d) != 0)
                    rc = HCP_ENOMEM;
            }
        }
        json_decref(draw);
    }
    if (rc == HCP_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    if (cur != NULL)
        mdb_cursor_close(cur);
    json_t *rows = json_object_get(body, "counties");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *c = json_string_value(json_object_get(row, "county"));
        json_t *acc = c != NULL ? json_object_get(bycounty, c) : NULL;
        json_int_t zero[TALLY_N] = {0};
        if (rc == HCP_OK &&
            json_object_set_new(row, "spotchecks",
                                acc != NULL ? json_incref(acc) : sum_json(zero)) != 0)
            rc = HCP_ENOMEM;
    }
    if (rc == HCP_OK &&
        json_object_set_new(body, "spotchecks",
                            json_pack("{sO,so*}", "draws", draws, "total", sum_json(tot))) != 0)
        rc = HCP_ENOMEM;
    json_decref(draws);
    json_decref(bycounty);
    return rc;
}

/* ---- the draw ---- */

typedef struct draw_req {
    gw *g;
    json_t *draw; /* the stored JSON, built before the write */
    hcp_sample_item *items;
    size_t n;
    uint64_t id;
    uint64_t first_seq, last_seq;
} draw_req;

/* The body length of a signed note (up to and with the line before the
 * empty line). 0 when it is not one. */
static size_t note_body_len(const char *note, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (note[i] == '\n' && note[i + 1] == '\n')
            return i + 1;
    return 0;
}

/* A log of at least this many leaves is parsed by two threads. */
#define SPLIT_MIN 64

/* Call fn on every leaf from .. to-1 of the log in txn, in order, by one
 * cursor walk over its 'e' keys (tlog.h: 'e' | be64 i, in index order),
 * not a lookup per leaf; a missing leaf is HCP_EFORMAT; fn's error stops. */
static int leaves_walk(gw_store *s, MDB_txn *txn, uint64_t from, uint64_t to,
                       int (*fn)(void *arg, const MDB_val *v), void *arg)
{
    if (from >= to)
        return HCP_OK;
    MDB_cursor *cur = NULL;
    int rc = gws_err(mdb_cursor_open(txn, s->tlog, &cur));
    if (rc != HCP_OK)
        return rc;
    uint8_t k[9];
    k[0] = 'e';
    hcp_be64_put(k + 1, from);
    MDB_val key = {sizeof(k), k}, v;
    int mrc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
    for (uint64_t i = from; rc == HCP_OK && i < to; i++) {
        if (mrc != 0) {
            rc = mrc == MDB_NOTFOUND ? HCP_EFORMAT : gws_err(mrc);
            break;
        }
        const uint8_t *kd = key.mv_data;
        if (key.mv_size != 9 || kd[0] != 'e' || hcp_be64_get(kd + 1) != i) {
            rc = HCP_EFORMAT;
            break;
        }
        rc = fn(arg, &v);
        if (rc == HCP_OK && i + 1 < to)
            mrc = mdb_cursor_get(cur, &key, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc;
}

/* The leaf rule straight into the population (the first half, in order). */
static int take_leaf(void *arg, const MDB_val *v)
{
    return hcp_sample_pop_leaf(arg, v->mv_data, v->mv_size);
}

/* The second half of the log, parsed by a thread of its own: its closing
 * leaves, in order, for the population to take after the first half. */
typedef struct half {
    gw_store *s;
    uint64_t from, to;
    int year, month;
    hcp_sample_leaf *out;
    size_t n, cap;
    int rc;
} half;

/* Keep one leaf of the second half when it is a closing one. */
static int half_leaf(void *arg, const MDB_val *v)
{
    half *h = arg;
    hcp_sample_leaf l;
    int rc = hcp_sample_leaf_read(h->year, h->month, v->mv_data, v->mv_size, &l);
    if (rc != HCP_OK || !l.closed)
        return rc;
    if (h->n == h->cap) {
        size_t cap = h->cap == 0 ? 1024 : h->cap * 2;
        hcp_sample_leaf *o = realloc(h->out, cap * sizeof(*o));
        if (o == NULL)
            return HCP_ENOMEM;
        h->out = o;
        h->cap = cap;
    }
    h->out[h->n++] = l;
    return HCP_OK;
}

/* The thread of the second half: its own read transaction. */
static void *half_run(void *arg)
{
    half *h = arg;
    MDB_txn *txn;
    h->rc = gws_read_begin(h->s, &txn);
    if (h->rc == HCP_OK) {
        h->rc = leaves_walk(h->s, txn, h->from, h->to, half_leaf, h);
        gws_read_end(h->s, txn);
    }
    return NULL;
}

/*
 * The population of period: every leaf 0 .. size-1 of the log, in order.
 * Parsing the leaves (JSON) is nearly all of a draw's time, so a log of
 * SPLIT_MIN leaves or more is read by two threads: this one takes the
 * first half into the population while a second parses the second half
 * (its own read transaction, the same committed log); then the second
 * half's closing leaves are taken in order — the same population as one
 * pass, as the rule depends on log order only through the take. When the
 * thread cannot start, one pass.
 */
static int population_read(gw_store *s, uint64_t size, hcp_sample_pop *pop)
{
    half h = {.s = s, .from = size / 2, .to = size, .year = pop->year, .month = pop->month};
    pthread_t th;
    bool split = size >= SPLIT_MIN && pthread_create(&th, NULL, half_run, &h) == 0;
    uint64_t first = split ? h.from : size;
    MDB_txn *txn;
    int rc = gws_read_begin(s, &txn);
    if (rc == HCP_OK) {
        rc = leaves_walk(s, txn, 0, first, take_leaf, pop);
        gws_read_end(s, txn);
    }
    if (split) {
        if (pthread_join(th, NULL) != 0 && rc == HCP_OK)
            rc = HCP_EIO; /* cannot happen: th is joinable and not this thread */
        if (rc == HCP_OK)
            rc = h.rc;
        for (size_t i = 0; rc == HCP_OK && i < h.n; i++)
            rc = hcp_sample_pop_take(pop, &h.out[i]);
    }
    free(h.out);
    return rc;
}

/* The next draw id: one past the last stored. */
static int next_id(gw_store *s, MDB_txn *txn, uint64_t *id)
{
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->sc_draw, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (mrc == MDB_NOTFOUND) {
        *id = 1;
        return HCP_OK;
    }
    if (mrc != 0)
        return gws_err(mrc);
    *id = k.mv_size == 8 ? hcp_be64_get(k.mv_data) + 1 : 1;
    return HCP_OK;
}

/* Append one directive of type to county with the JSON body (borrowed). */
static int send_directive(gw_store *s, MDB_txn *txn, const char *county, const char *type,
                          const json_t *body, uint64_t *seq)
{
    hcp_buf mp;
    hcp_buf_init(&mp, GW_PLOG_BODY_MAX);
    int rc = gw_plog_body_from_json(body, NULL, &mp);
    spot_appending = true;
    if (rc == HCP_OK)
        rc = gw_plog_append(s, txn, county, type, mp.data, mp.len, seq);
    spot_appending = false;
    hcp_buf_free(&mp);
    return rc;
}

/* The draw's write: its id, a `spotcheck` directive per drawn case, the draw. */
static int draw_write(void *arg, MDB_txn *txn)
{
    draw_req *d = arg;
    gw_store *s = d->g->store;
    int rc = next_id(s, txn, &d->id);
    d->first_seq = d->last_seq = 0;
    const char *period = json_string_value(json_object_get(d->draw, "period"));
    for (size_t i = 0; rc == HCP_OK && i < d->n; i++) {
        if (!d->items[i].drawn)
            continue;
        json_t *b = json_pack("{sI,ss,ss}", "spotcheck", (json_int_t)d->id, "case", d->items[i].id,
                              "period", period);
        uint64_t seq = 0;
        rc = b != NULL ? send_directive(s, txn, d->items[i].county, "spotcheck", b, &seq)
                       : HCP_ENOMEM;
        json_decref(b);
        if (d->first_seq == 0)
            d->first_seq = seq;
        d->last_seq = seq;
    }
    if (rc != HCP_OK)
        return rc;
    if (json_object_set_new(d->draw, "id", json_integer((json_int_t)d->id)) != 0 ||
        json_object_set_new(d->draw, "directives",
                            json_pack("{sI,sI}", "first", (json_int_t)d->first_seq, "last",
                                      (json_int_t)d->last_seq)) != 0)
        return HCP_ENOMEM;
    char *text = json_dumps(d->draw, JSON_COMPACT);
    if (text == NULL)
        return HCP_ENOMEM;
    uint8_t k[8];
    hcp_be64_put(k, d->id);
    MDB_val key = {8, k}, v = {strlen(text), text};
    rc = gws_err(mdb_put(txn, s->sc_draw, &key, &v, MDB_NOOVERWRITE));
    free(text);
    return rc;
}

/* Reply the error of a write that failed with rc. */
static void reply_store_error(hcpd_req *r, int rc)
{
    if (rc == HCP_EFULL || rc == HCP_ENOSPC)
        hcpd_req_reply_error(r, 503, "storage_full", "the store cannot grow now");
    else if (rc == HCP_EBUSY)
        hcpd_req_reply_error(r, 503, "overloaded", "try again");
    else
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
}

/* Build the draw's JSON from the sorted, ranked items (public fields). */
static json_t *draw_json(const char *period, double rate, uint32_t ppm, uint32_t minpc,
                         const char *beacon, const hcp_buf *note, uint64_t size,
                         const uint8_t seed[32], const hcp_sample_item *it, size_t n,
                         const char *by)
{
    char seedhex[65], at[HCP_TIME_STRLEN];
    hcp_hash_hex(seed, seedhex);
    if (hcp_time_format((hcp_time)time(NULL), at, sizeof(at)) != HCP_OK)
        return NULL;
    json_t *pop = json_object(), *sample = json_object();
    for (size_t i = 0; pop != NULL && sample != NULL && i < n;) {
        size_t j = i;
        json_t *ids = json_array();
        while (ids != NULL && j < n && strcmp(it[j].county, it[i].county) == 0) {
            if (it[j].drawn && json_array_append_new(ids, json_string(it[j].id)) != 0)
                break;
            j++;
        }
        if (ids == NULL ||
            json_object_set_new(pop, it[i].county, json_integer((json_int_t)(j - i))) != 0 ||
            json_object_set_new(sample, it[i].county, ids) != 0) {
            json_decref(pop);
            json_decref(sample);
            return NULL;
        }
        i = j;
    }
    return json_pack("{ss,ss,sf,sI,sI,ss,ss,sI,ss,so*,so*,ss}", "period", period, "drawn_datetime",
                     at, "rate", rate, "rate_ppm", (json_int_t)ppm, "min_per_county",
                     (json_int_t)minpc, "beacon", beacon, "checkpoint", (const char *)note->data,
                     "tree_size", (json_int_t)size, "seed", seedhex, "population", pop, "sample",
                     sample, "by", by);
}

/* The fields of a draw request, checked (the reply sent when not). */
typedef struct draw_args {
    const char *period, *beacon;
    double rate;
    uint32_t ppm, minpc;
} draw_args;

/* Check the body j of POST /v1/spotchecks into *a; pop initialised for
 * the period. False and the 422 sent when a field is not valid. */
static bool draw_args_get(hcpd_req *r, const json_t *j, draw_args *a, hcp_sample_pop *pop)
{
    a->period = json_string_value(json_object_get(j, "period"));
    a->beacon = json_string_value(json_object_get(j, "beacon"));
    json_t *jrate = json_object_get(j, "rate"), *jmin = json_object_get(j, "min_per_county");
    if (a->period == NULL || hcp_sample_pop_init(pop, a->period, strlen(a->period)) != HCP_OK) {
        hcpd_req_reply_error(r, 422, "invalid_field", "period: a month, YYYY-MM");
        return false;
    }
    if (!json_is_number(jrate) ||
        hcp_sample_rate_ppm(json_number_value(jrate), &a->ppm) != HCP_OK) {
        hcpd_req_reply_error(r, 422, "invalid_field",
                             "rate: a number from 0 to 1 with at most six decimals");
        return false;
    }
    a->rate = json_number_value(jrate);
    if (!json_is_integer(jmin) || json_integer_value(jmin) < 0 ||
        json_integer_value(jmin) > MIN_PER_COUNTY_MAX) {
        hcpd_req_reply_error(r, 422, "invalid_field", "min_per_county: an integer 0..1000000");
        return false;
    }
    a->minpc = (uint32_t)json_integer_value(jmin);
    if (a->beacon == NULL || a->beacon[0] == '\0' || strlen(a->beacon) > HCP_SAMPLE_BEACON_MAX) {
        hcpd_req_reply_error(r, 422, "invalid_field",
                             "beacon: the public value, 1 to 1024 bytes of text");
        return false;
    }
    return true;
}

/* The current checkpoint into note (NUL-terminated after its text): its
 * tree size and root. HCP_ENOTFOUND when none is signed yet. */
static int checkpoint_now(gw *g, hcp_buf *note, uint64_t *size, uint8_t root[32])
{
    int rc = gw_tlog_checkpoint(g, note);
    char origin[HCP_NOTE_NAME_MAX + 1];
    size_t blen = rc == HCP_OK ? note_body_len((const char *)note->data, note->len) : 0;
    if (rc == HCP_OK && blen == 0)
        rc = HCP_ENOTFOUND;
    if (rc == HCP_OK)
        rc = hcp_buf_append(note, "", 1); /* NUL for the JSON string */
    if (rc == HCP_OK)
        rc = hcp_checkpoint_parse((const char *)note->data, blen, origin, sizeof(origin), size,
                                  root);
    return rc;
}

/* POST /v1/spotchecks {period, rate, min_per_county, beacon} → 201 the draw. */
static void post_draw(gw *g, hcpd_req *r)
{
    const char *raw;
    size_t len;
    hcpd_req_body(r, &raw, &len);
    json_t *j = NULL;
    hcp_json_err e = {0};
    if (hcp_json_load(raw, len, &j, &e) != HCP_OK) {
        hcpd_req_reply_error(r, e.status, e.status == 413 ? "body_too_large" : "invalid_json",
                             e.detail);
        return;
    }
    hcp_sample_pop pop;
    memset(&pop, 0, sizeof(pop));
    hcp_buf note;
    hcp_buf_init(&note, HCP_NOTE_MAX);
    draw_req d = {.g = g};
    draw_args a;
    uint64_t size = 0;
    uint8_t root[32], seed[32];
    if (!draw_args_get(r, j, &a, &pop))
        goto out;
    /* the checkpoint fixes the population: the current signed one */
    int rc = checkpoint_now(g, &note, &size, root);
    if (rc != HCP_OK) {
        hcpd_req_reply_error(r, 503, "no_checkpoint", "the transparency log has no checkpoint yet");
        goto out;
    }
    rc = population_read(g->store, size, &pop);
    if (rc == HCP_OK)
        rc = hcp_sample_seed(root, a.beacon, strlen(a.beacon), seed);
    if (rc == HCP_OK)
        rc = hcp_sample_draw(seed, pop.items, pop.n, a.ppm, a.minpc);
    if (rc != HCP_OK) {
        gw_log("error", "spot.draw_failed", "reason=\"%s\"", hcp_strerror(rc));
        hcpd_req_reply_error(r, rc == HCP_EUTF8 ? 422 : 500,
                             rc == HCP_EUTF8 ? "invalid_field" : "draw_failed", hcp_strerror(rc));
        goto out;
    }
    d.items = pop.items;
    d.n = pop.n;
    d.draw = draw_json(a.period, a.rate, a.ppm, a.minpc, a.beacon, &note, size, seed, pop.items,
                       pop.n, hcpd_req_account(r));
    rc = d.draw != NULL ? write_txn(g, draw_write, &d) : HCP_ENOMEM;
    if (rc != HCP_OK) {
        reply_store_error(r, rc);
        goto out;
    }
    size_t drawn = 0;
    for (size_t i = 0; i < pop.n; i++)
        drawn += pop.items[i].drawn;
    gw_log("info", "spot.drawn",
           "id=%llu period=%s population=%zu sample=%zu tree_size=%llu account=%s",
           (unsigned long long)d.id, a.period, pop.n, drawn, (unsigned long long)size,
           hcpd_req_account(r));
    (void)json_object_del(d.draw, "by");
    hcpd_req_reply_json(r, 201, json_incref(d.draw));
out:
    json_decref(d.draw);
    hcp_sample_pop_free(&pop);
    hcp_buf_free(&note);
    json_decref(j);
}

/* ---- findings ---- */

typedef struct find_req {
    gw *g;
    uint64_t id;
    const char *cid;
    char county[HCP_COUNTY_LEN + 1];
    json_t *finding;  /* borrowed */
    const char *note; /* as written, or NULL */
    int status;       /* 404 / 409 refusals from inside the transaction */
} find_req;

/* Whether case cid is in the sample of draw (borrowed); its county into out. */
static bool drawn_in(const json_t *draw, const char *cid, char out[HCP_COUNTY_LEN + 1])
{
    const char *county;
    json_t *ids;
    json_object_foreach(json_object_get(draw, "sample"), county, ids)
    {
        size_t i;
        json_t *x;
        json_array_foreach(ids, i, x)
        {
            const char *s = json_string_value(x);
            if (s != NULL && strcmp(s, cid) == 0) {
                snprintf(out, HCP_COUNTY_LEN + 1, "%s", county);
                return true;
            }
        }
    }
    return false;
}

/* The finding's write: refuse a second one, store it, send the result down. */
static int find_write(void *arg, MDB_txn *txn)
{
    find_req *f = arg;
    gw_store *s = f->g->store;
    uint8_t k[FIND_KEY_MAX];
    MDB_val key = {find_key(k, f->id, f->cid), k}, v;
    int mrc = mdb_get(txn, s->sc_find, &key, &v);
    if (mrc == 0) {
        f->status = 409;
        return HCP_EEXIST;
    }
    if (mrc != MDB_NOTFOUND)
        return gws_err(mrc);
    json_t *b = json_pack("{sI,ss,sO,sO,sO,sO}", "spotcheck", (json_int_t)f->id, "case", f->cid,
                          "reached", json_object_get(f->finding, "reached"), "rectified",
                          json_object_get(f->finding, "rectified"), "satisfied",
                          json_object_get(f->finding, "satisfied"), "note",
                          json_object_get(f->finding, "note"));
    uint64_t seq = 0;
    int rc =
        b != NULL ? send_directive(s, txn, f->county, "spotcheck_result", b, &seq) : HCP_ENOMEM;
    json_decref(b);
    if (rc == HCP_OK &&
        json_object_set_new(f->finding, "directive", json_integer((json_int_t)seq)) != 0)
        rc = HCP_ENOMEM;
    char *text = rc == HCP_OK ? json_dumps(f->finding, JSON_COMPACT) : NULL;
    if (rc == HCP_OK && text == NULL)
        rc = HCP_ENOMEM;
    hcp_buf val;
    hcp_buf_init(&val, 4 + 2 * (size_t)HCP_TEXT_MAX + 4096 + HCP_SEAL_OVERHEAD);
    if (rc == HCP_OK) {
        uint8_t n[4];
        hcp_be32_put(n, (uint32_t)strlen(text));
        rc = hcp_buf_append(&val, n, 4);
        if (rc == HCP_OK)
            rc = hcp_buf_append(&val, text, strlen(text));
        if (rc == HCP_OK && f->note != NULL && s->sealer != NULL)
            rc = hcp_seal(s->sealer, key.mv_data, key.mv_size, f->note, strlen(f->note), &val);
    }
    if (rc == HCP_OK) {
        MDB_val data = {val.len, val.data};
        rc = gws_err(mdb_put(txn, s->sc_find, &key, &data, MDB_NOOVERWRITE));
    }
    hcp_buf_free(&val);
    free(text);
    return rc;
}

/* POST /v1/spotchecks/ID/results {case, reached, rectified, satisfied, note}. */
static void post_result(gw *g, hcpd_req *r, uint64_t id)
{
    const char *raw;
    size_t len;
    hcpd_req_body(r, &raw, &len);
    json_t *j = NULL, *draw = NULL, *finding = NULL;
    hcp_json_err e = {0};
    char *masked = NULL;
    if (hcp_json_load(raw, len, &j, &e) != HCP_OK) {
        hcpd_req_reply_error(r, e.status, e.status == 413 ? "body_too_large" : "invalid_json",
                             e.detail);
        return;
    }
    const char *cid = json_string_value(json_object_get(j, "case"));
    json_t *a = json_object_get(j, "reached"), *b = json_object_get(j, "rectified"),
           *c = json_object_get(j, "satisfied"), *jn = json_object_get(j, "note");
    const char *note = json_string_value(jn);
    find_req f = {.g = g, .id = id};
    if (cid == NULL || strlen(cid) > HCP_CASE_ID_MAX) {
        hcpd_req_reply_error(r, 422, "invalid_field", "case: a case id of the draw");
        goto out;
    }
    if (!json_is_boolean(a) || !json_is_boolean(b) || !json_is_boolean(c)) {
        hcpd_req_reply_error(r, 422, "invalid_field",
                             "reached, rectified, satisfied: true or false each");
        goto out;
    }
    if ((jn != NULL && !json_is_null(jn) && note == NULL) ||
        (note != NULL && strlen(note) > HCP_TEXT_MAX)) {
        hcpd_req_reply_error(r, 422, "invalid_field", "note: text of at most 16384 bytes");
        goto out;
    }
    MDB_txn *txn;
    int rc = gws_read_begin(g->store, &txn);
    if (rc == HCP_OK) {
        rc = draw_get(g->store, txn, id, &draw);
        gws_read_end(g->store, txn);
    }
    if (rc == HCP_ENOTFOUND || (rc == HCP_OK && !drawn_in(draw, cid, f.county))) {
        hcpd_req_reply_error(r, 404, rc == HCP_OK ? "not_drawn" : "not_found",
                             rc == HCP_OK ? "the case is not in this draw's sample"
                                          : "no such spot check");
        goto out;
    }
    if (rc != HCP_OK) {
        reply_store_error(r, rc);
        goto out;
    }
    masked = note != NULL ? hcp_redact_dup(note, NULL, 0) : NULL;
    char at[HCP_TIME_STRLEN];
    if ((note != NULL && masked == NULL) ||
        hcp_time_format((hcp_time)time(NULL), at, sizeof(at)) != HCP_OK) {
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        goto out;
    }
    finding = json_pack("{ss,ss,sO,sO,sO,so,ss,ss}", "case", cid, "county", f.county, "reached", a,
                        "rectified", b, "satisfied", c, "note",
                        masked != NULL ? json_string(masked) : json_null(), "recorded_datetime", at,
                        "by", hcpd_req_account(r));
    f.cid = cid;
    f.finding = finding;
    f.note = note;
    rc = finding != NULL ? write_txn(g, find_write, &f) : HCP_ENOMEM;
    if (rc == HCP_EEXIST && f.status == 409)
        hcpd_req_reply_error(r, 409, "already_recorded", "this case's finding is recorded");
    else if (rc != HCP_OK)
        reply_store_error(r, rc);
    else {
        bool failed = !(json_is_true(a) && json_is_true(b) && json_is_true(c));
        gw_log("info", "spot.finding", "id=%llu case=%s failed=%d account=%s",
               (unsigned long long)id, cid, failed, hcpd_req_account(r));
        hcpd_req_reply_json(r, 201, json_incref(finding));
    }
out:
    free(masked);
    json_decref(finding);
    json_decref(draw);
    json_decref(j);
}

/* ---- reads ---- */

/* The status of case id at the gateway now ("" when it does not hold it). */
static json_t *case_status(gw_store *s, MDB_txn *txn, const char *id)
{
    hcp_case c;
    int rc = gws_case_get(s, txn, id, false, &c);
    json_t *out = rc == HCP_OK && c.status > 0 && c.status < HCP_ST_COUNT_
                      ? json_string(hcp_status_names[c.status])
                      : json_null();
    if (rc == HCP_OK)
        hcp_case_clear(&c);
    return out;
}

/* A draw with its findings and results: the supervisor's (personal false:
 * the public's, without notes, accounts or statuses). New reference. */
static json_t *draw_full(gw_store *s, MDB_txn *txn, uint64_t id, bool supervisor, int *rc)
{
    json_t *draw = NULL;
    *rc = draw_get(s, txn, id, &draw);
    if (*rc != HCP_OK)
        return NULL;
    json_t *finds = findings_of(s, txn, id, rc);
    json_t *rows = finds != NULL ? results_of(draw, finds) : NULL;
    if (rows == NULL) {
        *rc = *rc != HCP_OK ? *rc : HCP_ENOMEM;
        json_decref(finds);
        json_decref(draw);
        return NULL;
    }
    size_t i;
    json_t *f;
    json_array_foreach(finds, i, f)
    {
        if (!supervisor) {
            (void)json_object_del(f, "note");
            (void)json_object_del(f, "by");
            (void)json_object_del(f, "directive");
        }
    }
    if (supervisor) {
        json_t *cases = json_array();
        const char *county;
        json_t *ids;
        json_object_foreach(json_object_get(draw, "sample"), county, ids)
        {
            json_t *x;
            size_t k;
            json_array_foreach(ids, k, x)(void) json_array_append_new(
                cases, json_pack("{sO,ss,so}", "case", x, "county", county, "status",
                                 case_status(s, txn, json_string_value(x))));
        }
        (void)json_object_set_new(draw, "cases", cases);
    } else {
        (void)json_object_del(draw, "by");
        (void)json_object_del(draw, "directives");
    }
    (void)json_object_set_new(draw, "findings", finds);
    (void)json_object_set_new(draw, "results", rows);
    return draw;
}

/* Every draw newest first (full when full, else a summary per draw). */
static json_t *draw_list(gw_store *s, MDB_txn *txn, bool full, bool supervisor, int *rc)
{
    json_t *arr = json_array();
    MDB_cursor *cur = NULL;
    *rc = arr != NULL ? gws_err(mdb_cursor_open(txn, s->sc_draw, &cur)) : HCP_ENOMEM;
    if (*rc != HCP_OK) {
        json_decref(arr);
        return NULL;
    }
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    while (*rc == HCP_OK && mrc == 0 && k.mv_size == 8) {
        uint64_t id = hcp_be64_get(k.mv_data);
        json_t *d = draw_full(s, txn, id, supervisor, rc);
        if (d != NULL && !full) {
            json_t *sum = json_pack(
                "{sI,sO,sO,sO,sO,sO}", "id", (json_int_t)id, "period", json_object_get(d, "period"),
                "drawn_datetime", json_object_get(d, "drawn_datetime"), "rate",
                json_object_get(d, "rate"), "min_per_county", json_object_get(d, "min_per_county"),
                "results", json_object_get(d, "results"));
            json_decref(d);
            d = sum;
        }
        if (d == NULL || json_array_append_new(arr, d) != 0)
            *rc = *rc != HCP_OK ? *rc : HCP_ENOMEM;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    if (*rc == HCP_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        *rc = gws_err(mrc);
    mdb_cursor_close(cur);
    if (*rc != HCP_OK) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* GET /v1/spotchecks and /v1/spotchecks/ID (supervisor). */
static void get_draws(gw *g, hcpd_req *r, uint64_t id)
{
    MDB_txn *txn;
    int rc = gws_read_begin(g->store, &txn);
    json_t *out = NULL;
    if (rc == HCP_OK) {
        if (id == 0) {
            json_t *arr = draw_list(g->store, txn, false, true, &rc);
            out = arr != NULL ? json_pack("{so}", "spotchecks", arr) : NULL;
        } else {
            out = draw_full(g->store, txn, id, true, &rc);
        }
        gws_read_end(g->store, txn);
    }
    if (rc == HCP_ENOTFOUND)
        hcpd_req_reply_error(r, 404, "not_found", "no such spot check");
    else if (out == NULL)
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc != HCP_OK ? rc : HCP_ENOMEM));
    else
        hcpd_req_reply_json(r, 200, out);
}

bool gw_spot_is_route(const char *path)
{
    return strcmp(path, "/v1/spotchecks") == 0 || strncmp(path, "/v1/spotchecks/", 15) == 0;
}

bool gw_spot_is_public(const char *path)
{
    return strcmp(path, "/feed/spotchecks.json") == 0;
}

/* "/v1/spotchecks/<id>[/results]" → id (0 when malformed), *results. */
static uint64_t path_id(const char *path, bool *results)
{
    const char *p = path + 15;
    uint64_t id = 0;
    size_t n = 0;
    while (p[n] >= '0' && p[n] <= '9' && n < 18)
        id = id * 10 + (uint64_t)(p[n++] - '0');
    if (n == 0 || p[0] == '0')
        return 0;
    *results = strcmp(p + n, "/results") == 0;
    return p[n] == '\0' || *results ? id : 0;
}

void gw_spot_route(void *arg, hcpd_req *r)
{
    gw *g = arg;
    const char *m = hcpd_req_method(r), *p = hcpd_req_path(r);
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor"))
        return;
    if (strcmp(p, "/v1/spotchecks") == 0) {
        if (post)
            post_draw(g, r);
        else if (get)
            get_draws(g, r, 0);
        else
            hcpd_req_reply_error(r, 405, "method_not_allowed", "GET or POST");
        return;
    }
    bool results = false;
    uint64_t id = path_id(p, &results);
    if (id == 0)
        hcpd_req_reply_error(r, 404, "not_found", "no such route");
    else if (results && post)
        post_result(g, r, id);
    else if (!results && get)
        get_draws(g, r, id);
    else
        hcpd_req_reply_error(r, 405, "method_not_allowed", "this route does not take that method");
}

int gw_spot_public_render(gw_store *s, MDB_txn *txn, hcp_buf *out)
{
    bool none = false;
    int rc = dbs_ready(s, txn, &none);
    if (rc != HCP_OK)
        return rc;
    json_t *arr = none ? json_array() : NULL;
    if (arr == NULL)
        arr = draw_list(s, txn, true, false, &rc);
    if (arr == NULL)
        return rc != HCP_OK ? rc : HCP_ENOMEM;
    /* the time of the latest draw or finding, not of this rendering: the
     * same state gives the same bytes (a published copy unchanged) */
    const char *latest = NULL;
    size_t i, k;
    json_t *d, *f;
    json_array_foreach(arr, i, d)
    {
        const char *t = json_string_value(json_object_get(d, "drawn_datetime"));
        if (t != NULL && (latest == NULL || strcmp(t, latest) > 0))
            latest = t;
        json_array_foreach(json_object_get(d, "findings"), k, f)
        {
            t = json_string_value(json_object_get(f, "recorded_datetime"));
            if (t != NULL && (latest == NULL || strcmp(t, latest) > 0))
                latest = t;
        }
    }
    json_t *j = json_pack("{so,so}", "updated_datetime",
                          latest != NULL ? json_string(latest) : json_null(), "spotchecks", arr);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    rc = text != NULL ? HCP_OK : HCP_ENOMEM;
    hcp_buf_reset(out);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, text, strlen(text));
    free(text);
    return rc;
}

void gw_spot_feed(void *arg, hcpd_req *r)
{
    gw *g = arg;
    MDB_txn *txn;
    hcp_buf b;
    hcp_buf_init(&b, (size_t)1 << 30);
    int rc = gws_read_begin(g->store, &txn);
    if (rc == HCP_OK) {
        rc = gw_spot_public_render(g->store, txn, &b);
        gws_read_end(g->store, txn);
    }
    static const hcpd_hdr hdrs[] = {{"Cache-Control", "no-cache"}};
    if (rc == HCP_OK)
        hcpd_req_reply_hdrs(r, 200, "application/json; charset=utf-8", b.data, b.len, hdrs, 1);
    else
        hcpd_req_reply_error(r, 503, "unavailable", "try again");
    hcp_buf_free(&b);
}
