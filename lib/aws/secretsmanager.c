/* libgda (private, lib/aws) — Secrets Manager GetSecretValue (see
 * secretsmanager.h). */
#include "secretsmanager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#define SECRET_MAX_BYTES (64 * 1024) /* Secrets Manager's own limit */

gda_status gda_secretsmanager_new(const char *region, const char *endpoint,
                                  gda_aws_credentials *creds, int64_t timeout_ms,
                                  gda_secretsmanager **out, gda_error *err)
{
    static const gda_aws_service svc = {"Secrets Manager", "secretsmanager", "secretsmanager",
                                        2 * SECRET_MAX_BYTES + 4096};
    return gda_aws_service_client_new(&svc, region, endpoint, creds, timeout_ms, out, err);
}

void gda_secretsmanager_free(gda_secretsmanager *sm)
{
    gda_aws_client_free(sm);
}

void gda_secretsmanager_stats(gda_secretsmanager *sm, gda_aws_client_stats *out)
{
    gda_aws_client_stats_get(sm, out);
}

gda_status gda_secret_value_parse(const char *json, size_t len, char **text_out, size_t *len_out,
                                  gda_error *err)
{
    if (!text_out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "out NULL");
    *text_out = NULL;
    if (len_out)
        *len_out = 0;
    json_t *doc = json ? json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        return gda_error_set(err, GDA_ERR_CONFIG, "SecretString",
                             "the secret response is not a JSON object");
    }
    json_t *s = json_object_get(doc, "SecretString");
    if (!json_is_string(s)) {
        json_decref(doc);
        return gda_error_set(err, GDA_ERR_CONFIG, "SecretString",
                             "the secret has no SecretString (binary secrets are not supported)");
    }
    size_t n = json_string_length(s);
    /* jansson keeps the decoded string in its own heap block: wipe it once
     * copied, before the document is freed. */
    char *value = (char *)json_string_value(s);
    gda_status st = GDA_OK;
    char *copy = NULL;
    if (n > SECRET_MAX_BYTES) {
        st = gda_error_set(err, GDA_ERR_CONFIG, "SecretString", "the secret is too large");
    } else {
        copy = sodium_malloc(n + 1);
        if (!copy)
            st = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        else {
            memcpy(copy, value, n);
            copy[n] = '\0';
        }
    }
    sodium_memzero(value, n);
    json_decref(doc);
    if (st != GDA_OK)
        return st;
    *text_out = copy;
    if (len_out)
        *len_out = n;
    return GDA_OK;
}

gda_status gda_secretsmanager_get_secret_string(gda_secretsmanager *sm, const char *secret_id,
                                                int64_t deadline_ms, char **text_out,
                                                size_t *len_out, gda_error *err)
{
    if (!sm || !secret_id || !text_out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "NULL argument");
    *text_out = NULL;
    if (!*secret_id || strlen(secret_id) > 2048)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRET_ID",
                             "the secret id must be 1..2048 characters");
    json_t *req = json_pack("{s:s}", "SecretId", secret_id);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");

    gda_aws_response resp;
    memset(&resp, 0, sizeof resp);
    gda_status st = gda_aws_json_call(sm, "GetSecretValue", body, strlen(body),
                                      deadline_ms, &resp, err);
    free(body);
    if (st == GDA_OK) {
        if (resp.http_status >= 200 && resp.http_status < 300) {
            st = gda_secret_value_parse(resp.body, resp.body_len, text_out, len_out, err);
        } else if (gda_aws_error_is_throttling(resp.error_type) || resp.http_status >= 500) {
            st = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL,
                               "Secrets Manager is throttling or failing");
        } else {
            /* Not found, access denied, KMS decryption failure, bad
             * signature: the configuration is wrong, retrying will not help. */
            st = gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRET_ID",
                               "Secrets Manager refused GetSecretValue (%s, HTTP %ld)",
                               resp.error_type[0] ? resp.error_type : "no error type",
                               resp.http_status);
        }
    }
    if (resp.body)
        sodium_memzero(resp.body, resp.body_len);
    gda_aws_response_clear(&resp);
    return st;
}
