/*
 * stats.c — the province's figures (stats.h, docs/stats.md).
 *
 * st_cnt  kind gran be32-period rest  -> u8 n, n x be64 counts
 *         rest: 'C' county; 'I' item code NUL; 'V' county unit NUL;
 *         'X' dimension byte; 'U' county unit NUL; 'F' county unit NUL staff NUL
 * st_set  'F' 'Y' year county unit NUL staff NUL case-id -> 1 counted, 2 pending
 *         'Q' 'Y' year county unit NUL case-id           -> 2 (negative, dispute open)
 *         'R' 'D' day county case-id                     -> 0 (revisit owed, not made)
 * st_due  be64 due | case-id -> county, be32 day of receipt (open deadlines)
 * st_name 'u' county unit NUL | 'i' item NUL | 's' county unit NUL staff NUL -> name
 */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "be.h"
#include "chain.h"
#include "checks.h"
#include "division.h"
#include "gwstore.h"
#include "hex.h"
#include "json.h"
#include "record.h"
#include "spot.h"

#define DAY_MIN_Y     2000
#define DAY_MAX_Y     2199
#define MONTHS        ((DAY_MAX_Y - DAY_MIN_Y + 1) * 12)
#define MISSING_MAX   100  /* revisit-missing ids listed in a summary */
#define IDS_MAX       1000 /* case ids listed per staff member or unit */
#define HOT_LIMIT_MAX 1000
#define HOT_LIMIT_DEF 20
#define DUE_KEY       (8 + HCP_CASE_ID_MAX)
#define DUE_VAL       (HCP_COUNTY_LEN + 4)

/* ---- pure: periods ---- */

int32_t gw_stats_month_of(hcp_day d)
{
    int y, m, dd;
    hcp_day_to_ymd(d, &y, &m, &dd);
    return (int32_t)(y * 12 + m - 1);
}

int32_t gw_stats_year_of(hcp_day d)
{
    int y, m, dd;
    hcp_day_to_ymd(d, &y, &m, &dd);
    return (int32_t)y;
}

hcp_day gw_stats_month_start(int32_t m)
{
    hcp_day d = 0;
    if (hcp_day_from_ymd((int)(m / 12), (int)(m % 12) + 1, 1, &d) != HCP_OK)
        return 0; /* out of the calendar's range: the callers clamp first */
    return d;
}

/* The first and last days the figures know (stats.h, gw_stats_span). */
static hcp_day day_min(void)
{
    return gw_stats_month_start(DAY_MIN_Y * 12);
}

static hcp_day day_max(void)
{
    return gw_stats_month_start((DAY_MAX_Y + 1) * 12) - 1;
}

void gw_stats_span(hcp_day from, hcp_day to, gw_st_span *sp)
{
    hcp_day lo = day_min(), hi = day_max();
    from = from < lo ? lo : from > hi ? hi : from;
    to = to < 0 || to > hi ? hi : to < lo ? lo : to;
    sp->d1a = sp->d2a = 1;
    sp->d1b = sp->d2b = 0;
    sp->m1 = 1;
    sp->m2 = 0;
    if (from > to)
        return;
    int32_t mf = gw_stats_month_of(from), mt = gw_stats_month_of(to);
    bool fa = from == gw_stats_month_start(mf), ta = to == gw_stats_month_start(mt + 1) - 1;
    if (mf == mt && !(fa && ta)) {
        sp->d1a = from;
        sp->d1b = to;
        return;
    }
    if (!fa) {
        sp->d1a = from;
        sp->d1b = gw_stats_month_start(mf + 1) - 1;
    }
    sp->m1 = fa ? mf : mf + 1;
    if (!ta) {
        sp->d2a = gw_stats_month_start(mt);
        sp->d2b = to;
    }
    sp->m2 = ta ? mt : mt - 1;
}

/* ---- pure: the rules of a case ---- */

bool gw_stats_missed(const hcp_case *c)
{
    if (c->overdue_marked & ((1u << HCP_DL_FEEDBACK) | (1u << HCP_DL_REREVIEW)))
        return true; /* the mark is permanent (hcp_case_deadline_met) */
    if (!c->adopted)
        return false; /* a review not adopted owes nothing */
    if (c->feedback_at != 0 && c->feedback_due.at != 0 && c->feedback_at > c->feedback_due.at)
        return true;
    return c->disputed_at != 0 && c->decided_at != 0 && c->decided_at > c->rereview_due.at;
}

hcp_time gw_stats_open_due(const hcp_case *c)
{
    if (c->status == HCP_ST_NONE || c->status == HCP_ST_CLOSED || gw_stats_missed(c))
        return 0;
    hcp_time due = 0;
    if (c->adopted && c->feedback_at == 0 && c->feedback_due.at != 0)
        due = c->feedback_due.at;
    if (c->disputed_at != 0 && c->decided_at == 0 && c->rereview_due.at != 0 &&
        (due == 0 || c->rereview_due.at < due))
        due = c->rereview_due.at;
    return due;
}

bool gw_stats_revisit_owed(const hcp_case *c)
{
    return c->adopted && c->outcome == HCP_OUT_SUBSTANTIATED && (c->reachable || c->real_name) &&
           c->feedback_at != 0;
}

/* ---- pure: keys ---- */

size_t gw_stats_key(uint8_t k[GW_ST_KEY_MAX], uint8_t kind, uint8_t gran, int32_t period,
                    const void *rest, size_t rlen)
{
    if (rlen > GW_ST_KEY_MAX - 6)
        return 0;
    k[0] = kind;
    k[1] = gran;
    hcp_be32_put(k + 2, (uint32_t)period);
    if (rlen > 0)
        memcpy(k + 6, rest, rlen);
    return 6 + rlen;
}

bool gw_stats_key_parse(const uint8_t *k, size_t len, uint8_t *kind, uint8_t *gran, int32_t *period,
                        const uint8_t **rest, size_t *rlen)
{
    if (k == NULL || len < 6 || len > GW_ST_KEY_MAX)
        return false;
    *kind = k[0];
    *gran = k[1];
    *period = (int32_t)hcp_be32_get(k + 2);
    *rest = k + 6;
    *rlen = len - 6;
    return true;
}

/* Append s (cut at GW_ST_CODE_MAX bytes) and a NUL to b at *n. */
static void put_code(uint8_t *b, size_t *n, const char *s)
{
    size_t l = s != NULL ? strnlen(s, GW_ST_CODE_MAX) : 0;
    if (l > 0)
        memcpy(b + *n, s, l);
    b[*n + l] = 0;
    *n += l + 1;
}

/* county, unit NUL (and staff NUL when staff) into b; its length. */
static size_t unit_rest(uint8_t *b, const char *county, const hcp_intake *in, bool staff)
{
    size_t n = HCP_COUNTY_LEN;
    memcpy(b, county, HCP_COUNTY_LEN);
    put_code(b, &n, in->unit.code);
    if (staff)
        put_code(b, &n, in->staff.id);
    return n;
}

int gw_stats_val_add(const void *val, size_t len, int64_t *sum, size_t nsum)
{
    const uint8_t *p = val;
    if (len < 1 || len != 1 + 8 * (size_t)p[0])
        return HCP_EFORMAT;
    for (size_t i = 0; i < p[0] && i < nsum; i++)
        sum[i] += (int64_t)hcp_be64_get(p + 1 + 8 * i);
    return HCP_OK;
}

size_t gw_stats_val_pack(const int64_t *v, size_t n, uint8_t out[GW_ST_VAL_MAX])
{
    if (n > GW_ST_VEC_MAX)
        n = GW_ST_VEC_MAX;
    out[0] = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        hcp_be64_put(out + 1 + 8 * i, (uint64_t)v[i]);
    return 1 + 8 * n;
}

/* ---- pure: contributions ---- */

/* A new bucket in out (NULL when out is full or the key cannot be built). */
static gw_st_item *add_item(gw_st_list *out, uint8_t kind, uint8_t gran, int32_t period,
                            const void *rest, size_t rlen, uint8_t n)
{
    if (out->n >= GW_ST_LIST_MAX)
        return NULL;
    gw_st_item *it = &out->it[out->n];
    memset(it->v, 0, sizeof(it->v));
    it->klen = (uint16_t)gw_stats_key(it->key, kind, gran, period, rest, rlen);
    if (it->klen == 0)
        return NULL;
    it->n = n;
    out->n++;
    return it;
}

/* One adopted case counted in a hot-spot kind, by day and by month. */
static void add_hot(gw_st_list *out, uint8_t kind, hcp_day day, const void *rest, size_t rlen)
{
    gw_st_item *a = add_item(out, kind, GW_STG_DAY, day, rest, rlen, 1);
    gw_st_item *b = add_item(out, kind, GW_STG_MONTH, gw_stats_month_of(day), rest, rlen, 1);
    if (a != NULL)
        a->v[0] = 1;
    if (b != NULL)
        b->v[0] = 1;
}

/* The county bucket's counts of c. */
static void county_vec(const hcp_case *c, int64_t v[GW_SC_N_])
{
    memset(v, 0, sizeof(int64_t) * GW_SC_N_);
    v[GW_SC_CASES] = 1;
    if (c->status > HCP_ST_NONE && c->status < HCP_ST_COUNT_)
        v[GW_SC_STATUS + c->status - 1] = 1;
    if (c->outcome < HCP_OUT_COUNT_)
        v[GW_SC_OUTCOME + c->outcome] = 1;
    if (c->in.kind == HCP_KIND_REVIEW)
        v[GW_SC_REVIEW] = 1;
    else if (c->in.kind == HCP_KIND_COMPLAINT)
        v[GW_SC_COMPLAINT] = 1;
    bool missed = gw_stats_missed(c);
    if (c->status == HCP_ST_CLOSED)
        v[missed ? GW_SC_LATE_CLOSED : GW_SC_ON_TIME] = 1;
    else if (missed)
        v[GW_SC_LATE_OPEN] = 1;
    if (gw_stats_revisit_owed(c)) {
        v[GW_SC_REVISIT_OWED] = 1;
        v[GW_SC_REVISITED] = c->revisited_at != 0;
        v[GW_SC_SATISFIED] = c->revisited_at != 0 && c->revisit_satisfied;
    }
}

/* Whether c counts for its staff member (Art. 11), and as pending. */
static bool staff_counts(const hcp_case *c, const hcp_intake *in)
{
    return in->staff.id != NULL && in->staff.id[0] != '\0' && in->unit.code != NULL && c->adopted &&
           c->outcome == HCP_OUT_SUBSTANTIATED;
}

