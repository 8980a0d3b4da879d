/*
 * sample.c — the spot-check draw and its population (sample.h).
 */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hcp_time.h"

int hcp_sample_seed(const uint8_t root[32], const char *beacon, size_t len, uint8_t seed[32])
{
    if (root == NULL || seed == NULL || (beacon == NULL && len > 0))
        return HCP_EINVAL;
    if (len > HCP_SAMPLE_BEACON_MAX)
        return HCP_ERANGE;
    if (len > 0 && !hcp_utf8_valid(beacon, len))
        return HCP_EUTF8;
    const void *parts[2] = {root, beacon};
    size_t lens[2] = {32, len};
    return hcp_sha256(parts, lens, 2, seed);
}

int hcp_sample_rank(const uint8_t seed[32], const char *id, size_t len, uint8_t rank[32])
{
    if (seed == NULL || id == NULL || rank == NULL)
        return HCP_EINVAL;
    const void *parts[2] = {seed, id};
    size_t lens[2] = {32, len};
    return hcp_sha256(parts, lens, 2, rank);
}

/* A rate is exchanged as a JSON number; parts per million make the size
 * integer arithmetic, so no floating-point rounding can differ between two
 * implementations of the draw. */
int hcp_sample_rate_ppm(double rate, uint32_t *ppm)
{
    if (ppm == NULL || !isfinite(rate) || rate < 0.0 || rate > 1.0)
        return HCP_EINVAL;
    double x = rate * (double)HCP_SAMPLE_PPM;
    double r = (double)(uint64_t)(x + 0.5); /* x >= 0: to the nearest */
    double diff = x > r ? x - r : r - x;
    if (diff > 1e-3) /* 1e-9 of the rate */
        return HCP_EINVAL;
    *ppm = (uint32_t)r;
    return HCP_OK;
}

/* max(min, ceil(ppm × pop / 1e6)) capped at pop: the regulation asks for a
 * share of the cases, and a small county still gets a minimum. */
size_t hcp_sample_size(size_t population, uint32_t ppm, uint32_t min_per_county)
{
    unsigned __int128 num = (unsigned __int128)population * ppm + (HCP_SAMPLE_PPM - 1);
    unsigned __int128 n = num / HCP_SAMPLE_PPM;
    if (n < min_per_county)
        n = min_per_county;
    return n > population ? population : (size_t)n;
}

/* Order of the draw: county, then rank (big-endian, smallest first), then
 * id (two equal ranks would need a SHA-256 collision; the id keeps the
 * order total anyway). */
static int item_cmp(const void *a, const void *b)
{
    const hcp_sample_item *x = a, *y = b;
    int c = strcmp(x->county, y->county);
    if (c == 0)
        c = memcmp(x->rank, y->rank, 32);
    return c != 0 ? c : strcmp(x->id, y->id);
}

/* Rank, sort, and mark each county's prefix: the draw itself. */
int hcp_sample_draw(const uint8_t seed[32], hcp_sample_item *items, size_t n, uint32_t ppm,
                    uint32_t min_per_county)
{
    if (seed == NULL || (items == NULL && n > 0) || ppm > HCP_SAMPLE_PPM)
        return HCP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int rc = hcp_sample_rank(seed, items[i].id, strlen(items[i].id), items[i].rank);
        if (rc != HCP_OK)
            return rc;
        items[i].drawn = false;
    }
    if (n > 1)
        qsort(items, n, sizeof(*items), item_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(items[j].county, items[i].county) == 0)
            j++;
        size_t k = hcp_sample_size(j - i, ppm, min_per_county);
        for (size_t m = 0; m < k; m++)
            items[i + m].drawn = true;
        i = j;
    }
    return HCP_OK;
}

int hcp_sample_pop_init(hcp_sample_pop *p, const char *period, size_t len)
{
    if (p == NULL || period == NULL)
        return HCP_EINVAL;
    memset(p, 0, sizeof(*p));
    if (len != 7 || period[4] != '-')
        return HCP_EINVAL;
    char d[11];
    memcpy(d, period, 7);
    memcpy(d + 7, "-01", 3);
    hcp_day day;
    if (hcp_date_parse(d, 10, &day) != HCP_OK)
        return HCP_EINVAL;
    int dd;
    hcp_day_to_ymd(day, &p->year, &p->month, &dd);
    return HCP_OK;
}

/* FNV-1a: the set only needs spread, not strength (ids are public). */
static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

#define ARENA_BLOCK ((size_t)1 << 20)

/* A copy of id (len bytes and its NUL) in p's arena: blocks of
 * ARENA_BLOCK bytes chained by their first pointer, so an id costs no
 * allocation of its own and the set frees in a few calls. NULL: ENOMEM. */
static char *arena_dup(hcp_sample_pop *p, const char *id, size_t len)
{
    if (p->arena == NULL || p->arena_used + len + 1 > ARENA_BLOCK) {
        char *b = malloc(ARENA_BLOCK);
        if (b == NULL)
            return NULL;
        memcpy(b, &p->arena, sizeof(char *)); /* the previous block */
        p->arena = b;
        p->arena_used = sizeof(char *);
    }
    char *out = p->arena + p->arena_used;
    memcpy(out, id, len);
    out[len] = '\0';
    p->arena_used += len + 1;
    return out;
}

/* Insert id (len bytes, at most HCP_CASE_ID_MAX) into the seen-set;
 * *fresh says whether it was new. */
