/* Tests for lib/store_memory.c: the shared store contract suite, then what is
 * particular to the memory store (bounded entries, never forgetting a live
 * record, lazy expiry) and to the engine's local cache (LRU eviction of
 * completed copies, never of a live lease). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <gda/store.h>

#include "store_memory.h"
#include "store_suite.h"

#define T0_MS INT64_C(1700000000000)
#define T0_S (T0_MS / 1000)

static gda_store *open_memory(void *user)
{
    (void)user;
    return gda_memory_store_new(0, NULL);
}

static gda_record pending(const char *key, const char *owner, int64_t lease_until_ms)
{
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = (char *)key;
    rec.state = GDA_RECORD_IN_PROGRESS;
    snprintf(rec.owner, sizeof rec.owner, "%s", owner);
    rec.lease_until_ms = lease_until_ms;
    rec.expires_at_s = T0_S + 3600;
    return rec;
}

static gda_status put(gda_store *s, const gda_record *rec, int64_t now_ms, bool *inserted)
{
    gda_store_call call = {.now_ms = now_ms};
    return gda_store_put_if_absent(s, rec, &call, inserted, NULL, NULL);
}

static void put_completed(gda_store *s, const char *key, int64_t now_ms)
{
    gda_record rec = pending(key, "00000000000000000000000000000001", now_ms + 1000);
    bool inserted = false;
    assert_int_equal(put(s, &rec, now_ms, &inserted), GDA_OK);
    assert_true(inserted);
    rec.state = GDA_RECORD_COMPLETED;
    rec.status_code = 200;
    rec.body = (uint8_t *)"ok";
    rec.body_len = 2;
    gda_store_call call = {.now_ms = now_ms};
    bool applied = false;
    assert_int_equal(gda_store_complete(s, &rec, &call, &applied, NULL), GDA_OK);
    assert_true(applied);
}

static bool has(gda_store *s, const char *key, int64_t now_ms)
{
    gda_store_call call = {.now_ms = now_ms};
    gda_record out;
    memset(&out, 0, sizeof out);
    bool found = false;
    assert_int_equal(gda_store_get(s, key, &call, &out, &found, NULL), GDA_OK);
    gda_record_clear(&out);
    return found;
}

/* issue 14.6: a flood of unique keys must not evict a completed result
 * within its TTL (a retry would run the handler again): the store refuses
 * the new key instead, and takes it once a record has expired. */
static void test_never_evicts_live_results(void **state)
{
    (void)state;
    gda_store *s = gda_memory_store_new(3, NULL);
    assert_non_null(s);
    put_completed(s, "a", T0_MS);
    put_completed(s, "b", T0_MS);
    put_completed(s, "c", T0_MS);
    gda_record d = pending("d", "0000000000000000000000000000000d", T0_MS + 1000);
    bool inserted = true;
    gda_error err;
    assert_int_equal(gda_store_put_if_absent(s, &d, &(gda_store_call){.now_ms = T0_MS}, &inserted,
                                             NULL, &err),
                     GDA_ERR_STORE);
    assert_non_null(strstr(err.message, "full"));
    assert_true(has(s, "a", T0_MS));
    assert_true(has(s, "b", T0_MS));
    assert_true(has(s, "c", T0_MS));
    /* Once the oldest has expired, its room is reused. */
    int64_t later = (T0_S + 3601) * 1000;
    d.lease_until_ms = later + 1000;
    d.expires_at_s = later / 1000 + 3600;
    assert_int_equal(put(s, &d, later, &inserted), GDA_OK); /* a, b, c expired */
    assert_true(inserted);
    assert_true(has(s, "d", later));
    gda_store_close(s);
}

/* The engine's local cache is only a copy: it drops the least recently used
 * completed record to make room. */
static void test_cache_evicts_least_recently_used_completed(void **state)
{
    (void)state;
    gda_store *s = gda_memory_cache_new(3, NULL);
    assert_non_null(s);
    put_completed(s, "a", T0_MS);
    put_completed(s, "b", T0_MS);
    put_completed(s, "c", T0_MS);
    /* Reading "a" makes "b" the least recently used. */
    assert_true(has(s, "a", T0_MS));
    put_completed(s, "d", T0_MS);
    assert_true(has(s, "a", T0_MS));
    assert_false(has(s, "b", T0_MS));
    assert_true(has(s, "c", T0_MS));
    assert_true(has(s, "d", T0_MS));
    gda_store_close(s);
}

static void test_full_of_leases_refuses(void **state)
{
    (void)state;
    gda_store *s = gda_memory_store_new(2, NULL);
    assert_non_null(s);
    bool inserted = false;
    gda_record a = pending("a", "0000000000000000000000000000000a", T0_MS + 5000);
    gda_record b = pending("b", "0000000000000000000000000000000b", T0_MS + 1000);
    gda_record c = pending("c", "0000000000000000000000000000000c", T0_MS + 5000);
    assert_int_equal(put(s, &a, T0_MS, &inserted), GDA_OK);
    assert_int_equal(put(s, &b, T0_MS, &inserted), GDA_OK);

    gda_error err;
    assert_int_equal(gda_store_put_if_absent(s, &c, &(gda_store_call){.now_ms = T0_MS}, &inserted,
                                             NULL, &err),
                     GDA_ERR_STORE);
    assert_int_equal(err.code, GDA_ERR_STORE);
    assert_true(has(s, "a", T0_MS));
    assert_true(has(s, "b", T0_MS));

    /* Once b's lease (the younger record) has passed, its slot may be reused
     * even though the older a is still live. */
    assert_int_equal(put(s, &c, T0_MS + 1000, &inserted), GDA_OK);
    assert_true(inserted);
    assert_true(has(s, "a", T0_MS + 1000));
    assert_false(has(s, "b", T0_MS + 1000));
    gda_store_close(s);
}

