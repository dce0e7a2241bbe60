/** @file
 * libgda — status codes and error reports.
 *
 * Every fallible call returns a gda_status and, when the caller passes one,
 * fills a gda_error (like jansson's json_error_t) with the code, the input
 * field at fault (may be empty) and a human message that never contains
 * secret material or PII.
 *
 * Thread safety: all functions here are pure; a gda_error must not be shared
 * between threads while being written.
 */
#ifndef GDA_STATUS_H
#define GDA_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include <gda/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Outcome of every fallible libgda call, and the HTTP status it maps to.
 * Stable numeric values: they may be logged and compared across versions. */
typedef enum gda_status {
    GDA_OK = 0,                       /**< 200 completed */
    GDA_ACCEPTED = 1,                 /**< 202 accepted, poll for the result */

    GDA_ERR_INVALID_REQUEST = 10,     /**< 400 malformed request (generic) */
    GDA_ERR_INVALID_JSON = 11,        /**< 400 not JSON, bad UTF-8, NUL, duplicate key, too deep */
    GDA_ERR_INVALID_FIELD = 12,       /**< 400 a field is missing, of the wrong type or format */
    GDA_ERR_UNKNOWN_EVENT = 13,       /**< 400 a Lambda event of no supported shape */
    GDA_ERR_UNAUTHORIZED = 20,        /**< 401 missing or wrong credentials (always generic) */
    GDA_ERR_FORBIDDEN = 21,           /**< 403 authenticated but not allowed */
    GDA_ERR_NOT_FOUND = 22,           /**< 404 no such route or record */
    GDA_ERR_METHOD_NOT_ALLOWED = 23,  /**< 405 */
    GDA_ERR_IN_PROGRESS = 30,         /**< 409 same key still running (policy "conflict") */
    GDA_ERR_PAYLOAD_TOO_LARGE = 31,   /**< 413 body over the limit, rejected before parsing */
    GDA_ERR_UNSUPPORTED_MEDIA_TYPE = 32, /**< 415 */
    GDA_ERR_PAYLOAD_MISMATCH = 33,    /**< 422 idempotency key reused with another payload */
    GDA_ERR_UNPROCESSABLE = 34,       /**< 422 a business rule refused the request */
    GDA_ERR_RATE_LIMITED = 35,        /**< 429 */
    GDA_ERR_KEY_CONFLICT = 36,        /**< 409 the key belongs to another caller's request */
    GDA_ERR_LEASE_LOST = 37,          /**< 409 the execution's lease is gone: taken over,
                                       * finished with another result, or expired */
    GDA_ERR_RESULT_TOO_LARGE = 38,    /**< 422 the result is larger than the store can cache */

    GDA_ERR_INTERNAL = 50,            /**< 500 a bug or an unexpected failure */
    GDA_ERR_NOMEM = 51,               /**< 500 allocation failed */
    GDA_ERR_CONFIG = 52,              /**< 500 invalid configuration */
    GDA_ERR_INTEGRITY = 53,           /**< 500 a stored record failed authentication */
    GDA_ERR_UNAVAILABLE = 60,         /**< 503 a dependency is down; retry */
    GDA_ERR_STORE = 61,               /**< 503 the idempotency store failed; retry */
    GDA_ERR_BUSY = 62,                /**< 503 same key still running (policy "retry") */
    GDA_ERR_TIMEOUT = 63              /**< 504 the deadline passed */
} gda_status;

/** Size of gda_error.field, including the NUL. */
#define GDA_ERROR_FIELD_SIZE 64
/** Size of gda_error.message, including the NUL. */
#define GDA_ERROR_MESSAGE_SIZE 200

/** What went wrong: filled by every call that takes a gda_error *. */
typedef struct gda_error {
    gda_status code; /**< the status the call returned */
    char field[GDA_ERROR_FIELD_SIZE];     /**< offending input field, "" if none */
    char message[GDA_ERROR_MESSAGE_SIZE]; /**< safe to show the caller */
} gda_error;

/** Short stable snake_case name of a code, used as "error.code" in responses
 * (e.g. "invalid_field"). Never NULL; unknown values give "unknown". */
GDA_API const char *gda_status_str(gda_status code);

/** True for a value that is one of the codes above (gda_status_str gives
 * "unknown" for any other). */
GDA_API bool gda_status_known(gda_status code);

/** HTTP status a code maps to (200, 202, 400, ... 504). */
GDA_API int gda_status_http(gda_status code);

/** True when the caller should retry: Genesys retries 5xx and timeouts and
 * never 4xx, so this is exactly "gda_status_http(code) >= 500". */
GDA_API bool gda_status_retryable(gda_status code);

/** Fill err (if not NULL) with code, field (NULL for none) and a printf-style
 * message; both are truncated to fit. Returns code so callers can write
 * `return gda_error_set(err, GDA_ERR_INVALID_FIELD, "callerId", "...");`. */
GDA_API gda_status gda_error_set(gda_error *err, gda_status code, const char *field,
                                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/** Reset err (if not NULL) to GDA_OK with empty field and message. */
GDA_API void gda_error_clear(gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_STATUS_H */
