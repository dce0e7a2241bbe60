/* Integration: function.zip runs in an empty root.
 *
 * Each zip is unpacked into <empty dir>/var/task and its bootstrap runs
 * chrooted into that directory — no /bin/sh, no /lib, no /etc, no /proc,
 * nothing from the host — against the Runtime API stand-in on loopback (the
 * network namespace is shared, the file system is not).
 *
 *   - the tree's zip (gda-package-lambda of the build, the example handler):
 *     an API Gateway event and a direct invocation, then a clean SIGTERM;
 *   - a user's own handler (examples/own-lambda) built the way
 *     docs/getting-started.md says: `meson install --destdir`, compiled
 *     outside the tree with pkg-config against that install, packaged by the
 *     *installed* gda-package-lambda, tried with the installed `gda invoke`
 *     (200, then the replay); then in the chroot a signed request (HMAC) 200,
 *     its retry replayed byte for byte, a tampered body 401.
 *
 * Needs root (chroot). Usage (meson passes them):
 *   test_lambda_package PACKAGE_SCRIPT BOOTSTRAP LAUNCHER CUSTOMERS_CSV
 *                       MESON BUILD_ROOT OWN_LAMBDA_DIR CC [--library-path DIR]
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include <gda/sign.h>
#include <gda/verify.h>

#include "harness.h"
#include "runtime_standin.h"

static const char *script, *bootstrap, *launcher, *csv;
static const char *meson, *build_root, *own_dir, *cc;
static const char *library_path; /* the minimal libcurl's directory, or NULL */

static bool exists_in(const char *root, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* The packager's --library-path option, when the build has a minimal libcurl. */
static const char *library_option(void)
{
    static char opt[1200];
    if (library_path)
        snprintf(opt, sizeof opt, "--library-path '%s'", library_path);
    return opt;
}

/* Both tests chroot, so need root; each works in its own scratch dir. */
static void start_as_root_in(char *dir)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_lambda_package needs root for chroot(2); run the tests as root "
                        "(e.g. in the CI container)\n");
        fail();
    }
    assert_non_null(mkdtemp(dir));
}

static void run_or_fail(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "failed (%d): %s\n", rc, cmd);
    assert_int_equal(rc, 0);
}

/* Unpack dir/function.zip into dir/root/var/task; check that every path of
 * expected is there, that no path of absent is, and that the root holds the
 * task and nothing else. root gets dir/root. */
static void unpack_checked(const char *dir, const char *const *expected, const char *const *absent,
                           char *root, size_t root_size)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/root/var/task' && cd '%s/root/var/task' && unzip -q ../../../function.zip",
             dir, dir);
    run_or_fail(cmd);
    snprintf(root, root_size, "%s/root", dir);
    char task[400];
    snprintf(task, sizeof task, "%s/var/task", root);
    for (; *expected; expected++) {
        if (!exists_in(task, *expected))
            fprintf(stderr, "missing from the zip: %s\n", *expected);
        assert_true(exists_in(task, *expected));
    }
    for (; absent && *absent; absent++) {
        if (exists_in(task, *absent))
            fprintf(stderr, "in the zip but not needed: %s\n", *absent);
        assert_false(exists_in(task, *absent));
    }
    DIR *d = opendir(root);
    assert_non_null(d);
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);
    assert_false(exists_in(root, "bin/sh"));
}

/* Libraries Debian's libcurl pulls in and the minimal one does not. */
static const char *const curl_extras[] = {"lib/libgnutls.so.30", "lib/libldap-2.5.so.0",
                                          "lib/libssh2.so.1", "lib/libkrb5.so.3",
                                          "lib/libnghttp2.so.14", NULL};

