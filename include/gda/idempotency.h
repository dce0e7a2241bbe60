/** @file
 * libgda — the exactly-once engine over any gda_store.
 *
 * The algorithm (docs/architecture.md, "Exactly-once, precisely"):
 *
 *   begin    one atomic conditional write: insert IN_PROGRESS with a fresh
 *            random owner token and a lease of min(now + max lease, deadline),
 *            unless a live record exists. Then:
 *              inserted                          -> NEW: run the handler;
 *              COMPLETED/ACCEPTED, same hash     -> REPLAY status + body;
 *              any live record, different hash   -> MISMATCH (422);
 *              live IN_PROGRESS, same hash       -> wait (bounded by the
 *                 configured wait and the deadline), re-reading, and end in
 *                 REPLAY, NEW (its lease passed), or IN_PROGRESS: 409 or 503
 *                 per gda_idem_busy_policy.
 *   complete cache a 2xx or a non-retryable 4xx, only if the owner token
 *            still matches (a stale executor cannot overwrite).
 *   accept   cache a 202 (state ACCEPTED) for a long-running job; the same
 *            owner later completes it, and gda_idem_lookup serves the polls.
 *   abort    the handler failed retryably: delete the record (owner-
 *            conditioned) so the retry re-executes.
 *
 * Records never hold the payload or the credential. They hold a keyed hash
 * of the payload (HMAC-SHA256 under the engine's hash key), so that the
 * store, even together with the logs, does not let anyone confirm a guessed
 * payload (a phone number has few enough values to try them all), and a
 * keyed digest of the principal that created them: only that principal may
 * replay or poll the record; any other gets GDA_ERR_KEY_CONFLICT (begin) or
 * GDA_ERR_NOT_FOUND (lookup), and never learns anything about the payload.
 *
 * The hash key is gda_idem_config.hash_key when given; else it is derived
 * from the data key (so every instance that shares the data key, and so the
 * store, agrees on it); with neither, the engine draws a random key of its
 * own, which is right only for a store that lives no longer than the engine
 * and is shared with no other process (the memory store): elsewhere a retry
 * that reaches another process or a restarted one is refused as MISMATCH
 * (422), never executed twice. The shims refuse to start that way with a
 * durable store.
 *
 * A conditional write that comes back refused may be our own: a lost answer
 * re-sent by a retry loop or silently by an HTTP client. The owner token is
 * 128 random bits, so a refused write whose stored record carries our owner
 * token in the state (and, for complete, with the result) we wrote is our
 * write, and counts as applied, whatever backend and whoever re-sent it.
 *
 * Takeovers allow for clock skew between hosts (gda_idem_config.clock_skew_ms,
 * default GDA_STORE_DEFAULT_SKEW_MS): a lease or an expiry counts as past
 * only that long after it, on the clock of the host that would take over.
 *
 * With a data key configured, cached bodies are sealed with
 * XChaCha20-Poly1305 (IETF); the associated data binds the record key, the
 * payload hash, the principal, the state and the HTTP status, so a tampered,
 * moved or re-labelled record is GDA_ERR_INTEGRITY and is never replayed.
 *
 * Data-key ring (gda_idem_config.data_keys): the first key seals new
 * results and every key opens them; a sealed body names its key's id, which
 * the associated data binds too. A result sealed under a key that is no
 * longer in the ring (or, with a ring, under the single legacy data_key) is
 * unreadable, so it is treated as absent: begin replaces exactly that record
 * (gda_store_call.replace_owner) and runs the handler again, with
 * gda_idem_lease.replaced_unreadable set; lookup answers GDA_ERR_NOT_FOUND.
 * Never a garbage replay. A ring rotates and the hash key must not (a
 * retry's payload hash must match its first attempt's), so a ring needs an
 * explicit hash_key.
 *
 * Thread safety: a gda_idem is immutable after gda_idem_new and may be shared
 * by any number of threads (the store must be thread-safe, as every
 * gda_store is). Lease and result structs belong to one caller at a time.
 * The clock hooks must be callable from every thread that uses the engine.
 */
#ifndef GDA_IDEMPOTENCY_H
#define GDA_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <gda/clock.h>
#include <gda/export.h>
#include <gda/status.h>
#include <gda/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Length in bytes of the data key that encrypts cached results. */
#define GDA_IDEM_DATA_KEY_LEN 32
/** Length in bytes of the hash key that keys payload hashes and principal
 * digests. */
