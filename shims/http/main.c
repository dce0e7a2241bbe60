/* gda-httpd — serve a Genesys Data Action endpoint over plain HTTP.
 *
 * Meant to run behind a load balancer (ECS, a VM) or locally: it binds one
 * address, serves POST {route}, GET {route}/{requestId} and GET /healthz, and
 * on SIGINT/SIGTERM stops accepting, lets in-flight requests finish (bounded
 * by the drain timeout) and exits 0. A second signal while draining stops at
 * once. Everything the pipeline needs (authentication, store, limits) comes
 * from the GDA_* environment, as for the Lambda shim; see --help.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gda/app.h>
#include <gda/log.h>
#include <gda/request.h>

#include "clock.h"
#include "gda_config.h"
#include "enrichment.h"
#include <gda/env.h>
#include "handler.h"
#include "httpd.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_STORE_FILE "gda-idempotency.db"
#define DEFAULT_TIMEOUT_S 15u
#define DEFAULT_DRAIN_S 25u /* under ECS's default 30 s stop timeout */
#define DEFAULT_MAX_CONNECTIONS 1024u
/* The pipeline blocks on the store (an fsync per SQLite commit, a network
 * round trip to DynamoDB), so a few threads per core keep the cores busy. */
#define THREADS_PER_CPU 4u
#define MAX_THREADS 1024u

typedef struct options {
    char *host;
    unsigned port;
    const char *port_file;
    unsigned threads;
    unsigned max_connections;
    unsigned timeout_s;
    unsigned drain_s;
    const char *customers;
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: gda-httpd [options]\n"
            "\n"
            "Serve a Genesys Cloud Data Action endpoint: POST {route}, GET {route}/{requestId}\n"
            "(two-phase poll) and GET /healthz (no auth, no store access).\n"
            "\n"
            "options (each also settable by the environment variable shown):\n"
            "  --listen HOST:PORT     address to bind, [v6]:port for IPv6 (GDA_LISTEN;\n"
            "                         default " DEFAULT_LISTEN ")\n"
            "  --port N               override the port of --listen; 0 picks a free one\n"
            "  --port-file FILE       write the bound port to FILE once serving\n"
            "  --threads N            worker threads (GDA_HTTPD_THREADS; default %u per CPU)\n"
            "  --max-connections N    simultaneous connections (GDA_HTTPD_MAX_CONNECTIONS;\n"
            "                         default %u)\n"
            "  --timeout S            idle/slow client timeout per connection in seconds\n"
            "                         (GDA_HTTPD_TIMEOUT_S; default %u)\n"
            "  --drain-timeout S      on SIGTERM, wait this long for in-flight requests\n"
            "                         (GDA_HTTPD_DRAIN_S; default %u)\n"
            "  --customers FILE       customer table of the enrichment handler\n"
            "                         (GDA_CUSTOMERS; default the shipped sample)\n"
            "  -h, --help             this text\n"
            "  -V, --version          print the version\n"
            "\n"
            "The pipeline is configured by the GDA_* variables of the Lambda shim (GDA_AUTH,\n"
            "GDA_SECRETS, GDA_SECRETS_FILE, GDA_STORE, GDA_ROUTE, GDA_MAX_BODY, GDA_TTL_S,\n"
            "GDA_LOG_LEVEL, ...). GDA_STORE defaults to sqlite:./" DEFAULT_STORE_FILE
            " in the\nworking directory. Logs are JSON lines on stdout.\n",
            THREADS_PER_CPU, DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_S, DEFAULT_DRAIN_S);
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gda-httpd: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static unsigned parse_unsigned(const char *text, unsigned min, unsigned max, const char *what)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || !*text || *end || text[0] == '-' || v < min || v > max) {
        die("%s must be a whole number in %u..%u", what, min, max);
    }
    return (unsigned)v;
}

/* "host:port", "[v6addr]:port" or ":port" (all IPv4 interfaces). */
static void parse_listen(const char *text, options *o)
{
    const char *colon = strrchr(text, ':');
    if (!colon || !colon[1])
        die("--listen %s: expected HOST:PORT", text);
    const char *h = text;
    size_t hlen = (size_t)(colon - text);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    } else if (memchr(h, ':', hlen)) {
        die("--listen %s: write IPv6 addresses in brackets, e.g. [::1]:8080", text);
    }
    free(o->host);
    o->host = hlen ? strndup(h, hlen) : strdup("0.0.0.0");
    if (!o->host)
        die("out of memory");
    o->port = parse_unsigned(colon + 1, 0, 65535, "the listen port");
}

