/* SPDX-License-Identifier: Apache-2.0 */
/* ca_csr_parse (ca/online.c) on arbitrary bytes: never a crash or a leak; an accepted CSR has
 * a key type and names of the documented forms. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "online.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ca_csr_t *csr = NULL;
    const char *const *names;
    size_t n;

    if (ca_csr_parse((const char *)data, size, &csr) != MESH_OK) {
        return 0;
    }
    if (ca_csr_key_type(csr)[0] == '\0' || strlen(ca_csr_cn(csr)) > MESH_MAX_SERVICE_NAME) {
        abort();
    }
    n = ca_csr_names(csr, &names);
    if (n > MESH_MAX_CSR_NAMES) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (strchr(names[i], ':') == NULL) {
            abort();
        }
    }
    ca_csr_free(csr);
    return 0;
}
