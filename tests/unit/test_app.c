/* Tests for the pipeline (lib/app.c): every row of DOMAIN.md's bad-input
 * table end to end through gda_app_handle, plus success, replay, the 202
 * handshake, routing, direct invocation, logs and metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "request_internal.h"
#include <gda/gda.h>

/* 32 bytes 0x00..0x1f, base64: the token a Genesys credential would hold. */
#define SECRET_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define RING "k1:" SECRET_B64
#define WRONG_B64 "HwECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define ROUTE "/genesys/dataaction"
#define T0 INT64_C(1795521600000) /* 2026-11-24T10:00:00Z */

/* ---- fixtures: clock, log capture, handler ----------------------------- */

static int64_t fake_now;
static int64_t fake_now_fn(void *user)
{
    (void)user;
    return fake_now;
}
static void fake_sleep_fn(int64_t ms, void *user)
{
    (void)user;
    fake_now += ms;
}

#define MAX_LINES 64
static char *lines[MAX_LINES];
static size_t n_lines;

static void capture_sink(const char *line, size_t len, void *user)
{
    (void)user;
    assert_true(len > 0 && line[len - 1] == '\n');
    if (n_lines < MAX_LINES)
        lines[n_lines++] = strndup(line, len);
}

static void clear_lines(void)
{
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    n_lines = 0;
}

/* Log lines (not EMF metrics) captured so far, and the metrics lines. */
static size_t count_lines(bool metrics)
{
    size_t n = 0;
    for (size_t i = 0; i < n_lines; i++)
        n += (strstr(lines[i], "\"_aws\"") != NULL) == metrics;
    return n;
}

static json_t *last_line(bool metrics)
{
    for (size_t i = n_lines; i-- > 0;) {
        if ((strstr(lines[i], "\"_aws\"") != NULL) == metrics) {
            json_t *j = json_loads(lines[i], 0, NULL);
            assert_non_null(j);
            return j;
        }
    }
    fail_msg("no %s line captured", metrics ? "metrics" : "log");
    return NULL;
}

typedef enum mode {
    MODE_OK,
    MODE_NULL_DATA,
    MODE_ARRAY_DATA,
    MODE_BAD_CODE,
    MODE_TRANSIENT_ONCE, /* 503 the first time, then OK */
    MODE_BUSINESS_4XX,
    MODE_ACCEPTED,
    MODE_NESTED,         /* calls gda_app_handle with the same request inside */
    MODE_INSPECT         /* records the ctx and the store's record */
} mode;

typedef struct harness {
    gda_app *app;
    gda_store *store; /* borrowed from the app, for inspection */
    mode mode;
    int executions;
    char token[GDA_COMPLETION_TOKEN_SIZE];
    /* MODE_NESTED */
    const gda_http_request *nested_req;
    gda_http_response nested_resp;
    /* MODE_INSPECT */
    int64_t seen_now, seen_deadline, seen_remaining, seen_lease_until;
    char seen_aws[64], seen_trace[64], seen_interaction[64], seen_request[64], seen_principal[64];
} harness;

static gda_status test_handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                               gda_error *err, void *user)
{
    harness *h = user;
    h->executions++;
    switch (h->mode) {
    case MODE_NULL_DATA:
        return GDA_OK;
    case MODE_ARRAY_DATA:
        *data_out = json_array();
        return GDA_OK;
    case MODE_BAD_CODE:
        return (gda_status)999;
    case MODE_TRANSIENT_ONCE:
        if (h->executions == 1)
            return gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "CRM timed out");
        break;
    case MODE_BUSINESS_4XX:
        return gda_error_set(err, GDA_ERR_UNPROCESSABLE, "queueId", "queue is closed");
    case MODE_ACCEPTED:
    {
        const char *token = NULL;
        gda_status ast = gda_ctx_accept(ctx, &token, err);
        if (ast != GDA_OK)
            return GDA_ERR_UNAVAILABLE;
        snprintf(h->token, sizeof h->token, "%s", token);
        return GDA_ACCEPTED;
    }
    case MODE_NESTED: {
        gda_invocation inv = {0};
        gda_app_handle(h->app, h->nested_req, &inv, &h->nested_resp);
        break;
    }
    case MODE_INSPECT: {
        h->seen_now = gda_ctx_now_ms(ctx);
        h->seen_deadline = gda_ctx_deadline_ms(ctx);
        fake_now += 100;
        h->seen_remaining = gda_ctx_remaining_ms(ctx);
        /* The time the handler was called at, not the clock's time now. */
        assert_int_equal(gda_ctx_now_ms(ctx), h->seen_now);
        snprintf(h->seen_aws, sizeof h->seen_aws, "%s", gda_ctx_aws_request_id(ctx));
        snprintf(h->seen_trace, sizeof h->seen_trace, "%s", gda_ctx_trace_id(ctx));
        snprintf(h->seen_interaction, sizeof h->seen_interaction, "%s",
                 gda_ctx_interaction_id(ctx));
        snprintf(h->seen_request, sizeof h->seen_request, "%s", gda_ctx_request_id(ctx));
        snprintf(h->seen_principal, sizeof h->seen_principal, "%s", gda_ctx_principal(ctx));
        assert_ptr_equal(gda_ctx_logger(ctx), gda_app_logger(h->app));
        assert_string_equal(gda_ctx_log_fields(ctx)->request_id, gda_ctx_request_id(ctx));
        gda_record rec = {0};
        bool found = false;
        gda_store_call call = {.now_ms = fake_now};
        assert_int_equal(gda_store_get(h->store, gda_ctx_request_id(ctx), &call, &rec, &found,
                                       NULL),
                         GDA_OK);
        assert_true(found);
        assert_int_equal(rec.state, GDA_RECORD_IN_PROGRESS);
        h->seen_lease_until = rec.lease_until_ms;
        gda_record_clear(&rec);
        break;
    }
    case MODE_OK:
        break;
    }
    *data_out = json_pack("{s:s,s:s,s:i}", "tier", "gold", "caller",
                          gda_request_string(req, "callerId") ? "known" : "anonymous", "run",
                          h->executions);
    return GDA_OK;
}

typedef struct opts {
    const char *scheme; /* NULL: token */
    gda_idem_busy_policy policy;
    size_t max_body;
    bool direct_untrusted;
    bool no_verifier;
    gda_store *store;   /* NULL: a memory store */
    gda_payload_hash_mode payload_hash;
    const char *ring;   /* NULL: RING */
} opts;

static gda_verifier *make_ring_verifier(const char *scheme, const char *ring)
{
    gda_verifier *v = NULL;
    gda_error err;
    assert_int_equal(gda_verifier_new_from_config(scheme, ring, strlen(ring), NULL, &v, &err),
                     GDA_OK);
    return v;
}

static gda_verifier *make_verifier(const char *scheme) { return make_ring_verifier(scheme, RING); }

static void setup_app(harness *h, const opts *o)
{
    memset(h, 0, sizeof *h);
    clear_lines();
    fake_now = T0;
    gda_app_config cfg = gda_app_config_default();
    cfg.handler = test_handler;
    cfg.handler_user = h;
    cfg.verifier = o->no_verifier ? NULL
                                  : make_ring_verifier(o->scheme ? o->scheme : "token",
                                                       o->ring ? o->ring : RING);
    cfg.store = o->store ? o->store : gda_memory_store_new(0, NULL);
    h->store = cfg.store;
    cfg.idem.busy_policy = o->policy;
    cfg.payload_hash = o->payload_hash;
    cfg.limits.max_body = o->max_body;
    cfg.direct_invocation_trusted = !o->direct_untrusted;
    cfg.idem.clock.now_ms = fake_now_fn;
    cfg.idem.clock.sleep_ms = fake_sleep_fn;
    cfg.log.sink = capture_sink;
    cfg.log.level = GDA_LOG_DEBUG;
    cfg.log.service = "test-service";
    gda_error err;
    h->app = gda_app_new(&cfg, &err);
    assert_non_null(h->app);
}

