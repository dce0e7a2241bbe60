/** @file
 * libgda — the whole Data Action pipeline in one call.
 *
 * A gda_app is configured once (per process or Lambda container) with a
 * verifier, a field spec, an idempotency store, limits, a log configuration
 * and YOUR handler; then every request goes through gda_app_handle():
 *
 *   route → size check (413, before any parsing) → content type (415) →
 *   authenticate (401, generic) → map and validate (400) → idempotency begin
 *   (replay / 422 mismatch / 409 or 503 in progress) → handler → response →
 *   complete (2xx and non-retryable 4xx cached) or abort (5xx: lease
 *   released) → one log line + one EMF metrics line
 *
 * Both shims (gda-httpd and the Lambda bootstrap) call this and nothing else
 * of the pipeline, so a request gets the same answer whichever door it used.
 * The body is parsed exactly once.
 *
 * Routes (exact, case-sensitive path match; the query string is ignored):
 *   POST {route}             runs the pipeline;
 *   GET  {route}/{requestId} answers a two-phase poll from the store (also
 *                            authenticated; requestId percent-encoded);
 *   other paths              404; other methods on those paths 405 with Allow.
 * A direct Lambda invocation (GDA_EVENT_DIRECT, no method or path) is
 * POST {route}. GET /healthz belongs to the shims, not to the app.
 *
 * Two-phase handshake: a handler that starts long-running work first calls
 * gda_ctx_accept(), which stores the record as ACCEPTED with its 202 body
 * {"status":"accepted","pollUrl":"{route}/{requestId}",…} durably and only
 * then hands out the completion token. Only after that may the job start;
 * the handler returns GDA_ACCEPTED. Retries replay the 202, and GET on the
 * poll URL returns it, until someone calls gda_app_finish() with the token;
 * from then on the poll (and any retry) returns the final result. So a job
 * that was started is never started again: it cannot start before its
 * record is durable, and a durable ACCEPTED record is never taken over (it
 * lives until its TTL or its final result). Every key's poll URL fits a
 * header, so a 202 can always be answered.
 *
 * Every answer carries "Cache-Control: no-store".
 *
 * Clocks: the app never reads a clock itself; it calls cfg.idem.clock
 * (zeroed: the system wall clock) or takes gda_invocation.now_ms.
 *
 * Thread safety: after gda_app_new returns, one gda_app may serve any number
 * of threads at once (gda_app_handle, gda_app_finish, gda_app_logger);
 * gda_app_free must not race with any of them. A gda_ctx is valid only on the
 * handler's thread during the handler call.
 */
#ifndef GDA_APP_H
#define GDA_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <gda/event.h>
#include <gda/export.h>
#include <gda/idempotency.h>
#include <gda/log.h>
#include <gda/request.h>
#include <gda/status.h>
#include <gda/store.h>
#include <gda/verify.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The configured pipeline (opaque); see gda_app_new. */
typedef struct gda_app gda_app;
/** What a handler may know about the request it serves (opaque, borrowed). */
typedef struct gda_ctx gda_ctx;

/** Your business logic. Called at most once per idempotency key (per TTL),
 * after authentication and validation succeeded, with a deadline to respect
 * (gda_ctx_remaining_ms).
 *   return GDA_OK with *data_out = a new JSON object → 200, cached, replayed;
 *   return GDA_ACCEPTED after a successful gda_ctx_accept (work continues
 *          elsewhere; see gda_app_finish) → 202 with a poll URL; *data_out
 *          is ignored. GDA_ACCEPTED without it is a handler bug (500, lease
 *          released); after it, any return answers the 202;
 *   return a non-retryable 4xx code (e.g. GDA_ERR_UNPROCESSABLE) with err
 *          filled → that error, cached like a success (Genesys does not retry
 *          4xx); err->message and err->field reach the caller, so never put
 *          secrets or PII in them;
 *   return a 5xx code (e.g. GDA_ERR_UNAVAILABLE) → that error with
 *          requiresRetry true; the lease is released so Genesys' retry runs
 *          the handler again. 429 is not cached either.
 * GDA_OK with *data_out NULL or not an object, or a value that is no
 * gda_status, is a handler bug: 500, lease released.
 * *data_out is owned by the pipeline after return (it decrefs it). */
