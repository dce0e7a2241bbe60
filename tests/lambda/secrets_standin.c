/* Test harness: extension and Secrets Manager stand-ins (see
 * secrets_standin.h). */
#include "secrets_standin.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mini_httpd.h"
#include "sigv4_check.h"

struct secrets_standin {
    mini_httpd *http;
    pthread_mutex_t mu;
    char secret_id[256];
    char *secret;
    unsigned version;
    char token[512];
    char region[64];
    unsigned fail_next;
    bool fail_extension;
    secrets_standin_stats stats;
};

static void reply_json(mini_response *resp, int status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    resp->status = status;
    if (text) {
        mini_set_body(resp, text, strlen(text));
        free(text);
    }
}

static json_t *secret_value(secrets_standin *s)
{
    char arn[512], version[32];
    snprintf(arn, sizeof arn, "arn:aws:secretsmanager:%s:123456789012:secret:%s-AbCdEf", s->region,
             s->secret_id);
    snprintf(version, sizeof version, "v%u", s->version);
    return json_pack("{s:s, s:s, s:s, s:s, s:[s], s:f}", "ARN", arn, "Name", s->secret_id,
                     "SecretString", s->secret, "VersionId", version, "VersionStages",
                     "AWSCURRENT", "CreatedDate", 1795514400.0);
}

/* Decode %XX in a query value. */
static void url_decode(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; in[i] && in[i] != '&' && o + 1 < size; i++) {
        if (in[i] == '%' && isxdigit((unsigned char)in[i + 1]) && isxdigit((unsigned char)in[i + 2])) {
            char hex[3] = {in[i + 1], in[i + 2], 0};
            out[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[o++] = in[i] == '+' ? ' ' : in[i];
        }
    }
    out[o] = '\0';
}

static void problem(secrets_standin *s, const char *why)
{
    snprintf(s->stats.last_problem, sizeof s->stats.last_problem, "%s", why);
}

static void serve_extension(secrets_standin *s, const mini_request *req, mini_response *resp)
{
    if (s->fail_extension) {
        s->stats.extension_failed++;
        reply_json(resp, 500, json_pack("{s:s}", "message", "internal error"));
        return;
    }
    const char *token = mini_header(req, "X-Aws-Parameters-Secrets-Token");
    if (!token || strcmp(token, s->token) != 0) {
        s->stats.extension_refused++;
        problem(s, "extension: missing or wrong X-Aws-Parameters-Secrets-Token");
        reply_json(resp, 401, json_pack("{s:s}", "message", "unauthorized"));
        return;
    }
    const char *q = strstr(req->target, "secretId=");
    char id[512] = "";
    if (q)
        url_decode(q + 9, id, sizeof id);
    if (strcmp(id, s->secret_id) != 0) {
        s->stats.extension_refused++;
        problem(s, "extension: unknown secretId");
        reply_json(resp, 400, json_pack("{s:s}", "message", "ResourceNotFoundException"));
        return;
    }
    s->stats.extension_ok++;
    reply_json(resp, 200, secret_value(s));
}

static const char *const signed_needed[] = {"host", "x-amz-date", "x-amz-target",
                                            "x-amz-security-token", NULL};

