/* libgda tests — the KMS stand-in (see kms_standin.h). */
#include "kms_standin.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "mini_httpd.h"
#include "sigv4_check.h"

#define MAX_KEYS 8
#define ARN_MAX 192
#define BLOB_VERSION 1
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define GDA_STANDIN_B64_MAX 1024 /* blobs here are < 300 bytes */

typedef struct master_key {
    char arn[ARN_MAX];
    char alias[64];
    uint8_t secret[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    bool disabled;
} master_key;

struct kms_standin {
    mini_httpd *http;
    pthread_mutex_t mu;
    char region[64];
    char token[512];
    bool want_token;
    char endpoint[64];
    master_key keys[MAX_KEYS];
    unsigned n_keys;
    bool deny;
    unsigned throttle_next, fail_next, delay_ms;
    kms_standin_stats stats;
};

/* A KMS error answer; also what the stats remember of it. */
static void kms_error(kms_standin *s, mini_response *resp, int status, const char *type,
                      const char *why)
{
    snprintf(s->stats.last_error, sizeof s->stats.last_error, "%s", type);
    snprintf(s->stats.last_problem, sizeof s->stats.last_problem, "%s", why);
    json_t *doc = json_pack("{s:s, s:s}", "__type", type, "message", why);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    resp->status = status;
    if (text)
        mini_set_body(resp, text, strlen(text));
    free(text);
}

static master_key *find_key(kms_standin *s, const char *id)
{
    for (unsigned i = 0; id && i < s->n_keys; i++) {
        if (strcmp(s->keys[i].arn, id) == 0 || (s->keys[i].alias[0] &&
                                                strcmp(s->keys[i].alias, id) == 0))
            return &s->keys[i];
    }
    return NULL;
}

/* The associated data: the envelope's header (version, ARN) and the
 * context as sorted compact JSON, so neither can be changed or swapped. */
static char *associated_data(const uint8_t *header, size_t header_len, const json_t *context,
                             size_t *len_out)
{
    char *ctx = json_dumps(context, JSON_COMPACT | JSON_SORT_KEYS);
    if (!ctx)
        return NULL;
    size_t n = strlen(ctx);
    char *ad = malloc(header_len + n + 1);
    if (ad) {
        memcpy(ad, header, header_len);
        memcpy(ad + header_len, ctx, n + 1);
        *len_out = header_len + n;
    }
    free(ctx);
    return ad;
}

static uint8_t *seal(const master_key *k, const uint8_t *plaintext, size_t len,
                     const json_t *context, size_t *blob_len)
{
    size_t arn_len = strlen(k->arn);
    size_t header_len = 2 + arn_len;
    size_t total = header_len + NONCE_BYTES + len + TAG_BYTES;
    uint8_t *blob = malloc(total);
    if (!blob)
        return NULL;
    blob[0] = BLOB_VERSION;
    blob[1] = (uint8_t)arn_len;
    memcpy(blob + 2, k->arn, arn_len);
    uint8_t *nonce = blob + header_len;
    randombytes_buf(nonce, NONCE_BYTES);
    size_t ad_len = 0;
    char *ad = associated_data(blob, header_len, context, &ad_len);
    if (!ad) {
        free(blob);
        return NULL;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + NONCE_BYTES, NULL, plaintext, len,
                                               (const uint8_t *)ad, ad_len, NULL, nonce,
                                               k->secret);
    free(ad);
    *blob_len = total;
    return blob;
}

/* Open blob with the key its envelope names; NULL and *why when it does not
 * open. *key_out is that key (NULL when the envelope names none we hold). */
static uint8_t *open_blob(kms_standin *s, const uint8_t *blob, size_t len, const json_t *context,
                          master_key **key_out, size_t *plain_len, const char **why)
{
    *key_out = NULL;
    *why = "the ciphertext is not one of this KMS";
    if (len < 2 || blob[0] != BLOB_VERSION || len < 2u + blob[1] + NONCE_BYTES + TAG_BYTES ||
        blob[1] >= ARN_MAX)
        return NULL;
    char arn[ARN_MAX];
    memcpy(arn, blob + 2, blob[1]);
    arn[blob[1]] = '\0';
    master_key *k = find_key(s, arn);
    if (!k)
        return NULL;
    *key_out = k;
    size_t header_len = 2u + blob[1];
    const uint8_t *nonce = blob + header_len;
    size_t ct_len = len - header_len - NONCE_BYTES;
    size_t ad_len = 0;
    char *ad = associated_data(blob, header_len, context, &ad_len);
    uint8_t *plain = ad ? malloc(ct_len) : NULL;
    unsigned long long got = 0;
    if (!plain || crypto_aead_xchacha20poly1305_ietf_decrypt(
                      plain, &got, NULL, nonce + NONCE_BYTES, ct_len, (const uint8_t *)ad,
                      ad_len, nonce, k->secret) != 0) {
        *why = "the ciphertext or its encryption context was changed";
        free(plain);
        plain = NULL;
    }
    free(ad);
    *plain_len = (size_t)got;
    return plain;
}

/* bytes as a JSON string of their base64; the text is wiped (it may be a
 * plaintext key) once jansson has its copy. */
static json_t *b64_json(const uint8_t *bytes, size_t len)
{
    char text[GDA_STANDIN_B64_MAX];
    if (sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL) > sizeof text)
        return NULL;
    json_t *v = json_string(sodium_bin2base64(text, sizeof text, bytes, len,
                                              sodium_base64_VARIANT_ORIGINAL));
    sodium_memzero(text, sizeof text);
    return v;
}

