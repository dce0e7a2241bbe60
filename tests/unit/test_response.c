/* Tests for include/gda/response.h: the Genesys response contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include <gda/event.h>
#include <gda/response.h>
#include <gda/status.h>

/* 2026-11-24T10:00:00.123Z */
#define NOW_MS INT64_C(1795514400123)

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        fail_msg("test JSON does not parse: %s", jerr.text);
    return v;
}

/* The body is exactly `expected`, NUL-terminated, and Content-Type leads. */
static void assert_body(const gda_http_response *r, const char *expected)
{
    assert_non_null(r->body);
    assert_int_equal(r->body_len, strlen(expected));
    assert_memory_equal(r->body, expected, r->body_len);
    assert_int_equal(r->body[r->body_len], '\0');
    assert_true(r->n_headers >= 1);
    assert_string_equal(r->headers[0].name, "Content-Type");
    assert_string_equal(r->headers[0].value, GDA_RESPONSE_CONTENT_TYPE);
}

/* A response already holding a body and headers, to prove builders release
 * and reset what was there. */
static void prefill(gda_http_response *r)
{
    gda_error err;
    assert_int_equal(gda_response_accepted(r, "old", "/old", 0, &err), GDA_OK);
    assert_int_equal(gda_http_response_set_header(r, "X-Stale", "1"), GDA_OK);
}

static void assert_released(const gda_http_response *r)
{
    assert_null(r->body);
    assert_int_equal(r->body_len, 0);
    assert_int_equal(r->n_headers, 0);
    assert_int_equal(r->status, 0);
}

/* ---- timestamps ---------------------------------------------------------- */

/* The time a 200 body carries for now_ms. */
static void check_time(int64_t ms, const char *expected)
{
    gda_http_response r = {0};
    gda_error err;
    assert_int_equal(gda_response_completed(&r, NULL, NULL, ms, &err), GDA_OK);
    json_t *body = json_loadb(r.body, r.body_len, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "processedAt")), expected);
    json_decref(body);
    gda_http_response_release(&r);
}

static void test_timestamp_format(void **state)
{
    (void)state;
    check_time(0, "1970-01-01T00:00:00.000Z");
    check_time(NOW_MS, "2026-11-24T10:00:00.123Z");
    check_time(INT64_C(1709251199999), "2024-02-29T23:59:59.999Z"); /* leap day */
    check_time(INT64_C(1709251200000), "2024-03-01T00:00:00.000Z");
    check_time(INT64_C(951827696007), "2000-02-29T12:34:56.007Z"); /* 400-year leap */
    check_time(INT64_C(4107542399999), "2100-02-28T23:59:59.999Z"); /* 2100: no leap */
    check_time(INT64_C(4107542400000), "2100-03-01T00:00:00.000Z");
    check_time(INT64_C(946684799999), "1999-12-31T23:59:59.999Z");
    check_time(INT64_C(946684800000), "2000-01-01T00:00:00.000Z");
    check_time(INT64_C(1000), "1970-01-01T00:00:01.000Z");
    check_time(INT64_C(61), "1970-01-01T00:00:00.061Z");
    if (sizeof(time_t) >= 8)
        check_time(GDA_TIMESTAMP_MAX_MS, "9999-12-31T23:59:59.999Z");
}

static void test_timestamp_out_of_range(void **state)
{
    (void)state;
    /* A broken clock is the library's problem, never the caller's: 500. */
    static const int64_t bad[] = {-1, GDA_TIMESTAMP_MAX_MS + 1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gda_http_response r = {0};
        gda_error err;
        assert_int_equal(gda_response_completed(&r, NULL, "r", bad[i], &err), GDA_ERR_INTERNAL);
        assert_int_equal(err.code, GDA_ERR_INTERNAL);
        assert_null(r.body);
        assert_int_equal(gda_response_accepted(&r, "r", "/p", bad[i], NULL), GDA_ERR_INTERNAL);
        assert_null(r.body);
    }
}

/* ---- 200 completed ------------------------------------------------------- */

static void test_completed_exact_bytes(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error err;
    json_t *data = parse("{\"customerName\":\"Ada\",\"tier\":\"gold\",\"score\":42,"
                         "\"vip\":true,\"note\":null,\"balance\":12.5}");
    assert_int_equal(gda_response_completed(&r, data, "req-123", NOW_MS, &err), GDA_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.code, GDA_OK);
    assert_int_equal(r.n_headers, 1);
    assert_body(&r, "{\"status\":\"completed\",\"data\":{\"customerName\":\"Ada\",\"tier\":\"gold\","
                    "\"score\":42,\"vip\":true,\"note\":null,\"balance\":12.5},"
                    "\"requiresRetry\":false,\"processedAt\":\"2026-11-24T10:00:00.123Z\","
                    "\"requestId\":\"req-123\"}");
    gda_http_response_release(&r);
    json_decref(data);
}

