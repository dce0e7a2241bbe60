/* libgda (private, lib/aws) — AWS JSON-protocol client over libcurl (see
 * aws_client.h). */
#include "aws_client.h"
#include <gda/init.h>
#include "aws_curl.h"
#include "clock.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

struct gda_aws_client {
    gda_aws_client_options opts; /* strings below point into owned copies */
    char *service;
    char *region;
    char *endpoint;
    char *target_prefix;
    char *content_type;
    char *sigv4; /* "aws:amz:<region>:<service>" */
    gda_aws_credentials *creds;

    pthread_mutex_t mu; /* guards the handle pool and the counters */
    pthread_cond_t handle_freed;
    CURL **idle;        /* handles not in use; capacity max_handles */
    size_t idle_count;
    size_t handle_count; /* in use + idle */
    gda_aws_client_stats stats;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_global_status = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe on every libcurl build; do it once. */
static void curl_global_once(void)
{
    curl_global_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

gda_status gda_aws_global_init(gda_error *err)
{
    gda_status st = gda_init(err);
    if (st != GDA_OK)
        return st;
    pthread_once(&curl_once, curl_global_once);
    if (curl_global_status != CURLE_OK)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "libcurl failed to initialise");
    return GDA_OK;
}

gda_aws_client_options gda_aws_client_options_default(void)
{
    gda_aws_client_options opts = {
        .default_timeout_ms = 10000,
        .connect_timeout_ms = 2000,
        .max_handles = 64,
        .max_response_bytes = 4u << 20,
    };
    gda_aws_retry_policy_default(&opts.retry);
    return opts;
}

void gda_aws_response_clear(gda_aws_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

static char *dup_required(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* The CA bundle for HTTPS. A Lambda zip carries Debian's libcurl, whose
 * compiled-in path (/etc/ssl/certs/ca-certificates.crt) does not exist on
 * Amazon Linux, which keeps its bundle at /etc/pki/tls/certs/ca-bundle.crt;
 * so the first that exists wins, after an explicit GDA_CA_BUNDLE or
 * SSL_CERT_FILE. NULL: leave libcurl's default. */
const char *gda_aws_ca_bundle_path(void)
{
    const char *explicit_path = getenv("GDA_CA_BUNDLE");
    if (explicit_path && *explicit_path)
        return explicit_path;
    static const char *const candidates[] = {
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/certs/ca-certificates.crt",
    };
    const char *ssl_cert_file = getenv("SSL_CERT_FILE");
    if (ssl_cert_file && *ssl_cert_file && access(ssl_cert_file, R_OK) == 0)
        return ssl_cert_file;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    }
    return NULL;
}

static CURL *handle_create(gda_aws_client *c)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    const char *ca = gda_aws_ca_bundle_path();
    if (ca && curl_easy_setopt(h, CURLOPT_CAINFO, ca) != CURLE_OK) {
        curl_easy_cleanup(h);
        return NULL;
    }
    /* Options that never change between calls are set once per handle. */
    if (gda_aws_curl_set_defaults(h, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_URL, c->endpoint) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gda_aws_curl_body_write) != CURLE_OK) {
        curl_easy_cleanup(h);
        return NULL;
    }
    return h;
}

/* The copies and arrays the client owns (any may still be NULL when
 * construction failed part way). */
static void free_owned(gda_aws_client *c)
{
    free(c->service);
    free(c->region);
    free(c->endpoint);
    free(c->target_prefix);
    free(c->content_type);
    free(c->idle);
    free(c->sigv4);
}

