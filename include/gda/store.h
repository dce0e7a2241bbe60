/** @file
 * libgda — the idempotency store interface.
 *
 * A store keeps one gda_record per idempotency key. The engine in
 * idempotency.h drives it; backends (memory in the core, SQLite, DynamoDB in
 * lib/stores/) implement it. Like SQLite's VFS, a backend is a versioned
 * table of function pointers plus a struct whose first member is the base
 * gda_store:
 *
 *     typedef struct my_store { gda_store base; ...private state... } my_store;
 *     static const gda_store_ops my_ops = { GDA_STORE_OPS_VERSION, "mine", ... };
 *
 * Contract for every backend (the shared behaviour suite in
 * tests/store/store_suite.c holds each one to it; gda-store-check runs it
 * against any registered backend, see gda/store_registry.h):
 *   - every operation is atomic with respect to every other operation on the
 *     same key, from any thread or process sharing the backing storage;
 *   - a store handle may be shared by any number of threads;
 *   - the store never interprets body bytes (they may be ciphertext);
 *   - a failure of the backing service is GDA_ERR_STORE (503, retryable), a
 *     call that cannot finish before call->deadline_ms is GDA_ERR_TIMEOUT or
 *     GDA_ERR_STORE, never a silent success;
 *   - records are returned as heap copies the caller owns (gda_record_clear).
 * The wrappers below refuse (GDA_ERR_CONFIG) a backend of another version or
 * with a NULL operation, naming it, instead of calling through. Backends are
 * opened by URI through the store registry (gda/store_registry.h).
 */
#ifndef GDA_STORE_H
#define GDA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/export.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of gda_store_ops this header describes; a backend sets it in
 * gda_store_ops.version. 3: put_if_absent honours gda_store_call.replace_owner
 * (a version-2 backend would keep an unreadable result forever, so it is
 * refused rather than run). */
#define GDA_STORE_OPS_VERSION 3
/** Oldest gda_store_ops version this libgda accepts: the wrappers below and
 * gda_store_open (gda/store_registry.h) refuse a vtable whose version lies
 * outside GDA_STORE_OPS_VERSION_MIN .. GDA_STORE_OPS_VERSION. */
#define GDA_STORE_OPS_VERSION_MIN 3
/** Length of a payload hash (HMAC-SHA256) in bytes. */
#define GDA_PAYLOAD_HASH_LEN 32
/** Length of a principal digest (HMAC-SHA256) in bytes. */
#define GDA_PRINCIPAL_DIGEST_LEN 32
/** Owner tokens are 16 random bytes as 32 lowercase hex digits + NUL. */
#define GDA_OWNER_TOKEN_SIZE 33
/** Longest idempotency key a store must accept (bytes, UTF-8). */
#define GDA_KEY_MAX 256

/** Life cycle of a record. */
typedef enum gda_record_state {
    GDA_RECORD_IN_PROGRESS = 1, /**< an executor holds the lease */
    GDA_RECORD_COMPLETED = 2,   /**< final result cached: replay it */
    GDA_RECORD_ACCEPTED = 3     /**< long-running: 202 cached, final result to come */
} gda_record_state;

/** The cached body is AEAD ciphertext (see idempotency.h). */
#define GDA_RECORD_ENCRYPTED 0x1u
/** With GDA_RECORD_ENCRYPTED: the sealed body names the data key that
 * sealed it (a data-key ring, gda_idem_config.data_keys). */
#define GDA_RECORD_KEY_ID 0x2u

/** What a store keeps per idempotency key: never the payload, only its keyed
 * hash, a keyed digest of the principal that created it (never the
 * credential), and the (possibly encrypted) result. A store persists every
 * field and returns them unchanged. */
