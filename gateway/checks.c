/*
 * checks.c — the gateway's own judgement of every county's log
 * (checks.h, docs/checks.md).
 *
 * The `checks` database holds four kinds of keys, told apart by their
 * first byte:
 *   'c' county                 a tally: cases by status, findings by kind
 *   'd' county yyyymmdd        the same for the cases received that day
 *   'n' county yyyymmdd        be32: the highest case number of that day
 *   'k' case id                the case's checks (gw_case_checks_encode)
 * A tally is u8 nstatus, u8 nfound, then that many be64 counts (statuses,
 * then findings): a later version may add counts, an older one reads the
 * ones it knows.
 */
#include "checks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "be.h"
#include "division.h"
#include "gwstore.h"
#include "json.h"
#include "stats.h"

const char *const gw_finding_names[GW_FIND_COUNT_] = {
    NULL, "backdated", "overdue_unmarked", "deadline_mismatch", "self_decided", "case_number_gap"};
const char *const gw_finding_tally_names[GW_FIND_COUNT_] = {
    NULL, "backdated", "overdue_unmarked", "deadline_mismatch", "self_decided", "case_number_gaps"};

#define TALLY_LEN  (2 + 8 * (HCP_ST_COUNT_ + GW_FIND_COUNT_))
#define DAY_KEY    (1 + HCP_COUNTY_LEN + 8)
#define MONTH_KEY  (1 + HCP_COUNTY_LEN + 6)
#define CASE_KEY   (1 + HCP_CASE_ID_MAX)
#define CC_VERSION 1

/* The refusals of the rules that only a different deadline explains: the
 * county's node (its calendar) allowed what the gateway's count forbids. */
static const char *const deadline_rules[] = {"not_overdue", "dispute_window_closed",
                                             "extension_after_deadline",
                                             "extension_not_working_day", NULL};

/* RFC 3339 of t into buf (HCP_TIME_STRLEN), "?" when it cannot be. */
static const char *fmt_time(hcp_time t, char buf[HCP_TIME_STRLEN])
{
    if (hcp_time_format(t, buf, HCP_TIME_STRLEN) != HCP_OK)
        snprintf(buf, HCP_TIME_STRLEN, "?");
    return buf;
}

static const char *type_name(uint8_t type)
{
    return type > HCP_EV_NONE && type < HCP_EV_COUNT_ ? hcp_ev_type_names[type] : "unknown";
}

/* ---- the judgements ---- */

bool checks_step_backdated(const hcp_event *ev, const hcp_cal *cal, unsigned days)
{
    /* the node's classification (core/rules.h), so both ends count a log alike */
    return days <= 365 && hcp_event_backdated(ev, cal, (int)days);
}

void gw_checks_snapshot(hcp_case *dst, const hcp_case *c)
{
    *dst = *c;
    memset(&dst->in, 0, sizeof(dst->in));
    memset(&dst->verifier, 0, sizeof(dst->verifier));
    memset(&dst->rectify_unit, 0, sizeof(dst->rectify_unit));
    dst->rectification_result = NULL;
    memset(&dst->extra, 0, sizeof(dst->extra));
}

void gw_checks_add(gw_case_checks *cc, const gw_finding *f)
{
    if (cc->n < GW_CHECKS_CASE_MAX)
        cc->f[cc->n++] = *f;
    else
        cc->more++;
}

/* Add a finding of code on event ev with a formatted detail. */
static void found_on(gw_case_checks *cc, uint64_t found[GW_FIND_COUNT_], uint8_t code,
                     const hcp_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void found_on(gw_case_checks *cc, uint64_t found[GW_FIND_COUNT_], uint8_t code,
                     const hcp_event *ev, const char *fmt, ...)
{
    gw_finding f;
    memset(&f, 0, sizeof(f));
    f.code = code;
    f.seq = ev->seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f.detail, sizeof(f.detail), fmt, ap);
    va_end(ap);
    gw_checks_add(cc, &f);
    found[code]++;
}

/* A handling step recorded long after the date it claims. */
static void judge_backdated(gw_case_checks *cc, const hcp_event *ev, const hcp_cal *cal,
                            uint64_t found[GW_FIND_COUNT_])
{
    if (!checks_step_backdated(ev, cal, GW_CHECKS_BACKDATE_DAYS))
        return;
    char a[HCP_TIME_STRLEN], r[HCP_TIME_STRLEN];
    found_on(cc, found, GW_FIND_BACKDATED, ev,
             "step %s is dated %s but was recorded %s, more than %d working days later",
             type_name(ev->type), fmt_time(ev->at, a), fmt_time(ev->recorded_at, r),
             GW_CHECKS_BACKDATE_DAYS);
}

/* A deadline that had passed unmet when this event was recorded, with no
 * `overdue` mark in the county's log: its record does not show it. */
