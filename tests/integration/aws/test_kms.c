/* Integration: the KMS client (lib/aws/kms.c) against the KMS stand-in
 * (tests/support/kms_standin.c), which really encrypts: data-key round
 * trips, the encryption context binding, KMS refusals mapped to
 * GDA_ERR_CONFIG, throttling and 5xx retried then GDA_ERR_UNAVAILABLE, the
 * deadline, missing credentials, and the stand-in's SigV4 scope check
 * refusing a client that signs for another region. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "aws_credentials.h"
#include "kms.h"
#include "kms_standin.h"

#define REGION "eu-west-1"
#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLEKMSTOKEN"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

typedef struct kfx {
    kms_standin *ks;
    uint8_t *key; /* sodium_malloc, GDA_KMS_DATA_KEY_BYTES: where callers keep data keys */
    /* A data key of ring entry "d1" as the stand-in encrypts it. */
    uint8_t plain[GDA_KMS_DATA_KEY_BYTES];
    uint8_t *blob;
    size_t blob_len;
} kfx;

static int setup(void **state)
{
    kfx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->ks = kms_standin_start(REGION, TOKEN);
    f->key = sodium_malloc(GDA_KMS_DATA_KEY_BYTES);
    if (!f->ks || !f->key)
        return -1;
    randombytes_buf(f->plain, sizeof f->plain);
    if (!kms_standin_encrypt(f->ks, NULL, f->plain, sizeof f->plain, "d1", &f->blob,
                             &f->blob_len))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    kfx *f = *state;
    kms_standin_stop(f->ks);
    sodium_free(f->key);
    free(f->blob);
    free(f);
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client of the stand-in signing for region, with or without the token. */
static gda_kms *client(kfx *f, const char *region, bool token, int64_t timeout_ms)
{
    gda_aws_credentials *creds = NULL;
    gda_error err;
    assert_int_equal(gda_aws_credentials_new(KMS_STANDIN_AKID, SECRET, token ? TOKEN : NULL,
                                             &creds, &err),
                     GDA_OK);
    gda_kms *kms = NULL;
    assert_int_equal(gda_kms_new(region, kms_standin_endpoint(f->ks), creds, timeout_ms, &kms,
                                 &err),
                     GDA_OK);
    return kms;
}

static void generate(gda_kms *kms, const char *ring_id, uint8_t *plain, uint8_t **blob,
                     size_t *blob_len)
{
    gda_kms_context_pair ctx[GDA_KMS_DATA_KEY_CONTEXT_PAIRS];
    gda_kms_data_key_context(ring_id, ctx);
    gda_error err;
    gda_status st = gda_kms_generate_data_key(kms, KMS_STANDIN_ALIAS, ctx,
                                              GDA_KMS_DATA_KEY_CONTEXT_PAIRS, 0, plain, blob,
                                              blob_len, &err);
    if (st != GDA_OK)
        fail_msg("GenerateDataKey: %s", err.message);
}

static gda_status decrypt(gda_kms *kms, const uint8_t *blob, size_t blob_len, const char *ring_id,
                          const char *pin, uint8_t *out, gda_error *err)
{
    gda_kms_context_pair ctx[GDA_KMS_DATA_KEY_CONTEXT_PAIRS];
    gda_kms_data_key_context(ring_id, ctx);
    return gda_kms_decrypt(kms, blob, blob_len, ctx, GDA_KMS_DATA_KEY_CONTEXT_PAIRS, pin, 0, out,
                           err);
}

/* Decrypt the fixture's blob as entry d1 into f->key. */
static gda_status decrypt_d1(kfx *f, gda_kms *kms, const char *pin, gda_error *err)
{
    return decrypt(kms, f->blob, f->blob_len, "d1", pin, f->key, err);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    return sodium_is_zero(p, n) == 1;
}

static void test_generate_then_decrypt_round_trip(void **state)
{
    kfx *f = *state;
    gda_kms *kms = client(f, REGION, true, 0);
    uint8_t *plain = sodium_malloc(GDA_KMS_DATA_KEY_BYTES);
    assert_non_null(plain);
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    generate(kms, "d20261124", plain, &blob, &blob_len);
    assert_false(all_zero(plain, GDA_KMS_DATA_KEY_BYTES));
    assert_true(blob_len > GDA_KMS_DATA_KEY_BYTES);

    gda_error err;
    assert_int_equal(decrypt(kms, blob, blob_len, "d20261124", NULL, f->key, &err), GDA_OK);
    assert_memory_equal(f->key, plain, GDA_KMS_DATA_KEY_BYTES);
    /* Pinned to the key's ARN, the same. */
    sodium_memzero(f->key, GDA_KMS_DATA_KEY_BYTES);
    assert_int_equal(decrypt(kms, blob, blob_len, "d20261124", kms_standin_key_arn(f->ks, 0),
                             f->key, &err),
                     GDA_OK);
    assert_memory_equal(f->key, plain, GDA_KMS_DATA_KEY_BYTES);

    /* A second data key is another key. */
    uint8_t *blob2 = NULL;
    size_t blob2_len = 0;
    generate(kms, "d20261125", f->key, &blob2, &blob2_len);
    assert_memory_not_equal(f->key, plain, GDA_KMS_DATA_KEY_BYTES);

    kms_standin_stats st;
    kms_standin_stats_get(f->ks, &st);
    assert_int_equal(st.generate_ok, 2);
    assert_int_equal(st.decrypt_ok, 2);
    gda_aws_client_stats cs;
    gda_kms_stats(kms, &cs);
    assert_int_equal(cs.calls, 4);
    assert_int_equal(cs.retries, 0);
    free(blob);
    free(blob2);
    sodium_free(plain);
    gda_kms_free(kms);
}

static void test_blob_made_by_the_standin_decrypts(void **state)
{
    kfx *f = *state;
    gda_kms *kms = client(f, REGION, true, 0);
    gda_error err;
    assert_int_equal(decrypt_d1(f, kms, NULL, &err), GDA_OK);
    assert_memory_equal(f->key, f->plain, sizeof f->plain);
    gda_kms_free(kms);
}

/* The blob must not show up in a message: neither its bytes nor base64. */
static void assert_refused(gda_status st, const gda_error *err, const char *type,
                           const uint8_t *key)
{
    assert_int_equal(st, GDA_ERR_CONFIG);
    if (!strstr(err->message, type))
        fail_msg("expected %s in \"%s\"", type, err->message);
    assert_true(all_zero(key, GDA_KMS_DATA_KEY_BYTES));
}

static void test_wrong_context_or_tampered_blob_is_invalid_ciphertext(void **state)
{
    kfx *f = *state;
    gda_kms *kms = client(f, REGION, true, 0);
    uint8_t *blob = f->blob;
    size_t blob_len = f->blob_len;

    gda_error err;
    /* The blob of entry d1 moved to entry d2. */
    assert_refused(decrypt(kms, blob, blob_len, "d2", NULL, f->key, &err), &err,
                   "InvalidCiphertextException", f->key);
    assert_string_equal(err.field, "CiphertextBlob");
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, blob, 16, sodium_base64_VARIANT_ORIGINAL);
    b64[16] = '\0';
    assert_null(strstr(err.message, b64));

    /* Another application's context under the same master key. */
    gda_kms_context_pair other[] = {{"app", "billing"}};
    assert_refused(gda_kms_decrypt(kms, blob, blob_len, other, 1, NULL, 0, f->key, &err), &err,
                   "InvalidCiphertextException", f->key);

    blob[blob_len - 1] ^= 1;
    assert_refused(decrypt_d1(f, kms, NULL, &err), &err,
                   "InvalidCiphertextException", f->key);
    gda_kms_free(kms);
}

