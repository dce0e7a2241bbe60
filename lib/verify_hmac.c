/* libgda — the hmac-sha256 scheme (lib/verify_hmac.h): signing string v1,
 * and verifying a request's MAC and timestamp against every ring secret. */
#include "verify_hmac.h"

#include <string.h>

#include <sodium.h>

#include "hex.h"
#include "verify_options.h"

/* Exactly 64 hex digits (either case) into mac. The MAC a request carries
 * is public (it travels in the clear), so it needs no constant-time decode;
 * only the comparison with the computed MAC must be constant time. */
static bool hex_mac(gda_slice v, uint8_t mac[GDA_SHA256_LEN])
{
    return v.len == 2 * GDA_SHA256_LEN && gda_hex_decode(v.ptr, GDA_SHA256_LEN, mac);
}

/* The MAC of signing string v1: "v1=<hex>" (what gda sign writes), or bare
 * hex, "sha256=<hex>" or base64 of exactly 32 bytes (44 characters, so never
 * mistaken for hex). Any other "vN=" is a version this library does not
 * know: malformed, never guessed at. */
static bool parse_mac(gda_slice v, uint8_t mac[GDA_SHA256_LEN])
{
    if (v.len > 3 && gda_slice_ieq(gda_slice_make(v.ptr, 3), "v1="))
        return hex_mac(gda_slice_make(v.ptr + 3, v.len - 3), mac);
    if (v.len > 7 && gda_slice_ieq(gda_slice_make(v.ptr, 7), "sha256="))
        return hex_mac(gda_slice_make(v.ptr + 7, v.len - 7), mac);
    if (hex_mac(v, mac))
        return true;
    uint8_t tmp[GDA_SHA256_LEN + 3];
    size_t got = 0;
    bool ok = v.len <= 44 && gda_key_b64_decode(v.ptr, v.len, tmp, sizeof tmp, &got) &&
              got == GDA_SHA256_LEN;
    if (ok)
        memcpy(mac, tmp, GDA_SHA256_LEN);
    return ok;
}

/* Epoch seconds: 1-12 digits. */
static bool parse_timestamp(gda_slice v, int64_t *out)
{
    return gda_parse_digits(v, 12, out);
}

size_t gda_hmac_v1_parts(gda_slice method, gda_slice path, gda_slice query, gda_slice ts,
                         const char body_hex[2 * GDA_SHA256_LEN + 1],
                         gda_slice parts[GDA_HMAC_V1_PARTS])
{
    static const char label[] = "gda-hmac-v1\n";
    size_t n = 0;
    parts[n++] = gda_slice_make(label, sizeof label - 1);
    parts[n++] = method;
    parts[n++] = gda_slice_make("\n", 1);
    parts[n++] = path;
    if (query.len) {
        parts[n++] = gda_slice_make("?", 1);
        parts[n++] = query;
    }
    parts[n++] = gda_slice_make("\n", 1);
    parts[n++] = ts;
    parts[n++] = gda_slice_make("\n", 1);
    parts[n++] = gda_slice_make(body_hex, 2 * GDA_SHA256_LEN);
    return n;
}

void gda_body_hash_hex(gda_slice body, char out[2 * GDA_SHA256_LEN + 1])
{
    uint8_t digest[GDA_SHA256_LEN];
    gda_sha256(body.ptr, body.len, digest);
    sodium_bin2hex(out, 2 * GDA_SHA256_LEN + 1, digest, sizeof digest);
}

/* The signed string and the MAC the request carries. */
typedef struct given_mac {
    const gda_slice *parts;
    size_t n_parts;
    const uint8_t *mac;
} given_mac;

static unsigned same_mac(const gda_ring_entry *e, const void *given)
{
    const given_mac *g = given;
    uint8_t mac[GDA_SHA256_LEN];
    gda_hmac_sha256_prepared(e->hmac, g->parts, g->n_parts, mac);
    unsigned same = (unsigned)(crypto_verify_32(mac, g->mac) == 0);
    sodium_memzero(mac, sizeof mac);
    return same;
}

void gda_verify_hmac(const gda_verifier *v, const gda_keyring *ring,
                     const gda_http_request *req, int64_t now_ms, gda_verdict *out)
{
    gda_slice sig_text, ts_text = GDA_SLICE_NULL;
    gda_header_hit sig_hit = gda_header_wanted(v->header), ts_hit = gda_header_wanted(v->timestamp_header);
    gda_find_headers(req, &sig_hit, v->hmac_timestamp ? &ts_hit : NULL);
    out->reason = gda_checked_header(&sig_hit, &sig_text);
    if (out->reason != GDA_AUTH_ACCEPTED)
        return;
    int64_t ts = 0;
    if (v->hmac_timestamp) {
        out->reason = gda_checked_header(&ts_hit, &ts_text);
        if (out->reason != GDA_AUTH_ACCEPTED)
            return;
        if (!parse_timestamp(ts_text, &ts)) {
            out->reason = GDA_AUTH_MALFORMED;
            return;
        }
    }
    uint8_t given[GDA_SHA256_LEN];
    if (!parse_mac(sig_text, given)) {
        out->reason = GDA_AUTH_MALFORMED;
        return;
    }
    /* Without a timestamp nothing bounds a signature's life: it may stand
     * for one POST (idempotency makes a resend replay), never for a poll,
     * which would read the result for as long as it is kept. */
    if (!v->hmac_timestamp && !gda_slice_ieq(req->method, "POST")) {
        out->reason = GDA_AUTH_UNBOUND;
        return;
    }
    char body_hex[2 * GDA_SHA256_LEN + 1];
    gda_body_hash_hex(req->body, body_hex);
    gda_slice signed_parts[GDA_HMAC_V1_PARTS];
    size_t n_parts = gda_hmac_v1_parts(req->method, req->path, req->query, ts_text, body_hex,
                                       signed_parts);
    given_mac g = {signed_parts, n_parts, given};
    const gda_ring_entry *e = gda_keyring_match(ring, GDA_KEY_SECRET, NULL, same_mac, &g);
    if (!e) {
        out->reason = GDA_AUTH_MISMATCH;
        return;
    }
    /* A genuine signature outside the window is a replay (or a badly wrong
     * clock): refused whether it is too old or too far in the future. */
    int64_t ts_ms = ts * 1000, window_ms = v->window_s * 1000;
    if (v->hmac_timestamp && (now_ms < ts_ms - window_ms || now_ms > ts_ms + window_ms)) {
        out->reason = GDA_AUTH_REPLAYED;
        return;
    }
    out->reason = GDA_AUTH_ACCEPTED;
    out->entry = e;
}
