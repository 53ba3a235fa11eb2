/* SPDX-License-Identifier: Apache-2.0 */
/* The one string and range check behind every option setter (client, verifier, JWT verify
 * options, JWT claims): the detail names the object and the option. */
#ifndef MESH_OPTS_H
#define MESH_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>

enum {
    MESH_OPT_REQUIRED = 1u,     /* NULL and "" are refused (MESH_ERR_INVALID_ARG) */
    MESH_OPT_EMPTY_UNSETS = 2u, /* "" unsets the option, as NULL does */
    MESH_OPT_SECRET = 4u,       /* the old value is wiped before it is freed */
};

/* Starts a setter: clears the error detail; a NULL handle is MESH_ERR_INVALID_ARG naming
 * `what` and `name`. */
#define MESH_OPT_NEED(o, what, name)                                                               \
    do {                                                                                           \
        mesh_err_clear();                                                                          \
        if ((o) == NULL) {                                                                         \
            return mesh_err_set(MESH_ERR_INVALID_ARG, "%s %s: no handle", what, name);             \
        }                                                                                          \
    } while (0)

/*
 * *slot = a copy of `value` (NULL unsets, and "" too with MESH_OPT_EMPTY_UNSETS); the old value
 * is freed (wiped first with MESH_OPT_SECRET). A value longer than `max` bytes fails with
 * `over` (MESH_ERR_INVALID_ARG or MESH_ERR_LIMIT). On failure *slot is unchanged.
 */
mesh_err_t mesh_opt_str(const char *what, const char *name, char **slot, const char *value,
                        size_t max, mesh_err_t over, unsigned int flags);

/* MESH_ERR_INVALID_ARG "<what> <name>: V is not in LO..HI" unless lo <= v <= hi. */
mesh_err_t mesh_opt_range(const char *what, const char *name, int64_t v, int64_t lo, int64_t hi);

/* Wipes and frees a string that held a secret. NULL-safe. */
void mesh_opt_free_secret(char *s);

#endif /* MESH_OPTS_H */
