/* The bad-input corpus loader and shared checks (see bad_case.h). */
#include "bad_case.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const door_keys[BAD_DOOR_COUNT] = {"app", "http", "lambda_rest",
                                                      "lambda_direct"};

const char *bad_door_name(int door)
{
    return door >= 0 && door < BAD_DOOR_COUNT ? door_keys[door] : "?";
}

static bool fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return false;
}

/* Growable byte buffer. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static bool buf_add(buf *b, const void *data, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        return false;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

/* Append text with the placeholders replaced. */
static bool buf_add_subst(buf *b, const char *s, size_t n, const char *rid)
{
    static const struct {
        const char *name;
        const char *value;
    } subst[] = {
        {"{{token}}", BAD_SECRET_B64},
        {"{{wrong}}", BAD_WRONG_B64},
        {"{{other}}", BAD_OTHER_B64},
        {"{{iid}}", BAD_INTERACTION},
        {"{{rid}}", NULL},
    };
    size_t i = 0;
    while (i < n) {
        bool replaced = false;
        if (s[i] == '{' && i + 1 < n && s[i + 1] == '{') {
            for (size_t k = 0; k < sizeof subst / sizeof subst[0]; k++) {
                size_t len = strlen(subst[k].name);
                if (n - i >= len && memcmp(s + i, subst[k].name, len) == 0) {
                    const char *v = subst[k].value ? subst[k].value : (rid ? rid : "");
                    if (!buf_add(b, v, strlen(v)))
                        return false;
                    i += len;
                    replaced = true;
                    break;
                }
            }
        }
        if (!replaced) {
            if (!buf_add(b, s + i, 1))
                return false;
            i++;
        }
    }
    if (!b->p)
        return buf_add(b, "", 0);
    return true;
}

/* "body_latin1": each code point below 256 is one byte. */
static bool latin1_bytes(const char *utf8, size_t n, buf *out, char *why, size_t why_size)
{
    const unsigned char *s = (const unsigned char *)utf8;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        if (s[i] < 0x80) {
            cp = s[i];
            i++;
        } else if ((s[i] & 0xe0) == 0xc0 && i + 1 < n) {
            cp = ((unsigned)(s[i] & 0x1f) << 6) | (s[i + 1] & 0x3f);
            i += 2;
        } else {
            return fail(why, why_size, "body_latin1 holds a code point above U+00FF");
        }
        if (cp > 0xff)
            return fail(why, why_size, "body_latin1 holds a code point above U+00FF");
        char c = (char)cp;
        if (!buf_add(out, &c, 1))
            return fail(why, why_size, "out of memory");
    }
    if (!out->p)
        buf_add(out, "", 0);
    return true;
}

static bool load_headers(json_t *arr, const char *rid, bad_header **out, size_t *n, char *why,
                         size_t why_size)
{
    if (!json_is_array(arr))
        return fail(why, why_size, "\"headers\" must be an array of [name, value] pairs");
    size_t count = json_array_size(arr);
    bad_header *h = calloc(count ? count : 1, sizeof *h);
    if (!h)
        return fail(why, why_size, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *pair = json_array_get(arr, i);
        json_t *name = json_array_get(pair, 0), *value = json_array_get(pair, 1);
        if (json_array_size(pair) != 2 || !json_is_string(name) || !json_is_string(value)) {
            *out = h;
            *n = i;
            return fail(why, why_size, "header %zu is not a [name, value] pair of strings", i);
        }
        buf nb = {0}, vb = {0};
        if (!buf_add_subst(&nb, json_string_value(name), json_string_length(name), rid) ||
            !buf_add_subst(&vb, json_string_value(value), json_string_length(value), rid)) {
            free(nb.p);
            free(vb.p);
            *out = h;
            *n = i;
            return fail(why, why_size, "out of memory");
        }
        h[i] = (bad_header){nb.p, nb.len, vb.p, vb.len};
    }
    *out = h;
    *n = count;
    return true;
}

