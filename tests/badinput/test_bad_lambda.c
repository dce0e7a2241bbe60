/* Bad-input corpus, front door 3: the Lambda bootstrap through the Runtime
 * API stand-in (tests/lambda/runtime_standin.c).
 *
 * Two bootstrap-test processes (the production runtime loop around
 * tests/lambda/handler_test.c, which writes each execution to the
 * GDA_TEST_LEDGER file) share one SQLite store and one stand-in, so a case
 * can arrive while its prior request is still running in the other process,
 * as two Lambda containers would see it.
 *
 * Two doors, each with fresh processes and a fresh store:
 *   lambda_rest    every case wrapped into an API Gateway REST proxy event
 *                  (headers in "headers" and, in order, in
 *                  "multiValueHeaders"; the body base64-encoded when it is
 *                  not UTF-8 a JSON string can carry, or as the case says);
 *                  the answer is the encoded response, or an invocation
 *                  error when the event itself is refused;
 *   lambda_direct  the body is the event (Genesys' Lambda data-action
 *                  integration); every non-2xx outcome must come back as an
 *                  invocation error whose errorType names the class.
 *
 * Usage (from meson): test_bad_lambda <path to bootstrap-test>
 */
#include <errno.h>
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

#include "bad_case.h"
#include "harness.h"
#include "runtime_standin.h"

#define RUNTIMES 2

static const char *bootstrap_bin;
static char tmpdir[64];

typedef struct fixture {
    int door;
    rapi *r;
    pid_t pids[RUNTIMES];
    char db[160];
    char ledger[160];
    char log[160];
} fixture;

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool fixture_start(fixture *f, int door)
{
    memset(f, 0, sizeof *f);
    f->door = door;
    snprintf(f->db, sizeof f->db, "%s/%s.db", tmpdir, bad_door_name(door));
    snprintf(f->ledger, sizeof f->ledger, "%s/%s.ledger", tmpdir, bad_door_name(door));
    snprintf(f->log, sizeof f->log, "%s/%s.log", tmpdir, bad_door_name(door));
    f->r = rapi_start(NULL);
    if (!f->r)
        return false;
    static char store_env[200], ledger_env[200];
    snprintf(store_env, sizeof store_env, "GDA_STORE=sqlite:%s", f->db);
    snprintf(ledger_env, sizeof ledger_env, "GDA_TEST_LEDGER=%s", f->ledger);
    const char *env[] = {"GDA_AUTH=token", "GDA_SECRETS=" BAD_KEYRING, store_env, ledger_env,
                         "GDA_LOG_LEVEL=ERROR",
                         /* shared by both runtimes: the payload hash and the
                          * principal digests must agree across them */
                         "GDA_DATA_KEY=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", NULL};
    /* One after the other: the first creates the database schema. A runtime
     * is up when it has asked for work. */
    for (int i = 0; i < RUNTIMES; i++) {
        f->pids[i] = harness_spawn(bootstrap_bin, rapi_address(f->r), env, f->log, NULL);
        if (f->pids[i] <= 0 || !rapi_wait_nexts(f->r, (uint64_t)i + 1, 15000))
            return false;
    }
    return true;
}

static void dump_log(const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[1024];
    while (fp && fgets(line, sizeof line, fp))
        fprintf(stderr, "  | %s", line);
    if (fp)
        fclose(fp);
}

