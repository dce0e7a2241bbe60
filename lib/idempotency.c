/* libgda — the exactly-once engine (see include/gda/idempotency.h). */
#include <gda/init.h>
#include <gda/idempotency.h>
#include <gda/slice.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "digest.h"
#include "store_memory.h"
#include "utf8.h"

/* Ten years: beyond that a TTL is a configuration mistake, and the bound keeps
 * the expiry arithmetic far from overflow. */
#define IDEM_MAX_TTL_S (INT64_C(10) * 366 * 24 * 3600)
#define IDEM_MAX_DURATION_MS (INT64_C(24) * 3600 * 1000)

#define SEAL_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
/* Domain label, 2-byte key length, key, payload hash, principal, 4-byte
 * status, state. */
#define SEAL_LABEL "gda-idem-v2"
/* A ring's seal (GDA_RECORD_KEY_ID): the body starts with a 1-byte id
 * length and the id, which the associated data binds after this label. */
#define SEAL_RING_LABEL "gda-idem-v3"
#define SEAL_AD_MAX                                                                               \
    (sizeof SEAL_RING_LABEL - 1 + 1 + GDA_IDEM_DATA_KEY_ID_MAX + 2 + GDA_KEY_MAX +                \
     GDA_PAYLOAD_HASH_LEN + GDA_PRINCIPAL_DIGEST_LEN + 4 + 1)
#define IDEM_MAX_SKEW_MS 60000

/* Labels that derive the hash key from a data key, and the two sub-keys
 * (payload hashes, principal digests) from the hash key: one secret, two
 * uses that can never be confused. */
#define HASH_KEY_LABEL "gda-hash-key-v1"
#define PAYLOAD_KEY_LABEL "gda-payload-hash-v1"
#define PRINCIPAL_KEY_LABEL "gda-principal-v1"

/* Everything secret, in one sodium_malloc block (locked, guarded, wiped on
 * free, read-only after set-up). */
typedef struct idem_secrets {
    uint8_t data_key[GDA_IDEM_DATA_KEY_LEN]; /* the legacy single key (no id) */
    /* The ring: ids[0]/ring[0] seals; n_ring 0 without one. */
    uint8_t ring[GDA_IDEM_MAX_DATA_KEYS][GDA_IDEM_DATA_KEY_LEN];
    char ids[GDA_IDEM_MAX_DATA_KEYS][GDA_IDEM_DATA_KEY_ID_MAX + 1];
    size_t n_ring;
    gda_hmac_key payload_key;                /* keyed payload hashes */
    gda_hmac_key principal_key;              /* keyed principal digests */
} idem_secrets;

struct gda_idem {
    gda_store *store;      /* borrowed */
    gda_store *cache;      /* owned memory cache, or NULL */
    gda_idem_config cfg;   /* keys cleared: they live in secrets below */
    idem_secrets *secrets; /* sodium_malloc, read-only */
    bool has_data_key;     /* results are sealed (a single key or a ring) */
    bool has_ring;
};

gda_idem_config gda_idem_config_default(void)
{
    return (gda_idem_config){
        .ttl_s = GDA_IDEM_DEFAULT_TTL_S,
        .max_lease_ms = GDA_IDEM_DEFAULT_MAX_LEASE_MS,
        .in_progress_wait_ms = GDA_IDEM_DEFAULT_IN_PROGRESS_WAIT_MS,
        .poll_interval_ms = GDA_IDEM_DEFAULT_POLL_INTERVAL_MS,
        .busy_policy = GDA_IDEM_BUSY_RETRY,
        .clock_skew_ms = GDA_STORE_DEFAULT_SKEW_MS,
    };
}

static gda_status check_ring(const gda_idem_config *cfg, gda_error *err)
{
    if ((cfg->data_keys != NULL) != (cfg->n_data_keys != 0))
        return gda_error_set(err, GDA_ERR_CONFIG, "data_keys", "data_keys and n_data_keys disagree");
    if (!cfg->data_keys)
        return GDA_OK;
    if (cfg->data_key)
        return gda_error_set(err, GDA_ERR_CONFIG, "data_keys",
                             "give a data key or a data-key ring, not both");
    if (cfg->n_data_keys > GDA_IDEM_MAX_DATA_KEYS)
        return gda_error_set(err, GDA_ERR_CONFIG, "data_keys", "a data-key ring holds at most %d keys",
                             GDA_IDEM_MAX_DATA_KEYS);
    /* A ring rotates; payload hashes must outlive a rotation. */
    if (!cfg->hash_key)
        return gda_error_set(err, GDA_ERR_CONFIG, "hash_key",
                             "a data-key ring needs a hash key that does not rotate with it");
    for (size_t i = 0; i < cfg->n_data_keys; i++) {
        const gda_idem_data_key *k = &cfg->data_keys[i];
        if (!k->id || !gda_slice_is_id(gda_slice_cstr(k->id), GDA_IDEM_DATA_KEY_ID_MAX))
            return gda_error_set(err, GDA_ERR_CONFIG, "data_keys",
                                 "data key %zu: the id must be 1-%d of A-Z a-z 0-9 . _ -", i + 1,
                                 GDA_IDEM_DATA_KEY_ID_MAX);
        if (!k->key)
            return gda_error_set(err, GDA_ERR_CONFIG, "data_keys", "data key %s has no key",
                                 k->id);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->data_keys[j].id, k->id) == 0)
                return gda_error_set(err, GDA_ERR_CONFIG, "data_keys",
                                     "data key id %s appears twice", k->id);
        }
    }
    return GDA_OK;
}

