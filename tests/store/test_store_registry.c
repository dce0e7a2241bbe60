/* Tests for the store registry (lib/store_registry.c, gda/store_registry.h):
 * the core's memory scheme, registration rules (versions, schemes, the same
 * backend again, a different one refused), URI splitting, the checks on the
 * store a backend opens, thread safety, and the table's limit (last: it
 * fills the table). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gda/store_registry.h>

static void expect_register_error(const gda_store_backend *b, const char *what)
{
    gda_error err;
    assert_int_equal(gda_store_register(b, &err), GDA_ERR_CONFIG);
    if (!strstr(err.message, what))
        fail_msg("'%s' does not say '%s'", err.message, what);
}

static void expect_open_error(const char *uri, gda_status code, const char *what)
{
    gda_store *store = (gda_store *)&store; /* must be reset to NULL */
    gda_error err;
    assert_int_equal(gda_store_open(uri, &store, &err), code);
    assert_int_equal(err.code, code);
    assert_null(store);
    if (what && !strstr(err.message, what))
        fail_msg("%s: '%s' does not say '%s'", uri ? uri : "(null)", err.message, what);
}

/* ---- a backend that opens memory stores and remembers what it was given */

static char seen_rest[64];
static bool seen_null;

static gda_status echo_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    (void)user;
    seen_null = rest == NULL;
    snprintf(seen_rest, sizeof seen_rest, "%s", rest ? rest : "");
    return gda_store_open("memory", out, err);
}

static const gda_store_backend echo = {GDA_STORE_BACKEND_VERSION, "echo", "echo:ANY  a test",
                                       echo_open, NULL};

static void test_memory_is_built_in(void **state)
{
    (void)state;
    assert_true(gda_store_scheme_registered("memory"));
    gda_store *s = NULL;
    gda_error err;
    assert_int_equal(gda_store_open("memory", &s, &err), GDA_OK);
    assert_string_equal(s->ops->name, "memory");
    gda_store_close(s);
    assert_int_equal(gda_store_open("memory:10", &s, &err), GDA_OK);
    gda_store_close(s);
    expect_open_error("memory:0", GDA_ERR_CONFIG, "memory:N needs a record count");
    expect_open_error("memory:", GDA_ERR_CONFIG, "memory:N needs a record count");
    expect_open_error("memory:100000001", GDA_ERR_CONFIG, "from 1 to 100000000");
    expect_open_error("memory:1x", GDA_ERR_CONFIG, NULL);
}

static void test_open_arguments(void **state)
{
    (void)state;
    gda_error err;
    assert_int_equal(gda_store_open("memory", NULL, &err), GDA_ERR_INTERNAL);
    expect_open_error(NULL, GDA_ERR_CONFIG, "no store given");
    expect_open_error("", GDA_ERR_CONFIG, "no store given");
    assert_false(gda_store_scheme_registered(NULL));
    /* err may be NULL. */
    gda_store *s = (gda_store *)&s;
    assert_int_equal(gda_store_open("nosuch:x", &s, NULL), GDA_ERR_CONFIG);
    assert_null(s);
}

static void test_rest_of_the_uri(void **state)
{
    (void)state;
    gda_error err;
    assert_int_equal(gda_store_register(&echo, &err), GDA_OK);
    gda_store *s = NULL;
    assert_int_equal(gda_store_open("echo:a:b/c?d", &s, &err), GDA_OK);
    gda_store_close(s);
    assert_false(seen_null);
    assert_string_equal(seen_rest, "a:b/c?d");
    assert_int_equal(gda_store_open("echo:", &s, &err), GDA_OK);
    gda_store_close(s);
    assert_false(seen_null);
    assert_string_equal(seen_rest, "");
    assert_int_equal(gda_store_open("echo", &s, &err), GDA_OK);
    gda_store_close(s);
    assert_true(seen_null);
    /* The scheme matches whole and exactly. */
    expect_open_error("ech:x", GDA_ERR_CONFIG, "unknown store scheme 'ech'");
    expect_open_error("echoo:x", GDA_ERR_CONFIG, "unknown store scheme 'echoo'");
    expect_open_error("ECHO:x", GDA_ERR_CONFIG, "unknown store");
}

