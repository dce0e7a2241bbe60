/* Tests for the shims' environment configuration (shims/common): every
 * variable, bad values naming the variable without echoing it, and deny by
 * default. The environment is a table passed through gda_env_overrides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <gda/gda.h>

#include <gda/env.h>
#include <gda/store_registry.h>

#define SECRET_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define RING "k1:" SECRET_B64
#define DATA_KEY_B64 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

#define MAX_VARS 24
typedef struct fake_env {
    const char *names[MAX_VARS];
    const char *values[MAX_VARS];
    size_t n;
} fake_env;

/* Whether scheme opens here once the built-in backends are registered. */
static bool built_in(const char *scheme)
{
    assert_int_equal(gda_env_register_stores(NULL), GDA_OK);
    return gda_store_scheme_registered(scheme);
}

static const char *fake_get(const char *name, void *user)
{
    fake_env *e = user;
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->names[i], name) == 0)
            return e->values[i];
    }
    return NULL;
}

static void set(fake_env *e, const char *name, const char *value)
{
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->names[i], name) == 0) {
            e->values[i] = value;
            return;
        }
    }
    assert_true(e->n < MAX_VARS);
    e->names[e->n] = name;
    e->values[e->n++] = value;
}

#define MAX_LINES 16
static char *lines[MAX_LINES];
static size_t n_lines;
static void sink(const char *line, size_t len, void *user)
{
    (void)user;
    if (n_lines < MAX_LINES)
        lines[n_lines++] = strndup(line, len);
}
static void clear_lines(void)
{
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    n_lines = 0;
}

static int runs;
static gda_status handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                          gda_error *err, void *user)
{
    (void)req, (void)ctx, (void)err, (void)user;
    runs++;
    *data_out = json_pack("{s:b}", "ok", 1);
    return GDA_OK;
}

static gda_status build(fake_env *e, gda_app **app, gda_error *err)
{
    gda_env_overrides o;
    memset(&o, 0, sizeof o);
    o.getenv = fake_get;
    o.getenv_user = e;
    o.log_sink = sink;
    return gda_env_app_new(handler, NULL, &o, app, err);
}

/* Building must fail with GDA_ERR_CONFIG naming var, without echoing value. */
static char err_last_message[GDA_ERROR_MESSAGE_SIZE];

static void expect_bad(fake_env *e, const char *var, const char *value)
{
    set(e, var, value);
    gda_app *app = (gda_app *)&app; /* must be reset to NULL */
    gda_error err;
    gda_status st = build(e, &app, &err);
    if (st != GDA_ERR_CONFIG)
        fail_msg("%s=%s: status %d, expected GDA_ERR_CONFIG", var, value, st);
    assert_null(app);
    assert_string_equal(err.field, var);
    assert_non_null(strstr(err.message, var));
    snprintf(err_last_message, sizeof err_last_message, "%s", err.message);
    if (strlen(value) >= 4 && strstr(err.message, value))
        fail_msg("%s: the message echoes the value: %s", var, err.message);
}

static fake_env base_env(void)
{
    fake_env e;
    memset(&e, 0, sizeof e);
    set(&e, "GDA_SECRETS", RING);
    return e;
}

/* POST a valid reference request, credential in header (NULL: none). */
static int post(gda_app *app, const char *header, const char *value, const char *path,
                size_t pad)
{
    char body[1024];
    int n = snprintf(body, sizeof body,
                     "{\"interactionId\":\"0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69\","
                     "\"requestId\":\"r-%d\",\"pad\":\"%*s\"}",
                     runs, (int)pad, "");
    gda_header h[2] = {{gda_slice_cstr("Content-Type"), gda_slice_cstr("application/json")},
                       {gda_slice_cstr(header), gda_slice_cstr(value)}};
    gda_http_request req = {0};
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_cstr("POST");
    req.path = gda_slice_cstr(path ? path : GDA_APP_DEFAULT_ROUTE);
    req.headers = h;
    req.n_headers = header ? 2 : 1;
    req.body = gda_slice_make(body, (size_t)n);
    gda_http_response resp = {0};
    gda_app_handle(app, &req, NULL, &resp);
    int status = resp.status;
    gda_http_response_release(&resp);
    return status;
}

