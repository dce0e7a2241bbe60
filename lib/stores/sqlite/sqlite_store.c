/* libgda — the SQLite idempotency store (see include/gda/store/sqlite.h). */
#include <gda/store/sqlite.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "clock.h"

/* 0x47444131, "GDA1": marks the file as ours, so a database of another
 * application that happens to sit at the configured path is refused instead
 * of altered. Decimal, because it is spliced into a PRAGMA. */
#define GDA_SQLITE_APPLICATION_ID 1195655473

#define STR_(x) #x
#define STR(x) STR_(x)

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS gda_idempotency ("
    " key TEXT NOT NULL PRIMARY KEY,"
    " state INTEGER NOT NULL,"
    " payload_hash BLOB NOT NULL,"
    " owner TEXT NOT NULL,"
    " lease_until_ms INTEGER NOT NULL,"
    " expires_at_s INTEGER NOT NULL,"
    " status_code INTEGER NOT NULL,"
    " body BLOB,"
    " flags INTEGER NOT NULL,"
    " principal BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS gda_idempotency_expiry ON gda_idempotency (expires_at_s);"
    "PRAGMA application_id = " STR(GDA_SQLITE_APPLICATION_ID) ";"
    "PRAGMA user_version = " STR(GDA_SQLITE_SCHEMA_VERSION) ";";

/* Schema 1 (libgda 0.1) had no principal column. Its rows get the all-zero
 * digest, which no caller's digest equals (it is an HMAC output), so they
 * stay in place until their TTL and answer 409 to every caller: never run
 * again, never shown to anyone. Their payload hashes were unkeyed anyway. */
static const char migrate_v1_sql[] =
    "ALTER TABLE gda_idempotency ADD COLUMN principal BLOB NOT NULL"
    " DEFAULT x'0000000000000000000000000000000000000000000000000000000000000000';"
    "PRAGMA user_version = " STR(GDA_SQLITE_SCHEMA_VERSION) ";";

/* Record states are stored as their enum values. */
_Static_assert(GDA_RECORD_IN_PROGRESS == 1 && GDA_RECORD_COMPLETED == 2 &&
                   GDA_RECORD_ACCEPTED == 3,
               "record state numbering is part of the schema");

enum stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SELECT,
    STMT_UPSERT,
    STMT_OWNER,
    STMT_COMPLETE,
    STMT_RELEASE,
    STMT_PURGE,
    STMT_COUNT
};

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SELECT] = "SELECT state, payload_hash, owner, lease_until_ms, expires_at_s,"
                    " status_code, body, flags, principal FROM gda_idempotency WHERE key = ?1",
    [STMT_UPSERT] = "INSERT OR REPLACE INTO gda_idempotency (key, state, payload_hash, owner,"
                    " lease_until_ms, expires_at_s, status_code, body, flags, principal)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    /* complete and release run after conditional_write() checked the owner
     * and state under the same write lock. */
    [STMT_OWNER] = "SELECT state, owner, expires_at_s FROM gda_idempotency WHERE key = ?1",
    [STMT_COMPLETE] = "UPDATE gda_idempotency SET state = ?2, status_code = ?3, body = ?4,"
                      " flags = ?5, expires_at_s = ?6 WHERE key = ?1",
    [STMT_RELEASE] = "DELETE FROM gda_idempotency WHERE key = ?1",
    [STMT_PURGE] = "DELETE FROM gda_idempotency WHERE rowid IN (SELECT rowid FROM gda_idempotency"
                   " WHERE expires_at_s > 0 AND expires_at_s < ?1 LIMIT ?2)",
};

typedef struct sqlite_store {
    gda_store base; /* first: the handle callers hold */
    pthread_mutex_t lock; /* serializes every use of db and of the fields below */
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
    int busy_timeout_ms;
    unsigned purge_every;
    unsigned purge_batch;
    unsigned puts_since_purge;
    /* Lock-wait budget of the operation in progress, read by busy_wait(). */
    int64_t op_start_ns;
    int64_t wait_limit_ns;
    bool limit_is_deadline;
    bool waited_out;
    uint64_t jitter; /* xorshift state: spreads retries of competing processes */
} sqlite_store;

