/* libgda (private) — the one sanctioned clock of the core.
 *
 * The core never reads the time on its own: modules take epoch milliseconds
 * as parameters or call an injectable hook. These are the default hooks, used
 * when a configuration leaves its clock unset; tests inject their own.
 *
 * Thread safety: both functions are reentrant; `user` is ignored.
 */
#ifndef GDA_CLOCK_H
#define GDA_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <gda/clock.h>

/* Wall clock (CLOCK_REALTIME) in epoch milliseconds: record expiry and
 * leases are compared across hosts, so a monotonic clock would not do. */
int64_t gda_clock_now_ms(void *user);

/* Monotonic clock (CLOCK_MONOTONIC) in nanoseconds, for measuring how long
 * something took: unlike the wall clock it never jumps, and it resolves the
 * sub-millisecond requests a replay serves. */
int64_t gda_clock_monotonic_ns(void);

/* Sleep for ms milliseconds (nothing for ms <= 0), resuming after signals. */
void gda_clock_sleep_ms(int64_t ms, void *user);

/* The time on c, or the system's when c or its hook is NULL. */
int64_t gda_clock_read(const gda_clock *c);

/* Wait ms on c, or with nanosleep when c or its hook is NULL. */
void gda_clock_wait(const gda_clock *c, int64_t ms);

/* True when c reads the system clock, so durations may be taken from the
 * monotonic clock instead. */
bool gda_clock_is_system(const gda_clock *c);

#endif /* GDA_CLOCK_H */
