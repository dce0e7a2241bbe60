/** @file
 * libgda — request authentication: key rings, verifiers, signers and API
 * Gateway authorizer policies.
 *
 * Key ring format (one format everywhere: environment variable, file, or a
 * Secrets Manager string):
 *
 *     id:BASE64[,id:BASE64...]
 *
 * Each BASE64 is the standard-alphabet base64 (padding optional) of a
 * secret's bytes; `gda keygen` makes 32 random bytes. Ids are 1-64 characters
 * of [A-Za-z0-9._-] and are what logs show; values never appear in a log or an
 * error message. Ed25519 *public* keys for JWT EdDSA use a typed entry,
 * `id:ed25519:BASE64` (32 bytes), and may sit in the same ring as secrets:
 * every entry has a type and a key is only ever used for its own algorithm,
 * which is what rules out algorithm confusion. Whitespace around entries is
 * ignored, so a key file may end with a newline.
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
 * Thread safety: a gda_keyring is immutable after parsing and reference
 * counted (atomically), so it may be shared between threads and verifiers.
 * A gda_verifier may be used by any number of threads at once, including
 * while another thread calls gda_verifier_set_keyring(): each verification
 * takes a reference to the ring current when it starts and finishes with it,
 * so a rotation never fails an in-flight request. Only gda_verifier_free()
 * must not race with other calls on the same verifier.
 */
#ifndef GDA_VERIFY_H
#define GDA_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/event.h>
#include <gda/export.h>
#include <gda/slice.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- key ring ---------------------------------------------------------- */

#define GDA_KEY_ID_MAX 64          /**< longest entry id */
#define GDA_KEYRING_MAX_ENTRIES 32 /**< more is a configuration mistake */
#define GDA_KEY_MAX_BYTES 512      /**< longest decoded secret */
#define GDA_KEY_MIN_SECRET_BYTES 16 /**< shortest secret a key ring accepts */
#define GDA_JWT_HS256_MIN_KEY_BYTES 32 /**< shortest HS256 key a jwt verifier accepts (RFC 7518 3.2) */

/** What a key ring entry holds, and so which algorithms may use it. */
typedef enum gda_key_type {
    GDA_KEY_SECRET = 0,        /**< shared secret: token, HMAC, JWT HS256, Basic */
    GDA_KEY_ED25519_PUBLIC = 1 /**< Ed25519 public key: JWT EdDSA only */
} gda_key_type;

/** Opaque, immutable, reference-counted set of named keys (gda_keyring_parse). */
typedef struct gda_keyring gda_keyring;

/** Parse a key ring from config[0..len) (need not be NUL-terminated) into a
 * new ring with one reference, owned by the caller (gda_keyring_free).
 * Decoded key bytes live in libsodium guarded memory, read-only once parsed,
 * and are wiped when the last reference goes.
 * Errors: GDA_ERR_CONFIG (empty ring, empty entry, missing ':', bad id,
 * duplicate id, empty or invalid base64, wrong Ed25519 key length, a private
 * key, too many entries, value too long) — the message names the entry by
 * position and, when readable, id, and never contains a value;
 * GDA_ERR_NOMEM; GDA_ERR_INTERNAL when libsodium cannot initialise. */
GDA_API gda_status gda_keyring_parse(const char *config, size_t len, gda_keyring **out,
                                     gda_error *err);

/** Take another reference (returns ring; NULL-safe). */
GDA_API gda_keyring *gda_keyring_ref(gda_keyring *ring);

/** Drop a reference; the last one wipes and frees the ring. NULL-safe. */
GDA_API void gda_keyring_free(gda_keyring *ring);

/** Number of entries, in config order. */
GDA_API size_t gda_keyring_size(const gda_keyring *ring);

/** Id of entry i (borrowed, lives as long as the ring), NULL when out of range. */
GDA_API const char *gda_keyring_id(const gda_keyring *ring, size_t i);