static void test_kms_refusals_are_config_errors(void **state)
{
    kfx *f = *state;
    gda_kms *kms = client(f, REGION, true, 0);
    gda_error err;

    /* Pinned to another key. */
    const char *other = kms_standin_add_key(f->ks, "alias/other");
    assert_refused(decrypt_d1(f, kms, other, &err), &err,
                   "IncorrectKeyException", f->key);

    kms_standin_disable_key(f->ks, kms_standin_key_arn(f->ks, 0), true);
    assert_refused(decrypt_d1(f, kms, NULL, &err), &err,
                   "DisabledException", f->key);
    kms_standin_disable_key(f->ks, kms_standin_key_arn(f->ks, 0), false);

    gda_kms_context_pair ctx[GDA_KMS_DATA_KEY_CONTEXT_PAIRS];
    gda_kms_data_key_context("d1", ctx);
    uint8_t *none = NULL;
    size_t none_len = 0;
    assert_refused(gda_kms_generate_data_key(kms, "alias/missing", ctx, 2, 0, f->key, &none,
                                             &none_len, &err),
                   &err, "NotFoundException", f->key);
    assert_null(none);
    assert_string_equal(err.field, "KeyId");

    kms_standin_set(f->ks, KMS_STANDIN_DENY_ALL, true);
    assert_refused(decrypt_d1(f, kms, NULL, &err), &err,
                   "AccessDeniedException", f->key);
    assert_refused(gda_kms_generate_data_key(kms, KMS_STANDIN_ALIAS, ctx, 2, 0, f->key, &none,
                                             &none_len, &err),
                   &err, "AccessDeniedException", f->key);
    kms_standin_set(f->ks, KMS_STANDIN_DENY_ALL, false);

    /* Refusals are final: one attempt each. */
    gda_aws_client_stats cs;
    gda_kms_stats(kms, &cs);
    assert_int_equal(cs.retries, 0);
    gda_kms_free(kms);
}

