/* Tests for include/gda/event.h: decoding every supported Lambda event shape,
 * refusing the unsupported and the malformed, encoding responses, and
 * decoding API Gateway authorizer events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gda/event.h>

#include "event_internal.h"

#ifndef GDA_TEST_DATA
#error "GDA_TEST_DATA must name the tests/data directory"
#endif

/* ---- helpers ------------------------------------------------------------ */

typedef struct file_buf {
    char *ptr;
    size_t len;
} file_buf;

static file_buf load_event(const char *name)
{
    const char *dir = getenv("GDA_TEST_DATA");
    if (!dir || !*dir)
        dir = GDA_TEST_DATA;
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/events/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open test event %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    file_buf fb = {malloc((size_t)size + 1), (size_t)size};
    assert_non_null(fb.ptr);
    assert_int_equal(fread(fb.ptr, 1, fb.len, f), fb.len);
    fb.ptr[fb.len] = '\0';
    fclose(f);
    return fb;
}

/* Decode a file, then free the file's bytes at once: every slice must point
 * into memory the request owns, so nothing below may read the input. */
static gda_status decode_file(const char *name, gda_http_request *req, gda_error *err)
{
    file_buf fb = load_event(name);
    gda_status s = gda_event_decode(fb.ptr, fb.len, 0, req, err);
    memset(fb.ptr, 'Z', fb.len);
    free(fb.ptr);
    return s;
}

static gda_status decode_str(const char *json, gda_http_request *req, gda_error *err)
{
    /* A heap copy, wiped and freed after decoding, for the same reason. */
    size_t len = strlen(json);
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, json, len + 1);
    gda_status s = gda_event_decode(copy, len, 0, req, err);
    memset(copy, 'Z', len);
    free(copy);
    return s;
}

#define assert_slice_equal(slice, str)                                        \
    do {                                                                      \
        gda_slice s_ = (slice);                                               \
        const char *e_ = (str);                                               \
        assert_int_equal(s_.len, strlen(e_));                                 \
        if (s_.len)                                                           \
            assert_memory_equal(s_.ptr, e_, s_.len);                          \
    } while (0)

static void assert_header(const gda_http_request *req, const char *name, const char *value)
{
    bool found = false;
    gda_slice v = gda_http_request_header(req, name, &found);
    if (!found)
        fail_msg("header %s not found", name);
    assert_slice_equal(v, value);
}

static void assert_request_empty(const gda_http_request *req)
{
    gda_http_request zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(req, &zero, sizeof zero);
}

/* Expect decode failure with `code`, an empty request, and a message holding
 * `needle`. */
static void expect_file_error(const char *name, gda_status code, const char *needle)
{
    gda_http_request req;
    gda_error err;
    memset(&req, 0x5a, sizeof req);
    gda_error_clear(&err);
    assert_int_equal(decode_file(name, &req, &err), code);
    assert_int_equal(err.code, code);
    assert_request_empty(&req);
    if (!strstr(err.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
    gda_http_request_release(&req);
}

static void expect_str_error(const char *json, gda_status code, const char *needle)
{
    gda_http_request req;
    gda_error err;
    gda_error_clear(&err);
    assert_int_equal(decode_str(json, &req, &err), code);
    assert_int_equal(err.code, code);
    assert_request_empty(&req);
    if (!strstr(err.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

static const char *DA_BODY =
    "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\","
    "\"requestId\":\"7d9e0f1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a\","
    "\"queueId\":\"b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e\","
    "\"callerId\":\"+15551234567\",\"timestamp\":\"2026-11-24T10:00:00Z\"}";

/* ---- API Gateway REST (payload 1.0) ------------------------------------- */

static void test_rest_envelope(void **state)
{
    (void)state;
    gda_http_request req;
    gda_error err;
    assert_int_equal(decode_file("apigw-rest.json", &req, &err), GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_APIGW_REST);
    assert_slice_equal(req.method, "POST");
    assert_slice_equal(req.path, "/genesys/dataaction");
    assert_slice_equal(req.request_id, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
    assert_slice_equal(req.source_ip, "52.18.40.12");
    assert_slice_equal(req.body, DA_BODY);
    assert_null(req.body_json);
    assert_non_null(req.storage);
    gda_http_request_release(&req);
    assert_request_empty(&req);
}

static void test_rest_prefers_multivalue_headers(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_file("apigw-rest.json", &req, NULL), GDA_OK);
    /* 9 names, x-gda-token twice: every value of multiValueHeaders. */
    assert_int_equal(req.n_headers, 10);
    assert_int_equal(gda_http_request_header_count(&req, "X-GDA-TOKEN"), 2);
    assert_header(&req, "x-gda-token", "first-value");
    /* Arrival order is kept. */
    assert_slice_equal(req.headers[0].name, "Accept");
    assert_slice_equal(req.headers[8].value, "first-value");
    assert_slice_equal(req.headers[9].value, "second-value-wins-in-headers");
    assert_int_equal(gda_http_request_header_count(&req, "content-type"), 1);
    gda_http_request_release(&req);
}

static void test_header_lookup_case_insensitive(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_file("apigw-rest.json", &req, NULL), GDA_OK);
    assert_header(&req, "content-type", "application/json");
    assert_header(&req, "CONTENT-TYPE", "application/json");
    assert_header(&req, "cOnTeNt-TyPe", "application/json");
    assert_header(&req, "x-forwarded-for", "52.18.40.12, 130.176.98.14");
    bool found = true;
    gda_slice missing = gda_http_request_header(&req, "Content-Typ", &found);
    assert_false(found);
    assert_null(missing.ptr);
    assert_int_equal(missing.len, 0);
    assert_int_equal(gda_http_request_header_count(&req, "Authorization"), 0);
    /* found may be NULL. */
    assert_slice_equal(gda_http_request_header(&req, "host", NULL),
                       "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com");
    gda_http_request_release(&req);
}

static void test_rest_query_rebuilt_and_encoded(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_file("apigw-rest.json", &req, NULL), GDA_OK);
    /* multiValueQueryStringParameters wins; decoded values are re-encoded. */
    assert_slice_equal(req.query, "tenant=acme%20corp&mode=sync&mode=a%26b");
    gda_http_request_release(&req);
}

static void test_rest_single_value_fallbacks(void **state)
{
    (void)state;
    gda_http_request req;
    gda_error err;
    assert_int_equal(
        decode_str("{\"httpMethod\":\"PUT\",\"requestContext\":{\"resourcePath\":\"/r/{id}\","
                   "\"requestId\":\"r-1\"},\"headers\":{\"Accept\":\"*/*\",\"X-Key\":\"k\"},"
                   "\"multiValueHeaders\":null,\"queryStringParameters\":{\"q\":\"a b/c?\","
                   "\"n\":\"\",\"\\u00e9\":\"~._-\"},\"body\":null}",
                   &req, &err),
        GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_APIGW_REST);
    assert_slice_equal(req.method, "PUT");
    /* No "path": the resource path is used. */
    assert_slice_equal(req.path, "/r/{id}");
    assert_slice_equal(req.request_id, "r-1");
    assert_slice_equal(req.source_ip, "");
    assert_int_equal(req.n_headers, 2);
    assert_header(&req, "x-key", "k");
    assert_slice_equal(req.query, "q=a%20b%2Fc%3F&n=&%C3%A9=~._-");
    /* A null body is an empty one. */
    assert_int_equal(req.body.len, 0);
    gda_http_request_release(&req);
}

static void test_rest_minimal(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_str("{\"httpMethod\":\"GET\",\"requestContext\":{}}", &req, NULL),
                     GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_APIGW_REST);
    assert_slice_equal(req.method, "GET");
    assert_int_equal(req.path.len, 0);
    assert_int_equal(req.query.len, 0);
    assert_int_equal(req.n_headers, 0);
    assert_int_equal(req.body.len, 0);
    gda_http_request_release(&req);
}

static void test_rest_base64_body(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_file("apigw-rest-base64.json", &req, NULL), GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_APIGW_REST);
    assert_slice_equal(req.request_id, "0e5c4b2a-9f1d-4e3c-8b7a-6d5c4b3a2f10");
    assert_int_equal(req.body.len, 232);
    static const char tail[] = "\"note\":\"caf\xc3\xa9\"}";
    assert_memory_equal(req.body.ptr, "{\"interactionId\":", 17);
    assert_memory_equal(req.body.ptr + req.body.len - (sizeof tail - 1), tail, sizeof tail - 1);
    assert_int_equal(req.query.len, 0);
    gda_http_request_release(&req);
}

/* ---- HTTP API / Function URL (payload 2.0) ------------------------------- */

static void test_http_api_v2(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_file("apigw-http.json", &req, NULL), GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_APIGW_HTTP);
    assert_slice_equal(req.method, "POST");
    assert_slice_equal(req.path, "/genesys/dataaction");
    /* rawQueryString is used verbatim, not queryStringParameters. */
    assert_slice_equal(req.query, "tenant=acme%20corp&mode=sync&mode=a%26b");
    assert_slice_equal(req.request_id, "Bq4tLhJ1DoEEPqw=");
    assert_slice_equal(req.source_ip, "52.18.40.12");
    assert_slice_equal(req.body,
                       "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\","
                       "\"requestId\":\"7d9e0f1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a\","
                       "\"callerId\":\"+15551234567\"}");
    /* 10 headers + the cookie header rebuilt from "cookies". */
    assert_int_equal(req.n_headers, 11);
    assert_header(&req, "Cookie", "session=3b7f0c1d; locale=en-GB");
    assert_int_equal(gda_http_request_header_count(&req, "cookie"), 1);
    /* Payload 2.0 joins repeated headers with commas; kept as one value. */
    assert_header(&req, "x-custom-list", "alpha,beta");
    assert_int_equal(gda_http_request_header_count(&req, "X-Custom-List"), 1);
    gda_http_request_release(&req);
}

