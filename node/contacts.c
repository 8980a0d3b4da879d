/*
 * contacts.c — Art. 14's register at the node and the county's rows of the
 * monthly form (contacts.h, docs/reports.md).
 *
 * Writes (a contact, a later link) go through the writer as W_CONTACT and
 * are answered after their commit. Reads without personal data come from a
 * read transaction; a supervisor's read (callers' names and phones, the
 * original summaries, the form's contact columns) is made in a write
 * transaction that also appends the access-log entry, committed before the
 * answer (as the gateway's personal reads are).
 */
#include "contacts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "codec.h"
#include "division.h"
#include "json.h"
#include "monthly.h"
#include "rules.h"
#include "store.h"

#define ROLES_WORK  (HCPD_ROLE_CLERK | HCPD_ROLE_SUPERVISOR)
#define WORK_NAME   "clerk or supervisor"
#define IDX_KEY_LEN (6 + 8) /* "YYYYMM" | be64 seq */

/* The channels the register takes (docs/reports.md): 来电, the 12345
 * hotline, 来访, 来信 and 网信 (the portal, the app, WeChat). */
static const uint8_t register_channels[] = {HCP_CH_PHONE, HCP_CH_12345, HCP_CH_VISIT, HCP_CH_LETTER,
                                            HCP_CH_WEB,   HCP_CH_APP,   HCP_CH_WECHAT};

static bool channel_ok(int ch)
{
    for (size_t i = 0; i < sizeof(register_channels); i++)
        if (register_channels[i] == ch)
            return true;
    return false;
}

/* Seconds now (0 when the clock cannot be read). */
static hcp_time now_sec(void)
{
    uv_timeval64_t tv;
    return uv_gettimeofday(&tv) == 0 ? (hcp_time)tv.tv_sec : 0;
}

/* The index key of contact seq made at `at`: its month, then its position. */
static void idx_key(uint8_t k[IDX_KEY_LEN], hcp_time at, uint64_t seq)
{
    int y, m, d;
    hcp_day_to_ymd(hcp_day_of(at), &y, &m, &d);
    char ym[16];
    snprintf(ym, sizeof(ym), "%04d%02d", y % 10000, m);
    memcpy(k, ym, 6);
    hcp_be64_put(k + 6, seq);
}

/* Put (or replace) the index entry of contact seq at `at`: value = the
 * linked case id ("" none). */
static int idx_put(node *n, MDB_txn *txn, hcp_time at, uint64_t seq, const char *linked)
{
    uint8_t kb[IDX_KEY_LEN];
    idx_key(kb, at, seq);
    MDB_val k = {IDX_KEY_LEN, kb}, v = {strlen(linked), (void *)linked};
    return store_err(mdb_put(txn, n->store->contacts, &k, &v, 0));
}

/* The linked case of contact seq at `at` into linked (HCP_CASE_ID_MAX). */
static int idx_get(node *n, MDB_txn *txn, hcp_time at, uint64_t seq, char *linked)
{
    uint8_t kb[IDX_KEY_LEN];
    idx_key(kb, at, seq);
    MDB_val k = {IDX_KEY_LEN, kb}, v;
    int rc = store_err(mdb_get(txn, n->store->contacts, &k, &v));
    if (rc == HCP_OK) {
        size_t len = v.mv_size < HCP_CASE_ID_MAX - 1 ? v.mv_size : HCP_CASE_ID_MAX - 1;
        memcpy(linked, v.mv_data, len);
        linked[len] = '\0';
    }
    return rc;
}

/* ---- the writer's part ---- */

/* Set w's answer, replacing one from an earlier attempt of the batch. */
static void answer(node_write *w, int status, json_t *body)
{
    json_decref(w->reply);
    w->status = status;
    w->reply = body;
}

/* The contact a link names: a register entry (not itself a link) of this
 * log. *at receives its time. HCP_ENOTFOUND when there is none. */
static int link_target(node *n, MDB_txn *txn, uint64_t ref, hcp_time *at)
{
    hcp_event old;
    int rc = store_log_get(n->store, txn, ref, false, &old, NULL, NULL);
    if (rc == HCP_OK && (old.type != HCP_EV_CONTACT || old.contact_ref != 0))
        rc = HCP_ENOTFOUND;
    if (rc == HCP_OK)
        *at = old.at;
    hcp_event_clear(&old);
    return rc == HCP_EINVAL ? HCP_ENOTFOUND : rc;
}

