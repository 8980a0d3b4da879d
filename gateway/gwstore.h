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
#include "gw.h"

/* Table slots: gw_store_open sizes the table to the next power of two at
 * least twice the divisions in use (core/division.h: Qinghai's 44, or the
 * --divisions list), and never below GW_COUNTIES_MIN; only a division in
 * that list ever takes a slot, so the table cannot fill up. */
#define GW_COUNTIES_MIN 4096

enum gw_county_state { GW_NEVER_SEEN = 0, GW_OK, GW_FORKED, GW_UNAUTHORIZED };

typedef struct gw_county {
    char code[HCP_COUNTY_LEN + 1]; /* "" = free slot */
    uint64_t applied;              /* last sequence number applied */
    uint8_t head[HCP_HASH_LEN];    /* its hash (the genesis before the first) */
    uint8_t state;                 /* enum gw_county_state */
    uint64_t reported;             /* the node's log head as last told */
    hcp_time last_seen;
    uint64_t rule_flags; /* events the rules refused (flagged, kept) */
} gw_county;

struct gw_store {
    hcpd_env db;
    MDB_dbi meta, log, counties, proofs, cases, case_ev, feed;
    hcp_sealer *sealer; /* borrowed */
    /* The public feed (feed.c): its version goes up after every commit
     * that changed a case, and mtime is when (Last-Modified). */
    _Atomic uint64_t feed_version;
    _Atomic int64_t feed_mtime;
    bool feed_dirty;                  /* loop thread: this transaction changed a case */
    struct gw_feed_cache *feed_cache; /* rendered pages, owned */
    pthread_mutex_t mu;
    gw_county *table; /* nslots entries, owned */
    size_t nslots;    /* a power of two, >= 2 x the divisions, >= GW_COUNTIES_MIN */
    size_t ncounties;
    uint64_t full_refusals; /* slots wanted while the table was full (logged) */
};

#define gws_err                hcpd_mdb_err
#define gws_read_begin(s, txn) hcpd_env_read_begin(&(s)->db, txn)
#define gws_read_end(s, txn)   hcpd_env_read_end(&(s)->db, txn)

/* A copy of county code's state (a never-seen county comes back zeroed
 * with its genesis head). */
void gws_county_get(gw_store *s, const char *code, gw_county *out);
/* Every known county's state: *out a new array of *n (caller frees). */
int gws_county_list(gw_store *s, gw_county **out, size_t *n);
/* Persist c in txn; gws_county_publish makes it visible after the commit. */
int gws_county_put(gw_store *s, MDB_txn *txn, const gw_county *c);
/* Make c visible after its commit. False when c->code has no slot (not a
 * known division, or the table is full: logged as store.counties_full). */
bool gws_county_publish(gw_store *s, const gw_county *c);
/* Note what a node said of its head and when (memory only; persisted with
 * the county's next commit). Call only for a county the peer proved
 * (after auth): nothing a peer says before that may be kept. Takes a slot
 * for a known division; false when code is not one or the table is full
 * (logged). A reported head above REPL_SEQ_MAX is ignored. */
bool gws_county_seen(gw_store *s, const char *code, uint64_t reported, hcp_time now);

/* Log entries: key county + be64 seq; value per core/stored.h. */
int gws_log_put(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq,
                const uint8_t hash[HCP_HASH_LEN], const void *rec, size_t rec_len, const void *pii,
                size_t pii_len);
/* The stored hash at seq (HCP_ENOTFOUND when absent). */
int gws_log_hash(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq,
                 uint8_t hash[HCP_HASH_LEN]);
/* Event seq of county; rec/pii/ev as hcp_stored_event_unpack. */
int gws_log_get(gw_store *s, MDB_txn *txn, const char *county, uint64_t seq, bool personal,
                uint8_t hash[HCP_HASH_LEN], hcp_buf *rec, hcp_buf *pii, hcp_event *ev);

int gws_case_get(gw_store *s, MDB_txn *txn, const char *id, bool personal, hcp_case *c);
int gws_case_put(gw_store *s, MDB_txn *txn, const hcp_case *c);
/* Index event (county, seq) under its case. */
int gws_case_event_add(gw_store *s, MDB_txn *txn, const char *id, const char *county, uint64_t seq);
/* The events of a case in order (new array; free with gws_events_free). */
int gws_case_events(gw_store *s, MDB_txn *txn, const char *id, bool personal, hcp_event **evs,
                    size_t *n);
void gws_events_free(hcp_event *evs, size_t n);

/* ---- the public feed's index (dbi "feed") ----
 * Key: be64 updated_at (the case's last_at, seconds) | case id, so a
 * reverse cursor scan is "newest update first". Value: GWS_FEED_HDR bytes
 * (u8 format 1 | u8 flags GWS_FEED_* | be64 received_at | be64 flip_at,
 * the instant after which a kept deadline is missed, 0 none) then the
 * redacted entry as a JSON object without "deadline_met" (feed.c). */
#define GWS_FEED_HDR    18
#define GWS_FEED_CLOSED 1u
#define GWS_FEED_MET    2u

/* Replace case c's feed entry in txn: drop the one under prev_at (0: the
 * case had none), write c's as of now. c is borrowed. */
int gws_feed_update(gw_store *s, MDB_txn *txn, hcp_time prev_at, const hcp_case *c, hcp_time now);
/* After a commit in which feed_dirty was set: a new feed version. */
void gws_feed_changed(gw_store *s, hcp_time now);

/* feed.c: the entry value of c (GWS_FEED_HDR + JSON) into out, redacted
 * with c's personal data as known strings; c is borrowed. */
int gw_feed_value(const hcp_case *c, hcp_time now, hcp_buf *out);
/* feed.c: the page cache, made at store open and freed at close. */
int gw_feed_cache_new(struct gw_feed_cache **out);
void gw_feed_cache_free(struct gw_feed_cache *fc);
/* feed.c: whether path is a public feed route; answer it (GET/HEAD). */
bool gw_feed_is_route(const char *path);
void gw_feed_handle(gw *g, hcpd_req *r);

/* Keep a batch signature and the certificate that made it. */
int gws_proof_put(gw_store *s, MDB_txn *txn, const char *county, uint64_t last_seq,
                  const uint8_t *sig, size_t sig_len, const uint8_t *cert, size_t cert_len);

#endif