static void test_function_url(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_file("function-url.json", &req, NULL), GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_APIGW_HTTP);
    assert_slice_equal(req.path, "/");
    assert_slice_equal(req.query, "");
    assert_slice_equal(req.request_id, "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b");
    assert_slice_equal(req.source_ip, "52.18.40.14");
    /* Unpadded base64 is accepted. */
    assert_slice_equal(req.body, "{\"interactionId\":\"3f1c2a9e\"}");
    assert_header(&req, "x-gda-token", "c2VjcmV0LXRva2VuLWZvci10ZXN0cw");
    assert_int_equal(gda_http_request_header_count(&req, "cookie"), 0);
    gda_http_request_release(&req);
}

static void test_http_v2_path_fallback_and_empty_cookies(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_str("{\"version\":\"2.0\",\"requestContext\":{\"http\":{"
                                "\"method\":\"POST\",\"path\":\"/from-context\"}},"
                                "\"cookies\":[],\"body\":\"{}\"}",
                                &req, NULL),
                     GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_APIGW_HTTP);
    assert_slice_equal(req.path, "/from-context");
    assert_int_equal(req.n_headers, 0);
    assert_slice_equal(req.body, "{}");
    gda_http_request_release(&req);
}

/* ---- ALB ----------------------------------------------------------------- */

static void test_alb(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_file("alb.json", &req, NULL), GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_ALB);
    assert_slice_equal(req.method, "POST");
    assert_slice_equal(req.path, "/genesys/dataaction");
    /* ALB passes parameters still encoded; they are not encoded twice. */
    assert_slice_equal(req.query, "tenant=acme%20corp&mode=sync");
    assert_int_equal(req.request_id.len, 0);
    assert_int_equal(req.n_headers, 9);
    assert_header(&req, "Content-Type", "application/json");
    assert_slice_equal(req.body,
                       "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\","
                       "\"requestId\":\"7d9e0f1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a\","
                       "\"queueId\":\"q-1\"}");
    gda_http_request_release(&req);
}

static void test_alb_multivalue(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_file("alb-multivalue.json", &req, NULL), GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_ALB);
    assert_slice_equal(req.query, "tenant=acme%20corp&tag=a&tag=b");
    assert_int_equal(req.n_headers, 8);
    /* Repeated credentials stay visible so authentication can refuse them. */
    assert_int_equal(gda_http_request_header_count(&req, "authorization"), 2);
    assert_header(&req, "AUTHORIZATION", "Basic Z2VuZXN5czpodW50ZXIy");
    assert_slice_equal(req.body, "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\"}");
    gda_http_request_release(&req);
}

/* ---- direct invocation ---------------------------------------------------- */

static void test_direct(void **state)
{
    (void)state;
    file_buf fb = load_event("direct.json");
    char *expected = malloc(fb.len);
    assert_non_null(expected);
    memcpy(expected, fb.ptr, fb.len);
    size_t expected_len = fb.len;

    gda_http_request req;
    gda_error err;
    assert_int_equal(gda_event_decode(fb.ptr, fb.len, 0, &req, &err), GDA_OK);
    memset(fb.ptr, 0, fb.len);
    free(fb.ptr);

    assert_int_equal(req.kind, GDA_EVENT_DIRECT);
    assert_slice_equal(req.method, "POST");
    assert_int_equal(req.path.len, 0);
    assert_int_equal(req.query.len, 0);
    assert_int_equal(req.n_headers, 0);
    /* The body is the event's exact bytes (whitespace and all). */
    assert_int_equal(req.body.len, expected_len);
    assert_memory_equal(req.body.ptr, expected, expected_len);
    free(expected);

    assert_non_null(req.body_json);
    assert_true(json_is_object(req.body_json));
    assert_int_equal(json_object_size(req.body_json), 5);
    assert_string_equal(json_string_value(json_object_get(req.body_json, "callerId")),
                        "+15551234567");
    assert_string_equal(json_string_value(json_object_get(req.body_json, "timestamp")),
                        "2026-11-24T10:00:00Z");
    assert_string_equal(json_string_value(json_object_get(req.body_json, "queueId")),
                        "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e");
    gda_http_request_release(&req);
    assert_null(req.body_json);
    assert_request_empty(&req);
}

static void test_direct_custom_fields_stay_direct(void **state)
{
    (void)state;
    /* Field names an envelope also uses, but not its markers, do not make a
     * Data Action body look like an envelope. */
    static const char *const bodies[] = {
        "{}",
        "{\"interactionId\":\"i\",\"requestId\":\"r\",\"queueId\":\"q\",\"callerId\":"
        "\"+15551234567\",\"timestamp\":\"2026-11-24T10:00:00Z\"}",
        "{\"type\":\"TOKEN\",\"source\":\"ivr\",\"version\":\"2.0\",\"path\":\"/x\","
        "\"headers\":{\"a\":\"b\"},\"body\":\"text\",\"detail\":\"d\"}",
        "{\"Records\":\"not an array\",\"resource\":\"r\",\"version\":\"2.0\"}",
        "{\"customer\":{\"tier\":\"gold\",\"tags\":[\"a\",\"b\"]},\"amount\":12.5,"
        "\"vip\":true,\"note\":null}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        gda_http_request req;
        gda_error err;
        gda_status s = decode_str(bodies[i], &req, &err);
        if (s != GDA_OK)
            fail_msg("body %zu: %s", i, err.message);
        assert_int_equal(req.kind, GDA_EVENT_DIRECT);
        assert_slice_equal(req.body, bodies[i]);
        assert_true(json_is_object(req.body_json));
        gda_http_request_release(&req);
    }
}

