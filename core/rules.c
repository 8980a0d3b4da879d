/*
 * rules.c — the regulation as one state machine (the regulation's Art. 6–9).
 *
 * hcp_rules_apply works in two phases: check (pure, may refuse) and commit
 * (copies strings first, then assigns), so a refused or failed step leaves
 * the case exactly as it was. Each refusal names a stable rule id; the
 * table in docs/rules.md lists them.
 */
#include "rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fill *why and return HCP_ERULE. */
static int refuse(hcp_refusal *why, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(hcp_refusal *why, const char *rule, const char *fmt, ...)
{
    if (why != NULL) {
        va_list ap;
        va_start(ap, fmt);
        why->rule = rule;
        vsnprintf(why->detail, sizeof(why->detail), fmt, ap);
        va_end(ap);
    }
    return HCP_ERULE;
}

/* A short RFC 3339 rendering for refusal texts (static buffers: one per slot). */
static const char *ts(hcp_time t, int slot)
{
    static _Thread_local char buf[3][HCP_TIME_STRLEN];
    if (hcp_time_format(t, buf[slot], sizeof(buf[slot])) != HCP_OK)
        snprintf(buf[slot], sizeof(buf[slot]), "%lld", (long long)t);
    return buf[slot];
}

static const char *status_name(uint8_t st)
{
    return st > HCP_ST_NONE && st < HCP_ST_COUNT_ ? hcp_status_names[st] : "none";
}

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* n working days after `from`, into *due. */
static int due_after(const hcp_cal *cal, hcp_time from, int n, hcp_due *due)
{
    hcp_due d = {0, false};
    int rc = hcp_cal_add_workdays(cal, from, n, &d.at, &d.provisional);
    if (rc == HCP_OK)
        *due = d;
    return rc;
}

/* ---- case_open ---- */

static int check_open(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    const hcp_intake *in = &ev->in;
    if (c->status != HCP_ST_NONE)
        return refuse(why, "case_exists", "case %s was already opened", ev->case_id);
    if (ev->case_id[0] == '\0' || strlen(ev->county) != HCP_COUNTY_LEN)
        return HCP_EINVAL;
    if (in->kind == HCP_KIND_REVIEW && (in->rating < 1 || in->rating > 2))
        return refuse(why, "review_not_negative",
                      "a review case needs a rating of 1 or 2 (Art. 2), got %u", in->rating);
    if (in->kind == HCP_KIND_COMPLAINT && in->rating != 0)
        return refuse(why, "complaint_has_rating", "a complaint carries no rating");
    if (in->kind != HCP_KIND_REVIEW && in->kind != HCP_KIND_COMPLAINT)
        return HCP_EINVAL;
    return HCP_OK;
}

static int apply_open(hcp_case *c, const hcp_event *ev, const hcp_cal *cal)
{
    hcp_due fb;
    int rc = due_after(cal, ev->at, HCP_FEEDBACK_DAYS, &fb);
    if (rc != HCP_OK)
        return rc;
    hcp_case n;
    memset(&n, 0, sizeof(n));
    if ((rc = hcp_intake_copy(&n.in, &ev->in)) != HCP_OK)
        return rc;
    memcpy(n.id, ev->case_id, sizeof(n.id));
    memcpy(n.county, ev->county, sizeof(n.county));
    n.real_name = hcp_intake_real_name(&n.in);
    n.reachable = hcp_intake_reachable(&n.in);
    n.received_at = ev->at;
    n.status = HCP_ST_RECEIVED;
    n.adopted = true;
    n.feedback_due = fb;
    n.last_at = ev->at;
    *c = n;
    return HCP_OK;
}

/* ---- the handling steps: check ---- */

/* Statuses from which staff may be notified or may dispute. */
static bool dispute_status(uint8_t st)
{
    return st == HCP_ST_RECEIVED || st == HCP_ST_VERIFYING || st == HCP_ST_RECTIFYING ||
           st == HCP_ST_FEEDBACK_PENDING;
}

static int want_status(const hcp_case *c, uint8_t st, const char *step, hcp_refusal *why)
{
    if (c->status == st)
        return HCP_OK;
    return refuse(why, "wrong_status", "%s needs a case in status %s; %s is %s", step,
                  status_name(st), c->id, status_name(c->status));
}

static int check_notify(const hcp_case *c, hcp_refusal *why)
{
    if (c->notified_at != 0)
        return refuse(why, "staff_already_notified", "staff were notified at %s",
                      ts(c->notified_at, 0));
    if (!dispute_status(c->status))
        return refuse(why, "wrong_status", "staff cannot be notified of a case in status %s",
                      status_name(c->status));
    return HCP_OK;
}

static int check_dispute_file(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (!nonempty(ev->by) || !nonempty(ev->reason))
        return HCP_EINVAL;
    if (c->notified_at == 0)
        return refuse(why, "staff_not_notified",
                      "a re-review can be applied for only after the staff were notified (Art. 9)");
    if (c->disputed_at != 0)
        return refuse(why, "dispute_already_filed", "a re-review was applied for at %s",
                      ts(c->disputed_at, 0));
    if (!dispute_status(c->status))
        return refuse(why, "wrong_status", "a case in status %s cannot be disputed",
                      status_name(c->status));
    if (ev->at > c->dispute_due.at)
        return refuse(why, "dispute_window_closed",
                      "the staff were notified at %s; the 2-working-day window for a re-review "
                      "closed at %s (Art. 9); the application is dated %s",
                      ts(c->notified_at, 0), ts(c->dispute_due.at, 1), ts(ev->at, 2));
    return HCP_OK;
}

static int check_decide(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (ev->verdict <= HCP_VD_NONE || ev->verdict >= HCP_VD_COUNT_)
        return HCP_EINVAL;
    int rc = want_status(c, HCP_ST_DISPUTED, "dispute_decide", why);
    /* a review set aside at the second it was disputed was not re-reviewed:
     * it takes the case out of every count, so the rule holds it back */
    if (rc == HCP_OK && ev->verdict != HCP_VD_UPHELD && ev->at <= c->disputed_at)
        return refuse(why, "dispute_decided_at_filing",
                      "the re-review was applied for at %s; a decision that the review was %s "
                      "needs the re-review to have taken place, not the same second (Art. 9)",
                      ts(c->disputed_at, 0), hcp_verdict_names[ev->verdict]);
    return rc;
}

static int check_conclude(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (ev->outcome != HCP_OUT_SUBSTANTIATED && ev->outcome != HCP_OUT_UNSUBSTANTIATED)
        return HCP_EINVAL;
    return want_status(c, HCP_ST_VERIFYING, "verify_conclude", why);
}

static int check_assign(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (!nonempty(ev->unit.code) || !nonempty(ev->unit.name) || ev->mode <= HCP_RM_NONE ||
        ev->mode >= HCP_RM_COUNT_)
        return HCP_EINVAL;
    return want_status(c, HCP_ST_RECTIFYING, "rectify_assign", why);
}

static int check_extend(const hcp_case *c, const hcp_event *ev, const hcp_cal *cal,
                        hcp_refusal *why)
{
    if (!nonempty(ev->reason))
        return refuse(why, "extension_needs_reason",
                      "an extension needs a stated reason told to the complainant (Art. 8)");
    int rc = want_status(c, HCP_ST_RECTIFYING, "rectify_extend", why);
    if (rc != HCP_OK)
        return rc;
    if (c->rectify_mode == HCP_RM_NONE)
        return refuse(why, "rectification_not_assigned",
                      "assign the rectification before extending it");
    if (c->rectify_mode == HCP_RM_IMMEDIATE)
        return refuse(why, "immediate_cannot_extend",
                      "an immediate (立行立改) rectification cannot be extended (Art. 8)");
    hcp_time new_due = hcp_day_end(ev->new_due);
    if (ev->new_due <= 0 || new_due <= c->feedback_due.at)
        return refuse(why, "extension_not_later",
                      "the new deadline %s is not later than the current one %s", ts(new_due, 0),
                      ts(c->feedback_due.at, 1));
    if (!hcp_cal_is_workday(cal, ev->new_due))
        return refuse(why, "extension_not_working_day", "the new deadline %s is not a working day",
                      ts(new_due, 0));
    if (ev->at > c->feedback_due.at)
        return refuse(why, "extension_after_deadline",
                      "the feedback deadline %s had passed when the extension was made (%s)",
                      ts(c->feedback_due.at, 0), ts(ev->at, 1));
    return HCP_OK;
}

static int check_done(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (!nonempty(ev->result))
        return HCP_EINVAL;
    int rc = want_status(c, HCP_ST_RECTIFYING, "rectify_done", why);
    if (rc == HCP_OK && c->rectify_mode == HCP_RM_NONE)
        return refuse(why, "rectification_not_assigned",
                      "no responsible unit was assigned to rectify (Art. 8)");
    return rc;
}

static int check_feedback(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (!nonempty(ev->via) || !nonempty(ev->text))
        return HCP_EINVAL;
    return want_status(c, HCP_ST_FEEDBACK_PENDING, "feedback", why);
}

static int check_revisit(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (!nonempty(ev->by))
        return HCP_EINVAL;
    if (c->status != HCP_ST_AWAITING_REVISIT && c->status != HCP_ST_RESOLVED)
        return refuse(why, "wrong_status", "a revisit follows the feedback; %s is in status %s",
                      c->id, status_name(c->status));
    return HCP_OK;
}

/* Whether the last revisit found the complainant unsatisfied and sent the
 * case back to rectification (commit_step, HCP_EV_REVISIT). */
static bool back_from_revisit(const hcp_case *c)
{
    return c->status == HCP_ST_RECTIFYING && c->revisited_at != 0 && !c->revisit_satisfied;
}

static int check_close(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (c->status == HCP_ST_AWAITING_REVISIT)
        return refuse(why, "revisit_required",
                      "a substantiated case whose complainant can be reached must be revisited "
                      "before it closes (Art. 8: revisit rate 100%%)");
    if (back_from_revisit(c)) {
        if (nonempty(ev->decision))
            return HCP_OK; /* a supervisor's written decision to close it anyway */
        return refuse(why, "revisit_unsatisfied",
                      "the complainant was not satisfied at the revisit of %s: rectify again, or "
                      "record a supervisor's written decision (decision) to close anyway",
                      ts(c->revisited_at, 0));
    }
    return want_status(c, HCP_ST_RESOLVED, "close", why);
}

/* Whether deadline k of c runs (its step not made yet), and when it is
 * due: what overdue_at and hcp_case_deadline_running share. */
static bool running(const hcp_case *c, int k, hcp_time *due)
{
    switch (k) {
    case HCP_DL_FEEDBACK:
        *due = c->feedback_due.at;
        return c->adopted && c->feedback_at == 0 && c->status != HCP_ST_CLOSED &&
               c->feedback_due.at != 0;
    case HCP_DL_REREVIEW:
        *due = c->rereview_due.at;
        return c->disputed_at != 0 && c->decided_at == 0;
    default:
        *due = 0;
        return false; /* the dispute window is the staff's right, not a duty */
    }
}

/* Whether deadline kind k is running and unmet at t. */
static bool overdue_at(const hcp_case *c, int k, hcp_time t)
{
    hcp_time due;
    return running(c, k, &due) && t > due;
}

static int check_overdue(const hcp_case *c, const hcp_event *ev, hcp_refusal *why)
{
    if (ev->deadline != HCP_DL_FEEDBACK && ev->deadline != HCP_DL_REREVIEW)
        return HCP_EINVAL;
    if (c->overdue_marked & (1u << ev->deadline))
        return refuse(why, "already_overdue", "the %s deadline was already marked overdue",
                      hcp_deadline_names[ev->deadline]);
    if (!overdue_at(c, ev->deadline, ev->at))
        return refuse(why, "not_overdue", "the %s deadline has not passed unmet at %s",
                      hcp_deadline_names[ev->deadline], ts(ev->at, 0));
    return HCP_OK;
}

/* Common checks on `at`, then the step's own. */
static int check_step(const hcp_case *c, const hcp_event *ev, const hcp_cal *cal, hcp_refusal *why)
{
    if (c->status <= HCP_ST_NONE || c->status >= HCP_ST_COUNT_)
        return HCP_EINVAL;
    if (c->status == HCP_ST_CLOSED)
        return refuse(why, "case_closed", "case %s was closed at %s", c->id, ts(c->closed_at, 0));
    /* an overdue mark is the sweep's observation, not a step: it may be
     * later than steps entered afterwards from paper records */
    if (ev->type != HCP_EV_OVERDUE && ev->at < c->last_at)
        return refuse(why, "at_before_previous_step",
                      "the step is dated %s, before the case's previous step at %s", ts(ev->at, 0),
                      ts(c->last_at, 1));
    switch (ev->type) {
    case HCP_EV_VERIFY_START:
        if (!nonempty(ev->verifier.name))
            return HCP_EINVAL;
        return want_status(c, HCP_ST_RECEIVED, "verify_start", why);
    case HCP_EV_NOTIFY_STAFF:
        return check_notify(c, why);
    case HCP_EV_VERIFY_CONCLUDE:
        return check_conclude(c, ev, why);
    case HCP_EV_DISPUTE_FILE:
        return check_dispute_file(c, ev, why);
    case HCP_EV_DISPUTE_DECIDE:
        return check_decide(c, ev, why);
    case HCP_EV_RECTIFY_ASSIGN:
        return check_assign(c, ev, why);
    case HCP_EV_RECTIFY_EXTEND:
        return check_extend(c, ev, cal, why);
    case HCP_EV_RECTIFY_DONE:
        return check_done(c, ev, why);
    case HCP_EV_FEEDBACK:
        return check_feedback(c, ev, why);
    case HCP_EV_REVISIT:
        return check_revisit(c, ev, why);
    case HCP_EV_CLOSE:
        return check_close(c, ev, why);
    case HCP_EV_OVERDUE:
        return check_overdue(c, ev, why);
    default:
        return HCP_EINVAL;
    }
}

/* ---- the handling steps: commit ---- */

/* Strings a step stores into the case, copied before anything changes. */
typedef struct step_copy {
    char *a, *b, *c;
} step_copy;

static void step_copy_free(step_copy *s)
{
    free(s->a);
    free(s->b);
    free(s->c);
}

static bool dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return true;
    *dst = hcp_strndup(src, strlen(src));
    return *dst != NULL;
}

