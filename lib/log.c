/* libgda — structured logs and EMF metrics (see include/gda/log.h). */
#include <gda/log.h>
#include <gda/slice.h>
#include "pii.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_internal.h"
#include "buf.h"
#include "json_writer.h"
#include "rfc3339.h"
#include "utf8.h"

#define DEFAULT_NAMESPACE "libgda"
#define DEFAULT_SERVICE "libgda"

/* 15 significant digits write 12.3 as "12.3" rather than jansson's default
 * 17-digit "12.300000000000001". */
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* U+FFFD and U+2026 in UTF-8. */
static const char replacement_char[] = "\xEF\xBF\xBD";
static const char ellipsis[] = "\xE2\x80\xA6";

struct gda_logger {
    atomic_int level;
    pthread_mutex_t sink_lock; /* serializes sink calls only */
    gda_log_sink_fn sink;
    void *sink_user;
    char **pii_fields;
    size_t pii_field_count;
    gda_log_pii_fn is_pii;
    void *is_pii_user;
    bool metrics_enabled;
    /* The fixed parts of every EMF line, escaped once here: what follows the
     * timestamp up to the metric definitions, and what closes the directive
     * and names the Service dimension. */
    char *emf_namespace;
    size_t emf_namespace_len;
    char *emf_service;
    size_t emf_service_len;
};

/* Members an extra object may not set: the standard fields (so a caller's
 * data cannot overwrite what the pipeline asserts) and "_aws" (so a log line
 * cannot be read by CloudWatch as an EMF metric record). */
static const char *const reserved_names[] = {
    "timestamp", "level", "message", "requestId", "interactionId",
    "awsRequestId", "traceId", "statusCode", "executionTimeMs", "outcome",
    "errorCode", "authFailure", "keyId", "_aws",
};

/* ---- small helpers ----------------------------------------------------- */


static char *dup_string(const char *s)
{
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy)
        memcpy(copy, s, n + 1);
    return copy;
}

/* The safe form of s[0..len): ill-formed bytes and NUL become U+FFFD, and
 * text past GDA_LOG_MAX_STRING bytes is cut at a character boundary and ends
 * with "…". Handed out piece by piece to emit, so callers decide where the
 * text goes (a jansson string, or a line being written) without a copy. */
typedef void (*piece_fn)(const char *piece, size_t len, void *ctx);

static bool text_is_safe(const char *s, size_t len)
{
    return len <= GDA_LOG_MAX_STRING && gda_utf8_validate(s, len, NULL, NULL) == GDA_UTF8_OK;
}

static void sanitize(const char *s, size_t len, piece_fn emit, void *ctx)
{
    /* Fast path: already valid, NUL-free and short enough, the common case. */
    if (text_is_safe(s, len)) {
        emit(s, len, ctx);
        return;
    }
    size_t used = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp = 0;
        size_t n = 0;
        /* NUL: legal JSON as \u0000, but many readers refuse it. */
        if (gda_utf8_decode(s + i, len - i, &cp, &n) != GDA_UTF8_OK || cp == 0)
            n = 0;
        const char *piece = n ? s + i : replacement_char;
        size_t piece_len = n ? n : sizeof replacement_char - 1;
        if (used + piece_len > GDA_LOG_MAX_STRING) {
            emit(ellipsis, sizeof ellipsis - 1, ctx);
            return;
        }
        emit(piece, piece_len, ctx);
        used += piece_len;
        i += n ? n : 1;
    }
}

typedef struct fixed_text {
    char *data;
    size_t len;
} fixed_text;

static void append_piece(const char *piece, size_t len, void *ctx)
{
    fixed_text *t = ctx;
    memcpy(t->data + t->len, piece, len);
    t->len += len;
}

/* A JSON string holding the safe form of s[0..len) (see sanitize). Returns
 * NULL only when memory runs out. */
static json_t *safe_string(const char *s, size_t len)
{
    if (text_is_safe(s, len))
        return json_stringn_nocheck(s, len);
    /* Each input byte yields at most 3 output bytes, and output stops at the
     * limit plus one last piece and the ellipsis. */
    const size_t cap_limit = GDA_LOG_MAX_STRING + 2 * (sizeof replacement_char - 1) + 1;
    size_t cap = len < cap_limit / 3 ? len * 3 + 1 : cap_limit;
    fixed_text out = {malloc(cap), 0};
    if (!out.data)
        return NULL;
    sanitize(s, len, append_piece, &out);
    json_t *str = json_stringn_nocheck(out.data, out.len);
    free(out.data);
    return str;
}

