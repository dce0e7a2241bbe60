/* Integration: the key ring sources of libgda-lambda against loopback
 * stand-ins — the Parameters and Secrets extension (token header), Secrets
 * Manager over SigV4 (Authorization shape, X-Amz-Security-Token), a file and
 * the environment — plus rotation detection and configuration errors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include <gda/lambda.h>
#include <gda/verify.h>

#include "harness.h"
#include "runtime_internal.h"
#include "secrets.h"
#include "secrets_standin.h"

#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
/* The Secrets Manager client reads the real clock for its deadline. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
#define NOW_MS now_ms()

typedef struct sfx {
    secrets_standin *ss;
    char *ring;
    char *key_token;
    char endpoint[64];
} sfx;

static int setup(void **state)
{
    sfx *f = calloc(1, sizeof *f);
    harness_make_key("k1", &f->ring, &f->key_token);
    f->ss = secrets_standin_start("prod/gda/keys", f->ring, TOKEN, "eu-west-1");
    if (!f->ss)
        return -1;
    snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%d", secrets_standin_port(f->ss));
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    sfx *f = *state;
    secrets_standin_stop(f->ss);
    free(f->ring);
    free(f->key_token);
    free(f);
    return 0;
}

static gda_secrets_config extension_cfg(sfx *f)
{
    gda_secrets_config c;
    memset(&c, 0, sizeof c);
    c.source = GDA_SECRET_SOURCE_EXTENSION;
    c.secret_id = "prod/gda/keys";
    c.extension_host = "127.0.0.1";
    c.extension_port = secrets_standin_port(f->ss);
    c.session_token = TOKEN;
    return c;
}

static gda_secrets_config sm_cfg(sfx *f)
{
    gda_secrets_config c;
    memset(&c, 0, sizeof c);
    c.source = GDA_SECRET_SOURCE_SECRETS_MANAGER;
    c.secret_id = "prod/gda/keys";
    c.endpoint = f->endpoint;
    c.region = "eu-west-1";
    return c;
}

/* A loopback port nothing listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_extension_fetch_and_rotation(void **state)
{
    sfx *f = *state;
    gda_secrets_config c = extension_cfg(f);
    gda_secrets *s = NULL;
    gda_error err;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_keyring *ring = NULL;
    bool changed = false;
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, &changed, &err), GDA_OK);
    assert_true(changed);
    assert_int_equal(gda_keyring_size(ring), 1);
    assert_string_equal(gda_keyring_id(ring, 0), "k1");
    gda_keyring_free(ring);
    assert_int_equal(gda_secrets_last_source(s), GDA_SECRET_SOURCE_EXTENSION);

    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, &changed, &err), GDA_OK);
    assert_false(changed);
    gda_keyring_free(ring);

    char *r2, *t2;
    harness_make_key("k2", &r2, &t2);
    secrets_standin_set_secret(f->ss, r2);
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, &changed, &err), GDA_OK);
    assert_true(changed);
    assert_string_equal(gda_keyring_id(ring, 0), "k2");
    gda_keyring_free(ring);

    /* The raw text is what the secret holds. */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(gda_secrets_fetch_text(s, NOW_MS, &text, &len, &changed, &err), GDA_OK);
    assert_false(changed);
    assert_int_equal(len, strlen(r2));
    assert_memory_equal(text, r2, len);
    gda_secrets_text_free(text);

    secrets_standin_stats st;
    secrets_standin_stats_get(f->ss, &st);
    assert_int_equal(st.extension_ok, 4);
    assert_int_equal(st.extension_refused, 0);
    gda_secrets_free(s);
    free(r2);
    free(t2);
}

static void test_extension_wrong_token(void **state)
{
    sfx *f = *state;
    gda_secrets_config c = extension_cfg(f);
    c.session_token = "not-the-token";
    gda_secrets *s = NULL;
    gda_error err;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_keyring *ring = NULL;
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_null(ring);
    assert_null(strstr(err.message, "not-the-token"));
    secrets_standin_stats st;
    secrets_standin_stats_get(f->ss, &st);
    assert_int_equal(st.extension_refused, 1);
    assert_non_null(strstr(st.last_problem, "X-Aws-Parameters-Secrets-Token"));
    gda_secrets_free(s);

    /* No session token at all: the extension cannot be asked. */
    unsetenv("AWS_SESSION_TOKEN");
    c.session_token = NULL;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "AWS_SESSION_TOKEN");
    gda_secrets_free(s);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
}

