/* Fault-injection helpers (see fault_app.h). */
#include "fault_app.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <gda/request.h>

#include <gda/env.h>

static _Atomic int64_t fake_ms;
static atomic_int serial;
static int ledger_fd = -1;
static void (*overrun_hook)(gda_app *, void *);
static void *overrun_user;
static gda_app *current_app;
static bool crash_armed;

void fault_arm_crash(bool armed) { crash_armed = armed; }

int64_t fault_now(void) { return atomic_load(&fake_ms); }
void fault_clock_set(int64_t ms) { atomic_store(&fake_ms, ms); }
void fault_clock_advance(int64_t ms) { atomic_fetch_add(&fake_ms, ms); }

static int64_t fake_clock(void *user)
{
    (void)user;
    return fault_now();
}

/* Waiting for a running twin advances the injected clock instead of
 * sleeping, so the wait is deterministic. */
static void fake_sleep(int64_t ms, void *user)
{
    (void)user;
    fault_clock_advance(ms);
}

static void (*accept_before)(void *), (*accept_after)(void *);
static void *accept_user;
static char last_token[GDA_COMPLETION_TOKEN_SIZE];

void fault_set_accept_hooks(void (*before)(void *), void (*after)(void *), void *user)
{
    accept_before = before;
    accept_after = after;
    accept_user = user;
}

const char *fault_last_token(void) { return last_token; }

void fault_set_overrun_hook(void (*hook)(gda_app *, void *), void *user)
{
    overrun_hook = hook;
    overrun_user = user;
}

typedef struct env_table {
    const char *const *pairs;
    char store[256];
} env_table;

static const char *table_get(const char *name, void *user)
{
    env_table *t = user;
    for (size_t i = 0; t->pairs && t->pairs[i]; i += 2)
        if (strcmp(t->pairs[i], name) == 0)
            return t->pairs[i + 1];
    if (strcmp(name, "GDA_AUTH") == 0)
        return "token";
    if (strcmp(name, "GDA_SECRETS") == 0)
        return "ft:" FAULT_SECRET_B64;
    if (strcmp(name, "GDA_STORE") == 0)
        return t->store;
    /* Every process of a test shares the store, so they share the secret
     * the payload hash and the principal digest are keyed with. */
    if (strcmp(name, "GDA_DATA_KEY") == 0)
        return "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    if (strcmp(name, "GDA_LOG_LEVEL") == 0)
        return "error";
    return getenv(name); /* AWS settings for the DynamoDB store */
}

/* The app writes a log and a metrics line per request; the tests read
 * responses and the ledger, and count the lines reporting a lost lease. */
static atomic_int lease_lost_logs, lease_lost_metrics;

static bool line_has(const char *line, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(line + i, needle, n) == 0)
            return true;
    return false;
}

static void quiet_sink(const char *line, size_t len, void *user)
{
    (void)user;
    if (line_has(line, len, "\"leaseLost\":true"))
        atomic_fetch_add(&lease_lost_logs, 1);
    if (line_has(line, len, "\"LeaseLost\":1"))
        atomic_fetch_add(&lease_lost_metrics, 1);
}

int fault_lease_lost_logs(void) { return atomic_load(&lease_lost_logs); }
int fault_lease_lost_metrics(void) { return atomic_load(&lease_lost_metrics); }

static gda_status handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                          gda_error *err, void *user)
{
    (void)user;
    const char *id = gda_ctx_request_id(ctx);
    char line[GDA_KEY_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", id);
    if (ledger_fd >= 0 && n > 0 && (size_t)n < sizeof line && write(ledger_fd, line, (size_t)n) != n)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "ledger write failed");
    int my_serial = atomic_fetch_add(&serial, 1) + 1;
    const char *mode = gda_request_string(req, "mode");
    int64_t advance = 0;
    gda_request_int(req, "advanceMs", &advance);
    if (mode && strcmp(mode, "crash") == 0 && crash_armed) {
        signal(SIGSEGV, SIG_DFL); /* not the test framework's handler */
        raise(SIGSEGV);
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "survived SIGSEGV");
    }
    if (mode && strcmp(mode, "overrun") == 0) {
        fault_clock_advance(advance);
        void (*hook)(gda_app *, void *) = overrun_hook;
        overrun_hook = NULL; /* the retry inside the hook must not recurse */
        if (hook)
            hook(current_app, overrun_user);
    }
    if (mode && strcmp(mode, "rewind") == 0)
        fault_clock_advance(-advance);
    if (mode && strcmp(mode, "accept") == 0) {
        if (accept_before)
            accept_before(accept_user);
        const char *token = NULL;
        gda_status st = gda_ctx_accept(ctx, &token, err);
        if (accept_after)
            accept_after(accept_user);
        if (st != GDA_OK)
            return gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "could not accept the job");
        snprintf(last_token, sizeof last_token, "%s", token);
        n = snprintf(line, sizeof line, "job:%s\n", id);
        if (n > 0 && (size_t)n < sizeof line && write(ledger_fd, line, (size_t)n) != n)
            return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "ledger write failed");
        return GDA_ACCEPTED;
    }
    *data_out = json_pack("{s:i}", "serial", my_serial);
    return *data_out ? GDA_OK : gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
}

