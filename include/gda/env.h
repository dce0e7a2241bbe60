/** @file
 * libgda-env — configuring a gda_app from environment variables, and
 * opening a store from a URI.
 *
 * The shared library behind gda-httpd, the Lambda bootstrap and
 * gda_lambda_main (pkg-config: libgda-env; libgda-lambda links it). It lives
 * outside the core because it reads files and the environment and links the
 * store backends that were built; the core depends on none of them. Every
 * variable, its default and an example are in docs/configuration.md.
 *
 * Deny by default: without GDA_AUTH the scheme is "token", and without a key
 * ring (GDA_SECRETS or GDA_SECRETS_FILE) start-up fails; there is no setting
 * that serves an unauthenticated endpoint.
 *
 * Errors never contain a variable's value (it may be a secret): they name
 * the variable in err->field and say what is wrong with it.
 *
 * Thread safety: gda_env_app_new, gda_env_register_stores and
 * gda_store_open_uri may run from any
 * thread, but the default environment reader is getenv(3), which must not
 * race with setenv/putenv; call them at start-up.
 */
#ifndef GDA_ENV_H
#define GDA_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include <gda/app.h>
#include <gda/export.h>
#include <gda/log.h>
#include <gda/request.h>
#include <gda/status.h>
#include <gda/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Value of environment variable name, or NULL when unset. */
typedef const char *(*gda_env_get_fn)(const char *name, void *user);

/** What a program decides rather than the environment. Zero-initialize and
 * set what you need; every member is optional. */
typedef struct gda_env_overrides {
    gda_env_get_fn getenv;     /**< NULL: getenv(3) (tests pass a table) */
    void *getenv_user;         /**< passed to getenv */
    const char *default_store; /**< store URI when GDA_STORE is unset; NULL: "memory" */
    /** The program runs as many instances behind one endpoint (Lambda
     * containers): GDA_STORE must be set (default_store is ignored), and a
     * memory store gets a WARN at start, since a retry that reaches another
     * instance runs the handler again. */
    bool many_instances;
    /** The input contract, taken over by the app (also on failure); NULL:
     * the reference Genesys contract. */
    gda_spec *spec;
    /** The verifier, taken over by the app (also on failure); NULL: built
     * from GDA_AUTH, GDA_AUTH_HEADER, GDA_AUTH_OPTIONS over the key ring in
     * GDA_SECRETS or GDA_SECRETS_FILE. A program that fetches its key ring
     * elsewhere (gda_lambda_main, from Secrets Manager) builds it with
     * gda_env_verifier_new and passes it here, so the secret never passes
     * through the environment. */
    gda_verifier *verifier;
    gda_log_sink_fn log_sink;  /**< NULL: standard output */
    void *log_sink_user;       /**< passed to log_sink */
    gda_clock clock;           /**< zeroed: the system clock */
} gda_env_overrides;

/** Register the built-in store backends this library was built with in the
 * core's store registry (gda/store_registry.h): gda_store_sqlite_register
 * and gda_store_dynamodb_register, when libgda-store-sqlite and
 * libgda-store-dynamodb were built ("memory" is the core's own). Runs once
 * per process (later calls return the first result); gda_store_open_uri
 * and gda_env_app_new call it themselves. Whether a scheme opens is then
 * gda_store_scheme_registered (gda/store_registry.h).
 * Errors as gda_store_register, e.g. GDA_ERR_CONFIG when a program
 * registered a different backend under "sqlite" or "dynamodb" first. */
GDA_API gda_status gda_env_register_stores(gda_error *err);

