/* SPDX-License-Identifier: Apache-2.0 */
/* Internal helpers shared by libmesh's own files. Never installed, never used by programs. */
#ifndef MESH_INTERNAL_H
#define MESH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>
#include <mesh/util.h>

#define MESH_EXPORT       __attribute__((visibility("default")))
#define MESH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* mesh_err_set, mesh_err_openssl and mesh_err_clear are public: see <mesh/error.h>. */

/* Bounded file reads are mesh_file_read (<mesh/util.h>), public for programs too. */

/* getenv(), with an empty variable counting as unset (env.c). */
const char *mesh_env_get(const char *name);

#endif /* MESH_INTERNAL_H */
