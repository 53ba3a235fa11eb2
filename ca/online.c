/* SPDX-License-Identifier: Apache-2.0 */
/*
 * online.h on OpenSSL: the issuing CA mesh-issuer holds, CSRs as untrusted input, leaves
 * signed through mint.c's profile, the issuing CA's CRL. OpenSSL comes in through ca.h, the
 * mesh-ca door (docs/ARCHITECTURE.md).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/openssl.h>

#include "ca.h"
#include "online.h"

#define PEM_BEGIN "-----BEGIN "

struct ca_issuing {
    struct ca_signer s;
    char *pem;
    int64_t not_after;
};

struct ca_csr {
    EVP_PKEY *key;
    char cn[MESH_MAX_SERVICE_NAME + 2];
    char key_type[16];
    struct ca_strv names;
};

void ca_issuing_free(ca_issuing_t *ca)
{
    if (ca == NULL) {
        return;
    }
    X509_free(ca->s.cert);
    EVP_PKEY_free(ca->s.key);
    free(ca->pem);
    free(ca);
}

mesh_err_t ca_issuing_load(const char *cert_path, const char *key_path, ca_issuing_t **out)
{
    ca_issuing_t *ca = calloc(1, sizeof(*ca));
    struct ca_pem pem = {0};
    time_t na = 0;
    mesh_err_t rc;

    if (ca == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    if ((rc = ca_load_cert(cert_path, &ca->s.cert)) != MESH_OK ||
        (rc = ca_load_key(key_path, false, &ca->s.key)) != MESH_OK) {
        goto out;
    }
    /* RFC 5280 §4.2.1.9 / §4.2.1.3: only a CA whose key may sign certificates */
    if (X509_check_ca(ca->s.cert) < 1 || (X509_get_key_usage(ca->s.cert) & KU_KEY_CERT_SIGN) == 0) {
        rc = mesh_err_set(MESH_ERR_CERT,
                          "%s is not a CA certificate with keyCertSign; mint one with "
                          "`mesh-ca issuer-ca`",
                          cert_path);
        goto out;
    }
    if (X509_check_private_key(ca->s.cert, ca->s.key) != 1) {
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_CERT_KEY_MISMATCH, "%s is not the key of %s", key_path,
                          cert_path);
        goto out;
    }
    if (!ca_asn1_to_time(X509_get0_notAfter(ca->s.cert), &na)) {
        rc = mesh_err_set(MESH_ERR_CERT, "%s: unreadable notAfter", cert_path);
        goto out;
    }
    if ((rc = ca_pem_certs(ca->s.cert, NULL, &pem)) != MESH_OK) {
        goto out;
    }
    ca->pem = strndup(pem.data, pem.len);
    ca->not_after = (int64_t)na;
    rc = ca->pem != NULL ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "out of memory");
out:
    ca_pem_free(&pem);
    if (rc != MESH_OK) {
        ca_issuing_free(ca);
        return rc;
    }
    *out = ca;
    return MESH_OK;
}

const char *ca_issuing_pem(const ca_issuing_t *ca)
{
    return ca->pem;
}

int64_t ca_issuing_not_after(const ca_issuing_t *ca)
{
    return ca->not_after;
}

void ca_csr_free(ca_csr_t *csr)
{
    if (csr == NULL) {
        return;
    }
    EVP_PKEY_free(csr->key);
    ca_strv_free(&csr->names);
    free(csr);
}

const char *ca_csr_cn(const ca_csr_t *csr)
{
    return csr->cn;
}

const char *ca_csr_key_type(const ca_csr_t *csr)
{
    return csr->key_type;
}

size_t ca_csr_names(const ca_csr_t *csr, const char *const **names)
{
    *names = (const char *const *)csr->names.v;
    return csr->names.n;
}

/* memmem without _GNU_SOURCE */
static const char *find(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

static bool only_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
            return false;
        }
    }
    return true;
}

/* One PEM block and nothing but whitespace around it: a second block would be ignored. */
static mesh_err_t pem_shape(const char *pem, size_t len)
{
    const char *begin = find(pem, len, PEM_BEGIN);
    static const char end_tag[] = "-----END CERTIFICATE REQUEST-----";
    const char *end = NULL, *p = pem;

    if (begin == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "csr is not PEM: send -----BEGIN CERTIFICATE REQUEST----- ... "
                            "(openssl req -new)");
    }
    if (find(begin + 1, len - (size_t)(begin + 1 - pem), PEM_BEGIN) != NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "csr holds more than one PEM block; send exactly one CERTIFICATE "
                            "REQUEST");
    }
    while ((p = find(p, len - (size_t)(p - pem), end_tag)) != NULL) {
        end = p;
        p += strlen(end_tag);
    }
    if (!only_space(pem, (size_t)(begin - pem)) || end == NULL ||
        !only_space(end + strlen(end_tag), len - (size_t)(end + strlen(end_tag) - pem))) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "csr must be one PEM CERTIFICATE REQUEST block and nothing else");
    }
    return MESH_OK;
}

