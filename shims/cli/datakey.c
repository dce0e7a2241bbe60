/* gda datakey — data keys from AWS KMS for encrypting cached results.
 *
 * A data-key ring has the key ring's shape, id:BASE64[,id:BASE64...], but
 * each value is a KMS CiphertextBlob bound to the encryption context
 * {"libgda":"data-key","keyId":ID}: the ring may sit in plain configuration,
 * only a principal allowed to Decrypt under the KMS key can use it. The
 * first entry encrypts new records; the others still decrypt old ones. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <gda/idempotency.h>
#include <gda/slice.h>

#include "aws_credentials.h"
#include "base64.h"
#include "cli.h"
#include "kms.h"

#define RING_MAX_BYTES (64 * 1024)
#define ID_MAX GDA_IDEM_DATA_KEY_ID_MAX

static void datakey_usage(FILE *out)
{
    fprintf(out,
            "usage: gda datakey new --kms-key ARN [--id ID | --hash-key] [--endpoint URL] [--region R]\n"
            "       gda datakey show [RING | --ring-file F]\n\n"
            "  new   asks KMS for a data key (GenerateDataKey, AES_256) and prints one ring\n"
            "        entry ID:BASE64(CiphertextBlob); the plaintext key never leaves the process\n"
            "  show  lists the ids of a data-key ring without decrypting anything\n\n"
            "gda datakey new --help and gda datakey show --help for details.\n");
}

static void new_usage(FILE *out)
{
    fprintf(out,
            "usage: gda datakey new --kms-key ARN [--id ID | --hash-key] [--endpoint URL] [--region R]\n\n"
            "Prints one data-key ring entry, ID:BASE64 of the KMS CiphertextBlob of a new\n"
            "256-bit data key bound to the encryption context {\"libgda\":\"data-key\",\"keyId\":ID}.\n"
            "Put it first in the ring to encrypt new records with it. Credentials:\n"
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.\n\n"
            "  --kms-key ARN    the KMS key (key ARN or alias/NAME)\n"
            "  --id ID          entry id, 1-32 of A-Z a-z 0-9 . _ - (default d + today's UTC\n"
            "                   date, e.g. d20261124)\n"
            "  --hash-key       instead, the payload hash key (GDA_HASH_KEY with\n"
            "                   GDA_DATA_KEY_SOURCE=kms): prints BASE64 of its CiphertextBlob,\n"
            "                   bound to {\"libgda\":\"hash-key\"}; make it once, it never rotates\n"
            "  --endpoint URL   KMS endpoint, e.g. a VPC endpoint (default: $GDA_KMS_ENDPOINT,\n"
            "                   else https://kms.REGION.amazonaws.com)\n"
            "  --region R       overrides AWS_REGION / AWS_DEFAULT_REGION\n"
            "  --help           this text\n");
}

static void show_usage(FILE *out)
{
    fprintf(out,
            "usage: gda datakey show [RING | --ring-file F]\n\n"
            "Lists the entries of a data-key ring id:BASE64[,id:BASE64...] (from the\n"
            "argument, the file F, \"-\" or no argument: stdin), one per line: id, blob size,\n"
            "and which entry encrypts new records (the first). Nothing is decrypted and no\n"
            "blob is printed. A malformed entry is refused (exit 2) by its position.\n\n"
            "  --ring-file F    read the ring from F (\"-\": stdin)\n"
            "  --help           this text\n");
}

static bool valid_id(const char *id, size_t len)
{
    return gda_slice_is_id(gda_slice_make(id, len), ID_MAX);
}

static int datakey_new(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kms-key", required_argument, NULL, 'k'}, {"id", required_argument, NULL, 'i'},
        {"endpoint", required_argument, NULL, 'e'}, {"region", required_argument, NULL, 'r'},
        {"hash-key", no_argument, NULL, 'H'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *kms_key = NULL, *id = NULL, *endpoint = NULL, *region = NULL;
    bool hash_key = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': kms_key = optarg; break;
        case 'i': id = optarg; break;
        case 'e': endpoint = optarg; break;
        case 'r': region = optarg; break;
        case 'H': hash_key = true; break;
        case 'h': new_usage(stdout); return GDA_CLI_OK;
        default: new_usage(stderr); return GDA_CLI_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "gda datakey new: unexpected argument \"%s\"\n", argv[optind]);
        return GDA_CLI_USAGE;
    }
    if (!kms_key || !*kms_key) {
        fprintf(stderr, "gda datakey new: --kms-key is required (a key ARN or alias/NAME)\n");
        return GDA_CLI_USAGE;
    }
    if (hash_key && id) {
        fprintf(stderr, "gda datakey new: --hash-key has no id (it is not a ring entry)\n");
        return GDA_CLI_USAGE;
    }
    char default_id[16];
    if (!id && !hash_key) {
        time_t now = time(NULL);
        struct tm utc;
        if (!gmtime_r(&now, &utc) || strftime(default_id, sizeof default_id, "d%Y%m%d", &utc) == 0)
            return GDA_CLI_USAGE;
        id = default_id;
    }
    if (!hash_key && !valid_id(id, strlen(id))) {
        fprintf(stderr, "gda datakey new: --id must be 1-32 characters of A-Z a-z 0-9 . _ -\n");
        return GDA_CLI_USAGE;
    }
    if (!endpoint)
        endpoint = getenv("GDA_KMS_ENDPOINT");
    if (!region)
        region = gda_aws_region_from_env();

    gda_error err;
    gda_error_clear(&err);
    gda_aws_credentials *creds = NULL;
    gda_kms *kms = NULL;
    if (gda_aws_credentials_from_env(&creds, &err) != GDA_OK ||
        gda_kms_new(region, endpoint, creds, 10000, &kms, &err) != GDA_OK) {
        gda_aws_credentials_free(creds);
        fprintf(stderr, "gda datakey new: %s\n", err.message);
        return GDA_CLI_USAGE;
    }
    /* Locked, guarded memory, wiped by sodium_free right after the call:
     * the plaintext is not needed here, only KMS's ciphertext of it. */
    uint8_t *plain = sodium_malloc(GDA_KMS_DATA_KEY_BYTES);
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    gda_kms_context_pair ctx[GDA_KMS_DATA_KEY_CONTEXT_PAIRS];
    size_t n_ctx = hash_key ? GDA_KMS_HASH_KEY_CONTEXT_PAIRS : GDA_KMS_DATA_KEY_CONTEXT_PAIRS;
    if (hash_key)
        gda_kms_hash_key_context(ctx);
    else
        gda_kms_data_key_context(id, ctx);
    gda_status st = plain ? gda_kms_generate_data_key(kms, kms_key, ctx, n_ctx, 0, plain, &blob,
                                                      &blob_len, &err)
                          : gda_error_set(&err, GDA_ERR_NOMEM, NULL, "out of secure memory");
    sodium_free(plain);
    gda_kms_free(kms);
    if (st != GDA_OK) {
        fprintf(stderr, "gda datakey new: %s\n", err.message);
        return GDA_CLI_USAGE;
    }
    char *b64 = gda_base64_encode_alloc(blob, blob_len, GDA_BASE64_STANDARD);
    if (!b64) {
        free(blob);
        fprintf(stderr, "gda datakey new: out of memory\n");
        return GDA_CLI_USAGE;
    }
    if (hash_key)
        printf("%s\n", b64);
    else
        printf("%s:%s\n", id, b64);
    free(b64);
    free(blob);
    return fflush(stdout) == 0 ? GDA_CLI_OK : GDA_CLI_USAGE;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

