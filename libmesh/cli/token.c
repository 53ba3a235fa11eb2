/* SPDX-License-Identifier: Apache-2.0 */
/* mesh token --audience A [--scope S] : a token from the issuer, raw JWT on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

#include "cli.h"
#include "client_env.h"

static void token_help(void)
{
    printf("usage: mesh token --audience A [--scope S] [--ttl SECONDS] [--json] [identity]\n\n"
           "Asks the issuer for a token for audience A, authenticating with this service's\n"
           "certificate (mTLS) or with a service token (--client-id/--client-secret or\n"
           "MESH_CLIENT_ID/MESH_CLIENT_SECRET), and prints the raw JWT on stdout, e.g.\n"
           "  curl -H \"Authorization: Bearer $(mesh token --audience svc-b)\" ...\n"
           "--json prints {\"access_token\":...,\"expires_at\":...} instead.\n"
           "On failure prints the issuer's error (e.g. invalid_target: the registered\n"
           "audiences) and exits 1.\n\n%s",
           CLI_CLIENT_HELP);
}

int cmd_token(int argc, char **argv)
{
    static const struct option opts[] = {{"audience", required_argument, NULL, 'a'},
                                         {"scope", required_argument, NULL, 's'},
                                         {"ttl", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"help", no_argument, NULL, 'h'},
                                         CLI_CLIENT_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    const char *audience = NULL, *scope = NULL;
    long long ttl = 0;
    int c, json = 0, status;
    cli_identity_t id;
    mesh_client_t *client = NULL;
    char *token = NULL;
    int64_t exp = 0;
    mesh_err_t rc;

    while ((c = getopt_long(argc, argv, "ha:s:", opts, NULL)) != -1) {
        if (cli_client_opt(c, optarg)) {
            continue;
        }
        switch (c) {
        case 'h':
            token_help();
            return CLI_OK;
        case 'a':
            audience = optarg;
            break;
        case 's':
            scope = optarg;
            break;
        case 'J':
            json = 1;
            break;
        case 't':
            if (!cli_parse_int64("token", "--ttl", optarg, &ttl) || ttl <= 0) {
                return CLI_USAGE;
            }
            break;
        default:
            return cli_usage_error("token", "unknown option");
        }
    }
    if (audience == NULL || optind != argc) {
        return cli_usage_error("token", "--audience is required (and takes no arguments)");
    }
    cli_identity_resolve(&id);
    rc = cli_make_client(&id, -1, ttl, &client);
    cli_identity_free(&id); /* the client holds copies */
    if (rc != MESH_OK) {
        return cli_mesh_error("token", rc, CLI_USAGE);
    }
    rc = mesh_client_token(client, audience, scope, &token, &exp);
    if (rc != MESH_OK) {
        status = cli_mesh_error("token", rc, CLI_FAIL);
    } else {
        if (json) {
            printf("{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_at\":%lld}\n",
                   token, (long long)exp);
        } else {
            printf("%s\n", token);
        }
        status = CLI_OK;
    }
    mesh_free(token);
    mesh_client_free(client);
    return status;
}
