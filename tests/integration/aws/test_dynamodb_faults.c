/* Fault tests of the DynamoDB store through the exactly-once engine:
 *   - the server is killed (SIGKILL) mid-run and restarted on the same data:
 *     while it is down every call fails with GDA_ERR_STORE, a 503 whose body
 *     says requiresRetry: true, before the call's deadline; after the
 *     restart, the workers' retries finish every key and the ledger shows
 *     each executed exactly once;
 *   - a throttling stand-in: the engine's begin rides out a burst of
 *     ThrottlingException answers with counted backoff sleeps;
 *   - lost answers (fault_front.h): an applied PutItem or UpdateItem whose
 *     answer is dropped, on a fresh or a reused connection, still gives one
 *     NEW begin and a GDA_OK complete, and the key replays. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <gda/idempotency.h>
#include <gda/response.h>
#include <gda/store.h>
#include <gda/store/dynamodb.h>

#include "dynamodb_internal.h" /* gda_dynamodb_store_stats */

#include "test_idem.h"
#include "dynalite.h"
#include "fault_front.h"
#include "http_standin.h"

#define WORKERS 4
#define KEYS_PER_WORKER 60
#define CALL_BUDGET_MS 800

static dynalite_server server;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct shared {
    gda_idem *idem;
    atomic_int executions[WORKERS * KEYS_PER_WORKER];
    atomic_uint store_errors;   /* GDA_ERR_STORE answers while the server was down */
    atomic_uint other_errors;   /* anything else unexpected */
    atomic_uint bad_responses;  /* a 503 body without requiresRetry true */
    atomic_uint late_failures;  /* a failed call that overran its deadline */
    atomic_uint done_keys;
} shared;

typedef struct worker_arg {
    shared *sh;
    int id;
} worker_arg;

/* What the shim would send Genesys for this error: a 503 that asks for a
 * retry. */
static bool response_says_retry(const gda_error *err)
{
    gda_http_response resp;
    memset(&resp, 0, sizeof resp);
    gda_error build_err;
    if (gda_response_error(&resp, err, "fault-test", 0, &build_err) != GDA_OK)
        return false;
    json_t *body = json_loadb(resp.body, resp.body_len, 0, NULL);
    bool ok = resp.status == 503 && body &&
              json_is_true(json_object_get(body, "requiresRetry"));
    json_decref(body);
    gda_http_response_release(&resp);
    return ok;
}

static void note_failure(shared *sh, gda_status st, const gda_error *err, int64_t deadline)
{
    if (now_ms() > deadline + 300)
        atomic_fetch_add(&sh->late_failures, 1);
    if (st == GDA_ERR_STORE || st == GDA_ERR_TIMEOUT) {
        atomic_fetch_add(&sh->store_errors, 1);
        if (gda_status_retryable(st) && gda_status_http(st) == 503 && !response_says_retry(err))
            atomic_fetch_add(&sh->bad_responses, 1);
    } else {
        fprintf(stderr, "unexpected %d: %s\n", st, err->message);
        atomic_fetch_add(&sh->other_errors, 1);
    }
}

/* One key, retried like Genesys would (on 5xx), until it is done. The
 * completion is retried too: the result was produced, it must be stored. */
static void *work(void *arg)
{
    worker_arg *wa = arg;
    shared *sh = wa->sh;
    for (int i = 0; i < KEYS_PER_WORKER; i++) {
        int index = wa->id * KEYS_PER_WORKER + i;
        char key[32];
        snprintf(key, sizeof key, "fault-%04d", index);
        uint8_t hash[GDA_PAYLOAD_HASH_LEN];
        test_payload_hash(key, strlen(key), hash);
        int64_t give_up = now_ms() + 20000;
        bool done = false;
        while (!done && now_ms() < give_up) {
            gda_idem_outcome outcome = 0;
            gda_idem_lease lease;
            gda_idem_result replay = {0};
            gda_error err;
            int64_t deadline = now_ms() + CALL_BUDGET_MS;
            gda_status st = gda_idem_begin(sh->idem, key, hash, TEST_PRINCIPAL, deadline, &outcome, &lease,
                                           &replay, &err);
            if (st == GDA_OK && outcome == GDA_IDEM_REPLAY) {
                gda_idem_result_clear(&replay);
                done = true;
                break;
            }
            gda_idem_result_clear(&replay);
            if (st == GDA_OK && outcome == GDA_IDEM_NEW) {
                atomic_fetch_add(&sh->executions[index], 1);
                while (now_ms() < give_up) {
                    gda_status cst = gda_idem_complete(sh->idem, &lease, 200, "{\"ok\":1}", 8, &err);
                    if (cst == GDA_OK) {
                        done = true;
                        break;
                    }
                    if (cst == GDA_ERR_TIMEOUT) {
                        /* "Lease lost": an earlier complete whose answer
                         * died with the server may have stored the result
                         * already. Ask again from the top: a REPLAY proves
                         * it, a second NEW would count as a double run. */
                        break;
                    }
                    if (cst != GDA_ERR_STORE) {
                        fprintf(stderr, "complete %s: %d %s\n", key, cst, err.message);
                        atomic_fetch_add(&sh->other_errors, 1);
                        break;
                    }
                    atomic_fetch_add(&sh->store_errors, 1);
                    nap_ms(50);
                }
                if (done)
                    break;
                continue;
            }
            if (st == GDA_ERR_BUSY || st == GDA_ERR_IN_PROGRESS) {
                /* An attempt whose answer was lost while the server died
                 * left a lease behind; it lapses at its deadline. */
                nap_ms(50);
                continue;
            }
            note_failure(sh, st, &err, deadline);
            nap_ms(50);
        }
        if (done)
            atomic_fetch_add(&sh->done_keys, 1);
    }
    return NULL;
}

