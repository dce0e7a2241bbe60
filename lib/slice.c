/* libgda — byte slices (see include/gda/slice.h). */
#include <gda/slice.h>

#include <stdint.h>
#include <stdlib.h>

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool gda_slice_eq(gda_slice a, gda_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool gda_slice_ieq(gda_slice a, const char *b)
{
    size_t blen = b ? strlen(b) : 0;
    if (a.len != blen)
        return false;
    for (size_t i = 0; i < blen; i++) {
        if (ascii_lower((unsigned char)a.ptr[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

bool gda_slice_is_id(gda_slice s, size_t max_len)
{
    if (s.len == 0 || s.len > max_len || !s.ptr)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

char *gda_slice_dup(gda_slice s)
{
    if (s.len == SIZE_MAX)
        return NULL;
    char *out = malloc(s.len + 1);
    if (!out)
        return NULL;
    if (s.len)
        memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return out;
}
