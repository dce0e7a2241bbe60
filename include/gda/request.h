/** @file
 * libgda — the Data Action input contract: field spec, strict parse, typed
 * accessors, idempotency key selection and PII redaction.
 *
 * A gda_spec declares the fields a Data Action sends (built by a Velocity
 * template from the action's input contract). gda_request_parse() takes one
 * gda_http_request, applies the global rules (size, media type, UTF-8, NUL,
 * nesting depth, duplicate keys), parses the body exactly once with jansson,
 * checks every declared field and selects the idempotency key. The result is
 * an opaque gda_request with typed accessors.
 *
 * Fields the spec does not declare are allowed (Genesys templates add their
 * own) and are held to the global rules only.
 *
 * Ownership: a gda_spec owns copies of everything added to it. A gda_request
 * owns one reference to its parsed JSON and borrows its spec, which must
 * outlive it. Strings returned by accessors are borrowed from the request.
 *
 * Thread safety: configure a spec from one thread; once configured it is
 * read-only and may be shared by any number of threads parsing at the same
 * time. A gda_request belongs to one thread at a time. gda_limits_default is
 * pure.
 */
#ifndef GDA_REQUEST_H
#define GDA_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <gda/event.h>
#include <gda/export.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- field spec -------------------------------------------------------- */

/** JSON type a declared field must have. */
typedef enum gda_field_type {
    GDA_FIELD_STRING,  /**< a JSON string */
    GDA_FIELD_INTEGER, /**< a JSON number written without fraction or exponent */
    GDA_FIELD_NUMBER,  /**< any JSON number, integer or not */
    GDA_FIELD_BOOLEAN, /**< true or false */
    GDA_FIELD_OBJECT,  /**< a JSON object */
    GDA_FIELD_ARRAY    /**< a JSON array */
} gda_field_type;

/** Formats apply to GDA_FIELD_STRING only. */
typedef enum gda_field_format {
    GDA_FORMAT_NONE,   /**< any string */
    GDA_FORMAT_E164,   /**< "+" then 2-15 digits, the first 1-9: "+15551234567" */
    GDA_FORMAT_UUID,   /**< 8-4-4-4-12 hex digits, either case */
    GDA_FORMAT_RFC3339 /**< full date-time: 2026-11-24T10:00:00.5Z, 2024-02-29T23:59:60+05:30 */
} gda_field_format;

/** One field of the input contract (see gda_spec_add). */
typedef struct gda_field {
    const char *name;        /**< top-level member name, 1..63 bytes of UTF-8 */
    gda_field_type type;     /**< JSON type the value must have */
    bool required;           /**< absent (or JSON null) is an error */
    size_t max_length;       /**< strings only: UTF-8 code points, 0 = no limit */
    gda_field_format format; /**< strings only */
    bool pii;                /**< masked by gda_request_redacted and in logs */
} gda_field;

/** Opaque, ordered set of fields plus the idempotency key source. */
typedef struct gda_spec gda_spec;

/** New empty spec whose idempotency key comes from the field "requestId".
 * Free with gda_spec_free(). NULL when memory runs out. */
GDA_API gda_spec *gda_spec_new(void);

/** New spec holding the reference Genesys contract:
 *   interactionId  string, required, UUID (Genesys conversation ids are UUIDs)
 *   requestId      string, required, at most 256 code points; the idempotency
 *                  key, so required: without it a retry cannot be recognised
 *   queueId        string, optional, UUID
 *   callerId       string, optional, E.164, PII (absent for internal or
 *                  anonymous calls, hence optional)
 *   timestamp      string, optional, RFC 3339 (informational only; replay
 *                  protection does not depend on it)
 * Idempotency key: the field "requestId". NULL when memory runs out. */
GDA_API gda_spec *gda_spec_new_reference(void);

/** Free a spec and everything it owns. NULL-safe. Requests parsed with it
 * must be freed first. */
GDA_API void gda_spec_free(gda_spec *spec);

