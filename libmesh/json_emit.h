/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small JSON writer for the few documents libmesh writes on a hot path (the JOSE header and
 * the claims of a token it signs). It only writes: every JSON from outside is parsed by jansson
 * (json.c). Output goes into the caller's buffer, so signing a token allocates nothing for its
 * JSON, and it is byte for byte what jansson's json_dumps(JSON_COMPACT) writes for the same
 * values (test-json-emit.c compares the two).
 */
#ifndef MESH_JSON_EMIT_H
#define MESH_JSON_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    mesh_err_t err; /* first failure: MESH_ERR_LIMIT (no room) or MESH_ERR_UTF8; else MESH_OK */
} mesh_jemit_t;

/* Starts writing into `buf` (capacity `cap`). Nothing is NUL-terminated; use len. */
void mesh_jemit_init(mesh_jemit_t *w, char *buf, size_t cap);

/* Appends `s` as is: only for JSON syntax and member names the caller wrote itself. */
void mesh_jemit_raw(mesh_jemit_t *w, const char *s);

/*
 * Appends the NUL-terminated `s` as a JSON string (RFC 8259 §7): quote, backslash and control
 * characters escaped, everything else as is. `s` must be well-formed UTF-8 (RFC 3629: no
 * overlong forms, surrogates or code points above U+10FFFF), else MESH_ERR_UTF8.
 */
void mesh_jemit_str(mesh_jemit_t *w, const char *s);

/* Appends a JSON integer. */
void mesh_jemit_int(mesh_jemit_t *w, int64_t v);

#endif /* MESH_JSON_EMIT_H */