/* A key ring fetched elsewhere becomes a verifier without passing through
 * the environment (gda_env_verifier_new), and the app takes it as given:
 * GDA_SECRETS is then not needed, GDA_AUTH still applies. */
static void test_given_ring_and_verifier(void **state)
{
    (void)state;
    fake_env e;
    memset(&e, 0, sizeof e);
    gda_env_overrides o;
    memset(&o, 0, sizeof o);
    o.getenv = fake_get;
    o.getenv_user = &e;
    o.log_sink = sink;
    gda_verifier *v = NULL;
    gda_error err;
    /* A bad entry names the variable the ring stands for, not its value. */
    assert_int_equal(gda_env_verifier_new("k1:not-base64!", 14, &o, &v, &err), GDA_ERR_CONFIG);
    assert_null(v);
    assert_string_equal(err.field, "GDA_SECRETS");
    assert_null(strstr(err.message, "not-base64!"));
    set(&e, "GDA_AUTH", "basic");
    assert_int_equal(gda_env_verifier_new(RING, strlen(RING), &o, &v, &err), GDA_OK);
    assert_int_equal(gda_verifier_scheme(v), GDA_AUTH_BASIC);
    gda_verifier_free(v);
    set(&e, "GDA_AUTH", "token");
    assert_int_equal(gda_env_verifier_new(RING, strlen(RING), &o, &v, &err), GDA_OK);
    assert_int_equal(gda_verifier_scheme(v), GDA_AUTH_TOKEN);
    /* NULL ring: the environment's, which is empty here. */
    gda_verifier *none = NULL;
    assert_int_equal(gda_env_verifier_new(NULL, 0, &o, &none, &err), GDA_ERR_CONFIG);
    assert_null(none);
    assert_string_equal(err.field, "GDA_SECRETS");
    assert_int_equal(gda_env_verifier_new(RING, strlen(RING), &o, NULL, &err), GDA_ERR_INTERNAL);

    o.verifier = v; /* the app's from here */
    gda_app *app = NULL;
    assert_int_equal(gda_env_app_new(handler, NULL, &o, &app, &err), GDA_OK);
    assert_ptr_equal(gda_app_verifier(app), v);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
    assert_int_equal(post(app, "X-Genesys-Signature", "AAAA", NULL, 0), 401);
    gda_app_free(app);

    /* Taken over on failure too (the sanitizer build sees a leak if not). */
    assert_int_equal(gda_env_verifier_new(RING, strlen(RING), &o, &o.verifier, &err), GDA_OK);
    set(&e, "GDA_TTL_S", "0");
    assert_int_equal(gda_env_app_new(handler, NULL, &o, &app, &err), GDA_ERR_CONFIG);
    assert_null(app);
    assert_int_equal(gda_env_verifier_new(RING, strlen(RING), &o, &o.verifier, &err), GDA_OK);
    assert_int_equal(gda_env_app_new(handler, NULL, &o, NULL, &err), GDA_ERR_INTERNAL);
    clear_lines();
}

static void test_defaults_token_and_deny(void **state)
{
    (void)state;
    /* Nothing set: deny by default, start-up fails. */
    fake_env e;
    memset(&e, 0, sizeof e);
    gda_app *app = NULL;
    gda_error err;
    assert_int_equal(build(&e, &app, &err), GDA_ERR_CONFIG);
    assert_null(app);
    assert_string_equal(err.field, "GDA_SECRETS");

    /* With a ring, the token scheme on X-Genesys-Signature. */
    e = base_env();
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_string_equal(gda_app_route(app), GDA_APP_DEFAULT_ROUTE);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
    assert_int_equal(post(app, "X-Genesys-Signature", "AAAA", NULL, 0), 401);
    assert_int_equal(post(app, NULL, NULL, NULL, 0), 401);
    assert_int_equal(gda_logger_level(gda_app_logger(app)), GDA_LOG_INFO);
    gda_app_free(app);
    clear_lines();

    /* An empty value counts as unset. */
    set(&e, "GDA_AUTH", "");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);

    assert_int_equal(gda_env_app_new(handler, NULL, NULL, NULL, &err), GDA_ERR_INTERNAL);
}

