/* The race test against DynamoDB: 8 processes x 4 threads, each with its own
 * store handle per process and the exactly-once engine (idempotency.h), all
 * hammering the same keys on one dynalite server. Every execution appends a
 * line to a shared ledger file (O_APPEND); afterwards each key must appear in
 * the ledger exactly once, every replay must carry the executor's result,
 * and every record must be COMPLETED. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <gda/idempotency.h>
#include <gda/store.h>
#include <gda/store/dynamodb.h>

#include "test_idem.h"
#include "dynalite.h"

#define PROCESSES 8
#define THREADS 4
#define KEYS 48
#define TABLE "race_table"

static dynalite_server server;
static char ledger_path[256];

typedef struct worker {
    gda_idem *idem;
    int ledger_fd;
    int id; /* process * THREADS + thread */
    unsigned executed, replayed, busy, failures;
} worker;

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void key_name(int k, char *out, size_t size)
{
    snprintf(out, size, "race-key-%03d", k);
}

static void *work(void *arg)
{
    worker *w = arg;
    /* Every worker walks all keys, starting at its own offset, so each key
     * sees several contenders at once. */
    for (int i = 0; i < KEYS; i++) {
        int k = (i + w->id * 7) % KEYS;
        char key[32];
        key_name(k, key, sizeof key);
        uint8_t hash[GDA_PAYLOAD_HASH_LEN];
        test_payload_hash(key, strlen(key), hash);
        for (int tries = 0;; tries++) {
            if (tries > 2000) {
                w->failures++;
                break;
            }
            gda_idem_outcome outcome = 0;
            gda_idem_lease lease;
            gda_idem_result replay = {0};
            gda_error err;
            gda_status st = gda_idem_begin(w->idem, key, hash, TEST_PRINCIPAL, 0, &outcome, &lease, &replay, &err);
            if (st == GDA_OK && outcome == GDA_IDEM_NEW) {
                char line[64];
                int len = snprintf(line, sizeof line, "%s %d\n", key, w->id);
                if (write(w->ledger_fd, line, (size_t)len) != len)
                    w->failures++;
                char body[64];
                int blen = snprintf(body, sizeof body, "{\"key\":\"%s\",\"by\":%d}", key, w->id);
                if (gda_idem_complete(w->idem, &lease, 200, body, (size_t)blen, &err) != GDA_OK) {
                    fprintf(stderr, "complete %s: %s\n", key, err.message);
                    w->failures++;
                }
                w->executed++;
                break;
            }
            if (st == GDA_OK && outcome == GDA_IDEM_REPLAY) {
                char prefix[48];
                snprintf(prefix, sizeof prefix, "{\"key\":\"%s\",\"by\":", key);
                if (replay.status_code != 200 || replay.body_len < strlen(prefix) ||
                    memcmp(replay.body, prefix, strlen(prefix)) != 0)
                    w->failures++;
                gda_idem_result_clear(&replay);
                w->replayed++;
                break;
            }
            gda_idem_result_clear(&replay);
            if (st == GDA_ERR_BUSY || st == GDA_ERR_IN_PROGRESS) {
                w->busy++;
                nap_ms(5);
                continue;
            }
            fprintf(stderr, "begin %s: %d %s\n", key, st, err.message);
            w->failures++;
            break;
        }
    }
    return NULL;
}

static int run_process(int p)
{
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = TABLE;
    o.endpoint = server.endpoint;
    gda_error err;
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    if (!store) {
        fprintf(stderr, "process %d: %s\n", p, err.message);
        return 2;
    }
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    cfg.in_progress_wait_ms = 200;
    cfg.poll_interval_ms = 10;
    gda_idem *idem = gda_idem_new(store, &cfg, &err);
    if (!idem) {
        gda_store_close(store);
        return 2;
    }
    int fd = open(ledger_path, O_WRONLY | O_APPEND);
    worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (worker){.idem = idem, .ledger_fd = fd, .id = p * THREADS + t};
        pthread_create(&threads[t], NULL, work, &workers[t]);
    }
    unsigned failures = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        failures += workers[t].failures;
    }
    close(fd);
    gda_idem_free(idem);
    gda_store_close(store);
    return failures ? 1 : 0;
}

static void test_exactly_once_across_processes(void **state)
{
    (void)state;
    pid_t pids[PROCESSES];
    for (int p = 0; p < PROCESSES; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0)
            _exit(run_process(p));
    }
    for (int p = 0; p < PROCESSES; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    /* The ledger: every key executed exactly once. */
    int counts[KEYS] = {0};
    FILE *f = fopen(ledger_path, "r");
    assert_non_null(f);
    char line[128];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        int k = -1, who = -1;
        assert_int_equal(sscanf(line, "race-key-%d %d", &k, &who), 2);
        assert_true(k >= 0 && k < KEYS);
        counts[k]++;
        lines++;
    }
    fclose(f);
    for (int k = 0; k < KEYS; k++) {
        if (counts[k] != 1)
            fail_msg("key %d executed %d times", k, counts[k]);
    }
    assert_int_equal(lines, KEYS);

    /* And the table agrees: every record COMPLETED with a 200. */
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = TABLE;
    o.endpoint = server.endpoint;
    gda_error err;
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    gda_store_call call = {.now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000};
    for (int k = 0; k < KEYS; k++) {
        char key[32];
        key_name(k, key, sizeof key);
        gda_record rec;
        bool found = false;
        assert_int_equal(gda_store_get(store, key, &call, &rec, &found, &err), GDA_OK);
        assert_true(found);
        assert_int_equal(rec.state, GDA_RECORD_COMPLETED);
        assert_int_equal(rec.status_code, 200);
        gda_record_clear(&rec);
    }
    gda_store_close(store);
}

int main(void)
{
    dynalite_set_test_credentials();
    if (!dynalite_start(&server, false)) {
        fprintf(stderr, "FAIL: cannot run the DynamoDB race test: %s\n", server.error);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = TABLE;
    o.endpoint = server.endpoint;
    gda_error err;
    if (gda_dynamodb_create_table(&o, 0, NULL, NULL, &err) != GDA_OK) {
        fprintf(stderr, "FAIL: create table: %s\n", err.message);
        dynalite_stop(&server);
        return 1;
    }
    const char *base = getenv("TMPDIR");
    snprintf(ledger_path, sizeof ledger_path, "%s/gda-race-ledger-XXXXXX",
             base && *base ? base : "/tmp");
    int fd = mkstemp(ledger_path);
    if (fd < 0) {
        dynalite_stop(&server);
        return 1;
    }
    close(fd);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exactly_once_across_processes),
    };
    int failed = cmocka_run_group_tests_name("dynamodb_race", tests, NULL, NULL);
    unlink(ledger_path);
    dynalite_stop(&server);
    return failed ? 1 : 0;
}
