/* libgda (private) — the request parse in two steps, for the pipeline.
 *
 * gda_app refuses an oversized or mistyped body (413/415) before it spends
 * anything on authentication, then parses once: the envelope is checked once
 * and what the check learnt (resolved limits, a direct event that cannot be
 * measured) is carried to the parse instead of being worked out again.
 *
 * Thread safety: pure functions over their arguments.
 */
#ifndef GDA_REQUEST_INTERNAL_H
#define GDA_REQUEST_INTERNAL_H

#include <stdbool.h>

#include <gda/request.h>

/* The outcome of a successful envelope check. */
typedef struct gda_envelope {
    gda_limits limits;  /* resolved: no zeros left */
    bool unmeasurable;  /* a direct event's JSON cannot be serialised */
    bool checked;       /* set by a successful gda_request_check_envelope */
} gda_envelope;

/* Steps 1 and 2 of gda_request_parse (body size, then Content-Type), with
 * its rules, codes and messages, parsing nothing. limits may be NULL
 * (defaults); a negative max_depth is GDA_ERR_CONFIG. Errors:
 * GDA_ERR_PAYLOAD_TOO_LARGE, GDA_ERR_UNSUPPORTED_MEDIA_TYPE, GDA_ERR_CONFIG,
 * GDA_ERR_INTERNAL (http or env NULL, or a body slice with a NULL pointer
 * and a non-zero length). */
gda_status gda_request_check_envelope(const gda_http_request *http, const gda_limits *limits,
                                      gda_envelope *env, gda_error *err);

/* The rest of gda_request_parse, for a request whose envelope env says was
 * checked (GDA_ERR_INTERNAL otherwise). */
gda_status gda_request_parse_enveloped(const gda_spec *spec, const gda_http_request *http,
                                       const gda_envelope *env, gda_request **out,
                                       gda_error *err);

#endif /* GDA_REQUEST_INTERNAL_H */
