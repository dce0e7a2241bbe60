/* Tests for include/gda/request.h: field spec, strict parse, idempotency key
 * selection, accessors and PII masking. Payload files live in
 * tests/data/requests/ (the *.bin ones hold deliberately broken bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gda/request.h>
#include <gda/store.h>

#define SL(s) {(s), sizeof(s) - 1}
#define UUID "3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70"

static const gda_header json_headers[] = {
    {SL("Content-Type"), SL("application/json")},
};

/* ---- helpers ------------------------------------------------------------- */

static char *read_data(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/requests/%s", GDA_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open test data %s", path);
    char *buf = malloc(64 * 1024);
    assert_non_null(buf);
    *len = fread(buf, 1, 64 * 1024, f);
    fclose(f);
    return buf;
}

static gda_http_request http_with(const char *body, size_t len, const gda_header *headers,
                                  size_t n_headers)
{
    gda_http_request http;
    memset(&http, 0, sizeof http);
    http.kind = GDA_EVENT_HTTP;
    http.method = gda_slice_cstr("POST");
    http.path = gda_slice_cstr("/genesys/dataaction");
    http.headers = headers;
    http.n_headers = n_headers;
    http.body = gda_slice_make(body, len);
    return http;
}

static gda_http_request json_http(const char *body, size_t len)
{
    return http_with(body, len, json_headers, 1);
}

/* Parse body (application/json, default limits). */
static gda_status parse_body(const gda_spec *spec, const char *body, size_t len,
                             gda_request **out, gda_error *err)
{
    gda_http_request http = json_http(body, len);
    return gda_request_parse(spec, &http, NULL, out, err);
}

/* Expect body to fail with code; field (NULL: don't care) and a message
 * fragment (NULL: don't care) are checked too. */
static void expect_fail(const gda_spec *spec, const char *body, size_t len, gda_status code,
                        const char *field, const char *fragment)
{
    gda_request *req = (gda_request *)0x1;
    gda_error err;
    gda_error_clear(&err);
    gda_status st = parse_body(spec, body, len, &req, &err);
    if (st != code)
        fail_msg("expected %s, got %s (%s: %s)", gda_status_str(code), gda_status_str(st),
                 err.field, err.message);
    assert_null(req);
    assert_int_equal(err.code, code);
    if (field)
        assert_string_equal(err.field, field);
    if (fragment && !strstr(err.message, fragment))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, fragment);
}

static void expect_file_fails(const gda_spec *spec, const char *name, gda_status code,
                              const char *fragment)
{
    size_t len;
    char *body = read_data(name, &len);
    expect_fail(spec, body, len, code, NULL, fragment);
    free(body);
}

static gda_request *expect_ok(const gda_spec *spec, const char *body, size_t len)
{
    gda_request *req = NULL;
    gda_error err;
    gda_error_clear(&err);
    gda_status st = parse_body(spec, body, len, &req, &err);
    if (st != GDA_OK)
        fail_msg("expected ok, got %s (%s: %s)", gda_status_str(st), err.field, err.message);
    assert_non_null(req);
    return req;
}

/* The minimal valid reference payload with member `name` set to `value`
 * (a new reference is stolen; NULL removes the member), as compact JSON. */
static char *reference_with(const char *name, json_t *value)
{
    json_t *obj = json_pack("{s:s, s:s}", "interactionId", UUID, "requestId", "r1");
    assert_non_null(obj);
    if (value)
        assert_int_equal(json_object_set_new(obj, name, value), 0);
    else
        json_object_del(obj, name);
    char *text = json_dumps(obj, JSON_COMPACT);
    assert_non_null(text);
    json_decref(obj);
    return text;
}

static gda_status parse_reference_with(const char *name, json_t *value, gda_error *err)
{
    gda_spec *spec = gda_spec_new_reference();
    assert_non_null(spec);
    char *body = reference_with(name, value);
    gda_request *req = NULL;
    gda_status st = parse_body(spec, body, strlen(body), &req, err);
    gda_request_free(req);
    free(body);
    gda_spec_free(spec);
    return st;
}

static void format_ok(const char *name, const char *value)
{
    gda_error err;
    gda_status st = parse_reference_with(name, json_string(value), &err);
    if (st != GDA_OK)
        fail_msg("%s=\"%s\" should pass, got %s: %s", name, value, gda_status_str(st),
                 err.message);
}

static void format_bad(const char *name, const char *value)
{
    gda_error err;
    gda_error_clear(&err);
    gda_status st = parse_reference_with(name, json_string(value), &err);
    if (st != GDA_ERR_INVALID_FIELD)
        fail_msg("%s=\"%s\" should fail, got %s", name, value, gda_status_str(st));
    assert_string_equal(err.field, name);
    /* The value may be PII: it must never appear in the message. */
    if (strlen(value) >= 3 && strstr(err.message, value))
        fail_msg("message \"%s\" echoes the value", err.message);
}

/* {"interactionId":…,"requestId":"r1","deep":<opener × (depth-1)> … } so
 * the whole document nests `depth` levels. */
