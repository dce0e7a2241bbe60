/* GDA_DATA_KEY_SOURCE=kms (see kms_ring.h). */
#include "kms_ring.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "aws_credentials.h"
#include "clock.h"
#include "base64.h"
#include "kms.h"

typedef struct unwrap_ctx {
    gda_kms *kms;
    const char *pin; /* GDA_KMS_KEY_ARN or NULL */
    int64_t deadline_ms;
} unwrap_ctx;

/* One Decrypt; a failure names var (and the entry id when there is one). */
static gda_status decrypt(const unwrap_ctx *c, const char *var, const char *id,
                          const uint8_t *blob, size_t blob_len,
                          const gda_kms_context_pair *context, size_t n_context,
                          uint8_t key_out[GDA_IDEM_DATA_KEY_LEN], gda_error *err)
{
    gda_error kerr;
    gda_error_clear(&kerr);
    gda_status st = gda_kms_decrypt(c->kms, blob, blob_len, context, n_context, c->pin,
                                    c->deadline_ms, key_out, &kerr);
    if (st == GDA_OK)
        return GDA_OK;
    return id ? gda_error_set(err, st, var, "%s entry %s: %s", var, id, kerr.message)
              : gda_error_set(err, st, var, "%s: %s", var, kerr.message);
}

static gda_status kms_unwrap(const char *id, const uint8_t *wrapped, size_t wrapped_len,
                             uint8_t key_out[GDA_IDEM_DATA_KEY_LEN], void *user, gda_error *err)
{
    gda_kms_context_pair context[GDA_KMS_DATA_KEY_CONTEXT_PAIRS];
    gda_kms_data_key_context(id, context);
    return decrypt(user, "GDA_DATA_KEYS", id, wrapped, wrapped_len, context,
                   GDA_KMS_DATA_KEY_CONTEXT_PAIRS, key_out, err);
}

/* GDA_HASH_KEY: the base64 of a CiphertextBlob made for {"libgda":"hash-key"}. */
static gda_status unwrap_hash_key(const unwrap_ctx *c, const char *text, uint8_t **out,
                                  gda_error *err)
{
    uint8_t *blob = malloc(GDA_KMS_CIPHERTEXT_MAX);
    uint8_t *key = sodium_malloc(GDA_IDEM_HASH_KEY_LEN);
    size_t n = 0;
    gda_status st = GDA_OK;
    if (!blob || !key)
        st = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    else if (!gda_base64_decode(text, strlen(text), GDA_BASE64_STANDARD, blob,
                                GDA_KMS_CIPHERTEXT_MAX, &n) ||
             n <= GDA_IDEM_HASH_KEY_LEN)
        st = gda_error_set(err, GDA_ERR_CONFIG, "GDA_HASH_KEY",
                           "with GDA_DATA_KEY_SOURCE=kms, GDA_HASH_KEY is a KMS ciphertext "
                           "(gda datakey new --hash-key), not a raw key");
    else {
        gda_kms_context_pair context[GDA_KMS_HASH_KEY_CONTEXT_PAIRS];
        gda_kms_hash_key_context(context);
        st = decrypt(c, "GDA_HASH_KEY", NULL, blob, n, context, GDA_KMS_HASH_KEY_CONTEXT_PAIRS,
                     key, err);
    }
    free(blob);
    if (st != GDA_OK) {
        sodium_free(key);
        return st;
    }
    *out = key;
    return GDA_OK;
}

gda_status gda_kms_keys_load(const gda_kms_settings *set, const char *ring_text,
                             const char *hash_text, gda_data_key_ring **ring_out,
                             uint8_t **hash_key_out, gda_error *err)
{
    *ring_out = NULL;
    *hash_key_out = NULL;
    if (!set->region)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_REGION",
                             "GDA_DATA_KEY_SOURCE=kms needs AWS_REGION");
    gda_aws_credentials *creds = NULL;
    gda_status st = gda_aws_credentials_from_env(&creds, err);
    if (st != GDA_OK)
        return st;
    /* The AWS client runs on the system clock: the deadline is on it. */
    unwrap_ctx c = {.pin = set->key_arn, .deadline_ms = gda_clock_now_ms(NULL) + set->timeout_ms};
    st = gda_kms_new(set->region, set->endpoint, creds, set->timeout_ms, &c.kms, err);
    if (st != GDA_OK) {
        gda_aws_credentials_free(creds);
        return st;
    }
    st = gda_data_key_ring_parse("GDA_DATA_KEYS", ring_text, kms_unwrap, &c, ring_out, err);
    if (st == GDA_OK && (st = unwrap_hash_key(&c, hash_text, hash_key_out, err)) != GDA_OK) {
        gda_data_key_ring_free(*ring_out);
        *ring_out = NULL;
    }
    gda_kms_free(c.kms);
    return st;
}
