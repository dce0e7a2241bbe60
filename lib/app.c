/* libgda — the pipeline: route, envelope, authenticate, parse, idempotency,
 * handler, response, complete/abort, log and metrics (see include/gda/app.h). */
#include <gda/init.h>
#include <gda/app.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <gda/response.h>

#include "log_internal.h"
#include "response_internal.h"
#include "clock.h"
#include "request_internal.h"
#include "hex.h"
#include "percent.h"

struct gda_app {
    gda_verifier *verifier;
    gda_spec *spec;
    gda_store *store;
    gda_idem *idem;
    gda_logger *logger;
    gda_handler_fn handler;
    void *handler_user;
    char route[GDA_APP_ROUTE_MAX + 1];
    size_t route_len;
    gda_limits limits;
    int64_t handler_budget_ms;
    bool direct_trusted;
    gda_payload_hash_mode payload_hash;
    gda_clock clock;
};

typedef struct run run;

struct gda_ctx {
    gda_app *app;
    run *run; /* the request being served: gda_ctx_accept writes to it */
    const gda_idem_lease *lease;
    int64_t now_ms;
    int64_t deadline_ms;
    const char *principal;
    gda_log_fields fields;
};

#define TOKEN_PREFIX "gda2."
#define TOKEN_PREFIX_LEN 5
#define OWNER_HEX_LEN (GDA_OWNER_TOKEN_SIZE - 1)
#define HASH_HEX_LEN (2 * GDA_PAYLOAD_HASH_LEN)
#define PRINCIPAL_HEX_LEN (2 * GDA_PRINCIPAL_DIGEST_LEN)

/* Every key's poll URL fits a header: a 202 can then always be answered, so
 * the check cannot fail after a handler started a job. */
_Static_assert(GDA_APP_ROUTE_MAX + 1 + 3 * GDA_KEY_MAX < GDA_RESPONSE_HEADER_VALUE_SIZE,
               "the longest poll URL must fit a response header");

/* ---- configuration ------------------------------------------------------ */

gda_app_config gda_app_config_default(void)
{
    return (gda_app_config){
        .log = gda_log_config_default(),
        .route = GDA_APP_DEFAULT_ROUTE,
        .limits = gda_limits_default(),
        .handler_budget_ms = GDA_APP_DEFAULT_HANDLER_BUDGET_MS,
        .idem = gda_idem_config_default(),
        .direct_invocation_trusted = false, /* deny by default: see app.h */
    };
}

/* RFC 3986 pchar minus '%' (routes are written decoded) plus '/'. */
static bool route_char_ok(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

static gda_status check_route(const char *route, gda_error *err)
{
    size_t n = strlen(route);
    if (n < 2 || n > GDA_APP_ROUTE_MAX || route[0] != '/' || route[n - 1] == '/')
        return gda_error_set(err, GDA_ERR_CONFIG, "route",
                             "route must start with '/', not end with '/' and hold 2 to %d bytes",
                             GDA_APP_ROUTE_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!route_char_ok(route[i]) || (route[i] == '/' && route[i + 1] == '/'))
            return gda_error_set(err, GDA_ERR_CONFIG, "route",
                                 "route holds a character not allowed in a URI path");
    }
    return GDA_OK;
}

static gda_status check_config(const gda_app_config *cfg, gda_error *err)
{
    if (!cfg->handler)
        return gda_error_set(err, GDA_ERR_CONFIG, "handler", "a handler is required");
    gda_status st = check_route(cfg->route ? cfg->route : GDA_APP_DEFAULT_ROUTE, err);
    if (st != GDA_OK)
        return st;
    if (cfg->limits.max_depth < 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "max_depth", "max_depth must not be negative");
    if (cfg->handler_budget_ms <= 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "handler_budget_ms",
                             "handler_budget_ms must be positive");
    if (cfg->payload_hash != GDA_PAYLOAD_HASH_RAW && cfg->payload_hash != GDA_PAYLOAD_HASH_CANONICAL)
        return gda_error_set(err, GDA_ERR_CONFIG, "payload_hash", "unknown payload hash mode");
    return GDA_OK;
}

/* The log configuration with the spec's pii field names added, so that the
 * request's input and whatever a handler logs under those names is masked. */
static gda_logger *build_logger(const gda_log_config *base, const gda_spec *spec,
                                gda_error *err)
{
    if (base->pii_field_count && !base->pii_fields) {
        gda_error_set(err, GDA_ERR_CONFIG, "pii_fields", "pii_fields NULL with a count");
        return NULL;
    }
    size_t n_spec = gda_spec_count(spec);
    if (base->pii_field_count > SIZE_MAX / sizeof(char *) - n_spec) {
        gda_error_set(err, GDA_ERR_CONFIG, "pii_fields", "too many pii fields");
        return NULL;
    }
    size_t cap = base->pii_field_count + n_spec;
    const char **names = calloc(cap ? cap : 1, sizeof *names);
    if (!names) {
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < base->pii_field_count; i++)
        names[n++] = base->pii_fields[i];
    for (size_t i = 0; i < n_spec; i++) {
        const gda_field *f = gda_spec_field_at(spec, i);
        if (f && f->pii)
            names[n++] = f->name;
    }
    gda_log_config cfg = *base;
    cfg.pii_fields = names;
    cfg.pii_field_count = n;
    gda_logger *lg = gda_logger_new(&cfg, err);
    free(names);
    return lg;
}

