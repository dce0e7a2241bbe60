/* libgda — private helpers shared by store.c and store_registry.c. */
#ifndef GDA_STORE_INTERNAL_H
#define GDA_STORE_INTERNAL_H

#include <gda/status.h>
#include <gda/store.h>

/* GDA_OK when ops is fit to call through: a version from
 * GDA_STORE_OPS_VERSION_MIN to GDA_STORE_OPS_VERSION and no NULL operation;
 * else GDA_ERR_CONFIG naming the backend and the problem (GDA_ERR_INTERNAL
 * for NULL ops). */
gda_status gda_store_ops_check(const gda_store_ops *ops, gda_error *err);

#endif
