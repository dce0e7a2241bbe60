/* Test harness: local Lambda Runtime API stand-in (see runtime_standin.h). */
#include "runtime_standin.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mini_httpd.h"

#define PREFIX "/2018-06-01/runtime/"

typedef struct invocation {
    char *event; /* NULL for repeat invocations: the template is used */
    size_t len;
    int64_t deadline_in_ms;
    char trace_id[128];
    bool recorded;
    rapi_result result;
} invocation;

struct rapi {
    mini_httpd *http;
    char address[32];
    rapi_faults faults;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    /* recorded invocations: numbers 0..n_recorded-1 map to inv[]; repeat
     * invocations are numbered after them as they are queued */
    invocation *inv;
    size_t inv_cap;
    uint64_t queued;     /* invocations queued in total */
    uint64_t delivered;  /* invocations handed out by next */
    char *repeat_event;
    size_t repeat_len;
    uint64_t repeat_first, repeat_count; /* numbers [first, first+count) use the template */
    uint64_t response_posts;
    unsigned char *finished_bits; /* for repeat invocations: answered yet? */
    size_t finished_bits_cap;
    char init_bodies[4][2048];
    char init_types[4][128];
    rapi_stats stats;
};

int64_t rapi_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static invocation *find(rapi *r, uint64_t i)
{
    if (i < r->inv_cap && r->inv && i < r->queued && (i < r->repeat_first || i >= r->repeat_first + r->repeat_count))
        return &r->inv[i];
    return NULL;
}

static bool is_repeat(rapi *r, uint64_t i)
{
    return r->repeat_count && i >= r->repeat_first && i < r->repeat_first + r->repeat_count;
}

static bool parse_id(const char *p, uint64_t *out, const char **rest)
{
    if (strncmp(p, "inv-", 4) != 0)
        return false;
    char *end = NULL;
    unsigned long long v = strtoull(p + 4, &end, 10);
    if (end == p + 4)
        return false;
    *out = v;
    *rest = end;
    return true;
}

static void answer(mini_response *resp, int status, const char *body)
{
    resp->status = status;
    mini_set_body(resp, body, strlen(body));
}

/* Mark invocation i finished; true if it was not yet. Caller holds mu. */
static bool finish(rapi *r, uint64_t i, rapi_kind kind, const char *type, const char *body,
                   size_t len)
{
    if (is_repeat(r, i)) {
        uint64_t bit = i - r->repeat_first;
        if (r->finished_bits[bit / 8] & (1u << (bit % 8)))
            return false;
        r->finished_bits[bit / 8] |= (unsigned char)(1u << (bit % 8));
    } else {
        invocation *v = find(r, i);
        if (!v)
            return false;
        v->result.posts++;
        if (v->result.kind != RAPI_PENDING)
            return false;
        v->result.kind = kind;
        snprintf(v->result.error_type, sizeof v->result.error_type, "%s", type ? type : "");
        v->result.body = malloc(len + 1);
        if (v->result.body) {
            memcpy(v->result.body, body, len);
            v->result.body[len] = '\0';
            v->result.body_len = len;
        }
    }
    r->stats.finished++;
    int64_t now = rapi_now_ns();
    if (!r->stats.first_finished_ns)
        r->stats.first_finished_ns = now;
    r->stats.last_finished_ns = now;
    pthread_cond_broadcast(&r->cond);
    return true;
}

