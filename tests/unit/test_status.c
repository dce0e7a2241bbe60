/* Tests for include/gda/status.h and include/gda/slice.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gda/init.h>
#include <gda/version.h>

#include <pthread.h>

#include "gda_config.h"

#include <gda/slice.h>
#include <gda/status.h>

static void test_http_mapping(void **state)
{
    (void)state;
    assert_int_equal(gda_status_http(GDA_OK), 200);
    assert_int_equal(gda_status_http(GDA_ACCEPTED), 202);
    assert_int_equal(gda_status_http(GDA_ERR_INVALID_JSON), 400);
    assert_int_equal(gda_status_http(GDA_ERR_INVALID_FIELD), 400);
    assert_int_equal(gda_status_http(GDA_ERR_UNAUTHORIZED), 401);
    assert_int_equal(gda_status_http(GDA_ERR_FORBIDDEN), 403);
    assert_int_equal(gda_status_http(GDA_ERR_IN_PROGRESS), 409);
    assert_int_equal(gda_status_http(GDA_ERR_PAYLOAD_TOO_LARGE), 413);
    assert_int_equal(gda_status_http(GDA_ERR_UNSUPPORTED_MEDIA_TYPE), 415);
    assert_int_equal(gda_status_http(GDA_ERR_PAYLOAD_MISMATCH), 422);
    assert_int_equal(gda_status_http(GDA_ERR_RATE_LIMITED), 429);
    assert_int_equal(gda_status_http(GDA_ERR_INTERNAL), 500);
    assert_int_equal(gda_status_http(GDA_ERR_STORE), 503);
    assert_int_equal(gda_status_http(GDA_ERR_BUSY), 503);
    assert_int_equal(gda_status_http(GDA_ERR_TIMEOUT), 504);
    /* An unknown value is treated as a server error, never as success. */
    assert_int_equal(gda_status_http((gda_status)9999), 500);
}

static void test_retryable_follows_genesys_rule(void **state)
{
    (void)state;
    /* Genesys retries 5xx and timeouts, never 4xx. */
    const gda_status all[] = {
        GDA_OK, GDA_ACCEPTED, GDA_ERR_INVALID_REQUEST, GDA_ERR_INVALID_JSON,
        GDA_ERR_INVALID_FIELD, GDA_ERR_UNKNOWN_EVENT, GDA_ERR_UNAUTHORIZED, GDA_ERR_FORBIDDEN,
        GDA_ERR_NOT_FOUND, GDA_ERR_METHOD_NOT_ALLOWED, GDA_ERR_IN_PROGRESS,
        GDA_ERR_PAYLOAD_TOO_LARGE, GDA_ERR_UNSUPPORTED_MEDIA_TYPE, GDA_ERR_PAYLOAD_MISMATCH,
        GDA_ERR_UNPROCESSABLE, GDA_ERR_RATE_LIMITED, GDA_ERR_INTERNAL, GDA_ERR_NOMEM,
        GDA_ERR_CONFIG, GDA_ERR_INTEGRITY, GDA_ERR_UNAVAILABLE, GDA_ERR_STORE, GDA_ERR_BUSY,
        GDA_ERR_TIMEOUT,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int http = gda_status_http(all[i]);
        assert_int_equal(gda_status_retryable(all[i]), http >= 500);
        assert_string_not_equal(gda_status_str(all[i]), "unknown");
    }
}

static void test_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(gda_status_str(GDA_OK), "ok");
    assert_string_equal(gda_status_str(GDA_ERR_INVALID_FIELD), "invalid_field");
    assert_string_equal(gda_status_str(GDA_ERR_PAYLOAD_MISMATCH), "idempotency_key_reused");
    assert_string_equal(gda_status_str(GDA_ERR_STORE), "store_unavailable");
    assert_string_equal(gda_status_str((gda_status)-7), "unknown");
}