typedef gda_status (*gda_handler_fn)(const gda_request *req, const gda_ctx *ctx,
                                     json_t **data_out, gda_error *err, void *user);

#define GDA_APP_DEFAULT_ROUTE "/genesys/dataaction" /**< the reference route */
#define GDA_APP_ROUTE_MAX 128 /**< bytes of a route */
#define GDA_APP_DEFAULT_HANDLER_BUDGET_MS 8000 /**< deadline when none is given */

/** How the payload hash that detects a reused idempotency key is taken. */
typedef enum gda_payload_hash_mode {
    /** SHA-256 of the body bytes as received (default). Genesys resends a
     * retry byte for byte, so this is exact; it runs at raw SHA-256 speed and
     * allocates nothing. The same data serialised differently under the same
     * key is a mismatch (422), never a second execution. */
    GDA_PAYLOAD_HASH_RAW = 0,
    /** SHA-256 of the parsed payload re-serialised compactly with sorted
     * keys, so a retry that a proxy re-serialised (other key order or
     * spacing) still replays. About ten times the cost of RAW. */
    GDA_PAYLOAD_HASH_CANONICAL
} gda_payload_hash_mode;

/** How to build a gda_app; start from gda_app_config_default(). */
typedef struct gda_app_config {
    /** Components. The app takes ownership of each non-NULL one (it frees them
     * in gda_app_free), also when gda_app_new fails. */
    gda_verifier *verifier; /**< NULL: every authenticated path answers 401
                             * (deny by default); trusted direct invocations
                             * still work */
    gda_spec *spec;         /**< NULL: gda_spec_new_reference() */
    gda_store *store;       /**< NULL: a gda_memory_store_new(0) */

    gda_handler_fn handler; /**< required */
    void *handler_user;     /**< borrowed; must outlive the app */

    /** Logging. Copied as by gda_logger_new, except that the names of the
     * spec's pii fields are added to log.pii_fields, so whatever the app or a
     * handler (gda_ctx_logger) logs under those names is masked. */
    gda_log_config log;

    const char *route;    /**< default GDA_APP_DEFAULT_ROUTE (copied); must start
                           * with "/", not end with "/", at most
                           * GDA_APP_ROUTE_MAX bytes of URI path characters */
    gda_limits limits;    /**< body size (413 before parsing) and JSON depth */

    int64_t handler_budget_ms;   /**< deadline when the invoker gives none; default 8000 */
    gda_payload_hash_mode payload_hash; /**< default GDA_PAYLOAD_HASH_RAW */

    /** The exactly-once engine's settings, as gda_idem_config_default()
     * gives them: TTL, lease, in-progress wait and policy, data key or ring,
     * hash key, clock-skew allowance, local cache, and the clock, which the
     * app also reads (zeroed: the system clock). Keys are copied into locked
     * memory by gda_app_new. */
    gda_idem_config idem;

    /** Direct Lambda invocation is authenticated by IAM (only a principal
     * with lambda:InvokeFunction can send it) — but an API Gateway with a
     * non-proxy or passthrough integration also delivers the raw body as a
     * direct event, with no credential checked. So false (default) verifies
     * direct invocations like HTTP (which, having no headers, they fail);
     * true skips header authentication for GDA_EVENT_DIRECT only: set it
     * for a function only Genesys' Lambda data-action integration invokes. */
    bool direct_invocation_trusted;
} gda_app_config;

/** Defaults as documented on each field (handler NULL: set it). */
GDA_API gda_app_config gda_app_config_default(void);

/** Build an app from cfg (read only; the components it names are taken over).
 * Errors: GDA_ERR_CONFIG (handler missing, a bad route, limit, duration,
 * policy or log setting; err->field names it), GDA_ERR_NOMEM,
 * GDA_ERR_INTERNAL (cfg NULL, libsodium cannot start). Returns NULL on error
 * with err filled; the components were freed. */
