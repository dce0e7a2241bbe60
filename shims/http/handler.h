/* gda-httpd — the business handler a binary serves (private to shims/http).
 *
 * gda-httpd serves the enrichment example (handler_enrichment.c). The test
 * server gda-httpd-test, built only with the tests and never installed, links
 * handler_test.c instead: the same server code around a handler whose
 * behaviour (slow, long-running, failing) a test selects per request. Keeping
 * the choice at link time leaves no test hook in the production binary.
 *
 * Lifecycle: httpd_handler_open before the app is built; attach once the app
 * exists (a handler that finishes GDA_ACCEPTED work later needs it); close
 * after the server has stopped and before the app is freed.
 *
 * Thread safety: fn is called from every server thread at once.
 */
#ifndef GDA_HTTPD_HANDLER_H
#define GDA_HTTPD_HANDLER_H

#include <gda/app.h>
#include <gda/status.h>

typedef struct httpd_handler {
    const char *name;       /* for the start-up log line */
    gda_handler_fn fn;
    void *user;
    void (*attach)(void *user, gda_app *app); /* may be NULL */
    void (*close)(void *user);                /* may be NULL; NULL-safe on user */
} httpd_handler;

/* Build the handler. customers: path of the enrichment customer table (CSV).
 * Errors: those of enrichment_table_load (GDA_ERR_CONFIG for a malformed
 * table, GDA_ERR_UNAVAILABLE when it cannot be read, GDA_ERR_NOMEM), and
 * GDA_ERR_CONFIG for a bad test setting in the test server. */
gda_status httpd_handler_open(const char *customers, httpd_handler *out, gda_error *err);

#endif
