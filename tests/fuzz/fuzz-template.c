/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-ca templates: every validation path on arbitrary JSON, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ca_template t;

    memset(&t, 0, sizeof(t));
    if (ca_template_parse("fuzz.json", (const char *)data, size, &t) == MESH_OK) {
        /* An accepted template names a trust domain and only valid service names. */
        if (t.trust_domain == NULL || t.trust_domain[0] == '\0') {
            abort();
        }
        for (size_t i = 0; i < t.nsvcs; i++) {
            if (!ca_valid_label(t.svcs[i].name)) {
                abort();
            }
        }
        ca_template_free(&t);
    }
    return 0;
}
