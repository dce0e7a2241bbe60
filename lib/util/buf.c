/* libgda (private, lib/util) — the growable byte buffer (see buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define FIRST_CAP 64

void gda_buf_init_storage(gda_buf *b, char *storage, size_t size)
{
    memset(b, 0, sizeof *b);
    b->data = storage;
    b->cap = size;
    storage[0] = '\0';
}

/* Release storage that is ours, wiping the bytes it held first if asked. */
static void release(gda_buf *b, char *data, size_t cap)
{
    if (!data)
        return;
    if (b->wipe)
        sodium_memzero(data, cap);
    if (b->on_heap)
        free(data);
}

bool gda_buf_reserve(gda_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    /* +1 keeps room for the terminating NUL; growth doubles, so bound the
     * total well below SIZE_MAX. */
    if (extra > SIZE_MAX / 2 - 1 - b->len) {
        b->failed = true;
        return false;
    }
    if (b->limit && extra > b->limit - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (b->data && need <= b->cap)
        return true;
    size_t cap = b->cap > FIRST_CAP ? b->cap : FIRST_CAP;
    while (cap < need)
        cap *= 2;
    if (b->limit && cap > b->limit + 1)
        cap = b->limit + 1; /* >= need, checked above */
    char *grown;
    if (b->on_heap && !b->wipe) {
        grown = realloc(b->data, cap);
    } else {
        /* From caller storage, or a secret: copy, so the old bytes can be
         * wiped and no stray copy stays behind in a freed block. */
        grown = malloc(cap);
        if (grown && b->data)
            memcpy(grown, b->data, b->len);
        if (grown)
            release(b, b->data, b->cap);
    }
    if (!grown) {
        b->failed = true;
        return false;
    }
    b->data = grown;
    b->cap = cap;
    b->on_heap = true;
    b->data[b->len] = '\0';
    return true;
}

bool gda_buf_append(gda_buf *b, const void *p, size_t n)
{
    if (!gda_buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool gda_buf_append_str(gda_buf *b, const char *s)
{
    return gda_buf_append(b, s, strlen(s));
}

bool gda_buf_append_byte(gda_buf *b, char c)
{
    return gda_buf_append(b, &c, 1);
}

bool gda_buf_printf(gda_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return false;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return false;
    }
    if ((size_t)n < sizeof small)
        return gda_buf_append(b, small, (size_t)n);
    if (!gda_buf_reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

void gda_buf_reset(gda_buf *b)
{
    b->failed = false;
    if (b->data)
        gda_buf_truncate(b, 0);
}

void gda_buf_truncate(gda_buf *b, size_t len)
{
    if (len >= b->len)
        return;
    if (b->wipe)
        sodium_memzero(b->data + len, b->len - len);
    b->len = len;
    b->data[len] = '\0';
}

/* Empty b without releasing anything, keeping its settings (wipe, limit). */
static void forget(gda_buf *b)
{
    gda_buf kept = {.wipe = b->wipe, .limit = b->limit};
    *b = kept;
}

char *gda_buf_steal(gda_buf *b, size_t *len)
{
    if (len)
        *len = 0;
    if (!gda_buf_reserve(b, 0)) {
        gda_buf_free(b);
        return NULL;
    }
    char *out = b->data;
    size_t n = b->len;
    if (!b->on_heap) {
        out = malloc(n + 1);
        if (!out) {
            gda_buf_free(b);
            return NULL;
        }
        memcpy(out, b->data, n + 1);
        release(b, b->data, b->cap);
    }
    forget(b);
    if (len)
        *len = n;
    return out;
}

void gda_buf_free(gda_buf *b)
{
    release(b, b->data, b->cap);
    forget(b);
}

bool gda_array_grow(void **items, size_t *cap, size_t used, size_t elem_size, size_t first_cap)
{
    if (used < *cap)
        return true;
    size_t next = *cap ? *cap : first_cap ? first_cap : 1;
    while (next <= used) {
        if (next > SIZE_MAX / 2)
            return false;
        next *= 2;
    }
    if (next > SIZE_MAX / elem_size)
        return false;
    void *grown = realloc(*items, next * elem_size);
    if (!grown)
        return false;
    *items = grown;
    *cap = next;
    return true;
}