static gda_store *open_store(const char *endpoint, const char *table)
{
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = table;
    o.endpoint = endpoint;
    o.connect_timeout_ms = 200;
    gda_error err;
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    return store;
}

static void test_server_killed_and_restarted(void **state)
{
    (void)state;
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = "fault_table";
    o.endpoint = server.endpoint;
    gda_error err;
    assert_int_equal(gda_dynamodb_create_table(&o, 0, NULL, NULL, &err), GDA_OK);

    gda_store *store = open_store(server.endpoint, "fault_table");
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    cfg.in_progress_wait_ms = 0;
    shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    sh->idem = gda_idem_new(store, &cfg, &err);
    assert_non_null(sh->idem);

    pthread_t threads[WORKERS];
    worker_arg args[WORKERS];
    for (int t = 0; t < WORKERS; t++) {
        args[t] = (worker_arg){.sh = sh, .id = t};
        assert_int_equal(pthread_create(&threads[t], NULL, work, &args[t]), 0);
    }
    /* Let some keys finish, then crash the server in the middle of traffic. */
    int64_t started = now_ms();
    while (atomic_load(&sh->done_keys) < WORKERS * KEYS_PER_WORKER / 4 &&
           now_ms() - started < 30000)
        nap_ms(5);
    assert_true(atomic_load(&sh->done_keys) >= WORKERS * KEYS_PER_WORKER / 4);
    dynalite_kill(&server);
    unsigned done_at_kill = atomic_load(&sh->done_keys);
    nap_ms(1500);
    /* While it is down nothing finishes and the calls fail as 503s. */
    unsigned done_while_down = atomic_load(&sh->done_keys);
    assert_true(done_while_down <= done_at_kill + WORKERS);
    assert_true(atomic_load(&sh->store_errors) > 0);
    assert_true(dynalite_restart(&server));

    for (int t = 0; t < WORKERS; t++)
        pthread_join(threads[t], NULL);

    assert_int_equal(atomic_load(&sh->done_keys), WORKERS * KEYS_PER_WORKER);
    assert_int_equal(atomic_load(&sh->other_errors), 0);
    assert_int_equal(atomic_load(&sh->bad_responses), 0);
    assert_int_equal(atomic_load(&sh->late_failures), 0);
    for (int i = 0; i < WORKERS * KEYS_PER_WORKER; i++) {
        if (atomic_load(&sh->executions[i]) != 1)
            fail_msg("key %d executed %d times", i, atomic_load(&sh->executions[i]));
    }
    /* The data survived the crash: a key finished before it still replays. */
    gda_idem_outcome outcome = 0;
    gda_idem_lease lease;
    gda_idem_result replay = {0};
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    test_payload_hash("fault-0000", 10, hash);
    assert_int_equal(gda_idem_begin(sh->idem, "fault-0000", hash, TEST_PRINCIPAL, now_ms() + 2000, &outcome,
                                    &lease, &replay, &err),
                     GDA_OK);
    assert_int_equal(outcome, GDA_IDEM_REPLAY);
    assert_int_equal(replay.body_len, 8);
    gda_idem_result_clear(&replay);

    gda_idem_free(sh->idem);
    gda_store_close(store);
    free(sh);
}

/* ---- throttling at a stand-in, through the engine ----------------------- */

typedef struct counting_clock {
    atomic_uint sleeps;
    atomic_llong slept_ms;
} counting_clock;

static int64_t clock_now(void *user)
{
    (void)user;
    return now_ms();
}

static void clock_sleep(int64_t ms, void *user)
{
    counting_clock *c = user;
    atomic_fetch_add(&c->sleeps, 1);
    atomic_fetch_add(&c->slept_ms, ms);
    nap_ms(ms);
}