static void test_plaintext_of_another_size_is_refused(void **state)
{
    kfx *f = *state;
    uint8_t short_key[16] = {1, 2, 3};
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    assert_true(kms_standin_encrypt(f->ks, NULL, short_key, sizeof short_key, "d1", &blob,
                                    &blob_len));
    free(f->blob);
    f->blob = blob;
    f->blob_len = blob_len;
    gda_kms *kms = client(f, REGION, true, 0);
    gda_error err;
    assert_int_equal(decrypt_d1(f, kms, NULL, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "32-byte"));
    assert_true(all_zero(f->key, GDA_KMS_DATA_KEY_BYTES));
    gda_kms_free(kms);
}

/* Decrypt d1 with a fresh client (timeout_ms) while the stand-in's knob is
 * set to value; *cs gets the client's counters. */
static gda_status decrypt_while(kfx *f, kms_standin_knob knob, unsigned value,
                                int64_t timeout_ms, gda_aws_client_stats *cs, gda_error *err)
{
    gda_kms *kms = client(f, REGION, true, timeout_ms);
    kms_standin_set(f->ks, knob, value);
    gda_status st = decrypt_d1(f, kms, NULL, err);
    kms_standin_set(f->ks, knob, 0);
    gda_kms_stats(kms, cs);
    gda_kms_free(kms);
    return st;
}

static void test_throttled_twice_then_success(void **state)
{
    kfx *f = *state;
    gda_aws_client_stats cs;
    gda_error err;
    assert_int_equal(decrypt_while(f, KMS_STANDIN_THROTTLE_NEXT, 2, 0, &cs, &err), GDA_OK);
    assert_memory_equal(f->key, f->plain, GDA_KMS_DATA_KEY_BYTES);
    kms_standin_stats st;
    kms_standin_stats_get(f->ks, &st);
    assert_int_equal(st.calls, 3);
    assert_int_equal(st.throttled, 2);
    assert_int_equal(st.decrypt_ok, 1);
    assert_int_equal(cs.attempts, 3);
    assert_int_equal(cs.retries, 2);
}

static void test_always_500_or_throttled_is_unavailable_after_bounded_retries(void **state)
{
    kfx *f = *state;
    gda_aws_client_stats cs;
    gda_error err;
    assert_int_equal(decrypt_while(f, KMS_STANDIN_FAIL_NEXT, 1000, 0, &cs, &err),
                     GDA_ERR_UNAVAILABLE);
    assert_true(all_zero(f->key, GDA_KMS_DATA_KEY_BYTES));
    kms_standin_stats st;
    kms_standin_stats_get(f->ks, &st);
    assert_int_equal(st.failed, 4); /* the client's attempt bound */
    assert_int_equal(cs.attempts, 4);

    assert_int_equal(decrypt_while(f, KMS_STANDIN_THROTTLE_NEXT, 1000, 0, &cs, &err),
                     GDA_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "ThrottlingException"));
    kms_standin_stats_get(f->ks, &st);
    assert_int_equal(st.throttled, 4);
}

