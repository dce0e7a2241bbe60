/* Crash test: a process that holds a lease on a key over one SQLite store
 * file dies (SIGKILL) before completing. Until the lease passes, a retry is
 * refused as in progress; once it has passed, a retry in another process
 * executes exactly once and later retries replay its result. A stalled
 * executor that comes back after being taken over cannot overwrite the
 * result. Each execution writes "begin <key> <who>" to a ledger before its
 * work and "done <key> <who>" after its result is stored, so the ledger shows
 * which executions ran and which completed.
 *
 * Time is a clock in shared memory that the parent moves, injected into every
 * process's engine, so the outcome never depends on scheduling; one case runs
 * on the real clock with a short lease to show the defaults behave the same.
 * Children talk to the parent through pipes and their exit status; cmocka
 * stays in the parent. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <gda/idempotency.h>
#include <gda/store.h>
#include <gda/store/sqlite.h>

#include "test_idem.h"

#define T0_MS INT64_C(1700000000000)
#define LEASE_MS INT64_C(30000)
#define REAL_LEASE_MS INT64_C(1500)

typedef struct env {
    char dir[256];
    char db[300];
    char ledger[300];
    int64_t *clock; /* shared by every process; NULL = real clock */
} env;

static int64_t shared_now(void *user)
{
    const env *e = user;
    return __atomic_load_n(e->clock, __ATOMIC_SEQ_CST);
}

/* With wait 0 the engine never sleeps; keep the hook honest anyway. */
static void shared_sleep(int64_t ms, void *user)
{
    env *e = user;
    __atomic_add_fetch(e->clock, ms, __ATOMIC_SEQ_CST);
}

static void set_clock(env *e, int64_t ms)
{
    __atomic_store_n(e->clock, ms, __ATOMIC_SEQ_CST);
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An engine over a fresh store handle: one per process, as in production. */
static gda_idem *engine_open(env *e, gda_store **store, gda_error *err)
{
    *store = gda_sqlite_store_open(e->db, NULL, err);
    if (!*store)
        return NULL;
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    cfg.in_progress_wait_ms = 0;
    cfg.busy_policy = GDA_IDEM_BUSY_CONFLICT;
    if (e->clock) {
        cfg.max_lease_ms = LEASE_MS;
        /* One injected clock shared by every process: no skew between
         * hosts to allow for, so lease boundaries are exact. */
        cfg.clock_skew_ms = 0;
        cfg.clock.now_ms = shared_now;
        cfg.clock.sleep_ms = shared_sleep;
        cfg.clock.user = e;
    } else {
        cfg.max_lease_ms = REAL_LEASE_MS;
    }
    gda_idem *idem = gda_idem_new(*store, &cfg, err);
    if (!idem) {
        gda_store_close(*store);
        *store = NULL;
    }
    return idem;
}

static void ledger_note(const env *e, const char *what, const char *key, const char *who)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s %s %s\n", what, key, who);
    int fd = open(e->ledger, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, line, (size_t)n);
        (void)w;
        close(fd);
    }
}

static const uint8_t *payload_hash(void)
{
    static uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    static const char payload[] = "{\"interactionId\":\"i-1\",\"amount\":42}";
    test_payload_hash(payload, sizeof payload - 1, hash);
    return hash;
}

static void body_of(const char *who, char *out, size_t size)
{
    snprintf(out, size, "{\"data\":{\"charged\":42,\"by\":\"%s\"}}", who);
}

/* Child roles. Each writes one status line to `report` and exits 0 when its
 * own step went as the role expects; anything else is exit 1 + stderr. */
enum role {
    ROLE_BEGIN_THEN_HANG,     /* begin (NEW), note "begin", report lease, then wait to die */
    ROLE_EXECUTE,             /* begin (NEW), note, complete, note "done" */
    ROLE_BEGIN_WAIT_COMPLETE  /* begin (NEW), report, wait for a byte, then try complete */
};

