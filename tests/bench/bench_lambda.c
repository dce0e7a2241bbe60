/* Benchmark: the Lambda runtime (`bootstrap` with the example handler)
 * against the local Runtime API stand-in on loopback:
 *
 *   cold start  exec → first GET next, and exec → first response posted
 *               (median of COLD_RUNS fresh processes; includes loading the
 *               key ring and the customer table, building the app)
 *   throughput  direct invocations per second through the whole loop
 *               (next → decode → pipeline → encode → response), each with a
 *               new idempotency key so the handler really runs
 *   peak RSS    VmHWM of the runtime after the throughput run
 *   KMS cold start  the same with GDA_DATA_KEY_SOURCE=kms: one data key and
 *               the hash key decrypted through the KMS stand-in on loopback
 *               (tests/support/kms_standin.h) — the runtime's own cost of
 *               the start-up decrypt, without KMS's network round trips
 *   zip cold start  the same bootstrap packaged by gda-package-lambda and
 *               run from the unpacked zip through its launcher and bundled
 *               loader: with the system's libcurl, and with the HTTP(S)-only
 *               one (scripts/build-minimal-curl.sh) when its directory is
 *               given
 *
 * Usage (meson passes it):
 *   bench_lambda BOOTSTRAP [PACKAGER LAUNCHER CUSTOMERS_CSV [--library-path DIR]]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <sodium.h>

#include "harness.h"
#include "kms_standin.h"
#include "runtime_standin.h"

#define COLD_RUNS 7
#define INVOCATIONS 30000

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static const char *direct_event =
    "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\",\"requestId\":\"bench-{{n}}\","
    "\"callerId\":\"+15551234567\",\"timestamp\":\"2026-11-24T10:00:00Z\"}";

/* Median (sorted arrays) of COLD_RUNS fresh starts of program: exec → first
 * GET next, exec → first response. false when the runtime did not answer. */
static bool cold_start(const char *program, const char *const *env, int64_t *to_next,
                       int64_t *to_response)
{
    for (int i = 0; i < COLD_RUNS; i++) {
        rapi *r = rapi_start(NULL);
        if (!r)
            return false;
        rapi_push_repeat(r, direct_event, strlen(direct_event), 1);
        int64_t t0 = rapi_now_ns();
        pid_t pid = harness_spawn(program, rapi_address(r), env, NULL, NULL);
        if (pid < 0 || !rapi_wait_finished(r, 1, 10000)) {
            fprintf(stderr, "bench_lambda: %s did not answer\n", program);
            return false;
        }
        rapi_stats st;
        rapi_stats_get(r, &st);
        to_next[i] = st.first_next_ns - t0;
        to_response[i] = st.first_finished_ns - t0;
        bool stopped = harness_stop(pid);
        rapi_stop(r);
        if (!stopped)
            return false;
    }
    qsort(to_next, COLD_RUNS, sizeof to_next[0], cmp_i64);
    qsort(to_response, COLD_RUNS, sizeof to_response[0], cmp_i64);
    return true;
}

/* prefix followed by the base64 of blob, into out. */
static void blob_env(const char *prefix, const uint8_t *blob, size_t len, char *out, size_t size)
{
    size_t at = (size_t)snprintf(out, size, "%s", prefix);
    sodium_bin2base64(out + at, size - at, blob, len, sodium_base64_VARIANT_ORIGINAL);
}

/* Cold start with the keys from the KMS stand-in (a SQLite store, as a
 * sealed deployment has). */
