/* libgda (private, lib/aws) — credentials from the environment (see
 * aws_credentials.h). */
#include "aws_credentials.h"
#include <gda/init.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct gda_aws_credentials {
    char *access_key_id; /* not secret on its own, but kept with its secret */
    char *secret;
    char *token; /* NULL when there is no session token */
};

static char *secure_strdup(const char *s, size_t len)
{
    char *copy = sodium_malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void gda_aws_secret_free(char *secret)
{
    /* sodium_free wipes before releasing the guarded pages. */
    if (secret)
        sodium_free(secret);
}

void gda_aws_credentials_free(gda_aws_credentials *creds)
{
    if (!creds)
        return;
    gda_aws_secret_free(creds->access_key_id);
    gda_aws_secret_free(creds->secret);
    gda_aws_secret_free(creds->token);
    free(creds);
}

static gda_status check_value(const char *value, const char *what, bool required, size_t *len,
                              gda_error *err)
{
    *len = value ? strnlen(value, GDA_AWS_CREDENTIAL_MAX + 1) : 0;
    if (*len == 0 && required)
        return gda_error_set(err, GDA_ERR_CONFIG, what, "AWS credentials: %s is not set", what);
    if (*len > GDA_AWS_CREDENTIAL_MAX)
        return gda_error_set(err, GDA_ERR_CONFIG, what, "AWS credentials: %s is too long", what);
    return GDA_OK;
}

static gda_status credentials_new(const char *key_id, const char *secret, const char *token,
                                  const char *key_name, const char *secret_name,
                                  const char *token_name, gda_aws_credentials **out,
                                  gda_error *err)
{
    size_t key_len, secret_len, token_len;
    gda_status st;
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "AWS credentials: no output");
    *out = NULL;
    if ((st = check_value(key_id, key_name, true, &key_len, err)) != GDA_OK ||
        (st = check_value(secret, secret_name, true, &secret_len, err)) != GDA_OK ||
        (st = check_value(token, token_name, false, &token_len, err)) != GDA_OK)
        return st;
    /* libcurl splits USERPWD at the first ':'; a key id holding one would
     * sign with the wrong identity. */
    if (memchr(key_id, ':', key_len))
        return gda_error_set(err, GDA_ERR_CONFIG, key_name,
                             "AWS credentials: %s must not contain ':'", key_name);
    gda_status init = gda_init(err);
    if (init != GDA_OK)
        return init;

    gda_aws_credentials *c = calloc(1, sizeof *c);
    if (!c)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    c->access_key_id = secure_strdup(key_id, key_len);
    c->secret = secure_strdup(secret, secret_len);
    if (token_len)
        c->token = secure_strdup(token, token_len);
    if (!c->access_key_id || !c->secret || (token_len && !c->token)) {
        gda_aws_credentials_free(c);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
    *out = c;
    return GDA_OK;
}

gda_status gda_aws_credentials_new(const char *access_key_id, const char *secret_access_key,
                                   const char *session_token, gda_aws_credentials **out,
                                   gda_error *err)
{
    return credentials_new(access_key_id, secret_access_key, session_token, "access_key_id",
                           "secret_access_key", "session_token", out, err);
}

gda_status gda_aws_credentials_from_env(gda_aws_credentials **out, gda_error *err)
{
    return credentials_new(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
                           getenv("AWS_SESSION_TOKEN"), "AWS_ACCESS_KEY_ID",
                           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", out, err);
}

char *gda_aws_credentials_userpwd(const gda_aws_credentials *creds)
{
    if (!creds)
        return NULL;
    size_t key_len = strlen(creds->access_key_id);
    size_t secret_len = strlen(creds->secret);
    /* Both are bounded by GDA_AWS_CREDENTIAL_MAX, so the sum cannot wrap. */
    char *buf = sodium_malloc(key_len + 1 + secret_len + 1);
    if (!buf)
        return NULL;
    memcpy(buf, creds->access_key_id, key_len);
    buf[key_len] = ':';
    memcpy(buf + key_len + 1, creds->secret, secret_len);
    buf[key_len + 1 + secret_len] = '\0';
    return buf;
}

char *gda_aws_credentials_token_header(const gda_aws_credentials *creds, int *nomem)
{
    static const char prefix[] = "X-Amz-Security-Token: ";
    if (nomem)
        *nomem = 0;
    if (!creds || !creds->token)
        return NULL;
    size_t token_len = strlen(creds->token);
    char *buf = sodium_malloc(sizeof prefix + token_len);
    if (!buf) {
        if (nomem)
            *nomem = 1;
        return NULL;
    }
    memcpy(buf, prefix, sizeof prefix - 1);
    memcpy(buf + sizeof prefix - 1, creds->token, token_len + 1);
    return buf;
}

const char *gda_aws_region_from_env(void)
{
    const char *region = getenv("AWS_REGION");
    if (region && *region)
        return region;
    region = getenv("AWS_DEFAULT_REGION");
    return region && *region ? region : NULL;
}
