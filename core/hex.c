/*
 * hex.c — hexadecimal text (hex.h).
 */
#include "hex.h"

/* A digit's value: the only parser, so every caller accepts the same. */
int hcp_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Lower case, as every hash and key hcp prints is written. */
void hcp_hex_encode(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    if (out == NULL || (b == NULL && n > 0))
        return;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Checked before a byte is written past cap: lengths come from users. */
long hcp_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    if (s == NULL || out == NULL || n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hcp_hex_digit(s[2 * i]), lo = hcp_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}