static void teardown_app(harness *h)
{
    gda_http_response_release(&h->nested_resp);
    gda_app_free(h->app);
    clear_lines();
}

/* ---- requests ------------------------------------------------------------ */

#define BODY_FMT                                                                            \
    "{\"interactionId\":\"0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69\",\"requestId\":\"%s\","      \
    "\"queueId\":\"6a1f0c2d-3b4e-4f5a-8b6c-7d8e9f0a1b2c\",\"callerId\":\"%s\","              \
    "\"timestamp\":\"2026-11-24T10:00:00Z\"}"

typedef struct req_buf {
    gda_http_request http;
    gda_header headers[4];
    char body[512];
} req_buf;

static void make_req(req_buf *r, const char *method, const char *path, const char *body,
                     size_t body_len)
{
    memset(r, 0, sizeof *r);
    r->http.kind = GDA_EVENT_HTTP;
    r->http.method = gda_slice_cstr(method);
    r->http.path = gda_slice_cstr(path);
    r->http.headers = r->headers;
    r->http.body = gda_slice_make(body, body_len);
}

static void add_header(req_buf *r, const char *name, const char *value)
{
    assert_true(r->http.n_headers < 4);
    r->headers[r->http.n_headers].name = gda_slice_cstr(name);
    r->headers[r->http.n_headers].value = gda_slice_cstr(value);
    r->http.n_headers++;
}

/* A valid, authenticated POST for request id rid and caller caller. */
static void make_post(req_buf *r, const char *rid, const char *caller)
{
    make_req(r, "POST", ROUTE, NULL, 0);
    int n = snprintf(r->body, sizeof r->body, BODY_FMT, rid, caller);
    r->http.body = gda_slice_make(r->body, (size_t)n);
    add_header(r, "Content-Type", "application/json");
    add_header(r, "X-Genesys-Signature", SECRET_B64);
}

static gda_http_response handle(harness *h, const gda_http_request *req)
{
    gda_http_response resp = {0};
    gda_status st = gda_app_handle(h->app, req, NULL, &resp);
    assert_int_equal(st, resp.code);
    assert_non_null(resp.body);
    assert_string_equal(gda_http_response_header(&resp, "Content-Type"), "application/json");
    return resp;
}

static json_t *body_json(const gda_http_response *resp)
{
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    assert_non_null(j);
    return j;
}

/* Status, error.code and requiresRetry of an error response. */
static void expect_error(const gda_http_response *resp, int status, gda_status code_value,
                         bool retry)
{
    const char *code = gda_status_str(code_value);
    assert_int_equal(resp->status, status);
    assert_int_equal(gda_status_http(code_value), status);
    assert_int_equal(resp->code, code_value);
    json_t *j = body_json(resp);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "error");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        code);
    assert_int_equal(json_is_true(json_object_get(j, "requiresRetry")), retry);
    json_decref(j);
}

static const char *error_field(const gda_http_response *resp, char *buf, size_t size)
{
    json_t *j = body_json(resp);
    const char *f = json_string_value(json_object_get(json_object_get(j, "error"), "field"));
    snprintf(buf, size, "%s", f ? f : "");
    json_decref(j);
    return buf;
}

static const char *error_message(const gda_http_response *resp, char *buf, size_t size)
{
    json_t *j = body_json(resp);
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    snprintf(buf, size, "%s", m ? m : "");
    json_decref(j);
    return buf;
}

/* ---- success, replay, logs, metrics ------------------------------------- */

static void test_success_logs_and_metrics(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    req_buf r;
    make_post(&r, "req-1", "+15551234567");
    gda_invocation inv = {.aws_request_id = "aws-1", .trace_id = "Root=1-abc"};
    gda_http_response resp = {0};
    assert_int_equal(gda_app_handle(h.app, &r.http, &inv, &resp), GDA_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(h.executions, 1);
    json_t *j = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "completed");
    assert_string_equal(json_string_value(json_object_get(j, "requestId")), "req-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "data"), "tier")), "gold");
    assert_false(json_is_true(json_object_get(j, "requiresRetry")));
    json_decref(j);

    /* Exactly one log line and one metrics line. */
    assert_int_equal(count_lines(false), 1);
    assert_int_equal(count_lines(true), 1);
    json_t *log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "requestId")), "req-1");
    assert_string_equal(json_string_value(json_object_get(log, "interactionId")),
                        "0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69");
    assert_string_equal(json_string_value(json_object_get(log, "awsRequestId")), "aws-1");
    assert_string_equal(json_string_value(json_object_get(log, "traceId")), "Root=1-abc");
    assert_int_equal(json_integer_value(json_object_get(log, "statusCode")), 200);
    assert_string_equal(json_string_value(json_object_get(log, "outcome")), "new");
    assert_string_equal(json_string_value(json_object_get(log, "keyId")), "k1");
    assert_string_equal(json_string_value(json_object_get(log, "level")), "INFO");
    assert_non_null(json_object_get(log, "executionTimeMs"));
    assert_null(json_object_get(log, "errorCode"));
    json_t *input = json_object_get(log, "input");
    assert_string_equal(json_string_value(json_object_get(input, "callerId")), "***4567");
    assert_string_equal(json_string_value(json_object_get(input, "queueId")),
                        "6a1f0c2d-3b4e-4f5a-8b6c-7d8e9f0a1b2c");
    json_decref(log);
    /* Neither the caller's number nor the secret appears anywhere. */
    for (size_t i = 0; i < n_lines; i++) {
        assert_null(strstr(lines[i], "15551234567"));
        assert_null(strstr(lines[i], SECRET_B64));
    }
    json_t *m = last_line(true);
    assert_int_equal(json_integer_value(json_object_get(m, "Requests")), 1);
    assert_int_equal(json_integer_value(json_object_get(m, "Replays")), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "AuthFailures")), 0);
    assert_string_equal(json_string_value(json_object_get(m, "Service")), "test-service");
    json_decref(m);
    gda_http_response_release(&resp);
    teardown_app(&h);
}

/* Same data as make_post("req-2", ...) with the keys in another order. */
static void make_reordered_post(req_buf *r2)
{
    make_req(r2, "POST", ROUTE, NULL, 0);
    int n = snprintf(r2->body, sizeof r2->body,
                     "{\"callerId\":\"+15551234567\",\"timestamp\":\"2026-11-24T10:00:00Z\","
                     "\"requestId\":\"req-2\",\"queueId\":\"6a1f0c2d-3b4e-4f5a-8b6c-7d8e9f0a1b2c\","
                     "\"interactionId\":\"0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69\"}");
    r2->http.body = gda_slice_make(r2->body, (size_t)n);
    add_header(r2, "content-type", "application/json; charset=utf-8");
    add_header(r2, "x-genesys-signature", SECRET_B64);
}

static void replay_byte_for_byte(gda_payload_hash_mode hash_mode)
{
    harness h;
    setup_app(&h, &(opts){.payload_hash = hash_mode});
    req_buf r;
    make_post(&r, "req-2", "+15551234567");
    gda_http_response first = handle(&h, &r.http);
    fake_now += 5000; /* a later processedAt would show if it were rebuilt */
    clear_lines();
    gda_http_response again = handle(&h, &r.http);
    assert_int_equal(h.executions, 1);
    assert_int_equal(again.status, 200);
    assert_int_equal(again.body_len, first.body_len);
    assert_memory_equal(again.body, first.body, first.body_len);
    json_t *log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "outcome")), "replay");
    json_decref(log);
    json_t *m = last_line(true);
    assert_int_equal(json_integer_value(json_object_get(m, "Replays")), 1);
    json_decref(m);

    /* The same data with the keys in another order: the canonical hash calls
     * it the same payload and replays; the raw hash calls it another payload
     * and refuses it (422) — either way the handler never runs twice. */
    req_buf r2;
    make_reordered_post(&r2);
    gda_http_response third = handle(&h, &r2.http);
    assert_int_equal(h.executions, 1);
    if (hash_mode == GDA_PAYLOAD_HASH_CANONICAL) {
        assert_int_equal(third.status, 200);
        assert_memory_equal(third.body, first.body, first.body_len);
    } else {
        expect_error(&third, 422, GDA_ERR_PAYLOAD_MISMATCH, false);
    }
    gda_http_response_release(&first);
    gda_http_response_release(&again);
    gda_http_response_release(&third);
    teardown_app(&h);
}

