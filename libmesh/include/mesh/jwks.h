/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON Web Key Sets (RFC 7517 §5). A set is immutable once built and reference counted, so a
 * verifier can swap in a new set while other threads still finish with the old one.
 */
#ifndef MESH_JWKS_H
#define MESH_JWKS_H

#include <stddef.h>

#include <mesh/error.h>
#include <mesh/key.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mesh_jwks mesh_jwks_t;

/*
 * Parses a JWKS document of `len` bytes (at most MESH_MAX_JWKS_BYTES). Keys with an unknown
 * "kty" or "crv", or with "use":"enc", are skipped (not an error); a key of a supported type
 * that is invalid or weak fails the whole set. A repeated kid is MESH_ERR_JWKS_DUPLICATE_KID,
 * public keys mixed with private ones MESH_ERR_KEY_MIXED, more than MESH_MAX_JWKS_KEYS usable
 * keys MESH_ERR_LIMIT. A set with no usable key parses (count 0). *out is new.
 */
MESH_WUR mesh_err_t mesh_jwks_parse(const char *json, size_t len, mesh_jwks_t **out);

/* Reads and parses a JWKS file. */
MESH_WUR mesh_err_t mesh_jwks_load_file(const char *path, mesh_jwks_t **out);

/*
 * Builds a set from `n` keys (each gets one more reference; the caller keeps its own). The
 * published form holds only public halves. Duplicate kids are MESH_ERR_JWKS_DUPLICATE_KID.
 */
MESH_WUR mesh_err_t mesh_jwks_from_keys(mesh_key_t *const *keys, size_t n, mesh_jwks_t **out);

mesh_jwks_t *mesh_jwks_ref(mesh_jwks_t *set); /* NULL-safe, thread-safe */
void mesh_jwks_free(mesh_jwks_t *set);        /* drops a reference; NULL-safe */

size_t mesh_jwks_count(const mesh_jwks_t *set);

/* The i-th key (borrowed; NULL when out of range). */
const mesh_key_t *mesh_jwks_get(const mesh_jwks_t *set, size_t i);

/* The key whose kid is the `kid_len` bytes at `kid`, compared exactly; NULL if none. Borrowed. */
const mesh_key_t *mesh_jwks_find(const mesh_jwks_t *set, const char *kid, size_t kid_len);

/* {"keys":[...]} with the public half of every key. *out is released with mesh_free(). */
MESH_WUR mesh_err_t mesh_jwks_to_json(const mesh_jwks_t *set, char **out);

#ifdef __cplusplus
}
#endif
#endif /* MESH_JWKS_H */
