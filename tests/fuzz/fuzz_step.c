/*
 * fuzz_step.c — libFuzzer target for the step reader (hcp_json_load and
 * hcp_json_read_step, core/json.c). Arbitrary bytes are loaded and read as
 * a handling step. A refusal must carry a known status and UTF-8 texts;
 * an accepted step must be one a client may post, with at not before
 * HCP_AT_MIN, and survive a round trip: written as the event JSON, read
 * again, encoded, it gives the same bytes.
 */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const drop[] = {"seq", "recorded_at", NULL};
    json_t *o = NULL;
    hcp_json_err err;
    int rc = hcp_json_load((const char *)data, size, &o, &err);
    fuzz_check_err(rc, &err);
    if (rc != HCP_OK)
        return 0;
    hcp_event a, b;
    rc = hcp_json_read_step(o, &a, &err);
    fuzz_check_err(rc, &err);
    if (rc == HCP_OK) {
        if (a.type == HCP_EV_EVALUATION || a.type == HCP_EV_CASE_OPEN || a.type == HCP_EV_OVERDUE ||
            a.type == HCP_EV_NONE || a.type >= HCP_EV_COUNT_)
            abort();
        if (a.at != 0 && a.at < HCP_AT_MIN)
            abort();
        fuzz_envelope(&a);
        json_t *j = fuzz_as_request(&a, drop);
        if (hcp_json_read_step(j, &b, &err) != HCP_OK)
            abort();
        fuzz_envelope(&b);
        fuzz_same_event(&a, &b);
        hcp_event_clear(&b);
        json_decref(j);
    } else if (err.status != 422 && err.status != 500)
        abort();
    hcp_event_clear(&a);
    json_decref(o);
    return 0;
}
