/* Building a gda_app from environment variables (see gda/env.h and
 * docs/configuration.md). Every value is validated here so that a mistake
 * stops the process at start-up with the variable's name, instead of
 * surfacing as odd behaviour under traffic. Values are never echoed back:
 * some are secrets, and the rule is simpler to keep when it has no
 * exceptions. */
#include <gda/init.h>
#include <gda/env.h>
#include <gda/slice.h>
#include "base64.h"
#include "clock.h"
#include "data_keys.h"
#if GDA_SHIM_HAVE_KMS
#include "kms_ring.h"
#endif
#include "secret_file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <gda/verify.h>

/* A key ring file larger than this is a mistake (32 entries of 512-byte
 * secrets in base64 fit with room to spare). */
#define SECRETS_FILE_MAX (64 * 1024)
/* Lambda's synchronous payload limit: no body can be larger. */
#define MAX_BODY_LIMIT (6 * 1024 * 1024)
/* Lambda's longest run, 15 minutes: no lease or budget needs more. */
#define MAX_DURATION_MS (15 * 60 * 1000)
#define MAX_TTL_S (366 * 24 * 3600)
#define MAX_SKEW_MS 60000
#define OPTIONS_MAX 1024

typedef struct env {
    gda_env_get_fn get;
    void *user;
} env;

static const char *real_getenv(const char *name, void *user)
{
    (void)user;
    return getenv(name);
}

/* The value, or NULL when unset or empty. */
static const char *env_get(const env *e, const char *name)
{
    const char *v = e->get(name, e->user);
    return v && *v ? v : NULL;
}

static gda_status env_int(const env *e, const char *name, int64_t min, int64_t max,
                          int64_t *out, gda_error *err)
{
    const char *v = env_get(e, name);
    if (!v)
        return GDA_OK;
    int64_t n = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (max - (*p - '0')) / 10) {
            n = max + 1; /* saturate: reported as out of range below */
            while (*p >= '0' && *p <= '9')
                p++;
            break;
        }
        n = n * 10 + (*p - '0');
    }
    if (p == v || *p || n < min || n > max)
        return gda_error_set(err, GDA_ERR_CONFIG, name,
                             "%s must be a whole number from %lld to %lld", name, (long long)min,
                             (long long)max);
    *out = n;
    return GDA_OK;
}

static bool ieq(const char *a, const char *b)
{
    return gda_slice_ieq(gda_slice_cstr(a), b);
}

static gda_status env_bool(const env *e, const char *name, bool *out, gda_error *err)
{
    const char *v = env_get(e, name);
    if (!v)
        return GDA_OK;
    if (ieq(v, "true") || ieq(v, "1") || ieq(v, "yes") || ieq(v, "on")) {
        *out = true;
        return GDA_OK;
    }
    if (ieq(v, "false") || ieq(v, "0") || ieq(v, "no") || ieq(v, "off")) {
        *out = false;
        return GDA_OK;
    }
    return gda_error_set(err, GDA_ERR_CONFIG, name, "%s must be true or false", name);
}

/* An HTTP header name: an RFC 9110 token, which also keeps ';' and '=' out
 * of the verifier's option string. */
static bool header_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= GDA_HEADER_NAME_MAX)
        return false;
    for (; *s; s++) {
        char c = *s;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !strchr("!#$%&'*+-.^_`|~", c))
            return false;
    }
    return true;
}

/* Read the key ring file into guarded memory (*text, *len; free with
 * sodium_free, which wipes it). */
static gda_status read_secrets_file(const char *path, char **text, size_t *len, gda_error *err)
{
    size_t size = 0;
    switch (gda_secret_file_read(path, 1, SECRETS_FILE_MAX, text, len, &size)) {
    case GDA_SECRET_FILE_OK:
        break;
    case GDA_SECRET_FILE_UNOPENABLE:
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_FILE",
                             "GDA_SECRETS_FILE cannot be opened: %s", strerror(errno));
    case GDA_SECRET_FILE_UNFIT:
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_FILE",
                             "GDA_SECRETS_FILE must be a regular file of 1 to %d bytes",
                             SECRETS_FILE_MAX);
    case GDA_SECRET_FILE_NOMEM:
    default:
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
    if (*len != size) {
        sodium_free(*text);
        *text = NULL;
        *len = 0;
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS_FILE",
                             "GDA_SECRETS_FILE could not be read whole");
    }
    return GDA_OK;
}

