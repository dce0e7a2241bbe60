/* libgda fuzzing — shared helpers (see fuzz_common.h). */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

/* Deterministic test keys, never used anywhere but in fuzzing: k1 and k2 are
 * fixed byte patterns, ed is the public half of a fixed Ed25519 seed. */
const char fuzz_keyring_text[] =
    "k1:AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o=,"
    "k2://z59vPw7ern5OHe29jV0s/MycbDwL26t7SxrquopaI=,"
    "ed:ed25519:T9CZzNR9eJPf6ewkQU7LDZtUICMqrTDZHEZb4zy+ZcQ=";

static void trim_cr(gda_slice *s)
{
    if (s->len > 0 && s->ptr[s->len - 1] == '\r')
        s->len--;
}

bool fuzz_http_parse(const uint8_t *data, size_t size, fuzz_http *out)
{
    memset(out, 0, sizeof *out);
    /* A private heap copy of exactly size bytes, so ASan sees any read past
     * the end of a slice. */
    out->copy = malloc(size ? size : 1);
    if (!out->copy)
        return false;
    if (size)
        memcpy(out->copy, data, size);

    const char *p = out->copy;
    const char *end = out->copy + size;
    size_t n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        gda_slice line = {p, (size_t)(line_end - p)};
        trim_cr(&line);
        p = nl ? nl + 1 : end;
        if (line.len == 0)
            break; /* blank line: the rest is the body */
        if (n == FUZZ_MAX_HEADERS) {
            fuzz_http_free(out);
            return false;
        }
        const char *colon = memchr(line.ptr, ':', line.len);
        gda_header *h = &out->headers[n++];
        if (!colon) {
            h->name = line;
            h->value = gda_slice_make(line.ptr + line.len, 0);
            continue;
        }
        h->name = gda_slice_make(line.ptr, (size_t)(colon - line.ptr));
        const char *v = colon + 1;
        if (v < line.ptr + line.len && *v == ' ')
            v++;
        h->value = gda_slice_make(v, (size_t)(line.ptr + line.len - v));
    }

    out->req.kind = GDA_EVENT_HTTP;
    out->req.method = gda_slice_cstr("POST");
    out->req.path = gda_slice_cstr("/genesys/dataaction");
    out->req.headers = out->headers;
    out->req.n_headers = n;
    out->req.body = gda_slice_make(p, (size_t)(end - p));
    return true;
}

void fuzz_http_free(fuzz_http *h)
{
    if (!h)
        return;
    free(h->copy);
    memset(h, 0, sizeof *h);
}

bool fuzz_error_consistent(gda_status st, const gda_error *err)
{
    if (!memchr(err->field, '\0', sizeof err->field) ||
        !memchr(err->message, '\0', sizeof err->message))
        return false;
    if (st == GDA_OK)
        return true;
    return err->code == st && err->message[0] != '\0';
}