typedef struct ring_entry {
    const char *id;
    size_t id_len;
    size_t blob_len;
} ring_entry;

/* Entry pos of the ring, p[0..len) before trimming; the refusal goes to
 * stderr by position (the value may be anything pasted there). */
static bool parse_entry(const char *p, size_t len, size_t pos, ring_entry *out, uint8_t *scratch)
{
    while (len && is_space(*p)) {
        p++;
        len--;
    }
    while (len && is_space(p[len - 1]))
        len--;
    const char *colon = len ? memchr(p, ':', len) : NULL;
    const char *why = NULL;
    if (len == 0)
        why = "empty entry";
    else if (!colon)
        why = "expected id:BASE64";
    else if (!valid_id(p, (size_t)(colon - p)))
        why = "the id must be 1-64 characters of A-Z a-z 0-9 . _ -";
    else if (!gda_base64_decode(colon + 1, len - (size_t)(colon - p) - 1, GDA_BASE64_STANDARD,
                                scratch, GDA_KMS_CIPHERTEXT_MAX, &out->blob_len) ||
             out->blob_len == 0)
        why = "the value is not base64 of a KMS ciphertext (1-6144 bytes)";
    if (why) {
        fprintf(stderr, "gda datakey show: ring entry %zu: %s\n", pos, why);
        return false;
    }
    out->id = p;
    out->id_len = (size_t)(colon - p);
    return true;
}

