/* Tests for lib/aws (aws_credentials, aws_retry, aws_client) against a
 * scripted loopback HTTP stand-in: SigV4 header shape and the session token
 * on the wire, backoff on throttling (attempts and sleeps counted through the
 * injected clock), 5xx and dropped connections, deadlines, connection reuse,
 * and configuration errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "aws_client.h"
#include "aws_credentials.h"
#include "aws_retry.h"
#include "http_standin.h"

#define THROTTLED "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\",\"message\":\"slow down\"}"
#define PROVISIONED "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\"}"
#define OK_BODY "{\"Item\":{}}"

/* ---- a virtual clock: sleeps advance it instead of blocking ------------- */

typedef struct fake_clock {
    int64_t now;
    unsigned sleeps;
    int64_t slept[64];
    int64_t slept_total;
} fake_clock;

static int64_t fake_now(void *user)
{
    return ((fake_clock *)user)->now;
}

static void fake_sleep(int64_t ms, void *user)
{
    fake_clock *c = user;
    if (c->sleeps < 64)
        c->slept[c->sleeps] = ms;
    c->sleeps++;
    c->slept_total += ms;
    c->now += ms;
}

static int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static gda_aws_client *client_for(const char *endpoint, fake_clock *clock, unsigned attempts,
                                  const char *token)
{
    gda_aws_credentials *creds = NULL;
    gda_error err;
    assert_int_equal(gda_aws_credentials_new("AKIDEXAMPLE000000001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                             token, &creds, &err),
                     GDA_OK);
    gda_aws_client_options o = gda_aws_client_options_default();
    o.service = "dynamodb";
    o.region = "eu-west-1";
    o.endpoint = endpoint;
    o.target_prefix = "DynamoDB_20120810";
    o.content_type = "application/x-amz-json-1.0";
    o.retry.max_attempts = attempts;
    o.retry.base_ms = 40;
    o.retry.cap_ms = 300;
    if (clock) {
        o.clock.now_ms = fake_now;
        o.clock.sleep_ms = fake_sleep;
        o.clock.user = clock;
    }
    gda_aws_client *c = gda_aws_client_new(&o, creds, &err);
    assert_non_null(c);
    return c;
}

/* ---- credentials -------------------------------------------------------- */

static void test_credentials_from_env(void **state)
{
    (void)state;
    gda_aws_credentials *creds = NULL;
    gda_error err;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret/with+chars", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    assert_int_equal(gda_aws_credentials_from_env(&creds, &err), GDA_OK);
    char *userpwd = gda_aws_credentials_userpwd(creds);
    assert_string_equal(userpwd, "AKIDENV:secret/with+chars");
    gda_aws_secret_free(userpwd);
    int nomem = 1;
    char *token = gda_aws_credentials_token_header(creds, &nomem);
    assert_int_equal(nomem, 0);
    assert_string_equal(token, "X-Amz-Security-Token: tok");
    gda_aws_secret_free(token);
    gda_aws_credentials_free(creds);

    /* No token: no header, and that is not an allocation failure. */
    unsetenv("AWS_SESSION_TOKEN");
    assert_int_equal(gda_aws_credentials_from_env(&creds, &err), GDA_OK);
    assert_null(gda_aws_credentials_token_header(creds, &nomem));
    assert_int_equal(nomem, 0);
    gda_aws_credentials_free(creds);

    /* Missing secret: a config error naming the variable, never a value. */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(gda_aws_credentials_from_env(&creds, &err), GDA_ERR_CONFIG);
    assert_null(creds);
    assert_string_equal(err.field, "AWS_SECRET_ACCESS_KEY");
    assert_null(strstr(err.message, "AKIDENV"));
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(gda_aws_credentials_from_env(&creds, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "AWS_ACCESS_KEY_ID");

    /* A key id with ':' would be split by libcurl. */
    assert_int_equal(gda_aws_credentials_new("AK:ID", "s", NULL, &creds, &err), GDA_ERR_CONFIG);
    assert_null(creds);
    gda_aws_credentials_free(NULL);
    gda_aws_secret_free(NULL);
}

static void test_region_from_env(void **state)
{
    (void)state;
    setenv("AWS_REGION", "eu-central-1", 1);
    setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
    assert_string_equal(gda_aws_region_from_env(), "eu-central-1");
    setenv("AWS_REGION", "", 1);
    assert_string_equal(gda_aws_region_from_env(), "us-west-2");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    assert_null(gda_aws_region_from_env());
}

/* ---- retry policy ------------------------------------------------------- */

static void test_backoff_ceiling_and_jitter(void **state)
{
    (void)state;
    gda_aws_retry_policy p = {.max_attempts = 5, .base_ms = 25, .cap_ms = 1000};
    assert_int_equal(gda_aws_backoff_ceiling_ms(&p, 0), 25);
    assert_int_equal(gda_aws_backoff_ceiling_ms(&p, 1), 50);
    assert_int_equal(gda_aws_backoff_ceiling_ms(&p, 3), 200);
    assert_int_equal(gda_aws_backoff_ceiling_ms(&p, 6), 1000);
    assert_int_equal(gda_aws_backoff_ceiling_ms(&p, 4000), 1000); /* no overflow */
    /* Full jitter: every value in [0, ceiling], and not all the same. */
    int64_t lo = INT64_MAX, hi = -1;
    for (int i = 0; i < 2000; i++) {
        int64_t b = gda_aws_backoff_ms(&p, 2);
        assert_true(b >= 0 && b <= 100);
        lo = b < lo ? b : lo;
        hi = b > hi ? b : hi;
    }
    assert_true(lo < 20 && hi > 80);
    gda_aws_retry_policy zero = {0};
    assert_int_equal(gda_aws_backoff_ms(&zero, 3), 0);
    gda_aws_retry_policy defaults;
    gda_aws_retry_policy_default(&defaults);
    assert_true(defaults.max_attempts > 1 && defaults.base_ms > 0 && defaults.cap_ms >= defaults.base_ms);
}

static void test_throttling_types(void **state)
{
    (void)state;
    assert_true(gda_aws_error_is_throttling("ThrottlingException"));
    assert_true(gda_aws_error_is_throttling("ProvisionedThroughputExceededException"));
    assert_true(gda_aws_error_is_throttling("RequestLimitExceeded"));
    assert_false(gda_aws_error_is_throttling("ConditionalCheckFailedException"));
    assert_false(gda_aws_error_is_throttling("ValidationException"));
    assert_false(gda_aws_error_is_throttling(""));
    assert_false(gda_aws_error_is_throttling(NULL));
}

/* ---- the client on the wire --------------------------------------------- */

static bool is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

static void test_sigv4_headers_and_token(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 200, OK_BODY}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    gda_aws_client *c = client_for(standin_endpoint(s), NULL, 3, "session-token-value");
    gda_aws_response resp;
    gda_error err;
    const char *body = "{\"TableName\":\"t\"}";
    assert_int_equal(gda_aws_json_call(c, "GetItem", body, strlen(body), 0, &resp, &err), GDA_OK);
    assert_int_equal(resp.http_status, 200);
    assert_string_equal(resp.body, OK_BODY);
    assert_string_equal(resp.error_type, "");
    assert_int_equal(resp.attempts, 1);
    assert_false(resp.ambiguous);
    gda_aws_response_clear(&resp);

    char v[1024];
    assert_true(standin_header(s, 0, "X-Amz-Target", v, sizeof v));
    assert_string_equal(v, "DynamoDB_20120810.GetItem");
    assert_true(standin_header(s, 0, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/x-amz-json-1.0");
    assert_true(standin_header(s, 0, "X-Amz-Security-Token", v, sizeof v));
    assert_string_equal(v, "session-token-value");
    assert_true(standin_header(s, 0, "X-Amz-Date", v, sizeof v));
    assert_int_equal(strlen(v), 16); /* 20261124T165727Z */
    assert_int_equal(v[8], 'T');
    assert_false(standin_header(s, 0, "Expect", v, sizeof v));
    assert_true(standin_body(s, 0, v, sizeof v));
    assert_string_equal(v, body);

    /* Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request,
     * SignedHeaders=<...;host;...;x-amz-security-token;...>, Signature=<64 hex> */
    assert_true(standin_header(s, 0, "Authorization", v, sizeof v));
    const char *prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE000000001/";
    assert_memory_equal(v, prefix, strlen(prefix));
    assert_non_null(strstr(v, "/eu-west-1/dynamodb/aws4_request, SignedHeaders="));
    const char *signed_headers = strstr(v, "SignedHeaders=");
    assert_non_null(strstr(signed_headers, "host"));
    assert_non_null(strstr(signed_headers, "x-amz-date"));
    assert_non_null(strstr(signed_headers, "x-amz-security-token"));
    assert_non_null(strstr(signed_headers, "x-amz-target"));
    const char *sig = strstr(v, "Signature=");
    assert_non_null(sig);
    sig += strlen("Signature=");
    assert_int_equal(strlen(sig), 64);
    assert_true(is_lower_hex(sig, 64));
    /* The secret itself never travels. */
    assert_null(strstr(v, "wJalrXUtnFEMI"));

    gda_aws_client_free(c);
    standin_stop(s);
}

static void test_throttling_backs_off_then_succeeds(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 400, THROTTLED}, {0, 400, PROVISIONED}, {0, 400, THROTTLED},
                              {0, 200, OK_BODY}};
    http_standin *s = standin_start(script, 4);
    assert_non_null(s);
    fake_clock clock = {.now = real_now_ms()};
    gda_aws_client *c = client_for(standin_endpoint(s), &clock, 8, NULL);
    gda_aws_response resp;
    gda_error err;
    assert_int_equal(gda_aws_json_call(c, "PutItem", "{}", 2, clock.now + 10000, &resp, &err),
                     GDA_OK);
    assert_int_equal(resp.http_status, 200);
    assert_int_equal(resp.attempts, 4);
    /* Throttled requests were not applied: nothing ambiguous. */
    assert_false(resp.ambiguous);
    gda_aws_response_clear(&resp);
    assert_int_equal(standin_requests(s), 4);
    /* One sleep before each retry, each within its full-jitter ceiling
     * (40, 80, 160 ms). */
    assert_int_equal(clock.sleeps, 3);
    assert_true(clock.slept[0] >= 0 && clock.slept[0] <= 40);
    assert_true(clock.slept[1] >= 0 && clock.slept[1] <= 80);
    assert_true(clock.slept[2] >= 0 && clock.slept[2] <= 160);
    /* No session token configured: no header. */
    char v[256];
    assert_false(standin_header(s, 0, "X-Amz-Security-Token", v, sizeof v));

    gda_aws_client_stats st;
    gda_aws_client_stats_get(c, &st);
    assert_int_equal(st.calls, 1);
    assert_int_equal(st.attempts, 4);
    assert_int_equal(st.retries, 3);
    assert_int_equal(st.connections, 1); /* kept alive across the retries */
    assert_int_equal(standin_connections(s), 1);
    gda_aws_client_free(c);
    standin_stop(s);
}

static void test_throttling_gives_up_after_max_attempts(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 400, THROTTLED}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    fake_clock clock = {.now = real_now_ms()};
    gda_aws_client *c = client_for(standin_endpoint(s), &clock, 3, NULL);
    gda_aws_response resp;
    gda_error err;
    assert_int_equal(gda_aws_json_call(c, "PutItem", "{}", 2, clock.now + 10000, &resp, &err),
                     GDA_ERR_UNAVAILABLE);
    assert_int_equal(err.code, GDA_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "ThrottlingException"));
    assert_non_null(strstr(err.message, "3 attempts"));
    assert_int_equal(resp.attempts, 3);
    assert_string_equal(resp.error_type, "ThrottlingException");
    gda_aws_response_clear(&resp);
    assert_int_equal(standin_requests(s), 3);
    assert_int_equal(clock.sleeps, 2);
    gda_aws_client_free(c);
    standin_stop(s);
}

