/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service identity files from the environment (DESIGN "Files written by mesh-ca"): the
 * one reading of TLS_CERT_PATH / TLS_KEY_PATH / TLS_CA_PATH / MESH_CERTS_DIR that the client,
 * the verifier, the `mesh` tool and the examples share.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/util.h>

#include "internal.h"

/* An empty variable counts as unset (`VAR= prog` is how a shell unsets one for a run). */
const char *mesh_env_get(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* A new string "<dir>/<a>[/<b>]"; the detail names `var` when the path is too long. */
static mesh_err_t join(const char *var, const char *dir, const char *a, const char *b, char **out)
{
    size_t cap = strlen(dir) + strlen(a) + (b != NULL ? strlen(b) : 0) + 3;
    char *p;
    int n;

    if (cap > PATH_MAX) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "%s: the path derived from MESH_CERTS_DIR is "
                            "longer than %d bytes",
                            var, PATH_MAX);
    }
    p = malloc(cap);
    if (p == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "identity path");
    }
    n = b != NULL ? snprintf(p, cap, "%s/%s/%s", dir, a, b) : snprintf(p, cap, "%s/%s", dir, a);
    if (n < 0 || (size_t)n >= cap) {
        free(p);
        return mesh_err_set(MESH_ERR_INTERNAL, "identity path");
    }
    *out = p;
    return MESH_OK;
}

/* A service name that names one directory under MESH_CERTS_DIR. */
static bool service_valid(const char *s)
{
    return s != NULL && s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

/* One path: the explicit variable, else derived from MESH_CERTS_DIR, else an error. */
static mesh_err_t one(const char *var, const char *service, const char *file, char **out)
{
    const char *v = mesh_env_get(var), *dir = mesh_env_get("MESH_CERTS_DIR");

    if (v != NULL) {
        *out = strdup(v);
        return *out != NULL ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "identity path");
    }
    if (dir == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "%s is not set (or set MESH_CERTS_DIR, the "
                            "directory mesh-ca wrote)",
                            var);
    }
    if (file == NULL) { /* the CA: <dir>/ca.pem, whatever the service */
        return join(var, dir, "ca.pem", NULL, out);
    }
    if (!service_valid(service)) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "%s is not set and MESH_CERTS_DIR needs a service "
                            "name (one directory name, no '/') to find <dir>/<service>/%s",
                            var, file);
    }
    return join(var, dir, service, file, out);
}

MESH_EXPORT mesh_err_t mesh_env_identity(const char *service_name, char **cert_path,
                                         char **key_path, char **ca_path)
{
    char *cert = NULL, *key = NULL, *ca = NULL;
    mesh_err_t rc = MESH_OK;

    mesh_err_clear();
    /* The CA first: every mode needs it. */
    if (ca_path != NULL && (rc = one("TLS_CA_PATH", service_name, NULL, &ca)) != MESH_OK) {
        goto out;
    }
    if (cert_path != NULL &&
        (rc = one("TLS_CERT_PATH", service_name, "cert.pem", &cert)) != MESH_OK) {
        goto out;
    }
    if (key_path != NULL && (rc = one("TLS_KEY_PATH", service_name, "key.pem", &key)) != MESH_OK) {
        goto out;
    }
    if (cert_path != NULL) {
        *cert_path = cert;
        cert = NULL;
    }
    if (key_path != NULL) {
        *key_path = key;
        key = NULL;
    }
    if (ca_path != NULL) {
        *ca_path = ca;
        ca = NULL;
    }
out:
    free(cert);
    free(key);
    free(ca);
    return rc;
}
