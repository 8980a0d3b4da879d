/* test_rules_random.c — long random sequences of events through the rules:
 * every accepted step leaves a state the regulation allows, every refused
 * one leaves the case untouched, and every deadline lands on a working day.
 * HCP_SEED=n in the environment replays one seed. */
#include "rules_fixture.h"

#include <stdio.h>

static hcp_cal *cal;
static const hcp_time NOW = 1893427200; /* 2030-01-01 */

/* xorshift64*: small, deterministic, good enough to pick steps. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Everything a step may change. */
static bool same_state(const hcp_case *a, const hcp_case *b)
{
    return a->status == b->status && a->outcome == b->outcome && a->adopted == b->adopted &&
           a->feedback_due.at == b->feedback_due.at &&
           a->feedback_due.provisional == b->feedback_due.provisional &&
           a->dispute_due.at == b->dispute_due.at && a->rereview_due.at == b->rereview_due.at &&
           a->feedback_extended == b->feedback_extended && a->last_at == b->last_at &&
           a->notified_at == b->notified_at && a->disputed_at == b->disputed_at &&
           a->decided_at == b->decided_at && a->feedback_at == b->feedback_at &&
           a->revisited_at == b->revisited_at && a->closed_at == b->closed_at &&
           a->status_before_dispute == b->status_before_dispute &&
           a->rectify_mode == b->rectify_mode && a->overdue_marked == b->overdue_marked &&
           a->nevents == b->nevents && str_eq(a->verifier.name, b->verifier.name) &&
           str_eq(a->rectify_unit.code, b->rectify_unit.code) &&
           str_eq(a->rectification_result, b->rectification_result);
}

static void check_workday(hcp_time due, const char *what, uint64_t seed)
{
    if (due != 0 && !hcp_cal_is_workday(cal, hcp_day_of(due)))
        fail_msg("seed %llu: %s deadline on a non-working day", (unsigned long long)seed, what);
    if (due != 0 && due != hcp_day_end(hcp_day_of(due)))
        fail_msg("seed %llu: %s deadline not at the end of a day", (unsigned long long)seed, what);
}

/* The invariants of the regulation's Art. 8–9 on any reachable case. */
static void check_invariants(const hcp_case *c, uint64_t seed)
{
    const char *bad = NULL;
    switch (c->status) {
    case HCP_ST_RECEIVED:
    case HCP_ST_VERIFYING:
        if (c->outcome != HCP_OUT_NONE)
            bad = "outcome before conclusion";
        break;
    case HCP_ST_RECTIFYING:
        if (c->outcome != HCP_OUT_SUBSTANTIATED)
            bad = "rectifying an unsubstantiated case";
        break;
    case HCP_ST_AWAITING_REVISIT:
        if (!c->real_name || c->outcome != HCP_OUT_SUBSTANTIATED || c->feedback_at == 0)
            bad = "awaiting revisit without cause";
        break;
    case HCP_ST_CLOSED:
        if (c->adopted && c->real_name && c->outcome == HCP_OUT_SUBSTANTIATED &&
            c->revisited_at == 0)
            bad = "real-name substantiated case closed without revisit";
        if (c->adopted && c->feedback_at == 0)
            bad = "adopted case closed without feedback";
        break;
    case HCP_ST_DISPUTED:
        if (c->disputed_at == 0 || c->disputed_at > c->dispute_due.at)
            bad = "dispute outside its window";
        break;
    default:
        break;
    }
    if (c->adopted != (c->outcome != HCP_OUT_MISTAKEN && c->outcome != HCP_OUT_MALICIOUS))
        bad = "adopted flag disagrees with outcome";
    if (c->status == HCP_ST_FEEDBACK_PENDING && c->outcome == HCP_OUT_SUBSTANTIATED &&
        c->rectification_result == NULL)
        bad = "feedback pending before rectification";
    /* the gateway's overdue gauge reads only the cases with a running
     * deadline: none other may ever be overdue (hcp_case_deadline_running) */
    if (!hcp_case_deadline_running(c))
        for (hcp_time t = c->received_at; t < c->received_at + 60 * 86400; t += 6 * 3600)
            if (hcp_case_overdue(c, t) != 0)
                bad = "overdue without a running deadline";
    if (bad != NULL)
        fail_msg("seed %llu: %s (status %s)", (unsigned long long)seed, bad,
                 hcp_status_names[c->status]);
    check_workday(c->feedback_due.at, "feedback", seed);
    check_workday(c->dispute_due.at, "dispute", seed);
    check_workday(c->rereview_due.at, "rereview", seed);
}

