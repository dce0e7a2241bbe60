/* libgda — signing (include/gda/sign.h): the headers a caller sends so that
 * a verifier accepts its request, for each scheme. */
#include <gda/sign.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "digest.h"
#include "hex.h"
#include "jwt.h"
#include "keyring_private.h"
#include "verify_hmac.h"
#include "verify_private.h"

static gda_status add_header(gda_signed_headers *out, const char *name, char *value)
{
    if (!value)
        return GDA_ERR_NOMEM;
    snprintf(out->headers[out->n].name, sizeof out->headers[out->n].name, "%s", name);
    out->headers[out->n].value = value;
    out->n++;
    return GDA_OK;
}

/* prefix + " " + text (prefix NULL: text alone) as a new heap string. */
static char *with_prefix(const char *prefix, const char *text)
{
    size_t need = (prefix ? strlen(prefix) + 1 : 0) + strlen(text) + 1;
    char *s = malloc(need);
    if (s)
        snprintf(s, need, "%s%s%s", prefix ? prefix : "", prefix ? " " : "", text);
    return s;
}

static const gda_ring_entry *signing_entry(const gda_keyring *ring, const char *key_id)
{
    if (key_id)
        return gda_keyring_find(ring, gda_slice_cstr(key_id));
    for (size_t i = 0; i < ring->n; i++) {
        if (ring->entries[i].type == GDA_KEY_SECRET)
            return &ring->entries[i];
    }
    return NULL;
}

/* "id:ed25519-private:BASE64(seed)" → kid and a libsodium secret key. */
static gda_status read_private(const char *text, size_t len, char kid[GDA_KEY_ID_MAX + 1],
                               uint8_t sk[crypto_sign_SECRETKEYBYTES], gda_error *err)
{
    gda_slice s = gda_text_trim(gda_slice_make(text, len));
    const char *c1 = s.len ? memchr(s.ptr, ':', s.len) : NULL;
    gda_slice id = c1 ? gda_slice_make(s.ptr, (size_t)(c1 - s.ptr)) : GDA_SLICE_NULL;
    gda_slice rest = c1 ? gda_slice_make(c1 + 1, s.len - id.len - 1) : GDA_SLICE_NULL;
    const char *c2 = rest.len ? memchr(rest.ptr, ':', rest.len) : NULL;
    gda_slice tag = c2 ? gda_slice_make(rest.ptr, (size_t)(c2 - rest.ptr)) : GDA_SLICE_NULL;
    gda_slice b64 = c2 ? gda_slice_make(c2 + 1, rest.len - tag.len - 1) : GDA_SLICE_NULL;
    uint8_t seed[crypto_sign_SEEDBYTES + 3];
    size_t got = 0;
    bool ok = gda_key_id_valid(id) && gda_text_is(tag, GDA_ED25519_PRIVATE_TAG) && b64.len <= 44 &&
              gda_key_b64_decode(b64.ptr, b64.len, seed, sizeof seed, &got) &&
              got == crypto_sign_SEEDBYTES;
    if (ok) {
        uint8_t pk[crypto_sign_PUBLICKEYBYTES];
        crypto_sign_seed_keypair(pk, sk, seed);
        memcpy(kid, id.ptr, id.len);
        kid[id.len] = '\0';
    }
    sodium_memzero(seed, sizeof seed);
    if (!ok)
        return gda_error_set(err, GDA_ERR_CONFIG, "signing_key",
                             "the signing key must read id:ed25519-private:BASE64 (32-byte seed)");
    return GDA_OK;
}

static gda_status sign_jwt(const gda_verifier *v, const gda_ring_entry *e, const gda_sign_params *p,
                           char **token, gda_error *err)
{
    unsigned alg = p->ed25519_private ? GDA_JWT_EDDSA : GDA_JWT_HS256;
    if (!(v->jwt_algs & alg))
        return gda_error_set(err, GDA_ERR_CONFIG, "alg",
                             "the verifier does not allow %s", alg == GDA_JWT_HS256 ? "HS256" : "EdDSA");
    char kid[GDA_KEY_ID_MAX + 1];
    uint8_t *sk = NULL;
    gda_status st = GDA_OK;
    if (alg == GDA_JWT_EDDSA) {
        sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
        if (!sk)
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of secure memory");
        st = read_private(p->ed25519_private, p->ed25519_private_len, kid, sk, err);
    } else if (!e || e->type != GDA_KEY_SECRET) {
        st = gda_error_set(err, GDA_ERR_CONFIG, "key_id", "no such secret key in the ring");
    } else {
        snprintf(kid, sizeof kid, "%s", e->id);
    }
    int64_t ttl = p->jwt_ttl_s ? p->jwt_ttl_s : 300;
    if (st == GDA_OK && (ttl < 1 || ttl > 86400 * 366 || p->now_ms < 0))
        st = gda_error_set(err, GDA_ERR_CONFIG, "ttl", "the JWT lifetime must be 1 s..1 year");
    json_t *header = NULL, *claims = NULL;
    char *header_text = NULL, *claims_text = NULL;
    if (st == GDA_OK) {
        json_int_t iat = (json_int_t)(p->now_ms / 1000);
        header = json_pack("{s:s, s:s, s:s}", "alg", alg == GDA_JWT_HS256 ? "HS256" : "EdDSA",
                           "typ", "JWT", "kid", kid);
        claims = json_pack("{s:I, s:I, s:s}", "iat", iat, "exp", iat + (json_int_t)ttl, "sub",
                           p->jwt_subject ? p->jwt_subject : kid);
        if (claims && v->policy.issuer &&
            json_object_set_new(claims, "iss", json_string(v->policy.issuer)) != 0)
            st = GDA_ERR_NOMEM;
        if (claims && v->policy.audience &&
            json_object_set_new(claims, "aud", json_string(v->policy.audience)) != 0)
            st = GDA_ERR_NOMEM;
        header_text = header ? json_dumps(header, JSON_COMPACT) : NULL;
        claims_text = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
        if (!header_text || !claims_text)
            st = GDA_ERR_NOMEM;
        if (st == GDA_OK)
            st = gda_jws_sign(alg, alg == GDA_JWT_HS256 ? e->key : sk,
                              alg == GDA_JWT_HS256 ? e->len : crypto_sign_SECRETKEYBYTES,
                              gda_slice_cstr(header_text), gda_slice_cstr(claims_text), token);
        if (st != GDA_OK)
            gda_error_set(err, st, NULL, st == GDA_ERR_NOMEM ? "out of memory" : "cannot sign");
    }
    json_decref(header);
    json_decref(claims);
    free(header_text);
    free(claims_text);
    sodium_free(sk);
    return st;
}

