/*
 * fuzz_intake.c — libFuzzer target for the HTTP JSON intake reader
 * (hcp_json_load and hcp_json_read_intake, core/json.c). Arbitrary bytes
 * are loaded and read both as an evaluation and as a case. A refusal must
 * carry a known status and UTF-8 texts; what is accepted must obey the
 * reader's contract (at not before HCP_AT_MIN, kind and rating as the
 * route requires, short fields publishable) and survive a round trip:
 * written as the event JSON, read again, encoded, it gives the same bytes.
 */
#include <stdint.h>

#include "fuzz_common.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A short field holds no control character and nothing unpublishable. */
static void check_short(const char *s)
{
    if (s == NULL)
        return;
    size_t n = strlen(s);
    if (n > HCP_SHORT_MAX)
        abort();
    for (size_t i = 0, k; i < n; i += k) {
        uint32_t cp;
        k = hcp_text_next(s + i, n - i, &cp);
        if (cp == HCP_TEXT_BAD || cp < 0x20 || !hcp_text_publishable(cp))
            abort();
    }
}

/* The contract of an intake read without error. */
static void check_intake(const hcp_intake *in, hcp_time at, bool is_case)
{
    if (at != 0 && at < HCP_AT_MIN)
        abort();
    if (is_case != (in->kind != HCP_KIND_NONE))
        abort();
    if (in->kind == HCP_KIND_COMPLAINT ? in->rating != 0 : in->rating < 1 || in->rating > 5)
        abort();
    if (in->content == NULL || in->content[0] == '\0' || strlen(in->content) > HCP_TEXT_MAX ||
        in->channel == 0)
        abort();
    const char *shorts[] = {in->unit.code,
                            in->unit.name,
                            in->service_item.code,
                            in->service_item.name,
                            in->window,
                            in->staff.id,
                            in->staff.name,
                            in->staff.phone,
                            in->complainant.name,
                            in->complainant.phone,
                            in->complainant.id_number,
                            in->complainant.organization};
    for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
        check_short(shorts[i]);
}

/* Written out as the event JSON and read again, the intake is the same. */
static void round_trip(hcp_intake *in, hcp_time at, bool is_case)
{
    static const char *const drop[] = {"seq", "type", "recorded_at", "evaluation_no", NULL};
    hcp_event a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.type = is_case ? HCP_EV_CASE_OPEN : HCP_EV_EVALUATION;
    a.at = at;
    a.in = *in; /* borrowed: given back below */
    fuzz_envelope(&a);
    json_t *j = fuzz_as_request(&a, drop);
    hcp_json_err err;
    hcp_time at2;
    if (hcp_json_read_intake(j, is_case, &b.in, &at2, &err) != HCP_OK || at2 != at)
        abort();
    b.type = a.type;
    b.at = at2;
    fuzz_envelope(&b);
    fuzz_same_event(&a, &b);
    hcp_event_clear(&b);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *o = NULL;
    hcp_json_err err;
    int rc = hcp_json_load((const char *)data, size, &o, &err);
    fuzz_check_err(rc, &err);
    if (rc != HCP_OK)
        return 0;
    for (int is_case = 0; is_case <= 1; is_case++) {
        hcp_intake in;
        hcp_time at;
        rc = hcp_json_read_intake(o, is_case, &in, &at, &err);
        fuzz_check_err(rc, &err);
        if (rc == HCP_OK) {
            check_intake(&in, at, is_case);
            round_trip(&in, at, is_case);
        } else if (err.status != 422 && err.status != 500)
            abort();
        hcp_intake_clear(&in);
    }
    json_decref(o);
    return 0;
}
