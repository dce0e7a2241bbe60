/* libgda (private, lib/util) — JSON text written straight into a gda_buf: escaped strings, integers, reals, booleans, raw text.
 *
 * Strings are escaped as jansson escapes them: '"', '\\', the short forms
 * \b \f \n \r \t, every other control character as \u00XX; everything else,
 * non-ASCII UTF-8 included, passes through as is. The case of the \u00XX
 * digits is the caller's choice (log lines match jansson's upper case, the
 * response bodies have always been lower case). The input must already be
 * valid UTF-8; making text safe is the caller's job. Reals are written as
 * jansson writes them with JSON_REAL_PRECISION(15).
 *
 * Thread safety: none of its own; it writes only the buffer it is given.
 */
#ifndef GDA_UTIL_JSON_WRITER_H
#define GDA_UTIL_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "hex.h"

/* Append s[0..n) escaped, without the surrounding quotes. */
void gda_json_escaped(gda_buf *b, const char *s, size_t n, gda_hex_case hcase);

/* Append s[0..n) as a JSON string literal. */
void gda_json_string(gda_buf *b, const char *s, size_t n, gda_hex_case hcase);

/* Append v as a JSON integer. */
void gda_json_int(gda_buf *b, long long v);

/* Append the finite real v as jansson writes it with JSON_REAL_PRECISION(15):
 * "%.15g" with a '.' whatever the locale, ".0" appended when there is neither
 * a '.' nor an exponent, and the exponent without '+' or leading zeros. */
void gda_json_real(gda_buf *b, double v);

/* Append true or false. */
void gda_json_bool(gda_buf *b, bool v);

/* Append JSON text that is already well-formed (a literal, a dumped value). */
void gda_json_raw(gda_buf *b, const char *s, size_t n);

/* Append a string literal of JSON text. */
#define GDA_JSON_LIT(b, lit) gda_json_raw((b), (lit), sizeof(lit) - 1)

#endif /* GDA_UTIL_JSON_WRITER_H */
