/* Benchmark: per-operation cost of the exactly-once engine over the SQLite
 * store (a database file in a fresh temporary folder): begin+complete of
 * fresh keys (the first execution of a request: two write transactions),
 * begin of completed keys (a retry served as a replay: one read), with
 * synchronous=FULL (the default) and NORMAL (relaxed_durability), and
 * begin+complete from several threads sharing one handle.
 *
 * Each pass stops at its operation count or after about two seconds,
 * whichever comes first, so a slow disk (fsync per commit) cannot make the
 * run long. Usage: bench_store_sqlite [max operations per pass]. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gda/idempotency.h>
#include <gda/store/sqlite.h>

#include "test_idem.h"

#define PASS_BUDGET_S 2.0
#define THREADS 4

static const char body[] = "{\"data\":{\"customerId\":\"c-123456\",\"balance\":1042.17,"
                           "\"tier\":\"gold\",\"openCases\":2}}";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, size_t ops, double seconds)
{
    if (ops == 0 || seconds <= 0) {
        printf("%-58s no operations\n", what);
        return;
    }
    printf("%-58s %8zu ops %12.1f ns/op %10.0f ops/s\n", what, ops,
           seconds * 1e9 / (double)ops, (double)ops / seconds);
}

typedef struct tmp_folder {
    char dir[256];
    char db[300];
} tmp_folder;

static int folder_make(tmp_folder *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/gda-bench-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(t->dir)) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(t->db, sizeof t->db, "%s/store.db", t->dir);
    return 0;
}

static void folder_remove(tmp_folder *t)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char path[320];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", t->db, suffixes[i]);
        unlink(path);
    }
    rmdir(t->dir);
}

static void key_of(char *key, size_t size, int worker, size_t i)
{
    snprintf(key, size, "bench-%d-%zu", worker, i);
}

/* begin+complete of fresh keys [0, max) until the budget runs out; returns
 * how many were done, or (size_t)-1 on error. */
static size_t execute_keys(gda_idem *idem, int worker, size_t max, double budget_s)
{
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    test_payload_hash("payload", 7, hash);
    const double stop = now_s() + budget_s;
    size_t done = 0;
    for (; done < max; done++) {
        if ((done & 15) == 0 && now_s() > stop)
            break;
        char key[48];
        key_of(key, sizeof key, worker, done);
        gda_idem_outcome outcome;
        gda_idem_lease lease;
        gda_idem_result replay = {0};
        gda_error err;
        if (gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, 0, &outcome, &lease, &replay, &err) != GDA_OK ||
            outcome != GDA_IDEM_NEW) {
            fprintf(stderr, "begin %s: %s\n", key, err.message);
            gda_idem_result_clear(&replay);
            return (size_t)-1;
        }
        if (gda_idem_complete(idem, &lease, 200, body, sizeof body - 1, &err) != GDA_OK) {
            fprintf(stderr, "complete %s: %s\n", key, err.message);
            return (size_t)-1;
        }
    }
    return done;
}

/* begin of the completed keys [0, count), cycling, until max or budget. */
static size_t replay_keys(gda_idem *idem, size_t count, size_t max, double budget_s)
{
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    test_payload_hash("payload", 7, hash);
    const double stop = now_s() + budget_s;
    size_t done = 0;
    for (; done < max; done++) {
        if ((done & 63) == 0 && now_s() > stop)
            break;
        char key[48];
        key_of(key, sizeof key, 0, done % count);
        gda_idem_outcome outcome;
        gda_idem_lease lease;
        gda_idem_result replay = {0};
        gda_error err;
        if (gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, 0, &outcome, &lease, &replay, &err) != GDA_OK ||
            outcome != GDA_IDEM_REPLAY || replay.body_len != sizeof body - 1) {
            fprintf(stderr, "replay %s: %s\n", key, err.message);
            gda_idem_result_clear(&replay);
            return (size_t)-1;
        }
        gda_idem_result_clear(&replay);
    }
    return done;
}

static int single_thread_pass(const char *label, bool relaxed, size_t max_ops)
{
    tmp_folder t;
    if (folder_make(&t) != 0)
        return 1;
    gda_error err;
    gda_sqlite_options opts = {.relaxed_durability = relaxed};
    gda_store *store = gda_sqlite_store_open(t.db, &opts, &err);
    if (!store) {
        fprintf(stderr, "sqlite store: %s\n", err.message);
        folder_remove(&t);
        return 1;
    }
    gda_idem *idem = gda_idem_new(store, NULL, &err);
    int rc = 1;
    if (!idem) {
        fprintf(stderr, "engine: %s\n", err.message);
        goto out;
    }
    char what[96];
    double t0 = now_s();
    size_t executed = execute_keys(idem, 0, max_ops, PASS_BUDGET_S);
    double t1 = now_s();
    if (executed == (size_t)-1 || executed == 0)
        goto out;
    snprintf(what, sizeof what, "sqlite %s: begin+complete (new key)", label);
    report(what, executed, t1 - t0);

    size_t replays = replay_keys(idem, executed, max_ops * 4, PASS_BUDGET_S);
    double t2 = now_s();
    if (replays == (size_t)-1)
        goto out;
    snprintf(what, sizeof what, "sqlite %s: begin (replay of a completed key)", label);
    report(what, replays, t2 - t1);
    rc = 0;
out:
    gda_idem_free(idem);
    gda_store_close(store);
    folder_remove(&t);
    return rc;
}

typedef struct thread_arg {
    gda_idem *idem;
    int worker;
    size_t max;
    size_t done;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    a->done = execute_keys(a->idem, a->worker, a->max, PASS_BUDGET_S);
    return NULL;
}

static int threaded_pass(size_t max_ops)
{
    tmp_folder t;
    if (folder_make(&t) != 0)
        return 1;
    gda_error err;
    gda_sqlite_options opts = {.relaxed_durability = true};
    gda_store *store = gda_sqlite_store_open(t.db, &opts, &err);
    gda_idem *idem = store ? gda_idem_new(store, NULL, &err) : NULL;
    int rc = 1;
    if (!idem) {
        fprintf(stderr, "open: %s\n", err.message);
        goto out;
    }
    thread_arg args[THREADS];
    pthread_t threads[THREADS];
    double t0 = now_s();
    for (int i = 0; i < THREADS; i++) {
        args[i] = (thread_arg){.idem = idem, .worker = i, .max = max_ops / THREADS};
        if (pthread_create(&threads[i], NULL, thread_main, &args[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            for (int j = 0; j < i; j++)
                pthread_join(threads[j], NULL);
            goto out;
        }
    }
    size_t total = 0;
    bool failed = false;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        if (args[i].done == (size_t)-1)
            failed = true;
        else
            total += args[i].done;
    }
    double t1 = now_s();
    if (failed)
        goto out;
    report("sqlite NORMAL, 4 threads: begin+complete", total, t1 - t0);
    rc = 0;
out:
    gda_idem_free(idem);
    gda_store_close(store);
    folder_remove(&t);
    return rc;
}

int main(int argc, char **argv)
{
    size_t ops = 20000;
    if (argc > 1) {
        char *end = NULL;
        unsigned long long v = strtoull(argv[1], &end, 10);
        if (!end || *end || v == 0) {
            fprintf(stderr, "usage: %s [max operations per pass]\n", argv[0]);
            return 2;
        }
        ops = (size_t)v;
    }
    int rc = single_thread_pass("FULL (default)", false, ops);
    rc |= single_thread_pass("NORMAL (relaxed_durability)", true, ops);
    rc |= threaded_pass(ops);
    return rc;
}
