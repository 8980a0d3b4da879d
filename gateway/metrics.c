/*
 * metrics.c — GET /metrics of hcp-gateway (metrics.h; the list with what
 * each metric means is in docs/operations.md, "Metrics").
 *
 * Samples of one metric must be consecutive in the text format, so the
 * per-county figures are gathered first (one row per county: its state
 * from the store's table, its tally from the checks, its overdue cases
 * from a scan of the cases) and then written family by family.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "checks.h"
#include "division.h"
#include "gwfeed.h"
#include "gwstore.h"
#include "metrics.h"
#include "plog.h"
#include "record.h"
#include "report.h"
#include "rules.h"
#include "tlog.h"
#include "version.h"

#define METRICS_MAX (64u << 20) /* the exposition's ceiling: ~2,900 counties fit many times */
#define LINE_MAX_   1024

/* ---- the counters kept here ---- */

/* Every code the replication protocol answers with (replication/repl.h,
 * gateway/ingest.c and writer.c); "other" last, for a code added later. */
static const char *const refusal_names[] = {
    "version",         "not_a_county", "forked",  "unauthenticated",
    "county_mismatch", "bad_cert",     "expired", "revoked",
    "bad_signature",   "malformed",    "gap",     "overloaded",
    "storage_full",    "other"};
#define NREFUSALS (sizeof(refusal_names) / sizeof(refusal_names[0]))
static atomic_ullong refusals[NREFUSALS];
static atomic_ullong batches_applied;

/* The route groups of the HTTP server; "other" for the rest (404s too). */
enum route {
    R_HEALTHZ,
    R_METRICS,
    R_PAGE,
    R_FEED,
    R_STATS,
    R_TLOG,
    R_COUNTIES,
    R_CASES,
    R_DIRECTIVES,
    R_ACCESS_LOG,
    R_REPORTS,
    R_OTHER,
    R_COUNT_
};
static const char *const route_names[R_COUNT_] = {"healthz",    "metrics",    "page",     "feed",
                                                  "stats",      "tlog",       "counties", "cases",
                                                  "directives", "access_log", "reports",  "other"};
static atomic_ullong requests[R_COUNT_];

void gw_metrics_refusal(const char *code)
{
    if (code == NULL)
        return;
    size_t i = 0;
    while (i < NREFUSALS - 1 && strcmp(refusal_names[i], code) != 0)
        i++;
    atomic_fetch_add(&refusals[i], 1);
}

void gw_metrics_batch(const char *code)
{
    if (code == NULL)
        atomic_fetch_add(&batches_applied, 1);
    else
        gw_metrics_refusal(code);
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The group of path: fixed, so the label's values stay a short list
 * whatever paths clients send. */
static enum route route_of(const char *p)
{
    if (strcmp(p, "/healthz") == 0)
        return R_HEALTHZ;
    if (strcmp(p, "/metrics") == 0)
        return R_METRICS;
    if (starts(p, "/v1/stats/") || strcmp(p, "/feed/stats.json") == 0)
        return R_STATS;
    if (gw_feed_is_route(p))
        return R_FEED;
    if (gw_tlog_is_route(p))
        return R_TLOG;
    if (strcmp(p, "/v1/counties") == 0)
        return R_COUNTIES;
    if (strcmp(p, "/v1/cases") == 0 || starts(p, "/v1/cases/"))
        return R_CASES;
    if (strcmp(p, "/v1/directives") == 0)
        return R_DIRECTIVES;
    if (strcmp(p, "/v1/access-log") == 0)
        return R_ACCESS_LOG;
    if (starts(p, "/v1/reports/"))
        return R_REPORTS;
    /* the page's files: "/" and top-level names with an extension */
    if (strcmp(p, "/") == 0 || (p[0] == '/' && strchr(p + 1, '/') == NULL && strchr(p, '.')))
        return R_PAGE;
    return R_OTHER;
}

void gw_metrics_http_request(const char *path)
{
    if (path != NULL)
        atomic_fetch_add(&requests[route_of(path)], 1);
}

/* ---- writing the text ---- */

typedef struct emit {
    hcp_buf *out;
    int rc; /* the first error; later writes do nothing */
} emit;

/* Append one formatted piece (at most LINE_MAX_ bytes: longer is a bug in
 * a format here, reported as HCP_ERANGE). */
__attribute__((format(printf, 2, 3))) static void put(emit *e, const char *fmt, ...)
{
    if (e->rc != HCP_OK)
        return;
    char line[LINE_MAX_];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        e->rc = HCP_ERANGE;
    else
        e->rc = hcp_buf_append(e->out, line, (size_t)n);
}

/* The HELP and TYPE lines that open a metric family. */
static void family(emit *e, const char *name, const char *type, const char *help)
{
    put(e, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A one-sample family without labels. */
static void single(emit *e, const char *name, const char *type, const char *help, uint64_t v)
{
    family(e, name, type, help);
    put(e, "%s %llu\n", name, (unsigned long long)v);
}

/* value as a label value: backslash, double quote and newline escaped,
 * cut to fit len bytes (NUL included). */
static void label_escape(const char *value, char *dst, size_t len)
{
    size_t o = 0;
    for (const char *s = value; *s != '\0' && o + 3 < len; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            dst[o++] = '\\';
            dst[o++] = *s == '\n' ? 'n' : *s;
        } else
            dst[o++] = *s;
    }
    dst[o] = '\0';
}

/* ---- gathering ---- */

typedef struct county_row {
    gw_county c;
    const hcp_division *div; /* NULL: not in the divisions in use */
    gw_tally t;
    uint64_t overdue;
} county_row;

typedef struct gathered {
    county_row *rows;
    size_t n;
    uint64_t directives;    /* entries in the province log */
    uint64_t deliveries[4]; /* (entry, county) pairs: pending, sent, applied, refused */
    uint64_t map_used, map_size;
    uint64_t rows_pending; /* cases whose row of the monthly form waits for the drain */
} gathered;

/* The row of county code (rows are in code order: a binary search), or
 * NULL when it has none. */
static county_row *row_of(gathered *g, const char *code)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(g->rows[mid].c.code, code, HCP_COUNTY_LEN);
        if (c == 0)
            return &g->rows[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const county_row *)a)->c.code, ((const county_row *)b)->c.code);
}

