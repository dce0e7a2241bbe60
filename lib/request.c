/* libgda — the Data Action input contract (see include/gda/request.h). */
#include <gda/request.h>

#include "request_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gda/slice.h>
#include <gda/store.h>

#include "buf.h"
#include "hex.h"
#include "pii.h"
#include "utf8.h"

#define FIELD_NAME_MAX (GDA_ERROR_FIELD_SIZE - 1)
#define POINTER_MAX 1024
#define DEFAULT_KEY_FIELD "requestId"
#define DEFAULT_KEY_HEADER "Idempotency-Key"

struct gda_spec {
    gda_field *fields; /* names are heap copies owned here */
    size_t n_fields;
    size_t cap_fields;
    gda_key_source key_source;
    char *key_name;      /* field name, pointer text or header name */
    char **key_tokens;   /* pointer source: unescaped reference tokens */
    size_t n_key_tokens;
};

struct gda_request {
    const gda_spec *spec; /* borrowed */
    json_t *root;         /* one owned reference */
    char key[GDA_KEY_MAX + 1];
};

/* ---- small ASCII helpers (locale-independent on purpose) --------------- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Parse exactly n decimal digits. */
static bool read_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* ---- formats ------------------------------------------------------------ */

static bool e164_ok(const char *s, size_t len)
{
    /* "+", then 2..15 digits, the country code never starting with 0. */
    if (len < 3 || len > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    for (size_t i = 2; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
    }
    return true;
}

static bool uuid_ok(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : gda_hex_value(s[i]) < 0)
            return false;
    }
    return true;
}

static bool is_leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (m == 2 && is_leap_year(y)) ? 29 : days[m - 1];
}

/* RFC 3339 section 5.6 date-time. "T" and "Z" may be lower case (5.6 note);
 * the space separator some writers use is not part of the grammar. */
static bool rfc3339_ok(const char *s, size_t len)
{
    int year, month, day, hour, minute, second;
    if (len < 20)
        return false;
    if (!read_digits(s, 4, &year) || s[4] != '-' || !read_digits(s + 5, 2, &month) ||
        s[7] != '-' || !read_digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
        !read_digits(s + 11, 2, &hour) || s[13] != ':' || !read_digits(s + 14, 2, &minute) ||
        s[16] != ':' || !read_digits(s + 17, 2, &second))
        return false;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == start)
            return false;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == len;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        int off_h, off_m;
        if (len - i != 6 || !read_digits(s + i + 1, 2, &off_h) || s[i + 3] != ':' ||
            !read_digits(s + i + 4, 2, &off_m))
            return false;
        return off_h <= 23 && off_m <= 59;
    }
    return false;
}

/* ---- spec ---------------------------------------------------------------- */

static void free_tokens(char **tokens, size_t n)
{
    if (!tokens)
        return;
    for (size_t i = 0; i < n; i++)
        free(tokens[i]);
    free(tokens);
}

static gda_status set_key_source(gda_spec *spec, gda_key_source source, const char *name,
                                 char **tokens, size_t n_tokens, gda_error *err)
{
    char *copy = strdup(name);
    if (!copy) {
        free_tokens(tokens, n_tokens);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
    free(spec->key_name);
    free_tokens(spec->key_tokens, spec->n_key_tokens);
    spec->key_source = source;
    spec->key_name = copy;
    spec->key_tokens = tokens;
    spec->n_key_tokens = n_tokens;
    return GDA_OK;
}

gda_spec *gda_spec_new(void)
{
    gda_spec *spec = calloc(1, sizeof *spec);
    if (!spec)
        return NULL;
    if (set_key_source(spec, GDA_KEY_FROM_FIELD, DEFAULT_KEY_FIELD, NULL, 0, NULL) != GDA_OK) {
        free(spec);
        return NULL;
    }
    return spec;
}

gda_spec *gda_spec_new_reference(void)
{
    static const gda_field reference[] = {
        {"interactionId", GDA_FIELD_STRING, true, 0, GDA_FORMAT_UUID, false},
        {"requestId", GDA_FIELD_STRING, true, GDA_KEY_MAX, GDA_FORMAT_NONE, false},
        {"queueId", GDA_FIELD_STRING, false, 0, GDA_FORMAT_UUID, false},
        {"callerId", GDA_FIELD_STRING, false, 0, GDA_FORMAT_E164, true},
        {"timestamp", GDA_FIELD_STRING, false, 0, GDA_FORMAT_RFC3339, false},
    };
    gda_spec *spec = gda_spec_new();
    if (!spec)
        return NULL;
    for (size_t i = 0; i < sizeof reference / sizeof reference[0]; i++) {
        /* The table is valid by construction, so only allocation can fail. */
        if (gda_spec_add(spec, &reference[i], NULL) != GDA_OK) {
            gda_spec_free(spec);
            return NULL;
        }
    }
    return spec;
}

void gda_spec_free(gda_spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->n_fields; i++)
        free((char *)spec->fields[i].name);
    free(spec->fields);
    free(spec->key_name);
    free_tokens(spec->key_tokens, spec->n_key_tokens);
    free(spec);
}

