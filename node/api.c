/*
 * api.c — hcp-node's HTTP routes. Requests arrive here
 * on the HTTP server's thread with the token already checked. Bodies are
 * parsed and validated here; writes and personal reads go to the writer
 * (writer.c) and are answered after their commit; the other reads are served
 * from a read-only LMDB transaction right here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"
#include "rules.h"
#include "store.h"
#include "writer.h"

#define LIST_DEFAULT 50
#define LIST_MAX     500

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
    if (j != NULL && e->field[0] != '\0')
        json_object_set_new(j, "field", json_string(e->field));
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
    if (w->step.type == HCP_EV_DISPUTE_DECIDE &&
        !hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor")) {
        node_write_free(w); /* a dispute is decided by a supervisor */
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
        node_req_reply_json(r, 200, hcp_json_case(&c, evs, nev, now_sec(), false));
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

/* GET /v1/ledger?month=YYYY-MM */
static void get_ledger(node *n, node_req *r)
{
    char month[16];
    int y, m;
    char tail;
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME))
        return;
    static const char *const keys[] = {"month", NULL};
    if (!hcpd_req_params_ok(r, keys, sizeof(month)))
        return;
    if (!node_req_query(r, "month", month, sizeof(month)) ||
        sscanf(month, "%4d-%2d%c", &y, &m, &tail) != 2 || strlen(month) != 7 || y < 2000 ||
        y > 9999 || m < 1 || m > 12) {
        node_req_reply_error(r, 422, "invalid_field", "month: expected YYYY-MM");
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

typedef struct list_q {
    int status; /* 0: any */
    bool overdue;
    size_t limit;
    char after[HCP_CASE_ID_MAX];
} list_q;

static bool parse_list_q(node_req *r, list_q *q)
{
    static const char *const keys[] = {"overdue", NULL};
    char buf[64];
    memset(q, 0, sizeof(*q));
    q->limit = LIST_DEFAULT;
    if (!hcpd_req_params_ok(r, keys, sizeof(buf)))
        return false;
    /* status, limit and after are read strictly: a malformed value (bad
     * escape, control byte, invalid UTF-8, given twice, too long) is 400 */
    int st = hcpd_req_query_get(r, "status", buf, sizeof(buf));
    if (st == HCPD_Q_BAD) {
        node_req_reply_error(r, 400, "invalid_parameter", "status: malformed");
        return false;
    }
    if (st == HCPD_Q_OK && buf[0] != '\0') {
        q->status = HCP_LOOKUP(hcp_status_names, buf, strlen(buf));
        if (q->status == 0) {
            node_req_reply_error(r, 422, "invalid_field", "status: unknown status");
            return false;
        }
    }
    if (node_req_query(r, "overdue", buf, sizeof(buf))) {
        if (strcmp(buf, "true") != 0 && strcmp(buf, "false") != 0) {
            node_req_reply_error(r, 422, "invalid_field", "overdue: expected true or false");
            return false;
        }
        q->overdue = strcmp(buf, "true") == 0;
    }
    st = hcpd_req_query_get(r, "limit", buf, sizeof(buf));
    if (st == HCPD_Q_BAD) {
        node_req_reply_error(r, 400, "invalid_parameter", "limit: malformed");
        return false;
    }
    if (st == HCPD_Q_OK) {
        char *end;
        long v = strtol(buf, &end, 10);
        if (*end != '\0' || v < 1 || v > LIST_MAX) {
            node_req_reply_error(r, 422, "invalid_field", "limit: expected 1..500");
            return false;
        }
        q->limit = (size_t)v;
    }
    st = hcpd_req_query_get(r, "after", buf, sizeof(buf));
    if (st == HCPD_Q_BAD) {
        node_req_reply_error(r, 400, "invalid_parameter", "after: malformed");
        return false;
    }
    if (st == HCPD_Q_OK) {
        size_t n = strlen(buf);
        if (n >= sizeof(q->after)) {
            node_req_reply_error(r, 422, "invalid_field", "after: not a case id");
            return false;
        }
        memcpy(q->after, buf, n + 1);
    }
    return true;
}

/* Position cursor cur at the first key after q->after (within prefix). */
static int list_seek(MDB_cursor *cur, const list_q *q, MDB_val *k, MDB_val *v)
{
    uint8_t kb[HCP_CASE_ID_MAX + 1];
    size_t pre = q->status != 0 ? 1 : 0;
    size_t n = strlen(q->after);
    kb[0] = (uint8_t)q->status;
    memcpy(kb + pre, q->after, n);
    k->mv_size = pre + n;
    k->mv_data = kb;
    if (k->mv_size == 0)
        return mdb_cursor_get(cur, k, v, MDB_FIRST);
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS && n > 0 && k->mv_size == pre + n && memcmp(k->mv_data, kb, pre + n) == 0)
        rc = mdb_cursor_get(cur, k, v, MDB_NEXT); /* strictly after */
    return rc;
}

