/* gda invoke — send a Data Action request the way Genesys does: signed once,
 * then resent byte for byte on 5xx, timeouts and connection failures, never
 * on 4xx. The target is a URL (POST with libcurl), or a local function.zip or
 * bootstrap that this command runs itself under its own Lambda Runtime API,
 * like `sam local invoke`. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "base64.h"
#include "buf.h"
#include "hex.h"
#include "percent.h"

extern char **environ;

#define DEFAULT_PATH "/genesys/dataaction"
#define USER_AGENT "gda-invoke"
#define RUNTIME_PREFIX "/2018-06-01/runtime/"
#define FUNCTION_NAME "gda-local"
#define FUNCTION_ARN "arn:aws:lambda:us-east-1:000000000000:function:" FUNCTION_NAME
#define MAX_RETRY_DELAY_MS 10000
#define STOP_GRACE_MS 3000 /* the runtime notices SIGTERM within its 1 s progress tick */
#define POLL_MS 20
#define MAX_ENV 256
#define UUID_LEN 36

enum { OPT_TIMEOUT = OPT_FIRST_OWN, OPT_RETRIES, OPT_RETRY_DELAY, OPT_REPEAT };

static void invoke_usage(FILE *out)
{
    fprintf(out,
            "usage: gda invoke --scheme S [--keys RING | --keys-file F] [options] TARGET < body\n\n"
            "Sends a Data Action request as Genesys does: the body (stdin or --body-file) is\n"
            "signed once, exactly as gda sign would, and every attempt sends the same bytes\n"
            "and headers. 5xx answers, timeouts and connection failures are retried; 4xx\n"
            "never. Each attempt prints \"attempt N: STATUS LATENCY ms\" and the response\n"
            "body, or \"attempt N: error MESSAGE LATENCY ms\".\n\n"
            "TARGET is one of\n"
            "  http(s)://HOST/PATH   POSTed to with libcurl (gda-httpd, API Gateway); the\n"
            "                        hmac path is the URL's path and query unless --path\n"
            "  FILE.zip              a Lambda package (ninja lambda-zip): unzipped into a\n"
            "                        private directory and its bootstrap run as below\n"
            "  BOOTSTRAP             a custom-runtime executable, run under a built-in Runtime\n"
            "                        API on 127.0.0.1 with the caller's GDA_* and AWS_*\n"
            "                        variables; each attempt is one API Gateway REST proxy\n"
            "                        event with a fresh request id; its logs go to stderr\n\n"
            "Exit status: 0 when the final attempt got a 2xx answer (with --repeat: every\n"
            "request did), 1 when it got another answer or none (or the function failed\n"
            "to start), 2 on usage or configuration errors.\n\n"
            "%s%s"
            "  -H, --header-line 'Name: value'  an extra request header (repeatable)\n"
            "  --timeout S           per attempt, in seconds (default 10)\n"
            "  --retries N           attempts after the first (default 2)\n"
            "  --retry-delay-ms MS   wait before the first retry, doubled for each\n"
            "                        further one (default 500)\n"
            "  --repeat N            send the request N times, each with its own retries,\n"
            "                        as a resent captured request would be (default 1)\n",
            gda_cli_common_help, gda_cli_signing_help);
}

/* ---- the request, built once --------------------------------------------- */

typedef struct header_pair {
    char *name, *value;
} header_pair;

typedef struct request {
    const char *method;
    const char *path; /* with ?query: what hmac signed */
    gda_slice body;
    header_pair headers[GDA_CLI_MAX_HEADERS + GDA_SIGNED_MAX_HEADERS + 3];
    size_t n_headers;
} request;

static void request_release(request *rq)
{
    for (size_t i = 0; i < rq->n_headers; i++) {
        free(rq->headers[i].name);
        gda_cli_wipe(rq->headers[i].value, strlen(rq->headers[i].value));
    }
    rq->n_headers = 0;
}

static bool add_header(request *rq, const char *name, size_t name_len, const char *value,
                       size_t value_len)
{
    header_pair *h = &rq->headers[rq->n_headers];
    h->name = strndup(name, name_len);
    h->value = strndup(value, value_len);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        fprintf(stderr, "gda invoke: out of memory\n");
        return false;
    }
    rq->n_headers++;
    return true;
}

static bool has_header(const request *rq, const char *name)
{
    for (size_t i = 0; i < rq->n_headers; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0)
            return true;
    return false;
}

