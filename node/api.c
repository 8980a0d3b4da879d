/*
 * api.c — hcp-node's HTTP routes. Requests arrive here
 * on the HTTP server's thread with the token already checked. Bodies are
 * parsed and validated here; writes and personal reads go to the writer
 * (writer.c) and are answered after their commit; the other reads are served
 * from a read-only LMDB transaction right here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "console.h"
#include "contacts.h"
#include "directive.h"
#include "api.h"
#include "json.h"
#include "query.h"
#include "rules.h"
#include "store.h"
#include "sync.h"
#include "writer.h"

static hcp_time now_sec(void)
{
    uv_timeval64_t tv;
    return uv_gettimeofday(&tv) == 0 ? (hcp_time)tv.tv_sec : 0;
}

/* Answer a JSON-layer error: {error, detail, field}. */
static void reply_json_err(node_req *r, const hcp_json_err *e)
{
    const char *error = e->status == 413   ? "body_too_large"
                        : e->status == 400 ? "invalid_json"
                                           : "invalid_field";
    json_t *j = hcp_json_error(error, e->detail);
    if (j != NULL && e->field[0] != '\0' &&
        json_object_set_new(j, "field", json_string(e->field)) != 0) {
        json_decref(j); /* out of memory: the reply says so (NULL is a 500) */
        j = NULL;
    }
    node_req_reply_json(r, e->status, j);
}

/* Who is asking, for the access log and the events: the account the
 * bearer token proved (never a name the caller supplies). */
static void who_of(const node_req *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s", hcpd_req_account(r));
}

/* Roles of the routes (docs/access.md). */
#define ROLES_WORK (HCPD_ROLE_CLERK | HCPD_ROLE_SUPERVISOR)
#define WORK_NAME  "clerk or supervisor"

/* Whether r's account may see personal data (and is logged doing so). */
static bool personal_of(const node_req *r)
{
    return (hcpd_req_roles(r) & HCPD_ROLE_SUPERVISOR) != 0;
}

/* Parse the body of r into a JSON object, or answer the error. */
static json_t *body_json(node_req *r)
{
    const char *body;
    size_t len;
    node_req_body(r, &body, &len);
    json_t *j = NULL;
    hcp_json_err e = {0};
    if (hcp_json_load(body, len, &j, &e) != HCP_OK) {
        reply_json_err(r, &e);
        return NULL;
    }
    return j;
}

/* POST /v1/evaluations and POST /v1/cases */
static void post_intake(node *n, node_req *r, bool is_case)
{
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME))
        return;
    json_t *j = body_json(r);
    if (j == NULL)
        return;
    node_write *w = node_write_new(is_case ? W_CASE : W_EVAL, r);
    if (w == NULL) {
        json_decref(j);
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    hcp_json_err e = {0};
    int rc = hcp_json_read_intake(j, is_case, &w->in, &w->at, &e);
    json_decref(j);
    if (rc != HCP_OK) {
        reply_json_err(r, &e);
        node_write_free(w);
        return;
    }
    who_of(r, w->who, sizeof(w->who));
    w->personal = personal_of(r);
    node_writer_submit(n, w);
}

/* Check a case id from the path: well formed and of this county. */
static bool case_id_ok(node *n, node_req *r, const char *id, size_t len)
{
    char county[HCP_COUNTY_LEN + 1], buf[HCP_CASE_ID_MAX];
    if (len == 0 || len >= sizeof(buf)) {
        node_req_reply_error(r, 404, "case_not_found", "no such case");
        return false;
    }
    memcpy(buf, id, len);
    buf[len] = '\0';
    if (hcp_case_id_parse(buf, county, NULL, NULL) != HCP_OK ||
        strcmp(county, n->cfg.county) != 0) {
        node_req_reply_error(r, 404, "case_not_found", "no such case at this county");
        return false;
    }
    return true;
}

