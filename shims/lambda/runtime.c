/* libgda-lambda — the Runtime API loop and start-up failure reports (see
 * include/gda/lambda.h and runtime_internal.h). */
#include <gda/lambda.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include <gda/authorizer.h>
#include <gda/event.h>
#include <gda/response.h>

#include "aws_client.h"
#include "aws_curl.h"
#include "clock.h"
#include "crash_report.h"
#include "runtime_internal.h"

#define RUNTIME_PATH "/2018-06-01/runtime"
#define DEFAULT_MAX_EVENT ((size_t)6 * 1024 * 1024)
#define REQUEST_ID_MAX 128
#define TRACE_ID_MAX 1024
#define ARN_MAX 512
#define POST_TIMEOUT_MS 10000L
#define BACKOFF_BASE_MS 10
#define BACKOFF_CAP_MS 1000

static volatile sig_atomic_t stop_requested;

/* ---- small helpers ------------------------------------------------------- */

/* Lambda's request ids are UUIDs; anything that would need escaping in the
 * URL path is refused rather than trusted. */
static bool request_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* Split "host:port" or "[v6]:port" into its parts. */
static bool split_host_port(const char *api, char *host, size_t host_size, char *port,
                            size_t port_size)
{
    const char *colon;
    const char *host_start = api;
    size_t host_len;
    if (api[0] == '[') {
        const char *close = strchr(api, ']');
        if (!close || close[1] != ':')
            return false;
        host_start = api + 1;
        host_len = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(api, ':');
        if (!colon)
            return false;
        host_len = (size_t)(colon - api);
    }
    size_t port_len = strlen(colon + 1);
    if (host_len == 0 || host_len >= host_size || port_len == 0 || port_len >= port_size)
        return false;
    for (size_t i = 0; i < port_len; i++)
        if (colon[1 + i] < '0' || colon[1 + i] > '9')
            return false;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    memcpy(port, colon + 1, port_len + 1);
    return true;
}

/* ---- small named values -------------------------------------------------- */

const char *gda_lambda_mode_str(gda_lambda_mode mode)
{
    switch (mode) {
    case GDA_LAMBDA_DATA_ACTION: return "data-action";
    case GDA_LAMBDA_AUTHORIZER: return "authorizer";
    }
    return "unknown";
}

const char *gda_lambda_error_type(gda_status code)
{
    if (code == GDA_OK || code == GDA_ACCEPTED)
        return "";
    if (gda_status_retryable(code))
        return "Retryable";
    switch (code) {
    case GDA_ERR_UNAUTHORIZED: return "Unauthorized";
    case GDA_ERR_FORBIDDEN: return "Forbidden";
    case GDA_ERR_NOT_FOUND: return "NotFound";
    case GDA_ERR_METHOD_NOT_ALLOWED: return "MethodNotAllowed";
    case GDA_ERR_IN_PROGRESS: return "Conflict";
    case GDA_ERR_PAYLOAD_TOO_LARGE: return "PayloadTooLarge";
    case GDA_ERR_UNSUPPORTED_MEDIA_TYPE: return "UnsupportedMediaType";
    case GDA_ERR_PAYLOAD_MISMATCH: return "PayloadMismatch";
    case GDA_ERR_UNPROCESSABLE: return "Unprocessable";
    case GDA_ERR_RATE_LIMITED: return "RateLimited";
    default: return "Invalid"; /* every other 4xx is a 400 class */
    }
}

gda_lambda_options gda_lambda_options_default(void)
{
    gda_lambda_options o;
    memset(&o, 0, sizeof o);
    o.mode = GDA_LAMBDA_DATA_ACTION;
    o.secret_refresh_ms = 60000;
    o.keyring_max_age_ms = 300000;
    o.max_event = DEFAULT_MAX_EVENT;
    o.max_connect_failures = 20;
    o.crash_reporter = true;
    o.handle_signals = true;
    return o;
}

static bool parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || text[0] == '-' || v > max)
        return false;
    *out = v;
    return true;
}