gda_status gda_spec_add(gda_spec *spec, const gda_field *field, gda_error *err)
{
    if (!spec || !field || !field->name)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL, "spec, field and field name are required");
    size_t name_len = strlen(field->name);
    bool control = false;
    if (name_len == 0 || name_len > FIELD_NAME_MAX ||
        gda_utf8_validate(field->name, name_len, NULL, &control) != GDA_UTF8_OK || control)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "field name must be 1-%d bytes of UTF-8 without control characters",
                             FIELD_NAME_MAX);
    if ((unsigned)field->type > (unsigned)GDA_FIELD_ARRAY)
        return gda_error_set(err, GDA_ERR_CONFIG, field->name, "unknown field type");
    if ((unsigned)field->format > (unsigned)GDA_FORMAT_RFC3339)
        return gda_error_set(err, GDA_ERR_CONFIG, field->name, "unknown field format");
    if (field->type != GDA_FIELD_STRING &&
        (field->format != GDA_FORMAT_NONE || field->max_length != 0))
        return gda_error_set(err, GDA_ERR_CONFIG, field->name,
                             "format and max_length apply to string fields only");
    if (gda_spec_find(spec, field->name))
        return gda_error_set(err, GDA_ERR_CONFIG, field->name, "field declared twice");

    if (!gda_array_grow((void **)&spec->fields, &spec->cap_fields, spec->n_fields,
                        sizeof *spec->fields, 8))
        return gda_error_set(err, GDA_ERR_NOMEM, field->name, "out of memory");
    char *name = strdup(field->name);
    if (!name)
        return gda_error_set(err, GDA_ERR_NOMEM, field->name, "out of memory");
    spec->fields[spec->n_fields] = *field;
    spec->fields[spec->n_fields].name = name;
    spec->n_fields++;
    return GDA_OK;
}

size_t gda_spec_count(const gda_spec *spec)
{
    return spec ? spec->n_fields : 0;
}

const gda_field *gda_spec_field_at(const gda_spec *spec, size_t i)
{
    if (!spec || i >= spec->n_fields)
        return NULL;
    return &spec->fields[i];
}

const gda_field *gda_spec_find(const gda_spec *spec, const char *name)
{
    if (!spec || !name)
        return NULL;
    for (size_t i = 0; i < spec->n_fields; i++) {
        if (strcmp(spec->fields[i].name, name) == 0)
            return &spec->fields[i];
    }
    return NULL;
}

gda_status gda_spec_set_idempotency_field(gda_spec *spec, const char *name, gda_error *err)
{
    if (!spec || !name || !*name ||
        gda_utf8_validate(name, strlen(name), NULL, NULL) != GDA_UTF8_OK)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "idempotency field name must be non-empty UTF-8");
    return set_key_source(spec, GDA_KEY_FROM_FIELD, name, NULL, 0, err);
}