/* The key types a mesh leaf may have (docs/CERTIFICATES.md), through libmesh's key checks
 * where libmesh knows the type. */
static mesh_err_t key_check(EVP_PKEY *k, char *type, size_t cap)
{
    mesh_key_t *mk = NULL;
    char group[32] = "";
    mesh_err_t rc;

    if (EVP_PKEY_is_a(k, "RSA")) {
        int bits = EVP_PKEY_get_bits(k);
        if (bits < MESH_MIN_CSR_RSA_BITS || bits > MESH_MAX_CSR_RSA_BITS) {
            return mesh_err_set(MESH_ERR_KEY_WEAK,
                                "csr key: RSA of %d bits; use RSA of %d to %d bits, P-256, "
                                "P-384 or Ed25519",
                                bits, MESH_MIN_CSR_RSA_BITS, MESH_MAX_CSR_RSA_BITS);
        }
        (void)snprintf(type, cap, "rsa%d", bits);
    } else if (EVP_PKEY_is_a(k, "ED25519")) {
        (void)snprintf(type, cap, "ed25519");
    } else if (EVP_PKEY_is_a(k, "EC") &&
               EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) == 1 &&
               (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0)) {
        (void)snprintf(type, cap, "%s", strcmp(group, "prime256v1") == 0 ? "p256" : "p384");
    } else {
        ERR_clear_error();
        return mesh_err_set(MESH_ERR_KEY_UNSUPPORTED,
                            "csr key: type %s%s%s is not accepted; use P-256, P-384, Ed25519 or "
                            "RSA of at least %d bits",
                            EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "unknown",
                            group[0] ? " " : "", group, MESH_MIN_CSR_RSA_BITS);
    }
    if (strcmp(type, "p384") == 0) { /* libmesh has no P-384 type: OpenSSL's point check */
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k, NULL);
        int ok = pc != NULL && EVP_PKEY_public_check(pc) == 1;
        EVP_PKEY_CTX_free(pc);
        ERR_clear_error();
        return ok ? MESH_OK
                  : mesh_err_set(MESH_ERR_KEY_INVALID, "csr key: the P-384 point is not valid");
    }
    rc = mesh_key_from_evp(k, MESH_ALG_UNSET, &mk);
    mesh_key_free(mk);
    if (rc != MESH_OK) {
        return mesh_err_set(rc == MESH_ERR_KEY_WEAK ? rc : MESH_ERR_KEY_INVALID, "csr key (%s): %s",
                            type, mesh_err_detail());
    }
    return MESH_OK;
}

static mesh_err_t read_cn(X509_REQ *req, ca_csr_t *c)
{
    const X509_NAME *name = X509_REQ_get_subject_name(req);
    int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int n;

    if (at < 0) {
        return MESH_OK;
    }
    if (X509_NAME_get_index_by_NID(name, NID_commonName, at) >= 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "csr subject has more than one CN");
    }
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
    if (n < 0 || (size_t)n >= sizeof(c->cn) || memchr(utf8, 0, (size_t)n) != NULL) {
        OPENSSL_free(utf8);
        ERR_clear_error();
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "csr subject CN is unreadable or longer than %d bytes; use the "
                            "service name",
                            MESH_MAX_SERVICE_NAME);
    }
    memcpy(c->cn, utf8, (size_t)n);
    c->cn[n] = '\0';
    OPENSSL_free(utf8);
    return MESH_OK;
}

