/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which of a JWKS's keys a verifier may use, when its configuration names the algorithms an
 * issuer's keys may have (mesh_verifier_opts_set_algorithms, verifier.h). Internal.
 */
#ifndef MESH_KEY_SELECT_H
#define MESH_KEY_SELECT_H

#include <stddef.h>

#include <mesh/jwks.h>
#include <mesh/key.h>
#include <mesh/limits.h>

/* The bit of one algorithm in an allowed-algorithm mask (0: no list, the mesh rules). */
#define MESH_ALG_BIT(a) (1u << (unsigned)(a))

/* A space-separated list of JOSE names ("RS256 ES256") as a mask. MESH_ERR_INVALID_ARG naming
 * `what` for an empty list or a name libmesh does not implement (HS256 among them: an HMAC key
 * is configured, never listed). */
mesh_err_t mesh_algs_parse(const char *list, const char *what, unsigned *mask);

/* The mask as a space-separated list of names into `buf`. */
void mesh_algs_format(unsigned mask, char *buf, size_t cap);

/* Keys of a JWKS not used, and why (the first MESH_MAX_JWKS_KEYS; `total` counts them all). */
typedef struct {
    size_t total, n;
    struct {
        char kid[MESH_KID_MAX + 1];
        char why[128];
    } k[MESH_MAX_JWKS_KEYS];
} mesh_jwks_skipped_t;

/*
 * mesh_jwks_parse (jwks.h), with the algorithm of each key decided by `mask` (RFC 8725 §3.1:
 * the key fixes the algorithm): a JWK whose "alg" is outside the list is skipped; a JWK
 * without "alg" is used only when its kty/crv fixes exactly one allowed algorithm (EC P-256:
 * ES256; OKP Ed25519: EdDSA; RSA: the one RSA algorithm, when the list has exactly one of
 * RS256 and PS256). The other rules are mesh_jwks_parse's: unsupported keys skipped, a
 * malformed supported key fails the set, secrets next to public keys MESH_ERR_KEY_MIXED,
 * duplicate kids, at most MESH_MAX_JWKS_KEYS usable keys. `skipped` (optional) says which
 * keys were left out. `what` names the document in details.
 */
mesh_err_t mesh_jwks_parse_allowed(const char *json, size_t len, unsigned mask, const char *what,
                                   mesh_jwks_t **out, mesh_jwks_skipped_t *skipped);

#endif /* MESH_KEY_SELECT_H */
