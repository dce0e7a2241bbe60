/* libgda-store-dynamodb — creating the table (with TTL) for deployments and
 * local development, and deleting it for tests. */
#include "dynamodb_internal.h"

#include "clock.h"

#include <string.h>

/* Default budget of the table helpers: creating a real table takes seconds. */
#define TABLE_DEFAULT_BUDGET_MS 30000
#define TABLE_POLL_MS 200

static int64_t now_ms(const dynamodb_conn *conn)
{
    return gda_clock_read(&conn->clock);
}

/* What one table operation answered: the reply (NULL when DynamoDB
 * refused) and the refusal's error type ("" when it did not). */
typedef struct table_answer {
    json_t *reply;
    char error[96];
} table_answer;

/* dynamodb_request for a request built just before the call: req is
 * consumed, and NULL (json_pack out of memory) is GDA_ERR_NOMEM. Release
 * *ans with answer_release, whatever the call returned. */
static gda_status table_call(dynamodb_conn *conn, const char *operation, json_t *req,
                             int64_t deadline_ms, table_answer *ans, gda_error *err)
{
    ans->reply = NULL;
    ans->error[0] = '\0';
    if (!req)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    gda_status st = dynamodb_request(conn, operation, req, deadline_ms, &ans->reply, ans->error,
                                     sizeof ans->error, NULL, err);
    json_decref(req);
    return st;
}

/* table_call for an operation whose whole request is the table's name. */
static gda_status table_named_call(dynamodb_conn *conn, const char *operation,
                                   int64_t deadline_ms, table_answer *ans, gda_error *err)
{
    return table_call(conn, operation, json_pack("{s:s}", "TableName", conn->table), deadline_ms,
                      ans, err);
}

static void answer_release(table_answer *ans)
{
    json_decref(ans->reply);
    ans->reply = NULL;
}

/* Whether the answer's reply.object.member is one of the strings in want
 * (NULL-terminated). */
static bool answer_says(const table_answer *ans, const char *object, const char *member,
                        const char *const *want)
{
    const char *value = json_string_value(json_object_get(json_object_get(ans->reply, object),
                                                          member));
    for (; value && *want; want++) {
        if (strcmp(value, *want) == 0)
            return true;
    }
    return false;
}

/* Poll DescribeTable until the table is ACTIVE or the deadline passes. */
static gda_status wait_active(dynamodb_conn *conn, int64_t deadline_ms, gda_error *err)
{
    static const char *const active[] = {"ACTIVE", NULL};
    for (;;) {
        table_answer ans;
        gda_status st = table_named_call(conn, "DescribeTable", deadline_ms, &ans, err);
        /* Right after CreateTable, an eventually consistent DescribeTable may
         * not see the table yet: keep polling. */
        if (st == GDA_OK && ans.error[0] && strcmp(ans.error, "ResourceNotFoundException") != 0)
            st = dynamodb_map_error(conn, "DescribeTable", ans.error, err);
        bool done = st == GDA_OK && answer_says(&ans, "Table", "TableStatus", active);
        answer_release(&ans);
        if (st != GDA_OK || done)
            return st;
        if (now_ms(conn) + TABLE_POLL_MS >= deadline_ms)
            return gda_error_set(err, GDA_ERR_TIMEOUT, "table",
                                 "DynamoDB table '%s' did not become ACTIVE in time",
                                 conn->table);
        gda_clock_wait(&conn->clock, TABLE_POLL_MS);
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
    static const char *const on[] = {"ENABLED", "ENABLING", NULL};
    const char *const ours[] = {conn->names.expires, NULL};
    table_answer ans;
    *enabled = false;

    gda_status st = table_named_call(conn, "DescribeTimeToLive", deadline_ms, &ans, err);
    if (st != GDA_OK)
        return st;
    *enabled = !ans.error[0] &&
               answer_says(&ans, "TimeToLiveDescription", "TimeToLiveStatus", on) &&
               answer_says(&ans, "TimeToLiveDescription", "AttributeName", ours);
    answer_release(&ans);
    if (*enabled)
        return GDA_OK;
    if (ans.error[0] && strcmp(ans.error, "UnknownOperationException") != 0)
        return dynamodb_map_error(conn, "DescribeTimeToLive", ans.error, err);

    st = table_call(conn, "UpdateTimeToLive",
                    json_pack("{s:s, s:{s:s, s:b}}", "TableName", conn->table,
                              "TimeToLiveSpecification", "AttributeName", conn->names.expires,
                              "Enabled", 1),
                    deadline_ms, &ans, err);
    answer_release(&ans);
    if (st != GDA_OK)
        return st;
    if (!ans.error[0]) {
        *enabled = true;
        return GDA_OK;
    }
    /* Local emulators without TTL support: the table works, records just
     * are not deleted by the server (the store ignores dead ones anyway). */
    if (strcmp(ans.error, "UnknownOperationException") == 0)
        return GDA_OK;
    return dynamodb_map_error(conn, "UpdateTimeToLive", ans.error, err);
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

    table_answer ans;
    json_t *req = json_pack("{s:s, s:[{s:s, s:s}], s:[{s:s, s:s}], s:s}", "TableName", conn.table,
                            "AttributeDefinitions", "AttributeName", conn.names.key,
                            "AttributeType", "S", "KeySchema", "AttributeName", conn.names.key,
                            "KeyType", "HASH", "BillingMode", "PAY_PER_REQUEST");
    st = table_call(&conn, "CreateTable", req, deadline_ms, &ans, err);
    answer_release(&ans);
    if (st != GDA_OK)
        goto done;
    if (!ans.error[0]) {
        *created = true;
    } else if (strcmp(ans.error, "ResourceInUseException") != 0) {
        st = dynamodb_map_error(&conn, "CreateTable", ans.error, err);
        if (st == GDA_ERR_STORE && strcmp(ans.error, "ValidationException") == 0)
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
    table_answer ans;
    st = table_named_call(&conn, "DeleteTable", deadline_ms, &ans, err);
    answer_release(&ans);
    if (st == GDA_OK && ans.error[0] && strcmp(ans.error, "ResourceNotFoundException") != 0)
        st = dynamodb_map_error(&conn, "DeleteTable", ans.error, err);
    dynamodb_conn_close(&conn);
    return st;
}