/* Copy the strings the step will keep; false on allocation failure. */
static bool prepare_copy(const hcp_event *ev, step_copy *s)
{
    memset(s, 0, sizeof(*s));
    bool ok = true;
    switch (ev->type) {
    case HCP_EV_VERIFY_START:
        ok = dup_opt(&s->a, ev->verifier.name) && dup_opt(&s->b, ev->verifier.phone);
        break;
    case HCP_EV_RECTIFY_ASSIGN:
        ok = dup_opt(&s->a, ev->unit.code) && dup_opt(&s->b, ev->unit.name);
        break;
    case HCP_EV_RECTIFY_DONE:
        ok = dup_opt(&s->a, ev->result);
        break;
    default:
        break;
    }
    if (!ok)
        step_copy_free(s);
    return ok;
}

static void swap_str(char **field, char **fresh)
{
    free(*field);
    *field = *fresh;
    *fresh = NULL;
}

static void commit_dispute(hcp_case *c, const hcp_event *ev, const hcp_due *due)
{
    if (ev->type == HCP_EV_DISPUTE_FILE) {
        c->status_before_dispute = c->status;
        c->status = HCP_ST_DISPUTED;
        c->disputed_at = ev->at;
        c->rereview_due = *due;
        return;
    }
    c->decided_at = ev->at;
    if (ev->verdict == HCP_VD_UPHELD) {
        c->status = c->status_before_dispute;
        return;
    }
    /* Art. 9: a mistaken or malicious review is not adopted */
    c->outcome = ev->verdict == HCP_VD_MISTAKEN ? HCP_OUT_MISTAKEN : HCP_OUT_MALICIOUS;
    c->adopted = false;
    c->status = HCP_ST_CLOSED;
    c->closed_at = ev->at;
}