static json_t *nest(size_t depth)
{
    /* depth nested objects: {"d":{"d":...{"leaf":"x"}}} */
    json_t *v = json_pack("{s:s}", "leaf", "x");
    assert_non_null(v);
    for (size_t i = 1; i < depth; i++) {
        json_t *outer = json_object();
        assert_non_null(outer);
        assert_int_equal(json_object_set_new(outer, "d", v), 0);
        v = outer;
    }
    return v;
}

static gda_status decode_depth(size_t depth, gda_http_request *req, gda_error *err)
{
    json_t *v = nest(depth);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    assert_non_null(text);
    gda_status s = decode_str(text, req, err);
    free(text);
    return s;
}

static void test_direct_depth_limit(void **state)
{
    (void)state;
    gda_http_request req;
    gda_error err;
    assert_int_equal(decode_depth(50, &req, &err), GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_DIRECT);
    gda_http_request_release(&req);
    assert_int_equal(decode_depth(51, &req, &err), GDA_ERR_INVALID_JSON);
    assert_non_null(strstr(err.message, "50"));
    assert_request_empty(&req);
    /* Arrays count as levels too. */
    char deep_arrays[160];
    memset(deep_arrays, 0, sizeof deep_arrays);
    strcpy(deep_arrays, "{\"a\":");
    for (int i = 0; i < 50; i++)
        strcat(deep_arrays, "[");
    for (int i = 0; i < 50; i++)
        strcat(deep_arrays, "]");
    strcat(deep_arrays, "}");
    expect_str_error(deep_arrays, GDA_ERR_INVALID_JSON, "nesting");
    expect_file_error("deep-direct.json", GDA_ERR_INVALID_JSON, "deeper than 50");
}

/* ---- refused events ------------------------------------------------------- */

static void test_unknown_event_files(void **state)
{
    (void)state;
    expect_file_error("authorizer-token.json", GDA_ERR_UNKNOWN_EVENT, "authorizer");
    expect_file_error("s3-records.json", GDA_ERR_UNKNOWN_EVENT, "Records");
    expect_file_error("eventbridge.json", GDA_ERR_UNKNOWN_EVENT, "EventBridge");
    expect_file_error("array.json", GDA_ERR_UNKNOWN_EVENT, "array");
}

static void test_unknown_event_inline(void **state)
{
    (void)state;
    /* A REQUEST authorizer carries httpMethod and requestContext too. */
    expect_str_error("{\"type\":\"REQUEST\",\"methodArn\":\"arn:aws:execute-api:x\","
                     "\"httpMethod\":\"POST\",\"requestContext\":{\"requestId\":\"r\"}}",
                     GDA_ERR_UNKNOWN_EVENT, "authorizer event (type REQUEST)");
    expect_str_error("{\"version\":\"2.0\",\"type\":\"REQUEST\",\"routeArn\":\"arn:x\","
                     "\"requestContext\":{\"http\":{\"method\":\"POST\"}}}",
                     GDA_ERR_UNKNOWN_EVENT, "authorizer");
    expect_str_error("{\"Records\":[{\"messageId\":\"m\",\"eventSource\":\"aws:sqs\","
                     "\"body\":\"{}\"}]}",
                     GDA_ERR_UNKNOWN_EVENT, "Records");
    expect_str_error("42", GDA_ERR_UNKNOWN_EVENT, "number");
    expect_str_error("\"text\"", GDA_ERR_UNKNOWN_EVENT, "string");
    expect_str_error("null", GDA_ERR_UNKNOWN_EVENT, "null");
    expect_str_error("{\"httpMethod\":\"POST\",\"path\":\"/\",\"body\":\"{}\"}",
                     GDA_ERR_UNKNOWN_EVENT, "httpMethod without requestContext");
    expect_str_error("{\"version\":\"2.0\",\"requestContext\":{\"requestId\":\"r\"}}",
                     GDA_ERR_UNKNOWN_EVENT, "requestContext.http");
    expect_str_error("{\"version\":\"2.0\",\"rawPath\":\"/\",\"body\":\"{}\"}",
                     GDA_ERR_UNKNOWN_EVENT, "payload 2.0 event without requestContext");
    expect_str_error("{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"path\":\"/\"}}}",
                     GDA_ERR_UNKNOWN_EVENT, "requestContext.http.method");
    expect_str_error("{\"requestContext\":{\"http\":\"POST\"}}", GDA_ERR_UNKNOWN_EVENT,
                     "requestContext.http");
    expect_str_error("{\"requestContext\":\"ctx\",\"httpMethod\":\"POST\"}",
                     GDA_ERR_UNKNOWN_EVENT, "requestContext is a string");
    expect_str_error("{\"requestContext\":{\"stage\":\"prod\"}}", GDA_ERR_UNKNOWN_EVENT,
                     "without httpMethod");
    expect_str_error("{\"requestContext\":{},\"httpMethod\":7}", GDA_ERR_UNKNOWN_EVENT,
                     "httpMethod is a number");
    expect_str_error("{\"requestContext\":{\"elb\":{}},\"path\":\"/\"}", GDA_ERR_UNKNOWN_EVENT,
                     "ALB event");
    expect_str_error("{\"interactionId\":\"i\",\"isBase64Encoded\":false}",
                     GDA_ERR_UNKNOWN_EVENT, "\"isBase64Encoded\"");
    expect_str_error("{\"methodArn\":\"arn:aws:execute-api:x\"}", GDA_ERR_UNKNOWN_EVENT,
                     "\"methodArn\"");
}

static void test_envelope_field_types(void **state)
{
    (void)state;
    gda_http_request req;
    gda_error err;
    assert_int_equal(decode_str("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                                "\"headers\":{\"X-Count\":3}}",
                                &req, &err),
                     GDA_ERR_UNKNOWN_EVENT);
    assert_string_equal(err.field, "headers");
    assert_non_null(strstr(err.message, "not a string"));
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},\"headers\":[]}",
                     GDA_ERR_UNKNOWN_EVENT, "headers is a array");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                     "\"multiValueHeaders\":{\"A\":\"b\"}}",
                     GDA_ERR_UNKNOWN_EVENT, "not an array of strings");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                     "\"multiValueHeaders\":{\"A\":[\"b\",false]}}",
                     GDA_ERR_UNKNOWN_EVENT, "boolean");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},\"body\":{}}",
                     GDA_ERR_UNKNOWN_EVENT, "body is a object");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                     "\"isBase64Encoded\":\"true\"}",
                     GDA_ERR_UNKNOWN_EVENT, "isBase64Encoded is a string");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},\"path\":1}",
                     GDA_ERR_UNKNOWN_EVENT, "path is a number");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{\"requestId\":1}}",
                     GDA_ERR_UNKNOWN_EVENT, "requestContext.requestId");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{\"identity\":{"
                     "\"sourceIp\":[]}}}",
                     GDA_ERR_UNKNOWN_EVENT, "sourceIp");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                     "\"queryStringParameters\":{\"a\":1}}",
                     GDA_ERR_UNKNOWN_EVENT, "query parameter value");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                     "\"multiValueQueryStringParameters\":{\"a\":\"b\"}}",
                     GDA_ERR_UNKNOWN_EVENT, "query parameter is a string");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                     "\"multiValueQueryStringParameters\":{\"a\":[null]}}",
                     GDA_ERR_UNKNOWN_EVENT, "query parameter value is a null");
    expect_str_error("{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"GET\"}},"
                     "\"cookies\":\"a=b\"}",
                     GDA_ERR_UNKNOWN_EVENT, "cookies is a string");
    expect_str_error("{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"GET\"}},"
                     "\"cookies\":[\"a=b\",1]}",
                     GDA_ERR_UNKNOWN_EVENT, "a cookie is a number");
    expect_str_error("{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"GET\"}},"
                     "\"rawQueryString\":{}}",
                     GDA_ERR_UNKNOWN_EVENT, "rawQueryString");
}

/* ---- malformed JSON -------------------------------------------------------- */

