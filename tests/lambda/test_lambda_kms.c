/* Integration: the real `bootstrap` with GDA_DATA_KEY_SOURCE=kms against the
 * KMS stand-in (tests/support/kms_standin.h, which really encrypts) and the
 * Runtime API stand-in, over one SQLite file:
 *
 *   - cold start with one key, then with two (d2 added first): the record
 *     made under d1 replays; then with d2 alone it is absent (the handler
 *     runs again, "dataKeyMissing":true) and the d2 record replays;
 *   - KMS refusing (AccessDenied), down (500s) or slow (past
 *     GDA_KMS_TIMEOUT_MS): a clear runtime/init/error naming GDA_DATA_KEYS,
 *     exit 1, bounded by the timeout;
 *   - neither the SQLite file nor the logs hold a plaintext key.
 *
 * Usage (meson passes it): test_lambda_kms BOOTSTRAP (the enrichment example)
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"
#include "kms_standin.h"
#include "runtime_standin.h"

#define WAIT_MS 15000
#define REGION "eu-west-1"

static const char *bootstrap;
static char workdir[] = "/tmp/gda-lambda-kms-XXXXXX";

typedef struct kms_fx {
    kms_standin *kms;
    char *ring, *token;
    uint8_t keys[2][32];   /* plaintext d1, d2 */
    uint8_t hash_key[32];
    char d1[512], d2[512]; /* "dN:BASE64(blob)" */
    char hash_env[600], endpoint_env[128], ring_env[200], store_env[300], log[300];
} kms_fx;

static kms_fx fx;

