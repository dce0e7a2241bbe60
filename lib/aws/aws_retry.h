/* libgda (private, lib/aws) — clock hooks and the retry policy for AWS calls.
 *
 * AWS asks clients to retry throttling, 5xx and connection failures with
 * exponential backoff and "full jitter": sleep a uniformly random time in
 * [0, min(cap, base * 2^n)]. Jitter spreads a burst of throttled callers so
 * they do not come back in lock step. Time comes through gda_clock so
 * tests can count and skip the sleeps.
 *
 * Thread safety: every function is reentrant; a gda_clock's hooks must be
 * safe to call from every thread that uses the client holding them.
 */
#ifndef GDA_AWS_RETRY_H
#define GDA_AWS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include <gda/clock.h>

typedef struct gda_aws_retry_policy {
    unsigned max_attempts; /* total attempts including the first; >= 1 */
    int64_t base_ms;       /* backoff ceiling of the first retry */
    int64_t cap_ms;        /* backoff ceiling never grows past this */
} gda_aws_retry_policy;

/* Defaults close to the AWS SDKs' for DynamoDB: 8 attempts, 25 ms base,
 * 2 s cap. The caller's deadline bounds the total anyway. */
void gda_aws_retry_policy_default(gda_aws_retry_policy *p);

/* The ceiling of the backoff before retry number retry_index (0 for the
 * first retry): min(cap, base * 2^retry_index), overflow-safe. */
int64_t gda_aws_backoff_ceiling_ms(const gda_aws_retry_policy *p, unsigned retry_index);

/* A full-jitter backoff: uniform in [0, ceiling] from randombytes_uniform. */
int64_t gda_aws_backoff_ms(const gda_aws_retry_policy *p, unsigned retry_index);

/* Whether an AWS JSON error type (the part after '#' in "__type", e.g.
 * "ThrottlingException") asks the client to slow down and retry. */
bool gda_aws_error_is_throttling(const char *error_type);

#endif /* GDA_AWS_RETRY_H */