static int seen_add(hcp_sample_pop *p, const char *id, size_t len, bool *fresh)
{
    if ((p->seen_n + 1) * 2 > p->seen_cap) {
        size_t cap = p->seen_cap == 0 ? 1024 : p->seen_cap * 2;
        const char **t = calloc(cap, sizeof(*t));
        if (t == NULL)
            return HCP_ENOMEM;
        for (size_t i = 0; i < p->seen_cap; i++) {
            if (p->seen[i] == NULL)
                continue;
            size_t k = (size_t)id_hash(p->seen[i]) & (cap - 1);
            while (t[k] != NULL)
                k = (k + 1) & (cap - 1);
            t[k] = p->seen[i];
        }
        free((void *)p->seen);
        p->seen = t;
        p->seen_cap = cap;
    }
    size_t k = (size_t)id_hash(id) & (p->seen_cap - 1);
    while (p->seen[k] != NULL) {
        if (strcmp(p->seen[k], id) == 0) {
            *fresh = false;
            return HCP_OK;
        }
        k = (k + 1) & (p->seen_cap - 1);
    }
    p->seen[k] = arena_dup(p, id, len);
    if (p->seen[k] == NULL)
        return HCP_ENOMEM;
    p->seen_n++;
    *fresh = true;
    return HCP_OK;
}

/* Whether a leaf's bytes can hold the status "closed": the word spelled
 * out, or an escape (a \u-escaped letter could spell it). A leaf with
 * neither cannot be a closing entry: it is skipped without parsing. */
static bool may_close(const char *json, size_t len)
{
    if (memchr(json, '\\', len) != NULL)
        return true;
    for (const char *c = json, *end = json + len; end - c >= 6;) {
        c = memchr(c, 'c', (size_t)(end - c) - 5);
        if (c == NULL)
            return false;
        if (memcmp(c, "closed", 6) == 0)
            return true;
        c++;
    }
    return false;
}

/* A county code as the feed writes it: six ASCII digits. */
static bool is_county(const char *s)
{
    if (strlen(s) != HCP_COUNTY_LEN)
        return false;
    for (int i = 0; i < HCP_COUNTY_LEN; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* What one leaf says (sample.h): the parse, apart from the population so
 * that several threads can read leaves at once. */
int hcp_sample_leaf_read(int year, int month, const char *json, size_t len, hcp_sample_leaf *out)
{
    if (json == NULL || out == NULL)
        return HCP_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!may_close(json, len))
        return HCP_OK;
    json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    const char *id = json_string_value(json_object_get(j, "service_request_id"));
    const char *county = json_string_value(json_object_get(j, "county"));
    const char *status = json_string_value(json_object_get(j, "status"));
    int rc = HCP_OK;
    if (!json_is_object(j) || id == NULL || county == NULL || status == NULL || strlen(id) == 0 ||
        strlen(id) > HCP_CASE_ID_MAX || !is_county(county)) {
        rc = HCP_EFORMAT;
        goto out;
    }
    if (strcmp(status, "closed") != 0)
        goto out;
    out->closed = true;
    memcpy(out->id, id, strlen(id) + 1);
    memcpy(out->county, county, HCP_COUNTY_LEN + 1);
    const char *at = json_string_value(json_object_get(j, "step_datetime"));
    hcp_time t;
    if (at == NULL || hcp_time_parse(at, strlen(at), &t) != HCP_OK)
        goto out; /* closed without a step time: in no period */
    int y, m, d;
    hcp_day_to_ymd(hcp_day_of(t), &y, &m, &d);
    out->in_period = y == year && m == month;
out:
    json_decref(j);
    return rc;
}

/* The population's side of the leaf rule: only a case's first closing
 * leaf counts, and only when it falls in the period. */
int hcp_sample_pop_take(hcp_sample_pop *p, const hcp_sample_leaf *l)
{
    if (p == NULL || l == NULL)
        return HCP_EINVAL;
    if (!l->closed)
        return HCP_OK;
    bool fresh = false;
    int rc = seen_add(p, l->id, strlen(l->id), &fresh);
    if (rc != HCP_OK || !fresh || !l->in_period)
        return rc;
    if (p->n == p->cap) {
        size_t cap = p->cap == 0 ? 256 : p->cap * 2;
        hcp_sample_item *it = realloc(p->items, cap * sizeof(*it));
        if (it == NULL)
            return HCP_ENOMEM;
        p->items = it;
        p->cap = cap;
    }
    hcp_sample_item *it = &p->items[p->n++];
    memset(it, 0, sizeof(*it));
    memcpy(it->id, l->id, sizeof(it->id));
    memcpy(it->county, l->county, sizeof(it->county));
    return HCP_OK;
}

/* The leaf rule of sample.h, applied to one leaf. */
int hcp_sample_pop_leaf(hcp_sample_pop *p, const char *json, size_t len)
{
    if (p == NULL || json == NULL)
        return HCP_EINVAL;
    hcp_sample_leaf l;
    int rc = hcp_sample_leaf_read(p->year, p->month, json, len, &l);
    return rc == HCP_OK ? hcp_sample_pop_take(p, &l) : rc;
}

void hcp_sample_pop_free(hcp_sample_pop *p)
{
    if (p == NULL)
        return;
    while (p->arena != NULL) {
        char *prev;
        memcpy(&prev, p->arena, sizeof(char *));
        free(p->arena);
        p->arena = prev;
    }
    free((void *)p->seen);
    free(p->items);
    memset(p, 0, sizeof(*p));
}