static void reply_ok(mini_response *resp, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    resp->status = text ? 200 : 500;
    if (text)
        mini_set_body(resp, text, strlen(text));
    free(text);
}

/* The EncryptionContext of a request ({} when absent), or NULL when it is
 * not an object of strings. */
static json_t *request_context(json_t *body)
{
    json_t *ctx = json_object_get(body, "EncryptionContext");
    if (!ctx)
        return json_object();
    if (!json_is_object(ctx))
        return NULL;
    const char *name;
    json_t *v;
    json_object_foreach(ctx, name, v) {
        if (!json_is_string(v))
            return NULL;
    }
    return json_incref(ctx);
}

static void generate_data_key(kms_standin *s, json_t *body, json_t *ctx, mini_response *resp)
{
    const char *key_id = json_string_value(json_object_get(body, "KeyId"));
    const char *spec = json_string_value(json_object_get(body, "KeySpec"));
    master_key *k = find_key(s, key_id);
    if (!spec || strcmp(spec, "AES_256") != 0) {
        s->stats.refused++;
        kms_error(s, resp, 400, "ValidationException", "KeySpec must be AES_256 here");
        return;
    }
    if (!k) {
        s->stats.refused++;
        kms_error(s, resp, 400, "NotFoundException", "the key does not exist");
        return;
    }
    if (k->disabled) {
        s->stats.refused++;
        kms_error(s, resp, 400, "DisabledException", "the key is disabled");
        return;
    }
    uint8_t plain[32];
    randombytes_buf(plain, sizeof plain);
    size_t blob_len = 0;
    uint8_t *blob = seal(k, plain, sizeof plain, ctx, &blob_len);
    s->stats.generate_ok++;
    reply_ok(resp, blob ? json_pack("{s:o?, s:o?, s:s}", "CiphertextBlob",
                                    b64_json(blob, blob_len), "Plaintext",
                                    b64_json(plain, sizeof plain), "KeyId", k->arn)
                        : NULL);
    sodium_memzero(plain, sizeof plain);
    free(blob);
}

