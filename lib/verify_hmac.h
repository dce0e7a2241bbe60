/* libgda (private) — the hmac-sha256 scheme: its signing string, shared by
 * verification and signing (sign.c), and its verification.
 *
 * Thread safety: reentrant; no shared state.
 */
#ifndef GDA_VERIFY_HMAC_H
#define GDA_VERIFY_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include <gda/event.h>
#include <gda/slice.h>

#include "digest.h"
#include "verify_private.h"

/* HMAC signing string v1 (docs/security.md), as slices:
 *   "gda-hmac-v1\n" METHOD "\n" PATH ["?" QUERY] "\n" TIMESTAMP "\n" HEX(SHA-256(body))
 * so a signature binds the method, the path and query, the time and the
 * body: it cannot be replayed as a poll, on another path, or with another
 * body. TIMESTAMP is empty with timestamp=off. */
#define GDA_HMAC_V1_PARTS 10
size_t gda_hmac_v1_parts(gda_slice method, gda_slice path, gda_slice query, gda_slice ts,
                         const char body_hex[2 * GDA_SHA256_LEN + 1],
                         gda_slice parts[GDA_HMAC_V1_PARTS]);

/* HEX(SHA-256(body)), lower case, NUL-terminated. */
void gda_body_hash_hex(gda_slice body, char out[2 * GDA_SHA256_LEN + 1]);

/* Verify req's MAC (and timestamp, within the replay window of now_ms)
 * against every secret of ring, in constant time; the verdict in *out. */
void gda_verify_hmac(const gda_verifier *v, const gda_keyring *ring,
                     const gda_http_request *req, int64_t now_ms, gda_verdict *out);

#endif /* GDA_VERIFY_HMAC_H */
