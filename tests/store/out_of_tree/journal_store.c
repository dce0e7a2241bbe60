/* An out-of-tree store backend, as a user of libgda would write one: built
 * as a loadable module against the installed public headers only
 * (<gda/...>), registering the scheme "journal" with gda_store_register.
 *
 * journal:NAME is an in-process store kept as a journal: every write
 * appends a new version of its record (a release appends a tombstone), and
 * the newest version of a key is its state. Stores opened under the same
 * NAME share one journal, like handles on one database file; the last close
 * frees it. One mutex per journal makes each operation atomic. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gda/store.h>
#include <gda/store_registry.h>

gda_status gda_store_module_init(gda_error *err);

typedef struct version {
    gda_record rec;
    bool tombstone;
    struct version *older;
} version;

typedef struct journal {
    char *name;
    unsigned refs;          /* guarded by journals_lock */
    pthread_mutex_t lock;   /* guards newest and every version */
    version *newest;
    struct journal *next;   /* guarded by journals_lock */
} journal;

typedef struct journal_store {
    gda_store base;
    journal *j;
} journal_store;

static pthread_mutex_t journals_lock = PTHREAD_MUTEX_INITIALIZER;
static journal *journals;

static journal *journal_of(gda_store *store)
{
    return ((journal_store *)store)->j;
}

/* The newest version of key, or NULL when it has none or was released.
 * Journal lock held. */
static version *current(journal *j, const char *key)
{
    for (version *v = j->newest; v; v = v->older)
        if (strcmp(v->rec.key, key) == 0)
            return v->tombstone ? NULL : v;
    return NULL;
}

/* Append a copy of rec as key's newest version. Journal lock held. */
static gda_status append(journal *j, const gda_record *rec, bool tombstone, gda_error *err)
{
    version *v = calloc(1, sizeof *v);
    if (!v || gda_record_copy(&v->rec, rec) != GDA_OK) {
        free(v);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "journal store: out of memory");
    }
    v->tombstone = tombstone;
    v->older = j->newest;
    j->newest = v;
    return GDA_OK;
}

static gda_status copy_out(gda_record *out, const gda_record *rec, gda_error *err)
{
    if (gda_record_copy(out, rec) != GDA_OK)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "journal store: out of memory");
    return GDA_OK;
}

static gda_status journal_put(gda_store *store, const gda_record *rec,
                              const gda_store_call *call, bool *inserted, gda_record *existing,
                              gda_error *err)
{
    journal *j = journal_of(store);
    pthread_mutex_lock(&j->lock);
    version *cur = current(j, rec->key);
    gda_status st;
    if (cur && gda_record_blocks_takeover(&cur->rec, call)) {
        *inserted = false;
        st = copy_out(existing, &cur->rec, err);
    } else {
        st = append(j, rec, false, err);
        *inserted = st == GDA_OK;
    }
    pthread_mutex_unlock(&j->lock);
    return st;
}

static gda_status journal_get(gda_store *store, const char *key, const gda_store_call *call,
                              gda_record *out, bool *found, gda_error *err)
{
    (void)call;
    journal *j = journal_of(store);
    pthread_mutex_lock(&j->lock);
    version *cur = current(j, key);
    gda_status st = GDA_OK;
    *found = cur != NULL;
    if (cur)
        st = copy_out(out, &cur->rec, err);
    pthread_mutex_unlock(&j->lock);
    return st;
}

static gda_status journal_complete(gda_store *store, const gda_record *rec,
                                   const gda_store_call *call, bool *applied, gda_error *err)
{
    if (rec->state != GDA_RECORD_COMPLETED && rec->state != GDA_RECORD_ACCEPTED)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                             "journal store: complete needs COMPLETED or ACCEPTED");
    journal *j = journal_of(store);
    pthread_mutex_lock(&j->lock);
    version *cur = current(j, rec->key);
    gda_status st = GDA_OK;
    *applied = false;
    if (cur && strcmp(cur->rec.owner, rec->owner) == 0 &&
        cur->rec.state != GDA_RECORD_COMPLETED && !gda_record_expired(&cur->rec, call->now_ms)) {
        gda_record next = cur->rec; /* key, hash, principal, owner, lease stay */
        next.state = rec->state;
        next.status_code = rec->status_code;
        next.body = rec->body;
        next.body_len = rec->body_len;
        next.flags = rec->flags;
        next.expires_at_s = rec->expires_at_s;
        st = append(j, &next, false, err);
        *applied = st == GDA_OK;
    }
    pthread_mutex_unlock(&j->lock);
    return st;
}

static gda_status journal_release(gda_store *store, const char *key, const char *owner,
                                  const gda_store_call *call, bool *applied, gda_error *err)
{
    (void)call;
    journal *j = journal_of(store);
    pthread_mutex_lock(&j->lock);
    version *cur = current(j, key);
    gda_status st = GDA_OK;
    *applied = false;
    if (cur && cur->rec.state == GDA_RECORD_IN_PROGRESS && strcmp(cur->rec.owner, owner) == 0) {
        st = append(j, &cur->rec, true, err);
        *applied = st == GDA_OK;
    }
    pthread_mutex_unlock(&j->lock);
    return st;
}

static void journal_free(journal *j)
{
    for (version *v = j->newest, *older; v; v = older) {
        older = v->older;
        gda_record_clear(&v->rec);
        free(v);
    }
    pthread_mutex_destroy(&j->lock);
    free(j->name);
    free(j);
}

static void journal_close(gda_store *store)
{
    journal *j = journal_of(store);
    pthread_mutex_lock(&journals_lock);
    bool last = --j->refs == 0;
    if (last)
        for (journal **p = &journals; *p; p = &(*p)->next)
            if (*p == j) {
                *p = j->next;
                break;
            }
    pthread_mutex_unlock(&journals_lock);
    if (last)
        journal_free(j);
    free(store);
}

static const gda_store_ops journal_ops = {
    .version = GDA_STORE_OPS_VERSION,
    .name = "journal",
    .put_if_absent = journal_put,
    .get = journal_get,
    .complete = journal_complete,
    .release = journal_release,
    .close = journal_close,
};

/* The journal called name, shared or new, with a reference taken. */
static journal *journal_ref(const char *name)
{
    pthread_mutex_lock(&journals_lock);
    journal *j = journals;
    while (j && strcmp(j->name, name) != 0)
        j = j->next;
    if (!j && (j = calloc(1, sizeof *j))) {
        if (!(j->name = strdup(name)) || pthread_mutex_init(&j->lock, NULL) != 0) {
            free(j->name);
            free(j);
            j = NULL;
        } else {
            j->next = journals;
            journals = j;
        }
    }
    if (j)
        j->refs++;
    pthread_mutex_unlock(&journals_lock);
    return j;
}

static gda_status journal_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    (void)user;
    if (!rest || !*rest)
        return gda_error_set(err, GDA_ERR_CONFIG, NULL, "the journal store needs a name");
    journal_store *s = calloc(1, sizeof *s);
    if (!s || !(s->j = journal_ref(rest))) {
        free(s);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "journal store: out of memory");
    }
    s->base.ops = &journal_ops;
    s->base.max_body = 0;
    *out = &s->base;
    return GDA_OK;
}

gda_status gda_store_module_init(gda_error *err)
{
    static const gda_store_backend backend = {
        .version = GDA_STORE_BACKEND_VERSION,
        .scheme = "journal",
        .description = "journal:NAME  an in-process journal, shared by every store named NAME",
        .open = journal_open,
        .user = NULL,
    };
    return gda_store_register(&backend, err);
}
