/* Tests for lib/util: the byte buffer, hex, percent, base64, the JSON
 * writer, RFC 3339 timestamps and the clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"
#include "buf.h"
#include "clock.h"
#include "hex.h"
#include "json_writer.h"
#include "percent.h"
#include "rfc3339.h"

/* ---- buffer ------------------------------------------------------------- */

static void test_buf_grows(void **state)
{
    (void)state;
    gda_buf b = GDA_BUF_INIT;
    assert_null(b.data);
    for (int i = 0; i < 1000; i++)
        assert_true(gda_buf_append(&b, "0123456789", 10));
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 9990, "0123456789", 10);
    assert_true(gda_buf_printf(&b, "-%d-%s", 42, "x"));
    assert_string_equal(b.data + 10000, "-42-x");
    /* printf longer than its stack scratch */
    char big[600];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_true(gda_buf_printf(&b, "%s!", big));
    assert_int_equal(b.len, 10005 + 600);
    assert_int_equal(b.data[b.len - 1], '!');
    gda_buf_truncate(&b, 3);
    assert_string_equal(b.data, "012");
    gda_buf_truncate(&b, 10); /* longer: no-op */
    assert_int_equal(b.len, 3);
    assert_true(gda_buf_append_byte(&b, 'Z'));
    assert_true(GDA_BUF_LIT(&b, "ab"));
    assert_true(gda_buf_append_str(&b, "cd"));
    assert_string_equal(b.data, "012Zabcd");
    size_t len = 0;
    char *s = gda_buf_steal(&b, &len);
    assert_string_equal(s, "012Zabcd");
    assert_int_equal(len, 8);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    gda_buf_free(&b);
}

static void test_buf_empty_steal_and_reserve(void **state)
{
    (void)state;
    gda_buf b = GDA_BUF_INIT;
    size_t len = 99;
    char *s = gda_buf_steal(&b, &len);
    assert_non_null(s); /* an empty buffer still yields a string */
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    assert_true(gda_buf_append(&b, NULL, 0));
    assert_non_null(b.data);
    assert_true(gda_buf_reserve(&b, 1000));
    assert_true(b.cap >= 1001);
    gda_buf_free(&b);
    gda_buf_free(&b); /* twice is fine */
}

static void test_buf_failure_is_sticky(void **state)
{
    (void)state;
    gda_buf b = GDA_BUF_INIT;
    assert_true(gda_buf_append_str(&b, "kept"));
    /* A size that would overflow fails without allocating. */
    assert_false(gda_buf_reserve(&b, SIZE_MAX - 2));
    assert_true(b.failed);
    assert_false(gda_buf_append(&b, "x", 1));
    assert_false(gda_buf_printf(&b, "%d", 1));
    assert_false(gda_buf_reserve(&b, 0));
    assert_string_equal(b.data, "kept"); /* what it held is intact */
    size_t len = 7;
    assert_null(gda_buf_steal(&b, &len));
    assert_int_equal(len, 0);
    assert_null(b.data);
    assert_false(b.failed);
    /* reset clears the failure and keeps storage */
    gda_buf r = GDA_BUF_INIT;
    assert_true(gda_buf_append_str(&r, "abc"));
    char *storage = r.data;
    assert_false(gda_buf_reserve(&r, SIZE_MAX / 2));
    gda_buf_reset(&r);
    assert_false(r.failed);
    assert_int_equal(r.len, 0);
    assert_ptr_equal(r.data, storage);
    assert_string_equal(r.data, "");
    assert_true(gda_buf_append_str(&r, "again"));
    assert_string_equal(r.data, "again");
    gda_buf_free(&r);
}

/* A buffer in 16 bytes of caller storage outgrows it: it moves to the
 * heap, and the storage is wiped only when asked. */