static char *nested(int depth, char open, char close)
{
    const char *head = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\",\"deep\":";
    size_t cap = strlen(head) + (size_t)depth * 8 + 16;
    char *s = malloc(cap);
    assert_non_null(s);
    strcpy(s, head);
    size_t n = strlen(s);
    for (int i = 1; i < depth; i++) {
        if (open == '{') {
            memcpy(s + n, "{\"a\":", 5);
            n += 5;
        } else {
            s[n++] = open;
        }
    }
    s[n++] = '1';
    for (int i = 1; i < depth; i++)
        s[n++] = close;
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

/* ---- spec ---------------------------------------------------------------- */

static void test_reference_spec_contents(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    assert_non_null(spec);
    assert_int_equal(gda_spec_count(spec), 5);
    const char *order[] = {"interactionId", "requestId", "queueId", "callerId", "timestamp"};
    for (size_t i = 0; i < 5; i++) {
        const gda_field *f = gda_spec_field_at(spec, i);
        assert_non_null(f);
        assert_string_equal(f->name, order[i]);
        assert_int_equal(f->type, GDA_FIELD_STRING);
        assert_ptr_equal(gda_spec_find(spec, order[i]), f);
    }
    assert_null(gda_spec_field_at(spec, 5));
    assert_true(gda_spec_find(spec, "interactionId")->required);
    assert_int_equal(gda_spec_find(spec, "interactionId")->format, GDA_FORMAT_UUID);
    assert_true(gda_spec_find(spec, "requestId")->required);
    assert_int_equal(gda_spec_find(spec, "requestId")->max_length, 256);
    assert_false(gda_spec_find(spec, "queueId")->required);
    assert_int_equal(gda_spec_find(spec, "queueId")->format, GDA_FORMAT_UUID);
    assert_false(gda_spec_find(spec, "callerId")->required);
    assert_true(gda_spec_find(spec, "callerId")->pii);
    assert_int_equal(gda_spec_find(spec, "callerId")->format, GDA_FORMAT_E164);
    assert_int_equal(gda_spec_find(spec, "timestamp")->format, GDA_FORMAT_RFC3339);
    /* Only the caller's number is PII in the reference contract. */
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(gda_spec_field_at(spec, i)->pii, i == 3);
    assert_null(gda_spec_find(spec, "requestid")); /* case-sensitive */
    assert_null(gda_spec_find(spec, NULL));
    const char *name = NULL;
    assert_int_equal(gda_spec_idempotency_source(spec, &name), GDA_KEY_FROM_FIELD);
    assert_string_equal(name, "requestId");
    gda_spec_free(spec);
    gda_spec_free(NULL);
    assert_int_equal(gda_spec_count(NULL), 0);
    assert_null(gda_spec_field_at(NULL, 0));
}

static void test_spec_add_validation(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new();
    assert_non_null(spec);
    assert_int_equal(gda_spec_count(spec), 0);
    gda_error err;

    char name[32] = "orderId";
    gda_field f = {name, GDA_FIELD_STRING, true, 10, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &f, &err), GDA_OK);
    /* The name is copied: changing the caller's buffer changes nothing. */
    strcpy(name, "changed");
    assert_non_null(gda_spec_find(spec, "orderId"));
    assert_null(gda_spec_find(spec, "changed"));

    gda_field dup = {"orderId", GDA_FIELD_INTEGER, false, 0, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &dup, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "orderId");
    assert_non_null(strstr(err.message, "twice"));

    gda_field empty = {"", GDA_FIELD_STRING, false, 0, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &empty, &err), GDA_ERR_CONFIG);
    gda_field null_name = {NULL, GDA_FIELD_STRING, false, 0, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &null_name, &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_add(spec, NULL, &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_add(NULL, &f, &err), GDA_ERR_CONFIG);

    char long_name[65];
    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    gda_field too_long = {long_name, GDA_FIELD_STRING, false, 0, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &too_long, &err), GDA_ERR_CONFIG);
    long_name[63] = '\0';
    assert_int_equal(gda_spec_add(spec, &too_long, &err), GDA_OK);

    gda_field bad_utf8 = {"na\xc0\xafme", GDA_FIELD_STRING, false, 0, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &bad_utf8, &err), GDA_ERR_CONFIG);
    gda_field bad_type = {"t", (gda_field_type)42, false, 0, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &bad_type, &err), GDA_ERR_CONFIG);
    gda_field bad_format = {"t", GDA_FIELD_STRING, false, 0, (gda_field_format)9, false};
    assert_int_equal(gda_spec_add(spec, &bad_format, &err), GDA_ERR_CONFIG);
    gda_field format_on_int = {"t", GDA_FIELD_INTEGER, false, 0, GDA_FORMAT_UUID, false};
    assert_int_equal(gda_spec_add(spec, &format_on_int, &err), GDA_ERR_CONFIG);
    gda_field length_on_array = {"t", GDA_FIELD_ARRAY, false, 3, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &length_on_array, &err), GDA_ERR_CONFIG);

    /* Failed adds left nothing behind. */
    assert_int_equal(gda_spec_count(spec), 2);
    /* Many fields: growth keeps every earlier one findable. */
    for (int i = 0; i < 40; i++) {
        char n[16];
        snprintf(n, sizeof n, "f%d", i);
        gda_field g = {n, GDA_FIELD_NUMBER, false, 0, GDA_FORMAT_NONE, false};
        assert_int_equal(gda_spec_add(spec, &g, NULL), GDA_OK);
    }
    assert_int_equal(gda_spec_count(spec), 42);
    assert_string_equal(gda_spec_field_at(spec, 0)->name, "orderId");
    assert_int_equal(gda_spec_find(spec, "f39")->type, GDA_FIELD_NUMBER);
    gda_spec_free(spec);
}

/* ---- the happy path ---------------------------------------------------------- */

static void test_valid_genesys_payload(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    size_t len;
    char *body = read_data("valid_genesys.json", &len);
    gda_request *req = expect_ok(spec, body, len);

    assert_ptr_equal(gda_request_spec(req), spec);
    assert_string_equal(gda_request_idempotency_key(req), "req-2026-11-24-0001");
    assert_string_equal(gda_request_string(req, "interactionId"), UUID);
    assert_string_equal(gda_request_string(req, "callerId"), "+15551234567");
    assert_string_equal(gda_request_string(req, "timestamp"), "2026-11-24T10:00:00Z");
    /* Undeclared members are kept and readable. */
    assert_string_equal(gda_request_string(req, "language"), "en-US");

    int64_t attempt = 0;
    assert_true(gda_request_int(req, "attempt", &attempt));
    assert_int_equal(attempt, 1);
    double score = 0;
    assert_true(gda_request_number(req, "score", &score));
    assert_true(score > 0.74 && score < 0.76);
    double attempt_as_number = 0;
    assert_true(gda_request_number(req, "attempt", &attempt_as_number));
    assert_true(attempt_as_number == 1.0);
    bool vip = false;
    assert_true(gda_request_bool(req, "vip", &vip));
    assert_true(vip);

    const json_t *root = gda_request_json(req);
    assert_true(json_is_object(root));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(root, "customer"), "tier")), "gold");

    /* Wrong-type and missing lookups fail without touching the output. */
    int64_t i64 = 77;
    assert_false(gda_request_int(req, "score", &i64));
    assert_false(gda_request_int(req, "language", &i64));
    assert_false(gda_request_int(req, "absent", &i64));
    assert_int_equal(i64, 77);
    bool b = true;
    assert_false(gda_request_bool(req, "attempt", &b));
    assert_true(b);
    double d = 5;
    assert_false(gda_request_number(req, "vip", &d));
    assert_true(d == 5);
    assert_null(gda_request_string(req, "attempt"));
    assert_null(gda_request_string(req, "customer"));
    assert_null(gda_request_string(req, "absent"));
    assert_null(gda_request_string(req, NULL));

    gda_request_free(req);
    free(body);
    gda_spec_free(spec);
}

static void test_optional_fields(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    size_t len;
    char *body = read_data("minimal.json", &len);
    gda_request *req = expect_ok(spec, body, len);
    assert_null(gda_request_string(req, "callerId"));
    assert_string_equal(gda_request_idempotency_key(req), "r1");
    gda_request_free(req);
    free(body);

    /* Velocity renders unset optional variables as null: accepted as absent. */
    body = read_data("optional_nulls.json", &len);
    req = expect_ok(spec, body, len);
    assert_null(gda_request_string(req, "queueId"));
    gda_request_free(req);
    free(body);
    gda_spec_free(spec);
}

static void test_accessors_null_safe(void **state)
{
    (void)state;
    int64_t i;
    double d;
    bool b;
    assert_null(gda_request_json(NULL));
    assert_null(gda_request_spec(NULL));
    assert_null(gda_request_idempotency_key(NULL));
    assert_null(gda_request_string(NULL, "x"));
    assert_false(gda_request_int(NULL, "x", &i));
    assert_false(gda_request_number(NULL, "x", &d));
    assert_false(gda_request_bool(NULL, "x", &b));
    assert_null(gda_request_redacted(NULL));
    gda_request_free(NULL);
}

/* ---- size and media type --------------------------------------------------------- */

