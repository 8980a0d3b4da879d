/*
 * fuzz_common.h — what the JSON reader fuzz targets (fuzz_intake.c,
 * fuzz_step.c) share: checks of a refusal, and the comparison of two
 * events through their encoding (codec.h), which covers every field.
 */
#ifndef HCP_FUZZ_COMMON_H
#define HCP_FUZZ_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

/* A refusal names a sensible status and carries printable UTF-8 texts. */
static inline void fuzz_check_err(int rc, const hcp_json_err *err)
{
    if (rc == HCP_OK)
        return;
    if (err->status != 400 && err->status != 413 && err->status != 422 && err->status != 500)
        abort();
    if (err->detail[0] == '\0' || !hcp_utf8_valid(err->detail, strlen(err->detail)) ||
        !hcp_utf8_valid(err->field, strlen(err->field)))
        abort();
}

/* The envelope the node would give ev, so that it can be encoded. */
static inline void fuzz_envelope(hcp_event *ev)
{
    memcpy(ev->county, "630102", 7);
    memcpy(ev->case_id, "630102-20261127-0042", 21);
    ev->seq = 7;
    ev->recorded_at = HCP_AT_MIN + 1000;
    memset(ev->pii_salt, 7, sizeof(ev->pii_salt));
}

/* Abort unless a and b (enveloped) encode to the same bytes. */
static inline void fuzz_same_event(const hcp_event *a, const hcp_event *b)
{
    hcp_buf ra, pa, rb, pb;
    hcp_buf_init(&ra, HCP_RECORD_MAX);
    hcp_buf_init(&pa, HCP_RECORD_MAX);
    hcp_buf_init(&rb, HCP_RECORD_MAX);
    hcp_buf_init(&pb, HCP_RECORD_MAX);
    if (hcp_event_encode(a, &ra, &pa, NULL) != HCP_OK ||
        hcp_event_encode(b, &rb, &pb, NULL) != HCP_OK)
        abort();
    if (ra.len != rb.len || memcmp(ra.data, rb.data, ra.len) != 0 || pa.len != pb.len ||
        (pa.len > 0 && memcmp(pa.data, pb.data, pa.len) != 0))
        abort();
    hcp_buf_free(&ra);
    hcp_buf_free(&pa);
    hcp_buf_free(&rb);
    hcp_buf_free(&pb);
}

/* The JSON of ev as a client would post it: the event's own keys gone. */
static inline json_t *fuzz_as_request(const hcp_event *ev, const char *const *drop)
{
    json_t *j = hcp_json_event(ev, true);
    if (j == NULL)
        abort(); /* what was read must be writable */
    for (size_t i = 0; drop[i] != NULL; i++)
        json_object_del(j, drop[i]);
    return j;
}

#endif
