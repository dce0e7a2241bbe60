/* libgda tests — the HMAC-SHA256 vectors of RFC 4231, shared by the digest
 * tests (lib/digest.h) and the hmac scheme's tests (include/gda/verify.h).
 *
 * Test cases 1, 2, 3, 4, 6 and 7; case 5 is a truncated MAC and is left out.
 * Keys and data are hex (test_hex.h decodes them); the data of every case is
 * text without a NUL byte.
 *
 * Thread safety: read-only data.
 */
#ifndef GDA_TEST_RFC4231_H
#define GDA_TEST_RFC4231_H

#include <stddef.h>

typedef struct rfc4231_case {
    const char *key_hex;
    const char *data_hex;
    const char *mac_hex; /* lower case, 64 digits */
} rfc4231_case;

extern const rfc4231_case rfc4231_cases[];
extern const size_t rfc4231_case_count;

#endif
