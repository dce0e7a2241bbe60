/* gda-httpd's handler: the enrichment example (see handler.h). */
#include "handler.h"

#include "enrichment.h"

gda_status httpd_handler_open(const char *customers, httpd_handler *out, gda_error *err)
{
    enrichment_table *table = NULL;
    gda_status st = enrichment_table_open(customers, &table, err);
    if (st != GDA_OK)
        return st;
    out->name = "enrichment";
    out->fn = enrichment_handler;
    out->user = table;
    out->attach = NULL;
    out->close = enrichment_table_close;
    return GDA_OK;
}
