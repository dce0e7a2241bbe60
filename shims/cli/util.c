/* gda — input helpers shared by the subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

bool gda_cli_read_stream(FILE *f, size_t max, const char *what, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "gda: out of memory reading %s\n", what);
        return false;
    }
    for (;;) {
        if (n + 1 >= cap) {
            size_t next = cap * 2;
            char *grown = next > cap ? malloc(next) : NULL;
            if (!grown) {
                gda_cli_wipe(buf, cap);
                fprintf(stderr, "gda: out of memory reading %s\n", what);
                return false;
            }
            /* Copy and wipe instead of realloc so no stray copy of a key stays behind. */
            memcpy(grown, buf, n);
            gda_cli_wipe(buf, cap);
            buf = grown;
            cap = next;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n > max) {
            gda_cli_wipe(buf, cap);
            fprintf(stderr, "gda: %s is larger than %zu bytes\n", what, max);
            return false;
        }
        if (got == 0) {
            if (ferror(f)) {
                gda_cli_wipe(buf, cap);
                fprintf(stderr, "gda: cannot read %s\n", what);
                return false;
            }
            break;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return true;
}

bool gda_cli_read_file(const char *path, size_t max, const char *what, char **out, size_t *len)
{
    if (path[0] == '-' && path[1] == '\0')
        return gda_cli_read_stream(stdin, max, what, out, len);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gda: cannot open %s %s: %s\n", what, path, strerror(errno));
        return false;
    }
    bool ok = gda_cli_read_stream(f, max, what, out, len);
    fclose(f);
    return ok;
}

void gda_cli_wipe(char *buf, size_t len)
{
    if (!buf)
        return;
    sodium_memzero(buf, len);
    free(buf);
}

bool gda_cli_parse_int(const char *opt, const char *text, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || !end || end == text || *end || v < 0 || v > max) {
        fprintf(stderr, "gda: %s needs a whole number from 0 to %lld\n", opt, (long long)max);
        return false;
    }
    *out = v;
    return true;
}
