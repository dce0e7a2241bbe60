/* libgda — replays the fuzzing inputs in every build (ordinary and
 * sanitizer), without libFuzzer.
 *
 * For each fuzz target (tests/fuzz/fuzz_<name>.c, compiled here with
 * GDA_FUZZ_NO_MAIN) it runs every input of
 *   tests/data/fuzz-regressions/<name>/   inputs that once crashed a target or
 *                                         broke one of its invariants
 *   tests/fuzz/seeds/<name>/              the committed seed corpus
 * through the target's own harness, which checks the same invariants the
 * fuzzer does (see the comment at the top of each target). A harness that
 * returns non-zero, or a sanitizer report, fails the test. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

typedef int (*harness_fn)(const uint8_t *data, size_t size);

int gda_fuzz_event(const uint8_t *data, size_t size);
int gda_fuzz_request(const uint8_t *data, size_t size);
int gda_fuzz_verify(const uint8_t *data, size_t size);
int gda_fuzz_authorizer(const uint8_t *data, size_t size);
int gda_fuzz_jwt(const uint8_t *data, size_t size);
int gda_fuzz_keyring(const uint8_t *data, size_t size);
int gda_fuzz_app(const uint8_t *data, size_t size);
#ifdef GDA_FUZZ_HAVE_SQLITE
int gda_fuzz_sqlite_record(const uint8_t *data, size_t size);
#endif

static const char *data_root(void)
{
    const char *d = getenv("GDA_TEST_DATA");
    return d && *d ? d : GDA_TEST_DATA;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, ncap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Run every regular file of dir through fn; returns how many ran, and adds
 * the names of failing ones to *failures. A missing directory runs none. */
static size_t replay_dir(const char *dir, harness_fn fn, size_t *failures)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t ran = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        size_t len = 0;
        uint8_t *buf = read_all(path, &len);
        assert_non_null(buf);
        if (fn(buf, len) != 0) {
            fprintf(stderr, "fuzz input failed: %s\n", path);
            (*failures)++;
        }
        free(buf);
        ran++;
    }
    closedir(d);
    return ran;
}

typedef struct target {
    const char *name;
    harness_fn fn;
} target;

static void replay(void **state)
{
    const target *t = *state;
    char dir[4096];
    size_t failures = 0;
    snprintf(dir, sizeof dir, "%s/fuzz-regressions/%s", data_root(), t->name);
    size_t ran = replay_dir(dir, t->fn, &failures);
    snprintf(dir, sizeof dir, "%s/../fuzz/seeds/%s", data_root(), t->name);
    size_t seeds = replay_dir(dir, t->fn, &failures);
    /* Every target has committed seeds: none found means a broken path, not
     * a pass. */
    assert_true(seeds > 0);
    print_message("fuzz_%s: %zu regression inputs, %zu seeds\n", t->name, ran, seeds);
    assert_int_equal(failures, 0);
}

static target targets[] = {
    {"event", gda_fuzz_event},
    {"request", gda_fuzz_request},
    {"verify", gda_fuzz_verify},
    {"authorizer", gda_fuzz_authorizer},
    {"jwt", gda_fuzz_jwt},
    {"keyring", gda_fuzz_keyring},
    {"app", gda_fuzz_app},
#ifdef GDA_FUZZ_HAVE_SQLITE
    {"sqlite_record", gda_fuzz_sqlite_record},
#endif
};

int main(void)
{
    struct CMUnitTest tests[sizeof targets / sizeof targets[0]];
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct CMUnitTest t = {targets[i].name, replay, NULL, NULL, &targets[i]};
        tests[i] = t;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