static void test_error_set_truncates_and_returns_code(void **state)
{
    (void)state;
    gda_error err;
    char longfield[200];
    memset(longfield, 'f', sizeof longfield - 1);
    longfield[sizeof longfield - 1] = '\0';
    gda_status s = gda_error_set(&err, GDA_ERR_INVALID_FIELD, longfield, "bad %s #%d", "thing", 7);
    assert_int_equal(s, GDA_ERR_INVALID_FIELD);
    assert_int_equal(err.code, GDA_ERR_INVALID_FIELD);
    assert_int_equal(strlen(err.field), GDA_ERROR_FIELD_SIZE - 1);
    assert_string_equal(err.message, "bad thing #7");
    gda_error_clear(&err);
    assert_int_equal(err.code, GDA_OK);
    assert_string_equal(err.field, "");
    assert_string_equal(err.message, "");
    /* NULL error pointers are allowed everywhere. */
    assert_int_equal(gda_error_set(NULL, GDA_ERR_STORE, NULL, "x"), GDA_ERR_STORE);
    gda_error_clear(NULL);
}

/* The running library and the headers agree, and both say the project's
 * version (GDA_VERSION from the build's gda_config.h). */
/* gda_init: idempotent and safe from many threads at once; the same answer
 * everywhere. Status validity is a predicate, not a string compare. */
static void *init_thread(void *arg)
{
    gda_error err;
    *(gda_status *)arg = gda_init(&err);
    return NULL;
}

static void test_init_and_known(void **state)
{
    (void)state;
    pthread_t t[8];
    gda_status got[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, init_thread, &got[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(got[i], GDA_OK);
    }
    assert_int_equal(gda_init(NULL), GDA_OK);
    assert_true(gda_status_known(GDA_OK));
    assert_true(gda_status_known(GDA_ERR_PAYLOAD_TOO_LARGE));
    assert_false(gda_status_known((gda_status)12345));
    assert_string_equal(gda_status_str((gda_status)12345), "unknown");
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(gda_version(), GDA_VERSION_STRING);
    assert_string_equal(gda_version(), GDA_VERSION);
    assert_int_equal(gda_version_number(), GDA_VERSION_NUMBER);
    char text[32];
    snprintf(text, sizeof text, "%u.%u.%u", gda_version_number() >> 16,
             (gda_version_number() >> 8) & 0xff, gda_version_number() & 0xff);
    assert_string_equal(text, GDA_VERSION_STRING);
}

static void test_slices(void **state)
{
    (void)state;
    gda_slice a = gda_slice_cstr("Content-Type");
    assert_true(gda_slice_is_id(gda_slice_cstr("d2.k_1-A"), 8));
    assert_false(gda_slice_is_id(gda_slice_cstr("d2.k_1-AB"), 8)); /* too long */
    assert_false(gda_slice_is_id(gda_slice_cstr(""), 8));
    assert_false(gda_slice_is_id(gda_slice_cstr("d 1"), 8));
    assert_false(gda_slice_is_id(gda_slice_cstr("d/1"), 8));
    assert_false(gda_slice_is_id(gda_slice_make("d\0", 2), 8));
    assert_true(gda_slice_ieq(a, "content-type"));
    assert_true(gda_slice_ieq(a, "CONTENT-TYPE"));
    assert_false(gda_slice_ieq(a, "content-typ"));
    assert_false(gda_slice_ieq(a, NULL));
    assert_true(gda_slice_ieq(GDA_SLICE_NULL, ""));
    assert_true(gda_slice_eq(gda_slice_make("abc", 3), gda_slice_cstr("abc")));
    assert_false(gda_slice_eq(gda_slice_make("abc", 3), gda_slice_cstr("abd")));
    assert_true(gda_slice_eq(GDA_SLICE_NULL, gda_slice_cstr("")));
    char *dup = gda_slice_dup(gda_slice_make("hello world", 5));
    assert_non_null(dup);
    assert_string_equal(dup, "hello");
    free(dup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_mapping),
        cmocka_unit_test(test_retryable_follows_genesys_rule),
        cmocka_unit_test(test_names_are_stable),
        cmocka_unit_test(test_error_set_truncates_and_returns_code),
        cmocka_unit_test(test_slices),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_init_and_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
