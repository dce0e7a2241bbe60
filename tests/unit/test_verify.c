/* Tests for include/gda/verify.h: key rings, the four schemes, rotation,
 * signing and the API Gateway authorizer policy. Published vectors: RFC 4231
 * (HMAC-SHA256) through the hmac scheme, RFC 8037 A.4 (Ed25519 JWS). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <gda/authorizer.h>
#include <gda/sign.h>
#include <gda/verify.h>

#include "event_internal.h"
#include "jwt.h"
#include "rfc4231.h"
#include "test_hex.h"

#define NOW_S 1800000000LL
#define NOW_MS (NOW_S * 1000)

/* ---- helpers ------------------------------------------------------------ */

static char *b64(const void *bytes, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    assert_non_null(out);
    sodium_bin2base64(out, cap, bytes, len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* The fixed test secrets: 32 bytes each, as ring entries. */
#define SECRET_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" /* 00..1f */
#define SECRET_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=" /* 20..3f */
#define SECRET_C "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=" /* 40..5f */

static gda_keyring *ring_of(const char *cfg)
{
    gda_keyring *r = NULL;
    gda_error err;
    gda_status st = gda_keyring_parse(cfg, strlen(cfg), &r, &err);
    if (st != GDA_OK)
        fail_msg("key ring \"%s\": %s", cfg, err.message);
    return r;
}

static gda_verifier *verifier_of(gda_verifier_options o, const char *cfg)
{
    gda_verifier *v = NULL;
    gda_error err;
    gda_keyring *r = ring_of(cfg);
    gda_status st = gda_verifier_new(&o, r, &v, &err);
    if (st != GDA_OK)
        fail_msg("verifier: %s", err.message);
    return v;
}

static gda_http_request request(const gda_header *hs, size_t n, const char *body)
{
    gda_http_request req;
    memset(&req, 0, sizeof req);
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_cstr("POST");
    req.path = gda_slice_cstr("/genesys/dataaction"); /* what the signer binds by default */
    req.headers = hs;
    req.n_headers = n;
    req.body = gda_slice_cstr(body);
    return req;
}

static gda_header hdr(const char *name, const char *value)
{
    gda_header h = {gda_slice_cstr(name), gda_slice_cstr(value)};
    return h;
}

/* Verify and check the status agrees with the reason and that a refusal is
 * generic. Returns the reason; key_out (optional) gets the matched id. */
static gda_auth_reason check(gda_verifier *v, const gda_header *hs, size_t n, const char *body,
                             int64_t now_ms, char *key_out)
{
    gda_http_request req = request(hs, n, body);
    gda_auth_result res;
    gda_error err;
    gda_status st = gda_verifier_verify(v, &req, now_ms, &res, &err);
    if (res.reason == GDA_AUTH_ACCEPTED) {
        assert_int_equal(st, GDA_OK);
        assert_true(res.key_id[0] != '\0');
        assert_true(res.principal[0] != '\0');
    } else {
        assert_int_equal(st, GDA_ERR_UNAUTHORIZED);
        assert_string_equal(err.message, "unauthorized");
        assert_string_equal(res.key_id, "");
    }
    assert_int_equal(res.scheme, gda_verifier_scheme(v));
    if (key_out)
        strcpy(key_out, res.key_id);
    return res.reason;
}

static gda_auth_reason check1(gda_verifier *v, const char *name, const char *value,
                              const char *body, int64_t now_ms)
{
    gda_header h = hdr(name, value);
    return check(v, &h, 1, body, now_ms, NULL);
}

/* Sign with the verifier itself, then return the first header's value
 * (copied into out). */
static void sign_value(gda_verifier *v, const char *key_id, const char *body, int64_t now_ms,
                       char *out, size_t cap, char *ts_out)
{
    gda_sign_params p;
    memset(&p, 0, sizeof p);
    p.key_id = key_id;
    p.now_ms = now_ms;
    gda_signed_headers h;
    gda_error err;
    gda_status st = gda_verifier_sign(v, &p, gda_slice_cstr(body), &h, &err);
    if (st != GDA_OK)
        fail_msg("sign: %s", err.message);
    assert_true(strlen(h.headers[0].value) < cap);
    strcpy(out, h.headers[0].value);
    if (ts_out) {
        assert_int_equal(h.n, 2);
        strcpy(ts_out, h.headers[1].value);
    }
    gda_signed_headers_release(&h);
}

/* ---- key ring ----------------------------------------------------------- */

static void test_keyring_parse(void **state)
{
    (void)state;
    /* whitespace around entries, optional padding, a typed Ed25519 entry */
    const char *cfg = "  k2:" SECRET_B " ,\n k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8,"
                      "ed.1:ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n";
    gda_keyring *r = ring_of(cfg);
    assert_int_equal(gda_keyring_size(r), 3);
    assert_string_equal(gda_keyring_id(r, 0), "k2");
    assert_string_equal(gda_keyring_id(r, 1), "k1");
    assert_string_equal(gda_keyring_id(r, 2), "ed.1");
    assert_null(gda_keyring_id(r, 3));
    assert_int_equal(gda_keyring_type(r, 0), GDA_KEY_SECRET);
    assert_int_equal(gda_keyring_type(r, 2), GDA_KEY_ED25519_PUBLIC);
    /* references */
    assert_ptr_equal(gda_keyring_ref(r), r);
    gda_keyring_free(r);
    assert_int_equal(gda_keyring_size(r), 3); /* still alive: one reference left */
    gda_keyring_free(r);
    gda_keyring_free(NULL);
    assert_null(gda_keyring_ref(NULL));
    /* the config need not be NUL-terminated */
    gda_keyring *r2 = NULL;
    char buf[] = "k1:QUJDREVGR0hJSktMTU5PUA==,XXXXXXXX";
    assert_int_equal(gda_keyring_parse(buf, 27, &r2, NULL), GDA_OK);
    assert_int_equal(gda_keyring_size(r2), 1);
    gda_keyring_free(r2);
}

static void test_keyring_errors(void **state)
{
    (void)state;
    char many[40 * 12 + 1] = "";
    for (int i = 0; i < 33; i++) {
        char e[16];
        snprintf(e, sizeof e, "%sk%d:QUJD", i ? "," : "", i);
        strcat(many, e);
    }
    char long_value[800] = "k1:";
    memset(long_value + 3, 'Q', 700);
    long_value[703] = '\0';
    char long_id[80];
    memset(long_id, 'a', 65);
    strcpy(long_id + 65, ":QUJD");
    struct {
        const char *cfg;
        const char *expect; /* substring of the message */
    } cases[] = {
        {"", "empty"},
        {"  \n", "empty"},
        {"SECRETTEXTZZ", "entry 1: expected id:BASE64"},
        {"k1:", "entry 1 (\"k1\"): empty value"},
        {":QUJD", "entry 1: the id must be"},
        {"k 1:QUJD", "entry 1: the id must be"},
        {long_id, "entry 1: the id must be"},
        {"k1:QUJD,k1:REVG", "entry 2 (\"k1\"): duplicate id"},
        {"k1:QUJD", "entry 1 (\"k1\"): a secret must be at least 16 bytes"},
        {"k1:" SECRET_A ",k2:QUJDREVGR0hJSktMTU5P", "entry 2 (\"k2\"): a secret must be at least 16"},
        {"k1:QUJD,,k2:REVG", "entry 2: empty entry"},
        {"k1:QUJD,", "entry 2: empty entry"},
        {"k1:QU*D", "entry 1 (\"k1\"): value is not valid base64"},
        {"k1:QUJD=", "not valid base64"},
        {"k1:QUI==", "not valid base64"},
        {"k1:Q", "not valid base64"},
        {"k1:QUJD-_", "not valid base64"},
        {"k1:ed25519:QUJD", "an Ed25519 public key is 32 bytes"},
        {"k1:ed25519-private:" SECRET_A, "private key"},
        {"k1:rsa:QUJD", "unknown key type"},
        {many, "more than 32 entries"},
        {long_value, "longer than 512 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gda_keyring *r = (gda_keyring *)&r; /* must be reset to NULL */
        gda_error err;
        gda_status st = gda_keyring_parse(cases[i].cfg, strlen(cases[i].cfg), &r, &err);
        if (st != GDA_ERR_CONFIG)
            fail_msg("case %zu accepted", i);
        assert_null(r);
        assert_int_equal(err.code, GDA_ERR_CONFIG);
        if (!strstr(err.message, cases[i].expect))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.message, cases[i].expect);
        /* values never reach the message */
        assert_null(strstr(err.message, "QUJD"));
        assert_null(strstr(err.message, "SECRETTEXT"));
        assert_null(strstr(err.message, SECRET_A));
    }
    assert_int_equal(gda_keyring_parse(NULL, 0, NULL, NULL), GDA_ERR_INTERNAL);
}

static void test_keygen(void **state)
{
    (void)state;
    char *entry = NULL;
    assert_int_equal(gda_keygen_secret("genesys", &entry, NULL), GDA_OK);
    assert_true(strncmp(entry, "genesys:", 8) == 0);
    assert_int_equal(strlen(entry), 8 + 44); /* 32 bytes of base64 */
    gda_keyring *r = ring_of(entry);
    assert_int_equal(gda_keyring_type(r, 0), GDA_KEY_SECRET);
    gda_keyring_free(r);
    char *other = NULL;
    assert_int_equal(gda_keygen_secret(NULL, &other, NULL), GDA_OK);
    assert_true(strncmp(other, "k1:", 3) == 0);
    assert_true(strcmp(entry + 8, other + 3) != 0); /* random, not fixed */
    gda_secret_free(entry);
    gda_secret_free(other);

    char *priv = NULL, *pub = NULL;
    assert_int_equal(gda_keygen_ed25519("ed", &priv, &pub, NULL), GDA_OK);
    assert_true(strncmp(priv, "ed:ed25519-private:", 19) == 0);
    assert_true(strncmp(pub, "ed:ed25519:", 11) == 0);
    gda_keyring *bad = NULL;
    gda_error err;
    assert_int_equal(gda_keyring_parse(priv, strlen(priv), &bad, &err), GDA_ERR_CONFIG);
    assert_null(strstr(err.message, priv + 19));
    gda_keyring *pr = ring_of(pub);
    assert_int_equal(gda_keyring_type(pr, 0), GDA_KEY_ED25519_PUBLIC);
    gda_keyring_free(pr);

    /* the pair works end to end: sign with the private text, verify with the public entry */
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_JWT), pub);
    gda_sign_params p = {.ed25519_private = priv, .ed25519_private_len = strlen(priv),
                         .now_ms = NOW_MS};
    gda_signed_headers h;
    assert_int_equal(gda_verifier_sign(v, &p, gda_slice_cstr("{}"), &h, NULL), GDA_OK);
    char key[GDA_KEY_ID_MAX + 1];
    gda_header hh = hdr(h.headers[0].name, h.headers[0].value);
    assert_int_equal(check(v, &hh, 1, "{}", NOW_MS, key), GDA_AUTH_ACCEPTED);
    assert_string_equal(key, "ed");
    gda_signed_headers_release(&h);
    gda_verifier_free(v);
    gda_secret_free(priv);
    gda_secret_free(pub);

    assert_int_equal(gda_keygen_secret("bad id", &entry, &err), GDA_ERR_CONFIG);
    assert_null(entry);
    assert_int_equal(gda_keygen_ed25519("", &priv, &pub, &err), GDA_ERR_CONFIG);
    assert_null(priv);
    assert_null(pub);
}