static void test_too_large_before_anything_else(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    size_t size = GDA_DEFAULT_MAX_BODY + 1;
    char *garbage = malloc(size);
    assert_non_null(garbage);
    memset(garbage, 0xFF, size); /* not UTF-8, not JSON */
    gda_error err;

    /* Neither the missing Content-Type nor the garbage is looked at. */
    gda_http_request http = http_with(garbage, size, NULL, 0);
    gda_request *req = (gda_request *)0x1;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err),
                     GDA_ERR_PAYLOAD_TOO_LARGE);
    assert_null(req);
    assert_int_equal(err.code, GDA_ERR_PAYLOAD_TOO_LARGE);
    assert_int_equal(gda_status_http(err.code), 413);

    static const gda_header wrong_ct[] = {{SL("Content-Type"), SL("text/plain")}};
    http = http_with(garbage, size, wrong_ct, 1);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err),
                     GDA_ERR_PAYLOAD_TOO_LARGE);

    /* One byte under the limit, the same garbage gets as far as UTF-8. */
    http = json_http(garbage, size - 1);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_JSON);
    free(garbage);

    /* A custom limit: exactly max_body passes, one more byte does not. */
    const char *body = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\"}";
    size_t body_len = strlen(body);
    gda_limits lim = {body_len, 0};
    http = json_http(body, body_len);
    assert_int_equal(gda_request_parse(spec, &http, &lim, &req, &err), GDA_OK);
    gda_request_free(req);
    lim.max_body = body_len - 1;
    assert_int_equal(gda_request_parse(spec, &http, &lim, &req, &err),
                     GDA_ERR_PAYLOAD_TOO_LARGE);
    gda_spec_free(spec);
}

static void test_content_type(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    const char *body = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\"}";
    size_t len = strlen(body);
    static const char *accepted[] = {
        "application/json",
        "Application/JSON",
        "application/json; charset=UTF-8",
        "application/json;charset=utf-8",
        "  application/json ; charset=\"utf-8\"  ",
        "application/json; charset=utf-8; profile=genesys",
        "application/json;",
        "application/json\t;\tq=1",
    };
    static const char *refused[] = {
        "text/plain",
        "application/xml",
        "application/jsonx",
        "application/json-patch+json",
        "application/x-www-form-urlencoded",
        "text/json",
        "application/json; charset=iso-8859-1",
        "application/json; charset=\"utf-16\"",
        "application/json; charset=utf-8-extra",
        "application/json; charset",
        "application/json; charset=",
        "application/json; charset=\"utf-8",
        "application/json garbage",
        "application",
        "",
        "application/json; charset=utf-8\r\nX-Injected: 1",
    };
    gda_error err;
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        gda_header h[] = {{SL("content-type"), gda_slice_cstr(accepted[i])}};
        gda_http_request http = http_with(body, len, h, 1);
        gda_request *req = NULL;
        gda_status st = gda_request_parse(spec, &http, NULL, &req, &err);
        if (st != GDA_OK)
            fail_msg("\"%s\" should be accepted: %s", accepted[i], err.message);
        gda_request_free(req);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        gda_header h[] = {{SL("Content-Type"), gda_slice_cstr(refused[i])}};
        gda_http_request http = http_with(body, len, h, 1);
        gda_request *req = NULL;
        gda_status st = gda_request_parse(spec, &http, NULL, &req, &err);
        if (st != GDA_ERR_UNSUPPORTED_MEDIA_TYPE)
            fail_msg("\"%s\" should be refused, got %s", refused[i], gda_status_str(st));
        assert_int_equal(gda_status_http(st), 415);
        assert_string_equal(err.field, "Content-Type");
    }

    /* Missing, and repeated (ambiguous), are refused. */
    static const gda_header other[] = {{SL("Accept"), SL("application/json")}};
    gda_http_request http = http_with(body, len, other, 1);
    gda_request *req = NULL;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err),
                     GDA_ERR_UNSUPPORTED_MEDIA_TYPE);
    assert_non_null(strstr(err.message, "missing"));
    static const gda_header twice[] = {
        {SL("Content-Type"), SL("application/json")},
        {SL("CONTENT-TYPE"), SL("application/json")},
    };
    http = http_with(body, len, twice, 2);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err),
                     GDA_ERR_UNSUPPORTED_MEDIA_TYPE);

    /* Every event kind with headers is checked ... */
    http = http_with(body, len, NULL, 0);
    http.kind = GDA_EVENT_APIGW_REST;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err),
                     GDA_ERR_UNSUPPORTED_MEDIA_TYPE);
    http.kind = GDA_EVENT_APIGW_HTTP;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err),
                     GDA_ERR_UNSUPPORTED_MEDIA_TYPE);
    http.kind = GDA_EVENT_ALB;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err),
                     GDA_ERR_UNSUPPORTED_MEDIA_TYPE);
    /* ... but a direct invocation has no headers at all. */
    http.kind = GDA_EVENT_DIRECT;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_OK);
    assert_string_equal(gda_request_idempotency_key(req), "r1");
    gda_request_free(req);
    gda_spec_free(spec);
}

/* ---- JSON and byte-level rules ---------------------------------------------------- */

static void test_not_json(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    expect_fail(spec, "", 0, GDA_ERR_INVALID_JSON, "", "empty body");
    expect_file_fails(spec, "not_json.txt", GDA_ERR_INVALID_JSON, "not valid JSON");
    expect_fail(spec, "{\"requestId\":", 13, GDA_ERR_INVALID_JSON, "", "end of input");
    expect_fail(spec, "{} {}", 5, GDA_ERR_INVALID_JSON, "", "after the top-level value");
    expect_fail(spec, "{'a':1}", 7, GDA_ERR_INVALID_JSON, "", "not valid JSON");
    expect_fail(spec, "[1,2]", 5, GDA_ERR_INVALID_JSON, "", "must be a JSON object");
    expect_fail(spec, "\"text\"", 6, GDA_ERR_INVALID_JSON, "", "must be a JSON object");
    expect_fail(spec, "42", 2, GDA_ERR_INVALID_JSON, "", "must be a JSON object");
    expect_fail(spec, "{\"a\":\"\\ud800\"}", 14, GDA_ERR_INVALID_JSON, "", "lone surrogate");
    expect_fail(spec, "{\"a\":1e999}", 11, GDA_ERR_INVALID_JSON, "", "too big");

    /* Parse errors never quote the input (jansson's "near '...'"). */
    size_t len;
    char *body = read_data("not_json.txt", &len);
    gda_request *req = NULL;
    gda_error err;
    assert_int_equal(parse_body(spec, body, len, &req, &err), GDA_ERR_INVALID_JSON);
    assert_null(strstr(err.message, "secret"));
    assert_null(strstr(err.message, "near"));
    free(body);
    gda_spec_free(spec);
}