gda_app *gda_app_new(const gda_app_config *cfg, gda_error *err)
{
    if (!cfg) {
        gda_error_set(err, GDA_ERR_INTERNAL, NULL, "gda_app_new: no configuration");
        return NULL;
    }
    gda_app *app = calloc(1, sizeof *app);
    if (!app) {
        gda_verifier_free(cfg->verifier);
        gda_spec_free(cfg->spec);
        gda_store_close(cfg->store);
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    /* Take the components first so every failure below frees them once. */
    app->verifier = cfg->verifier;
    app->spec = cfg->spec;
    app->store = cfg->store;

    gda_status st = check_config(cfg, err);
    if (st != GDA_OK)
        goto fail;
    if (gda_init(err) != GDA_OK)
        goto fail;
    if (!app->spec && !(app->spec = gda_spec_new_reference())) {
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    if (!app->store && !(app->store = gda_memory_store_new(0, err)))
        goto fail;

    if (!(app->idem = gda_idem_new(app->store, &cfg->idem, err)))
        goto fail;
    if (!(app->logger = build_logger(&cfg->log, app->spec, err)))
        goto fail;

    const char *route = cfg->route ? cfg->route : GDA_APP_DEFAULT_ROUTE;
    app->route_len = strlen(route);
    memcpy(app->route, route, app->route_len + 1);
    app->handler = cfg->handler;
    app->handler_user = cfg->handler_user;
    app->limits = cfg->limits;
    app->handler_budget_ms = cfg->handler_budget_ms;
    app->direct_trusted = cfg->direct_invocation_trusted;
    app->payload_hash = cfg->payload_hash;
    app->clock = cfg->idem.clock;
    return app;

fail:
    gda_app_free(app);
    return NULL;
}

void gda_app_free(gda_app *app)
{
    if (!app)
        return;
    gda_idem_free(app->idem);
    gda_store_close(app->store);
    gda_verifier_free(app->verifier);
    gda_spec_free(app->spec);
    gda_logger_free(app->logger);
    free(app);
}

gda_logger *gda_app_logger(gda_app *app) { return app ? app->logger : NULL; }

const char *gda_app_route(const gda_app *app) { return app ? app->route : NULL; }

gda_verifier *gda_app_verifier(gda_app *app) { return app ? app->verifier : NULL; }

size_t gda_app_max_body(const gda_app *app)
{
    if (!app)
        return 0;
    /* 0 in a gda_limits means "the default", as in gda_request_parse. */
    return app->limits.max_body ? app->limits.max_body : GDA_DEFAULT_MAX_BODY;
}

/* ---- completion tokens ---------------------------------------------------- */

/* "gda2." + owner (32 hex) + payload hash (64 hex) + principal digest (64
 * hex) + key: fixed-width fields first, so the key may hold any character. */
static void token_make(const gda_idem_lease *lease, char out[GDA_COMPLETION_TOKEN_SIZE])
{
    size_t key_len = strnlen(lease->key, GDA_KEY_MAX);
    memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
    memcpy(out + TOKEN_PREFIX_LEN, lease->owner, OWNER_HEX_LEN);
    gda_hex_encode(lease->payload_hash, GDA_PAYLOAD_HASH_LEN,
                   out + TOKEN_PREFIX_LEN + OWNER_HEX_LEN, GDA_HEX_LOWER);
    gda_hex_encode(lease->principal, GDA_PRINCIPAL_DIGEST_LEN,
                   out + TOKEN_PREFIX_LEN + OWNER_HEX_LEN + HASH_HEX_LEN, GDA_HEX_LOWER);
    char *key_at = out + TOKEN_PREFIX_LEN + OWNER_HEX_LEN + HASH_HEX_LEN + PRINCIPAL_HEX_LEN;
    memcpy(key_at, lease->key, key_len);
    key_at[key_len] = '\0';
}

static gda_status token_parse(const char *token, gda_idem_lease *lease, gda_error *err)
{
    memset(lease, 0, sizeof *lease);
    const size_t fixed = TOKEN_PREFIX_LEN + OWNER_HEX_LEN + HASH_HEX_LEN + PRINCIPAL_HEX_LEN;
    size_t n = strnlen(token, GDA_COMPLETION_TOKEN_SIZE);
    if (n <= fixed || n >= GDA_COMPLETION_TOKEN_SIZE || memcmp(token, TOKEN_PREFIX, TOKEN_PREFIX_LEN))
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "token", "malformed completion token");
    const char *owner = token + TOKEN_PREFIX_LEN;
    for (size_t i = 0; i < OWNER_HEX_LEN; i++) {
        /* Owner tokens are lowercase hex (store.h). */
        if (gda_hex_value(owner[i]) < 0 || (owner[i] >= 'A' && owner[i] <= 'F'))
            return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "token",
                                 "malformed completion token");
    }
    const char *hash = owner + OWNER_HEX_LEN;
    if (!gda_hex_decode(hash, GDA_PAYLOAD_HASH_LEN, lease->payload_hash) ||
        !gda_hex_decode(hash + HASH_HEX_LEN, GDA_PRINCIPAL_DIGEST_LEN, lease->principal))
        return gda_error_set(err, GDA_ERR_INVALID_REQUEST, "token", "malformed completion token");
    memcpy(lease->owner, owner, OWNER_HEX_LEN);
    lease->owner[OWNER_HEX_LEN] = '\0';
    memcpy(lease->key, token + fixed, n - fixed);
    lease->key[n - fixed] = '\0';
    return GDA_OK;
}