static void test_replay_byte_for_byte(void **state)
{
    (void)state;
    replay_byte_for_byte(GDA_PAYLOAD_HASH_RAW);
    replay_byte_for_byte(GDA_PAYLOAD_HASH_CANONICAL);
}

/* ---- 401 ------------------------------------------------------------------ */

static void expect_401(harness *h, const gda_http_request *req, const char *reason,
                       const char *reference_body)
{
    clear_lines();
    gda_http_response resp = handle(h, req);
    expect_error(&resp, 401, GDA_ERR_UNAUTHORIZED, false);
    if (reference_body)
        assert_string_equal(resp.body, reference_body); /* no hint which part failed */
    json_t *log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "authFailure")), reason);
    assert_string_equal(json_string_value(json_object_get(log, "errorCode")),
                        gda_status_str(GDA_ERR_UNAUTHORIZED));
    assert_string_equal(json_string_value(json_object_get(log, "errorMessage")),
                        "authentication required");
    assert_null(json_object_get(log, "errorField"));
    json_decref(log);
    json_t *m = last_line(true);
    assert_int_equal(json_integer_value(json_object_get(m, "AuthFailures")), 1);
    json_decref(m);
    gda_http_response_release(&resp);
}

static const char generic_401[] =
    "{\"status\":\"error\",\"error\":{\"code\":\"unauthorized\",\"message\":"
    "\"authentication required\"},\"requiresRetry\":false}";

static void test_unauthorized_token(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    req_buf r;
    make_post(&r, "req-3", "+15551234567");
    r.http.n_headers = 1; /* no credential */
    expect_401(&h, &r.http, "missing", generic_401);
    add_header(&r, "X-Genesys-Signature", WRONG_B64);
    expect_401(&h, &r.http, "mismatch", generic_401);
    r.headers[1].value = gda_slice_cstr("not base64 at all!");
    expect_401(&h, &r.http, "malformed", generic_401);
    add_header(&r, "X-Genesys-Signature", SECRET_B64); /* repeated: ambiguous */
    expect_401(&h, &r.http, "ambiguous", generic_401);
    assert_int_equal(h.executions, 0);
    /* The secret never reaches a log line, even when sent wrong. */
    teardown_app(&h);

    /* No verifier at all: deny by default. */
    setup_app(&h, &(opts){.no_verifier = true});
    make_post(&r, "req-3", "+15551234567");
    expect_401(&h, &r.http, "unconfigured", generic_401);
    assert_int_equal(h.executions, 0);
    teardown_app(&h);
}

static void test_unauthorized_hmac_and_jwt(void **state)
{
    (void)state;
    const char *schemes[] = {"hmac", "jwt"};
    for (size_t s = 0; s < 2; s++) {
        harness h;
        setup_app(&h, &(opts){.scheme = schemes[s]});
        gda_verifier *signer = make_verifier(schemes[s]);
        req_buf r;
        make_post(&r, "req-4", "+15551234567");
        r.http.n_headers = 1;

        /* A valid signature is accepted. */
        gda_sign_params p = {.now_ms = fake_now};
        gda_signed_headers sh = {0};
        assert_int_equal(gda_verifier_sign(signer, &p, r.http.body, &sh, NULL), GDA_OK);
        for (size_t i = 0; i < sh.n; i++)
            add_header(&r, sh.headers[i].name, sh.headers[i].value);
        gda_http_response ok = handle(&h, &r.http);
        assert_int_equal(ok.status, 200);
        gda_http_response_release(&ok);

        /* The captured signature replayed as a poll of the result (hmac:
         * the signature binds method and path, so it does not verify). */
        if (s == 0) {
            req_buf g;
            make_req(&g, "GET", ROUTE "/req-4", NULL, 0);
            for (size_t i = 0; i < sh.n; i++)
                add_header(&g, sh.headers[i].name, sh.headers[i].value);
            expect_401(&h, &g.http, "mismatch", generic_401);
        }

        /* Tampered body under the same signature (hmac) / token (jwt). */
        req_buf t = r;
        t.http.headers = t.headers;
        t.body[strlen(t.body) - 4] = '1'; /* the timestamp's second changes */
        t.http.body = gda_slice_make(t.body, strlen(t.body));
        if (s == 0)
            expect_401(&h, &t.http, "mismatch", generic_401);

        /* Expired: signed ten minutes ago (hmac window 300 s; jwt exp 60 s + 60 s leeway). */
        gda_signed_headers_release(&sh);
        p.now_ms = fake_now - 600000;
        p.jwt_ttl_s = 60;
        assert_int_equal(gda_verifier_sign(signer, &p, r.http.body, &sh, NULL), GDA_OK);
        r.http.n_headers = 1;
        for (size_t i = 0; i < sh.n; i++)
            add_header(&r, sh.headers[i].name, sh.headers[i].value);
        expect_401(&h, &r.http, s == 0 ? "replayed" : "expired", generic_401);
        assert_int_equal(h.executions, 1);
        gda_signed_headers_release(&sh);
        gda_verifier_free(signer);
        teardown_app(&h);
    }
}

/* ---- 413, 415, 400 ----------------------------------------------------- */

static void test_too_large_before_parsing(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){.max_body = 64});
    assert_int_equal(gda_app_max_body(h.app), 64);
    /* Not JSON, no credential, wrong content type: the size wins. */
    static char big[65];
    memset(big, '{', sizeof big);
    req_buf r;
    make_req(&r, "POST", ROUTE, big, sizeof big);
    add_header(&r, "Content-Type", "text/plain");
    gda_http_response resp = handle(&h, &r.http);
    expect_error(&resp, 413, GDA_ERR_PAYLOAD_TOO_LARGE, false);
    json_t *log = last_line(false);
    assert_null(json_object_get(log, "authFailure"));
    assert_string_equal(json_string_value(json_object_get(log, "outcome")), "none");
    json_decref(log);
    gda_http_response_release(&resp);
    assert_int_equal(h.executions, 0);
    teardown_app(&h);

    /* The default limit is 256 KiB. */
    setup_app(&h, &(opts){0});
    size_t n = GDA_DEFAULT_MAX_BODY + 1;
    char *huge = malloc(n);
    assert_non_null(huge);
    memset(huge, ' ', n);
    make_req(&r, "POST", ROUTE, huge, n);
    add_header(&r, "Content-Type", "application/json");
    add_header(&r, "X-Genesys-Signature", SECRET_B64);
    resp = handle(&h, &r.http);
    expect_error(&resp, 413, GDA_ERR_PAYLOAD_TOO_LARGE, false);
    gda_http_response_release(&resp);
    free(huge);
    teardown_app(&h);
}

static void test_unsupported_media_type(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    const char *types[] = {"text/plain", "application/json; charset=latin1", NULL};
    for (size_t i = 0; i < 3; i++) {
        req_buf r;
        make_post(&r, "req-5", "+15551234567");
        if (types[i]) {
            r.headers[0].value = gda_slice_cstr(types[i]);
        } else {
            r.headers[0] = r.headers[1]; /* no Content-Type at all */
            r.http.n_headers = 1;
        }
        gda_http_response resp = handle(&h, &r.http);
        expect_error(&resp, 415, GDA_ERR_UNSUPPORTED_MEDIA_TYPE, false);
        gda_http_response_release(&resp);
    }
    /* Checked before authentication: no credential still gets 415. */
    req_buf r;
    make_post(&r, "req-5", "+15551234567");
    r.headers[0].value = gda_slice_cstr("text/xml");
    r.http.n_headers = 1;
    gda_http_response resp = handle(&h, &r.http);
    expect_error(&resp, 415, GDA_ERR_UNSUPPORTED_MEDIA_TYPE, false);
    gda_http_response_release(&resp);
    assert_int_equal(h.executions, 0);
    teardown_app(&h);
}