void gw_stats_case_contrib(const hcp_case *c, const hcp_intake *in, gw_st_list *out)
{
    out->n = 0;
    if (c->status == HCP_ST_NONE)
        return;
    hcp_case k = *c; /* county_vec reads the kind from the intake given */
    k.in.kind = in->kind;
    hcp_day day = hcp_day_of(c->received_at);
    int32_t year = gw_stats_year_of(day);
    gw_st_item *d =
        add_item(out, GW_STK_COUNTY, GW_STG_DAY, day, c->county, HCP_COUNTY_LEN, GW_SC_N_);
    gw_st_item *m = add_item(out, GW_STK_COUNTY, GW_STG_MONTH, gw_stats_month_of(day), c->county,
                             HCP_COUNTY_LEN, GW_SC_N_);
    if (d != NULL)
        county_vec(&k, d->v);
    if (m != NULL)
        county_vec(&k, m->v);
    uint8_t rest[GW_ST_KEY_MAX];
    size_t rl;
    bool pending = c->status == HCP_ST_DISPUTED;
    if (c->adopted) { /* Art. 12: cases found mistaken or malicious are no hot spot */
        if (in->service_item.code != NULL) {
            rl = 0;
            put_code(rest, &rl, in->service_item.code);
            add_hot(out, GW_STK_ITEM, day, rest, rl);
        }
        if (in->unit.code != NULL)
            add_hot(out, GW_STK_UNIT, day, rest, unit_rest(rest, c->county, in, false));
        for (int dim = 1; dim < HCP_DIM_COUNT_; dim++)
            if (in->dimensions & HCP_DIM_BIT(dim)) {
                uint8_t b = (uint8_t)dim;
                add_hot(out, GW_STK_DIM, day, &b, 1);
            }
    }
    if (in->kind == HCP_KIND_REVIEW && in->unit.code != NULL) {
        gw_st_item *u = add_item(out, GW_STK_RATING, GW_STG_YEAR, year, rest,
                                 unit_rest(rest, c->county, in, false), GW_SU_N_);
        if (u != NULL) {
            u->v[GW_SU_RATINGS] = 1; /* the rating was given, whatever became of it */
            if (c->adopted)
                u->v[pending ? GW_SU_PENDING : GW_SU_NEGATIVE] = 1;
        }
    }
    if (staff_counts(c, in)) {
        gw_st_item *f = add_item(out, GW_STK_STAFF, GW_STG_YEAR, year, rest,
                                 unit_rest(rest, c->county, in, true), GW_SF_N_);
        if (f != NULL)
            f->v[pending ? GW_SF_PENDING : GW_SF_CASES] = 1;
    }
}

/* A set key: kind, gran, period, rest, then the case id. */
static void add_set(gw_st_sets *out, uint8_t kind, uint8_t gran, int32_t period,
                    const uint8_t *rest, size_t rlen, const char *id, uint8_t val)
{
    if (out->n >= GW_ST_SETS_MAX)
        return;
    uint8_t b[GW_ST_KEY_MAX];
    size_t il = strnlen(id, HCP_CASE_ID_MAX - 1);
    if (rlen + il > sizeof(b))
        return;
    memcpy(b, rest, rlen);
    memcpy(b + rlen, id, il);
    size_t n = gw_stats_key(out->k[out->n].key, kind, gran, period, b, rlen + il);
    if (n == 0)
        return;
    out->k[out->n].klen = (uint16_t)n;
    out->k[out->n].val = val;
    out->n++;
}

void gw_stats_case_sets(const hcp_case *c, const hcp_intake *in, gw_st_sets *out)
{
    out->n = 0;
    if (c->status == HCP_ST_NONE)
        return;
    hcp_day day = hcp_day_of(c->received_at);
    int32_t year = gw_stats_year_of(day);
    bool pending = c->status == HCP_ST_DISPUTED;
    uint8_t rest[GW_ST_KEY_MAX];
    if (staff_counts(c, in))
        add_set(out, 'F', GW_STG_YEAR, year, rest, unit_rest(rest, c->county, in, true), c->id,
                pending ? 2 : 1);
    if (in->kind == HCP_KIND_REVIEW && in->unit.code != NULL && c->adopted && pending)
        add_set(out, 'Q', GW_STG_YEAR, year, rest, unit_rest(rest, c->county, in, false), c->id, 2);
    if (gw_stats_revisit_owed(c) && c->revisited_at == 0)
        add_set(out, 'R', GW_STG_DAY, day, (const uint8_t *)c->county, HCP_COUNTY_LEN, c->id, 0);
}

/* The bucket of out with key k, or NULL. */
static gw_st_item *find_item(gw_st_list *out, const uint8_t *k, size_t klen)
{
    for (size_t i = 0; i < out->n; i++)
        if (out->it[i].klen == klen && memcmp(out->it[i].key, k, klen) == 0)
            return &out->it[i];
    return NULL;
}

void gw_stats_delta(const gw_st_list *before, const gw_st_list *after, gw_st_list *out)
{
    /* only the buckets in use: a whole list is 14 KB, a case uses about 12 */
    out->n = after->n;
    if (after->n > 0)
        memcpy(out->it, after->it, after->n * sizeof(after->it[0]));
    for (size_t i = 0; i < before->n; i++) {
        const gw_st_item *b = &before->it[i];
        gw_st_item *o = find_item(out, b->key, b->klen);
        if (o == NULL && out->n < GW_ST_LIST_MAX) {
            o = &out->it[out->n++];
            memcpy(o->key, b->key, b->klen);
            o->klen = b->klen;
            o->n = 0;
            memset(o->v, 0, sizeof(o->v));
        }
        if (o == NULL)
            continue;
        if (b->n > o->n)
            o->n = b->n;
        for (size_t j = 0; j < b->n; j++)
            o->v[j] -= b->v[j];
    }
    size_t w = 0;
    for (size_t i = 0; i < out->n; i++) {
        bool zero = true;
        for (size_t j = 0; j < out->it[i].n; j++)
            zero = zero && out->it[i].v[j] == 0;
        if (!zero) {
            if (w != i)
                out->it[w] = out->it[i];
            w++;
        }
    }
    out->n = w;
}

/* ---- in the store ---- */

/* Add v[0..n) to the stored counts sum (have of them): the length of the
 * result (at most GW_ST_VEC_MAX), and in *zero whether every count is 0. */
static size_t cnt_sum(int64_t sum[GW_ST_VEC_MAX], size_t have, const int64_t *v, size_t n,
                      bool *zero)
{
    size_t len = have > n ? have : n;
    if (len > GW_ST_VEC_MAX)
        len = GW_ST_VEC_MAX;
    *zero = true;
    for (size_t i = 0; i < len; i++) {
        if (i < n)
            sum[i] += v[i];
        *zero = *zero && sum[i] == 0;
    }
    return len;
}

/* Add counts v[0..n) to bucket k of st_cnt (deleted when all zero). */
static int cnt_add(gw_store *s, MDB_txn *txn, const uint8_t *k, size_t klen, const int64_t *v,
                   size_t n)
{
    int64_t sum[GW_ST_VEC_MAX];
    memset(sum, 0, sizeof(sum));
    MDB_val key = {klen, (void *)k}, val;
    size_t have = 0;
    int rc = gws_err(mdb_get(txn, s->st_cnt, &key, &val));
    if (rc == HCP_OK) {
        have = val.mv_size >= 1 ? ((const uint8_t *)val.mv_data)[0] : 0;
        rc = gw_stats_val_add(val.mv_data, val.mv_size, sum, GW_ST_VEC_MAX);
    } else if (rc == HCP_ENOTFOUND)
        rc = HCP_OK;
    if (rc != HCP_OK)
        return rc;
    bool zero;
    size_t len = cnt_sum(sum, have, v, n, &zero);
    if (zero)
        return have > 0 || val.mv_size > 0 ? gws_err(mdb_del(txn, s->st_cnt, &key, NULL)) : HCP_OK;
    uint8_t out[GW_ST_VAL_MAX];
    MDB_val nv = {gw_stats_val_pack(sum, len, out), out};
    return gws_err(mdb_put(txn, s->st_cnt, &key, &nv, 0));
}

/* Whether sets a holds key (klen bytes) with value val. */
static bool set_has(const gw_st_sets *a, const uint8_t *key, size_t klen, uint8_t val)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->k[i].klen == klen && a->k[i].val == val && memcmp(a->k[i].key, key, klen) == 0)
            return true;
    return false;
}

/* Move the set memberships from a (old) to b (new). */
static int sets_move(gw_store *s, MDB_txn *txn, const gw_st_sets *a, const gw_st_sets *b)
{
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < a->n; i++)
        if (!set_has(b, a->k[i].key, a->k[i].klen, a->k[i].val)) {
            MDB_val key = {a->k[i].klen, (void *)a->k[i].key};
            rc = gws_err(mdb_del(txn, s->st_set, &key, NULL));
            if (rc == HCP_ENOTFOUND)
                rc = HCP_OK;
        }
    for (size_t i = 0; rc == HCP_OK && i < b->n; i++)
        if (!set_has(a, b->k[i].key, b->k[i].klen, b->k[i].val)) {
            MDB_val key = {b->k[i].klen, (void *)b->k[i].key}, v = {1, (void *)&b->k[i].val};
            rc = gws_err(mdb_put(txn, s->st_set, &key, &v, 0));
        }
    return rc;
}

static size_t due_key(uint8_t k[DUE_KEY], hcp_time due, const char *id)
{
    size_t il = strnlen(id, HCP_CASE_ID_MAX - 1);
    hcp_be64_put(k, (uint64_t)due);
    memcpy(k + 8, id, il);
    return 8 + il;
}

/* Move case c's entry in the due index from old to new (0: none). */
static int due_move(gw_store *s, MDB_txn *txn, const hcp_case *c, hcp_time old, hcp_time new)
{
    if (old == new)
        return HCP_OK;
    uint8_t k[DUE_KEY];
    int rc = HCP_OK;
    if (old != 0) {
        MDB_val key = {due_key(k, old, c->id), k};
        rc = gws_err(mdb_del(txn, s->st_due, &key, NULL));
        if (rc == HCP_ENOTFOUND)
            rc = HCP_OK;
    }
    if (rc == HCP_OK && new != 0) {
        uint8_t v[DUE_VAL];
        memcpy(v, c->county, HCP_COUNTY_LEN);
        hcp_be32_put(v + HCP_COUNTY_LEN, (uint32_t)hcp_day_of(c->received_at));
        MDB_val key = {due_key(k, new, c->id), k}, val = {sizeof(v), v};
        rc = gws_err(mdb_put(txn, s->st_due, &key, &val, 0));
    }
    return rc;
}

static bool name_known(gw_store *s, const uint8_t *k, size_t klen, const char *name, size_t nl);
static void name_seen(gw_store *s, const uint8_t *k, size_t klen, const char *name, size_t nl);

/* Keep name under key k (written only when new or changed). */
static int name_put(gw_store *s, MDB_txn *txn, const uint8_t *k, size_t klen, const char *name)
{
    if (name == NULL || klen == 0)
        return HCP_OK;
    size_t nl = strnlen(name, HCP_SHORT_MAX);
    if (name_known(s, k, klen, name, nl))
        return HCP_OK; /* this batch stored it already */
    MDB_val key = {klen, (void *)k}, v;
    int rc = gws_err(mdb_get(txn, s->st_name, &key, &v));
    if (rc == HCP_OK && v.mv_size == nl && memcmp(v.mv_data, name, nl) == 0) {
        name_seen(s, k, klen, name, nl);
        return HCP_OK;
    }
    if (rc != HCP_OK && rc != HCP_ENOTFOUND)
        return rc;
    MDB_val nv = {nl, (void *)name};
    rc = gws_err(mdb_put(txn, s->st_name, &key, &nv, 0));
    if (rc == HCP_OK)
        name_seen(s, k, klen, name, nl);
    return rc;
}

