/* gda-httpd — libmicrohttpd front of a gda_app (see httpd.h). */
#include "httpd.h"

#include "buf.h"
#include "clock.h"
#include "percent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include <gda/log.h>
#include <gda/response.h>

#define HEALTH_PATH "/healthz"

/* Longest X-Amzn-Trace-Id / X-Request-Id we pass on to logs; longer or
 * non-printable values are ignored rather than cut, so a log never shows a
 * half id that matches nothing upstream. */
#define TRACE_ID_MAX 256

/* How much of an over-limit chunked body is read and thrown away so the 413
 * can still be sent once the client stops; beyond it the connection is
 * dropped. */
#define DISCARD_ALLOWANCE ((size_t)4 << 20)

struct httpd_server {
    struct MHD_Daemon *daemon;
    gda_app *app;
    gda_logger *logger;
    size_t max_body;
    MHD_socket listen_fd; /* ours again after MHD_quiesce_daemon */
    bool quiesced;
    atomic_bool draining;
    atomic_uint inflight;
    uint16_t port;
    char address[NI_MAXHOST + NI_MAXSERV + 4];
};

/* One HTTP request being received and served. */
typedef struct conn_req {
    httpd_server *srv;
    gda_buf body;
    int64_t start_ms; /* wall clock: the refusal's gda_invocation.now_ms */
    bool too_large; /* over max_body: the rest of the body is discarded */
    bool draining;  /* arrived after shutdown began: refused, body discarded */
    size_t discarded; /* bytes thrown away since (chunked uploads only) */
    bool answered;  /* a response has been queued */
} conn_req;

typedef struct header_list {
    gda_header *items;
    size_t n;
    size_t cap;
    bool nomem;
    bool embedded_nul; /* a name or value holds a NUL byte */
} header_list;

/* ---- responses ---------------------------------------------------------- */

static enum MHD_Result queue_gda_response(struct MHD_Connection *conn, httpd_server *srv,
                                          const gda_http_response *resp)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value) != MHD_YES) {
            MHD_destroy_response(r);
            return MHD_NO;
        }
    }
    /* While draining, make clients open their next request elsewhere instead
     * of reusing a connection we are about to close. */
    if (atomic_load(&srv->draining))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- request metadata --------------------------------------------------- */

static bool printable_id(const char *v, size_t len)
{
    if (len == 0 || len > TRACE_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (v[i] <= 0x20 || v[i] >= 0x7f)
            return false;
    }
    return true;
}

/* Header value usable as an id in logs, or NULL. */
static const char *id_header(struct MHD_Connection *conn, const char *name)
{
    const char *v = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, name, strlen(name), &v, &len) !=
        MHD_YES)
        return NULL;
    return printable_id(v, len) ? v : NULL;
}

/* Refuse a request before the pipeline runs, through the app, so the answer
 * and its log line are the pipeline's own (gda_app_refuse). allow, when
 * given, is the Allow header of a 405. */
static enum MHD_Result refuse(struct MHD_Connection *conn, httpd_server *srv, int64_t start_ms,
                              const char *url, const char *method, gda_status code,
                              const char *message, const char *allow)
{
    gda_http_request req = {0};
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_cstr(method);
    req.path = gda_slice_cstr(url);
    gda_invocation inv = {0};
    inv.now_ms = start_ms;
    inv.trace_id = id_header(conn, "X-Amzn-Trace-Id");
    if (!inv.trace_id)
        inv.trace_id = id_header(conn, "X-Request-Id");
    gda_error why = {0};
    gda_error_set(&why, code, NULL, "%s", message);
    gda_http_response resp = {0};
    gda_app_refuse(srv->app, &req, &inv, &why, &resp);
    if (!resp.status || (allow && gda_http_response_set_header(&resp, "Allow", allow) != GDA_OK)) {
        gda_http_response_release(&resp);
        return MHD_NO;
    }
    enum MHD_Result ret = queue_gda_response(conn, srv, &resp);
    gda_http_response_release(&resp);
    return ret;
}

