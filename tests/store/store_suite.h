/* The shared behaviour suite every idempotency store backend must pass.
 * One suite, parameterized by backend, so later backends are held to the
 * same contract as the first (include/gda/store.h). */
#ifndef GDA_TEST_STORE_SUITE_H
#define GDA_TEST_STORE_SUITE_H

#include <gda/store.h>

typedef struct store_suite_backend {
    const char *name;
    /* Open a fresh, empty store. Called once per test case. */
    gda_store *(*open)(void *user);
    /* Called after the store of a test case was closed (e.g. to delete its
     * file or table). May be NULL. */
    void (*cleanup)(void *user);
    void *user;
} store_suite_backend;

/* Run every contract test against the backend as one cmocka group; returns
 * the number of failed tests (use it as the exit status). */
int store_suite_run(const store_suite_backend *backend);

#endif
