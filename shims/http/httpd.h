/* gda-httpd — the HTTP front of a gda_app, over libmicrohttpd (private to
 * shims/http).
 *
 * The server owns a listening socket and an MHD daemon with a thread pool and
 * internal epoll polling. Every request is read into a per-request buffer
 * (refused with 413 as soon as Content-Length or the bytes received pass
 * max_body, without buffering the rest), turned into a gda_http_request of
 * kind GDA_EVENT_HTTP whose slices point into that buffer and into MHD's
 * header strings, and answered by gda_app_handle(). GET /healthz is answered
 * here, without authentication and without touching the store.
 *
 * Shutdown is two-step so in-flight requests finish: httpd_server_quiesce()
 * stops accepting connections and marks every further response
 * "Connection: close"; httpd_server_inflight() says how many requests are
 * still being served; httpd_server_stop() then closes everything.
 *
 * Thread safety: start/quiesce/stop are called from one controlling thread;
 * httpd_server_inflight() may be called from any thread. The gda_app is
 * borrowed and must outlive the server.
 */
#ifndef GDA_HTTPD_H
#define GDA_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/app.h>
#include <gda/status.h>

typedef struct httpd_server httpd_server;

typedef struct httpd_config {
    const char *host;             /* numeric address or name to bind, e.g. "127.0.0.1", "::" */
    uint16_t port;                /* 0: the kernel picks a free port */
    unsigned threads;             /* MHD thread pool size, >= 1 */
    unsigned connection_limit;    /* simultaneous connections, >= 1 */
    unsigned connection_timeout_s; /* idle/slow client timeout per connection, >= 1 */
    size_t max_body;              /* request bodies above this get 413 while streaming */
} httpd_config;

/* Bind, listen and start serving. The chosen address is available from
 * httpd_server_address() (useful with port 0). Errors: GDA_ERR_CONFIG (the
 * host does not resolve, the address is in use or not permitted, an option
 * out of range), GDA_ERR_UNAVAILABLE (libmicrohttpd refused to start),
 * GDA_ERR_NOMEM. Returns NULL on error with err filled. */
httpd_server *httpd_server_start(const httpd_config *cfg, gda_app *app, gda_error *err);

/* The bound port and "host:port" text (IPv6 hosts in brackets); borrowed. */
uint16_t httpd_server_port(const httpd_server *srv);
const char *httpd_server_address(const httpd_server *srv);

/* Stop accepting new connections (already accepted ones keep being served,
 * with Connection: close); /healthz answers 503 from now on so a load
 * balancer that still reaches us takes the instance out. Idempotent. */
void httpd_server_quiesce(httpd_server *srv);

/* Requests whose headers have arrived and whose response has not yet been
 * fully sent or abandoned. */
unsigned httpd_server_inflight(const httpd_server *srv);

/* Close every connection, stop the threads and free the server. NULL-safe. */
void httpd_server_stop(httpd_server *srv);

#endif
