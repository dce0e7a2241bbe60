/* libgda-store-dynamodb (private) — connection set-up, one request, and the
 * mapping of DynamoDB errors to gda_status. */
#include "dynamodb_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DYNAMODB_TARGET_PREFIX "DynamoDB_20120810"
#define DYNAMODB_CONTENT_TYPE "application/x-amz-json-1.0"
/* DynamoDB's limit on attribute name length. */
#define DYNAMODB_NAME_MAX 255

static void names_free(dynamodb_names *n)
{
    char **all[] = {&n->key,    &n->state,  &n->payload, &n->owner, &n->lease,
                    &n->expires, &n->status, &n->body,    &n->flags, &n->principal};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(*all[i]);
        *all[i] = NULL;
    }
}

void dynamodb_conn_close(dynamodb_conn *conn)
{
    if (!conn)
        return;
    gda_aws_client_free(conn->client);
    free(conn->table);
    names_free(&conn->names);
    memset(conn, 0, sizeof *conn);
}

static gda_status names_init(dynamodb_names *n, const gda_dynamodb_options *o, gda_error *err)
{
    struct {
        char **slot;
        const char *given;
        const char *fallback;
        const char *option;
    } spec[] = {
        {&n->key, o->attr_key, "requestId", "attr_key"},
        {&n->state, o->attr_state, "state", "attr_state"},
        {&n->payload, o->attr_payload, "payloadHash", "attr_payload"},
        {&n->owner, o->attr_owner, "owner", "attr_owner"},
        {&n->lease, o->attr_lease, "leaseUntilMs", "attr_lease"},
        {&n->expires, o->attr_expires, "expiresAt", "attr_expires"},
        {&n->status, o->attr_status, "statusCode", "attr_status"},
        {&n->body, o->attr_body, "body", "attr_body"},
        {&n->flags, o->attr_flags, "flags", "attr_flags"},
        {&n->principal, o->attr_principal, "principal", "attr_principal"},
    };
    const size_t count = sizeof spec / sizeof spec[0];
    for (size_t i = 0; i < count; i++) {
        const char *name = spec[i].given ? spec[i].given : spec[i].fallback;
        size_t len = strlen(name);
        if (len == 0 || len > DYNAMODB_NAME_MAX)
            return gda_error_set(err, GDA_ERR_CONFIG, spec[i].option,
                                 "DynamoDB attribute name %s must be 1 to %d bytes",
                                 spec[i].option, DYNAMODB_NAME_MAX);
        if (!(*spec[i].slot = strdup(name)))
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
    /* Two fields in one attribute would overwrite each other. */
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++) {
            if (strcmp(*spec[i].slot, *spec[j].slot) == 0)
                return gda_error_set(err, GDA_ERR_CONFIG, spec[j].option,
                                     "DynamoDB attribute names %s and %s are the same",
                                     spec[i].option, spec[j].option);
        }
    }
    return GDA_OK;
}