static unsigned default_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    unsigned long t = (unsigned long)cpus * THREADS_PER_CPU;
    return t > MAX_THREADS ? MAX_THREADS : (unsigned)t;
}

static void parse_options(int argc, char **argv, options *o)
{
    const char *env;
    parse_listen((env = getenv("GDA_LISTEN")) && *env ? env : DEFAULT_LISTEN, o);
    o->threads = (env = getenv("GDA_HTTPD_THREADS")) && *env
                     ? parse_unsigned(env, 1, MAX_THREADS, "GDA_HTTPD_THREADS")
                     : default_threads();
    o->max_connections = (env = getenv("GDA_HTTPD_MAX_CONNECTIONS")) && *env
                             ? parse_unsigned(env, 1, 1000000, "GDA_HTTPD_MAX_CONNECTIONS")
                             : DEFAULT_MAX_CONNECTIONS;
    o->timeout_s = (env = getenv("GDA_HTTPD_TIMEOUT_S")) && *env
                       ? parse_unsigned(env, 1, 3600, "GDA_HTTPD_TIMEOUT_S")
                       : DEFAULT_TIMEOUT_S;
    o->drain_s = (env = getenv("GDA_HTTPD_DRAIN_S")) && *env
                     ? parse_unsigned(env, 0, 3600, "GDA_HTTPD_DRAIN_S")
                     : DEFAULT_DRAIN_S;
    o->customers = (env = getenv("GDA_CUSTOMERS")) && *env ? env : NULL;

    enum { OPT_LISTEN = 256, OPT_PORT, OPT_PORT_FILE, OPT_THREADS, OPT_MAXCONN, OPT_TIMEOUT,
           OPT_DRAIN, OPT_CUSTOMERS };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"port", required_argument, NULL, OPT_PORT},
        {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-connections", required_argument, NULL, OPT_MAXCONN},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"drain-timeout", required_argument, NULL, OPT_DRAIN},
        {"customers", required_argument, NULL, OPT_CUSTOMERS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int port_override = -1;
    int c;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN: parse_listen(optarg, o); break;
        case OPT_PORT: port_override = (int)parse_unsigned(optarg, 0, 65535, "--port"); break;
        case OPT_PORT_FILE: o->port_file = optarg; break;
        case OPT_THREADS: o->threads = parse_unsigned(optarg, 1, MAX_THREADS, "--threads"); break;
        case OPT_MAXCONN:
            o->max_connections = parse_unsigned(optarg, 1, 1000000, "--max-connections");
            break;
        case OPT_TIMEOUT: o->timeout_s = parse_unsigned(optarg, 1, 3600, "--timeout"); break;
        case OPT_DRAIN: o->drain_s = parse_unsigned(optarg, 0, 3600, "--drain-timeout"); break;
        case OPT_CUSTOMERS: o->customers = optarg; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("gda-httpd %s\n", GDA_VERSION); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc)
        die("unexpected argument %s", argv[optind]);
    if (port_override >= 0)
        o->port = (unsigned)port_override;
    if (o->max_connections < o->threads) /* libmicrohttpd splits it between threads */
        o->max_connections = o->threads;
}

/* The sample customer table: installed next to the binary's data when
 * installed, else the one in the source tree this was built from. */
static const char *default_customers(void)
{
#ifdef GDA_HTTPD_CUSTOMERS_INSTALLED
    if (access(GDA_HTTPD_CUSTOMERS_INSTALLED, R_OK) == 0)
        return GDA_HTTPD_CUSTOMERS_INSTALLED;
#endif
    return enrichment_default_table_path();
}

/* Write the port so a test or script that asked for port 0 can find us:
 * to a temporary name first, then renamed, so a reader never sees half. */
static bool write_port_file(const char *path, unsigned port)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return false;
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f, "%u\n", port) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok;
}