static bool load_expect(json_t *o, bad_expect *e, char *why, size_t why_size)
{
    memset(e, 0, sizeof *e);
    e->alt_status = -1;
    json_t *status = json_object_get(o, "status");
    if (!json_is_integer(status))
        return fail(why, why_size, "expect.status must be an integer");
    e->status = (int)json_integer_value(status);
    json_t *alt = json_object_get(o, "alt_status");
    if (alt)
        e->alt_status = (int)json_integer_value(alt);
    snprintf(e->code, sizeof e->code, "%s",
             json_string_value(json_object_get(o, "code")) ? json_string_value(json_object_get(o, "code")) : "");
    snprintf(e->field, sizeof e->field, "%s",
             json_string_value(json_object_get(o, "field")) ? json_string_value(json_object_get(o, "field")) : "");
    e->executes = json_is_true(json_object_get(o, "executes"));
    const char *delivery = json_string_value(json_object_get(o, "delivery"));
    if (delivery && strcmp(delivery, "error") != 0 && strcmp(delivery, "response") != 0)
        return fail(why, why_size, "expect.delivery must be \"error\" or \"response\"");
    e->delivery_error = delivery && strcmp(delivery, "error") == 0;
    const char *type = json_string_value(json_object_get(o, "error_type"));
    snprintf(e->error_type, sizeof e->error_type, "%s", type ? type : "");
    if (e->delivery_error && !type)
        snprintf(e->error_type, sizeof e->error_type, "%s", bad_error_type_for(e->status, e->code));
    return true;
}

static bool load_body(json_t *root, const char *rid, buf *body, char *why, size_t why_size)
{
    json_t *text = json_object_get(root, "body");
    json_t *latin1 = json_object_get(root, "body_latin1");
    json_t *gen = json_object_get(root, "generate");
    if ((text != NULL) + (latin1 != NULL) + (gen != NULL) != 1)
        return fail(why, why_size, "exactly one of body, body_latin1, generate is required");
    if (text) {
        if (!json_is_string(text))
            return fail(why, why_size, "body must be a string");
        return buf_add_subst(body, json_string_value(text), json_string_length(text), rid) ||
               fail(why, why_size, "out of memory");
    }
    if (latin1) {
        if (!json_is_string(latin1))
            return fail(why, why_size, "body_latin1 must be a string");
        buf tmp = {0};
        if (!buf_add_subst(&tmp, json_string_value(latin1), json_string_length(latin1), rid)) {
            free(tmp.p);
            return fail(why, why_size, "out of memory");
        }
        bool ok = latin1_bytes(tmp.p, tmp.len, body, why, why_size);
        free(tmp.p);
        return ok;
    }
    const char *keys[] = {"prefix", "repeat", "close", "suffix"};
    const char *parts[4];
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(gen, keys[i]);
        if (v && !json_is_string(v))
            return fail(why, why_size, "generate.%s must be a string", keys[i]);
        parts[i] = v ? json_string_value(v) : "";
    }
    json_int_t count = json_integer_value(json_object_get(gen, "count"));
    if (count < 0 || count > 100000000 || !*parts[1])
        return fail(why, why_size, "generate needs a repeat text and a count of 0..1e8");
    if (!buf_add_subst(body, parts[0], strlen(parts[0]), rid))
        return fail(why, why_size, "out of memory");
    for (int pass = 1; pass <= 2; pass++) {
        size_t unit = strlen(parts[pass]);
        for (json_int_t i = 0; i < count && unit; i++)
            if (!buf_add(body, parts[pass], unit))
                return fail(why, why_size, "out of memory");
    }
    return buf_add_subst(body, parts[3], strlen(parts[3]), rid) ||
           fail(why, why_size, "out of memory");
}

