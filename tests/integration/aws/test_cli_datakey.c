/* Integration: gda datakey (shims/cli/datakey.c) against the KMS stand-in.
 * `new` prints one ring entry whose blob decrypts (through the KMS client)
 * under the entry's own context; `show` lists the ids; refusals exit 2
 * without printing a blob. argv[1] is the gda binary. */
#include <fcntl.h>
#include <setjmp.h>
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

#include "aws_credentials.h"
#include "base64.h"
#include "kms.h"
#include "kms_standin.h"

#define REGION "eu-west-1"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static const char *gda_bin;
static kms_standin *ks;

typedef struct run_result {
    int code;
    char out[8192];
    char err[8192];
} run_result;

static void slurp(int fd, char *buf, size_t size)
{
    size_t n = 0;
    lseek(fd, 0, SEEK_SET);
    for (ssize_t got; n + 1 < size && (got = read(fd, buf + n, size - n - 1)) > 0;)
        n += (size_t)got;
    buf[n] = '\0';
    close(fd);
}

static int temp_file(const char *content)
{
    char path[] = "/tmp/gda-datakey-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    if (content)
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* Run gda with args (NULL-terminated) and stdin text; env is the stand-in's
 * credentials, region and endpoint unless bare. */
static void run(run_result *r, const char *stdin_text, bool bare, const char *const *args)
{
    int in = temp_file(stdin_text ? stdin_text : "");
    int out = temp_file(NULL), err = temp_file(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        char endpoint[96];
        snprintf(endpoint, sizeof endpoint, "GDA_KMS_ENDPOINT=%s", kms_standin_endpoint(ks));
        char *env_full[] = {"AWS_ACCESS_KEY_ID=" KMS_STANDIN_AKID, "AWS_SECRET_ACCESS_KEY=" SECRET,
                            "AWS_REGION=" REGION, endpoint, NULL};
        char *env_bare[] = {NULL};
        char *argv[32] = {(char *)gda_bin};
        for (size_t i = 0; args[i] && i < 30; i++)
            argv[i + 1] = (char *)args[i];
        execve(gda_bin, argv, bare ? env_bare : env_full);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    close(in);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
}

/* Decrypt entry "id:BASE64" (one line) as the engine would; a line without
 * an id is the hash key's ciphertext. */
static gda_status decrypt_entry(const char *line, uint8_t key[GDA_KMS_DATA_KEY_BYTES])
{
    const char *colon = strchr(line, ':');
    char id[65] = "";
    if (colon)
        snprintf(id, sizeof id, "%.*s", (int)(colon - line), line);
    else
        colon = line - 1;
    uint8_t blob[GDA_KMS_CIPHERTEXT_MAX];
    size_t blob_len = 0;
    assert_true(gda_base64_decode(colon + 1, strcspn(colon + 1, "\n"), GDA_BASE64_STANDARD, blob,
                                  sizeof blob, &blob_len));
    gda_aws_credentials *creds = NULL;
    gda_error err;
    assert_int_equal(gda_aws_credentials_new(KMS_STANDIN_AKID, SECRET, NULL, &creds, &err),
                     GDA_OK);
    gda_kms *kms = NULL;
    assert_int_equal(gda_kms_new(REGION, kms_standin_endpoint(ks), creds, 0, &kms, &err), GDA_OK);
    gda_kms_context_pair ctx[GDA_KMS_DATA_KEY_CONTEXT_PAIRS];
    size_t n_ctx = id[0] ? GDA_KMS_DATA_KEY_CONTEXT_PAIRS : GDA_KMS_HASH_KEY_CONTEXT_PAIRS;
    if (id[0])
        gda_kms_data_key_context(id, ctx);
    else
        gda_kms_hash_key_context(ctx);
    gda_status st = gda_kms_decrypt(kms, blob, blob_len, ctx, n_ctx, NULL, 0, key, &err);
    gda_kms_free(kms);
    return st;
}

static void test_new_prints_an_entry_that_decrypts(void **state)
{
    (void)state;
    run_result r;
    run(&r, NULL, false,
        (const char *const[]){"datakey", "new", "--kms-key", KMS_STANDIN_ALIAS, "--id", "d1", NULL});
    assert_int_equal(r.code, 0);
    assert_memory_equal(r.out, "d1:", 3);
    assert_non_null(strchr(r.out, '\n'));
    assert_int_equal(strchr(r.out, '\n')[1], '\0'); /* one line */
    uint8_t *key = sodium_malloc(GDA_KMS_DATA_KEY_BYTES);
    assert_int_equal(decrypt_entry(r.out, key), GDA_OK);
    assert_false(sodium_is_zero(key, GDA_KMS_DATA_KEY_BYTES));
    /* Bound to its id: the same blob as entry d2 does not decrypt. */
    r.out[1] = '2';
    assert_int_equal(decrypt_entry(r.out, key), GDA_ERR_CONFIG);
    sodium_free(key);

    /* Default id d + YYYYMMDD; --endpoint and --region instead of the environment. */
    run(&r, NULL, false,
        (const char *const[]){"datakey", "new", "--kms-key", kms_standin_key_arn(ks, 0),
                              "--endpoint", kms_standin_endpoint(ks), "--region", REGION, NULL});
    assert_int_equal(r.code, 0);
    assert_int_equal(r.out[0], 'd');
    assert_int_equal(strspn(r.out + 1, "0123456789"), 8);
    assert_int_equal(r.out[9], ':');

    /* --hash-key: no id, bound to {"libgda":"hash-key"}, which a data-key
     * context does not open; an id with it is a usage error. */
    run(&r, NULL, false,
        (const char *const[]){"datakey", "new", "--kms-key", KMS_STANDIN_ALIAS, "--hash-key", NULL});
    assert_int_equal(r.code, 0);
    assert_null(strchr(r.out, ':'));
    key = sodium_malloc(GDA_KMS_DATA_KEY_BYTES);
    assert_int_equal(decrypt_entry(r.out, key), GDA_OK);
    char relabelled[sizeof r.out + 4];
    snprintf(relabelled, sizeof relabelled, "h:%s", r.out);
    assert_int_equal(decrypt_entry(relabelled, key), GDA_ERR_CONFIG);
    sodium_free(key);
    run(&r, NULL, false,
        (const char *const[]){"datakey", "new", "--kms-key", KMS_STANDIN_ALIAS, "--hash-key", "--id",
                              "d1", NULL});
    assert_int_equal(r.code, 2);
}

static void test_show_lists_ids(void **state)
{
    (void)state;
    uint8_t plain[GDA_KMS_DATA_KEY_BYTES] = {7};
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    assert_true(kms_standin_encrypt(ks, NULL, plain, sizeof plain, "d2", &blob, &blob_len));
    char b64[512], ring[1200], expect[256];
    sodium_bin2base64(b64, sizeof b64, blob, blob_len, sodium_base64_VARIANT_ORIGINAL);
    free(blob);
    snprintf(ring, sizeof ring, "d2:%s, d1:%s\n", b64, b64);
    snprintf(expect, sizeof expect, "d2\t%zu bytes\tencrypts new records\nd1\t%zu bytes\tdecrypts only\n",
             blob_len, blob_len);
    run_result r;
    run(&r, NULL, true, (const char *const[]){"datakey", "show", ring, NULL});
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, expect);
    run(&r, ring, true, (const char *const[]){"datakey", "show", NULL});
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, expect);
    run(&r, ring, true, (const char *const[]){"datakey", "show", "--ring-file", "-", NULL});
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, expect);

    /* Refusals name the position and never print the blob. */
    static const char *const bad[][2] = {
        {"d1:AAAA,d2", "ring entry 2: expected id:BASE64"},
        {"d1:AA@A", "ring entry 1: the value is not base64"},
        {"d1:AAAA,,d3:AAAA", "ring entry 2: empty entry"},
        {"d1:AAAA,d1:AQID", "ring entry 2: duplicate id"},
        {"bad id:AAAA", "ring entry 1: the id must be"},
        {"", "ring entry 1: empty entry"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(&r, NULL, true, (const char *const[]){"datakey", "show", bad[i][0], NULL});
        assert_int_equal(r.code, 2);
        if (!strstr(r.err, bad[i][1]))
            fail_msg("\"%s\": expected \"%s\" in \"%s\"", bad[i][0], bad[i][1], r.err);
        assert_null(strstr(r.err, "AAAA"));
        assert_string_equal(r.out, "");
    }
}

