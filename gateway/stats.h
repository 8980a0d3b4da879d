/*
 * stats.h — the province's figures (docs/stats.md, issue #12): counters
 * the gateway keeps as it applies each county's events, so that the
 * Art. 11 lists, the Art. 12 hot spots, the summary and the public
 * /feed/stats.json are sums of a few stored buckets, never a rescan.
 *
 * The contribution of a case to every counter is a pure function of its
 * stored state (gw_stats_case_contrib): when the writer changes a case it
 * adds f(new) - f(old) in the same LMDB transaction (gw_stats_case), so
 * any later transition (a dispute decided, a re-opened rectification, a
 * late step) keeps the counters equal to a recount. The same holds for
 * the three derived sets (the Art. 11 case ids, the revisits missing) and
 * the index of open deadlines, whose passing is the only figure that
 * depends on the time of the query.
 *
 * Four databases (gwstore.h): st_cnt (counters), st_set (id sets),
 * st_due (open deadlines), st_name (unit, item and staff names).
 */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <jansson.h>
#include <lmdb.h>

#include "case.h"
#include "gw.h"

typedef struct gw_st_acc gw_st_acc; /* the deltas of a batch (stats.c) */

/* Bytes of a code or id kept in a key (longer ones are cut: docs/stats.md). */
#define GW_ST_CODE_MAX 96
#define GW_ST_KEY_MAX  (8 + HCP_COUNTY_LEN + 2 * (GW_ST_CODE_MAX + 1) + HCP_CASE_ID_MAX)
#define GW_ST_VEC_MAX  24 /* counters in one bucket */
#define GW_ST_LIST_MAX 32 /* buckets one case contributes to */
#define GW_ST_SETS_MAX 4  /* set keys of one case */

/* Counter kinds (the key's first byte). */
#define GW_STK_COUNTY 'C' /* per county: the summary's row (enum gw_st_c) */
#define GW_STK_ITEM   'I' /* per service item: adopted cases */
#define GW_STK_UNIT   'V' /* per county and unit: adopted cases */
#define GW_STK_DIM    'X' /* per dimension: adopted cases */
#define GW_STK_RATING 'U' /* per county and unit, yearly: Art. 11 (enum gw_st_u) */
#define GW_STK_STAFF  'F' /* per county, unit and staff, yearly: Art. 11 (enum gw_st_f) */
/* Granularities (the key's second byte): the period that follows is a
 * day (hcp_day), a month (year * 12 + month - 1) or a year. */
#define GW_STG_DAY   'D'
#define GW_STG_MONTH 'M'
#define GW_STG_YEAR  'Y'

/* The county bucket: cases received in it, by status, outcome and kind,
 * and the deadline and revisit facts that do not depend on the clock. */
enum gw_st_c {
    GW_SC_CASES = 0,
    GW_SC_STATUS,                     /* + hcp_status - 1 (8 statuses) */
    GW_SC_OUTCOME = GW_SC_STATUS + 8, /* + hcp_outcome (none included: 5) */
    GW_SC_REVIEW = GW_SC_OUTCOME + 5, /* kind review */
    GW_SC_COMPLAINT,                  /* kind complaint */
    GW_SC_ON_TIME,                    /* closed, every deadline met */
    GW_SC_LATE_CLOSED,                /* closed, a deadline missed */
    GW_SC_LATE_OPEN,                  /* open, a deadline already missed (recorded) */
    GW_SC_REVISIT_OWED,               /* fed back and owing a revisit (Art. 8) */
    GW_SC_REVISITED,                  /* of those, revisited */
    GW_SC_SATISFIED,                  /* of those, satisfied at the latest revisit */
    GW_SC_N_
};
_Static_assert(HCP_ST_COUNT_ == 9 && HCP_OUT_COUNT_ == 5, "gw_st_c's layout");
_Static_assert(GW_SC_N_ <= GW_ST_VEC_MAX, "a county bucket fits");