/* Integral values as JSON integers ("1", not "1.0"), others as reals. */
static bool is_integral(double v)
{
    /* Within ±2^53 every integer is exact, so the round trip through
     * json_int_t tells integral values apart (and needs no libm). */
    return v >= -9007199254740992.0 && v <= 9007199254740992.0 && (double)(json_int_t)v == v;
}

/* Steals value; false (value released) when it is NULL or cannot be added. */
static bool put(json_t *obj, const char *key, json_t *value)
{
    if (!value)
        return false;
    return json_object_set_new_nocheck(obj, key, value) == 0;
}

/* ---- line writer ---------------------------------------------------------
 *
 * Lines are written straight into a buffer as JSON text: the fixed parts as
 * literals, every dynamic string made safe (sanitize) and escaped. Building a
 * line allocates nothing unless it outgrows the caller's stack buffer, which
 * holds any line the request pipeline writes. The text is byte for byte what
 * jansson's compact, order-preserving dump of the same object would be
 * (escapes, number forms), so readers see no change; tests/unit/test_log.c
 * compares the two. */

#define LINE_STACK_SIZE 4096

/* Valid UTF-8 as jansson escapes it (upper-case \u00XX); a piece_fn, so
 * sanitize can feed it. */
static void lb_escaped(const char *s, size_t n, void *ctx)
{
    gda_json_escaped(ctx, s, n, GDA_HEX_UPPER);
}

/* Text already known to be valid UTF-8 (names, configuration) as a JSON
 * string. */
static void lb_string(gda_buf *b, const char *s, size_t n)
{
    gda_json_string(b, s, n, GDA_HEX_UPPER);
}

/* Any bytes as a JSON string of their safe form (see sanitize). */
static void lb_safe_string(gda_buf *b, const char *s, size_t n)
{
    GDA_BUF_LIT(b, "\"");
    sanitize(s, n, lb_escaped, b);
    GDA_BUF_LIT(b, "\"");
}

/* Integral values as JSON integers ("1", not "1.0"), others as reals. */
static void lb_number(gda_buf *b, double v)
{
    if (is_integral(v))
        gda_json_int(b, (long long)(json_int_t)v);
    else
        gda_json_real(b, v);
}

/* Finish the line (newline, then a NUL the sink may rely on but is not
 * counted) and hand it to the sink in one call, under the sink lock: lines
 * of concurrent callers never interleave. */
static gda_status emit_line(gda_logger *lg, gda_buf *b, gda_error *err)
{
    GDA_BUF_LIT(b, "\n");
    if (b->failed) {
        gda_buf_free(b);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "log line: out of memory");
    }
    pthread_mutex_lock(&lg->sink_lock);
    lg->sink(b->data, b->len, lg->sink_user);
    pthread_mutex_unlock(&lg->sink_lock);
    gda_buf_free(b);
    return GDA_OK;
}

/* ---- levels, outcomes, units -------------------------------------------- */

gda_status gda_log_level_parse(const char *text, gda_log_level *out, gda_error *err)
{
    static const struct {
        const char *name;
        gda_log_level level;
    } names[] = {
        {"trace", GDA_LOG_DEBUG}, {"debug", GDA_LOG_DEBUG}, {"info", GDA_LOG_INFO},
        {"warn", GDA_LOG_WARN},   {"warning", GDA_LOG_WARN}, {"error", GDA_LOG_ERROR},
        {"fatal", GDA_LOG_ERROR},
    };
    if (text && out) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (gda_slice_ieq(gda_slice_cstr(text), names[i].name)) {
                *out = names[i].level;
                return GDA_OK;
            }
        }
    }
    /* The value itself is not echoed: it came from the environment and the
     * error may end up in a log. */
    return gda_error_set(err, GDA_ERR_CONFIG, "log_level",
                         "unknown log level (use DEBUG, INFO, WARN or ERROR)");
}

const char *gda_log_level_str(gda_log_level level)
{
    switch (level) {
    case GDA_LOG_DEBUG:
        return "DEBUG";
    case GDA_LOG_INFO:
        return "INFO";
    case GDA_LOG_WARN:
        return "WARN";
    case GDA_LOG_ERROR:
        return "ERROR";
    }
    return "unknown";
}

static bool level_in_range(int level)
{
    return level >= GDA_LOG_DEBUG && level <= GDA_LOG_ERROR;
}

