/** @file
 * libgda-lambda — the AWS Lambda custom runtime (provided.al2023).
 *
 * A function's own main() is one line around its handler:
 *
 *     int main(void) { return gda_lambda_main(my_handler, my_user); }
 *
 * gda_lambda_main() configures everything from GDA_* variables exactly as
 * the tree's `bootstrap` does (docs/configuration.md) and runs the loop;
 * build it with `pkg-config --cflags --libs libgda-lambda` (plus the store
 * library you open, e.g. libgda-store-dynamodb) and package it with
 * `gda-package-lambda` (docs/getting-started.md, "Your own handler on
 * Lambda").
 *
 * The longer form is for a program that builds its own gda_app:
 *
 *     int main(void)
 *     {
 *         gda_error err;
 *         gda_app *app = my_app_new(&err);          // verifier, store, handler
 *         if (!app)
 *             return gda_lambda_init_failed(NULL, &err);
 *         gda_lambda_options opt = gda_lambda_options_default();
 *         gda_status st = gda_lambda_run(app, &opt, &err);
 *         gda_app_free(app);
 *         return st == GDA_OK ? 0 : 1;
 *     }
 *
 * gda_lambda_run() drives the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API)
 * over one reused libcurl handle, so the loopback connection is kept alive:
 *
 *   GET next → decode the event (any shape event.h knows) → gda_app_handle →
 *   encode for the same invoker → POST response
 *
 * with the invocation's deadline (Lambda-Runtime-Deadline-Ms), request id and
 * trace id passed into gda_invocation, and _X_AMZN_TRACE_ID set for the
 * duration of the invocation.
 *
 * Failures:
 *   - direct invocation (Genesys' AWS Lambda data-action integration) with a
 *     non-2xx outcome: POST invocation/{id}/error, because on that path only a
 *     failed function takes the flow's failure path. errorMessage holds the
 *     same JSON error object the HTTP paths return as their body, and
 *     errorType (Lambda-Runtime-Function-Error-Type) names the class, which
 *     Genesys flows branch on:
 *
 *       GDA_ERR_UNAUTHORIZED (401)            Unauthorized
 *       GDA_ERR_FORBIDDEN (403)               Forbidden
 *       GDA_ERR_NOT_FOUND (404)               NotFound
 *       GDA_ERR_METHOD_NOT_ALLOWED (405)      MethodNotAllowed
 *       GDA_ERR_IN_PROGRESS (409)             Conflict
 *       GDA_ERR_PAYLOAD_TOO_LARGE (413)       PayloadTooLarge
 *       GDA_ERR_UNSUPPORTED_MEDIA_TYPE (415)  UnsupportedMediaType
 *       GDA_ERR_PAYLOAD_MISMATCH (422)        PayloadMismatch
 *       GDA_ERR_UNPROCESSABLE (422)           Unprocessable
 *       GDA_ERR_RATE_LIMITED (429)            RateLimited
 *       every 5xx status                      Retryable (Genesys retries those)
 *       every other 4xx status (400s, ...)    Invalid
 *
 *   - an event that cannot be decoded: invocation/{id}/error likewise;
 *   - a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) while serving an
 *     invocation: a signal handler reports "Runtime.Crash" for that invocation
 *     with async-signal-safe calls only, then the process dies of the signal
 *     and Lambda starts a fresh container — never silently;
 *   - Runtime API connection errors: retried with exponential backoff; after
 *     max_connect_failures consecutive failures gda_lambda_run gives up with
 *     GDA_ERR_UNAVAILABLE. A failed response POST is logged (and retried once
 *     on a transport error); the loop goes on.
 *   - SIGTERM / SIGINT end the loop cleanly after the current invocation.
 *
 * Key ring rotation: when a verifier and a secrets source are given, a 401
 * (or an authorizer Deny) makes the runtime re-fetch the key ring, at most
 * once per secret_refresh_ms; if the secret changed, the verifier's ring is
 * swapped atomically (gda_verifier_set_keyring) and that request is served
 * again, so a rotated secret takes effect without a redeploy. In the longer
 * form the first ring comes from the same source just before the loop:
 *
 *     gda_secrets_config scfg;
 *     gda_secrets *secrets = NULL;
 *     gda_keyring *ring = NULL;
 *     if (gda_secrets_config_from_env(&scfg, &err) != GDA_OK ||
 *         gda_secrets_new(&scfg, &secrets, &err) != GDA_OK ||
 *         gda_secrets_fetch(secrets, now_ms, &ring, NULL, &err) != GDA_OK)
 *         return gda_lambda_init_failed(NULL, &err);  // (frees omitted)
 *     // gda_verifier_new(&vopt, ring, &verifier, &err), the app around it
 *     opt.verifier = verifier;
 *     opt.secrets = secrets;
 *
 * Authorizer mode (GDA_LAMBDA_AUTHORIZER, GDA_MODE=authorizer): the same
 * binary answers API Gateway TOKEN/REQUEST authorizer events with
 * gda_authorizer_respond (gda/authorizer.h; header token / JWT schemes only;
 * Deny by default; Allow scoped to the exact method ARN).
 *
 * Thread safety: gda_lambda_run installs process-wide signal handlers and
 * must run at most once at a time per process, on one thread. The secrets
 * object is used by one thread at a time.
 */
