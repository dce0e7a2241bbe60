/* Tests for lib/stores/dynamodb (include/gda/store/dynamodb.h): the shared
 * store contract suite against a real DynamoDB-compatible server (dynalite,
 * one fresh table per test case), then what is particular to DynamoDB: the
 * request shapes on the wire (conditional PutItem with ALL_OLD, the TTL
 * attribute in epoch seconds, configurable attribute names), the GetItem
 * fallback when the server does not return the old item, error mapping,
 * deadlines, the table helper, one round trip on the hot path, the body
 * limit with the largest possible item, and items without a principal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <gda/idempotency.h>
#include <gda/store.h>
#include <gda/store/dynamodb.h>

#include "dynalite.h"
#include "dynamodb_internal.h" /* table tear-down, store stats */
#include "http_standin.h"
#include "store_suite.h"

#define T0_MS INT64_C(1700000000000)
#define T0_S (T0_MS / 1000)
#define CCF "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\",\"message\":\"The conditional request failed\"}"

static dynalite_server server;
static unsigned table_counter;

static gda_store_call at(int64_t now_ms)
{
    gda_store_call call = {.now_ms = now_ms, .deadline_ms = 0};
    return call;
}

static gda_record in_progress(const char *key, const char *owner, uint8_t hash_byte, int64_t now)
{
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = (char *)key;
    rec.state = GDA_RECORD_IN_PROGRESS;
    memset(rec.payload_hash, hash_byte, sizeof rec.payload_hash);
    snprintf(rec.owner, sizeof rec.owner, "%s", owner);
    rec.lease_until_ms = now + 30000;
    rec.expires_at_s = now / 1000 + 3600;
    return rec;
}

/* ---- the shared suite: one fresh table per test case -------------------- */

typedef struct suite_ctx {
    char table[64];
} suite_ctx;

static gda_store *suite_open(void *user)
{
    suite_ctx *ctx = user;
    snprintf(ctx->table, sizeof ctx->table, "suite_%u_%u", (unsigned)getpid(), ++table_counter);
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = ctx->table;
    o.endpoint = server.endpoint;
    gda_error err;
    bool created = false;
    if (gda_dynamodb_create_table(&o, 0, &created, NULL, &err) != GDA_OK || !created) {
        fprintf(stderr, "create table %s: %s\n", ctx->table, err.message);
        return NULL;
    }
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    if (!store)
        fprintf(stderr, "open store: %s\n", err.message);
    return store;
}

static void suite_cleanup(void *user)
{
    suite_ctx *ctx = user;
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = ctx->table;
    o.endpoint = server.endpoint;
    gda_error err;
    if (gda_dynamodb_delete_table(&o, 0, &err) != GDA_OK)
        fprintf(stderr, "delete table %s: %s\n", ctx->table, err.message);
}

/* ---- against dynalite --------------------------------------------------- */

static gda_store *open_on(const char *endpoint, const char *table, gda_dynamodb_options *o)
{
    gda_dynamodb_options local;
    if (!o) {
        memset(&local, 0, sizeof local);
        o = &local;
    }
    o->table = table;
    o->endpoint = endpoint;
    gda_error err;
    gda_store *store = gda_dynamodb_store_new(o, &err);
    assert_non_null(store);
    return store;
}

static void make_table(const char *table)
{
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = table;
    o.endpoint = server.endpoint;
    gda_error err;
    assert_int_equal(gda_dynamodb_create_table(&o, 0, NULL, NULL, &err), GDA_OK);
}

/* begin/complete of one request under ring (n keys) on store; returns the
 * outcome, and the lease's replaced_unreadable in *replaced. */
static gda_idem_outcome run_once(gda_store *store, const gda_idem_data_key *ring, size_t n,
                                 bool *replaced)
{
    static const uint8_t hash_key[GDA_IDEM_HASH_KEY_LEN] = {9, 9, 9};
    static const uint8_t principal[GDA_PRINCIPAL_DIGEST_LEN] = {'p'};
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    cfg.data_keys = ring;
    cfg.n_data_keys = n;
    cfg.hash_key = hash_key;
    cfg.hash_key_len = sizeof hash_key;
    gda_error err;
    gda_idem *idem = gda_idem_new(store, &cfg, &err);
    assert_non_null(idem);
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    gda_idem_payload_hash_bytes(idem, "{}", 2, hash);
    gda_idem_outcome outcome = 0;
    gda_idem_lease lease;
    gda_idem_result result = {0};
    assert_int_equal(gda_idem_begin(idem, "rotated", hash, principal, 0, &outcome, &lease, &result,
                                    &err),
                     GDA_OK);
    *replaced = outcome == GDA_IDEM_NEW && lease.replaced_unreadable;
    if (outcome == GDA_IDEM_NEW)
        assert_int_equal(gda_idem_complete(idem, &lease, 200, "{\"n\":1}", 7, &err), GDA_OK);
    else
        assert_memory_equal(result.body, "{\"n\":1}", 7);
    gda_idem_result_clear(&result);
    gda_idem_free(idem);
    return outcome;
}

