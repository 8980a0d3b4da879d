/* test_rules.c — every rule of hcp_rules_apply, with dates that cross the
 * 2026 Spring Festival and National Day and their adjusted working days. */
#include "rules_fixture.h"

#include <stdio.h>

static hcp_cal *cal;
static const hcp_time NOW = 1893427200; /* 2030-01-01: later than every test date */

/* Apply a step of `type` at `at` to c; returns the rules' answer. */
static int step(hcp_case *c, int type, const char *at, hcp_refusal *why)
{
    hcp_event ev;
    make_step(&ev, type, T(at));
    int rc = hcp_rules_apply(c, &ev, cal, NOW, why);
    hcp_event_clear(&ev);
    return rc;
}

static void open_case(hcp_case *c, int kind, int rating, bool real_name, const char *at)
{
    hcp_event ev;
    make_open(&ev, kind, rating, real_name, T(at));
    memset(c, 0, sizeof(*c));
    assert_int_equal(hcp_rules_apply(c, &ev, cal, NOW, NULL), HCP_OK);
    hcp_event_clear(&ev);
}

static void expect_refusal(hcp_case *c, int type, const char *at, const char *rule)
{
    hcp_refusal why = {0};
    int rc = step(c, type, at, &why);
    if (rc != HCP_ERULE || strcmp(why.rule, rule) != 0)
        fail_msg("expected refusal %s, got rc=%d rule=%s", rule, rc, why.rule ? why.rule : "-");
}

static void assert_time(hcp_time t, const char *want)
{
    char buf[HCP_TIME_STRLEN];
    assert_int_equal(hcp_time_format(t, buf, sizeof(buf)), HCP_OK);
    assert_string_equal(buf, want);
}

/* Real-name, substantiated, deferred rectification: the whole happy path,
 * and Art. 8's revisit before close. */