static void serve_next(rapi *r, mini_response *resp)
{
    pthread_mutex_lock(&r->mu);
    uint64_t number = ++r->stats.nexts;
    if (!r->stats.first_next_ns)
        r->stats.first_next_ns = rapi_now_ns();
    pthread_cond_broadcast(&r->cond);
    bool reset = r->faults.reset_next_from && number >= r->faults.reset_next_from &&
                 number < (uint64_t)r->faults.reset_next_from + r->faults.reset_next_count;
    if (reset) {
        pthread_mutex_unlock(&r->mu);
        resp->status = 0;
        return;
    }
    while (!r->stopping && r->delivered >= r->queued)
        pthread_cond_wait(&r->cond, &r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        resp->status = 0;
        return;
    }
    uint64_t i = r->delivered++;
    const char *event;
    size_t len;
    int64_t deadline_in = 30000;
    char trace[160];
    char *expanded = NULL;
    if (is_repeat(r, i)) {
        event = r->repeat_event;
        len = r->repeat_len;
        /* "{{n}}" in the template becomes the invocation number, so a long
         * run can send distinct idempotency keys. */
        const char *mark = strstr(event, "{{n}}");
        if (mark) {
            expanded = malloc(len + 32);
            if (expanded) {
                size_t pre = (size_t)(mark - event);
                int k = snprintf(expanded, len + 32, "%.*s%llu%s", (int)pre, event,
                                 (unsigned long long)i, mark + 5);
                if (k > 0) {
                    event = expanded;
                    len = (size_t)k;
                }
            }
        }
        snprintf(trace, sizeof trace, "Root=1-00000000-%024llx;Sampled=0", (unsigned long long)i);
    } else {
        invocation *v = find(r, i);
        event = v->event;
        len = v->len;
        deadline_in = v->deadline_in_ms;
        snprintf(trace, sizeof trace, "%s", v->trace_id);
    }
    mini_set_body(resp, event, len);
    free(expanded);
    pthread_mutex_unlock(&r->mu);
    if (r->faults.slow_next_ms > 0) {
        struct timespec ts = {.tv_sec = r->faults.slow_next_ms / 1000,
                              .tv_nsec = (long)(r->faults.slow_next_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    resp->status = 200;
    snprintf(resp->headers, sizeof resp->headers,
             "Lambda-Runtime-Aws-Request-Id: inv-%llu\r\n"
             "Lambda-Runtime-Deadline-Ms: %lld\r\n"
             "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:gda-test\r\n"
             "Lambda-Runtime-Trace-Id: %s\r\n",
             (unsigned long long)i, (long long)(wall_ms() + deadline_in), trace);
}

static void route(const mini_request *req, mini_response *resp, void *user)
{
    rapi *r = user;
    const char *t = mini_target_after(req, PREFIX);
    if (!t) {
        answer(resp, 404, "{\"errorMessage\":\"not found\"}");
        return;
    }
    if (strcmp(req->method, "GET") == 0 && strcmp(t, "invocation/next") == 0) {
        serve_next(r, resp);
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        answer(resp, 404, "{\"errorMessage\":\"not found\"}");
        return;
    }
    const char *type = mini_header(req, "Lambda-Runtime-Function-Error-Type");
    if (strcmp(t, "init/error") == 0) {
        pthread_mutex_lock(&r->mu);
        unsigned k = (unsigned)r->stats.init_errors++;
        if (k < 4) {
            snprintf(r->init_bodies[k], sizeof r->init_bodies[k], "%s", req->body);
            snprintf(r->init_types[k], sizeof r->init_types[k], "%s", type ? type : "");
        }
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
        answer(resp, 202, "{\"status\":\"OK\"}");
        return;
    }
    uint64_t i;
    const char *rest;
    if (strncmp(t, "invocation/", 11) != 0 || !parse_id(t + 11, &i, &rest)) {
        answer(resp, 404, "{\"errorMessage\":\"unknown request id\"}");
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (i >= r->delivered) {
        pthread_mutex_unlock(&r->mu);
        answer(resp, 400, "{\"errorMessage\":\"invalid request id\"}");
        return;
    }
    if (strcmp(rest, "/response") == 0) {
        uint64_t n = ++r->response_posts;
        if (r->faults.reject_response && n == r->faults.reject_response) {
            r->stats.rejected++;
            invocation *v = find(r, i);
            if (v)
                v->result.response_rejected = true;
            pthread_mutex_unlock(&r->mu);
            answer(resp, 413, "{\"errorMessage\":\"payload too large\",\"errorType\":\"RequestEntityTooLarge\"}");
            return;
        }
        bool fresh = finish(r, i, RAPI_RESPONSE, NULL, req->body, req->body_len);
        if (fresh)
            r->stats.responses++;
        else
            r->stats.duplicates++;
        pthread_mutex_unlock(&r->mu);
        if (fresh)
            answer(resp, 202, "{\"status\":\"OK\"}");
        else
            answer(resp, 400, "{\"errorMessage\":\"invocation already answered\"}");
        return;
    }
    if (strcmp(rest, "/error") == 0) {
        bool fresh = finish(r, i, RAPI_ERROR, type, req->body, req->body_len);
        if (fresh)
            r->stats.errors++;
        else
            r->stats.duplicates++;
        pthread_mutex_unlock(&r->mu);
        if (fresh)
            answer(resp, 202, "{\"status\":\"OK\"}");
        else
            answer(resp, 400, "{\"errorMessage\":\"invocation already answered\"}");
        return;
    }
    pthread_mutex_unlock(&r->mu);
    answer(resp, 404, "{\"errorMessage\":\"not found\"}");
}

rapi *rapi_start(const rapi_faults *faults)
{
    rapi *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (faults)
        r->faults = *faults;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->http = mini_httpd_start(route, r);
    if (!r->http) {
        free(r);
        return NULL;
    }
    snprintf(r->address, sizeof r->address, "127.0.0.1:%d", mini_httpd_port(r->http));
    return r;
}

const char *rapi_address(const rapi *r)
{
    return r->address;
}

static bool grow(rapi *r, uint64_t need)
{
    if (need <= r->inv_cap)
        return true;
    size_t cap = r->inv_cap ? r->inv_cap : 64;
    while (cap < need)
        cap *= 2;
    invocation *p = realloc(r->inv, cap * sizeof *p);
    if (!p)
        return false;
    memset(p + r->inv_cap, 0, (cap - r->inv_cap) * sizeof *p);
    r->inv = p;
    r->inv_cap = cap;
    return true;
}

uint64_t rapi_push(rapi *r, const char *event, size_t len, int64_t deadline_in_ms,
                   const char *trace_id)
{
    pthread_mutex_lock(&r->mu);
    uint64_t i = r->queued;
    if (r->repeat_count || !grow(r, i + 1)) {
        /* recorded invocations must come before a repeat block */
        pthread_mutex_unlock(&r->mu);
        return UINT64_MAX;
    }
    invocation *v = &r->inv[i];
    v->event = malloc(len + 1);
    memcpy(v->event, event, len);
    v->event[len] = '\0';
    v->len = len;
    v->deadline_in_ms = deadline_in_ms > 0 ? deadline_in_ms : 30000;
    if (trace_id)
        snprintf(v->trace_id, sizeof v->trace_id, "%s", trace_id);
    else
        snprintf(v->trace_id, sizeof v->trace_id, "Root=1-5f84c7a9-%024llx;Sampled=1",
                 (unsigned long long)i);
    v->recorded = true;
    r->queued++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    return i;
}

uint64_t rapi_push_repeat(rapi *r, const char *event, size_t len, uint64_t count)
{
    pthread_mutex_lock(&r->mu);
    if (r->repeat_count) {
        pthread_mutex_unlock(&r->mu);
        return UINT64_MAX;
    }
    r->repeat_event = malloc(len + 1);
    r->finished_bits = calloc(count / 8 + 1, 1);
    memcpy(r->repeat_event, event, len);
    r->repeat_event[len] = '\0';
    r->repeat_len = len;
    r->repeat_first = r->queued;
    r->repeat_count = count;
    r->queued += count;
    pthread_cond_broadcast(&r->cond);
    uint64_t first = r->repeat_first;
    pthread_mutex_unlock(&r->mu);
    return first;
}

static bool wait_until(rapi *r, const uint64_t *counter, uint64_t n, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (*counter < n) {
        if (pthread_cond_timedwait(&r->cond, &r->mu, &until) != 0)
            break;
    }
    bool ok = *counter >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

bool rapi_wait_finished(rapi *r, uint64_t n, int timeout_ms)
{
    return wait_until(r, &r->stats.finished, n, timeout_ms);
}

bool rapi_wait_nexts(rapi *r, uint64_t n, int timeout_ms)
{
    return wait_until(r, &r->stats.nexts, n, timeout_ms);
}

bool rapi_get(rapi *r, uint64_t i, rapi_result *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&r->mu);
    invocation *v = find(r, i);
    bool ok = v != NULL;
    if (ok) {
        *out = v->result;
        out->body = NULL;
        if (v->result.body) {
            out->body = malloc(v->result.body_len + 1);
            if (out->body)
                memcpy(out->body, v->result.body, v->result.body_len + 1);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void rapi_result_clear(rapi_result *res)
{
    free(res->body);
    memset(res, 0, sizeof *res);
}

bool rapi_init_error(rapi *r, unsigned k, char *body, size_t body_size, char *type,
                     size_t type_size)
{
    pthread_mutex_lock(&r->mu);
    bool ok = k < r->stats.init_errors && k < 4;
    if (ok) {
        snprintf(body, body_size, "%s", r->init_bodies[k]);
        snprintf(type, type_size, "%s", r->init_types[k]);
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void rapi_stats_get(rapi *r, rapi_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
}

bool rapi_trace_id(rapi *r, uint64_t i, char *out, size_t size)
{
    pthread_mutex_lock(&r->mu);
    invocation *v = find(r, i);
    if (v)
        snprintf(out, size, "%s", v->trace_id);
    pthread_mutex_unlock(&r->mu);
    return v != NULL;
}

void rapi_stop(rapi *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    mini_httpd_stop(r->http);
    for (size_t i = 0; i < r->inv_cap && i < r->queued; i++) {
        if (is_repeat(r, i))
            continue;
        free(r->inv[i].event);
        free(r->inv[i].result.body);
    }
    free(r->inv);
    free(r->repeat_event);
    free(r->finished_bits);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