static int child(env *e, enum role role, const char *key, const char *who, int report_fd,
                 int cmd_fd)
{
    gda_error err;
    gda_store *store = NULL;
    gda_idem *idem = engine_open(e, &store, &err);
    if (!idem) {
        fprintf(stderr, "crash %s: open: %s\n", who, err.message);
        return 1;
    }
    gda_idem_outcome outcome = 0;
    gda_idem_lease lease;
    gda_idem_result replay;
    memset(&replay, 0, sizeof replay);
    gda_status st = gda_idem_begin(idem, key, payload_hash(), TEST_PRINCIPAL, 0, &outcome, &lease, &replay, &err);
    if (st != GDA_OK || outcome != GDA_IDEM_NEW) {
        fprintf(stderr, "crash %s: begin gave %d/%d: %s\n", who, st, outcome, err.message);
        gda_idem_result_clear(&replay);
        return 1;
    }
    ledger_note(e, "begin", key, who);
    char line[64];
    int n = snprintf(line, sizeof line, "%lld\n", (long long)lease.lease_until_ms);
    if (write(report_fd, line, (size_t)n) != n)
        return 1;

    if (role == ROLE_BEGIN_THEN_HANG) {
        for (;;)
            pause(); /* the parent kills us here, lease held, work unfinished */
    }
    if (role == ROLE_BEGIN_WAIT_COMPLETE) {
        char c;
        while (read(cmd_fd, &c, 1) < 0 && errno == EINTR) {
        }
    }
    char body[128];
    body_of(who, body, sizeof body);
    st = gda_idem_complete(idem, &lease, 200, body, strlen(body), &err);
    if (role == ROLE_BEGIN_WAIT_COMPLETE) {
        /* Taken over while stalled: the engine must refuse the stale result. */
        if (st != GDA_ERR_LEASE_LOST) {
            fprintf(stderr, "crash %s: stale complete gave %d, want GDA_ERR_LEASE_LOST\n", who, st);
            return 1;
        }
        ledger_note(e, "fenced", key, who);
    } else {
        if (st != GDA_OK) {
            fprintf(stderr, "crash %s: complete: %s\n", who, err.message);
            return 1;
        }
        ledger_note(e, "done", key, who);
    }
    gda_idem_free(idem);
    gda_store_close(store);
    return 0;
}

typedef struct child_proc {
    pid_t pid;
    int report_fd; /* read end */
    int cmd_fd;    /* write end */
} child_proc;

static child_proc spawn(env *e, enum role role, const char *key, const char *who)
{
    int report[2], cmd[2];
    assert_int_equal(pipe(report), 0);
    assert_int_equal(pipe(cmd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(report[0]);
        close(cmd[1]);
        _exit(child(e, role, key, who, report[1], cmd[0]));
    }
    close(report[1]);
    close(cmd[0]);
    return (child_proc){.pid = pid, .report_fd = report[0], .cmd_fd = cmd[1]};
}

/* The lease deadline the child reported once it held the key. */
static int64_t read_lease(child_proc *c)
{
    char buf[64];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = read(c->report_fd, buf + got, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf[got++] == '\n')
            break;
    }
    buf[got] = '\0';
    if (got == 0)
        fail_msg("child %ld reported nothing (see its stderr)", (long)c->pid);
    return strtoll(buf, NULL, 10);
}

static void reap(child_proc *c, bool want_killed)
{
    int status = 0;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    if (want_killed) {
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
    } else {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("child %ld ended with status 0x%x", (long)c->pid, status);
    }
    close(c->report_fd);
    close(c->cmd_fd);
}