static const gda_store_ops sqlite_ops;

static uint64_t next_jitter(sqlite_store *s)
{
    uint64_t x = s->jitter;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->jitter = x;
    return x;
}

/* SQLite's busy handler: called while another connection holds the lock we
 * need. Sleeps with jittered exponential backoff (50 us up to ~10 ms), so a
 * waiter polls often while the lock is only briefly held and many waiters do
 * not retry in lock-step, and gives up once the operation's budget — the
 * busy timeout or the call's deadline, whichever is sooner — is spent. */
static int busy_wait(void *arg, int attempt)
{
    sqlite_store *s = arg;
    int64_t left = s->wait_limit_ns - (gda_clock_monotonic_ns() - s->op_start_ns);
    if (left <= 0) {
        s->waited_out = true;
        return 0;
    }
    int shift = attempt < 8 ? attempt : 8;
    int64_t step = (int64_t)50000 << shift; /* 50 us .. 12.8 ms */
    if (step > 10000000)
        step = 10000000;
    int64_t pause = step / 2 + (int64_t)(next_jitter(s) % (uint64_t)(step / 2 + 1));
    if (pause > left)
        pause = left;
    gda_clock_sleep_ns(pause);
    return 1;
}

/* Set the lock-wait budget of the operation about to run. A deadline that
 * has already passed still gets one attempt without waiting: refusing
 * outright would, for a complete after a slow handler, throw away a result
 * that can still be recorded while the database is free. */
static void begin_budget(sqlite_store *s, const gda_store_call *call)
{
    int64_t limit_ms = s->busy_timeout_ms;
    s->limit_is_deadline = false;
    if (call && call->deadline_ms > 0) {
        /* Compared before subtracting, so no clock value can overflow. */
        if (call->deadline_ms <= call->now_ms) {
            limit_ms = 0;
            s->limit_is_deadline = true;
        } else if (call->now_ms >= 0 && call->deadline_ms - call->now_ms < limit_ms) {
            limit_ms = call->deadline_ms - call->now_ms;
            s->limit_is_deadline = true;
        }
    }
    s->wait_limit_ns = limit_ms * 1000000;
    s->waited_out = false;
    s->op_start_ns = gda_clock_monotonic_ns();
}

/* Translate a failed SQLite result into a gda_status. Messages are SQLite's
 * generic ones, never its per-statement text, so no key or value leaks. */
static gda_status map_error(sqlite_store *s, int rc, const char *op, gda_error *err)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        if (s && s->waited_out && s->limit_is_deadline)
            return gda_error_set(err, GDA_ERR_TIMEOUT, NULL,
                                 "deadline passed while the database was locked (%s)", op);
        return gda_error_set(err, GDA_ERR_STORE, NULL, "database is locked (%s)", op);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return gda_error_set(err, GDA_ERR_STORE, NULL, "database file is corrupt (%s)", op);
    case SQLITE_FULL:
        return gda_error_set(err, GDA_ERR_STORE, NULL, "disk full (%s)", op);
    case SQLITE_NOMEM:
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory (%s)", op);
    case SQLITE_TOOBIG:
        return gda_error_set(err, GDA_ERR_STORE, NULL, "record too large for the database (%s)",
                             op);
    case SQLITE_READONLY:
        return gda_error_set(err, GDA_ERR_STORE, NULL, "database is read-only (%s)", op);
    case SQLITE_CANTOPEN:
        return gda_error_set(err, GDA_ERR_STORE, NULL, "cannot open the database file (%s)", op);
    case SQLITE_IOERR:
        return gda_error_set(err, GDA_ERR_STORE, NULL, "database I/O error (%s)", op);
    default:
        return gda_error_set(err, GDA_ERR_STORE, NULL, "database error: %s (%s)",
                             sqlite3_errstr(rc), op);
    }
}

