/* libgda (private) — the PII masking rule for logs and redacted copies (see pii.h). */
#include "pii.h"

#include <stdbool.h>
#include <string.h>

#define MASK "***"

_Static_assert(GDA_PII_MASKED_MAX == sizeof MASK - 1 + 4, "\"***\" and 4 digits");

size_t gda_pii_mask(const char *value, char *out, size_t out_size)
{
    char masked[GDA_PII_MASKED_MAX + 1];
    size_t len = value ? strlen(value) : 0;
    size_t digits = len ? len - 1 : 0;
    /* 11 digits minimum so that keeping 4 still hides at least 7: with the
     * country code and area code guessable, fewer would leave a dictionary
     * small enough to rebuild the number from the log line. */
    bool phone = len > 1 && value[0] == '+' && value[1] != '0' && digits >= 11 && digits <= 15;
    for (size_t i = 1; phone && i < len; i++)
        phone = value[i] >= '0' && value[i] <= '9';
    memcpy(masked, MASK, sizeof MASK);
    if (phone)
        memcpy(masked + sizeof MASK - 1, value + len - 4, 5);
    size_t masked_len = strlen(masked);
    if (out && out_size) {
        size_t n = masked_len < out_size - 1 ? masked_len : out_size - 1;
        memcpy(out, masked, n);
        out[n] = '\0';
    }
    return masked_len;
}

size_t gda_pii_mask_value(const json_t *value, char *out, size_t out_size)
{
    return gda_pii_mask(json_is_string(value) ? json_string_value(value) : NULL, out, out_size);
}

json_t *gda_pii_mask_json(const json_t *value)
{
    char masked[GDA_PII_MASKED_MAX + 1];
    gda_pii_mask_value(value, masked, sizeof masked);
    return json_string_nocheck(masked);
}
