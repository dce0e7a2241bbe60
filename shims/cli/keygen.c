/* gda keygen — new key material in the key ring format. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static void keygen_usage(FILE *out)
{
    fprintf(out,
            "usage: gda keygen [--id ID] [--ed25519]\n\n"
            "Without --ed25519: prints one key ring entry, ID:BASE64 of 32 random bytes.\n"
            "  Put it in the endpoint's key ring (GDA_SECRETS, GDA_SECRETS_FILE or a secret) and paste\n"
            "  the BASE64 part into the Genesys credential.\n"
            "With --ed25519: prints two lines, for JWT EdDSA:\n"
            "  1. ID:ed25519-private:BASE64  the signing key (for gda sign --signing-key; keep secret)\n"
            "  2. ID:ed25519:BASE64          the public key ring entry for the verifier\n\n"
            "  --id ID     entry id, 1-64 of A-Z a-z 0-9 . _ - (default k1)\n"
            "  --ed25519   make an Ed25519 key pair instead of a shared secret\n"
            "  --help      this text\n");
}

int gda_cli_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"id", required_argument, NULL, 'i'},
        {"ed25519", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *id = NULL;
    bool ed25519 = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': id = optarg; break;
        case 'e': ed25519 = true; break;
        case 'h': keygen_usage(stdout); return GDA_CLI_OK;
        default: keygen_usage(stderr); return GDA_CLI_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "gda keygen: unexpected argument \"%s\"\n", argv[optind]);
        return GDA_CLI_USAGE;
    }
    gda_error err;
    gda_error_clear(&err);
    if (ed25519) {
        char *priv = NULL, *pub = NULL;
        if (gda_keygen_ed25519(id, &priv, &pub, &err) != GDA_OK) {
            fprintf(stderr, "gda keygen: %s\n", err.message);
            return GDA_CLI_USAGE;
        }
        printf("%s\n%s\n", priv, pub);
        gda_secret_free(priv);
        gda_secret_free(pub);
    } else {
        char *entry = NULL;
        if (gda_keygen_secret(id, &entry, &err) != GDA_OK) {
            fprintf(stderr, "gda keygen: %s\n", err.message);
            return GDA_CLI_USAGE;
        }
        printf("%s\n", entry);
        gda_secret_free(entry);
    }
    return fflush(stdout) == 0 ? GDA_CLI_OK : GDA_CLI_USAGE;
}