static void judge_unmarked(gw_case_checks *cc, const hcp_event *ev, const hcp_case *before,
                           uint64_t found[GW_FIND_COUNT_])
{
    if (ev->type == HCP_EV_OVERDUE || ev->type == HCP_EV_CASE_OPEN || before->status == HCP_ST_NONE)
        return;
    unsigned late = hcp_case_overdue(before, ev->recorded_at - GW_CHECKS_SWEEP_GRACE);
    late &= ~(unsigned)before->overdue_marked & ~(unsigned)cc->flagged;
    for (int k = HCP_DL_FEEDBACK; k < HCP_DL_COUNT_; k++) {
        if (!(late & (1u << k)))
            continue;
        const hcp_due *due = k == HCP_DL_FEEDBACK ? &before->feedback_due : &before->rereview_due;
        char d[HCP_TIME_STRLEN], r[HCP_TIME_STRLEN];
        cc->flagged |= (uint8_t)(1u << k);
        found_on(cc, found, GW_FIND_OVERDUE_UNMARKED, ev,
                 "the %s deadline %s had passed unmet when %s was recorded (%s), and the "
                 "county's log holds no overdue mark for it",
                 hcp_deadline_names[k], fmt_time(due->at, d), type_name(ev->type),
                 fmt_time(ev->recorded_at, r));
    }
}

/* A step the county accepted that only another deadline allows. */
static void judge_deadline(gw_case_checks *cc, const hcp_event *ev, int rules_rc,
                           const hcp_refusal *why, uint64_t found[GW_FIND_COUNT_])
{
    if (rules_rc != HCP_ERULE || why == NULL || why->rule == NULL)
        return;
    for (size_t i = 0; deadline_rules[i] != NULL; i++)
        if (strcmp(why->rule, deadline_rules[i]) == 0) {
            found_on(cc, found, GW_FIND_DEADLINE_MISMATCH, ev,
                     "the county recorded %s, which the gateway's deadline forbids (%s): %s",
                     type_name(ev->type), why->rule, why->detail);
            return;
        }
}

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && a[0] != '\0' && strcmp(a, b) == 0;
}

/* A dispute decided by its filer, or by the staff member concerned. */
static void judge_dispute(gw_case_checks *cc, const hcp_event *ev, const hcp_case *after,
                          uint64_t found[GW_FIND_COUNT_])
{
    if (ev->type == HCP_EV_DISPUTE_FILE) {
        snprintf(cc->filer, sizeof(cc->filer), "%s", ev->account ? ev->account : "");
        snprintf(cc->filer_by, sizeof(cc->filer_by), "%s", ev->by ? ev->by : "");
        return;
    }
    if (ev->type != HCP_EV_DISPUTE_DECIDE || ev->account == NULL || ev->account[0] == '\0')
        return;
    const char *v = ev->verdict > HCP_VD_NONE && ev->verdict < HCP_VD_COUNT_
                        ? hcp_verdict_names[ev->verdict]
                        : "unknown";
    if (same(ev->account, cc->filer) || same(ev->account, cc->filer_by))
        found_on(cc, found, GW_FIND_SELF_DECIDED, ev,
                 "the dispute was decided (%s) by account %s, who also filed it", v, ev->account);
    else if (after != NULL && after->status != HCP_ST_NONE &&
             (same(ev->account, after->in.staff.id) || same(ev->account, after->in.staff.name)))
        found_on(cc, found, GW_FIND_SELF_DECIDED, ev,
                 "the dispute was decided (%s) by account %s, the staff member the case "
                 "concerns",
                 v, ev->account);
}

void gw_checks_case_event(gw_case_checks *cc, const hcp_event *ev, const hcp_case *before,
                          const hcp_case *after, int rules_rc, const hcp_refusal *why,
                          const hcp_cal *cal, uint64_t found[GW_FIND_COUNT_])
{
    if (cc == NULL || ev == NULL || before == NULL || found == NULL)
        return;
    judge_backdated(cc, ev, cal, found);
    judge_unmarked(cc, ev, before, found);
    judge_deadline(cc, ev, rules_rc, why, found);
    judge_dispute(cc, ev, after, found);
}

bool gw_checks_number(uint32_t *day_max, uint32_t n, hcp_day day, gw_finding *f)
{
    uint32_t max = *day_max;
    if (n > max)
        *day_max = n;
    if (n <= max + 1)
        return false;
    char date[HCP_DATE_STRLEN];
    if (hcp_date_format(day, date, sizeof(date)) != HCP_OK)
        snprintf(date, sizeof(date), "?");
    memset(f, 0, sizeof(*f));
    f->code = GW_FIND_CASE_NUMBER_GAP;
    if (n == max + 2)
        snprintf(f->detail, sizeof(f->detail),
                 "case number %04u of %s never appeared in the county's log before this case",
                 max + 1, date);
    else
        snprintf(f->detail, sizeof(f->detail),
                 "case numbers %04u to %04u of %s never appeared in the county's log before "
                 "this case",
                 max + 1, n - 1, date);
    return true;
}

