/*
 * stored.h — how the node and the gateway lay out a stored case or log
 * entry (docs/storage.md): the main record in the clear, the personal
 * record sealed (seal.h) with associated data that binds it to its place.
 *
 *   case:  0x01 | be32 len | main record | sealed personal record (AAD: the case id)
 *   event: 0x01 | hash (32) | be32 len | main record | sealed personal record
 *          (AAD: "log" county be64(seq))
 *
 * The sealed part is absent when there is no personal data.
 */
#ifndef HCP_STORED_H
#define HCP_STORED_H

#include "case.h"
#include "seal.h"

/* Append the stored form of case c to out (a fresh random salt each time). */
HCP_API HCP_NODISCARD int hcp_stored_case_pack(hcp_sealer *s, const hcp_case *c, hcp_buf *out);
/* Decode a stored case into *c (zeroed first; caller clears). personal:
 * also unseal and decode the personal record (s may be NULL otherwise). */
HCP_API HCP_NODISCARD int hcp_stored_case_unpack(hcp_sealer *s, const char *id, const void *v,
                                                 size_t n, bool personal, hcp_case *c);

/* Append the stored form of a log entry: its hash, main record and (if
 * pii_len > 0) the plaintext personal record, sealed here. */
HCP_API HCP_NODISCARD int hcp_stored_event_pack(hcp_sealer *s, const char *county, uint64_t seq,
                                                const uint8_t hash[HCP_HASH_LEN],
                                                const void *rec, size_t rec_len, const void *pii,
                                                size_t pii_len, hcp_buf *out);
/*
 * Read a stored log entry. Each output may be NULL: hash; rec (the main
 * record's bytes are appended); pii (the unsealed personal record's bytes
 * are appended, nothing when there is none; needs s); ev (decoded, with
 * the personal fields when personal is true; zeroed first, caller clears).
 */
HCP_API HCP_NODISCARD int hcp_stored_event_unpack(hcp_sealer *s, const char *county, uint64_t seq,
                                                  const void *v, size_t n, bool personal,
                                                  uint8_t hash[HCP_HASH_LEN], hcp_buf *rec,
                                                  hcp_buf *pii, hcp_event *ev);

#endif
