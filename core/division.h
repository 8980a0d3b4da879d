/*
 * division.h — the county-level divisions (GB/T 2260) the daemons accept:
 * Qinghai's, compiled in from data/divisions.tsv, or a list an operator
 * gives at run time (hcp_divisions_load: codes change over the years,
 * another province, a scale test).
 *
 * File format (the same as data/divisions.tsv): UTF-8 text, one row a
 * line, '\n' or "\r\n"; blank lines and lines starting with '#' ignored;
 * the first other line is the header
 *   code<TAB>name<TAB>prefecture_code<TAB>prefecture_name
 * then one row per county: a six-digit code not ending in "00" (that is a
 * prefecture's or a province's code), its name, its prefecture's code
 * (the county's first four digits then "00") and the prefecture's name;
 * names non-empty valid UTF-8 without tabs; no code twice; at least one
 * row, at most HCP_DIVISIONS_MAX; lines at most HCP_DIVISIONS_LINE_MAX
 * bytes, the file at most HCP_DIVISIONS_FILE_MAX bytes.
 */
#ifndef HCP_DIVISION_H
#define HCP_DIVISION_H

#include <string.h>

#include "case.h"
#include "hcp.h"

#define HCP_DIVISIONS_MAX      16384              /* rows in a list (China has ~2,850) */
#define HCP_DIVISIONS_LINE_MAX 1024               /* bytes in a line, without its '\n' */
#define HCP_DIVISIONS_FILE_MAX (2u * 1024 * 1024) /* bytes in a file */

/* Whether the n bytes at s have the shape of a division code: exactly
 * HCP_COUNTY_LEN ASCII digits. The one syntax check of a county code that
 * the chain, the case ids, the codec, the replication frames and signatures
 * and the division list all use. Syntax only: whether a county is listed is
 * hcp_division_find's question, and a code ending in "00" (a prefecture's,
 * or the province's that the gateway signs with) passes; only
 * hcp_divisions_load refuses such a code as a county's. s is borrowed and
 * may be NULL (then false). */
static inline bool hcp_county_code_ok(const char *s, size_t n)
{
    if (s == NULL || n != HCP_COUNTY_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* hcp_county_code_ok for a NUL-terminated string: six digits, then the NUL.
 * s is borrowed and may be NULL (then false). */
static inline bool hcp_county_str_ok(const char *s)
{
    return s != NULL && hcp_county_code_ok(s, strnlen(s, HCP_COUNTY_LEN + 1));
}

typedef struct hcp_division {
    char code[7];
    char prefecture[7];
    const char *name;            /* UTF-8, lives as long as the process */
    const char *prefecture_name; /* UTF-8, lives as long as the process */
} hcp_division;

/* Replace the list in use (at first the compiled-in one) with the file at
 * path (borrowed), checked whole first: on any error nothing changes.
 * Meant to be called once at start-up, before anything looks a division up
 * (the daemons call it while checking their settings); it is nevertheless
 * safe beside concurrent readers: the new list is published atomically and
 * no list is ever freed, so pointers from hcp_divisions/hcp_division_find
 * stay valid for the life of the process.
 * Returns HCP_OK; HCP_EINVAL (path NULL or empty); HCP_EIO (cannot open or
 * read); HCP_ERANGE (file, line or row count over its ceiling);
 * HCP_EFORMAT / HCP_EUTF8 (a malformed line); HCP_ENOMEM. On error err (if
 * not NULL) receives one line naming the file, and the line for a content
 * error ("PATH:LINE: reason"). */
HCP_API HCP_NODISCARD int hcp_divisions_load(const char *path, char *err, size_t errlen);

/* All divisions of the list in use, in file order; *n (if not NULL)
 * receives the count. The compiled-in list is parsed once, on first use,
 * thread-safely. The array is never freed. */
HCP_API const hcp_division *hcp_divisions(size_t *n);
/* The division with that six-digit code (borrowed, NUL-terminated) in the
 * list in use, or NULL. O(log n). */
HCP_API const hcp_division *hcp_division_find(const char *code);
/* Whether code names a prefecture (市州) of any listed division. */
HCP_API bool hcp_prefecture_known(const char *code);

#endif
