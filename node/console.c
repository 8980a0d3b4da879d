/*
 * console.c — what the node console needs beyond the API (console.h,
 * docs/consoles.md): its embedded files, and GET /v1/cases/ID/steps, which
 * tells the console which step buttons to show. Each handling step is
 * tried on a copy of the case with the rules themselves (core/rules.c,
 * the same call the writer makes), with placeholder values for its fields,
 * so the console never guesses what the regulation allows: a step the rules
 * refuse comes back with the rule's name and detail, which the console shows
 * in Chinese with its article. It runs on the writer's thread (W_CONSOLE),
 * where the calendar in force is read and replaced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "console.h"
#include "json.h"
#include "redact.h"
#include "rules.h"
#include "store.h"

#define STEPS_PREFIX    "/v1/cases/"
#define STEPS_SUFFIX    "/steps"
#define PERSONAL_SUFFIX "/personal"
#define REASON_MAX      512 /* bytes of a personal-data request's reason */
#define SCAN_DAYS_MAX   800 /* days counted for "working days left" at most */

/* A console file: GET or HEAD of a name in node/www ("/" is index.html). */
bool node_console_is_public(const char *method, const char *path)
{
    return (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
           hcpd_www_find(node_www_files, node_www_nfiles, path) != NULL;
}

/* The id part of /v1/cases/ID/SUFFIX into id, or false for another path. */
static bool case_path(const char *path, const char *suffix, char id[HCP_CASE_ID_MAX])
{
    size_t pl = strlen(STEPS_PREFIX), sl = strlen(suffix), n = strlen(path);
    if (n <= pl + sl || strncmp(path, STEPS_PREFIX, pl) != 0 || strcmp(path + n - sl, suffix) != 0)
        return false;
    size_t idlen = n - pl - sl;
    if (idlen >= HCP_CASE_ID_MAX || memchr(path + pl, '/', idlen) != NULL)
        return false;
    memcpy(id, path + pl, idlen);
    id[idlen] = '\0';
    return true;
}

bool node_console_is_route(const char *path)
{
    char id[HCP_CASE_ID_MAX];
    return hcpd_www_find(node_www_files, node_www_nfiles, path) != NULL ||
           case_path(path, STEPS_SUFFIX, id) || case_path(path, PERSONAL_SUFFIX, id);
}

/* GET /v1/cases/ID/personal?reason=: a supervisor asks for the case's
 * personal data, giving a reason; answered by the node's own logged read
 * (W_CASE_READ: the access log has the entry before the reply). Anyone
 * else is refused 403, a missing or malformed reason 422. */
static void personal_route(node *n, node_req *r, const char *id)
{
    if (!hcpd_acct_require(r, HCPD_ROLE_SUPERVISOR, "supervisor"))
        return;
    static const char *const keys[] = {"reason", NULL};
    if (!hcpd_req_params_ok(r, keys, REASON_MAX))
        return;
    char reason[REASON_MAX];
    if (hcpd_req_query_get(r, "reason", reason, sizeof(reason)) != HCPD_Q_OK ||
        reason[strspn(reason, " \t")] == '\0') {
        hcpd_req_reply_error(r, 422, "invalid_field",
                             "reason: say why the personal data is needed");
        return;
    }
    if (strlen(reason) >= HCPD_ACCESS_WHY_MAX) {
        hcpd_req_reply_error(r, 422, "invalid_field", "reason: at most 303 bytes");
        return;
    }
    node_write *w = node_write_new(W_CASE_READ, r);
    if (w == NULL) {
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    /* the reason goes to the access log, which auditors read: masked first */
    if (hcp_redact(reason, w->why, sizeof(w->why)) != HCP_OK) {
        node_write_free(w);
        hcpd_req_reply_error(r, 422, "invalid_field", "reason: not valid text");
        return;
    }
    memcpy(w->id, id, sizeof(w->id));
    snprintf(w->who, sizeof(w->who), "%s", hcpd_req_account(r));
    w->personal = true;
    node_writer_submit(n, w);
}

void node_console_route(node *n, node_req *r)
{
    const char *m = hcpd_req_method(r), *p = hcpd_req_path(r);
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    char id[HCP_CASE_ID_MAX], county[HCP_COUNTY_LEN + 1];
    bool personal = case_path(p, PERSONAL_SUFFIX, id);
    if (!personal && !case_path(p, STEPS_SUFFIX, id)) {
        if (get)
            hcpd_www_reply(r, hcpd_www_find(node_www_files, node_www_nfiles, p));
        else
            hcpd_req_reply_error(r, 405, "method_not_allowed", "this route answers GET and HEAD");
        return;
    }
    if (strcmp(m, "GET") != 0) {
        hcpd_req_reply_error(r, 405, "method_not_allowed", "this route answers GET");
        return;
    }
    if (!hcpd_acct_require(r, HCPD_ROLE_CLERK | HCPD_ROLE_SUPERVISOR, "clerk or supervisor"))
        return;
    if (hcp_case_id_parse(id, county, NULL, NULL) != HCP_OK || strcmp(county, n->cfg.county) != 0) {
        hcpd_req_reply_error(r, 404, "case_not_found", "no such case at this county");
        return;
    }
    if (personal) {
        personal_route(n, r, id);
        return;
    }
    node_write *w = node_write_new(W_CONSOLE, r);
    if (w == NULL) {
        hcpd_req_reply_error(r, 503, "out_of_memory", "try again");
        return;
    }
    memcpy(w->id, id, sizeof(w->id));
    node_writer_submit(n, w);
}

/* Set w's answer, replacing one from an earlier attempt of the batch. */
static void answer(node_write *w, int status, json_t *body)
{
    json_decref(w->reply);
    w->status = status;
    w->reply = body;
}

/* Working days from the civil day of now to the day of due: the working
 * days in [today, due] while due is today or later (today counts while it
 * is a working day: the deadline ends at 23:59:59); minus those in
 * (due, today] once it has passed. Counted by the calendar in force. */
static int workdays_left(const hcp_cal *cal, hcp_time now, hcp_time due)
{
    hcp_day today = hcp_day_of(now), last = hcp_day_of(due);
    int n = 0;
    if (due >= now) {
        for (hcp_day d = today; d <= last && d - today < SCAN_DAYS_MAX; d++)
            n += hcp_cal_is_workday(cal, d) ? 1 : 0;
        return n;
    }
    for (hcp_day d = last + 1; d <= today && today - d < SCAN_DAYS_MAX; d++)
        n += hcp_cal_is_workday(cal, d) ? 1 : 0;
    return -n;
}

/* One deadline of c: {kind, due, open, working_days_left} (open: it still
 * runs, nothing has met it yet); NULL when the case has no such deadline. */
static json_t *deadline_json(const hcp_cal *cal, hcp_time now, const char *kind, hcp_due due,
                             bool open)
{
    char at[HCP_TIME_STRLEN];
    if (due.at == 0 || hcp_time_format(due.at, at, sizeof(at)) != HCP_OK)
        return NULL;
    return json_pack("{s:s, s:s, s:b, s:b, s:i}", "kind", kind, "due", at, "open", open,
                     "provisional", due.provisional, "working_days_left",
                     workdays_left(cal, now, due.at));
}

/* The candidate steps, each with the placeholder fields the rules need to
 * judge it (never written anywhere). */
static const uint8_t candidates[] = {
    HCP_EV_VERIFY_START,   HCP_EV_NOTIFY_STAFF,   HCP_EV_VERIFY_CONCLUDE, HCP_EV_DISPUTE_FILE,
    HCP_EV_DISPUTE_DECIDE, HCP_EV_RECTIFY_ASSIGN, HCP_EV_RECTIFY_EXTEND,  HCP_EV_RECTIFY_DONE,
    HCP_EV_FEEDBACK,       HCP_EV_REVISIT,        HCP_EV_CLOSE,
};

static char placeholder[] = "-";

/* The trial event of type t on c at now (strings borrowed from the
 * placeholder: the event is never cleared with hcp_event_clear). */
static hcp_event trial_event(const hcp_case *c, const hcp_cal *cal, uint8_t t, hcp_time now,
                             bool decision)
{
    hcp_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = t;
    ev.at = now;
    ev.recorded_at = now;
    snprintf(ev.county, sizeof(ev.county), "%s", c->county);
    snprintf(ev.case_id, sizeof(ev.case_id), "%s", c->id);
    ev.verifier.name = placeholder;
    ev.outcome = HCP_OUT_SUBSTANTIATED;
    ev.verdict = HCP_VD_UPHELD;
    ev.by = ev.reason = ev.result = ev.via = ev.text = placeholder;
    ev.unit.code = ev.unit.name = placeholder;
    ev.mode = HCP_RM_DEFERRED;
    ev.satisfied = true;
    ev.decision = decision ? placeholder : NULL;
    if (t == HCP_EV_RECTIFY_EXTEND) { /* the first working day after the current deadline */
        hcp_time next = 0;
        bool prov = false;
        if (c->feedback_due.at != 0 &&
            hcp_cal_add_workdays(cal, c->feedback_due.at, 1, &next, &prov) == HCP_OK)
            ev.new_due = hcp_day_of(next);
    }
    return ev;
}

/* Try step t on a copy of c: {type, allowed, rule?, detail?, needs?}. A
 * close refused only for want of a written decision is allowed with one
 * (needs: "decision", a supervisor's). NULL on allocation failure. */
static json_t *trial(const hcp_case *c, const hcp_cal *cal, uint8_t t, hcp_time now)
{
    hcp_refusal why = {0};
    int rc = HCP_ENOMEM;
    bool with_decision = false;
    for (int pass = 0; pass < 2; pass++) {
        hcp_case copy;
        memset(&copy, 0, sizeof(copy));
        if (hcp_case_copy(&copy, c) != HCP_OK)
            return NULL;
        hcp_event ev = trial_event(c, cal, t, now, pass == 1);
        memset(&why, 0, sizeof(why));
        rc = hcp_rules_apply(&copy, &ev, cal, now, &why);
        hcp_case_clear(&copy);
        with_decision = pass == 1;
        if (!(t == HCP_EV_CLOSE && rc == HCP_ERULE && why.rule != NULL &&
              strcmp(why.rule, "revisit_unsatisfied") == 0))
            break;
    }
    json_t *o = json_pack("{s:s, s:b}", "type", hcp_ev_type_names[t], "allowed", rc == HCP_OK);
    if (o == NULL)
        return NULL;
    bool ok = true;
    if (rc == HCP_OK && with_decision)
        ok = json_object_set_new(o, "needs", json_string("decision")) == 0;
    else if (rc == HCP_ERULE)
        ok = json_object_set_new(o, "rule", json_string(why.rule ? why.rule : "refused")) == 0 &&
             json_object_set_new(o, "detail", json_string(why.detail)) == 0;
    else if (rc != HCP_OK) /* the placeholders did not satisfy the step's own checks */
        ok = json_object_set_new(o, "rule", json_string("invalid_step")) == 0;
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The reply: {case, status, now, deadlines: [...], steps: [...], record}
 * (record: the case with its events, without personal data). */
static json_t *steps_json(const hcp_case *c, const hcp_cal *cal, hcp_time now, json_t *record)
{
    char at[HCP_TIME_STRLEN];
    if (hcp_time_format(now, at, sizeof(at)) != HCP_OK)
        return NULL;
    json_t *dl = json_array(), *st = json_array();
    bool closed = c->status == HCP_ST_CLOSED;
    struct {
        const char *kind;
        hcp_due due;
        bool open;
    } d[] = {
        {"feedback_due", c->feedback_due, !closed && c->adopted && c->feedback_at == 0},
        {"dispute_due", c->dispute_due, !closed && c->notified_at != 0 && c->disputed_at == 0},
        {"rereview_due", c->rereview_due, !closed && c->disputed_at != 0 && c->decided_at == 0},
    };
    bool ok = dl != NULL && st != NULL;
    for (size_t i = 0; ok && i < sizeof(d) / sizeof(d[0]); i++) {
        json_t *j = deadline_json(cal, now, d[i].kind, d[i].due, d[i].open);
        if (j != NULL)
            ok = json_array_append_new(dl, j) == 0;
    }
    for (size_t i = 0; ok && i < sizeof(candidates); i++) {
        json_t *j = trial(c, cal, candidates[i], now);
        ok = j != NULL && json_array_append_new(st, j) == 0;
    }
    if (!ok || record == NULL) {
        json_decref(dl);
        json_decref(st);
        json_decref(record);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "case", c->id, "status",
                     hcp_status_names[c->status < HCP_ST_COUNT_ ? c->status : 0], "now", at,
                     "deadlines", dl, "steps", st, "record", record);
}

int node_console_apply(node *n, MDB_txn *txn, node_write *w)
{
    hcp_case c;
    memset(&c, 0, sizeof(c));
    int rc = store_case_get(n->store, txn, w->id, false, &c);
    if (rc == HCP_ENOTFOUND) {
        answer(w, 404, hcp_json_error("case_not_found", w->id));
        return HCP_OK;
    }
    if (rc != HCP_OK) {
        answer(w, 500, hcp_json_error("record_unreadable", hcp_strerror(rc)));
        hcp_case_clear(&c);
        return HCP_OK;
    }
    hcp_event *evs = NULL;
    size_t nev = 0;
    rc = store_case_events(n->store, txn, c.id, false, &evs, &nev);
    if (rc != HCP_OK) {
        hcp_case_clear(&c);
        return rc;
    }
    json_t *j = steps_json(&c, n->cal, w->now, node_case_json(n, &c, evs, nev, w->now, false));
    store_events_free(evs, nev);
    hcp_case_clear(&c);
    if (j == NULL)
        answer(w, 503, hcp_json_error("out_of_memory", "try again"));
    else
        answer(w, 200, j);
    return HCP_OK;
}