static void test_unknown_scheme_lists_registered(void **state)
{
    (void)state;
    gda_error err;
    gda_store *s = NULL;
    assert_int_equal(gda_store_open("redis://localhost", &s, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "unknown store scheme 'redis'"));
    assert_non_null(strstr(err.message, "registered schemes are memory, echo"));
    /* A bare word is never repeated (it might be a misplaced secret), nor
     * anything that is not a scheme. */
    assert_int_equal(gda_store_open("hunter2hunter2", &s, &err), GDA_ERR_CONFIG);
    assert_null(strstr(err.message, "hunter2"));
    assert_non_null(strstr(err.message, "registered schemes are memory"));
    assert_int_equal(gda_store_open("Pass Word:x", &s, &err), GDA_ERR_CONFIG);
    assert_null(strstr(err.message, "Pass"));
}

static gda_status other_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    return echo_open(rest, user, out, err);
}

static void test_same_backend_again_different_refused(void **state)
{
    (void)state;
    gda_error err;
    assert_int_equal(gda_store_register(&echo, &err), GDA_OK);
    /* A copy of the struct is the same backend too. */
    gda_store_backend copy = echo;
    copy.description = NULL;
    assert_int_equal(gda_store_register(&copy, &err), GDA_OK);
    gda_store_backend other = echo;
    other.open = other_open;
    expect_register_error(&other, "store scheme 'echo' is already registered by another backend");
    other = echo;
    other.user = &other;
    expect_register_error(&other, "already registered");
    /* The core's own scheme is taken too. */
    other.scheme = "memory";
    expect_register_error(&other, "store scheme 'memory' is already registered");
    /* Nothing changed. */
    gda_store_backend list[GDA_STORE_BACKENDS_MAX];
    size_t n = gda_store_backend_list(list, GDA_STORE_BACKENDS_MAX);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].scheme, "memory");
    assert_non_null(list[0].description);
    assert_string_equal(list[1].scheme, "echo");
    assert_string_equal(list[1].description, "echo:ANY  a test");
    assert_true(list[1].open == echo_open);
    assert_int_equal(gda_store_backend_list(NULL, 0), 2);
}

static void test_unfit_backends_refused(void **state)
{
    (void)state;
    gda_store_backend b = {GDA_STORE_BACKEND_VERSION, "unfit", NULL, echo_open, NULL};
    expect_register_error(NULL, "no store backend");
    b.version = GDA_STORE_BACKEND_VERSION_MIN - 1;
    expect_register_error(&b, "store backend 'unfit' is a gda_store_backend of version 0; this "
                              "libgda accepts versions 1 to 1");
    b.version = GDA_STORE_BACKEND_VERSION + 1;
    expect_register_error(&b, "of version 2;");
    b.version = GDA_STORE_BACKEND_VERSION;
    b.open = NULL;
    expect_register_error(&b, "store backend 'unfit' has no open function");
    b.open = echo_open;
    const char *bad_schemes[] = {"", "Upper", "9lives", "with space", "colon:", "under_score",
                                 "a23456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad_schemes / sizeof bad_schemes[0]; i++) {
        b.scheme = bad_schemes[i];
        expect_register_error(&b, "malformed scheme");
    }
    b.scheme = NULL;
    expect_register_error(&b, "has no scheme");
    b.scheme = "a2345678901234567890123456789.+"; /* 31 characters: the longest */
    gda_error err;
    assert_int_equal(gda_store_register(&b, &err), GDA_OK);
    char longdesc[300];
    memset(longdesc, 'd', sizeof longdesc - 1);
    longdesc[sizeof longdesc - 1] = '\0';
    b.scheme = "long-description";
    b.description = longdesc;
    expect_register_error(&b, "description over 255 bytes");
    assert_false(gda_store_scheme_registered("unfit"));
    assert_false(gda_store_scheme_registered("long-description"));
}

/* ---- backends whose open misbehaves ------------------------------------ */

static int closes;

static void counting_close(gda_store *s)
{
    closes++;
    free(s);
}

static gda_store_ops unfit_ops;
static gda_store *last_opened;

