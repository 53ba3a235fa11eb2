/* SPDX-License-Identifier: Apache-2.0 */
/* Certificate identity: SPIFFE ID extraction and x5t#S256 on arbitrary DER. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *id = NULL;
    char x5t[MESH_X5T_LEN + 1];

    if (mesh_x509_spiffe_id(data, size, &id) == MESH_OK) {
        if (strncmp(id, "spiffe://", 9) != 0) {
            abort();
        }
    }
    mesh_free(id);
    if (size > 0 && (mesh_x5t_s256(data, size, x5t) != MESH_OK || strlen(x5t) != MESH_X5T_LEN)) {
        abort();
    }
    return 0;
}