/* The -H lines first, so that they can replace the defaults that follow. */
static bool build_headers(request *rq, const auth_args *a, const gda_signed_headers *sig)
{
    for (size_t i = 0; i < a->n_header_lines; i++) {
        gda_header h;
        if (!gda_cli_split_header(a->header_lines[i], strlen(a->header_lines[i]), &h)) {
            fprintf(stderr, "gda invoke: -H needs 'Name: value'\n");
            return false;
        }
        if (!add_header(rq, h.name.ptr, h.name.len, h.value.ptr, h.value.len))
            return false;
    }
    for (size_t i = 0; i < sig->n; i++)
        if (!add_header(rq, sig->headers[i].name, strlen(sig->headers[i].name),
                        sig->headers[i].value, strlen(sig->headers[i].value)))
            return false;
    static const char *const defaults[][2] = {
        {"Content-Type", "application/json"},
        {"Accept", "application/json"},
        {"User-Agent", USER_AGENT},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (!has_header(rq, defaults[i][0]) &&
            !add_header(rq, defaults[i][0], strlen(defaults[i][0]), defaults[i][1],
                        strlen(defaults[i][1])))
            return false;
    return true;
}

/* ---- one attempt's outcome ------------------------------------------------ */

typedef struct outcome {
    int status;      /* HTTP status; 0 when no answer came */
    char error[256]; /* no answer: why */
    bool retryable;  /* no answer: a timeout or a failed connection */
    bool init_error; /* the local function failed to start: stop at once */
    gda_buf body;    /* empty when memory ran out */
} outcome;

static void outcome_set_body(outcome *o, const char *p, size_t n)
{
    gda_buf_free(&o->body);
    if (!gda_buf_append(&o->body, p, n))
        gda_buf_free(&o->body);
}

static void print_outcome(unsigned attempt, const outcome *o, int64_t ms)
{
    if (o->init_error)
        printf("attempt %u: init error %lld ms\n", attempt, (long long)ms);
    else if (o->status)
        printf("attempt %u: %d %lld ms\n", attempt, o->status, (long long)ms);
    else
        printf("attempt %u: error %s %lld ms\n", attempt, o->error, (long long)ms);
    if (o->body.len) {
        fwrite(o->body.data, 1, o->body.len, stdout);
        if (o->body.data[o->body.len - 1] != '\n')
            putchar('\n');
    }
    fflush(stdout);
}

/* ---- URL target ------------------------------------------------------------ */

typedef struct url_target {
    CURL *curl;
    struct curl_slist *lines;
    char errbuf[CURL_ERROR_SIZE];
    outcome *current;
} url_target;

static size_t on_url_body(char *p, size_t size, size_t nmemb, void *user)
{
    outcome *o = user;
    size_t n = size * nmemb;
    if (o->body.len + n > GDA_CLI_MAX_BODY)
        return 0; /* a Data Action answer this large is a failure anyway */
    return gda_buf_append(&o->body, p, n) ? n : 0;
}

/* The path and query curl will send, which is what an hmac signature binds. */
static char *url_path(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *path = NULL, *query = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
        curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
            query = NULL;
        size_t n = strlen(path) + (query ? strlen(query) + 1 : 0) + 1;
        if ((out = malloc(n)))
            snprintf(out, n, "%s%s%s", path, query ? "?" : "", query ? query : "");
    }
    curl_free(scheme);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return out;
}

static bool url_open(url_target *t, const char *url, const request *rq, long timeout_s)
{
    memset(t, 0, sizeof *t);
    if (!(t->curl = curl_easy_init())) /* curl_global_init: once, in main */
        return false;
    for (size_t i = 0; i < rq->n_headers; i++) {
        size_t n = strlen(rq->headers[i].name) + strlen(rq->headers[i].value) + 3;
        char *line = malloc(n);
        struct curl_slist *next = NULL;
        if (line) {
            snprintf(line, n, "%s: %s", rq->headers[i].name, rq->headers[i].value);
            next = curl_slist_append(t->lines, line);
            gda_cli_wipe(line, n);
        }
        if (!next)
            return false;
        t->lines = next;
    }
    /* A 100-continue round trip would be one more thing that differs from Genesys. */
    struct curl_slist *next = curl_slist_append(t->lines, "Expect:");
    if (!next)
        return false;
    t->lines = next;
    CURL *h = t->curl;
    bool post = strcmp(rq->method, "POST") == 0;
    return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->lines) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, post ? NULL : rq->method) == CURLE_OK &&
           (post || rq->body.len
                ? curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body.ptr) == CURLE_OK &&
                      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                       (curl_off_t)rq->body.len) == CURLE_OK
                : true) &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_s * 1000L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_url_body) == CURLE_OK;
}

static void url_close(url_target *t)
{
    curl_slist_free_all(t->lines);
    if (t->curl)
        curl_easy_cleanup(t->curl);
}

