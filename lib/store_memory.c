/* libgda — the in-process memory store (gda_memory_store_new in store.h) and
 * the engine's local cache (gda_memory_cache_new in store_memory.h).
 *
 * One mutex guards a chained hash table and two lists:
 *   - pending: IN_PROGRESS and ACCEPTED records, oldest first at the tail;
 *   - done: COMPLETED records, oldest at the tail.
 * As a store, nothing live is ever dropped: forgetting a completed result
 * within its TTL would let a retry run the handler again. done is then kept
 * in completion order, and since every record of an engine has the same
 * TTL, its tail is the first to expire: if the tail is live, all are. As a
 * cache (a copy of what a remote store holds), done is least recently used
 * at the tail and its tail may always be dropped.
 *
 * Keys come from callers (ultimately from the network), so buckets are chosen
 * with SipHash under a per-store random key: nobody can aim many keys at one
 * chain.
 */
#include "store_memory.h"
#include <gda/init.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define MEMORY_DEFAULT_MAX 100000u
#define MEMORY_MIN_BUCKETS 64u

typedef struct mem_entry {
    gda_record rec; /* owned */
    uint64_t hash;
    struct mem_entry *chain;
    struct mem_entry *prev, *next; /* in pending or done */
} mem_entry;

typedef struct mem_list {
    mem_entry head; /* sentinel: head.next is most recent, head.prev the oldest */
} mem_list;

typedef struct memory_store {
    gda_store base;
    pthread_mutex_t mu;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    mem_entry **buckets;
    size_t bucket_count; /* power of two */
    size_t count;
    size_t max_entries;
    mem_list pending;
    mem_list done;
    bool cache; /* a local cache: live completed records may be evicted */
} memory_store;

static void list_init(mem_list *l)
{
    l->head.prev = l->head.next = &l->head;
}

static void list_unlink(mem_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(mem_list *l, mem_entry *e)
{
    e->next = l->head.next;
    e->prev = &l->head;
    l->head.next->prev = e;
    l->head.next = e;
}

static mem_entry *list_oldest(mem_list *l)
{
    return l->head.prev == &l->head ? NULL : l->head.prev;
}

static mem_list *list_for(memory_store *ms, gda_record_state state)
{
    return state == GDA_RECORD_COMPLETED ? &ms->done : &ms->pending;
}

static uint64_t key_hash(const memory_store *ms, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), ms->hash_key);
    uint64_t h = 0;
    memcpy(&h, out, sizeof h < sizeof out ? sizeof h : sizeof out);
    return h;
}

static mem_entry **bucket_slot(memory_store *ms, uint64_t hash)
{
    return &ms->buckets[hash & (ms->bucket_count - 1)];
}

static mem_entry *lookup(memory_store *ms, const char *key, uint64_t hash)
{
    for (mem_entry *e = *bucket_slot(ms, hash); e; e = e->chain)
        if (e->hash == hash && strcmp(e->rec.key, key) == 0)
            return e;
    return NULL;
}

static void entry_destroy(memory_store *ms, mem_entry *e)
{
    mem_entry **slot = bucket_slot(ms, e->hash);
    while (*slot != e)
        slot = &(*slot)->chain;
    *slot = e->chain;
    list_unlink(e);
    gda_record_clear(&e->rec);
    free(e);
    ms->count--;
}

static bool is_expired(const gda_record *rec, int64_t now_ms)
{
    return rec->expires_at_s > 0 && now_ms / 1000 > rec->expires_at_s;
}

/* Owner tokens are fencing secrets: compare them in constant time. */
static bool owner_equal(const char *a, const char *b)
{
    size_t la = strnlen(a, GDA_OWNER_TOKEN_SIZE);
    size_t lb = strnlen(b, GDA_OWNER_TOKEN_SIZE);
    if (la != lb || la == GDA_OWNER_TOKEN_SIZE)
        return false;
    return sodium_memcmp(a, b, la) == 0;
}

/* Double the table when it holds more entries than buckets, up to the size
 * max_entries needs. Failure to grow only costs speed, never correctness. */
static void maybe_grow(memory_store *ms)
{
    if (ms->count < ms->bucket_count || ms->bucket_count >= ms->max_entries)
        return;
    if (ms->bucket_count > SIZE_MAX / 2 / sizeof(mem_entry *))
        return;
    size_t n = ms->bucket_count * 2;
    mem_entry **fresh = calloc(n, sizeof *fresh);
    if (!fresh)
        return;
    for (size_t i = 0; i < ms->bucket_count; i++) {
        mem_entry *e = ms->buckets[i];
        while (e) {
            mem_entry *next = e->chain;
            mem_entry **slot = &fresh[e->hash & (n - 1)];
            e->chain = *slot;
            *slot = e;
            e = next;
        }
    }
    free(ms->buckets);
    ms->buckets = fresh;
    ms->bucket_count = n;
}

