/*
 * codec.h — msgpack encoding of events and cases (docs/codec.md).
 *
 * A record is a msgpack map with short string keys, "v" (the schema version)
 * first. Known keys are written in a fixed order, then the unknown ones kept
 * from decoding (hcp_extra), so encode(decode(x)) == x byte for byte for any
 * record this version wrote or a newer one wrote.
 *
 * Personal data is never in the main record. Free text (content, window,
 * note, by, reason, result, via, text, rectification_result) goes into the
 * main record masked (hcp_text_mask); when masking changed it, the original
 * goes into the personal record and decoding the personal record puts it
 * back. An event or case that has any personal data is encoded as two
 * records: the main one, which carries "pd", the SHA-256
 * of (salt || personal record); and the personal record, which the stores
 * seal with AES-GCM and which crosses the network only inside TLS. The hash
 * chain covers the main record, so it is verifiable without the personal
 * data and binds it all the same.
 *
 * Decoders take untrusted bytes: they bound every declared length against
 * what remains before msgpack-c sees it (docs/codec.md), check every type,
 * refuse invalid UTF-8, never read past the input and never abort.
 */
#ifndef HCP_CODEC_H
#define HCP_CODEC_H

#include "case.h"

/* 2: the personal record may hold original free text; 3: the written dispute and
 * close (dr, se, ue, dn and their originals) and the case's rh, lr; 4: Art. 14's
 * register contact (kc, ks, kl, kr; okn, okp, oks) (docs/codec.md). */
#define HCP_SCHEMA_VERSION 4
#define HCP_RECORD_MAX     (256 * 1024) /* ceiling of one encoded record */

/*
 * Check that [p, p+n) is exactly one well-formed msgpack object, no deeper
 * than `max_depth`, in which no container declares more elements than bytes
 * remain and no str/bin/ext runs past the end. Pure, allocation-free; the
 * guard in front of msgpack-c.
 */
HCP_API HCP_NODISCARD int hcp_mp_check(const void *p, size_t n, int max_depth);

/*
 * The masked form of free text s that a main record carries: hcp_redact_known
 * (redact.h) with the record's own personal strings (complainant name,
 * phone, ID number and organization, staff phone, verifier phone; in and
 * verifier may be NULL) as known strings. A new heap string (caller frees);
 * NULL when s is NULL or on allocation failure. Never longer than s.
 */
HCP_API char *hcp_text_mask(const char *s, const hcp_intake *in, const hcp_contact *verifier);

/*
 * Encode ev. rec receives the main record; pii receives the personal record
 * when ev has personal data (hcp_event_has_personal), and is left empty
 * otherwise. ev->pii_salt must be set by the caller (random) in that case;
 * the digest written is computed here, and also stored into
 * *digest_out when not NULL. Both buffers are appended to.
 */
HCP_API HCP_NODISCARD int hcp_event_encode(const hcp_event *ev, hcp_buf *rec, hcp_buf *pii,
                                           uint8_t digest_out[HCP_HASH_LEN]);
/*
 * Decode a main record into *ev (zeroed first; the caller clears it later,
 * also after an error). Personal fields stay NULL and free text is in its
 * masked form; has_pii and pii_digest tell whether there is a personal
 * record.
 */
HCP_API HCP_NODISCARD int hcp_event_decode(const void *rec, size_t n, hcp_event *ev);
/*
 * Decode a personal record into an event decoded before, after checking
 * SHA-256(salt || pii) against ev->pii_digest (HCP_ECRYPTO on mismatch):
 * the personal fields are set and each free text the record holds an
 * original of is replaced by it. An original whose field is absent from
 * the main record, or equal to it, is HCP_EFORMAT.
 */
HCP_API HCP_NODISCARD int hcp_event_decode_pii(const void *pii, size_t n, hcp_event *ev);

/* The same for a case (the node's and gateway's derived state). */
HCP_API HCP_NODISCARD int hcp_case_encode(const hcp_case *c, const uint8_t salt[HCP_SALT_LEN],
                                          hcp_buf *rec, hcp_buf *pii);
HCP_API HCP_NODISCARD int hcp_case_decode(const void *rec, size_t n, hcp_case *c);
HCP_API HCP_NODISCARD int hcp_case_decode_pii(const void *pii, size_t n, hcp_case *c);

#endif