/* ---- the stored form of a case's checks ----
 * u8 version | u8 flagged | be32 more | u8 n | n x (u8 code | be64 seq |
 * u8 len, detail). Never the dispute's filer: `by` is free text that may
 * hold personal data, kept only sealed in the log (gw_checks_event reads
 * it from there when a dispute is decided). */

static int put_str(hcp_buf *out, const char *s)
{
    size_t n = strnlen(s, 255);
    uint8_t len = (uint8_t)n;
    int rc = hcp_buf_append(out, &len, 1);
    return rc == HCP_OK ? hcp_buf_append(out, s, n) : rc;
}

int gw_case_checks_encode(const gw_case_checks *cc, hcp_buf *out)
{
    uint8_t head[6] = {CC_VERSION, cc->flagged};
    hcp_be32_put(head + 2, cc->more);
    hcp_buf_reset(out);
    int rc = hcp_buf_append(out, head, sizeof(head));
    uint8_t n = (uint8_t)(cc->n < GW_CHECKS_CASE_MAX ? cc->n : GW_CHECKS_CASE_MAX);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, &n, 1);
    for (size_t i = 0; rc == HCP_OK && i < n; i++) {
        uint8_t fh[9] = {cc->f[i].code};
        hcp_be64_put(fh + 1, cc->f[i].seq);
        rc = hcp_buf_append(out, fh, sizeof(fh));
        if (rc == HCP_OK)
            rc = put_str(out, cc->f[i].detail);
    }
    return rc;
}

/* A reader over a stored value: false once it ran past the end. */
typedef struct rd {
    const uint8_t *p;
    size_t left;
} rd;

static bool take(rd *r, void *dst, size_t n)
{
    if (r->left < n)
        return false;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

static bool take_str(rd *r, char *dst, size_t cap)
{
    uint8_t len;
    if (!take(r, &len, 1) || r->left < len || len >= cap)
        return false;
    return take(r, dst, len) && (dst[len] = '\0', true);
}

int gw_case_checks_decode(const void *v, size_t len, gw_case_checks *cc)
{
    memset(cc, 0, sizeof(*cc));
    rd r = {v, len};
    uint8_t head[6], n;
    if (v == NULL || !take(&r, head, sizeof(head)) || head[0] != CC_VERSION)
        return HCP_EFORMAT;
    cc->flagged = head[1];
    cc->more = hcp_be32_get(head + 2);
    if (!take(&r, &n, 1) || n > GW_CHECKS_CASE_MAX)
        return HCP_EFORMAT;
    for (size_t i = 0; i < n; i++) {
        uint8_t fh[9];
        if (!take(&r, fh, sizeof(fh)) || !take_str(&r, cc->f[i].detail, sizeof(cc->f[i].detail)))
            return HCP_EFORMAT;
        cc->f[i].code = fh[0];
        cc->f[i].seq = hcp_be64_get(fh + 1);
    }
    cc->n = n;
    return HCP_OK;
}

/* ---- tallies in the store ---- */

static void tally_pack(const gw_tally *t, uint8_t v[TALLY_LEN])
{
    v[0] = HCP_ST_COUNT_;
    v[1] = GW_FIND_COUNT_;
    uint8_t *p = v + 2;
    for (int i = 0; i < HCP_ST_COUNT_; i++, p += 8)
        hcp_be64_put(p, (uint64_t)t->status[i]);
    for (int i = 0; i < GW_FIND_COUNT_; i++, p += 8)
        hcp_be64_put(p, t->found[i]);
}

/* Add a stored tally to *t: the counts this version knows. */
static int tally_add_stored(const MDB_val *v, gw_tally *t)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 2 || v->mv_size != 2 + 8 * ((size_t)p[0] + p[1]))
        return HCP_EFORMAT;
    size_t ns = p[0], nf = p[1];
    const uint8_t *q = p + 2;
    for (size_t i = 0; i < ns; i++, q += 8)
        if (i < HCP_ST_COUNT_)
            t->status[i] += (int64_t)hcp_be64_get(q);
    for (size_t i = 0; i < nf; i++, q += 8)
        if (i < GW_FIND_COUNT_)
            t->found[i] += hcp_be64_get(q);
    return HCP_OK;
}

/* key: 'c' county, or 'd' county yyyymmdd (day >= 0), or 'n' likewise. */
static size_t county_key(uint8_t *k, char kind, const char *county, hcp_day day)
{
    k[0] = (uint8_t)kind;
    memcpy(k + 1, county, HCP_COUNTY_LEN);
    if (day < 0)
        return 1 + HCP_COUNTY_LEN;
    int y, m, d;
    hcp_day_to_ymd(day, &y, &m, &d);
    char ymd[16];
    snprintf(ymd, sizeof(ymd), "%04d%02d%02d", y % 10000, m, d);
    memcpy(k + 1 + HCP_COUNTY_LEN, ymd, 8);
    return DAY_KEY;
}

