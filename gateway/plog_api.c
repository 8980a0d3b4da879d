/*
 * plog_api.c — the province log's HTTP routes (docs/directives.md,
 * docs/api.md): POST /v1/directives appends an entry (supervisor; the
 * admin token), GET /v1/directives lists entries with each county's state.
 * Both run on the HTTP server's worker pool (api.c offloads them): the
 * append commits a write transaction of its own, as a personal read's
 * access-log entry does.
 */
#include "plog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "division.h"
#include "json.h"

#define LIST_DEFAULT 50
#define LIST_MAX     500

/* Append in a write transaction of this thread, holding the resize lock
 * shared as a reader does (the writer never grows the map under it);
 * LMDB's writer lock orders it with the loop's transactions. */
static int append_txn(gw *g, const char *target, const char *type, const hcp_buf *body,
                      uint64_t *seq)
{
    if (pthread_rwlock_rdlock(&g->store->db.resize) != 0) /* EAGAIN: too many readers */
        return HCP_EBUSY;
    MDB_txn *txn;
    int rc = gws_err(mdb_txn_begin(g->store->db.env, NULL, 0, &txn));
    if (rc == HCP_OK) {
        rc = gw_plog_append(g->store, txn, target, type, body->data, body->len, seq);
        if (rc == HCP_OK)
            rc = gws_err(mdb_txn_commit(txn));
        else
            mdb_txn_abort(txn);
    }
    (void)pthread_rwlock_unlock(&g->store->db.resize); /* held by this thread: cannot fail */
    return rc;
}

/* The target of a directive: `county` ("all" or a division), or for a
 * correction the case's county (which `county`, when given, must be).
 * NULL and the reply sent when it is not one. */
static bool target_of(hcpd_req *r, const json_t *j, const char *type, char *out, size_t len)
{
    const char *county = json_string_value(json_object_get(j, "county"));
    if (strcmp(type, "correction") == 0) {
        const char *id = json_string_value(json_object_get(j, "case"));
        char cc[HCP_COUNTY_LEN + 1];
        if (id == NULL || strlen(id) >= HCP_CASE_ID_MAX ||
            hcp_case_id_parse(id, cc, NULL, NULL) != HCP_OK) {
            hcpd_req_reply_error(r, 422, "invalid_field", "case: a case id is required");
            return false;
        }
        if (county != NULL && strcmp(county, cc) != 0) {
            hcpd_req_reply_error(r, 422, "invalid_field",
                                 "county: a correction goes to the case's own county");
            return false;
        }
        county = cc;
        snprintf(out, len, "%s", county);
        return true;
    }
    if (county == NULL || (strcmp(county, "all") != 0 && hcp_division_find(county) == NULL)) {
        hcpd_req_reply_error(r, 422, "invalid_field",
                             "county: \"all\" or the code of a county in the divisions in use");
        return false;
    }
    snprintf(out, len, "%s", county);
    return true;
}

/* POST /v1/directives {county, type, ...the type's fields} → 201 {seq}. */
static void post_directive(gw *g, hcpd_req *r)
{
    static const char *const skip[] = {"county", "type", NULL};
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor"))
        return;
    const char *raw;
    size_t len;
    hcpd_req_body(r, &raw, &len);
    json_t *j = NULL;
    hcp_json_err e = {0};
    if (hcp_json_load(raw, len, &j, &e) != HCP_OK) {
        hcpd_req_reply_error(r, e.status, e.status == 413 ? "body_too_large" : "invalid_json",
                             e.detail);
        return;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    char target[8];
    hcp_buf body;
    hcp_buf_init(&body, GW_PLOG_BODY_MAX);
    if (!repl_dir_type_ok(type)) {
        hcpd_req_reply_error(r, 422, "invalid_field", "type: [a-z_], 1 to 32 characters");
    } else if (target_of(r, j, type, target, sizeof(target))) {
        int rc = gw_plog_body_from_json(j, skip, &body);
        uint64_t seq = 0;
        if (rc == HCP_OK)
            rc = append_txn(g, target, type, &body, &seq);
        if (rc == HCP_OK) {
            gw_log("info", "plog.append", "seq=%llu target=%s type=%s account=%s",
                   (unsigned long long)seq, target, type, hcpd_req_account(r));
            hcpd_req_reply_json(
                r, 201,
                json_pack("{sI,ss,ss}", "seq", (json_int_t)seq, "target", target, "type", type));
        } else if (rc == HCP_ERULE)
            hcpd_req_reply_error(r, 404, "case_not_found", "the gateway holds no such case");
        else if (rc == HCP_EINVAL || rc == HCP_ERANGE)
            hcpd_req_reply_error(r, 422, "invalid_field",
                                 "the directive's fields are not valid for its type");
        else if (rc == HCP_EFULL || rc == HCP_ENOSPC)
            hcpd_req_reply_error(r, 503, "storage_full", "the province log cannot grow now");
        else if (rc == HCP_EBUSY)
            hcpd_req_reply_error(r, 503, "overloaded", "try again");
        else
            hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
    }
    hcp_buf_free(&body);
    json_decref(j);
}

/* GET /v1/directives?type=&county=&limit=&before= */
static void get_directives(gw *g, hcpd_req *r)
{
    static const char *const keys[] = {"type", "county", "limit", "before", NULL};
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor") ||
        !hcpd_req_params_ok(r, keys, 64))
        return;
    char type[64] = "", county[64] = "", buf[64];
    size_t limit = LIST_DEFAULT;
    uint64_t before = 0;
    if (hcpd_req_query(r, "type", type, sizeof(type)) && type[0] != '\0' &&
        !repl_dir_type_ok(type)) {
        hcpd_req_reply_error(r, 422, "invalid_field", "type: [a-z_], 1 to 32 characters");
        return;
    }
    if (hcpd_req_query(r, "county", county, sizeof(county)) && county[0] != '\0' &&
        !hcp_county_str_ok(county)) {
        hcpd_req_reply_error(r, 422, "invalid_field", "county: six digits");
        return;
    }
    if (hcpd_req_query(r, "limit", buf, sizeof(buf))) {
        char *end;
        long v = strtol(buf, &end, 10);
        if (*end != '\0' || v < 1 || v > LIST_MAX) {
            hcpd_req_reply_error(r, 422, "invalid_field", "limit: expected 1..500");
            return;
        }
        limit = (size_t)v;
    }
    if (hcpd_req_query(r, "before", buf, sizeof(buf))) {
        char *end;
        long long v = strtoll(buf, &end, 10);
        if (*end != '\0' || v < 1) {
            hcpd_req_reply_error(r, 422, "invalid_field", "before: a positive seq");
            return;
        }
        before = (uint64_t)v;
    }
    MDB_txn *txn;
    int rc = gws_read_begin(g->store, &txn);
    json_t *arr = NULL;
    if (rc == HCP_OK) {
        arr = gw_plog_list_json(g->store, txn, type, county, limit, before, &rc);
        gws_read_end(g->store, txn);
    }
    if (arr == NULL) {
        hcpd_req_reply_error(r, 500, "storage_error", hcp_strerror(rc));
        return;
    }
    hcpd_req_reply_json(r, 200, json_pack("{so}", "directives", arr));
}

/* The worker pool's entry (api.c offloads /v1/directives here). */
void gw_plog_route(void *arg, hcpd_req *r)
{
    gw *g = arg;
    const char *m = hcpd_req_method(r);
    if (strcmp(m, "POST") == 0)
        post_directive(g, r);
    else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        get_directives(g, r);
    else
        hcpd_req_reply_error(r, 405, "method_not_allowed", "this route does not take that method");
}
