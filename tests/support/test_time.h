/* libgda tests — the monotonic clock and a sleep for test programs and test
 * handlers.
 *
 * Thread safety: reentrant.
 */
#ifndef GDA_TEST_TIME_H
#define GDA_TEST_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: for deadlines and elapsed times. */
int64_t test_mono_ms(void);

/* Sleeps ms milliseconds, resuming after signals. */
void test_sleep_ms(int64_t ms);

#endif