/* Run a statement that returns no rows; leaves it reset and unbound. */
static int run(sqlite_store *s, enum stmt_id id)
{
    sqlite3_stmt *st = s->stmt[id];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Undo the open transaction, if any, after a failure. */
static void rollback(sqlite_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        (void)run(s, STMT_ROLLBACK);
}

/* Finish a write transaction; on failure SQLite has either kept it open
 * (rolled back here) or rolled it back itself, so nothing was written. */
static int commit(sqlite_store *s)
{
    int rc = run(s, STMT_COMMIT);
    if (rc != SQLITE_OK)
        rollback(s);
    return rc;
}

static bool valid_state(int state)
{
    return state == GDA_RECORD_IN_PROGRESS || state == GDA_RECORD_COMPLETED ||
           state == GDA_RECORD_ACCEPTED;
}

static bool valid_owner(const char *owner)
{
    return memchr(owner, '\0', GDA_OWNER_TOKEN_SIZE) != NULL;
}

/* Copy the current row of STMT_SELECT into out (overwritten, not freed).
 * A row this library could not have written is reported, not trusted. */
static gda_status read_row(sqlite3_stmt *st, const char *key, gda_record *out, gda_error *err)
{
    gda_record rec = {0};
    int state = sqlite3_column_int(st, 0);
    const void *hash = sqlite3_column_blob(st, 1);
    int hash_len = sqlite3_column_bytes(st, 1);
    const unsigned char *owner = sqlite3_column_text(st, 2);
    int owner_len = sqlite3_column_bytes(st, 2);
    sqlite3_int64 flags = sqlite3_column_int64(st, 7);
    const void *body = sqlite3_column_blob(st, 6);
    int body_len = sqlite3_column_bytes(st, 6);
    const void *principal = sqlite3_column_blob(st, 8);
    int principal_len = sqlite3_column_bytes(st, 8);
    int code = sqlite3_errcode(sqlite3_db_handle(st));

    if (code == SQLITE_NOMEM)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory (sqlite get)");
    if (!valid_state(state) || !hash || hash_len != GDA_PAYLOAD_HASH_LEN || !owner ||
        owner_len < 0 || owner_len >= GDA_OWNER_TOKEN_SIZE || flags < 0 || flags > UINT32_MAX ||
        body_len < 0 || (body_len > 0 && !body) || !principal ||
        principal_len != GDA_PRINCIPAL_DIGEST_LEN)
        return gda_error_set(err, GDA_ERR_STORE, NULL, "database record is malformed");

    rec.state = (gda_record_state)state;
    memcpy(rec.payload_hash, hash, GDA_PAYLOAD_HASH_LEN);
    memcpy(rec.principal, principal, GDA_PRINCIPAL_DIGEST_LEN);
    memcpy(rec.owner, owner, (size_t)owner_len);
    rec.owner[owner_len] = '\0';
    rec.lease_until_ms = sqlite3_column_int64(st, 3);
    rec.expires_at_s = sqlite3_column_int64(st, 4);
    rec.status_code = sqlite3_column_int(st, 5);
    rec.flags = (uint32_t)flags;
    if (!(rec.key = strdup(key)))
        goto nomem;
    if (body_len > 0) {
        if (!(rec.body = malloc((size_t)body_len)))
            goto nomem;
        memcpy(rec.body, body, (size_t)body_len);
        rec.body_len = (size_t)body_len;
    }
    *out = rec;
    return GDA_OK;
nomem:
    gda_record_clear(&rec);
    return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory (sqlite get)");
}

/* Look key up inside the current transaction (or as its own read). */
static int select_key(sqlite_store *s, const char *key, gda_record *out, bool *found,
                      gda_status *st_out, gda_error *err)
{
    sqlite3_stmt *st = s->stmt[STMT_SELECT];
    int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    *st_out = GDA_OK;
    *found = false;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *st_out = read_row(st, key, out, err);
            *found = *st_out == GDA_OK;
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int bind_body(sqlite3_stmt *st, int idx, const gda_record *rec)
{
    if (!rec->body || rec->body_len == 0)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_blob64(st, idx, rec->body, (sqlite3_uint64)rec->body_len, SQLITE_STATIC);
}

static gda_status check_record(const gda_record *rec, const char *op, gda_error *err)
{
    if (!valid_state((int)rec->state) || !valid_owner(rec->owner) ||
        (rec->body_len > 0 && !rec->body))
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "%s: invalid record", op);
    return GDA_OK;
}

/* Delete up to purge_batch expired rows in one write transaction. */
static int purge_batch(sqlite_store *s, int64_t now_s, size_t *deleted)
{
    sqlite3_stmt *st = s->stmt[STMT_PURGE];
    int rc = run(s, STMT_BEGIN);
    *deleted = 0;
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, now_s);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)s->purge_batch);
    rc = run(s, STMT_PURGE);
    if (rc == SQLITE_OK) {
        *deleted = (size_t)sqlite3_changes(s->db);
        rc = commit(s);
        if (rc != SQLITE_OK)
            *deleted = 0;
    } else {
        rollback(s);
    }
    return rc;
}