/* The verifier GDA_AUTH, GDA_AUTH_HEADER and GDA_AUTH_OPTIONS describe, over
 * the key ring text (from source: the variable named in errors). */
static gda_status verifier_over(const env *e, const char *text, size_t len, const char *source,
                                gda_verifier **out, gda_error *err)
{
    const char *scheme = env_get(e, "GDA_AUTH");
    if (!scheme)
        scheme = "token";
    gda_auth_scheme parsed;
    if (ieq(scheme, "none"))
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_AUTH",
                             "GDA_AUTH: serving without authentication is not supported "
                             "(use token, hmac, jwt or basic)");
    if (!gda_auth_scheme_parse(scheme, &parsed))
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_AUTH",
                             "GDA_AUTH must be token, hmac, jwt or basic");

    char options[OPTIONS_MAX];
    options[0] = '\0';
    const char *header = env_get(e, "GDA_AUTH_HEADER");
    if (header) {
        if (!header_name_ok(header))
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_AUTH_HEADER",
                                 "GDA_AUTH_HEADER must be an HTTP header name of 1 to %d "
                                 "characters",
                                 GDA_HEADER_NAME_MAX - 1);
        snprintf(options, sizeof options, "header=%s", header);
    }
    const char *extra = env_get(e, "GDA_AUTH_OPTIONS");
    if (extra) {
        size_t used = strlen(options);
        int n = snprintf(options + used, sizeof options - used, "%s%s", used ? ";" : "", extra);
        if (n < 0 || (size_t)n >= sizeof options - used)
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_AUTH_OPTIONS",
                                 "GDA_AUTH_OPTIONS is longer than %d bytes", OPTIONS_MAX - 64);
    }

    gda_error verr;
    gda_error_clear(&verr);
    gda_status st = gda_verifier_new_from_config(scheme, text, len, options[0] ? options : NULL,
                                                 out, &verr);
    if (st != GDA_OK) {
        /* The verifier names a key ring entry by position and id, or an
         * option; neither carries a secret value. */
        const char *var = source;
        if (strstr(verr.message, "option") || strstr(verr.message, "header"))
            var = extra ? "GDA_AUTH_OPTIONS" : header ? "GDA_AUTH_HEADER" : source;
        if (st == GDA_ERR_CONFIG)
            return gda_error_set(err, st, var, "%s: %s", var, verr.message);
        return gda_error_set(err, st, verr.field[0] ? verr.field : NULL, "%s", verr.message);
    }
    return GDA_OK;
}

/* The verifier over the ring in GDA_SECRETS or GDA_SECRETS_FILE. */
static gda_status build_verifier(const env *e, gda_verifier **out, gda_error *err)
{
    const char *ring_env = env_get(e, "GDA_SECRETS");
    const char *ring_path = env_get(e, "GDA_SECRETS_FILE");
    if (ring_env && ring_path)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS",
                             "set GDA_SECRETS or GDA_SECRETS_FILE, not both");
    if (!ring_env && !ring_path)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_SECRETS",
                             "no key ring: set GDA_SECRETS or GDA_SECRETS_FILE (deny by "
                             "default: the endpoint never runs open)");
    if (!ring_path)
        return verifier_over(e, ring_env, strlen(ring_env), "GDA_SECRETS", out, err);
    char *file_text = NULL;
    size_t len = 0;
    gda_status st = read_secrets_file(ring_path, &file_text, &len, err);
    if (st == GDA_OK)
        st = verifier_over(e, file_text, len, "GDA_SECRETS_FILE", out, err);
    sodium_free(file_text);
    return st;
}

gda_status gda_env_verifier_new(const char *ring, size_t ring_len,
                                const gda_env_overrides *overrides, gda_verifier **out,
                                gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "gda_env_verifier_new: out is NULL");
    *out = NULL;
    env e = {overrides && overrides->getenv ? overrides->getenv : real_getenv,
             overrides ? overrides->getenv_user : NULL};
    if (!ring)
        return build_verifier(&e, out, err);
    return verifier_over(&e, ring, ring_len, "GDA_SECRETS", out, err);
}

/* A key file holds the base64 text and maybe a final newline: nothing
 * longer than this is one. */
#define KEY_FILE_MAX 256

