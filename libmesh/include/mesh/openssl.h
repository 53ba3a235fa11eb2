/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenSSL bridge: for programs that build X.509 themselves (mesh-ca) or hand keys to
 * OpenSSL. The only public header that includes OpenSSL; include it only where a file works
 * with EVP_PKEY, and link libcrypto yourself. None of these calls blocks.
 */
#ifndef MESH_OPENSSL_H
#define MESH_OPENSSL_H

#include <openssl/evp.h>

#include <mesh/error.h>
#include <mesh/key.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The OpenSSL key behind `key`, borrowed: no new reference is taken, and the pointer is valid
 * while `key` lives. Do not modify or free it; take EVP_PKEY_up_ref() to keep it longer.
 * NULL for a NULL key. Thread-safe (the key is immutable).
 */
EVP_PKEY *mesh_key_evp(const mesh_key_t *key);

/*
 * Wraps an OpenSSL key into a new mesh key after libmesh's key checks (<mesh/key.h>: RSA
 * size, exponent and ROCA; P-256 point; Ed25519), so that the algorithm becomes a property of
 * the key: `alg` picks PS256 for RSA, MESH_ALG_UNSET the type's default. The kid is the RFC
 * 7638 thumbprint. The caller keeps its own reference to `pkey` (libmesh takes another one);
 * on failure *out is untouched and the detail says which check failed. NULL pkey/out:
 * MESH_ERR_INVALID_ARG.
 */
MESH_WUR mesh_err_t mesh_key_from_evp(EVP_PKEY *pkey, mesh_alg_t alg, mesh_key_t **out);

#ifdef __cplusplus
}
#endif
#endif /* MESH_OPENSSL_H */
