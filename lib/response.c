/* libgda — builders for the Genesys response contract
 * (see include/gda/response.h). */
#include <gda/response.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_writer.h"
#include "response_internal.h"
#include "rfc3339.h"
#include "utf8.h"

static int buf_dump_callback(const char *chunk, size_t size, void *data)
{
    gda_buf *b = data;
    return gda_buf_append(b, chunk, size) ? 0 : -1;
}

/* A JSON string literal of s (valid UTF-8, n bytes): only what JSON
 * requires is escaped, with lower-case \u00xx, so the output depends on
 * nothing but s. */
static void put_string(gda_buf *b, const char *s, size_t n)
{
    gda_json_string(b, s, n, GDA_HEX_LOWER);
}

_Static_assert(GDA_TIMESTAMP_MAX_MS == GDA_RFC3339_MAX_MS, "one timestamp range");

/* ---- installing a built body into the response ----------------------------- */

/* Hand body (body_len bytes, heap) to *out (released first) with its
 * status, code and Content-Type. Cannot fail. */
static void install(gda_http_response *out, char *body, size_t body_len, int http_status,
                    gda_status code)
{
    gda_http_response_release(out);
    out->status = http_status;
    out->code = code;
    out->body = body;
    out->body_len = body_len;
    /* A fresh response has room and the constant is short and clean. */
    (void)gda_http_response_set_header(out, "Content-Type", GDA_RESPONSE_CONTENT_TYPE);
}

static gda_status set_retry_after(gda_http_response *out, int retry_after_s, gda_error *err)
{
    char value[16];
    int secs = retry_after_s > 0 ? retry_after_s : GDA_RESPONSE_DEFAULT_RETRY_AFTER_S;
    snprintf(value, sizeof value, "%d", secs);
    if (gda_http_response_set_header(out, "Retry-After", value) != GDA_OK) {
        gda_http_response_release(out);
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "could not set Retry-After");
    }
    return GDA_OK;
}

static bool wants_retry_after(int http_status)
{
    return http_status == 429 || http_status == 503;
}

static gda_status fail(gda_http_response *out, gda_buf *b, gda_status code, gda_error *err,
                       const char *field, const char *message)
{
    gda_buf_free(b);
    gda_http_response_release(out);
    return gda_error_set(err, code, field, "%s", message);
}

static gda_status out_of_memory(gda_http_response *out, gda_buf *b, gda_error *err)
{
    return fail(out, b, GDA_ERR_NOMEM, err, NULL, "out of memory building the response");
}

/* Install b as the response (b is emptied), adding Retry-After where the
 * status calls for one; b running out of memory earlier is reported here. */
static gda_status finish(gda_http_response *out, gda_buf *b, int http_status, gda_status code,
                         int retry_after_s, gda_error *err)
{
    size_t len = 0;
    char *body = b->failed ? NULL : gda_buf_steal(b, &len);
    if (!body)
        return out_of_memory(out, b, err);
    install(out, body, len, http_status, code);
    if (wants_retry_after(http_status))
        return set_retry_after(out, retry_after_s, err);
    return GDA_OK;
}

/* A success body under way: the buffer, the requestId (id_len bytes, may
 * be 0) and the formatted time. */
typedef struct success_body {
    gda_buf b;
    size_t id_len;
    char when[GDA_RFC3339_LEN + 1];
} success_body;

/* What a builder found wrong with its own arguments. */
typedef struct arg_problem {
    gda_status code;
    const char *field;
    const char *message;
} arg_problem;

/* Start a success body "{"status":"STATUS"" after the checks both builders
 * make, in order: a response to fill, a requestId that is present when
 * required, the builder's own problem (NULL: none), a requestId that is
 * valid UTF-8 and a time that can be written. On failure *out is released
 * and *sb holds nothing. */
