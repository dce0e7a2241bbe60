/* libgda fuzzing — JWT parsing (the private lib/jwt.h layer verify.c uses).
 *
 * The input is one compact token. gda_jws_parse must either refuse it or
 * split it so that re-encoding the decoded header and payload gives back the
 * token's own segments byte for byte (the decoder is strict: no padding, no
 * non-canonical trailing bits, so each text has exactly one decoding). The
 * header and claim checks then run with two policies, and both signature
 * checks run against the fuzzing key ring's keys; a signature that verifies
 * must also be reproducible by gda_jws_sign (HS256 is deterministic). */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "jwt.h"

int gda_fuzz_jwt(const uint8_t *data, size_t size);

/* The raw bytes of fuzz_keyring_text's k1 and ed entries. */
static uint8_t k1[32], ed_public[32];
static bool keys_ready;

static bool init_keys(void)
{
    if (keys_ready)
        return true;
    if (sodium_init() < 0)
        return false;
    size_t n1 = 0, n2 = 0;
    if (sodium_base642bin(k1, sizeof k1, "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o=", 44, NULL,
                          &n1, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sodium_base642bin(ed_public, sizeof ed_public,
                          "T9CZzNR9eJPf6ewkQU7LDZtUICMqrTDZHEZb4zy+ZcQ=", 44, NULL, &n2, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n1 != 32 || n2 != 32)
        return false;
    keys_ready = true;
    return true;
}

static bool segment_is(gda_slice seg, const void *bytes, size_t len)
{
    char *enc = gda_b64url_encode(bytes, len);
    if (!enc)
        return true; /* out of memory: nothing to compare */
    bool same = strlen(enc) == seg.len && memcmp(enc, seg.ptr, seg.len) == 0;
    free(enc);
    return same;
}

static bool printable(const char *s)
{
    for (; *s; s++) {
        if (*s < 0x20 || *s >= 0x7f)
            return false;
    }
    return true;
}

int gda_fuzz_jwt(const uint8_t *data, size_t size)
{
    if (!init_keys())
        return 0;
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    gda_slice token = gda_slice_make(copy, size);

    gda_jws jws;
    gda_status st = gda_jws_parse(token, &jws);
    if (st != GDA_OK) {
        gda_jws_release(&jws);
        free(copy);
        FUZZ_CHECK(st == GDA_ERR_INVALID_REQUEST || st == GDA_ERR_NOMEM);
        return 0;
    }
    int rc = 0;
#define CHECK(c)                                                                             \
    do {                                                                                     \
        if (!(c)) {                                                                          \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #c);   \
            rc = 1;                                                                          \
            goto done;                                                                       \
        }                                                                                    \
    } while (0)

    CHECK(size <= GDA_JWT_MAX_TOKEN);
    CHECK(jws.header && jws.payload && jws.header[jws.header_len] == '\0' &&
          jws.payload[jws.payload_len] == '\0');
    CHECK(jws.header_len <= GDA_JWT_MAX_HEADER && jws.sig_len <= GDA_JWT_MAX_SIG);
    CHECK(jws.signing_input.ptr == copy && jws.signing_input.len < size);
    {
        const char *dot = memchr(copy, '.', jws.signing_input.len);
        CHECK(dot != NULL);
        gda_slice h = gda_slice_make(copy, (size_t)(dot - copy));
        gda_slice p = gda_slice_make(dot + 1, jws.signing_input.len - h.len - 1);
        gda_slice s = gda_slice_make(copy + jws.signing_input.len + 1,
                                     size - jws.signing_input.len - 1);
        CHECK(segment_is(h, jws.header, jws.header_len));
        CHECK(segment_is(p, jws.payload, jws.payload_len));
        CHECK(s.len == 0 ? jws.sig_len == 0 : segment_is(s, jws.sig, jws.sig_len));
    }

    gda_jws_header hdr;
    gda_auth_reason hr = gda_jws_read_header(&jws, GDA_JWT_HS256 | GDA_JWT_EDDSA, &hdr);
    CHECK(hr == GDA_AUTH_ACCEPTED || hr == GDA_AUTH_MALFORMED || hr == GDA_AUTH_ALGORITHM);
    if (hr == GDA_AUTH_ACCEPTED) {
        CHECK(hdr.alg == GDA_JWT_HS256 || hdr.alg == GDA_JWT_EDDSA);
        CHECK(!hdr.has_kid || (hdr.kid[0] != '\0' && strlen(hdr.kid) <= GDA_KEY_ID_MAX &&
                               printable(hdr.kid)));
        /* An allow-list without the token's algorithm refuses it. */
        gda_jws_header other;
        unsigned others = hdr.alg == GDA_JWT_HS256 ? GDA_JWT_EDDSA : GDA_JWT_HS256;
        CHECK(gda_jws_read_header(&jws, others, &other) == GDA_AUTH_ALGORITHM);
    }

    gda_jwt_policy strict = {60, true, 3600, "genesys", "libgda"};
    gda_jwt_policy loose = {0, false, 0, NULL, NULL};
    char sub[GDA_AUTH_PRINCIPAL_MAX];
    gda_auth_reason cr = gda_jwt_check_claims(&jws, &strict, FUZZ_NOW_MS, sub, sizeof sub);
    CHECK(cr == GDA_AUTH_ACCEPTED || cr == GDA_AUTH_MALFORMED || cr == GDA_AUTH_EXPIRED ||
          cr == GDA_AUTH_MISMATCH || cr == GDA_AUTH_LIFETIME);
    CHECK(memchr(sub, '\0', sizeof sub) && printable(sub));
    CHECK(cr == GDA_AUTH_ACCEPTED || sub[0] == '\0');
    gda_auth_reason lr = gda_jwt_check_claims(&jws, &loose, FUZZ_NOW_MS, sub, sizeof sub);
    /* Claims the strict policy accepts, the loose one (no iss/aud/exp rule,
     * no leeway) may refuse only for timing, never as malformed. */
    CHECK(cr != GDA_AUTH_ACCEPTED || lr == GDA_AUTH_ACCEPTED || lr == GDA_AUTH_EXPIRED);

    gda_hmac_key k1_prepared;
    gda_hmac_sha256_key_init(&k1_prepared, k1, sizeof k1);
    if (gda_jws_check_hs256(&jws, &k1_prepared)) {
        CHECK(jws.sig_len == 32);
        char *again = NULL;
        if (gda_jws_sign(GDA_JWT_HS256, k1, sizeof k1,
                         gda_slice_make(jws.header, jws.header_len),
                         gda_slice_make(jws.payload, jws.payload_len), &again) == GDA_OK) {
            CHECK(strlen(again) == size && memcmp(again, copy, size) == 0);
        }
        free(again);
    }
    if (gda_jws_check_eddsa(&jws, ed_public))
        CHECK(jws.sig_len == 64);

done:
#undef CHECK
    gda_jws_release(&jws);
    free(copy);
    return rc;
}

#ifndef GDA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gda_fuzz_jwt(data, size))
        abort();
    return 0;
}
#endif