GDA_API gda_app *gda_app_new(const gda_app_config *cfg, gda_error *err);

/** Free the app and every component it owns. NULL-safe. */
GDA_API void gda_app_free(gda_app *app);

/** Who invoked us, when, and until when. Shims fill what they know; a zeroed
 * struct (or NULL) means "nothing known". */
typedef struct gda_invocation {
    int64_t now_ms;             /**< 0: read the app's clock */
    int64_t deadline_ms;        /**< epoch ms; 0: now + handler_budget_ms */
    const char *aws_request_id; /**< Lambda-Runtime-Aws-Request-Id, or NULL */
    const char *trace_id;       /**< Lambda-Runtime-Trace-Id / X-Amzn-Trace-Id, or NULL */
    /** Called at most once per request, when its credential is refused: a
     * shim that can fetch a newer key ring (gda_lambda_run, from its secrets
     * source) swaps it into the app's verifier (gda_verifier_set_keyring)
     * and returns true, and the credential is checked once more against the
     * new ring — within the same request, which keeps its one log line.
     * NULL: a refusal is final. */
    bool (*refresh_keyring)(void *user);
    void *refresh_user;         /**< passed to refresh_keyring */
} gda_invocation;

/** Run the pipeline for one request and fill *resp, which must be zeroed or
 * hold an earlier response (it is released first); the caller releases it
 * with gda_http_response_release. req and inv are only read. Never fails:
 * every problem becomes the documented HTTP response (the table in
 * docs/response-contract.md); store failures are 503 with requiresRetry true and nothing
 * executed. Writes one log line and one metrics line per call.
 * Returns the gda_status the response carries (resp->code); GDA_ERR_INTERNAL
 * with resp left empty only when app, req or resp is NULL or even an error
 * body could not be allocated. */
GDA_API gda_status gda_app_handle(gda_app *app, const gda_http_request *req,
                                  const gda_invocation *inv, gda_http_response *resp);

/** Answer a request the shim refuses before the pipeline can run it — a body
 * over the limit while it streams in, a request that arrives while the
 * server drains, a header the transport cannot pass on — exactly as the
 * pipeline answers its own refusals: the same error body and headers
 * (Cache-Control: no-store), and the one log line and metrics line of the
 * request, with outcome "none". So a shim never builds or logs an answer
 * itself. req needs only method and path (no body or headers); inv is read
 * as by gda_app_handle (its now_ms is when the request started, for the
 * logged execution time). why->code must be an error code (4xx or 5xx);
 * why->field and why->message reach the caller and the log line (no PII:
 * they are the line's errorField and errorMessage). Fills *resp as gda_app_handle
 * does and returns why->code; GDA_ERR_INTERNAL with resp left empty when
 * app, req, why or resp is NULL or why->code is no error. */
GDA_API gda_status gda_app_refuse(gda_app *app, const gda_http_request *req,
                                  const gda_invocation *inv, const gda_error *why,
                                  gda_http_response *resp);

/** Finish a request the handler answered with GDA_ACCEPTED. token is the text
 * gda_ctx_completion_token gave the handler (copy it: it is only valid during
 * the handler call; it may be finished from any thread or process sharing
 * the store). Exactly one of:
 *   data (borrowed) a JSON object: the final result, cached as the 200 body;
 *   error: a non-retryable (4xx) final error, cached as its error body.
 * Polls and retries then return that result byte-for-byte.
 * Repeating a finish that already applied, with the same data (or the same
 * error code), is GDA_OK.
 * Errors: GDA_ERR_INVALID_REQUEST (token malformed), GDA_ERR_INTERNAL (app
 * NULL, both or neither of data/error, data not an object, error retryable
 * or not an error code), GDA_ERR_LEASE_LOST (nothing written: the record was
 * finished with another result, taken over, or has expired — a late finish
 * never revives it), GDA_ERR_RESULT_TOO_LARGE (the result is over the
 * store's limit; the request was finished with the cached error
 * result_too_large instead, so polls end), GDA_ERR_STORE / GDA_ERR_TIMEOUT
 * (store failure, the outcome is unknown; repeat the call), GDA_ERR_NOMEM. */
