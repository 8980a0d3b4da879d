/*
 * be.h — big-endian integers in byte buffers: the one set every module uses
 * for keys that must sort in numeric order (LMDB keys), for length prefixes
 * in stored records, and for the integers the hash chain and the signatures
 * hash. p points at (at least) 2, 4 or 8 bytes the caller owns; nothing is
 * checked, nothing fails.
 */
#ifndef HCP_BE_H
#define HCP_BE_H

#include <stdint.h>

/* v as two big-endian bytes at p. */
static inline void hcp_be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The two big-endian bytes at p. */
static inline uint16_t hcp_be16_get(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* v as four big-endian bytes at p. */
static inline void hcp_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The four big-endian bytes at p. */
static inline uint32_t hcp_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* v as eight big-endian bytes at p. */
static inline void hcp_be64_put(uint8_t *p, uint64_t v)
{
    hcp_be32_put(p, (uint32_t)(v >> 32));
    hcp_be32_put(p + 4, (uint32_t)v);
}

/* The eight big-endian bytes at p. */
static inline uint64_t hcp_be64_get(const uint8_t *p)
{
    return (uint64_t)hcp_be32_get(p) << 32 | hcp_be32_get(p + 4);
}

#endif
