/* libgda — Lambda invocation events and HTTP requests/responses
 * (see include/gda/event.h). */
#include <gda/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gda_event_kind_str(gda_event_kind kind)
{
    switch (kind) {
    case GDA_EVENT_APIGW_REST: return "apigw-rest";
    case GDA_EVENT_APIGW_HTTP: return "apigw-http";
    case GDA_EVENT_ALB: return "alb";
    case GDA_EVENT_DIRECT: return "direct";
    case GDA_EVENT_HTTP: return "http";
    case GDA_EVENT_UNKNOWN: break;
    }
    return "unknown";
}

gda_slice gda_http_request_header(const gda_http_request *req, const char *name, bool *found)
{
    if (found)
        *found = false;
    if (!req || !name)
        return GDA_SLICE_NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (gda_slice_ieq(req->headers[i].name, name)) {
            if (found)
                *found = true;
            return req->headers[i].value;
        }
    }
    return GDA_SLICE_NULL;
}

size_t gda_http_request_header_count(const gda_http_request *req, const char *name)
{
    size_t n = 0;
    if (!req || !name)
        return 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (gda_slice_ieq(req->headers[i].name, name))
            n++;
    }
    return n;
}

static bool header_text_ok(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n >= cap)
        return false;
    return strpbrk(s, "\r\n") == NULL;
}

gda_status gda_http_response_set_header(gda_http_response *resp, const char *name,
                                        const char *value)
{
    if (!resp || !name || !value || !*name)
        return GDA_ERR_INVALID_REQUEST;
    if (!header_text_ok(name, GDA_RESPONSE_HEADER_NAME_SIZE) ||
        !header_text_ok(value, GDA_RESPONSE_HEADER_VALUE_SIZE) || strchr(name, ':'))
        return GDA_ERR_INVALID_REQUEST;
    size_t slot = resp->n_headers;
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (gda_slice_ieq(gda_slice_cstr(resp->headers[i].name), name)) {
            slot = i;
            break;
        }
    }
    if (slot == GDA_RESPONSE_MAX_HEADERS)
        return GDA_ERR_INVALID_REQUEST;
    snprintf(resp->headers[slot].name, sizeof resp->headers[slot].name, "%s", name);
    snprintf(resp->headers[slot].value, sizeof resp->headers[slot].value, "%s", value);
    if (slot == resp->n_headers)
        resp->n_headers++;
    return GDA_OK;
}

const char *gda_http_response_header(const gda_http_response *resp, const char *name)
{
    if (!resp || !name)
        return NULL;
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (gda_slice_ieq(gda_slice_cstr(resp->headers[i].name), name))
            return resp->headers[i].value;
    }
    return NULL;
}

void gda_http_response_release(gda_http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}