int node_contacts_apply(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w)
{
    hcp_event *ev = &w->step;
    if (!n->store->has_contacts) {
        answer(w, 503, hcp_json_error("storage_error", "the register's database is missing"));
        return HCP_OK;
    }
    ev->at = w->at != 0 ? w->at : w->now;
    ev->recorded_at = w->now;
    if (ev->at > w->now + HCP_CLOCK_SKEW) {
        answer(w, 422, hcp_json_error("at_in_future", "field 'at' lies in the future"));
        return HCP_OK;
    }
    int rc = HCP_OK;
    if (ev->linked_case[0] != '\0') {
        hcp_case c;
        rc = store_case_get(n->store, txn, ev->linked_case, false, &c);
        hcp_case_clear(&c);
        if (rc == HCP_ENOTFOUND) {
            answer(w, 422, hcp_json_error("case_not_found", ev->linked_case));
            return HCP_OK;
        }
        if (rc != HCP_OK)
            return rc;
    }
    hcp_time ref_at = 0;
    if (ev->contact_ref != 0) { /* a later link: the contact exists and is not linked yet */
        char linked[HCP_CASE_ID_MAX];
        rc = link_target(n, txn, ev->contact_ref, &ref_at);
        if (rc == HCP_OK)
            rc = idx_get(n, txn, ref_at, ev->contact_ref, linked);
        if (rc == HCP_ENOTFOUND) {
            answer(w, 404, hcp_json_error("contact_not_found", "no such contact in the register"));
            return HCP_OK;
        }
        if (rc != HCP_OK)
            return rc;
        if (linked[0] != '\0') {
            answer(w, 409, hcp_json_error("already_linked", linked));
            return HCP_OK;
        }
    }
    rc = store_log_append(n->store, txn, ch, ev);
    uint64_t id = ev->contact_ref != 0 ? ev->contact_ref : ev->seq;
    if (rc == HCP_OK)
        rc = idx_put(n, txn, ev->contact_ref != 0 ? ref_at : ev->at, id, ev->linked_case);
    if (rc != HCP_OK)
        return rc;
    char at[HCP_TIME_STRLEN];
    if (hcp_time_format(ev->at, at, sizeof(at)) != HCP_OK)
        at[0] = '\0';
    answer(w, ev->contact_ref != 0 ? 200 : 201,
           json_pack("{sI,ss,sI,ss,so}", "contact", (json_int_t)id, "county", n->cfg.county, "seq",
                     (json_int_t)ev->seq, "at", at, "case",
                     ev->linked_case[0] ? json_string(ev->linked_case) : json_null()));
    return HCP_OK;
}

int node_contacts_derive(node *n, MDB_txn *txn, const hcp_event *ev)
{
    if (!n->store->has_contacts || ev->type != HCP_EV_CONTACT)
        return HCP_OK;
    if (ev->contact_ref == 0)
        return idx_put(n, txn, ev->at, ev->seq, ev->linked_case);
    hcp_time ref_at;
    int rc = link_target(n, txn, ev->contact_ref, &ref_at);
    if (rc == HCP_ENOTFOUND) { /* the county's word: kept in the log, not indexed */
        node_log("warn", "contacts.link_unknown", "seq=%llu ref=%llu", (unsigned long long)ev->seq,
                 (unsigned long long)ev->contact_ref);
        return HCP_OK;
    }
    return rc == HCP_OK ? idx_put(n, txn, ref_at, ev->contact_ref, ev->linked_case) : rc;
}

/* ---- the HTTP side ---- */

/* Answer a refused field: 422 {error, detail, field}. */
static void reply_field(node_req *r, const char *field, const char *detail)
{
    json_t *j = hcp_json_error("invalid_field", detail);
    if (j != NULL && json_object_set_new(j, "field", json_string(field)) != 0) {
        json_decref(j);
        j = NULL;
    }
    node_req_reply_json(r, 422, j);
}

/* The body of r as a JSON object, or the error answered (NULL). */
static json_t *body_object(node_req *r)
{
    const char *body;
    size_t len;
    node_req_body(r, &body, &len);
    json_t *j = NULL;
    hcp_json_err e = {0};
    if (hcp_json_load(body, len, &j, &e) != HCP_OK) {
        json_t *err = hcp_json_error(e.status == 413 ? "body_too_large" : "invalid_json", e.detail);
        node_req_reply_json(r, e.status, err);
        return NULL;
    }
    return j;
}

