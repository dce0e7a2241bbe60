/* Allocation budget of the per-request hot paths (issue: "no waste on the hot
 * path"). With the test allocator hook (tests/bench/alloc_count.c) every
 * malloc in the process is counted, so a change that makes header lookups
 * copy, or authentication or hashing allocate, fails here:
 *   - header lookups return slices into the request: zero allocations;
 *   - SHA-256 and HMAC-SHA256 keep their state on the stack: zero;
 *   - token and HMAC-SHA256 verification, accepted or refused: zero;
 *   - a log line and an EMF metrics line are written without allocating;
 *   - a whole gda_app_handle stays under a budget, first execution and replay
 *     (most of it is jansson's tree of the parsed body, the mapped request).
 * Under a sanitizer the hook is compiled out and the tests are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log_internal.h"
#include <gda/app.h>
#include <gda/event.h>
#include <gda/log.h>
#include <gda/sign.h>
#include <gda/verify.h>

#include "../bench/alloc_count.h"
#include "digest.h"

#define NOW_MS INT64_C(1795514400000)

static const char ring_text[] = "old:qUSZyxJ5+RgVZOmCtBy8Z3Hg8dlN5tmMnmN+GVYdmlE=,"
                                "new:2fTJyE3r5RJyPb7oKb5rU8hqq1DnRmZC8vE1tpFxN/o=";

static const char body[] = "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\","
                           "\"requestId\":\"req-1\",\"callerId\":\"+15551234567\"}";

typedef struct request_fixture {
    gda_header headers[8];
    gda_http_request req;
} request_fixture;

static void set_header(request_fixture *f, size_t i, const char *name, const char *value)
{
    f->headers[i].name = gda_slice_make(name, strlen(name));
    f->headers[i].value = gda_slice_make(value, strlen(value));
}

/* A POST carrying sig's headers after four ordinary ones. */
static void make_request(request_fixture *f, const gda_signed_headers *sig)
{
    memset(f, 0, sizeof *f);
    set_header(f, 0, "Host", "dataaction.example.com");
    set_header(f, 1, "Content-Type", "application/json");
    set_header(f, 2, "User-Agent", "Genesys-Cloud-DataAction");
    set_header(f, 3, "X-Amzn-Trace-Id", "Root=1-6743f1a0-3c5d2b1e4f6a7b8c9d0e1f2a");
    size_t n = 4;
    for (size_t i = 0; sig && i < sig->n; i++, n++)
        set_header(f, n, sig->headers[i].name, sig->headers[i].value);
    f->req.kind = GDA_EVENT_HTTP;
    f->req.method = gda_slice_make("POST", 4);
    f->req.path = gda_slice_make("/genesys/dataaction", 19);
    f->req.headers = f->headers;
    f->req.n_headers = n;
    f->req.body = gda_slice_make(body, sizeof body - 1);
}

static void skip_without_hook(void)
{
    if (!alloc_count_available()) {
        print_message("allocation hook unavailable (sanitizer or non-glibc build): skipped\n");
        skip();
    }
}

static void test_hook_counts(void **state)
{
    (void)state;
    skip_without_hook();
    alloc_count_reset();
    char *volatile p = malloc(32);
    assert_non_null(p);
    p = realloc(p, 64);
    assert_non_null(p);
    free(p);
    alloc_counts c = alloc_count_get();
    assert_int_equal(c.allocs, 1);
    assert_int_equal(c.reallocs, 1);
    assert_int_equal(c.frees, 1);
}

static void test_header_lookup_copies_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    request_fixture f;
    make_request(&f, NULL);
    alloc_count_reset();
    bool found = false;
    gda_slice v = gda_http_request_header(&f.req, "content-type", &found);
    gda_slice missing = gda_http_request_header(&f.req, "x-genesys-signature", NULL);
    size_t n = gda_http_request_header_count(&f.req, "USER-AGENT");
    alloc_counts c = alloc_count_get();
    assert_true(found);
    assert_ptr_equal(v.ptr, f.headers[1].value.ptr); /* a slice, not a copy */
    assert_int_equal(v.len, 16);
    assert_null(missing.ptr);
    assert_int_equal(n, 1);
    assert_int_equal(c.allocs + c.reallocs, 0);
}

