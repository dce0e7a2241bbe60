/* libgda (private, lib/util) — hexadecimal digits: encode bytes, decode digits, either case.
 *
 * Callers pick the case they write: owner tokens and digests are lower
 * case, percent escapes and jansson-style \u escapes upper case. Decoding
 * takes both cases; a caller that needs one case checks it itself.
 *
 * Thread safety: pure functions.
 */
#ifndef GDA_UTIL_HEX_H
#define GDA_UTIL_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gda_hex_case {
    GDA_HEX_LOWER, /* 0-9 a-f */
    GDA_HEX_UPPER  /* 0-9 A-F */
} gda_hex_case;

/* The digit for v (0..15) in the given case. */
char gda_hex_digit(unsigned v, gda_hex_case hcase);

/* The value of hex digit c (either case), or -1 when c is not one. */
int gda_hex_value(char c);

/* Write the 2 * n digits of in[0..n) to out (no NUL). */
void gda_hex_encode(const uint8_t *in, size_t n, char *out, gda_hex_case hcase);

/* Decode the 2 * n digits at in into n bytes at out; false (out partly
 * written) on any character that is not a hex digit. */
bool gda_hex_decode(const char *in, size_t n, uint8_t *out);

#endif /* GDA_UTIL_HEX_H */