/* The unit's yearly bucket (Art. 11). */
enum gw_st_u {
    GW_SU_RATINGS = 0, /* every rating 1..5 received (evaluations and review cases) */
    GW_SU_NEGATIVE,    /* adopted negative reviews, dispute not open */
    GW_SU_PENDING,     /* negative reviews whose dispute is still open */
    GW_SU_N_
};
/* The staff member's yearly bucket (Art. 11). */
enum gw_st_f {
    GW_SF_CASES = 0, /* adopted substantiated cases, dispute not open */
    GW_SF_PENDING,   /* substantiated cases whose dispute is still open */
    GW_SF_N_
};

/* One bucket's key and the counts added to it. */
typedef struct gw_st_item {
    uint8_t key[GW_ST_KEY_MAX];
    uint16_t klen;
    uint8_t n; /* counts used */
    int64_t v[GW_ST_VEC_MAX];
} gw_st_item;

typedef struct gw_st_list {
    size_t n;
    gw_st_item it[GW_ST_LIST_MAX];
} gw_st_list;

/* A case's members of the id sets (st_set): staff cases ('F'), pending
 * negative reviews ('Q'), revisits missing ('R'); value one byte. */
typedef struct gw_st_sets {
    size_t n;
    struct {
        uint8_t key[GW_ST_KEY_MAX];
        uint16_t klen;
        uint8_t val;
    } k[GW_ST_SETS_MAX];
} gw_st_sets;

/* ---- pure: the rules of each figure (docs/stats.md) ---- */

/* Month index of day d (year * 12 + month - 1), and its year. */
int32_t gw_stats_month_of(hcp_day d);
int32_t gw_stats_year_of(hcp_day d);
/* The first day of month index m (year * 12 + month - 1). */
hcp_day gw_stats_month_start(int32_t m);

/* Whether a deadline of c was missed in a way its stored state shows
 * (an overdue mark, or a step made after its deadline), whatever the time
 * now: the same as !hcp_case_deadline_met for a closed case. */
bool gw_stats_missed(const hcp_case *c);
/* The earliest deadline of c still running and unmet (0 when none, or
 * when c is closed or already counted late): the st_due index entry. */
hcp_time gw_stats_open_due(const hcp_case *c);
/* Whether c owes a revisit (Art. 8): adopted, substantiated, reachable
 * or real-name, and fed back. */
bool gw_stats_revisit_owed(const hcp_case *c);

/*
 * The buckets case c contributes to (out reset first): c's scalar state
 * (status, outcome, dates...) with its intake `in` (unit, staff, item,
 * dimensions: fixed from case_open on). Nothing for a case with status
 * HCP_ST_NONE. Cannot fail.
 */
void gw_stats_case_contrib(const hcp_case *c, const hcp_intake *in, gw_st_list *out);
/* The id-set keys of case c (out reset first); nothing for HCP_ST_NONE. */
void gw_stats_case_sets(const hcp_case *c, const hcp_intake *in, gw_st_sets *out);
/* out = after - before, merging equal keys; buckets that sum to zero are
 * dropped. before and after are the lists of two states of one case. */
void gw_stats_delta(const gw_st_list *before, const gw_st_list *after, gw_st_list *out);

/* Key of a counter bucket: kind, granularity, period, then rest (rlen
 * bytes) into k; returns the length (0 when it does not fit). */
size_t gw_stats_key(uint8_t k[GW_ST_KEY_MAX], uint8_t kind, uint8_t gran, int32_t period,
                    const void *rest, size_t rlen);
/* Take a counter key apart; false when it is not one. *rest borrows k. */
bool gw_stats_key_parse(const uint8_t *k, size_t len, uint8_t *kind, uint8_t *gran, int32_t *period,
                        const uint8_t **rest, size_t *rlen);

/* Stored bucket value: u8 n, then n be64 counts (two's complement). */
#define GW_ST_VAL_MAX (1 + 8 * GW_ST_VEC_MAX)
size_t gw_stats_val_pack(const int64_t *v, size_t n, uint8_t out[GW_ST_VAL_MAX]);
/* Add a stored value's counts to sum[0..nsum) (counts past nsum ignored,
 * missing ones add nothing). HCP_EFORMAT when malformed. */
HCP_NODISCARD int gw_stats_val_add(const void *val, size_t len, int64_t *sum, size_t nsum);

