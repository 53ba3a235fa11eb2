/* SPDX-License-Identifier: Apache-2.0 */
/* The inside of mesh_key_t, for libmesh's crypto files (key.c, jws.c, jwks.c, x509.c) only. */
#ifndef MESH_KEY_INTERNAL_H
#define MESH_KEY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include <openssl/evp.h>

#include <mesh/key.h>
#include <mesh/limits.h>

struct mesh_key {
    atomic_int refs;
    EVP_PKEY *pkey;       /* owned; public or private */
    mesh_alg_t alg;       /* fixed at load: RFC 8725 §3.1, the key decides the algorithm */
    bool is_private;
    int bits;
    char kid[MESH_KID_MAX + 1];
    char thumbprint[44];  /* RFC 7638, base64url of SHA-256 */
};

/* The OpenSSL key behind a mesh key (borrowed). */
EVP_PKEY *mesh_key_evp(const mesh_key_t *key);

#endif /* MESH_KEY_INTERNAL_H */
