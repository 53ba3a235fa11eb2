/* SPDX-License-Identifier: Apache-2.0 */
/* Internal helpers shared by libmesh's own files. Never installed, never used by programs. */
#ifndef MESH_INTERNAL_H
#define MESH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>

#define MESH_EXPORT __attribute__((visibility("default")))
#define MESH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Records `code` with a printf-style detail for mesh_err_detail() and returns `code`, so a
 * failure reads `return mesh_err_set(MESH_ERR_EXPIRED, "exp %lld ...", ...);`. Never pass a
 * secret, key or token in the detail.
 */
mesh_err_t mesh_err_set(mesh_err_t code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records `code` with OpenSSL's most recent error reason appended to `what`. */
mesh_err_t mesh_err_openssl(mesh_err_t code, const char *what);

/* Clears this thread's detail (called at the start of public entry points that may fail). */
void mesh_err_clear(void);

/* Reads a whole file of at most `max` bytes into a new NUL-terminated buffer. */
mesh_err_t mesh_read_file(const char *path, size_t max, char **out, size_t *len);

#endif /* MESH_INTERNAL_H */
