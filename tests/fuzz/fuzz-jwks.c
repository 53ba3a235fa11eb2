/* SPDX-License-Identifier: Apache-2.0 */
/* A JWKS document: parse, serialize, and parse the serialized form again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mesh_jwks_t *set = NULL, *again = NULL;
    char *json = NULL;

    if (mesh_jwks_parse((const char *)data, size, &set) != MESH_OK) {
        return 0;
    }
    for (size_t i = 0; i < mesh_jwks_count(set); i++) {
        const mesh_key_t *k = mesh_jwks_get(set, i);
        const char *kid = mesh_key_kid(k);
        if (mesh_jwks_find(set, kid, strlen(kid)) != k) {
            abort();
        }
    }
    if (mesh_jwks_to_json(set, &json) != MESH_OK ||
        mesh_jwks_parse(json, strlen(json), &again) != MESH_OK ||
        mesh_jwks_count(again) != mesh_jwks_count(set)) {
        abort();
    }
    mesh_free(json);
    mesh_jwks_free(again);
    mesh_jwks_free(set);
    return 0;
}
