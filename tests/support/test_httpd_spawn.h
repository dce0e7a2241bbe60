/* libgda tests — starting gda-httpd-test (the server with the test handler,
 * shims/http/handler_test.c) for the integration and bad-input programs.
 *
 * The server listens on a free loopback port and writes it to a port file;
 * under GDA_TEST_WRAPPER (suite 'valgrind') it runs inside the wrapper.
 *
 * Thread safety: call from the test's main thread (it forks).
 */
#ifndef GDA_TEST_HTTPD_SPAWN_H
#define GDA_TEST_HTTPD_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

/* GDA_DATA_KEY of every server started here: a durable store shared across
 * restarts needs the same secret for the payload hash and principal digests
 * in every life, and tests that inspect the store need to know it. */
#define TEST_HTTPD_DATA_KEY_B64 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

typedef struct test_httpd_config {
    const char *bin;       /* the gda-httpd-test binary */
    const char *threads;   /* --threads */
    const char *drain_s;   /* --drain-timeout, or NULL for the default */
    const char *port_file; /* removed first, then waited for */
    const char *log_path;  /* the server's stdout and stderr (truncated) */
    const char *keyring;   /* GDA_SECRETS; GDA_AUTH is "token" */
    const char *store;     /* GDA_STORE */
    const char *ledger;    /* GDA_TEST_LEDGER */
    const char *log_level; /* GDA_LOG_LEVEL */
    /* More NAME=value entries set after the above, or a bare NAME to unset
     * one (e.g. "GDA_DATA_KEY"); NULL-terminated, or NULL. */
    const char *const *extra_env;
} test_httpd_config;

/* Starts the server (GDA_MAX_BODY, GDA_ROUTE and GDA_AUTH_HEADER unset, so
 * defaults apply) and waits up to 15 s, scaled by the wrapper, for its port.
 * true: *pid and *port are the running server's. false: it exited or never
 * wrote its port (then it is killed); the reason is on stderr, and the
 * process is reaped. */
bool test_httpd_start(const test_httpd_config *cfg, pid_t *pid, int *port);

#endif
