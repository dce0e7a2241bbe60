/* libgda — Lambda invocation events and HTTP requests/responses
 * (see include/gda/event.h). */
#include <gda/event.h>

#include "base64.h"
#include "event_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "percent.h"
#include "utf8.h"

const char *gda_event_kind_str(gda_event_kind kind)
{
    switch (kind) {
    case GDA_EVENT_APIGW_REST: return "apigw-rest";
    case GDA_EVENT_APIGW_HTTP: return "apigw-http";
    case GDA_EVENT_ALB: return "alb";
    case GDA_EVENT_DIRECT: return "direct";
    case GDA_EVENT_HTTP: return "http";
    case GDA_EVENT_UNKNOWN: break;
    }
    return "unknown";
}

gda_slice gda_http_request_header(const gda_http_request *req, const char *name, bool *found)
{
    if (found)
        *found = false;
    if (!req || !name)
        return GDA_SLICE_NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (gda_slice_ieq(req->headers[i].name, name)) {
            if (found)
                *found = true;
            return req->headers[i].value;
        }
    }
    return GDA_SLICE_NULL;
}

size_t gda_http_request_header_count(const gda_http_request *req, const char *name)
{
    size_t n = 0;
    if (!req || !name)
        return 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (gda_slice_ieq(req->headers[i].name, name))
            n++;
    }
    return n;
}

static bool header_text_ok(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n >= cap)
        return false;
    return strpbrk(s, "\r\n") == NULL;
}

gda_status gda_http_response_set_header(gda_http_response *resp, const char *name,
                                        const char *value)
{
    if (!resp || !name || !value || !*name)
        return GDA_ERR_INVALID_REQUEST;
    if (!header_text_ok(name, GDA_RESPONSE_HEADER_NAME_SIZE) ||
        !header_text_ok(value, GDA_RESPONSE_HEADER_VALUE_SIZE) || strchr(name, ':'))
        return GDA_ERR_INVALID_REQUEST;
    size_t slot = resp->n_headers;
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (gda_slice_ieq(gda_slice_cstr(resp->headers[i].name), name)) {
            slot = i;
            break;
        }
    }
    if (slot == GDA_RESPONSE_MAX_HEADERS)
        return GDA_ERR_INVALID_REQUEST;
    snprintf(resp->headers[slot].name, sizeof resp->headers[slot].name, "%s", name);
    snprintf(resp->headers[slot].value, sizeof resp->headers[slot].value, "%s", value);
    if (slot == resp->n_headers)
        resp->n_headers++;
    return GDA_OK;
}

const char *gda_http_response_header(const gda_http_response *resp, const char *name)
{
    if (!resp || !name)
        return NULL;
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (gda_slice_ieq(gda_slice_cstr(resp->headers[i].name), name))
            return resp->headers[i].value;
    }
    return NULL;
}

void gda_http_response_release(gda_http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                  */
/* ------------------------------------------------------------------------ */

#define EVENT_DEFAULT_MAX ((size_t)6 * 1024 * 1024)
/* Genesys refuses Data Action JSON nested deeper than this; a direct
 * invocation carries that JSON as the event itself, so the same bound holds. */
#define DIRECT_MAX_DEPTH 50

/* Everything a decoded request's slices point into. */
struct gda_event_storage {
    json_t *root;          /* the parsed event; string slices point into it */
    char *raw;             /* direct invocation: copy of the event bytes */
    unsigned char *body;   /* base64-decoded body */
    char *query;           /* query string rebuilt from parameter objects */
    char *cookie;          /* payload 2.0 cookies joined with "; " */
    gda_header *headers;
};

static void storage_free(gda_event_storage *st)
{
    if (!st)
        return;
    json_decref(st->root);
    free(st->raw);
    free(st->body);
    free(st->query);
    free(st->cookie);
    free(st->headers);
    free(st);
}

void gda_http_request_release(gda_http_request *req)
{
    if (!req)
        return;
    storage_free(req->storage);
    memset(req, 0, sizeof *req);
}

/* Growable header array. */
typedef struct header_list {
    gda_header *items;
    size_t len;
    size_t cap;
} header_list;

static gda_status nomem(gda_error *err)
{
    return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory decoding the event");
}

/* Append without judging the header (header_add and the authorizer's
 * lenient reading both grow the list here). */
static gda_status header_push(header_list *l, gda_slice name, gda_slice value, gda_error *err)
{
    if (!gda_array_grow((void **)&l->items, &l->cap, l->len, sizeof *l->items, 16))
        return nomem(err);
    l->items[l->len].name = name;
    l->items[l->len].value = value;
    l->len++;
    return GDA_OK;
}

static gda_status header_add(header_list *l, gda_slice name, gda_slice value, gda_error *err)
{
    /* A CR or LF smuggled into a header would split it in two once a shim or
     * a log line writes it out; NUL would truncate it in C string APIs. */
    if (name.len == 0)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "headers", "empty header name");
    if (memchr(name.ptr, '\r', name.len) || memchr(name.ptr, '\n', name.len) ||
        memchr(name.ptr, '\0', name.len))
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "headers",
                             "header name holds CR, LF or NUL");
    if (value.len && (memchr(value.ptr, '\r', value.len) || memchr(value.ptr, '\n', value.len) ||
                      memchr(value.ptr, '\0', value.len)))
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "headers",
                             "header value holds CR, LF or NUL");
    return header_push(l, name, value, err);
}