static void print_file(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cat '%s' >&2", path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

/* Run /var/task/bootstrap chrooted in root against r until it has answered
 * n invocations (the log is shown when it has not). */
static pid_t serve_in_chroot(rapi *r, const char *root, const char *const *env, const char *log,
                             uint64_t n)
{
    pid_t pid = harness_spawn("/var/task/bootstrap", rapi_address(r), env, log, root);
    assert_true(pid > 0);
    bool done = rapi_wait_finished(r, n, 15000);
    if (!done)
        print_file(log);
    assert_true(done);
    return pid;
}

static void test_zip_runs_in_empty_chroot(void **state)
{
    (void)state;
    char dir[] = "/tmp/gda-zip-XXXXXX";
    start_as_root_in(dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s' --launcher '%s' --data '%s' %s -o '%s/function.zip' >/dev/null",
             script, bootstrap, launcher, csv, library_option(), dir);
    run_or_fail(cmd);
    static const char *const expected[] = {
        "bootstrap", "bin/gda-bootstrap", "lib/ld.so", "lib/libc.so.6", "lib/libcurl.so.4",
        "lib/libjansson.so.4", "lib/libsodium.so.23", "lib/libcrypto.so.3", "lib/libgda.so.0",
        "lib/libgda-lambda.so.0", "lib/libgda-env.so.0", "customers.csv", NULL};
    char root[300];
    unpack_checked(dir, expected, library_path ? curl_extras : NULL, root, sizeof root);

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

    pid_t pid = serve_in_chroot(r, root, env, log, 2);
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

    assert_true(harness_stop(pid)); /* SIGTERM: a clean exit */
    rapi_stop(r);
    free(ring);
    free(token);
    free(body);
    free(direct);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The first line of `cmd`'s output (without the newline) into out. */
static void first_line_of(const char *cmd, char *out, size_t size)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = '\0';
    if (fgets(out, (int)size, p))
        out[strcspn(out, "\n")] = '\0';
    pclose(p);
    if (!out[0])
        fprintf(stderr, "no output from: %s\n", cmd);
    assert_true(out[0] != '\0');
}

/* An API Gateway event carrying body with the HMAC headers of signed_body. */
static char *hmac_event(gda_verifier *v, const char *signed_body, const char *body)
{
    gda_sign_params sp = {0};
    sp.now_ms = (int64_t)time(NULL) * 1000;
    gda_signed_headers sh = {0};
    gda_error err;
    assert_int_equal(gda_verifier_sign(v, &sp, (gda_slice){signed_body, strlen(signed_body)}, &sh, &err),
                     GDA_OK);
    json_t *ev = harness_load_event("apigw-rest.json");
    assert_non_null(ev);
    /* The action's URL has no query (the signature would bind it). */
    json_object_set_new(ev, "queryStringParameters", json_null());
    json_object_set_new(ev, "multiValueQueryStringParameters", json_null());
    for (size_t i = 0; i < sh.n; i++)
        harness_set_header(ev, sh.headers[i].name, sh.headers[i].value);
    harness_set_body(ev, body);
    char *text = harness_dump(ev);
    json_decref(ev);
    gda_signed_headers_release(&sh);
    return text;
}

static void test_own_handler_from_installed_tree(void **state)
{
    (void)state;
    char dir[] = "/tmp/gda-own-XXXXXX";
    start_as_root_in(dir);
    char cmd[8192];

    /* 1. Install, as a user would, into a scratch root. */
    snprintf(cmd, sizeof cmd,
             "'%s' install -C '%s' --destdir '%s/dest' --no-rebuild --quiet >'%s/install.log' 2>&1"
             " || { cat '%s/install.log' >&2; exit 1; }",
             meson, build_root, dir, dir, dir);
    run_or_fail(cmd);
    char pc_dir[1024], packager[1024];
    snprintf(cmd, sizeof cmd, "find '%s/dest' -name libgda-lambda.pc -printf '%%h\\n'", dir);
    first_line_of(cmd, pc_dir, sizeof pc_dir);
    snprintf(cmd, sizeof cmd, "find '%s/dest' -name gda-package-lambda -perm -u+x", dir);
    first_line_of(cmd, packager, sizeof packager);

    /* 2. The handler, compiled outside the source tree against that install. */
    snprintf(cmd, sizeof cmd,
             "mkdir '%s/src' && cp '%s/main.c' '%s/orders.csv' '%s/request.json' '%s/src/' && "
             "cd '%s/src' && "
             "export PKG_CONFIG_PATH='%s' PKG_CONFIG_SYSROOT_DIR='%s/dest' LD_LIBRARY_PATH='%s/..' && "
             "%s -std=c11 -Wall -Wextra -Wpedantic -Werror -o bootstrap main.c "
             "$(pkg-config --cflags --libs libgda-lambda libgda-store-dynamodb) && "
             "'%s' bootstrap --data orders.csv %s -o ../function.zip",
             dir, own_dir, own_dir, own_dir, dir, dir, pc_dir, dir, pc_dir, cc, packager,
             library_option());
    run_or_fail(cmd);

    /* 3. Tried before deploying with the installed `gda invoke`: HMAC-signed,
     * sent twice (200, then the same bytes replayed). */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && bin=$(dirname '%s') && ring=$(\"$bin/gda\" keygen --id k1) && "
             "LD_LIBRARY_PATH='%s/..' GDA_AUTH=hmac-sha256 GDA_SECRETS=\"$ring\" GDA_STORE=memory "
             "\"$bin/gda\" invoke --scheme hmac --keys \"$ring\" --repeat 2 "
             "--body-file src/request.json function.zip >invoke.out 2>invoke.err && "
             "[ \"$(grep -c '^attempt [12]: 200 ' invoke.out)\" = 2 ] && "
             "grep -q '\"status\":\"shipped\"' invoke.out && "
             "[ \"$(sed -n 2p invoke.out)\" = \"$(sed -n 4p invoke.out)\" ] || "
             "{ cat invoke.out invoke.err >&2; exit 1; }",
             dir, packager, pc_dir);
    run_or_fail(cmd);

    /* 4. Unpacked into an empty root. */
    static const char *const expected[] = {
        "bootstrap", "bin/gda-bootstrap", "lib/ld.so", "lib/libc.so.6", "lib/libcurl.so.4",
        "lib/libgda.so.0", "lib/libgda-lambda.so.0", "lib/libgda-env.so.0",
        "lib/libgda-store-dynamodb.so.0", "orders.csv", NULL};
    char root[300];
    unpack_checked(dir, expected, library_path ? curl_extras : NULL, root, sizeof root);

    /* 5. Served through the Runtime API stand-in, HMAC-signed like Genesys. */
    char *ring, *token;
    harness_make_key("k1", &ring, &token);
    gda_verifier *v = NULL;
    gda_error err;
    assert_int_equal(gda_verifier_new_from_config("hmac-sha256", ring, strlen(ring), NULL, &v, &err),
                     GDA_OK);
    char *body = harness_request_body("order-1", "\"orderId\":\"A10001\"");
    char *tampered = harness_request_body("order-1", "\"orderId\":\"A10003\"");
    char *signed_event = hmac_event(v, body, body);
    char *tampered_event = hmac_event(v, body, tampered);

    rapi *r = rapi_start(NULL);
    assert_non_null(r);
    uint64_t first = rapi_push(r, signed_event, strlen(signed_event), 0, NULL);
    uint64_t retry = rapi_push(r, signed_event, strlen(signed_event), 0, NULL);
    uint64_t bad = rapi_push(r, tampered_event, strlen(tampered_event), 0, NULL);
    char ring_env[200];
    snprintf(ring_env, sizeof ring_env, "GDA_SECRETS=%s", ring);
    const char *env[] = {ring_env, "GDA_AUTH=hmac-sha256", "LAMBDA_TASK_ROOT=/var/task",
                         "GDA_STORE=memory", "GDA_LOG_LEVEL=INFO", "PATH=/nonexistent", NULL};
    char log[400];
    snprintf(log, sizeof log, "%s/bootstrap.log", dir);
    pid_t pid = serve_in_chroot(r, root, env, log, 3);

    rapi_result res;
    char *first_body = NULL;
    for (uint64_t i = first; i <= bad; i++) {
        assert_true(rapi_get(r, i, &res));
        assert_int_equal(res.kind, RAPI_RESPONSE);
        json_t *resp = json_loadb(res.body, res.body_len, 0, NULL);
        assert_non_null(resp);
        const char *b = json_string_value(json_object_get(resp, "body"));
        int status = (int)json_integer_value(json_object_get(resp, "statusCode"));
        if (status != (i == bad ? 401 : 200)) {
            fprintf(stderr, "invocation %llu: %d %s\n", (unsigned long long)i, status, b);
            print_file(log);
        }
        if (i == first) {
            assert_int_equal(status, 200);
            assert_non_null(strstr(b, "\"status\":\"shipped\"")); /* from the zip's orders.csv */
            first_body = strdup(b);
        } else if (i == retry) {
            assert_int_equal(status, 200);
            assert_string_equal(b, first_body); /* replayed, not run again */
        } else {
            assert_int_equal(status, 401);
            assert_null(strstr(b, "delivered"));
        }
        json_decref(resp);
        rapi_result_clear(&res);
    }

    assert_true(harness_stop(pid)); /* SIGTERM: a clean exit */
    /* The handler ran once: the retry's log line says it was a replay. */
    snprintf(cmd, sizeof cmd,
             "grep -c '\"awsRequestId\":\"inv-0\".*\"outcome\":\"new\"' '%s' >/dev/null && "
             "grep -c '\"awsRequestId\":\"inv-1\".*\"outcome\":\"replay\"' '%s' >/dev/null",
             log, log);
    if (system(cmd) != 0)
        print_file(log);
    run_or_fail(cmd);
    rapi_stop(r);
    gda_verifier_free(v);
    free(first_body);
    free(signed_event);
    free(tampered_event);
    free(body);
    free(tampered);
    free(ring);
    free(token);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    if (argc != 9 && !(argc == 11 && strcmp(argv[9], "--library-path") == 0)) {
        fprintf(stderr, "usage: %s PACKAGE_SCRIPT BOOTSTRAP LAUNCHER CUSTOMERS_CSV MESON BUILD_ROOT "
                        "OWN_LAMBDA_DIR CC [--library-path DIR]\n", argv[0]);
        return 2;
    }
    script = argv[1];
    bootstrap = argv[2];
    launcher = argv[3];
    csv = argv[4];
    meson = argv[5];
    build_root = argv[6];
    own_dir = argv[7];
    cc = argv[8];
    library_path = argc == 11 ? argv[10] : NULL;
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zip_runs_in_empty_chroot),
        cmocka_unit_test(test_own_handler_from_installed_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
