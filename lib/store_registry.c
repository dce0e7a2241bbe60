/* libgda — the store registry (see include/gda/store_registry.h). A fixed
 * table of copied backends under one mutex; "memory" is registered on first
 * use. Nothing here allocates: a registration lives as long as the process. */
#include <gda/store_registry.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

#define DESCRIPTION_MAX 256 /* with its NUL */
#define MEMORY_MAX_ENTRIES 100000000u

typedef struct entry {
    int version;
    char scheme[GDA_STORE_SCHEME_MAX];
    char description[DESCRIPTION_MAX];
    gda_store_open_fn open;
    void *user;
} entry;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static entry registry[GDA_STORE_BACKENDS_MAX];
static size_t registry_count;

/* ---- the memory backend ----------------------------------------------- */

/* Strict decimal count: digits only, 1..max. */
static bool parse_count(const char *s, size_t max, size_t *out)
{
    if (!*s)
        return false;
    size_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        size_t d = (size_t)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v == 0)
        return false;
    *out = v;
    return true;
}

static gda_status memory_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    (void)user;
    size_t n = 0;
    if (rest && !parse_count(rest, MEMORY_MAX_ENTRIES, &n))
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "memory:N needs a record count from 1 to %u", MEMORY_MAX_ENTRIES);
    *out = gda_memory_store_new(n, err);
    return *out ? GDA_OK : err->code;
}

static const gda_store_backend memory_backend = {
    .version = GDA_STORE_BACKEND_VERSION,
    .scheme = "memory",
    .description = "memory, memory:N  the in-process memory store (at most N records)",
    .open = memory_open,
    .user = NULL,
};

/* ---- the table ---------------------------------------------------------- */

static bool scheme_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= GDA_STORE_SCHEME_MAX || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
              c == '.'))
            return false;
    }
    return true;
}

/* The entry for scheme (n bytes, not NUL-terminated), or NULL. Lock held. */
static entry *find_locked(const char *scheme, size_t n)
{
    for (size_t i = 0; i < registry_count; i++)
        if (strlen(registry[i].scheme) == n && memcmp(registry[i].scheme, scheme, n) == 0)
            return &registry[i];
    return NULL;
}

static gda_status register_locked(const gda_store_backend *b, gda_error *err)
{
    entry *old = find_locked(b->scheme, strlen(b->scheme));
    if (old) {
        if (old->open == b->open && old->user == b->user)
            return GDA_OK; /* the same backend again */
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "store scheme '%s' is already registered by another backend",
                             b->scheme);
    }
    if (registry_count == GDA_STORE_BACKENDS_MAX)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "cannot register store scheme '%s': %d backends are registered "
                             "already, the most one process can have",
                             b->scheme, GDA_STORE_BACKENDS_MAX);
    entry *e = &registry[registry_count];
    memset(e, 0, sizeof *e);
    e->version = b->version;
    memcpy(e->scheme, b->scheme, strlen(b->scheme) + 1);
    if (b->description)
        memcpy(e->description, b->description, strlen(b->description) + 1);
    e->open = b->open;
    e->user = b->user;
    registry_count++;
    return GDA_OK;
}

static void register_core(void)
{
    pthread_mutex_lock(&registry_lock);
    (void)register_locked(&memory_backend, NULL); /* cannot fail on an empty table */
    pthread_mutex_unlock(&registry_lock);
}

gda_status gda_store_register(const gda_store_backend *backend, gda_error *err)
{
    if (!backend)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL, "no store backend to register");
    const char *scheme = backend->scheme;
    if (!scheme_valid(scheme))
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "store backend has %s scheme: a scheme is 1 to %d characters of "
                             "a-z 0-9 + - . starting with a letter",
                             scheme ? "a malformed" : "no", GDA_STORE_SCHEME_MAX - 1);
    if (backend->version < GDA_STORE_BACKEND_VERSION_MIN ||
        backend->version > GDA_STORE_BACKEND_VERSION)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "store backend '%s' is a gda_store_backend of version %d; this "
                             "libgda accepts versions %d to %d",
                             scheme, backend->version, GDA_STORE_BACKEND_VERSION_MIN,
                             GDA_STORE_BACKEND_VERSION);
    if (!backend->open)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL, "store backend '%s' has no open function",
                             scheme);
    if (backend->description && strlen(backend->description) >= DESCRIPTION_MAX)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "store backend '%s' has a description over %d bytes", scheme,
                             DESCRIPTION_MAX - 1);
    pthread_once(&registry_once, register_core);
    pthread_mutex_lock(&registry_lock);
    gda_status st = register_locked(backend, err);
    pthread_mutex_unlock(&registry_lock);
    return st;
}

