/* libgda-lambda — where the key ring comes from (see include/gda/lambda.h
 * and secrets.h).
 *
 * Sources, most preferred first: the AWS Parameters and Secrets Lambda
 * Extension (a local cache in front of Secrets Manager: no SigV4, no TLS, no
 * network round trip after the first), Secrets Manager GetSecretValue over
 * SigV4, a file, or the environment. Secret bytes only ever sit in
 * sodium_malloc memory here and are wiped when replaced or freed.
 */
#include <gda/init.h>
#include <gda/lambda.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "aws_client.h"
#include "aws_credentials.h"
#include "secret_file.h"
#include "secrets.h"
#include "secretsmanager.h"

#define SECRET_TEXT_MAX (64 * 1024)
#define RESPONSE_MAX (2 * SECRET_TEXT_MAX + 4096)
#define DEFAULT_EXTENSION_PORT 2773
#define DEFAULT_TIMEOUT_MS 3000

struct gda_secrets {
    gda_secret_source source;
    char *secret_id;
    char *file_path;
    char *env_value; /* sodium_malloc: it is the secret itself */
    size_t env_len;
    char *extension_host;
    int extension_port;
    char *session_token; /* sodium_malloc */
    char *region;
    char *endpoint;
    int64_t timeout_ms;

    gda_secretsmanager *sm; /* created on first use, kept for keep-alive */
    gda_secret_source last_source;
    bool extension_unreachable; /* auto: the extension refused connections once */
    char *last_text;            /* sodium_malloc; previous successful fetch */
    size_t last_len;
};

const char *gda_secret_source_str(gda_secret_source source)
{
    switch (source) {
    case GDA_SECRET_SOURCE_AUTO: return "auto";
    case GDA_SECRET_SOURCE_EXTENSION: return "extension";
    case GDA_SECRET_SOURCE_SECRETS_MANAGER: return "secretsmanager";
    case GDA_SECRET_SOURCE_FILE: return "file";
    case GDA_SECRET_SOURCE_ENV: return "env";
    }
    return "unknown";
}

bool gda_secret_source_parse(const char *name, gda_secret_source *out)
{
    static const struct {
        const char *name;
        gda_secret_source source;
    } names[] = {
        {"auto", GDA_SECRET_SOURCE_AUTO},
        {"extension", GDA_SECRET_SOURCE_EXTENSION},
        {"secretsmanager", GDA_SECRET_SOURCE_SECRETS_MANAGER},
        {"secrets-manager", GDA_SECRET_SOURCE_SECRETS_MANAGER},
        {"file", GDA_SECRET_SOURCE_FILE},
        {"env", GDA_SECRET_SOURCE_ENV},
    };
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            if (out)
                *out = names[i].source;
            return true;
        }
    return false;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool parse_int_range(const char *text, long long lo, long long hi, long long *out)
{
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno || !end || *end || end == text || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

gda_status gda_secrets_config_from_env(gda_secrets_config *cfg, gda_error *err)
{
    if (!cfg)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "cfg NULL");
    memset(cfg, 0, sizeof *cfg);
    const char *src = env_nonempty("GDA_SECRETS_SOURCE");
    if (src && !gda_secret_source_parse(src, &cfg->source))
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_SOURCE",
                             "GDA_SECRETS_SOURCE must be auto, extension, secretsmanager, file or env");
    cfg->secret_id = env_nonempty("GDA_SECRET_ID");
    cfg->file_path = env_nonempty("GDA_SECRETS_FILE");
    cfg->env_value = env_nonempty("GDA_SECRETS");
    cfg->extension_host = env_nonempty("GDA_SECRETS_EXTENSION_HOST");
    cfg->endpoint = env_nonempty("GDA_SECRETS_ENDPOINT");
    const char *port_var = "GDA_SECRETS_EXTENSION_PORT";
    const char *port = env_nonempty(port_var);
    if (!port) {
        port_var = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"; /* the extension's own setting */
        port = env_nonempty(port_var);
    }
    if (port) {
        long long p;
        if (!parse_int_range(port, 1, 65535, &p))
            return gda_error_set(err, GDA_ERR_CONFIG, port_var, "%s must be a port (1..65535)",
                                 port_var);
        cfg->extension_port = (int)p;
    }
    const char *timeout = env_nonempty("GDA_SECRETS_TIMEOUT_MS");
    if (timeout) {
        long long t;
        if (!parse_int_range(timeout, 1, 60000, &t))
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_TIMEOUT_MS",
                                 "GDA_SECRETS_TIMEOUT_MS must be 1..60000");
        cfg->timeout_ms = t;
    }
    return GDA_OK;
}

