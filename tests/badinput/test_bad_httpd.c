/* Bad-input corpus, front door 2: gda-httpd over HTTP on loopback.
 *
 * Starts the test build of the server (gda-httpd-test: the production server
 * code around shims/http/handler_test.c, which writes each execution to the
 * GDA_TEST_LEDGER file) with the corpus key ring and a SQLite store in a
 * temporary directory, then sends every case with libcurl: headers in order,
 * duplicates and mixed case kept, Content-Type only when the case has one.
 * Cases a conforming client cannot send (CR, LF or NUL inside a header
 * value) are marked "raw" for this door: their bytes go over a plain socket
 * and the server must refuse them (400, or close the connection unanswered).
 * After every case the server must still answer /healthz.
 *
 * Usage (from meson): test_bad_httpd <path to gda-httpd-test>
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "../test_wrapper.h"
#include "bad_case.h"
#include "test_httpd_spawn.h"

static const char *server_bin;
static char tmpdir[64];
static char db_path[128];
static char ledger_path[128];
static char log_path[128];
static pid_t server_pid;
static int server_port;

static bool start_server(void)
{
    char port_file[128], store[160];
    snprintf(port_file, sizeof port_file, "%s/port", tmpdir);
    snprintf(store, sizeof store, "sqlite:%s", db_path);
    test_httpd_config cfg = {
        .bin = server_bin,
        .threads = "8",
        .port_file = port_file,
        .log_path = log_path,
        .keyring = BAD_KEYRING,
        .store = store,
        .ledger = ledger_path,
        .log_level = "error",
    };
    server_pid = 0;
    if (test_httpd_start(&cfg, &server_pid, &server_port))
        return true;
    server_pid = 0;
    return false;
}

typedef struct sink {
    char *p;
    size_t len;
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    sink *s = user;
    size_t add = size * n;
    char *np = realloc(s->p, s->len + add + 1);
    if (!np)
        return 0;
    memcpy(np + s->len, p, add);
    s->p = np;
    s->len += add;
    s->p[s->len] = '\0';
    return add;
}

/* curl_slist entries are C strings: "Name: value", or "Name;" for an empty
 * value (curl drops "Name:" entirely). */
static bool curl_send(const bad_header *h, size_t nh, const char *body, size_t len,
                      bad_answer *out, char *why, size_t why_size)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(why, why_size, "curl_easy_init failed");
        return false;
    }
    struct curl_slist *list = NULL;
    bool has_ctype = false;
    for (size_t i = 0; i < nh; i++) {
        size_t size = h[i].name_len + h[i].value_len + 4;
        char *line = malloc(size);
        if (!line)
            break;
        if (h[i].value_len)
            snprintf(line, size, "%.*s: %.*s", (int)h[i].name_len, h[i].name,
                     (int)h[i].value_len, h[i].value);
        else
            snprintf(line, size, "%.*s;", (int)h[i].name_len, h[i].name);
        list = curl_slist_append(list, line);
        free(line);
        if (h[i].name_len == 12 && strncasecmp(h[i].name, "Content-Type", 12) == 0)
            has_ctype = true;
    }
    if (!has_ctype)
        list = curl_slist_append(list, "Content-Type:"); /* curl would add a form type */
    list = curl_slist_append(list, "Expect:");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", server_port, BAD_ROUTE);
    sink s = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    /* A server that answers 413 from the headers may close before the whole
     * 10 MB upload is sent: curl then reports a send error after the answer. */
    if (rc != CURLE_OK && !(status > 0 && (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR))) {
        snprintf(why, why_size, "curl: %s", curl_easy_strerror(rc));
        free(s.p);
        return false;
    }
    memset(out, 0, sizeof *out);
    out->status = (int)status;
    out->body = s.p;
    out->len = s.len;
    return true;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* The request's bytes exactly as the case gives them. Status 0 when the
 * server closes the connection without an answer. */