static gda_status success_begin(success_body *sb, gda_http_response *out, const char *status,
                                const char *request_id, bool id_required,
                                const arg_problem *problem, int64_t now_ms, gda_error *err)
{
    sb->b = (gda_buf)GDA_BUF_INIT;
    sb->id_len = request_id ? strlen(request_id) : 0;
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no response to fill");
    if (id_required && !request_id)
        return fail(out, &sb->b, GDA_ERR_INTERNAL, err, "requestId", "no requestId given");
    if (id_required && sb->id_len == 0)
        return fail(out, &sb->b, GDA_ERR_INVALID_FIELD, err, "requestId",
                    "an accepted response needs a requestId");
    if (problem)
        return fail(out, &sb->b, problem->code, err, problem->field, problem->message);
    if (!gda_utf8_valid(request_id ? request_id : "", sb->id_len))
        return fail(out, &sb->b, GDA_ERR_INVALID_FIELD, err, "requestId",
                    "requestId is not valid UTF-8");
    if (!gda_rfc3339_format_ms(now_ms, sb->when))
        return fail(out, &sb->b, GDA_ERR_INTERNAL, err, NULL,
                    "time is outside 1970-01-01..9999-12-31");
    gda_buf_append_str(&sb->b, "{\"status\":\"");
    gda_buf_append_str(&sb->b, status);
    gda_buf_append_str(&sb->b, "\"");
    return GDA_OK;
}

/* ---- 200 completed ------------------------------------------------------- */

gda_status gda_response_completed(gda_http_response *out, const json_t *data,
                                  const char *request_id, int64_t now_ms, gda_error *err)
{
    static const arg_problem not_object = {GDA_ERR_INTERNAL, "data", "data must be a JSON object"};
    success_body sb;
    gda_buf *b = &sb.b;
    gda_status st = success_begin(&sb, out, "completed", request_id, false,
                                  data && !json_is_object(data) ? &not_object : NULL, now_ms, err);
    if (st != GDA_OK)
        return st;
    gda_buf_append_str(b, ",\"data\":");
    if (data) {
        if (json_dump_callback(data, buf_dump_callback, b, JSON_COMPACT) != 0) {
            if (b->failed)
                return out_of_memory(out, b, err);
            /* jansson refuses only self-containing values here. */
            return fail(out, b, GDA_ERR_INTERNAL, err, "data", "data cannot be serialised");
        }
    } else {
        gda_buf_append_str(b, "{}");
    }
    gda_buf_append_str(b, ",\"requiresRetry\":false,\"processedAt\":\"");
    gda_buf_append_str(b, sb.when);
    gda_buf_append_str(b, "\"");
    if (sb.id_len) {
        gda_buf_append_str(b, ",\"requestId\":");
        put_string(b, request_id, sb.id_len);
    }
    gda_buf_append_str(b, "}");
    return finish(out, b, 200, GDA_OK, 0, err);
}

/* ---- 202 accepted -------------------------------------------------------- */

/* A URI reference fit for a Location header: printable ASCII, no space. */
static bool poll_url_ok(const char *url)
{
    size_t n = strlen(url);
    if (n == 0 || n >= GDA_RESPONSE_HEADER_VALUE_SIZE)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7F)
            return false;
    }
    return true;
}

gda_status gda_response_accepted(gda_http_response *out, const char *request_id,
                                 const char *poll_url, int64_t now_ms, gda_error *err)
{
    static const arg_problem bad_url = {
        GDA_ERR_INVALID_REQUEST, "pollUrl",
        "pollUrl must be 1-255 printable ASCII characters without spaces"};
    static const arg_problem no_url = {GDA_ERR_INTERNAL, "pollUrl", "no pollUrl given"};
    const arg_problem *problem = !poll_url ? &no_url : poll_url_ok(poll_url) ? NULL : &bad_url;
    success_body sb;
    gda_status st = success_begin(&sb, out, "accepted", request_id, true, problem, now_ms, err);
    if (st != GDA_OK)
        return st;
    gda_buf *b = &sb.b;
    gda_buf_append_str(b, ",\"requestId\":");
    put_string(b, request_id, sb.id_len);
    gda_buf_append_str(b, ",\"pollUrl\":");
    put_string(b, poll_url, strlen(poll_url));
    gda_buf_append_str(b, ",\"requiresRetry\":false,\"acceptedAt\":\"");
    gda_buf_append_str(b, sb.when);
    gda_buf_append_str(b, "\"}");
    st = finish(out, b, 202, GDA_ACCEPTED, 0, err);
    if (st != GDA_OK)
        return st;
    if (gda_http_response_set_header(out, "Location", poll_url) != GDA_OK) {
        gda_http_response_release(out);
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "could not set Location");
    }
    return GDA_OK;
}

