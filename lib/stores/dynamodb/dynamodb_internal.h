/* libgda-store-dynamodb (private) — shared between the store, the item
 * codec and the table helpers.
 *
 * Thread safety: a dynamodb_conn is read-only after dynamodb_conn_open and
 * its client is thread-safe; the codec functions are reentrant.
 */
#ifndef GDA_DYNAMODB_INTERNAL_H
#define GDA_DYNAMODB_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include <gda/store.h>
#include <gda/store/dynamodb.h>

#include "aws_client.h"

/* The item's attribute names, owned copies. */
typedef struct dynamodb_names {
    char *key;
    char *state;
    char *payload;
    char *owner;
    char *lease;
    char *expires;
    char *status;
    char *body;
    char *flags;
    char *principal;
} dynamodb_names;

/* Everything a request needs: the client, the table and the names. */
typedef struct dynamodb_conn {
    gda_aws_client *client;
    char *table;
    dynamodb_names names;
    gda_clock clock;
} dynamodb_conn;

/* Validate opts, read credentials and region, build the client. On error
 * conn is left empty (dynamodb_conn_close is still safe). Errors:
 * GDA_ERR_CONFIG, GDA_ERR_NOMEM. */
gda_status dynamodb_conn_open(dynamodb_conn *conn, const gda_dynamodb_options *opts,
                              gda_error *err);
void dynamodb_conn_close(dynamodb_conn *conn);

/* Send `operation` with request (not consumed) and parse a 2xx answer into
 * *answer (new reference; NULL for an empty body). When DynamoDB refused
 * with an error type, *answer is NULL, *error_type receives it and the call
 * returns GDA_OK, so callers can branch on expected errors
 * (ConditionalCheckFailedException, ResourceInUseException, ...) and pass the
 * rest to dynamodb_map_error. *ambiguous (optional) tells whether a retried
 * attempt may have been applied. The old item of a failed condition, when the
 * server returned it, goes to *answer too. Errors: GDA_ERR_STORE,
 * GDA_ERR_TIMEOUT, GDA_ERR_NOMEM. */
gda_status dynamodb_request(dynamodb_conn *conn, const char *operation, json_t *request,
                            int64_t deadline_ms, json_t **answer, char *error_type,
                            size_t error_type_size, bool *ambiguous, gda_error *err);

/* Turn an unexpected DynamoDB error type into a clear gda_status:
 * ResourceNotFoundException and credential / permission errors are
 * GDA_ERR_CONFIG naming the table or the credentials, anything else
 * GDA_ERR_STORE. */
gda_status dynamodb_map_error(const dynamodb_conn *conn, const char *operation,
                              const char *error_type, gda_error *err);

/* {"S": key} etc. as a new reference; NULL on GDA_ERR_NOMEM. */
json_t *dynamodb_key_value(const char *key);
json_t *dynamodb_number_value(int64_t n);
/* {"B": base64(bytes)}; NULL on GDA_ERR_NOMEM or an impossible length. */
json_t *dynamodb_binary_value(const uint8_t *bytes, size_t len);

/* The full item for rec (state, hash, owner, lease, TTL, result). NULL on
 * GDA_ERR_NOMEM. */
json_t *dynamodb_item_from_record(const dynamodb_names *names, const gda_record *rec);

/* Decode an item into *out (heap copies; clear it). Errors: GDA_ERR_STORE
 * for a malformed or foreign item, GDA_ERR_NOMEM. */
gda_status dynamodb_item_to_record(const dynamodb_names *names, json_t *item, gda_record *out,
                                   gda_error *err);

/* Text of a state as stored ("IN_PROGRESS", ...). */
const char *dynamodb_state_name(gda_record_state state);

/* Delete opts->table; absent is not an error. Errors as
 * gda_dynamodb_create_table. Only the tests tear tables down, so it is not
 * part of the installed API. */
gda_status gda_dynamodb_delete_table(const gda_dynamodb_options *opts, int64_t deadline_ms,
                                     gda_error *err);

/* Counters of one store handle. */
typedef struct gda_dynamodb_stats {
    uint64_t calls;       /* DynamoDB operations requested */
    uint64_t round_trips; /* HTTP requests sent, retries included */
    uint64_t connections; /* TCP connections opened */
    uint64_t retries;     /* backoff sleeps */
} gda_dynamodb_stats;

/* Counters of a store since it was opened, for the tests and benchmarks that
 * check connection reuse and retries. GDA_ERR_INTERNAL when store is not
 * a DynamoDB store. */
gda_status gda_dynamodb_store_stats(gda_store *store, gda_dynamodb_stats *out, gda_error *err);

#endif /* GDA_DYNAMODB_INTERNAL_H */
