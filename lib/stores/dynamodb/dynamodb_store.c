/* libgda-store-dynamodb — the store contract over DynamoDB (see
 * include/gda/store/dynamodb.h). */
#include "dynamodb_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* A put whose condition failed on a record that the consistent read then
 * finds dead or gone (it expired or was released in between) is tried again,
 * this many times at most. */
#define DYNAMODB_PUT_ROUNDS 4

typedef struct dynamodb_store {
    gda_store base; /* first: the handle the engine sees */
    dynamodb_conn conn;
} dynamodb_store;

static const gda_store_ops dynamodb_ops;

static dynamodb_store *as_dynamodb(gda_store *store)
{
    return (dynamodb_store *)store;
}

/* Fencing tokens are compared in constant time: they are what stops a stale
 * executor, so their bytes are treated like secrets. */
static bool same_owner(const char *a, const char *b)
{
    size_t len = strlen(a);
    return len == strlen(b) && sodium_memcmp(a, b, len) == 0;
}

static gda_status nomem(gda_error *err)
{
    return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
}

static gda_status check_key(const char *key, gda_error *err)
{
    size_t len = strlen(key);
    if (len == 0 || len > GDA_KEY_MAX)
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, "key",
                             "idempotency key must be 1 to %d bytes", GDA_KEY_MAX);
    return GDA_OK;
}

/* The store's own guard behind the engine's check (gda_store.max_body): an
 * item DynamoDB would refuse for its size is never sent. */
static gda_status check_body(const gda_record *rec, gda_error *err)
{
    if (rec->body_len > GDA_DYNAMODB_MAX_BODY)
        return gda_error_set(err, GDA_ERR_RESULT_TOO_LARGE, NULL,
                             "result of %zu bytes is over DynamoDB's %d-byte limit",
                             rec->body_len, GDA_DYNAMODB_MAX_BODY);
    return GDA_OK;
}

/* Consistent GetItem. *found false when absent. */
static gda_status read_record(dynamodb_store *s, const char *key, int64_t deadline_ms,
                              gda_record *out, bool *found, gda_error *err)
{
    char error_type[96];
    json_t *answer = NULL;
    *found = false;
    json_t *req = json_pack("{s:s, s:{s:o}, s:b}", "TableName", s->conn.table, "Key",
                            s->conn.names.key, dynamodb_key_value(key), "ConsistentRead", 1);
    if (!req)
        return nomem(err);
    gda_status st = dynamodb_request(&s->conn, "GetItem", req, deadline_ms, &answer, error_type,
                                     sizeof error_type, NULL, err);
    json_decref(req);
    if (st != GDA_OK)
        return st;
    if (error_type[0]) {
        json_decref(answer);
        return dynamodb_map_error(&s->conn, "GetItem", error_type, err);
    }
    json_t *item = json_object_get(answer, "Item");
    if (item && json_object_size(item) > 0) {
        st = dynamodb_item_to_record(&s->conn.names, item, out, err);
        *found = st == GDA_OK;
    }
    json_decref(answer);
    return st;
}

/* How a conditional write ended, when DynamoDB answered. */
typedef enum write_outcome {
    WRITE_APPLIED,
    WRITE_REFUSED,           /* the condition failed */
    WRITE_REFUSED_AMBIGUOUS, /* failed, but an earlier attempt of this call,
                                whose answer was lost, may have been applied */
} write_outcome;

/* Send a conditional write (req not consumed). On a refusal *answer holds
 * the server's reply, which may carry the old item, for the caller to
 * release; otherwise it is NULL. Error types other than a failed condition
 * become the gda_status dynamodb_map_error gives them. */
static gda_status conditional_write(dynamodb_store *s, const char *operation, json_t *req,
                                    int64_t deadline_ms, write_outcome *outcome, json_t **answer,
                                    gda_error *err)
{
    char error_type[96];
    bool ambiguous = false;
    *outcome = WRITE_REFUSED;
    gda_status st = dynamodb_request(&s->conn, operation, req, deadline_ms, answer, error_type,
                                     sizeof error_type, &ambiguous, err);
    if (st != GDA_OK)
        return st;
    if (!error_type[0])
        *outcome = WRITE_APPLIED;
    else if (strcmp(error_type, "ConditionalCheckFailedException") != 0)
        st = dynamodb_map_error(&s->conn, operation, error_type, err);
    else if (ambiguous)
        *outcome = WRITE_REFUSED_AMBIGUOUS;
    if (st != GDA_OK || *outcome == WRITE_APPLIED) {
        json_decref(*answer);
        *answer = NULL;
    }
    return st;
}