#define GDA_IDEM_HASH_KEY_LEN 32

/** Longest data key id, in bytes. */
#define GDA_IDEM_DATA_KEY_ID_MAX 32
/** Most keys in a data-key ring. */
#define GDA_IDEM_MAX_DATA_KEYS 8

/** One entry of a data-key ring. */
typedef struct gda_idem_data_key {
    /** 1..GDA_IDEM_DATA_KEY_ID_MAX of A-Z a-z 0-9 . _ -, unique in the ring. */
    const char *id;
    /** GDA_IDEM_DATA_KEY_LEN secret bytes, copied into locked memory. */
    const uint8_t *key;
} gda_idem_data_key;

/** What a request gets while a twin with the same key and payload is still
 * running after the wait. */
typedef enum gda_idem_busy_policy {
    /** 503 GDA_ERR_BUSY, requiresRetry true: Genesys retries, and the retry
     * most likely finds the finished result. The default. */
    GDA_IDEM_BUSY_RETRY = 0,
    /** 409 GDA_ERR_IN_PROGRESS, requiresRetry false: the flow takes its
     * failure path at once instead of retrying. */
    GDA_IDEM_BUSY_CONFLICT = 1
} gda_idem_busy_policy;

#define GDA_IDEM_DEFAULT_TTL_S 3600                /**< seconds a result is replayed */
#define GDA_IDEM_DEFAULT_MAX_LEASE_MS 30000        /**< longest lease */
#define GDA_IDEM_DEFAULT_IN_PROGRESS_WAIT_MS 1000  /**< wait for a running twin */
#define GDA_IDEM_DEFAULT_POLL_INTERVAL_MS 50       /**< re-read interval while waiting */

/** Engine settings; start from gda_idem_config_default. */
typedef struct gda_idem_config {
    int64_t ttl_s;               /**< how long results are replayed; GDA_IDEM_DEFAULT_TTL_S */
    int64_t max_lease_ms;        /**< longest lease; the deadline may cut it;
                                  * GDA_IDEM_DEFAULT_MAX_LEASE_MS */
    /** Wait for a running twin, never past the deadline; 0 answers at once;
     * GDA_IDEM_DEFAULT_IN_PROGRESS_WAIT_MS, well inside Genesys' 10 s budget. */
    int64_t in_progress_wait_ms;
    int64_t poll_interval_ms;    /**< re-read interval while waiting; GDA_IDEM_DEFAULT_POLL_INTERVAL_MS */
    gda_idem_busy_policy busy_policy; /**< 409 or 503 for a running twin; default 503 */
    /** NULL for plaintext results, or GDA_IDEM_DATA_KEY_LEN secret bytes,
     * copied into locked memory by gda_idem_new (the caller may wipe its copy). */
    const uint8_t *data_key;
    size_t data_key_len;         /**< bytes at data_key (0 when NULL) */
    /** A data-key ring instead of data_key (not both): data_keys[0] seals
     * new results, every entry opens them (see the top of this file). The
     * entries are copied; needs hash_key. */
    const gda_idem_data_key *data_keys;
    size_t n_data_keys;          /**< entries at data_keys, 0..GDA_IDEM_MAX_DATA_KEYS */
    /** NULL: derived from data_key, or random (see the top of this file); or
     * GDA_IDEM_HASH_KEY_LEN secret bytes shared by every instance that
     * shares the store, copied into locked memory by gda_idem_new. */
    const uint8_t *hash_key;
    size_t hash_key_len;         /**< bytes at hash_key (0 when NULL) */
    /** Clock-skew allowance for takeovers (ms, 0..60000); default
     * GDA_STORE_DEFAULT_SKEW_MS. */
    int64_t clock_skew_ms;
    /** > 0: keep up to this many COMPLETED records in a local LRU in front of
     * the store, so replays of hot keys skip the remote round trip. */
    size_t local_cache_entries;
    gda_clock clock;             /**< zeroed: the system clock (clock.h) */
} gda_idem_config;

/** Opaque exactly-once engine (gda_idem_new / gda_idem_free). */
typedef struct gda_idem gda_idem;

/** What gda_idem_begin decided for a key. */
typedef enum gda_idem_outcome {
    GDA_IDEM_NEW = 1,         /**< the caller holds the lease: execute, then complete/accept/abort */
    GDA_IDEM_REPLAY = 2,      /**< return the cached result byte-for-byte */
    GDA_IDEM_IN_PROGRESS = 3, /**< a twin still runs after the wait */
    GDA_IDEM_MISMATCH = 4,    /**< the key was used with another payload */
    GDA_IDEM_FOREIGN = 5      /**< the key belongs to another principal's record */
} gda_idem_outcome;

