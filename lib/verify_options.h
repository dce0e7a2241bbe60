/* libgda (private) — option parsing: the "name=value;…" text of
 * gda_verifier_new_from_config into gda_verifier_options.
 *
 * Thread safety: reentrant; no shared state.
 */
#ifndef GDA_VERIFY_OPTIONS_H
#define GDA_VERIFY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/slice.h>
#include <gda/status.h>
#include <gda/verify.h>

/* Read text ("name=value;name=value", NULL or "" for none; names in
 * gda/verify.h) over *opt, which holds the defaults of its scheme. The text
 * values of *opt then point into *storage, a heap copy of text that the
 * caller frees once done with *opt (also after a failure; NULL when the
 * copy failed). Errors: GDA_ERR_CONFIG naming the bad option, GDA_ERR_NOMEM. */
gda_status gda_verifier_options_parse(const char *text, gda_verifier_options *opt,
                                      char **storage, gda_error *err);

/* 1..max_digits decimal digits and nothing else; max_digits <= 18 keeps
 * the value inside int64_t. */
bool gda_parse_digits(gda_slice v, size_t max_digits, int64_t *out);

#endif /* GDA_VERIFY_OPTIONS_H */
