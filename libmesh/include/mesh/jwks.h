/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON Web Key Sets (RFC 7517 §5). A set is immutable once built and reference counted, so a
 * verifier can swap in a new set while other threads still finish with the old one. No call
 * here touches the network (fetching a JWKS is the verifier's, verifier.h); only
 * mesh_jwks_load_file blocks, on the file system.
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
 * Parses a JWKS document of `len` bytes (at most MESH_MAX_JWKS_BYTES, else MESH_ERR_LIMIT): an
 * object with a "keys" array (else MESH_ERR_JSON). Keys libmesh cannot use are skipped, not an
 * error (RFC 7517 §5): an unknown "kty" (including "oct": HMAC is not supported) or "crv", an
 * "alg" libmesh does not implement, "use" other than "sig", "key_ops" without sign/verify. A
 * key of a supported type that is malformed, invalid or weak fails the whole set with that
 * key's error (see mesh_key_from_jwk). A kid repeated among the usable keys is
 * MESH_ERR_JWKS_DUPLICATE_KID; public keys next to secret ones (a "d" or a symmetric "k",
 * skipped or not) MESH_ERR_KEY_MIXED; more than MESH_MAX_JWKS_KEYS usable keys
 * MESH_ERR_LIMIT. A set with no usable key parses (count 0). *out is new; untouched on error.
 * Does not block.
 */
MESH_WUR mesh_err_t mesh_jwks_parse(const char *json, size_t len, mesh_jwks_t **out);

/* Reads and parses a JWKS file, as mesh_jwks_parse; MESH_ERR_IO when it cannot be read.
 * Blocks on the file system (one bounded read). */
MESH_WUR mesh_err_t mesh_jwks_load_file(const char *path, mesh_jwks_t **out);

/*
 * Builds a set from `n` keys (each gets one more reference; the caller keeps its own). The
 * published form holds only public halves. Duplicate kids are MESH_ERR_JWKS_DUPLICATE_KID, a
 * NULL key MESH_ERR_INVALID_ARG, more than MESH_MAX_JWKS_KEYS MESH_ERR_LIMIT. n = 0 gives an
 * empty set. Does not block.
 */
MESH_WUR mesh_err_t mesh_jwks_from_keys(mesh_key_t *const *keys, size_t n, mesh_jwks_t **out);

mesh_jwks_t *mesh_jwks_ref(mesh_jwks_t *set); /* NULL-safe, thread-safe */
void mesh_jwks_free(mesh_jwks_t *set);        /* drops a reference; NULL-safe */

/* Number of usable keys (0 for NULL). This and the lookups below do not block. */
size_t mesh_jwks_count(const mesh_jwks_t *set);

/* The i-th key (borrowed; NULL when out of range). */
const mesh_key_t *mesh_jwks_get(const mesh_jwks_t *set, size_t i);

/* The key whose kid is the `kid_len` bytes at `kid`, compared exactly; NULL if none. Borrowed. */
const mesh_key_t *mesh_jwks_find(const mesh_jwks_t *set, const char *kid, size_t kid_len);

/* {"keys":[...]} with the public half of every key. *out is released with mesh_free(). Does
 * not block. */
MESH_WUR mesh_err_t mesh_jwks_to_json(const mesh_jwks_t *set, char **out);

#ifdef __cplusplus
}
#endif
#endif /* MESH_JWKS_H */
