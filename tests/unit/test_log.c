/* Tests for include/gda/log.h: log lines, levels, escaping, PII masking,
 * EMF metrics, the default sink and concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>

#include "log_internal.h"
#include <gda/log.h>

/* 2026-11-24T10:00:00.123Z */
#define T0 INT64_C(1795514400123)

/* ---- capture sink ---------------------------------------------------------- */

typedef struct capture {
    char *lines[64];
    size_t count;
    int calls;
} capture;

/* Every call must be exactly one line: len counts the single trailing '\n'
 * and the buffer is NUL-terminated right after it. */
static void capture_sink(const char *line, size_t len, void *user)
{
    capture *cap = user;
    cap->calls++;
    assert_true(len >= 2);
    assert_int_equal(strlen(line), len);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    assert_true(cap->count < sizeof cap->lines / sizeof cap->lines[0]);
    cap->lines[cap->count] = malloc(len + 1);
    assert_non_null(cap->lines[cap->count]);
    memcpy(cap->lines[cap->count], line, len + 1);
    cap->count++;
}

static void capture_reset(capture *cap)
{
    for (size_t i = 0; i < cap->count; i++)
        free(cap->lines[i]);
    memset(cap, 0, sizeof *cap);
}

/* Parse a captured line strictly (duplicate keys would mean a forged field). */
static json_t *parse_line(const char *line)
{
    json_error_t jerr;
    json_t *obj = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        fail_msg("line is not JSON (%s): %s", jerr.text, line);
    assert_true(json_is_object(obj));
    return obj;
}

static const char *str_member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("member %s is not a string", key);
    return json_string_value(v);
}

static gda_logger *capture_logger(capture *cap, gda_log_level level)
{
    memset(cap, 0, sizeof *cap);
    gda_log_config cfg = gda_log_config_default();
    cfg.level = level;
    cfg.sink = capture_sink;
    cfg.sink_user = cap;
    gda_error err;
    gda_logger *lg = gda_logger_new(&cfg, &err);
    assert_non_null(lg);
    return lg;
}

/* ---- levels and names -------------------------------------------------------- */

static void test_level_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        gda_log_level level;
    } ok[] = {
        {"DEBUG", GDA_LOG_DEBUG}, {"debug", GDA_LOG_DEBUG}, {"TRACE", GDA_LOG_DEBUG},
        {"trace", GDA_LOG_DEBUG}, {"INFO", GDA_LOG_INFO},   {"info", GDA_LOG_INFO},
        {"Info", GDA_LOG_INFO},   {"WARN", GDA_LOG_WARN},   {"warning", GDA_LOG_WARN},
        {"ERROR", GDA_LOG_ERROR}, {"error", GDA_LOG_ERROR}, {"FATAL", GDA_LOG_ERROR},
        {"fAtAl", GDA_LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        gda_log_level level = (gda_log_level)-1;
        assert_int_equal(gda_log_level_parse(ok[i].text, &level, NULL), GDA_OK);
        assert_int_equal(level, ok[i].level);
    }

    const char *bad[] = {"", "verbose", " INFO", "INFO ", "INF", "INFOO", "0", "debug\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gda_log_level level = GDA_LOG_WARN;
        gda_error err;
        assert_int_equal(gda_log_level_parse(bad[i], &level, &err), GDA_ERR_CONFIG);
        assert_int_equal(err.code, GDA_ERR_CONFIG);
        assert_string_equal(err.field, "log_level");
        assert_int_equal(level, GDA_LOG_WARN); /* untouched */
    }
    gda_log_level level = GDA_LOG_INFO;
    assert_int_equal(gda_log_level_parse(NULL, &level, NULL), GDA_ERR_CONFIG);
    assert_int_equal(gda_log_level_parse("info", NULL, NULL), GDA_ERR_CONFIG);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(gda_log_level_str(GDA_LOG_DEBUG), "DEBUG");
    assert_string_equal(gda_log_level_str(GDA_LOG_INFO), "INFO");
    assert_string_equal(gda_log_level_str(GDA_LOG_WARN), "WARN");
    assert_string_equal(gda_log_level_str(GDA_LOG_ERROR), "ERROR");
    assert_string_equal(gda_log_level_str((gda_log_level)42), "unknown");

    assert_string_equal(gda_log_outcome_str(GDA_LOG_OUTCOME_UNSET), "unset");
    assert_string_equal(gda_log_outcome_str(GDA_LOG_OUTCOME_NONE), "none");
    assert_string_equal(gda_log_outcome_str(GDA_LOG_OUTCOME_NEW), "new");
    assert_string_equal(gda_log_outcome_str(GDA_LOG_OUTCOME_REPLAY), "replay");
    assert_string_equal(gda_log_outcome_str(GDA_LOG_OUTCOME_IN_PROGRESS), "in_progress");
    assert_string_equal(gda_log_outcome_str(GDA_LOG_OUTCOME_MISMATCH), "mismatch");
    assert_string_equal(gda_log_outcome_str((gda_log_outcome)99), "unknown");

    assert_string_equal(gda_metric_unit_str(GDA_METRIC_NONE), "None");
    assert_string_equal(gda_metric_unit_str(GDA_METRIC_COUNT), "Count");
    assert_string_equal(gda_metric_unit_str(GDA_METRIC_MILLISECONDS), "Milliseconds");
    assert_string_equal(gda_metric_unit_str(GDA_METRIC_MICROSECONDS), "Microseconds");
    assert_string_equal(gda_metric_unit_str(GDA_METRIC_SECONDS), "Seconds");
    assert_string_equal(gda_metric_unit_str(GDA_METRIC_BYTES), "Bytes");
    assert_string_equal(gda_metric_unit_str(GDA_METRIC_PERCENT), "Percent");
    assert_string_equal(gda_metric_unit_str((gda_metric_unit)99), "unknown");
}

/* ---- configuration ----------------------------------------------------------- */

