/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where an example service finds its identity, the way every mesh service does (DESIGN.md):
 * the files through libmesh's mesh_env_identity (TLS_CERT_PATH, TLS_KEY_PATH, TLS_CA_PATH, or
 * MESH_CERTS_DIR with the service name; explicit TLS_* variables win), and MESH_ISSUER_URL.
 */
#ifndef EXAMPLES_SERVICE_ENV_H
#define EXAMPLES_SERVICE_ENV_H

#include <stdbool.h>

typedef struct {
    char cert[4096];
    char key[4096];
    char ca[4096];
    char issuer[1024];
} service_env_t;

/* Fills `out` for `service`; on failure prints which variable is missing and returns false. */
bool service_env_load(const char *prog, const char *service, service_env_t *out);

#endif /* EXAMPLES_SERVICE_ENV_H */