static void outgrow_storage(bool wipe)
{
    char stack[16];
    gda_buf b;
    gda_buf_init_storage(&b, stack, sizeof stack);
    b.wipe = wipe;
    assert_true(gda_buf_append_str(&b, "secret-key"));
    assert_ptr_equal(b.data, stack);
    assert_false(b.on_heap);
    assert_true(gda_buf_append_str(&b, "-and-more-of-it"));
    assert_true(b.on_heap);
    assert_true(b.data != stack);
    assert_string_equal(b.data, "secret-key-and-more-of-it");
    static const char zeros[16];
    if (wipe)
        assert_memory_equal(stack, zeros, sizeof stack);
    else
        assert_memory_equal(stack, "secret-key", 10);
    /* growing again keeps the bytes */
    for (int i = 0; i < 20; i++)
        assert_true(gda_buf_append_str(&b, "0123456789"));
    assert_int_equal(b.len, 25 + 200);
    assert_memory_equal(b.data, "secret-key-and-more-of-it0123", 29);
    gda_buf_truncate(&b, 6);
    assert_string_equal(b.data, "secret");
    gda_buf_free(&b);
    assert_true(b.wipe == wipe); /* the setting survives a free */
    assert_null(b.data);
}

/* A limit bounds the storage, not just the contents: growth that would
 * double past it stops at limit + 1, and an append past it fails. */
static void test_buf_limit(void **state)
{
    (void)state;
    gda_buf b = {.limit = 1000};
    char chunk[300];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 3; i++)
        assert_true(gda_buf_append(&b, chunk, sizeof chunk));
    assert_true(gda_buf_append(&b, chunk, 100)); /* exactly the limit */
    assert_int_equal(b.len, 1000);
    assert_true(b.cap <= 1001);
    assert_false(gda_buf_append(&b, "y", 1));
    assert_true(b.failed);
    gda_buf_free(&b);
    assert_int_equal(b.limit, 1000); /* kept, like wipe */
    gda_buf_free(&b);
}

static void test_buf_caller_storage(void **state)
{
    (void)state;
    char stack[16];
    gda_buf b;
    gda_buf_init_storage(&b, stack, sizeof stack);
    assert_true(gda_buf_append_str(&b, "short"));
    /* steal from caller storage copies to the heap */
    size_t len;
    char *s = gda_buf_steal(&b, &len);
    assert_true(s != stack);
    assert_string_equal(s, "short");
    assert_int_equal(len, 5);
    free(s);
    outgrow_storage(false);
}

static void test_buf_wipe(void **state)
{
    (void)state;
    outgrow_storage(true);
}

static void test_array_grow(void **state)
{
    (void)state;
    int *items = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 100; n++) {
        assert_true(gda_array_grow((void **)&items, &cap, n, sizeof *items, 4));
        assert_true(cap > n);
        items[n] = (int)n;
    }
    assert_int_equal(items[99], 99);
    assert_int_equal(cap, 128);
    /* room already there: unchanged */
    int *same = items;
    assert_true(gda_array_grow((void **)&items, &cap, 50, sizeof *items, 4));
    assert_ptr_equal(items, same);
    /* sizes that overflow are refused, the array kept */
    size_t huge = SIZE_MAX / 2 + 1;
    assert_false(gda_array_grow((void **)&items, &huge, huge, sizeof *items, 4));
    size_t big = SIZE_MAX / 8;
    assert_false(gda_array_grow((void **)&items, &big, big, 64, 4));
    assert_ptr_equal(items, same);
    free(items);
    /* a first capacity of 0 still grows */
    char *c = NULL;
    size_t ccap = 0;
    assert_true(gda_array_grow((void **)&c, &ccap, 0, 1, 0));
    assert_true(ccap >= 1);
    free(c);
}

/* ---- hex ------------------------------------------------------------------ */

static void test_hex(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x00, 0x1f, 0xab, 0xff, 0x7e};
    char out[11] = {0};
    gda_hex_encode(bytes, sizeof bytes, out, GDA_HEX_LOWER);
    assert_string_equal(out, "001fabff7e");
    gda_hex_encode(bytes, sizeof bytes, out, GDA_HEX_UPPER);
    assert_string_equal(out, "001FABFF7E");
    assert_int_equal(gda_hex_digit(10, GDA_HEX_LOWER), 'a');
    assert_int_equal(gda_hex_digit(15, GDA_HEX_UPPER), 'F');

    uint8_t back[5];
    assert_true(gda_hex_decode("001fabff7e", 5, back));
    assert_memory_equal(back, bytes, 5);
    assert_true(gda_hex_decode("001FaBfF7E", 5, back)); /* either case */
    assert_memory_equal(back, bytes, 5);
    assert_false(gda_hex_decode("0g", 1, back));
    assert_false(gda_hex_decode("g0", 1, back));
    assert_false(gda_hex_decode(" 1", 1, back));
    assert_false(gda_hex_decode("1\0", 1, back));
    assert_true(gda_hex_decode("", 0, back));
    for (int c = 0; c < 256; c++) {
        int v = gda_hex_value((char)c);
        bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        assert_int_equal(v >= 0, digit);
        if (digit)
            assert_int_equal(gda_hex_digit((unsigned)v, c >= 'a' ? GDA_HEX_LOWER : GDA_HEX_UPPER),
                             c);
    }
}

