/* libgda — the whole Data Action pipeline in one call.
 *
 * A gda_app is configured once (per process or Lambda container) with a
 * verifier, a field spec, an idempotency store, limits, a logger and YOUR
 * handler; then every request goes through gda_app_handle():
 *
 *   size check → content type → authenticate → map and validate →
 *   idempotency begin → handler → response → complete/abort →
 *   one log line + metrics
 *
 * Both shims (gda-httpd and the Lambda bootstrap) call this and nothing else
 * of the pipeline, so a request gets the same answer whichever door it used.
 *
 * Routes: POST {route} runs the pipeline; GET {route}/{requestId} answers a
 * two-phase poll from the store; anything else is 404/405. A direct Lambda
 * invocation (GDA_EVENT_DIRECT) is POST {route}.
 *
 * Thread safety: after gda_app_new returns, one gda_app may serve any number
 * of threads at once; gda_app_free must not race with gda_app_handle.
 */
#ifndef GDA_APP_H
#define GDA_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <gda/event.h>
#include <gda/export.h>
#include <gda/status.h>
#include <gda/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gda_app gda_app;
typedef struct gda_ctx gda_ctx;
typedef struct gda_request gda_request;   /* request.h */
typedef struct gda_spec gda_spec;         /* request.h */
typedef struct gda_verifier gda_verifier; /* verify.h */
typedef struct gda_logger gda_logger;     /* log.h */

/* Your business logic. Called at most once per idempotency key (per TTL),
 * after authentication and validation succeeded.
 *   return GDA_OK with *data_out = a new JSON object → 200, cached, replayed;
 *   return GDA_ACCEPTED (work continues elsewhere; see gda_ctx_completion_token
 *          and gda_app_finish) → 202 with a poll URL;
 *   return a 4xx code (e.g. GDA_ERR_UNPROCESSABLE) with err filled → that
 *          error, cached like a success (Genesys does not retry 4xx);
 *   return a 5xx code (e.g. GDA_ERR_UNAVAILABLE) → that error, the lease is
 *          released so Genesys' retry runs the handler again.
 * *data_out is owned by the caller after return (the pipeline decrefs it). */
typedef gda_status (*gda_handler_fn)(const gda_request *req, const gda_ctx *ctx,
                                     json_t **data_out, gda_error *err, void *user);

/* Clock hook: wall clock in epoch milliseconds. */
typedef int64_t (*gda_clock_fn)(void *user);

typedef struct gda_app_config {
    /* Components. The app takes ownership of each non-NULL one (it frees them
     * in gda_app_free), also when gda_app_new fails. */
    gda_verifier *verifier; /* NULL: every request is refused (deny by default) */
    gda_spec *spec;         /* NULL: the reference Genesys contract */
    gda_store *store;       /* NULL: an in-process memory store */
    gda_logger *logger;     /* NULL: JSON lines on stdout at level info */

    gda_handler_fn handler; /* required */
    void *handler_user;

    const char *route;      /* default "/genesys/dataaction" (copied) */
    size_t max_body;        /* default 256 KiB; larger is 413 before parsing */
    int max_depth;          /* default 50 */

    int64_t ttl_s;               /* cached results live this long; default 3600 */
    int64_t max_lease_ms;        /* lease cap; default 30000, never past the deadline */
    int64_t handler_budget_ms;   /* deadline when the invoker gives none; default 8000 */
    int64_t in_progress_wait_ms; /* wait for a running twin before answering; default 1000 */
    bool in_progress_retry;      /* false: 409 requiresRetry false; true: 503 retry */
    const uint8_t *data_key;     /* 32 bytes: encrypt cached bodies (copied); NULL: off */
    size_t local_cache_entries;  /* LRU of completed records in front of the store; 0: off */

    /* Direct Lambda invocation is already authenticated by IAM (only a
     * principal with lambda:InvokeFunction can send it). true (default) skips
     * header authentication for GDA_EVENT_DIRECT; false verifies it like HTTP. */
    bool direct_invocation_trusted;

    gda_clock_fn clock;     /* NULL: the system clock */
    void *clock_user;
} gda_app_config;

/* Defaults as documented on each field (handler NULL: set it). */
GDA_API gda_app_config gda_app_config_default(void);

/* Build an app. Errors: GDA_ERR_CONFIG (naming the bad setting), GDA_ERR_NOMEM.
 * Returns NULL on error with err filled; the components were freed. */
GDA_API gda_app *gda_app_new(const gda_app_config *cfg, gda_error *err);

/* Free the app and every component it owns. NULL-safe. */
GDA_API void gda_app_free(gda_app *app);

/* Who invoked us, when, and until when. Shims fill what they know. */
typedef struct gda_invocation {
    int64_t now_ms;             /* 0: read the app's clock */
    int64_t deadline_ms;        /* epoch ms; 0: now + handler_budget_ms */
    const char *aws_request_id; /* Lambda-Runtime-Aws-Request-Id, or NULL */
    const char *trace_id;       /* Lambda-Runtime-Trace-Id / X-Amzn-Trace-Id, or NULL */
} gda_invocation;

/* Run the pipeline for one request and fill *resp (which the caller releases
 * with gda_http_response_release). Never fails: every problem becomes the
 * documented HTTP response (see DOMAIN.md's bad-input table). inv may be NULL.
 * Returns the gda_status the response carries (resp->code). */
GDA_API gda_status gda_app_handle(gda_app *app, const gda_http_request *req,
                                  const gda_invocation *inv, gda_http_response *resp);

/* Finish a request the handler answered with GDA_ACCEPTED: token is what
 * gda_ctx_completion_token gave the handler; data (borrowed) is the final
 * result object, or NULL with error set for a final error. Fenced by the
 * owner token: GDA_ERR_IN_PROGRESS when the token is stale, GDA_ERR_STORE. */
GDA_API gda_status gda_app_finish(gda_app *app, const char *token, const json_t *data,
                                  const gda_error *error, gda_error *err);

/* The logger the app writes to (borrowed), for shims that log start-up. */
GDA_API gda_logger *gda_app_logger(gda_app *app);

/* What a handler may read about the request being served. All strings are
 * borrowed for the duration of the handler call; NULL when unknown. */
GDA_API int64_t gda_ctx_now_ms(const gda_ctx *ctx);
GDA_API int64_t gda_ctx_deadline_ms(const gda_ctx *ctx);
GDA_API int64_t gda_ctx_remaining_ms(const gda_ctx *ctx);
GDA_API const char *gda_ctx_request_id(const gda_ctx *ctx);     /* the idempotency key */
GDA_API const char *gda_ctx_interaction_id(const gda_ctx *ctx);
GDA_API const char *gda_ctx_aws_request_id(const gda_ctx *ctx);
GDA_API const char *gda_ctx_trace_id(const gda_ctx *ctx);
GDA_API gda_logger *gda_ctx_logger(const gda_ctx *ctx);
/* Opaque token naming this execution (key + owner), valid for
 * gda_app_finish after the handler returned GDA_ACCEPTED. */
GDA_API const char *gda_ctx_completion_token(const gda_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* GDA_APP_H */