static gda_slice json_slice(const json_t *s)
{
    return gda_slice_make(json_string_value(s), json_string_length(s));
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

/* Optional member of the given type (JSON_STRING or JSON_OBJECT): absent
 * or null gives NULL; any other type means the envelope is not one AWS
 * produces. */
static gda_status opt_member(json_t *obj, const char *key, json_type type, const char *field,
                             json_t **out, gda_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return GDA_OK;
    if (json_typeof(v) != type)
        return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, field, "%s is a %s, not %s", field,
                             json_type_name(v), type == JSON_STRING ? "a string" : "an object");
    *out = v;
    return GDA_OK;
}

/* Optional string member: absent or null gives the empty slice. */
static gda_status opt_string(json_t *obj, const char *key, const char *field, gda_slice *out,
                             gda_error *err)
{
    json_t *v;
    gda_status s = opt_member(obj, key, JSON_STRING, field, &v, err);
    *out = v ? json_slice(v) : GDA_SLICE_NULL;
    return s;
}

/* Optional object member: absent or null gives NULL. */
static gda_status opt_object(json_t *obj, const char *key, const char *field, json_t **out,
                             gda_error *err)
{
    return opt_member(obj, key, JSON_OBJECT, field, out, err);
}

/* Called once per (name, value) pair a header or parameter object holds. */
typedef gda_status (*pair_fn)(void *user, const char *name, gda_slice value, gda_error *err);

/* The two shapes events give headers and query parameters in:
 * {"Name":"value",...} and, when multi, {"Name":["v1","v2"],...}. Calls fn
 * once per value, in event order, so repeated names stay countable
 * (authentication refuses repeated credentials). Any other shape is not one
 * AWS produces; messages call an entry `what`, followed by " in <field>"
 * when say_field. */
static gda_status each_pair(json_t *obj, bool multi, const char *field, const char *what,
                            bool say_field, pair_fn fn, void *user, gda_error *err)
{
    const char *in = say_field ? " in " : "";
    const char *where = say_field ? field : "";
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        if (multi && !json_is_array(v))
            return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, field,
                                 "a %s%s%s is a %s, not an array of strings", what, in, where,
                                 json_type_name(v));
        size_t n = multi ? json_array_size(v) : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *item = multi ? json_array_get(v, i) : v;
            if (!json_is_string(item))
                return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, field,
                                     "a %s value%s%s is a %s, not a string", what, in, where,
                                     json_type_name(item));
            gda_status s = fn(user, name, json_slice(item), err);
            if (s != GDA_OK)
                return s;
        }
    }
    return GDA_OK;
}

static gda_status header_pair(void *user, const char *name, gda_slice value, gda_error *err)
{
    return header_add(user, gda_slice_cstr(name), value, err);
}

static gda_status headers_object(json_t *obj, bool multi, const char *field, header_list *l,
                                 gda_error *err)
{
    return each_pair(obj, multi, field, "header", true, header_pair, l, err);
}

/* Payload 1.0 and ALB: multiValueHeaders holds every value of a repeated
 * header while headers keeps only the last, so it wins when present. */
static gda_status headers_v1(json_t *root, header_list *l, gda_error *err)
{
    json_t *multi, *single;
    gda_status s = opt_object(root, "multiValueHeaders", "multiValueHeaders", &multi, err);
    if (s != GDA_OK)
        return s;
    if (multi)
        return headers_object(multi, true, "multiValueHeaders", l, err);
    s = opt_object(root, "headers", "headers", &single, err);
    if (s != GDA_OK)
        return s;
    return single ? headers_object(single, false, "headers", l, err) : GDA_OK;
}

