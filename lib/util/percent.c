/* libgda (private, lib/util) — percent-encoding and decoding (see percent.h). */
#include "percent.h"

#include "hex.h"

bool gda_pct_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

size_t gda_pct_encoded_len(const char *in, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += gda_pct_unreserved((unsigned char)in[i]) ? 1 : 3;
    return len;
}

char *gda_pct_encode(const char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (gda_pct_unreserved(c)) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = gda_hex_digit(c >> 4, GDA_HEX_UPPER);
            *out++ = gda_hex_digit(c & 0xF, GDA_HEX_UPPER);
        }
    }
    return out;
}

bool gda_pct_encode_buf(gda_buf *b, const char *in, size_t n)
{
    size_t len = gda_pct_encoded_len(in, n);
    if (!gda_buf_reserve(b, len))
        return false;
    gda_pct_encode(in, n, b->data + b->len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

bool gda_pct_decode(const char *in, size_t n, unsigned flags, char *out, size_t out_cap,
                    size_t *out_len)
{
    size_t o = 0;
    *out_len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            int hi = n - i >= 3 ? gda_hex_value(in[i + 1]) : -1;
            int lo = hi >= 0 ? gda_hex_value(in[i + 2]) : -1;
            if (lo >= 0) {
                c = (char)(hi << 4 | lo);
                i += 2;
            } else if (!(flags & GDA_PCT_LENIENT)) {
                return false;
            }
        } else if (c == '+' && (flags & GDA_PCT_PLUS_SPACE)) {
            c = ' ';
        }
        if (o >= out_cap)
            return false;
        out[o++] = c;
    }
    *out_len = o;
    return true;
}