/* Whether feedback leaves the case owing a revisit (Art. 8): found true, and
 * the complainant can be reached (a phone) or is real-name (cases stored
 * before `reachable` existed keep owing theirs). */
static bool revisit_owed(const hcp_case *c)
{
    return c->outcome == HCP_OUT_SUBSTANTIATED && (c->reachable || c->real_name);
}

/* Assign the step's effects; nothing here can fail. */
static void commit_step(hcp_case *c, const hcp_event *ev, step_copy *s, const hcp_due *due)
{
    switch (ev->type) {
    case HCP_EV_VERIFY_START:
        swap_str(&c->verifier.name, &s->a);
        swap_str(&c->verifier.phone, &s->b);
        c->status = HCP_ST_VERIFYING;
        break;
    case HCP_EV_NOTIFY_STAFF:
        c->notified_at = ev->at;
        c->dispute_due = *due;
        break;
    case HCP_EV_VERIFY_CONCLUDE:
        c->outcome = ev->outcome;
        c->status =
            ev->outcome == HCP_OUT_SUBSTANTIATED ? HCP_ST_RECTIFYING : HCP_ST_FEEDBACK_PENDING;
        break;
    case HCP_EV_DISPUTE_FILE:
    case HCP_EV_DISPUTE_DECIDE:
        commit_dispute(c, ev, due);
        break;
    case HCP_EV_RECTIFY_ASSIGN:
        swap_str(&c->rectify_unit.code, &s->a);
        swap_str(&c->rectify_unit.name, &s->b);
        c->rectify_mode = ev->mode;
        break;
    case HCP_EV_RECTIFY_EXTEND:
        c->feedback_due = *due; /* provisional in a year the calendar does not cover */
        c->feedback_extended = true;
        break;
    case HCP_EV_RECTIFY_DONE:
        swap_str(&c->rectification_result, &s->a);
        c->status = HCP_ST_FEEDBACK_PENDING;
        break;
    case HCP_EV_FEEDBACK:
        if (c->feedback_at == 0) /* the deadline is met (or not) by the first feedback */
            c->feedback_at = ev->at;
        /* Art. 8: every case found true whose complainant can be reached is revisited */
        c->status = revisit_owed(c) ? HCP_ST_AWAITING_REVISIT : HCP_ST_RESOLVED;
        break;
    case HCP_EV_REVISIT:
        c->revisited_at = ev->at;
        c->revisit_satisfied = ev->satisfied;
        /* an unsatisfied complainant of a case found true: rectify again */
        c->status = !ev->satisfied && c->adopted && c->outcome == HCP_OUT_SUBSTANTIATED
                        ? HCP_ST_RECTIFYING
                        : HCP_ST_RESOLVED;
        break;
    case HCP_EV_CLOSE:
        c->status = HCP_ST_CLOSED;
        c->closed_at = ev->at;
        break;
    case HCP_EV_OVERDUE:
        c->overdue_marked |= (uint8_t)(1u << ev->deadline);
        break;
    default:
        break;
    }
}

