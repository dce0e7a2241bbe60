/* gda sign / gda verify — the two ends of request authentication, configured
 * by the same options (auth.h) so that what `sign` prints, `verify` accepts. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#define MAX_KEY_FILE (64u * 1024)
#define MAX_HEADERS_FILE (64u * 1024)

const char gda_cli_common_help[] =
    "  --scheme S            token | hmac-sha256 (hmac) | jwt | basic   (required)\n"
    "  --keys RING           key ring text id:BASE64[,id:BASE64...] (or set GDA_SECRETS / GDA_SECRETS_FILE)\n"
    "  --keys-file F         read the key ring from file F\n"
    "  --header NAME         credential header (default X-Genesys-Signature for token and\n"
    "                        hmac, Authorization for jwt and basic)\n"
    "  --timestamp-header N  hmac timestamp header (default X-Genesys-Timestamp)\n"
    "  --no-timestamp        hmac without a timestamp binding (then polls are refused)\n"
    "  --method M            hmac: the request method the signature binds (default POST)\n"
    "  --path P              hmac: the path (with ?query) the signature binds, as the\n"
    "                        endpoint routes it (default /genesys/dataaction)\n"
    "  --window S            hmac replay window in seconds (default 300)\n"
    "  --leeway S            jwt clock leeway in seconds (default 60)\n"
    "  --algs LIST           jwt allow-list, e.g. HS256,EdDSA (default both)\n"
    "  --iss ISS, --aud AUD  jwt issuer / audience to require (and to put in signed tokens)\n"
    "  --no-require-exp      jwt: accept tokens without exp\n"
    "  --now SECONDS         the current time in epoch seconds (default: the clock);\n"
    "                        --timestamp is the same option\n"
    "  --body-file F         read the body from F instead of stdin\n"
    "  --help                this text\n";

const char gda_cli_signing_help[] =
    "  --key-id ID           ring entry to sign with (default: the first secret);\n"
    "                        for basic it is the user name\n"
    "  --signing-key TEXT    jwt EdDSA: ID:ed25519-private:BASE64 from gda keygen --ed25519\n"
    "                        (the ring must still be given: use its public entry)\n"
    "  --signing-key-file F  the same, read from a file\n"
    "  --ttl S               jwt lifetime in seconds (default 300)\n"
    "  --subject SUB         jwt \"sub\" (default: the key id)\n";

void gda_cli_auth_args_init(auth_args *a)
{
    memset(a, 0, sizeof *a);
    a->opt = gda_verifier_options_default(GDA_AUTH_TOKEN);
    a->now_ms = -1;
    optind = 1;
}

/* One option of auth.h's sets. 1: handled, 0: not one of them, -1: bad value
 * (message printed). */
