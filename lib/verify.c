/* libgda — verifiers (include/gda/verify.h): set-up, rotation, and the
 * verification of a request by the token, jwt, basic and (verify_hmac.c)
 * hmac-sha256 schemes.
 *
 * Rules kept throughout: secret bytes are compared only with sodium_memcmp /
 * crypto_verify_32, every ring entry is compared with no early exit and the
 * matching index chosen with a branch-free select (gda_keyring_match), and
 * secret text never reaches an error message.
 */
#include <gda/init.h>
#include <gda/verify.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "digest.h"
#include "jwt.h"
#include "keyring_private.h"
#include "verify_hmac.h"
#include "verify_options.h"
#include "verify_private.h"

#define DEFAULT_SIGNATURE_HEADER "X-Genesys-Signature"
#define DEFAULT_TIMESTAMP_HEADER "X-Genesys-Timestamp"
#define AUTHORIZATION "Authorization"
/* Longest credential header value we look at. */
#define HEADER_VALUE_MAX (GDA_JWT_MAX_TOKEN + 16)

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

const char *gda_auth_scheme_str(gda_auth_scheme scheme)
{
    switch (scheme) {
    case GDA_AUTH_TOKEN: return "token";
    case GDA_AUTH_HMAC_SHA256: return "hmac-sha256";
    case GDA_AUTH_JWT: return "jwt";
    case GDA_AUTH_BASIC: return "basic";
    }
    return "unknown";
}

bool gda_auth_scheme_parse(const char *name, gda_auth_scheme *out)
{
    gda_slice s = gda_slice_cstr(name);
    gda_auth_scheme v;
    if (gda_slice_ieq(s, "token"))
        v = GDA_AUTH_TOKEN;
    else if (gda_slice_ieq(s, "hmac-sha256") || gda_slice_ieq(s, "hmac"))
        v = GDA_AUTH_HMAC_SHA256;
    else if (gda_slice_ieq(s, "jwt"))
        v = GDA_AUTH_JWT;
    else if (gda_slice_ieq(s, "basic"))
        v = GDA_AUTH_BASIC;
    else
        return false;
    if (out)
        *out = v;
    return true;
}

const char *gda_auth_reason_str(gda_auth_reason reason)
{
    switch (reason) {
    case GDA_AUTH_ACCEPTED: return "accepted";
    case GDA_AUTH_MISSING: return "missing";
    case GDA_AUTH_MALFORMED: return "malformed";
    case GDA_AUTH_MISMATCH: return "mismatch";
    case GDA_AUTH_EXPIRED: return "expired";
    case GDA_AUTH_REPLAYED: return "replayed";
    case GDA_AUTH_AMBIGUOUS: return "ambiguous";
    case GDA_AUTH_ALGORITHM: return "algorithm";
    case GDA_AUTH_UNBOUND: return "unbound";
    case GDA_AUTH_LIFETIME: return "lifetime";
    }
    return "unknown";
}

gda_verifier_options gda_verifier_options_default(gda_auth_scheme scheme)
{
    gda_verifier_options o;
    memset(&o, 0, sizeof o);
    o.scheme = scheme;
    o.hmac_timestamp = true;
    o.replay_window_s = 300;
    o.jwt_algs = GDA_JWT_HS256 | GDA_JWT_EDDSA;
    o.jwt_leeway_s = 60;
    o.jwt_require_exp = true;
    o.jwt_max_lifetime_s = 3600;
    return o;
}

/* RFC 7230 token characters. */
static bool valid_header_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= GDA_HEADER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!(id_char(c) || (c && strchr("!#$%&'*+^`|~", c))))
            return false;
    }
    return true;
}

/* Does `ring` hold an entry the verifier can use? */
static bool ring_usable(const gda_verifier *v, const gda_keyring *ring)
{
    for (size_t i = 0; i < ring->n; i++) {
        gda_key_type t = ring->entries[i].type;
        if (v->scheme != GDA_AUTH_JWT && t == GDA_KEY_SECRET)
            return true;
        if (v->scheme == GDA_AUTH_JWT &&
            ((t == GDA_KEY_SECRET && (v->jwt_algs & GDA_JWT_HS256)) ||
             (t == GDA_KEY_ED25519_PUBLIC && (v->jwt_algs & GDA_JWT_EDDSA))))
            return true;
    }
    return false;
}

