/* Fault injection through gda_app_handle over the SQLite store (suite
 * 'faults'). Each test shows the documented response, that no request runs
 * twice within its lease and that no completed result is lost:
 *   locked        another connection holds the write lock: 503
 *                 store_unavailable, requiresRetry, nothing executed; after
 *                 the lock is released the retry executes once
 *   disk full     the database on a small tmpfs (private mount namespace;
 *                 needs root) that is then filled: new requests get 503 and
 *                 do not execute, results completed before still replay
 *                 byte for byte; with space again the refused one runs once
 *   handler crash a child process serving the app dies of SIGSEGV inside
 *                 the handler: retries get 503 while its lease lasts, the
 *                 first retry after it executes once, later ones replay
 *   timeout       the handler overruns its deadline: a twin within the lease
 *                 gets 503; after the lease a retry executes; the stale
 *                 executor's late complete is refused (the retry's result
 *                 is what replays)
 *   clock jumps   the injected clock moves backwards and forwards across
 *                 lease and TTL boundaries
 */
/* unshare(2) and CLONE_NEWNS are GNU extensions. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "fault_app.h"

static char tmpdir[64];

static void paths(const char *tag, char *db, size_t db_size, char *uri, size_t uri_size,
                  char *ledger, size_t ledger_size)
{
    snprintf(db, db_size, "%s/%s.db", tmpdir, tag);
    snprintf(uri, uri_size, "sqlite:%s", db);
    snprintf(ledger, ledger_size, "%s/%s.ledger", tmpdir, tag);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const no_wait[] = {"GDA_IN_PROGRESS_WAIT_MS", "0", NULL};

/* ---- SQLite busy / locked ------------------------------------------------- */