static void test_completed_null_data_and_no_request_id(void **state)
{
    (void)state;
    gda_http_response r = {0};
    assert_int_equal(gda_response_completed(&r, NULL, NULL, 0, NULL), GDA_OK);
    assert_body(&r, "{\"status\":\"completed\",\"data\":{},\"requiresRetry\":false,"
                    "\"processedAt\":\"1970-01-01T00:00:00.000Z\"}");
    assert_int_equal(gda_response_completed(&r, NULL, "", 0, NULL), GDA_OK);
    assert_body(&r, "{\"status\":\"completed\",\"data\":{},\"requiresRetry\":false,"
                    "\"processedAt\":\"1970-01-01T00:00:00.000Z\"}");
    gda_http_response_release(&r);
}

static void test_completed_nested_keeps_order_and_is_deterministic(void **state)
{
    (void)state;
    gda_http_response a = {0}, b = {0};
    json_t *data = parse("{\"z\":{\"y\":[1,{\"x\":\"\\u00e9\"}],\"a\":\"\"},\"b\":-7}");
    assert_int_equal(gda_response_completed(&a, data, "r", NOW_MS, NULL), GDA_OK);
    assert_body(&a, "{\"status\":\"completed\",\"data\":{\"z\":{\"y\":[1,{\"x\":\"\xc3\xa9\"}],"
                    "\"a\":\"\"},\"b\":-7},\"requiresRetry\":false,"
                    "\"processedAt\":\"2026-11-24T10:00:00.123Z\",\"requestId\":\"r\"}");
    assert_int_equal(gda_response_completed(&b, data, "r", NOW_MS, NULL), GDA_OK);
    assert_int_equal(a.body_len, b.body_len);
    assert_memory_equal(a.body, b.body, a.body_len);
    gda_http_response_release(&a);
    gda_http_response_release(&b);
    json_decref(data);
}

static void test_completed_reuses_response(void **state)
{
    (void)state;
    gda_http_response r = {0};
    prefill(&r);
    assert_int_equal(gda_response_completed(&r, NULL, "new", 0, NULL), GDA_OK);
    /* The stale Location and X-Stale headers are gone. */
    assert_int_equal(r.n_headers, 1);
    assert_null(gda_http_response_header(&r, "Location"));
    assert_null(gda_http_response_header(&r, "X-Stale"));
    assert_body(&r, "{\"status\":\"completed\",\"data\":{},\"requiresRetry\":false,"
                    "\"processedAt\":\"1970-01-01T00:00:00.000Z\",\"requestId\":\"new\"}");
    gda_http_response_release(&r);
}

static void test_completed_rejects_bad_input(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error err;
    json_t *arr = parse("[1,2]");
    json_t *str = json_string("x");

    prefill(&r);
    assert_int_equal(gda_response_completed(&r, arr, "r", NOW_MS, &err), GDA_ERR_INTERNAL);
    assert_int_equal(err.code, GDA_ERR_INTERNAL);
    assert_string_equal(err.field, "data");
    assert_released(&r);

    assert_int_equal(gda_response_completed(&r, str, "r", NOW_MS, &err), GDA_ERR_INTERNAL);
    assert_released(&r);

    prefill(&r);
    assert_int_equal(gda_response_completed(&r, NULL, "bad\xff", NOW_MS, &err),
                     GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "requestId");
    assert_released(&r);

    /* Overlong encoding of '/' and a UTF-16 surrogate are not UTF-8. */
    assert_int_equal(gda_response_completed(&r, NULL, "\xc0\xaf", NOW_MS, &err),
                     GDA_ERR_INVALID_FIELD);
    assert_int_equal(gda_response_completed(&r, NULL, "\xed\xa0\x80", NOW_MS, &err),
                     GDA_ERR_INVALID_FIELD);

    prefill(&r);
    assert_int_equal(gda_response_completed(&r, NULL, "r", -5, &err), GDA_ERR_INTERNAL);
    assert_released(&r);

    assert_int_equal(gda_response_completed(NULL, NULL, "r", NOW_MS, &err), GDA_ERR_INTERNAL);
    json_decref(arr);
    json_decref(str);
}

static void test_request_id_escaping(void **state)
{
    (void)state;
    /* Quote, backslash, slash, newline, tab, a control byte, DEL, two-,
     * three- and four-byte UTF-8. */
    const char *id = "a\"b\\c/d\ne\tf\x01g\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    gda_http_response r = {0};
    assert_int_equal(gda_response_completed(&r, NULL, id, NOW_MS, NULL), GDA_OK);
    assert_body(&r, "{\"status\":\"completed\",\"data\":{},\"requiresRetry\":false,"
                    "\"processedAt\":\"2026-11-24T10:00:00.123Z\",\"requestId\":"
                    "\"a\\\"b\\\\c/d\\ne\\tf\\u0001g\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}");
    json_t *back = parse(r.body);
    assert_string_equal(json_string_value(json_object_get(back, "requestId")), id);
    json_decref(back);

    gda_error e;
    gda_error_set(&e, GDA_ERR_INVALID_FIELD, "callerId", "callerId must be E.164");
    assert_int_equal(gda_response_error(&r, &e, id, 0, NULL), GDA_OK);
    back = parse(r.body);
    assert_string_equal(json_string_value(json_object_get(back, "requestId")), id);
    json_decref(back);

    assert_int_equal(gda_response_accepted(&r, id, "/poll?id=\"x\"", NOW_MS, NULL), GDA_OK);
    back = parse(r.body);
    assert_string_equal(json_string_value(json_object_get(back, "requestId")), id);
    assert_string_equal(json_string_value(json_object_get(back, "pollUrl")), "/poll?id=\"x\"");
    json_decref(back);
    gda_http_response_release(&r);
}

