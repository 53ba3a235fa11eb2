/* SPDX-License-Identifier: Apache-2.0 */
/*
 * caller: a tiny client service (web-service by default) that calls a peer through the mesh
 * client: its certificate for mTLS, and a token for the peer's audience from mesh-issuer,
 * cached and refreshed by libmesh. See examples/caller/README.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

#define PROG "caller"

static const char USAGE[] =
    "usage: caller [--service NAME] [--audience AUD] [--method M] [--data BODY]\n"
    "              [--header 'Name: value'] [--print-token] URL\n"
    "\n"
    "Calls URL as service NAME (default web-service) with its certificate and a mesh token\n"
    "for AUD (default gateway). Prints 'HTTP <status>' and the body.\n"
    "\n"
    "  --service NAME     whose identity to use (default web-service)\n"
    "  --audience AUD     the audience of the token to send (default gateway)\n"
    "  --method M         GET (default), POST, PUT, DELETE\n"
    "  --data BODY        request body (sent with Content-Type: application/json)\n"
    "  --header H         an extra request header (may repeat, up to 8)\n"
    "  --print-token      print only the token for AUD and exit (no request)\n"
    "\n"
    "Identity: MESH_CERTS_DIR (uses <dir>/NAME/ and <dir>/ca.pem) or TLS_CERT_PATH,\n"
    "TLS_KEY_PATH, TLS_CA_PATH; and MESH_ISSUER_URL.\n"
    "Exit status: 0 for a 2xx answer, 1 for any other status, 2 usage, 3 no answer.\n";

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"service", required_argument, NULL, 's'}, {"audience", required_argument, NULL, 'a'},
        {"method", required_argument, NULL, 'm'},  {"data", required_argument, NULL, 'd'},
        {"header", required_argument, NULL, 'H'},  {"print-token", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *service = "web-service", *audience = "gateway", *method = "GET", *data = NULL;
    const char *headers[10] = {NULL};
    size_t nh = 0;
    int print_token = 0, ch;
    while ((ch = getopt_long(argc, argv, "s:a:m:d:H:th", longs, NULL)) != -1) {
        switch (ch) {
        case 's': service = optarg; break;
        case 'a': audience = optarg; break;
        case 'm': method = optarg; break;
        case 'd': data = optarg; break;
        case 'H':
            if (nh >= 8) {
                fprintf(stderr, PROG ": at most 8 --header options\n");
                return 2;
            }
            headers[nh++] = optarg;
            break;
        case 't': print_token = 1; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return 2;
        }
    }
    if (!print_token && optind != argc - 1) {
        fprintf(stderr, PROG ": one URL is required\n\n%s", USAGE);
        return 2;
    }
    if (data != NULL) {
        headers[nh++] = "Content-Type: application/json";
    }

    mesh_client_t *c = NULL;
    mesh_err_t rc = mesh_client_from_env(service, &c);
    if (rc != MESH_OK) {
        fprintf(stderr, PROG ": %s: %s\n", mesh_strerror(rc), mesh_err_detail());
        return 3;
    }
    int status = 3;
    if (print_token) {
        char *token = NULL;
        rc = mesh_client_token(c, audience, NULL, &token, NULL);
        if (rc == MESH_OK) {
            printf("%s\n", token);
            mesh_free(token);
            status = 0;
        }
    } else {
        mesh_response_t resp = {0};
        rc = mesh_client_request(c, method, argv[optind], audience, headers, data,
                                 data ? strlen(data) : 0, 0, &resp);
        if (rc == MESH_OK) {
            printf("HTTP %ld\n", resp.status);
            fwrite(resp.body, 1, resp.body_len, stdout);
            if (resp.body_len > 0 && resp.body[resp.body_len - 1] != '\n') {
                putchar('\n');
            }
            status = resp.status >= 200 && resp.status < 300 ? 0 : 1;
            mesh_response_clear(&resp);
        }
    }
    if (rc != MESH_OK) {
        fprintf(stderr, PROG ": %s: %s\n", mesh_strerror(rc), mesh_err_detail());
    }
    mesh_client_free(c);
    return status;
}
