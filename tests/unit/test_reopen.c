/*
 * test_reopen.c — a failed spot-check finding re-opens a case (core/rules.c,
 * docs/spotchecks.md): the `directive` event with `reopen` sends a closed
 * case back to rectification with a feedback deadline of 5 working days
 * from the re-open, which a calendar recount keeps; an open case does not
 * re-open; the event round-trips through the codec with its flag.
 */
#include "rules_fixture.h"

#include "codec.h"

static hcp_cal *cal;

/* Apply ev to c (then clear ev), expecting rc. */
static void apply(hcp_case *c, hcp_event *ev, int want)
{
    hcp_refusal why = {0};
    assert_int_equal(hcp_rules_apply(c, ev, cal, T("2026-12-31T00:00:00+08:00"), &why), want);
    hcp_event_clear(ev);
}

/* A case received on Friday 2026-11-06, unsubstantiated, told, closed. */
static void closed_case(hcp_case *c)
{
    hcp_event ev;
    memset(c, 0, sizeof(*c));
    make_open(&ev, HCP_KIND_COMPLAINT, 0, true, T("2026-11-06T10:00:00+08:00"));
    apply(c, &ev, HCP_OK);
    make_step(&ev, HCP_EV_VERIFY_START, T("2026-11-06T11:00:00+08:00"));
    apply(c, &ev, HCP_OK);
    make_step(&ev, HCP_EV_VERIFY_CONCLUDE, T("2026-11-09T10:00:00+08:00"));
    ev.outcome = HCP_OUT_UNSUBSTANTIATED;
    apply(c, &ev, HCP_OK);
    make_step(&ev, HCP_EV_FEEDBACK, T("2026-11-09T11:00:00+08:00"));
    apply(c, &ev, HCP_OK);
    make_step(&ev, HCP_EV_CLOSE, T("2026-11-10T10:00:00+08:00"));
    apply(c, &ev, HCP_OK);
    assert_int_equal(c->status, HCP_ST_CLOSED);
}

/* The directive event of a spot-check result, dated at. */
static void result_event(hcp_event *ev, hcp_time at, bool reopen)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = HCP_EV_DIRECTIVE;
    ev->at = ev->recorded_at = at;
    ev->seq = 9;
    strcpy(ev->county, "630102");
    strcpy(ev->case_id, "630102-20260213-0001");
    ev->directive = 7;
    ev->dir_type = S("spotcheck_result");
    ev->dir_hash = S("00");
    ev->dir_result = HCP_DR_APPLIED;
    ev->note = S("省级抽查结果：已整改：否");
    ev->reopen = reopen;
}

static void test_reopen(void **state)
{
    (void)state;
    hcp_case c;
    closed_case(&c);
    hcp_time first = c.feedback_due.at;
    hcp_event ev;
    /* Tuesday 1 December: 5 working days later is Tuesday 8 December */
    result_event(&ev, T("2026-12-01T15:00:00+08:00"), true);
    apply(&c, &ev, HCP_OK);
    assert_int_equal(c.status, HCP_ST_RECTIFYING);
    assert_int_equal(c.reopened_at, T("2026-12-01T15:00:00+08:00"));
    assert_int_equal(c.feedback_due.at, T("2026-12-08T23:59:59+08:00"));
    assert_true(c.feedback_due.at > first);
    assert_int_equal(c.feedback_at, 0);
    assert_int_equal(c.closed_at, 0);
    /* a recount of the deadlines keeps the re-open as its start */
    assert_int_equal(hcp_case_recompute_deadlines(&c, cal), HCP_OK);
    assert_int_equal(c.feedback_due.at, T("2026-12-08T23:59:59+08:00"));
    /* the county handles it again and closes it */
    make_step(&ev, HCP_EV_RECTIFY_ASSIGN, T("2026-12-02T10:00:00+08:00"));
    apply(&c, &ev, HCP_OK);
    make_step(&ev, HCP_EV_RECTIFY_DONE, T("2026-12-03T10:00:00+08:00"));
    apply(&c, &ev, HCP_OK);
    make_step(&ev, HCP_EV_FEEDBACK, T("2026-12-03T11:00:00+08:00"));
    apply(&c, &ev, HCP_OK);
    make_step(&ev, HCP_EV_CLOSE, T("2026-12-03T12:00:00+08:00"));
    apply(&c, &ev, HCP_OK);
    assert_int_equal(c.status, HCP_ST_CLOSED);
    assert_true(hcp_case_deadline_met(&c, T("2026-12-31T00:00:00+08:00")));
    /* an open case does not re-open (the node sets reopen only for a
     * resolved or closed one; the rules refuse it otherwise) */
    result_event(&ev, T("2026-12-04T10:00:00+08:00"), true);
    apply(&c, &ev, HCP_OK); /* closed again: re-opens */
    result_event(&ev, T("2026-12-04T11:00:00+08:00"), true);
    apply(&c, &ev, HCP_ERULE);
    /* a passing finding is a note */
    result_event(&ev, T("2026-12-04T12:00:00+08:00"), false);
    apply(&c, &ev, HCP_OK);
    assert_int_equal(c.status, HCP_ST_RECTIFYING);
    hcp_case_clear(&c);
}

/* The flag and the re-open instant survive the codec. */
static void test_codec(void **state)
{
    (void)state;
    hcp_event ev, back;
    result_event(&ev, T("2026-12-01T15:00:00+08:00"), true);
    hcp_buf main_rec, pii;
    hcp_buf_init(&main_rec, 1 << 20);
    hcp_buf_init(&pii, 1 << 20);
    uint8_t salt[HCP_SALT_LEN] = {1};
    assert_int_equal(hcp_event_encode(&ev, &main_rec, &pii, NULL), HCP_OK);
    memset(&back, 0, sizeof(back));
    assert_int_equal(hcp_event_decode(main_rec.data, main_rec.len, &back), HCP_OK);
    assert_true(back.reopen);
    assert_string_equal(back.dir_type, "spotcheck_result");
    hcp_event_clear(&back);
    hcp_event_clear(&ev);
    hcp_case c;
    closed_case(&c);
    c.reopened_at = T("2026-12-01T15:00:00+08:00");
    hcp_buf_reset(&main_rec);
    hcp_buf_reset(&pii);
    assert_int_equal(hcp_case_encode(&c, salt, &main_rec, &pii), HCP_OK);
    hcp_case d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(hcp_case_decode(main_rec.data, main_rec.len, &d), HCP_OK);
    assert_int_equal(d.reopened_at, c.reopened_at);
    hcp_case_clear(&c);
    hcp_case_clear(&d);
    hcp_buf_free(&main_rec);
    hcp_buf_free(&pii);
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
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