/* ---- token -------------------------------------------------------------- */

static void test_token(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_TOKEN),
                                  "old:" SECRET_A ",new:" SECRET_B);
    char key[GDA_KEY_ID_MAX + 1];
    gda_header h = hdr("X-Genesys-Signature", SECRET_B);
    assert_int_equal(check(v, &h, 1, "", NOW_MS, key), GDA_AUTH_ACCEPTED);
    assert_string_equal(key, "new");
    h = hdr("x-genesys-signature", "  " SECRET_A " ");
    assert_int_equal(check(v, &h, 1, "", NOW_MS, key), GDA_AUTH_ACCEPTED);
    assert_string_equal(key, "old");
    /* padding optional, as in the ring */
    assert_int_equal(check1(v, "X-Genesys-Signature",
                            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "", NOW_MS),
                     GDA_AUTH_ACCEPTED);
    /* the other secret of the fixed set is not in the ring */
    assert_int_equal(check1(v, "X-Genesys-Signature", SECRET_C, "", NOW_MS), GDA_AUTH_MISMATCH);
    /* one bit off */
    assert_int_equal(check1(v, "X-Genesys-Signature",
                            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh4=", "", NOW_MS),
                     GDA_AUTH_MISMATCH);
    /* truncated (a prefix of the secret) and over-long (the secret plus more) */
    assert_int_equal(check1(v, "X-Genesys-Signature", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",
                            "", NOW_MS),
                     GDA_AUTH_MISMATCH);
    assert_int_equal(check1(v, "X-Genesys-Signature",
                            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==", "", NOW_MS),
                     GDA_AUTH_MISMATCH);
    char huge[2000];
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(check1(v, "X-Genesys-Signature", huge, "", NOW_MS), GDA_AUTH_MALFORMED);
    /* not base64, non-ASCII, control characters */
    assert_int_equal(check1(v, "X-Genesys-Signature", "not base64!", "", NOW_MS),
                     GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "X-Genesys-Signature", "AAEC\xc3\xa9wQF", "", NOW_MS),
                     GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "X-Genesys-Signature", "AAEC\x01wQF", "", NOW_MS),
                     GDA_AUTH_MALFORMED);
    /* missing: no header, another header, an empty value */
    assert_int_equal(check(v, NULL, 0, "", NOW_MS, NULL), GDA_AUTH_MISSING);
    assert_int_equal(check1(v, "Authorization", SECRET_A, "", NOW_MS), GDA_AUTH_MISSING);
    assert_int_equal(check1(v, "X-Genesys-Signature", "   ", "", NOW_MS), GDA_AUTH_MISSING);
    /* repeated header: ambiguous even when one copy is right */
    gda_header two[2] = {hdr("X-Genesys-Signature", SECRET_A),
                         hdr("x-genesys-signature", SECRET_C)};
    assert_int_equal(check(v, two, 2, "", NOW_MS, NULL), GDA_AUTH_AMBIGUOUS);
    two[1] = hdr("X-GENESYS-SIGNATURE", SECRET_A);
    assert_int_equal(check(v, two, 2, "", NOW_MS, NULL), GDA_AUTH_AMBIGUOUS);
    gda_verifier_free(v);

    /* Ed25519 public keys are never token secrets */
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_TOKEN);
    v = verifier_of(o, "s:" SECRET_A ",ed:ed25519:" SECRET_B);
    assert_int_equal(check1(v, "X-Genesys-Signature", SECRET_B, "", NOW_MS), GDA_AUTH_MISMATCH);
    gda_verifier_free(v);

    /* Authorization: Bearer <token> */
    o.header = "Authorization";
    v = verifier_of(o, "k1:" SECRET_A);
    assert_int_equal(check1(v, "authorization", "Bearer " SECRET_A, "", NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check1(v, "Authorization", "bearer   " SECRET_A, "", NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check1(v, "Authorization", SECRET_A, "", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "Authorization", "Basic " SECRET_A, "", NOW_MS),
                     GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "Authorization", "Bearer ", "", NOW_MS), GDA_AUTH_MALFORMED);
    char value[256];
    sign_value(v, NULL, "", NOW_MS, value, sizeof value, NULL);
    assert_string_equal(value, "Bearer " SECRET_A);
    gda_verifier_free(v);
}

/* ---- hmac --------------------------------------------------------------- */

/* The MAC of signing string v1 for a POST to the default route without a
 * timestamp, computed here with libsodium's own SHA-256 and HMAC (not the
 * libcrypto-backed primitives the verifier uses) from a string built with
 * snprintf: an independent reference. */
static void reference_v1_mac(const uint8_t *key, size_t key_len, const char *body,
                             const char *method, const char *path, const char *ts,
                             uint8_t mac[32], char hex[65])
{
    uint8_t digest[32];
    char body_hex[65];
    crypto_hash_sha256(digest, (const uint8_t *)body, strlen(body));
    sodium_bin2hex(body_hex, sizeof body_hex, digest, sizeof digest);
    char text[512];
    int n = snprintf(text, sizeof text, "gda-hmac-v1\n%s\n%s\n%s\n%s", method, path, ts,
                     body_hex);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)text, (size_t)n);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, 65, mac, 32);
}

/* RFC 4231's keys (short, block-sized, longer than a block) and data as
 * bodies, MACed through signing string v1. */
static void test_hmac_rfc4231(void **state)
{
    (void)state;
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_HMAC_SHA256);
    o.hmac_timestamp = false;
    for (size_t i = 0; i < rfc4231_case_count; i++) {
        uint8_t key[200], data[300], mac[32];
        char mac_hex[65];
        size_t key_len = test_unhex(rfc4231_cases[i].key_hex, key, sizeof key);
        size_t data_len = test_unhex(rfc4231_cases[i].data_hex, data, sizeof data - 1);
        data[data_len] = '\0'; /* the RFC data is text without NUL */
        if (key_len < GDA_KEY_MIN_SECRET_BYTES)
            continue; /* case 2's 4-byte "Jefe": a ring refuses it (test_weak_setups) */
        reference_v1_mac(key, key_len, (const char *)data, "POST", "/genesys/dataaction", "",
                         mac, mac_hex);
        char *key64 = b64(key, key_len);
        char cfg[400];
        snprintf(cfg, sizeof cfg, "other:%s,rfc:%s", SECRET_C, key64);
        gda_verifier *v = verifier_of(o, cfg);
        char key_id[GDA_KEY_ID_MAX + 1];
        const char *body = (const char *)data;
        /* bare hex, sha256=hex, upper-case hex, base64, base64 without padding */
        char value[128];
        gda_header h = hdr("X-Genesys-Signature", mac_hex);
        assert_int_equal(check(v, &h, 1, body, NOW_MS, key_id), GDA_AUTH_ACCEPTED);
        assert_string_equal(key_id, "rfc");
        snprintf(value, sizeof value, "sha256=%s", mac_hex);
        assert_int_equal(check1(v, "X-Genesys-Signature", value, body, NOW_MS), GDA_AUTH_ACCEPTED);
        for (char *p = value; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
        assert_int_equal(check1(v, "X-Genesys-Signature", value + 7, body, NOW_MS),
                         GDA_AUTH_ACCEPTED);
        char *mac64 = b64(mac, sizeof mac);
        assert_int_equal(check1(v, "X-Genesys-Signature", mac64, body, NOW_MS), GDA_AUTH_ACCEPTED);
        mac64[43] = '\0';
        assert_int_equal(check1(v, "X-Genesys-Signature", mac64, body, NOW_MS), GDA_AUTH_ACCEPTED);
        /* truncated to 16 bytes (RFC 4231 case 5 style), and base64 cut short */
        char trunc[40];
        snprintf(trunc, sizeof trunc, "%.32s", mac_hex);
        assert_int_equal(check1(v, "X-Genesys-Signature", trunc, body, NOW_MS), GDA_AUTH_MALFORMED);
        mac64[40] = '\0';
        assert_int_equal(check1(v, "X-Genesys-Signature", mac64, body, NOW_MS), GDA_AUTH_MALFORMED);
        /* tampered body */
        char tampered[320];
        snprintf(tampered, sizeof tampered, "%s ", body);
        assert_int_equal(check1(v, "X-Genesys-Signature", mac_hex, tampered, NOW_MS),
                         GDA_AUTH_MISMATCH);
        free(key64);
        free(mac64);
        gda_verifier_free(v);
    }
}

