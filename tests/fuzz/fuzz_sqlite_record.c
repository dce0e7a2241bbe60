/* libgda fuzzing — the SQLite store's record decoder.
 *
 * The store must not trust the rows it reads: the database file can be
 * damaged, edited by hand, or written by another program. This target writes
 * one arbitrary row straight into the store's table through a second SQLite
 * connection (any storage class in any column: NULL, integer, real, text or
 * blob of any length), then drives the store over it: get, put_if_absent,
 * complete and release. Every call must either decode a record that obeys the
 * gda_record rules or fail with GDA_ERR_STORE ("database record is
 * malformed") — never crash, read out of bounds or leak.
 *
 * Input: for each column of the row in schema order (state, payload_hash,
 * owner, lease_until_ms, expires_at_s, status_code, body, flags) one tag
 * byte, tag % 5 = 0 NULL, 1 integer (8 bytes), 2 real (8 bytes), 3 text
 * (length byte + bytes), 4 blob (length byte + bytes); missing bytes read as
 * zero. The rest of the input is the key. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <gda/store.h>
#include <gda/store/sqlite.h>

int gda_fuzz_sqlite_record(const uint8_t *data, size_t size);

static char dir[64];
static char path[96];
static gda_store *store;
static sqlite3 *raw;
static sqlite3_stmt *insert;
static sqlite3_stmt *same_owner;

#define MY_OWNER "0123456789abcdef0123456789abcdef"

static void cleanup(void)
{
    sqlite3_finalize(insert);
    sqlite3_finalize(same_owner);
    sqlite3_close(raw);
    gda_store_close(store);
    char p[128];
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
}

static bool init_store(void)
{
    if (insert)
        return true;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/gda-fuzz-XXXXXX", base);
    if (!mkdtemp(dir))
        return false;
    snprintf(path, sizeof path, "%s/store.db", dir);
    gda_sqlite_options o = {0};
    o.relaxed_durability = true;
    o.busy_timeout_ms = 1000;
    store = gda_sqlite_store_open(path, &o, NULL);
    if (!store || sqlite3_open(path, &raw) != SQLITE_OK ||
        sqlite3_exec(raw, "PRAGMA synchronous=OFF", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(raw,
                           "INSERT OR REPLACE INTO gda_idempotency (key, state, payload_hash,"
                           " owner, lease_until_ms, expires_at_s, status_code, body, flags)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           -1, &insert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(raw,
                           "SELECT count(*) FROM gda_idempotency WHERE CAST(owner AS TEXT) = '" MY_OWNER "'",
                           -1, &same_owner, NULL) != SQLITE_OK) {
        cleanup();
        insert = NULL;
        same_owner = NULL;
        raw = NULL;
        store = NULL;
        return false;
    }
    atexit(cleanup);
    return true;
}

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static uint8_t take_byte(reader *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

static void take(reader *r, void *out, size_t n)
{
    memset(out, 0, n);
    size_t k = n < r->left ? n : r->left;
    memcpy(out, r->p, k);
    r->p += k;
    r->left -= k;
}

static int bind_column(reader *r, int idx)
{
    uint8_t tag = take_byte(r) % 5;
    switch (tag) {
    case 0:
        return sqlite3_bind_null(insert, idx);
    case 1: {
        int64_t v;
        take(r, &v, sizeof v);
        return sqlite3_bind_int64(insert, idx, v);
    }
    case 2: {
        double v;
        take(r, &v, sizeof v);
        return sqlite3_bind_double(insert, idx, v);
    }
    default: {
        size_t n = take_byte(r);
        if (n > r->left)
            n = r->left;
        const uint8_t *bytes = r->p;
        r->p += n;
        r->left -= n;
        if (tag == 3)
            return sqlite3_bind_text(insert, idx, (const char *)bytes, (int)n, SQLITE_TRANSIENT);
        return sqlite3_bind_blob(insert, idx, n ? bytes : (const void *)"", (int)n,
                                 SQLITE_TRANSIENT);
    }
    }
}

static bool state_ok(gda_record_state s)
{
    return s == GDA_RECORD_IN_PROGRESS || s == GDA_RECORD_COMPLETED || s == GDA_RECORD_ACCEPTED;
}

static int check_record(const gda_record *rec, const char *key)
{
    FUZZ_CHECK(rec->key && strcmp(rec->key, key) == 0);
    FUZZ_CHECK(state_ok(rec->state));
    FUZZ_CHECK(memchr(rec->owner, '\0', sizeof rec->owner) != NULL);
    FUZZ_CHECK((rec->body == NULL) == (rec->body_len == 0));
    unsigned acc = 0;
    for (size_t i = 0; i < rec->body_len; i++)
        acc += rec->body[i]; /* ASan: the whole body must be ours */
    (void)acc;
    return 0;
}

