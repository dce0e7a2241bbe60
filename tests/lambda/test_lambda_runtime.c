/* Integration: the real `bootstrap` (and bootstrap-test, the same main with
 * a handler that can crash or stall) against the local Runtime API stand-in:
 * every event shape, replay, bad inputs, direct-invocation error classes,
 * handler crash, Runtime API faults, init failures, SIGTERM, authorizer mode
 * and key ring rotation through the secrets extension stand-in.
 *
 * Usage (meson passes them):
 *   test_lambda_runtime BOOTSTRAP BOOTSTRAP_TEST MAIN_WITHOUT_HANDLER
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"
#include "runtime_standin.h"
#include "secrets_standin.h"

static const char *bootstrap_path;
static const char *bootstrap_test_path;
static char workdir[256];

#define WAIT_MS 10000
#define METHOD_ARN "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/POST/genesys/dataaction"

typedef struct fx {
    rapi *r;
    pid_t pid;
    char *ring;
    char *token;
    char ring_env[300];
    char ledger[300];
    char ledger_env[320];
    char log[300];
} fx;

static unsigned fx_counter;

static void fx_init(fx *f, const rapi_faults *faults)
{
    memset(f, 0, sizeof *f);
    f->r = rapi_start(faults);
    assert_non_null(f->r);
    harness_make_key("k1", &f->ring, &f->token);
    snprintf(f->ring_env, sizeof f->ring_env, "GDA_SECRETS=%s", f->ring);
    unsigned n = ++fx_counter;
    snprintf(f->ledger, sizeof f->ledger, "%s/ledger-%u", workdir, n);
    snprintf(f->ledger_env, sizeof f->ledger_env, "GDA_TEST_LEDGER=%s", f->ledger);
    snprintf(f->log, sizeof f->log, "%s/bootstrap-%u.log", workdir, n);
    f->pid = -1;
}

/* Start program with the key ring, the ledger and extra (NULL-terminated). */
static void fx_spawn(fx *f, const char *program, const char *const *extra)
{
    const char *env[40];
    size_t n = 0;
    env[n++] = f->ring_env;
    env[n++] = f->ledger_env;
    env[n++] = "GDA_STORE=memory";
    for (size_t i = 0; extra && extra[i] && n < 39; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    f->pid = harness_spawn(program, rapi_address(f->r), env, f->log, NULL);
    assert_true(f->pid > 0);
}

/* SIGTERM the child and expect a clean exit. */
static void fx_stop(fx *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        int status = 0;
        bool exited = harness_wait(f->pid, 5000, &status);
        if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "bootstrap did not stop cleanly (log %s)\n", f->log);
        assert_true(exited);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        f->pid = -1;
    }
    rapi_stop(f->r);
    free(f->ring);
    free(f->token);
}

static uint64_t push_json(fx *f, json_t *event)
{
    char *text = harness_dump(event);
    assert_non_null(text);
    uint64_t i = rapi_push(f->r, text, strlen(text), 0, NULL);
    free(text);
    json_decref(event);
    return i;
}

static uint64_t push_text(fx *f, const char *text)
{
    return rapi_push(f->r, text, strlen(text), 0, NULL);
}

static void get_result(fx *f, uint64_t i, rapi_result *res)
{
    if (!rapi_wait_finished(f->r, i + 1, WAIT_MS))
        fprintf(stderr, "invocation %llu got no answer (log %s)\n", (unsigned long long)i, f->log);
    assert_true(rapi_wait_finished(f->r, i + 1, WAIT_MS));
    assert_true(rapi_get(f->r, i, res));
}

/* The response of invocation i, parsed. */
static json_t *expect_response(fx *f, uint64_t i)
{
    rapi_result res;
    get_result(f, i, &res);
    if (res.kind != RAPI_RESPONSE)
        fprintf(stderr, "invocation %llu: expected a response, got error %s: %s\n",
                (unsigned long long)i, res.error_type, res.body ? res.body : "");
    assert_int_equal(res.kind, RAPI_RESPONSE);
    json_t *v = json_loadb(res.body, res.body_len, 0, NULL);
    rapi_result_clear(&res);
    assert_non_null(v);
    return v;
}

/* The error of invocation i: checks the type and that errorMessage is a
 * JSON error object; returns that object. */
static json_t *expect_error(fx *f, uint64_t i, const char *type)
{
    rapi_result res;
    get_result(f, i, &res);
    if (res.kind != RAPI_ERROR || strcmp(res.error_type, type) != 0)
        fprintf(stderr, "invocation %llu: expected error %s, got kind %d type %s: %s\n",
                (unsigned long long)i, type, res.kind, res.error_type, res.body ? res.body : "");
    assert_int_equal(res.kind, RAPI_ERROR);
    assert_string_equal(res.error_type, type);
    json_t *doc = json_loadb(res.body, res.body_len, 0, NULL);
    rapi_result_clear(&res);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "errorType")), type);
    const char *msg = json_string_value(json_object_get(doc, "errorMessage"));
    assert_non_null(msg);
    json_t *obj = json_loads(msg, 0, NULL);
    json_decref(doc);
    return obj; /* may be NULL for runtime-level errors (crash, too large) */
}

/* The JSON error object of the HTTP paths carries the code under "error". */
static const char *error_code_of(json_t *obj)
{
    json_t *e = json_object_get(obj, "error");
    return json_string_value(json_object_get(e, "code"));
}

static json_t *http_event(const char *file, const char *token, const char *body)
{
    json_t *ev = harness_load_event(file);
    assert_non_null(ev);
    harness_set_path(ev, "/genesys/dataaction");
    if (token)
        harness_set_header(ev, "X-Genesys-Signature", token);
    harness_set_body(ev, body);
    return ev;
}

static size_t ledger_lines(const fx *f, const char *request_id)
{
    FILE *fp = fopen(f->ledger, "r");
    if (!fp)
        return 0;
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = '\0';
        if (!request_id || strcmp(line, request_id) == 0)
            n++;
    }
    fclose(fp);
    return n;
}

/* How many lines of the log at path contain every one of the NULL-ended
 * strings. */
static int log_count(const char *path, ...)
{
    FILE *log = fopen(path, "r");
    assert_non_null(log);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, log)) {
        va_list ap;
        va_start(ap, path);
        bool all = true;
        for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *))
            all &= strstr(line, want) != NULL;
        va_end(ap);
        n += all;
    }
    fclose(log);
    return n;
}

