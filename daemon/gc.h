/*
 * gc.h — group commit, the one write path of both daemons (prefix hcpd_gc_).
 *
 * Items are queued from any thread and the libuv loop is woken
 * (uv_async). On the loop thread the engine takes a bounded batch off the
 * queue and attempts it in ONE LMDB write transaction through callbacks
 * the daemon supplies: begin, one call per item, finish, then the commit;
 * abort after a failed attempt; answer once per batch with the outcome. No
 * item is answered as done before its transaction committed.
 *
 * When an attempt fails the engine tells the two kinds of "full" apart:
 *   - the MAP is full (MDB_MAP_FULL, HCP_EFULL): the map is grown (doubled,
 *     never past the configured ceiling, never past what the filesystem can
 *     still hold: file size + free space, checked with statvfs first) and
 *     the batch redone;
 *   - the DISK is full (ENOSPC, EDQUOT, or EIO from a short write with the
 *     disk nearly full: HCP_ENOSPC): the map is NOT grown; the batch is
 *     answered HCP_ENOSPC, `store.disk_full` is logged (at most once per
 *     10 s) and the daemon keeps running. The next batch tries again, so
 *     when room comes back everything resumes by itself.
 * A map that cannot grow (ceiling or disk) is answered HCP_EFULL or
 * HCP_ENOSPC likewise. A poisoned LMDB environment (MDB_PANIC) asks for a
 * restart in place (hcpd_restart_request).
 *
 * Daemon-specific parts stay hooks: the gateway merges its parked batches
 * into each new batch (ops.merge); the node hands answers to its replier
 * thread (inside ops.answer).
 */
#ifndef HCPD_GC_H
#define HCPD_GC_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "env.h"

/* The link of a queued item: embed it as the FIRST member of the daemon's
 * item struct, so that a hcpd_gc_item * converts to the daemon's type. */
typedef struct hcpd_gc_item {
    struct hcpd_gc_item *next;
} hcpd_gc_item;

/* The daemon's part; arg is hcpd_gc_cfg.arg. Every callback runs on the
 * loop thread. Return values are enum hcp_err. */
typedef struct hcpd_gc_ops {
    /* Optional: the batch to attempt, from the one taken off the queue
     * (may be NULL: hcpd_gc_run with an empty queue). The result may hold
     * other items the daemon kept (parked) and must be a list of at most
     * hcpd_gc_cfg.max_items + what the daemon adds; NULL: nothing to do. */
    hcpd_gc_item *(*merge)(void *arg, hcpd_gc_item *batch);
    /* Optional: a new attempt starts in txn (reset per-attempt state). */
    int (*begin)(void *arg, MDB_txn *txn);
    /* Required: apply item number `index` (0-based in the batch). An error
     * aborts the attempt; a refusal of one item is an answer set on the
     * item, not an error. Called again for every redo of the batch. */
    int (*item)(void *arg, MDB_txn *txn, hcpd_gc_item *it, size_t index);
    /* Optional: every item applied; last writes before the commit. */
    int (*finish)(void *arg, MDB_txn *txn);
    /* Optional: the attempt's transaction was aborted or its commit failed. */
    void (*abort)(void *arg);
    /* Required: the batch's outcome, rc HCP_OK (committed) or the error
     * (nothing of it was written). Ownership of the items passes: answer
     * each (success answers only when rc is HCP_OK) and free it, or keep
     * it (the gateway parks some). */
    void (*answer)(void *arg, hcpd_gc_item *batch, int rc);
    /* Required: the engine is stopping and takes no more; answer `it` at
     * once (refused) and free it. May run on any thread (the submitter's). */
    void (*refuse)(void *arg, hcpd_gc_item *it);
} hcpd_gc_ops;

#define HCPD_GC_MAP_MAX_DEFAULT ((size_t)1 << 40) /* 1 TiB */
#define HCPD_GC_LOG_EVERY_MS    10000             /* store.disk_full at most this often */

