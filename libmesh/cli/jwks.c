/* SPDX-License-Identifier: Apache-2.0 */
/* mesh jwks PEM... : the public JWKS for the given keys. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

#include "cli.h"

static void jwks_help(void)
{
    printf("usage: mesh jwks [--alg RS256|PS256] PEM...\n\n"
           "Prints a JWKS (RFC 7517) with the public half of each PEM key (public or private\n"
           "PEM accepted; private parts are never printed). Each key's kid is its RFC 7638\n"
           "thumbprint. --alg PS256 marks RSA keys as PS256 (default RS256).\n");
}

int cmd_jwks(int argc, char **argv)
{
    static const struct option opts[] = {{"alg", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    mesh_alg_t alg = MESH_ALG_UNSET;
    mesh_key_t **keys = NULL;
    mesh_jwks_t *set = NULL;
    char *json = NULL;
    int n = 0, c, status = CLI_USAGE;
    mesh_err_t rc;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            jwks_help();
            return CLI_OK;
        } else if (c == 'a') {
            alg = mesh_alg_from_name(optarg, strlen(optarg));
            if (alg == MESH_ALG_UNSET) {
                return cli_usage_error("jwks", "unknown --alg '%s'", optarg);
            }
        } else {
            return cli_usage_error("jwks", "unknown option");
        }
    }
    if (optind >= argc) {
        return cli_usage_error("jwks", "give at least one PEM key file");
    }
    keys = calloc((size_t)(argc - optind), sizeof(*keys));
    if (keys == NULL) {
        return cli_mesh_error("jwks", MESH_ERR_NOMEM, CLI_FAIL);
    }
    for (int i = optind; i < argc; i++) {
        rc = mesh_key_load_pem_file(argv[i], alg, &keys[n]);
        if (rc != MESH_OK) {
            status = cli_mesh_error("jwks", rc, CLI_USAGE);
            goto out;
        }
        n++;
    }
    rc = mesh_jwks_from_keys(keys, (size_t)n, &set);
    if (rc == MESH_OK) {
        rc = mesh_jwks_to_json(set, &json);
    }
    if (rc != MESH_OK) {
        status = cli_mesh_error("jwks", rc, CLI_FAIL);
        goto out;
    }
    printf("%s\n", json);
    status = CLI_OK;
out:
    for (int i = 0; i < n; i++) {
        mesh_key_free(keys[i]);
    }
    free(keys);
    mesh_jwks_free(set);
    mesh_free(json);
    return status;
}