gda_status gda_lambda_options_from_env(gda_lambda_options *opt, gda_error *err)
{
    if (!opt)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "options NULL");
    const char *mode = getenv("GDA_MODE");
    if (mode && *mode) {
        if (strcmp(mode, "data-action") == 0 || strcmp(mode, "dataaction") == 0)
            opt->mode = GDA_LAMBDA_DATA_ACTION;
        else if (strcmp(mode, "authorizer") == 0)
            opt->mode = GDA_LAMBDA_AUTHORIZER;
        else
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_MODE",
                                 "GDA_MODE must be data-action or authorizer");
    }
    const char *refresh = getenv("GDA_SECRET_REFRESH_S");
    if (refresh && *refresh) {
        uint64_t s;
        if (!parse_u64(refresh, 86400, &s))
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRET_REFRESH_S",
                                 "GDA_SECRET_REFRESH_S must be 0..86400 seconds");
        opt->secret_refresh_ms = (int64_t)s * 1000;
    }
    const char *max_age = getenv("GDA_KEYRING_MAX_AGE_S");
    if (max_age && *max_age) {
        uint64_t s;
        if (!parse_u64(max_age, 86400, &s))
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_KEYRING_MAX_AGE_S",
                                 "GDA_KEYRING_MAX_AGE_S must be 0..86400 seconds");
        opt->keyring_max_age_ms = (int64_t)s * 1000;
    }
    const char *max_event = getenv("GDA_LAMBDA_MAX_EVENT");
    if (max_event && *max_event) {
        uint64_t n;
        if (!parse_u64(max_event, (uint64_t)64 * 1024 * 1024, &n) || n == 0)
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_LAMBDA_MAX_EVENT",
                                 "GDA_LAMBDA_MAX_EVENT must be 1..67108864 bytes");
        opt->max_event = (size_t)n;
    }
    return GDA_OK;
}

void gda_lambda_stop(void)
{
    stop_requested = 1;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- the runtime --------------------------------------------------------- */

typedef struct runtime {
    gda_app *app;
    gda_lambda_options opt;
    gda_logger *logger;
    gda_logger *own_logger;
    CURL *curl;
    struct curl_slist *json_headers;
    char base_url[400];
    char url[600];
    gda_aws_curl_body event;
    bool in_next; /* the stop flag may abort the transfer */
    /* headers of the current invocation */
    char request_id[REQUEST_ID_MAX + 1];
    char trace_id[TRACE_ID_MAX + 1];
    char function_arn[ARN_MAX + 1];
    int64_t deadline_ms;
    bool header_overflow;
    int64_t last_refresh_ms;
    bool refreshed_once;
    int64_t ring_fetched_ms; /* when the key ring in use was last fetched */
    int64_t ring_retry_ms;   /* after a failed fetch: no timed one before this */
} runtime;

static size_t on_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
                      size_t *value_len)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return false;
    const char *v = line + n + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *value_len = (size_t)(end - v);
    return true;
}

static void copy_header(runtime *rt, char *dst, size_t size, const char *v, size_t len)
{
    if (len >= size) {
        rt->header_overflow = true;
        len = 0;
    }
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    runtime *rt = userdata;
    size_t len = size * nmemb;
    const char *v;
    size_t vlen;
    if (header_is(line, len, "Lambda-Runtime-Aws-Request-Id", &v, &vlen)) {
        copy_header(rt, rt->request_id, sizeof rt->request_id, v, vlen);
    } else if (header_is(line, len, "Lambda-Runtime-Trace-Id", &v, &vlen)) {
        copy_header(rt, rt->trace_id, sizeof rt->trace_id, v, vlen);
    } else if (header_is(line, len, "Lambda-Runtime-Invoked-Function-Arn", &v, &vlen)) {
        copy_header(rt, rt->function_arn, sizeof rt->function_arn, v, vlen);
    } else if (header_is(line, len, "Lambda-Runtime-Deadline-Ms", &v, &vlen)) {
        char tmp[32];
        int64_t d = 0;
        if (vlen > 0 && vlen < sizeof tmp) {
            memcpy(tmp, v, vlen);
            tmp[vlen] = '\0';
            char *end = NULL;
            errno = 0;
            long long x = strtoll(tmp, &end, 10);
            if (!errno && *end == '\0' && x > 0)
                d = (int64_t)x;
        }
        rt->deadline_ms = d;
    }
    return len;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    runtime *rt = userdata;
    /* Only a pending GET next is abandoned: an answer being posted finishes. */
    return rt->in_next && stop_requested ? 1 : 0;
}