static void test_happy_path_real_name(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 1, true, "2026-03-02T09:00:00+08:00");
    assert_int_equal(c.status, HCP_ST_RECEIVED);
    assert_true(c.real_name);
    assert_true(c.adopted);
    assert_int_equal(step(&c, HCP_EV_VERIFY_START, "2026-03-02T10:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_VERIFYING);
    assert_string_equal(c.verifier.name, "李核实");
    assert_int_equal(step(&c, HCP_EV_VERIFY_CONCLUDE, "2026-03-03T10:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_RECTIFYING);
    assert_int_equal(c.outcome, HCP_OUT_SUBSTANTIATED);
    expect_refusal(&c, HCP_EV_RECTIFY_DONE, "2026-03-03T11:00:00+08:00",
                   "rectification_not_assigned");
    assert_int_equal(step(&c, HCP_EV_RECTIFY_ASSIGN, "2026-03-03T11:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(step(&c, HCP_EV_RECTIFY_DONE, "2026-03-05T11:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_FEEDBACK_PENDING);
    assert_string_equal(c.rectification_result, "已完成整改，优化材料清单");
    assert_int_equal(step(&c, HCP_EV_FEEDBACK, "2026-03-06T11:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_AWAITING_REVISIT);
    assert_true(hcp_case_deadline_met(&c, NOW));
    expect_refusal(&c, HCP_EV_CLOSE, "2026-03-06T12:00:00+08:00", "revisit_required");
    assert_int_equal(step(&c, HCP_EV_REVISIT, "2026-03-09T11:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_RESOLVED);
    assert_int_equal(step(&c, HCP_EV_CLOSE, "2026-03-09T12:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_CLOSED);
    assert_int_equal(c.nevents, 8);
    expect_refusal(&c, HCP_EV_REVISIT, "2026-03-10T12:00:00+08:00", "case_closed");
    hcp_case_clear(&c);
}

/* An anonymous review found untrue: feedback, then close without revisit. */
static void test_anonymous_unsubstantiated(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 2, false, "2026-03-02T09:00:00+08:00");
    assert_false(c.real_name);
    expect_refusal(&c, HCP_EV_VERIFY_CONCLUDE, "2026-03-02T09:30:00+08:00", "wrong_status");
    assert_int_equal(step(&c, HCP_EV_VERIFY_START, "2026-03-02T10:00:00+08:00", NULL), HCP_OK);
    hcp_event ev;
    make_step(&ev, HCP_EV_VERIFY_CONCLUDE, T("2026-03-02T11:00:00+08:00"));
    ev.outcome = HCP_OUT_UNSUBSTANTIATED;
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, NULL), HCP_OK);
    hcp_event_clear(&ev);
    assert_int_equal(c.status, HCP_ST_FEEDBACK_PENDING);
    expect_refusal(&c, HCP_EV_CLOSE, "2026-03-02T11:30:00+08:00", "wrong_status");
    assert_int_equal(step(&c, HCP_EV_FEEDBACK, "2026-03-02T12:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_RESOLVED);
    assert_int_equal(step(&c, HCP_EV_CLOSE, "2026-03-02T13:00:00+08:00", NULL), HCP_OK);
    hcp_case_clear(&c);
}

/* A real-name complaint found untrue needs no revisit (only rectified cases). */
static void test_real_name_unsubstantiated_no_revisit(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_COMPLAINT, 0, true, "2026-03-02T09:00:00+08:00");
    assert_int_equal(step(&c, HCP_EV_VERIFY_START, "2026-03-02T10:00:00+08:00", NULL), HCP_OK);
    hcp_event ev;
    make_step(&ev, HCP_EV_VERIFY_CONCLUDE, T("2026-03-02T11:00:00+08:00"));
    ev.outcome = HCP_OUT_UNSUBSTANTIATED;
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, NULL), HCP_OK);
    hcp_event_clear(&ev);
    assert_true(hcp_case_deadline_running(&c)); /* the feedback's */
    assert_int_equal(step(&c, HCP_EV_FEEDBACK, "2026-03-02T12:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_RESOLVED);
    assert_false(hcp_case_deadline_running(&c)); /* fed back, no dispute */
    hcp_case_clear(&c);
}

/* Spring Festival 2026: received Friday 02-13; 02-14 is an adjusted working
 * Saturday, 02-15..23 are off, so 5 working days end on 02-27. */
static void test_feedback_deadline_spring_festival(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 1, true, "2026-02-13T10:00:00+08:00");
    assert_time(c.feedback_due.at, "2026-02-27T23:59:59+08:00");
    assert_false(c.feedback_due.provisional);
    assert_int_equal(hcp_case_overdue(&c, T("2026-02-27T23:59:59+08:00")), 0);
    assert_int_equal(hcp_case_overdue(&c, T("2026-02-28T00:00:00+08:00")), 1u << HCP_DL_FEEDBACK);
    assert_false(hcp_case_deadline_met(&c, T("2026-03-01T00:00:00+08:00")));
    assert_true(hcp_case_deadline_running(&c)); /* before and after it passes */
    assert_false(hcp_case_deadline_running(NULL));
    hcp_case_clear(&c);
}

/* Staff notified Friday 02-13: the dispute window is 02-14 (working Saturday)
 * and 02-24; the re-review then runs 5 working days through 03-02. */
static void test_dispute_upheld_spring_festival(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 1, true, "2026-02-13T10:00:00+08:00");
    expect_refusal(&c, HCP_EV_DISPUTE_FILE, "2026-02-13T10:30:00+08:00", "staff_not_notified");
    assert_int_equal(step(&c, HCP_EV_NOTIFY_STAFF, "2026-02-13T11:00:00+08:00", NULL), HCP_OK);
    assert_time(c.dispute_due.at, "2026-02-24T23:59:59+08:00");
    expect_refusal(&c, HCP_EV_NOTIFY_STAFF, "2026-02-13T11:30:00+08:00", "staff_already_notified");
    assert_int_equal(step(&c, HCP_EV_DISPUTE_FILE, "2026-02-24T20:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_DISPUTED);
    assert_time(c.rereview_due.at, "2026-03-02T23:59:59+08:00");
    expect_refusal(&c, HCP_EV_VERIFY_START, "2026-02-25T09:00:00+08:00", "wrong_status");
    expect_refusal(&c, HCP_EV_DISPUTE_FILE, "2026-02-25T09:00:00+08:00", "dispute_already_filed");
    assert_int_equal(hcp_case_overdue(&c, T("2026-03-03T00:00:00+08:00")),
                     (1u << HCP_DL_REREVIEW) | (1u << HCP_DL_FEEDBACK));
    assert_true(hcp_case_deadline_running(&c));
    assert_int_equal(step(&c, HCP_EV_DISPUTE_DECIDE, "2026-02-26T09:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.status, HCP_ST_RECEIVED); /* upheld: back where it was */
    assert_true(c.adopted);
    assert_true(hcp_case_deadline_running(&c)); /* the feedback's, still */
    expect_refusal(&c, HCP_EV_DISPUTE_DECIDE, "2026-02-26T10:00:00+08:00", "wrong_status");
    hcp_case_clear(&c);
}

/* National Day 2026: notified Wednesday 09-30, 10-01..07 off, so the window
 * ends 10-09; filing on the adjusted working Saturday 10-10 is too late. */
static void test_dispute_window_closed_national_day(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 2, true, "2026-09-30T09:00:00+08:00");
    assert_time(c.feedback_due.at, "2026-10-13T23:59:59+08:00");
    assert_int_equal(step(&c, HCP_EV_NOTIFY_STAFF, "2026-09-30T10:00:00+08:00", NULL), HCP_OK);
    assert_time(c.dispute_due.at, "2026-10-09T23:59:59+08:00");
    hcp_refusal why = {0};
    assert_int_equal(step(&c, HCP_EV_DISPUTE_FILE, "2026-10-10T09:00:00+08:00", &why), HCP_ERULE);
    assert_string_equal(why.rule, "dispute_window_closed");
    assert_non_null(strstr(why.detail, "2026-10-09T23:59:59+08:00"));
    assert_non_null(strstr(why.detail, "2026-10-10T09:00:00+08:00"));
    assert_int_equal(c.status, HCP_ST_RECEIVED);
    hcp_case_clear(&c);
}

/* Mistaken and malicious reviews close the case, not adopted (Art. 9). */
static void test_dispute_not_adopted(void **state)
{
    (void)state;
    for (int v = HCP_VD_MISTAKEN; v <= HCP_VD_MALICIOUS; v++) {
        hcp_case c;
        open_case(&c, HCP_KIND_REVIEW, 1, true, "2026-03-02T09:00:00+08:00");
        assert_int_equal(step(&c, HCP_EV_VERIFY_START, "2026-03-02T09:10:00+08:00", NULL), HCP_OK);
        assert_int_equal(step(&c, HCP_EV_NOTIFY_STAFF, "2026-03-02T09:20:00+08:00", NULL), HCP_OK);
        assert_int_equal(step(&c, HCP_EV_DISPUTE_FILE, "2026-03-03T09:00:00+08:00", NULL), HCP_OK);
        hcp_event ev;
        make_step(&ev, HCP_EV_DISPUTE_DECIDE, T("2026-03-05T09:00:00+08:00"));
        ev.verdict = (uint8_t)v;
        assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, NULL), HCP_OK);
        hcp_event_clear(&ev);
        assert_int_equal(c.status, HCP_ST_CLOSED);
        assert_false(c.adopted);
        assert_int_equal(c.outcome, v == HCP_VD_MISTAKEN ? HCP_OUT_MISTAKEN : HCP_OUT_MALICIOUS);
        assert_int_equal(hcp_case_overdue(&c, NOW), 0);
        assert_false(hcp_case_deadline_running(&c)); /* closed, decided: nothing runs */
        assert_true(hcp_case_deadline_met(&c, NOW));
        expect_refusal(&c, HCP_EV_CLOSE, "2026-03-06T09:00:00+08:00", "case_closed");
        hcp_case_clear(&c);
    }
}

/* Bring a fresh case to rectifying with a deferred (or immediate) mode. */
static void to_rectifying(hcp_case *c, int mode, const char *received)
{
    open_case(c, HCP_KIND_COMPLAINT, 0, true, received);
    hcp_time t = c->received_at;
    hcp_event ev;
    int types[] = {HCP_EV_VERIFY_START, HCP_EV_VERIFY_CONCLUDE, HCP_EV_RECTIFY_ASSIGN};
    for (size_t i = 0; i < 3; i++) {
        make_step(&ev, types[i], t + 600 * (hcp_time)(i + 1));
        if (types[i] == HCP_EV_RECTIFY_ASSIGN)
            ev.mode = (uint8_t)mode;
        assert_int_equal(hcp_rules_apply(c, &ev, cal, NOW, NULL), HCP_OK);
        hcp_event_clear(&ev);
    }
}

static int extend(hcp_case *c, const char *at, const char *new_due, const char *reason,
                  hcp_refusal *why)
{
    hcp_event ev;
    make_step(&ev, HCP_EV_RECTIFY_EXTEND, T(at));
    ev.new_due = D(new_due);
    if (reason == NULL) {
        free(ev.reason);
        ev.reason = NULL;
    }
    int rc = hcp_rules_apply(c, &ev, cal, NOW, why);
    hcp_event_clear(&ev);
    return rc;
}

/* Art. 8: only an extension with a reason and a later working day moves
 * the feedback deadline, and only while it still runs. */
static void test_extension(void **state)
{
    (void)state;
    hcp_case c;
    hcp_refusal why = {0};
    to_rectifying(&c, HCP_RM_DEFERRED, "2026-03-02T09:00:00+08:00");
    assert_time(c.feedback_due.at, "2026-03-09T23:59:59+08:00");
    assert_int_equal(extend(&c, "2026-03-04T09:00:00+08:00", "2026-03-20", NULL, &why), HCP_ERULE);
    assert_string_equal(why.rule, "extension_needs_reason");
    assert_int_equal(extend(&c, "2026-03-04T09:00:00+08:00", "2026-03-09", "x", &why), HCP_ERULE);
    assert_string_equal(why.rule, "extension_not_later");
    assert_int_equal(extend(&c, "2026-03-04T09:00:00+08:00", "2026-03-22", "x", &why), HCP_ERULE);
    assert_string_equal(why.rule, "extension_not_working_day"); /* a Sunday */
    assert_int_equal(extend(&c, "2026-03-10T09:00:00+08:00", "2026-03-20", "x", &why), HCP_ERULE);
    assert_string_equal(why.rule, "extension_after_deadline");
    assert_time(c.feedback_due.at, "2026-03-09T23:59:59+08:00");
    assert_int_equal(extend(&c, "2026-03-04T09:00:00+08:00", "2026-03-20", "x", NULL), HCP_OK);
    assert_time(c.feedback_due.at, "2026-03-20T23:59:59+08:00");
    assert_true(c.feedback_extended);
    assert_int_equal(hcp_case_overdue(&c, T("2026-03-15T00:00:00+08:00")), 0);
    hcp_case_clear(&c);

    to_rectifying(&c, HCP_RM_IMMEDIATE, "2026-03-02T09:00:00+08:00");
    assert_int_equal(extend(&c, "2026-03-04T09:00:00+08:00", "2026-03-20", "x", &why), HCP_ERULE);
    assert_string_equal(why.rule, "immediate_cannot_extend");
    hcp_case_clear(&c);
}

/* Times: not in the future, not before the previous step or receipt. */
static void test_at_order(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 1, true, "2026-03-02T09:00:00+08:00");
    assert_int_equal(step(&c, HCP_EV_VERIFY_START, "2026-03-02T10:00:00+08:00", NULL), HCP_OK);
    expect_refusal(&c, HCP_EV_NOTIFY_STAFF, "2026-03-02T09:59:59+08:00", "at_before_previous_step");
    expect_refusal(&c, HCP_EV_NOTIFY_STAFF, "2026-03-01T09:00:00+08:00", "at_before_receipt");
    expect_refusal(&c, HCP_EV_NOTIFY_STAFF, "2031-01-01T09:00:00+08:00", "at_in_future");
    /* the same instant as the previous step is fine */
    assert_int_equal(step(&c, HCP_EV_NOTIFY_STAFF, "2026-03-02T10:00:00+08:00", NULL), HCP_OK);
    hcp_case_clear(&c);
}

/* The sweep's overdue marks: only once, only when really overdue, and they
 * do not block steps entered later with earlier dates. */
static void test_overdue_events(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 1, false, "2026-03-02T09:00:00+08:00");
    expect_refusal(&c, HCP_EV_OVERDUE, "2026-03-09T12:00:00+08:00", "not_overdue");
    assert_int_equal(step(&c, HCP_EV_OVERDUE, "2026-03-10T00:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(c.overdue_marked, 1u << HCP_DL_FEEDBACK);
    expect_refusal(&c, HCP_EV_OVERDUE, "2026-03-10T01:00:00+08:00", "already_overdue");
    assert_int_equal(step(&c, HCP_EV_VERIFY_START, "2026-03-03T10:00:00+08:00", NULL), HCP_OK);
    hcp_event ev;
    make_step(&ev, HCP_EV_OVERDUE, T("2026-03-10T02:00:00+08:00"));
    ev.deadline = HCP_DL_DISPUTE; /* a window, not a duty */
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, NULL), HCP_EINVAL);
    hcp_event_clear(&ev);
    hcp_case_clear(&c);
}

/* ---- rules that hold (issue 13) ---- */

/* Apply step ev (built by the caller, consumed) to c; the rules' answer. */
static int apply_ev(hcp_case *c, hcp_event *ev, hcp_refusal *why)
{
    int rc = hcp_rules_apply(c, ev, cal, NOW, why);
    hcp_event_clear(ev);
    return rc;
}

/* A step dated `at` but recorded at `rec`. */
static int step_rec(hcp_case *c, int type, const char *at, const char *rec)
{
    hcp_event ev;
    make_step(&ev, type, T(at));
    ev.recorded_at = T(rec);
    if (type == HCP_EV_VERIFY_CONCLUDE)
        ev.outcome = HCP_OUT_UNSUBSTANTIATED;
    return apply_ev(c, &ev, NULL);
}

/* Finding 1: received 2026-11-20 (due 11-27), swept overdue, then steps
 * dated 11-21 … 11-26 entered on 12-03. The case is satisfied, but the
 * feedback deadline stays missed, and each late entry is backdated. */
static void test_overdue_is_permanent(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 1, false, "2026-11-20T09:00:00+08:00");
    assert_time(c.feedback_due.at, "2026-11-27T23:59:59+08:00");
    assert_int_equal(step(&c, HCP_EV_OVERDUE, "2026-11-28T00:01:00+08:00", NULL), HCP_OK);
    assert_false(hcp_case_deadline_met(&c, T("2026-11-28T00:01:00+08:00")));
    const char *rec = "2026-12-03T10:00:00+08:00";
    assert_int_equal(step_rec(&c, HCP_EV_VERIFY_START, "2026-11-21T10:00:00+08:00", rec), HCP_OK);
    assert_int_equal(step_rec(&c, HCP_EV_VERIFY_CONCLUDE, "2026-11-23T10:00:00+08:00", rec),
                     HCP_OK);
    assert_int_equal(step_rec(&c, HCP_EV_FEEDBACK, "2026-11-26T10:00:00+08:00", rec), HCP_OK);
    assert_int_equal(c.status, HCP_ST_RESOLVED);
    assert_time(c.feedback_at, "2026-11-26T10:00:00+08:00");
    assert_false(hcp_case_deadline_met(&c, NOW));   /* true before: the mark was erased */
    assert_int_equal(hcp_case_overdue(&c, NOW), 0); /* nothing is owed any more */
    assert_time(c.last_at, "2026-11-26T10:00:00+08:00");
    assert_time(c.last_recorded_at, rec); /* when the record really changed */
    hcp_case_clear(&c);

    /* the re-review mark is as permanent, whatever the verdict */
    open_case(&c, HCP_KIND_REVIEW, 1, false, "2026-03-02T09:00:00+08:00");
    assert_int_equal(step(&c, HCP_EV_NOTIFY_STAFF, "2026-03-02T09:20:00+08:00", NULL), HCP_OK);
    assert_int_equal(step(&c, HCP_EV_DISPUTE_FILE, "2026-03-03T09:00:00+08:00", NULL), HCP_OK);
    hcp_event ev;
    make_step(&ev, HCP_EV_OVERDUE, T("2026-03-11T00:00:01+08:00"));
    ev.deadline = HCP_DL_REREVIEW;
    assert_int_equal(apply_ev(&c, &ev, NULL), HCP_OK);
    make_step(&ev, HCP_EV_DISPUTE_DECIDE, T("2026-03-09T09:00:00+08:00"));
    ev.verdict = HCP_VD_MALICIOUS;
    assert_int_equal(apply_ev(&c, &ev, NULL), HCP_OK);
    assert_false(c.adopted);
    assert_false(hcp_case_deadline_met(&c, NOW));
    hcp_case_clear(&c);
}

/* A step entered more than n working days after its `at` is backdated;
 * the count follows the calendar (National Day 2026: 10-01..07 off, 10-10
 * a working Saturday). */
static void test_backdated(void **state)
{
    (void)state;
    hcp_event ev;
    make_step(&ev, HCP_EV_FEEDBACK, T("2026-03-06T10:00:00+08:00")); /* a Friday */
    ev.recorded_at = T("2026-03-11T23:59:59+08:00");                 /* end of the 3rd */
    assert_false(hcp_event_backdated(&ev, cal, HCP_BACKDATE_DAYS));
    ev.recorded_at = T("2026-03-12T00:00:00+08:00");
    assert_true(hcp_event_backdated(&ev, cal, HCP_BACKDATE_DAYS));
    assert_false(hcp_event_backdated(&ev, cal, 4));
    assert_false(hcp_event_backdated(&ev, cal, 0)); /* not a limit */
    assert_false(hcp_event_backdated(NULL, cal, 3));
    assert_false(hcp_event_backdated(&ev, NULL, 3));
    ev.at = T("2026-09-30T10:00:00+08:00");
    ev.recorded_at = T("2026-10-10T20:00:00+08:00"); /* 10-08, 10-09, 10-10 */
    assert_false(hcp_event_backdated(&ev, cal, 3));
    ev.recorded_at = T("2026-10-12T08:00:00+08:00");
    assert_true(hcp_event_backdated(&ev, cal, 3));
    ev.type = HCP_EV_OVERDUE; /* the sweep's observation, not a claim */
    assert_false(hcp_event_backdated(&ev, cal, 3));
    ev.type = HCP_EV_CASE_OPEN; /* a paper case starts its own deadline */
    assert_false(hcp_event_backdated(&ev, cal, 3));
    hcp_event_clear(&ev);
}

/* Finding 3: the revisit is owed when the complainant can be reached (a
 * phone), named or not; a name alone cannot be revisited. */
static void test_revisit_by_reachability(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        hcp_event ev;
        make_open(&ev, HCP_KIND_COMPLAINT, 0, true, T("2026-03-02T09:00:00+08:00"));
        free(who == 0 ? ev.in.complainant.name : ev.in.complainant.phone);
        if (who == 0)
            ev.in.complainant.name = NULL; /* phone only */
        else
            ev.in.complainant.phone = NULL; /* name only */
        hcp_case c;
        memset(&c, 0, sizeof(c));
        assert_int_equal(apply_ev(&c, &ev, NULL), HCP_OK);
        assert_false(c.real_name);
        assert_int_equal(c.reachable, who == 0);
        assert_int_equal(step(&c, HCP_EV_VERIFY_START, "2026-03-02T10:00:00+08:00", NULL), HCP_OK);
        assert_int_equal(step(&c, HCP_EV_VERIFY_CONCLUDE, "2026-03-02T11:00:00+08:00", NULL),
                         HCP_OK);
        assert_int_equal(step(&c, HCP_EV_RECTIFY_ASSIGN, "2026-03-02T12:00:00+08:00", NULL),
                         HCP_OK);
        assert_int_equal(step(&c, HCP_EV_RECTIFY_DONE, "2026-03-03T12:00:00+08:00", NULL), HCP_OK);
        assert_int_equal(step(&c, HCP_EV_FEEDBACK, "2026-03-04T12:00:00+08:00", NULL), HCP_OK);
        assert_int_equal(c.status, who == 0 ? HCP_ST_AWAITING_REVISIT : HCP_ST_RESOLVED);
        if (who == 0)
            expect_refusal(&c, HCP_EV_CLOSE, "2026-03-04T13:00:00+08:00", "revisit_required");
        hcp_case_clear(&c);
    }
}

/* An unsatisfied revisit returns the case to rectification; it closes after
 * a satisfied revisit, or with a supervisor's written decision. The first
 * feedback keeps meeting the deadline. */
static void test_revisit_unsatisfied(void **state)
{
    (void)state;
    for (int way = 0; way < 2; way++) {
        hcp_case c;
        to_rectifying(&c, HCP_RM_DEFERRED, "2026-03-02T09:00:00+08:00");
        assert_int_equal(step(&c, HCP_EV_RECTIFY_DONE, "2026-03-03T12:00:00+08:00", NULL), HCP_OK);
        assert_int_equal(step(&c, HCP_EV_FEEDBACK, "2026-03-04T12:00:00+08:00", NULL), HCP_OK);
        hcp_event ev;
        make_step(&ev, HCP_EV_REVISIT, T("2026-03-05T12:00:00+08:00"));
        ev.satisfied = false;
        assert_int_equal(apply_ev(&c, &ev, NULL), HCP_OK);
        assert_int_equal(c.status, HCP_ST_RECTIFYING); /* resolved before: closable */
        expect_refusal(&c, HCP_EV_CLOSE, "2026-03-05T13:00:00+08:00", "revisit_unsatisfied");
        if (way == 0) {
            make_step(&ev, HCP_EV_CLOSE, T("2026-03-05T14:00:00+08:00"));
            ev.decision = S("经研究，诉求超出整改范围，决定办结。");
            assert_int_equal(apply_ev(&c, &ev, NULL), HCP_OK);
        } else {
            assert_int_equal(step(&c, HCP_EV_RECTIFY_DONE, "2026-03-16T12:00:00+08:00", NULL),
                             HCP_OK);
            assert_int_equal(step(&c, HCP_EV_FEEDBACK, "2026-03-17T12:00:00+08:00", NULL), HCP_OK);
            assert_int_equal(c.status, HCP_ST_AWAITING_REVISIT);
            assert_time(c.feedback_at, "2026-03-04T12:00:00+08:00");
            assert_int_equal(step(&c, HCP_EV_REVISIT, "2026-03-18T12:00:00+08:00", NULL), HCP_OK);
            assert_int_equal(step(&c, HCP_EV_CLOSE, "2026-03-18T13:00:00+08:00", NULL), HCP_OK);
        }
        assert_int_equal(c.status, HCP_ST_CLOSED);
        assert_true(hcp_case_deadline_met(&c, NOW));
        hcp_case_clear(&c);
    }
}

/* Finding 4: a review is not set aside in the second it was disputed. */
static void test_decide_not_at_filing(void **state)
{
    (void)state;
    hcp_case c;
    hcp_refusal why = {0};
    open_case(&c, HCP_KIND_REVIEW, 1, false, "2026-03-02T09:00:00+08:00");
    assert_int_equal(step(&c, HCP_EV_NOTIFY_STAFF, "2026-03-02T09:00:00+08:00", NULL), HCP_OK);
    assert_int_equal(step(&c, HCP_EV_DISPUTE_FILE, "2026-03-02T09:00:00+08:00", NULL), HCP_OK);
    for (int v = HCP_VD_MISTAKEN; v <= HCP_VD_MALICIOUS; v++) {
        hcp_event ev;
        make_step(&ev, HCP_EV_DISPUTE_DECIDE, T("2026-03-02T09:00:00+08:00"));
        ev.verdict = (uint8_t)v;
        assert_int_equal(apply_ev(&c, &ev, &why), HCP_ERULE);
        assert_string_equal(why.rule, "dispute_decided_at_filing");
        assert_int_equal(c.status, HCP_ST_DISPUTED);
    }
    hcp_event ev;
    make_step(&ev, HCP_EV_DISPUTE_DECIDE, T("2026-03-02T09:00:01+08:00"));
    ev.verdict = HCP_VD_MALICIOUS;
    assert_int_equal(apply_ev(&c, &ev, NULL), HCP_OK);
    assert_false(c.adopted);
    hcp_case_clear(&c);

    /* notify_staff dated before receipt is refused like every step */
    open_case(&c, HCP_KIND_REVIEW, 1, false, "2026-03-02T09:00:00+08:00");
    expect_refusal(&c, HCP_EV_NOTIFY_STAFF, "2026-03-02T08:59:59+08:00", "at_before_receipt");
    hcp_case_clear(&c);
}

static void test_open_checks(void **state)
{
    (void)state;
    hcp_event ev;
    hcp_case c;
    hcp_refusal why = {0};
    make_open(&ev, HCP_KIND_REVIEW, 3, true, T("2026-03-02T09:00:00+08:00"));
    memset(&c, 0, sizeof(c));
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, &why), HCP_ERULE);
    assert_string_equal(why.rule, "review_not_negative");
    ev.in.kind = HCP_KIND_COMPLAINT;
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, &why), HCP_ERULE);
    assert_string_equal(why.rule, "complaint_has_rating");
    ev.in.rating = 0;
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, &why), HCP_OK);
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, &why), HCP_ERULE);
    assert_string_equal(why.rule, "case_exists");
    hcp_event_clear(&ev);
    make_open(&ev, HCP_KIND_REVIEW, 1, true, T("2026-03-02T09:00:00+08:00"));
    ev.type = HCP_EV_EVALUATION;
    hcp_case d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(hcp_rules_apply(&d, &ev, cal, NOW, NULL), HCP_EINVAL);
    hcp_event_clear(&ev);
    hcp_case_clear(&c);
}