/* ---- small helpers -------------------------------------------------------- */

static bool slice_is(gda_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

/* {route}/{percent-encoded key}; false when it does not fit out. */
static bool poll_url(const gda_app *app, const char *key, char *out, size_t out_size)
{
    size_t key_len = strlen(key);
    if (app->route_len + 1 + gda_pct_encoded_len(key, key_len) >= out_size)
        return false;
    memcpy(out, app->route, app->route_len);
    out[app->route_len] = '/';
    *gda_pct_encode(key, key_len, out + app->route_len + 1) = '\0';
    return true;
}

/* Percent-decode one path segment into out (GDA_KEY_MAX + 1 bytes): a raw
 * '/', a bad escape, a decoded NUL, an empty or over-long key fail. */
static bool decode_segment(const char *s, size_t n, char *out)
{
    size_t o = 0;
    if (memchr(s, '/', n) || !gda_pct_decode(s, n, GDA_PCT_STRICT, out, GDA_KEY_MAX, &o) ||
        o == 0 || memchr(out, '\0', o))
        return false;
    out[o] = '\0';
    return true;
}

/* ---- one request ------------------------------------------------------------ */

struct run {
    gda_app *app;
    const gda_http_request *http;
    gda_http_response *resp;
    int64_t start_ms;
    int64_t start_mono_ns; /* 0 when the app runs on an injected clock */
    int64_t deadline_ms;
    gda_log_fields fields;
    bool store_error;
    const char *method;   /* for the log: "POST", "GET", or the kind for direct */
    char detail[GDA_ERROR_MESSAGE_SIZE]; /* internal detail for the log only */
    gda_request *req;     /* after parsing */
    gda_auth_result auth;
    uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN]; /* digest of who was authenticated */
    char poll_key[GDA_KEY_MAX + 1]; /* GET: the decoded requestId */
    bool accepted;                  /* gda_ctx_accept made the 202 durable */
    bool refused;                   /* answered by gda_app_refuse for the shim */
    const gda_invocation *inv;      /* the shim's, or NULL */
    char token[GDA_COMPLETION_TOKEN_SIZE]; /* its completion token */
    /* What the error response built here told the caller, for the log;
     * code GDA_OK when the answer is not such a response (a replay). */
    gda_error sent;
};

static int64_t app_now(const gda_app *app) { return gda_clock_read(&app->clock); }

static void note_detail(run *r, const gda_error *e)
{
    if (e && e->message[0])
        snprintf(r->detail, sizeof r->detail, "%s", e->message);
}

/* Build the error response for e (whose code decides the status). Falls back
 * to a bare 500 when even that cannot be built (out of memory). */
static gda_status respond_error(run *r, const gda_error *e, int retry_after_s)
{
    gda_error berr;
    const char *rid = r->fields.request_id;
    if (e && gda_response_error_sent(e, &r->sent) &&
        gda_response_error_of_sent(r->resp, &r->sent, rid, retry_after_s, &berr) == GDA_OK)
        return r->resp->code;
    gda_error internal;
    gda_error_set(&internal, GDA_ERR_INTERNAL, NULL, "internal error");
    if (gda_response_error_sent(&internal, &r->sent) &&
        gda_response_error_of_sent(r->resp, &r->sent, NULL, 0, &berr) == GDA_OK)
        return r->resp->code;
    gda_error_clear(&r->sent);
    return GDA_ERR_INTERNAL;
}

static gda_status respond_code(run *r, gda_status code, const char *field, const char *message)
{
    gda_error e;
    gda_error_set(&e, code, field, "%s", message ? message : "");
    return respond_error(r, &e, 0);
}

/* Answer with a stored result, byte for byte. What it tells the caller is
 * known only from its body, which the log reads. */
static gda_status respond_replay(run *r, int http_status, const void *body, size_t body_len)
{
    gda_error re;
    gda_error_clear(&r->sent);
    if (gda_response_replay(r->resp, http_status, body, body_len, 0, &re) == GDA_OK)
        return r->resp->code;
    note_detail(r, &re);
    return respond_code(r, GDA_ERR_INTERNAL, NULL, NULL);
}

