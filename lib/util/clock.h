/* libgda (private, lib/util) — the one set of clocks: wall and monotonic time, and sleeping.
 *
 * The core never reads the time on its own: modules take epoch milliseconds
 * as parameters or call an injectable hook. These are the default hooks, used
 * when a configuration leaves its clock unset (tests inject their own), and
 * the clocks the stores, the AWS client and the shims read directly.
 *
 * Thread safety: every function is reentrant; `user` is ignored.
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

/* The monotonic clock in milliseconds, for deadlines and latencies. */
int64_t gda_clock_monotonic_ms(void);

/* Sleep for ms milliseconds (nothing for ms <= 0), resuming after signals. */
void gda_clock_sleep_ms(int64_t ms, void *user);

/* The time on c, or the system's when c or its hook is NULL. */
int64_t gda_clock_read(const gda_clock *c);

/* Wait ms on c, or with nanosleep when c or its hook is NULL. */
void gda_clock_wait(const gda_clock *c, int64_t ms);

/* True when c reads the system clock, so durations may be taken from the
 * monotonic clock instead. */
bool gda_clock_is_system(const gda_clock *c);

/* Sleep for ns nanoseconds (nothing for ns <= 0), resuming after signals. */
void gda_clock_sleep_ns(int64_t ns);

/* Sleep for up to ms milliseconds (nothing for ms <= 0); a signal ends the
 * sleep early, for loops that must notice a SIGTERM at once. */
void gda_clock_nap_ms(int64_t ms);

#endif /* GDA_CLOCK_H */