/* An HS256 key shorter than the hash (RFC 7518 section 3.2) is refused for
 * a jwt verifier that allows HS256, naming the entry, never its value. */
static gda_status weak_hs256(const gda_verifier *v, const gda_keyring *ring, gda_error *err)
{
    if (v->scheme != GDA_AUTH_JWT || !(v->jwt_algs & GDA_JWT_HS256))
        return GDA_OK;
    for (size_t i = 0; i < ring->n; i++) {
        const gda_ring_entry *e = &ring->entries[i];
        if (e->type == GDA_KEY_SECRET && e->len < GDA_JWT_HS256_MIN_KEY_BYTES)
            return gda_error_set(err, GDA_ERR_CONFIG, "keyring",
                                 "key ring entry %zu (\"%s\"): an HS256 key must be at least %d "
                                 "bytes",
                                 i + 1, e->id, GDA_JWT_HS256_MIN_KEY_BYTES);
    }
    return GDA_OK;
}

static gda_status ring_unusable(const gda_verifier *v, gda_error *err)
{
    return gda_error_set(err, GDA_ERR_CONFIG, "keyring",
                         "the key ring has no entry the %s scheme can use%s",
                         gda_auth_scheme_str(v->scheme),
                         v->scheme == GDA_AUTH_JWT ? " with the allowed algorithms"
                                                   : " (Ed25519 keys serve only jwt)");
}

void gda_verifier_free(gda_verifier *v)
{
    if (!v)
        return;
    pthread_mutex_destroy(&v->lock);
    gda_keyring_free(v->ring);
    free((char *)v->policy.issuer);
    free((char *)v->policy.audience);
    free(v);
}

static gda_status copy_optional(const char *in, const char **out, const char *what,
                                gda_error *err)
{
    *out = NULL;
    if (!in)
        return GDA_OK;
    if (!*in)
        return gda_error_set(err, GDA_ERR_CONFIG, what, "the %s must not be empty", what);
    char *c = strdup(in);
    if (!c)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    *out = c;
    return GDA_OK;
}