static void test_invalid_utf8_and_nul(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    /* Each file's bad sequence starts at byte 14 (after {"requestId":"). */
    expect_file_fails(spec, "overlong_slash.bin", GDA_ERR_INVALID_JSON,
                      "overlong encoding) at byte 14");
    expect_file_fails(spec, "overlong_nul.bin", GDA_ERR_INVALID_JSON,
                      "overlong encoding) at byte 14");
    expect_file_fails(spec, "overlong_slash_3byte.bin", GDA_ERR_INVALID_JSON,
                      "overlong encoding) at byte 14");
    expect_file_fails(spec, "surrogate.bin", GDA_ERR_INVALID_JSON, "surrogate) at byte 14");
    expect_file_fails(spec, "above_max.bin", GDA_ERR_INVALID_JSON,
                      "above U+10FFFF) at byte 14");
    expect_file_fails(spec, "truncated.bin", GDA_ERR_INVALID_JSON,
                      "truncated sequence) at byte 14");
    expect_file_fails(spec, "stray_continuation.bin", GDA_ERR_INVALID_JSON,
                      "continuation byte) at byte 14");
    expect_file_fails(spec, "invalid_byte.bin", GDA_ERR_INVALID_JSON, "at byte 14");
    expect_file_fails(spec, "raw_nul.bin", GDA_ERR_INVALID_JSON, "NUL byte at byte 15");
    /* A sequence cut off by the end of the body. */
    expect_fail(spec, "{\"a\":1}\xf0\x9f\x98", 10, GDA_ERR_INVALID_JSON, "",
                "truncated sequence) at byte 7");
    /* \u0000 is well-formed JSON but refused (jansson without ALLOW_NUL). */
    expect_file_fails(spec, "nul_escape.json", GDA_ERR_INVALID_JSON, "\\u0000");

    /* Valid multi-byte UTF-8 of every length passes. */
    const char *ok = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\","
                     "\"note\":\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}";
    gda_request *req = expect_ok(spec, ok, strlen(ok));
    gda_request_free(req);
    gda_spec_free(spec);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    expect_file_fails(spec, "duplicate_key.json", GDA_ERR_INVALID_JSON, "duplicate key");
    /* Nested duplicates too. */
    const char *nested_dup = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\","
                             "\"x\":{\"k\":1,\"k\":2}}";
    expect_fail(spec, nested_dup, strlen(nested_dup), GDA_ERR_INVALID_JSON, "", "duplicate key");
    gda_spec_free(spec);
}

static void test_depth_limit(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    char *s = nested(50, '{', '}');
    gda_request *req = expect_ok(spec, s, strlen(s));
    gda_request_free(req);
    free(s);

    s = nested(51, '{', '}');
    expect_fail(spec, s, strlen(s), GDA_ERR_INVALID_JSON, "", "deeper than 50 levels");
    free(s);

    s = nested(50, '[', ']');
    req = expect_ok(spec, s, strlen(s));
    gda_request_free(req);
    free(s);

    /* Arrays nested far beyond jansson's own limit are stopped by the
     * pre-scan, cheaply. */
    s = nested(5000, '[', ']');
    expect_fail(spec, s, strlen(s), GDA_ERR_INVALID_JSON, "", "deeper than 50 levels");
    free(s);

    /* Brackets inside strings (and escaped quotes) do not count. */
    char text[400];
    int n = snprintf(text, sizeof text,
                     "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\",\"s\":\"\\\"");
    for (int i = 0; i < 100; i++)
        text[n++] = '[';
    strcpy(text + n, "\"}");
    req = expect_ok(spec, text, strlen(text));
    gda_request_free(req);

    /* A custom limit. */
    gda_limits lim = {0, 3};
    s = nested(3, '{', '}');
    gda_http_request http = json_http(s, strlen(s));
    gda_error err;
    assert_int_equal(gda_request_parse(spec, &http, &lim, &req, &err), GDA_OK);
    gda_request_free(req);
    free(s);
    s = nested(4, '[', ']');
    http = json_http(s, strlen(s));
    assert_int_equal(gda_request_parse(spec, &http, &lim, &req, &err), GDA_ERR_INVALID_JSON);
    assert_non_null(strstr(err.message, "deeper than 3 levels"));
    free(s);
    gda_spec_free(spec);
}

static void test_huge_integers(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    expect_file_fails(spec, "huge_integer.json", GDA_ERR_INVALID_JSON, "integer too big");
    expect_file_fails(spec, "huge_negative_integer.json", GDA_ERR_INVALID_JSON,
                      "integer too big");
    /* The 64-bit edges themselves are fine. */
    const char *edge = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\","
                       "\"max\":9223372036854775807,\"min\":-9223372036854775808}";
    gda_request *req = expect_ok(spec, edge, strlen(edge));
    int64_t v = 0;
    assert_true(gda_request_int(req, "max", &v));
    assert_true(v == INT64_MAX);
    assert_true(gda_request_int(req, "min", &v));
    assert_true(v == INT64_MIN);
    gda_request_free(req);
    gda_spec_free(spec);
}

/* ---- field rules --------------------------------------------------------------------- */

static void test_required_and_types(void **state)
{
    (void)state;
    gda_error err;
    gda_error_clear(&err);
    assert_int_equal(parse_reference_with("interactionId", NULL, &err), GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "interactionId");
    assert_string_equal(err.message, "required field missing");
    assert_int_equal(gda_status_http(err.code), 400);

    assert_int_equal(parse_reference_with("requestId", NULL, &err), GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "requestId");
    assert_string_equal(err.message, "required field missing");

    assert_int_equal(parse_reference_with("requestId", json_null(), &err),
                     GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "requestId");
    assert_non_null(strstr(err.message, "null"));

    assert_int_equal(parse_reference_with("interactionId", json_integer(12), &err),
                     GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "interactionId");
    assert_non_null(strstr(err.message, "expected string, got integer"));

    assert_int_equal(parse_reference_with("callerId", json_true(), &err),
                     GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "callerId");
    assert_non_null(strstr(err.message, "wrong type"));

    assert_int_equal(parse_reference_with("queueId", json_array(), &err),
                     GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "queueId");

    assert_int_equal(parse_reference_with("timestamp", json_integer(1764000000), &err),
                     GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "timestamp");
}

