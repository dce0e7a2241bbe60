/* Benchmark: the full pipeline, gda_app_handle, per request: envelope
 * checks, token authentication, strict parse and validation, payload hash,
 * idempotency over the memory store, the handler, the response, one log line
 * and one EMF line (into a sink that drops them). Bodies of 1 KiB and 64 KiB,
 * first executions (unique request ids) and replays (the same request again).
 * For scale, the SHA-256 of the same body bytes is timed too, with the ratio
 * pipeline / SHA-256.
 * Usage: bench_pipeline [requests per 1 KiB pass] (64 KiB passes run 1/8). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gda/gda.h>

#include "digest.h"

#define SECRET_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define RING "k1:" SECRET_B64
#define ID_DIGITS 12

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void drop_line(const char *line, size_t len, void *user)
{
    (void)line, (void)len;
    (*(size_t *)user)++;
}

static gda_status enrich(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                         gda_error *err, void *user)
{
    (void)ctx, (void)err, (void)user;
    const char *caller = gda_request_string(req, "callerId");
    *data_out = json_pack("{s:b,s:s,s:s}", "customerFound", caller != NULL, "tier", "gold",
                          "routingHint", "priority");
    return *data_out ? GDA_OK : GDA_ERR_NOMEM;
}

/* A reference request padded to exactly size bytes; *id_at points at the
 * ID_DIGITS digits of its requestId, rewritten in place per request. */
static char *make_body(size_t size, char **id_at)
{
    static const char head[] = "{\"interactionId\":\"0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69\","
                               "\"requestId\":\"req-";
    static const char mid[] = "\",\"queueId\":\"6a1f0c2d-3b4e-4f5a-8b6c-7d8e9f0a1b2c\","
                              "\"callerId\":\"+15551234567\","
                              "\"timestamp\":\"2026-11-24T10:00:00Z\",\"notes\":\"";
    static const char tail[] = "\"}";
    size_t fixed = sizeof head - 1 + ID_DIGITS + sizeof mid - 1 + sizeof tail - 1;
    if (size < fixed)
        return NULL;
    char *b = malloc(size + 1);
    if (!b)
        return NULL;
    char *p = b;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    *id_at = p;
    memset(p, '0', ID_DIGITS);
    p += ID_DIGITS;
    memcpy(p, mid, sizeof mid - 1);
    p += sizeof mid - 1;
    size_t pad = size - fixed;
    for (size_t i = 0; i < pad; i++)
        p[i] = (char)('a' + i % 26);
    p += pad;
    memcpy(p, tail, sizeof tail);
    return b;
}

static void set_id(char *at, size_t n)
{
    for (int i = ID_DIGITS - 1; i >= 0; i--) {
        at[i] = (char)('0' + n % 10);
        n /= 10;
    }
}

static void report(const char *what, size_t ops, double seconds, double sha_ns)
{
    double ns = seconds * 1e9 / (double)ops;
    printf("%-34s %8zu req %10.0f ns/req %10.0f req/s", what, ops, ns, (double)ops / seconds);
    if (sha_ns > 0)
        printf("   %6.1fx SHA-256", ns / sha_ns);
    printf("\n");
}

static int run_size(size_t size, size_t ops)
{
    size_t lines = 0;
    gda_error err;
    gda_app_config cfg = gda_app_config_default();
    cfg.handler = enrich;
    cfg.store = gda_memory_store_new(ops + 16, &err);
    if (gda_verifier_new_from_config("token", RING, strlen(RING), NULL, &cfg.verifier, &err) !=
        GDA_OK) {
        fprintf(stderr, "verifier: %s\n", err.message);
        gda_store_close(cfg.store);
        return 1;
    }
    cfg.log.sink = drop_line;
    cfg.log.sink_user = &lines;
    gda_app *app = gda_app_new(&cfg, &err);
    if (!app) {
        fprintf(stderr, "app: %s\n", err.message);
        return 1;
    }
    char *id_at = NULL;
    char *body = make_body(size, &id_at);
    if (!body) {
        gda_app_free(app);
        return 1;
    }
    gda_header headers[2] = {
        {gda_slice_cstr("Content-Type"), gda_slice_cstr("application/json")},
        {gda_slice_cstr("X-Genesys-Signature"), gda_slice_cstr(SECRET_B64)},
    };
    gda_http_request req = {0};
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_cstr("POST");
    req.path = gda_slice_cstr(GDA_APP_DEFAULT_ROUTE);
    req.headers = headers;
    req.n_headers = 2;
    req.body = gda_slice_make(body, size);
    gda_http_response resp = {0};
    int rc = 0;

    /* SHA-256 of the same bytes, the floor any body-touching step pays. */
    uint8_t digest[GDA_SHA256_LEN];
    size_t sha_ops = ops * 4;
    double t0 = now_s();
    for (size_t i = 0; i < sha_ops; i++) {
        id_at[0] = (char)('0' + i % 10);
        gda_sha256(body, size, digest);
    }
    double sha_ns = (now_s() - t0) * 1e9 / (double)sha_ops;
    char what[64];
    snprintf(what, sizeof what, "sha256 %zu KiB body", size / 1024);
    report(what, sha_ops, sha_ns * (double)sha_ops / 1e9, 0);

    /* First executions: a new request id each time. */
    t0 = now_s();
    for (size_t i = 0; i < ops && rc == 0; i++) {
        set_id(id_at, i);
        if (gda_app_handle(app, &req, NULL, &resp) != GDA_OK || resp.status != 200) {
            fprintf(stderr, "new request %zu: status %d %s\n", i, resp.status,
                    resp.body ? resp.body : "");
            rc = 1;
        }
    }
    double t_new = now_s() - t0;
    snprintf(what, sizeof what, "pipeline %zu KiB new", size / 1024);
    if (rc == 0)
        report(what, ops, t_new, sha_ns);

    /* Replays: every request was seen before. */
    t0 = now_s();
    for (size_t i = 0; i < ops && rc == 0; i++) {
        set_id(id_at, i);
        if (gda_app_handle(app, &req, NULL, &resp) != GDA_OK || resp.status != 200) {
            fprintf(stderr, "replay %zu: status %d\n", i, resp.status);
            rc = 1;
        }
    }
    double t_replay = now_s() - t0;
    snprintf(what, sizeof what, "pipeline %zu KiB replay", size / 1024);
    if (rc == 0)
        report(what, ops, t_replay, sha_ns);
    /* Two lines (log + EMF) per request prove nothing was skipped. */
    if (rc == 0 && lines != 4 * ops) {
        fprintf(stderr, "expected %zu log/metric lines, got %zu\n", 4 * ops, lines);
        rc = 1;
    }
    gda_http_response_release(&resp);
    free(body);
    gda_app_free(app);
    return rc;
}

int main(int argc, char **argv)
{
    size_t ops = 20000;
    if (argc > 1) {
        char *end = NULL;
        unsigned long long v = strtoull(argv[1], &end, 10);
        if (!end || *end || v < 8 || v > 10000000) {
            fprintf(stderr, "usage: %s [requests per 1 KiB pass, 8..10000000]\n", argv[0]);
            return 2;
        }
        ops = (size_t)v;
    }
    printf("gda_app_handle, token auth, memory store, SHA-256 via %s\n", gda_digest_backend());
    int rc = run_size(1024, ops);
    if (rc == 0)
        rc = run_size(64 * 1024, ops / 8);
    return rc;
}