typedef struct gda_record {
    char *key;                 /**< heap, NUL-terminated */
    gda_record_state state;    /**< IN_PROGRESS, COMPLETED or ACCEPTED */
    uint8_t payload_hash[GDA_PAYLOAD_HASH_LEN]; /**< keyed hash of the payload (idempotency.h) */
    uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN]; /**< keyed digest of the creating principal */
    char owner[GDA_OWNER_TOKEN_SIZE];           /**< fencing token of the executor */
    int64_t lease_until_ms;    /**< IN_PROGRESS: lease deadline, epoch milliseconds */
    int64_t expires_at_s;      /**< epoch seconds after which the record is dead (TTL) */
    int status_code;           /**< COMPLETED/ACCEPTED: cached HTTP status */
    uint8_t *body;             /**< COMPLETED/ACCEPTED: cached body bytes, heap; may be NULL */
    size_t body_len;           /**< bytes at body */
    uint32_t flags;            /**< GDA_RECORD_* */
} gda_record;

/** Free what a record owns and zero it. NULL-safe. */
GDA_API void gda_record_clear(gda_record *rec);

/** Deep copy src into *dst (which is overwritten, not freed). GDA_ERR_NOMEM. */
GDA_API gda_status gda_record_copy(gda_record *dst, const gda_record *src);

/** Whether rec is live at now_ms: COMPLETED/ACCEPTED and not expired, or
 * IN_PROGRESS with its lease not yet past (and not expired). */
GDA_API bool gda_record_is_live(const gda_record *rec, int64_t now_ms);

/** Whether rec has expired at now_ms: expiry is whole seconds (DynamoDB's
 * TTL unit), live through the second expires_at_s names, dead from the next
 * one on (now_ms / 1000 > expires_at_s); expires_at_s 0 never expires. */
GDA_API bool gda_record_expired(const gda_record *rec, int64_t now_ms);

/** Default clock-skew allowance between hosts sharing a store (ms). */
#define GDA_STORE_DEFAULT_SKEW_MS 2000

/** Per-call timing, injected so tests control the clock. */
typedef struct gda_store_call {
    int64_t now_ms;      /**< wall clock, epoch milliseconds */
    int64_t deadline_ms; /**< stop retrying and fail after this; 0 = no deadline */
    /** Clock-skew allowance (ms, >= 0): hosts' clocks disagree, so a takeover
     * (put_if_absent replacing a record) treats a lease or an expiry as past
     * only when it lies more than skew_ms before now_ms. A host whose clock
     * runs up to skew_ms ahead therefore never takes over a live lease. */
    int64_t skew_ms;
    /** NULL, or the owner token of one stored record that put_if_absent may
     * replace although it is live: a result the engine can no longer read
     * (sealed under a data key that has left the ring), which it treats as
     * absent. Replacing is conditional on that exact token, so a record
     * rewritten meanwhile is never lost. */
    const char *replace_owner;
} gda_store_call;

/** Whether rec still blocks a takeover under call: gda_record_is_live at
 * call->now_ms - call->skew_ms, unless rec's owner is call->replace_owner.
 * Backends use it (or the same rule in their own conditional write) in
 * put_if_absent. */
GDA_API bool gda_record_blocks_takeover(const gda_record *rec, const gda_store_call *call);

typedef struct gda_store gda_store;

/** A backend's table of operations (its vtable), with the contract every
 * backend keeps. */
