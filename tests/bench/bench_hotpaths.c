/* Benchmark: the per-request hot paths of the core, one at a time, for Data
 * Action request bodies from 1 KiB to 256 KiB, each next to the raw SHA-256
 * speed of the same bytes on this machine.
 *
 * For every body size it prints, per operation: ns/op, ops/s, body MB/s, the
 * ratio of that throughput to raw SHA-256 of the same bytes (through
 * lib/digest.h and through libsodium's portable crypto_hash_sha256), and the
 * heap allocations one operation makes (tests/bench/alloc_count.c). Then the
 * allocations of one whole gda_app_handle call, and a verdict on the issue's
 * target: body hashing at >= 80% of raw SHA-256 speed.
 *
 * Iterations are calibrated by time: each case gets about `seconds per case`
 * (default 0.3) in batches of about 2 ms, the cases of one body size take
 * turns batch by batch, and the fastest batch is reported: other work on a
 * shared machine only ever makes an operation slower, and a 2 ms batch is
 * short enough to fall between its bursts.
 * Usage: bench_hotpaths [seconds per case] [largest body in KiB]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "log_internal.h"
#include <gda/app.h>
#include <gda/event.h>
#include <gda/idempotency.h>
#include <gda/log.h>
#include <gda/request.h>
#include <gda/response.h>
#include <gda/sign.h>
#include <gda/verify.h>

#include "test_idem.h"
#include "alloc_count.h"
#include "digest.h"

#define NOW_MS INT64_C(1795514400000) /* 2026-11-24T10:00:00Z */
#define MAX_HEADERS 12
#define BATCH_S 0.002 /* one timed batch; the fastest batch of a case is reported */

/* Two 32-byte secrets, as after one rotation: requests are signed with the
 * second, so verification really walks the ring. */
static const char ring_text[] = "k-2025:qUSZyxJ5+RgVZOmCtBy8Z3Hg8dlN5tmMnmN+GVYdmlE=,"
                                "k-2026:2fTJyE3r5RJyPb7oKb5rU8hqq1DnRmZC8vE1tpFxN/o=";

/* ---- timing ------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef bool (*op_fn)(void *ctx);

typedef struct measure {
    double ns_per_op;
    size_t ops;
    size_t allocs_per_op; /* heap allocations and resizes of one call */
    bool ok;
} measure;

static bool run_n(op_fn fn, void *ctx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!fn(ctx))
            return false;
    }
    return true;
}

/* Count the allocations of one call (after two warm-up calls: per-thread
 * state, caches) and size a batch that takes about `seconds`. */
static measure calibrate(op_fn fn, void *ctx, double seconds)
{
    measure m = {0, 0, 0, false};
    if (!fn(ctx) || !fn(ctx))
        return m;
    alloc_count_reset();
    if (!fn(ctx))
        return m;
    alloc_counts c = alloc_count_get();
    m.allocs_per_op = c.allocs + c.reallocs;
    size_t n = 1;
    double t;
    for (;;) {
        double t0 = now_s();
        if (!run_n(fn, ctx, n))
            return m;
        t = now_s() - t0;
        if (t >= 0.01 || n >= ((size_t)1 << 40))
            break;
        n *= 2;
    }
    m.ops = (size_t)((double)n * seconds / t);
    if (m.ops < 1)
        m.ops = 1;
    m.ns_per_op = t * 1e9 / (double)n;
    m.ok = true;
    return m;
}

/* One timed batch of m->ops calls; keeps the fastest batch seen. */
static bool time_batch(op_fn fn, void *ctx, measure *m)
{
    double t0 = now_s();
    if (!run_n(fn, ctx, m->ops))
        return false;
    double ns = (now_s() - t0) * 1e9 / (double)m->ops;
    if (ns < m->ns_per_op)
        m->ns_per_op = ns;
    return true;
}

/* ---- inputs ------------------------------------------------------------- */

/* A realistic Genesys Data Action body (the reference contract plus the
 * custom fields a template adds), padded to exactly `size` bytes with a
 * free-text custom field. */