static gda_status verifier_build(const gda_verifier_options *opt, gda_keyring *ring,
                                 gda_verifier **out, gda_error *err)
{
    if (!out || !opt || !ring)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "missing verifier argument");
    *out = NULL;
    gda_status st = gda_init(err);
    if (st != GDA_OK)
        return st;
    if (opt->scheme != GDA_AUTH_TOKEN && opt->scheme != GDA_AUTH_HMAC_SHA256 &&
        opt->scheme != GDA_AUTH_JWT && opt->scheme != GDA_AUTH_BASIC)
        return gda_error_set(err, GDA_ERR_CONFIG, "scheme", "unknown authentication scheme");
    bool sig_default = opt->scheme == GDA_AUTH_TOKEN || opt->scheme == GDA_AUTH_HMAC_SHA256;
    const char *header = opt->header ? opt->header
                                     : (sig_default ? DEFAULT_SIGNATURE_HEADER : AUTHORIZATION);
    const char *ts_header = opt->timestamp_header ? opt->timestamp_header
                                                  : DEFAULT_TIMESTAMP_HEADER;
    if (!valid_header_name(header))
        return gda_error_set(err, GDA_ERR_CONFIG, "header", "invalid credential header name");
    if (!valid_header_name(ts_header))
        return gda_error_set(err, GDA_ERR_CONFIG, "timestamp_header",
                             "invalid timestamp header name");
    if (opt->scheme == GDA_AUTH_BASIC && !gda_slice_ieq(gda_slice_cstr(header), AUTHORIZATION))
        return gda_error_set(err, GDA_ERR_CONFIG, "header",
                             "the basic scheme uses the Authorization header");
    if (opt->scheme == GDA_AUTH_HMAC_SHA256 && opt->hmac_timestamp &&
        gda_slice_ieq(gda_slice_cstr(header), ts_header))
        return gda_error_set(err, GDA_ERR_CONFIG, "timestamp_header",
                             "the timestamp and signature headers must differ");
    if (opt->replay_window_s < 1 || opt->replay_window_s > 86400)
        return gda_error_set(err, GDA_ERR_CONFIG, "window",
                             "the replay window must be 1..86400 seconds");
    if (opt->jwt_max_lifetime_s < 1 || opt->jwt_max_lifetime_s > 31622400)
        return gda_error_set(err, GDA_ERR_CONFIG, "max_lifetime",
                             "the JWT maximum lifetime must be 1..31622400 seconds");
    if (opt->jwt_leeway_s < 0 || opt->jwt_leeway_s > 3600)
        return gda_error_set(err, GDA_ERR_CONFIG, "leeway",
                             "the JWT leeway must be 0..3600 seconds");
    if ((opt->jwt_algs & (GDA_JWT_HS256 | GDA_JWT_EDDSA)) == 0 ||
        (opt->jwt_algs & ~(GDA_JWT_HS256 | GDA_JWT_EDDSA)))
        return gda_error_set(err, GDA_ERR_CONFIG, "algs",
                             "the JWT algorithm allow-list must name HS256 and/or EdDSA only");

    gda_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    v->scheme = opt->scheme;
    snprintf(v->header, sizeof v->header, "%s", header);
    v->header_is_authorization = gda_slice_ieq(gda_slice_cstr(header), AUTHORIZATION);
    v->hmac_timestamp = opt->hmac_timestamp;
    snprintf(v->timestamp_header, sizeof v->timestamp_header, "%s", ts_header);
    v->window_s = opt->replay_window_s;
    v->jwt_algs = opt->jwt_algs;
    v->policy.leeway_s = opt->jwt_leeway_s;
    v->policy.require_exp = opt->jwt_require_exp;
    v->policy.max_lifetime_s = opt->jwt_max_lifetime_s;
    if ((st = copy_optional(opt->jwt_issuer, &v->policy.issuer, "issuer", err)) != GDA_OK ||
        (st = copy_optional(opt->jwt_audience, &v->policy.audience, "audience", err)) != GDA_OK)
        goto fail;
    if (!ring_usable(v, ring)) {
        st = ring_unusable(v, err);
        goto fail;
    }
    if ((st = weak_hs256(v, ring, err)) != GDA_OK)
        goto fail;
    if (pthread_mutex_init(&v->lock, NULL) != 0) {
        st = gda_error_set(err, GDA_ERR_INTERNAL, NULL, "cannot create the verifier lock");
        goto fail;
    }
    v->ring = ring;
    *out = v;
    return GDA_OK;

fail: /* before the lock exists, so not gda_verifier_free */
    free((char *)v->policy.issuer);
    free((char *)v->policy.audience);
    free(v);
    return st;
}

gda_status gda_verifier_new(const gda_verifier_options *opt, gda_keyring *ring,
                            gda_verifier **out, gda_error *err)
{
    /* Taken over also on failure (docs/architecture.md, "API conventions"),
     * so no caller has a cleanup path of its own to get wrong. */
    gda_status st = verifier_build(opt, ring, out, err);
    if (st != GDA_OK)
        gda_keyring_free(ring);
    return st;
}

gda_status gda_verifier_set_keyring(gda_verifier *v, gda_keyring *ring, gda_error *err)
{
    if (!v || !ring)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "missing verifier or key ring");
    if (!ring_usable(v, ring))
        return ring_unusable(v, err);
    gda_status st = weak_hs256(v, ring, err);
    if (st != GDA_OK)
        return st;
    pthread_mutex_lock(&v->lock);
    gda_keyring *old = v->ring;
    v->ring = ring;
    pthread_mutex_unlock(&v->lock);
    /* In-flight verifications hold their own references to `old`. */
    gda_keyring_free(old);
    return GDA_OK;
}

gda_auth_scheme gda_verifier_scheme(const gda_verifier *v)
{
    return v ? v->scheme : (gda_auth_scheme)0;
}

gda_keyring *gda_verifier_current_ring(gda_verifier *v)
{
    pthread_mutex_lock(&v->lock);
    gda_keyring *ring = gda_keyring_ref(v->ring);
    pthread_mutex_unlock(&v->lock);
    return ring;
}

/* ---- config-string constructor ----------------------------------------- */