const char *gda_log_outcome_str(gda_log_outcome outcome)
{
    switch (outcome) {
    case GDA_LOG_OUTCOME_NONE:
        return "none";
    case GDA_LOG_OUTCOME_NEW:
        return "new";
    case GDA_LOG_OUTCOME_REPLAY:
        return "replay";
    case GDA_LOG_OUTCOME_IN_PROGRESS:
        return "in_progress";
    case GDA_LOG_OUTCOME_MISMATCH:
        return "mismatch";
    case GDA_LOG_OUTCOME_CONFLICT:
        return "conflict";
    case GDA_LOG_OUTCOME_UNSET:
        return "unset";
    }
    return "unknown";
}

const char *gda_metric_unit_str(gda_metric_unit unit)
{
    switch (unit) {
    case GDA_METRIC_NONE:
        return "None";
    case GDA_METRIC_COUNT:
        return "Count";
    case GDA_METRIC_MILLISECONDS:
        return "Milliseconds";
    case GDA_METRIC_MICROSECONDS:
        return "Microseconds";
    case GDA_METRIC_SECONDS:
        return "Seconds";
    case GDA_METRIC_BYTES:
        return "Bytes";
    case GDA_METRIC_PERCENT:
        return "Percent";
    }
    return "unknown";
}

static bool unit_known(gda_metric_unit unit)
{
    return unit >= GDA_METRIC_NONE && unit <= GDA_METRIC_PERCENT;
}

/* ---- logger lifecycle ---------------------------------------------------- */

gda_log_config gda_log_config_default(void)
{
    return (gda_log_config){
        .level = GDA_LOG_INFO,
        .sink = gda_log_sink_stdout,
        .metrics_enabled = true,
        .metrics_namespace = DEFAULT_NAMESPACE,
        .service = DEFAULT_SERVICE,
    };
}

/* CloudWatch namespaces: 1..255 of [A-Za-z0-9 ._/#:-], not starting with
 * "AWS/" (reserved for AWS services). */
