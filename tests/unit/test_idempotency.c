/* Tests for lib/idempotency.c: the exactly-once engine over the memory store,
 * with an injected clock and sleep so every wait and expiry is exact. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gda/idempotency.h>

#include "test_idem.h"
#include "digest.h"

#define T0_MS INT64_C(1700000000000)

/* ---- injected clock ------------------------------------------------------ */

typedef struct fake_clock {
    int64_t now;
    int sleeps;
    int64_t slept;
    void (*on_sleep)(struct fake_clock *clock);
    void *hook_user;
} fake_clock;

static int64_t fake_now(void *user)
{
    return ((fake_clock *)user)->now;
}

static void fake_sleep(int64_t ms, void *user)
{
    fake_clock *c = user;
    c->sleeps++;
    c->slept += ms;
    c->now += ms;
    if (c->on_sleep)
        c->on_sleep(c);
}

/* ---- a wrapper store that counts calls and can corrupt what it reads ----- */

typedef struct wrap_store {
    gda_store base;
    gda_store *inner;
    int puts, gets, completes, releases;
    bool fail;              /* every call fails like a down backend */
    long tamper_body_at;    /* >= 0: flip this body byte of records read */
    bool tamper_status;     /* change the status of records read */
    /* Apply each conditional write, then send it once more and report the
     * second answer, as an HTTP client that re-sends a request on a dead
     * keep-alive connection does: the resend is refused by our own write. */
    bool resend_writes;
    bool fail_after_write; /* apply complete, then report a store failure */
    const uint8_t *relabel; /* non-NULL: records read claim this principal */
} wrap_store;

static void tamper(const wrap_store *w, gda_record *rec)
{
    if (w->tamper_body_at >= 0 && (size_t)w->tamper_body_at < rec->body_len)
        rec->body[w->tamper_body_at] ^= 0x01;
    if (w->tamper_status && rec->status_code)
        rec->status_code = rec->status_code == 200 ? 201 : 200;
    if (w->relabel)
        memcpy(rec->principal, w->relabel, GDA_PRINCIPAL_DIGEST_LEN);
}

static gda_status wrap_put(gda_store *s, const gda_record *rec, const gda_store_call *call,
                           bool *inserted, gda_record *existing, gda_error *err)
{
    wrap_store *w = (wrap_store *)s;
    w->puts++;
    if (w->fail)
        return gda_error_set(err, GDA_ERR_STORE, NULL, "backend down");
    gda_status st = w->inner->ops->put_if_absent(w->inner, rec, call, inserted, existing, err);
    if (st == GDA_OK && *inserted && w->resend_writes)
        st = w->inner->ops->put_if_absent(w->inner, rec, call, inserted, existing, err);
    if (st == GDA_OK && !*inserted)
        tamper(w, existing);
    return st;
}

static gda_status wrap_get(gda_store *s, const char *key, const gda_store_call *call,
                           gda_record *out, bool *found, gda_error *err)
{
    wrap_store *w = (wrap_store *)s;
    w->gets++;
    if (w->fail)
        return gda_error_set(err, GDA_ERR_STORE, NULL, "backend down");
    gda_status st = w->inner->ops->get(w->inner, key, call, out, found, err);
    if (st == GDA_OK && *found)
        tamper(w, out);
    return st;
}

static gda_status wrap_complete(gda_store *s, const gda_record *rec, const gda_store_call *call,
                                bool *applied, gda_error *err)
{
    wrap_store *w = (wrap_store *)s;
    w->completes++;
    if (w->fail)
        return gda_error_set(err, GDA_ERR_STORE, NULL, "backend down");
    gda_status st = w->inner->ops->complete(w->inner, rec, call, applied, err);
    if (st == GDA_OK && *applied && w->resend_writes)
        st = w->inner->ops->complete(w->inner, rec, call, applied, err);
    if (st == GDA_OK && w->fail_after_write)
        return gda_error_set(err, GDA_ERR_TIMEOUT, NULL, "answer lost");
    return st;
}

static gda_status wrap_release(gda_store *s, const char *key, const char *owner,
                               const gda_store_call *call, bool *applied, gda_error *err)
{
    wrap_store *w = (wrap_store *)s;
    w->releases++;
    if (w->fail)
        return gda_error_set(err, GDA_ERR_STORE, NULL, "backend down");
    return w->inner->ops->release(w->inner, key, owner, call, applied, err);
}

static void wrap_close(gda_store *s)
{
    wrap_store *w = (wrap_store *)s;
    gda_store_close(w->inner);
    free(w);
}

static const gda_store_ops wrap_ops = {GDA_STORE_OPS_VERSION, "wrap", wrap_put, wrap_get,
                                       wrap_complete, wrap_release, wrap_close};

static wrap_store *wrap_new(void)
{
    wrap_store *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->base.ops = &wrap_ops;
    w->inner = gda_memory_store_new(0, NULL);
    assert_non_null(w->inner);
    w->tamper_body_at = -1;
    return w;
}

static int wrap_calls(const wrap_store *w)
{
    return w->puts + w->gets + w->completes + w->releases;
}

/* ---- fixture ------------------------------------------------------------- */

typedef struct fx {
    fake_clock clock;
    wrap_store *remote;
    gda_idem_config cfg;
    gda_idem *idem;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->clock.now = T0_MS;
    f->remote = wrap_new();
    f->cfg = gda_idem_config_default();
    f->cfg.clock.now_ms = fake_now;
    f->cfg.clock.sleep_ms = fake_sleep;
    f->cfg.clock.user = &f->clock;
    f->cfg.in_progress_wait_ms = 0;
    /* Exact lease arithmetic in most tests; test_clock_skew_allowance
     * covers the allowance. */
    f->cfg.clock_skew_ms = 0;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    gda_idem_free(f->idem);
    gda_store_close(&f->remote->base);
    free(f);
    return 0;
}

/* (Re)create the engine from f->cfg. */
static gda_idem *engine(fx *f)
{
    gda_idem_free(f->idem);
    gda_error err;
    f->idem = gda_idem_new(&f->remote->base, &f->cfg, &err);
    assert_non_null(f->idem);
    return f->idem;
}

static void hash_of(const char *payload, uint8_t out[GDA_PAYLOAD_HASH_LEN])
{
    test_payload_hash(payload, strlen(payload), out);
}

typedef struct begun {
    gda_status st;
    gda_idem_outcome outcome;
    gda_idem_lease lease;
    gda_idem_result result;
    gda_error err;
} begun;

static begun begin_hashed(gda_idem *idem, const char *key,
                          const uint8_t h[GDA_PAYLOAD_HASH_LEN], int64_t deadline_ms)
{
    begun b;
    memset(&b, 0, sizeof b);
    b.st = gda_idem_begin(idem, key, h, TEST_PRINCIPAL, deadline_ms, &b.outcome, &b.lease, &b.result, &b.err);
    return b;
}

static begun begin(gda_idem *idem, const char *key, const char *payload, int64_t deadline_ms)
{
    uint8_t h[GDA_PAYLOAD_HASH_LEN];
    hash_of(payload, h);
    return begin_hashed(idem, key, h, deadline_ms);
}

static void expect_new(begun *b)
{
    assert_int_equal(b->st, GDA_OK);
    assert_int_equal(b->outcome, GDA_IDEM_NEW);
}

static void expect_replay(begun *b, int status, const char *body)
{
    assert_int_equal(b->st, GDA_OK);
    assert_int_equal(b->outcome, GDA_IDEM_REPLAY);
    assert_int_equal(b->result.status_code, status);
    assert_int_equal(b->result.body_len, strlen(body));
    if (*body)
        assert_memory_equal(b->result.body, body, strlen(body));
    else
        assert_null(b->result.body);
    gda_idem_result_clear(&b->result);
}

