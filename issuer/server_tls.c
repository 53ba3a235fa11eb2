/* SPDX-License-Identifier: Apache-2.0 */
#include "server_tls.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

#include <mesh/limits.h>
#include <mesh/renew.h>
#include <mesh/util.h>

#include "log.h"

struct tls_ctx {
    SSL_CTX *ctx;
    uint64_t gen;   /* which trust material: a new one on every reload */
    char **revoked; /* cert keys (see cert_key) the configured CRLs list */
    size_t n_revoked;
};

/* What the verify callback needs to know about the trust material, owned by the X509_STORE
 * (a handshake can outlive the state that made its SSL_CTX). */
typedef struct {
    STACK_OF(X509_NAME) * crl_issuers; /* CAs with a configured CRL */
    time_t crl_next_update;            /* earliest nextUpdate; 0 = none */
} trust_info_t;

static atomic_uint_fast64_t tls_generation;
static int store_idx = -1;     /* X509_STORE -> trust_info_t */
static int first_err_idx = -1; /* X509_STORE_CTX -> the first error (intptr_t) */

/* Mozilla "intermediate" TLS 1.2 suites: forward secrecy and AEAD only. */
static const char TLS12_CIPHERS[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static int conn_idx = -1;
static void (*conn_free_hook)(void *conn);

static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    SSL *ssl = parent;
    /* evhttp ends connections without close_notify, and OpenSSL drops the session of such
     * a connection from the cache as it frees it. A clean end of ours is not a truncation
     * (RFC 8446 §6.1 no longer asks for this): keep the session resumable. Fatal alerts
     * remove their session themselves. */
    if (ssl != NULL && SSL_is_init_finished(ssl)) {
        SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
    }
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

static void trust_info_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
    trust_info_t *ti = ptr;
    if (ti != NULL) {
        sk_X509_NAME_pop_free(ti->crl_issuers, X509_NAME_free);
        free(ti);
    }
}

/* A missing CRL is not an error for a CA that has none configured: mesh-ca writes
 * certs/crl.pem only after the first revocation, and a CA may have no CRL at all. */
static bool crl_optional(X509_STORE_CTX *x)
{
    const trust_info_t *ti = X509_STORE_get_ex_data(X509_STORE_CTX_get0_store(x), store_idx);
    X509 *cert = X509_STORE_CTX_get_current_cert(x);
    if (ti == NULL || cert == NULL) {
        return false;
    }
    const X509_NAME *issuer = X509_get_issuer_name(cert);
    for (int i = 0; i < sk_X509_NAME_num(ti->crl_issuers); i++) {
        if (X509_NAME_cmp(sk_X509_NAME_value(ti->crl_issuers, i), issuer) == 0) {
            return false;
        }
    }
    return true;
}

/*
 * Keep going on every error so the handshake completes and the caller gets a JSON answer,
 * but the first error is the verdict and nothing lowers it: every call puts it back, so the
 * result OpenSSL keeps (SSL_get_verify_result, the session a resumption reuses) is that first
 * error. OpenSSL checks CRLs before signatures, so a tolerated missing CRL must not hide an
 * error that comes later either: it is simply not recorded.
 */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
    intptr_t first = (intptr_t)X509_STORE_CTX_get_ex_data(x, first_err_idx);
    int err = X509_STORE_CTX_get_error(x);
    if (!ok && first == X509_V_OK && err != X509_V_OK &&
        !(err == X509_V_ERR_UNABLE_TO_GET_CRL && crl_optional(x))) {
        first = err;
        X509_STORE_CTX_set_ex_data(x, first_err_idx, (void *)first);
    }
    X509_STORE_CTX_set_error(x, (int)first);
    return 1;
}

static time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    return t != NULL && ASN1_TIME_to_tm(t, &tm) == 1 ? timegm(&tm) : 0;
}

/* "<SHA-256 of the issuer name, hex>:<serial, hex>": which certificate a CRL entry names. */
static bool cert_key(const X509_NAME *issuer, const ASN1_INTEGER *serial, char *out, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    bool ok = hex != NULL && X509_NAME_digest(issuer, EVP_sha256(), md, &mdlen) == 1 &&
              (size_t)mdlen * 2 + strlen(hex) + 2 <= cap;
    if (ok) {
        for (unsigned int i = 0; i < mdlen; i++) {
            snprintf(out + 2 * i, 3, "%02x", md[i]);
        }
        snprintf(out + 2 * mdlen, cap - 2 * mdlen, ":%s", hex);
    }
    OPENSSL_free(hex);
    BN_free(bn);
    ERR_clear_error();
    return ok;
}

