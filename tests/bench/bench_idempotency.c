/* Benchmark: per-operation cost of the exactly-once engine over the memory
 * store: begin+complete of fresh keys (the first execution of a request) and
 * begin of completed keys (a retry served from the cache), with and without
 * an encrypted result. Usage: bench_idempotency [operations per pass]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gda/idempotency.h>

#include "test_idem.h"

static const char body[] = "{\"data\":{\"customerId\":\"c-123456\",\"balance\":1042.17,"
                           "\"tier\":\"gold\",\"openCases\":2}}";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, size_t ops, double seconds)
{
    printf("%-46s %10zu ops %10.1f ns/op %12.0f ops/s\n", what, ops, seconds * 1e9 / (double)ops,
           (double)ops / seconds);
}

static int run_pass(const char *label, const uint8_t *data_key, size_t ops)
{
    gda_error err;
    gda_store *store = gda_memory_store_new(ops + 16, &err);
    if (!store) {
        fprintf(stderr, "memory store: %s\n", err.message);
        return 1;
    }
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    cfg.data_key = data_key;
    cfg.data_key_len = data_key ? GDA_IDEM_DATA_KEY_LEN : 0;
    gda_idem *idem = gda_idem_new(store, &cfg, &err);
    if (!idem) {
        fprintf(stderr, "engine: %s\n", err.message);
        gda_store_close(store);
        return 1;
    }
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    test_payload_hash("{\"customerId\":\"c-123456\"}", 25, hash);
    char key[32];
    char what[80];
    int rc = 0;

    double t0 = now_s();
    for (size_t i = 0; i < ops && rc == 0; i++) {
        snprintf(key, sizeof key, "req-%zu", i);
        gda_idem_outcome outcome;
        gda_idem_lease lease;
        gda_idem_result res = {0};
        if (gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, 0, &outcome, &lease, &res, &err) != GDA_OK ||
            outcome != GDA_IDEM_NEW ||
            gda_idem_complete(idem, &lease, 200, body, sizeof body - 1, &err) != GDA_OK) {
            fprintf(stderr, "begin+complete %s: %s\n", key, err.message);
            rc = 1;
        }
    }
    double t1 = now_s();
    snprintf(what, sizeof what, "begin+complete (%s)", label);
    if (rc == 0)
        report(what, ops, t1 - t0);

    t0 = now_s();
    for (size_t i = 0; i < ops && rc == 0; i++) {
        snprintf(key, sizeof key, "req-%zu", i);
        gda_idem_outcome outcome;
        gda_idem_lease lease;
        gda_idem_result res = {0};
        if (gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, 0, &outcome, &lease, &res, &err) != GDA_OK ||
            outcome != GDA_IDEM_REPLAY || res.body_len != sizeof body - 1) {
            fprintf(stderr, "replay %s: %s\n", key, err.message);
            rc = 1;
        }
        gda_idem_result_clear(&res);
    }
    t1 = now_s();
    snprintf(what, sizeof what, "replay (%s)", label);
    if (rc == 0)
        report(what, ops, t1 - t0);

    gda_idem_free(idem);
    gda_store_close(store);
    return rc;
}

int main(int argc, char **argv)
{
    size_t ops = 100000;
    if (argc > 1) {
        char *end = NULL;
        unsigned long long n = strtoull(argv[1], &end, 10);
        if (!end || *end || n == 0 || n > 10000000) {
            fprintf(stderr, "usage: %s [operations per pass, 1..10000000]\n", argv[0]);
            return 2;
        }
        ops = (size_t)n;
    }
    static const uint8_t key[GDA_IDEM_DATA_KEY_LEN] = {
        0x42, 0x13, 0x37, 0x99, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
        0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c};
    printf("idempotency engine over the memory store, %zu-byte result\n", sizeof body - 1);
    int rc = run_pass("memory, plaintext", NULL, ops);
    if (rc == 0)
        rc = run_pass("memory, XChaCha20-Poly1305", key, ops);
    return rc;
}
