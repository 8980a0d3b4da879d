/*
 * note.h — C2SP signed notes and tlog checkpoints, the signed tree heads
 * of the public transparency log (docs/transparency.md).
 *
 * A checkpoint body is "<origin>\n<size>\n<base64(root hash)>\n"; a
 * signed note is the body, an empty line and one line per signature,
 * "— <name> <base64(key id || Ed25519 signature)>\n". The key id is the
 * first 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || public
 * key). A verifier key is written "<name>+<hex key id>+<base64(0x01 ||
 * public key)>", a signer key "PRIVATE+KEY+<name>+<hex key id>+<base64(0x01
 * || seed)>" — the forms Go's golang.org/x/mod/sumdb/note reads.
 *
 * Ed25519 comes from OpenSSL 3's libcrypto (EVP_PKEY_ED25519), which the
 * project links already (hcp_sha256, the seal): no new dependency.
 */
#ifndef HCP_NOTE_H
#define HCP_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "hcp.h"

#define HCP_LOG_ORIGIN    "hcp.qinghai/log" /* the gateway's log and its key's name */
#define HCP_NOTE_NAME_MAX 128               /* a key name's ceiling, bytes */
#define HCP_NOTE_KEY_MAX  256               /* a key text's ceiling, with its NUL */
#define HCP_NOTE_MAX      8192              /* a signed note's ceiling, bytes */

typedef struct hcp_note_signer hcp_note_signer;

typedef struct hcp_note_verifier {
    char name[HCP_NOTE_NAME_MAX + 1];
    uint32_t key_id;
    uint8_t pub[32];
} hcp_note_verifier;

/* Base64 (RFC 4648, standard alphabet, padded) of in[0 .. n) into out
 * (NUL-terminated; cap >= 4 * ceil(n / 3) + 1). HCP_ERANGE when it does
 * not fit. */
HCP_NODISCARD int hcp_base64_encode(const void *in, size_t n, char *out, size_t cap);
/* Decode strict base64 s[0 .. len) (padded, no whitespace, canonical)
 * into out (cap bytes); *n its length. HCP_EFORMAT; HCP_ERANGE. */
HCP_NODISCARD int hcp_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n);

/* 32 random bytes for a new Ed25519 key (OpenSSL's RAND_bytes).
 * HCP_ECRYPTO when the generator fails. */
HCP_NODISCARD int hcp_note_keygen(uint8_t seed[32]);
/* A signer named name (1..HCP_NOTE_NAME_MAX bytes, no '+', no space or
 * control character) from the Ed25519 seed: *out new, owned by the
 * caller (hcp_note_signer_free). HCP_EINVAL (bad name), HCP_ENOMEM,
 * HCP_ECRYPTO. */
HCP_NODISCARD int hcp_note_signer_new(const char *name, const uint8_t seed[32],
                                      hcp_note_signer **out);
/* Parse a signer key text "PRIVATE+KEY+name+hex+base64" (a trailing
 * newline allowed) into a new signer. HCP_EFORMAT when it is not one (or
 * its key id does not match), else as hcp_note_signer_new. */
HCP_NODISCARD int hcp_note_signer_parse(const char *text, size_t len, hcp_note_signer **out);
/* The signer key text of (name, seed) into out (cap >= HCP_NOTE_KEY_MAX),
 * no newline. HCP_EINVAL, HCP_ECRYPTO, HCP_ERANGE. */
HCP_NODISCARD int hcp_note_signer_text(const char *name, const uint8_t seed[32], char *out,
                                       size_t cap);
void hcp_note_signer_free(hcp_note_signer *s);
/* The verifier key text of s into out (cap >= HCP_NOTE_KEY_MAX), no
 * newline. HCP_ERANGE. */
HCP_NODISCARD int hcp_note_signer_vkey(const hcp_note_signer *s, char *out, size_t cap);

/* Sign body (len bytes: non-empty, ends in '\n', no empty line, no
 * control character but '\n') into out: body, "\n", s's signature line.
 * out is the caller's (appended to). HCP_EINVAL (a body that is not a
 * note text), HCP_ECRYPTO, hcp_buf's HCP_ENOMEM / HCP_ERANGE. */
HCP_NODISCARD int hcp_note_sign(const hcp_note_signer *s, const char *body, size_t len,
                                hcp_buf *out);

/* Parse a verifier key text (trailing whitespace allowed) into *v.
 * HCP_EFORMAT when it is not one or its key id does not match. */
HCP_NODISCARD int hcp_note_verifier_parse(const char *text, size_t len, hcp_note_verifier *v);

/* Check signed note note[0 .. len): HCP_OK when a signature line of v's
 * name and key id verifies over the body; *body_len (optional) the
 * body's length (the body is note[0 .. *body_len)). HCP_EFORMAT when it
 * is not a signed note; HCP_ENOTFOUND when no line is v's; HCP_ECRYPTO
 * when v's signature does not verify. Callers branch on all three. */
HCP_NODISCARD int hcp_note_verify(const hcp_note_verifier *v, const char *note, size_t len,
                                  size_t *body_len);

/* The checkpoint body of (origin, size, root) into out (NUL-terminated,
 * cap bytes); *len its length. HCP_EINVAL, HCP_ERANGE. */
HCP_NODISCARD int hcp_checkpoint_body(const char *origin, uint64_t size, const uint8_t root[32],
                                      char *out, size_t cap, size_t *len);
/* Parse a checkpoint body (extension lines after the third ignored):
 * origin into origin (cap bytes, NUL-terminated), *size, root. HCP_EFORMAT
 * (not a checkpoint: a size with a sign or leading zero, a root that is
 * not 32 bytes of base64), HCP_ERANGE (origin too long). */
HCP_NODISCARD int hcp_checkpoint_parse(const char *body, size_t len, char *origin, size_t cap,
                                       uint64_t *size, uint8_t root[32]);

#endif
