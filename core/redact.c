/*
 * redact.c — making free text fit to publish (redact.h has the rules and
 * the invariant). Four passes, each from one buffer into another of the
 * same size, none of them making the text longer: clean, known strings,
 * e-mail addresses, numbers. After the first pass the text is valid UTF-8,
 * so a byte that could start an ASCII character, a full-width form
 * (EF BC xx / EF BD xx) or a separator always starts one, and the scanners
 * may step byte by byte over text they copy.
 */
#include "redact.h"

#include <stdlib.h>
#include <string.h>

#define NUM_MASK   7  /* a run with this many digits is masked */
#define NUM_LONG   11 /* runs this long keep 3 + 2 digits, shorter 2 + 1 */
#define KNOWN_MIN  2  /* characters a known string needs to be masked */
#define ID_DIGITS  17 /* an ID number's digits before its check character */
#define CASE_N_MIN 4  /* digits of a case id's number */
#define CASE_N_MAX 9
#define CASE_YEAR  2022 /* the regulation took effect on 2022-05-01 */

/* ---------------------------------------------------------------- UTF-8 */

/* The strict decoder (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF): the cleaning pass and the feed's XML writer both rely on it. */
size_t hcp_text_next(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0)
        return 0;
    unsigned c = u[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : lo;
        hi = c == 0xED ? 0x9F : hi;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    } else {
        *cp = HCP_TEXT_BAD;
        return 1;
    }
    if (n < len || u[1] < lo || u[1] > hi) {
        *cp = HCP_TEXT_BAD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = HCP_TEXT_BAD;
            return 1;
        }
        v = v << 6 | (u[i] & 0x3F);
    }
    *cp = v;
    return len;
}

/* XML 1.0's Char production, less what it only discourages (controls and
 * non-characters): what the Atom feed may carry and readers show. */
bool hcp_text_publishable(uint32_t cp)
{
    if (cp < 0x20)
        return cp == 0x09 || cp == 0x0A || cp == 0x0D;
    if (cp >= 0x7F && cp <= 0x9F)
        return false;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return false;
    if (cp >= 0xFDD0 && cp <= 0xFDEF)
        return false;
    if ((cp & 0xFFFE) == 0xFFFE)
        return false;
    return cp <= 0x10FFFF;
}

/* Pass 1: copy [in, in+n) to out without what may not be published;
 * returns the bytes written (<= n; out gets a NUL after them). */
static size_t clean(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = hcp_text_next(in + i, n - i, &cp);
        if (cp != HCP_TEXT_BAD && hcp_text_publishable(cp)) {
            memcpy(out + o, in + i, k);
            o += k;
        }
        i += k;
    }
    out[o] = '\0';
    return o;
}

/* ---------------------------------------------------------------- classes */

/* The code point at t[i] (t valid UTF-8, i < n) and its length. */
static uint32_t cp_at(const char *t, size_t n, size_t i, size_t *len)
{
    uint32_t cp = 0; /* hcp_text_next sets it unless n - i is 0 */
    *len = hcp_text_next(t + i, n - i, &cp);
    return cp;
}

/* ASCII or full-width digit: its value, or -1. */
static int digit_value(uint32_t cp)
{
    if (cp >= '0' && cp <= '9')
        return (int)(cp - '0');
    if (cp >= 0xFF10 && cp <= 0xFF19)
        return (int)(cp - 0xFF10);
    return -1;
}

/* Characters that join digits into one number run (redact.h). */
static bool is_separator(uint32_t cp)
{
    switch (cp) {
    case ' ':
    case '\t':
    case '-':
    case '.':
    case '/':
    case '(':
    case ')':
    case 0x00A0: /* no-break space */
    case 0x00AD: /* soft hyphen */
    case 0x202F: /* narrow no-break space */
    case 0x2060: /* word joiner */
    case 0x2212: /* minus */
    case 0x3000: /* ideographic space */
    case 0xFEFF: /* zero width no-break space */
    case 0xFF08: /* （ */
    case 0xFF09: /* ） */
    case 0xFF0D: /* － */
    case 0xFF0E: /* ． */
    case 0xFF0F: /* ／ */
        return true;
    default: /* spaces, zero-width marks, hyphens and dashes */
        return cp >= 0x2000 && cp <= 0x2015;
    }
}

