/** @file
 * libgda — the store registry: opening a store by URI, for any backend.
 *
 * Like SQLite's VFS list or jansson's allocator hooks, a store backend makes
 * itself known to the core once, under a URI scheme, and is opened from then
 * on by URI:
 *
 *     static gda_status journal_open(const char *rest, void *user,
 *                                    gda_store **out, gda_error *err);
 *     static const gda_store_backend journal = {
 *         GDA_STORE_BACKEND_VERSION, "journal", "journal:NAME  a named journal",
 *         journal_open, NULL};
 *     gda_store_register(&journal, &err);
 *     gda_store_open("journal:orders", &store, &err);
 *
 * The core registers "memory" itself. The built-in backends export their own
 * register functions (gda_store_sqlite_register in gda/store/sqlite.h,
 * gda_store_dynamodb_register in gda/store/dynamodb.h); libgda-env
 * (gda/env.h) registers the ones it was built with, so `GDA_STORE` reaches
 * every registered scheme, a program's own backend included.
 *
 * URI syntax: `scheme` or `scheme:rest`. The scheme is everything before the
 * first ':' (the whole URI when there is none); it is 1 to
 * GDA_STORE_SCHEME_MAX - 1 characters of lowercase a-z, 0-9, '+', '-', '.',
 * starting with a letter, and matches exactly (case matters). What follows
 * the ':' is the backend's own.
 *
 * Thread safety: every function here may be called from any thread at any
 * time; the registry is guarded by a mutex, and a backend's open runs
 * outside it (so an open may itself register or open).
 */
#ifndef GDA_STORE_REGISTRY_H
#define GDA_STORE_REGISTRY_H

#include <stddef.h>

#include <gda/export.h>
#include <gda/status.h>
#include <gda/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of gda_store_backend this header describes; a backend sets it in
 * gda_store_backend.version. */
#define GDA_STORE_BACKEND_VERSION 1
/** Oldest gda_store_backend version this libgda still accepts. */
#define GDA_STORE_BACKEND_VERSION_MIN 1
/** Size of the longest scheme plus its NUL. */
#define GDA_STORE_SCHEME_MAX 32
/** Most backends one process can register (the core's "memory" counts). */
#define GDA_STORE_BACKENDS_MAX 64

/** Opens a store for the part of a URI after "scheme:".
 *
 * rest is what follows the first ':' (possibly ""), or NULL when the URI was
 * the bare scheme; user is gda_store_backend.user; err is never NULL and
 * arrives cleared (gda_store_open passes the caller's error on). On success the backend
 * sets *out to a new store (closed with gda_store_close) and returns GDA_OK;
 * on failure it leaves *out NULL and fills err (GDA_ERR_CONFIG for a URI it
 * cannot use, naming what is wrong without repeating the URI, which may hold
 * a secret). */
typedef gda_status (*gda_store_open_fn)(const char *rest, void *user, gda_store **out,
                                        gda_error *err);

/** A store backend as registered: a versioned struct, copied by
 * gda_store_register (the caller may reuse or free it afterwards; open and
 * user must stay valid for the life of the process, so a module that
 * registers must never be unloaded). */
typedef struct gda_store_backend {
    int version;             /**< GDA_STORE_BACKEND_VERSION */
    const char *scheme;      /**< URI scheme, e.g. "sqlite" (syntax in the file comment) */
    /** Optional one-line usage, e.g. "sqlite:PATH  the SQLite store in file
     * PATH"; NULL or "" for none (at most 255 bytes). */
    const char *description;
    gda_store_open_fn open;  /**< required */
    void *user;              /**< passed to open */
} gda_store_backend;

/** Register backend under backend->scheme.
 *
 * Registering the same backend again (same scheme, open and user) is a
 * no-op that returns GDA_OK, so every user of a backend may register it.
 * Errors, with nothing registered: GDA_ERR_CONFIG naming the problem — a NULL
 * backend, a version outside GDA_STORE_BACKEND_VERSION_MIN ..
 * GDA_STORE_BACKEND_VERSION, a NULL open, a missing or malformed scheme, a
 * description over 255 bytes, a scheme already registered by a different
 * backend, GDA_STORE_BACKENDS_MAX reached. */
GDA_API gda_status gda_store_register(const gda_store_backend *backend, gda_error *err);

/** Open the store that uri names, through the backend registered under its
 * scheme.
 *
 * The store the backend returns is checked before it is handed out: its
 * gda_store_ops must have a version from GDA_STORE_OPS_VERSION_MIN to
 * GDA_STORE_OPS_VERSION and every operation set; a store that fails is
 * closed (when it has a close) and refused.
 *
 * On success *out is the new store (gda_store_close). Errors (*out NULL):
 * GDA_ERR_INTERNAL (out NULL); GDA_ERR_CONFIG for a NULL or empty uri, a
 * scheme nobody registered (the message lists the registered schemes) or a
 * store with an unfit vtable (the message names the backend and what is
 * wrong); whatever the backend's open returns. err->field is left as the
 * backend set it. */
GDA_API gda_status gda_store_open(const char *uri, gda_store **out, gda_error *err);

/** Whether a backend is registered under scheme. */
GDA_API bool gda_store_scheme_registered(const char *scheme);

/** Copy up to max registered backends, in registration order, into out (may
 * be NULL when max is 0); returns how many are registered. The strings in
 * the copies belong to the registry and stay valid for the process's life. */
GDA_API size_t gda_store_backend_list(gda_store_backend *out, size_t max);

/** Name of the function a loadable backend module exports for a host that
 * dlopens it (gda-store-check --module PATH): it registers the module's
 * backends and returns GDA_OK, or an error the host reports and stops on.
 * A module may instead register from a constructor; exporting the function
 * is the clearer choice, since an error then reaches the host. */
#define GDA_STORE_MODULE_INIT "gda_store_module_init"
/** Type of the GDA_STORE_MODULE_INIT function: err is never NULL. */
typedef gda_status (*gda_store_module_init_fn)(gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_STORE_REGISTRY_H */
