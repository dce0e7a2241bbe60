/* libgda (private) — the one strict UTF-8 decoder and what derives from it.
 *
 * The rule is RFC 3629's, the one jansson applies: no overlong forms, no
 * UTF-16 surrogates (U+D800..U+DFFF), nothing past U+10FFFF. Every module
 * that checks text before handing it to jansson, a log line or the wire
 * uses this, so they all agree on what is valid.
 *
 * Thread safety: every function is reentrant; no shared state, no allocation.
 */
#ifndef GDA_UTF8_H
#define GDA_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What is wrong with a sequence, most specific first, so that error
 * messages can name it. */
typedef enum gda_utf8_problem {
    GDA_UTF8_OK,
    GDA_UTF8_NUL,                  /* only from gda_utf8_validate */
    GDA_UTF8_STRAY_CONTINUATION,   /* 0x80..0xBF where a character starts */
    GDA_UTF8_INVALID_BYTE,         /* 0xF8..0xFF: never in UTF-8 */
    GDA_UTF8_OVERLONG,             /* includes 0xC0/0xC1 leads */
    GDA_UTF8_SURROGATE,
    GDA_UTF8_TOO_BIG,              /* includes 0xF5..0xF7 leads */
    GDA_UTF8_MISSING_CONTINUATION, /* a sequence cut by a non-continuation byte */
    GDA_UTF8_TRUNCATED             /* the input ends inside a sequence */
} gda_utf8_problem;

/* A short English description ("invalid UTF-8 (overlong encoding)"), static;
 * it never quotes the input. Both truncation classes read "truncated
 * sequence": to a reader they are the same mistake. */
const char *gda_utf8_problem_str(gda_utf8_problem problem);

/* Decode the one sequence at s[0..avail) (avail >= 1). On GDA_UTF8_OK,
 * *cp is the code point and *seq_len its length in bytes (1..4); U+0000 is
 * a character here. On a problem *cp and *seq_len are unspecified. */
gda_utf8_problem gda_utf8_decode(const char *s, size_t avail, uint32_t *cp, size_t *seq_len);

/* Text that must hold no NUL (JSON strings and keys, names, idempotency
 * keys): the first problem in s[0..len), or GDA_UTF8_OK. On a problem,
 * *bad_at (if not NULL) is the offset of the sequence at fault.
 * *has_control (if not NULL) says whether a C0, DEL or C1 control character
 * was seen before the end or the first problem. */
gda_utf8_problem gda_utf8_validate(const char *s, size_t len, size_t *bad_at, bool *has_control);

/* Length of the longest prefix of s[0..len) that is well-formed UTF-8
 * (NUL counts as a character). */
size_t gda_utf8_valid_prefix(const char *s, size_t len);

/* Whether all of s[0..len) is well-formed UTF-8 (NUL counts as a character). */
bool gda_utf8_valid(const char *s, size_t len);

/* Code points in s[0..len), which must already be valid: every byte that
 * is not a continuation byte starts one. */
size_t gda_utf8_count(const char *s, size_t len);

/* Whether the n bytes at s are the start of one multi-byte character cut
 * short (a valid lead byte, then fewer continuation bytes than it calls
 * for), as truncating valid text into a fixed buffer leaves it. */
bool gda_utf8_cut_character(const char *s, size_t n);

#endif /* GDA_UTF8_H */