static gda_status check_config(const gda_idem_config *cfg, gda_error *err)
{
    if (cfg->ttl_s < 1 || cfg->ttl_s > IDEM_MAX_TTL_S)
        return gda_error_set(err, GDA_ERR_CONFIG, "ttl_s", "TTL must be 1 s to 10 years");
    if (cfg->max_lease_ms < 1 || cfg->max_lease_ms > IDEM_MAX_DURATION_MS)
        return gda_error_set(err, GDA_ERR_CONFIG, "max_lease_ms", "lease must be 1 ms to 24 h");
    if (cfg->in_progress_wait_ms < 0 || cfg->in_progress_wait_ms > IDEM_MAX_DURATION_MS)
        return gda_error_set(err, GDA_ERR_CONFIG, "in_progress_wait_ms",
                             "in-progress wait must be 0 to 24 h");
    if (cfg->poll_interval_ms < 1 || cfg->poll_interval_ms > IDEM_MAX_DURATION_MS)
        return gda_error_set(err, GDA_ERR_CONFIG, "poll_interval_ms",
                             "poll interval must be 1 ms to 24 h");
    if (cfg->busy_policy != GDA_IDEM_BUSY_RETRY && cfg->busy_policy != GDA_IDEM_BUSY_CONFLICT)
        return gda_error_set(err, GDA_ERR_CONFIG, "busy_policy", "unknown in-progress policy");
    if ((cfg->data_key != NULL) != (cfg->data_key_len != 0) ||
        (cfg->data_key && cfg->data_key_len != GDA_IDEM_DATA_KEY_LEN))
        return gda_error_set(err, GDA_ERR_CONFIG, "data_key", "data key must be %d bytes",
                             GDA_IDEM_DATA_KEY_LEN);
    if ((cfg->hash_key != NULL) != (cfg->hash_key_len != 0) ||
        (cfg->hash_key && cfg->hash_key_len != GDA_IDEM_HASH_KEY_LEN))
        return gda_error_set(err, GDA_ERR_CONFIG, "hash_key", "hash key must be %d bytes",
                             GDA_IDEM_HASH_KEY_LEN);
    gda_status st = check_ring(cfg, err);
    if (st != GDA_OK)
        return st;
    if (cfg->clock_skew_ms < 0 || cfg->clock_skew_ms > IDEM_MAX_SKEW_MS)
        return gda_error_set(err, GDA_ERR_CONFIG, "clock_skew_ms",
                             "clock skew allowance must be 0 to %d ms", IDEM_MAX_SKEW_MS);
    return GDA_OK;
}

static void derive_key(const uint8_t *key, size_t key_len, const char *label,
                       uint8_t out[GDA_SHA256_LEN])
{
    gda_slice part = gda_slice_make(label, strlen(label));
    gda_hmac_sha256_parts(key, key_len, &part, 1, out);
}

/* Fill the secrets block from cfg: the data key, and the hash key given,
 * derived from the data key, or drawn at random. */
static void set_up_secrets(idem_secrets *sec, const gda_idem_config *cfg)
{
    uint8_t hash_key[GDA_IDEM_HASH_KEY_LEN];
    uint8_t sub[GDA_SHA256_LEN];
    if (cfg->hash_key)
        memcpy(hash_key, cfg->hash_key, sizeof hash_key);
    else if (cfg->data_key)
        derive_key(cfg->data_key, GDA_IDEM_DATA_KEY_LEN, HASH_KEY_LABEL, hash_key);
    else
        randombytes_buf(hash_key, sizeof hash_key);
    if (cfg->data_key)
        memcpy(sec->data_key, cfg->data_key, GDA_IDEM_DATA_KEY_LEN);
    for (size_t i = 0; i < cfg->n_data_keys; i++) {
        memcpy(sec->ring[i], cfg->data_keys[i].key, GDA_IDEM_DATA_KEY_LEN);
        memcpy(sec->ids[i], cfg->data_keys[i].id, strlen(cfg->data_keys[i].id) + 1);
    }
    sec->n_ring = cfg->n_data_keys;
    derive_key(hash_key, sizeof hash_key, PAYLOAD_KEY_LABEL, sub);
    gda_hmac_sha256_key_init(&sec->payload_key, sub, sizeof sub);
    derive_key(hash_key, sizeof hash_key, PRINCIPAL_KEY_LABEL, sub);
    gda_hmac_sha256_key_init(&sec->principal_key, sub, sizeof sub);
    sodium_memzero(sub, sizeof sub);
    sodium_memzero(hash_key, sizeof hash_key);
}