static void test_accepted_not_evicted(void **state)
{
    (void)state;
    gda_store *s = gda_memory_store_new(1, NULL);
    assert_non_null(s);
    bool inserted = false;
    gda_record job = pending("job", "0000000000000000000000000000000a", T0_MS + 10);
    assert_int_equal(put(s, &job, T0_MS, &inserted), GDA_OK);
    job.state = GDA_RECORD_ACCEPTED;
    job.status_code = 202;
    bool applied = false;
    assert_int_equal(
        gda_store_complete(s, &job, &(gda_store_call){.now_ms = T0_MS}, &applied, NULL), GDA_OK);
    assert_true(applied);
    gda_record other = pending("other", "0000000000000000000000000000000b", T0_MS + 5000);
    assert_int_equal(put(s, &other, T0_MS + 100, &inserted), GDA_ERR_STORE);
    assert_true(has(s, "job", T0_MS + 100));
    gda_store_close(s);
}

static void test_expired_dropped_lazily(void **state)
{
    (void)state;
    gda_store *s = gda_memory_store_new(0, NULL);
    assert_non_null(s);
    put_completed(s, "old", T0_MS);
    assert_true(has(s, "old", (T0_S + 3600) * 1000));
    assert_false(has(s, "old", (T0_S + 3601) * 1000));
    /* Gone for good, even asked about at an earlier time. */
    assert_false(has(s, "old", T0_MS));
    gda_store_close(s);
}

static void test_complete_rejects_bad_state(void **state)
{
    (void)state;
    gda_store *s = gda_memory_store_new(0, NULL);
    assert_non_null(s);
    bool inserted = false;
    gda_record rec = pending("k", "0000000000000000000000000000000a", T0_MS + 10);
    assert_int_equal(put(s, &rec, T0_MS, &inserted), GDA_OK);
    bool applied = true;
    gda_error err;
    assert_int_equal(
        gda_store_complete(s, &rec, &(gda_store_call){.now_ms = T0_MS}, &applied, &err),
        GDA_ERR_INTERNAL);
    assert_false(applied);
    gda_store_close(s);
}

static void test_grows_past_initial_table(void **state)
{
    (void)state;
    gda_store *s = gda_memory_store_new(5000, NULL);
    assert_non_null(s);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "g%d", i);
        put_completed(s, key, T0_MS);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "g%d", i);
        assert_true(has(s, key, T0_MS));
    }
    /* Full of live results: the next key is refused, nothing is lost. */
    gda_record extra = pending("extra", "000000000000000000000000000000ee", T0_MS + 1000);
    bool inserted = true;
    assert_int_equal(gda_store_put_if_absent(s, &extra, &(gda_store_call){.now_ms = T0_MS},
                                             &inserted, NULL, NULL),
                     GDA_ERR_STORE);
    assert_true(has(s, "g0", T0_MS));
    gda_store_close(s);
}

/* The wrappers refuse a backend of another interface version, or one with
 * an operation missing, naming it, rather than calling through. */
static void test_wrappers_refuse_unfit_backends(void **state)
{
    (void)state;
    gda_store *real = gda_memory_store_new(0, NULL);
    assert_non_null(real);
    gda_store_ops ops = *real->ops;
    gda_store fake = {.ops = &ops};
    gda_store_call call = {.now_ms = 1000};
    gda_record out = {0};
    bool found = false;
    gda_error err;
    ops.version = GDA_STORE_OPS_VERSION - 1;
    assert_int_equal(gda_store_get(&fake, "k", &call, &out, &found, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "version"));
    ops.version = GDA_STORE_OPS_VERSION + 1;
    assert_int_equal(gda_store_get(&fake, "k", &call, &out, &found, &err), GDA_ERR_CONFIG);
    ops.version = GDA_STORE_OPS_VERSION;
    ops.get = NULL;
    assert_int_equal(gda_store_get(&fake, "k", &call, &out, &found, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "no get operation"));
    ops.get = real->ops->get;
    ops.release = NULL;
    gda_record rec = pending("k", "00000000000000000000000000000001", 5000);
    assert_int_equal(gda_store_put_if_absent(&fake, &rec, &call, NULL, NULL, &err), GDA_ERR_CONFIG);
    assert_non_null(strstr(err.message, "no release operation"));
    gda_store_close(real);
}

int main(void)
{
    static const store_suite_backend memory = {
        .name = "store_suite/memory", .open = open_memory, .cleanup = NULL, .user = NULL};
    int failed = store_suite_run(&memory);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_evicts_live_results),
        cmocka_unit_test(test_cache_evicts_least_recently_used_completed),
        cmocka_unit_test(test_full_of_leases_refuses),
        cmocka_unit_test(test_accepted_not_evicted),
        cmocka_unit_test(test_expired_dropped_lazily),
        cmocka_unit_test(test_complete_rejects_bad_state),
        cmocka_unit_test(test_grows_past_initial_table),
        cmocka_unit_test(test_wrappers_refuse_unfit_backends),
    };
    failed += cmocka_run_group_tests_name("store_memory", tests, NULL, NULL);
    return failed;
}
