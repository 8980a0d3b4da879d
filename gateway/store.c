/*
 * store.c — hcp-gateway's LMDB store (gwstore.h).
 */
#include "lock.h"
#include "gwstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "codec.h"
#include "format.h"
#include "gc.h"
#include "division.h"
#include "feed_entry.h"
#include "plog.h"
#include "report.h"
#include "repl.h"
#include "be.h"
#include "record.h"
#include "rules.h"
#include "stats.h"
#include "tlog.h"

#define GW_MAP_INITIAL (256u << 20)
#define COUNTY_VAL_LEN (8 + HCP_HASH_LEN + 1 + 8 + 8 + 8)
#define LOG_KEY_LEN    (HCP_COUNTY_LEN + 8)

static void log_key(uint8_t k[LOG_KEY_LEN], const char *county, uint64_t seq)
{
    memcpy(k, county, HCP_COUNTY_LEN);
    hcp_be64_put(k + HCP_COUNTY_LEN, seq);
}

/* ---- the counties table (memory) ---- */

/* The home slot of code: a hash of its six digits, modulo the table. */
static size_t slot_of(const gw_store *s, const char *code)
{
    size_t h = 0;
    for (int i = 0; i < HCP_COUNTY_LEN; i++)
        h = h * 31 + (unsigned char)code[i];
    return h & (s->nslots - 1);
}

/* The slots for ndiv divisions: the next power of two at least 2 x ndiv
 * (probe chains stay short), and at least GW_COUNTIES_MIN. */
static size_t table_slots(size_t ndiv)
{
    size_t n = GW_COUNTIES_MIN;
    while (n < 2 * ndiv)
        n *= 2;
    return n;
}

/* Say once, loudly, that the table is full (a slot was wanted and none
 * was free): it is sized for twice the divisions in use and only they take
 * a slot, so this means a bug, never something a peer can cause. mu held. */
static void table_full(gw_store *s, const char *code)
{
    s->full_refusals++;
    if (s->full_refusals == 1 || s->full_refusals % 1000 == 0)
        gw_log("error", "store.counties_full",
               "county=%s slots=%zu counties=%zu refused=%llu detail=\"the counties table is "
               "full: this county's state is not kept\"",
               code, s->nslots, s->ncounties, (unsigned long long)s->full_refusals);
}

/* The slot of code (existing, or, with create, a free one for it), or
 * NULL. Only a known division (core/division.h) gets a new slot, so the
 * table cannot be filled with invented codes; a full table is logged.
 * mu held. */
static gw_county *table_find(gw_store *s, const char *code, bool create)
{
    size_t i = slot_of(s, code);
    for (size_t k = 0; k < s->nslots; k++, i = (i + 1) & (s->nslots - 1)) {
        gw_county *c = &s->table[i];
        if (c->code[0] == '\0') {
            if (!create || hcp_division_find(code) == NULL)
                return NULL;
            memcpy(c->code, code, HCP_COUNTY_LEN + 1);
            s->ncounties++;
            return c;
        }
        if (memcmp(c->code, code, HCP_COUNTY_LEN) == 0)
            return c;
    }
    if (create && hcp_division_find(code) != NULL)
        table_full(s, code);
    return NULL;
}

static void county_fresh(gw_county *out, const char *code)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->code, code, HCP_COUNTY_LEN);
    hcp_chain ch;
    if (hcp_chain_init(&ch, code) == HCP_OK)
        memcpy(out->head, ch.head, HCP_HASH_LEN);
}

void gws_county_get(gw_store *s, const char *code, gw_county *out)
{
    hcp_mutex_lock(&s->mu);
    gw_county *c = table_find(s, code, false);
    if (c != NULL)
        *out = *c;
    hcp_mutex_unlock(&s->mu);
    if (c == NULL)
        county_fresh(out, code);
}

int gws_county_list(gw_store *s, gw_county **out, size_t *n)
{
    hcp_mutex_lock(&s->mu);
    gw_county *arr = calloc(s->ncounties + 1, sizeof(*arr));
    size_t k = 0;
    for (size_t i = 0; arr != NULL && i < s->nslots; i++)
        if (s->table[i].code[0] != '\0')
            arr[k++] = s->table[i];
    hcp_mutex_unlock(&s->mu);
    if (arr == NULL)
        return HCP_ENOMEM;
    *out = arr;
    *n = k;
    return HCP_OK;
}

bool gws_county_publish(gw_store *s, const gw_county *c)
{
    hcp_mutex_lock(&s->mu);
    gw_county *t = table_find(s, c->code, true);
    bool kept = t != NULL;
    if (t != NULL) {
        uint64_t reported = t->reported > c->reported ? t->reported : c->reported;
        hcp_time seen = t->last_seen > c->last_seen ? t->last_seen : c->last_seen;
        *t = *c;
        t->reported = reported;
        t->last_seen = seen;
    }
    hcp_mutex_unlock(&s->mu);
    return kept;
}

bool gws_county_seen(gw_store *s, const char *code, uint64_t reported, hcp_time now)
{
    if (reported > REPL_SEQ_MAX)
        reported = 0; /* never stored: the frame decoder refuses it already */
    hcp_mutex_lock(&s->mu);
    gw_county *t = table_find(s, code, false);
    if (t == NULL) {
        t = table_find(s, code, true);
        if (t != NULL) {
            gw_county fresh;
            county_fresh(&fresh, code);
            *t = fresh;
        }
    }
    if (t != NULL) {
        if (reported > t->reported)
            t->reported = reported;
        t->last_seen = now;
    }
    hcp_mutex_unlock(&s->mu);
    return t != NULL;
}