/* base64 (standard alphabet, padding optional) of exactly 32 bytes into
 * guarded memory; false when it is anything else. */
_Static_assert(GDA_IDEM_DATA_KEY_LEN == GDA_IDEM_HASH_KEY_LEN, "one reader for both keys");
static bool decode_key(const char *v, size_t len, uint8_t *buf)
{
    size_t n = 0;
    return gda_base64_decode(v, len, GDA_BASE64_STANDARD, buf, GDA_IDEM_DATA_KEY_LEN + 1, &n) &&
           n == GDA_IDEM_DATA_KEY_LEN;
}

/* GDA_DATA_KEY, GDA_HASH_KEY: base64 of 32 bytes, from the variable NAME or
 * from the file NAME_FILE (the same text; a final newline is ignored), never
 * both. Decoded into guarded memory; *key stays NULL when neither is set.
 * The file's name is kept in *file_out for the exposure check. */
static gda_status read_key(const env *e, const char *name, uint8_t **key, const char **file_out,
                           gda_error *err)
{
    char file_var[64];
    snprintf(file_var, sizeof file_var, "%s_FILE", name);
    const char *v = env_get(e, name);
    const char *path = env_get(e, file_var);
    *key = NULL;
    *file_out = NULL;
    if (v && path)
        return gda_error_set(err, GDA_ERR_CONFIG, name, "set %s or %s, not both", name, file_var);
    if (!v && !path)
        return GDA_OK;
    char *text = NULL;
    size_t len = 0;
    if (path) {
        size_t size = 0;
        switch (gda_secret_file_read(path, 1, KEY_FILE_MAX, &text, &len, &size)) {
        case GDA_SECRET_FILE_OK:
            break;
        case GDA_SECRET_FILE_UNOPENABLE:
            return gda_error_set(err, GDA_ERR_CONFIG, file_var, "%s cannot be opened: %s",
                                 file_var, strerror(errno));
        case GDA_SECRET_FILE_UNFIT:
            return gda_error_set(err, GDA_ERR_CONFIG, file_var,
                                 "%s must be a regular file of 1 to %d bytes", file_var,
                                 KEY_FILE_MAX);
        case GDA_SECRET_FILE_NOMEM:
        default:
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        }
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            len--;
        v = text;
    } else {
        len = strlen(v);
    }
    const char *var = path ? file_var : name;
    uint8_t *buf = sodium_malloc(GDA_IDEM_DATA_KEY_LEN + 1);
    if (!buf) {
        sodium_free(text);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
    bool ok = decode_key(v, len, buf);
    sodium_free(text);
    if (!ok) {
        sodium_free(buf);
        return gda_error_set(err, GDA_ERR_CONFIG, var, "%s must be the base64 of exactly %d bytes",
                             var, GDA_IDEM_DATA_KEY_LEN);
    }
    *key = buf;
    *file_out = path;
    return GDA_OK;
}

/* The keys that seal results and key hashes: GDA_DATA_KEY or the ring
 * GDA_DATA_KEYS (data_keys.h), GDA_HASH_KEY, each also from a _FILE; with
 * GDA_DATA_KEY_SOURCE=kms the ring's entries and GDA_HASH_KEY are KMS
 * ciphertexts, decrypted once here (kms_ring.h). */
static gda_status read_keys(const env *e, uint8_t **data_key, const char **data_key_file,
                            uint8_t **hash_key, const char **hash_key_file,
                            gda_data_key_ring **ring, gda_error *err)
{
    const char *text = env_get(e, "GDA_DATA_KEYS");
    const char *source = env_get(e, "GDA_DATA_KEY_SOURCE");
    bool kms = source && ieq(source, "kms");
    if (source && !kms && !ieq(source, "raw"))
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_DATA_KEY_SOURCE",
                             "GDA_DATA_KEY_SOURCE must be kms or raw");
    if (source && !text)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_DATA_KEYS",
                             "GDA_DATA_KEY_SOURCE is set but GDA_DATA_KEYS is not");
    gda_status st = read_key(e, "GDA_DATA_KEY", data_key, data_key_file, err);
    if (st != GDA_OK)
        return st;
    if (text && *data_key)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_DATA_KEYS",
                             "set GDA_DATA_KEY or GDA_DATA_KEYS, not both");
    if (!kms) {
        if ((st = read_key(e, "GDA_HASH_KEY", hash_key, hash_key_file, err)) != GDA_OK)
            return st;
        if (!text)
            return GDA_OK;
        /* The ring rotates; retries must keep matching their first attempt. */
        if (!*hash_key)
            return gda_error_set(err, GDA_ERR_CONFIG, "GDA_HASH_KEY",
                                 "GDA_DATA_KEYS needs GDA_HASH_KEY (32 bytes in base64: `gda "
                                 "keygen`), which stays the same when the data keys rotate");
        return gda_data_key_ring_parse("GDA_DATA_KEYS", text, NULL, NULL, ring, err);
    }
    const char *hash_text = env_get(e, "GDA_HASH_KEY");
    if (env_get(e, "GDA_HASH_KEY_FILE") || !hash_text)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_HASH_KEY",
                             "with GDA_DATA_KEY_SOURCE=kms, set GDA_HASH_KEY to a KMS ciphertext "
                             "(gda datakey new --hash-key), which stays the same when the data "
                             "keys rotate");
