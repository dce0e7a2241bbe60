/* libgda (private, lib/util) — RFC 3339 UTC timestamps with milliseconds, "2026-11-24T10:00:00.123Z".
 *
 * The date comes from a day count by the civil-from-days algorithm rather
 * than gmtime_r: glibc's takes a process-wide lock on every call, which
 * every log line and response would contend on. Only instants with a
 * four-digit year are written: 1970-01-01T00:00:00.000Z to
 * 9999-12-31T23:59:59.999Z.
 *
 * Thread safety: pure functions.
 */
#ifndef GDA_UTIL_RFC3339_H
#define GDA_UTIL_RFC3339_H

#include <stdbool.h>
#include <stdint.h>

/* Characters of a timestamp, without the NUL. */
#define GDA_RFC3339_LEN 24

/* The latest instant written: 9999-12-31T23:59:59.999Z. */
#define GDA_RFC3339_MAX_MS INT64_C(253402300799999)

/* Write epoch_ms as a timestamp and a NUL to out. False (out set to "")
 * when epoch_ms is outside [0, GDA_RFC3339_MAX_MS]. */
bool gda_rfc3339_format_ms(int64_t epoch_ms, char out[GDA_RFC3339_LEN + 1]);

#endif /* GDA_UTIL_RFC3339_H */
