/* libgda fuzzing — every verifier scheme, headers and body.
 *
 * Input: an HTTP-like request (fuzz_common.h). It goes through one verifier
 * of each configuration, all over the same key ring (two secrets and an
 * Ed25519 public key) at the fixed time FUZZ_NOW_MS:
 *   token (X-Genesys-Signature), token in Authorization: Bearer,
 *   hmac-sha256 bound to X-Genesys-Timestamp, hmac-sha256 over the body only,
 *   jwt (HS256 + EdDSA, iss "genesys", aud "libgda"), basic.
 * Every answer must be GDA_OK with a ring id and the reason "accepted", or
 * GDA_ERR_UNAUTHORIZED with the generic message and nothing identifying in
 * the result; the same request verified twice must get the same answer. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include <gda/verify.h>

int gda_fuzz_verify(const uint8_t *data, size_t size);

#define N_VERIFIERS 6
static gda_verifier *verifiers[N_VERIFIERS];
static gda_keyring *ring_for_ids; /* one reference kept to check key ids */

static gda_verifier *make(gda_auth_scheme scheme, const char *header, bool timestamp,
                          const char *iss, const char *aud)
{
    gda_keyring *ring = NULL;
    gda_verifier *v = NULL;
    if (gda_keyring_parse(fuzz_keyring_text, strlen(fuzz_keyring_text), &ring, NULL) != GDA_OK)
        return NULL;
    gda_verifier_options o = gda_verifier_options_default(scheme);
    o.header = header;
    o.hmac_timestamp = timestamp;
    o.jwt_issuer = iss;
    o.jwt_audience = aud;
    if (gda_verifier_new(&o, ring, &v, NULL) != GDA_OK) /* takes ring */
        return NULL;
    return v;
}

static bool init_verifiers(void)
{
    if (verifiers[0])
        return true;
    verifiers[0] = make(GDA_AUTH_TOKEN, NULL, false, NULL, NULL);
    verifiers[1] = make(GDA_AUTH_TOKEN, "Authorization", false, NULL, NULL);
    verifiers[2] = make(GDA_AUTH_HMAC_SHA256, NULL, true, NULL, NULL);
    verifiers[3] = make(GDA_AUTH_HMAC_SHA256, NULL, false, NULL, NULL);
    verifiers[4] = make(GDA_AUTH_JWT, NULL, false, "genesys", "libgda");
    verifiers[5] = make(GDA_AUTH_BASIC, NULL, false, NULL, NULL);
    if (!ring_for_ids)
        gda_keyring_parse(fuzz_keyring_text, strlen(fuzz_keyring_text), &ring_for_ids, NULL);
    for (int i = 0; i < N_VERIFIERS; i++) {
        if (!verifiers[i] || !ring_for_ids) {
            for (int j = 0; j < N_VERIFIERS; j++) {
                gda_verifier_free(verifiers[j]);
                verifiers[j] = NULL;
            }
            return false;
        }
    }
    return true;
}

static bool is_ring_id(const char *id)
{
    for (size_t i = 0; i < gda_keyring_size(ring_for_ids); i++) {
        if (strcmp(gda_keyring_id(ring_for_ids, i), id) == 0)
            return true;
    }
    return false;
}

static int check_one(gda_verifier *v, const gda_http_request *req)
{
    gda_auth_result r1, r2;
    gda_error e1 = {0}, e2 = {0};
    memset(&r1, 0x5a, sizeof r1); /* must be overwritten either way */
    gda_status s1 = gda_verifier_verify(v, req, FUZZ_NOW_MS, &r1, &e1);
    gda_status s2 = gda_verifier_verify(v, req, FUZZ_NOW_MS, &r2, &e2);
    FUZZ_CHECK(fuzz_error_consistent(s1, &e1));
    FUZZ_CHECK(s1 == s2 && r1.reason == r2.reason);
    FUZZ_CHECK(memchr(r1.key_id, '\0', sizeof r1.key_id) &&
               memchr(r1.principal, '\0', sizeof r1.principal));
    if (s1 == GDA_OK) {
        FUZZ_CHECK(r1.reason == GDA_AUTH_ACCEPTED);
        FUZZ_CHECK(r1.scheme == gda_verifier_scheme(v));
        FUZZ_CHECK(is_ring_id(r1.key_id));
        FUZZ_CHECK(strcmp(r1.key_id, r2.key_id) == 0);
        /* The Ed25519 public key can only ever sign a JWT. */
        FUZZ_CHECK(strcmp(r1.key_id, "ed") != 0 || r1.scheme == GDA_AUTH_JWT);
    } else if (s1 == GDA_ERR_UNAUTHORIZED) {
        FUZZ_CHECK(r1.reason != GDA_AUTH_ACCEPTED);
        FUZZ_CHECK(r1.key_id[0] == '\0' && r1.principal[0] == '\0');
        FUZZ_CHECK(strcmp(e1.message, "unauthorized") == 0 && e1.field[0] == '\0');
    } else {
        FUZZ_CHECK(s1 == GDA_ERR_NOMEM);
    }
    return 0;
}

int gda_fuzz_verify(const uint8_t *data, size_t size)
{
    if (!init_verifiers())
        return 0;
    fuzz_http h;
    if (!fuzz_http_parse(data, size, &h))
        return 0;
    int rc = 0;
    for (int i = 0; i < N_VERIFIERS && rc == 0; i++)
        rc = check_one(verifiers[i], &h.req);
    fuzz_http_free(&h);
    return rc;
}

#ifndef GDA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gda_fuzz_verify(data, size))
        abort();
    return 0;
}
#endif
