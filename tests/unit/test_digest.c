/* Tests for lib/digest.h: FIPS 180-2 SHA-256 vectors and RFC 4231 HMAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "digest.h"
#include "rfc4231.h"
#include "test_hex.h"

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    uint8_t d[GDA_SHA256_LEN];
    char hex[65];
    gda_sha256("abc", 3, d);
    to_hex(d, sizeof d, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    gda_sha256("", 0, d);
    to_hex(d, sizeof d, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    gda_sha256(m, strlen(m), d);
    to_hex(d, sizeof d, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_parts_equal_whole(void **state)
{
    (void)state;
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    gda_slice parts[3] = {{m, 5}, {m + 5, 0}, {m + 5, strlen(m) - 5}};
    uint8_t a[GDA_SHA256_LEN], b[GDA_SHA256_LEN];
    gda_sha256_parts(parts, 3, a);
    gda_sha256(m, strlen(m), b);
    assert_memory_equal(a, b, sizeof a);
}

/* RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (case 5 is a truncated MAC). */
static void test_hmac_rfc4231(void **state)
{
    (void)state;
    for (size_t i = 0; i < rfc4231_case_count; i++) {
        uint8_t key[200], data[200], mac[GDA_SHA256_LEN];
        char hex[65];
        size_t key_len = test_unhex(rfc4231_cases[i].key_hex, key, sizeof key);
        size_t data_len = test_unhex(rfc4231_cases[i].data_hex, data, sizeof data);
        /* Split the message in two parts to exercise the vectored path. */
        gda_slice parts[2] = {{(const char *)data, data_len / 2},
                              {(const char *)data + data_len / 2, data_len - data_len / 2}};
        gda_hmac_sha256_parts(key, key_len, parts, 2, mac);
        to_hex(mac, sizeof mac, hex);
        assert_string_equal(hex, rfc4231_cases[i].mac_hex);

        /* A prepared key gives the same MAC, twice over (it is only read). */
        gda_hmac_key prepared;
        gda_hmac_sha256_key_init(&prepared, key, key_len);
        for (int round = 0; round < 2; round++) {
            memset(mac, 0, sizeof mac);
            gda_hmac_sha256_prepared(&prepared, parts, 2, mac);
            to_hex(mac, sizeof mac, hex);
            assert_string_equal(hex, rfc4231_cases[i].mac_hex);
        }
    }
}

/* Prepared and one-shot HMAC agree for every key length around the block
 * size (empty, short, exactly one block, just over it: hashed first) and
 * message lengths around block boundaries, split into parts anywhere. */
static void test_hmac_prepared_matches_one_shot(void **state)
{
    (void)state;
    uint8_t key[130], msg[300];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 13 + 1);
    static const size_t key_lens[] = {0, 1, 31, 32, 63, 64, 65, 129};
    static const size_t msg_lens[] = {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300};
    for (size_t k = 0; k < sizeof key_lens / sizeof key_lens[0]; k++) {
        gda_hmac_key prepared;
        gda_hmac_sha256_key_init(&prepared, key, key_lens[k]);
        for (size_t m = 0; m < sizeof msg_lens / sizeof msg_lens[0]; m++) {
            size_t n = msg_lens[m], a = n / 3, b = 2 * n / 3;
            gda_slice parts[3] = {{(const char *)msg, a},
                                  {(const char *)msg + a, b - a},
                                  {(const char *)msg + b, n - b}};
            uint8_t want[GDA_SHA256_LEN], got[GDA_SHA256_LEN];
            gda_hmac_sha256_parts(key, key_lens[k], parts, 3, want);
            gda_hmac_sha256_prepared(&prepared, parts, 3, got);
            assert_memory_equal(got, want, sizeof want);
        }
        /* Different keys give different MACs from the same prepared layout. */
        if (k > 0) {
            gda_hmac_key other;
            uint8_t a[GDA_SHA256_LEN], b[GDA_SHA256_LEN];
            gda_slice one = {(const char *)msg, 10};
            gda_hmac_sha256_key_init(&other, key, key_lens[k - 1]);
            gda_hmac_sha256_prepared(&prepared, &one, 1, a);
            gda_hmac_sha256_prepared(&other, &one, 1, b);
            assert_memory_not_equal(a, b, sizeof a);
        }
    }
}

static void test_backend_name(void **state)
{
    (void)state;
    const char *b = gda_digest_backend();
    assert_true(strcmp(b, "libcrypto") == 0 || strcmp(b, "libsodium") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_parts_equal_whole),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_prepared_matches_one_shot),
        cmocka_unit_test(test_backend_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