/* One row per division in use and per other county the gateway knows, as
 * GET /v1/counties lists them, sorted by code. */
static int gather_counties(gw *gw_, gathered *g)
{
    gw_county *known = NULL;
    size_t nknown = 0, ndiv = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    int rc = gws_county_list(gw_->store, &known, &nknown);
    if (rc != HCP_OK)
        return rc;
    g->rows = calloc(ndiv + nknown + 1, sizeof(*g->rows));
    if (g->rows == NULL) {
        free(known);
        return HCP_ENOMEM;
    }
    for (size_t i = 0; i < ndiv; i++) {
        county_row *r = &g->rows[g->n++];
        gws_county_get(gw_->store, divs[i].code, &r->c);
        snprintf(r->c.code, sizeof(r->c.code), "%s", divs[i].code);
        r->div = &divs[i];
    }
    for (size_t i = 0; i < nknown; i++)
        if (hcp_division_find(known[i].code) == NULL)
            g->rows[g->n++].c = known[i];
    free(known);
    qsort(g->rows, g->n, sizeof(*g->rows), row_cmp);
    return HCP_OK;
}

/* The checks' tally of every county, and its cases overdue now: the
 * cases with a running deadline (the store's ov_run, whose keys begin
 * with the county's code, so a county's are consecutive), each read and
 * judged at this instant; no other case can be overdue
 * (hcp_case_deadline_running). A case that cannot be read is skipped: the
 * figure is a gauge, not a proof. */
static int gather_cases(gw *gw_, MDB_txn *txn, gathered *g)
{
    int rc = HCP_OK;
    for (size_t i = 0; rc == HCP_OK && i < g->n; i++)
        rc = gw_checks_county_tally(gw_->store, txn, g->rows[i].c.code, &g->rows[i].t);
    if (rc != HCP_OK)
        return rc;
    MDB_cursor *cur;
    rc = gws_err(mdb_cursor_open(txn, gw_->store->ov_run, &cur));
    if (rc != HCP_OK)
        return rc;
    hcp_time now = (hcp_time)time(NULL);
    county_row *row = NULL;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[HCP_CASE_ID_MAX];
        if (k.mv_size <= HCP_COUNTY_LEN || k.mv_size >= sizeof(id))
            continue;
        memcpy(id, k.mv_data, k.mv_size);
        id[k.mv_size] = '\0';
        if (row == NULL || strncmp(row->c.code, id, HCP_COUNTY_LEN) != 0)
            row = row_of(g, id);
        if (row == NULL)
            continue; /* a county that has no row: not one the table holds */
        MDB_val cv;
        if (mdb_get(txn, gw_->store->cases, &k, &cv) != MDB_SUCCESS)
            continue;
        hcp_case c;
        memset(&c, 0, sizeof(c)); /* cleared whether it was read or not */
        if (hcp_stored_case_unpack(gw_->store->sealer, id, cv.mv_data, cv.mv_size, false, &c) ==
            HCP_OK)
            row->overdue += hcp_case_overdue(&c, now) != 0;
        hcp_case_clear(&c);
    }
    mdb_cursor_close(cur);
    return mrc == MDB_NOTFOUND ? HCP_OK : gws_err(mrc);
}

