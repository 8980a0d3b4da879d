/*
 * feed_cache.c — rendered feed pages per version (feed_cache.h): a small
 * table under one lock, keyed by the query's canonical form, in sets of
 * CACHE_WAYS slots. A key goes into the slot of its set that holds the same
 * key, else an empty one, else one of an older version (dead), else the one
 * least recently used: a page read often (the first page, a mirror's
 * filter) stays while a crawler's deep pages pass through its set, and a
 * few keys that share a set do not keep pushing each other out, as they did
 * with one slot each (docs/feed.md "Caching").
 */
#include "lock.h"
#include "feed_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_query.h"
#include "monthly.h"

#define CACHE_WAYS 4
#define CACHE_SETS (GW_FEED_CACHE_SLOTS / CACHE_WAYS)
_Static_assert(GW_FEED_CACHE_SLOTS % CACHE_WAYS == 0, "whole sets");

typedef struct slot {
    char key[GW_FEED_QKEY_MAX];
    uint64_t version;
    uint64_t used;    /* the cache's tick at the last put or hit */
    hcp_time expires; /* 0: until the version changes */
    gw_feed_page *p;
} slot;

struct gw_feed_cache {
    pthread_mutex_t mu;
    _Atomic uint64_t version;
    _Atomic int64_t mtime;
    uint64_t tick; /* under mu */
    slot slots[GW_FEED_CACHE_SLOTS];
};

void gw_feed_page_unref(gw_feed_page *p)
{
    if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1) {
        free(p->link);
        free(atomic_load(&p->gz));
        if (p->data != p->store)
            free(p->data);
        free(p);
    }
}

int gw_feed_cache_new(gw_feed_cache **out, hcp_time mtime)
{
    *out = NULL;
    gw_feed_cache *fc = calloc(1, sizeof(*fc));
    if (fc == NULL)
        return HCP_ENOMEM;
    if (pthread_mutex_init(&fc->mu, NULL) != 0) {
        free(fc);
        return HCP_EIO;
    }
    atomic_init(&fc->version, 0);
    atomic_init(&fc->mtime, mtime);
    *out = fc;
    return HCP_OK;
}

void gw_feed_cache_free(gw_feed_cache *fc)
{
    if (fc == NULL)
        return;
    for (size_t i = 0; i < GW_FEED_CACHE_SLOTS; i++)
        gw_feed_page_unref(fc->slots[i].p);
    (void)pthread_mutex_destroy(&fc->mu); /* unlocked: nobody uses fc any more */
    free(fc);
}

/* The mtime first, then the version: a reader that sees the new version
 * also sees (at least) its mtime. */
void gw_feed_cache_changed(void *arg, hcp_time at)
{
    gw_feed_cache *fc = arg;
    atomic_store(&fc->mtime, at);
    atomic_fetch_add(&fc->version, 1);
}

uint64_t gw_feed_cache_version(gw_feed_cache *fc, hcp_time *mtime)
{
    uint64_t v = atomic_load(&fc->version);
    if (mtime != NULL)
        *mtime = atomic_load(&fc->mtime);
    return v;
}

/* SHA-256 of [p, p+n): hcp_sha256 (OpenSSL, the CPU's SHA instructions),
 * several times faster than mbedtls's on a page of tens of KB, where the
 * digest was half of an uncached page's CPU (docs/bench.md "Feed"). */
static int sha256(const void *p, size_t n, uint8_t out[32])
{
    const void *parts[] = {p};
    size_t lens[] = {n};
    return hcp_sha256(parts, lens, 1, out);
}

/* The first slot of a query key's set: a digest spreads the keys, which
 * share long prefixes. */
static slot *set_of(gw_feed_cache *fc, const char *key)
{
    uint8_t h[32];
    if (sha256(key, strlen(key), h) != HCP_OK)
        h[0] = h[1] = 0;
    return &fc->slots[(((size_t)h[0] << 8 | h[1]) % CACHE_SETS) * CACHE_WAYS];
}

gw_feed_page *gw_feed_cache_get(gw_feed_cache *fc, const char *key, uint64_t version, hcp_time now)
{
    if (fc == NULL || key == NULL)
        return NULL;
    slot *set = set_of(fc, key);
    gw_feed_page *p = NULL;
    hcp_mutex_lock(&fc->mu);
    for (int w = 0; w < CACHE_WAYS && p == NULL; w++) {
        slot *sl = &set[w];
        if (sl->p != NULL && sl->version == version && strcmp(sl->key, key) == 0 &&
            (sl->expires == 0 || now <= sl->expires)) {
            p = sl->p;
            atomic_fetch_add(&p->refs, 1);
            sl->used = ++fc->tick;
        }
    }
    hcp_mutex_unlock(&fc->mu);
    return p;
}

