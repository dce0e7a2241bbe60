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

/* "libcrypto" or "libsodium": which implementation this build uses. */
const char *gda_digest_backend(void);

#endif /* GDA_DIGEST_H */
