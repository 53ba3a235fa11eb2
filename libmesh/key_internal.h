/* SPDX-License-Identifier: Apache-2.0 */
/* The inside of mesh_key_t, for libmesh's crypto files (key*.c, jws.c, jwks.c, x509.c) only. */
#ifndef MESH_KEY_INTERNAL_H
#define MESH_KEY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>
#include <openssl/evp.h>

#include <mesh/key.h>
#include <mesh/limits.h>
#include <mesh/openssl.h>

/* Idle OpenSSL contexts a key keeps for itself, per operation (see sig.c). */
#define MESH_KEY_CTX_SLOTS 4

struct mesh_sig_ctx; /* sig.c */

struct mesh_key {
    atomic_int refs;
    EVP_PKEY *pkey; /* owned; public or private */
    mesh_alg_t alg; /* fixed at load: RFC 8725 §3.1, the key decides the algorithm */
    bool is_private;
    int bits;
    char kid[MESH_KID_MAX + 1];
    char thumbprint[44]; /* RFC 7638, base64url of SHA-256 */
    /*
     * Reusable sign (private keys) and verify (private keys only; public keys use sig.c's
     * per-thread cache) contexts, made on first use. They belong to the key: freed by
     * mesh_key_free() through mesh_sig_ctx_release(), so no context, and no private key
     * reference inside one, outlives the key. A thread takes a context out of a slot with an
     * atomic exchange and puts it back with a compare-and-swap, so no two threads ever use
     * one context at the same time. Not part of the key's value: mutated through const keys.
     */
    _Atomic(struct mesh_sig_ctx *) sign_ctx[MESH_KEY_CTX_SLOTS];
    _Atomic(struct mesh_sig_ctx *) verify_ctx[MESH_KEY_CTX_SLOTS];
};

/* Frees the contexts a key keeps (above); for mesh_key_free() once no reference is left. */
void mesh_sig_ctx_release(mesh_key_t *key);

/* mesh_key_evp (the OpenSSL key behind a mesh key, borrowed) is public: <mesh/openssl.h>. */

/*
 * Wraps an OpenSSL key into a new mesh key. Always takes `pkey` (freed on failure). Checks the
 * type (RSA 2048..8192 bits with an odd e > 1, EC P-256 with a valid point, Ed25519), fixes the
 * algorithm from `alg` (MESH_ALG_UNSET = the type's default), computes the RFC 7638 thumbprint
 * and sets the kid to `kid` (NULL = the thumbprint). `what` names the input in error details.
 */
mesh_err_t mesh_key_wrap(EVP_PKEY *pkey, mesh_alg_t alg, const char *kid, const char *what,
                         mesh_key_t **out);

/*
 * The RFC 7638 required members of the key's public half (kty plus n/e, crv/x/y or crv/x) as a
 * new JSON object.
 */
mesh_err_t mesh_key_public_members(const EVP_PKEY *pkey, json_t **out);

/* The public JWK of `key` ("kid", "alg", "use":"sig" added) as a new JSON object. */
mesh_err_t mesh_key_to_jwk_json(const mesh_key_t *key, json_t **out);

/*
 * Builds a key from a parsed JWK object (see mesh_key_from_jwk). Keys libmesh cannot use
 * (kty/crv/alg it does not support, "use" other than "sig") are MESH_ERR_KEY_UNSUPPORTED, so a
 * key set can skip them.
 */
mesh_err_t mesh_key_from_jwk_json(const json_t *jwk, mesh_alg_t alg, const char *what,
                                  mesh_key_t **out);

#endif /* MESH_KEY_INTERNAL_H */