static int auth_option(const char *cmd, int c, auth_args *a)
{
    int64_t n;
    switch (c) {
    case OPT_SCHEME: {
        gda_auth_scheme s;
        if (!gda_auth_scheme_parse(optarg, &s)) {
            fprintf(stderr, "gda: unknown scheme \"%s\" (token, hmac-sha256, jwt, basic)\n", optarg);
            return -1;
        }
        /* Keep what was set so far, apart from the scheme-specific defaults. */
        gda_verifier_options kept = a->opt;
        a->opt = gda_verifier_options_default(s);
        a->opt.header = kept.header;
        a->opt.timestamp_header = kept.timestamp_header;
        a->scheme_set = true;
        return 1;
    }
    case OPT_KEYS: a->keys = optarg; return 1;
    case OPT_KEYS_FILE: a->keys_file = optarg; return 1;
    case OPT_HEADER: a->opt.header = optarg; return 1;
    case OPT_TS_HEADER: a->opt.timestamp_header = optarg; return 1;
    case OPT_NO_TS: a->opt.hmac_timestamp = false; return 1;
    case OPT_WINDOW:
        if (!gda_cli_parse_int("--window", optarg, 86400, &n))
            return -1;
        a->opt.replay_window_s = n;
        return 1;
    case OPT_LEEWAY:
        if (!gda_cli_parse_int("--leeway", optarg, 3600, &n))
            return -1;
        a->opt.jwt_leeway_s = n;
        return 1;
    case OPT_ALGS: {
        unsigned algs = 0;
        char *copy = strdup(optarg), *save = NULL;
        if (!copy)
            return -1;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (strcmp(t, "HS256") == 0)
                algs |= GDA_JWT_HS256;
            else if (strcmp(t, "EdDSA") == 0)
                algs |= GDA_JWT_EDDSA;
            else {
                fprintf(stderr, "gda: unknown JWT algorithm \"%s\" (HS256, EdDSA)\n", t);
                free(copy);
                return -1;
            }
        }
        free(copy);
        a->opt.jwt_algs = algs;
        return 1;
    }
    case OPT_ISS: a->opt.jwt_issuer = optarg; return 1;
    case OPT_AUD: a->opt.jwt_audience = optarg; return 1;
    case OPT_NO_EXP: a->opt.jwt_require_exp = false; return 1;
    case OPT_NOW:
        if (!gda_cli_parse_int("--now", optarg, 99999999999LL, &n))
            return -1;
        a->now_ms = n * 1000;
        return 1;
    case OPT_BODY_FILE: a->body_file = optarg; return 1;
    case OPT_METHOD: a->method = optarg; return 1;
    case OPT_PATH:
        if (optarg[0] != '/') {
            fprintf(stderr, "gda: --path must start with '/'\n");
            return -1;
        }
        a->path = optarg;
        return 1;
    case OPT_KEY_ID: a->key_id = optarg; return 1;
    case OPT_SIGNING_KEY: a->signing_key = optarg; return 1;
    case OPT_SIGNING_KEY_FILE: a->signing_key_file = optarg; return 1;
    case OPT_SUBJECT: a->subject = optarg; return 1;
    case OPT_TTL:
        return gda_cli_parse_int("--ttl", optarg, 86400 * 366, &a->ttl_s) ? 1 : -1;
    case 'H':
        if (a->n_header_lines == GDA_CLI_MAX_HEADERS) {
            fprintf(stderr, "gda %s: more than %d headers\n", cmd, GDA_CLI_MAX_HEADERS);
            return -1;
        }
        a->header_lines[a->n_header_lines++] = optarg;
        return 1;
    }
    return 0;
}

int gda_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                   const struct option *longopts, auth_args *a, void (*usage)(FILE *out))
{
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == -1)
            return GDA_CLI_OPT_END;
        if (c == OPT_HELP) {
            usage(stdout);
            return GDA_CLI_OPT_HELP;
        }
        if (c == '?' || c == ':') {
            usage(stderr);
            return GDA_CLI_OPT_BAD;
        }
        int r = auth_option(cmd, c, a);
        if (r < 0)
            return GDA_CLI_OPT_BAD;
        if (r == 0)
            return c;
    }
}

