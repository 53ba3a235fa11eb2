/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWS compact serialization (RFC 7515 §7.1) with RS256, PS256, ES256 and EdDSA.
 *
 * What is refused, always (RFC 8725): "none" and every HMAC alg; an alg other than the key's
 * own; the "crit", "jku", "x5u", "jwk" and "x5c" header members (never fetched, never used);
 * JSON serialization; JWE (five parts); duplicate JSON members; tokens over
 * MESH_MAX_TOKEN_BYTES (checked before anything else is read); more or fewer than three parts;
 * non-strict base64url; non-UTF-8; a header that is not a JSON object with a string "alg";
 * JSON nested deeper than MESH_MAX_JSON_DEPTH; ES256 signatures that are not exactly 64 bytes
 * or have r or s = 0 or >= n; Ed25519 signatures that are not 64 bytes.
 *
 * Unknown header members other than those are ignored (RFC 7515 §4).
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

/*
 * Signs `payload` (`len` bytes; NULL only when len is 0) with a private key. The protected
 * header is {"alg":<key's alg>,"typ":<typ>,"kid":<key's kid>} in that order ("typ" left out when
 * `typ` is NULL). *out is a new NUL-terminated compact JWS to release with mesh_free().
 * Errors: MESH_ERR_KEY_NOT_PRIVATE for a public key, MESH_ERR_LIMIT when the header would exceed
 * MESH_MAX_HEADER_JSON_BYTES or the token MESH_MAX_TOKEN_BYTES, MESH_ERR_INVALID_ARG for NULL
 * arguments or a typ that is not UTF-8.
 * *out is untouched on failure. Thread-safe; does not block.
 */
MESH_WUR mesh_err_t mesh_jws_sign(const mesh_key_t *key, const char *typ, const void *payload,
                                  size_t len, char **out);

/*
 * Verifies a compact JWS of `len` bytes with `key` (borrowed). The header's alg must equal the
 * key's alg (else MESH_ERR_ALG_NOT_ALLOWED); a kid, when present, must equal the key's kid (else
 * MESH_ERR_KID_UNKNOWN). On success the decoded payload is in `payload` (capacity `cap`;
 * MESH_MAX_TOKEN_BYTES is always enough, a smaller one may give MESH_ERR_LIMIT) and its length
 * in *payload_len; `payload` may be NULL (with cap 0) and `payload_len` NULL when not wanted.
 * (The header's typ is checked by mesh_jwt_verify; `mesh decode` shows a whole header.) On
 * failure *payload_len is untouched and the contents of `payload` are unspecified (it is decoded
 * into before the signature check, so a malformed token costs no public-key operation).
 *
 * Thread-safe, without locks: each thread remembers the last header it parsed (by its exact
 * bytes) and verify contexts for its last four public keys, so a repeated header costs no JSON
 * parse and no allocation outside OpenSSL. Cached contexts hold a reference to the public key
 * until evicted or the thread exits. A private key is never cached per thread: its reusable
 * sign and verify contexts live inside the key and are freed with it (mesh_key_free()).
 * Does not block.
 */
MESH_WUR mesh_err_t mesh_jws_verify(const mesh_key_t *key, const char *jws, size_t len,
                                    uint8_t *payload, size_t cap, size_t *payload_len);

/*
 * As mesh_jws_verify, with the key the header's "kid" selects from `set` (exact match): no kid
 * is MESH_ERR_KID_MISSING, a kid not in the set MESH_ERR_KID_UNKNOWN. *key_out (optional)
 * receives the borrowed key that verified; it lives as long as `set`. Thread-safe; does not
 * block (the set is already in memory: no fetch happens here).
 */
MESH_WUR mesh_err_t mesh_jws_verify_jwks(const mesh_jwks_t *set, const char *jws, size_t len,
                                         uint8_t *payload, size_t cap, size_t *payload_len,
                                         const mesh_key_t **key_out);

/*
 * Splits and decodes a compact JWS WITHOUT verifying anything but its shape (size, three parts,
 * strict base64url, no NUL byte): *header_json and *payload_json are new strings (mesh_free())
 * that need not even be JSON. For inspection tools only (`mesh decode`); never trust the result.
 * Does not block.
 */
MESH_WUR mesh_err_t mesh_jws_decode_unverified(const char *jws, size_t len, char **header_json,
                                               char **payload_json);

#ifdef __cplusplus
}
#endif
#endif /* MESH_JWS_H */