/* The names of an intake's unit, item and staff (st_name). */
static int names_put(gw_store *s, MDB_txn *txn, const char *county, const hcp_intake *in)
{
    uint8_t k[GW_ST_KEY_MAX];
    int rc = HCP_OK;
    if (in->unit.code != NULL) {
        k[0] = 'u';
        rc = name_put(s, txn, k, 1 + unit_rest(k + 1, county, in, false), in->unit.name);
        if (rc == HCP_OK && in->staff.id != NULL) {
            k[0] = 's';
            rc = name_put(s, txn, k, 1 + unit_rest(k + 1, county, in, true), in->staff.name);
        }
    }
    if (rc == HCP_OK && in->service_item.code != NULL) {
        size_t n = 1;
        k[0] = 'i';
        put_code(k, &n, in->service_item.code);
        rc = name_put(s, txn, k, n, in->service_item.name);
    }
    return rc;
}

/* ---- the deltas of a batch, summed before they are written ----
 * A county's batch often moves the same buckets many times (its cases of
 * one day, one unit): the writer collects the deltas of a batch here
 * (gw_stats_defer) and writes each bucket once (gw_stats_flush). */

#define ACC_SLOTS0 1024
#define ACC_MAX    65536 /* buckets collected before they are written anyway */

typedef struct acc_ent {
    bool used;
    uint8_t n;
    uint16_t klen;
    uint8_t key[GW_ST_KEY_MAX];
    int64_t v[GW_ST_VEC_MAX];
} acc_ent;

struct gw_st_acc {
    bool on;
    size_t cap, used; /* cap a power of two */
    acc_ent *tab;
    uint32_t *ix;  /* the slots in use (used of them, at most cap / 2): a flush
                    * or a drop visits these, not every slot of the table */
    acc_ent **srt; /* room for the flush's order (cap / 2 + 1) */
    /* the names this batch found stored (or stored): a case_open reads its
     * unit's, item's and staff member's, and a batch repeats them; an entry
     * is valid while gen is the batch's (a flush or a drop moves gen on) */
    struct name_ent *names;
    uint32_t gen;
};

#define NAME_SLOTS 512 /* a power of two */

typedef struct name_ent {
    uint32_t gen;
    uint16_t klen, nlen;
    uint8_t key[1 + GW_ST_KEY_MAX];
    char name[HCP_SHORT_MAX];
} name_ent;

/* FNV-1a of a key. */
static size_t key_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ULL;
    return (size_t)h;
}

/* The batch's name slot of key k, or NULL when names are not collected. */
static name_ent *name_slot(gw_store *s, const uint8_t *k, size_t klen)
{
    gw_st_acc *a = s->st_acc;
    if (a == NULL || !a->on || a->names == NULL || klen > sizeof(a->names[0].key))
        return NULL;
    return &a->names[key_hash(k, klen) & (NAME_SLOTS - 1)];
}

/* Whether this batch already found name stored under key k. */
static bool name_known(gw_store *s, const uint8_t *k, size_t klen, const char *name, size_t nl)
{
    const name_ent *e = name_slot(s, k, klen);
    return e != NULL && e->gen == s->st_acc->gen && e->klen == klen && e->nlen == nl &&
           memcmp(e->key, k, klen) == 0 && memcmp(e->name, name, nl) == 0;
}

/* Remember that name is stored under key k (in this batch's transaction). */
static void name_seen(gw_store *s, const uint8_t *k, size_t klen, const char *name, size_t nl)
{
    name_ent *e = name_slot(s, k, klen);
    if (e == NULL || nl > sizeof(e->name))
        return;
    e->gen = s->st_acc->gen;
    e->klen = (uint16_t)klen;
    e->nlen = (uint16_t)nl;
    memcpy(e->key, k, klen);
    memcpy(e->name, name, nl);
}

/* A new batch of names: every remembered one is forgotten. */
static void names_forget(gw_st_acc *a)
{
    if (++a->gen == 0) { /* wrapped: old entries could match again */
        if (a->names != NULL)
            memset(a->names, 0, NAME_SLOTS * sizeof(a->names[0]));
        a->gen = 1;
    }
}

/* The slot of key k in tab (cap slots): its index, or the free one's. */
static size_t acc_slot(const acc_ent *tab, size_t cap, const uint8_t *k, size_t klen)
{
    size_t i = key_hash(k, klen) & (cap - 1);
    while (tab[i].used && !(tab[i].klen == klen && memcmp(tab[i].key, k, klen) == 0))
        i = (i + 1) & (cap - 1);
    return i;
}

/* Double the table; false when out of memory (the old one is kept). */
static bool acc_grow(gw_st_acc *a)
{
    size_t cap = a->cap ? a->cap * 2 : ACC_SLOTS0;
    acc_ent *tab = calloc(cap, sizeof(acc_ent));
    uint32_t *ix = calloc(cap / 2 + 1, sizeof(uint32_t));
    acc_ent **srt = calloc(cap / 2 + 1, sizeof(acc_ent *));
    if (tab == NULL || ix == NULL || srt == NULL) {
        free(tab);
        free(ix);
        free(srt);
        return false;
    }
    for (size_t i = 0; i < a->used; i++) {
        size_t j = acc_slot(tab, cap, a->tab[a->ix[i]].key, a->tab[a->ix[i]].klen);
        tab[j] = a->tab[a->ix[i]];
        ix[i] = (uint32_t)j;
    }
    free(a->tab);
    free(a->ix);
    free(a->srt);
    a->tab = tab;
    a->ix = ix;
    a->srt = srt;
    a->cap = cap;
    return true;
}

void gw_stats_defer(gw_store *s)
{
    if (s->st_acc == NULL)
        s->st_acc = calloc(1, sizeof(gw_st_acc));
    if (s->st_acc != NULL && s->st_acc->names == NULL) { /* without it: every name read */
        s->st_acc->names = calloc(NAME_SLOTS, sizeof(name_ent));
        s->st_acc->gen = 1;
    }
    if (s->st_acc != NULL && (s->st_acc->cap > 0 || acc_grow(s->st_acc)))
        s->st_acc->on = true; /* else (out of memory): written at once, as without it */
}

/* Add counts v[0..n) to stored bucket k through cursor cur (one lookup:
 * the put replaces the entry the cursor stands on); deleted when every
 * count sums to zero. */
static int cnt_add_cur(MDB_cursor *cur, const uint8_t *k, size_t klen, const int64_t *v, size_t n)
{
    int64_t sum[GW_ST_VEC_MAX];
    memset(sum, 0, sizeof(sum));
    MDB_val key = {klen, (void *)k}, val = {0, NULL};
    size_t have = 0;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
    int rc = gws_err(mrc);
    if (rc == HCP_OK) {
        have = val.mv_size >= 1 ? ((const uint8_t *)val.mv_data)[0] : 0;
        rc = gw_stats_val_add(val.mv_data, val.mv_size, sum, GW_ST_VEC_MAX);
    } else if (rc == HCP_ENOTFOUND)
        rc = HCP_OK;
    if (rc != HCP_OK)
        return rc;
    bool found = mrc == MDB_SUCCESS;
    bool zero;
    size_t len = cnt_sum(sum, have, v, n, &zero);
    if (zero)
        return found ? gws_err(mdb_cursor_del(cur, 0)) : HCP_OK;
    uint8_t out[GW_ST_VAL_MAX];
    MDB_val nv = {gw_stats_val_pack(sum, len, out), out};
    key.mv_size = klen;
    key.mv_data = (void *)k;
    return gws_err(mdb_cursor_put(cur, &key, &nv, found ? MDB_CURRENT : 0));
}

/* Order of two collected buckets: by key, as LMDB sorts them. */
static int acc_cmp(const void *x, const void *y)
{
    const acc_ent *a = *(acc_ent *const *)x, *b = *(acc_ent *const *)y;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->key, b->key, n);
    return c != 0 ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/* Write every collected bucket to txn and empty the table (stays on): in
 * key order, through one cursor, so that neighbouring buckets share the
 * pages LMDB just walked. */
static int acc_write(gw_store *s, MDB_txn *txn)
{
    gw_st_acc *a = s->st_acc;
    if (a == NULL || a->used == 0)
        return HCP_OK;
    for (size_t i = 0; i < a->used; i++)
        a->srt[i] = &a->tab[a->ix[i]];
    qsort(a->srt, a->used, sizeof(acc_ent *), acc_cmp);
    MDB_cursor *cur = NULL;
    int rc = gws_err(mdb_cursor_open(txn, s->st_cnt, &cur));
    for (size_t i = 0; i < a->used; i++) {
        acc_ent *e = a->srt[i];
        bool zero = true;
        for (size_t j = 0; j < e->n; j++)
            zero = zero && e->v[j] == 0;
        if (rc == HCP_OK && !zero)
            rc = cnt_add_cur(cur, e->key, e->klen, e->v, e->n);
        e->used = false;
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    a->used = 0;
    return rc;
}

int gw_stats_flush(gw_store *s, MDB_txn *txn)
{
    if (s == NULL || s->st_acc == NULL)
        return HCP_OK;
    int rc = acc_write(s, txn);
    s->st_acc->on = false;
    names_forget(s->st_acc);
    return rc;
}

void gw_stats_drop(gw_store *s)
{
    gw_st_acc *a = s != NULL ? s->st_acc : NULL;
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->used; i++)
        a->tab[a->ix[i]].used = false;
    a->used = 0;
    a->on = false;
    names_forget(a);
}

void gw_stats_free(gw_store *s)
{
    if (s == NULL || s->st_acc == NULL)
        return;
    free(s->st_acc->tab);
    free(s->st_acc->ix);
    free(s->st_acc->srt);
    free(s->st_acc->names);
    free(s->st_acc);
    s->st_acc = NULL;
}

/* Add counts v[0..n) to bucket k: collected when deferring, else written. */
static int bucket_add(gw_store *s, MDB_txn *txn, const uint8_t *k, size_t klen, const int64_t *v,
                      size_t n)
{
    gw_st_acc *a = s->st_acc;
    if (a == NULL || !a->on || klen > GW_ST_KEY_MAX || n > GW_ST_VEC_MAX)
        return cnt_add(s, txn, k, klen, v, n);
    if ((a->used + 1) * 2 > a->cap && !acc_grow(a))
        return cnt_add(s, txn, k, klen, v, n);
    size_t j = acc_slot(a->tab, a->cap, k, klen);
    acc_ent *e = &a->tab[j];
    if (!e->used) {
        e->used = true;
        e->n = 0;
        e->klen = (uint16_t)klen;
        memcpy(e->key, k, klen);
        memset(e->v, 0, sizeof(e->v));
        a->ix[a->used++] = (uint32_t)j;
    }
    if (n > e->n)
        e->n = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        e->v[i] += v[i];
    return a->used >= ACC_MAX ? acc_write(s, txn) : HCP_OK;
}

typedef struct case_work {
    gw_st_list a, b, d;
    gw_st_sets sa, sb;
} case_work;

