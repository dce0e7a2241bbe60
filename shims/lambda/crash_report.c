/* libgda-lambda (private) — fatal-signal reporter (see crash_report.h). */
#include "crash_report.h"

#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define N_FATAL (sizeof fatal_signals / sizeof fatal_signals[0])

static const char crash_body[] =
    "{\"errorMessage\":\"the runtime crashed while serving this invocation\","
    "\"errorType\":\"Runtime.Crash\",\"stackTrace\":[]}";

/* Everything the handler touches is prepared beforehand. */
static struct {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char host[300];
    char request[1024];
    size_t request_len;
    volatile sig_atomic_t armed;
    bool installed;
    void *alt_stack;
    stack_t old_stack;
    struct sigaction old_actions[N_FATAL];
} crash;

static void write_stderr(const char *s)
{
    size_t len = strlen(s); /* strlen is async-signal-safe since POSIX.1-2016 */
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void send_report(void)
{
    int fd = socket(crash.addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return;
    struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)&crash.addr, crash.addr_len) == 0) {
        const char *p = crash.request;
        size_t left = crash.request_len;
        while (left > 0) {
            ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
        /* Wait for the answer (or the timeout) so the report is not cut off
         * by the process dying with unread data in flight. */
        char sink[256];
        (void)recv(fd, sink, sizeof sink, 0);
    }
    close(fd);
}

static void on_fatal_signal(int sig)
{
    int saved = errno;
    if (crash.armed) {
        crash.armed = 0; /* a second fault inside the report must not loop */
        write_stderr("{\"level\":\"ERROR\",\"message\":\"fatal signal during an invocation; "
                     "reported as Runtime.Crash\"}\n");
        send_report();
    }
    errno = saved;
    /* SA_RESETHAND restored the default action: die of the same signal. */
    raise(sig);
}

gda_status gda_crash_report_install(const char *host, const char *port, gda_error *err)
{
    if (crash.installed)
        return GDA_OK;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API",
                             "cannot resolve the Runtime API address");
    if (res->ai_addrlen > sizeof crash.addr) {
        freeaddrinfo(res);
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API",
                             "unsupported Runtime API address");
    }
    memcpy(&crash.addr, res->ai_addr, res->ai_addrlen);
    crash.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    int hn = snprintf(crash.host, sizeof crash.host, "%s:%s", host, port);
    if (hn < 0 || (size_t)hn >= sizeof crash.host)
        return gda_error_set(err, GDA_ERR_CONFIG, "AWS_LAMBDA_RUNTIME_API",
                             "Runtime API address too long");

    size_t stack_size = SIGSTKSZ > 65536 ? (size_t)SIGSTKSZ : 65536;
    crash.alt_stack = malloc(stack_size);
    if (!crash.alt_stack)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    stack_t ss = {.ss_sp = crash.alt_stack, .ss_size = stack_size, .ss_flags = 0};
    if (sigaltstack(&ss, &crash.old_stack) != 0) {
        free(crash.alt_stack);
        crash.alt_stack = NULL;
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "sigaltstack failed");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FATAL; i++)
        sigaction(fatal_signals[i], &sa, &crash.old_actions[i]);
    crash.armed = 0;
    crash.installed = true;
    return GDA_OK;
}

void gda_crash_report_arm(const char *request_id)
{
    if (!crash.installed)
        return;
    crash.armed = 0;
    int n = snprintf(crash.request, sizeof crash.request,
                     "POST /2018-06-01/runtime/invocation/%s/error HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Content-Type: application/json\r\n"
                     "Lambda-Runtime-Function-Error-Type: Runtime.Crash\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     request_id, crash.host, sizeof crash_body - 1, crash_body);
    if (n < 0 || (size_t)n >= sizeof crash.request)
        return; /* cannot happen with a validated id; stay disarmed */
    crash.request_len = (size_t)n;
    crash.armed = 1;
}

void gda_crash_report_disarm(void)
{
    crash.armed = 0;
}

void gda_crash_report_uninstall(void)
{
    if (!crash.installed)
        return;
    crash.armed = 0;
    for (size_t i = 0; i < N_FATAL; i++)
        sigaction(fatal_signals[i], &crash.old_actions[i], NULL);
    sigaltstack(&crash.old_stack, NULL);
    free(crash.alt_stack);
    crash.alt_stack = NULL;
    crash.installed = false;
}
