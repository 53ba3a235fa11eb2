/* SPDX-License-Identifier: Apache-2.0 */
/* The inside of mesh_renew_opts_t and the X.509 work of a renewal (x509_renew_csr.c). */
#ifndef MESH_RENEW_INTERNAL_H
#define MESH_RENEW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/key.h>
#include <mesh/renew.h>

struct mesh_renew_opts {
    char *issuer_url, *ca_path, *cert_path, *key_path;
    char *join_token; /* wiped on free */
    mesh_key_type_t key_type;
    double fraction, jitter;
    int64_t retry_base_ms, retry_max_ms, timeout_ms;
};

/* mesh_renew_once, also giving the issuer's HTTP status (0 when no answer came). */
mesh_err_t mesh_renew_run(const mesh_renew_opts_t *o, mesh_renew_info_t *info, long *status);

/* A deep copy of `o` (strings too). MESH_ERR_NOMEM. */
mesh_err_t mesh_renew_opts_copy(const mesh_renew_opts_t *o, mesh_renew_opts_t **out);

/* What mesh_renew_once and mesh_renewer_new check before any I/O: required options present,
 * retry_max_ms >= retry_base_ms. MESH_ERR_CONFIG / MESH_ERR_INVALID_ARG naming the option. */
mesh_err_t mesh_renew_opts_check(const mesh_renew_opts_t *o);

/* A PEM CERTIFICATE REQUEST signed by `key`, asking for `spiffe_id` as its URI SAN (and the
 * ID's last path segment as CN); no names at all when spiffe_id is NULL. *out new (free()). */
mesh_err_t mesh_x509_csr_pem(const mesh_key_t *key, const char *spiffe_id, char **out);

/* true when the private key in `key_pem` is the public key of the first certificate of
 * `cert_pem` (both PEM text of the given lengths). */
bool mesh_x509_pem_pair_matches(const char *cert_pem, size_t cert_len, const char *key_pem,
                                size_t key_len);

/* The first certificate of `cert_pem`: validity, serial (hex), SPIFFE ID ("" when none).
 * MESH_ERR_CERT naming `what` when unreadable. */
mesh_err_t mesh_x509_pem_info(const char *cert_pem, size_t len, const char *what,
                              mesh_renew_info_t *info);

/* true when the first certificate of `cert_pem` carries `key`'s public key. */
bool mesh_x509_pem_has_key(const char *cert_pem, size_t len, const mesh_key_t *key);

/* The chain `cert_pem` (leaf first, intermediates after) verifies against the CA file at
 * `now`. MESH_ERR_CERT with OpenSSL's reason. */
mesh_err_t mesh_x509_pem_chain_check(const char *cert_pem, size_t len, const char *ca_path,
                                     int64_t now);

#endif /* MESH_RENEW_INTERNAL_H */
