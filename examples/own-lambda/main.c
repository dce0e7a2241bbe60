/* Order status for a Genesys Architect flow: your own handler on Lambda.
 *
 * The flow sends the reference contract plus "orderId"; the function answers
 * the order's status, carrier and ETA from orders.csv (packaged next to the
 * bootstrap with --data). Everything else — authentication, exactly-once,
 * the response contract, logs — is gda_lambda_main's, configured from GDA_*
 * variables (docs/configuration.md). Build, package and deploy it as in
 * docs/getting-started.md, "Your own handler on Lambda". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gda/lambda.h>
#include <gda/request.h>

typedef struct order {
    char id[16], status[16], carrier[16], eta[16];
} order;

typedef struct orders {
    order rows[256];
    size_t n;
} orders;

/* Copy one comma-separated field (possibly empty) and step past it. */
static const char *field(const char *p, char *out, size_t size)
{
    size_t n = strcspn(p, ",\r\n");
    snprintf(out, size, "%.*s", (int)n, p);
    return p[n] == ',' ? p + n + 1 : p + n;
}

static int load_orders(orders *db)
{
    const char *root = getenv("LAMBDA_TASK_ROOT"); /* where Lambda unpacked the zip */
    char path[4096];
    snprintf(path, sizeof path, "%s/orders.csv", root ? root : ".");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    while (db->n < sizeof db->rows / sizeof db->rows[0] && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        order *o = &db->rows[db->n++];
        const char *p = field(line, o->id, sizeof o->id);
        p = field(p, o->status, sizeof o->status);
        p = field(p, o->carrier, sizeof o->carrier);
        field(p, o->eta, sizeof o->eta);
    }
    fclose(f);
    return 0;
}

static gda_status order_status(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                               gda_error *err, void *user)
{
    (void)ctx;
    const orders *db = user;
    const char *id = json_string_value(json_object_get(gda_request_json(req), "orderId"));
    if (!id || !*id || strlen(id) >= sizeof db->rows[0].id)
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, "orderId",
                             "orderId must be a string of 1 to 15 characters");
    for (size_t i = 0; i < db->n; i++) {
        const order *o = &db->rows[i];
        if (strcmp(o->id, id) != 0)
            continue;
        /* Flat output, empty strings rather than nulls: what Architect maps best. */
        *data_out = json_pack("{s:s,s:s,s:s,s:s}", "orderId", o->id, "status", o->status,
                              "carrier", o->carrier, "eta", o->eta);
        return *data_out ? GDA_OK : gda_error_set(err, GDA_ERR_NOMEM, NULL, "no memory");
    }
    /* A final answer (cached and replayed), so the flow can branch on it. */
    return gda_error_set(err, GDA_ERR_UNPROCESSABLE, "orderId", "no such order");
}

int main(void)
{
    static orders db;
    if (load_orders(&db) != 0) {
        gda_error err;
        gda_error_set(&err, GDA_ERR_CONFIG, "orders.csv", "orders.csv is missing from the task root");
        return gda_lambda_init_failed(NULL, &err);
    }
    return gda_lambda_main(order_status, &db);
}