typedef struct query_builder {
    gda_buf text;
    bool encode;
} query_builder;

static gda_status query_pair(void *user, const char *key, gda_slice value, gda_error *err)
{
    query_builder *qb = user;
    gda_buf *q = &qb->text;
    bool ok = !q->len || gda_buf_append(q, "&", 1);
    if (ok && qb->encode)
        ok = gda_pct_encode_buf(q, key, strlen(key)) && gda_buf_append(q, "=", 1) &&
             gda_pct_encode_buf(q, value.ptr, value.len);
    else if (ok)
        ok = gda_buf_append(q, key, strlen(key)) && gda_buf_append(q, "=", 1) &&
             gda_buf_append(q, value.ptr, value.len);
    return ok ? GDA_OK : nomem(err);
}

/* Rebuild the raw query string from (multiValue)queryStringParameters.
 * API Gateway hands over decoded parameters, so they are re-encoded; an ALB
 * passes them exactly as received (still encoded), so they are kept. */
static gda_status query_v1(json_t *root, bool encode, gda_event_storage *st, gda_slice *out,
                           gda_error *err)
{
    json_t *multi, *single;
    gda_status s = opt_object(root, "multiValueQueryStringParameters",
                              "multiValueQueryStringParameters", &multi, err);
    if (s == GDA_OK)
        s = opt_object(root, "queryStringParameters", "queryStringParameters", &single, err);
    if (s != GDA_OK)
        return s;
    *out = GDA_SLICE_NULL;
    query_builder qb = {.encode = encode};
    if (multi)
        s = each_pair(multi, true, "multiValueQueryStringParameters", "query parameter", false,
                      query_pair, &qb, err);
    else if (single)
        s = each_pair(single, false, "queryStringParameters", "query parameter", false,
                      query_pair, &qb, err);
    if (s != GDA_OK) {
        gda_buf_free(&qb.text);
        return s;
    }
    st->query = qb.text.data;
    *out = gda_slice_make(qb.text.data, qb.text.len);
    return GDA_OK;
}

/* Standard alphabet, padding optional: libsodium's no-padding variant
 * rejects '=' outright, so trailing padding is checked and stripped here. */
static gda_status body_base64(gda_slice text, gda_event_storage *st, gda_slice *out, gda_error *err)
{
    size_t cap = gda_base64_decoded_max(text.len);
    unsigned char *bin = malloc(cap);
    if (!bin)
        return nomem(err);
    size_t bin_len = 0;
    if (!gda_base64_decode(text.ptr, text.len, GDA_BASE64_STANDARD, bin, cap, &bin_len)) {
        free(bin);
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "body", "body is not valid base64");
    }
    st->body = bin;
    *out = gda_slice_make((const char *)bin, bin_len);
    return GDA_OK;
}

/* body (string or null) and isBase64Encoded, shared by every HTTP envelope. */
static gda_status body_envelope(json_t *root, gda_event_storage *st, gda_slice *out, gda_error *err)
{
    gda_slice text;
    gda_status s = opt_string(root, "body", "body", &text, err);
    if (s != GDA_OK)
        return s;
    json_t *b64 = json_object_get(root, "isBase64Encoded");
    if (b64 && !json_is_null(b64) && !json_is_boolean(b64))
        return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "isBase64Encoded",
                             "isBase64Encoded is a %s, not a boolean", json_type_name(b64));
    if (json_is_true(b64))
        return body_base64(text, st, out, err);
    *out = text;
    return GDA_OK;
}

