/* libgda tests — starting gda-httpd-test (see test_httpd_spawn.h). */
#include "test_httpd_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_wrapper.h"
#include "test_time.h"

/* The port the server wrote, or 0 while the file is absent or incomplete. */
static int read_port(const char *port_file)
{
    FILE *f = fopen(port_file, "r");
    if (!f)
        return 0;
    int port = 0;
    if (fscanf(f, "%d", &port) != 1 || port <= 0)
        port = 0;
    fclose(f);
    return port;
}

bool test_httpd_start(const test_httpd_config *cfg, pid_t *pid_out, int *port_out)
{
    unlink(cfg->port_file);
    const char *args[] = {"--listen",  "127.0.0.1:0", "--port-file",     cfg->port_file,
                          "--threads", cfg->threads,  "--drain-timeout", cfg->drain_s,
                          NULL};
    if (!cfg->drain_s)
        args[6] = NULL;
    char *argv[TEST_WRAPPER_MAX_ARGS];
    char *scratch = NULL;
    if (!test_wrapper_argv(cfg->bin, args, argv, TEST_WRAPPER_MAX_ARGS, &scratch)) {
        free(scratch);
        return false;
    }
    pid_t pid = fork();
    if (pid != 0)
        free(scratch);
    if (pid < 0)
        return false;
    if (pid == 0) {
        int fd = open(cfg->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("GDA_AUTH", "token", 1);
        setenv("GDA_SECRETS", cfg->keyring, 1);
        setenv("GDA_STORE", cfg->store, 1);
        setenv("GDA_DATA_KEY", TEST_HTTPD_DATA_KEY_B64, 1);
        setenv("GDA_TEST_LEDGER", cfg->ledger, 1);
        setenv("GDA_LOG_LEVEL", cfg->log_level, 1);
        unsetenv("GDA_MAX_BODY");
        unsetenv("GDA_ROUTE");
        unsetenv("GDA_AUTH_HEADER");
        for (size_t i = 0; cfg->extra_env && cfg->extra_env[i]; i++) {
            char *entry = strdup(cfg->extra_env[i]);
            char *eq = entry ? strchr(entry, '=') : NULL;
            if (eq) {
                *eq = '\0';
                setenv(entry, eq + 1, 1);
            } else if (entry) {
                unsetenv(entry);
            }
            free(entry);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int64_t until = test_mono_ms() + test_wrapper_scale_ms(15000);
    while (test_mono_ms() < until) {
        int port = read_port(cfg->port_file);
        if (port > 0) {
            *pid_out = pid;
            *port_out = port;
            return true;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "gda-httpd-test exited during start-up (status %d); log in %s\n",
                    status, cfg->log_path);
            test_wrapper_report(status, "gda-httpd-test", cfg->log_path);
            return false;
        }
        test_sleep_ms(20);
    }
    fprintf(stderr, "gda-httpd-test did not write its port file in %d s; log in %s\n",
            test_wrapper_scale_ms(15000) / 1000, cfg->log_path);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return false;
}