static void serve_secretsmanager(secrets_standin *s, const mini_request *req, mini_response *resp)
{
    if (s->fail_next > 0) {
        s->fail_next--;
        s->stats.sm_failed++;
        reply_json(resp, 500, json_pack("{s:s}", "__type", "InternalServiceError"));
        return;
    }
    const char *target = mini_header(req, "X-Amz-Target");
    const char *ctype = mini_header(req, "Content-Type");
    const char *date = mini_header(req, "X-Amz-Date");
    const char *token = mini_header(req, "X-Amz-Security-Token");
    const char *why = NULL;
    if (!target || strcmp(target, "secretsmanager.GetSecretValue") != 0)
        why = "X-Amz-Target is not secretsmanager.GetSecretValue";
    else if (!ctype || strcmp(ctype, "application/x-amz-json-1.1") != 0)
        why = "Content-Type is not application/x-amz-json-1.1";
    else if (!date || strlen(date) != 16 || date[8] != 'T' || date[15] != 'Z')
        why = "X-Amz-Date missing or not YYYYMMDDTHHMMSSZ";
    else if (!token || strcmp(token, s->token) != 0)
        why = "X-Amz-Security-Token missing or wrong";
    else
        why = sigv4_check_authorization(mini_header(req, "Authorization"), "AKIDEXAMPLE",
                                        s->region, "secretsmanager", signed_needed);
    const char *auth = mini_header(req, "Authorization");
    snprintf(s->stats.last_authorization, sizeof s->stats.last_authorization, "%s",
             auth ? auth : "");
    if (why) {
        s->stats.sm_refused++;
        problem(s, why);
        reply_json(resp, 403, json_pack("{s:s, s:s}", "__type",
                                        "com.amazonaws.secretsmanager#InvalidSignatureException",
                                        "message", why));
        return;
    }
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    const char *id = json_string_value(json_object_get(body, "SecretId"));
    if (!id || strcmp(id, s->secret_id) != 0) {
        json_decref(body);
        s->stats.sm_refused++;
        problem(s, "SecretId unknown");
        reply_json(resp, 400, json_pack("{s:s, s:s}", "__type",
                                        "com.amazonaws.secretsmanager#ResourceNotFoundException",
                                        "message", "Secrets Manager can't find the specified secret."));
        return;
    }
    json_decref(body);
    s->stats.sm_ok++;
    reply_json(resp, 200, secret_value(s));
}

static void route(const mini_request *req, mini_response *resp, void *user)
{
    secrets_standin *s = user;
    pthread_mutex_lock(&s->mu);
    if (strcmp(req->method, "GET") == 0 && mini_target_after(req, "/secretsmanager/get"))
        serve_extension(s, req, resp);
    else if (strcmp(req->method, "POST") == 0 && strcmp(req->target, "/") == 0)
        serve_secretsmanager(s, req, resp);
    else
        reply_json(resp, 404, json_pack("{s:s}", "message", "not found"));
    pthread_mutex_unlock(&s->mu);
}

secrets_standin *secrets_standin_start(const char *secret_id, const char *secret,
                                       const char *session_token, const char *region)
{
    secrets_standin *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->secret_id, sizeof s->secret_id, "%s", secret_id);
    snprintf(s->token, sizeof s->token, "%s", session_token);
    snprintf(s->region, sizeof s->region, "%s", region);
    s->secret = strdup(secret);
    s->version = 1;
    s->http = mini_httpd_start(route, s);
    if (!s->http) {
        free(s->secret);
        free(s);
        return NULL;
    }
    return s;
}

int secrets_standin_port(const secrets_standin *s)
{
    return mini_httpd_port(s->http);
}

void secrets_standin_set_secret(secrets_standin *s, const char *secret)
{
    pthread_mutex_lock(&s->mu);
    free(s->secret);
    s->secret = strdup(secret);
    s->version++;
    pthread_mutex_unlock(&s->mu);
}

void secrets_standin_fail_next(secrets_standin *s, unsigned n)
{
    pthread_mutex_lock(&s->mu);
    s->fail_next = n;
    pthread_mutex_unlock(&s->mu);
}

void secrets_standin_fail_extension(secrets_standin *s, bool failing)
{
    pthread_mutex_lock(&s->mu);
    s->fail_extension = failing;
    pthread_mutex_unlock(&s->mu);
}

void secrets_standin_stats_get(secrets_standin *s, secrets_standin_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

void secrets_standin_stop(secrets_standin *s)
{
    if (!s)
        return;
    mini_httpd_stop(s->http);
    free(s->secret);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
