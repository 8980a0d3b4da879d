/* test_calver.c — the federation calendar's core (core/calver.h,
 * docs/calendar.md "The federation calendar"): the {version, tsv} form,
 * comparing calendars, and the recount of a case's deadlines when a new
 * calendar version applies — including issue #13's finding 2 at the
 * rules' level: a provisional deadline firms up, and an extension into a
 * year the calendar does not cover is provisional, not firm. */
#include "rules_fixture.h"

#include <stdio.h>

#include "calver.h"

extern const unsigned char hcp_data_calendar[];
extern const size_t hcp_data_calendar_len;

/* The shipped calendar's text without the rows of notice year `year`, plus
 * extra (appended as is); a new calendar. */
static hcp_cal *cal_variant(int year, const char *extra)
{
    hcp_buf b;
    hcp_buf_init(&b, 2u << 20);
    const char *p = (const char *)hcp_data_calendar, *end = p + hcp_data_calendar_len;
    char tail[8];
    snprintf(tail, sizeof(tail), "\t%d", year);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        bool drop = n >= 5 && memcmp(p + n - 5, tail, 5) == 0;
        if (!drop) {
            assert_int_equal(hcp_buf_append(&b, p, n), HCP_OK);
            assert_int_equal(hcp_buf_append(&b, "\n", 1), HCP_OK);
        }
        p += n + 1;
    }
    if (extra != NULL)
        assert_int_equal(hcp_buf_append(&b, extra, strlen(extra)), HCP_OK);
    hcp_cal *cal = NULL;
    char err[128];
    assert_int_equal(hcp_cal_parse((const char *)b.data, b.len, &cal, err, sizeof(err)), HCP_OK);
    hcp_buf_free(&b);
    return cal;
}

#define Y2027                                                                                      \
    "2027-01-01\toff\t元旦\t2027\n2027-01-02\toff\t元旦\t2027\n2027-01-03\toff\t元旦\t2027\n"

static void apply_ok(hcp_case *c, hcp_event *ev, const hcp_cal *cal)
{
    hcp_refusal why = {0};
    int rc = hcp_rules_apply(c, ev, cal, ev->at, &why);
    if (rc != HCP_OK)
        fail_msg("%s: %s", why.rule ? why.rule : hcp_strerror(rc), why.detail);
    hcp_event_clear(ev);
}

static void open_case(hcp_case *c, const char *at, const hcp_cal *cal)
{
    hcp_event ev;
    memset(c, 0, sizeof(*c));
    make_open(&ev, HCP_KIND_COMPLAINT, 0, true, T(at));
    apply_ok(c, &ev, cal);
}

static void step(hcp_case *c, int type, const char *at, const hcp_cal *cal)
{
    hcp_event ev;
    make_step(&ev, type, T(at));
    apply_ok(c, &ev, cal);
}

static void test_encode_decode(void **state)
{
    (void)state;
    hcp_buf b;
    hcp_buf_init(&b, HCP_CALVER_ENCMAX);
    const char *tsv = "date\tkind\tname\tnotice_year\n2027-01-01\toff\t元旦\t2027\n";
    assert_int_equal(hcp_calver_encode(7, tsv, strlen(tsv), &b), HCP_OK);
    hcp_calver v;
    assert_int_equal(hcp_calver_decode(b.data, b.len, &v), HCP_OK);
    assert_int_equal(v.version, 7);
    assert_int_equal(v.tsv_len, strlen(tsv));
    assert_memory_equal(v.tsv, tsv, v.tsv_len);
    assert_true(v.tsv >= (const char *)b.data && v.tsv < (const char *)b.data + b.len);
    /* truncated, not a map, a map without tsv */
    assert_int_equal(hcp_calver_decode(b.data, b.len - 1, &v), HCP_EFORMAT);
    assert_int_equal(hcp_calver_decode("\x07", 1, &v), HCP_EFORMAT);
    assert_int_equal(hcp_calver_decode("\x81\xa7version\x07", 10, &v), HCP_EFORMAT);
    /* a negative version, a tsv that is a number */
    assert_int_equal(hcp_calver_decode("\x82\xa7version\xff\xa3tsv\xa0", 15, &v), HCP_EFORMAT);
    assert_int_equal(hcp_calver_decode("\x82\xa7version\x01\xa3tsv\x01", 15, &v), HCP_EFORMAT);
    /* an unknown key is ignored */
    assert_int_equal(hcp_calver_decode("\x83\xa1x\x01\xa7version\x01\xa3tsv\xa0", 18, &v), HCP_OK);
    assert_int_equal(v.version, 1);
    assert_int_equal(v.tsv_len, 0);
    hcp_buf_free(&b);
}