/*
 * A period [from, to] of days (a bound < 0 is open, clamped to
 * 2000-01-01 .. 2199-12-31) as the buckets that sum it: days
 * [d1a, d1b] before the first whole month, months [m1, m2], days
 * [d2a, d2b] after the last; an empty part has a > b.
 */
typedef struct gw_st_span {
    hcp_day d1a, d1b;
    int32_t m1, m2;
    hcp_day d2a, d2b;
} gw_st_span;
void gw_stats_span(hcp_day from, hcp_day to, gw_st_span *sp);

/* ---- in the store (the writer's transaction) ---- */

/*
 * Case c changed from before (a scalar snapshot, gw_checks_snapshot;
 * status HCP_ST_NONE for a new case) to after: add the difference to the
 * counters, the sets and the due index, and keep the names of its unit,
 * item and staff. after's intake is used for both (it never changes).
 * Nothing when the store's counters are off. Errors: LMDB's as gws_err
 * maps them (HCP_EFULL: the group commit grows the map), HCP_ENOMEM,
 * HCP_EFORMAT (a stored bucket that cannot be read).
 */
HCP_NODISCARD int gw_stats_case(gw_store *s, MDB_txn *txn, const hcp_case *before,
                                const hcp_case *after);
/* An evaluation event: one rating for its unit's year. Errors as above. */
HCP_NODISCARD int gw_stats_evaluation(gw_store *s, MDB_txn *txn, const hcp_event *ev);

/* The writer's batches: after gw_stats_defer the counter deltas of
 * gw_stats_case / gw_stats_evaluation are summed in memory (the sets and
 * the due index are still written at once) until gw_stats_flush writes
 * each bucket once into txn (errors as gw_stats_case) — call it before
 * the transaction commits. gw_stats_drop forgets them (the transaction is
 * abandoned). Out of memory, deferring silently writes at once. Loop
 * thread (the writer) only. gw_stats_free releases the memory (store
 * close). */
void gw_stats_defer(gw_store *s);
HCP_NODISCARD int gw_stats_flush(gw_store *s, MDB_txn *txn);
void gw_stats_drop(gw_store *s);
void gw_stats_free(gw_store *s);

/* At open, in its transaction: first the checks' month tallies are made
 * when the store has none (gw_checks_upgrade, checks.h; with the counters
 * on or off). Then a store whose figures were never counted (written
 * before they existed, or while they were off) has them emptied, every
 * stored case and every evaluation of the log counted once, and is marked
 * counted; with the counters off the mark is removed. Errors as above
 * (HCP_EFULL: the map is too small for the figures). */
HCP_NODISCARD int gw_stats_rebuild(gw_store *s, MDB_txn *txn);

/* ---- the routes (supervisor; the feed's public) ---- */

/* Route helpers answer r themselves; run them on the worker pool. */
void gw_stats_staff_route(gw *g, hcpd_req *r);
void gw_stats_units_route(gw *g, hcpd_req *r);
void gw_stats_hotspots_route(gw *g, hcpd_req *r);
/* GET /feed/stats.json (public, no personal data). */
void gw_stats_feed_route(gw *g, hcpd_req *r);

#define GW_STATS_ETAG_MAX 48
/* The public figures of /feed/stats.json for cases received in [from, to]
 * (-1: open end), read in txn at time now: *text is new memory (caller
 * free()s), etag the quoted digest of the figures without the generation
 * time. `hcp-gateway publish` writes the all-dates document with it.
 * HCP_EINVAL, HCP_ENOMEM, or a storage error. */
HCP_NODISCARD int gw_stats_public_text(gw_store *s, MDB_txn *txn, hcp_day from, hcp_day to,
                                       hcp_time now, char **text, char etag[GW_STATS_ETAG_MAX]);

/*
 * The summary's figures for the counties in scope (county or prefecture
 * "" for all) and days of receipt from..to (< 0 open), at time now, added
 * to the summary answer body (GET /v1/stats/summary, checks.c): totals at
 * the top, each county's in body's "counties" rows (matched by "county"),
 * and a "prefectures" array. HCP_ENOMEM, read errors.
 */
HCP_NODISCARD int gw_stats_summary_merge(gw_store *s, MDB_txn *txn, const char *county,
                                         const char *prefecture, hcp_day from, hcp_day to,
                                         hcp_time now, json_t *body);

#endif
