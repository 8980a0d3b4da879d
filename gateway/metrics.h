/*
 * metrics.h — hcp-gateway's GET /metrics (docs/operations.md, "Metrics"):
 * the Prometheus text format (version 0.0.4), every metric with HELP and
 * TYPE, names hcp_gateway_* in base units.
 *
 * Two kinds of figures: those the store and the live structures already
 * hold (the counties' state, the checks' tallies, the province log, the
 * LMDB map, the connections), read when scraped; and event counters kept
 * here, bumped from any thread with C11 atomics (replication answers,
 * HTTP requests by route). The counters are process-wide: one gateway per
 * process, as main.c runs it; they start at zero with the process, as
 * Prometheus expects of a counter.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "gw.h"

/* A replication request was answered with error code (ingest.c before the
 * writer, writer.c after it): counted under that reason (an unknown code
 * under "other"). Any thread; NULL is ignored. */
void gw_metrics_refusal(const char *code);
/* The writer answered a batch: code NULL is an acknowledgement (counted
 * as applied), else a refusal as gw_metrics_refusal. Any thread. */
void gw_metrics_batch(const char *code);
/* An HTTP request for path arrived (api.c, before routing): counted by
 * the route's group (feed, stats, tlog, page, …). Any thread. */
void gw_metrics_http_request(const char *path);

/*
 * The whole exposition of g into out (the caller's, appended to); r is the
 * request asking (its HTTP server's connection figures; NULL: zeros).
 * Reads the store in one read transaction: every county's state and tally,
 * a scan of the cases for the overdue ones, the province log's delivery
 * states. Errors: the store's read errors (hcpd_mdb_err), HCP_ENOMEM,
 * HCP_ERANGE (out's max reached).
 */
HCP_NODISCARD int gw_metrics_text(gw *g, const hcpd_req *r, hcp_buf *out);

/* GET /metrics for api.c: a supervisor's token (as GET /v1/counties, which
 * shows the same counties), answered on the HTTP server's worker pool
 * (arg the gw): the scan of the cases would hold every other connection. */
void gw_metrics_route(void *arg, hcpd_req *r);

#endif