/* Authenticate r->http; GDA_OK or a 401/500 response already built. */
static gda_status authenticate(run *r, bool may_trust_direct)
{
    gda_app *app = r->app;
    if (may_trust_direct && r->http->kind == GDA_EVENT_DIRECT && app->direct_trusted) {
        /* The trusted door is one principal of its own: no verified caller
         * has an empty name. */
        r->auth.reason = GDA_AUTH_ACCEPTED;
        gda_idem_principal_digest(app->idem, "", "", r->principal);
        return GDA_OK;
    }
    if (!app->verifier) {
        /* Deny by default: no verifier configured is never an open door. */
        r->fields.auth_failure = "unconfigured";
        return respond_code(r, GDA_ERR_UNAUTHORIZED, NULL, NULL);
    }
    gda_error e;
    gda_error_clear(&e);
    gda_status st = gda_verifier_verify(app->verifier, r->http, r->start_ms, &r->auth, &e);
    if (st == GDA_ERR_UNAUTHORIZED && r->inv && r->inv->refresh_keyring &&
        r->inv->refresh_keyring(r->inv->refresh_user)) {
        /* A newer ring is in: the caller may hold a key only it knows. */
        gda_error_clear(&e);
        st = gda_verifier_verify(app->verifier, r->http, r->start_ms, &r->auth, &e);
    }
    if (st == GDA_OK) {
        if (r->auth.key_id[0])
            r->fields.key_id = r->auth.key_id;
        /* The caller named in the ring, and for JWTs the subject within it:
         * never the key id, so rotating k1 to k2 keeps the results. */
        gda_idem_principal_digest(app->idem, r->auth.caller,
                                  r->auth.scheme == GDA_AUTH_JWT ? r->auth.principal : "",
                                  r->principal);
        return GDA_OK;
    }
    if (st == GDA_ERR_UNAUTHORIZED) {
        r->fields.auth_failure = gda_auth_reason_str(r->auth.reason);
        if (r->auth.key_id[0])
            r->fields.key_id = r->auth.key_id;
        return respond_code(r, GDA_ERR_UNAUTHORIZED, NULL, NULL);
    }
    note_detail(r, &e);
    return respond_error(r, &e, 0);
}

static int retry_after_s(int64_t ms)
{
    if (ms <= 0)
        return 0;
    int64_t s = (ms + 999) / 1000;
    return s > INT_MAX ? INT_MAX : (int)s;
}

/* Answer a begin/lookup failure that is the store's fault: 503, retry. */
static gda_status respond_store_failure(run *r, const gda_error *e)
{
    r->store_error = true;
    note_detail(r, e);
    return respond_code(r, GDA_ERR_STORE, NULL, NULL);
}

static bool is_store_failure(gda_status st)
{
    return st == GDA_ERR_STORE || st == GDA_ERR_TIMEOUT || st == GDA_ERR_UNAVAILABLE;
}

/* A gda_status value the handler may legitimately return as an error. */
static bool is_error_code(gda_status code)
{
    return code != GDA_OK && code != GDA_ACCEPTED && gda_status_known(code);
}

/* Final results the engine caches (idempotency.h): 2xx but 202, and 4xx but
 * the ones that invite a retry. */
static bool cacheable(int status)
{
    if (status >= 200 && status <= 299)
        return status != 202;
    if (status >= 400 && status <= 499)
        return status != 408 && status != 425 && status != 429;
    return false;
}

static void release_lease(run *r, const gda_idem_lease *lease)
{
    gda_error e;
    if (gda_idem_abort(r->app->idem, lease, NULL, &e) != GDA_OK) {
        /* The lease then simply runs out; the retry waits for it. */
        r->store_error = true;
        note_detail(r, &e);
    }
}

/* The final result could not be cached (over the store's size limit):
 * answer and cache a small non-retryable error instead, so that the first
 * caller and every retry get the same answer and nothing runs twice. */
static gda_status cache_too_large(run *r, const gda_idem_lease *lease, const gda_error *why)
{
    note_detail(r, why);
    gda_error e;
    gda_error_set(&e, GDA_ERR_RESULT_TOO_LARGE, NULL,
                  "the result is larger than the idempotency store can keep");
    respond_error(r, &e, 0);
    if (gda_idem_complete(r->app->idem, lease, r->resp->status, r->resp->body,
                          r->resp->body_len, &e) != GDA_OK) {
        r->store_error = true;
        note_detail(r, &e);
    }
    return r->resp->code;
}

/* Turn what the handler returned into the response, then complete or abort. */
static gda_status finish_execution(run *r, const gda_idem_lease *lease, gda_status hst,
                                   json_t *data, gda_error *herr)
{
    gda_app *app = r->app;
    gda_error e;
    gda_error_clear(&e);
    if (r->accepted) {
        /* gda_ctx_accept made the 202 durable and the job owns the record
         * now: whatever the handler returns, the caller gets that 202. */
        if (hst != GDA_ACCEPTED)
            snprintf(r->detail, sizeof r->detail,
                     "handler returned %s after gda_ctx_accept; answered 202",
                     gda_status_str(hst));
        return r->resp->code;
    }
    if (hst == GDA_ACCEPTED) {
        snprintf(r->detail, sizeof r->detail,
                 "handler returned GDA_ACCEPTED without a successful gda_ctx_accept");
        release_lease(r, lease);
        return respond_code(r, GDA_ERR_INTERNAL, NULL, NULL);
    }

    if (hst == GDA_OK) {
        if (!json_is_object(data)) {
            snprintf(r->detail, sizeof r->detail, "handler returned %s",
                     data ? "a non-object as data" : "no data");
            release_lease(r, lease);
            return respond_code(r, GDA_ERR_INTERNAL, NULL, NULL);
        }
        if (gda_response_completed(r->resp, data, lease->key, app_now(app), &e) != GDA_OK) {
            note_detail(r, &e);
            release_lease(r, lease);
            return respond_code(r, GDA_ERR_INTERNAL, NULL, NULL);
        }
    } else if (!is_error_code(hst)) {
        snprintf(r->detail, sizeof r->detail, "handler returned an unknown status %d", (int)hst);
        release_lease(r, lease);
        return respond_code(r, GDA_ERR_INTERNAL, NULL, NULL);
    } else {
        /* The returned code wins over whatever the handler left in err. */
        herr->code = hst;
        note_detail(r, herr);
        respond_error(r, herr, 0);
    }

    if (!cacheable(r->resp->status)) {
        release_lease(r, lease);
        return r->resp->code;
    }
    gda_status cst =
        gda_idem_complete(app->idem, lease, r->resp->status, r->resp->body, r->resp->body_len, &e);
    if (cst == GDA_ERR_RESULT_TOO_LARGE)
        return cache_too_large(r, lease, &e);
    if (cst == GDA_ERR_LEASE_LOST) {
        /* The handler overran its lease and a retry took the key over: the
         * one case where a handler runs twice. Logged and counted. */
        r->fields.lease_lost = true;
        note_detail(r, &e);
    } else if (cst != GDA_OK) {
        /* The result exists and is sent; only its caching failed (the store
         * down past its retries), so a retry after the lease runs out may
         * execute again. Say so in the log. */
        r->store_error = true;
        note_detail(r, &e);
    }
    return r->resp->code;
}