static void test_invalid_json(void **state)
{
    (void)state;
    expect_file_error("not-json.txt", GDA_ERR_INVALID_JSON, "line 1");
    expect_file_error("duplicate-keys.json", GDA_ERR_INVALID_JSON, "duplicate object key");
    expect_str_error("{\"callerId\":\"+1555\\u0000\"}", GDA_ERR_INVALID_JSON, "NUL");
    expect_str_error("{\"caller\\u0000Id\":\"x\"}", GDA_ERR_INVALID_JSON, "NUL");
    expect_str_error("{\"callerId\":\"caf\xc3\x28\"}", GDA_ERR_INVALID_JSON, "UTF-8");
    expect_str_error("{\"callerId\":\"\xed\xa0\x80\"}", GDA_ERR_INVALID_JSON, "UTF-8");
    expect_str_error("", GDA_ERR_INVALID_JSON, "invalid JSON");
    expect_str_error("{\"a\":\"b\"", GDA_ERR_INVALID_JSON, "end of input");
    expect_str_error("{\"a\":\"b\"} {}", GDA_ERR_INVALID_JSON, "trailing data");
    expect_str_error("{\"a\":tru}", GDA_ERR_INVALID_JSON, "syntax error");
    expect_str_error("\n\n  {\"a\" \"b\"}", GDA_ERR_INVALID_JSON, "line 3");
    expect_str_error("{\"amount\":1e999}", GDA_ERR_INVALID_JSON, "number out of range");
}

static void test_invalid_json_parser_depth(void **state)
{
    (void)state;
    /* Deeper than jansson will go, whatever the shape: refused while
     * parsing, before any classification. */
    enum { levels = 5000 };
    char *deep = malloc(2 * levels + 1);
    assert_non_null(deep);
    memset(deep, '[', levels);
    memset(deep + levels, ']', levels);
    deep[2 * levels] = '\0';
    expect_str_error(deep, GDA_ERR_INVALID_JSON, "nesting too deep");
    free(deep);
}

static void test_invalid_json_raw_nul_byte(void **state)
{
    (void)state;
    static const char bytes[] = "{\"a\":\"b\"}\0{}";
    gda_http_request req;
    gda_error err;
    assert_int_equal(gda_event_decode(bytes, sizeof bytes - 1, 0, &req, &err),
                     GDA_ERR_INVALID_JSON);
    assert_request_empty(&req);
    static const char inside[] = "{\"a\":\"b\0c\"}";
    assert_int_equal(gda_event_decode(inside, sizeof inside - 1, 0, &req, &err),
                     GDA_ERR_INVALID_JSON);
}

static void test_errors_never_echo_input(void **state)
{
    (void)state;
    gda_http_request req;
    gda_error err;
    assert_int_equal(decode_str("{\"callerId\":+15551234567}", &req, &err),
                     GDA_ERR_INVALID_JSON);
    assert_null(strstr(err.message, "1555"));
    assert_int_equal(decode_file("not-json.txt", &req, &err), GDA_ERR_INVALID_JSON);
    assert_null(strstr(err.message, "interactionId"));
    assert_null(strstr(err.message, "1555"));
    assert_int_equal(decode_file("header-crlf.json", &req, &err), GDA_ERR_INVALID_REQUEST);
    assert_null(strstr(err.message, "Injected"));
    assert_null(strstr(err.message, "abc"));
}

/* ---- bodies and headers ------------------------------------------------------ */

static void test_base64_invalid(void **state)
{
    (void)state;
    expect_file_error("base64-invalid.json", GDA_ERR_INVALID_REQUEST,
                      "body is not valid base64");
    gda_error err;
    gda_http_request req;
    assert_int_equal(decode_file("base64-invalid.json", &req, &err), GDA_ERR_INVALID_REQUEST);
    assert_string_equal(err.field, "body");
}

static gda_status decode_b64(const char *b64, gda_http_request *req, gda_error *err)
{
    char event[512];
    int n = snprintf(event, sizeof event,
                     "{\"httpMethod\":\"POST\",\"requestContext\":{},\"body\":\"%s\","
                     "\"isBase64Encoded\":true}",
                     b64);
    assert_true(n > 0 && (size_t)n < sizeof event);
    return decode_str(event, req, err);
}

static void test_base64_variants(void **state)
{
    (void)state;
    static const struct {
        const char *b64;
        const char *plain;
    } ok[] = {
        {"", ""},
        {"YQ==", "a"},
        {"YQ", "a"},
        {"YWI=", "ab"},
        {"YWI", "ab"},
        {"YWJj", "abc"},
        {"e30=", "{}"},
        {"Pz4/Pg==", "?>?>"}, /* '+' and '/' of the standard alphabet */
        {"+/+/", "\xfb\xff\xbf"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        gda_http_request req;
        gda_error err;
        gda_status s = decode_b64(ok[i].b64, &req, &err);
        if (s != GDA_OK)
            fail_msg("\"%s\": %s", ok[i].b64, err.message);
        assert_slice_equal(req.body, ok[i].plain);
        gda_http_request_release(&req);
    }
    static const char *const bad[] = {
        "Y",      /* a lone sextet is never a whole byte */
        "YQ=",    /* padding present but not to a multiple of 4 */
        "YQ===",  /* too much padding */
        "=YQ=",   /* padding inside */
        "YR==",   /* non-zero trailing bits: not canonical */
        "YQ==YQ==",
        "-_-_",   /* URL-safe alphabet */
        "YW Jj",
        "YWJj\\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gda_http_request req;
        gda_error err;
        if (decode_b64(bad[i], &req, &err) != GDA_ERR_INVALID_REQUEST)
            fail_msg("\"%s\" was accepted as base64", bad[i]);
        assert_string_equal(err.message, "body is not valid base64");
        assert_request_empty(&req);
    }
}

static void test_base64_null_body_is_empty(void **state)
{
    (void)state;
    gda_http_request req;
    assert_int_equal(decode_str("{\"httpMethod\":\"POST\",\"requestContext\":{},\"body\":null,"
                                "\"isBase64Encoded\":true}",
                                &req, NULL),
                     GDA_OK);
    assert_int_equal(req.body.len, 0);
    gda_http_request_release(&req);
}

static void test_header_injection(void **state)
{
    (void)state;
    expect_file_error("header-crlf.json", GDA_ERR_INVALID_REQUEST, "CR, LF or NUL");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                     "\"multiValueHeaders\":{\"X-A\":[\"ok\",\"bad\\nvalue\"]}}",
                     GDA_ERR_INVALID_REQUEST, "header value");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},"
                     "\"headers\":{\"X-A\\r\\nX-B\":\"v\"}}",
                     GDA_ERR_INVALID_REQUEST, "header name");
    expect_str_error("{\"httpMethod\":\"POST\",\"requestContext\":{},\"headers\":{\"\":\"v\"}}",
                     GDA_ERR_INVALID_REQUEST, "empty header name");
    expect_str_error("{\"requestContext\":{\"elb\":{}},\"httpMethod\":\"POST\","
                     "\"headers\":{\"X-A\":\"v\\r\"}}",
                     GDA_ERR_INVALID_REQUEST, "header value");
    expect_str_error("{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"GET\"}},"
                     "\"headers\":{\"x-a\":\"v\\nw\"}}",
                     GDA_ERR_INVALID_REQUEST, "header value");
    /* Cookies become a header, so they are held to the same rule. */
    expect_str_error("{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"GET\"}},"
                     "\"cookies\":[\"a=b\\r\\nSet-Cookie: x\"]}",
                     GDA_ERR_INVALID_REQUEST, "header value");
}

/* ---- limits, arguments, release -------------------------------------------------- */