/* Housekeeping after a put: only when the lock is free right now, so a put
 * never waits for, or fails because of, a purge. */
static void lazy_purge(sqlite_store *s, const gda_store_call *call)
{
    size_t deleted;
    if (++s->puts_since_purge < s->purge_every)
        return;
    s->puts_since_purge = 0;
    s->wait_limit_ns = 0;
    s->op_start_ns = gda_clock_monotonic_ns();
    (void)purge_batch(s, call->now_ms / 1000, &deleted);
}

static gda_status sqlite_put_if_absent(gda_store *store, const gda_record *rec,
                                       const gda_store_call *call, bool *inserted,
                                       gda_record *existing, gda_error *err)
{
    sqlite_store *s = (sqlite_store *)store;
    sqlite3_stmt *up = s->stmt[STMT_UPSERT];
    gda_record current = {0};
    gda_status st = GDA_OK;
    bool found = false;
    int rc;

    *inserted = false;
    if ((st = check_record(rec, "sqlite put", err)) != GDA_OK)
        return st;

    pthread_mutex_lock(&s->lock);
    begin_budget(s, call);
    /* Fast path without the write lock: a live record in a committed WAL
     * snapshot is already the answer (the conflict takes effect at that
     * read), so a retry of a running or finished key — the common case —
     * never queues behind writers. */
    if ((rc = select_key(s, rec->key, &current, &found, &st, err)) != SQLITE_OK)
        goto sql_fail;
    if (st != GDA_OK)
        goto fail;
    if (found && gda_record_blocks_takeover(&current, call))
        goto conflict;
    gda_record_clear(&current);

    /* Absent or dead: check again and insert under the write lock, so no
     * other connection can slip in between. */
    if ((rc = run(s, STMT_BEGIN)) != SQLITE_OK)
        goto sql_fail;
    if ((rc = select_key(s, rec->key, &current, &found, &st, err)) != SQLITE_OK)
        goto sql_fail;
    if (st != GDA_OK)
        goto fail;
    if (found && gda_record_blocks_takeover(&current, call)) {
        /* Nothing written: ending the transaction cannot lose anything. */
        rollback(s);
        goto conflict;
    }
    gda_record_clear(&current);

    if ((rc = sqlite3_bind_text(up, 1, rec->key, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int(up, 2, (int)rec->state)) != SQLITE_OK ||
        (rc = sqlite3_bind_blob(up, 3, rec->payload_hash, GDA_PAYLOAD_HASH_LEN,
                                SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_text(up, 4, rec->owner, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(up, 5, rec->lease_until_ms)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(up, 6, rec->expires_at_s)) != SQLITE_OK ||
        (rc = sqlite3_bind_int(up, 7, rec->status_code)) != SQLITE_OK ||
        (rc = bind_body(up, 8, rec)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(up, 9, (sqlite3_int64)rec->flags)) != SQLITE_OK ||
        (rc = sqlite3_bind_blob(up, 10, rec->principal, GDA_PRINCIPAL_DIGEST_LEN,
                                SQLITE_STATIC)) != SQLITE_OK) {
        sqlite3_clear_bindings(up);
        goto sql_fail;
    }
    if ((rc = run(s, STMT_UPSERT)) != SQLITE_OK || (rc = commit(s)) != SQLITE_OK)
        goto sql_fail;
    *inserted = true;
    lazy_purge(s, call);
    pthread_mutex_unlock(&s->lock);
    return GDA_OK;

conflict:
    *existing = current;
    pthread_mutex_unlock(&s->lock);
    return GDA_OK;

sql_fail:
    st = map_error(s, rc, "sqlite put", err);
fail:
    rollback(s);
    gda_record_clear(&current);
    pthread_mutex_unlock(&s->lock);
    return st;
}

static gda_status sqlite_get(gda_store *store, const char *key, const gda_store_call *call,
                             gda_record *out, bool *found, gda_error *err)
{
    sqlite_store *s = (sqlite_store *)store;
    gda_status st;
    *found = false;
    pthread_mutex_lock(&s->lock);
    begin_budget(s, call);
    /* A lone SELECT is its own read transaction: in WAL mode it sees the
     * latest commit and never blocks a writer. */
    int rc = select_key(s, key, out, found, &st, err);
    if (rc != SQLITE_OK)
        st = map_error(s, rc, "sqlite get", err);
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Owner tokens are fencing secrets: compared here in constant time (the
 * length included) rather than by SQLite's memcmp in a WHERE clause. */
static bool owner_matches(const unsigned char *stored, int stored_len, const char *owner)
{
    char a[GDA_OWNER_TOKEN_SIZE] = {0}, b[GDA_OWNER_TOKEN_SIZE] = {0};
    size_t owner_len = strnlen(owner, GDA_OWNER_TOKEN_SIZE);
    if (!stored || stored_len < 0 || stored_len >= GDA_OWNER_TOKEN_SIZE ||
        owner_len >= GDA_OWNER_TOKEN_SIZE)
        return false;
    memcpy(a, stored, (size_t)stored_len);
    memcpy(b, owner, owner_len);
    return sodium_memcmp(a, b, sizeof a) == 0;
}

/* One owner-conditioned write as a single IMMEDIATE transaction: read the
 * key's state, owner and expiry, and only when the owner matches and the
 * state allows it (a complete also needs the row unexpired at now_ms, so a
 * late finish never revives a dead record) run `id` (STMT_COMPLETE or STMT_RELEASE, bound by the caller
 * except for the key). The lock held from BEGIN to COMMIT makes the check
 * and the write one step for every other connection. */
static gda_status conditional_write(sqlite_store *s, enum stmt_id id, const char *key,
                                    const char *owner, bool release, int64_t now_ms,
                                    const char *op, bool *applied, gda_error *err)
{
    sqlite3_stmt *sel = s->stmt[STMT_OWNER];
    sqlite3_stmt *wr = s->stmt[id];
    bool allowed = false;
    int rc = run(s, STMT_BEGIN);
    if (rc != SQLITE_OK)
        goto fail;
    if ((rc = sqlite3_bind_text(sel, 1, key, -1, SQLITE_STATIC)) == SQLITE_OK) {
        rc = sqlite3_step(sel);
        if (rc == SQLITE_ROW) {
            int state = sqlite3_column_int(sel, 0);
            gda_record row = {.expires_at_s = sqlite3_column_int64(sel, 2)};
            bool state_ok = release ? state == GDA_RECORD_IN_PROGRESS
                                    : state != GDA_RECORD_COMPLETED &&
                                          !gda_record_expired(&row, now_ms);
            allowed = owner_matches(sqlite3_column_text(sel, 1), sqlite3_column_bytes(sel, 1),
                                    owner) &&
                      state_ok;
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    sqlite3_reset(sel);
    sqlite3_clear_bindings(sel);
    if (rc != SQLITE_OK)
        goto fail;
    if (!allowed) {
        rollback(s); /* nothing was written */
        sqlite3_clear_bindings(wr);
        return GDA_OK;
    }
    if ((rc = sqlite3_bind_text(wr, 1, key, -1, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = run(s, id)) != SQLITE_OK)
        goto fail;
    int changes = sqlite3_changes(s->db);
    if ((rc = commit(s)) != SQLITE_OK)
        goto fail;
    *applied = changes > 0;
    return GDA_OK;
fail:
    sqlite3_clear_bindings(wr);
    rollback(s);
    return map_error(s, rc, op, err);
}

static gda_status sqlite_complete(gda_store *store, const gda_record *rec,
                                  const gda_store_call *call, bool *applied, gda_error *err)
{
    sqlite_store *s = (sqlite_store *)store;
    gda_status st;
    int rc;

    *applied = false;
    if ((st = check_record(rec, "sqlite complete", err)) != GDA_OK)
        return st;
    if (rec->state == GDA_RECORD_IN_PROGRESS)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                             "sqlite complete: state must be COMPLETED or ACCEPTED");

    pthread_mutex_lock(&s->lock);
    begin_budget(s, call);
    sqlite3_stmt *up = s->stmt[STMT_COMPLETE];
    if ((rc = sqlite3_bind_int(up, 2, (int)rec->state)) != SQLITE_OK ||
        (rc = sqlite3_bind_int(up, 3, rec->status_code)) != SQLITE_OK ||
        (rc = bind_body(up, 4, rec)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(up, 5, (sqlite3_int64)rec->flags)) != SQLITE_OK ||
        (rc = sqlite3_bind_int64(up, 6, rec->expires_at_s)) != SQLITE_OK) {
        sqlite3_clear_bindings(up);
        st = map_error(s, rc, "sqlite complete", err);
    } else {
        st = conditional_write(s, STMT_COMPLETE, rec->key, rec->owner, false, call->now_ms,
                               "sqlite complete", applied, err);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

static gda_status sqlite_release(gda_store *store, const char *key, const char *owner,
                                 const gda_store_call *call, bool *applied, gda_error *err)
{
    sqlite_store *s = (sqlite_store *)store;
    *applied = false;
    pthread_mutex_lock(&s->lock);
    begin_budget(s, call);
    gda_status st = conditional_write(s, STMT_RELEASE, key, owner, true, call->now_ms,
                                      "sqlite release", applied, err);
    pthread_mutex_unlock(&s->lock);
    return st;
}

static void sqlite_close(gda_store *store)
{
    sqlite_store *s = (sqlite_store *)store;
    if (!s)
        return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    /* Every statement is finalized, so the close cannot be deferred. */
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const gda_store_ops sqlite_ops = {
    .version = GDA_STORE_OPS_VERSION,
    .name = "sqlite",
    .put_if_absent = sqlite_put_if_absent,
    .get = sqlite_get,
    .complete = sqlite_complete,
    .release = sqlite_release,
    .close = sqlite_close,
};

/* Read one integer PRAGMA (user_version, application_id). */
static int pragma_int(sqlite3 *db, const char *sql, int64_t *value)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *value = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_ERROR;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* WAL lets readers run beside the one writer and makes a commit a single
 * append; it is a property of the file, so setting it again is a no-op. */
static gda_status enable_wal(sqlite_store *s, gda_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    bool wal = false;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *mode = sqlite3_column_text(st, 0);
            wal = mode && strcmp((const char *)mode, "wal") == 0;
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return map_error(s, rc, "sqlite open", err);
    if (!wal)
        return gda_error_set(err, GDA_ERR_STORE, NULL,
                             "cannot switch the database to WAL mode (sqlite open)");
    return GDA_OK;
}

/* What a file needs before use: nothing, the schema, or schema 1's upgrade. */
enum schema_need { SCHEMA_CURRENT, SCHEMA_CREATE, SCHEMA_MIGRATE_V1 };

/* Versions as found in the file; decides whether it is ours and current. */
static gda_status check_versions(sqlite_store *s, enum schema_need *need, gda_error *err)
{
    int64_t version = 0, app_id = 0;
    int rc = pragma_int(s->db, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK)
        rc = pragma_int(s->db, "PRAGMA application_id", &app_id);
    if (rc != SQLITE_OK)
        return map_error(s, rc, "sqlite open", err);
    *need = SCHEMA_CREATE;
    if (app_id != 0 && app_id != GDA_SQLITE_APPLICATION_ID)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "database file belongs to another application");
    if (version > GDA_SQLITE_SCHEMA_VERSION)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "database schema version %" PRId64
                             " is newer than this libgda supports (%d)",
                             version, GDA_SQLITE_SCHEMA_VERSION);
    if (app_id == GDA_SQLITE_APPLICATION_ID && version == GDA_SQLITE_SCHEMA_VERSION) {
        *need = SCHEMA_CURRENT;
        return GDA_OK;
    }
    if (app_id == GDA_SQLITE_APPLICATION_ID && version == 1) {
        *need = SCHEMA_MIGRATE_V1;
        return GDA_OK;
    }
    if (version != 0 || app_id != 0)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "database file belongs to another application");
    /* Version 0 is a new file, unless something else already put tables in it. */
    int64_t objects = 0;
    rc = pragma_int(s->db, "SELECT count(*) FROM sqlite_master", &objects);
    if (rc != SQLITE_OK)
        return map_error(s, rc, "sqlite open", err);
    if (objects != 0)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "database file belongs to another application");
    return GDA_OK;
}

/* Create or upgrade the schema unless the file already has the current one.
 * The second check runs under the write lock, so processes opening a new or
 * old file at the same moment create or upgrade it exactly once. */
static gda_status ensure_schema(sqlite_store *s, gda_error *err)
{
    enum schema_need need = SCHEMA_CURRENT;
    gda_status st = check_versions(s, &need, err);
    if (st != GDA_OK || need == SCHEMA_CURRENT)
        return st;
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return map_error(s, rc, "sqlite open", err);
    st = check_versions(s, &need, err);
    if (st == GDA_OK && need != SCHEMA_CURRENT) {
        rc = sqlite3_exec(s->db, need == SCHEMA_CREATE ? schema_sql : migrate_v1_sql, NULL, NULL,
                          NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            st = map_error(s, rc, "sqlite open", err);
    } else if (st == GDA_OK) {
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            st = map_error(s, rc, "sqlite open", err);
    }
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

/* Room a row needs besides its body: key, hashes, owner, integers and
 * SQLite's record header, with margin. */
#define ROW_OVERHEAD (GDA_KEY_MAX + 4096)

/* Open path (creating it) without following a symlink, and make it private
 * to its owner. SQLite gives -wal and -shm the database file's mode, so a
 * 0600 database keeps its journals 0600 too, whatever the umask. */
static gda_status secure_file(const char *path, bool must_exist_regular, gda_error *err)
{
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (must_exist_regular ? 0 : O_CREAT),
                  S_IRUSR | S_IWUSR);
    if (fd < 0) {
        if (errno == ENOENT && must_exist_regular)
            return GDA_OK;
        if (errno == ELOOP)
            return gda_error_set(err, GDA_ERR_CONFIG, "path",
                                 "database path (or its -wal/-shm file) is a symbolic link; "
                                 "give the real path");
        return gda_error_set(err, GDA_ERR_STORE, "path", "cannot open the database file: %s",
                             strerror(errno));
    }
    struct stat sb;
    gda_status st = GDA_OK;
    if (fstat(fd, &sb) != 0)
        st = gda_error_set(err, GDA_ERR_STORE, "path", "cannot stat the database file: %s",
                           strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = gda_error_set(err, GDA_ERR_CONFIG, "path", "database path is not a regular file");
    else if ((sb.st_mode & (S_IRWXG | S_IRWXO)) && fchmod(fd, S_IRUSR | S_IWUSR) != 0)
        st = gda_error_set(err, GDA_ERR_STORE, "path",
                           "cannot make the database file private (chmod 0600): %s",
                           strerror(errno));
    close(fd);
    return st;
}

/* The database and any journal files left from an earlier run. */
static gda_status secure_files(const char *path, gda_error *err)
{
    static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
    gda_status st = secure_file(path, false, err);
    size_t len = strlen(path);
    for (size_t i = 0; st == GDA_OK && i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char *side = malloc(len + 9);
        if (!side)
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory (sqlite open)");
        memcpy(side, path, len);
        strcpy(side + len, suffixes[i]);
        st = secure_file(side, true, err);
        free(side);
    }
    return st;
}

static gda_status apply_options(sqlite_store *s, const gda_sqlite_options *opts,
                                gda_error *err)
{
    gda_sqlite_options o = {0};
    if (opts)
        o = *opts;
    if (o.busy_timeout_ms < 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "busy_timeout_ms",
                             "busy timeout must not be negative");
    s->busy_timeout_ms = o.busy_timeout_ms ? o.busy_timeout_ms : GDA_SQLITE_DEFAULT_BUSY_TIMEOUT_MS;
    s->purge_every = o.purge_every ? o.purge_every : GDA_SQLITE_DEFAULT_PURGE_EVERY;
    s->purge_batch = o.purge_batch ? o.purge_batch : GDA_SQLITE_DEFAULT_PURGE_BATCH;
    return GDA_OK;
}

gda_store *gda_sqlite_store_open(const char *path, const gda_sqlite_options *opts,
                                 gda_error *err)
{
    if (!path || !*path) {
        gda_error_set(err, GDA_ERR_CONFIG, "path", "no database path given");
        return NULL;
    }
    sqlite_store *s = calloc(1, sizeof *s);
    if (!s) {
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory (sqlite open)");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    if (apply_options(s, opts, err) != GDA_OK) {
        free(s);
        return NULL;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "cannot create the store mutex");
        return NULL;
    }
    s->jitter = (uint64_t)gda_clock_monotonic_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
    if (s->jitter == 0)
        s->jitter = 0x9e3779b97f4a7c15u;

    if (secure_files(path, err) != GDA_OK)
        goto fail;
    /* NOMUTEX: the store's own mutex already serializes the connection.
     * NOFOLLOW: no symlink swapped in after the check above either. */
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_NOFOLLOW,
                             NULL);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_CANTOPEN && rc == SQLITE_CANTOPEN_SYMLINK)
            gda_error_set(err, GDA_ERR_CONFIG, "path",
                          "database path is a symbolic link; give the real path");
        else
            map_error(s, rc, "sqlite open", err);
        goto fail;
    }
    int length_limit = sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, -1);
    s->base.max_body = length_limit > ROW_OVERHEAD ? (size_t)(length_limit - ROW_OVERHEAD) : 0;
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_handler(s->db, busy_wait, s);
    begin_budget(s, NULL);

    if (enable_wal(s, err) != GDA_OK)
        goto fail;
    rc = sqlite3_exec(s->db,
                      opts && opts->relaxed_durability ? "PRAGMA synchronous = NORMAL"
                                                       : "PRAGMA synchronous = FULL",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        map_error(s, rc, "sqlite open", err);
        goto fail;
    }
    if (ensure_schema(s, err) != GDA_OK)
        goto fail;
    for (int i = 0; i < STMT_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                                NULL);
        if (rc != SQLITE_OK) {
            /* The schema check passed, so a statement that does not compile
             * means the table was altered behind our back. */
            if ((rc & 0xff) == SQLITE_ERROR)
                gda_error_set(err, GDA_ERR_STORE, NULL,
                              "database schema does not match version %d (sqlite open)",
                              GDA_SQLITE_SCHEMA_VERSION);
            else
                map_error(s, rc, "sqlite open", err);
            goto fail;
        }
    }
    return &s->base;

fail:
    sqlite_close(&s->base);
    return NULL;
}

gda_status gda_sqlite_store_purge_expired(gda_store *store, int64_t now_s, size_t *deleted,
                                          gda_error *err)
{
    size_t total = 0;
    gda_status st = GDA_OK;
    if (deleted)
        *deleted = 0;
    if (!store || store->ops != &sqlite_ops)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "not a SQLite store");
    sqlite_store *s = (sqlite_store *)store;
    for (;;) {
        size_t batch = 0;
        /* One batch per lock hold, so the handle's other threads and other
         * processes get their turn between batches. */
        pthread_mutex_lock(&s->lock);
        begin_budget(s, NULL);
        int rc = purge_batch(s, now_s, &batch);
        if (rc != SQLITE_OK)
            st = map_error(s, rc, "sqlite purge", err);
        pthread_mutex_unlock(&s->lock);
        total += batch;
        if (st != GDA_OK || batch < s->purge_batch)
            break;
    }
    if (deleted)
        *deleted = total;
    return st;
}
