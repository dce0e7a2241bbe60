/* Fault injection through gda_app_handle over the DynamoDB store (suite
 * 'faults'): dynalite (a DynamoDB-compatible server) is killed with SIGKILL
 * while the app runs. While it is down every request gets 503
 * store_unavailable with requiresRetry true, within its deadline, and
 * nothing executes; after a restart on the same data the refused request
 * executes once and the result completed before the outage replays byte
 * for byte.
 *
 * Lost answers: a fault-injecting front between the store and dynalite
 * applies a PutItem (begin) or UpdateItem (complete), then drops the
 * connection before the answer, on a fresh or a reused keep-alive
 * connection. On a reused one libcurl re-sends the write by itself; on a
 * fresh one the store's retry does. Either way the re-sent write is refused
 * by its condition against our own write, and must count as applied: the
 * request sent three times runs the handler once and all three answers are
 * the same 200. The same front loses the answer of a two-phase ACCEPTED
 * write: the job starts once, and the 202 holds past the lease; and of a
 * gda_app_finish's UpdateItem: it still finishes with GDA_OK, never lease
 * lost.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <gda/store/dynamodb.h>

#include "dynalite.h"
#include "fault_app.h"
#include "fault_front.h"

static dynalite_server server;
static char tmpdir[64];

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_dynamodb_down_and_back(void **state)
{
    (void)state;
    if (!dynalite_start(&server, true))
        fail_msg("dynalite: %s", server.error);
    dynalite_set_test_credentials();
    setenv("GDA_DYNAMODB_ENDPOINT", server.endpoint, 1);
    gda_dynamodb_options opts;
    memset(&opts, 0, sizeof opts);
    opts.table = "gda-faults";
    opts.endpoint = server.endpoint;
    gda_error err;
    bool created = false, ttl = false;
    if (gda_dynamodb_create_table(&opts, wall_ms() + 20000, &created, &ttl, &err) != GDA_OK)
        fail_msg("create table: %s", err.message);

    char ledger[128];
    snprintf(ledger, sizeof ledger, "%s/dynamodb.ledger", tmpdir);
    static const char *const env[] = {"GDA_IN_PROGRESS_WAIT_MS", "0", NULL};
    gda_app *app = fault_app_new("dynamodb:gda-faults", ledger, env, false);
    assert_non_null(app);

    char *before = fault_body("ddb-before", NULL);
    char *before_resp = NULL;
    assert_int_equal(fault_post(app, before, 5000, &before_resp), 200);

    dynalite_kill(&server);
    char *body = fault_body("ddb-down", NULL);
    for (int i = 0; i < 3; i++) {
        char *resp = NULL;
        int64_t t0 = mono_ms();
        assert_int_equal(fault_post(app, body, 1500, &resp), 503);
        assert_true(fault_error_is(resp, "store_unavailable", true));
        /* Answered within the deadline (plus a little slack for the exit). */
        assert_true(mono_ms() - t0 < 4000);
        free(resp);
    }
    assert_int_equal(fault_ledger_count(ledger, "ddb-down"), 0);
    /* Even a completed key cannot be replayed without the store: 503, and
     * it does not run again either. */
    char *resp = NULL;
    assert_int_equal(fault_post(app, before, 1500, &resp), 503);
    assert_true(fault_error_is(resp, "store_unavailable", true));
    free(resp);
    assert_int_equal(fault_ledger_count(ledger, "ddb-before"), 1);

    if (!dynalite_restart(&server))
        fail_msg("dynalite restart: %s", server.error);
    char *first = NULL, *again = NULL;
    assert_int_equal(fault_post(app, body, 10000, &first), 200);
    assert_int_equal(fault_ledger_count(ledger, "ddb-down"), 1);
    assert_int_equal(fault_post(app, body, 10000, &again), 200);
    assert_string_equal(first, again);
    assert_int_equal(fault_ledger_count(ledger, "ddb-down"), 1);
    resp = NULL;
    assert_int_equal(fault_post(app, before, 10000, &resp), 200);
    assert_string_equal(resp, before_resp);
    assert_int_equal(fault_ledger_count(ledger, "ddb-before"), 1);
    free(resp);
    free(first);
    free(again);
    free(body);
    free(before);
    free(before_resp);
    gda_app_free(app);
}

