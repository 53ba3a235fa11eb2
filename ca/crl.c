/* SPDX-License-Identifier: Apache-2.0 */
/* Revocation: index.json marks the serial, crl.pem (RFC 5280 §5, v2) lists it, signed by the
 * intermediate that issued the leaves. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"

#define CA_CRL_DAYS 30 /* nextUpdate; `mesh-ca revoke` or `init` re-signs the list */
/* `init` re-signs a CRL this close to its nextUpdate, so a daily or weekly `init` (or cron)
 * keeps it fresh: servers that check CRLs refuse every client once it has expired. */
#define CA_CRL_RESIGN_DAYS 10

/* RFC 5280 §5.3.1 reason codes by their ASN.1 names. */
static const struct {
    const char *name;
    int code;
} reasons[] = {
    {"unspecified", 0},        {"keyCompromise", 1},      {"cACompromise", 2},
    {"affiliationChanged", 3}, {"superseded", 4},         {"cessationOfOperation", 5},
    {"certificateHold", 6},    {"privilegeWithdrawn", 9},
};

static int reason_code(const char *name)
{
    for (size_t i = 0; i < CA_ARRAY_LEN(reasons); i++) {
        if (strcmp(reasons[i].name, name) == 0) {
            return reasons[i].code;
        }
    }
    return -1;
}

bool ca_reason_valid(const char *reason)
{
    return reason_code(reason) >= 0;
}

