/* libgda fuzzing — payload mapping: gda_request_parse with the reference
 * Genesys spec and with a custom spec using every field type, format, PII and
 * each idempotency key source.
 *
 * Input: one mode byte, then an HTTP-like request (fuzz_common.h).
 *   mode & 3   spec: 0 reference, 1 custom keyed by field, 2 custom keyed by
 *              JSON pointer /meta/id, 3 custom keyed by the Idempotency-Key
 *              header
 *   mode & 4   send the body as a direct Lambda invocation instead (through
 *              gda_event_decode, so the pre-parsed body_json path runs)
 *   mode & 8   tight limits (1 KiB body, depth 4) instead of the defaults
 * On success every declared field must match its declaration, the key must
 * obey the key rules, and redaction must mask PII fields. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include <gda/request.h>
#include <gda/store.h>

int gda_fuzz_request(const uint8_t *data, size_t size);

static gda_spec *specs[4];

static gda_spec *custom_spec(void)
{
    static const gda_field fields[] = {
        {"requestId", GDA_FIELD_STRING, true, 64, GDA_FORMAT_NONE, false},
        {"name", GDA_FIELD_STRING, false, 10, GDA_FORMAT_NONE, false},
        {"count", GDA_FIELD_INTEGER, true, 0, GDA_FORMAT_NONE, false},
        {"amount", GDA_FIELD_NUMBER, false, 0, GDA_FORMAT_NONE, false},
        {"flag", GDA_FIELD_BOOLEAN, false, 0, GDA_FORMAT_NONE, false},
        {"meta", GDA_FIELD_OBJECT, false, 0, GDA_FORMAT_NONE, true},
        {"items", GDA_FIELD_ARRAY, false, 0, GDA_FORMAT_NONE, false},
        {"phone", GDA_FIELD_STRING, false, 0, GDA_FORMAT_E164, true},
        {"id", GDA_FIELD_STRING, false, 0, GDA_FORMAT_UUID, false},
        {"when", GDA_FIELD_STRING, false, 0, GDA_FORMAT_RFC3339, false},
    };
    gda_spec *spec = gda_spec_new();
    if (!spec)
        return NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (gda_spec_add(spec, &fields[i], NULL) != GDA_OK) {
            gda_spec_free(spec);
            return NULL;
        }
    }
    return spec;
}

static bool init_specs(void)
{
    if (specs[0])
        return true;
    specs[0] = gda_spec_new_reference();
    specs[1] = custom_spec();
    specs[2] = custom_spec();
    specs[3] = custom_spec();
    if (!specs[0] || !specs[1] || !specs[2] || !specs[3] ||
        gda_spec_set_idempotency_pointer(specs[2], "/meta/id", NULL) != GDA_OK ||
        gda_spec_set_idempotency_header(specs[3], NULL, NULL) != GDA_OK) {
        for (int i = 0; i < 4; i++) {
            gda_spec_free(specs[i]);
            specs[i] = NULL;
        }
        return false;
    }
    return true;
}

/* The key rules of request.h: 1..GDA_KEY_MAX bytes, no C0/C1 controls. */
static bool key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > GDA_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c == 0xc2 && i + 1 < n && (unsigned char)key[i + 1] >= 0x80 &&
            (unsigned char)key[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

static int check_fields(const gda_request *req)
{
    const gda_spec *spec = gda_request_spec(req);
    const json_t *root = gda_request_json(req);
    FUZZ_CHECK(json_is_object(root));
    for (size_t i = 0; i < gda_spec_count(spec); i++) {
        const gda_field *f = gda_spec_field_at(spec, i);
        json_t *v = json_object_get(root, f->name);
        if (!v || json_is_null(v)) {
            FUZZ_CHECK(!f->required);
            continue;
        }
        int64_t iv;
        double dv;
        bool bv;
        switch (f->type) {
        case GDA_FIELD_STRING: {
            const char *s = gda_request_string(req, f->name);
            FUZZ_CHECK(s != NULL && json_is_string(v));
            if (f->max_length) {
                size_t cps = 0;
                for (const char *p = s; *p; p++)
                    cps += ((unsigned char)*p & 0xc0) != 0x80;
                FUZZ_CHECK(cps <= f->max_length);
            }
            if (f->format == GDA_FORMAT_E164)
                FUZZ_CHECK(s[0] == '+' && strlen(s) >= 3 && strlen(s) <= 16 &&
                           strspn(s + 1, "0123456789") == strlen(s) - 1 && s[1] != '0');
            if (f->format == GDA_FORMAT_UUID)
                FUZZ_CHECK(strlen(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
                           s[23] == '-');
            break;
        }
        case GDA_FIELD_INTEGER:
            FUZZ_CHECK(json_is_integer(v) && gda_request_int(req, f->name, &iv));
            break;
        case GDA_FIELD_NUMBER:
            FUZZ_CHECK(json_is_number(v) && gda_request_number(req, f->name, &dv));
            break;
        case GDA_FIELD_BOOLEAN:
            FUZZ_CHECK(json_is_boolean(v) && gda_request_bool(req, f->name, &bv));
            break;
        case GDA_FIELD_OBJECT:
            FUZZ_CHECK(json_is_object(v));
            break;
        case GDA_FIELD_ARRAY:
            FUZZ_CHECK(json_is_array(v));
            break;
        }
    }

    /* Redaction never leaves a PII value readable. */
    json_t *red = gda_request_redacted(req);
    if (red) {
        for (size_t i = 0; i < gda_spec_count(spec); i++) {
            const gda_field *f = gda_spec_field_at(spec, i);
            json_t *orig = json_object_get(root, f->name);
            json_t *masked = json_object_get(red, f->name);
            /* JSON null holds nothing to hide; request.h says any non-string
             * becomes "***", but null staying null reveals no PII. */
            if (!f->pii || !orig || json_is_null(orig))
                continue;
            FUZZ_CHECK(json_is_string(masked));
            if (json_is_string(orig) && strcmp(json_string_value(orig), "***") != 0)
                FUZZ_CHECK(strcmp(json_string_value(orig), json_string_value(masked)) != 0);
        }
        json_decref(red);
    }
    return 0;
}

int gda_fuzz_request(const uint8_t *data, size_t size)
{
    if (size < 1 || !init_specs())
        return 0;
    unsigned mode = data[0];
    const gda_spec *spec = specs[mode & 3];
    gda_limits tight = {1024, 4};
    const gda_limits *limits = (mode & 8) ? &tight : NULL;

    fuzz_http h;
    if (!fuzz_http_parse(data + 1, size - 1, &h))
        return 0;
    gda_http_request direct = {0};
    const gda_http_request *http = &h.req;
    if (mode & 4) {
        if (gda_event_decode(h.req.body.ptr, h.req.body.len, 0, &direct, NULL) != GDA_OK ||
            direct.kind != GDA_EVENT_DIRECT) {
            gda_http_request_release(&direct);
            fuzz_http_free(&h);
            return 0;
        }
        http = &direct;
    }

    gda_request *req = NULL;
    gda_error err = {0};
    gda_status st = gda_request_parse(spec, http, limits, &req, &err);
    int rc = 0;
    if (!fuzz_error_consistent(st, &err)) {
        fprintf(stderr, "fuzz invariant failed: inconsistent error %d/%d\n", st, err.code);
        rc = 1;
    } else if (st == GDA_OK) {
        const char *key = req ? gda_request_idempotency_key(req) : NULL;
        if (!req || !key || !key_ok(key)) {
            fprintf(stderr, "fuzz invariant failed: parsed request with a bad key\n");
            rc = 1;
        } else {
            rc = check_fields(req);
        }
        if (http->body.len > (limits ? limits->max_body : GDA_DEFAULT_MAX_BODY)) {
            fprintf(stderr, "fuzz invariant failed: body over the limit accepted\n");
            rc = 1;
        }
    } else {
        if (req) {
            fprintf(stderr, "fuzz invariant failed: *out set on failure\n");
            rc = 1;
        }
        if (st == GDA_ERR_INVALID_FIELD && err.field[0] == '\0') {
            fprintf(stderr, "fuzz invariant failed: invalid field without a name\n");
            rc = 1;
        }
        if (st != GDA_ERR_PAYLOAD_TOO_LARGE && st != GDA_ERR_UNSUPPORTED_MEDIA_TYPE &&
            st != GDA_ERR_INVALID_JSON && st != GDA_ERR_INVALID_FIELD && st != GDA_ERR_NOMEM) {
            fprintf(stderr, "fuzz invariant failed: undocumented status %d\n", st);
            rc = 1;
        }
    }
    gda_request_free(req);
    gda_http_request_release(&direct);
    fuzz_http_free(&h);
    return rc;
}

#ifndef GDA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gda_fuzz_request(data, size))
        abort();
    return 0;
}
#endif