static bool kms_cold_start(const char *program, const char *ring_env)
{
    kms_standin *kms = kms_standin_start("eu-west-1", NULL);
    char dir[] = "/tmp/gda-bench-kms-XXXXXX";
    if (!kms || !mkdtemp(dir))
        return false;
    uint8_t key[32], *blob = NULL, *hblob = NULL;
    size_t len = 0, hlen = 0;
    randombytes_buf(key, sizeof key);
    bool ok = kms_standin_encrypt(kms, NULL, key, sizeof key, "d1", &blob, &len) &&
              kms_standin_encrypt_hash_key(kms, NULL, key, sizeof key, &hblob, &hlen);
    char keys_env[1200], hash_env[1200], raw_hash[100], endpoint_env[128], store_env[128];
    if (ok) {
        blob_env("GDA_DATA_KEYS=d1:", blob, len, keys_env, sizeof keys_env);
        blob_env("GDA_HASH_KEY=", hblob, hlen, hash_env, sizeof hash_env);
        blob_env("GDA_HASH_KEY=", key, sizeof key, raw_hash, sizeof raw_hash);
        snprintf(endpoint_env, sizeof endpoint_env, "GDA_KMS_ENDPOINT=%s",
                 kms_standin_endpoint(kms));
        snprintf(store_env, sizeof store_env, "GDA_STORE=sqlite:%s/idem.db", dir);
    }
    free(blob);
    free(hblob);
    const char *env[] = {ring_env, store_env, keys_env, hash_env, endpoint_env,
                         "GDA_DATA_KEY_SOURCE=kms", "AWS_REGION=eu-west-1",
                         "AWS_ACCESS_KEY_ID=" KMS_STANDIN_AKID,
                         "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                         "AWS_SESSION_TOKEN", "GDA_LOG_LEVEL=ERROR", NULL};
    const char *plain[] = {ring_env, store_env, raw_hash, "GDA_LOG_LEVEL=ERROR", NULL};
    int64_t kn[COLD_RUNS], kr[COLD_RUNS], pn[COLD_RUNS], pr[COLD_RUNS];
    ok = ok && cold_start(program, plain, pn, pr) && cold_start(program, env, kn, kr);
    if (ok)
        printf("lambda cold start, SQLite store: exec -> first response %.2f ms with raw keys, "
               "%.2f ms with GDA_DATA_KEY_SOURCE=kms (1 data key + the hash key through the "
               "loopback KMS stand-in; median of %d)\n",
               (double)pr[COLD_RUNS / 2] / 1e6, (double)kr[COLD_RUNS / 2] / 1e6, COLD_RUNS);
    kms_standin_stop(kms);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 && ok;
}

/* Package bootstrap with packager (extra: more packager options), unpack it
 * into a scratch directory and measure its cold start there. */
static bool zip_cold_start(const char *packager, const char *bootstrap, const char *launcher,
                           const char *csv, const char *extra, const char *label,
                           const char *ring_env)
{
    char dir[] = "/tmp/gda-bench-zip-XXXXXX";
    if (!mkdtemp(dir))
        return false;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' '%s' --launcher '%s' --data '%s' %s -o '%s/function.zip' >/dev/null && "
             "mkdir '%s/task' && cd '%s/task' && unzip -q ../function.zip",
             packager, bootstrap, launcher, csv, extra, dir, dir, dir);
    bool ok = system(cmd) == 0;
    char program[300], task_env[300], zip[300];
    snprintf(program, sizeof program, "%s/task/bootstrap", dir);
    snprintf(task_env, sizeof task_env, "LAMBDA_TASK_ROOT=%s/task", dir);
    snprintf(zip, sizeof zip, "%s/function.zip", dir);
    const char *env[] = {ring_env, task_env, "GDA_STORE=memory:100000", "GDA_LOG_LEVEL=ERROR", NULL};
    int64_t to_next[COLD_RUNS], to_response[COLD_RUNS];
    ok = ok && cold_start(program, env, to_next, to_response);
    if (ok) {
        struct stat sb;
        long long size = stat(zip, &sb) == 0 ? (long long)sb.st_size : -1;
        printf("lambda zip cold start (%s, %lld-byte zip): exec -> first next %.2f ms, "
               "exec -> first response %.2f ms (median of %d)\n",
               label, size, (double)to_next[COLD_RUNS / 2] / 1e6,
               (double)to_response[COLD_RUNS / 2] / 1e6, COLD_RUNS);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 && ok;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 5 && !(argc == 7 && strcmp(argv[5], "--library-path") == 0)) {
        fprintf(stderr, "usage: %s BOOTSTRAP [PACKAGER LAUNCHER CUSTOMERS_CSV [--library-path DIR]]\n",
                argv[0]);
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    char *ring, *token;
    harness_make_key("k1", &ring, &token);
    char ring_env[200];
    snprintf(ring_env, sizeof ring_env, "GDA_SECRETS=%s", ring);
    const char *env[] = {ring_env, "GDA_STORE=memory:100000", "GDA_LOG_LEVEL=ERROR", NULL};

    int64_t to_next[COLD_RUNS], to_response[COLD_RUNS];
    if (!cold_start(argv[1], env, to_next, to_response))
        return 1;

    rapi *r = rapi_start(NULL);
    if (!r)
        return 1;
    rapi_push_repeat(r, direct_event, strlen(direct_event), INVOCATIONS + 100);
    pid_t pid = harness_spawn(argv[1], rapi_address(r), env, NULL, NULL);
    if (pid < 0 || !rapi_wait_finished(r, 100, 10000)) /* warm-up */
        return 1;
    int64_t t0 = rapi_now_ns();
    if (!rapi_wait_finished(r, INVOCATIONS + 100, 120000))
        return 1;
    double secs = (double)(rapi_now_ns() - t0) / 1e9;
    long hwm = harness_hwm_kib(pid);
    rapi_stats st;
    rapi_stats_get(r, &st);
    bool clean = harness_stop(pid);
    rapi_stop(r);

    printf("lambda cold start: exec -> first next %.2f ms, exec -> first response %.2f ms "
           "(median of %d; min %.2f / %.2f ms)\n",
           (double)to_next[COLD_RUNS / 2] / 1e6, (double)to_response[COLD_RUNS / 2] / 1e6,
           COLD_RUNS, (double)to_next[0] / 1e6, (double)to_response[0] / 1e6);
    printf("lambda loop: %d invocations in %.2f s = %.0f invocations/s (%.1f us each, %llu errors)\n",
           INVOCATIONS, secs, INVOCATIONS / secs, secs * 1e6 / INVOCATIONS,
           (unsigned long long)st.errors);
    printf("lambda peak RSS (VmHWM): %ld KiB\n", hwm);
    clean = kms_cold_start(argv[1], ring_env) && clean;
    if (argc >= 5) {
        clean = zip_cold_start(argv[2], argv[1], argv[3], argv[4], "", "system libcurl", ring_env) &&
                clean;
        if (argc == 7) {
            char opt[1200];
            snprintf(opt, sizeof opt, "--library-path '%s'", argv[6]);
            clean = zip_cold_start(argv[2], argv[1], argv[3], argv[4], opt, "minimal libcurl",
                                   ring_env) && clean;
        }
    }
    free(ring);
    free(token);
    return clean && st.errors == 0 ? 0 : 1;
}