/* The data-key rotation on a real DynamoDB-compatible server: a record made
 * under d1 replays once d2 is added first, and is replaced (conditionally on
 * its owner token) once d1 is gone. */
static void test_data_key_rotation(void **state)
{
    (void)state;
    make_table("rotation");
    gda_store *store = open_on(server.endpoint, "rotation", NULL);
    static const uint8_t k1[GDA_IDEM_DATA_KEY_LEN] = {1}, k2[GDA_IDEM_DATA_KEY_LEN] = {2};
    const gda_idem_data_key before[] = {{"d1", k1}}, during[] = {{"d2", k2}, {"d1", k1}},
                            after[] = {{"d2", k2}};
    bool replaced = false;
    assert_int_equal(run_once(store, before, 1, &replaced), GDA_IDEM_NEW);
    assert_int_equal(run_once(store, during, 2, &replaced), GDA_IDEM_REPLAY);
    assert_int_equal(run_once(store, after, 1, &replaced), GDA_IDEM_NEW);
    assert_true(replaced);
    assert_int_equal(run_once(store, after, 1, &replaced), GDA_IDEM_REPLAY);
    gda_store_close(store);
}

static void test_missing_table_is_config_error_naming_it(void **state)
{
    (void)state;
    gda_store *store = open_on(server.endpoint, "no_such_table", NULL);
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress("k", "0123456789abcdef0123456789abcdef", 1, T0_MS);
    gda_error err;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, NULL, NULL, &err),
                     GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "'no_such_table'"));
    assert_non_null(strstr(err.message, "create-table"));
    gda_record out = {0};
    assert_int_equal(gda_store_get(store, "k", &call, &out, NULL, &err), GDA_ERR_CONFIG);
    gda_store_close(store);
}

static void test_create_table_is_idempotent(void **state)
{
    (void)state;
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = "idempotent_create";
    o.endpoint = server.endpoint;
    bool created = false, ttl = true;
    gda_error err;
    assert_int_equal(gda_dynamodb_create_table(&o, 0, &created, &ttl, &err), GDA_OK);
    assert_true(created);
    /* dynalite has no UpdateTimeToLive: reported, not an error. */
    assert_false(ttl);
    assert_int_equal(gda_dynamodb_create_table(&o, 0, &created, &ttl, &err), GDA_OK);
    assert_false(created);
    assert_int_equal(gda_dynamodb_delete_table(&o, 0, &err), GDA_OK);
    /* Deleting what is not there is fine too. */
    assert_int_equal(gda_dynamodb_delete_table(&o, 0, &err), GDA_OK);
}

static void test_custom_attribute_names_roundtrip(void **state)
{
    (void)state;
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = "custom_names";
    o.endpoint = server.endpoint;
    o.attr_key = "pk";
    o.attr_state = "st";
    o.attr_expires = "ttl";
    o.attr_body = "result";
    gda_error err;
    assert_int_equal(gda_dynamodb_create_table(&o, 0, NULL, NULL, &err), GDA_OK);
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress("custom", "0123456789abcdef0123456789abcdef", 9, T0_MS);
    bool inserted = false;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, &inserted, NULL, &err), GDA_OK);
    assert_true(inserted);
    rec.state = GDA_RECORD_COMPLETED;
    rec.status_code = 201;
    rec.body = (uint8_t *)"{\"ok\":true}";
    rec.body_len = 11;
    bool applied = false;
    assert_int_equal(gda_store_complete(store, &rec, &call, &applied, &err), GDA_OK);
    assert_true(applied);
    gda_record got;
    bool found = false;
    assert_int_equal(gda_store_get(store, "custom", &call, &got, &found, &err), GDA_OK);
    assert_true(found);
    assert_int_equal(got.state, GDA_RECORD_COMPLETED);
    assert_int_equal(got.status_code, 201);
    assert_int_equal(got.body_len, 11);
    assert_memory_equal(got.body, "{\"ok\":true}", 11);
    gda_record_clear(&got);
    gda_store_close(store);

    /* A store that expects the default key name cannot address this table. */
    memset(&o, 0, sizeof o);
    store = open_on(server.endpoint, "custom_names", &o);
    assert_int_equal(gda_store_get(store, "custom", &call, &got, &found, &err), GDA_ERR_STORE);
    assert_non_null(strstr(err.message, "ValidationException"));
    gda_store_close(store);
}

