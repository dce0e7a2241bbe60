/* libgda shims — a small secret file read into guarded memory (see
 * secret_file.h). */
#include "secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

gda_secret_file_result gda_secret_file_read(const char *path, size_t min_size, size_t max_size,
                                            char **text, size_t *len, size_t *file_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return GDA_SECRET_FILE_UNOPENABLE;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0 ||
        (uintmax_t)sb.st_size < min_size || (uintmax_t)sb.st_size > max_size) {
        close(fd);
        return GDA_SECRET_FILE_UNFIT;
    }
    size_t size = (size_t)sb.st_size;
    char *buf = sodium_malloc(size + 1);
    if (!buf) {
        close(fd);
        return GDA_SECRET_FILE_NOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *text = buf;
    *len = got;
    *file_size = size;
    return GDA_SECRET_FILE_OK;
}

bool gda_secret_file_exposed(const char *path, unsigned *mode)
{
    struct stat sb;
    if (!path || stat(path, &sb) != 0)
        return false;
    if (mode)
        *mode = (unsigned)(sb.st_mode & 0777);
    return (sb.st_mode & (S_IRWXG | S_IRWXO)) != 0;
}
