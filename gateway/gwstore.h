/*
 * gwstore.h — hcp-gateway's LMDB store (docs/replication.md, "Gateway
 * storage"): every county's log, the counties' replication state, the
 * batch signatures (proofs) and the cases rebuilt from the events.
 *
 * As in the node, one writer (the loop thread, writer.c) and readers on
 * nng's threads in read-only transactions; map growth takes `resize`.
 * The counties' state is also kept in memory (a table under `mu`) so
 * the listener can answer hello and ping without a transaction.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <pthread.h>
#include <stdatomic.h>

#include "env.h"

#include "case.h"
#include "feed_entry.h"
#include "gw.h"

/* Table slots: gw_store_open sizes the table to the next power of two at
 * least twice the divisions in use (core/division.h: Qinghai's 44, or the
 * --divisions list), and never below GW_COUNTIES_MIN; only a division in
 * that list ever takes a slot, so the table cannot fill up. */
#define GW_COUNTIES_MIN 4096

enum gw_county_state { GW_NEVER_SEEN = 0, GW_OK, GW_FORKED, GW_UNAUTHORIZED };

/* Told after every commit that changed the public feed, at the instant
 * at (seconds): the layer above drops what it rendered (feed.c). Called
 * on the loop thread, after the commit, so the change is already visible
 * to every new read transaction. */
typedef void (*gws_feed_hook)(void *arg, hcp_time at);

typedef struct gw_county {
    char code[HCP_COUNTY_LEN + 1]; /* "" = free slot */
    uint64_t applied;              /* last sequence number applied */
    uint8_t head[HCP_HASH_LEN];    /* its hash (the genesis before the first) */
    uint8_t state;                 /* enum gw_county_state */
    uint64_t reported;             /* the node's log head as last told */
    hcp_time last_seen;
    uint64_t rule_flags; /* events the rules refused (flagged, kept) */
} gw_county;

#define GWS_LOG_VAL_KEEP (64 * 1024) /* gws_log_put keeps a buffer up to this size */

struct gw_store {
    hcpd_env db;
    MDB_dbi meta, log, counties, proofs, cases, case_ev, feed;
    MDB_dbi checks; /* the gateway's findings and tallies (checks.h) */
    MDB_dbi tlog;   /* the transparency log (tlog.h) */
    /* the province's figures (stats.h): counters, id sets, open deadlines, names */
    MDB_dbi st_cnt, st_set, st_due, st_name;
    /* the cases with a deadline whose step is not made yet (hcp_case_deadline_running):
     * key the case id, value empty; kept by gws_case_put; what /metrics reads
     * for the overdue gauge instead of every case (format 3, daemon/format.h) */
    MDB_dbi ov_run;
    bool stats_off; /* HCP_GW_STATS=off: counters not kept (measurement only, docs/stats.md) */
    struct gw_st_acc *st_acc; /* the writer's batch of counter deltas (stats.h), loop thread */
    hcp_sealer *sealer;       /* borrowed */
    hcp_buf log_val; /* gws_log_put's scratch (write transaction only), up to GWS_LOG_VAL_KEEP */
    /* The public feed: feed_dirty is set (loop thread) when the write
     * transaction being built changed a case's entry; after its commit the
     * writer calls gws_feed_changed, which tells the listener (feed.c). */
    bool feed_dirty;
    gws_feed_hook feed_hook; /* loop thread; NULL: nobody listens */
    void *feed_hook_arg;
    /* The feed's count index (dbi "feed_cnt", gws_feed_seek_rank): entries
     * per key prefix, written in the same transaction as the entries;
     * feed_cnt_ok once checked against the feed at open (false in a store
     * opened by another program: page= then walks the entries). */
    MDB_dbi feed_cnt;
    bool feed_cnt_ok;
    struct gws_feed_acc *feed_acc; /* the writer's batch of count deltas, loop thread */
    pthread_mutex_t mu;
    gw_county *table; /* nslots entries, owned */
    size_t nslots;    /* a power of two, >= 2 x the divisions, >= GW_COUNTIES_MIN */
    size_t ncounties;
    uint64_t full_refusals; /* slots wanted while the table was full (logged) */
    struct gw_plog *plog;   /* the province log's dbs and memory (plog.h) */

    /* Art. 14's register by month (report.h) */
    MDB_dbi rp_contacts;
    MDB_dbi rp_form;  /* the monthly form's row of each case (report.h) */
    MDB_dbi rp_ver;   /* a version of each prefecture-month's rows (report.h) */
    MDB_dbi rp_dirty; /* cases whose row is not written yet (report.h) */
    struct gw_rp *rp; /* the form's switches and its cache in memory (report.c) */

    /* spot checks: draws and findings (spot.h) */
    MDB_dbi sc_draw, sc_find;
};

/* Errors of the functions below, unless said otherwise: LMDB's codes as
 * gws_err (hcpd_mdb_err, daemon/env.h) maps them, of which callers branch
 * on HCP_ENOTFOUND (no such record) and HCP_EFULL (the map is full: the
 * group commit grows it and redoes the transaction); HCP_ENOMEM; the
 * record codec's HCP_EFORMAT and the sealer's HCP_ECRYPTO for a stored
 * value that cannot be read. txn is the caller's, borrowed. */
