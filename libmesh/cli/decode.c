/* SPDX-License-Identifier: Apache-2.0 */
/* mesh decode TOKEN : header and claims, clearly UNVERIFIED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jansson.h>

#include <mesh/mesh.h>

#include "cli.h"

static void decode_help(void)
{
    printf("usage: mesh decode TOKEN|-\n\n"
           "Prints the token's JOSE header and claims as JSON, labelled UNVERIFIED: nothing\n"
           "about the signature, issuer, audience, lifetime or binding is checked. Use\n"
           "`mesh verify` to check a token. TOKEN - reads the token from stdin.\n");
}

/* Adds `text` (JSON) to obj under `name`, or the raw text when it is not JSON. */
static void put_json(json_t *obj, const char *name, const char *text)
{
    json_t *v = NULL;
    if (mesh_json_parse(text, strlen(text), MESH_MAX_JSON_DEPTH, name, &v) != MESH_OK) {
        v = json_string(text);
    }
    json_object_set_new(obj, name, v);
}

int cmd_decode(int argc, char **argv)
{
    char *input = NULL, *header = NULL, *payload = NULL, *out = NULL;
    size_t len = 0;
    json_t *obj = NULL;
    int status = CLI_FAIL;
    mesh_err_t rc;

    if (cli_wants_help(argc, argv)) {
        decode_help();
        return CLI_OK;
    }
    if (argc != 2) {
        return cli_usage_error("decode", "give exactly one TOKEN (or - for stdin)");
    }
    if (cli_read_token(argv[1], &input, &len) != MESH_OK) {
        return CLI_USAGE;
    }
    rc = mesh_jws_decode_unverified(input, len, &header, &payload);
    if (rc != MESH_OK) {
        status = cli_mesh_error("decode", rc, CLI_FAIL);
        goto out;
    }
    obj = json_object();
    json_object_set_new(obj, "UNVERIFIED", json_true());
    put_json(obj, "header", header);
    put_json(obj, "claims", payload);
    out = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (out == NULL) {
        goto out;
    }
    fprintf(stderr, "UNVERIFIED: signature, issuer, audience, lifetime and binding were not "
                    "checked\n");
    printf("%s\n", out);
    status = CLI_OK;
out:
    free(out);
    json_decref(obj);
    mesh_free(header);
    mesh_free(payload);
    free(input);
    return status;
}
