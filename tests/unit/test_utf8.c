/* Tests for lib/utf8.h: every boundary of the strict decoder, each problem
 * class with its offset, the derived helpers, and agreement with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "utf8.h"

typedef struct decode_case {
    const char *bytes;
    size_t len;
    gda_utf8_problem problem;
    uint32_t cp;      /* when GDA_UTF8_OK */
    size_t seq_len;   /* when GDA_UTF8_OK */
} decode_case;

#define CASE(b, prob, cp, n) {b, sizeof b - 1, prob, cp, n}

static const decode_case decode_cases[] = {
    /* Boundaries of each length. */
    CASE("\x00", GDA_UTF8_OK, 0x0, 1),
    CASE("\x7F", GDA_UTF8_OK, 0x7F, 1),
    CASE("\xC2\x80", GDA_UTF8_OK, 0x80, 2),
    CASE("\xDF\xBF", GDA_UTF8_OK, 0x7FF, 2),
    CASE("\xE0\xA0\x80", GDA_UTF8_OK, 0x800, 3),
    CASE("\xEF\xBF\xBF", GDA_UTF8_OK, 0xFFFF, 3),
    CASE("\xF0\x90\x80\x80", GDA_UTF8_OK, 0x10000, 4),
    CASE("\xF4\x8F\xBF\xBF", GDA_UTF8_OK, 0x10FFFF, 4),
    CASE("\xF4\x90\x80\x80", GDA_UTF8_TOO_BIG, 0, 0),
    /* Either side of the surrogates. */
    CASE("\xED\x9F\xBF", GDA_UTF8_OK, 0xD7FF, 3),
    CASE("\xED\xA0\x80", GDA_UTF8_SURROGATE, 0, 0),
    CASE("\xED\xBF\xBF", GDA_UTF8_SURROGATE, 0, 0),
    CASE("\xEE\x80\x80", GDA_UTF8_OK, 0xE000, 3),
    /* Overlong '/', overlong NUL, and the longest overlong of each length. */
    CASE("\xC0\xAF", GDA_UTF8_OVERLONG, 0, 0),
    CASE("\xE0\x80\xAF", GDA_UTF8_OVERLONG, 0, 0),
    CASE("\xF0\x80\x80\xAF", GDA_UTF8_OVERLONG, 0, 0),
    CASE("\xC0\x80", GDA_UTF8_OVERLONG, 0, 0),
    CASE("\xC1\xBF", GDA_UTF8_OVERLONG, 0, 0),
    CASE("\xE0\x9F\xBF", GDA_UTF8_OVERLONG, 0, 0),
    CASE("\xF0\x8F\xBF\xBF", GDA_UTF8_OVERLONG, 0, 0),
    /* Leads past U+10FFFF and bytes never in UTF-8. */
    CASE("\xF5\x80\x80\x80", GDA_UTF8_TOO_BIG, 0, 0),
    CASE("\xF7\xBF\xBF\xBF", GDA_UTF8_TOO_BIG, 0, 0),
    CASE("\xF8\x88\x80\x80\x80", GDA_UTF8_INVALID_BYTE, 0, 0),
    CASE("\xFE", GDA_UTF8_INVALID_BYTE, 0, 0),
    CASE("\xFF", GDA_UTF8_INVALID_BYTE, 0, 0),
    /* Continuation bytes where a character starts. */
    CASE("\x80", GDA_UTF8_STRAY_CONTINUATION, 0, 0),
    CASE("\xBF\x80", GDA_UTF8_STRAY_CONTINUATION, 0, 0),
    /* Input ending inside a sequence, and a sequence interrupted. */
    CASE("\xC2", GDA_UTF8_TRUNCATED, 0, 0),
    CASE("\xC0", GDA_UTF8_TRUNCATED, 0, 0),
    CASE("\xE2\x82", GDA_UTF8_TRUNCATED, 0, 0),
    CASE("\xF0\x9F\x98", GDA_UTF8_TRUNCATED, 0, 0),
    CASE("\xC2" "A", GDA_UTF8_MISSING_CONTINUATION, 0, 0),
    CASE("\xE2\x82" "A", GDA_UTF8_MISSING_CONTINUATION, 0, 0),
    CASE("\xF0\x9F\x98\xC2\x80", GDA_UTF8_MISSING_CONTINUATION, 0, 0),
    CASE("\xE2\x00\x80", GDA_UTF8_MISSING_CONTINUATION, 0, 0),
};