static void test_hot_path_is_one_round_trip(void **state)
{
    (void)state;
    make_table("round_trips");
    gda_store *store = open_on(server.endpoint, "round_trips", NULL);
    gda_store_call call = at(T0_MS);
    gda_error err;
    gda_dynamodb_stats before, after;
    assert_int_equal(gda_dynamodb_store_stats(store, &before, &err), GDA_OK);
    gda_record rec = in_progress("hot", "0123456789abcdef0123456789abcdef", 3, T0_MS);
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, NULL, NULL, &err), GDA_OK);
    assert_int_equal(gda_dynamodb_store_stats(store, &after, &err), GDA_OK);
    assert_int_equal(after.round_trips - before.round_trips, 1);

    /* A conflict costs at most one more (the GetItem dynalite needs, as it
     * does not return ALL_OLD). */
    gda_record other = in_progress("hot", "fedcba9876543210fedcba9876543210", 3, T0_MS);
    bool inserted = true;
    gda_record existing = {0};
    assert_int_equal(gda_store_put_if_absent(store, &other, &call, &inserted, &existing, &err),
                     GDA_OK);
    assert_false(inserted);
    assert_string_equal(existing.owner, rec.owner);
    gda_record_clear(&existing);
    gda_dynamodb_stats conflict;
    assert_int_equal(gda_dynamodb_store_stats(store, &conflict, &err), GDA_OK);
    assert_true(conflict.round_trips - after.round_trips <= 2);
    assert_int_equal(conflict.connections, 1); /* all on one kept-alive connection */
    assert_int_equal(gda_dynamodb_store_stats(NULL, &conflict, &err), GDA_ERR_INTERNAL);
    gda_store_close(store);
}

