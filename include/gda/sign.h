/** @file
 * libgda — signing requests so that a gda_verifier accepts them, for every
 * scheme: for callers, signing proxies, the gda tool and tests.
 *
 * Thread safety: gda_verifier_sign may run on any number of threads at once
 * with the same verifier (and alongside its verifications and rotations);
 * a gda_signed_headers belongs to one thread at a time.
 */
#ifndef GDA_SIGN_H
#define GDA_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <gda/export.h>
#include <gda/slice.h>
#include <gda/status.h>
#include <gda/verify.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What gda_verifier_sign signs with. */
typedef struct gda_sign_params {
    /** Ring entry to sign with (token, hmac, jwt HS256; basic: the user).
     * NULL: the first secret entry. */
    const char *key_id;
    /** jwt only: sign EdDSA with this "id:ed25519-private:BASE64" text (from
     * gda_keygen_ed25519; its id becomes the "kid"). NULL: HS256. */
    const char *ed25519_private;
    size_t ed25519_private_len; /**< bytes at ed25519_private */
    int64_t now_ms;        /**< timestamp header / iat */
    /** HMAC: the method of the request the signature binds (signing string
     * v1, docs/security.md); NULL: "POST". */
    const char *method;
    /** HMAC: its path as the endpoint routes it, with "?" and the query when
     * there is one; NULL: "/genesys/dataaction". */
    const char *path;
    int64_t jwt_ttl_s;     /**< exp = iat + ttl; 0: 300 */
    const char *jwt_subject; /**< "sub"; NULL: the key id */
} gda_sign_params;

/** Most headers a signature needs (credential and timestamp). */
#define GDA_SIGNED_MAX_HEADERS 2

/** Headers to add to a request so that a verifier accepts it. */
typedef struct gda_signed_headers {
    size_t n; /**< headers in use */
    /** One header to send. */
    struct {
        char name[GDA_HEADER_NAME_MAX]; /**< header name, NUL-terminated */
        char *value; /**< heap; may be secret (token); wiped by release */
    } headers[GDA_SIGNED_MAX_HEADERS]; /**< the first n are set */
} gda_signed_headers;

/** Produce the headers a caller must send for `body` so that this verifier
 * accepts it (same header names, prefixes and iss/aud). *out is filled on
 * success; release it with gda_signed_headers_release (also harmless after a
 * failure). Errors: GDA_ERR_INTERNAL (out, v or params NULL),
 * GDA_ERR_CONFIG (unknown key id, EdDSA not allowed or a bad private key
 * text, HS256 not allowed, a negative now_ms for HMAC or JWT, a jwt_ttl_s
 * outside 1 s..1 year), GDA_ERR_NOMEM. */
GDA_API gda_status gda_verifier_sign(gda_verifier *v, const gda_sign_params *params,
                                     gda_slice body, gda_signed_headers *out, gda_error *err);

/** Wipe and free the values of *h and reset it. NULL-safe. */
GDA_API void gda_signed_headers_release(gda_signed_headers *h);

#ifdef __cplusplus
}
#endif

#endif /* GDA_SIGN_H */
