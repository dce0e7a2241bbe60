/** @file
 * libgda — umbrella header: include this one and get every core module.
 *
 * libgda turns a C service or an AWS Lambda function into a secure,
 * exactly-once endpoint for Genesys Cloud Architect Data Actions.
 */
#ifndef GDA_GDA_H
#define GDA_GDA_H

#include <gda/export.h>
#include <gda/version.h>
#include <gda/init.h>
#include <gda/status.h>
#include <gda/slice.h>
#include <gda/event.h>
#include <gda/request.h>
#include <gda/log.h>
#include <gda/response.h>
#include <gda/store.h>
#include <gda/store_registry.h>
#include <gda/idempotency.h>
#include <gda/keyring.h>
#include <gda/verify.h>
#include <gda/sign.h>
#include <gda/authorizer.h>
#include <gda/app.h>

#endif /* GDA_GDA_H */