#ifndef GDA_LAMBDA_H
#define GDA_LAMBDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/app.h>
#include <gda/export.h>
#include <gda/log.h>
#include <gda/status.h>
#include <gda/verify.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- secrets: where the key ring comes from ---------------------------- */

/** Where the runtime reads the key ring from. */
typedef enum gda_secret_source {
    GDA_SECRET_SOURCE_AUTO = 0,       /**< extension, else Secrets Manager, else file, else env */
    GDA_SECRET_SOURCE_EXTENSION = 1,  /**< AWS Parameters and Secrets Lambda Extension */
    GDA_SECRET_SOURCE_SECRETS_MANAGER = 2, /**< GetSecretValue, SigV4 */
    GDA_SECRET_SOURCE_FILE = 3,       /**< a file holding the key ring text */
    GDA_SECRET_SOURCE_ENV = 4         /**< the key ring text itself, from the environment */
} gda_secret_source;

/** Where and how to fetch the key ring (gda_secrets_config_from_env fills it). */
typedef struct gda_secrets_config {
    gda_secret_source source;    /**< which source; AUTO picks as described at gda_secrets_config_from_env */
    /** Secret name or ARN (extension, Secrets Manager). The secret's string is
     * the key ring text, or a JSON object whose "keyring" member is. */
    const char *secret_id;
    const char *file_path;       /**< file source: a file holding the key ring text */
    const char *env_value;       /**< env source: the key ring text itself */
    const char *extension_host;  /**< NULL: "localhost" */
    int extension_port;          /**< 0: 2773 */
    const char *session_token;   /**< extension token; NULL: AWS_SESSION_TOKEN */
    const char *region;          /**< Secrets Manager; NULL: AWS_REGION / AWS_DEFAULT_REGION */
    const char *endpoint;        /**< Secrets Manager URL; NULL: https://secretsmanager.REGION.amazonaws.com (REGION as above) */
    int64_t timeout_ms;          /**< one fetch, all attempts; 0: 3000 */
} gda_secrets_config;

/** Fill *cfg from the environment. Strings point into the environment
 * (borrowed; do not change the environment while cfg is in use):
 *   GDA_SECRETS_SOURCE           auto | extension | secretsmanager (or
 *                                secrets-manager) | file | env
 *   GDA_SECRET_ID                secret name or ARN
 *   GDA_SECRETS_FILE             key ring file
 *   GDA_SECRETS                  key ring text
 *   GDA_SECRETS_EXTENSION_PORT   else PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, else 2773
 *   GDA_SECRETS_EXTENSION_HOST   default localhost
 *   GDA_SECRETS_ENDPOINT         Secrets Manager endpoint override
 *   GDA_SECRETS_TIMEOUT_MS       default 3000
 * auto resolves as: GDA_SECRET_ID set → the extension if AWS_SESSION_TOKEN is
 * set and the extension answers, else Secrets Manager; else GDA_SECRETS_FILE →
 * file; else GDA_SECRETS → env.
 * Errors: GDA_ERR_CONFIG naming the variable (unknown source, bad port or
 * timeout, a source without the setting it needs, nothing configured). */
