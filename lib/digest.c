/* libgda (private) — SHA-256 and HMAC-SHA256 (see lib/digest.h). */
#include "digest.h"

#include "gda_config.h"

#if GDA_HAVE_LIBCRYPTO
/* OpenSSL 3.0's EVP_DigestInit_ex frees and re-creates the provider's digest
 * context on every init, and copying an EVP context allocates too: a
 * malloc/free pair per hash, two per HMAC, on every request
 * (tests/bench/bench_hotpaths counts them). The SHA256_* functions run the
 * same SHA-extension assembly on a plain struct, with no allocation, no
 * provider lookup and no failure path, and their state can be copied and
 * wiped. They are deprecated only in favour of EVP, so the warning is
 * silenced here, in this one file, before any OpenSSL header is read. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/opensslconf.h>
#include <openssl/sha.h>
#if defined(OPENSSL_NO_DEPRECATED_3_0)
#error "this OpenSSL was built without SHA256_Init (no-deprecated); configure with -Dcrypto=libsodium"
#endif
#endif

#include <sodium.h>
#include <string.h>

#define SHA256_BLOCK 64

/* A running SHA-256 over whichever backend the build chose: a plain struct on
 * the caller's stack, so hashing never allocates and states may be copied. */
typedef struct sha256_state {
#if GDA_HAVE_LIBCRYPTO
    SHA256_CTX c;
#else
    crypto_hash_sha256_state c;
#endif
} sha256_state;

#if GDA_HAVE_LIBCRYPTO
static void state_init(sha256_state *s) { SHA256_Init(&s->c); }

static void state_update(sha256_state *s, const void *p, size_t len)
{
    if (len)
        SHA256_Update(&s->c, p, len);
}

static void state_final(sha256_state *s, uint8_t out[GDA_SHA256_LEN]) { SHA256_Final(out, &s->c); }
#else
static void state_init(sha256_state *s) { crypto_hash_sha256_init(&s->c); }

static void state_update(sha256_state *s, const void *p, size_t len)
{
    if (len)
        crypto_hash_sha256_update(&s->c, p, len);
}

static void state_final(sha256_state *s, uint8_t out[GDA_SHA256_LEN])
{
    crypto_hash_sha256_final(&s->c, out);
}
#endif

static void state_update_parts(sha256_state *s, const gda_slice *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        state_update(s, parts[i].ptr, parts[i].len);
}

void gda_sha256_parts(const gda_slice *parts, size_t n, uint8_t out[GDA_SHA256_LEN])
{
    sha256_state s;
    state_init(&s);
    state_update_parts(&s, parts, n);
    state_final(&s, out);
}

void gda_sha256(const void *data, size_t len, uint8_t out[GDA_SHA256_LEN])
{
    sha256_state s;
    state_init(&s);
    state_update(&s, data, len);
    state_final(&s, out);
}

/* The two states a prepared key holds, at the front of its bytes. */
typedef struct hmac_states {
    sha256_state inner; /* after (key ^ ipad) */
    sha256_state outer; /* after (key ^ opad) */
} hmac_states;

_Static_assert(sizeof(hmac_states) <= GDA_HMAC_KEY_SIZE, "gda_hmac_key is too small");
_Static_assert(_Alignof(hmac_states) <= 16, "gda_hmac_key is not aligned enough");
_Static_assert(GDA_HMAC_KEY_SIZE % 64 == 0, "gda_hmac_key size must keep arrays aligned");

void gda_hmac_sha256_key_init(gda_hmac_key *out, const uint8_t *key, size_t key_len)
{
    uint8_t k[SHA256_BLOCK] = {0};
    uint8_t pad[SHA256_BLOCK];
    hmac_states *hs = (hmac_states *)(void *)out->state;

    memset(out, 0, sizeof *out);
    if (key_len > SHA256_BLOCK)
        gda_sha256(key, key_len, k);
    else if (key_len)
        memcpy(k, key, key_len);

    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x36);
    state_init(&hs->inner);
    state_update(&hs->inner, pad, sizeof pad);

    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x5c);
    state_init(&hs->outer);
    state_update(&hs->outer, pad, sizeof pad);

    /* The padded key is key material: leave none of it on the stack. */
    sodium_memzero(k, sizeof k);
    sodium_memzero(pad, sizeof pad);
}

void gda_hmac_sha256_prepared(const gda_hmac_key *key, const gda_slice *parts, size_t n,
                              uint8_t out[GDA_SHA256_LEN])
{
    const hmac_states *hs = (const hmac_states *)(const void *)key->state;
    uint8_t inner[GDA_SHA256_LEN];
    sha256_state s = hs->inner;
    state_update_parts(&s, parts, n);
    state_final(&s, inner);

    s = hs->outer;
    state_update(&s, inner, sizeof inner);
    state_final(&s, out);

    /* A state that absorbed the key block is key material too. */
    sodium_memzero(inner, sizeof inner);
    sodium_memzero(&s, sizeof s);
}

void gda_hmac_sha256_parts(const uint8_t *key, size_t key_len, const gda_slice *parts, size_t n,
                           uint8_t out[GDA_SHA256_LEN])
{
    gda_hmac_key prepared;
    gda_hmac_sha256_key_init(&prepared, key, key_len);
    gda_hmac_sha256_prepared(&prepared, parts, n, out);
    sodium_memzero(&prepared, sizeof prepared);
}

const char *gda_digest_backend(void)
{
#if GDA_HAVE_LIBCRYPTO
    return "libcrypto";
#else
    return "libsodium";
#endif
}
