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

static struct timespec span(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    return ts;
}

void gda_clock_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec left = span(ns);
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

static int64_t ms_to_ns(int64_t ms)
{
    return ms > INT64_MAX / 1000000 ? INT64_MAX : ms * 1000000;
}

void gda_clock_sleep_ms(int64_t ms, void *user)
{
    (void)user;
    gda_clock_sleep_ns(ms_to_ns(ms));
}

void gda_clock_nap_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = span(ms_to_ns(ms));
    nanosleep(&ts, NULL);
}

int64_t gda_clock_read(const gda_clock *c)
{
    return c && c->now_ms ? c->now_ms(c->user) : gda_clock_now_ms(NULL);
}

void gda_clock_wait(const gda_clock *c, int64_t ms)
{
    if (c && c->sleep_ms)
        c->sleep_ms(ms, c->user);
    else
        gda_clock_sleep_ms(ms, NULL);
}

bool gda_clock_is_system(const gda_clock *c) { return !c || !c->now_ms; }