int gw_stats_case(gw_store *s, MDB_txn *txn, const hcp_case *before, const hcp_case *after)
{
    if (s == NULL || txn == NULL || before == NULL || after == NULL)
        return HCP_EINVAL;
    if (s->stats_off)
        return HCP_OK;
    case_work *w = malloc(sizeof(*w));
    if (w == NULL)
        return HCP_ENOMEM;
    w->d.n = 0;
    gw_stats_case_contrib(before, &after->in, &w->a);
    gw_stats_case_contrib(after, &after->in, &w->b);
    gw_stats_delta(&w->a, &w->b, &w->d);
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < w->d.n; i++)
        rc = bucket_add(s, txn, w->d.it[i].key, w->d.it[i].klen, w->d.it[i].v, w->d.it[i].n);
    if (rc == HCP_OK) {
        gw_stats_case_sets(before, &after->in, &w->sa);
        gw_stats_case_sets(after, &after->in, &w->sb);
        rc = sets_move(s, txn, &w->sa, &w->sb);
    }
    if (rc == HCP_OK)
        rc = due_move(s, txn, after, gw_stats_open_due(before), gw_stats_open_due(after));
    if (rc == HCP_OK && before->status == HCP_ST_NONE)
        rc = names_put(s, txn, after->county, &after->in);
    free(w);
    return rc;
}

int gw_stats_evaluation(gw_store *s, MDB_txn *txn, const hcp_event *ev)
{
    if (s == NULL || txn == NULL || ev == NULL)
        return HCP_EINVAL;
    if (s->stats_off || ev->type != HCP_EV_EVALUATION || ev->in.unit.code == NULL ||
        ev->in.rating < 1 || ev->in.rating > 5 || strlen(ev->county) != HCP_COUNTY_LEN)
        return HCP_OK;
    uint8_t rest[GW_ST_KEY_MAX], k[GW_ST_KEY_MAX];
    size_t kl = gw_stats_key(k, GW_STK_RATING, GW_STG_YEAR, gw_stats_year_of(hcp_day_of(ev->at)),
                             rest, unit_rest(rest, ev->county, &ev->in, false));
    int64_t v[GW_SU_N_] = {1, 0, 0};
    int rc = kl > 0 ? bucket_add(s, txn, k, kl, v, GW_SU_N_) : HCP_OK;
    if (rc == HCP_OK)
        rc = names_put(s, txn, ev->county, &ev->in);
    return rc;
}

/* ---- a store written before the figures ---- */

/* The st_name key that says the figures were counted (a name key never
 * starts with a NUL). */
static const uint8_t counted_key[] = {0, 'v', '1'};

/* Every stored case through gw_stats_case, as if it had just appeared. */
static int rebuild_cases(gw_store *s, MDB_txn *txn, size_t *n)
{
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->cases, &cur));
    if (rc != HCP_OK)
        return rc;
    hcp_case none;
    memset(&none, 0, sizeof(none));
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[HCP_CASE_ID_MAX];
        if (!gws_case_key_id(&k, id))
            continue;
        hcp_case c;
        rc = hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, true, &c);
        if (rc != HCP_OK) /* personal record unreadable: count without it */
            rc = hcp_stored_case_unpack(s->sealer, id, v.mv_data, v.mv_size, false, &c);
        if (rc == HCP_OK)
            rc = gw_stats_case(s, txn, &none, &c);
        hcp_case_clear(&c);
        (*n)++;
    }
    mdb_cursor_close(cur);
    return rc == HCP_OK && mrc != MDB_NOTFOUND ? gws_err(mrc) : rc;
}

/* Every evaluation event of the log through gw_stats_evaluation. */
static int rebuild_ratings(gw_store *s, MDB_txn *txn, size_t *n)
{
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->log, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != HCP_COUNTY_LEN + 8)
            continue;
        char county[HCP_COUNTY_LEN + 1];
        memcpy(county, k.mv_data, HCP_COUNTY_LEN);
        county[HCP_COUNTY_LEN] = '\0';
        uint64_t seq = hcp_be64_get((const uint8_t *)k.mv_data + HCP_COUNTY_LEN);
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        if (hcp_stored_event_unpack(s->sealer, county, seq, v.mv_data, v.mv_size, false, NULL, NULL,
                                    NULL, &ev) == HCP_OK &&
            ev.type == HCP_EV_EVALUATION) {
            rc = gw_stats_evaluation(s, txn, &ev);
            (*n)++;
        }
        hcp_event_clear(&ev);
    }
    mdb_cursor_close(cur);
    return rc == HCP_OK && mrc != MDB_NOTFOUND ? gws_err(mrc) : rc;
}

int gw_stats_rebuild(gw_store *s, MDB_txn *txn)
{
    if (s == NULL || txn == NULL)
        return HCP_EINVAL;
    /* the checks' month tallies, which the summary reads with these figures
     * (checks.h), are made here too: kept with the counters on or off */
    int rc = gw_checks_upgrade(s, txn);
    if (rc != HCP_OK)
        return rc;
    MDB_val key = {sizeof(counted_key), (void *)counted_key}, v;
    rc = gws_err(mdb_get(txn, s->st_name, &key, &v));
    if (s->stats_off) { /* not kept from now on: recount when they are on again */
        rc = rc == HCP_OK ? gws_err(mdb_del(txn, s->st_name, &key, NULL)) : rc;
        return rc == HCP_ENOTFOUND ? HCP_OK : rc;
    }
    if (rc != HCP_ENOTFOUND)
        return rc; /* counted already (or a read error) */
    size_t cases = 0, ratings = 0;
    /* from nothing: whatever an earlier run kept is counted again */
    MDB_dbi dbs[] = {s->st_cnt, s->st_set, s->st_due, s->st_name};
    rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < sizeof(dbs) / sizeof(dbs[0]); i++)
        rc = gws_err(mdb_drop(txn, dbs[i], 0));
    if (rc == HCP_OK)
        rc = rebuild_cases(s, txn, &cases);
    if (rc == HCP_OK)
        rc = rebuild_ratings(s, txn, &ratings);
    uint8_t one = 1;
    MDB_val nv = {1, &one};
    if (rc == HCP_OK)
        rc = gws_err(mdb_put(txn, s->st_name, &key, &nv, 0));
    if (rc == HCP_OK && (cases > 0 || ratings > 0))
        gw_log("info", "stats.rebuilt", "cases=%zu ratings=%zu", cases, ratings);
    return rc;
}

/* ---- reading ---- */

/* Called per bucket of a scan: its period, granularity, rest and value. */
typedef int (*scan_fn)(void *arg, uint8_t gran, int32_t period, const uint8_t *rest, size_t rlen,
                       const MDB_val *v);

/* A scan_fn's answer that ends the scan early (not an error). */
#define SCAN_STOP (-1)

/* Every bucket of kind/gran with a period in [p1, p2] (nothing when p1 >
 * p2), from the first whose rest is after `after` (alen bytes; NULL: from
 * the start of p1); fn may end it with SCAN_STOP. */
static int scan_after(gw_store *s, MDB_txn *txn, uint8_t kind, uint8_t gran, int32_t p1, int32_t p2,
                      const uint8_t *after, size_t alen, scan_fn fn, void *arg)
{
    if (p1 > p2)
        return HCP_OK;
    uint8_t lo[GW_ST_KEY_MAX];
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->st_cnt, &cur));
    if (rc != HCP_OK)
        return rc;
    size_t lolen = gw_stats_key(lo, kind, gran, p1, after, after != NULL ? alen : 0);
    MDB_val k = {lolen, lo}, v;
    int mrc = lolen > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
    if (mrc == MDB_SUCCESS && after != NULL && k.mv_size == lolen &&
        memcmp(k.mv_data, lo, lolen) == 0) /* strictly after */
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint8_t kk, gg;
        int32_t p;
        const uint8_t *rest;
        size_t rl;
        if (!gw_stats_key_parse(k.mv_data, k.mv_size, &kk, &gg, &p, &rest, &rl) || kk != kind ||
            gg != gran || p > p2)
            break;
        rc = fn(arg, gran, p, rest, rl, &v);
    }
    mdb_cursor_close(cur);
    if (rc == SCAN_STOP)
        return HCP_OK;
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    return rc;
}

/* Every bucket of kind/gran with a period in [p1, p2]. */
static int scan(gw_store *s, MDB_txn *txn, uint8_t kind, uint8_t gran, int32_t p1, int32_t p2,
                scan_fn fn, void *arg)
{
    return scan_after(s, txn, kind, gran, p1, p2, NULL, 0, fn, arg);
}

/* The buckets of kind that sum days from..to (gw_stats_span). */
static int scan_span(gw_store *s, MDB_txn *txn, uint8_t kind, hcp_day from, hcp_day to, scan_fn fn,
                     void *arg)
{
    gw_st_span sp;
    gw_stats_span(from, to, &sp);
    int rc = scan(s, txn, kind, GW_STG_DAY, sp.d1a, sp.d1b, fn, arg);
    if (rc == HCP_OK)
        rc = scan(s, txn, kind, GW_STG_MONTH, sp.m1, sp.m2, fn, arg);
    if (rc == HCP_OK)
        rc = scan(s, txn, kind, GW_STG_DAY, sp.d2a, sp.d2b, fn, arg);
    return rc;
}

/* The name stored under key (1 + rest), as a new JSON string or null. */
static json_t *name_json(gw_store *s, MDB_txn *txn, uint8_t kind, const uint8_t *rest, size_t rl)
{
    uint8_t k[GW_ST_KEY_MAX + 1];
    if (rl > GW_ST_KEY_MAX)
        return json_null();
    k[0] = kind;
    memcpy(k + 1, rest, rl);
    MDB_val key = {rl + 1, k}, v;
    if (mdb_get(txn, s->st_name, &key, &v) != MDB_SUCCESS)
        return json_null();
    return json_stringn(v.mv_data, v.mv_size);
}

/* The NUL-terminated code at rest (at most rl bytes) as a new JSON string;
 * *used its length with the NUL. */
static json_t *code_json(const uint8_t *rest, size_t rl, size_t *used)
{
    size_t n = strnlen((const char *)rest, rl);
    *used = n < rl ? n + 1 : n;
    return json_stringn((const char *)rest, n);
}

/* rate = num / den, or null when den is 0. */
static json_t *rate_json(int64_t num, int64_t den)
{
    return den > 0 ? json_real((double)num / (double)den) : json_null();
}

/* Day d as "YYYY-MM-DD", or null when it is open (< 0). */
static json_t *date_json(hcp_day d)
{
    char buf[HCP_DATE_STRLEN];
    return d >= 0 && hcp_date_format(d, buf, sizeof(buf)) == HCP_OK ? json_string(buf)
                                                                    : json_null();
}

/* ---- the county accumulators (summary, feed) ---- */

typedef struct acc {
    size_t ndiv;
    const hcp_division *divs;
    int32_t *num; /* the divisions' codes as numbers, ascending */
    size_t *ord;  /* num[i] is divs[ord[i]]'s */
    hcp_day from, to;
    int64_t (*cnt)[GW_SC_N_]; /* per division */
    int64_t *late_due;        /* per division: open cases whose deadline has passed */
    int64_t (*mon)[GW_SC_N_]; /* per month index - DAY_MIN_Y * 12 (feed only) */
    int64_t *mon_due;
} acc;

/* A county code's six digits (c, at least HCP_COUNTY_LEN bytes) as a
 * number; -1 when they are not all digits. */
static int32_t code_num(const uint8_t *c)
{
    int32_t n = 0;
    for (int i = 0; i < HCP_COUNTY_LEN; i++) {
        if (c[i] < '0' || c[i] > '9')
            return -1;
        n = n * 10 + (c[i] - '0');
    }
    return n;
}

