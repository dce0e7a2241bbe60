/* libgda (private, lib/util) — percent-encoding (RFC 3986) of URL parts, and its decoding.
 *
 * Encoding keeps the unreserved characters (A-Z a-z 0-9 - . _ ~) and writes
 * every other byte as %XX in upper case, so a rebuilt query string or path
 * segment parses back to exactly the bytes it was built from. Decoding is
 * strict by default (a '%' not followed by two hex digits is refused) or
 * lenient as form decoders are (such a '%' stays literal); '+' is a space
 * only when asked (query strings, not paths).
 *
 * Thread safety: pure functions (the gda_buf variant writes only its buffer).
 */
#ifndef GDA_UTIL_PERCENT_H
#define GDA_UTIL_PERCENT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* An RFC 3986 unreserved character: kept as is by the encoder. */
bool gda_pct_unreserved(unsigned char c);

/* Characters the encoding of in[0..n) takes. */
size_t gda_pct_encoded_len(const char *in, size_t n);

/* Write the encoding of in[0..n) to out (gda_pct_encoded_len bytes, no
 * NUL); returns the end of what was written. */
char *gda_pct_encode(const char *in, size_t n, char *out);

/* Append the encoding of in[0..n) to b; false once b has failed. */
bool gda_pct_encode_buf(gda_buf *b, const char *in, size_t n);

enum {
    GDA_PCT_STRICT = 0,         /* a bad escape fails the decode */
    GDA_PCT_LENIENT = 1 << 0,   /* a bad escape stays as written */
    GDA_PCT_PLUS_SPACE = 1 << 1 /* '+' decodes to ' ' (query strings) */
};

/* Decode in[0..n) into out (out_cap bytes; never more than n are needed),
 * setting *out_len; no NUL is written and a decoded NUL is kept. False for
 * a bad escape (unless GDA_PCT_LENIENT) or when out_cap is too small. */
bool gda_pct_decode(const char *in, size_t n, unsigned flags, char *out, size_t out_cap,
                    size_t *out_len);

#endif /* GDA_UTIL_PERCENT_H */
