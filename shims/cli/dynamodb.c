/* gda dynamodb — DynamoDB helpers for local development: create the
 * idempotency table (on-demand, key schema, TTL on the expiry attribute). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifdef GDA_CLI_HAVE_DYNAMODB
#include <gda/store/dynamodb.h>
#endif

static void dynamodb_usage(FILE *out)
{
    fprintf(out,
            "usage: gda dynamodb create-table --table NAME [options]\n\n"
            "Creates the idempotency table (partition key of type S, on-demand billing),\n"
            "waits until it is ACTIVE and enables TTL on the expiry attribute. An existing\n"
            "table is kept. Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
            "AWS_SESSION_TOKEN; region: --region, AWS_REGION or AWS_DEFAULT_REGION.\n\n"
            "  --table NAME      table name (3-255 of A-Z a-z 0-9 _ - .)\n"
            "  --endpoint URL    e.g. http://127.0.0.1:8000 for a local server\n"
            "                    (default: $GDA_DYNAMODB_ENDPOINT, else AWS's)\n"
            "  --region REGION   overrides AWS_REGION\n"
            "  --key-attr NAME   partition key attribute (default requestId)\n"
            "  --ttl-attr NAME   TTL attribute, epoch seconds (default expiresAt)\n"
            "  --timeout SEC     give up after this long (default 60)\n"
            "  --help            this text\n");
}

int gda_cli_dynamodb(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        dynamodb_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? GDA_CLI_USAGE : GDA_CLI_OK;
    }
    if (strcmp(argv[1], "create-table") != 0) {
        fprintf(stderr, "gda dynamodb: unknown action \"%s\"\n", argv[1]);
        dynamodb_usage(stderr);
        return GDA_CLI_USAGE;
    }
    static const struct option longopts[] = {
        {"table", required_argument, NULL, 't'},   {"endpoint", required_argument, NULL, 'e'},
        {"region", required_argument, NULL, 'r'},  {"key-attr", required_argument, NULL, 'k'},
        {"ttl-attr", required_argument, NULL, 'x'}, {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *table = NULL, *endpoint = NULL, *region = NULL, *key_attr = NULL,
               *ttl_attr = NULL;
    int64_t timeout_s = 60;
    int c;
    optind = 1;
    /* argv[1] is the action; options follow it. */
    while ((c = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't': table = optarg; break;
        case 'e': endpoint = optarg; break;
        case 'r': region = optarg; break;
        case 'k': key_attr = optarg; break;
        case 'x': ttl_attr = optarg; break;
        case 'T':
            if (!gda_cli_parse_int("--timeout", optarg, 3600, &timeout_s) || timeout_s < 1)
                return GDA_CLI_USAGE;
            break;
        case 'h': dynamodb_usage(stdout); return GDA_CLI_OK;
        default: dynamodb_usage(stderr); return GDA_CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "gda dynamodb: unexpected argument \"%s\"\n", argv[optind + 1]);
        return GDA_CLI_USAGE;
    }
    if (!table) {
        fprintf(stderr, "gda dynamodb create-table: --table is required\n");
        return GDA_CLI_USAGE;
    }
#ifdef GDA_CLI_HAVE_DYNAMODB
    gda_dynamodb_options o;
    memset(&o, 0, sizeof o);
    o.table = table;
    o.endpoint = endpoint;
    o.region = region;
    o.attr_key = key_attr;
    o.attr_expires = ttl_attr;
    bool created = false, ttl = false;
    gda_error err;
    gda_error_clear(&err);
    gda_status st = gda_dynamodb_create_table(&o, gda_clock_now_ms(NULL) + timeout_s * 1000, &created,
                                              &ttl, &err);
    if (st != GDA_OK) {
        fprintf(stderr, "gda dynamodb create-table: %s\n", err.message);
        return GDA_CLI_USAGE;
    }
    printf("%s table %s\n", created ? "created" : "kept existing", table);
    if (ttl)
        printf("TTL enabled on %s\n", ttl_attr ? ttl_attr : "expiresAt");
    else
        printf("TTL not enabled: this server does not implement UpdateTimeToLive\n");
    return fflush(stdout) == 0 ? GDA_CLI_OK : GDA_CLI_USAGE;
#else
    (void)endpoint;
    (void)region;
    (void)key_attr;
    (void)ttl_attr;
    fprintf(stderr, "gda dynamodb: this gda was built without the DynamoDB store "
                    "(needs libcurl; meson option store_dynamodb)\n");
    return GDA_CLI_USAGE;
#endif
}
