/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Online certificate issuance without the transport (docs/CERTIFICATES.md):
 * POST /v1/certificate (a CSR in, a leaf + chain from the issuing CA out; renewal by the
 * current certificate or first issuance by a join token) and the issuing CA's CRL.
 */
#ifndef ISSUER_CERTS_H
#define ISSUER_CERTS_H

#include <stddef.h>
#include <stdint.h>

#include "token.h"

/* POST /v1/certificate. The state has a certificates section (server_http.c checks). */
void certificate_endpoint(issuer_ctx_t *ctx, const issuer_req_t *req, issuer_resp_t *resp);

/*
 * The issuing CA's CRL, PEM in *pem (free()), signed now from the store's revoked
 * certificates, valid for next_in seconds. On failure fills resp (503) and returns false.
 */
bool certs_crl_build(const issuer_state_t *st, store_t *store, int64_t now, int64_t next_in,
                     char **pem, size_t *len, issuer_resp_t *resp);

/* The same as a mesh_err_t, for the CLI and maintenance (no response). */
mesh_err_t certs_crl_pem(const ca_issuing_t *ca, store_t *store, int64_t now, int64_t next_in,
                         char **pem, size_t *len);
/* Writes certificates.crl (atomically, 0644) valid for MESH_CRL_FILE_NEXT_S: what the TLS
 * verdict of this issuer (and of any verifier given the file) reads. */
mesh_err_t certs_crl_write(const ca_issuing_t *ca, store_t *store, const char *path, int64_t now);

#endif /* ISSUER_CERTS_H */
