/* Tests for lib/util/base64.h: strict decoding in both alphabets (the
 * encoder and more refusals are in test_util.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static bool decode(const char *in, gda_base64_alphabet a, uint8_t *out, size_t *n)
{
    return gda_base64_decode(in, strlen(in), a, out, 64, n);
}

static void test_valid_forms(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n;
    assert_true(decode("aGVsbG8=", GDA_BASE64_STANDARD, out, &n));
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    assert_true(decode("aGVsbG8", GDA_BASE64_STANDARD, out, &n)); /* padding optional */
    assert_int_equal(n, 5);
    assert_true(decode("aGk=", GDA_BASE64_STANDARD, out, &n));
    assert_int_equal(n, 2);
    assert_true(decode("", GDA_BASE64_STANDARD, out, &n));
    assert_int_equal(n, 0);
    assert_true(decode("-_8", GDA_BASE64_URLSAFE, out, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
    assert_true(decode("+/8", GDA_BASE64_STANDARD, out, &n));
    assert_int_equal(out[0], 0xfb);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n;
    /* Bytes outside the alphabet, including the high bytes libsodium 1.0.18
     * would otherwise decode as a digit. */
    assert_false(decode("eyJhIjoxfQ\xc3\xa9", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("aGVs\x80G8", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("aGVs bG8=", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("aGVsbG8=\n", GDA_BASE64_STANDARD, out, &n));
    /* The other alphabet's digits. */
    assert_false(decode("-_8", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("+/8", GDA_BASE64_URLSAFE, out, &n));
    /* Padding: misplaced, excess, incomplete, or in the unpadded alphabet. */
    assert_false(decode("aG=k", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("aGk==", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("aGVsbG8==", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("a===", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("aGk=", GDA_BASE64_URLSAFE, out, &n));
    /* A length no encoding has, and non-canonical trailing bits. */
    assert_false(decode("aGVsb", GDA_BASE64_STANDARD, out, &n));
    assert_false(decode("aGl=", GDA_BASE64_STANDARD, out, &n));
    /* Output buffer too small. */
    assert_false(gda_base64_decode("aGVsbG8=", 8, GDA_BASE64_STANDARD, out, 3, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_forms),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
