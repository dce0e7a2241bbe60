/* libgda tests — the SigV4 Authorization header as the AWS stand-ins check
 * it: its presence and shape, not the signature's value (the stand-ins do
 * not know the secret key's derivation date or the canonical request):
 *
 *   AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request,
 *   SignedHeaders=a;b;c, Signature=<64 lowercase hex>
 *
 * Thread safety: a pure function.
 */
#ifndef GDA_TEST_SIGV4_CHECK_H
#define GDA_TEST_SIGV4_CHECK_H

/* NULL when auth is such a header for akid, region and service whose
 * SignedHeaders include every name of the NULL-terminated list needed;
 * else why not (a static string). */
const char *sigv4_check_authorization(const char *auth, const char *akid, const char *region,
                                      const char *service, const char *const *needed);

#endif