/* "id:BASE64" of the stand-in's blob of key under ring id. */
static void wrap(const uint8_t key[32], const char *id, char *out, size_t size)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_true(kms_standin_encrypt(fx.kms, NULL, key, 32, id, &blob, &len));
    size_t at = (size_t)snprintf(out, size, "%s:", id);
    assert_true(sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL) <= size - at);
    sodium_bin2base64(out + at, size - at, blob, len, sodium_base64_VARIANT_ORIGINAL);
    free(blob);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(workdir))
        return -1;
    fx.kms = kms_standin_start(REGION, NULL);
    if (!fx.kms)
        return -1;
    harness_make_key("k1", &fx.ring, &fx.token);
    snprintf(fx.ring_env, sizeof fx.ring_env, "GDA_SECRETS=%s", fx.ring);
    randombytes_buf(fx.keys, sizeof fx.keys);
    randombytes_buf(fx.hash_key, sizeof fx.hash_key);
    wrap(fx.keys[0], "d1", fx.d1, sizeof fx.d1);
    wrap(fx.keys[1], "d2", fx.d2, sizeof fx.d2);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_true(kms_standin_encrypt_hash_key(fx.kms, NULL, fx.hash_key, 32, &blob, &len));
    size_t at = (size_t)snprintf(fx.hash_env, sizeof fx.hash_env, "GDA_HASH_KEY=");
    sodium_bin2base64(fx.hash_env + at, sizeof fx.hash_env - at, blob, len,
                      sodium_base64_VARIANT_ORIGINAL);
    free(blob);
    snprintf(fx.endpoint_env, sizeof fx.endpoint_env, "GDA_KMS_ENDPOINT=%s",
             kms_standin_endpoint(fx.kms));
    snprintf(fx.store_env, sizeof fx.store_env, "GDA_STORE=sqlite:%s/idem.db", workdir);
    snprintf(fx.log, sizeof fx.log, "%s/bootstrap.log", workdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kms_standin_stop(fx.kms);
    free(fx.ring);
    free(fx.token);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Start the bootstrap with the ring GDA_DATA_KEYS=ring (and extra). */
static pid_t start(rapi *r, const char *ring, const char *const *extra)
{
    char keys_env[1200];
    snprintf(keys_env, sizeof keys_env, "GDA_DATA_KEYS=%s", ring);
    const char *env[24] = {fx.ring_env, fx.store_env, fx.hash_env, fx.endpoint_env, keys_env,
                           "GDA_DATA_KEY_SOURCE=kms", "AWS_REGION=" REGION,
                           "AWS_ACCESS_KEY_ID=" KMS_STANDIN_AKID,
                           "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                           "AWS_SESSION_TOKEN", "GDA_LOG_LEVEL=INFO"};
    size_t n = 11;
    for (size_t i = 0; extra && extra[i] && n < 23; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    pid_t pid = harness_spawn(bootstrap, rapi_address(r), env, fx.log, NULL);
    assert_true(pid > 0);
    return pid;
}

static bool log_has(const char *text)
{
    FILE *f = fopen(fx.log, "r");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* One container's life: the given ring, the requests (request ids) sent as
 * direct invocations; expect each answer 200 and return the bodies. */
static void serve(const char *ring, const char *const *ids, size_t n, char **bodies)
{
    rapi *r = rapi_start(NULL);
    assert_non_null(r);
    uint64_t first = 0;
    for (size_t i = 0; i < n; i++) {
        char *body = harness_request_body(ids[i], NULL);
        uint64_t k = rapi_push(r, body, strlen(body), 0, NULL);
        if (i == 0)
            first = k;
        free(body);
    }
    static const char *const trusted[] = {"GDA_DIRECT_TRUSTED=true", NULL};
    pid_t pid = start(r, ring, trusted);
    bool done = rapi_wait_finished(r, n, WAIT_MS);
    if (!done) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "cat '%s' >&2", fx.log);
        assert_int_equal(system(cmd), 0);
    }
    assert_true(done);
    for (size_t i = 0; i < n; i++) {
        rapi_result res;
        assert_true(rapi_get(r, first + i, &res));
        assert_int_equal(res.kind, RAPI_RESPONSE);
        bodies[i] = strndup(res.body, res.body_len);
        rapi_result_clear(&res);
    }
    assert_true(harness_stop(pid));
    rapi_stop(r);
}

static void test_rotation_replays_and_forgets(void **state)
{
    (void)state;
    char ring_both[1100];
    snprintf(ring_both, sizeof ring_both, "%s,%s", fx.d2, fx.d1);
    static const char *const a[] = {"kms-a"}, *const ab[] = {"kms-a", "kms-b"};
    char *first[1], *during[2], *after[2];

    serve(fx.d1, a, 1, first);                 /* sealed under d1 */
    serve(ring_both, ab, 2, during);           /* cold start with 2 keys */
    assert_string_equal(during[0], first[0]);  /* d1's record replays */
    assert_true(log_has("\"outcome\":\"replay\""));
    serve(fx.d2, ab, 2, after);                /* d1 removed */
    assert_true(log_has("\"dataKeyMissing\":true"));
    assert_string_equal(after[1], during[1]);  /* d2's record replays */
    assert_non_null(strstr(after[0], "\"tier\":\"gold\"")); /* kms-a ran again */
    for (size_t i = 0; i < 2; i++) {
        free(during[i]);
        free(after[i]);
    }
    free(first[0]);
}

/* The SQLite file and the log hold no plaintext key, raw or in base64. */
static void test_no_plaintext_key_at_rest(void **state)
{
    (void)state;
    static const char *const a[] = {"kms-plain"};
    char *body[1];
    serve(fx.d1, a, 1, body);
    free(body[0]);
    const uint8_t *secrets[] = {fx.keys[0], fx.keys[1], fx.hash_key};
    char path[300];
    const char *files[] = {path, fx.log};
    snprintf(path, sizeof path, "%s/idem.db", workdir);
    for (size_t f = 0; f < 2; f++) {
        FILE *in = fopen(files[f], "rb");
        assert_non_null(in);
        static uint8_t data[4 << 20];
        size_t len = fread(data, 1, sizeof data, in);
        fclose(in);
        assert_true(len > 0);
        for (size_t s = 0; s < 3; s++) {
            char b64[64];
            sodium_bin2base64(b64, sizeof b64, secrets[s], 32, sodium_base64_VARIANT_ORIGINAL);
            assert_null(memmem(data, len, secrets[s], 32));
            assert_null(memmem(data, len, b64, 40));
        }
    }
}

/* A start-up KMS failure: runtime/init/error naming var and saying text,
 * exit 1. */
static void expect_init_error(const char *const *extra, const char *var, const char *text)
{
    rapi *r = rapi_start(NULL);
    assert_non_null(r);
    pid_t pid = start(r, fx.d1, extra);
    int status = 0;
    assert_true(harness_wait(pid, WAIT_MS, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    char body[2048], type[128];
    assert_true(rapi_init_error(r, 0, body, sizeof body, type, sizeof type));
    if (!strstr(body, text))
        fail_msg("init error without %s: %s", text, body);
    char field[80];
    snprintf(field, sizeof field, "\\\"field\\\":\\\"%s\\\"", var);
    if (!strstr(body, field))
        fail_msg("init error not naming %s: %s", var, body);
    assert_null(strstr(body, fx.d1 + 3)); /* the ciphertext is not quoted */
    rapi_stop(r);
}

static void test_kms_refusing_down_or_slow(void **state)
{
    (void)state;
    kms_standin_set(fx.kms, KMS_STANDIN_DENY_ALL, 1);
    expect_init_error(NULL, "GDA_DATA_KEYS", "AccessDeniedException");
    kms_standin_set(fx.kms, KMS_STANDIN_DENY_ALL, 0);

    kms_standin_set(fx.kms, KMS_STANDIN_FAIL_NEXT, 1000);
    expect_init_error(NULL, "GDA_DATA_KEYS", "GDA_DATA_KEYS entry d1");
    kms_standin_set(fx.kms, KMS_STANDIN_FAIL_NEXT, 0);

    /* With KMS the hash key is a ciphertext too: a raw key is refused. */
    static const char *const raw_hash[] = {
        "GDA_HASH_KEY=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", NULL};
    expect_init_error(raw_hash, "GDA_HASH_KEY", "gda datakey new --hash-key");
    static const char *const bad_budget[] = {"GDA_KMS_TIMEOUT_MS=0", NULL};
    expect_init_error(bad_budget, "GDA_KMS_TIMEOUT_MS", "GDA_KMS_TIMEOUT_MS");

    /* Slower than the start-up budget: the init error comes at the budget,
     * before the stand-in has answered even once. */
    kms_standin_set(fx.kms, KMS_STANDIN_DELAY_MS, 4000);
    static const char *const short_budget[] = {"GDA_KMS_TIMEOUT_MS=500", NULL};
    int64_t t0 = rapi_now_ns();
    expect_init_error(short_budget, "GDA_DATA_KEYS", "GDA_DATA_KEYS entry d1");
    assert_true(rapi_now_ns() - t0 < INT64_C(4000) * 1000000);
    kms_standin_set(fx.kms, KMS_STANDIN_DELAY_MS, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BOOTSTRAP\n", argv[0]);
        return 2;
    }
    bootstrap = argv[1];
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_replays_and_forgets),
        cmocka_unit_test(test_no_plaintext_key_at_rest),
        cmocka_unit_test(test_kms_refusing_down_or_slow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
