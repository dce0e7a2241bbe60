/* Running a spawned server or runtime under a wrapper command (valgrind
 * memcheck in suite 'valgrind'): GDA_TEST_WRAPPER holds the command and its
 * options, separated by spaces, e.g.
 *   GDA_TEST_WRAPPER="/usr/bin/valgrind --error-exitcode=99 ..."
 * The harnesses that fork+exec a binary (tests/lambda/harness.c,
 * tests/integration/test_httpd.c) put it in front of the program's argv.
 * GDA_TEST_WRAPPER_ERROR_EXIT names the exit status the wrapper uses for
 * "the child ran but the tool found errors" (valgrind's --error-exitcode),
 * so a failing test says so instead of reporting an odd exit code.
 *
 * Header-only (static functions) because both users are single test
 * programs. Thread safety: call from the thread that forks.
 */
#ifndef GDA_TEST_WRAPPER_H
#define GDA_TEST_WRAPPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define TEST_WRAPPER_MAX_ARGS 32

/* Build argv for program (followed by args, NULL-terminated) in out (cap
 * entries): the wrapper's words first when GDA_TEST_WRAPPER is set. The
 * words point into *scratch (malloc'd; the caller frees it, or lets exec
 * replace the process). Returns false when it does not fit or on no memory. */
static inline bool test_wrapper_argv(const char *program, const char *const *args, char **out,
                                     size_t cap, char **scratch)
{
    size_t n = 0;
    *scratch = NULL;
    const char *w = getenv("GDA_TEST_WRAPPER");
    if (w && *w) {
        *scratch = strdup(w);
        if (!*scratch)
            return false;
        char *save = NULL;
        for (char *tok = strtok_r(*scratch, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            if (n + 1 >= cap)
                return false;
            out[n++] = tok;
        }
    }
    if (n + 1 >= cap)
        return false;
    out[n++] = (char *)program;
    for (size_t i = 0; args && args[i]; i++) {
        if (n + 1 >= cap)
            return false;
        out[n++] = (char *)args[i];
    }
    out[n] = NULL;
    return true;
}

/* True when a wrapper is in use (timeouts may then be stretched). */
static inline bool test_wrapper_active(void)
{
    const char *w = getenv("GDA_TEST_WRAPPER");
    return w && *w;
}

/* Multiply a wait in milliseconds by GDA_TEST_TIME_SCALE (an integer >= 1,
 * default 1): a program under memcheck runs 10-50 times slower. */
static inline int test_wrapper_scale_ms(int ms)
{
    const char *s = getenv("GDA_TEST_TIME_SCALE");
    long k = s ? strtol(s, NULL, 10) : 1;
    if (k < 1 || k > 100)
        k = 1;
    return ms > 0 && (long)ms > 2147483647L / k ? 2147483647 : (int)(ms * k);
}

/* When status (from waitpid) is the wrapper's error exit, print why the
 * test fails and where the report is (log_path may be NULL) and return
 * true. */
static inline bool test_wrapper_report(int status, const char *who, const char *log_path)
{
    const char *e = getenv("GDA_TEST_WRAPPER_ERROR_EXIT");
    if (!test_wrapper_active() || !e || !*e || !WIFEXITED(status) ||
        WEXITSTATUS(status) != atoi(e))
        return false;
    fprintf(stderr, "%s: the wrapper (%s) found errors in the child (exit %d); its report is in %s\n",
            who, getenv("GDA_TEST_WRAPPER"), WEXITSTATUS(status),
            log_path ? log_path : "the child's stderr");
    /* The report itself (valgrind's lines start with ==pid==), since a
     * temporary directory may be gone by the time someone looks. */
    FILE *f = log_path ? fopen(log_path, "r") : NULL;
    if (f) {
        char line[1024];
        int shown = 0;
        while (fgets(line, sizeof line, f) && shown < 400)
            if (line[0] == '=' && line[1] == '=') {
                fputs(line, stderr);
                shown++;
            }
        fclose(f);
    }
    return true;
}

#endif