/* Wait up to drain_s for in-flight requests; a second signal cuts it short. */
static unsigned drain(httpd_server *srv, const sigset_t *signals, unsigned drain_s)
{
    int64_t until = gda_clock_now_ms(NULL) + (int64_t)drain_s * 1000;
    while (httpd_server_inflight(srv) > 0 && gda_clock_now_ms(NULL) < until) {
        struct timespec tick = {0, 20 * 1000000L};
        if (sigtimedwait(signals, NULL, &tick) > 0)
            break;
    }
    return httpd_server_inflight(srv);
}

int main(int argc, char **argv)
{
    options o = {0};
    parse_options(argc, argv, &o);

    /* Signals are taken synchronously by this thread; every thread started
     * from here on (libmicrohttpd's pool, store workers) inherits the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    gda_error err = {0};
    httpd_handler handler = {0};
    const char *customers = o.customers ? o.customers : default_customers();
    if (httpd_handler_open(customers, &handler, &err) != GDA_OK)
        die("handler: %s", err.message);

    /* The embedded store is the default, in the working directory, so a
     * restart (or a second process on the same host) replays what the last
     * one completed. */
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        die("cannot read the working directory: %s", strerror(errno));
    char default_store[PATH_MAX + 32];
    snprintf(default_store, sizeof default_store, "sqlite:%s/%s", cwd, DEFAULT_STORE_FILE);
    const char *store_env = getenv("GDA_STORE");
    const char *store_uri = store_env && *store_env ? store_env : default_store;

    gda_env_overrides ov = {0};
    ov.default_store = default_store;
    gda_app *app = NULL;
    if (gda_env_app_new(handler.fn, handler.user, &ov, &app, &err) != GDA_OK) {
        if (handler.close)
            handler.close(handler.user);
        die("configuration: %s%s%s", err.field, err.field[0] ? ": " : "", err.message);
    }
    size_t max_body = gda_app_max_body(app);
    if (handler.attach)
        handler.attach(handler.user, app);

    httpd_config cfg = {
        .host = o.host,
        .port = (uint16_t)o.port,
        .threads = o.threads,
        .connection_limit = o.max_connections,
        .connection_timeout_s = o.timeout_s,
        .max_body = max_body,
    };
    httpd_server *srv = httpd_server_start(&cfg, app, &err);
    if (!srv) {
        gda_app_free(app);
        if (handler.close)
            handler.close(handler.user);
        die("%s", err.message);
    }
    gda_logger *log = gda_app_logger(app);
    if (o.port_file && !write_port_file(o.port_file, httpd_server_port(srv))) {
        httpd_server_stop(srv);
        gda_app_free(app);
        if (handler.close)
            handler.close(handler.user);
        die("cannot write the port file %s: %s", o.port_file, strerror(errno));
    }

    json_t *info = json_pack("{s:s, s:i, s:s, s:s, s:I, s:i, s:i, s:i}", "address",
                             httpd_server_address(srv), "port", (int)httpd_server_port(srv),
                             "handler", handler.name, "store", store_uri,
                             "maxBody", (json_int_t)max_body, "threads",
                             (int)o.threads, "maxConnections", (int)o.max_connections,
                             "timeoutS", (int)o.timeout_s);
    gda_logf(log, GDA_LOG_INFO, gda_clock_now_ms(NULL), NULL, info, NULL, "gda-httpd %s listening on %s",
             GDA_VERSION, httpd_server_address(srv));
    json_decref(info);

    int sig = 0;
    while (sigwait(&signals, &sig) != 0) {
    }

    json_t *stop = json_pack("{s:s, s:i, s:i}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
                             "inflight", (int)httpd_server_inflight(srv), "drainTimeoutS",
                             (int)o.drain_s);
    gda_log(log, GDA_LOG_INFO, gda_clock_now_ms(NULL), NULL, stop, "shutting down: no new connections", NULL);
    json_decref(stop);
    httpd_server_quiesce(srv);
    unsigned left = drain(srv, &signals, o.drain_s);
    httpd_server_stop(srv);
    json_t *done = json_pack("{s:i}", "abandoned", (int)left);
    gda_log(log, left ? GDA_LOG_WARN : GDA_LOG_INFO, gda_clock_now_ms(NULL), NULL, done, "stopped", NULL);
    json_decref(done);

    if (handler.close)
        handler.close(handler.user); /* joins any handler workers still using the app */
    gda_app_free(app);
    if (o.port_file)
        unlink(o.port_file);
    free(o.host);
    return left ? 1 : 0;
}