static void expect_400(harness *h, const char *body, size_t len, gda_status code,
                       const char *message_part, const char *field)
{
    req_buf r;
    make_req(&r, "POST", ROUTE, body, len);
    add_header(&r, "Content-Type", "application/json");
    add_header(&r, "X-Genesys-Signature", SECRET_B64);
    gda_http_response resp = handle(h, &r.http);
    expect_error(&resp, 400, code, false);
    char buf[GDA_ERROR_MESSAGE_SIZE];
    if (message_part && !strstr(error_message(&resp, buf, sizeof buf), message_part))
        fail_msg("message \"%s\" does not name \"%s\"", buf, message_part);
    if (field)
        assert_string_equal(error_field(&resp, buf, sizeof buf), field);
    /* The log line says what failed: the field and message the caller got
     * (never the value). */
    json_t *log = last_line(false);
    if (field)
        assert_string_equal(json_string_value(json_object_get(log, "errorField")), field);
    else
        assert_null(json_object_get(log, "errorField"));
    assert_string_equal(json_string_value(json_object_get(log, "errorMessage")),
                        error_message(&resp, buf, sizeof buf));
    json_decref(log);
    gda_http_response_release(&resp);
}

static void test_bad_json(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    expect_400(&h, "{\"requestId\":", 13, GDA_ERR_INVALID_JSON, "not valid JSON", NULL);
    expect_400(&h, "{\"requestId\":\"\xff\"}", 17, GDA_ERR_INVALID_JSON, "UTF-8", NULL);
    static const char nul[] = "{\"requestId\":\"a\0b\"}";
    expect_400(&h, nul, sizeof nul - 1, GDA_ERR_INVALID_JSON, "NUL", NULL);
    static const char dup[] = "{\"requestId\":\"a\",\"requestId\":\"b\"}";
    expect_400(&h, dup, sizeof dup - 1, GDA_ERR_INVALID_JSON, "duplicate", NULL);
    char deep[256];
    size_t n = 0;
    deep[n++] = '{';
    memcpy(deep + n, "\"a\":", 4);
    n += 4;
    for (int i = 0; i < 50; i++)
        deep[n++] = '[';
    for (int i = 0; i < 50; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    expect_400(&h, deep, n, GDA_ERR_INVALID_JSON, "deeper than 50", NULL);
    /* 50 levels exactly is fine as far as JSON goes (then the fields fail). */
    static const char arr[] = "[1]";
    expect_400(&h, arr, 3, GDA_ERR_INVALID_JSON, "object", NULL);
    assert_int_equal(h.executions, 0);
    teardown_app(&h);
}

static void test_bad_fields(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    char body[512];
    int n = snprintf(body, sizeof body, BODY_FMT, "req-6", "555-1234");
    expect_400(&h, body, (size_t)n, GDA_ERR_INVALID_FIELD, NULL, "callerId");
    static const char no_id[] =
        "{\"interactionId\":\"0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69\"}";
    expect_400(&h, no_id, sizeof no_id - 1, GDA_ERR_INVALID_FIELD, NULL, "requestId");
    static const char bad_type[] =
        "{\"interactionId\":\"0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69\",\"requestId\":7}";
    expect_400(&h, bad_type, sizeof bad_type - 1, GDA_ERR_INVALID_FIELD, NULL, "requestId");
    static const char bad_uuid[] = "{\"interactionId\":\"nope\",\"requestId\":\"r\"}";
    expect_400(&h, bad_uuid, sizeof bad_uuid - 1, GDA_ERR_INVALID_FIELD, NULL, "interactionId");
    /* The value is never echoed back. */
    n = snprintf(body, sizeof body, BODY_FMT, "req-6", "secret-ish-caller");
    req_buf r;
    make_req(&r, "POST", ROUTE, body, (size_t)n);
    add_header(&r, "Content-Type", "application/json");
    add_header(&r, "X-Genesys-Signature", SECRET_B64);
    gda_http_response resp = handle(&h, &r.http);
    assert_null(strstr(resp.body, "secret-ish-caller"));
    for (size_t i = 0; i < n_lines; i++)
        assert_null(strstr(lines[i], "secret-ish-caller"));
    gda_http_response_release(&resp);
    assert_int_equal(h.executions, 0);
    teardown_app(&h);
}

/* ---- idempotency rows ----------------------------------------------------- */

static void test_mismatch_not_run(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    req_buf a, b;
    make_post(&a, "req-7", "+15551234567");
    make_post(&b, "req-7", "+15557654321");
    gda_http_response ra = handle(&h, &a.http);
    assert_int_equal(ra.status, 200);
    clear_lines();
    gda_http_response rb = handle(&h, &b.http);
    expect_error(&rb, 422, GDA_ERR_PAYLOAD_MISMATCH, false);
    assert_int_equal(h.executions, 1);
    json_t *log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "outcome")), "mismatch");
    json_decref(log);
    gda_http_response_release(&ra);
    gda_http_response_release(&rb);
    teardown_app(&h);
}

static void test_in_progress_policies(void **state)
{
    (void)state;
    for (int p = 0; p < 2; p++) {
        harness h;
        gda_idem_busy_policy policy = p ? GDA_IDEM_BUSY_CONFLICT : GDA_IDEM_BUSY_RETRY;
        setup_app(&h, &(opts){.policy = policy});
        req_buf r;
        make_post(&r, "req-8", "+15551234567");
        h.mode = MODE_NESTED;
        h.nested_req = &r.http;
        int64_t before = fake_now;
        gda_http_response outer = handle(&h, &r.http);
        assert_int_equal(outer.status, 200);
        assert_int_equal(h.executions, 1);
        /* The twin waited (bounded: 1 s by default) before answering. */
        assert_true(fake_now - before >= GDA_IDEM_DEFAULT_IN_PROGRESS_WAIT_MS);
        if (policy == GDA_IDEM_BUSY_RETRY) {
            expect_error(&h.nested_resp, 503, GDA_ERR_BUSY, true);
            assert_non_null(gda_http_response_header(&h.nested_resp, "Retry-After"));
        } else {
            expect_error(&h.nested_resp, 409, GDA_ERR_IN_PROGRESS, false);
        }
        /* Two log lines (twin first), the twin's outcome in_progress. */
        assert_int_equal(count_lines(false), 2);
        json_t *first = json_loads(lines[0], 0, NULL);
        assert_string_equal(json_string_value(json_object_get(first, "outcome")),
                            "in_progress");
        json_decref(first);
        json_t *m = json_loads(lines[1], 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(m, "InProgressConflicts")), 1);
        json_decref(m);
        gda_http_response_release(&outer);
        teardown_app(&h);
    }
}

/* A store whose backing service is down. */
static gda_status down_put(gda_store *s, const gda_record *rec, const gda_store_call *call,
                           bool *inserted, gda_record *existing, gda_error *err)
{
    (void)s, (void)rec, (void)call, (void)inserted, (void)existing;
    return gda_error_set(err, GDA_ERR_STORE, NULL, "connection refused");
}
static gda_status down_get(gda_store *s, const char *key, const gda_store_call *call,
                           gda_record *out, bool *found, gda_error *err)
{
    (void)s, (void)key, (void)call, (void)out, (void)found;
    return gda_error_set(err, GDA_ERR_STORE, NULL, "connection refused");
}
static gda_status down_complete(gda_store *s, const gda_record *rec,
                                const gda_store_call *call, bool *applied, gda_error *err)
{
    (void)s, (void)rec, (void)call, (void)applied;
    return gda_error_set(err, GDA_ERR_STORE, NULL, "connection refused");
}
static gda_status down_release(gda_store *s, const char *key, const char *owner,
                               const gda_store_call *call, bool *applied, gda_error *err)
{
    (void)s, (void)key, (void)owner, (void)call, (void)applied;
    return gda_error_set(err, GDA_ERR_STORE, NULL, "connection refused");
}
static int down_closed;
static void down_close(gda_store *s)
{
    (void)s;
    down_closed++;
}
static const gda_store_ops down_ops = {GDA_STORE_OPS_VERSION, "down", down_put, down_get,
                                       down_complete, down_release, down_close};