GDA_API gda_status gda_app_finish(gda_app *app, const char *token, const json_t *data,
                                  const gda_error *error, gda_error *err);

/** The logger the app writes to (borrowed, lives as long as the app), for
 * shims that log start-up and shutdown. */
GDA_API gda_logger *gda_app_logger(gda_app *app);

/** The app's verifier (borrowed, lives as long as the app; NULL when none is
 * configured). A shim may rotate its key ring with gda_verifier_set_keyring
 * while other threads serve requests; it must not free it. */
GDA_API gda_verifier *gda_app_verifier(gda_app *app);

/** The app's route (borrowed). */
GDA_API const char *gda_app_route(const gda_app *app);

/** The body limit the app enforces (bytes), so a shim can refuse an oversized
 * upload while it streams in instead of buffering it first. 0 for NULL. */
GDA_API size_t gda_app_max_body(const gda_app *app);

/* What a handler may read about the request being served. All strings are
 * borrowed for the duration of the handler call and never NULL for a ctx the
 * pipeline passed ("" when unknown). A NULL ctx gives 0, "" or NULL. */

/** The app clock's time when the handler was called (epoch ms). */
GDA_API int64_t gda_ctx_now_ms(const gda_ctx *ctx);
/** The invocation deadline (epoch ms): the invoker's, or now + handler_budget_ms. */
GDA_API int64_t gda_ctx_deadline_ms(const gda_ctx *ctx);
/** Deadline minus the app clock's current time (never negative). */
GDA_API int64_t gda_ctx_remaining_ms(const gda_ctx *ctx);
/** The idempotency key (the Genesys requestId with the reference spec). */
GDA_API const char *gda_ctx_request_id(const gda_ctx *ctx);
/** The body's "interactionId" (the Genesys conversation), "" when absent. */
GDA_API const char *gda_ctx_interaction_id(const gda_ctx *ctx);
/** The Lambda invocation id from gda_invocation, "" when none. */
GDA_API const char *gda_ctx_aws_request_id(const gda_ctx *ctx);
/** The X-Ray trace id from gda_invocation, "" when none. */
GDA_API const char *gda_ctx_trace_id(const gda_ctx *ctx);
/** The authenticated principal (verify.h), "" for a trusted direct invocation. */
GDA_API const char *gda_ctx_principal(const gda_ctx *ctx);
/** The app's logger (borrowed), which masks the spec's pii fields. */
GDA_API gda_logger *gda_ctx_logger(const gda_ctx *ctx);
/** Log fields of this request (requestId, interactionId, awsRequestId,
 * traceId), for a handler's own gda_log calls. Borrowed like the strings. */
GDA_API const gda_log_fields *gda_ctx_log_fields(const gda_ctx *ctx);

/** Longest completion token, including its NUL. */
#define GDA_COMPLETION_TOKEN_SIZE                                                                 \
    (5 + 2 * GDA_PAYLOAD_HASH_LEN + 2 * GDA_PRINCIPAL_DIGEST_LEN + GDA_OWNER_TOKEN_SIZE +         \
     GDA_KEY_MAX)

/** Accept the request for long-running work (two-phase; see the top of this
 * file): store the record as ACCEPTED with its 202 body, durably, then set
 * *token to the completion token for gda_app_finish (key, payload hash,
 * principal and owner; it holds the execution's fencing secret: do not log
 * it; borrowed, valid during the handler call: copy it). Start the job only
 * after this returned GDA_OK; then return GDA_ACCEPTED. Calling it again
 * gives the same token. Errors (start nothing, and return a retryable error
 * such as GDA_ERR_UNAVAILABLE so the lease is released and Genesys retries):
 * GDA_ERR_STORE / GDA_ERR_TIMEOUT (the store failed), GDA_ERR_LEASE_LOST (the
 * lease was taken over meanwhile), GDA_ERR_NOMEM; GDA_ERR_INTERNAL when ctx
 * or token is NULL or ctx is not a handler's. */
GDA_API gda_status gda_ctx_accept(const gda_ctx *ctx, const char **token, gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_APP_H */