static char *make_body(size_t size, unsigned serial)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\","
                     "\"requestId\":\"req-2026-11-24-%08u\","
                     "\"queueId\":\"b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e\","
                     "\"callerId\":\"+15551234567\",\"timestamp\":\"2026-11-24T10:00:00Z\","
                     "\"language\":\"en-US\",\"attempt\":1,\"score\":0.75,\"vip\":true,"
                     "\"customer\":{\"tier\":\"gold\",\"tags\":[\"billing\",\"priority\"]},"
                     "\"notes\":\"",
                     serial);
    static const char tail[] = "\"}";
    static const char words[] = "customer asked about the invoice of last month and the "
                                "new plan; agent promised a callback before noon. ";
    size_t fixed = (size_t)n + sizeof tail - 1;
    if (n < 0 || (size_t)n >= sizeof head || size <= fixed)
        return NULL;
    char *body = malloc(size + 1);
    if (!body)
        return NULL;
    memcpy(body, head, (size_t)n);
    size_t pad = size - fixed;
    for (size_t i = 0; i < pad; i++)
        body[(size_t)n + i] = words[i % (sizeof words - 1)];
    memcpy(body + (size_t)n + pad, tail, sizeof tail);
    return body;
}

typedef struct http_fixture {
    gda_header headers[MAX_HEADERS];
    size_t n;
    gda_http_request req;
} http_fixture;

static void add_header(http_fixture *f, const char *name, const char *value)
{
    f->headers[f->n].name = gda_slice_make(name, strlen(name));
    f->headers[f->n].value = gda_slice_make(value, strlen(value));
    f->n++;
}

/* What a shim hands the pipeline for a plain HTTP POST from Genesys. The
 * signed headers (may be NULL) are added last, as proxies append theirs. */
static void make_http(http_fixture *f, const char *body, size_t len,
                      const gda_signed_headers *sig)
{
    memset(f, 0, sizeof *f);
    add_header(f, "Host", "dataaction.example.com");
    add_header(f, "User-Agent", "Genesys-Cloud-DataAction");
    add_header(f, "Accept", "application/json");
    add_header(f, "Content-Type", "application/json");
    add_header(f, "X-Amzn-Trace-Id", "Root=1-6743f1a0-3c5d2b1e4f6a7b8c9d0e1f2a");
    add_header(f, "X-Forwarded-For", "52.18.40.12");
    for (size_t i = 0; sig && i < sig->n && f->n < MAX_HEADERS; i++)
        add_header(f, sig->headers[i].name, sig->headers[i].value);
    f->req.kind = GDA_EVENT_HTTP;
    f->req.method = gda_slice_make("POST", 4);
    f->req.path = gda_slice_make(GDA_APP_DEFAULT_ROUTE, strlen(GDA_APP_DEFAULT_ROUTE));
    f->req.headers = f->headers;
    f->req.n_headers = f->n;
    f->req.body = gda_slice_make(body, len);
}

