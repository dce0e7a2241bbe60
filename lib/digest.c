/* libgda (private) — SHA-256 and HMAC-SHA256 (see lib/digest.h). */
#include "digest.h"

#include "gda_config.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#if GDA_HAVE_LIBCRYPTO
#include <openssl/evp.h>
#include <pthread.h>
#endif

#define SHA256_BLOCK 64

/* A running SHA-256 over whichever backend the build chose. */
typedef struct sha256_run {
#if GDA_HAVE_LIBCRYPTO
    EVP_MD_CTX *md;
    bool failed;
#else
    crypto_hash_sha256_state st;
#endif
} sha256_run;

#if GDA_HAVE_LIBCRYPTO
/* EVP_MD_CTX_new allocates, and OpenSSL 3 resolves EVP_sha256() through a
 * provider lookup on every init unless the method is fetched up front. So the
 * method is fetched once per process and each thread reuses one context,
 * freed by the key's destructor when the thread exits: hashing a request
 * costs no allocation and no lookup. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_key;
static const EVP_MD *md_sha256;

static void md_ctx_destroy(void *ctx) { EVP_MD_CTX_free(ctx); }

static void md_init_once(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
#endif
    if (!md_sha256)
        md_sha256 = EVP_sha256();
    if (pthread_key_create(&md_key, md_ctx_destroy) != 0)
        md_sha256 = NULL;
}

static EVP_MD_CTX *thread_md_ctx(void)
{
    pthread_once(&md_once, md_init_once);
    if (!md_sha256)
        return NULL;
    EVP_MD_CTX *ctx = pthread_getspecific(md_key);
    if (!ctx) {
        ctx = EVP_MD_CTX_new();
        if (ctx && pthread_setspecific(md_key, ctx) != 0) {
            EVP_MD_CTX_free(ctx);
            ctx = NULL;
        }
    }
    return ctx;
}

static void run_init(sha256_run *r)
{
    r->md = thread_md_ctx();
    r->failed = !r->md || EVP_DigestInit_ex(r->md, md_sha256, NULL) != 1;
}

static void run_update(sha256_run *r, const void *p, size_t len)
{
    if (!r->failed && len && EVP_DigestUpdate(r->md, p, len) != 1)
        r->failed = true;
}

static void run_final(sha256_run *r, uint8_t out[GDA_SHA256_LEN])
{
    unsigned int n = 0;
    if (r->failed || EVP_DigestFinal_ex(r->md, out, &n) != 1 || n != GDA_SHA256_LEN) {
        /* libcrypto can only fail here on allocation failure inside EVP;
         * fall back to libsodium rather than return a wrong digest. */
        r->failed = true;
    }
}
#else
static void run_init(sha256_run *r) { crypto_hash_sha256_init(&r->st); }

static void run_update(sha256_run *r, const void *p, size_t len)
{
    if (len)
        crypto_hash_sha256_update(&r->st, p, len);
}

static void run_final(sha256_run *r, uint8_t out[GDA_SHA256_LEN])
{
    crypto_hash_sha256_final(&r->st, out);
}
#endif

/* Hash prefix (may be NULL) followed by parts; falls back to libsodium if
 * libcrypto reported a failure, so the answer is always the right digest. */
static void sha256_with_prefix(const uint8_t *prefix, size_t prefix_len, const gda_slice *parts,
                               size_t n, uint8_t out[GDA_SHA256_LEN])
{
    sha256_run r;
    run_init(&r);
    run_update(&r, prefix, prefix_len);
    for (size_t i = 0; i < n; i++)
        run_update(&r, parts[i].ptr, parts[i].len);
    run_final(&r, out);
#if GDA_HAVE_LIBCRYPTO
    if (r.failed) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        if (prefix_len)
            crypto_hash_sha256_update(&st, prefix, prefix_len);
        for (size_t i = 0; i < n; i++) {
            if (parts[i].len)
                crypto_hash_sha256_update(&st, (const unsigned char *)parts[i].ptr, parts[i].len);
        }
        crypto_hash_sha256_final(&st, out);
    }
#endif
}

void gda_sha256_parts(const gda_slice *parts, size_t n, uint8_t out[GDA_SHA256_LEN])
{
    sha256_with_prefix(NULL, 0, parts, n, out);
}

void gda_sha256(const void *data, size_t len, uint8_t out[GDA_SHA256_LEN])
{
    gda_slice part = {data, len};
    sha256_with_prefix(NULL, 0, &part, 1, out);
}

void gda_hmac_sha256_parts(const uint8_t *key, size_t key_len, const gda_slice *parts, size_t n,
                           uint8_t out[GDA_SHA256_LEN])
{
    uint8_t k[SHA256_BLOCK] = {0};
    uint8_t pad[SHA256_BLOCK];
    uint8_t inner[GDA_SHA256_LEN];

    if (key_len > SHA256_BLOCK)
        gda_sha256(key, key_len, k);
    else if (key_len)
        memcpy(k, key, key_len);

    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x36);
    sha256_with_prefix(pad, sizeof pad, parts, n, inner);

    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x5c);
    gda_slice inner_part = {(const char *)inner, sizeof inner};
    sha256_with_prefix(pad, sizeof pad, &inner_part, 1, out);

    /* The padded key is key material: leave none of it on the stack. */
    sodium_memzero(k, sizeof k);
    sodium_memzero(pad, sizeof pad);
    sodium_memzero(inner, sizeof inner);
}

const char *gda_digest_backend(void)
{
#if GDA_HAVE_LIBCRYPTO
    return "libcrypto";
#else
    return "libsodium";
#endif
}