static gda_status run_handler(run *r, const gda_idem_lease *lease)
{
    gda_app *app = r->app;
    gda_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.app = app;
    ctx.run = r;
    ctx.lease = lease;
    ctx.now_ms = app_now(app);
    ctx.deadline_ms = r->deadline_ms;
    ctx.principal = r->auth.principal;
    ctx.fields.request_id = r->fields.request_id;
    ctx.fields.interaction_id = r->fields.interaction_id ? r->fields.interaction_id : "";
    ctx.fields.aws_request_id = r->fields.aws_request_id ? r->fields.aws_request_id : "";
    ctx.fields.trace_id = r->fields.trace_id ? r->fields.trace_id : "";

    json_t *data = NULL;
    gda_error herr;
    gda_error_clear(&herr);
    gda_status hst = app->handler(r->req, &ctx, &data, &herr, app->handler_user);
    sodium_memzero(r->token, sizeof r->token);
    gda_status st = finish_execution(r, lease, hst, data, &herr);
    json_decref(data);
    return st;
}

/* POST {route} and direct invocations. */
static gda_status invoke(run *r)
{
    gda_app *app = r->app;
    gda_error e;
    gda_error_clear(&e);
    r->fields.outcome = GDA_LOG_OUTCOME_NONE;

    /* 413/415 first: nothing is parsed or verified for a body refused anyway. */
    gda_envelope envelope;
    if (gda_request_check_envelope(r->http, &app->limits, &envelope, &e) != GDA_OK)
        return respond_error(r, &e, 0);
    gda_status st = authenticate(r, true);
    if (st != GDA_OK)
        return st;
    if (gda_request_parse_enveloped(app->spec, r->http, &envelope, &r->req, &e) != GDA_OK)
        return respond_error(r, &e, 0);
    r->fields.request_id = gda_request_idempotency_key(r->req);
    r->fields.interaction_id = gda_request_string(r->req, "interactionId");

    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    if (app->payload_hash == GDA_PAYLOAD_HASH_RAW) {
        gda_idem_payload_hash_bytes(app->idem, r->http->body.ptr, r->http->body.len, hash);
    } else if (gda_idem_payload_hash(app->idem, gda_request_json(r->req), hash, &e) != GDA_OK) {
        note_detail(r, &e);
        return respond_error(r, &e, 0);
    }
    if (r->start_ms >= r->deadline_ms) {
        /* The invoker has already given up: nothing runs, a retry may. */
        return respond_code(r, GDA_ERR_TIMEOUT, NULL, NULL);
    }
    gda_idem_outcome outcome = 0;
    gda_idem_lease lease;
    gda_idem_result replay = {0};
    st = gda_idem_begin(app->idem, r->fields.request_id, hash, r->principal, r->deadline_ms,
                        &outcome, &lease, &replay, &e);
    if (st == GDA_OK && outcome == GDA_IDEM_NEW) {
        r->fields.outcome = GDA_LOG_OUTCOME_NEW;
        r->fields.data_key_missing = lease.replaced_unreadable;
        st = run_handler(r, &lease);
        sodium_memzero(&lease, sizeof lease);
        return st;
    }
    if (st == GDA_OK && outcome == GDA_IDEM_REPLAY) {
        r->fields.outcome = GDA_LOG_OUTCOME_REPLAY;
        st = respond_replay(r, replay.status_code, replay.body, replay.body_len);
        gda_idem_result_clear(&replay);
        return st;
    }
    int retry_after = retry_after_s(replay.retry_after_ms);
    gda_idem_result_clear(&replay);
    if (st == GDA_ERR_PAYLOAD_MISMATCH) {
        r->fields.outcome = GDA_LOG_OUTCOME_MISMATCH;
        return respond_error(r, &e, 0);
    }
    if (st == GDA_ERR_KEY_CONFLICT) {
        r->fields.outcome = GDA_LOG_OUTCOME_CONFLICT;
        return respond_error(r, &e, 0);
    }
    if (st == GDA_ERR_IN_PROGRESS || st == GDA_ERR_BUSY) {
        r->fields.outcome = GDA_LOG_OUTCOME_IN_PROGRESS;
        return respond_error(r, &e, retry_after);
    }
    if (is_store_failure(st))
        return respond_store_failure(r, &e);
    /* Integrity, configuration, memory: the store answered, but what it
     * holds cannot be served. A 500, logged, never a replay. */
    if (st == GDA_ERR_INTEGRITY)
        r->store_error = true;
    note_detail(r, &e);
    if (st == GDA_OK)
        return respond_code(r, GDA_ERR_INTERNAL, NULL, NULL);
    return respond_error(r, &e, 0);
}