#define gws_err                hcpd_mdb_err
#define gws_read_begin(s, txn) hcpd_env_read_begin(&(s)->db, txn)
#define gws_read_end(s, txn)   hcpd_env_read_end(&(s)->db, txn)

/* A copy of county code's state into *out (a never-seen county comes back
 * zeroed with its genesis head). Any thread; no transaction. */
void gws_county_get(gw_store *s, const char *code, gw_county *out);
/* Every known county's state: *out a new array of *n, owned by the caller
 * (free()). HCP_ENOMEM. */
HCP_NODISCARD int gws_county_list(gw_store *s, gw_county **out, size_t *n);
/* Persist c in txn; gws_county_publish makes it visible after the commit. */
HCP_NODISCARD int gws_county_put(gw_store *s, MDB_txn *txn, const gw_county *c);
/* Make c visible after its commit. False when c->code has no slot (not a
 * known division, or the table is full: logged as store.counties_full). */
bool gws_county_publish(gw_store *s, const gw_county *c);
/* Note what a node said of its head and when (memory only; persisted with
 * the county's next commit). Call only for a county the peer proved
 * (after auth): nothing a peer says before that may be kept. Takes a slot
 * for a known division; false when code is not one or the table is full
 * (logged). A reported head above REPL_SEQ_MAX is ignored. */
bool gws_county_seen(gw_store *s, const char *code, uint64_t reported, hcp_time now);

/* Log entries: key county + be64 seq (built in store.c only); value per
 * core/record.h, the personal record sealed. rec and pii are borrowed. */
HCP_NODISCARD int gws_log_put(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq,
                              const uint8_t hash[HCP_HASH_LEN], const void *rec, size_t rec_len,
                              const void *pii, size_t pii_len);
/* The stored hash at seq (HCP_ENOTFOUND when absent). */
HCP_NODISCARD int gws_log_hash(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq,
                               uint8_t hash[HCP_HASH_LEN]);
/* Event seq of county (HCP_ENOTFOUND when absent): its hash, the main and
 * personal records appended to rec/pii (the caller's buffers) and the
 * decoded event into ev (the caller hcp_event_clear()s it), each output
 * optional (NULL), as hcp_stored_event_unpack; personal: unseal the
 * personal record into ev. */
HCP_NODISCARD int gws_log_get(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq,
                              bool personal, uint8_t hash[HCP_HASH_LEN], hcp_buf *rec, hcp_buf *pii,
                              hcp_event *ev);

/* The case id a key of the cases dbi (k) names, NUL-terminated, into id;
 * false (id untouched) for a key that cannot be one (empty, too long). */
bool gws_case_key_id(const MDB_val *k, char id[HCP_CASE_ID_MAX]);
/* Case id into *c (zeroed first; the caller hcp_case_clear()s it, also on
 * an error), with its personal data when personal. HCP_ENOTFOUND. */
HCP_NODISCARD int gws_case_get(gw_store *s, MDB_txn *txn, const char *id, bool personal,
                               hcp_case *c);
/* Store case c (borrowed; with its personal data), the personal data
 * sealed, and its row of the monthly form (gw_report_case, report.h). */
HCP_NODISCARD int gws_case_put(gw_store *s, MDB_txn *txn, const hcp_case *c);
/* Index event (county, seq) under its case. */
HCP_NODISCARD int gws_case_event_add(gw_store *s, MDB_txn *txn, const char *id, const char *county,
                                     uint64_t seq);
/* The events of a case in order: *evs a new array of *n, owned by the
 * caller (gws_events_free). */
HCP_NODISCARD int gws_case_events(gw_store *s, MDB_txn *txn, const char *id, bool personal,
                                  hcp_event **evs, size_t *n);
/* Free what gws_case_events returned (NULL-safe). */
void gws_events_free(hcp_event *evs, size_t n);

/* ---- the public feed's index (dbi "feed") ----
 * Key: be64 updated_at (the case's last_at, seconds) | case id, so a
 * reverse cursor scan is "newest update first"; built and taken apart
 * only by gws_feed_key / gws_feed_key_parse. Value: the entry as
 * gw_feed_entry_value makes it (feed_entry.h), turned into a reference to
 * the transparency log's leaf that holds the same JSON when one was
 * appended (gw_feed_value_to_leaf): the entry is stored once. Read values
 * with gws_feed_value_read, which resolves both forms. */
#define GWS_FEED_KEY_MAX (8 + HCP_CASE_ID_MAX)

/* The feed key of case id updated at `updated` into k; returns its length
 * (8 + the id's, the id cut at HCP_CASE_ID_MAX - 1 bytes). */
size_t gws_feed_key(uint8_t k[GWS_FEED_KEY_MAX], hcp_time updated, const char *id);
/* Take feed key k (len bytes) apart into *updated and id (NUL-terminated);
 * false when it cannot be one (its id not longer than a county code, or
 * too long), and then the outputs are unspecified. */