/* The record as it stood when a write's condition failed: the old item the
 * refusal carried (ReturnValuesOnConditionCheckFailure), else a consistent
 * read. *found false when there is none. */
static gda_status refused_record(dynamodb_store *s, json_t *answer, const char *key,
                                 int64_t deadline_ms, gda_record *current, bool *found,
                                 gda_error *err)
{
    json_t *old = json_object_get(answer, "Item");
    if (old && json_object_size(old) > 0) {
        gda_status st = dynamodb_item_to_record(&s->conn.names, old, current, err);
        *found = st == GDA_OK;
        return st;
    }
    return read_record(s, key, deadline_ms, current, found, err);
}

/* Judges, from the record as it is now, whether a lost attempt of a refused
 * write was ours and applied (mine: what the write was to leave). */
typedef bool (*lost_write_applied_fn)(const gda_record *current, bool found, const void *mine);

/* Our owner and our final state: the lost attempt wrote it. */
static bool completed_by_us(const gda_record *current, bool found, const void *mine)
{
    const gda_record *rec = mine;
    return found && same_owner(current->owner, rec->owner) && current->state == rec->state &&
           current->status_code == rec->status_code;
}

/* Gone after a lost attempt: that attempt deleted it. */
static bool released_by_us(const gda_record *current, bool found, const void *mine)
{
    (void)current;
    (void)mine;
    return !found;
}

/* A conditional write whose refusal may be our own lost attempt: *applied is
 * true when it applied now, or when the refusal is ambiguous and judge finds
 * the record as our earlier attempt left it. */
static gda_status judged_write(dynamodb_store *s, const char *op, json_t *req, const char *key,
                               int64_t deadline_ms, lost_write_applied_fn judge, const void *mine,
                               bool *applied, gda_error *err)
{
    write_outcome outcome;
    json_t *answer = NULL;
    gda_status st = conditional_write(s, op, req, deadline_ms, &outcome, &answer, err);
    if (st != GDA_OK)
        return st;
    if (outcome == WRITE_APPLIED) {
        *applied = true;
    } else if (outcome == WRITE_REFUSED_AMBIGUOUS) {
        gda_record current = {0};
        bool found = false;
        st = refused_record(s, answer, key, deadline_ms, &current, &found, err);
        if (st == GDA_OK && judge(&current, found, mine))
            *applied = true;
        gda_record_clear(&current);
    }
    json_decref(answer);
    return st;
}

/* PutItem's condition: no record, or one that no longer blocks a takeover. */
#define TAKEOVER_CONDITION \
    "attribute_not_exists(#k) OR #e < :now_s OR (#s = :in_progress AND #l <= :now_ms)"