gda_idem *gda_idem_new(gda_store *store, const gda_idem_config *cfg, gda_error *err)
{
    gda_idem_config defaults;
    if (!cfg) {
        defaults = gda_idem_config_default();
        cfg = &defaults;
    }
    if (!store) {
        gda_error_set(err, GDA_ERR_CONFIG, NULL, "idempotency engine needs a store");
        return NULL;
    }
    if (check_config(cfg, err) != GDA_OK)
        return NULL;
    if (gda_init(err) != GDA_OK)
        return NULL;
    gda_idem *idem = calloc(1, sizeof *idem);
    if (!idem) {
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    idem->store = store;
    idem->cfg = *cfg;
    idem->cfg.data_key = NULL;
    idem->cfg.data_key_len = 0;
    idem->cfg.data_keys = NULL;
    idem->cfg.n_data_keys = 0;
    idem->cfg.hash_key = NULL;
    idem->cfg.hash_key_len = 0;
    idem->secrets = sodium_malloc(sizeof *idem->secrets);
    if (!idem->secrets) {
        free(idem);
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of secure memory");
        return NULL;
    }
    memset(idem->secrets, 0, sizeof *idem->secrets);
    set_up_secrets(idem->secrets, cfg);
    sodium_mprotect_readonly(idem->secrets);
    idem->has_ring = cfg->n_data_keys > 0;
    idem->has_data_key = cfg->data_key != NULL || idem->has_ring;
    if (cfg->local_cache_entries > 0) {
        idem->cache = gda_memory_cache_new(cfg->local_cache_entries, err);
        if (!idem->cache) {
            gda_idem_free(idem);
            return NULL;
        }
    }
    return idem;
}

void gda_idem_free(gda_idem *idem)
{
    if (!idem)
        return;
    sodium_free(idem->secrets); /* wipes before unmapping; NULL-safe */
    gda_store_close(idem->cache);
    free(idem);
}

void gda_idem_result_clear(gda_idem_result *res)
{
    if (!res)
        return;
    free(res->body);
    memset(res, 0, sizeof *res);
}

/* ---- payload hashing ---------------------------------------------------- */

gda_status gda_idem_payload_hash(const gda_idem *idem, const json_t *payload,
                                 uint8_t out[GDA_PAYLOAD_HASH_LEN], gda_error *err)
{
    if (!idem || !payload || !out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "payload hash: missing argument");
    char *canonical = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!canonical)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    gda_idem_payload_hash_bytes(idem, canonical, strlen(canonical), out);
    /* The canonical form may hold PII: do not leave it in freed memory. */
    sodium_memzero(canonical, strlen(canonical));
    free(canonical);
    return GDA_OK;
}

void gda_idem_payload_hash_bytes(const gda_idem *idem, const void *data, size_t len,
                                 uint8_t out[GDA_PAYLOAD_HASH_LEN])
{
    if (!out)
        return;
    if (!idem) {
        memset(out, 0, GDA_PAYLOAD_HASH_LEN);
        return;
    }
    gda_slice part = gda_slice_make(len ? data : "", len);
    gda_hmac_sha256_prepared(&idem->secrets->payload_key, &part, 1, out);
}

void gda_idem_principal_digest(const gda_idem *idem, const char *caller, const char *principal,
                               uint8_t out[GDA_PRINCIPAL_DIGEST_LEN])
{
    if (!out)
        return;
    if (!idem) {
        memset(out, 0, GDA_PRINCIPAL_DIGEST_LEN);
        return;
    }
    caller = caller ? caller : "";
    principal = principal ? principal : "";
    /* Length-prefixed, so ("ab", "c") and ("a", "bc") never collide. */
    size_t nc = strlen(caller), np = strlen(principal);
    uint8_t lens[16];
    for (int i = 0; i < 8; i++) {
        lens[i] = (uint8_t)((uint64_t)nc >> (8 * (7 - i)));
        lens[8 + i] = (uint8_t)((uint64_t)np >> (8 * (7 - i)));
    }
    gda_slice parts[3] = {gda_slice_make((const char *)lens, sizeof lens), gda_slice_make(caller, nc),
                          gda_slice_make(principal, np)};
    gda_hmac_sha256_prepared(&idem->secrets->principal_key, parts, 3, out);
}

/* ---- helpers ------------------------------------------------------------ */

static gda_status check_key(const char *key, gda_error *err)
{
    size_t n = strnlen(key, GDA_KEY_MAX + 1);
    if (n == 0)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL, "idempotency key is empty");
    if (n > GDA_KEY_MAX)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL,
                             "idempotency key is longer than %d bytes", GDA_KEY_MAX);
    if (!gda_utf8_valid(key, n))
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL,
                             "idempotency key is not valid UTF-8");
    return GDA_OK;
}