/* GET {route}/{requestId}: the two-phase poll. */
static gda_status poll(run *r, gda_slice segment)
{
    gda_app *app = r->app;
    gda_error e;
    gda_error_clear(&e);
    if (r->http->body.len > gda_app_max_body(app))
        return respond_code(r, GDA_ERR_PAYLOAD_TOO_LARGE, NULL, "body over the limit");
    gda_status st = authenticate(r, false);
    if (st != GDA_OK)
        return st;
    char *key = r->poll_key;
    if (!decode_segment(segment.ptr, segment.len, key))
        return respond_code(r, GDA_ERR_NOT_FOUND, NULL, "no such request");
    r->fields.request_id = key;

    gda_idem_result res = {0};
    st = gda_idem_lookup(app->idem, key, r->principal, &res, &e);
    if (st == GDA_OK && res.state != GDA_RECORD_IN_PROGRESS) {
        st = respond_replay(r, res.status_code, res.body, res.body_len);
        gda_idem_result_clear(&res);
        return st;
    }
    gda_idem_result_clear(&res);
    if (st == GDA_OK) {
        /* Still executing: the poller is told to come back, as for a 202. */
        char url[GDA_RESPONSE_HEADER_VALUE_SIZE];
        if (!poll_url(app, key, url, sizeof url) ||
            gda_response_accepted(r->resp, key, url, app_now(app), &e) != GDA_OK)
            st = respond_code(r, GDA_ERR_INTERNAL, NULL, NULL);
        else
            st = r->resp->code;
    } else if (st == GDA_ERR_NOT_FOUND || st == GDA_ERR_INVALID_REQUEST) {
        st = respond_code(r, GDA_ERR_NOT_FOUND, NULL, "no such request");
    } else if (is_store_failure(st)) {
        st = respond_store_failure(r, &e);
    } else {
        r->store_error = st == GDA_ERR_INTEGRITY;
        note_detail(r, &e);
        st = respond_error(r, &e, 0);
    }
    return st;
}

/* The declared fields present in the request, for the log line (the logger
 * masks the pii ones: their names were added to its configuration). */
static json_t *log_input(const run *r)
{
    if (!r->req)
        return NULL;
    const gda_spec *spec = gda_request_spec(r->req);
    const json_t *body = gda_request_json(r->req);
    json_t *input = json_object();
    if (!input)
        return NULL;
    for (size_t i = 0; i < gda_spec_count(spec); i++) {
        const gda_field *f = gda_spec_field_at(spec, i);
        json_t *v = f ? json_object_get(body, f->name) : NULL;
        if (v)
            json_object_set(input, f->name, v);
    }
    return input;
}

static void log_request(run *r)
{
    gda_app *app = r->app;
    int64_t end = app_now(app);
    r->fields.status_code = r->resp->status;
    r->fields.has_execution_time = true;
    if (r->start_mono_ns) {
        /* The system clock: time the request with the monotonic clock, which
         * resolves the sub-millisecond replays a millisecond clock shows as 0. */
        int64_t ns = gda_clock_monotonic_ns() - r->start_mono_ns;
        r->fields.execution_time_ms = ns > 0 ? (double)ns / 1e6 : 0.0;
    } else {
        r->fields.execution_time_ms = end > r->start_ms ? (double)(end - r->start_ms) : 0.0;
    }
    json_t *answer = NULL;
    if (r->resp->code != GDA_OK && r->resp->code != GDA_ACCEPTED) {
        r->fields.error_code = gda_status_str(r->resp->code);
        /* The field and message exactly as the caller got them (fixed texts
         * for 401 and 5xx), so an operator sees which field was wrong. */
        if (r->sent.code == r->resp->code) {
            r->fields.error_field = r->sent.field[0] ? r->sent.field : NULL;
            r->fields.error_message = r->sent.message;
        } else {
            /* A replayed error: only its stored body says what it said. */
            answer = r->resp->body ? json_loadb(r->resp->body, r->resp->body_len, 0, NULL)
                                   : NULL;
            json_t *error = json_object_get(answer, "error");
            r->fields.error_field = json_string_value(json_object_get(error, "field"));
            r->fields.error_message = json_string_value(json_object_get(error, "message"));
        }
    }
    gda_log_level level = r->resp->status >= 500   ? GDA_LOG_ERROR
                          : r->resp->status >= 400 ? GDA_LOG_WARN
                                                   : GDA_LOG_INFO;
    /* A lost lease means this key may have run twice: an operator must see
     * it whatever the answer was. A result that could not be cached too. */
    if (r->fields.lease_lost)
        level = GDA_LOG_ERROR;
    else if (r->store_error && level < GDA_LOG_WARN)
        level = GDA_LOG_WARN;
    if (gda_logger_enabled(app->logger, level)) {
        json_t *extra = json_object();
        if (extra) {
            json_object_set_new(extra, "method", json_string(r->method));
            json_t *input = log_input(r);
            if (input)
                json_object_set_new(extra, "input", input);
            if (r->detail[0])
                json_object_set_new(extra, "detail", json_string(r->detail));
            if (r->store_error)
                json_object_set_new(extra, "storeError", json_true());
        }
        gda_log(app->logger, level, end, &r->fields, extra,
                r->refused ? "request refused" : "request handled", NULL);
        json_decref(extra);
    }
    gda_metrics_emit_request(app->logger, &r->fields, r->store_error, end, NULL);
    r->fields.error_field = r->fields.error_message = NULL;
    json_decref(answer);
}

