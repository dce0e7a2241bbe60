/* libgda (private) — strict base64 decoding.
 *
 * libsodium 1.0.18's sodium_base642bin maps every byte 0x80–0xFF to a
 * digit instead of refusing it, so "not base64" bodies were accepted and a
 * JWT signature could be spelled many ways. Every decode in the core goes
 * through here: the alphabet is checked first, then libsodium decodes
 * (which also refuses non-zero leftover bits, keeping encodings canonical).
 *
 * Thread safety: pure functions.
 */
#ifndef GDA_BASE64_H
#define GDA_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gda_base64_alphabet {
    GDA_BASE64_STANDARD, /* A–Z a–z 0–9 + /, '=' padding optional */
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

#endif /* GDA_BASE64_H */
