/*
 * checks.h — the gateway checks, not trusts (docs/checks.md, issue #13):
 * every event a county sends is also judged here, in the writer's
 * transaction that applies it (gateway/writer.c), so the findings are
 * committed with the event and never need a rescan:
 *
 *   backdated          a handling step recorded more than
 *                      GW_CHECKS_BACKDATE_DAYS working days after its `at`
 *   overdue_unmarked   a deadline had passed unmet when a later event of the
 *                      case was recorded, and the county's log held no
 *                      `overdue` mark for it (e.g. a step dated back into
 *                      time, or a node that never sweeps)
 *   deadline_mismatch  the county's log holds a step that only a deadline
 *                      other than the gateway's recomputation allows
 *   self_decided       a dispute decided by the account that filed it, or
 *                      by the staff member the case concerns
 *   case_number_gap    a county's case numbers of a day skipped numbers
 *
 * Kept in the store's `checks` database (gwstore.h): per county a tally
 * (cases by status, findings by kind), the same per county and day of
 * receipt and per county and month of receipt (for GET /v1/stats/summary's
 * from/to), the highest case number
 * per county and day, and per case its findings. Every one of them is a
 * function of the county's log in order and the calendar, so a gateway
 * rebuilt from the counties finds the same.
 */
#ifndef GW_CHECKS_H
#define GW_CHECKS_H

#include <jansson.h>
#include <lmdb.h>

#include "calendar.h"
#include "case.h"
#include "gw.h"
#include "rules.h"

#define GW_CHECKS_BACKDATE_DAYS 3    /* working days a step may be entered after its `at` */
#define GW_CHECKS_SWEEP_GRACE   3600 /* seconds after a deadline before a missing mark counts */
#define GW_CHECKS_CASE_MAX      32   /* findings listed per case (more are only counted) */
#define GW_CHECKS_DETAIL_MAX    256  /* bytes of a finding's detail, NUL included */
#define GW_CHECKS_ACCOUNT_MAX   128  /* bytes of an account name kept, NUL included */

enum gw_finding_code {
    GW_FIND_NONE = 0,
    GW_FIND_BACKDATED,
    GW_FIND_OVERDUE_UNMARKED,
    GW_FIND_DEADLINE_MISMATCH,
    GW_FIND_SELF_DECIDED,
    GW_FIND_CASE_NUMBER_GAP,
    GW_FIND_COUNT_
};

/* The code of each finding on a case ("backdated", …, "case_number_gap")
 * and the name of its count on a county ("backdated", …,
 * "case_number_gaps"), indexed by enum gw_finding_code; index 0 is NULL. */
extern const char *const gw_finding_names[GW_FIND_COUNT_];
extern const char *const gw_finding_tally_names[GW_FIND_COUNT_];

/* One finding on a case: what, the event of the county's log that showed
 * it (its seq), and an English sentence with the dates involved. */
typedef struct gw_finding {
    uint8_t code; /* enum gw_finding_code */
    uint64_t seq;
    char detail[GW_CHECKS_DETAIL_MAX];
} gw_finding;

/* What the checks keep per case besides its findings. */
typedef struct gw_case_checks {
    uint8_t flagged; /* bit (1 << hcp_deadline_kind): overdue_unmarked found */
    /* the latest dispute_file's account and applicant (`by`): set by the
     * judgement of a dispute_file, or by gw_checks_event from the log before
     * a dispute_decide; never stored (`by` may hold personal data) */
    char filer[GW_CHECKS_ACCOUNT_MAX];
    char filer_by[GW_CHECKS_ACCOUNT_MAX];
    uint32_t more; /* findings beyond the GW_CHECKS_CASE_MAX listed */
    size_t n;
    gw_finding f[GW_CHECKS_CASE_MAX];
} gw_case_checks;

/* Counts: cases by status, findings by kind (a county's, a county's on one
 * day of receipt, or a sum of them). */
typedef struct gw_tally {
    int64_t status[HCP_ST_COUNT_]; /* [HCP_ST_NONE] unused */
    uint64_t found[GW_FIND_COUNT_];
} gw_tally;

/* ---- the judgements (pure: no store) ---- */

/*
 * Whether handling step ev is backdated: recorded (recorded_at) after the
 * end of the `days`-th working day of cal following the day of its `at`.
 * False for evaluations, case_open and the sweep's `overdue` marks, for
 * days == 0 or > 365, and when the count fails. It is the node's own
 * classification, hcp_event_backdated (core/rules.h), under the name the
 * checks were written against: the gateway and the node judge alike.
 */
bool checks_step_backdated(const hcp_event *ev, const hcp_cal *cal, unsigned days);

/* A copy of c's scalar state into *dst with every pointer NULL: what the
 * checks read of a case as it was before an event (hcp_case_overdue, its
 * marks and status). dst needs no clearing. */
void gw_checks_snapshot(hcp_case *dst, const hcp_case *c);

