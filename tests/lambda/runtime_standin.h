/* Test harness: a local stand-in for the AWS Lambda Runtime API.
 *
 * Serves GET /2018-06-01/runtime/invocation/next from a queue of events
 * (long-polling while the queue is empty, like Lambda), records what the
 * runtime POSTs to invocation/{id}/response, invocation/{id}/error and
 * init/error, and injects faults: connection resets on next, a slow next,
 * 413 on a response. Request ids are "inv-<n>" with n the 0-based
 * invocation number, so results are found by number.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef GDA_TEST_RUNTIME_STANDIN_H
#define GDA_TEST_RUNTIME_STANDIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rapi_faults {
    unsigned reset_next_from;  /* 1-based next request number whose connection is reset (0: none) */
    unsigned reset_next_count; /* how many consecutive next requests are reset from there */
    int slow_next_ms;          /* every next waits this long before answering */
    unsigned reject_response;  /* 1-based response POST number answered 413 (0: none) */
} rapi_faults;

typedef enum rapi_kind { RAPI_PENDING = 0, RAPI_RESPONSE = 1, RAPI_ERROR = 2 } rapi_kind;

typedef struct rapi_result {
    rapi_kind kind;
    char error_type[128]; /* Lambda-Runtime-Function-Error-Type header */
    char *body;           /* heap copy (free with rapi_result_clear) */
    size_t body_len;
    unsigned posts;       /* POSTs seen for this id */
    bool response_rejected; /* a response POST got 413 */
} rapi_result;

typedef struct rapi rapi;

/* Start on a free loopback port. faults may be NULL. */
rapi *rapi_start(const rapi_faults *faults);

/* "127.0.0.1:<port>", for AWS_LAMBDA_RUNTIME_API. */
const char *rapi_address(const rapi *r);

/* Queue one invocation; returns its number. deadline_in_ms: the deadline
 * header is now + this (0: 30000). trace_id NULL: a generated one. */
uint64_t rapi_push(rapi *r, const char *event, size_t len, int64_t deadline_in_ms,
                   const char *trace_id);

/* Queue `count` invocations of the same event, where "{{n}}" (first
 * occurrence) becomes the invocation number; results are counted but not
 * recorded (for long runs). Returns the number of the first. */
uint64_t rapi_push_repeat(rapi *r, const char *event, size_t len, uint64_t count);

/* Wait until at least n invocations got a final answer (response or error),
 * up to timeout_ms. */
bool rapi_wait_finished(rapi *r, uint64_t n, int timeout_ms);

/* Wait until the runtime has asked for next at least n times. */
bool rapi_wait_nexts(rapi *r, uint64_t n, int timeout_ms);

/* Copy of the result of invocation number i (recorded ones only); false if
 * unknown. Release with rapi_result_clear. */
bool rapi_get(rapi *r, uint64_t i, rapi_result *out);
void rapi_result_clear(rapi_result *res);

/* The k-th (0-based) init error's body and type; false if none. */
bool rapi_init_error(rapi *r, unsigned k, char *body, size_t body_size, char *type,
                     size_t type_size);

typedef struct rapi_stats {
    uint64_t nexts;       /* next requests received (including reset ones) */
    uint64_t responses;   /* accepted response POSTs */
    uint64_t errors;      /* accepted invocation error POSTs */
    uint64_t init_errors;
    uint64_t finished;    /* invocations with a final answer */
    uint64_t rejected;    /* response POSTs answered 413 */
    uint64_t duplicates;  /* POSTs for an id already answered (400) */
    int64_t first_next_ns;     /* CLOCK_MONOTONIC of the first next, 0 if none */
    int64_t first_finished_ns; /* CLOCK_MONOTONIC of the first final answer */
    int64_t last_finished_ns;
} rapi_stats;

void rapi_stats_get(rapi *r, rapi_stats *out);

/* The trace id sent with invocation i (copied into out). */
bool rapi_trace_id(rapi *r, uint64_t i, char *out, size_t size);

/* Wake long-polls (they get a reset) and stop. NULL-safe. */
void rapi_stop(rapi *r);

/* CLOCK_MONOTONIC in ns. */
int64_t rapi_now_ns(void);

#endif
