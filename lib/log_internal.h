/* libgda (private) — the request metrics line gda_app writes after the log line.
 *
 * Thread safety: as gda_metrics_emit (any thread, the logger is shared).
 */
#ifndef GDA_LOG_INTERNAL_H
#define GDA_LOG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <gda/log.h>

/* The per-request metrics, from the same fields the request's log line uses:
 * Requests 1; Latency = executionTimeMs (omitted when not set); Replays 1 when
 * outcome is replay; InProgressConflicts 1 when outcome is in_progress;
 * AuthFailures 1 when auth_failure is set; StoreErrors 1 when store_error;
 * Errors4xx / Errors5xx 1 when status_code is in that class; LeaseLost 1
 * when lease_lost; DataKeyMissing 1 when data_key_missing. Zeros are
 * written too so Sum/SampleCount statistics stay meaningful.
 * Errors: as gda_metrics_emit; fields NULL is GDA_ERR_INTERNAL. */
gda_status gda_metrics_emit_request(gda_logger *lg, const gda_log_fields *fields,
                                    bool store_error, int64_t now_ms, gda_error *err);

#endif /* GDA_LOG_INTERNAL_H */