static void test_config_default(void **state)
{
    (void)state;
    gda_log_config cfg = gda_log_config_default();
    assert_int_equal(cfg.level, GDA_LOG_INFO);
    assert_ptr_equal(cfg.sink, gda_log_sink_stdout);
    assert_true(cfg.metrics_enabled);
    assert_string_equal(cfg.metrics_namespace, "libgda");
    assert_string_equal(cfg.service, "libgda");
    assert_null(cfg.pii_fields);
    assert_int_equal(cfg.pii_field_count, 0);
    assert_null(cfg.is_pii);

    gda_logger *lg = gda_logger_new(NULL, NULL);
    assert_non_null(lg);
    assert_int_equal(gda_logger_level(lg), GDA_LOG_INFO);
    gda_logger_free(lg);
    gda_logger_free(NULL);
}

static void expect_config_error(const gda_log_config *cfg, const char *field)
{
    gda_error err;
    gda_error_clear(&err);
    assert_null(gda_logger_new(cfg, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_string_equal(err.field, field);
}

static void test_config_errors(void **state)
{
    (void)state;
    gda_log_config cfg = gda_log_config_default();
    cfg.level = (gda_log_level)7;
    expect_config_error(&cfg, "level");

    cfg = gda_log_config_default();
    cfg.pii_field_count = 2;
    expect_config_error(&cfg, "pii_fields");
    const char *with_null[] = {"callerId", NULL};
    cfg.pii_fields = with_null;
    expect_config_error(&cfg, "pii_fields");

    char too_long[300];
    memset(too_long, 'n', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    const char *bad_namespaces[] = {"", "AWS/Lambda", "name\"quote", "tab\there", too_long,
                                    "caf\xC3\xA9"};
    for (size_t i = 0; i < sizeof bad_namespaces / sizeof bad_namespaces[0]; i++) {
        cfg = gda_log_config_default();
        cfg.metrics_namespace = bad_namespaces[i];
        expect_config_error(&cfg, "metrics_namespace");
    }
    cfg = gda_log_config_default();
    cfg.metrics_namespace = "Genesys/Data-Actions_1.0 #a:b";
    gda_logger *lg = gda_logger_new(&cfg, NULL);
    assert_non_null(lg);
    gda_logger_free(lg);

    char long_service[1100];
    memset(long_service, 's', sizeof long_service - 1);
    long_service[sizeof long_service - 1] = '\0';
    const char *bad_services[] = {"", "  \t ", long_service, "bad\xFFutf8"};
    for (size_t i = 0; i < sizeof bad_services / sizeof bad_services[0]; i++) {
        cfg = gda_log_config_default();
        cfg.service = bad_services[i];
        expect_config_error(&cfg, "service");
    }
}

/* ---- log lines ------------------------------------------------------------------ */

static void test_exact_line(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_INFO);

    gda_log_fields f = {0};
    f.request_id = "3f1c2a9e-0d4b-4a8e-9c1f-2b7e5d6a8c90";
    f.interaction_id = "e3a5-interaction";
    f.aws_request_id = "aws-req-1";
    f.trace_id = "Root=1-abc-def";
    f.status_code = 200;
    f.has_execution_time = true;
    f.execution_time_ms = 12.5;
    f.outcome = GDA_LOG_OUTCOME_NEW;
    f.error_code = "ok";
    f.auth_failure = "bad_signature";
    f.key_id = "k2026";
    json_t *extra = json_pack("{s:s, s:i, s:b}", "queueId", "q-1", "attempt", 2, "cached", 0);
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, &f, extra, "handled", NULL), GDA_OK);
    json_decref(extra);

    assert_int_equal(cap.calls, 1);
    assert_string_equal(
        cap.lines[0],
        "{\"timestamp\":\"2026-11-24T10:00:00.123Z\",\"level\":\"INFO\",\"message\":\"handled\","
        "\"requestId\":\"3f1c2a9e-0d4b-4a8e-9c1f-2b7e5d6a8c90\",\"interactionId\":\"e3a5-"
        "interaction\",\"awsRequestId\":\"aws-req-1\",\"traceId\":\"Root=1-abc-def\","
        "\"statusCode\":200,\"executionTimeMs\":12.5,\"outcome\":\"new\",\"errorCode\":\"ok\","
        "\"authFailure\":\"bad_signature\",\"keyId\":\"k2026\",\"queueId\":\"q-1\","
        "\"attempt\":2,\"cached\":false}\n");

    json_t *obj = parse_line(cap.lines[0]);
    assert_string_equal(str_member(obj, "timestamp"), "2026-11-24T10:00:00.123Z");
    assert_string_equal(str_member(obj, "level"), "INFO");
    assert_string_equal(str_member(obj, "message"), "handled");
    assert_string_equal(str_member(obj, "requestId"), f.request_id);
    assert_int_equal(json_integer_value(json_object_get(obj, "statusCode")), 200);
    assert_true(json_number_value(json_object_get(obj, "executionTimeMs")) == 12.5);
    assert_string_equal(str_member(obj, "outcome"), "new");
    json_decref(obj);

    /* Fields left zero are omitted, not written as null or 0. */
    gda_log_fields sparse = {0};
    sparse.request_id = "r-2";
    sparse.has_execution_time = true;
    sparse.execution_time_ms = 7.0;
    assert_int_equal(gda_log(lg, GDA_LOG_WARN, 0, &sparse, NULL, NULL, NULL), GDA_OK);
    assert_string_equal(cap.lines[1],
                        "{\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"level\":\"WARN\","
                        "\"message\":\"\",\"requestId\":\"r-2\",\"executionTimeMs\":7}\n");

    /* A non-finite time cannot be written as JSON and is left out. */
    sparse.execution_time_ms = NAN;
    assert_int_equal(gda_log(lg, GDA_LOG_ERROR, T0, &sparse, NULL, "m", NULL), GDA_OK);
    obj = parse_line(cap.lines[2]);
    assert_null(json_object_get(obj, "executionTimeMs"));
    assert_string_equal(str_member(obj, "level"), "ERROR");
    json_decref(obj);

    /* Without fields or extra, only the three standard members. */
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, NULL, "plain", NULL), GDA_OK);
    obj = parse_line(cap.lines[3]);
    assert_int_equal(json_object_size(obj), 3);
    json_decref(obj);

    gda_logger_free(lg);
    capture_reset(&cap);
}