static gda_status decode_rest(json_t *root, gda_event_storage *st, header_list *hl,
                              gda_http_request *out, gda_error *err)
{
    json_t *ctx = json_object_get(root, "requestContext");
    json_t *identity;
    gda_status s;
    out->kind = GDA_EVENT_APIGW_REST;
    out->method = json_slice(json_object_get(root, "httpMethod"));
    if ((s = opt_string(root, "path", "path", &out->path, err)) != GDA_OK)
        return s;
    /* Test invocations from the console may leave "path" out; the resource
     * path is the route that matched, which is what routing needs. */
    if (out->path.len == 0 &&
        (s = opt_string(ctx, "resourcePath", "requestContext.resourcePath", &out->path, err)) !=
            GDA_OK)
        return s;
    if ((s = opt_string(ctx, "requestId", "requestContext.requestId", &out->request_id, err)) !=
            GDA_OK ||
        (s = opt_object(ctx, "identity", "requestContext.identity", &identity, err)) != GDA_OK)
        return s;
    if (identity &&
        (s = opt_string(identity, "sourceIp", "requestContext.identity.sourceIp",
                        &out->source_ip, err)) != GDA_OK)
        return s;
    if ((s = headers_v1(root, hl, err)) != GDA_OK ||
        (s = query_v1(root, true, st, &out->query, err)) != GDA_OK)
        return s;
    return body_envelope(root, st, &out->body, err);
}

static gda_status decode_alb(json_t *root, gda_event_storage *st, header_list *hl,
                             gda_http_request *out, gda_error *err)
{
    gda_status s;
    out->kind = GDA_EVENT_ALB;
    out->method = json_slice(json_object_get(root, "httpMethod"));
    if ((s = opt_string(root, "path", "path", &out->path, err)) != GDA_OK ||
        (s = headers_v1(root, hl, err)) != GDA_OK ||
        (s = query_v1(root, false, st, &out->query, err)) != GDA_OK)
        return s;
    return body_envelope(root, st, &out->body, err);
}

static gda_status decode_http_v2(json_t *root, gda_event_storage *st, header_list *hl,
                                 gda_http_request *out, gda_error *err)
{
    json_t *ctx = json_object_get(root, "requestContext");
    json_t *http = json_object_get(ctx, "http");
    json_t *headers;
    gda_status s;
    out->kind = GDA_EVENT_APIGW_HTTP;
    out->method = json_slice(json_object_get(http, "method"));
    if ((s = opt_string(root, "rawPath", "rawPath", &out->path, err)) != GDA_OK)
        return s;
    if (out->path.len == 0 &&
        (s = opt_string(http, "path", "requestContext.http.path", &out->path, err)) != GDA_OK)
        return s;
    if ((s = opt_string(root, "rawQueryString", "rawQueryString", &out->query, err)) != GDA_OK ||
        (s = opt_string(ctx, "requestId", "requestContext.requestId", &out->request_id, err)) !=
            GDA_OK ||
        (s = opt_string(http, "sourceIp", "requestContext.http.sourceIp", &out->source_ip,
                        err)) != GDA_OK ||
        (s = opt_object(root, "headers", "headers", &headers, err)) != GDA_OK)
        return s;
    if (headers && (s = headers_object(headers, false, "headers", hl, err)) != GDA_OK)
        return s;

    /* Payload 2.0 moves Cookie headers into an array; put them back as the
     * single header a browser would have sent. */
    json_t *cookies = json_object_get(root, "cookies");
    if (cookies && !json_is_null(cookies)) {
        if (!json_is_array(cookies))
            return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "cookies",
                                 "cookies is a %s, not an array", json_type_name(cookies));
        gda_buf c = GDA_BUF_INIT;
        size_t i;
        json_t *item;
        json_array_foreach(cookies, i, item) {
            if (!json_is_string(item)) {
                gda_buf_free(&c);
                return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "cookies",
                                     "a cookie is a %s, not a string", json_type_name(item));
            }
            if ((i && !gda_buf_append(&c, "; ", 2)) ||
                !gda_buf_append(&c, json_string_value(item), json_string_length(item))) {
                gda_buf_free(&c);
                return nomem(err);
            }
        }
        st->cookie = c.data;
        if (c.len &&
            (s = header_add(hl, gda_slice_cstr("cookie"), gda_slice_make(c.data, c.len), err)) !=
                GDA_OK)
            return s;
    }
    return body_envelope(root, st, &out->body, err);
}

/* Nesting depth of v, counting the outermost container as 1; stops counting
 * past `limit` so hostile input cannot drive deep recursion. */
static size_t json_depth(json_t *v, size_t limit)
{
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (limit == 0)
        return 1;
    size_t deepest = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child) {
            size_t d = json_depth(child, limit - 1);
            if (d > deepest)
                deepest = d;
            if (deepest >= limit)
                break;
        }
    } else {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) {
            size_t d = json_depth(child, limit - 1);
            if (d > deepest)
                deepest = d;
            if (deepest >= limit)
                break;
        }
    }
    return deepest + 1;
}