/* POST /v1/cases/ID/events */
static void post_step(node *n, node_req *r, const char *id, size_t idlen)
{
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME) || !case_id_ok(n, r, id, idlen))
        return;
    json_t *j = body_json(r);
    if (j == NULL)
        return;
    node_write *w = node_write_new(W_STEP, r);
    if (w == NULL) {
        json_decref(j);
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    hcp_json_err e = {0};
    int rc = hcp_json_read_step(j, &w->step, &e);
    json_decref(j);
    if (rc != HCP_OK) {
        reply_json_err(r, &e);
        node_write_free(w);
        return;
    }
    bool supervisor_only = w->step.type == HCP_EV_DISPUTE_DECIDE ||
                           (w->step.type == HCP_EV_CLOSE && w->step.decision != NULL);
    if (supervisor_only && !hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor")) {
        node_write_free(w); /* a dispute is decided, a written close made, by a supervisor */
        return;
    }
    memcpy(w->id, id, idlen);
    who_of(r, w->who, sizeof(w->who));
    w->personal = personal_of(r);
    w->step.account = hcp_strndup(w->who, strlen(w->who));
    if (w->step.account == NULL) {
        node_write_free(w);
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    node_writer_submit(n, w);
}

/* GET /v1/cases/ID for an account without the supervisor role: the case
 * and its events without personal data, from a read transaction (nothing
 * personal is read, so nothing is logged). */
static void get_case_plain(node *n, node_req *r, const char *id)
{
    MDB_txn *txn;
    hcp_case c;
    hcp_event *evs = NULL;
    size_t nev = 0;
    memset(&c, 0, sizeof(c));
    int rc = store_read_begin(n->store, &txn);
    if (rc == HCP_OK) {
        rc = store_case_get(n->store, txn, id, false, &c);
        if (rc == HCP_OK)
            rc = store_case_events(n->store, txn, id, false, &evs, &nev);
        store_read_end(n->store, txn);
    }
    if (rc == HCP_ENOTFOUND)
        node_req_reply_error(r, 404, "case_not_found", id);
    else if (rc != HCP_OK)
        node_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
    else
        node_req_reply_json(r, 200, node_case_json(n, &c, evs, nev, now_sec(), false));
    store_events_free(evs, nev);
    hcp_case_clear(&c);
}

/* GET /v1/cases/ID */
static void get_case(node *n, node_req *r, const char *id, size_t idlen)
{
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME) || !case_id_ok(n, r, id, idlen))
        return;
    if (!personal_of(r)) {
        char buf[HCP_CASE_ID_MAX];
        memcpy(buf, id, idlen);
        buf[idlen] = '\0';
        get_case_plain(n, r, buf);
        return;
    }
    node_write *w = node_write_new(W_CASE_READ, r);
    if (w == NULL) {
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    memcpy(w->id, id, idlen);
    who_of(r, w->who, sizeof(w->who));
    w->personal = true; /* a supervisor: the read is access-logged */
    node_writer_submit(n, w);
}

/* Read query parameter key of request arg strictly (query.h's reader). */
static int req_query_get(void *arg, const char *key, char *buf, size_t len)
{
    return hcpd_req_query_get(arg, key, buf, len);
}

/* Answer a refused query string. */
static void reply_query_err(node_req *r, const node_query_err *e)
{
    node_req_reply_error(r, e->status, e->error, e->detail);
}

/* GET /v1/ledger?month=YYYY-MM */
static void get_ledger(node *n, node_req *r)
{
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME))
        return;
    static const char *const keys[] = {"month", NULL};
    if (!hcpd_req_params_ok(r, keys, 16))
        return;
    int y, m;
    node_query_err e;
    if (node_ledger_query_parse(req_query_get, r, &y, &m, &e) != HCP_OK) {
        reply_query_err(r, &e);
        return;
    }
    node_write *w = node_write_new(W_LEDGER, r);
    if (w == NULL) {
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    w->year = y;
    w->month = m;
    who_of(r, w->who, sizeof(w->who));
    w->personal = personal_of(r);
    node_writer_submit(n, w);
}

/* ---- reads from a read-only transaction ---- */

/* A page of the case list being built (list_add's argument). */
typedef struct list_page {
    const node_list_query *q;
    hcp_time now;
    json_t *arr;                /* the cases so far */
    char next[HCP_CASE_ID_MAX]; /* the last id listed: the next page's cursor */
} list_page;

/* store_cases_after's visitor: list c if it matches; stop at the limit. */
static int list_add(void *arg, const char *id, const hcp_case *c)
{
    list_page *pg = arg;
    if (pg->q->overdue && hcp_case_overdue(c, pg->now) == 0)
        return HCP_OK;
    json_t *cj = hcp_json_case(c, NULL, 0, pg->now, false);
    if (cj == NULL || json_array_append_new(pg->arr, cj) != 0)
        return HCP_ENOMEM;
    snprintf(pg->next, sizeof(pg->next), "%s", id);
    return json_array_size(pg->arr) < pg->q->limit ? HCP_OK : STORE_STOP;
}