static void test_open_errors(void **state)
{
    (void)state;
    gda_dynamodb_options o;
    gda_error err;
    memset(&o, 0, sizeof o);
    o.endpoint = server.endpoint;
    assert_null(gda_dynamodb_store_new(&o, &err)); /* no table */
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    o.table = "bad table!";
    assert_null(gda_dynamodb_store_new(&o, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    o.table = "fine";
    o.attr_owner = "state"; /* same as the default state attribute */
    assert_null(gda_dynamodb_store_new(&o, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "same"));
    o.attr_owner = "";
    assert_null(gda_dynamodb_store_new(&o, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    o.attr_owner = NULL;
    o.endpoint = "not-a-url";
    assert_null(gda_dynamodb_store_new(&o, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    o.endpoint = server.endpoint;

    /* No region, then no credentials: clear config errors. */
    char *region = strdup(getenv("AWS_REGION"));
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    assert_null(gda_dynamodb_store_new(&o, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "AWS_REGION"));
    o.region = region; /* an explicit region works without the variable */
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    gda_store_close(store);
    setenv("AWS_REGION", region, 1);
    free(region);
    o.region = NULL;

    char *secret = strdup(getenv("AWS_SECRET_ACCESS_KEY"));
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_null(gda_dynamodb_store_new(&o, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_string_equal(err.field, "AWS_SECRET_ACCESS_KEY");
    setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
    free(secret);

    /* The endpoint may come from the environment. */
    setenv(GDA_DYNAMODB_ENDPOINT_ENV, server.endpoint, 1);
    make_table("env_endpoint");
    o.endpoint = NULL;
    o.table = "env_endpoint";
    store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    gda_store_call call = at(T0_MS);
    gda_record out;
    bool found = true;
    assert_int_equal(gda_store_get(store, "nothing", &call, &out, &found, &err), GDA_OK);
    assert_false(found);
    gda_store_close(store);
    unsetenv(GDA_DYNAMODB_ENDPOINT_ENV);
    gda_store_close(NULL);
}

static void test_oversized_key_is_rejected(void **state)
{
    (void)state;
    make_table("long_keys");
    gda_store *store = open_on(server.endpoint, "long_keys", NULL);
    char key[GDA_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress(key, "0123456789abcdef0123456789abcdef", 1, T0_MS);
    gda_error err;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, NULL, NULL, &err),
                     GDA_ERR_INVALID_FIELD);
    gda_store_close(store);
}

/* ---- on the wire, at a stand-in ----------------------------------------- */

static json_t *request_json(http_standin *s, unsigned index)
{
    static char body[65536];
    assert_true(standin_body(s, index, body, sizeof body));
    json_t *doc = json_loads(body, 0, NULL);
    assert_non_null(doc);
    return doc;
}

static const char *attr(json_t *item, const char *name, const char *type)
{
    return json_string_value(json_object_get(json_object_get(item, name), type));
}

static void test_put_request_shape(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 200, "{}"}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.attr_key = "id";
    gda_store *store = open_on(standin_endpoint(s), "shape_table", &o);
    gda_store_call call = at(T0_MS + 1234);
    call.skew_ms = 2000; /* compared as if 2 s earlier: a fast clock takes nothing over */
    gda_record rec = in_progress("wire-key", "0123456789abcdef0123456789abcdef", 0xab, T0_MS);
    memset(rec.principal, 0xcd, sizeof rec.principal);
    bool inserted = false;
    gda_error err;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, &inserted, NULL, &err), GDA_OK);
    assert_true(inserted);

    char target[128];
    assert_true(standin_header(s, 0, "X-Amz-Target", target, sizeof target));
    assert_string_equal(target, "DynamoDB_20120810.PutItem");
    json_t *req = request_json(s, 0);
    assert_string_equal(json_string_value(json_object_get(req, "TableName")), "shape_table");
    assert_string_equal(json_string_value(json_object_get(req, "ReturnValuesOnConditionCheckFailure")),
                        "ALL_OLD");
    assert_string_equal(json_string_value(json_object_get(req, "ConditionExpression")),
                        "attribute_not_exists(#k) OR #e < :now_s OR (#s = :in_progress AND #l <= :now_ms)");
    json_t *names = json_object_get(req, "ExpressionAttributeNames");
    assert_string_equal(json_string_value(json_object_get(names, "#k")), "id");
    assert_string_equal(json_string_value(json_object_get(names, "#e")), "expiresAt");
    json_t *values = json_object_get(req, "ExpressionAttributeValues");
    assert_string_equal(attr(values, ":now_s", "N"), "1699999999");
    assert_string_equal(attr(values, ":now_ms", "N"), "1699999999234");
    json_t *item = json_object_get(req, "Item");
    assert_string_equal(attr(item, "id", "S"), "wire-key");
    assert_string_equal(attr(item, "state", "S"), "IN_PROGRESS");
    assert_string_equal(attr(item, "owner", "S"), "0123456789abcdef0123456789abcdef");
    assert_string_equal(attr(item, "leaseUntilMs", "N"), "1700000030000");
    /* The TTL attribute is in epoch seconds. */
    assert_string_equal(attr(item, "expiresAt", "N"), "1700003600");
    /* Only the payload's hash is stored: 32 bytes, base64. */
    assert_string_equal(attr(item, "payloadHash", "B"),
                        "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=");
    assert_null(json_object_get(item, "body"));
    /* The creating caller, as the engine's keyed digest. */
    assert_string_equal(attr(item, "principal", "B"), "zc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc0=");
    json_decref(req);
    gda_store_close(store);
    standin_stop(s);
}

static void test_conflict_uses_returned_old_item(void **state)
{
    (void)state;
    char reply[1024];
    snprintf(reply, sizeof reply,
             "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
             "\"message\":\"The conditional request failed\",\"Item\":{"
             "\"requestId\":{\"S\":\"k1\"},\"state\":{\"S\":\"COMPLETED\"},"
             "\"payloadHash\":{\"B\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\"},"
             "\"owner\":{\"S\":\"ffffffffffffffffffffffffffffffff\"},"
             "\"leaseUntilMs\":{\"N\":\"%lld\"},\"expiresAt\":{\"N\":\"%lld\"},"
             "\"statusCode\":{\"N\":\"200\"},\"body\":{\"B\":\"aGVsbG8=\"},\"flags\":{\"N\":\"1\"}}}",
             (long long)(T0_MS + 1000), (long long)(T0_S + 60));
    standin_reply script[] = {{0, 400, reply}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    gda_store *store = open_on(standin_endpoint(s), "old_item", NULL);
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress("k1", "0123456789abcdef0123456789abcdef", 0xab, T0_MS);
    bool inserted = true;
    gda_record existing = {0};
    gda_error err;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, &inserted, &existing, &err),
                     GDA_OK);
    assert_false(inserted);
    assert_int_equal(standin_requests(s), 1); /* no GetItem needed */
    assert_string_equal(existing.key, "k1");
    assert_int_equal(existing.state, GDA_RECORD_COMPLETED);
    assert_string_equal(existing.owner, "ffffffffffffffffffffffffffffffff");
    assert_int_equal(existing.status_code, 200);
    assert_int_equal(existing.expires_at_s, T0_S + 60);
    assert_int_equal(existing.flags, 1);
    assert_int_equal(existing.body_len, 5);
    assert_memory_equal(existing.body, "hello", 5);
    gda_record_clear(&existing);
    gda_store_close(store);
    standin_stop(s);
}

static void test_conflict_without_old_item_reads_consistently(void **state)
{
    (void)state;
    /* Condition failed, no item returned; the consistent read finds the
     * record gone (released meanwhile); the put is tried again and wins. */
    standin_reply script[] = {{0, 400, CCF}, {0, 200, "{}"}, {0, 200, "{}"}};
    http_standin *s = standin_start(script, 3);
    assert_non_null(s);
    gda_store *store = open_on(standin_endpoint(s), "gone_table", NULL);
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress("k2", "0123456789abcdef0123456789abcdef", 1, T0_MS);
    bool inserted = false;
    gda_error err;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, &inserted, NULL, &err), GDA_OK);
    assert_true(inserted);
    assert_int_equal(standin_requests(s), 3);
    char target[128];
    assert_true(standin_header(s, 1, "X-Amz-Target", target, sizeof target));
    assert_string_equal(target, "DynamoDB_20120810.GetItem");
    json_t *get = request_json(s, 1);
    assert_true(json_is_true(json_object_get(get, "ConsistentRead")));
    json_decref(get);
    assert_true(standin_header(s, 2, "X-Amz-Target", target, sizeof target));
    assert_string_equal(target, "DynamoDB_20120810.PutItem");
    gda_store_close(store);
    standin_stop(s);

    /* A record that keeps vanishing: bounded, then a store error. */
    standin_reply flapping[] = {{0, 400, CCF}, {0, 200, "{}"}};
    standin_reply loop[8];
    for (int i = 0; i < 8; i++)
        loop[i] = flapping[i % 2];
    s = standin_start(loop, 8);
    assert_non_null(s);
    store = open_on(standin_endpoint(s), "gone_table", NULL);
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, &inserted, NULL, &err),
                     GDA_ERR_STORE);
    assert_false(inserted);
    assert_int_equal(standin_requests(s), 8);
    gda_store_close(store);
    standin_stop(s);
}

