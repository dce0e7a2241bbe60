/* Unit tests of the enrichment example handler (examples/enrichment): table
 * loading and its refusals, lookups, routing hints, and the handler through
 * a request parsed against the reference Genesys contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <gda/request.h>

#include "enrichment.h"

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/gda-enrichment-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void expect_load_error(const char *text, gda_status code, const char *needle)
{
    char *path = write_temp(text);
    gda_error err = {0};
    assert_null(enrichment_table_load(path, &err));
    assert_int_equal(err.code, code);
    if (needle)
        assert_non_null(strstr(err.message, needle));
    unlink(path);
    free(path);
}

static void test_shipped_table(void **state)
{
    (void)state;
    gda_error err = {0};
    enrichment_table *t = enrichment_table_load(enrichment_default_table_path(), &err);
    assert_non_null(t);
    assert_int_equal(enrichment_table_size(t), 14);
    const enrichment_customer *c = enrichment_lookup(t, "+15551234567");
    assert_non_null(c);
    assert_string_equal(c->tier, "gold");
    assert_string_equal(c->account_status, "active");
    assert_string_equal(c->language, "en-US");
    assert_int_equal(c->open_cases, 0);
    assert_string_equal(enrichment_lookup(t, "+447700900456")->language, "en-GB");
    assert_null(enrichment_lookup(t, "+15550000000"));
    assert_null(enrichment_lookup(t, ""));
    assert_null(enrichment_lookup(t, NULL));
    enrichment_table_free(t);
}

static void test_routing_hints(void **state)
{
    (void)state;
    char *path = write_temp("# comment\n"
                            "+15550000001,gold,closed,en-US,0\n"
                            "+15550000002,platinum,past_due,en-US,0\r\n"
                            "+15550000003,gold,active,en-US,3\n"
                            "\n"
                            "+15550000004,platinum,active,en-US,2\n"
                            "+15550000005,silver,active,en-US,0\n"
                            "+15550000006,bronze,active,en-US,0");
    gda_error err = {0};
    enrichment_table *t = enrichment_table_load(path, &err);
    assert_non_null(t);
    assert_int_equal(enrichment_table_size(t), 6);
    assert_string_equal(enrichment_routing_hint(enrichment_lookup(t, "+15550000001")), "retention");
    assert_string_equal(enrichment_routing_hint(enrichment_lookup(t, "+15550000002")), "billing");
    assert_string_equal(enrichment_routing_hint(enrichment_lookup(t, "+15550000003")),
                        "case_followup");
    assert_string_equal(enrichment_routing_hint(enrichment_lookup(t, "+15550000004")), "priority");
    assert_string_equal(enrichment_routing_hint(enrichment_lookup(t, "+15550000005")), "standard");
    assert_string_equal(enrichment_routing_hint(enrichment_lookup(t, "+15550000006")), "standard");
    assert_string_equal(enrichment_routing_hint(NULL), "general");
    enrichment_table_free(t);
    unlink(path);
    free(path);
}

static void test_bad_tables(void **state)
{
    (void)state;
    expect_load_error("+15550000001,gold,active,en-US\n", GDA_ERR_CONFIG, "line 1");
    expect_load_error("# h\n+15550000001,gold,active,en-US,0,extra\n", GDA_ERR_CONFIG, "line 2");
    expect_load_error("15550000001,gold,active,en-US,0\n", GDA_ERR_CONFIG, "line 1");
    expect_load_error("+15550000001,diamond,active,en-US,0\n", GDA_ERR_CONFIG, "line 1");
    expect_load_error("+15550000001,gold,frozen,en-US,0\n", GDA_ERR_CONFIG, "line 1");
    expect_load_error("+15550000001,gold,active,en-US,-1\n", GDA_ERR_CONFIG, "line 1");
    expect_load_error("+15550000001,gold,active,en-US,2x\n", GDA_ERR_CONFIG, "line 1");
    expect_load_error("+15550000001,gold,active,en-US,0\n+15550000001,silver,active,en-US,0\n",
                      GDA_ERR_CONFIG, "row 2");
    gda_error err = {0};
    assert_null(enrichment_table_load("/nonexistent/customers.csv", &err));
    assert_int_equal(err.code, GDA_ERR_UNAVAILABLE);
    /* An empty table loads and finds nobody. */
    char *path = write_temp("# nothing yet\n");
    enrichment_table *t = enrichment_table_load(path, &err);
    assert_non_null(t);
    assert_int_equal(enrichment_table_size(t), 0);
    assert_null(enrichment_lookup(t, "+15551234567"));
    enrichment_table_free(t);
    enrichment_table_free(NULL);
    unlink(path);
    free(path);
}

/* Parse body against the reference contract and run the handler. */
static gda_status run_handler(const enrichment_table *t, const char *body, json_t **data,
                              gda_error *err)
{
    gda_spec *spec = gda_spec_new_reference();
    assert_non_null(spec);
    gda_header h[] = {{gda_slice_cstr("Content-Type"), gda_slice_cstr("application/json")}};
    gda_http_request http = {0};
    http.kind = GDA_EVENT_HTTP;
    http.method = gda_slice_cstr("POST");
    http.path = gda_slice_cstr("/genesys/dataaction");
    http.headers = h;
    http.n_headers = 1;
    http.body = gda_slice_cstr(body);
    gda_request *req = NULL;
    gda_error perr = {0};
    assert_int_equal(gda_request_parse(spec, &http, NULL, &req, &perr), GDA_OK);
    *data = NULL;
    gda_status st = enrichment_handler(req, NULL, data, err, (void *)t);
    gda_request_free(req);
    gda_spec_free(spec);
    return st;
}

static void test_handler(void **state)
{
    (void)state;
    gda_error err = {0};
    enrichment_table *t = enrichment_table_load(enrichment_default_table_path(), &err);
    assert_non_null(t);
    json_t *data = NULL;

    assert_int_equal(run_handler(t,
                                 "{\"interactionId\":\"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70\","
                                 "\"requestId\":\"r1\",\"callerId\":\"+15550002222\"}",
                                 &data, &err),
                     GDA_OK);
    char *text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"customerFound\":true,\"tier\":\"gold\",\"accountStatus\":"
                              "\"past_due\",\"language\":\"en-US\",\"openCases\":2,"
                              "\"routingHint\":\"billing\"}");
    free(text);
    json_decref(data);

    assert_int_equal(run_handler(t,
                                 "{\"interactionId\":\"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70\","
                                 "\"requestId\":\"r2\",\"callerId\":\"+15559999999\"}",
                                 &data, &err),
                     GDA_OK);
    text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text,
                        "{\"customerFound\":false,\"tier\":\"unknown\",\"routingHint\":\"general\"}");
    free(text);
    json_decref(data);

    /* callerId is optional in the contract (withheld numbers): unknown caller. */
    assert_int_equal(run_handler(t,
                                 "{\"interactionId\":\"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70\","
                                 "\"requestId\":\"r3\"}",
                                 &data, &err),
                     GDA_OK);
    assert_true(json_is_false(json_object_get(data, "customerFound")));
    json_decref(data);

    /* No table: a retryable failure, not a wrong answer. */
    assert_int_equal(run_handler(NULL,
                                 "{\"interactionId\":\"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70\","
                                 "\"requestId\":\"r4\",\"callerId\":\"+15551234567\"}",
                                 &data, &err),
                     GDA_ERR_UNAVAILABLE);
    assert_null(data);
    enrichment_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_table),
        cmocka_unit_test(test_routing_hints),
        cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_handler),
    };
    return cmocka_run_group_tests_name("enrichment", tests, NULL, NULL);
}