/* IA5String names: printable ASCII only, so a name is never shown or compared in two ways. */
static bool ia5_ok(const ASN1_STRING *s)
{
    if (s->length <= 0 || s->length > MESH_MAX_SPIFFE_ID) {
        return false;
    }
    for (int i = 0; i < s->length; i++) {
        if (s->data[i] <= 0x20 || s->data[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

static mesh_err_t read_name(const GENERAL_NAME *gn, struct ca_strv *out)
{
    char buf[MESH_MAX_SPIFFE_ID + 16], text[INET6_ADDRSTRLEN];
    int type;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(gn, &type);
    const char *tag = type == GEN_DNS ? "DNS" : type == GEN_URI ? "URI" : "email";

    if (type == GEN_IPADD) {
        if ((s->length != 4 && s->length != 16) ||
            inet_ntop(s->length == 4 ? AF_INET : AF_INET6, s->data, text, sizeof(text)) == NULL) {
            return mesh_err_set(MESH_ERR_INVALID_ARG, "csr has an IP address SAN of %d bytes",
                                s->length);
        }
        (void)snprintf(buf, sizeof(buf), "IP:%s", text);
    } else if (type == GEN_DNS || type == GEN_URI || type == GEN_EMAIL) {
        if (!ia5_ok(s)) {
            return mesh_err_set(MESH_ERR_INVALID_ARG,
                                "csr has a %s SAN that is empty, longer than %d bytes or holds "
                                "bytes other than printable ASCII",
                                tag, MESH_MAX_SPIFFE_ID);
        }
        (void)snprintf(buf, sizeof(buf), "%s:%.*s", tag, s->length, (const char *)s->data);
    } else {
        (void)snprintf(buf, sizeof(buf), "other:%d", type);
    }
    return ca_strv_add(out, buf);
}

static mesh_err_t read_sans(X509_REQ *req, ca_csr_t *c)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    int crit = -1;
    GENERAL_NAMES *gens = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL) : NULL;
    mesh_err_t rc = MESH_OK;

    if (gens == NULL && crit == -2) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG, "csr has two subjectAltName extensions");
    } else if (gens == NULL && crit >= 0) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG, "csr subjectAltName extension is malformed");
    } else if (gens != NULL && sk_GENERAL_NAME_num(gens) > MESH_MAX_CSR_NAMES) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG, "csr asks for %d names; at most %d",
                          sk_GENERAL_NAME_num(gens), MESH_MAX_CSR_NAMES);
    }
    for (int i = 0; rc == MESH_OK && gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        rc = read_name(sk_GENERAL_NAME_value(gens, i), &c->names);
    }
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
    return rc;
}

mesh_err_t ca_csr_parse(const char *pem, size_t len, ca_csr_t **out)
{
    ca_csr_t *c = NULL;
    X509_REQ *req = NULL;
    BIO *bio = NULL;
    mesh_err_t rc;

    if (pem == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "ca_csr_parse: NULL argument");
    }
    if (len > MESH_MAX_CSR_BYTES) {
        return mesh_err_set(MESH_ERR_LIMIT, "csr is larger than %d bytes", MESH_MAX_CSR_BYTES);
    }
    if ((rc = pem_shape(pem, len)) != MESH_OK) {
        return rc;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)) == NULL) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG,
                          "csr is not a readable PEM CERTIFICATE REQUEST (PKCS #10)");
        goto out;
    }
    if ((c->key = X509_REQ_get_pubkey(req)) == NULL) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG, "csr public key is unreadable");
        goto out;
    }
    if ((rc = key_check(c->key, c->key_type, sizeof(c->key_type))) != MESH_OK) {
        goto out;
    }
    /* RFC 2986 §3: the signature proves the requester holds the private key */
    if (X509_REQ_verify(req, c->key) != 1) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG,
                          "csr signature does not verify with its own public key; sign the "
                          "request with the key it names");
        goto out;
    }
    if ((rc = read_cn(req, c)) != MESH_OK || (rc = read_sans(req, c)) != MESH_OK) {
        goto out;
    }
    *out = c;
    c = NULL;
out:
    ERR_clear_error();
    X509_REQ_free(req);
    BIO_free(bio);
    ca_csr_free(c);
    return rc;
}

static mesh_err_t add_list(struct ca_strv *sv, const char *const *v, size_t n)
{
    mesh_err_t rc = MESH_OK;

    for (size_t i = 0; rc == MESH_OK && i < n; i++) {
        rc = ca_strv_add(sv, v[i]);
    }
    return rc;
}

