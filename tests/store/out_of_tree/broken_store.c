/* A module whose backend is refused at registration: it fills in a
 * gda_store_backend of a version this libgda does not know (a module built
 * against some future header), so gda_store_module_init fails with the
 * registry's error naming the version. */
#include <gda/store.h>
#include <gda/store_registry.h>

gda_status gda_store_module_init(gda_error *err);

static gda_status never_open(const char *rest, void *user, gda_store **out, gda_error *err)
{
    (void)rest, (void)user, (void)out;
    return gda_error_set(err, GDA_ERR_INTERNAL, NULL, "a refused backend was opened");
}

gda_status gda_store_module_init(gda_error *err)
{
    static const gda_store_backend future = {99, "future", NULL, never_open, NULL};
    return gda_store_register(&future, err);
}
