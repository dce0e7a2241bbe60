/* Fault injection through gda_app_handle over the DynamoDB store (suite
 * 'faults'): dynalite (a DynamoDB-compatible server) is killed with SIGKILL
 * while the app runs. While it is down every request gets 503
 * store_unavailable with requiresRetry true, within its deadline, and
 * nothing executes; after a restart on the same data the refused request
 * executes once and the result completed before the outage replays byte
 * for byte.
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

#include <gda/store/dynamodb.h>

#include "dynalite.h"
#include "fault_app.h"

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
    gda_dynamodb_options_init(&opts);
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
    };
    return cmocka_run_group_tests_name("faults: DynamoDB store", tests, setup, teardown);
}