/* Apply delta (status moves and findings) to the tally under key k. */
static int tally_bump(gw_store *s, MDB_txn *txn, const uint8_t *k, size_t klen,
                      const gw_tally *delta)
{
    MDB_val key = {klen, (void *)k}, v;
    gw_tally t;
    memset(&t, 0, sizeof(t));
    int rc = gws_err(mdb_get(txn, s->checks, &key, &v));
    if (rc == HCP_OK)
        rc = tally_add_stored(&v, &t);
    else if (rc == HCP_ENOTFOUND)
        rc = HCP_OK;
    if (rc != HCP_OK)
        return rc;
    for (int i = 0; i < HCP_ST_COUNT_; i++)
        t.status[i] += delta->status[i];
    for (int i = 0; i < GW_FIND_COUNT_; i++)
        t.found[i] += delta->found[i];
    uint8_t buf[TALLY_LEN];
    tally_pack(&t, buf);
    MDB_val nv = {sizeof(buf), buf};
    return gws_err(mdb_put(txn, s->checks, &key, &nv, 0));
}

int gw_checks_county_tally(gw_store *s, MDB_txn *txn, const char *county, gw_tally *t)
{
    memset(t, 0, sizeof(*t));
    uint8_t k[DAY_KEY];
    MDB_val key = {county_key(k, 'c', county, -1), k}, v;
    int rc = gws_err(mdb_get(txn, s->checks, &key, &v));
    if (rc == HCP_ENOTFOUND)
        return HCP_OK;
    return rc == HCP_OK ? tally_add_stored(&v, t) : rc;
}

/* key 'm' county yyyymm of month index mi (year * 12 + month - 1). */
static size_t month_key(uint8_t k[MONTH_KEY], const char *county, int32_t mi)
{
    k[0] = 'm';
    memcpy(k + 1, county, HCP_COUNTY_LEN);
    char ym[16];
    snprintf(ym, sizeof(ym), "%04d%02d", (int)(mi / 12) % 10000, (int)(mi % 12) + 1);
    memcpy(k + 1 + HCP_COUNTY_LEN, ym, 6);
    return MONTH_KEY;
}

/* The key of checks that says the month tallies ('m') are kept: a NUL
 * first byte is no other key's. */
static const uint8_t months_mark[] = {0, 'm', '1'};

/* Add to *t every tally whose key starts with the 1 + county bytes of lo,
 * is exactly klen bytes long, and lies in [lo, hi] (hi NULL: no end). */
static int range_add(gw_store *s, MDB_txn *txn, const uint8_t *lo, size_t lolen, size_t klen,
                     const uint8_t *hi, gw_tally *t)
{
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, s->checks, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k = {lolen, (void *)lo}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != klen || memcmp(k.mv_data, lo, 1 + HCP_COUNTY_LEN) != 0)
            break;
        if (hi != NULL && memcmp(k.mv_data, hi, klen) > 0)
            break;
        rc = tally_add_stored(&v, t);
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    return rc;
}

/* The day tallies of county over from..to (a bound < 0 is open). */
static int days_add(gw_store *s, MDB_txn *txn, const char *county, hcp_day from, hcp_day to,
                    gw_tally *t)
{
    uint8_t lo[DAY_KEY], hi[DAY_KEY];
    size_t lolen = county_key(lo, 'd', county, from < 0 ? -1 : from);
    if (to >= 0)
        (void)county_key(hi, 'd', county, to); /* a day key: always DAY_KEY bytes */
    return range_add(s, txn, lo, lolen, DAY_KEY, to >= 0 ? hi : NULL, t);
}

int gw_checks_days_tally(gw_store *s, MDB_txn *txn, const char *county, hcp_day from, hcp_day to,
                         gw_tally *t)
{
    /* a closed period of this calendar's years is whole months ('m') and
     * the days at its two ends: a year is 12 reads, not 365 */
    hcp_day lo = gw_stats_month_start(2000 * 12), hi = gw_stats_month_start(2200 * 12) - 1;
    if (from < lo || to < 0 || to > hi || from > to)
        return days_add(s, txn, county, from, to, t);
    MDB_val mk = {sizeof(months_mark), (void *)months_mark}, mv;
    int rc = gws_err(mdb_get(txn, s->checks, &mk, &mv));
    if (rc == HCP_ENOTFOUND) /* a store whose month tallies were never made */
        return days_add(s, txn, county, from, to, t);
    if (rc != HCP_OK)
        return rc;
    int32_t mf = gw_stats_month_of(from), mt = gw_stats_month_of(to);
    if (from != gw_stats_month_start(mf))
        mf++;
    if (to != gw_stats_month_start(mt + 1) - 1)
        mt--;
    if (mf > mt)
        return days_add(s, txn, county, from, to, t);
    hcp_day ma = gw_stats_month_start(mf), mb = gw_stats_month_start(mt + 1) - 1;
    if (from < ma)
        rc = days_add(s, txn, county, from, ma - 1, t);
    uint8_t a[MONTH_KEY], b[MONTH_KEY];
    (void)month_key(a, county, mf);
    (void)month_key(b, county, mt);
    if (rc == HCP_OK)
        rc = range_add(s, txn, a, MONTH_KEY, MONTH_KEY, b, t);
    if (rc == HCP_OK && to > mb)
        rc = days_add(s, txn, county, mb + 1, to, t);
    return rc;
}

