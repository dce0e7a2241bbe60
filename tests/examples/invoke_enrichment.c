/* Test helper for the example validations (tests/examples/check_*.mjs): runs the
 * enrichment example through the real pipeline so the Genesys Data Action
 * export is checked against what the code actually answers, not against a
 * hand-written sample.
 *
 *   invoke_enrichment spec
 *       prints the reference input contract (gda_spec_new_reference) as JSON:
 *       {"idempotencyField":"requestId","fields":[{"name":…,"type":…,
 *        "required":…,"format":…,"maxLength":…},…]}
 *   invoke_enrichment handle
 *       reads one Lambda event (API Gateway REST proxy, or a direct
 *       invocation body) from stdin, decodes it, runs gda_app_handle with the
 *       enrichment handler, a token verifier over the key ring in
 *       GDA_EXAMPLE_KEYRING and a memory store, and prints
 *       {"kind":"apigw-rest"|"direct"|…,"status":N,"output":<the encoded
 *        answer, as a JSON string>}
 *       on stdout; the pipeline's log lines go to stderr.
 *
 * Exit status: 0 when the answer was produced (whatever its HTTP status),
 * 2 for a usage or set-up error (message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <gda/app.h>
#include <gda/event.h>
#include <gda/log.h>
#include <gda/request.h>
#include <gda/verify.h>

#include "enrichment.h"

#define MAX_EVENT ((size_t)1024 * 1024)

static int fail(const char *what, const gda_error *err)
{
    fprintf(stderr, "invoke_enrichment: %s: %s\n", what,
            err && err->message[0] ? err->message : "failed");
    return 2;
}

static const char *type_name(gda_field_type t)
{
    switch (t) {
    case GDA_FIELD_STRING: return "string";
    case GDA_FIELD_INTEGER: return "integer";
    case GDA_FIELD_NUMBER: return "number";
    case GDA_FIELD_BOOLEAN: return "boolean";
    case GDA_FIELD_OBJECT: return "object";
    case GDA_FIELD_ARRAY: return "array";
    }
    return "unknown";
}

static const char *format_name(gda_field_format f)
{
    switch (f) {
    case GDA_FORMAT_NONE: return "";
    case GDA_FORMAT_E164: return "e164";
    case GDA_FORMAT_UUID: return "uuid";
    case GDA_FORMAT_RFC3339: return "rfc3339";
    }
    return "unknown";
}

static int print_spec(void)
{
    gda_spec *spec = gda_spec_new_reference();
    if (!spec)
        return fail("gda_spec_new_reference", NULL);
    const char *key = NULL;
    gda_key_source src = gda_spec_idempotency_source(spec, &key);
    json_t *fields = json_array();
    json_t *root = json_pack("{s:s?, s:o}", "idempotencyField",
                             src == GDA_KEY_FROM_FIELD ? key : NULL, "fields", fields);
    if (!root) {
        gda_spec_free(spec);
        return fail("out of memory", NULL);
    }
    for (size_t i = 0; i < gda_spec_count(spec); i++) {
        const gda_field *f = gda_spec_field_at(spec, i);
        json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:I}", "name", f->name, "type",
                              type_name(f->type), "required", f->required, "format",
                              format_name(f->format), "maxLength", (json_int_t)f->max_length);
        if (!o || json_array_append_new(fields, o) != 0) {
            json_decref(root);
            gda_spec_free(spec);
            return fail("out of memory", NULL);
        }
    }
    int rc = json_dumpf(root, stdout, JSON_COMPACT) == 0 ? 0 : 2;
    putchar('\n');
    json_decref(root);
    gda_spec_free(spec);
    return rc;
}

static char *read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            if (cap >= MAX_EVENT) {
                free(buf);
                return NULL;
            }
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

/* Log lines go to stderr: stdout carries only the answer. */
static void sink_stderr(const char *line, size_t len, void *user)
{
    (void)user;
    fwrite(line, 1, len, stderr);
}

static gda_app *build_app(enrichment_table *table, gda_error *err)
{
    const char *ring = getenv("GDA_EXAMPLE_KEYRING");
    if (!ring || !*ring) {
        gda_error_set(err, GDA_ERR_CONFIG, NULL, "GDA_EXAMPLE_KEYRING is not set");
        return NULL;
    }
    gda_verifier *verifier = NULL;
    if (gda_verifier_new_from_config("token", ring, strlen(ring), NULL, &verifier, err) !=
        GDA_OK)
        return NULL;
    gda_app_config cfg = gda_app_config_default();
    cfg.verifier = verifier;
    cfg.log.sink = sink_stderr;
    cfg.handler = enrichment_handler;
    cfg.handler_user = table;
    /* The Lambda data action invokes the function directly (IAM-checked),
     * as the example's AWS template configures it (GDA_DIRECT_TRUSTED). */
    cfg.direct_invocation_trusted = true;
    return gda_app_new(&cfg, err);
}

static int handle(void)
{
    gda_error err = {0};
    size_t len = 0;
    char *event = read_stdin(&len);
    if (!event)
        return fail("reading the event from stdin", NULL);

    enrichment_table *table = enrichment_table_load(enrichment_default_table_path(), &err);
    if (!table) {
        free(event);
        return fail("loading the customer table", &err);
    }
    gda_app *app = build_app(table, &err);
    if (!app) {
        enrichment_table_free(table);
        free(event);
        return fail("building the app", &err);
    }

    int rc = 2;
    gda_http_request req = {0};
    gda_http_response resp = {0};
    char *out = NULL;
    size_t out_len = 0;
    json_t *result = NULL;
    if (gda_event_decode(event, len, 0, &req, &err) != GDA_OK) {
        rc = fail("decoding the event", &err);
        goto done;
    }
    gda_app_handle(app, &req, NULL, &resp);
    if (gda_event_encode(req.kind, &resp, &out, &out_len, &err) != GDA_OK) {
        rc = fail("encoding the answer", &err);
        goto done;
    }
    result = json_pack("{s:s, s:i, s:s%}", "kind", gda_event_kind_str(req.kind), "status",
                       resp.status, "output", out, out_len);
    if (!result) {
        rc = fail("out of memory", NULL);
        goto done;
    }
    rc = json_dumpf(result, stdout, JSON_COMPACT) == 0 ? 0 : 2;
    putchar('\n');
done:
    json_decref(result);
    free(out);
    gda_http_response_release(&resp);
    gda_http_request_release(&req);
    gda_app_free(app);
    enrichment_table_free(table);
    free(event);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "spec") == 0)
        return print_spec();
    if (argc == 2 && strcmp(argv[1], "handle") == 0)
        return handle();
    fprintf(stderr, "usage: invoke_enrichment spec | handle < event.json\n");
    return 2;
}
