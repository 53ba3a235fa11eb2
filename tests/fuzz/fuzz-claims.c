/* SPDX-License-Identifier: Apache-2.0 */
/* JWT claims JSON: every validation rule on arbitrary payload bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool never_revoked(void *ctx, const char *jti)
{
    (void)ctx;
    return strcmp(jti, "revoked-jti") == 0;
}

#define ISS "https://issuer.mesh.local"

/* The options, made once for the whole run (they are read-only while verifying). */
static const mesh_jwt_verify_opts_t *opts(void)
{
    static const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    static mesh_jwt_verify_opts_t *o;

    if (o == NULL && (mesh_jwt_verify_opts_new(&o) != MESH_OK ||
                      mesh_jwt_verify_opts_set_issuer(o, ISS) != MESH_OK ||
                      mesh_jwt_verify_opts_set_audience(o, "gateway") != MESH_OK ||
                      mesh_jwt_verify_opts_set_now(o, 1700000000) != MESH_OK ||
                      mesh_jwt_verify_opts_set_cert(o, cert, sizeof(cert)) != MESH_OK ||
                      mesh_jwt_verify_opts_set_revoked(o, never_revoked, NULL) != MESH_OK ||
                      mesh_jwt_verify_opts_set_required_scope(o, "read") != MESH_OK)) {
        abort();
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mesh_identity_t *claims = NULL;
    char *json = NULL;

    if (mesh_jwt_validate_claims(data, size, NULL, opts(), &claims) == MESH_OK) {
        if (strcmp(mesh_identity_issuer(claims), ISS) != 0 ||
            !mesh_identity_has_scope(claims, "read") ||
            mesh_identity_to_json(claims, &json) != MESH_OK) {
            abort();
        }
    }
    mesh_free(json);
    mesh_identity_free(claims);
    return 0;
}
