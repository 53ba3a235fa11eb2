/* SPDX-License-Identifier: Apache-2.0 */
/* One JWK: parse, and for every accepted key, export and re-import its public half. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mesh_key_t *key = NULL, *again = NULL;
    char *jwk = NULL;

    if (mesh_key_from_jwk((const char *)data, size, MESH_ALG_UNSET, &key) != MESH_OK) {
        return 0;
    }
    if (mesh_key_to_jwk(key, &jwk) != MESH_OK ||
        mesh_key_from_jwk(jwk, strlen(jwk), mesh_key_alg(key), &again) != MESH_OK ||
        strcmp(mesh_key_thumbprint(key), mesh_key_thumbprint(again)) != 0) {
        abort();
    }
    mesh_free(jwk);
    mesh_key_free(again);
    mesh_key_free(key);
    return 0;
}
