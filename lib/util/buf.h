/* libgda (private, lib/util) — a growable byte buffer (append, reserve, printf, steal, free) and array growth.
 *
 * The buffer keeps its bytes NUL-terminated once it holds any storage, so
 * text can be handed on as a C string. Failure is sticky: once growing fails
 * (out of memory, or a size that would overflow) every later append is a
 * no-op and `failed` stays set, so builders append freely and check once.
 * A buffer may start in caller storage (a stack array, not freed); it moves
 * to the heap only when it outgrows it. With `wipe` set, every byte it held
 * is zeroed before storage is released or moved (for secrets).
 *
 * Thread safety: none of its own; a buffer belongs to one thread at a time.
 */
#ifndef GDA_UTIL_BUF_H
#define GDA_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gda_buf {
    char *data;   /* NULL until the first reserve or append */
    size_t len;   /* bytes held, not counting the NUL after them */
    size_t cap;   /* bytes of storage at data */
    bool on_heap; /* data was allocated here (else caller storage or NULL) */
    bool failed;  /* sticky: growing failed once */
    bool wipe;    /* zero storage before releasing or moving it */
    /* 0: unbounded. Else the most bytes the buffer may hold: storage never
     * grows past limit + 1 (the NUL), and an append past it fails. */
    size_t limit;
} gda_buf;

/* An empty buffer on the heap (same as zero-initialising one). */
#define GDA_BUF_INIT {0}

/* Start b in the caller's storage (size >= 1 bytes), which it never frees. */
void gda_buf_init_storage(gda_buf *b, char *storage, size_t size);

/* Make room for `extra` more bytes (and the NUL). False once b has failed. */
bool gda_buf_reserve(gda_buf *b, size_t extra);

/* Append n bytes of p (p may be NULL when n is 0). False once b has failed. */
bool gda_buf_append(gda_buf *b, const void *p, size_t n);

/* Append the C string s. */
bool gda_buf_append_str(gda_buf *b, const char *s);

/* Append one byte. */
bool gda_buf_append_byte(gda_buf *b, char c);

/* Append printf-style formatted text. False (b failed) when formatting fails. */
bool gda_buf_printf(gda_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append a string literal. */
#define GDA_BUF_LIT(b, lit) gda_buf_append((b), (lit), sizeof(lit) - 1)

/* Empty b for reuse, keeping its storage, and clear `failed`. */
void gda_buf_reset(gda_buf *b);

/* Cut b back to len bytes (no-op when len >= b->len). */
void gda_buf_truncate(gda_buf *b, size_t len);

/* Hand b's bytes over as a heap string (NUL-terminated, the caller's to
 * free), its length in *len when len is not NULL; b is left empty. An empty
 * buffer yields a 1-byte "" rather than NULL. NULL (b freed) when b failed
 * or memory runs out. */
char *gda_buf_steal(gda_buf *b, size_t *len);

/* Release b's heap storage (wiped first if b->wipe) and empty it; its
 * `wipe` and `limit` settings are kept. Safe on a zeroed buffer. */
void gda_buf_free(gda_buf *b);

/* Grow the array *items (*cap elements of elem_size bytes) so it holds at
 * least one element more than `used`: doubling, from first_cap. False (the
 * array left as it was) on overflow or when memory runs out. */
bool gda_array_grow(void **items, size_t *cap, size_t used, size_t elem_size, size_t first_cap);

#endif /* GDA_UTIL_BUF_H */