/* Optional string field key of j (NULL or absent: *out stays NULL), at most
 * max bytes, without NUL; non-empty when nonempty. Copied into *out. False
 * when refused (answered). */
static bool str_field(node_req *r, json_t *j, const char *key, size_t max, bool nonempty,
                      char **out)
{
    json_t *v = json_object_get(j, key);
    if (v == NULL || json_is_null(v))
        return true;
    size_t len = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || len > max || strlen(json_string_value(v)) != len ||
        (nonempty && len == 0)) {
        reply_field(r, key,
                    nonempty ? "expected a non-empty string within its length"
                             : "expected a string within its length");
        return false;
    }
    *out = hcp_strndup(json_string_value(v), len);
    if (*out == NULL) {
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return false;
    }
    return true;
}

/* Only the keys of allowed (NULL-terminated) in object j; else answered. */
static bool keys_ok(node_req *r, json_t *j, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        (void)v;
        bool known = false;
        for (const char *const *a = allowed; *a != NULL && !known; a++)
            known = strcmp(*a, key) == 0;
        if (!known) {
            reply_field(r, key, "unknown field");
            return false;
        }
    }
    return true;
}

/* A case id field of this county into id (HCP_CASE_ID_MAX); "" when absent. */
static bool case_field(node *n, node_req *r, json_t *j, bool required, char *id)
{
    json_t *v = json_object_get(j, "case");
    char county[HCP_COUNTY_LEN + 1];
    id[0] = '\0';
    if ((v == NULL || json_is_null(v)) && !required)
        return true;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s == NULL || strlen(s) >= HCP_CASE_ID_MAX ||
        hcp_case_id_parse(s, county, NULL, NULL) != HCP_OK || strcmp(county, n->cfg.county) != 0) {
        reply_field(r, "case", "expected a case id of this county");
        return false;
    }
    snprintf(id, HCP_CASE_ID_MAX, "%s", s);
    return true;
}

/* Fill a new W_CONTACT item for r and queue it (ownership passes). */
static void submit(node *n, node_req *r, node_write *w)
{
    snprintf(w->who, sizeof(w->who), "%s", hcpd_req_account(r));
    w->step.type = HCP_EV_CONTACT;
    w->step.account = w->who[0] != '\0' ? hcp_strndup(w->who, strlen(w->who)) : NULL;
    if (w->who[0] != '\0' && w->step.account == NULL) {
        node_write_free(w);
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    node_writer_submit(n, w);
}

/* POST /v1/contacts {channel, at?, summary, case?, name?, phone?} */
static void post_contact(node *n, node_req *r)
{
    static const char *const keys[] = {"channel", "at", "summary", "case", "name", "phone", NULL};
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME))
        return;
    json_t *j = body_object(r);
    if (j == NULL)
        return;
    node_write *w = node_write_new(W_CONTACT, r);
    if (w == NULL) {
        json_decref(j);
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    hcp_event *ev = &w->step;
    bool ok = json_is_object(j) && keys_ok(r, j, keys);
    if (!json_is_object(j))
        node_req_reply_error(r, 400, "invalid_json", "expected an object");
    const char *ch = ok ? json_string_value(json_object_get(j, "channel")) : NULL;
    int chv = ch != NULL ? HCP_LOOKUP(hcp_channel_names, ch, strlen(ch)) : 0;
    if (ok && !channel_ok(chv)) {
        reply_field(r, "channel", "expected phone, 12345, visit, letter, web, app or wechat");
        ok = false;
    }
    ev->contact_channel = (uint8_t)chv;
    ok = ok && str_field(r, j, "summary", HCP_TEXT_MAX, true, &ev->summary);
    if (ok && ev->summary == NULL) {
        reply_field(r, "summary", "required: what was asked or said");
        ok = false;
    }
    ok = ok && str_field(r, j, "name", HCP_SHORT_MAX, true, &ev->caller_name) &&
         str_field(r, j, "phone", HCP_SHORT_MAX, true, &ev->caller_phone) &&
         case_field(n, r, j, false, ev->linked_case);
    json_t *at = ok ? json_object_get(j, "at") : NULL;
    if (ok && at != NULL && !json_is_null(at) &&
        (!json_is_string(at) ||
         hcp_time_parse(json_string_value(at), json_string_length(at), &w->at) != HCP_OK ||
         w->at <= 0)) {
        reply_field(r, "at", "expected a time like 2026-11-27T10:03:00+08:00");
        ok = false;
    }
    json_decref(j);
    if (!ok) {
        node_write_free(w);
        return;
    }
    submit(n, r, w);
}

