/* SPDX-License-Identifier: Apache-2.0 */
#include <mesh/util.h>

#include "internal.h"

#include <openssl/crypto.h>

MESH_EXPORT void mesh_wipe(void *buf, size_t len)
{
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
    }
}

MESH_EXPORT bool mesh_equal_ct(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