/* ---- 202 accepted -------------------------------------------------------- */

static void test_accepted_exact_bytes_and_location(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error err;
    const char *url = "https://api.example.com/genesys/status/req-9?x=1&y=%20";
    assert_int_equal(gda_response_accepted(&r, "req-9", url, NOW_MS, &err), GDA_OK);
    assert_int_equal(r.status, 202);
    assert_int_equal(r.code, GDA_ACCEPTED);
    assert_body(&r, "{\"status\":\"accepted\",\"requestId\":\"req-9\",\"pollUrl\":"
                    "\"https://api.example.com/genesys/status/req-9?x=1&y=%20\","
                    "\"requiresRetry\":false,\"acceptedAt\":\"2026-11-24T10:00:00.123Z\"}");
    assert_int_equal(r.n_headers, 2);
    assert_string_equal(r.headers[1].name, "Location");
    assert_string_equal(r.headers[1].value, url);
    assert_null(gda_http_response_header(&r, "Retry-After"));
    gda_http_response_release(&r);
}

static void test_accepted_rejects_header_injection(void **state)
{
    (void)state;
    const char *bad[] = {
        "https://x/y\r\nSet-Cookie: a=b",
        "https://x/y\nX: 1",
        "https://x/y\rX: 1",
        "https://x/y z",
        "https://x/\x01",
        "https://x/\x7f",
        "https://x/\xc3\xa9",
        "",
    };
    gda_http_response r = {0};
    gda_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        prefill(&r);
        assert_int_equal(gda_response_accepted(&r, "req", bad[i], NOW_MS, &err),
                         GDA_ERR_INVALID_REQUEST);
        assert_int_equal(err.code, GDA_ERR_INVALID_REQUEST);
        assert_string_equal(err.field, "pollUrl");
        assert_released(&r);
    }

    /* The longest URL a header can carry passes; one byte more does not. */
    char url[GDA_RESPONSE_HEADER_VALUE_SIZE + 1];
    memset(url, 'a', sizeof url);
    url[0] = '/';
    url[GDA_RESPONSE_HEADER_VALUE_SIZE - 1] = '\0';
    assert_int_equal(gda_response_accepted(&r, "req", url, NOW_MS, &err), GDA_OK);
    assert_string_equal(gda_http_response_header(&r, "Location"), url);
    url[GDA_RESPONSE_HEADER_VALUE_SIZE - 1] = 'a';
    url[GDA_RESPONSE_HEADER_VALUE_SIZE] = '\0';
    assert_int_equal(gda_response_accepted(&r, "req", url, NOW_MS, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_released(&r);
}

static void test_accepted_requires_request_id(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error err;
    /* NULL is a programming error (500); what a caller sent is a 400. */
    assert_int_equal(gda_response_accepted(&r, NULL, "/p", NOW_MS, &err), GDA_ERR_INTERNAL);
    assert_string_equal(err.field, "requestId");
    assert_int_equal(gda_response_accepted(&r, "r", NULL, NOW_MS, &err), GDA_ERR_INTERNAL);
    assert_string_equal(err.field, "pollUrl");
    assert_int_equal(gda_response_accepted(&r, "", "/p", NOW_MS, &err), GDA_ERR_INVALID_FIELD);
    assert_int_equal(gda_response_accepted(&r, "\xff", "/p", NOW_MS, &err),
                     GDA_ERR_INVALID_FIELD);
    assert_int_equal(gda_response_accepted(&r, "r", "/p", GDA_TIMESTAMP_MAX_MS + 1, &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_response_accepted(NULL, "r", "/p", NOW_MS, &err), GDA_ERR_INTERNAL);
    assert_released(&r);
}

/* ---- errors -------------------------------------------------------------- */

typedef struct expected_error {
    gda_status code;
    int http;
    const char *name;
} expected_error;

/* Written out independently of lib/status.c so a drift there shows here. */
static const expected_error every_error[] = {
    {GDA_ERR_INVALID_REQUEST, 400, "invalid_request"},
    {GDA_ERR_INVALID_JSON, 400, "invalid_json"},
    {GDA_ERR_INVALID_FIELD, 400, "invalid_field"},
    {GDA_ERR_UNKNOWN_EVENT, 400, "unknown_event"},
    {GDA_ERR_UNAUTHORIZED, 401, "unauthorized"},
    {GDA_ERR_FORBIDDEN, 403, "forbidden"},
    {GDA_ERR_NOT_FOUND, 404, "not_found"},
    {GDA_ERR_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
    {GDA_ERR_IN_PROGRESS, 409, "in_progress"},
    {GDA_ERR_PAYLOAD_TOO_LARGE, 413, "payload_too_large"},
    {GDA_ERR_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type"},
    {GDA_ERR_PAYLOAD_MISMATCH, 422, "idempotency_key_reused"},
    {GDA_ERR_UNPROCESSABLE, 422, "unprocessable"},
    {GDA_ERR_RATE_LIMITED, 429, "rate_limited"},
    {GDA_ERR_INTERNAL, 500, "internal_error"},
    {GDA_ERR_NOMEM, 500, "out_of_memory"},
    {GDA_ERR_CONFIG, 500, "configuration_error"},
    {GDA_ERR_INTEGRITY, 500, "integrity_error"},
    {GDA_ERR_UNAVAILABLE, 503, "service_unavailable"},
    {GDA_ERR_STORE, 503, "store_unavailable"},
    {GDA_ERR_BUSY, 503, "in_progress_retry"},
    {GDA_ERR_TIMEOUT, 504, "timeout"},
};

static void test_error_every_code(void **state)
{
    (void)state;
    gda_http_response r = {0};
    for (size_t i = 0; i < sizeof every_error / sizeof every_error[0]; i++) {
        const expected_error *x = &every_error[i];
        gda_error e, err;
        gda_error_set(&e, x->code, "queueId", "queueId detail for %s", x->name);
        assert_int_equal(gda_response_error(&r, &e, "req-7", 17, &err), GDA_OK);
        assert_int_equal(r.status, x->http);
        assert_int_equal(r.code, x->code);
        assert_string_equal(r.headers[0].name, "Content-Type");
        assert_int_equal(r.body[r.body_len], '\0');

        json_t *body = parse(r.body);
        assert_string_equal(json_string_value(json_object_get(body, "status")), "error");
        json_t *error = json_object_get(body, "error");
        assert_string_equal(json_string_value(json_object_get(error, "code")), x->name);
        const char *message = json_string_value(json_object_get(error, "message"));
        assert_non_null(message);
        assert_true(strlen(message) > 0);
        /* 4xx: false, 5xx: true — Genesys retries exactly the 5xx. */
        assert_true(json_is_boolean(json_object_get(body, "requiresRetry")));
        assert_int_equal(json_is_true(json_object_get(body, "requiresRetry")), x->http >= 500);
        assert_string_equal(json_string_value(json_object_get(body, "requestId")), "req-7");

        bool generic = x->http >= 500 || x->http == 401;
        if (generic) {
            assert_null(strstr(r.body, "detail"));
            assert_null(json_object_get(error, "field"));
        } else {
            assert_non_null(strstr(message, "queueId detail"));
            assert_string_equal(json_string_value(json_object_get(error, "field")), "queueId");
        }

        const char *retry_after = gda_http_response_header(&r, "Retry-After");
        if (x->http == 429 || x->http == 503) {
            assert_non_null(retry_after);
            assert_string_equal(retry_after, "17");
            assert_int_equal(r.n_headers, 2);
        } else {
            assert_null(retry_after);
            assert_int_equal(r.n_headers, 1);
        }
        json_decref(body);
    }
    gda_http_response_release(&r);
}

static void test_error_exact_bytes(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error e;
    gda_error_set(&e, GDA_ERR_INVALID_FIELD, "callerId", "callerId must be E.164");
    assert_int_equal(gda_response_error(&r, &e, "r-1", 0, NULL), GDA_OK);
    assert_int_equal(r.status, 400);
    assert_body(&r, "{\"status\":\"error\",\"error\":{\"code\":\"invalid_field\","
                    "\"message\":\"callerId must be E.164\",\"field\":\"callerId\"},"
                    "\"requiresRetry\":false,\"requestId\":\"r-1\"}");

    /* No field, no request id: both members are left out. */
    gda_error_set(&e, GDA_ERR_PAYLOAD_TOO_LARGE, NULL, "body exceeds 262144 bytes");
    assert_int_equal(gda_response_error(&r, &e, NULL, 0, NULL), GDA_OK);
    assert_int_equal(r.status, 413);
    assert_body(&r, "{\"status\":\"error\",\"error\":{\"code\":\"payload_too_large\","
                    "\"message\":\"body exceeds 262144 bytes\"},\"requiresRetry\":false}");

    gda_error_set(&e, GDA_ERR_STORE, "table", "DynamoDB throttled on table gda-prod");
    assert_int_equal(gda_response_error(&r, &e, "r-2", 0, NULL), GDA_OK);
    assert_int_equal(r.status, 503);
    assert_body(&r, "{\"status\":\"error\",\"error\":{\"code\":\"store_unavailable\","
                    "\"message\":\"service temporarily unavailable, retry later\"},"
                    "\"requiresRetry\":true,\"requestId\":\"r-2\"}");
    assert_string_equal(gda_http_response_header(&r, "Retry-After"), "1");
    gda_http_response_release(&r);
}

static void test_error_401_is_always_generic(void **state)
{
    (void)state;
    const char *messages[] = {
        "signature mismatch for key k1",
        "token expired at 2026-11-24T10:00:00Z",
        "missing X-Genesys-Secret header",
        "",
    };
    const char *expected = "{\"status\":\"error\",\"error\":{\"code\":\"unauthorized\","
                           "\"message\":\"authentication required\"},"
                           "\"requiresRetry\":false,\"requestId\":\"r-1\"}";
    gda_http_response r = {0};
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        gda_error e;
        gda_error_set(&e, GDA_ERR_UNAUTHORIZED, i % 2 ? "X-Signature" : NULL, "%s",
                      messages[i]);
        assert_int_equal(gda_response_error(&r, &e, "r-1", 30, NULL), GDA_OK);
        assert_int_equal(r.status, 401);
        assert_body(&r, expected);
        assert_null(gda_http_response_header(&r, "Retry-After"));
    }
    gda_http_response_release(&r);
}

static void test_error_500_is_generic(void **state)
{
    (void)state;
    const gda_status internal[] = {GDA_ERR_INTERNAL, GDA_ERR_NOMEM, GDA_ERR_CONFIG,
                                   GDA_ERR_INTEGRITY};
    gda_http_response r = {0};
    for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++) {
        gda_error e;
        gda_error_set(&e, internal[i], "dataKey",
                      "sqlite: /var/lib/gda/secret.db corrupt, key=hunter2");
        assert_int_equal(gda_response_error(&r, &e, NULL, 0, NULL), GDA_OK);
        assert_int_equal(r.status, 500);
        assert_null(strstr(r.body, "sqlite"));
        assert_null(strstr(r.body, "hunter2"));
        assert_null(strstr(r.body, "dataKey"));
        assert_null(gda_http_response_header(&r, "Retry-After"));
    }
    assert_body(&r, "{\"status\":\"error\",\"error\":{\"code\":\"integrity_error\","
                    "\"message\":\"internal error\"},\"requiresRetry\":true}");
    gda_http_response_release(&r);
}

static void test_error_retry_after_only_on_429_and_503(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error e;
    gda_error_set(&e, GDA_ERR_RATE_LIMITED, NULL, "slow down");
    assert_int_equal(gda_response_error(&r, &e, NULL, 0, NULL), GDA_OK);
    assert_string_equal(gda_http_response_header(&r, "Retry-After"), "1");
    assert_int_equal(gda_response_error(&r, &e, NULL, -40, NULL), GDA_OK);
    assert_string_equal(gda_http_response_header(&r, "Retry-After"), "1");
    assert_int_equal(gda_response_error(&r, &e, NULL, 120, NULL), GDA_OK);
    assert_string_equal(gda_http_response_header(&r, "Retry-After"), "120");
    assert_string_equal(r.headers[1].name, "Retry-After");

    gda_error_set(&e, GDA_ERR_BUSY, NULL, NULL);
    assert_int_equal(gda_response_error(&r, &e, NULL, 2, NULL), GDA_OK);
    assert_int_equal(r.status, 503);
    assert_string_equal(gda_http_response_header(&r, "Retry-After"), "2");

    /* 504 is retryable but has no Retry-After; nor have 409 and 500. */
    const gda_status none[] = {GDA_ERR_TIMEOUT, GDA_ERR_IN_PROGRESS, GDA_ERR_INTERNAL,
                               GDA_ERR_INVALID_JSON};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        gda_error_set(&e, none[i], NULL, NULL);
        assert_int_equal(gda_response_error(&r, &e, NULL, 9, NULL), GDA_OK);
        assert_null(gda_http_response_header(&r, "Retry-After"));
        assert_int_equal(r.n_headers, 1);
    }
    gda_http_response_release(&r);
}

static void test_error_rejects_non_errors(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error e, err;
    const gda_status not_errors[] = {GDA_OK, GDA_ACCEPTED, (gda_status)9999, (gda_status)-1};
    for (size_t i = 0; i < sizeof not_errors / sizeof not_errors[0]; i++) {
        prefill(&r);
        gda_error_set(&e, not_errors[i], NULL, "fine");
        assert_int_equal(gda_response_error(&r, &e, "r", 0, &err), GDA_ERR_INTERNAL);
        assert_int_equal(err.code, GDA_ERR_INTERNAL);
        assert_released(&r);
    }
    assert_int_equal(gda_response_error(&r, NULL, "r", 0, &err), GDA_ERR_INTERNAL);
    gda_error_set(&e, GDA_ERR_FORBIDDEN, NULL, NULL);
    assert_int_equal(gda_response_error(NULL, &e, "r", 0, &err), GDA_ERR_INTERNAL);
}

static void test_error_message_sanitising(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error e;

    /* Empty message: the code's fixed one. */
    gda_error_set(&e, GDA_ERR_NOT_FOUND, NULL, NULL);
    assert_int_equal(gda_response_error(&r, &e, NULL, 0, NULL), GDA_OK);
    assert_body(&r, "{\"status\":\"error\",\"error\":{\"code\":\"not_found\","
                    "\"message\":\"not found\"},\"requiresRetry\":false}");

    /* gda_error_set truncates at a byte, which can split "é" (2 bytes): the
     * half character is dropped and the rest still goes out. */
    char long_text[400] = "";
    for (int i = 0; i < 150; i++)
        strcat(long_text, "\xc3\xa9");
    gda_error_set(&e, GDA_ERR_UNPROCESSABLE, NULL, "%s", long_text);
    assert_int_equal((unsigned char)e.message[GDA_ERROR_MESSAGE_SIZE - 2], 0xc3);
    assert_int_equal(gda_response_error(&r, &e, NULL, 0, NULL), GDA_OK);
    json_t *body = parse(r.body);
    const char *message =
        json_string_value(json_object_get(json_object_get(body, "error"), "message"));
    assert_int_equal(strlen(message), GDA_ERROR_MESSAGE_SIZE - 2);
    assert_memory_equal(message, e.message, GDA_ERROR_MESSAGE_SIZE - 2);
    json_decref(body);

    /* Not UTF-8 at all: fixed message; a broken field is dropped. */
    gda_error_set(&e, GDA_ERR_UNPROCESSABLE, "bad\xff", "caller \xff\xfe said no");
    assert_int_equal(gda_response_error(&r, &e, NULL, 0, NULL), GDA_OK);
    assert_body(&r, "{\"status\":\"error\",\"error\":{\"code\":\"unprocessable\","
                    "\"message\":\"the request could not be processed\"},"
                    "\"requiresRetry\":false}");

    /* Control characters in a message are escaped, not sent raw. */
    gda_error_set(&e, GDA_ERR_INVALID_JSON, NULL, "line 1\r\nX-Injected: 1");
    assert_int_equal(gda_response_error(&r, &e, NULL, 0, NULL), GDA_OK);
    assert_null(memchr(r.body, '\r', r.body_len));
    assert_null(memchr(r.body, '\n', r.body_len));

    /* A request id that is not UTF-8 is left out rather than failing. */
    gda_error_set(&e, GDA_ERR_INVALID_FIELD, "requestId", "requestId is not valid UTF-8");
    assert_int_equal(gda_response_error(&r, &e, "id\xc3", 0, NULL), GDA_OK);
    assert_body(&r, "{\"status\":\"error\",\"error\":{\"code\":\"invalid_field\","
                    "\"message\":\"requestId is not valid UTF-8\",\"field\":\"requestId\"},"
                    "\"requiresRetry\":false}");
    gda_http_response_release(&r);
}

/* ---- replay -------------------------------------------------------------- */

static void test_replay_byte_for_byte(void **state)
{
    (void)state;
    gda_http_response first = {0}, again = {0};
    json_t *data = parse("{\"balance\":0.1,\"name\":\"\\u00c5sa\"}");
    assert_int_equal(gda_response_completed(&first, data, "r-5", NOW_MS, NULL), GDA_OK);
    /* A later replay, with another clock, must give the first bytes. */
    prefill(&again);
    assert_int_equal(gda_response_replay(&again, first.status, first.body, first.body_len, 0,
                                         NULL),
                     GDA_OK);
    assert_int_equal(again.status, 200);
    assert_int_equal(again.code, GDA_OK);
    assert_int_equal(again.body_len, first.body_len);
    assert_memory_equal(again.body, first.body, first.body_len);
    assert_int_equal(again.body[again.body_len], '\0');
    assert_int_equal(again.n_headers, 1);
    assert_string_equal(again.headers[0].name, "Content-Type");
    assert_string_equal(again.headers[0].value, GDA_RESPONSE_CONTENT_TYPE);

    /* Replaying a response's own body into itself. */
    char *copy = malloc(first.body_len);
    assert_non_null(copy);
    memcpy(copy, first.body, first.body_len);
    assert_int_equal(gda_response_replay(&first, 200, first.body, first.body_len, 0, NULL),
                     GDA_OK);
    assert_memory_equal(first.body, copy, first.body_len);
    free(copy);

    /* Bytes are not interpreted: an embedded NUL survives. */
    const char odd[] = {'{', '}', '\0', 'x'};
    assert_int_equal(gda_response_replay(&again, 422, odd, sizeof odd, 0, NULL), GDA_OK);
    assert_int_equal(again.body_len, sizeof odd);
    assert_memory_equal(again.body, odd, sizeof odd);
    assert_int_equal(again.code, GDA_ERR_UNPROCESSABLE);

    /* Empty body. */
    assert_int_equal(gda_response_replay(&again, 202, NULL, 0, 0, NULL), GDA_OK);
    assert_int_equal(again.body_len, 0);
    assert_non_null(again.body);
    assert_string_equal(again.body, "");
    assert_int_equal(again.code, GDA_ACCEPTED);

    gda_http_response_release(&first);
    gda_http_response_release(&again);
    json_decref(data);
}

static void test_replay_status_handling(void **state)
{
    (void)state;
    gda_http_response r = {0};
    gda_error e, err;

    gda_error_set(&e, GDA_ERR_RATE_LIMITED, NULL, "slow down");
    gda_http_response orig = {0};
    assert_int_equal(gda_response_error(&orig, &e, "r", 5, NULL), GDA_OK);
    assert_int_equal(gda_response_replay(&r, orig.status, orig.body, orig.body_len, 5, NULL),
                     GDA_OK);
    assert_int_equal(r.code, GDA_ERR_RATE_LIMITED);
    assert_memory_equal(r.body, orig.body, orig.body_len);
    assert_string_equal(gda_http_response_header(&r, "Retry-After"), "5");
    assert_int_equal(gda_response_replay(&r, 503, "{}", 2, 0, NULL), GDA_OK);
    assert_string_equal(gda_http_response_header(&r, "Retry-After"), "1");
    assert_int_equal(r.code, GDA_ERR_UNAVAILABLE);
    assert_int_equal(gda_response_replay(&r, 504, "{}", 2, 3, NULL), GDA_OK);
    assert_null(gda_http_response_header(&r, "Retry-After"));
    assert_int_equal(r.code, GDA_ERR_TIMEOUT);
    gda_http_response_release(&orig);

    const int statuses[] = {200, 202, 400, 401, 403, 404, 405, 409,
                            413, 415, 422, 429, 500, 503, 504};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        assert_int_equal(gda_response_replay(&r, statuses[i], "{}", 2, 0, NULL), GDA_OK);
        assert_int_equal(r.status, statuses[i]);
        assert_int_equal(gda_status_http(r.code), statuses[i]);
    }

    const int foreign[] = {0, -200, 201, 204, 302, 418, 502, 599};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        prefill(&r);
        assert_int_equal(gda_response_replay(&r, foreign[i], "{}", 2, 0, &err),
                         GDA_ERR_INTERNAL);
        assert_string_equal(err.field, "status");
        assert_released(&r);
    }
    assert_int_equal(gda_response_replay(&r, 200, NULL, 3, 0, &err), GDA_ERR_INTERNAL);
    assert_string_equal(err.field, "body");
    assert_int_equal(gda_response_replay(&r, 200, "{}", SIZE_MAX, 0, &err), GDA_ERR_NOMEM);
    assert_released(&r);
    assert_int_equal(gda_response_replay(NULL, 200, "{}", 2, 0, &err), GDA_ERR_INTERNAL);
}