/* Make room for one more entry: a dead record; in a cache, else the least
 * recently used completed one; never a live lease or a live accepted job. */
static bool evict_one(memory_store *ms, int64_t now_ms)
{
    mem_entry *done = list_oldest(&ms->done);
    if (done && !gda_record_is_live(&done->rec, now_ms)) {
        entry_destroy(ms, done);
        return true;
    }
    mem_entry *pending = list_oldest(&ms->pending);
    if (pending && !gda_record_is_live(&pending->rec, now_ms)) {
        entry_destroy(ms, pending);
        return true;
    }
    if (done && ms->cache) {
        entry_destroy(ms, done);
        return true;
    }
    /* Only pending records left: leases differ in length, so a younger one
     * may already be dead. */
    for (mem_entry *e = ms->pending.head.prev; e != &ms->pending.head; e = e->prev) {
        if (!gda_record_is_live(&e->rec, now_ms)) {
            entry_destroy(ms, e);
            return true;
        }
    }
    return false;
}

/* Free up to two dead records from the old ends of the lists: each put
 * adds at most one, so expired records are given back at the rate they are
 * made, and memory follows the live set instead of the high-water mark. */
static void sweep_dead(memory_store *ms, int64_t now_ms)
{
    for (int i = 0; i < 2; i++) {
        mem_entry *done = list_oldest(&ms->done);
        mem_entry *pending = list_oldest(&ms->pending);
        if (done && !gda_record_is_live(&done->rec, now_ms))
            entry_destroy(ms, done);
        else if (pending && !gda_record_is_live(&pending->rec, now_ms))
            entry_destroy(ms, pending);
        else
            return;
    }
}

static gda_status mem_put_if_absent(gda_store *store, const gda_record *rec,
                                    const gda_store_call *call, bool *inserted,
                                    gda_record *existing, gda_error *err)
{
    memory_store *ms = (memory_store *)store;
    gda_record copy;
    /* Copy outside the lock; it is discarded on conflict. */
    if (gda_record_copy(&copy, rec) != GDA_OK)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "memory store: out of memory");
    uint64_t hash = key_hash(ms, rec->key);
    gda_status st = GDA_OK;

    pthread_mutex_lock(&ms->mu);
    mem_entry *e = lookup(ms, rec->key, hash);
    if (e && gda_record_blocks_takeover(&e->rec, call)) {
        st = gda_record_copy(existing, &e->rec);
        if (st == GDA_OK) {
            *inserted = false;
            if (ms->cache && e->rec.state == GDA_RECORD_COMPLETED) {
                list_unlink(e);
                list_push_front(&ms->done, e);
            }
        }
        pthread_mutex_unlock(&ms->mu);
        gda_record_clear(&copy);
        if (st != GDA_OK)
            return gda_error_set(err, st, NULL, "memory store: out of memory");
        return GDA_OK;
    }
    if (e) {
        /* A dead record is replaced in place. */
        gda_record_clear(&e->rec);
        e->rec = copy;
        list_unlink(e);
        list_push_front(list_for(ms, copy.state), e);
        *inserted = true;
        pthread_mutex_unlock(&ms->mu);
        return GDA_OK;
    }
    sweep_dead(ms, call->now_ms);
    if (ms->count >= ms->max_entries && !evict_one(ms, call->now_ms)) {
        pthread_mutex_unlock(&ms->mu);
        gda_record_clear(&copy);
        return gda_error_set(err, GDA_ERR_STORE, NULL,
                             "memory store is full of live records (%zu); raise its size "
                             "or use a durable store",
                             ms->max_entries);
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&ms->mu);
        gda_record_clear(&copy);
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "memory store: out of memory");
    }
    e->rec = copy;
    e->hash = hash;
    mem_entry **slot = bucket_slot(ms, hash);
    e->chain = *slot;
    *slot = e;
    list_push_front(list_for(ms, copy.state), e);
    ms->count++;
    maybe_grow(ms);
    *inserted = true;
    pthread_mutex_unlock(&ms->mu);
    return GDA_OK;
}

static gda_status mem_get(gda_store *store, const char *key, const gda_store_call *call,
                          gda_record *out, bool *found, gda_error *err)
{
    memory_store *ms = (memory_store *)store;
    uint64_t hash = key_hash(ms, key);
    gda_status st = GDA_OK;

    pthread_mutex_lock(&ms->mu);
    mem_entry *e = lookup(ms, key, hash);
    if (e && is_expired(&e->rec, call->now_ms)) {
        entry_destroy(ms, e);
        e = NULL;
    }
    *found = false;
    if (e) {
        st = gda_record_copy(out, &e->rec);
        if (st == GDA_OK) {
            *found = true;
            if (ms->cache && e->rec.state == GDA_RECORD_COMPLETED) {
                list_unlink(e);
                list_push_front(&ms->done, e);
            }
        }
    }
    pthread_mutex_unlock(&ms->mu);
    if (st != GDA_OK)
        return gda_error_set(err, st, NULL, "memory store: out of memory");
    return GDA_OK;
}