static char *secure_strdup(const char *s, size_t *len_out)
{
    size_t n = strlen(s);
    char *p = sodium_malloc(n + 1);
    if (p) {
        memcpy(p, s, n + 1);
        if (len_out)
            *len_out = n;
    }
    return p;
}

static void secure_free(char *p)
{
    sodium_free(p); /* wipes; NULL-safe */
}

static bool dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (!s || !*s)
        return true;
    *out = strdup(s);
    return *out != NULL;
}

void gda_secrets_free(gda_secrets *s)
{
    if (!s)
        return;
    free(s->secret_id);
    free(s->file_path);
    secure_free(s->env_value);
    free(s->extension_host);
    secure_free(s->session_token);
    free(s->region);
    free(s->endpoint);
    gda_secretsmanager_free(s->sm);
    secure_free(s->last_text);
    free(s);
}

gda_status gda_secrets_new(const gda_secrets_config *cfg, gda_secrets **out, gda_error *err)
{
    if (!cfg || !out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "NULL argument");
    *out = NULL;
    gda_status init = gda_init(err);
    if (init != GDA_OK)
        return init;
    bool has_id = cfg->secret_id && *cfg->secret_id;
    bool has_file = cfg->file_path && *cfg->file_path;
    bool has_env = cfg->env_value && *cfg->env_value;
    switch (cfg->source) {
    case GDA_SECRET_SOURCE_EXTENSION:
    case GDA_SECRET_SOURCE_SECRETS_MANAGER:
        if (!has_id)
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRET_ID",
                                 "GDA_SECRET_ID is required for source %s",
                                 gda_secret_source_str(cfg->source));
        break;
    case GDA_SECRET_SOURCE_FILE:
        if (!has_file)
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_FILE",
                                 "GDA_SECRETS_FILE is required for source file");
        break;
    case GDA_SECRET_SOURCE_ENV:
        if (!has_env)
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS",
                                 "GDA_SECRETS is required for source env");
        break;
    case GDA_SECRET_SOURCE_AUTO:
        if (!has_id && !has_file && !has_env)
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRET_ID",
                                 "no key ring configured: set GDA_SECRET_ID, GDA_SECRETS_FILE or GDA_SECRETS");
        break;
    default:
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_SOURCE", "unknown secret source");
    }
    if (cfg->extension_port < 0 || cfg->extension_port > 65535)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_EXTENSION_PORT", "bad port");
    if (cfg->timeout_ms < 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_TIMEOUT_MS", "negative timeout");
    if (has_env && strlen(cfg->env_value) > SECRET_TEXT_MAX)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS", "GDA_SECRETS is too long");

    gda_secrets *s = calloc(1, sizeof *s);
    if (!s)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    s->source = cfg->source;
    s->extension_port = cfg->extension_port ? cfg->extension_port : DEFAULT_EXTENSION_PORT;
    s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    const char *token = cfg->session_token ? cfg->session_token : getenv("AWS_SESSION_TOKEN");
    const char *region = cfg->region ? cfg->region : gda_aws_region_from_env();
    bool ok = dup_opt(cfg->secret_id, &s->secret_id) && dup_opt(cfg->file_path, &s->file_path) &&
              dup_opt(cfg->extension_host ? cfg->extension_host : "localhost",
                      &s->extension_host) &&
              dup_opt(region, &s->region) && dup_opt(cfg->endpoint, &s->endpoint);
    if (ok && has_env)
        ok = (s->env_value = secure_strdup(cfg->env_value, &s->env_len)) != NULL;
    if (ok && token && *token)
        ok = (s->session_token = secure_strdup(token, NULL)) != NULL;
    if (!ok) {
        gda_secrets_free(s);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
    *out = s;
    return GDA_OK;
}

gda_secret_source gda_secrets_last_source(const gda_secrets *s)
{
    return s ? s->last_source : GDA_SECRET_SOURCE_AUTO;
}

/* ---- the extension --------------------------------------------------------- */

typedef struct secure_buffer {
    char *data; /* sodium_malloc, RESPONSE_MAX + 1 */
    size_t len;
    bool too_large;
} secure_buffer;

static size_t on_secure_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    secure_buffer *b = userdata;
    size_t n = size * nmemb;
    if (n > RESPONSE_MAX - b->len) {
        b->too_large = true;
        return 0;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* GDA_ERR_UNAVAILABLE with *unreachable set when nothing listens. */
static gda_status fetch_extension(gda_secrets *s, char **text, size_t *len, bool *unreachable,
                                  gda_error *err)
{
    *unreachable = false;
    if (!s->session_token)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_SESSION_TOKEN",
                             "the secrets extension needs AWS_SESSION_TOKEN");
    gda_status curl_init = gda_aws_global_init(err);
    if (curl_init != GDA_OK)
        return curl_init;
    CURL *h = curl_easy_init();
    if (!h)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    gda_status st = GDA_OK;
    char *escaped = curl_easy_escape(h, s->secret_id, 0);
    secure_buffer buf = {.data = sodium_malloc(RESPONSE_MAX + 1)};
    size_t hdr_len = strlen("X-Aws-Parameters-Secrets-Token: ") + strlen(s->session_token) + 1;
    char *token_header = sodium_malloc(hdr_len);
    char url[2600];
    struct curl_slist *headers = NULL;
    if (!escaped || !buf.data || !token_header) {
        st = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    buf.data[0] = '\0';
    snprintf(token_header, hdr_len, "X-Aws-Parameters-Secrets-Token: %s", s->session_token);
    int n = snprintf(url, sizeof url, "http://%s:%d/secretsmanager/get?secretId=%s",
                     s->extension_host, s->extension_port, escaped);
    if (n < 0 || (size_t)n >= sizeof url) {
        st = gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRET_ID", "the secret id is too long");
        goto done;
    }
    headers = curl_slist_append(NULL, token_header);
    if (!headers) {
        st = gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_secure_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->timeout_ms < 1000 ? s->timeout_ms : 1000));
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_COULDNT_CONNECT) {
        *unreachable = true;
        st = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "the secrets extension is not running");
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        st = gda_error_set(err, GDA_ERR_TIMEOUT, NULL, "the secrets extension did not answer in time");
    } else if (rc != CURLE_OK) {
        st = gda_error_set(err, buf.too_large ? GDA_ERR_CONFIG : GDA_ERR_UNAVAILABLE, NULL,
                           buf.too_large ? "the secrets extension answer is too large"
                                         : "the secrets extension request failed");
    } else if (status >= 200 && status < 300) {
        st = gda_secret_value_parse(buf.data, buf.len, text, len, err);
    } else if (status >= 500) {
        st = gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL,
                           "the secrets extension failed (HTTP %ld)", status);
    } else {
        st = gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRET_ID",
                           "the secrets extension refused the request (HTTP %ld)", status);
    }
