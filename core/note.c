/*
 * note.c — C2SP signed notes and checkpoints with Ed25519 (note.h).
 */
#include "note.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define ALG_ED25519 0x01
#define SIG_LEN     64
#define DASH        "\xe2\x80\x94 " /* "— ": U+2014 and a space open a signature line */
#define DASH_LEN    4

struct hcp_note_signer {
    char name[HCP_NOTE_NAME_MAX + 1];
    uint32_t key_id;
    uint8_t pub[32];
    EVP_PKEY *key;
};

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hcp_base64_encode(const void *in, size_t n, char *out, size_t cap)
{
    if ((in == NULL && n > 0) || out == NULL)
        return HCP_EINVAL;
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3 || cap < (n + 2) / 3 * 4 + 1)
        return HCP_ERANGE;
    const uint8_t *p = in;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return HCP_OK;
}

/* The value of base64 digit c, or -1. */
static int b64_val(char c)
{
    const char *p = c != '\0' ? strchr(b64, c) : NULL;
    return p != NULL ? (int)(p - b64) : -1;
}

int hcp_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
    if (s == NULL || out == NULL || n == NULL)
        return HCP_EINVAL;
    if (len % 4 != 0)
        return HCP_EFORMAT;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            if (s[i + j] == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[j] = b64_val(s[i + j])) < 0)
                return HCP_EFORMAT;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        /* canonical: the bits under the padding are zero */
        if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
            return HCP_EFORMAT;
        size_t k = 3 - (size_t)pad;
        if (o + k > cap)
            return HCP_ERANGE;
        uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        memcpy(out + o, b, k);
        o += k;
    }
    *n = o;
    return HCP_OK;
}

int hcp_note_keygen(uint8_t seed[32])
{
    if (seed == NULL)
        return HCP_EINVAL;
    return RAND_bytes(seed, 32) == 1 ? HCP_OK : HCP_ECRYPTO;
}

/* A key name as C2SP signed-note allows it: not empty, bounded, no '+',
 * no space and no control character. */
static bool name_ok(const char *name, size_t n)
{
    if (n == 0 || n > HCP_NOTE_NAME_MAX || !hcp_utf8_valid(name, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c == 0x7f || c == '+')
            return false;
    }
    return true;
}

/* The key id of (name, Ed25519 public key). */
static int key_id_of(const char *name, const uint8_t pub[32], uint32_t *id)
{
    static const uint8_t sep[2] = {'\n', ALG_ED25519};
    const void *parts[3] = {name, sep, pub};
    size_t lens[3] = {strlen(name), 2, 32};
    uint8_t h[32];
    int rc = hcp_sha256(parts, lens, 3, h);
    if (rc == HCP_OK)
        *id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    return rc;
}