/* The logger writes lines itself rather than through jansson; what it
 * writes for an extra object must be byte for byte what jansson's compact,
 * order-preserving dump with 15 significant digits writes: escapes (short
 * forms, upper-case \u00XX, '/' and non-ASCII left alone), integer and real
 * forms (".0" added, exponents without '+' or leading zeros), nesting,
 * empty containers and literals. */
static void test_extra_written_as_jansson_dumps_it(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_INFO);
    json_t *extra = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:[f,f,f,f,f,f,f,f,f,f], s:{s:{s:[]}, s:{}, s:n, s:b, "
        "s:b}, s:[[],[[i]]]}",
        "text", "quote \" back \\ slash / tab \t nl \n cr \r bs \b ff \f",
        "controls", "\x01\x1f\x7f end", "unicode", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x9E",
        "zero", (json_int_t)0, "big", (json_int_t)INT64_MAX, "small", (json_int_t)INT64_MIN,
        "reals", 12.5, 1.0, -0.5, 1e20, 1.5e-7, 0.1, 123456789012345678.0, 2.0 / 3.0, -1e-300,
        1e300, "nested", "a", "b", "c", "d", "e", 1, "f", 0, "arrays", 1);
    assert_non_null(extra);
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, extra, "m", NULL), GDA_OK);
    char *dump = json_dumps(extra, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    assert_non_null(dump);
    size_t need = strlen(dump) + 128;
    char *want = malloc(need);
    assert_non_null(want);
    /* The standard members, then the extra members: the dump without its
     * opening brace. */
    snprintf(want, need, "{\"timestamp\":\"2026-11-24T10:00:00.123Z\",\"level\":\"INFO\","
                         "\"message\":\"m\",%s\n", dump + 1);
    assert_int_equal(cap.calls, 1);
    assert_string_equal(cap.lines[0], want);
    free(want);
    free(dump);
    json_decref(extra);
    gda_logger_free(lg);
    capture_reset(&cap);
}

static void test_timestamps(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_DEBUG);
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {999, "1970-01-01T00:00:00.999Z"},
        {INT64_C(951782400001), "2000-02-29T00:00:00.001Z"},
        {INT64_C(1735689599999), "2024-12-31T23:59:59.999Z"},
        {INT64_C(253402300799999), "9999-12-31T23:59:59.999Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(gda_log(lg, GDA_LOG_INFO, cases[i].ms, NULL, NULL, "t", NULL), GDA_OK);
        json_t *obj = parse_line(cap.lines[i]);
        assert_string_equal(str_member(obj, "timestamp"), cases[i].text);
        json_decref(obj);
    }
    gda_error err;
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, -1, NULL, NULL, "t", &err), GDA_ERR_INTERNAL);
    assert_int_equal(
        gda_log(lg, GDA_LOG_INFO, INT64_C(253402300800000), NULL, NULL, "t", &err),
        GDA_ERR_INTERNAL);
    assert_int_equal(cap.calls, 5);
    gda_logger_free(lg);
    capture_reset(&cap);
}

static void test_level_filtering(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_WARN);
    assert_false(gda_logger_enabled(lg, GDA_LOG_DEBUG));
    assert_false(gda_logger_enabled(lg, GDA_LOG_INFO));
    assert_true(gda_logger_enabled(lg, GDA_LOG_WARN));
    assert_true(gda_logger_enabled(lg, GDA_LOG_ERROR));
    assert_false(gda_logger_enabled(NULL, GDA_LOG_ERROR));
    assert_false(gda_logger_enabled(lg, (gda_log_level)9));

    const gda_log_level all[] = {GDA_LOG_DEBUG, GDA_LOG_INFO, GDA_LOG_WARN, GDA_LOG_ERROR};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(gda_log(lg, all[i], T0, NULL, NULL, "x", NULL), GDA_OK);
    assert_int_equal(cap.calls, 2);
    json_t *obj = parse_line(cap.lines[0]);
    assert_string_equal(str_member(obj, "level"), "WARN");
    json_decref(obj);
    obj = parse_line(cap.lines[1]);
    assert_string_equal(str_member(obj, "level"), "ERROR");
    json_decref(obj);

    /* Filtered printf-style lines are not formatted or written either. */
    assert_int_equal(gda_logf(lg, GDA_LOG_INFO, T0, NULL, NULL, NULL, "n=%d", 1), GDA_OK);
    assert_int_equal(cap.calls, 2);

    gda_logger_set_level(lg, GDA_LOG_DEBUG);
    assert_int_equal(gda_logger_level(lg), GDA_LOG_DEBUG);
    assert_int_equal(gda_log(lg, GDA_LOG_DEBUG, T0, NULL, NULL, "now visible", NULL), GDA_OK);
    assert_int_equal(cap.calls, 3);

    /* An out-of-range level is ignored by set_level and refused by gda_log. */
    gda_logger_set_level(lg, (gda_log_level)-3);
    assert_int_equal(gda_logger_level(lg), GDA_LOG_DEBUG);
    gda_error err;
    assert_int_equal(gda_log(lg, (gda_log_level)4, T0, NULL, NULL, "x", &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_logger_level(NULL), GDA_LOG_ERROR);
    gda_logger_set_level(NULL, GDA_LOG_DEBUG);
    assert_int_equal(cap.calls, 3);

    gda_logger_free(lg);
    capture_reset(&cap);
}

static void test_argument_errors(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_DEBUG);
    gda_error err;
    assert_int_equal(gda_log(NULL, GDA_LOG_INFO, T0, NULL, NULL, "x", &err), GDA_ERR_INTERNAL);
    assert_int_equal(err.code, GDA_ERR_INTERNAL);
    assert_int_equal(gda_logf(NULL, GDA_LOG_INFO, T0, NULL, NULL, &err, "x"), GDA_ERR_INTERNAL);

    json_t *not_object = json_pack("[i]", 1);
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, not_object, "x", &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_logf(lg, GDA_LOG_INFO, T0, NULL, not_object, &err, "x"),
                     GDA_ERR_INTERNAL);
    json_decref(not_object);
    assert_int_equal(cap.calls, 0);
    gda_logger_free(lg);
    capture_reset(&cap);
}