static bool valid_namespace(const char *ns)
{
    size_t n = strlen(ns);
    if (n == 0 || n > GDA_METRICS_MAX_NAMESPACE || strncmp(ns, "AWS/", 4) == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = ns[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr(" ._/#:-", c) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

/* Dimension values: 1..1024 bytes of UTF-8 with at least one non-blank. */
static bool valid_dimension_value(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > GDA_METRICS_MAX_DIMENSION || !gda_utf8_valid(v, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] != ' ' && v[i] != '\t')
            return true;
    }
    return false;
}

/* before + value as a JSON string + after, as a new heap string (NULL: no
 * memory). */
static char *emf_part(const char *before, const char *value, const char *after, size_t *len)
{
    char stack[LINE_STACK_SIZE];
    gda_buf b;
    gda_buf_init_storage(&b, stack, sizeof stack);
    gda_buf_append_str(&b, before);
    lb_string(&b, value, strlen(value));
    gda_buf_append_str(&b, after);
    return gda_buf_steal(&b, len);
}

void gda_logger_free(gda_logger *lg)
{
    if (!lg)
        return;
    for (size_t i = 0; i < lg->pii_field_count; i++)
        free(lg->pii_fields[i]);
    free(lg->pii_fields);
    free(lg->emf_namespace);
    free(lg->emf_service);
    pthread_mutex_destroy(&lg->sink_lock);
    free(lg);
}

gda_logger *gda_logger_new(const gda_log_config *cfg, gda_error *err)
{
    gda_log_config defaults = gda_log_config_default();
    if (!cfg)
        cfg = &defaults;
    const char *ns = cfg->metrics_namespace ? cfg->metrics_namespace : DEFAULT_NAMESPACE;
    const char *service = cfg->service ? cfg->service : DEFAULT_SERVICE;

    if (!level_in_range((int)cfg->level)) {
        gda_error_set(err, GDA_ERR_CONFIG, "level", "log level out of range");
        return NULL;
    }
    if (cfg->pii_field_count > 0 && !cfg->pii_fields) {
        gda_error_set(err, GDA_ERR_CONFIG, "pii_fields", "pii_fields is NULL but its count is not 0");
        return NULL;
    }
    for (size_t i = 0; i < cfg->pii_field_count; i++) {
        if (!cfg->pii_fields[i]) {
            gda_error_set(err, GDA_ERR_CONFIG, "pii_fields", "pii_fields[%zu] is NULL", i);
            return NULL;
        }
    }
    if (!valid_namespace(ns)) {
        gda_error_set(err, GDA_ERR_CONFIG, "metrics_namespace",
                      "metrics namespace must be 1-255 characters of A-Z a-z 0-9 . _ / # : - "
                      "or space, not starting with AWS/");
        return NULL;
    }
    if (!valid_dimension_value(service)) {
        gda_error_set(err, GDA_ERR_CONFIG, "service",
                      "service must be 1-1024 bytes of UTF-8, not only blanks");
        return NULL;
    }

    gda_logger *lg = calloc(1, sizeof *lg);
    if (!lg)
        goto nomem;
    if (pthread_mutex_init(&lg->sink_lock, NULL) != 0) {
        free(lg);
        goto nomem;
    }
    atomic_init(&lg->level, (int)cfg->level);
    lg->sink = cfg->sink ? cfg->sink : gda_log_sink_stdout;
    lg->sink_user = cfg->sink_user;
    lg->is_pii = cfg->is_pii;
    lg->is_pii_user = cfg->is_pii_user;
    lg->metrics_enabled = cfg->metrics_enabled;
    lg->emf_namespace = emf_part(",\"CloudWatchMetrics\":[{\"Namespace\":", ns,
                                 ",\"Dimensions\":[[\"Service\"]],\"Metrics\":[",
                                 &lg->emf_namespace_len);
    lg->emf_service = emf_part("]}]},\"Service\":", service, "", &lg->emf_service_len);
    if (!lg->emf_namespace || !lg->emf_service)
        goto fail;
    if (cfg->pii_field_count > 0) {
        if (cfg->pii_field_count > SIZE_MAX / sizeof *lg->pii_fields)
            goto fail;
        lg->pii_fields = calloc(cfg->pii_field_count, sizeof *lg->pii_fields);
        if (!lg->pii_fields)
            goto fail;
        for (size_t i = 0; i < cfg->pii_field_count; i++) {
            lg->pii_fields[i] = dup_string(cfg->pii_fields[i]);
            if (!lg->pii_fields[i])
                goto fail;
            lg->pii_field_count = i + 1;
        }
    }
    return lg;

fail:
    gda_logger_free(lg);
nomem:
    gda_error_set(err, GDA_ERR_NOMEM, NULL, "logger: out of memory");
    return NULL;
}

gda_log_level gda_logger_level(const gda_logger *lg)
{
    if (!lg)
        return GDA_LOG_ERROR;
    return (gda_log_level)atomic_load(&((gda_logger *)lg)->level);
}

void gda_logger_set_level(gda_logger *lg, gda_log_level level)
{
    if (lg && level_in_range((int)level))
        atomic_store(&lg->level, (int)level);
}

bool gda_logger_enabled(const gda_logger *lg, gda_log_level level)
{
    return lg && level_in_range((int)level) && (int)level >= (int)gda_logger_level(lg);
}

/* ---- PII redaction ------------------------------------------------------- */

static bool name_is_pii(const gda_logger *lg, const char *name)
{
    for (size_t i = 0; i < lg->pii_field_count; i++) {
        if (gda_slice_ieq(gda_slice_cstr(name), lg->pii_fields[i]))
            return true;
    }
    return lg->is_pii && lg->is_pii(name, lg->is_pii_user);
}

static bool is_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++) {
        if (gda_slice_ieq(gda_slice_cstr(name), reserved_names[i]))
            return true;
    }
    return false;
}

/* A new value equal to v with strings made safe and PII members masked, at
 * any depth. Fresh scalars are built rather than sharing the caller's, so
 * nothing the caller owns is touched. NULL only when memory runs out. */
static json_t *redacted_copy(const gda_logger *lg, const json_t *v, int depth)
{
    if (depth > GDA_LOG_MAX_DEPTH)
        return json_string_nocheck("[too deep]");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        json_t *copy = json_object();
        if (!copy)
            return NULL;
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member) {
            /* A key built with jansson's unchecked setters may be invalid
             * UTF-8; jansson would then refuse to dump the whole line. */
            json_t *safe_key = safe_string(key, strlen(key));
            if (!safe_key) {
                json_decref(copy);
                return NULL;
            }
            const char *name = json_string_value(safe_key);
            bool pii = name_is_pii(lg, name) ||
                       (strcmp(name, key) != 0 && name_is_pii(lg, key));
            json_t *value = pii ? gda_pii_mask_json(member)
                                : redacted_copy(lg, member, depth + 1);
            bool ok = put(copy, name, value);
            json_decref(safe_key);
            if (!ok) {
                json_decref(copy);
                return NULL;
            }
        }
        return copy;
    }
    case JSON_ARRAY: {
        json_t *copy = json_array();
        if (!copy)
            return NULL;
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (json_array_append_new(copy, redacted_copy(lg, item, depth + 1)) != 0) {
                json_decref(copy);
                return NULL;
            }
        }
        return copy;
    }
    case JSON_STRING:
        return safe_string(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return json_integer(json_integer_value(v));
    case JSON_REAL:
        return json_real(json_real_value(v));
    case JSON_TRUE:
        return json_true();
    case JSON_FALSE:
        return json_false();
    case JSON_NULL:
        break;
    }
    return json_null();
}

