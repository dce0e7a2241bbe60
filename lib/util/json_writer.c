/* libgda (private, lib/util) — the JSON text writer (see json_writer.h). */
#include "json_writer.h"

#include <stdio.h>

void gda_json_raw(gda_buf *b, const char *s, size_t n)
{
    gda_buf_append(b, s, n);
}

void gda_json_escaped(gda_buf *b, const char *s, size_t n, gda_hex_case hcase)
{
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        gda_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': GDA_JSON_LIT(b, "\\\""); break;
        case '\\': GDA_JSON_LIT(b, "\\\\"); break;
        case '\b': GDA_JSON_LIT(b, "\\b"); break;
        case '\f': GDA_JSON_LIT(b, "\\f"); break;
        case '\n': GDA_JSON_LIT(b, "\\n"); break;
        case '\r': GDA_JSON_LIT(b, "\\r"); break;
        case '\t': GDA_JSON_LIT(b, "\\t"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', gda_hex_digit(c >> 4, hcase),
                         gda_hex_digit(c & 15, hcase)};
            gda_buf_append(b, u, sizeof u);
        }
        }
    }
    gda_buf_append(b, s + run, n - run);
}

void gda_json_string(gda_buf *b, const char *s, size_t n, gda_hex_case hcase)
{
    GDA_JSON_LIT(b, "\"");
    gda_json_escaped(b, s, n, hcase);
    GDA_JSON_LIT(b, "\"");
}

void gda_json_int(gda_buf *b, long long v)
{
    char digits[24];
    size_t at = sizeof digits;
    /* Through unsigned, so LLONG_MIN negates without overflow. */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[--at] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[--at] = '-';
    gda_buf_append(b, digits + at, sizeof digits - at);
}

void gda_json_real(gda_buf *b, double v)
{
    char text[40];
    int n = snprintf(text, sizeof text, "%.15g", v);
    if (n < 0 || (size_t)n >= sizeof text) {
        b->failed = true; /* cannot happen for a finite double */
        return;
    }
    char out[48];
    size_t len = 0;
    bool point = false, exponent = false;
    for (int i = 0; i < n; i++) {
        char c = text[i];
        if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
            out[len++] = c;
        } else if (c == 'e') {
            out[len++] = 'e';
            exponent = true;
            int j = i + 1;
            if (text[j] == '-')
                out[len++] = '-';
            if (text[j] == '-' || text[j] == '+')
                j++;
            /* leading zeros of the exponent (it always has a non-zero digit) */
            while (text[j] == '0' && text[j + 1] >= '0' && text[j + 1] <= '9')
                j++;
            i = j - 1;
        } else if (!point) {
            /* the locale's decimal point, however many bytes it takes */
            out[len++] = '.';
            point = true;
        }
    }
    if (!point && !exponent) {
        out[len++] = '.';
        out[len++] = '0';
    }
    gda_buf_append(b, out, len);
}

void gda_json_bool(gda_buf *b, bool v)
{
    if (v)
        GDA_JSON_LIT(b, "true");
    else
        GDA_JSON_LIT(b, "false");
}