mesh_err_t ca_revoke_entry(json_t *idx, const char *serial, const char *reason, time_t now)
{
    json_t *e = ca_index_find(idx, serial);
    char when[32];

    if (e == NULL) {
        return mesh_err_set(MESH_ERR_NOT_FOUND,
                            "serial %s is not in index.json; `mesh-ca list` "
                            "shows the serials",
                            serial);
    }
    if (strcmp(json_string_value(json_object_get(e, "kind")), "leaf") != 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "serial %s is a CA certificate; replace the CA "
                            "with `mesh-ca init --force-ca` instead",
                            serial);
    }
    /* Revoking again re-signs the CRL but keeps the first revocation date (RFC 5280 §5.3.2
     * invalidity stays when it was) and the recorded reason unless a new one is given. */
    if (json_is_string(json_object_get(e, "revoked_at")) &&
        strcmp(json_string_value(json_object_get(e, "status")), "revoked") == 0) {
        return reason == NULL || json_object_set_new(e, "reason", json_string(reason)) == 0
                   ? MESH_OK
                   : mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    ca_fmt_time(now, when, sizeof(when));
    if (json_object_set_new(e, "status", json_string("revoked")) != 0 ||
        json_object_set_new(e, "revoked_at", json_string(when)) != 0 ||
        json_object_set_new(e, "reason", json_string(reason ? reason : "unspecified")) != 0) {
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    return MESH_OK;
}

static mesh_err_t add_revoked(X509_CRL *crl, const char *serial_hex, time_t when, int reason)
{
    X509_REVOKED *r = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *t = ASN1_TIME_set(NULL, when);
    ASN1_ENUMERATED *code = ASN1_ENUMERATED_new();
    mesh_err_t rc = mesh_err_set(MESH_ERR_INTERNAL, "CRL entry for %s", serial_hex);

    if (r == NULL || t == NULL || code == NULL || BN_hex2bn(&bn, serial_hex) == 0 ||
        (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
        X509_REVOKED_set_serialNumber(r, serial) != 1 ||
        X509_REVOKED_set_revocationDate(r, t) != 1 || ASN1_ENUMERATED_set(code, reason) != 1) {
        goto out;
    }
    /* unspecified (0) SHOULD be omitted (RFC 5280 §5.3.1) */
    if (reason != 0 && X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, code, 0, 0) != 1) {
        goto out;
    }
    if (X509_CRL_add0_revoked(crl, r) != 1) {
        goto out;
    }
    r = NULL;
    rc = MESH_OK;
out:
    X509_REVOKED_free(r);
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(t);
    ASN1_ENUMERATED_free(code);
    return rc;
}

/* Adds every revoked leaf the current intermediate issued. */
static mesh_err_t add_all_revoked(X509_CRL *crl, json_t *idx, const char *issuer_ski)
{
    size_t i;
    json_t *e;
    mesh_err_t rc = MESH_OK;

    json_array_foreach(json_object_get(idx, "certs"), i, e)
    {
        const char *st = json_string_value(json_object_get(e, "status"));
        const char *aki = json_string_value(json_object_get(e, "issuer_key_id"));
        time_t when = 0;
        const char *why = json_string_value(json_object_get(e, "reason"));
        if (st == NULL || strcmp(st, "revoked") != 0 || aki == NULL ||
            strcmp(aki, issuer_ski) != 0 ||
            !ca_parse_time(json_string_value(json_object_get(e, "revoked_at")), &when)) {
            continue;
        }
        if ((rc = add_revoked(crl, json_string_value(json_object_get(e, "serial")), when,
                              why ? reason_code(why) : 0)) != MESH_OK) {
            break;
        }
    }
    return rc;
}

static mesh_err_t crl_extensions(X509_CRL *crl, json_t *idx, const struct ca_signer *inter)
{
    X509V3_CTX ctx;
    X509_EXTENSION *aki;
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    json_int_t n = json_integer_value(json_object_get(idx, "crl_number")) + 1;
    mesh_err_t rc = mesh_err_set(MESH_ERR_INTERNAL, "CRL extensions");

    X509V3_set_ctx(&ctx, inter->cert, NULL, NULL, crl, 0);
    aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    /* RFC 5280 §5.2.3: a monotonically increasing CRL number */
    if (aki == NULL || num == NULL || ASN1_INTEGER_set_int64(num, (int64_t)n) != 1 ||
        X509_CRL_add_ext(crl, aki, -1) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1) {
        goto out;
    }
    if (json_object_set_new(idx, "crl_number", json_integer(n)) != 0) {
        goto out;
    }
    rc = MESH_OK;
out:
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    return rc;
}

mesh_err_t ca_crl_write(const char *dir, json_t *idx, const struct ca_signer *inter, time_t now)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *last = ASN1_TIME_set(NULL, now - CA_BACKDATE_SECS);
    ASN1_TIME *next = ASN1_TIME_set(NULL, now + (time_t)CA_CRL_DAYS * 86400);
    char *ski = ca_ski_hex(inter->cert);
    char path[MESH_MAX_PATH];
    struct ca_pem pem = {0};
    BIO *bio = NULL;
    mesh_err_t rc = ca_path(path, sizeof(path), "%s/crl.pem", dir);

    if (rc != MESH_OK) {
        goto out;
    }
    rc = mesh_err_set(MESH_ERR_INTERNAL, "building crl.pem");
    if (crl == NULL || last == NULL || next == NULL || ski == NULL ||
        X509_CRL_set_version(crl, 1) != 1 || /* v2 */
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(inter->cert)) != 1 ||
        X509_CRL_set1_lastUpdate(crl, last) != 1 || X509_CRL_set1_nextUpdate(crl, next) != 1) {
        goto out;
    }
    if ((rc = add_all_revoked(crl, idx, ski)) != MESH_OK ||
        (rc = crl_extensions(crl, idx, inter)) != MESH_OK) {
        goto out;
    }
    X509_CRL_sort(crl);
    if (X509_CRL_sign(crl, inter->key,
                      EVP_PKEY_is_a(inter->key, "ED25519") ? NULL : EVP_sha256()) <= 0 ||
        (bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "signing crl.pem");
        goto out;
    }
    pem.len = (size_t)BIO_get_mem_data(bio, &pem.data);
    rc = ca_write_atomic(path, pem.data, pem.len, 0644);
out:
    BIO_free(bio);
    free(ski);
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    X509_CRL_free(crl);
    return rc;
}

mesh_err_t ca_crl_next_update(const char *dir, bool *exists, time_t *next)
{
    char path[MESH_MAX_PATH];
    X509_CRL *crl = NULL;
    BIO *bio = NULL;
    const ASN1_TIME *nu;
    mesh_err_t rc = ca_path(path, sizeof(path), "%s/crl.pem", dir);

    if (rc != MESH_OK) {
        return rc;
    }
    *exists = ca_exists(path);
    if (!*exists) {
        return MESH_OK;
    }
    if ((bio = BIO_new_file(path, "r")) == NULL ||
        (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) == NULL ||
        (nu = X509_CRL_get0_nextUpdate(crl)) == NULL || !ca_asn1_to_time(nu, next)) {
        rc = mesh_err_openssl(MESH_ERR_CERT, path);
    }
    X509_CRL_free(crl);
    BIO_free(bio);
    return rc;
}

bool ca_crl_due(const char *dir, time_t now)
{
    bool exists = false;
    time_t next = 0;

    if (ca_crl_next_update(dir, &exists, &next) != MESH_OK) {
        ERR_clear_error();
        return true; /* unreadable: write it again from index.json */
    }
    return exists && next - now < (time_t)CA_CRL_RESIGN_DAYS * 86400;
}