gda_status gda_verifier_new_from_config(const char *scheme, const char *keyring,
                                        size_t keyring_len, const char *options,
                                        gda_verifier **out, gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no output for the verifier");
    *out = NULL;
    gda_auth_scheme s;
    if (!gda_auth_scheme_parse(scheme, &s))
        return gda_error_set(err, GDA_ERR_CONFIG, "scheme",
                             "unknown scheme (token, hmac-sha256, jwt or basic)");
    gda_verifier_options opt = gda_verifier_options_default(s);
    char *buf = NULL; /* holds the option values opt points to */
    gda_status st = gda_verifier_options_parse(options, &opt, &buf, err);
    gda_keyring *ring = NULL;
    if (st == GDA_OK)
        st = gda_keyring_parse(keyring, keyring_len, &ring, err);
    if (st == GDA_OK)
        st = gda_verifier_new(&opt, ring, out, err);
    free(buf);
    return st;
}

/* ---- verification ------------------------------------------------------- */

gda_header_hit gda_header_wanted(const char *name)
{
    gda_header_hit h = {name, strlen(name), 0, GDA_SLICE_NULL};
    return h;
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void note_header(gda_header_hit *h, const gda_header *header)
{
    if (header->name.len != h->name_len)
        return;
    for (size_t i = 0; i < h->name_len; i++) {
        if (ascii_lower(header->name.ptr[i]) != ascii_lower(h->name[i]))
            return;
    }
    if (h->count++ == 0)
        h->value = header->value;
}

/* Names of another length are passed over without a character compared. */
void gda_find_headers(const gda_http_request *req, gda_header_hit *a, gda_header_hit *b)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        note_header(a, &req->headers[i]);
        if (b)
            note_header(b, &req->headers[i]);
    }
}

gda_auth_reason gda_checked_header(const gda_header_hit *h, gda_slice *out)
{
    if (h->count == 0)
        return GDA_AUTH_MISSING;
    if (h->count > 1)
        return GDA_AUTH_AMBIGUOUS;
    gda_slice v = gda_text_trim(h->value);
    if (v.len == 0)
        return GDA_AUTH_MISSING;
    if (v.len > HEADER_VALUE_MAX)
        return GDA_AUTH_MALFORMED;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c < 0x20 || c > 0x7e)
            return GDA_AUTH_MALFORMED;
    }
    *out = v;
    return GDA_AUTH_ACCEPTED;
}

static gda_auth_reason single_header(const gda_http_request *req, const char *name,
                                     gda_slice *out)
{
    gda_header_hit h = gda_header_wanted(name);
    gda_find_headers(req, &h, NULL);
    return gda_checked_header(&h, out);
}

/* "Bearer xyz" → "xyz" (auth-scheme case-insensitive, one or more spaces). */
static gda_auth_reason strip_auth_scheme(gda_slice *v, const char *scheme)
{
    size_t n = strlen(scheme);
    if (v->len <= n || !gda_slice_ieq(gda_slice_make(v->ptr, n), scheme) || v->ptr[n] != ' ')
        return GDA_AUTH_MALFORMED;
    gda_slice rest = gda_text_trim(gda_slice_make(v->ptr + n, v->len - n));
    if (rest.len == 0)
        return GDA_AUTH_MALFORMED;
    *v = rest;
    return GDA_AUTH_ACCEPTED;
}

/* The credential in the configured header; when that header is
 * Authorization it must carry the Bearer scheme, which is stripped. */
static gda_auth_reason bearer_credential(const gda_verifier *v, const gda_http_request *req,
                                         gda_slice *out)
{
    gda_auth_reason reason = single_header(req, v->header, out);
    if (reason == GDA_AUTH_ACCEPTED && v->header_is_authorization)
        reason = strip_auth_scheme(out, "Bearer");
    return reason;
}

/* A secret as the request gave it, zero-padded so that every comparison
 * can read a full entry length. */
typedef struct given_secret {
    uint8_t bytes[GDA_KEY_MAX_BYTES + 3];
    size_t len;
} given_secret;

static unsigned same_secret(const gda_ring_entry *e, const void *given)
{
    const given_secret *g = given;
    unsigned same = (unsigned)(sodium_memcmp(g->bytes, e->key, e->len) == 0);
    same &= (unsigned)(g->len == e->len);
    return same;
}

