/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The issuer's TLS side (the only OpenSSL SSL user): a server context built from the config
 * (TLS 1.2+, modern ciphers, client certificates requested and checked against the mesh CA
 * and CRL) and what a connection's peer certificate says.
 *
 * A failed client-certificate check does not fail the handshake: callers with a service token
 * have no certificate, and a caller with a bad one gets a JSON answer that says what is wrong
 * (as nginx does with "ssl_verify_client optional"). The verdict is kept with the session.
 */
#ifndef ISSUER_SERVER_TLS_H
#define ISSUER_SERVER_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <mesh/error.h>
#include <mesh/x509.h>

#include "config.h"

typedef struct tls_ctx tls_ctx_t;

/* A certificate's issuer-name hash and serial, hex: 64 + ':' + up to 40 (RFC 5280 §4.1.2.2). */
#define TLS_CERT_KEY_LEN 105
struct ssl_st;

mesh_err_t tls_ctx_new(const config_t *cfg, tls_ctx_t **out, char *err, size_t errlen);
void tls_ctx_free(tls_ctx_t *t);

/* A new server-side SSL object for one connection (NULL on failure). */
struct ssl_st *tls_ssl_new(tls_ctx_t *t);

/* Per-connection user pointer with a destructor that runs when the SSL object is freed. */
void tls_set_conn(struct ssl_st *ssl, void *conn);
void *tls_get_conn(struct ssl_st *ssl);
void tls_set_conn_free_hook(void (*fn)(void *conn));

typedef struct {
    bool presented;  /* the client sent a certificate */
    bool verified;   /* ... and it chains to the mesh CA, is current, not revoked */
    char error[256]; /* why not, when presented && !verified */
    bool lapsed;     /* ... because it has expired or is revoked (else: not a mesh identity) */
    char *identity;  /* its spiffe:// URI SAN (new string), NULL when none */
    char x5t[MESH_X5T_LEN + 1];
    char cert_key[TLS_CERT_KEY_LEN + 1]; /* issuer + serial, as CRL entries name it */
    int64_t not_after;
    int64_t until; /* when verified: the verdict holds until then (first notAfter, CRL due) */
    uint64_t gen;  /* the trust material it was judged against (tls_ctx_gen) */
} tls_peer_t;

/* Which trust material `t` is: a new number for every context made (every reload). */
uint64_t tls_ctx_gen(const tls_ctx_t *t);

/* The certificates the configured CRLs revoke, as cert keys (borrowed, as long as `t`). */
size_t tls_ctx_revoked(const tls_ctx_t *t, const char *const **keys);

/*
 * Judges the peer certificate of a finished handshake against the trust material `now` and
 * the time now, into *out (which may hold an earlier verdict; tls_peer_clear() after). The
 * first verification error is the verdict; a leaf must be no CA, have EKU clientAuth and one
 * spiffe:// URI SAN. Uses the handshake's verdict when that was made with `now`, else
 * verifies the chain again.
 */
void tls_peer_judge(struct ssl_st *ssl, const tls_ctx_t *now, tls_peer_t *out);
void tls_peer_clear(tls_peer_t *p);

/* Standard base64 (RFC 4648 §4) decode for HTTP Basic; false when malformed or too long. */
bool tls_b64_decode(const char *in, size_t len, char *out, size_t cap, size_t *out_len);

#endif /* ISSUER_SERVER_TLS_H */