/* ---- flattening ---------------------------------------------------------- */

static void assert_flat(const char *input, const char *separator, const char *expected)
{
    json_t *in = parse(input);
    gda_error err;
    json_t *flat = gda_json_flatten(in, separator, &err);
    if (!flat)
        fail_msg("flatten failed: %s", err.message);
    char *text = json_dumps(flat, JSON_COMPACT);
    assert_non_null(text);
    assert_string_equal(text, expected);
    free(text);
    json_decref(flat);
    json_decref(in);
}

static void test_flatten_objects_and_arrays(void **state)
{
    (void)state;
    assert_flat("{\"a\":1,\"b\":\"x\"}", NULL, "{\"a\":1,\"b\":\"x\"}");
    assert_flat("{\"customer\":{\"name\":\"Ada\",\"address\":{\"city\":\"Oslo\"}},\"vip\":true}",
                NULL, "{\"customer.name\":\"Ada\",\"customer.address.city\":\"Oslo\",\"vip\":true}");
    assert_flat("{\"items\":[{\"name\":\"a\",\"qty\":2},{\"name\":\"b\"}],\"n\":null}", NULL,
                "{\"items.0.name\":\"a\",\"items.0.qty\":2,\"items.1.name\":\"b\",\"n\":null}");
    assert_flat("{\"m\":[[1,2],[3]],\"r\":1.5,\"f\":false}", NULL,
                "{\"m.0.0\":1,\"m.0.1\":2,\"m.1.0\":3,\"r\":1.5,\"f\":false}");
    assert_flat("{\"a\":{\"b\":{\"c\":1}}}", "_", "{\"a_b_c\":1}");
    assert_flat("{\"a\":{\"b\":1}}", "\xe2\x86\x92", "{\"a\xe2\x86\x92" "b\":1}");
    /* An empty key is still a key: it keeps its separator. */
    assert_flat("{\"\":{\"x\":1},\"x\":2}", NULL, "{\".x\":1,\"x\":2}");
}