static int acc_init(acc *a, hcp_day from, hcp_day to, bool months)
{
    memset(a, 0, sizeof(*a));
    a->divs = hcp_divisions(&a->ndiv);
    a->from = from;
    a->to = to;
    a->cnt = calloc(a->ndiv + 1, sizeof(*a->cnt));
    a->late_due = calloc(a->ndiv + 1, sizeof(int64_t));
    a->num = calloc(a->ndiv + 1, sizeof(int32_t));
    a->ord = calloc(a->ndiv + 1, sizeof(size_t));
    if (months) {
        a->mon = calloc(MONTHS, sizeof(*a->mon));
        a->mon_due = calloc(MONTHS, sizeof(int64_t));
    }
    bool ok = a->cnt != NULL && a->late_due != NULL && a->num != NULL && a->ord != NULL &&
              (!months || (a->mon && a->mon_due));
    /* the codes sorted as numbers (insertion: a few dozen), so that a
     * bucket's county is found by comparing integers: the due index and the
     * buckets name one for every entry, and a string search per entry was a
     * good part of a summary */
    for (size_t i = 0; ok && i < a->ndiv; i++) {
        int32_t n = code_num((const uint8_t *)a->divs[i].code);
        size_t j = i;
        for (; j > 0 && a->num[j - 1] > n; j--) {
            a->num[j] = a->num[j - 1];
            a->ord[j] = a->ord[j - 1];
        }
        a->num[j] = n;
        a->ord[j] = i;
    }
    return ok ? HCP_OK : HCP_ENOMEM;
}

static void acc_free(acc *a)
{
    free(a->num);
    free(a->ord);
    free(a->cnt);
    free(a->late_due);
    free(a->mon);
    free(a->mon_due);
}

/* The division index of a county code (6 bytes), or ndiv when unknown. */
static size_t div_index(const acc *a, const uint8_t *code)
{
    int32_t n = code_num(code);
    size_t lo = 0, hi = a->ndiv;
    while (n >= 0 && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->num[mid] == n)
            return a->ord[mid];
        if (a->num[mid] < n)
            lo = mid + 1;
        else
            hi = mid;
    }
    return a->ndiv;
}

/* The month slot of a bucket (a day's or a month's), or -1. */
static int month_slot(uint8_t gran, int32_t p)
{
    int32_t m = gran == GW_STG_DAY ? gw_stats_month_of(p) : p;
    m -= DAY_MIN_Y * 12;
    return m >= 0 && m < MONTHS ? (int)m : -1;
}

static int acc_county(void *arg, uint8_t gran, int32_t p, const uint8_t *rest, size_t rl,
                      const MDB_val *v)
{
    acc *a = arg;
    if (rl != HCP_COUNTY_LEN)
        return HCP_OK;
    size_t i = div_index(a, rest);
    int rc = gw_stats_val_add(v->mv_data, v->mv_size, a->cnt[i], GW_SC_N_);
    int ms = a->mon != NULL ? month_slot(gran, p) : -1;
    if (rc == HCP_OK && ms >= 0)
        rc = gw_stats_val_add(v->mv_data, v->mv_size, a->mon[ms], GW_SC_N_);
    return rc;
}

/* The open cases whose earliest running deadline passed before now (st_due
 * holds only those not yet counted late), received from..to. */
static int acc_due(gw_store *s, MDB_txn *txn, acc *a, hcp_time now)
{
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->st_due, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 8 || v.mv_size != DUE_VAL)
            continue;
        if ((hcp_time)hcp_be64_get(k.mv_data) >= now)
            break; /* a deadline passes after its last second */
        hcp_day day = (hcp_day)hcp_be32_get((const uint8_t *)v.mv_data + HCP_COUNTY_LEN);
        if ((a->from >= 0 && day < a->from) || (a->to >= 0 && day > a->to))
            continue;
        a->late_due[div_index(a, v.mv_data)]++;
        int ms = a->mon != NULL ? month_slot(GW_STG_DAY, day) : -1;
        if (ms >= 0)
            a->mon_due[ms]++;
    }
    mdb_cursor_close(cur);
    return mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? HCP_OK : gws_err(mrc);
}

static int acc_load(gw_store *s, MDB_txn *txn, acc *a, hcp_time now)
{
    int rc = scan_span(s, txn, GW_STK_COUNTY, a->from, a->to, acc_county, a);
    return rc == HCP_OK ? acc_due(s, txn, a, now) : rc;
}

static void vec_add(int64_t *sum, const int64_t *v)
{
    for (int i = 0; i < GW_SC_N_; i++)
        sum[i] += v[i];
}

/* The public ROW (the /feed/stats.json contract, docs/stats.md). */
static json_t *feed_row(const int64_t *v, int64_t due)
{
    int64_t cases = v[GW_SC_CASES], closed = v[GW_SC_STATUS + HCP_ST_CLOSED - 1];
    int64_t on_time = v[GW_SC_ON_TIME], late = v[GW_SC_LATE_CLOSED] + v[GW_SC_LATE_OPEN] + due;
    int64_t owed = v[GW_SC_REVISIT_OWED], rev = v[GW_SC_REVISITED], sat = v[GW_SC_SATISFIED];
    return json_pack("{sI,sI,sI,sI,sI,so,sI,sI,so,sI,so}", "cases", (json_int_t)cases, "closed",
                     (json_int_t)closed, "open", (json_int_t)(cases - closed), "on_time",
                     (json_int_t)on_time, "late", (json_int_t)late, "on_time_rate",
                     rate_json(on_time, on_time + late), "revisit_owed", (json_int_t)owed,
                     "revisited", (json_int_t)rev, "revisit_rate", rate_json(rev, owed),
                     "satisfied", (json_int_t)sat, "satisfaction_rate", rate_json(sat, rev));
}

/* Add the figures of vector v (and due open-late cases) to object o. */
static int summary_fields(json_t *o, const int64_t *v, int64_t due)
{
    json_t *st = json_object(), *out = json_object();
    bool ok = st != NULL && out != NULL;
    for (int i = 1; ok && i < HCP_ST_COUNT_; i++)
        ok = json_object_set_new(st, hcp_status_names[i], json_integer(v[GW_SC_STATUS + i - 1])) ==
             0;
    for (int i = 0; ok && i < HCP_OUT_COUNT_; i++)
        ok = json_object_set_new(out, i == 0 ? "none" : hcp_outcome_names[i],
                                 json_integer(v[GW_SC_OUTCOME + i])) == 0;
    if (!ok) {
        json_decref(st);
        json_decref(out);
        return HCP_ENOMEM;
    }
    int64_t closed = v[GW_SC_STATUS + HCP_ST_CLOSED - 1];
    int64_t late_open = v[GW_SC_LATE_OPEN] + due, late = v[GW_SC_LATE_CLOSED] + late_open;
    int64_t owed = v[GW_SC_REVISIT_OWED], rev = v[GW_SC_REVISITED], sat = v[GW_SC_SATISFIED];
    json_t *fig = json_pack(
        "{sI,sI,sI,so,so,s{sI,sI},s{sI,sI,sI,sI,so},s{sI,sI,sI,so},s{sI,sI,so}}", "received",
        (json_int_t)v[GW_SC_CASES], "closed", (json_int_t)closed, "open",
        (json_int_t)(v[GW_SC_CASES] - closed), "by_status", st, "by_outcome", out, "by_kind",
        "review", (json_int_t)v[GW_SC_REVIEW], "complaint", (json_int_t)v[GW_SC_COMPLAINT],
        "on_time", "on_time", (json_int_t)v[GW_SC_ON_TIME], "late", (json_int_t)late, "late_closed",
        (json_int_t)v[GW_SC_LATE_CLOSED], "late_open", (json_int_t)late_open, "rate",
        rate_json(v[GW_SC_ON_TIME], v[GW_SC_ON_TIME] + late), "revisit", "owed", (json_int_t)owed,
        "revisited", (json_int_t)rev, "missing", (json_int_t)(owed - rev), "rate",
        rate_json(rev, owed), "satisfaction", "revisited", (json_int_t)rev, "satisfied",
        (json_int_t)sat, "rate", rate_json(sat, rev));
    if (fig == NULL || json_object_set_new(o, "figures", fig) != 0)
        return HCP_ENOMEM;
    return HCP_OK;
}

/* Whether division d is in the scope (county or prefecture, "" all). */
static bool in_scope(const hcp_division *d, const char *county, const char *prefecture)
{
    return (county == NULL || county[0] == '\0' || strcmp(d->code, county) == 0) &&
           (prefecture == NULL || prefecture[0] == '\0' || strcmp(d->prefecture, prefecture) == 0);
}

/* Append to arr the ids of the 'R' entries from the first key at or
 * after k0 (klen bytes) up to day hi; with c (a county code), only those
 * of k0's day and county c. At most MISSING_MAX: *more then. */
static int missing_run(MDB_cursor *cur, const uint8_t *k0, size_t klen, const char *c, hcp_day hi,
                       json_t *arr, bool *more)
{
    MDB_val k = {klen, (void *)k0}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    int rc = HCP_OK;
    int32_t day = (int32_t)hcp_be32_get(k0 + 2);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint8_t kind, gran;
        int32_t p;
        const uint8_t *rest;
        size_t rl;
        if (!gw_stats_key_parse(k.mv_data, k.mv_size, &kind, &gran, &p, &rest, &rl) ||
            kind != 'R' || gran != GW_STG_DAY || p > hi)
            return HCP_OK;
        if (c != NULL && (p != day || rl < HCP_COUNTY_LEN || memcmp(rest, c, HCP_COUNTY_LEN) != 0))
            return HCP_OK; /* past the county's entries of that day */
        if (rl <= HCP_COUNTY_LEN)
            continue;
        if (json_array_size(arr) >= MISSING_MAX) {
            *more = true;
            return HCP_OK;
        }
        if (json_array_append_new(
                arr, json_stringn((const char *)rest + HCP_COUNTY_LEN, rl - HCP_COUNTY_LEN)) != 0)
            rc = HCP_ENOMEM;
    }
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    return rc;
}

/* The ids of revisits owed and not made, received from..to, in scope:
 * at most MISSING_MAX into arr; *more when there were others. The set's
 * keys are day | county | id: all counties are one run; a county or a
 * prefecture is read by seeking to each of its counties in each day that
 * has entries, not by reading every county's entries and skipping. */
