/* Race test: 16 processes x 4 threads hit the same 1,000 idempotency keys at
 * once through the engine (include/gda/idempotency.h) over one SQLite store
 * file. Every execution appends "key\n" to a ledger file (O_APPEND), every
 * caller records what it got; the parent then checks:
 *   - the ledger holds exactly one execution per key;
 *   - every caller that did not execute got a REPLAY (possibly after being
 *     told the key was in progress) of exactly the executor's status and
 *     body bytes, which differ per executor, so a replay of the wrong
 *     execution or a second execution cannot hide;
 *   - the store ends with each key COMPLETED with that body.
 * Children report through files and their exit status, never through cmocka
 * (which must stay in the parent). */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <gda/idempotency.h>
#include <gda/store.h>
#include <gda/store/sqlite.h>

#include "test_idem.h"

enum { PROCS = 16, THREADS = 4, KEYS = 1000, CALLERS = PROCS * THREADS };

/* A body line in a results file: "E|R key status hexbody waited\n". */
enum { BODY_MAX = 160, LINE_MAX_LEN = 64 + 2 * BODY_MAX };

typedef struct paths {
    char dir[256];
    char db[300];
    char ledger[300];
} paths;

static paths g_paths;

static void result_path(int proc, char *out, size_t size)
{
    snprintf(out, size, "%s/results-%02d.txt", g_paths.dir, proc);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* One write() per line: O_APPEND makes each land whole at the end. */
static bool append_line(int fd, const char *line, size_t len)
{
    ssize_t n = write(fd, line, len);
    return n == (ssize_t)len;
}

/* ---- children ----------------------------------------------------------- */

typedef struct worker {
    int proc, thread;
    gda_idem *idem;
    int ledger_fd, results_fd;
    pthread_barrier_t *start;
    int failures;
    int busy_retries;
} worker;

static void report(worker *w, const char *what, const char *key, const gda_error *err)
{
    fprintf(stderr, "race p%02d t%d %s %s: %s\n", w->proc, w->thread, what, key,
            err ? err->message : "");
    w->failures++;
}

static void run_key(worker *w, int k)
{
    char key[32];
    snprintf(key, sizeof key, "race-%04d", k);
    char payload[48];
    int payload_len = snprintf(payload, sizeof payload, "{\"order\":%d}", k);
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    test_payload_hash(payload, (size_t)payload_len, hash);

    bool waited = false;
    for (int attempt = 0; attempt < 5000; attempt++) {
        gda_idem_outcome outcome = 0;
        gda_idem_lease lease;
        gda_idem_result replay;
        gda_error err;
        memset(&replay, 0, sizeof replay);
        gda_status st = gda_idem_begin(w->idem, key, hash, TEST_PRINCIPAL, wall_ms() + 30000, &outcome, &lease,
                                       &replay, &err);
        char line[LINE_MAX_LEN];
        char body_hex[2 * BODY_MAX + 1];
        if (st == GDA_OK && outcome == GDA_IDEM_NEW) {
            /* The side effect, counted once per execution. */
            char entry[40];
            int n = snprintf(entry, sizeof entry, "%s\n", key);
            if (!append_line(w->ledger_fd, entry, (size_t)n)) {
                report(w, "ledger write", key, NULL);
                return;
            }
            /* The handler's work takes a moment, as real work does, so
             * twins arrive while the key is still in progress. */
            struct timespec work = {.tv_nsec = 200000};
            nanosleep(&work, NULL);
            /* A body only this execution could have produced, with a few
             * bytes that are not text, to check replays byte for byte. */
            uint8_t body[BODY_MAX];
            int len = snprintf((char *)body, sizeof body,
                               "{\"key\":\"%s\",\"by\":\"p%02dt%d\",\"pid\":%ld}", key, w->proc,
                               w->thread, (long)getpid());
            body[len++] = 0x00;
            body[len++] = 0xff;
            body[len++] = (uint8_t)k;
            if (gda_idem_complete(w->idem, &lease, 200, body, (size_t)len, &err) != GDA_OK) {
                report(w, "complete", key, &err);
                return;
            }
            hex(body, (size_t)len, body_hex);
            n = snprintf(line, sizeof line, "E %s 200 %s 0\n", key, body_hex);
            if (!append_line(w->results_fd, line, (size_t)n))
                report(w, "results write", key, NULL);
            return;
        }
        if (st == GDA_OK && outcome == GDA_IDEM_REPLAY) {
            if (replay.body_len > BODY_MAX) {
                report(w, "replay body too long", key, NULL);
            } else {
                hex(replay.body, replay.body_len, body_hex);
                int n = snprintf(line, sizeof line, "R %s %d %s %d\n", key, replay.status_code,
                                 body_hex, waited ? 1 : 0);
                if (!append_line(w->results_fd, line, (size_t)n))
                    report(w, "results write", key, NULL);
            }
            gda_idem_result_clear(&replay);
            return;
        }
        gda_idem_result_clear(&replay);
        if ((st == GDA_ERR_BUSY || st == GDA_ERR_IN_PROGRESS) &&
            outcome == GDA_IDEM_IN_PROGRESS) {
            /* What Genesys does on a 503: try again, shortly. */
            struct timespec pause = {.tv_nsec = 500000};
            nanosleep(&pause, NULL);
            waited = true;
            w->busy_retries++;
            continue;
        }
        report(w, "begin", key, &err);
        return;
    }
    report(w, "still in progress after 5000 attempts", key, NULL);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    /* Half the callers walk the keys upwards, half downwards, so every key
     * sees a crowd arriving together and crowds cross in the middle. */
    bool down = (w->proc + w->thread) % 2 == 1;
    for (int i = 0; i < KEYS && w->failures == 0; i++)
        run_key(w, down ? KEYS - 1 - i : i);
    return NULL;
}

static int child_main(int proc, int start_fd)
{
    gda_error err;
    gda_sqlite_options opts = {.busy_timeout_ms = 30000};
    gda_store *store = gda_sqlite_store_open(g_paths.db, &opts, &err);
    if (!store) {
        fprintf(stderr, "race p%02d: open: %s\n", proc, err.message);
        return 2;
    }
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    /* Answer "in progress" at once, so the test sees and counts every
     * caller that arrived while the key was running, and retries itself. */
    cfg.in_progress_wait_ms = 0;
    gda_idem *idem = gda_idem_new(store, &cfg, &err);
    if (!idem) {
        fprintf(stderr, "race p%02d: engine: %s\n", proc, err.message);
        gda_store_close(store);
        return 2;
    }
    char results[320];
    result_path(proc, results, sizeof results);
    int ledger_fd = open(g_paths.ledger, O_WRONLY | O_APPEND);
    int results_fd = open(results, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
    if (ledger_fd < 0 || results_fd < 0) {
        fprintf(stderr, "race p%02d: open files: %s\n", proc, strerror(errno));
        return 2;
    }

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS + 1);
    worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (worker){.proc = proc, .thread = t, .idem = idem, .ledger_fd = ledger_fd,
                              .results_fd = results_fd, .start = &start};
        if (pthread_create(&threads[t], NULL, worker_main, &workers[t]) != 0) {
            fprintf(stderr, "race p%02d: pthread_create failed\n", proc);
            return 2;
        }
    }
    /* Every process starts when the parent closes the pipe. */
    char c;
    while (read(start_fd, &c, 1) < 0 && errno == EINTR) {
    }
    pthread_barrier_wait(&start);
    int failures = 0, retries = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        failures += workers[t].failures;
        retries += workers[t].busy_retries;
    }
    pthread_barrier_destroy(&start);
    close(ledger_fd);
    close(results_fd);
    gda_idem_free(idem);
    gda_store_close(store);
    /* Contention seen by this process, for the log. */
    fprintf(stderr, "race p%02d: %d in-progress retries\n", proc, retries);
    return failures ? 1 : 0;
}