static void test_complete_and_release_request_shape(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 200, "{}"}, {0, 400, CCF}, {0, 200, "{}"}};
    http_standin *s = standin_start(script, 3);
    assert_non_null(s);
    gda_store *store = open_on(standin_endpoint(s), "writes_table", NULL);
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress("k3", "0123456789abcdef0123456789abcdef", 1, T0_MS);
    rec.state = GDA_RECORD_COMPLETED;
    rec.status_code = 200;
    rec.body = (uint8_t *)"hi";
    rec.body_len = 2;
    rec.flags = 1;
    bool applied = false;
    gda_error err;
    assert_int_equal(gda_store_complete(store, &rec, &call, &applied, &err), GDA_OK);
    assert_true(applied);
    json_t *req = request_json(s, 0);
    assert_string_equal(json_string_value(json_object_get(req, "ConditionExpression")),
                        "#o = :owner AND #s <> :completed AND "
                        "(attribute_not_exists(#e) OR #e >= :now_s)");
    json_t *values = json_object_get(req, "ExpressionAttributeValues");
    assert_string_equal(attr(values, ":owner", "S"), rec.owner);
    assert_string_equal(attr(values, ":state", "S"), "COMPLETED");
    assert_string_equal(attr(values, ":status", "N"), "200");
    assert_string_equal(attr(values, ":expires", "N"), "1700003600");
    assert_string_equal(attr(values, ":body", "B"), "aGk=");
    assert_string_equal(attr(values, ":now_s", "N"), "1700000000"); /* no skew for a finish */
    json_decref(req);

    /* A failed condition without a retry in between: not applied. */
    assert_int_equal(gda_store_complete(store, &rec, &call, &applied, &err), GDA_OK);
    assert_false(applied);

    assert_int_equal(gda_store_release(store, "k3", rec.owner, &call, &applied, &err), GDA_OK);
    assert_true(applied);
    char target[128];
    assert_true(standin_header(s, 2, "X-Amz-Target", target, sizeof target));
    assert_string_equal(target, "DynamoDB_20120810.DeleteItem");
    req = request_json(s, 2);
    assert_string_equal(json_string_value(json_object_get(req, "ConditionExpression")),
                        "#o = :owner AND #s = :in_progress");
    json_decref(req);
    gda_store_close(store);
    standin_stop(s);
}

static void test_error_mapping(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int http;
        gda_status expect;
        const char *says;
    } cases[] = {
        {"{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\"}", 400,
         GDA_ERR_CONFIG, "credentials"},
        {"{\"__type\":\"com.amazon.coral.service#AccessDeniedException\"}", 400, GDA_ERR_CONFIG,
         "dynamodb:PutItem"},
        {"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\"}", 400,
         GDA_ERR_CONFIG, "'map_table'"},
        {"{\"__type\":\"com.amazon.coral.validate#ValidationException\"}", 400, GDA_ERR_STORE,
         "ValidationException"},
        {"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ItemCollectionSizeLimitExceededException\"}",
         400, GDA_ERR_STORE, "ItemCollectionSizeLimitExceededException"},
        {"not json", 400, GDA_ERR_STORE, "unreadable"},
        {"", 404, GDA_ERR_STORE, "HTTP 404"},
        {"{\"__type\":\"ProvisionedThroughputExceededException\"}", 400, GDA_ERR_STORE,
         "ProvisionedThroughputExceededException"},
        {"{}", 503, GDA_ERR_STORE, "HTTP 503"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        standin_reply script[] = {{0, cases[i].http, cases[i].body}};
        http_standin *s = standin_start(script, 1);
        assert_non_null(s);
        gda_dynamodb_options o;
        memset(&o, 0, sizeof o);
        o.max_attempts = 2;
        o.backoff_base_ms = 1;
        o.backoff_cap_ms = 1;
        gda_store *store = open_on(standin_endpoint(s), "map_table", &o);
        gda_store_call call = at(T0_MS);
        gda_record rec = in_progress("k", "0123456789abcdef0123456789abcdef", 1, T0_MS);
        gda_error err;
        gda_status st = gda_store_put_if_absent(store, &rec, &call, NULL, NULL, &err);
        if (st != cases[i].expect || !strstr(err.message, cases[i].says))
            fail_msg("case %zu: status %d message '%s'", i, st, err.message);
        assert_true(gda_status_retryable(GDA_ERR_STORE));
        gda_store_close(store);
        standin_stop(s);
    }
}

