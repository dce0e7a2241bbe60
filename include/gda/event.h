/** @file
 * libgda — Lambda invocation events and HTTP requests/responses.
 *
 * gda_event_decode() turns the JSON of one Lambda invocation into a
 * gda_http_request, whatever invoked the function:
 *   - API Gateway REST API, Lambda proxy integration (payload format 1.0,
 *     including multiValueHeaders / multiValueQueryStringParameters);
 *   - API Gateway HTTP API or a Lambda Function URL (payload format 2.0,
 *     including cookies and rawQueryString);
 *   - an Application Load Balancer target group;
 *   - direct invocation, as done by Genesys' AWS Lambda data-action
 *     integration: the event *is* the Data Action request JSON.
 * The shape is detected automatically; anything else is GDA_ERR_UNKNOWN_EVENT.
 *
 * Detection rule, in order (the event must be a JSON object):
 *   1. refused: an API Gateway authorizer event ("type" TOKEN or REQUEST with
 *      "methodArn" or "routeArn"), an S3/SQS/SNS event ("Records" array), an
 *      EventBridge event ("detail-type");
 *   2. "requestContext" present: ALB if it holds "elb"; payload 2.0 if
 *      "version" is "2.0" or it holds "http" (then requestContext.http.method
 *      is required); REST proxy if "httpMethod" is a string; else refused;
 *   3. refused: "httpMethod" without requestContext, or any other member only
 *      AWS envelopes carry (rawPath, rawQueryString, routeKey, isBase64Encoded,
 *      multiValueHeaders, multiValueQueryStringParameters, pathParameters,
 *      stageVariables, methodArn, routeArn);
 *   4. everything else is a direct invocation. A Data Action body made of its
 *      own fields (interactionId, requestId, callerId, custom ones, even
 *      "type", "version", "source", "headers" or "body") is therefore DIRECT.
 *
 * gda_event_encode() turns a gda_http_response back into the JSON the same
 * invoker expects (for direct invocation: the response body itself).
 *
 * The events rule 1 refuses as requests, those of an API Gateway Lambda
 * authorizer (TOKEN or REQUEST), are answered by gda_authorizer_respond
 * (gda/authorizer.h), which decodes them itself.
 *
 * Shims that receive plain HTTP (gda-httpd) fill a gda_http_request directly
 * with kind GDA_EVENT_HTTP and slices into their own buffers.
 *
 * Thread safety: a request or response belongs to one thread at a time;
 * decode/encode keep no global state.
 */
#ifndef GDA_EVENT_H
#define GDA_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <gda/export.h>
#include <gda/slice.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What delivered a request: the shape of the Lambda event, or plain HTTP. */
typedef enum gda_event_kind {
    GDA_EVENT_UNKNOWN = 0, /**< not decoded, or of no supported shape */
    GDA_EVENT_APIGW_REST, /**< API Gateway REST API proxy, payload 1.0 */
    GDA_EVENT_APIGW_HTTP, /**< HTTP API / Function URL, payload 2.0 */
    GDA_EVENT_ALB,        /**< Application Load Balancer */
    GDA_EVENT_DIRECT,     /**< direct invocation: the event is the request body */
    GDA_EVENT_HTTP        /**< plain HTTP, filled in by a shim */
} gda_event_kind;

/** Short name of a kind ("apigw-rest", "apigw-http", "alb", "direct", "http"). */
GDA_API const char *gda_event_kind_str(gda_event_kind kind);

/** One request header, borrowed from the request that holds it. */
typedef struct gda_header {
    gda_slice name;  /**< as received; compare with gda_slice_ieq */
    gda_slice value; /**< as received, without leading or trailing blanks removed */
} gda_header;

/** Opaque: the memory a decoded event's slices point into. Only
 * gda_event_decode creates one, and only gda_http_request_release frees it. */
typedef struct gda_event_storage gda_event_storage;

/** One HTTP request as the pipeline sees it, whatever door it came through.
 * Every slice points into memory the request (or the shim that filled it)
 * owns. */
typedef struct gda_http_request {
    gda_event_kind kind;   /**< who invoked us (decides the response encoding) */
    gda_slice method;      /**< "POST"; "POST" for direct invocation */
    gda_slice path;        /**< "/genesys/dataaction"; empty for direct invocation */
    gda_slice query;       /**< raw query string without '?', may be empty; for REST it
                            * is rebuilt from the (decoded) parameters, re-encoded */
    gda_slice request_id;  /**< the invoker's id (requestContext.requestId); empty for
                            * ALB and direct invocation, which carry none */
    gda_slice source_ip;   /**< requestContext(.identity|.http).sourceIp; may be empty */
    /** In arrival order; repeated names repeat (REST/ALB multiValueHeaders).
     * Payload 2.0 joins repeated headers with commas into one value, and its
     * "cookies" array comes back as one "cookie" header joined with "; ". */
    const gda_header *headers;
    size_t n_headers;      /**< number of entries in headers */
    gda_slice body;        /**< raw body bytes, base64-decoded when the event said so */
    /** For GDA_EVENT_DIRECT: the event already parsed (strictly), so the body
     * is never parsed twice. NULL otherwise. Borrowed from the request: valid
     * until gda_http_request_release, never json_decref it. */
    const json_t *body_json;
    /** What gda_event_decode allocated, freed by gda_http_request_release;
     * NULL for a request a shim filled itself. Never touch it. */
    gda_event_storage *storage;
} gda_http_request;