/* One month's sum of day tallies, made while the month tallies are built. */
typedef struct month_sum {
    uint8_t key[MONTH_KEY];
    gw_tally t;
} month_sum;

int gw_checks_upgrade(gw_store *s, MDB_txn *txn)
{
    if (s == NULL || txn == NULL)
        return HCP_EINVAL;
    MDB_val mk = {sizeof(months_mark), (void *)months_mark}, k, v;
    int rc = gws_err(mdb_get(txn, s->checks, &mk, &v));
    if (rc != HCP_ENOTFOUND)
        return rc; /* made already (or a read error) */
    MDB_cursor *cur;
    rc = gws_err(mdb_cursor_open(txn, s->checks, &cur));
    if (rc != HCP_OK)
        return rc;
    /* whatever month tallies an older run left are made again */
    uint8_t m0 = 'm', d0 = 'd';
    k.mv_size = 1;
    k.mv_data = &m0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == HCP_OK && mrc == MDB_SUCCESS && k.mv_size >= 1 &&
           ((const uint8_t *)k.mv_data)[0] == 'm') {
        rc = gws_err(mdb_cursor_del(cur, 0));
        if (rc == HCP_OK)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    }
    /* the day tallies ('d' county yyyymmdd, in key order) summed by month */
    month_sum *ms = NULL;
    size_t n = 0, cap = 0;
    k.mv_size = 1;
    k.mv_data = &d0;
    mrc = rc == HCP_OK ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
    for (; rc == HCP_OK && mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size < 1 || kb[0] != 'd')
            break;
        if (k.mv_size != DAY_KEY)
            continue;
        if (n == 0 || memcmp(ms[n - 1].key + 1, kb + 1, MONTH_KEY - 1) != 0) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 256;
                month_sum *nm = realloc(ms, nc * sizeof(*nm));
                if (nm == NULL) {
                    rc = HCP_ENOMEM;
                    break;
                }
                ms = nm;
                cap = nc;
            }
            memset(&ms[n], 0, sizeof(ms[n]));
            ms[n].key[0] = 'm';
            memcpy(ms[n].key + 1, kb + 1, MONTH_KEY - 1);
            n++;
        }
        rc = tally_add_stored(&v, &ms[n - 1].t);
    }
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = gws_err(mrc);
    mdb_cursor_close(cur);
    for (size_t i = 0; rc == HCP_OK && i < n; i++) {
        uint8_t buf[TALLY_LEN];
        tally_pack(&ms[i].t, buf);
        MDB_val key = {MONTH_KEY, ms[i].key}, nv = {sizeof(buf), buf};
        rc = gws_err(mdb_put(txn, s->checks, &key, &nv, 0));
    }
    free(ms);
    uint8_t one = 1;
    MDB_val ov = {1, &one};
    if (rc == HCP_OK)
        rc = gws_err(mdb_put(txn, s->checks, &mk, &ov, 0));
    if (rc == HCP_OK && n > 0)
        gw_log("info", "checks.months_made", "months=%zu", n);
    return rc;
}

/* ---- a case's checks in the store ---- */

static size_t case_key(uint8_t k[CASE_KEY], const char *id)
{
    size_t n = strnlen(id, HCP_CASE_ID_MAX - 1);
    k[0] = 'k';
    memcpy(k + 1, id, n);
    return 1 + n;
}

int gw_checks_case_get(gw_store *s, MDB_txn *txn, const char *id, gw_case_checks *cc)
{
    memset(cc, 0, sizeof(*cc));
    uint8_t k[CASE_KEY];
    MDB_val key = {case_key(k, id), k}, v;
    int rc = gws_err(mdb_get(txn, s->checks, &key, &v));
    if (rc == HCP_ENOTFOUND)
        return HCP_OK;
    return rc == HCP_OK ? gw_case_checks_decode(v.mv_data, v.mv_size, cc) : rc;
}

