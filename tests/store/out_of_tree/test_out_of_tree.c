/* Backends from outside the tree, loaded the way a user's program loads
 * them: test_out_of_tree JOURNAL_MODULE FAULTY_MODULE BROKEN_MODULE.
 *
 * The journal module (journal_store.c, public headers only) registers
 * "journal" from its gda_store_module_init; it must pass the whole shared
 * behaviour suite through gda_store_open, and be reachable through
 * libgda-env (gda_store_open_uri, GDA_STORE=journal:NAME in
 * gda_env_app_new). The faulty and broken modules must be refused with
 * errors naming what is wrong. Links the shared libgda and libgda-env, as
 * an installed program would. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <gda/env.h>
#include <gda/store_registry.h>

#include "store_suite.h"

static const char *faulty_path;
static const char *broken_path;

/* dlopen path and run its gda_store_module_init; returns what it returned. */
static gda_status load(const char *path, gda_error *err)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        return GDA_ERR_INTERNAL;
    }
    void *sym = dlsym(handle, GDA_STORE_MODULE_INIT);
    if (!sym) {
        fprintf(stderr, "%s exports no " GDA_STORE_MODULE_INIT "\n", path);
        return GDA_ERR_INTERNAL;
    }
    gda_store_module_init_fn init;
    memcpy(&init, &sym, sizeof init);
    gda_error_clear(err);
    return init(err);
}

static gda_store *journal_case_open(void *user)
{
    unsigned *n = user;
    char uri[64];
    snprintf(uri, sizeof uri, "journal:case-%u", (*n)++);
    gda_store *store = NULL;
    gda_error err;
    if (gda_store_open(uri, &store, &err) != GDA_OK)
        fprintf(stderr, "%s: %s\n", uri, err.message);
    return store;
}

/* Stores opened under one name share the journal; the error for a missing
 * name is the backend's own. */
static void test_env_opens_journal(void **state)
{
    (void)state;
    assert_true(gda_store_scheme_registered("journal"));
    gda_error err;
    gda_store *a = gda_store_open_uri("journal:shared", &err);
    gda_store *b = gda_store_open_uri("journal:shared", &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->ops->name, "journal");
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = "k";
    rec.state = GDA_RECORD_IN_PROGRESS;
    snprintf(rec.owner, sizeof rec.owner, "%032d", 1);
    rec.lease_until_ms = 2000;
    gda_store_call call = {.now_ms = 1000};
    bool inserted = false, found = false;
    assert_int_equal(gda_store_put_if_absent(a, &rec, &call, &inserted, NULL, &err), GDA_OK);
    assert_true(inserted);
    gda_record got;
    memset(&got, 0, sizeof got);
    assert_int_equal(gda_store_get(b, "k", &call, &got, &found, &err), GDA_OK);
    assert_true(found);
    assert_string_equal(got.owner, rec.owner);
    gda_record_clear(&got);
    gda_store_close(a);
    gda_store_close(b);

    assert_null(gda_store_open_uri("journal:", &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);
    assert_string_equal(err.field, "GDA_STORE");
    assert_non_null(strstr(err.message, "journal store needs a name"));
}

typedef struct fake_env {
    const char *store;
} fake_env;

static const char *fake_get(const char *name, void *user)
{
    fake_env *e = user;
    if (strcmp(name, "GDA_STORE") == 0)
        return e->store;
    if (strcmp(name, "GDA_SECRETS") == 0)
        return "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    if (strcmp(name, "GDA_HASH_KEY") == 0)
        return "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    return NULL;
}

static gda_status handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                          gda_error *err, void *user)
{
    (void)req, (void)ctx, (void)err, (void)user;
    *data_out = json_object();
    return GDA_OK;
}

static void discard(const char *line, size_t len, void *user)
{
    (void)line, (void)len, (void)user;
}

static gda_status build(const char *store, gda_app **app, gda_error *err)
{
    fake_env e = {.store = store};
    gda_env_overrides o;
    memset(&o, 0, sizeof o);
    o.getenv = fake_get;
    o.getenv_user = &e;
    o.log_sink = discard;
    return gda_env_app_new(handler, NULL, &o, app, err);
}

/* GDA_STORE reaches a registered backend; an unknown scheme's error lists
 * the registered ones, this one included. */
static void test_env_app_on_journal(void **state)
{
    (void)state;
    gda_app *app = NULL;
    gda_error err;
    assert_int_equal(build("journal:app", &app, &err), GDA_OK);
    assert_non_null(app);
    gda_app_free(app);

    app = NULL;
    assert_int_equal(build("nosuch:x", &app, &err), GDA_ERR_CONFIG);
    assert_null(app);
    assert_string_equal(err.field, "GDA_STORE");
    assert_non_null(strstr(err.message, "unknown store scheme 'nosuch'"));
    assert_non_null(strstr(err.message, "journal"));
    assert_non_null(strstr(err.message, "memory"));
}

/* A module may be initialised again (a host loading it twice). */
static void test_reregister_is_a_no_op(void **state)
{
    const char *journal_path = *state;
    gda_error err;
    assert_int_equal(load(journal_path, &err), GDA_OK);
    gda_store_backend list[GDA_STORE_BACKENDS_MAX];
    size_t n = gda_store_backend_list(list, GDA_STORE_BACKENDS_MAX);
    size_t journals = 0;
    for (size_t i = 0; i < n; i++)
        journals += strcmp(list[i].scheme, "journal") == 0;
    assert_int_equal(journals, 1);
}

static void test_broken_module_refused(void **state)
{
    (void)state;
    gda_error err;
    assert_int_equal(load(broken_path, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "'future'"));
    assert_non_null(strstr(err.message, "version 99"));
    assert_false(gda_store_scheme_registered("future"));
}

static void expect_unfit(const char *uri, const char *what)
{
    gda_store *store = (gda_store *)&store;
    gda_error err;
    assert_int_equal(gda_store_open(uri, &store, &err), GDA_ERR_CONFIG);
    assert_null(store);
    if (!strstr(err.message, what))
        fail_msg("%s: '%s' does not say '%s'", uri, err.message, what);
}

static void test_faulty_vtables_refused(void **state)
{
    (void)state;
    gda_error err;
    assert_int_equal(load(faulty_path, &err), GDA_OK);
    expect_unfit("nullget:", "store backend 'nullget' has no get operation");
    expect_unfit("oldops:", "store backend 'oldops' implements store interface version 2");
    /* Fit vtable, wrong behaviour: it opens; the suite is what catches it. */
    gda_store *store = NULL;
    assert_int_equal(gda_store_open("forgetful:", &store, &err), GDA_OK);
    gda_store_close(store);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s JOURNAL_MODULE FAULTY_MODULE BROKEN_MODULE\n", argv[0]);
        return 2;
    }
    faulty_path = argv[2];
    broken_path = argv[3];
    gda_error err;
    if (load(argv[1], &err) != GDA_OK) {
        fprintf(stderr, "journal module: %s\n", err.message);
        return 1;
    }
    unsigned cases = 0;
    store_suite_backend journal = {.name = "store_suite/journal (out of tree)",
                                   .open = journal_case_open, .cleanup = NULL, .user = &cases};
    int failed = store_suite_run(&journal);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_opens_journal),
        cmocka_unit_test(test_env_app_on_journal),
        cmocka_unit_test_prestate(test_reregister_is_a_no_op, argv[1]),
        cmocka_unit_test(test_broken_module_refused),
        cmocka_unit_test(test_faulty_vtables_refused),
    };
    failed += cmocka_run_group_tests_name("out_of_tree", tests, NULL, NULL);
    return failed ? 1 : 0;
}