/* ---- percent ---------------------------------------------------------------- */

static void test_percent_encode(void **state)
{
    (void)state;
    const char in[] = "a-Z_0.9~ /?&=+%\xc3\xa9\x01";
    size_t n = sizeof in - 1;
    const char want[] = "a-Z_0.9~%20%2F%3F%26%3D%2B%25%C3%A9%01";
    assert_int_equal(gda_pct_encoded_len(in, n), sizeof want - 1);
    char out[64];
    char *end = gda_pct_encode(in, n, out);
    *end = '\0';
    assert_string_equal(out, want);

    gda_buf b = GDA_BUF_INIT;
    assert_true(gda_buf_append_str(&b, "k="));
    assert_true(gda_pct_encode_buf(&b, in, n));
    assert_true(gda_pct_encode_buf(&b, "", 0));
    assert_string_equal(b.data + 2, want);
    gda_buf_free(&b);
    for (int c = 0; c < 256; c++) {
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        assert_int_equal(gda_pct_unreserved((unsigned char)c), plain);
    }
}

static bool decode(const char *in, unsigned flags, char *out, size_t *n)
{
    bool ok = gda_pct_decode(in, strlen(in), flags, out, 63, n);
    if (ok)
        out[*n] = '\0';
    return ok;
}

static void test_percent_decode(void **state)
{
    (void)state;
    char out[64];
    size_t n;
    /* What decodes, and to what: strict (path segments: escapes of either
     * case, '+' is a '+'), and lenient with '+' as a space (query strings,
     * as API Gateway decodes them: a bad escape stays as written). */
    const unsigned form = GDA_PCT_LENIENT | GDA_PCT_PLUS_SPACE;
    static const struct {
        const char *in;
        unsigned flags;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"a%20b%2fc%2F+", GDA_PCT_STRICT, "a b/c/+"},
        {"%C3%a9", GDA_PCT_STRICT, "\xc3\xa9"},
        {"", GDA_PCT_STRICT, ""},
        {"%", GDA_PCT_STRICT, NULL},
        {"%4", GDA_PCT_STRICT, NULL},
        {"ab%4", GDA_PCT_STRICT, NULL},
        {"%G1", GDA_PCT_STRICT, NULL},
        {"%1G", GDA_PCT_STRICT, NULL},
        {"%%41", GDA_PCT_STRICT, NULL},
        {"a+b%2Bc", form, "a b+c"},
        {"100%", form, "100%"},
        {"%4", form, "%4"},
        {"%zz%41", form, "%zzA"},
        {"%%41", form, "%A"},
        {"%41%", form, "A%"},
        {"a+b", GDA_PCT_LENIENT, "a+b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool ok = decode(cases[i].in, cases[i].flags, out, &n);
        if (ok != (cases[i].want != NULL) || (ok && strcmp(out, cases[i].want) != 0))
            fail_msg("decoding \"%s\" (flags %u)", cases[i].in, cases[i].flags);
    }
    assert_true(decode("x%00y", GDA_PCT_STRICT, out, &n)); /* a NUL is kept, counted */
    assert_int_equal(n, 3);
    assert_int_equal(out[1], '\0');
    /* the output bound */
    assert_false(gda_pct_decode("abcd", 4, GDA_PCT_STRICT, out, 3, &n));
    assert_true(gda_pct_decode("%41%42", 6, GDA_PCT_STRICT, out, 2, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(out, "AB", 2);
    assert_false(gda_pct_decode("%41%42", 6, GDA_PCT_STRICT, out, 1, &n));
    /* round trip of every byte */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    char enc[3 * 256];
    size_t enc_len = (size_t)(gda_pct_encode(all, sizeof all, enc) - enc);
    char dec[256];
    assert_true(gda_pct_decode(enc, enc_len, GDA_PCT_STRICT, dec, sizeof dec, &n));
    assert_int_equal(n, 256);
    assert_memory_equal(dec, all, 256);
}

/* ---- base64 ------------------------------------------------------------------ */

static void check_encode(const char *in, gda_base64_alphabet a, const char *want)
{
    size_t n = strlen(in);
    assert_int_equal(gda_base64_encoded_len(n, a), strlen(want));
    char out[64];
    assert_ptr_equal(gda_base64_encode(in, n, a, out), out);
    assert_string_equal(out, want);
    char *heap = gda_base64_encode_alloc(in, n, a);
    assert_non_null(heap);
    assert_string_equal(heap, want);
    free(heap);
    uint8_t back[64];
    size_t back_len = 99;
    assert_true(gda_base64_decode(want, strlen(want), a, back, sizeof back, &back_len));
    assert_int_equal(back_len, n);
    assert_memory_equal(back, in, n);
}

static void test_base64_encode(void **state)
{
    (void)state;
    /* RFC 4648 section 10, in both alphabets */
    static const struct {
        const char *in;
        gda_base64_alphabet alphabet;
        const char *want;
    } vectors[] = {
        {"", GDA_BASE64_STANDARD, ""},
        {"f", GDA_BASE64_STANDARD, "Zg=="},
        {"fo", GDA_BASE64_STANDARD, "Zm8="},
        {"foo", GDA_BASE64_STANDARD, "Zm9v"},
        {"foob", GDA_BASE64_STANDARD, "Zm9vYg=="},
        {"fooba", GDA_BASE64_STANDARD, "Zm9vYmE="},
        {"foobar", GDA_BASE64_STANDARD, "Zm9vYmFy"},
        {"", GDA_BASE64_URLSAFE, ""},
        {"f", GDA_BASE64_URLSAFE, "Zg"},
        {"fo", GDA_BASE64_URLSAFE, "Zm8"},
        {"foobar", GDA_BASE64_URLSAFE, "Zm9vYmFy"},
        {"\xfb\xff", GDA_BASE64_STANDARD, "+/8="},
        {"\xfb\xff", GDA_BASE64_URLSAFE, "-_8"},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        check_encode(vectors[i].in, vectors[i].alphabet, vectors[i].want);
    /* lengths whose encoding would not fit a size_t */
    assert_int_equal(gda_base64_encoded_len(SIZE_MAX - 1, GDA_BASE64_STANDARD), SIZE_MAX);
    assert_int_equal(gda_base64_encoded_len(SIZE_MAX / 4 * 3 + 100, GDA_BASE64_URLSAFE), SIZE_MAX);
    assert_null(gda_base64_encode_alloc("", SIZE_MAX - 1, GDA_BASE64_STANDARD));
}

static void test_base64_round_trips(void **state)
{
    (void)state;
    uint8_t in[300], back[300];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof in; n += 7) {
        for (int a = GDA_BASE64_STANDARD; a <= GDA_BASE64_URLSAFE; a++) {
            char *text = gda_base64_encode_alloc(in, n, (gda_base64_alphabet)a);
            assert_non_null(text);
            size_t len = strlen(text);
            assert_true(gda_base64_decoded_max(len) >= n);
            size_t got = 0;
            assert_true(gda_base64_decode(text, len, (gda_base64_alphabet)a, back, sizeof back,
                                          &got));
            assert_int_equal(got, n);
            assert_memory_equal(back, in, n);
            /* too small a buffer is refused */
            if (n > 0)
                assert_false(gda_base64_decode(text, len, (gda_base64_alphabet)a, back, n - 1,
                                               &got));
            free(text);
        }
    }
}

/* Every rejection base64.h lists, in the standard alphabet (as the KMS
 * client's own strict decoder had them) and the URL-safe one. */
static void test_base64_rejections(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 0;
    assert_true(gda_base64_decode("YWJj", 4, GDA_BASE64_STANDARD, out, sizeof out, &n));
    assert_int_equal(n, 3);
    assert_true(gda_base64_decode("YWI=", 4, GDA_BASE64_STANDARD, out, sizeof out, &n));
    assert_int_equal(n, 2);
    assert_true(gda_base64_decode("YWI", 3, GDA_BASE64_STANDARD, out, sizeof out, &n));
    assert_int_equal(n, 2);
    static const char *const bad[] = {
        "YW=",          /* padding that does not complete a quantum */
        "YWI==",        /* excess padding */
        "YQ==YQ==",     /* padding in the middle */
        "Y",            /* a length no encoding has */
        "YWJjZ",        /* the same, longer */
        "YWJ\xc3\xa9",  /* non-ASCII bytes */
        "YWJ\x80",      /* a high byte libsodium 1.0.18 takes as a digit */
        "YW J",         /* white space */
        "YWJj\n",       /* a trailing newline */
        "YWJ-",         /* the other alphabet */
        "YR==",         /* non-canonical trailing bits */
        "YWJjZGVmZ2hp", /* out of room: 9 bytes into 8 */
        "====",         /* padding only */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (gda_base64_decode(bad[i], strlen(bad[i]), GDA_BASE64_STANDARD, out, sizeof out, &n))
            fail_msg("standard accepted \"%s\"", bad[i]);
        assert_int_equal(n, 0);
    }
    static const char *const bad_url[] = {"YWI=", "YW+/", "Y", "YR", "YW\x80", "Y Q"};
    for (size_t i = 0; i < sizeof bad_url / sizeof bad_url[0]; i++) {
        if (gda_base64_decode(bad_url[i], strlen(bad_url[i]), GDA_BASE64_URLSAFE, out, sizeof out,
                              &n))
            fail_msg("url-safe accepted \"%s\"", bad_url[i]);
    }
    assert_true(gda_base64_decode("", 0, GDA_BASE64_URLSAFE, out, sizeof out, &n));
    assert_int_equal(n, 0);
}

/* ---- JSON writer ---------------------------------------------------------- */

static void check_string(const char *in, size_t n, gda_hex_case hc, const char *want)
{
    gda_buf b = GDA_BUF_INIT;
    gda_json_string(&b, in, n, hc);
    assert_false(b.failed);
    assert_string_equal(b.data, want);
    gda_buf_free(&b);
}

static void test_json_escaping(void **state)
{
    (void)state;
    check_string("plain", 5, GDA_HEX_UPPER, "\"plain\"");
    check_string("", 0, GDA_HEX_UPPER, "\"\"");
    check_string("q\"b\\s/", 6, GDA_HEX_UPPER, "\"q\\\"b\\\\s/\"");
    check_string("\b\f\n\r\t", 5, GDA_HEX_UPPER, "\"\\b\\f\\n\\r\\t\"");
    /* other control characters as \u00XX in the caller's case; NUL too */
    check_string("\x01\x1f\x0b", 3, GDA_HEX_UPPER, "\"\\u0001\\u001F\\u000B\"");
    check_string("\x01\x1f\x0b", 3, GDA_HEX_LOWER, "\"\\u0001\\u001f\\u000b\"");
    check_string("a\0b", 3, GDA_HEX_LOWER, "\"a\\u0000b\"");
    /* DEL and non-ASCII UTF-8 pass through */
    check_string("\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10, GDA_HEX_UPPER,
                 "\"\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    gda_buf b = GDA_BUF_INIT;
    gda_json_escaped(&b, "x\"y", 3, GDA_HEX_UPPER);
    assert_string_equal(b.data, "x\\\"y");
    gda_buf_free(&b);
}

static void check_real(double v, const char *want)
{
    gda_buf b = GDA_BUF_INIT;
    gda_json_real(&b, v);
    assert_string_equal(b.data, want);
    gda_buf_free(&b);
}

static void test_json_values(void **state)
{
    (void)state;
    gda_buf b = GDA_BUF_INIT;
    GDA_JSON_LIT(&b, "{\"i\":");
    gda_json_int(&b, 0);
    GDA_JSON_LIT(&b, ",\"n\":");
    gda_json_int(&b, -42);
    GDA_JSON_LIT(&b, ",\"max\":");
    gda_json_int(&b, INT64_MAX);
    GDA_JSON_LIT(&b, ",\"min\":");
    gda_json_int(&b, INT64_MIN);
    GDA_JSON_LIT(&b, ",\"t\":");
    gda_json_bool(&b, true);
    GDA_JSON_LIT(&b, ",\"f\":");
    gda_json_bool(&b, false);
    GDA_JSON_LIT(&b, ",\"raw\":");
    gda_json_raw(&b, "[1,2]", 5);
    GDA_JSON_LIT(&b, "}");
    assert_string_equal(b.data, "{\"i\":0,\"n\":-42,\"max\":9223372036854775807,"
                                "\"min\":-9223372036854775808,\"t\":true,\"f\":false,"
                                "\"raw\":[1,2]}");
    gda_buf_free(&b);
    check_real(12.3, "12.3");
    check_real(1.0, "1.0");
    check_real(-0.5, "-0.5");
    check_real(1e20, "1e20");
    check_real(1e-5, "1e-5");
    check_real(1.5e300, "1.5e300");
    check_real(123456789012345678.0, "1.23456789012346e17");
    /* a failed buffer stays failed and writes nothing */
    gda_buf f = GDA_BUF_INIT;
    assert_false(gda_buf_reserve(&f, SIZE_MAX - 1));
    gda_json_string(&f, "x", 1, GDA_HEX_UPPER);
    gda_json_int(&f, 1);
    gda_json_real(&f, 1.5);
    gda_json_bool(&f, true);
    assert_true(f.failed);
    assert_null(f.data);
    gda_buf_free(&f);
}

/* ---- RFC 3339 ----------------------------------------------------------- */

static void check_time(int64_t ms, const char *want)
{
    char out[GDA_RFC3339_LEN + 1];
    assert_true(gda_rfc3339_format_ms(ms, out));
    assert_string_equal(out, want);
}

static void test_rfc3339(void **state)
{
    (void)state;
    check_time(0, "1970-01-01T00:00:00.000Z");
    check_time(999, "1970-01-01T00:00:00.999Z");
    check_time(86399999, "1970-01-01T23:59:59.999Z");
    check_time(951782400000, "2000-02-29T00:00:00.000Z"); /* leap day of a 400-year */
    check_time(951868799999, "2000-02-29T23:59:59.999Z");
    check_time(951868800000, "2000-03-01T00:00:00.000Z");
    check_time(1709164800123, "2024-02-29T00:00:00.123Z");
    check_time(4107542400000, "2100-03-01T00:00:00.000Z"); /* 2100 is not a leap year */
    check_time(1795514400123, "2026-11-24T10:00:00.123Z");
    check_time(GDA_RFC3339_MAX_MS, "9999-12-31T23:59:59.999Z");
    char out[GDA_RFC3339_LEN + 1] = "junk";
    assert_false(gda_rfc3339_format_ms(-1, out));
    assert_string_equal(out, "");
    assert_false(gda_rfc3339_format_ms(GDA_RFC3339_MAX_MS + 1, out));
    assert_false(gda_rfc3339_format_ms(INT64_MIN, out));
    assert_false(gda_rfc3339_format_ms(INT64_MAX, out));
    assert_string_equal(out, "");
}

/* ---- clocks ---------------------------------------------------------------- */

static void test_clock(void **state)
{
    (void)state;
    int64_t wall = gda_clock_now_ms(NULL);
    assert_true(wall > INT64_C(1600000000000)); /* after 2020 */
    int64_t prev = gda_clock_monotonic_ns();
    for (int i = 0; i < 1000; i++) {
        int64_t now = gda_clock_monotonic_ns();
        assert_true(now >= prev);
        prev = now;
    }
    int64_t start_ms = gda_clock_monotonic_ms();
    int64_t start = gda_clock_monotonic_ns();
    gda_clock_sleep_ms(5, NULL);
    assert_true(gda_clock_monotonic_ns() - start >= 5000000);
    start = gda_clock_monotonic_ns();
    gda_clock_sleep_ns(200000);
    assert_true(gda_clock_monotonic_ns() - start >= 200000);
    start = gda_clock_monotonic_ns();
    gda_clock_nap_ms(2);
    int64_t napped = gda_clock_monotonic_ns() - start;
    assert_true(napped > 0);
    assert_true(gda_clock_monotonic_ms() >= start_ms + 5);
    /* nothing to sleep */
    start = gda_clock_monotonic_ns();
    gda_clock_sleep_ms(0, NULL);
    gda_clock_sleep_ms(-5, NULL);
    gda_clock_sleep_ns(-1);
    gda_clock_nap_ms(0);
    assert_true(gda_clock_monotonic_ns() - start < 1000000000);
    assert_true(gda_clock_now_ms(NULL) >= wall);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows),
        cmocka_unit_test(test_buf_empty_steal_and_reserve),
        cmocka_unit_test(test_buf_failure_is_sticky),
        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_buf_caller_storage),
        cmocka_unit_test(test_buf_wipe),
        cmocka_unit_test(test_array_grow),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_percent_encode),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_base64_encode),
        cmocka_unit_test(test_base64_round_trips),
        cmocka_unit_test(test_base64_rejections),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