static void new_owner_token(char owner[GDA_OWNER_TOKEN_SIZE])
{
    unsigned char raw[(GDA_OWNER_TOKEN_SIZE - 1) / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(owner, GDA_OWNER_TOKEN_SIZE, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

static void put_be(uint8_t *p, uint32_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* The associated data that pins a sealed body to its record and, for a
 * ring's seal, to the id of its data key (key_id NULL: the legacy seal). */
static size_t seal_ad(uint8_t ad[SEAL_AD_MAX], const char *key_id, const char *key,
                      const uint8_t hash[GDA_PAYLOAD_HASH_LEN],
                      const uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN], gda_record_state state,
                      int status_code)
{
    size_t key_len = strnlen(key, GDA_KEY_MAX);
    size_t n = 0;
    if (key_id) {
        size_t id_len = strlen(key_id);
        memcpy(ad, SEAL_RING_LABEL, sizeof SEAL_RING_LABEL - 1);
        n += sizeof SEAL_RING_LABEL - 1;
        ad[n++] = (uint8_t)id_len;
        memcpy(ad + n, key_id, id_len);
        n += id_len;
    } else {
        memcpy(ad, SEAL_LABEL, sizeof SEAL_LABEL - 1);
        n += sizeof SEAL_LABEL - 1;
    }
    put_be(ad + n, (uint32_t)key_len, 2);
    n += 2;
    memcpy(ad + n, key, key_len);
    n += key_len;
    memcpy(ad + n, hash, GDA_PAYLOAD_HASH_LEN);
    n += GDA_PAYLOAD_HASH_LEN;
    memcpy(ad + n, principal, GDA_PRINCIPAL_DIGEST_LEN);
    n += GDA_PRINCIPAL_DIGEST_LEN;
    put_be(ad + n, (uint32_t)status_code, 4);
    n += 4;
    ad[n++] = (uint8_t)state;
    return n;
}

/* Seal body under the ring's first key (the id, then nonce and ciphertext)
 * or the legacy key (nonce and ciphertext); *flags gets the record flags. */
static gda_status seal_body(const gda_idem *idem, const gda_idem_lease *lease,
                            gda_record_state state, int status_code, const void *body,
                            size_t body_len, uint8_t **out, size_t *out_len, uint32_t *flags,
                            gda_error *err)
{
    const idem_secrets *sec = idem->secrets;
    const char *id = idem->has_ring ? sec->ids[0] : NULL;
    const size_t head = id ? 1 + strlen(id) : 0;
    if (body_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        body_len > SIZE_MAX - head - SEAL_NONCE_LEN - SEAL_TAG_LEN)
        return gda_error_set(err, GDA_ERR_PAYLOAD_TOO_LARGE, NULL, "result too large to cache");
    size_t total = head + SEAL_NONCE_LEN + body_len + SEAL_TAG_LEN;
    uint8_t *sealed = malloc(total);
    if (!sealed)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    if (id) {
        sealed[0] = (uint8_t)(head - 1);
        memcpy(sealed + 1, id, head - 1);
    }
    uint8_t ad[SEAL_AD_MAX];
    size_t ad_len =
        seal_ad(ad, id, lease->key, lease->payload_hash, lease->principal, state, status_code);
    uint8_t *nonce = sealed + head;
    randombytes_buf(nonce, SEAL_NONCE_LEN);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + SEAL_NONCE_LEN, &clen,
                                               body_len ? body : (const void *)"",
                                               body_len, ad, ad_len, NULL, nonce,
                                               id ? sec->ring[0] : sec->data_key);
    *out = sealed;
    *out_len = total;
    *flags = GDA_RECORD_ENCRYPTED | (id ? GDA_RECORD_KEY_ID : 0u);
    return GDA_OK;
}

/* The key that opens rec's sealed body, and its id (NULL: the legacy seal).
 * *nonce_at is where the nonce starts. NULL when this engine does not hold
 * the key (it has left the ring) or the id is malformed. */
static const uint8_t *opening_key(const gda_idem *idem, const gda_record *rec, const char **id,
                                  char id_buf[GDA_IDEM_DATA_KEY_ID_MAX + 1], size_t *nonce_at)
{
    const idem_secrets *sec = idem->secrets;
    *id = NULL;
    *nonce_at = 0;
    if (!(rec->flags & GDA_RECORD_KEY_ID))
        return idem->has_ring ? NULL : sec->data_key;
    if (!rec->body || rec->body_len < 1)
        return NULL;
    size_t id_len = rec->body[0];
    if (id_len == 0 || id_len > GDA_IDEM_DATA_KEY_ID_MAX || rec->body_len < 1 + id_len)
        return NULL;
    memcpy(id_buf, rec->body + 1, id_len);
    id_buf[id_len] = '\0';
    for (size_t i = 0; i < sec->n_ring; i++) {
        if (strcmp(sec->ids[i], id_buf) == 0) {
            *id = id_buf;
            *nonce_at = 1 + id_len;
            return sec->ring[i];
        }
    }
    return NULL;
}

/* Turn a stored COMPLETED/ACCEPTED record into a plaintext result, refusing
 * anything that does not authenticate. key is the key the caller asked for.
 * A result sealed under a data key this engine does not hold sets
 * *unreadable (when given) and returns GDA_ERR_NOT_FOUND: it is treated as
 * absent, never replayed. */
static gda_status open_result(const gda_idem *idem, const char *key, const gda_record *rec,
                              gda_idem_result *out, bool *unreadable, gda_error *err)
{
    if (rec->status_code < 100 || rec->status_code > 599)
        return gda_error_set(err, GDA_ERR_INTEGRITY, NULL, "cached result has no valid status");
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (rec->flags & GDA_RECORD_ENCRYPTED) {
        if (!idem->has_data_key)
            return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                                 "cached result is encrypted and no data key is configured");
        const char *id = NULL;
        char id_buf[GDA_IDEM_DATA_KEY_ID_MAX + 1];
        size_t at = 0;
        const uint8_t *dk = opening_key(idem, rec, &id, id_buf, &at);
        if (!dk) {
            if (unreadable)
                *unreadable = true;
            return gda_error_set(err, GDA_ERR_NOT_FOUND, NULL,
                                 "cached result is sealed under a data key no longer configured");
        }
        if (!rec->body || rec->body_len < at + SEAL_NONCE_LEN + SEAL_TAG_LEN)
            return gda_error_set(err, GDA_ERR_INTEGRITY, NULL, "cached result is truncated");
        const uint8_t *nonce = rec->body + at;
        const size_t sealed_len = rec->body_len - at - SEAL_NONCE_LEN;
        plain_len = sealed_len - SEAL_TAG_LEN;
        plain = malloc(plain_len ? plain_len : 1);
        if (!plain)
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        uint8_t ad[SEAL_AD_MAX];
        size_t ad_len = seal_ad(ad, id, key, rec->payload_hash, rec->principal, rec->state,
                                rec->status_code);
        unsigned long long mlen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL,
                                                       nonce + SEAL_NONCE_LEN, sealed_len, ad,
                                                       ad_len, nonce, dk) != 0) {
            free(plain);
            return gda_error_set(err, GDA_ERR_INTEGRITY, NULL,
                                 "cached result failed authentication");
        }
        if (plain_len == 0) {
            free(plain);
            plain = NULL;
        }
    } else {
        /* With a key configured, an unsealed record can only be a forgery or
         * a leftover from before encryption was enabled: neither is replayed. */
        if (idem->has_data_key)
            return gda_error_set(err, GDA_ERR_INTEGRITY, NULL, "cached result is not sealed");
        if (rec->body && rec->body_len) {
            if (!(plain = malloc(rec->body_len)))
                return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
            memcpy(plain, rec->body, rec->body_len);
            plain_len = rec->body_len;
        }
    }
    gda_idem_result_clear(out);
    out->state = rec->state;
    out->status_code = rec->status_code;
    out->body = plain;
    out->body_len = plain_len;
    return GDA_OK;
}

