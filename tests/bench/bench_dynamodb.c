/* Benchmark: the exactly-once engine over the DynamoDB store against a local
 * dynalite it starts and stops itself. Reports requests per second and HTTP
 * round trips per request for unique requests (begin + complete) and retried
 * ones (begin -> replay), and checks that connections are reused: the number
 * of TCP connections opened stays the same across all the requests
 * (default 10,000; first argument overrides). Exits non-zero when it does
 * not, or when any request fails. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gda/idempotency.h>
#include <gda/store.h>
#include <gda/store/dynamodb.h>

#include "dynamodb_internal.h" /* gda_dynamodb_store_stats */

#include "test_idem.h"
#include "dynalite.h"

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, unsigned n, double secs, const gda_dynamodb_stats *before,
                   const gda_dynamodb_stats *after)
{
    double trips = (double)(after->round_trips - before->round_trips) / n;
    printf("dynamodb %-8s %6u requests  %8.0f requests/s  %.2f round trips/request  "
           "%llu new connections\n",
           what, n, n / secs, trips,
           (unsigned long long)(after->connections - before->connections));
}

int main(int argc, char **argv)
{
    unsigned total = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000;
    if (total < 2)
        total = 2;
    unsigned unique = total / 2, retried = total - unique;

    dynalite_server server;
    dynalite_set_test_credentials();
    if (!dynalite_start(&server, false)) {
        fprintf(stderr, "bench_dynamodb: %s\n", server.error);
        return 1;
    }
    int rc = 1;
    gda_store *store = NULL;
    gda_idem *idem = NULL;
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = "bench_table";
    o.endpoint = server.endpoint;
    gda_error err;
    if (gda_dynamodb_create_table(&o, 0, NULL, NULL, &err) != GDA_OK ||
        !(store = gda_dynamodb_store_new(&o, &err)) || !(idem = gda_idem_new(store, NULL, &err))) {
        fprintf(stderr, "bench_dynamodb: set-up: %s\n", err.message);
        goto out;
    }

    gda_dynamodb_stats start, mid, end;
    gda_dynamodb_store_stats(store, &start, &err);
    /* The first call opens the connection; count from there. */
    char key[32];
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    const char body[] = "{\"status\":\"completed\",\"data\":{\"queue\":\"sales\"},\"requiresRetry\":false}";
    double t0 = seconds_now();
    for (unsigned i = 0; i < unique; i++) {
        snprintf(key, sizeof key, "bench-%08u", i);
        test_payload_hash(key, strlen(key), hash);
        gda_idem_outcome outcome = 0;
        gda_idem_lease lease;
        gda_idem_result replay = {0};
        if (gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, 0, &outcome, &lease, &replay, &err) != GDA_OK ||
            outcome != GDA_IDEM_NEW ||
            gda_idem_complete(idem, &lease, 200, body, sizeof body - 1, &err) != GDA_OK) {
            fprintf(stderr, "bench_dynamodb: unique request %u failed: %s\n", i, err.message);
            goto out;
        }
        if (i == 0)
            gda_dynamodb_store_stats(store, &start, &err);
    }
    double t1 = seconds_now();
    gda_dynamodb_store_stats(store, &mid, &err);
    for (unsigned i = 0; i < retried; i++) {
        snprintf(key, sizeof key, "bench-%08u", i % unique);
        test_payload_hash(key, strlen(key), hash);
        gda_idem_outcome outcome = 0;
        gda_idem_lease lease;
        gda_idem_result replay = {0};
        if (gda_idem_begin(idem, key, hash, TEST_PRINCIPAL, 0, &outcome, &lease, &replay, &err) != GDA_OK ||
            outcome != GDA_IDEM_REPLAY || replay.body_len != sizeof body - 1) {
            fprintf(stderr, "bench_dynamodb: retried request %u failed: %s\n", i, err.message);
            gda_idem_result_clear(&replay);
            goto out;
        }
        gda_idem_result_clear(&replay);
    }
    double t2 = seconds_now();
    gda_dynamodb_store_stats(store, &end, &err);

    /* "unique" counts from after the first request (which opened the
     * connection), so its round trips include one request fewer. */
    report("unique", unique > 1 ? unique - 1 : 1, t1 - t0, &start, &mid);
    report("retried", retried, t2 - t1, &mid, &end);
    printf("dynamodb connections: %llu opened for %u requests (%llu round trips)\n",
           (unsigned long long)end.connections, total, (unsigned long long)end.round_trips);
    printf("dynamodb (dynalite does not return ALL_OLD, so a retried request costs a GetItem "
           "more than on DynamoDB)\n");
    if (end.connections != start.connections) {
        fprintf(stderr, "bench_dynamodb: connections were not reused (%llu -> %llu)\n",
                (unsigned long long)start.connections, (unsigned long long)end.connections);
        goto out;
    }
    rc = 0;
out:
    gda_idem_free(idem);
    gda_store_close(store);
    dynalite_stop(&server);
    return rc;
}
