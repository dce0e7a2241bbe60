/* Test harness: a fault-injecting HTTP/1.1 front on a free loopback port,
 * between a DynamoDB client and a real DynamoDB-compatible server (dynalite).
 *
 * Every client connection gets its own upstream keep-alive connection, and
 * requests are forwarded as they are. One fault can be armed at a time: the
 * next request whose X-Amz-Target ends in `operation` (e.g. "PutItem") and
 * that arrives on a fresh connection (its first request) or on a reused one
 * (any later request), as asked, is forwarded and applied upstream; then the
 * front closes the client's connection without sending the answer. That is
 * a lost answer of an applied write: on a reused connection libcurl re-sends
 * the request by itself, on a fresh one the client's own retry does.
 *
 * Thread safety: the functions may be called from any thread while the
 * front runs; it serves each connection on its own thread.
 */
#ifndef GDA_TEST_FAULT_FRONT_H
#define GDA_TEST_FAULT_FRONT_H

#include <stdbool.h>

typedef struct fault_front fault_front;

/* Start forwarding to upstream_port on 127.0.0.1. NULL on failure. */
fault_front *fault_front_start(int upstream_port);

/* "http://127.0.0.1:<port>" */
const char *fault_front_endpoint(const fault_front *f);

/* Arm the fault described above (replacing any armed one). */
void fault_front_drop_answer(fault_front *f, const char *operation, bool on_reused_connection);

/* on: close every connection after its first answer, so that every request
 * arrives on a fresh connection (for faults on "fresh" connections of
 * operations that never come first, such as UpdateItem). */
void fault_front_close_after_each(fault_front *f, bool on);

/* Answers dropped so far, and requests forwarded for operation (all
 * connections; the re-sent copies included). */
unsigned fault_front_dropped(fault_front *f);
unsigned fault_front_count(fault_front *f, const char *operation);

/* Stop serving and free everything. NULL-safe. */
void fault_front_stop(fault_front *f);

#endif