static void test_digest_allocates_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    uint8_t out[GDA_SHA256_LEN];
    static const uint8_t key[100] = {1, 2, 3}; /* longer than a block: hashed first */
    gda_slice parts[3] = {{"1795514400", 10}, {".", 1}, {body, sizeof body - 1}};
    gda_sha256(body, 1, out); /* first use, outside the count */
    alloc_count_reset();
    gda_sha256(body, sizeof body - 1, out);
    gda_sha256_parts(parts, 3, out);
    gda_hmac_sha256_parts(key, 32, parts, 3, out);
    gda_hmac_sha256_parts(key, sizeof key, parts, 3, out);
    alloc_counts c = alloc_count_get();
    assert_int_equal(c.allocs + c.reallocs, 0);
}

/* Verify req count times after one warm-up call and return the allocations
 * of those calls; every call must end in `expect`. */
static size_t verify_allocs(gda_verifier *v, const gda_http_request *req, gda_status expect,
                            int count)
{
    gda_auth_result res;
    gda_error err;
    assert_int_equal(gda_verifier_verify(v, req, NOW_MS, &res, &err), expect);
    alloc_count_reset();
    for (int i = 0; i < count; i++)
        assert_int_equal(gda_verifier_verify(v, req, NOW_MS, &res, &err), expect);
    alloc_counts c = alloc_count_get();
    return c.allocs + c.reallocs;
}

static void check_scheme(const char *scheme)
{
    gda_error err;
    gda_verifier *v = NULL;
    assert_int_equal(gda_verifier_new_from_config(scheme, ring_text, sizeof ring_text - 1, NULL,
                                                  &v, &err),
                     GDA_OK);
    gda_signed_headers sig = {0};
    gda_sign_params sp = {.key_id = "new", .now_ms = NOW_MS};
    assert_int_equal(gda_verifier_sign(v, &sp, gda_slice_make(body, sizeof body - 1), &sig, &err),
                     GDA_OK);
    request_fixture f;
    make_request(&f, &sig);
    assert_int_equal(verify_allocs(v, &f.req, GDA_OK, 16), 0);

    /* Refusals cost nothing either: a wrong credential, and none at all. */
    char *value = NULL;
    for (size_t i = 0; i < sig.n && i < GDA_SIGNED_MAX_HEADERS; i++) {
        if (strcmp(sig.headers[i].name, "X-Genesys-Signature") == 0)
            value = sig.headers[i].value;
    }
    assert_non_null(value);
    value[0] = value[0] == 'A' ? 'B' : 'A';
    make_request(&f, &sig);
    assert_int_equal(verify_allocs(v, &f.req, GDA_ERR_UNAUTHORIZED, 16), 0);
    make_request(&f, NULL);
    assert_int_equal(verify_allocs(v, &f.req, GDA_ERR_UNAUTHORIZED, 16), 0);

    gda_signed_headers_release(&sig);
    gda_verifier_free(v);
}

static void test_token_verification_allocates_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    check_scheme("token");
}

static void test_hmac_verification_allocates_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    check_scheme("hmac-sha256");
}

static void discard_line(const char *line, size_t len, void *user)
{
    (void)line;
    (void)len;
    (*(size_t *)user)++;
}

static void test_log_and_metrics_lines_allocate_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    size_t lines = 0;
    gda_log_config lc = gda_log_config_default();
    lc.sink = discard_line;
    lc.sink_user = &lines;
    const char *pii[] = {"callerId"};
    lc.pii_fields = pii;
    lc.pii_field_count = 1;
    gda_logger *lg = gda_logger_new(&lc, NULL);
    assert_non_null(lg);
    gda_log_fields fields = {
        .request_id = "req-1",
        .interaction_id = "3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f",
        .status_code = 200,
        .has_execution_time = true,
        .execution_time_ms = 0.25,
        .outcome = GDA_LOG_OUTCOME_NEW,
        .key_id = "new",
    };
    /* An extra object like the pipeline's: nested, with a PII member. */
    json_t *extra = json_pack("{s:s, s:{s:s, s:s, s:i}, s:b}", "method", "POST", "input",
                              "callerId", "+15551234567", "queueId", "q-1", "attempt", 1,
                              "storeError", 0);
    assert_non_null(extra);
    alloc_count_reset();
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, NOW_MS, &fields, extra, "handled", NULL), GDA_OK);
    assert_int_equal(gda_metrics_emit_request(lg, &fields, false, NOW_MS, NULL), GDA_OK);
    alloc_counts c = alloc_count_get();
    assert_int_equal(lines, 2);
    assert_int_equal(c.allocs + c.reallocs, 0);
    json_decref(extra);
    gda_logger_free(lg);
}

