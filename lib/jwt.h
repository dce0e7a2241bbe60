/* libgda (private) — compact JWS / JWT pieces used by verify.c and sign.c.
 *
 * Parsing is strict on purpose: exactly three base64url segments with no
 * padding and canonical trailing bits, bounded sizes, JSON objects without
 * duplicate keys, and a header whose "alg" must be on the caller's allow-list.
 * Key selection and the constant-time comparison across a key ring stay in
 * verify.c (gda_keyring_match); this file only knows one key at a time.
 *
 * Thread safety: every function is reentrant; no shared state.
 */
#ifndef GDA_JWT_H
#define GDA_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <gda/slice.h>
#include <gda/status.h>
#include <gda/verify.h>

#include "digest.h"

#define GDA_JWT_MAX_TOKEN 8192 /* whole compact token */
#define GDA_JWT_MAX_HEADER 1024 /* decoded protected header */
#define GDA_JWT_MAX_SIG 64     /* Ed25519; HS256 is 32 */

typedef struct gda_jws {
    gda_slice signing_input;  /* "header.payload", pointing into the token */
    char *header;             /* decoded protected header (heap, NUL-terminated) */
    size_t header_len;
    char *payload;            /* decoded payload (heap, NUL-terminated) */
    size_t payload_len;
    uint8_t sig[GDA_JWT_MAX_SIG];
    size_t sig_len;           /* may be 0 (an "alg":"none" token) */
} gda_jws;

/* Split and decode token. GDA_OK; GDA_ERR_INVALID_REQUEST when malformed
 * (size, segment count, base64url, a signature longer than 64 bytes);
 * GDA_ERR_NOMEM. *out needs gda_jws_release either way. */
gda_status gda_jws_parse(gda_slice token, gda_jws *out);

void gda_jws_release(gda_jws *jws);

/* What the protected header says. */
typedef struct gda_jws_header {
    unsigned alg;                     /* GDA_JWT_HS256 or GDA_JWT_EDDSA */
    bool has_kid;
    char kid[GDA_KEY_ID_MAX + 1];
} gda_jws_header;

/* Check the protected header against the allow-list `allowed`:
 * GDA_AUTH_ACCEPTED, GDA_AUTH_MALFORMED (not a JSON object, bad typ/kid,
 * "crit" present) or GDA_AUTH_ALGORITHM (alg missing, "none", unknown, or not
 * allowed). */
gda_auth_reason gda_jws_read_header(const gda_jws *jws, unsigned allowed, gda_jws_header *out);

/* Constant-time HS256 check of the signature under a key prepared once with
 * gda_hmac_sha256_key_init (the key ring prepares every secret when it
 * loads, so no request pays for the key schedule). */
bool gda_jws_check_hs256(const gda_jws *jws, const gda_hmac_key *key);

/* Ed25519 check of the signature under a 32-byte public key. */
bool gda_jws_check_eddsa(const gda_jws *jws, const uint8_t *public_key);

typedef struct gda_jwt_policy {
    int64_t leeway_s;
    bool require_exp;
    int64_t max_lifetime_s; /* exp - iat (exp - now without iat) at most this; 0: unchecked */
    const char *issuer;   /* NULL: not checked */
    const char *audience; /* NULL: not checked */
} gda_jwt_policy;

/* Check the claims (jws->payload) at now_ms: GDA_AUTH_ACCEPTED,
 * GDA_AUTH_MALFORMED (not an object, duplicate keys, a time claim that is not
 * a number, exp missing while required), GDA_AUTH_EXPIRED (now >= exp +
 * leeway, now < nbf - leeway, iat > now + leeway), GDA_AUTH_LIFETIME (exp
 * further out than max_lifetime_s) or GDA_AUTH_MISMATCH (iss
 * or aud differ). When accepted and subject is not NULL, copies a printable
 * ASCII "sub" shorter than subject_size into subject (else leaves ""). */
gda_auth_reason gda_jwt_check_claims(const gda_jws *jws, const gda_jwt_policy *policy,
                                     int64_t now_ms, char *subject, size_t subject_size);

/* Compact JWS of header_json and payload under alg (GDA_JWT_HS256 with any
 * key length, GDA_JWT_EDDSA with a 64-byte libsodium secret key). *out is a
 * heap string (free()). GDA_ERR_CONFIG on a bad alg/key length, GDA_ERR_NOMEM. */
gda_status gda_jws_sign(unsigned alg, const uint8_t *key, size_t key_len, gda_slice header_json,
                        gda_slice payload, char **out);

/* base64url without padding of in[0..len) as a new heap string, NULL on
 * allocation failure. */
char *gda_b64url_encode(const void *in, size_t len);

#endif /* GDA_JWT_H */