static void test_flatten_empty_containers(void **state)
{
    (void)state;
    assert_flat("{}", NULL, "{}");
    assert_flat("{\"a\":{},\"b\":[],\"c\":1,\"d\":{\"e\":{}}}", NULL, "{\"c\":1}");
}

static void test_flatten_collisions(void **state)
{
    (void)state;
    const char *inputs[] = {
        "{\"a.b\":1,\"a\":{\"b\":2}}",
        "{\"a\":{\"b\":2},\"a.b\":1}",
        "{\"a\":[0,1],\"a.1\":5}",
        "{\"a\":{\"b.c\":1,\"b\":{\"c\":2}}}",
    };
    const char *keys[] = {"a.b", "a.b", "a.1", "a.b.c"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        json_t *in = parse(inputs[i]);
        gda_error err;
        assert_null(gda_json_flatten(in, NULL, &err));
        assert_int_equal(err.code, GDA_ERR_INVALID_FIELD);
        assert_string_equal(err.field, keys[i]);
        assert_non_null(strstr(err.message, keys[i]));
        json_decref(in);
    }
    /* With another separator the same input does not collide. */
    assert_flat("{\"a.b\":1,\"a\":{\"b\":2}}", "/", "{\"a.b\":1,\"a/b\":2}");
}

static json_t *nest(int containers)
{
    /* containers levels of objects, alternating with arrays, around one leaf */
    json_t *v = json_integer(1);
    for (int i = 1; i < containers; i++) {
        json_t *wrap;
        if (i % 2) {
            wrap = json_array();
            json_array_append_new(wrap, v);
        } else {
            wrap = json_object();
            json_object_set_new(wrap, "k", v);
        }
        v = wrap;
    }
    json_t *top = json_object();
    json_object_set_new(top, "top", v);
    return top;
}