static void test_refusals_exit_2(void **state)
{
    (void)state;
    run_result r;
    kms_standin_set(ks, KMS_STANDIN_DENY_ALL, 1);
    run(&r, NULL, false,
        (const char *const[]){"datakey", "new", "--kms-key", KMS_STANDIN_ALIAS, NULL});
    kms_standin_set(ks, KMS_STANDIN_DENY_ALL, 0);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "AccessDeniedException"));
    assert_string_equal(r.out, "");

    run(&r, NULL, true,
        (const char *const[]){"datakey", "new", "--kms-key", KMS_STANDIN_ALIAS, "--region",
                              REGION, NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "AWS_ACCESS_KEY_ID"));

    run(&r, NULL, false, (const char *const[]){"datakey", "new", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--kms-key is required"));
    run(&r, NULL, false,
        (const char *const[]){"datakey", "new", "--kms-key", KMS_STANDIN_ALIAS, "--id", "a:b", NULL});
    assert_int_equal(r.code, 2);
    run(&r, NULL, false,
        (const char *const[]){"datakey", "new", "--kms-key", "alias/missing", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "NotFoundException"));
    run(&r, NULL, false, (const char *const[]){"datakey", "rotate", NULL});
    assert_int_equal(r.code, 2);

    static const char *const helps[][3] = {{"datakey", "--help", NULL},
                                          {"datakey", "new", "--help"},
                                          {"datakey", "show", "--help"}};
    for (size_t i = 0; i < 3; i++) {
        const char *args[4] = {helps[i][0], helps[i][1], helps[i][2], NULL};
        run(&r, NULL, true, args);
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "usage: gda datakey"));
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: test_cli_datakey PATH-TO-gda\n");
        return 1;
    }
    gda_bin = argv[1];
    ks = kms_standin_start(REGION, NULL);
    if (!ks)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_prints_an_entry_that_decrypts),
        cmocka_unit_test(test_show_lists_ids),
        cmocka_unit_test(test_refusals_exit_2),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kms_standin_stop(ks);
    return rc;
}