/* Collect up to q->limit cases matching q into arr; *next the last id. */
static int list_scan(node *n, MDB_txn *txn, const list_q *q, json_t *arr, char *next)
{
    MDB_cursor *cur;
    MDB_dbi dbi = q->status != 0 ? n->store->status_idx : n->store->cases;
    int rc = store_err(mdb_cursor_open(txn, dbi, &cur));
    if (rc != HCP_OK)
        return rc;
    hcp_time now = now_sec();
    MDB_val k, v;
    int mrc = list_seek(cur, q, &k, &v);
    size_t pre = q->status != 0 ? 1 : 0;
    while (mrc == MDB_SUCCESS && json_array_size(arr) < q->limit && rc == HCP_OK) {
        if (pre && ((const uint8_t *)k.mv_data)[0] != q->status)
            break;
        char id[HCP_CASE_ID_MAX];
        size_t idlen = k.mv_size - pre;
        if (idlen >= sizeof(id))
            break;
        memcpy(id, (const char *)k.mv_data + pre, idlen);
        id[idlen] = '\0';
        hcp_case c;
        rc = store_case_get(n->store, txn, id, false, &c);
        if (rc == HCP_OK && (!q->overdue || hcp_case_overdue(&c, now) != 0)) {
            json_t *cj = hcp_json_case(&c, NULL, 0, now, false);
            rc =
                cj != NULL ? json_array_append_new(arr, cj) == 0 ? HCP_OK : HCP_ENOMEM : HCP_ENOMEM;
            memcpy(next, id, idlen + 1);
        }
        hcp_case_clear(&c);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == HCP_OK && json_array_size(arr) < q->limit)
        next[0] = '\0'; /* the end was reached */
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = store_err(mrc);
    return rc;
}

/* GET /v1/cases?status=&overdue=true&limit=&after= (no personal data) */
static void list_cases(node *n, node_req *r)
{
    list_q q;
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME) || !parse_list_q(r, &q))
        return;
    MDB_txn *txn;
    json_t *arr = json_array();
    char next[HCP_CASE_ID_MAX] = "";
    int rc = arr != NULL ? store_read_begin(n->store, &txn) : HCP_ENOMEM;
    if (rc == HCP_OK) {
        rc = list_scan(n, txn, &q, arr, next);
        store_read_end(n->store, txn);
    }
    if (rc != HCP_OK) {
        json_decref(arr);
        node_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
        return;
    }
    json_t *j =
        json_pack("{so,so}", "cases", arr, "next", next[0] ? json_string(next) : json_null());
    node_req_reply_json(r, 200, j);
}

/* GET /v1/sync: the replication state (sync.c). */
static void get_sync(node *n, node_req *r)
{
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME))
        return;
    node_req_reply_json(r, 200, node_sync_json(n));
}

/* ---- shared with writer.c ---- */

/* Ids of every case that may still run a deadline (before feedback). */
int node_open_case_ids(node *n, MDB_txn *txn, char (**ids)[HCP_CASE_ID_MAX], size_t *count)
{
    static const uint8_t open_st[] = {HCP_ST_RECEIVED, HCP_ST_VERIFYING, HCP_ST_DISPUTED,
                                      HCP_ST_RECTIFYING, HCP_ST_FEEDBACK_PENDING};
    size_t cap = 0, k = 0;
    char(*arr)[HCP_CASE_ID_MAX] = NULL;
    MDB_cursor *cur;
    int rc = store_err(mdb_cursor_open(txn, n->store->status_idx, &cur));
    for (size_t i = 0; rc == HCP_OK && i < sizeof(open_st); i++) {
        MDB_val key = {1, (void *)&open_st[i]}, v;
        int mrc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
        while (mrc == MDB_SUCCESS && ((const uint8_t *)key.mv_data)[0] == open_st[i]) {
            if (k == cap) {
                cap = cap ? cap * 2 : 64;
                void *p = realloc(arr, cap * sizeof(*arr));
                if (p == NULL) {
                    rc = HCP_ENOMEM;
                    break;
                }
                arr = p;
            }
            size_t len =
                key.mv_size - 1 < HCP_CASE_ID_MAX - 1 ? key.mv_size - 1 : HCP_CASE_ID_MAX - 1;
            memcpy(arr[k], (const char *)key.mv_data + 1, len);
            arr[k++][len] = '\0';
            mrc = mdb_cursor_get(cur, &key, &v, MDB_NEXT);
        }
        if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
            rc = store_err(mrc);
    }
    if (rc == HCP_OK)
        mdb_cursor_close(cur);
    if (rc != HCP_OK) {
        free(arr);
        return rc;
    }
    *ids = arr;
    *count = k;
    return HCP_OK;
}