gda_aws_client *gda_aws_client_new(const gda_aws_client_options *opts, gda_aws_credentials *creds,
                                   gda_error *err)
{
    if (!opts || !creds) {
        gda_error_set(err, GDA_ERR_INTERNAL, NULL, "AWS client: missing options or credentials");
        return NULL;
    }
    if (!opts->service || !*opts->service || !opts->region || !*opts->region) {
        gda_error_set(err, GDA_ERR_CONFIG, "region",
                      "AWS client: no region (set AWS_REGION or AWS_DEFAULT_REGION)");
        return NULL;
    }
    if (!opts->endpoint || !*opts->endpoint || !opts->target_prefix || !opts->content_type) {
        gda_error_set(err, GDA_ERR_CONFIG, "endpoint", "AWS client: no endpoint");
        return NULL;
    }
    if (strncmp(opts->endpoint, "http://", 7) != 0 && strncmp(opts->endpoint, "https://", 8) != 0) {
        gda_error_set(err, GDA_ERR_CONFIG, "endpoint",
                      "AWS client: the endpoint must be an http:// or https:// URL");
        return NULL;
    }
    if (opts->retry.max_attempts < 1 || opts->max_handles < 1 || opts->max_response_bytes < 1 ||
        opts->default_timeout_ms <= 0 ||
        opts->connect_timeout_ms <= 0) {
        gda_error_set(err, GDA_ERR_CONFIG, NULL, "AWS client: invalid retry policy or limits");
        return NULL;
    }
    if (gda_aws_global_init(err) != GDA_OK)
        return NULL;
    /* CURLOPT_AWS_SIGV4 arrived in libcurl 7.75.0. */
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    if (!info || info->version_num < 0x074B00) {
        gda_error_set(err, GDA_ERR_CONFIG, NULL, "libcurl 7.75.0 or newer is needed for SigV4");
        return NULL;
    }

    gda_aws_client *c = calloc(1, sizeof *c);
    if (!c) {
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    c->opts = *opts;
    c->service = dup_required(opts->service);
    c->region = dup_required(opts->region);
    c->endpoint = dup_required(opts->endpoint);
    c->target_prefix = dup_required(opts->target_prefix);
    c->content_type = dup_required(opts->content_type);
    c->idle = calloc(opts->max_handles, sizeof *c->idle);
    size_t sigv4_len = strlen("aws:amz:") + strlen(opts->region) + 1 + strlen(opts->service) + 1;
    c->sigv4 = malloc(sigv4_len);
    if (!c->service || !c->region || !c->endpoint || !c->target_prefix || !c->content_type ||
        !c->idle || !c->sigv4) {
        free_owned(c);
        free(c);
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    snprintf(c->sigv4, sigv4_len, "aws:amz:%s:%s", opts->region, opts->service);
    c->opts.service = c->service;
    c->opts.region = c->region;
    c->opts.endpoint = c->endpoint;
    c->opts.target_prefix = c->target_prefix;
    c->opts.content_type = c->content_type;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->handle_freed, NULL);

    /* Open the first handle now so a single-threaded caller never allocates
     * one on the request path. */
    CURL *first = handle_create(c);
    if (!first) {
        c->creds = NULL;
        gda_aws_client_free(c);
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "libcurl could not create a handle");
        return NULL;
    }
    c->idle[c->idle_count++] = first;
    c->handle_count = 1;
    c->creds = creds;
    return c;
}

void gda_aws_client_free(gda_aws_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->idle_count; i++)
        curl_easy_cleanup(c->idle[i]);
    pthread_cond_destroy(&c->handle_freed);
    pthread_mutex_destroy(&c->mu);
    gda_aws_credentials_free(c->creds);
    free_owned(c);
    free(c);
}

static CURL *handle_acquire(gda_aws_client *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->idle_count == 0 && c->handle_count >= c->opts.max_handles)
        pthread_cond_wait(&c->handle_freed, &c->mu);
    if (c->idle_count > 0) {
        CURL *h = c->idle[--c->idle_count];
        pthread_mutex_unlock(&c->mu);
        return h;
    }
    c->handle_count++;
    pthread_mutex_unlock(&c->mu);
    CURL *h = handle_create(c);
    if (!h) {
        pthread_mutex_lock(&c->mu);
        c->handle_count--;
        pthread_cond_signal(&c->handle_freed);
        pthread_mutex_unlock(&c->mu);
    }
    return h;
}

