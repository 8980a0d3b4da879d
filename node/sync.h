/*
 * sync.h — replication to the gateway (sync.c, docs/replication.md). The
 * writer does not know it: sync registers a commit hook with the writer
 * (node_writer_on_commit) and queues its own items (acknowledgements,
 * fetched events) through node_writer_submit.
 */
#ifndef NODE_SYNC_H
#define NODE_SYNC_H

#include "hcp.h"
#include "node.h"

/* Start dialing cfg.gateway (nothing when it is ""): the store open and the
 * writer started (the hook is registered with it). HCP_ENOMEM, HCP_ECRYPTO
 * (the TLS files or the identity do not load), HCP_EIO (the socket or the
 * dialer cannot be made); node_sync_stop cleans up after a failure too. */
HCP_NODISCARD int node_sync_start(node *n);
/* Remove the hook, close the connection and wait for its callbacks; then
 * free. Before node_writer_stop (the last acknowledgement is queued to it). */
void node_sync_stop(node *n);
/* {gateway, connected, log_head, acked, lag, last_error} for GET /v1/sync:
 * a new reference the caller json_decref()s (or hands to a reply); NULL
 * when out of memory. */
json_t *node_sync_json(node *n);
/* Append the replication metrics (Prometheus text, HELP and TYPE each) to
 * out: connected, lag, the acknowledged position, the age of the last
 * acknowledgement, the replication-latency histogram; nothing when
 * offline. HCP_EINVAL for a NULL out, HCP_ERANGE or HCP_ENOMEM from the
 * buffer. */
HCP_NODISCARD int node_sync_metrics(node *n, hcp_buf *out);

#endif
