/** @file
 * libgda — the injectable clock every component that reads the time takes.
 *
 * The engine, the app, the DynamoDB store and the environment configuration
 * never read the time on their own: they call the gda_clock they were
 * configured with. A zeroed gda_clock is the system's, so the defaults need
 * no call: now_ms NULL reads CLOCK_REALTIME (record expiry and leases are
 * compared across hosts, so a monotonic clock would not do) and sleep_ms
 * NULL is nanosleep, resumed after signals. Tests inject both, to move time
 * and to count or skip waits.
 *
 * Thread safety: the hooks are called from whichever thread serves a request
 * and must be callable from several threads at once.
 */
#ifndef GDA_PUBLIC_CLOCK_H
#define GDA_PUBLIC_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A clock: how to read the wall time and how to wait. */
typedef struct gda_clock {
    /** Wall time in epoch milliseconds; NULL: the system clock. */
    int64_t (*now_ms)(void *user);
    /** Block the calling thread for ms milliseconds (nothing for ms <= 0);
     * NULL: nanosleep. */
    void (*sleep_ms)(int64_t ms, void *user);
    /** Passed to both hooks (borrowed). */
    void *user;
} gda_clock;

#ifdef __cplusplus
}
#endif

#endif /* GDA_PUBLIC_CLOCK_H */