bool gda_store_scheme_registered(const char *scheme)
{
    if (!scheme)
        return false;
    pthread_once(&registry_once, register_core);
    pthread_mutex_lock(&registry_lock);
    bool found = find_locked(scheme, strlen(scheme)) != NULL;
    pthread_mutex_unlock(&registry_lock);
    return found;
}

size_t gda_store_backend_list(gda_store_backend *out, size_t max)
{
    pthread_once(&registry_once, register_core);
    pthread_mutex_lock(&registry_lock);
    size_t n = registry_count;
    for (size_t i = 0; out && i < n && i < max; i++) {
        const entry *e = &registry[i];
        out[i] = (gda_store_backend){.version = e->version,
                                     .scheme = e->scheme,
                                     .description = e->description[0] ? e->description : NULL,
                                     .open = e->open,
                                     .user = e->user};
    }
    pthread_mutex_unlock(&registry_lock);
    return n;
}

/* "unknown store ...: registered schemes are a, b, c". The unknown scheme is
 * named only when it has a scheme's syntax and a ':' followed it: a bare word
 * might be a mistyped secret. */
static gda_status unknown_scheme(const char *uri, size_t n, bool had_colon, gda_error *err)
{
    char known[GDA_ERROR_MESSAGE_SIZE];
    size_t used = 0;
    known[0] = '\0';
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_count; i++) {
        int w = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                         registry[i].scheme);
        if (w < 0 || (size_t)w >= sizeof known - used)
            break;
        used += (size_t)w;
    }
    pthread_mutex_unlock(&registry_lock);
    char scheme[GDA_STORE_SCHEME_MAX] = "";
    if (had_colon && n < sizeof scheme) {
        memcpy(scheme, uri, n);
        scheme[n] = '\0';
        if (!scheme_valid(scheme))
            scheme[0] = '\0';
    }
    if (scheme[0])
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "unknown store scheme '%s': registered schemes are %s", scheme,
                             known);
    return gda_error_set(err, GDA_ERR_CONFIG, NULL, "unknown store: registered schemes are %s",
                         known);
}

gda_status gda_store_open(const char *uri, gda_store **out, gda_error *err)
{
    if (!out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "store open: no output");
    *out = NULL;
    if (!uri || !*uri)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL, "no store given");
    pthread_once(&registry_once, register_core);

    const char *colon = strchr(uri, ':');
    size_t n = colon ? (size_t)(colon - uri) : strlen(uri);
    pthread_mutex_lock(&registry_lock);
    const entry *e = find_locked(uri, n);
    entry found = e ? *e : (entry){0};
    pthread_mutex_unlock(&registry_lock);
    if (!e)
        return unknown_scheme(uri, n, colon != NULL, err);

    /* The backend always gets an error to fill, cleared. */
    gda_error oerr;
    gda_error_clear(&oerr);
    gda_store *store = NULL;
    gda_status st = found.open(colon ? colon + 1 : NULL, found.user, &store, &oerr);
    if (st != GDA_OK || !store) {
        if (store) /* a backend that failed yet returned a store: do not leak or use it */
            gda_store_close(store);
        if (st == GDA_OK)
            return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                                 "store backend '%s' reported success but returned no store",
                                 found.scheme);
        if (err) {
            *err = oerr;
            err->code = st;
        }
        return st;
    }
    gda_error cerr;
    gda_error_clear(&cerr);
    st = gda_store_ops_check(store->ops, &cerr);
    if (st != GDA_OK) {
        if (store->ops && store->ops->close)
            store->ops->close(store);
        return gda_error_set(err, st == GDA_ERR_INTERNAL ? GDA_ERR_CONFIG : st, NULL,
                             "store scheme '%s': %s", found.scheme,
                             st == GDA_ERR_INTERNAL ? "the store it opened has no operations"
                                                    : cerr.message);
    }
    *out = store;
    return GDA_OK;
}
