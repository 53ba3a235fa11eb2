/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded buffer for untrusted bytes (request and response bodies, files from outside):
 * it grows up to the limit it was made with and never past it, keeps a NUL after the data,
 * and wipes what it held when freed or reset, so a body that carried a secret leaves
 * nothing behind. Not thread-safe (one owner at a time). Never blocks.
 */
#ifndef MESH_BUF_H
#define MESH_BUF_H

#include <stddef.h>

#include <mesh/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mesh_buf mesh_buf_t;

/* A new, empty buffer that will hold at most `max` bytes (max >= 1). NULL when out of
 * memory or max is 0. */
mesh_buf_t *mesh_buf_new(size_t max);

/* Wipes and frees. NULL-safe. */
void mesh_buf_free(mesh_buf_t *b);

/* Appends `n` bytes. MESH_ERR_LIMIT (naming `what` and the limit) when the buffer would
 * exceed its maximum: nothing is appended then. MESH_ERR_NOMEM when growing fails. */
MESH_WUR mesh_err_t mesh_buf_append(mesh_buf_t *b, const void *data, size_t n, const char *what);

/* The bytes so far, followed by a NUL (not counted in mesh_buf_len). Valid until the next
 * append, reset or free. Never NULL for a buffer. */
const char *mesh_buf_data(const mesh_buf_t *b);
size_t mesh_buf_len(const mesh_buf_t *b);
size_t mesh_buf_max(const mesh_buf_t *b);

/* Wipes the contents and makes the buffer empty again (its memory is kept). */
void mesh_buf_reset(mesh_buf_t *b);

/* Hands the bytes to the caller as a new NUL-terminated string (mesh_free(); *len optional)
 * and leaves the buffer empty. NULL when out of memory (the buffer is then unchanged). */
char *mesh_buf_take(mesh_buf_t *b, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* MESH_BUF_H */