static void test_hmac_formats(void **state)
{
    (void)state;
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_HMAC_SHA256);
    o.hmac_timestamp = false;
    gda_verifier *v = verifier_of(o, "k1:" SECRET_A);
    const char *body = "{\"requestId\":\"r1\"}";
    char value[128];
    sign_value(v, NULL, body, NOW_MS, value, sizeof value, NULL);
    assert_true(strncmp(value, "v1=", 3) == 0);
    assert_int_equal(strlen(value), 3 + 64);
    assert_int_equal(check1(v, "X-Genesys-Signature", value, body, NOW_MS), GDA_AUTH_ACCEPTED);
    /* over-long: one more hex digit pair, or trailing junk */
    char longer[140];
    snprintf(longer, sizeof longer, "%s00", value);
    assert_int_equal(check1(v, "X-Genesys-Signature", longer, body, NOW_MS), GDA_AUTH_MALFORMED);
    snprintf(longer, sizeof longer, "%sZ", value);
    assert_int_equal(check1(v, "X-Genesys-Signature", longer, body, NOW_MS), GDA_AUTH_MALFORMED);
    /* truncated by one digit */
    value[strlen(value) - 1] = '\0';
    assert_int_equal(check1(v, "X-Genesys-Signature", value, body, NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "X-Genesys-Signature", "sha256=", body, NOW_MS),
                     GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "X-Genesys-Signature", "sha1=abcd", body, NOW_MS),
                     GDA_AUTH_MALFORMED);
    /* a version this library does not know is refused, never guessed */
    char v2[140];
    snprintf(v2, sizeof v2, "v2=%s", value + 3);
    assert_int_equal(check1(v, "X-Genesys-Signature", v2, body, NOW_MS), GDA_AUTH_MALFORMED);
    /* empty body is signable too, and differs from a one-space body */
    sign_value(v, NULL, "", NOW_MS, value, sizeof value, NULL);
    assert_int_equal(check1(v, "X-Genesys-Signature", value, "", NOW_MS), GDA_AUTH_ACCEPTED);
    assert_int_equal(check1(v, "X-Genesys-Signature", value, " ", NOW_MS), GDA_AUTH_MISMATCH);
    /* a body with a NUL byte is signed whole */
    gda_header h = hdr("X-Genesys-Signature", value);
    gda_http_request req = request(&h, 1, "");
    req.body = gda_slice_make("\0", 1);
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, NULL, NULL), GDA_ERR_UNAUTHORIZED);
    gda_verifier_free(v);
}

/* The worked example of docs/security.md ("HMAC signing string v1"),
 * computed independently (Python's hmac module): what gda_verifier_sign
 * writes, byte for byte, and what the verifier accepts. */
static void test_hmac_v1_worked_example(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_HMAC_SHA256),
                                  "k1:" SECRET_A);
    const char *body =
        "{\"interactionId\":\"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70\",\"requestId\":\"r1\"}";
    char sig[128], ts[32];
    sign_value(v, NULL, body, NOW_MS, sig, sizeof sig, ts);
    assert_string_equal(ts, "1800000000");
    assert_string_equal(sig,
                        "v1=b2389e2b0db56b5add58b7d69a974e7b0e5cbd17b47da73f29c9024b85431ca3");
    gda_header hs[2] = {hdr("X-Genesys-Signature", sig), hdr("X-Genesys-Timestamp", ts)};
    assert_int_equal(check(v, hs, 2, body, NOW_MS, NULL), GDA_AUTH_ACCEPTED);
    gda_verifier_free(v);
}

/* A signature binds the method, the path, the query and the body: a
 * captured POST signature cannot be replayed as a poll of any requestId, on
 * another path, with another query, or over another body. */
static void test_hmac_binds_the_request(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_HMAC_SHA256),
                                  "k1:" SECRET_A);
    char sig[128], ts[32];
    sign_value(v, NULL, "", NOW_MS, sig, sizeof sig, ts); /* even an empty body */
    gda_header hs[2] = {hdr("X-Genesys-Signature", sig), hdr("X-Genesys-Timestamp", ts)};
    gda_http_request req = request(hs, 2, "");
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, NULL, NULL), GDA_OK);
    gda_auth_result r;
    req.method = gda_slice_cstr("GET");
    req.path = gda_slice_cstr("/genesys/dataaction/anyRequestId");
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &r, NULL), GDA_ERR_UNAUTHORIZED);
    assert_int_equal(r.reason, GDA_AUTH_MISMATCH);
    req.path = gda_slice_cstr("/genesys/dataaction");
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &r, NULL), GDA_ERR_UNAUTHORIZED);
    req.method = gda_slice_cstr("POST");
    req.path = gda_slice_cstr("/other");
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &r, NULL), GDA_ERR_UNAUTHORIZED);
    req.path = gda_slice_cstr("/genesys/dataaction");
    req.query = gda_slice_cstr("x=1");
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &r, NULL), GDA_ERR_UNAUTHORIZED);
    req.query = GDA_SLICE_NULL;
    req.body = gda_slice_cstr("{}");
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &r, NULL), GDA_ERR_UNAUTHORIZED);

    /* Signed for the poll itself, with its query, the poll is accepted. */
    gda_sign_params p;
    memset(&p, 0, sizeof p);
    p.now_ms = NOW_MS;
    p.method = "GET";
    p.path = "/genesys/dataaction/r1?x=1";
    gda_signed_headers sh;
    assert_int_equal(gda_verifier_sign(v, &p, gda_slice_cstr(""), &sh, NULL), GDA_OK);
    gda_header ph[2] = {hdr(sh.headers[0].name, sh.headers[0].value),
                        hdr(sh.headers[1].name, sh.headers[1].value)};
    gda_http_request poll = request(ph, 2, "");
    poll.method = gda_slice_cstr("GET");
    poll.path = gda_slice_cstr("/genesys/dataaction/r1");
    poll.query = gda_slice_cstr("x=1");
    assert_int_equal(gda_verifier_verify(v, &poll, NOW_MS, NULL, NULL), GDA_OK);
    poll.path = gda_slice_cstr("/genesys/dataaction/r2");
    assert_int_equal(gda_verifier_verify(v, &poll, NOW_MS, NULL, NULL), GDA_ERR_UNAUTHORIZED);
    gda_signed_headers_release(&sh);
    gda_verifier_free(v);

    /* Without a timestamp a signature never expires: it may stand for a
     * POST (a resend replays), never for a poll. */
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_HMAC_SHA256);
    o.hmac_timestamp = false;
    v = verifier_of(o, "k1:" SECRET_A);
    memset(&p, 0, sizeof p);
    p.now_ms = NOW_MS;
    p.method = "GET";
    p.path = "/genesys/dataaction/r1";
    assert_int_equal(gda_verifier_sign(v, &p, gda_slice_cstr(""), &sh, NULL), GDA_OK);
    gda_header uh = hdr(sh.headers[0].name, sh.headers[0].value);
    gda_http_request unbound = request(&uh, 1, "");
    unbound.method = gda_slice_cstr("GET");
    unbound.path = gda_slice_cstr("/genesys/dataaction/r1");
    assert_int_equal(gda_verifier_verify(v, &unbound, NOW_MS, &r, NULL), GDA_ERR_UNAUTHORIZED);
    assert_int_equal(r.reason, GDA_AUTH_UNBOUND);
    assert_string_equal(gda_auth_reason_str(GDA_AUTH_UNBOUND), "unbound");
    gda_signed_headers_release(&sh);
    gda_verifier_free(v);
}

static void test_hmac_timestamp_window(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_HMAC_SHA256),
                                  "k1:" SECRET_A);
    const char *body = "{\"a\":1}";
    char sig[128], ts[32];
    sign_value(v, NULL, body, NOW_MS + 999, sig, sizeof sig, ts);
    char expect_ts[32];
    snprintf(expect_ts, sizeof expect_ts, "%lld", NOW_S);
    assert_string_equal(ts, expect_ts); /* seconds, truncated */
    gda_header hs[2] = {hdr("X-Genesys-Signature", sig), hdr("X-Genesys-Timestamp", ts)};
    assert_int_equal(check(v, hs, 2, body, NOW_MS, NULL), GDA_AUTH_ACCEPTED);
    /* exactly at the edge of the 300 s window, then one second past it */
    assert_int_equal(check(v, hs, 2, body, NOW_MS + 300000, NULL), GDA_AUTH_ACCEPTED);
    assert_int_equal(check(v, hs, 2, body, NOW_MS + 300001, NULL), GDA_AUTH_REPLAYED);
    assert_int_equal(check(v, hs, 2, body, NOW_MS + 301000, NULL), GDA_AUTH_REPLAYED);
    /* timestamps in the future: at the edge fine, beyond refused */
    assert_int_equal(check(v, hs, 2, body, NOW_MS - 300000, NULL), GDA_AUTH_ACCEPTED);
    assert_int_equal(check(v, hs, 2, body, NOW_MS - 301000, NULL), GDA_AUTH_REPLAYED);
    /* the timestamp is signed: moving it breaks the MAC */
    char moved[32];
    snprintf(moved, sizeof moved, "%lld", NOW_S + 1);
    hs[1] = hdr("X-Genesys-Timestamp", moved);
    assert_int_equal(check(v, hs, 2, body, NOW_MS, NULL), GDA_AUTH_MISMATCH);
    hs[1] = hdr("X-Genesys-Timestamp", ts);
    /* tampered body */
    assert_int_equal(check(v, hs, 2, "{\"a\":2}", NOW_MS, NULL), GDA_AUTH_MISMATCH);
    /* missing, repeated, malformed timestamps */
    assert_int_equal(check(v, hs, 1, body, NOW_MS, NULL), GDA_AUTH_MISSING);
    gda_header three[3] = {hs[0], hs[1], hdr("x-genesys-timestamp", ts)};
    assert_int_equal(check(v, three, 3, body, NOW_MS, NULL), GDA_AUTH_AMBIGUOUS);
    const char *bad_ts[] = {"12a", "-1", "1800000000.5", "1234567890123", "+1800000000"};
    for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++) {
        hs[1] = hdr("X-Genesys-Timestamp", bad_ts[i]);
        assert_int_equal(check(v, hs, 2, body, NOW_MS, NULL), GDA_AUTH_MALFORMED);
    }
    /* a MAC over the body alone does not pass when a timestamp is required */
    gda_verifier_options plain = gda_verifier_options_default(GDA_AUTH_HMAC_SHA256);
    plain.hmac_timestamp = false;
    gda_verifier *pv = verifier_of(plain, "k1:" SECRET_A);
    char body_only[128];
    sign_value(pv, NULL, body, NOW_MS, body_only, sizeof body_only, NULL);
    hs[0] = hdr("X-Genesys-Signature", body_only);
    hs[1] = hdr("X-Genesys-Timestamp", ts);
    assert_int_equal(check(v, hs, 2, body, NOW_MS, NULL), GDA_AUTH_MISMATCH);
    gda_verifier_free(pv);
    gda_verifier_free(v);

    /* a narrower window and custom header names */
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_HMAC_SHA256);
    o.replay_window_s = 5;
    o.header = "X-Sig";
    o.timestamp_header = "X-Ts";
    v = verifier_of(o, "k1:" SECRET_A);
    sign_value(v, NULL, body, NOW_MS, sig, sizeof sig, ts);
    gda_header custom[2] = {hdr("X-Sig", sig), hdr("X-Ts", ts)};
    assert_int_equal(check(v, custom, 2, body, NOW_MS + 5000, NULL), GDA_AUTH_ACCEPTED);
    assert_int_equal(check(v, custom, 2, body, NOW_MS + 6000, NULL), GDA_AUTH_REPLAYED);
    gda_verifier_free(v);
}

