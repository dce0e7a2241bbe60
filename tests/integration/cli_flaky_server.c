/* A loopback HTTP server for test_cli_invoke.sh: answers request k with the
 * k-th of a list of outcomes (the last one repeats) and keeps every request
 * it got, so the test can show that retries carried the same bytes.
 *
 *   cli_flaky_server PORT_FILE DUMP_DIR OUTCOMES
 *
 * OUTCOMES is comma-separated: an HTTP status, "reset" (close the connection
 * without answering) or "sleepN" (answer 200 after N ms). Request k (from 1)
 * is written to DUMP_DIR/req.k as the request line, the headers and the body.
 * Runs until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mini_httpd.h"

#define MAX_OUTCOMES 16

typedef struct server {
    const char *dump_dir;
    char outcomes[MAX_OUTCOMES][16];
    unsigned n_outcomes;
    unsigned requests;
} server;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void dump(const server *s, unsigned k, const mini_request *req)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/req.%u", s->dump_dir, k);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fprintf(f, "%s %s\n", req->method, req->target);
    for (size_t i = 0; i < req->n_headers; i++)
        fprintf(f, "%s: %s\n", req->headers[i].name, req->headers[i].value);
    fputc('\n', f);
    fwrite(req->body, 1, req->body_len, f);
    fclose(f);
}

static void route(const mini_request *req, mini_response *resp, void *user)
{
    server *s = user;
    /* Connection threads run concurrently; the test sends one request at a time. */
    unsigned k = __atomic_add_fetch(&s->requests, 1, __ATOMIC_SEQ_CST);
    dump(s, k, req);
    const char *outcome = s->outcomes[k <= s->n_outcomes ? k - 1 : s->n_outcomes - 1];
    char body[64];
    snprintf(body, sizeof body, "{\"request\":%u}", k);
    if (strcmp(outcome, "reset") == 0) {
        resp->status = 0;
        return;
    }
    if (strncmp(outcome, "sleep", 5) == 0) {
        long ms = atol(outcome + 5);
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        resp->status = 200;
    } else {
        resp->status = atoi(outcome);
    }
    snprintf(resp->headers, sizeof resp->headers, "Content-Type: application/json\r\n");
    mini_set_body(resp, body, strlen(body));
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: cli_flaky_server PORT_FILE DUMP_DIR OUTCOMES\n");
        return 2;
    }
    server s;
    memset(&s, 0, sizeof s);
    s.dump_dir = argv[2];
    char *list = strdup(argv[3]), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t && s.n_outcomes < MAX_OUTCOMES;
         t = strtok_r(NULL, ",", &save))
        snprintf(s.outcomes[s.n_outcomes++], sizeof s.outcomes[0], "%s", t);
    free(list);
    if (s.n_outcomes == 0)
        return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    mini_httpd *http = mini_httpd_start(route, &s);
    if (!http)
        return 1;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", mini_httpd_port(http)) < 0 || fclose(f) != 0 ||
        rename(tmp, argv[1]) != 0)
        return 1;
    while (!stop) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 20000000L};
        nanosleep(&tick, NULL);
    }
    mini_httpd_stop(http);
    return 0;
}