static gda_record stored(fx *f, const char *key)
{
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    bool found = false;
    gda_store_call call = {.now_ms = f->clock.now};
    assert_int_equal(gda_store_get(f->remote->inner, key, &call, &rec, &found, NULL), GDA_OK);
    assert_true(found);
    return rec;
}

static bool exists(fx *f, const char *key)
{
    gda_record rec;
    memset(&rec, 0, sizeof rec);
    bool found = false;
    gda_store_call call = {.now_ms = f->clock.now};
    assert_int_equal(gda_store_get(f->remote->inner, key, &call, &rec, &found, NULL), GDA_OK);
    gda_record_clear(&rec);
    return found;
}

static const uint8_t data_key[GDA_IDEM_DATA_KEY_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* ---- configuration ------------------------------------------------------- */

static void test_config_defaults_and_validation(void **state)
{
    fx *f = *state;
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    assert_int_equal(cfg.ttl_s, 3600);
    assert_true(cfg.max_lease_ms > 0);
    assert_true(cfg.in_progress_wait_ms >= 0);
    assert_true(cfg.poll_interval_ms > 0);
    assert_int_equal(cfg.busy_policy, GDA_IDEM_BUSY_RETRY);
    assert_null(cfg.data_key);
    assert_null(cfg.clock.now_ms);
    assert_null(cfg.clock.sleep_ms);

    gda_error err;
    assert_null(gda_idem_new(NULL, &cfg, &err));
    assert_int_equal(err.code, GDA_ERR_CONFIG);

    gda_idem_config bad;
#define REJECTS(field_assign)                                                    \
    do {                                                                         \
        bad = cfg;                                                               \
        field_assign;                                                            \
        gda_error_clear(&err);                                                   \
        assert_null(gda_idem_new(&f->remote->base, &bad, &err));                 \
        assert_int_equal(err.code, GDA_ERR_CONFIG);                              \
    } while (0)
    REJECTS(bad.ttl_s = 0);
    REJECTS(bad.max_lease_ms = 0);
    REJECTS(bad.poll_interval_ms = 0);
    REJECTS(bad.in_progress_wait_ms = -1);
    REJECTS(bad.busy_policy = (gda_idem_busy_policy)7);
    REJECTS((bad.data_key = data_key, bad.data_key_len = 31));
    REJECTS((bad.data_key = NULL, bad.data_key_len = 32));
    REJECTS((bad.data_key = data_key, bad.data_key_len = 0));
#undef REJECTS

    /* NULL config means the defaults; free is NULL-safe. */
    gda_idem *idem = gda_idem_new(&f->remote->base, NULL, &err);
    assert_non_null(idem);
    gda_idem_free(idem);
    gda_idem_free(NULL);
}

static void test_bad_arguments_and_keys(void **state)
{
    fx *f = *state;
    gda_idem *idem = engine(f);
    uint8_t h[GDA_PAYLOAD_HASH_LEN] = {0};
    gda_idem_outcome outcome;
    gda_idem_lease lease;
    gda_idem_result res;
    memset(&res, 0, sizeof res);
    gda_error err;
    assert_int_equal(gda_idem_begin(NULL, "k", h, TEST_PRINCIPAL, 0, &outcome, &lease, &res, &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_idem_begin(idem, NULL, h, TEST_PRINCIPAL, 0, &outcome, &lease, &res, &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_idem_begin(idem, "k", NULL, TEST_PRINCIPAL, 0, &outcome, &lease, &res, &err),
                     GDA_ERR_INTERNAL);
    assert_int_equal(gda_idem_begin(idem, "k", h, TEST_PRINCIPAL, 0, NULL, &lease, &res, &err),
                     GDA_ERR_INTERNAL);

    char longest[GDA_KEY_MAX + 2];
    memset(longest, 'k', sizeof longest - 1);
    longest[GDA_KEY_MAX + 1] = '\0';
    const char *bad_keys[] = {"", longest, "\xc0\xaf", "\xed\xa0\x80", "ab\xe2\x82",
                              "\xf4\x90\x80\x80", "\xff"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        begun b = begin(idem, bad_keys[i], "{}", 0);
        assert_int_equal(b.st, GDA_ERR_INVALID_REQUEST);
    }
    assert_int_equal(f->remote->puts, 0);

    longest[GDA_KEY_MAX] = '\0';
    begun b = begin(idem, longest, "{}", 0);
    expect_new(&b);
    assert_string_equal(b.lease.key, longest);
    b = begin(idem, "\xe2\x82\xac-\xf0\x9f\x93\x9e", "{}", 0);
    expect_new(&b);

    assert_int_equal(gda_idem_complete(idem, NULL, 200, "", 0, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, NULL, 3, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_idem_abort(idem, NULL, NULL, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_idem_lookup(idem, NULL, TEST_PRINCIPAL, &res, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_idem_lookup(idem, "", TEST_PRINCIPAL, &res, &err), GDA_ERR_INVALID_REQUEST);
}

/* ---- the basic transitions ---------------------------------------------- */

static void test_new_complete_replay(void **state)
{
    fx *f = *state;
    gda_idem *idem = engine(f);
    begun b = begin(idem, "req-1", "{\"a\":1}", T0_MS + 60000);
    expect_new(&b);
    assert_string_equal(b.lease.key, "req-1");
    assert_int_equal(strlen(b.lease.owner), 32);
    assert_int_equal(strspn(b.lease.owner, "0123456789abcdef"), 32);
    assert_int_equal(b.lease.lease_until_ms, T0_MS + f->cfg.max_lease_ms);
    assert_int_equal(b.lease.deadline_ms, T0_MS + 60000);

    /* The record holds the hash, never the payload. */
    gda_record rec = stored(f, "req-1");
    uint8_t h[GDA_PAYLOAD_HASH_LEN];
    hash_of("{\"a\":1}", h);
    assert_int_equal(rec.state, GDA_RECORD_IN_PROGRESS);
    assert_memory_equal(rec.payload_hash, h, sizeof h);
    assert_string_equal(rec.owner, b.lease.owner);
    assert_null(rec.body);
    gda_record_clear(&rec);

    static const char body[] = "{\"data\":{\"x\":\"\\u00e9\"}}\n";
    f->clock.now += 120;
    gda_error err;
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, body, sizeof body - 1, &err), GDA_OK);
    rec = stored(f, "req-1");
    assert_int_equal(rec.state, GDA_RECORD_COMPLETED);
    assert_int_equal(rec.expires_at_s, (T0_MS + 120) / 1000 + 3600);
    assert_int_equal(rec.flags, 0);
    gda_record_clear(&rec);

    /* Completing twice is refused: the lease is spent. */
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "x", 1, &err), GDA_ERR_LEASE_LOST);

    f->clock.now += 1000;
    begun r = begin(idem, "req-1", "{\"a\":1}", 0);
    expect_replay(&r, 200, body);
}

static void test_owner_tokens_are_fresh(void **state)
{
    fx *f = *state;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "k1", "p", 0);
    begun b = begin(idem, "k2", "p", 0);
    expect_new(&a);
    expect_new(&b);
    assert_string_not_equal(a.lease.owner, b.lease.owner);
    bool released = false;
    assert_int_equal(gda_idem_abort(idem, &a.lease, &released, NULL), GDA_OK);
    assert_true(released);
    begun c = begin(idem, "k1", "p", 0);
    expect_new(&c);
    assert_string_not_equal(a.lease.owner, c.lease.owner);
}

static void test_lease_bounded_by_deadline(void **state)
{
    fx *f = *state;
    gda_idem *idem = engine(f);
    begun b = begin(idem, "d1", "p", T0_MS + 5000);
    expect_new(&b);
    assert_int_equal(b.lease.lease_until_ms, T0_MS + 5000);
    gda_record rec = stored(f, "d1");
    assert_int_equal(rec.lease_until_ms, T0_MS + 5000);
    gda_record_clear(&rec);

    b = begin(idem, "d2", "p", 0);
    expect_new(&b);
    assert_int_equal(b.lease.lease_until_ms, T0_MS + f->cfg.max_lease_ms);

    /* A deadline already passed: nothing is started or stored. */
    b = begin(idem, "d3", "p", T0_MS);
    assert_int_equal(b.st, GDA_ERR_TIMEOUT);
    assert_false(exists(f, "d3"));

    /* A short TTL never lets the record die before its lease. */
    f->cfg.ttl_s = 1;
    idem = engine(f);
    b = begin(idem, "d4", "p", 0);
    expect_new(&b);
    rec = stored(f, "d4");
    assert_true(rec.expires_at_s * 1000 >= rec.lease_until_ms);
    gda_record_clear(&rec);
}

static void test_mismatch_never_executes(void **state)
{
    fx *f = *state;
    f->cfg.in_progress_wait_ms = 1000;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "m", "{\"amount\":10}", 0);
    expect_new(&a);
    /* Against a running twin: no wait, straight to 422. */
    begun b = begin(idem, "m", "{\"amount\":99}", 0);
    assert_int_equal(b.st, GDA_ERR_PAYLOAD_MISMATCH);
    assert_int_equal(b.outcome, GDA_IDEM_MISMATCH);
    assert_int_equal(b.err.code, GDA_ERR_PAYLOAD_MISMATCH);
    assert_int_equal(gda_status_http(b.st), 422);
    assert_int_equal(f->clock.sleeps, 0);

    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "ok", 2, NULL), GDA_OK);
    b = begin(idem, "m", "{\"amount\":99}", 0);
    assert_int_equal(b.st, GDA_ERR_PAYLOAD_MISMATCH);
    assert_int_equal(b.outcome, GDA_IDEM_MISMATCH);
    assert_null(b.result.body);
    /* The original result is untouched. */
    b = begin(idem, "m", "{\"amount\":10}", 0);
    expect_replay(&b, 200, "ok");
}

