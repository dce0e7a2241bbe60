/* libgda-lambda (private) — the parts of the key ring source (secrets.c) that
 * only gda_lambda_main, the runtime loop and the tests use; what a user of
 * the longer form needs stays in include/gda/lambda.h.
 *
 * Thread safety: as gda_secrets (one thread at a time).
 */
#ifndef GDA_LAMBDA_SECRETS_H
#define GDA_LAMBDA_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/lambda.h>

/* "auto", "extension", "secretsmanager", "file", "env"; "unknown" else. */
const char *gda_secret_source_str(gda_secret_source source);

/* Parse one of the names above (also "secrets-manager"); false if unknown. */
bool gda_secret_source_parse(const char *name, gda_secret_source *out);

/* Like gda_secrets_fetch but hands out the raw key ring text, in sodium
 * guarded memory (free with gda_secrets_text_free), for
 * gda_env_verifier_new. *len_out (optional) gets its length. Errors as
 * gda_secrets_fetch, except that the text is not parsed as a key ring. */
gda_status gda_secrets_fetch_text(gda_secrets *s, int64_t now_ms, char **text_out,
                                  size_t *len_out, bool *changed, gda_error *err);

/* Wipe and free text from gda_secrets_fetch_text. NULL-safe. */
void gda_secrets_text_free(char *text);

/* The source that served the last successful fetch (AUTO before any). */
gda_secret_source gda_secrets_last_source(const gda_secrets *s);

#endif