/* Split an RFC 6901 pointer into unescaped reference tokens. */
static gda_status split_pointer(const char *pointer, char ***tokens_out, size_t *n_out,
                                gda_error *err)
{
    size_t len = strlen(pointer);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (pointer[i] == '/')
            n++;
    }
    char **tokens = calloc(n, sizeof *tokens);
    if (!tokens)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    const char *p = pointer + 1; /* past the leading "/" */
    for (size_t t = 0; t < n; t++) {
        const char *end = strchr(p, '/');
        size_t raw = end ? (size_t)(end - p) : strlen(p);
        char *tok = malloc(raw + 1);
        if (!tok) {
            free_tokens(tokens, n);
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
        }
        size_t o = 0;
        /* One left-to-right pass decodes "~01" as "~1", as RFC 6901 requires
         * (it decodes ~1 before ~0, so no "~0" can turn into a new "~1"). */
        for (size_t i = 0; i < raw; i++) {
            if (p[i] == '~') {
                char next = i + 1 < raw ? p[i + 1] : '\0';
                if (next != '0' && next != '1') {
                    free(tok);
                    free_tokens(tokens, n);
                    return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                                         "JSON pointer has '~' not followed by 0 or 1");
                }
                tok[o++] = next == '0' ? '~' : '/';
                i++;
            } else {
                tok[o++] = p[i];
            }
        }
        tok[o] = '\0';
        tokens[t] = tok;
        p += raw + 1;
    }
    *tokens_out = tokens;
    *n_out = n;
    return GDA_OK;
}

gda_status gda_spec_set_idempotency_pointer(gda_spec *spec, const char *pointer, gda_error *err)
{
    if (!spec || !pointer || pointer[0] != '/')
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "JSON pointer must start with '/' and name a member");
    size_t len = strlen(pointer);
    if (len > POINTER_MAX || gda_utf8_validate(pointer, len, NULL, NULL) != GDA_UTF8_OK)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "JSON pointer must be UTF-8 of at most %d bytes", POINTER_MAX);
    char **tokens = NULL;
    size_t n = 0;
    gda_status st = split_pointer(pointer, &tokens, &n, err);
    if (st != GDA_OK)
        return st;
    return set_key_source(spec, GDA_KEY_FROM_POINTER, pointer, tokens, n, err);
}

gda_status gda_spec_set_idempotency_header(gda_spec *spec, const char *header, gda_error *err)
{
    if (!header)
        header = DEFAULT_KEY_HEADER;
    bool ok = spec && *header;
    for (const char *c = header; ok && *c; c++)
        ok = is_tchar(*c);
    if (!ok)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "idempotency header name must be a non-empty HTTP token");
    return set_key_source(spec, GDA_KEY_FROM_HEADER, header, NULL, 0, err);
}

gda_key_source gda_spec_idempotency_source(const gda_spec *spec, const char **name)
{
    if (name)
        *name = spec ? spec->key_name : NULL;
    return spec ? spec->key_source : GDA_KEY_FROM_FIELD;
}

gda_limits gda_limits_default(void)
{
    return (gda_limits){.max_body = GDA_DEFAULT_MAX_BODY, .max_depth = GDA_DEFAULT_MAX_DEPTH};
}

/* ---- global rules --------------------------------------------------------- */

/* Content-Type must be application/json; parameters are allowed, but a
 * charset parameter must say utf-8 (RFC 8259 allows no other encoding). */
static bool media_type_ok(gda_slice v)
{
    const char *s = v.ptr;
    size_t n = v.len, i = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if ((c < 0x20 && c != '\t') || c >= 0x7F)
            return false;
    }
#define SKIP_OWS() while (i < n && (s[i] == ' ' || s[i] == '\t')) i++
    SKIP_OWS();
    size_t start = i;
    while (i < n && is_tchar(s[i]))
        i++;
    if (!gda_slice_ieq(gda_slice_make(s + start, i - start), "application") || i >= n ||
        s[i] != '/')
        return false;
    start = ++i;
    while (i < n && is_tchar(s[i]))
        i++;
    if (!gda_slice_ieq(gda_slice_make(s + start, i - start), "json"))
        return false;
    SKIP_OWS();
    while (i < n) {
        if (s[i] != ';')
            return false;
        i++;
        SKIP_OWS();
        if (i == n || s[i] == ';')
            continue; /* empty parameter, allowed by RFC 9110 */
        size_t name_start = i;
        while (i < n && is_tchar(s[i]))
            i++;
        size_t name_len = i - name_start;
        if (name_len == 0 || i >= n || s[i] != '=')
            return false;
        i++;
        char value[16];
        size_t value_len = 0;
        bool value_fits = true;
        if (i < n && s[i] == '"') {
            i++;
            bool closed = false;
            while (i < n) {
                char c = s[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (i >= n)
                        return false;
                    c = s[i++];
                }
                if (value_len < sizeof value)
                    value[value_len++] = c;
                else
                    value_fits = false;
            }
            if (!closed)
                return false;
        } else {
            size_t vstart = i;
            while (i < n && is_tchar(s[i]))
                i++;
            if (i == vstart)
                return false;
            value_fits = i - vstart <= sizeof value;
            value_len = value_fits ? i - vstart : 0;
            if (value_fits)
                memcpy(value, s + vstart, value_len);
        }
        if (gda_slice_ieq(gda_slice_make(s + name_start, name_len), "charset") &&
            (!value_fits || !gda_slice_ieq(gda_slice_make(value, value_len), "utf-8")))
            return false;
        SKIP_OWS();
    }
