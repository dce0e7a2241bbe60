/* Test harness: a real DynamoDB-compatible server (dynalite, from npm) on a
 * free loopback port, started and stopped by the test itself.
 *
 * dynalite is installed by scripts/test.sh into .deps/dynalite; the build
 * passes its path in GDA_DYNALITE. When Node.js or dynalite is missing,
 * dynalite_start fails with a message saying what to install: the DynamoDB
 * tests fail, they never skip.
 *
 * Thread safety: one server per struct, driven by one thread.
 */
#ifndef GDA_TEST_DYNALITE_H
#define GDA_TEST_DYNALITE_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct dynalite_server {
    pid_t pid;
    int port;
    char endpoint[64];  /* http://127.0.0.1:<port> */
    char db_path[256];  /* LevelDB folder ("" = in memory) */
    char error[512];    /* why the last start failed */
} dynalite_server;

/* Start dynalite on a free loopback port and wait until it accepts
 * connections (up to 20 s). persistent: keep the data in a fresh temporary
 * LevelDB folder so a restart finds it again. Returns false with s->error
 * filled on failure. */
bool dynalite_start(dynalite_server *s, bool persistent);

/* Kill the server (SIGKILL: a crash, not a clean shutdown) and reap it. The
 * port and data folder are kept for dynalite_restart. */
void dynalite_kill(dynalite_server *s);

/* Start again on the same port with the same data. */
bool dynalite_restart(dynalite_server *s);

/* Stop the server and remove its data folder. Safe to call twice. */
void dynalite_stop(dynalite_server *s);

/* Set dummy AWS credentials, session token and region in the environment:
 * dynalite checks the SigV4 header's shape, not the signature. */
void dynalite_set_test_credentials(void);

#endif
