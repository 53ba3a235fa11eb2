/* SPDX-License-Identifier: Apache-2.0 */
/*
 * certs/index.json: the inventory of every certificate mesh-ca issued from this directory.
 *
 *   {"version":1, "crl_number":N,
 *    "certs":[{"serial":"<hex>","kind":"root|intermediate|leaf","service":"gateway",
 *              "subject":"CN=gateway","sans":["URI:spiffe://...","DNS:gateway",...],
 *              "issuer_key_id":"<hex>","not_before":"...Z","not_after":"...Z",
 *              "status":"valid|superseded|revoked","revoked_at":"...Z","reason":"..."}]}
 *
 * Files on disk are the truth for what is current; the index adds history and revocations.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "ca.h"

mesh_err_t ca_index_load(const char *dir, json_t **out)
{
    char path[MESH_MAX_PATH];
    json_t *idx;
    mesh_err_t rc = ca_path(path, sizeof(path), "%s/index.json", dir);

    if (rc != MESH_OK) {
        return rc;
    }
    if (!ca_exists(path)) {
        idx = json_pack("{s:i, s:i, s:[]}", "version", 1, "crl_number", 0, "certs");
        if (idx == NULL) {
            return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
        }
        *out = idx;
        return MESH_OK;
    }
    if (ca_load_json(path, MESH_MAX_CA_INDEX_BYTES, &idx) != MESH_OK) {
        char why[512];
        (void)snprintf(why, sizeof(why), "%s", mesh_err_detail());
        return mesh_err_set(MESH_ERR_JSON,
                            "%s; restore index.json from a backup or delete it (init rebuilds it "
                            "from the certificates, losing revocations)",
                            why);
    }
    if (!json_is_object(idx) || !json_is_array(json_object_get(idx, "certs")) ||
        !json_is_integer(json_object_get(idx, "crl_number"))) {
        json_decref(idx);
        return mesh_err_set(MESH_ERR_JSON,
                            "%s: not a mesh-ca index (needs \"certs\" and "
                            "\"crl_number\")",
                            path);
    }
    *out = idx;
    return MESH_OK;
}

mesh_err_t ca_index_save(const char *dir, json_t *idx)
{
    char path[MESH_MAX_PATH];
    char *text = NULL;
    mesh_err_t rc = ca_path(path, sizeof(path), "%s/index.json", dir);

    if (rc != MESH_OK) {
        return rc;
    }
    text = json_dumps(idx, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    rc = ca_write_atomic(path, text, strlen(text), 0644);
    free(text);
    return rc;
}

json_t *ca_index_find(json_t *idx, const char *serial)
{
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(idx, "certs"), i, e)
    {
        const char *s = json_string_value(json_object_get(e, "serial"));
        if (s != NULL && strcmp(s, serial) == 0) {
            return e;
        }
    }
    return NULL;
}

bool ca_index_is_revoked(json_t *idx, const char *serial)
{
    json_t *e = ca_index_find(idx, serial);
    const char *st = e ? json_string_value(json_object_get(e, "status")) : NULL;

    return st != NULL && strcmp(st, "revoked") == 0;
}

static json_t *names_json(X509 *cert)
{
    struct ca_strv names = {0};
    json_t *arr = json_array();

    if (arr != NULL && ca_cert_names(cert, &names) == MESH_OK) {
        for (size_t i = 0; i < names.n; i++) {
            json_array_append_new(arr, json_string(names.v[i]));
        }
    }
    ca_strv_free(&names);
    return arr;
}

static json_t *entry_new(const char *kind, const char *service, X509 *cert, const char *serial)
{
    char nb[32], na[32], *subject, *aki = NULL;
    time_t t = 0;
    const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(cert);
    json_t *e;

    subject = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
    (void)ca_asn1_to_time(X509_get0_notBefore(cert), &t);
    ca_fmt_time(t, nb, sizeof(nb));
    (void)ca_asn1_to_time(X509_get0_notAfter(cert), &t);
    ca_fmt_time(t, na, sizeof(na));
    aki = calloc(1, akid ? (size_t)akid->length * 2 + 1 : 1);
    for (int i = 0; aki != NULL && akid != NULL && i < akid->length; i++) {
        (void)snprintf(aki + 2 * i, 3, "%02x", akid->data[i]);
    }
    e = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:s, s:s, s:s, s:s}", "serial", serial, "kind", kind,
                  "service", service, "subject", subject, "sans", names_json(cert), "issuer_key_id",
                  aki ? aki : "", "not_before", nb, "not_after", na, "status", "valid");
    OPENSSL_free(subject);
    free(aki);
    return e;
}

mesh_err_t ca_index_record(json_t *idx, const char *kind, const char *service, X509 *cert)
{
    char *serial = ca_serial_hex(cert);
    json_t *certs = json_object_get(idx, "certs"), *e;
    size_t i;
    mesh_err_t rc = MESH_OK;

    if (serial == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    if (ca_index_find(idx, serial) != NULL) {
        goto out; /* already recorded (e.g. kept by init) */
    }
    /* The previous current certificate of the same role is superseded, unless revoked. */
    json_array_foreach(certs, i, e)
    {
        const char *st = json_string_value(json_object_get(e, "status"));
        if (strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0 &&
            strcmp(json_string_value(json_object_get(e, "service")), service) == 0 && st != NULL &&
            strcmp(st, "valid") == 0) {
            json_object_set_new(e, "status", json_string("superseded"));
        }
    }
    e = entry_new(kind, service, cert, serial);
    if (e == NULL || json_array_append_new(certs, e) != 0) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
out:
    free(serial);
    return rc;
}