static void log_line(runtime *rt, gda_log_level level, const char *error_code, const char *msg)
{
    gda_log_fields f;
    memset(&f, 0, sizeof f);
    f.aws_request_id = rt->request_id[0] ? rt->request_id : NULL;
    f.trace_id = rt->trace_id[0] ? rt->trace_id : NULL;
    f.error_code = error_code;
    gda_log(rt->logger, level, gda_clock_now_ms(NULL), &f, NULL, msg, NULL);
}

static bool transport_error(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE || rc == CURLE_OPERATION_TIMEDOUT;
}

/* POST body to url. Returns the HTTP status, or -1 when no answer came. */
static long post(runtime *rt, const char *url, const char *body, size_t len,
                 struct curl_slist *headers)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        CURL *h = rt->curl;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_discard);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, POST_TIMEOUT_MS);
        CURLcode rc = curl_easy_perform(h);
        if (rc == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            return status;
        }
        if (!transport_error(rc))
            break;
        /* The connection was reset: resend once on a fresh one. A duplicate
         * answer for the same id is refused by the Runtime API, harmlessly. */
    }
    return -1;
}

static void post_response(runtime *rt, const char *body, size_t len)
{
    snprintf(rt->url, sizeof rt->url, "%s/invocation/%s/response", rt->base_url, rt->request_id);
    long status = post(rt, rt->url, body, len, rt->json_headers);
    if (status >= 200 && status < 300)
        return;
    if (status == 413) {
        log_line(rt, GDA_LOG_ERROR, "payload_too_large",
                 "the Runtime API refused the response as too large");
        /* Lambda already fails the invocation; say why, in its own words. */
        static const char too_large[] =
            "{\"errorMessage\":\"response payload too large\",\"errorType\":\"Runtime.ResponseTooLarge\"}";
        snprintf(rt->url, sizeof rt->url, "%s/invocation/%s/error", rt->base_url, rt->request_id);
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        struct curl_slist *h2 =
            h ? curl_slist_append(h, "Lambda-Runtime-Function-Error-Type: Runtime.ResponseTooLarge")
              : NULL;
        if (h2)
            (void)post(rt, rt->url, too_large, sizeof too_large - 1, h2);
        curl_slist_free_all(h2 ? h2 : h);
        return;
    }
    log_line(rt, GDA_LOG_ERROR, status < 0 ? "unavailable" : "internal",
             status < 0 ? "posting the response failed: no answer from the Runtime API"
                        : "the Runtime API refused the response");
}

/* invocation/{id}/error with errorMessage = message (a JSON error object as
 * text) and errorType = type. */
static void post_error(runtime *rt, const char *type, const char *message, size_t message_len)
{
    json_t *m = json_stringn(message, message_len);
    if (!m)
        m = json_string("the invocation failed");
    json_t *doc = m ? json_pack("{s:o, s:s, s:[]}", "errorMessage", m, "errorType", type,
                                "stackTrace")
                    : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);

    char type_header[160];
    snprintf(type_header, sizeof type_header, "Lambda-Runtime-Function-Error-Type: %s", type);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, type_header) : NULL;
    struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
    if (!text || !h3) {
        log_line(rt, GDA_LOG_ERROR, "nomem", "out of memory reporting an invocation error");
        free(text);
        curl_slist_free_all(h3 ? h3 : h2 ? h2 : h);
        return;
    }
    snprintf(rt->url, sizeof rt->url, "%s/invocation/%s/error", rt->base_url, rt->request_id);
    long status = post(rt, rt->url, text, strlen(text), h3);
    if (status < 200 || status >= 300)
        log_line(rt, GDA_LOG_ERROR, status < 0 ? "unavailable" : "internal",
                 "posting the invocation error failed");
    free(text);
    curl_slist_free_all(h3);
}