#if GDA_SHIM_HAVE_KMS
    gda_kms_settings set = {.region = env_get(e, "AWS_REGION"),
                            .endpoint = env_get(e, "GDA_KMS_ENDPOINT"),
                            .key_arn = env_get(e, "GDA_KMS_KEY_ARN"),
                            .timeout_ms = GDA_KMS_DEFAULT_TIMEOUT_MS};
    if (!set.region)
        set.region = env_get(e, "AWS_DEFAULT_REGION");
    if ((st = env_int(e, "GDA_KMS_TIMEOUT_MS", 1, GDA_KMS_MAX_TIMEOUT_MS, &set.timeout_ms,
                      err)) != GDA_OK)
        return st;
    return gda_kms_keys_load(&set, text, hash_text, ring, hash_key, err);
#else
    return gda_error_set(err, GDA_ERR_CONFIG, "GDA_DATA_KEY_SOURCE",
                         "GDA_DATA_KEY_SOURCE=kms needs a build with libcurl (the AWS client)");
#endif
}

/* A WARN at start for a secret file group or others may read: named, with
 * its mode, never its contents. */
static void warn_if_exposed(gda_app *app, const gda_env_overrides *o, const char *var,
                            const char *path)
{
    unsigned mode = 0;
    if (!path || !gda_secret_file_exposed(path, &mode))
        return;
    gda_logf(gda_app_logger(app), GDA_LOG_WARN, gda_clock_read(&o->clock),
             NULL, NULL, NULL, "%s %s can be read by group or others (mode %03o): chmod 600 it",
             var, path, mode);
}

/* gda_app_new names settings by their config field; say the variable. */
static const char *variable_for_field(const char *field)
{
    static const struct {
        const char *field, *var;
    } map[] = {
        {"route", "GDA_ROUTE"},
        {"ttl_s", "GDA_TTL_S"},
        {"max_lease_ms", "GDA_LEASE_MS"},
        {"handler_budget_ms", "GDA_HANDLER_BUDGET_MS"},
        {"in_progress_wait_ms", "GDA_IN_PROGRESS_WAIT_MS"},
        {"busy_policy", "GDA_IN_PROGRESS"},
        {"payload_hash", "GDA_PAYLOAD_HASH"},
        {"metrics_namespace", "GDA_METRICS_NAMESPACE"},
        {"service", "GDA_SERVICE"},
        {"level", "GDA_LOG_LEVEL"},
        {"clock_skew_ms", "GDA_CLOCK_SKEW_MS"},
        {"hash_key", "GDA_HASH_KEY"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(field, map[i].field) == 0)
            return map[i].var;
    }
    return NULL;
}

