/** @file
 * libgda — the SQLite idempotency store (library libgda-store-sqlite).
 *
 * The embedded, durable default backend: one database file shared by every
 * thread and process on the host that opens the same path. Each store
 * operation is one SQLite transaction; writes start with BEGIN IMMEDIATE, so
 * the check-and-insert of put_if_absent is atomic across processes. The
 * database runs in WAL mode (readers never block the writer) with a busy
 * timeout; a lock still held when the timeout, or the call's deadline, runs
 * out is an error, never a silent duplicate.
 *
 * The file holds only what a gda_record holds: key, state, payload hash,
 * owner token, lease, expiry, cached status and (possibly encrypted) body.
 * Rows past their expiry are purged lazily (after every purge_every-th
 * successful put on a handle) and by gda_sqlite_store_purge_expired().
 *
 * Schema: versioned with PRAGMA user_version and marked with an
 * application_id; created on first open. A file written by a newer libgda
 * (higher schema version) or belonging to another application is refused.
 *
 * Thread safety: a handle may be shared by any number of threads. It owns
 * one SQLite connection, serialized by a mutex held for the length of one
 * operation (SQLite connections are not usable from two threads at once, and
 * a process gets its concurrency from WAL across processes, not from many
 * connections inside one). A handle must not be used across fork(): open a
 * new one in the child.
 */
#ifndef GDA_STORE_SQLITE_H
#define GDA_STORE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/export.h>
#include <gda/status.h>
#include <gda/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The schema version this library writes and reads. */
#define GDA_SQLITE_SCHEMA_VERSION 2

/* Defaults used for fields left at zero. */
#define GDA_SQLITE_DEFAULT_BUSY_TIMEOUT_MS 5000 /**< default busy_timeout_ms */
#define GDA_SQLITE_DEFAULT_PURGE_EVERY 1000u   /**< default purge_every */
#define GDA_SQLITE_DEFAULT_PURGE_BATCH 500u    /**< default purge_batch */

/** Open options. Zero-initialize and set what you need: every field left at
 * zero takes its default, so `gda_sqlite_options o = {0};` equals NULL. */
typedef struct gda_sqlite_options {
    /** Longest time an operation waits for another connection's write lock
     * before failing with GDA_ERR_STORE ("database is locked"). Also bounded
     * per call by gda_store_call.deadline_ms. 0 = 5000 ms; negative is
     * invalid. */
    int busy_timeout_ms;
    /** Lazy purge: after every purge_every-th successful put on this handle,
     * delete up to purge_batch expired rows in a separate short transaction
     * that does not wait for the lock (it is skipped when the database is
     * busy). 0 = 1000 puts / 500 rows. */
    unsigned purge_every;
    unsigned purge_batch; /**< rows per purge transaction; see purge_every */
    /** Durability. By default commits use synchronous=FULL: every commit is
     * fsync'ed, so a COMPLETED record survives power loss and a retry after
     * the host comes back replays instead of re-executing. true selects
     * synchronous=NORMAL: WAL stays consistent and survives a crash of any
     * process, but the last commits may roll back on power loss or an OS
     * crash — faster, for hosts where that risk is acceptable (e.g. a Lambda
     * /tmp that does not outlive the container anyway). */
    bool relaxed_durability;
} gda_sqlite_options;

/** Open (creating if needed) the store in the database file at path. opts
 * may be NULL for defaults. Creates the schema when the file is new or
 * empty, switches it to WAL mode, and prepares the statements it reuses.
 * Close with gda_store_close(). The path is copied; the caller keeps it.
 *
 * Errors: GDA_ERR_CONFIG (NULL/empty path, invalid option, a schema version
 * newer than GDA_SQLITE_SCHEMA_VERSION, a database of another application);
 * GDA_ERR_STORE (cannot open or create the file, "database file is corrupt",
 * "database is locked" past the busy timeout, "disk full", I/O error);
 * GDA_ERR_NOMEM. On error returns NULL and fills err. */
GDA_API gda_store *gda_sqlite_store_open(const char *path, const gda_sqlite_options *opts,
                                         gda_error *err);

/** Register the "sqlite" scheme in the store registry (gda/store_registry.h),
 * so gda_store_open("sqlite:PATH", ...) opens gda_sqlite_store_open(PATH,
 * NULL). "sqlite" alone or "sqlite:" is GDA_ERR_CONFIG ("needs a database
 * path"). Registering again is a no-op; errors as gda_store_register (a
 * different backend already holds the scheme). libgda-env calls it for you. */
GDA_API gda_status gda_store_sqlite_register(gda_error *err);

/** Delete every record whose expiry (epoch seconds) is before now_s, in
 * batches of purge_batch rows, each its own short write transaction so
 * other writers are not held up. *deleted (optional) receives the number of
 * rows removed, also when a later batch fails.
 *
 * Errors: GDA_ERR_INTERNAL (store is NULL or not a SQLite store);
 * GDA_ERR_STORE (locked past the busy timeout, corrupt, disk full, I/O). */
GDA_API gda_status gda_sqlite_store_purge_expired(gda_store *store, int64_t now_s,
                                                  size_t *deleted, gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_STORE_SQLITE_H */