static void test_store_unreachable(void **state)
{
    (void)state;
    static gda_store down = {&down_ops, 0};
    harness h;
    down_closed = 0;
    setup_app(&h, &(opts){.store = &down});
    req_buf r;
    make_post(&r, "req-9", "+15551234567");
    gda_http_response resp = handle(&h, &r.http);
    expect_error(&resp, 503, GDA_ERR_STORE, true);
    assert_int_equal(h.executions, 0);
    json_t *log = last_line(false);
    assert_true(json_is_true(json_object_get(log, "storeError")));
    assert_string_equal(json_string_value(json_object_get(log, "level")), "ERROR");
    json_decref(log);
    json_t *m = last_line(true);
    assert_int_equal(json_integer_value(json_object_get(m, "StoreErrors")), 1);
    assert_int_equal(json_integer_value(json_object_get(m, "Errors5xx")), 1);
    json_decref(m);
    gda_http_response_release(&resp);

    /* A poll is a store read: 503 too. */
    req_buf g;
    make_req(&g, "GET", ROUTE "/req-9", NULL, 0);
    add_header(&g, "X-Genesys-Signature", SECRET_B64);
    resp = handle(&h, &g.http);
    expect_error(&resp, 503, GDA_ERR_STORE, true);
    gda_http_response_release(&resp);
    teardown_app(&h);
    assert_int_equal(down_closed, 1); /* the app owned the store */
}

static void test_transient_failure_reruns(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    h.mode = MODE_TRANSIENT_ONCE;
    req_buf r;
    make_post(&r, "req-10", "+15551234567");
    gda_http_response first = handle(&h, &r.http);
    expect_error(&first, 503, GDA_ERR_UNAVAILABLE, true);
    json_t *log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "detail")), "CRM timed out");
    json_decref(log);
    /* The handler's detail stays in the log: the body has the fixed text. */
    assert_null(strstr(first.body, "CRM"));
    gda_http_response again = handle(&h, &r.http);
    assert_int_equal(again.status, 200);
    assert_int_equal(h.executions, 2);
    gda_http_response_release(&first);
    gda_http_response_release(&again);
    teardown_app(&h);
}

static void test_business_4xx_cached(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    h.mode = MODE_BUSINESS_4XX;
    req_buf r;
    make_post(&r, "req-11", "+15551234567");
    gda_http_response first = handle(&h, &r.http);
    expect_error(&first, 422, GDA_ERR_UNPROCESSABLE, false);
    char buf[GDA_ERROR_MESSAGE_SIZE];
    assert_string_equal(error_field(&first, buf, sizeof buf), "queueId");
    assert_string_equal(error_message(&first, buf, sizeof buf), "queue is closed");
    gda_http_response again = handle(&h, &r.http);
    assert_int_equal(h.executions, 1);
    assert_int_equal(again.body_len, first.body_len);
    assert_memory_equal(again.body, first.body, first.body_len);
    /* Both log lines say what the caller got: the built answer from what it
     * was built of, the replay from its stored body. */
    json_t *log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "outcome")), "replay");
    assert_string_equal(json_string_value(json_object_get(log, "errorField")), "queueId");
    assert_string_equal(json_string_value(json_object_get(log, "errorMessage")), "queue is closed");
    json_decref(log);
    clear_lines();
    make_post(&r, "req-11b", "+15551234567");
    gda_http_response fresh = handle(&h, &r.http);
    log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "outcome")), "new");
    assert_string_equal(json_string_value(json_object_get(log, "errorField")), "queueId");
    assert_string_equal(json_string_value(json_object_get(log, "errorMessage")), "queue is closed");
    json_decref(log);
    gda_http_response_release(&fresh);
    gda_http_response_release(&first);
    gda_http_response_release(&again);
    teardown_app(&h);
}

static void test_garbage_from_handler(void **state)
{
    (void)state;
    const mode modes[] = {MODE_NULL_DATA, MODE_ARRAY_DATA, MODE_BAD_CODE};
    for (size_t i = 0; i < 3; i++) {
        harness h;
        setup_app(&h, &(opts){0});
        h.mode = modes[i];
        req_buf r;
        make_post(&r, "req-12", "+15551234567");
        gda_http_response resp = handle(&h, &r.http);
        expect_error(&resp, 500, GDA_ERR_INTERNAL, true);
        gda_http_response_release(&resp);
        /* The lease was released: a retry runs the (now fixed) handler. */
        h.mode = MODE_OK;
        resp = handle(&h, &r.http);
        assert_int_equal(resp.status, 200);
        assert_int_equal(h.executions, 2);
        gda_http_response_release(&resp);
        teardown_app(&h);
    }
}

static void test_deadline_and_ctx(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    h.mode = MODE_INSPECT;
    req_buf r;
    make_post(&r, "req-13", "+15551234567");
    gda_invocation inv = {.now_ms = T0, .deadline_ms = T0 + 3000, .aws_request_id = "aws-13",
                          .trace_id = "Root=1-13"};
    gda_http_response resp = {0};
    assert_int_equal(gda_app_handle(h.app, &r.http, &inv, &resp), GDA_OK);
    assert_int_equal(h.seen_now, T0);
    assert_int_equal(h.seen_deadline, T0 + 3000);
    assert_int_equal(h.seen_remaining, 2900);
    assert_true(h.seen_lease_until <= T0 + 3000); /* the lease never outlives the deadline */
    assert_string_equal(h.seen_aws, "aws-13");
    assert_string_equal(h.seen_trace, "Root=1-13");
    assert_string_equal(h.seen_request, "req-13");
    assert_string_equal(h.seen_interaction, "0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69");
    assert_string_equal(h.seen_principal, "k1");
    gda_http_response_release(&resp);

    /* No deadline given: now + the handler budget. */
    make_post(&r, "req-14", "+15551234567");
    int64_t start = fake_now;
    resp = handle(&h, &r.http);
    assert_int_equal(h.seen_now, start);
    assert_int_equal(h.seen_deadline, start + GDA_APP_DEFAULT_HANDLER_BUDGET_MS);
    assert_true(h.seen_lease_until <= h.seen_deadline);
    assert_string_equal(h.seen_aws, "");
    gda_http_response_release(&resp);

    /* A deadline already past: nothing runs, the caller may retry. */
    make_post(&r, "req-15", "+15551234567");
    inv.now_ms = fake_now;
    inv.deadline_ms = fake_now - 1;
    assert_int_equal(gda_app_handle(h.app, &r.http, &inv, &resp), GDA_ERR_TIMEOUT);
    expect_error(&resp, 504, GDA_ERR_TIMEOUT, true);
    assert_int_equal(h.executions, 2);
    gda_http_response_release(&resp);
    teardown_app(&h);
}

/* ---- two-phase handshake ---------------------------------------------------- */

static gda_http_response do_poll(harness *h, const char *path, bool authenticated)
{
    req_buf g;
    make_req(&g, "GET", path, NULL, 0);
    if (authenticated)
        add_header(&g, "X-Genesys-Signature", SECRET_B64);
    return handle(h, &g.http);
}

