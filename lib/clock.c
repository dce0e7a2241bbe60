/* libgda (private) — default clock hooks (see clock.h). */
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

void gda_clock_sleep_ms(int64_t ms, void *user)
{
    (void)user;
    if (ms <= 0)
        return;
    struct timespec left = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
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
