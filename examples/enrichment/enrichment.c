/* Example business handler: caller enrichment (see enrichment.h). */
#include "enrichment.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gda/request.h>

struct enrichment_table {
    enrichment_customer *rows;
    size_t n_rows;
    /* Open-addressing index into rows (SIZE_MAX = empty); size is a power of
     * two at least twice n_rows so probes stay short. */
    size_t *slots;
    size_t n_slots;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: fine for a trusted table */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static bool one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        if (strcmp(v, *allowed) == 0)
            return true;
    }
    return false;
}

static bool looks_e164(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    for (size_t i = 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

static void free_rows(enrichment_customer *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)rows[i].phone);
        free((char *)rows[i].tier);
        free((char *)rows[i].account_status);
        free((char *)rows[i].language);
    }
    free(rows);
}

void enrichment_table_free(enrichment_table *table)
{
    if (!table)
        return;
    free_rows(table->rows, table->n_rows);
    free(table->slots);
    free(table);
}

/* Parse one CSV line in place into a row. Returns false on a malformed row. */
static bool parse_row(char *line, enrichment_customer *row)
{
    static const char *const tiers[] = {"platinum", "gold", "silver", "bronze", NULL};
    static const char *const statuses[] = {"active", "past_due", "closed", NULL};
    char *fields[5];
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == 5)
            return false;
        fields[n++] = tok;
    }
    if (n != 5 || !looks_e164(fields[0]) || !one_of(fields[1], tiers) ||
        !one_of(fields[2], statuses) || !*fields[3])
        return false;
    char *end = NULL;
    errno = 0;
    long cases = strtol(fields[4], &end, 10);
    if (errno || *end || cases < 0 || cases > 100000)
        return false;
    row->phone = strdup(fields[0]);
    row->tier = strdup(fields[1]);
    row->account_status = strdup(fields[2]);
    row->language = strdup(fields[3]);
    row->open_cases = (int)cases;
    return row->phone && row->tier && row->account_status && row->language;
}

static bool index_rows(enrichment_table *t, size_t *dup_row)
{
    t->n_slots = 16;
    while (t->n_slots < t->n_rows * 2)
        t->n_slots *= 2;
    t->slots = malloc(t->n_slots * sizeof *t->slots);
    if (!t->slots)
        return false;
    for (size_t i = 0; i < t->n_slots; i++)
        t->slots[i] = SIZE_MAX;
    for (size_t r = 0; r < t->n_rows; r++) {
        size_t i = (size_t)hash_str(t->rows[r].phone) & (t->n_slots - 1);
        while (t->slots[i] != SIZE_MAX) {
            if (strcmp(t->rows[t->slots[i]].phone, t->rows[r].phone) == 0) {
                *dup_row = r;
                return false;
            }
            i = (i + 1) & (t->n_slots - 1);
        }
        t->slots[i] = r;
    }
    return true;
}

gda_status enrichment_table_open(const char *path, enrichment_table **out, gda_error *err)
{
    /* The status is needed even when the caller passes no err. */
    gda_error local;
    gda_error_clear(&local);
    *out = enrichment_table_load(path, &local);
    if (*out)
        return GDA_OK;
    if (err)
        *err = local;
    return local.code;
}

void enrichment_table_close(void *user)
{
    enrichment_table_free(user);
}

enrichment_table *enrichment_table_load(const char *path, gda_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "cannot open customer table %s: %s", path,
                      strerror(errno));
        return NULL;
    }
    enrichment_table *t = calloc(1, sizeof *t);
    size_t cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    size_t line_no = 0;
    ssize_t got;
    if (!t)
        goto nomem;
    while ((got = getline(&line, &line_cap, f)) >= 0) {
        line_no++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got == 0 || line[0] == '#')
            continue;
        if (t->n_rows == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            enrichment_customer *nrows = realloc(t->rows, ncap * sizeof *nrows);
            if (!nrows)
                goto nomem;
            t->rows = nrows;
            cap = ncap;
        }
        memset(&t->rows[t->n_rows], 0, sizeof t->rows[0]);
        t->n_rows++;
        if (!parse_row(line, &t->rows[t->n_rows - 1])) {
            gda_error_set(err, GDA_ERR_CONFIG, NULL, "%s line %zu: malformed customer row", path,
                          line_no);
            goto fail;
        }
    }
    size_t dup = 0;
    if (!index_rows(t, &dup)) {
        if (!t->slots)
            goto nomem;
        gda_error_set(err, GDA_ERR_CONFIG, NULL, "%s: phone number of row %zu is listed twice",
                      path, dup + 1);
        goto fail;
    }
    free(line);
    fclose(f);
    return t;
nomem:
    gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory loading %s", path);
fail:
    free(line);
    fclose(f);
    enrichment_table_free(t);
    return NULL;
}

const enrichment_customer *enrichment_lookup(const enrichment_table *table, const char *phone)
{
    if (!table || !phone || !table->n_slots)
        return NULL;
    size_t i = (size_t)hash_str(phone) & (table->n_slots - 1);
    while (table->slots[i] != SIZE_MAX) {
        const enrichment_customer *c = &table->rows[table->slots[i]];
        if (strcmp(c->phone, phone) == 0)
            return c;
        i = (i + 1) & (table->n_slots - 1);
    }
    return NULL;
}

size_t enrichment_table_size(const enrichment_table *table)
{
    return table ? table->n_rows : 0;
}

const char *enrichment_routing_hint(const enrichment_customer *c)
{
    if (!c)
        return "general";
    if (strcmp(c->account_status, "closed") == 0)
        return "retention";
    if (strcmp(c->account_status, "past_due") == 0)
        return "billing";
    if (c->open_cases >= 3)
        return "case_followup";
    if (strcmp(c->tier, "platinum") == 0 || strcmp(c->tier, "gold") == 0)
        return "priority";
    return "standard";
}

gda_status enrichment_handler(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                              gda_error *err, void *user)
{
    (void)ctx;
    const enrichment_table *table = user;
    if (!table)
        return gda_error_set(err, GDA_ERR_UNAVAILABLE, NULL, "customer table not loaded");
    const char *caller = gda_request_string(req, "callerId");
    const enrichment_customer *c = enrichment_lookup(table, caller);
    json_t *data = c ? json_pack("{s:b, s:s, s:s, s:s, s:i, s:s}", "customerFound", 1, "tier",
                                 c->tier, "accountStatus", c->account_status, "language",
                                 c->language, "openCases", c->open_cases, "routingHint",
                                 enrichment_routing_hint(c))
                     : json_pack("{s:b, s:s, s:s}", "customerFound", 0, "tier", "unknown",
                                 "routingHint", enrichment_routing_hint(NULL));
    if (!data)
        return gda_error_set(err, GDA_ERR_NOMEM, NULL, "out of memory");
    *data_out = data;
    return GDA_OK;
}

const char *enrichment_default_table_path(void)
{
    return GDA_ENRICHMENT_TABLE;
}
