/* SPDX-License-Identifier: Apache-2.0 */
#include "opts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/util.h>

void mesh_opt_free_secret(char *s)
{
    if (s != NULL) {
        mesh_wipe(s, strlen(s));
        free(s);
    }
}

mesh_err_t mesh_opt_str(const char *what, const char *name, char **slot, const char *value,
                        size_t max, mesh_err_t over, unsigned int flags)
{
    bool empty = value == NULL || value[0] == '\0';
    char *copy = NULL;

    if (empty && (flags & MESH_OPT_REQUIRED)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "%s %s: empty", what, name);
    }
    if (value != NULL && !(empty && (flags & MESH_OPT_EMPTY_UNSETS))) {
        size_t len = strlen(value);
        if (len > max) {
            return mesh_err_set(over, "%s %s: over %zu bytes", what, name, max);
        }
        if ((copy = malloc(len + 1)) == NULL) {
            return mesh_err_set(MESH_ERR_NOMEM, "%s %s", what, name);
        }
        memcpy(copy, value, len + 1);
    }
    if (flags & MESH_OPT_SECRET) {
        mesh_opt_free_secret(*slot);
    } else {
        free(*slot);
    }
    *slot = copy;
    return MESH_OK;
}

mesh_err_t mesh_opt_range(const char *what, const char *name, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "%s %s: %lld is not in %lld..%lld", what, name,
                            (long long)v, (long long)lo, (long long)hi);
    }
    return MESH_OK;
}