gda_app *fault_app_new(const char *store_uri, const char *ledger_path,
                       const char *const *extra_env, bool use_fake_clock)
{
    static env_table table;
    table.pairs = extra_env;
    snprintf(table.store, sizeof table.store, "%s", store_uri);
    if (ledger_fd >= 0)
        close(ledger_fd);
    ledger_fd = open(ledger_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (ledger_fd < 0)
        return NULL;
    gda_env_overrides ov;
    memset(&ov, 0, sizeof ov);
    ov.getenv = table_get;
    ov.getenv_user = &table;
    ov.log_sink = quiet_sink;
    if (use_fake_clock) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fault_clock_set((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        ov.clock.now_ms = fake_clock;
        ov.clock.sleep_ms = fake_sleep;
    } else {
        fault_clock_set(0); /* fault_post then reads the real clock */
    }
    gda_app *app = NULL;
    gda_error err;
    if (gda_env_app_new(handler, NULL, &ov, &app, &err) != GDA_OK) {
        fprintf(stderr, "fault app: %s: %s\n", err.field, err.message);
        return NULL;
    }
    current_app = app;
    return app;
}

int fault_post(gda_app *app, const char *body, int64_t deadline_in_ms, char **body_out)
{
    static const char ctype[] = "Content-Type", json[] = "application/json";
    static const char auth[] = "X-Genesys-Signature", token[] = FAULT_SECRET_B64;
    gda_header h[2] = {
        {gda_slice_make(ctype, sizeof ctype - 1), gda_slice_make(json, sizeof json - 1)},
        {gda_slice_make(auth, sizeof auth - 1), gda_slice_make(token, sizeof token - 1)},
    };
    gda_http_request req;
    memset(&req, 0, sizeof req);
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_make("POST", 4);
    req.path = gda_slice_make(GDA_APP_DEFAULT_ROUTE, strlen(GDA_APP_DEFAULT_ROUTE));
    req.headers = h;
    req.n_headers = 2;
    req.body = gda_slice_make(body, strlen(body));
    gda_invocation inv;
    memset(&inv, 0, sizeof inv);
    if (deadline_in_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = fault_now() ? fault_now()
                                  : (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        inv.deadline_ms = now + deadline_in_ms;
    }
    gda_http_response resp;
    memset(&resp, 0, sizeof resp);
    gda_app_handle(app, &req, &inv, &resp);
    int status = resp.status;
    if (body_out)
        *body_out = strndup(resp.body ? resp.body : "", resp.body_len);
    gda_http_response_release(&resp);
    return status;
}

char *fault_body(const char *request_id, const char *extra)
{
    size_t size = strlen(request_id) + (extra ? strlen(extra) : 0) + 160;
    char *out = malloc(size);
    if (out)
        snprintf(out, size,
                 "{\"interactionId\":\"" FAULT_IID "\",\"requestId\":\"%s\",\"callerId\":"
                 "\"+15551234567\"%s%s}",
                 request_id, extra ? "," : "", extra ? extra : "");
    return out;
}

int fault_ledger_count(const char *ledger_path, const char *request_id)
{
    FILE *f = fopen(ledger_path, "r");
    if (!f)
        return 0;
    char line[GDA_KEY_MAX + 4];
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        count += strcmp(line, request_id) == 0;
    }
    fclose(f);
    return count;
}

bool fault_error_is(const char *body, const char *code, bool requires_retry)
{
    json_t *j = json_loads(body ? body : "", 0, NULL);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    json_t *retry = json_object_get(j, "requiresRetry");
    bool ok = c && strcmp(c, code) == 0 && json_is_boolean(retry) &&
              json_is_true(retry) == requires_retry;
    if (!ok)
        fprintf(stderr, "expected error %s (requiresRetry %s), got: %s\n", code,
                requires_retry ? "true" : "false", body ? body : "(none)");
    json_decref(j);
    return ok;
}
