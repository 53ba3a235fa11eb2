/* SPDX-License-Identifier: Apache-2.0 */
/* The bounded buffer of <mesh/buf.h>: one type for every untrusted body. */
#include <mesh/buf.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include <mesh/util.h>

struct mesh_buf {
    char *data;
    size_t len;
    size_t cap; /* allocated bytes, the NUL included */
    size_t max;
};

static char empty_data[1];

MESH_EXPORT mesh_buf_t *mesh_buf_new(size_t max)
{
    mesh_buf_t *b;

    if (max == 0 || max == SIZE_MAX) {
        return NULL;
    }
    b = calloc(1, sizeof(*b));
    if (b != NULL) {
        b->max = max;
    }
    return b;
}

MESH_EXPORT void mesh_buf_free(mesh_buf_t *b)
{
    if (b == NULL) {
        return;
    }
    if (b->data != NULL) {
        mesh_wipe(b->data, b->cap);
        free(b->data);
    }
    free(b);
}

/* Grows to hold `need` bytes and the NUL: doubling, capped at max + 1. The old bytes are
 * copied and wiped, not realloc()ed, so no copy of a secret is left in freed memory. */
static mesh_err_t buf_grow(mesh_buf_t *b, size_t need, const char *what)
{
    size_t cap = b->cap < 256 ? 256 : b->cap;
    char *p;

    while (cap < need + 1) {
        cap = cap > (b->max + 1) / 2 ? b->max + 1 : cap * 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    p = malloc(cap);
    if (p == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "%s: out of memory for %zu bytes", what, cap);
    }
    if (b->data != NULL) {
        memcpy(p, b->data, b->len + 1);
        mesh_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_buf_append(mesh_buf_t *b, const void *data, size_t n, const char *what)
{
    mesh_err_t rc;

    if (what == NULL) {
        what = "input";
    }
    if (b == NULL || (data == NULL && n > 0)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "%s: no buffer or no data", what);
    }
    if (n > b->max - b->len) {
        return mesh_err_set(MESH_ERR_LIMIT, "%s: over the %zu-byte limit", what, b->max);
    }
    if (b->data == NULL || b->len + n + 1 > b->cap) {
        if ((rc = buf_grow(b, b->len + n, what)) != MESH_OK) {
            return rc;
        }
    }
    if (n > 0) {
        memcpy(b->data + b->len, data, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return MESH_OK;
}

MESH_EXPORT const char *mesh_buf_data(const mesh_buf_t *b)
{
    return b == NULL || b->data == NULL ? empty_data : b->data;
}

MESH_EXPORT size_t mesh_buf_len(const mesh_buf_t *b)
{
    return b == NULL ? 0 : b->len;
}

MESH_EXPORT size_t mesh_buf_max(const mesh_buf_t *b)
{
    return b == NULL ? 0 : b->max;
}

MESH_EXPORT void mesh_buf_reset(mesh_buf_t *b)
{
    if (b != NULL && b->data != NULL) {
        mesh_wipe(b->data, b->cap);
        b->len = 0;
        b->data[0] = '\0';
    }
}

MESH_EXPORT char *mesh_buf_take(mesh_buf_t *b, size_t *len)
{
    char *out;

    if (b == NULL) {
        return NULL;
    }
    if (b->data == NULL) {
        out = calloc(1, 1);
        if (out != NULL && len != NULL) {
            *len = 0;
        }
        return out;
    }
    out = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return out;
}