static void url_send(url_target *t, outcome *o)
{
    t->errbuf[0] = '\0';
    curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, o);
    CURLcode rc = curl_easy_perform(t->curl);
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        o->status = (int)status;
        return;
    }
    gda_buf_free(&o->body);
    snprintf(o->error, sizeof o->error, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    /* What Genesys resends after: timeouts, refused and reset connections. */
    o->retryable = rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
                   rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
                   rc == CURLE_PARTIAL_FILE;
}

/* ---- local target: a built-in Runtime API ---------------------------------- */

typedef struct local_api {
    struct MHD_Daemon *daemon;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    /* the invocation on offer; id[0] == '\0' when there is none */
    char id[UUID_LEN + 1];
    char *event;
    size_t event_len;
    int64_t deadline_ms; /* wall clock */
    bool offered;        /* waiting for a GET next */
    bool answered;
    bool answer_is_error;
    bool crashed; /* the runtime's crash reporter answered: the process is ending */
    char *answer;
    size_t answer_len;
    char *init_error; /* POST init/error body, once it came */
} local_api;

typedef struct local_target {
    local_api api;
    char *bootstrap;
    char *task_root;
    char *unzip_dir; /* ours to remove, for a zip */
    char *env[MAX_ENV];
    size_t n_env;
    pid_t child;
} local_target;

typedef struct upload {
    gda_buf body;
    bool too_large;
} upload;

static void uuid4(char out[UUID_LEN + 1])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        gda_hex_encode(&b[i], 1, p, GDA_HEX_LOWER);
        p += 2;
    }
    *p = '\0';
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* GET next: blocks until an invocation is offered (the runtime long-polls). */
static enum MHD_Result serve_next(local_api *api, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&api->mu);
    while (!api->stopping && !api->offered)
        pthread_cond_wait(&api->cond, &api->mu);
    if (api->stopping) { /* the bootstrap is gone by now: no one reads this */
        pthread_mutex_unlock(&api->mu);
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"errorMessage\":\"stopping\"}");
    }
    api->offered = false;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(api->event_len, api->event, MHD_RESPMEM_MUST_COPY);
    char deadline[24], trace[64], random_hex[25];
    unsigned char random[12];
    randombytes_buf(random, sizeof random);
    sodium_bin2hex(random_hex, sizeof random_hex, random, sizeof random);
    snprintf(deadline, sizeof deadline, "%lld", (long long)api->deadline_ms);
    snprintf(trace, sizeof trace, "Root=1-%08llx-%s;Sampled=0",
             (unsigned long long)(gda_clock_now_ms(NULL) / 1000), random_hex);
    bool ok = r && MHD_add_response_header(r, "Lambda-Runtime-Aws-Request-Id", api->id) &&
              MHD_add_response_header(r, "Lambda-Runtime-Deadline-Ms", deadline) &&
              MHD_add_response_header(r, "Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN) &&
              MHD_add_response_header(r, "Lambda-Runtime-Trace-Id", trace) &&
              MHD_add_response_header(r, "Content-Type", "application/json");
    pthread_mutex_unlock(&api->mu);
    enum MHD_Result ret = ok ? MHD_queue_response(conn, MHD_HTTP_OK, r) : MHD_NO;
    if (r)
        MHD_destroy_response(r);
    return ret;
}

/* POST invocation/{id}/response|error: only for the invocation in flight,
 * once; a late answer to an attempt already given up on is refused. */
static enum MHD_Result serve_answer(local_api *api, struct MHD_Connection *conn, const char *rest,
                                    upload *up)
{
    const char *slash = strchr(rest, '/');
    bool is_error = slash && strcmp(slash, "/error") == 0;
    if (!slash || (!is_error && strcmp(slash, "/response") != 0))
        return reply(conn, MHD_HTTP_NOT_FOUND, "{\"errorMessage\":\"not found\"}");
    if (up->too_large)
        return reply(conn, 413,
                     "{\"errorMessage\":\"payload too large\",\"errorType\":\"RequestEntityTooLarge\"}");
    pthread_mutex_lock(&api->mu);
    size_t id_len = (size_t)(slash - rest);
    bool current = api->id[0] && !api->offered && !api->answered && id_len == strlen(api->id) &&
                   memcmp(rest, api->id, id_len) == 0;
    if (current) {
        api->answered = true;
        api->answer_is_error = is_error;
        const char *type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Lambda-Runtime-Function-Error-Type");
        api->crashed = is_error && type && strcmp(type, "Runtime.Crash") == 0;
        api->answer = up->body.data ? gda_buf_steal(&up->body, &api->answer_len) : NULL;
        pthread_cond_broadcast(&api->cond);
    }
    pthread_mutex_unlock(&api->mu);
    return current ? reply(conn, MHD_HTTP_ACCEPTED, "{\"status\":\"OK\"}")
                   : reply(conn, MHD_HTTP_BAD_REQUEST, "{\"errorMessage\":\"invalid request id\"}");
}