/* Best effort: a cache that cannot take the record only costs a round trip. */
static void cache_offer(const gda_idem *idem, const gda_record *rec, int64_t now_ms)
{
    if (!idem->cache || rec->state != GDA_RECORD_COMPLETED)
        return;
    gda_store_call call = {.now_ms = now_ms, .deadline_ms = 0};
    gda_store_put_if_absent(idem->cache, rec, &call, NULL, NULL, NULL);
}

static bool cache_lookup(const gda_idem *idem, const char *key, int64_t now_ms, gda_record *out)
{
    if (!idem->cache)
        return false;
    gda_store_call call = {.now_ms = now_ms, .deadline_ms = 0};
    bool found = false;
    if (gda_store_get(idem->cache, key, &call, out, &found, NULL) != GDA_OK || !found)
        return false;
    if (out->state != GDA_RECORD_COMPLETED || !gda_record_is_live(out, now_ms)) {
        gda_record_clear(out);
        return false;
    }
    return true;
}

static int64_t min_deadline(int64_t t, int64_t deadline_ms)
{
    return (deadline_ms > 0 && deadline_ms < t) ? deadline_ms : t;
}

/* A live record blocks the key: decide between MISMATCH, REPLAY and "still
 * running" (returned as GDA_OK with *outcome IN_PROGRESS, for the caller's
 * wait loop). */