static int missing_ids(gw_store *s, MDB_txn *txn, const char *county, const char *prefecture,
                       hcp_day from, hcp_day to, json_t *arr, bool *more)
{
    gw_st_span sp;
    gw_stats_span(from, to, &sp); /* only its clamping: one day range */
    hcp_day lo = sp.d1a <= sp.d1b ? sp.d1a : sp.m1 <= sp.m2 ? gw_stats_month_start(sp.m1) : sp.d2a;
    hcp_day hi = sp.d2a <= sp.d2b ? sp.d2b
                 : sp.m1 <= sp.m2 ? gw_stats_month_start(sp.m2 + 1) - 1
                                  : sp.d1b;
    *more = false;
    size_t ndiv = 0, nin = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    const char **in = calloc(ndiv + 1, sizeof(char *)); /* the counties in scope, by code */
    if (in == NULL)
        return HCP_ENOMEM;
    for (size_t i = 0; i < ndiv; i++) {
        if (!in_scope(&divs[i], county, prefecture))
            continue;
        size_t j = nin++;
        for (; j > 0 && strcmp(in[j - 1], divs[i].code) > 0; j--)
            in[j] = in[j - 1];
        in[j] = divs[i].code;
    }
    bool all =
        (county == NULL || county[0] == '\0') && (prefecture == NULL || prefecture[0] == '\0');
    MDB_cursor *cur = NULL;
    int rc = gws_err(mdb_cursor_open(txn, s->st_set, &cur));
    uint8_t k0[GW_ST_KEY_MAX];
    if (rc == HCP_OK && all)
        rc = missing_run(cur, k0, gw_stats_key(k0, 'R', GW_STG_DAY, lo, NULL, 0), NULL, hi, arr,
                         more);
    for (hcp_day day = lo; rc == HCP_OK && !all && !*more && day <= hi;) {
        for (size_t i = 0; rc == HCP_OK && !*more && i < nin; i++)
            rc = missing_run(cur, k0, gw_stats_key(k0, 'R', GW_STG_DAY, day, in[i], HCP_COUNTY_LEN),
                             in[i], hi, arr, more);
        if (rc != HCP_OK || *more)
            break;
        /* on to the next day that has an entry, of any county */
        MDB_val k = {gw_stats_key(k0, 'R', GW_STG_DAY, day + 1, NULL, 0), k0}, v;
        int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        uint8_t kind, gran;
        int32_t p;
        const uint8_t *rest;
        size_t rl;
        if (mrc == MDB_SUCCESS &&
            gw_stats_key_parse(k.mv_data, k.mv_size, &kind, &gran, &p, &rest, &rl) && kind == 'R' &&
            gran == GW_STG_DAY && p > day)
            day = p;
        else if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
            rc = gws_err(mrc);
        else
            break;
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    free(in);
    return rc;
}

/* The prefectures of the divisions in use, in code order: *out a new array
 * of *n indexes into divs (one division of each prefecture). */
static int prefectures(const hcp_division *divs, size_t ndiv, size_t **out, size_t *n)
{
    size_t *p = calloc(ndiv + 1, sizeof(size_t));
    if (p == NULL)
        return HCP_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < ndiv; i++) {
        size_t j = 0;
        while (j < k && strcmp(divs[p[j]].prefecture, divs[i].prefecture) != 0)
            j++;
        if (j == k)
            p[k++] = i;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort by code: a handful */
        for (size_t j = i; j > 0 && strcmp(divs[p[j - 1]].prefecture, divs[p[j]].prefecture) > 0;
             j--) {
            size_t t = p[j];
            p[j] = p[j - 1];
            p[j - 1] = t;
        }
    *out = p;
    *n = k;
    return HCP_OK;
}

int gw_stats_summary_merge(gw_store *s, MDB_txn *txn, const char *county, const char *prefecture,
                           hcp_day from, hcp_day to, hcp_time now, json_t *body)
{
    acc a;
    int rc = acc_init(&a, from, to, false);
    if (rc == HCP_OK)
        rc = acc_load(s, txn, &a, now);
    int64_t total[GW_SC_N_] = {0}, total_due = 0;
    json_t *rows = json_object_get(body, "counties");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (rc != HCP_OK)
            break;
        const hcp_division *d =
            hcp_division_find(json_string_value(json_object_get(row, "county")));
        if (d == NULL)
            continue;
        size_t k = (size_t)(d - a.divs);
        rc = summary_fields(row, a.cnt[k], a.late_due[k]);
        vec_add(total, a.cnt[k]);
        total_due += a.late_due[k];
    }
    size_t *pf = NULL, npf = 0;
    json_t *parr = json_array(), *miss = json_array();
    if (rc == HCP_OK)
        rc = parr != NULL && miss != NULL ? prefectures(a.divs, a.ndiv, &pf, &npf) : HCP_ENOMEM;
    for (size_t p = 0; rc == HCP_OK && p < npf; p++) {
        const hcp_division *pd = &a.divs[pf[p]];
        if (county[0] != '\0' || (prefecture[0] != '\0' && strcmp(pd->prefecture, prefecture) != 0))
            continue;
        int64_t v[GW_SC_N_] = {0}, due = 0;
        for (size_t k = 0; k < a.ndiv; k++)
            if (strcmp(a.divs[k].prefecture, pd->prefecture) == 0) {
                vec_add(v, a.cnt[k]);
                due += a.late_due[k];
            }
        json_t *o = json_pack("{ss,ss}", "prefecture", pd->prefecture, "name",
                              pd->prefecture_name != NULL ? pd->prefecture_name : "");
        rc = o != NULL ? summary_fields(o, v, due) : HCP_ENOMEM;
        if (json_array_append_new(parr, o) != 0 && rc == HCP_OK)
            rc = HCP_ENOMEM;
    }
    bool more = false;
    if (rc == HCP_OK)
        rc = missing_ids(s, txn, county, prefecture, from, to, miss, &more);
    if (rc == HCP_OK)
        rc = summary_fields(body, total, total_due);
    if (rc == HCP_OK) /* the spot checks' results in the same scope (spot.h) */
        rc = gw_spot_stats_merge(s, txn, county, prefecture, from, to, body);
    if (rc == HCP_OK) {
        json_t *fig = json_object_get(body, "figures");
        if (json_object_set(body, "prefectures", parr) != 0 ||
            json_object_set(json_object_get(fig, "revisit"), "missing_ids", miss) != 0 ||
            json_object_set_new(json_object_get(fig, "revisit"), "missing_ids_more",
                                json_boolean(more)) != 0)
            rc = HCP_ENOMEM;
    }
    json_decref(parr);
    json_decref(miss);
    free(pf);
    acc_free(&a);
    return rc;
}

/* ---- parameters ---- */

/* Answer 400 invalid_parameter naming the parameter; returns false. */
static bool bad_param(hcpd_req *r, const char *detail)
{
    hcpd_req_reply_error(r, 400, "invalid_parameter", detail);
    return false;
}

/* A date parameter (YYYY-MM-DD) into *day (-1 absent; required: 400). */
static bool date_param(hcpd_req *r, const char *key, bool required, hcp_day *day)
{
    char buf[32], detail[96];
    *day = -1;
    int q = hcpd_req_query_get(r, key, buf, sizeof(buf));
    if (q == HCPD_Q_ABSENT || (q == HCPD_Q_OK && buf[0] == '\0' && !required)) {
        if (!required)
            return true;
        snprintf(detail, sizeof(detail), "%s: required, a date YYYY-MM-DD", key);
        return bad_param(r, detail);
    }
    if (q == HCPD_Q_OK && strlen(buf) == 10 && hcp_date_parse(buf, 10, day) == HCP_OK &&
        *day >= day_min() && *day <= day_max())
        return true;
    snprintf(detail, sizeof(detail), "%s: expected a date YYYY-MM-DD between %d and %d", key,
             DAY_MIN_Y, DAY_MAX_Y);
    return bad_param(r, detail);
}

/* from/to (optional or required), from not after to. */
static bool range_params(hcpd_req *r, bool required, hcp_day *from, hcp_day *to)
{
    if (!date_param(r, "from", required, from) || !date_param(r, "to", required, to))
        return false;
    if (*from >= 0 && *to >= 0 && *from > *to)
        return bad_param(r, "from: after to");
    return true;
}

/* year=YYYY (required). */
static bool year_param(hcpd_req *r, int32_t *year)
{
    char buf[16];
    int q = hcpd_req_query_get(r, "year", buf, sizeof(buf));
    char *end = NULL;
    long y = q == HCPD_Q_OK ? strtol(buf, &end, 10) : 0;
    if (q != HCPD_Q_OK || strlen(buf) != 4 || end == NULL || *end != '\0' || y < DAY_MIN_Y ||
        y > DAY_MAX_Y)
        return bad_param(r, "year: required, a year YYYY between 2000 and 2199");
    *year = (int32_t)y;
    return true;
}

/* Refuse query parameters the route does not know (keys NULL-terminated). */
static bool only_params(hcpd_req *r, const char *const *keys)
{
    if (!hcpd_req_params_ok(r, keys, 64))
        return false;
    return true;
}

/* Reply body (stolen), or 500/503 for rc or a NULL body. */
static void reply(hcpd_req *r, int rc, json_t *body)
{
    if (rc != HCP_OK) {
        json_decref(body);
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
    } else if (body == NULL)
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
    else
        hcpd_req_reply_json(r, 200, body);
}

/* ---- GET /v1/stats/units ---- */

typedef struct units_q {
    gw_store *s;
    MDB_txn *txn;
    int32_t year;
    json_t *rows;
    size_t limit;                /* staff: rows per page */
    bool more;                   /* staff: another row follows this page */
    uint8_t last[GW_ST_KEY_MAX]; /* staff: the key rest of the page's last row */
    size_t last_len;
} units_q;

/* The case ids of the set entries under prefix (kind 'Q' or 'F', year,
 * rest), split by value into counted (1) and pending (2). */
static int set_ids(gw_store *s, MDB_txn *txn, uint8_t kind, int32_t year, const uint8_t *rest,
                   size_t rl, json_t *counted, json_t *pending)
{
    uint8_t pre[GW_ST_KEY_MAX];
    size_t pl = gw_stats_key(pre, kind, GW_STG_YEAR, year, rest, rl);
    if (pl == 0)
        return HCP_OK;
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->st_set, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k = {pl, pre}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= pl || memcmp(k.mv_data, pre, pl) != 0)
            break;
        json_t *to = v.mv_size == 1 && ((const uint8_t *)v.mv_data)[0] == 2 ? pending : counted;
        if (to != NULL && json_array_size(to) < IDS_MAX &&
            json_array_append_new(to, json_stringn((const char *)k.mv_data + pl, k.mv_size - pl)) !=
                0)
            rc = HCP_ENOMEM;
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    return rc;
}

/* County code (6 bytes) as a new JSON string. */
static json_t *county_json(const uint8_t *rest)
{
    return json_stringn((const char *)rest, HCP_COUNTY_LEN);
}

static int unit_row(void *arg, uint8_t gran, int32_t p, const uint8_t *rest, size_t rl,
                    const MDB_val *v)
{
    (void)gran;
    (void)p;
    units_q *q = arg;
    int64_t c[GW_SU_N_] = {0};
    int rc = gw_stats_val_add(v->mv_data, v->mv_size, c, GW_SU_N_);
    if (rc != HCP_OK || rl <= HCP_COUNTY_LEN)
        return rc;
    size_t used;
    json_t *code = code_json(rest + HCP_COUNTY_LEN, rl - HCP_COUNTY_LEN, &used);
    json_t *pend = json_array();
    if (rc == HCP_OK && c[GW_SU_PENDING] > 0 && pend != NULL)
        rc = set_ids(q->s, q->txn, 'Q', q->year, rest, rl, NULL, pend);
    /* Art. 11: strictly above 5 %: negative * 100 > 5 * ratings, in integers */
    bool over = c[GW_SU_RATINGS] > 0 && c[GW_SU_NEGATIVE] * 100 > 5 * c[GW_SU_RATINGS];
    json_t *row =
        json_pack("{so,s{so,so},sI,sI,so,sb,sI,so}", "county", county_json(rest), "unit", "code",
                  code, "name", name_json(q->s, q->txn, 'u', rest, rl), "ratings",
                  (json_int_t)c[GW_SU_RATINGS], "negative", (json_int_t)c[GW_SU_NEGATIVE], "share",
                  rate_json(c[GW_SU_NEGATIVE], c[GW_SU_RATINGS]), "over_threshold", over, "pending",
                  (json_int_t)c[GW_SU_PENDING], "pending_ids", pend);
    if (rc == HCP_OK && (row == NULL || json_array_append_new(q->rows, row) != 0))
        rc = HCP_ENOMEM;
    else if (rc != HCP_OK)
        json_decref(row);
    return rc;
}

