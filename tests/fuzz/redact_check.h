/*
 * redact_check.h — the redaction invariant of core/redact.h, checked by
 * code written apart from the redaction's own scanners; any violation
 * abort()s so libFuzzer reports it. Shared by fuzz_redact.c (the
 * redaction itself) and fuzz_feed_entry.c (the feed's entries, whose free
 * texts go through it).
 */
#ifndef HCP_FUZZ_REDACT_CHECK_H
#define HCP_FUZZ_REDACT_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

/* The output decoded into code points; abort on invalid UTF-8 or on a
 * character that may not be published. Returns the count. */
static inline size_t decode(const char *s, uint32_t *cps)
{
    size_t n = strlen(s), m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = hcp_text_next(s + i, n - i, &cp);
        if (k == 0 || cp == HCP_TEXT_BAD || !hcp_text_publishable(cp))
            abort();
        cps[m++] = cp;
        i += k;
    }
    if (!hcp_utf8_valid(s, n))
        abort();
    return m;
}

/* ASCII and full-width digits. */
static inline bool digit(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19);
}

/* The separators of redact.h, listed as ranges. */
static inline bool sep(uint32_t c)
{
    static const uint32_t r[][2] = {
        {' ', ' '},       {'\t', '\t'},     {'-', '/'},       {'(', ')'},       {0xA0, 0xA0},
        {0xAD, 0xAD},     {0x2000, 0x2015}, {0x202F, 0x202F}, {0x2060, 0x2060}, {0x2212, 0x2212},
        {0x3000, 0x3000}, {0xFEFF, 0xFEFF}, {0xFF08, 0xFF09}, {0xFF0D, 0xFF0F}};
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
        if (c >= r[i][0] && c <= r[i][1])
            return true;
    return false;
}

/* The number of the ASCII digits c[i..i+k), -1 if one is not. */
static inline long num(const uint32_t *c, size_t m, size_t i, size_t k)
{
    long v = 0;
    for (size_t j = i; j < i + k; j++) {
        if (j >= m || c[j] < '0' || c[j] > '9')
            return -1;
        v = v * 10 + (long)(c[j] - '0');
    }
    return v;
}

/* 1 or 2 ASCII digits at c[*i] in [lo, hi], longest first. */
static inline bool part(const uint32_t *c, size_t m, size_t *i, long lo, long hi)
{
    size_t k = num(c, m, *i, 2) >= 0 ? 2 : 1;
    long v = num(c, m, *i, k);
    *i += k;
    return v >= lo && v <= hi;
}

/* The exempt tokens of redact.h at c[i]: one past the token, or 0. */
static inline size_t token(const uint32_t *c, size_t m, size_t i)
{
    long y = num(c, m, i, 4);
    if (y >= 1900 && y <= 2099 && i + 4 < m &&
        (c[i + 4] == '-' || c[i + 4] == '/' || c[i + 4] == '.')) {
        size_t j = i + 5;
        if (part(c, m, &j, 1, 12) && j < m && c[j] == c[i + 4]) {
            j++;
            if (part(c, m, &j, 1, 31) && !(j < m && digit(c[j])))
                return j;
        }
    }
    if (num(c, m, i, 6) >= 0 && i + 15 < m && c[i + 6] == '-' && c[i + 15] == '-') {
        long ymd = num(c, m, i + 7, 8), md = ymd % 10000;
        size_t j = i + 16;
        while (j < m && c[j] >= '0' && c[j] <= '9')
            j++;
        if (ymd >= 20220501 && ymd <= 20991231 && md / 100 >= 1 && md / 100 <= 12 &&
            md % 100 >= 1 && md % 100 <= 31 && j - (i + 16) >= 4 && j - (i + 16) <= 9 &&
            !(j < m && digit(c[j])))
            return j;
    }
    return 0;
}

/* No 7 digits in a row once tokens are out and separators removed. */
static inline void check_digits(const uint32_t *c, size_t m)
{
    size_t run = 0;
    for (size_t i = 0; i < m;) {
        if (digit(c[i]) && run == 0) {
            size_t end = token(c, m, i);
            if (end > 0) {
                i = end;
                continue;
            }
        }
        if (digit(c[i])) {
            if (++run >= 7)
                abort();
        } else if (!sep(c[i]))
            run = 0;
        i++;
    }
}

/* ASCII counterpart of a full-width form. */
static inline uint32_t narrow(uint32_t c)
{
    return c >= 0xFF01 && c <= 0xFF5E ? c - 0xFEE0 : c;
}

static inline bool alnum(uint32_t c)
{
    c = narrow(c);
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool addr(uint32_t c)
{
    c = narrow(c);
    return alnum(c) || (c > 0 && c < 0x80 && strchr("._%+-*", (int)c) != NULL);
}

/* No letter or digit in the address runs beside an @ or ＠. */
static inline void check_email(const uint32_t *c, size_t m)
{
    for (size_t i = 0; i < m; i++) {
        if (c[i] != '@' && c[i] != 0xFF20)
            continue;
        for (size_t j = i; j > 0 && addr(c[j - 1]); j--)
            if (alnum(c[j - 1]))
                abort();
        for (size_t j = i + 1; j < m && addr(c[j]); j++)
            if (alnum(c[j]))
                abort();
    }
}

/* The known string k, cleaned, does not occur in out. */
static inline void check_known(const char *k, const char *out)
{
    size_t n = strlen(k), o = 0, chars = 0;
    char *c = malloc(n + 1);
    if (c == NULL)
        return;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = hcp_text_next(k + i, n - i, &cp);
        if (cp != HCP_TEXT_BAD && hcp_text_publishable(cp)) {
            memcpy(c + o, k + i, len);
            o += len;
            chars++;
        }
        i += len;
    }
    c[o] = '\0';
    if (chars >= 2 && strchr(c, '*') == NULL && strstr(out, c) != NULL)
        abort();
    free(c);
}

/* The whole invariant on one redacted text out: valid, publishable, no
 * long digit run, no e-mail address, none of the nk known strings. */
static inline void check_redacted(const char *out, const char *const *known, size_t nk)
{
    size_t len = strlen(out);
    uint32_t *cps = malloc((len + 1) * sizeof(*cps));
    if (cps == NULL)
        return;
    size_t m = decode(out, cps);
    check_digits(cps, m);
    check_email(cps, m);
    for (size_t i = 0; i < nk; i++)
        check_known(known[i], out);
    free(cps);
}

#endif