static gda_status mem_complete(gda_store *store, const gda_record *rec,
                               const gda_store_call *call, bool *applied, gda_error *err)
{
    memory_store *ms = (memory_store *)store;
    *applied = false;
    if (rec->state != GDA_RECORD_COMPLETED && rec->state != GDA_RECORD_ACCEPTED)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL,
                             "store complete: state must be COMPLETED or ACCEPTED");
    uint8_t *body = NULL;
    size_t body_len = 0;
    if (rec->body && rec->body_len) {
        if (!(body = malloc(rec->body_len)))
            return gda_error_set(err, GDA_ERR_NOMEM, NULL, "memory store: out of memory");
        memcpy(body, rec->body, rec->body_len);
        body_len = rec->body_len;
    }
    uint64_t hash = key_hash(ms, rec->key);

    pthread_mutex_lock(&ms->mu);
    mem_entry *e = lookup(ms, rec->key, hash);
    if (e && is_expired(&e->rec, call->now_ms)) {
        entry_destroy(ms, e);
        e = NULL;
    }
    if (e && e->rec.state != GDA_RECORD_COMPLETED && owner_equal(e->rec.owner, rec->owner)) {
        free(e->rec.body);
        e->rec.body = body;
        e->rec.body_len = body_len;
        e->rec.state = rec->state;
        e->rec.status_code = rec->status_code;
        e->rec.flags = rec->flags;
        e->rec.expires_at_s = rec->expires_at_s;
        body = NULL;
        list_unlink(e);
        list_push_front(list_for(ms, e->rec.state), e);
        *applied = true;
    }
    pthread_mutex_unlock(&ms->mu);
    free(body);
    return GDA_OK;
}

static gda_status mem_release(gda_store *store, const char *key, const char *owner,
                              const gda_store_call *call, bool *applied, gda_error *err)
{
    memory_store *ms = (memory_store *)store;
    uint64_t hash = key_hash(ms, key);
    (void)call;
    (void)err;
    *applied = false;

    pthread_mutex_lock(&ms->mu);
    mem_entry *e = lookup(ms, key, hash);
    if (e && e->rec.state == GDA_RECORD_IN_PROGRESS && owner_equal(e->rec.owner, owner)) {
        entry_destroy(ms, e);
        *applied = true;
    }
    pthread_mutex_unlock(&ms->mu);
    return GDA_OK;
}

static void mem_close(gda_store *store)
{
    memory_store *ms = (memory_store *)store;
    mem_list *lists[] = {&ms->pending, &ms->done};
    for (size_t i = 0; i < 2; i++) {
        mem_entry *e;
        while ((e = list_oldest(lists[i])) != NULL) {
            list_unlink(e);
            gda_record_clear(&e->rec);
            free(e);
        }
    }
    free(ms->buckets);
    pthread_mutex_destroy(&ms->mu);
    sodium_memzero(ms->hash_key, sizeof ms->hash_key);
    free(ms);
}

static const gda_store_ops memory_ops = {
    .version = GDA_STORE_OPS_VERSION,
    .name = "memory",
    .put_if_absent = mem_put_if_absent,
    .get = mem_get,
    .complete = mem_complete,
    .release = mem_release,
    .close = mem_close,
};

static gda_store *memory_new(size_t max_entries, bool cache, gda_error *err)
{
    if (gda_init(err) != GDA_OK)
        return NULL;
    memory_store *ms = calloc(1, sizeof *ms);
    if (!ms) {
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "memory store: out of memory");
        return NULL;
    }
    ms->base.ops = &memory_ops;
    ms->cache = cache;
    ms->max_entries = max_entries ? max_entries : MEMORY_DEFAULT_MAX;
    ms->bucket_count = MEMORY_MIN_BUCKETS;
    ms->buckets = calloc(ms->bucket_count, sizeof *ms->buckets);
    if (!ms->buckets || pthread_mutex_init(&ms->mu, NULL) != 0) {
        free(ms->buckets);
        free(ms);
        gda_error_set(err, GDA_ERR_NOMEM, NULL, "memory store: out of memory");
        return NULL;
    }
    crypto_shorthash_keygen(ms->hash_key);
    list_init(&ms->pending);
    list_init(&ms->done);
    return &ms->base;
}

gda_store *gda_memory_store_new(size_t max_entries, gda_error *err)
{
    return memory_new(max_entries, false, err);
}

gda_store *gda_memory_cache_new(size_t max_entries, gda_error *err)
{
    return memory_new(max_entries, true, err);
}