static mesh_err_t add_revoked(tls_ctx_t *t, const X509_CRL *crl)
{
    STACK_OF(X509_REVOKED) *list = X509_CRL_get_REVOKED((X509_CRL *)crl);
    for (int i = 0; i < sk_X509_REVOKED_num(list); i++) {
        char key[TLS_CERT_KEY_LEN + 1];
        if (!cert_key(X509_CRL_get_issuer(crl),
                      X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i)), key,
                      sizeof(key))) {
            continue; /* a serial too long to be ours */
        }
        char **grown = realloc(t->revoked, (t->n_revoked + 1) * sizeof(*grown));
        if (grown == NULL) {
            return MESH_ERR_NOMEM;
        }
        t->revoked = grown;
        if ((t->revoked[t->n_revoked] = strdup(key)) == NULL) {
            return MESH_ERR_NOMEM;
        }
        t->n_revoked++;
    }
    return MESH_OK;
}

static mesh_err_t load_crl(X509_STORE *store, trust_info_t *ti, tls_ctx_t *t, const char *path,
                           char *err, size_t errlen)
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
    mesh_err_t rc = MESH_OK;
    while (rc == MESH_OK && (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        X509_NAME *name = X509_NAME_dup(X509_CRL_get_issuer(crl));
        if (name == NULL || sk_X509_NAME_push(ti->crl_issuers, name) <= 0) {
            X509_NAME_free(name);
            rc = MESH_ERR_NOMEM;
        }
        time_t next = asn1_time(X509_CRL_get0_nextUpdate(crl));
        if (next != 0 && (ti->crl_next_update == 0 || next < ti->crl_next_update)) {
            ti->crl_next_update = next;
        }
        if (rc == MESH_OK) {
            rc = add_revoked(t, crl);
        }
        X509_STORE_add_crl(store, crl);
        X509_CRL_free(crl);
        n++;
    }
    BIO_free(bio);
    ERR_clear_error();
    if (rc != MESH_OK) {
        snprintf(err, errlen, "CRL %s: out of memory", path);
        return rc;
    }
    if (n == 0) {
        snprintf(err, errlen, "CRL %s holds no PEM X509 CRL", path);
        return MESH_ERR_CONFIG;
    }
    /* RFC 5280 §6.3: check the leaf against its issuer's CRL. */
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    return MESH_OK;
}

/*
 * The server's own certificate chain and key, read as one pair (a renewal renames the
 * certificate, then the key: mesh_identity_read_pair reads again until they match) and
 * loaded from memory, so that a reload never pairs a new certificate with an old key.
 */
static mesh_err_t use_pair(SSL_CTX *ctx, const config_t *cfg, char *err, size_t errlen)
{
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    mesh_err_t rc = mesh_identity_read_pair(cfg->tls_cert, cfg->tls_key, &cert, &cl, &key, &kl);
    if (rc != MESH_OK) {
        snprintf(err, errlen, "tls.cert %s / tls.key %s: %s", cfg->tls_cert, cfg->tls_key,
                 mesh_err_detail());
        return rc == MESH_ERR_NOMEM ? rc : MESH_ERR_CONFIG;
    }
    rc = MESH_ERR_CONFIG;
    BIO *cb = BIO_new_mem_buf(cert, (int)cl);
    BIO *kb = BIO_new_mem_buf(key, (int)kl);
    X509 *x = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *pk = NULL;
    if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
        ssl_err(err, errlen, "tls.cert: cannot use certificate", cfg->tls_cert);
        goto out;
    }
    SSL_CTX_clear_chain_certs(ctx);
    for (X509 *ch; (ch = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL;) {
        if (SSL_CTX_add0_chain_cert(ctx, ch) != 1) {
            X509_free(ch);
            ssl_err(err, errlen, "tls.cert: cannot use the chain in", cfg->tls_cert);
            goto out;
        }
    }
    ERR_clear_error(); /* the end of the chain */
    pk = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    if (pk == NULL || SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
        ssl_err(err, errlen, "tls.key: cannot use key", cfg->tls_key);
        goto out;
    }
    rc = MESH_OK;
out:
    EVP_PKEY_free(pk);
    X509_free(x);
    BIO_free(cb);
    BIO_free(kb);
    mesh_wipe(key, kl);
    mesh_free(key);
    mesh_free(cert);
    return rc;
}