static gda_status dynamodb_put_if_absent(gda_store *store, const gda_record *rec,
                                         const gda_store_call *call, bool *inserted,
                                         gda_record *existing, gda_error *err)
{
    dynamodb_store *s = as_dynamodb(store);
    const dynamodb_names *n = &s->conn.names;
    *inserted = false;
    gda_status st = check_key(rec->key, err);
    if (st == GDA_OK)
        st = check_body(rec, err);
    if (st != GDA_OK)
        return st;

    json_t *item = dynamodb_item_from_record(n, rec);
    /* Insert unless a record blocks the takeover: exactly the negation of
     * gda_record_blocks_takeover, i.e. of gda_record_is_live at now - skew
     * (expired: expiresAt < then in seconds; lease past: leaseUntilMs <=
     * then in ms), so a host whose clock runs ahead never takes over. */
    int64_t then_ms = call->now_ms - (call->skew_ms > 0 ? call->skew_ms : 0);
    json_t *req = item ? json_pack(
        "{s:s, s:o, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:o, s:o, s:{s:s}}, s:s}",
        "TableName", s->conn.table, "Item", item, "ConditionExpression",
        call->replace_owner ? TAKEOVER_CONDITION " OR #o = :replace" : TAKEOVER_CONDITION,
        "ExpressionAttributeNames", "#k", n->key, "#e", n->expires, "#s", n->state, "#l",
        n->lease, "ExpressionAttributeValues", ":now_s", dynamodb_number_value(then_ms / 1000),
        ":now_ms", dynamodb_number_value(then_ms), ":in_progress", "S", "IN_PROGRESS",
        "ReturnValuesOnConditionCheckFailure", "ALL_OLD")
                       : NULL;
    /* The one unreadable record the engine may replace (gda_store_call). */
    if (req && call->replace_owner &&
        (json_object_set_new(json_object_get(req, "ExpressionAttributeNames"), "#o",
                             json_string(n->owner)) != 0 ||
         json_object_set_new(json_object_get(req, "ExpressionAttributeValues"), ":replace",
                             json_pack("{s:s}", "S", call->replace_owner)) != 0)) {
        json_decref(req);
        req = NULL;
    }
    if (!req)
        return nomem(err);

    for (int round = 0; round < DYNAMODB_PUT_ROUNDS; round++) {
        write_outcome outcome;
        json_t *answer = NULL;
        st = conditional_write(s, "PutItem", req, call->deadline_ms, &outcome, &answer, err);
        if (st != GDA_OK)
            break;
        if (outcome == WRITE_APPLIED) {
            *inserted = true;
            break;
        }
        gda_record current = {0};
        bool found = false;
        st = refused_record(s, answer, rec->key, call->deadline_ms, &current, &found, err);
        json_decref(answer);
        if (st != GDA_OK)
            break;
        if (outcome == WRITE_REFUSED_AMBIGUOUS && found && same_owner(current.owner, rec->owner) &&
            current.state == GDA_RECORD_IN_PROGRESS) {
            /* Our own insert, applied by an attempt whose answer was lost
             * and then retried by the client. */
            gda_record_clear(&current);
            *inserted = true;
            break;
        }
        if (found && gda_record_blocks_takeover(&current, call)) {
            *existing = current;
            break;
        }
        /* Gone or dead by now: the record changed after the condition was
         * checked. Try the insert again. */
        gda_record_clear(&current);
        st = gda_error_set(err, GDA_ERR_STORE, NULL,
                           "DynamoDB PutItem: the record kept changing (%d rounds)",
                           DYNAMODB_PUT_ROUNDS);
    }
    json_decref(req);
    return st;
}

static gda_status dynamodb_get(gda_store *store, const char *key, const gda_store_call *call,
                               gda_record *out, bool *found, gda_error *err)
{
    dynamodb_store *s = as_dynamodb(store);
    gda_status st = check_key(key, err);
    if (st != GDA_OK)
        return st;
    gda_record rec = {0};
    bool have = false;
    st = read_record(s, key, call->deadline_ms, &rec, &have, err);
    *found = have;
    if (st == GDA_OK && have)
        *out = rec;
    return st;
}

