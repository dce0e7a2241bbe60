/** @file
 * libgda — request authentication: verifiers for the token, HMAC-SHA256,
 * JWT and Basic schemes over a key ring (gda/keyring.h). Signing requests
 * so that a verifier accepts them is in gda/sign.h, the API Gateway
 * authorizer answer in gda/authorizer.h.
 *
 * Schemes (gda_auth_scheme):
 * @verbatim
 *   token        a header (default X-Genesys-Signature) carries the base64
 *                text of a secret exactly as pasted into the Genesys "User
 *                Defined" credential; it matches when it decodes to the bytes
 *                of any entry. When the header is Authorization the value
 *                must read "Bearer <base64>". The documented default, because
 *                it is what Genesys can really produce.
 *   hmac-sha256  a header (default X-Genesys-Signature) carries HMAC-SHA256 of
 *                the raw body as 64 hex digits, "sha256=<hex>", or base64.
 *                With a timestamp header (default X-Genesys-Timestamp, epoch
 *                seconds) the MAC covers timestamp + "." + body and the
 *                timestamp must lie within the replay window (default 300 s)
 *                of now, in the past or the future. The window bounds replay;
 *                true exactly-once comes from the idempotency layer.
 *   jwt          Authorization: Bearer <compact JWS>, HS256 (ring secrets) or
 *                EdDSA (ring ed25519 entries); an algorithm allow-list;
 *                "none", unknown algorithms and "crit" are refused; exp (required
 *                by default), nbf and iat checked with a leeway; optional
 *                iss and aud (aud may be a string or an array); strict
 *                base64url; bounded sizes; a "kid" selects the entry.
 *   basic        Authorization: Basic base64(user ":" password). The user is a
 *                ring id and the password is that entry's base64 text (as for
 *                token), matching Genesys' "Basic Auth" credential type.
 * @endverbatim
 *
 * Every comparison of secret material is constant time and runs over every
 * ring entry with no early exit, so timing reveals neither which entry
 * matched nor how much of a guess was right. A refusal is always
 * GDA_ERR_UNAUTHORIZED with a generic message; the reason class
 * (gda_auth_reason) is for the caller's log only. A repeated credential
 * header is refused as ambiguous.
 *
 * Time comes in as epoch milliseconds; nothing here reads a clock.
 *
 * Thread safety: a gda_verifier may be used by any number of threads at
 * once, including while another thread calls gda_verifier_set_keyring():
 * each verification takes a reference to the ring current when it starts
 * and finishes with it, so a rotation never fails an in-flight request. Only gda_verifier_free()
 * must not race with other calls on the same verifier.
 */
#ifndef GDA_VERIFY_H
#define GDA_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/event.h>
#include <gda/export.h>
#include <gda/keyring.h>
#include <gda/slice.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GDA_JWT_HS256_MIN_KEY_BYTES 32 /**< shortest HS256 key a jwt verifier accepts (RFC 7518 3.2) */

/** How a verifier authenticates requests (see the top of this file). */
typedef enum gda_auth_scheme {
    GDA_AUTH_TOKEN = 1,       /**< shared-secret header, the Genesys default */
    GDA_AUTH_HMAC_SHA256 = 2, /**< HMAC-SHA256 of the raw body, optionally timestamped */
    GDA_AUTH_JWT = 3,         /**< Bearer JWT, HS256 or EdDSA */
    GDA_AUTH_BASIC = 4        /**< HTTP Basic: ring id and entry text */
} gda_auth_scheme;

/** "token", "hmac-sha256", "jwt", "basic" ("unknown" otherwise). */
GDA_API const char *gda_auth_scheme_str(gda_auth_scheme scheme);

/** Scheme by name (also accepts "hmac"); false when unknown. */
GDA_API bool gda_auth_scheme_parse(const char *name, gda_auth_scheme *out);

/** Why a request was refused. Log it; never show it to the caller. */
typedef enum gda_auth_reason {
    GDA_AUTH_ACCEPTED = 0,  /**< verified: not a refusal */
    GDA_AUTH_MISSING = 1,   /**< credential (or timestamp) header absent */
    GDA_AUTH_MALFORMED = 2, /**< unparseable: bad encoding, size, non-ASCII, bad JSON, claim types */
    GDA_AUTH_MISMATCH = 3,  /**< well formed but no entry matches (or iss/aud wrong) */
    GDA_AUTH_EXPIRED = 4,   /**< JWT exp passed, nbf not reached, iat in the future */
    GDA_AUTH_REPLAYED = 5,  /**< HMAC timestamp outside the replay window */
    GDA_AUTH_AMBIGUOUS = 6, /**< credential or timestamp header repeated */
    GDA_AUTH_ALGORITHM = 7, /**< JWT alg none, unknown, or not allowed */
    /** HMAC without a timestamp (timestamp=off) on a poll: such a signature
     * never expires, so a captured one would read the result forever */
    GDA_AUTH_UNBOUND = 8,
    GDA_AUTH_LIFETIME = 9   /**< JWT exp further out than jwt_max_lifetime_s */
} gda_auth_reason;

/** "accepted", "missing", "malformed", "mismatch", "expired", "replayed",
 * "ambiguous", "algorithm", "unbound", "lifetime" ("unknown" otherwise). */
GDA_API const char *gda_auth_reason_str(gda_auth_reason reason);

