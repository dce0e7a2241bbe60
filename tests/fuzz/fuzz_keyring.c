/* libgda fuzzing — key ring configuration and verifier configuration text.
 *
 * The whole input is parsed as a key ring (`id:BASE64[,id:BASE64...]`), then
 * installed by rotation into a live token verifier. The input is also read
 * as three parts for gda_verifier_new_from_config: the first line is the
 * scheme name, the second the option string, the rest the key ring.
 * Invariants: a parsed ring has 1..32 entries with distinct, well-formed ids;
 * an error is GDA_ERR_CONFIG and its message never quotes a key value; a
 * rotation either takes the ring or leaves it with the caller. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include <gda/verify.h>

int gda_fuzz_keyring(const uint8_t *data, size_t size);

static gda_verifier *live; /* a token verifier rotated to each parsed ring */

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > GDA_KEY_ID_MAX)
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Whether v occurs inside the id (text before the first ':') of any
 * entry of text. */
static bool in_any_id(const char *v, const char *text, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != ',')
            continue;
        const char *colon = memchr(text + start, ':', i - start);
        size_t id_len = colon ? (size_t)(colon - (text + start)) : i - start;
        char *id = strndup(text + start, id_len);
        bool hit = id && strstr(id, v) != NULL;
        free(id);
        if (hit)
            return true;
        start = i + 1;
    }
    return false;
}

static bool base64_text(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_", p[i]) ||
            p[i] == '\0')
            return false;
    }
    return true;
}

/* Whether msg quotes the value part (after the last ':') of any entry in
 * text. Only values that look like secrets count: 16 or more base64
 * characters (shorter or other text, like "ed25519" or quoted punctuation,
 * can appear in a message by coincidence), not part of any entry id (ids
 * may be quoted) and not in `public_text` (option strings are not secret). */
static bool leaks_value(const char *msg, const char *text, size_t len, const char *public_text)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != ',')
            continue;
        size_t colon = start;
        bool have = false;
        for (size_t j = start; j < i; j++) {
            if (text[j] == ':') {
                colon = j;
                have = true;
            }
        }
        if (have) {
            size_t vs = colon + 1, ve = i;
            while (vs < ve && (text[vs] == ' ' || text[vs] == '\n' || text[vs] == '\t' ||
                               text[vs] == '\r'))
                vs++;
            while (ve > vs && (text[ve - 1] == ' ' || text[ve - 1] == '\n' ||
                               text[ve - 1] == '\t' || text[ve - 1] == '\r'))
                ve--;
            if (ve - vs >= 16 && base64_text(text + vs, ve - vs)) {
                char *v = malloc(ve - vs + 1);
                if (v) {
                    memcpy(v, text + vs, ve - vs);
                    v[ve - vs] = '\0';
                    /* Entry ids may be quoted: a value that is part of
                     * any id proves nothing. */
                    bool found = strstr(msg, v) != NULL && !in_any_id(v, text, len) &&
                                 !(public_text && strstr(public_text, v));
                    free(v);
                    if (found)
                        return true;
                }
            }
        }
        start = i + 1;
    }
    return false;
}

static int check_ring(const char *text, size_t len)
{
    gda_keyring *ring = NULL;
    gda_error err = {0};
    gda_status st = gda_keyring_parse(text, len, &ring, &err);
    FUZZ_CHECK(fuzz_error_consistent(st, &err));
    if (st != GDA_OK) {
        FUZZ_CHECK(ring == NULL);
        FUZZ_CHECK(st == GDA_ERR_CONFIG || st == GDA_ERR_NOMEM);
        FUZZ_CHECK(!leaks_value(err.message, text, len, NULL));
        return 0;
    }
    size_t n = gda_keyring_size(ring);
    FUZZ_CHECK(n >= 1 && n <= GDA_KEYRING_MAX_ENTRIES);
    for (size_t i = 0; i < n; i++) {
        const char *id = gda_keyring_id(ring, i);
        FUZZ_CHECK(id && id_ok(id));
        gda_key_type t = gda_keyring_type(ring, i);
        FUZZ_CHECK(t == GDA_KEY_SECRET || t == GDA_KEY_ED25519_PUBLIC);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(gda_keyring_id(ring, j), id) != 0);
    }
    FUZZ_CHECK(gda_keyring_id(ring, n) == NULL);

    /* Rotation into a live verifier: taken over, or left with us. */
    bool has_secret = false;
    for (size_t i = 0; i < n; i++)
        has_secret |= gda_keyring_type(ring, i) == GDA_KEY_SECRET;
    gda_error rerr = {0};
    gda_status rs = gda_verifier_set_keyring(live, ring, &rerr);
    FUZZ_CHECK(fuzz_error_consistent(rs, &rerr));
    FUZZ_CHECK(rs == (has_secret ? GDA_OK : GDA_ERR_CONFIG) || rs == GDA_ERR_NOMEM);
    if (rs != GDA_OK)
        gda_keyring_free(ring);
    return 0;
}

static int check_config(const char *text, size_t len)
{
    const char *nl1 = memchr(text, '\n', len);
    if (!nl1)
        return 0;
    const char *nl2 = memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - text));
    if (!nl2)
        return 0;
    char *scheme = strndup(text, (size_t)(nl1 - text));
    char *options = strndup(nl1 + 1, (size_t)(nl2 - nl1 - 1));
    const char *ring = nl2 + 1;
    /* Scheme and options as the library sees them (C strings): not secret,
     * a message may quote them. */
    char *text_head = NULL;
    if (scheme && options) {
        size_t n = strlen(scheme) + strlen(options) + 2;
        if ((text_head = malloc(n)) != NULL)
            snprintf(text_head, n, "%s\n%s", scheme, options);
    }
    size_t ring_len = len - (size_t)(ring - text);
    int rc = 0;
    if (scheme && options && text_head) {
        gda_verifier *v = NULL;
        gda_error err = {0};
        gda_status st = gda_verifier_new_from_config(scheme, ring, ring_len, options, &v, &err);
        gda_auth_scheme parsed;
        if (!fuzz_error_consistent(st, &err)) {
            fprintf(stderr, "fuzz invariant failed: inconsistent error\n");
            rc = 1;
        } else if (st == GDA_OK) {
            if (!v || !gda_auth_scheme_parse(scheme, &parsed) ||
                gda_verifier_scheme(v) != parsed) {
                fprintf(stderr, "fuzz invariant failed: verifier of another scheme\n");
                rc = 1;
            }
        } else if (v || (st != GDA_ERR_CONFIG && st != GDA_ERR_NOMEM) ||
                   leaks_value(err.message, ring, ring_len, text_head)) {
            fprintf(stderr, "fuzz invariant failed: bad config error (%d)\n", st);
            rc = 1;
        }
        gda_verifier_free(v);
    }
    free(scheme);
    free(options);
    free(text_head);
    return rc;
}

int gda_fuzz_keyring(const uint8_t *data, size_t size)
{
    if (!live) {
        gda_keyring *ring = NULL;
        if (gda_keyring_parse(fuzz_keyring_text, strlen(fuzz_keyring_text), &ring, NULL) != GDA_OK)
            return 0;
        gda_verifier_options o = gda_verifier_options_default(GDA_AUTH_TOKEN);
        if (gda_verifier_new(&o, ring, &live, NULL) != GDA_OK) /* takes ring */
            return 0;
    }
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    int rc = check_ring(copy, size);
    if (rc == 0)
        rc = check_config(copy, size);
    free(copy);
    return rc;
}

#ifndef GDA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gda_fuzz_keyring(data, size))
        abort();
    return 0;
}
#endif
