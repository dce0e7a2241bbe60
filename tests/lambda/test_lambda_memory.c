/* Integration: 100,000 invocations through the real runtime loop
 * (bootstrap-test, every request a new idempotency key so the handler runs
 * each time) with flat memory: VmRSS after 100k may exceed VmRSS after 30k by
 * at most 1 MiB. A leak of even 16 bytes per invocation would add ~1.1 MiB
 * over the 70k in between. The records go to a SQLite store on tmpfs (a
 * Lambda's /tmp, without the fsync cost): the memory store keeps every live
 * record by design, so its size would follow the live set, whereas SQLite's
 * page cache is bounded and full well before the 30k-th invocation.
 *
 * Usage (meson passes it): test_lambda_memory BOOTSTRAP_TEST
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"
#include "runtime_standin.h"

static const char *bootstrap_test_path;

#define TOTAL 100000
#define WARM 30000
#define MAX_GROWTH_KIB 1024

static void test_flat_rss_over_100k_invocations(void **state)
{
    (void)state;
    rapi *r = rapi_start(NULL);
    assert_non_null(r);
    char *ring, *token;
    harness_make_key("k1", &ring, &token);
    char ring_env[200];
    snprintf(ring_env, sizeof ring_env, "GDA_SECRETS=%s", ring);
    char db[96], store_env[128];
    snprintf(db, sizeof db, "/dev/shm/gda-lambda-memory-%d.db", (int)getpid());
    snprintf(store_env, sizeof store_env, "GDA_STORE=sqlite:%s", db);
    const char *env[] = {ring_env, store_env, "GDA_LOG_LEVEL=ERROR",
                         "GDA_DATA_KEY=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", NULL};
    /* A direct invocation: the body itself, with a distinct requestId each time. */
    const char *tmpl = "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\","
                       "\"requestId\":\"mem-{{n}}\",\"callerId\":\"+15551234567\","
                       "\"timestamp\":\"2026-11-24T10:00:00Z\"}";
    assert_int_equal(rapi_push_repeat(r, tmpl, strlen(tmpl), TOTAL), 0);
    pid_t pid = harness_spawn(bootstrap_test_path, rapi_address(r), env, NULL, NULL);
    assert_true(pid > 0);

    int64_t t0 = rapi_now_ns();
    assert_true(rapi_wait_finished(r, WARM, 60000));
    long rss_warm = harness_rss_kib(pid);
    assert_true(rapi_wait_finished(r, TOTAL, 100000));
    long rss_end = harness_rss_kib(pid);
    double secs = (double)(rapi_now_ns() - t0) / 1e9;

    rapi_stats st;
    rapi_stats_get(r, &st);
    fprintf(stderr, "lambda memory: %d invocations in %.1f s (%.0f/s); VmRSS %ld KiB at %dk, %ld KiB at %dk\n",
            TOTAL, secs, TOTAL / secs, rss_warm, WARM / 1000, rss_end, TOTAL / 1000);
    assert_int_equal(st.responses, TOTAL); /* every one answered, none failed */
    assert_int_equal(st.errors, 0);
    assert_true(rss_warm > 0 && rss_end > 0);
    assert_true(rss_end - rss_warm <= MAX_GROWTH_KIB);

    kill(pid, SIGTERM);
    int status = 0;
    assert_true(harness_wait(pid, 5000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char file[128];
        snprintf(file, sizeof file, "%s%s", db, suffixes[i]);
        unlink(file);
    }
    rapi_stop(r);
    free(ring);
    free(token);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BOOTSTRAP_TEST\n", argv[0]);
        return 2;
    }
    bootstrap_test_path = argv[1];
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_rss_over_100k_invocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
