/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signature primitives behind the JWS layer, for libmesh's own files and tests only. These are
 * the only functions that sign or verify bytes; jws.c adds the compact serialization on top.
 */
#ifndef MESH_JWS_INTERNAL_H
#define MESH_JWS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>
#include <mesh/util.h>
#include <mesh/key.h>

/* Largest signature we produce or accept: RSA at MESH_MAX_RSA_BITS. */
#define MESH_SIG_MAX (MESH_MAX_RSA_BITS / 8)

/*
 * Verifies `sig` over `msg` with the key's own algorithm (RS256, PS256 with salt 32, ES256 as
 * raw r||s of exactly 64 bytes with 0 < r, s < n, or Ed25519 with a 64-byte signature).
 * MESH_ERR_SIGNATURE when it does not verify. Thread-safe; no allocation outside OpenSSL.
 */
mesh_err_t mesh_sig_verify(const mesh_key_t *key, const uint8_t *msg, size_t len,
                           const uint8_t *sig, size_t siglen);

/*
 * Signs `msg` with a private key; the JWS form of the signature (ES256: raw r||s) goes to `sig`
 * (capacity `cap`, MESH_SIG_MAX is always enough) and its length to *siglen.
 */
mesh_err_t mesh_sig_sign(const mesh_key_t *key, const uint8_t *msg, size_t len, uint8_t *sig,
                         size_t cap, size_t *siglen);

/* mesh_random_bytes (the CSPRNG) is public: <mesh/util.h>. */

/* Bytes in a random identifier (a jti: 128 bits, DESIGN.md "Tokens"). */
#define MESH_RANDOM_ID_BYTES 16

/*
 * Fills `id` with MESH_RANDOM_ID_BYTES fresh CSPRNG bytes for an identifier (never for a key or
 * a secret), drawn from a per-thread block of RAND_bytes output. Thread-safe.
 */
mesh_err_t mesh_random_id(uint8_t id[MESH_RANDOM_ID_BYTES]);

#endif /* MESH_JWS_INTERNAL_H */