static void test_same(void **state)
{
    (void)state;
    hcp_cal *a = NULL, *b = NULL;
    assert_int_equal(hcp_cal_default(&a), HCP_OK);
    assert_int_equal(hcp_cal_default(&b), HCP_OK);
    assert_true(hcp_cal_same(a, b));
    assert_true(hcp_cal_days(a) > 100);
    hcp_cal *old = cal_variant(2026, NULL), *next = cal_variant(0, Y2027);
    hcp_cal *comment = cal_variant(0, "# a comment changes nothing\n");
    assert_false(hcp_cal_same(a, old));
    assert_false(hcp_cal_same(a, next));
    assert_true(hcp_cal_same(a, comment));
    assert_false(hcp_cal_same(a, NULL));
    assert_true(hcp_cal_same(NULL, NULL));
    hcp_cal_free(a);
    hcp_cal_free(b);
    hcp_cal_free(old);
    hcp_cal_free(next);
    hcp_cal_free(comment);
}

/* The start-up decision node and gateway share: keep a stored seed that
 * counts alike, store the seed when none is stored or it counts
 * differently (or does not parse), use a stored province version, and
 * refuse a --calendar that counts differently from it. */
static void test_start_decision(void **state)
{
    (void)state;
    const char *text = (const char *)hcp_data_calendar;
    size_t len = hcp_data_calendar_len;
    hcp_cal *seed = NULL, *fed = NULL;
    assert_int_equal(hcp_cal_default(&seed), HCP_OK);
    enum hcp_calver_start d = 0;
    char err[128];
    assert_int_equal(hcp_calver_start(NULL, seed, false, &d, &fed, err, sizeof(err)), HCP_OK);
    assert_int_equal(d, HCP_CALSTART_SEED);
    hcp_calver v0 = {0, text, len};
    assert_int_equal(hcp_calver_start(&v0, seed, true, &d, &fed, err, sizeof(err)), HCP_OK);
    assert_int_equal(d, HCP_CALSTART_KEEP);
    assert_null(fed);
    hcp_calver other = {0, "2026-01-01\toff\t元旦\t2026\n", 27};
    assert_int_equal(hcp_calver_start(&other, seed, false, &d, &fed, err, sizeof(err)), HCP_OK);
    assert_int_equal(d, HCP_CALSTART_SEED);
    hcp_calver junk = {0, "not a calendar", 14};
    assert_int_equal(hcp_calver_start(&junk, seed, false, &d, &fed, err, sizeof(err)), HCP_OK);
    assert_int_equal(d, HCP_CALSTART_SEED);
    /* version 2 stored: in force; a --calendar that counts alike is fine */
    hcp_calver v2 = {2, text, len};
    assert_int_equal(hcp_calver_start(&v2, seed, true, &d, &fed, err, sizeof(err)), HCP_OK);
    assert_int_equal(d, HCP_CALSTART_FEDERATION);
    assert_non_null(fed);
    assert_true(hcp_cal_same(fed, seed));
    hcp_cal_free(fed);
    /* ... one that counts differently is refused; without --calendar it is ignored */
    hcp_buf next;
    hcp_buf_init(&next, 2u << 20);
    assert_int_equal(hcp_buf_append(&next, text, len), HCP_OK);
    assert_int_equal(hcp_buf_append(&next, Y2027, strlen(Y2027)), HCP_OK);
    hcp_calver v3 = {3, (const char *)next.data, next.len};
    assert_int_equal(hcp_calver_start(&v3, seed, true, &d, &fed, err, sizeof(err)), HCP_EVERSION);
    assert_null(fed);
    assert_int_equal(hcp_calver_start(&v3, seed, false, &d, &fed, err, sizeof(err)), HCP_OK);
    assert_int_equal(d, HCP_CALSTART_FEDERATION);
    assert_false(hcp_cal_same(fed, seed));
    hcp_cal_free(fed);
    /* a stored province version that does not parse is an error, not a seed */
    hcp_calver bad = {4, junk.tsv, junk.tsv_len};
    assert_int_not_equal(hcp_calver_start(&bad, seed, false, &d, &fed, err, sizeof(err)), HCP_OK);
    assert_null(fed);
    assert_int_equal(hcp_calver_start(NULL, NULL, false, &d, &fed, err, sizeof(err)), HCP_EINVAL);
    hcp_cal_free(seed);
    hcp_buf_free(&next);
}