/* value: be64 applied | head | state | be64 reported | be64 last_seen | be64 rule_flags */
int gws_county_put(gw_store *s, MDB_txn *txn, const gw_county *c)
{
    uint8_t v[COUNTY_VAL_LEN], *p = v;
    hcp_be64_put(p, c->applied);
    memcpy(p + 8, c->head, HCP_HASH_LEN);
    p[8 + HCP_HASH_LEN] = c->state;
    hcp_be64_put(p + 9 + HCP_HASH_LEN, c->reported);
    hcp_be64_put(p + 17 + HCP_HASH_LEN, (uint64_t)c->last_seen);
    hcp_be64_put(p + 25 + HCP_HASH_LEN, c->rule_flags);
    MDB_val k = {HCP_COUNTY_LEN, (void *)c->code}, val = {sizeof(v), v};
    return gws_err(mdb_put(txn, s->counties, &k, &val, 0));
}

/* Fill the memory table from the counties database. */
static int load_counties(gw_store *s, MDB_txn *txn)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->counties, &cur);
    if (rc)
        return gws_err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != HCP_COUNTY_LEN || v.mv_size != COUNTY_VAL_LEN)
            continue;
        char code[HCP_COUNTY_LEN + 1];
        memcpy(code, k.mv_data, HCP_COUNTY_LEN);
        code[HCP_COUNTY_LEN] = '\0';
        gw_county *t = table_find(s, code, true);
        if (t == NULL) { /* not a known division (or no slot: logged) */
            gw_log("warn", "store.county_skipped",
                   "county=%s detail=\"not a known division: its state is not loaded\"", code);
            continue;
        }
        const uint8_t *p = v.mv_data;
        t->applied = hcp_be64_get(p);
        memcpy(t->head, p + 8, HCP_HASH_LEN);
        t->state = p[8 + HCP_HASH_LEN];
        t->reported = hcp_be64_get(p + 9 + HCP_HASH_LEN);
        if (t->reported > REPL_SEQ_MAX) /* written before heads were bounded */
            t->reported = t->applied;
        t->last_seen = (hcp_time)hcp_be64_get(p + 17 + HCP_HASH_LEN);
        t->rule_flags = hcp_be64_get(p + 25 + HCP_HASH_LEN);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? HCP_OK : gws_err(rc);
}

/* ---- the feed's count index (gws_feed_seek_rank) ---- */

/* The prefix lengths counted, shortest first; the descent follows them.
 * 24 ends at the case id's date; 26..28 split a day's numbers by their
 * first two, three and four digits, so that no bucket of the last level
 * holds more than about a hundred entries of one county and day, however
 * many of them share one second (an import, a bulk catch-up). */
static const uint8_t cnt_levels[] = {5, 6, 7, 8, 24, 26, 27, 28};
#define CNT_NLEVELS (sizeof(cnt_levels) / sizeof(cnt_levels[0]))
#define CNT_KEY_MAX (1 + 28)
/* The key naming the levels the index was built with; 0xff sorts after
 * every level's keys. A store whose index was built with other levels
 * (or before this key) has it rebuilt at open. */
static const uint8_t cnt_format_key[] = {0xff, 'l', 'e', 'v', 'e', 'l', 's'};
#define CNT_ACC_SLOTS 1024 /* a power of two; flushed at half full */

/* One bucket's delta of a batch. */
typedef struct cnt_ent {
    bool used;
    uint8_t klen;
    uint8_t key[CNT_KEY_MAX];
    int64_t delta;
} cnt_ent;

struct gws_feed_acc {
    bool on;
    size_t used;
    cnt_ent tab[CNT_ACC_SLOTS];
};

/* The count key of feed key k (len bytes) at level L into out; its length. */
static size_t cnt_key(uint8_t out[CNT_KEY_MAX], uint8_t L, const uint8_t *k, size_t len)
{
    size_t n = len < L ? len : L;
    out[0] = L;
    memcpy(out + 1, k, n);
    return 1 + n;
}

/* Add delta to the stored count of bucket ck (a count reaching 0 is
 * deleted); HCP_EFORMAT when it would go below zero. */
static int cnt_write(gw_store *s, MDB_txn *txn, const uint8_t *ck, size_t cklen, int64_t delta)
{
    if (delta == 0)
        return HCP_OK;
    MDB_val k = {cklen, (void *)ck}, v;
    int mrc = mdb_get(txn, s->feed_cnt, &k, &v);
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return gws_err(mrc);
    int64_t have = mrc == MDB_SUCCESS && v.mv_size == 8 ? (int64_t)hcp_be64_get(v.mv_data) : 0;
    if (have + delta < 0)
        return HCP_EFORMAT;
    if (have + delta == 0)
        return gws_err(mdb_del(txn, s->feed_cnt, &k, NULL));
    uint8_t b[8];
    hcp_be64_put(b, (uint64_t)(have + delta));
    v.mv_size = sizeof(b);
    v.mv_data = b;
    return gws_err(mdb_put(txn, s->feed_cnt, &k, &v, 0));
}

/* FNV-1a of a bucket key. */
static size_t cnt_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ULL;
    return (size_t)h;
}

/* Write every collected delta and empty the table (collecting goes on). */
static int acc_write(gw_store *s, MDB_txn *txn)
{
    struct gws_feed_acc *a = s->feed_acc;
    int rc = HCP_OK;
    for (size_t i = 0; a != NULL && i < CNT_ACC_SLOTS; i++) {
        if (rc == HCP_OK && a->tab[i].used)
            rc = cnt_write(s, txn, a->tab[i].key, a->tab[i].klen, a->tab[i].delta);
        a->tab[i].used = false;
    }
    if (a != NULL)
        a->used = 0;
    return rc;
}

/* Count feed key k (len bytes) delta times (+1 put, -1 deleted) in every
 * level: collected when deferring, else written now. */
