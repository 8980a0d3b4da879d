/*
 * rules.h — the one place that decides what may happen to a case
 * (the regulation's Art. 6–9, POST /v1/cases/ID/events). Both the county
 * node and the province gateway call hcp_rules_apply; nothing else changes a
 * case's status, outcome or deadlines.
 */
#ifndef HCP_RULES_H
#define HCP_RULES_H

#include "calendar.h"
#include "case.h"

#define HCP_FEEDBACK_DAYS 5   /* Art. 8 */
#define HCP_DISPUTE_DAYS  2   /* Art. 9: to file a re-review */
#define HCP_REREVIEW_DAYS 5   /* Art. 9: to finish it */
#define HCP_CLOCK_SKEW    300 /* seconds an `at` may lie ahead of `now` */
#define HCP_BACKDATE_DAYS 3   /* default: working days a step may be entered after its `at` */

/* Why a step was refused: a stable rule id ("dispute_window_closed") and an
 * English sentence with the dates involved. */
typedef struct hcp_refusal {
    const char *rule;
    char detail[320];
} hcp_refusal;

/*
 * Apply ev to c at time `now`. For HCP_EV_CASE_OPEN c must be zeroed and is
 * initialised from the event (a deep copy); for the handling steps c is the
 * current case. On success c holds the new state and HCP_OK is returned.
 * When the rules forbid the step the result is HCP_ERULE, *why names the
 * rule, and c is unchanged; HCP_EINVAL for malformed events (missing fields),
 * HCP_ENOMEM when a copy fails (c unchanged). why may be NULL.
 * HCP_EV_EVALUATION never applies to a case (HCP_EINVAL).
 */
HCP_API HCP_NODISCARD int hcp_rules_apply(hcp_case *c, const hcp_event *ev, const hcp_cal *cal,
                                          hcp_time now, hcp_refusal *why);

/* Deadlines of c that have passed at `now` without the step that meets them:
 * a bit (1 << hcp_deadline_kind) each; 0 when none. */
HCP_API unsigned hcp_case_overdue(const hcp_case *c, hcp_time now);
/* Whether c has a deadline whose step is not made yet: false means
 * hcp_case_overdue(c, t) is 0 at every t, so an index of the cases for
 * which this is true holds every case that is or can become overdue
 * (the gateway's, for its overdue gauge). Changes only with c's steps. */
HCP_API bool hcp_case_deadline_running(const hcp_case *c);

/* Whether a deadline was (or, if still open, is being) kept: feedback given
 * by feedback_due and any re-review decided by rereview_due. False for ever
 * once an `overdue` event marked the feedback or re-review deadline (also
 * when the case is later not adopted): the mark is permanent. */
HCP_API bool hcp_case_deadline_met(const hcp_case *c, hcp_time now);

/* When the case's record last changed: the later of its latest step's `at`
 * and the latest `recorded_at` (a step entered late from paper changes the
 * record when it is entered, whatever date it claims). The public feed's
 * `updated_datetime` and its sort key (docs/feed.md). 0 for NULL. */
HCP_API hcp_time hcp_case_updated_at(const hcp_case *c);

/*
 * Whether handling step ev is *backdated*: recorded (recorded_at) after the
 * end of the `days`-th working day (cal) following the day of its `at`. It
 * depends on the event and the calendar only, so a node and the gateway
 * classify the same log alike. False for evaluations, case_open (a paper
 * case is often entered late and starts its own deadline) and the sweep's
 * overdue marks, for days < 1, and when the count fails (NULL arguments).
 */
HCP_API bool hcp_event_backdated(const hcp_event *ev, const hcp_cal *cal, int days);

/* Recount the deadlines of c with cal (after a new calendar year arrives);
 * an extended feedback deadline keeps its explicit date. */
HCP_API HCP_NODISCARD int hcp_case_recompute_deadlines(hcp_case *c, const hcp_cal *cal);

#endif
