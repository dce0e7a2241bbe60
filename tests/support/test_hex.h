/* libgda tests — hex test vectors to bytes, for cmocka programs.
 *
 * Thread safety: reentrant.
 */
#ifndef GDA_TEST_HEX_H
#define GDA_TEST_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the hex string into out (room for cap bytes) and returns the byte
 * count; fails the running cmocka test on a non-hex character, an odd length
 * or more than cap bytes. */
size_t test_unhex(const char *hex, uint8_t *out, size_t cap);

#endif