/* 结果运用: how the result is used (the monthly form's column), in Chinese. */
static const char *use_of_result(const hcp_case *c)
{
    if (!c->adopted)
        return "经复核为误评或恶意差评，不予采纳";
    if (c->outcome == HCP_OUT_SUBSTANTIATED)
        return "经核实属实，纳入绩效评价";
    if (c->outcome == HCP_OUT_UNSUBSTANTIATED)
        return "经核实不属实，不计入考核";
    return "核实中";
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* A masked copy of free text s of case c as JSON (null for NULL), the
 * form the case list shows (codec.h hcp_text_mask); NULL on failure. */
static json_t *masked_or_null(const char *s, const hcp_case *c)
{
    if (s == NULL)
        return json_null();
    char *m = hcp_text_mask(s, &c->in, &c->verifier);
    json_t *j = m != NULL ? json_string(m) : NULL;
    free(m);
    return j;
}

/* One ledger row: the monthly statistics form's columns (the regulation). Its
 * free text (content, rectification result) is masked as in the case list
 * (SPEC "Personal data typed into free text": ledgers for clerks); the
 * original comes only with GET /v1/cases/ID. */
static json_t *ledger_row(const hcp_case *c, size_t no)
{
    const hcp_person *p = &c->in.complainant;
    char at[HCP_TIME_STRLEN] = "";
    if (hcp_time_format(c->received_at, at, sizeof(at)) != HCP_OK)
        at[0] = '\0';
    return json_pack("{sI,ss,ss,ss,ss,s{so,so,so},so,s{so,so},s{so,so,so},so,s{so,so},ss,ss}", "no",
                     (json_int_t)no, "case_id", c->id, "kind", hcp_kind_names[c->in.kind],
                     "channel", hcp_channel_names[c->in.channel], "received_at", at, "complainant",
                     "name", str_or_null(p->name), "phone", str_or_null(p->phone), "organization",
                     str_or_null(p->organization), "content", masked_or_null(c->in.content, c),
                     "unit", "code", str_or_null(c->in.unit.code), "name",
                     str_or_null(c->in.unit.name), "staff", "id", str_or_null(c->in.staff.id),
                     "name", str_or_null(c->in.staff.name), "phone", str_or_null(c->in.staff.phone),
                     "rectification_result", masked_or_null(c->rectification_result, c), "verifier",
                     "name", str_or_null(c->verifier.name), "phone", str_or_null(c->verifier.phone),
                     "use_of_result", use_of_result(c), "status", hcp_status_names[c->status]);
}

/* The month's cases in id order (ids begin with county-yyyymm); personal:
 * with the personal data (the caller logs the read), else those fields null. */
int node_ledger_rows(node *n, MDB_txn *txn, int year, int month, bool personal, json_t *rows)
{
    char prefix[16];
    int plen = snprintf(prefix, sizeof(prefix), "%s-%04d%02d", n->cfg.county, year, month);
    MDB_cursor *cur;
    int rc = store_err(mdb_cursor_open(txn, n->store->cases, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k = {(size_t)plen, prefix}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == HCP_OK && mrc == MDB_SUCCESS && k.mv_size >= (size_t)plen &&
           memcmp(k.mv_data, prefix, (size_t)plen) == 0) {
        char id[HCP_CASE_ID_MAX];
        size_t len = k.mv_size < sizeof(id) - 1 ? k.mv_size : sizeof(id) - 1;
        memcpy(id, k.mv_data, len);
        id[len] = '\0';
        hcp_case c;
        rc = store_case_get(n->store, txn, id, personal, &c);
        if (rc == HCP_OK) {
            json_t *row = ledger_row(&c, json_array_size(rows) + 1);
            rc = row != NULL && json_array_append_new(rows, row) == 0 ? HCP_OK : HCP_ENOMEM;
        }
        hcp_case_clear(&c);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc;
}

/* ---- metrics ---- */

static int metrics_text(node *n, hcp_buf *out)
{
    MDB_txn *txn;
    int rc = store_read_begin(n->store, &txn);
    if (rc != HCP_OK)
        return rc;
    char line[512];
    uint64_t evals = 0, v;
    rc = store_counter_get(n->store, txn, "eval", &evals);
    int len = snprintf(line, sizeof(line),
                       "# TYPE hcp_node_evaluations_total counter\n"
                       "hcp_node_evaluations_total %llu\n# TYPE hcp_node_cases gauge\n",
                       (unsigned long long)evals);
    rc = rc == HCP_OK ? hcp_buf_append(out, line, (size_t)len) : rc;
    for (int st = HCP_ST_RECEIVED; rc == HCP_OK && st < HCP_ST_COUNT_; st++) {
        char key[16];
        snprintf(key, sizeof(key), "st:%d", st);
        rc = store_counter_get(n->store, txn, key, &v);
        len = snprintf(line, sizeof(line), "hcp_node_cases{status=\"%s\"} %llu\n",
                       hcp_status_names[st], (unsigned long long)v);
        if (rc == HCP_OK)
            rc = hcp_buf_append(out, line, (size_t)len);
    }
    size_t overdue = 0;
    hcp_time now = now_sec();
    char(*ids)[HCP_CASE_ID_MAX] = NULL;
    size_t count = 0;
    if (rc == HCP_OK)
        rc = node_open_case_ids(n, txn, &ids, &count);
    for (size_t i = 0; rc == HCP_OK && i < count; i++) {
        hcp_case c;
        rc = store_case_get(n->store, txn, ids[i], false, &c);
        overdue += rc == HCP_OK && hcp_case_overdue(&c, now) != 0;
        hcp_case_clear(&c);
    }
    free(ids);
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(n->store->db.env, &info);
    mdb_env_stat(n->store->db.env, &st);
    store_read_end(n->store, txn);
    const node_stats *s = node_writer_stats(n);
    len = snprintf(line, sizeof(line),
                   "# TYPE hcp_node_overdue_cases gauge\nhcp_node_overdue_cases %zu\n"
                   "# TYPE hcp_node_log_head gauge\nhcp_node_log_head %llu\n",
                   overdue, (unsigned long long)atomic_load(&n->store->head_seq));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, line, (size_t)len);
    len = snprintf(line, sizeof(line),
                   "# TYPE hcp_node_map_used_bytes gauge\nhcp_node_map_used_bytes %llu\n"
                   "# TYPE hcp_node_map_size_bytes gauge\nhcp_node_map_size_bytes %llu\n",
                   (unsigned long long)(info.me_last_pgno + 1) * st.ms_psize,
                   (unsigned long long)info.me_mapsize);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, line, (size_t)len);
    len = snprintf(line, sizeof(line),
                   "# TYPE hcp_node_commits_total counter\nhcp_node_commits_total %llu\n"
                   "# TYPE hcp_node_writes_total counter\nhcp_node_writes_total %llu\n"
                   "# TYPE hcp_node_refused_total counter\nhcp_node_refused_total %llu\n"
                   "# TYPE hcp_node_storage_full_total counter\nhcp_node_storage_full_total %llu\n",
                   (unsigned long long)s->commits, (unsigned long long)s->batched,
                   (unsigned long long)s->refused, (unsigned long long)s->disk_full);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, line, (size_t)len);
    return rc == HCP_OK ? node_sync_metrics(n, out) : rc;
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
    node_req_reply_json(r, 200, json_pack("{ss,ss}", "status", "ok", "county", n->cfg.county));
}

static bool is_public(const char *method, const char *path)
{
    return strcmp(path, "/healthz") == 0 &&
           (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
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
    } else if (strncmp(p, "/v1/cases/", 10) == 0)
        route_case(n, r, m, p + 10);
    else if (strcmp(p, "/v1/ledger") == 0)
        is(m, "GET") ? get_ledger(n, r) : not_allowed(r);
    else if (strcmp(p, "/v1/access-log") == 0)
        is(m, "GET") ? offload(n, r, get_access_log_work) : not_allowed(r);
    else if (strcmp(p, "/v1/sync") == 0)
        is(m, "GET") ? get_sync(n, r) : not_allowed(r);
    else if (strcmp(p, "/metrics") == 0)
        is(m, "GET") ? offload(n, r, get_metrics_work) : not_allowed(r);
    else
        node_req_reply_error(r, 404, "not_found", "no such route");
}