/** What the executor of a NEW begin holds. Plain data: it may be copied to
 * another thread or process (e.g. the worker that finishes a 202 job). The
 * owner token is the fencing secret: do not log it. */
typedef struct gda_idem_lease {
    char key[GDA_KEY_MAX + 1];                  /**< the idempotency key, NUL-terminated */
    char owner[GDA_OWNER_TOKEN_SIZE];           /**< fencing token of this execution */
    uint8_t payload_hash[GDA_PAYLOAD_HASH_LEN]; /**< hash the record was begun with */
    uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN]; /**< digest of the principal it was begun for */
    int64_t lease_until_ms; /**< epoch ms: finish before this or lose the key */
    int64_t deadline_ms;    /**< the invocation deadline begin was given (0 = none) */
    /** NEW replaced a result this engine could not read (its data key has
     * left the ring): the handler runs again for a key that had a result. */
    bool replaced_unreadable;
} gda_idem_lease;

/** A cached result (REPLAY, gda_idem_lookup) or what blocks the key. */
typedef struct gda_idem_result {
    gda_record_state state; /**< COMPLETED, ACCEPTED, or IN_PROGRESS (no body) */
    int status_code;        /**< cached HTTP status; 0 for IN_PROGRESS */
    uint8_t *body;          /**< plaintext, heap, owned by the result; NULL when empty */
    size_t body_len;        /**< bytes at body */
    int64_t retry_after_ms; /**< IN_PROGRESS: time left on the twin's lease */
} gda_idem_result;

/** The defaults listed in gda_idem_config (no keys, the system clock). */
GDA_API gda_idem_config gda_idem_config_default(void);

/** Create an engine over store, which is borrowed: it must outlive the
 * engine and is not closed by gda_idem_free. cfg NULL means the defaults.
 * Errors: GDA_ERR_CONFIG (non-positive ttl/lease/poll interval, negative
 * wait, unknown policy, data key not GDA_IDEM_DATA_KEY_LEN bytes, a bad data-key ring
 * (too many entries, a bad or repeated id, a NULL key, no hash_key, both
 * data_key and data_keys), no store),
 * GDA_ERR_NOMEM, GDA_ERR_INTERNAL (libsodium failed to initialise). */
GDA_API gda_idem *gda_idem_new(gda_store *store, const gda_idem_config *cfg, gda_error *err);

/** Wipe the data key and free the engine (and its local cache). NULL-safe. */
GDA_API void gda_idem_free(gda_idem *idem);

/** Start an execution of `key` (1..GDA_KEY_MAX bytes of UTF-8) for a payload
 * whose hash is payload_hash (gda_idem_payload_hash*), on behalf of the
 * principal whose digest is principal (gda_idem_principal_digest), within the
 * invocation deadline deadline_ms (epoch ms; 0 = none). *outcome is always
 * set when one was reached.
 *   GDA_OK, NEW:      *lease filled; call complete, accept or abort.
 *   GDA_OK, REPLAY:   *replay holds the cached status and body (caller clears).
 *   GDA_ERR_KEY_CONFLICT, FOREIGN: the key is held by another principal's
 *                     record (live, in any state): do not execute (409);
 *                     nothing about that record is revealed.
 *   GDA_ERR_PAYLOAD_MISMATCH, MISMATCH: do not execute (422).
 *   GDA_ERR_IN_PROGRESS (409) or GDA_ERR_BUSY (503), IN_PROGRESS: per policy;
 *                     replay->retry_after_ms says when the twin's lease ends.
 * Other errors: GDA_ERR_INVALID_REQUEST (bad key), GDA_ERR_TIMEOUT (deadline
 * already passed), GDA_ERR_INTEGRITY (the cached result failed
 * authentication, or a plaintext result where a data key is configured),
 * GDA_ERR_CONFIG (an encrypted result and no data key), GDA_ERR_NOMEM,
 * GDA_ERR_INTERNAL (NULL argument), and whatever the store returns
 * (GDA_ERR_STORE, GDA_ERR_TIMEOUT). replay must be zeroed or cleared. */