bool gws_feed_key_parse(const void *k, size_t len, hcp_time *updated, char id[HCP_CASE_ID_MAX]);

/* Replace case c's feed entry in txn: drop the one under prev_at (0: the
 * case had none), append c's entry as of now to the transparency log as
 * its next leaf (gw_tlog_disclose), write the feed value referring to
 * that leaf (or holding the JSON when none was appended), move its counts
 * in the count index (below) and mark the transaction feed_dirty. c is borrowed. Errors: HCP_EINVAL
 * (NULL or id-less case), the entry builder's (HCP_ENOMEM, HCP_ERANGE), LMDB's as gws_err maps them
 * (HCP_EFULL: the map is full, the group commit grows it). */
HCP_NODISCARD int gws_feed_update(gw_store *s, MDB_txn *txn, hcp_time prev_at, const hcp_case *c,
                                  hcp_time now);
/* The stored entry of case id updated at `updated`, in txn: *v borrows
 * from the transaction. HCP_ENOTFOUND when there is none. */
HCP_NODISCARD int gws_feed_get(gw_store *s, MDB_txn *txn, const char *id, hcp_time updated,
                               MDB_val *v);
/* Take stored feed value v (len bytes) apart into *m as gw_feed_value_parse
 * does, and resolve a leaf reference: m->json then borrows the leaf's
 * bytes from txn (s->tlog). Leaves are read through *tcur, a cursor on the
 * log that the caller keeps for a walk's entries (gw_tlog_entry): NULL at
 * first, opened here on txn, closed by the caller (mdb_cursor_close) when
 * non-NULL. HCP_EFORMAT (not a feed value, or a leaf that is not a JSON
 * object), HCP_ENOTFOUND (no such leaf), HCP_EINVAL, LMDB's errors. */
HCP_NODISCARD int gws_feed_value_read(gw_store *s, MDB_txn *txn, MDB_cursor **tcur, const void *v,
                                      size_t len, gw_feed_meta *m);
/* Resolve m (parsed by gw_feed_value_parse) in place: for a leaf reference
 * m->json then borrows the leaf's bytes from txn, read through *tcur as
 * for gws_feed_value_read; an inline entry is left as it is. Errors as
 * gws_feed_value_read's. */
HCP_NODISCARD int gws_feed_meta_resolve(gw_store *s, MDB_txn *txn, MDB_cursor **tcur,
                                        gw_feed_meta *m);
/* The count index (dbi "feed_cnt"): for each feed key and each prefix
 * length L of the levels (time bytes 5..8: buckets of 2^24, 2^16, 2^8 and 1
 * seconds; 24, 26, 27, 28: the case id's county and date, then the first
 * two, three and four digits of its number), key [L][the key's first L
 * bytes, or all of a shorter key] counts the entries with that prefix
 * (be64); key [0xff]"levels" names the levels (another list: rebuilt at
 * open). */
/* Collect the count deltas of gws_feed_update in memory until
 * gws_feed_flush (the writer: one batch's deltas summed, each bucket
 * written once); without it each update writes its buckets at once. */
void gws_feed_defer(gw_store *s);
/* Write the collected deltas into txn and stop collecting. LMDB's errors
 * as gws_err maps them, HCP_EFORMAT (a count would go below zero). */
HCP_NODISCARD int gws_feed_flush(gw_store *s, MDB_txn *txn);
/* Forget the collected deltas (an aborted attempt) and stop collecting. */
void gws_feed_drop(gw_store *s);
/* Position cur (a cursor on s->feed in txn) at the feed entry of rank
 * `rank` counted from the newest (0: the newest), through the count index:
 * at each level a walk over the buckets under the one above, and then over
 * the entries of one bucket, each from its end nearer to the rank; *k and
 * *v borrow from txn.
 * HCP_ENOTFOUND (the feed holds no more than rank entries), HCP_EFORMAT
 * (the index disagrees with the feed, or is not open: walk instead),
 * HCP_EINVAL, LMDB's errors. */
HCP_NODISCARD int gws_feed_seek_rank(gw_store *s, MDB_txn *txn, MDB_cursor *cur, uint64_t rank,
                                     MDB_val *k, MDB_val *v);

/* Listen to feed changes: fn(arg, at) after each commit that changed the
 * feed (NULL: stop listening). Call on the loop thread, or before the loop
 * runs or after it stopped; one listener at a time. */
void gws_feed_listen(gw_store *s, gws_feed_hook fn, void *arg);
/* After a commit in which feed_dirty was set: tell the listener. */
void gws_feed_changed(gw_store *s, hcp_time now);

/* Keep a batch signature and the certificate that made it (both
 * borrowed). HCP_ERANGE when the signature is longer than 65535 bytes. */
HCP_NODISCARD int gws_proof_put(gw_store *s, MDB_txn *txn, const char *county, uint64_t last_seq,
                                const uint8_t *sig, size_t sig_len, const uint8_t *cert,
                                size_t cert_len);

#endif
