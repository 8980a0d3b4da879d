/*
 * hex.h — bytes as hexadecimal text and back, the one place hcp does it
 * (keys, session ids, hashes, cursors).
 */
#ifndef HCP_HEX_H
#define HCP_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcp.h"

/* The value of one hex digit (either case), or -1 for any other char. */
HCP_API int hcp_hex_digit(char c);
/* n bytes of b as 2n lower-case digits and a NUL into out (2n + 1 bytes,
 * the caller's). Nothing is written when out is NULL or b is NULL with n > 0. */
HCP_API void hcp_hex_encode(const uint8_t *b, size_t n, char *out);
/*
 * The n characters at s as bytes into out (cap bytes): n must be even, at
 * most 2 * cap, and every character a hex digit (either case). Returns the
 * byte count (n / 2) or -1 when s is malformed or does not fit; on -1, out
 * may hold part of the bytes and the caller wipes it if it is secret.
 */
HCP_API HCP_NODISCARD long hcp_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap);

#endif
