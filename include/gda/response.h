/** @file
 * libgda — builders for the Genesys response contract.
 *
 * A Data Action's translation map reads the response by JSONPath ($.status,
 * $.data, $.requiresRetry), so every body here has a fixed shape:
 *
 * @verbatim
 *   200 {"status":"completed","data":{…},"requiresRetry":false,
 *        "processedAt":"2026-11-24T10:00:00.123Z","requestId":"…"}
 *   202 {"status":"accepted","requestId":"…","pollUrl":"…","requiresRetry":false,
 *        "acceptedAt":"2026-11-24T10:00:00.123Z"}          + Location: <pollUrl>
 *   4xx/5xx {"status":"error","error":{"code":"…","message":"…","field":"…"},
 *        "requiresRetry":<5xx>,"requestId":"…"}            + Retry-After on 429/503
 * @endverbatim
 *
 * Keys appear in exactly that order, compact (no whitespace), UTF-8 (JSON
 * text is UTF-8 by definition, so non-ASCII is not `\u`-escaped). The same
 * inputs always give the same bytes: cached bodies are replayed byte-for-byte
 * and a retry must not be able to tell a replay from the first answer.
 *
 * Every builder fills a gda_http_response (include/gda/event.h):
 *   - *out must be zero-initialised (`gda_http_response r = {0};`) or hold a
 *     response from an earlier builder or gda_event_* call: its body is freed
 *     and its headers dropped, so reusing one response in a loop does not
 *     leak. Never pass uninitialised memory.
 *   - On success: status, code, body (heap, NUL-terminated, owned by *out;
 *     free it with gda_http_response_release) and body_len are set, and
 *     Content-Type (GDA_RESPONSE_CONTENT_TYPE) is always the first header.
 *   - On failure *out is left released (empty) and err says why.
 * Inputs are only read; they may alias *out's previous contents (e.g. replay
 * out->body into out).
 *
 * Secrets and internals never reach a body: a 401 always says only
 * "authentication required" and carries no field (so a caller cannot tell
 * which part of its credential failed), and every 5xx carries a fixed message
 * per code — the detailed message belongs in the log, not on the wire. 4xx
 * validation messages pass through: the request module names the field,
 * never its value.
 *
 * No clock is read: timestamps come in as epoch milliseconds.
 *
 * Thread safety: every function is reentrant and keeps no global state; a
 * response or json_t must not be shared between threads while being written.
 */
#ifndef GDA_RESPONSE_H
#define GDA_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <gda/event.h>
#include <gda/export.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The Content-Type of every body built here. RFC 8259 makes JSON UTF-8 and
 * defines no charset parameter for application/json, so none is sent. */
#define GDA_RESPONSE_CONTENT_TYPE "application/json"

/** Latest now_ms the success builders accept: 9999-12-31T23:59:59.999Z, the
 * last instant with a four-digit year as RFC 3339 requires. Times are written
 * in UTC with milliseconds, "2026-11-24T10:00:00.123Z". */
#define GDA_TIMESTAMP_MAX_MS INT64_C(253402300799999)

/** Deepest container nesting gda_json_flatten accepts, as Genesys' own limit. */
#define GDA_JSON_FLATTEN_MAX_DEPTH 50

/** Retry-After (seconds) sent on 429/503 when the caller passes <= 0. */
#define GDA_RESPONSE_DEFAULT_RETRY_AFTER_S 1


/** 200 completed: {"status":"completed","data":DATA,"requiresRetry":false,
 * "processedAt":TIME,"requestId":ID}.
 * data: borrowed, a JSON object (NULL is written as {}); serialised compact in
 * its own key order. request_id: borrowed, NUL-terminated; NULL or "" omits
 * the "requestId" member. now_ms: the processing time, epoch ms in
 * [0, GDA_TIMESTAMP_MAX_MS]. out->code is GDA_OK.
 * Errors:
 *   GDA_ERR_INTERNAL       out NULL, now_ms out of range, data not an object
 *                          (field "data"), or data not serialisable
 *   GDA_ERR_INVALID_FIELD  request_id is not valid UTF-8 (field "requestId")
 *   GDA_ERR_NOMEM */
GDA_API gda_status gda_response_completed(gda_http_response *out, const json_t *data,
                                          const char *request_id, int64_t now_ms,
                                          gda_error *err);

/** 202 accepted: {"status":"accepted","requestId":ID,"pollUrl":URL,
 * "requiresRetry":false,"acceptedAt":TIME} plus a "Location: URL" header.
 * request_id: required, non-empty, valid UTF-8. poll_url: required, 1 to
 * GDA_RESPONSE_HEADER_VALUE_SIZE - 1 bytes of printable ASCII without spaces
 * (a URI reference; anything else, CR and LF above all, could split the
 * header). out->code is GDA_ACCEPTED.
 * Errors:
 *   GDA_ERR_INTERNAL         out, request_id or poll_url NULL, now_ms out of
 *                            range
 *   GDA_ERR_INVALID_FIELD    request_id empty or not UTF-8 ("requestId")
 *   GDA_ERR_INVALID_REQUEST  poll_url empty, too long, or holding a
 *                            control character, space or non-ASCII byte
 *                            (field "pollUrl")
 *   GDA_ERR_NOMEM */