static void test_json_wrapped_and_invalid_secret(void **state)
{
    sfx *f = *state;
    char wrapped[400];
    snprintf(wrapped, sizeof wrapped, "{\"keyring\":\"%s\"}", f->ring);
    secrets_standin_set_secret(f->ss, wrapped);
    gda_secrets_config c = extension_cfg(f);
    gda_secrets *s = NULL;
    gda_error err;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_keyring *ring = NULL;
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_OK);
    assert_string_equal(gda_keyring_id(ring, 0), "k1");
    gda_keyring_free(ring);

    secrets_standin_set_secret(f->ss, "{\"password\":\"hunter2\"}");
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_null(strstr(err.message, "hunter2"));
    secrets_standin_set_secret(f->ss, "k1:***not base64***");
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_null(strstr(err.message, "not base64***"));
    gda_secrets_free(s);
    secrets_standin_set_secret(f->ss, f->ring);
}

static void test_secretsmanager_sigv4(void **state)
{
    sfx *f = *state;
    gda_secrets_config c = sm_cfg(f);
    gda_secrets *s = NULL;
    gda_error err;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_keyring *ring = NULL;
    bool changed = false;
    gda_status st = gda_secrets_fetch(s, NOW_MS, &ring, &changed, &err);
    secrets_standin_stats ss;
    secrets_standin_stats_get(f->ss, &ss);
    if (st != GDA_OK)
        fprintf(stderr, "fetch: %s / stand-in: %s\n", err.message, ss.last_problem);
    assert_int_equal(st, GDA_OK);
    assert_true(changed);
    assert_string_equal(gda_keyring_id(ring, 0), "k1");
    gda_keyring_free(ring);
    assert_int_equal(ss.sm_ok, 1);
    assert_int_equal(ss.sm_refused, 0);
    assert_int_equal(strncmp(ss.last_authorization,
                             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 40), 0);
    assert_non_null(strstr(ss.last_authorization, "/eu-west-1/secretsmanager/aws4_request"));
    assert_int_equal(gda_secrets_last_source(s), GDA_SECRET_SOURCE_SECRETS_MANAGER);

    /* Transient 500s are retried with backoff. */
    secrets_standin_fail_next(f->ss, 2);
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, &changed, &err), GDA_OK);
    assert_false(changed);
    gda_keyring_free(ring);
    secrets_standin_stats_get(f->ss, &ss);
    assert_int_equal(ss.sm_failed, 2);
    assert_int_equal(ss.sm_ok, 2);
    gda_secrets_free(s);
}

static void test_secretsmanager_refusals(void **state)
{
    sfx *f = *state;
    gda_secrets_config c = sm_cfg(f);
    c.secret_id = "prod/gda/missing";
    gda_secrets *s = NULL;
    gda_error err;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_keyring *ring = NULL;
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "ResourceNotFoundException"));
    gda_secrets_free(s);

    /* Credentials with another session token: the stand-in refuses the
     * request (the token is checked like AWS would). */
    setenv("AWS_SESSION_TOKEN", "stale-token", 1);
    c = sm_cfg(f);
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "InvalidSignatureException"));
    secrets_standin_stats ss;
    secrets_standin_stats_get(f->ss, &ss);
    assert_non_null(strstr(ss.last_problem, "X-Amz-Security-Token"));
    gda_secrets_free(s);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);

    /* No credentials at all. */
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "AWS_ACCESS_KEY_ID");
    gda_secrets_free(s);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);

    /* Nothing listening: unavailable, within the timeout. */
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
    c.endpoint = dead;
    c.timeout_ms = 500;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_status st = gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err);
    assert_true(st == GDA_ERR_UNAVAILABLE || st == GDA_ERR_TIMEOUT);
    gda_secrets_free(s);
}

