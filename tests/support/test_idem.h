/* Test support: stand-ins for the engine's keyed digests, for tests that
 * drive gda_idem directly and only need distinct, stable values (the keyed
 * functions themselves are tested in tests/unit/test_idempotency.c). */
#ifndef GDA_TEST_IDEM_H
#define GDA_TEST_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include <gda/store.h>

/* One principal for every begin and lookup of a test that has only one. */
static const uint8_t test_principal[GDA_PRINCIPAL_DIGEST_LEN] = {'t', 'e', 's', 't'};
#define TEST_PRINCIPAL test_principal

/* A payload hash for data: its SHA-256 (distinct payloads, distinct hashes). */
static inline void test_payload_hash(const void *data, size_t len,
                                     uint8_t out[GDA_PAYLOAD_HASH_LEN])
{
    crypto_hash_sha256(out, len ? (const unsigned char *)data : (const unsigned char *)"",
                       len);
}

#endif /* GDA_TEST_IDEM_H */