/* An API Gateway REST (payload 1.0) event carrying body, as JSON text. */
static char *make_rest_event(const char *body, size_t len, const gda_signed_headers *sig,
                             size_t *out_len)
{
    json_t *ev = json_object();
    json_t *h = json_object();
    json_t *mh = json_object();
    json_t *ctx = json_object();
    json_t *id = json_object();
    if (!ev || !h || !mh || !ctx || !id) {
        json_decref(ev);
        json_decref(h);
        json_decref(mh);
        json_decref(ctx);
        json_decref(id);
        return NULL;
    }
    static const char *const plain[][2] = {
        {"Accept", "application/json"},
        {"Content-Type", "application/json"},
        {"Host", "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"},
        {"User-Agent", "Genesys-Cloud-DataAction"},
        {"X-Amzn-Trace-Id", "Root=1-6743f1a0-3c5d2b1e4f6a7b8c9d0e1f2a"},
        {"X-Forwarded-For", "52.18.40.12, 130.176.98.14"},
        {"X-Forwarded-Port", "443"},
        {"X-Forwarded-Proto", "https"},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        json_object_set_new(h, plain[i][0], json_string(plain[i][1]));
        json_object_set_new(mh, plain[i][0], json_pack("[s]", plain[i][1]));
    }
    for (size_t i = 0; sig && i < sig->n; i++) {
        json_object_set_new(h, sig->headers[i].name, json_string(sig->headers[i].value));
        json_object_set_new(mh, sig->headers[i].name, json_pack("[s]", sig->headers[i].value));
    }
    json_object_set_new(id, "sourceIp", json_string("52.18.40.12"));
    json_object_set_new(id, "userAgent", json_string("Genesys-Cloud-DataAction"));
    json_object_set_new(ctx, "resourcePath", json_string(GDA_APP_DEFAULT_ROUTE));
    json_object_set_new(ctx, "httpMethod", json_string("POST"));
    json_object_set_new(ctx, "stage", json_string("prod"));
    json_object_set_new(ctx, "requestTimeEpoch", json_integer(NOW_MS));
    json_object_set_new(ctx, "requestId", json_string("c6af9ac6-7b61-11e6-9a41-93e8deadbeef"));
    json_object_set_new(ctx, "identity", id);
    json_object_set_new(ctx, "apiId", json_string("a1b2c3d4e5"));
    json_object_set_new(ev, "resource", json_string(GDA_APP_DEFAULT_ROUTE));
    json_object_set_new(ev, "path", json_string(GDA_APP_DEFAULT_ROUTE));
    json_object_set_new(ev, "httpMethod", json_string("POST"));
    json_object_set_new(ev, "headers", h);
    json_object_set_new(ev, "multiValueHeaders", mh);
    json_object_set_new(ev, "queryStringParameters", json_null());
    json_object_set_new(ev, "pathParameters", json_null());
    json_object_set_new(ev, "requestContext", ctx);
    json_object_set_new(ev, "body", json_stringn(body, len));
    json_object_set_new(ev, "isBase64Encoded", json_false());
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (text)
        *out_len = strlen(text);
    return text;
}

/* ---- the operations ----------------------------------------------------- */

typedef struct fixture {
    size_t size;
    char *body;
    json_t *body_json;
    gda_verifier *token_v;
    gda_verifier *hmac_v;
    http_fixture token_http;
    http_fixture hmac_http;
    gda_signed_headers token_sig;
    gda_signed_headers hmac_sig;
    gda_spec *spec;
    gda_store *store;
    gda_idem *idem; /* keys the payload hashes */
    char *event;
    size_t event_len;
    volatile uint8_t sink; /* keeps digests observable */
} fixture;

static bool op_sha256_gda(void *p)
{
    fixture *f = p;
    uint8_t out[GDA_SHA256_LEN];
    gda_sha256(f->body, f->size, out);
    f->sink ^= out[0];
    return true;
}

static bool op_sha256_sodium(void *p)
{
    fixture *f = p;
    uint8_t out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(out, (const unsigned char *)f->body, f->size);
    f->sink ^= out[0];
    return true;
}

static bool op_token(void *p)
{
    fixture *f = p;
    return gda_verifier_verify(f->token_v, &f->token_http.req, NOW_MS, NULL, NULL) == GDA_OK;
}

static bool op_hmac(void *p)
{
    fixture *f = p;
    return gda_verifier_verify(f->hmac_v, &f->hmac_http.req, NOW_MS, NULL, NULL) == GDA_OK;
}

static bool op_header_lookup(void *p)
{
    fixture *f = p;
    bool found = false;
    gda_slice v = gda_http_request_header(&f->hmac_http.req, "x-genesys-timestamp", &found);
    f->sink ^= (uint8_t)v.len;
    return found && gda_http_request_header_count(&f->hmac_http.req, "content-type") == 1;
}

/* The primitive under the HMAC scheme: one key, "timestamp.body". */
static bool op_hmac_primitive(void *p)
{
    fixture *f = p;
    static const uint8_t key[32] = {0x2d, 0xf4, 0xc9, 0xc8, 0x4d, 0xeb, 0xe5, 0x12};
    gda_slice parts[3] = {{"1795514400", 10}, {".", 1}, {f->body, f->size}};
    uint8_t out[GDA_SHA256_LEN];
    gda_hmac_sha256_parts(key, sizeof key, parts, 3, out);
    f->sink ^= out[0];
    return true;
}

