/* Test harness for the Lambda shim: start a bootstrap binary as a child
 * process against a Runtime API stand-in, and build events from the samples
 * in tests/data/events.
 *
 * Thread safety: call from the test's main thread.
 */
#ifndef GDA_TEST_LAMBDA_HARNESS_H
#define GDA_TEST_LAMBDA_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* Start program with a clean environment: PATH, AWS_LAMBDA_RUNTIME_API=api,
 * GDA_LOG_LEVEL=WARN, and the baseline of a function that only Genesys'
 * Lambda integration invokes (GDA_DIRECT_TRUSTED=true, GDA_STORE=memory),
 * then each "NAME=value" of env (NULL-terminated; a later entry wins; a bare
 * "NAME" removes the variable, to test the program's own defaults). stdout/stderr go to log_path when not NULL (else
 * /dev/null). chroot_dir: run chrooted there (program is then a path inside
 * it). When the test runs with GDA_TEST_WRAPPER (../test_wrapper.h), the
 * program runs under that command (not when chrooted). Returns the pid or
 * -1. */
pid_t harness_spawn(const char *program, const char *api, const char *const *env,
                    const char *log_path, const char *chroot_dir);

/* Wait for pid up to timeout_ms (times GDA_TEST_TIME_SCALE); *status gets
 * the waitpid status. false on timeout (the child is then killed). When the
 * child exited with the wrapper's error status, says so on stderr with the
 * wrapper's report from its log. */
bool harness_wait(pid_t pid, int timeout_ms, int *status);

/* SIGTERM pid and wait for it (5 s): true when it exited with status 0, as
 * the runtime does on a requested stop. */
bool harness_stop(pid_t pid);

/* Resident set size (VmRSS) and peak (VmHWM) of pid in KiB; -1 if unknown. */
long harness_rss_kib(pid_t pid);
long harness_hwm_kib(pid_t pid);

/* Read tests/data/events/<name> (GDA_TEST_DATA) as text (malloc) or NULL. */
char *harness_read_event(const char *name, size_t *len);

/* Load tests/data/events/<name> as JSON (new reference) or NULL. */
json_t *harness_load_event(const char *name);

/* Set header name=value in an HTTP-shaped event: in "headers" and, when the
 * event has it, "multiValueHeaders" (as a one-element array). */
void harness_set_header(json_t *event, const char *name, const char *value);

/* Set the event's body to text (base64-encoded when isBase64Encoded). */
void harness_set_body(json_t *event, const char *text);

/* Set the request path in every place the shape carries one. */
void harness_set_path(json_t *event, const char *path);

/* json_dumps compact (malloc). */
char *harness_dump(const json_t *v);

/* A fresh 32-byte secret: *ring = "id:BASE64", *token = "BASE64" (static
 * storage per call site is the caller's: both are malloc'd). */
void harness_make_key(const char *id, char **ring, char **token);

/* The data action request body the tests send (malloc). extra: more members
 * as a JSON object text without braces, or NULL. */
char *harness_request_body(const char *request_id, const char *extra);

#endif
