/*
 * spot.h — the province's spot checks (the regulation's Art. 14,
 * docs/spotchecks.md): a supervisor draws a sample of the cases closed in
 * a month, as fixed by the transparency log's current checkpoint and a
 * public beacon (core/sample.h); each drawn case goes to its county as a
 * `spotcheck` directive; each finding is recorded, and a failed one goes
 * down as a `spotcheck_result` directive that re-opens the case there.
 *
 * LMDB, in the gateway's store (gwstore.h): db `sc_draw` (be64 id → the
 * draw as compact JSON: the public fields and "by", the account that drew
 * it), db `sc_find` (be64 id | case id → be32 n | the finding as compact
 * JSON of n bytes, its note masked | the note as written, sealed with the
 * store's key, aad the key).
 *
 * Routes (api.c offloads them to the worker pool): POST/GET /v1/spotchecks,
 * GET /v1/spotchecks/ID, POST /v1/spotchecks/ID/results (supervisor), and
 * the public GET /feed/spotchecks.json.
 */
#ifndef GW_SPOT_H
#define GW_SPOT_H

#include <jansson.h>
#include <lmdb.h>

#include "gw.h"
#include "gwstore.h"

/* True for /v1/spotchecks and everything under it. */
bool gw_spot_is_route(const char *path);
/* The worker pool's entry for those routes (arg the gw). */
void gw_spot_route(void *arg, hcpd_req *r);
/* True for the public /feed/spotchecks.json. */
bool gw_spot_is_public(const char *path);
/* The worker pool's entry for /feed/spotchecks.json (arg the gw). */
void gw_spot_feed(void *arg, hcpd_req *r);

/* Register the province-log hooks of the types `spotcheck` and
 * `spotcheck_result`: they are appended by the routes above only, so an
 * entry of these types POSTed to /v1/directives by hand is refused (422).
 * At start. gw_plog_hook's errors. */
HCP_NODISCARD int gw_spot_hooks(void);

/* The public JSON of every draw ({updated_datetime: the latest draw's or
 * finding's time or null, spotchecks: [...]}: the same state, the same bytes;
 * what GET /feed/spotchecks.json answers) read in txn into out (reset
 * first). A store opened without the spot-check dbs (s->sc_draw 0: the
 * publish command's read-only open) opens them in txn, and a store older
 * than spot checks gives an empty list. HCP_ENOMEM/HCP_ERANGE, LMDB's. */
HCP_NODISCARD int gw_spot_public_render(gw_store *s, MDB_txn *txn, hcp_buf *out);

/*
 * Per-county results of draw id, read in txn, as a JSON array (new
 * reference; NULL and *rc on failure, HCP_ENOTFOUND for no such draw):
 * [{county, county_name, population, sample, checked, reached, rectified,
 * satisfied, failed}] in county order — what the page and the Art. 11
 * figures read.
 */
json_t *gw_spot_results_json(gw_store *s, MDB_txn *txn, uint64_t id, int *rc);

/*
 * The spot-check results in the scope of a figures body (the summary of
 * GET /v1/stats/summary, the public /feed/stats.json; docs/stats.md): the
 * draws whose period (a month) meets the days from..to (-1: open end), and
 * of each only the counties in scope (county or prefecture code, "" for
 * any). Sets body["spotchecks"] = {draws: [{id, period, drawn_datetime,
 * rate, min_per_county, total, counties: [the rows of
 * gw_spot_results_json]}] newest first, total} (totals: population,
 * sample, checked, reached, rectified, satisfied, failed) and, on every
 * row of body["counties"] (when there is one), "spotchecks" = that
 * county's totals. Counts only: no case id, note or account. A store
 * without the spot-check dbs (an older one; publish's read-only open)
 * gives no draws. HCP_ENOMEM, LMDB's errors, HCP_EFORMAT (a stored draw
 * that is not JSON).
 */
HCP_NODISCARD int gw_spot_stats_merge(gw_store *s, MDB_txn *txn, const char *county,
                                      const char *prefecture, hcp_day from, hcp_day to,
                                      json_t *body);

#endif