static void test_throttling_backoff_through_engine(void **state)
{
    (void)state;
    const char *throttled = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\"}";
    const char *provisioned =
        "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\"}";
    standin_reply script[] = {{0, 400, throttled}, {0, 400, provisioned}, {0, 400, throttled},
                              {0, 400, throttled}, {0, 200, "{}"}};
    http_standin *s = standin_start(script, 5);
    assert_non_null(s);
    counting_clock clock = {0};
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = "throttled";
    o.endpoint = standin_endpoint(s);
    o.backoff_base_ms = 20;
    o.backoff_cap_ms = 100;
    o.clock.now_ms = clock_now;
    o.clock.sleep_ms = clock_sleep;
    o.clock.user = &clock;
    gda_error err;
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    gda_idem *idem = gda_idem_new(store, NULL, &err);
    assert_non_null(idem);

    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    test_payload_hash("t", 1, hash);
    gda_idem_outcome outcome = 0;
    gda_idem_lease lease;
    gda_idem_result replay = {0};
    assert_int_equal(gda_idem_begin(idem, "throttled-key", hash, TEST_PRINCIPAL, now_ms() + 5000, &outcome,
                                    &lease, &replay, &err),
                     GDA_OK);
    assert_int_equal(outcome, GDA_IDEM_NEW);
    /* Four throttled attempts, four sleeps with full jitter under the
     * ceilings 20, 40, 80, 100 ms: at most 240 ms in all. */
    assert_int_equal(standin_requests(s), 5);
    assert_int_equal(atomic_load(&clock.sleeps), 4);
    assert_true(atomic_load(&clock.slept_ms) <= 240);
    gda_dynamodb_stats stats;
    assert_int_equal(gda_dynamodb_store_stats(store, &stats, &err), GDA_OK);
    assert_int_equal(stats.round_trips, 5);
    assert_int_equal(stats.retries, 4);
    assert_int_equal(stats.connections, 1);

    gda_idem_free(idem);
    gda_store_close(store);
    standin_stop(s);

    /* Throttled for longer than the deadline: a retryable 503, in time. */
    standin_reply always[] = {{0, 400, throttled}};
    s = standin_start(always, 1);
    assert_non_null(s);
    o.endpoint = standin_endpoint(s);
    store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    idem = gda_idem_new(store, NULL, &err);
    assert_non_null(idem);
    int64_t start = now_ms();
    gda_status st = gda_idem_begin(idem, "throttled-key", hash, TEST_PRINCIPAL, start + 400, &outcome, &lease,
                                   &replay, &err);
    assert_int_equal(st, GDA_ERR_STORE);
    assert_int_equal(gda_status_http(st), 503);
    assert_true(response_says_retry(&err));
    assert_true(now_ms() - start < 1000);
    assert_true(standin_requests(s) >= 2);
    gda_idem_free(idem);
    gda_store_close(store);
    standin_stop(s);
}

/* ---- lost answers, through the engine ------------------------------------ */

/* A front (fault_front.h) between the store and dynalite applies one
 * PutItem or UpdateItem, then drops the connection before its answer. On a
 * reused keep-alive connection libcurl re-sends the write by itself, unseen
 * by the store; on a fresh one the store's own retry does. The copy is
 * refused by our own write. The store must answer that refusal as the
 * contract says (not an error; for a put, *inserted false with our own item
 * as *existing, or inserted when its own retry recognised it), and the
 * engine must then count the write as applied: begin is NEW (the handler
 * runs, once), complete is GDA_OK (never lease lost), and the key replays. */
