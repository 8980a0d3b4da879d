/*
 * json.h — the HTTP API's JSON to and from the model, with jansson.
 * Both daemons use it: the node to read request bodies and answer with
 * cases, the gateway to answer with cases.
 *
 * Errors name the field (a JSON path such as "complainant.phone") and the
 * HTTP status the API answers with: 400 malformed JSON or invalid UTF-8,
 * 413 a body over the limit, 422 a missing, mistyped, out-of-range or
 * unknown-enum field.
 *
 * Every string must be valid UTF-8 without NUL. Short fields (names, codes,
 * phones, id numbers, window, by, via: at most HCP_SHORT_MAX bytes) must
 * also hold no control character (tab, LF and CR included) and no Unicode
 * non-character (hcp_text_publishable, redact.h): 422 naming the field.
 * Free texts (content, note, reason, result, text) may hold any of them;
 * the public feed drops what it cannot carry.
 *
 * "at" (intake and steps) is optional; when given it is an RFC 3339
 * date-time with offset not before HCP_AT_MIN, else 422 naming "at".
 */
#ifndef HCP_JSON_H
#define HCP_JSON_H

#include <jansson.h>

#include "case.h"

#define HCP_BODY_MAX (64 * 1024) /* largest request body accepted */
/* The earliest "at" accepted: 2022-05-01T00:00:00+08:00, when the
 * regulation took effect (nothing before it can be a case under it). */
#define HCP_AT_MIN ((hcp_time)1651334400)

typedef struct hcp_json_err {
    int status;     /* HTTP status to answer with */
    char field[64]; /* JSON path of the offending field, "" for the body */
    char detail[256];
} hcp_json_err;

/* Parse a request body (need not be NUL-terminated). On success *out is a
 * new reference the caller decrefs; it is a JSON object. */
HCP_API HCP_NODISCARD int hcp_json_load(const char *body, size_t n, json_t **out,
                                        hcp_json_err *err);

/*
 * Read an evaluation (POST /v1/evaluations, is_case false: rating 1..5
 * required, no kind) or a case (POST /v1/cases, is_case true: kind required;
 * rating required for a review and refused for a complaint) into *in (zeroed
 * first; the caller clears it, also after an error). *at receives the
 * optional "at" (0 when absent). Unknown top-level keys are refused (422) so
 * a misspelt field is never silently dropped.
 */
HCP_API HCP_NODISCARD int hcp_json_read_intake(const json_t *obj, bool is_case, hcp_intake *in,
                                               hcp_time *at, hcp_json_err *err);

/*
 * Read a handling step (POST /v1/cases/ID/events) into *ev (zeroed first;
 * the caller clears it): type and that type's fields, "at"
 * optional (ev->at = 0 when absent). The case id and envelope are the
 * caller's to fill. HCP_EV_EVALUATION, CASE_OPEN and OVERDUE are not steps
 * a client may post (422).
 */
HCP_API HCP_NODISCARD int hcp_json_read_step(const json_t *obj, hcp_event *ev, hcp_json_err *err);

/*
 * The case JSON of the HTTP API: id, county, kind, rating, channel, dimensions,
 * service_item, unit, window, staff, complainant, real_name, content,
 * received_at, status, outcome, deadlines{feedback_due, dispute_due,
 * rereview_due}, overdue, events[]. `personal` false leaves out personal
 * data (complainant null, staff.phone and verifier phones absent).
 * events may be NULL when nevents is 0. Returns a new reference, NULL on
 * allocation failure.
 */
HCP_API json_t *hcp_json_case(const hcp_case *c, const hcp_event *events, size_t nevents,
                              hcp_time now, bool personal);
/* One event as JSON: {seq, type, at, recorded_at, …its fields}. */
HCP_API json_t *hcp_json_event(const hcp_event *ev, bool personal);
/* An RFC 3339 string for t, or JSON null for 0. */
HCP_API json_t *hcp_json_time(hcp_time t);
/* {"error": error, "detail": detail} */
HCP_API json_t *hcp_json_error(const char *error, const char *detail);

#endif