static int cnt_add(gw_store *s, MDB_txn *txn, const uint8_t *k, size_t len, int64_t delta)
{
    if (!s->feed_cnt_ok)
        return HCP_OK; /* not open (another program's handle) or rebuilt at open */
    struct gws_feed_acc *a = s->feed_acc;
    int rc = HCP_OK;
    for (size_t l = 0; rc == HCP_OK && l < CNT_NLEVELS; l++) {
        uint8_t ck[CNT_KEY_MAX];
        size_t n = cnt_key(ck, cnt_levels[l], k, len);
        if (a == NULL || !a->on) {
            rc = cnt_write(s, txn, ck, n, delta);
            continue;
        }
        size_t i = cnt_hash(ck, n) & (CNT_ACC_SLOTS - 1);
        while (a->tab[i].used && !(a->tab[i].klen == n && memcmp(a->tab[i].key, ck, n) == 0))
            i = (i + 1) & (CNT_ACC_SLOTS - 1);
        cnt_ent *e = &a->tab[i];
        if (!e->used) {
            e->used = true;
            e->klen = (uint8_t)n;
            memcpy(e->key, ck, n);
            e->delta = 0;
            a->used++;
        }
        e->delta += delta;
        if (a->used * 2 >= CNT_ACC_SLOTS) /* half full: write it out, keep collecting */
            rc = acc_write(s, txn);
    }
    return rc;
}

void gws_feed_defer(gw_store *s)
{
    if (s->feed_acc == NULL)
        s->feed_acc = calloc(1, sizeof(*s->feed_acc));
    if (s->feed_acc != NULL) /* else (out of memory): written at once, as without it */
        s->feed_acc->on = true;
}

int gws_feed_flush(gw_store *s, MDB_txn *txn)
{
    if (s == NULL || s->feed_acc == NULL)
        return HCP_OK;
    int rc = acc_write(s, txn);
    s->feed_acc->on = false;
    return rc;
}

void gws_feed_drop(gw_store *s)
{
    struct gws_feed_acc *a = s != NULL ? s->feed_acc : NULL;
    if (a == NULL)
        return;
    for (size_t i = 0; i < CNT_ACC_SLOTS; i++)
        a->tab[i].used = false;
    a->used = 0;
    a->on = false;
}

/* Whether key k (len bytes) starts with the len_p bytes of p. */
static bool has_prefix(const MDB_val *k, const uint8_t *p, size_t len_p)
{
    return k->mv_size >= len_p && memcmp(k->mv_data, p, len_p) == 0;
}

/* Position cur at the last key (in DB order) that is at most seek (len
 * bytes): SET_RANGE, then one step back unless it hit seek exactly. */
static int seek_last_le(MDB_cursor *cur, const uint8_t *seek, size_t len, MDB_val *k, MDB_val *v)
{
    k->mv_size = len;
    k->mv_data = (void *)seek;
    int mrc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (mrc == MDB_NOTFOUND)
        return mdb_cursor_get(cur, k, v, MDB_LAST);
    if (mrc == MDB_SUCCESS && !(k->mv_size == len && memcmp(k->mv_data, seek, len) == 0))
        mrc = mdb_cursor_get(cur, k, v, MDB_PREV);
    return mrc;
}

/* Position cur at the first key with prefix p (len bytes); MDB_NOTFOUND
 * when there is none. */
static int seek_first(MDB_cursor *cur, const uint8_t *p, size_t len, MDB_val *k, MDB_val *v)
{
    k->mv_size = len;
    k->mv_data = (void *)p;
    int mrc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    return mrc == MDB_SUCCESS && !has_prefix(k, p, len) ? MDB_NOTFOUND : mrc;
}

/* Walk the keys with prefix head (hlen bytes) of cursor cur, none longer
 * than keylen bytes, from the end nearer to the rank: `total` of them are
 * counted under head (0: not known, walk from the newest), each key's
 * count in its value (count true) or 1 (the feed's entries). On success
 * *k is the key holding the entry of rank *rank (from the newest) and
 * *rank is counted within it. MDB_NOTFOUND when the keys hold no such
 * rank. */
static int walk_near(MDB_cursor *cur, const uint8_t *head, size_t hlen, size_t keylen,
                     uint64_t total, bool count, uint64_t *rank, MDB_val *k, MDB_val *v)
{
    bool fwd = total > 0 && *rank < total && *rank >= total / 2;
    uint64_t r = fwd ? total - 1 - *rank : *rank; /* counted from the end walked from */
    uint8_t last[GWS_FEED_KEY_MAX];               /* head, then 0xff: past every key under head */
    _Static_assert(CNT_KEY_MAX <= GWS_FEED_KEY_MAX, "walk_near's bound holds index keys");
    if (hlen > keylen || keylen > sizeof(last))
        return EINVAL;
    memcpy(last, head, hlen);
    memset(last + hlen, 0xff, keylen - hlen);
    int mrc = fwd ? seek_first(cur, head, hlen, k, v) : seek_last_le(cur, last, keylen, k, v);
    for (; mrc == MDB_SUCCESS && has_prefix(k, head, hlen);
         mrc = mdb_cursor_get(cur, k, v, fwd ? MDB_NEXT : MDB_PREV)) {
        uint64_t n = !count ? 1 : v->mv_size == 8 ? hcp_be64_get(v->mv_data) : 0;
        if (r < n) {
            *rank = fwd ? n - 1 - r : r;
            return MDB_SUCCESS;
        }
        r -= n;
    }
    return mrc == MDB_SUCCESS ? MDB_NOTFOUND : mrc;
}

/* Descend the count index: the bucket (prefix pre, *plen bytes, holding
 * *pn entries) that holds the entry of rank *rank, *rank then counted
 * within it. */