static void case_free(bad_case *c)
{
    for (size_t i = 0; i < c->n_headers; i++) {
        free(c->headers[i].name);
        free(c->headers[i].value);
    }
    free(c->headers);
    for (size_t i = 0; i < c->n_prior_headers; i++) {
        free(c->prior_headers[i].name);
        free(c->prior_headers[i].value);
    }
    free(c->prior_headers);
    for (int d = 0; d < BAD_DOOR_COUNT; d++) {
        for (size_t i = 0; i < c->doors[d].n_headers; i++) {
            free(c->doors[d].headers[i].name);
            free(c->doors[d].headers[i].value);
        }
        free(c->doors[d].headers);
        free(c->doors[d].event_body);
    }
    free(c->description);
    free(c->body);
    free(c->request_id);
    free(c->prior_body);
}

static bool load_case(const char *path, const char *name, bad_case *c, char *why,
                      size_t why_size)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%.*s", (int)(strlen(name) - 5), name);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root)
        return fail(why, why_size, "%s: not JSON: %s (line %d)", name, je.text, je.line);
    char sub[200] = "";
    bool ok = false;
    const char *desc = json_string_value(json_object_get(root, "description"));
    if (!desc) {
        snprintf(sub, sizeof sub, "description missing");
        goto out;
    }
    c->description = strdup(desc);
    const char *rid = json_string_value(json_object_get(root, "requestId"));
    if (rid)
        c->request_id = strdup(rid);
    if (!load_headers(json_object_get(root, "headers"), rid, &c->headers, &c->n_headers, sub,
                      sizeof sub))
        goto out;
    buf body = {0};
    if (!load_body(root, rid, &body, sub, sizeof sub)) {
        free(body.p);
        goto out;
    }
    c->body = body.p;
    c->body_len = body.len;
    json_t *prior = json_object_get(root, "prior");
    if (prior) {
        json_t *pb = json_object_get(prior, "body");
        buf p = {0};
        if (!json_is_string(pb) ||
            !buf_add_subst(&p, json_string_value(pb), json_string_length(pb), rid)) {
            free(p.p);
            snprintf(sub, sizeof sub, "prior.body must be a string");
            goto out;
        }
        c->has_prior = true;
        c->prior_body = p.p;
        c->prior_len = p.len;
        c->prior_status = (int)json_integer_value(json_object_get(prior, "status"));
        c->prior_background = json_is_true(json_object_get(prior, "background"));
        json_t *ph = json_object_get(prior, "headers");
        if (ph && !load_headers(ph, rid, &c->prior_headers, &c->n_prior_headers, sub,
                                sizeof sub))
            goto out;
        if (!c->prior_status) {
            snprintf(sub, sizeof sub, "prior.status missing");
            goto out;
        }
    }
    if (!load_expect(json_object_get(root, "expect"), &c->expect, sub, sizeof sub))
        goto out;
    json_t *doors = json_object_get(root, "doors");
    const char *key;
    json_t *val;
    json_object_foreach(doors, key, val) {
        int d = -1;
        for (int i = 0; i < BAD_DOOR_COUNT; i++)
            if (strcmp(key, door_keys[i]) == 0)
                d = i;
        if (d < 0 || !json_is_object(val)) {
            snprintf(sub, sizeof sub, "unknown door \"%s\"", key);
            goto out;
        }
        bad_door *door = &c->doors[d];
        door->base64 = -1;
        const char *skip = json_string_value(json_object_get(val, "skip"));
        if (skip) {
            door->skip = true;
            snprintf(door->skip_reason, sizeof door->skip_reason, "%s", skip);
        }
        json_t *h = json_object_get(val, "headers");
        if (h && !load_headers(h, rid, &door->headers, &door->n_headers, sub, sizeof sub))
            goto out;
        door->raw = json_is_true(json_object_get(val, "raw"));
        json_t *b64 = json_object_get(val, "isBase64Encoded");
        if (b64)
            door->base64 = json_is_true(b64) ? 1 : 0;
        const char *eb = json_string_value(json_object_get(val, "event_body"));
        if (eb)
            door->event_body = strdup(eb);
        json_t *ex = json_object_get(val, "expect");
        if (ex) {
            door->has_expect = true;
            if (!load_expect(ex, &door->expect, sub, sizeof sub))
                goto out;
        }
    }
    for (int d = 0; d < BAD_DOOR_COUNT; d++)
        if (!json_object_get(doors, door_keys[d]))
            c->doors[d].base64 = -1;
    ok = true;