GDA_API gda_status gda_idem_begin(gda_idem *idem, const char *key,
                                  const uint8_t payload_hash[GDA_PAYLOAD_HASH_LEN],
                                  const uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN],
                                  int64_t deadline_ms, gda_idem_outcome *outcome,
                                  gda_idem_lease *lease, gda_idem_result *replay, gda_error *err);

/** Cache the final result of lease's execution and finish it: status_code
 * must be 2xx (but not 202, see gda_idem_accept) or a non-retryable 4xx (any
 * 4xx except 408, 425 and 429, which invite a retry). body is copied (and
 * sealed when a data key is configured). A refused write whose record holds
 * this lease's owner, state, status and body (our own earlier attempt, or a
 * repeat of this same call) is GDA_OK.
 * Errors: GDA_ERR_INTERNAL (NULL argument, or a status that must be aborted
 * instead), GDA_ERR_RESULT_TOO_LARGE (the sealed body is over the store's
 * max_body; nothing written: cache a small final error instead),
 * GDA_ERR_LEASE_LOST (nothing written: the key was taken over, finished with
 * another result, or the record expired — a late finish never revives it),
 * GDA_ERR_NOMEM, and the store's own failures (GDA_ERR_STORE, GDA_ERR_TIMEOUT:
 * the outcome is unknown, the call may be repeated). */
GDA_API gda_status gda_idem_complete(gda_idem *idem, const gda_idem_lease *lease,
                                     int status_code, const void *body, size_t body_len,
                                     gda_error *err);

/** Cache a 202 Accepted body (state ACCEPTED): retries replay it and polls see
 * it, until the same lease owner calls gda_idem_complete with the final
 * result. Errors as for gda_idem_complete. */
GDA_API gda_status gda_idem_accept(gda_idem *idem, const gda_idem_lease *lease,
                                   const void *body, size_t body_len, gda_error *err);

/** The handler failed retryably: delete the record if lease still owns it and
 * it is IN_PROGRESS, so the retry re-executes. Losing the lease meanwhile is
 * not an error (*released false). released may be NULL. Errors:
 * GDA_ERR_INTERNAL (NULL argument), store errors. */
GDA_API gda_status gda_idem_abort(gda_idem *idem, const gda_idem_lease *lease, bool *released,
                                  gda_error *err);

/** Read the state of key for a poll by the principal whose digest is
 * principal: GDA_OK with out->state COMPLETED or ACCEPTED (status and
 * decrypted body) or IN_PROGRESS (no body). The caller clears out.
 * Errors: GDA_ERR_NOT_FOUND (no live record, or one another principal
 * created: the two are indistinguishable), GDA_ERR_INVALID_REQUEST (bad key),
 * GDA_ERR_INTEGRITY, GDA_ERR_CONFIG, GDA_ERR_NOMEM, store errors. */
GDA_API gda_status gda_idem_lookup(gda_idem *idem, const char *key,
                                   const uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN],
                                   gda_idem_result *out, gda_error *err);

/** Free the body of a result and zero it. NULL-safe. */
GDA_API void gda_idem_result_clear(gda_idem_result *res);

/** Keyed hash (HMAC-SHA256 under the engine's hash key) of the canonical JSON
 * of payload (compact, keys sorted, UTF-8), so the same data with keys in
 * another order or other whitespace hashes the same. Errors:
 * GDA_ERR_INTERNAL (NULL), GDA_ERR_NOMEM. */
GDA_API gda_status gda_idem_payload_hash(const gda_idem *idem, const json_t *payload,
                                         uint8_t out[GDA_PAYLOAD_HASH_LEN], gda_error *err);

/** Keyed hash of raw payload bytes (HMAC-SHA256 under the engine's hash
 * key). data may be NULL when len is 0. idem NULL zeroes out. */
GDA_API void gda_idem_payload_hash_bytes(const gda_idem *idem, const void *data, size_t len,
                                         uint8_t out[GDA_PAYLOAD_HASH_LEN]);

/** Keyed digest (HMAC-SHA256 under the engine's hash key, domain-separated
 * from payload hashes) of a principal: the caller it authenticated as and
 * the principal name within it (verify.h's gda_auth_result caller and
 * principal; both "" for one's own trusted door, such as a trusted direct
 * invocation, which is then one principal of its own). NULL strings are "".
 * The digest, never the name, is what records keep. idem NULL zeroes out. */
GDA_API void gda_idem_principal_digest(const gda_idem *idem, const char *caller,
                                       const char *principal,
                                       uint8_t out[GDA_PRINCIPAL_DIGEST_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* GDA_IDEMPOTENCY_H */
