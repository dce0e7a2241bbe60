/* libgda (private) — key ring internals, shared by the modules that use its
 * keys.
 *
 * Users: verify.c and the scheme files, sign.c.
 *
 * Rules for every user: key bytes are compared only with sodium_memcmp /
 * crypto_verify_32, over every entry with no early exit (gda_keyring_match);
 * and neither key bytes nor their text ever reach an error message.
 *
 * Thread safety: a parsed ring is read-only (its key block is mprotected);
 * the helpers are pure.
 */
#ifndef GDA_KEYRING_PRIVATE_H
#define GDA_KEYRING_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/keyring.h>
#include <gda/slice.h>
#include <gda/status.h>

#include "digest.h"

/* Base64 text long enough for GDA_KEY_MAX_BYTES, with padding. */
#define GDA_KEY_TEXT_MAX ((GDA_KEY_MAX_BYTES + 2) / 3 * 4)
#define GDA_ED25519_PRIVATE_TAG "ed25519-private"
#define GDA_ED25519_TAG "ed25519"

typedef struct gda_ring_entry {
    char id[GDA_KEY_ID_MAX + 1];
    size_t id_len;
    char caller[GDA_KEY_ID_MAX + 1]; /* "caller/" prefix of the entry, else the id */
    gda_key_type type;
    size_t len;
    const uint8_t *key;         /* inside the ring's guarded block */
    const gda_hmac_key *hmac;   /* secrets only: the key prepared for HMAC, same block */
} gda_ring_entry;

struct gda_keyring {
    atomic_size_t refs;
    size_t n;
    gda_ring_entry entries[GDA_KEYRING_MAX_ENTRIES];
    /* sodium_malloc block holding one gda_hmac_key per entry, then every
     * decoded key */
    uint8_t *secure;
};

static inline bool gda_text_is(gda_slice a, const char *b)
{
    return gda_slice_eq(a, gda_slice_cstr(b));
}

static inline bool gda_text_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Blanks around config text and header values (OWS) removed. */
static inline gda_slice gda_text_trim(gda_slice s)
{
    while (s.len && gda_text_is_space(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && gda_text_is_space(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

static inline bool gda_key_id_valid(gda_slice id)
{
    return gda_slice_is_id(id, GDA_KEY_ID_MAX);
}

/* Standard base64 with optional padding (the key ring format) into out (cap
 * bytes); false for bad text and for an empty result. */
bool gda_key_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Standard base64 with padding as a new heap string (NULL: no memory, or
 * more than a JWT's worth of input). Free secret text with gda_secret_free. */
char *gda_key_b64_encode(const uint8_t *in, size_t len);


/* The entry with this id, or NULL. */
const gda_ring_entry *gda_keyring_find(const gda_keyring *ring, gda_slice id);

/* Compares one entry with a credential: 1 when it matches, else 0, in time
 * that does not depend on the secret bytes. */
typedef unsigned (*gda_ring_compare_fn)(const gda_ring_entry *e, const void *given);

/* The entry of `type` that `compare` matches with `given`, or NULL. Every
 * entry of the type is compared, with no early exit, and the match is
 * chosen with a branch-free select, so timing reveals neither which entry
 * matched nor whether one did. kid (may be NULL) restricts the comparison
 * to the entry of that id: it is public, taken from the credential. */
const gda_ring_entry *gda_keyring_match(const gda_keyring *ring, gda_key_type type,
                                        const char *kid, gda_ring_compare_fn compare,
                                        const void *given);

#endif /* GDA_KEYRING_PRIVATE_H */
