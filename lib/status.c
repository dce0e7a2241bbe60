/* libgda — status codes and error reports (see include/gda/status.h). */
#include <gda/status.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct status_info {
    gda_status code;
    int http;
    const char *name;
} status_info;

static const status_info status_table[] = {
    {GDA_OK, 200, "ok"},
    {GDA_ACCEPTED, 202, "accepted"},
    {GDA_ERR_INVALID_REQUEST, 400, "invalid_request"},
    {GDA_ERR_INVALID_JSON, 400, "invalid_json"},
    {GDA_ERR_INVALID_FIELD, 400, "invalid_field"},
    {GDA_ERR_UNKNOWN_EVENT, 400, "unknown_event"},
    {GDA_ERR_UNAUTHORIZED, 401, "unauthorized"},
    {GDA_ERR_FORBIDDEN, 403, "forbidden"},
    {GDA_ERR_NOT_FOUND, 404, "not_found"},
    {GDA_ERR_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
    {GDA_ERR_IN_PROGRESS, 409, "in_progress"},
    {GDA_ERR_PAYLOAD_TOO_LARGE, 413, "payload_too_large"},
    {GDA_ERR_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type"},
    {GDA_ERR_PAYLOAD_MISMATCH, 422, "idempotency_key_reused"},
    {GDA_ERR_UNPROCESSABLE, 422, "unprocessable"},
    {GDA_ERR_RATE_LIMITED, 429, "rate_limited"},
    {GDA_ERR_KEY_CONFLICT, 409, "idempotency_key_conflict"},
    {GDA_ERR_LEASE_LOST, 409, "lease_lost"},
    {GDA_ERR_RESULT_TOO_LARGE, 422, "result_too_large"},
    {GDA_ERR_INTERNAL, 500, "internal_error"},
    {GDA_ERR_NOMEM, 500, "out_of_memory"},
    {GDA_ERR_CONFIG, 500, "configuration_error"},
    {GDA_ERR_INTEGRITY, 500, "integrity_error"},
    {GDA_ERR_UNAVAILABLE, 503, "service_unavailable"},
    {GDA_ERR_STORE, 503, "store_unavailable"},
    {GDA_ERR_BUSY, 503, "in_progress_retry"},
    {GDA_ERR_TIMEOUT, 504, "timeout"},
};

static const status_info *status_lookup(gda_status code)
{
    for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++) {
        if (status_table[i].code == code)
            return &status_table[i];
    }
    return NULL;
}

const char *gda_status_str(gda_status code)
{
    const status_info *info = status_lookup(code);
    return info ? info->name : "unknown";
}

bool gda_status_known(gda_status code) { return status_lookup(code) != NULL; }

int gda_status_http(gda_status code)
{
    const status_info *info = status_lookup(code);
    /* An unknown code is a bug somewhere; report it as a server error so the
     * caller retries rather than silently accepting. */
    return info ? info->http : 500;
}

bool gda_status_retryable(gda_status code)
{
    return gda_status_http(code) >= 500;
}

gda_status gda_error_set(gda_error *err, gda_status code, const char *field, const char *fmt,
                         ...)
{
    if (!err)
        return code;
    err->code = code;
    err->field[0] = '\0';
    if (field)
        snprintf(err->field, sizeof err->field, "%s", field);
    err->message[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void gda_error_clear(gda_error *err)
{
    if (!err)
        return;
    err->code = GDA_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}