static bool fixture_stop(fixture *f)
{
    bool clean = true;
    for (int i = 0; i < RUNTIMES; i++) {
        if (f->pids[i] <= 0) {
            clean = false;
            continue;
        }
        kill(f->pids[i], SIGTERM);
        int status = 0;
        if (!harness_wait(f->pids[i], 5000, &status) || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            clean = false;
        f->pids[i] = -1;
    }
    rapi_stop(f->r);
    if (!clean)
        fprintf(stderr, "a bootstrap did not stop cleanly\n");
    return clean;
}

static json_t *header_object(const bad_header *h, size_t nh, bool multi)
{
    json_t *o = json_object();
    for (size_t i = 0; i < nh; i++) {
        char *name = strndup(h[i].name, h[i].name_len);
        json_t *v = json_stringn_nocheck(h[i].value, h[i].value_len);
        if (!multi) {
            json_object_set_new(o, name, v); /* the last value wins, as in API Gateway */
        } else {
            json_t *arr = json_object_get(o, name);
            if (!arr) {
                arr = json_array();
                json_object_set_new(o, name, arr);
            }
            json_array_append_new(arr, v);
        }
        free(name);
    }
    return o;
}

static bool is_json_text(const char *s, size_t n)
{
    if (memchr(s, '\0', n))
        return false;
    json_t *probe = json_stringn(s, n); /* NULL when not valid UTF-8 */
    json_decref(probe);
    return probe != NULL;
}

static char *rest_event(const bad_case *c, const bad_header *h, size_t nh, const char *body,
                        size_t len, size_t *out_len)
{
    const bad_door *d = &c->doors[BAD_DOOR_REST];
    bool b64 = d->base64 >= 0 ? d->base64 == 1 : !is_json_text(body, len);
    json_t *jbody;
    if (d->event_body) {
        jbody = json_string(d->event_body);
    } else if (b64) {
        size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
        char *enc = malloc(size);
        if (!enc)
            return NULL;
        sodium_bin2base64(enc, size, (const unsigned char *)body, len,
                          sodium_base64_VARIANT_ORIGINAL);
        jbody = json_string(enc);
        free(enc);
    } else {
        jbody = json_stringn(body, len);
    }
    json_t *ev = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:n, s:n, s:n, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}}, s:o, s:b}",
        "resource", BAD_ROUTE, "path", BAD_ROUTE, "httpMethod", "POST", "headers",
        header_object(h, nh, false), "multiValueHeaders", header_object(h, nh, true),
        "queryStringParameters", "pathParameters", "stageVariables", "requestContext",
        "resourcePath", BAD_ROUTE, "httpMethod", "POST", "path", "/prod" BAD_ROUTE, "stage",
        "prod", "accountId", "123456789012", "requestId", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "identity", "sourceIp", "52.18.40.12", "body", jbody, "isBase64Encoded", b64);
    if (!ev)
        return NULL;
    char *text = json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(ev);
    if (text)
        *out_len = strlen(text);
    return text;
}

