/* libgda tests — the test handlers' ledger (see test_ledger.h). */
#include "test_ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

gda_status test_ledger_open(int *fd, gda_error *err)
{
    *fd = -1;
    const char *ledger = getenv("GDA_TEST_LEDGER");
    if (!ledger || !*ledger)
        return GDA_OK;
    *fd = open(ledger, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (*fd < 0)
        return gda_error_set(err, GDA_ERR_CONFIG, "GDA_TEST_LEDGER",
                             "cannot open the ledger: %s", strerror(errno));
    return GDA_OK;
}

void test_ledger_append(int fd, const char *request_id)
{
    if (fd < 0 || !request_id)
        return;
    size_t n = strlen(request_id);
    char *line = malloc(n + 2);
    if (!line)
        return;
    memcpy(line, request_id, n);
    line[n] = '\n';
    /* A short write would corrupt the proof; the line is small enough that
     * O_APPEND writes it whole in practice, and a failure shows as a line
     * the test cannot match. */
    ssize_t w = write(fd, line, n + 1);
    (void)w;
    free(line);
}