static void test_ttl_expiry_reexecutes(void **state)
{
    fx *f = *state;
    f->cfg.ttl_s = 60;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "t", "p", 0);
    expect_new(&a);
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "one", 3, NULL), GDA_OK);
    const int64_t expires_s = T0_MS / 1000 + 60;

    f->clock.now = expires_s * 1000 + 999;
    begun b = begin(idem, "t", "p", 0);
    expect_replay(&b, 200, "one");

    f->clock.now = (expires_s + 1) * 1000;
    b = begin(idem, "t", "p", 0);
    expect_new(&b);
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "two", 3, NULL), GDA_OK);
    b = begin(idem, "t", "p", 0);
    expect_replay(&b, 200, "two");
}

static void test_4xx_cached_5xx_released(void **state)
{
    fx *f = *state;
    gda_idem *idem = engine(f);
    static const char refusal[] = "{\"error\":{\"code\":\"unprocessable\"}}";
    begun a = begin(idem, "biz", "p", 0);
    expect_new(&a);
    assert_int_equal(gda_idem_complete(idem, &a.lease, 422, refusal, sizeof refusal - 1, NULL),
                     GDA_OK);
    begun b = begin(idem, "biz", "p", 0);
    expect_replay(&b, 422, refusal);

    /* Retryable or non-final statuses cannot be cached ... */
    a = begin(idem, "flaky", "p", 0);
    expect_new(&a);
    const int refused[] = {500, 503, 504, 429, 408, 202, 302, 100, 0, -1, 600};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        gda_error err;
        assert_int_equal(gda_idem_complete(idem, &a.lease, refused[i], "x", 1, &err),
                         GDA_ERR_INTERNAL);
    }
    gda_record rec = stored(f, "flaky");
    assert_int_equal(rec.state, GDA_RECORD_IN_PROGRESS);
    gda_record_clear(&rec);
    /* ... they are aborted, and the retry re-executes. */
    bool released = false;
    assert_int_equal(gda_idem_abort(idem, &a.lease, &released, NULL), GDA_OK);
    assert_true(released);
    assert_false(exists(f, "flaky"));
    b = begin(idem, "flaky", "p", 0);
    expect_new(&b);
    assert_int_equal(gda_idem_complete(idem, &b.lease, 204, NULL, 0, NULL), GDA_OK);
    b = begin(idem, "flaky", "p", 0);
    expect_replay(&b, 204, "");
}

static void test_stale_owner_cannot_complete(void **state)
{
    fx *f = *state;
    f->cfg.max_lease_ms = 1000;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "s", "p", 0);
    expect_new(&a);

    /* Still leased: a twin is turned away. */
    f->clock.now = T0_MS + 999;
    begun b = begin(idem, "s", "p", 0);
    assert_int_equal(b.st, GDA_ERR_BUSY);
    assert_int_equal(b.outcome, GDA_IDEM_IN_PROGRESS);
    assert_int_equal(b.result.retry_after_ms, 1);

    /* The lease passes: the retry takes the key over. */
    f->clock.now = T0_MS + 1000;
    b = begin(idem, "s", "p", 0);
    expect_new(&b);
    assert_string_not_equal(a.lease.owner, b.lease.owner);

    gda_error err;
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "stale", 5, &err), GDA_ERR_LEASE_LOST);
    assert_int_equal(err.code, GDA_ERR_LEASE_LOST);
    bool released = true;
    assert_int_equal(gda_idem_abort(idem, &a.lease, &released, NULL), GDA_OK);
    assert_false(released);
    gda_record rec = stored(f, "s");
    assert_int_equal(rec.state, GDA_RECORD_IN_PROGRESS);
    assert_string_equal(rec.owner, b.lease.owner);
    gda_record_clear(&rec);

    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "fresh", 5, NULL), GDA_OK);
    begun c = begin(idem, "s", "p", 0);
    expect_replay(&c, 200, "fresh");
    /* Too late for the stale one even now. */
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "stale", 5, NULL), GDA_ERR_LEASE_LOST);
    c = begin(idem, "s", "p", 0);
    expect_replay(&c, 200, "fresh");
}

/* ---- the in-progress wait ----------------------------------------------- */

typedef struct finisher {
    gda_idem *idem;
    gda_idem_lease lease;
    int at_sleep; /* finish during this sleep call */
    bool done;
} finisher;

static void finish_during_sleep(fake_clock *c)
{
    finisher *fin = c->hook_user;
    if (!fin->done && c->sleeps == fin->at_sleep) {
        assert_int_equal(gda_idem_complete(fin->idem, &fin->lease, 200, "first", 5, NULL),
                         GDA_OK);
        fin->done = true;
    }
}

static void test_wait_ends_in_replay(void **state)
{
    fx *f = *state;
    f->cfg.in_progress_wait_ms = 1000;
    f->cfg.poll_interval_ms = 100;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "w", "p", 0);
    expect_new(&a);

    finisher fin = {.idem = idem, .lease = a.lease, .at_sleep = 3};
    f->clock.on_sleep = finish_during_sleep;
    f->clock.hook_user = &fin;
    begun b = begin(idem, "w", "p", 0);
    expect_replay(&b, 200, "first");
    assert_int_equal(f->clock.sleeps, 3);
    assert_int_equal(f->clock.slept, 300);
}

