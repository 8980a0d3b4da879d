/*
 * merkle.h — the Merkle tree of the public transparency log
 * (docs/transparency.md): RFC 6962 / RFC 9162 §2.1 hashing, the tree head
 * of n leaves, and inclusion and consistency proofs, made and checked.
 *
 * Pure: the tree's stored hashes are read through a callback, so the same
 * code serves the gateway (hashes in LMDB), hcp-verify (hashes in tiles)
 * and the unit tests (an array). Every hash is SHA-256 from hcp_sha256.
 *
 * A "stored hash" (level L, index i) is the hash of the complete subtree
 * of the 2^L leaves [i * 2^L, (i + 1) * 2^L); level 0 holds the leaf
 * hashes. A tree of n leaves has every stored hash whose subtree lies
 * inside [0, n); any other subtree hash is computed from them.
 */
#ifndef HCP_MERKLE_H
#define HCP_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcp.h"

#define HCP_MERKLE_HASH_LEN 32
/* Ceiling of a proof's hashes: an inclusion proof of a 64-bit tree has at
 * most 64, a consistency proof at most 2 x 64. */
#define HCP_MERKLE_PROOF_MAX 128

typedef uint8_t hcp_merkle_hash[HCP_MERKLE_HASH_LEN];

/* Reads stored hash (level, index) into out. Returns HCP_OK, or an error
 * that the caller passes up unchanged (HCP_ENOTFOUND, HCP_EIO, ...). */
typedef int (*hcp_merkle_get_fn)(void *arg, unsigned level, uint64_t index, uint8_t out[32]);

/* The leaf hash SHA-256(0x00 || entry) of entry (len bytes; NULL allowed
 * when len is 0). HCP_ECRYPTO when the hash library fails. */
HCP_NODISCARD int hcp_merkle_leaf_hash(const void *entry, size_t len, uint8_t out[32]);
/* The interior hash SHA-256(0x01 || left || right). HCP_ECRYPTO. */
HCP_NODISCARD int hcp_merkle_node_hash(const uint8_t left[32], const uint8_t right[32],
                                       uint8_t out[32]);

/* The tree head (root hash) of the first n leaves, into out; n == 0 gives
 * SHA-256 of nothing, as RFC 6962 says. Errors: get's, HCP_ECRYPTO. */
HCP_NODISCARD int hcp_merkle_root(hcp_merkle_get_fn get, void *arg, uint64_t n, uint8_t out[32]);

/* The inclusion proof of leaf index in the tree of n leaves (RFC 6962
 * §2.1.1 PATH) into proof[0 .. *len), the hash nearest the leaf first.
 * proof holds HCP_MERKLE_PROOF_MAX hashes. HCP_EINVAL when index >= n;
 * get's errors; HCP_ECRYPTO. */
HCP_NODISCARD int hcp_merkle_inclusion_proof(hcp_merkle_get_fn get, void *arg, uint64_t index,
                                             uint64_t n, hcp_merkle_hash *proof, size_t *len);

/* The consistency proof of the tree of m leaves with the tree of n leaves
 * (RFC 6962 §2.1.2 PROOF; empty when m == 0 or m == n) into proof[0 ..
 * *len) (HCP_MERKLE_PROOF_MAX hashes). HCP_EINVAL when m > n; get's
 * errors; HCP_ECRYPTO. */
HCP_NODISCARD int hcp_merkle_consistency_proof(hcp_merkle_get_fn get, void *arg, uint64_t m,
                                               uint64_t n, hcp_merkle_hash *proof, size_t *len);

/* Check that leaf (its leaf hash) is leaf index of the tree of n leaves
 * whose head is root, by proof (RFC 9162 §2.1.3.2). HCP_OK when it is;
 * HCP_ECRYPTO when the proof does not hold (callers branch on it: the log
 * lied or the data was changed); HCP_EINVAL for a NULL argument. */
HCP_NODISCARD int hcp_merkle_verify_inclusion(const uint8_t leaf[32], uint64_t index, uint64_t n,
                                              const hcp_merkle_hash *proof, size_t len,
                                              const uint8_t root[32]);

/* Check that the tree of m leaves with head root_m is a prefix of the
 * tree of n leaves with head root_n, by proof (RFC 9162 §2.1.4.2; m == 0
 * and m == n need an empty proof, and m == n equal heads). HCP_OK;
 * HCP_ECRYPTO when it does not hold; HCP_EINVAL for a NULL argument. */
HCP_NODISCARD int hcp_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t root_m[32],
                                                const uint8_t root_n[32],
                                                const hcp_merkle_hash *proof, size_t len);

/* ---- C2SP tlog-tiles: the log served as static files ----
 * A tile at level L (tree level 8L) and index N holds the W <= 256 stored
 * hashes (8L, 256N .. 256N + W - 1), 32 bytes each; full when W is 256.
 * An entry bundle holds entries 256N .. 256N + W - 1, each a 2-byte
 * big-endian length and its bytes. Paths: "tile/<L>/<N>[.p/<W>]" and
 * "tile/entries/<N>[.p/<W>]", N written in 3-digit elements, all but the
 * last prefixed "x" (1234067 -> "x001/x234/067"). */
#define HCP_TILE_HEIGHT    8
#define HCP_TILE_WIDTH     256
#define HCP_TILE_ENTRIES   (-1) /* the level argument of an entry bundle */
#define HCP_TILE_PATH_MAX  96
#define HCP_TILE_ENTRY_MAX 65535 /* an entry's ceiling: its length is 2 bytes */

/* The path of tile (level, n) of width w (1..256; 256 = full; level
 * HCP_TILE_ENTRIES: the entry bundle) into out (cap >= HCP_TILE_PATH_MAX).
 * HCP_EINVAL for a level outside -1..63 or a width outside 1..256. */
HCP_NODISCARD int hcp_tile_path(int level, uint64_t n, unsigned w, char *out, size_t cap);
/* Parse a whole "tile/..." path into *level, *n, *w (256 for a full tile). False when
 * it is not a tile path in the canonical form hcp_tile_path writes. */
bool hcp_tile_path_parse(const char *path, int *level, uint64_t *n, unsigned *w);
/* The width of tile (level, n) in a tree of size leaves: 256 for a full
 * tile, 1..255 for the partial one, 0 when the tree has no such tile. */
unsigned hcp_tile_width(int level, uint64_t n, uint64_t size);

#endif
