/* bootstrap's handler: the enrichment example (see handler.h). The customer
 * table is GDA_ENRICHMENT_TABLE, else customers.csv in the task root (the
 * zip carries it there), else the copy in the source tree. */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "enrichment.h"

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
    enrichment_table *table = NULL;
    gda_status st = enrichment_table_open(path, &table, err);
    if (st != GDA_OK)
        return st;
    out->name = "enrichment";
    out->fn = enrichment_handler;
    out->user = table;
    out->close = enrichment_table_close;
    return GDA_OK;
}
