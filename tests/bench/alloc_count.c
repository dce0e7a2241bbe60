/* Test allocator hook (see alloc_count.h). glibc documents replacing malloc
 * by defining malloc, free, calloc and realloc (and optionally the aligned
 * variants) in the program; forwarding to __libc_* keeps glibc's allocator,
 * so blocks from either side may be freed by the other. */
#include "alloc_count.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_COUNT_HOOK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define ALLOC_COUNT_HOOK 0
#endif
#endif
#if !defined(ALLOC_COUNT_HOOK) && defined(__GLIBC__)
#define ALLOC_COUNT_HOOK 1
#endif
#ifndef ALLOC_COUNT_HOOK
#define ALLOC_COUNT_HOOK 0
#endif

static _Thread_local alloc_counts counts;

#if ALLOC_COUNT_HOOK
/* glibc's allocator under its internal names (exported, not declared). */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *p);

static void note_alloc(size_t size)
{
    counts.allocs++;
    counts.bytes += size;
}

void *malloc(size_t size)
{
    note_alloc(size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    note_alloc(n && size <= SIZE_MAX / n ? n * size : 0);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    if (p) {
        counts.reallocs++;
        counts.bytes += size;
    } else {
        note_alloc(size);
    }
    return __libc_realloc(p, size);
}

void free(void *p)
{
    if (p)
        counts.frees++;
    __libc_free(p);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    note_alloc(size);
    return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size)
{
    note_alloc(size);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    note_alloc(size);
    void *p = __libc_memalign(alignment, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

bool alloc_count_available(void)
{
    /* Prove the wrapper is the malloc in use: a preloaded allocator or a
     * static link could bypass it. */
    alloc_counts before = counts;
    void *volatile p = malloc(1);
    free(p);
    bool live = counts.allocs == before.allocs + 1;
    counts = before;
    return live;
}
#else
bool alloc_count_available(void) { return false; }
#endif

void alloc_count_reset(void)
{
    alloc_counts zero = {0, 0, 0, 0};
    counts = zero;
}

alloc_counts alloc_count_get(void) { return counts; }
