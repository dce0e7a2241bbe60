/* gda-httpd-test's handler (see handler.h): the enrichment example plus
 * behaviours a test selects per request through extra body fields, which the
 * Data Action contract allows and the pipeline hashes like any other:
 *
 *   "testMode": absent    the enrichment answer
 *               "slow"    sleep testSleepMs (default 1000), then answer
 *               "accept"  answer 202 now and finish with the enrichment
 *                         result testSleepMs later (gda_app_finish)
 *               "fail"    a transient failure (503, lease released)
 *               "reject"  a business refusal (422, cached)
 *
 * Every execution appends "<requestId>\n" to the ledger file named by
 * GDA_TEST_LEDGER (when set; tests/support/test_ledger.h). The
 * ledger is what lets a test prove that no request ran twice, whatever the
 * server answered on the wire.
 */
#include "handler.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gda/request.h>

#include "buf.h"
#include "enrichment.h"
#include "test_ledger.h"
#include "test_time.h"

#define TEST_SLEEP_DEFAULT_MS 1000
#define TEST_SLEEP_MAX_MS 20000

typedef struct test_handler {
    enrichment_table *table;
    gda_app *app;
    int ledger_fd;
    pthread_mutex_t lock;
    pthread_t *finishers;
    size_t n_finishers;
    size_t cap_finishers;
} test_handler;

typedef struct finish_job {
    test_handler *th;
    char *token;
    json_t *data;
    int64_t delay_ms;
} finish_job;

static void *finish_later(void *arg)
{
    finish_job *job = arg;
    test_sleep_ms(job->delay_ms);
    gda_error e = {0};
    gda_app_finish(job->th->app, job->token, job->data, NULL, &e);
    json_decref(job->data);
    free(job->token);
    free(job);
    return NULL;
}

static gda_status start_finisher(test_handler *th, const gda_ctx *ctx, json_t *data,
                                 int64_t delay_ms, gda_error *err)
{
    /* The 202 is durable before the worker may start. */
    const char *token = NULL;
    gda_status ast = gda_ctx_accept(ctx, &token, err);
    if (ast != GDA_OK) {
        json_decref(data);
        return gda_status_retryable(ast) ? ast : GDA_ERR_UNAVAILABLE;
    }
    finish_job *job = calloc(1, sizeof *job);
    if (!job || !th->app || !(job->token = strdup(token))) {
        free(job);
        json_decref(data);
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "test: cannot defer the work");
    }
    job->th = th;
    job->data = data;
    job->delay_ms = delay_ms;
    pthread_mutex_lock(&th->lock);
    if (!gda_array_grow((void **)&th->finishers, &th->cap_finishers, th->n_finishers,
                        sizeof *th->finishers, 8)) {
        pthread_mutex_unlock(&th->lock);
        goto fail;
    }
    if (pthread_create(&th->finishers[th->n_finishers], NULL, finish_later, job) != 0) {
        pthread_mutex_unlock(&th->lock);
        goto fail;
    }
    th->n_finishers++;
    pthread_mutex_unlock(&th->lock);
    return GDA_ACCEPTED;
fail:
    free(job->token);
    free(job);
    json_decref(data);
    return gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "test: cannot start the worker");
}

static gda_status test_fn(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                          gda_error *err, void *user)
{
    test_handler *th = user;
    test_ledger_append(th->ledger_fd, gda_ctx_request_id(ctx));
    const char *mode = gda_request_string(req, "testMode");
    int64_t delay = TEST_SLEEP_DEFAULT_MS;
    gda_request_int(req, "testSleepMs", &delay);
    if (delay < 0 || delay > TEST_SLEEP_MAX_MS)
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, "testSleepMs", "out of range");

    if (!mode)
        return enrichment_handler(req, ctx, data_out, err, th->table);
    if (strcmp(mode, "slow") == 0) {
        test_sleep_ms(delay);
        return enrichment_handler(req, ctx, data_out, err, th->table);
    }
    if (strcmp(mode, "fail") == 0)
        return gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "test: transient failure");
    if (strcmp(mode, "reject") == 0)
        return gda_error_set(err, GDA_ERR_UNPROCESSABLE, "callerId",
                             "test: refused by a business rule");
    if (strcmp(mode, "accept") == 0) {
        json_t *data = NULL;
        gda_status st = enrichment_handler(req, ctx, &data, err, th->table);
        if (st != GDA_OK)
            return st;
        return start_finisher(th, ctx, data, delay, err);
    }
    return gda_error_set(err, GDA_ERR_INVALID_FIELD, "testMode", "unknown test mode");
}

static void test_attach(void *user, gda_app *app)
{
    ((test_handler *)user)->app = app;
}

static void test_close(void *user)
{
    test_handler *th = user;
    if (!th)
        return;
    /* Finishers call into the app: they must end before it is freed. */
    for (size_t i = 0; i < th->n_finishers; i++)
        pthread_join(th->finishers[i], NULL);
    free(th->finishers);
    if (th->ledger_fd >= 0)
        close(th->ledger_fd);
    enrichment_table_free(th->table);
    pthread_mutex_destroy(&th->lock);
    free(th);
}

gda_status httpd_handler_open(const char *customers, httpd_handler *out, gda_error *err)
{
    test_handler *th = calloc(1, sizeof *th);
    if (!th)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    th->ledger_fd = -1;
    pthread_mutex_init(&th->lock, NULL);
    gda_status st = enrichment_table_open(customers, &th->table, err);
    if (st == GDA_OK)
        st = test_ledger_open(&th->ledger_fd, err);
    if (st != GDA_OK) {
        test_close(th);
        return st;
    }
    out->name = "test";
    out->fn = test_fn;
    out->user = th;
    out->attach = test_attach;
    out->close = test_close;
    return GDA_OK;
}