static enum MHD_Result reject_too_large(struct MHD_Connection *conn, conn_req *cr,
                                        const char *url, const char *method)
{
    httpd_server *srv = cr->srv;
    char msg[96];
    snprintf(msg, sizeof msg, "body is over the %zu-byte limit", srv->max_body);
    gda_buf_free(&cr->body);
    cr->too_large = true;
    enum MHD_Result ret =
        refuse(conn, srv, cr->start_ms, url, method, GDA_ERR_PAYLOAD_TOO_LARGE, msg, NULL);
    if (ret == MHD_YES)
        cr->answered = true;
    return ret;
}

/* A request that arrives after shutdown began — on a keep-alive connection
 * opened before it — is answered 503 with Retry-After and Connection: close,
 * and never reaches the pipeline. Only requests already in flight when the
 * drain started run, and the drain waits for their responses to be sent, so
 * no request is executed without its caller getting the answer. */
static enum MHD_Result reject_draining(struct MHD_Connection *conn, conn_req *cr,
                                       const char *url, const char *method)
{
    cr->draining = true;
    enum MHD_Result ret = refuse(conn, cr->srv, cr->start_ms, url, method, GDA_ERR_UNAVAILABLE,
                                 "server is shutting down", NULL);
    if (ret == MHD_YES)
        cr->answered = true;
    return ret;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    header_list *h = cls;
    /* A NUL inside a header is refused, as the event paths refuse it: code
     * that reads the value as a C string would see less than was sent.
     * The sized iterator reports the bytes MHD kept; libmicrohttpd 0.9.75
     * (Debian 12) already ends a value at its first NUL, so there the rest
     * never reaches us and this only fires with a libmicrohttpd that passes
     * such bytes through. */
    if (memchr(key, '\0', key_size) || (value && memchr(value, '\0', value_size))) {
        h->embedded_nul = true;
        return MHD_NO;
    }
    if (!gda_array_grow((void **)&h->items, &h->cap, h->n, sizeof *h->items, 16)) {
        h->nomem = true;
        return MHD_NO;
    }
    h->items[h->n].name = gda_slice_make(key, key_size);
    h->items[h->n].value = gda_slice_make(value ? value : "", value ? value_size : 0);
    h->n++;
    return MHD_YES;
}

/* MHD hands out the query decoded; the request gets it re-encoded in arrival
 * order, like the REST event decoder rebuilds it. */
static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    gda_buf *b = cls;
    if (b->len && !gda_buf_append(b, "&", 1))
        return MHD_NO;
    if (!gda_pct_encode_buf(b, key, key_size))
        return MHD_NO;
    if (value && !(gda_buf_append(b, "=", 1) && gda_pct_encode_buf(b, value, value_size)))
        return MHD_NO;
    return MHD_YES;
}

/* ---- serving ------------------------------------------------------------- */

static enum MHD_Result serve_health(struct MHD_Connection *conn, conn_req *cr, const char *url,
                                    const char *method)
{
    httpd_server *srv = cr->srv;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return refuse(conn, srv, cr->start_ms, url, method, GDA_ERR_METHOD_NOT_ALLOWED, "use GET",
                      "GET, HEAD");
    bool draining = atomic_load(&srv->draining);
    static const char ok[] = "{\"status\":\"ok\"}";
    static const char bye[] = "{\"status\":\"draining\"}";
    gda_http_response resp = {0};
    resp.status = draining ? 503 : 200;
    resp.body = (char *)(draining ? bye : ok);
    resp.body_len = draining ? sizeof bye - 1 : sizeof ok - 1;
    if (gda_http_response_set_header(&resp, "Content-Type", GDA_RESPONSE_CONTENT_TYPE) != GDA_OK ||
        gda_http_response_set_header(&resp, "Cache-Control", "no-store") != GDA_OK)
        return MHD_NO;
    /* resp.body is static: not released, only copied by MHD. */
    return queue_gda_response(conn, srv, &resp);
}