static void test_backoff_never_sleeps_past_deadline(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 503, "{}"}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    fake_clock clock = {.now = real_now_ms()};
    gda_aws_client *c = client_for(standin_endpoint(s), &clock, 1000, NULL);
    int64_t start = clock.now;
    gda_aws_response resp;
    gda_error err;
    assert_int_equal(gda_aws_json_call(c, "GetItem", "{}", 2, start + 500, &resp, &err),
                     GDA_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "deadline"));
    assert_int_equal(resp.http_status, 503);
    assert_true(resp.ambiguous); /* a 5xx may hide an applied write */
    /* It stopped because the deadline was near, not for lack of attempts,
     * and the sleeps never reached the deadline. */
    assert_true(resp.attempts > 2 && resp.attempts < 1000);
    assert_true(clock.slept_total < 500);
    assert_int_equal(clock.sleeps, resp.attempts - 1);
    gda_aws_response_clear(&resp);
    gda_aws_client_free(c);
    standin_stop(s);
}

static void test_deadline_already_passed(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 200, OK_BODY}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    fake_clock clock = {.now = real_now_ms()};
    gda_aws_client *c = client_for(standin_endpoint(s), &clock, 3, NULL);
    gda_aws_response resp;
    gda_error err;
    assert_int_equal(gda_aws_json_call(c, "GetItem", "{}", 2, clock.now - 1, &resp, &err),
                     GDA_ERR_TIMEOUT);
    assert_int_equal(standin_requests(s), 0);
    gda_aws_response_clear(&resp);
    gda_aws_client_free(c);
    standin_stop(s);
}