static void test_size_limit(void **state)
{
    (void)state;
    gda_http_request req;
    gda_error err;
    static const char ev[] = "{\"interactionId\":\"i\"}";
    size_t len = sizeof ev - 1;
    assert_int_equal(gda_event_decode(ev, len, len - 1, &req, &err), GDA_ERR_PAYLOAD_TOO_LARGE);
    assert_non_null(strstr(err.message, "limit"));
    assert_request_empty(&req);
    assert_int_equal(gda_event_decode(ev, len, len, &req, &err), GDA_OK);
    gda_http_request_release(&req);

    /* The size check comes before parsing: an oversized non-JSON event is
     * "too large", not "invalid JSON". */
    assert_int_equal(gda_event_decode("not json at all", 15, 4, &req, &err),
                     GDA_ERR_PAYLOAD_TOO_LARGE);

    /* Default (0): 6 MiB, Lambda's synchronous payload limit. */
    const size_t six_mib = (size_t)6 * 1024 * 1024;
    char *big = malloc(six_mib + 1);
    assert_non_null(big);
    static const char head[] = "{\"pad\":\"";
    memcpy(big, head, sizeof head - 1);
    memset(big + sizeof head - 1, 'x', six_mib - (sizeof head - 1) - 2);
    memcpy(big + six_mib - 2, "\"}", 2);
    big[six_mib] = ' ';
    assert_int_equal(gda_event_decode(big, six_mib, 0, &req, &err), GDA_OK);
    assert_int_equal(req.kind, GDA_EVENT_DIRECT);
    assert_int_equal(req.body.len, six_mib);
    gda_http_request_release(&req);
    assert_int_equal(gda_event_decode(big, six_mib + 1, 0, &req, &err),
                     GDA_ERR_PAYLOAD_TOO_LARGE);
    free(big);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    gda_http_request req;
    gda_error err;
    assert_int_equal(gda_event_decode("{}", 2, 0, NULL, &err), GDA_ERR_INVALID_REQUEST);
    assert_int_equal(gda_event_decode(NULL, 2, 0, &req, &err), GDA_ERR_INVALID_REQUEST);
    assert_request_empty(&req);
    assert_int_equal(gda_event_decode(NULL, 0, 0, &req, &err), GDA_ERR_INVALID_JSON);
    /* err is optional. */
    assert_int_equal(gda_event_decode("[", 1, 0, &req, NULL), GDA_ERR_INVALID_JSON);
}

static void test_release_is_safe(void **state)
{
    (void)state;
    gda_http_request_release(NULL);

    gda_http_request zero;
    memset(&zero, 0, sizeof zero);
    gda_http_request_release(&zero);
    assert_request_empty(&zero);

    gda_http_request req;
    assert_int_equal(decode_file("apigw-http.json", &req, NULL), GDA_OK);
    gda_http_request_release(&req);
    assert_request_empty(&req);
    gda_http_request_release(&req);
    assert_request_empty(&req);

    /* A request a shim filled itself: slices into its own buffers. */
    static const char body[] = "{\"a\":1}";
    gda_header headers[1] = {{gda_slice_cstr("Content-Type"),
                              gda_slice_cstr("application/json")}};
    gda_http_request shim;
    memset(&shim, 0, sizeof shim);
    shim.kind = GDA_EVENT_HTTP;
    shim.method = gda_slice_cstr("POST");
    shim.headers = headers;
    shim.n_headers = 1;
    shim.body = gda_slice_make(body, sizeof body - 1);
    assert_header(&shim, "content-type", "application/json");
    gda_http_request_release(&shim);
    assert_request_empty(&shim);
    /* The shim's buffers are untouched. */
    assert_string_equal(body, "{\"a\":1}");
}

static void test_header_helpers_null_safe(void **state)
{
    (void)state;
    bool found = true;
    gda_slice v = gda_http_request_header(NULL, "a", &found);
    assert_false(found);
    assert_int_equal(v.len, 0);
    assert_int_equal(gda_http_request_header_count(NULL, "a"), 0);
    gda_http_request req;
    assert_int_equal(decode_file("alb.json", &req, NULL), GDA_OK);
    found = true;
    (void)gda_http_request_header(&req, NULL, &found);
    assert_false(found);
    assert_int_equal(gda_http_request_header_count(&req, NULL), 0);
    gda_http_request_release(&req);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(gda_event_kind_str(GDA_EVENT_APIGW_REST), "apigw-rest");
    assert_string_equal(gda_event_kind_str(GDA_EVENT_APIGW_HTTP), "apigw-http");
    assert_string_equal(gda_event_kind_str(GDA_EVENT_ALB), "alb");
    assert_string_equal(gda_event_kind_str(GDA_EVENT_DIRECT), "direct");
    assert_string_equal(gda_event_kind_str(GDA_EVENT_HTTP), "http");
    assert_string_equal(gda_event_kind_str(GDA_EVENT_UNKNOWN), "unknown");
    assert_string_equal(gda_event_kind_str((gda_event_kind)77), "unknown");
}

/* ---- encoding ------------------------------------------------------------------ */

static void make_response(gda_http_response *resp, int status, const char *body)
{
    memset(resp, 0, sizeof *resp);
    resp->status = status;
    resp->code = status == 200 ? GDA_OK : GDA_ERR_UNAVAILABLE;
    assert_int_equal(gda_http_response_set_header(resp, "Content-Type", "application/json"),
                     GDA_OK);
    assert_int_equal(gda_http_response_set_header(resp, "Retry-After", "2"), GDA_OK);
    resp->body_len = strlen(body);
    resp->body = malloc(resp->body_len + 1);
    assert_non_null(resp->body);
    memcpy(resp->body, body, resp->body_len + 1);
}

static json_t *encode_parse_flags(gda_event_kind kind, const gda_http_response *resp,
                                  size_t flags)
{
    char *out = NULL;
    size_t out_len = 0;
    gda_error err;
    gda_status s = gda_event_encode(kind, resp, &out, &out_len, &err);
    if (s != GDA_OK)
        fail_msg("encode %s: %s", gda_event_kind_str(kind), err.message);
    assert_non_null(out);
    assert_int_equal(strlen(out), out_len);
    json_error_t jerr;
    json_t *root = json_loadb(out, out_len, JSON_REJECT_DUPLICATES | flags, &jerr);
    if (!root)
        fail_msg("encode %s produced invalid JSON: %s", gda_event_kind_str(kind), jerr.text);
    free(out);
    return root;
}

static json_t *encode_parse(gda_event_kind kind, const gda_http_response *resp)
{
    return encode_parse_flags(kind, resp, 0);
}

static const char *RESP_BODY =
    "{\"status\":\"completed\",\"requiresRetry\":false,\"data\":{\"greeting\":\"h\xc3\xa9llo\","
    "\"quote\":\"\\\"x\\\"\"}}";

static void check_envelope_common(json_t *root, int status)
{
    assert_true(json_is_object(root));
    assert_int_equal(json_integer_value(json_object_get(root, "statusCode")), status);
    json_t *headers = json_object_get(root, "headers");
    assert_true(json_is_object(headers));
    assert_int_equal(json_object_size(headers), 2);
    assert_string_equal(json_string_value(json_object_get(headers, "Content-Type")),
                        "application/json");
    assert_string_equal(json_string_value(json_object_get(headers, "Retry-After")), "2");
    assert_string_equal(json_string_value(json_object_get(root, "body")), RESP_BODY);
    assert_true(json_is_false(json_object_get(root, "isBase64Encoded")));
}

static void test_encode_rest(void **state)
{
    (void)state;
    gda_http_response resp;
    make_response(&resp, 200, RESP_BODY);
    json_t *root = encode_parse(GDA_EVENT_APIGW_REST, &resp);
    check_envelope_common(root, 200);
    assert_int_equal(json_object_size(root), 4);
    assert_null(json_object_get(root, "statusDescription"));
    json_decref(root);
    gda_http_response_release(&resp);
}

static void test_encode_http_api(void **state)
{
    (void)state;
    gda_http_response resp;
    make_response(&resp, 503, RESP_BODY);
    json_t *root = encode_parse(GDA_EVENT_APIGW_HTTP, &resp);
    check_envelope_common(root, 503);
    assert_int_equal(json_object_size(root), 4);
    json_decref(root);
    gda_http_response_release(&resp);
}

