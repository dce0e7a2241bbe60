/* libgda (private, lib/util) — hexadecimal digits (see hex.h). */
#include "hex.h"

char gda_hex_digit(unsigned v, gda_hex_case hcase)
{
    static const char lower[] = "0123456789abcdef";
    static const char upper[] = "0123456789ABCDEF";
    return (hcase == GDA_HEX_UPPER ? upper : lower)[v & 0xF];
}

int gda_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void gda_hex_encode(const uint8_t *in, size_t n, char *out, gda_hex_case hcase)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = gda_hex_digit(in[i] >> 4, hcase);
        out[2 * i + 1] = gda_hex_digit(in[i] & 0xF, hcase);
    }
}

bool gda_hex_decode(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = gda_hex_value(in[2 * i]), lo = gda_hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
