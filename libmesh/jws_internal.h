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
#include <mesh/jwks.h>
#include <mesh/key.h>
#include <mesh/limits.h>

/* What a verified JOSE header said. Strings are NUL-terminated copies. */
typedef struct {
    mesh_alg_t alg;
    char kid[MESH_KID_MAX + 1]; /* "" when absent */
    char typ[64];               /* "" when absent */
} mesh_jws_header_t;

/*
 * mesh_jws_verify (with `key`) or mesh_jws_verify_jwks (with `set`; key NULL), also giving the
 * verified header in *hdr (optional): what jwt_claims.c and the verifier need for the typ rule.
 * The contract is jws.h's. On MESH_ERR_KID_UNKNOWN from `set`, hdr->kid (only) is the kid the
 * set lacks.
 */
mesh_err_t mesh_jws_verify_header(const mesh_key_t *key, const mesh_jwks_t *set, const char *jws,
                                  size_t len, mesh_jws_header_t *hdr, uint8_t *payload, size_t cap,
                                  size_t *payload_len, const mesh_key_t **key_out);

/* An HS256 MAC: 32 bytes (RFC 7518 §3.2). */
#define MESH_HS256_LEN 32

/*
 * The JWS of an issuer configured with an HS256 key (verifier.h, set_hmac_key): the header's
 * alg must be exactly HS256 (anything else MESH_ERR_ALG_NOT_ALLOWED, "none" included), the
 * forbidden header members refused as for keys, the kid not consulted (one key), the MAC
 * compared in constant time (MESH_ERR_SIGNATURE). The payload lands in `payload` (`cap`
 * bytes). Never uses the per-thread header cache, which holds only key-signed headers.
 */
mesh_err_t mesh_jws_verify_hmac(const uint8_t *key, size_t key_len, const char *jws, size_t len,
                                mesh_jws_header_t *hdr, uint8_t *payload, size_t cap,
                                size_t *payload_len);

/* HMAC-SHA256 of `msg` with `key`, compared with `mac` in constant time: MESH_ERR_SIGNATURE
 * when they differ (or `mac_len` is not MESH_HS256_LEN). The computed MAC is wiped. */
mesh_err_t mesh_sig_verify_hmac(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                                const uint8_t *mac, size_t mac_len);

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