/* Write text to path with the given mode (the umask does not apply). */
static void write_file_mode(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

/* ---- every event shape ------------------------------------------------- */

static void test_every_event_shape(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    fx_spawn(&f, bootstrap_path, NULL);
    static const char *const shapes[] = {"apigw-rest.json", "apigw-rest-base64.json",
                                         "apigw-http.json", "function-url.json", "alb.json",
                                         "alb-multivalue.json"};
    size_t n = sizeof shapes / sizeof shapes[0];
    uint64_t ids[8];
    for (size_t i = 0; i < n; i++) {
        char rid[64];
        snprintf(rid, sizeof rid, "shape-%zu", i);
        char *body = harness_request_body(rid, NULL);
        ids[i] = push_json(&f, http_event(shapes[i], f.token, body));
        free(body);
    }
    json_t *direct = harness_load_event("direct.json");
    json_object_set_new(direct, "requestId", json_string("shape-direct"));
    uint64_t direct_id = push_json(&f, direct);

    for (size_t i = 0; i < n; i++) {
        json_t *resp = expect_response(&f, ids[i]);
        assert_int_equal(json_integer_value(json_object_get(resp, "statusCode")), 200);
        const char *body = json_string_value(json_object_get(resp, "body"));
        assert_non_null(body);
        json_t *b = json_loads(body, 0, NULL);
        assert_non_null(b);
        assert_non_null(strstr(body, "\"tier\":\"gold\""));
        json_decref(b);
        if (strncmp(shapes[i], "alb", 3) == 0)
            assert_string_equal(json_string_value(json_object_get(resp, "statusDescription")),
                                "200 OK");
        json_decref(resp);
    }
    /* Direct invocation: the response *is* the Data Action JSON. */
    json_t *resp = expect_response(&f, direct_id);
    assert_null(json_object_get(resp, "statusCode"));
    char *text = harness_dump(resp);
    assert_non_null(strstr(text, "\"tier\":\"gold\""));
    free(text);
    json_decref(resp);
    fx_stop(&f);
}

/* An HTTP-shaped event with a wrong credential is an HTTP 401 *response*
 * (API Gateway passes it on), not an invocation error. */
static void test_http_unauthorized_is_a_response(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    fx_spawn(&f, bootstrap_path, NULL);
    char *body = harness_request_body("unauth-1", NULL);
    uint64_t a = push_json(&f, http_event("apigw-rest.json", "d3Jvbmc=", body));
    uint64_t b = push_json(&f, http_event("apigw-http.json", NULL, body));
    free(body);
    json_t *r = expect_response(&f, a);
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 401);
    json_decref(r);
    r = expect_response(&f, b);
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 401);
    json_decref(r);
    fx_stop(&f);
}

/* ---- replay --------------------------------------------------------------- */

static void test_replay(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    fx_spawn(&f, bootstrap_test_path, NULL);
    char *body = harness_request_body("replay-1", NULL);
    uint64_t a = push_text(&f, body);
    uint64_t b = push_text(&f, body);
    uint64_t c = push_json(&f, http_event("apigw-rest.json", f.token, body));
    free(body);
    rapi_result ra, rb;
    get_result(&f, a, &ra);
    get_result(&f, b, &rb);
    assert_int_equal(ra.kind, RAPI_RESPONSE);
    assert_int_equal(rb.kind, RAPI_RESPONSE);
    assert_int_equal(ra.body_len, rb.body_len);
    assert_memory_equal(ra.body, rb.body, ra.body_len); /* byte for byte */
    /* The same key through API Gateway is another principal (the token's
     * caller, not the trusted direct door): 409, and never the result. */
    json_t *rc = expect_response(&f, c);
    assert_int_equal(json_integer_value(json_object_get(rc, "statusCode")), 409);
    const char *other = json_string_value(json_object_get(rc, "body"));
    assert_non_null(strstr(other, "idempotency_key_conflict"));
    assert_null(strstr(other, "\"data\""));
    json_decref(rc);
    rapi_result_clear(&ra);
    rapi_result_clear(&rb);
    assert_int_equal(ledger_lines(&f, "replay-1"), 1); /* the handler ran once */

    /* Through API Gateway with the same credential: a replay, byte for byte. */
    char *body2 = harness_request_body("replay-2", NULL);
    uint64_t d = push_json(&f, http_event("apigw-rest.json", f.token, body2));
    uint64_t e = push_json(&f, http_event("apigw-rest.json", f.token, body2));
    free(body2);
    json_t *rd = expect_response(&f, d), *re = expect_response(&f, e);
    assert_int_equal(json_integer_value(json_object_get(rd, "statusCode")), 200);
    assert_int_equal(json_integer_value(json_object_get(re, "statusCode")), 200);
    assert_string_equal(json_string_value(json_object_get(rd, "body")),
                        json_string_value(json_object_get(re, "body")));
    json_decref(rd);
    json_decref(re);
    assert_int_equal(ledger_lines(&f, "replay-2"), 1);
    fx_stop(&f);
}

/* ---- bad inputs and direct-invocation error classes ------------------ */

static void test_bad_events(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    static const char *const env[] = {"GDA_LAMBDA_MAX_EVENT=65536", NULL};
    fx_spawn(&f, bootstrap_path, env);
    static const char *const files[] = {"not-json.txt",     "array.json",      "deep-direct.json",
                                        "duplicate-keys.json", "base64-invalid.json",
                                        "header-crlf.json", "s3-records.json", "eventbridge.json",
                                        "authorizer-token.json"};
    size_t n = sizeof files / sizeof files[0];
    uint64_t ids[16];
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *text = harness_read_event(files[i], &len);
        assert_non_null(text);
        ids[i] = rapi_push(f.r, text, len, 0, NULL);
        free(text);
    }
    /* Over the event limit. */
    size_t big_len = 70000;
    char *big = malloc(big_len + 64);
    int k = snprintf(big, 64, "{\"requestId\":\"big\",\"pad\":\"");
    memset(big + k, 'x', big_len);
    strcpy(big + k + big_len, "\"}");
    uint64_t big_id = push_text(&f, big);
    free(big);
    /* Direct invocation with a field missing: 400 naming it. */
    uint64_t missing = push_text(&f, "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\"}");
    /* Empty event body. */
    uint64_t empty = rapi_push(f.r, "", 0, 0, NULL);

    for (size_t i = 0; i < n; i++) {
        json_t *obj = expect_error(&f, ids[i], "Invalid");
        assert_non_null(obj);
        assert_non_null(error_code_of(obj));
        assert_false(json_is_true(json_object_get(obj, "requiresRetry")));
        json_decref(obj);
    }
    json_t *obj = expect_error(&f, big_id, "PayloadTooLarge");
    assert_string_equal(error_code_of(obj), "payload_too_large");
    json_decref(obj);
    obj = expect_error(&f, missing, "Invalid");
    assert_string_equal(error_code_of(obj), "invalid_field");
    char *text = harness_dump(obj);
    assert_non_null(strstr(text, "requestId"));
    free(text);
    json_decref(obj);
    json_decref(expect_error(&f, empty, "Invalid"));
    fx_stop(&f);
}

