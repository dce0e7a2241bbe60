/* libgda (private) — compact JWS / JWT pieces (see lib/jwt.h). */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "digest.h"

/* Non-secret text equality (algorithm names, claim values). */
static bool text_is(gda_slice a, const char *b)
{
    return gda_slice_eq(a, gda_slice_cstr(b));
}

static gda_slice json_text(const json_t *s)
{
    return gda_slice_make(json_string_value(s), json_string_length(s));
}

/* Strict base64url: no padding, no whitespace, only the URL-safe alphabet,
 * canonical trailing bits, whole input consumed. */
static bool b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    return gda_base64_decode(in, len, GDA_BASE64_URLSAFE, out, cap, out_len);
}

/* Decode one segment into a new NUL-terminated heap buffer. */
static gda_status decode_segment(const char *in, size_t len, size_t max_decoded, char **out,
                                 size_t *out_len)
{
    if (len == 0)
        return GDA_ERR_INVALID_REQUEST;
    size_t cap = gda_base64_decoded_max(len);
    if (cap > max_decoded + 3)
        return GDA_ERR_INVALID_REQUEST;
    char *buf = malloc(cap + 1);
    if (!buf)
        return GDA_ERR_NOMEM;
    size_t n = 0;
    if (!b64url_decode(in, len, (uint8_t *)buf, cap, &n) || n > max_decoded) {
        free(buf);
        return GDA_ERR_INVALID_REQUEST;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return GDA_OK;
}

gda_status gda_jws_parse(gda_slice token, gda_jws *out)
{
    memset(out, 0, sizeof *out);
    if (!token.ptr || token.len == 0 || token.len > GDA_JWT_MAX_TOKEN)
        return GDA_ERR_INVALID_REQUEST;
    const char *first = memchr(token.ptr, '.', token.len);
    if (!first)
        return GDA_ERR_INVALID_REQUEST;
    size_t rest = token.len - (size_t)(first - token.ptr) - 1;
    const char *second = memchr(first + 1, '.', rest);
    if (!second)
        return GDA_ERR_INVALID_REQUEST;
    const char *sig = second + 1;
    size_t sig_text = token.len - (size_t)(sig - token.ptr);
    if (memchr(sig, '.', sig_text)) /* JWE or garbage: exactly three segments */
        return GDA_ERR_INVALID_REQUEST;

    out->signing_input = gda_slice_make(token.ptr, (size_t)(second - token.ptr));
    gda_status st = decode_segment(token.ptr, (size_t)(first - token.ptr), GDA_JWT_MAX_HEADER,
                                   &out->header, &out->header_len);
    if (st != GDA_OK)
        return st;
    st = decode_segment(first + 1, (size_t)(second - first - 1), GDA_JWT_MAX_TOKEN,
                        &out->payload, &out->payload_len);
    if (st != GDA_OK)
        return st;
    /* 64 bytes of signature is 86 characters; anything longer is refused
     * before decoding. */
    if (sig_text > 86)
        return GDA_ERR_INVALID_REQUEST;
    if (sig_text > 0 && !b64url_decode(sig, sig_text, out->sig, sizeof out->sig, &out->sig_len))
        return GDA_ERR_INVALID_REQUEST;
    return GDA_OK;
}

void gda_jws_release(gda_jws *jws)
{
    if (!jws)
        return;
    free(jws->header);
    free(jws->payload);
    sodium_memzero(jws, sizeof *jws);
}

static json_t *load_object(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

gda_auth_reason gda_jws_read_header(const gda_jws *jws, unsigned allowed, gda_jws_header *out)
{
    memset(out, 0, sizeof *out);
    json_t *h = load_object(jws->header, jws->header_len);
    if (!h)
        return GDA_AUTH_MALFORMED;
    gda_auth_reason reason = GDA_AUTH_ACCEPTED;
    json_t *alg = json_object_get(h, "alg");
    json_t *typ = json_object_get(h, "typ");
    json_t *kid = json_object_get(h, "kid");
    if (!json_is_string(alg)) {
        reason = GDA_AUTH_ALGORITHM;
    } else if (text_is(json_text(alg), "HS256")) {
        out->alg = GDA_JWT_HS256;
    } else if (text_is(json_text(alg), "EdDSA")) {
        out->alg = GDA_JWT_EDDSA;
    } else {
        reason = GDA_AUTH_ALGORITHM; /* "none", RS256, lower-case spellings… */
    }
    if (reason == GDA_AUTH_ACCEPTED && !(out->alg & allowed))
        reason = GDA_AUTH_ALGORITHM;
    /* We implement no extensions, so any "crit" must be refused (RFC 7515 4.1.11). */
    if (reason == GDA_AUTH_ACCEPTED && json_object_get(h, "crit"))
        reason = GDA_AUTH_MALFORMED;
    if (reason == GDA_AUTH_ACCEPTED && typ &&
        !(json_is_string(typ) && (text_is(json_text(typ), "JWT") || text_is(json_text(typ), "jwt"))))
        reason = GDA_AUTH_MALFORMED;
    if (reason == GDA_AUTH_ACCEPTED && kid) {
        gda_slice k = json_is_string(kid) ? json_text(kid) : GDA_SLICE_NULL;
        bool ok = k.len > 0 && k.len <= GDA_KEY_ID_MAX;
        for (size_t i = 0; ok && i < k.len; i++)
            ok = id_char(k.ptr[i]);
        if (ok) {
            memcpy(out->kid, k.ptr, k.len);
            out->kid[k.len] = '\0';
            out->has_kid = true;
        } else {
            reason = GDA_AUTH_MALFORMED;
        }
    }
    json_decref(h);
    return reason;
}

bool gda_jws_check_hs256(const gda_jws *jws, const gda_hmac_key *key)
{
    uint8_t mac[GDA_SHA256_LEN];
    uint8_t given[GDA_SHA256_LEN] = {0};
    gda_hmac_sha256_prepared(key, &jws->signing_input, 1, mac);
    /* Compare a full 32 bytes whatever arrived, then fold in the length. */
    memcpy(given, jws->sig, jws->sig_len < sizeof given ? jws->sig_len : sizeof given);
    int same = crypto_verify_32(mac, given) == 0;
    sodium_memzero(mac, sizeof mac);
    return same & (jws->sig_len == GDA_SHA256_LEN);
}

bool gda_jws_check_eddsa(const gda_jws *jws, const uint8_t *public_key)
{
    if (jws->sig_len != crypto_sign_BYTES)
        return false;
    return crypto_sign_verify_detached(jws->sig, (const unsigned char *)jws->signing_input.ptr,
                                       jws->signing_input.len, public_key) == 0;
}

/* A NumericDate claim: absent (*present false), a finite number, or malformed. */
static bool read_time(const json_t *claims, const char *name, bool *present, double *value)
{
    json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    if (!v)
        return true;
    if (!json_is_number(v))
        return false;
    *value = json_number_value(v);
    /* Beyond ±1e13 s (300 000 years) is not a date; the comparisons also
     * refuse NaN and infinities. */
    return *value < 1e13 && *value > -1e13;
}

gda_auth_reason gda_jwt_check_claims(const gda_jws *jws, const gda_jwt_policy *policy,
                                     int64_t now_ms, char *subject, size_t subject_size)
{
    if (subject && subject_size)
        subject[0] = '\0';
    json_t *c = load_object(jws->payload, jws->payload_len);
    if (!c)
        return GDA_AUTH_MALFORMED;
    gda_auth_reason reason = GDA_AUTH_ACCEPTED;
    double now = (double)now_ms / 1000.0, leeway = (double)policy->leeway_s;
    bool has_exp, has_nbf, has_iat;
    double exp = 0, nbf = 0, iat = 0;
    if (!read_time(c, "exp", &has_exp, &exp) || !read_time(c, "nbf", &has_nbf, &nbf) ||
        !read_time(c, "iat", &has_iat, &iat) || (policy->require_exp && !has_exp)) {
        reason = GDA_AUTH_MALFORMED;
    } else if ((has_exp && now >= exp + leeway) || (has_nbf && now < nbf - leeway) ||
               (has_iat && iat > now + leeway)) {
        reason = GDA_AUTH_EXPIRED;
    } else if (has_exp && policy->max_lifetime_s > 0 &&
               exp - (has_iat ? iat : now) > (double)policy->max_lifetime_s) {
        /* A token that lives longer than the operator allows is a stolen
         * credential waiting to happen: refused even though it is valid. */
        reason = GDA_AUTH_LIFETIME;
    }
    if (reason == GDA_AUTH_ACCEPTED && policy->issuer) {
        json_t *iss = json_object_get(c, "iss");
        if (!json_is_string(iss) || !text_is(json_text(iss), policy->issuer))
            reason = GDA_AUTH_MISMATCH;
    }
    if (reason == GDA_AUTH_ACCEPTED && policy->audience) {
        json_t *aud = json_object_get(c, "aud");
        bool found = json_is_string(aud) && text_is(json_text(aud), policy->audience);
        if (json_is_array(aud)) {
            size_t i;
            json_t *item;
            json_array_foreach(aud, i, item) {
                if (json_is_string(item) && text_is(json_text(item), policy->audience))
                    found = true;
            }
        }
        if (!found)
            reason = GDA_AUTH_MISMATCH;
    }
    if (reason == GDA_AUTH_ACCEPTED && subject && subject_size) {
        json_t *sub = json_object_get(c, "sub");
        if (json_is_string(sub)) {
            gda_slice s = json_text(sub);
            bool printable = s.len > 0 && s.len < subject_size;
            for (size_t i = 0; printable && i < s.len; i++)
                printable = s.ptr[i] >= 0x20 && s.ptr[i] < 0x7f;
            if (printable) {
                memcpy(subject, s.ptr, s.len);
                subject[s.len] = '\0';
            }
        }
    }
    json_decref(c);
    return reason;
}

char *gda_b64url_encode(const void *in, size_t len)
{
    return gda_base64_encode_alloc(in, len, GDA_BASE64_URLSAFE);
}

gda_status gda_jws_sign(unsigned alg, const uint8_t *key, size_t key_len, gda_slice header_json,
                        gda_slice payload, char **out)
{
    *out = NULL;
    if ((alg == GDA_JWT_EDDSA && key_len != crypto_sign_SECRETKEYBYTES) ||
        (alg == GDA_JWT_HS256 && key_len == 0) || (alg != GDA_JWT_EDDSA && alg != GDA_JWT_HS256))
        return GDA_ERR_CONFIG;
    char *h = gda_b64url_encode(header_json.ptr, header_json.len);
    char *p = gda_b64url_encode(payload.ptr, payload.len);
    if (!h || !p) {
        free(h);
        free(p);
        return GDA_ERR_NOMEM;
    }
    size_t hl = strlen(h), pl = strlen(p);
    /* 86 characters hold a 64-byte signature; +3 for two dots and the NUL. */
    size_t total = hl + pl + 86 + 3;
    char *tok = malloc(total);
    if (!tok) {
        free(h);
        free(p);
        return GDA_ERR_NOMEM;
    }
    memcpy(tok, h, hl);
    tok[hl] = '.';
    memcpy(tok + hl + 1, p, pl);
    size_t input_len = hl + 1 + pl;
    free(h);
    free(p);
    uint8_t sig[crypto_sign_BYTES];
    size_t sig_len;
    if (alg == GDA_JWT_HS256) {
        gda_slice input = gda_slice_make(tok, input_len);
        gda_hmac_sha256_parts(key, key_len, &input, 1, sig);
        sig_len = GDA_SHA256_LEN;
    } else {
        crypto_sign_detached(sig, NULL, (const unsigned char *)tok, input_len, key);
        sig_len = crypto_sign_BYTES;
    }
    tok[input_len] = '.';
    gda_base64_encode(sig, sig_len, GDA_BASE64_URLSAFE, tok + input_len + 1);
    *out = tok;
    return GDA_OK;
}
