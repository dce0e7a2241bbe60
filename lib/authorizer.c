/* libgda — the API Gateway authorizer answer (include/gda/authorizer.h):
 * verify a decoded authorizer event and build the policy for its method ARN. */
#include <gda/authorizer.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "event_internal.h"
#include "verify_private.h"

/* Body schemes cannot run where the body never arrives. */
static gda_status usable_scheme(const gda_verifier *v, gda_error *err)
{
    if (v->scheme != GDA_AUTH_TOKEN && v->scheme != GDA_AUTH_JWT)
        return gda_error_set(err, GDA_ERR_CONFIG, "scheme",
                             "the %s scheme cannot run in an API Gateway authorizer: an authorizer "
                             "never sees the request body; verify it in the function instead",
                             gda_auth_scheme_str(v->scheme));
    return GDA_OK;
}

/* The output arguments reset; GDA_ERR_INTERNAL when one is missing. */
static gda_status start_answer(gda_verifier *v, const void *event, char **out_json,
                               size_t *out_len, gda_auth_result *result, gda_error *err)
{
    if (result)
        memset(result, 0, sizeof *result);
    if (!out_json || !out_len)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no output for the policy");
    *out_json = NULL;
    *out_len = 0;
    if (!v || !event)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "missing verifier or event");
    return usable_scheme(v, err);
}

/* The policy for *ev, once start_answer has passed. */
static gda_status answer_checked(gda_verifier *v, const gda_authorizer_event *ev, int64_t now_ms,
                                 char **out_json, size_t *out_len, gda_auth_result *result,
                                 gda_error *err)
{
    /* A TOKEN event's token is the value of the verifier's own header. */
    gda_header token = {gda_slice_cstr(v->header), ev->token};
    bool token_type = ev->type == GDA_AUTHORIZER_TOKEN;
    gda_http_request req = {
        .kind = GDA_EVENT_HTTP,
        .headers = token_type ? &token : ev->headers,
        .n_headers = token_type ? (ev->token.ptr != NULL) : ev->n_headers,
    };
    gda_auth_result local;
    gda_auth_result *r = result ? result : &local;
    gda_error verr;
    gda_status outcome = gda_verifier_verify(v, &req, now_ms, r, &verr);
    if (outcome != GDA_OK && outcome != GDA_ERR_UNAUTHORIZED)
        return gda_error_set(err, outcome, NULL, "%s", verr.message);
    bool allow = outcome == GDA_OK;
    json_t *policy = json_pack(
        "{s:s, s:{s:s, s:[{s:s, s:s, s:s%}]}, s:{s:s, s:s}}",
        "principalId", allow ? r->principal : "unauthorized",
        "policyDocument", "Version", "2012-10-17", "Statement",
        "Action", "execute-api:Invoke", "Effect", allow ? "Allow" : "Deny", "Resource",
        ev->method_arn.ptr, ev->method_arn.len,
        "context", "keyId", allow ? r->key_id : "", "scheme", gda_auth_scheme_str(v->scheme));
    char *text = policy ? json_dumps(policy, JSON_COMPACT) : NULL;
    json_decref(policy);
    if (!text)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    *out_json = text;
    *out_len = strlen(text);
    if (!allow)
        return gda_error_set(err, GDA_ERR_UNAUTHORIZED, NULL, GDA_AUTH_REFUSAL);
    gda_error_clear(err);
    return GDA_OK;
}

gda_status gda_authorizer_answer(gda_verifier *v, const gda_authorizer_event *ev, int64_t now_ms,
                                 char **out_json, size_t *out_len, gda_auth_result *result,
                                 gda_error *err)
{
    gda_status st = start_answer(v, ev, out_json, out_len, result, err);
    if (st != GDA_OK)
        return st;
    return answer_checked(v, ev, now_ms, out_json, out_len, result, err);
}

gda_status gda_authorizer_respond(gda_verifier *v, const char *event_json, size_t event_len,
                                  int64_t now_ms, char **out_json, size_t *out_len,
                                  gda_auth_result *result, gda_error *err)
{
    gda_status st = start_answer(v, event_json, out_json, out_len, result, err);
    if (st != GDA_OK)
        return st;
    /* No size limit of its own: the invoker (Lambda: 6 MB) bounds the event. */
    gda_authorizer_event ev;
    st = gda_authorizer_event_decode(event_json, event_len, SIZE_MAX, &ev, err);
    if (st == GDA_OK)
        st = answer_checked(v, &ev, now_ms, out_json, out_len, result, err);
    gda_authorizer_event_release(&ev);
    return st;
}