int hcp_note_signer_new(const char *name, const uint8_t seed[32], hcp_note_signer **out)
{
    if (name == NULL || seed == NULL || out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    size_t nlen = strlen(name);
    if (!name_ok(name, nlen))
        return HCP_EINVAL;
    hcp_note_signer *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return HCP_ENOMEM;
    memcpy(s->name, name, nlen + 1);
    size_t plen = sizeof(s->pub);
    s->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    int rc = s->key != NULL && EVP_PKEY_get_raw_public_key(s->key, s->pub, &plen) == 1 && plen == 32
                 ? HCP_OK
                 : HCP_ECRYPTO;
    if (rc == HCP_OK)
        rc = key_id_of(s->name, s->pub, &s->key_id);
    if (rc != HCP_OK) {
        hcp_note_signer_free(s);
        return rc;
    }
    *out = s;
    return HCP_OK;
}

void hcp_note_signer_free(hcp_note_signer *s)
{
    if (s == NULL)
        return;
    EVP_PKEY_free(s->key);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

/* "<name>+<hex id>+<base64(0x01 || key)>" with prefix before it. */
static int key_text(const char *prefix, const char *name, uint32_t id, const uint8_t key[32],
                    char *out, size_t cap)
{
    uint8_t raw[33];
    raw[0] = ALG_ED25519;
    memcpy(raw + 1, key, 32);
    char enc[64];
    int rc = hcp_base64_encode(raw, sizeof(raw), enc, sizeof(enc));
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc != HCP_OK)
        return rc;
    int n = snprintf(out, cap, "%s%s+%08" PRIx32 "+%s", prefix, name, id, enc);
    OPENSSL_cleanse(enc, sizeof(enc));
    return n < 0 || (size_t)n >= cap ? HCP_ERANGE : HCP_OK;
}

int hcp_note_signer_vkey(const hcp_note_signer *s, char *out, size_t cap)
{
    if (s == NULL || out == NULL)
        return HCP_EINVAL;
    return key_text("", s->name, s->key_id, s->pub, out, cap);
}

int hcp_note_signer_text(const char *name, const uint8_t seed[32], char *out, size_t cap)
{
    if (out == NULL)
        return HCP_EINVAL;
    hcp_note_signer *s = NULL;
    int rc = hcp_note_signer_new(name, seed, &s);
    if (rc == HCP_OK)
        rc = key_text("PRIVATE+KEY+", s->name, s->key_id, seed, out, cap);
    hcp_note_signer_free(s);
    return rc;
}

/* Split key text "name+hex+base64" (prefix already removed) into name,
 * id and the 32 key bytes (after the algorithm byte). */
static int key_split(const char *t, size_t len, char name[HCP_NOTE_NAME_MAX + 1], uint32_t *id,
                     uint8_t key[32])
{
    while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
        len--;
    const char *p1 = memchr(t, '+', len);
    if (p1 == NULL)
        return HCP_EFORMAT;
    size_t nlen = (size_t)(p1 - t);
    const char *p2 = memchr(p1 + 1, '+', len - nlen - 1);
    if (p2 == NULL || p2 - p1 != 9 || !name_ok(t, nlen))
        return HCP_EFORMAT;
    uint32_t v = 0;
    for (const char *c = p1 + 1; c < p2; c++) {
        int d = (*c >= '0' && *c <= '9') ? *c - '0' : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10 : -1;
        if (d < 0)
            return HCP_EFORMAT;
        v = v << 4 | (uint32_t)d;
    }
    uint8_t raw[40];
    size_t n = 0;
    const char *b = p2 + 1;
    if (hcp_base64_decode(b, len - (size_t)(b - t), raw, sizeof(raw), &n) != HCP_OK || n != 33 ||
        raw[0] != ALG_ED25519)
        return HCP_EFORMAT;
    memcpy(name, t, nlen);
    name[nlen] = '\0';
    memcpy(key, raw + 1, 32);
    OPENSSL_cleanse(raw, sizeof(raw));
    *id = v;
    return HCP_OK;
}

int hcp_note_signer_parse(const char *text, size_t len, hcp_note_signer **out)
{
    static const char pre[] = "PRIVATE+KEY+";
    if (text == NULL || out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    if (len < sizeof(pre) - 1 || memcmp(text, pre, sizeof(pre) - 1) != 0)
        return HCP_EFORMAT;
    char name[HCP_NOTE_NAME_MAX + 1];
    uint32_t id;
    uint8_t seed[32];
    int rc = key_split(text + sizeof(pre) - 1, len - (sizeof(pre) - 1), name, &id, seed);
    if (rc == HCP_OK)
        rc = hcp_note_signer_new(name, seed, out);
    OPENSSL_cleanse(seed, sizeof(seed));
    if (rc == HCP_OK && (*out)->key_id != id) {
        hcp_note_signer_free(*out);
        *out = NULL;
        rc = HCP_EFORMAT;
    }
    return rc;
}

int hcp_note_verifier_parse(const char *text, size_t len, hcp_note_verifier *v)
{
    if (text == NULL || v == NULL)
        return HCP_EINVAL;
    memset(v, 0, sizeof(*v));
    uint32_t want;
    int rc = key_split(text, len, v->name, &v->key_id, v->pub);
    if (rc == HCP_OK)
        rc = key_id_of(v->name, v->pub, &want);
    if (rc == HCP_OK && want != v->key_id)
        rc = HCP_EFORMAT;
    return rc;
}

/* A note text: non-empty, valid UTF-8, ends in '\n', no empty line, no
 * control character but '\n'. */
static bool text_ok(const char *t, size_t n)
{
    if (n == 0 || t[n - 1] != '\n' || t[0] == '\n' || !hcp_utf8_valid(t, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f || (c == '\n' && i + 1 < n && t[i + 1] == '\n'))
            return false;
    }
    return true;
}

int hcp_note_sign(const hcp_note_signer *s, const char *body, size_t len, hcp_buf *out)
{
    if (s == NULL || body == NULL || out == NULL || !text_ok(body, len))
        return HCP_EINVAL;
    uint8_t sig[4 + SIG_LEN];
    size_t slen = SIG_LEN;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->key) == 1 &&
             EVP_DigestSign(ctx, sig + 4, &slen, (const uint8_t *)body, len) == 1 &&
             slen == SIG_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return HCP_ECRYPTO;
    sig[0] = (uint8_t)(s->key_id >> 24);
    sig[1] = (uint8_t)(s->key_id >> 16);
    sig[2] = (uint8_t)(s->key_id >> 8);
    sig[3] = (uint8_t)s->key_id;
    char enc[128];
    int rc = hcp_base64_encode(sig, sizeof(sig), enc, sizeof(enc));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, body, len);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, "\n" DASH, 1 + DASH_LEN);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, s->name, strlen(s->name));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, " ", 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, enc, strlen(enc));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, "\n", 1);
    return rc;
}