static enum MHD_Result on_runtime_request(void *cls, struct MHD_Connection *conn, const char *url,
                                          const char *method, const char *version,
                                          const char *data, size_t *data_size, void **con_cls)
{
    (void)version;
    local_api *api = cls;
    upload *up = *con_cls;
    if (!up) {
        if (!(up = calloc(1, sizeof *up)))
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    if (*data_size) {
        size_t n = *data_size;
        *data_size = 0;
        if (up->too_large || n > GDA_CLI_MAX_BODY - up->body.len) {
            up->too_large = true;
            return MHD_YES;
        }
        return gda_buf_append(&up->body, data, n) ? MHD_YES : MHD_NO;
    }
    if (strncmp(url, RUNTIME_PREFIX, strlen(RUNTIME_PREFIX)) != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, "{\"errorMessage\":\"not found\"}");
    const char *route = url + strlen(RUNTIME_PREFIX);
    if (strcmp(method, "GET") == 0 && strcmp(route, "invocation/next") == 0)
        return serve_next(api, conn);
    if (strcmp(method, "POST") == 0 && strcmp(route, "init/error") == 0) {
        pthread_mutex_lock(&api->mu);
        if (!api->init_error) {
            api->init_error = gda_buf_steal(&up->body, NULL);
        }
        pthread_cond_broadcast(&api->cond);
        pthread_mutex_unlock(&api->mu);
        return reply(conn, MHD_HTTP_ACCEPTED, "{\"status\":\"OK\"}");
    }
    if (strcmp(method, "POST") == 0 && strncmp(route, "invocation/", 11) == 0)
        return serve_answer(api, conn, route + 11, up);
    return reply(conn, MHD_HTTP_NOT_FOUND, "{\"errorMessage\":\"not found\"}");
}

static void on_runtime_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                 enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    upload *up = *con_cls;
    if (up) {
        gda_buf_free(&up->body);
        free(up);
        *con_cls = NULL;
    }
}

/* On 127.0.0.1, a free port; the runtime long-polls next on its own
 * connection thread. Returns the port, 0 on failure. */
static unsigned local_api_start(local_api *api)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    api->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_runtime_request, api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_runtime_completed, api, MHD_OPTION_END);
    if (!api->daemon)
        return 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

static void local_api_stop(local_api *api)
{
    pthread_mutex_lock(&api->mu);
    api->stopping = true;
    pthread_cond_broadcast(&api->cond);
    pthread_mutex_unlock(&api->mu);
    if (api->daemon)
        MHD_stop_daemon(api->daemon);
    free(api->event);
    free(api->answer);
    free(api->init_error);
    pthread_cond_destroy(&api->cond);
    pthread_mutex_destroy(&api->mu);
}

/* ---- the API Gateway REST proxy event -------------------------------------- */

/* API Gateway hands the function decoded query parameters: '+' is a
 * space, and a '%' without two hex digits stays as it is. */
static json_t *decoded(const char *p, size_t n)
{
    char *out = malloc(n + 1);
    size_t k = 0;
    json_t *s = out && gda_pct_decode(p, n, GDA_PCT_LENIENT | GDA_PCT_PLUS_SPACE, out, n, &k)
                    ? json_stringn(out, k)
                    : NULL;
    free(out);
    return s;
}

/* name → last value, and name → [every value], as API Gateway fills
 * headers/multiValueHeaders and the query parameter pair. */
static bool add_multi(json_t *single, json_t *multi, const char *name, json_t *value)
{
    json_t *list = json_object_get(multi, name);
    if (!list && json_object_set_new(multi, name, list = json_array()) != 0)
        list = NULL;
    bool ok = value && list && json_array_append(list, value) == 0;
    if (!ok) {
        json_decref(value);
        return false;
    }
    return json_object_set_new(single, name, value) == 0;
}

static bool add_query(json_t *root, const char *query)
{
    json_t *single = json_object(), *multi = json_object();
    bool ok = single && multi;
    for (const char *p = query; ok && *p;) {
        const char *end = p + strcspn(p, "&");
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *key_end = eq ? eq : end;
        json_t *key = decoded(p, (size_t)(key_end - p));
        const char *v = eq ? eq + 1 : end;
        ok = key && add_multi(single, multi, json_string_value(key), decoded(v, (size_t)(end - v)));
        json_decref(key);
        p = *end ? end + 1 : end;
    }
    ok = ok && json_object_set_new(root, "queryStringParameters", single) == 0 &&
         json_object_set_new(root, "multiValueQueryStringParameters", multi) == 0;
    if (!ok) {
        json_decref(single);
        json_decref(multi);
    }
    return ok;
}