static gda_status decode_direct(json_t *root, const char *json, size_t len, gda_event_storage *st,
                                gda_http_request *out, gda_error *err)
{
    if (json_depth(root, DIRECT_MAX_DEPTH) > DIRECT_MAX_DEPTH)
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                             "JSON nesting deeper than %d levels", DIRECT_MAX_DEPTH);
    /* The raw bytes, not a re-serialisation: signatures and payload hashes
     * are computed over exactly what the caller sent. */
    st->raw = len < SIZE_MAX ? malloc(len + 1) : NULL;
    if (!st->raw)
        return nomem(err);
    memcpy(st->raw, json, len);
    st->raw[len] = '\0';
    out->kind = GDA_EVENT_DIRECT;
    out->method = gda_slice_cstr("POST");
    out->body = gda_slice_make(st->raw, len);
    out->body_json = root;
    return GDA_OK;
}

/* Top-level members only AWS envelopes carry. A Data Action body holding
 * one of these (without matching any supported shape) is refused rather than
 * guessed at; none of them is a plausible Data Action input field. */
static const char *const envelope_markers[] = {
    "requestContext", "httpMethod", "rawPath", "rawQueryString", "routeKey",
    "isBase64Encoded", "multiValueHeaders", "multiValueQueryStringParameters",
    "pathParameters", "stageVariables", "methodArn", "routeArn",
};

static gda_status classify(json_t *root, gda_event_kind *kind, gda_error *err)
{
    *kind = GDA_EVENT_UNKNOWN;
    if (!json_is_object(root))
        return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, NULL,
                             "event is a JSON %s, not an object", json_type_name(root));

    const char *type = json_string_value(json_object_get(root, "type"));
    if (type && (strcmp(type, "TOKEN") == 0 || strcmp(type, "REQUEST") == 0) &&
        (json_object_get(root, "methodArn") || json_object_get(root, "routeArn")))
        return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "type",
                             "API Gateway authorizer event (type %s) is not a request",
                             type);
    if (json_is_array(json_object_get(root, "Records")))
        return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "Records",
                             "S3/SQS/SNS \"Records\" event is not a request");
    if (json_is_string(json_object_get(root, "detail-type")))
        return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "detail-type",
                             "EventBridge event (detail-type/source) is not a request");

    json_t *ctx = json_object_get(root, "requestContext");
    json_t *method = json_object_get(root, "httpMethod");
    const char *version = json_string_value(json_object_get(root, "version"));
    bool v2 = version && strcmp(version, "2.0") == 0;
    if (ctx) {
        if (!json_is_object(ctx))
            return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "requestContext",
                                 "requestContext is a %s, not an object", json_type_name(ctx));
        if (json_object_get(ctx, "elb")) {
            if (!json_is_string(method))
                return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "httpMethod",
                                     "ALB event without a string httpMethod");
            *kind = GDA_EVENT_ALB;
            return GDA_OK;
        }
        json_t *http = json_object_get(ctx, "http");
        if (v2 || http) {
            if (!json_is_object(http))
                return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "requestContext.http",
                                     "payload 2.0 event without a requestContext.http object");
            if (!json_is_string(json_object_get(http, "method")))
                return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "requestContext.http.method",
                                     "payload 2.0 event without a string "
                                     "requestContext.http.method");
            *kind = GDA_EVENT_APIGW_HTTP;
            return GDA_OK;
        }
        if (!method)
            return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "httpMethod",
                                 "requestContext without httpMethod or requestContext.http");
        if (!json_is_string(method))
            return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "httpMethod",
                                 "httpMethod is a %s, not a string", json_type_name(method));
        *kind = GDA_EVENT_APIGW_REST;
        return GDA_OK;
    }
    if (method)
        return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "requestContext",
                             "httpMethod without requestContext (not an API Gateway or ALB "
                             "event)");
    if (v2 && (json_object_get(root, "rawPath") || json_object_get(root, "routeKey")))
        return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, "requestContext",
                             "payload 2.0 event without requestContext");
    for (size_t i = 0; i < sizeof envelope_markers / sizeof envelope_markers[0]; i++) {
        if (json_object_get(root, envelope_markers[i]))
            return gda_error_set(err, GDA_ERR_UNKNOWN_EVENT, envelope_markers[i],
                                 "\"%s\" belongs to an AWS envelope, but no supported event "
                                 "shape matches",
                                 envelope_markers[i]);
    }
    *kind = GDA_EVENT_DIRECT;
    return GDA_OK;
}