mesh_err_t tls_ctx_new(const config_t *cfg, tls_ctx_t **out, char *err, size_t errlen)
{
    if (conn_idx < 0) {
        conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
        store_idx = X509_STORE_get_ex_new_index(0, NULL, NULL, NULL, trust_info_free);
        first_err_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }
    tls_ctx_t *t = calloc(1, sizeof(*t));
    SSL_CTX *ctx = t != NULL ? SSL_CTX_new(TLS_server_method()) : NULL;
    if (ctx == NULL) {
        free(t);
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
    if ((rc = use_pair(ctx, cfg, err, errlen)) != MESH_OK) {
        goto out;
    }
    rc = MESH_ERR_CONFIG;
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "tls.key %s does not match tls.cert %s", cfg->tls_key, cfg->tls_cert);
        goto out;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    trust_info_t *ti = calloc(1, sizeof(*ti));
    if (ti != NULL && (ti->crl_issuers = sk_X509_NAME_new_null()) == NULL) {
        free(ti);
        ti = NULL;
    }
    if (ti == NULL || X509_STORE_set_ex_data(store, store_idx, ti) != 1) {
        trust_info_free(NULL, ti, NULL, 0, 0, NULL);
        rc = MESH_ERR_NOMEM;
        goto out;
    }
    if (X509_STORE_load_file(store, cfg->tls_ca) != 1) {
        ssl_err(err, errlen, "tls.ca: cannot load CA certificates from", cfg->tls_ca);
        goto out;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_ca);
    if (names != NULL) {
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    ERR_clear_error();
    if (cfg->tls_crl != NULL &&
        (rc = load_crl(store, ti, t, cfg->tls_crl, err, errlen)) != MESH_OK) {
        goto out;
    }
    /* The issuing CA's own CRL (`mesh-issuer cert revoke` writes it): a certificate this
     * issuer revoked is refused here too, from the next SIGHUP. */
    if (cfg->certs.enabled &&
        (rc = load_crl(store, ti, t, cfg->certs.crl, err, errlen)) != MESH_OK) {
        goto out;
    }
    rc = MESH_ERR_CONFIG;
    /* Requested, not required: service-token callers have no certificate. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_verify_depth(ctx, MESH_MAX_CHAIN_DEPTH);
    static const unsigned char sid_ctx[] = "mesh-issuer";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    /* Resumption from the server's own cache only (stateful tickets in TLS 1.3): a session
     * there keeps the peer's whole chain, which a per-request re-check needs; a stateless
     * ticket would bring back the leaf alone. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_sess_set_cache_size(ctx, MESH_TLS_SESSION_CACHE); /* each holds a whole chain */
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_timeout(ctx, 3600);
    t->ctx = ctx;
    t->gen = atomic_fetch_add(&tls_generation, 1) + 1;
    *out = t;
    return MESH_OK;
out:
    t->ctx = ctx;
    tls_ctx_free(t);
    return rc;
}

void tls_ctx_free(tls_ctx_t *t)
{
    if (t != NULL) {
        SSL_CTX_free(t->ctx); /* live connections hold their own reference */
        for (size_t i = 0; i < t->n_revoked; i++) {
            free(t->revoked[i]);
        }
        free(t->revoked);
        free(t);
    }
}

size_t tls_ctx_revoked(const tls_ctx_t *t, const char *const **keys)
{
    *keys = (const char *const *)t->revoked;
    return t->n_revoked;
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

uint64_t tls_ctx_gen(const tls_ctx_t *t)
{
    return t->gen;
}

/* The verdict on a chain holds until its first certificate expires or a CRL is due. */
static time_t verdict_until(STACK_OF(X509) * chain, X509 *leaf, const trust_info_t *ti)
{
    time_t until = asn1_time(X509_get0_notAfter(leaf));
    for (int i = 0; i < sk_X509_num(chain); i++) {
        time_t t = asn1_time(X509_get0_notAfter(sk_X509_value(chain, i)));
        if (t < until) {
            until = t;
        }
    }
    if (ti != NULL && ti->crl_next_update != 0 && ti->crl_next_update < until) {
        until = ti->crl_next_update;
    }
    return until;
}

/* The chain judged again against `store` and the time now, as a handshake would judge it. */
static long verify_now(X509_STORE *store, X509 *leaf, STACK_OF(X509) * untrusted, time_t *until)
{
    X509_STORE_CTX *x = X509_STORE_CTX_new();
    long vr = X509_V_ERR_OUT_OF_MEM;
    if (x != NULL && X509_STORE_CTX_init(x, store, leaf, untrusted) == 1 &&
        X509_STORE_CTX_set_default(x, "ssl_client") == 1) {
        X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(x), MESH_MAX_CHAIN_DEPTH);
        X509_STORE_CTX_set_verify_cb(x, verify_cb);
        int r = X509_verify_cert(x);
        vr = X509_STORE_CTX_get_error(x);
        if (r <= 0 && vr == X509_V_OK) {
            vr = X509_V_ERR_UNSPECIFIED; /* failed without saying why: still a failure */
        }
        if (vr == X509_V_OK) {
            *until = verdict_until(X509_STORE_CTX_get0_chain(x), leaf,
                                   X509_STORE_get_ex_data(store, store_idx));
        }
    }
    X509_STORE_CTX_free(x);
    ERR_clear_error();
    return vr;
}

/* SPIFFE X.509-SVID §4.1, §4.3: a leaf is not a CA, may not sign certificates, and here
 * must say it is for TLS clients. */
static bool leaf_rules(X509 *cert, char *why, size_t cap)
{
    uint32_t flags = X509_get_extension_flags(cert);
    if (flags & EXFLAG_INVALID) {
        snprintf(why, cap, "certificate has invalid extensions");
    } else if (X509_check_ca(cert) != 0) {
        snprintf(why, cap, "a CA certificate is not a client identity");
    } else if ((flags & EXFLAG_KUSAGE) && (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN)) {
        snprintf(why, cap, "a certificate with keyCertSign is not a client identity");
    } else if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT)) {
        snprintf(why, cap, "certificate lacks extendedKeyUsage clientAuth");
    } else {
        return true;
    }
    return false;
}