static void test_decode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
        const decode_case *c = &decode_cases[i];
        uint32_t cp = 0xFFFFFFFFu;
        size_t n = 99;
        gda_utf8_problem got = gda_utf8_decode(c->bytes, c->len, &cp, &n);
        if (got != c->problem)
            fail_msg("case %zu: problem %d, expected %d", i, (int)got, (int)c->problem);
        if (c->problem == GDA_UTF8_OK) {
            assert_int_equal(cp, c->cp);
            assert_int_equal(n, c->seq_len);
        }
        /* A whole-string check agrees with the one-sequence decode, and
         * valid text needs exactly one sequence in these cases. */
        assert_int_equal(gda_utf8_valid(c->bytes, c->len),
                         c->problem == GDA_UTF8_OK && c->seq_len == c->len);
    }
}

/* Every lead byte: what it starts when followed by continuation bytes. */
static void test_every_lead_byte(void **state)
{
    (void)state;
    for (unsigned b = 0; b <= 0xFF; b++) {
        char s[4] = {(char)b, (char)0x80, (char)0x90, (char)0x80};
        /* 0xE0 and 0xF0 need a higher second byte to avoid overlong forms;
         * 0x80 keeps 0xED below the surrogates and 0xF4 below U+10FFFF. */
        if (b == 0xE0)
            s[1] = (char)0xA0;
        if (b == 0xF0)
            s[1] = (char)0x90;
        uint32_t cp;
        size_t n;
        gda_utf8_problem got = gda_utf8_decode(s, sizeof s, &cp, &n);
        gda_utf8_problem want;
        if (b < 0x80)
            want = GDA_UTF8_OK;
        else if (b < 0xC0)
            want = GDA_UTF8_STRAY_CONTINUATION;
        else if (b < 0xC2)
            want = GDA_UTF8_OVERLONG;
        else if (b < 0xF5)
            want = GDA_UTF8_OK;
        else if (b < 0xF8)
            want = GDA_UTF8_TOO_BIG;
        else
            want = GDA_UTF8_INVALID_BYTE;
        if (got != want)
            fail_msg("lead 0x%02X: problem %d, expected %d", b, (int)got, (int)want);
        if (want == GDA_UTF8_OK)
            assert_int_equal(n, b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4);
    }
}

static size_t encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Every code point's shortest form decodes back to it, except surrogates;
 * and what lies just past U+10FFFF (same 4-byte shape) is refused. */
static void test_every_code_point(void **state)
{
    (void)state;
    for (uint32_t v = 0; v <= 0x13FFFF; v++) {
        char s[4];
        size_t len = encode(v, s);
        uint32_t cp = 0;
        size_t n = 0;
        gda_utf8_problem got = gda_utf8_decode(s, len, &cp, &n);
        if (v >= 0xD800 && v <= 0xDFFF) {
            assert_int_equal(got, GDA_UTF8_SURROGATE);
        } else if (v > 0x10FFFF) {
            assert_int_equal(got, GDA_UTF8_TOO_BIG);
        } else {
            if (got != GDA_UTF8_OK || cp != v || n != len)
                fail_msg("U+%04X: problem %d, cp %X, length %zu", (unsigned)v, (int)got,
                         (unsigned)cp, n);
            /* Any shorter input is a character cut short (but not ASCII). */
            for (size_t k = 1; k < len; k++)
                assert_true(gda_utf8_cut_character(s, k));
            assert_false(gda_utf8_cut_character(s, len));
        }
    }
}

typedef struct validate_case {
    const char *text;
    size_t len;
    gda_utf8_problem problem;
    size_t bad_at;    /* when not GDA_UTF8_OK */
    bool has_control; /* seen before the end or the first problem */
} validate_case;

#define VCASE(t, prob, at, ctl) {t, sizeof t - 1, prob, at, ctl}

