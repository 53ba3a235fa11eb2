/* SPDX-License-Identifier: Apache-2.0 */
#include "server_tls.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <mesh/limits.h>

#include "log.h"

struct tls_ctx {
    SSL_CTX *ctx;
};

/* Mozilla "intermediate" TLS 1.2 suites: forward secrecy and AEAD only. */
static const char TLS12_CIPHERS[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static int conn_idx = -1;
static void (*conn_free_hook)(void *conn);

static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    if (ptr != NULL && conn_free_hook != NULL) {
        conn_free_hook(ptr);
    }
}

void tls_set_conn_free_hook(void (*fn)(void *conn))
{
    conn_free_hook = fn;
}

static void ssl_err(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "unknown error";
    if (e != 0) {
        ERR_error_string_n(e, reason, sizeof(reason));
    }
    ERR_clear_error();
    snprintf(err, errlen, "%s %s: %s", what, path, reason);
}

/*
 * Keep going on every error so the handshake completes and the caller gets a JSON answer;
 * SSL_get_verify_result() keeps the verdict. A missing CRL for a CA is not an error: mesh-ca
 * writes certs/crl.pem only after the first revocation.
 */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
    if (!ok && X509_STORE_CTX_get_error(x) == X509_V_ERR_UNABLE_TO_GET_CRL) {
        X509_STORE_CTX_set_error(x, X509_V_OK);
    }
    return 1;
}

static mesh_err_t load_crl(X509_STORE *store, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        log_msg(LOG_INFO, "no CRL yet", "%s does not exist; no certificate is revoked", path);
        return MESH_OK;
    }
    BIO *bio = BIO_new_file(path, "r");
    if (bio == NULL) {
        ssl_err(err, errlen, "cannot read CRL", path);
        return MESH_ERR_IO;
    }
    int n = 0;
    X509_CRL *crl;
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        X509_STORE_add_crl(store, crl);
        X509_CRL_free(crl);
        n++;
    }
    BIO_free(bio);
    ERR_clear_error();
    if (n == 0) {
        snprintf(err, errlen, "CRL %s holds no PEM X509 CRL", path);
        return MESH_ERR_CONFIG;
    }
    /* RFC 5280 §6.3: check the leaf against its issuer's CRL. */
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    return MESH_OK;
}

mesh_err_t tls_ctx_new(const config_t *cfg, tls_ctx_t **out, char *err, size_t errlen)
{
    if (conn_idx < 0) {
        conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ssl_err(err, errlen, "cannot create", "TLS context");
        return MESH_ERR_INTERNAL;
    }
    mesh_err_t rc = MESH_ERR_CONFIG;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
        ssl_err(err, errlen, "cannot set", "ciphers");
        goto out;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        ssl_err(err, errlen, "tls.cert: cannot use certificate", cfg->tls_cert);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "tls.key: cannot use key", cfg->tls_key);
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "tls.key %s does not match tls.cert %s", cfg->tls_key, cfg->tls_cert);
        goto out;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    if (X509_STORE_load_file(store, cfg->tls_ca) != 1) {
        ssl_err(err, errlen, "tls.ca: cannot load CA certificates from", cfg->tls_ca);
        goto out;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_ca);
    if (names != NULL) {
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    ERR_clear_error();
    if (cfg->tls_crl != NULL && (rc = load_crl(store, cfg->tls_crl, err, errlen)) != MESH_OK) {
        goto out;
    }
    rc = MESH_ERR_CONFIG;
    /* Requested, not required: service-token callers have no certificate. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_verify_depth(ctx, MESH_MAX_CHAIN_DEPTH);
    static const unsigned char sid_ctx[] = "mesh-issuer";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_timeout(ctx, 3600);
    tls_ctx_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        rc = MESH_ERR_NOMEM;
        goto out;
    }
    t->ctx = ctx;
    *out = t;
    return MESH_OK;
out:
    SSL_CTX_free(ctx);
    return rc;
}

void tls_ctx_free(tls_ctx_t *t)
{
    if (t != NULL) {
        SSL_CTX_free(t->ctx); /* live connections hold their own reference */
        free(t);
    }
}

struct ssl_st *tls_ssl_new(tls_ctx_t *t)
{
    return SSL_new(t->ctx);
}

void tls_set_conn(struct ssl_st *ssl, void *conn)
{
    SSL_set_ex_data(ssl, conn_idx, conn);
}

void *tls_get_conn(struct ssl_st *ssl)
{
    return SSL_get_ex_data(ssl, conn_idx);
}

void tls_peer_get(struct ssl_st *ssl, tls_peer_t *out)
{
    memset(out, 0, sizeof(*out));
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL) {
        return;
    }
    out->presented = true;
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(out->error, sizeof(out->error), "%s (X509 error %ld)",
                 X509_verify_cert_error_string(vr), vr);
        return;
    }
    /* A resumed session carries the verdict of its first handshake: re-check expiry. */
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        snprintf(out->error, sizeof(out->error), "certificate has expired (X509 error %d)",
                 X509_V_ERR_CERT_HAS_EXPIRED);
        return;
    }
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len <= 0) {
        snprintf(out->error, sizeof(out->error), "certificate cannot be encoded");
        return;
    }
    if (mesh_x5t_s256(der, (size_t)len, out->x5t) != MESH_OK) {
        snprintf(out->error, sizeof(out->error), "cannot compute x5t#S256");
    } else if (mesh_x509_spiffe_id(der, (size_t)len, &out->identity) != MESH_OK) {
        snprintf(out->error, sizeof(out->error), "certificate has no single spiffe:// URI SAN (%s)",
                 mesh_err_detail());
        out->identity = NULL;
    } else {
        out->verified = true;
    }
    OPENSSL_free(der);
}

void tls_peer_clear(tls_peer_t *p)
{
    mesh_free(p->identity);
    p->identity = NULL;
}

bool tls_b64_decode(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    if (len == 0 || len % 4 != 0 || len / 4 * 3 + 1 > cap || len > INT32_MAX) {
        return false;
    }
    int n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
    if (n < 0) {
        return false;
    }
    /* EVP_DecodeBlock counts padding as zero bytes. */
    if (in[len - 1] == '=') {
        n--;
    }
    if (in[len - 2] == '=') {
        n--;
    }
    out[n] = '\0';
    *out_len = (size_t)n;
    return true;
}
