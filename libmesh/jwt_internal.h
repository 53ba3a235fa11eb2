/* SPDX-License-Identifier: Apache-2.0 */
/* What jwt_claims.c offers the verifier beyond the public jwt.h. Internal. */
#ifndef MESH_JWT_INTERNAL_H
#define MESH_JWT_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <mesh/jwt.h>

/* A verified token (jwt.h): the parsed claims, borrowed from `root`, and a reference count.
 * Filled once by jwt_claims.c, never changed after it is returned. */
struct mesh_identity {
    atomic_int refs;
    json_t *root;
    const char *iss, *sub, *aud, *jti, *scope, *client_id, *x5t;
    size_t scope_len;
    int64_t exp, iat, nbf;
};

/* true when `want` is one of the `n` bytes of space-separated `scopes` (exact match). */
bool mesh_scope_has(const char *scopes, size_t n, const char *want);

/* mesh_jwt_validate_claims, with the certificate binding left out when `binding` is false:
 * the verifier decides binding itself, in one place for its fresh and cached paths. */
mesh_err_t mesh_jwt_claims_validate(const uint8_t *payload, size_t len,
                                    const mesh_jws_header_t *hdr,
                                    const mesh_jwt_verify_opts_t *opts, bool binding,
                                    mesh_identity_t **out);

#endif /* MESH_JWT_INTERNAL_H */
