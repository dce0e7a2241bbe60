/** @file
 * libgda — the API Gateway Lambda authorizer: decide an authorizer event
 * with a verifier and answer with an IAM policy scoped to the exact method
 * ARN asked for.
 *
 * The event itself is decoded by gda_authorizer_event_decode (gda/event.h);
 * gda_authorizer_respond does both steps for a shim holding the raw event.
 *
 * The answer:
 * @verbatim
 *   {"principalId":"…","policyDocument":{"Version":"2012-10-17","Statement":
 *    [{"Action":"execute-api:Invoke","Effect":"Allow"|"Deny",
 *      "Resource":"<the event's exact methodArn>"}]},
 *    "context":{"keyId":"…","scheme":"…"}}
 * @endverbatim
 * The Allow is scoped to exactly the method ARN that was asked for, never a
 * wildcard or a whole stage; anything that is not a positive verification is
 * a Deny of that same ARN.
 *
 * An authorizer never sees the request body, so only the token and jwt
 * schemes can run here; body HMACs (and Basic) are verified in the function
 * itself with gda_verifier_verify. For TOKEN events the authorizationToken
 * is checked as the value of the verifier's header; for REQUEST events the
 * event's headers (and multiValueHeaders) are used.
 *
 * Time comes in as epoch milliseconds; nothing here reads a clock.
 *
 * Thread safety: as gda_verifier_verify — any number of threads may answer
 * with the same verifier at once.
 */
#ifndef GDA_AUTHORIZER_H
#define GDA_AUTHORIZER_H

#include <stddef.h>
#include <stdint.h>

#include <gda/event.h>
#include <gda/export.h>
#include <gda/status.h>
#include <gda/verify.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Answer the decoded authorizer event *ev (see the top of this file).
 * Returns GDA_OK with an Allow policy, or GDA_ERR_UNAUTHORIZED with a Deny
 * policy (both in *out_json, a heap string of *out_len bytes; free()).
 * result (optional) as for gda_verifier_verify. Errors with no policy
 * (*out_json NULL; the shim must fail the invocation, which API Gateway
 * treats as a refusal): GDA_ERR_CONFIG (scheme not usable in an authorizer),
 * GDA_ERR_NOMEM, GDA_ERR_INTERNAL (NULL arguments). */
GDA_API gda_status gda_authorizer_answer(gda_verifier *v, const gda_authorizer_event *ev,
                                         int64_t now_ms, char **out_json, size_t *out_len,
                                         gda_auth_result *result, gda_error *err);

/** Decode the API Gateway Lambda authorizer event event_json[0..event_len)
 * (TOKEN or REQUEST type) and answer it as gda_authorizer_answer does.
 * Errors with no policy, besides gda_authorizer_answer's: GDA_ERR_CONFIG
 * first (scheme not usable in an authorizer, before the event is read), then
 * GDA_ERR_INVALID_REQUEST (not JSON, unknown type, methodArn missing, not an
 * execute-api ARN, or holding a wildcard, too many headers: see
 * gda_authorizer_event_decode). */
GDA_API gda_status gda_authorizer_respond(gda_verifier *v, const char *event_json,
                                          size_t event_len, int64_t now_ms, char **out_json,
                                          size_t *out_len, gda_auth_result *result,
                                          gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_AUTHORIZER_H */