static bool table_name_valid(const char *table)
{
    /* DynamoDB: 3 to 255 of [A-Za-z0-9_.-]. */
    size_t len = strlen(table);
    if (len < 3 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = table[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
        if (!ok)
            return false;
    }
    return true;
}

gda_status dynamodb_conn_open(dynamodb_conn *conn, const gda_dynamodb_options *o, gda_error *err)
{
    gda_status st;
    gda_aws_credentials *creds = NULL;
    char endpoint[320];

    memset(conn, 0, sizeof *conn);
    if (!o)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "DynamoDB store: no options");
    if (!o->table || !table_name_valid(o->table))
        return gda_error_set(err, GDA_ERR_CONFIG, "table",
                             "DynamoDB table name must be 3-255 characters of A-Z a-z 0-9 _ - .");
    const char *region = o->region && *o->region ? o->region : gda_aws_region_from_env();
    if (!region)
        return gda_error_set(err, GDA_ERR_CONFIG, "region",
                             "DynamoDB store: no region (set AWS_REGION or AWS_DEFAULT_REGION)");
    const char *configured = o->endpoint && *o->endpoint ? o->endpoint
                                                         : getenv(GDA_DYNAMODB_ENDPOINT_ENV);
    if (configured && *configured) {
        if (strlen(configured) >= sizeof endpoint)
            return gda_error_set(err, GDA_ERR_CONFIG, "endpoint", "DynamoDB endpoint too long");
        snprintf(endpoint, sizeof endpoint, "%s", configured);
    } else {
        bool china = strncmp(region, "cn-", 3) == 0;
        if ((size_t)snprintf(endpoint, sizeof endpoint, "https://dynamodb.%s.amazonaws.com%s",
                             region, china ? ".cn" : "") >= sizeof endpoint)
            return gda_error_set(err, GDA_ERR_CONFIG, "region", "DynamoDB region name too long");
    }
    if ((st = names_init(&conn->names, o, err)) != GDA_OK)
        goto fail;
    if (!(conn->table = strdup(o->table))) {
        st = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    if ((st = gda_aws_credentials_from_env(&creds, err)) != GDA_OK)
        goto fail;

    gda_aws_client_options copts = gda_aws_client_options_default();
    copts.service = "dynamodb";
    copts.region = region;
    copts.endpoint = endpoint;
    copts.target_prefix = DYNAMODB_TARGET_PREFIX;
    copts.content_type = DYNAMODB_CONTENT_TYPE;
    if (o->max_attempts)
        copts.retry.max_attempts = o->max_attempts;
    if (o->backoff_base_ms > 0)
        copts.retry.base_ms = o->backoff_base_ms;
    if (o->backoff_cap_ms > 0)
        copts.retry.cap_ms = o->backoff_cap_ms;
    if (o->default_timeout_ms > 0)
        copts.default_timeout_ms = o->default_timeout_ms;
    if (o->connect_timeout_ms > 0)
        copts.connect_timeout_ms = o->connect_timeout_ms;
    if (o->max_connections)
        copts.max_handles = o->max_connections;
    copts.clock = o->clock;
    conn->clock = o->clock;
    if (!(conn->client = gda_aws_client_new(&copts, creds, err))) {
        gda_aws_credentials_free(creds);
        st = err ? err->code : GDA_ERR_CONFIG;
        goto fail;
    }
    return GDA_OK;

fail:
    dynamodb_conn_close(conn);
    return st;
}

static bool is_credential_error(const char *type)
{
    static const char *const auth[] = {
        "UnrecognizedClientException", "InvalidSignatureException",
        "MissingAuthenticationTokenException", "IncompleteSignatureException",
        "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch",
        "MissingAuthenticationToken",
    };
    for (size_t i = 0; i < sizeof auth / sizeof auth[0]; i++) {
        if (strcmp(type, auth[i]) == 0)
            return true;
    }
    return false;
}

gda_status dynamodb_map_error(const dynamodb_conn *conn, const char *operation,
                              const char *error_type, gda_error *err)
{
    if (strcmp(error_type, "ResourceNotFoundException") == 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "table",
                             "DynamoDB table '%s' does not exist (or is not ACTIVE) at this "
                             "endpoint and region; create it, e.g. `gda dynamodb create-table`",
                             conn->table);
    if (is_credential_error(error_type))
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "DynamoDB rejected the AWS credentials (%s): check "
                             "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and "
                             "the region",
                             error_type);
    if (strcmp(error_type, "AccessDeniedException") == 0)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "DynamoDB denied %s on table '%s': the role needs "
                             "dynamodb:%s on it",
                             operation, conn->table, operation);
    if (strcmp(error_type, "ValidationException") == 0)
        return gda_error_set(err, GDA_ERR_STORE, NULL,
                             "DynamoDB rejected %s on table '%s' (ValidationException): check "
                             "the key attribute name and the size of the cached body",
                             operation, conn->table);
    return gda_error_set(err, GDA_ERR_STORE, NULL, "DynamoDB %s on table '%s' failed (%s)",
                         operation, conn->table, *error_type ? error_type : "unknown error");
}

gda_status dynamodb_request(dynamodb_conn *conn, const char *operation, json_t *request,
                            int64_t deadline_ms, json_t **answer, char *error_type,
                            size_t error_type_size, bool *ambiguous, gda_error *err)
{
    gda_aws_response resp;
    *answer = NULL;
    if (error_type_size)
        error_type[0] = '\0';
    if (ambiguous)
        *ambiguous = false;

    char *body = json_dumps(request, JSON_COMPACT);
    if (!body)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    gda_status st = gda_aws_json_call(conn->client, operation, body, strlen(body), deadline_ms,
                                      &resp, err);
    free(body);
    if (ambiguous)
        *ambiguous = resp.ambiguous;
    switch (st) {
    case GDA_OK:
        break;
    case GDA_ERR_UNAVAILABLE:
        /* The client's message already says what failed and how often. */
        if (err)
            err->code = GDA_ERR_STORE;
        gda_aws_response_clear(&resp);
        return GDA_ERR_STORE;
    case GDA_ERR_TIMEOUT:
    case GDA_ERR_NOMEM:
        gda_aws_response_clear(&resp);
        return st;
    default:
        gda_aws_response_clear(&resp);
        if (err)
            err->code = GDA_ERR_STORE;
        return GDA_ERR_STORE;
    }

    json_t *doc = NULL;
    if (resp.body_len > 0) {
        doc = json_loadb(resp.body, resp.body_len, 0, NULL);
        if (!doc) {
            long http = resp.http_status;
            gda_aws_response_clear(&resp);
            return gda_error_set(err, GDA_ERR_STORE, NULL,
                                 "DynamoDB %s: unreadable response (HTTP %ld)", operation, http);
        }
    }
    if (resp.http_status >= 200 && resp.http_status < 300) {
        *answer = doc;
        gda_aws_response_clear(&resp);
        return GDA_OK;
    }
    if (!resp.error_type[0]) {
        long http = resp.http_status;
        json_decref(doc);
        gda_aws_response_clear(&resp);
        return gda_error_set(err, GDA_ERR_STORE, NULL, "DynamoDB %s failed with HTTP %ld",
                             operation, http);
    }
    snprintf(error_type, error_type_size, "%s", resp.error_type);
    gda_aws_response_clear(&resp);
    /* A failed condition may carry the old item (ALL_OLD). */
    *answer = doc;
    return GDA_OK;
}