#undef SKIP_OWS
    return true;
}

static gda_status check_content_type(const gda_http_request *http, gda_error *err)
{
    size_t count = gda_http_request_header_count(http, "Content-Type");
    if (count == 0)
        return gda_error_set(err, GDA_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                             "Content-Type missing; send application/json");
    if (count > 1)
        return gda_error_set(err, GDA_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                             "Content-Type repeated");
    if (!media_type_ok(gda_http_request_header(http, "Content-Type", NULL)))
        return gda_error_set(err, GDA_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                             "Content-Type must be application/json (charset utf-8 if given)");
    return GDA_OK;
}

/* Nesting depth of raw JSON text, counting brackets outside strings. Run
 * before the parser so a deep document costs one linear pass, not a
 * recursion. Unbalanced text is left for the parser to reject. */
static bool depth_within(const char *s, size_t n, int max_depth, size_t *bad_at)
{
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) {
                *bad_at = i;
                return false;
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return true;
}

static gda_status check_bytes(const char *s, size_t n, gda_error *err)
{
    size_t bad_at = 0;
    gda_utf8_problem prob = gda_utf8_validate(s, n, &bad_at, NULL);
    if (prob != GDA_UTF8_OK)
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL, "%s at byte %zu",
                             gda_utf8_problem_str(prob), bad_at);
    return GDA_OK;
}

static gda_status parse_error(const json_error_t *jerr, gda_error *err)
{
    /* jerr->text quotes the input near the error ("near '...'"), which may be
     * PII, so only the class and position are reported. */
    int at = jerr->position;
    switch (json_error_code(jerr)) {
    case json_error_out_of_memory:
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    case json_error_duplicate_key:
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL, "duplicate key at byte %d", at);
    case json_error_numeric_overflow:
        if (strstr(jerr->text, "integer"))
            return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                                 "integer too big for 64 bits at byte %d", at);
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                             "number too big for a double at byte %d", at);
    case json_error_null_character:
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                             "\\u0000 escape not allowed at byte %d", at);
    case json_error_stack_overflow:
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL, "nesting too deep at byte %d", at);
    case json_error_premature_end_of_input:
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                             "not valid JSON: unexpected end of input");
    case json_error_end_of_input_expected:
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                             "not valid JSON: data after the top-level value at byte %d", at);
    default:
        break;
    }
    if (strstr(jerr->text, "invalid Unicode"))
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                             "invalid \\u escape (lone surrogate) at byte %d", at);
    return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                         "not valid JSON at line %d, column %d (byte %d)", jerr->line,
                         jerr->column, at);
}

/* The global rules for JSON that arrives already parsed (direct invocation):
 * depth, and every key and string strict UTF-8 without NUL. */
static gda_status check_tree(const json_t *v, int depth, int max_depth, gda_error *err)
{
    if (json_is_string(v)) {
        size_t bad_at = 0;
        gda_utf8_problem prob =
            gda_utf8_validate(json_string_value(v), json_string_length(v), &bad_at, NULL);
        if (prob != GDA_UTF8_OK)
            return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL, "%s in a string value",
                                 gda_utf8_problem_str(prob));
        return GDA_OK;
    }
    if (!json_is_object(v) && !json_is_array(v))
        return GDA_OK;
    if (depth > max_depth)
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL, "nesting deeper than %d levels",
                             max_depth);
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            gda_status st = check_tree(json_array_get(v, i), depth + 1, max_depth, err);
            if (st != GDA_OK)
                return st;
        }
        return GDA_OK;
    }
    /* jansson's iterators take a non-const object but do not modify it. */
    json_t *obj = (json_t *)v;
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
#if JANSSON_VERSION_HEX >= 0x020e00
        size_t key_len = json_object_iter_key_len(it); /* 2.14 keys may hold NUL */
