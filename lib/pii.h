/* libgda (private) — the one rule that masks a PII value, shared by request
 * redaction and the logger (users get masking through gda_request_redacted
 * and the logger's pii fields, never by calling it). */
#ifndef GDA_LIB_PII_H
#define GDA_LIB_PII_H

#include <stddef.h>

#include <jansson.h>

/* Mask value snprintf-style: writes at most out_size bytes including the NUL
 * (out may be NULL when out_size is 0) and returns the length of the full
 * masked text.
 *   - "+" and 11 to 15 digits, the first not 0 (an E.164 number long enough
 *     that at least 7 digits stay hidden): "***" and the last 4 digits,
 *     nothing else: "+15551234567" -> "***4567";
 *   - anything else, shorter numbers, other strings and NULL: "***".
 * Nothing else of the value, not even its length, is revealed. */
size_t gda_pii_mask(const char *value, char *out, size_t out_size);

/* Longest masked text, without the NUL: "***" and 4 digits. */
#define GDA_PII_MASKED_MAX 7

/* The rule for a JSON value, written as gda_pii_mask writes: a string as
 * above; any other value (a number holding a phone, an object) carries no
 * format that can be partly kept and becomes "***". value may be NULL. */
size_t gda_pii_mask_value(const json_t *value, char *out, size_t out_size);

/* gda_pii_mask_value as a new JSON string reference, NULL when memory runs
 * out. */
json_t *gda_pii_mask_json(const json_t *value);

#endif