static gda_status unfit_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    (void)rest, (void)user, (void)err;
    gda_store *s = calloc(1, sizeof *s);
    if (!s)
        return GDA_ERR_NOMEM;
    s->ops = &unfit_ops;
    *out = last_opened = s;
    return GDA_OK;
}

static gda_status dummy_put(gda_store *s, const gda_record *r, const gda_store_call *c, bool *i,
                            gda_record *e, gda_error *err)
{
    (void)s, (void)r, (void)c, (void)i, (void)e, (void)err;
    return GDA_OK;
}
static gda_status dummy_get(gda_store *s, const char *k, const gda_store_call *c, gda_record *o,
                            bool *f, gda_error *err)
{
    (void)s, (void)k, (void)c, (void)o, (void)f, (void)err;
    return GDA_OK;
}
static gda_status dummy_complete(gda_store *s, const gda_record *r, const gda_store_call *c,
                                 bool *a, gda_error *err)
{
    (void)s, (void)r, (void)c, (void)a, (void)err;
    return GDA_OK;
}
static gda_status dummy_release(gda_store *s, const char *k, const char *o,
                                const gda_store_call *c, bool *a, gda_error *err)
{
    (void)s, (void)k, (void)o, (void)c, (void)a, (void)err;
    return GDA_OK;
}

static const gda_store_ops fit_ops = {GDA_STORE_OPS_VERSION, "unfit", dummy_put, dummy_get,
                                      dummy_complete, dummy_release, counting_close};

static void test_unfit_vtable_refused_and_closed(void **state)
{
    (void)state;
    gda_error err;
    gda_store_backend b = {GDA_STORE_BACKEND_VERSION, "vtable", NULL, unfit_open, NULL};
    assert_int_equal(gda_store_register(&b, &err), GDA_OK);

    unfit_ops = fit_ops;
    gda_store *s = NULL;
    assert_int_equal(gda_store_open("vtable:", &s, &err), GDA_OK);
    gda_store_close(s);
    assert_int_equal(closes, 1);

    unfit_ops.version = GDA_STORE_OPS_VERSION_MIN - 1;
    expect_open_error("vtable:", GDA_ERR_CONFIG,
                      "store scheme 'vtable': store backend 'unfit' implements store interface "
                      "version 2; this libgda needs version 3");
    assert_int_equal(closes, 2);
    unfit_ops.version = GDA_STORE_OPS_VERSION + 1;
    expect_open_error("vtable:", GDA_ERR_CONFIG, "version 4");
    assert_int_equal(closes, 3);
    unfit_ops.version = GDA_STORE_OPS_VERSION;

    static const char *ops_names[] = {"put_if_absent", "get", "complete", "release"};
    for (int i = 0; i < 4; i++) {
        unfit_ops = fit_ops;
        if (i == 0)
            unfit_ops.put_if_absent = NULL;
        if (i == 1)
            unfit_ops.get = NULL;
        if (i == 2)
            unfit_ops.complete = NULL;
        if (i == 3)
            unfit_ops.release = NULL;
        char want[96];
        snprintf(want, sizeof want, "store backend 'unfit' has no %s operation", ops_names[i]);
        expect_open_error("vtable:", GDA_ERR_CONFIG, want);
        assert_int_equal(closes, 4 + i);
    }
    /* Without close the registry cannot close the store: refused all the
     * same (and freed here, as only its backend could). */
    unfit_ops = fit_ops;
    unfit_ops.close = NULL;
    expect_open_error("vtable:", GDA_ERR_CONFIG, "has no close operation");
    free(last_opened);
    unfit_ops = fit_ops;
}

static gda_store *lost_store;

static gda_status fails_with_store(const char *rest, void *user, gda_store **out,
                                   gda_error *err)
{
    (void)user;
    if (rest && strcmp(rest, "nothing") == 0)
        return GDA_OK; /* success without a store */
    if (rest && strcmp(rest, "leaky") == 0) {
        unfit_ops = fit_ops;
        unfit_open(NULL, NULL, out, err);
        lost_store = *out;
    }
    return gda_error_set(err, GDA_ERR_STORE, "db", "cannot reach the database");
}