static void test_direct_error_classes(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    fx_spawn(&f, bootstrap_test_path, NULL);
    char *reject = harness_request_body("cls-reject", "\"testMode\":\"reject\"");
    char *fail = harness_request_body("cls-fail", "\"testMode\":\"fail\"");
    char *first = harness_request_body("cls-mismatch", NULL);
    char *second = harness_request_body("cls-mismatch", "\"queueId\":\"b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e\"");
    uint64_t a = push_text(&f, reject);
    uint64_t b = push_text(&f, fail);
    uint64_t c = push_text(&f, fail); /* a retry re-runs a transient failure */
    uint64_t d = push_text(&f, first);
    uint64_t e = push_text(&f, second);
    uint64_t g = push_text(&f, reject); /* a 4xx is cached like a success */

    json_t *obj = expect_error(&f, a, "Unprocessable");
    assert_false(json_is_true(json_object_get(obj, "requiresRetry")));
    json_decref(obj);
    obj = expect_error(&f, b, "Retryable");
    assert_true(json_is_true(json_object_get(obj, "requiresRetry")));
    json_decref(obj);
    json_decref(expect_error(&f, c, "Retryable"));
    json_decref(expect_response(&f, d));
    obj = expect_error(&f, e, "PayloadMismatch");
    assert_string_equal(error_code_of(obj), "idempotency_key_reused");
    json_decref(obj);
    json_decref(expect_error(&f, g, "Unprocessable"));
    assert_int_equal(ledger_lines(&f, "cls-fail"), 2);
    assert_int_equal(ledger_lines(&f, "cls-reject"), 1);
    assert_int_equal(ledger_lines(&f, "cls-mismatch"), 1);
    free(reject);
    free(fail);
    free(first);
    free(second);
    fx_stop(&f);
}

/* ---- trace id and deadline ------------------------------------------- */

static void test_trace_and_deadline(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    fx_spawn(&f, bootstrap_test_path, NULL);
    char *a = harness_request_body("trace-1", "\"testMode\":\"trace\"");
    char *b = harness_request_body("trace-2", "\"testMode\":\"trace\"");
    uint64_t i = rapi_push(f.r, a, strlen(a), 5000, "Root=1-67891233-abcdef012345678912345678;Sampled=1");
    uint64_t j = rapi_push(f.r, b, strlen(b), 20000, "Root=1-67891233-000000000000000000000002");
    free(a);
    free(b);
    json_t *r = expect_response(&f, i);
    json_t *data = json_object_get(r, "data");
    assert_non_null(data);
    assert_string_equal(json_string_value(json_object_get(data, "traceEnv")),
                        "Root=1-67891233-abcdef012345678912345678;Sampled=1");
    assert_string_equal(json_string_value(json_object_get(data, "ctxTrace")),
                        "Root=1-67891233-abcdef012345678912345678;Sampled=1");
    assert_string_equal(json_string_value(json_object_get(data, "awsRequestId")), "inv-0");
    json_int_t remaining = json_integer_value(json_object_get(data, "remainingMs"));
    assert_true(remaining > 0 && remaining <= 5000);
    json_decref(r);
    r = expect_response(&f, j);
    data = json_object_get(r, "data");
    assert_string_equal(json_string_value(json_object_get(data, "traceEnv")),
                        "Root=1-67891233-000000000000000000000002");
    remaining = json_integer_value(json_object_get(data, "remainingMs"));
    assert_true(remaining > 5000 && remaining <= 20000);
    json_decref(r);
    fx_stop(&f);
}

/* ---- handler crash ------------------------------------------------------- */