/** Open a store from a URI, through the store registry once the built-in
 * backends are registered (gda_env_register_stores), so GDA_STORE reaches
 * every registered scheme:
 *   memory            the in-process memory store (default size)
 *   memory:N          the memory store holding at most N records (1..10^8)
 *   sqlite:PATH       the SQLite store in the database file PATH (created if
 *                     needed), when libgda-store-sqlite was built
 *   dynamodb:TABLE    the DynamoDB store on TABLE (region and endpoint from
 *                     AWS_REGION / GDA_DYNAMODB_ENDPOINT, credentials from
 *                     the environment), when libgda-store-dynamodb was built
 *   SCHEME:REST       a backend the program (or a module it loaded)
 *                     registered with gda_store_register
 * Returns a new store (close with gda_store_close) or NULL with err set:
 * GDA_ERR_CONFIG (NULL, empty or unknown URI — the message lists the
 * registered schemes —, a built-in backend not built into this program, an
 * empty path or table, a bad size, a backend whose store has an unfit
 * vtable), GDA_ERR_NOMEM, and whatever the backend's open returns (e.g.
 * GDA_ERR_STORE for a database that cannot be opened). err->field is the
 * backend's, else "GDA_STORE". */
GDA_API gda_store *gda_store_open_uri(const char *uri, gda_error *err);

/** Build the verifier GDA_AUTH (default token), GDA_AUTH_HEADER and
 * GDA_AUTH_OPTIONS describe, over ring_len bytes of key ring text at ring
 * (borrowed; the caller wipes it), or, when ring is NULL, over the ring in
 * GDA_SECRETS or GDA_SECRETS_FILE. overrides (may be NULL) supplies only the
 * getenv hook. On success *out is the new verifier (gda_verifier_free).
 * Errors (*out NULL): GDA_ERR_CONFIG with err->field naming the variable at
 * fault ("GDA_SECRETS" for a bad entry of a given ring), GDA_ERR_NOMEM,
 * GDA_ERR_INTERNAL (out NULL). */
GDA_API gda_status gda_env_verifier_new(const char *ring, size_t ring_len,
                                        const gda_env_overrides *overrides, gda_verifier **out,
                                        gda_error *err);

/** Build a gda_app for handler (handler_user is borrowed and must outlive the
 * app) from the environment variables documented in docs/configuration.md:
 * GDA_AUTH, GDA_SECRETS, GDA_SECRETS_FILE, GDA_AUTH_HEADER, GDA_AUTH_OPTIONS,
 * GDA_STORE, GDA_TTL_S, GDA_MAX_BODY, GDA_LOG_LEVEL (else
 * AWS_LAMBDA_LOG_LEVEL), GDA_ROUTE, GDA_IN_PROGRESS, GDA_IN_PROGRESS_WAIT_MS,
 * GDA_DATA_KEY (or GDA_DATA_KEY_FILE) or the data-key ring GDA_DATA_KEYS
 * (with GDA_DATA_KEY_SOURCE raw or kms; kms decrypts the ring and
 * GDA_HASH_KEY through AWS KMS here, with GDA_KMS_ENDPOINT, GDA_KMS_KEY_ARN,
 * GDA_KMS_TIMEOUT_MS and the AWS_* region and credentials), GDA_HASH_KEY (or
 * GDA_HASH_KEY_FILE),
 * GDA_CLOCK_SKEW_MS, GDA_LEASE_MS, GDA_HANDLER_BUDGET_MS, GDA_DIRECT_TRUSTED,
 * GDA_METRICS_NAMESPACE, GDA_SERVICE (else AWS_LAMBDA_FUNCTION_NAME).
 * A secret file (GDA_SECRETS_FILE, GDA_*_KEY_FILE) that group or others may
 * read gets a WARN at start naming it and its mode.
 * An empty value counts as unset. overrides may be NULL.
 * On success *out is the new app (gda_app_free). Errors (*out NULL):
 * GDA_ERR_CONFIG with err->field naming the variable at fault (or "handler"),
 * GDA_ERR_NOMEM, GDA_ERR_INTERNAL (out NULL), the store's open errors with
 * err->field "GDA_STORE", and with GDA_DATA_KEY_SOURCE=kms GDA_ERR_UNAVAILABLE
 * or GDA_ERR_TIMEOUT (KMS failing or too slow; err->field "GDA_DATA_KEYS"). Secret material read here (key ring text,
 * data key) is held in libsodium guarded memory and wiped before return. */
GDA_API gda_status gda_env_app_new(gda_handler_fn handler, void *handler_user,
                                   const gda_env_overrides *overrides, gda_app **out,
                                   gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_ENV_H */