static void test_malformed_item_is_store_error(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"Item\":{\"requestId\":{\"S\":\"k\"},\"state\":{\"S\":\"WEIRD\"},\"owner\":{\"S\":\"o\"},\"payloadHash\":{\"B\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\"}}}",
        "{\"Item\":{\"requestId\":{\"S\":\"k\"},\"state\":{\"S\":\"COMPLETED\"},\"owner\":{\"S\":\"o\"},\"payloadHash\":{\"B\":\"AAAA\"}}}",
        "{\"Item\":{\"requestId\":{\"S\":\"k\"},\"state\":{\"S\":\"COMPLETED\"},\"owner\":{\"S\":\"o\"},\"payloadHash\":{\"B\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\"},\"statusCode\":{\"N\":\"abc\"}}}",
        "{\"Item\":{\"requestId\":{\"N\":\"1\"}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        standin_reply script[] = {{0, 200, bad[i]}};
        http_standin *s = standin_start(script, 1);
        assert_non_null(s);
        gda_store *store = open_on(standin_endpoint(s), "bad_items", NULL);
        gda_store_call call = at(T0_MS);
        gda_record out = {0};
        bool found = true;
        gda_error err;
        assert_int_equal(gda_store_get(store, "k", &call, &out, &found, &err), GDA_ERR_STORE);
        assert_false(found);
        assert_non_null(strstr(err.message, "malformed"));
        gda_store_close(store);
        standin_stop(s);
    }
}

/* The body limit holds for the largest item there can be: a GDA_KEY_MAX-byte
 * key, every attribute name at its 255-byte maximum and a body of exactly
 * max_body fit DynamoDB's 400 KB (dynalite applies the same size rule to the
 * item an UpdateItem leaves). One byte more is refused by the store before
 * anything is sent. */
static void test_max_body_fits_largest_item(void **state)
{
    (void)state;
    static char names[10][256];
    for (int i = 0; i < 10; i++) {
        memset(names[i], 'a' + i, 255);
        names[i][255] = '\0';
    }
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = "largest_item";
    o.endpoint = server.endpoint;
    o.attr_key = names[0];
    o.attr_state = names[1];
    o.attr_payload = names[2];
    o.attr_owner = names[3];
    o.attr_lease = names[4];
    o.attr_expires = names[5];
    o.attr_status = names[6];
    o.attr_body = names[7];
    o.attr_flags = names[8];
    o.attr_principal = names[9];
    gda_error err;
    assert_int_equal(gda_dynamodb_create_table(&o, 0, NULL, NULL, &err), GDA_OK);
    gda_store *store = gda_dynamodb_store_new(&o, &err);
    assert_non_null(store);
    assert_int_equal(store->max_body, GDA_DYNAMODB_MAX_BODY);
    assert_int_equal(GDA_DYNAMODB_MAX_BODY, 405504); /* the figure the header documents */

    char key[GDA_KEY_MAX + 1];
    memset(key, 'k', GDA_KEY_MAX);
    key[GDA_KEY_MAX] = '\0';
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress(key, "0123456789abcdef0123456789abcdef", 0xff, T0_MS);
    memset(rec.principal, 0xff, sizeof rec.principal);
    rec.expires_at_s = INT64_C(9999999999);
    bool inserted = false;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, &inserted, NULL, &err), GDA_OK);
    assert_true(inserted);

    size_t max = store->max_body;
    uint8_t *body = malloc(max + 1);
    assert_non_null(body);
    memset(body, 0xa5, max + 1);
    rec.state = GDA_RECORD_COMPLETED;
    rec.status_code = 422;
    rec.flags = UINT32_MAX;
    rec.body = body;
    rec.body_len = max;
    call = at(T0_MS + 1);
    bool applied = false;
    if (gda_store_complete(store, &rec, &call, &applied, &err) != GDA_OK)
        fail_msg("a body of max_body with the longest key and names: %s", err.message);
    assert_true(applied);
    gda_record got;
    bool found = false;
    assert_int_equal(gda_store_get(store, key, &call, &got, &found, &err), GDA_OK);
    assert_true(found);
    assert_int_equal(got.body_len, max);
    assert_memory_equal(got.body, body, max);
    assert_memory_equal(got.principal, rec.principal, sizeof rec.principal);
    gda_record_clear(&got);

    /* One byte more, past the wrapper's check: the backend's own guard. */
    gda_record next = in_progress("next", "fedcba9876543210fedcba9876543210", 1, T0_MS);
    assert_int_equal(gda_store_put_if_absent(store, &next, &call, &inserted, NULL, &err), GDA_OK);
    assert_true(inserted);
    next.state = GDA_RECORD_COMPLETED;
    next.status_code = 200;
    next.body = body;
    next.body_len = max + 1;
    gda_dynamodb_stats before, after;
    assert_int_equal(gda_dynamodb_store_stats(store, &before, &err), GDA_OK);
    applied = true;
    assert_int_equal(store->ops->complete(store, &next, &call, &applied, &err),
                     GDA_ERR_RESULT_TOO_LARGE);
    assert_false(applied);
    assert_int_equal(gda_dynamodb_store_stats(store, &after, &err), GDA_OK);
    assert_int_equal(after.calls, before.calls);
    assert_int_equal(after.round_trips, before.round_trips);
    assert_int_equal(gda_store_get(store, "next", &call, &got, &found, &err), GDA_OK);
    assert_true(found);
    assert_int_equal(got.state, GDA_RECORD_IN_PROGRESS);
    gda_record_clear(&got);
    free(body);
    gda_store_close(store);
    assert_int_equal(gda_dynamodb_delete_table(&o, 0, &err), GDA_OK);
}