static void handle_release(gda_aws_client *c, CURL *h)
{
    pthread_mutex_lock(&c->mu);
    c->idle[c->idle_count++] = h;
    pthread_cond_signal(&c->handle_freed);
    pthread_mutex_unlock(&c->mu);
}

/* libcurl copies header strings into list nodes; wipe the copies (one holds
 * the session token) before they go back to the allocator. */
static void header_list_free(struct curl_slist *list)
{
    for (struct curl_slist *n = list; n; n = n->next)
        sodium_memzero(n->data, strlen(n->data));
    curl_slist_free_all(list);
}

static bool append_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *grown = curl_slist_append(*list, line);
    if (!grown)
        return false;
    *list = grown;
    return true;
}

static void parse_error_type(gda_aws_response *resp)
{
    resp->error_type[0] = '\0';
    if (!resp->body || resp->body_len == 0)
        return;
    json_t *doc = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (!doc)
        return;
    const char *type = json_string_value(json_object_get(doc, "__type"));
    if (type) {
        const char *hash = strrchr(type, '#');
        snprintf(resp->error_type, sizeof resp->error_type, "%s", hash ? hash + 1 : type);
    }
    json_decref(doc);
}

/* Failures where the request never left this host: safe to resend any write. */
static bool curl_error_before_send(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static bool curl_error_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return true;
    default:
        return false;
    }
}

typedef enum attempt_outcome {
    ATTEMPT_FINAL,     /* a response to hand back */
    ATTEMPT_RETRYABLE, /* throttled, 5xx or a network failure */
    ATTEMPT_TIMEOUT,   /* the deadline passed during the attempt */
    ATTEMPT_FAILED     /* status already set */
} attempt_outcome;

/* One HTTP round trip. Fills resp (body, status, error type); *net_error
 * receives the libcurl code. */
static attempt_outcome attempt_once(gda_aws_client *c, CURL *h, const char *operation,
                                    const char *body, size_t body_len, int64_t timeout_ms,
                                    gda_aws_response *resp, CURLcode *net_error,
                                    gda_status *status, gda_error *err)
{
    struct curl_slist *headers = NULL;
    char *userpwd = NULL;
    char *token_header = NULL;
    char line[256];
    /* Wiped as it grows: an answer can hold a secret (GetSecretValue), a
     * plaintext data key (KMS Decrypt) or a cached result, and realloc
     * would otherwise leave copies of it in freed blocks. */
    gda_aws_curl_body buf = {.buf = {.wipe = true}, .max = c->opts.max_response_bytes};
    attempt_outcome outcome = ATTEMPT_FAILED;
    int token_nomem = 0;

    *net_error = CURLE_OK;
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->http_status = 0;
    resp->error_type[0] = '\0';

    userpwd = gda_aws_credentials_userpwd(c->creds);
    token_header = gda_aws_credentials_token_header(c->creds, &token_nomem);
    if (!userpwd || token_nomem)
        goto nomem;
    snprintf(line, sizeof line, "Content-Type: %s", c->content_type);
    if (!append_header(&headers, line))
        goto nomem;
    if ((size_t)snprintf(line, sizeof line, "X-Amz-Target: %s.%s", c->target_prefix, operation) >=
        sizeof line) {
        *status = gda_error_set(err, GDA_ERR_INTERNAL, NULL, "AWS operation name too long");
        goto done;
    }
    /* No "Expect: 100-continue" round trip for larger bodies. */
    if (!append_header(&headers, line) || !append_header(&headers, "Expect:"))
        goto nomem;
    if (token_header && !append_header(&headers, token_header))
        goto nomem;

    long timeout = timeout_ms > LONG_MAX ? LONG_MAX : (long)timeout_ms;
    long connect_timeout = c->opts.connect_timeout_ms < timeout_ms
                               ? (long)c->opts.connect_timeout_ms
                               : timeout;
    if (curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &buf) != CURLE_OK) {
        *status = gda_error_set(err, GDA_ERR_INTERNAL, NULL, "libcurl rejected an option");
        goto done;
    }

    CURLcode rc = curl_easy_perform(h);
    long connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->http_status);
    pthread_mutex_lock(&c->mu);
    c->stats.attempts++;
    if (connects > 0)
        c->stats.connections += (uint64_t)connects;
    pthread_mutex_unlock(&c->mu);

    if (buf.buf.failed)
        goto nomem;
    if (buf.too_large) {
        *status = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL,
                                "AWS %s %s: response larger than %zu bytes", c->service, operation,
                                c->opts.max_response_bytes);
        goto done;
    }
    if (buf.buf.data && !(resp->body = gda_buf_steal(&buf.buf, &resp->body_len)))
        goto nomem;
    if (rc != CURLE_OK) {
        *net_error = rc;
        curl_off_t elapsed_us = 0;
        curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &elapsed_us);
        /* A timeout that used the whole budget is the deadline's; a shorter
         * one was the connect cap, and a retry may still fit. */
        if (rc == CURLE_OPERATION_TIMEDOUT && elapsed_us / 1000 + 5 >= timeout_ms)
            outcome = ATTEMPT_TIMEOUT;
        else if (curl_error_retryable(rc))
            outcome = ATTEMPT_RETRYABLE;
        else
            *status = gda_error_set(err, GDA_ERR_INTERNAL, NULL, "AWS %s %s: libcurl: %s",
                                    c->service, operation, curl_easy_strerror(rc));
        goto done;
    }
    parse_error_type(resp);
    if (resp->http_status >= 500 || resp->http_status == 429 ||
        gda_aws_error_is_throttling(resp->error_type))
        outcome = ATTEMPT_RETRYABLE;
    else
        outcome = ATTEMPT_FINAL;
    goto done;

