/* SPDX-License-Identifier: Apache-2.0 */
#include "client_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/util.h>

static struct {
    const char *service, *issuer, *cert, *key, *ca, *dir, *client_id, *client_secret;
    const char *issuer_id;
    bool insecure;
} flags;

bool cli_client_opt(int c, const char *arg)
{
    switch (c) {
    case OPT_SERVICE:
        flags.service = arg;
        return true;
    case OPT_ISSUER:
        flags.issuer = arg;
        return true;
    case OPT_CERT:
        flags.cert = arg;
        return true;
    case OPT_KEY:
        flags.key = arg;
        return true;
    case OPT_CA:
        flags.ca = arg;
        return true;
    case OPT_CERTS_DIR:
        flags.dir = arg;
        return true;
    case OPT_CLIENT_ID:
        flags.client_id = arg;
        return true;
    case OPT_CLIENT_SECRET:
        flags.client_secret = arg;
        return true;
    case OPT_INSECURE:
        flags.insecure = true;
        return true;
    case OPT_ISSUER_ID:
        flags.issuer_id = arg;
        return true;
    default:
        return false;
    }
}

static const char *pick(const char *flag, const char *var)
{
    const char *v;

    if (flag != NULL) {
        return flag;
    }
    v = getenv(var);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* A flag overrides the variable of the same meaning: it is put into the environment, so
 * that mesh_env_identity (the library's one reading of it) sees it. */
static void flag_to_env(const char *flag, const char *var)
{
    if (flag != NULL) {
        setenv(var, flag, 1);
    }
}

/* One identity file through mesh_env_identity; NULL (and no error) when it cannot be found. */
static char *identity_file(const char *service, int which)
{
    char *path = NULL;
    mesh_err_t rc = mesh_env_identity(service, which == 0 ? &path : NULL, which == 1 ? &path : NULL,
                                      which == 2 ? &path : NULL);
    return rc == MESH_OK ? path : NULL;
}

void cli_identity_resolve(cli_identity_t *id)
{
    memset(id, 0, sizeof(*id));
    id->service = pick(flags.service, "MESH_SERVICE");
    id->issuer = pick(flags.issuer, "MESH_ISSUER_URL");
    id->client_id = pick(flags.client_id, "MESH_CLIENT_ID");
    id->client_secret = pick(flags.client_secret, "MESH_CLIENT_SECRET");
    id->issuer_id = pick(flags.issuer_id, "MESH_ISSUER_ID");
    id->insecure = flags.insecure;
    flag_to_env(flags.cert, "TLS_CERT_PATH");
    flag_to_env(flags.key, "TLS_KEY_PATH");
    flag_to_env(flags.ca, "TLS_CA_PATH");
    flag_to_env(flags.dir, "MESH_CERTS_DIR");
    /* As mesh_client_from_env: a service token replaces the certificate, only the CA is read. */
    if (id->client_id == NULL) {
        id->cert = identity_file(id->service, 0);
        id->key = identity_file(id->service, 1);
    }
    id->ca = identity_file(id->service, 2);
}

void cli_identity_free(cli_identity_t *id)
{
    mesh_free(id->cert);
    mesh_free(id->key);
    mesh_free(id->ca);
    id->cert = id->key = id->ca = NULL;
}

mesh_err_t cli_make_client(const cli_identity_t *id, int max_retries, long long ttl,
                           mesh_client_t **out)
{
    mesh_client_opts_t *o = NULL;
    mesh_err_t rc = mesh_client_opts_new(&o);

    /* A missing value stays unset here; mesh_client_new names what is missing. */
    if (rc == MESH_OK && id->issuer != NULL) {
        rc = mesh_client_opts_set_issuer_url(o, id->issuer);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_opts_set_cert_path(o, id->cert);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_opts_set_key_path(o, id->key);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_opts_set_ca_path(o, id->ca);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_opts_set_client_id(o, id->client_id);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_opts_set_client_secret(o, id->client_secret);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_opts_set_insecure_skip_hostname(o, id->insecure);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_opts_set_issuer_id(o, id->issuer_id);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_opts_set_token_ttl(o, ttl);
    }
    if (rc == MESH_OK && max_retries >= 0) {
        rc = mesh_client_opts_set_max_retries(o, max_retries);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_new(o, out);
    }
    mesh_client_opts_free(o);
    return rc;
}
