/* libgda fuzzing — gda_app_handle end to end over the memory store.
 *
 * Input: one mode byte, then an HTTP-like request (fuzz_common.h). Header
 * lines ":method" and ":path" replace the default POST /genesys/dataaction.
 *   mode & 1   the body is a whole Lambda event instead: it goes through
 *              gda_event_decode and whatever it decodes to (REST, HTTP API,
 *              ALB, direct) is handled
 *   mode & 2   add a valid X-Genesys-Signature token (so most inputs get
 *              past authentication; without it the fuzzer must keep one)
 *   mode & 4   in-progress policy "conflict" (409) and direct invocations
 *              authenticated like HTTP
 *   mode & 8   cached results encrypted under a data key
 *   mode & 16  a local LRU cache in front of the store
 * Each input builds a fresh app (so a crash replays on its own), sends the
 * request, then sends it again as Genesys' retry would, and for a handler
 * that answered 202 finishes it and retries once more. The handler's answer
 * depends on the last character of the idempotency key: '5' retryable 503,
 * '4' business 422, '2' accepted 202, anything else 200.
 *
 * Invariants: the returned status is the response's; the HTTP status matches
 * it; the body is a Genesys-shaped JSON object whose requiresRetry matches
 * the code; 401s never ran the handler; a final answer (2xx or 4xx from the
 * handler) is replayed byte for byte and the handler never runs twice for
 * it; the caller's number (callerId) never appears in a response or a log
 * line unless the body repeats it under another member. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <gda/app.h>
#include <gda/idempotency.h>
#include <gda/log.h>
#include <gda/request.h>
#include <gda/response.h>
#include <gda/verify.h>

int gda_fuzz_app(const uint8_t *data, size_t size);

typedef struct fuzz_state {
    int calls;
    int64_t now_ms;
    char token[512];
    char *log;
    size_t log_len;
    size_t log_cap;
} fuzz_state;

static void sink(const char *line, size_t len, void *user)
{
    fuzz_state *s = user;
    if (s->log_len + len + 1 > s->log_cap) {
        size_t cap = (s->log_len + len + 1) * 2;
        char *p = realloc(s->log, cap);
        if (!p)
            return;
        s->log = p;
        s->log_cap = cap;
    }
    memcpy(s->log + s->log_len, line, len);
    s->log_len += len;
    s->log[s->log_len] = '\0';
}

static int64_t clock_fn(void *user)
{
    return ((fuzz_state *)user)->now_ms;
}

static void sleep_fn(int64_t ms, void *user)
{
    ((fuzz_state *)user)->now_ms += ms;
}

static gda_status handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                          gda_error *err, void *user)
{
    fuzz_state *s = user;
    s->calls++;
    const char *key = gda_request_idempotency_key(req);
    char last = key[strlen(key) - 1];
    switch (last) {
    case '5':
        return gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "backend down");
    case '4':
        return gda_error_set(err, GDA_ERR_UNPROCESSABLE, "queueId", "queue closed");
    case '2': {
        const char *t = NULL;
        if (gda_ctx_accept(ctx, &t, err) != GDA_OK)
            return GDA_ERR_UNAVAILABLE;
        if (strlen(t) < sizeof s->token)
            strcpy(s->token, t);
        return GDA_ACCEPTED;
    }
    default:
        *data_out = json_pack("{s:b,s:i}", "ok", 1, "calls", s->calls);
        return *data_out ? GDA_OK : GDA_ERR_NOMEM;
    }
}

static int check_response(const gda_http_response *r, gda_status ret)
{
    FUZZ_CHECK(ret == r->code);
    FUZZ_CHECK(r->status >= 200 && r->status <= 599);
    FUZZ_CHECK(r->status == gda_status_http(r->code));
    FUZZ_CHECK(r->n_headers >= 1 && r->n_headers <= GDA_RESPONSE_MAX_HEADERS);
    FUZZ_CHECK(strcmp(r->headers[0].value, GDA_RESPONSE_CONTENT_TYPE) == 0);
    for (size_t i = 0; i < r->n_headers; i++)
        FUZZ_CHECK(!strpbrk(r->headers[i].name, "\r\n") && !strpbrk(r->headers[i].value, "\r\n"));
    FUZZ_CHECK(r->body && r->body[r->body_len] == '\0');
    json_error_t jerr;
    json_t *b = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_CHECK(json_is_object(b));
    json_t *retry = json_object_get(b, "requiresRetry");
    const char *status = json_string_value(json_object_get(b, "status"));
    int bad = !json_is_boolean(retry) || !status;
    if (!bad && r->code != GDA_OK && r->code != GDA_ACCEPTED)
        bad = strcmp(status, "error") != 0 || json_is_true(retry) != gda_status_retryable(r->code);
    json_decref(b);
    FUZZ_CHECK(!bad);
    return 0;
}

/* The callerId string of the body, when it is worth checking for leaks: a
 * number of at least 8 bytes present only once in the raw body (a requestId equal to
 * it may be logged and echoed legitimately). */
static char *caller_id(const gda_http_request *req)
{
    json_t *j = req->body_json ? json_incref((json_t *)req->body_json)
                               : json_loadb(req->body.ptr, req->body.len, 0, NULL);
    const char *c = json_string_value(json_object_get(j, "callerId"));
    char *out = NULL;
    /* Phone-number-like values only ("+" and digits): other text can occur
     * in a log line by coincidence (a metric name, a status word). */
    if (c && strlen(c) >= 8 && c[0] == '+' && strspn(c + 1, "0123456789") == strlen(c) - 1) {
        size_t n = strlen(c), count = 0;
        for (size_t i = 0; i + n <= req->body.len; i++)
            count += memcmp(req->body.ptr + i, c, n) == 0;
        if (count <= 1)
            out = strdup(c);
    }
    json_decref(j);
    return out;
}