/* What the canonical payload hash spends before hashing: jansson writing the
 * sorted, compact JSON text. */
/* The same MAC from a key prepared once (gda_hmac_sha256_key_init), as the
 * verifier keeps one per ring secret. */
static bool op_hmac_prepared(void *p)
{
    fixture *f = p;
    static const uint8_t key[32] = {0x2d, 0xf4, 0xc9, 0xc8, 0x4d, 0xeb, 0xe5, 0x12};
    static gda_hmac_key prepared;
    static bool ready;
    if (!ready) {
        gda_hmac_sha256_key_init(&prepared, key, sizeof key);
        ready = true;
    }
    gda_slice parts[3] = {{"1795514400", 10}, {".", 1}, {f->body, f->size}};
    uint8_t out[GDA_SHA256_LEN];
    gda_hmac_sha256_prepared(&prepared, parts, 3, out);
    f->sink ^= out[0];
    return true;
}

static bool op_canonical_dump(void *p)
{
    fixture *f = p;
    char *text = json_dumps(f->body_json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return false;
    f->sink ^= (uint8_t)text[0];
    free(text);
    return true;
}

static bool op_payload_hash_json(void *p)
{
    fixture *f = p;
    uint8_t out[GDA_PAYLOAD_HASH_LEN];
    if (gda_idem_payload_hash(f->idem, f->body_json, out, NULL) != GDA_OK)
        return false;
    f->sink ^= out[0];
    return true;
}

static bool op_payload_hash_bytes(void *p)
{
    fixture *f = p;
    uint8_t out[GDA_PAYLOAD_HASH_LEN];
    gda_idem_payload_hash_bytes(f->idem, f->body, f->size, out);
    f->sink ^= out[0];
    return true;
}

static bool op_mapping(void *p)
{
    fixture *f = p;
    gda_request *req = NULL;
    if (gda_request_parse(f->spec, &f->hmac_http.req, NULL, &req, NULL) != GDA_OK)
        return false;
    f->sink ^= (uint8_t)gda_request_idempotency_key(req)[0];
    gda_request_free(req);
    return true;
}

static bool op_response(void *p)
{
    fixture *f = p;
    gda_http_response resp = {0};
    bool ok = gda_response_completed(&resp, f->body_json, "req-2026-11-24-00000001", NOW_MS,
                                     NULL) == GDA_OK;
    f->sink ^= (uint8_t)resp.body_len;
    gda_http_response_release(&resp);
    return ok;
}

static bool op_event_decode(void *p)
{
    fixture *f = p;
    gda_http_request req;
    if (gda_event_decode(f->event, f->event_len, 0, &req, NULL) != GDA_OK)
        return false;
    bool ok = req.body.len == f->size;
    gda_http_request_release(&req);
    return ok;
}

static void fixture_free(fixture *f)
{
    gda_signed_headers_release(&f->token_sig);
    gda_signed_headers_release(&f->hmac_sig);
    gda_verifier_free(f->token_v);
    gda_verifier_free(f->hmac_v);
    gda_spec_free(f->spec);
    gda_idem_free(f->idem);
    gda_store_close(f->store);
    json_decref(f->body_json);
    free(f->event);
    free(f->body);
}

static bool fixture_init(fixture *f, size_t size)
{
    memset(f, 0, sizeof *f);
    f->size = size;
    gda_error err = {0};
    gda_sign_params sp = {.key_id = "k-2026", .now_ms = NOW_MS};
    json_error_t jerr;
    if (!(f->body = make_body(size, 1)) ||
        !(f->body_json = json_loadb(f->body, size, JSON_REJECT_DUPLICATES, &jerr)) ||
        !(f->spec = gda_spec_new_reference()) ||
        !(f->store = gda_memory_store_new(0, &err)) ||
        !(f->idem = gda_idem_new(f->store, NULL, &err)) ||
        gda_verifier_new_from_config("token", ring_text, sizeof ring_text - 1, NULL, &f->token_v,
                                     &err) != GDA_OK ||
        gda_verifier_new_from_config("hmac-sha256", ring_text, sizeof ring_text - 1, NULL,
                                     &f->hmac_v, &err) != GDA_OK ||
        gda_verifier_sign(f->token_v, &sp, gda_slice_make(f->body, size), &f->token_sig,
                          &err) != GDA_OK ||
        gda_verifier_sign(f->hmac_v, &sp, gda_slice_make(f->body, size), &f->hmac_sig, &err) !=
            GDA_OK) {
        fprintf(stderr, "fixture for %zu bytes: %s\n", size, err.message);
        fixture_free(f);
        return false;
    }
    make_http(&f->token_http, f->body, size, &f->token_sig);
    make_http(&f->hmac_http, f->body, size, &f->hmac_sig);
    if (!(f->event = make_rest_event(f->body, size, &f->hmac_sig, &f->event_len))) {
        fprintf(stderr, "event for %zu bytes: out of memory\n", size);
        fixture_free(f);
        return false;
    }
    return true;
}

/* ---- the whole pipeline: allocations only (bench_pipeline times it) ----- */

static void discard_line(const char *line, size_t len, void *user)
{
    (void)line;
    (void)len;
    (void)user;
}

static gda_status lookup_handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                                 gda_error *err, void *user)
{
    (void)req;
    (void)ctx;
    (void)err;
    (void)user;
    *data_out = json_pack("{s:s,s:f,s:s,s:i}", "customerId", "c-123456", "balance", 1042.17,
                          "tier", "gold", "openCases", 2);
    return *data_out ? GDA_OK : GDA_ERR_NOMEM;
}