typedef struct gda_store_ops {
    int version;      /**< GDA_STORE_OPS_VERSION */
    const char *name; /**< "memory", "sqlite", "dynamodb", ... */

    /** Atomically insert rec (state IN_PROGRESS) unless a record that
     * blocks a takeover (gda_record_blocks_takeover under call) exists for
     * rec->key; any other record is replaced. On insert: *inserted = true,
     * *existing untouched. On conflict: *inserted = false and *existing
     * receives a copy of the stored record as it is now — also when it is
     * our own earlier write (a lost answer or a silently resent request):
     * the engine recognises its owner token. */
    gda_status (*put_if_absent)(gda_store *store, const gda_record *rec,
                                const gda_store_call *call, bool *inserted,
                                gda_record *existing, gda_error *err);

    /** Read the record for key, live or not. *found false when there is none
     * (out untouched). The read is strongly consistent. */
    gda_status (*get)(gda_store *store, const char *key, const gda_store_call *call,
                      gda_record *out, bool *found, gda_error *err);

    /** Write rec's state (COMPLETED or ACCEPTED), status_code, body, flags and
     * expires_at_s, only if the stored record for rec->key still has owner
     * rec->owner, is not COMPLETED, and has not expired at call->now_ms
     * (gda_record_expired false for the stored record; no skew allowance: a
     * late finish must never bring an expired record back). *applied false means the
     * condition failed: nothing written. A refusal may be our own earlier
     * write (a lost answer): the engine re-reads the record to tell.
     * A body longer than gda_store.max_body is GDA_ERR_RESULT_TOO_LARGE,
     * checked before any write (the engine checks first; backends check
     * again as a guard). */
    gda_status (*complete)(gda_store *store, const gda_record *rec,
                           const gda_store_call *call, bool *applied, gda_error *err);

    /** Delete the record for key only if it has owner `owner` and is
     * IN_PROGRESS, so a retry re-executes. *applied as for complete. */
    gda_status (*release)(gda_store *store, const char *key, const char *owner,
                          const gda_store_call *call, bool *applied, gda_error *err);

    /** Release the handle and everything it holds. */
    void (*close)(gda_store *store);
} gda_store_ops;

/** The base every backend's handle starts with. */
struct gda_store {
    const gda_store_ops *ops; /**< the backend's operations */
    /** Largest cached body (bytes at gda_record.body, after sealing) this
     * backend can keep, set by the backend when it opens; 0 = no limit.
     * The engine refuses a larger result before writing it, so a result the
     * store cannot hold never leaves a record that a retry would re-run. */
    size_t max_body;
};

/** Thin wrappers that check arguments, then call through the vtable. A NULL
 * store or record is GDA_ERR_INTERNAL; outputs are optional where a backend
 * can do without them (inserted/found/applied default to a local).
 * This one calls gda_store_ops.put_if_absent. */
GDA_API gda_status gda_store_put_if_absent(gda_store *store, const gda_record *rec,
                                           const gda_store_call *call, bool *inserted,
                                           gda_record *existing, gda_error *err);
/** Check arguments and call gda_store_ops.get (see gda_store_put_if_absent);
 * a NULL key is GDA_ERR_INTERNAL. */
GDA_API gda_status gda_store_get(gda_store *store, const char *key, const gda_store_call *call,
                                 gda_record *out, bool *found, gda_error *err);
/** Check arguments and call gda_store_ops.complete (see
 * gda_store_put_if_absent). */
GDA_API gda_status gda_store_complete(gda_store *store, const gda_record *rec,
                                      const gda_store_call *call, bool *applied,
                                      gda_error *err);
/** Check arguments and call gda_store_ops.release (see
 * gda_store_put_if_absent); a NULL key or owner is GDA_ERR_INTERNAL. */
GDA_API gda_status gda_store_release(gda_store *store, const char *key, const char *owner,
                                     const gda_store_call *call, bool *applied, gda_error *err);

/** Close a store of any backend. NULL-safe. */
GDA_API void gda_store_close(gda_store *store);

/** The memory store: in-process, thread-safe, TTL-aware; records past their
 * expiry are dropped lazily. max_entries bounds memory (0 = 100000). It never
 * forgets a live record (that would let a retry run the handler again): when
 * it is full of live records, a put that needs room fails with
 * GDA_ERR_STORE ("full", 503 with Retry-After) and a dead record is dropped
 * to make room. Returns NULL on GDA_ERR_NOMEM (or GDA_ERR_INTERNAL if
 * libsodium cannot initialise). */
GDA_API gda_store *gda_memory_store_new(size_t max_entries, gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_STORE_H */
