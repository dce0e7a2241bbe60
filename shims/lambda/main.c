/* bootstrap — the Lambda custom runtime of this tree: gda_lambda_main
 * (include/gda/lambda.h) around the handler linked in (handler.h), the
 * enrichment example in `bootstrap`, the test handler in `bootstrap-test`.
 * Every setting comes from GDA_* variables (docs/configuration.md). A
 * handler that cannot open its data is reported to runtime/init/error, like
 * every other start-up failure. */
#include <gda/lambda.h>

#include "handler.h"

int main(void)
{
    gda_error err;
    gda_error_clear(&err);
    lambda_handler handler = {0};
    if (lambda_handler_open(&handler, &err) != GDA_OK)
        return gda_lambda_init_failed(NULL, &err);
    int status = gda_lambda_main(handler.fn, handler.user);
    if (handler.close)
        handler.close(handler.user);
    return status;
}