/* ---- jwt ---------------------------------------------------------------- */

static const uint8_t key_a[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                  11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                  22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* "Bearer " + a compact JWS of header/claims under alg and key. */
static char *bearer(unsigned alg, const uint8_t *key, size_t key_len, const char *header,
                    const char *claims)
{
    char *tok = NULL;
    assert_int_equal(gda_jws_sign(alg, key, key_len, gda_slice_cstr(header),
                                  gda_slice_cstr(claims), &tok),
                     GDA_OK);
    size_t cap = strlen(tok) + 8;
    char *out = malloc(cap);
    assert_non_null(out);
    if (out)
        snprintf(out, cap, "Bearer %s", tok);
    free(tok);
    return out;
}

static gda_auth_reason check_jwt(gda_verifier *v, const char *header, const char *claims,
                                 int64_t now_ms)
{
    char *b = bearer(GDA_JWT_HS256, key_a, sizeof key_a, header, claims);
    gda_auth_reason r = check1(v, "Authorization", b, "", now_ms);
    free(b);
    return r;
}

#define HS "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static gda_verifier *jwt_verifier(int64_t leeway, bool require_exp)
{
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_JWT);
    o.jwt_leeway_s = leeway;
    o.jwt_require_exp = require_exp;
    return verifier_of(o, "ka:" SECRET_A);
}

/* Weak set-ups are refused at start, naming the entry and never its value:
 * HS256 keys shorter than 32 bytes, and (at request time) JWTs that live
 * longer than the configured maximum. */
/* {"exp": now + life} with "iat": now when with_iat. */
static const char *lifetime_claims(char *buf, size_t size, long long life, bool with_iat)
{
    if (with_iat)
        snprintf(buf, size, "{\"exp\":%lld,\"iat\":%lld}", NOW_S + life, NOW_S);
    else
        snprintf(buf, size, "{\"exp\":%lld}", NOW_S + life);
    return buf;
}

static void test_weak_setups(void **state)
{
    (void)state;
    /* 16 bytes: enough for a token ring, not for HS256. */
    const char *ring16 = "short:QUJDREVGR0hJSktMTU5PUA==";
    gda_keyring *r = ring_of(ring16);
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_JWT);
    gda_verifier *v = NULL;
    gda_error err;
    assert_int_equal(gda_verifier_new(&o, r, &v, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "\"short\""));
    assert_non_null(strstr(err.message, "at least 32 bytes"));
    assert_null(strstr(err.message, "QUJD"));
    /* EdDSA only: the secret is not an HS256 key then... but then nothing
     * in the ring is usable, which is refused too. */
    o.jwt_algs = GDA_JWT_EDDSA;
    assert_int_equal(gda_verifier_new(&o, ring_of(ring16), &v, &err), GDA_ERR_CONFIG);
    gda_verifier_options t = gda_verifier_options_default(GDA_AUTH_TOKEN);
    assert_int_equal(gda_verifier_new(&t, ring_of(ring16), &v, &err), GDA_OK);
    gda_verifier_free(v);
    /* A rotation to a weak HS256 ring is refused and the old ring stays. */
    gda_verifier *j = jwt_verifier(0, true);
    gda_keyring *weak = ring_of(ring16);
    assert_int_equal(gda_verifier_set_keyring(j, weak, &err), GDA_ERR_CONFIG);
    gda_keyring_free(weak);

    /* Lifetime: exp - iat (or exp - now) beyond jwt_max_lifetime_s (1 h). */
    char claims[200];
    assert_int_equal(check_jwt(j, HS, lifetime_claims(claims, sizeof claims, 3600, true), NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(j, HS, lifetime_claims(claims, sizeof claims, 3601, true), NOW_MS),
                     GDA_AUTH_LIFETIME);
    assert_int_equal(check_jwt(j, HS, lifetime_claims(claims, sizeof claims, 7200, false), NOW_MS),
                     GDA_AUTH_LIFETIME);
    assert_string_equal(gda_auth_reason_str(GDA_AUTH_LIFETIME), "lifetime");
    gda_verifier_free(j);
    /* ...configurable, and bounded. */
    gda_verifier *k = NULL;
    const char *ring32 = "k1:" SECRET_A;
    assert_int_equal(gda_verifier_new_from_config("jwt", ring32, strlen(ring32),
                                                  "max_lifetime=7200", &k, &err),
                     GDA_OK);
    assert_int_equal(check_jwt(k, HS, lifetime_claims(claims, sizeof claims, 7200, false), NOW_MS),
                     GDA_AUTH_ACCEPTED);
    gda_verifier_free(k);
    assert_int_equal(gda_verifier_new_from_config("jwt", ring32, strlen(ring32), "max_lifetime=0",
                                                  &k, &err),
                     GDA_ERR_CONFIG);
}

/* "caller/id:secret" names who owns the results; the id alone names both. */
static void test_keyring_callers(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_TOKEN),
                                  "alice/k2:" SECRET_B ",k1:" SECRET_A);
    gda_header h = hdr("X-Genesys-Signature", SECRET_B);
    gda_http_request req = request(&h, 1, "");
    gda_auth_result r;
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &r, NULL), GDA_OK);
    assert_string_equal(r.key_id, "k2");
    assert_string_equal(r.caller, "alice");
    h = hdr("X-Genesys-Signature", SECRET_A);
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &r, NULL), GDA_OK);
    assert_string_equal(r.key_id, "k1");
    assert_string_equal(r.caller, "k1");
    gda_verifier_free(v);
    gda_keyring *bad = NULL;
    gda_error err;
    const char *cfg = "a b/k1:" SECRET_A;
    assert_int_equal(gda_keyring_parse(cfg, strlen(cfg), &bad, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "caller name"));
    cfg = "alice/:" SECRET_A;
    assert_int_equal(gda_keyring_parse(cfg, strlen(cfg), &bad, &err), GDA_ERR_CONFIG);
}

static void test_jwt_claims(void **state)
{
    (void)state;
    gda_verifier *v = jwt_verifier(0, true);
    char claims[200];
#define CLAIMS(...) (snprintf(claims, sizeof claims, __VA_ARGS__), claims)
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld}", NOW_S + 1), NOW_MS),
                     GDA_AUTH_ACCEPTED);
    /* exp == now is expired (RFC 7519: now must be before exp) */
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld}", NOW_S), NOW_MS), GDA_AUTH_EXPIRED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld}", NOW_S + 1), NOW_MS + 999),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld.5}", NOW_S), NOW_MS + 499),
                     GDA_AUTH_ACCEPTED);
    /* nbf and iat */
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"nbf\":%lld}", NOW_S + 60, NOW_S),
                               NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"nbf\":%lld}", NOW_S + 60, NOW_S + 1),
                               NOW_MS),
                     GDA_AUTH_EXPIRED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iat\":%lld}", NOW_S + 60, NOW_S),
                               NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iat\":%lld}", NOW_S + 60, NOW_S + 1),
                               NOW_MS),
                     GDA_AUTH_EXPIRED);
    /* missing exp when required; wrong claim types; not an object; duplicates */
    assert_int_equal(check_jwt(v, HS, "{\"sub\":\"x\"}", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":\"%lld\"}", NOW_S + 60), NOW_MS),
                     GDA_AUTH_MALFORMED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"nbf\":null}", NOW_S + 60), NOW_MS),
                     GDA_AUTH_MALFORMED);
    assert_int_equal(check_jwt(v, HS, "{\"exp\":1e300}", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check_jwt(v, HS, "[1]", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check_jwt(v, HS, "not json", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"exp\":%lld}", NOW_S - 10, NOW_S + 60),
                               NOW_MS),
                     GDA_AUTH_MALFORMED);
    gda_verifier_free(v);

    /* leeway 60: the same claims move by a minute either way */
    v = jwt_verifier(60, true);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld}", NOW_S - 59), NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld}", NOW_S - 60), NOW_MS),
                     GDA_AUTH_EXPIRED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"nbf\":%lld}", NOW_S + 600, NOW_S + 60),
                               NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"nbf\":%lld}", NOW_S + 600, NOW_S + 61),
                               NOW_MS),
                     GDA_AUTH_EXPIRED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iat\":%lld}", NOW_S + 600, NOW_S + 60),
                               NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iat\":%lld}", NOW_S + 600, NOW_S + 61),
                               NOW_MS),
                     GDA_AUTH_EXPIRED);
    gda_verifier_free(v);

    /* exp not required: absent is fine, present is still checked */
    v = jwt_verifier(0, false);
    assert_int_equal(check_jwt(v, HS, "{\"sub\":\"x\"}", NOW_MS), GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld}", NOW_S - 1), NOW_MS),
                     GDA_AUTH_EXPIRED);
    gda_verifier_free(v);

    /* iss and aud */
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_JWT);
    o.jwt_issuer = "genesys";
    o.jwt_audience = "dataaction";
    v = verifier_of(o, "ka:" SECRET_A);
    long long e = NOW_S + 60;
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iss\":\"genesys\",\"aud\":\"dataaction\"}", e), NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iss\":\"genesys\",\"aud\":[\"x\",\"dataaction\"]}", e), NOW_MS),
                     GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iss\":\"genesys\",\"aud\":[\"x\",\"y\"]}", e), NOW_MS),
                     GDA_AUTH_MISMATCH);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iss\":\"genesys\"}", e), NOW_MS),
                     GDA_AUTH_MISMATCH);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iss\":\"other\",\"aud\":\"dataaction\"}", e), NOW_MS),
                     GDA_AUTH_MISMATCH);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"aud\":\"dataaction\"}", e), NOW_MS),
                     GDA_AUTH_MISMATCH);
    assert_int_equal(check_jwt(v, HS, CLAIMS("{\"exp\":%lld,\"iss\":\"genesys\",\"aud\":\"dataactionX\"}", e), NOW_MS),
                     GDA_AUTH_MISMATCH);
    /* the signer puts iss and aud in */
    char value[600];
    sign_value(v, "ka", "", NOW_MS, value, sizeof value, NULL);
    gda_header h = hdr("Authorization", value);
    gda_http_request req = request(&h, 1, "");
    gda_auth_result res;
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &res, NULL), GDA_OK);
    assert_string_equal(res.key_id, "ka");
    assert_string_equal(res.principal, "ka");
    /* default lifetime 300 s plus the default 60 s leeway */
    assert_int_equal(check(v, &h, 1, "", NOW_MS + 359999, NULL), GDA_AUTH_ACCEPTED);
    assert_int_equal(check(v, &h, 1, "", NOW_MS + 360000, NULL), GDA_AUTH_EXPIRED);
    gda_verifier_free(v);