/* jansson's own error text quotes the offending input, which may be PII, so
 * only its position and a fixed description are reported. */
static gda_status json_failure(const json_error_t *jerr, gda_error *err)
{
    const char *what;
    switch (json_error_code(jerr)) {
    case json_error_out_of_memory:
        return nomem(err);
    case json_error_invalid_utf8: what = "invalid UTF-8"; break;
    case json_error_duplicate_key: what = "duplicate object key"; break;
    case json_error_null_character:
    case json_error_null_byte_in_key: what = "\\u0000 (NUL) is not allowed"; break;
    case json_error_stack_overflow: what = "nesting too deep"; break;
    case json_error_premature_end_of_input: what = "unexpected end of input"; break;
    case json_error_end_of_input_expected: what = "trailing data after the JSON value"; break;
    case json_error_numeric_overflow: what = "number out of range"; break;
    default: what = "syntax error"; break;
    }
    return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                         "invalid JSON at line %d, column %d: %s", jerr->line, jerr->column,
                         what);
}

/* What both decoders check before parsing: the bytes are there, and not
 * too many of them. */
static gda_status check_event_bytes(const char *json, size_t len, size_t max_event,
                                    gda_error *err)
{
    if (!json && len)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL, "event bytes missing");
    size_t limit = max_event ? max_event : EVENT_DEFAULT_MAX;
    if (len > limit)
        return gda_error_set(err, GDA_ERR_PAYLOAD_TOO_LARGE, NULL,
                             "event of %zu bytes exceeds the %zu-byte limit", len, limit);
    return GDA_OK;
}

gda_status gda_event_decode(const char *json, size_t len, size_t max_event,
                            gda_http_request *out, gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL, "no request to decode into");
    memset(out, 0, sizeof *out);
    gda_status s = check_event_bytes(json, len, max_event, err);
    if (s != GDA_OK)
        return s;

    json_error_t jerr;
    /* JSON_DECODE_ANY so that a bare scalar is reported as "not an event"
     * rather than as a syntax error. \u0000 stays rejected (no JSON_ALLOW_NUL). */
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                              &jerr);
    if (!root)
        return json_failure(&jerr, err);

    gda_event_kind kind;
    s = classify(root, &kind, err);
    if (s != GDA_OK) {
        json_decref(root);
        return s;
    }
    gda_event_storage *st = calloc(1, sizeof *st);
    if (!st) {
        json_decref(root);
        return nomem(err);
    }
    st->root = root;
    header_list hl = {0};
    switch (kind) {
    case GDA_EVENT_APIGW_REST: s = decode_rest(root, st, &hl, out, err); break;
    case GDA_EVENT_APIGW_HTTP: s = decode_http_v2(root, st, &hl, out, err); break;
    case GDA_EVENT_ALB: s = decode_alb(root, st, &hl, out, err); break;
    case GDA_EVENT_DIRECT: s = decode_direct(root, json, len, st, out, err); break;
    case GDA_EVENT_HTTP:
    case GDA_EVENT_UNKNOWN:
        s = gda_error_set(err, GDA_ERR_INTERNAL, NULL, "unclassified event");
        break;
    }
    st->headers = hl.items;
    if (s != GDA_OK) {
        storage_free(st);
        memset(out, 0, sizeof *out);
        return s;
    }
    out->headers = hl.items;
    out->n_headers = hl.len;
    out->storage = st;
    return GDA_OK;
}

/* ------------------------------------------------------------------------ */
/* API Gateway authorizer events                                             */
/* ------------------------------------------------------------------------ */

void gda_authorizer_event_release(gda_authorizer_event *ev)
{
    if (ev) {
        storage_free(ev->storage);
        memset(ev, 0, sizeof *ev);
    }
}

/* An execute-api method ARN, printable, with no wildcard: an authorizer's
 * Allow names exactly this string, so it must not widen anything. */
static bool valid_method_arn(gda_slice arn)
{
    if (arn.len < 20 || arn.len > 2048 || memcmp(arn.ptr, "arn:", 4) != 0)
        return false;
    for (size_t i = 0; i < arn.len; i++) {
        unsigned char c = (unsigned char)arn.ptr[i];
        if (c <= 0x20 || c > 0x7e || c == '*' || c == '?')
            return false;
    }
    /* arn:partition:execute-api:region:account:api/stage/METHOD/path */
    const char *service = memchr(arn.ptr + 4, ':', arn.len - 4);
    if (!service)
        return false;
    size_t left = arn.len - (size_t)(service - arn.ptr);
    return left > 13 && memcmp(service, ":execute-api:", 13) == 0 &&
           memchr(service, '/', left) != NULL;
}

