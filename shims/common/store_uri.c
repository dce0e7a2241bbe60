/* Opening a store from a URI (see gda/env.h): the built-in backends this
 * library was built with (GDA_SHIM_HAVE_SQLITE / GDA_SHIM_HAVE_DYNAMODB) are
 * registered once, then every URI goes through the core's store registry
 * (gda/store_registry.h), so a program's own registered backend opens the
 * same way. */
#include <gda/env.h>
#include <gda/store_registry.h>

#include <pthread.h>
#include <string.h>

#if GDA_SHIM_HAVE_SQLITE
#include <gda/store/sqlite.h>
#endif
#if GDA_SHIM_HAVE_DYNAMODB
#include <gda/store/dynamodb.h>
#endif

static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;
static gda_error builtins_err; /* the first registration that failed, else code GDA_OK */

static void register_builtins(void)
{
    gda_error_clear(&builtins_err);
#if GDA_SHIM_HAVE_SQLITE
    if (gda_store_sqlite_register(&builtins_err) != GDA_OK)
        return;
#endif
#if GDA_SHIM_HAVE_DYNAMODB
    if (gda_store_dynamodb_register(&builtins_err) != GDA_OK)
        return;
#endif
    gda_error_clear(&builtins_err);
}

gda_status gda_env_register_stores(gda_error *err)
{
    pthread_once(&builtins_once, register_builtins);
    if (builtins_err.code == GDA_OK)
        return GDA_OK;
    if (err)
        *err = builtins_err;
    return builtins_err.code;
}

/* Whether uri starts with "scheme" followed by ':' or its end. */
static bool has_scheme(const char *uri, const char *scheme)
{
    size_t n = strlen(scheme);
    return strncmp(uri, scheme, n) == 0 && (uri[n] == ':' || uri[n] == '\0');
}

gda_store *gda_store_open_uri(const char *uri, gda_error *err)
{
    gda_error rerr;
    if (gda_env_register_stores(&rerr) != GDA_OK) {
        gda_error_set(err, rerr.code, "GDA_STORE", "%s", rerr.message);
        return NULL;
    }
    gda_store *store = NULL;
    gda_error oerr;
    gda_error_clear(&oerr);
    if (gda_store_open(uri, &store, &oerr) == GDA_OK)
        return store;
    /* A built-in backend left out of this build says how to get it. */
    if (uri && has_scheme(uri, "sqlite") && !gda_store_scheme_registered("sqlite"))
        gda_error_set(&oerr, GDA_ERR_CONFIG, NULL,
                      "the SQLite store was not built into this program "
                      "(install libsqlite3-dev and rebuild)");
    else if (uri && has_scheme(uri, "dynamodb") && !gda_store_scheme_registered("dynamodb"))
        gda_error_set(&oerr, GDA_ERR_CONFIG, NULL,
                      "the DynamoDB store was not built into this program "
                      "(install libcurl4-openssl-dev and rebuild)");
    gda_error_set(err, oerr.code, oerr.field[0] ? oerr.field : "GDA_STORE", "%s", oerr.message);
    return NULL;
}