/* Report a failure described by e the way the HTTP paths would answer it. */
static void post_error_status(runtime *rt, const gda_error *e)
{
    gda_error copy = *e;
    if (copy.code == GDA_OK || copy.code == GDA_ACCEPTED)
        copy.code = GDA_ERR_INTERNAL;
    gda_http_response resp;
    memset(&resp, 0, sizeof resp);
    const char *type = gda_lambda_error_type(copy.code);
    if (gda_response_error(&resp, &copy, NULL, 0, NULL) == GDA_OK && resp.body)
        post_error(rt, type, resp.body, resp.body_len);
    else
        post_error(rt, type, gda_status_str(copy.code), strlen(gda_status_str(copy.code)));
    gda_http_response_release(&resp);
}

/* A failed timed fetch is tried again after this long (or the maximum age,
 * when shorter), between invocations like the first. */
#define KEYRING_RETRY_MS 10000

/* Fetch the key ring now and swap it in if it changed: true when it did. A
 * failed fetch keeps the ring in use (and says so); the timed refresh tries
 * again KEYRING_RETRY_MS later. */
static bool refresh_keyring(runtime *rt, int64_t now)
{
    gda_keyring *ring = NULL;
    bool changed = false;
    gda_error e;
    gda_error_clear(&e);
    gda_status st = gda_secrets_fetch(rt->opt.secrets, now, &ring, &changed, &e);
    if (st != GDA_OK) {
        int64_t wait = rt->opt.keyring_max_age_ms > 0 && rt->opt.keyring_max_age_ms < KEYRING_RETRY_MS
                           ? rt->opt.keyring_max_age_ms
                           : KEYRING_RETRY_MS;
        rt->ring_retry_ms = now + wait;
        log_line(rt, GDA_LOG_WARN, gda_status_str(st),
                 "key ring refresh failed: the ring in use stays until a fetch succeeds");
        return false;
    }
    rt->ring_fetched_ms = now;
    rt->ring_retry_ms = 0;
    if (!changed) {
        gda_keyring_free(ring);
        return false;
    }
    st = gda_verifier_set_keyring(rt->opt.verifier, ring, &e);
    if (st != GDA_OK) {
        gda_keyring_free(ring);
        log_line(rt, GDA_LOG_ERROR, gda_status_str(st), "refreshed key ring not usable");
        return false;
    }
    log_line(rt, GDA_LOG_INFO, NULL, "key ring rotated");
    return true;
}

/* On a refused credential: re-fetch the key ring if the interval allows, and
 * swap it in if it changed. True when the request should be tried again. */
static bool maybe_rotate(runtime *rt)
{
    if (!rt->opt.secrets || !rt->opt.verifier)
        return false;
    int64_t now = gda_clock_now_ms(NULL);
    if (rt->refreshed_once && now - rt->last_refresh_ms < rt->opt.secret_refresh_ms)
        return false;
    rt->refreshed_once = true;
    rt->last_refresh_ms = now;
    return refresh_keyring(rt, now);
}

/* gda_invocation.refresh_keyring: the app checks a refused credential once
 * more after a rotation, within the request. */
static bool rotate_hook(void *user) { return maybe_rotate(user); }

/* Between invocations: a ring older than keyring_max_age_ms is fetched again,
 * so a revoked key stops working on a warm container even if no request
 * ever fails. The caller has already been answered. */
static void refresh_if_stale(runtime *rt)
{
    if (!rt->opt.secrets || !rt->opt.verifier || rt->opt.keyring_max_age_ms <= 0)
        return;
    int64_t now = gda_clock_now_ms(NULL);
    if (now - rt->ring_fetched_ms >= rt->opt.keyring_max_age_ms && now >= rt->ring_retry_ms)
        (void)refresh_keyring(rt, now);
}