void gw_stats_units_route(gw *g, hcpd_req *r)
{
    static const char *const keys[] = {"year", NULL};
    units_q q = {.s = g->store};
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor") || !only_params(r, keys) ||
        !year_param(r, &q.year))
        return;
    q.rows = json_array();
    int rc = q.rows != NULL ? gws_read_begin(g->store, &q.txn) : HCP_ENOMEM;
    if (rc == HCP_OK) {
        rc = scan(g->store, q.txn, GW_STK_RATING, GW_STG_YEAR, q.year, q.year, unit_row, &q);
        gws_read_end(g->store, q.txn);
    }
    size_t over = 0, pending = 0, i;
    json_t *row;
    json_array_foreach(q.rows, i, row)
    {
        over += json_is_true(json_object_get(row, "over_threshold"));
        pending += (size_t)json_integer_value(json_object_get(row, "pending"));
    }
    json_t *body =
        rc == HCP_OK ? json_pack("{si,sf,sI,sI,so}", "year", (int)q.year, "threshold", 0.05, "over",
                                 (json_int_t)over, "pending", (json_int_t)pending, "units", q.rows)
                     : NULL;
    if (body == NULL && rc != HCP_OK)
        json_decref(q.rows);
    reply(r, rc, body);
}

/* ---- GET /v1/stats/staff ---- */

static int staff_row(void *arg, uint8_t gran, int32_t p, const uint8_t *rest, size_t rl,
                     const MDB_val *v)
{
    (void)gran;
    (void)p;
    units_q *q = arg;
    int64_t c[GW_SF_N_] = {0};
    int rc = gw_stats_val_add(v->mv_data, v->mv_size, c, GW_SF_N_);
    /* Art. 11: 2 or more (以上 includes 2); listed too when open disputes could make it 2 */
    if (rc != HCP_OK || rl <= HCP_COUNTY_LEN || c[GW_SF_CASES] + c[GW_SF_PENDING] < 2)
        return rc;
    if (json_array_size(q->rows) >= q->limit) { /* the page is full: one more exists */
        q->more = true;
        return SCAN_STOP;
    }
    memcpy(q->last, rest, rl);
    q->last_len = rl;
    size_t ul, sl;
    json_t *ucode = code_json(rest + HCP_COUNTY_LEN, rl - HCP_COUNTY_LEN, &ul);
    json_t *sid = code_json(rest + HCP_COUNTY_LEN + ul, rl - HCP_COUNTY_LEN - ul, &sl);
    json_t *ids = json_array(), *pend = json_array();
    rc = ids != NULL && pend != NULL ? set_ids(q->s, q->txn, 'F', q->year, rest, rl, ids, pend)
                                     : HCP_ENOMEM;
    json_t *row =
        json_pack("{so,s{so,so},so,so,sI,so,sI,so,sb}", "county", county_json(rest), "unit", "code",
                  ucode, "name", name_json(q->s, q->txn, 'u', rest, HCP_COUNTY_LEN + ul),
                  "staff_id", sid, "staff_name", name_json(q->s, q->txn, 's', rest, rl), "cases",
                  (json_int_t)c[GW_SF_CASES], "case_ids", ids, "pending",
                  (json_int_t)c[GW_SF_PENDING], "pending_ids", pend, "listed", c[GW_SF_CASES] >= 2);
    if (rc == HCP_OK && (row == NULL || json_array_append_new(q->rows, row) != 0))
        rc = HCP_ENOMEM;
    else if (rc != HCP_OK)
        json_decref(row);
    return rc;
}

/* The bytes of hex string h into out (at most cap); false when h is empty,
 * not hex or does not fit. */
static bool hex_to(const char *h, uint8_t *out, size_t cap, size_t *n)
{
    long got = hcp_hex_decode(h, strlen(h), out, cap);
    if (got <= 0)
        return false;
    *n = (size_t)got;
    return true;
}

#define STAFF_LIMIT_DEF 100
#define STAFF_LIMIT_MAX 1000

void gw_stats_staff_route(gw *g, hcpd_req *r)
{
    static const char *const keys[] = {"year", "limit", "after", NULL};
    units_q q = {.s = g->store, .limit = STAFF_LIMIT_DEF};
    char lim[16], after[2 * GW_ST_KEY_MAX + 2];
    uint8_t from[GW_ST_KEY_MAX];
    size_t from_len = 0;
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor") || !only_params(r, keys) ||
        !year_param(r, &q.year))
        return;
    if (hcpd_req_query_get(r, "limit", lim, sizeof(lim)) == HCPD_Q_OK) {
        char *end = NULL;
        long l = strtol(lim, &end, 10);
        if (lim[0] == '\0' || end == NULL || *end != '\0' || l < 1 || l > STAFF_LIMIT_MAX) {
            (void)bad_param(r, "limit: an integer 1..1000");
            return;
        }
        q.limit = (size_t)l;
    }
    int aq = hcpd_req_query_get(r, "after", after, sizeof(after));
    if (aq == HCPD_Q_BAD ||
        (aq == HCPD_Q_OK && !hex_to(after, from, GW_ST_KEY_MAX - 6, &from_len))) {
        (void)bad_param(r, "after: the `next` of the previous page");
        return;
    }
    q.rows = json_array();
    int rc = q.rows != NULL ? gws_read_begin(g->store, &q.txn) : HCP_ENOMEM;
    if (rc == HCP_OK) {
        rc = scan_after(g->store, q.txn, GW_STK_STAFF, GW_STG_YEAR, q.year, q.year,
                        from_len > 0 ? from : NULL, from_len, staff_row, &q);
        gws_read_end(g->store, q.txn);
    }
    char next[2 * GW_ST_KEY_MAX + 1];
    if (q.more)
        hcp_hex_encode(q.last, q.last_len, next);
    json_t *body = rc == HCP_OK
                       ? json_pack("{si,si,so,so}", "year", (int)q.year, "threshold", 2, "staff",
                                   q.rows, "next", q.more ? json_string(next) : json_null())
                       : NULL;
    if (body == NULL && rc != HCP_OK)
        json_decref(q.rows);
    reply(r, rc, body);
}

/* ---- GET /v1/stats/hotspots ---- */

enum hot_by { HOT_ITEM, HOT_UNIT, HOT_DIM, HOT_COUNTY, HOT_PREFECTURE };
static const char *const hot_names[] = {"service_item", "unit",       "dimension",
                                        "county",       "prefecture", NULL};

/* One key's counts: the period's and the one before. */
typedef struct hot_ent {
    char *key; /* NUL-terminated; NULL: a free slot */
    int64_t v[2];
} hot_ent;

typedef struct hot_q {
    enum hot_by by;
    int slot;     /* 0: the period, 1: the one before */
    hot_ent *tab; /* open addressing, a power of two of slots */
    size_t cap, n;
} hot_q;

static void hot_free(hot_q *q)
{
    for (size_t i = 0; i < q->cap; i++)
        free(q->tab[i].key);
    free(q->tab);
    q->tab = NULL;
    q->cap = q->n = 0;
}

