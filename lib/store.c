/* libgda — the idempotency store interface (see include/gda/store.h). */
#include <gda/store.h>

#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

void gda_record_clear(gda_record *rec)
{
    if (!rec)
        return;
    free(rec->key);
    free(rec->body);
    memset(rec, 0, sizeof *rec);
}

gda_status gda_record_copy(gda_record *dst, const gda_record *src)
{
    if (!dst || !src)
        return GDA_ERR_INTERNAL;
    *dst = *src;
    dst->key = NULL;
    dst->body = NULL;
    if (src->key && !(dst->key = strdup(src->key)))
        goto nomem;
    if (src->body && src->body_len) {
        if (!(dst->body = malloc(src->body_len)))
            goto nomem;
        memcpy(dst->body, src->body, src->body_len);
    } else {
        dst->body_len = 0;
    }
    return GDA_OK;
nomem:
    gda_record_clear(dst);
    return GDA_ERR_NOMEM;
}

bool gda_record_expired(const gda_record *rec, int64_t now_ms)
{
    /* Expiry is whole seconds (DynamoDB's TTL unit): live through the second
     * it names, dead from the next one on. */
    return rec && rec->expires_at_s > 0 && now_ms / 1000 > rec->expires_at_s;
}

bool gda_record_is_live(const gda_record *rec, int64_t now_ms)
{
    if (!rec || gda_record_expired(rec, now_ms))
        return false;
    switch (rec->state) {
    case GDA_RECORD_COMPLETED:
    case GDA_RECORD_ACCEPTED:
        return true;
    case GDA_RECORD_IN_PROGRESS:
        return rec->lease_until_ms > now_ms;
    }
    return false;
}

bool gda_record_blocks_takeover(const gda_record *rec, const gda_store_call *call)
{
    if (!rec || !call)
        return rec != NULL; /* no clock: the conservative answer */
    if (call->replace_owner && strcmp(rec->owner, call->replace_owner) == 0)
        return false;
    int64_t skew = call->skew_ms > 0 ? call->skew_ms : 0;
    return gda_record_is_live(rec, call->now_ms - skew);
}

gda_status gda_store_ops_check(const gda_store_ops *o, gda_error *err)
{
    if (!o)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no store configured");
    const char *name = o->name ? o->name : "?";
    if (o->version < GDA_STORE_OPS_VERSION_MIN || o->version > GDA_STORE_OPS_VERSION) {
        if (GDA_STORE_OPS_VERSION_MIN == GDA_STORE_OPS_VERSION)
            return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                                 "store backend '%s' implements store interface version %d; "
                                 "this libgda needs version %d",
                                 name, o->version, GDA_STORE_OPS_VERSION);
        return gda_error_set(err, GDA_ERR_CONFIG, NULL,
                             "store backend '%s' implements store interface version %d; "
                             "this libgda needs version %d to %d",
                             name, o->version, GDA_STORE_OPS_VERSION_MIN, GDA_STORE_OPS_VERSION);
    }
    const char *missing = !o->put_if_absent ? "put_if_absent"
                          : !o->get         ? "get"
                          : !o->complete    ? "complete"
                          : !o->release     ? "release"
                          : !o->close       ? "close"
                                            : NULL;
    if (missing)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL, "store backend '%s' has no %s operation",
                             name, missing);
    return GDA_OK;
}

static gda_status check_store(gda_store *store, gda_error *err)
{
    if (!store || !store->ops)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "no store configured");
    return gda_store_ops_check(store->ops, err);
}

gda_status gda_store_put_if_absent(gda_store *store, const gda_record *rec,
                                   const gda_store_call *call, bool *inserted,
                                   gda_record *existing, gda_error *err)
{
    bool ins_local = false;
    gda_record existing_local = {0};
    gda_status st = check_store(store, err);
    if (st != GDA_OK)
        return st;
    if (!rec || !rec->key || !call)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "store put: missing record");
    st = store->ops->put_if_absent(store, rec, call, inserted ? inserted : &ins_local,
                                   existing ? existing : &existing_local, err);
    gda_record_clear(&existing_local);
    return st;
}

gda_status gda_store_get(gda_store *store, const char *key, const gda_store_call *call,
                         gda_record *out, bool *found, gda_error *err)
{
    bool found_local = false;
    gda_status st = check_store(store, err);
    if (st != GDA_OK)
        return st;
    if (!key || !call || !out)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "store get: missing argument");
    return store->ops->get(store, key, call, out, found ? found : &found_local, err);
}

gda_status gda_store_complete(gda_store *store, const gda_record *rec,
                              const gda_store_call *call, bool *applied, gda_error *err)
{
    bool applied_local = false;
    gda_status st = check_store(store, err);
    if (st != GDA_OK)
        return st;
    if (applied)
        *applied = false;
    if (!rec || !rec->key || !call)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "store complete: missing record");
    if (store->max_body && rec->body_len > store->max_body)
        return gda_error_set(err, GDA_ERR_RESULT_TOO_LARGE, NULL,
                             "result of %zu bytes is over the %s store's %zu-byte limit",
                             rec->body_len, store->ops->name ? store->ops->name : "",
                             store->max_body);
    return store->ops->complete(store, rec, call, applied ? applied : &applied_local, err);
}

gda_status gda_store_release(gda_store *store, const char *key, const char *owner,
                             const gda_store_call *call, bool *applied, gda_error *err)
{
    bool applied_local = false;
    gda_status st = check_store(store, err);
    if (st != GDA_OK)
        return st;
    if (!key || !owner || !call)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "store release: missing argument");
    return store->ops->release(store, key, owner, call, applied ? applied : &applied_local, err);
}

void gda_store_close(gda_store *store)
{
    if (store && store->ops && store->ops->close)
        store->ops->close(store);
}
