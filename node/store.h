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
#include <stddef.h>
#include <stdint.h>

#include "env.h"

#include "case.h"
#include "chain.h"
#include "hcp.h"
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
    /* directives (node/directive.h, docs/directives.md): db `dirs` (absent
     * in a read-only open of a store older than it: has_dirs false) and
     * the position, meta "dseq", as committed (the writer publishes it) */
    MDB_dbi dirs;
    bool has_dirs;
    /* Art. 14's register (node/contacts.h): db `contacts` (absent in a
     * read-only open of a store older than it: has_contacts false) */
    MDB_dbi contacts;
    bool has_contacts;
    _Atomic uint64_t dseq;
    bool readonly;
    char county[HCP_COUNTY_LEN + 1];
    hcp_chain chain; /* committed head: written and read by the writer only */
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

/*
 * Errors. Every function returning int returns an enum hcp_err (core/hcp.h).
 * Those callers branch on: HCP_ENOTFOUND (no such record), HCP_EFULL (the
 * map is full: the group commit grows it and redoes the batch), HCP_ENOSPC
 * (the disk is full), HCP_ENOMEM; HCP_EFORMAT, HCP_ECRYPTO, HCP_EUTF8 and
 * HCP_EVERSION for a stored record that does not decode or unseal; any
 * other LMDB failure is HCP_EIO (store_err maps LMDB's codes).
 */

/* Open (creating if needed, unless readonly) the store in dir for county.
 * A store made for another county is refused (HCP_EFORMAT, message in err).
 * The head is read and its hash re-checked against the last log entry
 * (HCP_ECHAIN when it does not match). On failure err holds a one-line
 * message and s is closed; on success close it with store_close. sealer is
 * borrowed (NULL: personal records cannot be read or written). */
HCP_NODISCARD int store_open(node_store *s, const char *dir, const char *county, bool readonly,
                             hcp_sealer *sealer, char *err, size_t errlen);
/* Close the environment (NULL-safe; every transaction must have ended). */
void store_close(node_store *s);

/* The county a store in dir was made for (meta "county"), read from a
 * read-only open beside a running node: the subcommands' first step.
 * HCP_ENOTFOUND when it has none, HCP_EFORMAT when it is not six bytes;
 * err receives a one-line message on any failure. */
HCP_NODISCARD int store_county_of(const char *dir, char county[HCP_COUNTY_LEN + 1], char *err,
                                  size_t errlen);
/* Mark the store in dir, a backup copy no process has open, as needing to
 * fetch its history before it takes writes (meta "needs_sync" = "1"). */
HCP_NODISCARD int store_mark_needs_sync(const char *dir);

#define store_err hcpd_mdb_err
/* Read transactions: shared lock against map growth (env.h). */
#define store_read_begin(s, txn) hcpd_env_read_begin(&(s)->db, txn)
#define store_read_end(s, txn)   hcpd_env_read_end(&(s)->db, txn)

/* Begin a write transaction (writer thread only) and point the cache at
 * it. On HCP_EFULL from any put, the group commit (daemon/gc.h) aborts,
 * grows the map and redoes the batch. */
HCP_NODISCARD int store_write_begin(node_store *s, MDB_txn **txn);
/* The cache serves txn, a write transaction begun by the caller. */
void store_cache_start(node_store *s, MDB_txn *txn);
/* Put every cached value (before the commit); on failure the transaction
 * is to be aborted. */
HCP_NODISCARD int store_cache_flush(node_store *s, MDB_txn *txn);
/* Drop the cache (after a commit or an abort). */
void store_cache_drop(node_store *s);

/* The room written ahead of the log's pages (docs/storage.md, "Room
 * ahead") is the group commit's: hcpd_env_ahead (daemon/env.h), called in
 * each of the writer's transactions by daemon/gc.c. */

/* Read case `id` into *c (zeroed first; caller hcp_case_clear()s it, on
 * failure too). personal: also unseal and decode its personal record.
 * HCP_ENOTFOUND when absent. */
HCP_NODISCARD int store_case_get(node_store *s, MDB_txn *txn, const char *id, bool personal,
                                 hcp_case *c);
/* Write case c (old: its previous state or NULL) and keep the status index
 * and status counters in step. */
HCP_NODISCARD int store_case_put(node_store *s, MDB_txn *txn, const hcp_case *old,
                                 const hcp_case *c);

/* Append ev to the log: assigns ev->seq, encodes, seals its personal
 * record, chains it (ch is the tentative head, advanced on success) and
 * indexes it under its case. */
HCP_NODISCARD int store_log_append(node_store *s, MDB_txn *txn, hcp_chain *ch, hcp_event *ev);
/* Read log entry seq: the event (personal data too when personal; caller
 * clears it), its stored hash, and (if rec != NULL) a copy of its main
 * record bytes appended to rec. HCP_ENOTFOUND past the head. */
HCP_NODISCARD int store_log_get(node_store *s, MDB_txn *txn, uint64_t seq, bool personal,
                                hcp_event *ev, uint8_t hash[HCP_HASH_LEN], hcp_buf *rec);
/* The events of a case, in order: *evs is a new array of *n events the
 * caller owns and frees with store_events_free (NULL, 0 for an unknown
 * case). */
HCP_NODISCARD int store_case_events(node_store *s, MDB_txn *txn, const char *id, bool personal,
                                    hcp_event **evs, size_t *n);
/* Clear and free what store_case_events returned (NULL-safe). */
void store_events_free(hcp_event *evs, size_t n);

/* Counters: u64 values under short keys ("eval", "day:<yyyymmdd>",
 * "st:<status>"); an absent counter reads 0. HCP_EFORMAT for a stored value
 * that is not 8 bytes; store_counter_add: HCP_ERANGE when a negative delta
 * would go below 0 (nothing changes). out may be NULL. */