static void test_encode_alb(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *desc;
    } cases[] = {
        {200, "200 OK"},
        {201, "201 Created"},
        {202, "202 Accepted"},
        {204, "204 No Content"},
        {400, "400 Bad Request"},
        {401, "401 Unauthorized"},
        {403, "403 Forbidden"},
        {404, "404 Not Found"},
        {405, "405 Method Not Allowed"},
        {409, "409 Conflict"},
        {413, "413 Payload Too Large"},
        {415, "415 Unsupported Media Type"},
        {422, "422 Unprocessable Content"},
        {429, "429 Too Many Requests"},
        {500, "500 Internal Server Error"},
        {502, "502 Bad Gateway"},
        {503, "503 Service Unavailable"},
        {504, "504 Gateway Timeout"},
        {299, "299 Unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gda_http_response resp;
        make_response(&resp, cases[i].status, RESP_BODY);
        json_t *root = encode_parse(GDA_EVENT_ALB, &resp);
        check_envelope_common(root, cases[i].status);
        assert_string_equal(json_string_value(json_object_get(root, "statusDescription")),
                            cases[i].desc);
        json_t *multi = json_object_get(root, "multiValueHeaders");
        assert_true(json_is_object(multi));
        json_t *ct = json_object_get(multi, "Content-Type");
        assert_int_equal(json_array_size(ct), 1);
        assert_string_equal(json_string_value(json_array_get(ct, 0)), "application/json");
        assert_int_equal(json_object_size(multi), 2);
        json_decref(root);
        gda_http_response_release(&resp);
    }
}

static void test_encode_direct_and_http(void **state)
{
    (void)state;
    gda_http_response resp;
    make_response(&resp, 200, RESP_BODY);
    const gda_event_kind kinds[] = {GDA_EVENT_DIRECT, GDA_EVENT_HTTP};
    for (size_t i = 0; i < 2; i++) {
        char *out = NULL;
        size_t out_len = 0;
        assert_int_equal(gda_event_encode(kinds[i], &resp, &out, &out_len, NULL), GDA_OK);
        assert_int_equal(out_len, resp.body_len);
        assert_memory_equal(out, resp.body, out_len);
        assert_int_equal(out[out_len], '\0');
        assert_ptr_not_equal(out, resp.body);
        free(out);
    }
    gda_http_response_release(&resp);

    /* No body at all: an empty string. */
    gda_http_response empty;
    memset(&empty, 0, sizeof empty);
    empty.status = 200;
    char *out = NULL;
    size_t out_len = 99;
    assert_int_equal(gda_event_encode(GDA_EVENT_DIRECT, &empty, &out, &out_len, NULL), GDA_OK);
    assert_int_equal(out_len, 0);
    assert_string_equal(out, "");
    free(out);
    json_t *root = encode_parse(GDA_EVENT_APIGW_REST, &empty);
    assert_string_equal(json_string_value(json_object_get(root, "body")), "");
    assert_int_equal(json_object_size(json_object_get(root, "headers")), 0);
    json_decref(root);
}