static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; hay && i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    }
    return false;
}

static gda_app *make_app(unsigned mode, fuzz_state *st)
{
    static const uint8_t data_key[GDA_IDEM_DATA_KEY_LEN] = {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    gda_error err = {0};
    gda_verifier *v = NULL;
    if (gda_verifier_new_from_config("token", fuzz_keyring_text, strlen(fuzz_keyring_text),
                                     NULL, &v, &err) != GDA_OK)
        return NULL;
    gda_app_config cfg = gda_app_config_default();
    cfg.verifier = v;
    cfg.handler = handler;
    cfg.handler_user = st;
    cfg.log.sink = sink;
    cfg.log.sink_user = st;
    cfg.log.level = GDA_LOG_DEBUG;
    cfg.idem.in_progress_wait_ms = 0;
    cfg.idem.clock.now_ms = clock_fn;
    cfg.idem.clock.sleep_ms = sleep_fn;
    cfg.idem.clock.user = st;
    if (mode & 4) {
        cfg.idem.busy_policy = GDA_IDEM_BUSY_CONFLICT;
        cfg.direct_invocation_trusted = false;
    }
    if (mode & 8) {
        cfg.idem.data_key = data_key;
        cfg.idem.data_key_len = GDA_IDEM_DATA_KEY_LEN;
    }
    if (mode & 16)
        cfg.idem.local_cache_entries = 4;
    return gda_app_new(&cfg, &err);
}

int gda_fuzz_app(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    fuzz_http h;
    if (!fuzz_http_parse(data + 1, size - 1, &h))
        return 0;
    fuzz_state st;
    memset(&st, 0, sizeof st);
    st.now_ms = FUZZ_NOW_MS;
    gda_app *app = make_app(mode, &st);
    gda_http_request ev = {0};
    gda_http_request *req = &h.req;
    char *caller = NULL;
    int rc = 0;
    if (!app)
        goto out;

    for (size_t i = 0; i < h.req.n_headers; i++) {
        if (gda_slice_ieq(h.headers[i].name, ":method"))
            h.req.method = h.headers[i].value;
        else if (gda_slice_ieq(h.headers[i].name, ":path"))
            h.req.path = h.headers[i].value;
    }
    if ((mode & 2) && h.req.n_headers < FUZZ_MAX_HEADERS) {
        h.headers[h.req.n_headers].name = gda_slice_cstr("X-Genesys-Signature");
        h.headers[h.req.n_headers].value =
            gda_slice_cstr("AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o=");
        h.req.n_headers++;
    }
    if (mode & 1) {
        if (gda_event_decode(h.req.body.ptr, h.req.body.len, 0, &ev, NULL) != GDA_OK)
            goto out;
        req = &ev;
    }
    caller = caller_id(req);

    gda_http_response r1 = {0}, r2 = {0}, r3 = {0};
    gda_invocation inv = {0};
    inv.aws_request_id = "fuzz-aws-request";
    inv.trace_id = "Root=1-00000000-000000000000000000000000";
    gda_status s1 = gda_app_handle(app, req, &inv, &r1);
    int calls_first = st.calls;
    st.now_ms += 1000;
    gda_status s2 = gda_app_handle(app, req, &inv, &r2);
    rc = check_response(&r1, s1);
    if (rc == 0)
        rc = check_response(&r2, s2);
#define CHECK(c)                                                                             \
    do {                                                                                     \
        if (rc == 0 && !(c)) {                                                               \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #c);   \
            rc = 1;                                                                          \
        }                                                                                    \
    } while (0)
    CHECK(calls_first <= 1 && st.calls <= 2);
    CHECK(r1.status != 401 || calls_first == 0);
    /* A final answer from the handler is cached: the retry replays it. */
    bool final = calls_first == 1 && (r1.status == 200 || r1.status == 202 ||
                                      (r1.status >= 400 && r1.status < 500));
    if (final) {
        CHECK(st.calls == 1);
        CHECK(r2.status == r1.status && r2.body_len == r1.body_len &&
              memcmp(r2.body, r1.body, r1.body_len) == 0);
    }
    /* A retryable failure released the lease: the retry ran it again. */
    if (calls_first == 1 && r1.status == 503 && s1 == GDA_ERR_UNAVAILABLE)
        CHECK(st.calls == 2);
    if (final && r1.status == 202 && st.token[0]) {
        json_t *done = json_pack("{s:b}", "done", 1);
        gda_error ferr = {0};
        gda_status fs = gda_app_finish(app, st.token, done, NULL, &ferr);
        json_decref(done);
        CHECK(fs == GDA_OK || fs == GDA_ERR_NOMEM);
        st.now_ms += 1000;
        gda_status s3 = gda_app_handle(app, req, &inv, &r3);
        if (rc == 0)
            rc = check_response(&r3, s3);
        CHECK(fs != GDA_OK || r3.status == 200);
        CHECK(st.calls == 1);
    }
    if (caller) {
        CHECK(!contains(r1.body, r1.body_len, caller));
        CHECK(!contains(r2.body, r2.body_len, caller));
        CHECK(!contains(st.log, st.log_len, caller));
    }
#undef CHECK
    gda_http_response_release(&r1);
    gda_http_response_release(&r2);
    gda_http_response_release(&r3);
out:
    free(caller);
    free(st.log);
    gda_app_free(app);
    gda_http_request_release(&ev);
    fuzz_http_free(&h);
    return rc;
}

#ifndef GDA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gda_fuzz_app(data, size))
        abort();
    return 0;
}
#endif
