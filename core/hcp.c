/* hcp.c — error strings, bounded buffers, UTF-8 validation. */
#include "hcp.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_text[HCP_ERR_COUNT_] = {
    [HCP_OK] = "success",
    [HCP_EINVAL] = "invalid argument",
    [HCP_ENOMEM] = "out of memory",
    [HCP_ERANGE] = "value or length out of range",
    [HCP_EFORMAT] = "malformed input",
    [HCP_EUTF8] = "invalid UTF-8",
    [HCP_EVERSION] = "unsupported schema version",
    [HCP_ERULE] = "forbidden by the regulation",
    [HCP_ECHAIN] = "hash chain broken",
    [HCP_ENOTFOUND] = "not found",
    [HCP_EEXIST] = "already exists",
    [HCP_EIO] = "input/output error",
    [HCP_EFULL] = "store full (map at its ceiling)",
    [HCP_ECRYPTO] = "cryptographic failure",
    [HCP_EBUSY] = "locked by another process",
    [HCP_ECLOSED] = "closed",
    [HCP_ETIMEOUT] = "timed out",
    [HCP_EPROTO] = "protocol error",
    [HCP_EAUTH] = "not authorised",
    [HCP_ENOSPC] = "no space left on the disk",
};

const char *hcp_strerror(int err)
{
    if (err < 0 || err >= HCP_ERR_COUNT_ || err_text[err] == NULL)
        return "unknown error";
    return err_text[err];
}

void hcp_buf_init(hcp_buf *b, size_t max)
{
    if (b == NULL)
        return;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* Grow geometrically up to the ceiling; the buffer is untouched on failure. */
int hcp_buf_append(hcp_buf *b, const void *p, size_t n)
{
    if (b == NULL || (p == NULL && n > 0))
        return HCP_EINVAL;
    if (n > b->max || b->len > b->max - n)
        return HCP_ERANGE;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap = cap > b->max / 2 ? b->max : cap * 2;
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL)
            return HCP_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return HCP_OK;
}

int hcp_buf_reserve(hcp_buf *b, size_t n)
{
    if (b == NULL)
        return HCP_EINVAL;
    if (n > b->max)
        return HCP_ERANGE;
    if (n <= b->cap)
        return HCP_OK;
    uint8_t *d = realloc(b->data, n);
    if (d == NULL)
        return HCP_ENOMEM;
    b->data = d;
    b->cap = n;
    return HCP_OK;
}

void hcp_buf_reset(hcp_buf *b)
{
    if (b != NULL)
        b->len = 0;
}

void hcp_buf_free(hcp_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Length of the UTF-8 sequence at s (1..4) if well formed, else 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return c != 0;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Whether the 8 bytes of w hold a zero byte. */
static bool has_zero_byte(uint64_t w)
{
    return ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull) != 0;
}

/* The gateway validates every string of every event it receives (~600
 * bytes an evaluation, mostly CJK): this was 10 % of its CPU while catching
 * up. So: ASCII eight bytes at a time, and runs of the common 3-byte form
 * (leads E1..EC, EE, EF, whose continuations may be anything in 80..BF)
 * without the general path's range checks; the rest goes through utf8_seq.
 * tests/unit/test_base.c compares it with the plain definition. */
bool hcp_utf8_valid(const char *s, size_t n)
{
    if (s == NULL)
        return n == 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, sizeof(w));
            if ((w & 0x8080808080808080ull) != 0 || has_zero_byte(w))
                break;
            p += 8;
        }
        if (p == end)
            break;
        while (end - p >= 3) { /* a run of 3-byte sequences */
            unsigned c = p[0];
            if ((c & 0xF0) != 0xE0 || c == 0xE0 || c == 0xED || (p[1] & 0xC0) != 0x80 ||
                (p[2] & 0xC0) != 0x80)
                break;
            p += 3;
        }
        if (p == end)
            break;
        size_t k = utf8_seq(p, (size_t)(end - p));
        if (k == 0)
            return false;
        p += k;
    }
    return true;
}

char *hcp_strndup(const char *s, size_t n)
{
    if (s == NULL && n > 0)
        return NULL;
    char *d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    if (n > 0)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* SHA-256, fetched once (an implicit fetch per digest costs more than the
 * hash of a small record). Never freed: it lives as long as the process.
 * Each thread keeps one digest context for its hashes (freed when the thread
 * ends): a context made and freed per hash cost a third as much again as
 * hashing a 600-byte record. The context is found through a thread-local
 * pointer (which also keeps it reachable for leak checkers in a thread that
 * never ends, such as main's); the key only frees it at a thread's end. */
static EVP_MD *sha256_md;
static pthread_key_t sha256_key;
static bool sha256_key_ok;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_MD_CTX *sha256_tctx;

static void sha256_ctx_free(void *ctx)
{
    if (ctx == sha256_tctx)
        sha256_tctx = NULL;
    EVP_MD_CTX_free(ctx);
}

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    sha256_key_ok = pthread_key_create(&sha256_key, sha256_ctx_free) == 0;
}

/* This thread's context (made at its first hash), or a new one that *own
 * says the caller must free when no key could be made. */
static EVP_MD_CTX *sha256_ctx(bool *own)
{
    *own = false;
    if (sha256_tctx != NULL)
        return sha256_tctx;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && (!sha256_key_ok || pthread_setspecific(sha256_key, ctx) != 0))
        *own = true;
    else
        sha256_tctx = ctx;
    return ctx;
}

int hcp_sha256(const void *const *parts, const size_t *lens, int nparts, uint8_t out[32])
{
    if (lens == NULL || out == NULL || nparts < 0 || (parts == NULL && nparts > 0))
        return HCP_EINVAL;
    for (int i = 0; i < nparts; i++)
        if (lens[i] > 0 && parts[i] == NULL)
            return HCP_EINVAL;
    if (pthread_once(&sha256_once, sha256_fetch) != 0 || sha256_md == NULL)
        return HCP_ECRYPTO;
    bool own;
    EVP_MD_CTX *ctx = sha256_ctx(&own);
    unsigned int n = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1;
    for (int i = 0; ok && i < nparts; i++)
        ok = lens[i] == 0 || EVP_DigestUpdate(ctx, parts[i], lens[i]) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32;
    if (own)
        EVP_MD_CTX_free(ctx);
    else if (!ok && ctx != NULL)
        EVP_MD_CTX_reset(ctx); /* kept: start the next hash from a clean context */
    return ok ? HCP_OK : HCP_ECRYPTO;
}