done:
    curl_slist_free_all(headers); /* the copy libcurl made is freed plain; the header is short-lived */
    sodium_free(token_header);
    sodium_free(buf.data);
    curl_free(escaped);
    curl_easy_cleanup(h);
    return st;
}

/* ---- Secrets Manager, file, env ------------------------------------------ */

static gda_status fetch_secretsmanager(gda_secrets *s, int64_t now_ms, char **text, size_t *len,
                                       gda_error *err)
{
    if (!s->sm) {
        gda_aws_credentials *creds = NULL;
        gda_status st = gda_aws_credentials_from_env(&creds, err);
        if (st != GDA_OK)
            return st;
        st = gda_secretsmanager_new(s->region, s->endpoint, creds, s->timeout_ms, &s->sm, err);
        if (st != GDA_OK) {
            gda_aws_credentials_free(creds);
            return st;
        }
    }
    return gda_secretsmanager_get_secret_string(s->sm, s->secret_id, now_ms + s->timeout_ms, text,
                                                len, err);
}

static gda_status fetch_file(gda_secrets *s, char **text, size_t *len, gda_error *err)
{
    size_t file_size = 0;
    switch (gda_secret_file_read(s->file_path, 0, SECRET_TEXT_MAX, text, len, &file_size)) {
    case GDA_SECRET_FILE_OK:
        /* A file that shrank while read is taken as far as it went. */
        return GDA_OK;
    case GDA_SECRET_FILE_UNOPENABLE:
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_FILE",
                             "the key ring file cannot be opened (%s)", strerror(errno));
    case GDA_SECRET_FILE_UNFIT:
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_FILE",
                             "the key ring file must be a regular file of at most 64 KiB");
    case GDA_SECRET_FILE_NOMEM:
    default:
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
}