static void test_wait_takes_over_lapsed_lease(void **state)
{
    fx *f = *state;
    f->cfg.max_lease_ms = 250;
    f->cfg.in_progress_wait_ms = 1000;
    f->cfg.poll_interval_ms = 100;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "crash", "p", 0);
    expect_new(&a);
    /* The first executor never comes back; the waiter inherits the key. */
    begun b = begin(idem, "crash", "p", 0);
    expect_new(&b);
    assert_int_equal(f->clock.sleeps, 3);
    assert_int_equal(b.lease.lease_until_ms, T0_MS + 300 + 250);
}

static void test_wait_then_busy_policies(void **state)
{
    fx *f = *state;
    f->cfg.in_progress_wait_ms = 300;
    f->cfg.poll_interval_ms = 100;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "busy", "p", 0);
    expect_new(&a);

    begun b = begin(idem, "busy", "p", 0);
    assert_int_equal(b.st, GDA_ERR_BUSY);
    assert_int_equal(b.outcome, GDA_IDEM_IN_PROGRESS);
    assert_int_equal(gda_status_http(b.st), 503);
    assert_true(gda_status_retryable(b.st));
    assert_int_equal(f->clock.slept, 300);
    assert_int_equal(f->clock.sleeps, 3);
    assert_int_equal(b.result.retry_after_ms, f->cfg.max_lease_ms - 300);
    /* Re-read after every sleep, nothing written. */
    assert_int_equal(f->remote->gets, 3);
    assert_int_equal(f->remote->puts, 2);

    f->cfg.busy_policy = GDA_IDEM_BUSY_CONFLICT;
    f->cfg.in_progress_wait_ms = 0;
    idem = engine(f);
    f->clock.sleeps = 0;
    b = begin(idem, "busy", "p", 0);
    assert_int_equal(b.st, GDA_ERR_IN_PROGRESS);
    assert_int_equal(b.outcome, GDA_IDEM_IN_PROGRESS);
    assert_int_equal(gda_status_http(b.st), 409);
    assert_false(gda_status_retryable(b.st));
    assert_int_equal(f->clock.sleeps, 0);
}

static void test_deadline_bounds_wait(void **state)
{
    fx *f = *state;
    f->cfg.in_progress_wait_ms = 5000;
    f->cfg.poll_interval_ms = 100;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "dl", "p", 0);
    expect_new(&a);
    begun b = begin(idem, "dl", "p", T0_MS + 250);
    assert_int_equal(b.st, GDA_ERR_BUSY);
    assert_int_equal(f->clock.slept, 250);
    assert_int_equal(f->clock.sleeps, 3); /* 100 + 100 + 50 */
    assert_int_equal(f->clock.now, T0_MS + 250);
}

/* ---- ACCEPTED (202) ------------------------------------------------------ */

static void test_accepted_poll_completed(void **state)
{
    fx *f = *state;
    f->cfg.max_lease_ms = 1000;
    gda_idem *idem = engine(f);
    gda_idem_result res;
    memset(&res, 0, sizeof res);
    gda_error err;
    assert_int_equal(gda_idem_lookup(idem, "job", TEST_PRINCIPAL, &res, &err), GDA_ERR_NOT_FOUND);

    begun a = begin(idem, "job", "p", 0);
    expect_new(&a);
    assert_int_equal(gda_idem_lookup(idem, "job", TEST_PRINCIPAL, &res, &err), GDA_OK);
    assert_int_equal(res.state, GDA_RECORD_IN_PROGRESS);
    assert_null(res.body);
    assert_int_equal(res.retry_after_ms, 1000);

    static const char accepted[] = "{\"status\":\"accepted\",\"poll\":\"/jobs/job\"}";
    assert_int_equal(gda_idem_accept(idem, &a.lease, accepted, sizeof accepted - 1, &err),
                     GDA_OK);
    assert_int_equal(gda_idem_lookup(idem, "job", TEST_PRINCIPAL, &res, &err), GDA_OK);
    assert_int_equal(res.state, GDA_RECORD_ACCEPTED);
    assert_int_equal(res.status_code, 202);
    assert_memory_equal(res.body, accepted, sizeof accepted - 1);
    gda_idem_result_clear(&res);

    /* Long after the lease: a retry still gets the same 202, not a rerun. */
    f->clock.now += 10000;
    begun b = begin(idem, "job", "p", 0);
    expect_replay(&b, 202, accepted);
    b = begin(idem, "job", "other", 0);
    assert_int_equal(b.st, GDA_ERR_PAYLOAD_MISMATCH);

    /* Only the owner finishes it. */
    begun x = begin(idem, "unrelated", "p", 0);
    expect_new(&x);
    gda_idem_lease forged = a.lease;
    memcpy(forged.owner, x.lease.owner, sizeof forged.owner);
    assert_int_equal(gda_idem_complete(idem, &forged, 200, "no", 2, &err), GDA_ERR_LEASE_LOST);

    static const char final_body[] = "{\"data\":{\"done\":true}}";
    assert_int_equal(
        gda_idem_complete(idem, &a.lease, 200, final_body, sizeof final_body - 1, &err), GDA_OK);
    assert_int_equal(gda_idem_lookup(idem, "job", TEST_PRINCIPAL, &res, &err), GDA_OK);
    assert_int_equal(res.state, GDA_RECORD_COMPLETED);
    assert_int_equal(res.status_code, 200);
    assert_int_equal(res.body_len, sizeof final_body - 1);
    assert_memory_equal(res.body, final_body, sizeof final_body - 1);
    gda_idem_result_clear(&res);
    b = begin(idem, "job", "p", 0);
    expect_replay(&b, 200, final_body);
    /* Accepting again after completion is refused. */
    assert_int_equal(gda_idem_accept(idem, &a.lease, accepted, 3, &err), GDA_ERR_LEASE_LOST);
}

/* ---- encryption ---------------------------------------------------------- */

static void test_encryption_round_trip(void **state)
{
    fx *f = *state;
    f->cfg.data_key = data_key;
    f->cfg.data_key_len = sizeof data_key;
    gda_idem *idem = engine(f);
    static const char body[] = "{\"data\":{\"callerId\":\"+15551234567\"}}";
    begun a = begin(idem, "enc", "p", 0);
    expect_new(&a);
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, body, sizeof body - 1, NULL), GDA_OK);

    gda_record rec = stored(f, "enc");
    assert_int_equal(rec.flags & GDA_RECORD_ENCRYPTED, GDA_RECORD_ENCRYPTED);
    assert_int_equal(rec.body_len, sizeof body - 1 + 24 + 16);
    /* No trace of the plaintext in what the store holds. */
    for (size_t i = 0; i + 5 <= rec.body_len; i++)
        assert_false(memcmp(rec.body + i, "+1555", 5) == 0);
    assert_int_equal(rec.status_code, 200);
    gda_record_clear(&rec);

    begun b = begin(idem, "enc", "p", 0);
    expect_replay(&b, 200, body);

    /* Fresh nonce per record: same body twice, different ciphertexts. */
    begun c = begin(idem, "enc2", "p", 0);
    expect_new(&c);
    assert_int_equal(gda_idem_complete(idem, &c.lease, 200, body, sizeof body - 1, NULL), GDA_OK);
    gda_record r1 = stored(f, "enc"), r2 = stored(f, "enc2");
    assert_memory_not_equal(r1.body, r2.body, 24);
    gda_record_clear(&r1);
    gda_record_clear(&r2);

    /* Empty bodies are sealed too, and a 202 survives the trip. */
    begun d = begin(idem, "enc3", "p", 0);
    expect_new(&d);
    assert_int_equal(gda_idem_accept(idem, &d.lease, NULL, 0, NULL), GDA_OK);
    d = begin(idem, "enc3", "p", 0);
    expect_replay(&d, 202, "");
}

