/* libgda (private) — what an error response tells the caller, decided once
 * for both the body and gda_app's log line, so the log says exactly what
 * the caller got without parsing the body that was just built.
 */
#ifndef GDA_LIB_RESPONSE_INTERNAL_H
#define GDA_LIB_RESPONSE_INTERNAL_H

#include <gda/event.h>
#include <gda/status.h>

/* Fill *sent with what gda_response_error sends for *error: its code, and
 * its message and field, or for 401 and every 5xx the fixed text and no
 * field (they must not hint which part of a credential failed, or describe
 * internals); a message or field that is not valid UTF-8 gives the fixed
 * text, or no field, and one cut inside a character loses that character.
 * False (sent cleared) for a code that is not an error. */
bool gda_response_error_sent(const gda_error *error, gda_error *sent);

/* gda_response_error for what gda_response_error_sent filled, so a caller
 * that keeps it (the app, for its log line) decides it once. out must not
 * be NULL; errors as gda_response_error's GDA_ERR_NOMEM. */
gda_status gda_response_error_of_sent(gda_http_response *out, const gda_error *sent,
                                      const char *request_id, int retry_after_s, gda_error *err);

#endif