static void test_auth_variables(void **state)
{
    (void)state;
    fake_env e = base_env();
    expect_bad(&e, "GDA_AUTH", "none");
    expect_bad(&e, "GDA_AUTH", "NONE");
    expect_bad(&e, "GDA_AUTH", "kerberos");
    const char *ok[] = {"token", "hmac", "hmac-sha256", "jwt", "basic"};
    for (size_t i = 0; i < 5; i++) {
        set(&e, "GDA_AUTH", ok[i]);
        gda_app *app = NULL;
        gda_error err;
        assert_int_equal(build(&e, &app, &err), GDA_OK);
        gda_app_free(app);
    }
    set(&e, "GDA_AUTH", "token");

    /* Custom header. */
    set(&e, "GDA_AUTH_HEADER", "X-Api-Key");
    gda_app *app = NULL;
    gda_error err;
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_int_equal(post(app, "X-Api-Key", SECRET_B64, NULL, 0), 200);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 401);
    gda_app_free(app);
    expect_bad(&e, "GDA_AUTH_HEADER", "X-Key;timestamp=off");
    expect_bad(&e, "GDA_AUTH_HEADER", "Bad Header");
    set(&e, "GDA_AUTH_HEADER", NULL);

    /* Options pass through to the verifier; a bad one names the variable. */
    set(&e, "GDA_AUTH", "jwt");
    set(&e, "GDA_AUTH_OPTIONS", "iss=genesys;aud=dataaction");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    expect_bad(&e, "GDA_AUTH_OPTIONS", "frobnicate=yes");
    set(&e, "GDA_AUTH_OPTIONS", NULL);
    set(&e, "GDA_AUTH", "token");
    clear_lines();
}