/* A step that the status usually expects, so the walk reaches deep states. */
static int likely_type(uint8_t status)
{
    static const int next[HCP_ST_COUNT_][3] = {
        [HCP_ST_RECEIVED] = {HCP_EV_VERIFY_START, HCP_EV_NOTIFY_STAFF, HCP_EV_DISPUTE_FILE},
        [HCP_ST_VERIFYING] = {HCP_EV_VERIFY_CONCLUDE, HCP_EV_NOTIFY_STAFF, HCP_EV_DISPUTE_FILE},
        [HCP_ST_DISPUTED] = {HCP_EV_DISPUTE_DECIDE, HCP_EV_DISPUTE_DECIDE, HCP_EV_OVERDUE},
        [HCP_ST_RECTIFYING] = {HCP_EV_RECTIFY_ASSIGN, HCP_EV_RECTIFY_EXTEND, HCP_EV_RECTIFY_DONE},
        [HCP_ST_FEEDBACK_PENDING] = {HCP_EV_FEEDBACK, HCP_EV_FEEDBACK, HCP_EV_DISPUTE_FILE},
        [HCP_ST_AWAITING_REVISIT] = {HCP_EV_REVISIT, HCP_EV_CLOSE, HCP_EV_REVISIT},
        [HCP_ST_RESOLVED] = {HCP_EV_CLOSE, HCP_EV_REVISIT, HCP_EV_CLOSE},
    };
    int t = status < HCP_ST_COUNT_ ? next[status][pick(3)] : 0;
    return t != 0 ? t : HCP_EV_CLOSE;
}

/* A random step with random (sometimes missing) fields: mostly one the
 * status expects, sometimes any type at all. */
static void random_step(hcp_event *ev, hcp_time at, uint8_t status)
{
    int type = pick(10) < 7 ? likely_type(status)
                            : HCP_EV_VERIFY_START + (int)pick(HCP_EV_COUNT_ - HCP_EV_VERIFY_START);
    make_step(ev, type, at);
    switch (type) {
    case HCP_EV_VERIFY_CONCLUDE:
        ev->outcome = pick(2) ? HCP_OUT_SUBSTANTIATED : HCP_OUT_UNSUBSTANTIATED;
        break;
    case HCP_EV_DISPUTE_DECIDE:
        ev->verdict = (uint8_t)(1 + pick(3));
        break;
    case HCP_EV_RECTIFY_ASSIGN:
        ev->mode = (uint8_t)(1 + pick(2));
        break;
    case HCP_EV_RECTIFY_EXTEND:
        ev->new_due = hcp_day_of(at) + (hcp_day)pick(20);
        if (pick(5) == 0) {
            free(ev->reason);
            ev->reason = NULL;
        }
        break;
    case HCP_EV_OVERDUE:
        ev->deadline = (uint8_t)(1 + pick(3));
        break;
    default:
        break;
    }
}

static unsigned closed_seen;

/* One case: open it at a random time in 2022..2027, then up to 40 steps. */
static void run_case(uint64_t seed, unsigned *accepted, unsigned *refused)
{
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    hcp_time t =
        T("2022-01-01T00:00:00+08:00") + (hcp_time)pick(6 * 365) * 86400 + (hcp_time)pick(86400);
    hcp_event ev;
    make_open(&ev, pick(2) ? HCP_KIND_REVIEW : HCP_KIND_COMPLAINT, 0, pick(2), t);
    ev.in.rating = ev.in.kind == HCP_KIND_REVIEW ? (uint8_t)(1 + pick(2)) : 0;
    hcp_case c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(hcp_rules_apply(&c, &ev, cal, NOW, NULL), HCP_OK);
    hcp_event_clear(&ev);
    check_invariants(&c, seed);
    for (int i = 0; i < 40 && c.status != HCP_ST_CLOSED; i++) {
        /* mostly forward in time, sometimes backwards (refused) */
        hcp_time step_at = c.last_at + (hcp_time)pick(4 * 86400) - (pick(10) == 0 ? 86400 : 0);
        random_step(&ev, step_at, c.status);
        hcp_case before;
        assert_int_equal(hcp_case_copy(&before, &c), HCP_OK);
        hcp_refusal why = {0};
        int rc = hcp_rules_apply(&c, &ev, cal, NOW, &why);
        if (rc == HCP_OK) {
            (*accepted)++;
            check_invariants(&c, seed);
        } else {
            (*refused)++;
            if (rc == HCP_ERULE && (why.rule == NULL || why.detail[0] == '\0'))
                fail_msg("seed %llu: refusal without a rule", (unsigned long long)seed);
            if (rc != HCP_ERULE && rc != HCP_EINVAL)
                fail_msg("seed %llu: unexpected error %d", (unsigned long long)seed, rc);
            if (!same_state(&before, &c))
                fail_msg("seed %llu: refused %s changed the case", (unsigned long long)seed,
                         hcp_ev_type_names[ev.type]);
        }
        hcp_case_clear(&before);
        hcp_event_clear(&ev);
    }
    closed_seen += c.status == HCP_ST_CLOSED;
    hcp_case_clear(&c);
}

static void test_random_sequences(void **state)
{
    (void)state;
    unsigned accepted = 0, refused = 0;
    const char *one = getenv("HCP_SEED");
    if (one != NULL) {
        run_case(strtoull(one, NULL, 10), &accepted, &refused);
        return;
    }
    for (uint64_t seed = 1; seed <= 20000; seed++)
        run_case(seed, &accepted, &refused);
    printf("random rules: %u steps accepted, %u refused, %u of 20000 cases closed\n", accepted,
           refused, closed_seen);
    assert_true(accepted > 100000); /* the walk reaches deep states */
    assert_true(closed_seen > 5000);
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_sequences)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