/* A body over max_body never leaves the process: not from complete (the
 * backend's guard, called past the wrapper's check), not from put_if_absent. */
static void test_oversized_body_is_never_sent(void **state)
{
    (void)state;
    standin_reply script[] = {{0, 200, "{}"}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    gda_store *store = open_on(standin_endpoint(s), "big_bodies", NULL);
    size_t len = store->max_body + 1;
    uint8_t *body = calloc(1, len);
    assert_non_null(body);
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress("big", "0123456789abcdef0123456789abcdef", 1, T0_MS);
    rec.state = GDA_RECORD_COMPLETED;
    rec.status_code = 200;
    rec.body = body;
    rec.body_len = len;
    bool applied = true;
    gda_error err;
    assert_int_equal(store->ops->complete(store, &rec, &call, &applied, &err),
                     GDA_ERR_RESULT_TOO_LARGE);
    assert_false(applied);
    assert_non_null(strstr(err.message, "405505 bytes"));
    assert_int_equal(gda_store_complete(store, &rec, &call, &applied, &err),
                     GDA_ERR_RESULT_TOO_LARGE);
    rec.state = GDA_RECORD_IN_PROGRESS;
    bool inserted = true;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, &inserted, NULL, &err),
                     GDA_ERR_RESULT_TOO_LARGE);
    assert_false(inserted);
    assert_int_equal(standin_connections(s), 0);
    assert_int_equal(standin_requests(s), 0);
    /* The stand-in does count what is sent. */
    rec.body = NULL;
    rec.body_len = 0;
    assert_int_equal(gda_store_put_if_absent(store, &rec, &call, &inserted, NULL, &err), GDA_OK);
    assert_true(inserted);
    assert_int_equal(standin_requests(s), 1);
    free(body);
    gda_store_close(store);
    standin_stop(s);
}

/* An item libgda 0.1 wrote has no principal: it reads as the all-zero
 * digest (nobody's); a principal of the wrong size is a malformed item. */
static void test_item_without_principal_reads_as_nobody(void **state)
{
    (void)state;
    standin_reply script[] = {
        {0, 200, "{\"Item\":{\"requestId\":{\"S\":\"old\"},\"state\":{\"S\":\"COMPLETED\"},"
                 "\"owner\":{\"S\":\"ffffffffffffffffffffffffffffffff\"},"
                 "\"payloadHash\":{\"B\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\"},"
                 "\"statusCode\":{\"N\":\"200\"}}}"},
        {0, 200, "{\"Item\":{\"requestId\":{\"S\":\"old\"},\"state\":{\"S\":\"COMPLETED\"},"
                 "\"owner\":{\"S\":\"ffffffffffffffffffffffffffffffff\"},"
                 "\"payloadHash\":{\"B\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\"},"
                 "\"statusCode\":{\"N\":\"200\"},\"principal\":{\"B\":\"AAAA\"}}}"},
    };
    http_standin *s = standin_start(script, 2);
    assert_non_null(s);
    gda_store *store = open_on(standin_endpoint(s), "old_items", NULL);
    gda_store_call call = at(T0_MS);
    gda_record out;
    memset(&out, 0, sizeof out);
    memset(out.principal, 0x77, sizeof out.principal);
    bool found = false;
    gda_error err;
    assert_int_equal(gda_store_get(store, "old", &call, &out, &found, &err), GDA_OK);
    assert_true(found);
    static const uint8_t zero[GDA_PRINCIPAL_DIGEST_LEN];
    assert_memory_equal(out.principal, zero, sizeof zero);
    gda_record_clear(&out);
    assert_int_equal(gda_store_get(store, "old", &call, &out, &found, &err), GDA_ERR_STORE);
    assert_false(found);
    assert_non_null(strstr(err.message, "principal"));
    gda_store_close(store);
    standin_stop(s);
}