static char *build_event(const request *rq, const char *id, size_t *len)
{
    size_t path_len = strcspn(rq->path, "?");
    char *path = strndup(rq->path, path_len);
    char stage_path[2048];
    char api_request_id[UUID_LEN + 1];
    uuid4(api_request_id);
    snprintf(stage_path, sizeof stage_path, "/local%s", path ? path : "");
    json_t *headers = json_object(), *multi = json_object();
    bool ok = path && headers && multi;
    for (size_t i = 0; ok && i < rq->n_headers; i++)
        ok = add_multi(headers, multi, rq->headers[i].name, json_string(rq->headers[i].value));
    /* The body as a JSON string when it is UTF-8, else base64, as API Gateway does. */
    json_t *body = json_stringn(rq->body.ptr, rq->body.len);
    bool base64 = !body;
    if (base64) {
        char *b64 = gda_base64_encode_alloc(rq->body.ptr, rq->body.len, GDA_BASE64_STANDARD);
        if (b64)
            body = json_string(b64);
        free(b64);
    }
    json_t *root =
        ok && body
            ? json_pack("{s:s, s:s, s:s, s:O, s:O, s:n, s:n, s:n, s:n, s:O, s:b,"
                        " s:{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s,"
                        " s:{s:s, s:s}}}",
                        "resource", path, "path", path, "httpMethod", rq->method, "headers",
                        headers, "multiValueHeaders", multi, "queryStringParameters",
                        "multiValueQueryStringParameters", "pathParameters", "stageVariables",
                        "body", body, "isBase64Encoded", base64, "requestContext",
                        "resourcePath", path, "httpMethod", rq->method, "path", stage_path,
                        "stage", "local", "requestId", api_request_id, "extendedRequestId", id,
                        "requestTimeEpoch", (json_int_t)gda_clock_now_ms(NULL), "accountId",
                        "000000000000", "apiId", "local", "protocol", "HTTP/1.1", "identity",
                        "sourceIp", "127.0.0.1", "userAgent", USER_AGENT)
            : NULL;
    json_decref(body);
    json_decref(headers);
    json_decref(multi);
    free(path);
    if (root && rq->path[path_len] == '?' && !add_query(root, rq->path + path_len + 1)) {
        json_decref(root);
        root = NULL;
    }
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    *len = text ? strlen(text) : 0;
    return text;
}

/* What API Gateway makes of the function's answer. */
static void decode_answer(const local_api *api, outcome *o)
{
    static const char malformed[] = "{\"message\": \"Malformed Lambda proxy response\"}";
    if (api->answer_is_error) { /* a function error: API Gateway answers 502 */
        o->status = 502;
        outcome_set_body(o, api->answer ? api->answer : "", api->answer_len);
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb(api->answer ? api->answer : "", api->answer_len, 0, &jerr);
    json_t *status = json_object_get(root, "statusCode");
    json_t *headers = json_object_get(root, "headers");
    json_t *body = json_object_get(root, "body");
    json_int_t code = json_integer_value(status);
    if (!json_is_integer(status) || code < 100 || code > 599 ||
        (headers && !json_is_object(headers) && !json_is_null(headers)) ||
        (body && !json_is_string(body) && !json_is_null(body))) {
        o->status = 502;
        outcome_set_body(o, malformed, sizeof malformed - 1);
        json_decref(root);
        return;
    }
    o->status = (int)code;
    const char *text = json_string_value(body);
    size_t n = json_string_length(body);
    if (text && json_is_true(json_object_get(root, "isBase64Encoded"))) {
        unsigned char *bin = malloc(n + 1);
        size_t bin_len = 0;
        if (bin && gda_base64_decode(text, n, GDA_BASE64_STANDARD, bin, n + 1, &bin_len))
            outcome_set_body(o, (const char *)bin, bin_len);
        free(bin);
    } else if (text) {
        outcome_set_body(o, text, n);
    }
    json_decref(root);
}

/* ---- local target: the bootstrap process ----------------------------------- */

static bool env_add(local_target *t, const char *name, const char *value)
{
    if (t->n_env + 1 >= MAX_ENV)
        return false;
    size_t n = strlen(name) + strlen(value) + 2;
    char *entry = malloc(n);
    if (!entry)
        return false;
    snprintf(entry, n, "%s=%s", name, value);
    t->env[t->n_env++] = entry;
    return true;
}

/* What Lambda sets, plus the caller's GDA_* (the function's configuration),
 * AWS_* (credentials, region) and sanitizer options. */
static bool passed_through(const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t n = eq ? (size_t)(eq - entry) : 0;
    static const char san[] = "SAN_OPTIONS";
    return strncmp(entry, "GDA_", 4) == 0 ||
           (strncmp(entry, "AWS_", 4) == 0 && strncmp(entry, "AWS_LAMBDA_", 11) != 0) ||
           strncmp(entry, "AWS_LAMBDA_LOG_", 15) == 0 ||
           (n >= sizeof san - 1 && memcmp(entry + n - (sizeof san - 1), san, sizeof san - 1) == 0);
}

static bool build_env(local_target *t, unsigned port)
{
    for (char **e = environ; *e; e++) {
        bool keep = passed_through(*e);
        if (keep && t->n_env + 1 < MAX_ENV && !(t->env[t->n_env++] = strdup(*e)))
            return false;
    }
    char api[32];
    snprintf(api, sizeof api, "127.0.0.1:%u", port);
    const char *region = getenv("AWS_REGION");
    return env_add(t, "AWS_LAMBDA_RUNTIME_API", api) &&
           env_add(t, "LAMBDA_TASK_ROOT", t->task_root) && env_add(t, "_HANDLER", "bootstrap") &&
           env_add(t, "AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME) &&
           env_add(t, "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST") &&
           env_add(t, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128") &&
           env_add(t, "AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" FUNCTION_NAME) &&
           env_add(t, "AWS_LAMBDA_LOG_STREAM_NAME", "local") &&
           (region || env_add(t, "AWS_REGION", "us-east-1")) &&
           env_add(t, "PATH", "/usr/local/bin:/usr/bin:/bin") && env_add(t, "TZ", ":UTC") &&
           env_add(t, "LANG", "en_US.UTF-8");
}

/* The child writes its logs to our stderr and runs in the task root, as in Lambda. */
static bool spawn_bootstrap(local_target *t)
{
    char *argv[] = {t->bootstrap, NULL};
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0)
        return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(devnull, 0) < 0 || dup2(2, 1) < 0 || chdir(t->task_root) != 0)
            _exit(127);
        execve(t->bootstrap, argv, t->env);
        _exit(127);
    }
    close(devnull);
    t->child = pid > 0 ? pid : 0;
    return pid > 0;
}

