/** @file
 * libgda — the DynamoDB idempotency store (libgda-store-dynamodb).
 *
 * Implements the store contract of <gda/store.h> over DynamoDB's JSON
 * protocol, signed with SigV4 from the environment's credentials
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) in the
 * environment's region (AWS_REGION, else AWS_DEFAULT_REGION).
 *
 * One round trip on the hot path: put_if_absent is a conditional PutItem
 * ("absent, or expired, or IN_PROGRESS with its lease past") asking for the
 * existing item on a failed condition (ReturnValuesOnConditionCheckFailure =
 * ALL_OLD); servers that ignore that flag cost one consistent GetItem more.
 * complete and release are UpdateItem / DeleteItem conditioned on the owner
 * token. Records carry the TTL attribute in epoch seconds so DynamoDB's TTL
 * deletes them.
 *
 * Item layout (attribute names configurable; defaults match the reference
 * table, partition key "requestId" of type S):
 *   requestId S, state S (IN_PROGRESS | COMPLETED | ACCEPTED), payloadHash B,
 *   owner S, leaseUntilMs N, expiresAt N (TTL, epoch s), statusCode N,
 *   body B, flags N, principal B (32 bytes; items written by libgda 0.1
 *   lack it and read as the all-zero digest, which no caller matches).
 *
 * Takeovers allow for clock skew (gda_store_call.skew_ms): the PutItem
 * condition compares the lease and the expiry with now - skew. complete
 * also requires the item unexpired at now (DynamoDB deletes expired items
 * only eventually), with no margin.
 *
 * A refused write is not an error. When a PutItem's condition fails,
 * put_if_absent answers *inserted false with the item as it is now (the old
 * item the refusal carried, else a consistent GetItem), also when that item
 * is our own: libcurl re-sends a request by itself when a reused keep-alive
 * connection dies before any answer, and the copy is then refused by our
 * own first write; the engine recognises its owner token. A refused
 * complete answers *applied false and the engine re-reads. After a retry of
 * the store's own (an attempt whose answer was lost), the store itself
 * counts a refusal against our owner token in the state we wrote as applied.
 *
 * Cached bodies are limited to GDA_DYNAMODB_MAX_BODY = 405504 bytes
 * (gda_store.max_body): DynamoDB's 400 KB item limit (409600 bytes) counts
 * the base64-free binary size of every attribute name and value, and the
 * other attributes take at most about 3 KB even with a GDA_KEY_MAX-byte key
 * and every attribute name at its 255-byte maximum. A longer body is
 * GDA_ERR_RESULT_TOO_LARGE, from complete or put_if_absent, before anything
 * is sent.
 *
 * Throttling, 5xx and connection failures are retried with full-jitter
 * exponential backoff, never past the call's deadline_ms.
 *
 * Thread safety: a store handle may be shared by any number of threads
 * (calls run in parallel, one HTTP connection per concurrent caller). The
 * functions below that take options only read them.
 */
#ifndef GDA_STORE_DYNAMODB_H
#define GDA_STORE_DYNAMODB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/clock.h>
#include <gda/export.h>
#include <gda/status.h>
#include <gda/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Environment variable naming the endpoint URL when options.endpoint is NULL
 * (e.g. http://127.0.0.1:8000 for a local DynamoDB-compatible server). */
#define GDA_DYNAMODB_ENDPOINT_ENV "GDA_DYNAMODB_ENDPOINT"

/** Largest cached body the store keeps (gda_store.max_body), 405504 bytes:
 * DynamoDB's 400 KB item limit (409600 bytes) less 4 KB for the key (at most
 * GDA_KEY_MAX bytes), the other attributes and their names (at most 255
 * bytes each). */
#define GDA_DYNAMODB_MAX_BODY (400 * 1024 - 4096)

/** Store settings. Zero-initialise them (every zero or NULL field takes its
 * default) and set the table:
 *     gda_dynamodb_options o = {.table = "gda-idempotency"}; */
typedef struct gda_dynamodb_options {
    const char *table;    /**< required */
    const char *region;   /**< NULL: AWS_REGION, else AWS_DEFAULT_REGION */
    /** NULL: $GDA_DYNAMODB_ENDPOINT, else https://dynamodb.REGION.amazonaws.com (REGION as above) */
    const char *endpoint;

    /** Attribute names; NULL keeps the default shown in the comment. */
    const char *attr_key;        /**< "requestId" (the partition key, type S) */
    const char *attr_state;      /**< "state" */
    const char *attr_payload;    /**< "payloadHash" */
    const char *attr_owner;      /**< "owner" */
    const char *attr_lease;      /**< "leaseUntilMs" */
    const char *attr_expires;    /**< "expiresAt" (the table's TTL attribute) */
    const char *attr_status;     /**< "statusCode" */
    const char *attr_body;       /**< "body" */
    const char *attr_flags;      /**< "flags" */
    const char *attr_principal;  /**< "principal" (keyed digest of the creating caller) */

    /** Retries of throttling / 5xx / connection failures within one call. */
    unsigned max_attempts;       /**< 0: 8 */
    int64_t backoff_base_ms;     /**< 0: 25 */
    int64_t backoff_cap_ms;      /**< 0: 2000 */
    /** Budget of a call whose gda_store_call has no deadline (0: 10000). */
    int64_t default_timeout_ms;
    int64_t connect_timeout_ms;  /**< 0: 2000 */
    size_t max_connections;      /**< concurrent requests per store (0: 64) */

    /** Clock used for deadlines and backoff sleeps (zeroed: the system
     * clock). Tests inject both hooks to count and skip sleeps. */
    gda_clock clock;
} gda_dynamodb_options;

/** Open a store on an existing table. No request is sent (the first call
 * opens the connection). Credentials come from the environment now and are
 * kept in guarded memory for the handle's life. Returns NULL on error:
 * GDA_ERR_CONFIG (no table, no region, no credentials, a bad endpoint or
 * attribute name), GDA_ERR_NOMEM. Close with gda_store_close. */
GDA_API gda_store *gda_dynamodb_store_new(const gda_dynamodb_options *opts, gda_error *err);

/** Register the "dynamodb" scheme in the store registry
 * (gda/store_registry.h), so gda_store_open("dynamodb:TABLE", ...) opens
 * gda_dynamodb_store_new with the defaults and table TABLE (region, endpoint
 * and credentials from the environment, as above). "dynamodb" alone or
 * "dynamodb:" is GDA_ERR_CONFIG ("needs a table name"). Registering again is
 * a no-op; errors as gda_store_register. libgda-env calls it for you. */
GDA_API gda_status gda_store_dynamodb_register(gda_error *err);

/** For local development and tests: create opts->table with the key schema
 * (attr_key, type S, HASH) in on-demand billing, wait (bounded by
 * deadline_ms, epoch ms; 0 = 30 s) until it is ACTIVE, then enable TTL on
 * attr_expires. An existing table is not an error (*created false).
 * *ttl_enabled (optional) is false when the server does not implement
 * UpdateTimeToLive (some local emulators). Errors: GDA_ERR_CONFIG
 * (options, credentials, or the service refused), GDA_ERR_STORE (service
 * unavailable), GDA_ERR_TIMEOUT, GDA_ERR_NOMEM. */
GDA_API gda_status gda_dynamodb_create_table(const gda_dynamodb_options *opts,
                                             int64_t deadline_ms, bool *created,
                                             bool *ttl_enabled, gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_STORE_DYNAMODB_H */