/** Type of entry i (GDA_KEY_SECRET when out of range). */
GDA_API gda_key_type gda_keyring_type(const gda_keyring *ring, size_t i);

/** New key ring entry "id:BASE64" of 32 random bytes (randombytes_buf) as a
 * heap string in *entry_out; free it with gda_secret_free. id NULL means
 * "k1". Errors: GDA_ERR_CONFIG (bad id), GDA_ERR_NOMEM, GDA_ERR_INTERNAL. */
GDA_API gda_status gda_keygen_secret(const char *id, char **entry_out, gda_error *err);

/** New Ed25519 key pair: *private_out = "id:ed25519-private:BASE64(seed)"
 * (for gda_sign_params.ed25519_private; never put it in a key ring, the
 * parser refuses it) and *public_out = "id:ed25519:BASE64(public key)" (a
 * key ring entry). Both heap strings; free with gda_secret_free. Errors as
 * gda_keygen_secret. */
GDA_API gda_status gda_keygen_ed25519(const char *id, char **private_out, char **public_out,
                                      gda_error *err);

/** Wipe and free a NUL-terminated string this module returned. NULL-safe. */
GDA_API void gda_secret_free(char *s);

/* ---- verifier ---------------------------------------------------------- */

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
 * takes over the caller's reference to ring (take another with
 * gda_keyring_ref to keep using it); on failure the caller keeps it.
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

/* ---- signing (callers, signing proxies, the gda tool, tests) ----------- */

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
 * failure). Errors: GDA_ERR_CONFIG (unknown key id, EdDSA not allowed or a
 * bad private key text, HS256 not allowed), GDA_ERR_NOMEM. */
GDA_API gda_status gda_verifier_sign(gda_verifier *v, const gda_sign_params *params,
                                     gda_slice body, gda_signed_headers *out, gda_error *err);

/** Wipe and free the values of *h and reset it. NULL-safe. */
GDA_API void gda_signed_headers_release(gda_signed_headers *h);

/* ---- API Gateway Lambda authorizer ------------------------------------- */

/** Answer an API Gateway Lambda authorizer event (TOKEN or REQUEST type)
 * with the IAM policy response:
 * @verbatim
 *   {"principalId":"…","policyDocument":{"Version":"2012-10-17","Statement":
 *    [{"Action":"execute-api:Invoke","Effect":"Allow"|"Deny",
 *      "Resource":"<the event's exact methodArn>"}]},
 *    "context":{"keyId":"…","scheme":"…"}}
 * @endverbatim
 * The Allow is scoped to exactly the method ARN that was asked for, never a
 * wildcard or a whole stage; anything that is not a positive verification is a Deny
 * of that same ARN.
 *
 * An authorizer never sees the request body, so only the token and jwt
 * schemes can run here; body HMACs (and Basic) are verified in the function
 * itself with gda_verifier_verify. For TOKEN events the authorizationToken
 * is checked as the value of the verifier's header; for REQUEST events the
 * event's headers (and multiValueHeaders) are used.
 *
 * Returns GDA_OK with an Allow policy, or GDA_ERR_UNAUTHORIZED with a Deny
 * policy (both in *out_json, a heap string of *out_len bytes; free()).
 * result (optional) as for gda_verifier_verify. Errors with no policy
 * (*out_json NULL, the shim must fail the invocation, which API Gateway
 * treats as a refusal): GDA_ERR_CONFIG (scheme not usable in an authorizer),
 * GDA_ERR_INVALID_REQUEST (not JSON, unknown type, methodArn missing, not an
 * execute-api ARN, or holding a wildcard), GDA_ERR_NOMEM. */
GDA_API gda_status gda_authorizer_respond(gda_verifier *v, const char *event_json,
                                          size_t event_len, int64_t now_ms, char **out_json,
                                          size_t *out_len, gda_auth_result *result,
                                          gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_VERIFY_H */
