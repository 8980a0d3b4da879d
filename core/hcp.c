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
    [HCP_EFULL] = "store or disk full",
    [HCP_ECRYPTO] = "cryptographic failure",
    [HCP_EBUSY] = "locked by another process",
    [HCP_ECLOSED] = "closed",
    [HCP_ETIMEOUT] = "timed out",
    [HCP_EPROTO] = "protocol error",
    [HCP_EAUTH] = "not authorised",
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

bool hcp_utf8_valid(const char *s, size_t n)
{
    if (s == NULL)
        return n == 0;
    const unsigned char *p = (const unsigned char *)s;
    while (n > 0) {
        size_t k = utf8_seq(p, n);
        if (k == 0)
            return false;
        p += k;
        n -= k;
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
 * hash of a small record). Never freed: it lives as long as the process. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
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
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1;
    for (int i = 0; ok && i < nparts; i++)
        ok = lens[i] == 0 || EVP_DigestUpdate(ctx, parts[i], lens[i]) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32;
    EVP_MD_CTX_free(ctx);
    return ok ? HCP_OK : HCP_ECRYPTO;
}