#undef CLAIMS
}

static void test_jwt_structure(void **state)
{
    (void)state;
    gda_verifier *v = jwt_verifier(0, true);
    char claims[100];
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"caller-7\"}", NOW_S + 60);
    char *good = bearer(GDA_JWT_HS256, key_a, sizeof key_a, HS, claims);
    gda_header h = hdr("Authorization", good);
    gda_http_request req = request(&h, 1, "");
    gda_auth_result res;
    assert_int_equal(gda_verifier_verify(v, &req, NOW_MS, &res, NULL), GDA_OK);
    assert_string_equal(res.principal, "caller-7");
    assert_string_equal(res.key_id, "ka");

    char t[1200];
    size_t len = strlen(good);
    /* over-long and truncated signatures */
    snprintf(t, sizeof t, "%sAA", good);
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_MALFORMED);
    snprintf(t, sizeof t, "%.*s", (int)(len - 2), good);
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_MALFORMED);
    /* a signature ending in a character with non-zero leftover bits */
    snprintf(t, sizeof t, "%s", good);
    char *last = t + len - 1;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    *last = alphabet[(strchr(alphabet, *last) - alphabet) | 1];
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_MALFORMED);
    /* padding, standard-alphabet characters, wrong segment counts, empty parts */
    snprintf(t, sizeof t, "%s=", good);
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_MALFORMED);
    snprintf(t, sizeof t, "%s", good);
    t[10] = '+';
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_MALFORMED);
    snprintf(t, sizeof t, "%s.AAAA", good);
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "Authorization", "Bearer abc.def", "", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "Authorization", "Bearer ..", "", NOW_MS), GDA_AUTH_MALFORMED);
    /* a changed payload keeps its old signature: mismatch */
    char *other = bearer(GDA_JWT_HS256, key_a, sizeof key_a, HS, "{\"exp\":99999999999}");
    char *dot1 = strchr(good, '.'), *dot2 = strchr(dot1 + 1, '.');
    char *odot1 = strchr(other, '.'), *odot2 = strchr(odot1 + 1, '.');
    snprintf(t, sizeof t, "%.*s%.*s%s", (int)(dot1 - good), good, (int)(odot2 - odot1), odot1,
             dot2);
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_MISMATCH);
    free(other);
    /* a token signed with another key */
    uint8_t wrong[32];
    memset(wrong, 7, sizeof wrong);
    char *w = bearer(GDA_JWT_HS256, wrong, sizeof wrong, HS, claims);
    assert_int_equal(check1(v, "Authorization", w, "", NOW_MS), GDA_AUTH_MISMATCH);
    free(w);
    /* Bearer prefix, header problems */
    assert_int_equal(check1(v, "Authorization", good + 7, "", NOW_MS), GDA_AUTH_MALFORMED);
    gda_header dup[2] = {hdr("Authorization", good), hdr("authorization", good)};
    assert_int_equal(check(v, dup, 2, "", NOW_MS, NULL), GDA_AUTH_AMBIGUOUS);
    assert_int_equal(check(v, NULL, 0, "", NOW_MS, NULL), GDA_AUTH_MISSING);
    snprintf(t, sizeof t, "%s", good);
    t[20] = (char)0xc3;
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_MALFORMED);
    char *huge = malloc(GDA_JWT_MAX_TOKEN + 100);
    memset(huge, 'a', GDA_JWT_MAX_TOKEN + 99);
    memcpy(huge, "Bearer ", 7);
    huge[GDA_JWT_MAX_TOKEN + 99] = '\0';
    assert_int_equal(check1(v, "Authorization", huge, "", NOW_MS), GDA_AUTH_MALFORMED);
    free(huge);
    /* kid selects the entry; an unknown kid matches nothing */
    char *kid_ok = bearer(GDA_JWT_HS256, key_a, sizeof key_a,
                          "{\"alg\":\"HS256\",\"kid\":\"ka\"}", claims);
    assert_int_equal(check1(v, "Authorization", kid_ok, "", NOW_MS), GDA_AUTH_ACCEPTED);
    free(kid_ok);
    char *kid_bad = bearer(GDA_JWT_HS256, key_a, sizeof key_a,
                           "{\"alg\":\"HS256\",\"kid\":\"kb\"}", claims);
    assert_int_equal(check1(v, "Authorization", kid_bad, "", NOW_MS), GDA_AUTH_MISMATCH);
    free(kid_bad);
    char *kid_weird = bearer(GDA_JWT_HS256, key_a, sizeof key_a,
                             "{\"alg\":\"HS256\",\"kid\":\"../etc\"}", claims);
    assert_int_equal(check1(v, "Authorization", kid_weird, "", NOW_MS), GDA_AUTH_MALFORMED);
    free(kid_weird);
    /* header problems: crit, typ, duplicate keys, not an object */
    const char *bad_headers[] = {
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}",
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
        "[\"HS256\"]",
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        char *b = bearer(GDA_JWT_HS256, key_a, sizeof key_a, bad_headers[i], claims);
        assert_int_equal(check1(v, "Authorization", b, "", NOW_MS), GDA_AUTH_MALFORMED);
        free(b);
    }
    free(good);
    gda_verifier_free(v);
}

