/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate helpers shared by the issuer, the client and the verifier: the RFC 8705
 * thumbprint that binds a token to a certificate, and the SPIFFE ID a certificate carries.
 */
#ifndef MESH_X509_H
#define MESH_X509_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MESH_X5T_LEN 43 /* base64url of a SHA-256 digest */

/*
 * RFC 8705 §3.1 x5t#S256: base64url(SHA-256(DER)) into out (NUL-terminated, 44 bytes). The
 * bytes are hashed as given; MESH_ERR_INVALID_ARG for NULL or empty input. Does not block.
 */
MESH_WUR mesh_err_t mesh_x5t_s256(const uint8_t *der, size_t len, char out[MESH_X5T_LEN + 1]);

/*
 * The one spiffe:// URI SAN of a DER certificate (exactly `len` bytes, no trailing data), as a
 * new string (mesh_free()). A certificate with none, more than one, or one that is not a
 * well-formed SPIFFE ID (lower-case trust domain, no empty/"."/".." path segment, no query),
 * is MESH_ERR_CERT, as is DER that does not parse. The certificate is not verified here. Does
 * not block.
 */
MESH_WUR mesh_err_t mesh_x509_spiffe_id(const uint8_t *der, size_t len, char **out);

/*
 * Reads the first certificate of a PEM file (at most MESH_MAX_PEM_BYTES) and returns its DER
 * encoding (*der new, mesh_free()). MESH_ERR_IO when the file cannot be read, MESH_ERR_CERT
 * when it holds no PEM CERTIFICATE. Blocks on the file system (one bounded read).
 */
MESH_WUR mesh_err_t mesh_x509_load_der(const char *path, uint8_t **der, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* MESH_X509_H */