/* The province log's entries and the state of each (entry, county) pair,
 * summed from the list GET /v1/directives answers with. */
static int gather_directives(gw *gw_, MDB_txn *txn, gathered *g)
{
    static const char *const states[4] = {"pending", "sent", "applied", "refused"};
    int rc = HCP_OK;
    json_t *arr = gw_plog_list_json(gw_->store, txn, "", "", SIZE_MAX, 0, &rc);
    if (arr == NULL)
        return rc != HCP_OK ? rc : HCP_ENOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        json_t *counts = json_object_get(e, "counts");
        g->directives++;
        for (size_t s = 0; s < 4; s++) {
            json_int_t n = json_integer_value(json_object_get(counts, states[s]));
            g->deliveries[s] += n > 0 ? (uint64_t)n : 0;
        }
    }
    json_decref(arr);
    return HCP_OK;
}

/* The LMDB map: bytes in use (pages up to the last one written) and its
 * current size (it grows up to --map-max-mib). */
static int gather_map(gw *gw_, gathered *g)
{
    return gws_err(hcpd_env_used(gw_->store->db.env, &g->map_used, &g->map_size));
}

/* Everything read from the store, in one read transaction (which also
 * holds the map still while its size is read). */
static int gather(gw *gw_, gathered *g)
{
    int rc = gather_counties(gw_, g);
    MDB_txn *txn;
    if (rc == HCP_OK)
        rc = gws_read_begin(gw_->store, &txn);
    if (rc != HCP_OK)
        return rc;
    rc = gather_cases(gw_, txn, g);
    if (rc == HCP_OK)
        rc = gather_directives(gw_, txn, g);
    if (rc == HCP_OK)
        rc = gather_map(gw_, g);
    if (rc == HCP_OK)
        rc = gw_report_pending(gw_->store, txn, &g->rows_pending);
    gws_read_end(gw_->store, txn);
    return rc;
}

/* ---- the families ---- */

static const char *const county_states[] = {"never_seen", "ok", "forked", "unauthorized"};