static void test_accepted_poll_finish(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    h.mode = MODE_ACCEPTED;
    req_buf r;
    make_post(&r, "job-1", "+15551234567");
    gda_http_response accepted = handle(&h, &r.http);
    assert_int_equal(accepted.status, 202);
    assert_int_equal(accepted.code, GDA_ACCEPTED);
    json_t *j = body_json(&accepted);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "accepted");
    assert_string_equal(json_string_value(json_object_get(j, "pollUrl")), ROUTE "/job-1");
    json_decref(j);
    assert_string_equal(gda_http_response_header(&accepted, "Location"), ROUTE "/job-1");
    assert_true(strlen(h.token) > 0);

    /* A retry of the POST and a poll both see the 202, the handler ran once. */
    gda_http_response retry = handle(&h, &r.http);
    assert_memory_equal(retry.body, accepted.body, accepted.body_len);
    gda_http_response pending = do_poll(&h, ROUTE "/job-1", true);
    assert_int_equal(pending.status, 202);
    assert_memory_equal(pending.body, accepted.body, accepted.body_len);
    assert_int_equal(h.executions, 1);

    /* The poll is authenticated too. */
    gda_http_response anon = do_poll(&h, ROUTE "/job-1", false);
    expect_error(&anon, 401, GDA_ERR_UNAUTHORIZED, false);

    /* Finish; the poll and the retry then return the final result. */
    json_t *data = json_pack("{s:s}", "tier", "platinum");
    gda_error err;
    assert_int_equal(gda_app_finish(h.app, h.token, data, NULL, &err), GDA_OK);
    gda_http_response done = do_poll(&h, ROUTE "/job-1", true);
    assert_int_equal(done.status, 200);
    j = body_json(&done);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "completed");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "data"), "tier")), "platinum");
    json_decref(j);
    gda_http_response after = handle(&h, &r.http);
    assert_int_equal(after.body_len, done.body_len);
    assert_memory_equal(after.body, done.body, done.body_len);
    assert_int_equal(h.executions, 1);

    /* Repeating the same finish (its answer was lost) succeeds. */
    json_t *same = json_pack("{s:s}", "tier", "platinum");
    assert_int_equal(gda_app_finish(h.app, h.token, same, NULL, &err), GDA_OK);
    json_decref(same);
    /* Another result under a spent token is refused and changes nothing. */
    json_t *other = json_pack("{s:s}", "tier", "bronze");
    assert_int_equal(gda_app_finish(h.app, h.token, other, NULL, &err), GDA_ERR_LEASE_LOST);
    gda_http_response still = do_poll(&h, ROUTE "/job-1", true);
    assert_memory_equal(still.body, done.body, done.body_len);

    /* Malformed tokens and wrong arguments. */
    assert_int_equal(gda_app_finish(h.app, "gda2.zz", other, NULL, &err),
                     GDA_ERR_INVALID_REQUEST);
    assert_int_equal(gda_app_finish(h.app, "", other, NULL, &err), GDA_ERR_INVALID_REQUEST);
    assert_int_equal(gda_app_finish(h.app, h.token, NULL, NULL, &err), GDA_ERR_INTERNAL);
    gda_error transient;
    gda_error_set(&transient, GDA_ERR_UNAVAILABLE, NULL, "later");
    assert_int_equal(gda_app_finish(h.app, h.token, NULL, &transient, &err), GDA_ERR_INTERNAL);
    json_t *arr = json_array();
    assert_int_equal(gda_app_finish(h.app, h.token, arr, NULL, &err), GDA_ERR_INTERNAL);
    json_decref(arr);
    /* A token with a forged owner is stale too. */
    char forged[GDA_COMPLETION_TOKEN_SIZE];
    snprintf(forged, sizeof forged, "%s", h.token);
    forged[5] = forged[5] == 'a' ? 'b' : 'a';
    assert_int_equal(gda_app_finish(h.app, forged, other, NULL, &err), GDA_ERR_LEASE_LOST);

    json_decref(data);
    json_decref(other);
    gda_http_response_release(&accepted);
    gda_http_response_release(&retry);
    gda_http_response_release(&pending);
    gda_http_response_release(&anon);
    gda_http_response_release(&done);
    gda_http_response_release(&after);
    gda_http_response_release(&still);
    teardown_app(&h);
}

/* Results belong to the caller that created them: another valid credential
 * gets 404 on the poll and 409 on the same POST, never the result, and the
 * handler does not run for it. */
#define OTHER_B64 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
static void test_other_caller_sees_nothing(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){.ring = RING ",k9:" OTHER_B64});
    h.mode = MODE_ACCEPTED;
    req_buf r;
    make_post(&r, "mine-1", "+15551234567");
    gda_http_response accepted = handle(&h, &r.http);
    assert_int_equal(accepted.status, 202);
    json_t *data = json_pack("{s:s}", "tier", "platinum");
    gda_error err;
    assert_int_equal(gda_app_finish(h.app, h.token, data, NULL, &err), GDA_OK);
    json_decref(data);

    req_buf g;
    make_req(&g, "GET", ROUTE "/mine-1", NULL, 0);
    add_header(&g, "X-Genesys-Signature", OTHER_B64);
    gda_http_response poll = handle(&h, &g.http);
    expect_error(&poll, 404, GDA_ERR_NOT_FOUND, false);
    assert_null(strstr((const char *)poll.body, "platinum"));

    req_buf o;
    make_post(&o, "mine-1", "+15551234567");
    o.headers[1].value = gda_slice_cstr(OTHER_B64);
    gda_http_response post = handle(&h, &o.http);
    expect_error(&post, 409, GDA_ERR_KEY_CONFLICT, false);
    assert_null(strstr((const char *)post.body, "platinum"));
    assert_int_equal(h.executions, 1);

    /* The owner still gets its result. */
    gda_http_response mine = do_poll(&h, ROUTE "/mine-1", true);
    assert_int_equal(mine.status, 200);
    assert_non_null(strstr((const char *)mine.body, "platinum"));

    gda_http_response_release(&accepted);
    gda_http_response_release(&poll);
    gda_http_response_release(&post);
    gda_http_response_release(&mine);
    teardown_app(&h);
}

/* Callers are named in the ring ("caller/id:secret"), and results belong to
 * the caller, not to the key: after rotating alice from k1 to k2 her
 * results are still hers; bob's own valid key reads none of them. */
#define THIRD_B64 "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
static void test_rotation_keeps_results_with_their_caller(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){.ring = "alice/k1:" SECRET_B64 ",alice/k2:" OTHER_B64
                                  ",bob/k3:" THIRD_B64});
    req_buf r;
    make_post(&r, "rot-1", "+15551234567");
    gda_http_response first = handle(&h, &r.http);
    assert_int_equal(first.status, 200);

    /* The same request again under alice's new key: a replay. */
    req_buf again;
    make_post(&again, "rot-1", "+15551234567");
    again.headers[1].value = gda_slice_cstr(OTHER_B64);
    gda_http_response replay = handle(&h, &again.http);
    assert_int_equal(replay.status, 200);
    assert_int_equal(replay.body_len, first.body_len);
    assert_memory_equal(replay.body, first.body, first.body_len);
    req_buf g;
    make_req(&g, "GET", ROUTE "/rot-1", NULL, 0);
    add_header(&g, "X-Genesys-Signature", OTHER_B64);
    gda_http_response poll = handle(&h, &g.http);
    assert_int_equal(poll.status, 200);

    /* Bob: 404 on the poll, 409 on the POST. */
    g.headers[0].value = gda_slice_cstr(THIRD_B64);
    gda_http_response bob_poll = handle(&h, &g.http);
    expect_error(&bob_poll, 404, GDA_ERR_NOT_FOUND, false);
    again.headers[1].value = gda_slice_cstr(THIRD_B64);
    gda_http_response bob_post = handle(&h, &again.http);
    expect_error(&bob_post, 409, GDA_ERR_KEY_CONFLICT, false);
    assert_int_equal(h.executions, 1);

    gda_http_response_release(&first);
    gda_http_response_release(&replay);
    gda_http_response_release(&poll);
    gda_http_response_release(&bob_poll);
    gda_http_response_release(&bob_post);
    teardown_app(&h);
}