static void test_logf(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_DEBUG);
    gda_log_fields f = {0};
    f.request_id = "r-9";
    assert_int_equal(
        gda_logf(lg, GDA_LOG_INFO, T0, &f, NULL, NULL, "started on port %d (%s)", 8080, "http"),
        GDA_OK);
    json_t *obj = parse_line(cap.lines[0]);
    assert_string_equal(str_member(obj, "message"), "started on port 8080 (http)");
    assert_string_equal(str_member(obj, "requestId"), "r-9");
    json_decref(obj);

    /* Longer than the stack buffer, shorter than the limit: kept whole. */
    char mid[3000];
    memset(mid, 'm', sizeof mid - 1);
    mid[sizeof mid - 1] = '\0';
    assert_int_equal(gda_logf(lg, GDA_LOG_INFO, T0, NULL, NULL, NULL, "<%s>", mid), GDA_OK);
    obj = parse_line(cap.lines[1]);
    assert_int_equal(strlen(str_member(obj, "message")), sizeof mid + 1);
    json_decref(obj);

    /* Far longer than the limit: cut, marked with "…". */
    char *huge = malloc(50000);
    assert_non_null(huge);
    memset(huge, 'h', 49999);
    huge[49999] = '\0';
    assert_int_equal(gda_logf(lg, GDA_LOG_INFO, T0, NULL, NULL, NULL, "%s", huge), GDA_OK);
    obj = parse_line(cap.lines[2]);
    const char *msg = str_member(obj, "message");
    assert_int_equal(strlen(msg), GDA_LOG_MAX_STRING + 3);
    assert_string_equal(msg + GDA_LOG_MAX_STRING, "\xE2\x80\xA6");
    json_decref(obj);
    free(huge);

    gda_logger_free(lg);
    capture_reset(&cap);
}

/* ---- hostile input ------------------------------------------------------------ */

static void test_hostile_messages(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_DEBUG);
    static const struct {
        const char *in;
        const char *expected; /* the message after a JSON round trip */
    } cases[] = {
        /* An attempt to end the line and start a forged ERROR record. */
        {"ok\n{\"timestamp\":\"x\",\"level\":\"ERROR\",\"message\":\"forged\"}",
         "ok\n{\"timestamp\":\"x\",\"level\":\"ERROR\",\"message\":\"forged\"}"},
        {"quote \" backslash \\ cr \r tab \t bell \a", "quote \" backslash \\ cr \r tab \t bell \a"},
        {"\",\"level\":\"DEBUG", "\",\"level\":\"DEBUG"},
        /* Ill-formed UTF-8: lone continuation, 0xFF, overlong '/', surrogate,
         * truncated sequence, code point past U+10FFFF. */
        {"a\x80z", "a\xEF\xBF\xBDz"},
        {"\xFF", "\xEF\xBF\xBD"},
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"end\xE2\x82", "end\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        /* Valid multi-byte text passes unchanged. */
        {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x9E", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x9E"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, NULL, cases[i].in, NULL), GDA_OK);
        assert_int_equal(cap.calls, (int)i + 1);
        json_t *obj = parse_line(cap.lines[i]);
        assert_int_equal(json_object_size(obj), 3);
        assert_string_equal(str_member(obj, "level"), "INFO");
        assert_string_equal(str_member(obj, "message"), cases[i].expected);
        json_decref(obj);
    }
    gda_logger_free(lg);
    capture_reset(&cap);
}

static void test_hostile_fields_and_extra(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_DEBUG);

    gda_log_fields f = {0};
    f.request_id = "id\n\"level\":\"ERROR\"";
    f.interaction_id = "bad\xFE";
    json_t *extra = json_object();
    /* jansson's unchecked setters let a caller build invalid UTF-8 keys and
     * values (and values with NUL); jansson would then refuse to dump. */
    json_object_set_new_nocheck(extra, "key\xFF", json_string_nocheck("value\xC3"));
    json_object_set_new_nocheck(extra, "nul", json_stringn_nocheck("a\0b", 3));
    /* Reserved names cannot override the standard members or forge EMF. */
    json_object_set_new(extra, "level", json_string("DEBUG"));
    json_object_set_new(extra, "Message", json_string("forged"));
    json_object_set_new(extra, "timestamp", json_string("1999"));
    json_object_set_new(extra, "statusCode", json_integer(200));
    json_object_set_new(extra, "_aws", json_pack("{s:i}", "Timestamp", 1));
    json_object_set_new(extra, "kept", json_true());
    assert_int_equal(gda_log(lg, GDA_LOG_ERROR, T0, &f, extra, "m", NULL), GDA_OK);

    json_t *obj = parse_line(cap.lines[0]);
    assert_string_equal(str_member(obj, "requestId"), "id\n\"level\":\"ERROR\"");
    assert_string_equal(str_member(obj, "interactionId"), "bad\xEF\xBF\xBD");
    assert_string_equal(str_member(obj, "key\xEF\xBF\xBD"), "value\xEF\xBF\xBD");
    /* NUL is legal JSON (\u0000) but many readers refuse it. */
    assert_string_equal(str_member(obj, "nul"), "a\xEF\xBF\xBD" "b");
    assert_null(strstr(cap.lines[0], "\\u0000"));
    assert_string_equal(str_member(obj, "level"), "ERROR");
    assert_string_equal(str_member(obj, "message"), "m");
    assert_string_equal(str_member(obj, "timestamp"), "2026-11-24T10:00:00.123Z");
    assert_null(json_object_get(obj, "Message"));
    assert_null(json_object_get(obj, "statusCode"));
    assert_null(json_object_get(obj, "_aws"));
    assert_true(json_is_true(json_object_get(obj, "kept")));
    json_decref(obj);

    /* The caller's object is untouched. */
    assert_string_equal(json_string_value(json_object_get(extra, "level")), "DEBUG");
    assert_int_equal(json_object_size(extra), 8);
    json_decref(extra);

    /* A deep structure is cut at the depth limit, still valid JSON. */
    json_t *deep = json_string("bottom");
    for (int i = 0; i < GDA_LOG_MAX_DEPTH + 10; i++)
        deep = json_pack("{s:o}", "d", deep);
    extra = json_pack("{s:o}", "deep", deep);
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, extra, "deep", NULL), GDA_OK);
    json_decref(extra);
    obj = parse_line(cap.lines[1]);
    const json_t *cur = json_object_get(obj, "deep");
    int levels = 0;
    while (json_is_object(cur)) {
        cur = json_object_get(cur, "d");
        levels++;
    }
    assert_string_equal(json_string_value(cur), "[too deep]");
    assert_int_equal(levels, GDA_LOG_MAX_DEPTH - 1);
    json_decref(obj);

    /* Long extra strings are cut like messages. */
    char *big = malloc(GDA_LOG_MAX_STRING * 2);
    assert_non_null(big);
    memset(big, 'b', GDA_LOG_MAX_STRING * 2);
    extra = json_object();
    json_object_set_new(extra, "big", json_stringn(big, GDA_LOG_MAX_STRING * 2));
    free(big);
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, extra, "big", NULL), GDA_OK);
    json_decref(extra);
    obj = parse_line(cap.lines[2]);
    assert_int_equal(strlen(str_member(obj, "big")), GDA_LOG_MAX_STRING + 3);
    json_decref(obj);

    assert_int_equal(cap.calls, 3);
    gda_logger_free(lg);
    capture_reset(&cap);
}