static void seal_one(fx *f, const char *key, const char *body)
{
    begun a = begin(f->idem, key, "p", 0);
    expect_new(&a);
    assert_int_equal(gda_idem_complete(f->idem, &a.lease, 200, body, strlen(body), NULL), GDA_OK);
}

static void test_tamper_detected(void **state)
{
    fx *f = *state;
    f->cfg.data_key = data_key;
    f->cfg.data_key_len = sizeof data_key;
    engine(f);
    static const char body[] = "{\"data\":{\"ok\":true}}";
    seal_one(f, "tam", body);
    const size_t sealed_len = sizeof body - 1 + 40;

    /* Nonce, ciphertext and tag: one flipped bit anywhere is caught. */
    const long positions[] = {0, 23, 24, 30, (long)sealed_len - 16, (long)sealed_len - 1};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        f->remote->tamper_body_at = positions[i];
        begun b = begin(f->idem, "tam", "p", 0);
        assert_int_equal(b.st, GDA_ERR_INTEGRITY);
        assert_int_not_equal(b.outcome, GDA_IDEM_REPLAY);
        assert_null(b.result.body);
        gda_idem_result res;
        memset(&res, 0, sizeof res);
        assert_int_equal(gda_idem_lookup(f->idem, "tam", TEST_PRINCIPAL, &res, NULL), GDA_ERR_INTEGRITY);
        assert_null(res.body);
    }
    f->remote->tamper_body_at = -1;

    /* A re-labelled status is caught too: it is in the associated data. */
    f->remote->tamper_status = true;
    begun b = begin(f->idem, "tam", "p", 0);
    assert_int_equal(b.st, GDA_ERR_INTEGRITY);
    f->remote->tamper_status = false;

    /* A sealed body moved under another key does not open there. */
    gda_record rec = stored(f, "tam");
    rec.key[0] = 'T';
    gda_store_call call = {.now_ms = f->clock.now};
    bool inserted = false;
    assert_int_equal(gda_store_put_if_absent(f->remote->inner, &rec, &call, &inserted, NULL, NULL),
                     GDA_OK);
    assert_true(inserted);
    gda_record_clear(&rec);
    b = begin(f->idem, "Tam", "p", 0);
    assert_int_equal(b.st, GDA_ERR_INTEGRITY);

    /* Untouched, the record still replays. */
    b = begin(f->idem, "tam", "p", 0);
    expect_replay(&b, 200, body);
}

static void test_wrong_key_and_missing_key(void **state)
{
    fx *f = *state;
    f->cfg.data_key = data_key;
    f->cfg.data_key_len = sizeof data_key;
    engine(f);
    seal_one(f, "secret", "{\"v\":1}");

    uint8_t other_key[GDA_IDEM_DATA_KEY_LEN];
    memcpy(other_key, data_key, sizeof other_key);
    other_key[31] ^= 0x80;
    f->cfg.data_key = other_key;
    engine(f);
    begun b = begin(f->idem, "secret", "p", 0);
    assert_int_equal(b.st, GDA_ERR_INTEGRITY);
    assert_null(b.result.body);

    f->cfg.data_key = NULL;
    f->cfg.data_key_len = 0;
    engine(f);
    b = begin(f->idem, "secret", "p", 0);
    assert_int_equal(b.st, GDA_ERR_CONFIG);
    assert_null(b.result.body);

    /* An unsealed record where a key is configured is not trusted either. */
    seal_one(f, "plain", "{\"v\":2}");
    f->cfg.data_key = data_key;
    f->cfg.data_key_len = sizeof data_key;
    engine(f);
    b = begin(f->idem, "plain", "p", 0);
    assert_int_equal(b.st, GDA_ERR_INTEGRITY);
}

/* ---- data-key ring ----------------------------------------------------------- */

static const uint8_t ring_hash_key[GDA_IDEM_HASH_KEY_LEN] = {42, 42, 42};
static const uint8_t key_d2[GDA_IDEM_DATA_KEY_LEN] = {2, 2, 2, 2};
static const uint8_t key_d3[GDA_IDEM_DATA_KEY_LEN] = {3, 3, 3, 3};

/* Configure f->cfg with the ring ids/keys (n entries) and the fixed hash key. */
static void use_ring(fx *f, gda_idem_data_key *ring, size_t n)
{
    f->cfg.data_key = NULL;
    f->cfg.data_key_len = 0;
    f->cfg.data_keys = ring;
    f->cfg.n_data_keys = n;
    f->cfg.hash_key = ring_hash_key;
    f->cfg.hash_key_len = sizeof ring_hash_key;
    engine(f);
}

static void test_ring_config_validation(void **state)
{
    fx *f = *state;
    gda_idem_data_key ring[GDA_IDEM_MAX_DATA_KEYS + 1];
    for (size_t i = 0; i < GDA_IDEM_MAX_DATA_KEYS + 1; i++)
        ring[i] = (gda_idem_data_key){.id = "d1", .key = data_key};
    gda_idem_config c = f->cfg;
    c.data_keys = ring;
    c.n_data_keys = 1;
    gda_error err;
    /* A ring without a fixed hash key: its hashes would not survive a rotation. */
    assert_null(gda_idem_new(&f->remote->base, &c, &err));
    assert_string_equal(err.field, "hash_key");
    c.hash_key = ring_hash_key;
    c.hash_key_len = sizeof ring_hash_key;
    gda_idem *ok = gda_idem_new(&f->remote->base, &c, &err);
    assert_non_null(ok);
    gda_idem_free(ok);
#define RING_REJECTS(mutation)                                            \
    do {                                                                  \
        gda_idem_config bad = c;                                          \
        gda_idem_data_key copy[2] = {ring[0], {.id = "d2", .key = key_d2}}; \
        bad.data_keys = copy;                                             \
        bad.n_data_keys = 2;                                              \
        mutation;                                                         \
        assert_null(gda_idem_new(&f->remote->base, &bad, &err));          \
        assert_int_equal(err.code, GDA_ERR_CONFIG);                       \
    } while (0)
    RING_REJECTS(copy[1].id = "d1");                              /* twice */
    RING_REJECTS(copy[1].id = "");                                /* empty id */
    RING_REJECTS(copy[1].id = "d 2");                             /* bad character */
    RING_REJECTS(copy[1].id = "0123456789abcdef0123456789abcdefX"); /* 33 bytes */
    RING_REJECTS(copy[1].key = NULL);
    RING_REJECTS((bad.data_key = data_key, bad.data_key_len = sizeof data_key));
    RING_REJECTS(bad.n_data_keys = 0);
    RING_REJECTS((bad.data_keys = ring, bad.n_data_keys = GDA_IDEM_MAX_DATA_KEYS + 1));
#undef RING_REJECTS
}

/* The rotation procedure: add the new key first, then remove the old one.
 * Every record written before a step still replays after it; one whose key
 * has gone is absent (the handler runs again), never garbage. */