/* auto: the extension is preferred; when it is not there, Secrets Manager. */
static void test_auto_prefers_extension_then_secretsmanager(void **state)
{
    sfx *f = *state;
    gda_secrets_config c = extension_cfg(f);
    c.source = GDA_SECRET_SOURCE_AUTO;
    c.endpoint = f->endpoint;
    c.region = "eu-west-1";
    gda_secrets *s = NULL;
    gda_error err;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_keyring *ring = NULL;
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_OK);
    gda_keyring_free(ring);
    assert_int_equal(gda_secrets_last_source(s), GDA_SECRET_SOURCE_EXTENSION);
    gda_secrets_free(s);

    c.extension_port = closed_port();
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_OK);
    gda_keyring_free(ring);
    assert_int_equal(gda_secrets_last_source(s), GDA_SECRET_SOURCE_SECRETS_MANAGER);
    gda_secrets_free(s);
}

static void test_file_and_env_sources(void **state)
{
    sfx *f = *state;
    char path[] = "/tmp/gda-ring-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, f->ring, strlen(f->ring)), (ssize_t)strlen(f->ring));
    assert_int_equal(write(fd, "\n", 1), 1);
    close(fd);
    gda_secrets_config c;
    memset(&c, 0, sizeof c);
    c.source = GDA_SECRET_SOURCE_FILE;
    c.file_path = path;
    gda_secrets *s = NULL;
    gda_error err;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_keyring *ring = NULL;
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_OK);
    assert_string_equal(gda_keyring_id(ring, 0), "k1");
    gda_keyring_free(ring);
    assert_int_equal(gda_secrets_last_source(s), GDA_SECRET_SOURCE_FILE);
    unlink(path);
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_SECRETS_FILE");
    gda_secrets_free(s);

    memset(&c, 0, sizeof c);
    c.env_value = f->ring; /* auto with only a value: env */
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_OK);
    gda_keyring_free(ring);
    assert_int_equal(gda_secrets_last_source(s), GDA_SECRET_SOURCE_ENV);
    gda_secrets_free(s);
}

