/*
 * seal.h — personal data sealed at rest (the regulation's Art. 6) with AES-256-GCM
 * from mbedtls, and the randomness the core needs.
 *
 * A sealed blob is: 0x01 (format) || nonce (12, random) || ciphertext ||
 * tag (16). The associated data (e.g. the record's key) binds a blob to
 * its place, so one cannot be moved under another case.
 */
#ifndef HCP_SEAL_H
#define HCP_SEAL_H

#include "hcp.h"

#define HCP_SEAL_KEY_LEN  32
#define HCP_SEAL_OVERHEAD (1 + 12 + 16)

typedef struct hcp_sealer hcp_sealer;

/* Fill buf with n cryptographically random bytes (getrandom). */
HCP_API HCP_NODISCARD int hcp_random(void *buf, size_t n);

/*
 * Read the 32-byte key at path (a file of exactly 64 hex digits and an
 * optional newline). If the file does not exist and create is true, make a
 * new random key there with mode 0600 (O_EXCL; fsynced). A file readable by
 * group or others is refused (HCP_EAUTH); a malformed one is HCP_EFORMAT.
 */
HCP_API HCP_NODISCARD int hcp_seal_key_load(const char *path, bool create,
                                            uint8_t key[HCP_SEAL_KEY_LEN]);

/* A sealer for key (copied). Thread-safe: calls from many threads at once
 * are fine. Free with hcp_sealer_free (safe on NULL). */
HCP_API HCP_NODISCARD int hcp_sealer_new(const uint8_t key[HCP_SEAL_KEY_LEN], hcp_sealer **out);
HCP_API void hcp_sealer_free(hcp_sealer *s);

/* Append the sealed form of [pt, pt+n) to out. */
HCP_API HCP_NODISCARD int hcp_seal(hcp_sealer *s, const void *aad, size_t aadlen, const void *pt,
                                   size_t n, hcp_buf *out);
/* Append the plaintext of a sealed blob to out; HCP_ECRYPTO if it does not
 * authenticate (wrong key, wrong aad, altered bytes), HCP_EFORMAT if it is
 * too short or of an unknown format. */
HCP_API HCP_NODISCARD int hcp_unseal(hcp_sealer *s, const void *aad, size_t aadlen,
                                     const void *blob, size_t n, hcp_buf *out);

#endif
