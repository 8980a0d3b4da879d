/*
 * chain.c — the hash chain over a county's event log (chain.h, docs/chain.md).
 * SHA-256 comes from hcp_sha256 (hcp.h); this file only lays out the bytes it
 * hashes.
 */
#include "chain.h"

#include <string.h>

#include "be.h"
#include "division.h"
#include "hex.h"

static const char genesis_tag[] = "hcp-genesis-v1"; /* hashed without its NUL */
static const char event_tag[] = "hcp-event-v1";     /* hashed without its NUL */

/* genesis = SHA-256("hcp-genesis-v1" || county); county already checked. */
static int chain_genesis(const char *county, uint8_t out[HCP_HASH_LEN])
{
    const void *parts[2] = {genesis_tag, county};
    size_t lens[2] = {sizeof(genesis_tag) - 1, HCP_COUNTY_LEN};
    return hcp_sha256(parts, lens, 2, out);
}

/* Set ch to seq 0 at the genesis of county; ch is the caller's. */
int hcp_chain_init(hcp_chain *ch, const char *county)
{
    if (ch == NULL || !hcp_county_str_ok(county))
        return HCP_EINVAL;
    uint8_t g[HCP_HASH_LEN];
    int rc = chain_genesis(county, g);
    if (rc != HCP_OK)
        return rc;
    memcpy(ch->county, county, HCP_COUNTY_LEN + 1);
    ch->seq = 0;
    memcpy(ch->head, g, HCP_HASH_LEN);
    return HCP_OK;
}

/* Set ch to a position read back from storage; head is copied. With seq 0
 * the head must be the county's genesis (anything else is HCP_ECHAIN). */
int hcp_chain_resume(hcp_chain *ch, const char *county, uint64_t seq,
                     const uint8_t head[HCP_HASH_LEN])
{
    if (ch == NULL || head == NULL || !hcp_county_str_ok(county))
        return HCP_EINVAL;
    if (seq == 0) {
        uint8_t g[HCP_HASH_LEN];
        int rc = chain_genesis(county, g);
        if (rc != HCP_OK)
            return rc;
        if (memcmp(g, head, HCP_HASH_LEN) != 0)
            return HCP_ECHAIN;
    }
    memcpy(ch->county, county, HCP_COUNTY_LEN + 1);
    ch->seq = seq;
    memcpy(ch->head, head, HCP_HASH_LEN);
    return HCP_OK;
}

/* hash(seq) = SHA-256("hcp-event-v1" || prev || be64(seq) || be32(n) || rec).
 * All pointers are borrowed; out may alias prev. */
int hcp_chain_hash(const uint8_t prev[HCP_HASH_LEN], uint64_t seq, const void *rec, size_t n,
                   uint8_t out[HCP_HASH_LEN])
{
    if (prev == NULL || out == NULL || (rec == NULL && n > 0) || seq == 0)
        return HCP_EINVAL;
    if (n > UINT32_MAX)
        return HCP_ERANGE;
    uint8_t hdr[HCP_HASH_LEN + 8 + 4];
    memcpy(hdr, prev, HCP_HASH_LEN);
    hcp_be64_put(hdr + HCP_HASH_LEN, seq);
    hcp_be32_put(hdr + HCP_HASH_LEN + 8, (uint32_t)n);
    const void *parts[3] = {event_tag, hdr, rec};
    size_t lens[3] = {sizeof(event_tag) - 1, sizeof(hdr), n};
    return hcp_sha256(parts, lens, 3, out);
}

/* Hash record ch->seq + 1 and advance ch; rec is borrowed. */
int hcp_chain_append(hcp_chain *ch, const void *rec, size_t n, uint8_t out[HCP_HASH_LEN])
{
    if (ch == NULL)
        return HCP_EINVAL;
    if (ch->seq == UINT64_MAX)
        return HCP_ERANGE;
    uint8_t h[HCP_HASH_LEN];
    int rc = hcp_chain_hash(ch->head, ch->seq + 1, rec, n, h);
    if (rc != HCP_OK)
        return rc;
    ch->seq++;
    memcpy(ch->head, h, HCP_HASH_LEN);
    if (out != NULL)
        memcpy(out, h, HCP_HASH_LEN);
    return HCP_OK;
}

/* Check record seq against its stored hash and advance ch only if both the
 * position and the hash are right; rec and expect are borrowed. */
int hcp_chain_verify_next(hcp_chain *ch, uint64_t seq, const void *rec, size_t n,
                          const uint8_t expect[HCP_HASH_LEN])
{
    if (ch == NULL || expect == NULL)
        return HCP_EINVAL;
    if (ch->seq == UINT64_MAX)
        return HCP_ERANGE;
    if (seq != ch->seq + 1)
        return HCP_ECHAIN; /* a gap (missing event) or a repeat (replay) */
    uint8_t h[HCP_HASH_LEN];
    int rc = hcp_chain_hash(ch->head, seq, rec, n, h);
    if (rc != HCP_OK)
        return rc;
    if (memcmp(h, expect, HCP_HASH_LEN) != 0)
        return HCP_ECHAIN; /* changed, reordered or foreign record */
    ch->seq = seq;
    memcpy(ch->head, h, HCP_HASH_LEN);
    return HCP_OK;
}

/* Verify entries [0, count) from the genesis of county; the arrays are
 * borrowed, each count long. *bad_index gets the first failing entry. */
int hcp_chain_verify_all(const char *county, size_t count, const uint64_t *seqs,
                         const void *const *recs, const size_t *lens,
                         const uint8_t (*hashes)[HCP_HASH_LEN], size_t *bad_index)
{
    if (bad_index != NULL)
        *bad_index = 0;
    if (count > 0 && (seqs == NULL || recs == NULL || lens == NULL || hashes == NULL))
        return HCP_EINVAL;
    hcp_chain ch;
    int rc = hcp_chain_init(&ch, county);
    if (rc != HCP_OK)
        return rc;
    for (size_t i = 0; i < count; i++) {
        rc = hcp_chain_verify_next(&ch, seqs[i], recs[i], lens[i], hashes[i]);
        if (rc != HCP_OK) {
            if (bad_index != NULL)
                *bad_index = i;
            return rc;
        }
    }
    if (bad_index != NULL)
        *bad_index = count;
    return HCP_OK;
}

/* Lower-case hex of h into buf (65 bytes, NUL-terminated); both borrowed.
 * With h NULL, buf becomes "". */
void hcp_hash_hex(const uint8_t h[HCP_HASH_LEN], char *buf)
{
    if (buf == NULL)
        return;
    if (h == NULL) {
        buf[0] = '\0';
        return;
    }
    hcp_hex_encode(h, HCP_HASH_LEN, buf);
}