/* ---- PII ---------------------------------------------------------------------- */

static bool pii_by_prefix(const char *name, void *user)
{
    int *calls = user;
    (*calls)++;
    return strncmp(name, "ssn", 3) == 0;
}

static void test_pii_redaction(void **state)
{
    (void)state;
    capture cap;
    memset(&cap, 0, sizeof cap);
    int predicate_calls = 0;
    const char *pii[] = {"callerId", "email", "ani"};
    gda_log_config cfg = gda_log_config_default();
    cfg.sink = capture_sink;
    cfg.sink_user = &cap;
    cfg.pii_fields = pii;
    cfg.pii_field_count = 3;
    cfg.is_pii = pii_by_prefix;
    cfg.is_pii_user = &predicate_calls;
    gda_logger *lg = gda_logger_new(&cfg, NULL);
    assert_non_null(lg);

    json_error_t jerr;
    json_t *extra = json_loads(
        "{\"callerId\":\"+15551234567\","
        "\"queueId\":\"q-7\","
        "\"customer\":{\"email\":\"jane@example.com\",\"CALLERID\":\"+447911123456\","
        "\"tier\":\"gold\",\"contact\":{\"ani\":\"+15559876543\",\"ssnLast4\":\"1234\"}},"
        "\"history\":[{\"callerId\":\"+15550001111\"},\"+15551234567\",3],"
        "\"ani\":{\"nested\":\"+15551234567\"},"
        "\"email\":42,"
        "\"ssn\":[\"123-45-6789\"]}",
        JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(extra);
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, extra, "lookup", NULL), GDA_OK);

    json_t *obj = parse_line(cap.lines[0]);
    assert_string_equal(str_member(obj, "callerId"), "***4567");
    assert_string_equal(str_member(obj, "queueId"), "q-7");
    const json_t *customer = json_object_get(obj, "customer");
    assert_string_equal(str_member(customer, "email"), "***");
    assert_string_equal(str_member(customer, "CALLERID"), "***3456");
    assert_string_equal(str_member(customer, "tier"), "gold");
    const json_t *contact = json_object_get(customer, "contact");
    assert_string_equal(str_member(contact, "ani"), "***6543");
    assert_string_equal(str_member(contact, "ssnLast4"), "***");
    const json_t *history = json_object_get(obj, "history");
    assert_string_equal(str_member(json_array_get(history, 0), "callerId"), "***1111");
    /* An unnamed array element is not a PII field: it is kept. Put numbers
     * under a PII name to have them masked. */
    assert_string_equal(json_string_value(json_array_get(history, 1)), "+15551234567");
    assert_int_equal(json_integer_value(json_array_get(history, 2)), 3);
    /* A PII name masks whatever it holds, whole. */
    assert_string_equal(str_member(obj, "ani"), "***");
    assert_string_equal(str_member(obj, "email"), "***");
    assert_string_equal(str_member(obj, "ssn"), "***");
    json_decref(obj);

    /* No masked value leaks anywhere in the raw line. */
    assert_null(strstr(cap.lines[0], "15559876543"));
    assert_null(strstr(cap.lines[0], "15550001111"));
    assert_null(strstr(cap.lines[0], "jane@"));
    assert_null(strstr(cap.lines[0], "7911123456"));
    assert_null(strstr(cap.lines[0], "123-45"));
    assert_non_null(strstr(cap.lines[0], "\"history\":[{\"callerId\":\"***1111\"}"));
    assert_true(predicate_calls > 0);

    /* The caller's data still holds the real values. */
    assert_string_equal(json_string_value(json_object_get(extra, "callerId")), "+15551234567");
    json_decref(extra);
    gda_logger_free(lg);
    capture_reset(&cap);
}

/* ---- metrics -------------------------------------------------------------------- */

