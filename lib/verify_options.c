/* libgda — option parsing (lib/verify_options.h): the options text of
 * gda_verifier_new_from_config, read through one table of names. */
#include "verify_options.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "keyring_private.h"

static bool parse_switch(gda_slice v, bool *out)
{
    if (gda_slice_ieq(v, "on") || gda_slice_ieq(v, "true") || gda_slice_ieq(v, "1")) {
        *out = true;
        return true;
    }
    if (gda_slice_ieq(v, "off") || gda_slice_ieq(v, "false") || gda_slice_ieq(v, "0")) {
        *out = false;
        return true;
    }
    return false;
}

bool gda_parse_digits(gda_slice v, size_t max_digits, int64_t *out)
{
    if (v.len == 0 || v.len > max_digits)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
        n = n * 10 + (v.ptr[i] - '0');
    }
    *out = n;
    return true;
}

static bool parse_seconds(gda_slice v, int64_t *out)
{
    return gda_parse_digits(v, 9, out);
}

static bool parse_algs(gda_slice v, unsigned *out)
{
    unsigned algs = 0;
    const char *p = v.ptr, *end = v.ptr + v.len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        gda_slice a = gda_text_trim(gda_slice_make(p, (size_t)(stop - p)));
        if (gda_text_is(a, "HS256"))
            algs |= GDA_JWT_HS256;
        else if (gda_text_is(a, "EdDSA"))
            algs |= GDA_JWT_EDDSA;
        else
            return false;
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = algs;
    return algs != 0;
}

/* How an option's value is read, and so the type of its member. */
typedef enum option_kind {
    OPTION_TEXT,    /* const char *, pointing into the caller's storage */
    OPTION_SWITCH,  /* bool: on/off, true/false, 1/0 */
    OPTION_SECONDS, /* int64_t: 1-9 digits */
    OPTION_ALGS     /* unsigned: JWT algorithm bits */
} option_kind;

typedef struct option_spec {
    const char *name;
    option_kind kind;
    size_t offset; /* of the member in gda_verifier_options */
} option_spec;

#define OPTION(name, kind, member) {name, kind, offsetof(gda_verifier_options, member)}

static const option_spec option_specs[] = {
    OPTION("header", OPTION_TEXT, header),
    OPTION("timestamp_header", OPTION_TEXT, timestamp_header),
    OPTION("timestamp", OPTION_SWITCH, hmac_timestamp),
    OPTION("window", OPTION_SECONDS, replay_window_s),
    OPTION("leeway", OPTION_SECONDS, jwt_leeway_s),
    OPTION("algs", OPTION_ALGS, jwt_algs),
    OPTION("require_exp", OPTION_SWITCH, jwt_require_exp),
    OPTION("max_lifetime", OPTION_SECONDS, jwt_max_lifetime_s),
    OPTION("iss", OPTION_TEXT, jwt_issuer),
    OPTION("aud", OPTION_TEXT, jwt_audience),
};

/* value is NUL-terminated in place; false when it does not read as the
 * option's type (the member is then left as it was). */
static bool set_option(gda_verifier_options *opt, const option_spec *spec, gda_slice value)
{
    void *member = (char *)opt + spec->offset;
    switch (spec->kind) {
    case OPTION_TEXT:
        *(const char **)member = value.ptr;
        return true;
    case OPTION_SWITCH: return parse_switch(value, member);
    case OPTION_SECONDS: return parse_seconds(value, member);
    case OPTION_ALGS: return parse_algs(value, member);
    }
    return false;
}

static const option_spec *find_option(gda_slice name)
{
    for (size_t i = 0; i < sizeof option_specs / sizeof option_specs[0]; i++) {
        if (gda_slice_ieq(name, option_specs[i].name))
            return &option_specs[i];
    }
    return NULL;
}

gda_status gda_verifier_options_parse(const char *text, gda_verifier_options *opt,
                                      char **storage, gda_error *err)
{
    /* Option values are copied into this buffer, NUL-terminated in place. */
    char *buf = strdup(text ? text : "");
    *storage = buf;
    if (!buf)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    gda_status st = GDA_OK;
    char *save = NULL;
    for (char *item = strtok_r(buf, ";", &save); item && st == GDA_OK;
         item = strtok_r(NULL, ";", &save)) {
        gda_slice whole = gda_text_trim(gda_slice_cstr(item));
        if (whole.len == 0)
            continue;
        const char *eq = memchr(whole.ptr, '=', whole.len);
        if (!eq) {
            st = gda_error_set(err, GDA_ERR_CONFIG, "options", "option \"%.*s\" needs name=value",
                               (int)(whole.len > 40 ? 40 : whole.len), whole.ptr);
            break;
        }
        gda_slice name = gda_text_trim(gda_slice_make(whole.ptr, (size_t)(eq - whole.ptr)));
        gda_slice value =
            gda_text_trim(gda_slice_make(eq + 1, (size_t)(whole.ptr + whole.len - eq - 1)));
        ((char *)value.ptr)[value.len] = '\0'; /* inside buf */
        const option_spec *spec = find_option(name);
        if (!spec)
            st = gda_error_set(err, GDA_ERR_CONFIG, "options", "unknown option \"%.*s\"",
                               (int)(name.len > 40 ? 40 : name.len), name.ptr);
        else if (!set_option(opt, spec, value))
            st = gda_error_set(err, GDA_ERR_CONFIG, "options", "bad value for option \"%.*s\"",
                               (int)name.len, name.ptr);
    }
    return st;
}