static int cnt_descend(gw_store *s, MDB_txn *txn, uint64_t *rank, uint8_t pre[CNT_KEY_MAX],
                       size_t *plen, uint64_t *pn)
{
    MDB_cursor *cc;
    int rc = gws_err(mdb_cursor_open(txn, s->feed_cnt, &cc));
    *pn = 0; /* the top level's total is not kept: walked from the newest */
    for (size_t l = 0; rc == HCP_OK && l < CNT_NLEVELS && *plen == (l ? cnt_levels[l - 1] : 0);
         l++) {
        uint8_t L = cnt_levels[l], head[CNT_KEY_MAX];
        head[0] = L;
        memcpy(head + 1, pre, *plen);
        MDB_val k, v;
        int mrc = walk_near(cc, head, 1 + *plen, 1 + (size_t)L, *pn, true, rank, &k, &v);
        if (mrc == MDB_SUCCESS) {
            *plen = k.mv_size - 1;
            memcpy(pre, (const uint8_t *)k.mv_data + 1, *plen);
            *pn = hcp_be64_get(v.mv_data); /* walk_near read it: 8 bytes */
        } else if (mrc != MDB_NOTFOUND)
            rc = gws_err(mrc);
        else /* past the end at the top; below it, the counts disagree */
            rc = l == 0 ? HCP_ENOTFOUND : HCP_EFORMAT;
    }
    mdb_cursor_close(cc);
    return rc;
}

int gws_feed_seek_rank(gw_store *s, MDB_txn *txn, MDB_cursor *cur, uint64_t rank, MDB_val *k,
                       MDB_val *v)
{
    if (s == NULL || txn == NULL || cur == NULL || k == NULL || v == NULL)
        return HCP_EINVAL;
    if (!s->feed_cnt_ok)
        return HCP_EFORMAT;
    uint8_t pre[CNT_KEY_MAX];
    size_t plen = 0;
    uint64_t n = 0;
    int rc = cnt_descend(s, txn, &rank, pre, &plen, &n);
    if (rc != HCP_OK)
        return rc;
    /* the bucket's entries, from its end nearer to the rank */
    int mrc = walk_near(cur, pre, plen, GWS_FEED_KEY_MAX, n, false, &rank, k, v);
    if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        return gws_err(mrc);
    return mrc == MDB_SUCCESS ? HCP_OK : HCP_EFORMAT;
}

/* Whether the index says it was built with cnt_levels (cnt_format_key);
 * HCP_OK with *same set, or LMDB's error. */
static int cnt_format_same(gw_store *s, MDB_txn *txn, bool *same)
{
    MDB_val k = {sizeof(cnt_format_key), (void *)cnt_format_key}, v;
    int mrc = mdb_get(txn, s->feed_cnt, &k, &v);
    *same = mrc == MDB_SUCCESS && v.mv_size == CNT_NLEVELS &&
            memcmp(v.mv_data, cnt_levels, CNT_NLEVELS) == 0;
    return mrc == MDB_NOTFOUND ? HCP_OK : gws_err(mrc);
}

static int cnt_format_put(gw_store *s, MDB_txn *txn)
{
    MDB_val k = {sizeof(cnt_format_key), (void *)cnt_format_key},
            v = {CNT_NLEVELS, (void *)cnt_levels};
    return gws_err(mdb_put(txn, s->feed_cnt, &k, &v, 0));
}

/* Check the count index against the feed (the totals of its top level
 * against the entries, and the levels it was built with) and rebuild it
 * from the feed's keys when they differ: a store written before the index
 * or before its present levels, or by a program without it. */
static int feed_cnt_check(gw_store *s, MDB_txn *txn)
{
    MDB_stat fst;
    int rc = gws_err(mdb_stat(txn, s->feed, &fst));
    MDB_cursor *cur = NULL;
    if (rc == HCP_OK)
        rc = gws_err(mdb_cursor_open(txn, s->feed_cnt, &cur));
    uint64_t sum = 0;
    MDB_val k, v;
    int mrc = rc == HCP_OK ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : MDB_NOTFOUND;
    for (; mrc == MDB_SUCCESS && k.mv_size > 0 && ((const uint8_t *)k.mv_data)[0] == cnt_levels[0];
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        sum += v.mv_size == 8 ? hcp_be64_get(v.mv_data) : 0;
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    bool agree = sum == fst.ms_entries, same = false;
    if (rc == HCP_OK)
        rc = cnt_format_same(s, txn, &same);
    if (rc == HCP_OK && agree && !same && sum == 0) { /* a new store: these levels from the start */
        rc = cnt_format_put(s, txn);
        same = true;
    } else if (rc == HCP_OK && agree && !same)
        gw_log("info", "feed.counts_levels", "entries=%llu reason=\"built with other levels\"",
               (unsigned long long)sum); /* and rebuilt below */
    if (rc != HCP_OK || (agree && same)) {
        s->feed_cnt_ok = rc == HCP_OK;
        return rc;
    }
    /* rebuild: empty it, then count every key (summed in memory) */
    rc = gws_err(mdb_drop(txn, s->feed_cnt, 0));
    if (rc == HCP_OK)
        rc = gws_err(mdb_cursor_open(txn, s->feed, &cur));
    if (rc != HCP_OK)
        return rc;
    s->feed_cnt_ok = true;
    gws_feed_defer(s);
    size_t n = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == HCP_OK && mrc == MDB_SUCCESS;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++)
        rc = cnt_add(s, txn, k.mv_data, k.mv_size, 1);
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    if (rc == HCP_OK)
        rc = gws_feed_flush(s, txn);
    else
        gws_feed_drop(s);
    if (rc == HCP_OK)
        rc = cnt_format_put(s, txn);
    s->feed_cnt_ok = rc == HCP_OK;
    if (rc == HCP_OK)
        gw_log("info", "feed.counts_rebuilt", "entries=%zu", n);
    return rc;
}

/* ---- the feed index ---- */

size_t gws_feed_key(uint8_t k[GWS_FEED_KEY_MAX], hcp_time updated, const char *id)
{
    size_t n = strnlen(id, HCP_CASE_ID_MAX - 1);
    hcp_be64_put(k, (uint64_t)updated);
    memcpy(k + 8, id, n);
    return 8 + n;
}

