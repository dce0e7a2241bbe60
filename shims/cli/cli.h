/* gda — the command-line tool: shared declarations.
 *
 * Each subcommand is one function with the signature of gda_cli_fn, listed in
 * the dispatch table in main.c. Exit codes every subcommand keeps, so scripts
 * can rely on them:
 *   0  success (verify: the request is accepted; invoke: the final attempt got 2xx)
 *   1  refused (verify: the reason class is printed on stderr; invoke: a non-2xx
 *      answer, or none)
 *   2  usage, configuration or I/O error (message on stderr)
 */
#ifndef GDA_CLI_H
#define GDA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gda/verify.h>

/* The tool, unlike the library, may read the clock: gda_clock_now_ms,
 * gda_clock_monotonic_ms, gda_clock_sleep_ms. */
#include "clock.h"

#define GDA_CLI_OK 0
#define GDA_CLI_REFUSED 1
#define GDA_CLI_USAGE 2

/* argv[0] is the subcommand name. Returns one of the exit codes above. */
typedef int (*gda_cli_fn)(int argc, char **argv);

int gda_cli_keygen(int argc, char **argv);
int gda_cli_sign(int argc, char **argv);
int gda_cli_verify(int argc, char **argv);
int gda_cli_dynamodb(int argc, char **argv);
int gda_cli_invoke(int argc, char **argv);
int gda_cli_datakey(int argc, char **argv); /* built with lib/aws (GDA_CLI_HAVE_KMS) */

/* Read all of `f` (at most max bytes) into a new heap buffer, NUL-terminated.
 * Returns false (with a message on stderr naming `what`) on I/O errors or
 * when the input is larger than max. */
bool gda_cli_read_stream(FILE *f, size_t max, const char *what, char **out, size_t *len);

/* Same for a path ("-" is stdin). */
bool gda_cli_read_file(const char *path, size_t max, const char *what, char **out, size_t *len);

/* Wipe and free a buffer that held secret text. NULL-safe. */
void gda_cli_wipe(char *buf, size_t len);

/* Parse a non-negative decimal integer option; false with a message when bad. */
bool gda_cli_parse_int(const char *opt, const char *text, int64_t max, int64_t *out);

#endif /* GDA_CLI_H */
