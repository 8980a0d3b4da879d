/*
 * api.c — hcp-gateway's HTTP routes. The admin token (every role) or a
 * named account's (docs/access.md): supervisors see counties and cases,
 * personal data logged per read; auditors only the access log. /healthz,
 * the page and the public feed need no token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "checks.h"
#include "division.h"
#include "gwfeed.h"
#include "gwstore.h"
#include "metrics.h"
#include "plog.h"
#include "report.h"
#include "json.h"
#include "rules.h"
#include "spot.h"
#include "stats.h"
#include "record.h"
#include "tlog.h"
#include "www.h"

#define LIST_DEFAULT 50
#define LIST_MAX     500

static const char *const state_names[] = {"never_seen", "ok", "forked", "unauthorized"};

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static json_t *county_json(const gw_county *c)
{
    char hex[2 * HCP_HASH_LEN + 1];
    hcp_hash_hex(c->head, hex);
    const hcp_division *d = hcp_division_find(c->code);
    uint64_t lag = c->reported > c->applied ? c->reported - c->applied : 0;
    return json_pack("{ss,so,sI,sI,ss,so,sI,ss,sI}", "county", c->code, "name",
                     d != NULL ? json_string(d->name) : json_null(), "log_head",
                     (json_int_t)(c->reported > c->applied ? c->reported : c->applied), "applied",
                     (json_int_t)c->applied, "head_hash", hex, "last_seen",
                     hcp_json_time(c->last_seen), "lag", (json_int_t)lag, "state",
                     state_names[c->state < 4 ? c->state : 0], "rule_flags",
                     (json_int_t)c->rule_flags);
}

/* GET /v1/counties: every Qinghai county, and any other that ever connected. */
static void get_counties(gw *g, hcpd_req *r)
{
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor"))
        return;
    gw_county *known = NULL;
    size_t nknown = 0, ndiv = 0;
    const hcp_division *divs = hcp_divisions(&ndiv);
    json_t *arr = json_array();
    if (arr == NULL || gws_county_list(g->store, &known, &nknown) != HCP_OK) {
        json_decref(arr);
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    bool full = true; /* every county made it into the array */
    for (size_t i = 0; i < ndiv; i++) {
        gw_county c;
        gws_county_get(g->store, divs[i].code, &c);
        full = full && json_array_append_new(arr, county_json(&c)) == 0;
    }
    for (size_t i = 0; i < nknown; i++)
        if (hcp_division_find(known[i].code) == NULL)
            full = full && json_array_append_new(arr, county_json(&known[i])) == 0;
    free(known);
    if (full && gw_checks_annotate_counties(g->store, arr) != HCP_OK) /* checks.h */
        full = false;
    if (!full) { /* out of memory: never a list with counties missing */
        json_decref(arr);
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    hcpd_req_reply_json(r, 200, json_pack("{so}", "counties", arr));
}

/* Read case id with its events and personal data, and log the read for
 * the asking account, in one write transaction of this HTTP thread: the
 * entry is committed before the reply. The resize lock is held shared as
 * by a reader, so the writer never grows the map under it; LMDB's own
 * writer lock orders it with the loop's transactions. */
static int case_read_logged(gw *g, hcpd_req *r, const char *id, hcp_case *c, hcp_event **evs,
                            size_t *nev)
{
    if (pthread_rwlock_rdlock(&g->store->db.resize) != 0) /* EAGAIN: too many readers */
        return HCP_EBUSY;
    MDB_txn *txn;
    int rc = gws_err(mdb_txn_begin(g->store->db.env, NULL, 0, &txn));
    if (rc == HCP_OK) {
        rc = gws_case_get(g->store, txn, id, true, c);
        if (rc == HCP_OK)
            rc = gws_case_events(g->store, txn, id, true, evs, nev);
        if (rc == HCP_OK)
            rc =
                hcpd_access_put(txn, g->acct.access, (hcp_time)time(NULL), hcpd_req_account(r), id);
        if (rc == HCP_OK)
            rc = gws_err(mdb_txn_commit(txn)); /* durability point of the log entry */
        else
            mdb_txn_abort(txn);
    }
    (void)pthread_rwlock_unlock(&g->store->db.resize); /* held by this thread: cannot fail */
    return rc;
}

/* GET /v1/cases/ID: the case as the gateway rebuilt it, with its events and
 * personal data — supervisors only, each read in the access log. */
static void get_case(gw *g, hcpd_req *r, const char *id)
{
    char county[HCP_COUNTY_LEN + 1];
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor"))
        return;
    if (strlen(id) >= HCP_CASE_ID_MAX || hcp_case_id_parse(id, county, NULL, NULL) != HCP_OK) {
        hcpd_req_reply_error(r, 404, "case_not_found", "no such case");
        return;
    }
    hcp_case c;
    hcp_event *evs = NULL;
    size_t nev = 0;
    memset(&c, 0, sizeof(c));
    int rc = case_read_logged(g, r, id, &c, &evs, &nev);
    if (rc == HCP_ENOTFOUND)
        hcpd_req_reply_error(r, 404, "case_not_found", "no such case");
    else if (rc == HCP_EFULL)
        hcpd_req_reply_error(r, 503, "storage_full", "the access log cannot be written now");
    else if (rc == HCP_EBUSY)
        hcpd_req_reply_error(r, 503, "overloaded", "try again");
    else if (rc != HCP_OK)
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
    else {
        json_t *j = hcp_json_case(&c, evs, nev, (hcp_time)time(NULL), true);
        if (j != NULL && gw_checks_annotate_case(g->store, id, j) != HCP_OK) { /* checks.h */
            json_decref(j);
            j = NULL; /* answered 500 */
        }
        hcpd_req_reply_json(r, 200, j);
    }
    gws_events_free(evs, nev);
    hcp_case_clear(&c);
}

typedef struct list_q {
    char county[HCP_COUNTY_LEN + 1];
    int status;
    bool overdue;
    size_t limit;
    char after[HCP_CASE_ID_MAX];
} list_q;

static bool parse_list(hcpd_req *r, list_q *q)
{
    static const char *const keys[] = {"county", "status", "overdue", "limit", "after", NULL};
    char buf[64];
    memset(q, 0, sizeof(*q));
    q->limit = LIST_DEFAULT;
    if (!hcpd_req_params_ok(r, keys, sizeof(buf)))
        return false;
    if (hcpd_req_query(r, "county", buf, sizeof(buf)) && buf[0] != '\0') {
        if (strlen(buf) != HCP_COUNTY_LEN || strspn(buf, "0123456789") != HCP_COUNTY_LEN) {
            hcpd_req_reply_error(r, 422, "invalid_field", "county: six digits");
            return false;
        }
        memcpy(q->county, buf, sizeof(q->county));
    }
    if (hcpd_req_query(r, "status", buf, sizeof(buf)) && buf[0] != '\0' &&
        (q->status = HCP_LOOKUP(hcp_status_names, buf, strlen(buf))) == 0) {
        hcpd_req_reply_error(r, 422, "invalid_field", "status: unknown status");
        return false;
    }
    if (hcpd_req_query(r, "overdue", buf, sizeof(buf))) {
        if (!is(buf, "true") && !is(buf, "false")) {
            hcpd_req_reply_error(r, 422, "invalid_field", "overdue: expected true or false");
            return false;
        }
        q->overdue = is(buf, "true");
    }
    if (hcpd_req_query(r, "limit", buf, sizeof(buf))) {
        char *end;
        long v = strtol(buf, &end, 10);
        if (*end != '\0' || v < 1 || v > LIST_MAX) {
            hcpd_req_reply_error(r, 422, "invalid_field", "limit: expected 1..500");
            return false;
        }
        q->limit = (size_t)v;
    }
    if (hcpd_req_query(r, "after", buf, sizeof(buf)) && buf[0] != '\0') {
        if (strlen(buf) >= sizeof(q->after)) {
            hcpd_req_reply_error(r, 422, "invalid_field", "after: expected a case id");
            return false;
        }
        memcpy(q->after, buf, strlen(buf) + 1);
    }
    return true;
}

/* Scan the cases in id order (county first), filtered, into arr. */
static int list_scan(gw *g, MDB_txn *txn, const list_q *q, json_t *arr, char *next)
{
    MDB_cursor *cur;
    int rc = gws_err(mdb_cursor_open(txn, g->store->cases, &cur));
    if (rc != HCP_OK)
        return rc;
    const char *from = q->after[0] ? q->after : q->county;
    MDB_val k = {strlen(from), (void *)from}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
    hcp_time now = (hcp_time)time(NULL);
    next[0] = '\0';
    while (rc == HCP_OK && mrc == MDB_SUCCESS && json_array_size(arr) < q->limit) {
        char id[HCP_CASE_ID_MAX];
        size_t len = k.mv_size < sizeof(id) - 1 ? k.mv_size : sizeof(id) - 1;
        memcpy(id, k.mv_data, len);
        id[len] = '\0';
        if (q->county[0] && strncmp(id, q->county, HCP_COUNTY_LEN) != 0)
            break;
        if (!(q->after[0] && is(id, q->after))) {
            hcp_case c;
            rc = hcp_stored_case_unpack(g->store->sealer, id, v.mv_data, v.mv_size, false, &c);
            if (rc == HCP_OK && (q->status == 0 || c.status == q->status) &&
                (!q->overdue || hcp_case_overdue(&c, now) != 0)) {
                if (json_array_append_new(arr, hcp_json_case(&c, NULL, 0, now, false)) != 0)
                    rc = HCP_ENOMEM;
                memcpy(next, id, len + 1);
            }
            hcp_case_clear(&c);
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (json_array_size(arr) < q->limit)
        next[0] = '\0';
    mdb_cursor_close(cur);
    return rc;
}

/* GET /v1/cases?county=&status=&overdue=true&limit=&after= (no personal data) */
static void list_cases(gw *g, hcpd_req *r)
{
    list_q q;
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor") || !parse_list(r, &q))
        return;
    MDB_txn *txn;
    json_t *arr = json_array();
    char next[HCP_CASE_ID_MAX];
    int rc = arr != NULL ? gws_read_begin(g->store, &txn) : HCP_ENOMEM;
    if (rc == HCP_OK) {
        rc = list_scan(g, txn, &q, arr, next);
        gws_read_end(g->store, txn);
    }
    if (rc != HCP_OK) {
        json_decref(arr);
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
        return;
    }
    hcpd_req_reply_json(
        r, 200,
        json_pack("{so,so}", "cases", arr, "next", next[0] ? json_string(next) : json_null()));
}

/* GET /v1/access-log: who read personal data here, for auditors. */
static void get_access_log(gw *g, hcpd_req *r)
{
    if (hcpd_acct_require(r, HCPD_ROLE_AUDITOR, "auditor"))
        hcpd_access_route(r, &g->store->db, g->acct.access);
}

/* Routes that scan LMDB at length (a case list can unpack every case of a
 * county to find a few that match; the access log, every entry) or commit
 * (a personal read's access-log entry waits for the writer's lock and an
 * fsync) run on the HTTP server's worker pool: on its one thread they would
 * hold every other connection, /healthz and the feed's cached pages
 * included (docs/http.md "Slow handlers"). */
static void list_cases_work(void *arg, hcpd_req *r)
{
    list_cases(arg, r);
}

static void get_access_log_work(void *arg, hcpd_req *r)
{
    get_access_log(arg, r);
}

/* The path's case id is borrowed from r, which lives until the reply. */
static void get_case_work(void *arg, hcpd_req *r)
{
    get_case(arg, r, hcpd_req_path(r) + 10);
}

/* GET /v1/stats/summary reads a range of tallies per county (checks.h). */
static void summary_work(void *arg, hcpd_req *r)
{
    gw_checks_summary_route(arg, r);
}

/* The province's figures (stats.h): ranges of counters, on the pool. */
static void stats_staff_work(void *arg, hcpd_req *r)
{
    gw_stats_staff_route(arg, r);
}

static void stats_units_work(void *arg, hcpd_req *r)
{
    gw_stats_units_route(arg, r);
}

static void stats_hotspots_work(void *arg, hcpd_req *r)
{
    gw_stats_hotspots_route(arg, r);
}

static void stats_feed_work(void *arg, hcpd_req *r)
{
    gw_stats_feed_route(arg, r);
}

/* Run fn(g, r) on the worker pool, or here if that is refused. */
static void offload(gw *g, hcpd_req *r, void (*fn)(void *, hcpd_req *))
{
    if (hcpd_req_offload(r, fn, g) != HCP_OK)
        fn(g, r);
}

static void not_allowed(hcpd_req *r)
{
    hcpd_req_reply_error(r, 405, "method_not_allowed", "this route does not take that method");
}

static void handle(void *arg, hcpd_req *r)
{
    gw *g = arg;
    const char *m = hcpd_req_method(r), *p = hcpd_req_path(r);
    bool get = is(m, "GET") || is(m, "HEAD");
    gw_metrics_http_request(p); /* metrics.h */
    if (is(p, "/healthz"))
        get ? hcpd_req_reply_json(r, 200,
                                  json_pack("{ss,ss}", "status", "ok", "version", hcpd_version()))
            : not_allowed(r);
    else if (gw_www_is_route(p)) /* public: the page's files, www.c */
        get ? gw_www_handle(r) : not_allowed(r);
    else if (is(p, "/v1/counties"))
        get ? get_counties(g, r) : not_allowed(r);
    else if (is(p, "/v1/cases"))
        get ? offload(g, r, list_cases_work) : not_allowed(r);
    else if (strncmp(p, "/v1/cases/", 10) == 0)
        get ? offload(g, r, get_case_work) : not_allowed(r);
    else if (is(p, "/v1/stats/summary"))
        get ? offload(g, r, summary_work) : not_allowed(r);
    else if (gw_report_is_route(p)) /* the monthly form, the register: report.c */
        offload(g, r, gw_report_route);
    else if (is(p, "/v1/stats/staff")) /* the province's figures: stats.c */
        get ? offload(g, r, stats_staff_work) : not_allowed(r);
    else if (is(p, "/v1/stats/units"))
        get ? offload(g, r, stats_units_work) : not_allowed(r);
    else if (is(p, "/v1/stats/hotspots"))
        get ? offload(g, r, stats_hotspots_work) : not_allowed(r);
    else if (is(p, "/feed/stats.json")) /* public figures, no personal data */
        get ? offload(g, r, stats_feed_work) : not_allowed(r);
    else if (is(p, "/v1/directives")) /* the province log: plog_api.c */
        offload(g, r, gw_plog_route);
    else if (is(p, "/metrics")) /* Prometheus: metrics.c */
        get ? offload(g, r, gw_metrics_route) : not_allowed(r);
    else if (gw_spot_is_route(p)) /* spot checks: spot.c */
        offload(g, r, gw_spot_route);
    else if (gw_spot_is_public(p)) /* public: the published draws, spot.c */
        get ? offload(g, r, gw_spot_feed) : not_allowed(r);
    else if (is(p, "/v1/access-log"))
        get ? offload(g, r, get_access_log_work) : not_allowed(r);
    else if (gw_feed_is_route(p)) /* public: feed.c */
        get ? gw_feed_handle(g, r) : not_allowed(r);
    else if (gw_tlog_is_route(p)) /* public: the transparency log, tlog.c */
        get ? gw_tlog_handle(g, r) : not_allowed(r);
    else
        hcpd_req_reply_error(r, 404, "not_found", "no such route");
}

static bool is_public(const char *method, const char *path)
{
    (void)method;
    return is(path, "/healthz") || is(path, "/") || is(path, "/index.html") ||
           is(path, "/feed/stats.json") || gw_feed_is_route(path) || gw_tlog_is_route(path) ||
           gw_spot_is_public(path);
}

/* Public: the routes above and every file of the page (www.c). */
static bool is_public_or_page(const char *method, const char *path)
{
    return gw_www_is_route(path) || is_public(method, path);
}

/* A bearer token other than admin.token: a named account (accounts.h). */
static bool authenticate(void *arg, const char *token, char *name, unsigned *roles)
{
    gw *g = arg;
    return hcpd_acct_check(&g->acct, token, name, roles);
}

int gw_http_start(gw *g)
{
    int rc = gw_feed_start(g); /* the feed's page cache, before any request */
    if (rc != HCP_OK)
        return rc;
    hcpd_http_cfg cfg = {.listen = g->cfg.listen_http,
                         .token = g->token,
                         .is_public = is_public_or_page,
                         .handle = handle,
                         .arg = g,
                         .authenticate = authenticate,
                         .loop = g->loop};
    rc = hcpd_http_start(&cfg, &g->http);
    if (rc != HCP_OK)
        gw_feed_stop(g);
    return rc;
}

void gw_http_stop(gw *g)
{
    hcpd_http_stop(g->http);
    g->http = NULL;
    gw_feed_stop(g); /* no request in flight any more */
}