/* Check the EMF rules CloudWatch applies and return the parsed line. */
static json_t *check_emf(const char *line, int64_t now_ms, const char *ns, const char *service)
{
    json_t *obj = parse_line(line);
    const json_t *aws = json_object_get(obj, "_aws");
    assert_true(json_is_object(aws));
    assert_int_equal(json_object_size(aws), 2);
    const json_t *ts = json_object_get(aws, "Timestamp");
    assert_true(json_is_integer(ts));
    assert_int_equal(json_integer_value(ts), now_ms);
    const json_t *directives = json_object_get(aws, "CloudWatchMetrics");
    assert_true(json_is_array(directives));
    assert_int_equal(json_array_size(directives), 1);
    const json_t *d = json_array_get(directives, 0);
    assert_int_equal(json_object_size(d), 3);
    assert_string_equal(str_member(d, "Namespace"), ns);
    const json_t *dims = json_object_get(d, "Dimensions");
    assert_true(json_is_array(dims));
    assert_int_equal(json_array_size(dims), 1);
    const json_t *set = json_array_get(dims, 0);
    assert_true(json_is_array(set));
    assert_int_equal(json_array_size(set), 1);
    assert_string_equal(json_string_value(json_array_get(set, 0)), "Service");
    /* Every dimension named must be a top-level string member. */
    assert_string_equal(str_member(obj, "Service"), service);

    const json_t *metrics = json_object_get(d, "Metrics");
    assert_true(json_is_array(metrics));
    assert_true(json_array_size(metrics) >= 1);
    size_t i;
    const json_t *def;
    json_array_foreach(metrics, i, def) {
        assert_int_equal(json_object_size(def), 2);
        const char *name = str_member(def, "Name");
        const char *unit = str_member(def, "Unit");
        assert_true(strlen(name) > 0);
        assert_true(strlen(unit) > 0);
        /* Every metric named must be a top-level number member. */
        assert_true(json_is_number(json_object_get(obj, name)));
    }
    /* And nothing else: _aws, Service and one member per metric. */
    assert_int_equal(json_object_size(obj), json_array_size(metrics) + 2);
    return obj;
}

static double metric_value(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_number(v))
        fail_msg("metric %s missing", name);
    return json_number_value(v);
}

static const char *metric_unit(const json_t *obj, const char *name)
{
    const json_t *defs =
        json_object_get(json_array_get(json_object_get(json_object_get(obj, "_aws"),
                                                       "CloudWatchMetrics"),
                                       0),
                        "Metrics");
    size_t i;
    const json_t *def;
    json_array_foreach(defs, i, def) {
        if (strcmp(json_string_value(json_object_get(def, "Name")), name) == 0)
            return json_string_value(json_object_get(def, "Unit"));
    }
    return NULL;
}

static void test_metrics_exact(void **state)
{
    (void)state;
    capture cap;
    memset(&cap, 0, sizeof cap);
    gda_log_config cfg = gda_log_config_default();
    cfg.sink = capture_sink;
    cfg.sink_user = &cap;
    cfg.level = GDA_LOG_ERROR; /* metrics ignore the level */
    cfg.metrics_namespace = "Genesys/DataActions";
    cfg.service = "enrichment";
    gda_logger *lg = gda_logger_new(&cfg, NULL);
    assert_non_null(lg);

    const gda_metric m[] = {
        {"Latency", GDA_METRIC_MILLISECONDS, 12.3},
        {"Requests", GDA_METRIC_COUNT, 1},
    };
    assert_int_equal(gda_metrics_emit(lg, m, 2, T0, NULL), GDA_OK);
    assert_int_equal(cap.calls, 1);
    assert_string_equal(
        cap.lines[0],
        "{\"_aws\":{\"Timestamp\":1795514400123,\"CloudWatchMetrics\":[{\"Namespace\":"
        "\"Genesys/DataActions\",\"Dimensions\":[[\"Service\"]],\"Metrics\":[{\"Name\":"
        "\"Latency\",\"Unit\":\"Milliseconds\"},{\"Name\":\"Requests\",\"Unit\":\"Count\"}]}]},"
        "\"Service\":\"enrichment\",\"Latency\":12.3,\"Requests\":1}\n");
    json_decref(check_emf(cap.lines[0], T0, "Genesys/DataActions", "enrichment"));

    /* Defaults: namespace and service "libgda". */
    gda_logger_free(lg);
    capture_reset(&cap);
    lg = capture_logger(&cap, GDA_LOG_INFO);
    const gda_metric one = {"Custom", GDA_METRIC_NONE, -0.5};
    assert_int_equal(gda_metrics_emit(lg, &one, 1, 0, NULL), GDA_OK);
    json_t *obj = check_emf(cap.lines[0], 0, "libgda", "libgda");
    assert_true(metric_value(obj, "Custom") == -0.5);
    assert_string_equal(metric_unit(obj, "Custom"), "None");
    json_decref(obj);

    gda_logger_free(lg);
    capture_reset(&cap);
}