/* Collect up to q->limit cases matching q into pg (a read transaction). */
static int list_scan(node *n, MDB_txn *txn, list_page *pg)
{
    int rc = store_cases_after(n->store, txn, (uint8_t)pg->q->status, pg->q->after, list_add, pg);
    if (rc == HCP_OK && json_array_size(pg->arr) < pg->q->limit)
        pg->next[0] = '\0'; /* the end was reached */
    return rc;
}

/* GET /v1/cases?status=&overdue=true&limit=&after= (no personal data) */
static void list_cases(node *n, node_req *r)
{
    static const char *const keys[] = {"overdue", NULL};
    node_query_err e;
    node_list_query q;
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME) || !hcpd_req_params_ok(r, keys, 64))
        return;
    if (node_list_query_parse(req_query_get, r, &q, &e) != HCP_OK) {
        reply_query_err(r, &e);
        return;
    }
    MDB_txn *txn;
    list_page pg = {.q = &q, .now = now_sec(), .arr = json_array()};
    int rc = pg.arr != NULL ? store_read_begin(n->store, &txn) : HCP_ENOMEM;
    if (rc == HCP_OK) {
        rc = list_scan(n, txn, &pg);
        store_read_end(n->store, txn);
    }
    if (rc != HCP_OK) {
        json_decref(pg.arr);
        node_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
        return;
    }
    json_t *j = json_pack("{so,so}", "cases", pg.arr, "next",
                          pg.next[0] ? json_string(pg.next) : json_null());
    node_req_reply_json(r, 200, j);
}

/* GET /v1/sync: the replication state (sync.c). */
static void get_sync(node *n, node_req *r)
{
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME))
        return;
    node_req_reply_json(r, 200, node_sync_json(n));
}

/* ---- metrics ---- */

/* The Prometheus text of GET /metrics (docs/operations.md, "Metrics"):
 * every family opens with HELP and TYPE; put() appends one formatted
 * piece and keeps the first error. */
typedef struct metrics_out {
    hcp_buf *out;
    int rc;
} metrics_out;

__attribute__((format(printf, 2, 3))) static void put(metrics_out *m, const char *fmt, ...)
{
    if (m->rc != HCP_OK)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    m->rc = len < 0 || (size_t)len >= sizeof(line) ? HCP_ERANGE
                                                   : hcp_buf_append(m->out, line, (size_t)len);
}

