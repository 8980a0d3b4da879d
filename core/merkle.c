/*
 * merkle.c — RFC 6962 / 9162 Merkle tree hashing and proofs (merkle.h).
 */
#include "merkle.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int hcp_merkle_leaf_hash(const void *entry, size_t len, uint8_t out[32])
{
    static const uint8_t zero = 0x00;
    const void *parts[2] = {&zero, entry};
    size_t lens[2] = {1, len};
    if (out == NULL || (entry == NULL && len != 0))
        return HCP_EINVAL;
    return hcp_sha256(parts, lens, 2, out);
}

int hcp_merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
    static const uint8_t one = 0x01;
    const void *parts[3] = {&one, left, right};
    size_t lens[3] = {1, 32, 32};
    if (left == NULL || right == NULL || out == NULL)
        return HCP_EINVAL;
    return hcp_sha256(parts, lens, 3, out);
}

/* The largest power of two strictly below n (n >= 2): RFC 6962's split. */
static uint64_t split_of(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* log2 of n when n is a power of two, else -1: a subtree that is one
 * stored hash is read, not computed. */
static int pow2_level(uint64_t n)
{
    if (n == 0 || (n & (n - 1)) != 0)
        return -1;
    int l = 0;
    while ((n >> l) != 1)
        l++;
    return l;
}

/* MTH of the leaves [lo, lo + size), size >= 1, lo a multiple of the
 * largest power of two not above size (so every aligned complete subtree
 * is one stored hash). Recursion depth at most 64. */
static int subtree(hcp_merkle_get_fn get, void *arg, uint64_t lo, uint64_t size, uint8_t out[32])
{
    int l = pow2_level(size);
    if (l >= 0 && (lo & (size - 1)) == 0)
        return get(arg, (unsigned)l, lo >> l, out);
    uint64_t k = split_of(size);
    uint8_t left[32], right[32];
    int rc = subtree(get, arg, lo, k, left);
    if (rc == HCP_OK)
        rc = subtree(get, arg, lo + k, size - k, right);
    if (rc == HCP_OK)
        rc = hcp_merkle_node_hash(left, right, out);
    return rc;
}

int hcp_merkle_root(hcp_merkle_get_fn get, void *arg, uint64_t n, uint8_t out[32])
{
    if (get == NULL || out == NULL)
        return HCP_EINVAL;
    if (n == 0) {
        size_t none = 0;
        return hcp_sha256(NULL, &none, 0, out);
    }
    return subtree(get, arg, 0, n, out);
}

/* Append h's hash of [lo, lo + size) to proof, bounded. */
static int proof_push(hcp_merkle_get_fn get, void *arg, uint64_t lo, uint64_t size,
                      hcp_merkle_hash *proof, size_t *len)
{
    if (*len >= HCP_MERKLE_PROOF_MAX)
        return HCP_ERANGE;
    int rc = subtree(get, arg, lo, size, proof[*len]);
    if (rc == HCP_OK)
        (*len)++;
    return rc;
}

/* RFC 6962 PATH(m, D[lo, lo + size)): the lower levels first. */
static int path(hcp_merkle_get_fn get, void *arg, uint64_t m, uint64_t lo, uint64_t size,
                hcp_merkle_hash *proof, size_t *len)
{
    if (size <= 1)
        return HCP_OK;
    uint64_t k = split_of(size);
    int rc;
    if (m < k) {
        rc = path(get, arg, m, lo, k, proof, len);
        if (rc == HCP_OK)
            rc = proof_push(get, arg, lo + k, size - k, proof, len);
    } else {
        rc = path(get, arg, m - k, lo + k, size - k, proof, len);
        if (rc == HCP_OK)
            rc = proof_push(get, arg, lo, k, proof, len);
    }
    return rc;
}

int hcp_merkle_inclusion_proof(hcp_merkle_get_fn get, void *arg, uint64_t index, uint64_t n,
                               hcp_merkle_hash *proof, size_t *len)
{
    if (get == NULL || proof == NULL || len == NULL || index >= n)
        return HCP_EINVAL;
    *len = 0;
    return path(get, arg, index, 0, n, proof, len);
}

/* RFC 6962 SUBPROOF(m, D[lo, lo + size), b). */
static int subproof(hcp_merkle_get_fn get, void *arg, uint64_t m, uint64_t lo, uint64_t size,
                    int whole, hcp_merkle_hash *proof, size_t *len)
{
    if (m == size)
        return whole ? HCP_OK : proof_push(get, arg, lo, size, proof, len);
    uint64_t k = split_of(size);
    int rc;
    if (m <= k) {
        rc = subproof(get, arg, m, lo, k, whole, proof, len);
        if (rc == HCP_OK)
            rc = proof_push(get, arg, lo + k, size - k, proof, len);
    } else {
        rc = subproof(get, arg, m - k, lo + k, size - k, 0, proof, len);
        if (rc == HCP_OK)
            rc = proof_push(get, arg, lo, k, proof, len);
    }
    return rc;
}

int hcp_merkle_consistency_proof(hcp_merkle_get_fn get, void *arg, uint64_t m, uint64_t n,
                                 hcp_merkle_hash *proof, size_t *len)
{
    if (get == NULL || proof == NULL || len == NULL || m > n)
        return HCP_EINVAL;
    *len = 0;
    if (m == 0 || m == n)
        return HCP_OK;
    return subproof(get, arg, m, 0, n, 1, proof, len);
}

int hcp_merkle_verify_inclusion(const uint8_t leaf[32], uint64_t index, uint64_t n,
                                const hcp_merkle_hash *proof, size_t len, const uint8_t root[32])
{
    if (leaf == NULL || root == NULL || (proof == NULL && len > 0))
        return HCP_EINVAL;
    if (index >= n)
        return HCP_ECRYPTO;
    uint64_t fn = index, sn = n - 1;
    uint8_t r[32];
    memcpy(r, leaf, 32);
    for (size_t i = 0; i < len; i++) {
        if (sn == 0)
            return HCP_ECRYPTO;
        int rc;
        if ((fn & 1) || fn == sn) {
            rc = hcp_merkle_node_hash(proof[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            rc = hcp_merkle_node_hash(r, proof[i], r);
        }
        if (rc != HCP_OK)
            return rc;
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, 32) == 0 ? HCP_OK : HCP_ECRYPTO;
}

int hcp_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t root_m[32],
                                  const uint8_t root_n[32], const hcp_merkle_hash *proof,
                                  size_t len)
{
    if (root_m == NULL || root_n == NULL || (proof == NULL && len > 0))
        return HCP_EINVAL;
    if (m > n)
        return HCP_ECRYPTO;
    if (m == n)
        return len == 0 && memcmp(root_m, root_n, 32) == 0 ? HCP_OK : HCP_ECRYPTO;
    if (m == 0)
        return len == 0 ? HCP_OK : HCP_ECRYPTO;
    if (len == 0)
        return HCP_ECRYPTO;
    /* A power-of-two first tree is a node of the second: its head starts
     * the path (RFC 9162 step 2). */
    size_t i = 0;
    const uint8_t *first = proof[0];
    if (pow2_level(m) >= 0)
        first = root_m;
    else
        i = 1;
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[32], sr[32];
    memcpy(fr, first, 32);
    memcpy(sr, first, 32);
    for (; i < len; i++) {
        if (sn == 0)
            return HCP_ECRYPTO;
        int rc;
        if ((fn & 1) || fn == sn) {
            rc = hcp_merkle_node_hash(proof[i], fr, fr);
            if (rc == HCP_OK)
                rc = hcp_merkle_node_hash(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            rc = hcp_merkle_node_hash(sr, proof[i], sr);
        }
        if (rc != HCP_OK)
            return rc;
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, root_m, 32) == 0 && memcmp(sr, root_n, 32) == 0 ? HCP_OK
                                                                                 : HCP_ECRYPTO;
}

int hcp_tile_path(int level, uint64_t n, unsigned w, char *out, size_t cap)
{
    if (out == NULL || level < HCP_TILE_ENTRIES || level > 63 || w == 0 || w > HCP_TILE_WIDTH)
        return HCP_EINVAL;
    char digits[32];
    int nd = snprintf(digits, sizeof(digits), "%" PRIu64, n);
    int pad = (3 - nd % 3) % 3; /* left-pad to a multiple of 3 digits */
    char num[64];
    size_t o = 0;
    for (int i = 0, k = 0; i < pad + nd; i++) {
        if (i > 0 && i % 3 == 0)
            num[o++] = '/';
        if (i % 3 == 0 && i + 3 < pad + nd)
            num[o++] = 'x';
        num[o++] = i < pad ? '0' : digits[k++];
    }
    num[o] = '\0';
    int r;
    char lv[8];
    (void)snprintf(lv, sizeof(lv), "%d", level); /* at most "63": fits */
    if (w == HCP_TILE_WIDTH)
        r = snprintf(out, cap, "tile/%s/%s", level < 0 ? "entries" : lv, num);
    else
        r = snprintf(out, cap, "tile/%s/%s.p/%u", level < 0 ? "entries" : lv, num, w);
    return r < 0 || (size_t)r >= cap ? HCP_ERANGE : HCP_OK;
}

bool hcp_tile_path_parse(const char *path, int *level, uint64_t *n, unsigned *w)
{
    if (path == NULL || level == NULL || n == NULL || w == NULL || strncmp(path, "tile/", 5) != 0)
        return false;
    const char *p = path + 5;
    int lv;
    if (strncmp(p, "entries/", 8) == 0) {
        lv = HCP_TILE_ENTRIES;
        p += 8;
    } else {
        if (p[0] < '0' || p[0] > '9')
            return false;
        lv = p[0] - '0';
        p++;
        if (p[0] >= '0' && p[0] <= '9' && lv != 0) {
            lv = lv * 10 + (p[0] - '0');
            p++;
        }
        if (*p++ != '/' || lv > 63)
            return false;
    }
    uint64_t v = 0;
    for (int elems = 0;; elems++) {
        bool x = *p == 'x';
        if (x)
            p++;
        if (elems >= 7)
            return false;
        for (int i = 0; i < 3; i++, p++) {
            if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
                return false;
            v = v * 10 + (uint64_t)(*p - '0');
        }
        if (x && *p == '/') {
            p++;
            continue;
        }
        if (x)
            return false;
        break;
    }
    unsigned width = HCP_TILE_WIDTH;
    if (*p == '.') {
        if (p[1] != 'p' || p[2] != '/' || p[3] < '1' || p[3] > '9')
            return false;
        p += 3;
        width = 0;
        for (int i = 0; *p >= '0' && *p <= '9'; i++, p++) {
            if (i >= 3)
                return false;
            width = width * 10 + (unsigned)(*p - '0');
        }
        if (width >= HCP_TILE_WIDTH)
            return false;
    }
    if (*p != '\0')
        return false;
    /* canonical: what hcp_tile_path would write for (lv, v, width) */
    char again[HCP_TILE_PATH_MAX];
    if (hcp_tile_path(lv, v, width, again, sizeof(again)) != HCP_OK || strcmp(again, path) != 0)
        return false;
    *level = lv;
    *n = v;
    *w = width;
    return true;
}

unsigned hcp_tile_width(int level, uint64_t n, uint64_t size)
{
    if (level < HCP_TILE_ENTRIES || level > 63)
        return 0;
    unsigned shift = level < 0 ? 0 : (unsigned)level * HCP_TILE_HEIGHT;
    uint64_t count = shift >= 64 ? 0 : size >> shift; /* stored hashes at tree level 8L */
    if (n >= count / HCP_TILE_WIDTH + 1)
        return 0;
    if (n < count / HCP_TILE_WIDTH)
        return HCP_TILE_WIDTH;
    return (unsigned)(count % HCP_TILE_WIDTH);
}