static void lost_answer(fault_front *front, const char *ledger, const char *operation,
                        bool reused, const char *rid)
{
    static const char *const env[] = {"GDA_IN_PROGRESS_WAIT_MS", "0", NULL};
    fault_front_close_after_each(front, !reused);
    gda_app *app = fault_app_new("dynamodb:gda-lost", ledger, env, false);
    assert_non_null(app);
    char warm_id[64];
    snprintf(warm_id, sizeof warm_id, "%s-warm", rid);
    char *warm = fault_body(warm_id, NULL);
    /* Makes the next PutItem travel on a connection already used. */
    assert_int_equal(fault_post(app, warm, 10000, NULL), 200);
    free(warm);

    unsigned dropped = fault_front_dropped(front);
    unsigned sent = fault_front_count(front, operation);
    int lease_lost = fault_lease_lost_logs();
    fault_front_drop_answer(front, operation, reused);
    char *body = fault_body(rid, NULL);
    char *answers[3] = {0};
    for (int i = 0; i < 3; i++) {
        int status = fault_post(app, body, 10000, &answers[i]);
        if (status != 200)
            fail_msg("%s lost on a %s connection: attempt %d answered %d: %s", operation,
                     reused ? "reused" : "fresh", i + 1, status, answers[i]);
    }
    assert_int_equal(fault_front_dropped(front), dropped + 1); /* the fault really happened */
    assert_true(fault_front_count(front, operation) >= sent + 2); /* and it was re-sent */
    assert_int_equal(fault_ledger_count(ledger, rid), 1);
    /* Our own write is no lost lease: no false alarm in the log. */
    assert_int_equal(fault_lease_lost_logs(), lease_lost);
    assert_string_equal(answers[0], answers[1]);
    assert_string_equal(answers[1], answers[2]);
    for (int i = 0; i < 3; i++)
        free(answers[i]);
    free(body);
    gda_app_free(app);
}

/* Two-phase: the job's gda_app_finish loses the answer of its applied
 * UpdateItem. It reports GDA_OK (not lease lost), a repeated finish does
 * too, the poll gets the final result and the job started once. */
static void lost_finish(fault_front *front, const char *ledger, bool reused, const char *rid)
{
    static const char *const env[] = {"GDA_IN_PROGRESS_WAIT_MS", "0", NULL};
    fault_front_close_after_each(front, !reused);
    gda_app *app = fault_app_new("dynamodb:gda-lost", ledger, env, false);
    assert_non_null(app);
    char *body = fault_body(rid, "\"mode\":\"accept\"");
    char *accepted = NULL;
    assert_int_equal(fault_post(app, body, 10000, &accepted), 202);
    char token[GDA_COMPLETION_TOKEN_SIZE];
    snprintf(token, sizeof token, "%s", fault_last_token());
    assert_true(token[0] != '\0');
    int lease_lost = fault_lease_lost_logs();

    unsigned dropped = fault_front_dropped(front);
    unsigned sent = fault_front_count(front, "UpdateItem");
    /* The POST just used the connection: the finish's UpdateItem reuses it. */
    fault_front_drop_answer(front, "UpdateItem", reused);
    json_t *data = json_pack("{s:s}", "callback", "scheduled");
    assert_non_null(data);
    gda_error err;
    gda_status st = gda_app_finish(app, token, data, NULL, &err);
    if (st != GDA_OK)
        fail_msg("finish with its UpdateItem answer lost on a %s connection: %s: %s",
                 reused ? "reused" : "fresh", gda_status_str(st), err.message);
    assert_int_equal(fault_front_dropped(front), dropped + 1);
    assert_true(fault_front_count(front, "UpdateItem") >= sent + 2);
    /* A worker unsure of the outcome finishes again: the same answer. */
    assert_int_equal(gda_app_finish(app, token, data, NULL, &err), GDA_OK);
    json_decref(data);

    char *resp = NULL;
    assert_int_equal(fault_post(app, body, 10000, &resp), 200);
    assert_non_null(strstr(resp, "scheduled"));
    free(resp);
    char job[80];
    snprintf(job, sizeof job, "job:%s", rid);
    assert_int_equal(fault_ledger_count(ledger, job), 1);
    assert_int_equal(fault_ledger_count(ledger, rid), 1);
    assert_int_equal(fault_lease_lost_logs(), lease_lost);
    free(accepted);
    free(body);
    gda_app_free(app);
}

