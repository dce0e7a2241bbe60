/* libgda — request authentication (see include/gda/verify.h).
 *
 * Rules kept throughout this file: secret bytes are compared only with
 * sodium_memcmp / crypto_verify_32, every ring entry is compared with no early
 * exit, the matching index is chosen with a branch-free select, and secret
 * text never reaches an error message.
 */
#include <gda/verify.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "digest.h"
#include "base64.h"
#include "jwt.h"

#define GENERIC_REFUSAL "unauthorized"
#define DEFAULT_SIGNATURE_HEADER "X-Genesys-Signature"
#define DEFAULT_TIMESTAMP_HEADER "X-Genesys-Timestamp"
#define AUTHORIZATION "Authorization"
/* Base64 text long enough for GDA_KEY_MAX_BYTES, with padding. */
#define KEY_TEXT_MAX ((GDA_KEY_MAX_BYTES + 2) / 3 * 4)
/* Longest credential header value we look at. */
#define HEADER_VALUE_MAX (GDA_JWT_MAX_TOKEN + 16)
#define ED25519_PRIVATE_TAG "ed25519-private"
#define ED25519_TAG "ed25519"

/* ---- small helpers ------------------------------------------------------ */

static bool text_is(gda_slice a, const char *b)
{
    return gda_slice_eq(a, gda_slice_cstr(b));
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static gda_slice trim(gda_slice s)
{
    while (s.len && is_space(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && is_space(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

static bool valid_id(gda_slice id)
{
    return gda_slice_is_id(id, GDA_KEY_ID_MAX);
}

/* Branch-free: cond (0 or 1) ? a : b. */
static size_t ct_select(unsigned cond, size_t a, size_t b)
{
    size_t mask = (size_t)0 - (size_t)(cond & 1u);
    return (a & mask) | (b & ~mask);
}

/* Standard base64 with optional padding (the key ring format). */
static bool b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    return len > 0 && gda_base64_decode(in, len, GDA_BASE64_STANDARD, out, cap, out_len) &&
           *out_len > 0;
}

/* Standard base64 with padding as a new heap string (NULL: no memory). */
static char *b64_encode(const uint8_t *in, size_t len)
{
    if (len > GDA_JWT_MAX_TOKEN)
        return NULL;
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

static gda_status init_sodium(gda_error *err)
{
    if (sodium_init() < 0)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "libsodium failed to initialise");
    return GDA_OK;
}

void gda_secret_free(char *s)
{
    if (!s)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}

/* ---- key ring ----------------------------------------------------------- */

typedef struct ring_entry {
    char id[GDA_KEY_ID_MAX + 1];
    size_t id_len;
    char caller[GDA_KEY_ID_MAX + 1]; /* "caller/" prefix of the entry, else the id */
    gda_key_type type;
    size_t len;
    const uint8_t *key;         /* inside the ring's guarded block */
    const gda_hmac_key *hmac;   /* secrets only: the key prepared for HMAC, same block */
} ring_entry;

struct gda_keyring {
    atomic_size_t refs;
    size_t n;
    ring_entry entries[GDA_KEYRING_MAX_ENTRIES];
    /* sodium_malloc block holding one gda_hmac_key per entry, then every
     * decoded key */
    uint8_t *secure;
};

/* One entry of the config, located but not decoded. */
typedef struct entry_text {
    gda_slice caller; /* before '/', or the id itself */
    gda_slice id;
    gda_slice type;  /* empty for a plain secret */
    gda_slice value; /* base64 text */
} entry_text;

/* Refers to an entry by position and, when it is a well-formed id, by id:
 * a malformed "id" may be a secret pasted in the wrong place. */
static gda_status entry_error(gda_error *err, size_t pos, gda_slice id, const char *what)
{
    if (valid_id(id))
        return gda_error_set(err, GDA_ERR_CONFIG, "keyring", "key ring entry %zu (\"%.*s\"): %s",
                             pos, (int)id.len, id.ptr, what);
    return gda_error_set(err, GDA_ERR_CONFIG, "keyring", "key ring entry %zu: %s", pos, what);
}

static gda_status split_entry(gda_slice s, size_t pos, entry_text *out, gda_error *err)
{
    const char *colon = memchr(s.ptr, ':', s.len);
    if (!colon)
        return entry_error(err, pos, GDA_SLICE_NULL, "expected id:BASE64");
    out->id = gda_slice_make(s.ptr, (size_t)(colon - s.ptr));
    /* "caller/id": results belong to the caller, so rotating its key (k1 to
     * k2) keeps its results readable; without a caller name the id is it. */
    const char *slash = memchr(out->id.ptr, '/', out->id.len);
    out->caller = out->id;
    if (slash) {
        out->caller = gda_slice_make(out->id.ptr, (size_t)(slash - out->id.ptr));
        out->id = gda_slice_make(slash + 1, out->id.len - out->caller.len - 1);
        if (!valid_id(out->caller))
            return entry_error(err, pos, GDA_SLICE_NULL,
                               "the caller name must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    if (!valid_id(out->id))
        return entry_error(err, pos, GDA_SLICE_NULL,
                           "the id must be 1-64 characters of A-Z a-z 0-9 . _ -");
    gda_slice rest = gda_slice_make(colon + 1, (size_t)(s.ptr + s.len - colon - 1));
    /* Base64 never holds ':', so a second one introduces a type tag. */
    const char *colon2 = memchr(rest.ptr, ':', rest.len);
    out->type = GDA_SLICE_NULL;
    out->value = rest;
    if (colon2) {
        out->type = gda_slice_make(rest.ptr, (size_t)(colon2 - rest.ptr));
        out->value = gda_slice_make(colon2 + 1, rest.len - out->type.len - 1);
        if (text_is(out->type, ED25519_PRIVATE_TAG))
            return entry_error(err, pos, out->id,
                               "is an Ed25519 private key; a key ring holds only the public entry");
        if (!text_is(out->type, ED25519_TAG))
            return entry_error(err, pos, out->id, "unknown key type (only \"ed25519\")");
    }
    if (out->value.len == 0)
        return entry_error(err, pos, out->id, "empty value");
    if (out->value.len > KEY_TEXT_MAX)
        return entry_error(err, pos, out->id, "value longer than 512 bytes");
    return GDA_OK;
}

gda_status gda_keyring_parse(const char *config, size_t len, gda_keyring **out, gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no output for the key ring");
    *out = NULL;
    gda_status st = init_sodium(err);
    if (st != GDA_OK)
        return st;
    gda_slice all = trim(gda_slice_make(config, config ? len : 0));
    if (all.len == 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "keyring", "the key ring is empty");

    entry_text texts[GDA_KEYRING_MAX_ENTRIES];
    size_t n = 0, capacity = 0;
    const char *p = all.ptr, *end = all.ptr + all.len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        gda_slice s = trim(gda_slice_make(p, (size_t)(stop - p)));
        if (n == GDA_KEYRING_MAX_ENTRIES)
            return gda_error_set(err, GDA_ERR_CONFIG, "keyring",
                                 "the key ring has more than %d entries", GDA_KEYRING_MAX_ENTRIES);
        if (s.len == 0)
            return entry_error(err, n + 1, GDA_SLICE_NULL, "empty entry");
        st = split_entry(s, n + 1, &texts[n], err);
        if (st != GDA_OK)
            return st;
        for (size_t j = 0; j < n; j++) {
            if (gda_slice_eq(texts[j].id, texts[n].id))
                return entry_error(err, n + 1, texts[n].id, "duplicate id");
        }
        capacity += texts[n].value.len / 4 * 3 + 3;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }

    /* The prepared HMAC keys come first and the block's size is a multiple of
     * their alignment: sodium_malloc puts a block against its guard page, so
     * the start is only as aligned as the size. */
    gda_hmac_key *prepared = NULL;
    size_t keys_at = n * sizeof *prepared;
    capacity = (keys_at + capacity + _Alignof(gda_hmac_key) - 1) / _Alignof(gda_hmac_key) *
               _Alignof(gda_hmac_key);
    gda_keyring *ring = calloc(1, sizeof *ring);
    if (!ring)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    ring->secure = sodium_malloc(capacity);
    if (!ring->secure) {
        free(ring);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of secure memory");
    }
    prepared = (gda_hmac_key *)(void *)ring->secure;
    size_t used = keys_at;
    for (size_t i = 0; i < n; i++) {
        ring_entry *e = &ring->entries[i];
        size_t got = 0;
        if (!b64_decode(texts[i].value.ptr, texts[i].value.len, ring->secure + used,
                        capacity - used, &got) ||
            got == 0) {
            st = entry_error(err, i + 1, texts[i].id, "value is not valid base64");
        } else if (texts[i].type.len && got != crypto_sign_PUBLICKEYBYTES) {
            st = entry_error(err, i + 1, texts[i].id, "an Ed25519 public key is 32 bytes");
        } else if (got > GDA_KEY_MAX_BYTES) {
            st = entry_error(err, i + 1, texts[i].id, "value longer than 512 bytes");
        } else if (!texts[i].type.len && got < GDA_KEY_MIN_SECRET_BYTES) {
            /* A short secret falls to brute force in seconds (1 byte: 256
             * guesses at most). */
            st = entry_error(err, i + 1, texts[i].id,
                             "a secret must be at least 16 bytes (gda keygen makes 32)");
        }
        if (st != GDA_OK) {
            sodium_free(ring->secure); /* wipes the keys decoded so far */
            free(ring);
            return st;
        }
        memcpy(e->id, texts[i].id.ptr, texts[i].id.len);
        e->id[texts[i].id.len] = '\0';
        e->id_len = texts[i].id.len;
        memcpy(e->caller, texts[i].caller.ptr, texts[i].caller.len);
        e->caller[texts[i].caller.len] = '\0';
        e->type = texts[i].type.len ? GDA_KEY_ED25519_PUBLIC : GDA_KEY_SECRET;
        e->key = ring->secure + used;
        e->len = got;
        used += got;
        if (e->type == GDA_KEY_SECRET) {
            gda_hmac_sha256_key_init(&prepared[i], e->key, e->len);
            e->hmac = &prepared[i];
        }
    }
    ring->n = n;
    /* Keys never change after parsing: a stray write faults instead. */
    sodium_mprotect_readonly(ring->secure);
    atomic_init(&ring->refs, 1);
    *out = ring;
    return GDA_OK;
}

gda_keyring *gda_keyring_ref(gda_keyring *ring)
{
    if (ring)
        atomic_fetch_add(&ring->refs, 1);
    return ring;
}

void gda_keyring_free(gda_keyring *ring)
{
    if (!ring || atomic_fetch_sub(&ring->refs, 1) != 1)
        return;
    sodium_free(ring->secure);
    free(ring);
}

size_t gda_keyring_size(const gda_keyring *ring)
{
    return ring ? ring->n : 0;
}

const char *gda_keyring_id(const gda_keyring *ring, size_t i)
{
    return ring && i < ring->n ? ring->entries[i].id : NULL;
}

gda_key_type gda_keyring_type(const gda_keyring *ring, size_t i)
{
    return ring && i < ring->n ? ring->entries[i].type : GDA_KEY_SECRET;
}

static const ring_entry *find_entry(const gda_keyring *ring, gda_slice id)
{
    for (size_t i = 0; i < ring->n; i++) {
        if (gda_slice_eq(gda_slice_make(ring->entries[i].id, ring->entries[i].id_len), id))
            return &ring->entries[i];
    }
    return NULL;
}

/* "id:" + tag + base64(bytes) as a heap string. */
static gda_status format_entry(const char *id, const char *tag, const uint8_t *bytes, size_t len,
                               char **out)
{
    char *b64 = b64_encode(bytes, len);
    if (!b64)
        return GDA_ERR_NOMEM;
    size_t need = strlen(id) + strlen(tag) + strlen(b64) + 3;
    char *s = malloc(need);
    if (s)
        snprintf(s, need, "%s:%s%s%s", id, tag, *tag ? ":" : "", b64);
    gda_secret_free(b64);
    *out = s;
    return s ? GDA_OK : GDA_ERR_NOMEM;
}

static gda_status keygen_id(const char *id, gda_error *err)
{
    if (!valid_id(gda_slice_cstr(id)))
        return gda_error_set(err, GDA_ERR_CONFIG, "id",
                             "a key id must be 1-64 characters of A-Z a-z 0-9 . _ -");
    return init_sodium(err);
}

gda_status gda_keygen_secret(const char *id, char **entry_out, gda_error *err)
{
    if (!entry_out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no output for the key");
    *entry_out = NULL;
    id = id ? id : "k1";
    gda_status st = keygen_id(id, err);
    if (st != GDA_OK)
        return st;
    uint8_t key[32];
    randombytes_buf(key, sizeof key);
    st = format_entry(id, "", key, sizeof key, entry_out);
    sodium_memzero(key, sizeof key);
    if (st != GDA_OK)
        return gda_error_set(err, st, NULL, "out of memory");
    return GDA_OK;
}

gda_status gda_keygen_ed25519(const char *id, char **private_out, char **public_out,
                              gda_error *err)
{
    if (!private_out || !public_out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no output for the key pair");
    *private_out = *public_out = NULL;
    id = id ? id : "k1";
    gda_status st = keygen_id(id, err);
    if (st != GDA_OK)
        return st;
    uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    st = format_entry(id, ED25519_PRIVATE_TAG, seed, sizeof seed, private_out);
    if (st == GDA_OK)
        st = format_entry(id, ED25519_TAG, pk, sizeof pk, public_out);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    if (st != GDA_OK) {
        gda_secret_free(*private_out);
        *private_out = NULL;
        return gda_error_set(err, st, NULL, "out of memory");
    }
    return GDA_OK;
}

/* ---- verifier ----------------------------------------------------------- */

struct gda_verifier {
    gda_auth_scheme scheme;
    char header[GDA_HEADER_NAME_MAX];
    bool header_is_authorization; /* then the value carries "Bearer"/"Basic" */
    bool hmac_timestamp;
    char timestamp_header[GDA_HEADER_NAME_MAX];
    int64_t window_s;
    unsigned jwt_algs;
    gda_jwt_policy policy; /* issuer/audience owned */
    pthread_mutex_t lock;  /* guards `ring` (the pointer, not the ring) */
    gda_keyring *ring;
};

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
        const ring_entry *e = &ring->entries[i];
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

gda_status gda_verifier_new(const gda_verifier_options *opt, gda_keyring *ring,
                            gda_verifier **out, gda_error *err)
{
    if (!out || !opt || !ring)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "missing verifier argument");
    *out = NULL;
    gda_status st = init_sodium(err);
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

static gda_keyring *current_ring(gda_verifier *v)
{
    pthread_mutex_lock(&v->lock);
    gda_keyring *ring = gda_keyring_ref(v->ring);
    pthread_mutex_unlock(&v->lock);
    return ring;
}

/* ---- config-string constructor ----------------------------------------- */

static bool parse_switch(gda_slice v, bool *out)
{
    if (gda_slice_ieq(v, "on") || gda_slice_ieq(v, "true") || gda_slice_ieq(v, "1")) {
        *out = true;
        return true;
    }
    if (gda_slice_ieq(v, "off") || gda_slice_ieq(v, "false") || gda_slice_ieq(v, "0")) {
        *out = false;
        return true;
    }
    return false;
}

/* 1..max_digits decimal digits and nothing else; max_digits <= 18 keeps
 * the value inside int64_t. */
static bool parse_digits(gda_slice v, size_t max_digits, int64_t *out)
{
    if (v.len == 0 || v.len > max_digits)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
        n = n * 10 + (v.ptr[i] - '0');
    }
    *out = n;
    return true;
}

static bool parse_seconds(gda_slice v, int64_t *out)
{
    return parse_digits(v, 9, out);
}

static bool parse_algs(gda_slice v, unsigned *out)
{
    unsigned algs = 0;
    const char *p = v.ptr, *end = v.ptr + v.len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        gda_slice a = trim(gda_slice_make(p, (size_t)(stop - p)));
        if (text_is(a, "HS256"))
            algs |= GDA_JWT_HS256;
        else if (text_is(a, "EdDSA"))
            algs |= GDA_JWT_EDDSA;
        else
            return false;
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = algs;
    return algs != 0;
}

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
    /* Option values are copied into this buffer, NUL-terminated in place. */
    char *buf = strdup(options ? options : "");
    if (!buf)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    gda_status st = GDA_OK;
    char *save = NULL;
    for (char *item = strtok_r(buf, ";", &save); item && st == GDA_OK;
         item = strtok_r(NULL, ";", &save)) {
        gda_slice whole = trim(gda_slice_cstr(item));
        if (whole.len == 0)
            continue;
        const char *eq = memchr(whole.ptr, '=', whole.len);
        if (!eq) {
            st = gda_error_set(err, GDA_ERR_CONFIG, "options", "option \"%.*s\" needs name=value",
                               (int)(whole.len > 40 ? 40 : whole.len), whole.ptr);
            break;
        }
        gda_slice name = trim(gda_slice_make(whole.ptr, (size_t)(eq - whole.ptr)));
        gda_slice value = trim(gda_slice_make(eq + 1, (size_t)(whole.ptr + whole.len - eq - 1)));
        ((char *)value.ptr)[value.len] = '\0'; /* inside buf */
        bool ok = true;
        if (gda_slice_ieq(name, "header"))
            opt.header = value.ptr;
        else if (gda_slice_ieq(name, "timestamp_header"))
            opt.timestamp_header = value.ptr;
        else if (gda_slice_ieq(name, "timestamp"))
            ok = parse_switch(value, &opt.hmac_timestamp);
        else if (gda_slice_ieq(name, "window"))
            ok = parse_seconds(value, &opt.replay_window_s);
        else if (gda_slice_ieq(name, "leeway"))
            ok = parse_seconds(value, &opt.jwt_leeway_s);
        else if (gda_slice_ieq(name, "algs"))
            ok = parse_algs(value, &opt.jwt_algs);
        else if (gda_slice_ieq(name, "require_exp"))
            ok = parse_switch(value, &opt.jwt_require_exp);
        else if (gda_slice_ieq(name, "max_lifetime"))
            ok = parse_seconds(value, &opt.jwt_max_lifetime_s);
        else if (gda_slice_ieq(name, "iss"))
            opt.jwt_issuer = value.ptr;
        else if (gda_slice_ieq(name, "aud"))
            opt.jwt_audience = value.ptr;
        else
            st = gda_error_set(err, GDA_ERR_CONFIG, "options", "unknown option \"%.*s\"",
                               (int)(name.len > 40 ? 40 : name.len), name.ptr);
        if (st == GDA_OK && !ok)
            st = gda_error_set(err, GDA_ERR_CONFIG, "options", "bad value for option \"%.*s\"",
                               (int)name.len, name.ptr);
    }
    gda_keyring *ring = NULL;
    if (st == GDA_OK)
        st = gda_keyring_parse(keyring, keyring_len, &ring, err);
    if (st == GDA_OK) {
        st = gda_verifier_new(&opt, ring, out, err);
        if (st != GDA_OK)
            gda_keyring_free(ring);
    }
    free(buf);
    return st;
}

/* ---- verification ------------------------------------------------------- */

/* Where a header was found: how many times, and its first value. */
typedef struct header_hit {
    const char *name;
    size_t name_len;
    size_t count;
    gda_slice value;
} header_hit;

static header_hit header_wanted(const char *name)
{
    header_hit h = {name, strlen(name), 0, GDA_SLICE_NULL};
    return h;
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void note_header(header_hit *h, const gda_header *header)
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

/* Find up to two headers (b may be NULL) in one pass over the request; names
 * of another length are passed over without a character compared. */
static void find_headers(const gda_http_request *req, header_hit *a, header_hit *b)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        note_header(a, &req->headers[i]);
        if (b)
            note_header(b, &req->headers[i]);
    }
}

/* The one credential header: absent → missing, repeated → ambiguous,
 * anything but printable ASCII or too long → malformed. OWS trimmed. */
static gda_auth_reason checked_header(const header_hit *h, gda_slice *out)
{
    if (h->count == 0)
        return GDA_AUTH_MISSING;
    if (h->count > 1)
        return GDA_AUTH_AMBIGUOUS;
    gda_slice v = trim(h->value);
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
    header_hit h = header_wanted(name);
    find_headers(req, &h, NULL);
    return checked_header(&h, out);
}

/* "Bearer xyz" → "xyz" (auth-scheme case-insensitive, one or more spaces). */
static gda_auth_reason strip_auth_scheme(gda_slice *v, const char *scheme)
{
    size_t n = strlen(scheme);
    if (v->len <= n || !gda_slice_ieq(gda_slice_make(v->ptr, n), scheme) || v->ptr[n] != ' ')
        return GDA_AUTH_MALFORMED;
    gda_slice rest = trim(gda_slice_make(v->ptr + n, v->len - n));
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

typedef struct verdict {
    gda_auth_reason reason;
    const ring_entry *entry;    /* matched */
    char principal[GDA_AUTH_PRINCIPAL_MAX];
} verdict;

/* Token: the header's base64 decodes to the bytes of some secret entry. */
static void verify_token(const gda_verifier *v, const gda_keyring *ring,
                         const gda_http_request *req, verdict *out)
{
    gda_slice value;
    out->reason = bearer_credential(v, req, &value);
    if (out->reason != GDA_AUTH_ACCEPTED)
        return;
    /* Zero-padded so every comparison can read a full entry length. */
    uint8_t given[GDA_KEY_MAX_BYTES + 3];
    memset(given, 0, sizeof given);
    size_t given_len = 0;
    if (value.len > KEY_TEXT_MAX ||
        !b64_decode(value.ptr, value.len, given, sizeof given, &given_len)) {
        sodium_memzero(given, sizeof given);
        out->reason = GDA_AUTH_MALFORMED;
        return;
    }
    unsigned matched = 0;
    size_t which = 0;
    for (size_t i = 0; i < ring->n; i++) {
        const ring_entry *e = &ring->entries[i];
        if (e->type != GDA_KEY_SECRET)
            continue;
        unsigned same = (unsigned)(sodium_memcmp(given, e->key, e->len) == 0);
        same &= (unsigned)(given_len == e->len);
        which = ct_select(same, i, which);
        matched |= same;
    }
    sodium_memzero(given, sizeof given);
    out->reason = matched ? GDA_AUTH_ACCEPTED : GDA_AUTH_MISMATCH;
    if (matched)
        out->entry = &ring->entries[which];
}

/* Value + 1 of each hex digit, 0 for every other byte. */
static const uint8_t hex_plus_one[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,
    ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
    ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
    ['F'] = 16,
};

/* Exactly 64 hex digits (either case) into mac. The MAC a request carries
 * is public (it travels in the clear), so it is decoded with a table rather
 * than sodium_hex2bin's constant-time loop; only the comparison with the
 * computed MAC must be constant time. */
static bool hex_mac(gda_slice v, uint8_t mac[GDA_SHA256_LEN])
{
    if (v.len != 2 * GDA_SHA256_LEN)
        return false;
    bool ok = true;
    for (size_t i = 0; i < GDA_SHA256_LEN; i++) {
        unsigned hi = hex_plus_one[(unsigned char)v.ptr[2 * i]];
        unsigned lo = hex_plus_one[(unsigned char)v.ptr[2 * i + 1]];
        ok &= hi != 0 && lo != 0;
        mac[i] = (uint8_t)((hi - 1) << 4 | ((lo - 1) & 15));
    }
    return ok;
}

/* The MAC of signing string v1: "v1=<hex>" (what gda sign writes), or bare
 * hex, "sha256=<hex>" or base64 of exactly 32 bytes (44 characters, so never
 * mistaken for hex). Any other "vN=" is a version this library does not
 * know: malformed, never guessed at. */
static bool parse_mac(gda_slice v, uint8_t mac[GDA_SHA256_LEN])
{
    if (v.len > 3 && gda_slice_ieq(gda_slice_make(v.ptr, 3), "v1="))
        return hex_mac(gda_slice_make(v.ptr + 3, v.len - 3), mac);
    if (v.len > 7 && gda_slice_ieq(gda_slice_make(v.ptr, 7), "sha256="))
        return hex_mac(gda_slice_make(v.ptr + 7, v.len - 7), mac);
    if (hex_mac(v, mac))
        return true;
    uint8_t tmp[GDA_SHA256_LEN + 3];
    size_t got = 0;
    bool ok = v.len <= 44 && b64_decode(v.ptr, v.len, tmp, sizeof tmp, &got) &&
              got == GDA_SHA256_LEN;
    if (ok)
        memcpy(mac, tmp, GDA_SHA256_LEN);
    return ok;
}

/* Epoch seconds: 1-12 digits. */
static bool parse_timestamp(gda_slice v, int64_t *out)
{
    return parse_digits(v, 12, out);
}

/* HMAC signing string v1 (docs/security.md), as slices:
 *   "gda-hmac-v1\n" METHOD "\n" PATH ["?" QUERY] "\n" TIMESTAMP "\n" HEX(SHA-256(body))
 * so a signature binds the method, the path and query, the time and the
 * body: it cannot be replayed as a poll, on another path, or with another
 * body. TIMESTAMP is empty with timestamp=off. */
#define HMAC_V1_PARTS 10
static size_t hmac_v1_parts(gda_slice method, gda_slice path, gda_slice query, gda_slice ts,
                            const char body_hex[2 * GDA_SHA256_LEN + 1],
                            gda_slice parts[HMAC_V1_PARTS])
{
    static const char label[] = "gda-hmac-v1\n";
    size_t n = 0;
    parts[n++] = gda_slice_make(label, sizeof label - 1);
    parts[n++] = method;
    parts[n++] = gda_slice_make("\n", 1);
    parts[n++] = path;
    if (query.len) {
        parts[n++] = gda_slice_make("?", 1);
        parts[n++] = query;
    }
    parts[n++] = gda_slice_make("\n", 1);
    parts[n++] = ts;
    parts[n++] = gda_slice_make("\n", 1);
    parts[n++] = gda_slice_make(body_hex, 2 * GDA_SHA256_LEN);
    return n;
}

static void body_hash_hex(gda_slice body, char out[2 * GDA_SHA256_LEN + 1])
{
    uint8_t digest[GDA_SHA256_LEN];
    gda_sha256(body.ptr, body.len, digest);
    sodium_bin2hex(out, 2 * GDA_SHA256_LEN + 1, digest, sizeof digest);
}

static void verify_hmac(const gda_verifier *v, const gda_keyring *ring,
                        const gda_http_request *req, int64_t now_ms, verdict *out)
{
    gda_slice sig_text, ts_text = GDA_SLICE_NULL;
    header_hit sig_hit = header_wanted(v->header), ts_hit = header_wanted(v->timestamp_header);
    find_headers(req, &sig_hit, v->hmac_timestamp ? &ts_hit : NULL);
    out->reason = checked_header(&sig_hit, &sig_text);
    if (out->reason != GDA_AUTH_ACCEPTED)
        return;
    int64_t ts = 0;
    if (v->hmac_timestamp) {
        out->reason = checked_header(&ts_hit, &ts_text);
        if (out->reason != GDA_AUTH_ACCEPTED)
            return;
        if (!parse_timestamp(ts_text, &ts)) {
            out->reason = GDA_AUTH_MALFORMED;
            return;
        }
    }
    uint8_t given[GDA_SHA256_LEN];
    if (!parse_mac(sig_text, given)) {
        out->reason = GDA_AUTH_MALFORMED;
        return;
    }
    /* Without a timestamp nothing bounds a signature's life: it may stand
     * for one POST (idempotency makes a resend replay), never for a poll,
     * which would read the result for as long as it is kept. */
    if (!v->hmac_timestamp && !gda_slice_ieq(req->method, "POST")) {
        out->reason = GDA_AUTH_UNBOUND;
        return;
    }
    char body_hex[2 * GDA_SHA256_LEN + 1];
    body_hash_hex(req->body, body_hex);
    gda_slice signed_parts[HMAC_V1_PARTS];
    size_t n_parts = hmac_v1_parts(req->method, req->path, req->query, ts_text, body_hex,
                                   signed_parts);
    unsigned matched = 0;
    size_t which = 0;
    for (size_t i = 0; i < ring->n; i++) {
        const ring_entry *e = &ring->entries[i];
        if (e->type != GDA_KEY_SECRET)
            continue;
        uint8_t mac[GDA_SHA256_LEN];
        gda_hmac_sha256_prepared(e->hmac, signed_parts, n_parts, mac);
        unsigned same = (unsigned)(crypto_verify_32(mac, given) == 0);
        sodium_memzero(mac, sizeof mac);
        which = ct_select(same, i, which);
        matched |= same;
    }
    if (!matched) {
        out->reason = GDA_AUTH_MISMATCH;
        return;
    }
    /* A genuine signature outside the window is a replay (or a badly wrong
     * clock): refused whether it is too old or too far in the future. */
    int64_t ts_ms = ts * 1000, window_ms = v->window_s * 1000;
    if (v->hmac_timestamp && (now_ms < ts_ms - window_ms || now_ms > ts_ms + window_ms)) {
        out->reason = GDA_AUTH_REPLAYED;
        return;
    }
    out->reason = GDA_AUTH_ACCEPTED;
    out->entry = &ring->entries[which];
}

static void verify_jwt(const gda_verifier *v, const gda_keyring *ring,
                       const gda_http_request *req, int64_t now_ms, verdict *out,
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
    unsigned matched = 0;
    size_t which = 0;
    for (size_t i = 0; i < ring->n; i++) {
        const ring_entry *e = &ring->entries[i];
        if (e->type != want)
            continue;
        if (hdr.has_kid && !text_is(gda_slice_make(e->id, e->id_len), hdr.kid))
            continue;
        unsigned same = hdr.alg == GDA_JWT_HS256 ? (unsigned)gda_jws_check_hs256(&jws, e->hmac)
                                                 : (unsigned)gda_jws_check_eddsa(&jws, e->key);
        which = ct_select(same, i, which);
        matched |= same;
    }
    if (!matched) {
        out->reason = GDA_AUTH_MISMATCH;
    } else {
        out->reason = gda_jwt_check_claims(&jws, &v->policy, now_ms, out->principal,
                                           sizeof out->principal);
        if (out->reason == GDA_AUTH_ACCEPTED)
            out->entry = &ring->entries[which];
    }
    gda_jws_release(&jws);
}

static void verify_basic(const gda_verifier *v, const gda_keyring *ring,
                         const gda_http_request *req, verdict *out)
{
    gda_slice value;
    out->reason = single_header(req, v->header, &value);
    if (out->reason != GDA_AUTH_ACCEPTED)
        return;
    if ((out->reason = strip_auth_scheme(&value, "Basic")))
        return;
    /* user (<= 64) ':' password (a key's base64 text). */
    enum { PAIR_MAX = GDA_KEY_ID_MAX + 1 + KEY_TEXT_MAX };
    uint8_t pair[PAIR_MAX + 3];
    size_t pair_len = 0;
    const uint8_t *colon = NULL;
    if (value.len > (PAIR_MAX + 2) / 3 * 4 ||
        !b64_decode(value.ptr, value.len, pair, sizeof pair, &pair_len) ||
        !(colon = memchr(pair, ':', pair_len))) {
        sodium_memzero(pair, sizeof pair);
        out->reason = GDA_AUTH_MALFORMED;
        return;
    }
    size_t user_len = (size_t)(colon - pair);
    size_t pass_text_len = pair_len - user_len - 1;
    /* Both sides padded to fixed sizes so every comparison runs full length. */
    uint8_t user[GDA_KEY_ID_MAX + 1];
    uint8_t pass[GDA_KEY_MAX_BYTES + 3];
    memset(user, 0, sizeof user);
    memset(pass, 0, sizeof pass);
    memcpy(user, pair, user_len <= GDA_KEY_ID_MAX ? user_len : GDA_KEY_ID_MAX);
    size_t pass_len = 0;
    /* A password that is not base64 can match nothing; keep going so the
     * work done does not depend on it. */
    unsigned pass_ok = (unsigned)(pass_text_len > 0 &&
                                  b64_decode((const char *)colon + 1, pass_text_len, pass,
                                             sizeof pass, &pass_len));
    unsigned user_ok = (unsigned)(user_len > 0 && user_len <= GDA_KEY_ID_MAX);
    unsigned matched = 0;
    size_t which = 0;
    for (size_t i = 0; i < ring->n; i++) {
        const ring_entry *e = &ring->entries[i];
        if (e->type != GDA_KEY_SECRET)
            continue;
        uint8_t id[GDA_KEY_ID_MAX + 1];
        memset(id, 0, sizeof id);
        memcpy(id, e->id, e->id_len);
        unsigned same_user = (unsigned)(sodium_memcmp(user, id, sizeof id) == 0) &
                             (unsigned)(user_len == e->id_len);
        unsigned same_pass = (unsigned)(sodium_memcmp(pass, e->key, e->len) == 0) &
                             (unsigned)(pass_len == e->len);
        unsigned same = same_user & same_pass & user_ok & pass_ok;
        which = ct_select(same, i, which);
        matched |= same;
    }
    sodium_memzero(pair, sizeof pair);
    sodium_memzero(pass, sizeof pass);
    out->reason = matched ? GDA_AUTH_ACCEPTED : GDA_AUTH_MISMATCH;
    if (matched) {
        out->entry = &ring->entries[which];
        snprintf(out->principal, sizeof out->principal, "%s", out->entry->id);
    }
}

static gda_status run_verify(gda_verifier *v, const gda_http_request *req, int64_t now_ms,
                             gda_auth_result *result, gda_error *err)
{
    gda_keyring *ring = current_ring(v);
    verdict d;
    memset(&d, 0, sizeof d);
    gda_status fatal = GDA_OK;
    switch (v->scheme) {
    case GDA_AUTH_TOKEN: verify_token(v, ring, req, &d); break;
    case GDA_AUTH_HMAC_SHA256: verify_hmac(v, ring, req, now_ms, &d); break;
    case GDA_AUTH_JWT: verify_jwt(v, ring, req, now_ms, &d, &fatal); break;
    case GDA_AUTH_BASIC: verify_basic(v, ring, req, &d); break;
    }
    if (result) {
        memset(result, 0, sizeof *result);
        result->scheme = v->scheme;
        result->reason = d.reason;
        if (d.reason == GDA_AUTH_ACCEPTED && d.entry) {
            /* Both fit: ids are at most GDA_KEY_ID_MAX bytes and the verdict's
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
        return gda_error_set(err, GDA_ERR_UNAUTHORIZED, NULL, GENERIC_REFUSAL);
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

/* ---- signing ------------------------------------------------------------ */

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

static const ring_entry *signing_entry(const gda_keyring *ring, const char *key_id)
{
    if (key_id)
        return find_entry(ring, gda_slice_cstr(key_id));
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
    gda_slice s = trim(gda_slice_make(text, len));
    const char *c1 = s.len ? memchr(s.ptr, ':', s.len) : NULL;
    gda_slice id = c1 ? gda_slice_make(s.ptr, (size_t)(c1 - s.ptr)) : GDA_SLICE_NULL;
    gda_slice rest = c1 ? gda_slice_make(c1 + 1, s.len - id.len - 1) : GDA_SLICE_NULL;
    const char *c2 = rest.len ? memchr(rest.ptr, ':', rest.len) : NULL;
    gda_slice tag = c2 ? gda_slice_make(rest.ptr, (size_t)(c2 - rest.ptr)) : GDA_SLICE_NULL;
    gda_slice b64 = c2 ? gda_slice_make(c2 + 1, rest.len - tag.len - 1) : GDA_SLICE_NULL;
    uint8_t seed[crypto_sign_SEEDBYTES + 3];
    size_t got = 0;
    bool ok = valid_id(id) && text_is(tag, ED25519_PRIVATE_TAG) && b64.len <= 44 &&
              b64_decode(b64.ptr, b64.len, seed, sizeof seed, &got) &&
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

static gda_status sign_jwt(const gda_verifier *v, const ring_entry *e, const gda_sign_params *p,
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
    gda_keyring *ring = current_ring(v);
    const ring_entry *e = signing_entry(ring, params->key_id);
    gda_status st = GDA_OK;
    bool needs_secret = !(v->scheme == GDA_AUTH_JWT && params->ed25519_private);
    if (needs_secret && (!e || e->type != GDA_KEY_SECRET)) {
        st = gda_error_set(err, GDA_ERR_CONFIG, "key_id", "no such secret key in the ring");
    } else if (v->scheme == GDA_AUTH_TOKEN) {
        char *b64 = b64_encode(e->key, e->len);
        char *value = b64 ? with_prefix(v->header_is_authorization ? "Bearer" : NULL, b64) : NULL;
        gda_secret_free(b64);
        st = add_header(out, v->header, value);
    } else if (v->scheme == GDA_AUTH_HMAC_SHA256) {
        char ts[24] = "";
        if (params->now_ms < 0)
            st = gda_error_set(err, GDA_ERR_CONFIG, "now", "the signing time must not be negative");
        snprintf(ts, sizeof ts, "%lld", (long long)(params->now_ms / 1000));
        char body_hex[2 * GDA_SHA256_LEN + 1];
        body_hash_hex(body, body_hex);
        gda_slice parts[HMAC_V1_PARTS];
        size_t n_parts = hmac_v1_parts(gda_slice_cstr(params->method ? params->method : "POST"),
                                       gda_slice_cstr(params->path ? params->path
                                                                   : "/genesys/dataaction"),
                                       GDA_SLICE_NULL,
                                       v->hmac_timestamp ? gda_slice_cstr(ts) : GDA_SLICE_NULL,
                                       body_hex, parts);
        uint8_t mac[GDA_SHA256_LEN];
        gda_hmac_sha256_prepared(e->hmac, parts, n_parts, mac);
        char hex[2 * GDA_SHA256_LEN + 4] = "v1=";
        sodium_bin2hex(hex + 3, sizeof hex - 3, mac, sizeof mac);
        if (st == GDA_OK)
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
        char *b64 = b64_encode(e->key, e->len);
        size_t pair_len = e->id_len + 1 + (b64 ? strlen(b64) : 0);
        char *pair = b64 ? malloc(pair_len + 1) : NULL;
        char *pair64 = NULL;
        if (pair) {
            snprintf(pair, pair_len + 1, "%s:%s", e->id, b64);
            pair64 = b64_encode((const uint8_t *)pair, pair_len);
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

/* ---- API Gateway authorizer -------------------------------------------- */

/* An execute-api method ARN, printable, with no wildcard: the Allow we
 * return is exactly this string, so it must not widen anything. */
static bool valid_method_arn(gda_slice arn)
{
    if (arn.len < 20 || arn.len > 2048 || !text_is(gda_slice_make(arn.ptr, 4), "arn:"))
        return false;
    for (size_t i = 0; i < arn.len; i++) {
        unsigned char c = (unsigned char)arn.ptr[i];
        if (c <= 0x20 || c > 0x7e || c == '*' || c == '?')
            return false;
    }
    /* arn:partition:execute-api:region:account:api/stage/METHOD/path */
    const char *service = memchr(arn.ptr + 4, ':', arn.len - 4);
    if (!service)
        return false;
    size_t left = arn.len - (size_t)(service - arn.ptr);
    return left > 13 && text_is(gda_slice_make(service, 13), ":execute-api:") &&
           memchr(service, '/', left) != NULL;
}

static gda_status add_request_header(gda_header *hs, size_t *n, size_t cap, const char *name,
                                     const json_t *value)
{
    if (!json_is_string(value))
        return GDA_OK;
    if (*n == cap)
        return GDA_ERR_INVALID_REQUEST;
    hs[*n].name = gda_slice_cstr(name);
    hs[*n].value = gda_slice_make(json_string_value(value), json_string_length(value));
    (*n)++;
    return GDA_OK;
}

#define AUTHORIZER_MAX_HEADERS 256

static gda_status authorizer_headers(const gda_verifier *v, const json_t *event, bool token_type,
                                     gda_header *hs, size_t *n)
{
    *n = 0;
    if (token_type)
        return add_request_header(hs, n, AUTHORIZER_MAX_HEADERS, v->header,
                                  json_object_get(event, "authorizationToken"));
    /* multiValueHeaders shows repeats (refused as ambiguous); headers holds
     * only the last value, so it is the fallback. */
    const json_t *multi = json_object_get(event, "multiValueHeaders");
    const json_t *single = json_object_get(event, "headers");
    const char *name;
    json_t *value;
    if (json_is_object(multi)) {
        json_object_foreach((json_t *)multi, name, value) {
            size_t i;
            json_t *item;
            if (json_is_array(value)) {
                json_array_foreach(value, i, item) {
                    if (add_request_header(hs, n, AUTHORIZER_MAX_HEADERS, name, item) != GDA_OK)
                        return GDA_ERR_INVALID_REQUEST;
                }
            }
        }
        return GDA_OK;
    }
    if (json_is_object(single)) {
        json_object_foreach((json_t *)single, name, value) {
            if (add_request_header(hs, n, AUTHORIZER_MAX_HEADERS, name, value) != GDA_OK)
                return GDA_ERR_INVALID_REQUEST;
        }
    }
    return GDA_OK;
}

gda_status gda_authorizer_respond(gda_verifier *v, const char *event_json, size_t event_len,
                                  int64_t now_ms, char **out_json, size_t *out_len,
                                  gda_auth_result *result, gda_error *err)
{
    if (result)
        memset(result, 0, sizeof *result);
    if (!out_json || !out_len)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no output for the policy");
    *out_json = NULL;
    *out_len = 0;
    if (!v || !event_json)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "missing verifier or event");
    if (v->scheme != GDA_AUTH_TOKEN && v->scheme != GDA_AUTH_JWT)
        return gda_error_set(err, GDA_ERR_CONFIG, "scheme",
                             "the %s scheme cannot run in an API Gateway authorizer: an authorizer "
                             "never sees the request body; verify it in the function instead",
                             gda_auth_scheme_str(v->scheme));
    json_error_t jerr;
    json_t *event = json_loadb(event_json, event_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(event)) {
        json_decref(event);
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL, "the authorizer event is not a JSON object");
    }
    gda_status st = GDA_OK;
    const json_t *arn = json_object_get(event, "methodArn");
    const json_t *type = json_object_get(event, "type");
    gda_slice type_text = json_is_string(type) ? gda_slice_make(json_string_value(type),
                                                                json_string_length(type))
                                               : GDA_SLICE_NULL;
    bool token_type = text_is(type_text, "TOKEN");
    if (!json_is_string(arn) ||
        !valid_method_arn(gda_slice_make(json_string_value(arn), json_string_length(arn))))
        st = gda_error_set(err, GDA_ERR_INVALID_REQUEST, "methodArn",
                           "the authorizer event has no usable execute-api methodArn");
    else if (!token_type && !text_is(type_text, "REQUEST"))
        st = gda_error_set(err, GDA_ERR_INVALID_REQUEST, "type",
                           "the authorizer event type must be TOKEN or REQUEST");
    gda_header *hs = NULL;
    size_t n = 0;
    if (st == GDA_OK && !(hs = calloc(AUTHORIZER_MAX_HEADERS, sizeof *hs)))
        st = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    if (st == GDA_OK && authorizer_headers(v, event, token_type, hs, &n) != GDA_OK)
        st = gda_error_set(err, GDA_ERR_INVALID_REQUEST, "headers", "too many headers");
    if (st != GDA_OK) {
        free(hs);
        json_decref(event);
        return st;
    }
    gda_http_request req;
    memset(&req, 0, sizeof req);
    req.kind = GDA_EVENT_HTTP;
    req.headers = hs;
    req.n_headers = n;
    gda_auth_result local;
    gda_auth_result *r = result ? result : &local;
    gda_error verr;
    gda_status outcome = run_verify(v, &req, now_ms, r, &verr);
    free(hs);
    if (outcome != GDA_OK && outcome != GDA_ERR_UNAUTHORIZED) {
        json_decref(event);
        return gda_error_set(err, outcome, NULL, "%s", verr.message);
    }
    bool allow = outcome == GDA_OK;
    json_t *policy = json_pack(
        "{s:s, s:{s:s, s:[{s:s, s:s, s:O}]}, s:{s:s, s:s}}",
        "principalId", allow ? r->principal : "unauthorized",
        "policyDocument", "Version", "2012-10-17", "Statement",
        "Action", "execute-api:Invoke", "Effect", allow ? "Allow" : "Deny", "Resource",
        (json_t *)arn,
        "context", "keyId", allow ? r->key_id : "", "scheme", gda_auth_scheme_str(v->scheme));
    char *text = policy ? json_dumps(policy, JSON_COMPACT) : NULL;
    json_decref(policy);
    json_decref(event);
    if (!text)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    *out_json = text;
    *out_len = strlen(text);
    if (!allow)
        return gda_error_set(err, GDA_ERR_UNAUTHORIZED, NULL, GENERIC_REFUSAL);
    gda_error_clear(err);
    return GDA_OK;
}