static void serve_data_action(runtime *rt)
{
    gda_http_request req;
    memset(&req, 0, sizeof req);
    gda_error e;
    gda_error_clear(&e);
    gda_status st = gda_event_decode(rt->event.buf.data, rt->event.buf.len, rt->opt.max_event, &req, &e);
    if (st != GDA_OK) {
        log_line(rt, GDA_LOG_WARN, gda_status_str(st), "event refused");
        post_error_status(rt, &e);
        gda_http_request_release(&req);
        return;
    }

    gda_invocation inv;
    memset(&inv, 0, sizeof inv);
    inv.deadline_ms = rt->deadline_ms;
    inv.aws_request_id = rt->request_id;
    inv.trace_id = rt->trace_id[0] ? rt->trace_id : NULL;

    inv.refresh_keyring = rotate_hook;
    inv.refresh_user = rt;

    gda_http_response resp;
    memset(&resp, 0, sizeof resp);
    gda_app_handle(rt->app, &req, &inv, &resp);

    if (req.kind == GDA_EVENT_DIRECT && (resp.status < 200 || resp.status > 299)) {
        const char *type = gda_lambda_error_type(resp.code);
        if (!*type)
            type = "Retryable";
        post_error(rt, type, resp.body ? resp.body : "", resp.body ? resp.body_len : 0);
    } else {
        char *out = NULL;
        size_t out_len = 0;
        st = gda_event_encode(req.kind, &resp, &out, &out_len, &e);
        if (st == GDA_OK)
            post_response(rt, out, out_len);
        else {
            log_line(rt, GDA_LOG_ERROR, gda_status_str(st), "response could not be encoded");
            post_error_status(rt, &e);
        }
        free(out);
    }
    gda_http_response_release(&resp);
    gda_http_request_release(&req);
}

static void serve_authorizer(runtime *rt)
{
    char *out = NULL;
    size_t out_len = 0;
    gda_auth_result res;
    gda_error e;
    gda_error_clear(&e);
    gda_status st = gda_authorizer_respond(rt->opt.verifier, rt->event.buf.data, rt->event.buf.len,
                                           gda_clock_now_ms(NULL), &out, &out_len, &res, &e);
    if (st == GDA_ERR_UNAUTHORIZED && maybe_rotate(rt)) {
        free(out);
        out = NULL;
        gda_error_clear(&e);
        st = gda_authorizer_respond(rt->opt.verifier, rt->event.buf.data, rt->event.buf.len, gda_clock_now_ms(NULL),
                                    &out, &out_len, &res, &e);
    }
    gda_log_fields f;
    memset(&f, 0, sizeof f);
    f.aws_request_id = rt->request_id;
    f.trace_id = rt->trace_id[0] ? rt->trace_id : NULL;
    f.outcome = GDA_LOG_OUTCOME_UNSET;
    f.error_code = st == GDA_OK ? NULL : gda_status_str(st);
    f.auth_failure = st == GDA_ERR_UNAUTHORIZED ? gda_auth_reason_str(res.reason) : NULL;
    f.key_id = st == GDA_OK && res.key_id[0] ? res.key_id : NULL;
    gda_log(rt->logger, st == GDA_OK ? GDA_LOG_INFO : GDA_LOG_WARN, gda_clock_now_ms(NULL), &f, NULL,
            st == GDA_OK ? "authorizer allow" : out ? "authorizer deny" : "authorizer event refused",
            NULL);
    if (out)
        post_response(rt, out, out_len);
    else
        post_error_status(rt, &e);
    free(out);
}

