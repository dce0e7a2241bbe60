/* The shared behaviour suite every idempotency store backend must pass
 * (tests/store/store_suite.h). Each case opens a fresh store from the backend,
 * drives it through the public wrappers of include/gda/store.h with fixed
 * epoch times, and checks the contract written in that header. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_suite.h"

/* 2023-11-14T22:13:20Z: a fixed, whole-second wall clock. */
#define T0_MS INT64_C(1700000000000)
#define T0_S (T0_MS / 1000)
#define LEASE_MS INT64_C(30000)
#define TTL_S INT64_C(3600)

typedef struct fixture {
    const store_suite_backend *backend;
    gda_store *store;
} fixture;

static int fixture_setup(void **state)
{
    const store_suite_backend *backend = *state;
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->backend = backend;
    f->store = backend->open(backend->user);
    if (!f->store) {
        fprintf(stderr, "store suite: backend %s could not open a store\n", backend->name);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    gda_store_close(f->store);
    if (f->backend->cleanup)
        f->backend->cleanup(f->backend->user);
    free(f);
    return 0;
}

static gda_store_call at(int64_t now_ms)
{
    gda_store_call call = {.now_ms = now_ms, .deadline_ms = 0};
    return call;
}

/* An IN_PROGRESS record as the engine would write it. The key is borrowed:
 * the store copies what it keeps. */
static gda_record in_progress(const char *key, const char *owner, uint8_t hash_seed,
                              int64_t now_ms)
{
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    rec.key = (char *)key;
    rec.state = GDA_RECORD_IN_PROGRESS;
    for (size_t i = 0; i < GDA_PAYLOAD_HASH_LEN; i++)
        rec.payload_hash[i] = (uint8_t)(hash_seed + i);
    snprintf(rec.owner, sizeof rec.owner, "%s", owner);
    rec.lease_until_ms = now_ms + LEASE_MS;
    rec.expires_at_s = now_ms / 1000 + TTL_S;
    return rec;
}

/* The completion the owner of `rec` writes. */
static gda_record finished(const gda_record *rec, gda_record_state state, int status,
                           const void *body, size_t body_len, int64_t expires_at_s)
{
    gda_record out = *rec;
    out.state = state;
    out.status_code = status;
    out.body = (uint8_t *)body;
    out.body_len = body_len;
    out.expires_at_s = expires_at_s;
    return out;
}

static void put_expect(gda_store *store, const gda_record *rec, int64_t now_ms,
                       bool want_inserted)
{
    gda_store_call call = at(now_ms);
    gda_record existing;
    memset(&existing, 0, sizeof existing);
    bool inserted = !want_inserted;
    gda_error err;
    assert_int_equal(gda_store_put_if_absent(store, rec, &call, &inserted, &existing, &err),
                     GDA_OK);
    assert_int_equal(inserted, want_inserted);
    gda_record_clear(&existing);
}

static bool get_record(gda_store *store, const char *key, int64_t now_ms, gda_record *out)
{
    gda_store_call call = at(now_ms);
    bool found = false;
    gda_error err;
    memset(out, 0, sizeof *out);
    assert_int_equal(gda_store_get(store, key, &call, out, &found, &err), GDA_OK);
    return found;
}

static bool complete(gda_store *store, const gda_record *rec, int64_t now_ms)
{
    gda_store_call call = at(now_ms);
    bool applied = false;
    gda_error err;
    assert_int_equal(gda_store_complete(store, rec, &call, &applied, &err), GDA_OK);
    return applied;
}

static bool release(gda_store *store, const char *key, const char *owner, int64_t now_ms)
{
    gda_store_call call = at(now_ms);
    bool applied = false;
    gda_error err;
    assert_int_equal(gda_store_release(store, key, owner, &call, &applied, &err), GDA_OK);
    return applied;
}

static void assert_same_record(const gda_record *got, const gda_record *want)
{
    assert_non_null(got->key);
    assert_string_equal(got->key, want->key);
    assert_int_equal(got->state, want->state);
    assert_memory_equal(got->payload_hash, want->payload_hash, GDA_PAYLOAD_HASH_LEN);
    assert_string_equal(got->owner, want->owner);
    assert_int_equal(got->expires_at_s, want->expires_at_s);
    assert_int_equal(got->flags, want->flags);
    if (want->state == GDA_RECORD_IN_PROGRESS) {
        assert_int_equal(got->lease_until_ms, want->lease_until_ms);
    } else {
        assert_int_equal(got->status_code, want->status_code);
        assert_int_equal(got->body_len, want->body_len);
        if (want->body_len)
            assert_memory_equal(got->body, want->body, want->body_len);
    }
}

/* The record stored for key at now_ms is want. */
static void expect_stored(gda_store *store, const char *key, int64_t now_ms,
                          const gda_record *want)
{
    gda_record got;
    assert_true(get_record(store, key, now_ms, &got));
    assert_same_record(&got, want);
    gda_record_clear(&got);
}

/* ---- put_if_absent ---------------------------------------------------- */

static void test_put_inserts_new_key(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("order-1", "aaaa0000aaaa0000aaaa0000aaaa0000", 1, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);

    gda_record got;
    assert_true(get_record(f->store, "order-1", T0_MS, &got));
    assert_same_record(&got, &rec);
    assert_true(gda_record_is_live(&got, T0_MS));
    gda_record_clear(&got);
}

static void test_put_conflict_returns_existing_copy(void **state)
{
    fixture *f = *state;
    gda_record first = in_progress("k", "11111111111111111111111111111111", 1, T0_MS);
    gda_record second = in_progress("k", "22222222222222222222222222222222", 9, T0_MS + 5);
    put_expect(f->store, &first, T0_MS, true);

    gda_store_call call = at(T0_MS + 5);
    gda_record existing;
    memset(&existing, 0, sizeof existing);
    bool inserted = true;
    assert_int_equal(
        gda_store_put_if_absent(f->store, &second, &call, &inserted, &existing, NULL), GDA_OK);
    assert_false(inserted);
    assert_same_record(&existing, &first);

    /* The copy belongs to the caller: scribbling on it changes nothing stored. */
    existing.owner[0] = 'x';
    existing.payload_hash[0] ^= 0xff;
    gda_record_clear(&existing);

    expect_stored(f->store, "k", T0_MS + 5, &first);
}

/* put_if_absent of rec under call is refused by the stored record want. */
static void expect_refused_by(gda_store *store, const gda_record *rec, const gda_store_call *call,
                              const gda_record *want)
{
    gda_record existing;
    memset(&existing, 0, sizeof existing);
    bool inserted = true;
    assert_int_equal(gda_store_put_if_absent(store, rec, call, &inserted, &existing, NULL), GDA_OK);
    assert_false(inserted);
    assert_same_record(&existing, want);
    gda_record_clear(&existing);
}

static void test_put_conflict_on_completed_returns_result(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("paid", "33333333333333333333333333333333", 3, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    static const char body[] = "{\"ok\":true}";
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, body, sizeof body - 1,
                               T0_S + TTL_S);
    assert_true(complete(f->store, &done, T0_MS + 10));

    gda_record retry = in_progress("paid", "44444444444444444444444444444444", 3, T0_MS + 20);
    gda_store_call call = at(T0_MS + 20);
    expect_refused_by(f->store, &retry, &call, &done);
}

/* replace_owner: a live result the engine cannot read is replaced, and
 * only that exact record (another owner's record is never lost). */
static void test_put_replaces_named_owner_only(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("gone", "66666666666666666666666666666666", 6, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    static const char body[] = "sealed-under-a-retired-key";
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, body, sizeof body - 1,
                               T0_S + TTL_S);
    assert_true(complete(f->store, &done, T0_MS + 10));

    gda_record again = in_progress("gone", "77777777777777777777777777777777", 6, T0_MS + 20);
    gda_store_call call = at(T0_MS + 20);
    call.replace_owner = "88888888888888888888888888888888"; /* not the stored owner */
    expect_refused_by(f->store, &again, &call, &done);

    call.replace_owner = "66666666666666666666666666666666";
    bool inserted = false;
    assert_int_equal(gda_store_put_if_absent(f->store, &again, &call, &inserted, NULL, NULL),
                     GDA_OK);
    assert_true(inserted);
    gda_record got;
    assert_true(get_record(f->store, "gone", T0_MS + 20, &got));
    assert_int_equal(got.state, GDA_RECORD_IN_PROGRESS);
    assert_string_equal(got.owner, "77777777777777777777777777777777");
    gda_record_clear(&got);
}

static void test_put_outputs_optional(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("opt", "55555555555555555555555555555555", 5, T0_MS);
    gda_store_call call = at(T0_MS);
    assert_int_equal(gda_store_put_if_absent(f->store, &rec, &call, NULL, NULL, NULL), GDA_OK);
    /* The conflict path must not leak the copy the wrapper discards. */
    assert_int_equal(gda_store_put_if_absent(f->store, &rec, &call, NULL, NULL, NULL), GDA_OK);
    gda_record got;
    assert_true(get_record(f->store, "opt", T0_MS, &got));
    gda_record_clear(&got);
}

static void test_put_replaces_expired_completed(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("ttl", "66666666666666666666666666666666", 6, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    const int64_t expires = T0_S + 60;
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, "x", 1, expires);
    assert_true(complete(f->store, &done, T0_MS + 1));

    /* Live through the whole second the expiry names ... */
    const int64_t last_live_ms = expires * 1000 + 999;
    gda_record again = in_progress("ttl", "77777777777777777777777777777777", 7, last_live_ms);
    put_expect(f->store, &again, last_live_ms, false);

    /* ... dead from the next one: a new executor takes the key over. */
    const int64_t first_dead_ms = (expires + 1) * 1000;
    again = in_progress("ttl", "77777777777777777777777777777777", 7, first_dead_ms);
    put_expect(f->store, &again, first_dead_ms, true);

    expect_stored(f->store, "ttl", first_dead_ms, &again);
}

static void test_put_replaces_lapsed_lease(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("lease", "88888888888888888888888888888888", 8, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);

    /* The lease holds until lease_until_ms exclusive. */
    gda_record rival = in_progress("lease", "99999999999999999999999999999999", 8,
                                   rec.lease_until_ms - 1);
    put_expect(f->store, &rival, rec.lease_until_ms - 1, false);

    rival = in_progress("lease", "99999999999999999999999999999999", 8, rec.lease_until_ms);
    put_expect(f->store, &rival, rec.lease_until_ms, true);

    gda_record got;
    assert_true(get_record(f->store, "lease", rec.lease_until_ms, &got));
    assert_string_equal(got.owner, rival.owner);
    gda_record_clear(&got);
}

static void test_accepted_blocks_until_expiry(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("job2", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 2, T0_MS);
    rec.lease_until_ms = T0_MS + 1000;
    put_expect(f->store, &rec, T0_MS, true);
    const int64_t expires = T0_S + 120;
    gda_record acc = finished(&rec, GDA_RECORD_ACCEPTED, 202, "{\"poll\":1}", 10, expires);
    assert_true(complete(f->store, &acc, T0_MS + 1));

    /* The lease is past, but an ACCEPTED record lives until its expiry. */
    const int64_t later = T0_MS + 5000;
    gda_record other = in_progress("job2", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 2, later);
    put_expect(f->store, &other, later, false);

    const int64_t dead = (expires + 1) * 1000;
    other = in_progress("job2", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 2, dead);
    put_expect(f->store, &other, dead, true);
}

/* ---- get ---------------------------------------------------------------- */

static void test_get_not_found_leaves_out_untouched(void **state)
{
    fixture *f = *state;
    gda_store_call call = at(T0_MS);
    gda_record out;
    memset(&out, 0, sizeof out);
    out.status_code = 12345;
    bool found = true;
    assert_int_equal(gda_store_get(f->store, "absent", &call, &out, &found, NULL), GDA_OK);
    assert_false(found);
    assert_int_equal(out.status_code, 12345);
    assert_null(out.key);
    assert_null(out.body);
}

static void test_get_returns_lapsed_lease(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("lapsed", "cccccccccccccccccccccccccccccccc", 4, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    /* "Live or not": a record whose lease has passed is still readable. */
    gda_record got;
    assert_true(get_record(f->store, "lapsed", rec.lease_until_ms + 1, &got));
    assert_same_record(&got, &rec);
    assert_false(gda_record_is_live(&got, rec.lease_until_ms + 1));
    gda_record_clear(&got);
}

static void test_get_expired_is_never_live(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("gone", "dddddddddddddddddddddddddddddddd", 4, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, "y", 1, T0_S + 1);
    assert_true(complete(f->store, &done, T0_MS + 1));
    /* A backend may purge expired records lazily; if it still returns one,
     * the record must say it is dead. */
    const int64_t later = (T0_S + 2) * 1000;
    gda_record got;
    if (get_record(f->store, "gone", later, &got)) {
        assert_false(gda_record_is_live(&got, later));
        gda_record_clear(&got);
    }
}

/* ---- complete ----------------------------------------------------------- */

static void test_complete_by_owner(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("c1", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    static const char body[] = "{\"data\":{\"balance\":12.5}}";
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, body, sizeof body - 1,
                               T0_S + 7200);
    done.flags = GDA_RECORD_ENCRYPTED;
    assert_true(complete(f->store, &done, T0_MS + 100));

    gda_record got;
    assert_true(get_record(f->store, "c1", T0_MS + 200, &got));
    assert_same_record(&got, &done);
    assert_true(gda_record_is_live(&got, (T0_S + 7200) * 1000));
    gda_record_clear(&got);
}

static void test_complete_wrong_owner_writes_nothing(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("c2", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    gda_record forged = finished(&rec, GDA_RECORD_COMPLETED, 200, "bad", 3, T0_S + 10);
    snprintf(forged.owner, sizeof forged.owner, "%s", "ffffffffffffffffffffffffffffffff");
    assert_false(complete(f->store, &forged, T0_MS + 1));
    /* An owner that is a prefix of the real one is still a different owner. */
    snprintf(forged.owner, sizeof forged.owner, "%s", "eeeeeeeeeeeeeeee");
    assert_false(complete(f->store, &forged, T0_MS + 1));

    expect_stored(f->store, "c2", T0_MS + 2, &rec);
}

static void test_complete_missing_key_not_applied(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("nobody", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 5, T0_MS);
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, "z", 1, T0_S + 10);
    assert_false(complete(f->store, &done, T0_MS));
    gda_record got;
    assert_false(get_record(f->store, "nobody", T0_MS, &got));
}

static void test_complete_twice_not_applied(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("c3", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    gda_record first = finished(&rec, GDA_RECORD_COMPLETED, 200, "first", 5, T0_S + 10);
    assert_true(complete(f->store, &first, T0_MS + 1));
    gda_record second = finished(&rec, GDA_RECORD_COMPLETED, 500, "second", 6, T0_S + 20);
    assert_false(complete(f->store, &second, T0_MS + 2));

    expect_stored(f->store, "c3", T0_MS + 3, &first);
}

static void test_complete_after_lapse_without_takeover(void **state)
{
    fixture *f = *state;
    /* Fencing is by owner, not by clock: a slow executor whose lease passed
     * but whom nobody replaced still owns the record. */
    gda_record rec = in_progress("slow", "12121212121212121212121212121212", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, "late", 4, T0_S + 100);
    assert_true(complete(f->store, &done, rec.lease_until_ms + 5));
}

static void test_complete_stale_owner_after_takeover(void **state)
{
    fixture *f = *state;
    gda_record old = in_progress("take", "13131313131313131313131313131313", 5, T0_MS);
    put_expect(f->store, &old, T0_MS, true);
    const int64_t later = old.lease_until_ms + 1;
    gda_record fresh = in_progress("take", "14141414141414141414141414141414", 5, later);
    put_expect(f->store, &fresh, later, true);

    gda_record stale = finished(&old, GDA_RECORD_COMPLETED, 200, "stale", 5, T0_S + 100);
    assert_false(complete(f->store, &stale, later + 1));
    gda_record good = finished(&fresh, GDA_RECORD_COMPLETED, 201, "fresh", 5, T0_S + 100);
    assert_true(complete(f->store, &good, later + 2));

    expect_stored(f->store, "take", later + 3, &good);
    /* ... and the stale owner cannot release the new result either. */
    assert_false(release(f->store, "take", old.owner, later + 4));
}

static void test_accepted_then_completed_by_owner(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("long", "15151515151515151515151515151515", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    static const char accepted[] = "{\"status\":\"accepted\"}";
    gda_record acc = finished(&rec, GDA_RECORD_ACCEPTED, 202, accepted, sizeof accepted - 1,
                              T0_S + 600);
    assert_true(complete(f->store, &acc, T0_MS + 1));

    expect_stored(f->store, "long", T0_MS + 2, &acc);

    /* Another owner cannot finish someone else's accepted job. */
    gda_record intruder = finished(&rec, GDA_RECORD_COMPLETED, 200, "no", 2, T0_S + 600);
    snprintf(intruder.owner, sizeof intruder.owner, "%s", "16161616161616161616161616161616");
    assert_false(complete(f->store, &intruder, T0_MS + 3));
    /* An ACCEPTED record is not released: its 202 was already given out. */
    assert_false(release(f->store, "long", rec.owner, T0_MS + 3));

    static const char final_body[] = "{\"data\":{\"done\":true}}";
    gda_record fin = finished(&rec, GDA_RECORD_COMPLETED, 200, final_body, sizeof final_body - 1,
                              T0_S + 3600);
    assert_true(complete(f->store, &fin, T0_MS + 4));
    expect_stored(f->store, "long", T0_MS + 5, &fin);

    assert_false(complete(f->store, &fin, T0_MS + 6));
}

/* ---- release ------------------------------------------------------------ */

static void test_release_by_owner(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("r1", "17171717171717171717171717171717", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    assert_true(release(f->store, "r1", rec.owner, T0_MS + 1));
    gda_record got;
    assert_false(get_record(f->store, "r1", T0_MS + 2, &got));
    /* Released twice: nothing left to release. */
    assert_false(release(f->store, "r1", rec.owner, T0_MS + 3));
    /* The retry re-executes. */
    gda_record retry = in_progress("r1", "18181818181818181818181818181818", 5, T0_MS + 4);
    put_expect(f->store, &retry, T0_MS + 4, true);
}

static void test_release_wrong_owner_keeps_record(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("r2", "17171717171717171717171717171717", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    assert_false(release(f->store, "r2", "19191919191919191919191919191919", T0_MS + 1));
    assert_false(release(f->store, "r2", "", T0_MS + 1));
    expect_stored(f->store, "r2", T0_MS + 2, &rec);
}

static void test_release_completed_not_applied(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("r3", "17171717171717171717171717171717", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, "kept", 4, T0_S + 100);
    assert_true(complete(f->store, &done, T0_MS + 1));
    assert_false(release(f->store, "r3", rec.owner, T0_MS + 2));
    expect_stored(f->store, "r3", T0_MS + 3, &done);
}

static void test_release_missing_key(void **state)
{
    fixture *f = *state;
    assert_false(release(f->store, "never", "17171717171717171717171717171717", T0_MS));
}

/* ---- bodies and keys ---------------------------------------------------- */

static void roundtrip_body(gda_store *store, const char *key, const uint8_t *body, size_t len)
{
    gda_record rec = in_progress(key, "20202020202020202020202020202020", 5, T0_MS);
    put_expect(store, &rec, T0_MS, true);
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, body, len, T0_S + 100);
    assert_true(complete(store, &done, T0_MS + 1));
    gda_record got;
    assert_true(get_record(store, key, T0_MS + 2, &got));
    assert_int_equal(got.body_len, len);
    if (len)
        assert_memory_equal(got.body, body, len);
    gda_record_clear(&got);
}

static void test_body_empty(void **state)
{
    fixture *f = *state;
    roundtrip_body(f->store, "empty-null", NULL, 0);
    static const uint8_t nothing[1] = {0};
    roundtrip_body(f->store, "empty-ptr", nothing, 0);
}

static void test_body_binary_exact(void **state)
{
    fixture *f = *state;
    /* Every byte value, embedded NULs, a leading NUL and a trailing one. */
    static const uint8_t small[] = {0x00, 'a', 0x00, 0xff, 0x80, '\n', 0x00};
    roundtrip_body(f->store, "small", small, sizeof small);

    const size_t big_len = 64 * 1024;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < big_len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        big[i] = (i % 97 == 0) ? 0 : (uint8_t)x;
    }
    roundtrip_body(f->store, "big", big, big_len);
    free(big);
}

static void test_key_max_length_and_utf8(void **state)
{
    fixture *f = *state;
    char longest[GDA_KEY_MAX + 1];
    for (size_t i = 0; i < GDA_KEY_MAX; i++)
        longest[i] = (char)('a' + i % 26);
    longest[GDA_KEY_MAX] = '\0';
    gda_record rec = in_progress(longest, "21212121212121212121212121212121", 5, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    gda_record got;
    assert_true(get_record(f->store, longest, T0_MS, &got));
    assert_int_equal(strlen(got.key), GDA_KEY_MAX);
    assert_same_record(&got, &rec);
    gda_record_clear(&got);

    /* A key one byte shorter is a different key. */
    longest[GDA_KEY_MAX - 1] = '\0';
    assert_false(get_record(f->store, longest, T0_MS, &got));

    /* Composed and decomposed "é" are different byte strings, hence keys. */
    const char *composed = "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x93\x9e";
    const char *decomposed = "cafe\xcc\x81-\xe2\x82\xac-\xf0\x9f\x93\x9e";
    gda_record a = in_progress(composed, "22222222222222222222222222222222", 1, T0_MS);
    gda_record b = in_progress(decomposed, "23232323232323232323232323232323", 2, T0_MS);
    put_expect(f->store, &a, T0_MS, true);
    put_expect(f->store, &b, T0_MS, true);
    assert_true(get_record(f->store, composed, T0_MS, &got));
    assert_same_record(&got, &a);
    gda_record_clear(&got);
    assert_true(get_record(f->store, decomposed, T0_MS, &got));
    assert_same_record(&got, &b);
    gda_record_clear(&got);

    /* Case and prefixes matter too. */
    gda_record upper = in_progress("KEY", "24242424242424242424242424242424", 3, T0_MS);
    gda_record lower = in_progress("key", "25252525252525252525252525252525", 4, T0_MS);
    gda_record prefix = in_progress("ke", "26262626262626262626262626262626", 5, T0_MS);
    put_expect(f->store, &upper, T0_MS, true);
    put_expect(f->store, &lower, T0_MS, true);
    put_expect(f->store, &prefix, T0_MS, true);
}

static void test_many_keys(void **state)
{
    fixture *f = *state;
    enum { N = 2000 };
    char key[32];
    char owner[GDA_OWNER_TOKEN_SIZE];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key-%06d", i);
        snprintf(owner, sizeof owner, "%032x", (unsigned)i);
        gda_record rec = in_progress(key, owner, (uint8_t)i, T0_MS);
        put_expect(f->store, &rec, T0_MS, true);
        if (i % 2 == 0) {
            char body[32];
            int n = snprintf(body, sizeof body, "{\"i\":%d}", i);
            gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, body, (size_t)n,
                                       T0_S + 100);
            assert_true(complete(f->store, &done, T0_MS + 1));
        }
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key-%06d", i);
        snprintf(owner, sizeof owner, "%032x", (unsigned)i);
        gda_record got;
        assert_true(get_record(f->store, key, T0_MS + 2, &got));
        assert_string_equal(got.owner, owner);
        assert_int_equal(got.payload_hash[0], (uint8_t)i);
        if (i % 2 == 0) {
            char body[32];
            int n = snprintf(body, sizeof body, "{\"i\":%d}", i);
            assert_int_equal(got.state, GDA_RECORD_COMPLETED);
            assert_int_equal(got.body_len, (size_t)n);
            assert_memory_equal(got.body, body, (size_t)n);
        } else {
            assert_int_equal(got.state, GDA_RECORD_IN_PROGRESS);
        }
        gda_record_clear(&got);
    }
}

/* ---- concurrency -------------------------------------------------------- */

enum { RACE_THREADS = 8, RACE_KEYS = 250 };

typedef struct race_shared {
    gda_store *store;
    pthread_barrier_t start;
    /* Per thread and key, written only by that thread; read after join. */
    bool inserted[RACE_THREADS][RACE_KEYS];
    bool completed[RACE_THREADS][RACE_KEYS];
    char seen_owner[RACE_THREADS][RACE_KEYS][GDA_OWNER_TOKEN_SIZE];
    int failures[RACE_THREADS];
} race_shared;

typedef struct race_arg {
    race_shared *shared;
    int id;
} race_arg;

static void race_owner(int thread, char out[GDA_OWNER_TOKEN_SIZE])
{
    snprintf(out, GDA_OWNER_TOKEN_SIZE, "%032x", (unsigned)(0xabc000 + thread));
}

/* No cmocka assertions here: cmocka is not thread-safe. */
static void *race_worker(void *p)
{
    race_arg *arg = p;
    race_shared *sh = arg->shared;
    char owner[GDA_OWNER_TOKEN_SIZE];
    race_owner(arg->id, owner);
    gda_store_call call = at(T0_MS);
    pthread_barrier_wait(&sh->start);

    for (int k = 0; k < RACE_KEYS; k++) {
        /* Threads walk the keys in different orders to mix contention. */
        int key_index = (arg->id % 2) ? RACE_KEYS - 1 - k : k;
        char key[32];
        snprintf(key, sizeof key, "race-%04d", key_index);
        gda_record rec = in_progress(key, owner, 7, T0_MS);
        gda_record existing;
        memset(&existing, 0, sizeof existing);
        bool inserted = false;
        if (gda_store_put_if_absent(sh->store, &rec, &call, &inserted, &existing, NULL) != GDA_OK) {
            sh->failures[arg->id]++;
            continue;
        }
        sh->inserted[arg->id][key_index] = inserted;
        snprintf(sh->seen_owner[arg->id][key_index], GDA_OWNER_TOKEN_SIZE, "%s",
                 inserted ? owner : existing.owner);
        gda_record_clear(&existing);
    }
    /* Everyone tries to complete every key; only the owner may. */
    for (int k = 0; k < RACE_KEYS; k++) {
        char key[32];
        snprintf(key, sizeof key, "race-%04d", k);
        gda_record rec = in_progress(key, owner, 7, T0_MS);
        gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, owner, strlen(owner),
                                   T0_S + 100);
        bool applied = false;
        if (gda_store_complete(sh->store, &done, &call, &applied, NULL) != GDA_OK) {
            sh->failures[arg->id]++;
            continue;
        }
        sh->completed[arg->id][k] = applied;
    }
    return NULL;
}

static void test_concurrent_put_if_absent(void **state)
{
    fixture *f = *state;
    /* Static, not heap: a failing check unwinds past any free, and the
     * sanitizer build must see a failing backend fail, not leak. */
    static race_shared shared;
    race_shared *sh = &shared;
    memset(sh, 0, sizeof *sh);
    sh->store = f->store;
    assert_int_equal(pthread_barrier_init(&sh->start, NULL, RACE_THREADS), 0);
    pthread_t threads[RACE_THREADS];
    race_arg args[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) {
        args[t].shared = sh;
        args[t].id = t;
        assert_int_equal(pthread_create(&threads[t], NULL, race_worker, &args[t]), 0);
    }
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&sh->start);

    for (int t = 0; t < RACE_THREADS; t++)
        assert_int_equal(sh->failures[t], 0);
    for (int k = 0; k < RACE_KEYS; k++) {
        int inserts = 0, completes = 0, winner = -1, completer = -1;
        for (int t = 0; t < RACE_THREADS; t++) {
            if (sh->inserted[t][k]) {
                inserts++;
                winner = t;
            }
            if (sh->completed[t][k]) {
                completes++;
                completer = t;
            }
        }
        assert_int_equal(inserts, 1);
        assert_int_equal(completes, 1);
        assert_int_equal(completer, winner);
        char winner_owner[GDA_OWNER_TOKEN_SIZE];
        race_owner(winner, winner_owner);
        /* Every loser saw the winner's record, not some other state. */
        for (int t = 0; t < RACE_THREADS; t++)
            assert_string_equal(sh->seen_owner[t][k], winner_owner);

        char key[32];
        snprintf(key, sizeof key, "race-%04d", k);
        gda_record got;
        assert_true(get_record(f->store, key, T0_MS, &got));
        assert_int_equal(got.state, GDA_RECORD_COMPLETED);
        assert_int_equal(got.body_len, strlen(winner_owner));
        assert_memory_equal(got.body, winner_owner, got.body_len);
        gda_record_clear(&got);
    }
}

/* ---- wrappers ----------------------------------------------------------- */

static void test_wrappers_reject_missing_arguments(void **state)
{
    fixture *f = *state;
    gda_store_call call = at(T0_MS);
    gda_record rec = in_progress("w", "27272727272727272727272727272727", 1, T0_MS);
    gda_record out;
    memset(&out, 0, sizeof out);
    gda_error err;
    assert_int_equal(gda_store_put_if_absent(NULL, &rec, &call, NULL, NULL, &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(err.code, GDA_ERR_INTERNAL);
    assert_int_equal(gda_store_put_if_absent(f->store, NULL, &call, NULL, NULL, NULL),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_store_put_if_absent(f->store, &rec, NULL, NULL, NULL, NULL),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_store_get(f->store, NULL, &call, &out, NULL, NULL), GDA_ERR_INTERNAL);
    assert_int_equal(gda_store_get(f->store, "w", &call, NULL, NULL, NULL), GDA_ERR_INTERNAL);
    assert_int_equal(gda_store_complete(f->store, NULL, &call, NULL, NULL), GDA_ERR_INTERNAL);
    assert_int_equal(gda_store_release(f->store, "w", NULL, &call, NULL, NULL),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_store_release(NULL, "w", "o", &call, NULL, NULL), GDA_ERR_INTERNAL);
    gda_store_close(NULL);
    /* Nothing reached the backend. */
    assert_false(get_record(f->store, "w", T0_MS, &out));
}

/* The principal digest is kept and returned unchanged, on a conflict too. */
static void test_principal_round_trip(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("who", "00112233445566778899aabbccddeeff", 0x10, T0_MS);
    for (size_t i = 0; i < GDA_PRINCIPAL_DIGEST_LEN; i++)
        rec.principal[i] = (uint8_t)(0xa0 + i);
    put_expect(f->store, &rec, T0_MS, true);
    gda_record out;
    assert_true(get_record(f->store, "who", T0_MS, &out));
    assert_memory_equal(out.principal, rec.principal, GDA_PRINCIPAL_DIGEST_LEN);
    gda_record_clear(&out);

    gda_record twin = in_progress("who", "ffeeddccbbaa99887766554433221100", 0x10, T0_MS);
    gda_store_call call = at(T0_MS + 1);
    gda_record existing;
    memset(&existing, 0, sizeof existing);
    bool inserted = true;
    assert_int_equal(gda_store_put_if_absent(f->store, &twin, &call, &inserted, &existing, NULL),
                     GDA_OK);
    assert_false(inserted);
    assert_memory_equal(existing.principal, rec.principal, GDA_PRINCIPAL_DIGEST_LEN);
    gda_record_clear(&existing);

    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, "{}", 2, T0_S + TTL_S);
    assert_true(complete(f->store, &done, T0_MS + 10));
    assert_true(get_record(f->store, "who", T0_MS + 20, &out));
    assert_memory_equal(out.principal, rec.principal, GDA_PRINCIPAL_DIGEST_LEN);
    gda_record_clear(&out);
}

/* A takeover allows for clock skew: a lease that passed less than skew_ms
 * ago on this host's clock still holds; after that it is taken over. */
static void test_takeover_allows_skew(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("skew", "00112233445566778899aabbccddeeff", 0x20, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    gda_record next = in_progress("skew", "ffeeddccbbaa99887766554433221100", 0x20,
                                  rec.lease_until_ms + 1000);
    gda_store_call call = at(rec.lease_until_ms + 1000); /* passed 1 s ago */
    call.skew_ms = 2000;
    gda_record existing;
    memset(&existing, 0, sizeof existing);
    bool inserted = true;
    assert_int_equal(gda_store_put_if_absent(f->store, &next, &call, &inserted, &existing, NULL),
                     GDA_OK);
    assert_false(inserted);
    assert_string_equal(existing.owner, rec.owner);
    gda_record_clear(&existing);

    call = at(rec.lease_until_ms + 2001);
    call.skew_ms = 2000;
    assert_int_equal(gda_store_put_if_absent(f->store, &next, &call, &inserted, NULL, NULL),
                     GDA_OK);
    assert_true(inserted);
}

/* A finish after the record expired is refused, even while the record is
 * still there (DynamoDB deletes expired items only eventually): it must not
 * come back to life. */
static void test_complete_after_expiry_refused(void **state)
{
    fixture *f = *state;
    gda_record rec = in_progress("late", "00112233445566778899aabbccddeeff", 0x30, T0_MS);
    rec.expires_at_s = T0_S + 5;
    put_expect(f->store, &rec, T0_MS, true);
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, "{}", 2, T0_S + TTL_S);
    assert_false(complete(f->store, &done, (T0_S + 6) * 1000));
    gda_record out;
    if (get_record(f->store, "late", (T0_S + 6) * 1000, &out)) {
        assert_int_equal(out.state, GDA_RECORD_IN_PROGRESS);
        assert_int_equal(out.expires_at_s, T0_S + 5);
        gda_record_clear(&out);
    }
    /* Within its last second it still completes. */
    gda_record other = in_progress("late2", "00112233445566778899aabbccddeeff", 0x30, T0_MS);
    other.expires_at_s = T0_S + 5;
    put_expect(f->store, &other, T0_MS, true);
    gda_record done2 = finished(&other, GDA_RECORD_COMPLETED, 200, "{}", 2, T0_S + TTL_S);
    assert_true(complete(f->store, &done2, (T0_S + 5) * 1000 + 999));
}

/* A body over the store's declared limit is refused before any write, and
 * the record stays as it was. */
static void test_body_over_max_refused(void **state)
{
    fixture *f = *state;
    if (f->store->max_body == 0)
        return; /* unlimited (the memory store): nothing to exceed */
    gda_record rec = in_progress("big", "00112233445566778899aabbccddeeff", 0x40, T0_MS);
    put_expect(f->store, &rec, T0_MS, true);
    static const uint8_t byte = 'x';
    gda_record done = finished(&rec, GDA_RECORD_COMPLETED, 200, &byte, f->store->max_body + 1,
                               T0_S + TTL_S);
    gda_store_call call = at(T0_MS + 1);
    bool applied = true;
    gda_error err;
    assert_int_equal(gda_store_complete(f->store, &done, &call, &applied, &err),
                     GDA_ERR_RESULT_TOO_LARGE);
    assert_false(applied);
    gda_record out;
    assert_true(get_record(f->store, "big", T0_MS + 2, &out));
    assert_int_equal(out.state, GDA_RECORD_IN_PROGRESS);
    gda_record_clear(&out);
}

#define SUITE_TEST(fn) cmocka_unit_test_prestate_setup_teardown(fn, fixture_setup, fixture_teardown, (void *)backend)

int store_suite_run(const store_suite_backend *backend)
{
    if (!backend || !backend->open) {
        fprintf(stderr, "store suite: no backend\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        SUITE_TEST(test_put_inserts_new_key),
        SUITE_TEST(test_put_conflict_returns_existing_copy),
        SUITE_TEST(test_put_conflict_on_completed_returns_result),
        SUITE_TEST(test_put_replaces_named_owner_only),
        SUITE_TEST(test_put_outputs_optional),
        SUITE_TEST(test_put_replaces_expired_completed),
        SUITE_TEST(test_put_replaces_lapsed_lease),
        SUITE_TEST(test_accepted_blocks_until_expiry),
        SUITE_TEST(test_get_not_found_leaves_out_untouched),
        SUITE_TEST(test_get_returns_lapsed_lease),
        SUITE_TEST(test_get_expired_is_never_live),
        SUITE_TEST(test_complete_by_owner),
        SUITE_TEST(test_complete_wrong_owner_writes_nothing),
        SUITE_TEST(test_complete_missing_key_not_applied),
        SUITE_TEST(test_complete_twice_not_applied),
        SUITE_TEST(test_complete_after_lapse_without_takeover),
        SUITE_TEST(test_complete_stale_owner_after_takeover),
        SUITE_TEST(test_accepted_then_completed_by_owner),
        SUITE_TEST(test_release_by_owner),
        SUITE_TEST(test_release_wrong_owner_keeps_record),
        SUITE_TEST(test_release_completed_not_applied),
        SUITE_TEST(test_release_missing_key),
        SUITE_TEST(test_body_empty),
        SUITE_TEST(test_body_binary_exact),
        SUITE_TEST(test_key_max_length_and_utf8),
        SUITE_TEST(test_many_keys),
        SUITE_TEST(test_concurrent_put_if_absent),
        SUITE_TEST(test_wrappers_reject_missing_arguments),
        SUITE_TEST(test_principal_round_trip),
        SUITE_TEST(test_takeover_allows_skew),
        SUITE_TEST(test_complete_after_expiry_refused),
        SUITE_TEST(test_body_over_max_refused),
    };
    return _cmocka_run_group_tests(backend->name ? backend->name : "store", tests,
                                   sizeof tests / sizeof tests[0], NULL, NULL);
}