static void test_open_failures_passed_on(void **state)
{
    (void)state;
    gda_error err;
    gda_store_backend b = {GDA_STORE_BACKEND_VERSION, "failing", NULL, fails_with_store, NULL};
    assert_int_equal(gda_store_register(&b, &err), GDA_OK);
    gda_store *s = (gda_store *)&s;
    assert_int_equal(gda_store_open("failing:x", &s, &err), GDA_ERR_STORE);
    assert_null(s);
    assert_string_equal(err.field, "db");
    assert_string_equal(err.message, "cannot reach the database");
    /* A store returned with a failure is closed, not handed out. */
    int before = closes;
    expect_open_error("failing:leaky", GDA_ERR_STORE, "cannot reach");
    assert_non_null(lost_store);
    assert_int_equal(closes, before + 1);
    expect_open_error("failing:nothing", GDA_ERR_INTERNAL,
                      "store backend 'failing' reported success but returned no store");
}

/* ---- threads ------------------------------------------------------------ */

enum { THREADS = 8, ROUNDS = 200 };

static gda_status thread_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    return echo_open(rest, user, out, err);
}

static int thread_failures[THREADS];

static void *racer(void *arg)
{
    int id = (int)(size_t)arg;
    char scheme[16];
    snprintf(scheme, sizeof scheme, "t%d", id);
    gda_store_backend own = {GDA_STORE_BACKEND_VERSION, scheme, NULL, thread_open, NULL};
    gda_store_backend shared = {GDA_STORE_BACKEND_VERSION, "shared", NULL, thread_open, NULL};
    for (int r = 0; r < ROUNDS; r++) {
        gda_error err;
        if (gda_store_register(&own, &err) != GDA_OK || gda_store_register(&shared, &err) != GDA_OK)
            thread_failures[id]++;
        gda_store *s = NULL;
        if (gda_store_open(r % 2 ? "shared" : "memory:5", &s, &err) != GDA_OK)
            thread_failures[id]++;
        gda_store_close(s);
    }
    return NULL;
}

static void test_concurrent_register_and_open(void **state)
{
    (void)state;
    size_t before = gda_store_backend_list(NULL, 0);
    pthread_t t[THREADS];
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, racer, (void *)i), 0);
    for (size_t i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(thread_failures[i], 0);
    assert_int_equal(gda_store_backend_list(NULL, 0), before + THREADS + 1);
}

/* Last: fills the table. */
static void test_table_limit(void **state)
{
    (void)state;
    gda_error err;
    char scheme[GDA_STORE_BACKENDS_MAX + 8][16];
    size_t n = gda_store_backend_list(NULL, 0);
    size_t i = 0;
    for (; n < GDA_STORE_BACKENDS_MAX; i++, n++) {
        snprintf(scheme[i], sizeof scheme[i], "fill%zu", i);
        gda_store_backend b = {GDA_STORE_BACKEND_VERSION, scheme[i], NULL, echo_open, NULL};
        assert_int_equal(gda_store_register(&b, &err), GDA_OK);
    }
    gda_store_backend b = {GDA_STORE_BACKEND_VERSION, "onetoomany", NULL, echo_open, NULL};
    expect_register_error(&b, "64 backends are registered already");
    /* The ones there still register again and open. */
    assert_int_equal(gda_store_register(&echo, &err), GDA_OK);
    gda_store *s = NULL;
    assert_int_equal(gda_store_open("fill0:x", &s, &err), GDA_OK);
    gda_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_is_built_in),
        cmocka_unit_test(test_open_arguments),
        cmocka_unit_test(test_rest_of_the_uri),
        cmocka_unit_test(test_unknown_scheme_lists_registered),
        cmocka_unit_test(test_same_backend_again_different_refused),
        cmocka_unit_test(test_unfit_backends_refused),
        cmocka_unit_test(test_unfit_vtable_refused_and_closed),
        cmocka_unit_test(test_open_failures_passed_on),
        cmocka_unit_test(test_concurrent_register_and_open),
        cmocka_unit_test(test_table_limit),
    };
    return cmocka_run_group_tests_name("store_registry", tests, NULL, NULL);
}
