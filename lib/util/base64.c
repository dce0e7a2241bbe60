/* libgda (private, lib/util) — strict base64 decoding and encoding (see base64.h). */
#include "base64.h"

#include <stdlib.h>

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

static int sodium_variant(gda_base64_alphabet alphabet)
{
    return alphabet == GDA_BASE64_URLSAFE ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
                                          : sodium_base64_VARIANT_ORIGINAL;
}

size_t gda_base64_encoded_len(size_t n, gda_base64_alphabet alphabet)
{
    if (n > (SIZE_MAX - 8) / 4 * 3)
        return SIZE_MAX;
    /* sodium_base64_ENCODED_LEN counts the NUL. */
    return sodium_base64_ENCODED_LEN(n, sodium_variant(alphabet)) - 1;
}

char *gda_base64_encode(const void *in, size_t n, gda_base64_alphabet alphabet, char *out)
{
    size_t size = gda_base64_encoded_len(n, alphabet) + 1;
    return sodium_bin2base64(out, size, in, n, sodium_variant(alphabet));
}

char *gda_base64_encode_alloc(const void *in, size_t n, gda_base64_alphabet alphabet)
{
    size_t len = gda_base64_encoded_len(n, alphabet);
    if (len == SIZE_MAX)
        return NULL;
    char *out = malloc(len + 1);
    if (out)
        gda_base64_encode(in, n, alphabet, out);
    return out;
}