GDA_API gda_status gda_response_accepted(gda_http_response *out, const char *request_id,
                                         const char *poll_url, int64_t now_ms,
                                         gda_error *err);

/** An error response for error->code: HTTP status gda_status_http(code) and
 * {"status":"error","error":{"code":gda_status_str(code),"message":MSG
 * [,"field":FIELD]},"requiresRetry":gda_status_retryable(code)
 * [,"requestId":ID]}.
 * MSG and FIELD:
 *   - GDA_ERR_UNAUTHORIZED: always "authentication required", never a field;
 *   - any 5xx code: a fixed message for the code, never a field;
 *   - any other code: error->message and error->field as given; an empty
 *     message is replaced by the code's fixed message. A message cut inside
 *     a UTF-8 character (gda_error_set truncates) loses that last character;
 *     a message that is otherwise not UTF-8 is replaced by the fixed one.
 *     The field follows the same rules, except that an empty or non-UTF-8
 *     field is left out.
 * request_id: borrowed; omitted when NULL, empty or not valid UTF-8 (an
 * error response must still go out when the id itself was the problem).
 * retry_after_s: the Retry-After header, sent on 429 and 503 only; <= 0
 * means GDA_RESPONSE_DEFAULT_RETRY_AFTER_S. out->code is error->code.
 * Errors (err is a different object from error; they may not alias):
 *   GDA_ERR_INTERNAL  out or error NULL, or error->code is GDA_OK,
 *                     GDA_ACCEPTED or not a gda_status value (a caller bug:
 *                     build an error for GDA_ERR_INTERNAL instead)
 *   GDA_ERR_NOMEM */
GDA_API gda_status gda_response_error(gda_http_response *out, const gda_error *error,
                                      const char *request_id, int retry_after_s,
                                      gda_error *err);

/** Rebuild a response from a cached HTTP status and body (an idempotent
 * replay): the body is copied byte-for-byte (plus a NUL after body_len, not
 * counted), Content-Type is set, and Retry-After (retry_after_s, <= 0 means
 * the default) when http_status is 429 or 503. body may be NULL only when
 * body_len is 0. out->code is the representative code of the status (200
 * GDA_OK, 202 GDA_ACCEPTED, 400 GDA_ERR_INVALID_REQUEST, 401 UNAUTHORIZED,
 * 403 FORBIDDEN, 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED, 409 IN_PROGRESS,
 * 413 PAYLOAD_TOO_LARGE, 415 UNSUPPORTED_MEDIA_TYPE, 422 UNPROCESSABLE,
 * 429 RATE_LIMITED, 500 INTERNAL, 503 UNAVAILABLE, 504 TIMEOUT).
 * Errors:
 *   GDA_ERR_INTERNAL  out NULL, body NULL with body_len > 0, or an HTTP
 *                     status outside that list (a corrupt or foreign
 *                     record; field "status")
 *   GDA_ERR_NOMEM     including body_len too large to copy */
GDA_API gda_status gda_response_replay(gda_http_response *out, int http_status,
                                       const void *body, size_t body_len, int retry_after_s,
                                       gda_error *err);

/** Flatten a JSON object for output contracts that want flat primitives:
 * nested objects and arrays become one level of keys joined by separator
 * (NULL means "."), arrays by index: {"a":{"b":1},"items":[{"name":"x"}]}
 * gives {"a.b":1,"items.0.name":"x"}. Leaves (strings, numbers, booleans,
 * null) are copied; an empty object or array has no leaves and so adds no
 * key. Keys keep the input's order (depth first).
 * Returns a new reference (json_decref it), or NULL with err set:
 *   GDA_ERR_INTERNAL       data is NULL (field "data")
 *   GDA_ERR_INVALID_FIELD  data is not an object (field "data"), two
 *                          members flatten to the same key, e.g.
 *                          {"a.b":1,"a":{"b":2}} (field: that key, cut to
 *                          fit), or a key holds a NUL byte
 *   GDA_ERR_INVALID_JSON   containers nest deeper than
 *                          GDA_JSON_FLATTEN_MAX_DEPTH (the top object is 1)
 *   GDA_ERR_CONFIG         separator is empty or not valid UTF-8
 *   GDA_ERR_NOMEM */
GDA_API json_t *gda_json_flatten(const json_t *data, const char *separator, gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_RESPONSE_H */