static void emit_counties(emit *e, const gathered *g)
{
    family(e, "hcp_gateway_county_info", "gauge",
           "A county the gateway lists (always 1): its name and prefecture as labels.");
    for (size_t i = 0; i < g->n; i++) {
        char name[256] = "";
        if (g->rows[i].div != NULL && g->rows[i].div->name != NULL)
            label_escape(g->rows[i].div->name, name, sizeof(name));
        put(e, "hcp_gateway_county_info{county=\"%s\",name=\"%s\",prefecture=\"%s\"} 1\n",
            g->rows[i].c.code, name, g->rows[i].div != NULL ? g->rows[i].div->prefecture : "");
    }
    family(e, "hcp_gateway_county_applied_events", "gauge",
           "Events of the county's log the gateway applied (its last sequence number applied).");
    for (size_t i = 0; i < g->n; i++)
        put(e, "hcp_gateway_county_applied_events{county=\"%s\"} %llu\n", g->rows[i].c.code,
            (unsigned long long)g->rows[i].c.applied);
    family(e, "hcp_gateway_county_lag_events", "gauge",
           "Events the county's node last reported holding that the gateway has not applied.");
    for (size_t i = 0; i < g->n; i++) {
        const gw_county *c = &g->rows[i].c;
        put(e, "hcp_gateway_county_lag_events{county=\"%s\"} %llu\n", c->code,
            (unsigned long long)(c->reported > c->applied ? c->reported - c->applied : 0));
    }
    family(e, "hcp_gateway_county_last_seen_timestamp_seconds", "gauge",
           "When the county's node last spoke to the gateway (Unix time; 0: never).");
    for (size_t i = 0; i < g->n; i++)
        put(e, "hcp_gateway_county_last_seen_timestamp_seconds{county=\"%s\"} %lld\n",
            g->rows[i].c.code, (long long)g->rows[i].c.last_seen);
    family(e, "hcp_gateway_county_state", "gauge",
           "The county's replication state: 1 for the state it is in, 0 for the others.");
    for (size_t i = 0; i < g->n; i++)
        for (size_t s = 0; s < 4; s++)
            put(e, "hcp_gateway_county_state{county=\"%s\",state=\"%s\"} %d\n", g->rows[i].c.code,
                county_states[s], g->rows[i].c.state == s);
    family(e, "hcp_gateway_county_rule_flagged_events_total", "counter",
           "Events of the county the gateway's rules refused (stored all the same, flagged).");
    for (size_t i = 0; i < g->n; i++)
        put(e, "hcp_gateway_county_rule_flagged_events_total{county=\"%s\"} %llu\n",
            g->rows[i].c.code, (unsigned long long)g->rows[i].c.rule_flags);
    family(e, "hcp_gateway_county_findings_total", "counter",
           "The gateway's integrity findings on the county's log, by kind (docs/checks.md).");
    for (size_t i = 0; i < g->n; i++)
        for (size_t k = 1; k < GW_FIND_COUNT_; k++)
            put(e, "hcp_gateway_county_findings_total{county=\"%s\",kind=\"%s\"} %llu\n",
                g->rows[i].c.code, gw_finding_names[k], (unsigned long long)g->rows[i].t.found[k]);
    family(e, "hcp_gateway_county_overdue_cases", "gauge",
           "Open cases of the county with a deadline already missed, as the gateway computes it.");
    for (size_t i = 0; i < g->n; i++)
        put(e, "hcp_gateway_county_overdue_cases{county=\"%s\"} %llu\n", g->rows[i].c.code,
            (unsigned long long)g->rows[i].overdue);
}

static void emit_totals(emit *e, const gathered *g)
{
    family(e, "hcp_gateway_counties", "gauge", "Counties listed, by replication state.");
    for (size_t s = 0; s < 4; s++) {
        uint64_t n = 0;
        for (size_t i = 0; i < g->n; i++)
            n += g->rows[i].c.state == s;
        put(e, "hcp_gateway_counties{state=\"%s\"} %llu\n", county_states[s],
            (unsigned long long)n);
    }
    family(e, "hcp_gateway_cases", "gauge", "Cases of every county, by status.");
    for (int st = HCP_ST_RECEIVED; st < HCP_ST_COUNT_; st++) {
        int64_t n = 0;
        for (size_t i = 0; i < g->n; i++)
            n += g->rows[i].t.status[st];
        put(e, "hcp_gateway_cases{status=\"%s\"} %lld\n", hcp_status_names[st], (long long)n);
    }
    single(e, "hcp_gateway_directives", "gauge", "Entries in the province log of directives.",
           g->directives);
    static const char *const dstates[4] = {"pending", "sent", "applied", "refused"};
    family(e, "hcp_gateway_directive_deliveries", "gauge",
           "Directive deliveries (one per entry and target county), by state.");
    for (size_t s = 0; s < 4; s++)
        put(e, "hcp_gateway_directive_deliveries{state=\"%s\"} %llu\n", dstates[s],
            (unsigned long long)g->deliveries[s]);
}

static void emit_counters(emit *e)
{
    single(e, "hcp_gateway_batches_applied_total", "counter",
           "Replication batches applied and acknowledged since the start.",
           atomic_load(&batches_applied));
    family(e, "hcp_gateway_replication_refusals_total", "counter",
           "Replication requests answered with an error since the start, by reason.");
    for (size_t i = 0; i < NREFUSALS; i++)
        put(e, "hcp_gateway_replication_refusals_total{reason=\"%s\"} %llu\n", refusal_names[i],
            (unsigned long long)atomic_load(&refusals[i]));
    family(e, "hcp_gateway_http_requests_total", "counter",
           "HTTP requests received since the start, by route group.");
    for (size_t i = 0; i < R_COUNT_; i++)
        put(e, "hcp_gateway_http_requests_total{route=\"%s\"} %llu\n", route_names[i],
            (unsigned long long)atomic_load(&requests[i]));
}