static gda_status small_handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                                gda_error *err, void *user)
{
    (void)req;
    (void)ctx;
    (void)err;
    (void)user;
    *data_out = json_pack("{s:s}", "tier", "gold");
    return *data_out ? GDA_OK : GDA_ERR_NOMEM;
}

static int64_t fixed_clock(void *user)
{
    (void)user;
    return NOW_MS;
}

/* Allocations of one gda_app_handle on a request signed like Genesys signs
 * it; *code gets its outcome. */
static size_t handle_allocs(gda_app *app, const gda_http_request *req, gda_status *code)
{
    gda_invocation inv = {.now_ms = NOW_MS, .deadline_ms = NOW_MS + 3000};
    gda_http_response resp = {0};
    alloc_count_reset();
    *code = gda_app_handle(app, req, &inv, &resp);
    alloc_counts c = alloc_count_get();
    gda_http_response_release(&resp);
    return c.allocs + c.reallocs;
}

/* The budget of one request through the whole pipeline (HMAC-SHA256
 * authentication, raw payload hash, memory store, logs into a sink): the
 * parsed body (the mapped request), the handler's result, the response, the
 * store's record, and the log line's extra object. Measured: 45 new, 39
 * replay; the bounds leave a little room, so only a real regression fails
 * (a log line or a metrics line building a jansson tree again costs 30-130). */
#define PIPELINE_NEW_MAX 52
#define PIPELINE_REPLAY_MAX 45

static void test_pipeline_allocation_budget(void **state)
{
    (void)state;
    skip_without_hook();
    gda_error err;
    gda_verifier *v = NULL;
    assert_int_equal(gda_verifier_new_from_config("hmac-sha256", ring_text, sizeof ring_text - 1,
                                                  NULL, &v, &err),
                     GDA_OK);
    size_t lines = 0;
    gda_app_config cfg = gda_app_config_default();
    cfg.verifier = v;
    cfg.handler = small_handler;
    cfg.log.sink = discard_line;
    cfg.log.sink_user = &lines;
    cfg.idem.clock.now_ms = fixed_clock;
    gda_app *app = gda_app_new(&cfg, &err);
    assert_non_null(app);

    static const char bodies[2][160] = {
        "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\",\"requestId\":\"req-1\","
        "\"callerId\":\"+15551234567\",\"queueId\":\"b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e\"}",
        "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\",\"requestId\":\"req-2\","
        "\"callerId\":\"+15551234567\",\"queueId\":\"b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e\"}",
    };
    size_t fresh = 0, replay = 0;
    for (int i = 0; i < 2; i++) { /* the first request warms up */
        gda_signed_headers sig = {0};
        gda_sign_params sp = {.key_id = "new", .now_ms = NOW_MS};
        gda_slice b = gda_slice_cstr(bodies[i]);
        assert_int_equal(gda_verifier_sign(v, &sp, b, &sig, &err), GDA_OK);
        request_fixture f;
        make_request(&f, &sig);
        f.req.body = b;
        gda_status code;
        fresh = handle_allocs(app, &f.req, &code);
        assert_int_equal(code, GDA_OK);
        replay = handle_allocs(app, &f.req, &code);
        assert_int_equal(code, GDA_OK);
        gda_signed_headers_release(&sig);
    }
    print_message("gda_app_handle: %zu allocations new, %zu replay\n", fresh, replay);
    assert_true(fresh > 0 && fresh <= PIPELINE_NEW_MAX);
    assert_true(replay > 0 && replay <= PIPELINE_REPLAY_MAX);
    assert_int_equal(lines, 8); /* a log and a metrics line per request */
    gda_app_free(app); /* and the verifier, which it owns */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_counts),
        cmocka_unit_test(test_header_lookup_copies_nothing),
        cmocka_unit_test(test_digest_allocates_nothing),
        cmocka_unit_test(test_token_verification_allocates_nothing),
        cmocka_unit_test(test_hmac_verification_allocates_nothing),
        cmocka_unit_test(test_log_and_metrics_lines_allocate_nothing),
        cmocka_unit_test(test_pipeline_allocation_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