/* A string value of an authorizer event's headers. Other JSON types are
 * left out rather than refused: API Gateway sends none, and a verifier finds
 * no credential in them either way. */
static gda_status authorizer_header(header_list *l, const char *name, json_t *value,
                                    gda_error *err)
{
    if (!json_is_string(value))
        return GDA_OK;
    if (l->len == GDA_AUTHORIZER_MAX_HEADERS)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "headers", "too many headers");
    return header_push(l, gda_slice_cstr(name), json_slice(value), err);
}

/* REQUEST events: multiValueHeaders shows repeats (a verifier refuses a
 * repeated credential as ambiguous); headers holds only the last value of
 * each, so it is the fallback. */
static gda_status authorizer_headers(json_t *root, header_list *l, gda_error *err)
{
    json_t *multi = json_object_get(root, "multiValueHeaders");
    json_t *single = json_object_get(root, "headers");
    const char *name;
    json_t *value;
    gda_status s = GDA_OK;
    if (json_is_object(multi)) {
        json_object_foreach(multi, name, value) {
            size_t i;
            json_t *item;
            json_array_foreach(value, i, item) {
                if ((s = authorizer_header(l, name, item, err)) != GDA_OK)
                    return s;
            }
        }
        return GDA_OK;
    }
    if (json_is_object(single)) {
        json_object_foreach(single, name, value) {
            if ((s = authorizer_header(l, name, value, err)) != GDA_OK)
                return s;
        }
    }
    return GDA_OK;
}

/* Everything but the headers, which need the storage to live in. */
static gda_status authorizer_envelope(json_t *root, gda_authorizer_event *out, gda_error *err)
{
    if (!json_is_object(root))
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL,
                             "the authorizer event is not a JSON object");
    json_t *arn = json_object_get(root, "methodArn");
    json_t *type = json_object_get(root, "type");
    gda_slice type_text = json_is_string(type) ? json_slice(type) : GDA_SLICE_NULL;
    if (!json_is_string(arn) || !valid_method_arn(json_slice(arn)))
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "methodArn",
                             "the authorizer event has no usable execute-api methodArn");
    if (gda_slice_eq(type_text, gda_slice_cstr("TOKEN")))
        out->type = GDA_AUTHORIZER_TOKEN;
    else if (gda_slice_eq(type_text, gda_slice_cstr("REQUEST")))
        out->type = GDA_AUTHORIZER_REQUEST;
    else
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "type",
                             "the authorizer event type must be TOKEN or REQUEST");
    out->method_arn = json_slice(arn);
    return GDA_OK;
}

gda_status gda_authorizer_event_decode(const char *json, size_t len, size_t max_event,
                                       gda_authorizer_event *out, gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL,
                             "no authorizer event to decode into");
    memset(out, 0, sizeof *out);
    gda_status s = check_event_bytes(json, len, max_event, err);
    if (s != GDA_OK)
        return s;
    json_error_t jerr;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
    gda_event_storage *st = NULL;
    header_list hl = {0};
    s = authorizer_envelope(root, out, err);
    if (s == GDA_OK && !(st = calloc(1, sizeof *st)))
        s = nomem(err);
    if (s == GDA_OK && out->type == GDA_AUTHORIZER_TOKEN) {
        json_t *token = json_object_get(root, "authorizationToken");
        if (json_is_string(token))
            out->token = json_slice(token);
    } else if (s == GDA_OK) {
        s = authorizer_headers(root, &hl, err);
    }
    if (s != GDA_OK) {
        free(hl.items);
        free(st);
        json_decref(root);
        memset(out, 0, sizeof *out);
        return s;
    }
    st->root = root;
    st->headers = hl.items;
    out->headers = hl.items;
    out->n_headers = hl.len;
    out->storage = st;
    return GDA_OK;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */
/* ------------------------------------------------------------------------ */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    return "Unknown";
}

