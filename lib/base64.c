/* libgda (private) — strict base64 decoding (see base64.h). */
#include "base64.h"

#include <sodium.h>

size_t gda_base64_decoded_max(size_t len)
{
    return len / 4 * 3 + 3;
}

static bool in_alphabet(unsigned char c, gda_base64_alphabet alphabet)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    if (alphabet == GDA_BASE64_URLSAFE)
        return c == '-' || c == '_';
    return c == '+' || c == '/';
}

bool gda_base64_decode(const char *in, size_t len, gda_base64_alphabet alphabet, uint8_t *out,
                       size_t out_cap, size_t *out_len)
{
    *out_len = 0;
    size_t data = len;
    if (alphabet == GDA_BASE64_STANDARD) {
        size_t pad = 0;
        while (pad < 2 && data > 0 && in[data - 1] == '=') {
            data--;
            pad++;
        }
        /* Padding, when present, completes the last quantum exactly. */
        if (pad && len % 4 != 0)
            return false;
    }
    if (data % 4 == 1)
        return false;
    for (size_t i = 0; i < data; i++) {
        if (!in_alphabet((unsigned char)in[i], alphabet))
            return false;
    }
    if (data == 0)
        return true;
    int variant = alphabet == GDA_BASE64_URLSAFE ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
                                                 : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    const char *end = NULL;
    if (sodium_base642bin(out, out_cap, in, data, NULL, out_len, &end, variant) != 0)
        return false;
    return end == in + data;
}