/* A family's HELP and TYPE lines. */
static void family(metrics_out *m, const char *name, const char *type, const char *help)
{
    put(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A one-sample family without labels. */
static void single(metrics_out *m, const char *name, const char *type, const char *help, uint64_t v)
{
    family(m, name, type, help);
    put(m, "%s %llu\n", name, (unsigned long long)v);
}

/* The counters and the overdue open cases, read in one transaction. */
typedef struct node_figures {
    uint64_t evals, backdated, by_status[HCP_ST_COUNT_];
    size_t overdue;
} node_figures;

static int metrics_read(node *n, node_figures *f)
{
    MDB_txn *txn;
    int rc = store_read_begin(n->store, &txn);
    if (rc != HCP_OK)
        return rc;
    rc = store_counter_get(n->store, txn, "eval", &f->evals);
    for (int st = HCP_ST_RECEIVED; rc == HCP_OK && st < HCP_ST_COUNT_; st++) {
        char key[16];
        snprintf(key, sizeof(key), "st:%d", st);
        rc = store_counter_get(n->store, txn, key, &f->by_status[st]);
    }
    hcp_time now = now_sec();
    char(*ids)[HCP_CASE_ID_MAX] = NULL;
    size_t count = 0;
    if (rc == HCP_OK)
        rc = store_open_case_ids(n->store, txn, &ids, &count);
    for (size_t i = 0; rc == HCP_OK && i < count; i++) {
        hcp_case c;
        rc = store_case_get(n->store, txn, ids[i], false, &c);
        f->overdue += rc == HCP_OK && hcp_case_overdue(&c, now) != 0;
        hcp_case_clear(&c);
    }
    if (rc == HCP_OK)
        rc = store_counter_get(n->store, txn, "backdated", &f->backdated);
    free(ids);
    store_read_end(n->store, txn);
    return rc;
}

static int metrics_text(node *n, hcp_buf *out)
{
    node_figures f;
    memset(&f, 0, sizeof(f));
    int rc = metrics_read(n, &f);
    uint64_t used = 0, size = 0;
    if (rc == HCP_OK)
        rc = store_map_usage(n->store, &used, &size);
    if (rc != HCP_OK)
        return rc;
    metrics_out m = {out, HCP_OK};
    single(&m, "hcp_node_evaluations_total", "counter", "Evaluations recorded.", f.evals);
    family(&m, "hcp_node_cases", "gauge", "Cases, by status.");
    for (int st = HCP_ST_RECEIVED; st < HCP_ST_COUNT_; st++)
        put(&m, "hcp_node_cases{status=\"%s\"} %llu\n", hcp_status_names[st],
            (unsigned long long)f.by_status[st]);
    single(&m, "hcp_node_overdue_cases", "gauge", "Open cases with a deadline already missed.",
           f.overdue);
    single(&m, "hcp_node_log_head", "gauge", "The last sequence number of the county's log.",
           atomic_load(&n->store->head_seq));
    family(&m, "hcp_node_backdated_steps_total", "counter",
           "Handling steps recorded more than the allowed working days after their date.");
    put(&m, "hcp_node_backdated_steps_total{county=\"%s\"} %llu\n", n->cfg.county,
        (unsigned long long)f.backdated);
    single(&m, "hcp_node_map_used_bytes", "gauge", "Bytes of the LMDB map in use.", used);
    single(&m, "hcp_node_map_size_bytes", "gauge",
           "Current size of the LMDB map (it grows on demand up to the maximum).", size);
    single(&m, "hcp_node_map_max_bytes", "gauge",
           "Ceiling of the LMDB map (--map-max-mib): the store is full at it.",
           (uint64_t)n->cfg.map_max_mib << 20);
    struct statvfs fs;
    if (statvfs(n->cfg.data, &fs) == 0) {
        single(&m, "hcp_node_data_filesystem_avail_bytes", "gauge",
               "Bytes available to the node on the filesystem of its data directory.",
               (uint64_t)fs.f_bavail * fs.f_frsize);
        single(&m, "hcp_node_data_filesystem_size_bytes", "gauge",
               "Size of the filesystem of the node's data directory.",
               (uint64_t)fs.f_blocks * fs.f_frsize);
    }
    const node_stats *s = node_writer_stats(n);
    single(&m, "hcp_node_commits_total", "counter", "LMDB write transactions committed.",
           s->commits);
    single(&m, "hcp_node_writes_total", "counter", "Writes committed (several per transaction).",
           s->batched);
    single(&m, "hcp_node_refused_total", "counter", "Writes the rules or the input refused.",
           s->refused);
    single(&m, "hcp_node_storage_full_total", "counter",
           "Writes refused because the store or the disk was full.", s->disk_full);
    return m.rc == HCP_OK ? node_sync_metrics(n, out) : m.rc;
}

static void get_metrics(node *n, node_req *r)
{
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME))
        return;
    hcp_buf out;
    hcp_buf_init(&out, 1 << 20);
    int rc = metrics_text(n, &out);
    if (rc == HCP_OK)
        node_req_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    else
        node_req_reply_error(r, 500, "metrics_failed", hcp_strerror(rc));
    hcp_buf_free(&out);
}

/* ---- routing ---- */

static bool is(const char *method, const char *want)
{
    return strcmp(method, want) == 0;
}

static void not_allowed(node_req *r)
{
    node_req_reply_error(r, 405, "method_not_allowed", "this route does not take that method");
}

/* /v1/cases/ID and /v1/cases/ID/events */
static void route_case(node *n, node_req *r, const char *m, const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t idlen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
    if (slash == NULL) {
        if (is(m, "GET"))
            get_case(n, r, rest, idlen);
        else
            not_allowed(r);
    } else if (strcmp(slash, "/events") == 0) {
        if (is(m, "POST"))
            post_step(n, r, rest, idlen);
        else
            not_allowed(r);
    } else
        node_req_reply_error(r, 404, "not_found", "no such route");
}