/* Ed25519 check of sig over msg by pub: HCP_OK or HCP_ECRYPTO. */
static int ed25519_verify(const uint8_t pub[32], const void *msg, size_t len,
                          const uint8_t sig[SIG_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *ctx = k != NULL ? EVP_MD_CTX_new() : NULL;
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestVerify(ctx, sig, SIG_LEN, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return ok ? HCP_OK : HCP_ECRYPTO;
}

int hcp_note_verify(const hcp_note_verifier *v, const char *note, size_t len, size_t *body_len)
{
    if (v == NULL || note == NULL)
        return HCP_EINVAL;
    if (len > HCP_NOTE_MAX || len < 2 || note[len - 1] != '\n')
        return HCP_EFORMAT;
    /* the body ends at the last empty line */
    size_t split = len;
    for (size_t i = len - 1; i-- > 0;)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            split = i;
            break;
        }
    if (split == len || !text_ok(note, split + 1))
        return HCP_EFORMAT;
    size_t blen = split + 1;
    int result = HCP_ENOTFOUND;
    size_t nlen = strlen(v->name);
    for (size_t p = split + 2; p < len;) {
        const char *eol = memchr(note + p, '\n', len - p);
        size_t l = (size_t)(eol - (note + p)); /* the last byte is '\n': eol is found */
        const char *line = note + p;
        p += l + 1;
        if (l < DASH_LEN || memcmp(line, DASH, DASH_LEN) != 0)
            return HCP_EFORMAT;
        const char *sp = memchr(line + DASH_LEN, ' ', l - DASH_LEN);
        if (sp == NULL)
            return HCP_EFORMAT;
        size_t name_len = (size_t)(sp - line) - DASH_LEN;
        uint8_t sig[4 + SIG_LEN + 8];
        size_t slen = 0;
        const char *b = sp + 1;
        if (hcp_base64_decode(b, l - (size_t)(b - line), sig, sizeof(sig), &slen) != HCP_OK ||
            slen < 5)
            return HCP_EFORMAT;
        uint32_t id =
            (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 | (uint32_t)sig[2] << 8 | sig[3];
        if (name_len != nlen || memcmp(line + DASH_LEN, v->name, nlen) != 0 || id != v->key_id)
            continue; /* someone else's signature: C2SP says ignore it */
        if (slen != 4 + SIG_LEN)
            return HCP_ECRYPTO;
        result = ed25519_verify(v->pub, note, blen, sig + 4);
        if (result != HCP_OK)
            return result;
    }
    if (result == HCP_OK && body_len != NULL)
        *body_len = blen;
    return result;
}

int hcp_checkpoint_body(const char *origin, uint64_t size, const uint8_t root[32], char *out,
                        size_t cap, size_t *len)
{
    if (origin == NULL || root == NULL || out == NULL || origin[0] == '\0' ||
        strchr(origin, '\n') != NULL)
        return HCP_EINVAL;
    char enc[48];
    int rc = hcp_base64_encode(root, 32, enc, sizeof(enc));
    if (rc != HCP_OK)
        return rc;
    int n = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n", origin, size, enc);
    if (n < 0 || (size_t)n >= cap)
        return HCP_ERANGE;
    if (len != NULL)
        *len = (size_t)n;
    return HCP_OK;
}

int hcp_checkpoint_parse(const char *body, size_t len, char *origin, size_t cap, uint64_t *size,
                         uint8_t root[32])
{
    if (body == NULL || origin == NULL || size == NULL || root == NULL)
        return HCP_EINVAL;
    const char *l1 = memchr(body, '\n', len);
    const char *l2 = l1 != NULL ? memchr(l1 + 1, '\n', len - (size_t)(l1 + 1 - body)) : NULL;
    const char *l3 = l2 != NULL ? memchr(l2 + 1, '\n', len - (size_t)(l2 + 1 - body)) : NULL;
    if (l3 == NULL || l1 == body)
        return HCP_EFORMAT;
    size_t olen = (size_t)(l1 - body);
    if (olen + 1 > cap)
        return HCP_ERANGE;
    const char *s = l1 + 1;
    size_t slen = (size_t)(l2 - s);
    if (slen == 0 || slen > 20 || (slen > 1 && s[0] == '0'))
        return HCP_EFORMAT;
    uint64_t v = 0;
    for (size_t i = 0; i < slen; i++) {
        if (s[i] < '0' || s[i] > '9')
            return HCP_EFORMAT;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return HCP_EFORMAT;
        v = v * 10 + d;
    }
    uint8_t raw[36];
    size_t n = 0;
    if (hcp_base64_decode(l2 + 1, (size_t)(l3 - l2 - 1), raw, sizeof(raw), &n) != HCP_OK || n != 32)
        return HCP_EFORMAT;
    memcpy(origin, body, olen);
    origin[olen] = '\0';
    *size = v;
    memcpy(root, raw, 32);
    return HCP_OK;
}