/** JWT algorithm allow-list bits. */
#define GDA_JWT_HS256 0x1u /**< allow HS256 (ring secrets) */
#define GDA_JWT_EDDSA 0x2u /**< allow EdDSA (ring ed25519 entries) */

/** Longest header name a verifier or signer uses, including the NUL. */
#define GDA_HEADER_NAME_MAX 64

/** Verifier settings; start from gda_verifier_options_default. */
typedef struct gda_verifier_options {
    gda_auth_scheme scheme;       /**< the scheme to verify */
    /** Credential header; NULL: X-Genesys-Signature (token, hmac) or
     * Authorization (jwt, basic). Copied. */
    const char *header;
    /** hmac: bind the MAC to a timestamp header (default true). */
    bool hmac_timestamp;
    const char *timestamp_header; /**< NULL: X-Genesys-Timestamp. Copied. */
    int64_t replay_window_s;      /**< hmac; default 300, must be 1..86400 */
    /* jwt */
    unsigned jwt_algs;            /**< allow-list bits; 0 is refused */
    int64_t jwt_leeway_s;         /**< default 60, 0..3600 */
    bool jwt_require_exp;         /**< default true */
    /** Longest JWT lifetime accepted (exp - iat, or exp - now without iat),
     * seconds; default 3600, 1..31622400 (a year). */
    int64_t jwt_max_lifetime_s;
    const char *jwt_issuer;       /**< NULL: not checked. Copied. */
    const char *jwt_audience;     /**< NULL: not checked. Copied. */
} gda_verifier_options;

/** Options with the defaults above for `scheme` (jwt_algs: HS256 | EdDSA). */
GDA_API gda_verifier_options gda_verifier_options_default(gda_auth_scheme scheme);

/** Opaque verifier: one scheme, its options and the current key ring. */
typedef struct gda_verifier gda_verifier;

/** Size of gda_auth_result.principal, including the NUL. */
#define GDA_AUTH_PRINCIPAL_MAX 128

/** Outcome of one verification, for the caller's log (never the credential). */
typedef struct gda_auth_result {
    gda_auth_reason reason; /**< why it was refused, or GDA_AUTH_ACCEPTED */
    gda_auth_scheme scheme; /**< the verifier's scheme */
    char key_id[GDA_KEY_ID_MAX + 1];          /**< matched entry id; "" when refused */
    /** The caller the matched entry names ("caller/id:…" in the ring, else
     * its id): who owns the results, the same across a rotation of its
     * keys; "" when refused. */
    char caller[GDA_KEY_ID_MAX + 1];
    char principal[GDA_AUTH_PRINCIPAL_MAX];   /**< jwt "sub" if printable, basic user,
                                                 else the key id; "" when refused */
} gda_auth_result;

/** New verifier with options *opt and key ring `ring`. On success the verifier
 * takes over the caller's reference to ring, and so does a failure, which
 * releases it (take another with gda_keyring_ref to keep using the ring).
 * Errors: GDA_ERR_CONFIG (unknown scheme, bad header name, out-of-range
 * window/leeway, empty alg list, a ring with no entry the scheme can use),
 * GDA_ERR_NOMEM, GDA_ERR_INTERNAL. */
GDA_API gda_status gda_verifier_new(const gda_verifier_options *opt, gda_keyring *ring,
                                    gda_verifier **out, gda_error *err);

/** Convenience for shims that are configured by strings (environment):
 *   scheme:   "token" | "hmac-sha256" | "hmac" | "jwt" | "basic"
 *   keyring:  key ring text of keyring_len bytes (see the top of this file)
 *   options:  NULL/"" or "name=value;name=value", names:
 *             header, timestamp (on|off), timestamp_header, window (s),
 *             leeway (s), algs (HS256,EdDSA), require_exp (on|off), iss, aud
 * The ring is parsed here and owned by the verifier. Errors: GDA_ERR_CONFIG
 * naming the bad option or key ring entry, GDA_ERR_NOMEM, GDA_ERR_INTERNAL. */
GDA_API gda_status gda_verifier_new_from_config(const char *scheme, const char *keyring,
                                                size_t keyring_len, const char *options,
                                                gda_verifier **out, gda_error *err);

/** Free the verifier and drop its ring reference. NULL-safe. Must not race
 * with other calls on the same verifier. */
GDA_API void gda_verifier_free(gda_verifier *v);

/** Rotate: replace the verifier's ring with `ring` atomically, taking over the
 * caller's reference on success (the old ring is released once the last
 * in-flight verification using it ends). Safe while other threads verify.
 * Errors: GDA_ERR_CONFIG when the ring has no entry the scheme can use (the
 * verifier keeps its old ring and the caller keeps `ring`). */
GDA_API gda_status gda_verifier_set_keyring(gda_verifier *v, gda_keyring *ring, gda_error *err);

/** The verifier's scheme. */
GDA_API gda_auth_scheme gda_verifier_scheme(const gda_verifier *v);

/** Authenticate req at time now_ms (epoch milliseconds). result (optional)
 * receives the reason and, on success, the matched key id and principal.
 * Returns GDA_OK, or GDA_ERR_UNAUTHORIZED with the generic message
 * "unauthorized" in err for every refusal; GDA_ERR_NOMEM; GDA_ERR_INTERNAL
 * for NULL arguments. Never logs. */
GDA_API gda_status gda_verifier_verify(gda_verifier *v, const gda_http_request *req,
                                       int64_t now_ms, gda_auth_result *result, gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_VERIFY_H */