/* ---- errors -------------------------------------------------------------- */

/* The message sent when the error's own must not or cannot be; NULL for a
 * value that is not an error code. No default case: -Wswitch flags a new
 * code added to status.h without a message here. */
static const char *fixed_message(gda_status code)
{
    switch (code) {
    case GDA_OK:
    case GDA_ACCEPTED:
        return NULL;
    case GDA_ERR_INVALID_REQUEST: return "invalid request";
    case GDA_ERR_INVALID_JSON: return "the body is not valid JSON";
    case GDA_ERR_INVALID_FIELD: return "a field is missing or invalid";
    case GDA_ERR_UNKNOWN_EVENT: return "unsupported event";
    case GDA_ERR_UNAUTHORIZED: return "authentication required";
    case GDA_ERR_FORBIDDEN: return "forbidden";
    case GDA_ERR_NOT_FOUND: return "not found";
    case GDA_ERR_METHOD_NOT_ALLOWED: return "method not allowed";
    case GDA_ERR_IN_PROGRESS: return "a request with this id is still being processed";
    case GDA_ERR_PAYLOAD_TOO_LARGE: return "payload too large";
    case GDA_ERR_UNSUPPORTED_MEDIA_TYPE: return "unsupported media type";
    case GDA_ERR_PAYLOAD_MISMATCH:
        return "this request id was already used with a different payload";
    case GDA_ERR_UNPROCESSABLE: return "the request could not be processed";
    case GDA_ERR_RATE_LIMITED: return "too many requests, retry later";
    case GDA_ERR_KEY_CONFLICT: return "this request id is already in use";
    case GDA_ERR_LEASE_LOST: return "the request's execution lost its lease";
    case GDA_ERR_RESULT_TOO_LARGE: return "the result is too large to keep";
    case GDA_ERR_INTERNAL:
    case GDA_ERR_NOMEM:
    case GDA_ERR_CONFIG:
    case GDA_ERR_INTEGRITY:
        return "internal error";
    case GDA_ERR_UNAVAILABLE:
    case GDA_ERR_STORE:
        return "service temporarily unavailable, retry later";
    case GDA_ERR_BUSY: return "a request with this id is still being processed, retry later";
    case GDA_ERR_TIMEOUT: return "the request timed out, retry later";
    }
    return NULL;
}

/* Bytes of text (NUL-terminated within cap bytes) safe to put on the wire:
 * all of it when valid UTF-8, all but a last character cut short, or
 * SIZE_MAX when it is not UTF-8 at all. */
static size_t sendable_length(const char *text, size_t cap)
{
    size_t n = strnlen(text, cap);
    size_t valid = gda_utf8_valid_prefix(text, n);
    if (valid == n || gda_utf8_cut_character(text + valid, n - valid))
        return valid;
    return SIZE_MAX;
}

bool gda_response_error_sent(const gda_error *error, gda_error *sent)
{
    gda_error_clear(sent);
    const char *fixed = fixed_message(error->code);
    if (!fixed)
        return false;
    sent->code = error->code;
    /* 401 must not hint which part of a credential failed; 5xx messages
     * describe our internals. Both get the fixed text and no field. */
    bool pass_through = error->code != GDA_ERR_UNAUTHORIZED && gda_status_http(error->code) < 500;
    size_t n = pass_through ? sendable_length(error->message, sizeof error->message) : 0;
    if (n != SIZE_MAX && n > 0)
        snprintf(sent->message, sizeof sent->message, "%.*s", (int)n, error->message);
    else
        snprintf(sent->message, sizeof sent->message, "%s", fixed);
    n = pass_through ? sendable_length(error->field, sizeof error->field) : 0;
    if (n != SIZE_MAX && n > 0)
        snprintf(sent->field, sizeof sent->field, "%.*s", (int)n, error->field);
    return true;
}

