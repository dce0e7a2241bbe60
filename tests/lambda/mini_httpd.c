/* Test harness: small threaded HTTP/1.1 server (see mini_httpd.h). */
#define _GNU_SOURCE /* memmem */
#include "mini_httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64
#define HEAD_MAX 65536
#define BODY_MAX (8u << 20)

typedef struct conn {
    mini_httpd *srv;
    int fd;
    pthread_t thread;
    bool used;
    bool done;
} conn;

struct mini_httpd {
    int listen_fd;
    int port;
    mini_route_fn route;
    void *user;
    pthread_t acceptor;
    pthread_mutex_t mu;
    volatile bool stopping;
    conn conns[MAX_CONNS];
};

const char *mini_header(const mini_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

void mini_set_body(mini_response *resp, const char *text, size_t len)
{
    free(resp->body);
    resp->body = malloc(len + 1);
    if (!resp->body) {
        resp->body_len = 0;
        return;
    }
    memcpy(resp->body, text, len);
    resp->body[len] = '\0';
    resp->body_len = len;
}

static bool send_all(int fd, const char *p, size_t n)
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

static void reset_connection(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    default: return "Status";
    }
}

/* Parse the head in buf[0..head_len) into req. */
static bool parse_head(char *buf, size_t head_len, mini_request *req, size_t *content_length,
                       bool *client_close)
{
    buf[head_len] = '\0';
    char *line_end = strstr(buf, "\r\n");
    if (!line_end)
        return false;
    *line_end = '\0';
    char version[16];
    if (sscanf(buf, "%15s %2047s %15s", req->method, req->target, version) != 3)
        return false;
    *content_length = 0;
    *client_close = false;
    char *p = line_end + 2;
    while (*p) {
        char *e = strstr(p, "\r\n");
        if (!e)
            break;
        *e = '\0';
        char *colon = strchr(p, ':');
        if (colon && req->n_headers < MINI_MAX_HEADERS) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(req->headers[req->n_headers].name, sizeof req->headers[0].name, "%s", p);
            snprintf(req->headers[req->n_headers].value, sizeof req->headers[0].value, "%s", v);
            if (strcasecmp(p, "Content-Length") == 0)
                *content_length = strtoul(v, NULL, 10);
            if (strcasecmp(p, "Connection") == 0 && strcasecmp(v, "close") == 0)
                *client_close = true;
            req->n_headers++;
        }
        p = e + 2;
    }
    return true;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    mini_httpd *s = c->srv;
    char *buf = malloc(HEAD_MAX + 1);
    size_t have = 0;
    while (buf && !s->stopping) {
        /* read the head */
        char *end = NULL;
        while (!(end = (have >= 4 ? memmem(buf, have, "\r\n\r\n", 4) : NULL))) {
            if (have >= HEAD_MAX)
                goto out;
            ssize_t r = recv(c->fd, buf + have, HEAD_MAX - have, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                goto out;
            have += (size_t)r;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        mini_request *req = calloc(1, sizeof *req);
        if (!req)
            goto out;
        char *head_copy = malloc(head_len + 1);
        size_t content_length = 0;
        bool client_close = false;
        if (!head_copy) {
            free(req);
            goto out;
        }
        memcpy(head_copy, buf, head_len);
        bool ok = parse_head(head_copy, head_len, req, &content_length, &client_close);
        free(head_copy);
        if (!ok || content_length > BODY_MAX) {
            free(req);
            goto out;
        }
        req->body = malloc(content_length + 1);
        if (!req->body) {
            free(req);
            goto out;
        }
        size_t from_buf = have - head_len < content_length ? have - head_len : content_length;
        memcpy(req->body, buf + head_len, from_buf);
        size_t got = from_buf;
        while (got < content_length) {
            ssize_t r = recv(c->fd, req->body + got, content_length - got, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                free(req->body);
                free(req);
                goto out;
            }
            got += (size_t)r;
        }
        req->body[content_length] = '\0';
        req->body_len = content_length;
        size_t consumed = head_len + from_buf;
        memmove(buf, buf + consumed, have - consumed);
        have -= consumed;

        mini_response resp;
        memset(&resp, 0, sizeof resp);
        s->route(req, &resp, s->user);
        free(req->body);
        free(req);
        if (resp.status == 0) {
            free(resp.body);
            reset_connection(c->fd);
            goto out;
        }
        char head[4096];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n%s\r\n",
                         resp.status, reason(resp.status), resp.headers, resp.body_len,
                         resp.close || client_close ? "Connection: close\r\n" : "");
        bool sent = n > 0 && (size_t)n < sizeof head && send_all(c->fd, head, (size_t)n) &&
                    (!resp.body_len || send_all(c->fd, resp.body, resp.body_len));
        free(resp.body);
        if (!sent || resp.close || client_close)
            goto out;
    }
out:
    free(buf);
    pthread_mutex_lock(&s->mu);
    close(c->fd);
    c->fd = -1;
    c->done = true;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *accept_main(void *arg)
{
    mini_httpd *s = arg;
    while (!s->stopping) {
        struct pollfd pfd = {.fd = s->listen_fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 100);
        if (pr <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&s->mu);
        conn *slot = NULL;
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = &s->conns[i];
            if (c->used && c->done) {
                pthread_mutex_unlock(&s->mu);
                pthread_join(c->thread, NULL);
                pthread_mutex_lock(&s->mu);
                c->used = false;
            }
            if (!c->used && !slot)
                slot = c;
        }
        if (!slot) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            continue;
        }
        slot->srv = s;
        slot->fd = fd;
        slot->used = true;
        slot->done = false;
        if (pthread_create(&slot->thread, NULL, conn_main, slot) != 0) {
            slot->used = false;
            close(fd);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

mini_httpd *mini_httpd_start(mini_route_fn route, void *user)
{
    mini_httpd *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->route = route;
    s->user = user;
    pthread_mutex_init(&s->mu, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->listen_fd, 64) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &al) != 0) {
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        free(s);
        return NULL;
    }
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->acceptor, NULL, accept_main, s) != 0) {
        close(s->listen_fd);
        free(s);
        return NULL;
    }
    return s;
}

int mini_httpd_port(const mini_httpd *s)
{
    return s->port;
}

void mini_httpd_stop(mini_httpd *s)
{
    if (!s)
        return;
    s->stopping = true;
    pthread_join(s->acceptor, NULL);
    close(s->listen_fd);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i].used && !s->conns[i].done && s->conns[i].fd >= 0)
            shutdown(s->conns[i].fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i].used)
            pthread_join(s->conns[i].thread, NULL);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *mini_target_after(const mini_request *req, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(req->target, prefix, n) == 0 ? req->target + n : NULL;
}