/* POST /v1/contacts/N/link {case}: the contact N became that case. */
static void post_link(node *n, node_req *r, const char *num, size_t len)
{
    static const char *const keys[] = {"case", NULL};
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME))
        return;
    uint64_t ref = 0;
    bool num_ok = len > 0 && len <= 19;
    for (size_t i = 0; num_ok && i < len; i++) {
        num_ok = num[i] >= '0' && num[i] <= '9';
        ref = ref * 10 + (uint64_t)(num[i] - '0');
    }
    if (!num_ok || ref == 0) {
        node_req_reply_error(r, 404, "contact_not_found", "no such contact in the register");
        return;
    }
    json_t *j = body_object(r);
    if (j == NULL)
        return;
    node_write *w = node_write_new(W_CONTACT, r);
    if (w == NULL) {
        json_decref(j);
        node_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    bool ok =
        json_is_object(j) && keys_ok(r, j, keys) && case_field(n, r, j, true, w->step.linked_case);
    if (!json_is_object(j))
        node_req_reply_error(r, 400, "invalid_json", "expected an object");
    json_decref(j);
    if (!ok) {
        node_write_free(w);
        return;
    }
    w->step.contact_ref = ref;
    submit(n, r, w);
}

/* ---- reads ---- */

/* What a read does in its transaction: fill arg; personal: with personal
 * data. *logged is set when personal data was actually read (and so the
 * access log gets the entry). */
typedef int (*read_fn)(node *n, MDB_txn *txn, bool personal, void *arg, bool *logged);

/*
 * Run fn in a read transaction, or, for a personal read, in a write
 * transaction of this (worker) thread that also appends the access-log
 * entry `what` for r's account and commits before returning: nobody sees
 * personal data that the log does not show. The resize lock is held shared
 * as by a reader, so the writer never grows the map under it.
 */
static int read_with(node *n, node_req *r, bool personal, const char *what, read_fn fn, void *arg)
{
    MDB_txn *txn;
    bool logged = false;
    if (!personal) {
        int rc = store_read_begin(n->store, &txn);
        if (rc != HCP_OK)
            return rc;
        rc = fn(n, txn, false, arg, &logged);
        store_read_end(n->store, txn);
        return rc;
    }
    if (pthread_rwlock_rdlock(&n->store->db.resize) != 0) /* EAGAIN: too many readers */
        return HCP_EBUSY;
    int rc = store_err(mdb_txn_begin(n->store->db.env, NULL, 0, &txn));
    if (rc == HCP_OK) {
        rc = fn(n, txn, true, arg, &logged);
        if (rc == HCP_OK && logged)
            rc = store_access_log(n->store, txn, now_sec(), hcpd_req_account(r), what, NULL);
        if (rc == HCP_OK)
            rc = store_err(mdb_txn_commit(txn));
        else
            mdb_txn_abort(txn);
        if (rc == HCP_OK) /* durability point of the log entry (the writer's NOMETASYNC) */
            rc = store_sync(n->store);
    }
    (void)pthread_rwlock_unlock(&n->store->db.resize); /* held by this thread: cannot fail */
    return rc;
}

/* Answer a failed read. */
static void reply_read_err(node_req *r, int rc)
{
    if (rc == HCP_EFULL || rc == HCP_ENOSPC)
        node_req_reply_error(r, 503, "storage_full", "the access log cannot be written now");
    else if (rc == HCP_EBUSY || rc == HCP_ENOMEM)
        node_req_reply_error(r, 503, "overloaded", "try again");
    else
        node_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
}

/* Strict query reading: month (required) and the keys given. */
static bool month_param(node_req *r, int *y, int *m)
{
    char buf[16];
    if (hcpd_req_query_get(r, "month", buf, sizeof(buf)) != HCPD_Q_OK ||
        !hcpd_monthly_month_parse(buf, y, m)) {
        node_req_reply_error(r, 400, "invalid_query", "month: expected YYYY-MM");
        return false;
    }
    return true;
}

/* The register's month being listed (list_contacts' argument). */
typedef struct clist {
    int year, month;
    json_t *arr;
    uint64_t by_channel[HCP_CH_COUNT_];
    uint64_t linked;
} clist;