static void test_slow_kms_times_out_at_the_deadline(void **state)
{
    kfx *f = *state;
    gda_aws_client_stats cs;
    gda_error err;
    int64_t t0 = mono_ms();
    gda_status st = decrypt_while(f, KMS_STANDIN_DELAY_MS, 3000, 300, &cs, &err);
    int64_t took = mono_ms() - t0;
    assert_int_equal(st, GDA_ERR_TIMEOUT);
    assert_true(all_zero(f->key, GDA_KMS_DATA_KEY_BYTES));
    /* It does not hang on the slow answer: the budget plus a margin for a
     * loaded (or sanitized) machine, well below the stand-in's delay. */
    if (took > 300 + 1500)
        fail_msg("Decrypt took %lld ms with a 300 ms budget", (long long)took);
}

static void test_missing_credentials_and_region(void **state)
{
    (void)state;
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    gda_aws_credentials *creds = NULL;
    gda_error err;
    assert_int_equal(gda_aws_credentials_from_env(&creds, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "AWS_ACCESS_KEY_ID"));
    unsetenv("AWS_SECRET_ACCESS_KEY");

    gda_kms *kms = (gda_kms *)1;
    assert_int_equal(gda_kms_new(REGION, NULL, NULL, 0, &kms, &err), GDA_ERR_CONFIG);
    assert_null(kms);
    assert_string_equal(err.field, "AWS_ACCESS_KEY_ID");
    assert_non_null(strstr(err.message, "KMS needs credentials"));

    assert_int_equal(gda_aws_credentials_new(KMS_STANDIN_AKID, SECRET, NULL, &creds, &err),
                     GDA_OK);
    assert_int_equal(gda_kms_new(NULL, NULL, creds, 0, &kms, &err), GDA_ERR_CONFIG);
    assert_string_equal(err.field, "AWS_REGION");
    /* The default endpoint is the region's. */
    assert_int_equal(gda_kms_new(REGION, NULL, creds, 0, &kms, &err), GDA_OK);
    gda_kms_free(kms);
}

static void test_scope_check_refuses_wrong_region_and_missing_token(void **state)
{
    kfx *f = *state;
    gda_error err;
    kms_standin_stats st;

    gda_kms *wrong = client(f, "us-east-1", true, 0);
    assert_refused(decrypt_d1(f, wrong, NULL, &err), &err,
                   "InvalidSignatureException", f->key);
    kms_standin_stats_get(f->ks, &st);
    assert_string_equal(st.last_problem, "scope region is wrong");
    gda_kms_free(wrong);

    gda_kms *no_token = client(f, REGION, false, 0);
    assert_refused(decrypt_d1(f, no_token, NULL, &err), &err,
                   "InvalidSignatureException", f->key);
    kms_standin_stats_get(f->ks, &st);
    assert_non_null(strstr(st.last_problem, "X-Amz-Security-Token"));
    gda_kms_free(no_token);

    /* The same blob with the right client: the refusals were the check's. */
    gda_kms *right = client(f, REGION, true, 0);
    assert_int_equal(decrypt_d1(f, right, NULL, &err), GDA_OK);
    assert_memory_equal(f->key, f->plain, sizeof f->plain);
    gda_kms_free(right);
}

static void test_bad_arguments(void **state)
{
    kfx *f = *state;
    gda_kms *kms = client(f, REGION, true, 0);
    gda_error err;
    uint8_t blob[8] = {1};
    gda_kms_context_pair dup[] = {{"a", "1"}, {"a", "2"}};
    assert_int_equal(gda_kms_decrypt(kms, blob, sizeof blob, dup, 2, NULL, 0, f->key, &err),
                     GDA_ERR_CONFIG);
    assert_string_equal(err.field, "EncryptionContext");
    assert_int_equal(gda_kms_decrypt(kms, blob, 0, NULL, 0, NULL, 0, f->key, &err),
                     GDA_ERR_CONFIG);
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(gda_kms_generate_data_key(kms, "", NULL, 0, 0, f->key, &out, &out_len, &err),
                     GDA_ERR_CONFIG);
    kms_standin_stats st;
    kms_standin_stats_get(f->ks, &st);
    assert_int_equal(st.calls, 0);
    gda_kms_free(kms);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generate_then_decrypt_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_made_by_the_standin_decrypts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_context_or_tampered_blob_is_invalid_ciphertext,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kms_refusals_are_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plaintext_of_another_size_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_throttled_twice_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_always_500_or_throttled_is_unavailable_after_bounded_retries,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_kms_times_out_at_the_deadline, setup, teardown),
        cmocka_unit_test(test_missing_credentials_and_region),
        cmocka_unit_test_setup_teardown(test_scope_check_refuses_wrong_region_and_missing_token,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