gda_status gda_env_app_new(gda_handler_fn handler, void *handler_user,
                           const gda_env_overrides *overrides, gda_app **out, gda_error *err)
{
    gda_env_overrides none;
    memset(&none, 0, sizeof none);
    const gda_env_overrides *o = overrides ? overrides : &none;
    /* Ours to free until gda_app_new takes them. */
    gda_spec *spec = o->spec;
    gda_verifier *given_verifier = o->verifier;
    if (out)
        *out = NULL;
    gda_status init = out ? gda_init(err)
                          : gda_error_set(err, GDA_ERR_INTERNAL, NULL, "gda_env_app_new: out is NULL");
    if (init != GDA_OK) {
        gda_spec_free(spec);
        gda_verifier_free(given_verifier);
        return init;
    }
    env e = {o->getenv ? o->getenv : real_getenv, o->getenv_user};

    gda_app_config cfg = gda_app_config_default();
    cfg.verifier = given_verifier;
    cfg.handler = handler;
    cfg.handler_user = handler_user;
    cfg.idem.clock = o->clock;
    cfg.log.sink = o->log_sink;
    cfg.log.sink_user = o->log_sink_user;

    gda_status st = GDA_OK;
    int64_t v;
    uint8_t *data_key = NULL, *hash_key = NULL;
    const char *data_key_file = NULL, *hash_key_file = NULL;
    gda_data_key_ring *ring = NULL;

    /* Plain settings first: they cost nothing to check and fail fast. */
    v = (int64_t)cfg.idem.ttl_s;
    if ((st = env_int(&e, "GDA_TTL_S", 1, MAX_TTL_S, &v, err)) != GDA_OK)
        goto done;
    cfg.idem.ttl_s = v;
    v = (int64_t)GDA_DEFAULT_MAX_BODY;
    if ((st = env_int(&e, "GDA_MAX_BODY", 1, MAX_BODY_LIMIT, &v, err)) != GDA_OK)
        goto done;
    cfg.limits.max_body = (size_t)v;
    v = cfg.idem.max_lease_ms;
    if ((st = env_int(&e, "GDA_LEASE_MS", 1, MAX_DURATION_MS, &v, err)) != GDA_OK)
        goto done;
    cfg.idem.max_lease_ms = v;
    v = cfg.handler_budget_ms;
    if ((st = env_int(&e, "GDA_HANDLER_BUDGET_MS", 1, MAX_DURATION_MS, &v, err)) != GDA_OK)
        goto done;
    cfg.handler_budget_ms = v;
    v = cfg.idem.in_progress_wait_ms;
    if ((st = env_int(&e, "GDA_IN_PROGRESS_WAIT_MS", 0, MAX_DURATION_MS, &v, err)) != GDA_OK)
        goto done;
    cfg.idem.in_progress_wait_ms = v;
    v = cfg.idem.clock_skew_ms;
    if ((st = env_int(&e, "GDA_CLOCK_SKEW_MS", 0, MAX_SKEW_MS, &v, err)) != GDA_OK)
        goto done;
    cfg.idem.clock_skew_ms = v;
    if ((st = env_bool(&e, "GDA_DIRECT_TRUSTED", &cfg.direct_invocation_trusted, err)) !=
        GDA_OK)
        goto done;

    const char *policy = env_get(&e, "GDA_IN_PROGRESS");
    if (policy) {
        if (ieq(policy, "conflict")) {
            cfg.idem.busy_policy = GDA_IDEM_BUSY_CONFLICT;
        } else if (ieq(policy, "retry")) {
            cfg.idem.busy_policy = GDA_IDEM_BUSY_RETRY;
        } else {
            st = gda_error_set(err, GDA_ERR_CONFIG, "GDA_IN_PROGRESS",
                               "GDA_IN_PROGRESS must be conflict (409) or retry (503)");
            goto done;
        }
    }

    const char *hash_mode = env_get(&e, "GDA_PAYLOAD_HASH");
    if (hash_mode) {
        if (ieq(hash_mode, "raw")) {
            cfg.payload_hash = GDA_PAYLOAD_HASH_RAW;
        } else if (ieq(hash_mode, "canonical")) {
            cfg.payload_hash = GDA_PAYLOAD_HASH_CANONICAL;
        } else {
            st = gda_error_set(err, GDA_ERR_CONFIG, "GDA_PAYLOAD_HASH",
                               "GDA_PAYLOAD_HASH must be raw or canonical");
            goto done;
        }
    }

    const char *level_var = env_get(&e, "GDA_LOG_LEVEL") ? "GDA_LOG_LEVEL" : "AWS_LAMBDA_LOG_LEVEL";
    const char *level = env_get(&e, level_var);
    if (level && gda_log_level_parse(level, &cfg.log.level, NULL) != GDA_OK) {
        st = gda_error_set(err, GDA_ERR_CONFIG, level_var,
                           "%s must be DEBUG, INFO, WARN or ERROR", level_var);
        goto done;
    }
    cfg.log.metrics_namespace = env_get(&e, "GDA_METRICS_NAMESPACE");
    cfg.log.service = env_get(&e, "GDA_SERVICE");
    if (!cfg.log.service)
        cfg.log.service = env_get(&e, "AWS_LAMBDA_FUNCTION_NAME");
    const char *route = env_get(&e, "GDA_ROUTE");
    if (route)
        cfg.route = route;

    if ((st = read_keys(&e, &data_key, &data_key_file, &hash_key, &hash_key_file, &ring, err)) !=
        GDA_OK)
        goto done;
    cfg.idem.data_key = data_key;
    cfg.idem.data_key_len = data_key ? GDA_IDEM_DATA_KEY_LEN : 0;
    cfg.idem.hash_key = hash_key;
    cfg.idem.hash_key_len = hash_key ? GDA_IDEM_HASH_KEY_LEN : 0;
    cfg.idem.data_keys = gda_data_key_ring_entries(ring, &cfg.idem.n_data_keys);

    if (!cfg.verifier && (st = build_verifier(&e, &cfg.verifier, err)) != GDA_OK)
        goto done;

    const char *uri = env_get(&e, "GDA_STORE");
    if (!uri && o->many_instances) {
        st = gda_error_set(err, GDA_ERR_CONFIG, "GDA_STORE",
                           "GDA_STORE is not set: choose dynamodb:TABLE (shared by every "
                           "instance), sqlite:PATH (one host) or memory (this instance only: "
                           "a retry reaching another one runs the handler again)");
        goto done;
    }
    if (!uri)
        uri = o->default_store ? o->default_store : "memory";
    gda_error serr;
    gda_error_clear(&serr);
    if (!(cfg.store = gda_store_open_uri(uri, &serr))) {
        st = gda_error_set(err, serr.code, "GDA_STORE", "GDA_STORE: %s", serr.message);
        goto done;
    }
    /* A store shared by processes or hosts needs one secret for the keyed
     * payload hash and principal digests in all of them: without it each
     * process draws its own, and every retry after a restart is a 422. */
    bool durable = strcmp(cfg.store->ops->name, "memory") != 0;
    if (durable && !data_key && !hash_key) {
        st = gda_error_set(err, GDA_ERR_CONFIG, "GDA_HASH_KEY",
                           "durable GDA_STORE needs GDA_HASH_KEY or GDA_DATA_KEY (32 bytes in "
                           "base64: `gda keygen`), the same in all instances sharing it; else each "
                           "process draws its own and every retry after a restart is a 422");
        goto done;
    }

    cfg.spec = spec;
    spec = NULL; /* gda_app_new owns it from here, also on failure */
    gda_error aerr;
    gda_error_clear(&aerr);
    gda_app *app = gda_app_new(&cfg, &aerr);
    cfg.verifier = NULL;
    cfg.store = NULL;
    if (!app) {
        const char *var = variable_for_field(aerr.field);
        st = var ? gda_error_set(err, aerr.code, var, "%s: %s", var, aerr.message)
                 : gda_error_set(err, aerr.code, aerr.field[0] ? aerr.field : NULL, "%s",
                                 aerr.message);
        goto done;
    }
    /* A secret file others can read is a leak waiting to happen: served,
     * but said at start (the name only, never the contents). */
    if (!given_verifier)
        warn_if_exposed(app, o, "GDA_SECRETS_FILE", env_get(&e, "GDA_SECRETS_FILE"));
    warn_if_exposed(app, o, "GDA_DATA_KEY_FILE", data_key_file);
    warn_if_exposed(app, o, "GDA_HASH_KEY_FILE", hash_key_file);
    if (!durable && o->many_instances)
        gda_log(gda_app_logger(app), GDA_LOG_WARN,
                gda_clock_read(&cfg.idem.clock), NULL, NULL,
                "GDA_STORE is a memory store: results live in this instance only, so a retry "
                "that reaches another instance runs the handler again; use dynamodb:TABLE",
                NULL);
    *out = app;

done:
    gda_verifier_free(cfg.verifier);
    gda_store_close(cfg.store);
    gda_spec_free(spec);
    sodium_free(data_key);
    sodium_free(hash_key);
    gda_data_key_ring_free(ring);
    return st;
}