/* The deadline a step starts, if any. */
static int step_due(const hcp_event *ev, const hcp_cal *cal, hcp_due *due)
{
    memset(due, 0, sizeof(*due));
    if (ev->type == HCP_EV_NOTIFY_STAFF)
        return due_after(cal, ev->at, HCP_DISPUTE_DAYS, due);
    if (ev->type == HCP_EV_DISPUTE_FILE)
        return due_after(cal, ev->at, HCP_REREVIEW_DAYS, due);
    if (ev->type == HCP_EV_RECTIFY_EXTEND) { /* an explicit day: firm only in a known year */
        due->at = hcp_day_end(ev->new_due);
        due->provisional = !hcp_cal_known(cal, ev->new_due);
    }
    return HCP_OK;
}

static int apply_step(hcp_case *c, const hcp_event *ev, const hcp_cal *cal, hcp_refusal *why)
{
    int rc = check_step(c, ev, cal, why);
    if (rc != HCP_OK)
        return rc;
    hcp_due due;
    if ((rc = step_due(ev, cal, &due)) != HCP_OK)
        return rc;
    step_copy s;
    if (!prepare_copy(ev, &s))
        return HCP_ENOMEM;
    commit_step(c, ev, &s, &due);
    step_copy_free(&s);
    if (ev->type != HCP_EV_OVERDUE)
        c->last_at = ev->at;
    return HCP_OK;
}