static enum MHD_Result serve_app(struct MHD_Connection *conn, conn_req *cr, const char *url,
                                 const char *method)
{
    httpd_server *srv = cr->srv;
    header_list headers = {0};
    gda_buf query = GDA_BUF_INIT;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_header, &headers);
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_query, &query);
    if (headers.nomem || query.failed) {
        free(headers.items);
        gda_buf_free(&query);
        return MHD_NO; /* out of memory: drop the connection, the caller retries */
    }
    if (headers.embedded_nul) {
        free(headers.items);
        gda_buf_free(&query);
        return refuse(conn, srv, cr->start_ms, url, method, GDA_ERR_INVALID_REQUEST,
                      "a header name or value contains a NUL byte", NULL);
    }

    char ip[NI_MAXHOST] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        socklen_t alen = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                : sizeof(struct sockaddr_in);
        if (getnameinfo(ci->client_addr, alen, ip, sizeof ip, NULL, 0, NI_NUMERICHOST) != 0)
            ip[0] = '\0';
    }

    gda_http_request req = {0};
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_cstr(method);
    req.path = gda_slice_cstr(url);
    req.query = gda_slice_make(query.data, query.len);
    req.source_ip = gda_slice_cstr(ip);
    const char *request_id = id_header(conn, "X-Request-Id");
    req.request_id = gda_slice_cstr(request_id);
    req.headers = headers.items;
    req.n_headers = headers.n;
    req.body = gda_slice_make(cr->body.data, cr->body.len);

    gda_invocation inv = {0};
    inv.trace_id = id_header(conn, "X-Amzn-Trace-Id");
    if (!inv.trace_id)
        inv.trace_id = request_id;

    gda_http_response resp = {0};
    gda_app_handle(srv->app, &req, &inv, &resp);
    enum MHD_Result ret = queue_gda_response(conn, srv, &resp);
    gda_http_response_release(&resp);
    free(headers.items);
    gda_buf_free(&query);
    return ret;
}

static bool content_length_over(const char *text, size_t limit)
{
    /* MHD has already refused a malformed Content-Length with 400, so only
     * a well-formed number reaches us; an absurd one is simply "over". */
    uintmax_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (n > (UINTMAX_MAX - 9) / 10)
            return true;
        n = n * 10 + (uintmax_t)(*p - '0');
    }
    return n > limit;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    httpd_server *srv = cls;
    conn_req *cr = *con_cls;

    if (!cr) {
        /* Headers are in; the body (if any) has not been read yet. */
        cr = calloc(1, sizeof *cr);
        if (!cr)
            return MHD_NO;
        cr->srv = srv;
        cr->body.limit = srv->max_body; /* a body never takes more than that */
        cr->start_ms = gda_clock_now_ms(NULL);
        *con_cls = cr;
        atomic_fetch_add(&srv->inflight, 1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (atomic_load(&srv->draining) && strcmp(url, HEALTH_PATH) != 0)
            return reject_draining(conn, cr, url, method);
        if (cl && content_length_over(cl, srv->max_body))
            return reject_too_large(conn, cr, url, method); /* before a single body byte is read */
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!cr->too_large && !cr->draining && n > srv->max_body - cr->body.len) {
            /* A chunked upload (no Content-Length) went over. Answer now if
             * libmicrohttpd lets us (its 0.9.7x releases refuse a response
             * queued mid-body); else discard and answer 413 at the end.
             * Either way nothing more is buffered. */
            reject_too_large(conn, cr, url, method);
        }
        if (cr->too_large || cr->draining) {
            /* Reading a bounded amount keeps the 413/503 deliverable; past that
             * the client is streaming at us and loses the connection. */
            cr->discarded += n;
            return cr->discarded > DISCARD_ALLOWANCE ? MHD_NO : MHD_YES;
        }
        if (!gda_buf_append(&cr->body, upload_data, n))
            return MHD_NO;
        return MHD_YES;
    }

    /* The whole request has arrived. */
    if (cr->answered)
        return MHD_YES;
    if (cr->too_large)
        return reject_too_large(conn, cr, url, method);
    if (strcmp(url, HEALTH_PATH) == 0)
        return serve_health(conn, cr, url, method);
    return serve_app(conn, cr, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    httpd_server *srv = cls;
    conn_req *cr = *con_cls;
    if (!cr)
        return;
    gda_buf_free(&cr->body);
    free(cr);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                             va_list ap)
{
    httpd_server *srv = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    json_t *extra = json_pack("{s:s}", "component", "libmicrohttpd");
    gda_log(srv->logger, GDA_LOG_WARN, gda_clock_now_ms(NULL), NULL, extra, msg, NULL);
    json_decref(extra);
}