/** Append a copy of *field (the name is copied too).
 * Errors: GDA_ERR_CONFIG when the name is NULL, empty, longer than 63 bytes
 * (so it always fits gda_error.field), not UTF-8, holds control characters
 * or is already declared, when type or format is out of range, or when
 * a format or max_length is given for a non-string type; GDA_ERR_NOMEM.
 * Pointers from gda_spec_field_at / gda_spec_find stay valid until the next
 * gda_spec_add or gda_spec_free. */
GDA_API gda_status gda_spec_add(gda_spec *spec, const gda_field *field, gda_error *err);

/** Number of declared fields (0 for NULL). */
GDA_API size_t gda_spec_count(const gda_spec *spec);

/** Field number i in declaration order (borrowed), NULL when out of range. */
GDA_API const gda_field *gda_spec_field_at(const gda_spec *spec, size_t i);

/** Field declared as `name` (exact, case-sensitive match), or NULL. */
GDA_API const gda_field *gda_spec_find(const gda_spec *spec, const char *name);

/** Where the idempotency key comes from. In every case the key must be a
 * non-empty string of at most GDA_KEY_MAX bytes (store.h) holding no control
 * characters (U+0000-U+001F, U+007F-U+009F). */
typedef enum gda_key_source {
    GDA_KEY_FROM_FIELD,   /**< a top-level member (default "requestId") */
    GDA_KEY_FROM_POINTER, /**< an RFC 6901 JSON pointer into the body */
    GDA_KEY_FROM_HEADER   /**< an HTTP header (default "Idempotency-Key") */
} gda_key_source;

/** Key from the top-level member `name` (copied). GDA_ERR_CONFIG for an empty
 * or non-UTF-8 name, GDA_ERR_NOMEM. On error the previous source stays. */
GDA_API gda_status gda_spec_set_idempotency_field(gda_spec *spec, const char *name,
                                                  gda_error *err);

/** Key from the JSON pointer `pointer` (RFC 6901, e.g. "/meta/id"; "~1" stands
 * for "/" and "~0" for "~"; array indexes allowed). Copied and pre-split.
 * GDA_ERR_CONFIG when it does not start with "/" (the empty pointer names the
 * whole body, which is never a string), has a "~" not followed by 0 or 1, is
 * not UTF-8 or is longer than 1024 bytes; GDA_ERR_NOMEM. */
GDA_API gda_status gda_spec_set_idempotency_pointer(gda_spec *spec, const char *pointer,
                                                    gda_error *err);

/** Key from the request header `header` (NULL = "Idempotency-Key"), matched
 * case-insensitively. A header that appears more than once is refused as
 * ambiguous. Direct invocations have no headers, so this source makes them
 * fail. GDA_ERR_CONFIG for an empty name or one with characters outside
 * HTTP's token set; GDA_ERR_NOMEM. */
GDA_API gda_status gda_spec_set_idempotency_header(gda_spec *spec, const char *header,
                                                   gda_error *err);

/** The key source, and in *name (if not NULL) the borrowed field name,
 * pointer text or header name. */
GDA_API gda_key_source gda_spec_idempotency_source(const gda_spec *spec, const char **name);

/* ---- limits ------------------------------------------------------------ */

/** Default largest body in bytes (256 KiB); larger ones get 413 before parsing. */
#define GDA_DEFAULT_MAX_BODY ((size_t)256 * 1024)
#define GDA_DEFAULT_MAX_DEPTH 50 /**< Genesys' own JSON nesting limit */

/** Global limits every request is held to before its fields are checked. */
typedef struct gda_limits {
    size_t max_body; /**< bytes; 0 means GDA_DEFAULT_MAX_BODY */
    int max_depth;   /**< nested objects/arrays, the top level counting as 1;
                        0 means GDA_DEFAULT_MAX_DEPTH, negative is invalid */
} gda_limits;

/** {GDA_DEFAULT_MAX_BODY, GDA_DEFAULT_MAX_DEPTH}. */
GDA_API gda_limits gda_limits_default(void);

/* ---- parse ------------------------------------------------------------- */

/** Opaque parsed and validated request. */
typedef struct gda_request gda_request;

