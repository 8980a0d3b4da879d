/*
 * redact.c — masking phone and ID numbers, e-mail addresses and known
 * names in free text (redact.h has the rules). A small hand-written
 * scanner over bytes: every decision is taken at a character boundary, so
 * the UTF-8 text around what is masked is copied byte for byte.
 */
#include "redact.h"

#include <stdlib.h>
#include <string.h>

#define NUM_GROUP_MASK 7  /* an unbroken group this long is masked */
#define NUM_LONG       11 /* runs this long keep 3 + 2 digits, shorter 2 + 1 */
#define KNOWN_MIN      2  /* characters a known string needs to be masked */

/* The output being written: bounded, an overflow remembered. */
typedef struct sink {
    char *out;
    size_t cap; /* bytes of out, the NUL included */
    size_t len;
    bool overflow;
} sink;

/* Append n bytes of p (or note the overflow). */
static void put(sink *s, const char *p, size_t n)
{
    if (s->overflow || s->cap - 1 - s->len < n) {
        s->overflow = true;
        return;
    }
    memcpy(s->out + s->len, p, n);
    s->len += n;
}

/* Bytes of the digit at in[i] (1 ASCII, 3 full-width), 0 if none. */
static size_t digit_at(const char *in, size_t n, size_t i)
{
    const unsigned char *u = (const unsigned char *)in;
    if (i < n && u[i] >= '0' && u[i] <= '9')
        return 1;
    if (i + 2 < n && u[i] == 0xEF && u[i + 1] == 0xBC && u[i + 2] >= 0x90 && u[i + 2] <= 0x99)
        return 3;
    return 0;
}

/* The value of the digit at in[i] (digit_at(in, n, i) > 0). */
static int digit_value(const char *in, size_t i)
{
    const unsigned char *u = (const unsigned char *)in;
    return u[i] <= '9' ? u[i] - '0' : u[i + 2] - 0x90;
}

/* A run of digits: where it ends and what it looks like. */
typedef struct num_run {
    size_t end;    /* one past its last byte */
    size_t digits; /* digits, an ID's final X counted */
    size_t longest;
    size_t groups;
    int first; /* value of its first digit */
} num_run;

/* Measure the digit group at in[i] into r; return where it ends. */
static size_t num_group(const char *in, size_t n, size_t i, num_run *r)
{
    size_t g = 0, d;
    while ((d = digit_at(in, n, i)) > 0) {
        i += d;
        g++;
    }
    r->digits += g;
    r->groups++;
    if (g > r->longest)
        r->longest = g;
    return i;
}

/* Scan the run of digits starting at in[i] (a digit). */
static void num_scan(const char *in, size_t n, size_t i, num_run *r)
{
    memset(r, 0, sizeof(*r));
    r->first = digit_value(in, i);
    i = num_group(in, n, i, r);
    while (i + 1 < n && (in[i] == '-' || in[i] == ' ') && digit_at(in, n, i + 1) > 0)
        i = num_group(in, n, i + 1, r);
    if (r->groups == 1 && r->digits == 17 && i < n && (in[i] == 'X' || in[i] == 'x')) {
        i++; /* an 18-digit ID number's check character */
        r->digits++;
        r->longest++;
    }
    r->end = i;
}

/* Whether a run is a phone or ID number to mask. */
static bool num_is_personal(const num_run *r)
{
    if (r->longest >= NUM_GROUP_MASK)
        return true;
    if (r->digits == 11 && r->first == 1)
        return true;                                            /* a mobile written in groups */
    return r->first == 0 && r->digits >= 10 && r->digits <= 12; /* a landline in groups */
}

/* Write the run [i, r->end) with its middle digits masked. */
static void num_put_masked(sink *s, const char *in, size_t n, size_t i, const num_run *r)
{
    size_t head = r->digits >= NUM_LONG ? 3 : 2, tail = r->digits >= NUM_LONG ? 2 : 1, k = 0;
    while (i < r->end) {
        size_t d = digit_at(in, n, i);
        bool digit = d > 0 || in[i] == 'X' || in[i] == 'x';
        if (d == 0)
            d = 1;
        if (digit && k >= head && k + tail < r->digits)
            put(s, "*", 1);
        else
            put(s, in + i, d);
        k += digit;
        i += d;
    }
}

