/* libgda-store-sqlite — the "sqlite:PATH" scheme in the store registry
 * (gda_store_sqlite_register in gda/store/sqlite.h). */
#include <gda/store/sqlite.h>
#include <gda/store_registry.h>

static gda_status sqlite_uri_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    (void)user;
    if (!rest || !*rest)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL, "the SQLite store needs a database path");
    *out = gda_sqlite_store_open(rest, NULL, err);
    return *out ? GDA_OK : err->code; /* the registry passes a cleared err */
}

static const gda_store_backend sqlite_backend = {
    .version = GDA_STORE_BACKEND_VERSION,
    .scheme = "sqlite",
    .description = "sqlite:PATH  the SQLite store in the database file PATH (created if needed)",
    .open = sqlite_uri_open,
    .user = NULL,
};

gda_status gda_store_sqlite_register(gda_error *err)
{
    return gda_store_register(&sqlite_backend, err);
}
