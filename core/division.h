/*
 * division.h — Qinghai's county-level divisions (GB/T 2260), compiled in
 * from data/divisions.tsv.
 */
#ifndef HCP_DIVISION_H
#define HCP_DIVISION_H

#include "hcp.h"

typedef struct hcp_division {
    char code[7];
    char prefecture[7];
    const char *name;            /* static, UTF-8 */
    const char *prefecture_name; /* static, UTF-8 */
} hcp_division;

/* All divisions, in file order; *n receives the count. Parsed once. */
HCP_API const hcp_division *hcp_divisions(size_t *n);
/* The division with that six-digit code, or NULL. */
HCP_API const hcp_division *hcp_division_find(const char *code);
/* Whether code names a prefecture (市州) of any listed division. */
HCP_API bool hcp_prefecture_known(const char *code);

#endif
