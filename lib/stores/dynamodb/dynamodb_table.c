/* libgda-store-dynamodb — table creation and deletion for local development
 * and tests (see include/gda/store/dynamodb.h). */
#include "dynamodb_internal.h"

#include <string.h>

/* Default budget of the table helpers: creating a real table takes seconds. */
#define TABLE_DEFAULT_BUDGET_MS 30000
#define TABLE_POLL_MS 200

static int64_t now_ms(const dynamodb_conn *conn)
{
    return conn->clock.now_ms(conn->clock.user);
}

/* dynamodb_request for a request built just before the call: req is
 * consumed, and NULL (json_pack out of memory) is GDA_ERR_NOMEM. answer may
 * be NULL when the reply is not needed. */
static gda_status table_call(dynamodb_conn *conn, const char *operation, json_t *req,
                             int64_t deadline_ms, json_t **answer, char *error_type,
                             size_t error_type_size, gda_error *err)
{
    json_t *reply = NULL;
    if (answer)
        *answer = NULL;
    if (!req)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    gda_status st = dynamodb_request(conn, operation, req, deadline_ms, &reply, error_type,
                                     error_type_size, NULL, err);
    json_decref(req);
    if (answer)
        *answer = reply;
    else
        json_decref(reply);
    return st;
}

/* table_call for an operation whose whole request is the table's name. */
static gda_status table_named_call(dynamodb_conn *conn, const char *operation,
                                   int64_t deadline_ms, json_t **answer, char *error_type,
                                   size_t error_type_size, gda_error *err)
{
    return table_call(conn, operation, json_pack("{s:s}", "TableName", conn->table), deadline_ms,
                      answer, error_type, error_type_size, err);
}

/* Poll DescribeTable until the table is ACTIVE or the deadline passes. */
static gda_status wait_active(dynamodb_conn *conn, int64_t deadline_ms, gda_error *err)
{
    for (;;) {
        char error_type[96];
        json_t *answer = NULL;
        gda_status st = table_named_call(conn, "DescribeTable", deadline_ms, &answer, error_type,
                                         sizeof error_type, err);
        if (st != GDA_OK)
            return st;
        /* Right after CreateTable, an eventually consistent DescribeTable may
         * not see the table yet: keep polling. */
        if (error_type[0] && strcmp(error_type, "ResourceNotFoundException") != 0) {
            json_decref(answer);
            return dynamodb_map_error(conn, "DescribeTable", error_type, err);
        }
        const char *status = error_type[0] ? NULL
                                           : json_string_value(json_object_get(
                                                 json_object_get(answer, "Table"), "TableStatus"));
        bool active = status && strcmp(status, "ACTIVE") == 0;
        json_decref(answer);
        if (active)
            return GDA_OK;
        if (now_ms(conn) + TABLE_POLL_MS >= deadline_ms)
            return gda_error_set(err, GDA_ERR_TIMEOUT, "table",
                                 "DynamoDB table '%s' did not become ACTIVE in time",
                                 conn->table);
        conn->clock.sleep_ms(TABLE_POLL_MS, conn->clock.user);
    }
}

/* Open a connection for one table operation; a deadline <= 0 becomes the
 * default budget from now. */
static gda_status table_conn_open(dynamodb_conn *conn, const gda_dynamodb_options *opts,
                                  int64_t *deadline_ms, gda_error *err)
{
    gda_status st = dynamodb_conn_open(conn, opts, err);
    if (st == GDA_OK && *deadline_ms <= 0)
        *deadline_ms = now_ms(conn) + TABLE_DEFAULT_BUDGET_MS;
    return st;
}