/* One register entry as JSON: without the caller unless personal. */
static json_t *entry_json(const hcp_event *ev, const char *linked, bool personal)
{
    json_t *j =
        json_pack("{sI,so,so,ss,so,so,so}", "contact", (json_int_t)ev->seq, "at",
                  hcp_json_time(ev->at), "recorded_at", hcp_json_time(ev->recorded_at), "channel",
                  ev->contact_channel < HCP_CH_COUNT_ && ev->contact_channel > 0
                      ? hcp_channel_names[ev->contact_channel]
                      : "unknown",
                  "summary", ev->summary != NULL ? json_string(ev->summary) : json_null(), "case",
                  linked[0] ? json_string(linked) : json_null(), "account",
                  ev->account != NULL ? json_string(ev->account) : json_null());
    if (j != NULL && personal &&
        json_object_set_new(
            j, "caller",
            json_pack("{so,so}", "name",
                      ev->caller_name ? json_string(ev->caller_name) : json_null(), "phone",
                      ev->caller_phone ? json_string(ev->caller_phone) : json_null())) != 0) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* read_fn: the register entries of the month, in log order. */
static int list_contacts(node *n, MDB_txn *txn, bool personal, void *arg, bool *logged)
{
    clist *cl = arg;
    if (!n->store->has_contacts)
        return HCP_OK; /* a read-only open of an older store: nothing registered */
    char ym[16];
    snprintf(ym, sizeof(ym), "%04d%02d", cl->year, cl->month);
    MDB_cursor *cur;
    int rc = store_err(mdb_cursor_open(txn, n->store->contacts, &cur));
    if (rc != HCP_OK)
        return rc;
    MDB_val k = {6, ym}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == HCP_OK && mrc == MDB_SUCCESS && k.mv_size == IDX_KEY_LEN &&
           memcmp(k.mv_data, ym, 6) == 0) {
        uint64_t seq = hcp_be64_get((const uint8_t *)k.mv_data + 6);
        char linked[HCP_CASE_ID_MAX];
        size_t len = v.mv_size < sizeof(linked) - 1 ? v.mv_size : sizeof(linked) - 1;
        memcpy(linked, v.mv_data, len);
        linked[len] = '\0';
        hcp_event ev;
        rc = store_log_get(n->store, txn, seq, personal, &ev, NULL, NULL);
        if (rc == HCP_OK) {
            json_t *e = entry_json(&ev, linked, personal);
            if (e == NULL || json_array_append_new(cl->arr, e) != 0)
                rc = HCP_ENOMEM;
            if (ev.contact_channel < HCP_CH_COUNT_)
                cl->by_channel[ev.contact_channel]++;
            cl->linked += linked[0] != '\0';
            *logged = *logged || personal;
        }
        hcp_event_clear(&ev);
        if (rc == HCP_OK)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == HCP_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = store_err(mrc);
    return rc;
}

/* GET /v1/contacts?month=YYYY-MM */
static void get_contacts(node *n, node_req *r)
{
    static const char *const keys[] = {"month", NULL};
    int y, m;
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME) || !hcpd_req_params_ok(r, keys, 16) ||
        !month_param(r, &y, &m))
        return;
    bool personal = (hcpd_req_roles(r) & HCPD_ROLE_SUPERVISOR) != 0;
    clist cl = {.year = y, .month = m, .arr = json_array()};
    char what[32];
    snprintf(what, sizeof(what), "contacts:%04d-%02d", y, m);
    int rc = cl.arr != NULL ? read_with(n, r, personal, what, list_contacts, &cl) : HCP_ENOMEM;
    json_t *by = rc == HCP_OK ? json_object() : NULL;
    for (int c = 1; by != NULL && c < HCP_CH_COUNT_; c++)
        if (channel_ok(c) && json_object_set_new(by, hcp_channel_names[c],
                                                 json_integer((json_int_t)cl.by_channel[c])) != 0)
            rc = HCP_ENOMEM;
    if (rc == HCP_OK && by == NULL)
        rc = HCP_ENOMEM;
    if (rc != HCP_OK) {
        json_decref(cl.arr);
        json_decref(by);
        reply_read_err(r, rc);
        return;
    }
    char mon[8];
    snprintf(mon, sizeof(mon), "%04d-%02d", y, m);
    node_req_reply_json(r, 200,
                        json_pack("{ss,ss,sI,sI,so,sb,so}", "county", n->cfg.county, "month", mon,
                                  "total", (json_int_t)json_array_size(cl.arr), "linked",
                                  (json_int_t)cl.linked, "by_channel", by, "personal", personal,
                                  "contacts", cl.arr));
}