static void test_handler_crash(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    fx_spawn(&f, bootstrap_test_path, NULL);
    char *ok = harness_request_body("crash-before", NULL);
    char *crash = harness_request_body("crash-1", "\"testMode\":\"crash\"");
    char *after = harness_request_body("crash-after", NULL);
    uint64_t a = push_text(&f, ok);
    uint64_t b = push_text(&f, crash);
    uint64_t c = push_text(&f, after);
    json_decref(expect_response(&f, a));
    json_t *obj = expect_error(&f, b, "Runtime.Crash");
    json_decref(obj);
    /* The process died of the signal, as Lambda expects (it then starts a
     * fresh container), after reporting the failing invocation. */
    int status = 0;
    assert_true(harness_wait(f.pid, 5000, &status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    f.pid = -1;
    /* A new runtime picks up the queue where the crashed one left it. */
    fx_spawn(&f, bootstrap_test_path, NULL);
    json_decref(expect_response(&f, c));
    free(ok);
    free(crash);
    free(after);
    fx_stop(&f);
}

/* ---- Runtime API faults ------------------------------------------------- */

static void test_runtime_api_faults(void **state)
{
    (void)state;
    rapi_faults faults = {.reset_next_from = 2, .reset_next_count = 3, .slow_next_ms = 30,
                          .reject_response = 2};
    fx f;
    fx_init(&f, &faults);
    fx_spawn(&f, bootstrap_test_path, NULL);
    uint64_t ids[4];
    for (int i = 0; i < 4; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "fault-%d", i);
        char *body = harness_request_body(rid, i == 3 ? "\"testMode\":\"slow\",\"testSleepMs\":300" : NULL);
        ids[i] = push_text(&f, body);
        free(body);
    }
    json_decref(expect_response(&f, ids[0]));
    /* 2nd response POST answered 413: reported as an invocation error. */
    rapi_result res;
    get_result(&f, ids[1], &res);
    assert_int_equal(res.kind, RAPI_ERROR);
    assert_string_equal(res.error_type, "Runtime.ResponseTooLarge");
    assert_true(res.response_rejected);
    rapi_result_clear(&res);
    json_decref(expect_response(&f, ids[2]));
    json_decref(expect_response(&f, ids[3])); /* slow handler still answered */
    rapi_stats st;
    rapi_stats_get(f.r, &st);
    assert_true(st.nexts >= 4 + 3); /* the three reset ones were retried */
    assert_int_equal(st.rejected, 1);
    fx_stop(&f);
}

/* The Runtime API vanishing for good: the loop retries with backoff, then
 * gives up with a non-zero exit instead of spinning forever. */
static void test_runtime_api_gone(void **state)
{
    (void)state;
    rapi_faults faults = {.reset_next_from = 1, .reset_next_count = 1000};
    fx f;
    fx_init(&f, &faults);
    fx_spawn(&f, bootstrap_path, NULL);
    int status = 0;
    assert_true(harness_wait(f.pid, 60000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    rapi_stats st;
    rapi_stats_get(f.r, &st);
    assert_int_equal(st.nexts, 20); /* max_connect_failures */
    f.pid = -1;
    fx_stop(&f);
}

/* ---- init failures ----------------------------------------------------- */

static void run_init_failure(const char *const *env, const char *expected_type,
                             const char *expected_field)
{
    fx f;
    fx_init(&f, NULL);
    const char *full[16];
    size_t n = 0;
    for (size_t i = 0; env[i]; i++)
        full[n++] = env[i];
    full[n] = NULL;
    /* fx_spawn puts a valid GDA_SECRETS first; env entries override it. */
    fx_spawn(&f, bootstrap_path, full);
    int status = 0;
    assert_true(harness_wait(f.pid, WAIT_MS, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    f.pid = -1;
    char body[2048], type[128];
    assert_true(rapi_init_error(f.r, 0, body, sizeof body, type, sizeof type));
    assert_string_equal(type, expected_type);
    json_t *doc = json_loads(body, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "errorType")), expected_type);
    json_t *msg = json_loads(json_string_value(json_object_get(doc, "errorMessage")), 0, NULL);
    assert_non_null(msg);
    assert_string_equal(json_string_value(json_object_get(msg, "field")), expected_field);
    assert_string_equal(json_string_value(json_object_get(msg, "code")), "configuration_error");
    /* The bad value itself never appears. */
    assert_null(strstr(body, "not-a-key-ring"));
    json_decref(msg);
    json_decref(doc);
    rapi_stats st;
    rapi_stats_get(f.r, &st);
    assert_int_equal(st.nexts, 0); /* never asked for work */
    fx_stop(&f);
}

static void test_init_failures(void **state)
{
    (void)state;
    static const char *const bad_ring[] = {"GDA_SECRETS=not-a-key-ring", NULL};
    run_init_failure(bad_ring, "Runtime.InitError.Config", "GDA_SECRETS");
    static const char *const bad_source[] = {"GDA_SECRETS_SOURCE=vault", NULL};
    run_init_failure(bad_source, "Runtime.InitError.Config", "GDA_SECRETS_SOURCE");
    static const char *const no_id[] = {"GDA_SECRETS_SOURCE=extension", NULL};
    run_init_failure(no_id, "Runtime.InitError.Config", "GDA_SECRET_ID");
    static const char *const bad_mode[] = {"GDA_MODE=proxy", NULL};
    run_init_failure(bad_mode, "Runtime.InitError.Config", "GDA_MODE");
    static const char *const bad_ttl[] = {"GDA_TTL_S=soon", NULL};
    run_init_failure(bad_ttl, "Runtime.InitError.Config", "GDA_TTL_S");
    static const char *const bad_age[] = {"GDA_KEYRING_MAX_AGE_S=86401", NULL};
    run_init_failure(bad_age, "Runtime.InitError.Config", "GDA_KEYRING_MAX_AGE_S");
    static const char *const word_age[] = {"GDA_KEYRING_MAX_AGE_S=5m", NULL};
    run_init_failure(word_age, "Runtime.InitError.Config", "GDA_KEYRING_MAX_AGE_S");
    /* Containers come and go: the store is a choice, never a default. */
    static const char *const no_store[] = {"GDA_STORE", NULL};
    run_init_failure(no_store, "Runtime.InitError.Config", "GDA_STORE");
    /* A durable store needs the key its hashes are made with. */
    char store[300], db[280];
    snprintf(db, sizeof db, "%s/nokey.db", workdir);
    snprintf(store, sizeof store, "GDA_STORE=sqlite:%s", db);
    const char *const no_key[] = {store, NULL};
    run_init_failure(no_key, "Runtime.InitError.Config", "GDA_HASH_KEY");
    static const char *const short_key[] = {"GDA_HASH_KEY=AAECAwQFBgcICQoLDA0ODw==", NULL};
    run_init_failure(short_key, "Runtime.InitError.Config", "GDA_HASH_KEY");
}

/* A direct invocation is served without a credential only when the operator
 * says so: an API Gateway passthrough integration delivers bodies the same
 * way. And a memory store is served with a WARN saying what it costs. */
static void test_direct_trust_and_memory_warning(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    static const char *const untrusted[] = {"GDA_DIRECT_TRUSTED", NULL};
    fx_spawn(&f, bootstrap_test_path, untrusted);
    char *body = harness_request_body("direct-untrusted", NULL);
    uint64_t a = push_text(&f, body);
    json_t *e = expect_error(&f, a, "Unauthorized");
    json_decref(e);
    assert_int_equal(ledger_lines(&f, "direct-untrusted"), 0);
    fx_stop(&f);
    FILE *log = fopen(f.log, "r");
    assert_non_null(log);
    char line[4096];
    bool warned = false;
    while (fgets(line, sizeof line, log))
        warned |= strstr(line, "\"WARN\"") && strstr(line, "another instance");
    fclose(log);
    assert_true(warned);

    fx g;
    fx_init(&g, NULL);
    static const char *const trusted[] = {"GDA_DIRECT_TRUSTED=true", NULL};
    fx_spawn(&g, bootstrap_test_path, trusted);
    uint64_t b = push_text(&g, body);
    json_t *ok = expect_response(&g, b);
    json_decref(ok);
    assert_int_equal(ledger_lines(&g, "direct-untrusted"), 1);
    fx_stop(&g);
    free(body);
}

/* A secret the extension refuses (wrong id) is an init failure too. */
static void test_init_failure_secret_refused(void **state)
{
    (void)state;
    char *ring, *token;
    harness_make_key("k1", &ring, &token);
    secrets_standin *ss = secrets_standin_start("gda/keys", ring, "session-token-1", "eu-west-1");
    assert_non_null(ss);
    char port[64];
    snprintf(port, sizeof port, "GDA_SECRETS_EXTENSION_PORT=%d", secrets_standin_port(ss));
    const char *env[] = {"GDA_SECRETS=", "GDA_SECRET_ID=gda/other", "AWS_SESSION_TOKEN=session-token-1",
                         port, "GDA_SECRETS_SOURCE=extension", NULL};
    run_init_failure(env, "Runtime.InitError.Config", "GDA_SECRET_ID");
    secrets_standin_stats st;
    secrets_standin_stats_get(ss, &st);
    assert_int_equal(st.extension_refused, 1);
    secrets_standin_stop(ss);
    free(ring);
    free(token);
}

/* ---- SIGTERM ---------------------------------------------------------- */

static void test_sigterm(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    fx_spawn(&f, bootstrap_path, NULL);
    char *body = harness_request_body("term-1", NULL);
    uint64_t a = push_text(&f, body);
    free(body);
    json_decref(expect_response(&f, a));
    /* Now blocked in GET next: SIGTERM must end it promptly and cleanly. */
    assert_true(rapi_wait_nexts(f.r, 2, WAIT_MS));
    int64_t t0 = rapi_now_ns();
    kill(f.pid, SIGTERM);
    int status = 0;
    assert_true(harness_wait(f.pid, 3000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(rapi_now_ns() - t0 < 2000000000LL);
    f.pid = -1;
    fx_stop(&f);
}

/* ---- authorizer mode ------------------------------------------------ */

static json_t *token_event(const char *token)
{
    json_t *ev = harness_load_event("authorizer-token.json");
    assert_non_null(ev);
    json_object_set_new(ev, "authorizationToken", json_string(token));
    return ev;
}

static const char *policy_effect(json_t *resp)
{
    json_t *stmt = json_array_get(json_object_get(json_object_get(resp, "policyDocument"), "Statement"), 0);
    assert_string_equal(json_string_value(json_object_get(stmt, "Resource")), METHOD_ARN);
    return json_string_value(json_object_get(stmt, "Effect"));
}

static void test_authorizer_mode(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    static const char *const env[] = {"GDA_MODE=authorizer", NULL};
    fx_spawn(&f, bootstrap_path, env);
    uint64_t allow = push_json(&f, token_event(f.token));
    uint64_t deny = push_json(&f, token_event("d3Jvbmc="));
    json_t *req = json_pack("{s:s, s:s, s:{s:s}}", "type", "REQUEST", "methodArn", METHOD_ARN,
                            "headers", "X-Genesys-Signature", f.token);
    uint64_t req_allow = push_json(&f, req);
    json_t *req_none = json_pack("{s:s, s:s, s:{s:s}}", "type", "REQUEST", "methodArn", METHOD_ARN,
                                 "headers", "Content-Type", "application/json");
    uint64_t req_deny = push_json(&f, req_none);
    char *body = harness_request_body("az-1", NULL);
    uint64_t not_authorizer = push_json(&f, http_event("apigw-rest.json", f.token, body));
    free(body);
    uint64_t wildcard = push_json(&f, json_pack("{s:s, s:s, s:s}", "type", "TOKEN", "methodArn",
                                                "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*",
                                                "authorizationToken", f.token));

    json_t *r = expect_response(&f, allow);
    assert_string_equal(policy_effect(r), "Allow");
    json_decref(r);
    r = expect_response(&f, deny);
    assert_string_equal(policy_effect(r), "Deny");
    json_decref(r);
    r = expect_response(&f, req_allow);
    assert_string_equal(policy_effect(r), "Allow");
    json_decref(r);
    r = expect_response(&f, req_deny);
    assert_string_equal(policy_effect(r), "Deny");
    json_decref(r);
    json_decref(expect_error(&f, not_authorizer, "Invalid"));
    json_decref(expect_error(&f, wildcard, "Invalid"));
    fx_stop(&f);
}

/* Authorizer mode has no app, so lambda_main gives the loop a logger of its
 * own configured like the app's: GDA_LOG_LEVEL (a bad one is an init error
 * naming it), and the WARN for a ring file others may read goes through it. */
static void test_authorizer_logging(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    char ring_path[300], ring_var[320];
    snprintf(ring_path, sizeof ring_path, "%s/az-ring.txt", workdir);
    write_file_mode(ring_path, f.ring, 0644);
    snprintf(ring_var, sizeof ring_var, "GDA_SECRETS_FILE=%s", ring_path);
    const char *env[] = {"GDA_MODE=authorizer", "GDA_SECRETS", ring_var, "GDA_LOG_LEVEL=WARN",
                         NULL};
    fx_spawn(&f, bootstrap_path, env);
    json_t *r = expect_response(&f, push_json(&f, token_event(f.token)));
    assert_string_equal(policy_effect(r), "Allow");
    json_decref(r);
    r = expect_response(&f, push_json(&f, token_event("d3Jvbmc=")));
    assert_string_equal(policy_effect(r), "Deny");
    json_decref(r);
    fx_stop(&f);
    assert_int_equal(log_count(f.log, "\"WARN\"", "GDA_SECRETS_FILE", ring_path, "mode 644", NULL),
                     1);
    /* WARN and up only: the deny, never the allow. */
    assert_int_equal(log_count(f.log, "authorizer deny", NULL), 1);
    assert_int_equal(log_count(f.log, "authorizer allow", NULL), 0);
    assert_int_equal(log_count(f.log, "\"INFO\"", NULL), 0);

    const char *const bad[] = {"GDA_MODE=authorizer", "GDA_LOG_LEVEL=LOUD", NULL};
    run_init_failure(bad, "Runtime.InitError.Config", "GDA_LOG_LEVEL");
}

static const char *no_handler_path;

/* gda_lambda_main(NULL, NULL): an authorizer needs no handler; a data-action
 * function without one is an init error naming it. */
static void test_main_without_handler(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, NULL);
    static const char *const env[] = {"GDA_MODE=authorizer", NULL};
    fx_spawn(&f, no_handler_path, env);
    uint64_t allow = push_json(&f, token_event(f.token));
    json_t *r = expect_response(&f, allow);
    assert_string_equal(policy_effect(r), "Allow");
    json_decref(r);
    fx_stop(&f);

    fx_init(&f, NULL);
    fx_spawn(&f, no_handler_path, NULL);
    int status = 0;
    assert_true(harness_wait(f.pid, WAIT_MS, &status));
    f.pid = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    char body[2048], type[128];
    assert_true(rapi_init_error(f.r, 0, body, sizeof body, type, sizeof type));
    assert_non_null(strstr(body, "\\\"field\\\":\\\"handler\\\""));
    fx_stop(&f);
}

/* A body scheme cannot run in an authorizer: start-up refuses it. */
static void test_authorizer_refuses_hmac(void **state)
{
    (void)state;
    static const char *const hmac[] = {"GDA_MODE=authorizer", "GDA_AUTH=hmac-sha256", NULL};
    run_init_failure(hmac, "Runtime.InitError.Config", "GDA_AUTH");
    static const char *const basic[] = {"GDA_MODE=authorizer", "GDA_AUTH=basic", NULL};
    run_init_failure(basic, "Runtime.InitError.Config", "GDA_AUTH");
}

/* ---- rotation through the extension ------------------------------------ */

static void test_rotation_via_extension(void **state)
{
    (void)state;
    char *ring_a, *tok_a, *ring_b, *tok_b, *ring_c, *tok_c;
    harness_make_key("a", &ring_a, &tok_a);
    harness_make_key("b", &ring_b, &tok_b);
    harness_make_key("c", &ring_c, &tok_c);
    secrets_standin *ss = secrets_standin_start("gda/keys", ring_a, "session-token-1", "eu-west-1");
    assert_non_null(ss);
    char port[64];
    snprintf(port, sizeof port, "GDA_SECRETS_EXTENSION_PORT=%d", secrets_standin_port(ss));
    fx f;
    fx_init(&f, NULL);
    const char *env[] = {"GDA_MODE=authorizer", "GDA_SECRETS=", "GDA_SECRET_ID=gda/keys",
                         "AWS_SESSION_TOKEN=session-token-1", port, "GDA_SECRET_REFRESH_S=3600",
                         NULL};
    fx_spawn(&f, bootstrap_path, env);

    json_t *r = expect_response(&f, push_json(&f, token_event(tok_a)));
    assert_string_equal(policy_effect(r), "Allow");
    json_decref(r);

    /* Rotate: the new secret (b, next to a) works without a redeploy. */
    size_t both_len = strlen(ring_a) + strlen(ring_b) + 2;
    char *both = malloc(both_len);
    snprintf(both, both_len, "%s,%s", ring_b, ring_a);
    secrets_standin_set_secret(ss, both);
    r = expect_response(&f, push_json(&f, token_event(tok_b)));
    assert_string_equal(policy_effect(r), "Allow");
    json_decref(r);
    r = expect_response(&f, push_json(&f, token_event(tok_a)));
    assert_string_equal(policy_effect(r), "Allow");
    json_decref(r);

    /* Rotate again at once: the refresh interval (1 h) is not over, so the
     * failure does not fetch again and c is refused. */
    secrets_standin_set_secret(ss, ring_c);
    r = expect_response(&f, push_json(&f, token_event(tok_c)));
    assert_string_equal(policy_effect(r), "Deny");
    json_decref(r);

    secrets_standin_stats st;
    secrets_standin_stats_get(ss, &st);
    assert_int_equal(st.extension_ok, 2); /* start-up + one refresh */
    assert_int_equal(st.extension_refused, 0); /* the token header was always right */
    fx_stop(&f);
    secrets_standin_stop(ss);
    free(both);
    free(ring_a); free(tok_a); free(ring_b); free(tok_b); free(ring_c); free(tok_c);
}

/* With no refresh interval, an outright replacement takes effect on the
 * first refused request, and a failure that is not a rotation leaves the
 * ring as it was. */
static void test_rotation_replace(void **state)
{
    (void)state;
    char *ring_a, *tok_a, *ring_b, *tok_b;
    harness_make_key("a", &ring_a, &tok_a);
    harness_make_key("b", &ring_b, &tok_b);
    secrets_standin *ss = secrets_standin_start("gda/keys", ring_a, "session-token-2", "eu-west-1");
    char port[64];
    snprintf(port, sizeof port, "GDA_SECRETS_EXTENSION_PORT=%d", secrets_standin_port(ss));
    fx f;
    fx_init(&f, NULL);
    const char *env[] = {"GDA_MODE=authorizer", "GDA_SECRETS=", "GDA_SECRET_ID=gda/keys",
                         "AWS_SESSION_TOKEN=session-token-2", port, "GDA_SECRET_REFRESH_S=0", NULL};
    fx_spawn(&f, bootstrap_path, env);
    json_t *r = expect_response(&f, push_json(&f, token_event("d3Jvbmc=")));
    assert_string_equal(policy_effect(r), "Deny");
    json_decref(r);
    secrets_standin_set_secret(ss, ring_b);
    r = expect_response(&f, push_json(&f, token_event(tok_b)));
    assert_string_equal(policy_effect(r), "Allow");
    json_decref(r);
    r = expect_response(&f, push_json(&f, token_event(tok_a)));
    assert_string_equal(policy_effect(r), "Deny");
    json_decref(r);
    fx_stop(&f);
    secrets_standin_stop(ss);
    free(ring_a); free(tok_a); free(ring_b); free(tok_b);
}

/* The data-action app rotates too: a request signed with the new secret is
 * refused by the old ring, which makes the runtime fetch the rotated secret,
 * swap it into the app's verifier and answer the retry, with no redeploy. */
static void test_rotation_data_action(void **state)
{
    (void)state;
    char *ring_a, *tok_a, *ring_b, *tok_b;
    harness_make_key("a", &ring_a, &tok_a);
    harness_make_key("b", &ring_b, &tok_b);
    secrets_standin *ss = secrets_standin_start("gda/keys", ring_a, "session-token-3", "eu-west-1");
    assert_non_null(ss);
    char port[64];
    snprintf(port, sizeof port, "GDA_SECRETS_EXTENSION_PORT=%d", secrets_standin_port(ss));
    fx f;
    fx_init(&f, NULL);
    const char *env[] = {"GDA_SECRETS=", "GDA_SECRET_ID=gda/keys",
                         "AWS_SESSION_TOKEN=session-token-3", port, "GDA_SECRET_REFRESH_S=0", NULL};
    fx_spawn(&f, bootstrap_path, env);

    char *body = harness_request_body("rotate-1", NULL);
    json_t *r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_a, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    json_decref(r);
    free(body);

    size_t both_len = strlen(ring_a) + strlen(ring_b) + 2;
    char *both = malloc(both_len);
    snprintf(both, both_len, "%s,%s", ring_b, ring_a);
    secrets_standin_set_secret(ss, both);
    body = harness_request_body("rotate-2", NULL);
    r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_b, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    json_decref(r);
    free(body);

    /* The old secret keeps working until it is removed from the ring. */
    body = harness_request_body("rotate-3", NULL);
    r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_a, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    json_decref(r);
    free(body);

    secrets_standin_stats st;
    secrets_standin_stats_get(ss, &st);
    assert_int_equal(st.extension_ok, 2); /* start-up + one refresh on the refusal */
    fx_stop(&f);
    /* The refusal, the rotation and the second check are one request: three
     * requests, three metrics lines (one per request), no auth failure. */
    assert_int_equal(log_count(f.log, "\"_aws\"", "\"Requests\":1", NULL), 3);
    assert_int_equal(log_count(f.log, "\"_aws\"", "\"AuthFailures\":1", NULL), 0);
    secrets_standin_stop(ss);
    free(both);
    free(ring_a); free(tok_a); free(ring_b); free(tok_b);
}

/* Revocation on a warm container: a key removed from the secret stops
 * working once the ring is older than GDA_KEYRING_MAX_AGE_S, although no
 * request ever failed (the refresh runs between invocations). */
static void test_revocation_by_max_age(void **state)
{
    (void)state;
    char *ring_a, *tok_a, *ring_b, *tok_b;
    harness_make_key("a", &ring_a, &tok_a);
    harness_make_key("b", &ring_b, &tok_b);
    size_t both_len = strlen(ring_a) + strlen(ring_b) + 2;
    char *both = malloc(both_len);
    snprintf(both, both_len, "%s,%s", ring_b, ring_a);
    secrets_standin *ss = secrets_standin_start("gda/keys", both, "session-token-4", "eu-west-1");
    assert_non_null(ss);
    char port[64];
    snprintf(port, sizeof port, "GDA_SECRETS_EXTENSION_PORT=%d", secrets_standin_port(ss));
    fx f;
    fx_init(&f, NULL);
    const char *env[] = {"GDA_SECRETS=", "GDA_SECRET_ID=gda/keys",
                         "AWS_SESSION_TOKEN=session-token-4", port,
                         "GDA_SECRET_REFRESH_S=86400", "GDA_KEYRING_MAX_AGE_S=1", NULL};
    fx_spawn(&f, bootstrap_path, env);
    char *body = harness_request_body("revoke-1", NULL);
    json_t *r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_a, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    json_decref(r);
    free(body);

    /* Key a is revoked; after more than the maximum age one invocation
     * passes (its response comes first, then the refresh)... */
    secrets_standin_set_secret(ss, ring_b);
    struct timespec nap = {.tv_sec = 1, .tv_nsec = 200 * 1000000};
    nanosleep(&nap, NULL);
    body = harness_request_body("revoke-2", NULL);
    r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_b, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    json_decref(r);
    free(body);
    /* ...and from then on a is refused, with no refused request before. */
    body = harness_request_body("revoke-3", NULL);
    r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_a, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 401);
    json_decref(r);
    free(body);
    secrets_standin_stats st;
    secrets_standin_stats_get(ss, &st);
    assert_true(st.extension_ok >= 2);
    fx_stop(&f);
    secrets_standin_stop(ss);
    free(both);
    free(ring_a); free(tok_a); free(ring_b); free(tok_b);
}

/* A key ring fetch that fails between invocations keeps the ring in use,
 * says so in a WARN, and is tried again: once the secret can be fetched, the
 * key removed from it stops working, with no refused request before. */
static void test_revocation_refresh_fails(void **state)
{
    (void)state;
    char *ring_a, *tok_a, *ring_b, *tok_b;
    harness_make_key("a", &ring_a, &tok_a);
    harness_make_key("b", &ring_b, &tok_b);
    size_t both_len = strlen(ring_a) + strlen(ring_b) + 2;
    char *both = malloc(both_len);
    snprintf(both, both_len, "%s,%s", ring_b, ring_a);
    secrets_standin *ss = secrets_standin_start("gda/keys", both, "session-token-5", "eu-west-1");
    assert_non_null(ss);
    char port[64];
    snprintf(port, sizeof port, "GDA_SECRETS_EXTENSION_PORT=%d", secrets_standin_port(ss));
    fx f;
    fx_init(&f, NULL);
    const char *env[] = {"GDA_SECRETS=", "GDA_SECRET_ID=gda/keys",
                         "AWS_SESSION_TOKEN=session-token-5", port,
                         "GDA_SECRET_REFRESH_S=86400", "GDA_KEYRING_MAX_AGE_S=1", NULL};
    fx_spawn(&f, bootstrap_path, env);
    struct timespec nap = {.tv_sec = 1, .tv_nsec = 200 * 1000000};
    static const char *const ids[] = {"refail-1", "refail-2", "refail-3", "refail-4",
                                      "refail-5"};
    char *body = harness_request_body(ids[0], NULL);
    json_t *r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_a, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    json_decref(r);
    free(body);

    /* Key a is revoked while the secret cannot be fetched: the refresh
     * after the next invocation fails, and a keeps working. */
    secrets_standin_set_secret(ss, ring_b);
    secrets_standin_fail_extension(ss, true);
    nanosleep(&nap, NULL);
    const char *tokens[] = {tok_b, tok_a};
    for (int i = 0; i < 2; i++) {
        body = harness_request_body(ids[1 + i], NULL);
        r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tokens[i], body)));
        assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
        json_decref(r);
        free(body);
    }
    secrets_standin_stats st;
    secrets_standin_stats_get(ss, &st);
    assert_true(st.extension_failed >= 1);

    /* The secret is back: the next timed refresh succeeds, and a is gone. */
    secrets_standin_fail_extension(ss, false);
    nanosleep(&nap, NULL);
    body = harness_request_body(ids[3], NULL);
    r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_b, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
    json_decref(r);
    free(body);
    body = harness_request_body(ids[4], NULL);
    r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", tok_a, body)));
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 401);
    json_decref(r);
    free(body);
    fx_stop(&f);
    assert_true(log_count(f.log, "\"WARN\"", "key ring refresh failed", NULL) >= 1);
    secrets_standin_stop(ss);
    free(both);
    free(ring_a); free(tok_a); free(ring_b); free(tok_b);
}