typedef struct hcpd_gc_cfg {
    uv_loop_t *loop;  /* the loop the engine runs on */
    hcpd_env *env;    /* the environment written (borrowed) */
    const char *dir;  /* its directory (statvfs, data.mdb's size); copied */
    size_t max_items; /* items taken off the queue per transaction, >= 1 */
    size_t map_max;   /* ceiling of the map in bytes; 0: HCPD_GC_MAP_MAX_DEFAULT */
    hcpd_gc_ops ops;  /* copied */
    void *arg;        /* passed to every callback */
} hcpd_gc_cfg;

/* Counters since start (read from any thread). */
typedef struct hcpd_gc_stats {
    uint64_t commits;   /* transactions committed */
    uint64_t items;     /* items taken off the queue */
    uint64_t grows;     /* map growths */
    uint64_t disk_full; /* batches answered HCP_ENOSPC or HCP_EFULL */
    uint64_t failed;    /* batches answered another error */
    uint64_t busy_ns;   /* time spent attempting batches (monotonic): the writer's load */
} hcpd_gc_stats;

typedef struct hcpd_gc hcpd_gc;

/* Create the engine on cfg->loop (loop thread, before it runs). *out is
 * owned by the caller: hcpd_gc_stop, run the loop until the handle closed,
 * then hcpd_gc_free. HCP_EINVAL (missing callback, max_items 0),
 * HCP_ENOMEM, HCP_EIO (libuv). */
HCP_NODISCARD int hcpd_gc_start(const hcpd_gc_cfg *cfg, hcpd_gc **out);
/* Queue it (ownership passes) from any thread and wake the loop; once the
 * engine is stopping, ops.refuse answers it at once instead. */
void hcpd_gc_submit(hcpd_gc *gc, hcpd_gc_item *it);
/* Loop thread: take a batch now (maybe none: ops.merge may add its own)
 * and run it, as a wake-up does. For the daemon's timers. */
void hcpd_gc_run(hcpd_gc *gc);
/* Loop thread: fn(arg, txn) in one write transaction of its own, then the
 * commit, with the engine's handling of a full map (grown, fn called again
 * in a new transaction) and of a full disk (HCP_ENOSPC). For the daemon's
 * own work between batches (derived data written behind them). fn's error
 * aborts the transaction and is returned; HCP_EINVAL. */
HCP_NODISCARD int hcpd_gc_exec(hcpd_gc *gc, int (*fn)(void *arg, MDB_txn *txn), void *arg);
/* Whether items wait in the queue for a batch the loop will run (any
 * thread; false once stopping: hcpd_gc_stop runs the rest itself). */
bool hcpd_gc_pending(hcpd_gc *gc);
/* Whether hcpd_gc_stop was called (any thread). */
bool hcpd_gc_stopping(hcpd_gc *gc);
/* Copy the counters into *out (any thread). */
void hcpd_gc_get_stats(const hcpd_gc *gc, hcpd_gc_stats *out);
/* Loop thread: refuse new items, run what is queued (and what ops.merge
 * still returns) to the end, close the wake-up handle. NULL-safe; a
 * second call does nothing. */
void hcpd_gc_stop(hcpd_gc *gc);
/* After the loop ran the close callbacks. NULL-safe. */
void hcpd_gc_free(hcpd_gc *gc);

/* What the engine decided about a failed commit (exposed for tests): true
 * when mdb_rc means the disk, not the map, is full — ENOSPC, EDQUOT, or
 * EIO (LMDB's report of a short write) while dir's filesystem has less
 * than 1 MiB free. */
bool hcpd_gc_disk_full(const char *dir, int mdb_rc);

/* The size the map may grow to from `cur`: doubled, at most `ceiling`, at
 * most what the filesystem of dir can hold (data.mdb's size + the free
 * bytes), in whole MiB. *rc is HCP_OK with the new size (> cur), or
 * HCP_EFULL (the ceiling stops it) or HCP_ENOSPC (the disk does) with 0. */
HCP_NODISCARD size_t hcpd_gc_grow_target(const char *dir, size_t cur, size_t ceiling, int *rc);

#endif