static void test_custom_spec_types(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new();
    const gda_field fields[] = {
        {"count", GDA_FIELD_INTEGER, true, 0, GDA_FORMAT_NONE, false},
        {"amount", GDA_FIELD_NUMBER, true, 0, GDA_FORMAT_NONE, false},
        {"active", GDA_FIELD_BOOLEAN, true, 0, GDA_FORMAT_NONE, false},
        {"address", GDA_FIELD_OBJECT, false, 0, GDA_FORMAT_NONE, true},
        {"items", GDA_FIELD_ARRAY, false, 0, GDA_FORMAT_NONE, false},
        {"requestId", GDA_FIELD_STRING, true, 0, GDA_FORMAT_NONE, false},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        assert_int_equal(gda_spec_add(spec, &fields[i], NULL), GDA_OK);

    const char *ok = "{\"count\":3,\"amount\":2,\"active\":false,\"address\":{\"zip\":\"1\"},"
                     "\"items\":[],\"requestId\":\"k\"}";
    gda_request *req = expect_ok(spec, ok, strlen(ok));
    bool active = true;
    assert_true(gda_request_bool(req, "active", &active));
    assert_false(active);
    gda_request_free(req);

    const char *real_for_int = "{\"count\":3.0,\"amount\":2.5,\"active\":true,\"requestId\":\"k\"}";
    expect_fail(spec, real_for_int, strlen(real_for_int), GDA_ERR_INVALID_FIELD, "count",
                "expected integer, got non-integer number");
    const char *str_for_num = "{\"count\":3,\"amount\":\"2.5\",\"active\":true,\"requestId\":\"k\"}";
    expect_fail(spec, str_for_num, strlen(str_for_num), GDA_ERR_INVALID_FIELD, "amount",
                "expected number");
    const char *int_for_bool = "{\"count\":3,\"amount\":1,\"active\":1,\"requestId\":\"k\"}";
    expect_fail(spec, int_for_bool, strlen(int_for_bool), GDA_ERR_INVALID_FIELD, "active",
                "expected boolean");
    const char *arr_for_obj =
        "{\"count\":3,\"amount\":1,\"active\":true,\"address\":[],\"requestId\":\"k\"}";
    expect_fail(spec, arr_for_obj, strlen(arr_for_obj), GDA_ERR_INVALID_FIELD, "address",
                "expected object, got array");
    const char *obj_for_arr =
        "{\"count\":3,\"amount\":1,\"active\":true,\"items\":{},\"requestId\":\"k\"}";
    expect_fail(spec, obj_for_arr, strlen(obj_for_arr), GDA_ERR_INVALID_FIELD, "items",
                "expected array, got object");
    /* Fields are checked in declaration order: the first failure wins. */
    const char *two_bad = "{\"amount\":\"x\",\"requestId\":\"k\"}";
    expect_fail(spec, two_bad, strlen(two_bad), GDA_ERR_INVALID_FIELD, "count", "missing");
    gda_spec_free(spec);
}

static void test_max_length_counts_code_points(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new();
    gda_field f = {"name", GDA_FIELD_STRING, true, 3, GDA_FORMAT_NONE, false};
    assert_int_equal(gda_spec_add(spec, &f, NULL), GDA_OK);
    static const char *fits[] = {
        "{\"requestId\":\"k\",\"name\":\"abc\"}",
        "{\"requestId\":\"k\",\"name\":\"h\xc3\xa9\xc3\xa9\"}",               /* 5 bytes */
        "{\"requestId\":\"k\",\"name\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}", /* 9 bytes */
        "{\"requestId\":\"k\",\"name\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}",
        "{\"requestId\":\"k\",\"name\":\"\\u00e9\\u00e9\\u00e9\"}", /* escapes decode first */
        "{\"requestId\":\"k\",\"name\":\"\"}",
    };
    for (size_t i = 0; i < sizeof fits / sizeof fits[0]; i++) {
        gda_request *req = expect_ok(spec, fits[i], strlen(fits[i]));
        gda_request_free(req);
    }
    static const char *too_long[] = {
        "{\"requestId\":\"k\",\"name\":\"abcd\"}",
        "{\"requestId\":\"k\",\"name\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9ex\"}",
        "{\"requestId\":\"k\",\"name\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
        "\xf0\x9f\x98\x80\"}",
    };
    for (size_t i = 0; i < sizeof too_long / sizeof too_long[0]; i++)
        expect_fail(spec, too_long[i], strlen(too_long[i]), GDA_ERR_INVALID_FIELD, "name",
                    "longer than 3 characters");
    gda_spec_free(spec);
}

static void test_format_e164(void **state)
{
    (void)state;
    format_ok("callerId", "+15551234567");
    format_ok("callerId", "+12");              /* 2 digits, the minimum */
    format_ok("callerId", "+123456789012345"); /* 15 digits, the maximum */
    format_ok("callerId", "+442071838750");
    format_bad("callerId", "+1");
    format_bad("callerId", "+1234567890123456"); /* 16 digits */
    format_bad("callerId", "+0123456789");       /* country codes never start with 0 */
    format_bad("callerId", "15551234567");
    format_bad("callerId", "+1555 123 4567");
    format_bad("callerId", "+1-555-123-4567");
    format_bad("callerId", "tel:+15551234567");
    format_bad("callerId", "+");
    format_bad("callerId", "");
    format_bad("callerId", "+1555123456a");
    format_bad("callerId", "+\xd9\xa1\xd9\xa2\xd9\xa3"); /* Arabic-Indic digits */
}

static void test_format_uuid(void **state)
{
    (void)state;
    format_ok("queueId", UUID);
    format_ok("queueId", "A1B2C3D4-E5F6-4789-ABCD-EF0123456789");
    format_ok("queueId", "a1B2c3D4-e5F6-4789-aBcD-eF0123456789");
    format_ok("queueId", "00000000-0000-0000-0000-000000000000");
    format_bad("queueId", "3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f7");   /* 35 chars */
    format_bad("queueId", "3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f701"); /* 37 chars */
    format_bad("queueId", "3f1c2e8a9b4d-4c6e-8a1f-2b3c4d5e6f70-");
    format_bad("queueId", "3f1c2e8a-9b4d-4c6e-8a1f_2b3c4d5e6f70");
    format_bad("queueId", "3f1c2e8g-9b4d-4c6e-8a1f-2b3c4d5e6f70");
    format_bad("queueId", "{3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f7}");
    format_bad("queueId", "3f1c2e8a9b4d4c6e8a1f2b3c4d5e6f70");
    format_bad("queueId", "");
    format_bad("interactionId", "not-a-uuid");
}

static void test_format_rfc3339(void **state)
{
    (void)state;
    format_ok("timestamp", "2026-11-24T10:00:00Z");
    format_ok("timestamp", "2026-11-24t10:00:00z");
    format_ok("timestamp", "2026-11-24T10:00:00.123456789+05:30");
    format_ok("timestamp", "2026-11-24T10:00:00.5-08:00");
    format_ok("timestamp", "2024-02-29T12:00:00Z"); /* leap year */
    format_ok("timestamp", "2000-02-29T12:00:00Z"); /* divisible by 400: leap */
    format_ok("timestamp", "2016-12-31T23:59:60Z"); /* leap second */
    format_ok("timestamp", "0001-01-01T00:00:00Z");
    format_ok("timestamp", "9999-12-31T23:59:59+23:59");
    format_ok("timestamp", "2026-04-30T00:00:00-00:00");
    format_bad("timestamp", "2023-02-29T12:00:00Z"); /* not a leap year */
    format_bad("timestamp", "1900-02-29T12:00:00Z"); /* century, not /400 */
    format_bad("timestamp", "2024-02-30T12:00:00Z");
    format_bad("timestamp", "2026-04-31T00:00:00Z");
    format_bad("timestamp", "2026-13-01T00:00:00Z");
    format_bad("timestamp", "2026-00-10T00:00:00Z");
    format_bad("timestamp", "2026-01-00T00:00:00Z");
    format_bad("timestamp", "2026-01-32T00:00:00Z");
    format_bad("timestamp", "2026-11-24T24:00:00Z");
    format_bad("timestamp", "2026-11-24T23:60:00Z");
    format_bad("timestamp", "2026-11-24T23:59:61Z");
    format_bad("timestamp", "2026-11-24T10:00:00");       /* no offset */
    format_bad("timestamp", "2026-11-24 10:00:00Z");      /* space separator */
    format_bad("timestamp", "2026-11-24T10:00:00.Z");     /* empty fraction */
    format_bad("timestamp", "2026-11-24T10:00:00+24:00");
    format_bad("timestamp", "2026-11-24T10:00:00+05:60");
    format_bad("timestamp", "2026-11-24T10:00:00+0530");
    format_bad("timestamp", "2026-11-24T10:00:00+05:30Z");
    format_bad("timestamp", "2026-11-24T10:00:00ZZ");
    format_bad("timestamp", "2026-11-24T10:00Z");
    format_bad("timestamp", "2026-11-24");
    format_bad("timestamp", "26-11-24T10:00:00Z");
    format_bad("timestamp", "2026-1-24T10:00:00Z");
    format_bad("timestamp", "+2026-11-24T10:00:00Z");
    format_bad("timestamp", "");
}

/* ---- idempotency key ---------------------------------------------------------------- */

static void test_key_from_field(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new();
    gda_error err;
    assert_int_equal(gda_spec_set_idempotency_field(spec, "txnId", &err), GDA_OK);
    const char *name = NULL;
    assert_int_equal(gda_spec_idempotency_source(spec, &name), GDA_KEY_FROM_FIELD);
    assert_string_equal(name, "txnId");

    const char *ok = "{\"txnId\":\"T-1\",\"requestId\":\"ignored\"}";
    gda_request *req = expect_ok(spec, ok, strlen(ok));
    assert_string_equal(gda_request_idempotency_key(req), "T-1");
    gda_request_free(req);

    expect_fail(spec, "{\"requestId\":\"x\"}", 17, GDA_ERR_INVALID_FIELD, "txnId",
                "idempotency key missing");
    expect_fail(spec, "{\"txnId\":null}", 14, GDA_ERR_INVALID_FIELD, "txnId",
                "idempotency key missing");
    expect_fail(spec, "{\"txnId\":42}", 12, GDA_ERR_INVALID_FIELD, "txnId",
                "must be a string");
    expect_fail(spec, "{\"txnId\":\"\"}", 12, GDA_ERR_INVALID_FIELD, "txnId", "empty");
    expect_fail(spec, "{\"txnId\":\"a\\u0001b\"}", 20, GDA_ERR_INVALID_FIELD, "txnId",
                "control character");
    expect_fail(spec, "{\"txnId\":\"a\\nb\"}", 16, GDA_ERR_INVALID_FIELD, "txnId",
                "control character");
    expect_fail(spec, "{\"txnId\":\"a\\u007fb\"}", 20, GDA_ERR_INVALID_FIELD, "txnId",
                "control character");
    expect_fail(spec, "{\"txnId\":\"a\\u0085b\"}", 20, GDA_ERR_INVALID_FIELD, "txnId",
                "control character"); /* C1 NEL */
    /* Non-ASCII printable text is a fine key. */
    const char *utf8 = "{\"txnId\":\"cl\xc3\xa9-\xe6\x97\xa5\"}";
    req = expect_ok(spec, utf8, strlen(utf8));
    assert_string_equal(gda_request_idempotency_key(req), "cl\xc3\xa9-\xe6\x97\xa5");
    gda_request_free(req);

    /* Length bound: GDA_KEY_MAX bytes pass, one more does not (bytes, not
     * code points: 2-byte characters hit it at half the count). */
    char body[1200];
    char key[GDA_KEY_MAX + 2];
    memset(key, 'k', GDA_KEY_MAX);
    key[GDA_KEY_MAX] = '\0';
    snprintf(body, sizeof body, "{\"txnId\":\"%s\"}", key);
    req = expect_ok(spec, body, strlen(body));
    assert_int_equal(strlen(gda_request_idempotency_key(req)), GDA_KEY_MAX);
    gda_request_free(req);
    key[GDA_KEY_MAX] = 'k';
    key[GDA_KEY_MAX + 1] = '\0';
    snprintf(body, sizeof body, "{\"txnId\":\"%s\"}", key);
    expect_fail(spec, body, strlen(body), GDA_ERR_INVALID_FIELD, "txnId", "longer than 256 bytes");
    char wide[2 * GDA_KEY_MAX] = "";
    for (int i = 0; i < GDA_KEY_MAX / 2 + 1; i++)
        strcat(wide, "\xc3\xa9");
    snprintf(body, sizeof body, "{\"txnId\":\"%s\"}", wide);
    expect_fail(spec, body, strlen(body), GDA_ERR_INVALID_FIELD, "txnId", "longer than 256 bytes");

    assert_int_equal(gda_spec_set_idempotency_field(spec, "", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_field(spec, NULL, &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_field(spec, "\xc0\xaf", &err), GDA_ERR_CONFIG);
    /* A failed set keeps the previous source. */
    assert_int_equal(gda_spec_idempotency_source(spec, &name), GDA_KEY_FROM_FIELD);
    assert_string_equal(name, "txnId");
    gda_spec_free(spec);
}

static void test_ten_kb_request_id(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    size_t n = 10 * 1024;
    char *id = malloc(n + 1);
    assert_non_null(id);
    memset(id, 'a', n);
    id[n] = '\0';
    gda_error err;
    gda_error_clear(&err);
    assert_int_equal(parse_reference_with("requestId", json_string(id), &err),
                     GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "requestId");
    assert_non_null(strstr(err.message, "longer than 256"));
    /* Without the spec's max_length, the key rule itself still refuses it. */
    gda_spec *bare = gda_spec_new();
    size_t cap = n + 32;
    char *body = malloc(cap);
    assert_non_null(body);
    snprintf(body, cap, "{\"requestId\":\"%s\"}", id);
    expect_fail(bare, body, strlen(body), GDA_ERR_INVALID_FIELD, "requestId",
                "idempotency key longer than 256 bytes");
    free(body);
    free(id);
    gda_spec_free(bare);
    gda_spec_free(spec);
}

static void test_key_from_pointer(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new();
    gda_error err;
    size_t len;
    char *body = read_data("meta_key.json", &len);

    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "/meta/id", &err), GDA_OK);
    const char *name = NULL;
    assert_int_equal(gda_spec_idempotency_source(spec, &name), GDA_KEY_FROM_POINTER);
    assert_string_equal(name, "/meta/id");
    gda_request *req = expect_ok(spec, body, len);
    assert_string_equal(gda_request_idempotency_key(req), "meta-key-42");
    gda_request_free(req);

    /* ~1 is "/", ~0 is "~". */
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "/a~1b/c~0d", &err), GDA_OK);
    req = expect_ok(spec, body, len);
    assert_string_equal(gda_request_idempotency_key(req), "escaped-key");
    gda_request_free(req);

    /* Array index. */
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "/meta/ids/1", &err), GDA_OK);
    req = expect_ok(spec, body, len);
    assert_string_equal(gda_request_idempotency_key(req), "second");
    gda_request_free(req);

    /* A top-level pointer works like the field source. */
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "/requestId", &err), GDA_OK);
    req = expect_ok(spec, body, len);
    assert_string_equal(gda_request_idempotency_key(req), "r1");
    gda_request_free(req);

    /* Pointers that name nothing, or something that is not a string. */
    static const char *missing[] = {
        "/meta/nope", "/meta/ids/2", "/meta/ids/-", "/meta/ids/01", "/meta/ids/x",
        "/requestId/deeper", "/a~1b/c~1d", "/meta/ids/99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        assert_int_equal(gda_spec_set_idempotency_pointer(spec, missing[i], &err), GDA_OK);
        expect_fail(spec, body, len, GDA_ERR_INVALID_FIELD, missing[i],
                    "idempotency key missing");
    }
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "/meta", &err), GDA_OK);
    expect_fail(spec, body, len, GDA_ERR_INVALID_FIELD, "/meta", "must be a string, got object");

    /* Invalid pointers are configuration errors and keep the old source. */
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "meta/id", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, NULL, &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "/a~2", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "/a~", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_pointer(spec, "/\xc0\xaf", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_idempotency_source(spec, &name), GDA_KEY_FROM_POINTER);
    assert_string_equal(name, "/meta");
    free(body);
    gda_spec_free(spec);
}