/** Parse and validate http's body against spec, checking in this order and
 * stopping at the first failure:
 *   1. body longer than limits->max_body      GDA_ERR_PAYLOAD_TOO_LARGE,
 *      before anything else is looked at
 *   2. Content-Type (all kinds but GDA_EVENT_DIRECT, which has no headers)
 *      not application/json, a charset other than utf-8, malformed, missing
 *      or repeated                            GDA_ERR_UNSUPPORTED_MEDIA_TYPE
 *   3. empty body, NUL byte, invalid UTF-8 (overlong, surrogate, above
 *      U+10FFFF, truncated), nesting deeper than limits->max_depth, not
 *      JSON, a duplicate key, a `\u0000` escape, an integer beyond 64 bits, a
 *      top level that is not an object      GDA_ERR_INVALID_JSON (the
 *      message names the problem and, for byte-level ones, the offset)
 *   4. each declared field: required but missing or null, wrong type, string
 *      longer than max_length code points, wrong format
 *                                             GDA_ERR_INVALID_FIELD with
 *      err->field set to the field name
 *   5. the idempotency key missing, not a string, empty, longer than
 *      GDA_KEY_MAX bytes or holding control characters
 *                                             GDA_ERR_INVALID_FIELD with
 *      err->field naming the field, pointer or header
 * For GDA_EVENT_DIRECT with http->body_json set, the already-parsed JSON is
 * used as is (no second parse): its serialized size when body is empty, its
 * depth, its strings and the field rules are checked, and the request takes
 * its own reference to it.
 * limits may be NULL (defaults); a negative max_depth is GDA_ERR_CONFIG.
 * NULL spec/http/out, or a body slice with a NULL pointer and a non-zero
 * length, is GDA_ERR_INTERNAL. Out of memory is GDA_ERR_NOMEM.
 * Messages never contain a field's value (it may be PII).
 * On success *out is a new request to free with gda_request_free(); on
 * failure *out is NULL. The spec must outlive the request; http need not. */
GDA_API gda_status gda_request_parse(const gda_spec *spec, const gda_http_request *http,
                                     const gda_limits *limits, gda_request **out,
                                     gda_error *err);

/** Free a request. NULL-safe. */
GDA_API void gda_request_free(gda_request *req);

/** The parsed body, a JSON object (borrowed; json_incref it to keep it). */
GDA_API const json_t *gda_request_json(const gda_request *req);

/** The spec the request was validated against (borrowed). */
GDA_API const gda_spec *gda_request_spec(const gda_request *req);

/** The idempotency key (borrowed, NUL-terminated, never NULL for a parsed
 * request). */
GDA_API const char *gda_request_idempotency_key(const gda_request *req);

/** Top-level member `name` as a string (borrowed), or NULL when absent or
 * not a string. */
GDA_API const char *gda_request_string(const gda_request *req, const char *name);

/** Top-level member `name` as an integer: true and *out set when it is a JSON
 * integer, false (and *out untouched) otherwise. */
GDA_API bool gda_request_int(const gda_request *req, const char *name, int64_t *out);

/** Top-level member `name` as a double: true when it is any JSON number. */
GDA_API bool gda_request_number(const gda_request *req, const char *name, double *out);

/** Top-level member `name` as a boolean: true when it is true or false. */
GDA_API bool gda_request_bool(const gda_request *req, const char *name, bool *out);

/** New deep copy of the request's JSON in which every top-level member whose
 * field is declared pii is masked: "+" and 11 to 15 digits (an E.164 number
 * long enough that 7 digits stay hidden) keeps only its last 4
 * ("+15551234567" -> "***4567"); any other string, shorter numbers and
 * non-string values become "***". Nothing else of the value, not even its
 * length, is revealed; the logger masks PII fields by the same rule. The
 * caller owns the copy (json_decref). NULL when memory runs out. */
GDA_API json_t *gda_request_redacted(const gda_request *req);

#ifdef __cplusplus
}
#endif

#endif /* GDA_REQUEST_H */