static gda_status judge_existing(const gda_idem *idem, const char *key,
                                 const gda_record *mine, const gda_record *existing,
                                 bool from_cache, int64_t now_ms, gda_idem_outcome *outcome,
                                 gda_idem_result *replay, bool *unreadable, gda_error *err)
{
    const uint8_t *payload_hash = mine->payload_hash;
    /* Whose record it is comes first: another principal learns that the key
     * is taken and nothing else (not its payload, state or result). */
    if (sodium_memcmp(existing->principal, mine->principal, GDA_PRINCIPAL_DIGEST_LEN) != 0) {
        *outcome = GDA_IDEM_FOREIGN;
        return gda_error_set(err, GDA_ERR_KEY_CONFLICT, NULL,
                             "idempotency key is already in use by another request");
    }
    if (sodium_memcmp(existing->payload_hash, payload_hash, GDA_PAYLOAD_HASH_LEN) != 0) {
        *outcome = GDA_IDEM_MISMATCH;
        return gda_error_set(err, GDA_ERR_PAYLOAD_MISMATCH, NULL,
                             "idempotency key was already used with a different payload");
    }
    if (existing->state == GDA_RECORD_IN_PROGRESS) {
        *outcome = GDA_IDEM_IN_PROGRESS;
        gda_idem_result_clear(replay);
        replay->state = GDA_RECORD_IN_PROGRESS;
        replay->retry_after_ms =
            existing->lease_until_ms > now_ms ? existing->lease_until_ms - now_ms : 0;
        return GDA_OK;
    }
    gda_status st = open_result(idem, key, existing, replay, unreadable, err);
    if (st != GDA_OK)
        return st;
    *outcome = GDA_IDEM_REPLAY;
    if (!from_cache)
        cache_offer(idem, existing, now_ms);
    return GDA_OK;
}

static gda_status busy(const gda_idem *idem, gda_error *err)
{
    if (idem->cfg.busy_policy == GDA_IDEM_BUSY_CONFLICT)
        return gda_error_set(err, GDA_ERR_IN_PROGRESS, NULL,
                             "a request with this idempotency key is still running");
    return gda_error_set(err, GDA_ERR_BUSY, NULL,
                         "a request with this idempotency key is still running; retry");
}

/* A store call at now_ms with the engine's skew allowance. */
static gda_store_call store_call(const gda_idem *idem, int64_t now_ms, int64_t deadline_ms)
{
    gda_store_call call = {
        .now_ms = now_ms, .deadline_ms = deadline_ms, .skew_ms = idem->cfg.clock_skew_ms};
    return call;
}

/* Whether a stored record is our own write of mine: the owner token is 128
 * random bits, so a record holding it in the state we wrote is ours (a
 * lost answer, or a request an HTTP client re-sent on its own). */
static bool own_write(const gda_record *stored, const gda_record *mine)
{
    return stored->state == mine->state &&
           sodium_memcmp(stored->owner, mine->owner, GDA_OWNER_TOKEN_SIZE - 1) == 0;
}

/* ---- begin -------------------------------------------------------------- */

gda_status gda_idem_begin(gda_idem *idem, const char *key,
                          const uint8_t payload_hash[GDA_PAYLOAD_HASH_LEN],
                          const uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN], int64_t deadline_ms,
                          gda_idem_outcome *outcome, gda_idem_lease *lease,
                          gda_idem_result *replay, gda_error *err)
{
    if (!idem || !key || !payload_hash || !principal || !outcome || !lease || !replay)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "idempotency begin: missing argument");
    gda_status st = check_key(key, err);
    if (st != GDA_OK)
        return st;

    int64_t now = gda_clock_read(&idem->cfg.clock);
    if (deadline_ms > 0 && now >= deadline_ms)
        return gda_error_set(err, GDA_ERR_TIMEOUT, NULL, "invocation deadline already passed");
    const int64_t wait_until = min_deadline(now + idem->cfg.in_progress_wait_ms, deadline_ms);

    gda_record existing;
    memset(&existing, 0, sizeof existing);
    bool have_existing = cache_lookup(idem, key, now, &existing);
    bool from_cache = have_existing;

    gda_record mine;
    memset(&mine, 0, sizeof mine);
    mine.key = (char *)key;
    mine.state = GDA_RECORD_IN_PROGRESS;
    memcpy(mine.payload_hash, payload_hash, GDA_PAYLOAD_HASH_LEN);
    memcpy(mine.principal, principal, GDA_PRINCIPAL_DIGEST_LEN);
    new_owner_token(mine.owner);
    /* Owner of an unreadable result this call replaces (treated as absent). */
    char replace_owner[GDA_OWNER_TOKEN_SIZE] = "";

    for (;;) {
        if (!have_existing) {
            if (deadline_ms > 0 && now >= deadline_ms) {
                st = gda_error_set(err, GDA_ERR_TIMEOUT, NULL, "invocation deadline passed");
                break;
            }
            mine.lease_until_ms = min_deadline(now + idem->cfg.max_lease_ms, deadline_ms);
            /* Never let the record expire before its lease does. */
            int64_t lease_end_s = mine.lease_until_ms / 1000 + 1;
            mine.expires_at_s = now / 1000 + idem->cfg.ttl_s;
            if (mine.expires_at_s < lease_end_s)
                mine.expires_at_s = lease_end_s;
            gda_store_call call = store_call(idem, now, deadline_ms);
            call.replace_owner = replace_owner[0] ? replace_owner : NULL;
            bool inserted = false;
            st = gda_store_put_if_absent(idem->store, &mine, &call, &inserted, &existing, err);
            if (st != GDA_OK)
                break;
            if (!inserted && own_write(&existing, &mine)) {
                inserted = true;
                gda_record_clear(&existing);
            }
            if (inserted) {
                memset(lease, 0, sizeof *lease);
                memcpy(lease->key, key, strlen(key) + 1);
                memcpy(lease->owner, mine.owner, sizeof lease->owner);
                memcpy(lease->payload_hash, payload_hash, GDA_PAYLOAD_HASH_LEN);
                memcpy(lease->principal, principal, GDA_PRINCIPAL_DIGEST_LEN);
                lease->lease_until_ms = mine.lease_until_ms;
                lease->deadline_ms = deadline_ms;
                lease->replaced_unreadable = replace_owner[0] != '\0';
                *outcome = GDA_IDEM_NEW;
                break;
            }
            have_existing = true;
        }

        bool unreadable = false;
        st = judge_existing(idem, key, &mine, &existing, from_cache, now, outcome, replay,
                            &unreadable, err);
        from_cache = false;
        if (unreadable && !replace_owner[0]) {
            /* Its data key has left the ring: no result to replay, so run
             * again, replacing exactly that record (once per call). */
            memcpy(replace_owner, existing.owner, sizeof replace_owner);
            replace_owner[GDA_OWNER_TOKEN_SIZE - 1] = '\0';
            gda_error_clear(err);
            gda_record_clear(&existing);
            have_existing = false;
            continue;
        }
        if (st != GDA_OK || *outcome != GDA_IDEM_IN_PROGRESS)
            break;

        /* A twin holds the lease: wait for it, re-reading, within bounds. */
        if (now >= wait_until) {
            st = busy(idem, err);
            break;
        }
        int64_t nap = wait_until - now;
        if (nap > idem->cfg.poll_interval_ms)
            nap = idem->cfg.poll_interval_ms;
        gda_clock_wait(&idem->cfg.clock, nap);
        now = gda_clock_read(&idem->cfg.clock);

        gda_record_clear(&existing);
        gda_store_call call = store_call(idem, now, deadline_ms);
        bool found = false;
        st = gda_store_get(idem->store, key, &call, &existing, &found, err);
        if (st != GDA_OK)
            break;
        have_existing = found && gda_record_blocks_takeover(&existing, &call);
        if (found && !have_existing)
            gda_record_clear(&existing);
    }
    gda_record_clear(&existing);
    sodium_memzero(mine.owner, sizeof mine.owner);
    return st;
}