static void test_ring_rotation(void **state)
{
    fx *f = *state;
    gda_idem_data_key before[] = {{.id = "d1", .key = data_key}};
    use_ring(f, before, 1);
    seal_one(f, "old", "{\"v\":\"old\"}");
    gda_record rec = stored(f, "old");
    assert_int_equal(rec.flags, GDA_RECORD_ENCRYPTED | GDA_RECORD_KEY_ID);
    assert_int_equal(rec.body[0], 2);
    assert_memory_equal(rec.body + 1, "d1", 2);
    gda_record_clear(&rec);

    /* Step 1: d2 added first. Old records replay; new ones are sealed by d2. */
    gda_idem_data_key during[] = {{.id = "d2", .key = key_d2}, {.id = "d1", .key = data_key}};
    use_ring(f, during, 2);
    begun b = begin(f->idem, "old", "p", 0);
    expect_replay(&b, 200, "{\"v\":\"old\"}");
    seal_one(f, "new", "{\"v\":\"new\"}");
    rec = stored(f, "new");
    assert_memory_equal(rec.body + 1, "d2", 2);
    gda_record_clear(&rec);

    /* Step 2: d1 removed. d2's records replay; d1's is absent. */
    gda_idem_data_key after[] = {{.id = "d2", .key = key_d2}};
    use_ring(f, after, 1);
    b = begin(f->idem, "new", "p", 0);
    expect_replay(&b, 200, "{\"v\":\"new\"}");
    gda_idem_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(gda_idem_lookup(f->idem, "old", TEST_PRINCIPAL, &res, NULL), GDA_ERR_NOT_FOUND);
    assert_null(res.body);
    b = begin(f->idem, "old", "p", 0);
    expect_new(&b);
    assert_true(b.lease.replaced_unreadable);
    assert_int_equal(gda_idem_complete(f->idem, &b.lease, 200, "{\"v\":\"again\"}", 13, NULL), GDA_OK);
    b = begin(f->idem, "old", "p", 0);
    expect_replay(&b, 200, "{\"v\":\"again\"}");
    assert_false(b.lease.replaced_unreadable);

    /* An unknown key never lets another payload or principal in. */
    gda_idem_data_key other[] = {{.id = "d3", .key = key_d3}};
    use_ring(f, other, 1);
    b = begin(f->idem, "old", "q", 0);
    assert_int_equal(b.st, GDA_ERR_PAYLOAD_MISMATCH);
    /* Nor does a ring reader trust a legacy seal it has no key for. */
    f->cfg.data_keys = NULL;
    f->cfg.n_data_keys = 0;
    f->cfg.data_key = data_key;
    f->cfg.data_key_len = sizeof data_key;
    engine(f);
    seal_one(f, "legacy", "{\"v\":\"legacy\"}");
    use_ring(f, before, 1);
    b = begin(f->idem, "legacy", "p", 0);
    expect_new(&b);
    assert_true(b.lease.replaced_unreadable);
}

/* The key id is bound into the associated data: a body re-labelled with
 * another ring entry's id does not open. */
static void test_ring_key_id_is_authenticated(void **state)
{
    fx *f = *state;
    gda_idem_data_key ring[] = {{.id = "d1", .key = data_key}, {.id = "d2", .key = key_d2}};
    use_ring(f, ring, 2);
    seal_one(f, "k", "{\"v\":1}");
    /* Re-label the body "d1" -> "d2" in the store (replacing exactly it). */
    gda_record rec = stored(f, "k");
    rec.body[2] = '2';
    gda_store_call call = {.now_ms = f->clock.now, .replace_owner = rec.owner};
    bool inserted = false;
    assert_int_equal(gda_store_put_if_absent(f->remote->inner, &rec, &call, &inserted, NULL, NULL),
                     GDA_OK);
    assert_true(inserted);
    gda_record_clear(&rec);
    begun b = begin(f->idem, "k", "p", 0);
    assert_int_equal(b.st, GDA_ERR_INTEGRITY);
    assert_null(b.result.body);
}

/* ---- local cache ---------------------------------------------------------- */

static void test_local_cache_skips_remote(void **state)
{
    fx *f = *state;
    /* Engine A writes the result; engine B (with a cache) reads it. */
    gda_idem *a = engine(f);
    f->idem = NULL;
    begun x = begin(a, "hot", "p", 0);
    expect_new(&x);
    assert_int_equal(gda_idem_complete(a, &x.lease, 200, "cached", 6, NULL), GDA_OK);

    f->cfg.local_cache_entries = 16;
    gda_idem *b = engine(f);
    int before = wrap_calls(f->remote);
    begun r = begin(b, "hot", "p", 0);
    expect_replay(&r, 200, "cached");
    assert_int_equal(wrap_calls(f->remote), before + 1);

    before = wrap_calls(f->remote);
    for (int i = 0; i < 5; i++) {
        r = begin(b, "hot", "p", 0);
        expect_replay(&r, 200, "cached");
    }
    r = begin(b, "hot", "other", 0);
    assert_int_equal(r.st, GDA_ERR_PAYLOAD_MISMATCH);
    gda_idem_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(gda_idem_lookup(b, "hot", TEST_PRINCIPAL, &res, NULL), GDA_OK);
    assert_int_equal(res.status_code, 200);
    gda_idem_result_clear(&res);
    assert_int_equal(wrap_calls(f->remote), before);

    /* B's own completions are cached as they are written. */
    r = begin(b, "own", "p", 0);
    expect_new(&r);
    assert_int_equal(gda_idem_complete(b, &r.lease, 201, "mine", 4, NULL), GDA_OK);
    before = wrap_calls(f->remote);
    r = begin(b, "own", "p", 0);
    expect_replay(&r, 201, "mine");
    assert_int_equal(wrap_calls(f->remote), before);

    /* In-progress records are never cached: each begin asks the store. */
    r = begin(b, "running", "p", 0);
    expect_new(&r);
    before = wrap_calls(f->remote);
    r = begin(b, "running", "p", 0);
    assert_int_equal(r.st, GDA_ERR_BUSY);
    assert_int_equal(wrap_calls(f->remote), before + 1);

    /* Cached results expire with the record: past the TTL, back to the store. */
    f->clock.now += (f->cfg.ttl_s + 1) * 1000;
    before = wrap_calls(f->remote);
    r = begin(b, "hot", "p", 0);
    expect_new(&r);
    assert_int_equal(wrap_calls(f->remote), before + 1);
    gda_idem_free(a);
}

static void test_store_failure_propagates(void **state)
{
    fx *f = *state;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "down", "p", 0);
    expect_new(&a);
    f->remote->fail = true;
    begun b = begin(idem, "down2", "p", 0);
    assert_int_equal(b.st, GDA_ERR_STORE);
    assert_true(gda_status_retryable(b.st));
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "x", 1, NULL), GDA_ERR_STORE);
    assert_int_equal(gda_idem_abort(idem, &a.lease, NULL, NULL), GDA_ERR_STORE);
    gda_idem_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(gda_idem_lookup(idem, "down", TEST_PRINCIPAL, &res, NULL), GDA_ERR_STORE);
    f->remote->fail = false;
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "x", 1, NULL), GDA_OK);
}

/* ---- payload hashing ----------------------------------------------------- */