gda_status gda_response_error(gda_http_response *out, const gda_error *error,
                              const char *request_id, int retry_after_s, gda_error *err)
{
    gda_buf none = GDA_BUF_INIT;
    gda_error sent;
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no response to fill");
    if (!error)
        return fail(out, &none, GDA_ERR_INTERNAL, err, NULL, "no error to report");
    if (!gda_response_error_sent(error, &sent))
        return fail(out, &none, GDA_ERR_INTERNAL, err, NULL,
                    "an error response needs an error code");
    return gda_response_error_of_sent(out, &sent, request_id, retry_after_s, err);
}

gda_status gda_response_error_of_sent(gda_http_response *out, const gda_error *sent,
                                      const char *request_id, int retry_after_s, gda_error *err)
{
    gda_buf b = GDA_BUF_INIT;
    size_t id_len = request_id ? strlen(request_id) : 0;
    if (id_len && !gda_utf8_valid(request_id, id_len))
        id_len = 0;

    const char *code_name = gda_status_str(sent->code);
    gda_buf_append_str(&b, "{\"status\":\"error\",\"error\":{\"code\":");
    put_string(&b, code_name, strlen(code_name));
    gda_buf_append_str(&b, ",\"message\":");
    put_string(&b, sent->message, strlen(sent->message));
    if (sent->field[0]) {
        gda_buf_append_str(&b, ",\"field\":");
        put_string(&b, sent->field, strlen(sent->field));
    }
    gda_buf_append_str(&b, gda_status_retryable(sent->code) ? "},\"requiresRetry\":true"
                                                  : "},\"requiresRetry\":false");
    if (id_len) {
        gda_buf_append_str(&b, ",\"requestId\":");
        put_string(&b, request_id, id_len);
    }
    gda_buf_append_str(&b, "}");
    return finish(out, &b, gda_status_http(sent->code), sent->code, retry_after_s, err);
}

/* ---- replay -------------------------------------------------------------- */

static bool replay_code(int http_status, gda_status *code)
{
    switch (http_status) {
    case 200: *code = GDA_OK; return true;
    case 202: *code = GDA_ACCEPTED; return true;
    case 400: *code = GDA_ERR_INVALID_REQUEST; return true;
    case 401: *code = GDA_ERR_UNAUTHORIZED; return true;
    case 403: *code = GDA_ERR_FORBIDDEN; return true;
    case 404: *code = GDA_ERR_NOT_FOUND; return true;
    case 405: *code = GDA_ERR_METHOD_NOT_ALLOWED; return true;
    case 409: *code = GDA_ERR_IN_PROGRESS; return true;
    case 413: *code = GDA_ERR_PAYLOAD_TOO_LARGE; return true;
    case 415: *code = GDA_ERR_UNSUPPORTED_MEDIA_TYPE; return true;
    case 422: *code = GDA_ERR_UNPROCESSABLE; return true;
    case 429: *code = GDA_ERR_RATE_LIMITED; return true;
    case 500: *code = GDA_ERR_INTERNAL; return true;
    case 503: *code = GDA_ERR_UNAVAILABLE; return true;
    case 504: *code = GDA_ERR_TIMEOUT; return true;
    default: return false;
    }
}

gda_status gda_response_replay(gda_http_response *out, int http_status, const void *body,
                               size_t body_len, int retry_after_s, gda_error *err)
{
    gda_buf b = GDA_BUF_INIT;
    gda_status code;
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no response to fill");
    if (!body && body_len > 0)
        return fail(out, &b, GDA_ERR_INTERNAL, err, "body", "cached body is missing");
    if (!replay_code(http_status, &code))
        return fail(out, &b, GDA_ERR_INTERNAL, err, "status",
                    "cached HTTP status is not one this library produces");
    /* Copied before out is released: body may be out's own old body. Even
     * an empty body gets a buffer, so the response's body is never NULL. */
    gda_buf_append(&b, body, body_len);
    return finish(out, &b, http_status, code, retry_after_s, err);
}

/* ---- flattening ---------------------------------------------------------- */

typedef struct flattener {
    json_t *out;
    const char *sep;
    size_t sep_len;
    gda_buf path; /* the flattened key being built */
    gda_error *err;
} flattener;