static void test_sqlite_locked(void **state)
{
    (void)state;
    char db[128], uri[160], ledger[128];
    paths("locked", db, sizeof db, uri, sizeof uri, ledger, sizeof ledger);
    gda_app *app = fault_app_new(uri, ledger, no_wait, false);
    assert_non_null(app);
    char *warm = fault_body("locked-warm", NULL);
    assert_int_equal(fault_post(app, warm, 0, NULL), 200);

    sqlite3 *holder = NULL;
    assert_int_equal(sqlite3_open(db, &holder), SQLITE_OK);
    assert_int_equal(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    char *body = fault_body("locked-1", NULL);
    char *resp = NULL;
    int64_t t0 = mono_ms();
    int status = fault_post(app, body, 800, &resp);
    int64_t took = mono_ms() - t0;
    assert_int_equal(status, 503);
    assert_true(fault_error_is(resp, "store_unavailable", true));
    assert_int_equal(fault_ledger_count(ledger, "locked-1"), 0);
    /* Bounded by the invocation deadline, not the 5 s busy timeout. */
    assert_true(took < 3000);
    free(resp);

    assert_int_equal(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(holder);

    char *first = NULL, *again = NULL;
    assert_int_equal(fault_post(app, body, 0, &first), 200);
    assert_int_equal(fault_ledger_count(ledger, "locked-1"), 1);
    assert_int_equal(fault_post(app, body, 0, &again), 200);
    assert_string_equal(first, again);
    assert_int_equal(fault_ledger_count(ledger, "locked-1"), 1);
    free(first);
    free(again);
    free(body);
    free(warm);
    gda_app_free(app);
}

/* ---- disk full -------------------------------------------------------------- */

#define PRE_COMPLETED 20
#define MAX_NEW 400

static bool expect_true(bool ok, const char *what)
{
    if (!ok)
        fprintf(stderr, "disk full: %s\n", what);
    return ok;
}

/* Runs in the child, inside its own mount namespace with dir on a tmpfs. */
static bool disk_full_scenario(const char *dir)
{
    char db[256], uri[280], ledger[256], filler[256];
    snprintf(db, sizeof db, "%s/idem.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", db);
    /* The ledger lives outside the tmpfs: it must not fail with the store. */
    snprintf(ledger, sizeof ledger, "%s/diskfull.ledger", tmpdir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    gda_app *app = fault_app_new(uri, ledger, no_wait, false);
    if (!expect_true(app != NULL, "app did not start on the tmpfs"))
        return false;

    char *done_body[PRE_COMPLETED + MAX_NEW], *done_resp[PRE_COMPLETED + MAX_NEW];
    char done_id[PRE_COMPLETED + MAX_NEW][48];
    int n_done = 0;
    bool ok = true;
    for (int i = 0; i < PRE_COMPLETED && ok; i++) {
        snprintf(done_id[n_done], sizeof done_id[0], "full-pre-%d", i);
        done_body[n_done] = fault_body(done_id[n_done], NULL);
        ok = expect_true(fault_post(app, done_body[n_done], 0, &done_resp[n_done]) == 200,
                         "a request before the disk filled failed");
        n_done++;
    }

    /* Fill the file system. */
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok = ok && expect_true(fd >= 0, "cannot create the filler file");
    static char chunk[16384];
    memset(chunk, 'x', sizeof chunk);
    while (ok && write(fd, chunk, sizeof chunk) > 0) {
    }
    ok = ok && expect_true(errno == ENOSPC, "the filler stopped before ENOSPC");
    while (ok && write(fd, chunk, 1) > 0) {
    }
    if (fd >= 0)
        close(fd);

    /* New requests until the store refuses one. Those that still fit (free
     * pages inside the database and WAL files) must complete normally. */
    char refused_id[48] = "";
    char *refused_body = NULL;
    for (int i = 0; ok && i < MAX_NEW && !refused_body; i++) {
        char id[48];
        snprintf(id, sizeof id, "full-new-%d", i);
        char *body = fault_body(id, NULL);
        char *resp = NULL;
        int status = fault_post(app, body, 2000, &resp);
        if (status == 200) {
            ok = expect_true(fault_ledger_count(ledger, id) == 1, "a 200 without one execution");
            snprintf(done_id[n_done], sizeof done_id[0], "%s", id);
            done_body[n_done] = body;
            done_resp[n_done] = resp;
            n_done++;
            continue;
        }
        ok = expect_true(status == 503, "disk full answered neither 200 nor 503") &&
             expect_true(fault_error_is(resp, "store_unavailable", true),
                         "the 503 is not store_unavailable with requiresRetry") &&
             expect_true(fault_ledger_count(ledger, id) == 0, "a refused request executed");
        snprintf(refused_id, sizeof refused_id, "%s", id);
        refused_body = body;
        free(resp);
    }
    ok = ok && expect_true(refused_body != NULL, "the store never refused a request: disk not full");

    /* Every completed result still replays, byte for byte, without running. */
    for (int i = 0; ok && i < n_done; i++) {
        char *resp = NULL;
        int status = fault_post(app, done_body[i], 2000, &resp);
        ok = expect_true(status == 200 && strcmp(resp, done_resp[i]) == 0,
                         "a completed result did not replay while the disk is full") &&
             expect_true(fault_ledger_count(ledger, done_id[i]) == 1, "a replay executed");
        free(resp);
    }

    /* Space again: the refused request runs, once. */
    unlink(filler);
    if (ok) {
        char *resp = NULL;
        ok = expect_true(fault_post(app, refused_body, 2000, &resp) == 200,
                         "the retry after freeing space failed") &&
             expect_true(fault_ledger_count(ledger, refused_id) == 1,
                         "the refused request did not execute exactly once");
        free(resp);
    }
    fprintf(stderr, "# disk full: %d completed results replayed, first refusal at %s\n", n_done,
            refused_id);
    for (int i = 0; i < n_done; i++) {
        free(done_body[i]);
        free(done_resp[i]);
    }
    free(refused_body);
    gda_app_free(app);
    return ok;
}

static void test_disk_full(void **state)
{
    (void)state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/tmpfs", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        /* A private mount namespace: the tmpfs is invisible outside this
         * child and disappears with it. */
        const char *step = NULL;
        if (unshare(CLONE_NEWNS) != 0)
            step = "unshare(CLONE_NEWNS)";
        else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            step = "making / a private mount";
        else if (mount("gda-faults", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") != 0)
            step = "mounting a 1 MiB tmpfs";
        if (step) {
            char msg[256];
            int n = snprintf(msg, sizeof msg, "%s failed: %s (the disk-full test needs root, "
                             "or CAP_SYS_ADMIN, to mount a tmpfs)", step, strerror(errno));
            if (write(pipefd[1], msg, (size_t)n) < 0)
                _exit(3);
            _exit(2);
        }
        bool ok = disk_full_scenario(dir);
        umount(dir);
        _exit(ok ? 0 : 1);
    }
    close(pipefd[1]);
    char msg[256] = "";
    ssize_t n = read(pipefd[0], msg, sizeof msg - 1);
    if (n > 0)
        msg[n] = '\0';
    close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
        fail_msg("cannot run the disk-full test: %s", msg);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("disk-full scenario failed (%s %d); see the messages above",
                 WIFSIGNALED(status) ? "signal" : "exit",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* ---- handler crash ------------------------------------------------------------ */

static void test_handler_crash(void **state)
{
    (void)state;
    char db[128], uri[160], ledger[128];
    paths("crash", db, sizeof db, uri, sizeof uri, ledger, sizeof ledger);
    char *body = fault_body("crash-1", "\"mode\":\"crash\"");
    /* Create the schema first so the child only does the request. */
    gda_app *warm = fault_app_new(uri, ledger, no_wait, false);
    assert_non_null(warm);
    gda_app_free(warm);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gda_app *app = fault_app_new(uri, ledger, no_wait, false);
        if (!app)
            _exit(3);
        fault_arm_crash(true);
        fault_post(app, body, 2000, NULL); /* lease ends within 2 s */
        _exit(4); /* not reached: the handler crashes */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_int_equal(fault_ledger_count(ledger, "crash-1"), 1);

    /* The retries, from a process on the injected clock. */
    gda_app *app = fault_app_new(uri, ledger, no_wait, true);
    assert_non_null(app);
    char *resp = NULL;
    assert_int_equal(fault_post(app, body, 5000, &resp), 503);
    assert_true(fault_error_is(resp, "in_progress_retry", true));
    free(resp);
    assert_int_equal(fault_ledger_count(ledger, "crash-1"), 1);

    fault_clock_advance(4500); /* past the crashed executor's lease and the 2 s skew allowance */
    char *first = NULL, *again = NULL;
    assert_int_equal(fault_post(app, body, 5000, &first), 200);
    assert_int_equal(fault_ledger_count(ledger, "crash-1"), 2);
    assert_int_equal(fault_post(app, body, 5000, &again), 200);
    assert_string_equal(first, again);
    assert_int_equal(fault_ledger_count(ledger, "crash-1"), 2);
    free(first);
    free(again);
    free(body);
    gda_app_free(app);
}

/* ---- handler timeout ------------------------------------------------------------ */

typedef struct overrun_ctx {
    const char *body;
    const char *ledger;
    int within_status;
    char *within_resp;
    int after_status;
    char *after_resp;
    int executions_before_retry;
} overrun_ctx;

/* A retry arriving while the stale executor is still inside its handler. */
static void retry_during_overrun(gda_app *app, void *user)
{
    overrun_ctx *o = user;
    int64_t now = fault_now();
    /* Still within the lease (the handler started 3000 ms ago, lease 1000). */
    fault_clock_set(now - 2500);
    o->executions_before_retry = fault_ledger_count(o->ledger, "timeout-1");
    o->within_status = fault_post(app, o->body, 5000, &o->within_resp);
    /* After the lease ended at the deadline. */
    fault_clock_set(now);
    o->after_status = fault_post(app, o->body, 5000, &o->after_resp);
}

static void test_handler_timeout(void **state)
{
    (void)state;
    char db[128], uri[160], ledger[128];
    paths("timeout", db, sizeof db, uri, sizeof uri, ledger, sizeof ledger);
    gda_app *app = fault_app_new(uri, ledger, no_wait, true);
    assert_non_null(app);
    char *body = fault_body("timeout-1", "\"mode\":\"overrun\",\"advanceMs\":3000");
    overrun_ctx o = {.body = body, .ledger = ledger};
    fault_set_overrun_hook(retry_during_overrun, &o);

    char *stale = NULL;
    int lost_before = fault_lease_lost_logs();
    assert_int_equal(lost_before, fault_lease_lost_metrics());
    int stale_status = fault_post(app, body, 1000, &stale);
    /* Within the lease: the twin is told to retry and does not run. */
    assert_int_equal(o.executions_before_retry, 1);
    assert_int_equal(o.within_status, 503);
    assert_true(fault_error_is(o.within_resp, "in_progress_retry", true));
    /* After it: the retry executes. */
    assert_int_equal(o.after_status, 200);
    assert_int_equal(fault_ledger_count(ledger, "timeout-1"), 2);
    /* The stale executor answered its own caller (who had given up at the
     * deadline), but its complete was refused: what replays is the retry's.
     * A handler that overruns its lease is the one case where a key runs
     * twice (fencing keeps the first result out of the store, but cannot
     * undo its side effects); it is logged and counted, exactly once. */
    assert_int_equal(stale_status, 200);
    assert_int_equal(fault_lease_lost_logs(), lost_before + 1);
    assert_int_equal(fault_lease_lost_metrics(), lost_before + 1);
    assert_string_not_equal(stale, o.after_resp);
    char *replay = NULL;
    assert_int_equal(fault_post(app, body, 5000, &replay), 200);
    assert_string_equal(replay, o.after_resp);
    assert_int_equal(fault_ledger_count(ledger, "timeout-1"), 2);
    free(replay);
    free(stale);
    free(o.within_resp);
    free(o.after_resp);
    free(body);
    gda_app_free(app);
}

/* ---- two-phase: the ACCEPTED write fails -------------------------------------- */

typedef struct lock_ctx {
    const char *db;
    sqlite3 *holder;
} lock_ctx;

/* Another connection takes the write lock just before the accept, and gives
 * it back right after, so the accept fails and the release can run. */
static void lock_db(void *user)
{
    lock_ctx *l = user;
    assert_int_equal(sqlite3_open(l->db, &l->holder), SQLITE_OK);
    assert_int_equal(sqlite3_exec(l->holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
}

static void unlock_db(void *user)
{
    lock_ctx *l = user;
    sqlite3_exec(l->holder, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(l->holder);
    l->holder = NULL;
}

/* A job starts only once its ACCEPTED record is durable: when that write
 * fails the caller gets a retryable 503 and no job starts; the retry starts
 * it once; every later retry, past the lease too, replays the 202; the
 * completion token works from another app instance on the same file. */
static void test_accept_write_fails(void **state)
{
    (void)state;
    char db[128], uri[160], ledger[128];
    paths("accept", db, sizeof db, uri, sizeof uri, ledger, sizeof ledger);
    gda_app *app = fault_app_new(uri, ledger, no_wait, true);
    assert_non_null(app);
    char *body = fault_body("accept-1", "\"mode\":\"accept\"");
    lock_ctx l = {.db = db};
    fault_set_accept_hooks(lock_db, unlock_db, &l);

    char *resp = NULL;
    assert_int_equal(fault_post(app, body, 300, &resp), 503);
    if (!fault_error_is(resp, "service_unavailable", true))
        fail_msg("accept failure answered %s", resp);
    free(resp);
    assert_int_equal(fault_ledger_count(ledger, "job:accept-1"), 0);

    fault_set_accept_hooks(NULL, NULL, NULL);
    char *accepted = NULL;
    assert_int_equal(fault_post(app, body, 5000, &accepted), 202);
    assert_int_equal(fault_ledger_count(ledger, "job:accept-1"), 1);
    char token[GDA_COMPLETION_TOKEN_SIZE];
    snprintf(token, sizeof token, "%s", fault_last_token());
    assert_true(token[0] != '\0');

    /* Past the lease and the skew allowance: the job still owns the key. */
    fault_clock_advance(120000);
    assert_int_equal(fault_post(app, body, 5000, &resp), 202);
    assert_string_equal(resp, accepted);
    free(resp);
    assert_int_equal(fault_ledger_count(ledger, "job:accept-1"), 1);
    assert_int_equal(fault_ledger_count(ledger, "accept-1"), 2); /* handler calls */
    gda_app_free(app);

    /* The worker finishes through another instance on the same file. */
    gda_app *worker = fault_app_new(uri, ledger, no_wait, true);
    assert_non_null(worker);
    json_t *data = json_pack("{s:s}", "callback", "scheduled");
    gda_error err;
    assert_int_equal(gda_app_finish(worker, token, data, NULL, &err), GDA_OK);
    /* Its answer lost, it finishes again: the same result is accepted. */
    assert_int_equal(gda_app_finish(worker, token, data, NULL, &err), GDA_OK);
    json_decref(data);
    assert_int_equal(fault_post(worker, body, 5000, &resp), 200);
    assert_non_null(strstr(resp, "scheduled"));
    free(resp);
    assert_int_equal(fault_ledger_count(ledger, "job:accept-1"), 1);
    assert_int_equal(fault_ledger_count(ledger, "accept-1"), 2);
    free(accepted);
    free(body);
    gda_app_free(worker);
}

/* ---- clock jumps ---------------------------------------------------------------- */

typedef struct twin_ctx {
    const char *body;
    int status;
    char *resp;
} twin_ctx;

static void twin_after_rewind(gda_app *app, void *user)
{
    twin_ctx *t = user;
    t->status = fault_post(app, t->body, 5000, &t->resp);
}

static void test_clock_jumps(void **state)
{
    (void)state;
    char db[128], uri[160], ledger[128];
    paths("clock", db, sizeof db, uri, sizeof uri, ledger, sizeof ledger);
    gda_app *app = fault_app_new(uri, ledger, no_wait, true);
    assert_non_null(app);
    const int64_t hour = 3600 * 1000, day = 24 * hour;
    int64_t t0 = fault_now();

    /* A completed result survives the clock going back a day and forward to
     * just before its TTL (3600 s): replayed each time, never re-executed. */
    char *body = fault_body("clock-1", NULL);
    char *first = NULL, *r = NULL;
    assert_int_equal(fault_post(app, body, 5000, &first), 200);
    fault_clock_set(t0 - day);
    assert_int_equal(fault_post(app, body, 5000, &r), 200);
    assert_string_equal(r, first);
    free(r);
    fault_clock_set(t0 + hour - 2000);
    assert_int_equal(fault_post(app, body, 5000, &r), 200);
    assert_string_equal(r, first);
    free(r);
    assert_int_equal(fault_ledger_count(ledger, "clock-1"), 1);
    /* Past the TTL the record is gone by contract: the key may run again,
     * exactly once more. */
    /* (beyond the 2 s skew allowance too). */
    fault_clock_set(t0 + hour + 4000);
    char *later = NULL;
    assert_int_equal(fault_post(app, body, 5000, &later), 200);
    assert_int_equal(fault_ledger_count(ledger, "clock-1"), 2);
    assert_int_equal(fault_post(app, body, 5000, &r), 200);
    assert_string_equal(r, later);
    free(r);
    assert_int_equal(fault_ledger_count(ledger, "clock-1"), 2);
    free(later);
    free(first);
    free(body);

    /* The clock goes back ten minutes inside the handler, so the complete is
     * written "before" the begin: still applied, replayed afterwards. */
    fault_clock_set(t0);
    char *resp = NULL;
    char *wbody = fault_body("clock-3", "\"mode\":\"rewind\",\"advanceMs\":600000");
    assert_int_equal(fault_post(app, wbody, 1000, &resp), 200);
    fault_clock_set(t0 + 5000);
    assert_int_equal(fault_post(app, wbody, 5000, &r), 200);
    assert_string_equal(r, resp);
    assert_int_equal(fault_ledger_count(ledger, "clock-3"), 1);
    free(r);
    free(resp);
    free(wbody);
    gda_app_free(app);
}

/* The clock goes back an hour while a handler runs: a twin arriving then
 * still sees the lease (no double execution), and the late complete is
 * applied and keeps its full TTL (the result is not lost when the clock
 * comes forward again). */
static void test_clock_back_during_handler(void **state)
{
    (void)state;
    char db[128], uri[160], ledger[128];
    paths("clockback", db, sizeof db, uri, sizeof uri, ledger, sizeof ledger);
    gda_app *app = fault_app_new(uri, ledger, no_wait, true);
    assert_non_null(app);
    int64_t t0 = fault_now();
    char *r = NULL;
    char *rbody = fault_body("clock-2", "\"mode\":\"overrun\",\"advanceMs\":-3600000");
    twin_ctx twin = {.body = rbody};
    fault_set_overrun_hook(twin_after_rewind, &twin);
    char *resp = NULL;
    assert_int_equal(fault_post(app, rbody, 1000, &resp), 200);
    assert_int_equal(twin.status, 503);
    assert_true(fault_error_is(twin.resp, "in_progress_retry", true));
    assert_int_equal(fault_ledger_count(ledger, "clock-2"), 1);
    assert_int_equal(fault_post(app, rbody, 5000, &r), 200);
    assert_string_equal(r, resp);
    free(r);
    /* The clock comes forward again, 10 s after the request began: well
     * within the TTL, so still a replay, not a second execution. */
    fault_clock_set(t0 + 10000);
    assert_int_equal(fault_post(app, rbody, 5000, &r), 200);
    assert_string_equal(r, resp);
    free(r);
    assert_int_equal(fault_ledger_count(ledger, "clock-2"), 1);
    free(twin.resp);
    free(resp);
    free(rbody);
    gda_app_free(app);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gda-faults-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_locked),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_handler_crash),
        cmocka_unit_test(test_handler_timeout),
        cmocka_unit_test(test_accept_write_fails),
        cmocka_unit_test(test_clock_jumps),
        cmocka_unit_test(test_clock_back_during_handler),
    };
    return cmocka_run_group_tests_name("faults: SQLite store", tests, setup, teardown);
}
