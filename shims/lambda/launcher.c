/* The `bootstrap` inside function.zip: a tiny statically linked launcher.
 *
 * The build host's glibc is newer than Amazon Linux 2023's, so the zip
 * carries the real runtime (bin/gda-bootstrap), every shared library it
 * needs and the dynamic loader they were built against (lib/ld.so). This
 * program runs
 *
 *     <root>/lib/ld.so --library-path <root>/lib <root>/bin/gda-bootstrap
 *
 * where <root> is LAMBDA_TASK_ROOT (where Lambda unpacked the zip), else the
 * directory this launcher was started from. It is an ELF executable rather
 * than a shell script so it needs nothing at all from the target system —
 * not even /bin/sh — which is also what lets the packaging test run the zip
 * in an empty chroot. It links no library but a static libc.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what)
{
    /* One JSON line, like every other log line of the runtime. */
    fprintf(stderr, "{\"level\":\"ERROR\",\"message\":\"bootstrap launcher: %s\",\"errno\":%d}\n",
            what, errno);
    return 127;
}

int main(int argc, char **argv)
{
    char root[4096];
    const char *task_root = getenv("LAMBDA_TASK_ROOT");
    if (task_root && *task_root) {
        if (snprintf(root, sizeof root, "%s", task_root) >= (int)sizeof root)
            return fail("LAMBDA_TASK_ROOT too long");
    } else {
        const char *self = argc > 0 && argv[0] ? argv[0] : "";
        const char *slash = strrchr(self, '/');
        if (slash) {
            size_t n = (size_t)(slash - self);
            if (n == 0)
                n = 1; /* "/bootstrap" lives in "/" */
            if (n >= sizeof root)
                return fail("path too long");
            memcpy(root, self, n);
            root[n] = '\0';
        } else {
            ssize_t n = readlink("/proc/self/exe", root, sizeof root - 1);
            char *last = n > 0 ? (root[n] = '\0', strrchr(root, '/')) : NULL;
            if (!last)
                return fail("cannot tell where the task root is; set LAMBDA_TASK_ROOT");
            *last = '\0';
            if (!root[0])
                strcpy(root, "/");
        }
    }

    char loader[4200], libdir[4200], program[4200];
    const char *sep = root[strlen(root) - 1] == '/' ? "" : "/";
    if (snprintf(loader, sizeof loader, "%s%slib/ld.so", root, sep) >= (int)sizeof loader ||
        snprintf(libdir, sizeof libdir, "%s%slib", root, sep) >= (int)sizeof libdir ||
        snprintf(program, sizeof program, "%s%sbin/gda-bootstrap", root, sep) >=
            (int)sizeof program)
        return fail("path too long");

    char *args[] = {loader, (char *)"--library-path", libdir, program, NULL};
    execv(loader, args);
    return fail("cannot execute the bundled loader");
}