out:
    json_decref(root);
    if (!ok)
        fail(why, why_size, "%s: %s", name, sub);
    return ok;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const bad_case *)a)->name, ((const bad_case *)b)->name);
}

bool bad_cases_load(bad_case **out, size_t *n, char *why, size_t why_size)
{
    *out = NULL;
    *n = 0;
    const char *data = getenv("GDA_TEST_DATA");
    if (!data)
        return fail(why, why_size, "GDA_TEST_DATA is not set (run through meson test)");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bad", data);
    DIR *d = opendir(dir);
    if (!d)
        return fail(why, why_size, "cannot open %s", dir);
    bad_case *cases = NULL;
    size_t count = 0, cap = 0;
    struct dirent *de;
    bool ok = true;
    while (ok && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            bad_case *nc = realloc(cases, cap * sizeof *nc);
            if (!nc) {
                ok = fail(why, why_size, "out of memory");
                break;
            }
            cases = nc;
        }
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!load_case(path, de->d_name, &cases[count], why, why_size)) {
            case_free(&cases[count]);
            ok = false;
            break;
        }
        count++;
    }
    closedir(d);
    if (!ok) {
        bad_cases_free(cases, count);
        return false;
    }
    if (count == 0) {
        free(cases);
        return fail(why, why_size, "no cases in %s", dir);
    }
    qsort(cases, count, sizeof *cases, by_name);
    *out = cases;
    *n = count;
    return true;
}

void bad_cases_free(bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        case_free(&cases[i]);
    free(cases);
}

const bad_header *bad_case_headers(const bad_case *c, int door, size_t *n)
{
    if (c->doors[door].headers) {
        *n = c->doors[door].n_headers;
        return c->doors[door].headers;
    }
    *n = c->n_headers;
    return c->headers;
}

const bad_expect *bad_case_expect(const bad_case *c, int door)
{
    return c->doors[door].has_expect ? &c->doors[door].expect : &c->expect;
}

bool bad_check_answer(const bad_expect *e, int status, const char *body, size_t len, char *why,
                      size_t why_size)
{
    if (status != e->status && status != e->alt_status)
        return fail(why, why_size, "status %d, expected %d%s: %.300s", status, e->status,
                    e->alt_status >= 0 ? " (or the alternative)" : "", body ? body : "");
    if (!e->code[0] || status == 0 || (status != e->status))
        return true;
    json_error_t je;
    json_t *j = body ? json_loadb(body, len, 0, &je) : NULL;
    if (!j)
        return fail(why, why_size, "answer is not JSON: %.300s", body ? body : "");
    bool ok = true;
    json_t *err = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    json_t *retry = json_object_get(j, "requiresRetry");
    if (strcmp(e->code, "ok") == 0) {
        const char *st = json_string_value(json_object_get(j, "status"));
        if (!st || strcmp(st, "completed") != 0)
            ok = fail(why, why_size, "expected a completed answer: %.300s", body);
    } else if (!code || strcmp(code, e->code) != 0) {
        ok = fail(why, why_size, "error.code %s, expected %s", code ? code : "(none)", e->code);
    } else if (e->field[0] &&
               (!json_string_value(json_object_get(err, "field")) ||
                strcmp(json_string_value(json_object_get(err, "field")), e->field) != 0)) {
        ok = fail(why, why_size, "error.field %s, expected %s",
                  json_string_value(json_object_get(err, "field")) ? json_string_value(json_object_get(err, "field")) : "(none)",
                  e->field);
    }
    /* Genesys branches on requiresRetry: it must agree with the status class. */
    if (ok && (!json_is_boolean(retry) || json_is_true(retry) != (status >= 500)))
        ok = fail(why, why_size, "requiresRetry missing or inconsistent with %d", status);
    json_decref(j);
    return ok;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f)
        return NULL;
    buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (!buf_add(&b, chunk, n))
            break;
    fclose(f);
    *len = b.len;
    return b.p;
}

