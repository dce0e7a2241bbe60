/** @file
 * libgda — the library's one start-up call.
 *
 * gda_init() prepares what libgda's components share (libsodium's random
 * generator and its CPU feature detection). It is idempotent and
 * thread-safe: every constructor that needs it (gda_app_new, gda_idem_new,
 * gda_keyring_parse, gda_verifier_new, the stores) calls it itself, so a
 * program need not; a program that wants start-up failures reported before
 * it starts threads calls it first, once, from main(). There is no matching
 * cleanup: what it prepares lives as long as the process.
 *
 * Thread safety: may be called from any number of threads at once; all of
 * them see the one result.
 */
#ifndef GDA_INIT_H
#define GDA_INIT_H

#include <gda/export.h>
#include <gda/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Prepare libgda. GDA_OK, or GDA_ERR_INTERNAL with err filled when
 * libsodium cannot start (no usable random source): then no component of
 * libgda can be built. Every later call gives the same answer. */
GDA_API gda_status gda_init(gda_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GDA_INIT_H */
