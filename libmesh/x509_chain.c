/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks of a service's identity files (certificate, key, CA) before they are used, so a
 * misconfiguration is reported at startup naming the file rather than as a TLS alert later.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <mesh/client.h>
#include <mesh/limits.h>

#include "internal.h"

/* Reads every certificate of a PEM file; the first is the leaf. */
static mesh_err_t load_certs(const char *path, const char *role, STACK_OF(X509) * *out)
{
    char *pem = NULL;
    size_t len = 0;
    BIO *bio;
    X509 *x;
    STACK_OF(X509) * sk;
    mesh_err_t rc;

    if (path == NULL || path[0] == '\0') {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "no %s file given", role);
    }
    rc = mesh_file_read(path, MESH_MAX_PEM_BYTES, &pem, &len);
    if (rc != MESH_OK) {
        return rc;
    }
    sk = sk_X509_new_null();
    bio = BIO_new_mem_buf(pem, (int)len);
    if (sk == NULL || bio == NULL) {
        BIO_free(bio);
        sk_X509_free(sk);
        mesh_free(pem);
        return mesh_err_set(MESH_ERR_NOMEM, "reading %s", path);
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_num(sk) >= MESH_MAX_CHAIN_DEPTH * 4 || !sk_X509_push(sk, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    mesh_free(pem);
    if (sk_X509_num(sk) == 0) {
        sk_X509_free(sk);
        return mesh_err_set(MESH_ERR_CERT,
                            "%s file %s holds no PEM certificate; give the certificate file "
                            "(BEGIN CERTIFICATE), not a key or DER file",
                            role, path);
    }
    *out = sk;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_certfile_check_key(const char *cert_path, const char *key_path)
{
    STACK_OF(X509) *certs = NULL;
    char *pem = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    rc = load_certs(cert_path, "certificate", &certs);
    if (rc != MESH_OK) {
        return rc;
    }
    if (key_path == NULL) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG, "no key file given for %s", cert_path);
        goto out;
    }
    rc = mesh_file_read(key_path, MESH_MAX_PEM_BYTES, &pem, &len);
    if (rc != MESH_OK) {
        goto out;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    if (key == NULL) {
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_KEY_PARSE,
                          "key file %s holds no unencrypted PEM private key; give the "
                          "service's key.pem",
                          key_path);
        goto out;
    }
    if (X509_check_private_key(sk_X509_value(certs, 0), key) != 1) {
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_CERT_KEY_MISMATCH,
                          "key file %s is not the key of certificate %s; point TLS_KEY_PATH "
                          "and TLS_CERT_PATH at the same service's pair",
                          key_path, cert_path);
        goto out;
    }
    rc = MESH_OK;
out:
    EVP_PKEY_free(key);
    BIO_free(bio);
    if (pem != NULL) {
        OPENSSL_cleanse(pem, len);
    }
    mesh_free(pem);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_certfile_check_time(const char *cert_path, int64_t now,
                                                int64_t *not_after)
{
    STACK_OF(X509) *certs = NULL;
    X509 *leaf;
    time_t t = now != 0 ? (time_t)now : time(NULL);
    struct tm tm_after;
    int64_t after = 0;
    mesh_err_t rc;

    mesh_err_clear();
    rc = load_certs(cert_path, "certificate", &certs);
    if (rc != MESH_OK) {
        return rc;
    }
    leaf = sk_X509_value(certs, 0);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm_after) == 1) {
        after = (int64_t)timegm(&tm_after);
    }
    if (X509_cmp_time(X509_get0_notBefore(leaf), &t) > 0) {
        rc = mesh_err_set(MESH_ERR_CERT,
                          "certificate %s is not valid yet (notBefore is in the future); check "
                          "the clock or re-issue it",
                          cert_path);
    } else if (X509_cmp_time(X509_get0_notAfter(leaf), &t) < 0) {
        rc = mesh_err_set(MESH_ERR_CERT,
                          "certificate %s expired at %lld (now %lld); re-issue it (mesh-ca "
                          "issue) and restart the service",
                          cert_path, (long long)after, (long long)t);
    } else {
        rc = MESH_OK;
        if (not_after != NULL) {
            *not_after = after;
        }
    }
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_certfile_check_chain(const char *cert_path, const char *ca_path)
{
    STACK_OF(X509) *certs = NULL, *cas = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    rc = load_certs(cert_path, "certificate", &certs);
    if (rc != MESH_OK) {
        return rc;
    }
    rc = load_certs(ca_path, "CA", &cas);
    if (rc != MESH_OK) {
        goto out;
    }
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    untrusted = sk_X509_new_null();
    if (store == NULL || ctx == NULL || untrusted == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "checking %s", cert_path);
        goto out;
    }
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509_STORE_add_cert(store, sk_X509_value(cas, i));
    }
    for (int i = 1; i < sk_X509_num(certs); i++) {
        sk_X509_push(untrusted, sk_X509_value(certs, i));
    }
    X509_STORE_set_depth(store, MESH_MAX_CHAIN_DEPTH);
    if (X509_STORE_CTX_init(ctx, store, sk_X509_value(certs, 0), untrusted) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "X509_STORE_CTX_init");
        goto out;
    }
    if (X509_verify_cert(ctx) != 1) {
        int err = X509_STORE_CTX_get_error(ctx);
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_CERT,
                          "certificate %s does not chain to the CA in %s (%s); use the CA that "
                          "issued it (TLS_CA_PATH) or re-issue the certificate from this CA",
                          cert_path, ca_path, X509_verify_cert_error_string(err));
        goto out;
    }
    rc = MESH_OK;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(untrusted);
    sk_X509_pop_free(cas, X509_free);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}