static void test_secrets(void **state)
{
    (void)state;
    fake_env e = base_env();
    /* A bad ring names the variable and never shows the value. */
    expect_bad(&e, "GDA_SECRETS", "k1:@@@@not-base64@@@@");
    expect_bad(&e, "GDA_SECRETS", "justtext");
    set(&e, "GDA_SECRETS", RING);

    /* From a file (with a trailing newline, as editors write). */
    char path[] = "/tmp/gda-test-ring-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = RING ",k2:" SECRET_B64 "\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    fake_env f;
    memset(&f, 0, sizeof f);
    set(&f, "GDA_SECRETS_FILE", path);
    gda_app *app = NULL;
    gda_error err;
    clear_lines();
    assert_int_equal(build(&f, &app, &err), GDA_OK);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
    gda_app_free(app);
    /* mkstemp made it 0600: no warning. Readable by others: a WARN that
     * names the file, never a secret. */
    for (size_t i = 0; i < n_lines; i++)
        assert_null(strstr(lines[i], "can be read by group or others"));
    assert_int_equal(chmod(path, 0644), 0);
    clear_lines();
    assert_int_equal(build(&f, &app, &err), GDA_OK);
    gda_app_free(app);
    bool warned = false;
    for (size_t i = 0; i < n_lines; i++) {
        warned |= strstr(lines[i], "\"WARN\"") && strstr(lines[i], path) &&
                  strstr(lines[i], "mode 644");
        assert_null(strstr(lines[i], SECRET_B64));
    }
    assert_true(warned);

    /* Both at once is ambiguous. */
    set(&f, "GDA_SECRETS", RING);
    assert_int_equal(build(&f, &app, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_SECRETS");
    unlink(path);

    /* Missing, empty and directory files. */
    memset(&f, 0, sizeof f);
    expect_bad(&f, "GDA_SECRETS_FILE", "/nonexistent/gda/ring");
    expect_bad(&f, "GDA_SECRETS_FILE", "/tmp");
    snprintf(path, sizeof path, "/tmp/gda-test-ring-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    expect_bad(&f, "GDA_SECRETS_FILE", path); /* empty */
    unlink(path);
    clear_lines();
}

static void test_store_variable(void **state)
{
    (void)state;
    fake_env e = base_env();
    gda_app *app = NULL;
    gda_error err;
    set(&e, "GDA_STORE", "memory:10");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    expect_bad(&e, "GDA_STORE", "memory:0");
    expect_bad(&e, "GDA_STORE", "memory:x");
    expect_bad(&e, "GDA_STORE", "redis://localhost");
    expect_bad(&e, "GDA_STORE", "sqlite:");
    expect_bad(&e, "GDA_STORE", "dynamodb:");

    if (built_in("sqlite")) {
        char dir[] = "/tmp/gda-test-env-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char uri[128];
        snprintf(uri, sizeof uri, "sqlite:%s/idem.db", dir);
        set(&e, "GDA_STORE", uri);
        /* A durable store without a shared key for its hashes is refused:
         * each process would draw its own, and retries after a restart
         * would all be 422. */
        gda_status no_key = build(&e, &app, &err);
        assert_int_equal(no_key, GDA_ERR_CONFIG);
        assert_null(app);
        assert_string_equal(err.field, "GDA_HASH_KEY");
        assert_non_null(strstr(err.message, "GDA_DATA_KEY"));
        set(&e, "GDA_HASH_KEY", "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=");
        assert_int_equal(build(&e, &app, &err), GDA_OK);
        assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
        gda_app_free(app);
        char db[160];
        snprintf(db, sizeof db, "%s/idem.db", dir);
        assert_int_equal(access(db, F_OK), 0);
        /* Remove what SQLite wrote (WAL files included). */
        const char *suffix[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(db, sizeof db, "%s/idem.db%s", dir, suffix[i]);
            unlink(db);
        }
        rmdir(dir);
        /* A database that cannot be opened names GDA_STORE. */
        set(&e, "GDA_STORE", "sqlite:/nonexistent/dir/idem.db");
        assert_int_not_equal(build(&e, &app, &err), GDA_OK);
        assert_null(app);
        assert_string_equal(err.field, "GDA_STORE");
    } else {
        expect_bad(&e, "GDA_STORE", "sqlite:/tmp/x.db");
    }
    if (!built_in("dynamodb"))
        expect_bad(&e, "GDA_STORE", "dynamodb:table");
    assert_true(built_in("memory"));
    assert_false(built_in("redis"));
    assert_false(built_in(NULL));

    /* The opener on its own. */
    gda_store *s = gda_store_open_uri("memory", &err);
    assert_non_null(s);
    gda_store_close(s);
    assert_null(gda_store_open_uri(NULL, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_null(gda_store_open_uri("", &err));
    assert_null(gda_store_open_uri("memory:99999999999999999999", &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    clear_lines();
}

static void test_numbers(void **state)
{
    (void)state;
    const char *vars[] = {"GDA_TTL_S", "GDA_MAX_BODY", "GDA_LEASE_MS", "GDA_HANDLER_BUDGET_MS"};
    for (size_t i = 0; i < 4; i++) {
        fake_env e = base_env();
        expect_bad(&e, vars[i], "abc");
        expect_bad(&e, vars[i], "0");
        expect_bad(&e, vars[i], "-5");
        expect_bad(&e, vars[i], "12x");
        expect_bad(&e, vars[i], " 12");
        expect_bad(&e, vars[i], "99999999999999999999999");
        expect_bad(&e, vars[i], "1e3");
        set(&e, vars[i], "60");
        gda_app *app = NULL;
        gda_error err;
        assert_int_equal(build(&e, &app, &err), GDA_OK);
        gda_app_free(app);
    }
    fake_env e = base_env();
    expect_bad(&e, "GDA_IN_PROGRESS_WAIT_MS", "-1");
    expect_bad(&e, "GDA_IN_PROGRESS_WAIT_MS", "900001");
    expect_bad(&e, "GDA_MAX_BODY", "6291457"); /* over Lambda's 6 MiB */
    expect_bad(&e, "GDA_TTL_S", "31622401");
    set(&e, "GDA_MAX_BODY", NULL);
    set(&e, "GDA_IN_PROGRESS_WAIT_MS", "0");
    set(&e, "GDA_TTL_S", "31622400");
    gda_app *app = NULL;
    gda_error err;
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);

    /* GDA_MAX_BODY takes effect: 413 past it. */
    set(&e, "GDA_MAX_BODY", "200");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 200), 413);
    gda_app_free(app);
    clear_lines();
}

static void test_log_level_and_metrics(void **state)
{
    (void)state;
    fake_env e = base_env();
    gda_app *app = NULL;
    gda_error err;
    set(&e, "AWS_LAMBDA_LOG_LEVEL", "ERROR");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_int_equal(gda_logger_level(gda_app_logger(app)), GDA_LOG_ERROR);
    gda_app_free(app);
    set(&e, "GDA_LOG_LEVEL", "debug"); /* wins over Lambda's */
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_int_equal(gda_logger_level(gda_app_logger(app)), GDA_LOG_DEBUG);
    gda_app_free(app);
    expect_bad(&e, "GDA_LOG_LEVEL", "verbose");
    set(&e, "GDA_LOG_LEVEL", NULL);
    expect_bad(&e, "AWS_LAMBDA_LOG_LEVEL", "loud");
    set(&e, "AWS_LAMBDA_LOG_LEVEL", NULL);

    /* Namespace and service reach the EMF line; the function name is the
     * default service. */
    clear_lines();
    set(&e, "GDA_METRICS_NAMESPACE", "Acme/DataActions");
    set(&e, "AWS_LAMBDA_FUNCTION_NAME", "enrich-fn");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
    gda_app_free(app);
    bool seen = false;
    for (size_t i = 0; i < n_lines; i++) {
        if (strstr(lines[i], "\"_aws\"")) {
            assert_non_null(strstr(lines[i], "\"Namespace\":\"Acme/DataActions\""));
            assert_non_null(strstr(lines[i], "\"Service\":\"enrich-fn\""));
            seen = true;
        }
    }
    assert_true(seen);
    clear_lines();
    set(&e, "GDA_SERVICE", "enrichment");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
    gda_app_free(app);
    seen = false;
    for (size_t i = 0; i < n_lines; i++)
        seen |= strstr(lines[i], "\"Service\":\"enrichment\"") != NULL;
    assert_true(seen);
    char long_name[300];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    expect_bad(&e, "GDA_METRICS_NAMESPACE", long_name);
    set(&e, "GDA_METRICS_NAMESPACE", NULL);
    char huge[1100];
    memset(huge, 's', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    expect_bad(&e, "GDA_SERVICE", huge);
    clear_lines();
}

static void test_route_policy_direct_key(void **state)
{
    (void)state;
    fake_env e = base_env();
    gda_app *app = NULL;
    gda_error err;
    set(&e, "GDA_ROUTE", "/v2/enrich");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_string_equal(gda_app_route(app), "/v2/enrich");
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, "/v2/enrich", 0), 200);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 404);
    gda_app_free(app);
    expect_bad(&e, "GDA_ROUTE", "no-slash");
    expect_bad(&e, "GDA_ROUTE", "/trailing/");
    set(&e, "GDA_ROUTE", NULL);

    set(&e, "GDA_IN_PROGRESS", "conflict");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    set(&e, "GDA_IN_PROGRESS", "RETRY");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    expect_bad(&e, "GDA_IN_PROGRESS", "sometimes");
    set(&e, "GDA_IN_PROGRESS", NULL);

    set(&e, "GDA_PAYLOAD_HASH", "canonical");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    set(&e, "GDA_PAYLOAD_HASH", "RAW");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    expect_bad(&e, "GDA_PAYLOAD_HASH", "sha1");
    set(&e, "GDA_PAYLOAD_HASH", NULL);

    /* Direct invocations: verified by default (an API Gateway passthrough
     * integration also delivers bodies as direct events), trusted when told. */
    const char body[] = "{\"interactionId\":\"0b3c7a2e-5f4d-4c1b-9a8e-1f2d3c4b5a69\","
                        "\"requestId\":\"direct-1\"}";
    gda_http_request direct = {0};
    direct.kind = GDA_EVENT_DIRECT;
    direct.body = gda_slice_make(body, sizeof body - 1);
    gda_http_response resp = {0};
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_handle(app, &direct, NULL, &resp);
    assert_int_equal(resp.status, 401);
    gda_app_free(app);
    set(&e, "GDA_DIRECT_TRUSTED", "true");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_handle(app, &direct, NULL, &resp);
    assert_int_equal(resp.status, 200);
    gda_app_free(app);
    set(&e, "GDA_DIRECT_TRUSTED", "false");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_handle(app, &direct, NULL, &resp);
    assert_int_equal(resp.status, 401);
    gda_app_free(app);
    gda_http_response_release(&resp);
    expect_bad(&e, "GDA_DIRECT_TRUSTED", "maybe");
    set(&e, "GDA_DIRECT_TRUSTED", NULL);

    /* Data key: 32 bytes of base64, with or without padding. */
    set(&e, "GDA_DATA_KEY", DATA_KEY_B64);
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
    gda_app_free(app);
    set(&e, "GDA_DATA_KEY", "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    expect_bad(&e, "GDA_DATA_KEY", "AAECAwQFBgcICQoLDA0ODw=="); /* 16 bytes */
    expect_bad(&e, "GDA_DATA_KEY", "not base64 at all!!");
    expect_bad(&e, "GDA_DATA_KEY", DATA_KEY_B64 "AAAA");
    set(&e, "GDA_DATA_KEY", NULL);

    /* Hash key: the same form; the message names the variable, never the value. */
    set(&e, "GDA_HASH_KEY", DATA_KEY_B64);
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    expect_bad(&e, "GDA_HASH_KEY", "AAECAwQFBgcICQoLDA0ODw==");
    assert_null(strstr(err_last_message, "AAECAw"));
    set(&e, "GDA_HASH_KEY", NULL);
    expect_bad(&e, "GDA_HASH_KEY", DATA_KEY_B64 "=="); /* padding past what 32 bytes need */
    set(&e, "GDA_HASH_KEY", NULL);

    /* GDA_HASH_KEY_FILE / GDA_DATA_KEY_FILE: the same text in a file, a
     * trailing newline (or CRLF) allowed, padding optional; refused by
     * their own names, and never together with the variable. */
    char kdir[] = "/tmp/gda-test-env-key-XXXXXX";
    assert_non_null(mkdtemp(kdir));
    char kpath[96];
    snprintf(kpath, sizeof kpath, "%s/k", kdir);
    static const char *const good[] = {DATA_KEY_B64 "\n", DATA_KEY_B64 "\r\n",
                                       "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        FILE *fp = fopen(kpath, "w");
        assert_non_null(fp);
        fputs(good[i], fp);
        fclose(fp);
        set(&e, "GDA_HASH_KEY_FILE", kpath);
        if (build(&e, &app, &err) != GDA_OK) fail_msg("case %zu: %s: %s", i, err.field, err.message);
        gda_app_free(app);
        set(&e, "GDA_HASH_KEY_FILE", NULL);
        set(&e, "GDA_DATA_KEY_FILE", kpath);
        assert_int_equal(build(&e, &app, &err), GDA_OK);
        gda_app_free(app);
        set(&e, "GDA_DATA_KEY_FILE", NULL);
    }
    set(&e, "GDA_HASH_KEY", DATA_KEY_B64);
    set(&e, "GDA_HASH_KEY_FILE", kpath);
    assert_int_equal(build(&e, &app, &err), GDA_ERR_CONFIG);
    assert_null(app);
    assert_string_equal(err.field, "GDA_HASH_KEY");
    assert_string_equal(err.message, "set GDA_HASH_KEY or GDA_HASH_KEY_FILE, not both");
    set(&e, "GDA_HASH_KEY_FILE", NULL);
    set(&e, "GDA_HASH_KEY", NULL);
    FILE *fp = fopen(kpath, "w");
    assert_non_null(fp);
    fputs("AAECAwQFBgcICQoLDA0ODw==\n", fp);
    fclose(fp);
    expect_bad(&e, "GDA_HASH_KEY_FILE", kpath);
    assert_null(strstr(err_last_message, "AAECAw"));
    expect_bad(&e, "GDA_DATA_KEY_FILE", kpath);
    set(&e, "GDA_HASH_KEY_FILE", NULL);
    set(&e, "GDA_DATA_KEY_FILE", NULL);
    expect_bad(&e, "GDA_HASH_KEY_FILE", "/nonexistent/gda-key");
    expect_bad(&e, "GDA_HASH_KEY_FILE", kdir); /* a directory */
    set(&e, "GDA_HASH_KEY_FILE", NULL);
    unlink(kpath);
    rmdir(kdir);

    /* Clock skew allowance: 0 to 60000 ms. */
    set(&e, "GDA_CLOCK_SKEW_MS", "0");
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    gda_app_free(app);
    expect_bad(&e, "GDA_CLOCK_SKEW_MS", "60001");
    expect_bad(&e, "GDA_CLOCK_SKEW_MS", "-1");
    set(&e, "GDA_CLOCK_SKEW_MS", NULL);
    clear_lines();
}

/* GDA_DATA_KEYS over a SQLite file: the rotation procedure keeps every
 * replay (add the new key first), and a result whose key has gone is
 * absent: the handler runs again, logged and counted. */
static void test_data_key_ring(void **state)
{
    (void)state;
    if (!built_in("sqlite"))
        fail_msg("test_env needs the SQLite store (libsqlite3-dev)");
    fake_env e = base_env();
    gda_app *app = NULL;
    gda_error err;
    char dir[] = "/tmp/gda-test-ring-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char uri[128];
    snprintf(uri, sizeof uri, "sqlite:%s/idem.db", dir);
    set(&e, "GDA_STORE", uri);
#define KEY_D1 "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE="
#define KEY_D2 "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI="
    /* A ring without a fixed hash key is refused, naming the hash key. */
    set(&e, "GDA_DATA_KEYS", "d1:" KEY_D1);
    assert_int_equal(build(&e, &app, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_HASH_KEY");
    set(&e, "GDA_HASH_KEY", DATA_KEY_B64);

    static const char *const steps[] = {"d1:" KEY_D1, "d2:" KEY_D2 ",d1:" KEY_D1, "d2:" KEY_D2};
    static const int runs_after[] = {1, 0, 1}; /* run, replay, run again (d1 gone) */
    for (size_t i = 0; i < 3; i++) {
        set(&e, "GDA_DATA_KEYS", steps[i]);
        assert_int_equal(build(&e, &app, &err), GDA_OK);
        clear_lines();
        runs = 0; /* the same request every time: requestId r-0 */
        assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
        assert_int_equal(runs, runs_after[i]);
        bool missing_logged = false, missing_counted = false;
        for (size_t l = 0; l < n_lines; l++) {
            missing_logged |= strstr(lines[l], "\"dataKeyMissing\":true") != NULL;
            missing_counted |= strstr(lines[l], "\"DataKeyMissing\":1") != NULL;
        }
        assert_int_equal(missing_logged, i == 2);
        assert_int_equal(missing_counted, i == 2);
        gda_app_free(app);
    }
    /* Then the new result replays under d2. */
    assert_int_equal(build(&e, &app, &err), GDA_OK);
    runs = 0;
    assert_int_equal(post(app, "X-Genesys-Signature", SECRET_B64, NULL, 0), 200);
    assert_int_equal(runs, 0);
    gda_app_free(app);
    clear_lines();

    expect_bad(&e, "GDA_DATA_KEYS", "d1");
    expect_bad(&e, "GDA_DATA_KEYS", "d1:AAECAwQFBgcICQoLDA0ODw=="); /* 16 bytes */
    expect_bad(&e, "GDA_DATA_KEYS", "d1:" KEY_D1 ",d1:" KEY_D2);
    expect_bad(&e, "GDA_DATA_KEYS", "d1:" KEY_D1 ",");
    expect_bad(&e, "GDA_DATA_KEYS", "bad id:" KEY_D1);
    assert_null(strstr(err_last_message, KEY_D1));
    set(&e, "GDA_DATA_KEYS", "d1:" KEY_D1);
    set(&e, "GDA_DATA_KEY", DATA_KEY_B64); /* both: refused, named */
    assert_int_equal(build(&e, &app, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_DATA_KEYS");
    set(&e, "GDA_DATA_KEY", NULL);
    expect_bad(&e, "GDA_DATA_KEY_SOURCE", "vault");
    set(&e, "GDA_DATA_KEYS", NULL);
    set(&e, "GDA_DATA_KEY_SOURCE", "raw");
    assert_int_equal(build(&e, &app, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_DATA_KEYS");
#undef KEY_D1
#undef KEY_D2
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_overrides(void **state)
{
    (void)state;
    fake_env e = base_env();
    gda_env_overrides o;
    memset(&o, 0, sizeof o);
    o.getenv = fake_get;
    o.getenv_user = &e;
    o.log_sink = sink;
    o.default_store = "bogus:";
    gda_app *app = NULL;
    gda_error err;
    /* The shim's default store applies when GDA_STORE is unset. */
    assert_int_equal(gda_env_app_new(handler, NULL, &o, &app, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_STORE");
    o.default_store = "memory:5";
    /* A custom spec is taken over (also on failure: no leak under ASan). */
    o.spec = gda_spec_new();
    assert_int_equal(gda_env_app_new(handler, NULL, &o, &app, &err), GDA_OK);
    gda_app_free(app);
    o.spec = gda_spec_new();
    assert_int_equal(gda_env_app_new(NULL, NULL, &o, &app, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "handler");

    /* Many instances (Lambda): GDA_STORE must be chosen, whatever the
     * default; a memory store is served with a WARN that says why not. */
    o.spec = NULL;
    o.many_instances = true;
    assert_int_equal(gda_env_app_new(handler, NULL, &o, &app, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_STORE");
    assert_non_null(strstr(err.message, "dynamodb:TABLE"));
    set(&e, "GDA_STORE", "memory");
    clear_lines();
    assert_int_equal(gda_env_app_new(handler, NULL, &o, &app, &err), GDA_OK);
    bool warned = false;
    for (size_t i = 0; i < n_lines; i++)
        warned |= strstr(lines[i], "\"level\":\"WARN\"") && strstr(lines[i], "another instance");
    assert_true(warned);
    gda_app_free(app);
    clear_lines();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_token_and_deny),
        cmocka_unit_test(test_given_ring_and_verifier),
        cmocka_unit_test(test_auth_variables),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_store_variable),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_log_level_and_metrics),
        cmocka_unit_test(test_route_policy_direct_key),
        cmocka_unit_test(test_data_key_ring),
        cmocka_unit_test(test_overrides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