bool gws_feed_key_parse(const void *k, size_t len, hcp_time *updated, char id[HCP_CASE_ID_MAX])
{
    if (k == NULL || len <= 8 + HCP_COUNTY_LEN || len >= GWS_FEED_KEY_MAX)
        return false;
    const uint8_t *p = k;
    *updated = (hcp_time)hcp_be64_get(p);
    memcpy(id, p + 8, len - 8);
    id[len - 8] = '\0';
    return true;
}

int gws_feed_update(gw_store *s, MDB_txn *txn, hcp_time prev_at, const hcp_case *c, hcp_time now)
{
    if (s == NULL || txn == NULL || c == NULL || c->id[0] == '\0')
        return HCP_EINVAL;
    uint8_t kb[GWS_FEED_KEY_MAX];
    int rc = HCP_OK;
    if (prev_at != 0) {
        MDB_val k = {gws_feed_key(kb, prev_at, c->id), kb};
        int mrc = mdb_del(txn, s->feed, &k, NULL);
        rc = mrc == MDB_NOTFOUND ? HCP_OK : gws_err(mrc);
        if (mrc == MDB_SUCCESS) /* the count index, in the same transaction */
            rc = cnt_add(s, txn, kb, k.mv_size, -1);
    }
    hcp_buf val;
    hcp_buf_init(&val, 2 * HCP_RECORD_MAX);
    if (rc == HCP_OK)
        rc = gw_feed_entry_value(c, now, &val);
    /* the transparency log: the entry as disclosed, in this transaction;
     * the feed then keeps only the leaf's index, not a second copy */
    uint64_t leaf = GW_TLOG_NO_LEAF;
    if (rc == HCP_OK)
        rc = val.len > GW_FEED_HDR ? gw_tlog_disclose(s->tlog, txn, val.data + GW_FEED_HDR,
                                                      val.len - GW_FEED_HDR, &leaf)
                                   : HCP_EFORMAT;
    if (rc == HCP_OK && leaf != GW_TLOG_NO_LEAF)
        rc = gw_feed_value_to_leaf(&val, leaf);
    if (rc == HCP_OK) {
        MDB_val k = {gws_feed_key(kb, hcp_case_updated_at(c), c->id), kb}, v = {val.len, val.data};
        int mrc = mdb_put(txn, s->feed, &k, &v, MDB_NOOVERWRITE);
        if (mrc == MDB_KEYEXIST) { /* replaced in place: counted already */
            v.mv_size = val.len;   /* the refused put pointed v at the old value */
            v.mv_data = val.data;
            rc = gws_err(mdb_put(txn, s->feed, &k, &v, 0));
        } else if ((rc = gws_err(mrc)) == HCP_OK)
            rc = cnt_add(s, txn, kb, k.mv_size, 1);
    }
    hcp_buf_free(&val);
    if (rc == HCP_OK)
        s->feed_dirty = true;
    return rc;
}

int gws_feed_get(gw_store *s, MDB_txn *txn, const char *id, hcp_time updated, MDB_val *v)
{
    if (s == NULL || txn == NULL || id == NULL || v == NULL)
        return HCP_EINVAL;
    uint8_t kb[GWS_FEED_KEY_MAX];
    MDB_val k = {gws_feed_key(kb, updated, id), kb};
    return gws_err(mdb_get(txn, s->feed, &k, v));
}

int gws_feed_value_read(gw_store *s, MDB_txn *txn, MDB_cursor **tcur, const void *v, size_t len,
                        gw_feed_meta *m)
{
    if (s == NULL || txn == NULL)
        return HCP_EINVAL;
    int rc = gw_feed_value_parse(v, len, m);
    return rc == HCP_OK ? gws_feed_meta_resolve(s, txn, tcur, m) : rc;
}

/* Apart from gws_feed_value_read so that a scan can skip entries (a page
 * deep in the feed) on their header alone, without reading their leaves. */
int gws_feed_meta_resolve(gw_store *s, MDB_txn *txn, MDB_cursor **tcur, gw_feed_meta *m)
{
    if (s == NULL || txn == NULL || tcur == NULL || m == NULL)
        return HCP_EINVAL;
    if (!m->is_leaf)
        return HCP_OK;
    const void *p = NULL;
    size_t n = 0;
    int rc = *tcur == NULL ? gws_err(mdb_cursor_open(txn, s->tlog, tcur)) : HCP_OK;
    if (rc == HCP_OK)
        rc = gw_tlog_entry(*tcur, m->leaf, &p, &n);
    if (rc != HCP_OK)
        return rc;
    const char *json = p;
    if (n < 2 || json[0] != '{' || json[n - 1] != '}')
        return HCP_EFORMAT;
    m->json = json;
    m->json_len = n;
    return HCP_OK;
}

void gws_feed_listen(gw_store *s, gws_feed_hook fn, void *arg)
{
    s->feed_hook = fn;
    s->feed_hook_arg = arg;
}

void gws_feed_changed(gw_store *s, hcp_time now)
{
    if (s->feed_hook != NULL)
        s->feed_hook(s->feed_hook_arg, now);
}