static void test_payload_hash_canonical(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *a = json_loads("{ \"b\": 1, \"a\": [1, 2, {\"z\": null, \"y\": \"\\u00e9\"}] }", 0,
                           &jerr);
    json_t *b = json_loads("{\"a\":[1,2,{\"y\":\"\xc3\xa9\",\"z\":null}],\"b\":1}", 0, &jerr);
    json_t *c = json_loads("{\"a\":[2,1,{\"y\":\"\xc3\xa9\",\"z\":null}],\"b\":1}", 0, &jerr);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    /* The hash is keyed: HMAC-SHA256 under a sub-key derived from the hash
     * key, so a payload cannot be confirmed from a stored hash without it. */
    uint8_t hash_key[GDA_IDEM_HASH_KEY_LEN];
    memset(hash_key, 0x5a, sizeof hash_key);
    gda_idem_config cfg;
    cfg = gda_idem_config_default();
    cfg.hash_key = hash_key;
    cfg.hash_key_len = sizeof hash_key;
    gda_store *store = gda_memory_store_new(0, NULL);
    gda_idem *idem = gda_idem_new(store, &cfg, NULL);
    assert_non_null(idem);
    uint8_t ha[32], hb[32], hc[32], expect[32], sub[32];
    assert_int_equal(gda_idem_payload_hash(idem, a, ha, NULL), GDA_OK);
    assert_int_equal(gda_idem_payload_hash(idem, b, hb, NULL), GDA_OK);
    assert_int_equal(gda_idem_payload_hash(idem, c, hc, NULL), GDA_OK);
    assert_memory_equal(ha, hb, 32);
    assert_memory_not_equal(ha, hc, 32);
    static const char canonical[] = "{\"a\":[1,2,{\"y\":\"\xc3\xa9\",\"z\":null}],\"b\":1}";
    crypto_auth_hmacsha256(sub, (const unsigned char *)"gda-payload-hash-v1", 19, hash_key);
    crypto_auth_hmacsha256(expect, (const unsigned char *)canonical, sizeof canonical - 1, sub);
    assert_memory_equal(ha, expect, 32);
    gda_sha256(canonical, sizeof canonical - 1, expect);
    assert_memory_not_equal(ha, expect, 32); /* never the plain digest */
    gda_idem_payload_hash_bytes(idem, canonical, sizeof canonical - 1, hb);
    assert_memory_equal(ha, hb, 32);

    /* Another hash key, another hash; the same key, the same hash. */
    hash_key[0] ^= 1;
    gda_idem *other = gda_idem_new(store, &cfg, NULL);
    assert_non_null(other);
    gda_idem_payload_hash_bytes(other, canonical, sizeof canonical - 1, hc);
    assert_memory_not_equal(ha, hc, 32);

    gda_error err;
    assert_int_equal(gda_idem_payload_hash(NULL, a, ha, &err), GDA_ERR_INTERNAL);
    assert_int_equal(gda_idem_payload_hash(idem, NULL, ha, &err), GDA_ERR_INTERNAL);
    gda_idem_free(other);
    gda_idem_free(idem);
    gda_store_close(store);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* ---- sharing one engine between threads --------------------------------- */

enum { SHARE_THREADS = 8, SHARE_KEYS = 100 };

typedef struct share_ctx {
    gda_idem *idem;
    /* Hashed up front: the workers exercise the engine, not libcrypto's
     * per-thread state. */
    uint8_t hash[GDA_PAYLOAD_HASH_LEN];
    pthread_barrier_t start;
    int news[SHARE_THREADS];
    int replays[SHARE_THREADS];
    int busy[SHARE_THREADS];
    int other[SHARE_THREADS];
    int id_next;
    pthread_mutex_t mu;
} share_ctx;

static void *share_worker(void *p)
{
    share_ctx *ctx = p;
    pthread_mutex_lock(&ctx->mu);
    int id = ctx->id_next++;
    pthread_mutex_unlock(&ctx->mu);
    pthread_barrier_wait(&ctx->start);
    for (int k = 0; k < SHARE_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "shared-%d", k);
        begun b = begin_hashed(ctx->idem, key, ctx->hash, 0);
        if (b.st == GDA_OK && b.outcome == GDA_IDEM_NEW) {
            ctx->news[id]++;
            if (gda_idem_complete(ctx->idem, &b.lease, 200, key, strlen(key), NULL) != GDA_OK)
                ctx->other[id]++;
        } else if (b.st == GDA_OK && b.outcome == GDA_IDEM_REPLAY) {
            if (b.result.body_len == strlen(key) && memcmp(b.result.body, key, strlen(key)) == 0)
                ctx->replays[id]++;
            else
                ctx->other[id]++;
            gda_idem_result_clear(&b.result);
        } else if (b.st == GDA_ERR_BUSY) {
            ctx->busy[id]++;
        } else {
            ctx->other[id]++;
        }
    }
    return NULL;
}

static void test_engine_shared_by_threads(void **state)
{
    fx *f = *state;
    f->cfg.local_cache_entries = 64;
    share_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.idem = engine(f);
    hash_of("p", ctx.hash);
    pthread_mutex_init(&ctx.mu, NULL);
    pthread_barrier_init(&ctx.start, NULL, SHARE_THREADS);
    pthread_t t[SHARE_THREADS];
    for (int i = 0; i < SHARE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, share_worker, &ctx), 0);
    for (int i = 0; i < SHARE_THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&ctx.start);
    pthread_mutex_destroy(&ctx.mu);
    int news = 0, total = 0;
    for (int i = 0; i < SHARE_THREADS; i++) {
        assert_int_equal(ctx.other[i], 0);
        news += ctx.news[i];
        total += ctx.news[i] + ctx.replays[i] + ctx.busy[i];
    }
    assert_int_equal(news, SHARE_KEYS);
    assert_int_equal(total, SHARE_THREADS * SHARE_KEYS);
    for (int k = 0; k < SHARE_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "shared-%d", k);
        begun b = begin(ctx.idem, key, "p", 0);
        expect_replay(&b, 200, key);
    }
}


/* ---- refused writes that were our own, finishing, size, skew, principals -- */

/* issue 14.1: a begin whose PutItem was applied and then re-sent by the HTTP
 * client is refused by our own record; the engine must see its own owner
 * token and run the handler, not report a running twin. */
static void test_resent_writes_are_ours(void **state)
{
    fx *f = *state;
    f->remote->resend_writes = true;
    gda_idem *idem = engine(f);
    begun b = begin(idem, "resent", "p", 0);
    expect_new(&b);
    gda_error err;
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "done", 4, &err), GDA_OK);
    begun r = begin(idem, "resent", "p", 0);
    expect_replay(&r, 200, "done");

    /* The same for a sealed body (the resend carries the same ciphertext). */
    f->cfg.data_key = data_key;
    f->cfg.data_key_len = sizeof data_key;
    idem = engine(f);
    b = begin(idem, "resent-sealed", "p", 0);
    expect_new(&b);
    assert_int_equal(gda_idem_accept(idem, &b.lease, "202", 3, &err), GDA_OK);
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "final", 5, &err), GDA_OK);
    r = begin(idem, "resent-sealed", "p", 0);
    expect_replay(&r, 200, "final");
}

/* issue 14.2: a store failure is reported as one (retryable), a lost lease
 * as GDA_ERR_LEASE_LOST, a repeat of an applied finish succeeds, and a
 * finish after the TTL never revives the record. */
static void test_finish_outcomes(void **state)
{
    fx *f = *state;
    f->cfg.ttl_s = 10;
    gda_idem *idem = engine(f);
    gda_error err;

    /* The write applied and its answer was lost: one read tells it was ours. */
    begun a = begin(idem, "lost-answer", "p", 0);
    expect_new(&a);
    f->remote->fail_after_write = true;
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "ok", 2, &err), GDA_OK);
    f->remote->fail_after_write = false;

    /* The store is down: a store failure, never "lease lost". */
    begun b = begin(idem, "down", "p", 0);
    expect_new(&b);
    f->remote->fail = true;
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "ok", 2, &err), GDA_ERR_STORE);
    f->remote->fail = false;
    /* Repeated once the store is back: applied; repeated again: still OK. */
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "ok", 2, &err), GDA_OK);
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "ok", 2, &err), GDA_OK);
    /* Another result under the same lease: lost, nothing written. */
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "KO", 2, &err), GDA_ERR_LEASE_LOST);
    begun r = begin(idem, "down", "p", 0);
    expect_replay(&r, 200, "ok");

    /* A job accepted, finished after its record expired: lost, and the
     * record stays dead (the key is free for a new execution). */
    begun c = begin(idem, "late", "p", 0);
    expect_new(&c);
    assert_int_equal(gda_idem_accept(idem, &c.lease, "202", 3, &err), GDA_OK);
    f->clock.now += 11 * 1000 + 1000;
    assert_int_equal(gda_idem_complete(idem, &c.lease, 200, "late", 4, &err), GDA_ERR_LEASE_LOST);
    gda_idem_result res = {0};
    assert_int_equal(gda_idem_lookup(idem, "late", TEST_PRINCIPAL, &res, &err), GDA_ERR_NOT_FOUND);
    begun d = begin(idem, "late", "p", 0);
    expect_new(&d);
}

