/* libgda (private, lib/aws) — AWS KMS Decrypt and GenerateDataKey (see
 * kms.h). */
#include "kms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "base64.h"

/* KMS's own bound on the pairs of a context is its 8 KiB size; a data-key
 * context has two, so a small cap only catches caller mistakes. */
#define CONTEXT_MAX_PAIRS 16

void gda_kms_data_key_context(const char *ring_id,
                              gda_kms_context_pair out[GDA_KMS_DATA_KEY_CONTEXT_PAIRS])
{
    out[0].name = "libgda";
    out[0].value = "data-key";
    out[1].name = "keyId";
    out[1].value = ring_id;
}

void gda_kms_hash_key_context(gda_kms_context_pair out[GDA_KMS_HASH_KEY_CONTEXT_PAIRS])
{
    out[0].name = "libgda";
    out[0].value = "hash-key";
}

gda_status gda_kms_new(const char *region, const char *endpoint, gda_aws_credentials *creds,
                       int64_t timeout_ms, gda_kms **out, gda_error *err)
{
    /* A blob is at most 6 KiB, 8 KiB in base64; the rest is small. */
    static const gda_aws_service svc = {"KMS", "kms", "TrentService", 16 * 1024};
    return gda_aws_service_client_new(&svc, region, endpoint, creds, timeout_ms, out, err);
}

void gda_kms_free(gda_kms *kms)
{
    gda_aws_client_free(kms);
}

void gda_kms_stats(gda_kms *kms, gda_aws_client_stats *out)
{
    gda_aws_client_stats_get(kms, out);
}

static gda_status set_string(json_t *req, const char *name, const char *value, gda_error *err)
{
    if (json_object_set_new(req, name, json_string(value)) != 0)
        return gda_error_set(err, GDA_ERR_CONFIG, name, "%s is not a UTF-8 string", name);
    return GDA_OK;
}

/* {"EncryptionContext": {...}, "KeyId": key_id} (no KeyId when NULL or ""),
 * or NULL (err set). */
static json_t *new_request(const gda_kms_context_pair *context, size_t n_context,
                           const char *key_id, gda_error *err)
{
    if (n_context > CONTEXT_MAX_PAIRS || (n_context && !context)) {
        gda_error_set(err, GDA_ERR_CONFIG, "EncryptionContext",
                      "the encryption context has more than %d pairs", CONTEXT_MAX_PAIRS);
        return NULL;
    }
    json_t *ctx = json_object();
    json_t *req = json_object();
    if (!ctx || !req || json_object_set(req, "EncryptionContext", ctx) != 0) {
        json_decref(ctx);
        json_decref(req);
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    json_decref(ctx); /* req holds it */
    for (size_t i = 0; i < n_context; i++) {
        const char *name = context[i].name, *value = context[i].value;
        if (!name || !*name || !value || !*value || json_object_get(ctx, name)) {
            json_decref(req);
            gda_error_set(err, GDA_ERR_CONFIG, "EncryptionContext",
                          "encryption context pair %zu is empty or repeats a name", i + 1);
            return NULL;
        }
        if (json_object_set_new(ctx, name, json_string(value)) != 0) {
            json_decref(req);
            gda_error_set(err, GDA_ERR_CONFIG, "EncryptionContext",
                          "encryption context pair %zu is not UTF-8", i + 1);
            return NULL;
        }
    }
    if (key_id && *key_id && set_string(req, "KeyId", key_id, err) != GDA_OK) {
        json_decref(req);
        return NULL;
    }
    return req;
}

/* Send req (consumed) as operation; on a 2xx, *doc_out is the parsed
 * answer. The response body is wiped here: it may hold a plaintext key. */
static gda_status kms_call(gda_kms *kms, const char *operation, json_t *req, int64_t deadline_ms,
                           json_t **doc_out, gda_error *err)
{
    *doc_out = NULL;
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!body)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    gda_aws_response resp;
    memset(&resp, 0, sizeof resp);
    gda_status st =
        gda_aws_json_call(kms, operation, body, strlen(body), deadline_ms, &resp, err);
    free(body);
    if (st == GDA_OK) {
        if (resp.http_status >= 200 && resp.http_status < 300) {
            json_t *doc = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, NULL);
            if (json_is_object(doc))
                *doc_out = doc;
            else {
                json_decref(doc);
                st = gda_error_set(err, GDA_ERR_CONFIG, "KeyId",
                                   "KMS %s answered with something that is not a JSON object",
                                   operation);
            }
        } else if (gda_aws_error_is_throttling(resp.error_type) || resp.http_status >= 500) {
            st = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "KMS is throttling or failing");
        } else {
            /* Access denied, a damaged blob or wrong context, a disabled or
             * deleted key, a bad signature: retrying will not help. */
            const char *type = resp.error_type[0] ? resp.error_type : "no error type";
            st = gda_error_set(err, GDA_ERR_CONFIG,
                               strcmp(type, "InvalidCiphertextException") == 0 ? "CiphertextBlob"
                                                                                : "KeyId",
                               "KMS refused %s (%s, HTTP %ld)", operation, type,
                               resp.http_status);
        }
    }
    if (resp.body)
        sodium_memzero(resp.body, resp.body_len);
    gda_aws_response_clear(&resp);
    return st;
}

