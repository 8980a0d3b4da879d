/*
 * form_fill.c — a gateway store holding N cases, made fast for the monthly
 * form bench (bench/form_bench.py, docs/bench.md "Monthly form (issue #12)").
 *
 *   bench_form_fill DIR N
 *
 * Opens (creating) a gateway store in DIR with the gateway's own code
 * (hcpd_seal makes the seal key as hcp-gateway would, then gw_store_open) and writes N synthetic
 * cases in their final state with gws_case_put and gws_feed_update (the calls the writer makes),
 * 50,000 per transaction, every row written in its case's transaction (HCP_GW_FORM_ROWS=sync unless
 * set: the store as the gateway's drain leaves it, not 1M rows still marked). Distribution: 40 % of
 * the cases in Xining (630100, about its share of Qinghai's population), spread over its counties,
 * the rest evenly over the other counties; every day of 2026 (12 months). Every case carries
 * personal data (complainant, staff and verifier phones), a content text and most a rectification
 * result, so a row is as long as a real one. Deterministic (a fixed-seed generator per case).
 * Prints one JSON object: cases, seconds, bytes of data.mdb, and the rows of each Xining month.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "division.h"
#include "gwstore.h"
#include "hcpd.h"

#define PER_TXN   50000
#define BIG_PREF  "630100"
#define BIG_SHARE 40 /* percent of the cases */
#define YEAR      2026

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: case i's own random stream. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The strings of one case (c's pointers point here). */
typedef struct names {
    char unit[16], uname[48], staff[16], sname[32], sphone[24], item[16], iname[48];
    char cname[32], cphone[24], vname[32], vphone[24], result[160], content[256];
} names;

/* The county of case i: BIG_SHARE % in the big prefecture's counties. */
static const hcp_division *county_of(uint64_t *s, const hcp_division **big, size_t nbig,
                                     const hcp_division **rest, size_t nrest)
{
    if (mix(s) % 100 < BIG_SHARE)
        return big[mix(s) % nbig];
    return rest[mix(s) % nrest];
}

