/* SPDX-License-Identifier: Apache-2.0 */
/* mesh verify TOKEN --jwks FILE --issuer ISS --audience AUD ... : every verification rule. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jansson.h>

#include <mesh/mesh.h>

#include "cli.h"

typedef struct {
    const char *token_arg, *jwks_path, *cert_path, *revocations_path;
    json_t *revoked; /* the feed's "revoked" array */
    mesh_jwt_verify_opts_t *vo;
    bool have_issuer, have_audience;
    int json;
} verify_args_t;

static void verify_help(void)
{
    printf("usage: mesh verify TOKEN|- --jwks FILE --issuer ISS --audience AUD\n"
           "                   [--cert PEM] [--scope S] [--skew S] [--max-ttl S] [--now EPOCH]\n"
           "                   [--typ TYP] [--revocations FILE] [--json]\n\n"
           "Verifies a token exactly as a libmesh verifier does: signature with the key its kid\n"
           "selects from the JWKS (the key fixes the algorithm), header rules, iss, aud, exp,\n"
           "nbf, iat, lifetime, and with --cert the RFC 8705 binding cnf.x5t#S256 to that\n"
           "certificate (without --cert the binding is not checked, and it says so).\n"
           "On success prints the verified claims as JSON and exits 0. On failure prints\n"
           "`<reason_code>: <what is wrong>` on stderr and exits 1 (2 for usage errors).\n\n"
           "  --skew S      allowed clock difference in seconds (default %d)\n"
           "  --max-ttl S   maximum exp - iat in seconds (default %d)\n"
           "  --now EPOCH   verify as of this time instead of the clock\n"
           "  --scope S     a scope the token must carry (insufficient_scope otherwise)\n"
           "  --typ TYP     required header typ (default at+jwt; \"\" skips the check)\n"
           "  --revocations FILE  a saved GET /v1/revocations answer; its jtis are revoked\n"
           "  --json        print {\"valid\":...,\"claims\"|\"error\",\"detail\"} on stdout\n",
           MESH_DEFAULT_SKEW, MESH_DEFAULT_MAX_LIFETIME);
}

/* Parses options into *a; returns CLI_OK to go on, or an exit status (help, usage error). */
static int parse_args(int argc, char **argv, verify_args_t *a, int *help)
{
    static const struct option opts[] = {{"jwks", required_argument, NULL, 'j'},
                                         {"issuer", required_argument, NULL, 'i'},
                                         {"audience", required_argument, NULL, 'a'},
                                         {"cert", required_argument, NULL, 'c'},
                                         {"skew", required_argument, NULL, 's'},
                                         {"max-ttl", required_argument, NULL, 'm'},
                                         {"now", required_argument, NULL, 'n'},
                                         {"scope", required_argument, NULL, 'S'},
                                         {"typ", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"revocations", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    mesh_err_t rc = MESH_OK;
    long long v;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            *help = 1;
            return CLI_OK;
        case 'j':
            a->jwks_path = optarg;
            break;
        case 'i':
            rc = mesh_jwt_verify_opts_set_issuer(a->vo, optarg);
            a->have_issuer = true;
            break;
        case 'a':
            rc = mesh_jwt_verify_opts_set_audience(a->vo, optarg);
            a->have_audience = true;
            break;
        case 'c':
            a->cert_path = optarg;
            break;
        case 'S':
            rc = mesh_jwt_verify_opts_set_required_scope(a->vo, optarg);
            break;
        case 't':
            rc = mesh_jwt_verify_opts_set_typ(a->vo, optarg[0] != '\0' ? optarg : NULL);
            break;
        case 'J':
            a->json = 1;
            break;
        case 'r':
            a->revocations_path = optarg;
            break;
        case 's':
        case 'm':
        case 'n':
            if (!cli_parse_int64("verify",
                                 c == 's'   ? "--skew"
                                 : c == 'm' ? "--max-ttl"
                                            : "--now",
                                 optarg, &v) ||
                v < 0) {
                return CLI_USAGE;
            }
            rc = c == 's'   ? mesh_jwt_verify_opts_set_skew(a->vo, v)
                 : c == 'm' ? mesh_jwt_verify_opts_set_max_lifetime(a->vo, v)
                            : mesh_jwt_verify_opts_set_now(a->vo, v);
            break;
        default:
            return cli_usage_error("verify", "unknown option");
        }
        if (rc != MESH_OK) {
            return cli_mesh_error("verify", rc, CLI_USAGE);
        }
    }
    if (optind + 1 != argc) {
        return cli_usage_error("verify", "give exactly one TOKEN (or - for stdin)");
    }
    a->token_arg = argv[optind];
    if (a->jwks_path == NULL || !a->have_issuer || !a->have_audience) {
        return cli_usage_error("verify", "--jwks, --issuer and --audience are required");
    }
    return CLI_OK;
}

/* mesh_revoked_fn over the feed file's {"revoked":[{"jti":...},...]} entries. */
static bool feed_revoked(void *ctx, const char *jti)
{
    const verify_args_t *a = ctx;
    size_t i;
    json_t *e;

    json_array_foreach(a->revoked, i, e)
    {
        const char *r = json_string_value(json_object_get(e, "jti"));
        if (r != NULL && strcmp(r, jti) == 0) {
            return true;
        }
    }
    return false;
}