static const validate_case validate_cases[] = {
    VCASE("", GDA_UTF8_OK, 0, false),
    VCASE("h\xC3\xA9llo", GDA_UTF8_OK, 0, false),
    VCASE("ab\0cd", GDA_UTF8_NUL, 2, false),
    VCASE("\xC2\x80\x80", GDA_UTF8_STRAY_CONTINUATION, 2, true),
    VCASE("abc\xC0\xAF", GDA_UTF8_OVERLONG, 3, false),
    VCASE("x\xED\xA0\x80", GDA_UTF8_SURROGATE, 1, false),
    VCASE("\xE2\x82\xAC\xF4\x90\x80\x80", GDA_UTF8_TOO_BIG, 3, false),
    VCASE("ok\xFF", GDA_UTF8_INVALID_BYTE, 2, false),
    VCASE("end\xF0\x9F\x98", GDA_UTF8_TRUNCATED, 3, false),
    VCASE("a\xE2\x82z", GDA_UTF8_MISSING_CONTINUATION, 1, false),
    /* The first problem wins. */
    VCASE("\x80\0", GDA_UTF8_STRAY_CONTINUATION, 0, false),
    /* Control characters: C0, DEL, C1 U+0080 and U+009F; not U+00A0. */
    VCASE("plain \xC2\xA0 text~", GDA_UTF8_OK, 0, false),
    VCASE("tab\there", GDA_UTF8_OK, 0, true),
    VCASE("del\x7F", GDA_UTF8_OK, 0, true),
    VCASE("\xC2\x9F", GDA_UTF8_OK, 0, true),
    /* Reported also when a problem follows the control character. */
    VCASE("\x1B\xFF", GDA_UTF8_INVALID_BYTE, 1, true),
};

static void test_validate_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof validate_cases / sizeof validate_cases[0]; i++) {
        const validate_case *c = &validate_cases[i];
        size_t bad_at = 99;
        bool control = !c->has_control; /* must be overwritten either way */
        gda_utf8_problem got = gda_utf8_validate(c->text, c->len, &bad_at, &control);
        if (got != c->problem)
            fail_msg("case %zu: problem %d, expected %d", i, (int)got, (int)c->problem);
        /* On success bad_at is left alone. */
        assert_int_equal(bad_at, c->problem == GDA_UTF8_OK ? 99 : c->bad_at);
        assert_int_equal(control, c->has_control);
        /* NULL out-parameters give the same answer. */
        assert_int_equal(gda_utf8_validate(c->text, c->len, NULL, NULL), c->problem);
    }
    /* len bounds the scan: a problem past it is not seen. */
    assert_int_equal(gda_utf8_validate("ab\xFF", 2, NULL, NULL), GDA_UTF8_OK);
}

static void test_valid_prefix_and_valid(void **state)
{
    (void)state;
    assert_int_equal(gda_utf8_valid_prefix("", 0), 0);
    assert_int_equal(gda_utf8_valid_prefix("abc", 3), 3);
    assert_int_equal(gda_utf8_valid_prefix("abc\xFF" "def", 7), 3);
    assert_int_equal(gda_utf8_valid_prefix("\xE2\x82\xAC\xE2\x82", 5), 3);
    assert_int_equal(gda_utf8_valid_prefix("\x80", 1), 0);
    /* NUL is a character here (unlike gda_utf8_validate). */
    assert_int_equal(gda_utf8_valid_prefix("a\0b", 3), 3);
    assert_true(gda_utf8_valid("a\0b", 3));
    assert_true(gda_utf8_valid("", 0));
    assert_true(gda_utf8_valid("\xF0\x9F\x98\x80", 4));
    assert_false(gda_utf8_valid("\xF0\x9F\x98\x80", 3));
    assert_false(gda_utf8_valid("\xED\xBF\xBF", 3));
}

