/*
 * writer.c — the node's part of the group commit (daemon/gc.h).
 *
 * HTTP threads queue node_write items; the engine wakes the loop, takes up
 * to WRITER_BATCH items into one LMDB write transaction and calls the hooks
 * here for each; after the commit (fsync) the answers go to the replier
 * thread: every 201 and 200 follows a commit. A refused item writes nothing
 * (the rules decide before any put, and a case number is taken only when
 * the case is written) and the rest of the batch goes on. A full map is
 * grown and the batch redone by the engine; a full disk fails the batch
 * (503 storage_full) and the next one tries again.
 */
#include "lock.h"
#include "writer.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "console.h"
#include "contacts.h"
#include "directive.h"
#include "json.h"
#include "rules.h"
#include "store.h"

#define WRITER_BATCH    1024
#define WRITER_LATER_MS 1000 /* the node's own items of a failed batch: queued again after */

struct node_writer {
    hcpd_gc *gc; /* the group commit (daemon/gc.h) */
    uv_timer_t sweep;
    uv_timer_t later_timer; /* queues `later` again */
    node_write *later;      /* the node's own items a failed batch kept (loop thread) */
    hcp_chain ch;           /* the head as the attempt being built leaves it */
    node_stats stats;
    /* Committed batches wait here for the replier thread, which makes their
     * meta page durable (the environment runs with MDB_NOMETASYNC while the
     * writer runs: one fdatasync covers every batch waiting), then tells
     * replication of the new head and sends the answers, while the loop
     * already writes the next transaction (docs/storage.md). Under rmu. */
    pthread_t replier;
    pthread_mutex_t rmu;
    pthread_cond_t rcond;
    node_write *done_head, *done_tail;
    hcp_chain done_chain; /* the newest head of the batches waiting (done_grew) */
    /* the commit hook (node_writer_on_commit), under hmu */
    pthread_mutex_t hmu;
    node_commit_fn on_commit;
    void *on_commit_arg;
    bool timers;          /* both timers initialised (closed at stop) */
    bool replier_running; /* the replier thread started */
    bool done_sync;       /* a batch waiting for the replier committed: sync before answering */
    bool done_grew;       /* ... and appended events: done_chain is the new head */
    bool rstop;           /* the replier ends once nothing waits */
    bool nometasync;      /* the environment's MDB_NOMETASYNC was set by node_writer_start */
    bool locks;           /* rmu, rcond and hmu were made (destroyed at free) */
    /* Whose meta page must be durable, and what already made it so
     * (node_meta_sync_plan), under rmu: the environment's last txnid after
     * the newest commit among the batches waiting, after the newest commit
     * handed over at all, and the newest covered by the replier's own
     * fdatasync. */
    uint64_t done_txnid, committed_txnid, synced_txnid;
    uint64_t ends; /* batches handed over so far: the replier waits for the next one */
    bool busy;     /* the loop is inside a batch (its begin hook ran, its answer not yet) */
};

node_write *node_write_new(node_wkind kind, node_req *req)
{
    node_write *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->kind = kind;
        w->req = req;
    }
    return w;
}

void node_write_free(node_write *w)
{
    if (w == NULL)
        return;
    hcp_intake_clear(&w->in);
    hcp_event_clear(&w->step);
    json_decref(w->reply);
    free(w->remote);
    free(w->remote_ev);
    node_directive_batch_free(w->dirs);
    free(w);
}

const node_stats *node_writer_stats(const node *n)
{
    return &n->writer->stats;
}

/* Set the item's answer (replacing any earlier one from a failed attempt). */
static void answer(node_write *w, int status, json_t *body)
{
    json_decref(w->reply);
    w->status = status;
    w->reply = body;
}

static void answer_error(node_write *w, int status, const char *error, const char *detail)
{
    answer(w, status, hcp_json_error(error, detail));
}

static hcp_time now_sec(void)
{
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) != 0)
        return 0;
    return (hcp_time)tv.tv_sec;
}

/* ---- building blocks inside a transaction ---- */