/* The benchmark's requests are signed for NOW_MS, so the app runs on it too. */
static int64_t fixed_clock(void *user)
{
    (void)user;
    return NOW_MS;
}

typedef struct app_allocs {
    size_t fresh, replay;
    gda_status fresh_code, replay_code;
} app_allocs;

static bool count_app_allocs(size_t size, app_allocs *out)
{
    gda_error err = {0};
    gda_verifier *v = NULL, *signer = NULL;
    if (gda_verifier_new_from_config("hmac-sha256", ring_text, sizeof ring_text - 1, NULL, &v,
                                     &err) != GDA_OK ||
        gda_verifier_new_from_config("hmac-sha256", ring_text, sizeof ring_text - 1, NULL,
                                     &signer, &err) != GDA_OK) {
        fprintf(stderr, "pipeline verifier: %s\n", err.message);
        gda_verifier_free(v);
        return false;
    }
    gda_app_config cfg = gda_app_config_default();
    cfg.verifier = v;
    cfg.handler = lookup_handler;
    cfg.log.sink = discard_line;
    cfg.idem.clock.now_ms = fixed_clock;
    gda_app *app = gda_app_new(&cfg, &err);
    if (!app) {
        fprintf(stderr, "pipeline: %s\n", err.message);
        gda_verifier_free(signer);
        return false;
    }
    bool ok = true;
    gda_invocation inv = {.now_ms = NOW_MS, .deadline_ms = NOW_MS + 3000};
    /* Serial 1 warms up; serial 2 is counted as a first execution, then its
     * retry as a replay. */
    for (unsigned serial = 1; serial <= 2 && ok; serial++) {
        char *body = make_body(size, serial);
        gda_signed_headers sig = {0};
        gda_sign_params sp = {.key_id = "k-2026", .now_ms = NOW_MS};
        if (!body ||
            gda_verifier_sign(signer, &sp, gda_slice_make(body, size), &sig, &err) != GDA_OK) {
            free(body);
            ok = false;
            break;
        }
        http_fixture h;
        make_http(&h, body, size, &sig);
        for (int attempt = 0; attempt < 2; attempt++) {
            gda_http_response resp = {0};
            alloc_count_reset();
            gda_status st = gda_app_handle(app, &h.req, &inv, &resp);
            alloc_counts c = alloc_count_get();
            gda_http_response_release(&resp);
            if (serial == 2 && attempt == 0) {
                out->fresh = c.allocs + c.reallocs;
                out->fresh_code = st;
            } else if (serial == 2) {
                out->replay = c.allocs + c.reallocs;
                out->replay_code = st;
            }
        }
        gda_signed_headers_release(&sig);
        free(body);
    }
    gda_app_free(app);
    gda_verifier_free(signer);
    return ok;
}

