/* libgda fuzzing — helpers shared by the targets in tests/fuzz/.
 *
 * Each target file defines `int gda_fuzz_<name>(const uint8_t *data, size_t
 * size)`, which runs one input and returns 0, or non-zero after printing which
 * invariant the library broke. Built as a fuzzer, the file also defines
 * LLVMFuzzerTestOneInput, which aborts on a non-zero return so libFuzzer
 * records the input as a crash. Built with GDA_FUZZ_NO_MAIN (the
 * fuzz_regressions unit test), the same functions replay saved inputs under
 * the ordinary and sanitizer builds.
 *
 * Several targets read an HTTP-like input, which keeps seeds readable and
 * lets libFuzzer mutate headers and body independently:
 *
 *     Name: value\n        (zero or more header lines, ": " optional)
 *     \n                   (blank line)
 *     body bytes           (everything after it, any bytes)
 *
 * Without a blank line the whole input is headers and the body is empty.
 */
#ifndef GDA_FUZZ_COMMON_H
#define GDA_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gda/event.h>
#include <gda/status.h>

/* Report a broken invariant: returns 1 from the enclosing function. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

#define FUZZ_MAX_HEADERS 32

/* A gda_http_request over a private copy of the input. */
typedef struct fuzz_http {
    gda_http_request req;
    gda_header headers[FUZZ_MAX_HEADERS];
    char *copy; /* heap copy of the input that the slices point into */
} fuzz_http;

/* Split data into headers and body as described above and fill *out with a
 * GDA_EVENT_HTTP POST request. Returns false when memory runs out or there
 * are more than FUZZ_MAX_HEADERS header lines (the input is then skipped). */
bool fuzz_http_parse(const uint8_t *data, size_t size, fuzz_http *out);

void fuzz_http_free(fuzz_http *h);

/* Whether err is consistent with the status a call returned: the same code,
 * NUL-terminated field and message, and a message present for an error. */
bool fuzz_error_consistent(gda_status st, const gda_error *err);

/* Key ring shared by the verifier targets and their seeds: two secrets (for
 * rotation) and an Ed25519 public key. Seeds in tests/fuzz/seeds/ were signed
 * with these secrets and FUZZ_NOW_MS. */
extern const char fuzz_keyring_text[];
#define FUZZ_NOW_MS INT64_C(1795000000000)

#endif /* GDA_FUZZ_COMMON_H */