/* The slot of key (klen bytes) in tab: its own or the free one to take. */
static hot_ent *hot_slot(hot_ent *tab, size_t cap, const char *key, size_t klen)
{
    size_t i = key_hash((const uint8_t *)key, klen) & (cap - 1);
    while (tab[i].key != NULL && (strncmp(tab[i].key, key, klen) != 0 || tab[i].key[klen] != '\0'))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Double the table (or make the first one). */
static bool hot_grow(hot_q *q)
{
    size_t cap = q->cap ? q->cap * 2 : 1024;
    hot_ent *tab = calloc(cap, sizeof(hot_ent));
    if (tab == NULL)
        return false;
    for (size_t i = 0; i < q->cap; i++)
        if (q->tab[i].key != NULL)
            *hot_slot(tab, cap, q->tab[i].key, strlen(q->tab[i].key)) = q->tab[i];
    free(q->tab);
    q->tab = tab;
    q->cap = cap;
    return true;
}

/* Add n to key's slot: a plain hash table, not a JSON object (a year by
 * unit adds ten thousand buckets; the JSON map and its rows for every key
 * were most of the route's time). */
static int hot_add(hot_q *q, const char *key, size_t klen, int64_t n)
{
    if (klen > GW_ST_KEY_MAX || n == 0)
        return HCP_OK;
    if ((q->n + 1) * 2 > q->cap && !hot_grow(q))
        return HCP_ENOMEM;
    hot_ent *e = hot_slot(q->tab, q->cap, key, klen);
    if (e->key == NULL) {
        if ((e->key = malloc(klen + 1)) == NULL)
            return HCP_ENOMEM;
        memcpy(e->key, key, klen);
        e->key[klen] = '\0';
        q->n++;
    }
    e->v[q->slot] += n;
    return HCP_OK;
}

static int hot_bucket(void *arg, uint8_t gran, int32_t p, const uint8_t *rest, size_t rl,
                      const MDB_val *v)
{
    (void)gran;
    (void)p;
    hot_q *q = arg;
    int64_t c[GW_SC_N_] = {0};
    int rc = gw_stats_val_add(v->mv_data, v->mv_size, c, GW_SC_N_);
    if (rc != HCP_OK)
        return rc;
    switch (q->by) {
    case HOT_ITEM:
    case HOT_UNIT: /* item code NUL, or county and unit code NUL: a string of its own */
        return hot_add(q, (const char *)rest, strnlen((const char *)rest, rl), c[0]);
    case HOT_DIM:
        if (rl == 1 && rest[0] > 0 && rest[0] < HCP_DIM_COUNT_)
            return hot_add(q, hcp_dimension_names[rest[0]], strlen(hcp_dimension_names[rest[0]]),
                           c[0]);
        return HCP_OK;
    case HOT_COUNTY:
    case HOT_PREFECTURE: {
        if (rl != HCP_COUNTY_LEN)
            return HCP_OK;
        char code[HCP_COUNTY_LEN + 1];
        memcpy(code, rest, HCP_COUNTY_LEN);
        code[HCP_COUNTY_LEN] = '\0';
        const hcp_division *d = hcp_division_find(code);
        /* adopted cases, as the other kinds count them */
        int64_t n = c[GW_SC_CASES] - c[GW_SC_OUTCOME + HCP_OUT_MISTAKEN] -
                    c[GW_SC_OUTCOME + HCP_OUT_MALICIOUS];
        if (d == NULL)
            return HCP_OK;
        const char *k = q->by == HOT_COUNTY ? d->code : d->prefecture;
        return hot_add(q, k, strlen(k), n);
    }
    }
    return HCP_OK;
}

/* Entries by cases in the period, descending, then key. */
static int hot_cmp(const void *a, const void *b)
{
    const hot_ent *x = *(const hot_ent *const *)a, *y = *(const hot_ent *const *)b;
    if (x->v[0] != y->v[0])
        return x->v[0] > y->v[0] ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* The row of one entry: new reference or NULL. */
static json_t *hot_row(gw_store *s, MDB_txn *txn, enum hot_by by, const hot_ent *e)
{
    const char *key = e->key;
    json_t *row = json_pack("{ss,sI,sI}", "key", key, "cases", (json_int_t)e->v[0], "previous",
                            (json_int_t)e->v[1]);
    if (row == NULL)
        return NULL;
    size_t kl = strlen(key);
    int bad = 0;
    if (by == HOT_ITEM) {
        uint8_t rest[GW_ST_KEY_MAX];
        size_t n = 0;
        put_code(rest, &n, key);
        bad |= json_object_set_new(row, "code", json_string(key));
        bad |= json_object_set_new(row, "name", name_json(s, txn, 'i', rest, n));
    } else if (by == HOT_UNIT && kl > HCP_COUNTY_LEN) {
        uint8_t rest[GW_ST_KEY_MAX];
        memcpy(rest, key, kl + 1 <= sizeof(rest) ? kl + 1 : sizeof(rest));
        bad |= json_object_set_new(row, "county", json_stringn(key, HCP_COUNTY_LEN));
        bad |= json_object_set_new(row, "code", json_string(key + HCP_COUNTY_LEN));
        bad |= json_object_set_new(row, "name", name_json(s, txn, 'u', rest, kl + 1));
    } else if (by == HOT_DIM) {
        bad |= json_object_set_new(row, "dimension", json_string(key));
    } else if (by == HOT_COUNTY) {
        const hcp_division *d = hcp_division_find(key);
        bad |= json_object_set_new(row, "code", json_string(key));
        bad |= json_object_set_new(row, "name", d ? json_string(d->name) : json_null());
        bad |= json_object_set_new(row, "prefecture", d ? json_string(d->prefecture) : json_null());
    } else if (by == HOT_PREFECTURE) {
        size_t nd = 0;
        const hcp_division *divs = hcp_divisions(&nd);
        const char *name = NULL;
        for (size_t i = 0; i < nd && name == NULL; i++)
            if (strcmp(divs[i].prefecture, key) == 0)
                name = divs[i].prefecture_name;
        bad |= json_object_set_new(row, "code", json_string(key));
        bad |= json_object_set_new(row, "name", name ? json_string(name) : json_null());
    }
    if (bad) {
        json_decref(row);
        return NULL;
    }
    return row;
}

void gw_stats_hotspots_route(gw *g, hcpd_req *r)
{
    static const char *const keys[] = {"from", "to", "by", "limit", NULL};
    hcp_day from, to;
    char by[32], lim[16];
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor") || !only_params(r, keys) ||
        !range_params(r, true, &from, &to))
        return;
    hot_q q = {.by = HOT_ITEM};
    if (hcpd_req_query_get(r, "by", by, sizeof(by)) == HCPD_Q_OK) {
        int i = 0;
        while (hot_names[i] != NULL && strcmp(hot_names[i], by) != 0)
            i++;
        if (hot_names[i] == NULL) {
            (void)bad_param(r, "by: one of service_item, unit, dimension, county, prefecture");
            return;
        }
        q.by = (enum hot_by)i;
    }
    long limit = HOT_LIMIT_DEF;
    if (hcpd_req_query_get(r, "limit", lim, sizeof(lim)) == HCPD_Q_OK) {
        char *end = NULL;
        limit = strtol(lim, &end, 10);
        if (lim[0] == '\0' || end == NULL || *end != '\0' || limit < 1 || limit > HOT_LIMIT_MAX) {
            (void)bad_param(r, "limit: an integer 1..1000");
            return;
        }
    }
    hcp_day len = to - from + 1, pfrom = from - len, pto = from - 1;
    static const uint8_t kinds[] = {GW_STK_ITEM, GW_STK_UNIT, GW_STK_DIM, GW_STK_COUNTY,
                                    GW_STK_COUNTY};
    MDB_txn *txn = NULL;
    int rc = gws_read_begin(g->store, &txn);
    json_t *rows = NULL;
    if (rc == HCP_OK) {
        rc = scan_span(g->store, txn, kinds[q.by], from, to, hot_bucket, &q);
        q.slot = 1;
        if (rc == HCP_OK && pto >= day_min())
            rc = scan_span(g->store, txn, kinds[q.by], pfrom < day_min() ? day_min() : pfrom, pto,
                           hot_bucket, &q);
        /* ranked: the keys with cases in the period; rows only for the first `limit` */
        size_t n = 0;
        hot_ent **arr = calloc(q.n + 1, sizeof(hot_ent *));
        if (rc == HCP_OK && arr == NULL)
            rc = HCP_ENOMEM;
        for (size_t i = 0; rc == HCP_OK && i < q.cap; i++)
            if (q.tab[i].key != NULL && q.tab[i].v[0] > 0)
                arr[n++] = &q.tab[i];
        if (rc == HCP_OK)
            qsort(arr, n, sizeof(hot_ent *), hot_cmp);
        rows = rc == HCP_OK ? json_array() : NULL;
        if (rc == HCP_OK && rows == NULL)
            rc = HCP_ENOMEM;
        for (size_t i = 0; rc == HCP_OK && i < n && (long)i < limit; i++)
            if (json_array_append_new(rows, hot_row(g->store, txn, q.by, arr[i])) != 0)
                rc = HCP_ENOMEM; /* hot_row's NULL too */
        free(arr);
        gws_read_end(g->store, txn);
    }
    hot_free(&q);
    json_t *body = NULL;
    if (rc == HCP_OK && rows != NULL)
        body = json_pack("{ss,so,so,s{so,so},sI,so}", "by", hot_names[q.by], "from",
                         date_json(from), "to", date_json(to), "previous", "from", date_json(pfrom),
                         "to", date_json(pto), "limit", (json_int_t)limit, "rows", rows);
    else
        json_decref(rows);
    reply(r, rc, body);
}

/* ---- GET /feed/stats.json ---- */

/* The month index's "YYYY-MM". */
static json_t *month_json(int32_t m)
{
    char b[16];
    snprintf(b, sizeof(b), "%04d-%02d", (int)(m / 12), (int)(m % 12) + 1);
    return json_string(b);
}

/* The figures without generated_datetime: new reference or NULL. */
static json_t *feed_body(const acc *a, hcp_day from, hcp_day to)
{
    int64_t tot[GW_SC_N_] = {0}, tdue = 0;
    for (size_t k = 0; k <= a->ndiv; k++) {
        vec_add(tot, a->cnt[k]);
        tdue += a->late_due[k];
    }
    json_t *months = json_array(), *prefs = json_array();
    bool ok = months != NULL && prefs != NULL;
    for (int m = 0; ok && m < MONTHS; m++) {
        if (a->mon[m][GW_SC_CASES] == 0)
            continue;
        json_t *row = feed_row(a->mon[m], a->mon_due[m]);
        ok = row != NULL &&
             json_object_set_new(row, "month", month_json(DAY_MIN_Y * 12 + m)) == 0 &&
             json_array_append_new(months, row) == 0;
    }
    size_t *pf = NULL, npf = 0;
    ok = ok && prefectures(a->divs, a->ndiv, &pf, &npf) == HCP_OK;
    for (size_t p = 0; ok && p < npf; p++) {
        const hcp_division *pd = &a->divs[pf[p]];
        int64_t v[GW_SC_N_] = {0}, due = 0;
        for (size_t k = 0; k < a->ndiv; k++)
            if (strcmp(a->divs[k].prefecture, pd->prefecture) == 0) {
                vec_add(v, a->cnt[k]);
                due += a->late_due[k];
            }
        json_t *row = feed_row(v, due);
        ok = row != NULL && json_object_set_new(row, "code", json_string(pd->prefecture)) == 0 &&
             json_object_set_new(
                 row, "name", json_string(pd->prefecture_name ? pd->prefecture_name : "")) == 0 &&
             json_array_append_new(prefs, row) == 0;
    }
    free(pf);
    if (!ok) {
        json_decref(months);
        json_decref(prefs);
        return NULL;
    }
    return json_pack("{so,so,so,so,so}", "from", date_json(from), "to", date_json(to), "total",
                     feed_row(tot, tdue), "by_month", months, "by_prefecture", prefs);
}

int gw_stats_public_text(gw_store *s, MDB_txn *txn, hcp_day from, hcp_day to, hcp_time now,
                         char **text, char etag[GW_STATS_ETAG_MAX])
{
    if (s == NULL || txn == NULL || text == NULL || etag == NULL)
        return HCP_EINVAL;
    *text = NULL;
    acc a;
    int rc = acc_init(&a, from, to, true);
    if (rc == HCP_OK)
        rc = acc_load(s, txn, &a, now);
    json_t *body = rc == HCP_OK ? feed_body(&a, from, to) : NULL;
    acc_free(&a);
    if (rc == HCP_OK && body != NULL) /* the spot checks' counts by county (spot.h) */
        rc = gw_spot_stats_merge(s, txn, "", "", from, to, body);
    if (rc != HCP_OK) {
        json_decref(body);
        return rc;
    }
    char *figures = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    uint8_t h[HCP_HASH_LEN];
    char hex[2 * HCP_HASH_LEN + 1];
    const void *parts[] = {figures};
    size_t lens[] = {figures ? strlen(figures) : 0};
    bool ok = figures != NULL && hcp_sha256(parts, lens, 1, h) == HCP_OK;
    free(figures);
    if (ok) { /* the ETag names the figures; the generation time is not part of them */
        hcp_hash_hex(h, hex);
        snprintf(etag, GW_STATS_ETAG_MAX, "\"%.32s\"", hex);
        ok = json_object_set_new(body, "generated_datetime", hcp_json_time(now)) == 0;
    }
    *text = ok ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return *text != NULL ? HCP_OK : HCP_ENOMEM;
}

void gw_stats_feed_route(gw *g, hcpd_req *r)
{
    static const char *const keys[] = {"from", "to", NULL};
    hcp_day from, to;
    if (!only_params(r, keys) || !range_params(r, false, &from, &to))
        return;
    hcp_time now = (hcp_time)time(NULL);
    char *text = NULL, etag[GW_STATS_ETAG_MAX];
    MDB_txn *txn;
    int rc = gws_read_begin(g->store, &txn);
    if (rc == HCP_OK) {
        rc = gw_stats_public_text(g->store, txn, from, to, now, &text, etag);
        gws_read_end(g->store, txn);
    }
    if (rc == HCP_ENOMEM) {
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    if (rc != HCP_OK) {
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
        return;
    }
    const char *inm = hcpd_req_header(r, "If-None-Match");
    bool same = inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
    hcpd_hdr hd[] = {
        {"ETag", etag}, {"Cache-Control", "no-cache"}, {"Access-Control-Allow-Origin", "*"}};
    hcpd_req_reply_hdrs(r, same ? 304 : 200, "application/json", text, same ? 0 : strlen(text), hd,
                        sizeof(hd) / sizeof(hd[0]));
    free(text);
}
