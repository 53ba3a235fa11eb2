/* SPDX-License-Identifier: Apache-2.0 */
#include "secret.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

int mesh_random(void *buf, size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void mesh_wipe(void *buf, size_t len)
{
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
    }
}