/* What a retry in the parent gets right now. */
static gda_idem_outcome retry(env *e, const char *key, gda_status *st_out, gda_idem_result *res)
{
    gda_error err;
    gda_store *store = NULL;
    gda_idem *idem = engine_open(e, &store, &err);
    assert_non_null(idem);
    gda_idem_outcome outcome = 0;
    gda_idem_lease lease;
    memset(res, 0, sizeof *res);
    *st_out = gda_idem_begin(idem, key, payload_hash(), TEST_PRINCIPAL, 0, &outcome, &lease, res, &err);
    if (*st_out == GDA_OK && outcome == GDA_IDEM_NEW) {
        /* Not expected by any caller here: give the key back at once so the
         * failure is reported by the assertion, not by a stuck lease. */
        gda_idem_abort(idem, &lease, NULL, NULL);
    }
    gda_idem_free(idem);
    gda_store_close(store);
    return outcome;
}

static void expect_in_progress(env *e, const char *key)
{
    gda_status st;
    gda_idem_result res;
    gda_idem_outcome outcome = retry(e, key, &st, &res);
    assert_int_equal(outcome, GDA_IDEM_IN_PROGRESS);
    assert_int_equal(st, GDA_ERR_IN_PROGRESS);
    assert_true(res.retry_after_ms > 0);
    gda_idem_result_clear(&res);
}

static void expect_replay_of(env *e, const char *key, const char *who)
{
    gda_status st;
    gda_idem_result res;
    gda_idem_outcome outcome = retry(e, key, &st, &res);
    assert_int_equal(st, GDA_OK);
    assert_int_equal(outcome, GDA_IDEM_REPLAY);
    assert_int_equal(res.status_code, 200);
    char body[128];
    body_of(who, body, sizeof body);
    assert_int_equal(res.body_len, strlen(body));
    assert_memory_equal(res.body, body, res.body_len);
    gda_idem_result_clear(&res);
}

static void expect_ledger(env *e, const char *want)
{
    FILE *f = fopen(e->ledger, "r");
    assert_non_null(f);
    char text[1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_string_equal(text, want);
}

/* ---- fixtures ----------------------------------------------------------- */

static int env_setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    const char *base = getenv("TMPDIR");
    snprintf(e->dir, sizeof e->dir, "%s/gda-crash-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(e->dir)) {
        free(e);
        return -1;
    }
    snprintf(e->db, sizeof e->db, "%s/store.db", e->dir);
    snprintf(e->ledger, sizeof e->ledger, "%s/ledger.txt", e->dir);
    e->clock = mmap(NULL, sizeof *e->clock, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
    if (e->clock == MAP_FAILED) {
        rmdir(e->dir);
        free(e);
        return -1;
    }
    set_clock(e, T0_MS);
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    env *e = *state;
    static const char *const names[] = {"store.db", "store.db-wal", "store.db-shm",
                                        "ledger.txt"};
    char path[320];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", e->dir, names[i]);
        unlink(path);
    }
    rmdir(e->dir);
    if (e->clock)
        munmap(e->clock, sizeof *e->clock);
    free(e);
    return 0;
}

/* ---- cases -------------------------------------------------------------- */

static void test_killed_executor_injected_clock(void **state)
{
    env *e = *state;
    const char *key = "crash-1";
    child_proc a = spawn(e, ROLE_BEGIN_THEN_HANG, key, "A");
    int64_t lease_until = read_lease(&a);
    assert_int_equal(lease_until, T0_MS + LEASE_MS);
    kill(a.pid, SIGKILL);
    reap(&a, true);

    /* The dead process's lease still holds: retries are refused, right up
     * to its last millisecond. */
    set_clock(e, T0_MS + 1000);
    expect_in_progress(e, key);
    set_clock(e, lease_until - 1);
    expect_in_progress(e, key);

    /* Once it has passed, one retry (another process) executes. */
    set_clock(e, lease_until);
    child_proc b = spawn(e, ROLE_EXECUTE, key, "B");
    assert_int_equal(read_lease(&b), lease_until + LEASE_MS);
    reap(&b, false);

    /* Every retry after that replays B's result; nobody executes again. */
    expect_replay_of(e, key, "B");
    set_clock(e, lease_until + 5 * LEASE_MS);
    expect_replay_of(e, key, "B");
    expect_ledger(e, "begin crash-1 A\nbegin crash-1 B\ndone crash-1 B\n");
}

