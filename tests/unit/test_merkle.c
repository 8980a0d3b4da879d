/*
 * test_merkle.c — the transparency log's Merkle tree (core/merkle.h):
 * the tree heads, inclusion and consistency proofs of RFC 6962's
 * published 8-leaf test vectors (the ones Certificate Transparency
 * implementations share), then every proof of every tree up to 70
 * leaves made and verified, and altered proofs refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "merkle.h"

#define TREE_MAX 70

/* The test tree: every stored hash of up to TREE_MAX leaves, level by
 * level (level l has TREE_MAX >> l hashes). */
typedef struct tree {
    uint64_t n;
    hcp_merkle_hash h[8][TREE_MAX];
    unsigned gets; /* reads, to see that the proof code reads at all */
} tree;

/* hcp_merkle_get_fn over a tree: a hash outside the tree is an error. */
static int tree_get(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
    tree *t = arg;
    if (level >= 8 || ((index + 1) << level) > t->n)
        return HCP_ENOTFOUND;
    memcpy(out, t->h[level][index], 32);
    t->gets++;
    return HCP_OK;
}

/* Append one leaf's hash and every completed subtree above it. */
static void tree_add(tree *t, const uint8_t leaf[32])
{
    uint64_t i = t->n++;
    memcpy(t->h[0][i], leaf, 32);
    for (unsigned l = 0; l + 1 < 8 && (i & 1); l++, i >>= 1)
        assert_int_equal(hcp_merkle_node_hash(t->h[l][i - 1], t->h[l][i], t->h[l + 1][i >> 1]),
                         HCP_OK);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
    assert_int_equal(strlen(s), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* RFC 6962's test leaves (hex) and the tree heads of their first 1..8. */
static const char *const leaves_hex[8] = {"",
                                          "00",
                                          "10",
                                          "2021",
                                          "3031",
                                          "40414243",
                                          "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f"};
static const char *const roots_hex[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

static void rfc_tree(tree *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < 8; i++) {
        uint8_t data[16], h[32];
        size_t n = strlen(leaves_hex[i]) / 2;
        unhex(leaves_hex[i], data, n);
        assert_int_equal(hcp_merkle_leaf_hash(n ? data : NULL, n, h), HCP_OK);
        tree_add(t, h);
    }
}

static void check_proof(const hcp_merkle_hash *got, size_t len, const char *const *want,
                        size_t want_len)
{
    assert_int_equal(len, want_len);
    for (size_t i = 0; i < len; i++) {
        uint8_t w[32];
        unhex(want[i], w, 32);
        assert_memory_equal(got[i], w, 32);
    }
}

static void rfc_roots(void **state)
{
    (void)state;
    tree *t = malloc(sizeof(*t));
    assert_non_null(t);
    rfc_tree(t);
    for (uint64_t n = 0; n <= 8; n++) {
        uint8_t r[32], w[32];
        unhex(roots_hex[n], w, 32);
        assert_int_equal(hcp_merkle_root(tree_get, t, n, r), HCP_OK);
        assert_memory_equal(r, w, 32);
    }
    free(t);
}

static void rfc_proofs(void **state)
{
    (void)state;
    tree *t = malloc(sizeof(*t));
    assert_non_null(t);
    rfc_tree(t);
    hcp_merkle_hash p[HCP_MERKLE_PROOF_MAX];
    size_t len = 0;
    uint8_t root8[32], root6[32], root2[32], root3[32];
    unhex(roots_hex[8], root8, 32);
    unhex(roots_hex[6], root6, 32);
    unhex(roots_hex[2], root2, 32);
    unhex(roots_hex[3], root3, 32);

    static const char *const inc0[] = {
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"};
    assert_int_equal(hcp_merkle_inclusion_proof(tree_get, t, 0, 8, p, &len), HCP_OK);
    check_proof(p, len, inc0, 3);
    assert_int_equal(hcp_merkle_verify_inclusion(t->h[0][0], 0, 8, p, len, root8), HCP_OK);

    static const char *const inc5[] = {
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"};
    assert_int_equal(hcp_merkle_inclusion_proof(tree_get, t, 5, 8, p, &len), HCP_OK);
    check_proof(p, len, inc5, 3);
    assert_int_equal(hcp_merkle_verify_inclusion(t->h[0][5], 5, 8, p, len, root8), HCP_OK);

    const char *const inc2of3[] = {roots_hex[2]};
    assert_int_equal(hcp_merkle_inclusion_proof(tree_get, t, 2, 3, p, &len), HCP_OK);
    check_proof(p, len, inc2of3, 1);
    assert_int_equal(hcp_merkle_verify_inclusion(t->h[0][2], 2, 3, p, len, root3), HCP_OK);

    static const char *const con2[] = {
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"};
    assert_int_equal(hcp_merkle_consistency_proof(tree_get, t, 2, 8, p, &len), HCP_OK);
    check_proof(p, len, con2, 2);
    assert_int_equal(hcp_merkle_verify_consistency(2, 8, root2, root8, p, len), HCP_OK);

    static const char *const con6[] = {
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"};
    assert_int_equal(hcp_merkle_consistency_proof(tree_get, t, 6, 8, p, &len), HCP_OK);
    check_proof(p, len, con6, 3);
    assert_int_equal(hcp_merkle_verify_consistency(6, 8, root6, root8, p, len), HCP_OK);
    /* the wrong old head, or the heads swapped, do not verify */
    assert_int_equal(hcp_merkle_verify_consistency(6, 8, root2, root8, p, len), HCP_ECRYPTO);
    assert_int_equal(hcp_merkle_verify_consistency(6, 8, root8, root6, p, len), HCP_ECRYPTO);
    free(t);
}

/* A pseudo-random leaf i (xorshift of i): different for every i. */
static void leaf_of(uint64_t i, uint8_t h[32])
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint8_t data[8];
    memcpy(data, &x, sizeof(data));
    assert_int_equal(hcp_merkle_leaf_hash(data, sizeof(data), h), HCP_OK);
}

static void every_proof(void **state)
{
    (void)state;
    tree *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    static hcp_merkle_hash roots[TREE_MAX + 1];
    assert_int_equal(hcp_merkle_root(tree_get, t, 0, roots[0]), HCP_OK);
    for (uint64_t i = 0; i < TREE_MAX; i++) {
        uint8_t h[32];
        leaf_of(i, h);
        tree_add(t, h);
        assert_int_equal(hcp_merkle_root(tree_get, t, i + 1, roots[i + 1]), HCP_OK);
    }
    hcp_merkle_hash p[HCP_MERKLE_PROOF_MAX];
    size_t len;
    srand(1234);
    for (uint64_t n = 1; n <= TREE_MAX; n++) {
        for (uint64_t i = 0; i < n; i++) {
            assert_int_equal(hcp_merkle_inclusion_proof(tree_get, t, i, n, p, &len), HCP_OK);
            assert_int_equal(hcp_merkle_verify_inclusion(t->h[0][i], i, n, p, len, roots[n]),
                             HCP_OK);
            /* another leaf or index, a flipped bit, a short or long proof */
            uint64_t j = (i + 1) % n;
            if (j != i)
                assert_int_equal(hcp_merkle_verify_inclusion(t->h[0][j], i, n, p, len, roots[n]),
                                 HCP_ECRYPTO);
            assert_int_equal(hcp_merkle_verify_inclusion(t->h[0][i], n, n, p, len, roots[n]),
                             HCP_ECRYPTO);
            if (len > 0) {
                size_t k = (size_t)rand() % len;
                p[k][rand() % 32] ^= (uint8_t)(1u << (rand() % 8));
                assert_int_equal(hcp_merkle_verify_inclusion(t->h[0][i], i, n, p, len, roots[n]),
                                 HCP_ECRYPTO);
                assert_int_equal(
                    hcp_merkle_verify_inclusion(t->h[0][i], i, n, p, len - 1, roots[n]),
                    HCP_ECRYPTO);
            }
            assert_int_equal(hcp_merkle_verify_inclusion(t->h[0][i], i, n, p, len + 1, roots[n]),
                             HCP_ECRYPTO);
        }
        for (uint64_t m = 0; m <= n; m++) {
            assert_int_equal(hcp_merkle_consistency_proof(tree_get, t, m, n, p, &len), HCP_OK);
            assert_int_equal(hcp_merkle_verify_consistency(m, n, roots[m], roots[n], p, len),
                             HCP_OK);
            if (m > 0 && m < n) {
                assert_true(len > 0);
                assert_int_equal(
                    hcp_merkle_verify_consistency(m, n, roots[m - 1], roots[n], p, len),
                    HCP_ECRYPTO);
                assert_int_equal(
                    hcp_merkle_verify_consistency(m, n, roots[m], roots[n - 1], p, len),
                    HCP_ECRYPTO);
                size_t k = (size_t)rand() % len;
                p[k][rand() % 32] ^= (uint8_t)(1u << (rand() % 8));
                assert_int_equal(hcp_merkle_verify_consistency(m, n, roots[m], roots[n], p, len),
                                 HCP_ECRYPTO);
                assert_int_equal(
                    hcp_merkle_verify_consistency(m, n, roots[m], roots[n], p, len - 1),
                    HCP_ECRYPTO);
            }
        }
    }
    /* arguments out of their domain */
    assert_int_equal(hcp_merkle_inclusion_proof(tree_get, t, 5, 5, p, &len), HCP_EINVAL);
    assert_int_equal(hcp_merkle_consistency_proof(tree_get, t, 6, 5, p, &len), HCP_EINVAL);
    assert_int_equal(hcp_merkle_verify_consistency(6, 5, roots[6], roots[5], p, 0), HCP_ECRYPTO);
    /* a tree larger than the store: the reader's error comes back */
    assert_int_equal(hcp_merkle_root(tree_get, t, TREE_MAX + 1, roots[0]), HCP_ENOTFOUND);
    assert_true(t->gets > 0);
    free(t);
}

static void tile_paths(void **state)
{
    (void)state;
    char p[HCP_TILE_PATH_MAX];
    int lv;
    uint64_t n;
    unsigned w;
    assert_int_equal(hcp_tile_path(0, 1234067, 256, p, sizeof(p)), HCP_OK);
    assert_string_equal(p, "tile/0/x001/x234/067");
    assert_int_equal(hcp_tile_path(1, 0, 5, p, sizeof(p)), HCP_OK);
    assert_string_equal(p, "tile/1/000.p/5");
    assert_int_equal(hcp_tile_path(HCP_TILE_ENTRIES, 1000, 255, p, sizeof(p)), HCP_OK);
    assert_string_equal(p, "tile/entries/x001/000.p/255");
    assert_true(hcp_tile_path_parse("tile/entries/x001/000.p/255", &lv, &n, &w));
    assert_true(lv == HCP_TILE_ENTRIES && n == 1000 && w == 255);
    assert_true(hcp_tile_path_parse("tile/12/x001/x234/067", &lv, &n, &w));
    assert_true(lv == 12 && n == 1234067 && w == 256);
    static const char *const bad[] = {
        "tile/0/1",    "tile/0/x000/001", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/01",
        "tile/64/000", "tile/0/000/",     "tile/00/000",    "tile/0/x001",      "tiles/0/000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(hcp_tile_path_parse(bad[i], &lv, &n, &w));
    /* widths: 600 leaves are 2 full level-0 tiles and one of 88; level 1
     * has 2 hashes */
    assert_int_equal(hcp_tile_width(0, 1, 600), 256);
    assert_int_equal(hcp_tile_width(0, 2, 600), 88);
    assert_int_equal(hcp_tile_width(0, 3, 600), 0);
    assert_int_equal(hcp_tile_width(1, 0, 600), 2);
    assert_int_equal(hcp_tile_width(2, 0, 600), 0);
    assert_int_equal(hcp_tile_width(0, 0, 512), 256);
    assert_int_equal(hcp_tile_width(0, 2, 512), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc_roots),
        cmocka_unit_test(rfc_proofs),
        cmocka_unit_test(every_proof),
        cmocka_unit_test(tile_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
