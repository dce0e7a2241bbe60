/* Integration: what an attacker holding the SQLite store file and the logs
 * of gda-httpd can learn about a caller's phone number.
 *
 * One request goes through the real server (token scheme, SQLite store,
 * GDA_DATA_KEY set as every durable deployment must). The attacker then
 *   - reads the request's log line: callerId is masked to its last 4 digits;
 *   - reads the record's payload hash, principal digest and body straight
 *     from the database file;
 *   - builds the body for each of 10^4 candidate numbers (every one sharing
 *     the logged last 4 digits, the real one among them) and hashes it as
 *     libgda 0.1 did (plain SHA-256) and as an engine without the server's
 *     secret would (HMAC under any other key).
 * None of those 2 x 10^4 guesses matches. The same search with the server's
 * key finds the number at once, so the search itself is sound: only the
 * key stands between the store and the number.
 *
 * Usage (from meson): test_store_privacy <path to gda-httpd-test>
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>
#include <sqlite3.h>

#include <gda/idempotency.h>
#include <gda/store.h>

#include "test_httpd_spawn.h"
#include "test_time.h"

#define SECRET_B64 "cHJpdmFjeS10ZXN0LXNlY3JldC1vZi0zMi1ieXRlcyE="
#define KEYRING "priv:" SECRET_B64
#define ROUTE "/genesys/dataaction"
#define REQUEST_ID "privacy-1"
/* The caller: 11 digits; the log keeps "4567". */
#define CALLER "+15551234567"
#define BODY_FMT                                                                           \
    "{\"interactionId\":\"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70\",\"requestId\":\"" REQUEST_ID \
    "\",\"callerId\":\"%s\",\"timestamp\":\"2026-11-24T10:00:00Z\"}"

static const char *server_bin;

typedef struct buf {
    char data[8192];
    size_t len;
} buf;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    buf *b = user;
    size_t len = size * n;
    if (b->len + len >= sizeof b->data)
        return 0;
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

