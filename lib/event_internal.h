/* libgda (private) — API Gateway Lambda authorizer events, decoded in
 * event.c with the other event shapes and answered in authorizer.c; the
 * public door is gda_authorizer_respond (gda/authorizer.h).
 */
#ifndef GDA_LIB_EVENT_INTERNAL_H
#define GDA_LIB_EVENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <gda/event.h>
#include <gda/verify.h>

/* Which kind of API Gateway Lambda authorizer sent an event. */
typedef enum gda_authorizer_type {
    GDA_AUTHORIZER_TOKEN = 1,  /* TOKEN: the identity source's value in authorizationToken */
    GDA_AUTHORIZER_REQUEST = 2 /* REQUEST: the request's headers */
} gda_authorizer_type;

/* Most headers an authorizer event may carry, each value of a repeated
 * header counted. */
#define GDA_AUTHORIZER_MAX_HEADERS 256

/* One API Gateway Lambda authorizer event, decoded. Every slice points into
 * memory the event owns (gda_authorizer_event_release). An authorizer never
 * sees the request body, so there is none. */
typedef struct gda_authorizer_event {
    gda_authorizer_type type; /* TOKEN or REQUEST */
    /* The method ARN asked about, "arn:PARTITION:execute-api:REGION:ACCOUNT:
     * API/STAGE/METHOD/PATH": 20-2048 bytes of printable ASCII without blanks
     * and without the wildcards '*' and '?', so that a policy naming exactly
     * it can never grant more. */
    gda_slice method_arn;
    /* TOKEN: authorizationToken, the identity source's value; ptr NULL when
     * the event has none (or not as a string). Empty for REQUEST. */
    gda_slice token;
    /* REQUEST: every string value of multiValueHeaders (a repeated header
     * stays countable) or, without it, of headers, in event order; values of
     * another JSON type are left out. None for TOKEN. */
    const gda_header *headers;
    size_t n_headers;  /* number of entries in headers */
    gda_event_storage *storage; /* what gda_authorizer_event_release frees */
} gda_authorizer_event;

/* Decode one API Gateway Lambda authorizer event (TOKEN or REQUEST type)
 * from json[0..len) into *out. On success *out holds slices into memory it
 * owns (the caller's buffer may be freed at once); release it with
 * gda_authorizer_event_release. On failure *out is left empty (releasing it
 * is harmless) and err says why (messages never quote the input):
 *   GDA_ERR_PAYLOAD_TOO_LARGE  the event is larger than max_event bytes
 *                          (checked first, before parsing; 0 means 6 MiB)
 *   GDA_ERR_INVALID_REQUEST  not a JSON object (or not strict JSON: duplicate
 *                          keys are refused), err->field "methodArn": the
 *                          methodArn is missing, not a string or not a
 *                          wildcard-free execute-api ARN; "type": the type is
 *                          not the string TOKEN or REQUEST; "headers": more
 *                          than GDA_AUTHORIZER_MAX_HEADERS headers; or out
 *                          NULL / json NULL with len > 0
 *   GDA_ERR_NOMEM
 * The checks run in that order. Header values are not judged here: the
 * verifier refuses a malformed or oversized credential. */
gda_status gda_authorizer_event_decode(const char *json, size_t len, size_t max_event,
                                       gda_authorizer_event *out, gda_error *err);

/* Free what gda_authorizer_event_decode allocated and reset *ev. NULL-safe. */
void gda_authorizer_event_release(gda_authorizer_event *ev);

/* Answer the decoded authorizer event *ev (gda/authorizer.h).
 * Returns GDA_OK with an Allow policy, or GDA_ERR_UNAUTHORIZED with a Deny
 * policy (both in *out_json, a heap string of *out_len bytes; free()).
 * result (optional) as for gda_verifier_verify. Errors with no policy
 * (*out_json NULL; the shim must fail the invocation, which API Gateway
 * treats as a refusal): GDA_ERR_CONFIG (scheme not usable in an authorizer),
 * GDA_ERR_NOMEM, GDA_ERR_INTERNAL (NULL arguments). */
gda_status gda_authorizer_answer(gda_verifier *v, const gda_authorizer_event *ev, int64_t now_ms,
                                 char **out_json, size_t *out_len, gda_auth_result *result,
                                 gda_error *err);

#endif
