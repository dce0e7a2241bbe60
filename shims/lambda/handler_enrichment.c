/* bootstrap's handler: the enrichment example (see handler.h). The customer
 * table is GDA_ENRICHMENT_TABLE, else customers.csv in the task root (the
 * zip carries it there), else the copy in the source tree. */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "enrichment.h"

static void close_table(void *user)
{
    enrichment_table_free(user);
}

gda_status lambda_handler_open(lambda_handler *out, gda_error *err)
{
    const char *path = getenv("GDA_ENRICHMENT_TABLE");
    char task_path[4096];
    if (!path || !*path) {
        const char *root = getenv("LAMBDA_TASK_ROOT");
        int n = root ? snprintf(task_path, sizeof task_path, "%s/customers.csv", root) : -1;
        if (n > 0 && (size_t)n < sizeof task_path && access(task_path, R_OK) == 0)
            path = task_path;
        else
            path = enrichment_default_table_path();
    }
    gda_error local;
    gda_error_clear(&local);
    enrichment_table *table = enrichment_table_load(path, &local);
    if (!table) {
        if (err)
            *err = local;
        return local.code;
    }
    out->name = "enrichment";
    out->fn = enrichment_handler;
    out->user = table;
    out->close = close_table;
    return GDA_OK;
}
