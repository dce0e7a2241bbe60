/* Allocation budget of the per-request hot paths (issue: "no waste on the hot
 * path"). With the test allocator hook (tests/bench/alloc_count.c) every
 * malloc in the process is counted, so a change that makes header lookups
 * copy, or authentication or hashing allocate, fails here:
 *   - header lookups return slices into the request: zero allocations;
 *   - SHA-256 and HMAC-SHA256 keep their state on the stack: zero;
 *   - token and HMAC-SHA256 verification, accepted or refused: zero.
 * Under a sanitizer the hook is compiled out and the tests are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gda/event.h>
#include <gda/verify.h>

#include "../bench/alloc_count.h"
#include "digest.h"

#define NOW_MS INT64_C(1795514400000)

static const char ring_text[] = "old:qUSZyxJ5+RgVZOmCtBy8Z3Hg8dlN5tmMnmN+GVYdmlE=,"
                                "new:2fTJyE3r5RJyPb7oKb5rU8hqq1DnRmZC8vE1tpFxN/o=";

static const char body[] = "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\","
                           "\"requestId\":\"req-1\",\"callerId\":\"+15551234567\"}";

typedef struct request_fixture {
    gda_header headers[8];
    gda_http_request req;
} request_fixture;

static void set_header(request_fixture *f, size_t i, const char *name, const char *value)
{
    f->headers[i].name = gda_slice_make(name, strlen(name));
    f->headers[i].value = gda_slice_make(value, strlen(value));
}

/* A POST carrying sig's headers after four ordinary ones. */
static void make_request(request_fixture *f, const gda_signed_headers *sig)
{
    memset(f, 0, sizeof *f);
    set_header(f, 0, "Host", "dataaction.example.com");
    set_header(f, 1, "Content-Type", "application/json");
    set_header(f, 2, "User-Agent", "Genesys-Cloud-DataAction");
    set_header(f, 3, "X-Amzn-Trace-Id", "Root=1-6743f1a0-3c5d2b1e4f6a7b8c9d0e1f2a");
    size_t n = 4;
    for (size_t i = 0; sig && i < sig->n; i++, n++)
        set_header(f, n, sig->headers[i].name, sig->headers[i].value);
    f->req.kind = GDA_EVENT_HTTP;
    f->req.method = gda_slice_make("POST", 4);
    f->req.path = gda_slice_make("/genesys/dataaction", 19);
    f->req.headers = f->headers;
    f->req.n_headers = n;
    f->req.body = gda_slice_make(body, sizeof body - 1);
}

static void skip_without_hook(void)
{
    if (!alloc_count_available()) {
        print_message("allocation hook unavailable (sanitizer or non-glibc build): skipped\n");
        skip();
    }
}

static void test_hook_counts(void **state)
{
    (void)state;
    skip_without_hook();
    alloc_count_reset();
    char *volatile p = malloc(32);
    assert_non_null(p);
    p = realloc(p, 64);
    assert_non_null(p);
    free(p);
    alloc_counts c = alloc_count_get();
    assert_int_equal(c.allocs, 1);
    assert_int_equal(c.reallocs, 1);
    assert_int_equal(c.frees, 1);
}

static void test_header_lookup_copies_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    request_fixture f;
    make_request(&f, NULL);
    alloc_count_reset();
    bool found = false;
    gda_slice v = gda_http_request_header(&f.req, "content-type", &found);
    gda_slice missing = gda_http_request_header(&f.req, "x-genesys-signature", NULL);
    size_t n = gda_http_request_header_count(&f.req, "USER-AGENT");
    alloc_counts c = alloc_count_get();
    assert_true(found);
    assert_ptr_equal(v.ptr, f.headers[1].value.ptr); /* a slice, not a copy */
    assert_int_equal(v.len, 16);
    assert_null(missing.ptr);
    assert_int_equal(n, 1);
    assert_int_equal(c.allocs + c.reallocs, 0);
}

static void test_digest_allocates_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    uint8_t out[GDA_SHA256_LEN];
    static const uint8_t key[100] = {1, 2, 3}; /* longer than a block: hashed first */
    gda_slice parts[3] = {{"1795514400", 10}, {".", 1}, {body, sizeof body - 1}};
    gda_sha256(body, 1, out); /* first use, outside the count */
    alloc_count_reset();
    gda_sha256(body, sizeof body - 1, out);
    gda_sha256_parts(parts, 3, out);
    gda_hmac_sha256_parts(key, 32, parts, 3, out);
    gda_hmac_sha256_parts(key, sizeof key, parts, 3, out);
    alloc_counts c = alloc_count_get();
    assert_int_equal(c.allocs + c.reallocs, 0);
}

/* Verify req count times after one warm-up call and return the allocations
 * of those calls; every call must end in `expect`. */
static size_t verify_allocs(gda_verifier *v, const gda_http_request *req, gda_status expect,
                            int count)
{
    gda_auth_result res;
    gda_error err;
    assert_int_equal(gda_verifier_verify(v, req, NOW_MS, &res, &err), expect);
    alloc_count_reset();
    for (int i = 0; i < count; i++)
        assert_int_equal(gda_verifier_verify(v, req, NOW_MS, &res, &err), expect);
    alloc_counts c = alloc_count_get();
    return c.allocs + c.reallocs;
}

static void check_scheme(const char *scheme)
{
    gda_error err;
    gda_verifier *v = NULL;
    assert_int_equal(gda_verifier_new_from_config(scheme, ring_text, sizeof ring_text - 1, NULL,
                                                  &v, &err),
                     GDA_OK);
    gda_signed_headers sig = {0};
    gda_sign_params sp = {.key_id = "new", .now_ms = NOW_MS};
    assert_int_equal(gda_verifier_sign(v, &sp, gda_slice_make(body, sizeof body - 1), &sig, &err),
                     GDA_OK);
    request_fixture f;
    make_request(&f, &sig);
    assert_int_equal(verify_allocs(v, &f.req, GDA_OK, 16), 0);

    /* Refusals cost nothing either: a wrong credential, and none at all. */
    char *value = NULL;
    for (size_t i = 0; i < sig.n && i < GDA_SIGNED_MAX_HEADERS; i++) {
        if (strcmp(sig.headers[i].name, "X-Genesys-Signature") == 0)
            value = sig.headers[i].value;
    }
    assert_non_null(value);
    value[0] = value[0] == 'A' ? 'B' : 'A';
    make_request(&f, &sig);
    assert_int_equal(verify_allocs(v, &f.req, GDA_ERR_UNAUTHORIZED, 16), 0);
    make_request(&f, NULL);
    assert_int_equal(verify_allocs(v, &f.req, GDA_ERR_UNAUTHORIZED, 16), 0);

    gda_signed_headers_release(&sig);
    gda_verifier_free(v);
}

static void test_token_verification_allocates_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    check_scheme("token");
}

static void test_hmac_verification_allocates_nothing(void **state)
{
    (void)state;
    skip_without_hook();
    check_scheme("hmac-sha256");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_counts),
        cmocka_unit_test(test_header_lookup_copies_nothing),
        cmocka_unit_test(test_digest_allocates_nothing),
        cmocka_unit_test(test_token_verification_allocates_nothing),
        cmocka_unit_test(test_hmac_verification_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
