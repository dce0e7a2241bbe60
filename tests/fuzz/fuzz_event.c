/* libgda fuzzing — Lambda event decoding and re-encoding.
 *
 * The input is one invocation event. Whatever it is, gda_event_decode must
 * either refuse it with a consistent error or produce a request whose slices
 * all lie in memory it owns (ASan checks the reads below), whose headers hold
 * no CR/LF/NUL and are found by their own names, and which survives being
 * released. The decoded body is then sent back through gda_event_encode for
 * the same kind. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

int gda_fuzz_event(const uint8_t *data, size_t size);

/* Touch every byte of a slice so ASan reports a slice into freed or foreign
 * memory; returns a value the compiler cannot drop. */
static unsigned touch(gda_slice s)
{
    unsigned acc = 0;
    if (s.len > 0 && !s.ptr)
        return 1u << 31;
    for (size_t i = 0; i < s.len; i++)
        acc += (unsigned char)s.ptr[i];
    return acc;
}

static bool has_crlf_nul(gda_slice s)
{
    return memchr(s.ptr ? s.ptr : "", '\r', s.len) || memchr(s.ptr ? s.ptr : "", '\n', s.len) ||
           memchr(s.ptr ? s.ptr : "", '\0', s.len);
}

static bool valid_utf8(const char *p, size_t len)
{
    /* jansson's own checker via a round trip would allocate; a string built
     * from the bytes is refused exactly when they are not UTF-8. */
    json_t *s = json_stringn(p, len);
    bool ok = s != NULL;
    json_decref(s);
    return ok;
}

/* For an envelope that said isBase64Encoded, the decoded body must encode
 * back to the event's body text (padding aside): base64 has exactly one
 * decoding, so anything else means bytes outside the alphabet were let in. */
static bool base64_roundtrip_ok(const char *event, size_t event_len, gda_slice body)
{
    json_t *root = json_loadb(event, event_len, JSON_ALLOW_NUL, NULL);
    json_t *text = json_object_get(root, "body");
    bool ok = true;
    if (json_is_true(json_object_get(root, "isBase64Encoded")) && json_is_string(text)) {
        size_t cap = sodium_base64_ENCODED_LEN(body.len, sodium_base64_VARIANT_ORIGINAL);
        char *enc = malloc(cap);
        if (enc) {
            sodium_bin2base64(enc, cap, (const unsigned char *)(body.ptr ? body.ptr : ""),
                              body.len, sodium_base64_VARIANT_ORIGINAL);
            size_t n = strlen(enc), m = json_string_length(text);
            const char *t = json_string_value(text);
            while (n > 0 && enc[n - 1] == '=')
                n--;
            while (m > 0 && t[m - 1] == '=')
                m--;
            ok = n == m && memcmp(enc, t, n) == 0;
            free(enc);
        }
    }
    json_decref(root);
    return ok;
}

