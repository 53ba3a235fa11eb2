/* SPDX-License-Identifier: Apache-2.0 */
/* mesh sign --key PEM --claims JSON : a compact JWS, for tests and tooling. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jansson.h>

#include <mesh/mesh.h>

#include "cli.h"

static void sign_help(void)
{
    printf("usage: mesh sign --key PEM --claims JSON|@FILE [--typ TYP] [--alg PS256] [--raw]\n\n"
           "Signs the claims bytes exactly as given with the private key and prints the\n"
           "compact JWS. The header is {\"alg\",\"typ\",\"kid\"}: alg is the key's own,\n"
           "typ defaults to at+jwt, kid is the key's RFC 7638 thumbprint. The claims must be\n"
           "a JSON object unless --raw (for building hostile test tokens). This is a\n"
           "tool for tests; mesh-issuer is what mints real tokens.\n");
}

static mesh_err_t load_claims(const char *arg, char **out, size_t *len)
{
    if (arg[0] == '@') {
        return cli_read_input(arg + 1, MESH_MAX_TOKEN_BYTES, out, len);
    }
    *len = strlen(arg);
    *out = strdup(arg);
    return *out != NULL ? MESH_OK : MESH_ERR_NOMEM;
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"claims", required_argument, NULL, 'c'},
                                         {"typ", required_argument, NULL, 't'},
                                         {"alg", required_argument, NULL, 'a'},
                                         {"raw", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *key_path = NULL, *claims_arg = NULL, *typ = MESH_TYP_AT_JWT;
    mesh_alg_t alg = MESH_ALG_UNSET;
    mesh_key_t *key = NULL;
    char *claims = NULL, *jws = NULL;
    size_t len = 0;
    int raw = 0, c, status = CLI_USAGE;
    mesh_err_t rc;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            sign_help();
            return CLI_OK;
        case 'k':
            key_path = optarg;
            break;
        case 'c':
            claims_arg = optarg;
            break;
        case 't':
            typ = optarg[0] != '\0' ? optarg : NULL;
            break;
        case 'a':
            alg = mesh_alg_from_name(optarg, strlen(optarg));
            if (alg == MESH_ALG_UNSET) {
                return cli_usage_error("sign", "unknown --alg '%s'", optarg);
            }
            break;
        case 'r':
            raw = 1;
            break;
        default:
            return cli_usage_error("sign", "unknown option");
        }
    }
    if (key_path == NULL || claims_arg == NULL || optind != argc) {
        return cli_usage_error("sign", "--key PEM and --claims JSON are required");
    }
    if (load_claims(claims_arg, &claims, &len) != MESH_OK) {
        goto out;
    }
    if (!raw) {
        json_t *v = NULL;
        rc = mesh_json_parse_object(claims, len, MESH_MAX_JSON_DEPTH, "--claims", &v);
        json_decref(v);
        if (rc != MESH_OK) {
            status = cli_usage_error("sign", "%s (--raw signs any bytes)", mesh_err_detail());
            goto out;
        }
    }
    rc = mesh_key_load_pem_file(key_path, alg, &key);
    if (rc == MESH_OK) {
        rc = mesh_jws_sign(key, typ, claims, len, &jws);
    }
    if (rc != MESH_OK) {
        status = cli_mesh_error("sign", rc, rc == MESH_ERR_IO ? CLI_USAGE : CLI_FAIL);
        goto out;
    }
    printf("%s\n", jws);
    status = CLI_OK;
out:
    mesh_free(jws);
    mesh_key_free(key);
    free(claims);
    return status;
}
