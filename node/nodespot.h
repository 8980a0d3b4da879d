/*
 * nodespot.h — the province's spot checks at the county (docs/spotchecks.md):
 * the `spotcheck` directive (a case drawn for a province revisit) and the
 * `spotcheck_result` directive (its finding). Both are notes on their case,
 * carried by the `directive` event that acknowledges them (directive.c);
 * a failed finding about a resolved or closed case also re-opens it: the
 * event carries `reopen`, and the rules (core/rules.c) send the case back
 * to rectification with a new feedback deadline from the re-open. All in
 * the writer's transaction that applies the entry.
 */
#ifndef NODE_NODESPOT_H
#define NODE_NODESPOT_H

#include <lmdb.h>

#include "node.h"
#include "repl.h"
#include "store.h"

/* Whether type is one of the spot-check directive types. */
bool node_spot_is_type(const char *type);

/*
 * Decide entry d (a spot-check type, addressed to this county) in txn:
 * on success ev gets its case id, its note (Chinese, for the county's
 * clerks) and reopen; old the case as stored and c a copy (the caller runs
 * the rules on c and stores it), *has_case true. A refusal leaves why set
 * ("malformed_body", "case_not_found") and ev without a case; store errors
 * are returned. The same contract as directive.c's built-in correction.
 */
HCP_NODISCARD int node_spot_decide(node *n, MDB_txn *txn, const repl_dir_entry *d, hcp_event *ev,
                                   hcp_case *old, hcp_case *c, bool *has_case, char *why,
                                   size_t whylen);

#endif