/*
 * Judge event ev of a case: before is the case as it was (a snapshot;
 * status HCP_ST_NONE when it did not exist), after as the rules left it
 * (before's state again when they refused: rules_rc HCP_ERULE with why, or
 * HCP_EINVAL). Findings are added to cc (its state updated) and counted in
 * *found (indexed by enum gw_finding_code; added to, not reset). Case
 * numbers are judged apart (gw_checks_number). Cannot fail.
 */
void gw_checks_case_event(gw_case_checks *cc, const hcp_event *ev, const hcp_case *before,
                          const hcp_case *after, int rules_rc, const hcp_refusal *why,
                          const hcp_cal *cal, uint64_t found[GW_FIND_COUNT_]);

/*
 * Judge case number n of day `day` against *day_max, the highest number of
 * that county and day seen so far in its log (0: none), and raise it.
 * True when numbers were skipped (n > *day_max + 1): *f then holds the
 * case_number_gap finding (f->seq left 0 for the caller).
 */
bool gw_checks_number(uint32_t *day_max, uint32_t n, hcp_day day, gw_finding *f);

/* Add finding f to cc (counted in cc->more past GW_CHECKS_CASE_MAX). */
void gw_checks_add(gw_case_checks *cc, const gw_finding *f);

/* ---- the stored form ---- */

/* Encode cc into out (reset first). HCP_ENOMEM, HCP_ERANGE. */
HCP_NODISCARD int gw_case_checks_encode(const gw_case_checks *cc, hcp_buf *out);
/* Decode a stored value into *cc (zeroed first). HCP_EFORMAT. */
HCP_NODISCARD int gw_case_checks_decode(const void *v, size_t len, gw_case_checks *cc);

/* ---- in the store (the writer's transaction) ---- */

/*
 * The checks of event ev (its county proven, its chain checked) as the
 * gateway applies it in txn: the case judged (gw_checks_case_event), a
 * case_open's number judged, the case's status moved in the tallies, and
 * everything stored in txn. before/after/rules_rc/why as for
 * gw_checks_case_event; evaluations and events without a case are
 * ignored. Errors: LMDB's as gws_err maps them (HCP_EFULL: the group commit
 * grows the map and redoes the transaction), HCP_ENOMEM, HCP_EFORMAT (a
 * stored value that cannot be read).
 */
HCP_NODISCARD int gw_checks_event(gw_store *s, MDB_txn *txn, const hcp_cal *cal,
                                  const hcp_event *ev, const hcp_case *before,
                                  const hcp_case *after, int rules_rc, const hcp_refusal *why);

/* County code's tally into *t (zero when it has none). HCP_EFORMAT. */
HCP_NODISCARD int gw_checks_county_tally(gw_store *s, MDB_txn *txn, const char *county,
                                         gw_tally *t);
/* County code's tally over the days of receipt from..to (inclusive; a
 * bound < 0 is open), added to *t. HCP_EFORMAT. */
HCP_NODISCARD int gw_checks_days_tally(gw_store *s, MDB_txn *txn, const char *county, hcp_day from,
                                       hcp_day to, gw_tally *t);
/* At open, in its transaction: a store whose month tallies ('m' county
 * yyyymm: the day tallies summed by month, what gw_checks_days_tally reads
 * for the whole months of a period) were never made has them made from its
 * day tallies, and is marked; until then a period is read day by day.
 * HCP_ENOMEM, LMDB's errors (HCP_EFULL). */
HCP_NODISCARD int gw_checks_upgrade(gw_store *s, MDB_txn *txn);
/* Case id's checks into *cc (zeroed when it has none). HCP_EFORMAT. */
HCP_NODISCARD int gw_checks_case_get(gw_store *s, MDB_txn *txn, const char *id, gw_case_checks *cc);

/* ---- JSON (docs/api.md) ---- */

/* {"backdated": n, …, "case_number_gaps": n}: new reference (NULL when out
 * of memory), the caller json_decref()s it. */
json_t *gw_checks_findings_json(const gw_tally *t);
/* [{"code", "seq", "detail"}…] (and {"code": "more", "count"} when
 * findings were only counted): new reference or NULL (out of memory). */
json_t *gw_checks_case_json(const gw_case_checks *cc);

/* Give every element of arr (GET /v1/counties' objects, each with a
 * "county") its "findings". HCP_ENOMEM, the store's read errors. */
HCP_NODISCARD int gw_checks_annotate_counties(gw_store *s, json_t *arr);
/* Give case JSON obj its "findings" (case id). HCP_ENOMEM, read errors. */
HCP_NODISCARD int gw_checks_annotate_case(gw_store *s, const char *id, json_t *obj);

/* GET /v1/stats/summary?county=|prefecture=&from=&to= (supervisor): counts
 * of cases by status and the findings, per county in scope and in all.
 * Answers r itself; run it on the worker pool (it reads a range per
 * county). */
void gw_checks_summary_route(gw *g, hcpd_req *r);

#endif
