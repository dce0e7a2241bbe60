/* libgda (private) — strict UTF-8 (see lib/utf8.h). */
#include "utf8.h"

const char *gda_utf8_problem_str(gda_utf8_problem problem)
{
    switch (problem) {
    case GDA_UTF8_NUL: return "NUL byte";
    case GDA_UTF8_STRAY_CONTINUATION: return "invalid UTF-8 (unexpected continuation byte)";
    case GDA_UTF8_INVALID_BYTE: return "invalid UTF-8 (byte never valid in UTF-8)";
    case GDA_UTF8_OVERLONG: return "invalid UTF-8 (overlong encoding)";
    case GDA_UTF8_SURROGATE: return "invalid UTF-8 (encoded UTF-16 surrogate)";
    case GDA_UTF8_TOO_BIG: return "invalid UTF-8 (code point above U+10FFFF)";
    case GDA_UTF8_MISSING_CONTINUATION:
    case GDA_UTF8_TRUNCATED: return "invalid UTF-8 (truncated sequence)";
    case GDA_UTF8_OK: break;
    }
    return "valid UTF-8";
}

gda_utf8_problem gda_utf8_decode(const char *s, size_t avail, uint32_t *cp, size_t *seq_len)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char lead = p[0];
    size_t follow;
    uint32_t min, value;
    if (lead < 0x80) {
        *cp = lead;
        *seq_len = 1;
        return GDA_UTF8_OK;
    }
    if (lead < 0xC0)
        return GDA_UTF8_STRAY_CONTINUATION;
    /* 0xC0/0xC1 and 0xF5..0xF7 are decoded like the other leads so that the
     * message can say why they fail (overlong, above U+10FFFF). */
    if (lead < 0xE0) {
        follow = 1;
        min = 0x80;
        value = lead & 0x1Fu;
    } else if (lead < 0xF0) {
        follow = 2;
        min = 0x800;
        value = lead & 0x0Fu;
    } else if (lead < 0xF8) {
        follow = 3;
        min = 0x10000;
        value = lead & 0x07u;
    } else {
        return GDA_UTF8_INVALID_BYTE; /* 5- and 6-byte forms were never UTF-8 */
    }
    for (size_t i = 1; i <= follow; i++) {
        if (i >= avail)
            return GDA_UTF8_TRUNCATED;
        if ((p[i] & 0xC0u) != 0x80u)
            return GDA_UTF8_MISSING_CONTINUATION;
        value = (value << 6) | (p[i] & 0x3Fu);
    }
    if (value < min)
        return GDA_UTF8_OVERLONG;
    if (value >= 0xD800 && value <= 0xDFFF)
        return GDA_UTF8_SURROGATE;
    if (value > 0x10FFFF)
        return GDA_UTF8_TOO_BIG;
    *cp = value;
    *seq_len = follow + 1;
    return GDA_UTF8_OK;
}

/* Decode s[0..len) up to the first problem; *end is where it stopped (len
 * when there was none). NUL is a problem unless nul_ok. */
static gda_utf8_problem scan(const char *s, size_t len, bool nul_ok, size_t *end,
                             bool *has_control)
{
    size_t i = 0;
    gda_utf8_problem problem = GDA_UTF8_OK;
    while (i < len) {
        uint32_t cp = 0;
        size_t n = 0;
        problem = gda_utf8_decode(s + i, len - i, &cp, &n);
        if (problem == GDA_UTF8_OK && cp == 0 && !nul_ok)
            problem = GDA_UTF8_NUL;
        if (problem != GDA_UTF8_OK)
            break;
        if (has_control && (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)))
            *has_control = true;
        i += n;
    }
    *end = i;
    return problem;
}

gda_utf8_problem gda_utf8_validate(const char *s, size_t len, size_t *bad_at, bool *has_control)
{
    size_t end = 0;
    if (has_control)
        *has_control = false;
    gda_utf8_problem problem = scan(s, len, false, &end, has_control);
    if (problem != GDA_UTF8_OK && bad_at)
        *bad_at = end;
    return problem;
}

size_t gda_utf8_valid_prefix(const char *s, size_t len)
{
    size_t end = 0;
    scan(s, len, true, &end, NULL);
    return end;
}

bool gda_utf8_valid(const char *s, size_t len)
{
    return gda_utf8_valid_prefix(s, len) == len;
}

size_t gda_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0u) != 0x80u)
            n++;
    }
    return n;
}

bool gda_utf8_cut_character(const char *s, size_t n)
{
    if (n == 0)
        return false;
    /* Only leads some character can start with; 0xC0/0xC1/0xF5.. cut short
     * were never the start of valid text. */
    unsigned char lead = (unsigned char)s[0];
    if (lead < 0xC2 || lead > 0xF4)
        return false;
    uint32_t cp;
    size_t seq_len;
    return gda_utf8_decode(s, n, &cp, &seq_len) == GDA_UTF8_TRUNCATED;
}
