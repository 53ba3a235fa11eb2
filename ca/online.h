/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-ca's X.509 building for mesh-issuer's online issuance (POST /v1/certificate,
 * docs/CERTIFICATES.md): the issuing CA, certificate signing requests, leaves signed for a
 * decided identity, the issuing CA's CRL. No OpenSSL type crosses this header: the issuer
 * links mesh_ca_dep for it and stays outside the OpenSSL door (docs/ARCHITECTURE.md).
 *
 * Errors: mesh_err_t with a human detail (mesh_err_detail()) naming the input and what to do.
 * All functions are thread-safe on distinct objects; a loaded ca_issuing_t is only read and
 * may be shared by threads.
 */
#ifndef MESH_CA_ONLINE_H
#define MESH_CA_ONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>
#include <mesh/x509.h>

typedef struct ca_issuing ca_issuing_t;
typedef struct ca_csr ca_csr_t;

/*
 * Loads the issuing CA: certificate (PEM; a CA with keyCertSign) and its private key (PEM,
 * mode 0600: a key readable by group or others is refused). MESH_ERR_CONFIG / MESH_ERR_CERT /
 * MESH_ERR_IO naming the file. Free with ca_issuing_free (NULL accepted).
 */
mesh_err_t ca_issuing_load(const char *cert_path, const char *key_path, ca_issuing_t **out)
    __attribute__((warn_unused_result));
void ca_issuing_free(ca_issuing_t *ca);
/* Its certificate as PEM (borrowed) and its notAfter (Unix seconds). */
const char *ca_issuing_pem(const ca_issuing_t *ca);
int64_t ca_issuing_not_after(const ca_issuing_t *ca);

/*
 * Parses `len` bytes holding one PEM CERTIFICATE REQUEST (at most MESH_MAX_CSR_BYTES, nothing
 * but whitespace around it). Refused with MESH_ERR_INVALID_ARG and a detail that says why:
 * not a CSR, two of them, a signature that does not verify (RFC 2986 §3: the requester proves
 * it holds the key), more than MESH_MAX_CSR_NAMES names, a name with a NUL. A key other than
 * P-256, P-384, Ed25519 or RSA of MESH_MIN_CSR_RSA_BITS..MESH_MAX_CSR_RSA_BITS, or one that
 * fails libmesh's key checks, is MESH_ERR_KEY_WEAK / MESH_ERR_KEY_UNSUPPORTED.
 */
mesh_err_t ca_csr_parse(const char *pem, size_t len, ca_csr_t **out)
    __attribute__((warn_unused_result));
void ca_csr_free(ca_csr_t *csr);
/* The subject's CN ("" when none; UTF-8 checked, at most 64 bytes), the key type name
 * ("p256", "p384", "ed25519", "rsa<bits>"). Borrowed. */
const char *ca_csr_cn(const ca_csr_t *csr);
const char *ca_csr_key_type(const ca_csr_t *csr);
/* The subject alternative names it asks for, as "DNS:x", "IP:x" (normalized), "URI:x",
 * "email:x" or "other:<type>" (borrowed, in request order). */
size_t ca_csr_names(const ca_csr_t *csr, const char *const **names);

/* What the issuer decided the certificate says. The CSR contributes only its public key. */
typedef struct {
    const char *service;      /* CN and the path of the SPIFFE ID */
    const char *trust_domain; /* spiffe://<trust_domain>/<service> is the one URI SAN */
    const char *const *dns;   /* DNS SANs */
    size_t n_dns;
    const char *const *ips; /* IP SANs */
    size_t n_ips;
    int64_t lifetime; /* seconds; capped at the issuing CA's notAfter */
    int64_t now;
} ca_online_req_t;

typedef struct {
    char *pem; /* the leaf, PEM (free with ca_online_cert_clear) */
    char serial[48];
    char x5t[MESH_X5T_LEN + 1]; /* RFC 8705 x5t#S256 of the leaf */
    int64_t not_before, not_after;
} ca_online_cert_t;

/* Signs a leaf (EKU serverAuth + clientAuth, as mesh-ca's) for `req` with the CSR's key. */
mesh_err_t ca_online_sign(const ca_issuing_t *ca, const ca_csr_t *csr, const ca_online_req_t *req,
                          ca_online_cert_t *out) __attribute__((warn_unused_result));
void ca_online_cert_clear(ca_online_cert_t *c);

typedef struct {
    const char *serial; /* hex */
    int64_t revoked_at;
} ca_crl_entry_t;

/* A v2 CRL of the issuing CA listing `n` entries, valid from now until next_update, PEM in
 * *pem (free()). */
mesh_err_t ca_online_crl(const ca_issuing_t *ca, const ca_crl_entry_t *entries, size_t n,
                         int64_t now, int64_t next_update, char **pem, size_t *len)
    __attribute__((warn_unused_result));

#endif /* MESH_CA_ONLINE_H */