/* ---- log lines ----------------------------------------------------------- */

/* ,"name":"value" for an optional string field. */
static void write_string_field(gda_buf *b, const char *member, size_t member_len,
                               const char *value)
{
    if (value) {
        gda_buf_append(b, member, member_len);
        lb_safe_string(b, value, strlen(value));
    }
}

#define STRING_FIELD(b, lit, value) write_string_field((b), (lit), sizeof(lit) - 1, (value))

static void write_fields(gda_buf *b, const gda_log_fields *f)
{
    STRING_FIELD(b, ",\"requestId\":", f->request_id);
    STRING_FIELD(b, ",\"interactionId\":", f->interaction_id);
    STRING_FIELD(b, ",\"awsRequestId\":", f->aws_request_id);
    STRING_FIELD(b, ",\"traceId\":", f->trace_id);
    if (f->status_code != 0) {
        GDA_BUF_LIT(b, ",\"statusCode\":");
        gda_json_int(b, f->status_code);
    }
    /* JSON has no NaN or infinity; such a time is simply omitted. */
    if (f->has_execution_time && isfinite(f->execution_time_ms)) {
        GDA_BUF_LIT(b, ",\"executionTimeMs\":");
        lb_number(b, f->execution_time_ms);
    }
    if (f->outcome > GDA_LOG_OUTCOME_UNSET && f->outcome <= GDA_LOG_OUTCOME_CONFLICT) {
        const char *outcome = gda_log_outcome_str(f->outcome);
        GDA_BUF_LIT(b, ",\"outcome\":");
        lb_string(b, outcome, strlen(outcome));
    }
    STRING_FIELD(b, ",\"errorCode\":", f->error_code);
    STRING_FIELD(b, ",\"errorField\":", f->error_field);
    STRING_FIELD(b, ",\"errorMessage\":", f->error_message);
    STRING_FIELD(b, ",\"authFailure\":", f->auth_failure);
    STRING_FIELD(b, ",\"keyId\":", f->key_id);
    if (f->lease_lost)
        GDA_BUF_LIT(b, ",\"leaseLost\":true");
    if (f->data_key_missing)
        GDA_BUF_LIT(b, ",\"dataKeyMissing\":true");
}

static void write_masked(gda_buf *b, const json_t *value)
{
    char masked[GDA_PII_MASKED_MAX + 1];
    size_t n = gda_pii_mask_value(value, masked, sizeof masked);
    lb_safe_string(b, masked, n);
}

/* A key usable as written. One that sanitize would change (built with
 * jansson's unchecked setters), or that holds a NUL (jansson >= 2.14 allows
 * it; the text before the NUL is what counts here), could turn into a
 * duplicate of another key: the caller then takes the copying path. */
static bool key_is_plain(const char *key, size_t *len)
{
    *len = strlen(key);
#if JANSSON_VERSION_HEX >= 0x020e00
    if (json_object_iter_key_len(json_object_key_to_iter(key)) != *len)
        return false;
#endif
    return text_is_safe(key, *len);
}

/* v written as redacted_copy would make it (strings made safe, PII members
 * masked at any depth, "[too deep]" past GDA_LOG_MAX_DEPTH), without building
 * the copy. False when some key is not plain; b may then hold part of v. */
