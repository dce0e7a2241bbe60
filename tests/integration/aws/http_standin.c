/* Test harness: scripted loopback HTTP server (see http_standin.h). */
#include "http_standin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUESTS 256
#define HEAD_MAX 16384
#define BODY_MAX 65536

typedef struct recorded {
    char *head; /* request line + headers */
    char *body;
} recorded;

struct http_standin {
    standin_reply *script;
    size_t script_len;
    int listen_fd;
    char endpoint[64];
    pthread_t thread;
    pthread_mutex_t mu;
    bool stop;
    unsigned requests;
    unsigned connections;
    recorded log[MAX_REQUESTS];
};

static bool stopping(http_standin *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Wait for input on fd, waking every 50 ms to notice a stop. */
static bool wait_readable(http_standin *s, int fd)
{
    while (!stopping(s)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, 50);
        if (rc > 0)
            return true;
        if (rc < 0 && errno != EINTR)
            return false;
    }
    return false;
}

static void delay(http_standin *s, int ms)
{
    while (ms > 0 && !stopping(s)) {
        int step = ms < 20 ? ms : 20;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* Read one request (head + Content-Length body). false when the peer closed. */
static bool read_request(http_standin *s, int fd, char *buf, size_t *have, char **head,
                         char **body)
{
    for (;;) {
        buf[*have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t head_len = (size_t)(end - buf) + 4;
            size_t content_length = 0;
            for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
                if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
                    content_length = strtoul(line + 17, NULL, 10);
            }
            if (content_length > BODY_MAX)
                return false;
            while (*have < head_len + content_length) {
                if (!wait_readable(s, fd))
                    return false;
                ssize_t n = recv(fd, buf + *have, HEAD_MAX + BODY_MAX - *have, 0);
                if (n <= 0)
                    return false;
                *have += (size_t)n;
            }
            *head = strndup(buf, head_len);
            *body = strndup(buf + head_len, content_length);
            size_t used = head_len + content_length;
            memmove(buf, buf + used, *have - used);
            *have -= used;
            return *head && *body;
        }
        if (*have >= HEAD_MAX || !wait_readable(s, fd))
            return false;
        ssize_t n = recv(fd, buf + *have, HEAD_MAX - *have, 0);
        if (n <= 0)
            return false;
        *have += (size_t)n;
    }
}

static void serve_connection(http_standin *s, int fd)
{
    char *buf = malloc(HEAD_MAX + BODY_MAX + 1);
    size_t have = 0;
    if (!buf)
        return;
    for (;;) {
        char *head = NULL, *body = NULL;
        if (!read_request(s, fd, buf, &have, &head, &body)) {
            free(head);
            free(body);
            break;
        }
        pthread_mutex_lock(&s->mu);
        unsigned index = s->requests++;
        if (index < MAX_REQUESTS) {
            s->log[index].head = head;
            s->log[index].body = body;
        } else {
            free(head);
            free(body);
        }
        pthread_mutex_unlock(&s->mu);
        const standin_reply *r =
            &s->script[index < s->script_len ? index : s->script_len - 1];
        delay(s, r->delay_ms);
        if (r->status == 0)
            break; /* drop the connection without an answer */
        const char *payload = r->body ? r->body : "";
        char response[4096];
        int len = snprintf(response, sizeof response,
                           "HTTP/1.1 %d Status\r\nContent-Type: application/x-amz-json-1.0\r\n"
                           "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n%s",
                           r->status, strlen(payload), payload);
        if (len < 0 || (size_t)len >= sizeof response ||
            send(fd, response, (size_t)len, MSG_NOSIGNAL) != len)
            break;
    }
    free(buf);
}

static void *serve(void *arg)
{
    http_standin *s = arg;
    while (wait_readable(s, s->listen_fd)) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        s->connections++;
        pthread_mutex_unlock(&s->mu);
        serve_connection(s, fd);
        close(fd);
    }
    return NULL;
}

http_standin *standin_start(const standin_reply *script, size_t n)
{
    if (!script || n == 0)
        return NULL;
    http_standin *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->script = calloc(n, sizeof *script);
    if (!s->script) {
        free(s);
        return NULL;
    }
    memcpy(s->script, script, n * sizeof *script);
    s->script_len = n;
    pthread_mutex_init(&s->mu, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(s->listen_fd, 16) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) != 0) {
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        free(s->script);
        free(s);
        return NULL;
    }
    snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        close(s->listen_fd);
        free(s->script);
        free(s);
        return NULL;
    }
    return s;
}

const char *standin_endpoint(const http_standin *s)
{
    return s->endpoint;
}

unsigned standin_requests(http_standin *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned standin_connections(http_standin *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->connections;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool standin_header(http_standin *s, unsigned index, const char *name, char *out, size_t size)
{
    bool found = false;
    size_t name_len = strlen(name);
    pthread_mutex_lock(&s->mu);
    const char *head = index < MAX_REQUESTS && index < s->requests ? s->log[index].head : NULL;
    for (const char *line = head ? strstr(head, "\r\n") : NULL; line && line[2] != '\r';
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, name_len) == 0 && h[name_len] == ':') {
            const char *v = h + name_len + 1;
            while (*v == ' ')
                v++;
            const char *eol = strstr(v, "\r\n");
            size_t vlen = eol ? (size_t)(eol - v) : strlen(v);
            snprintf(out, size, "%.*s", (int)vlen, v);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

bool standin_body(http_standin *s, unsigned index, char *out, size_t size)
{
    pthread_mutex_lock(&s->mu);
    bool ok = index < MAX_REQUESTS && index < s->requests && s->log[index].body;
    if (ok)
        snprintf(out, size, "%s", s->log[index].body);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void standin_stop(http_standin *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    for (unsigned i = 0; i < MAX_REQUESTS; i++) {
        free(s->log[i].head);
        free(s->log[i].body);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->script);
    free(s);
}