/* GET /v1/access-log: who read personal data, for auditors. */
static void get_access_log(node *n, node_req *r)
{
    if (hcpd_acct_require(r, HCPD_ROLE_AUDITOR, "auditor"))
        hcpd_access_route(r, &n->store->db, n->acct.access);
}

/* Routes that scan LMDB at length run on the HTTP server's worker pool: a
 * case list filtered by overdue=true can read every case to find a few,
 * /metrics reads every open case, the access log every entry; on the
 * server's one thread they would hold every other connection, /healthz
 * included (docs/http.md "Slow handlers"). A single case's read stays
 * here; writes and personal reads go to the writer anyway. */
static void list_cases_work(void *arg, node_req *r)
{
    list_cases(arg, r);
}

static void get_metrics_work(void *arg, node_req *r)
{
    get_metrics(arg, r);
}

static void get_access_log_work(void *arg, node_req *r)
{
    get_access_log(arg, r);
}

/* Run fn(n, r) on the worker pool, or here if that is refused. */
static void offload(node *n, node_req *r, void (*fn)(void *, node_req *))
{
    if (hcpd_req_offload(r, fn, n) != HCP_OK)
        fn(n, r);
}

/* GET /healthz: no token (liveness probes). */
static void get_healthz(node *n, node_req *r)
{
    node_req_reply_json(r, 200,
                        json_pack("{ss,ss,ss}", "status", "ok", "county", n->cfg.county, "version",
                                  hcpd_version()));
}

static bool is_public(const char *method, const char *path)
{
    return (strcmp(path, "/healthz") == 0 &&
            (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) ||
           node_console_is_public(method, path); /* the console's files: console.c */
}

static void handle(void *arg, node_req *r)
{
    node_api_handle(arg, r);
}

/* A bearer token other than api.token: a named account (accounts.h). */
static bool authenticate(void *arg, const char *token, char *name, unsigned *roles)
{
    node *n = arg;
    return hcpd_acct_check(&n->acct, token, name, roles);
}

int node_http_start(node *n)
{
    hcpd_http_cfg cfg = {.listen = n->cfg.listen_http,
                         .token = n->token,
                         .is_public = is_public,
                         .handle = handle,
                         .arg = n,
                         .authenticate = authenticate,
                         .loop = n->loop};
    return hcpd_http_start(&cfg, &n->http);
}

void node_http_stop(node *n)
{
    hcpd_http_stop(n->http);
    n->http = NULL;
}

void node_api_handle(node *n, node_req *r)
{
    const char *m = node_req_method(r), *p = node_req_path(r);
    if (strcmp(p, "/healthz") == 0)
        is(m, "GET") || is(m, "HEAD") ? get_healthz(n, r) : not_allowed(r);
    else if (strcmp(p, "/v1/evaluations") == 0)
        is(m, "POST") ? post_intake(n, r, false) : not_allowed(r);
    else if (strcmp(p, "/v1/cases") == 0) {
        if (is(m, "POST"))
            post_intake(n, r, true);
        else if (is(m, "GET"))
            offload(n, r, list_cases_work);
        else
            not_allowed(r);
    } else if (node_console_is_route(p)) /* the console: files, /v1/cases/ID/steps */
        node_console_route(n, r);
    else if (strncmp(p, "/v1/cases/", 10) == 0)
        route_case(n, r, m, p + 10);
    else if (strcmp(p, "/v1/ledger") == 0)
        is(m, "GET") ? get_ledger(n, r) : not_allowed(r);
    else if (strcmp(p, "/v1/access-log") == 0)
        is(m, "GET") ? offload(n, r, get_access_log_work) : not_allowed(r);
    else if (strcmp(p, "/v1/sync") == 0)
        is(m, "GET") ? get_sync(n, r) : not_allowed(r);
    else if (strcmp(p, "/v1/directives") == 0) /* directive.c */
        node_directive_route(n, r);
    else if (node_contacts_is_route(p)) /* Art. 14's register, the monthly form: contacts.c */
        node_contacts_route(n, r);
    else if (strcmp(p, "/metrics") == 0)
        is(m, "GET") ? offload(n, r, get_metrics_work) : not_allowed(r);
    else
        node_req_reply_error(r, 404, "not_found", "no such route");
}