static void test_count(void **state)
{
    (void)state;
    assert_int_equal(gda_utf8_count("", 0), 0);
    assert_int_equal(gda_utf8_count("abc", 3), 3);
    /* a, é, €, 😀: one of each length. */
    assert_int_equal(gda_utf8_count("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 10), 4);
    assert_int_equal(gda_utf8_count("a\0b", 3), 3);
}

static void test_cut_character(void **state)
{
    (void)state;
    assert_false(gda_utf8_cut_character("", 0));
    assert_false(gda_utf8_cut_character("a", 1));
    assert_false(gda_utf8_cut_character("\x80", 1));
    assert_true(gda_utf8_cut_character("\xC3", 1));
    assert_true(gda_utf8_cut_character("\xE2\x82", 2));
    assert_true(gda_utf8_cut_character("\xF4\x8F\xBF", 3));
    /* Leads no valid text starts with are not a cut character. */
    assert_false(gda_utf8_cut_character("\xC0", 1));
    assert_false(gda_utf8_cut_character("\xC1", 1));
    assert_false(gda_utf8_cut_character("\xF5\x80", 2));
    assert_false(gda_utf8_cut_character("\xFF", 1));
    /* Interrupted rather than cut, or complete. */
    assert_false(gda_utf8_cut_character("\xE2z", 2));
    assert_false(gda_utf8_cut_character("\xE2\x82\xAC", 3));
}

static void test_problem_strings(void **state)
{
    (void)state;
    assert_string_equal(gda_utf8_problem_str(GDA_UTF8_OK), "valid UTF-8");
    assert_string_equal(gda_utf8_problem_str(GDA_UTF8_NUL), "NUL byte");
    assert_string_equal(gda_utf8_problem_str(GDA_UTF8_OVERLONG),
                        "invalid UTF-8 (overlong encoding)");
    assert_string_equal(gda_utf8_problem_str(GDA_UTF8_TRUNCATED),
                        "invalid UTF-8 (truncated sequence)");
    assert_string_equal(gda_utf8_problem_str(GDA_UTF8_MISSING_CONTINUATION),
                        gda_utf8_problem_str(GDA_UTF8_TRUNCATED));
    /* The other classes each name their own mistake. */
    const gda_utf8_problem distinct[] = {
        GDA_UTF8_NUL,       GDA_UTF8_STRAY_CONTINUATION, GDA_UTF8_INVALID_BYTE,
        GDA_UTF8_OVERLONG,  GDA_UTF8_SURROGATE,          GDA_UTF8_TOO_BIG,
        GDA_UTF8_TRUNCATED,
    };
    size_t n = sizeof distinct / sizeof distinct[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(gda_utf8_problem_str(distinct[i]),
                                    gda_utf8_problem_str(distinct[j]));
    }
}

/* jansson must accept exactly what gda_utf8_valid accepts, since modules
 * check text with this before handing it to jansson. */
static void agree_with_jansson(const char *s, size_t len)
{
    json_t *str = json_stringn(s, len);
    bool ours = gda_utf8_valid(s, len);
    if (ours != (str != NULL)) {
        unsigned char b[4] = {0};
        memcpy(b, s, len < 4 ? len : 4);
        fail_msg("%02X %02X %02X %02X (%zu bytes): ours %d, jansson %d", b[0], b[1], b[2], b[3],
                 len, ours, str != NULL);
    }
    json_decref(str);
}

static void test_agrees_with_jansson(void **state)
{
    (void)state;
    char s[4];
    for (unsigned a = 0; a <= 0xFF; a++) {
        s[0] = (char)a;
        agree_with_jansson(s, 1);
        for (unsigned b = 0; b <= 0xFF; b++) {
            s[1] = (char)b;
            agree_with_jansson(s, 2);
        }
    }
    for (unsigned a = 0xE0; a <= 0xFF; a++) {
        s[0] = (char)a;
        for (unsigned b = 0; b <= 0xFF; b++) {
            s[1] = (char)b;
            for (unsigned c = 0x70; c <= 0xC0; c++) {
                s[2] = (char)c;
                agree_with_jansson(s, 3);
                s[3] = (char)0x80;
                agree_with_jansson(s, 4);
                s[3] = (char)0xBF;
                agree_with_jansson(s, 4);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_every_lead_byte),
        cmocka_unit_test(test_every_code_point),
        cmocka_unit_test(test_validate_table),
        cmocka_unit_test(test_valid_prefix_and_valid),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_cut_character),
        cmocka_unit_test(test_problem_strings),
        cmocka_unit_test(test_agrees_with_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