/* ---- parent ------------------------------------------------------------- */

typedef struct key_tally {
    int executions;
    int replays;
    int waited_replays;
    char *exec_body; /* hex */
} key_tally;

static int parse_key(const char *text)
{
    int k = -1;
    if (sscanf(text, "race-%4d", &k) != 1 || k < 0 || k >= KEYS)
        return -1;
    return k;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[size] = '\0';
        *len = (size_t)size;
    }
    return buf;
}

/* complete_set false: only look for keys executed more than once (run even
 * when a child failed, since a duplicate is the failure that matters most). */
static void check_ledger(bool complete_set)
{
    size_t len = 0;
    char *text = read_file(g_paths.ledger, &len);
    assert_non_null(text);
    int counts[KEYS] = {0};
    int lines = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int k = parse_key(line);
        if (k < 0)
            fail_msg("garbled ledger line \"%s\"", line);
        counts[k]++;
        lines++;
    }
    free(text);
    for (int k = 0; k < KEYS; k++) {
        if (counts[k] > 1 || (complete_set && counts[k] != 1))
            fail_msg("key race-%04d executed %d times", k, counts[k]);
    }
    if (complete_set)
        assert_int_equal(lines, KEYS);
}

static void check_results(key_tally *tally)
{
    /* Two passes: executors first, so replays can be compared to them. */
    char *texts[PROCS];
    for (int p = 0; p < PROCS; p++) {
        char path[320];
        size_t len = 0;
        result_path(p, path, sizeof path);
        texts[p] = read_file(path, &len);
        assert_non_null(texts[p]);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int p = 0; p < PROCS; p++) {
            char *copy = strdup(texts[p]);
            assert_non_null(copy);
            for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                char kind, key[32], body[2 * BODY_MAX + 1];
                int status, waited;
                if (sscanf(line, "%c %31s %d %320s %d", &kind, key, &status, body, &waited) != 5)
                    fail_msg("garbled result line \"%s\"", line);
                int k = parse_key(key);
                assert_true(k >= 0);
                assert_int_equal(status, 200);
                if (pass == 0 && kind == 'E') {
                    tally[k].executions++;
                    free(tally[k].exec_body);
                    tally[k].exec_body = strdup(body);
                } else if (pass == 1 && kind == 'R') {
                    if (!tally[k].exec_body)
                        fail_msg("key %s replayed but nobody executed it", key);
                    if (strcmp(body, tally[k].exec_body) != 0)
                        fail_msg("key %s replayed %s, executor cached %s", key, body,
                                 tally[k].exec_body);
                    tally[k].replays++;
                    tally[k].waited_replays += waited;
                } else if (kind != 'E' && kind != 'R') {
                    fail_msg("unknown result kind in \"%s\"", line);
                }
            }
            free(copy);
        }
    }
    for (int p = 0; p < PROCS; p++)
        free(texts[p]);
    for (int k = 0; k < KEYS; k++) {
        if (tally[k].executions != 1 || tally[k].executions + tally[k].replays != CALLERS)
            fail_msg("key race-%04d: %d executions, %d replays (want 1 and %d)", k,
                     tally[k].executions, tally[k].replays, CALLERS - 1);
    }
}

