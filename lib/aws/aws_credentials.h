/* libgda (private, lib/aws) — AWS credentials and region from the environment.
 *
 * Lambda hands a function its role's temporary credentials in
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and its
 * region in AWS_REGION; the same variables work for local development. The
 * secret and the session token are copied into sodium_malloc memory (guarded,
 * never swapped, wiped on free).
 *
 * Thread safety: a gda_aws_credentials is immutable after creation and may be
 * read from any number of threads; free it once, when no thread uses it.
 */
#ifndef GDA_AWS_CREDENTIALS_H
#define GDA_AWS_CREDENTIALS_H

#include <stddef.h>

#include <gda/status.h>

typedef struct gda_aws_credentials gda_aws_credentials;

/* Longest access key id / secret / session token accepted (AWS's are far
 * shorter; the bound keeps allocations sane). */
#define GDA_AWS_CREDENTIAL_MAX 4096

/* Build credentials from explicit values. token may be NULL or "" for none.
 * The values are copied. Errors: GDA_ERR_CONFIG (missing, empty, too long, or
 * a key id containing ':'), GDA_ERR_NOMEM. *out is NULL on error. */
gda_status gda_aws_credentials_new(const char *access_key_id, const char *secret_access_key,
                                   const char *session_token, gda_aws_credentials **out,
                                   gda_error *err);

/* Read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and (optional)
 * AWS_SESSION_TOKEN. Errors as gda_aws_credentials_new; the message names the
 * missing variable, never a value. */
gda_status gda_aws_credentials_from_env(gda_aws_credentials **out, gda_error *err);

/* Wipe and free. NULL-safe. */
void gda_aws_credentials_free(gda_aws_credentials *creds);

/* "access_key_id:secret_access_key" (libcurl's CURLOPT_USERPWD form for
 * SigV4) in a fresh sodium_malloc buffer; release it with
 * gda_aws_secret_free. NULL on GDA_ERR_NOMEM. */
char *gda_aws_credentials_userpwd(const gda_aws_credentials *creds);

/* "X-Amz-Security-Token: <token>" in a fresh sodium_malloc buffer, or NULL
 * when the credentials have no session token (*nomem tells the two apart). */
char *gda_aws_credentials_token_header(const gda_aws_credentials *creds, int *nomem);

/* Wipe and free a buffer from the two functions above. NULL-safe. */
void gda_aws_secret_free(char *secret);

/* The region: AWS_REGION, else AWS_DEFAULT_REGION, else NULL. The pointer is
 * the environment's; copy it before the environment may change. */
const char *gda_aws_region_from_env(void);

#endif /* GDA_AWS_CREDENTIALS_H */