int gda_fuzz_sqlite_record(const uint8_t *data, size_t size)
{
    if (!init_store())
        return 0;
    reader r = {data, size};
    sqlite3_exec(raw, "DELETE FROM gda_idempotency", NULL, NULL, NULL);
    for (int col = 2; col <= 9; col++) {
        if (bind_column(&r, col) != SQLITE_OK)
            goto skip;
    }
    /* The key: what is left, up to the first NUL, and never empty. */
    char key[GDA_KEY_MAX + 1];
    size_t klen = r.left < GDA_KEY_MAX ? r.left : GDA_KEY_MAX;
    memcpy(key, r.p, klen);
    key[klen] = '\0';
    if (key[0] == '\0')
        strcpy(key, "k");
    if (sqlite3_bind_text(insert, 1, key, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_step(insert) != SQLITE_DONE)
        goto skip; /* NOT NULL refused the row: nothing stored */
    sqlite3_reset(insert);
    sqlite3_clear_bindings(insert);
    /* A row that already names our owner token may legitimately be completed
     * by us; the fencing check below is for every other row. */
    bool row_is_ours = sqlite3_step(same_owner) == SQLITE_ROW &&
                       sqlite3_column_int(same_owner, 0) > 0;
    sqlite3_reset(same_owner);

    gda_store_call call = {.now_ms = FUZZ_NOW_MS};
    gda_record got = {0};
    bool found = false;
    gda_error err = {0};
    gda_status st = gda_store_get(store, key, &call, &got, &found, &err);
    FUZZ_CHECK(fuzz_error_consistent(st, &err));
    FUZZ_CHECK(st == GDA_OK || st == GDA_ERR_STORE || st == GDA_ERR_NOMEM);
    if (st == GDA_OK) {
        FUZZ_CHECK(found);
        if (check_record(&got, key)) {
            gda_record_clear(&got);
            return 1;
        }
    }
    gda_record_clear(&got);

    /* A new executor arrives for the same key. */
    gda_record mine = {0};
    mine.key = key;
    mine.state = GDA_RECORD_IN_PROGRESS;
    memset(mine.payload_hash, 0xab, sizeof mine.payload_hash);
    strcpy(mine.owner, MY_OWNER);
    mine.lease_until_ms = FUZZ_NOW_MS + 30000;
    mine.expires_at_s = FUZZ_NOW_MS / 1000 + 3600;
    gda_record existing = {0};
    bool inserted = false;
    memset(&err, 0, sizeof err);
    st = gda_store_put_if_absent(store, &mine, &call, &inserted, &existing, &err);
    FUZZ_CHECK(fuzz_error_consistent(st, &err));
    FUZZ_CHECK(st == GDA_OK || st == GDA_ERR_STORE || st == GDA_ERR_NOMEM);
    if (st == GDA_OK && !inserted) {
        int bad = check_record(&existing, key);
        bool live = gda_record_is_live(&existing, FUZZ_NOW_MS);
        gda_record_clear(&existing);
        FUZZ_CHECK(bad == 0 && live);
    }
    gda_record_clear(&existing);

    /* Complete and release: fenced by the owner, whatever the row holds. */
    gda_record done = mine;
    done.state = GDA_RECORD_COMPLETED;
    done.status_code = 200;
    done.body = (uint8_t *)"{}";
    done.body_len = 2;
    bool applied = false;
    memset(&err, 0, sizeof err);
    st = gda_store_complete(store, &done, &call, &applied, &err);
    FUZZ_CHECK(fuzz_error_consistent(st, &err));
    FUZZ_CHECK(st == GDA_OK || st == GDA_ERR_STORE || st == GDA_ERR_NOMEM);
    /* Only the executor that holds the record may complete it. */
    FUZZ_CHECK(st != GDA_OK || !applied || inserted || row_is_ours);
    memset(&err, 0, sizeof err);
    st = gda_store_release(store, key, mine.owner, &call, &applied, &err);
    FUZZ_CHECK(fuzz_error_consistent(st, &err));
    FUZZ_CHECK(st == GDA_OK || st == GDA_ERR_STORE || st == GDA_ERR_NOMEM);
    return 0;

skip:
    sqlite3_reset(insert);
    sqlite3_clear_bindings(insert);
    return 0;
}

#ifndef GDA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gda_fuzz_sqlite_record(data, size))
        abort();
    return 0;
}
#endif
