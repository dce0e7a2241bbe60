/** @file
 * libgda — byte slices.
 *
 * A gda_slice points at bytes owned by someone else (a request body, a header
 * value inside a decoded event). It is not NUL-terminated; len is the length.
 * Slices are values: copy them freely, but never outlive the owner.
 *
 * Thread safety: all functions are pure.
 */
#ifndef GDA_SLICE_H
#define GDA_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <gda/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A borrowed run of bytes: pointer and length, not NUL-terminated. */
typedef struct gda_slice {
    const char *ptr; /**< may be NULL only when len == 0 */
    size_t len;      /**< number of bytes at ptr */
} gda_slice;

/** The empty slice {NULL, 0}, also what a lookup returns when it finds nothing. */
#define GDA_SLICE_NULL ((gda_slice){NULL, 0})

/** Slice over a NUL-terminated string (NULL gives the empty slice). */
static inline gda_slice gda_slice_cstr(const char *s)
{
    gda_slice out = {s, s ? strlen(s) : 0};
    return out;
}

/** Slice over len bytes at p (borrowed, not copied). */
static inline gda_slice gda_slice_make(const char *p, size_t len)
{
    gda_slice out = {p, len};
    return out;
}

/** Byte equality. Variable time: never use it on secrets (see verify.h). */
GDA_API bool gda_slice_eq(gda_slice a, gda_slice b);

/** ASCII case-insensitive equality with a C string (header names). */
GDA_API bool gda_slice_ieq(gda_slice a, const char *b);

/** Whether s is an id: 1..max_len bytes of A-Z a-z 0-9 . _ - (the ids of
 * key ring entries, callers and data keys). */
GDA_API bool gda_slice_is_id(gda_slice s, size_t max_len);

/** New NUL-terminated heap copy; the caller frees it with free(). Returns NULL
 * when memory runs out. A slice holding a NUL byte is copied whole, so check
 * memchr first when that matters. */
GDA_API char *gda_slice_dup(gda_slice s);

#ifdef __cplusplus
}
#endif

#endif /* GDA_SLICE_H */