typedef struct step_ctx {
    gda_logger *lg;
    const gda_log_fields *fields;
} step_ctx;

static bool op_log_line(void *p)
{
    step_ctx *c = p;
    return gda_log(c->lg, GDA_LOG_INFO, NOW_MS, c->fields, NULL, "handled", NULL) == GDA_OK;
}

static bool op_emf_line(void *p)
{
    step_ctx *c = p;
    return gda_metrics_emit_request(c->lg, c->fields, false, NOW_MS, NULL) == GDA_OK;
}

/* The pipeline's other per-request steps, for the allocation budget: one
 * log line, one EMF metrics line, and idempotency begin+complete (then the
 * replaying begin) on the memory store. Prints their allocations. */
static bool print_step_allocs(void)
{
    gda_error err = {0};
    gda_log_config lc = gda_log_config_default();
    lc.sink = discard_line;
    gda_logger *lg = gda_logger_new(&lc, &err);
    gda_store *store = lg ? gda_memory_store_new(1024, &err) : NULL;
    gda_idem_config ic;
    ic = gda_idem_config_default();
    ic.clock.now_ms = fixed_clock;
    gda_idem *idem = store ? gda_idem_new(store, &ic, &err) : NULL;
    if (!idem) {
        fprintf(stderr, "pipeline steps: %s\n", err.message);
        gda_store_close(store);
        gda_logger_free(lg);
        return false;
    }
    gda_log_fields fields = {
        .request_id = "req-2026-11-24-00000002",
        .interaction_id = "3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f",
        .trace_id = "Root=1-6743f1a0-3c5d2b1e4f6a7b8c9d0e1f2a",
        .status_code = 200,
        .has_execution_time = true,
        .execution_time_ms = 0.25,
        .outcome = GDA_LOG_OUTCOME_NEW,
        .key_id = "k-2026",
    };
    static const char result[] = "{\"status\":\"completed\",\"data\":{\"tier\":\"gold\"},"
                                 "\"requiresRetry\":false}";
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    gda_idem_payload_hash_bytes(idem, "{}", 2, hash);
    size_t n_log = 0, n_emf = 0, n_begin = 0, n_replay = 0;
    bool ok = true;
    for (int pass = 0; pass < 2 && ok; pass++) { /* the first pass warms up */
        char key[32];
        snprintf(key, sizeof key, "req-steps-%d", pass);
        alloc_count_reset();
        ok = gda_log(lg, GDA_LOG_INFO, NOW_MS, &fields, NULL, "handled", &err) == GDA_OK;
        alloc_counts c = alloc_count_get();
        n_log = c.allocs + c.reallocs;
        alloc_count_reset();
        ok = ok && gda_metrics_emit_request(lg, &fields, false, NOW_MS, &err) == GDA_OK;
        c = alloc_count_get();
        n_emf = c.allocs + c.reallocs;
        gda_idem_outcome outcome;
        gda_idem_lease lease;
        gda_idem_result res = {0};
        alloc_count_reset();
        ok = ok &&
             gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, NOW_MS + 3000, &outcome, &lease, &res, &err) ==
                 GDA_OK &&
             outcome == GDA_IDEM_NEW &&
             gda_idem_complete(idem, &lease, 200, result, sizeof result - 1, &err) == GDA_OK;
        c = alloc_count_get();
        n_begin = c.allocs + c.reallocs;
        alloc_count_reset();
        ok = ok &&
             gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, NOW_MS + 3000, &outcome, &lease, &res, &err) ==
                 GDA_OK &&
             outcome == GDA_IDEM_REPLAY;
        c = alloc_count_get();
        n_replay = c.allocs + c.reallocs;
        gda_idem_result_clear(&res);
    }
    /* And their time (the same whatever the body size), fastest 2 ms batch. */
    step_ctx sc = {lg, &fields};
    double ns_log = 0, ns_emf = 0;
    if (ok) {
        measure ml = calibrate(op_log_line, &sc, BATCH_S);
        measure me = calibrate(op_emf_line, &sc, BATCH_S);
        ok = ml.ok && me.ok;
        for (int r = 0; r < 50 && ok; r++)
            ok = time_batch(op_log_line, &sc, &ml) && time_batch(op_emf_line, &sc, &me);
        ns_log = ml.ns_per_op;
        ns_emf = me.ns_per_op;
    }
    if (ok)
        printf("  steps: log line %zu allocs %.0f ns; EMF metrics line %zu allocs %.0f ns;\n"
               "         idempotency begin+complete (memory) %zu allocs; replaying begin %zu "
               "allocs\n",
               n_log, ns_log, n_emf, ns_emf, n_begin, n_replay);
    else
        fprintf(stderr, "pipeline steps: %s\n", err.message);
    gda_idem_free(idem);
    gda_store_close(store);
    gda_logger_free(lg);
    return ok;
}