int bad_ledger_count(const char *path, const char *key)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text)
        return 0;
    int count = 0;
    size_t klen = strlen(key);
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t l = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (l == klen && memcmp(line, key, klen) == 0)
            count++;
        if (!nl)
            break;
        line = nl + 1;
    }
    free(text);
    return count;
}

int bad_ledger_lines(const char *path)
{
    size_t len;
    char *text = slurp(path, &len);
    int lines = 0;
    for (size_t i = 0; text && i < len; i++)
        lines += text[i] == '\n';
    free(text);
    return lines;
}

const char *bad_error_type_for(int status, const char *code)
{
    if (status >= 500)
        return "Retryable";
    switch (status) {
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 413: return "PayloadTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return code && strcmp(code, "idempotency_key_reused") == 0 ? "PayloadMismatch"
                                                                         : "Unprocessable";
    case 429: return "RateLimited";
    default: return "Invalid";
    }
}

/* ---- store and driver --------------------------------------------------- */

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <sqlite3.h>

int bad_store_rows(const char *db_path, const char *key)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    const char *sql = key ? "SELECT count(*) FROM gda_idempotency WHERE key = ?1"
                          : "SELECT count(*) FROM gda_idempotency";
    int rows = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (key)
            sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            rows = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

typedef struct prior_job {
    const bad_door_ops *ops;
    const bad_case *c;
    const bad_header *h;
    size_t nh;
    bad_answer answer;
    bool sent;
    char why[512];
} prior_job;

static void *prior_main(void *arg)
{
    prior_job *j = arg;
    j->sent = j->ops->send(j->ops->user, j->c, j->h, j->nh, j->c->prior_body, j->c->prior_len,
                           &j->answer, j->why, sizeof j->why);
    return NULL;
}

static bool check_lambda_delivery(int door, const bad_expect *e, const bad_answer *a, char *why,
                                  size_t why_size)
{
    if (door != BAD_DOOR_REST && door != BAD_DOOR_DIRECT)
        return true;
    /* Direct invocation reports every non-2xx outcome as a function error
     * (Genesys takes its failure path only then); the REST event gets its
     * status in the response unless the event itself was refused. */
    bool want_error = door == BAD_DOOR_DIRECT ? (e->status < 200 || e->status > 299)
                                              : e->delivery_error;
    if (a->delivery_error != want_error)
        return fail(why, why_size, "delivered as %s, expected %s", a->delivery_error ? "error" : "response",
                    want_error ? "error" : "response");
    if (want_error) {
        const char *type = e->error_type[0] ? e->error_type : bad_error_type_for(e->status, e->code);
        if (strcmp(a->error_type, type) != 0)
            return fail(why, why_size, "errorType %s, expected %s", a->error_type, type);
    }
    return true;
}