static bool write_value(const gda_logger *lg, gda_buf *b, const json_t *v, int depth)
{
    if (depth > GDA_LOG_MAX_DEPTH) {
        GDA_BUF_LIT(b, "\"[too deep]\"");
        return true;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *member;
        bool first = true;
        GDA_BUF_LIT(b, "{");
        json_object_foreach((json_t *)v, key, member) {
            size_t key_len;
            if (!key_is_plain(key, &key_len))
                return false;
            if (!first)
                GDA_BUF_LIT(b, ",");
            first = false;
            lb_string(b, key, key_len);
            GDA_BUF_LIT(b, ":");
            if (name_is_pii(lg, key))
                write_masked(b, member);
            else if (!write_value(lg, b, member, depth + 1))
                return false;
        }
        GDA_BUF_LIT(b, "}");
        return true;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        GDA_BUF_LIT(b, "[");
        json_array_foreach(v, i, item) {
            if (i)
                GDA_BUF_LIT(b, ",");
            if (!write_value(lg, b, item, depth + 1))
                return false;
        }
        GDA_BUF_LIT(b, "]");
        return true;
    }
    case JSON_STRING:
        lb_safe_string(b, json_string_value(v), json_string_length(v));
        return true;
    case JSON_INTEGER:
        gda_json_int(b, (long long)json_integer_value(v));
        return true;
    case JSON_REAL:
        gda_json_real(b, json_real_value(v));
        return true;
    case JSON_TRUE:
    case JSON_FALSE:
        gda_json_bool(b, json_is_true(v));
        return true;
    case JSON_NULL:
        break;
    }
    GDA_BUF_LIT(b, "null");
    return true;
}

/* The members of extra, after the standard ones, with reserved names
 * dropped. False when some key is not plain (b may hold part of them). */
static bool write_extra_members(const gda_logger *lg, gda_buf *b, const json_t *extra)
{
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)extra, key, member) {
        size_t key_len;
        if (!key_is_plain(key, &key_len))
            return false;
        if (is_reserved(key))
            continue;
        GDA_BUF_LIT(b, ",");
        lb_string(b, key, key_len);
        GDA_BUF_LIT(b, ":");
        if (name_is_pii(lg, key))
            write_masked(b, member);
        else if (!write_value(lg, b, member, 2))
            return false;
    }
    return true;
}

static int dump_into_line(const char *chunk, size_t size, void *data)
{
    gda_buf *b = data;
    gda_buf_append(b, chunk, size);
    return b->failed ? -1 : 0;
}

/* The rare extra object with keys that are not valid UTF-8: sanitising them
 * may make two keys equal, which the copy merges as it always has. The copy
 * is dumped by jansson and spliced in as members. */
static bool write_extra_copied(const gda_logger *lg, gda_buf *b, const json_t *extra)
{
    json_t *copy = redacted_copy(lg, extra, 1);
    if (!copy)
        return false;
    const char *key;
    json_t *value;
    void *next;
    json_object_foreach_safe(copy, next, key, value) {
        if (is_reserved(key))
            json_object_del(copy, key);
    }
    size_t at = b->len;
    bool ok = json_dump_callback(copy, dump_into_line, b, DUMP_FLAGS) == 0 && !b->failed &&
              b->len - at >= 2;
    json_decref(copy);
    if (!ok)
        return false;
    /* "{...}" becomes ",..." and "{}" nothing. */
    gda_buf_truncate(b, b->len - 1);
    if (b->len - at == 1)
        gda_buf_truncate(b, at);
    else
        b->data[at] = ',';
    return true;
}

static gda_status log_message(gda_logger *lg, gda_log_level level, int64_t now_ms,
                              const gda_log_fields *fields, const json_t *extra,
                              const char *message, size_t message_len, gda_error *err)
{
    char stack[LINE_STACK_SIZE];
    gda_buf b;
    gda_buf_init_storage(&b, stack, sizeof stack);
    char timestamp[GDA_RFC3339_LEN + 1];
    gda_rfc3339_format_ms(now_ms, timestamp); /* in range: checked by every caller */
    const char *level_text = gda_log_level_str(level);

    GDA_BUF_LIT(&b, "{\"timestamp\":\"");
    gda_buf_append(&b, timestamp, GDA_RFC3339_LEN);
    GDA_BUF_LIT(&b, "\",\"level\":\"");
    gda_buf_append(&b, level_text, strlen(level_text));
    GDA_BUF_LIT(&b, "\",\"message\":");
    lb_safe_string(&b, message, message_len);
    if (fields)
        write_fields(&b, fields);
    if (extra) {
        size_t before = b.len;
        if (!write_extra_members(lg, &b, extra)) {
            gda_buf_truncate(&b, before);
            if (!write_extra_copied(lg, &b, extra))
                b.failed = true;
        }
    }
    GDA_BUF_LIT(&b, "}");
    return emit_line(lg, &b, err);
}

