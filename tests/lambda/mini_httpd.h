/* Test harness: a small HTTP/1.1 server on a free loopback port, one thread
 * per connection, keep-alive, for the Runtime API and secrets stand-ins.
 * A route callback sees each parsed request and writes the answer (or asks
 * for the connection to be reset, to inject faults).
 *
 * Thread safety: the callback runs on connection threads, concurrently.
 */
#ifndef GDA_TEST_MINI_HTTPD_H
#define GDA_TEST_MINI_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#define MINI_MAX_HEADERS 48

typedef struct mini_request {
    char method[16];
    char target[2048]; /* path and query as sent */
    size_t n_headers;
    struct {
        char name[96];
        char value[2048];
    } headers[MINI_MAX_HEADERS];
    char *body; /* NUL-terminated, owned by the server */
    size_t body_len;
} mini_request;

typedef struct mini_response {
    int status;          /* 0: reset the connection (RST) without answering */
    char headers[2048];  /* extra header lines, each ending in \r\n */
    char *body;          /* malloc'd; the server frees it */
    size_t body_len;
    bool close;          /* close after answering */
} mini_response;

/* The request target after prefix, or NULL when it does not start with it.
 * (Out of line: GCC 12 with -fsanitize=address misreads the size of the
 * target array when routes do this arithmetic inline, -Wstringop-overread.) */
const char *mini_target_after(const mini_request *req, const char *prefix);

typedef void (*mini_route_fn)(const mini_request *req, mini_response *resp, void *user);

typedef struct mini_httpd mini_httpd;

/* Start listening on 127.0.0.1 (free port). NULL on failure. */
mini_httpd *mini_httpd_start(mini_route_fn route, void *user);

int mini_httpd_port(const mini_httpd *s);

/* Header value of req (case-insensitive name) or NULL. */
const char *mini_header(const mini_request *req, const char *name);

/* Set resp body to a copy of text. */
void mini_set_body(mini_response *resp, const char *text, size_t len);

/* Stop accepting, shut every open connection down, join the threads. */
void mini_httpd_stop(mini_httpd *s);

#endif