HCP_NODISCARD int store_counter_get(node_store *s, MDB_txn *txn, const char *key, uint64_t *v);
HCP_NODISCARD int store_counter_add(node_store *s, MDB_txn *txn, const char *key, int64_t delta,
                                    uint64_t *v);

/* Art. 11's denominator: count one rating for unit, staff and day
 * (HCP_EINVAL for a rating outside 1..5). */
HCP_NODISCARD int store_tally_add(node_store *s, MDB_txn *txn, const hcp_intake *in, hcp_day day);

/* Record who read which case's personal data, and when; why: the reason
 * they gave, already masked (NULL or "": none asked for). */
HCP_NODISCARD int store_access_log(node_store *s, MDB_txn *txn, hcp_time now, const char *who,
                                   const char *what, const char *why);

/* Set or clear meta "needs_sync" (see the field). */
HCP_NODISCARD int store_needs_sync_put(node_store *s, MDB_txn *txn, bool on);
/* Append an event that came back from the gateway, exactly as it was
 * written: seq must be ch->seq + 1 and hash must chain (HCP_ECHAIN
 * otherwise); the personal record (plaintext, may be empty) is sealed with
 * this node's key. *ev receives the decoded event (caller clears). */
HCP_NODISCARD int store_log_put_remote(node_store *s, MDB_txn *txn, hcp_chain *ch, uint64_t seq,
                                       const uint8_t hash[HCP_HASH_LEN], const void *rec,
                                       size_t rec_len, const void *pii, size_t pii_len,
                                       hcp_event *ev);

/* Record the gateway's acknowledged position (meta "acked"). */
HCP_NODISCARD int store_acked_put(node_store *s, MDB_txn *txn, uint64_t seq);
/* The stored log entry seq as it goes on the wire: its hash, main record and
 * (unsealed) personal record appended to rec and pii. */
HCP_NODISCARD int store_log_wire(node_store *s, MDB_txn *txn, uint64_t seq,
                                 uint8_t hash[HCP_HASH_LEN], hcp_buf *rec, hcp_buf *pii);

/* Make every committed transaction durable (mdb_env_sync, one fdatasync):
 * while the writer runs, commits skip LMDB's meta-page flush (docs/storage.md),
 * so a commit made outside the writer calls this before it is relied on.
 * HCP_EIO (or LMDB's mapped error) when the flush fails. */
HCP_NODISCARD int store_sync(node_store *s);

/* Persist the tentative head ch into meta (same transaction). */
HCP_NODISCARD int store_head_put(node_store *s, MDB_txn *txn, const hcp_chain *ch);

/* ---- queries: read by the API's readers and by the writer ---- */

/* The status index's key (docs/storage.md): one status byte, then the
 * case id without its NUL. Encode into buf (cap bytes, STORE_STATUS_KEY_MAX
 * is enough for any id that fits a case id): *len receives the key's
 * length; HCP_ERANGE when it does not fit, HCP_EINVAL for an empty id. */
#define STORE_STATUS_KEY_MAX (1 + HCP_CASE_ID_MAX)
HCP_NODISCARD int store_status_key_encode(uint8_t status, const char *id, uint8_t *buf, size_t cap,
                                          size_t *len);
/* Decode a status index key of len bytes: its status and the id as a
 * string. HCP_EFORMAT for a key without an id or with a NUL in it,
 * HCP_ERANGE when the id does not fit id[HCP_CASE_ID_MAX]. */
HCP_NODISCARD int store_status_key_decode(const void *key, size_t len, uint8_t *status,
                                          char id[HCP_CASE_ID_MAX]);

/* Ids of every case that may still run a deadline (status before
 * feedback: received, verifying, disputed, rectifying, feedback pending),
 * by status then id. *ids is a new array of *count ids the caller free()s
 * (NULL when there are none); unchanged on failure. Malformed index keys
 * are skipped. */
HCP_NODISCARD int store_open_case_ids(node_store *s, MDB_txn *txn, char (**ids)[HCP_CASE_ID_MAX],
                                      size_t *count);

/* What a case scan calls for every case it visits: the id and the case,
 * both the scan's (copy what must outlive the call). Return HCP_OK to go
 * on, STORE_STOP to end the scan there (the scan then returns HCP_OK), or
 * an error, which ends the scan and is returned. */
#define STORE_STOP (-1)
typedef int (*store_case_fn)(void *arg, const char *id, const hcp_case *c);

/* Visit cases without personal data in key order: those with status
 * `status` in id order (status 0: every case, in id order), starting
 * strictly after id `after` ("" or NULL: from the first). A case the
 * index names that cannot be read ends the scan with store_case_get's
 * error; a malformed index key ends it as if the index ended there.
 * HCP_ERANGE when after is longer than a case id. */
HCP_NODISCARD int store_cases_after(node_store *s, MDB_txn *txn, uint8_t status, const char *after,
                                    store_case_fn fn, void *arg);

/* Visit the cases opened in month (year 2000..9999, month 1..12; their ids
 * begin with county-yyyymm) in id order; personal: with their personal
 * records unsealed. HCP_EINVAL for a month out of range. */
HCP_NODISCARD int store_cases_of_month(node_store *s, MDB_txn *txn, int year, int month,
                                       bool personal, store_case_fn fn, void *arg);

/* The map's use for /metrics: bytes in use (pages up to the last one
 * written) and the map's size. HCP_EIO when LMDB cannot say. */
HCP_NODISCARD int store_map_usage(node_store *s, uint64_t *used, uint64_t *size);

#endif
