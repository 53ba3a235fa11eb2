/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The smallest program built against an installed libmesh: it loads a service's identity
 * from the environment (MESH_CERTS_DIR or TLS_*), checks its certificate, and with
 * MESH_ISSUER_URL set asks the issuer for a token. Without arguments it only proves that the
 * headers and the library were found. Build: see build.sh.
 */
#include <stdio.h>

#include <mesh/mesh.h>

int main(int argc, char **argv)
{
    printf("libmesh %s: %s\n", MESH_VERSION, mesh_strerror(MESH_OK));
    if (argc < 3) {
        printf("usage: hello-mesh SERVICE AUDIENCE  (with MESH_CERTS_DIR, MESH_ISSUER_URL)\n");
        return 0;
    }
    mesh_client_t *c = NULL;
    mesh_err_t rc = mesh_client_from_env(argv[1], &c);
    if (rc == MESH_OK) {
        char *token = NULL;
        int64_t exp = 0;
        rc = mesh_client_token(c, argv[2], NULL, &token, &exp);
        if (rc == MESH_OK) {
            printf("%s got a token for %s, valid until %lld\n", argv[1], argv[2], (long long)exp);
            mesh_free(token);
        }
        mesh_client_free(c);
    }
    if (rc != MESH_OK) {
        fprintf(stderr, "hello-mesh: %s: %s\n", mesh_strerror(rc), mesh_err_detail());
        return 1;
    }
    return 0;
}