int gda_fuzz_event(const uint8_t *data, size_t size)
{
    gda_http_request req;
    gda_error err = {0};
    /* A private copy of exactly size bytes: a read past the input is caught. */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);

    /* The size limit is checked before parsing: one byte less than the input
     * must always be refused as too large. */
    if (size > 1) {
        gda_status small = gda_event_decode(copy, size, size - 1, &req, &err);
        FUZZ_CHECK(small == GDA_ERR_PAYLOAD_TOO_LARGE);
        gda_http_request_release(&req);
    }

    memset(&err, 0, sizeof err);
    gda_status st = gda_event_decode(copy, size, 0, &req, &err);
    bool roundtrip = st != GDA_OK || req.kind == GDA_EVENT_DIRECT ||
                     base64_roundtrip_ok(copy, size, req.body);
    free(copy); /* the request must not borrow the caller's buffer */
    if (!roundtrip)
        gda_http_request_release(&req);
    FUZZ_CHECK(roundtrip);
    FUZZ_CHECK(fuzz_error_consistent(st, &err));
    if (st != GDA_OK) {
        FUZZ_CHECK(st == GDA_ERR_INVALID_JSON || st == GDA_ERR_UNKNOWN_EVENT ||
                   st == GDA_ERR_INVALID_REQUEST || st == GDA_ERR_NOMEM ||
                   st == GDA_ERR_PAYLOAD_TOO_LARGE);
        gda_http_request_release(&req);
        return 0;
    }

    FUZZ_CHECK(req.kind == GDA_EVENT_APIGW_REST || req.kind == GDA_EVENT_APIGW_HTTP ||
               req.kind == GDA_EVENT_ALB || req.kind == GDA_EVENT_DIRECT);
    FUZZ_CHECK(req.kind != GDA_EVENT_DIRECT || req.body_json != NULL);
    FUZZ_CHECK(req.n_headers == 0 || req.headers != NULL);
    unsigned acc = touch(req.method) + touch(req.path) + touch(req.query) +
                   touch(req.request_id) + touch(req.source_ip) + touch(req.body);
    for (size_t i = 0; i < req.n_headers; i++) {
        const gda_header *h = &req.headers[i];
        acc += touch(h->name) + touch(h->value);
        FUZZ_CHECK(h->name.len > 0);
        FUZZ_CHECK(!has_crlf_nul(h->name) && !has_crlf_nul(h->value));
        /* Lookup by the header's own name finds it (or an earlier twin). */
        char *name = gda_slice_dup(h->name);
        if (name) {
            bool found = false;
            gda_http_request_header(&req, name, &found);
            size_t count = gda_http_request_header_count(&req, name);
            free(name);
            FUZZ_CHECK(found && count >= 1);
        }
    }
    (void)acc;

    /* Send the decoded body back the way this invoker expects it. */
    gda_http_response resp = {0};
    resp.status = 200;
    resp.code = GDA_OK;
    if (gda_http_response_set_header(&resp, "Content-Type", "application/json") == GDA_OK &&
        req.body.len < ((size_t)1 << 20)) {
        resp.body = malloc(req.body.len + 1);
        if (resp.body) {
            if (req.body.len)
                memcpy(resp.body, req.body.ptr, req.body.len);
            resp.body[req.body.len] = '\0';
            resp.body_len = req.body.len;
            char *out = NULL;
            size_t out_len = 0;
            gda_error eerr = {0};
            gda_status est = gda_event_encode(req.kind, &resp, &out, &out_len, &eerr);
            FUZZ_CHECK(fuzz_error_consistent(est, &eerr));
            if (est == GDA_OK) {
                FUZZ_CHECK(out != NULL && out[out_len] == '\0');
                if (req.kind == GDA_EVENT_DIRECT) {
                    FUZZ_CHECK(out_len == req.body.len &&
                               (out_len == 0 || memcmp(out, req.body.ptr, out_len) == 0));
                } else {
                    /* An envelope is JSON that carries the body unchanged. */
                    json_t *env = json_loadb(out, out_len, JSON_ALLOW_NUL, NULL);
                    FUZZ_CHECK(env != NULL);
                    json_t *b = json_object_get(env, "body");
                    FUZZ_CHECK(json_is_string(b) && json_string_length(b) == req.body.len);
                    FUZZ_CHECK(req.body.len == 0 ||
                               memcmp(json_string_value(b), req.body.ptr, req.body.len) == 0);
                    json_decref(env);
                }
            } else {
                FUZZ_CHECK(out == NULL);
                /* Only a body that is not UTF-8 may be refused for a JSON kind. */
                FUZZ_CHECK(est == GDA_ERR_NOMEM ||
                           (req.kind != GDA_EVENT_DIRECT && !valid_utf8(req.body.ptr, req.body.len)));
            }
            free(out);
        }
    }
    gda_http_response_release(&resp);
    gda_http_request_release(&req);
    gda_http_request_release(&req); /* release must leave it harmless to repeat */
    return 0;
}

#ifndef GDA_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (gda_fuzz_event(data, size))
        abort();
    return 0;
}
#endif
