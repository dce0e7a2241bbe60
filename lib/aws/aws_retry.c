/* libgda (private, lib/aws) — clock hooks and retry policy (see aws_retry.h). */
#include "aws_retry.h"

#include "clock.h"

#include <string.h>

#include <sodium.h>

void gda_aws_retry_policy_default(gda_aws_retry_policy *p)
{
    if (!p)
        return;
    p->max_attempts = 8;
    p->base_ms = 25;
    p->cap_ms = 2000;
}

int64_t gda_aws_backoff_ceiling_ms(const gda_aws_retry_policy *p, unsigned retry_index)
{
    if (!p || p->base_ms <= 0 || p->cap_ms <= 0)
        return 0;
    int64_t ceiling = p->base_ms;
    for (unsigned i = 0; i < retry_index; i++) {
        /* Doubling past the cap (or towards overflow) changes nothing. */
        if (ceiling >= p->cap_ms / 2) {
            ceiling = p->cap_ms;
            break;
        }
        ceiling *= 2;
    }
    return ceiling < p->cap_ms ? ceiling : p->cap_ms;
}

int64_t gda_aws_backoff_ms(const gda_aws_retry_policy *p, unsigned retry_index)
{
    int64_t ceiling = gda_aws_backoff_ceiling_ms(p, retry_index);
    if (ceiling <= 0)
        return 0;
    if (ceiling >= (int64_t)UINT32_MAX)
        ceiling = (int64_t)UINT32_MAX - 1;
    /* Inclusive upper bound: uniform over 0..ceiling. */
    return (int64_t)randombytes_uniform((uint32_t)ceiling + 1u);
}

bool gda_aws_error_is_throttling(const char *error_type)
{
    static const char *const throttling[] = {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
    };
    if (!error_type || !*error_type)
        return false;
    for (size_t i = 0; i < sizeof throttling / sizeof throttling[0]; i++) {
        if (strcmp(error_type, throttling[i]) == 0)
            return true;
    }
    return false;
}