/* The method as logged: a closed set, never the caller's bytes. */
static const char *method_name(const gda_http_request *h)
{
    if (h->kind == GDA_EVENT_DIRECT)
        return "direct";
    return slice_is(h->method, "GET") ? "GET" : slice_is(h->method, "POST") ? "POST" : "other";
}

static gda_status route(run *r)
{
    gda_app *app = r->app;
    const gda_http_request *h = r->http;
    r->method = method_name(h);
    if (h->kind == GDA_EVENT_DIRECT)
        return invoke(r);
    gda_slice path = h->path;
    bool base = path.len == app->route_len && memcmp(path.ptr, app->route, app->route_len) == 0;
    bool sub = path.len > app->route_len + 1 &&
               memcmp(path.ptr, app->route, app->route_len) == 0 &&
               path.ptr[app->route_len] == '/' &&
               !memchr(path.ptr + app->route_len + 1, '/', path.len - app->route_len - 1);
    if (!base && !sub) {
        r->fields.outcome = GDA_LOG_OUTCOME_NONE;
        return respond_code(r, GDA_ERR_NOT_FOUND, NULL, "no such route");
    }
    const char *allowed = base ? "POST" : "GET";
    if (!slice_is(h->method, allowed)) {
        r->fields.outcome = GDA_LOG_OUTCOME_NONE;
        gda_status st = respond_code(r, GDA_ERR_METHOD_NOT_ALLOWED, NULL, "method not allowed");
        gda_http_response_set_header(r->resp, "Allow", allowed);
        return st;
    }
    if (base)
        return invoke(r);
    return poll(r, gda_slice_make(path.ptr + app->route_len + 1, path.len - app->route_len - 1));
}

/* Start r for one request: the clock readings, the deadline, the ids. */
static void run_start(run *r, gda_app *app, const gda_http_request *req,
                      const gda_invocation *inv, gda_http_response *resp)
{
    memset(r, 0, sizeof *r);
    r->app = app;
    r->http = req;
    r->inv = inv;
    r->resp = resp;
    if (gda_clock_is_system(&app->clock))
        r->start_mono_ns = gda_clock_monotonic_ns();
    r->start_ms = inv && inv->now_ms > 0 ? inv->now_ms : app_now(app);
    r->deadline_ms = inv && inv->deadline_ms > 0 ? inv->deadline_ms
                                                 : r->start_ms + app->handler_budget_ms;
    if (inv) {
        r->fields.aws_request_id = inv->aws_request_id;
        r->fields.trace_id = inv->trace_id;
    }
    r->method = "";
}

/* Every answer ends here: the headers all answers carry, then its one log
 * and metrics line. */
static gda_status run_finish(run *r, gda_status st)
{
    if (r->resp->status) {
        /* Answers carry results and errors meant for one caller: no shared
         * cache (a CDN, a proxy) may keep them. */
        gda_http_response_set_header(r->resp, "Cache-Control", "no-store");
        log_request(r);
    }
    gda_request_free(r->req);
    return r->resp->status ? r->resp->code : st;
}

gda_status gda_app_handle(gda_app *app, const gda_http_request *req, const gda_invocation *inv,
                          gda_http_response *resp)
{
    if (!resp)
        return GDA_ERR_INTERNAL;
    gda_http_response_release(resp);
    if (!app || !req)
        return GDA_ERR_INTERNAL;
    run r;
    run_start(&r, app, req, inv, resp);
    return run_finish(&r, route(&r));
}

gda_status gda_app_refuse(gda_app *app, const gda_http_request *req, const gda_invocation *inv,
                          const gda_error *why, gda_http_response *resp)
{
    if (!resp)
        return GDA_ERR_INTERNAL;
    gda_http_response_release(resp);
    if (!app || !req || !why || !is_error_code(why->code))
        return GDA_ERR_INTERNAL;
    run r;
    run_start(&r, app, req, inv, resp);
    r.method = method_name(req);
    r.fields.outcome = GDA_LOG_OUTCOME_NONE;
    r.refused = true;
    return run_finish(&r, respond_error(&r, why, 0));
}

/* ---- two-phase completion --------------------------------------------------- */

/* gda_idem_complete said the lease is lost: it may be lost to ourselves, a
 * finish of the same result that already applied (a repeat, or an answer
 * that timed out). The stored body differs by its processedAt, so compare
 * what the caller gave: the data member, or the error code. */