static void test_encode_errors(void **state)
{
    (void)state;
    gda_http_response resp;
    make_response(&resp, 200, "{}");
    char *out = (char *)"sentinel";
    size_t out_len = 5;
    gda_error err;
    assert_int_equal(gda_event_encode(GDA_EVENT_UNKNOWN, &resp, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_null(out);
    assert_int_equal(out_len, 0);
    assert_non_null(strstr(err.message, "unknown"));
    assert_int_equal(gda_event_encode((gda_event_kind)42, &resp, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_int_equal(gda_event_encode(GDA_EVENT_APIGW_REST, NULL, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_int_equal(gda_event_encode(GDA_EVENT_APIGW_REST, &resp, NULL, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_int_equal(gda_event_encode(GDA_EVENT_APIGW_REST, &resp, &out, NULL, &err),
                     GDA_ERR_INVALID_REQUEST);

    resp.status = 0;
    assert_int_equal(gda_event_encode(GDA_EVENT_APIGW_REST, &resp, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_string_equal(err.field, "statusCode");
    resp.status = 600;
    assert_int_equal(gda_event_encode(GDA_EVENT_ALB, &resp, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    /* The direct path carries only the body: the status is not encoded. */
    assert_int_equal(gda_event_encode(GDA_EVENT_DIRECT, &resp, &out, &out_len, &err), GDA_OK);
    free(out);
    resp.status = 200;

    static const char *const bad_utf8[] = {"\xff", "caf\xc3", "\xc0\xaf", "\xed\xa0\x80",
                                           "\xf4\x90\x80\x80", "\xe0\x80\x80"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        gda_http_response bad;
        make_response(&bad, 200, bad_utf8[i]);
        assert_int_equal(gda_event_encode(GDA_EVENT_APIGW_HTTP, &bad, &out, &out_len, &err),
                         GDA_ERR_INVALID_REQUEST);
        assert_string_equal(err.message, "response body is not valid UTF-8");
        gda_http_response_release(&bad);
    }

    gda_http_response nobody;
    memset(&nobody, 0, sizeof nobody);
    nobody.status = 200;
    nobody.body_len = 3;
    assert_int_equal(gda_event_encode(GDA_EVENT_DIRECT, &nobody, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);

    /* set_header does not judge encodings; the encoder must. */
    assert_int_equal(gda_http_response_set_header(&resp, "X-Name", "caf\xe9"), GDA_OK);
    assert_int_equal(gda_event_encode(GDA_EVENT_APIGW_REST, &resp, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_string_equal(err.message, "response header value is not valid UTF-8");
    assert_null(out);

    resp.n_headers = GDA_RESPONSE_MAX_HEADERS + 1;
    assert_int_equal(gda_event_encode(GDA_EVENT_APIGW_REST, &resp, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    resp.n_headers = 1;
    memset(resp.headers[0].value, 'v', sizeof resp.headers[0].value);
    assert_int_equal(gda_event_encode(GDA_EVENT_APIGW_REST, &resp, &out, &out_len, &err),
                     GDA_ERR_INVALID_REQUEST);
    gda_http_response_release(&resp);
}

static void test_encode_body_with_nul_and_multibyte(void **state)
{
    (void)state;
    static const char body[] = "{\"k\":\"a\0b \xe2\x82\xac \xf0\x9f\x98\x80\"}";
    gda_http_response resp;
    memset(&resp, 0, sizeof resp);
    resp.status = 200;
    resp.body_len = sizeof body - 1;
    resp.body = malloc(resp.body_len + 1);
    assert_non_null(resp.body);
    memcpy(resp.body, body, sizeof body);
    /* A NUL byte survives as \u0000 (the invoker decodes it back). */
    json_t *root = encode_parse_flags(GDA_EVENT_APIGW_REST, &resp, JSON_ALLOW_NUL);
    json_t *b = json_object_get(root, "body");
    assert_int_equal(json_string_length(b), resp.body_len);
    assert_memory_equal(json_string_value(b), body, resp.body_len);
    json_decref(root);
    gda_http_response_release(&resp);
}

/* Decode every supported sample, answer it, and check the answer has the
 * shape its invoker expects. */
static void test_round_trip_every_shape(void **state)
{
    (void)state;
    static const char *const files[] = {"apigw-rest.json", "apigw-rest-base64.json",
                                        "apigw-http.json", "function-url.json",
                                        "alb.json",        "alb-multivalue.json",
                                        "direct.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        gda_http_request req;
        gda_error err;
        if (decode_file(files[i], &req, &err) != GDA_OK)
            fail_msg("%s: %s", files[i], err.message);
        gda_http_response resp;
        make_response(&resp, 200, RESP_BODY);
        char *out = NULL;
        size_t out_len = 0;
        assert_int_equal(gda_event_encode(req.kind, &resp, &out, &out_len, &err), GDA_OK);
        if (req.kind == GDA_EVENT_DIRECT) {
            assert_int_equal(out_len, strlen(RESP_BODY));
            assert_memory_equal(out, RESP_BODY, out_len);
        } else {
            json_t *root = json_loadb(out, out_len, JSON_REJECT_DUPLICATES, NULL);
            assert_non_null(root);
            check_envelope_common(root, 200);
            assert_int_equal(json_object_get(root, "statusDescription") != NULL,
                             req.kind == GDA_EVENT_ALB);
            json_decref(root);
        }
        free(out);
        gda_http_response_release(&resp);
        gda_http_request_release(&req);
    }
}

/* ---- API Gateway authorizer events -------------------------------------- */

#define AUTHZ_ARN "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/genesys/dataaction"

/* Decode from a heap copy that is wiped at once, as decode_str does. */
static gda_status decode_authorizer(const char *json, size_t max_event, gda_authorizer_event *ev,
                                    gda_error *err)
{
    size_t len = strlen(json);
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, json, len + 1);
    gda_status s = gda_authorizer_event_decode(copy, len, max_event, ev, err);
    memset(copy, 'Z', len);
    free(copy);
    return s;
}

static void expect_authorizer_error(const char *json, size_t max_event, gda_status code,
                                    const char *field, const char *needle)
{
    gda_authorizer_event ev;
    gda_error err;
    gda_status s = decode_authorizer(json, max_event, &ev, &err);
    if (s != code)
        fail_msg("want %d, got %d (%s) for %s", code, s, err.message, json);
    assert_int_equal(err.code, code);
    if (field)
        assert_string_equal(err.field, field);
    else
        assert_string_equal(err.field, "");
    if (!strstr(err.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
    /* left empty, and releasing it is harmless */
    assert_null(ev.storage);
    assert_null(ev.headers);
    assert_int_equal(ev.n_headers, 0);
    assert_null(ev.method_arn.ptr);
    gda_authorizer_event_release(&ev);
}

/* A file decoded as an authorizer event of the given type, for the test
 * ARN; its bytes are wiped and freed at once, so the event must own
 * everything it points into. */
static void authorizer_file(const char *name, gda_authorizer_type type, gda_authorizer_event *ev)
{
    file_buf fb = load_event(name);
    gda_error err;
    gda_status s = gda_authorizer_event_decode(fb.ptr, fb.len, 0, ev, &err);
    memset(fb.ptr, 'Z', fb.len);
    free(fb.ptr);
    if (s != GDA_OK)
        fail_msg("%s: %d (%s)", name, s, err.message);
    assert_int_equal(ev->type, type);
    assert_slice_equal(ev->method_arn, AUTHZ_ARN);
}

/* json decoded as an authorizer event, which must succeed. */
static void authorizer_str(const char *json, gda_authorizer_event *ev)
{
    gda_error err;
    gda_status s = decode_authorizer(json, 0, ev, &err);
    if (s != GDA_OK)
        fail_msg("%d (%s) for %s", s, err.message, json);
}

static void test_authorizer_token_event(void **state)
{
    (void)state;
    gda_authorizer_event ev;
    authorizer_file("authorizer-token.json", GDA_AUTHORIZER_TOKEN, &ev);
    assert_slice_equal(ev.token, "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x");
    assert_null(ev.headers);
    assert_int_equal(ev.n_headers, 0);
    gda_authorizer_event_release(&ev);
    assert_null(ev.storage);
    assert_null(ev.method_arn.ptr);

    /* no authorizationToken, or not a string: no token (the verifier then
     * finds the credential missing); an empty one is still there */
    authorizer_str("{\"type\":\"TOKEN\",\"methodArn\":\"" AUTHZ_ARN "\"}", &ev);
    assert_null(ev.token.ptr);
    gda_authorizer_event_release(&ev);
    authorizer_str("{\"type\":\"TOKEN\",\"authorizationToken\":7,"
                   "\"methodArn\":\"" AUTHZ_ARN "\"}", &ev);
    assert_null(ev.token.ptr);
    gda_authorizer_event_release(&ev);
    authorizer_str("{\"type\":\"TOKEN\",\"authorizationToken\":\"\","
                   "\"methodArn\":\"" AUTHZ_ARN "\"}", &ev);
    assert_non_null(ev.token.ptr);
    assert_int_equal(ev.token.len, 0);
    gda_authorizer_event_release(&ev);
}

/* ev's headers are exactly the n name/value pairs given, in order. */
static void expect_headers(const gda_authorizer_event *ev, size_t n, const char *const pairs[])
{
    assert_int_equal(ev->n_headers, n);
    for (size_t i = 0; i < n; i++) {
        assert_slice_equal(ev->headers[i].name, pairs[2 * i]);
        assert_slice_equal(ev->headers[i].value, pairs[2 * i + 1]);
    }
}

static void test_authorizer_request_event(void **state)
{
    (void)state;
    /* multiValueHeaders wins over headers, so the repeat stays countable */
    gda_authorizer_event ev;
    authorizer_file("authorizer-request.json", GDA_AUTHORIZER_REQUEST, &ev);
    assert_null(ev.token.ptr);
    const char *const from_file[] = {
        "Host", "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
        "X-Genesys-Signature", "Zmlyc3QtdmFsdWU=",
        "X-Genesys-Signature", "c2Vjb25kLXZhbHVl",
        "Content-Type", "application/json",
    };
    expect_headers(&ev, 4, from_file);
    gda_authorizer_event_release(&ev);

    static const struct {
        const char *members; /* after type and methodArn */
        size_t n;
        const char *pairs[4];
    } cases[] = {
        /* headers alone; values of another JSON type are left out */
        {"\"headers\":{\"a\":\"1\",\"b\":2,\"c\":null,\"d\":\"4\"}", 2, {"a", "1", "d", "4"}},
        /* so is a multiValueHeaders entry that is not an array */
        {"\"multiValueHeaders\":{\"a\":\"1\",\"b\":[\"2\",3]},\"headers\":{\"a\":\"1\"}", 1,
         {"b", "2"}},
        /* headers of the wrong type, or none: no headers */
        {"\"headers\":[\"x\"]", 0, {NULL}},
        {"\"multiValueHeaders\":null,\"headers\":{\"z\":\"9\"}", 1, {"z", "9"}},
        {"\"pathParameters\":{}", 0, {NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512];
        snprintf(json, sizeof json, "{\"type\":\"REQUEST\",\"methodArn\":\"%s\",%s}", AUTHZ_ARN,
                 cases[i].members);
        authorizer_str(json, &ev);
        expect_headers(&ev, cases[i].n, cases[i].pairs);
        gda_authorizer_event_release(&ev);
    }
}

/* {"type":"REQUEST","methodArn":ARN,"headers":{"h0":"v",...}} with n headers. */
static char *request_with_headers(size_t n)
{
    size_t cap = 128 + sizeof AUTHZ_ARN + n * 16;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t len = (size_t)snprintf(s, cap, "{\"type\":\"REQUEST\",\"methodArn\":\"%s\",\"headers\":{",
                                  AUTHZ_ARN);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s\"h%zu\":\"v\"", i ? "," : "", i);
    snprintf(s + len, cap - len, "}}");
    return s;
}

static void test_authorizer_event_errors(void **state)
{
    (void)state;
    const char *arn = "\"methodArn\":\"" AUTHZ_ARN "\"";
    char buf[512];
    /* missing, mistyped or unusable methodArn */
    expect_authorizer_error("{\"type\":\"TOKEN\",\"authorizationToken\":\"t\"}", 0,
                            GDA_ERR_INVALID_REQUEST, "methodArn", "methodArn");
    expect_authorizer_error("{\"type\":\"TOKEN\",\"methodArn\":42}", 0, GDA_ERR_INVALID_REQUEST,
                            "methodArn", "methodArn");
    expect_authorizer_error("{\"type\":\"TOKEN\",\"methodArn\":null}", 0,
                            GDA_ERR_INVALID_REQUEST, "methodArn", "methodArn");
    const char *bad_arns[] = {
        "*",
        "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*",
        "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/?",
        "arn:aws:s3:::bucket/key/more/stuff",
        "arn:aws:execute-api:eu-west-1:123456789012:no-slash-here",
        "arn:aws:execute-api:eu-west-1:123 456789012:a1b2c3d4e5/prod/POST/x",
        "ARN:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/x",
        "arn:short",
    };
    for (size_t i = 0; i < sizeof bad_arns / sizeof bad_arns[0]; i++) {
        snprintf(buf, sizeof buf, "{\"type\":\"TOKEN\",\"methodArn\":\"%s\"}", bad_arns[i]);
        expect_authorizer_error(buf, 0, GDA_ERR_INVALID_REQUEST, "methodArn", "execute-api");
    }
    /* a methodArn over 2048 bytes */
    char *long_arn = malloc(2200);
    assert_non_null(long_arn);
    int n = snprintf(long_arn, 2200, "{\"type\":\"TOKEN\",\"methodArn\":\"%s/", AUTHZ_ARN);
    memset(long_arn + n, 'a', 2100 - (size_t)n);
    snprintf(long_arn + 2100, 100, "\"}");
    expect_authorizer_error(long_arn, 0, GDA_ERR_INVALID_REQUEST, "methodArn", "methodArn");
    free(long_arn);

    /* wrong, missing or mistyped type (methodArn is fine) */
    const char *bad_types[] = {"\"COOKIE\"", "\"token\"", "\"\"", "7", "null", "[\"TOKEN\"]"};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        snprintf(buf, sizeof buf, "{\"type\":%s,%s}", bad_types[i], arn);
        expect_authorizer_error(buf, 0, GDA_ERR_INVALID_REQUEST, "type", "TOKEN or REQUEST");
    }
    snprintf(buf, sizeof buf, "{%s}", arn);
    expect_authorizer_error(buf, 0, GDA_ERR_INVALID_REQUEST, "type", "TOKEN or REQUEST");
    /* methodArn is judged first */
    expect_authorizer_error("{\"type\":\"COOKIE\"}", 0, GDA_ERR_INVALID_REQUEST, "methodArn",
                            "methodArn");

    /* not a JSON object; not (strict) JSON */
    expect_authorizer_error("[]", 0, GDA_ERR_INVALID_REQUEST, NULL, "not a JSON object");
    expect_authorizer_error("\"TOKEN\"", 0, GDA_ERR_INVALID_REQUEST, NULL, "not a JSON object");
    expect_authorizer_error("{\"type\":", 0, GDA_ERR_INVALID_REQUEST, NULL, "not a JSON object");
    snprintf(buf, sizeof buf, "{\"type\":\"TOKEN\",\"type\":\"REQUEST\",%s}", arn);
    expect_authorizer_error(buf, 0, GDA_ERR_INVALID_REQUEST, NULL, "not a JSON object");
    expect_authorizer_error("", 0, GDA_ERR_INVALID_REQUEST, NULL, "not a JSON object");

    /* oversized: the event, before parsing; too many headers */
    snprintf(buf, sizeof buf, "{\"type\":\"TOKEN\",%s}", arn);
    expect_authorizer_error(buf, 50, GDA_ERR_PAYLOAD_TOO_LARGE, NULL, "50-byte limit");
    char *many = request_with_headers(GDA_AUTHORIZER_MAX_HEADERS + 1);
    expect_authorizer_error(many, 0, GDA_ERR_INVALID_REQUEST, "headers", "too many headers");
    free(many);
    many = request_with_headers(GDA_AUTHORIZER_MAX_HEADERS);
    gda_authorizer_event ev;
    gda_error err;
    authorizer_str(many, &ev);
    assert_int_equal(ev.n_headers, GDA_AUTHORIZER_MAX_HEADERS);
    gda_authorizer_event_release(&ev);
    free(many);
    /* repeats in multiValueHeaders count one by one */
    snprintf(buf, sizeof buf, "{\"type\":\"REQUEST\",%s,\"multiValueHeaders\":{\"a\":[", arn);
    size_t len = strlen(buf);
    char *repeats = malloc(len + (GDA_AUTHORIZER_MAX_HEADERS + 1) * 4 + 8);
    assert_non_null(repeats);
    memcpy(repeats, buf, len);
    for (size_t i = 0; i <= GDA_AUTHORIZER_MAX_HEADERS; i++) {
        memcpy(repeats + len, i ? ",\"v\"" : "\"v\"", i ? 4 : 3);
        len += i ? 4 : 3;
    }
    memcpy(repeats + len, "]}}", 4);
    expect_authorizer_error(repeats, 0, GDA_ERR_INVALID_REQUEST, "headers", "too many headers");
    free(repeats);

    /* bad arguments */
    assert_int_equal(gda_authorizer_event_decode("{}", 2, 0, NULL, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_int_equal(gda_authorizer_event_decode(NULL, 5, 0, &ev, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_null(ev.storage);
    gda_authorizer_event_release(&ev);
    gda_authorizer_event_release(NULL);
}

/* An authorizer event is not a request, and a request is not an
 * authorizer event: each decoder refuses the other's. */
static void test_authorizer_and_request_decoders_disagree(void **state)
{
    (void)state;
    expect_file_error("authorizer-request.json", GDA_ERR_UNKNOWN_EVENT, "authorizer");
    file_buf fb = load_event("apigw-rest.json");
    gda_authorizer_event ev;
    gda_error err;
    assert_int_equal(gda_authorizer_event_decode(fb.ptr, fb.len, 0, &ev, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_string_equal(err.field, "methodArn");
    free(fb.ptr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_envelope),
        cmocka_unit_test(test_rest_prefers_multivalue_headers),
        cmocka_unit_test(test_header_lookup_case_insensitive),
        cmocka_unit_test(test_rest_query_rebuilt_and_encoded),
        cmocka_unit_test(test_rest_single_value_fallbacks),
        cmocka_unit_test(test_rest_minimal),
        cmocka_unit_test(test_rest_base64_body),
        cmocka_unit_test(test_http_api_v2),
        cmocka_unit_test(test_function_url),
        cmocka_unit_test(test_http_v2_path_fallback_and_empty_cookies),
        cmocka_unit_test(test_alb),
        cmocka_unit_test(test_alb_multivalue),
        cmocka_unit_test(test_direct),
        cmocka_unit_test(test_direct_custom_fields_stay_direct),
        cmocka_unit_test(test_direct_depth_limit),
        cmocka_unit_test(test_unknown_event_files),
        cmocka_unit_test(test_unknown_event_inline),
        cmocka_unit_test(test_envelope_field_types),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_invalid_json_parser_depth),
        cmocka_unit_test(test_invalid_json_raw_nul_byte),
        cmocka_unit_test(test_errors_never_echo_input),
        cmocka_unit_test(test_base64_invalid),
        cmocka_unit_test(test_base64_variants),
        cmocka_unit_test(test_base64_null_body_is_empty),
        cmocka_unit_test(test_header_injection),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_release_is_safe),
        cmocka_unit_test(test_header_helpers_null_safe),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_encode_rest),
        cmocka_unit_test(test_encode_http_api),
        cmocka_unit_test(test_encode_alb),
        cmocka_unit_test(test_encode_direct_and_http),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_encode_body_with_nul_and_multibyte),
        cmocka_unit_test(test_round_trip_every_shape),
        cmocka_unit_test(test_authorizer_token_event),
        cmocka_unit_test(test_authorizer_request_event),
        cmocka_unit_test(test_authorizer_event_errors),
        cmocka_unit_test(test_authorizer_and_request_decoders_disagree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
