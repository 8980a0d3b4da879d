/*
 * record.h — the stored record: the bytes the node and the gateway keep in
 * LMDB for a case or a log entry (docs/storage.md): the main record
 * (codec.h) in the clear, the personal record sealed (seal.h) with
 * associated data that binds it to its place. (The stores themselves are
 * node/store.c and gateway/store.c; this is only their value format.)
 *
 *   case:  0x01 | be32 len | main record | sealed personal record (AAD: the case id)
 *   event: 0x01 | hash (32) | be32 len | main record | sealed personal record
 *          (AAD: "log" county be64(seq))
 *
 * The sealed part is absent when there is no personal data.
 */
#ifndef HCP_RECORD_H
#define HCP_RECORD_H

#include "case.h"
#include "seal.h"

/* Append the stored record of case c (borrowed) to out (the caller's), with
 * a fresh random salt each time; s seals the personal record and must not be
 * NULL. Returns HCP_OK; HCP_EINVAL (a NULL argument or a case the codec
 * refuses); HCP_ERANGE (over a record or out's ceiling); HCP_ECRYPTO (no
 * randomness, sealing failed); HCP_ENOMEM. On error out is as it was. */
HCP_API HCP_NODISCARD int hcp_stored_case_pack(hcp_sealer *s, const hcp_case *c, hcp_buf *out);
/* Decode the stored record v[0..n) of case id (both borrowed) into *c (zeroed
 * first; the caller hcp_case_clear()s it, also on error). personal: also
 * unseal and decode the personal record (s may be NULL otherwise).
 * Returns HCP_OK; HCP_EINVAL (a NULL argument, or personal without s);
 * HCP_EFORMAT (not a stored record); the codec's decode errors (codec.h:
 * HCP_EFORMAT, HCP_EUTF8, HCP_EVERSION, ...); HCP_ECRYPTO (the sealed part does not
 * authenticate under s and id: wrong key, or a record moved to another
 * case); HCP_ENOMEM. */
HCP_API HCP_NODISCARD int hcp_stored_case_unpack(hcp_sealer *s, const char *id, const void *v,
                                                 size_t n, bool personal, hcp_case *c);

/* Append the stored record of log entry seq of county (six characters) to
 * out (the caller's): its chain hash, its encoded main record rec[0..rec_len)
 * and, if pii_len > 0, the plaintext personal record pii, sealed here with s
 * (then not NULL). All inputs borrowed. Returns HCP_OK; HCP_EINVAL (a NULL or
 * malformed argument); HCP_ERANGE (rec over HCP_RECORD_MAX, or out's ceiling);
 * HCP_ECRYPTO; HCP_ENOMEM. On error out is as it was. */
HCP_API HCP_NODISCARD int hcp_stored_event_pack(hcp_sealer *s, const char *county, uint64_t seq,
                                                const uint8_t hash[HCP_HASH_LEN], const void *rec,
                                                size_t rec_len, const void *pii, size_t pii_len,
                                                hcp_buf *out);
/*
 * Read the stored record v[0..n) of log entry seq of county (all borrowed).
 * Each output may be NULL: hash; rec (the main record's bytes are appended);
 * pii (the unsealed personal record's bytes are appended, nothing when there
 * is none; needs s); ev (decoded, with the personal fields when personal is
 * true; zeroed first, the caller hcp_event_clear()s it, also on error).
 * Returns HCP_OK; HCP_EINVAL (a NULL or malformed argument, or the personal
 * record wanted without s); HCP_EFORMAT (not a stored record); the codec's
 * decode errors (codec.h); HCP_ECRYPTO (the sealed part does not
 * authenticate: wrong key, or an entry moved to another county or seq);
 * HCP_ERANGE (rec or pii over its ceiling); HCP_ENOMEM.
 */
HCP_API HCP_NODISCARD int hcp_stored_event_unpack(hcp_sealer *s, const char *county, uint64_t seq,
                                                  const void *v, size_t n, bool personal,
                                                  uint8_t hash[HCP_HASH_LEN], hcp_buf *rec,
                                                  hcp_buf *pii, hcp_event *ev);

#endif