/* SIGTERM, as Lambda does when it retires a sandbox; SIGKILL if it lingers. */
static void stop_bootstrap(local_target *t, bool hard)
{
    if (!t->child)
        return;
    kill(t->child, hard ? SIGKILL : SIGTERM);
    int64_t until = gda_clock_monotonic_ms() + STOP_GRACE_MS;
    while (waitpid(t->child, NULL, WNOHANG) == 0) {
        if (gda_clock_monotonic_ms() >= until) {
            kill(t->child, SIGKILL);
            waitpid(t->child, NULL, 0);
            break;
        }
        gda_clock_sleep_ms(POLL_MS, NULL);
    }
    t->child = 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static bool unzip_into(const char *zip, const char *dir)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(2, 1);
        execlp("unzip", "unzip", "-q", "-o", zip, "-d", dir, (char *)NULL);
        fprintf(stderr, "gda invoke: cannot run unzip: %s\n", strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "gda invoke: unzip %s failed\n", zip);
        return false;
    }
    return true;
}

static bool is_zip(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool zip = fread(magic, 1, 4, f) == 4 && memcmp(magic, "PK\3\4", 4) == 0;
    fclose(f);
    return zip;
}

static void local_close(local_target *t)
{
    stop_bootstrap(t, false);
    local_api_stop(&t->api);
    if (t->unzip_dir) {
        nftw(t->unzip_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(t->unzip_dir);
    }
    for (size_t i = 0; i < t->n_env; i++)
        free(t->env[i]);
    free(t->bootstrap);
    free(t->task_root);
}

/* false (message printed) on a configuration error */
static bool local_open(local_target *t, const char *target)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->api.mu, NULL);
    pthread_cond_init(&t->api.cond, NULL);
    char *real = realpath(target, NULL);
    if (!real) {
        fprintf(stderr, "gda invoke: %s: %s\n", target, strerror(errno));
        return false;
    }
    if (is_zip(real)) {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
            tmp = "/tmp";
        size_t n = strlen(tmp) + 32;
        t->unzip_dir = malloc(n);
        if (t->unzip_dir) /* a mkdtemp(3) template: the six X are replaced */
            snprintf(t->unzip_dir, n, "%s/gda-invoke.XXXXXX", tmp);
        if (!t->unzip_dir || !mkdtemp(t->unzip_dir)) {
            fprintf(stderr, "gda invoke: cannot make a directory to unzip into: %s\n",
                    strerror(errno));
            free(t->unzip_dir);
            t->unzip_dir = NULL;
            free(real);
            return false;
        }
        bool ok = unzip_into(real, t->unzip_dir);
        free(real);
        if (!ok)
            return false;
        t->task_root = strdup(t->unzip_dir);
        n = strlen(t->unzip_dir) + sizeof "/bootstrap";
        if ((t->bootstrap = malloc(n)))
            snprintf(t->bootstrap, n, "%s/bootstrap", t->unzip_dir);
    } else {
        t->bootstrap = real;
        char *slash = strrchr(real, '/');
        t->task_root = slash == real ? strdup("/") : strndup(real, (size_t)(slash - real));
    }
    if (!t->bootstrap || !t->task_root)
        return false;
    struct stat st;
    if (stat(t->bootstrap, &st) != 0 || !S_ISREG(st.st_mode) || access(t->bootstrap, X_OK) != 0) {
        fprintf(stderr, "gda invoke: %s is not an executable bootstrap%s\n", t->bootstrap,
                t->unzip_dir ? " (a zip needs one at its top level)" : "");
        return false;
    }
    unsigned port = local_api_start(&t->api);
    if (!port) {
        fprintf(stderr, "gda invoke: cannot start the Runtime API on 127.0.0.1\n");
        return false;
    }
    if (!build_env(t, port)) {
        fprintf(stderr, "gda invoke: out of memory\n");
        return false;
    }
    return true;
}

