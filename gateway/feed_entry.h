/*
 * feed_entry.h — the public disclosure feed's entries (docs/feed.md, the
 * regulation's Art. 6 and 13), as a pure module: a case record in, the
 * public JSON entry or the bytes of an Atom entry out. No LMDB, no HTTP,
 * no global state: the store keeps what gw_feed_entry_value makes, the
 * feed routes (feed.c) turn those stored values into pages.
 *
 * Privacy: every free text an entry shows goes through hcp_redact_known
 * (core/redact.h) with the case's own personal data (complainant, staff,
 * verifier) as known strings, which also drops the characters XML cannot
 * carry. So an entry, and the Atom rendered from it, holds the redaction
 * invariant of redact.h in every string (tests/fuzz/fuzz_feed_entry.c).
 *
 * The stored value: GW_FEED_HDR bytes (u8 form | u8 flags GW_FEED_* |
 * be64 received_at | be64 flip_at, the instant after which a kept deadline
 * is missed, 0 none) then, in form GW_FEED_FORMAT, the entry as a compact
 * JSON object without "deadline_met", which the routes add as of the
 * request; in form GW_FEED_FORMAT_LEAF, be64 the index of the transparency
 * log's leaf that holds exactly those JSON bytes (tlog.h), so the entry is
 * stored once. The store resolves a leaf reference (gws_feed_value_read).
 */
#ifndef GW_FEED_ENTRY_H
#define GW_FEED_ENTRY_H

#include <jansson.h>

#include "case.h"
#include "hcp.h"

#define GW_FEED_HDR         18
#define GW_FEED_FORMAT      1 /* the value holds the JSON entry */
#define GW_FEED_FORMAT_LEAF 2 /* the value holds the index of the log's leaf */
/* deadline_note of an entry whose deadline was counted into a year the
 * federation calendar does not cover yet (docs/calendar.md, docs/feed.md) */
#define GW_FEED_PROVISIONAL_NOTE "期限为暂定：该年度节假日安排尚未发布"
#define GW_FEED_CLOSED           1u /* flags: the case is resolved or closed */
#define GW_FEED_MET              2u /* flags: its deadlines were kept as of the build */

/* A stored value taken apart (gw_feed_value_parse); json borrows from it,
 * or, for a leaf reference, is NULL until the store resolves it. */
typedef struct gw_feed_meta {
    bool closed;          /* GW_FEED_CLOSED */
    bool met;             /* GW_FEED_MET, as stored (not yet checked against flip_at) */
    hcp_time received_at; /* the case's received_at: the feed's date filters */
    hcp_time flip_at;     /* after this instant a kept deadline is missed; 0 never */
    const char *json;     /* the entry's JSON object, not NUL-terminated */
    size_t json_len;      /* >= 2: "{}" at least (0 while an unresolved leaf) */
    bool is_leaf;         /* form GW_FEED_FORMAT_LEAF: the entry is log leaf `leaf` */
    uint64_t leaf;        /* the leaf's index when is_leaf */
} gw_feed_meta;

/* The public entry of case c (borrowed): Open311 GeoReport v2 names
 * (description: the complaint's content, masked) plus county, kind,
 * channel, dimensions, outcome, rectification_result and revisited; every
 * free text redacted with c's personal data as known strings; absent
 * optional fields, and the GeoReport members hcp has no value for
 * (service_notice, address, address_id, zipcode, lat, long, media_url),
 * are JSON null. Without "deadline_met".
 * Returns a new reference (the caller json_decref()s it), or NULL when c
 * is NULL or memory ran out. */
HCP_NODISCARD json_t *gw_feed_entry_json(const hcp_case *c);

/* The stored value of c's entry as of now into out (reset first; c is
 * borrowed). Errors: HCP_EINVAL (NULL argument), HCP_ENOMEM, and
 * HCP_ERANGE when out's bound is too small for it. */
HCP_NODISCARD int gw_feed_entry_value(const hcp_case *c, hcp_time now, hcp_buf *out);

/* Turn a value of form GW_FEED_FORMAT that gw_feed_entry_value made (in
 * v) into form GW_FEED_FORMAT_LEAF referring to log leaf `leaf`, which
 * holds its JSON: the header is kept, the JSON replaced by be64 leaf.
 * HCP_EFORMAT when v is not a form-1 value; HCP_ERANGE/HCP_ENOMEM. */
HCP_NODISCARD int gw_feed_value_to_leaf(hcp_buf *v, uint64_t leaf);

/* The instant after which c's still-open deadline is missed (0: none). */
hcp_time gw_feed_entry_flip_at(const hcp_case *c);

/* Where c stands, in one fixed Chinese phrase (static, never free text). */
const char *gw_feed_entry_status_note(const hcp_case *c);

/* Take a stored value (v, len bytes) apart into *out, which borrows from
 * v. A leaf reference gives is_leaf, leaf and json NULL (json_len 0).
 * HCP_EFORMAT when it is too short, of another form or its JSON part does
 * not look like an object; HCP_EINVAL on NULL arguments. */
HCP_NODISCARD int gw_feed_value_parse(const void *v, size_t len, gw_feed_meta *out);

/* Whether the entry shows deadline_met true at now: kept when built, and
 * its flip_at (if any) not yet passed. */
bool gw_feed_meta_met_at(const gw_feed_meta *m, hcp_time now);

/* Append the stored JSON object (json, len bytes, a '}' last) to out with
 * ,"deadline_met":met added before its closing brace. HCP_EFORMAT when it
 * does not end in '}'; HCP_ERANGE/HCP_ENOMEM from out. */
HCP_NODISCARD int gw_feed_entry_json_append(hcp_buf *out, const char *json, size_t len, bool met);
/* The form of what gw_feed_entry_json_append makes of (json, met). A JSON
 * page's ETag is a digest of its parts with each entry by its log hash
 * (feed.c, docs/feed.md "ETag"), so any change to those bytes must change
 * this string, or a client would be told 304 for bytes it does not have
 * (test_gw_feed_entry pins the bytes of this form). */
#define GW_FEED_ENTRY_JSON_FORM "hcp-feed-entry-json/1"

/* Append one Atom <entry> for the stored JSON object (json, len bytes) of
 * case id updated at `updated` to out: title, updated, the JSON link and
 * a text content of labelled lines; XML's special characters escaped and
 * every character XML cannot carry dropped. HCP_EFORMAT when json is not
 * an object or id not a plausible case id (HCP_CASE_ID_MAX, printable
 * ASCII); HCP_ERANGE/HCP_ENOMEM from out. */
HCP_NODISCARD int gw_feed_entry_atom_append(hcp_buf *out, const char *id, hcp_time updated,
                                            const char *json, size_t len, bool met);

/* Append s with XML's five special characters escaped and every
 * character hcp_text_publishable refuses (or a byte that is not UTF-8)
 * dropped; NULL appends nothing. HCP_ERANGE/HCP_ENOMEM from out. */
HCP_NODISCARD int gw_feed_xml_append(hcp_buf *out, const char *s);

#endif
