/* Opening a store from a URI (see gda/env.h). The backends that were built
 * are compiled in through GDA_SHIM_HAVE_SQLITE / GDA_SHIM_HAVE_DYNAMODB. */
#include <gda/env.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if GDA_SHIM_HAVE_SQLITE
#include <gda/store/sqlite.h>
#endif
#if GDA_SHIM_HAVE_DYNAMODB
#include <gda/store/dynamodb.h>
#endif

#define MEMORY_MAX_ENTRIES 100000000u

bool gda_store_backend_available(const char *scheme)
{
    if (!scheme)
        return false;
    if (strcmp(scheme, "memory") == 0)
        return true;
    if (strcmp(scheme, "sqlite") == 0)
        return GDA_SHIM_HAVE_SQLITE;
    if (strcmp(scheme, "dynamodb") == 0)
        return GDA_SHIM_HAVE_DYNAMODB;
    return false;
}

/* Strict decimal size: digits only, 1..max. */
static bool parse_count(const char *s, size_t max, size_t *out)
{
    if (!*s)
        return false;
    size_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        size_t d = (size_t)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v == 0)
        return false;
    *out = v;
    return true;
}

gda_store *gda_store_open_uri(const char *uri, gda_error *err)
{
    if (!uri || !*uri) {
        gda_error_set(err, GDA_ERR_CONFIG, "GDA_STORE", "no store given");
        return NULL;
    }
    if (strcmp(uri, "memory") == 0)
        return gda_memory_store_new(0, err);
    if (strncmp(uri, "memory:", 7) == 0) {
        size_t n = 0;
        if (!parse_count(uri + 7, MEMORY_MAX_ENTRIES, &n)) {
            gda_error_set(err, GDA_ERR_CONFIG, "GDA_STORE",
                          "memory:N needs a record count from 1 to %u", MEMORY_MAX_ENTRIES);
            return NULL;
        }
        return gda_memory_store_new(n, err);
    }
    if (strncmp(uri, "sqlite:", 7) == 0) {
        const char *path = uri + 7;
        if (!*path) {
            gda_error_set(err, GDA_ERR_CONFIG, "GDA_STORE", "the SQLite store needs a database path");
            return NULL;
        }
#if GDA_SHIM_HAVE_SQLITE
        return gda_sqlite_store_open(path, NULL, err);
#else
        gda_error_set(err, GDA_ERR_CONFIG, "GDA_STORE",
                      "the SQLite store was not built into this program "
                      "(install libsqlite3-dev and rebuild)");
        return NULL;
#endif
    }
    if (strncmp(uri, "dynamodb:", 9) == 0) {
        const char *table = uri + 9;
        if (!*table) {
            gda_error_set(err, GDA_ERR_CONFIG, "GDA_STORE", "the DynamoDB store needs a table name");
            return NULL;
        }
#if GDA_SHIM_HAVE_DYNAMODB
        gda_dynamodb_options opts;
        gda_dynamodb_options_init(&opts);
        opts.table = table;
        return gda_dynamodb_store_new(&opts, err);
#else
        gda_error_set(err, GDA_ERR_CONFIG, "GDA_STORE",
                      "the DynamoDB store was not built into this program "
                      "(install libcurl4-openssl-dev and rebuild)");
        return NULL;
#endif
    }
    gda_error_set(err, GDA_ERR_CONFIG, "GDA_STORE",
                  "unknown store: use memory, memory:N, sqlite:PATH or dynamodb:TABLE");
    return NULL;
}
