/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmesh's certificate work behind its one OpenSSL door (x509.c, x509_verify.c): the SPIFFE
 * ID of a parsed certificate or of a TLS peer, and the verifier's trust bundle. Internal.
 */
#ifndef MESH_X509_INTERNAL_H
#define MESH_X509_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include <mesh/error.h>

#define MESH_SHA256_LEN 32

/* A well-formed SPIFFE ID (spiffe://trust-domain/path, SPIFFE ID spec §2). */
bool mesh_spiffe_id_valid(const char *s);

/* The one spiffe:// URI SAN of `cert` (new string, free()); MESH_ERR_CERT as for
 * mesh_x509_spiffe_id. */
mesh_err_t mesh_x509_cert_spiffe_id(const X509 *cert, char **out);

/* The SPIFFE ID of the certificate the peer of `ssl` (an OpenSSL SSL *) presented in its
 * handshake, resumed sessions included (new string, free()); MESH_ERR_CERT when there is none
 * or it has not exactly one. */
mesh_err_t mesh_x509_tls_peer_id(void *ssl, char **out);

/* SHA-256 of `len` bytes. */
void mesh_sha256(const void *data, size_t len, uint8_t out[MESH_SHA256_LEN]);

/*
 * A verifier's trust material: the CA certificates of a bundle file (roots and intermediates)
 * in an X509_STORE built once, and optionally the CRLs of a CRL file. Immutable once loaded,
 * reference counted, so any number of threads verify against it while a reload builds the
 * next one.
 */
typedef struct mesh_trust mesh_trust_t;

/* Loads `bundle_path` (PEM CA certificates) and `crl_path` (PEM CRLs, optional, each signed by
 * a CA of the bundle). MESH_ERR_CONFIG naming the file and what is wrong; MESH_ERR_IO. */
mesh_err_t mesh_trust_load(const char *bundle_path, const char *crl_path, mesh_trust_t **out);
mesh_trust_t *mesh_trust_ref(mesh_trust_t *t); /* NULL-safe */
void mesh_trust_free(mesh_trust_t *t);         /* drops a reference; NULL-safe */

/* A verdict on a presented certificate and how long it holds. */
typedef struct {
    int64_t until;     /* the verdict holds while now < until (the verifier's clock) */
    uint8_t *leaf_der; /* PEM input: the leaf's DER (new, free()); NULL for DER input */
    size_t leaf_len;
} mesh_trust_verdict_t;

/*
 * Verifies a presented certificate at `now`: `in` is the leaf as DER (`pem` false) or a PEM
 * chain, leaf first, intermediates after (`pem` true). The chain must reach a root of the
 * bundle (intermediates from the input or the bundle) with every certificate valid at `now`
 * and, where CRLs are configured, not revoked; the leaf must not be a CA, must carry EKU
 * clientAuth and exactly one SPIFFE ID. The first failure is the verdict (detail set).
 * Returns MESH_OK or MESH_ERR_PEER_CERT with *out filled (leaf_der only on MESH_OK), or
 * MESH_ERR_NOMEM / MESH_ERR_INTERNAL (nothing to remember).
 */
mesh_err_t mesh_trust_verify(const mesh_trust_t *t, int64_t now, const void *in, size_t len,
                             bool pem, mesh_trust_verdict_t *out);

#endif /* MESH_X509_INTERNAL_H */