gda_status gda_verifier_sign(gda_verifier *v, const gda_sign_params *params, gda_slice body,
                             gda_signed_headers *out, gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no output for the headers");
    memset(out, 0, sizeof *out);
    if (!v || !params)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "missing verifier or parameters");
    gda_keyring *ring = gda_verifier_current_ring(v);
    const gda_ring_entry *e = signing_entry(ring, params->key_id);
    gda_status st = GDA_OK;
    bool needs_secret = !(v->scheme == GDA_AUTH_JWT && params->ed25519_private);
    if (needs_secret && (!e || e->type != GDA_KEY_SECRET)) {
        st = gda_error_set(err, GDA_ERR_CONFIG, "key_id", "no such secret key in the ring");
    } else if (v->scheme == GDA_AUTH_TOKEN) {
        char *b64 = gda_key_b64_encode(e->key, e->len);
        char *value = b64 ? with_prefix(v->header_is_authorization ? "Bearer" : NULL, b64) : NULL;
        gda_secret_free(b64);
        st = add_header(out, v->header, value);
    } else if (v->scheme == GDA_AUTH_HMAC_SHA256 && params->now_ms < 0) {
        st = gda_error_set(err, GDA_ERR_CONFIG, "now", "the signing time must not be negative");
    } else if (v->scheme == GDA_AUTH_HMAC_SHA256) {
        char ts[24];
        snprintf(ts, sizeof ts, "%lld", (long long)(params->now_ms / 1000));
        char body_hex[2 * GDA_SHA256_LEN + 1];
        gda_body_hash_hex(body, body_hex);
        gda_slice parts[GDA_HMAC_V1_PARTS];
        size_t n_parts =
            gda_hmac_v1_parts(gda_slice_cstr(params->method ? params->method : "POST"),
                              gda_slice_cstr(params->path ? params->path : "/genesys/dataaction"),
                              GDA_SLICE_NULL,
                              v->hmac_timestamp ? gda_slice_cstr(ts) : GDA_SLICE_NULL, body_hex,
                              parts);
        uint8_t mac[GDA_SHA256_LEN];
        gda_hmac_sha256_prepared(e->hmac, parts, n_parts, mac);
        char hex[2 * GDA_SHA256_LEN + 4] = "v1=";
        gda_hex_encode(mac, sizeof mac, hex + 3, GDA_HEX_LOWER);
        hex[sizeof hex - 1] = '\0';
        st = add_header(out, v->header, strdup(hex));
        if (st == GDA_OK && v->hmac_timestamp)
            st = add_header(out, v->timestamp_header, strdup(ts));
    } else if (v->scheme == GDA_AUTH_JWT) {
        char *token = NULL;
        st = sign_jwt(v, e, params, &token, err);
        if (st == GDA_OK) {
            char *value = with_prefix(v->header_is_authorization ? "Bearer" : NULL, token);
            free(token);
            st = add_header(out, v->header, value);
        }
    } else if (v->scheme == GDA_AUTH_BASIC) {
        char *b64 = gda_key_b64_encode(e->key, e->len);
        size_t pair_len = e->id_len + 1 + (b64 ? strlen(b64) : 0);
        char *pair = b64 ? malloc(pair_len + 1) : NULL;
        char *pair64 = NULL;
        if (pair) {
            snprintf(pair, pair_len + 1, "%s:%s", e->id, b64);
            pair64 = gda_key_b64_encode((const uint8_t *)pair, pair_len);
        }
        char *value = pair64 ? with_prefix("Basic", pair64) : NULL;
        gda_secret_free(b64);
        gda_secret_free(pair);
        gda_secret_free(pair64);
        st = add_header(out, v->header, value);
    }
    gda_keyring_free(ring);
    if (st == GDA_ERR_NOMEM)
        gda_error_set(err, st, NULL, "out of memory");
    if (st != GDA_OK)
        gda_signed_headers_release(out);
    return st;
}

void gda_signed_headers_release(gda_signed_headers *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n && i < GDA_SIGNED_MAX_HEADERS; i++)
        gda_secret_free(h->headers[i].value);
    memset(h, 0, sizeof *h);
}