static gda_status dynamodb_complete(gda_store *store, const gda_record *rec,
                                    const gda_store_call *call, bool *applied, gda_error *err)
{
    dynamodb_store *s = as_dynamodb(store);
    const dynamodb_names *n = &s->conn.names;
    gda_status st = check_key(rec->key, err);
    if (st != GDA_OK)
        return st;
    *applied = false;
    if (rec->state != GDA_RECORD_COMPLETED && rec->state != GDA_RECORD_ACCEPTED)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                             "store complete: state must be COMPLETED or ACCEPTED");

    st = check_body(rec, err);
    if (st != GDA_OK)
        return st;
    bool has_body = rec->body && rec->body_len > 0;
    bool has_expiry = rec->expires_at_s > 0;
    char update[160];
    /* The lease means nothing once a result is cached; a record without
     * expiry or body drops the old attribute rather than keeping it. */
    snprintf(update, sizeof update, "SET #s = :state, #c = :status, #f = :flags%s%s REMOVE #l%s%s",
             has_expiry ? ", #e = :expires" : "", has_body ? ", #b = :body" : "",
             has_expiry ? "" : ", #e", has_body ? "" : ", #b");

    json_t *values = json_pack("{s:{s:s}, s:o, s:o, s:{s:s}, s:{s:s}}", ":state", "S",
                               dynamodb_state_name(rec->state), ":status",
                               dynamodb_number_value(rec->status_code), ":flags",
                               dynamodb_number_value((int64_t)rec->flags), ":owner", "S", rec->owner,
                               ":completed", "S", "COMPLETED");
    /* Not expired at now (no skew): a late finish must not revive an item
     * that DynamoDB's TTL has not deleted yet. */
    if (values)
        json_object_set_new(values, ":now_s", dynamodb_number_value(call->now_ms / 1000));
    bool ok = values != NULL;
    if (ok && has_expiry)
        ok = json_object_set_new(values, ":expires", dynamodb_number_value(rec->expires_at_s)) == 0;
    if (ok && has_body)
        ok = json_object_set_new(values, ":body",
                                 dynamodb_binary_value(rec->body, rec->body_len)) == 0;
    json_t *req = ok ? json_pack("{s:s, s:{s:o}, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, "
                                 "s:O, s:s}",
                                 "TableName", s->conn.table, "Key", n->key,
                                 dynamodb_key_value(rec->key), "UpdateExpression", update,
                                 "ConditionExpression",
                                 "#o = :owner AND #s <> :completed AND "
                                 "(attribute_not_exists(#e) OR #e >= :now_s)",
                                 "ExpressionAttributeNames", "#s", n->state, "#c", n->status,
                                 "#f", n->flags, "#l", n->lease, "#e", n->expires, "#b", n->body,
                                 "#o", n->owner, "ExpressionAttributeValues", values,
                                 "ReturnValuesOnConditionCheckFailure", "ALL_OLD")
                     : NULL;
    json_decref(values);
    if (!req)
        return nomem(err);

    st = judged_write(s, "UpdateItem", req, rec->key, call->deadline_ms, completed_by_us, rec,
                      applied, err);
    json_decref(req);
    return st;
}

static gda_status dynamodb_release(gda_store *store, const char *key, const char *owner,
                                   const gda_store_call *call, bool *applied, gda_error *err)
{
    dynamodb_store *s = as_dynamodb(store);
    const dynamodb_names *n = &s->conn.names;
    gda_status st = check_key(key, err);
    if (st != GDA_OK)
        return st;
    *applied = false;
    json_t *req = json_pack("{s:s, s:{s:o}, s:s, s:{s:s, s:s}, s:{s:{s:s}, s:{s:s}}}",
                            "TableName", s->conn.table, "Key", n->key, dynamodb_key_value(key),
                            "ConditionExpression", "#o = :owner AND #s = :in_progress",
                            "ExpressionAttributeNames", "#o", n->owner, "#s", n->state,
                            "ExpressionAttributeValues", ":owner", "S", owner, ":in_progress",
                            "S", "IN_PROGRESS");
    if (!req)
        return nomem(err);
    st = judged_write(s, "DeleteItem", req, key, call->deadline_ms, released_by_us, NULL, applied,
                      err);
    json_decref(req);
    return st;
}

static void dynamodb_close(gda_store *store)
{
    dynamodb_store *s = as_dynamodb(store);
    if (!s)
        return;
    dynamodb_conn_close(&s->conn);
    free(s);
}

static const gda_store_ops dynamodb_ops = {
    GDA_STORE_OPS_VERSION, "dynamodb",     dynamodb_put_if_absent, dynamodb_get,
    dynamodb_complete,     dynamodb_release, dynamodb_close,
};

gda_store *gda_dynamodb_store_new(const gda_dynamodb_options *opts, gda_error *err)
{
    dynamodb_store *s = calloc(1, sizeof *s);
    if (!s) {
        nomem(err);
        return NULL;
    }
    if (dynamodb_conn_open(&s->conn, opts, err) != GDA_OK) {
        free(s);
        return NULL;
    }
    s->base.ops = &dynamodb_ops;
    s->base.max_body = GDA_DYNAMODB_MAX_BODY;
    return &s->base;
}

gda_status gda_dynamodb_store_stats(gda_store *store, gda_dynamodb_stats *out, gda_error *err)
{
    if (!store || store->ops != &dynamodb_ops || !out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "not a DynamoDB store");
    gda_aws_client_stats cs;
    gda_aws_client_stats_get(as_dynamodb(store)->conn.client, &cs);
    out->calls = cs.calls;
    out->round_trips = cs.attempts;
    out->connections = cs.connections;
    out->retries = cs.retries;
    return GDA_OK;
}
