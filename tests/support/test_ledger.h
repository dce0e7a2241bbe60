/* libgda tests — the execution ledger the test handlers of gda-httpd-test
 * (shims/http/handler_test.c) and bootstrap-test (tests/lambda/handler_test.c)
 * write (their sleep is test_time.h's).
 *
 * The ledger is the file GDA_TEST_LEDGER names: every execution appends
 * "<requestId>\n" with one O_APPEND write, so lines from concurrent
 * executions stay whole and a test can prove no request ran twice.
 *
 * Thread safety: test_ledger_append may run on any thread.
 */
#ifndef GDA_TEST_LEDGER_H
#define GDA_TEST_LEDGER_H

#include <gda/status.h>

/* Opens the GDA_TEST_LEDGER file for appending (created 0600): *fd is its
 * descriptor, or -1 when the variable is unset or empty. GDA_ERR_CONFIG
 * (field GDA_TEST_LEDGER) when it cannot be opened. */
gda_status test_ledger_open(int *fd, gda_error *err);

/* Appends "<request_id>\n" to the ledger; nothing when fd < 0 or request_id
 * is NULL. A failed write is not reported: it shows as a missing line. */
void test_ledger_append(int fd, const char *request_id);

#endif
