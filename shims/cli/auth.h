/* gda sign / verify / invoke — the authentication options they share, so
 * that what `sign` prints and `invoke` sends, `verify` accepts. */
#ifndef GDA_CLI_AUTH_H
#define GDA_CLI_AUTH_H

#include <getopt.h>

#include <gda/sign.h>

#include "cli.h"

#define GDA_CLI_MAX_BODY (6u * 1024 * 1024) /* Lambda's synchronous payload limit */
#define GDA_CLI_MAX_HEADERS 64

enum {
    OPT_SCHEME = 256, OPT_KEYS, OPT_KEYS_FILE, OPT_HEADER, OPT_TS_HEADER, OPT_NO_TS, OPT_WINDOW,
    OPT_LEEWAY, OPT_ALGS, OPT_ISS, OPT_AUD, OPT_NO_EXP, OPT_NOW, OPT_BODY_FILE, OPT_HELP,
    OPT_KEY_ID, OPT_SIGNING_KEY, OPT_SIGNING_KEY_FILE, OPT_TTL, OPT_SUBJECT, OPT_HEADERS_FILE,
    OPT_METHOD, OPT_PATH,
    OPT_FIRST_OWN /* a command's own options start here */
};

#define COMMON_OPTIONS                                                                  \
    {"scheme", required_argument, NULL, OPT_SCHEME},                                   \
    {"keys", required_argument, NULL, OPT_KEYS},                                       \
    {"keys-file", required_argument, NULL, OPT_KEYS_FILE},                             \
    {"header", required_argument, NULL, OPT_HEADER},                                   \
    {"timestamp-header", required_argument, NULL, OPT_TS_HEADER},                      \
    {"no-timestamp", no_argument, NULL, OPT_NO_TS},                                    \
    {"window", required_argument, NULL, OPT_WINDOW},                                   \
    {"leeway", required_argument, NULL, OPT_LEEWAY},                                   \
    {"algs", required_argument, NULL, OPT_ALGS},                                       \
    {"iss", required_argument, NULL, OPT_ISS},                                         \
    {"aud", required_argument, NULL, OPT_AUD},                                         \
    {"no-require-exp", no_argument, NULL, OPT_NO_EXP},                                 \
    {"now", required_argument, NULL, OPT_NOW},                                         \
    {"timestamp", required_argument, NULL, OPT_NOW},                                   \
    {"body-file", required_argument, NULL, OPT_BODY_FILE},                             \
    {"method", required_argument, NULL, OPT_METHOD},                                   \
    {"path", required_argument, NULL, OPT_PATH},                                       \
    {"help", no_argument, NULL, OPT_HELP}

/* What a signing command (sign, invoke) adds. */
#define SIGNING_OPTIONS                                                                 \
    {"key-id", required_argument, NULL, OPT_KEY_ID},                                   \
    {"signing-key", required_argument, NULL, OPT_SIGNING_KEY},                         \
    {"signing-key-file", required_argument, NULL, OPT_SIGNING_KEY_FILE},               \
    {"ttl", required_argument, NULL, OPT_TTL},                                         \
    {"subject", required_argument, NULL, OPT_SUBJECT}

/* -H 'Name: value', repeatable (verify: a request header; invoke: an extra one). */
#define HEADER_LINE_OPTION {"header-line", required_argument, NULL, 'H'}

extern const char gda_cli_common_help[];
extern const char gda_cli_signing_help[];

typedef struct auth_args {
    gda_verifier_options opt;
    bool scheme_set;
    const char *keys, *keys_file, *body_file;
    const char *method, *path; /* hmac signing string v1 */
    int64_t now_ms;
    /* signing */
    const char *key_id, *signing_key, *signing_key_file, *subject;
    int64_t ttl_s;
    /* -H lines */
    const char *header_lines[GDA_CLI_MAX_HEADERS];
    size_t n_header_lines;
} auth_args;

/* Defaults, and getopt restarted for a new command line. */
void gda_cli_auth_args_init(auth_args *a);

#define GDA_CLI_OPT_END (-1)  /* no more options */
#define GDA_CLI_OPT_HELP (-2) /* --help: usage printed on stdout, exit 0 */
#define GDA_CLI_OPT_BAD (-3)  /* message printed, exit 2 */

/* The next option of command `cmd` that is not one of the sets above (those
 * go into *a): its code, or one of GDA_CLI_OPT_*. An unknown option prints
 * usage on stderr. */
int gda_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                   const struct option *longopts, auth_args *a, void (*usage)(FILE *out));

/* The verifier the command works through, from the key ring options or the
 * endpoint's own variables. NULL (message printed) on error. */
gda_verifier *gda_cli_make_verifier(const char *cmd, const auth_args *a);

/* The body from --body-file, else stdin. */
bool gda_cli_read_body(const auth_args *a, char **body, size_t *len);

/* The headers a caller must send with body, as `gda sign` prints them.
 * False (message printed) on error; release *h in every case. */
bool gda_cli_sign_body(const char *cmd, const auth_args *a, gda_verifier *v, gda_slice body,
                       gda_signed_headers *h);

/* "Name: value" → header slices into `line` (which must outlive them). */
bool gda_cli_split_header(const char *line, size_t len, gda_header *h);

#endif /* GDA_CLI_AUTH_H */
