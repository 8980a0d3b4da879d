/*
 * calendar_fed.h — the federation calendar at the county node (issue #13,
 * docs/calendar.md "The federation calendar"). The calendar in force is
 * kept IN the store (meta HCP_CALVER_KEY: {version, tsv}, core/calver.h):
 * version 0 is the seed this node started with (compiled in or
 * --calendar), version V >= 1 one the province sent as a `calendar`
 * directive. Applying a newer version recounts every open case's
 * deadlines in the same LMDB transaction; n->cal is swapped for it after
 * the commit. Once the store holds a province version, a --calendar file
 * that counts differently is refused at start: a node never runs ahead of
 * (or beside) the province's calendar it acknowledged.
 *
 * Threads: node_calendar_apply and node_calendar_after run on the writer
 * (the loop thread), the only user of n->cal; node_calendar_start before
 * the writer starts.
 */
#ifndef NODE_CALENDAR_FED_H
#define NODE_CALENDAR_FED_H

#include <stddef.h>
#include <stdint.h>

#include "calver.h"
#include "node.h"
#include "store.h"

/* The node's calendar state, the `arg` of the directive handler. */
typedef struct node_calendar {
    node *n;          /* whose n->cal is swapped after a commit; NULL: nobody's */
    uint32_t version; /* the committed version in force */
    hcp_cal *pending; /* parsed by the last apply, waiting for its commit (owned) */
    uint32_t pending_version;
    uint64_t pending_seq;
} node_calendar;

/* What a recount did: open cases seen, whose deadlines changed, and that
 * are still provisional after it. */
typedef struct node_calendar_recount {
    size_t open, changed, provisional;
} node_calendar_recount;

/*
 * At start, after the store opened and before the writer starts: reconcile
 * the store's calendar with the seed (n->cfg.calendar, "" = compiled in).
 *  - no calendar stored (a new or older store) or version 0 with a seed
 *    that counts differently: the seed is stored as version 0 and every
 *    open case recounted with it (logged calendar.recount);
 *  - version V >= 1 stored: a --calendar file that counts differently is
 *    refused (HCP_EVERSION; err says what to do); otherwise n->cal becomes
 *    the stored version's calendar (the compiled-in seed is ignored).
 * On success *out is a new state the caller frees with node_calendar_free
 * (after the writer stopped). Errors: HCP_EVERSION (refused, above), the
 * seed's (HCP_EIO, HCP_ERANGE, HCP_EFORMAT), a stored record that does not
 * decode (HCP_EFORMAT), the store's; err holds a one-line message.
 */
HCP_NODISCARD int node_calendar_start(node *n, node_calendar **out, char *err, size_t errlen);
/* Free the state and any pending calendar (NULL-safe). n->cal is not
 * touched: main frees it. */
void node_calendar_free(node_calendar *nc);

/* The calendar stored in txn into *out (its tsv borrows from the
 * transaction). HCP_ENOTFOUND when none is stored; HCP_EFORMAT when it
 * does not decode. */
HCP_NODISCARD int node_calendar_stored(node_store *s, MDB_txn *txn, hcp_calver *out);

/* Recount every open case (store_open_case_ids) of the store with cal in
 * txn, writing back those that changed; *r (may be NULL) says how many.
 * Errors: the store's (HCP_EFULL: the group commit grows the map and
 * redoes the batch). */
HCP_NODISCARD int node_calendar_recount_all(node_store *s, MDB_txn *txn, const hcp_cal *cal,
                                            node_calendar_recount *r);

/*
 * The `calendar` directive's handler (node_directive_fn, node/directive.h;
 * docs/directives.md): body_mp is {version, tsv}. In txn: check
 * version > the stored one, parse the TSV, store it, recount every open
 * case; the parsed calendar waits in arg (a node_calendar *) for
 * node_calendar_after. Returns HCP_OK (applied), HCP_ERULE (refused; why
 * holds "stale_version: ...", "bad_body: ..." or "bad_calendar: line N:
 * ..."), or a store error (HCP_EFULL, HCP_ENOSPC, HCP_EIO...) that must
 * abort the transaction rather than refuse the directive. seq is kept for
 * node_calendar_after.
 */
HCP_NODISCARD int node_calendar_apply(void *arg, node_store *s, MDB_txn *txn, uint64_t seq,
                                      const void *body_mp, size_t body_len, char *why,
                                      size_t why_len);
/*
 * The `calendar` directive's restore function (node_directive_restore_fn,
 * node/directive.h): a node restored from the gateway has its `calendar`
 * directive events back but not their bodies, so it asks for the latest
 * applied one again; when it comes, its version is stored and every open
 * case recounted in txn exactly as node_calendar_apply does (no new event),
 * unless that version or a later one is stored already (HCP_OK, nothing
 * done). HCP_EINVAL (bad body), HCP_ERULE (the TSV does not parse: logged),
 * or a store error.
 */
HCP_NODISCARD int node_calendar_restore(void *arg, node_store *s, MDB_txn *txn, uint64_t seq,
                                        const void *body_mp, size_t body_len);
/* After the transaction of directive seq committed (node_directive_after_fn):
 * the pending calendar becomes n->cal (the old one freed) and the state's
 * version. Nothing when no apply of seq is pending (a refused one). */
void node_calendar_after(void *arg, uint64_t seq);

/* `hcp-node calendar show --data DIR`: the stored version, its years and
 * days (0; 1 when the store cannot be read; 2 bad flags). `hcp-node
 * calendar apply --data DIR --version V FILE`: the local stand-in for the
 * `calendar` directive until the province's log delivers it (the node
 * stopped: it takes DIR's lock): applies FILE as version V exactly as the
 * directive does (0 applied; 1 refused or failed, with why). main passes
 * argc - 1, argv + 1. */
int node_cmd_calendar(int argc, char **argv);

#endif