/* ---- report ------------------------------------------------------------- */

typedef struct op_def {
    const char *name;
    op_fn fn;
    unsigned body_passes; /* SHA-256 passes over the body it must make; 0: not hashing */
} op_def;

/* The two raw SHA-256 rows come first: the others are compared with them. */
static const op_def ops[] = {
    {"raw SHA-256, gda_sha256", op_sha256_gda, 1},
    {"raw SHA-256, libsodium crypto_hash_sha256", op_sha256_sodium, 1},
    {"token verification (2-key ring)", op_token, 0},
    {"HMAC-SHA256 verification (ts, 2-key ring)", op_hmac, 2},
    {"HMAC-SHA256 primitive (ts.body, 1 key)", op_hmac_primitive, 1},
    {"HMAC-SHA256 primitive, prepared key", op_hmac_prepared, 1},
    {"payload hash, canonical JSON", op_payload_hash_json, 1},
    {"  of which json_dumps (sorted, compact)", op_canonical_dump, 0},
    {"payload hash, raw bytes", op_payload_hash_bytes, 1},
    {"mapping (gda_request_parse, reference spec)", op_mapping, 0},
    {"response (gda_response_completed, echo)", op_response, 0},
    {"event decode (API Gateway REST)", op_event_decode, 0},
    {"header lookup (2 lookups, no copy)", op_header_lookup, 0},
};
#define N_OPS (sizeof ops / sizeof ops[0])

typedef struct target_row {
    size_t size;
    const char *name;
    double pct;
} target_row;

