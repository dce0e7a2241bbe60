/* libgda (private, lib/aws) — Secrets Manager GetSecretValue.
 *
 * One JSON-protocol call (X-Amz-Target secretsmanager.GetSecretValue, SigV4
 * service "secretsmanager") over gda_aws_client, so it inherits the client's
 * keep-alive, retries with full-jitter backoff and deadline handling. The
 * secret's text is handed out in sodium_malloc memory and the copies this
 * module made on the way (response body, parsed JSON string) are wiped.
 *
 * The same response shape is what the AWS Parameters and Secrets Lambda
 * Extension returns, so its parser is shared (gda_secret_value_parse).
 *
 * Thread safety: a client may be shared by threads (gda_aws_client is).
 */
#ifndef GDA_AWS_SECRETSMANAGER_H
#define GDA_AWS_SECRETSMANAGER_H

#include <stddef.h>
#include <stdint.h>

#include <gda/status.h>

#include "aws_client.h"
#include "aws_credentials.h"

/* A Secrets Manager client is an AWS client set up for it. */
typedef gda_aws_client gda_secretsmanager;

/* New client for region (required) at endpoint (NULL:
 * https://secretsmanager.<region>.amazonaws.com). Takes over creds on
 * success (the caller keeps them on failure). timeout_ms bounds one call
 * (0: 3000). Errors: GDA_ERR_CONFIG, GDA_ERR_NOMEM. */
gda_status gda_secretsmanager_new(const char *region, const char *endpoint,
                                  gda_aws_credentials *creds, int64_t timeout_ms,
                                  gda_secretsmanager **out, gda_error *err);

/* Free the client and its credentials. NULL-safe. */
void gda_secretsmanager_free(gda_secretsmanager *sm);

/* GetSecretValue(secret_id) → *text_out: the SecretString, NUL-terminated,
 * in sodium_malloc memory (release with gda_aws_secret_free); *len_out its
 * length. deadline_ms: epoch ms, 0 for the client's timeout.
 * Errors: GDA_ERR_CONFIG (ResourceNotFound, AccessDenied, DecryptionFailure,
 * a binary-only secret, or another refusal, named by its AWS error type —
 * the secret's value is never quoted), GDA_ERR_UNAVAILABLE (throttled or
 * failing past the retries), GDA_ERR_TIMEOUT, GDA_ERR_NOMEM. */
gda_status gda_secretsmanager_get_secret_string(gda_secretsmanager *sm, const char *secret_id,
                                                int64_t deadline_ms, char **text_out,
                                                size_t *len_out, gda_error *err);

/* Parse a GetSecretValue response body (json of len bytes) and copy its
 * SecretString into sodium_malloc memory as above. The body is not modified
 * but the caller should wipe it. Errors: GDA_ERR_CONFIG (not JSON, no
 * SecretString), GDA_ERR_NOMEM. */
gda_status gda_secret_value_parse(const char *json, size_t len, char **text_out, size_t *len_out,
                                  gda_error *err);

/* Statistics of the underlying client (attempts, connections). */
void gda_secretsmanager_stats(gda_secretsmanager *sm, gda_aws_client_stats *out);

#endif /* GDA_AWS_SECRETSMANAGER_H */