#else
        size_t key_len = strlen(key);
#endif
        gda_utf8_problem prob = gda_utf8_validate(key, key_len, NULL, NULL);
        if (prob != GDA_UTF8_OK)
            return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL, "%s in an object key",
                                 gda_utf8_problem_str(prob));
        gda_status st = check_tree(json_object_iter_value(it), depth + 1, max_depth, err);
        if (st != GDA_OK)
            return st;
    }
    return GDA_OK;
}

/* ---- field rules ------------------------------------------------------------ */

static const char *field_type_str(gda_field_type t)
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

static const char *json_type_str(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "non-integer number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

static bool type_matches(gda_field_type t, const json_t *v)
{
    switch (t) {
    case GDA_FIELD_STRING: return json_is_string(v);
    case GDA_FIELD_INTEGER: return json_is_integer(v);
    case GDA_FIELD_NUMBER: return json_is_number(v);
    case GDA_FIELD_BOOLEAN: return json_is_boolean(v);
    case GDA_FIELD_OBJECT: return json_is_object(v);
    case GDA_FIELD_ARRAY: return json_is_array(v);
    }
    return false;
}

static gda_status check_field(const gda_field *f, const json_t *root, gda_error *err)
{
    const json_t *v = json_object_get(root, f->name);
    if (!v || json_is_null(v)) {
        /* Velocity templates render an unset optional variable as null, so
         * null counts as absent. */
        if (!f->required)
            return GDA_OK;
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, f->name,
                             v ? "required field is null" : "required field missing");
    }
    if (!type_matches(f->type, v))
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, f->name,
                             "wrong type: expected %s, got %s", field_type_str(f->type),
                             json_type_str(v));
    if (f->type != GDA_FIELD_STRING)
        return GDA_OK;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (f->max_length && gda_utf8_count(s, len) > f->max_length)
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, f->name,
                             "longer than %zu characters", f->max_length);
    switch (f->format) {
    case GDA_FORMAT_E164:
        if (!e164_ok(s, len))
            return gda_error_set(err, GDA_ERR_INVALID_FIELD, f->name,
                                 "not an E.164 number (+ then 2-15 digits)");
        break;
    case GDA_FORMAT_UUID:
        if (!uuid_ok(s, len))
            return gda_error_set(err, GDA_ERR_INVALID_FIELD, f->name,
                                 "not a UUID (8-4-4-4-12 hex digits)");
        break;
    case GDA_FORMAT_RFC3339:
        if (!rfc3339_ok(s, len))
            return gda_error_set(err, GDA_ERR_INVALID_FIELD, f->name,
                                 "not an RFC 3339 date-time");
        break;
    case GDA_FORMAT_NONE:
        break;
    }
    return GDA_OK;
}

/* ---- idempotency key -------------------------------------------------------- */

/* Resolve the pre-split pointer against root; NULL when any step is missing. */
static const json_t *resolve_pointer(const gda_spec *spec, const json_t *root)
{
    const json_t *cur = root;
    for (size_t t = 0; t < spec->n_key_tokens && cur; t++) {
        const char *tok = spec->key_tokens[t];
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            /* RFC 6901 array index: "0" or digits without a leading zero;
             * "-" (past the end) never names an element. */
            size_t n = strlen(tok), idx = 0;
            if (n == 0 || (n > 1 && tok[0] == '0'))
                return NULL;
            for (size_t i = 0; i < n; i++) {
                if (!is_digit(tok[i]) || idx > (SIZE_MAX - 9) / 10)
                    return NULL;
                idx = idx * 10 + (size_t)(tok[i] - '0');
            }
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
    }
    return cur;
}

static gda_status take_key(gda_request *req, const char *src, const char *s, size_t len,
                           gda_error *err)
{
    if (len == 0)
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, src, "idempotency key is empty");
    if (len > GDA_KEY_MAX)
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, src,
                             "idempotency key longer than %d bytes", GDA_KEY_MAX);
    bool control = false;
    if (gda_utf8_validate(s, len, NULL, &control) != GDA_UTF8_OK)
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, src,
                             "idempotency key is not valid UTF-8");
    if (control)
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, src,
                             "idempotency key holds a control character");
    memcpy(req->key, s, len);
    req->key[len] = '\0';
    return GDA_OK;
}