/* store_cases_of_month's visitor: the case's row of the form. */
static int form_add(void *arg, const char *id, const hcp_case *c)
{
    (void)id;
    return hcpd_monthly_add(arg, c);
}

/* read_fn: the county's cases received in the month, as rows. */
static int fill_form(node *n, MDB_txn *txn, bool personal, void *arg, bool *logged)
{
    hcpd_monthly *m = arg;
    int rc = store_cases_of_month(n->store, txn, m->year, m->month, personal, form_add, m);
    *logged = personal && m->n > 0;
    return rc;
}

/* GET /v1/reports/monthly?month=&format=&phone= : the county's own rows */
static void get_monthly(node *n, node_req *r)
{
    static const char *const keys[] = {"month", "format", "phone", NULL};
    char fmt[16] = "", phone[64] = "";
    int y, m;
    hcpd_mformat f;
    if (!hcpd_acct_require(r, ROLES_WORK, WORK_NAME) || !hcpd_req_params_ok(r, keys, 64) ||
        !month_param(r, &y, &m))
        return;
    if (hcpd_req_query_get(r, "format", fmt, sizeof(fmt)) == HCPD_Q_BAD ||
        !hcpd_monthly_format_parse(fmt, &f)) {
        node_req_reply_error(r, 400, "invalid_query", "format: expected json, csv or xlsx");
        return;
    }
    if (hcpd_req_query_get(r, "phone", phone, sizeof(phone)) == HCPD_Q_BAD ||
        !hcpd_monthly_phone_ok(phone)) {
        node_req_reply_error(r, 400, "invalid_query", "phone: digits, spaces, + - ( ) only");
        return;
    }
    bool personal = (hcpd_req_roles(r) & HCPD_ROLE_SUPERVISOR) != 0;
    const hcp_division *d = hcp_division_find(n->cfg.county);
    hcpd_monthly form;
    int rc = hcpd_monthly_init(&form, y, m, n->cfg.county, d != NULL ? d->name : n->cfg.county,
                               now_sec(), hcpd_req_account(r), phone, personal);
    char what[32], stem[64];
    snprintf(what, sizeof(what), "monthly:%04d-%02d", y, m);
    snprintf(stem, sizeof(stem), "hcp-monthly-%s-%04d-%02d", n->cfg.county, y, m);
    if (rc == HCP_OK)
        rc = read_with(n, r, personal, what, fill_form, &form);
    if (rc != HCP_OK)
        reply_read_err(r, rc);
    else
        hcpd_monthly_reply(r, &form, f, stem);
    hcpd_monthly_free(&form);
}

/* The reads scan and may commit: on the worker pool (docs/http.md). */
static void get_contacts_work(void *arg, node_req *r)
{
    get_contacts(arg, r);
}

static void get_monthly_work(void *arg, node_req *r)
{
    get_monthly(arg, r);
}

bool node_contacts_is_route(const char *path)
{
    return strcmp(path, "/v1/contacts") == 0 || strncmp(path, "/v1/contacts/", 13) == 0 ||
           strcmp(path, "/v1/reports/monthly") == 0;
}

/* Run fn on the worker pool, or here if that is refused. */
static void offload(node *n, node_req *r, void (*fn)(void *, node_req *))
{
    if (hcpd_req_offload(r, fn, n) != HCP_OK)
        fn(n, r);
}

static void not_allowed(node_req *r)
{
    node_req_reply_error(r, 405, "method_not_allowed", "this route does not take that method");
}

void node_contacts_route(node *n, node_req *r)
{
    const char *m = node_req_method(r), *p = node_req_path(r);
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
    if (strcmp(p, "/v1/reports/monthly") == 0)
        get ? offload(n, r, get_monthly_work) : not_allowed(r);
    else if (strcmp(p, "/v1/contacts") == 0) {
        if (post)
            post_contact(n, r);
        else if (get)
            offload(n, r, get_contacts_work);
        else
            not_allowed(r);
    } else {
        const char *rest = p + 13, *slash = strchr(rest, '/');
        if (slash == NULL || strcmp(slash, "/link") != 0)
            node_req_reply_error(r, 404, "not_found", "no such route");
        else
            post ? post_link(n, r, rest, (size_t)(slash - rest)) : not_allowed(r);
    }
}