static void test_key_from_header(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    gda_error err;
    assert_int_equal(gda_spec_set_idempotency_header(spec, NULL, &err), GDA_OK);
    const char *name = NULL;
    assert_int_equal(gda_spec_idempotency_source(spec, &name), GDA_KEY_FROM_HEADER);
    assert_string_equal(name, "Idempotency-Key");

    size_t len;
    char *body = read_data("minimal.json", &len);
    const gda_header headers[] = {
        {SL("Content-Type"), SL("application/json")},
        {SL("idempotency-key"), SL("hdr-7f3a")},
    };
    gda_http_request http = http_with(body, len, headers, 2);
    gda_request *req = NULL;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_OK);
    assert_string_equal(gda_request_idempotency_key(req), "hdr-7f3a");
    gda_request_free(req);

    /* Missing. */
    http = http_with(body, len, json_headers, 1);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "Idempotency-Key");
    assert_non_null(strstr(err.message, "missing"));

    /* Repeated: ambiguous. */
    const gda_header repeated[] = {
        {SL("Content-Type"), SL("application/json")},
        {SL("Idempotency-Key"), SL("a")},
        {SL("IDEMPOTENCY-KEY"), SL("b")},
    };
    http = http_with(body, len, repeated, 3);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_FIELD);
    assert_non_null(strstr(err.message, "repeated"));

    /* Empty, control characters, invalid UTF-8, too long. */
    char long_value[GDA_KEY_MAX + 1];
    memset(long_value, 'v', sizeof long_value);
    const gda_slice bad_values[] = {
        SL(""), SL("a\tb"), SL("a\x00" "b"), SL("\xc0\xaf"),
        {long_value, sizeof long_value},
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        const gda_header h[] = {
            {SL("Content-Type"), SL("application/json")},
            {SL("Idempotency-Key"), bad_values[i]},
        };
        http = http_with(body, len, h, 2);
        assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err),
                         GDA_ERR_INVALID_FIELD);
        assert_null(req);
        assert_string_equal(err.field, "Idempotency-Key");
    }

    /* The key outlives the header buffer it came from. */
    char value[] = "copied-key";
    const gda_header h[] = {
        {SL("Content-Type"), SL("application/json")},
        {SL("Idempotency-Key"), {value, strlen(value)}},
    };
    http = http_with(body, len, h, 2);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_OK);
    memset(value, 'X', strlen(value));
    assert_string_equal(gda_request_idempotency_key(req), "copied-key");
    gda_request_free(req);

    /* A custom header name; direct invocations carry no headers. */
    assert_int_equal(gda_spec_set_idempotency_header(spec, "X-Request-Key", &err), GDA_OK);
    const gda_header custom[] = {
        {SL("Content-Type"), SL("application/json")},
        {SL("x-request-key"), SL("custom")},
    };
    http = http_with(body, len, custom, 2);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_OK);
    assert_string_equal(gda_request_idempotency_key(req), "custom");
    gda_request_free(req);
    http = http_with(body, len, NULL, 0);
    http.kind = GDA_EVENT_DIRECT;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "X-Request-Key");

    assert_int_equal(gda_spec_set_idempotency_header(spec, "", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_header(spec, "Bad Header", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_header(spec, "Key:", &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_spec_set_idempotency_header(NULL, NULL, &err), GDA_ERR_CONFIG);
    free(body);
    gda_spec_free(spec);
}

/* ---- direct invocation ------------------------------------------------------------------ */

static gda_http_request direct_with(const json_t *json)
{
    gda_http_request http = http_with(NULL, 0, NULL, 0);
    http.kind = GDA_EVENT_DIRECT;
    http.body_json = json;
    return http;
}

/* A top-level object whose "deep" member nests arrays so that the whole
 * document is `levels` levels deep. */
static json_t *deep_json(int levels)
{
    json_t *leaf = json_integer(1);
    for (int i = 1; i < levels; i++) {
        json_t *wrap = json_array();
        assert_int_equal(json_array_append_new(wrap, leaf), 0);
        leaf = wrap;
    }
    json_t *root = json_pack("{s:s, s:s, s:o}", "interactionId", UUID, "requestId", "r1",
                             "deep", leaf);
    assert_non_null(root);
    return root;
}

static void test_direct_uses_body_json(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    gda_error err;
    json_t *json = json_pack("{s:s, s:s, s:s}", "interactionId", UUID, "requestId", "direct-1",
                             "callerId", "+15551234567");
    assert_non_null(json);
    gda_http_request http = direct_with(json);
    gda_request *req = NULL;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_OK);
    /* No second parse: the request holds the very same JSON, with its own
     * reference, so it outlives the event. */
    assert_ptr_equal(gda_request_json(req), json);
    json_decref(json);
    assert_string_equal(gda_request_idempotency_key(req), "direct-1");
    assert_string_equal(gda_request_string(req, "callerId"), "+15551234567");
    gda_request_free(req);

    /* Field rules still apply. */
    json = json_pack("{s:s}", "interactionId", UUID);
    http = direct_with(json);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "requestId");
    json_decref(json);
    json = json_pack("{s:s, s:s, s:s}", "interactionId", UUID, "requestId", "r",
                     "callerId", "555-1234");
    http = direct_with(json);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "callerId");
    json_decref(json);

    /* Depth: 50 ok, 51 refused. */
    json = deep_json(50);
    http = direct_with(json);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_OK);
    gda_request_free(req);
    json_decref(json);
    json = deep_json(51);
    http = direct_with(json);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_JSON);
    assert_non_null(strstr(err.message, "deeper than 50"));
    json_decref(json);

    /* Not an object. */
    json = json_array();
    http = direct_with(json);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_JSON);
    json_decref(json);

    /* Strings built without jansson's checks are still held to UTF-8/NUL. */
    json = json_pack("{s:s, s:s}", "interactionId", UUID, "requestId", "r");
    json_object_set_new(json, "raw", json_stringn_nocheck("a\0b", 3));
    http = direct_with(json);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_JSON);
    assert_non_null(strstr(err.message, "NUL"));
    json_object_set_new(json, "raw", json_string_nocheck("\xc0\xaf"));
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_JSON);
    assert_non_null(strstr(err.message, "overlong"));
    json_decref(json);

    /* Size: measured on the raw event bytes when present, else on the JSON. */
    json = json_pack("{s:s, s:s}", "interactionId", UUID, "requestId", "r");
    http = direct_with(json);
    gda_limits small = {40, 0};
    assert_int_equal(gda_request_parse(spec, &http, &small, &req, &err),
                     GDA_ERR_PAYLOAD_TOO_LARGE);
    char raw[100];
    memset(raw, ' ', sizeof raw);
    http.body = gda_slice_make(raw, sizeof raw);
    small.max_body = 99;
    assert_int_equal(gda_request_parse(spec, &http, &small, &req, &err),
                     GDA_ERR_PAYLOAD_TOO_LARGE);
    small.max_body = 100;
    assert_int_equal(gda_request_parse(spec, &http, &small, &req, &err), GDA_OK);
    gda_request_free(req);
    json_decref(json);

    /* body_json is only trusted for direct invocations. */
    json = json_pack("{s:s, s:s}", "interactionId", UUID, "requestId", "r");
    http = direct_with(json);
    http.kind = GDA_EVENT_HTTP;
    http.headers = json_headers;
    http.n_headers = 1;
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INVALID_JSON);
    assert_non_null(strstr(err.message, "empty body"));
    json_decref(json);
    gda_spec_free(spec);
}