/* Past the known years deadlines are provisional, and become firm when a
 * calendar with the new year arrives. */
static void test_provisional_and_recompute(void **state)
{
    (void)state;
    hcp_case c;
    open_case(&c, HCP_KIND_REVIEW, 1, true, "2026-12-29T09:00:00+08:00");
    assert_true(c.feedback_due.provisional);
    /* weekdays only: 12-30, 12-31, 01-01, 01-04, 01-05 */
    assert_time(c.feedback_due.at, "2027-01-05T23:59:59+08:00");
    static const char next[] = "date\tkind\tname\tnotice_year\n"
                               "2027-01-01\toff\t元旦\t2027\n"
                               "2027-01-04\toff\t测试\t2027\n";
    hcp_cal *cal2 = NULL;
    char err[128];
    assert_int_equal(hcp_cal_parse(next, sizeof(next) - 1, &cal2, err, sizeof(err)), HCP_OK);
    assert_int_equal(hcp_case_recompute_deadlines(&c, cal2), HCP_OK);
    /* 2026 is unknown to cal2, so the days in it are still provisional; the
     * point here is the new year's holidays: 12-30, 12-31, 01-05, 01-06, 01-07 */
    assert_time(c.feedback_due.at, "2027-01-07T23:59:59+08:00");
    hcp_cal_free(cal2);
    hcp_case_clear(&c);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    hcp_case c;
    hcp_event ev;
    memset(&c, 0, sizeof(c));
    make_step(&ev, HCP_EV_CLOSE, T("2026-03-02T09:00:00+08:00"));
    assert_int_equal(hcp_rules_apply(NULL, &ev, cal, NOW, NULL), HCP_EINVAL);
    assert_int_equal(hcp_rules_apply(&c, NULL, cal, NOW, NULL), HCP_EINVAL);
    assert_int_equal(hcp_rules_apply(&c, &ev, NULL, NOW, NULL), HCP_EINVAL);
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, NULL), HCP_EINVAL); /* no case */
    ev.type = 200;
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, NULL), HCP_EINVAL);
    hcp_event_clear(&ev);
}

static int setup(void **state)
{
    (void)state;
    return hcp_cal_default(&cal) == HCP_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    hcp_cal_free(cal);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path_real_name),
        cmocka_unit_test(test_anonymous_unsubstantiated),
        cmocka_unit_test(test_real_name_unsubstantiated_no_revisit),
        cmocka_unit_test(test_feedback_deadline_spring_festival),
        cmocka_unit_test(test_dispute_upheld_spring_festival),
        cmocka_unit_test(test_dispute_window_closed_national_day),
        cmocka_unit_test(test_dispute_not_adopted),
        cmocka_unit_test(test_overdue_is_permanent),
        cmocka_unit_test(test_backdated),
        cmocka_unit_test(test_revisit_by_reachability),
        cmocka_unit_test(test_revisit_unsatisfied),
        cmocka_unit_test(test_decide_not_at_filing),
        cmocka_unit_test(test_extension),
        cmocka_unit_test(test_at_order),
        cmocka_unit_test(test_overdue_events),
        cmocka_unit_test(test_open_checks),
        cmocka_unit_test(test_provisional_and_recompute),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