/* A secret file group or others can read is served, with a WARN at start
 * naming the file and its mode, never its contents: the key ring file
 * (GDA_SECRETS_FILE, read by the bootstrap's secret source) and the hash
 * key file (GDA_HASH_KEY_FILE). A file only its owner reads gets none. */
static void test_exposed_secret_files(void **state)
{
    (void)state;
    static const char hash_key[] = "7mYbHqzD4r0gXKq5y8sJc1vN2wQeTfU3aLpZoRiMhE0=";
    for (int exposed = 1; exposed >= 0; exposed--) {
        fx f;
        fx_init(&f, NULL);
        char ring_path[300], key_path[300], ring_var[320], key_var[320];
        snprintf(ring_path, sizeof ring_path, "%s/ring-%d.txt", workdir, exposed);
        snprintf(key_path, sizeof key_path, "%s/hash-%d.key", workdir, exposed);
        write_file_mode(ring_path, f.ring, exposed ? 0644 : 0600);
        char key_text[80];
        snprintf(key_text, sizeof key_text, "%s\n", hash_key);
        write_file_mode(key_path, key_text, exposed ? 0640 : 0400);
        snprintf(ring_var, sizeof ring_var, "GDA_SECRETS_FILE=%s", ring_path);
        snprintf(key_var, sizeof key_var, "GDA_HASH_KEY_FILE=%s", key_path);
        const char *env[] = {"GDA_SECRETS", ring_var, key_var, NULL};
        fx_spawn(&f, bootstrap_path, env);
        char *body = harness_request_body(exposed ? "file-exposed" : "file-private", NULL);
        json_t *r = expect_response(&f, push_json(&f, http_event("apigw-rest.json", f.token, body)));
        assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 200);
        json_decref(r);
        free(body);
        char *secret = strchr(f.ring, ':') + 1;
        char secret_copy[200];
        snprintf(secret_copy, sizeof secret_copy, "%s", secret);
        fx_stop(&f);
        assert_int_equal(log_count(f.log, "\"WARN\"", "GDA_SECRETS_FILE", ring_path,
                                   "mode 644", NULL),
                         exposed);
        assert_int_equal(log_count(f.log, "\"WARN\"", "GDA_HASH_KEY_FILE", key_path,
                                   "mode 640", NULL),
                         exposed);
        assert_int_equal(log_count(f.log, "group or others", NULL), exposed ? 2 : 0);
        assert_int_equal(log_count(f.log, secret_copy, NULL), 0);
        assert_int_equal(log_count(f.log, hash_key, NULL), 0);
    }
}

