/* The data-key ring from GDA_DATA_KEYS (see data_keys.h). */
#include "data_keys.h"

#include <string.h>

#include <sodium.h>

#include <gda/init.h>
#include <gda/slice.h>

#include "base64.h"

struct gda_data_key_ring {
    size_t n;
    gda_idem_data_key entries[GDA_IDEM_MAX_DATA_KEYS];
    char ids[GDA_IDEM_MAX_DATA_KEYS][GDA_IDEM_DATA_KEY_ID_MAX + 1];
    uint8_t keys[GDA_IDEM_MAX_DATA_KEYS][GDA_IDEM_DATA_KEY_LEN];
    uint8_t wrapped[GDA_DATA_KEY_WRAPPED_MAX]; /* scratch for one decoded entry */
};

/* One entry `id:BASE64` of len bytes at p into slot i. */
static gda_status parse_entry(gda_data_key_ring *r, const char *var, size_t i, const char *p,
                              size_t len, gda_data_key_unwrap_fn unwrap, void *user,
                              gda_error *err)
{
    const char *colon = memchr(p, ':', len);
    size_t id_len = colon ? (size_t)(colon - p) : 0;
    if (!gda_slice_is_id(gda_slice_make(p, id_len), GDA_IDEM_DATA_KEY_ID_MAX))
        return gda_error_set(err, GDA_ERR_CONFIG, var,
                             "%s entry %zu: want id:BASE64 with an id of 1-%d of A-Z a-z 0-9 . _ -",
                             var, i + 1, GDA_IDEM_DATA_KEY_ID_MAX);
    memcpy(r->ids[i], p, id_len);
    r->ids[i][id_len] = '\0';
    for (size_t k = 0; k < i; k++) {
        if (strcmp(r->ids[k], r->ids[i]) == 0)
            return gda_error_set(err, GDA_ERR_CONFIG, var, "%s: data key id %s appears twice",
                                 var, r->ids[i]);
    }
    const char *b64 = colon + 1;
    size_t b64_len = len - id_len - 1;
    size_t n = 0;
    if (!gda_base64_decode(b64, b64_len, GDA_BASE64_STANDARD, r->wrapped, sizeof r->wrapped, &n) ||
        n == 0)
        return gda_error_set(err, GDA_ERR_CONFIG, var, "%s entry %s: the value is not base64",
                             var, r->ids[i]);
    gda_status st = GDA_OK;
    if (unwrap) {
        st = unwrap(r->ids[i], r->wrapped, n, r->keys[i], user, err);
    } else if (n != GDA_IDEM_DATA_KEY_LEN) {
        st = gda_error_set(err, GDA_ERR_CONFIG, var,
                           "%s entry %s: a key must be the base64 of exactly %d bytes", var,
                           r->ids[i], GDA_IDEM_DATA_KEY_LEN);
    } else {
        memcpy(r->keys[i], r->wrapped, GDA_IDEM_DATA_KEY_LEN);
    }
    sodium_memzero(r->wrapped, sizeof r->wrapped);
    r->entries[i].id = r->ids[i];
    r->entries[i].key = r->keys[i];
    return st;
}

gda_status gda_data_key_ring_parse(const char *var, const char *text,
                                   gda_data_key_unwrap_fn unwrap, void *unwrap_user,
                                   gda_data_key_ring **out, gda_error *err)
{
    *out = NULL;
    if (!text || !*text)
        return gda_error_set(err, GDA_ERR_CONFIG, var, "%s is empty", var);
    gda_status init = gda_init(err);
    if (init != GDA_OK)
        return init;
    gda_data_key_ring *r = sodium_malloc(sizeof *r);
    if (!r)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of secure memory");
    memset(r, 0, sizeof *r);
    gda_status st = GDA_OK;
    for (const char *p = text; st == GDA_OK;) {
        size_t len = strcspn(p, ",");
        if (r->n == GDA_IDEM_MAX_DATA_KEYS)
            st = gda_error_set(err, GDA_ERR_CONFIG, var, "%s holds more than %d keys", var,
                               GDA_IDEM_MAX_DATA_KEYS);
        else
            st = parse_entry(r, var, r->n, p, len, unwrap, unwrap_user, err);
        if (st == GDA_OK)
            r->n++;
        if (!p[len])
            break;
        p += len + 1;
    }
    if (st != GDA_OK) {
        sodium_free(r);
        return st;
    }
    sodium_mprotect_readonly(r);
    *out = r;
    return GDA_OK;
}

const gda_idem_data_key *gda_data_key_ring_entries(const gda_data_key_ring *ring, size_t *n)
{
    *n = ring ? ring->n : 0;
    return ring ? ring->entries : NULL;
}

void gda_data_key_ring_free(gda_data_key_ring *ring)
{
    sodium_free(ring); /* wipes; NULL-safe */
}
