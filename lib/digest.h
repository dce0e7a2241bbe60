/* libgda (private) — SHA-256 and HMAC-SHA256 of request bytes.
 *
 * One place decides where hashing comes from: OpenSSL's libcrypto when the
 * build found it (it uses the CPU's SHA extensions, several times faster than
 * portable C), libsodium otherwise. Inputs are vectored so "timestamp.body"
 * can be signed without building a copy of the body. Nothing here allocates
 * or can fail: the hash state lives on the caller's stack (the request hot
 * path counts on it; tests/unit/test_hotpath_allocs.c checks it).
 *
 * Thread safety: every function is reentrant; no shared state.
 */
#ifndef GDA_DIGEST_H
#define GDA_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <gda/slice.h>

#define GDA_SHA256_LEN 32

/* SHA-256 of the concatenation of parts[0..n). */
void gda_sha256_parts(const gda_slice *parts, size_t n, uint8_t out[GDA_SHA256_LEN]);

/* SHA-256 of one buffer. */
void gda_sha256(const void *data, size_t len, uint8_t out[GDA_SHA256_LEN]);

/* HMAC-SHA256 (RFC 2104) under key of the concatenation of parts[0..n).
 * Any key length is accepted; keys longer than the block are hashed first. */
void gda_hmac_sha256_parts(const uint8_t *key, size_t key_len, const gda_slice *parts, size_t n,
                           uint8_t out[GDA_SHA256_LEN]);

/* Bytes of a gda_hmac_key: room for two hash states of either backend
 * (digest.c checks it at compile time), a multiple of 64 so that keys laid
 * out one after another in one block stay aligned. */
#define GDA_HMAC_KEY_SIZE 256

/* An HMAC-SHA256 key prepared once: the SHA-256 states after absorbing the
 * key's inner and outer padded blocks. Each MAC then starts from copies of
 * them, which saves the two key-block compressions (two of the 20 of a
 * 1 KiB MAC) and the padding work on every call. Anyone holding it can
 * compute MACs under the key, so it is key material: keep it where the key is
 * kept (sodium_malloc memory) and wipe it (sodium_memzero, sodium_free) when
 * done. Plain bytes, so it may be copied; the layout is digest.c's. */
typedef struct gda_hmac_key {
    _Alignas(16) unsigned char state[GDA_HMAC_KEY_SIZE];
} gda_hmac_key;

/* Prepare *out for key[0..key_len) (any length, as gda_hmac_sha256_parts).
 * Leaves no key material on the stack. */
void gda_hmac_sha256_key_init(gda_hmac_key *out, const uint8_t *key, size_t key_len);

/* HMAC-SHA256 under a prepared key; the same MAC as gda_hmac_sha256_parts
 * with the key *key was prepared from. *key is only read, so one prepared
 * key may serve any number of threads at once. */
void gda_hmac_sha256_prepared(const gda_hmac_key *key, const gda_slice *parts, size_t n,
                              uint8_t out[GDA_SHA256_LEN]);

/* "libcrypto" or "libsodium": which implementation this build uses. */
const char *gda_digest_backend(void);

#endif /* GDA_DIGEST_H */
