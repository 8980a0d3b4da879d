/*
 * api.h — hcp-node's HTTP routes (api.c, docs/http.md): the request
 * handler and the server's start and stop. Writes and personal reads go to
 * the writer (writer.h); other reads are served from read transactions.
 */
#ifndef NODE_API_H
#define NODE_API_H

#include "node.h"

/* Start serving on n->cfg.listen_http (the store and the writer running):
 * /healthz is public, every other route needs the token or a named
 * account. HCP_EBUSY when the address is in use, another enum hcp_err
 * when the server cannot start. */
HCP_NODISCARD int node_http_start(node *n);
/* Stop accepting and wait for in-flight requests to be answered; then free. */
void node_http_stop(node *n);

/* Route a request (auth already checked). Makes the request be replied to
 * exactly once, now or later from the writer's replier. */
void node_api_handle(node *n, node_req *r);

#endif