static void test_lost_answers(void **state)
{
    (void)state;
    dynalite_server upstream;
    memset(&upstream, 0, sizeof upstream);
    if (!dynalite_start(&upstream, false))
        fail_msg("dynalite: %s", upstream.error);
    dynalite_set_test_credentials();
    gda_dynamodb_options opts;
    memset(&opts, 0, sizeof opts);
    opts.table = "gda-lost";
    opts.endpoint = upstream.endpoint;
    gda_error err;
    bool created = false, ttl = false;
    if (gda_dynamodb_create_table(&opts, wall_ms() + 20000, &created, &ttl, &err) != GDA_OK)
        fail_msg("create table: %s", err.message);
    fault_front *front = fault_front_start(upstream.port);
    assert_non_null(front);
    setenv("GDA_DYNAMODB_ENDPOINT", fault_front_endpoint(front), 1);

    char ledger[128];
    snprintf(ledger, sizeof ledger, "%s/lost.ledger", tmpdir);
    lost_answer(front, ledger, "PutItem", false, "lost-put-fresh");
    lost_answer(front, ledger, "PutItem", true, "lost-put-reused");
    lost_answer(front, ledger, "UpdateItem", false, "lost-update-fresh");
    lost_answer(front, ledger, "UpdateItem", true, "lost-update-reused");
    lost_finish(front, ledger, false, "lost-finish-fresh");
    lost_finish(front, ledger, true, "lost-finish-reused");

    /* Two-phase over DynamoDB: the ACCEPTED write's answer is lost (the
     * write applied); the job starts once, the retries after the lease get
     * the 202, and the token finishes it from another instance. */
    static const char *const env[] = {"GDA_IN_PROGRESS_WAIT_MS", "0", NULL};
    fault_front_close_after_each(front, false);
    gda_app *app = fault_app_new("dynamodb:gda-lost", ledger, env, true);
    assert_non_null(app);
    char *warm = fault_body("accept-warm", NULL);
    assert_int_equal(fault_post(app, warm, 10000, NULL), 200);
    free(warm);
    unsigned dropped = fault_front_dropped(front);
    fault_front_drop_answer(front, "UpdateItem", true);
    char *body = fault_body("ddb-accept", "\"mode\":\"accept\"");
    char *accepted = NULL, *resp = NULL;
    assert_int_equal(fault_post(app, body, 10000, &accepted), 202);
    assert_int_equal(fault_front_dropped(front), dropped + 1);
    assert_int_equal(fault_ledger_count(ledger, "job:ddb-accept"), 1);
    char token[GDA_COMPLETION_TOKEN_SIZE];
    snprintf(token, sizeof token, "%s", fault_last_token());
    fault_clock_advance(120000); /* past the lease and the skew allowance */
    assert_int_equal(fault_post(app, body, 10000, &resp), 202);
    assert_string_equal(resp, accepted);
    free(resp);
    assert_int_equal(fault_ledger_count(ledger, "job:ddb-accept"), 1);
    gda_app_free(app);
    gda_app *worker = fault_app_new("dynamodb:gda-lost", ledger, env, true);
    assert_non_null(worker);
    fault_clock_advance(120000);
    json_t *data = json_pack("{s:s}", "callback", "scheduled");
    gda_error err2;
    assert_int_equal(gda_app_finish(worker, token, data, NULL, &err2), GDA_OK);
    json_decref(data);
    assert_int_equal(fault_post(worker, body, 10000, &resp), 200);
    assert_non_null(strstr(resp, "scheduled"));
    free(resp);
    assert_int_equal(fault_ledger_count(ledger, "job:ddb-accept"), 1);
    free(accepted);
    free(body);
    gda_app_free(worker);

    fault_front_stop(front);
    dynalite_stop(&upstream);
    setenv("GDA_DYNAMODB_ENDPOINT", server.endpoint, 1);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gda-faults-ddb-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dynalite_stop(&server);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynamodb_down_and_back),
        cmocka_unit_test(test_lost_answers),
    };
    return cmocka_run_group_tests_name("faults: DynamoDB store", tests, setup, teardown);
}
