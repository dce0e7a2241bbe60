/* libgda-store-dynamodb (private) — gda_record <-> DynamoDB item codec. */
#include "dynamodb_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"

const char *dynamodb_state_name(gda_record_state state)
{
    switch (state) {
    case GDA_RECORD_IN_PROGRESS:
        return "IN_PROGRESS";
    case GDA_RECORD_COMPLETED:
        return "COMPLETED";
    case GDA_RECORD_ACCEPTED:
        return "ACCEPTED";
    }
    return "UNKNOWN";
}

static bool state_from_name(const char *name, gda_record_state *out)
{
    static const gda_record_state states[] = {GDA_RECORD_IN_PROGRESS, GDA_RECORD_COMPLETED,
                                              GDA_RECORD_ACCEPTED};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        if (strcmp(name, dynamodb_state_name(states[i])) == 0) {
            *out = states[i];
            return true;
        }
    }
    return false;
}

json_t *dynamodb_key_value(const char *key)
{
    return json_pack("{s:s}", "S", key);
}

json_t *dynamodb_number_value(int64_t n)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, n);
    return json_pack("{s:s}", "N", text);
}

json_t *dynamodb_binary_value(const uint8_t *bytes, size_t len)
{
    char *b64 = gda_base64_encode_alloc(bytes, len, GDA_BASE64_STANDARD);
    if (!b64)
        return NULL;
    json_t *value = json_pack("{s:s}", "B", b64);
    free(b64);
    return value;
}

/* json_object_set_new that reports failure (value NULL included). */
static bool put_attr(json_t *item, const char *name, json_t *value)
{
    return value && json_object_set_new(item, name, value) == 0;
}

json_t *dynamodb_item_from_record(const dynamodb_names *names, const gda_record *rec)
{
    json_t *item = json_object();
    if (!item)
        return NULL;
    bool ok = put_attr(item, names->key, dynamodb_key_value(rec->key)) &&
              put_attr(item, names->state, json_pack("{s:s}", "S", dynamodb_state_name(rec->state))) &&
              put_attr(item, names->payload, dynamodb_binary_value(rec->payload_hash, GDA_PAYLOAD_HASH_LEN)) &&
              put_attr(item, names->owner, json_pack("{s:s}", "S", rec->owner)) &&
              put_attr(item, names->lease, dynamodb_number_value(rec->lease_until_ms)) &&
              put_attr(item, names->flags, dynamodb_number_value((int64_t)rec->flags)) &&
              put_attr(item, names->principal,
                       dynamodb_binary_value(rec->principal, GDA_PRINCIPAL_DIGEST_LEN));
    /* No expiry means "never": leave the TTL attribute out, so neither
     * DynamoDB's TTL nor the expiry condition ever matches it. */
    if (ok && rec->expires_at_s > 0)
        ok = put_attr(item, names->expires, dynamodb_number_value(rec->expires_at_s));
    if (ok && rec->state != GDA_RECORD_IN_PROGRESS)
        ok = put_attr(item, names->status, dynamodb_number_value(rec->status_code));
    if (ok && rec->body && rec->body_len > 0)
        ok = put_attr(item, names->body, dynamodb_binary_value(rec->body, rec->body_len));
    if (!ok) {
        json_decref(item);
        return NULL;
    }
    return item;
}

static const char *typed(json_t *item, const char *name, const char *type)
{
    return json_string_value(json_object_get(json_object_get(item, name), type));
}

static bool parse_int64(const char *text, int64_t *out)
{
    if (!text || !*text)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (int64_t)v;
    return true;
}

/* Decode a base64 B value into a fresh heap buffer (NULL, 0 for empty). */
static gda_status decode_binary(const char *b64, uint8_t **out, size_t *out_len)
{
    size_t b64_len = strlen(b64);
    *out = NULL;
    *out_len = 0;
    if (b64_len == 0)
        return GDA_OK;
    size_t max = gda_base64_decoded_max(b64_len);
    uint8_t *bytes = malloc(max);
    if (!bytes)
        return GDA_ERR_NOMEM;
    size_t len = 0;
    if (!gda_base64_decode(b64, b64_len, GDA_BASE64_STANDARD, bytes, max, &len)) {
        free(bytes);
        return GDA_ERR_STORE;
    }
    *out = bytes;
    *out_len = len;
    return GDA_OK;
}

