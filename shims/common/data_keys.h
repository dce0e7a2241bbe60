/* libgda-env (private) — the data-key ring from GDA_DATA_KEYS.
 *
 * The text is `id:BASE64[,id:BASE64...]`, the first entry sealing new
 * results and every entry opening them (gda_idem_config.data_keys). Each
 * BASE64 is either the key itself (32 bytes: local use) or, through an
 * unwrap function, a wrapped key such as a KMS CiphertextBlob that the
 * caller decrypts. The plaintext keys live in one sodium_malloc block
 * (locked, guarded, read-only once built, wiped on free).
 *
 * Errors name the entry by position and id, never its value.
 *
 * Thread safety: reentrant; a ring is read-only once built.
 */
#ifndef GDA_SHIM_DATA_KEYS_H
#define GDA_SHIM_DATA_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <gda/idempotency.h>
#include <gda/status.h>

/* Longest decoded entry (a KMS CiphertextBlob of a 32-byte key is ~180). */
#define GDA_DATA_KEY_WRAPPED_MAX 1024

/* Turn the wrapped key of entry id into its 32 plaintext bytes at key_out
 * (guarded memory). Errors are the caller's (named with the entry). */
typedef gda_status (*gda_data_key_unwrap_fn)(const char *id, const uint8_t *wrapped,
                                             size_t wrapped_len,
                                             uint8_t key_out[GDA_IDEM_DATA_KEY_LEN], void *user,
                                             gda_error *err);

typedef struct gda_data_key_ring gda_data_key_ring;

/* Parse text (as read from variable var, which errors name) into a new
 * ring. unwrap NULL: every entry is the base64 of exactly 32 bytes.
 * Errors: GDA_ERR_CONFIG (empty ring, a malformed entry or id, a repeated
 * id, more than GDA_IDEM_MAX_DATA_KEYS entries, a key of the wrong size),
 * GDA_ERR_NOMEM, and whatever unwrap returns. */
gda_status gda_data_key_ring_parse(const char *var, const char *text,
                                   gda_data_key_unwrap_fn unwrap, void *unwrap_user,
                                   gda_data_key_ring **out, gda_error *err);

/* The entries, for gda_app_config.data_keys (valid while the ring lives). */
const gda_idem_data_key *gda_data_key_ring_entries(const gda_data_key_ring *ring, size_t *n);

/* Wipe and free. NULL-safe. */
void gda_data_key_ring_free(gda_data_key_ring *ring);

#endif
