/* Test harness: a scripted HTTP/1.1 server on a free loopback port, standing
 * in for an AWS endpoint that throttles, fails or answers slowly. It serves
 * one connection at a time on its own thread, answers request n with
 * script[n] (the last entry repeats), keeps connections alive, and records
 * the headers of every request so tests can check what the client sent.
 *
 * Thread safety: the accessors may be called from any thread while the
 * server runs.
 */
#ifndef GDA_TEST_HTTP_STANDIN_H
#define GDA_TEST_HTTP_STANDIN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct standin_reply {
    int delay_ms;     /* wait before answering */
    int status;       /* HTTP status; 0 = close the connection without answering */
    const char *body; /* JSON body (may be NULL) */
} standin_reply;

typedef struct http_standin http_standin;

/* Start serving script[0..n) (n >= 1). NULL on failure. */
http_standin *standin_start(const standin_reply *script, size_t n);

/* "http://127.0.0.1:<port>" */
const char *standin_endpoint(const http_standin *s);

/* Requests answered (or dropped) so far, and connections accepted. */
unsigned standin_requests(http_standin *s);
unsigned standin_connections(http_standin *s);

/* Copy the value of header `name` (case-insensitive) of request number
 * index (0-based) into out; false when there is no such request or header. */
bool standin_header(http_standin *s, unsigned index, const char *name, char *out, size_t size);

/* Copy the body of request index into out (truncated, NUL-terminated). */
bool standin_body(http_standin *s, unsigned index, char *out, size_t size);

/* Stop the thread and free everything. NULL-safe. */
void standin_stop(http_standin *s);

#endif
