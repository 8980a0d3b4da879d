/*
 * feed_marks.h — where a filtered feed walk found its entries (feed.c,
 * docs/feed.md "page=N"): for a filter (its canonical form without page,
 * page_size or cursor), the feed key of every stride-th entry that passes
 * it, counted from the newest, so that a later page=N of the same filter
 * starts at the greatest mark at or before its first entry instead of
 * stepping over every entry before the page.
 *
 * A mark holds only in the LMDB snapshot it was read in (the read
 * transaction's id, mdb_txn_id): any commit, which every change to the
 * feed is, gives later transactions a new snapshot whose walks start the
 * marks of a filter over; a transaction of another snapshot never uses
 * them, so a page found from a mark is the page stepping finds.
 *
 * Memory: at most GW_FEED_MARK_SETS filters (least recently used out),
 * each at most GW_FEED_MARKS_PER marks of GW_FEED_MARK_KEY_MAX bytes: a
 * filter whose marks fill up drops every other one and doubles its
 * stride (any depth stays covered; the step from a mark grows instead).
 *
 * Threads: every function may be called from any thread (one short lock).
 */
#ifndef GW_FEED_MARKS_H
#define GW_FEED_MARKS_H

#include <stddef.h>
#include <stdint.h>

#include "hcp.h"

#define GW_FEED_MARK_EVERY   256  /* a mark every this many passing entries (at first) */
#define GW_FEED_MARKS_PER    1024 /* marks per filter, at most */
#define GW_FEED_MARK_SETS    32   /* filters kept, at most */
#define GW_FEED_MARK_KEY_MAX 40   /* a feed key's ceiling (GWS_FEED_KEY_MAX, gwstore.h) */

typedef struct gw_feed_marks gw_feed_marks;

/* A new, empty set of marks. HCP_ENOMEM, or HCP_EIO when its lock cannot
 * be made; *out is then NULL. Free with gw_feed_marks_free. */
HCP_NODISCARD int gw_feed_marks_new(gw_feed_marks **out);
/* Free m and every mark (NULL-safe); no other thread may use m any more. */
void gw_feed_marks_free(gw_feed_marks *m);

/* The greatest mark of filter (a NUL-terminated canonical form) in
 * snapshot snap whose rank is at most rank: its rank into *mrank and its
 * feed key into key (*klen bytes). false when there is none (or an
 * argument is NULL). */
bool gw_feed_marks_find(gw_feed_marks *m, const char *filter, uint64_t snap, uint64_t rank,
                        uint64_t *mrank, uint8_t key[GW_FEED_MARK_KEY_MAX], size_t *klen);

/* Note that in snapshot snap the entry of rank `rank` among those passing
 * filter (counted from the newest, 0 first) has feed key key (klen bytes).
 * Kept when it is the filter's next mark (rank is the stride times the
 * marks kept); a note of an older snapshot than the filter's marks is
 * ignored, one of a newer snapshot starts them over. Walkers call it for
 * every rank that is a multiple of GW_FEED_MARK_EVERY. */
void gw_feed_marks_note(gw_feed_marks *m, const char *filter, uint64_t snap, uint64_t rank,
                        const void *key, size_t klen);

/* The marks kept for filter in snapshot snap and their stride (tests). */
size_t gw_feed_marks_count(gw_feed_marks *m, const char *filter, uint64_t snap, uint64_t *stride);

#endif
