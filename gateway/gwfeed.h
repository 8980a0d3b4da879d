/*
 * gwfeed.h — the public disclosure feed's HTTP routes (docs/feed.md, the
 * regulation's Art. 13): GET/HEAD /feed/requests.json, /feed/atom.xml and
 * /feed/services.json (the GeoReport v2 service list), without a token. The layer above the store:
 * it reads the stored entries (gwstore.h), renders pages from them (feed_entry.h), keeps the
 * rendered pages (feed_cache.h) and listens to the store for changes.
 */
#ifndef GW_FEED_H
#define GW_FEED_H

#include <lmdb.h>

#include "feed_query.h"
#include "gw.h"

/* Make the page cache (g->feed_cache) and the walks' marks
 * (g->feed_marks) and listen to the store's feed
 * changes; g->store is open. Call on the loop thread before the loop runs.
 * HCP_ENOMEM or HCP_EIO (no cache made, nothing to undo). */
HCP_NODISCARD int gw_feed_start(gw *g);
/* Stop listening and free the cache and the marks: after the HTTP server stopped (no
 * request in flight), on the loop thread. Safe when never started. */
void gw_feed_stop(gw *g);
/* Whether path is a public feed route. */
bool gw_feed_is_route(const char *path);
/* Answer r (GET or HEAD of a feed route): 200 or 304 with the page, 400
 * invalid_parameter for a bad query, 500/503 when it cannot be rendered. */
void gw_feed_handle(gw *g, hcpd_req *r);

/* Render the page of query q from store s in txn (a read transaction,
 * the caller's) into out (appended to): the JSON array, deadline_met as
 * of now; or, for an Atom query, the document whose <updated> is mtime.
 * With marks (feed_marks.h; NULL: none) a filtered walk starts at the
 * greatest mark of txn's snapshot before the page and leaves marks for
 * the next. For the static publisher (publish.h), which reads a snapshot
 * of its own, and the tests. HCP_EINVAL (NULL argument), LMDB's errors,
 * HCP_ERANGE/HCP_ENOMEM from out. */
HCP_NODISCARD int gw_feed_render(gw_store *s, MDB_txn *txn, const gw_feed_q *q,
                                 struct gw_feed_marks *marks, hcp_time now, hcp_time mtime,
                                 hcp_buf *out);
/* The GeoReport v2 service list of the feed in txn into out (appended
 * to): a JSON array, one service per distinct service_code of the feed's
 * entries, by code, named by the code's newest entry (hcp has no service
 * catalogue: the list is the service items cases were filed under).
 * HCP_EINVAL, LMDB's errors, HCP_ENOMEM, HCP_ERANGE. */
HCP_NODISCARD int gw_feed_services(gw_store *s, MDB_txn *txn, hcp_buf *out);

#endif