/* One invocation: offered to the runtime, answered, or not within timeout_s.
 * A timed-out or dead sandbox is replaced for the next attempt, as Lambda does. */
/* Ctrl-C or SIGTERM during a local run: stop after the current wait, so
 * that the bootstrap is stopped and the unzip directory removed as usual. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void local_send(local_target *t, const request *rq, long timeout_s, outcome *o)
{
    local_api *api = &t->api;
    if (t->child && waitpid(t->child, NULL, WNOHANG) == t->child)
        t->child = 0;
    if (!t->child && !spawn_bootstrap(t)) {
        snprintf(o->error, sizeof o->error, "cannot start %s: %s", t->bootstrap, strerror(errno));
        return;
    }
    char id[UUID_LEN + 1];
    uuid4(id);
    size_t len = 0;
    char *event = build_event(rq, id, &len);
    if (!event) {
        snprintf(o->error, sizeof o->error, "out of memory building the event");
        return;
    }
    pthread_mutex_lock(&api->mu);
    free(api->event);
    free(api->answer);
    api->answer = NULL;
    api->event = event;
    api->event_len = len;
    memcpy(api->id, id, sizeof id);
    api->deadline_ms = gda_clock_now_ms(NULL) + timeout_s * 1000;
    api->answered = false;
    api->crashed = false;
    api->offered = true;
    pthread_cond_broadcast(&api->cond);
    int64_t until = gda_clock_monotonic_ms() + timeout_s * 1000;
    int status = 0;
    pid_t exited = 0;
    while (!api->answered && !api->init_error && !interrupted && gda_clock_monotonic_ms() < until) {
        int64_t wake = gda_clock_now_ms(NULL) + POLL_MS; /* the condition's clock */
        struct timespec ts = {.tv_sec = (time_t)(wake / 1000),
                              .tv_nsec = (long)(wake % 1000) * 1000000L};
        pthread_cond_timedwait(&api->cond, &api->mu, &ts);
        if (!api->answered && !api->init_error &&
            (exited = waitpid(t->child, &status, WNOHANG)) == t->child)
            break;
    }
    if (api->init_error) {
        o->init_error = true;
        outcome_set_body(o, api->init_error, strlen(api->init_error));
    } else if (api->answered) {
        decode_answer(api, o);
    } else if (interrupted) {
        snprintf(o->error, sizeof o->error, "interrupted");
    } else if (exited == t->child) {
        t->child = 0;
        snprintf(o->error, sizeof o->error, "the bootstrap exited (%s %d) during the invocation",
                 WIFSIGNALED(status) ? "signal" : "status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        o->retryable = true;
    } else {
        snprintf(o->error, sizeof o->error, "no response within %ld s", timeout_s);
        o->retryable = true;
    }
    /* Whatever comes for this id from now on is refused. */
    api->id[0] = '\0';
    api->offered = false;
    bool reset = o->retryable || api->crashed;
    pthread_mutex_unlock(&api->mu);
    if (reset && t->child)
        stop_bootstrap(t, true);
}

/* ---- the command ----------------------------------------------------------- */

typedef struct invoke_opts {
    int64_t timeout_s, retries, retry_delay_ms, repeat;
} invoke_opts;

