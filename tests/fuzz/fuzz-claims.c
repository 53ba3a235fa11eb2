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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    mesh_jwt_verify_opts_t opts;
    mesh_identity_t *claims = NULL;
    char *json = NULL;

    mesh_jwt_verify_opts_init(&opts);
    opts.issuer = "https://issuer.mesh.local";
    opts.audience = "gateway";
    opts.now = 1700000000;
    opts.cert_der = cert;
    opts.cert_der_len = sizeof(cert);
    opts.revoked = never_revoked;
    opts.required_scope = "read";
    if (mesh_jwt_validate_claims(data, size, NULL, &opts, &claims) == MESH_OK) {
        if (strcmp(mesh_identity_issuer(claims), opts.issuer) != 0 ||
            !mesh_identity_has_scope(claims, "read") ||
            mesh_identity_to_json(claims, &json) != MESH_OK) {
            abort();
        }
    }
    mesh_free(json);
    mesh_identity_free(claims);
    return 0;
}
