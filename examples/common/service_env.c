/* SPDX-License-Identifier: Apache-2.0 */
#include "service_env.h"

#include <stdio.h>
#include <stdlib.h>

#include <mesh/error.h>
#include <mesh/util.h>

/* Copies a path into one of the fixed buffers; false (with a message) when it does not fit. */
static bool copy(const char *prog, const char *what, const char *v, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s", v);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "%s: %s is too long\n", prog, what);
        return false;
    }
    return true;
}

bool service_env_load(const char *prog, const char *service, service_env_t *out)
{
    char *cert = NULL, *key = NULL, *ca = NULL;
    const char *iss;
    bool ok = false;
    mesh_err_t rc = mesh_env_identity(service, &cert, &key, &ca);

    if (rc != MESH_OK) {
        fprintf(stderr, "%s: %s\n", prog, mesh_err_detail());
        goto out;
    }
    iss = getenv("MESH_ISSUER_URL");
    if (iss == NULL || iss[0] == '\0') {
        fprintf(stderr, "%s: set MESH_ISSUER_URL (https://HOST:PORT of mesh-issuer)\n", prog);
        goto out;
    }
    ok = copy(prog, "TLS_CERT_PATH", cert, out->cert, sizeof(out->cert)) &&
         copy(prog, "TLS_KEY_PATH", key, out->key, sizeof(out->key)) &&
         copy(prog, "TLS_CA_PATH", ca, out->ca, sizeof(out->ca)) &&
         copy(prog, "MESH_ISSUER_URL", iss, out->issuer, sizeof(out->issuer));
out:
    mesh_free(cert);
    mesh_free(key);
    mesh_free(ca);
    return ok;
}
