/* The PII masking rule (lib/pii.h) that request redaction and the logger
 * share: strings snprintf-style, and JSON values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "pii.h"

static void test_mask_string(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(gda_pii_mask("+15551234567", out, sizeof out), 7);
    assert_string_equal(out, "***4567");
    assert_int_equal(gda_pii_mask("+442071838750", out, sizeof out), 7);
    assert_string_equal(out, "***8750");
    assert_int_equal(gda_pii_mask("+123456789012345", out, sizeof out), 7);
    assert_string_equal(out, "***2345");
    /* Too short to hide enough, too long, not a number, other text: "***". */
    static const char *hidden[] = {
        "+1555123456", "+1234567890123456", "+0555123456789", "15551234567",
        "+1555123456a", "jane.doe@example.com", "", "+",
    };
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        assert_int_equal(gda_pii_mask(hidden[i], out, sizeof out), 3);
        assert_string_equal(out, "***");
    }
    assert_int_equal(gda_pii_mask(NULL, out, sizeof out), 3);
    assert_string_equal(out, "***");
    /* snprintf-style: truncated output, full length returned. */
    char tiny[5];
    assert_int_equal(gda_pii_mask("+15551234567", tiny, sizeof tiny), 7);
    assert_string_equal(tiny, "***4");
    assert_int_equal(gda_pii_mask("+15551234567", NULL, 0), 7);
    char one[1] = {'z'};
    assert_int_equal(gda_pii_mask("hello", one, 1), 3);
    assert_int_equal(one[0], '\0');
}

static void expect_mask(json_t *value, const char *expected)
{
    json_t *masked = gda_pii_mask_json(value);
    assert_non_null(masked);
    assert_string_equal(json_string_value(masked), expected);
    json_decref(masked);
    json_decref(value);
}

static void test_mask_json(void **state)
{
    (void)state;
    expect_mask(json_string("+15551234567"), "***4567");
    expect_mask(json_string("+447911123456"), "***3456");
    expect_mask(json_string("+123456789012345"), "***2345"); /* 15 digits */
    expect_mask(json_string("+1234567890123456"), "***");         /* 16: not E.164 */
    expect_mask(json_string("+4930123456"), "***");   /* 10 digits: too few to keep ends */
    expect_mask(json_string("+05551234567"), "***");  /* no country code starts with 0 */
    expect_mask(json_string("15551234567"), "***");   /* no '+' */
    expect_mask(json_string("+1555-123-4567"), "***");
    expect_mask(json_string("+1555123456a"), "***");
    expect_mask(json_string("+"), "***");
    expect_mask(json_string(""), "***");
    expect_mask(json_string("jane@example.com"), "***");
    expect_mask(json_integer(15551234567), "***");
    expect_mask(json_pack("{s:s}", "n", "+15551234567"), "***");
    expect_mask(json_null(), "***");
    json_t *masked = gda_pii_mask_json(NULL);
    assert_string_equal(json_string_value(masked), "***");
    json_decref(masked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_string),
        cmocka_unit_test(test_mask_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
