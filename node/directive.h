/*
 * directive.h — province → county directives at the node
 * (docs/directives.md): the entries of the province log the gateway
 * delivers (sync.c verifies their signatures and hands them to the
 * writer), applied in order, exactly once, each in the writer's LMDB
 * transaction: the entry kept in db `dirs` with its state, the position
 * (meta "dseq") advanced, the type's handler run, and a `directive` event
 * appended to the county's log — the acknowledgement, which replicates up.
 *
 * Threads: the registry is filled at start (before the writer runs) and
 * read by the writer; node_directive_apply and _derive run on the writer's
 * thread in its transaction; the list runs on an HTTP thread.
 */
#ifndef NODE_DIRECTIVE_H
#define NODE_DIRECTIVE_H

#include <jansson.h>
#include <lmdb.h>

#include "node.h"
#include "repl.h"
#include "store.h"
#include "writer.h"

/*
 * A type's handler, run in the writer's transaction when an entry of that
 * type applies: seq the entry's position, body its msgpack map (borrowed).
 * Return HCP_OK (applied), or HCP_ERULE / HCP_EINVAL with a short reason
 * in why (why_len bytes, ASCII; "refused" when left empty): the entry is
 * refused, and the refusal and its event still commit. Any other error is
 * a store failure: the whole batch fails and is tried again (HCP_EFULL:
 * the map grows first). A handler decides before it writes: when it
 * refuses it must have written nothing (the transaction is shared).
 */
typedef int (*node_directive_fn)(void *arg, node_store *s, MDB_txn *txn, uint64_t seq,
                                 const void *body_mp, size_t body_len, char *why, size_t why_len);
/* After the transaction that applied entry seq of the type committed, on
 * the writer's thread (swap in-memory state here: the calendar). */
typedef void (*node_directive_after_fn)(void *arg, uint64_t seq);

/* Register the handler of type ([a-z_]{1,32}; "correction" is built in and
 * cannot be replaced). At start only. HCP_EINVAL, HCP_ERANGE (16 types). */
HCP_NODISCARD int node_directive_register(const char *type, node_directive_fn fn, void *arg);
/* Register the after-commit callback of a registered type. HCP_EINVAL,
 * HCP_ENOTFOUND (no handler registered for type). */
HCP_NODISCARD int node_directive_on_commit(const char *type, node_directive_after_fn fn, void *arg);

/*
 * A type whose effect lives in the store beside the log (the calendar's
 * body: the `directive` event does not carry it) registers a restore
 * function. A restored node (its `directive` events fetched back) then
 * owes the latest such entry it had applied: it keeps that seq (meta
 * "dirowed"), states its position as one below it so that the gateway
 * sends the entry again, and when the entry comes (signature checked as
 * ever) runs fn in the writer's transaction instead of applying it a
 * second time — no new event, the position unchanged — then the type's
 * after-commit callback. While it owes one, the node takes no new
 * records (503, node_directive_owed): it must not run ahead of what it
 * acknowledged. fn returns HCP_OK, HCP_ERULE/HCP_EINVAL (the entry cannot
 * be restored: logged, the debt is dropped) or a store error (the batch
 * fails and is tried again). HCP_EINVAL, HCP_ENOTFOUND (no handler).
 */
typedef int (*node_directive_restore_fn)(void *arg, node_store *s, MDB_txn *txn, uint64_t seq,
                                         const void *body_mp, size_t body_len);
HCP_NODISCARD int node_directive_on_restore(const char *type, node_directive_restore_fn fn,
                                            void *arg);
/* At start, after the registrations and before replication starts: load
 * the entry a restore left owed (meta "dirowed") and lower the stated
 * position below it. HCP_OK or a store error. */
HCP_NODISCARD int node_directive_resume(node_store *s);
/* The seq of the entry this restored node still owes (0: none); any
 * thread. */
uint64_t node_directive_owed(void);

/* Entries for the writer: copies of what the gateway sent (signatures
 * already verified by sync.c). */
typedef struct node_dir_in {
    uint8_t *rec; /* owned */
    size_t rec_len;
    uint8_t hash[HCP_HASH_LEN];
} node_dir_in;
typedef struct node_dir_batch {
    size_t n;
    uint64_t applied_upto; /* set by the apply: the position it leaves */
    uint64_t first_new;    /* the first seq the apply took (0: none) */
    uint64_t restored;     /* the owed entry the apply restored (0: none) */
    node_dir_in e[];
} node_dir_batch;
/* A new batch of copies of dirs[0..n) (NULL on allocation failure). */
node_dir_batch *node_directive_batch(const repl_dir *dirs, size_t n);
void node_directive_batch_free(node_dir_batch *b);

/* W_DIRECTIVE: apply w->dirs in txn (the writer's, ch its tentative
 * head). Entries at or below the position are skipped. Store errors only
 * (refusals are results, not errors). */
HCP_NODISCARD int node_directive_apply(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w);
/* After the commit of a batch holding w: publish the position, run the
 * after-commit callbacks. */
void node_directive_committed(node *n, const node_write *w);
/* A `directive` event fetched back from the gateway (restore): keep its
 * entry's state and the position (the entry's body is not in the event:
 * the state says applied or refused, the record is absent); an applied
 * entry of a type with a restore function becomes the one owed (above). */
HCP_NODISCARD int node_directive_derive(node *n, MDB_txn *txn, const hcp_event *ev);
/* A correction_answer step (W_STEP): true when it must be refused — its
 * directive is not an applied correction of this case — with the 409
 * answered on w (*rc HCP_OK), or a store error in *rc. */
bool node_directive_answer_refused(node *n, MDB_txn *txn, node_write *w, int *rc);
/* GET /v1/directives: what this node received, with states. */
void node_directive_route(node *n, node_req *r);

#endif