/* A failed spot-check finding re-opens a resolved or closed case
 * (docs/spotchecks.md): back to rectification, with a new feedback
 * deadline counted from the re-open as from a receipt (Art. 8); the
 * earlier feedback, revisit and close no longer stand for it. */
static int apply_reopen(hcp_case *c, const hcp_event *ev, const hcp_cal *cal, hcp_refusal *why)
{
    if (c->status != HCP_ST_RESOLVED && c->status != HCP_ST_CLOSED)
        return refuse(why, "not_closed", "only a resolved or closed case re-opens; %s is %s", c->id,
                      status_name(c->status));
    hcp_due fb;
    int rc = due_after(cal, ev->at, HCP_FEEDBACK_DAYS, &fb);
    if (rc != HCP_OK)
        return rc;
    c->status = HCP_ST_RECTIFYING;
    c->feedback_due = fb;
    c->feedback_extended = false;
    c->feedback_at = 0;
    c->closed_at = 0;
    c->reopened_at = ev->at;
    if (ev->at > c->last_at)
        c->last_at = ev->at;
    return HCP_OK;
}

int hcp_rules_apply(hcp_case *c, const hcp_event *ev, const hcp_cal *cal, hcp_time now,
                    hcp_refusal *why)
{
    if (c == NULL || ev == NULL || cal == NULL || ev->at <= 0)
        return HCP_EINVAL;
    if (ev->at > now + HCP_CLOCK_SKEW)
        return refuse(why, "at_in_future", "the step is dated %s, after now (%s)", ts(ev->at, 0),
                      ts(now, 1));
    int rc;
    if (ev->type == HCP_EV_CONTACT) /* Art. 14's register: never a step of a case */
        return refuse(why, "not_a_step", "a register contact changes no case");
    if (ev->type == HCP_EV_DIRECTIVE || ev->type == HCP_EV_CORRECTION_ANSWER) {
        /* a province correction about the case, or the county's answer
         * (docs/directives.md): notes on the case, whatever its status;
         * they change no state and are not handling steps (last_at stays) */
        if (c->status <= HCP_ST_NONE || c->status >= HCP_ST_COUNT_)
            return refuse(why, "case_not_found", "no case %s to note a directive on", ev->case_id);
        if (ev->directive == 0)
            return HCP_EINVAL;
        rc = ev->type == HCP_EV_DIRECTIVE && ev->reopen ? apply_reopen(c, ev, cal, why) : HCP_OK;
    } else if (ev->type == HCP_EV_CASE_OPEN) {
        if ((rc = check_open(c, ev, why)) != HCP_OK)
            return rc;
        rc = apply_open(c, ev, cal);
    } else {
        if (ev->type != HCP_EV_OVERDUE && ev->at < c->received_at)
            return refuse(why, "at_before_receipt", "the step is dated %s, before receipt at %s",
                          ts(ev->at, 0), ts(c->received_at, 1));
        rc = apply_step(c, ev, cal, why);
    }
    if (rc == HCP_OK) {
        c->nevents++;
        if (ev->seq > c->last_seq)
            c->last_seq = ev->seq;
        if (ev->recorded_at > c->last_recorded_at)
            c->last_recorded_at = ev->recorded_at;
    }
    return rc;
}