/* Enable TTL on the expiry attribute unless it already is. */
static gda_status enable_ttl(dynamodb_conn *conn, int64_t deadline_ms, bool *enabled,
                             gda_error *err)
{
    char error_type[96];
    json_t *answer = NULL;
    *enabled = false;

    gda_status st = table_named_call(conn, "DescribeTimeToLive", deadline_ms, &answer, error_type,
                                     sizeof error_type, err);
    if (st != GDA_OK)
        return st;
    if (!error_type[0]) {
        json_t *desc = json_object_get(answer, "TimeToLiveDescription");
        const char *status = json_string_value(json_object_get(desc, "TimeToLiveStatus"));
        const char *attr = json_string_value(json_object_get(desc, "AttributeName"));
        bool on = status && (strcmp(status, "ENABLED") == 0 || strcmp(status, "ENABLING") == 0);
        if (on && attr && strcmp(attr, conn->names.expires) == 0)
            *enabled = true;
    }
    json_decref(answer);
    if (*enabled)
        return GDA_OK;
    if (error_type[0] && strcmp(error_type, "UnknownOperationException") != 0)
        return dynamodb_map_error(conn, "DescribeTimeToLive", error_type, err);

    st = table_call(conn, "UpdateTimeToLive",
                    json_pack("{s:s, s:{s:s, s:b}}", "TableName", conn->table,
                              "TimeToLiveSpecification", "AttributeName", conn->names.expires,
                              "Enabled", 1),
                    deadline_ms, NULL, error_type, sizeof error_type, err);
    if (st != GDA_OK)
        return st;
    if (!error_type[0]) {
        *enabled = true;
        return GDA_OK;
    }
    /* Local emulators without TTL support: the table works, records just
     * are not deleted by the server (the store ignores dead ones anyway). */
    if (strcmp(error_type, "UnknownOperationException") == 0)
        return GDA_OK;
    return dynamodb_map_error(conn, "UpdateTimeToLive", error_type, err);
}

gda_status gda_dynamodb_create_table(const gda_dynamodb_options *opts, int64_t deadline_ms,
                                     bool *created, bool *ttl_enabled, gda_error *err)
{
    dynamodb_conn conn;
    bool created_local = false, ttl_local = false;
    created = created ? created : &created_local;
    ttl_enabled = ttl_enabled ? ttl_enabled : &ttl_local;
    *created = false;
    *ttl_enabled = false;

    gda_status st = table_conn_open(&conn, opts, &deadline_ms, err);
    if (st != GDA_OK)
        return st;

    char error_type[96];
    json_t *req = json_pack("{s:s, s:[{s:s, s:s}], s:[{s:s, s:s}], s:s}", "TableName", conn.table,
                            "AttributeDefinitions", "AttributeName", conn.names.key,
                            "AttributeType", "S", "KeySchema", "AttributeName", conn.names.key,
                            "KeyType", "HASH", "BillingMode", "PAY_PER_REQUEST");
    st = table_call(&conn, "CreateTable", req, deadline_ms, NULL, error_type, sizeof error_type,
                    err);
    if (st != GDA_OK)
        goto done;
    if (!error_type[0]) {
        *created = true;
    } else if (strcmp(error_type, "ResourceInUseException") != 0) {
        st = dynamodb_map_error(&conn, "CreateTable", error_type, err);
        if (st == GDA_ERR_STORE && strcmp(error_type, "ValidationException") == 0)
            st = gda_error_set(err, GDA_ERR_CONFIG, "table",
                               "DynamoDB refused to create table '%s' (ValidationException)",
                               conn.table);
        goto done;
    }
    if ((st = wait_active(&conn, deadline_ms, err)) != GDA_OK)
        goto done;
    st = enable_ttl(&conn, deadline_ms, ttl_enabled, err);
done:
    dynamodb_conn_close(&conn);
    return st;
}

gda_status gda_dynamodb_delete_table(const gda_dynamodb_options *opts, int64_t deadline_ms,
                                     gda_error *err)
{
    dynamodb_conn conn;
    gda_status st = table_conn_open(&conn, opts, &deadline_ms, err);
    if (st != GDA_OK)
        return st;
    char error_type[96];
    st = table_named_call(&conn, "DeleteTable", deadline_ms, NULL, error_type, sizeof error_type,
                          err);
    if (st == GDA_OK && error_type[0] && strcmp(error_type, "ResourceNotFoundException") != 0)
        st = dynamodb_map_error(&conn, "DeleteTable", error_type, err);
    dynamodb_conn_close(&conn);
    return st;
}
