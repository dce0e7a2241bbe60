/* Test allocator hook: counts heap allocations made by the calling thread.
 *
 * Linking tests/bench/alloc_count.c into a program replaces malloc, calloc,
 * realloc, free and the aligned allocators with thin wrappers around glibc's
 * own (__libc_malloc and friends), so every allocation in the process is
 * seen: libgda, jansson, libcrypto and libsodium alike. The counters are
 * per thread, so a benchmark or test counts only the work it runs itself.
 *
 * Only for glibc, and not under AddressSanitizer (which owns malloc itself);
 * alloc_count_available() says whether the hook is live.
 *
 * Thread safety: each thread has its own counters.
 */
#ifndef GDA_TEST_ALLOC_COUNT_H
#define GDA_TEST_ALLOC_COUNT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct alloc_counts {
    size_t allocs;  /* malloc, calloc, aligned allocations, realloc of NULL */
    size_t reallocs; /* realloc of an existing block (a resize) */
    size_t frees;   /* free of a non-NULL pointer */
    size_t bytes;   /* bytes requested by allocs and reallocs */
} alloc_counts;

/* True when the wrappers are compiled in and really receive this process's
 * malloc calls. */
bool alloc_count_available(void);

/* Zero the calling thread's counters. */
void alloc_count_reset(void);

/* The calling thread's counters since its last reset. */
alloc_counts alloc_count_get(void);

#endif /* GDA_TEST_ALLOC_COUNT_H */
