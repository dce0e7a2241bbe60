/* libgda — key rings (include/gda/keyring.h): parsing, entries and lookup,
 * reference counting, wiping, and key generation. */
#include <gda/init.h>
#include <gda/keyring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "jwt.h"
#include "keyring_private.h"

/* Standard base64 with optional padding (the key ring format). */
bool gda_key_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    return len > 0 && gda_base64_decode(in, len, GDA_BASE64_STANDARD, out, cap, out_len) &&
           *out_len > 0;
}

/* Standard base64 with padding as a new heap string (NULL: no memory). */
char *gda_key_b64_encode(const uint8_t *in, size_t len)
{
    if (len > GDA_JWT_MAX_TOKEN)
        return NULL;
    return gda_base64_encode_alloc(in, len, GDA_BASE64_STANDARD);
}

void gda_secret_free(char *s)
{
    if (!s)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}

/* ---- key ring ----------------------------------------------------------- */

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
    if (gda_key_id_valid(id))
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
        if (!gda_key_id_valid(out->caller))
            return entry_error(err, pos, GDA_SLICE_NULL,
                               "the caller name must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    if (!gda_key_id_valid(out->id))
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
        if (gda_text_is(out->type, GDA_ED25519_PRIVATE_TAG))
            return entry_error(err, pos, out->id,
                               "is an Ed25519 private key; a key ring holds only the public entry");
        if (!gda_text_is(out->type, GDA_ED25519_TAG))
            return entry_error(err, pos, out->id, "unknown key type (only \"ed25519\")");
    }
    if (out->value.len == 0)
        return entry_error(err, pos, out->id, "empty value");
    if (out->value.len > GDA_KEY_TEXT_MAX)
        return entry_error(err, pos, out->id, "value longer than 512 bytes");
    return GDA_OK;
}

gda_status gda_keyring_parse(const char *config, size_t len, gda_keyring **out, gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no output for the key ring");
    *out = NULL;
    gda_status st = gda_init(err);
    if (st != GDA_OK)
        return st;
    gda_slice all = gda_text_trim(gda_slice_make(config, config ? len : 0));
    if (all.len == 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "keyring", "the key ring is empty");

    entry_text texts[GDA_KEYRING_MAX_ENTRIES];
    size_t n = 0, capacity = 0;
    const char *p = all.ptr, *end = all.ptr + all.len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        gda_slice s = gda_text_trim(gda_slice_make(p, (size_t)(stop - p)));
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
        capacity += gda_base64_decoded_max(texts[n].value.len);
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
        gda_ring_entry *e = &ring->entries[i];
        size_t got = 0;
        if (!gda_key_b64_decode(texts[i].value.ptr, texts[i].value.len, ring->secure + used,
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

const gda_ring_entry *gda_keyring_find(const gda_keyring *ring, gda_slice id)
{
    for (size_t i = 0; i < ring->n; i++) {
        if (gda_slice_eq(gda_slice_make(ring->entries[i].id, ring->entries[i].id_len), id))
            return &ring->entries[i];
    }
    return NULL;
}

/* Branch-free: cond (0 or 1) ? a : b. */
static size_t ct_select(unsigned cond, size_t a, size_t b)
{
    size_t mask = (size_t)0 - (size_t)(cond & 1u);
    return (a & mask) | (b & ~mask);
}

const gda_ring_entry *gda_keyring_match(const gda_keyring *ring, gda_key_type type,
                                        const char *kid, gda_ring_compare_fn compare,
                                        const void *given)
{
    unsigned matched = 0;
    size_t which = 0;
    for (size_t i = 0; i < ring->n; i++) {
        const gda_ring_entry *e = &ring->entries[i];
        if (e->type != type)
            continue;
        if (kid && !gda_text_is(gda_slice_make(e->id, e->id_len), kid))
            continue;
        unsigned same = compare(e, given);
        which = ct_select(same, i, which);
        matched |= same;
    }
    return matched ? &ring->entries[which] : NULL;
}

/* "id:" + tag + base64(bytes) as a heap string. */
static gda_status format_entry(const char *id, const char *tag, const uint8_t *bytes, size_t len,
                               char **out)
{
    char *b64 = gda_key_b64_encode(bytes, len);
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
    if (!gda_key_id_valid(gda_slice_cstr(id)))
        return gda_error_set(err, GDA_ERR_CONFIG, "id",
                             "a key id must be 1-64 characters of A-Z a-z 0-9 . _ -");
    return gda_init(err);
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
    st = format_entry(id, GDA_ED25519_PRIVATE_TAG, seed, sizeof seed, private_out);
    if (st == GDA_OK)
        st = format_entry(id, GDA_ED25519_TAG, pk, sizeof pk, public_out);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    if (st != GDA_OK) {
        gda_secret_free(*private_out);
        *private_out = NULL;
        return gda_error_set(err, st, NULL, "out of memory");
    }
    return GDA_OK;
}
