/* SPDX-License-Identifier: Apache-2.0 */
#include "service_env.h"

#include <stdio.h>
#include <stdlib.h>

static bool pick(const char *prog, const char *var, const char *dir, const char *service,
                 const char *file, char *out, size_t cap)
{
    const char *v = getenv(var);
    int n;
    if (v != NULL && v[0] != '\0') {
        n = snprintf(out, cap, "%s", v);
    } else if (dir != NULL && service != NULL) {
        n = snprintf(out, cap, "%s/%s/%s", dir, service, file);
    } else if (dir != NULL) {
        n = snprintf(out, cap, "%s/%s", dir, file);
    } else {
        fprintf(stderr, "%s: set %s (or MESH_CERTS_DIR, the directory mesh-ca wrote)\n", prog, var);
        return false;
    }
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "%s: %s is too long\n", prog, var);
        return false;
    }
    return true;
}

bool service_env_load(const char *prog, const char *service, service_env_t *out)
{
    const char *dir = getenv("MESH_CERTS_DIR");
    if (dir != NULL && dir[0] == '\0') {
        dir = NULL;
    }
    if (!pick(prog, "TLS_CERT_PATH", dir, service, "cert.pem", out->cert, sizeof(out->cert)) ||
        !pick(prog, "TLS_KEY_PATH", dir, service, "key.pem", out->key, sizeof(out->key)) ||
        !pick(prog, "TLS_CA_PATH", dir, NULL, "ca.pem", out->ca, sizeof(out->ca))) {
        return false;
    }
    const char *iss = getenv("MESH_ISSUER_URL");
    if (iss == NULL || iss[0] == '\0') {
        fprintf(stderr, "%s: set MESH_ISSUER_URL (https://HOST:PORT of mesh-issuer)\n", prog);
        return false;
    }
    int n = snprintf(out->issuer, sizeof(out->issuer), "%s", iss);
    if (n < 0 || (size_t)n >= sizeof(out->issuer)) {
        fprintf(stderr, "%s: MESH_ISSUER_URL is too long\n", prog);
        return false;
    }
    return true;
}