static bool field_terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static gda_status encode_envelope(gda_event_kind kind, const gda_http_response *resp,
                                  char **out, size_t *out_len, gda_error *err)
{
    if (resp->status < 100 || resp->status > 599)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "statusCode",
                             "response status %d is not an HTTP status", resp->status);
    if (resp->n_headers > GDA_RESPONSE_MAX_HEADERS)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "headers",
                             "response has more than %d headers", GDA_RESPONSE_MAX_HEADERS);
    /* Checked first, with the rule jansson applies, so that a bad body is
     * reported as such rather than as an allocation failure. */
    if (resp->body_len && !gda_utf8_valid(resp->body, resp->body_len))
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "body",
                             "response body is not valid UTF-8");

    gda_status s = GDA_ERR_NOMEM;
    json_t *obj = json_object();
    json_t *headers = json_object();
    json_t *multi = kind == GDA_EVENT_ALB ? json_object() : NULL;
    if (!obj || !headers || (kind == GDA_EVENT_ALB && !multi))
        goto done;
    for (size_t i = 0; i < resp->n_headers; i++) {
        const char *name = resp->headers[i].name;
        const char *value = resp->headers[i].value;
        if (!field_terminated(name, sizeof resp->headers[i].name) ||
            !field_terminated(value, sizeof resp->headers[i].value) || !*name) {
            s = gda_error_set(err, GDA_ERR_INVALID_REQUEST, "headers",
                              "malformed response header");
            goto done;
        }
        json_t *jv = json_string(value);
        if (!jv) {
            s = gda_error_set(err, GDA_ERR_INVALID_REQUEST, "headers",
                              "response header value is not valid UTF-8");
            goto done;
        }
        if (json_object_set_new(headers, name, jv) != 0)
            goto done;
        if (multi) {
            json_t *arr = json_array();
            if (!arr || json_object_set_new(multi, name, arr) != 0 ||
                json_array_append_new(arr, json_string(value)) != 0)
                goto done;
        }
    }
    if (json_object_set_new(obj, "statusCode", json_integer(resp->status)) != 0)
        goto done;
    if (kind == GDA_EVENT_ALB) {
        char desc[48];
        snprintf(desc, sizeof desc, "%d %s", resp->status, reason_phrase(resp->status));
        if (json_object_set_new(obj, "statusDescription", json_string(desc)) != 0)
            goto done;
    }
    if (json_object_set(obj, "headers", headers) != 0)
        goto done;
    /* ALB only forwards multiValueHeaders when the target group enables
     * multi-value headers, and only headers otherwise; the encoder does not
     * know the setting, so it sends both (same values). */
    if (multi && json_object_set(obj, "multiValueHeaders", multi) != 0)
        goto done;
    if (json_object_set_new(obj, "body",
                            json_stringn(resp->body ? resp->body : "", resp->body_len)) != 0 ||
        json_object_set_new(obj, "isBase64Encoded", json_false()) != 0)
        goto done;

    size_t need = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    if (need == 0 || need == SIZE_MAX)
        goto done;
    char *text = malloc(need + 1);
    if (!text)
        goto done;
    if (json_dumpb(obj, text, need, JSON_COMPACT) != need) {
        free(text);
        goto done;
    }
    text[need] = '\0';
    *out = text;
    *out_len = need;
    s = GDA_OK;
done:
    if (s == GDA_ERR_NOMEM)
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory encoding the response");
    json_decref(multi);
    json_decref(headers);
    json_decref(obj);
    return s;
}

gda_status gda_event_encode(gda_event_kind kind, const gda_http_response *resp, char **out,
                            size_t *out_len, gda_error *err)
{
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!resp || !out || !out_len)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL, "missing response or output");
    if (!resp->body && resp->body_len)
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "body",
                             "response body length without a body");
    switch (kind) {
    case GDA_EVENT_APIGW_REST:
    case GDA_EVENT_APIGW_HTTP:
    case GDA_EVENT_ALB:
        return encode_envelope(kind, resp, out, out_len, err);
    case GDA_EVENT_DIRECT:
    case GDA_EVENT_HTTP: {
        char *copy = resp->body_len < SIZE_MAX ? malloc(resp->body_len + 1) : NULL;
        if (!copy)
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory encoding the response");
        if (resp->body_len)
            memcpy(copy, resp->body, resp->body_len);
        copy[resp->body_len] = '\0';
        *out = copy;
        *out_len = resp->body_len;
        return GDA_OK;
    }
    case GDA_EVENT_UNKNOWN:
        break;
    }
    return gda_error_set(err, GDA_ERR_INVALID_REQUEST, NULL,
                         "cannot encode a response for event kind %s", gda_event_kind_str(kind));
}