static void test_accepted_final_error_and_encoded_key(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    h.mode = MODE_ACCEPTED;
    req_buf r;
    make_post(&r, "job 2/é", "+15551234567");
    gda_http_response accepted = handle(&h, &r.http);
    assert_int_equal(accepted.status, 202);
    const char *url = gda_http_response_header(&accepted, "Location");
    assert_string_equal(url, ROUTE "/job%202%2F%C3%A9");
    gda_error final;
    gda_error_set(&final, GDA_ERR_UNPROCESSABLE, "callerId", "caller is blocked");
    assert_int_equal(gda_app_finish(h.app, h.token, NULL, &final, NULL), GDA_OK);
    gda_http_response done = do_poll(&h, url, true);
    expect_error(&done, 422, GDA_ERR_UNPROCESSABLE, false);
    /* Unknown, undecodable and empty ids. */
    gda_http_response missing = do_poll(&h, ROUTE "/nope", true);
    expect_error(&missing, 404, GDA_ERR_NOT_FOUND, false);
    gda_http_response bad = do_poll(&h, ROUTE "/%zz", true);
    expect_error(&bad, 404, GDA_ERR_NOT_FOUND, false);
    gda_http_response nul = do_poll(&h, ROUTE "/a%00b", true);
    expect_error(&nul, 404, GDA_ERR_NOT_FOUND, false);
    gda_http_response_release(&accepted);
    gda_http_response_release(&done);
    gda_http_response_release(&missing);
    gda_http_response_release(&bad);
    gda_http_response_release(&nul);
    teardown_app(&h);
}

static void test_poll_while_running(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    /* The handler polls its own request while it runs: 202, come back. */
    req_buf r;
    make_post(&r, "busy-1", "+15551234567");
    req_buf g;
    make_req(&g, "GET", ROUTE "/busy-1", NULL, 0);
    add_header(&g, "X-Genesys-Signature", SECRET_B64);
    h.mode = MODE_NESTED;
    h.nested_req = &g.http;
    gda_http_response done = handle(&h, &r.http);
    assert_int_equal(done.status, 200);
    assert_int_equal(h.nested_resp.status, 202);
    json_t *j = body_json(&h.nested_resp);
    assert_string_equal(json_string_value(json_object_get(j, "pollUrl")), ROUTE "/busy-1");
    json_decref(j);
    gda_http_response_release(&done);

    /* A record another principal created (here: a digest no caller has) is
     * no record at all to this caller: 404, whatever its state. */
    gda_record rec = {0};
    rec.key = "busy-2";
    rec.state = GDA_RECORD_IN_PROGRESS;
    snprintf(rec.owner, sizeof rec.owner, "%032x", 7);
    rec.lease_until_ms = fake_now + 10000;
    rec.expires_at_s = fake_now / 1000 + 3600;
    gda_store_call call = {.now_ms = fake_now};
    bool inserted = false;
    assert_int_equal(gda_store_put_if_absent(h.store, &rec, &call, &inserted, NULL, NULL),
                     GDA_OK);
    assert_true(inserted);
    gda_http_response resp = do_poll(&h, ROUTE "/busy-2", true);
    expect_error(&resp, 404, GDA_ERR_NOT_FOUND, false);
    gda_http_response_release(&resp);
    teardown_app(&h);
}

/* ---- routing and direct invocation ------------------------------------------- */

/* A shim's refusal (gda_app_refuse) is answered and logged as the pipeline
 * answers its own: the error body, Cache-Control, one log line with outcome
 * none and the detail, one metrics line; the handler never runs. */
static void test_refuse(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    clear_lines();
    gda_http_request req = {0};
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_cstr("POST");
    req.path = gda_slice_cstr(ROUTE);
    gda_invocation inv = {.now_ms = fake_now - 25, .trace_id = "Root=1-refused"};
    gda_error why;
    gda_error_set(&why, GDA_ERR_PAYLOAD_TOO_LARGE, NULL, "body is over the 16-byte limit");
    gda_http_response resp = {0};
    assert_int_equal(gda_app_refuse(h.app, &req, &inv, &why, &resp), GDA_ERR_PAYLOAD_TOO_LARGE);
    assert_int_equal(resp.status, 413);
    assert_int_equal(h.executions, 0);
    json_t *j = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "error");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "error"), "code")),
        "payload_too_large");
    json_decref(j);
    bool no_store = false;
    for (size_t i = 0; i < resp.n_headers; i++)
        no_store |= strcmp(resp.headers[i].name, "Cache-Control") == 0 &&
                    strcmp(resp.headers[i].value, "no-store") == 0;
    assert_true(no_store);
    assert_int_equal(count_lines(false), 1);
    assert_int_equal(count_lines(true), 1);
    json_t *log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "message")), "request refused");
    assert_string_equal(json_string_value(json_object_get(log, "outcome")), "none");
    assert_string_equal(json_string_value(json_object_get(log, "errorCode")), "payload_too_large");
    assert_string_equal(json_string_value(json_object_get(log, "errorMessage")),
                        "body is over the 16-byte limit");
    assert_string_equal(json_string_value(json_object_get(log, "traceId")), "Root=1-refused");
    assert_string_equal(json_string_value(json_object_get(log, "method")), "POST");
    assert_int_equal(json_integer_value(json_object_get(log, "statusCode")), 413);
    assert_true(json_number_value(json_object_get(log, "executionTimeMs")) >= 25);
    json_decref(log);
    gda_http_response_release(&resp);

    /* Only an error can be a refusal; NULLs are refused. */
    gda_error_set(&why, GDA_OK, NULL, "fine");
    assert_int_equal(gda_app_refuse(h.app, &req, &inv, &why, &resp), GDA_ERR_INTERNAL);
    assert_int_equal(resp.status, 0);
    assert_int_equal(gda_app_refuse(NULL, &req, &inv, &why, &resp), GDA_ERR_INTERNAL);
    assert_int_equal(gda_app_refuse(h.app, &req, NULL, NULL, &resp), GDA_ERR_INTERNAL);
    assert_int_equal(gda_app_refuse(h.app, &req, NULL, &why, NULL), GDA_ERR_INTERNAL);
    clear_lines();
    teardown_app(&h);
}

