/* gda — command-line tool for libgda: keys, signing and verification.
 *
 * Subcommands live in a dispatch table so that adding one is one line here
 * (plus its function in cli.h). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include <gda/init.h>

#include <curl/curl.h>

typedef struct command {
    const char *name;
    const char *summary;
    gda_cli_fn run;
} command;

static const command commands[] = {
    {"keygen", "make a key ring secret or an Ed25519 key pair", gda_cli_keygen},
    {"sign", "print the headers a caller must send for a body", gda_cli_sign},
    {"verify", "check a request (headers + body) like the endpoint would", gda_cli_verify},
    {"invoke", "send a signed request to a URL, function.zip or bootstrap, with retries", gda_cli_invoke},
    {"dynamodb", "create-table: the idempotency table for local development", gda_cli_dynamodb},
#ifdef GDA_CLI_HAVE_KMS
    {"datakey", "new, show: data keys from AWS KMS for encrypting cached results", gda_cli_datakey},
#endif
};

static void usage(FILE *out)
{
    fprintf(out, "usage: gda <command> [options]   (gda <command> --help for details)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit codes: 0 success / accepted, 1 refused (verify) or failed (invoke), 2 usage or configuration error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return GDA_CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return GDA_CLI_OK;
    }
    gda_error init_err;
    gda_error_clear(&init_err);
    if (gda_init(&init_err) != GDA_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "gda: %s\n",
                init_err.code ? init_err.message : "libcurl failed to initialise");
        return GDA_CLI_USAGE;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "gda: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return GDA_CLI_USAGE;
}