nomem:
    *status = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    outcome = ATTEMPT_FAILED;
done:
    /* Take the credentials back out of the handle: libcurl keeps its own copy
     * of USERPWD until it is replaced. */
    curl_easy_setopt(h, CURLOPT_USERPWD, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    header_list_free(headers);
    gda_aws_secret_free(userpwd);
    gda_aws_secret_free(token_header);
    gda_buf_free(&buf.buf);
    return outcome;
}

static void describe_failure(char *out, size_t size, const gda_aws_response *resp, CURLcode rc)
{
    if (rc != CURLE_OK)
        snprintf(out, size, "%s", curl_easy_strerror(rc));
    else if (resp->error_type[0])
        snprintf(out, size, "%s", resp->error_type);
    else
        snprintf(out, size, "HTTP %ld", resp->http_status);
}

gda_status gda_aws_json_call(gda_aws_client *c, const char *operation, const char *body,
                             size_t body_len, int64_t deadline_ms, gda_aws_response *resp,
                             gda_error *err)
{
    if (!c || !operation || !body || !resp)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "AWS call: missing argument");
    memset(resp, 0, sizeof *resp);

    const gda_clock *clock = &c->opts.clock; /* zeroed hooks: the system's */
    int64_t start = gda_clock_read(clock);
    int64_t deadline = deadline_ms > 0 ? deadline_ms : start + c->opts.default_timeout_ms;

    pthread_mutex_lock(&c->mu);
    c->stats.calls++;
    pthread_mutex_unlock(&c->mu);

    CURL *h = handle_acquire(c);
    if (!h)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "libcurl could not create a handle");

    gda_status status = GDA_OK;
    char why[96];
    for (unsigned attempt = 0;; attempt++) {
        int64_t remaining = deadline - gda_clock_read(clock);
        if (remaining <= 0) {
            status = gda_error_set(err, GDA_ERR_TIMEOUT, NULL,
                                   "AWS %s %s: deadline passed before the request was sent",
                                   c->service, operation);
            break;
        }
        CURLcode rc = CURLE_OK;
        attempt_outcome outcome =
            attempt_once(c, h, operation, body, body_len, remaining, resp, &rc, &status, err);
        resp->attempts = attempt + 1;
        if (outcome == ATTEMPT_FINAL) {
            status = GDA_OK;
            break;
        }
        if (outcome == ATTEMPT_FAILED)
            break;
        if (outcome == ATTEMPT_TIMEOUT) {
            status = gda_error_set(err, GDA_ERR_TIMEOUT, NULL,
                                   "AWS %s %s: no answer before the deadline (%u attempts)",
                                   c->service, operation, attempt + 1);
            break;
        }
        /* 5xx and dropped connections may hide an applied write; throttling
         * and refused connections never do. */
        if (!(rc == CURLE_OK && gda_aws_error_is_throttling(resp->error_type)) &&
            !(rc != CURLE_OK && curl_error_before_send(rc)))
            resp->ambiguous = true;
        describe_failure(why, sizeof why, resp, rc);
        if (attempt + 1 >= c->opts.retry.max_attempts) {
            status = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL,
                                   "AWS %s %s unavailable after %u attempts (%s)", c->service,
                                   operation, attempt + 1, why);
            break;
        }
        int64_t backoff = gda_aws_backoff_ms(&c->opts.retry, attempt);
        /* Never sleep into (or past) the deadline: there would be no time
         * left for the retry the sleep is for. */
        if (gda_clock_read(clock) + backoff >= deadline) {
            status = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL,
                                   "AWS %s %s unavailable until the deadline (%u attempts, %s)",
                                   c->service, operation, attempt + 1, why);
            break;
        }
        pthread_mutex_lock(&c->mu);
        c->stats.retries++;
        pthread_mutex_unlock(&c->mu);
        gda_clock_wait(clock, backoff);
    }
    handle_release(c, h);
    if (status != GDA_OK && status != GDA_ERR_UNAVAILABLE && status != GDA_ERR_TIMEOUT) {
        /* Keep the response only when it explains a service failure. */
        gda_aws_response_clear(resp);
    }
    return status;
}