static void test_metrics_request(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_ERROR);

    static const char *const names[] = {
        GDA_METRIC_LATENCY,       GDA_METRIC_REQUESTS,    GDA_METRIC_REPLAYS,
        GDA_METRIC_AUTH_FAILURES, GDA_METRIC_STORE_ERRORS, GDA_METRIC_IN_PROGRESS_CONFLICTS,
        GDA_METRIC_ERRORS_4XX,    GDA_METRIC_ERRORS_5XX,   GDA_METRIC_LEASE_LOST,
    };
    static const struct {
        int status;
        gda_log_outcome outcome;
        const char *auth_failure;
        bool store_error;
        bool lease_lost;
        double expected[9]; /* in the order of names[] */
    } cases[] = {
        {200, GDA_LOG_OUTCOME_NEW, NULL, false, false, {4.25, 1, 0, 0, 0, 0, 0, 0, 0}},
        {200, GDA_LOG_OUTCOME_REPLAY, NULL, false, false, {4.25, 1, 1, 0, 0, 0, 0, 0, 0}},
        {401, GDA_LOG_OUTCOME_NONE, "bad_signature", false, false, {4.25, 1, 0, 1, 0, 0, 1, 0, 0}},
        {409, GDA_LOG_OUTCOME_IN_PROGRESS, NULL, false, false, {4.25, 1, 0, 0, 0, 1, 1, 0, 0}},
        {422, GDA_LOG_OUTCOME_MISMATCH, NULL, false, false, {4.25, 1, 0, 0, 0, 0, 1, 0, 0}},
        {503, GDA_LOG_OUTCOME_NONE, NULL, true, false, {4.25, 1, 0, 0, 1, 0, 0, 1, 0}},
        {500, GDA_LOG_OUTCOME_NEW, NULL, false, false, {4.25, 1, 0, 0, 0, 0, 0, 1, 0}},
        {200, GDA_LOG_OUTCOME_NEW, NULL, false, true, {4.25, 1, 0, 0, 0, 0, 0, 0, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gda_log_fields f = {0};
        f.status_code = cases[c].status;
        f.outcome = cases[c].outcome;
        f.auth_failure = cases[c].auth_failure;
        f.lease_lost = cases[c].lease_lost;
        f.has_execution_time = true;
        f.execution_time_ms = 4.25;
        assert_int_equal(gda_metrics_emit_request(lg, &f, cases[c].store_error, T0, NULL),
                         GDA_OK);
        json_t *obj = check_emf(cap.lines[c], T0, "libgda", "libgda");
        for (size_t i = 0; i < 9; i++)
            assert_true(metric_value(obj, names[i]) == cases[c].expected[i]);
        assert_string_equal(metric_unit(obj, GDA_METRIC_LATENCY), "Milliseconds");
        for (size_t i = 1; i < 9; i++)
            assert_string_equal(metric_unit(obj, names[i]), "Count");
        /* Counts are JSON integers. */
        assert_true(json_is_integer(json_object_get(obj, GDA_METRIC_REQUESTS)));
        json_decref(obj);
    }

    /* No execution time: no Latency, the counts still go out. */
    gda_log_fields f = {0};
    f.status_code = 200;
    assert_int_equal(gda_metrics_emit_request(lg, &f, false, T0, NULL), GDA_OK);
    json_t *obj = check_emf(cap.lines[8], T0, "libgda", "libgda");
    assert_null(json_object_get(obj, GDA_METRIC_LATENCY));
    assert_true(metric_value(obj, GDA_METRIC_REQUESTS) == 1);
    json_decref(obj);

    gda_error err;
    assert_int_equal(gda_metrics_emit_request(lg, NULL, false, T0, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_metrics_emit_request(NULL, &f, false, T0, &err), GDA_ERR_INTERNAL);
    assert_int_equal(cap.calls, 9);
    gda_logger_free(lg);
    capture_reset(&cap);
}

static void test_metrics_disabled(void **state)
{
    (void)state;
    capture cap;
    memset(&cap, 0, sizeof cap);
    gda_log_config cfg = gda_log_config_default();
    cfg.sink = capture_sink;
    cfg.sink_user = &cap;
    cfg.metrics_enabled = false;
    gda_logger *lg = gda_logger_new(&cfg, NULL);
    assert_non_null(lg);
    const gda_metric m = {"Requests", GDA_METRIC_COUNT, 1};
    assert_int_equal(gda_metrics_emit(lg, &m, 1, T0, NULL), GDA_OK);
    gda_log_fields f = {0};
    f.status_code = 200;
    assert_int_equal(gda_metrics_emit_request(lg, &f, false, T0, NULL), GDA_OK);
    assert_int_equal(cap.calls, 0);
    /* Bad input is still reported when disabled. */
    const gda_metric nan_metric = {"X", GDA_METRIC_COUNT, NAN};
    assert_int_equal(gda_metrics_emit(lg, &nan_metric, 1, T0, NULL), GDA_ERR_INTERNAL);
    /* Log lines are unaffected. */
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, NULL, "still logs", NULL), GDA_OK);
    assert_int_equal(cap.calls, 1);
    gda_logger_free(lg);
    capture_reset(&cap);
}

static void expect_metric_error(gda_logger *lg, const gda_metric *m, size_t n, int64_t now)
{
    gda_error err;
    gda_error_clear(&err);
    assert_int_equal(gda_metrics_emit(lg, m, n, now, &err), GDA_ERR_INTERNAL);
    assert_int_equal(err.code, GDA_ERR_INTERNAL);
}