static void test_flatten_depth_limit(void **state)
{
    (void)state;
    gda_error err;
    json_t *ok = nest(GDA_JSON_FLATTEN_MAX_DEPTH);
    json_t *flat = gda_json_flatten(ok, NULL, &err);
    assert_non_null(flat);
    assert_int_equal(json_object_size(flat), 1);
    json_decref(flat);
    json_decref(ok);

    json_t *deep = nest(GDA_JSON_FLATTEN_MAX_DEPTH + 1);
    assert_null(gda_json_flatten(deep, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_INVALID_JSON);
    json_decref(deep);
}

static void test_flatten_rejects_bad_input(void **state)
{
    (void)state;
    gda_error err;
    json_t *arr = parse("[{\"a\":1}]");
    json_t *str = json_string("x");
    json_t *obj = parse("{\"a\":{\"b\":1}}");

    assert_null(gda_json_flatten(arr, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "data");
    assert_null(gda_json_flatten(str, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_INVALID_FIELD);
    assert_null(gda_json_flatten(NULL, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_INTERNAL);

    assert_null(gda_json_flatten(obj, "", &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_null(gda_json_flatten(obj, "\xff", &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);

#if JANSSON_VERSION_HEX >= 0x020e00
    json_t *nul_key = json_object();
    json_object_setn_new(nul_key, "a\0b", 3, json_integer(1));
    assert_null(gda_json_flatten(nul_key, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_INVALID_FIELD);
    json_decref(nul_key);
#endif
    json_decref(arr);
    json_decref(str);
    json_decref(obj);
}

static void test_flatten_copies_and_feeds_completed(void **state)
{
    (void)state;
    json_t *in = parse("{\"c\":{\"name\":\"Ada\",\"tags\":[\"x\"]}}");
    json_t *flat = gda_json_flatten(in, NULL, NULL);
    assert_non_null(flat);
    /* The result does not share leaves with the input. */
    json_string_set(json_object_get(json_object_get(in, "c"), "name"), "changed");
    json_decref(in);

    gda_http_response r = {0};
    assert_int_equal(gda_response_completed(&r, flat, "r", NOW_MS, NULL), GDA_OK);
    assert_body(&r, "{\"status\":\"completed\",\"data\":{\"c.name\":\"Ada\",\"c.tags.0\":\"x\"},"
                    "\"requiresRetry\":false,\"processedAt\":\"2026-11-24T10:00:00.123Z\","
                    "\"requestId\":\"r\"}");
    gda_http_response_release(&r);
    json_decref(flat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp_format),
        cmocka_unit_test(test_timestamp_out_of_range),
        cmocka_unit_test(test_completed_exact_bytes),
        cmocka_unit_test(test_completed_null_data_and_no_request_id),
        cmocka_unit_test(test_completed_nested_keeps_order_and_is_deterministic),
        cmocka_unit_test(test_completed_reuses_response),
        cmocka_unit_test(test_completed_rejects_bad_input),
        cmocka_unit_test(test_request_id_escaping),
        cmocka_unit_test(test_accepted_exact_bytes_and_location),
        cmocka_unit_test(test_accepted_rejects_header_injection),
        cmocka_unit_test(test_accepted_requires_request_id),
        cmocka_unit_test(test_error_every_code),
        cmocka_unit_test(test_error_exact_bytes),
        cmocka_unit_test(test_error_401_is_always_generic),
        cmocka_unit_test(test_error_500_is_generic),
        cmocka_unit_test(test_error_retry_after_only_on_429_and_503),
        cmocka_unit_test(test_error_rejects_non_errors),
        cmocka_unit_test(test_error_message_sanitising),
        cmocka_unit_test(test_replay_byte_for_byte),
        cmocka_unit_test(test_replay_status_handling),
        cmocka_unit_test(test_flatten_objects_and_arrays),
        cmocka_unit_test(test_flatten_empty_containers),
        cmocka_unit_test(test_flatten_collisions),
        cmocka_unit_test(test_flatten_depth_limit),
        cmocka_unit_test(test_flatten_rejects_bad_input),
        cmocka_unit_test(test_flatten_copies_and_feeds_completed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