/* ---- complete, accept, abort -------------------------------------------- */

static bool cacheable_status(int status)
{
    if (status >= 200 && status <= 299)
        return status != 202;
    if (status >= 400 && status <= 499)
        return status != 408 && status != 425 && status != 429;
    return false;
}

/* complete() was refused: re-read the record to tell our own earlier write
 * (a lost answer, a silent resend, a repeated finish) from a lost lease. Ours
 * means our owner token, the state we wrote, and the same status and
 * plaintext body (a sealed body differs by its nonce, so compare opened). */
static gda_status confirm_own_finish(gda_idem *idem, const gda_record *mine, const void *body,
                                     size_t body_len, const gda_store_call *call,
                                     gda_error *err)
{
    gda_record stored;
    memset(&stored, 0, sizeof stored);
    bool found = false;
    gda_status st = gda_store_get(idem->store, mine->key, call, &stored, &found, err);
    if (st != GDA_OK)
        return st;
    bool ours = found && own_write(&stored, mine) && stored.status_code == mine->status_code &&
                !gda_record_expired(&stored, call->now_ms);
    if (ours) {
        gda_idem_result opened = {0};
        gda_error ignored;
        ours = open_result(idem, mine->key, &stored, &opened, NULL, &ignored) == GDA_OK &&
               opened.body_len == body_len &&
               (body_len == 0 || memcmp(opened.body, body, body_len) == 0);
        gda_idem_result_clear(&opened);
    }
    gda_record_clear(&stored);
    if (ours)
        return GDA_OK;
    return gda_error_set(err, GDA_ERR_LEASE_LOST, NULL,
                         "lease lost: the key was taken over, finished with another result, "
                         "or expired");
}

