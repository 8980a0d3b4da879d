/*
 * store.h — hcp-node's LMDB store (docs/storage.md has the layout).
 *
 * One environment in DIR (data.mdb, lock.mdb). The single writer is the
 * libuv loop thread (writer.c); readers are the HTTP server's thread, each with a
 * read-only transaction (MDB_NOTLS). Growing the map needs every
 * transaction of this process closed, so readers hold `resize` shared and the
 * writer takes it exclusively to grow.
 *
 * Values borrowed from LMDB (MDB_val) live until their transaction ends;
 * everything these functions return to callers is a copy they own.
 */
#ifndef NODE_STORE_H
#define NODE_STORE_H

#include <stdatomic.h>

#include "env.h"

#include "case.h"
#include "chain.h"
#include "seal.h"

#define STORE_MAP_INITIAL (64u << 20) /* bytes; HCP_MAPSIZE overrides (tests) */

/* Small values (counters, tallies) a write transaction changes many times:
 * kept here and put once, at store_cache_flush, instead of a get and a put
 * per request. Only the writer's transaction uses it. */
#define STORE_CACHE_MAX 512
typedef struct store_cached {
    MDB_dbi dbi;
    uint16_t klen;
    uint8_t vlen;
    uint8_t key[2 + 200 + 4];
    uint8_t val[24];
} store_cached;

struct node_store {
    hcpd_env db;
    /* the write transaction the cache belongs to, or NULL; atomic because a
     * reader on another thread compares its own transaction against it */
    _Atomic(MDB_txn *) cache_txn;
    size_t ncached;
    store_cached cache[STORE_CACHE_MAX];
    MDB_dbi meta, log, cases, case_ev, counters, tally, status_idx, access;
    bool readonly;
    char county[HCP_COUNTY_LEN + 1];
    hcp_chain chain;    /* committed head: written and read by the writer only */
    /* chain.seq as published after each commit, for readers on other threads */
    _Atomic uint64_t head_seq;
    char node_id[17];   /* random, made with the store: names this node to the gateway */
    uint64_t acked;     /* the gateway's acknowledged position, as loaded at open */
    hcp_sealer *sealer; /* borrowed from the node */
    /* Must fetch its history from the gateway before taking writes: a
     * restored backup (hcp-node backup marks its copies) or a new store of
     * a node that has a gateway (its disk may have been replaced). Written
     * by the writer only. */
    _Atomic bool needs_sync;
    bool created; /* the store was made by this open */
};
typedef struct node_store node_store;

/* Open (creating if needed, unless readonly) the store in dir for county.
 * A store made for another county is refused (HCP_EINVAL, message in err).
 * The head is read and its hash re-checked against the last log entry. */
int store_open(node_store *s, const char *dir, const char *county, bool readonly,
               hcp_sealer *sealer, char *err, size_t errlen);
void store_close(node_store *s);

#define store_err hcpd_mdb_err
/* Read transactions: shared lock against map growth (env.h). */
#define store_read_begin(s, txn) hcpd_env_read_begin(&(s)->db, txn)
#define store_read_end(s, txn)   hcpd_env_read_end(&(s)->db, txn)

/* Write transactions (writer thread only). On HCP_EFULL from any put, the
 * group commit (daemon/gc.h) aborts, grows the map and redoes the batch. */
int store_write_begin(node_store *s, MDB_txn **txn);
/* The cache serves txn, a write transaction begun by the caller. */
void store_cache_start(node_store *s, MDB_txn *txn);
/* Put every cached value (before the commit); drop the cache (after an abort). */
int store_cache_flush(node_store *s, MDB_txn *txn);
void store_cache_drop(node_store *s);

/* Read case `id` into *c (zeroed first; caller clears). personal: also
 * unseal and decode its personal record. HCP_ENOTFOUND when absent. */
int store_case_get(node_store *s, MDB_txn *txn, const char *id, bool personal, hcp_case *c);
/* Write case c (old: its previous state or NULL) and keep the status index
 * and status counters in step. */
int store_case_put(node_store *s, MDB_txn *txn, const hcp_case *old, const hcp_case *c);

/* Append ev to the log: assigns ev->seq, encodes, seals its personal
 * record, chains it (ch is the tentative head, advanced on success) and
 * indexes it under its case. */
int store_log_append(node_store *s, MDB_txn *txn, hcp_chain *ch, hcp_event *ev);
/* Read log entry seq: the event (personal data too when personal), its
 * stored hash, and (if rec != NULL) a copy of its main record bytes. */
int store_log_get(node_store *s, MDB_txn *txn, uint64_t seq, bool personal, hcp_event *ev,
                  uint8_t hash[HCP_HASH_LEN], hcp_buf *rec);
/* The events of a case, in order: *evs is a new array of *n events the
 * caller clears and frees with store_events_free. */
int store_case_events(node_store *s, MDB_txn *txn, const char *id, bool personal, hcp_event **evs,
                      size_t *n);
void store_events_free(hcp_event *evs, size_t n);

/* Counters: u64 values under short keys ("eval", "day:<yyyymmdd>", "st:<status>"). */
int store_counter_get(node_store *s, MDB_txn *txn, const char *key, uint64_t *v);
int store_counter_add(node_store *s, MDB_txn *txn, const char *key, int64_t delta, uint64_t *v);

/* Art. 11's denominator: count one rating for unit, staff and day. */
int store_tally_add(node_store *s, MDB_txn *txn, const hcp_intake *in, hcp_day day);

/* Record who read which case's personal data, and when. */
int store_access_log(node_store *s, MDB_txn *txn, hcp_time now, const char *who, const char *what);

/* Set or clear meta "needs_sync" (see the field). */
int store_needs_sync_put(node_store *s, MDB_txn *txn, bool on);
/* Append an event that came back from the gateway, exactly as it was
 * written: seq must be ch->seq + 1 and hash must chain (HCP_ECHAIN
 * otherwise); the personal record (plaintext, may be empty) is sealed with
 * this node's key. *ev receives the decoded event (caller clears). */
int store_log_put_remote(node_store *s, MDB_txn *txn, hcp_chain *ch, uint64_t seq,
                         const uint8_t hash[HCP_HASH_LEN], const void *rec, size_t rec_len,
                         const void *pii, size_t pii_len, hcp_event *ev);

/* Record the gateway's acknowledged position (meta "acked"). */
int store_acked_put(node_store *s, MDB_txn *txn, uint64_t seq);
/* The stored log entry seq as it goes on the wire: its hash, main record and
 * (unsealed) personal record appended to rec and pii. */
int store_log_wire(node_store *s, MDB_txn *txn, uint64_t seq, uint8_t hash[HCP_HASH_LEN],
                   hcp_buf *rec, hcp_buf *pii);

/* Persist the tentative head ch into meta (same transaction). */
int store_head_put(node_store *s, MDB_txn *txn, const hcp_chain *ch);

#endif
