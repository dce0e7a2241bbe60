/* libgda (private) — verifier internals, and the header reading its schemes
 * share.
 *
 * Users: verify.c, verify_hmac.c, sign.c, authorizer.c.
 *
 * Thread safety: as for gda_verifier (gda/verify.h); the header helpers are
 * pure.
 */
#ifndef GDA_VERIFY_PRIVATE_H
#define GDA_VERIFY_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gda/event.h>
#include <gda/verify.h>

#include "jwt.h"
#include "keyring_private.h"

/* The one message of every refusal. */
#define GDA_AUTH_REFUSAL "unauthorized"

struct gda_verifier {
    gda_auth_scheme scheme;
    char header[GDA_HEADER_NAME_MAX];
    bool header_is_authorization; /* then the value carries "Bearer"/"Basic" */
    bool hmac_timestamp;
    char timestamp_header[GDA_HEADER_NAME_MAX];
    int64_t window_s;
    unsigned jwt_algs;
    gda_jwt_policy policy; /* issuer/audience owned */
    pthread_mutex_t lock;  /* guards `ring` (the pointer, not the ring) */
    gda_keyring *ring;
};

/* The verifier's ring now, with a reference of the caller's own (drop it
 * with gda_keyring_free): a rotation meanwhile does not pull it away. */
gda_keyring *gda_verifier_current_ring(gda_verifier *v);

/* Where a header was found: how many times, and its first value. */
typedef struct gda_header_hit {
    const char *name;
    size_t name_len;
    size_t count;
    gda_slice value;
} gda_header_hit;

/* Ready to count the headers named `name` (which must outlive the hit). */
gda_header_hit gda_header_wanted(const char *name);

/* Find up to two headers (b may be NULL) in one pass over the request. */
void gda_find_headers(const gda_http_request *req, gda_header_hit *a, gda_header_hit *b);

/* The one credential header: absent → missing, repeated → ambiguous,
 * anything but printable ASCII or too long → malformed. OWS trimmed. */
gda_auth_reason gda_checked_header(const gda_header_hit *h, gda_slice *out);

/* What one scheme concluded about a request. */
typedef struct gda_verdict {
    gda_auth_reason reason;
    const gda_ring_entry *entry;    /* matched */
    char principal[GDA_AUTH_PRINCIPAL_MAX];
} gda_verdict;

#endif /* GDA_VERIFY_PRIVATE_H */