static void test_jwt_algorithms(void **state)
{
    (void)state;
    char claims[100];
    snprintf(claims, sizeof claims, "{\"exp\":%lld}", NOW_S + 60);
    gda_verifier *v = jwt_verifier(0, true);
    /* alg none: unsigned token, with or without a trailing signature */
    char *h64 = gda_b64url_encode("{\"alg\":\"none\"}", 14);
    char *p64 = gda_b64url_encode(claims, strlen(claims));
    char t[600];
    snprintf(t, sizeof t, "Bearer %s.%s.", h64, p64);
    assert_int_equal(check1(v, "Authorization", t, "", NOW_MS), GDA_AUTH_ALGORITHM);
    free(h64);
    /* the case variants and other algorithms are not HS256 */
    const char *algs[] = {"{\"alg\":\"None\"}", "{\"alg\":\"hs256\"}", "{\"alg\":\"HS512\"}",
                          "{\"alg\":\"RS256\"}", "{\"typ\":\"JWT\"}", "{\"alg\":256}"};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char *b = bearer(GDA_JWT_HS256, key_a, sizeof key_a, algs[i], claims);
        assert_int_equal(check1(v, "Authorization", b, "", NOW_MS), GDA_AUTH_ALGORITHM);
        free(b);
    }
    free(p64);
    gda_verifier_free(v);

    /* allow-list: an EdDSA-only verifier refuses HS256 even with a secret in the ring */
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_JWT);
    o.jwt_algs = GDA_JWT_EDDSA;
    v = verifier_of(o, "ka:" SECRET_A ",ed:ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    char *hs = bearer(GDA_JWT_HS256, key_a, sizeof key_a, HS, claims);
    assert_int_equal(check1(v, "Authorization", hs, "", NOW_MS), GDA_AUTH_ALGORITHM);
    gda_verifier_free(v);

    /* algorithm confusion: an HS256 token whose HMAC key is the Ed25519 public
     * key's bytes must not verify against the public key entry */
    uint8_t pk[32];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(pk, sizeof pk, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                                       43, NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    v = verifier_of(gda_verifier_options_default(GDA_AUTH_JWT),
                    "ed:ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    char *confused = bearer(GDA_JWT_HS256, pk, sizeof pk, "{\"alg\":\"HS256\",\"kid\":\"ed\"}",
                            claims);
    assert_int_equal(check1(v, "Authorization", confused, "", NOW_MS), GDA_AUTH_MISMATCH);
    free(confused);
    confused = bearer(GDA_JWT_HS256, pk, sizeof pk, HS, claims);
    assert_int_equal(check1(v, "Authorization", confused, "", NOW_MS), GDA_AUTH_MISMATCH);
    free(confused);
    gda_verifier_free(v);
    /* and the reverse: an EdDSA header over an HMAC signature is malformed (length) or
     * mismatched, never checked as an HMAC */
    v = verifier_of(gda_verifier_options_default(GDA_AUTH_JWT), "ka:" SECRET_A);
    char *rev = bearer(GDA_JWT_HS256, key_a, sizeof key_a, "{\"alg\":\"EdDSA\"}", claims);
    assert_int_equal(check1(v, "Authorization", rev, "", NOW_MS), GDA_AUTH_MALFORMED);
    free(rev);
    free(hs);
    gda_verifier_free(v);
}

/* RFC 8037 appendix A.4 (Ed25519 signing) and A.5 (verification). */
static void test_jwt_rfc8037(void **state)
{
    (void)state;
    const char *d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const char *x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const char *expected =
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    uint8_t seed[32], pk[32], pk_expected[32], sk[64];
    size_t n;
    assert_int_equal(sodium_base642bin(seed, 32, d, strlen(d), NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(sodium_base642bin(pk_expected, 32, x, strlen(x), NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    crypto_sign_seed_keypair(pk, sk, seed);
    assert_memory_equal(pk, pk_expected, 32);
    char *tok = NULL;
    assert_int_equal(gda_jws_sign(GDA_JWT_EDDSA, sk, sizeof sk, gda_slice_cstr("{\"alg\":\"EdDSA\"}"),
                                  gda_slice_cstr("Example of Ed25519 signing"), &tok),
                     GDA_OK);
    assert_string_equal(tok, expected);
    free(tok);

    gda_jws jws;
    assert_int_equal(gda_jws_parse(gda_slice_cstr(expected), &jws), GDA_OK);
    assert_int_equal(jws.sig_len, 64);
    assert_string_equal(jws.payload, "Example of Ed25519 signing");
    gda_jws_header h;
    assert_int_equal(gda_jws_read_header(&jws, GDA_JWT_EDDSA, &h), GDA_AUTH_ACCEPTED);
    assert_int_equal(h.alg, GDA_JWT_EDDSA);
    assert_false(h.has_kid);
    assert_int_equal(gda_jws_read_header(&jws, GDA_JWT_HS256, &h), GDA_AUTH_ALGORITHM);
    assert_true(gda_jws_check_eddsa(&jws, pk));
    pk[0] ^= 1;
    assert_false(gda_jws_check_eddsa(&jws, pk));
    pk[0] ^= 1;
    jws.sig[10] ^= 0x80;
    assert_false(gda_jws_check_eddsa(&jws, pk));
    gda_jws_release(&jws);

    /* Through the verifier: the RFC's payload is not a claims set, so the
     * valid signature alone does not let it in... */
    char *pub64 = b64(pk, 32);
    char cfg[100];
    snprintf(cfg, sizeof cfg, "rfc:ed25519:%s", pub64);
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_JWT), cfg);
    char bearer_rfc[300];
    snprintf(bearer_rfc, sizeof bearer_rfc, "Bearer %s", expected);
    assert_int_equal(check1(v, "Authorization", bearer_rfc, "", NOW_MS), GDA_AUTH_MALFORMED);
    /* ...while a claims set signed with the RFC key is accepted, and a forged one is not */
    char claims[100];
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"rfc8037\"}", NOW_S + 60);
    char *good = bearer(GDA_JWT_EDDSA, sk, sizeof sk, "{\"alg\":\"EdDSA\",\"kid\":\"rfc\"}", claims);
    char key[GDA_KEY_ID_MAX + 1];
    gda_header hh = hdr("Authorization", good);
    assert_int_equal(check(v, &hh, 1, "", NOW_MS, key), GDA_AUTH_ACCEPTED);
    assert_string_equal(key, "rfc");
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    char *forged = bearer(GDA_JWT_EDDSA, other_sk, sizeof other_sk, "{\"alg\":\"EdDSA\"}", claims);
    assert_int_equal(check1(v, "Authorization", forged, "", NOW_MS), GDA_AUTH_MISMATCH);
    /* truncated Ed25519 signature */
    good[strlen(good) - 3] = '\0';
    assert_int_equal(check1(v, "Authorization", good, "", NOW_MS), GDA_AUTH_MALFORMED);
    free(forged);
    free(good);
    free(pub64);
    gda_verifier_free(v);
}

/* ---- basic -------------------------------------------------------------- */

static char *basic_value(const char *user_colon_pass)
{
    char *enc = b64(user_colon_pass, strlen(user_colon_pass));
    size_t cap = strlen(enc) + 8;
    char *out = malloc(cap);
    assert_non_null(out);
    if (out)
        snprintf(out, cap, "Basic %s", enc);
    free(enc);
    return out;
}

static void test_basic(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_BASIC),
                                  "genesys:" SECRET_A ",backup:" SECRET_B);
    struct {
        const char *pair;
        gda_auth_reason expect;
    } cases[] = {
        {"genesys:" SECRET_A, GDA_AUTH_ACCEPTED},
        {"backup:" SECRET_B, GDA_AUTH_ACCEPTED},
        {"backup:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8", GDA_AUTH_ACCEPTED},
        {"genesys:" SECRET_B, GDA_AUTH_MISMATCH},  /* another user's password */
        {"backup:" SECRET_A, GDA_AUTH_MISMATCH},
        {"genesys:" SECRET_C, GDA_AUTH_MISMATCH},  /* wrong password */
        {"Genesys:" SECRET_A, GDA_AUTH_MISMATCH},  /* wrong user (case matters) */
        {"genesy:" SECRET_A, GDA_AUTH_MISMATCH},   /* user a prefix */
        {"genesyss:" SECRET_A, GDA_AUTH_MISMATCH}, /* user longer */
        {":" SECRET_A, GDA_AUTH_MISMATCH},         /* no user */
        {"genesys:", GDA_AUTH_MISMATCH},           /* no password */
        {"genesys:not base64!", GDA_AUTH_MISMATCH},
        {"genesys", GDA_AUTH_MALFORMED},           /* no colon */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *value = basic_value(cases[i].pair);
        gda_header h = hdr("Authorization", value);
        gda_http_request req = request(&h, 1, "");
        gda_auth_result res;
        gda_verifier_verify(v, &req, NOW_MS, &res, NULL);
        if (res.reason != cases[i].expect)
            fail_msg("case %zu (%s): %s", i, cases[i].pair, gda_auth_reason_str(res.reason));
        if (res.reason == GDA_AUTH_ACCEPTED) {
            assert_string_equal(res.principal, res.key_id);
            assert_true(strncmp(cases[i].pair, res.key_id, strlen(res.key_id)) == 0);
        }
        free(value);
    }
    assert_int_equal(check1(v, "Authorization", "Basic ***", "", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "Authorization", "Basic Z2VuZXN5cw=", "", NOW_MS),
                     GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "Authorization", "Bearer " SECRET_A, "", NOW_MS),
                     GDA_AUTH_MALFORMED);
    assert_int_equal(check1(v, "Authorization", "Basic", "", NOW_MS), GDA_AUTH_MALFORMED);
    assert_int_equal(check(v, NULL, 0, "", NOW_MS, NULL), GDA_AUTH_MISSING);
    char value[300];
    sign_value(v, "backup", "", NOW_MS, value, sizeof value, NULL);
    assert_int_equal(check1(v, "Authorization", value, "", NOW_MS), GDA_AUTH_ACCEPTED);
    gda_header dup[2] = {hdr("Authorization", value), hdr("Authorization", value)};
    assert_int_equal(check(v, dup, 2, "", NOW_MS, NULL), GDA_AUTH_AMBIGUOUS);
    gda_verifier_free(v);
}

/* ---- rotation ----------------------------------------------------------- */

static void test_rotation(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_HMAC_SHA256),
                                  "k1:" SECRET_A);
    const char *body = "{}";
    char s1[128], t1[32], s2[128], t2[32];
    sign_value(v, "k1", body, NOW_MS, s1, sizeof s1, t1);
    gda_header old_h[2] = {hdr("X-Genesys-Signature", s1), hdr("X-Genesys-Timestamp", t1)};
    char key[GDA_KEY_ID_MAX + 1];
    assert_int_equal(check(v, old_h, 2, body, NOW_MS, key), GDA_AUTH_ACCEPTED);

    /* step 1: add the new entry; both work */
    assert_int_equal(gda_verifier_set_keyring(v, ring_of("k2:" SECRET_B ",k1:" SECRET_A), NULL),
                     GDA_OK);
    sign_value(v, "k2", body, NOW_MS, s2, sizeof s2, t2);
    gda_header new_h[2] = {hdr("X-Genesys-Signature", s2), hdr("X-Genesys-Timestamp", t2)};
    assert_int_equal(check(v, old_h, 2, body, NOW_MS, key), GDA_AUTH_ACCEPTED);
    assert_string_equal(key, "k1");
    assert_int_equal(check(v, new_h, 2, body, NOW_MS, key), GDA_AUTH_ACCEPTED);
    assert_string_equal(key, "k2");

    /* step 2: remove the old entry; only the new one works */
    assert_int_equal(gda_verifier_set_keyring(v, ring_of("k2:" SECRET_B), NULL), GDA_OK);
    assert_int_equal(check(v, old_h, 2, body, NOW_MS, NULL), GDA_AUTH_MISMATCH);
    assert_int_equal(check(v, new_h, 2, body, NOW_MS, key), GDA_AUTH_ACCEPTED);
    assert_string_equal(key, "k2");

    /* a ring the scheme cannot use is refused and the old one stays */
    gda_keyring *eds = ring_of("ed:ed25519:" SECRET_C);
    gda_error err;
    assert_int_equal(gda_verifier_set_keyring(v, eds, &err), GDA_ERR_CONFIG);
    gda_keyring_free(eds);
    assert_int_equal(check(v, new_h, 2, body, NOW_MS, NULL), GDA_AUTH_ACCEPTED);

    /* the caller may keep using a ring it gave away after taking a reference */
    gda_keyring *shared = ring_of("k3:" SECRET_C);
    assert_int_equal(gda_verifier_set_keyring(v, gda_keyring_ref(shared), NULL), GDA_OK);
    assert_int_equal(gda_verifier_set_keyring(v, ring_of("k2:" SECRET_B), NULL), GDA_OK);
    assert_string_equal(gda_keyring_id(shared, 0), "k3");
    gda_keyring_free(shared);
    gda_verifier_free(v);
}

typedef struct swap_state {
    gda_verifier *v;
    const char *token;
    int rounds;
    int failures;
} swap_state;

static void *verify_loop(void *arg)
{
    swap_state *s = arg;
    gda_header h = hdr("X-Genesys-Signature", s->token);
    gda_http_request req = request(&h, 1, "");
    for (int i = 0; i < s->rounds; i++) {
        if (gda_verifier_verify(s->v, &req, NOW_MS, NULL, NULL) != GDA_OK)
            s->failures++;
    }
    return NULL;
}

/* Rings are swapped while other threads verify: a key present in every ring
 * is never refused, and nothing is freed under a reader (ASan/valgrind
 * would say so). */
static void test_rotation_while_in_use(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_TOKEN),
                                  "k1:" SECRET_A);
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    swap_state st[THREADS];
    for (int i = 0; i < THREADS; i++) {
        st[i] = (swap_state){v, SECRET_A, 3000, 0};
        assert_int_equal(pthread_create(&th[i], NULL, verify_loop, &st[i]), 0);
    }
    for (int i = 0; i < 300; i++) {
        const char *cfg = (i % 2) ? "k2:" SECRET_B ",k1:" SECRET_A : "k1:" SECRET_A ",k3:" SECRET_C;
        assert_int_equal(gda_verifier_set_keyring(v, ring_of(cfg), NULL), GDA_OK);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(st[i].failures, 0);
    }
    gda_verifier_free(v);
}

/* ---- configuration ------------------------------------------------------ */