static bool lambda_send(void *user, const bad_case *c, const bad_header *h, size_t nh,
                        const char *body, size_t len, bad_answer *out, char *why,
                        size_t why_size)
{
    fixture *f = user;
    char *event = NULL;
    size_t event_len = len;
    if (f->door == BAD_DOOR_REST) {
        event = rest_event(c, h, nh, body, len, &event_len);
        if (!event) {
            snprintf(why, why_size, "cannot build the REST event");
            return false;
        }
    }
    uint64_t i = rapi_push(f->r, event ? event : body, event_len, 30000, NULL);
    free(event);
    rapi_result res;
    memset(&res, 0, sizeof res);
    bool done = false;
    for (int t = 0; t < 3000 && !done; t++) {
        rapi_result_clear(&res);
        done = rapi_get(f->r, i, &res) && res.kind != RAPI_PENDING;
        if (!done)
            nap_ms(10);
    }
    if (!done) {
        rapi_result_clear(&res);
        snprintf(why, why_size, "invocation %llu got no answer in 30 s (log %s)",
                 (unsigned long long)i, f->log);
        return false;
    }
    memset(out, 0, sizeof *out);
    json_t *doc = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
    bool ok = true;
    if (res.kind == RAPI_ERROR) {
        /* errorMessage holds the same JSON error object the HTTP paths
         * return; its code decides the status the other doors show. */
        out->delivery_error = true;
        snprintf(out->error_type, sizeof out->error_type, "%s", res.error_type);
        const char *msg = json_string_value(json_object_get(doc, "errorMessage"));
        json_t *err_obj = msg ? json_loads(msg, 0, NULL) : NULL;
        const char *code = json_string_value(json_object_get(json_object_get(err_obj, "error"), "code"));
        json_t *jt = json_object_get(doc, "errorType");
        if (!err_obj || !code || !json_is_string(jt) || strcmp(json_string_value(jt), res.error_type) != 0) {
            ok = false;
            snprintf(why, why_size, "invocation error without a JSON error object or with "
                                    "mismatched types: %.300s", res.body ? res.body : "");
        } else {
            out->status = json_is_true(json_object_get(err_obj, "requiresRetry")) ? 503 : 400;
            /* The exact status is the one the code maps to. */
            static const struct {
                const char *code;
                int status;
            } map[] = {{"unauthorized", 401}, {"payload_too_large", 413},
                       {"unsupported_media_type", 415}, {"idempotency_key_reused", 422},
                       {"unprocessable", 422}, {"in_progress", 409}, {"not_found", 404},
                       {"method_not_allowed", 405}, {"timeout", 504}, {"internal_error", 500}};
            for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
                if (strcmp(code, map[k].code) == 0)
                    out->status = map[k].status;
            out->body = strdup(msg);
            out->len = strlen(msg);
        }
        json_decref(err_obj);
    } else if (f->door == BAD_DOOR_DIRECT) {
        out->status = 200; /* a direct invocation's response is the success body */
        out->body = strndup(res.body ? res.body : "", res.body_len);
        out->len = res.body_len;
    } else {
        json_t *sc = json_object_get(doc, "statusCode");
        const char *b = json_string_value(json_object_get(doc, "body"));
        if (!json_is_integer(sc) || !b) {
            ok = false;
            snprintf(why, why_size, "response is no API Gateway proxy result: %.300s",
                     res.body ? res.body : "");
        } else {
            out->status = (int)json_integer_value(sc);
            out->body = strdup(b);
            out->len = strlen(b);
        }
    }
    json_decref(doc);
    rapi_result_clear(&res);
    return ok;
}

static bool lambda_alive(void *user, char *why, size_t why_size)
{
    fixture *f = user;
    for (int i = 0; i < RUNTIMES; i++) {
        int status;
        if (f->pids[i] > 0 && waitpid(f->pids[i], &status, WNOHANG) == f->pids[i]) {
            f->pids[i] = -1;
            snprintf(why, why_size, "bootstrap %d died (%s %d); log in %s", i,
                     WIFSIGNALED(status) ? "signal" : "exit",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), f->log);
            return false;
        }
    }
    return true;
}

static void run_door(int door)
{
    bad_case *cases = NULL;
    size_t n = 0;
    char why[512];
    if (!bad_cases_load(&cases, &n, why, sizeof why))
        fail_msg("corpus: %s", why);
    fixture f;
    if (!fixture_start(&f, door)) {
        fixture_stop(&f);
        bad_cases_free(cases, n);
        dump_log(f.log);
        fail_msg("the bootstraps did not start");
    }
    bad_door_ops ops = {.door = door, .user = &f, .send = lambda_send, .alive = lambda_alive,
                        .ledger_path = f.ledger, .db_path = f.db};
    size_t failed = bad_run_door(&ops, cases, n);
    bool clean = fixture_stop(&f);
    bad_cases_free(cases, n);
    assert_int_equal(failed, 0);
    assert_true(clean);
}

static void test_corpus_as_rest_events(void **state)
{
    (void)state;
    run_door(BAD_DOOR_REST);
}

static void test_corpus_as_direct_invocations(void **state)
{
    (void)state;
    run_door(BAD_DOOR_DIRECT);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gda-bad-lambda-XXXXXX");
    return mkdtemp(tmpdir) && sodium_init() >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || access(argv[1], X_OK) != 0) {
        fprintf(stderr, "usage: %s <bootstrap-test> (build it with ninja first)\n", argv[0]);
        return 1;
    }
    bootstrap_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_as_rest_events),
        cmocka_unit_test(test_corpus_as_direct_invocations),
    };
    return cmocka_run_group_tests_name("bad input: Lambda bootstrap", tests, setup, teardown);
}
