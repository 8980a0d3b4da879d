/*
 * gwfeed.h — the public disclosure feed's HTTP routes (docs/feed.md, the
 * regulation's Art. 13): GET/HEAD /feed/requests.json and /feed/atom.xml,
 * without a token. The layer above the store: it reads the stored entries
 * (gwstore.h), renders pages from them (feed_entry.h), keeps the rendered
 * pages (feed_cache.h) and listens to the store for changes.
 */
#ifndef GW_FEED_H
#define GW_FEED_H

#include "gw.h"

/* Make the page cache (g->feed_cache) and listen to the store's feed
 * changes; g->store is open. Call on the loop thread before the loop runs.
 * HCP_ENOMEM or HCP_EIO (no cache made, nothing to undo). */
HCP_NODISCARD int gw_feed_start(gw *g);
/* Stop listening and free the cache: after the HTTP server stopped (no
 * request in flight), on the loop thread. Safe when never started. */
void gw_feed_stop(gw *g);
/* Whether path is a public feed route. */
bool gw_feed_is_route(const char *path);
/* Answer r (GET or HEAD of a feed route): 200 or 304 with the page, 400
 * invalid_parameter for a bad query, 500/503 when it cannot be rendered. */
void gw_feed_handle(gw *g, hcpd_req *r);

#endif