/* Decode the answer's Plaintext into out and wipe jansson's decoded copy. */
static gda_status take_plaintext(json_t *doc, const char *operation,
                                 uint8_t out[GDA_KMS_DATA_KEY_BYTES], gda_error *err)
{
    json_t *p = json_object_get(doc, "Plaintext");
    if (!json_is_string(p))
        return gda_error_set(err, GDA_ERR_CONFIG, "KeyId", "KMS %s answered without a Plaintext",
                             operation);
    char *text = (char *)json_string_value(p);
    size_t n = json_string_length(p);
    size_t got = 0;
    bool ok = gda_base64_decode(text, n, GDA_BASE64_STANDARD, out, GDA_KMS_DATA_KEY_BYTES, &got) &&
              got == GDA_KMS_DATA_KEY_BYTES;
    sodium_memzero(text, n);
    if (ok)
        return GDA_OK;
    sodium_memzero(out, GDA_KMS_DATA_KEY_BYTES);
    return gda_error_set(err, GDA_ERR_CONFIG, "KeyId",
                         "KMS %s returned a plaintext that is not a %d-byte data key", operation,
                         GDA_KMS_DATA_KEY_BYTES);
}

gda_status gda_kms_decrypt(gda_kms *kms, const uint8_t *blob, size_t blob_len,
                           const gda_kms_context_pair *context, size_t n_context,
                           const char *key_id, int64_t deadline_ms,
                           uint8_t plaintext_out[GDA_KMS_DATA_KEY_BYTES], gda_error *err)
{
    if (!kms || !blob || !plaintext_out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "NULL argument");
    sodium_memzero(plaintext_out, GDA_KMS_DATA_KEY_BYTES);
    if (blob_len == 0 || blob_len > GDA_KMS_CIPHERTEXT_MAX)
        return gda_error_set(err, GDA_ERR_CONFIG, "CiphertextBlob",
                             "a KMS ciphertext is 1..%d bytes", GDA_KMS_CIPHERTEXT_MAX);
    json_t *req = new_request(context, n_context, key_id, err);
    if (!req)
        return err ? err->code : GDA_ERR_CONFIG;
    char *b64 = gda_base64_encode_alloc(blob, blob_len, GDA_BASE64_STANDARD);
    gda_status st = b64 ? set_string(req, "CiphertextBlob", b64, err)
                        : gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    free(b64);
    if (st != GDA_OK) {
        json_decref(req);
        return st;
    }
    json_t *doc = NULL;
    st = kms_call(kms, "Decrypt", req, deadline_ms, &doc, err);
    if (st == GDA_OK)
        st = take_plaintext(doc, "Decrypt", plaintext_out, err);
    json_decref(doc);
    return st;
}

gda_status gda_kms_generate_data_key(gda_kms *kms, const char *key_id,
                                     const gda_kms_context_pair *context, size_t n_context,
                                     int64_t deadline_ms,
                                     uint8_t plaintext_out[GDA_KMS_DATA_KEY_BYTES],
                                     uint8_t **blob_out, size_t *blob_len_out, gda_error *err)
{
    if (!kms || !plaintext_out || !blob_out || !blob_len_out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "NULL argument");
    sodium_memzero(plaintext_out, GDA_KMS_DATA_KEY_BYTES);
    *blob_out = NULL;
    *blob_len_out = 0;
    if (!key_id || !*key_id || strlen(key_id) > 2048)
        return gda_error_set(err, GDA_ERR_CONFIG, "KeyId",
                             "the KMS key id (ARN or alias) must be 1..2048 characters");
    json_t *req = new_request(context, n_context, key_id, err);
    if (!req)
        return err ? err->code : GDA_ERR_CONFIG;
    if (set_string(req, "KeySpec", "AES_256", err) != GDA_OK) {
        json_decref(req);
        return GDA_ERR_CONFIG;
    }
    json_t *doc = NULL;
    gda_status st = kms_call(kms, "GenerateDataKey", req, deadline_ms, &doc, err);
    /* The plaintext first: decoding it wipes jansson's copy, which must
     * happen even when the blob turns out unusable. */
    if (st == GDA_OK)
        st = take_plaintext(doc, "GenerateDataKey", plaintext_out, err);
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    if (st == GDA_OK) {
        json_t *c = json_object_get(doc, "CiphertextBlob");
        blob = json_is_string(c) ? malloc(GDA_KMS_CIPHERTEXT_MAX) : NULL;
        if (!json_is_string(c))
            st = gda_error_set(err, GDA_ERR_CONFIG, "KeyId",
                               "KMS GenerateDataKey answered without a CiphertextBlob");
        else if (!blob)
            st = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        else if (!gda_base64_decode(json_string_value(c), json_string_length(c),
                                    GDA_BASE64_STANDARD, blob, GDA_KMS_CIPHERTEXT_MAX, &blob_len) ||
                 blob_len == 0)
            st = gda_error_set(err, GDA_ERR_CONFIG, "KeyId",
                               "KMS GenerateDataKey returned a CiphertextBlob that is not "
                               "base64 of 1..%d bytes",
                               GDA_KMS_CIPHERTEXT_MAX);
    }
    json_decref(doc);
    if (st != GDA_OK) {
        sodium_memzero(plaintext_out, GDA_KMS_DATA_KEY_BYTES);
        free(blob);
        return st;
    }
    *blob_out = blob;
    *blob_len_out = blob_len;
    return GDA_OK;
}
