/* Example business handler: caller enrichment for a Genesys inbound flow.
 *
 * Looks the caller's number up in a customer table (CSV shipped with the
 * example) and answers the customer tier and a routing hint the Architect
 * flow can branch on:
 *
 *   {"customerFound":true,"tier":"gold","accountStatus":"active",
 *    "language":"en-US","openCases":0,"routingHint":"priority"}
 *
 * Thread safety: a loaded table is read-only and may be shared by threads.
 */
#ifndef GDA_EXAMPLE_ENRICHMENT_H
#define GDA_EXAMPLE_ENRICHMENT_H

#include <gda/app.h>
#include <gda/status.h>

typedef struct enrichment_table enrichment_table;

typedef struct enrichment_customer {
    const char *phone;          /* E.164 */
    const char *tier;           /* platinum, gold, silver, bronze */
    const char *account_status; /* active, past_due, closed */
    const char *language;       /* BCP 47 tag */
    int open_cases;
} enrichment_customer;

/* Load the CSV at path (lines "phone,tier,account_status,language,open_cases",
 * '#' comments). GDA_ERR_CONFIG naming the line for a malformed row or a
 * duplicate number; GDA_ERR_UNAVAILABLE when the file cannot be read. */
enrichment_table *enrichment_table_load(const char *path, gda_error *err);

/* The customer with that number, or NULL. Borrowed from the table. */
const enrichment_customer *enrichment_lookup(const enrichment_table *table, const char *phone);

size_t enrichment_table_size(const enrichment_table *table);

void enrichment_table_free(enrichment_table *table);

/* enrichment_table_load for a server's handler: *out is the table on GDA_OK
 * (free it with enrichment_table_free, or enrichment_table_close as the
 * handler's close hook), NULL otherwise. Returns the load's status even when
 * err is NULL; the errors are enrichment_table_load's. */
gda_status enrichment_table_open(const char *path, enrichment_table **out, gda_error *err);

/* A handler close hook (user: an enrichment_table, may be NULL). */
void enrichment_table_close(void *user);

/* The routing hint for a customer (NULL: unknown caller). */
const char *enrichment_routing_hint(const enrichment_customer *customer);

/* gda_handler_fn: user is the enrichment_table. */
gda_status enrichment_handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                              gda_error *err, void *user);

/* Where the sample table lives in the source tree (set at build time). */
const char *enrichment_default_table_path(void);

#endif
