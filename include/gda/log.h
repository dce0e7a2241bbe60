/** @file
 * libgda — structured logs and CloudWatch Embedded Metric Format metrics.
 *
 * Every record is one JSON object on one line, handed to a sink callback
 * together with its trailing newline. Log lines look like
 * @verbatim
 *   {"timestamp":"2026-11-24T10:00:00.123Z","level":"INFO","message":"handled",
 *    "requestId":"…","interactionId":"…","awsRequestId":"…","traceId":"…",
 *    "statusCode":200,"executionTimeMs":12.5,"outcome":"new", …extra fields}
 * @endverbatim
 *
 * and metric lines follow CloudWatch's Embedded Metric Format (EMF), so
 * CloudWatch Logs turns them into metrics without any agent or API call.
 *
 * Format: JSON is the only format emitted. AWS_LAMBDA_LOG_FORMAT=Text is
 * treated as JSON on purpose: EMF metrics must be JSON in any case, and
 * CloudWatch Logs (Insights, metric filters) parses JSON lines whichever
 * format the function is configured with, so a second format would add
 * code without adding anything a reader can use.
 *
 * Safety:
 *   - every value is JSON-escaped (exactly as jansson escapes it), so a
 *     message or value holding newlines or quotes cannot end a line or
 *     forge a field; bytes that are not valid UTF-8, and NUL, become U+FFFD
 *     instead of making the line invalid; strings longer than
 *     GDA_LOG_MAX_STRING bytes are cut;
 *   - extra fields named like a PII field (see gda_log_config) are masked
 *     (a "+" and 11 to 15 digits keeps its last 4, anything else is "***"),
 *     at any depth; extra fields cannot override the standard fields or add
 *     an "_aws" member (which would forge EMF metrics): such members are
 *     dropped;
 *   - there is deliberately no call that logs request headers: credentials
 *     travel in headers, so only derived facts (key id, failure class) are
 *     loggable, through gda_log_fields.
 *   Messages themselves are not redacted: pass fixed text and put variable
 *   data in fields, where redaction applies.
 *
 * No clock reads: every call takes the time as epoch milliseconds.
 *
 * Thread safety: a gda_logger may be shared by any number of threads once
 * gda_logger_new has returned; gda_log, gda_metrics_emit* and
 * gda_logger_set_level may run concurrently. The logger serializes calls to
 * its sink (one mutex held only around the sink call, lines are built
 * outside it), so a sink never runs concurrently with itself for one logger
 * and need not be thread-safe. gda_logger_free must not race with any other
 * call on the same logger.
 */
#ifndef GDA_LOG_H
#define GDA_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <gda/export.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque logger: formats lines and hands them to a sink (gda_logger_new). */
typedef struct gda_logger gda_logger;

/** Longest string (message or extra value), in bytes, written as is; longer
 * ones are cut at a character boundary and end with "…". */
#define GDA_LOG_MAX_STRING 8192

/** Extra fields nested deeper than this are replaced by "[too deep]". */
#define GDA_LOG_MAX_DEPTH 32

/** CloudWatch limits that gda_logger_new and gda_metrics_emit enforce. */
#define GDA_METRICS_MAX_NAMESPACE 255 /**< bytes of a namespace */
#define GDA_METRICS_MAX_DIMENSION 1024 /**< bytes of the Service dimension value */
#define GDA_METRICS_MAX_NAME 255       /**< bytes of a metric name */
#define GDA_METRICS_MAX_PER_LINE 100   /**< metrics in one EMF directive */

/** Severity of a log line, as written in its "level" member. */
typedef enum gda_log_level {
    GDA_LOG_DEBUG = 0, /**< "DEBUG": detail for development */
    GDA_LOG_INFO = 1,  /**< "INFO": one line per request */
    GDA_LOG_WARN = 2,  /**< "WARN": refused or degraded requests */
    GDA_LOG_ERROR = 3  /**< "ERROR": failures that need attention */
} gda_log_level;

/** Parse a level name as AWS_LAMBDA_LOG_LEVEL spells them, ignoring case:
 * "DEBUG", "INFO", "WARN" (also "WARNING"), "ERROR", plus "TRACE" → debug
 * and "FATAL" → error, because Lambda accepts those two and we have no
 * finer or coarser level. Leading/trailing blanks are not accepted.
 * Errors: GDA_ERR_CONFIG for NULL or an unknown name (*out untouched). */
GDA_API gda_status gda_log_level_parse(const char *text, gda_log_level *out, gda_error *err);

/** "DEBUG", "INFO", "WARN" or "ERROR", as written in the "level" member.
 * Never NULL; an out-of-range value gives "unknown". */
GDA_API const char *gda_log_level_str(gda_log_level level);

/** Receives one complete record: len bytes of JSON followed by `'\n'` (the `'\n'`
 * is counted in len; line[len] is `'\0'`). The buffer is only valid during the
 * call. */
typedef void (*gda_log_sink_fn)(const char *line, size_t len, void *user);