static int case_put(gw_store *s, MDB_txn *txn, const char *id, const gw_case_checks *cc)
{
    hcp_buf val;
    hcp_buf_init(&val, 16384);
    int rc = gw_case_checks_encode(cc, &val);
    uint8_t k[CASE_KEY];
    MDB_val key = {case_key(k, id), k}, v = {val.len, val.data};
    if (rc == HCP_OK)
        rc = gws_err(mdb_put(txn, s->checks, &key, &v, 0));
    hcp_buf_free(&val);
    return rc;
}

/* A case_open's number against the highest of its day (key 'n'). */
static int judge_number(gw_store *s, MDB_txn *txn, const hcp_event *ev, hcp_day day, uint32_t n,
                        gw_case_checks *cc, uint64_t found[GW_FIND_COUNT_])
{
    uint8_t k[DAY_KEY];
    MDB_val key = {county_key(k, 'n', ev->county, day), k}, v;
    uint32_t max = 0;
    int rc = gws_err(mdb_get(txn, s->checks, &key, &v));
    if (rc == HCP_OK && v.mv_size == 4)
        max = hcp_be32_get(v.mv_data);
    else if (rc == HCP_OK)
        return HCP_EFORMAT;
    else if (rc != HCP_ENOTFOUND)
        return rc;
    gw_finding f;
    if (gw_checks_number(&max, n, day, &f)) {
        f.seq = ev->seq;
        gw_checks_add(cc, &f);
        found[GW_FIND_CASE_NUMBER_GAP]++;
    }
    uint8_t b[4];
    hcp_be32_put(b, max);
    MDB_val nv = {sizeof(b), b};
    return gws_err(mdb_put(txn, s->checks, &key, &nv, 0));
}

/* The account and applicant (`by`, unsealed) of case id's latest
 * dispute_file, read from its events in the log, into cc. One case's
 * events, on a dispute_decide only. */
static int load_filer(gw_store *s, MDB_txn *txn, const char *id, gw_case_checks *cc)
{
    hcp_event *evs = NULL;
    size_t nev = 0;
    int rc = gws_case_events(s, txn, id, true, &evs, &nev);
    if (rc == HCP_ENOTFOUND)
        return HCP_OK; /* a decision for a case never opened: no filer */
    for (size_t i = 0; rc == HCP_OK && i < nev; i++)
        if (evs[i].type == HCP_EV_DISPUTE_FILE) {
            snprintf(cc->filer, sizeof(cc->filer), "%s", evs[i].account ? evs[i].account : "");
            snprintf(cc->filer_by, sizeof(cc->filer_by), "%s", evs[i].by ? evs[i].by : "");
        }
    gws_events_free(evs, nev);
    return rc;
}

int gw_checks_event(gw_store *s, MDB_txn *txn, const hcp_cal *cal, const hcp_event *ev,
                    const hcp_case *before, const hcp_case *after, int rules_rc,
                    const hcp_refusal *why)
{
    if (ev == NULL || ev->type == HCP_EV_EVALUATION || ev->case_id[0] == '\0')
        return HCP_OK;
    if (s == NULL || txn == NULL || before == NULL || after == NULL)
        return HCP_EINVAL;
    char county[HCP_COUNTY_LEN + 1];
    hcp_day day = -1;
    uint32_t n = 0;
    if (hcp_case_id_parse(ev->case_id, county, &day, &n) != HCP_OK)
        day = -1; /* not a case id the node makes: counted on the county only */
    gw_case_checks *cc = malloc(sizeof(*cc));
    if (cc == NULL)
        return HCP_ENOMEM;
    gw_tally delta;
    memset(&delta, 0, sizeof(delta));
    int rc = gw_checks_case_get(s, txn, ev->case_id, cc);
    size_t had = cc->n;
    uint32_t had_more = cc->more;
    uint8_t had_flags = cc->flagged;
    if (rc == HCP_OK && ev->type == HCP_EV_DISPUTE_DECIDE)
        rc = load_filer(s, txn, ev->case_id, cc);
    if (rc == HCP_OK) {
        gw_checks_case_event(cc, ev, before, after, rules_rc, why, cal, delta.found);
        if (ev->type == HCP_EV_CASE_OPEN && day >= 0)
            rc = judge_number(s, txn, ev, day, n, cc, delta.found);
        bool changed = cc->n != had || cc->more != had_more || cc->flagged != had_flags;
        if (rc == HCP_OK && changed)
            rc = case_put(s, txn, ev->case_id, cc);
    }
    if (before->status != after->status) {
        if (before->status > HCP_ST_NONE && before->status < HCP_ST_COUNT_)
            delta.status[before->status]--;
        if (after->status > HCP_ST_NONE && after->status < HCP_ST_COUNT_)
            delta.status[after->status]++;
    }
    bool any = before->status != after->status;
    for (int i = 0; i < GW_FIND_COUNT_; i++)
        any = any || delta.found[i] != 0;
    uint8_t k[DAY_KEY];
    if (rc == HCP_OK && any)
        rc = tally_bump(s, txn, k, county_key(k, 'c', ev->county, -1), &delta);
    if (rc == HCP_OK && any && day >= 0)
        rc = tally_bump(s, txn, k, county_key(k, 'd', ev->county, day), &delta);
    if (rc == HCP_OK && any && day >= 0) /* the month's tally: a period reads months (above) */
        rc = tally_bump(s, txn, k, month_key(k, ev->county, gw_stats_month_of(day)), &delta);
    free(cc);
    return rc;
}