/** Decode one invocation event of any supported shape into *out.
 * json/len: the raw event bytes (not necessarily NUL-terminated).
 * On success *out holds slices into memory owned by *out (the parsed event,
 * a copy of the bytes for direct invocation, the base64-decoded body); the
 * caller's buffer may be freed at once. Release it with
 * gda_http_request_release(). On failure *out is left empty (releasing it is
 * harmless) and err says why (messages never quote the input):
 *   GDA_ERR_PAYLOAD_TOO_LARGE  the event is larger than max_event bytes
 *                          (checked first, before parsing)
 *   GDA_ERR_INVALID_JSON   the event is not strict JSON (syntax, invalid UTF-8,
 *                          `\u0000`, duplicate keys; line and column given), or a
 *                          direct invocation nested deeper than 50 levels
 *   GDA_ERR_UNKNOWN_EVENT  JSON of no supported shape, or an envelope member
 *                          of the wrong JSON type (e.g. a header value that is
 *                          not a string); the message and err->field name it
 *   GDA_ERR_INVALID_REQUEST  isBase64Encoded with a body that is not base64
 *                          (standard alphabet, padding optional), a header
 *                          name or value holding CR, LF or NUL, an empty
 *                          header name; or out NULL / json NULL with len > 0
 *   GDA_ERR_NOMEM
 * max_event bounds the event size before parsing (0 means 6 MiB, Lambda's
 * synchronous payload limit). */
GDA_API gda_status gda_event_decode(const char *json, size_t len, size_t max_event,
                                    gda_http_request *out, gda_error *err);

/** Free what gda_event_decode allocated and reset *req. NULL-safe; harmless on
 * a request a shim filled itself (storage NULL). */
GDA_API void gda_http_request_release(gda_http_request *req);

/** First header named `name` (ASCII case-insensitive), or GDA_SLICE_NULL with
 * *found false. found may be NULL. No copy is made. */
GDA_API gda_slice gda_http_request_header(const gda_http_request *req, const char *name,
                                          bool *found);

/** How many headers are named `name` (case-insensitive). Authentication uses
 * it to refuse ambiguous, repeated credential headers. */
GDA_API size_t gda_http_request_header_count(const gda_http_request *req, const char *name);


/** Most headers a gda_http_response carries. */
#define GDA_RESPONSE_MAX_HEADERS 8
/** Size of a response header name slot, including the NUL. */
#define GDA_RESPONSE_HEADER_NAME_SIZE 48
/** Size of a response header value slot, including the NUL. */
#define GDA_RESPONSE_HEADER_VALUE_SIZE 1024

/** One HTTP response: status, a few fixed-size headers and an owned body.
 * Fill it with the builders of response.h; release it with
 * gda_http_response_release. */
typedef struct gda_http_response {
    int status;          /**< HTTP status */
    gda_status code;     /**< the outcome it carries: GDA_OK, GDA_ACCEPTED, or an error */
    size_t n_headers;    /**< headers in use, from the first */
    /** One header slot (NUL-terminated name and value). */
    struct {
        char name[GDA_RESPONSE_HEADER_NAME_SIZE];   /**< header name */
        char value[GDA_RESPONSE_HEADER_VALUE_SIZE]; /**< header value */
    } headers[GDA_RESPONSE_MAX_HEADERS]; /**< Content-Type is always the first */
    char *body;          /**< heap, owned; NUL-terminated for convenience */
    size_t body_len;     /**< body bytes, not counting the NUL */
} gda_http_response;

/** Set (or replace, matching case-insensitively) a response header.
 * GDA_ERR_INVALID_REQUEST when the name or value is too long or holds CR, LF
 * or NUL (header injection); GDA_ERR_NOMEM never (no allocation). */
GDA_API gda_status gda_http_response_set_header(gda_http_response *resp, const char *name,
                                                const char *value);

/** Value of a response header or NULL. */
GDA_API const char *gda_http_response_header(const gda_http_response *resp, const char *name);

/** Free the body and reset *resp. NULL-safe. */
GDA_API void gda_http_response_release(gda_http_response *resp);

/** Encode resp as the JSON the invoker of `kind` expects, as a new heap string
 * in *out (free() it) of *out_len bytes:
 *   APIGW_REST / ALB: {"statusCode":…,"headers":{…},"body":"…","isBase64Encoded":false}
 *                     (ALB also gets "statusDescription", e.g. "200 OK", and
 *                     "multiValueHeaders" with the same values, because ALB
 *                     reads one or the other depending on its target group's
 *                     multi-value setting)
 *   APIGW_HTTP:       {"statusCode":…,"headers":{…},"body":"…","isBase64Encoded":false}
 *   DIRECT / HTTP:    a copy of the body bytes (status and headers are the
 *                     shim's business), NUL-terminated
 * The body is sent as a JSON string, so it must be UTF-8.
 * Errors: GDA_ERR_INVALID_REQUEST for GDA_EVENT_UNKNOWN or an unknown kind,
 * resp/out/out_len NULL, body NULL with body_len > 0, and for the JSON kinds a
 * status outside 100..599, a body or header value that is not valid UTF-8, or
 * malformed header slots; GDA_ERR_NOMEM. On error *out is NULL. */
GDA_API gda_status gda_event_encode(gda_event_kind kind, const gda_http_response *resp,
                                    char **out, size_t *out_len, gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_EVENT_H */