static gda_status select_key(gda_request *req, const gda_http_request *http, gda_error *err)
{
    const gda_spec *spec = req->spec;
    const char *src = spec->key_name;
    if (spec->key_source == GDA_KEY_FROM_HEADER) {
        size_t count = gda_http_request_header_count(http, src);
        if (count == 0)
            return gda_error_set(err, GDA_ERR_INVALID_FIELD, src,
                                 "idempotency key header missing");
        if (count > 1)
            return gda_error_set(err, GDA_ERR_INVALID_FIELD, src,
                                 "idempotency key header repeated");
        gda_slice v = gda_http_request_header(http, src, NULL);
        return take_key(req, src, v.ptr, v.len, err);
    }
    const json_t *v = spec->key_source == GDA_KEY_FROM_POINTER
                          ? resolve_pointer(spec, req->root)
                          : json_object_get(req->root, src);
    if (!v || json_is_null(v))
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, src, "idempotency key missing");
    if (!json_is_string(v))
        return gda_error_set(err, GDA_ERR_INVALID_FIELD, src,
                             "idempotency key must be a string, got %s", json_type_str(v));
    return take_key(req, src, json_string_value(v), json_string_length(v), err);
}

/* ---- parse ------------------------------------------------------------------- */

static gda_status load_body(gda_slice body, int max_depth, json_t **root, gda_error *err)
{
    if (body.len == 0)
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL, "empty body");
    gda_status st = check_bytes(body.ptr, body.len, err);
    if (st != GDA_OK)
        return st;
    size_t bad_at = 0;
    if (!depth_within(body.ptr, body.len, max_depth, &bad_at))
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                             "nesting deeper than %d levels at byte %zu", max_depth, bad_at);
    json_error_t jerr;
    /* DECODE_ANY so a scalar top level gets our clearer message below. */
    *root = json_loadb(body.ptr, body.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!*root)
        return parse_error(&jerr, err);
    return GDA_OK;
}

/* Steps 1 and 2 of gda_request_parse: everything that needs no parsing.
 * *unmeasurable is set when a direct invocation's JSON (no raw bytes) cannot
 * be serialized; the parse step names that problem. */
static gda_status check_envelope(const gda_http_request *http, const gda_limits *lim,
                                 bool *unmeasurable, gda_error *err)
{
    const json_t *given = http->kind == GDA_EVENT_DIRECT ? http->body_json : NULL;
    if (http->body.len > lim->max_body)
        return gda_error_set(err, GDA_ERR_PAYLOAD_TOO_LARGE, NULL,
                             "body of %zu bytes is over the %zu-byte limit", http->body.len,
                             lim->max_body);
    if (given && http->body.len == 0) {
        /* No raw bytes to measure: measure the compact encoding instead
         * (jansson counts without writing when given no buffer). It fails
         * on invalid UTF-8, which check_tree names precisely. */
        size_t size = json_dumpb(given, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
        *unmeasurable = size == 0;
        if (size > lim->max_body)
            return gda_error_set(err, GDA_ERR_PAYLOAD_TOO_LARGE, NULL,
                                 "body of %zu bytes is over the %zu-byte limit", size,
                                 lim->max_body);
    }
    if (http->kind != GDA_EVENT_DIRECT)
        return check_content_type(http, err);
    return GDA_OK;
}

static gda_status resolve_limits(const gda_limits *limits, gda_limits *lim, gda_error *err)
{
    *lim = gda_limits_default();
    if (limits) {
        if (limits->max_depth < 0)
            return gda_error_set(err, GDA_ERR_CONFIG, NULL, "max_depth must not be negative");
        if (limits->max_body)
            lim->max_body = limits->max_body;
        if (limits->max_depth)
            lim->max_depth = limits->max_depth;
    }
    return GDA_OK;
}

gda_status gda_request_check_envelope(const gda_http_request *http, const gda_limits *limits,
                                      gda_envelope *env, gda_error *err)
{
    if (!http || !env || (http->body.len && !http->body.ptr))
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "invalid arguments to envelope check");
    memset(env, 0, sizeof *env);
    gda_status st = resolve_limits(limits, &env->limits, err);
    if (st != GDA_OK)
        return st;
    st = check_envelope(http, &env->limits, &env->unmeasurable, err);
    env->checked = st == GDA_OK;
    return st;
}

