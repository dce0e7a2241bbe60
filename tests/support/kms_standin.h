/* libgda tests — a loopback stand-in of AWS KMS (Decrypt, GenerateDataKey)
 * that really encrypts, for the KMS client, the CLI and later the Lambda and
 * store tests.
 *
 * POST / with X-Amz-Target TrentService.Decrypt or
 * TrentService.GenerateDataKey, Content-Type application/x-amz-json-1.1 and
 * a SigV4 Authorization header whose shape and scope are checked
 * (sigv4_check.h: AKIDEXAMPLE/DATE/REGION/kms/aws4_request, host,
 * x-amz-date and x-amz-target signed — and x-amz-security-token when a
 * session token is expected). Errors are answered as KMS does: HTTP 400 with
 * {"__type":"…Exception","message":…} (403 for a bad signature, 500 on
 * purpose).
 *
 * It holds master keys (an ARN and an alias each, a random 32-byte secret).
 * A CiphertextBlob is an envelope: version byte, the key ARN (length byte
 * and text), a 24-byte nonce and the XChaCha20-Poly1305 ciphertext of the
 * data key, whose associated data is the version, the ARN and the
 * encryption context as sorted compact JSON. So a wrong context or a
 * changed byte answers InvalidCiphertextException, and a Decrypt whose
 * KeyId names another key IncorrectKeyException.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef GDA_TEST_KMS_STANDIN_H
#define GDA_TEST_KMS_STANDIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KMS_STANDIN_AKID "AKIDEXAMPLE"
/* The first key's alias; kms_standin_key_arn(s, 0) is its ARN. */
#define KMS_STANDIN_ALIAS "alias/gda-test"

typedef struct kms_standin kms_standin;

/* Start on a free loopback port, expecting SigV4 scope region/kms and, when
 * session_token is not NULL, that X-Amz-Security-Token. One key is made
 * (KMS_STANDIN_ALIAS). NULL on failure. */
kms_standin *kms_standin_start(const char *region, const char *session_token);

int kms_standin_port(const kms_standin *s);

/* "http://127.0.0.1:PORT" (lives as long as s). */
const char *kms_standin_endpoint(const kms_standin *s);

/* ARN of key i (0: the first), NULL past the last. */
const char *kms_standin_key_arn(kms_standin *s, unsigned i);

/* Make another key with alias (may be NULL); returns its ARN, NULL when
 * the table is full. */
const char *kms_standin_add_key(kms_standin *s, const char *alias);

/* Disable or enable a key (DisabledException while disabled). */
void kms_standin_disable_key(kms_standin *s, const char *arn, bool disabled);

/* Test controls, each set to a value (0 turns it off). */
typedef enum kms_standin_knob {
    KMS_STANDIN_DENY_ALL,      /* nonzero: every call AccessDeniedException */
    KMS_STANDIN_THROTTLE_NEXT, /* the next n calls ThrottlingException */
    KMS_STANDIN_FAIL_NEXT,     /* the next n calls HTTP 500 KMSInternalException */
    KMS_STANDIN_DELAY_MS       /* wait this long before every answer (a slow KMS) */
} kms_standin_knob;

void kms_standin_set(kms_standin *s, kms_standin_knob knob, unsigned value);

/* What GenerateDataKey would return: a blob of plaintext[0..len) under key
 * arn (NULL: the first key) bound to {"libgda":"data-key","keyId":ring_id}.
 * *blob_out is malloc'd. False when arn is unknown or memory runs out. */
bool kms_standin_encrypt(kms_standin *s, const char *arn, const uint8_t *plaintext, size_t len,
                         const char *ring_id, uint8_t **blob_out, size_t *blob_len_out);

/* The same bound to {"libgda":"hash-key"} (GDA_HASH_KEY with
 * GDA_DATA_KEY_SOURCE=kms). */
bool kms_standin_encrypt_hash_key(kms_standin *s, const char *arn, const uint8_t *plaintext,
                                  size_t len, uint8_t **blob_out, size_t *blob_len_out);

typedef struct kms_standin_stats {
    unsigned calls;        /* every POST / */
    unsigned decrypt_ok;
    unsigned generate_ok;
    unsigned refused;      /* any 4xx but throttling */
    unsigned throttled;
    unsigned failed;       /* 500 on purpose */
    char last_error[64];   /* __type of the last error answer ("" if none) */
    char last_problem[160]; /* why the last refusal happened ("" if none) */
} kms_standin_stats;

void kms_standin_stats_get(kms_standin *s, kms_standin_stats *out);

void kms_standin_stop(kms_standin *s);

#endif