/* GET next. Returns 1 with an event, 0 on a stop request, -1 on failure. */
static int next_invocation(runtime *rt)
{
    CURL *h = rt->curl;
    gda_buf_reset(&rt->event.buf);
    rt->event.too_large = false;
    rt->request_id[0] = rt->trace_id[0] = rt->function_arn[0] = '\0';
    rt->deadline_ms = 0;
    rt->header_overflow = false;

    snprintf(rt->url, sizeof rt->url, "%s/invocation/next", rt->base_url);
    curl_easy_setopt(h, CURLOPT_URL, rt->url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gda_aws_curl_body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rt->event);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rt);
    /* next blocks until an invocation arrives, however long that is. */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
    rt->in_next = true;
    CURLcode rc = curl_easy_perform(h);
    rt->in_next = false;
    if (rc == CURLE_ABORTED_BY_CALLBACK && stop_requested)
        return 0;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_WRITE_ERROR && status == 200 && rt->request_id[0] &&
        (rt->event.too_large || rt->event.buf.failed))
        return 1; /* an event we cannot hold: the caller reports it */
    if (rc != CURLE_OK || status != 200)
        return -1;
    if (!rt->request_id[0])
        return -1;
    /* An empty body still needs a valid buffer; failing sets buf.failed. */
    gda_buf_reserve(&rt->event.buf, 0);
    return 1;
}

/* _X_AMZN_TRACE_ID lives in one static buffer handed to putenv and rewritten
 * in place: setenv would leak a copy per invocation (glibc never frees
 * replaced values), which over 100,000 invocations is megabytes. */
#define TRACE_ENV_NAME "_X_AMZN_TRACE_ID="
static char trace_env[sizeof TRACE_ENV_NAME + TRACE_ID_MAX];
static bool trace_env_set;

static void set_trace_env(const char *trace_id)
{
    if (!trace_id[0]) {
        if (trace_env_set)
            unsetenv("_X_AMZN_TRACE_ID");
        trace_env_set = false;
        return;
    }
    /* trace_id fits: the header parser bounds it by TRACE_ID_MAX. */
    snprintf(trace_env, sizeof trace_env, "%s%s", TRACE_ENV_NAME, trace_id);
    if (!trace_env_set && putenv(trace_env) == 0)
        trace_env_set = true;
}

static void serve_one(runtime *rt)
{
    if (!request_id_ok(rt->request_id) || rt->header_overflow) {
        log_line(rt, GDA_LOG_ERROR, "invalid_request",
                 "invocation with an unusable request id or oversized header skipped");
        rt->request_id[0] = '\0';
        return;
    }
    set_trace_env(rt->trace_id);

    if (rt->event.too_large || rt->event.buf.failed) {
        gda_error e;
        gda_error_set(&e, rt->event.too_large ? GDA_ERR_PAYLOAD_TOO_LARGE : GDA_ERR_NOMEM, NULL,
                      rt->event.too_large ? "event too large" : "out of memory");
        log_line(rt, GDA_LOG_WARN, gda_status_str(e.code), "event refused");
        post_error_status(rt, &e);
        return;
    }
    if (rt->opt.crash_reporter)
        gda_crash_report_arm(rt->request_id);
    if (rt->opt.mode == GDA_LAMBDA_AUTHORIZER)
        serve_authorizer(rt);
    else
        serve_data_action(rt);
    gda_crash_report_disarm();
}

static void runtime_close(runtime *rt)
{
    if (rt->curl)
        curl_easy_cleanup(rt->curl);
    curl_slist_free_all(rt->json_headers);
    gda_buf_free(&rt->event.buf);
    gda_logger_free(rt->own_logger);
}