/* ASCII or full-width letter or digit: what an address run masks. */
static bool is_alnum(uint32_t cp)
{
    if (cp >= 0xFEE0 + 0x21 && cp <= 0xFEE0 + 0x7E)
        cp -= 0xFEE0; /* a full-width form: its ASCII counterpart */
    return (cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
}

/* Characters of an e-mail address run (redact.h), '*' included so that a
 * half-masked address still reads as one run. */
static bool is_addr(uint32_t cp)
{
    if (cp >= 0xFEE0 + 0x21 && cp <= 0xFEE0 + 0x7E)
        cp -= 0xFEE0;
    return is_alnum(cp) || cp == '.' || cp == '_' || cp == '%' || cp == '+' || cp == '-' ||
           cp == '*';
}

static bool is_at(uint32_t cp)
{
    return cp == '@' || cp == 0xFF20;
}

/* ---------------------------------------------------------------- output */

/* A buffer being written: the passes never write more than they read, so
 * every target has room for the whole input. */
typedef struct sink {
    char *out;
    size_t len;
} sink;

static void put(sink *s, const char *p, size_t n)
{
    memcpy(s->out + s->len, p, n);
    s->len += n;
}

/* ---------------------------------------------------------------- known */

/* A known string, cleaned, and its length. */
typedef struct known_s {
    char *s;
    size_t len;
} known_s;

/* Length of the longest known string at t[i] (0 if none). */
static size_t known_at(const char *t, size_t n, size_t i, const known_s *known, size_t nk)
{
    size_t best = 0;
    for (size_t k = 0; k < nk; k++) {
        size_t len = known[k].len;
        if (len > best && len <= n - i && t[i] == known[k].s[0] &&
            memcmp(t + i, known[k].s, len) == 0)
            best = len;
    }
    return best;
}

/* Characters (UTF-8 lead bytes) in [p, p+n). */
static size_t utf8_chars(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

/* Pass 2: every occurrence of a known string becomes one '*' a character.
 * The known strings are cleaned and at least KNOWN_MIN characters long. */
static size_t mask_known(const char *t, size_t n, const known_s *known, size_t nk, char *out)
{
    sink s = {out, 0};
    for (size_t i = 0; i < n;) {
        size_t len = nk > 0 ? known_at(t, n, i, known, nk) : 0;
        if (len > 0) {
            for (size_t c = utf8_chars(t + i, len); c > 0; c--)
                put(&s, "*", 1);
            i += len;
        } else
            put(&s, t + i++, 1);
    }
    out[s.len] = '\0';
    return s.len;
}

/* ---------------------------------------------------------------- e-mail */

/* Start of the character that ends just before t[p] (t valid UTF-8). */
static size_t prev_char(const char *t, size_t p)
{
    size_t q = p - 1;
    while (q > 0 && ((unsigned char)t[q] & 0xC0) == 0x80)
        q--;
    return q;
}

/* Mark every letter and digit of the address run that ends before t[p]
 * (backwards) or starts at t[p] (forwards). */
static void mark_run(const char *t, size_t n, size_t p, bool back, uint8_t *mark)
{
    size_t len;
    while (back ? p > 0 : p < n) {
        size_t q = back ? prev_char(t, p) : p;
        uint32_t cp = cp_at(t, n, q, &len);
        if (!is_addr(cp))
            return;
        if (is_alnum(cp))
            mark[q] = 1;
        p = back ? q : q + len;
    }
}

/* Pass 3: the address runs around every '@' lose their letters and
 * digits. mark (n bytes, zeroed) flags the characters to mask. */
static size_t mask_email(const char *t, size_t n, uint8_t *mark, char *out)
{
    size_t len;
    for (size_t i = 0; i < n; i += len) {
        len = 1; /* '@' or '＠' (EF BC A0): other bytes are stepped over */
        if (((unsigned char)t[i] == '@' || (unsigned char)t[i] == 0xEF) &&
            is_at(cp_at(t, n, i, &len))) {
            mark_run(t, n, i, true, mark);
            mark_run(t, n, i + len, false, mark);
        }
    }
    sink s = {out, 0};
    for (size_t i = 0; i < n; i += len) {
        cp_at(t, n, i, &len);
        if (mark[i])
            put(&s, "*", 1);
        else
            put(&s, t + i, len);
    }
    out[s.len] = '\0';
    return s.len;
}

/* ---------------------------------------------------------------- numbers */

/* The ASCII digits t[i..i+k) as a number, or -1 if any is not one. */
static long ascii_num(const char *t, size_t n, size_t i, size_t k)
{
    long v = 0;
    if (i + k > n)
        return -1;
    for (size_t j = i; j < i + k; j++) {
        if (t[j] < '0' || t[j] > '9')
            return -1;
        v = v * 10 + (t[j] - '0');
    }
    return v;
}

/* Whether a digit (ASCII or full-width) starts at t[i]. */
static bool digit_at(const char *t, size_t n, size_t i)
{
    if (i >= n)
        return false;
    unsigned char c = (unsigned char)t[i];
    if (c >= '0' && c <= '9')
        return true;
    size_t len; /* a full-width digit is EF BC 90..99 */
    return c == 0xEF && digit_value(cp_at(t, n, i, &len)) >= 0;
}

/* An ASCII number of 1 or 2 digits at t[*i] within [lo, hi]; *i moves past. */
static bool small_num(const char *t, size_t n, size_t *i, long lo, long hi)
{
    size_t k = ascii_num(t, n, *i, 2) >= 0 ? 2 : 1;
    long v = ascii_num(t, n, *i, k);
    if (v < lo || v > hi)
        return false;
    *i += k;
    return true;
}

/* A date YYYY-M-D (or / or .) at t[i]: one past it, or 0. */
static size_t date_token(const char *t, size_t n, size_t i)
{
    long y = ascii_num(t, n, i, 4);
    if (y < 1900 || y > 2099 || i + 4 >= n)
        return 0;
    char sep = t[i + 4];
    size_t j = i + 5;
    if ((sep != '-' && sep != '/' && sep != '.') || !small_num(t, n, &j, 1, 12) || j >= n ||
        t[j] != sep)
        return 0;
    j++;
    if (!small_num(t, n, &j, 1, 31) || digit_at(t, n, j))
        return 0;
    return j;
}

/* A case id NNNNNN-YYYYMMDD-N{4,9} at t[i]: one past it, or 0. */
static size_t case_token(const char *t, size_t n, size_t i)
{
    if (ascii_num(t, n, i, 6) < 0 || i + 6 >= n || t[i + 6] != '-')
        return 0;
    long y = ascii_num(t, n, i + 7, 4), m = ascii_num(t, n, i + 11, 2),
         d = ascii_num(t, n, i + 13, 2);
    if (y < CASE_YEAR || y > 2099 || m < 1 || m > 12 || d < 1 || d > 31 ||
        (y == CASE_YEAR && m < 5) || i + 15 >= n || t[i + 15] != '-')
        return 0;
    size_t j = i + 16, k = 0;
    while (j + k < n && t[j + k] >= '0' && t[j + k] <= '9')
        k++;
    if (k < CASE_N_MIN || k > CASE_N_MAX || digit_at(t, n, j + k))
        return 0;
    return j + k;
}

/* A run of digits joined by separators: where it ends and its digits. */
typedef struct num_run {
    size_t end;    /* one past its last digit (or X) */
    size_t digits; /* an ID number's final X counted */
} num_run;

/* Scan the run that starts with the digit at t[i]. */
static void num_scan(const char *t, size_t n, size_t i, num_run *r)
{
    size_t len;
    r->digits = 0;
    r->end = i;
    while (i < n) {
        uint32_t cp = cp_at(t, n, i, &len);
        if (digit_value(cp) >= 0) {
            r->digits++;
            i += len;
            r->end = i;
        } else if (is_separator(cp))
            i += len;
        else
            break;
    }
    if (r->digits == ID_DIGITS && r->end < n && (t[r->end] == 'X' || t[r->end] == 'x')) {
        r->end++;
        r->digits++;
    }
}

/* Write the run [i, r->end) with its middle digits masked. */
static void num_put_masked(sink *s, const char *t, size_t n, size_t i, const num_run *r)
{
    size_t head = r->digits >= NUM_LONG ? 3 : 2, tail = r->digits >= NUM_LONG ? 2 : 1, k = 0, len;
    while (i < r->end) {
        uint32_t cp = cp_at(t, n, i, &len);
        bool digit = digit_value(cp) >= 0 || cp == 'X' || cp == 'x';
        if (digit && k >= head && k + tail < r->digits)
            put(s, "*", 1);
        else
            put(s, t + i, len);
        k += digit;
        i += len;
    }
}

/* Pass 4: number runs of NUM_MASK digits or more, dates and case ids
 * aside. A run starts only where no digit is just before (a run or token
 * is never followed by a digit), so each digit is looked at once. */
static size_t mask_numbers(const char *t, size_t n, char *out)
{
    sink s = {out, 0};
    for (size_t i = 0; i < n;) {
        if (!digit_at(t, n, i)) {
            put(&s, t + i++, 1);
            continue;
        }
        size_t end = date_token(t, n, i);
        if (end == 0)
            end = case_token(t, n, i);
        if (end > 0) {
            put(&s, t + i, end - i);
            i = end;
            continue;
        }
        num_run r;
        num_scan(t, n, i, &r);
        if (r.digits >= NUM_MASK)
            num_put_masked(&s, t, n, i, &r);
        else
            put(&s, t + i, r.end - i);
        i = r.end;
    }
    out[s.len] = '\0';
    return s.len;
}

/* ---------------------------------------------------------------- entry */

/* The known strings cleaned into heap copies (*out, *nout entries), those
 * too short left out. */
static int known_clean(const char *const *known, size_t nknown, known_s **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (nknown == 0)
        return HCP_OK;
    known_s *k = calloc(nknown, sizeof(*k));
    if (k == NULL)
        return HCP_ENOMEM;
    size_t m = 0;
    int rc = HCP_OK;
    for (size_t i = 0; i < nknown && rc == HCP_OK; i++) {
        if (known[i] == NULL)
            continue;
        size_t len = strlen(known[i]);
        char *c = malloc(len + 1);
        if (c == NULL) {
            rc = HCP_ENOMEM;
            break;
        }
        len = clean(known[i], len, c);
        if (utf8_chars(c, len) >= KNOWN_MIN)
            k[m++] = (known_s){c, len};
        else
            free(c);
    }
    *out = k;
    *nout = m;
    return rc;
}

static void known_free(known_s *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(k[i].s);
    free(k);
}

/* The passes run over two scratch buffers of the input's size and a mark
 * array; the result is copied out only when it fits. */
int hcp_redact_known(const char *in, const char *const *known, size_t nknown, char *out,
                     size_t outlen)
{
    if (in == NULL || out == NULL || outlen == 0 || (known == NULL && nknown > 0))
        return HCP_EINVAL;
    out[0] = '\0';
    size_t n = strlen(in);
    char *a = malloc(n + 1), *b = malloc(n + 1);
    uint8_t *mark = calloc(n + 1, 1);
    known_s *k = NULL;
    size_t nk = 0;
    int rc =
        a != NULL && b != NULL && mark != NULL ? known_clean(known, nknown, &k, &nk) : HCP_ENOMEM;
    if (rc == HCP_OK) {
        size_t len = clean(in, n, a);
        len = mask_known(a, len, k, nk, b);
        len = mask_email(b, len, mark, a);
        len = mask_numbers(a, len, b);
        if (len + 1 > outlen)
            rc = HCP_ERANGE;
        else
            memcpy(out, b, len + 1);
    }
    known_free(k, nk);
    free(a);
    free(b);
    free(mark);
    return rc;
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