/* GDA_HASH_KEY_FILE is read like GDA_HASH_KEY, and refused by its own name;
 * a durable store without any key is refused, saying why. */
static void test_hash_key_file_errors(void **state)
{
    (void)state;
    char short_path[300], short_var[320], good_path[300], good_var[320], store[320];
    snprintf(short_path, sizeof short_path, "%s/short.key", workdir);
    snprintf(good_path, sizeof good_path, "%s/good.key", workdir);
    write_file_mode(short_path, "AAECAwQFBgcICQoLDA0ODw==\n", 0600);
    write_file_mode(good_path, "7mYbHqzD4r0gXKq5y8sJc1vN2wQeTfU3aLpZoRiMhE0=", 0600);
    snprintf(short_var, sizeof short_var, "GDA_HASH_KEY_FILE=%s", short_path);
    snprintf(good_var, sizeof good_var, "GDA_HASH_KEY_FILE=%s", good_path);
    const char *const bad_file[] = {short_var, NULL};
    run_init_failure(bad_file, "Runtime.InitError.Config", "GDA_HASH_KEY_FILE");
    const char *const missing[] = {"GDA_HASH_KEY_FILE=/nonexistent/gda.key", NULL};
    run_init_failure(missing, "Runtime.InitError.Config", "GDA_HASH_KEY_FILE");
    const char *const both[] = {good_var, "GDA_HASH_KEY=7mYbHqzD4r0gXKq5y8sJc1vN2wQeTfU3aLpZoRiMhE0=",
                                NULL};
    run_init_failure(both, "Runtime.InitError.Config", "GDA_HASH_KEY");

    /* The refusal of a keyless durable store says what to set and why. */
    fx f;
    fx_init(&f, NULL);
    snprintf(store, sizeof store, "GDA_STORE=sqlite:%s/keyless.db", workdir);
    const char *const keyless[] = {store, NULL};
    fx_spawn(&f, bootstrap_path, keyless);
    int status = 0;
    assert_true(harness_wait(f.pid, WAIT_MS, &status));
    f.pid = -1;
    char body[4096], type[128];
    assert_true(rapi_init_error(f.r, 0, body, sizeof body, type, sizeof type));
    assert_non_null(strstr(body, "GDA_HASH_KEY"));
    assert_non_null(strstr(body, "the same in all instances sharing it"));
    assert_non_null(strstr(body, "422"));
    fx_stop(&f);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s BOOTSTRAP BOOTSTRAP_TEST MAIN_WITHOUT_HANDLER\n", argv[0]);
        return 2;
    }
    bootstrap_path = argv[1];
    bootstrap_test_path = argv[2];
    no_handler_path = argv[3];
    if (sodium_init() < 0)
        return 1;
    snprintf(workdir, sizeof workdir, "/tmp/gda-lambda-test-XXXXXX");
    if (!mkdtemp(workdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_event_shape),
        cmocka_unit_test(test_http_unauthorized_is_a_response),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_bad_events),
        cmocka_unit_test(test_direct_error_classes),
        cmocka_unit_test(test_trace_and_deadline),
        cmocka_unit_test(test_handler_crash),
        cmocka_unit_test(test_runtime_api_faults),
        cmocka_unit_test(test_runtime_api_gone),
        cmocka_unit_test(test_init_failures),
        cmocka_unit_test(test_direct_trust_and_memory_warning),
        cmocka_unit_test(test_init_failure_secret_refused),
        cmocka_unit_test(test_sigterm),
        cmocka_unit_test(test_authorizer_mode),
        cmocka_unit_test(test_authorizer_refuses_hmac),
        cmocka_unit_test(test_authorizer_logging),
        cmocka_unit_test(test_main_without_handler),
        cmocka_unit_test(test_rotation_via_extension),
        cmocka_unit_test(test_rotation_replace),
        cmocka_unit_test(test_rotation_data_action),
        cmocka_unit_test(test_revocation_by_max_age),
        cmocka_unit_test(test_revocation_refresh_fails),
        cmocka_unit_test(test_exposed_secret_files),
        cmocka_unit_test(test_hash_key_file_errors),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (failed == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", workdir);
    } else {
        fprintf(stderr, "bootstrap logs kept in %s\n", workdir);
    }
    return failed;
}