/* Case i into *c (zeroed first); the strings point into nm. */
static void make_case(uint64_t i, const hcp_division *d, hcp_day day, uint32_t number, names *nm,
                      hcp_case *c)
{
    uint64_t s = i * 7919 + 11;
    memset(c, 0, sizeof(*c));
    if (hcp_case_id_format(c->id, sizeof(c->id), d->code, day, number) != HCP_OK)
        c->id[0] = '\0'; /* cannot happen: the numbers stay below 10^8 */
    memcpy(c->county, d->code, sizeof(c->county));
    int u = (int)(mix(&s) % 20);
    snprintf(nm->unit, sizeof(nm->unit), "U%02d", u);
    snprintf(nm->uname, sizeof(nm->uname), "%s政务服务中心%02d", d->name, u);
    snprintf(nm->staff, sizeof(nm->staff), "S%02d-%d", u, (int)(mix(&s) % 3));
    snprintf(nm->sname, sizeof(nm->sname), "员工%s", nm->staff);
    snprintf(nm->sphone, sizeof(nm->sphone), "0971-%07d", (int)(mix(&s) % 10000000));
    int it = (int)(mix(&s) % 300);
    snprintf(nm->item, sizeof(nm->item), "SI-%03d", it);
    snprintf(nm->iname, sizeof(nm->iname), "不动产登记事项%03d", it);
    snprintf(nm->cname, sizeof(nm->cname), "群众%06d", (int)(i % 1000000));
    snprintf(nm->cphone, sizeof(nm->cphone), "139%08d", (int)(mix(&s) % 100000000));
    snprintf(nm->vname, sizeof(nm->vname), "核实员%02d", (int)(mix(&s) % 50));
    snprintf(nm->vphone, sizeof(nm->vphone), "138%08d", (int)(mix(&s) % 100000000));
    snprintf(nm->content, sizeof(nm->content),
             "窗口办理时间过长，工作人员态度不好，要求一次性告知材料，第%llu次来办。",
             (unsigned long long)(i % 7 + 1));
    c->in.unit.code = nm->unit;
    c->in.unit.name = nm->uname;
    c->in.window = NULL;
    c->in.staff.id = nm->staff;
    c->in.staff.name = nm->sname;
    c->in.staff.phone = nm->sphone;
    c->in.service_item.code = nm->item;
    c->in.service_item.name = nm->iname;
    c->in.kind = mix(&s) % 2 ? HCP_KIND_REVIEW : HCP_KIND_COMPLAINT;
    c->in.channel = 1;
    c->in.rating = c->in.kind == HCP_KIND_REVIEW ? (uint8_t)(1 + mix(&s) % 2) : 0;
    c->in.dimensions = HCP_DIM_BIT(1 + mix(&s) % 8);
    c->in.content = nm->content;
    c->in.has_complainant = mix(&s) % 10 != 0;
    if (c->in.has_complainant) {
        c->in.complainant.name = nm->cname;
        c->in.complainant.phone = nm->cphone;
    }
    c->reachable = c->real_name = c->in.has_complainant;
    c->received_at = hcp_day_start(day) + 36000 + (hcp_time)(mix(&s) % 20000);
    c->last_at = c->received_at;
    c->feedback_due.at = c->received_at + 7 * 86400;
    c->adopted = true;
    c->nevents = 1;
    c->status = HCP_ST_RECEIVED;
    uint64_t r = mix(&s) % 100;
    if (r < 5)
        return; /* still open, nothing done */
    c->verifier.name = nm->vname;
    c->verifier.phone = nm->vphone;
    c->nevents = 5;
    c->feedback_at = c->received_at + (1 + (hcp_time)(mix(&s) % 9)) * 86400;
    c->closed_at = c->feedback_at + 86400;
    c->last_at = c->closed_at;
    c->status = HCP_ST_CLOSED;
    if (r < 40) {
        c->outcome = HCP_OUT_UNSUBSTANTIATED;
    } else if (r < 43) {
        c->outcome = r == 40 ? HCP_OUT_MISTAKEN : HCP_OUT_MALICIOUS;
        c->adopted = false;
    } else {
        c->outcome = HCP_OUT_SUBSTANTIATED;
        snprintf(nm->result, sizeof(nm->result),
                 "已约谈当事工作人员，优化办事流程，公示一次性告知清单");
        c->rectification_result = nm->result;
        if (c->reachable) {
            c->revisited_at = c->feedback_at + 3600;
            c->revisit_satisfied = mix(&s) % 10 != 0;
        }
    }
    if (c->feedback_at > c->feedback_due.at)
        c->overdue_marked = 1u << HCP_DL_FEEDBACK;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_form_fill DIR N\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10);
    static gw g;
    snprintf(g.cfg.data, sizeof(g.cfg.data), "%s", argv[1]);
    if (mkdir(argv[1], 0700) != 0 && errno != EEXIST) {
        perror(argv[1]);
        return 1;
    }
    if (setenv("HCP_GW_FORM_ROWS", "sync", 0) != 0) { /* the rows written, not marked */
        perror("setenv");
        return 1;
    }
    hcp_day first, last;
    if (hcp_day_from_ymd(YEAR, 1, 1, &first) != HCP_OK ||
        hcp_day_from_ymd(YEAR, 12, 31, &last) != HCP_OK || hcp_cal_default(&g.cal) != HCP_OK ||
        hcpd_seal("bench_form_fill", "", argv[1], "data.mdb", &g.sealer) != HCP_OK ||
        gw_store_open(&g) != HCP_OK) {
        fprintf(stderr, "bench_form_fill: cannot open the store in %s\n", argv[1]);
        return 1;
    }
    int days = (int)(last - first + 1);
    size_t ndiv = 0, nbig = 0, nrest = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    const hcp_division **big = calloc(ndiv, sizeof(*big)), **rest = calloc(ndiv, sizeof(*rest));
    uint32_t *numbers = calloc(ndiv * (size_t)days, sizeof(uint32_t));
    for (size_t i = 0; big != NULL && rest != NULL && i < ndiv; i++) {
        if (strcmp(divs[i].prefecture, BIG_PREF) == 0)
            big[nbig++] = &divs[i];
        else
            rest[nrest++] = &divs[i];
    }
    long per_month[12] = {0};
    double t0 = now_s();
    int rc = numbers != NULL && nbig > 0 && nrest > 0 ? HCP_OK : HCP_ENOMEM;
    /* a fill for measuring: no fsync per commit, one sync at the end; a map
     * large enough for every case (address space, not disk) */
    if (rc == HCP_OK)
        rc = hcpd_env_grow(&g.store->db, (size_t)32 << 30);
    if (rc == HCP_OK)
        rc = gws_err(mdb_env_set_flags(g.store->db.env, MDB_NOSYNC, 1));
    for (uint64_t i = 0; rc == HCP_OK && i < n; i += PER_TXN) {
        MDB_txn *txn;
        rc = gws_err(mdb_txn_begin(g.store->db.env, NULL, 0, &txn));
        for (uint64_t j = i; rc == HCP_OK && j < n && j < i + PER_TXN; j++) {
            uint64_t s = j * 104729 + 5;
            const hcp_division *d = county_of(&s, big, nbig, rest, nrest);
            hcp_day day = first + (hcp_day)(mix(&s) % (uint64_t)days);
            uint32_t *num = &numbers[(size_t)(d - divs) * (size_t)days + (size_t)(day - first)];
            names nm;
            hcp_case c;
            make_case(j, d, day, ++*num, &nm, &c);
            rc = gws_case_put(g.store, txn, &c);
            if (rc == HCP_OK) /* the feed index the gateway keeps beside each case */
                rc = gws_feed_update(g.store, txn, 0, &c, c.last_at);
            if (rc != HCP_OK)
                fprintf(stderr, "bench_form_fill: case %s: %s\n", c.id, hcp_strerror(rc));
            if (rc == HCP_OK && strcmp(d->prefecture, BIG_PREF) == 0) {
                int y, m, dd;
                hcp_day_to_ymd(day, &y, &m, &dd);
                per_month[m - 1]++;
            }
        }
        if (rc == HCP_OK)
            rc = gws_err(mdb_txn_commit(txn));
        else if (txn != NULL)
            mdb_txn_abort(txn);
    }
    if (rc == HCP_OK)
        rc = gws_err(mdb_env_sync(g.store->db.env, 1));
    double secs = now_s() - t0;
    free(numbers);
    free(big);
    free(rest);
    gw_store_close(&g);
    hcp_cal_free(g.cal);
    hcp_sealer_free(g.sealer);
    if (rc != HCP_OK) {
        fprintf(stderr, "bench_form_fill: %s\n", hcp_strerror(rc));
        return 1;
    }
    char path[GW_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/data.mdb", argv[1]);
    struct stat st;
    long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    printf("{\"cases\": %llu, \"seconds\": %.2f, \"data_mdb_bytes\": %lld, \"prefecture\": \"%s\", "
           "\"year\": %d, \"rows_by_month\": [",
           (unsigned long long)n, secs, bytes, BIG_PREF, YEAR);
    for (int m = 0; m < 12; m++)
        printf("%s%ld", m ? ", " : "", per_month[m]);
    printf("]}\n");
    return 0;
}