/* issue 14.4: a result over the store's limit is refused before any write. */
static void test_result_over_store_limit(void **state)
{
    fx *f = *state;
    f->remote->base.max_body = 8;
    gda_idem *idem = engine(f);
    gda_error err;
    begun b = begin(idem, "big", "p", 0);
    expect_new(&b);
    int completes = f->remote->completes;
    assert_int_equal(gda_idem_complete(idem, &b.lease, 200, "123456789", 9, &err),
                     GDA_ERR_RESULT_TOO_LARGE);
    assert_int_equal(f->remote->completes, completes); /* nothing sent */
    /* The lease is intact: a small final result still fits. */
    assert_int_equal(gda_idem_complete(idem, &b.lease, 422, "too big", 7, &err), GDA_OK);
    begun r = begin(idem, "big", "p", 0);
    expect_replay(&r, 422, "too big");
}

/* issue 14.5: a host whose clock runs ahead by less than the allowance does
 * not take over a live lease, nor replace a record about to expire. */
static void test_clock_skew_allowance(void **state)
{
    fx *f = *state;
    f->cfg.clock_skew_ms = 2000;
    f->cfg.max_lease_ms = 1000;
    gda_idem *idem = engine(f);
    begun a = begin(idem, "skew", "p", 0);
    expect_new(&a);
    /* 1.5 s after the lease ended on this clock: still within the skew. */
    f->clock.now = a.lease.lease_until_ms + 1500;
    begun b = begin(idem, "skew", "p", 0);
    assert_int_equal(b.st, GDA_ERR_BUSY);
    gda_idem_result_clear(&b.result);
    /* Past lease + allowance: taken over. */
    f->clock.now = a.lease.lease_until_ms + 2001;
    b = begin(idem, "skew", "p", 0);
    expect_new(&b);
    gda_idem_config def;
    def = gda_idem_config_default();
    assert_int_equal(def.clock_skew_ms, GDA_STORE_DEFAULT_SKEW_MS);
}

/* issue 13.2: a record belongs to the principal that created it. */
static void test_foreign_principal(void **state)
{
    fx *f = *state;
    gda_idem *idem = engine(f);
    uint8_t alice[GDA_PRINCIPAL_DIGEST_LEN], bob[GDA_PRINCIPAL_DIGEST_LEN], h[32];
    gda_idem_principal_digest(idem, "genesys", "alice", alice);
    gda_idem_principal_digest(idem, "genesys", "bob", bob);
    assert_memory_not_equal(alice, bob, sizeof alice);
    /* Length-prefixed: ("ab","c") is not ("a","bc"). */
    uint8_t x[32], y[32];
    gda_idem_principal_digest(idem, "ab", "c", x);
    gda_idem_principal_digest(idem, "a", "bc", y);
    assert_memory_not_equal(x, y, sizeof x);
    hash_of("p", h);
    gda_error err;

    begun a;
    memset(&a, 0, sizeof a);
    a.st = gda_idem_begin(idem, "mine", h, alice, 0, &a.outcome, &a.lease, &a.result, &a.err);
    expect_new(&a);
    /* Running: bob is refused at once, whatever the payload. */
    begun b;
    memset(&b, 0, sizeof b);
    b.st = gda_idem_begin(idem, "mine", h, bob, 0, &b.outcome, &b.lease, &b.result, &b.err);
    assert_int_equal(b.st, GDA_ERR_KEY_CONFLICT);
    assert_int_equal(b.outcome, GDA_IDEM_FOREIGN);
    assert_null(b.result.body);
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "secret", 6, &err), GDA_OK);
    /* Completed: bob never gets the result, by POST or by poll. */
    memset(&b, 0, sizeof b);
    b.st = gda_idem_begin(idem, "mine", h, bob, 0, &b.outcome, &b.lease, &b.result, &b.err);
    assert_int_equal(b.st, GDA_ERR_KEY_CONFLICT);
    assert_null(b.result.body);
    uint8_t other_hash[32];
    hash_of("other", other_hash);
    memset(&b, 0, sizeof b);
    b.st = gda_idem_begin(idem, "mine", other_hash, bob, 0, &b.outcome, &b.lease, &b.result,
                          &b.err);
    assert_int_equal(b.st, GDA_ERR_KEY_CONFLICT); /* not MISMATCH: nothing is revealed */
    gda_idem_result res = {0};
    assert_int_equal(gda_idem_lookup(idem, "mine", bob, &res, &err), GDA_ERR_NOT_FOUND);
    assert_null(res.body);
    assert_int_equal(gda_idem_lookup(idem, "mine", alice, &res, &err), GDA_OK);
    assert_int_equal(res.body_len, 6);
    gda_idem_result_clear(&res);

    /* Sealed records bind the principal: relabelled, they do not open. */
    f->cfg.data_key = data_key;
    f->cfg.data_key_len = sizeof data_key;
    idem = engine(f);
    gda_idem_principal_digest(idem, "genesys", "alice", alice);
    gda_idem_principal_digest(idem, "genesys", "bob", bob);
    memset(&a, 0, sizeof a);
    a.st = gda_idem_begin(idem, "sealed", h, alice, 0, &a.outcome, &a.lease, &a.result, &a.err);
    expect_new(&a);
    assert_int_equal(gda_idem_complete(idem, &a.lease, 200, "secret", 6, &err), GDA_OK);
    /* Someone with write access to the store relabels it as bob's. */
    f->remote->relabel = bob;
    assert_int_equal(gda_idem_lookup(idem, "sealed", bob, &res, &err), GDA_ERR_INTEGRITY);
    assert_null(res.body);
    f->remote->relabel = NULL;
    assert_int_equal(gda_idem_lookup(idem, "sealed", alice, &res, &err), GDA_OK);
    gda_idem_result_clear(&res);
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_config_defaults_and_validation),
        FX_TEST(test_bad_arguments_and_keys),
        FX_TEST(test_new_complete_replay),
        FX_TEST(test_owner_tokens_are_fresh),
        FX_TEST(test_lease_bounded_by_deadline),
        FX_TEST(test_mismatch_never_executes),
        FX_TEST(test_ttl_expiry_reexecutes),
        FX_TEST(test_4xx_cached_5xx_released),
        FX_TEST(test_stale_owner_cannot_complete),
        FX_TEST(test_wait_ends_in_replay),
        FX_TEST(test_wait_takes_over_lapsed_lease),
        FX_TEST(test_wait_then_busy_policies),
        FX_TEST(test_deadline_bounds_wait),
        FX_TEST(test_accepted_poll_completed),
        FX_TEST(test_encryption_round_trip),
        FX_TEST(test_tamper_detected),
        FX_TEST(test_wrong_key_and_missing_key),
        FX_TEST(test_ring_config_validation),
        FX_TEST(test_ring_rotation),
        FX_TEST(test_ring_key_id_is_authenticated),
        FX_TEST(test_local_cache_skips_remote),
        FX_TEST(test_store_failure_propagates),
        FX_TEST(test_payload_hash_canonical),
        FX_TEST(test_engine_shared_by_threads),
        FX_TEST(test_resent_writes_are_ours),
        FX_TEST(test_finish_outcomes),
        FX_TEST(test_result_over_store_limit),
        FX_TEST(test_clock_skew_allowance),
        FX_TEST(test_foreign_principal),
    };
    return cmocka_run_group_tests_name("idempotency", tests, NULL, NULL);
}
