/*
 * stats_fill.c — a gateway store holding the figures of N cases, made
 * fast for the province-figures bench (bench/stats_bench.py, docs/bench.md
 * "Province figures (issue #12)").
 *
 *   bench_stats_fill DIR N [EVALUATIONS]
 *
 * Opens (creating) a gateway store in DIR with the gateway's own code
 * (gw_store_open) and adds, 200,000 per transaction, N synthetic
 * cases spread over the 44 counties and every day of 2025-01-01 ..
 * 2026-11-30 (20 units and 60 staff a county, 300 service items, up to two
 * dimensions, every outcome and status the rules reach, a few still open)
 * through the same calls the writer makes when a case appears in its
 * final state: gw_stats_case (the counters, sets and due index: a case's
 * contribution depends on its state only, not on the path that led there)
 * and gw_checks_event (the checks' per-county and per-day tallies the
 * summary also reads). Then EVALUATIONS (default N) ratings through
 * gw_stats_evaluation. The cases themselves and the log are not written:
 * the routes measured read neither. Deterministic (a fixed-seed
 * generator per case). Prints one JSON object: cases, evaluations,
 * seconds, bytes of data.mdb.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "checks.h"
#include "division.h"
#include "gwstore.h"
#include "stats.h"

#define PER_TXN 200000

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: case i's own random stream, so a redone chunk is the same. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct names {
    char unit[16], uname[32], staff[16], sname[32], item[16], iname[32];
} names;

/* Case i (of county d) in a final state into *c (zeroed first); the
 * strings point into nm. */
static void make_case(uint64_t i, const hcp_division *d, hcp_day first, int days, names *nm,
                      hcp_case *c, uint32_t *numbers)
{
    uint64_t s = i * 7919 + 1;
    memset(c, 0, sizeof(*c));
    hcp_day day = first + (hcp_day)(mix(&s) % (uint64_t)days);
    if (hcp_case_id_format(c->id, sizeof(c->id), d->code, day, ++numbers[day - first]) != HCP_OK)
        c->id[0] = '\0'; /* cannot happen: the numbers stay below 10^8 */
    memcpy(c->county, d->code, sizeof(c->county));
    int u = (int)(mix(&s) % 20);
    snprintf(nm->unit, sizeof(nm->unit), "U%02d", u);
    snprintf(nm->uname, sizeof(nm->uname), "单位%02d", u);
    snprintf(nm->staff, sizeof(nm->staff), "S%02d-%d", u, (int)(mix(&s) % 3));
    snprintf(nm->sname, sizeof(nm->sname), "员工%s", nm->staff);
    int it = (int)(mix(&s) % 300);
    snprintf(nm->item, sizeof(nm->item), "SI-%03d", it);
    snprintf(nm->iname, sizeof(nm->iname), "事项%03d", it);
    c->in.unit.code = nm->unit;
    c->in.unit.name = nm->uname;
    c->in.staff.id = nm->staff;
    c->in.staff.name = nm->sname;
    c->in.service_item.code = nm->item;
    c->in.service_item.name = nm->iname;
    c->in.kind = mix(&s) % 2 ? HCP_KIND_REVIEW : HCP_KIND_COMPLAINT;
    c->in.rating = c->in.kind == HCP_KIND_REVIEW ? 1 : 0;
    c->in.dimensions = HCP_DIM_BIT(1 + mix(&s) % 8) | (mix(&s) % 2 ? HCP_DIM_BIT(7) : 0);
    c->reachable = c->real_name = mix(&s) % 5 != 0;
    c->received_at = hcp_day_start(day) + 36000;
    c->feedback_due.at = c->received_at + 7 * 86400;
    c->adopted = true;
    uint64_t r = mix(&s) % 100;
    bool late = mix(&s) % 10 == 0;
    c->status = HCP_ST_CLOSED;
    if (r < 3) { /* still open, nothing done */
        c->status = HCP_ST_RECEIVED;
        return;
    }
    c->feedback_at = c->received_at + (late ? 10 : 2) * 86400;
    c->closed_at = c->feedback_at + 86400;
    if (r < 40) {
        c->outcome = HCP_OUT_UNSUBSTANTIATED;
    } else if (r < 43) { /* not adopted (Art. 9) */
        c->outcome = r == 40 ? HCP_OUT_MISTAKEN : HCP_OUT_MALICIOUS;
        c->adopted = false;
        c->feedback_at = 0;
        c->disputed_at = c->received_at + 3600;
        c->decided_at = c->received_at + 86400;
        c->rereview_due.at = c->received_at + 7 * 86400;
    } else {
        c->outcome = HCP_OUT_SUBSTANTIATED;
        if (c->reachable) {
            c->revisited_at = c->feedback_at + 3600;
            c->revisit_satisfied = mix(&s) % 10 != 0;
            if (r < 45) { /* revisit owed, not made yet */
                c->revisited_at = 0;
                c->status = HCP_ST_AWAITING_REVISIT;
            }
        }
        if (r == 45) { /* a dispute still open */
            c->feedback_at = 0;
            c->disputed_at = c->received_at + 3600;
            c->rereview_due.at = c->received_at + 7 * 86400;
            c->status = HCP_ST_DISPUTED;
        }
    }
}