static void test_slow_server_hits_deadline(void **state)
{
    (void)state;
    standin_reply script[] = {{2500, 200, "{}"}};
    http_standin *s = standin_start(script, 1);
    assert_non_null(s);
    gda_store *store = open_on(standin_endpoint(s), "slow_table", NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    gda_store_call call = {.now_ms = now, .deadline_ms = now + 300};
    gda_record rec = in_progress("slow", "0123456789abcdef0123456789abcdef", 1, now);
    gda_error err;
    gda_status st = gda_store_put_if_absent(store, &rec, &call, NULL, NULL, &err);
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t took = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - now;
    assert_int_equal(st, GDA_ERR_TIMEOUT);
    assert_true(gda_status_retryable(st));
    assert_true(took < 1500);
    gda_store_close(store);
    standin_stop(s);
}

static void test_create_table_enables_ttl(void **state)
{
    (void)state;
    standin_reply script[] = {
        {0, 200, "{\"TableDescription\":{\"TableStatus\":\"CREATING\"}}"},
        {0, 200, "{\"Table\":{\"TableStatus\":\"CREATING\"}}"},
        {0, 200, "{\"Table\":{\"TableStatus\":\"ACTIVE\"}}"},
        {0, 200, "{\"TimeToLiveDescription\":{\"TimeToLiveStatus\":\"DISABLED\"}}"},
        {0, 200, "{\"TimeToLiveSpecification\":{\"AttributeName\":\"expiresAt\",\"Enabled\":true}}"},
    };
    http_standin *s = standin_start(script, 5);
    assert_non_null(s);
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = "ttl_table";
    o.endpoint = standin_endpoint(s);
    bool created = false, ttl = false;
    gda_error err;
    assert_int_equal(gda_dynamodb_create_table(&o, 0, &created, &ttl, &err), GDA_OK);
    assert_true(created);
    assert_true(ttl);
    assert_int_equal(standin_requests(s), 5);
    json_t *create = request_json(s, 0);
    assert_string_equal(json_string_value(json_object_get(create, "BillingMode")), "PAY_PER_REQUEST");
    json_t *key = json_array_get(json_object_get(create, "KeySchema"), 0);
    assert_string_equal(json_string_value(json_object_get(key, "AttributeName")), "requestId");
    assert_string_equal(json_string_value(json_object_get(key, "KeyType")), "HASH");
    json_decref(create);
    char target[128];
    assert_true(standin_header(s, 4, "X-Amz-Target", target, sizeof target));
    assert_string_equal(target, "DynamoDB_20120810.UpdateTimeToLive");
    json_t *upd = request_json(s, 4);
    json_t *spec = json_object_get(upd, "TimeToLiveSpecification");
    assert_string_equal(json_string_value(json_object_get(spec, "AttributeName")), "expiresAt");
    assert_true(json_is_true(json_object_get(spec, "Enabled")));
    json_decref(upd);
    standin_stop(s);
}

int main(void)
{
    dynalite_set_test_credentials();
    if (!dynalite_start(&server, false)) {
        fprintf(stderr, "FAIL: cannot run the DynamoDB store tests: %s\n", server.error);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    suite_ctx ctx;
    store_suite_backend backend = {.name = "dynamodb", .open = suite_open,
                                   .cleanup = suite_cleanup, .user = &ctx};
    int failed = store_suite_run(&backend);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_table_is_config_error_naming_it),
        cmocka_unit_test(test_create_table_is_idempotent),
        cmocka_unit_test(test_custom_attribute_names_roundtrip),
        cmocka_unit_test(test_hot_path_is_one_round_trip),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_oversized_key_is_rejected),
        cmocka_unit_test(test_put_request_shape),
        cmocka_unit_test(test_conflict_uses_returned_old_item),
        cmocka_unit_test(test_conflict_without_old_item_reads_consistently),
        cmocka_unit_test(test_complete_and_release_request_shape),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_malformed_item_is_store_error),
        cmocka_unit_test(test_max_body_fits_largest_item),
        cmocka_unit_test(test_oversized_body_is_never_sent),
        cmocka_unit_test(test_item_without_principal_reads_as_nobody),
        cmocka_unit_test(test_slow_server_hits_deadline),
        cmocka_unit_test(test_create_table_enables_ttl),
        cmocka_unit_test(test_data_key_rotation),
    };
    failed += cmocka_run_group_tests_name("dynamodb_store", tests, NULL, NULL);
    dynalite_stop(&server);
    return failed ? 1 : 0;
}