static void test_verifier_config_errors(void **state)
{
    (void)state;
    typedef struct config_case {
        gda_verifier_options o;
        const char *ring;
        const char *field;
    } config_case;
    config_case cases[8];
    size_t n = 0;
    cases[n] = (config_case){gda_verifier_options_default(GDA_AUTH_TOKEN), "k:" SECRET_A, "header"};
    cases[n++].o.header = "Bad Header";
    cases[n] = (config_case){gda_verifier_options_default(GDA_AUTH_HMAC_SHA256), "k:" SECRET_A, "window"};
    cases[n++].o.replay_window_s = 0;
    cases[n] = (config_case){gda_verifier_options_default(GDA_AUTH_JWT), "k:" SECRET_A, "leeway"};
    cases[n++].o.jwt_leeway_s = -1;
    cases[n] = (config_case){gda_verifier_options_default(GDA_AUTH_JWT), "k:" SECRET_A, "algs"};
    cases[n++].o.jwt_algs = 0;
    cases[n] = (config_case){gda_verifier_options_default(GDA_AUTH_JWT), "k:" SECRET_A, "issuer"};
    cases[n++].o.jwt_issuer = "";
    cases[n] = (config_case){gda_verifier_options_default(GDA_AUTH_HMAC_SHA256), "e:ed25519:" SECRET_A, "keyring"};
    n++;
    cases[n] = (config_case){gda_verifier_options_default(GDA_AUTH_JWT), "k:" SECRET_A, "keyring"};
    cases[n++].o.jwt_algs = GDA_JWT_EDDSA;
    cases[n] = (config_case){gda_verifier_options_default(GDA_AUTH_BASIC), "k:" SECRET_A, "header"};
    cases[n++].o.header = "X-Genesys-Signature";
    for (size_t i = 0; i < n; i++) {
        gda_keyring *r = ring_of(cases[i].ring);
        gda_verifier *v = (gda_verifier *)&v;
        gda_error err;
        assert_int_equal(gda_verifier_new(&cases[i].o, r, &v, &err), GDA_ERR_CONFIG);
        assert_null(v);
        if (strcmp(err.field, cases[i].field) != 0)
            fail_msg("case %zu: field %s, message %s", i, err.field, err.message);
        /* r was released by the failed constructor: LeakSanitizer and
         * valgrind see a leak or a double free here otherwise. */
    }
    gda_verifier_options bad = gda_verifier_options_default((gda_auth_scheme)99);
    gda_verifier *v = NULL;
    assert_int_equal(gda_verifier_new(&bad, ring_of("k:" SECRET_A), &v, NULL), GDA_ERR_CONFIG);
    assert_int_equal(gda_verifier_new(NULL, ring_of("k:" SECRET_A), &v, NULL), GDA_ERR_INTERNAL);
    assert_int_equal(gda_verifier_new(&bad, NULL, &v, NULL), GDA_ERR_INTERNAL);
    gda_verifier_free(NULL);
}

static void test_from_config(void **state)
{
    (void)state;
    gda_verifier *v = NULL;
    gda_error err;
    const char *ring = "k1:" SECRET_A;
    assert_int_equal(gda_verifier_new_from_config("hmac", ring, strlen(ring),
                                                  " header = X-Sig ; timestamp=off;window=60", &v,
                                                  &err),
                     GDA_OK);
    assert_int_equal(gda_verifier_scheme(v), GDA_AUTH_HMAC_SHA256);
    char sig[128];
    sign_value(v, NULL, "b", NOW_MS, sig, sizeof sig, NULL);
    assert_int_equal(check1(v, "X-Sig", sig, "b", NOW_MS), GDA_AUTH_ACCEPTED);
    gda_verifier_free(v);

    assert_int_equal(gda_verifier_new_from_config("jwt", ring, strlen(ring),
                                                  "algs=HS256;leeway=0;iss=me;aud=you;require_exp=off",
                                                  &v, &err),
                     GDA_OK);
    assert_int_equal(check_jwt(v, HS, "{\"iss\":\"me\",\"aud\":\"you\"}", NOW_MS), GDA_AUTH_ACCEPTED);
    assert_int_equal(check_jwt(v, HS, "{\"iss\":\"me\"}", NOW_MS), GDA_AUTH_MISMATCH);
    gda_verifier_free(v);

    assert_int_equal(gda_verifier_new_from_config("token", ring, strlen(ring), NULL, &v, &err),
                     GDA_OK);
    assert_int_equal(check1(v, "X-Genesys-Signature", SECRET_A, "", NOW_MS), GDA_AUTH_ACCEPTED);
    gda_verifier_free(v);

    struct {
        const char *scheme, *ring, *options, *needle;
    } bad[] = {
        {"rsa", ring, "", "unknown scheme"},
        {"token", ring, "colour=blue", "unknown option \"colour\""},
        {"token", ring, "header", "needs name=value"},
        {"hmac", ring, "window=ten", "bad value for option \"window\""},
        {"hmac", ring, "window=0", "replay window"},
        {"jwt", ring, "algs=HS256,none", "bad value for option \"algs\""},
        {"hmac", ring, "timestamp=maybe", "bad value"},
        {"token", "k1:" SECRET_A ",k1:" SECRET_B, "", "entry 2 (\"k1\"): duplicate id"},
        {"token", "", "", "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = (gda_verifier *)&v;
        assert_int_equal(gda_verifier_new_from_config(bad[i].scheme, bad[i].ring,
                                                      strlen(bad[i].ring), bad[i].options, &v,
                                                      &err),
                         GDA_ERR_CONFIG);
        assert_null(v);
        if (!strstr(err.message, bad[i].needle))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.message, bad[i].needle);
    }
}

static void test_sign_errors_and_names(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_JWT),
                                  "ka:" SECRET_A ",ed:ed25519:" SECRET_B);
    gda_signed_headers h;
    gda_error err;
    gda_sign_params p = {.key_id = "nope", .now_ms = NOW_MS};
    assert_int_equal(gda_verifier_sign(v, &p, GDA_SLICE_NULL, &h, &err), GDA_ERR_CONFIG);
    assert_int_equal(h.n, 0);
    p.key_id = "ed"; /* a public key cannot sign */
    assert_int_equal(gda_verifier_sign(v, &p, GDA_SLICE_NULL, &h, &err), GDA_ERR_CONFIG);
    p.key_id = NULL;
    p.ed25519_private = "ed:ed25519:" SECRET_B;
    p.ed25519_private_len = strlen(p.ed25519_private);
    assert_int_equal(gda_verifier_sign(v, &p, GDA_SLICE_NULL, &h, &err), GDA_ERR_CONFIG);
    assert_null(strstr(err.message, SECRET_B));
    p.ed25519_private = NULL;
    p.jwt_ttl_s = -5;
    assert_int_equal(gda_verifier_sign(v, &p, GDA_SLICE_NULL, &h, &err), GDA_ERR_CONFIG);
    gda_verifier_free(v);
    gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_JWT);
    o.jwt_algs = GDA_JWT_HS256;
    v = verifier_of(o, "ka:" SECRET_A);
    char *priv = NULL, *pub = NULL;
    assert_int_equal(gda_keygen_ed25519("ed", &priv, &pub, NULL), GDA_OK);
    gda_sign_params q = {.ed25519_private = priv, .ed25519_private_len = strlen(priv),
                         .now_ms = NOW_MS};
    assert_int_equal(gda_verifier_sign(v, &q, GDA_SLICE_NULL, &h, &err), GDA_ERR_CONFIG);
    gda_secret_free(priv);
    gda_secret_free(pub);
    gda_verifier_free(v);
    gda_signed_headers_release(NULL);

    assert_string_equal(gda_auth_reason_str(GDA_AUTH_MISSING), "missing");
    assert_string_equal(gda_auth_reason_str(GDA_AUTH_REPLAYED), "replayed");
    assert_string_equal(gda_auth_reason_str((gda_auth_reason)42), "unknown");
    assert_string_equal(gda_auth_scheme_str(GDA_AUTH_HMAC_SHA256), "hmac-sha256");
    gda_auth_scheme s;
    assert_true(gda_auth_scheme_parse("HMAC", &s));
    assert_int_equal(s, GDA_AUTH_HMAC_SHA256);
    assert_false(gda_auth_scheme_parse("digest", &s));
    assert_false(gda_auth_scheme_parse(NULL, &s));
    assert_int_equal(gda_verifier_verify(NULL, NULL, 0, NULL, &err), GDA_ERR_INTERNAL);
}

/* ---- authorizer --------------------------------------------------------- */

#define ARN "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/genesys/dataaction"

static json_t *authorize(gda_verifier *v, const char *event, gda_status expect,
                         gda_auth_result *res)
{
    char *out = NULL;
    size_t len = 0;
    gda_error err;
    gda_status st = gda_authorizer_respond(v, event, strlen(event), NOW_MS, &out, &len, res, &err);
    if (st != expect)
        fail_msg("authorizer: %d (%s), want %d", st, err.message, expect);
    if (!out)
        return NULL;
    assert_int_equal(strlen(out), len);
    assert_null(strchr(out, '*')); /* never a wildcard */
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    free(out);
    json_t *stmt = json_array_get(json_object_get(json_object_get(j, "policyDocument"), "Statement"), 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "policyDocument"), "Statement")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "policyDocument"), "Version")),
                        "2012-10-17");
    assert_string_equal(json_string_value(json_object_get(stmt, "Action")), "execute-api:Invoke");
    assert_string_equal(json_string_value(json_object_get(stmt, "Resource")), ARN);
    assert_string_equal(json_string_value(json_object_get(stmt, "Effect")),
                        expect == GDA_OK ? "Allow" : "Deny");
    return j;
}

