/* libgda-env (private) — GDA_DATA_KEY_SOURCE=kms: every GDA_DATA_KEYS entry
 * is a KMS CiphertextBlob, decrypted once at start-up (AWS KMS Decrypt with
 * the context {"libgda":"data-key","keyId":ID}) into the data-key ring.
 *
 *   AWS_REGION (else AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID, ...  as for
 *                          every AWS call of the shims
 *   GDA_KMS_ENDPOINT       endpoint override (a VPC endpoint's URL); default
 *                          https://kms.REGION.amazonaws.com
 *   GDA_KMS_KEY_ARN        optional: the KMS key every entry must be under
 *   GDA_KMS_TIMEOUT_MS     budget of the whole start-up pass (all entries,
 *                          retries included); default 3000
 *
 * GDA_HASH_KEY is then a KMS CiphertextBlob too (context
 * {"libgda":"hash-key"}), decrypted in the same pass: no key material sits
 * in the function's configuration, and the hash key, which must not change
 * when the data keys rotate, has a ciphertext of its own.
 *
 * A refusal names the entry and the KMS error type, never a value.
 */
#ifndef GDA_SHIM_KMS_RING_H
#define GDA_SHIM_KMS_RING_H

#include <stdint.h>

#include <gda/status.h>

#include "data_keys.h"

/* The settings, which env.c reads from the variables above. */
typedef struct gda_kms_settings {
    const char *region;   /* required */
    const char *endpoint; /* NULL: https://kms.REGION.amazonaws.com */
    const char *key_arn;  /* NULL: any key */
    int64_t timeout_ms;   /* the whole pass, retries included */
} gda_kms_settings;

#define GDA_KMS_DEFAULT_TIMEOUT_MS 3000
#define GDA_KMS_MAX_TIMEOUT_MS 60000

/* Decrypt ring_text (GDA_DATA_KEYS) into a new ring and hash_text
 * (GDA_HASH_KEY, base64 of a CiphertextBlob) into *hash_key_out (32 bytes of
 * sodium_malloc memory: sodium_free it). Credentials come from the process
 * environment (AWS_ACCESS_KEY_ID, ...). Nothing is returned on failure.
 * Errors: GDA_ERR_CONFIG (no region or credentials, a malformed entry, KMS
 * refusing one), GDA_ERR_UNAVAILABLE (KMS throttled or failing past the
 * retries), GDA_ERR_TIMEOUT (past timeout_ms), GDA_ERR_NOMEM. */
gda_status gda_kms_keys_load(const gda_kms_settings *settings, const char *ring_text,
                             const char *hash_text, gda_data_key_ring **ring_out,
                             uint8_t **hash_key_out, gda_error *err);

#endif
