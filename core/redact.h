/*
 * redact.h — making free text fit to publish: characters XML cannot carry
 * dropped, personal data masked (the regulation's Art. 6 and 13, the HTTP API
 * "hcp-gateway": the disclosure feed). Every text the public feed shows
 * goes through hcp_redact_known, in both the JSON and the Atom feed.
 *
 * The redaction runs four passes, each on the result of the one before:
 *
 *  1. Clean: every character that is not publishable (hcp_text_publishable:
 *     C0 controls other than tab, LF and CR; DEL and the C1 controls
 *     U+007F–U+009F; the non-characters U+FDD0–U+FDEF and U+xFFFE/U+xFFFF
 *     of every plane) and every byte that is not part of valid UTF-8 is
 *     dropped (not replaced: a replacement would make the text longer and
 *     carries nothing a reader needs).
 *  2. Known strings (hcp_redact_known): each occurrence of a given string
 *     (itself cleaned) of at least two characters, e.g. the names and phones
 *     of the complainant and the staff of the case, is masked whole, the
 *     longest first.
 *  3. E-mail addresses: around every '@' or full-width '＠', the run of
 *     address characters just before it and the one just after it have
 *     every letter and digit masked (address characters: ASCII and
 *     full-width letters and digits, . _ % + - * and their full-width
 *     forms). "zhang.san@qq.com" becomes "*****.***@**.***".
 *  4. Numbers: a digit is ASCII 0-9 or full-width ０-９; separators are
 *     space, tab, - . / ( ) and their full-width forms, the ideographic
 *     space, no-break and thin spaces, dashes U+2010–U+2015, minus U+2212,
 *     and the invisible U+00AD, U+200B–U+200F, U+2060, U+FEFF. A number
 *     run is digits joined by any separators ("+86 139-1234 5678",
 *     "139.1234.5678", "6301 0219 8503 1742 3X"). A run of 7 or more
 *     digits is masked: the first 3 and last 2 digits are kept when it has
 *     11 or more ("138-1234-5678" becomes "138-****-**78"), the first 2 and
 *     the last 1 otherwise; separators are kept; an 18th character X/x
 *     right after 17 digits counts as a digit. Not masked, when a run
 *     starts with one and no digit follows it: a date YYYY-M-D (also with
 *     '/' or '.', the same separator twice, year 1900–2099, month 1–12, day
 *     1–31, ASCII digits) and a case id NNNNNN-YYYYMMDD-N (6 digits, a date
 *     from 2022-05-01 to 2099, 4 to 9 digits, ASCII) — what follows them
 *     is a run of its own.
 *
 * The invariant (tests/fuzz/fuzz_redact.c checks it on every input):
 *  - the output is valid UTF-8 and every character in it is publishable;
 *  - once those dates and case ids are taken out, and then every
 *    separator removed, no 7 digits in a row remain;
 *  - no '@'/'＠' has a letter or digit in the address runs beside it;
 *  - no known string (cleaned, two characters or more, without '*')
 *    occurs in it;
 *  - it is never longer than the input: a masked character becomes one
 *    '*', a dropped one takes no room, the rest is copied byte for byte;
 *  - redacting the output again (hcp_redact) changes nothing.
 *
 * Not covered: digits of other scripts (①, ٣, 一三九), numbers spelt out
 * in words, an ID number in the shape of a case id (6-8-4 digits with '-')
 * of someone born after 2022-05-01.
 */
#ifndef HCP_REDACT_H
#define HCP_REDACT_H

#include "hcp.h"

#define HCP_TEXT_BAD 0xFFFFFFFFu /* hcp_text_next: not valid UTF-8 */

/* Decode the character at s (n bytes available, n > 0): its code point
 * into *cp and the bytes it takes. A byte that does not start a valid
 * UTF-8 sequence (overlong, surrogate, > U+10FFFF, truncated) is one byte
 * with *cp = HCP_TEXT_BAD. Returns 0 only when n is 0. */
HCP_API size_t hcp_text_next(const char *s, size_t n, uint32_t *cp);

/* Whether code point cp may appear in published text: a Char of XML 1.0
 * without NUL, C0 controls other than tab/LF/CR, U+007F–U+009F and the
 * non-characters (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF). */
HCP_API bool hcp_text_publishable(uint32_t cp);

/* Copy the NUL-terminated text in into out (outlen bytes, NUL-terminated)
 * redacted as above. outlen >= strlen(in) + 1 always suffices. Errors:
 * HCP_EINVAL on NULL arguments or outlen 0, HCP_ERANGE when out is too
 * small, HCP_ENOMEM (out is "" after an error). in is borrowed. */
HCP_API HCP_NODISCARD int hcp_redact(const char *in, char *out, size_t outlen);

/* As hcp_redact, and also mask every occurrence of the nknown strings of
 * known (NULL entries and strings shorter than two characters once
 * cleaned are ignored). All borrowed. */
HCP_API HCP_NODISCARD int hcp_redact_known(const char *in, const char *const *known, size_t nknown,
                                           char *out, size_t outlen);

/* The redaction of in as a new heap string (caller frees), or NULL on
 * allocation failure or NULL in. */
HCP_API char *hcp_redact_dup(const char *in, const char *const *known, size_t nknown);

#endif