static int load_revocations(verify_args_t *a)
{
    char *text = NULL;
    size_t len = 0;
    json_t *feed = NULL;
    mesh_err_t rc = mesh_file_read(a->revocations_path, MESH_MAX_FEED_BYTES, &text, &len);

    if (rc == MESH_OK) {
        rc = mesh_json_parse_object(text, len, MESH_MAX_JSON_DEPTH, "revocation feed", &feed);
    }
    mesh_free(text);
    if (rc != MESH_OK || !json_is_array(json_object_get(feed, "revoked"))) {
        json_decref(feed);
        return cli_usage_error("verify", "%s: not a revocation feed {\"revoked\":[...]}: %s",
                               a->revocations_path, rc != MESH_OK ? mesh_err_detail() : "no array");
    }
    a->revoked = json_incref(json_object_get(feed, "revoked"));
    json_decref(feed);
    if (mesh_jwt_verify_opts_set_revoked(a->vo, feed_revoked, a) != MESH_OK) {
        return cli_mesh_error("verify", MESH_ERR_INVALID_ARG, CLI_USAGE);
    }
    return CLI_OK;
}

static int report(const verify_args_t *a, mesh_err_t rc, const mesh_identity_t *claims)
{
    char *claims_json = NULL;
    json_t *out = json_object();

    if (rc == MESH_OK && mesh_identity_to_json(claims, &claims_json) != MESH_OK) {
        rc = MESH_ERR_NOMEM;
    }
    if (rc == MESH_OK) {
        json_t *cj = NULL;
        if (mesh_json_parse(claims_json, strlen(claims_json), MESH_MAX_JSON_DEPTH,
                            "verified claims", &cj) != MESH_OK) {
            cj = NULL; /* libmesh wrote it: printed as {} should it ever fail */
        }
        json_object_set_new(out, "valid", json_true());
        json_object_set_new(out, "claims", cj);
        char *text = json_dumps(a->json ? out : cj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text ? text : "{}");
        free(text);
    } else {
        const char *detail = mesh_err_detail()[0] ? mesh_err_detail() : mesh_strerror(rc);
        json_object_set_new(out, "valid", json_false());
        json_object_set_new(out, "error", json_string(mesh_err_name(rc)));
        json_object_set_new(out, "detail", json_string(detail));
        fprintf(stderr, "%s: %s\n", mesh_err_name(rc), detail);
        if (a->json) {
            char *text = json_dumps(out, JSON_PRESERVE_ORDER);
            printf("%s\n", text ? text : "{}");
            free(text);
        }
    }
    json_decref(out);
    mesh_free(claims_json);
    return rc == MESH_OK ? CLI_OK : CLI_FAIL;
}

int cmd_verify(int argc, char **argv)
{
    verify_args_t a = {0};
    mesh_jwks_t *set = NULL;
    mesh_identity_t *claims = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0, len = 0;
    char *input = NULL;
    int help = 0, status;
    mesh_err_t rc;

    /* Without --cert an unbound token verifies; a bound one still needs its certificate. */
    if (mesh_jwt_verify_opts_new(&a.vo) != MESH_OK ||
        mesh_jwt_verify_opts_set_binding(a.vo, "when-presented") != MESH_OK) {
        mesh_jwt_verify_opts_free(a.vo);
        return cli_mesh_error("verify", MESH_ERR_NOMEM, CLI_FAIL);
    }
    status = parse_args(argc, argv, &a, &help);
    if (help) {
        verify_help();
        status = CLI_OK;
        goto out;
    }
    if (status != CLI_OK) {
        goto out;
    }
    if (cli_read_token(a.token_arg, &input, &len) != MESH_OK) {
        status = CLI_USAGE;
        goto out;
    }
    if (a.revocations_path != NULL && (status = load_revocations(&a)) != CLI_OK) {
        goto out;
    }
    rc = mesh_jwks_load_file(a.jwks_path, &set);
    if (rc != MESH_OK) {
        status = cli_mesh_error("verify", rc, CLI_USAGE);
        goto out;
    }
    if (a.cert_path != NULL) {
        rc = mesh_x509_load_der(a.cert_path, &der, &der_len);
        if (rc != MESH_OK) {
            status = cli_mesh_error("verify", rc, CLI_USAGE);
            goto out;
        }
        rc = mesh_jwt_verify_opts_set_cert(a.vo, der, der_len);
        if (rc == MESH_OK) {
            rc = mesh_jwt_verify_opts_set_binding(a.vo, "required");
        }
        if (rc != MESH_OK) {
            status = cli_mesh_error("verify", rc, CLI_USAGE);
            goto out;
        }
    } else {
        fprintf(stderr, "note: no --cert given: the token's certificate binding is not checked\n");
    }
    rc = mesh_jwt_verify(set, input, len, a.vo, &claims);
    status = report(&a, rc, claims);
out:
    mesh_identity_free(claims);
    mesh_jwks_free(set);
    json_decref(a.revoked);
    mesh_jwt_verify_opts_free(a.vo);
    mesh_free(der);
    free(input);
    return status;
}