static bool already_finished_same(gda_app *app, const gda_idem_lease *lease, const json_t *data,
                                  const gda_error *error)
{
    gda_idem_result res = {0};
    gda_error ignored;
    bool same = false;
    if (gda_idem_lookup(app->idem, lease->key, lease->principal, &res, &ignored) == GDA_OK &&
        res.state == GDA_RECORD_COMPLETED && res.body) {
        json_t *stored = json_loadb((const char *)res.body, res.body_len, 0, NULL);
        if (data) {
            same = res.status_code == 200 && json_equal(json_object_get(stored, "data"), data);
        } else {
            const char *code =
                json_string_value(json_object_get(json_object_get(stored, "error"), "code"));
            same = res.status_code == gda_status_http(error->code) && code &&
                   strcmp(code, gda_status_str(error->code)) == 0;
        }
        json_decref(stored);
    }
    gda_idem_result_clear(&res);
    return same;
}

gda_status gda_app_finish(gda_app *app, const char *token, const json_t *data,
                          const gda_error *error, gda_error *err)
{
    if (!app || !token || (data == NULL) == (error == NULL))
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                             "gda_app_finish: give the app, a token and data or error");
    if (data && !json_is_object(data))
        return gda_error_set(err, GDA_ERR_INTERNAL, "data", "the final data must be an object");
    if (error && (!is_error_code(error->code) || !cacheable(gda_status_http(error->code))))
        return gda_error_set(err, GDA_ERR_INTERNAL, "error",
                             "a final error must be a non-retryable 4xx code");
    gda_idem_lease lease;
    gda_status st = token_parse(token, &lease, err);
    if (st != GDA_OK)
        return st;

    gda_http_response out = {0};
    int64_t now = app_now(app);
    st = data ? gda_response_completed(&out, data, lease.key, now, err)
              : gda_response_error(&out, error, lease.key, 0, err);
    if (st == GDA_OK)
        st = gda_idem_complete(app->idem, &lease, out.status, out.body, out.body_len, err);
    if (st == GDA_ERR_RESULT_TOO_LARGE) {
        /* Cache a small final error instead, so polls and retries end. */
        gda_error big;
        gda_error_set(&big, GDA_ERR_RESULT_TOO_LARGE, NULL,
                      "the result is larger than the idempotency store can keep");
        gda_http_response_release(&out);
        st = gda_response_error(&out, &big, lease.key, 0, err);
        if (st == GDA_OK)
            st = gda_idem_complete(app->idem, &lease, out.status, out.body, out.body_len, err);
        if (st == GDA_OK)
            st = gda_error_set(err, GDA_ERR_RESULT_TOO_LARGE, "data",
                               "the result is larger than the store can keep; the request "
                               "was finished with the error result_too_large");
    }
    if (st == GDA_ERR_LEASE_LOST && already_finished_same(app, &lease, data, error)) {
        gda_error_clear(err);
        st = GDA_OK;
    }
    gda_http_response_release(&out);
    sodium_memzero(&lease, sizeof lease);
    return st;
}

/* ---- gda_ctx ---------------------------------------------------------------- */

int64_t gda_ctx_now_ms(const gda_ctx *ctx) { return ctx ? ctx->now_ms : 0; }

int64_t gda_ctx_deadline_ms(const gda_ctx *ctx) { return ctx ? ctx->deadline_ms : 0; }

int64_t gda_ctx_remaining_ms(const gda_ctx *ctx)
{
    if (!ctx)
        return 0;
    int64_t left = ctx->deadline_ms - app_now(ctx->app);
    return left > 0 ? left : 0;
}

const char *gda_ctx_request_id(const gda_ctx *ctx) { return ctx ? ctx->fields.request_id : ""; }

const char *gda_ctx_interaction_id(const gda_ctx *ctx)
{
    return ctx ? ctx->fields.interaction_id : "";
}

const char *gda_ctx_aws_request_id(const gda_ctx *ctx)
{
    return ctx ? ctx->fields.aws_request_id : "";
}

const char *gda_ctx_trace_id(const gda_ctx *ctx) { return ctx ? ctx->fields.trace_id : ""; }

const char *gda_ctx_principal(const gda_ctx *ctx) { return ctx ? ctx->principal : ""; }

gda_logger *gda_ctx_logger(const gda_ctx *ctx) { return ctx ? ctx->app->logger : NULL; }

const gda_log_fields *gda_ctx_log_fields(const gda_ctx *ctx) { return ctx ? &ctx->fields : NULL; }

gda_status gda_ctx_accept(const gda_ctx *ctx, const char **token, gda_error *err)
{
    if (token)
        *token = NULL;
    if (!ctx || !ctx->run || !ctx->lease || !token)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                             "gda_ctx_accept: give the handler's ctx and a token pointer");
    run *r = ctx->run;
    if (r->accepted) {
        *token = r->token;
        return GDA_OK;
    }
    gda_app *app = ctx->app;
    const gda_idem_lease *lease = ctx->lease;
    char url[GDA_RESPONSE_HEADER_VALUE_SIZE];
    if (!poll_url(app, lease->key, url, sizeof url)) /* cannot happen: see the assert */
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "poll URL does not fit");
    gda_status st = gda_response_accepted(r->resp, lease->key, url, app_now(app), err);
    if (st == GDA_OK)
        st = gda_idem_accept(app->idem, lease, r->resp->body, r->resp->body_len, err);
    if (st != GDA_OK) {
        /* Not durable: the job must not start. The handler returns a
         * retryable error and the pipeline releases the lease. */
        gda_http_response_release(r->resp);
        if (is_store_failure(st))
            r->store_error = true;
        return st;
    }
    r->accepted = true;
    token_make(lease, r->token);
    *token = r->token;
    return GDA_OK;
}
