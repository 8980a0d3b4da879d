/*
 * contacts.h — Art. 14's register at the node and the county's rows of the
 * monthly form (docs/reports.md):
 *
 *   POST /v1/contacts {channel, at?, summary, case?, name?, phone?}
 *   POST /v1/contacts/N/link {case}       N: the contact's log position
 *   GET  /v1/contacts?month=YYYY-MM
 *   GET  /v1/reports/monthly?month=YYYY-MM&format=json|csv|xlsx&phone=
 *
 * A contact is a `contact` event of the county's log (core/case.h), so it
 * is chained, signed and replicated like every event; it changes no case.
 * The database `contacts` indexes the register by month: key "YYYYMM" |
 * be64 seq of the contact, value the id of the case it is linked to (empty
 * until linked), written in the transaction that appends the event.
 */
#ifndef NODE_CONTACTS_H
#define NODE_CONTACTS_H

#include "chain.h"
#include "node.h"
#include "writer.h"

/* Route /v1/contacts, /v1/contacts/... and /v1/reports/monthly (auth
 * checked; roles are checked here). Replies exactly once, now or from the
 * writer. */
void node_contacts_route(node *n, node_req *r);
/* Whether path is one of the routes above. */
bool node_contacts_is_route(const char *path);

/* The writer's W_CONTACT: check the contact (or link) in txn, append it to
 * the log at ch, index it, and answer w (201/200, or 404/409/422 with
 * nothing written). Returns a store error only; refusals are answers. */
HCP_NODISCARD int node_contacts_apply(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w);
/* A contact event the node did not write itself (fetched back from the
 * gateway): index it as node_contacts_apply did. Store errors. */
HCP_NODISCARD int node_contacts_derive(node *n, MDB_txn *txn, const hcp_event *ev);

#endif
