/* gda — input helpers shared by the subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "buf.h"

bool gda_cli_read_stream(FILE *f, size_t max, const char *what, char **out, size_t *len)
{
    /* Wiped whenever it grows or is dropped, so no stray copy of a key stays behind. */
    gda_buf b = {.wipe = true};
    char chunk[4096];
    enum { READ_OK, READ_ERROR, READ_TOO_LARGE } got_all = READ_OK;
    for (;;) {
        size_t got = fread(chunk, 1, sizeof chunk, f);
        if (got == 0) {
            got_all = ferror(f) ? READ_ERROR : READ_OK;
            break;
        }
        if (got > max - b.len) {
            got_all = READ_TOO_LARGE;
            break;
        }
        if (!gda_buf_append(&b, chunk, got))
            break; /* out of memory */
    }
    sodium_memzero(chunk, sizeof chunk);
    char *text = got_all == READ_OK && !b.failed ? gda_buf_steal(&b, len) : NULL;
    if (text) {
        *out = text;
        return true;
    }
    gda_buf_free(&b);
    if (got_all == READ_TOO_LARGE)
        fprintf(stderr, "gda: %s is larger than %zu bytes\n", what, max);
    else if (got_all == READ_ERROR)
        fprintf(stderr, "gda: cannot read %s\n", what);
    else
        fprintf(stderr, "gda: out of memory reading %s\n", what);
    return false;
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