static gda_status runtime_open(runtime *rt, gda_app *app, const gda_lambda_options *opt,
                               char *host, size_t host_size, char *port, size_t port_size,
                               gda_error *err)
{
    memset(rt, 0, sizeof *rt);
    rt->app = app;
    rt->opt = opt ? *opt : gda_lambda_options_default();
    if (rt->opt.max_event == 0)
        rt->opt.max_event = DEFAULT_MAX_EVENT;
    if (rt->opt.secret_refresh_ms < 0)
        rt->opt.secret_refresh_ms = 0;
    rt->event.max = rt->opt.max_event;
    rt->event.first_cap = 64 * 1024;

    if (rt->opt.mode == GDA_LAMBDA_AUTHORIZER && !rt->opt.verifier)
        return gda_error_set(err, GDA_ERR_CONFIG, "verifier", "authorizer mode needs a verifier");
    if (rt->opt.mode == GDA_LAMBDA_DATA_ACTION && !app)
        return gda_error_set(err, GDA_ERR_CONFIG, "app", "data-action mode needs an app");

    const char *api = rt->opt.runtime_api ? rt->opt.runtime_api : getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api || !*api)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API",
                             "AWS_LAMBDA_RUNTIME_API is not set");
    if (!split_host_port(api, host, host_size, port, port_size))
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API",
                             "AWS_LAMBDA_RUNTIME_API must be host:port");
    int n = snprintf(rt->base_url, sizeof rt->base_url, "http://%s%s", api, RUNTIME_PATH);
    if (n < 0 || (size_t)n >= sizeof rt->base_url)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API",
                             "AWS_LAMBDA_RUNTIME_API too long");

    rt->logger = rt->opt.logger ? rt->opt.logger : app ? gda_app_logger(app) : NULL;
    if (!rt->logger) {
        gda_log_config lc = gda_log_config_default();
        rt->own_logger = gda_logger_new(&lc, err);
        if (!rt->own_logger)
            return err ? err->code : GDA_ERR_NOMEM;
        rt->logger = rt->own_logger;
    }

    gda_status init = gda_aws_global_init(err);
    if (init != GDA_OK)
        return init;
    rt->curl = curl_easy_init();
    rt->json_headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *with_expect =
        rt->json_headers ? curl_slist_append(rt->json_headers, "Expect:") : NULL;
    if (!rt->curl || !with_expect)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    rt->json_headers = with_expect;
    CURL *h = rt->curl;
    if (gda_aws_curl_set_defaults(h, "http") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, rt) != CURLE_OK ||
        /* The Runtime API is loopback: never send it through a proxy. */
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*") != CURLE_OK)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "libcurl refused an option");
    return GDA_OK;
}

gda_status gda_lambda_run(gda_app *app, const gda_lambda_options *opt, gda_error *err)
{
    runtime rt;
    char host[300], port[16];
    gda_status st = runtime_open(&rt, app, opt, host, sizeof host, port, sizeof port, err);
    if (st != GDA_OK) {
        runtime_close(&rt);
        return st;
    }
    rt.ring_fetched_ms = gda_clock_now_ms(NULL); /* the caller fetched it just before */
    if (rt.opt.crash_reporter) {
        st = gda_crash_report_install(host, port, err);
        if (st != GDA_OK) {
            runtime_close(&rt);
            return st;
        }
    }

    struct sigaction sa, old_term, old_int, old_pipe;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = 0; /* no SA_RESTART: a blocked poll() must wake up */
    stop_requested = 0;
    if (rt.opt.handle_signals) {
        sigaction(SIGTERM, &sa, &old_term);
        sigaction(SIGINT, &sa, &old_int);
    }
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    sigemptyset(&ign.sa_mask);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe);

    log_line(&rt, GDA_LOG_INFO, NULL,
             rt.opt.mode == GDA_LAMBDA_AUTHORIZER ? "runtime started (authorizer)"
                                                  : "runtime started (data-action)");
    uint64_t served = 0;
    unsigned failures = 0;
    st = GDA_OK;
    while (!stop_requested) {
        int r = next_invocation(&rt);
        if (r == 0)
            break;
        if (r < 0) {
            if (stop_requested)
                break;
            failures++;
            if (failures >= rt.opt.max_connect_failures) {
                log_line(&rt, GDA_LOG_ERROR, "unavailable", "the Runtime API keeps failing; giving up");
                st = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL,
                                   "the Runtime API kept failing");
                break;
            }
            unsigned shift = failures - 1 < 10 ? failures - 1 : 10;
            int64_t wait = (int64_t)BACKOFF_BASE_MS << shift;
            log_line(&rt, GDA_LOG_WARN, "unavailable", "waiting for the next invocation failed; retrying");
            /* A SIGTERM ends the sleep early on purpose. */
            gda_clock_nap_ms(wait < BACKOFF_CAP_MS ? wait : BACKOFF_CAP_MS);
            continue;
        }
        failures = 0;
        serve_one(&rt);
        served++;
        refresh_if_stale(&rt);
        if (rt.opt.max_invocations && served >= rt.opt.max_invocations)
            break;
    }
    rt.request_id[0] = rt.trace_id[0] = '\0';
    if (st == GDA_OK)
        log_line(&rt, GDA_LOG_INFO, NULL, "runtime stopped");

    if (rt.opt.handle_signals) {
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGINT, &old_int, NULL);
    }
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (rt.opt.crash_reporter)
        gda_crash_report_uninstall();
    runtime_close(&rt);
    return st;
}