static gda_status flatten_member(flattener *f, const json_t *value, bool at_top,
                                 const char *key, size_t key_len, int depth);

/* Flatten the members of container (an object or array) at nesting depth
 * `depth` (the top object is 1), under the current path. */
static gda_status flatten_container(flattener *f, const json_t *container, bool at_top,
                                    int depth)
{
    if (depth > GDA_JSON_FLATTEN_MAX_DEPTH)
        return gda_error_set(f->err, GDA_ERR_INVALID_JSON, NULL,
                             "data nests deeper than %d levels", GDA_JSON_FLATTEN_MAX_DEPTH);
    if (json_is_array(container)) {
        for (size_t i = 0; i < json_array_size(container); i++) {
            char index[24];
            int n = snprintf(index, sizeof index, "%zu", i);
            gda_status st = flatten_member(f, json_array_get(container, i), at_top, index,
                                           (size_t)n, depth);
            if (st != GDA_OK)
                return st;
        }
        return GDA_OK;
    }
    /* jansson's iterators take a non-const object; they only read it. */
    json_t *object = (json_t *)container;
    for (void *it = json_object_iter(object); it; it = json_object_iter_next(object, it)) {
        const char *key = json_object_iter_key(it);
        size_t key_len = strlen(key);
#if JANSSON_VERSION_HEX >= 0x020e00
        /* A key with a NUL inside would silently lose its tail. */
        if (json_object_iter_key_len(it) != key_len)
            return gda_error_set(f->err, GDA_ERR_INVALID_FIELD, NULL,
                                 "a key holds a NUL byte");
#endif
        gda_status st = flatten_member(f, json_object_iter_value(it), at_top, key, key_len,
                                       depth);
        if (st != GDA_OK)
            return st;
    }
    return GDA_OK;
}

static gda_status flatten_member(flattener *f, const json_t *value, bool at_top,
                                 const char *key, size_t key_len, int depth)
{
    size_t mark = f->path.len;
    if (!at_top)
        gda_buf_append(&f->path, f->sep, f->sep_len);
    gda_buf_append(&f->path, key, key_len);
    if (!gda_buf_reserve(&f->path, 0))
        return gda_error_set(f->err, GDA_ERR_NOMEM, NULL, "out of memory flattening data");

    gda_status st = GDA_OK;
    if (json_is_object(value) || json_is_array(value)) {
        st = flatten_container(f, value, false, depth + 1);
    } else if (json_object_get(f->out, f->path.data)) {
        st = gda_error_set(f->err, GDA_ERR_INVALID_FIELD, f->path.data,
                           "two members flatten to the same key \"%.120s\"", f->path.data);
    } else {
        json_t *copy = json_deep_copy(value);
        if (!copy || json_object_set_new(f->out, f->path.data, copy) != 0)
            st = gda_error_set(f->err, GDA_ERR_NOMEM, NULL, "out of memory flattening data");
    }
    gda_buf_truncate(&f->path, mark);
    return st;
}

json_t *gda_json_flatten(const json_t *data, const char *separator, gda_error *err)
{
    if (!data) {
        gda_error_set(err, GDA_ERR_INTERNAL, "data", "no data to flatten");
        return NULL;
    }
    if (!json_is_object(data)) {
        gda_error_set(err, GDA_ERR_INVALID_FIELD, "data", "data must be a JSON object");
        return NULL;
    }
    if (!separator)
        separator = ".";
    size_t sep_len = strlen(separator);
    if (sep_len == 0 || !gda_utf8_valid(separator, sep_len)) {
        gda_error_set(err, GDA_ERR_CONFIG, NULL,
                      "the flattening separator must be non-empty UTF-8");
        return NULL;
    }
    flattener f = {.out = json_object(), .sep = separator, .sep_len = sep_len, .err = err};
    if (!f.out) {
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory flattening data");
        return NULL;
    }
    gda_status st = flatten_container(&f, data, true, 1);
    gda_buf_free(&f.path);
    if (st != GDA_OK) {
        json_decref(f.out);
        return NULL;
    }
    return f.out;
}