size_t bad_run_door(const bad_door_ops *ops, const bad_case *cases, size_t n)
{
    size_t failed = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        const bad_case *c = &cases[i];
        const char *door = bad_door_name(ops->door);
        if (c->doors[ops->door].skip) {
            printf("# %-28s %-13s skipped by the case: %s\n", c->name, door,
                   c->doors[ops->door].skip_reason);
            skipped++;
            continue;
        }
        size_t nh;
        const bad_header *h = bad_case_headers(c, ops->door, &nh);
        const bad_expect *e = bad_case_expect(c, ops->door);
        char why[768] = "";
        bool ok = true;
        int lines_before = bad_ledger_lines(ops->ledger_path);
        int rows_before = bad_store_rows(ops->db_path, NULL);
        if (rows_before < 0)
            rows_before = 0; /* the store may not have created its file yet */

        prior_job prior = {.ops = ops, .c = c, .h = h, .nh = nh};
        if (c->prior_headers) {
            prior.h = c->prior_headers;
            prior.nh = c->n_prior_headers;
        }
        pthread_t thread;
        bool thread_started = false;
        if (c->has_prior && c->prior_background) {
            thread_started = pthread_create(&thread, NULL, prior_main, &prior) == 0;
            if (!thread_started)
                ok = fail(why, sizeof why, "cannot start the prior request");
            /* The case must arrive while the prior really runs. */
            for (int t = 0; ok && t < 1000 && bad_ledger_count(ops->ledger_path, c->request_id) == 0; t++)
                nap_ms(10);
            if (ok && bad_ledger_count(ops->ledger_path, c->request_id) == 0)
                ok = fail(why, sizeof why, "the prior request never started executing");
        } else if (c->has_prior) {
            prior_main(&prior);
            if (!prior.sent)
                ok = fail(why, sizeof why, "prior: %s", prior.why);
            else if (prior.answer.status != c->prior_status)
                ok = fail(why, sizeof why, "prior answered %d, expected %d: %.200s",
                          prior.answer.status, c->prior_status,
                          prior.answer.body ? prior.answer.body : "");
        }

        bad_answer a = {0};
        if (ok && !ops->send(ops->user, c, h, nh, c->body, c->body_len, &a, why, sizeof why))
            ok = false;
        if (ok)
            ok = bad_check_answer(e, a.status, a.body, a.len, why, sizeof why);
        if (ok)
            ok = check_lambda_delivery(ops->door, e, &a, why, sizeof why);
        if (thread_started) {
            pthread_join(thread, NULL);
            if (ok && (!prior.sent || prior.answer.status != c->prior_status))
                ok = fail(why, sizeof why, "background prior answered %d, expected %d: %s",
                          prior.answer.status, c->prior_status, prior.sent ? "" : prior.why);
        }
        free(prior.answer.body);
        if (ok && ops->alive && !ops->alive(ops->user, why, sizeof why))
            ok = false;

        /* No case writes a store record or runs the handler; a prior or a
         * positive control does, exactly once. */
        int want = (c->has_prior || e->executes) ? 1 : 0;
        int lines_after = bad_ledger_lines(ops->ledger_path);
        int rows_after = bad_store_rows(ops->db_path, NULL);
        if (ok && lines_after - lines_before != want)
            ok = fail(why, sizeof why, "%d handler executions, expected %d",
                      lines_after - lines_before, want);
        if (ok && c->request_id && bad_ledger_count(ops->ledger_path, c->request_id) != want)
            ok = fail(why, sizeof why, "key executed %d times, expected %d",
                      bad_ledger_count(ops->ledger_path, c->request_id), want);
        if (ok && rows_after - rows_before != want)
            ok = fail(why, sizeof why, "%d store records written, expected %d",
                      rows_after - rows_before, want);
        if (ok && c->request_id && bad_store_rows(ops->db_path, c->request_id) != want)
            ok = fail(why, sizeof why, "%d records under the case's key, expected %d",
                      bad_store_rows(ops->db_path, c->request_id), want);
        if (!ok) {
            failed++;
            printf("not ok %-28s %-13s %s\n", c->name, door, why);
        } else {
            printf("ok     %-28s %-13s %d%s%s\n", c->name, door, a.status,
                   a.delivery_error ? " " : "", a.delivery_error ? a.error_type : "");
        }
        fflush(stdout);
        free(a.body);
    }
    printf("# %s: %zu cases, %zu failed, %zu not applicable to this door\n",
           bad_door_name(ops->door), n, failed, skipped);
    return failed;
}
