/* libgda tests — hex test vectors to bytes (see test_hex.h). */
#include "test_hex.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

size_t test_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    const char *end = NULL;
    assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, &end), 0);
    assert_ptr_equal(end, hex + strlen(hex)); /* nothing left undecoded */
    return n;
}
