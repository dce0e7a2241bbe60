/* Tests for lib/stores/sqlite (include/gda/store/sqlite.h): the shared store
 * contract suite against a real database file in a fresh temporary folder per
 * test case, then what is particular to SQLite: persistence across reopen,
 * schema versioning, corrupt files, a write lock held past the busy timeout
 * or the call's deadline, I/O failure, purging, several handles on one file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <gda/store.h>
#include <gda/store/sqlite.h>

#include "store_suite.h"

#define T0_MS INT64_C(1700000000000)
#define T0_S (T0_MS / 1000)

/* ---- temporary folders -------------------------------------------------- */

typedef struct tmp_db {
    char dir[256];
    char path[300];
} tmp_db;

static void tmp_db_make(tmp_db *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/gda-sqlite-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(t->dir)) {
        fprintf(stderr, "mkdtemp(%s): %s\n", t->dir, strerror(errno));
        t->dir[0] = '\0';
        t->path[0] = '\0';
        return;
    }
    snprintf(t->path, sizeof t->path, "%s/store.db", t->dir);
}

/* Remove the database, its WAL companions and the folder. */
static void tmp_db_remove(tmp_db *t)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char file[320];
    if (!t->dir[0])
        return;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(file, sizeof file, "%s%s", t->path, suffixes[i]);
        unlink(file);
    }
    rmdir(t->dir);
    t->dir[0] = '\0';
}

static int tmp_setup(void **state)
{
    tmp_db *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    tmp_db_make(t);
    if (!t->dir[0]) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    tmp_db *t = *state;
    tmp_db_remove(t);
    free(t);
    return 0;
}

/* ---- the shared suite --------------------------------------------------- */

static gda_store *suite_open(void *user)
{
    tmp_db *t = user;
    gda_error err;
    tmp_db_make(t);
    if (!t->dir[0])
        return NULL;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, &err);
    if (!s)
        fprintf(stderr, "sqlite open: %s\n", err.message);
    return s;
}

static void suite_cleanup(void *user)
{
    tmp_db_remove(user);
}

/* ---- helpers ------------------------------------------------------------ */

static gda_record pending(const char *key, const char *owner, int64_t now_ms, int64_t expires_s)
{
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = (char *)key;
    rec.state = GDA_RECORD_IN_PROGRESS;
    for (size_t i = 0; i < GDA_PAYLOAD_HASH_LEN; i++)
        rec.payload_hash[i] = (uint8_t)(0x40 + i);
    snprintf(rec.owner, sizeof rec.owner, "%s", owner);
    rec.lease_until_ms = now_ms + 30000;
    rec.expires_at_s = expires_s;
    return rec;
}

static gda_status put_at(gda_store *s, const gda_record *rec, int64_t now_ms, bool *inserted,
                         gda_error *err)
{
    gda_store_call call = {.now_ms = now_ms};
    return gda_store_put_if_absent(s, rec, &call, inserted, NULL, err);
}

static void put_ok(gda_store *s, const gda_record *rec, int64_t now_ms)
{
    bool inserted = false;
    gda_error err;
    assert_int_equal(put_at(s, rec, now_ms, &inserted, &err), GDA_OK);
    assert_true(inserted);
}

static void complete_ok(gda_store *s, const gda_record *rec, const char *body, int64_t now_ms)
{
    gda_record done = *rec;
    done.state = GDA_RECORD_COMPLETED;
    done.status_code = 200;
    done.body = (uint8_t *)body;
    done.body_len = strlen(body);
    gda_store_call call = {.now_ms = now_ms};
    bool applied = false;
    assert_int_equal(gda_store_complete(s, &done, &call, &applied, NULL), GDA_OK);
    assert_true(applied);
}

