/*
 * park.h — batches that overtook each other (docs/replication.md,
 * "Ordering, idempotence, window"). A node keeps several batches in
 * flight and the gateway verifies their signatures in parallel, so a
 * county's batches may reach the writer out of order. One that starts
 * beyond its county's next position is parked (at most GW_PARK_MAX at
 * once, each for at most GW_PARK_MS) and merged into every later
 * transaction, each county's batches sorted by position; one still out of
 * place after GW_PARK_MS is answered `gap`.
 *
 * The writer (writer.c) owns one gw_park and uses it on the loop thread
 * only; nothing here touches LMDB, nng or the loop, so the policy is
 * tested on its own (tests/unit/test_gw_park.c).
 */
#ifndef GW_PARK_H
#define GW_PARK_H

#include "gwwriter.h"

#define GW_BATCH_ITEMS 256  /* items in one transaction, parked ones included */
#define GW_PARK_MAX    64   /* parked batches, all counties */
#define GW_PARK_MS     1000 /* a parked batch waits at most this long */
#define GW_PARK_TICK   50   /* parked batches are retried this often (ms) */

/* A batch with its arrival rank, for the stable sort of the merge. */
typedef struct gw_park_ent {
    gw_item *it;
    size_t n;
} gw_park_ent;

typedef struct gw_park {
    gw_item *parked; /* waiting for the batches before them; owned */
    size_t nround;   /* parked by the transaction being built */
    gw_park_ent ents[GW_BATCH_ITEMS];
} gw_park;

enum gw_park_verdict {
    GW_PARK_APPLY = 0, /* it starts at or before the next position: apply it */
    GW_PARK_WAIT,      /* park it: the batches before it may still come */
    GW_PARK_GAP        /* answer `gap` (expected: applied + 1) */
};

/* A new transaction is being built: nothing parked by it yet. */
void gw_park_round(gw_park *p);

/* The fate of batch it (first position it->f.seq) for a county whose last
 * applied position is applied, at loop time now_ms. A batch may wait when
 * the writer is not stopping, someone waits for its answer (it->done), a
 * slot is free (GW_PARK_MAX, counted per transaction: a WAIT takes one)
 * and it has not waited GW_PARK_MS yet; otherwise it is a gap. */
enum gw_park_verdict gw_park_decide(gw_park *p, const gw_item *it, uint64_t applied,
                                    uint64_t now_ms, bool stopping);

/* After the transaction committed: keep it (ownership passes) until the
 * next merge; its wait counts from the first time it was kept. */
void gw_park_keep(gw_park *p, gw_item *it, uint64_t now_ms);

/* Whether batches are parked (the writer keeps its retry timer running). */
bool gw_park_pending(const gw_park *p);

/* The new batch (a list linked through link.next) with every parked one,
 * each county's in order of first position, then of arrival (a fork mark,
 * at position 0, first); the parked list is empty afterwards. The caller
 * keeps the total within GW_BATCH_ITEMS (the group commit takes at most
 * GW_BATCH_ITEMS - GW_PARK_MAX off its queue). Returns the new head. */
hcpd_gc_item *gw_park_merge(gw_park *p, hcpd_gc_item *batch);

/* Free every parked batch without an answer (tests; the writer answers
 * them through the group commit instead). */
void gw_park_clear(gw_park *p);

#endif
