/*
 * gwwriter.h — the gateway's single writer: batches from every county,
 * applied in one LMDB transaction per loop turn (the group commit of
 * daemon/gc.h), each acknowledged only after that transaction committed;
 * a transaction that cannot commit answers its batches `storage_full`
 * (disk full) or `overloaded` (another store error).
 */
#ifndef GW_WRITER_H
#define GW_WRITER_H

#include <nng/nng.h>

#include "gc.h"
#include "gw.h"
#include "repl.h"

typedef struct gw_item gw_item;
/* What a receiving thread worked out for a batch before the writer
 * (gw_item_prepare): each event decoded, the chain checked inside it. */
typedef struct gw_pre gw_pre;

/* Called once per item, on the loop thread, after the commit (or when the
 * batch could not be applied): reply is the encoded answer frame (borrowed
 * for the call). */
typedef void (*gw_done_fn)(void *arg, gw_item *it, const hcp_buf *reply);

struct gw_item {
    hcpd_gc_item link; /* first: the group commit's queue link (daemon/gc.h) */
    bool fork_mark;    /* not a batch: mark `county` forked (seen at hello); no reply */
    char county[HCP_COUNTY_LEN + 1]; /* the county the connection proved */
    nng_msg *msg;                    /* owns the bytes f borrows */
    repl_frame f;                    /* the decoded batch */
    uint8_t *cert;                   /* the signer's certificate (owned copy) */
    size_t cert_len;
    gw_done_fn done;
    void *arg;
    uint64_t parked_at; /* loop ms when it first waited for an earlier batch; 0: never */
    gw_pre *pre;        /* owned; NULL: the writer decodes and hashes every event itself */
};

/* Queue it (ownership passes: the writer answers it through done and
 * frees it) from any thread. done may be NULL (a fork mark). Never fails:
 * once the writer stops, an item is answered `overloaded`. */
void gw_writer_submit(gw *g, gw_item *it);
/* Nanoseconds the writer has spent in its transactions since start (a
 * monotonic sum; 0 before gw_writer_start): how busy it is, for work that
 * should wait while it catches up (report.c). Any thread. */
uint64_t gw_writer_busy_ns(gw *g);
/* Loop thread: fn(arg, txn) in a write transaction of its own between the
 * writer's batches, committed, the map grown when full (hcpd_gc_exec).
 * HCP_EINVAL before gw_writer_start. */
HCP_NODISCARD int gw_writer_exec(gw *g, int (*fn)(void *arg, MDB_txn *txn), void *arg);
/* On the receiving thread, after the signature: decode every event of the
 * batch and check that each one after the first chains onto the hash of
 * the one before it (SHA-256 per event), so that the single writer thread
 * need not: it then only checks that the batch chains onto the county's
 * head and uses the decoded events. A hint, never a verdict: an event that
 * failed here is decoded and hashed again by the writer, which answers
 * as before. Bounded: at most GW_PRE_EVENTS events are held decoded at
 * once in the whole gateway; past that (or out of memory) it->pre stays
 * NULL and the writer does the work. */
#define GW_PRE_EVENTS 32768
void gw_item_prepare(gw_item *it);
/* Free an item and what it owns (its message, frame and certificate);
 * NULL-safe. */
void gw_item_free(gw_item *it);

#endif