gda_status gda_request_parse(const gda_spec *spec, const gda_http_request *http,
                             const gda_limits *limits, gda_request **out, gda_error *err)
{
    if (out)
        *out = NULL;
    if (!spec || !http || !out || (http->body.len && !http->body.ptr))
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "invalid arguments to request parse");
    gda_envelope env;
    gda_status st = gda_request_check_envelope(http, limits, &env, err);
    if (st != GDA_OK)
        return st;
    return gda_request_parse_enveloped(spec, http, &env, out, err);
}

gda_status gda_request_parse_enveloped(const gda_spec *spec, const gda_http_request *http,
                                       const gda_envelope *env, gda_request **out,
                                       gda_error *err)
{
    if (out)
        *out = NULL;
    if (!spec || !http || !env || !env->checked || !out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "invalid arguments to request parse");
    const gda_limits lim = env->limits;
    const bool unmeasurable = env->unmeasurable;
    const json_t *given = http->kind == GDA_EVENT_DIRECT ? http->body_json : NULL;

    json_t *root = NULL;
    if (given) {
        gda_status st = check_tree(given, 1, lim.max_depth, err);
        if (st != GDA_OK)
            return st;
        if (unmeasurable)
            return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                                 "event JSON cannot be serialized");
        /* The request holds its own reference so it may outlive http. */
        root = json_incref((json_t *)given);
    } else {
        gda_status st = load_body(http->body, lim.max_depth, &root, err);
        if (st != GDA_OK)
            return st;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return gda_error_set(err, GDA_ERR_INVALID_JSON, NULL,
                             "top-level value must be a JSON object");
    }
    for (size_t i = 0; i < spec->n_fields; i++) {
        gda_status st = check_field(&spec->fields[i], root, err);
        if (st != GDA_OK) {
            json_decref(root);
            return st;
        }
    }

    gda_request *req = calloc(1, sizeof *req);
    if (!req) {
        json_decref(root);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    }
    req->spec = spec;
    req->root = root;
    gda_status st = select_key(req, http, err);
    if (st != GDA_OK) {
        gda_request_free(req);
        return st;
    }
    *out = req;
    return GDA_OK;
}

void gda_request_free(gda_request *req)
{
    if (!req)
        return;
    json_decref(req->root);
    free(req);
}

const json_t *gda_request_json(const gda_request *req)
{
    return req ? req->root : NULL;
}

const gda_spec *gda_request_spec(const gda_request *req)
{
    return req ? req->spec : NULL;
}

const char *gda_request_idempotency_key(const gda_request *req)
{
    return req ? req->key : NULL;
}

static const json_t *member(const gda_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    return json_object_get(req->root, name);
}

const char *gda_request_string(const gda_request *req, const char *name)
{
    return json_string_value(member(req, name)); /* NULL unless a string */
}

bool gda_request_int(const gda_request *req, const char *name, int64_t *out)
{
    const json_t *v = member(req, name);
    if (!json_is_integer(v))
        return false;
    if (out)
        *out = (int64_t)json_integer_value(v);
    return true;
}

bool gda_request_number(const gda_request *req, const char *name, double *out)
{
    const json_t *v = member(req, name);
    if (!json_is_number(v))
        return false;
    if (out)
        *out = json_number_value(v);
    return true;
}

bool gda_request_bool(const gda_request *req, const char *name, bool *out)
{
    const json_t *v = member(req, name);
    if (!json_is_boolean(v))
        return false;
    if (out)
        *out = json_is_true(v);
    return true;
}

/* ---- redaction -------------------------------------------------------------- */

json_t *gda_request_redacted(const gda_request *req)
{
    if (!req)
        return NULL;
    json_t *copy = json_deep_copy(req->root);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < req->spec->n_fields; i++) {
        const gda_field *f = &req->spec->fields[i];
        json_t *v = f->pii ? json_object_get(copy, f->name) : NULL;
        if (!v || json_is_null(v))
            continue;
        json_t *masked = gda_pii_mask_json(v);
        if (!masked || json_object_set_new(copy, f->name, masked) != 0) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy;
}