static void test_routing(void **state)
{
    (void)state;
    harness h;
    setup_app(&h, &(opts){0});
    struct {
        const char *method, *path;
        int status;
        const char *allow;
    } cases[] = {
        {"POST", "/other", 404, NULL},
        {"POST", "/", 404, NULL},
        {"POST", ROUTE "/", 404, NULL},
        {"POST", ROUTE "x", 404, NULL},
        {"GET", ROUTE "/a/b", 404, NULL},
        {"GET", ROUTE, 405, "POST"},
        {"PUT", ROUTE, 405, "POST"},
        {"post", ROUTE, 405, "POST"},
        {"POST", ROUTE "/job-1", 405, "GET"},
        {"DELETE", ROUTE "/job-1", 405, "GET"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        req_buf r;
        make_post(&r, "req-16", "+15551234567");
        r.http.method = gda_slice_cstr(cases[i].method);
        r.http.path = gda_slice_cstr(cases[i].path);
        gda_http_response resp = handle(&h, &r.http);
        assert_int_equal(resp.status, cases[i].status);
        const char *allow = gda_http_response_header(&resp, "Allow");
        if (cases[i].allow)
            assert_string_equal(allow, cases[i].allow);
        else
            assert_null(allow);
        gda_http_response_release(&resp);
    }
    assert_int_equal(h.executions, 0);
    assert_string_equal(gda_app_route(h.app), ROUTE);
    teardown_app(&h);
}

static void test_direct_invocation(void **state)
{
    (void)state;
    char body[512];
    int n = snprintf(body, sizeof body, BODY_FMT, "req-17", "+15551234567");
    gda_http_request direct = {0};
    direct.kind = GDA_EVENT_DIRECT;
    direct.body = gda_slice_make(body, (size_t)n);

    harness h;
    setup_app(&h, &(opts){0}); /* trusted by default */
    gda_http_response resp = handle(&h, &direct);
    assert_int_equal(resp.status, 200);
    assert_int_equal(h.executions, 1);
    json_t *log = last_line(false);
    assert_string_equal(json_string_value(json_object_get(log, "method")), "direct");
    json_decref(log);
    gda_http_response_release(&resp);
    teardown_app(&h);

    setup_app(&h, &(opts){.direct_untrusted = true});
    resp = handle(&h, &direct);
    expect_error(&resp, 401, GDA_ERR_UNAUTHORIZED, false);
    assert_int_equal(h.executions, 0);
    gda_http_response_release(&resp);
    teardown_app(&h);

    /* Decoded from a real event, parsed once (body_json). */
    setup_app(&h, &(opts){0});
    gda_http_request ev = {0};
    assert_int_equal(gda_event_decode(body, (size_t)n, 0, &ev, NULL), GDA_OK);
    assert_int_equal(ev.kind, GDA_EVENT_DIRECT);
    resp = handle(&h, &ev);
    assert_int_equal(resp.status, 200);
    gda_http_response_release(&resp);
    gda_http_request_release(&ev);
    teardown_app(&h);
}

/* ---- configuration and the envelope check ------------------------------------ */

static void test_config_errors(void **state)
{
    (void)state;
    gda_error err;
    gda_app_config cfg = gda_app_config_default();
    assert_null(gda_app_new(&cfg, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_string_equal(err.field, "handler");

    const char *bad_routes[] = {"", "/", "noslash", "/a/", "/a//b", "/a b", "/a?b"};
    for (size_t i = 0; i < sizeof bad_routes / sizeof bad_routes[0]; i++) {
        cfg = gda_app_config_default();
        cfg.handler = test_handler;
        cfg.route = bad_routes[i];
        cfg.verifier = make_verifier("token"); /* freed by the failing gda_app_new */
        assert_null(gda_app_new(&cfg, &err));
        assert_int_equal(err.code, GDA_ERR_CONFIG);
        assert_string_equal(err.field, "route");
    }
    struct {
        int which;
        const char *field;
    } bad[] = {{0, "ttl_s"}, {1, "max_lease_ms"}, {2, "handler_budget_ms"},
               {3, "in_progress_wait_ms"}, {4, "busy_policy"}, {5, "max_depth"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = gda_app_config_default();
        cfg.handler = test_handler;
        switch (bad[i].which) {
        case 0: cfg.idem.ttl_s = 0; break;
        case 1: cfg.idem.max_lease_ms = -1; break;
        case 2: cfg.handler_budget_ms = 0; break;
        case 3: cfg.idem.in_progress_wait_ms = -1; break;
        case 4: cfg.idem.busy_policy = (gda_idem_busy_policy)7; break;
        default: cfg.limits.max_depth = -1; break;
        }
        assert_null(gda_app_new(&cfg, &err));
        assert_int_equal(err.code, GDA_ERR_CONFIG);
        assert_string_equal(err.field, bad[i].field);
    }
    assert_null(gda_app_new(NULL, &err));
    assert_int_equal(err.code, GDA_ERR_INTERNAL);

    /* Defaults and a custom route work; NULL-safety. */
    harness h;
    memset(&h, 0, sizeof h);
    cfg = gda_app_config_default();
    cfg.handler = test_handler;
    cfg.handler_user = &h;
    cfg.route = "/v1/enrich";
    cfg.log.sink = capture_sink;
    gda_app *app = gda_app_new(&cfg, &err);
    assert_non_null(app);
    assert_string_equal(gda_app_route(app), "/v1/enrich");
    assert_int_equal(gda_app_max_body(app), GDA_DEFAULT_MAX_BODY);
    assert_int_equal(gda_app_max_body(NULL), 0);
    assert_non_null(gda_app_logger(app));
    gda_http_response resp = {0};
    assert_int_equal(gda_app_handle(app, NULL, NULL, &resp), GDA_ERR_INTERNAL);
    assert_int_equal(gda_app_handle(NULL, NULL, NULL, NULL), GDA_ERR_INTERNAL);
    gda_app_free(app);
    gda_app_free(NULL);
    clear_lines();
    assert_int_equal(gda_ctx_deadline_ms(NULL), 0);
    assert_int_equal(gda_ctx_now_ms(NULL), 0);
    const char *token = "x";
    assert_int_equal(gda_ctx_accept(NULL, &token, NULL), GDA_ERR_INTERNAL);
    assert_null(token);
    assert_null(gda_ctx_logger(NULL));
}

static void test_check_envelope(void **state)
{
    (void)state;
    req_buf r;
    make_req(&r, "POST", ROUTE, "{}", 2);
    add_header(&r, "Content-Type", "application/json");
    gda_error err;
    gda_envelope env;
    assert_int_equal(gda_request_check_envelope(&r.http, NULL, &env, &err), GDA_OK);
    assert_true(env.checked);
    /* The parse's second half takes only a checked envelope. */
    gda_spec *spec = gda_spec_new_reference();
    gda_request *parsed = NULL;
    gda_envelope unchecked = {0};
    assert_int_equal(gda_request_parse_enveloped(spec, &r.http, &unchecked, &parsed, &err),
                     GDA_ERR_INTERNAL);
    assert_null(parsed);
    gda_spec_free(spec);
    gda_limits lim = {1, 0};
    assert_int_equal(gda_request_check_envelope(&r.http, &lim, &env, &err), GDA_ERR_PAYLOAD_TOO_LARGE);
    lim.max_body = 0;
    lim.max_depth = -1;
    assert_int_equal(gda_request_check_envelope(&r.http, &lim, &env, &err), GDA_ERR_CONFIG);
    r.headers[0].value = gda_slice_cstr("text/plain");
    assert_int_equal(gda_request_check_envelope(&r.http, NULL, &env, &err),
                     GDA_ERR_UNSUPPORTED_MEDIA_TYPE);
    assert_string_equal(err.field, "Content-Type");
    r.http.kind = GDA_EVENT_DIRECT; /* no headers to check */
    assert_int_equal(gda_request_check_envelope(&r.http, NULL, &env, &err), GDA_OK);
    /* Not JSON at all passes: the envelope check parses nothing. */
    r.http.body = gda_slice_make("{{{{", 4);
    assert_int_equal(gda_request_check_envelope(&r.http, NULL, &env, &err), GDA_OK);
    /* A direct event given as parsed JSON is measured by its encoding. */
    json_t *big = json_pack("{s:s}", "k", "0123456789");
    r.http.body = GDA_SLICE_NULL;
    r.http.body_json = big;
    lim = (gda_limits){8, 0};
    assert_int_equal(gda_request_check_envelope(&r.http, &lim, &env, &err), GDA_ERR_PAYLOAD_TOO_LARGE);
    json_decref(big);
    assert_int_equal(gda_request_check_envelope(NULL, NULL, &env, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_request_check_envelope(&r.http, NULL, NULL, &err), GDA_ERR_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_logs_and_metrics),
        cmocka_unit_test(test_replay_byte_for_byte),
        cmocka_unit_test(test_unauthorized_token),
        cmocka_unit_test(test_unauthorized_hmac_and_jwt),
        cmocka_unit_test(test_too_large_before_parsing),
        cmocka_unit_test(test_unsupported_media_type),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_mismatch_not_run),
        cmocka_unit_test(test_in_progress_policies),
        cmocka_unit_test(test_store_unreachable),
        cmocka_unit_test(test_transient_failure_reruns),
        cmocka_unit_test(test_business_4xx_cached),
        cmocka_unit_test(test_garbage_from_handler),
        cmocka_unit_test(test_deadline_and_ctx),
        cmocka_unit_test(test_accepted_poll_finish),
        cmocka_unit_test(test_other_caller_sees_nothing),
        cmocka_unit_test(test_rotation_keeps_results_with_their_caller),
        cmocka_unit_test(test_accepted_final_error_and_encoded_key),
        cmocka_unit_test(test_poll_while_running),
        cmocka_unit_test(test_refuse),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_direct_invocation),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_check_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
