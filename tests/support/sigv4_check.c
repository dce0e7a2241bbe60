/* libgda tests — SigV4 Authorization shape check (see sigv4_check.h). */
#include "sigv4_check.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool all_of(const char *p, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!p[i] || !strchr(set, p[i]))
            return false;
    return true;
}

/* Copy the value after prefix up to the next ',' (or the end) into out. */
static bool field(const char *start, size_t prefix_len, char *out, size_t size)
{
    const char *v = start + prefix_len;
    const char *end = strchr(v, ',');
    size_t n = end ? (size_t)(end - v) : strlen(v);
    if (n >= size)
        return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!semi)
            break;
        p = semi + 1;
    }
    return false;
}

const char *sigv4_check_authorization(const char *auth, const char *akid, const char *region,
                                      const char *service, const char *const *needed)
{
    if (!auth)
        return "no Authorization header";
    const char *alg = "AWS4-HMAC-SHA256 ";
    if (strncmp(auth, alg, strlen(alg)) != 0)
        return "Authorization is not AWS4-HMAC-SHA256";
    const char *cred = strstr(auth, "Credential=");
    const char *signed_h = strstr(auth, "SignedHeaders=");
    const char *sig = strstr(auth, "Signature=");
    if (!cred || !signed_h || !sig)
        return "Authorization lacks Credential, SignedHeaders or Signature";
    char scope[256], headers[512], signature[128];
    if (!field(cred, 11, scope, sizeof scope))
        return "malformed Credential";
    char got_akid[128], date[16], got_region[64], got_service[64], term[32];
    if (sscanf(scope, "%127[^/]/%15[^/]/%63[^/]/%63[^/]/%31s", got_akid, date, got_region,
               got_service, term) != 5)
        return "Credential scope is not akid/date/region/service/aws4_request";
    if (strcmp(got_akid, akid) != 0)
        return "unexpected access key id";
    if (strlen(date) != 8 || !all_of(date, 8, "0123456789"))
        return "scope date is not YYYYMMDD";
    if (strcmp(got_region, region) != 0)
        return "scope region is wrong";
    if (strcmp(got_service, service) != 0)
        return "scope service is wrong";
    if (strcmp(term, "aws4_request") != 0)
        return "scope does not end in aws4_request";
    if (!field(signed_h, 14, headers, sizeof headers))
        return "malformed SignedHeaders";
    for (size_t i = 0; needed && needed[i]; i++) {
        if (!list_has(headers, needed[i]))
            return "SignedHeaders misses a header that must be signed";
    }
    if (!field(sig, 10, signature, sizeof signature) || strlen(signature) != 64 ||
        !all_of(signature, 64, "0123456789abcdef"))
        return "Signature is not 64 lowercase hex digits";
    return NULL;
}