gda_status dynamodb_item_to_record(const dynamodb_names *names, json_t *item, gda_record *out,
                                   gda_error *err)
{
    gda_record rec = {0};
    const char *field = NULL;
    gda_status st = GDA_ERR_STORE;

    const char *key = typed(item, names->key, "S");
    const char *state = typed(item, names->state, "S");
    const char *payload = typed(item, names->payload, "B");
    const char *owner = typed(item, names->owner, "S");
    if (!json_is_object(item) || !key) {
        field = names->key;
        goto bad;
    }
    if (strlen(key) > GDA_KEY_MAX) {
        field = names->key;
        goto bad;
    }
    if (!state || !state_from_name(state, &rec.state)) {
        field = names->state;
        goto bad;
    }
    if (!owner || strlen(owner) >= GDA_OWNER_TOKEN_SIZE) {
        field = names->owner;
        goto bad;
    }
    memcpy(rec.owner, owner, strlen(owner) + 1);
    if (!payload) {
        field = names->payload;
        goto bad;
    }
    {
        uint8_t *hash = NULL;
        size_t hash_len = 0;
        st = decode_binary(payload, &hash, &hash_len);
        if (st == GDA_OK && hash_len != GDA_PAYLOAD_HASH_LEN)
            st = GDA_ERR_STORE;
        if (st == GDA_OK)
            memcpy(rec.payload_hash, hash, GDA_PAYLOAD_HASH_LEN);
        free(hash);
        if (st != GDA_OK) {
            field = names->payload;
            goto fail;
        }
    }
    /* Absent on items libgda 0.1 wrote: the all-zero digest, which no
     * caller's HMAC equals, so such an item is nobody's to read. */
    if (json_object_get(item, names->principal)) {
        const char *principal = typed(item, names->principal, "B");
        uint8_t *digest = NULL;
        size_t digest_len = 0;
        st = principal ? decode_binary(principal, &digest, &digest_len) : GDA_ERR_STORE;
        if (st == GDA_OK && digest_len != GDA_PRINCIPAL_DIGEST_LEN)
            st = GDA_ERR_STORE;
        if (st == GDA_OK)
            memcpy(rec.principal, digest, GDA_PRINCIPAL_DIGEST_LEN);
        free(digest);
        if (st != GDA_OK) {
            field = names->principal;
            goto fail;
        }
    }
    st = GDA_ERR_STORE;

    /* Numbers are optional (absent means 0) but must be numbers when set. */
    struct {
        const char *name;
        int64_t *target;
    } numbers[] = {{names->lease, &rec.lease_until_ms}, {names->expires, &rec.expires_at_s}};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        json_t *attr = json_object_get(item, numbers[i].name);
        if (attr && !parse_int64(typed(item, numbers[i].name, "N"), numbers[i].target)) {
            field = numbers[i].name;
            goto bad;
        }
    }
    int64_t status = 0, flags = 0;
    if (json_object_get(item, names->status) &&
        (!parse_int64(typed(item, names->status, "N"), &status) || status < 0 || status > 999)) {
        field = names->status;
        goto bad;
    }
    if (json_object_get(item, names->flags) &&
        (!parse_int64(typed(item, names->flags, "N"), &flags) || flags < 0 ||
         flags > (int64_t)UINT32_MAX)) {
        field = names->flags;
        goto bad;
    }
    rec.status_code = (int)status;
    rec.flags = (uint32_t)flags;

    if (json_object_get(item, names->body)) {
        const char *body = typed(item, names->body, "B");
        if (!body) {
            field = names->body;
            goto bad;
        }
        st = decode_binary(body, &rec.body, &rec.body_len);
        if (st != GDA_OK) {
            field = names->body;
            goto fail;
        }
    }
    if (!(rec.key = strdup(key))) {
        st = GDA_ERR_NOMEM;
        goto fail;
    }
    *out = rec;
    return GDA_OK;

bad:
    st = GDA_ERR_STORE;
fail:
    gda_record_clear(&rec);
    if (st == GDA_ERR_NOMEM)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    /* Names the attribute, never its value. */
    return gda_error_set(err, GDA_ERR_STORE, NULL,
                         "DynamoDB item has a missing or malformed attribute '%s'",
                         field ? field : "?");
}
