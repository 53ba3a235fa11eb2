/* SPDX-License-Identifier: Apache-2.0 */
/*
 * X.509 building for mesh-ca: keys, root, intermediate, leaves. Profiles follow RFC 5280 and
 * the CA/B Forum baseline where it applies to a private mesh (DESIGN.md "Identity").
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <mesh/openssl.h>

#include "ca.h"

mesh_err_t ca_key_generate(mesh_key_type_t t, EVP_PKEY **out)
{
    mesh_key_t *key = NULL;
    mesh_err_t rc = mesh_key_generate(t, &key);

    if (rc != MESH_OK) {
        return rc;
    }
    /* the X.509 code holds its own reference; the mesh key goes */
    if (EVP_PKEY_up_ref(mesh_key_evp(key)) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "key generation");
    } else {
        *out = mesh_key_evp(key);
    }
    mesh_key_free(key);
    return rc;
}

bool ca_key_type_of(EVP_PKEY *k, mesh_key_type_t *out)
{
    char detail[512];
    mesh_key_t *key = NULL;
    bool ok;

    /* a query: whatever the checks say, the caller's error detail stays */
    (void)snprintf(detail, sizeof(detail), "%s", mesh_err_detail());
    ok = mesh_key_from_evp(k, MESH_ALG_UNSET, &key) == MESH_OK && mesh_key_type_of(key, out);
    mesh_key_free(key);
    (void)mesh_err_set(MESH_OK, "%s", detail);
    return ok;
}

/* RFC 5280 §4.1.2.2 / CA/B BR 7.1: positive, non-zero, at least 64 bits from a CSPRNG;
 * we take 159 random bits so the DER INTEGER stays within 20 octets. */
static mesh_err_t set_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    mesh_err_t rc = MESH_ERR_INTERNAL;

    if (bn == NULL) {
        goto out;
    }
    do {
        if (BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
            goto out;
        }
    } while (BN_num_bits(bn) < 128); /* keep >= 128 significant bits */
    if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
        goto out;
    }
    rc = MESH_OK;
out:
    BN_free(bn);
    return rc == MESH_OK ? rc : mesh_err_openssl(rc, "serial number");
}

static mesh_err_t set_name(X509_NAME *n, const char *cn, const char *org)
{
    if ((org != NULL && X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                                                   (const unsigned char *)org, -1, -1, 0) != 1) ||
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) !=
            1) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "subject name");
    }
    return MESH_OK;
}

static mesh_err_t add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, OBJ_nid2sn(nid));
    }
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? MESH_OK : mesh_err_openssl(MESH_ERR_INTERNAL, OBJ_nid2sn(nid));
}

/* Common skeleton: v3, serial, validity, subject, issuer, public key. */
static mesh_err_t cert_start(X509 **out, EVP_PKEY *key, const char *cn, const char *org,
                             X509 *issuer, time_t now, time_t not_after)
{
    X509 *x = X509_new();
    mesh_err_t rc = MESH_ERR_INTERNAL;

    if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1) {
        rc = mesh_err_openssl(rc, "certificate");
        goto out;
    }
    if ((rc = set_serial(x)) != MESH_OK ||
        (rc = set_name(X509_get_subject_name(x), cn, org)) != MESH_OK) {
        goto out;
    }
    if (ASN1_TIME_set(X509_getm_notBefore(x), now - CA_BACKDATE_SECS) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), not_after) == NULL ||
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
                                       : X509_get_subject_name(x)) != 1 ||
        X509_set_pubkey(x, key) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "certificate fields");
        goto out;
    }
    *out = x;
    x = NULL;
    rc = MESH_OK;
out:
    X509_free(x);
    return rc;
}

static mesh_err_t cert_sign(X509 *x, EVP_PKEY *key)
{
    /* Ed25519 signs the message itself (RFC 8410): no separate digest. */
    const EVP_MD *md = EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256();

    if (X509_sign(x, key, md) <= 0) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "signing the certificate");
    }
    return MESH_OK;
}

static time_t cap_time(time_t t, X509 *issuer)
{
    time_t limit;

    /* A certificate never outlives the one that signed it. */
    if (issuer != NULL && ca_asn1_to_time(X509_get0_notAfter(issuer), &limit) && t > limit) {
        return limit;
    }
    return t;
}

