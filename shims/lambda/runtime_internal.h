/* libgda-lambda (private) — the runtime loop's (runtime.c) error naming and
 * init-error report, shared with gda_lambda_main and the tests; users get
 * their behaviour through gda_lambda_run and gda_lambda_init_failed
 * (include/gda/lambda.h documents both).
 */
#ifndef GDA_LAMBDA_RUNTIME_INTERNAL_H
#define GDA_LAMBDA_RUNTIME_INTERNAL_H

#include <gda/lambda.h>

/* The errorType a non-2xx outcome is reported with (the table in
 * include/gda/lambda.h, "Failures"); GDA_OK / GDA_ACCEPTED give "". Never
 * NULL. */
const char *gda_lambda_error_type(gda_status code);

/* POST runtime/init/error with errorType "Runtime.InitError.<Class>" and
 * errorMessage the JSON error object for *error (NULL: an internal error).
 * runtime_api NULL: AWS_LAMBDA_RUNTIME_API.
 * Errors: GDA_ERR_CONFIG (no address), GDA_ERR_UNAVAILABLE (the POST failed),
 * GDA_ERR_NOMEM. */
gda_status gda_lambda_report_init_error(const char *runtime_api, const gda_error *error,
                                        gda_error *err);

#endif