static void test_config_errors(void **state)
{
    (void)state;
    gda_secrets_config c;
    gda_secrets *s = NULL;
    gda_error err;
    unsetenv("GDA_SECRETS");
    unsetenv("GDA_SECRET_ID");
    unsetenv("GDA_SECRETS_FILE");
    setenv("GDA_SECRETS_SOURCE", "vault", 1);
    assert_int_equal(gda_secrets_config_from_env(&c, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_SECRETS_SOURCE");
    setenv("GDA_SECRETS_SOURCE", "auto", 1);
    setenv("GDA_SECRETS_EXTENSION_PORT", "70000", 1);
    assert_int_equal(gda_secrets_config_from_env(&c, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_SECRETS_EXTENSION_PORT");
    unsetenv("GDA_SECRETS_EXTENSION_PORT");
    setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2999", 1);
    assert_int_equal(gda_secrets_config_from_env(&c, &err), GDA_OK);
    assert_int_equal(c.extension_port, 2999);
    unsetenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT");
    /* Nothing configured: refused (deny by default, no open door). */
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_ERR_CONFIG);
    assert_null(s);
    c.source = GDA_SECRET_SOURCE_SECRETS_MANAGER;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_SECRET_ID");
    c.source = GDA_SECRET_SOURCE_FILE;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_ERR_CONFIG);
    c.source = GDA_SECRET_SOURCE_ENV;
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_ERR_CONFIG);
    setenv("GDA_SECRETS_TIMEOUT_MS", "0", 1);
    assert_int_equal(gda_secrets_config_from_env(&c, &err), GDA_ERR_CONFIG);
    unsetenv("GDA_SECRETS_TIMEOUT_MS");
    unsetenv("GDA_SECRETS_SOURCE");

    /* Secrets Manager without a region. */
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    memset(&c, 0, sizeof c);
    c.source = GDA_SECRET_SOURCE_SECRETS_MANAGER;
    c.secret_id = "x";
    assert_int_equal(gda_secrets_new(&c, &s, &err), GDA_OK);
    gda_keyring *ring = NULL;
    assert_int_equal(gda_secrets_fetch(s, NOW_MS, &ring, NULL, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "AWS_REGION");
    gda_secrets_free(s);
    setenv("AWS_REGION", "eu-west-1", 1);

    gda_secret_source src;
    assert_true(gda_secret_source_parse("secrets-manager", &src));
    assert_int_equal(src, GDA_SECRET_SOURCE_SECRETS_MANAGER);
    assert_false(gda_secret_source_parse("ssm", &src));
    assert_string_equal(gda_secret_source_str(GDA_SECRET_SOURCE_EXTENSION), "extension");
    gda_secrets_free(NULL);
}

static void test_options_and_error_types(void **state)
{
    (void)state;
    gda_lambda_options o = gda_lambda_options_default();
    gda_error err;
    setenv("GDA_MODE", "authorizer", 1);
    setenv("GDA_SECRET_REFRESH_S", "5", 1);
    assert_int_equal(gda_lambda_options_from_env(&o, &err), GDA_OK);
    assert_int_equal(o.mode, GDA_LAMBDA_AUTHORIZER);
    assert_int_equal(o.secret_refresh_ms, 5000);
    setenv("GDA_SECRET_REFRESH_S", "-1", 1);
    assert_int_equal(gda_lambda_options_from_env(&o, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_SECRET_REFRESH_S");
    unsetenv("GDA_SECRET_REFRESH_S");
    setenv("GDA_MODE", "both", 1);
    assert_int_equal(gda_lambda_options_from_env(&o, &err), GDA_ERR_CONFIG);
    unsetenv("GDA_MODE");
    setenv("GDA_LAMBDA_MAX_EVENT", "0", 1);
    assert_int_equal(gda_lambda_options_from_env(&o, &err), GDA_ERR_CONFIG);
    unsetenv("GDA_LAMBDA_MAX_EVENT");

    assert_string_equal(gda_lambda_error_type(GDA_ERR_UNAUTHORIZED), "Unauthorized");
    assert_string_equal(gda_lambda_error_type(GDA_ERR_INVALID_FIELD), "Invalid");
    assert_string_equal(gda_lambda_error_type(GDA_ERR_INVALID_JSON), "Invalid");
    assert_string_equal(gda_lambda_error_type(GDA_ERR_PAYLOAD_MISMATCH), "PayloadMismatch");
    assert_string_equal(gda_lambda_error_type(GDA_ERR_IN_PROGRESS), "Conflict");
    assert_string_equal(gda_lambda_error_type(GDA_ERR_UNAVAILABLE), "Retryable");
    assert_string_equal(gda_lambda_error_type(GDA_ERR_TIMEOUT), "Retryable");
    assert_string_equal(gda_lambda_error_type(GDA_OK), "");
    assert_string_equal(gda_lambda_mode_str(GDA_LAMBDA_AUTHORIZER), "authorizer");

    /* Run without a Runtime API address, or without what the mode needs. */
    unsetenv("AWS_LAMBDA_RUNTIME_API");
    assert_int_equal(gda_lambda_run(NULL, NULL, &err), GDA_ERR_CONFIG);
    o = gda_lambda_options_default();
    o.runtime_api = "127.0.0.1:9001";
    o.mode = GDA_LAMBDA_AUTHORIZER;
    assert_int_equal(gda_lambda_run(NULL, &o, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "verifier");
    o.mode = GDA_LAMBDA_DATA_ACTION;
    assert_int_equal(gda_lambda_run(NULL, &o, &err), GDA_ERR_CONFIG);
    assert_int_equal(gda_lambda_report_init_error(NULL, NULL, &err), GDA_ERR_CONFIG);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extension_fetch_and_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extension_wrong_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_wrapped_and_invalid_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secretsmanager_sigv4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secretsmanager_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_prefers_extension_then_secretsmanager, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_and_env_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test(test_options_and_error_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