json_t *node_case_json(const node *n, const hcp_case *c, const hcp_event *events, size_t nevents,
                       hcp_time now, bool personal)
{
    json_t *j = hcp_json_case(c, events, nevents, now, personal);
    json_t *arr = j != NULL ? json_object_get(j, "events") : NULL;
    json_int_t count = 0;
    bool ok = j != NULL;
    for (size_t i = 0; ok && i < nevents; i++) {
        if (!hcp_event_backdated(&events[i], n->cal, n->cfg.backdate_days))
            continue;
        count++;
        ok = json_object_set_new(json_array_get(arr, i), "backdated", json_true()) == 0;
    }
    if (ok)
        ok = json_object_set_new(j, "backdated_steps", json_integer(count)) == 0;
    if (!ok) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* The case as JSON with its events, for a reply: with personal data for a
 * supervisor (access-logged), without for a clerk. */
static int case_reply(node *n, MDB_txn *txn, const hcp_case *c, node_write *w, int status)
{
    hcp_event *evs = NULL;
    size_t nev = 0;
    int rc = store_case_events(n->store, txn, c->id, w->personal, &evs, &nev);
    if (rc == HCP_OK && w->personal)
        rc = store_access_log(n->store, txn, w->now, w->who, c->id, w->why);
    if (rc == HCP_OK) {
        json_t *j = node_case_json(n, c, evs, nev, w->now, w->personal);
        if (j == NULL)
            rc = HCP_ENOMEM;
        else
            answer(w, status, j);
    }
    store_events_free(evs, nev);
    return rc;
}

/* The id the next case of the day of `at` gets, without taking its number
 * (open_case takes it once the case is written: a refused request takes
 * none). key receives the day's counter key. */
static int peek_case_id(node *n, MDB_txn *txn, hcp_time at, char *key, size_t keylen, char *id,
                        size_t len)
{
    int y, m, d;
    hcp_day day = hcp_day_of(at);
    hcp_day_to_ymd(day, &y, &m, &d);
    snprintf(key, keylen, "day:%04d%02d%02d", y, m, d);
    uint64_t num;
    int rc = store_counter_get(n->store, txn, key, &num);
    if (rc == HCP_OK && num >= UINT32_MAX)
        rc = HCP_ERANGE;
    if (rc == HCP_OK)
        rc = hcp_case_id_format(id, len, n->cfg.county, day, (uint32_t)num + 1);
    return rc;
}

/*
 * A stored record that does not decode or unseal (wrong key, damaged
 * bytes) fails the request that read it, not its whole batch: it is found
 * before the request writes anything. True when rc was such a failure.
 */
static bool unreadable(node_write *w, int rc)
{
    if (rc != HCP_ECRYPTO && rc != HCP_EFORMAT && rc != HCP_EUTF8 && rc != HCP_EVERSION)
        return false;
    node_log("error", "store.unreadable", "case=%s err=\"%s\"", w->id, hcp_strerror(rc));
    answer_error(w, 500, "record_unreadable", hcp_strerror(rc));
    return true;
}

/* Report a rules refusal (409) or a malformed step (422) on the item. */
static void refused(node *n, node_write *w, int rc, const hcp_refusal *why)
{
    n->writer->stats.refused++;
    if (rc == HCP_ERULE)
        answer_error(w, 409, why->rule, why->detail);
    else
        answer_error(w, 422, "invalid_step", hcp_strerror(rc));
}

/*
 * Open a case from intake `in` at `at`: new id, case_open through the rules,
 * log append, case put, tally for reviews. *c receives the new case.
 * Returns HCP_ERULE/HCP_EINVAL (nothing written) or a store error.
 */
static int open_case(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w, const hcp_intake *in,
                     uint64_t eval_no, hcp_case *c, hcp_refusal *why)
{
    hcp_time at = w->at != 0 ? w->at : w->now;
    hcp_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = HCP_EV_CASE_OPEN;
    ev.at = at;
    ev.recorded_at = w->now;
    ev.evaluation_no = eval_no;
    ev.in = *in;                                    /* borrowed: detached before hcp_event_clear */
    ev.account = w->who[0] != '\0' ? w->who : NULL; /* borrowed too */
    memcpy(ev.county, n->cfg.county, sizeof(ev.county));
    char key[32];
    int rc = peek_case_id(n, txn, at, key, sizeof(key), ev.case_id, sizeof(ev.case_id));
    if (rc == HCP_OK) {
        ev.seq = ch->seq + 1;
        rc = hcp_rules_apply(c, &ev, n->cal, w->now, why);
    }
    if (rc == HCP_OK)
        rc = store_log_append(n->store, txn, ch, &ev);
    if (rc == HCP_OK)
        rc = store_case_put(n->store, txn, NULL, c);
    if (rc == HCP_OK) /* written: now the number is taken */
        rc = store_counter_add(n->store, txn, key, 1, NULL);
    if (rc == HCP_OK && in->kind == HCP_KIND_REVIEW)
        rc = store_tally_add(n->store, txn, in, hcp_day_of(at));
    memset(&ev.in, 0, sizeof(ev.in));
    ev.account = NULL;
    hcp_event_clear(&ev);
    return rc;
}

/* Check an intake's `at` against now (rules refuse the future for cases;
 * evaluations have no case to ask). */
static bool at_ok(node_write *w)
{
    if (w->at == 0 || w->at <= w->now + HCP_CLOCK_SKEW)
        return true;
    answer_error(w, 422, "at_in_future", "field 'at' lies in the future");
    return false;
}

/* POST /v1/evaluations: a rating; 1–2 open a review case (Art. 2). */
static int do_eval(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w)
{
    if (!at_ok(w))
        return HCP_OK;
    uint64_t no; /* taken (counter "eval" raised) only once something is written */
    int rc = store_counter_get(n->store, txn, "eval", &no);
    if (rc != HCP_OK)
        return rc;
    no++;
    if (w->in.rating <= 2) {
        hcp_case c;
        memset(&c, 0, sizeof(c));
        hcp_refusal why = {0};
        w->in.kind = HCP_KIND_REVIEW;
        rc = open_case(n, txn, ch, w, &w->in, no, &c, &why);
        if (rc == HCP_OK)
            answer(w, 201, json_pack("{sI,ss}", "evaluation", (json_int_t)no, "case", c.id));
        hcp_case_clear(&c);
        if (rc == HCP_ERULE || rc == HCP_EINVAL) {
            refused(n, w, rc, &why);
            return HCP_OK;
        }
        if (rc == HCP_OK)
            n->writer->stats.cases++;
    } else {
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = HCP_EV_EVALUATION;
        ev.at = w->at != 0 ? w->at : w->now;
        ev.recorded_at = w->now;
        ev.evaluation_no = no;
        ev.in = w->in;                                  /* borrowed */
        ev.account = w->who[0] != '\0' ? w->who : NULL; /* borrowed */
        rc = store_log_append(n->store, txn, ch, &ev);
        if (rc == HCP_OK)
            rc = store_tally_add(n->store, txn, &w->in, hcp_day_of(ev.at));
        memset(&ev.in, 0, sizeof(ev.in));
        ev.account = NULL;
        hcp_event_clear(&ev);
        if (rc == HCP_OK)
            answer(w, 201, json_pack("{sI,sn}", "evaluation", (json_int_t)no, "case"));
    }
    if (rc == HCP_OK)
        rc = store_counter_add(n->store, txn, "eval", 1, NULL);
    if (rc == HCP_OK)
        n->writer->stats.evaluations++;
    return rc;
}

/* POST /v1/cases: a complaint or a review from the ledger. */
static int do_case(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w)
{
    if (!at_ok(w))
        return HCP_OK;
    hcp_case c;
    memset(&c, 0, sizeof(c));
    hcp_refusal why = {0};
    int rc = open_case(n, txn, ch, w, &w->in, 0, &c, &why);
    if (rc == HCP_OK) {
        n->writer->stats.cases++;
        rc = case_reply(n, txn, &c, w, 201);
    } else if (rc == HCP_ERULE || rc == HCP_EINVAL) {
        refused(n, w, rc, &why);
        rc = HCP_OK;
    }
    hcp_case_clear(&c);
    return rc;
}

/* Apply event ev to the stored case `id` and write both. Refusals leave
 * *why and HCP_ERULE/HCP_EINVAL with nothing written. */
static int apply_event(node *n, MDB_txn *txn, hcp_chain *ch, hcp_event *ev, hcp_time now,
                       hcp_case *c, hcp_refusal *why)
{
    hcp_case old;
    int rc = store_case_get(n->store, txn, ev->case_id, true, &old);
    if (rc == HCP_OK)
        rc = hcp_case_copy(c, &old);
    if (rc == HCP_OK) {
        ev->seq = ch->seq + 1;
        rc = hcp_rules_apply(c, ev, n->cal, now, why);
    }
    if (rc == HCP_OK)
        rc = store_log_append(n->store, txn, ch, ev);
    if (rc == HCP_OK)
        rc = store_case_put(n->store, txn, &old, c);
    hcp_case_clear(&old);
    return rc;
}

/* Whether account `who` is, by name, the staff member the case is about:
 * its staff id or staff name (the only link the data has between an
 * account and a staff member; docs/rules.md says what it cannot see). */
static bool is_staff_of(const char *who, const hcp_event *open)
{
    const hcp_staff *st = &open->in.staff;
    return (st->id != NULL && st->id[0] != '\0' && strcmp(st->id, who) == 0) ||
           (st->name != NULL && st->name[0] != '\0' && strcmp(st->name, who) == 0);
}

/*
 * A dispute is decided by an account other than the one that filed it, and
 * never by the staff member concerned (docs/access.md, docs/rules.md): true
 * when ev, a dispute_decide, comes from the account that recorded the
 * case's latest dispute_file (409 dispute_same_account) or from an account
 * named as the case's staff member (409 dispute_decided_by_staff); *rc then
 * holds a store error, or HCP_OK with the 409 answered. Every account is
 * bound, `admin` included; events from before accounts carry none.
 */
static bool decided_by_filer(node *n, MDB_txn *txn, node_write *w, int *rc)
{
    *rc = HCP_OK;
    if (w->step.type != HCP_EV_DISPUTE_DECIDE || w->who[0] == '\0')
        return false;
    hcp_event *evs = NULL;
    size_t nev = 0;
    int lrc = store_case_events(n->store, txn, w->id, false, &evs, &nev);
    if (lrc == HCP_ENOTFOUND || (lrc != HCP_OK && unreadable(w, lrc)))
        return lrc != HCP_ENOTFOUND; /* no case: do_step answers 404 */
    if (lrc != HCP_OK) {
        *rc = lrc;
        return true;
    }
    const char *filer = NULL;
    for (size_t i = 0; i < nev; i++)
        if (evs[i].type == HCP_EV_DISPUTE_FILE)
            filer = evs[i].account;
    bool same = filer != NULL && strcmp(filer, w->who) == 0;
    bool staff =
        !same && nev > 0 && evs[0].type == HCP_EV_CASE_OPEN && is_staff_of(w->who, &evs[0]);
    if (same) {
        n->writer->stats.refused++;
        answer_error(w, 409, "dispute_same_account",
                     "a dispute is decided by an account other than the one that filed it");
    } else if (staff) {
        n->writer->stats.refused++;
        answer_error(w, 409, "dispute_decided_by_staff",
                     "the staff member the review is about cannot decide its re-review (Art. 9)");
    }
    same = same || staff;
    store_events_free(evs, nev);
    return same;
}

/* POST /v1/cases/ID/events */
static int do_step(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w)
{
    int drc;
    if (decided_by_filer(n, txn, w, &drc))
        return drc;
    if (node_directive_answer_refused(n, txn, w, &drc)) /* correction_answer: directive.c */
        return drc;
    hcp_event *ev = &w->step;
    hcp_time given = ev->at;
    ev->at = given != 0 ? given : w->now;
    ev->recorded_at = w->now;
    snprintf(ev->case_id, sizeof(ev->case_id), "%s", w->id);
    hcp_case c;
    memset(&c, 0, sizeof(c));
    hcp_refusal why = {0};
    hcp_chain before = *ch;
    int rc = apply_event(n, txn, ch, ev, w->now, &c, &why);
    bool wrote = ch->seq != before.seq; /* an event was appended: not isolable */
    ev->at = given;                     /* a retry starts from the request as it came */
    if (rc == HCP_OK && hcp_event_backdated(ev, n->cal, n->cfg.backdate_days))
        rc = store_counter_add(n->store, txn, "backdated", 1, NULL);
    if (rc == HCP_OK) {
        n->writer->stats.steps++;
        rc = case_reply(n, txn, &c, w, 200);
    } else if (rc == HCP_ENOTFOUND) {
        answer_error(w, 404, "case_not_found", w->id);
        rc = HCP_OK;
    } else if (rc == HCP_ERULE || rc == HCP_EINVAL) {
        refused(n, w, rc, &why);
        rc = HCP_OK;
    } else if (!wrote && unreadable(w, rc))
        rc = HCP_OK;
    hcp_case_clear(&c);
    return rc;
}

/* GET /v1/cases/ID: the whole case, personal data included, access-logged. */
static int do_case_read(node *n, MDB_txn *txn, node_write *w)
{
    hcp_case c;
    int rc = store_case_get(n->store, txn, w->id, true, &c);
    if (rc == HCP_OK)
        rc = case_reply(n, txn, &c, w, 200);
    else if (rc == HCP_ENOTFOUND) {
        answer_error(w, 404, "case_not_found", w->id);
        rc = HCP_OK;
    } else if (unreadable(w, rc))
        rc = HCP_OK;
    hcp_case_clear(&c);
    return rc;
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

/* s as a JSON string, or null for NULL (new reference; NULL on failure). */
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
 * (docs/codec.md, "Free text"); the original comes only with
 * GET /v1/cases/ID. A new reference, NULL on failure. */
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

/* store_cases_of_month's visitor: append the case's row to the array arg. */
static int ledger_add(void *arg, const char *id, const hcp_case *c)
{
    (void)id;
    json_t *rows = arg;
    json_t *row = ledger_row(c, json_array_size(rows) + 1);
    return row != NULL && json_array_append_new(rows, row) == 0 ? HCP_OK : HCP_ENOMEM;
}

/* GET /v1/ledger?month=: the month's register (Art. 14); with personal
 * data (a supervisor) access-logged, without (a clerk) not. */
static int do_ledger(node *n, MDB_txn *txn, node_write *w)
{
    json_t *rows = json_array();
    if (rows == NULL)
        return HCP_ENOMEM;
    int rc = store_cases_of_month(n->store, txn, w->year, w->month, w->personal, ledger_add, rows);
    char what[32];
    snprintf(what, sizeof(what), "ledger:%04d-%02d", w->year, w->month);
    if (rc == HCP_OK && w->personal)
        rc = store_access_log(n->store, txn, w->now, w->who, what, NULL);
    if (rc != HCP_OK) {
        json_decref(rows);
        return rc;
    }
    char mon[8];
    snprintf(mon, sizeof(mon), "%04d-%02d", w->year, w->month);
    answer(w, 200, json_pack("{ss,ss,so}", "county", n->cfg.county, "month", mon, "rows", rows));
    return HCP_OK;
}

/* Mark the deadlines of one case that passed unmet (a recorded event each). */
static int sweep_case(node *n, MDB_txn *txn, hcp_chain *ch, const char *id, hcp_time now)
{
    hcp_case c;
    int rc = store_case_get(n->store, txn, id, false, &c);
    unsigned due = rc == HCP_OK ? hcp_case_overdue(&c, now) & ~(unsigned)c.overdue_marked : 0;
    hcp_case_clear(&c);
    for (int k = HCP_DL_FEEDBACK; rc == HCP_OK && k < HCP_DL_COUNT_; k++) {
        if (!(due & (1u << k)))
            continue;
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = HCP_EV_OVERDUE;
        ev.deadline = (uint8_t)k;
        ev.at = ev.recorded_at = now;
        snprintf(ev.case_id, sizeof(ev.case_id), "%s", id);
        hcp_case next;
        memset(&next, 0, sizeof(next));
        hcp_refusal why = {0};
        rc = apply_event(n, txn, ch, &ev, now, &next, &why);
        if (rc == HCP_ERULE || rc == HCP_EINVAL)
            rc = HCP_OK; /* already marked or met meanwhile: nothing to do */
        else if (rc == HCP_OK)
            n->writer->stats.overdue_marked++;
        hcp_case_clear(&next);
        hcp_event_clear(&ev);
    }
    return rc;
}

/* The sweep: every open case whose deadline passed unmet gets its mark. */
static int do_sweep(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w)
{
    char(*ids)[HCP_CASE_ID_MAX] = NULL;
    size_t count = 0;
    int rc = store_open_case_ids(n->store, txn, &ids, &count);
    for (size_t i = 0; rc == HCP_OK && i < count; i++)
        rc = sweep_case(n, txn, ch, ids[i], w->now);
    free(ids);
    return rc;
}

/* ---- provisional deadlines (docs/calendar.md) ---- */

/* At start-up: every open case whose deadlines were counted past the known
 * calendar years is recounted with the calendar loaded now, so a newly
 * installed year firms them up. */
static int do_recount(node *n, MDB_txn *txn)
{
    char(*ids)[HCP_CASE_ID_MAX] = NULL;
    size_t count = 0, changed = 0, still = 0;
    int rc = store_open_case_ids(n->store, txn, &ids, &count);
    for (size_t i = 0; rc == HCP_OK && i < count; i++) {
        hcp_case old, c;
        memset(&c, 0, sizeof(c));
        rc = store_case_get(n->store, txn, ids[i], true, &old);
        bool prov = rc == HCP_OK && (old.feedback_due.provisional || old.dispute_due.provisional ||
                                     old.rereview_due.provisional);
        if (prov && (rc = hcp_case_copy(&c, &old)) == HCP_OK &&
            (rc = hcp_case_recompute_deadlines(&c, n->cal)) == HCP_OK) {
            changed += c.feedback_due.at != old.feedback_due.at ||
                       c.feedback_due.provisional != old.feedback_due.provisional;
            still += c.feedback_due.provisional || c.dispute_due.provisional ||
                     c.rereview_due.provisional;
            rc = store_case_put(n->store, txn, &old, &c);
        }
        hcp_case_clear(&old);
        hcp_case_clear(&c);
    }
    free(ids);
    if (rc == HCP_OK && (changed > 0 || still > 0))
        node_log(still > 0 ? "warn" : "info", "calendar.recount",
                 "recounted=%zu still_provisional=%zu detail=\"%s\"", changed, still,
                 still > 0 ? "deadlines past the calendar's years: install the next year's calendar"
                           : "provisional deadlines are firm now");
    return rc;
}

/* ---- events fetched back from the gateway (restore) ---- */

/* Raise counter key to at least v (ids and numbers are never handed out twice). */
static int counter_at_least(node *n, MDB_txn *txn, const char *key, uint64_t v)
{
    uint64_t cur;
    int rc = store_counter_get(n->store, txn, key, &cur);
    if (rc == HCP_OK && v > cur)
        rc = store_counter_add(n->store, txn, key, (int64_t)(v - cur), NULL);
    return rc;
}

/* Rebuild what the node derives from an event it did not write itself:
 * the case, the numbers it used, the tallies. */
static int derive(node *n, MDB_txn *txn, const hcp_event *ev)
{
    int rc = HCP_OK;
    if (ev->evaluation_no != 0)
        rc = counter_at_least(n, txn, "eval", ev->evaluation_no);
    bool rating = ev->type == HCP_EV_EVALUATION ||
                  (ev->type == HCP_EV_CASE_OPEN && ev->in.kind == HCP_KIND_REVIEW);
    if (rc == HCP_OK && rating && ev->in.rating >= 1 && ev->in.rating <= 5)
        rc = store_tally_add(n->store, txn, &ev->in, hcp_day_of(ev->at));
    if (rc == HCP_OK && ev->type == HCP_EV_DIRECTIVE) /* its state and the position */
        rc = node_directive_derive(n, txn, ev);
    if (rc == HCP_OK && ev->type == HCP_EV_CONTACT) /* the register's index (contacts.h) */
        rc = node_contacts_derive(n, txn, ev);
    if (rc != HCP_OK || ev->case_id[0] == '\0' || ev->type == HCP_EV_EVALUATION)
        return rc;
    hcp_case old, c;
    memset(&old, 0, sizeof(old));
    memset(&c, 0, sizeof(c));
    bool opening = ev->type == HCP_EV_CASE_OPEN;
    if (!opening && (rc = store_case_get(n->store, txn, ev->case_id, true, &old)) == HCP_OK)
        rc = hcp_case_copy(&c, &old);
    hcp_refusal why = {0};
    if (rc == HCP_OK)
        rc = hcp_rules_apply(&c, ev, n->cal, ev->recorded_at, &why);
    if (rc == HCP_OK) {
        rc = store_case_put(n->store, txn, opening ? NULL : &old, &c);
        if (rc == HCP_OK && hcp_event_backdated(ev, n->cal, n->cfg.backdate_days))
            rc = store_counter_add(n->store, txn, "backdated", 1, NULL); /* as do_step counted it */
    } else if (rc == HCP_ERULE || rc == HCP_EINVAL || rc == HCP_ENOTFOUND) {
        node_log("warn", "sync.rule_refused", "case=%s seq=%llu rule=%s", ev->case_id,
                 (unsigned long long)ev->seq, why.rule ? why.rule : hcp_strerror(rc));
        rc = HCP_OK; /* the log is the county's word: kept, flagged */
    }
    if (rc == HCP_OK && opening) { /* the day's case numbers go past this one */
        char county[HCP_COUNTY_LEN + 1], key[32];
        hcp_day day;
        uint32_t num;
        int y, m, d;
        if (hcp_case_id_parse(ev->case_id, county, &day, &num) == HCP_OK) {
            hcp_day_to_ymd(day, &y, &m, &d);
            snprintf(key, sizeof(key), "day:%04d%02d%02d", y, m, d);
            rc = counter_at_least(n, txn, key, num);
        }
    }
    hcp_case_clear(&old);
    hcp_case_clear(&c);
    return rc;
}

/* Append the fetched events verbatim and derive from each. A chain that
 * does not hold refuses the rest (the gateway or the link is lying). */
static int do_remote(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w)
{
    const uint8_t *p = w->remote;
    int rc = HCP_OK;
    for (size_t i = 0; i < w->nremote && rc == HCP_OK; i++) {
        const struct node_remote_ev *e = &w->remote_ev[i];
        uint64_t seq = w->seq + i;
        if (seq <= ch->seq) { /* already here (a resent page) */
            p += e->rec_len + e->pii_len;
            continue;
        }
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        rc = store_log_put_remote(n->store, txn, ch, seq, e->hash, p, e->rec_len, p + e->rec_len,
                                  e->pii_len, &ev);
        if (rc == HCP_OK)
            rc = derive(n, txn, &ev);
        hcp_event_clear(&ev);
        p += e->rec_len + e->pii_len;
    }
    if (rc == HCP_ECHAIN) {
        node_log("error", "sync.fetch_refused", "seq=%llu detail=\"fetched events do not chain\"",
                 (unsigned long long)ch->seq + 1);
        return HCP_OK; /* nothing of the bad event was written; sync retries */
    }
    return rc;
}

/* Writes wait while the node fetches its history (node_store.needs_sync),
 * and then while it owes a directive's body the history did not carry (the
 * calendar it acknowledged: directive.h). */
static bool restoring(node *n, node_write *w)
{
    bool needs = atomic_load(&n->store->needs_sync);
    if ((!needs && node_directive_owed() == 0) || n->cfg.gateway[0] == '\0')
        return false; /* offline, a restored copy works (and may fork: docs/replication.md) */
    if (w->kind == W_SWEEP || (needs && w->kind == W_DIRECTIVE))
        return true; /* no marks, no directives on a history still arriving */
    if (w->kind != W_EVAL && w->kind != W_CASE && w->kind != W_STEP && w->kind != W_CONTACT)
        return false;
    answer_error(w, 503, "restoring",
                 "this node is fetching its county's history from the province before it takes "
                 "new records; try again shortly");
    return true;
}

static int process(node *n, MDB_txn *txn, hcp_chain *ch, node_write *w)
{
    if (w->now == 0)
        w->now = now_sec();
    if (restoring(n, w))
        return HCP_OK;
    switch (w->kind) {
    case W_EVAL:
        return do_eval(n, txn, ch, w);
    case W_CASE:
        return do_case(n, txn, ch, w);
    case W_STEP:
        return do_step(n, txn, ch, w);
    case W_CASE_READ:
        return do_case_read(n, txn, w);
    case W_LEDGER:
        return do_ledger(n, txn, w);
    case W_SWEEP:
        return do_sweep(n, txn, ch, w);
    case W_ACK:
        return store_acked_put(n->store, txn, w->seq);
    case W_REMOTE:
        return do_remote(n, txn, ch, w);
    case W_SYNCED:
        return store_needs_sync_put(n->store, txn, false);
    case W_RECOUNT:
        return do_recount(n, txn);
    case W_DIRECTIVE: /* directive.c */
        return node_directive_apply(n, txn, ch, w);
    case W_CONTACT: /* contacts.c */
        return node_contacts_apply(n, txn, ch, w);
    case W_CONSOLE: /* console.c */
        return node_console_apply(n, txn, w);
    }
    return HCP_EINVAL;
}

/* ---- the batch: hooks of the group commit (daemon/gc.h) ---- */

_Static_assert(offsetof(node_write, link) == 0, "node_write converts from its hcpd_gc_item");

/* The item after w in a batch or a list. */
static node_write *wnext(const node_write *w)
{
    return (node_write *)w->link.next;
}

/* A new attempt: the chain as committed, the counter cache on txn. */
static int gc_begin(void *arg, MDB_txn *txn)
{
    node *n = arg;
    node_writer *wr = n->writer;
    store_cache_start(n->store, txn);
    wr->ch = n->store->chain;
    if (wr->replier_running) { /* a commit is coming: the replier may wait for it */
        hcp_mutex_lock(&wr->rmu);
        wr->busy = true;
        hcp_mutex_unlock(&wr->rmu);
    }
    return HCP_OK;
}

static int gc_item(void *arg, MDB_txn *txn, hcpd_gc_item *it, size_t index)
{
    (void)index;
    node *n = arg;
    return process(n, txn, &n->writer->ch, (node_write *)it);
}

/* Every item applied: the cached counters and the new head go in too. */
static int gc_finish(void *arg, MDB_txn *txn)
{
    node *n = arg;
    hcp_chain *ch = &n->writer->ch;
    int rc = store_cache_flush(n->store, txn);
    if (rc == HCP_OK && ch->seq != n->store->chain.seq)
        rc = store_head_put(n->store, txn, ch);
    store_cache_drop(n->store);
    return rc; /* then the group commit writes room ahead (hcpd_env_ahead) and commits */
}

static void gc_abort(void *arg)
{
    node *n = arg;
    store_cache_drop(n->store);
}

/* Answer every item of a list and free it. The replies are held and handed
 * to the HTTP server together: one lock and one wake-up of its thread per
 * batch instead of one per request (docs/http.md). */
static void reply_all(node_write *batch)
{
    hcpd_reply_hold();
    while (batch != NULL) {
        node_write *next = wnext(batch);
        if (batch->req != NULL) {
            node_req_reply_json(batch->req, batch->status, batch->reply);
            batch->reply = NULL;
        }
        node_write_free(batch);
        batch = next;
    }
    hcpd_reply_flush();
}

static void commit_hook(node_writer *wr, const hcp_chain *ch);
static void fail_all(node_write *batch, int rc);

/*
 * The durability point of committed batches. The writer's transactions
 * commit with MDB_NOMETASYNC: LMDB fsyncs their data pages, then writes the
 * meta page without a second fsync (and the next commit's data fsync, which
 * LMDB does before writing the next meta, makes it durable; so integrity
 * never depends on this call). One fdatasync here (sync: unless that next
 * commit's flush already did it, meta_needs_sync) makes the meta pages of
 * every batch committed so far durable; only then are their requests
 * answered 2xx and replication told of their events. If it fails (false
 * returned), nobody is told the batches are durable: their requests are
 * answered 503 and the node restarts in place (LMDB treats a failed meta
 * sync the same way).
 * Then the answers go out (one hand-off to the HTTP server for the lot),
 * then the hook.
 */
static bool finish_batches(node *n, node_write *batch, bool sync, bool grew, const hcp_chain *head)
{
    node_writer *wr = n->writer;
    bool synced = true;
    if (sync && wr->nometasync) {
        int mrc = mdb_env_sync(n->store->db.env, 1);
        if (mrc != MDB_SUCCESS) {
            node_log("error", "store.sync_failed", "err=\"%s\"", mdb_strerror(mrc));
            fail_all(batch, store_err(mrc));
            hcpd_restart_request("the store's fdatasync failed");
            grew = false;
            synced = false;
        }
    }
    reply_all(batch);
    if (grew)
        commit_hook(wr, head); /* new events: replication sends them */
    return synced;
}

node_meta_plan node_meta_sync_plan(uint64_t need, uint64_t committed, uint64_t synced,
                                   bool writer_active, bool waited)
{
    if (need <= synced || committed > need)
        return NODE_META_DURABLE;
    return writer_active && !waited ? NODE_META_WAIT : NODE_META_SYNC;
}

/* Queue a finished batch (committed, or failed as a whole) for its replies;
 * committed says whether its transaction committed (answers wait for the
 * sync), txnid the environment's last txnid after it, grew whether it
 * appended events (head: the new head). */
static void hand_to_replier(node *n, node_write *batch, bool committed, uint64_t txnid, bool grew,
                            const hcp_chain *head)
{
    node_writer *wr = n->writer;
    if (!wr->replier_running) {
        finish_batches(n, batch, committed, grew, head);
        return;
    }
    hcp_mutex_lock(&wr->rmu);
    if (batch != NULL) {
        node_write *last = batch;
        while (wnext(last) != NULL)
            last = wnext(last);
        if (wr->done_tail != NULL)
            wr->done_tail->link.next = &batch->link;
        else
            wr->done_head = batch;
        wr->done_tail = last;
    }
    wr->done_sync = wr->done_sync || committed;
    if (committed) {
        wr->done_txnid = txnid > wr->done_txnid ? txnid : wr->done_txnid;
        if (txnid != UINT64_MAX && txnid > wr->committed_txnid)
            wr->committed_txnid = txnid;
    }
    wr->busy = false;
    wr->ends++;
    if (grew) {
        wr->done_grew = true;
        wr->done_chain = *head;
    }
    (void)hcp_cond_signal(&wr->rcond); /* fails only for a cond never made */
    hcp_mutex_unlock(&wr->rmu);
}

/*
 * Whether the meta page of txnid `need` still wants the replier's own
 * fdatasync (rmu held). The next commit's data flush makes it durable as
 * well: LMDB fdatasyncs a commit's data pages before it writes that
 * commit's meta page, and the flush takes every dirty page of the file,
 * the meta page written by the commit before included. So while the
 * loop is inside a batch or has one queued, the replier waits for that
 * one batch's end (never longer) instead of flushing beside it: one
 * fdatasync per commit under load instead of two (docs/storage.md).
 */
static bool meta_needs_sync(node_writer *wr, uint64_t need)
{
    bool waited = false;
    for (;;) {
        bool active = !wr->rstop && (wr->busy || hcpd_gc_pending(wr->gc));
        switch (node_meta_sync_plan(need, wr->committed_txnid, wr->synced_txnid, active, waited)) {
        case NODE_META_DURABLE:
            return false;
        case NODE_META_SYNC:
            return true;
        case NODE_META_WAIT: {
            uint64_t ends = wr->ends;
            while (wr->ends == ends && !wr->rstop)
                hcp_cond_wait(&wr->rcond, &wr->rmu);
            waited = true;
            break;
        }
        }
    }
}

/* The replier: make durable, then answer, the batches committed
 * meanwhile, in commit order; every batch that waited meanwhile shares one
 * fdatasync, or the next commit's. */
static void *replier_main(void *arg)
{
    node *n = arg;
    node_writer *wr = n->writer;
    hcp_mutex_lock(&wr->rmu);
    for (;;) {
        while (wr->done_head == NULL && !wr->done_sync && !wr->done_grew && !wr->rstop)
            hcp_cond_wait(&wr->rcond, &wr->rmu);
        node_write *batch = wr->done_head;
        bool sync = wr->done_sync, grew = wr->done_grew;
        uint64_t need = wr->done_txnid;
        hcp_chain head = wr->done_chain;
        wr->done_head = wr->done_tail = NULL;
        wr->done_sync = wr->done_grew = false;
        wr->done_txnid = 0;
        if (batch == NULL && !sync && !grew && wr->rstop)
            break;
        if (sync && wr->nometasync)
            sync = meta_needs_sync(wr, need);
        uint64_t upto = wr->committed_txnid; /* every meta written before the flush */
        hcp_mutex_unlock(&wr->rmu);
        bool ok = finish_batches(n, batch, sync, grew, &head);
        hcp_mutex_lock(&wr->rmu);
        if (sync && ok && upto > wr->synced_txnid)
            wr->synced_txnid = upto;
    }
    hcp_mutex_unlock(&wr->rmu);
    return NULL;
}

/* A batch that wrote nothing: every item says why, and that it may retry. */
static void fail_all(node_write *batch, int rc)
{
    for (node_write *w = batch; w != NULL; w = wnext(w)) {
        if (rc == HCP_ENOSPC)
            answer_error(w, 503, "storage_full",
                         "the disk is full; nothing was written, retry when there is room");
        else if (rc == HCP_EFULL)
            answer_error(w, 503, "storage_full",
                         "the store reached its size ceiling (map-max-mib); nothing was written");
        else
            answer_error(w, 503, "storage_error", hcp_strerror(rc));
    }
}

static void on_later(uv_timer_t *t);

/* The node's own items that must not be lost with a failed batch (the end
 * of a restore, the recount) are taken out of it and queued again after
 * WRITER_LATER_MS; the rest of the batch is returned. */
static node_write *keep_for_later(node *n, node_write *batch)
{
    node_writer *wr = n->writer;
    node_write *rest = NULL, **tail = &rest;
    for (node_write *w = batch, *next; w != NULL; w = next) {
        next = wnext(w);
        w->link.next = NULL;
        if (w->req == NULL && (w->kind == W_SYNCED || w->kind == W_RECOUNT) &&
            !hcpd_gc_stopping(wr->gc)) {
            json_decref(w->reply);
            w->reply = NULL;
            w->now = 0;
            w->link.next = wr->later != NULL ? &wr->later->link : NULL;
            wr->later = w;
            continue;
        }
        *tail = w;
        tail = (node_write **)&w->link.next;
    }
    if (wr->later != NULL && !uv_is_active((uv_handle_t *)&wr->later_timer) &&
        uv_timer_start(&wr->later_timer, on_later, WRITER_LATER_MS, 0) != 0)
        node_log("error", "writer.later_failed", "detail=\"the timer is closing\"");
    return rest;
}

/* Tell the commit hook (node_writer_on_commit) of the new head. */
static void commit_hook(node_writer *wr, const hcp_chain *ch)
{
    hcp_mutex_lock(&wr->hmu);
    if (wr->on_commit != NULL)
        wr->on_commit(wr->on_commit_arg, ch->seq, ch->head);
    hcp_mutex_unlock(&wr->hmu);
}

void node_writer_on_commit(node_writer *w, node_commit_fn fn, void *arg)
{
    if (w == NULL)
        return;
    hcp_mutex_lock(&w->hmu);
    w->on_commit = fn;
    w->on_commit_arg = fn != NULL ? arg : NULL;
    hcp_mutex_unlock(&w->hmu);
}

/* The outcome of a batch: publish what committed, answer every item. */
static void gc_answer(void *arg, hcpd_gc_item *first, int rc)
{
    node *n = arg;
    node_writer *wr = n->writer;
    node_write *batch = (node_write *)first;
    bool grew = false;
    hcp_chain ch = wr->ch;
    if (rc == HCP_OK) {
        for (node_write *w = batch; w != NULL; w = wnext(w))
            if (w->kind == W_SYNCED) {
                atomic_store(&n->store->needs_sync, false);
                node_log("info", "sync.restored", "head=%llu", (unsigned long long)ch.seq);
            }
        for (node_write *w = batch; w != NULL; w = wnext(w))
            if (w->kind == W_DIRECTIVE) /* the position, before sync hears of the commit */
                node_directive_committed(n, w);
        grew = ch.seq != n->store->chain.seq;
        n->store->chain = ch;
        atomic_store(&n->store->head_seq, ch.seq); /* for readers on other threads */
    } else {
        fail_all(batch, rc);
        batch = keep_for_later(n, batch);
    }
    /* The txnid whose meta page the batch needs durable: this commit's, or
     * the last one's if it wrote nothing; unknown (UINT64_MAX) is never
     * covered by a later commit, so the replier syncs. Read here, on the
     * loop, right after the commit. */
    uint64_t txnid = 0;
    MDB_envinfo info;
    if (rc == HCP_OK)
        txnid = mdb_env_info(n->store->db.env, &info) == MDB_SUCCESS ? (uint64_t)info.me_last_txnid
                                                                     : UINT64_MAX;
    hcpd_gc_stats st;
    hcpd_gc_get_stats(wr->gc, &st);
    wr->stats.commits = st.commits;
    wr->stats.batched = st.items;
    wr->stats.grows = st.grows;
    wr->stats.disk_full = st.disk_full;
    hand_to_replier(n, batch, rc == HCP_OK, txnid, grew, &ch);
}

/* Queued while the writer stops: refused at once. */
static void gc_refuse(void *arg, hcpd_gc_item *it)
{
    (void)arg;
    node_write *w = (node_write *)it;
    w->link.next = NULL;
    answer_error(w, 503, "shutting_down", "the node is stopping");
    reply_all(w);
}

void node_writer_submit(node *n, node_write *w)
{
    hcpd_gc_submit(n->writer->gc, &w->link);
}

/* Items a failed batch kept (keep_for_later): queue them again. */
static void on_later(uv_timer_t *t)
{
    node *n = t->data;
    node_write *w = n->writer->later;
    n->writer->later = NULL;
    while (w != NULL) {
        node_write *next = wnext(w);
        node_writer_submit(n, w);
        w = next;
    }
}

static void on_sweep(uv_timer_t *t)
{
    node *n = t->data;
    node_write *w = node_write_new(W_SWEEP, NULL);
    if (w == NULL) {
        node_log("error", "sweep.nomem", "-");
        return;
    }
    node_writer_submit(n, w);
}

int node_writer_start(node *n)
{
    node_writer *wr = calloc(1, sizeof(*wr));
    if (wr == NULL)
        return HCP_ENOMEM;
    n->writer = wr;
    if (pthread_mutex_init(&wr->rmu, NULL) != 0)
        return HCP_EIO;
    if (pthread_cond_init(&wr->rcond, NULL) != 0) {
        (void)pthread_mutex_destroy(&wr->rmu); /* unused: cannot be busy */
        return HCP_EIO;
    }
    if (pthread_mutex_init(&wr->hmu, NULL) != 0) {
        (void)pthread_cond_destroy(&wr->rcond); /* unused: cannot be busy */
        (void)pthread_mutex_destroy(&wr->rmu);
        return HCP_EIO;
    }
    wr->locks = true;
    /* Commits skip LMDB's meta fsync; the replier syncs before answering
     * (finish_batches). Set only now: the startup's own commits sync as
     * usual, and node_writer_stop clears it again. */
    int mrc = mdb_env_set_flags(n->store->db.env, MDB_NOMETASYNC, 1);
    if (mrc != MDB_SUCCESS)
        return store_err(mrc);
    wr->nometasync = true;
    wr->replier_running = pthread_create(&wr->replier, NULL, replier_main, n) == 0;
    if (!wr->replier_running)
        node_log("warn", "writer.no_replier", "detail=\"replies are sent by the loop\"");
    wr->sweep.data = n;
    wr->later_timer.data = n;
    if (uv_timer_init(n->loop, &wr->sweep) != 0 || uv_timer_init(n->loop, &wr->later_timer) != 0)
        return HCP_EIO;
    wr->timers = true;
    hcpd_gc_cfg cfg = {.loop = n->loop,
                       .env = &n->store->db,
                       .dir = n->cfg.data,
                       .max_items = WRITER_BATCH,
                       .map_max = (size_t)n->cfg.map_max_mib << 20,
                       .ops = {.begin = gc_begin,
                               .item = gc_item,
                               .finish = gc_finish,
                               .abort = gc_abort,
                               .answer = gc_answer,
                               .refuse = gc_refuse},
                       .arg = n};
    int rc = hcpd_gc_start(&cfg, &wr->gc);
    if (rc != HCP_OK)
        return rc;
    uint64_t every = (uint64_t)(n->cfg.sweep_seconds > 0 ? n->cfg.sweep_seconds : 60) * 1000;
    if (uv_timer_start(&wr->sweep, on_sweep, 1000, every) != 0)
        return HCP_EIO;
    node_write *w = node_write_new(W_RECOUNT, NULL);
    if (w != NULL)
        node_writer_submit(n, w);
    return HCP_OK;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

/* Stop: refuse new items, apply what is queued, close the handles (the
 * caller runs the loop once more so their close callbacks fire). */
void node_writer_stop(node *n)
{
    node_writer *wr = n->writer;
    if (wr == NULL)
        return;
    hcpd_gc_stop(wr->gc);
    if (wr->replier_running) { /* let it send what is committed, then end */
        hcp_mutex_lock(&wr->rmu);
        wr->rstop = true;
        (void)hcp_cond_signal(&wr->rcond); /* fails only for a cond never made */
        hcp_mutex_unlock(&wr->rmu);
        if (pthread_join(wr->replier, NULL) != 0) /* only for a thread not joinable */
            node_log("error", "writer.join_failed", "thread=replier");
        wr->replier_running = false;
    }
    if (wr->nometasync) { /* every batch was synced by the replier; later commits sync as usual */
        int mrc = mdb_env_set_flags(n->store->db.env, MDB_NOMETASYNC, 0);
        if (mrc == MDB_SUCCESS)
            mrc = mdb_env_sync(n->store->db.env, 1);
        if (mrc != MDB_SUCCESS)
            node_log("error", "store.sync_failed", "err=\"%s\"", mdb_strerror(mrc));
        wr->nometasync = false;
    }
    node_write *w = wr->later; /* kept for a retry that will not come */
    wr->later = NULL;
    while (w != NULL) {
        node_write *next = wnext(w);
        node_write_free(w);
        w = next;
    }
    if (wr->timers) {
        (void)uv_timer_stop(&wr->sweep); /* always 0 */
        (void)uv_timer_stop(&wr->later_timer);
        uv_close((uv_handle_t *)&wr->sweep, on_closed);
        uv_close((uv_handle_t *)&wr->later_timer, on_closed);
    }
}

void node_writer_free(node *n)
{
    if (n->writer == NULL)
        return;
    node_writer *wr = n->writer;
    hcpd_gc_free(wr->gc);
    if (wr->locks) { /* every thread using them has ended: destroy cannot find them busy */
        (void)pthread_mutex_destroy(&wr->rmu);
        (void)pthread_cond_destroy(&wr->rcond);
        (void)pthread_mutex_destroy(&wr->hmu);
    }
    free(wr);
    n->writer = NULL;
}
