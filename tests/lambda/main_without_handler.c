/* A function that is only an API Gateway authorizer: gda_lambda_main with no
 * handler (test_lambda_runtime / test_main_without_handler). In data-action
 * mode the same program must refuse to start, naming the handler. */
#include <gda/lambda.h>

int main(void)
{
    return gda_lambda_main(NULL, NULL);
}