/** True when an extra field of this name holds PII and must be masked.
 * Called from every logging thread at once, outside the sink lock, so it must
 * be thread-safe (a pure function of name is). */
typedef bool (*gda_log_pii_fn)(const char *name, void *user);

/** Logger settings; start from gda_log_config_default. */
typedef struct gda_log_config {
    gda_log_level level;         /**< lines below this level are dropped */
    gda_log_sink_fn sink;        /**< NULL: gda_log_sink_stdout */
    void *sink_user;             /**< passed to sink; must outlive the logger */

    /** PII field names (copied; compared ignoring ASCII case, so "CallerId"
     * matches "callerId"), and/or a predicate consulted for every extra
     * member name. A name is PII if either says so. The request module's
     * field spec knows which fields are PII; pass their names here. */
    const char *const *pii_fields;
    size_t pii_field_count;      /**< entries in pii_fields */
    gda_log_pii_fn is_pii;       /**< optional PII predicate; NULL: names only */
    void *is_pii_user;           /**< passed to is_pii; must outlive the logger */

    bool metrics_enabled;          /**< false: gda_metrics_emit* write nothing */
    const char *metrics_namespace; /**< CloudWatch namespace (copied); NULL: "libgda" */
    const char *service;           /**< "Service" dimension value (copied); NULL: "libgda" */
} gda_log_config;

/** Level INFO, stdout sink, no PII names, metrics on, namespace and service
 * "libgda". */
GDA_API gda_log_config gda_log_config_default(void);

/** Build a logger from cfg (NULL: the defaults). Everything in cfg is copied
 * except sink_user and is_pii_user, which must outlive the logger.
 * Errors: GDA_ERR_CONFIG (level out of range, a NULL entry in pii_fields,
 * pii_fields NULL with a count, an empty or too long namespace or service,
 * naming the setting in err->field), GDA_ERR_NOMEM. Returns NULL on error. */
GDA_API gda_logger *gda_logger_new(const gda_log_config *cfg, gda_error *err);

/** Free the logger. NULL-safe. */
GDA_API void gda_logger_free(gda_logger *lg);

/** Current level; may be changed at any time from any thread. A NULL logger
 * reads as GDA_LOG_ERROR and set_level on it does nothing. */
GDA_API gda_log_level gda_logger_level(const gda_logger *lg);
/** Change the level (see gda_logger_level); does nothing on a NULL logger. */
GDA_API void gda_logger_set_level(gda_logger *lg, gda_log_level level);

/** True when a line at this level would be written, so callers can skip
 * building extra fields that would be dropped. False for a NULL logger. */
GDA_API bool gda_logger_enabled(const gda_logger *lg, gda_log_level level);

/** Idempotency outcome of a request, as logged in "outcome". */
typedef enum gda_log_outcome {
    GDA_LOG_OUTCOME_UNSET = 0,   /**< member omitted */
    GDA_LOG_OUTCOME_NONE,        /**< "none": rejected before idempotency ran */
    GDA_LOG_OUTCOME_NEW,         /**< "new": the handler ran */
    GDA_LOG_OUTCOME_REPLAY,      /**< "replay": cached result returned */
    GDA_LOG_OUTCOME_IN_PROGRESS, /**< "in_progress": a twin was still running */
    GDA_LOG_OUTCOME_MISMATCH,    /**< "mismatch": same key, other payload */
    GDA_LOG_OUTCOME_CONFLICT     /**< "conflict": same key, another principal's record */
} gda_log_outcome;

/** "none", "new", "replay", "in_progress", "mismatch", "conflict"; "unset"
 * for UNSET (a log line then omits the member) and "unknown" for an
 * out-of-range value. Never NULL. */
GDA_API const char *gda_log_outcome_str(gda_log_outcome outcome);

/** The per-request fields. Zero-initialize ({0}) and fill what is known once
 * per request; a zero/NULL member is omitted from the line. Strings are
 * borrowed for the duration of the call. None of these may hold PII or
 * secrets: they are written unmasked. */
typedef struct gda_log_fields {
    const char *request_id;     /**< "requestId": the Genesys request id / idempotency key */
    const char *interaction_id; /**< "interactionId": the Genesys conversation */
    const char *aws_request_id; /**< "awsRequestId": the Lambda invocation */
    const char *trace_id;       /**< "traceId": X-Ray / X-Amzn-Trace-Id */
    int status_code;            /**< "statusCode": HTTP status sent; 0 omits it */
    bool has_execution_time;    /**< false omits "executionTimeMs" */
    double execution_time_ms;   /**< "executionTimeMs" */
    gda_log_outcome outcome;    /**< "outcome"; UNSET omits it */
    const char *error_code;     /**< "errorCode", e.g. gda_status_str(code) */
    const char *error_field;    /**< "errorField": the input field the error names */
    const char *error_message;  /**< "errorMessage": the message the caller got
                                 * (messages never hold values or PII) */
    const char *auth_failure;   /**< "authFailure": the failure class, never the credential */
    const char *key_id;         /**< "keyId": which key ring entry matched or was tried */
    /** "leaseLost":true — the handler ran past its lease and another
     * execution of the same key took over, so its result was not cached:
     * the one way a handler can run twice (docs/architecture.md). */
    bool lease_lost;
    /** "dataKeyMissing":true — the key's cached result was sealed under a
     * data key no longer in the ring, so it was treated as absent and the
     * handler ran again (docs/operations.md, "Rotating the data key"). */
    bool data_key_missing;
} gda_log_fields;