/* ---- arguments and limits ------------------------------------------------------------------ */

static void test_limits_and_arguments(void **state)
{
    (void)state;
    gda_limits lim = gda_limits_default();
    assert_int_equal(lim.max_body, 256 * 1024);
    assert_int_equal(lim.max_depth, 50);

    gda_spec *spec = gda_spec_new_reference();
    const char *body = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\"}";
    gda_http_request http = json_http(body, strlen(body));
    gda_request *req = (gda_request *)0x1;
    gda_error err;
    gda_limits negative = {0, -1};
    assert_int_equal(gda_request_parse(spec, &http, &negative, &req, &err), GDA_ERR_CONFIG);
    assert_null(req);
    assert_int_equal(gda_request_parse(NULL, &http, NULL, &req, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_request_parse(spec, NULL, NULL, &req, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_request_parse(spec, &http, NULL, NULL, &err), GDA_ERR_INTERNAL);
    http.body = gda_slice_make(NULL, 5);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &err), GDA_ERR_INTERNAL);
    /* err is optional. */
    http = json_http("{", 1);
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, NULL), GDA_ERR_INVALID_JSON);
    gda_spec_free(spec);
}

/* ---- redaction ------------------------------------------------------------------------------------- */

static void test_redacted_copy(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    gda_field note = {"note", GDA_FIELD_STRING, false, 0, GDA_FORMAT_NONE, true};
    gda_field account = {"account", GDA_FIELD_INTEGER, false, 0, GDA_FORMAT_NONE, true};
    gda_field address = {"address", GDA_FIELD_OBJECT, false, 0, GDA_FORMAT_NONE, true};
    assert_int_equal(gda_spec_add(spec, &note, NULL), GDA_OK);
    assert_int_equal(gda_spec_add(spec, &account, NULL), GDA_OK);
    assert_int_equal(gda_spec_add(spec, &address, NULL), GDA_OK);
    const char *body = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\","
                       "\"callerId\":\"+15551234567\",\"note\":\"call me back\","
                       "\"account\":123456789,\"address\":{\"street\":\"1 Main St\"},"
                       "\"language\":\"en-US\"}";
    gda_request *req = expect_ok(spec, body, strlen(body));
    json_t *red = gda_request_redacted(req);
    assert_non_null(red);
    assert_ptr_not_equal(red, gda_request_json(req));
    assert_string_equal(json_string_value(json_object_get(red, "callerId")), "***4567");
    assert_string_equal(json_string_value(json_object_get(red, "note")), "***");
    assert_string_equal(json_string_value(json_object_get(red, "account")), "***");
    assert_string_equal(json_string_value(json_object_get(red, "address")), "***");
    assert_string_equal(json_string_value(json_object_get(red, "interactionId")), UUID);
    assert_string_equal(json_string_value(json_object_get(red, "language")), "en-US");
    char *dump = json_dumps(red, JSON_COMPACT);
    assert_non_null(dump);
    assert_null(strstr(dump, "15551234567"));
    assert_null(strstr(dump, "Main St"));
    assert_null(strstr(dump, "123456789"));
    free(dump);
    json_decref(red);
    /* The request itself is untouched. */
    assert_string_equal(gda_request_string(req, "callerId"), "+15551234567");
    gda_request_free(req);

    /* Absent and null PII fields stay as they were. */
    const char *nulls = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\",\"note\":null}";
    req = expect_ok(spec, nulls, strlen(nulls));
    red = gda_request_redacted(req);
    assert_non_null(red);
    assert_null(json_object_get(red, "callerId"));
    assert_true(json_is_null(json_object_get(red, "note")));
    json_decref(red);
    gda_request_free(req);
    gda_spec_free(spec);
}