static bool raw_send(const bad_header *h, size_t nh, const char *body, size_t len,
                     bad_answer *out, char *why, size_t why_size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(why, why_size, "connect: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char head[256];
    int n = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", BAD_ROUTE,
                     server_port);
    bool ok = write_all(fd, head, (size_t)n);
    for (size_t i = 0; ok && i < nh; i++)
        ok = write_all(fd, h[i].name, h[i].name_len) && write_all(fd, ": ", 2) &&
             write_all(fd, h[i].value, h[i].value_len) && write_all(fd, "\r\n", 2);
    n = snprintf(head, sizeof head, "Content-Length: %zu\r\nConnection: close\r\n\r\n", len);
    ok = ok && write_all(fd, head, (size_t)n);
    /* The server may refuse before the body: a failed body write is fine. */
    if (ok)
        write_all(fd, body, len);
    sink s = {0};
    char chunk[4096];
    for (;;) {
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        on_body(chunk, 1, (size_t)r, &s);
    }
    close(fd);
    memset(out, 0, sizeof *out);
    int status = 0;
    if (s.p && sscanf(s.p, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    out->status = status;
    char *sep = s.p ? strstr(s.p, "\r\n\r\n") : NULL;
    if (sep) {
        out->len = s.len - (size_t)(sep + 4 - s.p);
        out->body = strdup(sep + 4);
    }
    free(s.p);
    (void)why;
    (void)why_size;
    return true;
}

static bool httpd_send(void *user, const bad_case *c, const bad_header *h, size_t nh,
                       const char *body, size_t len, bad_answer *out, char *why,
                       size_t why_size)
{
    (void)user;
    if (c->doors[BAD_DOOR_HTTP].raw)
        return raw_send(h, nh, body, len, out, why, why_size);
    return curl_send(h, nh, body, len, out, why, why_size);
}

static bool httpd_alive(void *user, char *why, size_t why_size)
{
    (void)user;
    int status;
    if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
        server_pid = 0;
        snprintf(why, why_size, "gda-httpd-test died (%s %d); log in %s",
                 WIFSIGNALED(status) ? "signal" : "exit",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), log_path);
        return false;
    }
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", server_port);
    sink s = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(c);
    free(s.p);
    if (rc != CURLE_OK || st != 200) {
        snprintf(why, why_size, "/healthz failed after the case (%s, %ld)",
                 curl_easy_strerror(rc), st);
        return false;
    }
    return true;
}

static void test_corpus_through_httpd(void **state)
{
    (void)state;
    bad_case *cases = NULL;
    size_t n = 0;
    char why[512];
    if (!bad_cases_load(&cases, &n, why, sizeof why))
        fail_msg("corpus: %s", why);
    bad_door_ops ops = {.door = BAD_DOOR_HTTP, .send = httpd_send, .alive = httpd_alive,
                        .ledger_path = ledger_path, .db_path = db_path};
    size_t failed = bad_run_door(&ops, cases, n);
    bad_cases_free(cases, n);
    assert_int_equal(failed, 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gda-bad-httpd-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(db_path, sizeof db_path, "%s/idem.db", tmpdir);
    snprintf(ledger_path, sizeof ledger_path, "%s/ledger", tmpdir);
    snprintf(log_path, sizeof log_path, "%s/server.log", tmpdir);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    return start_server() ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int status = 0;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, &status, 0);
        test_wrapper_report(status, "gda-httpd-test", log_path);
    }
    curl_global_cleanup();
    bool clean = server_pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean) {
        fprintf(stderr, "gda-httpd-test did not stop cleanly; log kept in %s\n", log_path);
        return -1;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || access(argv[1], X_OK) != 0) {
        fprintf(stderr, "usage: %s <gda-httpd-test> (build it with ninja first)\n", argv[0]);
        return 1;
    }
    server_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_through_httpd),
    };
    return cmocka_run_group_tests_name("bad input: gda-httpd", tests, setup, teardown);
}