/* Token: the header's base64 decodes to the bytes of some secret entry. */
static void verify_token(const gda_verifier *v, const gda_keyring *ring,
                         const gda_http_request *req, gda_verdict *out)
{
    gda_slice value;
    out->reason = bearer_credential(v, req, &value);
    if (out->reason != GDA_AUTH_ACCEPTED)
        return;
    given_secret given;
    memset(&given, 0, sizeof given);
    if (value.len > GDA_KEY_TEXT_MAX ||
        !gda_key_b64_decode(value.ptr, value.len, given.bytes, sizeof given.bytes, &given.len)) {
        sodium_memzero(&given, sizeof given);
        out->reason = GDA_AUTH_MALFORMED;
        return;
    }
    out->entry = gda_keyring_match(ring, GDA_KEY_SECRET, NULL, same_secret, &given);
    sodium_memzero(&given, sizeof given);
    out->reason = out->entry ? GDA_AUTH_ACCEPTED : GDA_AUTH_MISMATCH;
}

static unsigned same_hs256(const gda_ring_entry *e, const void *jws)
{
    return (unsigned)gda_jws_check_hs256(jws, e->hmac);
}

static unsigned same_eddsa(const gda_ring_entry *e, const void *jws)
{
    return (unsigned)gda_jws_check_eddsa(jws, e->key);
}

static void verify_jwt(const gda_verifier *v, const gda_keyring *ring,
                       const gda_http_request *req, int64_t now_ms, gda_verdict *out,
                       gda_status *fatal)
{
    gda_slice token;
    out->reason = bearer_credential(v, req, &token);
    if (out->reason != GDA_AUTH_ACCEPTED)
        return;
    gda_jws jws;
    gda_status st = gda_jws_parse(token, &jws);
    if (st != GDA_OK) {
        gda_jws_release(&jws);
        if (st == GDA_ERR_NOMEM)
            *fatal = st;
        out->reason = GDA_AUTH_MALFORMED;
        return;
    }
    gda_jws_header hdr;
    out->reason = gda_jws_read_header(&jws, v->jwt_algs, &hdr);
    if (out->reason == GDA_AUTH_ACCEPTED) {
        size_t want_sig = hdr.alg == GDA_JWT_HS256 ? GDA_SHA256_LEN : crypto_sign_BYTES;
        if (jws.sig_len != want_sig)
            out->reason = GDA_AUTH_MALFORMED; /* truncated, over-long or absent */
    }
    if (out->reason != GDA_AUTH_ACCEPTED) {
        gda_jws_release(&jws);
        return;
    }
    /* Each key serves only its own algorithm: an HS256 token is never checked
     * against an Ed25519 public key used as an HMAC secret, nor the reverse. */
    gda_key_type want = hdr.alg == GDA_JWT_HS256 ? GDA_KEY_SECRET : GDA_KEY_ED25519_PUBLIC;
    const gda_ring_entry *e = gda_keyring_match(ring, want, hdr.has_kid ? hdr.kid : NULL,
                                                want == GDA_KEY_SECRET ? same_hs256 : same_eddsa,
                                                &jws);
    if (!e) {
        out->reason = GDA_AUTH_MISMATCH;
    } else {
        out->reason = gda_jwt_check_claims(&jws, &v->policy, now_ms, out->principal,
                                           sizeof out->principal);
        if (out->reason == GDA_AUTH_ACCEPTED)
            out->entry = e;
    }
    gda_jws_release(&jws);
}

/* Basic's user and password as the request gave them. */
typedef struct given_pair {
    uint8_t user[GDA_KEY_ID_MAX + 1];
    size_t user_len;
    given_secret pass;
    unsigned user_ok, pass_ok;
} given_pair;

static unsigned same_pair(const gda_ring_entry *e, const void *given)
{
    const given_pair *g = given;
    uint8_t id[GDA_KEY_ID_MAX + 1];
    memset(id, 0, sizeof id);
    memcpy(id, e->id, e->id_len);
    unsigned same_user = (unsigned)(sodium_memcmp(g->user, id, sizeof id) == 0) &
                         (unsigned)(g->user_len == e->id_len);
    return same_user & same_secret(e, &g->pass) & g->user_ok & g->pass_ok;
}