static void test_slow_server_times_out_at_deadline(void **state)
{
    (void)state;
    standin_reply script[] = {{3000, 200, OK_BODY}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    gda_aws_client *c = client_for(standin_endpoint(s), NULL, 5, NULL);
    gda_aws_response resp;
    gda_error err;
    int64_t start = real_now_ms();
    assert_int_equal(gda_aws_json_call(c, "GetItem", "{}", 2, start + 400, &resp, &err),
                     GDA_ERR_TIMEOUT);
    int64_t took = real_now_ms() - start;
    assert_true(took >= 350 && took < 1500);
    assert_int_equal(resp.attempts, 1); /* no retry after the deadline */
    gda_aws_response_clear(&resp);
    gda_aws_client_free(c);
    standin_stop(s);
}

static void test_5xx_and_dropped_connection_are_retried(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 500, "{\"__type\":\"InternalServerError\"}"},
                              {0, 0, NULL},
                              {0, 200, OK_BODY}};
    http_standin *s = standin_start(script, 3);
    assert_non_null(s);
    fake_clock clock = {.now = real_now_ms()};
    gda_aws_client *c = client_for(standin_endpoint(s), &clock, 5, NULL);
    gda_aws_response resp;
    gda_error err;
    assert_int_equal(gda_aws_json_call(c, "UpdateItem", "{}", 2, clock.now + 5000, &resp, &err),
                     GDA_OK);
    assert_int_equal(resp.http_status, 200);
    assert_true(resp.ambiguous);
    /* The server saw three requests. libcurl itself resends a request whose
     * reused connection died without an answer, so the client may count the
     * drop and the resend as one attempt. */
    assert_int_equal(standin_requests(s), 3);
    assert_true(resp.attempts == 2 || resp.attempts == 3);
    assert_int_equal(clock.sleeps, resp.attempts - 1);
    gda_aws_response_clear(&resp);
    /* The dropped connection was replaced by a new one. */
    assert_int_equal(standin_connections(s), 2);
    gda_aws_client_free(c);
    standin_stop(s);
}