/* Characters allowed in an e-mail address's local part and domain. */
static bool is_local(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '%' || c == '+' || c == '-';
}

static bool is_domain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

/* An e-mail address whose local part starts at in[i]: *at the '@', *tld
 * the start of the domain's last label, *end one past it. */
static bool email_at(const char *in, size_t n, size_t i, size_t *at, size_t *tld, size_t *end)
{
    if (i > 0 && is_local((unsigned char)in[i - 1]))
        return false; /* not the start of a run */
    size_t j = i;
    while (j < n && is_local((unsigned char)in[j]))
        j++;
    if (j == i || j >= n || in[j] != '@')
        return false;
    size_t e = j + 1;
    while (e < n && is_domain((unsigned char)in[e]))
        e++;
    while (e > j + 1 && (in[e - 1] == '.' || in[e - 1] == '-'))
        e--; /* a full stop after the address */
    size_t dot = e;
    while (dot > j + 1 && in[dot - 1] != '.')
        dot--;
    if (dot <= j + 2 || e - dot < 2)
        return false; /* no "x.tld" */
    *at = j;
    *tld = dot;
    *end = e;
    return true;
}

/* Write the address [i, end): first character, '@', '.', last label kept. */
static void email_put_masked(sink *s, const char *in, size_t i, size_t at, size_t tld, size_t end)
{
    put(s, in + i, 1);
    for (size_t k = i + 1; k < at; k++)
        put(s, "*", 1);
    put(s, "@", 1);
    for (size_t k = at + 1; k < tld; k++)
        put(s, in[k] == '.' ? "." : "*", 1);
    put(s, in + tld, end - tld);
}

/* Characters (UTF-8 lead bytes) in [p, p+n). */
static size_t utf8_chars(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

/* Length of the longest known string at in[i] (0 if none). */
static size_t known_at(const char *in, size_t n, size_t i, const char *const *known, size_t nk)
{
    size_t best = 0;
    for (size_t k = 0; k < nk; k++) {
        if (known[k] == NULL)
            continue;
        size_t len = strlen(known[k]);
        if (len > best && len <= n - i && utf8_chars(known[k], len) >= KNOWN_MIN &&
            memcmp(in + i, known[k], len) == 0)
            best = len;
    }
    return best;
}

/* Mask what starts at in[i], if anything; return the bytes consumed (0:
 * nothing personal starts here). */
static size_t mask_at(sink *s, const char *in, size_t n, size_t i, const char *const *known,
                      size_t nk)
{
    size_t len = known_at(in, n, i, known, nk), at, tld, end;
    if (len > 0) {
        for (size_t c = utf8_chars(in + i, len); c > 0; c--)
            put(s, "*", 1);
        return len;
    }
    if (email_at(in, n, i, &at, &tld, &end)) {
        email_put_masked(s, in, i, at, tld, end);
        return end - i;
    }
    if (digit_at(in, n, i) == 0)
        return 0;
    num_run r;
    num_scan(in, n, i, &r);
    if (num_is_personal(&r))
        num_put_masked(s, in, n, i, &r);
    else
        put(s, in + i, r.end - i);
    return r.end - i;
}

int hcp_redact_known(const char *in, const char *const *known, size_t nknown, char *out,
                     size_t outlen)
{
    if (in == NULL || out == NULL || outlen == 0 || (known == NULL && nknown > 0))
        return HCP_EINVAL;
    sink s = {out, outlen, 0, false};
    size_t n = strlen(in), i = 0;
    while (i < n && !s.overflow) {
        size_t used = mask_at(&s, in, n, i, known, nknown);
        if (used == 0) {
            put(&s, in + i, 1);
            used = 1;
        }
        i += used;
    }
    if (s.overflow) {
        out[0] = '\0';
        return HCP_ERANGE;
    }
    out[s.len] = '\0';
    return HCP_OK;
}

int hcp_redact(const char *in, char *out, size_t outlen)
{
    return hcp_redact_known(in, NULL, 0, out, outlen);
}

char *hcp_redact_dup(const char *in, const char *const *known, size_t nknown)
{
    if (in == NULL)
        return NULL;
    size_t len = strlen(in) + 1;
    char *out = malloc(len);
    if (out != NULL && hcp_redact_known(in, known, nknown, out, len) != HCP_OK) {
        free(out);
        out = NULL;
    }
    return out;
}
