/* libgda shims — reading a small secret file (a key ring) straight into
 * guarded memory, shared by the environment configuration (env.c: the key
 * ring, GDA_HASH_KEY_FILE, GDA_DATA_KEY_FILE) and the Lambda secret sources
 * (shims/lambda/secrets.c). Each caller words its own
 * errors: they name different variables.
 *
 * Thread safety: reentrant.
 */
#ifndef GDA_SHIM_SECRET_FILE_H
#define GDA_SHIM_SECRET_FILE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum gda_secret_file_result {
    GDA_SECRET_FILE_OK,
    GDA_SECRET_FILE_UNOPENABLE, /* open(2) failed; errno says why */
    GDA_SECRET_FILE_UNFIT,      /* not a regular file, or its size is outside [min, max] */
    GDA_SECRET_FILE_NOMEM
} gda_secret_file_result;

/* Reads the regular file at path, of min_size to max_size bytes, into
 * sodium_malloc memory: on GDA_SECRET_FILE_OK *text (NUL-terminated; the
 * caller frees it with sodium_free, which wipes it) holds the *len bytes
 * read, and *file_size is the size the file had when opened — *len is
 * smaller when the file shrank or a read failed part way, which the caller
 * may refuse. Nothing is allocated on any other result. */
gda_secret_file_result gda_secret_file_read(const char *path, size_t min_size, size_t max_size,
                                            char **text, size_t *len, size_t *file_size);

/* True when the file at path exists and gives group or others any
 * permission (a secret others on the host can read, or replace); *mode gets
 * its permission bits. Callers log a WARN naming the file, never its
 * contents. */
bool gda_secret_file_exposed(const char *path, unsigned *mode);

#endif
