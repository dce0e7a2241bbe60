/* libgda — gda_init: libsodium started once for every component (see include/gda/init.h). */
#include <gda/init.h>

#include <pthread.h>

#include <sodium.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int sodium_result = -1;

static void init_once_fn(void) { sodium_result = sodium_init(); }

gda_status gda_init(gda_error *err)
{
    pthread_once(&init_once, init_once_fn);
    if (sodium_result < 0)
        return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "libsodium failed to initialise");
    return GDA_OK;
}
