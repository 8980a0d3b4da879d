/*
 * fuzz_feed_entry.c — libFuzzer target for the feed entry builder
 * (gateway/feed_entry.h): arbitrary bytes go through the record decoder
 * (core/codec.h) as a case record, and, split at the first byte L, as a
 * main record of L bytes and a personal record (which may hold the
 * original free text with personal data, docs/codec.md); every case that
 * decodes is built into a public entry. Checked, any violation abort()s:
 *  - every redacted member holds the redaction invariant of core/redact.h
 *    (tests/fuzz/redact_check.h), the case's personal strings included;
 *  - the stored value parses back to the same entry;
 *  - the JSON page item and the Atom entry rendered from it are valid
 *    UTF-8 of publishable characters only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "feed_entry.h"
#include "redact_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KNOWN_MAX 9

/* The case's personal strings, listed here apart from the builder's own
 * list: every one of them must be masked wherever it appears. */
static size_t personal_of(const hcp_case *c, const char *k[KNOWN_MAX])
{
    const char *all[KNOWN_MAX] = {c->in.complainant.name,
                                  c->in.complainant.phone,
                                  c->in.complainant.id_number,
                                  c->in.staff.name,
                                  c->in.complainant.organization,
                                  c->in.staff.phone,
                                  c->in.staff.id,
                                  c->verifier.name,
                                  c->verifier.phone};
    size_t n = 0;
    for (size_t i = 0; i < KNOWN_MAX; i++)
        if (all[i] != NULL && all[i][0] != '\0')
            k[n++] = all[i];
    return n;
}

/* Abort unless [s, s+n) is UTF-8 of publishable characters only. */
static void publishable(const char *s, size_t n)
{
    if (!hcp_utf8_valid(s, n))
        abort();
    for (size_t i = 0, k; i < n; i += k) {
        uint32_t cp;
        k = hcp_text_next(s + i, n - i, &cp);
        if (k == 0 || cp == HCP_TEXT_BAD || !hcp_text_publishable(cp))
            abort();
    }
}

/* The redacted members: the invariant, with c's personal strings known. */
static void check_members(const json_t *j, const hcp_case *c)
{
    static const char *const redacted[] = {"service_code", "service_name", "agency_responsible",
                                           "rectification_result", "description"};
    const char *known[KNOWN_MAX];
    size_t nk = personal_of(c, known);
    for (size_t i = 0; i < sizeof(redacted) / sizeof(redacted[0]); i++) {
        const json_t *v = json_object_get(j, redacted[i]);
        if (v == NULL)
            abort(); /* every member is there, null when absent */
        if (json_is_string(v))
            check_redacted(json_string_value(v), known, nk);
        else if (!json_is_null(v))
            abort();
    }
}

/* The stored value parses back to j; the renderings are publishable. */
static void check_value(const json_t *j, const hcp_case *c)
{
    hcp_buf val, out;
    hcp_buf_init(&val, 4 * HCP_RECORD_MAX);
    hcp_buf_init(&out, 8 * HCP_RECORD_MAX);
    if (gw_feed_entry_value(c, c->last_at, &val) != HCP_OK)
        abort();
    gw_feed_meta m;
    if (gw_feed_value_parse(val.data, val.len, &m) != HCP_OK)
        abort();
    json_t *back = json_loadb(m.json, m.json_len, 0, NULL);
    if (back == NULL || !json_equal(back, j))
        abort();
    json_decref(back);
    if (gw_feed_entry_json_append(&out, m.json, m.json_len, m.met) != HCP_OK)
        abort();
    hcp_buf_reset(&out);
    /* an id the decoder let through may still be refused as markup */
    if (gw_feed_entry_atom_append(&out, c->id, c->last_at, m.json, m.json_len, m.met) == HCP_OK)
        publishable((const char *)out.data, out.len);
    hcp_buf_free(&val);
    hcp_buf_free(&out);
}

/* Build c's entry and check it. */
static void check_case(const hcp_case *c)
{
    json_t *j = gw_feed_entry_json(c);
    if (j == NULL)
        return; /* out of memory, or text the time formatter refuses */
    check_members(j, c);
    check_value(j, c);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hcp_case c;
    if (hcp_case_decode(data, size, &c) == HCP_OK)
        check_case(&c);
    hcp_case_clear(&c);
    if (size >= 1 && (size_t)data[0] <= size - 1) {
        size_t l = data[0];
        if (hcp_case_decode(data + 1, l, &c) == HCP_OK && c.has_pii &&
            hcp_case_decode_pii(data + 1 + l, size - 1 - l, &c) == HCP_OK)
            check_case(&c);
        hcp_case_clear(&c);
    }
    return 0;
}
