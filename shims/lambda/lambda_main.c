/* gda_lambda_main: the whole bootstrap of a Data Action function (or an API
 * Gateway authorizer) configured from GDA_* variables — the key ring from
 * its source, the pipeline from gda_env_app_new, the runtime loop — so that a
 * user's main() is one line (include/gda/lambda.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gda/app.h>
#include <gda/env.h>
#include <gda/lambda.h>
#include <gda/verify.h>

#include "clock.h"
#include "secret_file.h"
#include "secrets.h"

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* A key ring file group or others may read gets a WARN at start naming the
 * file and its mode, never its contents (in both modes: the ring reaches the
 * pipeline as a verifier, so its own check never sees the file), through the
 * logger that serves the function. */
static void warn_if_ring_file_exposed(const gda_secrets *secrets, gda_logger *lg)
{
    const char *path = env_nonempty("GDA_SECRETS_FILE");
    unsigned mode = 0;
    if (gda_secrets_last_source(secrets) != GDA_SECRET_SOURCE_FILE ||
        !gda_secret_file_exposed(path, &mode))
        return;
    gda_logf(lg, GDA_LOG_WARN, gda_clock_now_ms(NULL), NULL, NULL, NULL,
             "GDA_SECRETS_FILE %s can be read by group or others (mode %03o): chmod 600 it", path,
             mode);
}

/* Authorizer mode has no app, so no app logger: this one, configured like
 * the app's (GDA_LOG_LEVEL, else AWS_LAMBDA_LOG_LEVEL), serves the whole
 * loop. No metrics: an authorizer's answers are API Gateway's to count. */
static gda_logger *authorizer_logger(gda_error *err)
{
    gda_log_config lc = gda_log_config_default();
    lc.metrics_enabled = false;
    const char *level_var = env_nonempty("GDA_LOG_LEVEL") ? "GDA_LOG_LEVEL" : "AWS_LAMBDA_LOG_LEVEL";
    const char *level = env_nonempty(level_var);
    if (level && gda_log_level_parse(level, &lc.level, NULL) != GDA_OK) {
        gda_error_set(err, GDA_ERR_CONFIG, level_var, "%s must be DEBUG, INFO, WARN or ERROR",
                      level_var);
        return NULL;
    }
    return gda_logger_new(&lc, err);
}

/* Authorizer mode's verifier: token or jwt only, refused at start-up. An
 * authorizer never sees the body, so body HMACs cannot run there, and Basic
 * belongs in the function. */
static gda_status authorizer_verifier(gda_verifier *v, gda_error *err)
{
    gda_auth_scheme used = gda_verifier_scheme(v);
    if (used != GDA_AUTH_TOKEN && used != GDA_AUTH_JWT)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_AUTH",
                             "authorizer mode supports the token and jwt schemes only");
    return GDA_OK;
}

int gda_lambda_main(gda_handler_fn handler, void *handler_user)
{
    int64_t start = gda_clock_now_ms(NULL);
    gda_error err;
    gda_error_clear(&err);

    gda_lambda_options opt = gda_lambda_options_default();
    if (gda_lambda_options_from_env(&opt, &err) != GDA_OK)
        return gda_lambda_init_failed(NULL, &err);
    if (opt.mode == GDA_LAMBDA_DATA_ACTION && !handler) {
        gda_error_set(&err, GDA_ERR_CONFIG, "handler",
                      "gda_lambda_main needs a handler in data-action mode");
        return gda_lambda_init_failed(NULL, &err);
    }

    gda_secrets_config scfg;
    gda_secrets *secrets = NULL;
    if (gda_secrets_config_from_env(&scfg, &err) != GDA_OK ||
        gda_secrets_new(&scfg, &secrets, &err) != GDA_OK)
        return gda_lambda_init_failed(NULL, &err);
    char *ring = NULL;
    size_t ring_len = 0;
    if (gda_secrets_fetch_text(secrets, start, &ring, &ring_len, NULL, &err) != GDA_OK) {
        gda_secrets_free(secrets);
        return gda_lambda_init_failed(NULL, &err);
    }

    /* The fetched ring becomes the verifier here, so the secret never passes
     * through the environment (or /proc/self/environ). */
    gda_verifier *verifier = NULL;
    gda_status st = gda_env_verifier_new(ring, ring_len, NULL, &verifier, &err);
    gda_secrets_text_free(ring);
    if (st == GDA_OK && opt.mode == GDA_LAMBDA_AUTHORIZER)
        st = authorizer_verifier(verifier, &err);
    if (st != GDA_OK) {
        gda_verifier_free(verifier);
        gda_secrets_free(secrets);
        return gda_lambda_init_failed(NULL, &err);
    }
    if (opt.mode == GDA_LAMBDA_AUTHORIZER) {
        gda_logger *lg = authorizer_logger(&err);
        if (!lg) {
            gda_verifier_free(verifier);
            gda_secrets_free(secrets);
            return gda_lambda_init_failed(NULL, &err);
        }
        warn_if_ring_file_exposed(secrets, lg);
        opt.verifier = verifier;
        opt.secrets = secrets;
        opt.logger = lg;
        st = gda_lambda_run(NULL, &opt, &err);
        gda_verifier_free(verifier);
        gda_logger_free(lg);
    } else {
        gda_env_overrides ov;
        memset(&ov, 0, sizeof ov);
        ov.verifier = verifier; /* the app's from here, also on failure */
        ov.many_instances = true; /* containers come and go: GDA_STORE is a choice */
        gda_app *app = NULL;
        st = gda_env_app_new(handler, handler_user, &ov, &app, &err);
        if (st != GDA_OK) {
            gda_secrets_free(secrets);
            return gda_lambda_init_failed(NULL, &err);
        }
        /* A refused request re-fetches the secret (rate limited) and swaps
         * the new ring into the app's verifier: rotation without a redeploy. */
        opt.secrets = secrets;
        opt.verifier = gda_app_verifier(app);
        warn_if_ring_file_exposed(secrets, gda_app_logger(app));
        gda_logf(gda_app_logger(app), GDA_LOG_INFO, gda_clock_now_ms(NULL), NULL, NULL, NULL,
                 "bootstrap ready (key ring from %s, init %lld ms)",
                 gda_secret_source_str(gda_secrets_last_source(secrets)),
                 (long long)(gda_clock_now_ms(NULL) - start));
        st = gda_lambda_run(app, &opt, &err);
        gda_app_free(app);
    }
    gda_secrets_free(secrets);
    if (st != GDA_OK) {
        fprintf(stderr, "{\"level\":\"ERROR\",\"message\":\"runtime loop ended\",\"errorCode\":\"%s\"}\n",
                gda_status_str(st));
        return 1;
    }
    return 0;
}