/* Arguments both gda_log and gda_logf check before doing any work. */
static gda_status check_log_args(const gda_logger *lg, gda_log_level level, int64_t now_ms,
                                 const json_t *extra, gda_error *err)
{
    if (!lg)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "log: no logger");
    if (!level_in_range((int)level))
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "log: level out of range");
    if (now_ms < 0 || now_ms > GDA_RFC3339_MAX_MS)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "log: time out of range");
    if (extra && !json_is_object(extra))
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "log: extra is not a JSON object");
    return GDA_OK;
}

gda_status gda_log(gda_logger *lg, gda_log_level level, int64_t now_ms,
                   const gda_log_fields *fields, const json_t *extra, const char *message,
                   gda_error *err)
{
    gda_status st = check_log_args(lg, level, now_ms, extra, err);
    if (st != GDA_OK)
        return st;
    if (!gda_logger_enabled(lg, level))
        return GDA_OK;
    if (!message)
        message = "";
    return log_message(lg, level, now_ms, fields, extra, message, strlen(message), err);
}

gda_status gda_logf(gda_logger *lg, gda_log_level level, int64_t now_ms,
                    const gda_log_fields *fields, const json_t *extra, gda_error *err,
                    const char *fmt, ...)
{
    gda_status st = check_log_args(lg, level, now_ms, extra, err);
    if (st != GDA_OK)
        return st;
    if (!gda_logger_enabled(lg, level))
        return GDA_OK;
    if (!fmt)
        fmt = "";

    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int needed = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (needed < 0)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "log: bad format");
    if ((size_t)needed < sizeof small)
        return log_message(lg, level, now_ms, fields, extra, small, (size_t)needed, err);

    /* Long messages: anything past the string limit would be cut anyway, so
     * format only slightly more than that (enough for safe_string to see the
     * text is too long and mark the cut). */
    size_t size = (size_t)needed < GDA_LOG_MAX_STRING + 8 ? (size_t)needed + 1
                                                          : GDA_LOG_MAX_STRING + 9;
    char *big = malloc(size);
    if (!big)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "log line: out of memory");
    va_start(ap, fmt);
    vsnprintf(big, size, fmt, ap);
    va_end(ap);
    st = log_message(lg, level, now_ms, fields, extra, big, strlen(big), err);
    free(big);
    return st;
}

/* The one place the core performs I/O: the logger needs a default
 * destination, and Lambda collects stdout into CloudWatch Logs. */
void gda_log_sink_stdout(const char *line, size_t len, void *user)
{
    (void)user;
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, line, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        line += n;
        len -= (size_t)n;
    }
}

/* ---- metrics --------------------------------------------------------------- */

static gda_status check_metrics(const gda_metric *metrics, size_t n, gda_error *err)
{
    if (!metrics || n == 0 || n > GDA_METRICS_MAX_PER_LINE)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                             "metrics: need 1 to %d metrics", GDA_METRICS_MAX_PER_LINE);
    for (size_t i = 0; i < n; i++) {
        const gda_metric *m = &metrics[i];
        if (!m->name || m->name[0] == '\0' || strlen(m->name) > GDA_METRICS_MAX_NAME ||
            !gda_utf8_valid(m->name, strlen(m->name)))
            return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                                 "metrics[%zu]: name must be 1-255 bytes of UTF-8", i);
        /* These would collide with the dimension or the EMF directive. */
        if (strcmp(m->name, "Service") == 0 || strcmp(m->name, "_aws") == 0)
            return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "metrics[%zu]: reserved name", i);
        if (!unit_known(m->unit))
            return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "metrics[%zu]: unknown unit", i);
        if (!isfinite(m->value))
            return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "metrics[%zu]: value not finite",
                                 i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(metrics[j].name, m->name) == 0)
                return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                                     "metrics[%zu]: duplicate name", i);
        }
    }
    return GDA_OK;
}

static gda_status write_metrics(gda_logger *lg, const gda_metric *metrics, size_t n,
                                int64_t now_ms, gda_error *err);

gda_status gda_metrics_emit(gda_logger *lg, const gda_metric *metrics, size_t n, int64_t now_ms,
                            gda_error *err)
{
    if (!lg)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "metrics: no logger");
    if (now_ms < 0 || now_ms > GDA_RFC3339_MAX_MS)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "metrics: time out of range");
    gda_status st = check_metrics(metrics, n, err);
    if (st != GDA_OK || !lg->metrics_enabled)
        return st;
    return write_metrics(lg, metrics, n, now_ms, err);
}