static void test_metrics_errors(void **state)
{
    (void)state;
    capture cap;
    gda_logger *lg = capture_logger(&cap, GDA_LOG_DEBUG);
    const gda_metric ok = {"Requests", GDA_METRIC_COUNT, 1};

    expect_metric_error(NULL, &ok, 1, T0);
    expect_metric_error(lg, NULL, 1, T0);
    expect_metric_error(lg, &ok, 0, T0);
    expect_metric_error(lg, &ok, 1, -5);
    expect_metric_error(lg, &ok, 1, INT64_C(253402300800000));

    gda_metric many[GDA_METRICS_MAX_PER_LINE + 1];
    char names[GDA_METRICS_MAX_PER_LINE + 1][8];
    for (size_t i = 0; i < GDA_METRICS_MAX_PER_LINE + 1; i++) {
        snprintf(names[i], sizeof names[i], "M%zu", i);
        many[i] = (gda_metric){names[i], GDA_METRIC_COUNT, (double)i};
    }
    expect_metric_error(lg, many, GDA_METRICS_MAX_PER_LINE + 1, T0);
    /* Exactly the limit is fine. */
    assert_int_equal(gda_metrics_emit(lg, many, GDA_METRICS_MAX_PER_LINE, T0, NULL), GDA_OK);
    json_decref(check_emf(cap.lines[0], T0, "libgda", "libgda"));

    char long_name[300];
    memset(long_name, 'L', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const gda_metric bad[][2] = {
        {{NULL, GDA_METRIC_COUNT, 1}, ok},
        {{"", GDA_METRIC_COUNT, 1}, ok},
        {{long_name, GDA_METRIC_COUNT, 1}, ok},
        {{"bad\xFF", GDA_METRIC_COUNT, 1}, ok},
        {{"Service", GDA_METRIC_COUNT, 1}, ok},
        {{"_aws", GDA_METRIC_COUNT, 1}, ok},
        {{"U", (gda_metric_unit)99, 1}, ok},
        {{"V", GDA_METRIC_COUNT, NAN}, ok},
        {{"W", GDA_METRIC_COUNT, INFINITY}, ok},
        {{"Requests", GDA_METRIC_COUNT, 2}, ok}, /* duplicate */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_metric_error(lg, bad[i], 2, T0);
    assert_int_equal(cap.calls, 1);
    gda_logger_free(lg);
    capture_reset(&cap);
}

/* ---- the default sink ------------------------------------------------------------ */

/* Run fn with fd 1 redirected into a pipe; return what it wrote. */
static char *capture_stdout(void (*fn)(void *), void *arg)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
    close(fds[1]);
    fn(arg);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    char *out = calloc(1, 65536);
    assert_non_null(out);
    size_t used = 0;
    ssize_t n;
    while ((n = read(fds[0], out + used, 65535 - used)) > 0)
        used += (size_t)n;
    close(fds[0]);
    return out;
}

static void write_two_lines(void *arg)
{
    (void)arg;
    gda_log_sink_stdout("{\"a\":1}\n", 8, NULL);
    gda_log_sink_stdout("{\"b\":2}\n", 8, NULL);
}

static void log_through_default_sink(void *arg)
{
    gda_log_config *cfg = arg;
    gda_logger *lg = gda_logger_new(cfg, NULL);
    assert_non_null(lg);
    assert_int_equal(gda_log(lg, GDA_LOG_INFO, T0, NULL, NULL, "to stdout", NULL), GDA_OK);
    const gda_metric m = {"Requests", GDA_METRIC_COUNT, 1};
    assert_int_equal(gda_metrics_emit(lg, &m, 1, T0, NULL), GDA_OK);
    gda_logger_free(lg);
}

static void test_stdout_sink(void **state)
{
    (void)state;
    char *out = capture_stdout(write_two_lines, NULL);
    assert_string_equal(out, "{\"a\":1}\n{\"b\":2}\n");
    free(out);

    /* sink NULL in the config also means stdout. */
    gda_log_config cfg = gda_log_config_default();
    cfg.sink = NULL;
    out = capture_stdout(log_through_default_sink, &cfg);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_t *obj = parse_line(out);
    assert_string_equal(str_member(obj, "message"), "to stdout");
    json_decref(obj);
    char *second = nl + 1;
    nl = strchr(second, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, "");
    *nl = '\0';
    json_decref(check_emf(second, T0, "libgda", "libgda"));
    free(out);
}

/* ---- concurrency -------------------------------------------------------------- */

#define THREADS 8
#define LINES_PER_THREAD 400

typedef struct shared_sink {
    int inside;        /* plain int: the logger's lock must keep it 0/1 */
    int overlaps;      /* calls that found another call in progress */
    int bad_lines;     /* calls that were not exactly one JSON line */
    int log_lines;
    int metric_lines;
    int per_thread[THREADS];
} shared_sink;

static void checking_sink(const char *line, size_t len, void *user)
{
    shared_sink *s = user;
    if (s->inside++ != 0)
        s->overlaps++;
    json_t *obj = NULL;
    bool whole = len >= 2 && line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL &&
                 strlen(line) == len;
    if (whole)
        obj = json_loadb(line, len - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!obj) {
        s->bad_lines++;
    } else if (json_object_get(obj, "_aws")) {
        s->metric_lines++;
    } else {
        json_int_t t = json_integer_value(json_object_get(obj, "thread"));
        if (t >= 0 && t < THREADS)
            s->per_thread[t]++;
        else
            s->bad_lines++;
        s->log_lines++;
    }
    json_decref(obj);
    /* Give another thread the chance to enter if the lock were missing. */
    sched_yield();
    s->inside--;
}

typedef struct worker_arg {
    gda_logger *lg;
    int index;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    char request_id[32];
    for (int i = 0; i < LINES_PER_THREAD; i++) {
        snprintf(request_id, sizeof request_id, "t%d-%d", a->index, i);
        gda_log_fields f = {0};
        f.request_id = request_id;
        f.status_code = 200;
        json_t *extra = json_pack("{s:i, s:s}", "thread", a->index, "callerId", "+15551234567");
        if (gda_logf(a->lg, GDA_LOG_INFO, T0 + i, &f, extra, NULL,
                     "line %d of thread %d\nwith a newline", i, a->index) != GDA_OK)
            a->failures++;
        json_decref(extra);
        if (i % 4 == 0 && gda_metrics_emit_request(a->lg, &f, false, T0 + i, NULL) != GDA_OK)
            a->failures++;
        if (i % 50 == 0)
            gda_logger_set_level(a->lg, GDA_LOG_INFO);
    }
    return NULL;
}

static void test_concurrent_logging(void **state)
{
    (void)state;
    shared_sink sink;
    memset(&sink, 0, sizeof sink);
    const char *pii[] = {"callerId"};
    gda_log_config cfg = gda_log_config_default();
    cfg.sink = checking_sink;
    cfg.sink_user = &sink;
    cfg.pii_fields = pii;
    cfg.pii_field_count = 1;
    gda_logger *lg = gda_logger_new(&cfg, NULL);
    assert_non_null(lg);

    pthread_t threads[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){lg, i, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
    assert_int_equal(sink.overlaps, 0);
    assert_int_equal(sink.bad_lines, 0);
    assert_int_equal(sink.log_lines, THREADS * LINES_PER_THREAD);
    assert_int_equal(sink.metric_lines, THREADS * LINES_PER_THREAD / 4);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(sink.per_thread[i], LINES_PER_THREAD);
    gda_logger_free(lg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_config_default),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_exact_line),
        cmocka_unit_test(test_extra_written_as_jansson_dumps_it),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_level_filtering),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_logf),
        cmocka_unit_test(test_hostile_messages),
        cmocka_unit_test(test_hostile_fields_and_extra),
        cmocka_unit_test(test_pii_redaction),
        cmocka_unit_test(test_metrics_exact),
        cmocka_unit_test(test_metrics_request),
        cmocka_unit_test(test_metrics_disabled),
        cmocka_unit_test(test_metrics_errors),
        cmocka_unit_test(test_stdout_sink),
        cmocka_unit_test(test_concurrent_logging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
