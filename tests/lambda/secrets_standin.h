/* Test harness: loopback stand-ins for where the key ring comes from.
 *
 *  - the AWS Parameters and Secrets Lambda Extension:
 *      GET /secretsmanager/get?secretId=<id>  with X-Aws-Parameters-Secrets-Token
 *    answered 401 without the expected token, 400 for an unknown id;
 *  - Secrets Manager GetSecretValue (POST /, X-Amz-Target
 *    secretsmanager.GetSecretValue), which checks the presence and shape of
 *    the SigV4 Authorization header (algorithm, Credential scope with the
 *    region and service, SignedHeaders covering host, x-amz-date, x-amz-target
 *    and x-amz-security-token, a 64-hex Signature) and the session token, and
 *    answers 403 InvalidSignatureException / UnrecognizedClientException
 *    when one is wrong, 400 ResourceNotFoundException for an unknown id.
 *
 * Both serve the same current secret string, which a test may change at any
 * time (rotation).
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef GDA_TEST_SECRETS_STANDIN_H
#define GDA_TEST_SECRETS_STANDIN_H

#include <stdbool.h>

typedef struct secrets_standin secrets_standin;

/* Serve secret_id with value secret; expect session_token (extension token
 * and X-Amz-Security-Token) and SigV4 scope region/secretsmanager. */
secrets_standin *secrets_standin_start(const char *secret_id, const char *secret,
                                       const char *session_token, const char *region);

int secrets_standin_port(const secrets_standin *s);

/* Replace the secret's value (rotation). */
void secrets_standin_set_secret(secrets_standin *s, const char *secret);

/* Answer the next n Secrets Manager calls with HTTP 500. */
void secrets_standin_fail_next(secrets_standin *s, unsigned n);

/* Answer the extension's requests with HTTP 500 while failing is true (an
 * outage: the secret cannot be fetched). */
void secrets_standin_fail_extension(secrets_standin *s, bool failing);

typedef struct secrets_standin_stats {
    unsigned extension_ok;   /* extension requests answered with the secret */
    unsigned extension_refused;
    unsigned extension_failed; /* answered 500 on purpose */
    unsigned sm_ok;          /* GetSecretValue calls answered with the secret */
    unsigned sm_refused;     /* refused for a bad signature/token/target/id */
    unsigned sm_failed;      /* answered 500 on purpose */
    char last_problem[256];  /* why the last refusal happened ("" if none) */
    char last_authorization[1024];
} secrets_standin_stats;

void secrets_standin_stats_get(secrets_standin *s, secrets_standin_stats *out);

void secrets_standin_stop(secrets_standin *s);

#endif