bool hcp_event_backdated(const hcp_event *ev, const hcp_cal *cal, int days)
{
    if (ev == NULL || cal == NULL || days < 1 || ev->at <= 0 || ev->recorded_at <= ev->at)
        return false;
    if (ev->type == HCP_EV_NONE || ev->type == HCP_EV_EVALUATION || ev->type == HCP_EV_CASE_OPEN ||
        ev->type == HCP_EV_OVERDUE || ev->type == HCP_EV_CONTACT || ev->type >= HCP_EV_COUNT_)
        return false;
    hcp_due limit;
    if (due_after(cal, ev->at, days, &limit) != HCP_OK)
        return false;
    return ev->recorded_at > limit.at;
}

bool hcp_case_deadline_running(const hcp_case *c)
{
    if (c == NULL)
        return false;
    hcp_time due;
    for (int k = HCP_DL_FEEDBACK; k < HCP_DL_COUNT_; k++)
        if (running(c, k, &due))
            return true;
    return false;
}

unsigned hcp_case_overdue(const hcp_case *c, hcp_time now)
{
    if (c == NULL)
        return 0;
    unsigned bits = 0;
    for (int k = HCP_DL_FEEDBACK; k < HCP_DL_COUNT_; k++)
        if (overdue_at(c, k, now))
            bits |= 1u << k;
    return bits;
}