GDA_API gda_status gda_secrets_config_from_env(gda_secrets_config *cfg, gda_error *err);

/** Opaque key ring source: fetches and re-fetches the secret (gda_secrets_new). */
typedef struct gda_secrets gda_secrets;

/** Validate cfg and build a source (strings copied). Nothing is fetched yet.
 * Errors: GDA_ERR_CONFIG (naming the setting), GDA_ERR_NOMEM. */
GDA_API gda_status gda_secrets_new(const gda_secrets_config *cfg, gda_secrets **out,
                                   gda_error *err);

/** Free (wiping the last fetched secret). NULL-safe. */
GDA_API void gda_secrets_free(gda_secrets *s);

/** Fetch the key ring text now and parse it into a new ring (one reference,
 * the caller's: hand it to gda_verifier_new / gda_verifier_set_keyring or
 * gda_keyring_free it). *changed (optional) tells whether the text differs
 * from the previous successful fetch (true on the first). now_ms is the
 * current epoch time, for the call deadline. The longer form fetches its
 * first ring with it ("Key ring rotation" above); the runtime re-fetches.
 * Errors: GDA_ERR_CONFIG (the secret does not exist or is refused, the file
 * cannot be read, the text is not a valid key ring; never quoting it),
 * GDA_ERR_UNAVAILABLE (extension or Secrets Manager unreachable or failing),
 * GDA_ERR_TIMEOUT, GDA_ERR_NOMEM. */
GDA_API gda_status gda_secrets_fetch(gda_secrets *s, int64_t now_ms, gda_keyring **ring_out,
                                     bool *changed, gda_error *err);

/* ---- the runtime loop --------------------------------------------------- */

/** What the runtime answers: Data Action requests or authorizer events. */
typedef enum gda_lambda_mode {
    GDA_LAMBDA_DATA_ACTION = 0, /**< the Data Action pipeline (gda_app) */
    GDA_LAMBDA_AUTHORIZER = 1   /**< API Gateway Lambda authorizer */
} gda_lambda_mode;

/** "data-action", "authorizer". */
GDA_API const char *gda_lambda_mode_str(gda_lambda_mode mode);

/** Settings of the runtime loop; start from gda_lambda_options_default. */
typedef struct gda_lambda_options {
    const char *runtime_api;   /**< "host:port"; NULL: AWS_LAMBDA_RUNTIME_API */
    gda_lambda_mode mode;      /**< data-action (default) or authorizer */
    /** Borrowed. Required in authorizer mode; in data-action mode it is the
     * verifier inside the app, given here so rotation can swap its ring. */
    gda_verifier *verifier;
    gda_secrets *secrets;      /**< borrowed; NULL: no re-fetch on 401 */
    int64_t secret_refresh_ms; /**< minimum time between re-fetches; default 60000 */
    /** Re-fetch the key ring once it is this old, between invocations (after
     * the response is posted, before asking for the next), so a key removed
     * from the secret stops working on warm containers too without adding
     * latency to any request; 0: only on a refused credential. Default
     * 300000 (GDA_KEYRING_MAX_AGE_S). */
    int64_t keyring_max_age_ms;
    size_t max_event;          /**< largest event accepted; default 6 MiB */
    unsigned max_connect_failures; /**< consecutive Runtime API failures; default 20 */
    uint64_t max_invocations;  /**< stop after this many (tests, benchmarks); 0: no limit */
    gda_logger *logger;        /**< borrowed; NULL: the app's, else a stdout logger */
    bool crash_reporter;       /**< report fatal signals per invocation; default true */
    bool handle_signals;       /**< install SIGTERM/SIGINT handlers; default true */
} gda_lambda_options;