static void emit_resources(emit *e, gw *gw_, const gathered *g, const hcpd_req *r)
{
    single(e, "hcp_gateway_map_used_bytes", "gauge", "Bytes of the LMDB map in use.", g->map_used);
    single(e, "hcp_gateway_map_size_bytes", "gauge",
           "Current size of the LMDB map (it grows on demand up to the maximum).", g->map_size);
    single(e, "hcp_gateway_map_max_bytes", "gauge",
           "Ceiling of the LMDB map (--map-max-mib): the store is full at it.",
           (uint64_t)gw_->cfg.map_max_mib << 20);
    single(e, "hcp_gateway_report_rows_pending", "gauge",
           "Cases whose row of the monthly form is not written yet (written behind a catch-up).",
           g->rows_pending);
    struct statvfs fs;
    if (statvfs(gw_->cfg.data, &fs) == 0) {
        single(e, "hcp_gateway_data_filesystem_avail_bytes", "gauge",
               "Bytes available to the gateway on the filesystem of its data directory.",
               (uint64_t)fs.f_bavail * fs.f_frsize);
        single(e, "hcp_gateway_data_filesystem_size_bytes", "gauge",
               "Size of the filesystem of the gateway's data directory.",
               (uint64_t)fs.f_blocks * fs.f_frsize);
    }
    hcpd_http_conns h = hcpd_req_conn_stats(r);
    single(e, "hcp_gateway_http_connections", "gauge", "HTTP connections open.",
           (uint64_t)(h.open > 0 ? h.open : 0));
    single(e, "hcp_gateway_http_connections_max", "gauge",
           "Cap of open HTTP connections (HCP_HTTP_MAX_CONNS).", (uint64_t)(h.max > 0 ? h.max : 0));
    single(e, "hcp_gateway_http_overloaded_total", "counter",
           "HTTP connections answered 503 at the cap since the start.", h.overloaded);
    gw_ingest_conns repl = gw_ingest_conn_stats(gw_);
    single(e, "hcp_gateway_replication_connections", "gauge",
           "Replication connections open (authenticated or not).", repl.open);
    single(e, "hcp_gateway_replication_connections_max", "gauge",
           "Cap of open replication connections (the session table).", repl.max);
    single(e, "hcp_gateway_replication_pending_connections", "gauge",
           "Replication connections not yet authenticated.", repl.pending);
    single(e, "hcp_gateway_replication_pending_connections_max", "gauge",
           "Cap of unauthenticated replication connections (HCP_REPL_PENDING_MAX).",
           repl.pending_max);
    family(e, "hcp_gateway_replication_closed_connections_total", "counter",
           "Replication connections closed unauthenticated since the start: idle past the "
           "deadline, or over the cap.");
    put(e, "hcp_gateway_replication_closed_connections_total{why=\"idle\"} %llu\n",
        (unsigned long long)repl.closed_idle);
    put(e, "hcp_gateway_replication_closed_connections_total{why=\"excess\"} %llu\n",
        (unsigned long long)repl.closed_excess);
}

int gw_metrics_text(gw *gw_, const hcpd_req *r, hcp_buf *out)
{
    if (gw_ == NULL || gw_->store == NULL || out == NULL)
        return HCP_EINVAL;
    gathered g;
    memset(&g, 0, sizeof(g));
    int rc = gather(gw_, &g);
    emit e = {out, rc};
    char version[128];
    label_escape(hcpd_version(), version, sizeof(version));
    family(&e, "hcp_gateway_build_info", "gauge", "The gateway's version (always 1).");
    put(&e, "hcp_gateway_build_info{version=\"%s\"} 1\n", version);
    emit_counties(&e, &g);
    emit_totals(&e, &g);
    emit_counters(&e);
    emit_resources(&e, gw_, &g, r);
    free(g.rows);
    if (e.rc == HCP_OK) /* compressed batches (docs/replication.md, "Compression") */
        e.rc = repl_zstd_metrics("hcp_gateway_replication", out);
    return e.rc;
}

void gw_metrics_route(void *arg, hcpd_req *r)
{
    gw *g = arg;
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor"))
        return;
    hcp_buf out;
    hcp_buf_init(&out, METRICS_MAX);
    int rc = gw_metrics_text(g, r, &out);
    if (rc == HCP_OK)
        hcpd_req_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    else
        hcpd_req_reply_error(r, 500, "metrics_failed", hcp_strerror(rc));
    hcp_buf_free(&out);
}
