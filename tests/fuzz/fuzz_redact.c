/*
 * fuzz_redact.c — libFuzzer target for the redaction (core/redact.c): the
 * invariant of redact.h is checked on every input, by code written apart
 * from the redaction's own scanners, and any violation abort()s.
 *
 * Input: the text, then up to three known strings, separated by NUL bytes
 * (so the text alone is the whole input when it holds no NUL).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "redact_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KNOWN_MAX 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (in == NULL)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    const char *known[KNOWN_MAX];
    size_t nk = 0, len = strlen(in);
    for (size_t p = len + 1; p < size && nk < KNOWN_MAX; p += strlen(in + p) + 1)
        known[nk++] = in + p;
    char *out = malloc(len + 1), *again = malloc(len + 1);
    uint32_t *cps = malloc((len + 1) * sizeof(*cps));
    if (out != NULL && again != NULL && cps != NULL) {
        /* outlen = strlen(in) + 1 always suffices (redact.h) */
        if (hcp_redact_known(in, known, nk, out, len + 1) != HCP_OK)
            abort();
        if (strlen(out) > len)
            abort();
        size_t m = decode(out, cps);
        check_digits(cps, m);
        check_email(cps, m);
        for (size_t i = 0; i < nk; i++)
            check_known(known[i], out);
        /* redacting again changes nothing (known strings aside: one may
         * hold '*' and match a mask) */
        if (hcp_redact(out, again, len + 1) != HCP_OK || strcmp(out, again) != 0)
            abort();
    }
    free(in);
    free(out);
    free(again);
    free(cps);
    return 0;
}