void gda_aws_client_stats_get(gda_aws_client *c, gda_aws_client_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

gda_status gda_aws_service_client_new(const gda_aws_service *svc, const char *region,
                                      const char *endpoint, gda_aws_credentials *creds,
                                      int64_t timeout_ms, gda_aws_client **out, gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "out NULL");
    *out = NULL;
    if (!region || !*region)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_REGION", "%s needs a region (AWS_REGION)",
                             svc->what);
    if (!creds)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_ACCESS_KEY_ID", "%s needs credentials",
                             svc->what);
    if (timeout_ms < 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "timeout", "timeout must not be negative");
    char default_endpoint[256];
    if (!endpoint || !*endpoint) {
        int n = snprintf(default_endpoint, sizeof default_endpoint, "https://%s.%s.amazonaws.com",
                         svc->service, region);
        if (n < 0 || (size_t)n >= sizeof default_endpoint)
            return gda_error_set(err, GDA_ERR_CONFIG, "AWS_REGION", "region name too long");
        endpoint = default_endpoint;
    }
    gda_aws_client_options o = gda_aws_client_options_default();
    o.service = svc->service;
    o.region = region;
    o.endpoint = endpoint;
    o.target_prefix = svc->target_prefix;
    o.content_type = "application/x-amz-json-1.1";
    o.default_timeout_ms = timeout_ms ? timeout_ms : 3000;
    o.max_handles = 1;
    o.max_response_bytes = svc->max_response_bytes;
    o.retry.max_attempts = 4;
    o.retry.base_ms = 50;
    o.retry.cap_ms = 500;
    gda_error local;
    gda_error *e = err ? err : &local; /* the code survives a NULL err */
    *out = gda_aws_client_new(&o, creds, e);
    return *out ? GDA_OK : e->code;
}