/* One EMF line for metrics that passed check_metrics. */
static gda_status write_metrics(gda_logger *lg, const gda_metric *metrics, size_t n,
                                int64_t now_ms, gda_error *err)
{
    /* {"_aws":{"Timestamp":T,"CloudWatchMetrics":[{"Namespace":NS,
     *  "Dimensions":[["Service"]],"Metrics":[{"Name":N,"Unit":U},...]}]},
     *  "Service":S,N:V,...} — the namespace and service parts were written
     * once, when the logger was made. */
    char stack[LINE_STACK_SIZE];
    gda_buf b;
    gda_buf_init_storage(&b, stack, sizeof stack);
    GDA_BUF_LIT(&b, "{\"_aws\":{\"Timestamp\":");
    gda_json_int(&b, now_ms);
    gda_buf_append(&b, lg->emf_namespace, lg->emf_namespace_len);
    for (size_t i = 0; i < n; i++) {
        const char *unit = gda_metric_unit_str(metrics[i].unit);
        GDA_BUF_LIT(&b, "{\"Name\":");
        lb_string(&b, metrics[i].name, strlen(metrics[i].name));
        GDA_BUF_LIT(&b, ",\"Unit\":\"");
        gda_buf_append(&b, unit, strlen(unit));
        if (i + 1 < n)
            GDA_BUF_LIT(&b, "\"},");
        else
            GDA_BUF_LIT(&b, "\"}");
    }
    gda_buf_append(&b, lg->emf_service, lg->emf_service_len);
    for (size_t i = 0; i < n; i++) {
        GDA_BUF_LIT(&b, ",");
        lb_string(&b, metrics[i].name, strlen(metrics[i].name));
        GDA_BUF_LIT(&b, ":");
        lb_number(&b, metrics[i].value);
    }
    GDA_BUF_LIT(&b, "}");
    return emit_line(lg, &b, err);
}

gda_status gda_metrics_emit_request(gda_logger *lg, const gda_log_fields *fields,
                                    bool store_error, int64_t now_ms, gda_error *err)
{
    if (!fields)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "metrics: no fields");
    int status = fields->status_code;
    gda_metric m[10];
    size_t n = 0;
    if (fields->has_execution_time && isfinite(fields->execution_time_ms))
        m[n++] = (gda_metric){GDA_METRIC_LATENCY, GDA_METRIC_MILLISECONDS,
                              fields->execution_time_ms};
    m[n++] = (gda_metric){GDA_METRIC_REQUESTS, GDA_METRIC_COUNT, 1};
    m[n++] = (gda_metric){GDA_METRIC_REPLAYS, GDA_METRIC_COUNT,
                          fields->outcome == GDA_LOG_OUTCOME_REPLAY ? 1 : 0};
    m[n++] = (gda_metric){GDA_METRIC_AUTH_FAILURES, GDA_METRIC_COUNT,
                          fields->auth_failure ? 1 : 0};
    m[n++] = (gda_metric){GDA_METRIC_STORE_ERRORS, GDA_METRIC_COUNT, store_error ? 1 : 0};
    m[n++] = (gda_metric){GDA_METRIC_IN_PROGRESS_CONFLICTS, GDA_METRIC_COUNT,
                          fields->outcome == GDA_LOG_OUTCOME_IN_PROGRESS ? 1 : 0};
    m[n++] = (gda_metric){GDA_METRIC_ERRORS_4XX, GDA_METRIC_COUNT,
                          status >= 400 && status < 500 ? 1 : 0};
    m[n++] = (gda_metric){GDA_METRIC_ERRORS_5XX, GDA_METRIC_COUNT,
                          status >= 500 && status < 600 ? 1 : 0};
    m[n++] = (gda_metric){GDA_METRIC_LEASE_LOST, GDA_METRIC_COUNT, fields->lease_lost ? 1 : 0};
    m[n++] = (gda_metric){GDA_METRIC_DATA_KEY_MISSING, GDA_METRIC_COUNT,
                          fields->data_key_missing ? 1 : 0};
    /* Fixed, distinct names and finite values: nothing for check_metrics to
     * find, and this runs on every request. */
    if (!lg)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "metrics: no logger");
    if (now_ms < 0 || now_ms > GDA_RFC3339_MAX_MS)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "metrics: time out of range");
    if (!lg->metrics_enabled)
        return GDA_OK;
    return write_metrics(lg, m, n, now_ms, err);
}