/* A store written before the feed existed: index every case once. */
static int feed_rebuild(gw_store *s, MDB_txn *txn)
{
    MDB_stat fst, cst;
    int rc = gws_err(mdb_stat(txn, s->feed, &fst));
    if (rc == HCP_OK)
        rc = gws_err(mdb_stat(txn, s->cases, &cst));
    if (rc != HCP_OK || fst.ms_entries > 0 || cst.ms_entries == 0)
        return rc;
    MDB_cursor *cur;
    if ((rc = gws_err(mdb_cursor_open(txn, s->cases, &cur))) != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    size_t n = 0;
    gws_feed_defer(s); /* the counts of the entries, summed in memory */
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[HCP_CASE_ID_MAX];
        if (!gws_case_key_id(&k, id))
            continue;
        hcp_case c;
        rc = hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, true, &c);
        if (rc != HCP_OK) /* personal record unreadable: index without it */
            rc = hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, false, &c);
        if (rc == HCP_OK)
            rc = gws_feed_update(s, txn, 0, &c, (hcp_time)time(NULL));
        hcp_case_clear(&c);
        n++;
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    if (rc == HCP_OK)
        rc = gws_feed_flush(s, txn);
    else
        gws_feed_drop(s);
    if (rc == HCP_OK)
        gw_log("info", "feed.rebuilt", "cases=%zu", n);
    return rc;
}

/* ---- open / close ---- */

/* The open's own writes (an index rebuilt, figures counted) are one
 * transaction, which cannot grow the map; LMDB maps a store no larger than
 * its file. A map with less room than a quarter of what is used (at least
 * GW_OPEN_ROOM) is grown first, as the group commit would grow it. When it
 * cannot grow (the ceiling, the disk) the open goes on, and a write it
 * needs fails and says why. */
#define GW_OPEN_ROOM ((uint64_t)64 << 20)
static void open_room(gw *g, gw_store *s)
{
    uint64_t used;
    if (hcpd_env_used(s->db.env, &used, NULL) != MDB_SUCCESS)
        return;
    uint64_t want = used / 4 > GW_OPEN_ROOM ? used / 4 : GW_OPEN_ROOM;
    if (used < s->db.mapsize && s->db.mapsize - used >= want)
        return;
    int rc;
    size_t to =
        hcpd_gc_grow_target(g->cfg.data, s->db.mapsize, (size_t)g->cfg.map_max_mib << 20, &rc);
    if (rc == HCP_OK)
        rc = hcpd_env_grow(&s->db, to);
    if (rc == HCP_OK)
        gw_log("info", "store.grown", "mapsize=%zu used=%llu", s->db.mapsize,
               (unsigned long long)used);
    else
        gw_log("warn", "store.grow_failed", "mapsize=%zu used=%llu err=\"%s\"", s->db.mapsize,
               (unsigned long long)used, hcp_strerror(rc));
}

static int open_dbis(gw_store *s, MDB_txn *txn)
{
    int rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    if (!rc)
        rc = mdb_dbi_open(txn, "log", MDB_CREATE, &s->log);
    if (!rc)
        rc = mdb_dbi_open(txn, "counties", MDB_CREATE, &s->counties);
    if (!rc)
        rc = mdb_dbi_open(txn, "proofs", MDB_CREATE, &s->proofs);
    if (!rc)
        rc = mdb_dbi_open(txn, "cases", MDB_CREATE, &s->cases);
    if (!rc)
        rc = mdb_dbi_open(txn, "case_ev", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &s->case_ev);
    if (!rc)
        rc = mdb_dbi_open(txn, "feed", MDB_CREATE, &s->feed);
    if (!rc) /* the feed's count index (gws_feed_seek_rank) */
        rc = mdb_dbi_open(txn, "feed_cnt", MDB_CREATE, &s->feed_cnt);
    if (!rc) /* the checks' findings and tallies (checks.h) */
        rc = mdb_dbi_open(txn, "checks", MDB_CREATE, &s->checks);
    if (!rc)
        rc = mdb_dbi_open(txn, "tlog", MDB_CREATE, &s->tlog);
    if (!rc) /* the province's figures (stats.h) */
        rc = mdb_dbi_open(txn, "st_cnt", MDB_CREATE, &s->st_cnt);
    if (!rc)
        rc = mdb_dbi_open(txn, "st_set", MDB_CREATE, &s->st_set);
    if (!rc)
        rc = mdb_dbi_open(txn, "st_due", MDB_CREATE, &s->st_due);
    if (!rc)
        rc = mdb_dbi_open(txn, "st_name", MDB_CREATE, &s->st_name);
    if (!rc) /* spot checks (spot.h) */
        rc = mdb_dbi_open(txn, "sc_draw", MDB_CREATE, &s->sc_draw);
    if (!rc)
        rc = mdb_dbi_open(txn, "sc_find", MDB_CREATE, &s->sc_find);
    if (!rc) /* format 3 (store_migrate) */
        rc = mdb_dbi_open(txn, "ov_run", MDB_CREATE, &s->ov_run);
    return rc;
}

/* Keep c in ov_run while a deadline of it runs, and out of it once none
 * does (gwstore.h). */
static int ov_run_keep(gw_store *s, MDB_txn *txn, const hcp_case *c)
{
    MDB_val k = {strlen(c->id), (void *)c->id}, v = {0, NULL};
    if (hcp_case_deadline_running(c)) { /* kept already: its page is left untouched */
        int prc = mdb_put(txn, s->ov_run, &k, &v, MDB_NOOVERWRITE);
        return prc == MDB_KEYEXIST ? HCP_OK : gws_err(prc);
    }
    int rc = gws_err(mdb_del(txn, s->ov_run, &k, NULL));
    return rc == HCP_ENOTFOUND ? HCP_OK : rc;
}

/* Format 2 -> 3: ov_run made from a scan of every case (its own figures
 * logged). Format 1 -> 2 needs no step (docs/operations.md "Upgrading").
 * An LMDB code, as hcpd_format_check wants. */
