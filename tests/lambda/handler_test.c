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
 * set; tests/support/test_ledger.h), so a test can prove a replay
 * did not run the handler again.
 */
#include "handler.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gda/request.h>

#include "enrichment.h"
#include "test_ledger.h"
#include "test_time.h"

typedef struct test_handler {
    enrichment_table *table;
    int ledger_fd;
} test_handler;

static gda_status test_handle(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                              gda_error *err, void *user)
{
    test_handler *th = user;
    test_ledger_append(th->ledger_fd, gda_request_string(req, "requestId"));
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
        test_sleep_ms(ms);
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
    gda_status st = enrichment_table_open(enrichment_default_table_path(), &th->table, err);
    if (st == GDA_OK)
        st = test_ledger_open(&th->ledger_fd, err);
    if (st != GDA_OK) {
        close_test(th);
        return st;
    }
    out->name = "test";
    out->fn = test_handle;
    out->user = th;
    out->close = close_test;
    return GDA_OK;
}
