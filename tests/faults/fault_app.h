/* Fault-injection tests: one gda_app configured the way the shims configure
 * it (gda_env_app_new, token scheme) over a store URI, with an injectable
 * clock and a handler whose every execution is appended to a ledger file
 * (so executions in a child process that later crashed are counted too).
 *
 * The request body may carry "mode":
 *   absent     answer {"serial": n} (n = this process' execution number)
 *   "crash"    raise SIGSEGV inside the handler when armed (fault_arm_crash),
 *              else answer: a retry is the identical request, and it must
 *              survive in the process that retries
 *   "overrun"  move the injected clock forward by "advanceMs", then call the
 *              hook set with fault_set_overrun_hook (a retry arriving while
 *              this stale executor still runs), then answer
 *   "rewind"   move the injected clock backwards by "advanceMs", then answer
 *   "accept"   two-phase: call the accept hook's before (optional), then
 *              gda_ctx_accept, then its after; when the accept succeeded,
 *              "start the job" (ledger line "job:" + request id, token kept
 *              for fault_last_token) and return GDA_ACCEPTED, else return
 *              503 without starting anything
 *
 * Thread safety: one test thread; the clock is atomic.
 */
#ifndef GDA_TEST_FAULT_APP_H
#define GDA_TEST_FAULT_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/app.h>

#define FAULT_SECRET_B64 "ZmF1bHQtaW5qZWN0aW9uLXNlY3JldC0zMi1ieXRlcyE="
#define FAULT_IID "3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70"

/* The injected clock (epoch ms); starts at the real time when fault_app_new
 * is called with fake_clock. */
int64_t fault_now(void);
void fault_clock_set(int64_t ms);
void fault_clock_advance(int64_t ms);

/* Build the app on store_uri ("sqlite:PATH", "dynamodb:TABLE"). extra_env:
 * NULL-terminated "NAME", "value" pairs added to the configuration (e.g.
 * GDA_LEASE_MS). fake_clock: use the injected clock, else the system one. */
gda_app *fault_app_new(const char *store_uri, const char *ledger_path,
                       const char *const *extra_env, bool fake_clock);

/* Whether "crash" executions crash this process. */
void fault_arm_crash(bool armed);

/* Called from an "overrun" execution, with the app. */
void fault_set_overrun_hook(void (*hook)(gda_app *app, void *user), void *user);

/* Around gda_ctx_accept in "accept" executions; either may be NULL. */
void fault_set_accept_hooks(void (*before)(void *user), void (*after)(void *user), void *user);

/* The completion token of the last successful "accept" execution ("" before). */
const char *fault_last_token(void);

/* POST body (text) with the right credential; deadline_in_ms from the
 * app's clock (0: the app's default budget). Returns the HTTP status; *body
 * (optional) gets a heap copy of the response body. */
int fault_post(gda_app *app, const char *body, int64_t deadline_in_ms, char **body_out);

/* A Data Action body for request_id, with extra members (or NULL). Heap. */
char *fault_body(const char *request_id, const char *extra);

/* Lines of the ledger equal to request_id. */
int fault_ledger_count(const char *ledger_path, const char *request_id);

/* Log lines with "leaseLost":true and metric lines with "LeaseLost":1 the
 * apps of this process wrote since it started. */
int fault_lease_lost_logs(void);
int fault_lease_lost_metrics(void);

/* The error code and requiresRetry of an error body; false if not one. */
bool fault_error_is(const char *body, const char *code, bool requires_retry);

#endif
