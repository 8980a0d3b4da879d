/*
 * feed_cache.h — the public feed's rendered pages (feed.c), kept per feed
 * version: a page is valid until the feed changes (the store's hook bumps
 * the version, gws_feed_listen) or, for a page that shows a kept deadline
 * which time alone will turn into a missed one, until that instant. The
 * cache belongs to the HTTP layer of the gateway, not to its store.
 *
 * Threads: every function may be called from any thread; pages are
 * reference-counted, shared by the cache and the replies being sent.
 */
#ifndef GW_FEED_CACHE_H
#define GW_FEED_CACHE_H

#include <stdatomic.h>

#include "hcp.h"
#include "hcp_time.h"

#define GW_FEED_CACHE_SLOTS 256
#define GW_FEED_ETAG_LEN    40 /* "\"<32 hex>\"" and its NUL, with room */
#define GW_FEED_NEXT_MAX    96 /* holds a cursor (GW_FEED_CURSOR_MAX, feed_query.h) */

/* zlib level of a page's gzip form: the fastest, whose cost stays low on
 * varied text too (level 3 took three times as long there; docs/bench.md
 * "Feed", Session 10) */
#define GW_FEED_GZ_LEVEL 1

/* A page's gzip form (Content-Encoding: gzip): made once, kept with the
 * page and freed with it. */
typedef struct gw_feed_gz {
    size_t len;
    char etag[GW_FEED_ETAG_LEN]; /* the page's ETag with "-gz" before its closing quote */
    uint8_t data[];
} gw_feed_gz;

/* One rendered page: its bytes and what the conditional GET needs. */
typedef struct gw_feed_page {
    _Atomic int refs;
    size_t len;
    char etag[GW_FEED_ETAG_LEN]; /* a digest standing for the bytes, quoted */
    hcp_time lastmod;            /* Last-Modified */
    char next[GW_FEED_NEXT_MAX]; /* the cursor of the next page ("" none) */
    char *link;               /* its Link header's value (malloc'd, freed with the page) or NULL */
    _Atomic(gw_feed_gz *) gz; /* the gzip form once a client asked for it, else NULL */
    char *data;               /* len bytes: in store, or taken from a buffer (gw_feed_page_take) */
    char store[];
} gw_feed_page;

typedef struct gw_feed_cache gw_feed_cache;

/* A new, empty cache at version 0 whose feed last changed at mtime.
 * HCP_ENOMEM, or HCP_EIO when its lock cannot be made; *out is then NULL.
 * Free with gw_feed_cache_free. */
HCP_NODISCARD int gw_feed_cache_new(gw_feed_cache **out, hcp_time mtime);
/* Drop every page's cache reference and free fc (NULL-safe). No other
 * thread may use fc any more. */
void gw_feed_cache_free(gw_feed_cache *fc);

/* The feed changed at `at`: a new version, every page kept so far stale.
 * Matches gws_feed_hook (gwstore.h): arg is the cache. */
void gw_feed_cache_changed(void *arg, hcp_time at);
/* The current version, and (mtime non-NULL) when the feed last changed. */
uint64_t gw_feed_cache_version(gw_feed_cache *fc, hcp_time *mtime);

/* The page kept under key at version, if still valid at now: a new
 * reference for the caller (gw_feed_page_unref), or NULL. */
gw_feed_page *gw_feed_cache_get(gw_feed_cache *fc, const char *key, uint64_t version, hcp_time now);
/* Keep page p (the cache takes a reference of its own) under key at
 * version, valid until expires (0: until the version changes). */
void gw_feed_cache_put(gw_feed_cache *fc, const char *key, uint64_t version, hcp_time expires,
                       gw_feed_page *p);

/* A page holding a copy of data (len bytes), its ETag their digest, with
 * one reference for the caller; NULL when memory or the digest failed. */
HCP_NODISCARD gw_feed_page *gw_feed_page_new(const void *data, size_t len, hcp_time lastmod);
/* A page of body's bytes, taken without a copy (body is left empty, as
 * hcp_buf_init leaves one), its ETag made of tag: a digest that stands
 * for exactly those bytes (feed.c's JSON pages digest their parts: the
 * log's hashes of the entries instead of the entries; docs/feed.md
 * "ETag"). One reference for the caller; NULL (body as it was) when body
 * or tag is NULL or holds nothing. */
HCP_NODISCARD gw_feed_page *gw_feed_page_take(hcp_buf *body, const uint8_t tag[32],
                                              hcp_time lastmod);
/* Drop one reference; the last frees the page (NULL-safe). */
void gw_feed_page_unref(gw_feed_page *p);
/* Page p's gzip form (borrowed: valid while the caller holds a reference
 * to p): the kept one, or made now at GW_FEED_GZ_LEVEL and kept (two
 * threads making it at once keep the first). NULL when p is NULL or
 * memory ran out (the caller answers plain). */
const gw_feed_gz *gw_feed_page_gzip(gw_feed_page *p);
/* Page p's gzip form if it is made already, else NULL (no work: for the
 * server thread's cache hit). */
const gw_feed_gz *gw_feed_page_gz_kept(gw_feed_page *p);

#endif