/* The store itself must hold each executor's result. */
static void check_store(const key_tally *tally)
{
    gda_error err;
    gda_store *store = gda_sqlite_store_open(g_paths.db, NULL, &err);
    assert_non_null(store);
    gda_idem *idem = gda_idem_new(store, NULL, &err);
    assert_non_null(idem);
    for (int k = 0; k < KEYS; k++) {
        char key[32];
        snprintf(key, sizeof key, "race-%04d", k);
        gda_idem_result res;
        memset(&res, 0, sizeof res);
        assert_int_equal(gda_idem_lookup(idem, key, TEST_PRINCIPAL, &res, &err), GDA_OK);
        assert_int_equal(res.state, GDA_RECORD_COMPLETED);
        assert_int_equal(res.status_code, 200);
        char body_hex[2 * BODY_MAX + 1];
        assert_true(res.body_len <= BODY_MAX);
        hex(res.body, res.body_len, body_hex);
        assert_string_equal(body_hex, tally[k].exec_body);
        gda_idem_result_clear(&res);
    }
    gda_idem_free(idem);
    gda_store_close(store);
}

static void remove_tree(void)
{
    static const char *const names[] = {"store.db", "store.db-wal", "store.db-shm",
                                        "ledger.txt"};
    char path[320];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", g_paths.dir, names[i]);
        unlink(path);
    }
    for (int p = 0; p < PROCS; p++) {
        result_path(p, path, sizeof path);
        unlink(path);
    }
    rmdir(g_paths.dir);
}

static void test_race_exactly_once(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(g_paths.dir, sizeof g_paths.dir, "%s/gda-race-XXXXXX",
             base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(g_paths.dir));
    snprintf(g_paths.db, sizeof g_paths.db, "%s/store.db", g_paths.dir);
    snprintf(g_paths.ledger, sizeof g_paths.ledger, "%s/ledger.txt", g_paths.dir);
    int fd = open(g_paths.ledger, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);

    /* Create the schema up front; the children open an existing file (the
     * store also copes with a crowd creating it, but that is not this test). */
    gda_error err;
    gda_store *store = gda_sqlite_store_open(g_paths.db, NULL, &err);
    assert_non_null(store);
    gda_store_close(store);

    int start[2];
    assert_int_equal(pipe(start), 0);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        fflush(NULL);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(start[1]);
            _exit(child_main(p, start[0]));
        }
    }
    close(start[0]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    close(start[1]); /* go */

    int bad = 0;
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "race: child %d ended with status 0x%x\n", p, status);
            bad++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    check_ledger(false);
    assert_int_equal(bad, 0);
    check_ledger(true);
    key_tally *tally = calloc(KEYS, sizeof *tally);
    assert_non_null(tally);
    check_results(tally);
    check_store(tally);
    int replays = 0, waited = 0;
    for (int k = 0; k < KEYS; k++) {
        replays += tally[k].replays;
        waited += tally[k].waited_replays;
        free(tally[k].exec_body);
    }
    free(tally);
    printf("race: %d processes x %d threads, %d keys in %.2f s: %d executions, %d replays "
           "(%d after an in-progress answer)\n",
           PROCS, THREADS, KEYS, secs, KEYS, replays, waited);
    remove_tree();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_race_exactly_once),
    };
    return cmocka_run_group_tests_name("race_sqlite", tests, NULL, NULL);
}
