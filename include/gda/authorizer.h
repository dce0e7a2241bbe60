/** @file
 * libgda — the API Gateway Lambda authorizer: decide an authorizer event
 * with a verifier and answer with an IAM policy scoped to the exact method
 * ARN asked for.
 *
 * gda_authorizer_respond takes the raw event, decodes it (with the other
 * event decoders, in event.c) and answers it.
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

/** Decode the API Gateway Lambda authorizer event event_json[0..event_len)
 * (TOKEN or REQUEST type; its size is bounded by the invoker, 6 MB on
 * Lambda) and answer it (see the top of this
 * file). TOKEN events are checked with authorizationToken as the value of
 * the verifier's header; REQUEST events with every string value of
 * multiValueHeaders (so a repeated header stays countable) or, without it,
 * of headers.
 * Returns GDA_OK with an Allow policy, or GDA_ERR_UNAUTHORIZED with a Deny
 * policy (both in *out_json, a heap string of *out_len bytes; free()).
 * result (optional) as for gda_verifier_verify. Errors with no policy
 * (*out_json NULL; the shim must fail the invocation, which API Gateway
 * treats as a refusal), in this order:
 *   GDA_ERR_INTERNAL         NULL arguments
 *   GDA_ERR_CONFIG           the scheme cannot run in an authorizer (checked
 *                            before the event is read)
 *   GDA_ERR_INVALID_REQUEST  not strict JSON, not an object; err->field
 *                            "methodArn": missing, not a string, or not a
 *                            printable, blank- and wildcard-free execute-api
 *                            ARN of 20-2048 bytes; "type": not TOKEN or
 *                            REQUEST; "headers": more than 256 header values
 *   GDA_ERR_NOMEM
 * Header values are not judged by the decoder: the verifier refuses a
 * malformed or oversized credential. */
GDA_API gda_status gda_authorizer_respond(gda_verifier *v, const char *event_json,
                                          size_t event_len, int64_t now_ms, char **out_json,
                                          size_t *out_len, gda_auth_result *result,
                                          gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_AUTHORIZER_H */
