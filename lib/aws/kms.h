/* libgda (private, lib/aws) — AWS KMS Decrypt and GenerateDataKey, for
 * envelope encryption of cached results: the data keys live in the ring as
 * KMS ciphertext and are unwrapped once per container.
 *
 * JSON-protocol calls (X-Amz-Target TrentService.<Operation>, SigV4 service
 * "kms", application/x-amz-json-1.1) over gda_aws_client, so they inherit its
 * keep-alive, bounded retries with full-jitter backoff and the whole-call
 * deadline. Plaintext data keys are written straight into the caller's
 * buffer (meant to be sodium_malloc memory); the copies this module makes on
 * the way (response body, the JSON string jansson decoded) are wiped before
 * they are freed. Error messages name the KMS error type, never key
 * material or ciphertext.
 *
 * Every data key of this project is bound to the encryption context
 * {"libgda":"data-key","keyId":ID}, ID being its ring entry id, so a blob
 * moved to another entry (or used by another application under the same
 * master key) does not decrypt; gda_kms_data_key_context builds it.
 *
 * Thread safety: a client may be shared by threads (gda_aws_client is).
 */
#ifndef GDA_AWS_KMS_H
#define GDA_AWS_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/status.h>

#include "aws_client.h"
#include "aws_credentials.h"

/* An AES-256 data key (KeySpec AES_256), which is also the key size of
 * libsodium's AEADs. */
#define GDA_KMS_DATA_KEY_BYTES 32
/* KMS accepts CiphertextBlob values of at most 6144 bytes. */
#define GDA_KMS_CIPHERTEXT_MAX 6144
/* Pairs in the data-key encryption context. */
#define GDA_KMS_DATA_KEY_CONTEXT_PAIRS 2

/* A KMS client is an AWS client set up for KMS (gda_kms_new). */
typedef gda_aws_client gda_kms;

/* One name/value pair of an encryption context (the strings are borrowed). */
typedef struct gda_kms_context_pair {
    const char *name;
    const char *value;
} gda_kms_context_pair;

/* Fill out with {"libgda":"data-key","keyId":ring_id}; ring_id is borrowed. */
void gda_kms_data_key_context(const char *ring_id,
                              gda_kms_context_pair out[GDA_KMS_DATA_KEY_CONTEXT_PAIRS]);

/* Pairs in the hash-key encryption context. */
#define GDA_KMS_HASH_KEY_CONTEXT_PAIRS 1

/* Fill out with {"libgda":"hash-key"}: the payload hash key's ciphertext
 * (GDA_HASH_KEY with GDA_DATA_KEY_SOURCE=kms), which never rotates. */
void gda_kms_hash_key_context(gda_kms_context_pair out[GDA_KMS_HASH_KEY_CONTEXT_PAIRS]);

/* New client for region (required) at endpoint (NULL or "":
 * https://kms.<region>.amazonaws.com; a VPC endpoint's URL otherwise).
 * Takes over creds on success (the caller keeps them on failure).
 * timeout_ms bounds one call when it has no deadline (0: 3000).
 * Errors: GDA_ERR_CONFIG (no region, no credentials, negative timeout),
 * GDA_ERR_NOMEM. */
gda_status gda_kms_new(const char *region, const char *endpoint, gda_aws_credentials *creds,
                       int64_t timeout_ms, gda_kms **out, gda_error *err);

/* Free the client and its credentials. NULL-safe. */
void gda_kms_free(gda_kms *kms);

/* Decrypt(blob[0..blob_len), context of n_context pairs) → the 32-byte data
 * key in plaintext_out. key_id (an ARN, or NULL) pins the master key: a blob
 * of another key fails with IncorrectKeyException instead of decrypting.
 * deadline_ms: epoch ms, 0 for the client's timeout. plaintext_out is
 * written only on success (and wiped on every failure).
 * Errors: GDA_ERR_CONFIG (KMS refused: AccessDenied, InvalidCiphertext — a
 * wrong context or a damaged blob —, IncorrectKey, NotFound, Disabled,
 * KMSInvalidState, a bad signature…, named by its error type; or a
 * plaintext that is not 32 bytes), GDA_ERR_UNAVAILABLE (throttled or
 * failing past the retries), GDA_ERR_TIMEOUT, GDA_ERR_NOMEM. */
gda_status gda_kms_decrypt(gda_kms *kms, const uint8_t *blob, size_t blob_len,
                           const gda_kms_context_pair *context, size_t n_context,
                           const char *key_id, int64_t deadline_ms,
                           uint8_t plaintext_out[GDA_KMS_DATA_KEY_BYTES], gda_error *err);

/* GenerateDataKey(key_id: ARN or "alias/…", KeySpec AES_256, context) → the
 * new data key in plaintext_out (as above) and its CiphertextBlob in
 * *blob_out (heap, free(); *blob_len_out bytes). Errors as gda_kms_decrypt;
 * nothing is returned on failure. */
gda_status gda_kms_generate_data_key(gda_kms *kms, const char *key_id,
                                     const gda_kms_context_pair *context, size_t n_context,
                                     int64_t deadline_ms,
                                     uint8_t plaintext_out[GDA_KMS_DATA_KEY_BYTES],
                                     uint8_t **blob_out, size_t *blob_len_out, gda_error *err);

/* Statistics of the underlying client (calls, attempts, retries). */
void gda_kms_stats(gda_kms *kms, gda_aws_client_stats *out);

#endif /* GDA_AWS_KMS_H */