/* Finding 2(a) at the rules' level: counted without 2026's holidays the
 * feedback deadline of a case received Tue 2026-09-29 is 10-06
 * (provisional); the calendar that knows National Day makes it 10-12. */
static void test_recount_firms_up(void **state)
{
    (void)state;
    hcp_cal *old = cal_variant(2026, NULL), *full = NULL;
    assert_int_equal(hcp_cal_default(&full), HCP_OK);
    hcp_case c;
    open_case(&c, "2026-09-29T10:00:00+08:00", old);
    assert_int_equal(c.feedback_due.at, T("2026-10-06T23:59:59+08:00"));
    assert_true(c.feedback_due.provisional);
    assert_true(hcp_case_provisional(&c));
    assert_true(hcp_case_deadlines_open(&c));
    bool changed = false;
    assert_int_equal(hcp_calver_recount(&c, full, &changed), HCP_OK);
    assert_true(changed);
    assert_int_equal(c.feedback_due.at, T("2026-10-12T23:59:59+08:00"));
    assert_false(hcp_case_provisional(&c));
    assert_int_equal(hcp_calver_recount(&c, full, &changed), HCP_OK);
    assert_false(changed);
    hcp_case_clear(&c);
    hcp_cal_free(old);
    hcp_cal_free(full);
}

/* Finding 2(b): an extension into 2027, a year the shipped calendar does
 * not cover, is provisional (1 January will be a holiday), and firm once a
 * calendar knows 2027; with that calendar, 2027-01-01 is refused. */
static void test_extension_into_uncovered_year(void **state)
{
    (void)state;
    hcp_cal *cur = NULL, *next = cal_variant(0, Y2027);
    assert_int_equal(hcp_cal_default(&cur), HCP_OK);
    hcp_case c;
    open_case(&c, "2026-12-24T10:00:00+08:00", cur);
    step(&c, HCP_EV_VERIFY_START, "2026-12-24T11:00:00+08:00", cur);
    step(&c, HCP_EV_VERIFY_CONCLUDE, "2026-12-24T12:00:00+08:00", cur);
    step(&c, HCP_EV_RECTIFY_ASSIGN, "2026-12-24T13:00:00+08:00", cur);
    hcp_case c2;
    assert_int_equal(hcp_case_copy(&c2, &c), HCP_OK);
    hcp_event ev;
    make_step(&ev, HCP_EV_RECTIFY_EXTEND, T("2026-12-28T10:00:00+08:00"));
    ev.new_due = D("2027-01-01");
    apply_ok(&c, &ev, cur);
    assert_int_equal(c.feedback_due.at, T("2027-01-01T23:59:59+08:00"));
    assert_true(c.feedback_due.provisional);
    assert_true(hcp_case_provisional(&c));
    /* recounted with the calendar in force: still provisional, same day */
    bool changed = true;
    assert_int_equal(hcp_calver_recount(&c, cur, &changed), HCP_OK);
    assert_false(changed);
    assert_true(c.feedback_due.provisional);
    /* 2027 published: the day stays (an extension is a decision), firm now */
    assert_int_equal(hcp_calver_recount(&c, next, &changed), HCP_OK);
    assert_true(changed);
    assert_int_equal(c.feedback_due.at, T("2027-01-01T23:59:59+08:00"));
    assert_false(c.feedback_due.provisional);
    /* and with the 2027 calendar the holiday is refused */
    make_step(&ev, HCP_EV_RECTIFY_EXTEND, T("2026-12-28T10:00:00+08:00"));
    ev.new_due = D("2027-01-01");
    hcp_refusal why = {0};
    assert_int_equal(hcp_rules_apply(&c2, &ev, next, ev.at, &why), HCP_ERULE);
    assert_string_equal(why.rule, "extension_not_working_day");
    ev.new_due = D("2027-01-04");
    assert_int_equal(hcp_rules_apply(&c2, &ev, next, ev.at, &why), HCP_OK);
    assert_false(c2.feedback_due.provisional);
    hcp_event_clear(&ev);
    hcp_case_clear(&c);
    hcp_case_clear(&c2);
    hcp_cal_free(cur);
    hcp_cal_free(next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_same),
        cmocka_unit_test(test_start_decision),
        cmocka_unit_test(test_recount_firms_up),
        cmocka_unit_test(test_extension_into_uncovered_year),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