static gda_status fetch_raw(gda_secrets *s, int64_t now_ms, char **text, size_t *len,
                            gda_error *err)
{
    gda_secret_source src = s->source;
    if (src == GDA_SECRET_SOURCE_AUTO) {
        if (s->secret_id) {
            if (s->session_token && !s->extension_unreachable) {
                bool unreachable = false;
                gda_status st = fetch_extension(s, text, len, &unreachable, err);
                if (st == GDA_OK) {
                    s->last_source = GDA_SECRET_SOURCE_EXTENSION;
                    return GDA_OK;
                }
                if (!unreachable)
                    return st;
                s->extension_unreachable = true; /* the extension is not in this function */
            }
            src = GDA_SECRET_SOURCE_SECRETS_MANAGER;
        } else if (s->file_path) {
            src = GDA_SECRET_SOURCE_FILE;
        } else {
            src = GDA_SECRET_SOURCE_ENV;
        }
    }
    gda_status st;
    bool unreachable;
    switch (src) {
    case GDA_SECRET_SOURCE_EXTENSION:
        st = fetch_extension(s, text, len, &unreachable, err);
        break;
    case GDA_SECRET_SOURCE_SECRETS_MANAGER:
        st = fetch_secretsmanager(s, now_ms, text, len, err);
        break;
    case GDA_SECRET_SOURCE_FILE:
        st = fetch_file(s, text, len, err);
        break;
    default:
        *text = sodium_malloc(s->env_len + 1);
        if (!*text)
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        memcpy(*text, s->env_value, s->env_len + 1);
        *len = s->env_len;
        st = GDA_OK;
        break;
    }
    if (st == GDA_OK)
        s->last_source = src;
    return st;
}

/* A secret may hold the ring text itself or a JSON object {"keyring": "..."}
 * (the shape the Secrets Manager console makes for key/value secrets). */
static gda_status unwrap_json(char **text, size_t *len, gda_error *err)
{
    size_t i = 0;
    while (i < *len && ((*text)[i] == ' ' || (*text)[i] == '\n' || (*text)[i] == '\r' ||
                        (*text)[i] == '\t'))
        i++;
    if (i >= *len || (*text)[i] != '{')
        return GDA_OK;
    json_t *doc = json_loadb(*text, *len, JSON_REJECT_DUPLICATES, NULL);
    json_t *ring = doc ? json_object_get(doc, "keyring") : NULL;
    if (!json_is_string(ring)) {
        json_decref(doc);
        return gda_error_set(err, GDA_ERR_CONFIG, "keyring",
                             "a JSON secret must hold the key ring in a \"keyring\" string");
    }
    size_t n = json_string_length(ring);
    char *value = (char *)json_string_value(ring);
    char *copy = sodium_malloc(n + 1);
    if (copy) {
        memcpy(copy, value, n);
        copy[n] = '\0';
    }
    sodium_memzero(value, n);
    json_decref(doc);
    if (!copy)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    sodium_free(*text);
    *text = copy;
    *len = n;
    return GDA_OK;
}

gda_status gda_secrets_fetch_text(gda_secrets *s, int64_t now_ms, char **text_out,
                                  size_t *len_out, bool *changed, gda_error *err)
{
    if (!s || !text_out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "NULL argument");
    *text_out = NULL;
    char *text = NULL;
    size_t len = 0;
    gda_status st = fetch_raw(s, now_ms, &text, &len, err);
    if (st == GDA_OK)
        st = unwrap_json(&text, &len, err);
    if (st != GDA_OK) {
        sodium_free(text);
        return st;
    }
    bool differs = !s->last_text || s->last_len != len ||
                   sodium_memcmp(s->last_text, text, len) != 0;
    if (differs) {
        char *keep = sodium_malloc(len + 1);
        if (!keep) {
            sodium_free(text);
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        }
        memcpy(keep, text, len + 1);
        sodium_free(s->last_text);
        s->last_text = keep;
        s->last_len = len;
    }
    if (changed)
        *changed = differs;
    *text_out = text;
    if (len_out)
        *len_out = len;
    return GDA_OK;
}

gda_status gda_secrets_fetch(gda_secrets *s, int64_t now_ms, gda_keyring **ring_out,
                             bool *changed, gda_error *err)
{
    if (!ring_out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "NULL argument");
    *ring_out = NULL;
    char *text = NULL;
    size_t len = 0;
    bool differs = false;
    gda_status st = gda_secrets_fetch_text(s, now_ms, &text, &len, &differs, err);
    if (st != GDA_OK)
        return st;
    st = gda_keyring_parse(text, len, ring_out, err);
    sodium_free(text);
    if (st != GDA_OK) {
        /* Remember nothing of a bad secret: the next fetch compares afresh. */
        sodium_free(s->last_text);
        s->last_text = NULL;
        s->last_len = 0;
        return st;
    }
    if (changed)
        *changed = differs;
    return GDA_OK;
}

void gda_secrets_text_free(char *text)
{
    sodium_free(text);
}
