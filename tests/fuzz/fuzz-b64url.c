/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64url: decode must never overrun, and decode(encode(x)) == x. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = mesh_b64url_dec_len(size);
    uint8_t *dec = malloc(cap + 1);
    char *enc = malloc(mesh_b64url_enc_len(size) + 1);
    size_t n = 0;

    if (dec == NULL || enc == NULL) {
        abort();
    }
    if (mesh_b64url_decode((const char *)data, size, dec, cap, &n) == MESH_OK) {
        /* Strictness means canonical: re-encoding gives back the very same text. */
        char *again = malloc(mesh_b64url_enc_len(n) + 1);
        if (again == NULL || mesh_b64url_encode(dec, n, again) != size ||
            memcmp(again, data, size) != 0) {
            abort();
        }
        free(again);
    }
    mesh_b64url_encode(data, size, enc);
    free(enc);
    free(dec);
    return 0;
}