static void test_authorizer(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_TOKEN), "k1:" SECRET_A);
    gda_auth_result res;
    json_t *j = authorize(v, "{\"type\":\"TOKEN\",\"authorizationToken\":\"" SECRET_A
                             "\",\"methodArn\":\"" ARN "\"}",
                          GDA_OK, &res);
    assert_string_equal(json_string_value(json_object_get(j, "principalId")), "k1");
    json_t *ctx = json_object_get(j, "context");
    assert_string_equal(json_string_value(json_object_get(ctx, "keyId")), "k1");
    assert_string_equal(json_string_value(json_object_get(ctx, "scheme")), "token");
    char *dumped = json_dumps(j, 0);
    assert_null(strstr(dumped, SECRET_A)); /* the secret never reaches the policy */
    free(dumped);
    json_decref(j);
    /* wrong, missing token: Deny of the same ARN */
    j = authorize(v, "{\"type\":\"TOKEN\",\"authorizationToken\":\"" SECRET_C
                     "\",\"methodArn\":\"" ARN "\"}",
                  GDA_ERR_UNAUTHORIZED, &res);
    assert_int_equal(res.reason, GDA_AUTH_MISMATCH);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "context"), "keyId")), "");
    json_decref(j);
    j = authorize(v, "{\"type\":\"TOKEN\",\"methodArn\":\"" ARN "\"}", GDA_ERR_UNAUTHORIZED, &res);
    assert_int_equal(res.reason, GDA_AUTH_MISSING);
    json_decref(j);
    /* REQUEST events: headers, or multiValueHeaders where repeats show */
    j = authorize(v, "{\"type\":\"REQUEST\",\"methodArn\":\"" ARN "\",\"headers\":"
                     "{\"x-genesys-signature\":\"" SECRET_A "\",\"Host\":\"h\"}}",
                  GDA_OK, &res);
    json_decref(j);
    j = authorize(v, "{\"type\":\"REQUEST\",\"methodArn\":\"" ARN "\",\"headers\":"
                     "{\"X-Genesys-Signature\":\"" SECRET_A "\"},\"multiValueHeaders\":"
                     "{\"X-Genesys-Signature\":[\"" SECRET_C "\",\"" SECRET_A "\"]}}",
                  GDA_ERR_UNAUTHORIZED, &res);
    assert_int_equal(res.reason, GDA_AUTH_AMBIGUOUS);
    json_decref(j);
    j = authorize(v, "{\"type\":\"REQUEST\",\"methodArn\":\"" ARN "\",\"headers\":null}",
                  GDA_ERR_UNAUTHORIZED, &res);
    json_decref(j);
    /* no policy at all when the event cannot be scoped */
    const char *invalid[] = {
        "{\"type\":\"TOKEN\",\"authorizationToken\":\"" SECRET_A "\"}",
        "{\"type\":\"TOKEN\",\"authorizationToken\":\"" SECRET_A "\",\"methodArn\":\"*\"}",
        "{\"type\":\"TOKEN\",\"authorizationToken\":\"" SECRET_A "\",\"methodArn\":"
        "\"arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*\"}",
        "{\"type\":\"TOKEN\",\"authorizationToken\":\"" SECRET_A "\",\"methodArn\":"
        "\"arn:aws:s3:::bucket/key/more/stuff\"}",
        "{\"type\":\"TOKEN\",\"authorizationToken\":\"" SECRET_A "\",\"methodArn\":42}",
        "{\"type\":\"COOKIE\",\"methodArn\":\"" ARN "\"}",
        "{\"methodArn\":\"" ARN "\"}",
        "[]",
        "{\"type\":\"TOKEN\",\"type\":\"REQUEST\",\"methodArn\":\"" ARN "\"}",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        assert_null(authorize(v, invalid[i], GDA_ERR_INVALID_REQUEST, NULL));
    gda_verifier_free(v);

    /* JWT in a TOKEN authorizer: principal from "sub" */
    v = verifier_of(gda_verifier_options_default(GDA_AUTH_JWT), "ka:" SECRET_A);
    char claims[100], event[1200];
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"sub\":\"genesys-org\"}", NOW_S + 60);
    char *b = bearer(GDA_JWT_HS256, key_a, sizeof key_a, HS, claims);
    snprintf(event, sizeof event,
             "{\"type\":\"TOKEN\",\"authorizationToken\":\"%s\",\"methodArn\":\"" ARN "\"}", b);
    j = authorize(v, event, GDA_OK, &res);
    assert_string_equal(json_string_value(json_object_get(j, "principalId")), "genesys-org");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "context"), "scheme")),
                        "jwt");
    json_decref(j);
    free(b);
    gda_verifier_free(v);

    /* schemes that need the body (or Basic) are refused in authorizer mode */
    gda_auth_scheme no[] = {GDA_AUTH_HMAC_SHA256, GDA_AUTH_BASIC};
    for (size_t i = 0; i < 2; i++) {
        v = verifier_of(gda_verifier_options_default(no[i]), "k1:" SECRET_A);
        char *out = (char *)&out;
        size_t len = 1;
        gda_error err;
        const char *ev = "{\"type\":\"TOKEN\",\"methodArn\":\"" ARN "\"}";
        assert_int_equal(gda_authorizer_respond(v, ev, strlen(ev), NOW_MS, &out, &len, NULL, &err),
                         GDA_ERR_CONFIG);
        assert_null(out);
        assert_int_equal(len, 0);
        assert_non_null(strstr(err.message, "never sees the request body"));
        gda_verifier_free(v);
    }
}

/* gda_authorizer_answer decides an event decoded by event.c; respond is
 * decode + answer, so the two agree. */
static void test_authorizer_answer(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_TOKEN), "k1:" SECRET_A);
    const char *token_event = "{\"type\":\"TOKEN\",\"authorizationToken\":\"" SECRET_A
                              "\",\"methodArn\":\"" ARN "\"}";
    gda_authorizer_event ev;
    gda_error err;
    assert_int_equal(gda_authorizer_event_decode(token_event, strlen(token_event), 0, &ev, &err),
                     GDA_OK);
    char *out = NULL, *again = NULL;
    size_t len = 0, again_len = 0;
    gda_auth_result res;
    assert_int_equal(gda_authorizer_answer(v, &ev, NOW_MS, &out, &len, &res, &err), GDA_OK);
    assert_int_equal(res.reason, GDA_AUTH_ACCEPTED);
    assert_string_equal(res.key_id, "k1");
    assert_int_equal(gda_authorizer_respond(v, token_event, strlen(token_event), NOW_MS, &again,
                                            &again_len, NULL, &err),
                     GDA_OK);
    assert_int_equal(len, again_len);
    assert_string_equal(out, again);
    assert_non_null(strstr(out, "\"Effect\":\"Allow\""));
    assert_non_null(strstr(out, "\"Resource\":\"" ARN "\""));
    free(out);
    free(again);
    gda_authorizer_event_release(&ev);

    /* REQUEST: a repeated credential is ambiguous, a Deny of the same ARN */
    const char *request_event = "{\"type\":\"REQUEST\",\"methodArn\":\"" ARN "\","
                                "\"multiValueHeaders\":{\"X-Genesys-Signature\":[\"" SECRET_A
                                "\",\"" SECRET_A "\"]}}";
    assert_int_equal(
        gda_authorizer_event_decode(request_event, strlen(request_event), 0, &ev, &err), GDA_OK);
    assert_int_equal(gda_authorizer_answer(v, &ev, NOW_MS, &out, &len, &res, &err),
                     GDA_ERR_UNAUTHORIZED);
    assert_int_equal(res.reason, GDA_AUTH_AMBIGUOUS);
    assert_string_equal(err.message, "unauthorized");
    assert_non_null(strstr(out, "\"Effect\":\"Deny\""));
    assert_non_null(strstr(out, "\"Resource\":\"" ARN "\""));
    free(out);

    /* bad arguments: no policy */
    assert_int_equal(gda_authorizer_answer(NULL, &ev, NOW_MS, &out, &len, &res, &err),
                     GDA_ERR_INTERNAL);
    assert_null(out);
    assert_int_equal(gda_authorizer_answer(v, NULL, NOW_MS, &out, &len, &res, &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_authorizer_answer(v, &ev, NOW_MS, NULL, &len, &res, &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_authorizer_respond(v, NULL, 3, NOW_MS, &out, &len, &res, &err),
                     GDA_ERR_INTERNAL);
    gda_verifier_free(v);
    /* a body scheme: refused before anything else */
    v = verifier_of(gda_verifier_options_default(GDA_AUTH_HMAC_SHA256), "k1:" SECRET_A);
    out = (char *)&out;
    assert_int_equal(gda_authorizer_answer(v, &ev, NOW_MS, &out, &len, &res, &err),
                     GDA_ERR_CONFIG);
    assert_null(out);
    assert_string_equal(err.field, "scheme");
    assert_int_equal(gda_authorizer_respond(v, "not json", 8, NOW_MS, &out, &len, &res, &err),
                     GDA_ERR_CONFIG);
    gda_authorizer_event_release(&ev);
    gda_verifier_free(v);
}

/* An oversized credential is the verifier's to refuse: a Deny (malformed),
 * not a failed invocation. */
static void test_authorizer_oversized_credential(void **state)
{
    (void)state;
    gda_verifier *v = verifier_of(gda_verifier_options_default(GDA_AUTH_JWT), "ka:" SECRET_A);
    size_t big = 20000;
    char *event = malloc(big + 256);
    assert_non_null(event);
    int n = snprintf(event, 256, "{\"type\":\"TOKEN\",\"methodArn\":\"" ARN
                                 "\",\"authorizationToken\":\"Bearer ");
    memset(event + n, 'A', big);
    memcpy(event + n + big, "\"}", 3);
    gda_auth_result res;
    json_t *j = authorize(v, event, GDA_ERR_UNAUTHORIZED, &res);
    assert_int_equal(res.reason, GDA_AUTH_MALFORMED);
    json_decref(j);
    n = snprintf(event, 256, "{\"type\":\"REQUEST\",\"methodArn\":\"" ARN
                             "\",\"headers\":{\"Authorization\":\"Bearer ");
    memset(event + n, 'A', big);
    memcpy(event + n + big, "\"}}", 4);
    j = authorize(v, event, GDA_ERR_UNAUTHORIZED, &res);
    assert_int_equal(res.reason, GDA_AUTH_MALFORMED);
    json_decref(j);
    free(event);
    gda_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyring_parse),
        cmocka_unit_test(test_keyring_errors),
        cmocka_unit_test(test_keygen),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_formats),
        cmocka_unit_test(test_hmac_v1_worked_example),
        cmocka_unit_test(test_hmac_binds_the_request),
        cmocka_unit_test(test_hmac_timestamp_window),
        cmocka_unit_test(test_jwt_claims),
        cmocka_unit_test(test_weak_setups),
        cmocka_unit_test(test_keyring_callers),
        cmocka_unit_test(test_jwt_structure),
        cmocka_unit_test(test_jwt_algorithms),
        cmocka_unit_test(test_jwt_rfc8037),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_rotation_while_in_use),
        cmocka_unit_test(test_verifier_config_errors),
        cmocka_unit_test(test_from_config),
        cmocka_unit_test(test_sign_errors_and_names),
        cmocka_unit_test(test_authorizer),
        cmocka_unit_test(test_authorizer_answer),
        cmocka_unit_test(test_authorizer_oversized_credential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