static void decrypt(kms_standin *s, json_t *body, json_t *ctx, mini_response *resp)
{
    const char *text = json_string_value(json_object_get(body, "CiphertextBlob"));
    const char *key_id = json_string_value(json_object_get(body, "KeyId"));
    size_t n = text ? strlen(text) : 0;
    uint8_t *blob = malloc(n + 1);
    size_t blob_len = 0;
    if (!text || !blob ||
        sodium_base642bin(blob, n + 1, text, n, NULL, &blob_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(blob);
        s->stats.refused++;
        kms_error(s, resp, 400, "ValidationException", "CiphertextBlob is not base64");
        return;
    }
    master_key *k = NULL;
    size_t plain_len = 0;
    const char *why = NULL;
    uint8_t *plain = open_blob(s, blob, blob_len, ctx, &k, &plain_len, &why);
    free(blob);
    master_key *pinned = key_id ? find_key(s, key_id) : NULL;
    if (plain && key_id && pinned != k) {
        s->stats.refused++;
        kms_error(s, resp, 400, "IncorrectKeyException",
                  "the ciphertext was not encrypted under the KeyId given");
    } else if (plain && k->disabled) {
        s->stats.refused++;
        kms_error(s, resp, 400, "DisabledException", "the key is disabled");
    } else if (!plain) {
        s->stats.refused++;
        kms_error(s, resp, 400, "InvalidCiphertextException", why);
    } else {
        s->stats.decrypt_ok++;
        reply_ok(resp, json_pack("{s:s, s:o?, s:s}", "KeyId", k->arn, "Plaintext",
                                 b64_json(plain, plain_len), "EncryptionAlgorithm",
                                 "SYMMETRIC_DEFAULT"));
    }
    if (plain)
        sodium_memzero(plain, plain_len);
    free(plain);
}

static const char *check_request(kms_standin *s, const mini_request *req)
{
    static const char *const with_token[] = {"host", "x-amz-date", "x-amz-target",
                                             "x-amz-security-token", NULL};
    const char *ctype = mini_header(req, "Content-Type");
    const char *date = mini_header(req, "X-Amz-Date");
    const char *token = mini_header(req, "X-Amz-Security-Token");
    if (!ctype || strcmp(ctype, "application/x-amz-json-1.1") != 0)
        return "Content-Type is not application/x-amz-json-1.1";
    if (!date || strlen(date) != 16 || date[8] != 'T' || date[15] != 'Z')
        return "X-Amz-Date missing or not YYYYMMDDTHHMMSSZ";
    if (s->want_token && (!token || strcmp(token, s->token) != 0))
        return "X-Amz-Security-Token missing or wrong";
    /* Without a token, the same list minus its last name. */
    static const char *const without_token[] = {"host", "x-amz-date", "x-amz-target", NULL};
    return sigv4_check_authorization(mini_header(req, "Authorization"), KMS_STANDIN_AKID,
                                     s->region, "kms",
                                     s->want_token ? with_token : without_token);
}

static void serve(kms_standin *s, const mini_request *req, mini_response *resp)
{
    s->stats.calls++;
    const char *target = mini_header(req, "X-Amz-Target");
    const char *why = NULL;
    if (s->fail_next > 0) {
        s->fail_next--;
        s->stats.failed++;
        kms_error(s, resp, 500, "KMSInternalException", "failing on purpose");
        return;
    }
    if (s->throttle_next > 0) {
        s->throttle_next--;
        s->stats.throttled++;
        kms_error(s, resp, 400, "ThrottlingException", "Rate exceeded");
        return;
    }
    if ((why = check_request(s, req)) != NULL) {
        s->stats.refused++;
        kms_error(s, resp, 403, "InvalidSignatureException", why);
        return;
    }
    if (s->deny) {
        s->stats.refused++;
        kms_error(s, resp, 400, "AccessDeniedException", "the caller is not allowed to use the key");
        return;
    }
    bool gen = target && strcmp(target, "TrentService.GenerateDataKey") == 0;
    if (!gen && (!target || strcmp(target, "TrentService.Decrypt") != 0)) {
        s->stats.refused++;
        kms_error(s, resp, 400, "UnknownOperationException", "X-Amz-Target is not served here");
        return;
    }
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *ctx = json_is_object(body) ? request_context(body) : NULL;
    if (!ctx) {
        s->stats.refused++;
        kms_error(s, resp, 400, "SerializationException",
                  "the body is not a JSON object with a string-valued EncryptionContext");
    } else if (gen) {
        generate_data_key(s, body, ctx, resp);
    } else {
        decrypt(s, body, ctx, resp);
    }
    json_decref(ctx);
    json_decref(body);
}

static void route(const mini_request *req, mini_response *resp, void *user)
{
    kms_standin *s = user;
    pthread_mutex_lock(&s->mu);
    unsigned delay = s->delay_ms;
    pthread_mutex_unlock(&s->mu);
    if (delay) {
        struct timespec ts = {(time_t)(delay / 1000), (long)(delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&s->mu);
    if (strcmp(req->method, "POST") == 0 && strcmp(req->target, "/") == 0)
        serve(s, req, resp);
    else
        kms_error(s, resp, 404, "UnknownOperationException", "not found");
    pthread_mutex_unlock(&s->mu);
}

/* Key i's ARN looks like a real one: the region, a test account and a
 * UUID-shaped id. */
static const char *add_key_locked(kms_standin *s, const char *alias)
{
    if (s->n_keys == MAX_KEYS)
        return NULL;
    master_key *k = &s->keys[s->n_keys];
    snprintf(k->arn, sizeof k->arn, "arn:aws:kms:%s:111122223333:key/1234abcd-12ab-34cd-56ef-%012u",
             s->region, s->n_keys + 1);
    snprintf(k->alias, sizeof k->alias, "%s", alias ? alias : "");
    crypto_aead_xchacha20poly1305_ietf_keygen(k->secret);
    k->disabled = false;
    s->n_keys++;
    return k->arn;
}

kms_standin *kms_standin_start(const char *region, const char *session_token)
{
    if (sodium_init() < 0)
        return NULL;
    kms_standin *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->region, sizeof s->region, "%s", region);
    s->want_token = session_token != NULL;
    snprintf(s->token, sizeof s->token, "%s", session_token ? session_token : "");
    add_key_locked(s, KMS_STANDIN_ALIAS);
    s->http = mini_httpd_start(route, s);
    if (!s->http) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", mini_httpd_port(s->http));
    return s;
}

int kms_standin_port(const kms_standin *s)
{
    return mini_httpd_port(s->http);
}

const char *kms_standin_endpoint(const kms_standin *s)
{
    return s->endpoint;
}

const char *kms_standin_key_arn(kms_standin *s, unsigned i)
{
    pthread_mutex_lock(&s->mu);
    const char *arn = i < s->n_keys ? s->keys[i].arn : NULL;
    pthread_mutex_unlock(&s->mu);
    return arn;
}

const char *kms_standin_add_key(kms_standin *s, const char *alias)
{
    pthread_mutex_lock(&s->mu);
    const char *arn = add_key_locked(s, alias);
    pthread_mutex_unlock(&s->mu);
    return arn;
}

void kms_standin_disable_key(kms_standin *s, const char *arn, bool disabled)
{
    pthread_mutex_lock(&s->mu);
    master_key *k = find_key(s, arn);
    if (k)
        k->disabled = disabled;
    pthread_mutex_unlock(&s->mu);
}

void kms_standin_set(kms_standin *s, kms_standin_knob knob, unsigned value)
{
    pthread_mutex_lock(&s->mu);
    switch (knob) {
    case KMS_STANDIN_DENY_ALL: s->deny = value != 0; break;
    case KMS_STANDIN_THROTTLE_NEXT: s->throttle_next = value; break;
    case KMS_STANDIN_FAIL_NEXT: s->fail_next = value; break;
    case KMS_STANDIN_DELAY_MS: s->delay_ms = value; break;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Seal plaintext under key arn (NULL: the first) bound to ctx (consumed). */
static bool encrypt_with(kms_standin *s, const char *arn, const uint8_t *plaintext, size_t len,
                         json_t *ctx, uint8_t **blob_out, size_t *blob_len_out)
{
    *blob_out = NULL;
    pthread_mutex_lock(&s->mu);
    master_key *k = arn ? find_key(s, arn) : &s->keys[0];
    if (k && ctx)
        *blob_out = seal(k, plaintext, len, ctx, blob_len_out);
    pthread_mutex_unlock(&s->mu);
    json_decref(ctx);
    return *blob_out != NULL;
}

bool kms_standin_encrypt(kms_standin *s, const char *arn, const uint8_t *plaintext, size_t len,
                         const char *ring_id, uint8_t **blob_out, size_t *blob_len_out)
{
    return encrypt_with(s, arn, plaintext, len,
                        json_pack("{s:s, s:s}", "libgda", "data-key", "keyId", ring_id), blob_out,
                        blob_len_out);
}

bool kms_standin_encrypt_hash_key(kms_standin *s, const char *arn, const uint8_t *plaintext,
                                  size_t len, uint8_t **blob_out, size_t *blob_len_out)
{
    return encrypt_with(s, arn, plaintext, len, json_pack("{s:s}", "libgda", "hash-key"),
                        blob_out, blob_len_out);
}

void kms_standin_stats_get(kms_standin *s, kms_standin_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

void kms_standin_stop(kms_standin *s)
{
    if (!s)
        return;
    mini_httpd_stop(s->http);
    sodium_memzero(s->keys, sizeof s->keys);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
