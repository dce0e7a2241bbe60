/* Bad-input corpus, front door 1: gda_app_handle called directly.
 *
 * The app is configured the way both shims configure it (gda_env_app_new,
 * token scheme, the corpus key ring, a SQLite store in a fresh temporary
 * file), around a handler that appends each execution to a ledger file and
 * honours testMode "slow" (for the in-progress case). Each case becomes a
 * gda_http_request of kind GDA_EVENT_HTTP carrying its headers exactly as
 * written (CR/LF and NUL included: the app must not trust header bytes any
 * more than a shim does).
 */
#include <errno.h>
#include <fcntl.h>
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

#include <gda/app.h>
#include <gda/request.h>

#include "bad_case.h"
#include <gda/env.h>

static char tmpdir[64];
static char db_path[128];
static char ledger_path[128];
static char store_uri[160];
static int ledger_fd = -1;

static const char *table_env(const char *name, void *user)
{
    (void)user;
    if (strcmp(name, "GDA_AUTH") == 0)
        return "token";
    if (strcmp(name, "GDA_SECRETS") == 0)
        return BAD_KEYRING;
    if (strcmp(name, "GDA_STORE") == 0)
        return store_uri;
    if (strcmp(name, "GDA_LOG_LEVEL") == 0)
        return "error";
    if (strcmp(name, "GDA_HASH_KEY") == 0)
        return "YmFkLWlucHV0LWNvcnB1cy1oYXNoLWtleS0zMmJ5dGU=";
    return NULL;
}

static gda_status ledger_handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                                 gda_error *err, void *user)
{
    (void)user;
    const char *id = gda_ctx_request_id(ctx);
    char line[GDA_KEY_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", id);
    if (n > 0 && (size_t)n < sizeof line && write(ledger_fd, line, (size_t)n) != n)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "ledger write failed");
    const char *mode = gda_request_string(req, "testMode");
    if (mode && strcmp(mode, "slow") == 0) {
        int64_t ms = 1000;
        gda_request_int(req, "testSleepMs", &ms);
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    *data_out = json_pack("{s:b}", "handled", 1);
    return *data_out ? GDA_OK : gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
}

static bool app_send(void *user, const bad_case *c, const bad_header *h, size_t nh,
                     const char *body, size_t len, bad_answer *out, char *why, size_t why_size)
{
    (void)c;
    gda_app *app = user;
    gda_header *headers = calloc(nh ? nh : 1, sizeof *headers);
    if (!headers) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    for (size_t i = 0; i < nh; i++) {
        headers[i].name = gda_slice_make(h[i].name, h[i].name_len);
        headers[i].value = gda_slice_make(h[i].value, h[i].value_len);
    }
    gda_http_request req;
    memset(&req, 0, sizeof req);
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_make("POST", 4);
    req.path = gda_slice_make(BAD_ROUTE, strlen(BAD_ROUTE));
    req.source_ip = gda_slice_make("127.0.0.1", 9);
    req.headers = headers;
    req.n_headers = nh;
    req.body = gda_slice_make(body, len);
    gda_http_response resp;
    memset(&resp, 0, sizeof resp);
    gda_status st = gda_app_handle(app, &req, NULL, &resp);
    free(headers);
    if (!resp.status) {
        snprintf(why, why_size, "gda_app_handle gave no response (%s)", gda_status_str(st));
        return false;
    }
    memset(out, 0, sizeof *out);
    out->status = resp.status;
    out->len = resp.body_len;
    out->body = malloc(resp.body_len + 1);
    if (out->body) {
        memcpy(out->body, resp.body, resp.body_len);
        out->body[resp.body_len] = '\0';
    }
    gda_http_response_release(&resp);
    return true;
}

static void test_corpus_through_app(void **state)
{
    (void)state;
    bad_case *cases = NULL;
    size_t n = 0;
    char why[512];
    if (!bad_cases_load(&cases, &n, why, sizeof why))
        fail_msg("corpus: %s", why);

    gda_app *app = NULL;
    gda_error err;
    gda_env_overrides ov;
    memset(&ov, 0, sizeof ov);
    ov.getenv = table_env;
    if (gda_env_app_new(ledger_handler, NULL, &ov, &app, &err) != GDA_OK)
        fail_msg("app: %s: %s", err.field, err.message);

    bad_door_ops ops = {.door = BAD_DOOR_APP, .user = app, .send = app_send,
                        .ledger_path = ledger_path, .db_path = db_path};
    size_t failed = bad_run_door(&ops, cases, n);
    gda_app_free(app);
    bad_cases_free(cases, n);
    assert_int_equal(failed, 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gda-bad-app-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(db_path, sizeof db_path, "%s/idem.db", tmpdir);
    snprintf(ledger_path, sizeof ledger_path, "%s/ledger", tmpdir);
    snprintf(store_uri, sizeof store_uri, "sqlite:%s", db_path);
    ledger_fd = open(ledger_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    return ledger_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    close(ledger_fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_through_app),
    };
    return cmocka_run_group_tests_name("bad input: gda_app_handle", tests, setup, teardown);
}
