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

#include "env.h"

#include "case.h"
#include "gw.h"

#define GW_COUNTIES_MAX 4096 /* table slots; China has about 2,900 counties */

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
    MDB_dbi meta, log, counties, proofs, cases, case_ev;
    hcp_sealer *sealer; /* borrowed */
    pthread_mutex_t mu;
    gw_county table[GW_COUNTIES_MAX];
    size_t ncounties;
};

#define gws_err                hcpd_mdb_err
#define gws_read_begin(s, txn) hcpd_env_read_begin(&(s)->db, txn)
#define gws_read_end(s, txn)   hcpd_env_read_end(&(s)->db, txn)
#define gws_grow(s)            hcpd_env_grow(&(s)->db)

/* A copy of county code's state (a never-seen county comes back zeroed
 * with its genesis head). */
void gws_county_get(gw_store *s, const char *code, gw_county *out);
/* Every known county's state: *out a new array of *n (caller frees). */
int gws_county_list(gw_store *s, gw_county **out, size_t *n);
/* Persist c in txn; gws_county_publish makes it visible after the commit. */
int gws_county_put(gw_store *s, MDB_txn *txn, const gw_county *c);
void gws_county_publish(gw_store *s, const gw_county *c);
/* Note what a node said of its head and when (memory only). */
void gws_county_seen(gw_store *s, const char *code, uint64_t reported, hcp_time now);

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

/* Keep a batch signature and the certificate that made it. */
int gws_proof_put(gw_store *s, MDB_txn *txn, const char *county, uint64_t last_seq,
                  const uint8_t *sig, size_t sig_len, const uint8_t *cert, size_t cert_len);

#endif
