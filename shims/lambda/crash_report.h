/* libgda-lambda (private) — report a fatal signal to the Runtime API.
 *
 * A handler that dereferences a bad pointer kills the process; Lambda would
 * then only say "Runtime exited". To make the failing invocation visible, a
 * signal handler posts invocation/{id}/error ("Runtime.Crash") over a fresh
 * loopback socket using only async-signal-safe calls (socket, connect, send,
 * recv, close, write), then re-raises the signal so the process still dies of
 * it and Lambda replaces the container. The request bytes are prepared before
 * each invocation (arm), so the handler formats nothing.
 *
 * Thread safety: process-wide state; install/arm/disarm/uninstall are called
 * from the runtime loop's thread only.
 */
#ifndef GDA_LAMBDA_CRASH_REPORT_H
#define GDA_LAMBDA_CRASH_REPORT_H

#include <gda/status.h>

/* Resolve host:port (numeric or resolvable now, never in the handler), set up
 * an alternate signal stack (so a stack overflow can be reported too) and
 * install handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT.
 * Errors: GDA_ERR_CONFIG (address), GDA_ERR_NOMEM, GDA_ERR_INTERNAL. */
gda_status gda_crash_report_install(const char *host, const char *port, gda_error *err);

/* Prepare the report for invocation request_id (validated by the caller:
 * URL-safe, at most 128 bytes). Until disarm, a fatal signal reports it. */
void gda_crash_report_arm(const char *request_id);

/* No invocation in flight: a fatal signal is not reported. */
void gda_crash_report_disarm(void);

/* Restore the previous handlers and free the alternate stack. */
void gda_crash_report_uninstall(void);

#endif
