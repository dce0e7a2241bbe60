/* Test harness: the fault-injecting front (see fault_front.h). */
#define _GNU_SOURCE /* memmem, accept4 */
#include "fault_front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64
#define MAX_OPS 16
#define MAX_MESSAGE (1024 * 1024)

typedef struct conn {
    fault_front *front;
    int client;
    pthread_t thread;
    bool started;
} conn;

struct fault_front {
    int listen_fd;
    int upstream_port;
    char endpoint[64];
    pthread_t acceptor;
    atomic_bool stopping;
    pthread_mutex_t mu;
    conn conns[MAX_CONNS];
    size_t n_conns;
    char armed_op[64]; /* "" = nothing armed */
    bool armed_reused;
    atomic_bool close_each;
    unsigned dropped;
    struct {
        char name[64];
        unsigned count;
    } ops[MAX_OPS];
};

/* One HTTP message read whole: headers, then Content-Length bytes. */
typedef struct message {
    char *data;
    size_t len;
} message;

static bool read_message(int fd, message *m)
{
    size_t cap = 8192, len = 0, header_end = 0, total = 0;
    char *buf = malloc(cap);
    if (!buf)
        return false;
    for (;;) {
        if (header_end && len >= total)
            break;
        if (len == cap) {
            if (cap >= MAX_MESSAGE)
                goto fail;
            cap *= 2;
            char *bigger = realloc(buf, cap);
            if (!bigger)
                goto fail;
            buf = bigger;
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        len += (size_t)n;
        if (!header_end) {
            char *end = memmem(buf, len, "\r\n\r\n", 4);
            if (!end)
                continue;
            header_end = (size_t)(end - buf) + 4;
            size_t body = 0;
            for (char *line = buf; line < buf + header_end; ) {
                char *eol = memmem(line, (size_t)(buf + header_end - line), "\r\n", 2);
                if (!eol)
                    break;
                if (strncasecmp(line, "Content-Length:", 15) == 0)
                    body = strtoul(line + 15, NULL, 10);
                else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
                    fprintf(stderr, "fault front: chunked messages are not supported\n");
                    goto fail;
                }
                line = eol + 2;
            }
            total = header_end + body;
            if (total > MAX_MESSAGE)
                goto fail;
        }
    }
    m->data = buf;
    m->len = len;
    return true;
fail:
    free(buf);
    return false;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* The operation of a request: what follows the '.' of X-Amz-Target. */
static void operation_of(const message *m, char *out, size_t size)
{
    out[0] = '\0';
    const char *p = m->data, *end = m->data + m->len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol || eol == p)
            return;
        if ((size_t)(eol - p) > 13 && strncasecmp(p, "X-Amz-Target:", 13) == 0) {
            const char *dot = memchr(p, '.', (size_t)(eol - p));
            const char *v = dot ? dot + 1 : p + 13;
            while (v < eol && *v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(eol - v), v);
            return;
        }
        p = eol + 2;
    }
}

static int connect_upstream(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Count op and decide, under the lock, whether its answer is dropped. */
static bool take_fault(fault_front *f, const char *op, unsigned served)
{
    bool drop = false;
    pthread_mutex_lock(&f->mu);
    size_t i;
    for (i = 0; i < MAX_OPS && f->ops[i].name[0] && strcmp(f->ops[i].name, op) != 0; i++) {
    }
    if (i < MAX_OPS) {
        snprintf(f->ops[i].name, sizeof f->ops[i].name, "%s", op);
        f->ops[i].count++;
    }
    if (f->armed_op[0] && strcmp(f->armed_op, op) == 0 && (served > 0) == f->armed_reused) {
        drop = true;
        f->armed_op[0] = '\0';
        f->dropped++;
    }
    pthread_mutex_unlock(&f->mu);
    return drop;
}

static void *serve(void *arg)
{
    conn *c = arg;
    fault_front *f = c->front;
    int up = connect_upstream(f->upstream_port);
    for (unsigned served = 0; up >= 0 && !atomic_load(&f->stopping); served++) {
        message req = {0}, resp = {0};
        if (!read_message(c->client, &req))
            break;
        char op[64];
        operation_of(&req, op, sizeof op);
        bool drop = take_fault(f, op, served);
        bool ok = send_all(up, req.data, req.len) && read_message(up, &resp);
        free(req.data);
        if (ok && !drop)
            ok = send_all(c->client, resp.data, resp.len);
        free(resp.data);
        if (!ok || drop)
            break; /* applied upstream; the client never hears of it */
        if (atomic_load(&f->close_each))
            break;
    }
    if (up >= 0)
        close(up);
    shutdown(c->client, SHUT_RDWR);
    return NULL;
}

static void *accept_loop(void *arg)
{
    fault_front *f = arg;
    while (!atomic_load(&f->stopping)) {
        struct pollfd p = {.fd = f->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&f->mu);
        if (f->n_conns == MAX_CONNS) {
            pthread_mutex_unlock(&f->mu);
            close(fd);
            continue;
        }
        conn *c = &f->conns[f->n_conns++];
        c->front = f;
        c->client = fd;
        c->started = pthread_create(&c->thread, NULL, serve, c) == 0;
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

fault_front *fault_front_start(int upstream_port)
{
    fault_front *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->upstream_port = upstream_port;
    pthread_mutex_init(&f->mu, NULL);
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(f->listen_fd, 64) != 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&a, &alen) != 0 ||
        pthread_create(&f->acceptor, NULL, accept_loop, f) != 0) {
        if (f->listen_fd >= 0)
            close(f->listen_fd);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return NULL;
    }
    snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%d", ntohs(a.sin_port));
    return f;
}

const char *fault_front_endpoint(const fault_front *f) { return f->endpoint; }

void fault_front_drop_answer(fault_front *f, const char *operation, bool on_reused_connection)
{
    pthread_mutex_lock(&f->mu);
    snprintf(f->armed_op, sizeof f->armed_op, "%s", operation);
    f->armed_reused = on_reused_connection;
    pthread_mutex_unlock(&f->mu);
}

void fault_front_close_after_each(fault_front *f, bool on) { atomic_store(&f->close_each, on); }

unsigned fault_front_dropped(fault_front *f)
{
    pthread_mutex_lock(&f->mu);
    unsigned n = f->dropped;
    pthread_mutex_unlock(&f->mu);
    return n;
}

unsigned fault_front_count(fault_front *f, const char *operation)
{
    unsigned n = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < MAX_OPS; i++)
        if (strcmp(f->ops[i].name, operation) == 0)
            n = f->ops[i].count;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fault_front_stop(fault_front *f)
{
    if (!f)
        return;
    atomic_store(&f->stopping, true);
    pthread_join(f->acceptor, NULL);
    close(f->listen_fd);
    for (size_t i = 0; i < f->n_conns; i++) {
        shutdown(f->conns[i].client, SHUT_RDWR);
        if (f->conns[i].started)
            pthread_join(f->conns[i].thread, NULL);
        close(f->conns[i].client);
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
}
