/* SPDX-License-Identifier: Apache-2.0 */
/* Certificate helpers: RFC 8705 thumbprints, SPIFFE IDs, reading a certificate from PEM. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <mesh/limits.h>
#include <mesh/x509.h>

#include "b64url.h"
#include "internal.h"
#include "x509_internal.h"

#define SPIFFE_PREFIX "spiffe://"

MESH_EXPORT mesh_err_t mesh_x5t_s256(const uint8_t *der, size_t len, char out[MESH_X5T_LEN + 1])
{
    uint8_t md[SHA256_DIGEST_LENGTH];

    mesh_err_clear();
    if (der == NULL || len == 0 || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_x5t_s256: empty certificate or NULL "
                                                  "argument");
    }
    /* RFC 8705 §3.1: base64url of the SHA-256 of the DER certificate. */
    SHA256(der, len, md);
    mesh_b64url_encode(md, sizeof(md), out);
    return MESH_OK;
}

static bool spiffe_char(char c, bool path)
{
    /* SPIFFE ID spec §2.1-2.2: trust domain [a-z0-9.-_], path segments also [A-Z]. */
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
           (path && c >= 'A' && c <= 'Z');
}

/* A well-formed SPIFFE ID: spiffe://trust-domain[/segment...], no empty, "." or ".." segment. */
static bool spiffe_valid(const char *s, size_t len)
{
    size_t plen = strlen(SPIFFE_PREFIX);
    size_t i = plen;
    size_t seg_start;

    if (len > MESH_MAX_SPIFFE_ID || len <= plen || memcmp(s, SPIFFE_PREFIX, plen) != 0) {
        return false;
    }
    while (i < len && s[i] != '/') {
        if (!spiffe_char(s[i++], false)) {
            return false;
        }
    }
    if (i == plen) {
        return false; /* empty trust domain */
    }
    while (i < len) { /* s[i] == '/' */
        seg_start = ++i;
        while (i < len && s[i] != '/') {
            if (!spiffe_char(s[i++], true)) {
                return false;
            }
        }
        if (i == seg_start || (i - seg_start == 1 && s[seg_start] == '.') ||
            (i - seg_start == 2 && s[seg_start] == '.' && s[seg_start + 1] == '.')) {
            return false;
        }
    }
    return true;
}

/* Finds the one spiffe:// URI among the SANs; `found` counts them. */
static mesh_err_t spiffe_from_names(const GENERAL_NAMES *names, const char **id, size_t *id_len)
{
    int found = 0;

    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        const char *s;
        size_t n;

        if (gn->type != GEN_URI) {
            continue;
        }
        s = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
        n = (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier);
        if (n < strlen(SPIFFE_PREFIX) || memcmp(s, SPIFFE_PREFIX, strlen(SPIFFE_PREFIX)) != 0) {
            continue;
        }
        if (!spiffe_valid(s, n)) {
            return mesh_err_set(MESH_ERR_CERT, "certificate: URI SAN is not a valid SPIFFE ID "
                                               "(spiffe://trust-domain/path)");
        }
        *id = s;
        *id_len = n;
        found++;
    }
    /* SPIFFE X509-SVID §2: exactly one SPIFFE ID per certificate. */
    if (found != 1) {
        return mesh_err_set(MESH_ERR_CERT,
                            "certificate has %d spiffe:// URI SANs, needs "
                            "exactly one; reissue it with mesh-ca",
                            found);
    }
    return MESH_OK;
}

bool mesh_spiffe_id_valid(const char *s)
{
    return s != NULL && spiffe_valid(s, strlen(s));
}

mesh_err_t mesh_x509_cert_spiffe_id(const X509 *cert, char **out)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    const char *id = NULL;
    size_t id_len = 0;
    char *s;
    mesh_err_t rc;

    if (names == NULL) {
        ERR_clear_error();
        return mesh_err_set(MESH_ERR_CERT, "certificate has no subjectAltName; reissue it with "
                                           "a spiffe:// URI SAN");
    }
    rc = spiffe_from_names(names, &id, &id_len);
    if (rc == MESH_OK) {
        s = malloc(id_len + 1);
        if (s == NULL) {
            rc = mesh_err_set(MESH_ERR_NOMEM, "SPIFFE ID: out of memory");
        } else {
            memcpy(s, id, id_len);
            s[id_len] = '\0';
            *out = s;
        }
    }
    GENERAL_NAMES_free(names);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_x509_spiffe_id(const uint8_t *der, size_t len, char **out)
{
    const unsigned char *p = der;
    X509 *cert = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    if (der == NULL || out == NULL || len == 0 || len > MESH_MAX_PEM_BYTES) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_x509_spiffe_id: NULL, empty or "
                                                  "oversized certificate");
    }
    cert = d2i_X509(NULL, &p, (long)len);
    if (cert == NULL || p != der + len) {
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_CERT, "certificate: not one DER X.509 certificate");
    } else {
        rc = mesh_x509_cert_spiffe_id(cert, out);
    }
    X509_free(cert);
    return rc;
}

mesh_err_t mesh_x509_tls_peer_id(void *ssl, char **out)
{
    /* The session keeps the peer's certificate, so a resumed session answers too. */
    X509 *peer = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;

    if (peer == NULL) {
        return mesh_err_set(MESH_ERR_CERT, "the server presented no certificate");
    }
    return mesh_x509_cert_spiffe_id(peer, out);
}

void mesh_sha256(const void *data, size_t len, uint8_t out[MESH_SHA256_LEN])
{
    SHA256(data, len, out);
}

MESH_EXPORT mesh_err_t mesh_x509_load_der(const char *path, uint8_t **der, size_t *len)
{
    char *pem = NULL;
    size_t pem_len = 0;
    BIO *bio = NULL;
    X509 *cert = NULL;
    unsigned char *buf = NULL;
    unsigned char *p;
    int n;
    mesh_err_t rc;

    mesh_err_clear();
    if (path == NULL || der == NULL || len == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_x509_load_der: NULL argument");
    }
    rc = mesh_file_read(path, MESH_MAX_PEM_BYTES, &pem, &pem_len);
    if (rc != MESH_OK) {
        return rc;
    }
    bio = BIO_new_mem_buf(pem, (int)pem_len);
    cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (cert == NULL) {
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_CERT, "%s: no PEM CERTIFICATE block found", path);
        goto out;
    }
    n = i2d_X509(cert, NULL);
    buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    p = buf;
    if (i2d_X509(cert, &p) != n) {
        free(buf);
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, path);
        goto out;
    }
    *der = buf;
    *len = (size_t)n;
out:
    X509_free(cert);
    BIO_free(bio);
    free(pem);
    return rc;
}
