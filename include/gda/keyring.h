/** @file
 * libgda — key rings: named secrets and Ed25519 public keys, parsed once,
 * shared by reference, wiped when the last reference goes; and key
 * generation.
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
 * ignored, so a key file may end with a newline. An id may name its caller,
 * `caller/id:BASE64`: results belong to the caller, so rotating its keys
 * keeps them readable.
 *
 * The verifiers that use a ring are in gda/verify.h.
 *
 * Thread safety: a gda_keyring is immutable after parsing and reference
 * counted (atomically), so it may be shared between threads and verifiers.
 * The keygen functions are reentrant.
 */
#ifndef GDA_KEYRING_H
#define GDA_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/export.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GDA_KEY_ID_MAX 64          /**< longest entry id */
#define GDA_KEYRING_MAX_ENTRIES 32 /**< more is a configuration mistake */
#define GDA_KEY_MAX_BYTES 512      /**< longest decoded secret */
#define GDA_KEY_MIN_SECRET_BYTES 16 /**< shortest secret a key ring accepts */

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
 * (for gda_sign_params.ed25519_private, gda/sign.h; never put it in a key
 * ring, the parser refuses it) and *public_out = "id:ed25519:BASE64(public
 * key)" (a key ring entry). Both heap strings; free with gda_secret_free. Errors as
 * gda_keygen_secret. */
GDA_API gda_status gda_keygen_ed25519(const char *id, char **private_out, char **public_out,
                                      gda_error *err);

/** Wipe and free a NUL-terminated string this module returned. NULL-safe. */
GDA_API void gda_secret_free(char *s);

#ifdef __cplusplus
}
#endif

#endif /* GDA_KEYRING_H */
