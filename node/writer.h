/*
 * writer.h — the single writer: every API write, every personal read (it is
 * recorded in the access log) and the deadline sweep become a node_write,
 * queued from any thread and applied on the libuv loop thread. Everything
 * queued since the last commit shares one LMDB transaction (group commit);
 * nobody is answered before that transaction committed. The loop itself is
 * the group commit of daemon/gc.h, shared with the gateway.
 */
#ifndef NODE_WRITER_H
#define NODE_WRITER_H

#include <stdatomic.h>
#include <stdint.h>

#include "accounts.h"
#include "case.h"
#include "gc.h"
#include "hcp.h"
#include "node.h"

typedef enum node_wkind {
    W_EVAL = 1,  /* POST /v1/evaluations */
    W_CASE,      /* POST /v1/cases */
    W_STEP,      /* POST /v1/cases/ID/events */
    W_CASE_READ, /* GET /v1/cases/ID (personal data: access-logged) */
    W_LEDGER,    /* GET /v1/ledger?month= (personal data: access-logged) */
    W_SWEEP,     /* the deadline sweep */
    W_ACK,       /* the gateway acknowledged up to `seq` (sync.c) */
    W_REMOTE,    /* events fetched back from the gateway (sync.c) */
    W_SYNCED,    /* the history is complete: writes may resume (sync.c) */
    W_RECOUNT,   /* recount provisional deadlines with the calendar loaded now */
    W_DIRECTIVE, /* province log entries to apply (sync.c, directive.h) */
    W_CONTACT,   /* POST /v1/contacts, POST /v1/contacts/N/link (contacts.h) */
    W_CONSOLE,   /* GET /v1/cases/ID/steps: the steps allowed now (console.h) */
} node_wkind;

typedef struct node_write {
    hcpd_gc_item link; /* first: the group commit's queue link (daemon/gc.h) */
    node_wkind kind;
    node_req *req;                 /* NULL for the sweep */
    hcp_intake in;                 /* W_EVAL, W_CASE (owned) */
    hcp_event step;                /* W_STEP, W_CONTACT (owned): type, fields, at (0 = now) */
    hcp_time at;                   /* W_EVAL, W_CASE: "at", 0 = now */
    char id[HCP_CASE_ID_MAX];      /* W_STEP, W_CASE_READ */
    char who[128];                 /* the account that asked: access log, events' `account` */
    char why[HCPD_ACCESS_WHY_MAX]; /* W_CASE_READ: the reader's reason, masked ("" none) */
    bool personal;                 /* W_CASE, W_STEP, W_CASE_READ, W_LEDGER: reply with personal
                                    * data (a supervisor: access-logged) or without (a clerk) */
    int year, month;               /* W_LEDGER */
    uint64_t seq;                  /* W_ACK; W_REMOTE: the first event's */
    /* W_REMOTE: nremote events, each rec | pii back to back in `remote`
     * (owned), with their lengths and hashes */
    uint8_t *remote;
    size_t nremote;
    struct node_remote_ev {
        size_t rec_len, pii_len;
        uint8_t hash[HCP_HASH_LEN];
    } * remote_ev;
    struct node_dir_batch *dirs; /* W_DIRECTIVE (owned; directive.h) */
    hcp_time now;                /* fixed at first processing, kept across retries */
    int status;                  /* HTTP status of the reply */
    json_t *reply;               /* built inside the transaction, sent after commit */
} node_write;

/* A new zeroed item (NULL on allocation failure): the caller owns it until
 * node_writer_submit, and frees it with node_write_free if it never is. */
node_write *node_write_new(node_wkind kind, node_req *req);
/* Free an item and everything it owns (not its request). NULL-safe. */
void node_write_free(node_write *w);
/* Queue w (ownership passes) from any thread. If the writer is stopping,
 * w is answered 503 at once. A batch that cannot commit (disk full:
 * 503 storage_full; another store error: 503 storage_error) writes
 * nothing; the writer's own items (W_SYNCED, W_RECOUNT) are then queued
 * again a second later, so that the node resumes by itself. Items without
 * a request (req NULL) get no answer: the writer frees them. */
void node_writer_submit(node *n, node_write *w);

/* Start the writer on n->loop (before the loop runs; n->store open): the
 * group commit, its replier thread, the deadline sweep timer, and a
 * recount of provisional deadlines queued first. HCP_ENOMEM, HCP_EIO (a
 * timer or a lock could not be made), or the group commit's error; on
 * failure node_writer_stop and node_writer_free still clean up. */
HCP_NODISCARD int node_writer_start(node *n);
/* Refuse new items, commit everything queued, send the answers and close
 * the timers (the caller runs the loop once more for their close
 * callbacks). NULL-safe for a writer never started. */
void node_writer_stop(node *n);
/* Free the writer, after the loop ran the close callbacks. NULL-safe. */
void node_writer_free(node *n);

/*
 * The commit hook: after every committed batch that appended events to the
 * log, once that batch is durable (its meta page synced), the writer calls
 * fn(arg, head, hash) with the new head (its sequence number and hash), on
 * the replier thread (on the loop's if the replier could not start). Batches
 * synced together are told once, with the newest head. It is how replication
 * (sync.c) learns of new events without the writer knowing it: sync
 * registers itself here. fn must not block for long and must not call
 * node_writer_on_commit. One hook; registering replaces it, fn NULL removes
 * it; after node_writer_on_commit returns, the old hook is not running and
 * will not be called again. Any thread.
 */
typedef void (*node_commit_fn)(void *arg, uint64_t head, const uint8_t hash[HCP_HASH_LEN]);
void node_writer_on_commit(node_writer *w, node_commit_fn fn, void *arg);

/* Metrics the writer keeps (read without locks: monotonic counters). */
typedef struct node_stats {
    /* written by the writer, read by /metrics on the HTTP thread */
    _Atomic uint64_t evaluations, cases, steps, refused, commits, batched, overdue_marked, grows;
    _Atomic uint64_t disk_full; /* batches refused for want of room (disk, or the map's ceiling) */
} node_stats;
/*
 * When the replier may answer batches whose transactions committed with
 * MDB_NOMETASYNC (writer.c, docs/storage.md): their meta page is durable
 * once txnid `need` (the environment's last txnid after their commit) is
 * at most `synced` (covered by an fdatasync of the replier's own) or below
 * `committed` (a later commit of the writer fdatasynced its data pages,
 * which takes the earlier meta page along). Otherwise, while the writer is
 * inside a batch or has one queued (writer_active), the replier waits for
 * that one batch (waited: it did already) before it flushes by itself.
 */
typedef enum node_meta_plan {
    NODE_META_DURABLE, /* answer now */
    NODE_META_WAIT,    /* wait for the writer's batch under way to end, then ask again */
    NODE_META_SYNC,    /* fdatasync, then answer */
} node_meta_plan;
node_meta_plan node_meta_sync_plan(uint64_t need, uint64_t committed, uint64_t synced,
                                   bool writer_active, bool waited);
/* The writer's counters (borrowed: they live as long as the writer). */
const node_stats *node_writer_stats(const node *n);

/*
 * The case JSON of the node's API (hcp_json_case) with what the node adds:
 * each event that hcp_event_backdated finds entered more than
 * --backdate-days working days after its `at` carries "backdated": true, and
 * the case "backdated_steps", their count. c and events are borrowed; a new
 * reference (caller json_decref()s), NULL on allocation failure.
 */
json_t *node_case_json(const node *n, const hcp_case *c, const hcp_event *events, size_t nevents,
                       hcp_time now, bool personal);

#endif