void tls_peer_judge(struct ssl_st *ssl, const tls_ctx_t *now, tls_peer_t *out)
{
    tls_peer_clear(out);
    memset(out, 0, sizeof(*out));
    out->gen = now->gen;
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL) {
        return;
    }
    out->presented = true;
    time_t until = 0;
    long vr;
    if (SSL_get_SSL_CTX(ssl) == now->ctx && !SSL_session_reused(ssl)) {
        /* This handshake judged it against the trust material in force now. */
        vr = SSL_get_verify_result(ssl);
        STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
        until = verdict_until(chain, cert,
                              X509_STORE_get_ex_data(SSL_CTX_get_cert_store(now->ctx), store_idx));
    } else {
        /* Another trust material (a reload since the handshake) or an earlier handshake's
         * verdict (a resumed session): judge the chain now. */
        vr = verify_now(SSL_CTX_get_cert_store(now->ctx), cert, SSL_get_peer_cert_chain(ssl),
                        &until);
    }
    if (vr == X509_V_OK && time(NULL) >= until) {
        vr = X509_V_ERR_CERT_HAS_EXPIRED; /* since the handshake */
    }
    if (vr != X509_V_OK) {
        snprintf(out->error, sizeof(out->error), "%s (X509 error %ld)",
                 X509_verify_cert_error_string(vr), vr);
        out->lapsed = vr == X509_V_ERR_CERT_HAS_EXPIRED || vr == X509_V_ERR_CERT_REVOKED;
        return;
    }
    if (!leaf_rules(cert, out->error, sizeof(out->error))) {
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
    } else if (!cert_key(X509_get_issuer_name(cert), X509_get0_serialNumber(cert), out->cert_key,
                         sizeof(out->cert_key))) {
        snprintf(out->error, sizeof(out->error), "certificate serial number is too long");
    } else {
        out->verified = true;
        out->until = (int64_t)until;
        out->not_after = (int64_t)asn1_time(X509_get0_notAfter(cert));
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