gda_verifier *gda_cli_make_verifier(const char *cmd, const auth_args *a)
{
    if (!a->scheme_set) {
        fprintf(stderr, "gda %s: --scheme is required\n", cmd);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    /* The same variables the endpoint reads, so one environment serves both. */
    const char *keys_file = a->keys_file;
    if (!keys_file && !a->keys && !getenv("GDA_SECRETS"))
        keys_file = getenv("GDA_SECRETS_FILE");
    if (keys_file) {
        if (!gda_cli_read_file(keys_file, MAX_KEY_FILE, "key file", &text, &len))
            return NULL;
    } else {
        const char *src = a->keys ? a->keys : getenv("GDA_SECRETS");
        if (!src) {
            fprintf(stderr,
                    "gda %s: give the key ring with --keys, --keys-file, GDA_SECRETS or "
                    "GDA_SECRETS_FILE\n",
                    cmd);
            return NULL;
        }
        len = strlen(src);
        text = malloc(len + 1);
        if (!text)
            return NULL;
        memcpy(text, src, len + 1);
    }
    gda_keyring *ring = NULL;
    gda_verifier *v = NULL;
    gda_error err;
    gda_error_clear(&err);
    gda_status st = gda_keyring_parse(text, len, &ring, &err);
    gda_cli_wipe(text, len);
    if (st == GDA_OK)
        st = gda_verifier_new(&a->opt, ring, &v, &err); /* takes ring */
    if (st != GDA_OK) {
        fprintf(stderr, "gda %s: %s\n", cmd, err.message);
        return NULL;
    }
    return v;
}

bool gda_cli_read_body(const auth_args *a, char **body, size_t *len)
{
    return gda_cli_read_file(a->body_file ? a->body_file : "-", GDA_CLI_MAX_BODY, "body", body,
                             len);
}

bool gda_cli_sign_body(const char *cmd, const auth_args *a, gda_verifier *v, gda_slice body,
                       gda_signed_headers *h)
{
    memset(h, 0, sizeof *h);
    char *signing = NULL;
    size_t signing_len = 0;
    if (a->signing_key_file) {
        if (!gda_cli_read_file(a->signing_key_file, MAX_KEY_FILE, "signing key file", &signing,
                               &signing_len))
            return false;
    } else if (a->signing_key) {
        if (!(signing = strdup(a->signing_key)))
            return false;
        signing_len = strlen(signing);
    }
    gda_sign_params p;
    memset(&p, 0, sizeof p);
    p.key_id = a->key_id;
    p.ed25519_private = signing;
    p.ed25519_private_len = signing_len;
    p.now_ms = a->now_ms >= 0 ? a->now_ms : gda_clock_now_ms(NULL);
    p.jwt_ttl_s = a->ttl_s;
    p.jwt_subject = a->subject;
    p.method = a->method;
    p.path = a->path;
    gda_error err;
    gda_error_clear(&err);
    gda_status st = gda_verifier_sign(v, &p, body, h, &err);
    gda_cli_wipe(signing, signing_len);
    if (st != GDA_OK)
        fprintf(stderr, "gda %s: %s\n", cmd, err.message);
    return st == GDA_OK;
}

static void sign_usage(FILE *out)
{
    fprintf(out,
            "usage: gda sign --scheme S [--keys RING | --keys-file F] [options] < body\n\n"
            "Prints the HTTP headers a caller must send with the body read from stdin,\n"
            "one \"Name: value\" per line (feed them to gda verify --headers-file).\n\n"
            "%s%s",
            gda_cli_common_help, gda_cli_signing_help);
}

int gda_cli_sign(int argc, char **argv)
{
    static const struct option longopts[] = {
        COMMON_OPTIONS,
        SIGNING_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    auth_args a;
    gda_cli_auth_args_init(&a);
    /* Every option of sign is a shared one. */
    int c = gda_cli_getopt("sign", argc, argv, "", longopts, &a, sign_usage);
    if (c != GDA_CLI_OPT_END)
        return c == GDA_CLI_OPT_HELP ? GDA_CLI_OK : GDA_CLI_USAGE;
    if (optind != argc) {
        fprintf(stderr, "gda sign: unexpected argument \"%s\"\n", argv[optind]);
        return GDA_CLI_USAGE;
    }
    gda_verifier *v = gda_cli_make_verifier("sign", &a);
    if (!v)
        return GDA_CLI_USAGE;
    char *body = NULL;
    size_t body_len = 0;
    int rc = GDA_CLI_USAGE;
    gda_signed_headers h;
    memset(&h, 0, sizeof h);
    if (gda_cli_read_body(&a, &body, &body_len) &&
        gda_cli_sign_body("sign", &a, v, gda_slice_make(body, body_len), &h)) {
        for (size_t i = 0; i < h.n; i++)
            printf("%s: %s\n", h.headers[i].name, h.headers[i].value);
        rc = fflush(stdout) == 0 ? GDA_CLI_OK : GDA_CLI_USAGE;
    }
    gda_signed_headers_release(&h);
    free(body);
    gda_verifier_free(v);
    return rc;
}

static void verify_usage(FILE *out)
{
    fprintf(out,
            "usage: gda verify --scheme S [--keys RING | --keys-file F] [-H 'Name: value']...\n"
            "                  [--headers-file F] [options] < body\n\n"
            "Checks a request the way the endpoint would. Exit 0 when accepted (prints\n"
            "\"accepted key=ID principal=P\"), 1 when refused (prints the reason class on\n"
            "stderr: missing, malformed, mismatch, expired, replayed, ambiguous, algorithm),\n"
            "2 on usage or configuration errors.\n\n"
            "%s"
            "  -H, --header-line 'Name: value'  a request header (repeatable)\n"
            "  --headers-file F      request headers, one \"Name: value\" per line (\"-\": stdin,\n"
            "                        then give the body with --body-file)\n",
            gda_cli_common_help);
}

bool gda_cli_split_header(const char *line, size_t len, gda_header *h)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return false;
    const char *v = colon + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    h->name = gda_slice_make(line, (size_t)(colon - line));
    h->value = gda_slice_make(v, (size_t)(end - v));
    return true;
}

int gda_cli_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        COMMON_OPTIONS,
        HEADER_LINE_OPTION,
        {"headers-file", required_argument, NULL, OPT_HEADERS_FILE},
        {NULL, 0, NULL, 0},
    };
    auth_args a;
    gda_cli_auth_args_init(&a);
    const char *headers_file = NULL;
    int c;
    while ((c = gda_cli_getopt("verify", argc, argv, "H:", longopts, &a, verify_usage)) >= 0)
        headers_file = optarg; /* --headers-file, the only option of its own */
    if (c != GDA_CLI_OPT_END)
        return c == GDA_CLI_OPT_HELP ? GDA_CLI_OK : GDA_CLI_USAGE;
    if (optind != argc) {
        fprintf(stderr, "gda verify: unexpected argument \"%s\"\n", argv[optind]);
        return GDA_CLI_USAGE;
    }
    if (headers_file && strcmp(headers_file, "-") == 0 && !a.body_file) {
        fprintf(stderr, "gda verify: --headers-file - needs --body-file (stdin is taken)\n");
        return GDA_CLI_USAGE;
    }
    gda_header headers[GDA_CLI_MAX_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i < a.n_header_lines; i++) {
        if (!gda_cli_split_header(a.header_lines[i], strlen(a.header_lines[i]), &headers[n])) {
            fprintf(stderr, "gda verify: -H needs 'Name: value'\n");
            return GDA_CLI_USAGE;
        }
        n++;
    }
    gda_verifier *v = gda_cli_make_verifier("verify", &a);
    if (!v)
        return GDA_CLI_USAGE;
    char *file = NULL, *body = NULL;
    size_t file_len = 0, body_len = 0;
    int rc = GDA_CLI_USAGE;
    if (headers_file) {
        if (!gda_cli_read_file(headers_file, MAX_HEADERS_FILE, "headers file", &file, &file_len))
            goto out;
        for (char *line = file; line && *line;) {
            char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            bool blank = len == 0 || (len == 1 && line[0] == '\r');
            if (!blank) {
                if (n == GDA_CLI_MAX_HEADERS || !gda_cli_split_header(line, len, &headers[n])) {
                    fprintf(stderr, "gda verify: bad line in the headers file (want 'Name: value')\n");
                    goto out;
                }
                n++;
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    if (!gda_cli_read_body(&a, &body, &body_len))
        goto out;
    gda_http_request req;
    memset(&req, 0, sizeof req);
    req.kind = GDA_EVENT_HTTP;
    req.method = gda_slice_cstr(a.method ? a.method : "POST");
    /* The path and query as the endpoint would see them. */
    const char *full_path = a.path ? a.path : "/genesys/dataaction";
    const char *q = strchr(full_path, '?');
    req.path = gda_slice_make(full_path, q ? (size_t)(q - full_path) : strlen(full_path));
    if (q)
        req.query = gda_slice_cstr(q + 1);
    req.headers = headers;
    req.n_headers = n;
    req.body = gda_slice_make(body, body_len);
    gda_auth_result result;
    gda_error err;
    gda_error_clear(&err);
    int64_t now = a.now_ms >= 0 ? a.now_ms : gda_clock_now_ms(NULL);
    gda_status st = gda_verifier_verify(v, &req, now, &result, &err);
    if (st == GDA_OK) {
        printf("accepted key=%s principal=%s\n", result.key_id, result.principal);
        rc = fflush(stdout) == 0 ? GDA_CLI_OK : GDA_CLI_USAGE;
    } else if (st == GDA_ERR_UNAUTHORIZED) {
        fprintf(stderr, "refused: %s\n", gda_auth_reason_str(result.reason));
        rc = GDA_CLI_REFUSED;
    } else {
        fprintf(stderr, "gda verify: %s\n", err.message);
    }
out:
    gda_cli_wipe(file, file_len);
    free(body);
    gda_verifier_free(v);
    return rc;
}