static int datakey_show(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ring-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': file = optarg; break;
        case 'h': show_usage(stdout); return GDA_CLI_OK;
        default: show_usage(stderr); return GDA_CLI_USAGE;
        }
    }
    if (argc - optind > 1 || (file && optind < argc)) {
        fprintf(stderr, "gda datakey show: give the ring once (argument, --ring-file or stdin)\n");
        return GDA_CLI_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    if (optind < argc) {
        len = strlen(argv[optind]);
        text = len <= RING_MAX_BYTES ? strdup(argv[optind]) : NULL;
        if (!text) {
            fprintf(stderr, "gda datakey show: the ring is larger than %d bytes\n",
                    RING_MAX_BYTES);
            return GDA_CLI_USAGE;
        }
    } else if (!gda_cli_read_file(file ? file : "-", RING_MAX_BYTES, "data-key ring", &text,
                                  &len)) {
        return GDA_CLI_USAGE;
    }
    uint8_t *scratch = malloc(GDA_KMS_CIPHERTEXT_MAX);
    ring_entry entries[64];
    size_t n = 0;
    int rc = scratch ? GDA_CLI_OK : GDA_CLI_USAGE;
    for (const char *p = text; rc == GDA_CLI_OK;) {
        const char *comma = memchr(p, ',', len - (size_t)(p - text));
        size_t entry_len = comma ? (size_t)(comma - p) : len - (size_t)(p - text);
        if (n == sizeof entries / sizeof entries[0]) {
            fprintf(stderr, "gda datakey show: the ring has more than %zu entries\n", n);
            rc = GDA_CLI_USAGE;
        } else if (!parse_entry(p, entry_len, n + 1, &entries[n], scratch)) {
            rc = GDA_CLI_USAGE;
        } else {
            for (size_t j = 0; j < n; j++) {
                if (entries[j].id_len == entries[n].id_len &&
                    memcmp(entries[j].id, entries[n].id, entries[n].id_len) == 0) {
                    fprintf(stderr, "gda datakey show: ring entry %zu: duplicate id \"%.*s\"\n",
                            n + 1, (int)entries[n].id_len, entries[n].id);
                    rc = GDA_CLI_USAGE;
                }
            }
            n++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    for (size_t i = 0; rc == GDA_CLI_OK && i < n; i++)
        printf("%.*s\t%zu bytes\t%s\n", (int)entries[i].id_len, entries[i].id,
               entries[i].blob_len, i == 0 ? "encrypts new records" : "decrypts only");
    free(scratch);
    free(text);
    if (rc == GDA_CLI_OK && fflush(stdout) != 0)
        rc = GDA_CLI_USAGE;
    return rc;
}

int gda_cli_datakey(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        datakey_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? GDA_CLI_USAGE : GDA_CLI_OK;
    }
    /* argv[1] is the action; its options follow it. */
    if (strcmp(argv[1], "new") == 0)
        return datakey_new(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return datakey_show(argc - 1, argv + 1);
    fprintf(stderr, "gda datakey: unknown action \"%s\"\n", argv[1]);
    datakey_usage(stderr);
    return GDA_CLI_USAGE;
}