static void test_messages_never_echo_values(void **state)
{
    (void)state;
    gda_spec *spec = gda_spec_new_reference();
    const char *secret_caller = "{\"interactionId\":\"" UUID "\",\"requestId\":\"r1\","
                                "\"callerId\":\"+1555SECRET99\"}";
    gda_request *req = NULL;
    gda_error err;
    assert_int_equal(parse_body(spec, secret_caller, strlen(secret_caller), &req, &err),
                     GDA_ERR_INVALID_FIELD);
    assert_string_equal(err.field, "callerId");
    assert_null(strstr(err.message, "SECRET"));
    assert_null(strstr(err.message, "+1555"));
    const char *secret_dup = "{\"secretKey\":\"SECRET\",\"secretKey\":\"SECRET\"}";
    assert_int_equal(parse_body(spec, secret_dup, strlen(secret_dup), &req, &err),
                     GDA_ERR_INVALID_JSON);
    assert_null(strstr(err.message, "SECRET"));
    gda_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_spec_contents),
        cmocka_unit_test(test_spec_add_validation),
        cmocka_unit_test(test_valid_genesys_payload),
        cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_accessors_null_safe),
        cmocka_unit_test(test_too_large_before_anything_else),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_invalid_utf8_and_nul),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_huge_integers),
        cmocka_unit_test(test_required_and_types),
        cmocka_unit_test(test_custom_spec_types),
        cmocka_unit_test(test_max_length_counts_code_points),
        cmocka_unit_test(test_format_e164),
        cmocka_unit_test(test_format_uuid),
        cmocka_unit_test(test_format_rfc3339),
        cmocka_unit_test(test_key_from_field),
        cmocka_unit_test(test_ten_kb_request_id),
        cmocka_unit_test(test_key_from_pointer),
        cmocka_unit_test(test_key_from_header),
        cmocka_unit_test(test_direct_uses_body_json),
        cmocka_unit_test(test_limits_and_arguments),
        cmocka_unit_test(test_redacted_copy),
        cmocka_unit_test(test_messages_never_echo_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
