/* libgda (private, lib/util) — wall and monotonic clocks, sleeping (see clock.h). */
#include "clock.h"

#include <errno.h>
#include <time.h>

int64_t gda_clock_now_ms(void *user)
{
    (void)user;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gda_clock_monotonic_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gda_clock_monotonic_ms(void)
{
    return gda_clock_monotonic_ns() / 1000000;
}

static struct timespec span(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    return ts;
}

void gda_clock_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec left = {.tv_sec = (time_t)(ns / 1000000000),
                            .tv_nsec = (long)(ns % 1000000000)};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

void gda_clock_sleep_ms(int64_t ms, void *user)
{
    (void)user;
    if (ms <= 0)
        return;
    struct timespec left = span(ms);
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

void gda_clock_nap_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = span(ms);
    nanosleep(&ts, NULL);
}