/** Write one log line if level is enabled. fields and extra may be NULL.
 * extra (borrowed, not modified) must be a JSON object; its members are
 * appended after the standard ones, PII-masked, with reserved names dropped.
 * message NULL is written as "". now_ms is the event time (epoch ms, from
 * 0 to year 9999).
 * Returns GDA_OK also when the level filtered the line out.
 * Errors: GDA_ERR_INTERNAL (NULL logger, extra not an object, level or
 * now_ms out of range), GDA_ERR_NOMEM (nothing was written). */
GDA_API gda_status gda_log(gda_logger *lg, gda_log_level level, int64_t now_ms,
                           const gda_log_fields *fields, const json_t *extra,
                           const char *message, gda_error *err);

/** gda_log with a printf-style message (formatted only when the level is
 * enabled). Same errors. Do not format PII or secrets into it. */
GDA_API gda_status gda_logf(gda_logger *lg, gda_log_level level, int64_t now_ms,
                            const gda_log_fields *fields, const json_t *extra, gda_error *err,
                            const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;


/** The default sink: writes the line to standard output (fd 1) with one
 * write(2) per line, retrying only on EINTR and short writes, so lines from
 * concurrent writers stay whole. Write errors are ignored: a logger has
 * nowhere to report them. The only function of the core that does I/O. */
GDA_API void gda_log_sink_stdout(const char *line, size_t len, void *user);

/* ---- Metrics (CloudWatch Embedded Metric Format) ---------------------- */

/** The units CloudWatch accepts that this library uses. */
typedef enum gda_metric_unit {
    GDA_METRIC_NONE = 0,    /**< "None" */
    GDA_METRIC_COUNT,       /**< "Count" */
    GDA_METRIC_MILLISECONDS, /**< "Milliseconds" */
    GDA_METRIC_MICROSECONDS, /**< "Microseconds" */
    GDA_METRIC_SECONDS,     /**< "Seconds" */
    GDA_METRIC_BYTES,       /**< "Bytes" */
    GDA_METRIC_PERCENT      /**< "Percent" */
} gda_metric_unit;

/** CloudWatch's name of a unit; "unknown" for an out-of-range value (which
 * gda_metrics_emit refuses). Never NULL. */
GDA_API const char *gda_metric_unit_str(gda_metric_unit unit);

/** One metric value for gda_metrics_emit. */
typedef struct gda_metric {
    const char *name; /**< e.g. "Latency"; borrowed */
    gda_metric_unit unit; /**< its CloudWatch unit */
    double value;     /**< finite */
} gda_metric;

/** Names of the metrics gda_app writes for every request (one EMF line each;
 * docs/operations.md lists them). */
#define GDA_METRIC_LATENCY "Latency"                       /**< Milliseconds */
#define GDA_METRIC_REQUESTS "Requests"                     /**< Count */
#define GDA_METRIC_REPLAYS "Replays"                       /**< Count */
#define GDA_METRIC_AUTH_FAILURES "AuthFailures"            /**< Count */
#define GDA_METRIC_STORE_ERRORS "StoreErrors"              /**< Count */
#define GDA_METRIC_IN_PROGRESS_CONFLICTS "InProgressConflicts" /**< Count */
#define GDA_METRIC_ERRORS_4XX "Errors4xx"                  /**< Count */
#define GDA_METRIC_ERRORS_5XX "Errors5xx"                  /**< Count */
#define GDA_METRIC_LEASE_LOST "LeaseLost"                  /**< Count */
#define GDA_METRIC_DATA_KEY_MISSING "DataKeyMissing"       /**< Count */

/** Write one EMF line carrying n metrics (1..GDA_METRICS_MAX_PER_LINE) in the
 * logger's namespace with the dimension set [["Service"]]:
 * @verbatim
 *   {"_aws":{"Timestamp":now_ms,"CloudWatchMetrics":[{"Namespace":"…",
 *    "Dimensions":[["Service"]],"Metrics":[{"Name":"…","Unit":"…"},…]}]},
 *    "Service":"…","<Name>":value,…}
 * @endverbatim
 * Written whatever the log level; nothing is written (GDA_OK) when metrics
 * are disabled. Integral values are written as JSON integers.
 * Errors: GDA_ERR_INTERNAL (NULL logger, metrics NULL or n out of range, a
 * name NULL, empty, too long, duplicated, or "Service"/"_aws"; a unit out of
 * range; a value NaN or infinite; now_ms out of range), GDA_ERR_NOMEM. */
GDA_API gda_status gda_metrics_emit(gda_logger *lg, const gda_metric *metrics, size_t n,
                                    int64_t now_ms, gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_LOG_H */
