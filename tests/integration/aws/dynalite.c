/* Test harness: dynalite on a free loopback port (see dynalite.h). */
#include "dynalite.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INSTALL_HINT                                                                          \
    "install it with scripts/test.sh, or: npm install --prefix .deps/dynalite dynalite@4.0.0 " \
    "(needs Node.js >= 20 and npm)"

static int free_loopback_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool spawn(dynalite_server *s)
{
    const char *script = getenv("GDA_DYNALITE");
#ifdef GDA_DYNALITE_DEFAULT
    if (!script || !*script)
        script = GDA_DYNALITE_DEFAULT;
#endif
    const char *node = getenv("GDA_NODE");
    if (!node || !*node)
        node = "node";
    if (!script || !*script) {
        snprintf(s->error, sizeof s->error, "GDA_DYNALITE is not set (run the test through meson "
                                            "test); dynalite: " INSTALL_HINT);
        return false;
    }
    if (access(script, R_OK) != 0) {
        snprintf(s->error, sizeof s->error, "dynalite is not installed (%s missing): " INSTALL_HINT,
                 script);
        return false;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[16];
    int argc = 0;
    argv[argc++] = node;
    argv[argc++] = script;
    argv[argc++] = "--host";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--port";
    argv[argc++] = port;
    /* Tables are usable at once: no artificial CREATING/DELETING phase. */
    argv[argc++] = "--createTableMs";
    argv[argc++] = "0";
    argv[argc++] = "--deleteTableMs";
    argv[argc++] = "0";
    argv[argc++] = "--updateTableMs";
    argv[argc++] = "0";
    if (s->db_path[0]) {
        argv[argc++] = "--path";
        argv[argc++] = s->db_path;
    }
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0) {
        snprintf(s->error, sizeof s->error, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        /* Never outlive the test, even if it crashes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execvp(node, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int waited = 0; waited < 20000; waited += 25) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                snprintf(s->error, sizeof s->error,
                         "Node.js ('%s') was not found: install Node.js >= 20 to run the "
                         "DynamoDB tests; dynalite: " INSTALL_HINT,
                         node);
            else
                snprintf(s->error, sizeof s->error,
                         "dynalite exited at start-up (status %d): check Node.js >= 20; " INSTALL_HINT,
                         status);
            return false;
        }
        if (port_accepts(s->port))
            return true;
        sleep_ms(25);
    }
    snprintf(s->error, sizeof s->error, "dynalite did not listen on port %d within 20 s", s->port);
    dynalite_kill(s);
    return false;
}

bool dynalite_start(dynalite_server *s, bool persistent)
{
    memset(s, 0, sizeof *s);
    s->port = free_loopback_port();
    if (s->port <= 0) {
        snprintf(s->error, sizeof s->error, "no free loopback port");
        return false;
    }
    snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->port);
    if (persistent) {
        const char *base = getenv("TMPDIR");
        snprintf(s->db_path, sizeof s->db_path, "%s/gda-dynalite-XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(s->db_path)) {
            snprintf(s->error, sizeof s->error, "mkdtemp: %s", strerror(errno));
            s->db_path[0] = '\0';
            return false;
        }
    }
    return spawn(s);
}

void dynalite_kill(dynalite_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

bool dynalite_restart(dynalite_server *s)
{
    dynalite_kill(s);
    return spawn(s);
}

static void remove_tree(const char *path)
{
    /* The LevelDB folder is flat: its files, then itself. */
    char cmd[600];
    if (!path[0] || strncmp(path, "/", 1) != 0 || strstr(path, "gda-dynalite-") == NULL)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "dynalite: could not remove %s\n", path);
}

void dynalite_stop(dynalite_server *s)
{
    dynalite_kill(s);
    remove_tree(s->db_path);
    s->db_path[0] = '\0';
}

void dynalite_set_test_credentials(void)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDGDATESTKEY000001", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "gdaTestSecretKey/NotReal+0000000000000000", 1);
    setenv("AWS_SESSION_TOKEN", "gda-test-session-token", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    unsetenv("GDA_DYNAMODB_ENDPOINT");
}
