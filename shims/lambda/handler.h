/* libgda-lambda's bootstrap — the business handler a bootstrap binary serves
 * (private to shims/lambda and its tests).
 *
 * `bootstrap` links handler_enrichment.c (the example). The test binary
 * bootstrap-test links tests/lambda/handler_test.c instead: the same main
 * around a handler that can crash, stall or fail on request, so no test hook
 * sits in the production binary.
 */
#ifndef GDA_LAMBDA_HANDLER_H
#define GDA_LAMBDA_HANDLER_H

#include <gda/app.h>
#include <gda/status.h>

typedef struct lambda_handler {
    const char *name;
    gda_handler_fn fn;
    void *user;
    void (*close)(void *user); /* may be NULL */
} lambda_handler;

/* Build the handler (read its data files). Errors: GDA_ERR_CONFIG,
 * GDA_ERR_UNAVAILABLE (a data file cannot be read), GDA_ERR_NOMEM. */
gda_status lambda_handler_open(lambda_handler *out, gda_error *err);

#endif
