/* libgda fuzzing — the API Gateway Lambda authorizer answer.
 *
 * The input is one authorizer event (TOKEN or REQUEST). It is answered by a
 * token verifier and by a jwt verifier over the fuzzing key ring. Whatever
 * the event, a policy is only ever produced with exactly one statement,
 * Action execute-api:Invoke, Effect Allow exactly when the verification
 * succeeded, and Resource equal to the event's own methodArn with no
 * wildcard: never a whole stage or anything broader than what was asked. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <gda/authorizer.h>

int gda_fuzz_authorizer(const uint8_t *data, size_t size);

static gda_verifier *verifiers[2];

static bool init_verifiers(void)
{
    if (verifiers[0] && verifiers[1])
        return true;
    gda_auth_scheme schemes[2] = {GDA_AUTH_TOKEN, GDA_AUTH_JWT};
    for (int i = 0; i < 2; i++) {
        gda_keyring *ring = NULL;
        if (verifiers[i])
            continue;
        if (gda_keyring_parse(fuzz_keyring_text, strlen(fuzz_keyring_text), &ring, NULL) != GDA_OK)
            return false;
        gda_verifier_options o = gda_verifier_options_default(schemes[i]);
        if (gda_verifier_new(&o, ring, &verifiers[i], NULL) != GDA_OK) /* takes ring */
            return false;
    }
    return true;
}

static int check_policy(const char *out, size_t out_len, bool allow, const char *event,
                        size_t event_len)
{
    json_error_t jerr;
    json_t *p = json_loadb(out, out_len, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_CHECK(p != NULL);
    json_t *doc = json_object_get(p, "policyDocument");
    json_t *stmts = json_object_get(doc, "Statement");
    FUZZ_CHECK(json_is_array(stmts) && json_array_size(stmts) == 1);
    json_t *s = json_array_get(stmts, 0);
    const char *effect = json_string_value(json_object_get(s, "Effect"));
    const char *action = json_string_value(json_object_get(s, "Action"));
    json_t *res = json_object_get(s, "Resource");
    FUZZ_CHECK(effect && strcmp(effect, allow ? "Allow" : "Deny") == 0);
    FUZZ_CHECK(action && strcmp(action, "execute-api:Invoke") == 0);
    FUZZ_CHECK(json_is_string(res));
    FUZZ_CHECK(strchr(json_string_value(res), '*') == NULL);
    FUZZ_CHECK(strncmp(json_string_value(res), "arn:", 4) == 0);
    json_t *ev = json_loadb(event, event_len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *arn = json_object_get(ev, "methodArn");
    FUZZ_CHECK(json_is_string(arn) && json_equal(arn, res));
    json_decref(ev);
    json_decref(p);
    return 0;
}

int gda_fuzz_authorizer(const uint8_t *data, size_t size)
{
    if (!init_verifiers())
        return 0;
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        char *out = NULL;
        size_t out_len = 0;
        gda_auth_result r;
        gda_error err = {0};
        gda_status st = gda_authorizer_respond(verifiers[i], copy, size, FUZZ_NOW_MS, &out,
                                               &out_len, &r, &err);
        if (!fuzz_error_consistent(st, &err)) {
            fprintf(stderr, "fuzz invariant failed: inconsistent error\n");
            rc = 1;
        } else if (st == GDA_OK || st == GDA_ERR_UNAUTHORIZED) {
            rc = out ? check_policy(out, out_len, st == GDA_OK, copy, size) : 1;
            if (st == GDA_OK && (r.reason != GDA_AUTH_ACCEPTED || r.key_id[0] == '\0'))
                rc = 1;
            if (st != GDA_OK && r.reason == GDA_AUTH_ACCEPTED)
                rc = 1;
            if (rc)
                fprintf(stderr, "fuzz invariant failed: policy/result mismatch\n");
        } else if (out || (st != GDA_ERR_INVALID_REQUEST && st != GDA_ERR_NOMEM)) {
            fprintf(stderr, "fuzz invariant failed: status %d with policy %p\n", st, (void *)out);
            rc = 1;
        }
        free(out);
    }
    free(copy);
    return rc;
}

#ifndef GDA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gda_fuzz_authorizer(data, size))
        abort();
    return 0;
}
#endif