mesh_err_t ca_mint_root(EVP_PKEY *key, const char *td, int days, time_t now, X509 **out)
{
    X509 *x = NULL;
    char cn[300];
    mesh_err_t rc;

    (void)snprintf(cn, sizeof(cn), "mesh-ca root CA (%s)", td);
    rc = cert_start(&x, key, cn, "mesh-ca development CA", NULL, now, now + (time_t)days * 86400);
    if (rc != MESH_OK ||
        (rc = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE")) != MESH_OK ||
        (rc = add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign")) != MESH_OK ||
        (rc = add_ext(x, x, NID_subject_key_identifier, "hash")) != MESH_OK ||
        (rc = cert_sign(x, key)) != MESH_OK) {
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_free(x);
    return rc;
}

static mesh_err_t add_subtree(STACK_OF(GENERAL_SUBTREE) * sk, int type, const char *value)
{
    GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    mesh_err_t rc = MESH_ERR_NOMEM;

    if (st == NULL || s == NULL || ASN1_STRING_set(s, value, -1) != 1) {
        goto out;
    }
    GENERAL_NAME_set0_value(st->base, type, s);
    s = NULL;
    if (sk_GENERAL_SUBTREE_push(sk, st) <= 0) {
        goto out;
    }
    st = NULL; /* the stack owns it now */
    rc = MESH_OK;
out:
    ASN1_IA5STRING_free(s);
    GENERAL_SUBTREE_free(st);
    return rc == MESH_OK ? rc : mesh_err_set(rc, "out of memory");
}

/* RFC 5280 §4.2.1.10: permitted URI host = the trust domain, permitted DNS = nc_dns. */
static mesh_err_t add_name_constraints(X509 *x, const char *td, const struct ca_strv *dns)
{
    NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
    mesh_err_t rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");

    if (nc == NULL || (nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()) == NULL) {
        goto out;
    }
    if ((rc = add_subtree(nc->permittedSubtrees, GEN_URI, td)) != MESH_OK) {
        goto out;
    }
    for (size_t i = 0; i < dns->n; i++) {
        if ((rc = add_subtree(nc->permittedSubtrees, GEN_DNS, dns->v[i])) != MESH_OK) {
            goto out;
        }
    }
    rc = X509_add1_ext_i2d(x, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT) == 1
             ? MESH_OK
             : mesh_err_openssl(MESH_ERR_INTERNAL, "name constraints");
out:
    NAME_CONSTRAINTS_free(nc);
    return rc;
}

mesh_err_t ca_mint_intermediate(EVP_PKEY *key, const struct ca_signer *root, const char *td,
                                int days, const struct ca_strv *nc_dns, time_t now, X509 **out)
{
    X509 *x = NULL;
    char cn[300];
    mesh_err_t rc;

    (void)snprintf(cn, sizeof(cn), "mesh-ca intermediate CA (%s)", td);
    rc = cert_start(&x, key, cn, "mesh-ca development CA", root->cert, now,
                    cap_time(now + (time_t)days * 86400, root->cert));
    if (rc != MESH_OK ||
        (rc = add_ext(x, root->cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) !=
            MESH_OK ||
        (rc = add_ext(x, root->cert, NID_key_usage, "critical,keyCertSign,cRLSign")) != MESH_OK ||
        (rc = add_ext(x, root->cert, NID_subject_key_identifier, "hash")) != MESH_OK ||
        (rc = add_ext(x, root->cert, NID_authority_key_identifier, "keyid:always")) != MESH_OK) {
        goto out;
    }
    if (nc_dns != NULL && (rc = add_name_constraints(x, td, nc_dns)) != MESH_OK) {
        goto out;
    }
    if ((rc = cert_sign(x, root->key)) != MESH_OK) {
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_free(x);
    return rc;
}

mesh_err_t ca_mint_issuing(EVP_PKEY *key, const struct ca_signer *root, const char *td, int days,
                           X509 *constraints_from, time_t now, X509 **out)
{
    X509 *x = NULL;
    char cn[300];
    int at =
        constraints_from ? X509_get_ext_by_NID(constraints_from, NID_name_constraints, -1) : -1;
    mesh_err_t rc;

    /* A name of its own: CRLs and chains are matched by issuer name (RFC 5280 §6.3.3). */
    (void)snprintf(cn, sizeof(cn), "mesh-issuer issuing CA (%s)", td);
    rc = cert_start(&x, key, cn, "mesh-issuer online CA", root->cert, now,
                    cap_time(now + (time_t)days * 86400, root->cert));
    if (rc != MESH_OK ||
        (rc = add_ext(x, root->cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) !=
            MESH_OK ||
        (rc = add_ext(x, root->cert, NID_key_usage, "critical,keyCertSign,cRLSign")) != MESH_OK ||
        (rc = add_ext(x, root->cert, NID_subject_key_identifier, "hash")) != MESH_OK ||
        (rc = add_ext(x, root->cert, NID_authority_key_identifier, "keyid:always")) != MESH_OK) {
        goto out;
    }
    /* never wider than the mesh's own intermediate */
    if (at >= 0 && X509_add_ext(x, X509_get_ext(constraints_from, at), -1) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "name constraints");
        goto out;
    }
    if ((rc = cert_sign(x, root->key)) != MESH_OK) {
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_free(x);
    return rc;
}

static mesh_err_t push_name(GENERAL_NAMES *gens, int type, const char *value)
{
    GENERAL_NAME *gn = NULL;

    if (type == GEN_IPADD) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);
        if (ip == NULL || (gn = GENERAL_NAME_new()) == NULL) {
            ASN1_OCTET_STRING_free(ip);
            return mesh_err_set(MESH_ERR_CONFIG, "\"%s\" is not an IP address", value);
        }
        GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
    } else {
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        if (s == NULL || ASN1_STRING_set(s, value, -1) != 1 || (gn = GENERAL_NAME_new()) == NULL) {
            ASN1_IA5STRING_free(s);
            return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
        }
        GENERAL_NAME_set0_value(gn, type, s);
    }
    if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
        GENERAL_NAME_free(gn);
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    return MESH_OK;
}

/* Exactly one URI SAN (the SPIFFE ID), then the DNS names and IP addresses. */
static mesh_err_t add_sans(X509 *x, const struct ca_leaf_req *req)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    char uri[512];
    mesh_err_t rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");

    if (gens == NULL) {
        goto out;
    }
    if ((rc = ca_path(uri, sizeof(uri), "spiffe://%s/%s", req->trust_domain, req->name)) !=
            MESH_OK ||
        (rc = push_name(gens, GEN_URI, uri)) != MESH_OK) {
        goto out;
    }
    for (size_t i = 0; i < req->dns->n; i++) {
        if ((rc = push_name(gens, GEN_DNS, req->dns->v[i])) != MESH_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < req->ips->n; i++) {
        if ((rc = push_name(gens, GEN_IPADD, req->ips->v[i])) != MESH_OK) {
            goto out;
        }
    }
    rc = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1
             ? MESH_OK
             : mesh_err_openssl(MESH_ERR_INTERNAL, "subjectAltName");
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

mesh_err_t ca_mint_leaf(const struct ca_leaf_req *req, EVP_PKEY *key,
                        const struct ca_signer *issuer, time_t now, X509 **out)
{
    return ca_mint_leaf_secs(req, (long long)req->days * 86400, key, issuer, now, out);
}

mesh_err_t ca_mint_leaf_secs(const struct ca_leaf_req *req, long long secs, EVP_PKEY *key,
                             const struct ca_signer *issuer, time_t now, X509 **out)
{
    X509 *x = NULL;
    const char *ku = EVP_PKEY_is_a(key, "RSA") ? "critical,digitalSignature,keyEncipherment"
                                               : "critical,digitalSignature";
    mesh_err_t rc;

    rc = cert_start(&x, key, req->name, NULL, issuer->cert, now,
                    cap_time(now + (time_t)secs, issuer->cert));
    if (rc != MESH_OK ||
        (rc = add_ext(x, issuer->cert, NID_basic_constraints, "critical,CA:FALSE")) != MESH_OK ||
        (rc = add_ext(x, issuer->cert, NID_key_usage, ku)) != MESH_OK ||
        (rc = add_ext(x, issuer->cert, NID_ext_key_usage, "serverAuth,clientAuth")) != MESH_OK ||
        (rc = add_ext(x, issuer->cert, NID_subject_key_identifier, "hash")) != MESH_OK ||
        (rc = add_ext(x, issuer->cert, NID_authority_key_identifier, "keyid:always")) != MESH_OK ||
        (rc = add_sans(x, req)) != MESH_OK || (rc = cert_sign(x, issuer->key)) != MESH_OK) {
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_free(x);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

mesh_err_t ca_req_names(const struct ca_leaf_req *req, struct ca_strv *out)
{
    char buf[600];
    unsigned char raw[16];
    mesh_err_t rc = ca_path(buf, sizeof(buf), "URI:spiffe://%s/%s", req->trust_domain, req->name);

    if (rc == MESH_OK) {
        rc = ca_strv_add(out, buf);
    }
    for (size_t i = 0; rc == MESH_OK && i < req->dns->n; i++) {
        if ((rc = ca_path(buf, sizeof(buf), "DNS:%s", req->dns->v[i])) == MESH_OK) {
            rc = ca_strv_add(out, buf);
        }
    }
    for (size_t i = 0; rc == MESH_OK && i < req->ips->n; i++) {
        /* Normalize through inet_ntop so "::0001" and "::1" compare equal. */
        int af = strchr(req->ips->v[i], ':') ? AF_INET6 : AF_INET;
        char text[INET6_ADDRSTRLEN];
        if (inet_pton(af, req->ips->v[i], raw) != 1 ||
            inet_ntop(af, raw, text, sizeof(text)) == NULL) {
            return mesh_err_set(MESH_ERR_CONFIG, "\"%s\" is not an IP address", req->ips->v[i]);
        }
        if ((rc = ca_path(buf, sizeof(buf), "IP:%s", text)) == MESH_OK) {
            rc = ca_strv_add(out, buf);
        }
    }
    if (rc == MESH_OK && out->n > 1) {
        qsort(out->v, out->n, sizeof(*out->v), cmp_str);
    }
    return rc;
}

static mesh_err_t name_to_str(const GENERAL_NAME *gn, struct ca_strv *out)
{
    char buf[600], text[INET6_ADDRSTRLEN];
    const ASN1_STRING *s;
    int type;

    s = GENERAL_NAME_get0_value(gn, &type);
    if (type == GEN_IPADD && (s->length == 4 || s->length == 16)) {
        if (inet_ntop(s->length == 4 ? AF_INET : AF_INET6, s->data, text, sizeof(text)) == NULL) {
            return mesh_err_set(MESH_ERR_CERT, "unreadable IP SAN");
        }
        (void)snprintf(buf, sizeof(buf), "IP:%s", text);
    } else if (type == GEN_DNS || type == GEN_URI) {
        (void)snprintf(buf, sizeof(buf), "%s:%.*s", type == GEN_DNS ? "DNS" : "URI", s->length,
                       (const char *)s->data);
    } else {
        (void)snprintf(buf, sizeof(buf), "OTHER:%d", type);
    }
    return ca_strv_add(out, buf);
}

mesh_err_t ca_cert_names(X509 *cert, struct ca_strv *out)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    mesh_err_t rc = MESH_OK;

    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && rc == MESH_OK; i++) {
        rc = name_to_str(sk_GENERAL_NAME_value(gens, i), out);
    }
    GENERAL_NAMES_free(gens);
    if (rc == MESH_OK && out->n > 1) {
        qsort(out->v, out->n, sizeof(*out->v), cmp_str);
    }
    return rc;
}

mesh_err_t ca_chain_verify(X509 *leaf, X509 *inter, X509 *root, time_t now)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    mesh_err_t rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");

    if (store == NULL || ctx == NULL || untrusted == NULL ||
        X509_STORE_add_cert(store, root) != 1 || sk_X509_push(untrusted, inter) <= 0 ||
        X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        goto out;
    }
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
    if (X509_verify_cert(ctx) != 1) {
        int err = X509_STORE_CTX_get_error(ctx);
        rc = mesh_err_set(MESH_ERR_CERT, "%s", X509_verify_cert_error_string(err));
        goto out;
    }
    rc = MESH_OK;
out:
    ERR_clear_error();
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

char *ca_serial_hex(const X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    char *copy = hex ? strdup(hex) : NULL;

    for (char *p = copy; p != NULL && *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'F') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    OPENSSL_free(hex);
    BN_free(bn);
    return copy;
}

char *ca_ski_hex(X509 *cert)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
    char *out = malloc(ski ? (size_t)ski->length * 2 + 1 : 1);

    if (out == NULL) {
        return NULL;
    }
    out[0] = '\0';
    for (int i = 0; ski != NULL && i < ski->length; i++) {
        (void)snprintf(out + 2 * i, 3, "%02x", ski->data[i]);
    }
    return out;
}
