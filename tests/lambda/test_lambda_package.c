/* Integration: function.zip runs in an empty root.
 *
 * Builds the zip with scripts/package-lambda.sh, unpacks it into
 * <empty dir>/var/task, and runs <root>/var/task/bootstrap chrooted into that
 * directory — no /bin/sh, no /lib, no /etc, no /proc, nothing from the host
 * — against the Runtime API stand-in on loopback (the network namespace is
 * shared, the file system is not). Checks real answers for an API Gateway
 * event and a direct invocation, then a clean SIGTERM.
 *
 * Needs root (chroot). Usage (meson passes them):
 *   test_lambda_package PACKAGE_SCRIPT BOOTSTRAP LAUNCHER CUSTOMERS_CSV
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"
#include "runtime_standin.h"

static const char *script, *bootstrap, *launcher, *csv;

static bool exists_in(const char *root, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void test_zip_runs_in_empty_chroot(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        fprintf(stderr, "test_lambda_package needs root for chroot(2); run the tests as root "
                        "(e.g. in the CI container)\n");
        fail();
    }
    char dir[] = "/tmp/gda-zip-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' --bootstrap '%s' --launcher '%s' --data '%s' --out '%s/function.zip' >/dev/null "
             "&& mkdir -p '%s/root/var/task' && cd '%s/root/var/task' && unzip -q ../../../function.zip",
             script, bootstrap, launcher, csv, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    char root[300], task[320];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(task, sizeof task, "%s/var/task", root);

    static const char *const expected[] = {
        "bootstrap", "bin/gda-bootstrap", "lib/ld.so", "lib/libc.so.6", "lib/libcurl.so.4",
        "lib/libjansson.so.4", "lib/libsodium.so.23", "lib/libcrypto.so.3", "lib/libgda.so.0",
        "lib/libgda-lambda.so.0", "customers.csv"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        if (!exists_in(task, expected[i]))
            fprintf(stderr, "missing from the zip: %s\n", expected[i]);
        assert_true(exists_in(task, expected[i]));
    }
    /* The root holds the task and nothing else. */
    DIR *d = opendir(root);
    assert_non_null(d);
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);
    assert_false(exists_in(root, "bin/sh"));

    rapi *r = rapi_start(NULL);
    assert_non_null(r);
    char *ring, *token;
    harness_make_key("k1", &ring, &token);
    char ring_env[200];
    snprintf(ring_env, sizeof ring_env, "GDA_SECRETS=%s", ring);
    const char *env[] = {ring_env, "LAMBDA_TASK_ROOT=/var/task", "GDA_STORE=memory",
                         "PATH=/nonexistent", NULL};
    char log[400];
    snprintf(log, sizeof log, "%s/bootstrap.log", dir);

    json_t *ev = harness_load_event("apigw-rest.json");
    assert_non_null(ev);
    harness_set_header(ev, "X-Genesys-Signature", token);
    char *body = harness_request_body("zip-1", NULL);
    harness_set_body(ev, body);
    char *text = harness_dump(ev);
    uint64_t a = rapi_push(r, text, strlen(text), 0, NULL);
    free(text);
    json_decref(ev);
    char *direct = harness_request_body("zip-2", NULL);
    uint64_t b = rapi_push(r, direct, strlen(direct), 0, NULL);

    pid_t pid = harness_spawn("/var/task/bootstrap", rapi_address(r), env, log, root);
    assert_true(pid > 0);
    bool done = rapi_wait_finished(r, 2, 15000);
    if (!done) {
        snprintf(cmd, sizeof cmd, "cat '%s' >&2", log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no log)\n");
    }
    assert_true(done);
    rapi_result res;
    assert_true(rapi_get(r, a, &res));
    assert_int_equal(res.kind, RAPI_RESPONSE);
    json_t *resp = json_loadb(res.body, res.body_len, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(resp, "statusCode")), 200);
    assert_non_null(strstr(json_string_value(json_object_get(resp, "body")), "\"tier\":\"gold\""));
    json_decref(resp);
    rapi_result_clear(&res);
    assert_true(rapi_get(r, b, &res));
    assert_int_equal(res.kind, RAPI_RESPONSE);
    assert_non_null(strstr(res.body, "\"tier\":\"gold\"")); /* read from the zip's customers.csv */
    rapi_result_clear(&res);

    kill(pid, SIGTERM);
    int status = 0;
    assert_true(harness_wait(pid, 5000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    rapi_stop(r);
    free(ring);
    free(token);
    free(body);
    free(direct);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s PACKAGE_SCRIPT BOOTSTRAP LAUNCHER CUSTOMERS_CSV\n", argv[0]);
        return 2;
    }
    script = argv[1];
    bootstrap = argv[2];
    launcher = argv[3];
    csv = argv[4];
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zip_runs_in_empty_chroot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