static bool exists(gda_store *s, const char *key, int64_t now_ms)
{
    gda_store_call call = {.now_ms = now_ms};
    gda_record out;
    memset(&out, 0, sizeof out);
    bool found = false;
    gda_error err;
    assert_int_equal(gda_store_get(s, key, &call, &out, &found, &err), GDA_OK);
    gda_record_clear(&out);
    return found;
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t elapsed_ms_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void assert_message_has(const gda_error *err, const char *needle)
{
    if (!strstr(err->message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err->message, needle);
}

/* ---- open --------------------------------------------------------------- */

static void test_open_creates_versioned_wal_database(void **state)
{
    tmp_db *t = *state;
    gda_error err;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, &err);
    assert_non_null(s);
    assert_string_equal(s->ops->name, "sqlite");

    sqlite3 *db = raw_open(t->path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), GDA_SQLITE_SCHEMA_VERSION);
    assert_int_equal(raw_int(db, "PRAGMA application_id"), 0x47444131);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* Only what a gda_record holds: no column could carry a raw payload. */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_table_info('gda_idempotency')"), 10);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_table_info('gda_idempotency')"
                                 " WHERE name IN ('key','state','payload_hash','owner',"
                                 "'lease_until_ms','expires_at_s','status_code','body','flags',"
                                 "'principal')"),
                     10);
    sqlite3_close(db);
    gda_store_close(s);
}