static int store_migrate(void *arg, MDB_txn *txn, unsigned from)
{
    gw_store *s = arg;
    if (from != 2)
        return MDB_SUCCESS;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->cases, &cur);
    if (mrc != MDB_SUCCESS)
        return mrc;
    size_t n = 0, running = 0;
    MDB_val k, v;
    int prc = MDB_SUCCESS; /* the index's puts */
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; prc == MDB_SUCCESS && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[HCP_CASE_ID_MAX];
        if (!gws_case_key_id(&k, id))
            continue;
        hcp_case c;
        memset(&c, 0, sizeof(c)); /* cleared below whether it was read or not */
        n++;
        if (hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, false, &c) == HCP_OK &&
            hcp_case_deadline_running(&c)) {
            MDB_val ik = {k.mv_size, id}, iv = {0, NULL};
            prc = mdb_put(txn, s->ov_run, &ik, &iv, 0);
            running++;
        }
        hcp_case_clear(&c);
    }
    mdb_cursor_close(cur);
    if (prc != MDB_SUCCESS)
        return prc;
    if (mrc != MDB_NOTFOUND)
        return mrc;
    if (n > 0) /* a new store is stamped without a word */
        gw_log("info", "store.migrated", "format=3 cases=%zu running=%zu", n, running);
    return MDB_SUCCESS;
}

int gw_store_open(gw *g)
{
    gw_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return HCP_ENOMEM;
    s->sealer = g->sealer;
    const char *st = getenv("HCP_GW_STATS"); /* "off": for measuring their cost only */
    s->stats_off = st != NULL && strcmp(st, "off") == 0;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return HCP_ENOMEM;
    }
    size_t ndiv = 0;
    (void)hcp_divisions(&ndiv); /* at most HCP_DIVISIONS_MAX: the product cannot overflow */
    s->nslots = table_slots(ndiv);
    s->table = calloc(s->nslots, sizeof(*s->table));
    if (ndiv == 0 || s->table == NULL) {
        gw_log("error", "store.open_failed", "divisions=%zu slots=%zu reason=\"%s\"", ndiv,
               s->nslots, ndiv == 0 ? "no divisions in use" : "out of memory");
        free(s->table);
        (void)pthread_mutex_destroy(&s->mu); /* never locked yet */
        free(s);
        return ndiv == 0 ? HCP_EINVAL : HCP_ENOMEM;
    }
    MDB_txn *txn = NULL;
    int mrc = hcpd_env_open(&s->db, g->cfg.data, GW_MAP_INITIAL, false, 512);
    if (!mrc)
        open_room(g, s);
    if (!mrc)
        mrc = mdb_txn_begin(s->db.env, NULL, 0, &txn);
    if (!mrc)
        mrc = open_dbis(s, txn);
    char ferr[512] = ""; /* before anything is read: a newer store is refused (daemon/format.h) */
    if (!mrc)
        mrc = hcpd_format_check(txn, s->meta, "hcp-gateway", HCPD_FORMAT_GATEWAY, false,
                                store_migrate, s, NULL, ferr, sizeof(ferr));
    int rc = gws_err(mrc);
    if (rc == HCP_OK) /* the province log (plog.h, docs/directives.md) */
        rc = gw_plog_open(s, txn);
    if (rc == HCP_OK) /* Art. 14's register by month (report.h, docs/reports.md) */
        rc = gw_report_open(s, txn);
    if (rc == HCP_OK)
        rc = load_counties(s, txn);
    if (rc == HCP_OK)
        rc = feed_cnt_check(s, txn); /* before feed_rebuild, which then counts as it writes */
    if (rc == HCP_OK)
        rc = feed_rebuild(s, txn);
    if (rc == HCP_OK) /* the figures of a store written before them (stats.h) */
        rc = gw_stats_rebuild(s, txn);
    if (rc == HCP_OK)
        rc = gws_err(mdb_txn_commit(txn));
    else if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc == HCP_OK) /* accounts and the access log (daemon/accounts.h) */
        rc = hcpd_acct_open(&g->acct, &s->db);
    if (rc != HCP_OK) {
        gw_log("error", "store.open_failed", "dir=%s reason=\"%s\"", g->cfg.data,
               ferr[0] ? ferr
               : mrc   ? mdb_strerror(mrc)
                       : hcp_strerror(rc));
        g->store = s;
        gw_store_close(g);
        return rc;
    }
    gw_log("info", "store.open", "dir=%s counties=%zu divisions=%zu slots=%zu mapsize=%zu",
           g->cfg.data, s->ncounties, ndiv, s->nslots, s->db.mapsize);
    g->store = s;
    return HCP_OK;
}

void gw_store_close(gw *g)
{
    gw_store *s = g->store;
    if (s == NULL)
        return;
    hcpd_env_close(&s->db);
    gw_plog_close(s);
    gw_stats_free(s);                    /* the writer's batch memory (stats.h) */
    free(s->feed_acc);                   /* the same of the feed's counts */
    gw_report_close(s);                  /* the form's cache (report.h) */
    (void)pthread_mutex_destroy(&s->mu); /* the threads using the store have stopped */
    free(s->table);
    hcp_buf_free(&s->log_val);
    free(s);
    g->store = NULL;
}

/* ---- the log ---- */

int gws_log_put(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq,
                const uint8_t hash[HCP_HASH_LEN], const void *rec, size_t rec_len, const void *pii,
                size_t pii_len)
{
    /* packed into the store's scratch buffer: one write transaction at a
     * time uses it (a fresh buffer per event grew by doubling from 64
     * bytes: five reallocations for a 600-byte record) */
    hcp_buf *val = &s->log_val;
    if (val->max == 0)
        hcp_buf_init(val, 2 * HCP_RECORD_MAX);
    hcp_buf_reset(val);
    int rc = hcp_stored_event_pack(s->sealer, county, seq, hash, rec, rec_len, pii, pii_len, val);
    if (rc == HCP_OK) {
        uint8_t kb[LOG_KEY_LEN];
        log_key(kb, county, seq);
        MDB_val k = {sizeof(kb), kb}, v = {val->len, val->data};
        /* A county's log arrives in seq order, so its events are appended
         * at the end of its key range. When that is also the end of the
         * tree (one county catching up, or the highest-coded one),
         * MDB_APPEND fills each page: 6 events of ~650 bytes to a 4 KiB
         * page against 5 after LMDB's ordinary split, 17 % fewer bytes
         * to write. Anywhere else LMDB refuses with MDB_KEYEXIST without
         * touching the tree, and the event takes the ordinary put. */
        int mrc = mdb_put(txn, s->log, &k, &v, MDB_APPEND);
        if (mrc == MDB_KEYEXIST) {
            v.mv_size = val->len;
            v.mv_data = val->data;
            mrc = mdb_put(txn, s->log, &k, &v, 0);
        }
        rc = gws_err(mrc);
    }
    if (val->cap > GWS_LOG_VAL_KEEP)
        hcp_buf_free(val); /* a rare large record: not kept */
    return rc;
}