static void test_non_retryable_error_is_returned(void **state)
{
    (void)state;
    standin_reply script[] = {
        {0, 400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"x\"}"}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    fake_clock clock = {.now = real_now_ms()};
    gda_aws_client *c = client_for(standin_endpoint(s), &clock, 5, NULL);
    gda_aws_response resp;
    gda_error err;
    assert_int_equal(gda_aws_json_call(c, "PutItem", "{}", 2, 0, &resp, &err), GDA_OK);
    assert_int_equal(resp.http_status, 400);
    assert_string_equal(resp.error_type, "ValidationException");
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(clock.sleeps, 0);
    gda_aws_response_clear(&resp);
    gda_aws_client_free(c);
    standin_stop(s);
}

static void test_connection_refused_is_retried_and_not_ambiguous(void **state)
{
    (void)state;
    /* A port that was free a moment ago: nothing listens there. */
    standin_reply script[] = {{0, 200, OK_BODY}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "%s", standin_endpoint(s));
    standin_stop(s);
    fake_clock clock = {.now = real_now_ms()};
    gda_aws_client *c = client_for(endpoint, &clock, 4, NULL);
    gda_aws_response resp;
    gda_error err;
    assert_int_equal(gda_aws_json_call(c, "PutItem", "{}", 2, clock.now + 5000, &resp, &err),
                     GDA_ERR_UNAVAILABLE);
    assert_int_equal(resp.attempts, 4);
    assert_int_equal(resp.http_status, 0);
    assert_false(resp.ambiguous);
    assert_int_equal(clock.sleeps, 3);
    gda_aws_response_clear(&resp);
    gda_aws_client_free(c);
}

static void test_client_configuration_errors(void **state)
{
    (void)state;
    gda_aws_credentials *creds = NULL;
    gda_error err;
    assert_int_equal(gda_aws_credentials_new("AKID", "secret", NULL, &creds, &err), GDA_OK);
    gda_aws_client_options o = gda_aws_client_options_default();
    o.service = "dynamodb";
    o.endpoint = "http://127.0.0.1:9";
    o.target_prefix = "DynamoDB_20120810";
    o.content_type = "application/x-amz-json-1.0";
    assert_null(gda_aws_client_new(&o, creds, &err)); /* no region */
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    o.region = "us-east-1";
    o.endpoint = "ftp://example";
    assert_null(gda_aws_client_new(&o, creds, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    o.endpoint = "http://127.0.0.1:9";
    o.retry.max_attempts = 0;
    assert_null(gda_aws_client_new(&o, creds, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_null(gda_aws_client_new(NULL, creds, &err));
    assert_int_equal(err.code, GDA_ERR_INTERNAL);
    /* Failed creations leave the credentials with the caller. */
    gda_aws_credentials_free(creds);
    gda_aws_client_free(NULL);
    gda_aws_response_clear(NULL);
}

/* HTTPS from a Lambda zip: the CA bundle is found on Amazon Linux's path,
 * not only at the Debian path libcurl was built with. */
static void test_ca_bundle_selection(void **state)
{
    (void)state;
    char dir[] = "/tmp/gda-ca-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[64];
    snprintf(file, sizeof file, "%s/bundle.pem", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", f);
    fclose(f);

    setenv("GDA_CA_BUNDLE", "/explicit/ca.pem", 1);
    setenv("SSL_CERT_FILE", file, 1);
    assert_string_equal(gda_aws_ca_bundle_path(), "/explicit/ca.pem");
    unsetenv("GDA_CA_BUNDLE");
    assert_string_equal(gda_aws_ca_bundle_path(), file);
    /* An SSL_CERT_FILE that does not exist falls through to the system paths. */
    setenv("SSL_CERT_FILE", "/nonexistent/ca.pem", 1);
    const char *sys = gda_aws_ca_bundle_path();
    if (sys) {
        assert_true(strcmp(sys, "/etc/pki/tls/certs/ca-bundle.crt") == 0 ||
                    strcmp(sys, "/etc/ssl/certs/ca-certificates.crt") == 0);
        assert_int_equal(access(sys, R_OK), 0);
    }
    unsetenv("SSL_CERT_FILE");
    remove(file);
    rmdir(dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_from_env),
        cmocka_unit_test(test_region_from_env),
        cmocka_unit_test(test_backoff_ceiling_and_jitter),
        cmocka_unit_test(test_throttling_types),
        cmocka_unit_test(test_sigv4_headers_and_token),
        cmocka_unit_test(test_throttling_backs_off_then_succeeds),
        cmocka_unit_test(test_throttling_gives_up_after_max_attempts),
        cmocka_unit_test(test_backoff_never_sleeps_past_deadline),
        cmocka_unit_test(test_deadline_already_passed),
        cmocka_unit_test(test_slow_server_times_out_at_deadline),
        cmocka_unit_test(test_5xx_and_dropped_connection_are_retried),
        cmocka_unit_test(test_non_retryable_error_is_returned),
        cmocka_unit_test(test_connection_refused_is_retried_and_not_ambiguous),
        cmocka_unit_test(test_client_configuration_errors),
        cmocka_unit_test(test_ca_bundle_selection),
    };
    return cmocka_run_group_tests_name("aws_client", tests, NULL, NULL);
}
