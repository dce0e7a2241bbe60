/* libgda-store-dynamodb — the "dynamodb:TABLE" scheme in the store registry
 * (gda_store_dynamodb_register in gda/store/dynamodb.h). */
#include <gda/store/dynamodb.h>
#include <gda/store_registry.h>

static gda_status dynamodb_uri_open(const char *rest, void *user, gda_store **out,
                                    gda_error *err)
{
    (void)user;
    if (!rest || !*rest)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL, "the DynamoDB store needs a table name");
    gda_dynamodb_options opts = {.table = rest};
    *out = gda_dynamodb_store_new(&opts, err);
    return *out ? GDA_OK : err->code; /* the registry passes a cleared err */
}

static const gda_store_backend dynamodb_backend = {
    .version = GDA_STORE_BACKEND_VERSION,
    .scheme = "dynamodb",
    .description = "dynamodb:TABLE  the DynamoDB store on TABLE (region, endpoint and "
                   "credentials from the environment)",
    .open = dynamodb_uri_open,
    .user = NULL,
};

gda_status gda_store_dynamodb_register(gda_error *err)
{
    return gda_store_register(&dynamodb_backend, err);
}
