/* Test harness for the Lambda shim (see harness.h). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../test_wrapper.h"

/* The log each live child writes to, for the wrapper's error report. */
#define HARNESS_MAX_CHILDREN 64
static struct {
    pid_t pid;
    char log[512];
} children[HARNESS_MAX_CHILDREN];

static void remember_child(pid_t pid, const char *log_path)
{
    for (size_t i = 0; i < HARNESS_MAX_CHILDREN; i++)
        if (children[i].pid <= 0) {
            children[i].pid = pid;
            snprintf(children[i].log, sizeof children[i].log, "%s", log_path ? log_path : "");
            return;
        }
}

/* Forget pid; its log path (static storage until the next spawn) or NULL. */
static const char *forget_child(pid_t pid)
{
    for (size_t i = 0; i < HARNESS_MAX_CHILDREN; i++)
        if (children[i].pid == pid) {
            children[i].pid = 0;
            return children[i].log[0] ? children[i].log : NULL;
        }
    return NULL;
}

pid_t harness_spawn(const char *program, const char *api, const char *const *env,
                    const char *log_path, const char *chroot_dir)
{
    char *envp[64];
    size_t n = 0;
    static char api_var[128];
    snprintf(api_var, sizeof api_var, "AWS_LAMBDA_RUNTIME_API=%s", api);
    envp[n++] = (char *)"PATH=/usr/bin:/bin";
    envp[n++] = api_var;
    envp[n++] = (char *)"GDA_LOG_LEVEL=WARN";
    envp[n++] = (char *)"GDA_DIRECT_TRUSTED=true";
    envp[n++] = (char *)"GDA_STORE=memory";
    for (size_t i = 0; env && env[i] && n < 63; i++) {
        /* a later entry replaces an earlier one of the same name; a bare
         * name removes it */
        const char *eq = strchr(env[i], '=');
        size_t name_len = eq ? (size_t)(eq - env[i]) + 1 : strlen(env[i]);
        size_t j;
        for (j = 0; j < n; j++)
            if (strncmp(envp[j], env[i], name_len) == 0 &&
                (eq || envp[j][name_len] == '='))
                break;
        if (!eq) {
            if (j < n)
                envp[j] = envp[--n];
            continue;
        }
        envp[j] = (char *)env[i];
        if (j == n)
            n++;
    }
    envp[n] = NULL;
    /* Under GDA_TEST_WRAPPER (valgrind) the wrapper execs the program; a
     * chrooted program has no wrapper inside its root, so it runs bare. */
    char *argv[TEST_WRAPPER_MAX_ARGS];
    char *scratch = NULL;
    if (chroot_dir) {
        argv[0] = (char *)program;
        argv[1] = NULL;
    } else if (!test_wrapper_argv(program, NULL, argv, TEST_WRAPPER_MAX_ARGS, &scratch)) {
        free(scratch);
        return -1;
    }
    pid_t pid = fork();
    if (pid != 0) {
        free(scratch);
        if (pid > 0)
            remember_child(pid, log_path);
        return pid;
    }
    int fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    if (chroot_dir) {
        if (chroot(chroot_dir) != 0 || chdir("/") != 0) {
            fprintf(stderr, "chroot %s failed: %s (the packaging test needs root)\n", chroot_dir,
                    strerror(errno));
            _exit(126);
        }
    }
    execve(argv[0], argv, envp);
    fprintf(stderr, "exec %s failed: %s\n", argv[0], strerror(errno));
    _exit(127);
}

bool harness_wait(pid_t pid, int timeout_ms, int *status)
{
    timeout_ms = test_wrapper_scale_ms(timeout_ms);
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) {
            test_wrapper_report(*status, "bootstrap", forget_child(pid));
            return true;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    forget_child(pid);
    return false;
}

static long status_field(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

bool harness_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    return harness_wait(pid, 5000, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

long harness_rss_kib(pid_t pid)
{
    return status_field(pid, "VmRSS");
}

long harness_hwm_kib(pid_t pid)
{
    return status_field(pid, "VmHWM");
}

char *harness_read_event(const char *name, size_t *len)
{
    const char *dir = getenv("GDA_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/events/%s", dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

json_t *harness_load_event(const char *name)
{
    size_t len;
    char *text = harness_read_event(name, &len);
    if (!text)
        return NULL;
    json_t *v = json_loadb(text, len, 0, NULL);
    free(text);
    return v;
}

void harness_set_header(json_t *event, const char *name, const char *value)
{
    json_t *h = json_object_get(event, "headers");
    json_t *mv = json_object_get(event, "multiValueHeaders");
    if (json_is_object(h) || !json_is_object(mv)) {
        if (!json_is_object(h)) {
            h = json_object();
            json_object_set_new(event, "headers", h);
        }
        json_object_set_new(h, name, json_string(value));
    }
    if (json_is_object(mv))
        json_object_set_new(mv, name, json_pack("[s]", value));
}

void harness_set_body(json_t *event, const char *text)
{
    if (json_is_true(json_object_get(event, "isBase64Encoded"))) {
        size_t len = strlen(text);
        size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(cap);
        sodium_bin2base64(b64, cap, (const unsigned char *)text, len,
                          sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(event, "body", json_string(b64));
        free(b64);
    } else {
        json_object_set_new(event, "body", json_string(text));
    }
}

void harness_set_path(json_t *event, const char *path)
{
    if (json_object_get(event, "path"))
        json_object_set_new(event, "path", json_string(path));
    if (json_object_get(event, "rawPath"))
        json_object_set_new(event, "rawPath", json_string(path));
    json_t *http = json_object_get(json_object_get(event, "requestContext"), "http");
    if (json_is_object(http))
        json_object_set_new(http, "path", json_string(path));
}

char *harness_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT);
}

void harness_make_key(const char *id, char **ring, char **token)
{
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    size_t n = strlen(id) + strlen(b64) + 2;
    *ring = malloc(n);
    snprintf(*ring, n, "%s:%s", id, b64);
    *token = strdup(b64);
}

char *harness_request_body(const char *request_id, const char *extra)
{
    char *out = malloc(1024);
    snprintf(out, 1024,
             "{\"interactionId\":\"3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f\",\"requestId\":\"%s\","
             "\"callerId\":\"+15551234567\",\"timestamp\":\"2026-11-24T10:00:00Z\"%s%s}",
             request_id, extra ? "," : "", extra ? extra : "");
    return out;
}
