/* libgda (private, lib/util) — base64: one encoder, one strict decoder, standard and URL-safe alphabets.
 *
 * libsodium 1.0.18's sodium_base642bin maps every byte 0x80–0xFF to a
 * digit instead of refusing it, so "not base64" bodies were accepted and a
 * JWT signature could be spelled many ways. Every decode in the tree goes
 * through here: the alphabet is checked first, then libsodium decodes
 * (which also refuses non-zero leftover bits, keeping encodings canonical).
 * The encoder writes the standard alphabet with '=' padding and the URL-safe
 * one without (JWS).
 *
 * Thread safety: pure functions.
 */
#ifndef GDA_BASE64_H
#define GDA_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gda_base64_alphabet {
    GDA_BASE64_STANDARD, /* A–Z a–z 0–9 + /, '=' padding optional (written when encoding) */
    GDA_BASE64_URLSAFE   /* A–Z a–z 0–9 - _, no padding (JWS) */
} gda_base64_alphabet;

/* Upper bound of the decoded size of len characters. */
size_t gda_base64_decoded_max(size_t len);

/* Decode in[0..len) into out (out_cap bytes), setting *out_len. False for
 * any byte outside the alphabet, misplaced or excess padding, a length no
 * encoding has, non-canonical trailing bits, or out_cap too small. The empty
 * input decodes to zero bytes. */
bool gda_base64_decode(const char *in, size_t len, gda_base64_alphabet alphabet, uint8_t *out,
                       size_t out_cap, size_t *out_len);

/* Characters the encoding of n bytes takes (without the NUL); SIZE_MAX when
 * it would not fit a size_t. */
size_t gda_base64_encoded_len(size_t n, gda_base64_alphabet alphabet);

/* Write the encoding of in[0..n) and a NUL to out, which must hold
 * gda_base64_encoded_len(n) + 1 bytes; returns out. */
char *gda_base64_encode(const void *in, size_t n, gda_base64_alphabet alphabet, char *out);

/* The encoding of in[0..n) in a new heap string (the caller's to free);
 * NULL when memory runs out or n is too large. */
char *gda_base64_encode_alloc(const void *in, size_t n, gda_base64_alphabet alphabet);

#endif /* GDA_BASE64_H */