static void test_open_rejects_bad_arguments(void **state)
{
    tmp_db *t = *state;
    gda_error err;
    assert_null(gda_sqlite_store_open(NULL, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_null(gda_sqlite_store_open("", NULL, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);

    gda_sqlite_options opts = {.busy_timeout_ms = -1};
    assert_null(gda_sqlite_store_open(t->path, &opts, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_string_equal(err.field, "busy_timeout_ms");
    /* Nothing was created for a refused configuration. */
    assert_int_equal(access(t->path, F_OK), -1);

    /* A folder that does not exist cannot hold the file. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/no/such/dir/store.db", t->dir);
    assert_null(gda_sqlite_store_open(missing, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_STORE);
    assert_message_has(&err, "cannot open");
    /* Error outputs are optional. */
    assert_null(gda_sqlite_store_open(missing, NULL, NULL));
}

static void test_reopen_persists_records(void **state)
{
    tmp_db *t = *state;
    gda_error err;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, &err);
    assert_non_null(s);
    gda_record done = pending("persist-done", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", T0_MS,
                              T0_S + 3600);
    put_ok(s, &done, T0_MS);
    complete_ok(s, &done, "{\"data\":{\"n\":1}}", T0_MS + 1);
    gda_record lease = pending("persist-lease", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2", T0_MS,
                               T0_S + 3600);
    put_ok(s, &lease, T0_MS);
    gda_store_close(s);

    s = gda_sqlite_store_open(t->path, NULL, &err);
    assert_non_null(s);
    gda_store_call call = {.now_ms = T0_MS + 2};
    gda_record got;
    memset(&got, 0, sizeof got);
    bool found = false;
    assert_int_equal(gda_store_get(s, "persist-done", &call, &got, &found, NULL), GDA_OK);
    assert_true(found);
    assert_string_equal(got.key, "persist-done");
    assert_int_equal(got.state, GDA_RECORD_COMPLETED);
    assert_int_equal(got.status_code, 200);
    assert_int_equal(got.body_len, strlen("{\"data\":{\"n\":1}}"));
    assert_memory_equal(got.body, "{\"data\":{\"n\":1}}", got.body_len);
    assert_memory_equal(got.payload_hash, done.payload_hash, GDA_PAYLOAD_HASH_LEN);
    assert_string_equal(got.owner, done.owner);
    assert_int_equal(got.expires_at_s, T0_S + 3600);
    gda_record_clear(&got);

    /* The lease survives too: a retry after a restart is still refused. */
    gda_record retry = pending("persist-lease", "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", T0_MS + 2,
                               T0_S + 3600);
    gda_record existing;
    memset(&existing, 0, sizeof existing);
    bool inserted = true;
    assert_int_equal(gda_store_put_if_absent(s, &retry, &call, &inserted, &existing, NULL), GDA_OK);
    assert_false(inserted);
    assert_string_equal(existing.owner, lease.owner);
    assert_int_equal(existing.lease_until_ms, lease.lease_until_ms);
    gda_record_clear(&existing);
    gda_store_close(s);
}

static void test_two_handles_share_one_file(void **state)
{
    tmp_db *t = *state;
    gda_sqlite_options opts = {.relaxed_durability = true};
    gda_store *a = gda_sqlite_store_open(t->path, &opts, NULL);
    gda_store *b = gda_sqlite_store_open(t->path, NULL, NULL);
    assert_non_null(a);
    assert_non_null(b);
    gda_record rec = pending("shared", "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4", T0_MS, T0_S + 60);
    put_ok(a, &rec, T0_MS);
    gda_record rival = pending("shared", "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5", T0_MS, T0_S + 60);
    bool inserted = true;
    assert_int_equal(put_at(b, &rival, T0_MS + 1, &inserted, NULL), GDA_OK);
    assert_false(inserted);
    complete_ok(a, &rec, "one", T0_MS + 2);
    /* b sees a's commit at once. */
    gda_store_call call = {.now_ms = T0_MS + 3};
    gda_record got;
    memset(&got, 0, sizeof got);
    bool found = false;
    assert_int_equal(gda_store_get(b, "shared", &call, &got, &found, NULL), GDA_OK);
    assert_true(found);
    assert_int_equal(got.state, GDA_RECORD_COMPLETED);
    gda_record_clear(&got);
    gda_store_close(a);
    gda_store_close(b);
}

/* ---- schema ------------------------------------------------------------- */

static void test_newer_schema_refused(void **state)
{
    tmp_db *t = *state;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, NULL);
    assert_non_null(s);
    gda_store_close(s);

    sqlite3 *db = raw_open(t->path);
    raw_exec(db, "PRAGMA user_version = 3");
    sqlite3_close(db);

    gda_error err;
    assert_null(gda_sqlite_store_open(t->path, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_message_has(&err, "schema version 3 is newer");

    /* Refused, not altered. */
    db = raw_open(t->path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
    sqlite3_close(db);
}

static void test_foreign_database_refused(void **state)
{
    tmp_db *t = *state;
    sqlite3 *db = raw_open(t->path);
    raw_exec(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, phone TEXT)");
    sqlite3_close(db);

    gda_error err;
    assert_null(gda_sqlite_store_open(t->path, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_message_has(&err, "another application");

    db = raw_open(t->path);
    raw_exec(db, "DROP TABLE customers; PRAGMA application_id = 7");
    sqlite3_close(db);
    assert_null(gda_sqlite_store_open(t->path, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_message_has(&err, "another application");
}

static void test_altered_schema_reported(void **state)
{
    tmp_db *t = *state;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, NULL);
    assert_non_null(s);
    gda_store_close(s);
    sqlite3 *db = raw_open(t->path);
    raw_exec(db, "ALTER TABLE gda_idempotency RENAME COLUMN owner TO holder");
    sqlite3_close(db);

    gda_error err;
    assert_null(gda_sqlite_store_open(t->path, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_STORE);
    assert_message_has(&err, "schema does not match");
}

/* ---- corruption --------------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t len, off_t offset)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, len, offset), (ssize_t)len);
    close(fd);
}

static void test_garbage_file_is_corrupt(void **state)
{
    tmp_db *t = *state;
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    write_file(t->path, junk, sizeof junk, 0);

    gda_error err;
    assert_null(gda_sqlite_store_open(t->path, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_STORE);
    assert_message_has(&err, "database file is corrupt");
}

static void test_damaged_pages_are_corrupt(void **state)
{
    tmp_db *t = *state;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, NULL);
    assert_non_null(s);
    char key[32], owner[GDA_OWNER_TOKEN_SIZE];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k-%04d", i);
        snprintf(owner, sizeof owner, "%032d", i);
        gda_record rec = pending(key, owner, T0_MS, T0_S + 60);
        put_ok(s, &rec, T0_MS);
    }
    /* Closing the last connection checkpoints the WAL into the main file. */
    gda_store_close(s);

    struct stat sb;
    assert_int_equal(stat(t->path, &sb), 0);
    sqlite3 *db = raw_open(t->path);
    const int64_t page = raw_int(db, "PRAGMA page_size");
    sqlite3_close(db);
    assert_true(sb.st_size > 3 * page);
    /* Keep page 1 (header and schema) and wreck every table and index page. */
    size_t len = (size_t)(sb.st_size - page);
    char *junk = malloc(len);
    assert_non_null(junk);
    memset(junk, 0xA5, len);
    write_file(t->path, junk, len, (off_t)page);
    free(junk);

    gda_error err;
    s = gda_sqlite_store_open(t->path, NULL, &err);
    if (!s) {
        assert_int_equal(err.code, GDA_ERR_STORE);
        assert_message_has(&err, "database file is corrupt");
        return;
    }
    gda_store_call call = {.now_ms = T0_MS};
    gda_record out;
    memset(&out, 0, sizeof out);
    bool found = true;
    assert_int_equal(gda_store_get(s, "k-0001", &call, &out, &found, &err), GDA_ERR_STORE);
    assert_message_has(&err, "database file is corrupt");
    assert_false(found);
    assert_null(out.key);

    gda_record rec = pending("k-0001", "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6", T0_MS, T0_S + 60);
    bool inserted = true;
    assert_int_equal(put_at(s, &rec, T0_MS, &inserted, &err), GDA_ERR_STORE);
    assert_message_has(&err, "database file is corrupt");
    assert_false(inserted);
    gda_store_close(s);
}

static void test_malformed_row_reported(void **state)
{
    tmp_db *t = *state;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, NULL);
    assert_non_null(s);
    sqlite3 *db = raw_open(t->path);
    raw_exec(db, "INSERT INTO gda_idempotency VALUES"
                 " ('odd', 9, zeroblob(32), 'o', 0, 0, 0, NULL, 0, zeroblob(32)),"
                 " ('short', 2, zeroblob(5), 'o', 0, 0, 200, NULL, 0, zeroblob(32)),"
                 " ('who', 2, zeroblob(32), 'o', 0, 0, 200, NULL, 0, zeroblob(31))");
    sqlite3_close(db);

    gda_store_call call = {.now_ms = T0_MS};
    gda_record out;
    gda_error err;
    memset(&out, 0, sizeof out);
    bool found = true;
    assert_int_equal(gda_store_get(s, "odd", &call, &out, &found, &err), GDA_ERR_STORE);
    assert_message_has(&err, "malformed");
    assert_false(found);
    assert_int_equal(gda_store_get(s, "short", &call, &out, &found, &err), GDA_ERR_STORE);
    assert_null(out.key);
    assert_int_equal(gda_store_get(s, "who", &call, &out, &found, &err), GDA_ERR_STORE);
    /* A put over a malformed row neither trusts nor silently replaces it. */
    gda_record rec = pending("odd", "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7", T0_MS, T0_S + 60);
    bool inserted = true;
    assert_int_equal(put_at(s, &rec, T0_MS, &inserted, &err), GDA_ERR_STORE);
    assert_false(inserted);
    gda_store_close(s);
}

/* A file written by libgda 0.1 (schema 1, no principal column) is upgraded
 * in place: its rows stay, owned by the all-zero digest, so no caller is
 * shown them and none of them runs again before its TTL. */
static void test_schema_1_upgraded_in_place(void **state)
{
    tmp_db *t = *state;
    sqlite3 *db = raw_open(t->path);
    raw_exec(db, "PRAGMA journal_mode = WAL;"
                 "CREATE TABLE gda_idempotency (key TEXT NOT NULL PRIMARY KEY,"
                 " state INTEGER NOT NULL, payload_hash BLOB NOT NULL, owner TEXT NOT NULL,"
                 " lease_until_ms INTEGER NOT NULL, expires_at_s INTEGER NOT NULL,"
                 " status_code INTEGER NOT NULL, body BLOB, flags INTEGER NOT NULL);"
                 "CREATE INDEX gda_idempotency_expiry ON gda_idempotency (expires_at_s);"
                 "PRAGMA application_id = 1195655473; PRAGMA user_version = 1;"
                 "INSERT INTO gda_idempotency VALUES ('old', 2, zeroblob(32), 'o', 0, 0, 200,"
                 " CAST('{}' AS BLOB), 0);");
    sqlite3_close(db);

    gda_error err;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, &err);
    if (!s)
        fail_msg("upgrade refused: %s", err.message);
    gda_store_call call = {.now_ms = T0_MS};
    gda_record out;
    memset(&out, 0, sizeof out);
    bool found = false;
    assert_int_equal(gda_store_get(s, "old", &call, &out, &found, &err), GDA_OK);
    assert_true(found);
    static const uint8_t zero[GDA_PRINCIPAL_DIGEST_LEN];
    assert_memory_equal(out.principal, zero, sizeof zero);
    assert_int_equal(out.body_len, 2);
    gda_record_clear(&out);
    gda_store_close(s);

    db = raw_open(t->path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), GDA_SQLITE_SCHEMA_VERSION);
    sqlite3_close(db);
    /* Opening again finds the current schema and changes nothing. */
    s = gda_sqlite_store_open(t->path, NULL, &err);
    assert_non_null(s);
    gda_store_close(s);
}

static mode_t file_mode(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return sb.st_mode & 0777;
}

/* Hashes and cached results are private whatever the umask: the database
 * and the -wal/-shm SQLite creates next to it are 0600. */
static void test_files_private_whatever_the_umask(void **state)
{
    tmp_db *t = *state;
    mode_t old = umask(0);
    gda_store *s = gda_sqlite_store_open(t->path, NULL, NULL);
    umask(old);
    assert_non_null(s);
    gda_record rec = pending("p", "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", T0_MS, T0_S + 60);
    put_ok(s, &rec, T0_MS);
    char side[320];
    assert_int_equal(file_mode(t->path), 0600);
    snprintf(side, sizeof side, "%s-wal", t->path);
    assert_int_equal(file_mode(side), 0600);
    snprintf(side, sizeof side, "%s-shm", t->path);
    assert_int_equal(file_mode(side), 0600);
    gda_store_close(s);

    /* A file someone left world-readable is made private on open. */
    assert_int_equal(chmod(t->path, 0644), 0);
    s = gda_sqlite_store_open(t->path, NULL, NULL);
    assert_non_null(s);
    assert_int_equal(file_mode(t->path), 0600);
    gda_store_close(s);
}

/* A symlink at the path (or at its -wal) is refused: whoever planted it
 * would choose where the records go. The target is left untouched. */
static void test_symlink_refused(void **state)
{
    tmp_db *t = *state;
    char target[320], side[320];
    snprintf(target, sizeof target, "%s/elsewhere", t->dir);
    int fd = open(target, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink(target, t->path), 0);
    gda_error err;
    assert_null(gda_sqlite_store_open(t->path, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_message_has(&err, "symbolic link");
    struct stat sb;
    assert_int_equal(stat(target, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    unlink(t->path);

    snprintf(side, sizeof side, "%s-wal", t->path);
    assert_int_equal(symlink(target, side), 0);
    assert_null(gda_sqlite_store_open(t->path, NULL, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_message_has(&err, "symbolic link");
    unlink(side);
    unlink(target);
}

/* The store says how large a body it keeps (SQLite's length limit less a
 * row's other fields), and a larger one is refused before any write. */
static void test_max_body_from_sqlite_limit(void **state)
{
    tmp_db *t = *state;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, NULL);
    assert_non_null(s);
    /* SQLite's default length limit is 10^9 bytes. */
    assert_true(s->max_body > 100000000u && s->max_body < 1000000000u);
    gda_record rec = pending("big", "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2", T0_MS, T0_S + 60);
    put_ok(s, &rec, T0_MS);
    gda_record done = rec;
    done.state = GDA_RECORD_COMPLETED;
    done.status_code = 200;
    static uint8_t byte;
    done.body = &byte; /* never read: refused on its length */
    done.body_len = s->max_body + 1;
    gda_store_call call = {.now_ms = T0_MS};
    bool applied = true;
    gda_error err;
    assert_int_equal(gda_store_complete(s, &done, &call, &applied, &err),
                     GDA_ERR_RESULT_TOO_LARGE);
    assert_false(applied);
    gda_store_close(s);
}

/* ---- locking ------------------------------------------------------------ */

static void test_locked_past_busy_timeout(void **state)
{
    tmp_db *t = *state;
    gda_sqlite_options opts = {.busy_timeout_ms = 200};
    gda_store *s = gda_sqlite_store_open(t->path, &opts, NULL);
    assert_non_null(s);
    gda_record kept = pending("kept", "a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8", T0_MS, T0_S + 60);
    put_ok(s, &kept, T0_MS);

    /* Another connection (as another process would) holds the write lock. */
    sqlite3 *holder = raw_open(t->path);
    raw_exec(holder, "BEGIN IMMEDIATE");

    gda_record rec = pending("blocked", "b9b9b9b9b9b9b9b9b9b9b9b9b9b9b9b9", T0_MS, T0_S + 60);
    gda_error err;
    bool inserted = true;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(put_at(s, &rec, T0_MS, &inserted, &err), GDA_ERR_STORE);
    int64_t waited = elapsed_ms_since(&start);
    assert_int_equal(err.code, GDA_ERR_STORE);
    assert_message_has(&err, "database is locked");
    assert_false(inserted);
    assert_true(waited >= 190);
    assert_true(waited < 3000);

    gda_record done = kept;
    done.state = GDA_RECORD_COMPLETED;
    done.status_code = 200;
    gda_store_call call = {.now_ms = T0_MS + 1};
    bool applied = true;
    assert_int_equal(gda_store_complete(s, &done, &call, &applied, &err), GDA_ERR_STORE);
    assert_false(applied);
    assert_int_equal(gda_store_release(s, "kept", kept.owner, &call, &applied, &err),
                     GDA_ERR_STORE);
    assert_false(applied);
    assert_int_equal(gda_sqlite_store_purge_expired(s, T0_S, NULL, &err), GDA_ERR_STORE);
    assert_message_has(&err, "database is locked");

    /* WAL: readers are not blocked by the writer. */
    assert_true(exists(s, "kept", T0_MS + 1));
    assert_false(exists(s, "blocked", T0_MS + 1));

    raw_exec(holder, "COMMIT");
    sqlite3_close(holder);

    /* Nothing half-done was left behind: the same calls now succeed. */
    assert_int_equal(put_at(s, &rec, T0_MS + 2, &inserted, &err), GDA_OK);
    assert_true(inserted);
    assert_int_equal(gda_store_complete(s, &done, &call, &applied, &err), GDA_OK);
    assert_true(applied);
    gda_store_close(s);
}

static void test_lock_wait_bounded_by_deadline(void **state)
{
    tmp_db *t = *state;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, NULL); /* 5 s busy timeout */
    assert_non_null(s);
    sqlite3 *holder = raw_open(t->path);
    raw_exec(holder, "BEGIN IMMEDIATE");

    gda_record rec = pending("deadline", "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0", T0_MS, T0_S + 60);
    gda_store_call call = {.now_ms = T0_MS, .deadline_ms = T0_MS + 100};
    gda_error err;
    bool inserted = true;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(gda_store_put_if_absent(s, &rec, &call, &inserted, NULL, &err),
                     GDA_ERR_TIMEOUT);
    int64_t waited = elapsed_ms_since(&start);
    assert_false(inserted);
    assert_true(waited >= 90);
    assert_true(waited < 2000);

    /* A deadline already past: one attempt, no waiting at all. */
    call.deadline_ms = T0_MS - 1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(gda_store_put_if_absent(s, &rec, &call, &inserted, NULL, &err),
                     GDA_ERR_TIMEOUT);
    assert_true(elapsed_ms_since(&start) < 50);

    raw_exec(holder, "ROLLBACK");
    sqlite3_close(holder);
    /* ... which succeeds when the database is free. */
    assert_int_equal(gda_store_put_if_absent(s, &rec, &call, &inserted, NULL, &err), GDA_OK);
    assert_true(inserted);
    gda_store_close(s);
}

/* ---- I/O failure -------------------------------------------------------- */

static void test_write_failure_is_store_error(void **state)
{
    tmp_db *t = *state;
    gda_store *s = gda_sqlite_store_open(t->path, NULL, NULL);
    assert_non_null(s);
    gda_record small = pending("small", "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1", T0_MS, T0_S + 60);
    put_ok(s, &small, T0_MS);

    /* Cap file sizes below what the next commit needs: the WAL append fails
     * (EFBIG) like a full disk would, and the put must fail, not pretend. */
    struct rlimit old, cap;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct sigaction ign = {.sa_handler = SIG_IGN}, prev;
    sigemptyset(&ign.sa_mask);
    assert_int_equal(sigaction(SIGXFSZ, &ign, &prev), 0);
    cap = old;
    cap.rlim_cur = 64 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &cap), 0);

    size_t big_len = 256 * 1024;
    uint8_t *big = calloc(1, big_len);
    assert_non_null(big);
    gda_record rec = pending("huge", "e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2", T0_MS, T0_S + 60);
    rec.body = big;
    rec.body_len = big_len;
    gda_error err;
    bool inserted = true;
    gda_status st = put_at(s, &rec, T0_MS, &inserted, &err);

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    sigaction(SIGXFSZ, &prev, NULL);
    free(big);

    assert_int_equal(st, GDA_ERR_STORE);
    assert_false(inserted);
    assert_false(exists(s, "huge", T0_MS));
    assert_true(exists(s, "small", T0_MS));
    /* The handle still works afterwards. */
    gda_record after = pending("after", "f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3", T0_MS, T0_S + 60);
    put_ok(s, &after, T0_MS);
    gda_store_close(s);
}

/* ---- purge -------------------------------------------------------------- */

static void test_purge_expired(void **state)
{
    tmp_db *t = *state;
    gda_sqlite_options opts = {.purge_batch = 3, .purge_every = 1000000};
    gda_store *s = gda_sqlite_store_open(t->path, &opts, NULL);
    assert_non_null(s);
    char key[32], owner[GDA_OWNER_TOKEN_SIZE];
    /* 10 records expiring at T0_S + 10, 4 at T0_S + 100, 1 that never does. */
    for (int i = 0; i < 15; i++) {
        snprintf(key, sizeof key, "p-%02d", i);
        snprintf(owner, sizeof owner, "%032d", i);
        int64_t expires = i < 10 ? T0_S + 10 : i < 14 ? T0_S + 100 : 0;
        gda_record rec = pending(key, owner, T0_MS, expires);
        put_ok(s, &rec, T0_MS);
    }
    size_t deleted = 99;
    gda_error err;
    /* Not yet: a record lives through the second its expiry names. */
    assert_int_equal(gda_sqlite_store_purge_expired(s, T0_S + 10, &deleted, &err), GDA_OK);
    assert_int_equal(deleted, 0);
    /* Batches of 3 until all 10 are gone. */
    assert_int_equal(gda_sqlite_store_purge_expired(s, T0_S + 11, &deleted, &err), GDA_OK);
    assert_int_equal(deleted, 10);
    assert_false(exists(s, "p-00", T0_MS));
    assert_false(exists(s, "p-09", T0_MS));
    assert_true(exists(s, "p-10", T0_MS));
    assert_int_equal(gda_sqlite_store_purge_expired(s, T0_S + 11, &deleted, NULL), GDA_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(gda_sqlite_store_purge_expired(s, INT64_MAX, NULL, NULL), GDA_OK);
    assert_false(exists(s, "p-13", T0_MS));
    assert_true(exists(s, "p-14", T0_MS)); /* expires_at_s 0: no expiry */
    gda_store_close(s);
}

static void test_purge_rejects_other_stores(void **state)
{
    (void)state;
    gda_error err;
    size_t deleted = 5;
    assert_int_equal(gda_sqlite_store_purge_expired(NULL, T0_S, &deleted, &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(deleted, 0);
    gda_store *mem = gda_memory_store_new(0, NULL);
    assert_non_null(mem);
    assert_int_equal(gda_sqlite_store_purge_expired(mem, T0_S, NULL, &err), GDA_ERR_INTERNAL);
    assert_message_has(&err, "not a SQLite store");
    gda_store_close(mem);
}

static void test_lazy_purge_during_put(void **state)
{
    tmp_db *t = *state;
    gda_sqlite_options opts = {.purge_every = 4, .purge_batch = 100};
    gda_store *s = gda_sqlite_store_open(t->path, &opts, NULL);
    assert_non_null(s);
    gda_record old = pending("old", "a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4", T0_MS, T0_S + 1);
    put_ok(s, &old, T0_MS); /* put 1 */
    const int64_t later = (T0_S + 5) * 1000;
    gda_record a = pending("new-a", "b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5", later, T0_S + 600);
    gda_record b = pending("new-b", "b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5", later, T0_S + 600);
    put_ok(s, &a, later); /* put 2 */
    put_ok(s, &b, later); /* put 3 */
    /* get returns dead records too, so presence here means "not purged yet". */
    assert_true(exists(s, "old", later));
    gda_record c = pending("new-c", "b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5", later, T0_S + 600);
    put_ok(s, &c, later); /* put 4: the purge runs */
    assert_false(exists(s, "old", later));
    assert_true(exists(s, "new-a", later));
    assert_true(exists(s, "new-c", later));
    gda_store_close(s);
}

static void test_close_null(void **state)
{
    (void)state;
    gda_store_close(NULL);
}

int main(void)
{
    tmp_db suite_dir;
    memset(&suite_dir, 0, sizeof suite_dir);
    store_suite_backend backend = {
        .name = "store_suite_sqlite",
        .open = suite_open,
        .cleanup = suite_cleanup,
        .user = &suite_dir,
    };
    int failed = store_suite_run(&backend);

#define T(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, tmp_teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_creates_versioned_wal_database),
        T(test_open_rejects_bad_arguments),
        T(test_reopen_persists_records),
        T(test_two_handles_share_one_file),
        T(test_newer_schema_refused),
        T(test_foreign_database_refused),
        T(test_altered_schema_reported),
        T(test_garbage_file_is_corrupt),
        T(test_damaged_pages_are_corrupt),
        T(test_malformed_row_reported),
        T(test_schema_1_upgraded_in_place),
        T(test_files_private_whatever_the_umask),
        T(test_symlink_refused),
        T(test_max_body_from_sqlite_limit),
        T(test_locked_past_busy_timeout),
        T(test_lock_wait_bounded_by_deadline),
        T(test_write_failure_is_store_error),
        T(test_purge_expired),
        T(test_purge_rejects_other_stores),
        T(test_lazy_purge_during_put),
        cmocka_unit_test(test_close_null),
    };
#undef T
    failed += cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
    return failed;
}