static mesh_err_t leaf_facts(X509 *x, ca_online_cert_t *out)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    char *serial = ca_serial_hex(x);
    struct ca_pem pem = {0};
    time_t nb = 0, na = 0;
    mesh_err_t rc = mesh_err_set(MESH_ERR_INTERNAL, "reading the new certificate");

    if (n > 0 && serial != NULL && strlen(serial) < sizeof(out->serial) &&
        ca_asn1_to_time(X509_get0_notBefore(x), &nb) &&
        ca_asn1_to_time(X509_get0_notAfter(x), &na) &&
        (rc = mesh_x5t_s256(der, (size_t)n, out->x5t)) == MESH_OK &&
        (rc = ca_pem_certs(x, NULL, &pem)) == MESH_OK) {
        out->pem = strndup(pem.data, pem.len);
        (void)snprintf(out->serial, sizeof(out->serial), "%s", serial);
        out->not_before = (int64_t)nb;
        out->not_after = (int64_t)na;
        rc = out->pem != NULL ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    ca_pem_free(&pem);
    OPENSSL_free(der);
    free(serial);
    return rc;
}

mesh_err_t ca_online_sign(const ca_issuing_t *ca, const ca_csr_t *csr, const ca_online_req_t *req,
                          ca_online_cert_t *out)
{
    struct ca_strv dns = {0}, ips = {0};
    struct ca_leaf_req lr = {req->service, req->trust_domain, &dns, &ips, 0};
    X509 *x = NULL;
    mesh_err_t rc;

    memset(out, 0, sizeof(*out));
    if (req->lifetime <= 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "certificate lifetime must be positive");
    }
    if ((rc = add_list(&dns, req->dns, req->n_dns)) == MESH_OK &&
        (rc = add_list(&ips, req->ips, req->n_ips)) == MESH_OK &&
        (rc = ca_mint_leaf_secs(&lr, req->lifetime, csr->key, &ca->s, (time_t)req->now, &x)) ==
            MESH_OK) {
        rc = leaf_facts(x, out);
    }
    if (rc != MESH_OK) {
        ca_online_cert_clear(out);
    }
    X509_free(x);
    ca_strv_free(&dns);
    ca_strv_free(&ips);
    return rc;
}

void ca_online_cert_clear(ca_online_cert_t *c)
{
    if (c != NULL) {
        free(c->pem);
        memset(c, 0, sizeof(*c));
    }
}

static mesh_err_t add_entry(X509_CRL *crl, const ca_crl_entry_t *e)
{
    X509_REVOKED *r = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)e->revoked_at);
    mesh_err_t rc = MESH_OK;

    if (r == NULL || when == NULL || BN_hex2bn(&bn, e->serial) != (int)strlen(e->serial) ||
        (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
        X509_REVOKED_set_serialNumber(r, serial) != 1 ||
        X509_REVOKED_set_revocationDate(r, when) != 1 || X509_CRL_add0_revoked(crl, r) != 1) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG, "CRL entry: serial '%.48s' is not hex", e->serial);
    } else {
        r = NULL; /* the CRL owns it */
    }
    X509_REVOKED_free(r);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    BN_free(bn);
    return rc;
}

mesh_err_t ca_online_crl(const ca_issuing_t *ca, const ca_crl_entry_t *entries, size_t n,
                         int64_t now, int64_t next_update, char **pem, size_t *len)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)now - CA_BACKDATE_SECS);
    ASN1_TIME *next = ASN1_TIME_set(NULL, (time_t)next_update);
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    BIO *bio = NULL;
    char *data;
    long dlen;
    mesh_err_t rc = mesh_err_set(MESH_ERR_INTERNAL, "building the issuing CA's CRL");

    if (crl == NULL || last == NULL || next == NULL || number == NULL ||
        X509_CRL_set_version(crl, 1) != 1 || /* v2 */
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->s.cert)) != 1 ||
        X509_CRL_set1_lastUpdate(crl, last) != 1 || X509_CRL_set1_nextUpdate(crl, next) != 1 ||
        ASN1_INTEGER_set_int64(number, now) != 1 ||
        /* RFC 5280 §5.2.3: a CRL number that grows with time */
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_DEFAULT) != 1) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = add_entry(crl, &entries[i])) != MESH_OK) {
            goto out;
        }
    }
    X509_CRL_sort(crl);
    if (X509_CRL_sign(crl, ca->s.key, EVP_PKEY_is_a(ca->s.key, "ED25519") ? NULL : EVP_sha256()) <=
            0 ||
        (bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1 ||
        (dlen = BIO_get_mem_data(bio, &data)) <= 0 ||
        (*pem = strndup(data, (size_t)dlen)) == NULL) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "signing the issuing CA's CRL");
        goto out;
    }
    *len = (size_t)dlen;
    rc = MESH_OK;
out:
    ERR_clear_error();
    BIO_free(bio);
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    X509_CRL_free(crl);
    return rc;
}
