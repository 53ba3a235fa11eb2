/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The X.509 half of a renewal (renew.c does the rest): the CSR for a new key, and the checks
 * of what comes back and of a pair on disk (the key is the leaf's; the chain reaches the CA).
 */
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <mesh/limits.h>
#include <mesh/openssl.h>

#include "internal.h"
#include "renew_internal.h"
#include "x509_internal.h"

/* The CN a CSR asks for: the last path segment of the SPIFFE ID (the service's name). */
static const char *service_of(const char *spiffe_id)
{
    const char *slash = strrchr(spiffe_id, '/');
    return slash != NULL ? slash + 1 : spiffe_id;
}

static mesh_err_t csr_names(X509_REQ *req, const char *spiffe_id)
{
    X509_NAME *name = X509_REQ_get_subject_name(req);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *san = NULL;
    char uri[MESH_MAX_SPIFFE_ID + 8];
    mesh_err_t rc = MESH_OK;

    snprintf(uri, sizeof(uri), "URI:%s", spiffe_id);
    if (exts == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)service_of(spiffe_id), -1, -1, 0) != 1 ||
        (san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, uri)) == NULL ||
        !sk_X509_EXTENSION_push(exts, san) || X509_REQ_add_extensions(req, exts) != 1) {
        if (san != NULL && sk_X509_EXTENSION_find(exts, san) < 0) {
            X509_EXTENSION_free(san);
        }
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "CSR names");
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

mesh_err_t mesh_x509_csr_pem(const mesh_key_t *key, const char *spiffe_id, char **out)
{
    EVP_PKEY *pkey = mesh_key_evp(key);
    X509_REQ *req = X509_REQ_new();
    BIO *bio = BIO_new(BIO_s_mem());
    const EVP_MD *md;
    mesh_err_t rc = MESH_OK;
    char *data;
    long n;

    if (req == NULL || bio == NULL || pkey == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "CSR");
        goto out;
    }
    /* Ed25519 signs without a separate digest. */
    md = EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    if (X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_pubkey(req, pkey) != 1 ||
        (spiffe_id != NULL && (rc = csr_names(req, spiffe_id)) != MESH_OK) ||
        X509_REQ_sign(req, pkey, md) <= 0 || PEM_write_bio_X509_REQ(bio, req) != 1) {
        rc = rc != MESH_OK ? rc : mesh_err_openssl(MESH_ERR_INTERNAL, "signing the CSR");
        goto out;
    }
    n = BIO_get_mem_data(bio, &data);
    if ((*out = malloc((size_t)n + 1)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "CSR");
        goto out;
    }
    memcpy(*out, data, (size_t)n);
    (*out)[n] = '\0';
out:
    BIO_free(bio);
    X509_REQ_free(req);
    return rc;
}

static X509 *first_cert(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    ERR_clear_error();
    return x;
}

bool mesh_x509_pem_pair_matches(const char *cert_pem, size_t cert_len, const char *key_pem,
                                size_t key_len)
{
    X509 *x = first_cert(cert_pem, cert_len);
    BIO *bio = BIO_new_mem_buf(key_pem, (int)key_len);
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    bool ok = x != NULL && k != NULL && X509_check_private_key(x, k) == 1;

    ERR_clear_error();
    EVP_PKEY_free(k);
    BIO_free(bio);
    X509_free(x);
    return ok;
}

bool mesh_x509_pem_has_key(const char *cert_pem, size_t len, const mesh_key_t *key)
{
    X509 *x = first_cert(cert_pem, len);
    EVP_PKEY *pub = x != NULL ? X509_get0_pubkey(x) : NULL;
    bool ok = pub != NULL && EVP_PKEY_eq(pub, mesh_key_evp(key)) == 1;

    ERR_clear_error();
    X509_free(x);
    return ok;
}

static int64_t epoch_of(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    return (int64_t)timegm(&tm);
}

mesh_err_t mesh_x509_pem_info(const char *cert_pem, size_t len, const char *what,
                              mesh_renew_info_t *info)
{
    X509 *x = first_cert(cert_pem, len);
    BIGNUM *bn = NULL;
    char *hex = NULL, *id = NULL;

    if (x == NULL) {
        return mesh_err_set(MESH_ERR_CERT, "%s holds no PEM certificate", what);
    }
    memset(info, 0, sizeof(*info));
    info->not_before = epoch_of(X509_get0_notBefore(x));
    info->not_after = epoch_of(X509_get0_notAfter(x));
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    if (hex != NULL) {
        snprintf(info->serial, sizeof(info->serial), "%s", hex);
    }
    if (mesh_x509_cert_spiffe_id(x, &id) == MESH_OK && id != NULL) {
        snprintf(info->spiffe_id, sizeof(info->spiffe_id), "%s", id);
    }
    mesh_err_clear();
    mesh_free(id);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    return MESH_OK;
}

mesh_err_t mesh_x509_pem_chain_check(const char *cert_pem, size_t len, const char *ca_path,
                                     int64_t now)
{
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)len);
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509 *leaf = NULL, *x;
    mesh_err_t rc = MESH_OK;

    if (bio == NULL || chain == NULL || store == NULL || ctx == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "chain check");
        goto out;
    }
    leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    while (leaf != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_num(chain) >= MESH_MAX_CHAIN_DEPTH || !sk_X509_push(chain, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error();
    if (leaf == NULL) {
        rc = mesh_err_set(MESH_ERR_CERT, "the issuer's answer holds no PEM certificate");
        goto out;
    }
    if (X509_STORE_load_file(store, ca_path) != 1) {
        rc = mesh_err_openssl(MESH_ERR_CERT, "reading the CA file");
        goto out;
    }
    if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "chain check");
        goto out;
    }
    X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
    if (X509_verify_cert(ctx) != 1) {
        rc = mesh_err_set(MESH_ERR_CERT,
                          "the new certificate does not chain to the CA in %s: "
                          "%s",
                          ca_path, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    BIO_free(bio);
    return rc;
}
