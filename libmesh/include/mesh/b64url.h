/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64url (RFC 4648 §5, RFC 7515 §2): no padding, no whitespace, canonical bits.
 * Pure functions: they never block and never allocate. */
#ifndef MESH_B64URL_H
#define MESH_B64URL_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Characters needed to encode n bytes (no padding, no NUL). */
static inline size_t mesh_b64url_enc_len(size_t n)
{
    return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

/* Upper bound of bytes decoded from n characters. */
static inline size_t mesh_b64url_dec_len(size_t n)
{
    return (n / 4) * 3 + ((n % 4) ? (n % 4) - 1 : 0);
}

/* Encodes n bytes into out (room for mesh_b64url_enc_len(n) + 1); NUL-terminates; returns len. */
size_t mesh_b64url_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decodes exactly n characters into out (capacity cap). Rejects any character outside
 * [A-Za-z0-9_-], '=' padding, a length of 4k+1, and non-zero trailing bits (MESH_ERR_B64URL);
 * a result larger than cap is MESH_ERR_LIMIT.
 */
MESH_WUR mesh_err_t mesh_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap,
                                       size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* MESH_B64URL_H */
