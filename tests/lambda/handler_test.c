/* bootstrap-test's handler (see shims/lambda/handler.h): the enrichment
 * example plus behaviours a test selects per request through an extra body
 * field, which the Data Action contract allows:
 *
 *   "testMode": absent   the enrichment answer
 *               "slow"   sleep testSleepMs (default 200), then answer
 *               "fail"   a transient failure (503, lease released)
 *               "reject" a business refusal (422, cached)
 *               "crash"  SIGSEGV inside the handler
 *               "trace"  answer what the runtime passed in: the
 *                        _X_AMZN_TRACE_ID variable, the context's trace and
 *                        AWS request ids and the remaining time
 *
 * Every execution appends "<requestId>\n" to the file GDA_TEST_LEDGER (when
 * set), so a test can prove a replay did not run the handler again.
 */
#include "handler.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gda/request.h>

#include "enrichment.h"

typedef struct test_handler {
    enrichment_table *table;
    int ledger_fd;
} test_handler;

static void ledger_append(test_handler *th, const char *request_id)
{
    if (th->ledger_fd < 0 || !request_id)
        return;
    size_t n = strlen(request_id);
    char line[300];
    if (n + 1 >= sizeof line)
        return;
    memcpy(line, request_id, n);
    line[n] = '\n';
    ssize_t w = write(th->ledger_fd, line, n + 1);
    (void)w;
}

static gda_status test_handle(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                              gda_error *err, void *user)
{
    test_handler *th = user;
    ledger_append(th, gda_request_string(req, "requestId"));
    const char *mode = gda_request_string(req, "testMode");
    if (mode && strcmp(mode, "crash") == 0) {
        raise(SIGSEGV);
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "still alive after SIGSEGV");
    }
    if (mode && strcmp(mode, "trace") == 0) {
        const char *env = getenv("_X_AMZN_TRACE_ID");
        const char *trace = gda_ctx_trace_id(ctx);
        const char *aws = gda_ctx_aws_request_id(ctx);
        *data_out = json_pack("{s:s, s:s, s:s, s:I}", "traceEnv", env ? env : "", "ctxTrace",
                              trace ? trace : "", "awsRequestId", aws ? aws : "", "remainingMs",
                              (json_int_t)gda_ctx_remaining_ms(ctx));
        return *data_out ? GDA_OK : gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
    if (mode && strcmp(mode, "slow") == 0) {
        int64_t ms = 200;
        gda_request_int(req, "testSleepMs", &ms);
        if (ms < 0 || ms > 20000)
            ms = 200;
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    if (mode && strcmp(mode, "fail") == 0)
        return gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "test failure");
    if (mode && strcmp(mode, "reject") == 0)
        return gda_error_set(err, GDA_ERR_UNPROCESSABLE, "testMode", "test refusal");
    return enrichment_handler(req, ctx, data_out, err, th->table);
}

static void close_test(void *user)
{
    test_handler *th = user;
    if (!th)
        return;
    if (th->ledger_fd >= 0)
        close(th->ledger_fd);
    enrichment_table_free(th->table);
    free(th);
}

gda_status lambda_handler_open(lambda_handler *out, gda_error *err)
{
    test_handler *th = calloc(1, sizeof *th);
    if (!th)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    th->ledger_fd = -1;
    gda_error local;
    gda_error_clear(&local);
    th->table = enrichment_table_load(enrichment_default_table_path(), &local);
    if (!th->table) {
        free(th);
        if (err)
            *err = local;
        return local.code;
    }
    const char *ledger = getenv("GDA_TEST_LEDGER");
    if (ledger && *ledger) {
        th->ledger_fd = open(ledger, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (th->ledger_fd < 0) {
            close_test(th);
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_TEST_LEDGER", "cannot open the ledger");
        }
    }
    out->name = "test";
    out->fn = test_handle;
    out->user = th;
    out->close = close_test;
    return GDA_OK;
}