/* Cases [from, to) in txn. */
static int add_cases(gw_store *s, MDB_txn *txn, const hcp_cal *cal, uint64_t from, uint64_t to,
                     hcp_day first, int days, uint32_t *numbers)
{
    size_t ndiv = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    int rc = HCP_OK;
    hcp_case none;
    memset(&none, 0, sizeof(none));
    for (uint64_t i = from; rc == HCP_OK && i < to; i++) {
        names nm;
        hcp_case c;
        make_case(i, &divs[i % ndiv], first, days, &nm, &c, numbers + (i % ndiv) * (size_t)days);
        memcpy(none.id, c.id, sizeof(none.id));
        memcpy(none.county, c.county, sizeof(none.county));
        rc = gw_stats_case(s, txn, &none, &c);
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = HCP_EV_CASE_OPEN;
        ev.seq = i + 1;
        ev.at = ev.recorded_at = c.received_at;
        memcpy(ev.county, c.county, sizeof(ev.county));
        memcpy(ev.case_id, c.id, sizeof(ev.case_id));
        if (rc == HCP_OK)
            rc = gw_checks_event(s, txn, cal, &ev, &none, &c, HCP_OK, NULL);
    }
    return rc;
}

/* Ratings [from, to) in txn. */
static int add_evals(gw_store *s, MDB_txn *txn, uint64_t from, uint64_t to, hcp_day first, int days)
{
    size_t ndiv = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    int rc = HCP_OK;
    for (uint64_t i = from; rc == HCP_OK && i < to; i++) {
        uint64_t sd = i * 104729 + 3;
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        char unit[16];
        snprintf(unit, sizeof(unit), "U%02d", (int)(mix(&sd) % 20));
        ev.type = HCP_EV_EVALUATION;
        memcpy(ev.county, divs[i % ndiv].code, sizeof(ev.county));
        ev.at = hcp_day_start(first + (hcp_day)(mix(&sd) % (uint64_t)days)) + 40000;
        ev.in.rating = (uint8_t)(3 + mix(&sd) % 3);
        ev.in.unit.code = unit;
        rc = gw_stats_evaluation(s, txn, &ev);
    }
    return rc;
}

/* One chunk in one transaction (the map was sized at the start). */
static int chunk(gw *g, bool evals, uint64_t from, uint64_t to, hcp_day first, int days,
                 uint32_t *numbers)
{
    MDB_txn *txn;
    int rc = gws_err(mdb_txn_begin(g->store->db.env, NULL, 0, &txn));
    if (rc != HCP_OK)
        return rc;
    rc = evals ? add_evals(g->store, txn, from, to, first, days)
               : add_cases(g->store, txn, g->cal, from, to, first, days, numbers);
    if (rc == HCP_OK)
        return gws_err(mdb_txn_commit(txn));
    mdb_txn_abort(txn);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_stats_fill DIR N [EVALUATIONS]\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10), ne = argc > 3 ? strtoull(argv[3], NULL, 10) : n;
    static gw g;
    snprintf(g.cfg.data, sizeof(g.cfg.data), "%s", argv[1]);
    if (mkdir(argv[1], 0700) != 0 && errno != EEXIST) {
        perror(argv[1]);
        return 1;
    }
    hcp_day first, last;
    if (hcp_day_from_ymd(2025, 1, 1, &first) != HCP_OK ||
        hcp_day_from_ymd(2026, 11, 30, &last) != HCP_OK || hcp_cal_default(&g.cal) != HCP_OK ||
        gw_store_open(&g) != HCP_OK) {
        fprintf(stderr, "bench_stats_fill: cannot open the store in %s\n", argv[1]);
        return 1;
    }
    int days = (int)(last - first + 1);
    size_t ndiv = 0;
    (void)hcp_divisions(&ndiv);
    uint32_t *numbers = calloc(ndiv * (size_t)days, sizeof(uint32_t));
    double t0 = now_s();
    /* a fill for measuring: no fsync per commit, one sync at the end; a
     * map large enough for every case (address space, not disk) */
    int rc = numbers != NULL ? hcpd_env_grow(&g.store->db, (size_t)32 << 30) : HCP_ENOMEM;
    if (rc == HCP_OK)
        rc = gws_err(mdb_env_set_flags(g.store->db.env, MDB_NOSYNC, 1));
    for (uint64_t i = 0; rc == HCP_OK && i < n; i += PER_TXN)
        rc = chunk(&g, false, i, i + PER_TXN < n ? i + PER_TXN : n, first, days, numbers);
    for (uint64_t i = 0; rc == HCP_OK && i < ne; i += PER_TXN)
        rc = chunk(&g, true, i, i + PER_TXN < ne ? i + PER_TXN : ne, first, days, NULL);
    if (rc == HCP_OK)
        rc = gws_err(mdb_env_sync(g.store->db.env, 1));
    double secs = now_s() - t0;
    free(numbers);
    gw_store_close(&g);
    hcp_cal_free(g.cal);
    if (rc != HCP_OK) {
        fprintf(stderr, "bench_stats_fill: %s\n", hcp_strerror(rc));
        return 1;
    }
    char path[GW_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/data.mdb", argv[1]);
    struct stat st;
    long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    printf(
        "{\"cases\": %llu, \"evaluations\": %llu, \"seconds\": %.2f, \"data_mdb_bytes\": %lld}\n",
        (unsigned long long)n, (unsigned long long)ne, secs, bytes);
    return 0;
}