static long post(int port, const char *body, buf *out)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, ROUTE);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "X-Genesys-Signature: " SECRET_B64);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("POST: %s", curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static char *read_all(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("open %s: %s", path, strerror(errno));
    char *data = NULL;
    size_t len = 0;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        data = realloc(data, len + n + 1);
        assert_non_null(data);
        memcpy(data + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!data)
        data = calloc(1, 1);
    data[len] = '\0';
    *len_out = len;
    return data;
}

static bool contains(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

/* What the attacker reads from the store file, with plain SQLite. */
typedef struct stolen {
    uint8_t payload_hash[GDA_PAYLOAD_HASH_LEN];
    uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN];
    int flags;
} stolen;

static void steal_record(const char *db_path, stolen *out)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT payload_hash, principal, flags FROM"
                                        " gda_idempotency WHERE key = '" REQUEST_ID "'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(st, 0), GDA_PAYLOAD_HASH_LEN);
    assert_int_equal(sqlite3_column_bytes(st, 1), GDA_PRINCIPAL_DIGEST_LEN);
    memcpy(out->payload_hash, sqlite3_column_blob(st, 0), GDA_PAYLOAD_HASH_LEN);
    memcpy(out->principal, sqlite3_column_blob(st, 1), GDA_PRINCIPAL_DIGEST_LEN);
    out->flags = sqlite3_column_int(st, 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* An engine whose hash key derives from data_key (NULL: a random key, as an
 * engine that does not know the server's secret has). */
static gda_idem *engine_with(gda_store *mem, const uint8_t *data_key)
{
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    cfg.data_key = data_key;
    cfg.data_key_len = data_key ? GDA_IDEM_DATA_KEY_LEN : 0;
    gda_error err;
    gda_idem *idem = gda_idem_new(mem, &cfg, &err);
    if (!idem)
        fail_msg("engine: %s", err.message);
    return idem;
}

/* The candidate numbers: the logged last 4 digits fixed, the country code
 * and the first area digits assumed known, 4 digits guessed:
 * "+155" + dddd + "4567". The real one is dddd = 5123. */
static void candidate(unsigned i, char out[16])
{
    snprintf(out, 16, "+155%04u4567", i);
}

static int search(const stolen *s, gda_idem *idem, bool plain_sha256)
{
    int found = -1;
    for (unsigned i = 0; i < 10000; i++) {
        char number[16], body[512];
        candidate(i, number);
        int n = snprintf(body, sizeof body, BODY_FMT, number);
        uint8_t h[GDA_PAYLOAD_HASH_LEN];
        if (plain_sha256)
            crypto_hash_sha256(h, (const uint8_t *)body, (size_t)n);
        else
            gda_idem_payload_hash_bytes(idem, body, (size_t)n, h);
        if (sodium_memcmp(h, s->payload_hash, sizeof h) == 0)
            found = (int)i;
    }
    return found;
}

static void test_store_and_log_do_not_give_the_number_away(void **state)
{
    (void)state;
    char dir[] = "/tmp/gda-privacy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char db[128], store[160], log[128], ledger[128], port_file[128];
    snprintf(db, sizeof db, "%s/store.db", dir);
    snprintf(store, sizeof store, "sqlite:%s", db);
    snprintf(log, sizeof log, "%s/server.log", dir);
    snprintf(ledger, sizeof ledger, "%s/ledger", dir);
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    test_httpd_config cfg = {
        .bin = server_bin,
        .threads = "2",
        .port_file = port_file,
        .log_path = log,
        .keyring = KEYRING,
        .store = store,
        .ledger = ledger,
        .log_level = "info",
    };
    pid_t pid;
    int port;
    assert_true(test_httpd_start(&cfg, &pid, &port));
    char body[512];
    snprintf(body, sizeof body, BODY_FMT, CALLER);
    buf resp = {0};
    long status = post(port, body, &resp);
    kill(pid, SIGTERM);
    int wst;
    waitpid(pid, &wst, 0);
    assert_int_equal(status, 200);

    /* The log: only the last 4 digits. */
    size_t log_len;
    char *log_text = read_all(log, &log_len);
    assert_true(contains(log_text, log_len, "\"callerId\":\"***4567\""));
    assert_false(contains(log_text, log_len, "5551234567"));
    assert_false(contains(log_text, log_len, "+1555"));
    free(log_text);

    /* The store file (and its WAL, if the last close left one) never holds
     * the number in any form. */
    static const char *const suffixes[] = {"", "-wal"};
    for (size_t i = 0; i < 2; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s%s", db, suffixes[i]);
        if (i > 0 && access(path, F_OK) != 0)
            continue;
        size_t len;
        char *raw = read_all(path, &len);
        assert_false(contains(raw, len, "5551234567"));
        free(raw);
    }

    stolen s;
    steal_record(db, &s);
    assert_true(s.flags & GDA_RECORD_ENCRYPTED); /* the cached body is sealed */

    gda_store *mem = gda_memory_store_new(0, NULL);
    assert_non_null(mem);
    /* 0.1's unkeyed hash, and a guessed key: 2 x 10^4 guesses, no match. */
    assert_int_equal(search(&s, NULL, true), -1);
    gda_idem *outsider = engine_with(mem, NULL);
    assert_int_equal(search(&s, outsider, false), -1);
    uint8_t guessed_principal[GDA_PRINCIPAL_DIGEST_LEN];
    gda_idem_principal_digest(outsider, "priv", "", guessed_principal);
    assert_false(sodium_memcmp(guessed_principal, s.principal, sizeof s.principal) == 0);
    gda_idem_free(outsider);

    /* With the server's secret the same search finds it: the dictionary
     * was right, the key is what stops it. */
    uint8_t data_key[GDA_IDEM_DATA_KEY_LEN];
    size_t key_len = 0;
    assert_int_equal(sodium_base642bin(data_key, sizeof data_key, TEST_HTTPD_DATA_KEY_B64,
                                       strlen(TEST_HTTPD_DATA_KEY_B64), NULL, &key_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(key_len, sizeof data_key);
    gda_idem *insider = engine_with(mem, data_key);
    assert_int_equal(search(&s, insider, false), 5123);
    gda_idem_free(insider);
    gda_store_close(mem);

    static const char *const all[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s%s", db, all[i]);
        unlink(path);
    }
    unlink(log);
    unlink(ledger);
    unlink(port_file);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s GDA_HTTPD_TEST\n", argv[0]);
        return 2;
    }
    server_bin = argv[1];
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_and_log_do_not_give_the_number_away),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
