/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWS compact serialization (RFC 7515 §7.1) with RS256, PS256, ES256 and EdDSA.
 *
 * What is refused, always (RFC 8725): "none" and every HMAC alg; an alg other than the key's
 * own; the "crit", "jku", "x5u", "jwk" and "x5c" header members (never fetched, never used);
 * JSON serialization; JWE (five parts); duplicate JSON members; tokens over
 * MESH_MAX_TOKEN_BYTES; non-strict base64url; non-UTF-8; ES256 signatures that are not exactly
 * 64 bytes or have r or s = 0.
 */
#ifndef MESH_JWS_H
#define MESH_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>
#include <mesh/jwks.h>
#include <mesh/key.h>
#include <mesh/limits.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a verified header said. Strings are NUL-terminated copies. */
typedef struct {
    mesh_alg_t alg;
    char kid[MESH_KID_MAX + 1]; /* "" when absent */
    char typ[64];               /* "" when absent */
} mesh_jws_header_t;

/*
 * Signs `payload` (`len` bytes) with a private key. The protected header is
 * {"alg":<key's alg>,"typ":<typ>,"kid":<key's kid>} ("typ" left out when `typ` is NULL).
 * *out is a new NUL-terminated compact JWS to release with mesh_free().
 */
MESH_WUR mesh_err_t mesh_jws_sign(const mesh_key_t *key, const char *typ, const void *payload,
                                  size_t len, char **out);

/*
 * Verifies a compact JWS of `len` bytes with `key`. The header's alg must equal the key's alg;
 * a kid, when present, must equal the key's kid. On success the decoded payload is written to
 * `payload` (capacity `cap`; MESH_MAX_TOKEN_BYTES is always enough), its length to
 * *payload_len, and the header to *hdr when `hdr` is not NULL. Nothing is written on failure.
 * Does not allocate on success except inside OpenSSL. Thread-safe.
 */
MESH_WUR mesh_err_t mesh_jws_verify(const mesh_key_t *key, const char *jws, size_t len,
                                    mesh_jws_header_t *hdr, uint8_t *payload, size_t cap,
                                    size_t *payload_len);

/*
 * As mesh_jws_verify, with the key the header's "kid" selects from `set`: no kid is
 * MESH_ERR_KID_MISSING, a kid not in the set MESH_ERR_KID_UNKNOWN. *key_out (optional)
 * receives the borrowed key that verified.
 */
MESH_WUR mesh_err_t mesh_jws_verify_jwks(const mesh_jwks_t *set, const char *jws, size_t len,
                                         mesh_jws_header_t *hdr, uint8_t *payload, size_t cap,
                                         size_t *payload_len, const mesh_key_t **key_out);

/*
 * Splits and decodes a compact JWS WITHOUT verifying anything but its shape: *header_json and
 * *payload_json are new strings (mesh_free()). For inspection tools only (`mesh decode`).
 */
MESH_WUR mesh_err_t mesh_jws_decode_unverified(const char *jws, size_t len, char **header_json,
                                               char **payload_json);

#ifdef __cplusplus
}
#endif
#endif /* MESH_JWS_H */
