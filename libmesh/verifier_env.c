/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_verifier_from_env (verifier.h): a verifier configured as services configure their
 * client, from the environment; every error names the variable. */
#include <stdlib.h>
#include <string.h>

#include <mesh/util.h>

#include "internal.h"
#include "verifier_internal.h"

/* A setter's failure, re-said with the variable that carried the value. */
static mesh_err_t named(mesh_err_t rc, const char *var)
{
    if (rc == MESH_OK) {
        return rc;
    }
    char why[512];
    (void)snprintf(why, sizeof(why), "%s", mesh_err_detail());
    return mesh_err_set(rc, "%s: %s", var, why);
}

/* The identity files: the CA always (HTTPS fetches), the service's certificate when the
 * environment names one (TLS_CERT_PATH, or MESH_CERTS_DIR). */
static mesh_err_t env_files(const char *service, mesh_verifier_opts_t *o)
{
    char *cert = NULL, *key = NULL, *ca = NULL;
    mesh_err_t rc = mesh_env_identity(service, NULL, NULL, &ca);

    if (rc == MESH_OK) {
        rc = named(mesh_verifier_opts_set_ca_path(o, ca), "TLS_CA_PATH");
    }
    if (rc == MESH_OK &&
        (mesh_env_get("TLS_CERT_PATH") != NULL || mesh_env_get("MESH_CERTS_DIR") != NULL)) {
        rc = mesh_env_identity(service, &cert, &key, NULL);
        if (rc == MESH_OK) {
            rc = named(mesh_verifier_opts_set_client_cert(o, cert, key), "TLS_CERT_PATH");
        }
    }
    free(cert);
    free(key);
    free(ca);
    return rc;
}

static mesh_err_t env_jwks(mesh_verifier_opts_t *o)
{
    const char *url = mesh_env_get("MESH_JWKS_URL"), *file = mesh_env_get("MESH_JWKS_FILE");

    if (url != NULL && file != NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "MESH_JWKS_URL and MESH_JWKS_FILE are both set; "
                                             "keys come from one place");
    }
    if (url != NULL) {
        return named(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_URL, url), "MESH_JWKS_URL");
    }
    if (file != NULL) {
        return named(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, file), "MESH_JWKS_FILE");
    }
    return MESH_OK; /* from the issuer's metadata */
}

static mesh_err_t env_opts(const char *service, mesh_verifier_opts_t *o)
{
    const char *issuer = mesh_env_get("MESH_ISSUER_URL"), *aud = mesh_env_get("MESH_AUDIENCE");
    const char *bundle = mesh_env_get("MESH_TRUST_BUNDLE"), *crl = mesh_env_get("MESH_CRL_PATH");
    const char *v;
    mesh_err_t rc;

    if (issuer == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "MESH_ISSUER_URL is not set (the issuer's "
                                             "https:// URL, its exact iss)");
    }
    if ((rc = named(mesh_verifier_opts_set_issuer(o, issuer), "MESH_ISSUER_URL")) != MESH_OK) {
        return rc;
    }
    /* DESIGN "Identity": a service's audience is its name unless told otherwise. */
    if (aud == NULL && (service == NULL || service[0] == '\0')) {
        return mesh_err_set(MESH_ERR_CONFIG, "MESH_AUDIENCE is not set and no service name was "
                                             "given to default it to");
    }
    rc = named(mesh_verifier_opts_set_audience(o, aud != NULL ? aud : service), "MESH_AUDIENCE");
    if (rc == MESH_OK && (v = mesh_env_get("MESH_ISSUER_ID")) != NULL) {
        rc = named(mesh_verifier_opts_set_issuer_id(o, v), "MESH_ISSUER_ID");
    }
    if (rc == MESH_OK) {
        rc = env_files(service, o);
    }
    if (rc == MESH_OK && crl != NULL && bundle == NULL) {
        rc = mesh_err_set(MESH_ERR_CONFIG, "MESH_CRL_PATH needs MESH_TRUST_BUNDLE (the CAs "
                                           "whose CRLs they are)");
    }
    if (rc == MESH_OK && bundle != NULL) {
        rc = named(mesh_verifier_opts_set_trust_bundle(o, bundle, crl), "MESH_TRUST_BUNDLE");
    }
    if (rc == MESH_OK) {
        rc = env_jwks(o);
    }
    if (rc == MESH_OK && (v = mesh_env_get("MESH_BINDING")) != NULL) {
        rc = named(mesh_verifier_opts_set_binding(o, v), "MESH_BINDING");
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_from_env(const char *service_name,
                                                   mesh_verifier_opts_t **out)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_err_t rc;

    if (out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_verifier_opts_from_env: out is NULL");
    }
    rc = mesh_verifier_opts_new(&o);
    if (rc == MESH_OK) {
        rc = env_opts(service_name, o);
    }
    if (rc != MESH_OK) {
        mesh_verifier_opts_free(o);
        return rc;
    }
    *out = o;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_from_env(const char *service_name, mesh_verifier_t **out)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    if (out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_verifier_from_env: out is NULL");
    }
    rc = mesh_verifier_opts_from_env(service_name, &o);
    if (rc == MESH_OK) {
        rc = mesh_verifier_new(o, out);
    }
    mesh_verifier_opts_free(o);
    return rc;
}
