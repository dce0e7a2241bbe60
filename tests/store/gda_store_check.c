/* gda-store-check: the shared store behaviour suite (store_suite.c, the one
 * every built-in backend's tests run) against any store URI, so the author
 * of a backend can hold it to the contract of gda/store.h outside this tree.
 *
 *   gda-store-check [--module PATH]... URI
 *   gda-store-check [--module PATH]... --list
 *
 * Each --module is dlopen'ed (RTLD_NOW | RTLD_GLOBAL) before anything else;
 * its constructor, or the function GDA_STORE_MODULE_INIT it exports, calls
 * gda_store_register. The built-in backends of libgda-env are registered
 * too. Every check opens a fresh store from URI, with each "{}" in it
 * replaced by a token unique to the check (a new file or table per check);
 * a URI without "{}" must open an empty store every time.
 *
 * Exit status: 0 when every check passed, 1 when some failed (cmocka lists
 * them by name), 2 for a usage error, a module that cannot be loaded or
 * initialised, or a scheme nobody registered. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gda/env.h>
#include <gda/store_registry.h>

#include "store_suite.h"

#define PROG "gda-store-check"
#define MODULES_MAX 16

typedef struct check_ctx {
    const char *uri;
    unsigned opened; /* stores opened so far: the next check's token */
} check_ctx;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: " PROG " [--module PATH]... URI\n"
            "       " PROG " [--module PATH]... --list\n"
            "Runs libgda's store behaviour suite against the store URI opens\n"
            "(gda_store_open); each {} in URI becomes a token unique to one check.\n"
            "  --module PATH  dlopen PATH first; its constructor or its\n"
            "                 " GDA_STORE_MODULE_INIT "() registers its backends\n"
            "  --list         print the registered schemes and exit\n");
}

/* uri with every "{}" replaced by token; heap, NULL on NOMEM. */
static char *expand(const char *uri, const char *token)
{
    size_t holes = 0;
    for (const char *p = uri; (p = strstr(p, "{}")); p += 2)
        holes++;
    size_t len = strlen(uri) + holes * strlen(token) + 1;
    char *out = malloc(len);
    if (!out)
        return NULL;
    char *w = out;
    for (const char *p = uri; *p;) {
        if (p[0] == '{' && p[1] == '}') {
            w += sprintf(w, "%s", token);
            p += 2;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

static gda_store *check_open(void *user)
{
    check_ctx *ctx = user;
    char token[64];
    snprintf(token, sizeof token, "gda-check-%ld-%u", (long)getpid(), ctx->opened++);
    char *uri = expand(ctx->uri, token);
    if (!uri) {
        fprintf(stderr, PROG ": out of memory\n");
        return NULL;
    }
    gda_store *store = NULL;
    gda_error err;
    if (gda_store_open(uri, &store, &err) != GDA_OK)
        fprintf(stderr, PROG ": cannot open a store: %s\n", err.message);
    free(uri);
    return store;
}

static int load_module(const char *path)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
        fprintf(stderr, PROG ": cannot load module %s: %s\n", path, dlerror());
        return 2;
    }
    /* Never dlclosed: its backends stay registered for the process's life. */
    void *sym = dlsym(handle, GDA_STORE_MODULE_INIT);
    if (!sym)
        return 0; /* registered from its constructor, if at all */
    gda_store_module_init_fn init;
    memcpy(&init, &sym, sizeof init); /* ISO C has no object-to-function cast */
    gda_error err;
    gda_error_clear(&err);
    if (init(&err) != GDA_OK) {
        fprintf(stderr, PROG ": module %s: " GDA_STORE_MODULE_INIT " failed: %s\n", path,
                err.message);
        return 2;
    }
    return 0;
}

static void list_backends(void)
{
    gda_store_backend list[GDA_STORE_BACKENDS_MAX];
    size_t n = gda_store_backend_list(list, GDA_STORE_BACKENDS_MAX);
    for (size_t i = 0; i < n && i < GDA_STORE_BACKENDS_MAX; i++)
        printf("%-12s %s\n", list[i].scheme, list[i].description ? list[i].description : "");
}

int main(int argc, char **argv)
{
    const char *modules[MODULES_MAX];
    size_t nmodules = 0;
    const char *uri = NULL;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--module") == 0 && i + 1 < argc && nmodules < MODULES_MAX) {
            modules[nmodules++] = argv[++i];
        } else if (strcmp(argv[i], "--list") == 0) {
            list = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !uri) {
            uri = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!uri && !list) {
        usage(stderr);
        return 2;
    }
    gda_error err;
    if (gda_env_register_stores(&err) != GDA_OK) {
        fprintf(stderr, PROG ": %s\n", err.message);
        return 2;
    }
    for (size_t i = 0; i < nmodules; i++)
        if (load_module(modules[i]) != 0)
            return 2;
    if (list) {
        list_backends();
        return 0;
    }

    /* A scheme nobody registered fails every check alike: say it once. */
    size_t scheme_len = strcspn(uri, ":");
    char scheme[GDA_STORE_SCHEME_MAX];
    snprintf(scheme, sizeof scheme, "%.*s", (int)scheme_len, uri);
    if (scheme_len >= sizeof scheme || !gda_store_scheme_registered(scheme)) {
        gda_store *none = NULL;
        gda_store_open(uri, &none, &err);
        gda_store_close(none);
        fprintf(stderr, PROG ": %s\n", err.message);
        return 2;
    }

    check_ctx ctx = {.uri = uri, .opened = 0};
    char name[GDA_STORE_SCHEME_MAX + 32];
    snprintf(name, sizeof name, PROG " %s", scheme);
    store_suite_backend backend = {.name = name, .open = check_open, .cleanup = NULL,
                                   .user = &ctx};
    int failed = store_suite_run(&backend);
    if (failed)
        fprintf(stderr, PROG ": %d check(s) failed against scheme '%s'\n", failed, scheme);
    else
        printf(PROG ": every check passed against scheme '%s'\n", scheme);
    return failed ? 1 : 0;
}