/* ---- lifecycle ----------------------------------------------------------- */

static MHD_socket open_listener(const httpd_config *cfg, httpd_server *srv, int *family,
                                gda_error *err)
{
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", (unsigned)cfg->port);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(cfg->host, port_text, &hints, &res);
    if (rc != 0) {
        gda_error_set(err, GDA_ERR_CONFIG, "listen", "cannot resolve listen host %s: %s",
                      cfg->host, gai_strerror(rc));
        return MHD_INVALID_SOCKET;
    }
    int last_errno = 0;
    MHD_socket fd = MHD_INVALID_SOCKET;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        /* Restarting after a crash must not wait out TIME_WAIT. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
            *family = ai->ai_family;
            break;
        }
        last_errno = errno;
        close(fd);
        fd = MHD_INVALID_SOCKET;
    }
    freeaddrinfo(res);
    if (fd == MHD_INVALID_SOCKET) {
        gda_error_set(err, GDA_ERR_CONFIG, "listen", "cannot listen on %s port %u: %s",
                      cfg->host, (unsigned)cfg->port, strerror(last_errno));
        return MHD_INVALID_SOCKET;
    }

    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0 ||
        getnameinfo((struct sockaddr *)&bound, blen, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        gda_error_set(err, GDA_ERR_CONFIG, "listen", "cannot read the bound address: %s",
                      strerror(errno));
        close(fd);
        return MHD_INVALID_SOCKET;
    }
    srv->port = (uint16_t)atoi(serv);
    snprintf(srv->address, sizeof srv->address, *family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
             serv);
    return fd;
}

httpd_server *httpd_server_start(const httpd_config *cfg, gda_app *app, gda_error *err)
{
    if (!cfg || !app || !cfg->host || cfg->threads < 1 || cfg->connection_limit < 1 ||
        cfg->connection_timeout_s < 1 || cfg->max_body < 1) {
        gda_error_set(err, GDA_ERR_CONFIG, NULL, "invalid server configuration");
        return NULL;
    }
    /* libmicrohttpd splits the connection limit between pool threads; each
     * must be allowed at least one. */
    if (cfg->connection_limit < cfg->threads) {
        gda_error_set(err, GDA_ERR_CONFIG, "max-connections",
                      "connection limit %u is below the thread count %u",
                      cfg->connection_limit, cfg->threads);
        return NULL;
    }
    httpd_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    srv->app = app;
    srv->logger = gda_app_logger(app);
    srv->max_body = cfg->max_body;
    atomic_init(&srv->draining, false);
    atomic_init(&srv->inflight, 0u);

    int family = AF_INET;
    srv->listen_fd = open_listener(cfg, srv, &family, err);
    if (srv->listen_fd == MHD_INVALID_SOCKET) {
        free(srv);
        return NULL;
    }

    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        /* The logger first, so libmicrohttpd's own start-up messages use it. */
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, cfg->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
    if (!srv->daemon) {
        gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL,
                      "libmicrohttpd refused to start (threads %u, connections %u)",
                      cfg->threads, cfg->connection_limit);
        close(srv->listen_fd);
        free(srv);
        return NULL;
    }
    return srv;
}

uint16_t httpd_server_port(const httpd_server *srv)
{
    return srv ? srv->port : 0;
}

const char *httpd_server_address(const httpd_server *srv)
{
    return srv ? srv->address : "";
}

void httpd_server_quiesce(httpd_server *srv)
{
    if (!srv || srv->quiesced)
        return;
    atomic_store(&srv->draining, true);
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    srv->quiesced = true;
    /* The socket is ours again: closing it now makes new connection attempts
     * fail fast (refused) instead of waiting in the backlog until we exit. */
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    srv->listen_fd = MHD_INVALID_SOCKET;
}

unsigned httpd_server_inflight(const httpd_server *srv)
{
    return srv ? atomic_load(&((httpd_server *)srv)->inflight) : 0;
}

void httpd_server_stop(httpd_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon); /* also closes the listener unless quiesced */
    free(srv);
}