static gda_status finish(gda_idem *idem, const gda_idem_lease *lease, gda_record_state state,
                         int status_code, const void *body, size_t body_len, gda_error *err)
{
    if (!idem || !lease || (body_len && !body))
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "idempotency complete: missing argument");
    gda_status st = check_key(lease->key, err);
    if (st != GDA_OK)
        return st;

    const int64_t now = gda_clock_read(&idem->cfg.clock);
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = (char *)lease->key;
    rec.state = state;
    memcpy(rec.payload_hash, lease->payload_hash, GDA_PAYLOAD_HASH_LEN);
    memcpy(rec.principal, lease->principal, GDA_PRINCIPAL_DIGEST_LEN);
    memcpy(rec.owner, lease->owner, sizeof rec.owner);
    rec.owner[GDA_OWNER_TOKEN_SIZE - 1] = '\0';
    rec.lease_until_ms = lease->lease_until_ms;
    /* A clock stepped back while the handler ran must not shorten the TTL
     * (an early expiry would let a retry run the handler again). The lease
     * was fixed at begin as at most begin + max_lease, so lease end minus
     * max_lease is never after begin: counting from the later of it and now
     * keeps the exact "TTL from completion" of a steady clock and bounds what
     * a backward step can take off to one lease. */
    const int64_t begin_floor_ms = lease->lease_until_ms - idem->cfg.max_lease_ms;
    const int64_t ttl_base_ms = now > begin_floor_ms ? now : begin_floor_ms;
    rec.expires_at_s = ttl_base_ms / 1000 + idem->cfg.ttl_s;
    rec.status_code = status_code;

    uint8_t *sealed = NULL;
    if (idem->has_data_key) {
        size_t sealed_len = 0;
        st = seal_body(idem, lease, state, status_code, body, body_len, &sealed, &sealed_len,
                       &rec.flags, err);
        if (st != GDA_OK)
            return st;
        rec.body = sealed;
        rec.body_len = sealed_len;
    } else {
        rec.body = (uint8_t *)body;
        rec.body_len = body_len;
    }

    gda_store_call call = store_call(idem, now, 0);
    bool applied = false;
    st = gda_store_complete(idem->store, &rec, &call, &applied, err);
    if (st == GDA_OK && !applied) {
        st = confirm_own_finish(idem, &rec, body, body_len, &call, err);
    } else if (st == GDA_ERR_STORE || st == GDA_ERR_TIMEOUT) {
        /* The outcome is unknown: the write may have applied and only its
         * answer been lost. One read tells, when the store answers it. */
        gda_error ignored;
        if (confirm_own_finish(idem, &rec, body, body_len, &call, &ignored) == GDA_OK) {
            gda_error_clear(err);
            st = GDA_OK;
        }
    }
    if (st == GDA_OK)
        cache_offer(idem, &rec, now);
    free(sealed);
    sodium_memzero(rec.owner, sizeof rec.owner);
    return st;
}

gda_status gda_idem_complete(gda_idem *idem, const gda_idem_lease *lease, int status_code,
                             const void *body, size_t body_len, gda_error *err)
{
    if (!cacheable_status(status_code))
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                             "status %d is not a final result: abort or accept instead",
                             status_code);
    return finish(idem, lease, GDA_RECORD_COMPLETED, status_code, body, body_len, err);
}

gda_status gda_idem_accept(gda_idem *idem, const gda_idem_lease *lease, const void *body,
                           size_t body_len, gda_error *err)
{
    return finish(idem, lease, GDA_RECORD_ACCEPTED, 202, body, body_len, err);
}

gda_status gda_idem_abort(gda_idem *idem, const gda_idem_lease *lease, bool *released,
                          gda_error *err)
{
    if (!idem || !lease)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "idempotency abort: missing argument");
    gda_status st = check_key(lease->key, err);
    if (st != GDA_OK)
        return st;
    char owner[GDA_OWNER_TOKEN_SIZE];
    memcpy(owner, lease->owner, sizeof owner);
    owner[GDA_OWNER_TOKEN_SIZE - 1] = '\0';
    gda_store_call call = store_call(idem, gda_clock_read(&idem->cfg.clock), 0);
    bool applied = false;
    st = gda_store_release(idem->store, lease->key, owner, &call, &applied, err);
    sodium_memzero(owner, sizeof owner);
    if (released)
        *released = st == GDA_OK && applied;
    return st;
}

/* ---- lookup ------------------------------------------------------------- */

gda_status gda_idem_lookup(gda_idem *idem, const char *key,
                           const uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN], gda_idem_result *out,
                           gda_error *err)
{
    if (!idem || !key || !principal || !out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "idempotency lookup: missing argument");
    gda_status st = check_key(key, err);
    if (st != GDA_OK)
        return st;
    const int64_t now = gda_clock_read(&idem->cfg.clock);
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    const bool from_cache = cache_lookup(idem, key, now, &rec);
    if (!from_cache) {
        gda_store_call call = store_call(idem, now, 0);
        bool found = false;
        st = gda_store_get(idem->store, key, &call, &rec, &found, err);
        if (st != GDA_OK)
            return st;
        if (found && !gda_record_is_live(&rec, now))
            found = false;
        if (!found) {
            gda_record_clear(&rec);
            return gda_error_set(err, GDA_ERR_NOT_FOUND, NULL, "no such idempotency record");
        }
    }
    /* Another principal's record is no record at all, to this caller. */
    if (sodium_memcmp(rec.principal, principal, GDA_PRINCIPAL_DIGEST_LEN) != 0) {
        gda_record_clear(&rec);
        return gda_error_set(err, GDA_ERR_NOT_FOUND, NULL, "no such idempotency record");
    }
    if (rec.state == GDA_RECORD_IN_PROGRESS) {
        gda_idem_result_clear(out);
        out->state = GDA_RECORD_IN_PROGRESS;
        out->retry_after_ms = rec.lease_until_ms - now;
    } else {
        st = open_result(idem, key, &rec, out, NULL, err);
        if (st == GDA_OK && !from_cache)
            cache_offer(idem, &rec, now);
    }
    gda_record_clear(&rec);
    return st;
}
