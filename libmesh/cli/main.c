/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

#include "cli.h"

static const cli_verb_t verbs[] = {
    {"jwks", "print a JWKS for public key PEM files", cmd_jwks},
    {"decode", "print a token's header and claims, UNVERIFIED", cmd_decode},
    {"verify", "verify a token: signature, claims, binding", cmd_verify},
    {"sign", "sign a claims JSON object (tests and tooling)", cmd_sign},
    {"token", "get a token for an audience from the issuer", cmd_token},
    {"curl", "call a peer with this service's certificate and a token", cmd_curl},
    {"doctor", "check this service's certificates, issuer and token step by step", cmd_doctor},
    {"renew", "renew this service's certificate in place, once or as a daemon", cmd_renew},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mesh VERB [OPTIONS]   (mesh VERB --help for each verb)\n\nverbs:\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
    }
    fprintf(f, "\nExit status: 0 success, 1 the check or operation failed, 2 usage or input "
               "error.\nSee mesh(1).\n");
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "mesh %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see mesh %s --help)\n", verb);
    return CLI_USAGE;
}

int cli_mesh_error(const char *verb, mesh_err_t err, int status)
{
    const char *detail = mesh_err_detail();

    fprintf(stderr, "mesh %s: %s: %s\n", verb, mesh_err_name(err),
            detail[0] != '\0' ? detail : mesh_strerror(err));
    return status;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return true;
        }
    }
    return false;
}

mesh_err_t cli_read_input(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = stdin;
    char *buf;
    size_t n;

    if (strcmp(path, "-") != 0) {
        mesh_err_t rc = mesh_file_read(path, max, out, len);
        if (rc != MESH_OK) {
            fprintf(stderr, "%s\n", mesh_err_detail());
        }
        return rc;
    }
    buf = malloc(max + 1);
    if (buf == NULL) {
        return MESH_ERR_NOMEM;
    }
    n = fread(buf, 1, max + 1, f);
    if (n > max) {
        free(buf);
        fprintf(stderr, "%s: more than %zu bytes\n", path, max);
        return MESH_ERR_LIMIT;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MESH_OK;
}

mesh_err_t cli_read_token(const char *arg, char **out, size_t *len)
{
    mesh_err_t rc;

    if (strcmp(arg, "-") != 0) {
        *out = strdup(arg);
        *len = strlen(arg);
        return *out != NULL ? MESH_OK : MESH_ERR_NOMEM;
    }
    /* Read past the token limit so the verifier itself names an oversized token. */
    rc = cli_read_input("-", CLI_MAX_STDIN, out, len);
    while (rc == MESH_OK && *len > 0 && ((*out)[*len - 1] == '\n' || (*out)[*len - 1] == '\r')) {
        (*out)[--*len] = '\0';
    }
    return rc;
}

bool cli_parse_int64(const char *verb, const char *opt, const char *val, long long *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0') {
        cli_usage_error(verb, "%s needs a whole number, got '%s'", opt, val);
        return false;
    }
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mesh %s\n", MESH_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(argv[1], verbs[i].name) == 0) {
            return verbs[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "mesh: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