/* ---- JSON ---- */

json_t *gw_checks_findings_json(const gw_tally *t)
{
    json_t *o = json_object();
    for (int i = 1; o != NULL && i < GW_FIND_COUNT_; i++)
        if (json_object_set_new(o, gw_finding_tally_names[i],
                                json_integer((json_int_t)t->found[i])) != 0) {
            json_decref(o);
            o = NULL;
        }
    return o;
}

/* {"total": n, "by_status": {"received": n, …}}: new reference or NULL. */
static json_t *cases_json(const gw_tally *t)
{
    json_t *by = json_object();
    json_int_t total = 0;
    bool ok = by != NULL;
    for (int i = 1; ok && i < HCP_ST_COUNT_; i++) {
        ok = json_object_set_new(by, hcp_status_names[i], json_integer(t->status[i])) == 0;
        total += t->status[i];
    }
    if (!ok) {
        json_decref(by);
        return NULL;
    }
    return json_pack("{sI,so}", "total", total, "by_status", by);
}

json_t *gw_checks_case_json(const gw_case_checks *cc)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < cc->n; i++) {
        const gw_finding *f = &cc->f[i];
        const char *code = f->code > GW_FIND_NONE && f->code < GW_FIND_COUNT_
                               ? gw_finding_names[f->code]
                               : "unknown";
        if (json_array_append_new(arr, json_pack("{ss,sI,ss}", "code", code, "seq",
                                                 (json_int_t)f->seq, "detail", f->detail)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    if (arr != NULL && cc->more > 0 &&
        json_array_append_new(
            arr, json_pack("{ss,sI}", "code", "more", "count", (json_int_t)cc->more)) != 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int gw_checks_annotate_counties(gw_store *s, json_t *arr)
{
    MDB_txn *txn;
    int rc = gws_read_begin(s, &txn);
    if (rc != HCP_OK)
        return rc;
    size_t i;
    json_t *row;
    json_array_foreach(arr, i, row)
    {
        const char *code = json_string_value(json_object_get(row, "county"));
        gw_tally t;
        if (code == NULL || !hcp_county_str_ok(code))
            continue;
        rc = gw_checks_county_tally(s, txn, code, &t);
        if (rc == HCP_OK && json_object_set_new(row, "findings", gw_checks_findings_json(&t)) != 0)
            rc = HCP_ENOMEM;
        if (rc != HCP_OK)
            break;
    }
    gws_read_end(s, txn);
    return rc;
}

int gw_checks_annotate_case(gw_store *s, const char *id, json_t *obj)
{
    gw_case_checks *cc = malloc(sizeof(*cc));
    if (cc == NULL)
        return HCP_ENOMEM;
    MDB_txn *txn;
    int rc = gws_read_begin(s, &txn);
    if (rc == HCP_OK) {
        rc = gw_checks_case_get(s, txn, id, cc);
        gws_read_end(s, txn);
    }
    if (rc == HCP_OK && json_object_set_new(obj, "findings", gw_checks_case_json(cc)) != 0)
        rc = HCP_ENOMEM;
    free(cc);
    return rc;
}

/* ---- GET /v1/stats/summary ---- */

typedef struct summary_q {
    char county[HCP_COUNTY_LEN + 1];
    char prefecture[HCP_COUNTY_LEN + 1];
    hcp_day from, to; /* -1: open */
} summary_q;

/* A day parameter key ("YYYY-MM-DD") into *day; false: answered 422. */
static bool day_param(hcpd_req *r, const char *key, hcp_day *day)
{
    char buf[32];
    *day = -1;
    if (!hcpd_req_query(r, key, buf, sizeof(buf)) || buf[0] == '\0')
        return true;
    if (hcp_date_parse(buf, strlen(buf), day) == HCP_OK)
        return true;
    char detail[64];
    snprintf(detail, sizeof(detail), "%s: expected a date YYYY-MM-DD", key);
    hcpd_req_reply_error(r, 422, "invalid_field", detail);
    return false;
}

/* A division code parameter key into code; false: answered 422. */
static bool code_param(hcpd_req *r, const char *key, char code[HCP_COUNTY_LEN + 1])
{
    char buf[32];
    code[0] = '\0';
    if (!hcpd_req_query(r, key, buf, sizeof(buf)) || buf[0] == '\0')
        return true;
    bool ok = hcp_county_str_ok(buf) && (strcmp(key, "county") == 0 ? hcp_division_find(buf) != NULL
                                                                    : hcp_prefecture_known(buf));
    if (ok) {
        memcpy(code, buf, HCP_COUNTY_LEN + 1);
        return true;
    }
    char detail[64];
    snprintf(detail, sizeof(detail), "%s: not a known %s code", key,
             strcmp(key, "county") == 0 ? "county" : "prefecture");
    hcpd_req_reply_error(r, 422, "invalid_field", detail);
    return false;
}

static bool parse_summary(hcpd_req *r, summary_q *q)
{
    static const char *const keys[] = {"county", "prefecture", "from", "to", NULL};
    memset(q, 0, sizeof(*q));
    if (!hcpd_req_params_ok(r, keys, 32) || !code_param(r, "county", q->county) ||
        !code_param(r, "prefecture", q->prefecture) || !day_param(r, "from", &q->from) ||
        !day_param(r, "to", &q->to))
        return false;
    if (q->county[0] && q->prefecture[0]) {
        hcpd_req_reply_error(r, 422, "invalid_field", "county and prefecture: give one of them");
        return false;
    }
    if (q->from >= 0 && q->to >= 0 && q->from > q->to) {
        hcpd_req_reply_error(r, 422, "invalid_field", "from: after to");
        return false;
    }
    return true;
}

static void tally_sum(gw_tally *sum, const gw_tally *t)
{
    for (int i = 0; i < HCP_ST_COUNT_; i++)
        sum->status[i] += t->status[i];
    for (int i = 0; i < GW_FIND_COUNT_; i++)
        sum->found[i] += t->found[i];
}

static json_t *date_or_null(hcp_day d)
{
    char buf[HCP_DATE_STRLEN];
    return d >= 0 && hcp_date_format(d, buf, sizeof(buf)) == HCP_OK ? json_string(buf)
                                                                    : json_null();
}

static json_t *str_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

/* One county's row of the summary: new reference or NULL. */
static json_t *county_row(const hcp_division *d, const gw_tally *t)
{
    return json_pack("{ss,ss,ss,so,so}", "county", d->code, "name", d->name, "prefecture",
                     d->prefecture, "cases", cases_json(t), "findings", gw_checks_findings_json(t));
}

/* The counties in scope into rows, their sum into *sum. */
static int summary_scan(gw_store *s, MDB_txn *txn, const summary_q *q, json_t *rows, gw_tally *sum)
{
    size_t ndiv = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < ndiv; i++) {
        const hcp_division *d = &divs[i];
        if ((q->county[0] && strcmp(d->code, q->county) != 0) ||
            (q->prefecture[0] && strcmp(d->prefecture, q->prefecture) != 0))
            continue;
        gw_tally t;
        memset(&t, 0, sizeof(t));
        if (q->from < 0 && q->to < 0)
            rc = gw_checks_county_tally(s, txn, d->code, &t);
        else
            rc = gw_checks_days_tally(s, txn, d->code, q->from, q->to, &t);
        if (rc == HCP_OK && json_array_append_new(rows, county_row(d, &t)) != 0)
            rc = HCP_ENOMEM;
        tally_sum(sum, &t);
    }
    return rc;
}

void gw_checks_summary_route(gw *g, hcpd_req *r)
{
    summary_q q;
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor") || !parse_summary(r, &q))
        return;
    gw_tally sum;
    memset(&sum, 0, sizeof(sum));
    json_t *rows = json_array();
    MDB_txn *txn;
    int rc = rows != NULL ? gws_read_begin(g->store, &txn) : HCP_ENOMEM;
    json_t *body = NULL;
    hcp_time now = (hcp_time)time(NULL);
    if (rc == HCP_OK) {
        rc = summary_scan(g->store, txn, &q, rows, &sum);
        if (rc == HCP_OK)
            body = json_pack("{s{so,so,so,so},so,so,so,so}", "scope", "county",
                             str_or_null(q.county), "prefecture", str_or_null(q.prefecture), "from",
                             date_or_null(q.from), "to", date_or_null(q.to), "generated_at",
                             hcp_json_time(now), "cases", cases_json(&sum), "findings",
                             gw_checks_findings_json(&sum), "counties", rows);
        else
            json_decref(rows);
        rows = NULL;
        /* the province's figures beside the findings, same scope (stats.h) */
        if (rc == HCP_OK && body != NULL)
            rc = gw_stats_summary_merge(g->store, txn, q.county, q.prefecture, q.from, q.to, now,
                                        body);
        gws_read_end(g->store, txn);
    } else
        json_decref(rows);
    if (rc != HCP_OK) {
        json_decref(body);
        body = NULL;
    }
    if (rc != HCP_OK)
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
    else if (body == NULL)
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
    else
        hcpd_req_reply_json(r, 200, body);
}