/* ---- init failures -------------------------------------------------------- */

gda_status gda_lambda_report_init_error(const char *runtime_api, const gda_error *error,
                                        gda_error *err)
{
    const char *api = runtime_api ? runtime_api : getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api || !*api)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API",
                             "AWS_LAMBDA_RUNTIME_API is not set");
    gda_error copy;
    if (error)
        copy = *error;
    else
        gda_error_set(&copy, GDA_ERR_INTERNAL, NULL, "initialisation failed");
    if (copy.code == GDA_OK || copy.code == GDA_ACCEPTED)
        copy.code = GDA_ERR_INTERNAL;

    /* The init error names the setting (field) and says what is wrong with
     * it; the HTTP error builder would hide both behind a fixed 500 text. */
    json_t *obj = json_pack("{s:s, s:s, s:s}", "code", gda_status_str(copy.code), "message",
                            copy.message[0] ? copy.message : gda_status_str(copy.code), "field",
                            copy.field);
    char *message = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    char type[96];
    const char *cls = gda_lambda_error_type(copy.code);
    snprintf(type, sizeof type, "Runtime.InitError.%s", copy.code == GDA_ERR_CONFIG ? "Config" : cls);
    json_t *doc = message ? json_pack("{s:s, s:s, s:[]}", "errorMessage", message, "errorType",
                                      type, "stackTrace")
                          : NULL;
    free(message);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");

    char url[512], type_header[160];
    int n = snprintf(url, sizeof url, "http://%s%s/init/error", api, RUNTIME_PATH);
    snprintf(type_header, sizeof type_header, "Lambda-Runtime-Function-Error-Type: %s", type);
    gda_status st = GDA_OK;
    if (n < 0 || (size_t)n >= sizeof url) {
        free(text);
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API",
                             "AWS_LAMBDA_RUNTIME_API too long");
    }
    gda_status init = gda_aws_global_init(err);
    if (init != GDA_OK) {
        free(text);
        return init;
    }
    CURL *h = curl_easy_init();
    struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h1 ? curl_slist_append(h1, type_header) : NULL;
    if (!h || !h2) {
        st = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    } else {
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, h2);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, POST_TIMEOUT_MS);
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status < 200 || status >= 300)
            st = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL,
                               "the Runtime API did not accept the init error");
    }
    curl_slist_free_all(h2 ? h2 : h1);
    if (h)
        curl_easy_cleanup(h);
    free(text);
    return st;
}

int gda_lambda_init_failed(const char *runtime_api, const gda_error *error)
{
    gda_error copy;
    if (error)
        copy = *error;
    else
        gda_error_set(&copy, GDA_ERR_INTERNAL, NULL, "initialisation failed");
    json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "level", "ERROR", "message",
                             "initialisation failed", "errorCode", gda_status_str(copy.code),
                             "error", copy.message);
    if (line && copy.field[0])
        json_object_set_new(line, "field", json_string(copy.field));
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text) {
        fprintf(stderr, "%s\n", text);
        free(text);
    }
    gda_error e;
    if (gda_lambda_report_init_error(runtime_api, &copy, &e) != GDA_OK)
        fprintf(stderr, "{\"level\":\"ERROR\",\"message\":\"init error not reported\"}\n");
    return 1;
}