bool hcp_case_deadline_met(const hcp_case *c, hcp_time now)
{
    if (c == NULL)
        return false;
    /* a recorded overdue is permanent for its deadline: no later step, and
     * no step dated back before the mark, makes that deadline met */
    if (c->overdue_marked & ((1u << HCP_DL_FEEDBACK) | (1u << HCP_DL_REREVIEW)))
        return false;
    if (!c->adopted)
        return true; /* a review not adopted owes nothing */
    hcp_time fb = c->feedback_at != 0 ? c->feedback_at : now;
    if (c->feedback_due.at != 0 && fb > c->feedback_due.at)
        return false;
    if (c->disputed_at != 0) {
        hcp_time dec = c->decided_at != 0 ? c->decided_at : now;
        if (dec > c->rereview_due.at)
            return false;
    }
    return true;
}

int hcp_case_recompute_deadlines(hcp_case *c, const hcp_cal *cal)
{
    if (c == NULL || cal == NULL || c->status == HCP_ST_NONE)
        return HCP_EINVAL;
    hcp_due fb = c->feedback_due, dd = c->dispute_due, rr = c->rereview_due;
    int rc = HCP_OK;
    if (!c->feedback_extended) /* from the receipt, or from a spot check's re-open */
        rc = due_after(cal, c->reopened_at != 0 ? c->reopened_at : c->received_at,
                       HCP_FEEDBACK_DAYS, &fb);
    else if (fb.at != 0) /* the extension keeps its day; known now, it is firm */
        fb.provisional = !hcp_cal_known(cal, hcp_day_of(fb.at));
    if (rc == HCP_OK && c->notified_at != 0)
        rc = due_after(cal, c->notified_at, HCP_DISPUTE_DAYS, &dd);
    if (rc == HCP_OK && c->disputed_at != 0)
        rc = due_after(cal, c->disputed_at, HCP_REREVIEW_DAYS, &rr);
    if (rc != HCP_OK)
        return rc;
    c->feedback_due = fb;
    c->dispute_due = dd;
    c->rereview_due = rr;
    return HCP_OK;
}

hcp_time hcp_case_updated_at(const hcp_case *c)
{
    if (c == NULL)
        return 0;
    return c->last_recorded_at > c->last_at ? c->last_recorded_at : c->last_at;
}
