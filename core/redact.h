/*
 * redact.h — masking personal data out of free text before it is published
 * (DOMAIN.md Art. 6 and 13, SPEC.md "hcp-gateway": the disclosure feed).
 *
 * What is masked, character by character with '*' (one '*' per masked
 * character, so a full-width digit's three bytes become one '*'); all
 * other bytes, Chinese text around the numbers included, are copied
 * unchanged:
 *
 *  - Numbers: a run of digits (ASCII 0-9 or full-width ０-９), where a
 *    single '-' or ' ' between two digits joins the run ("0971-8123456",
 *    "138 1234 5678"). A run is masked when one unbroken group in it has
 *    7 or more digits (mobile and landline numbers, with or without area
 *    code, 15- and 18-digit ID numbers, an 18-digit ID's final X/x
 *    included), or when its groups together make a phone number: 11 digits
 *    starting with 1, or 10 to 12 digits starting with 0. Dates such as
 *    "2026-11-27" and short numbers stay. The first 3 and the last 2
 *    digits of a masked run of 11 or more digits are kept ("138****5678"
 *    becomes "138******78"); of a shorter one, the first 2 and the last 1.
 *    Separators are kept.
 *  - E-mail addresses: local@domain.tld (ASCII). The local part keeps its
 *    first character, the domain keeps its last label: "zhang.san@qq.com"
 *    becomes "z********@**.com".
 *  - Known strings (hcp_redact_known): each occurrence of a given string of
 *    at least two characters, e.g. the names of the complainant and the
 *    staff of the case, is masked entirely.
 *
 * The output is never longer than the input.
 */
#ifndef HCP_REDACT_H
#define HCP_REDACT_H

#include "hcp.h"

/* Copy the NUL-terminated text in into out (outlen bytes, NUL-terminated)
 * with numbers and e-mail addresses masked. outlen >= strlen(in) + 1 always
 * suffices; HCP_ERANGE when out is too small (out is then ""), HCP_EINVAL
 * on NULL arguments. in is borrowed. */
HCP_API HCP_NODISCARD int hcp_redact(const char *in, char *out, size_t outlen);

/* As hcp_redact, and also mask every occurrence of the nknown strings of
 * known (NULL entries and strings shorter than two characters are
 * ignored). All borrowed. */
HCP_API HCP_NODISCARD int hcp_redact_known(const char *in, const char *const *known, size_t nknown,
                                           char *out, size_t outlen);

/* The redaction of in as a new heap string (caller frees), or NULL on
 * allocation failure or NULL in. */
HCP_API char *hcp_redact_dup(const char *in, const char *const *known, size_t nknown);

#endif
