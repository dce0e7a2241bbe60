/* Deliberately unfit backends, built like journal_store.c against the public
 * headers only, for the negative tests: they register fine, and then
 *   nullget:    opens a store whose vtable has no get (gda_store_open
 *               refuses it, naming the missing operation);
 *   oldops:     opens a store of gda_store_ops version 2 (refused, naming
 *               the version);
 *   forgetful:  opens a working memory store whose get never finds
 *               anything (the behaviour suite fails, check by check). */
#include <stdlib.h>

#include <gda/store.h>
#include <gda/store_registry.h>

gda_status gda_store_module_init(gda_error *err);

typedef struct wrapped {
    gda_store base;
    gda_store *inner; /* a memory store doing the real work */
} wrapped;

static gda_store *inner_of(gda_store *s)
{
    return ((wrapped *)s)->inner;
}

static gda_status w_put(gda_store *s, const gda_record *rec, const gda_store_call *call,
                        bool *inserted, gda_record *existing, gda_error *err)
{
    return gda_store_put_if_absent(inner_of(s), rec, call, inserted, existing, err);
}

static gda_status forget_get(gda_store *s, const char *key, const gda_store_call *call,
                             gda_record *out, bool *found, gda_error *err)
{
    (void)s, (void)key, (void)call, (void)out, (void)err;
    *found = false;
    return GDA_OK;
}

static gda_status w_complete(gda_store *s, const gda_record *rec, const gda_store_call *call,
                             bool *applied, gda_error *err)
{
    return gda_store_complete(inner_of(s), rec, call, applied, err);
}

static gda_status w_release(gda_store *s, const char *key, const char *owner,
                            const gda_store_call *call, bool *applied, gda_error *err)
{
    return gda_store_release(inner_of(s), key, owner, call, applied, err);
}

static void w_close(gda_store *s)
{
    gda_store_close(inner_of(s));
    free(s);
}

static const gda_store_ops nullget_ops = {GDA_STORE_OPS_VERSION, "nullget", w_put, NULL,
                                          w_complete, w_release, w_close};
static const gda_store_ops oldops_ops = {2, "oldops", w_put, forget_get,
                                         w_complete, w_release, w_close};
static const gda_store_ops forgetful_ops = {GDA_STORE_OPS_VERSION, "forgetful", w_put,
                                            forget_get, w_complete, w_release, w_close};

/* user is the vtable the new store gets. */
static gda_status wrapped_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    (void)rest;
    wrapped *w = calloc(1, sizeof *w);
    if (!w)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "faulty store: out of memory");
    if (gda_store_open("memory", &w->inner, err) != GDA_OK) {
        free(w);
        return err->code;
    }
    w->base.ops = user;
    *out = &w->base;
    return GDA_OK;
}

gda_status gda_store_module_init(gda_error *err)
{
    const gda_store_ops *ops[] = {&nullget_ops, &oldops_ops, &forgetful_ops};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        gda_store_backend b = {GDA_STORE_BACKEND_VERSION, ops[i]->name, NULL, wrapped_open,
                               (void *)ops[i]};
        gda_status st = gda_store_register(&b, err);
        if (st != GDA_OK)
            return st;
    }
    return GDA_OK;
}