static void test_repeated_crashes_then_success(void **state)
{
    env *e = *state;
    const char *key = "crash-2";
    /* Three executors die one after another, each after its predecessor's
     * lease passed; the fourth finishes. */
    static const char *const who[] = {"A", "B", "C"};
    int64_t now = T0_MS;
    for (int i = 0; i < 3; i++) {
        set_clock(e, now);
        child_proc c = spawn(e, ROLE_BEGIN_THEN_HANG, key, who[i]);
        int64_t lease_until = read_lease(&c);
        kill(c.pid, SIGKILL);
        reap(&c, true);
        expect_in_progress(e, key);
        now = lease_until;
    }
    set_clock(e, now);
    child_proc d = spawn(e, ROLE_EXECUTE, key, "D");
    read_lease(&d);
    reap(&d, false);
    expect_replay_of(e, key, "D");
    expect_ledger(e, "begin crash-2 A\nbegin crash-2 B\nbegin crash-2 C\n"
                     "begin crash-2 D\ndone crash-2 D\n");
}

static void test_stalled_executor_is_fenced(void **state)
{
    env *e = *state;
    const char *key = "crash-3";
    child_proc a = spawn(e, ROLE_BEGIN_WAIT_COMPLETE, key, "A");
    int64_t lease_until = read_lease(&a);
    /* A stalls (GC pause, stopped VM) past its lease; B takes over. */
    kill(a.pid, SIGSTOP);
    set_clock(e, lease_until + 1);
    child_proc b = spawn(e, ROLE_EXECUTE, key, "B");
    read_lease(&b);
    reap(&b, false);
    /* A wakes up and tries to store its result: refused, B's stays. */
    kill(a.pid, SIGCONT);
    assert_int_equal(write(a.cmd_fd, "x", 1), 1);
    reap(&a, false);
    expect_replay_of(e, key, "B");
    expect_ledger(e, "begin crash-3 A\nbegin crash-3 B\ndone crash-3 B\nfenced crash-3 A\n");
}

static void test_killed_executor_real_clock(void **state)
{
    env *e = *state;
    const char *key = "crash-4";
    munmap(e->clock, sizeof *e->clock);
    e->clock = NULL; /* default hooks: CLOCK_REALTIME and nanosleep */

    child_proc a = spawn(e, ROLE_BEGIN_THEN_HANG, key, "A");
    int64_t lease_until = read_lease(&a);
    kill(a.pid, SIGKILL);
    reap(&a, true);

    /* The lease is 1.5 s; the retry comes within milliseconds of the kill. */
    if (real_ms() >= lease_until)
        fail_msg("this host took over %lld ms to kill and reap a child",
                 (long long)REAL_LEASE_MS);
    expect_in_progress(e, key);

    /* The default skew allowance keeps the lease for 2 s more. */
    while (real_ms() <= lease_until + GDA_STORE_DEFAULT_SKEW_MS) {
        struct timespec nap = {.tv_nsec = 20 * 1000000};
        nanosleep(&nap, NULL);
    }
    child_proc b = spawn(e, ROLE_EXECUTE, key, "B");
    read_lease(&b);
    reap(&b, false);
    expect_replay_of(e, key, "B");
    expect_ledger(e, "begin crash-4 A\nbegin crash-4 B\ndone crash-4 B\n");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)
    const struct CMUnitTest tests[] = {
        T(test_killed_executor_injected_clock),
        T(test_repeated_crashes_then_success),
        T(test_stalled_executor_is_fenced),
        T(test_killed_executor_real_clock),
    };
#undef T
    return cmocka_run_group_tests_name("crash_sqlite", tests, NULL, NULL);
}