static void verify_basic(const gda_verifier *v, const gda_keyring *ring,
                         const gda_http_request *req, gda_verdict *out)
{
    gda_slice value;
    out->reason = single_header(req, v->header, &value);
    if (out->reason != GDA_AUTH_ACCEPTED)
        return;
    if ((out->reason = strip_auth_scheme(&value, "Basic")))
        return;
    /* user (<= 64) ':' password (a key's base64 text). */
    enum { PAIR_MAX = GDA_KEY_ID_MAX + 1 + GDA_KEY_TEXT_MAX };
    uint8_t pair[PAIR_MAX + 3];
    size_t pair_len = 0;
    const uint8_t *colon = NULL;
    if (value.len > (PAIR_MAX + 2) / 3 * 4 ||
        !gda_key_b64_decode(value.ptr, value.len, pair, sizeof pair, &pair_len) ||
        !(colon = memchr(pair, ':', pair_len))) {
        sodium_memzero(pair, sizeof pair);
        out->reason = GDA_AUTH_MALFORMED;
        return;
    }
    size_t user_len = (size_t)(colon - pair);
    size_t pass_text_len = pair_len - user_len - 1;
    /* Both sides padded to fixed sizes so every comparison runs full length. */
    given_pair given;
    memset(&given, 0, sizeof given);
    memcpy(given.user, pair, user_len <= GDA_KEY_ID_MAX ? user_len : GDA_KEY_ID_MAX);
    given.user_len = user_len;
    /* A password that is not base64 can match nothing; keep going so the
     * work done does not depend on it. */
    given.pass_ok = (unsigned)(pass_text_len > 0 &&
                               gda_key_b64_decode((const char *)colon + 1, pass_text_len,
                                                  given.pass.bytes, sizeof given.pass.bytes,
                                                  &given.pass.len));
    given.user_ok = (unsigned)(user_len > 0 && user_len <= GDA_KEY_ID_MAX);
    out->entry = gda_keyring_match(ring, GDA_KEY_SECRET, NULL, same_pair, &given);
    sodium_memzero(pair, sizeof pair);
    sodium_memzero(&given, sizeof given);
    out->reason = out->entry ? GDA_AUTH_ACCEPTED : GDA_AUTH_MISMATCH;
    if (out->entry)
        snprintf(out->principal, sizeof out->principal, "%s", out->entry->id);
}

static gda_status run_verify(gda_verifier *v, const gda_http_request *req, int64_t now_ms,
                             gda_auth_result *result, gda_error *err)
{
    gda_keyring *ring = gda_verifier_current_ring(v);
    gda_verdict d;
    memset(&d, 0, sizeof d);
    gda_status fatal = GDA_OK;
    switch (v->scheme) {
    case GDA_AUTH_TOKEN: verify_token(v, ring, req, &d); break;
    case GDA_AUTH_HMAC_SHA256: gda_verify_hmac(v, ring, req, now_ms, &d); break;
    case GDA_AUTH_JWT: verify_jwt(v, ring, req, now_ms, &d, &fatal); break;
    case GDA_AUTH_BASIC: verify_basic(v, ring, req, &d); break;
    }
    if (result) {
        memset(result, 0, sizeof *result);
        result->scheme = v->scheme;
        result->reason = d.reason;
        if (d.reason == GDA_AUTH_ACCEPTED && d.entry) {
            /* Both fit: ids are at most GDA_KEY_ID_MAX bytes and the gda_verdict's
             * principal has the result's size (and is NUL-terminated). */
            memcpy(result->key_id, d.entry->id, d.entry->id_len + 1);
            memcpy(result->caller, d.entry->caller, strlen(d.entry->caller) + 1);
            const char *principal = d.principal[0] ? d.principal : d.entry->id;
            memcpy(result->principal, principal, strlen(principal) + 1);
        }
    }
    bool ok = d.reason == GDA_AUTH_ACCEPTED && d.entry;
    gda_keyring_free(ring);
    if (fatal != GDA_OK)
        return gda_error_set(err, fatal, NULL, "out of memory");
    if (!ok) {
        if (result && result->reason == GDA_AUTH_ACCEPTED)
            result->reason = GDA_AUTH_MISMATCH;
        return gda_error_set(err, GDA_ERR_UNAUTHORIZED, NULL, GDA_AUTH_REFUSAL);
    }
    gda_error_clear(err);
    return GDA_OK;
}

gda_status gda_verifier_verify(gda_verifier *v, const gda_http_request *req, int64_t now_ms,
                               gda_auth_result *result, gda_error *err)
{
    if (!v || !req) {
        if (result)
            memset(result, 0, sizeof *result);
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "missing verifier or request");
    }
    return run_verify(v, req, now_ms, result, err); /* which clears *result first */
}