/** The defaults documented on each field. */
GDA_API gda_lambda_options gda_lambda_options_default(void);

/** Overlay the environment on *opt: GDA_MODE (data-action | authorizer),
 * GDA_SECRET_REFRESH_S (0..86400), GDA_KEYRING_MAX_AGE_S (0..86400),
 * GDA_LAMBDA_MAX_EVENT (bytes).
 * Errors: GDA_ERR_CONFIG naming the variable. */
GDA_API gda_status gda_lambda_options_from_env(gda_lambda_options *opt, gda_error *err);

/** Serve invocations until SIGTERM/SIGINT (or gda_lambda_stop), until
 * max_invocations, or until the Runtime API stays unreachable. app is
 * borrowed (it may be NULL in authorizer mode). opt NULL: the defaults.
 * Returns GDA_OK on a requested stop; GDA_ERR_CONFIG (no Runtime API address,
 * authorizer mode without a verifier, data-action mode without an app),
 * GDA_ERR_UNAVAILABLE (the Runtime API kept failing), GDA_ERR_NOMEM,
 * GDA_ERR_INTERNAL (libcurl could not start). Failures of single invocations
 * are reported to the Runtime API and logged, never returned. */
GDA_API gda_status gda_lambda_run(gda_app *app, const gda_lambda_options *opt, gda_error *err);

/** Ask a running gda_lambda_run to return after the current invocation.
 * Async-signal-safe. */
GDA_API void gda_lambda_stop(void);

/* ---- the whole bootstrap ------------------------------------------------ */

/** Run a Lambda function from the environment, start to finish, and return
 * the process exit status; main() returns it.
 *
 * In order: gda_lambda_options_from_env; the key ring from its source
 * (gda_secrets_config_from_env, fetched once; a ring file group or others may
 * read gets a WARN); then, for GDA_MODE=data-action (the default), a gda_app
 * from gda_env_app_new (include/gda/env.h: GDA_AUTH, GDA_STORE — required —,
 * GDA_HASH_KEY, ...) around handler, with the fetched ring handed over in
 * memory, never through the process environment; for GDA_MODE=authorizer, a
 * verifier of GDA_AUTH (token or jwt), GDA_AUTH_HEADER and GDA_AUTH_OPTIONS,
 * and handler is not used. Then gda_lambda_run with re-fetch on a refused
 * credential and GDA_KEYRING_MAX_AGE_S.
 *
 * Any start-up failure (including a NULL handler in data-action mode, with
 * err field "handler") goes to gda_lambda_init_failed: one JSON line on
 * stderr, runtime/init/error, exit status 1. Returns 0 after a requested
 * stop (SIGTERM), 1 when the loop ends otherwise.
 *
 * handler_user is passed to every call of handler and must outlive this
 * call. Like gda_lambda_run, at most one call per process at a time. */
GDA_API int gda_lambda_main(gda_handler_fn handler, void *handler_user);

/* ---- start-up failures -------------------------------------------------- */

/** For main(): log *error (NULL: an internal error) as one JSON line on
 * stderr, POST it to runtime/init/error, and return the process exit status
 * to use (1). The report's errorType is "Runtime.InitError.Config" for
 * GDA_ERR_CONFIG, else "Runtime.InitError.<Class>" with the class of the
 * errorType table above; its errorMessage is the JSON object {"code",
 * "message", "field"} of *error (whose message never holds secrets). A
 * report that cannot be posted (no address, the Runtime API refusing) is
 * logged on stderr; the status is 1 regardless. runtime_api NULL:
 * AWS_LAMBDA_RUNTIME_API. */
GDA_API int gda_lambda_init_failed(const char *runtime_api, const gda_error *error);

#ifdef __cplusplus
}
#endif

#endif /* GDA_LAMBDA_H */