static int send_all(url_target *url, local_target *local, const request *rq,
                    const invoke_opts *io)
{
    unsigned attempt = 0;
    bool all_ok = true;
    for (int64_t r = 0; r < io->repeat; r++) {
        bool ok = false;
        for (int64_t k = 0; k <= io->retries; k++) {
            if (k > 0) {
                int64_t delay = io->retry_delay_ms << (k - 1 < 20 ? k - 1 : 20);
                gda_clock_sleep_ms(delay < MAX_RETRY_DELAY_MS ? delay : MAX_RETRY_DELAY_MS, NULL);
            }
            outcome o;
            memset(&o, 0, sizeof o);
            int64_t start = gda_clock_monotonic_ms();
            if (url)
                url_send(url, &o);
            else
                local_send(local, rq, (long)io->timeout_s, &o);
            print_outcome(++attempt, &o, gda_clock_monotonic_ms() - start);
            gda_buf_free(&o.body);
            if (o.init_error || interrupted)
                return GDA_CLI_REFUSED;
            ok = o.status >= 200 && o.status <= 299;
            if (o.status ? o.status < 500 : !o.retryable)
                break;
        }
        all_ok = all_ok && ok;
    }
    return all_ok ? GDA_CLI_OK : GDA_CLI_REFUSED;
}

int gda_cli_invoke(int argc, char **argv)
{
    static const struct option longopts[] = {
        COMMON_OPTIONS,
        SIGNING_OPTIONS,
        HEADER_LINE_OPTION,
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"retry-delay-ms", required_argument, NULL, OPT_RETRY_DELAY},
        {"repeat", required_argument, NULL, OPT_REPEAT},
        {NULL, 0, NULL, 0},
    };
    auth_args a;
    gda_cli_auth_args_init(&a);
    invoke_opts io = {.timeout_s = 10, .retries = 2, .retry_delay_ms = 500, .repeat = 1};
    int c;
    while ((c = gda_cli_getopt("invoke", argc, argv, "H:", longopts, &a, invoke_usage)) >= 0) {
        bool ok = false;
        switch (c) {
        case OPT_TIMEOUT: ok = gda_cli_parse_int("--timeout", optarg, 900, &io.timeout_s); break;
        case OPT_RETRIES: ok = gda_cli_parse_int("--retries", optarg, 10, &io.retries); break;
        case OPT_RETRY_DELAY:
            ok = gda_cli_parse_int("--retry-delay-ms", optarg, 60000, &io.retry_delay_ms);
            break;
        case OPT_REPEAT: ok = gda_cli_parse_int("--repeat", optarg, 1000, &io.repeat); break;
        }
        if (!ok)
            return GDA_CLI_USAGE;
    }
    if (c != GDA_CLI_OPT_END)
        return c == GDA_CLI_OPT_HELP ? GDA_CLI_OK : GDA_CLI_USAGE;
    if (io.timeout_s == 0 || io.repeat == 0) {
        fprintf(stderr, "gda invoke: --timeout and --repeat must be at least 1\n");
        return GDA_CLI_USAGE;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "gda invoke: give one target (a URL, a function.zip or a bootstrap)\n");
        invoke_usage(stderr);
        return GDA_CLI_USAGE;
    }
    const char *target = argv[optind];
    bool is_url = strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0;
    char *signed_path = NULL;
    if (is_url && !a.path) {
        if (!(signed_path = url_path(target))) {
            fprintf(stderr, "gda invoke: %s is not an http(s) URL\n", target);
            return GDA_CLI_USAGE;
        }
        a.path = signed_path;
    }

    int rc = GDA_CLI_USAGE;
    char *body = NULL;
    size_t body_len = 0;
    gda_signed_headers sig;
    memset(&sig, 0, sizeof sig);
    request rq;
    memset(&rq, 0, sizeof rq);
    url_target url;
    local_target local;
    bool url_up = false, local_up = false;
    gda_verifier *v = gda_cli_make_verifier("invoke", &a);
    /* Signed once: every attempt below resends these very bytes. */
    if (!v || !gda_cli_read_body(&a, &body, &body_len) ||
        !gda_cli_sign_body("invoke", &a, v, gda_slice_make(body, body_len), &sig) ||
        !build_headers(&rq, &a, &sig))
        goto out;
    rq.method = a.method ? a.method : "POST";
    rq.path = a.path ? a.path : DEFAULT_PATH;
    rq.body = gda_slice_make(body, body_len);
    if (is_url) {
        url_up = true;
        if (!url_open(&url, target, &rq, (long)io.timeout_s)) {
            fprintf(stderr, "gda invoke: libcurl could not be set up\n");
            goto out;
        }
    } else {
        local_up = true;
        if (!local_open(&local, target))
            goto out;
        signal(SIGPIPE, SIG_IGN); /* a bootstrap gone mid-answer is an outcome, not our end */
        catch_interrupts();
    }
    rc = send_all(url_up ? &url : NULL, &local, &rq, &io);
out:
    if (url_up)
        url_close(&url);
    if (local_up)
        local_close(&local);
    request_release(&rq);
    gda_signed_headers_release(&sig);
    free(body);
    free(signed_path);
    gda_verifier_free(v);
    return rc;
}
