/* gda-httpd's handler: the enrichment example (see handler.h). */
#include "handler.h"

#include "enrichment.h"

static void close_table(void *user)
{
    enrichment_table_free(user);
}

gda_status httpd_handler_open(const char *customers, httpd_handler *out, gda_error *err)
{
    gda_error local = {0};
    enrichment_table *table = enrichment_table_load(customers, &local);
    if (!table) {
        if (err)
            *err = local;
        return local.code;
    }
    out->name = "enrichment";
    out->fn = enrichment_handler;
    out->user = table;
    out->attach = NULL;
    out->close = close_table;
    return GDA_OK;
}