/* The slot of set for key at version (see the top of this file). */
static slot *victim(slot *set, const char *key, uint64_t version)
{
    slot *best = &set[0];
    int rank = 4; /* 0 same key, 1 empty, 2 older version, 3 least recently used */
    for (int w = 0; w < CACHE_WAYS; w++) {
        slot *sl = &set[w];
        int r = sl->p != NULL && strcmp(sl->key, key) == 0 ? 0
                : sl->p == NULL                            ? 1
                : sl->version != version                   ? 2
                                                           : 3;
        if (r < rank || (r == rank && sl->used < best->used)) {
            best = sl;
            rank = r;
        }
    }
    return best;
}

void gw_feed_cache_put(gw_feed_cache *fc, const char *key, uint64_t version, hcp_time expires,
                       gw_feed_page *p)
{
    if (fc == NULL || key == NULL || p == NULL)
        return;
    slot *set = set_of(fc, key);
    atomic_fetch_add(&p->refs, 1);
    hcp_mutex_lock(&fc->mu);
    slot *sl = victim(set, key, version);
    gw_feed_page *old = sl->p;
    snprintf(sl->key, sizeof(sl->key), "%s", key);
    sl->version = version;
    sl->expires = expires;
    sl->used = ++fc->tick;
    sl->p = p;
    hcp_mutex_unlock(&fc->mu);
    gw_feed_page_unref(old);
}

/* A page of len bytes at data (not copied: the caller fills or sets it)
 * with the ETag of digest h; one reference. */
static gw_feed_page *page_alloc(size_t inline_len, size_t len, const uint8_t h[32],
                                hcp_time lastmod)
{
    gw_feed_page *p = malloc(sizeof(*p) + inline_len);
    if (p == NULL)
        return NULL;
    atomic_init(&p->refs, 1);
    p->len = len;
    p->lastmod = lastmod;
    p->next[0] = '\0'; /* the caller sets them */
    p->link = NULL;
    atomic_init(&p->gz, NULL);
    p->data = p->store;
    char *e = p->etag;
    *e++ = '"';
    for (int i = 0; i < 16; i++, e += 2)
        snprintf(e, 3, "%02x", h[i]);
    snprintf(e, 2, "\"");
    return p;
}

gw_feed_page *gw_feed_page_new(const void *data, size_t len, hcp_time lastmod)
{
    uint8_t h[32];
    if ((data == NULL && len > 0) || sha256(data, len, h) != HCP_OK)
        return NULL;
    gw_feed_page *p = page_alloc(len, len, h, lastmod);
    if (p != NULL && len > 0)
        memcpy(p->store, data, len);
    return p;
}

gw_feed_page *gw_feed_page_take(hcp_buf *body, const uint8_t tag[32], hcp_time lastmod)
{
    if (body == NULL || tag == NULL || body->data == NULL || body->len == 0)
        return NULL;
    gw_feed_page *p = page_alloc(0, body->len, tag, lastmod);
    if (p == NULL)
        return NULL;
    /* the spare room the buffer's doubling left: given back (in place) */
    uint8_t *d = body->len < body->cap ? realloc(body->data, body->len) : NULL;
    p->data = (char *)(d != NULL ? d : body->data);
    body->data = NULL;
    body->len = body->cap = 0;
    return p;
}

const gw_feed_gz *gw_feed_page_gz_kept(gw_feed_page *p)
{
    return p != NULL ? atomic_load(&p->gz) : NULL;
}

const gw_feed_gz *gw_feed_page_gzip(gw_feed_page *p)
{
    if (p == NULL)
        return NULL;
    gw_feed_gz *z = atomic_load(&p->gz);
    if (z != NULL)
        return z;
    hcp_buf b;
    hcp_buf_init(&b, p->len + 1024); /* deflate never grows data by more than a few bytes per KB */
    size_t el = strlen(p->etag);
    if (hcpd_gzip_level(p->data, p->len, GW_FEED_GZ_LEVEL, &b) != HCP_OK || el < 2 ||
        el + 3 >= GW_FEED_ETAG_LEN || (z = malloc(sizeof(*z) + b.len)) == NULL) {
        hcp_buf_free(&b);
        return NULL;
    }
    z->len = b.len;
    memcpy(z->data, b.data, b.len);
    hcp_buf_free(&b);
    /* a representation of its own, a validator of its own (RFC 9110 8.8.3) */
    snprintf(z->etag, sizeof(z->etag), "%.*s-gz\"", (int)(el - 1), p->etag);
    gw_feed_gz *none = NULL;
    if (!atomic_compare_exchange_strong(&p->gz, &none, z)) {
        free(z); /* another thread kept its own first */
        return none;
    }
    return z;
}