static void lost_answer_through_engine(fault_front *front, gda_store *store, gda_idem *idem,
                                       const char *operation, bool reused, const char *key)
{
    fault_front_close_after_each(front, !reused);
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    test_payload_hash(key, strlen(key), hash);
    char warm[64];
    snprintf(warm, sizeof warm, "%s-warm", key);
    gda_idem_outcome outcome = 0;
    gda_idem_lease lease;
    gda_idem_result replay = {0};
    gda_error err;
    /* Leaves a kept-alive connection behind (unless closed after each). */
    assert_int_equal(gda_idem_begin(idem, warm, hash, TEST_PRINCIPAL, now_ms() + 5000, &outcome,
                                    &lease, &replay, &err),
                     GDA_OK);
    assert_int_equal(outcome, GDA_IDEM_NEW);
    assert_int_equal(gda_idem_complete(idem, &lease, 200, "{}", 2, &err), GDA_OK);

    unsigned dropped = fault_front_dropped(front);
    unsigned sent = fault_front_count(front, operation);
    fault_front_drop_answer(front, operation, reused);
    gda_status st = gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, now_ms() + 5000, &outcome,
                                   &lease, &replay, &err);
    if (st != GDA_OK || outcome != GDA_IDEM_NEW)
        fail_msg("begin with %s lost on a %s connection: %s, outcome %d (%s)", operation,
                 reused ? "reused" : "fresh", gda_status_str(st), (int)outcome,
                 st == GDA_OK ? "" : err.message);
    static const char result[] = "{\"data\":{\"ran\":1}}";
    st = gda_idem_complete(idem, &lease, 200, result, sizeof result - 1, &err);
    if (st != GDA_OK)
        fail_msg("complete with %s lost on a %s connection: %s: %s", operation,
                 reused ? "reused" : "fresh", gda_status_str(st), err.message);
    assert_int_equal(fault_front_dropped(front), dropped + 1); /* the fault happened */
    assert_true(fault_front_count(front, operation) >= sent + 2); /* and it was re-sent */

    assert_int_equal(gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, now_ms() + 5000, &outcome,
                                    &lease, &replay, &err),
                     GDA_OK);
    assert_int_equal(outcome, GDA_IDEM_REPLAY);
    assert_int_equal(replay.status_code, 200);
    assert_int_equal(replay.body_len, sizeof result - 1);
    assert_memory_equal(replay.body, result, sizeof result - 1);
    gda_idem_result_clear(&replay);

    /* The store's own answer to the refused copy of a put. */
    char direct[80];
    snprintf(direct, sizeof direct, "%s-store", key);
    if (strcmp(operation, "PutItem") == 0) {
        gda_record rec;
        memset(&rec, 0, sizeof rec);
        rec.key = direct;
        rec.state = GDA_RECORD_IN_PROGRESS;
        memcpy(rec.payload_hash, hash, sizeof hash);
        memset(rec.principal, 0x5c, sizeof rec.principal);
        snprintf(rec.owner, sizeof rec.owner, "%s", "00112233445566778899aabbccddeeff");
        rec.lease_until_ms = now_ms() + 30000;
        rec.expires_at_s = now_ms() / 1000 + 3600;
        gda_store_call call = {.now_ms = now_ms(), .deadline_ms = now_ms() + 5000,
                               .skew_ms = 2000};
        fault_front_drop_answer(front, "PutItem", reused);
        bool inserted = false;
        gda_record existing;
        memset(&existing, 0, sizeof existing);
        st = gda_store_put_if_absent(store, &rec, &call, &inserted, &existing, &err);
        if (st != GDA_OK)
            fail_msg("put with its answer lost: %s: %s", gda_status_str(st), err.message);
        if (!inserted) {
            /* Refused by our own item: handed back as it is now. */
            assert_string_equal(existing.owner, rec.owner);
            assert_int_equal(existing.state, GDA_RECORD_IN_PROGRESS);
            assert_memory_equal(existing.principal, rec.principal, sizeof rec.principal);
            gda_record_clear(&existing);
        }
        assert_int_equal(fault_front_dropped(front), dropped + 2);
    }
}

static void test_lost_answers_through_engine(void **state)
{
    (void)state;
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = "lost_answers";
    o.endpoint = server.endpoint;
    gda_error err;
    assert_int_equal(gda_dynamodb_create_table(&o, now_ms() + 20000, NULL, NULL, &err), GDA_OK);
    fault_front *front = fault_front_start(server.port);
    assert_non_null(front);
    o.endpoint = fault_front_endpoint(front);
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    cfg.in_progress_wait_ms = 0; /* a refusal misread as a twin: 503 at once */
    gda_idem *idem = gda_idem_new(store, &cfg, &err);
    assert_non_null(idem);

    lost_answer_through_engine(front, store, idem, "PutItem", true, "lost-put-reused");
    lost_answer_through_engine(front, store, idem, "PutItem", false, "lost-put-fresh");
    lost_answer_through_engine(front, store, idem, "UpdateItem", true, "lost-update-reused");
    lost_answer_through_engine(front, store, idem, "UpdateItem", false, "lost-update-fresh");

    gda_idem_free(idem);
    gda_store_close(store);
    fault_front_stop(front);
}

int main(void)
{
    dynalite_set_test_credentials();
    if (!dynalite_start(&server, true)) {
        fprintf(stderr, "FAIL: cannot run the DynamoDB fault tests: %s\n", server.error);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_killed_and_restarted),
        cmocka_unit_test(test_throttling_backoff_through_engine),
        cmocka_unit_test(test_lost_answers_through_engine),
    };
    int failed = cmocka_run_group_tests_name("dynamodb_faults", tests, NULL, NULL);
    dynalite_stop(&server);
    return failed ? 1 : 0;
}
