/* SPDX-License-Identifier: Apache-2.0 */
/* PEM in and out: parsing with OSSL_DECODER, writing keys to files atomically with their mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "internal.h"
#include "key_internal.h"

/* Encrypted PEM is not supported: refuse to prompt for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static mesh_err_t pem_decode(const char *pem, size_t len, const char *what, EVP_PKEY **out)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx = NULL;
    const unsigned char *p = (const unsigned char *)pem;
    size_t left = len;
    mesh_err_t rc = MESH_OK;

    /* selection 0: SubjectPublicKeyInfo, PKCS#8 and the traditional RSA/EC forms alike. */
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, 0, NULL, NULL);
    if (dctx == NULL) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, what);
    }
    if (OSSL_DECODER_CTX_set_pem_password_cb(dctx, no_passphrase, NULL) != 1 ||
        OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL) {
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_KEY_PARSE,
                          "%s: no unencrypted PEM key (SubjectPublicKeyInfo, "
                          "PKCS#8, RSA or EC PRIVATE KEY) could be read",
                          what);
        EVP_PKEY_free(pkey);
        goto out;
    }
    *out = pkey;
out:
    OSSL_DECODER_CTX_free(dctx);
    return rc;
}

static mesh_err_t key_from_pem_named(const char *pem, size_t len, mesh_alg_t alg, const char *what,
                                     mesh_key_t **out)
{
    EVP_PKEY *pkey = NULL;
    mesh_err_t rc;

    if (len > MESH_MAX_PEM_BYTES) {
        return mesh_err_set(MESH_ERR_LIMIT, "%s: %zu bytes, over the %d-byte PEM limit", what, len,
                            MESH_MAX_PEM_BYTES);
    }
    rc = pem_decode(pem, len, what, &pkey);
    if (rc != MESH_OK) {
        return rc;
    }
    return mesh_key_wrap(pkey, alg, NULL, what, out);
}

MESH_EXPORT mesh_err_t mesh_key_from_pem(const char *pem, size_t len, mesh_alg_t alg,
                                         mesh_key_t **out)
{
    mesh_err_clear();
    if (pem == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_from_pem: NULL argument");
    }
    return key_from_pem_named(pem, len, alg, "PEM key", out);
}

MESH_EXPORT mesh_err_t mesh_key_load_pem_file(const char *path, mesh_alg_t alg, mesh_key_t **out)
{
    char *buf = NULL;
    size_t len = 0;
    mesh_err_t rc;

    mesh_err_clear();
    if (path == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_load_pem_file: NULL argument");
    }
    rc = mesh_file_read(path, MESH_MAX_PEM_BYTES, &buf, &len);
    if (rc == MESH_OK) {
        rc = key_from_pem_named(buf, len, alg, path, out);
        OPENSSL_cleanse(buf, len);
    }
    free(buf);
    return rc;
}

/* PEM of the public key (SPKI) or the private key (PKCS#8) in a BIO; secure memory if private. */
static mesh_err_t pem_encode(const mesh_key_t *key, bool private_part, BIO **out)
{
    BIO *bio = BIO_new(private_part ? BIO_s_secmem() : BIO_s_mem());
    int ok;

    if (bio == NULL) {
        return mesh_err_openssl(MESH_ERR_NOMEM, "PEM encoding");
    }
    if (private_part) {
        ok = PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
    } else {
        ok = PEM_write_bio_PUBKEY(bio, key->pkey);
    }
    if (ok != 1) {
        BIO_free(bio);
        return mesh_err_openssl(MESH_ERR_INTERNAL, "PEM encoding");
    }
    *out = bio;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_key_public_pem(const mesh_key_t *key, char **out)
{
    BIO *bio = NULL;
    char *data = NULL;
    char *s;
    long n;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_public_pem: NULL argument");
    }
    rc = pem_encode(key, false, &bio);
    if (rc != MESH_OK) {
        return rc;
    }
    n = BIO_get_mem_data(bio, &data);
    s = malloc((size_t)n + 1);
    if (s == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "public PEM: out of memory");
    } else {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
        *out = s;
    }
    BIO_free(bio);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_key_write_pem_file(const mesh_key_t *key, const char *path,
                                               bool private_part, bool overwrite)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || path == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_write_pem_file: NULL argument");
    }
    if (private_part && !key->is_private) {
        return mesh_err_set(MESH_ERR_KEY_NOT_PRIVATE,
                            "%s: the key has no private half to "
                            "write",
                            path);
    }
    rc = pem_encode(key, private_part, &bio);
    if (rc != MESH_OK) {
        return rc;
    }
    n = BIO_get_mem_data(bio, &data);
    rc = mesh_file_write_atomic(path, data, (size_t)n, private_part ? 0600 : 0644, overwrite);
    BIO_free(bio); /* a secmem BIO wipes the private PEM */
    return rc;
}
