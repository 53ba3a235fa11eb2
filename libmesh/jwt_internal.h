/* SPDX-License-Identifier: Apache-2.0 */
/* What jwt_claims.c offers the verifier beyond the public jwt.h. Internal. */
#ifndef MESH_JWT_INTERNAL_H
#define MESH_JWT_INTERNAL_H

#include <stdbool.h>

#include <mesh/jwt.h>

/* mesh_jwt_validate_claims, with the certificate binding left out when `binding` is false:
 * the verifier decides binding itself, in one place for its fresh and cached paths. */
mesh_err_t mesh_jwt_claims_validate(const uint8_t *payload, size_t len,
                                    const mesh_jws_header_t *hdr,
                                    const mesh_jwt_verify_opts_t *opts, bool binding,
                                    mesh_claims_t **out);

#endif /* MESH_JWT_INTERNAL_H */
