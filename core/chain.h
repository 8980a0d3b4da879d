/*
 * chain.h — the hash chain over a county's event log (docs/chain.md).
 *
 *   genesis  = SHA-256("hcp-genesis-v1" || county)               (6 ASCII digits)
 *   hash(i)  = SHA-256("hcp-event-v1" || hash(i-1) || be64(i) || be32(len) || record(i))
 *
 * where record(i) is the main msgpack record of event i exactly as stored and
 * sent (codec.h), and i counts from 1. Binding the county into the genesis
 * keeps one county's log from passing as another's.
 */
#ifndef HCP_CHAIN_H
#define HCP_CHAIN_H

#include "case.h"

typedef struct hcp_chain {
    char county[HCP_COUNTY_LEN + 1];
    uint64_t seq;               /* last appended; 0 before the first */
    uint8_t head[HCP_HASH_LEN]; /* hash(seq), or the genesis */
} hcp_chain;

/* Start a chain for county (six digits, else HCP_EINVAL). */
HCP_API HCP_NODISCARD int hcp_chain_init(hcp_chain *ch, const char *county);
/* Resume a chain at a known position. */
HCP_API HCP_NODISCARD int hcp_chain_resume(hcp_chain *ch, const char *county, uint64_t seq,
                                           const uint8_t head[HCP_HASH_LEN]);
/* hash(seq) from the previous hash and the record; pure. */
HCP_API HCP_NODISCARD int hcp_chain_hash(const uint8_t prev[HCP_HASH_LEN], uint64_t seq,
                                         const void *rec, size_t n, uint8_t out[HCP_HASH_LEN]);
/* Append record number ch->seq + 1; out (may be NULL) receives its hash. */
HCP_API HCP_NODISCARD int hcp_chain_append(hcp_chain *ch, const void *rec, size_t n,
                                           uint8_t out[HCP_HASH_LEN]);
/*
 * Verify the next record against the hash its writer stored: seq must be
 * ch->seq + 1 (a gap or a repeat is HCP_ECHAIN) and the hash must match
 * (a changed or reordered record is HCP_ECHAIN). Advances only on success.
 */
HCP_API HCP_NODISCARD int hcp_chain_verify_next(hcp_chain *ch, uint64_t seq, const void *rec,
                                                size_t n, const uint8_t expect[HCP_HASH_LEN]);
/*
 * Verify a whole log from the genesis of county: entry i (0-based) is record
 * recs[i] of lens[i] bytes at position seqs[i] with stored hash hashes[i].
 * Returns the first failure (HCP_ECHAIN for a broken chain); *bad_index (may
 * be NULL) receives that entry's index, or count on success. Borrows all.
 */
HCP_API HCP_NODISCARD int hcp_chain_verify_all(const char *county, size_t count,
                                               const uint64_t *seqs, const void *const *recs,
                                               const size_t *lens,
                                               const uint8_t (*hashes)[HCP_HASH_LEN],
                                               size_t *bad_index);
/* Lower-case hex of a hash into buf (at least 65 bytes). */
HCP_API void hcp_hash_hex(const uint8_t h[HCP_HASH_LEN], char *buf);

#endif