int main(int argc, char **argv)
{
    double budget = 0.3;
    size_t max_kib = 256;
    if (argc > 1) {
        char *end = NULL;
        budget = strtod(argv[1], &end);
        if (!end || *end || !(budget >= 0.001 && budget <= 10.0)) {
            fprintf(stderr, "usage: %s [seconds per case, 0.001..10] [largest body KiB]\n",
                    argv[0]);
            return 2;
        }
    }
    if (argc > 2) {
        char *end = NULL;
        unsigned long v = strtoul(argv[2], &end, 10);
        if (!end || *end || v < 1 || v > 256) {
            fprintf(stderr, "largest body: 1..256 KiB\n");
            return 2;
        }
        max_kib = v;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "libsodium cannot start\n");
        return 1;
    }
    bool counting = alloc_count_available();
    printf("hot paths of one Data Action request; SHA-256 backend: %s; %.2f s per case\n",
           gda_digest_backend(), budget);
    printf("ratio = operation throughput / raw SHA-256 throughput of the same body bytes\n");
    if (!counting)
        printf("allocation counting unavailable in this build (sanitizer or non-glibc)\n");

    static const size_t sizes_kib[] = {1, 4, 16, 64, 256};
    target_row targets[8 * 5]; /* hashing rows per size x sizes, with room */
    size_t n_targets = 0;
    int rc = 0;
    for (size_t s = 0; s < sizeof sizes_kib / sizeof sizes_kib[0] && rc == 0; s++) {
        if (sizes_kib[s] > max_kib)
            break;
        size_t size = sizes_kib[s] * 1024;
        fixture f;
        if (!fixture_init(&f, size))
            return 1;
        printf("\nbody %zu bytes (%zu KiB)\n", size, sizes_kib[s]);
        printf("%-44s %11s %11s %9s %8s %8s %7s\n", "operation", "ns/op", "ops/s", "MB/s",
               "vs gda", "vs sodm", "allocs");
        /* Measure everything first: every row is compared with both raw rows. */
        measure m[N_OPS];
        for (size_t i = 0; i < N_OPS && rc == 0; i++) {
            m[i] = calibrate(ops[i].fn, &f, BATCH_S);
            if (!m[i].ok) {
                fprintf(stderr, "%s failed for %zu bytes\n", ops[i].name, size);
                rc = 1;
            }
        }
        /* Rounds interleave the operations, so a burst of load from
         * elsewhere hits them all alike; the fastest batch counts. */
        int rounds = (int)(budget / BATCH_S);
        for (int r = 0; r < rounds && rc == 0; r++) {
            for (size_t i = 0; i < N_OPS && rc == 0; i++) {
                if (!time_batch(ops[i].fn, &f, &m[i])) {
                    fprintf(stderr, "%s failed for %zu bytes\n", ops[i].name, size);
                    rc = 1;
                }
            }
        }
        double raw_gda = m[0].ns_per_op, raw_sodium = m[1].ns_per_op;
        for (size_t i = 0; i < N_OPS && rc == 0; i++) {
            double mbs = (double)size / m[i].ns_per_op * 1e3; /* bytes/ns * 1e3 = MB/s */
            char allocs[16];
            if (counting)
                snprintf(allocs, sizeof allocs, "%zu", m[i].allocs_per_op);
            else
                snprintf(allocs, sizeof allocs, "-");
            printf("%-44s %11.1f %11.0f %9.1f %7.1f%% %7.1f%% %7s\n", ops[i].name,
                   m[i].ns_per_op, 1e9 / m[i].ns_per_op, mbs, 100.0 * raw_gda / m[i].ns_per_op,
                   100.0 * raw_sodium / m[i].ns_per_op, allocs);
            if (ops[i].body_passes && i >= 2 && n_targets < sizeof targets / sizeof targets[0]) {
                /* Per pass over the body: a 2-key ring must MAC the body twice. */
                targets[n_targets].size = size;
                targets[n_targets].name = ops[i].name;
                targets[n_targets].pct =
                    100.0 * raw_gda * (double)ops[i].body_passes / m[i].ns_per_op;
                n_targets++;
            }
        }
        fixture_free(&f);
    }
    if (rc != 0)
        return rc;

    printf("\ntarget: body hashing >= 80%% of raw SHA-256 (gda_sha256) speed, per pass over "
           "the body\n");
    for (size_t i = 0; i < n_targets; i++)
        printf("  %6zu bytes  %-44s %6.1f%%  %s\n", targets[i].size, targets[i].name,
               targets[i].pct, targets[i].pct >= 80.0 ? "met" : "MISSED");

    if (counting) {
        printf("\nallocations per gda_app_handle (HMAC-SHA256 auth, memory store, small "
               "handler result)\n");
        for (size_t s = 0; s < 2; s++) {
            size_t size = s == 0 ? 1024 : 64 * 1024;
            app_allocs a = {0, 0, GDA_OK, GDA_OK};
            if (!count_app_allocs(size, &a))
                return 1;
            printf("  %6zu bytes  first execution: %3zu allocs (%s)   replay: %3zu allocs (%s)\n",
                   size, a.fresh, gda_status_str(a.fresh_code), a.replay,
                   gda_status_str(a.replay_code));
            if (a.fresh_code != GDA_OK || a.replay_code != GDA_OK)
                rc = 1;
        }
        if (!print_step_allocs())
            rc = 1;
    }
    return rc;
}