int gws_log_get(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq, bool personal,
                uint8_t hash[HCP_HASH_LEN], hcp_buf *rec, hcp_buf *pii, hcp_event *ev)
{
    uint8_t kb[LOG_KEY_LEN];
    log_key(kb, county, seq);
    MDB_val k = {sizeof(kb), kb}, v;
    if (ev != NULL)
        memset(ev, 0, sizeof(*ev));
    int rc = gws_err(mdb_get(txn, s->log, &k, &v));
    if (rc != HCP_OK)
        return rc;
    return hcp_stored_event_unpack(s->sealer, county, seq, v.mv_data, v.mv_size, personal, hash,
                                   rec, pii, ev);
}

int gws_log_hash(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq,
                 uint8_t hash[HCP_HASH_LEN])
{
    return gws_log_get(s, txn, county, seq, false, hash, NULL, NULL, NULL);
}

/* ---- cases ---- */

bool gws_case_key_id(const MDB_val *k, char id[HCP_CASE_ID_MAX])
{
    if (k == NULL || id == NULL || k->mv_size == 0 || k->mv_size >= HCP_CASE_ID_MAX)
        return false;
    memcpy(id, k->mv_data, k->mv_size);
    id[k->mv_size] = '\0';
    return true;
}

int gws_case_get(gw_store *s, MDB_txn *txn, const char *id, bool personal, hcp_case *c)
{
    memset(c, 0, sizeof(*c));
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = gws_err(mdb_get(txn, s->cases, &k, &v));
    if (rc != HCP_OK)
        return rc;
    return hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, personal, c);
}

int gws_case_put(gw_store *s, MDB_txn *txn, const hcp_case *c)
{
    hcp_buf val;
    hcp_buf_init(&val, 2 * HCP_RECORD_MAX);
    int rc = hcp_stored_case_pack(s->sealer, c, &val);
    if (rc == HCP_OK) {
        MDB_val k = {strlen(c->id), (void *)c->id}, v = {val.len, val.data};
        rc = gws_err(mdb_put(txn, s->cases, &k, &v, 0));
    }
    if (rc == HCP_OK) /* its row of the monthly form, in the same txn (report.h) */
        rc = gw_report_case(s, txn, c);
    if (rc == HCP_OK) /* the overdue gauge's candidates */
        rc = ov_run_keep(s, txn, c);
    hcp_buf_free(&val);
    return rc;
}

int gws_case_event_add(gw_store *s, MDB_txn *txn, const char *id, const char *county, uint64_t seq)
{
    uint8_t kb[LOG_KEY_LEN];
    log_key(kb, county, seq);
    MDB_val k = {strlen(id), (void *)id}, v = {sizeof(kb), kb};
    return gws_err(mdb_put(txn, s->case_ev, &k, &v, 0));
}

void gws_events_free(hcp_event *evs, size_t n)
{
    hcpd_events_free(evs, n);
}

typedef struct load_ctx {
    gw_store *s;
    bool personal;
} load_ctx;

/* case_ev values are county + be64 log positions. */
static int load_logged(void *arg, MDB_txn *txn, const MDB_val *v, hcp_event *ev)
{
    const load_ctx *c = arg;
    if (v->mv_size != LOG_KEY_LEN)
        return HCP_EFORMAT;
    char county[HCP_COUNTY_LEN + 1];
    memcpy(county, v->mv_data, HCP_COUNTY_LEN);
    county[HCP_COUNTY_LEN] = '\0';
    uint64_t seq = hcp_be64_get((const uint8_t *)v->mv_data + HCP_COUNTY_LEN);
    return gws_log_get(c->s, txn, county, seq, c->personal, NULL, NULL, NULL, ev);
}

int gws_case_events(gw_store *s, MDB_txn *txn, const char *id, bool personal, hcp_event **evs,
                    size_t *n)
{
    load_ctx c = {s, personal};
    return hcpd_dup_events(txn, s->case_ev, id, load_logged, &c, evs, n);
}

/* ---- proofs ---- */

/* value: be16 sig length | sig | certificate (DER) */
int gws_proof_put(gw_store *s, MDB_txn *txn, const char *county, uint64_t last_seq,
                  const uint8_t *sig, size_t sig_len, const uint8_t *cert, size_t cert_len)
{
    if (sig_len > 0xffff)
        return HCP_ERANGE;
    hcp_buf val;
    hcp_buf_init(&val, 2 + sig_len + cert_len);
    uint8_t len2[2] = {(uint8_t)(sig_len >> 8), (uint8_t)sig_len};
    int rc = hcp_buf_append(&val, len2, 2);
    if (rc == HCP_OK)
        rc = hcp_buf_append(&val, sig, sig_len);
    if (rc == HCP_OK)
        rc = hcp_buf_append(&val, cert, cert_len);
    uint8_t kb[LOG_KEY_LEN];
    log_key(kb, county, last_seq);
    MDB_val k = {sizeof(kb), kb}, v = {val.len, val.data};
    if (rc == HCP_OK)
        rc = gws_err(mdb_put(txn, s->proofs, &k, &v, 0));
    hcp_buf_free(&val);
    return rc;
}
