/* SPDX-License-Identifier: Apache-2.0 */
/*
 * caller: a tiny client service (web-service by default) that calls a peer through the mesh
 * client: its certificate for mTLS, and a token for the peer's audience from mesh-issuer,
 * cached and refreshed by libmesh. See examples/caller/README.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mesh/mesh.h>

#define PROG "caller"

static const char USAGE[] =
    "usage: caller [--service NAME] [--audience AUD] [--method M] [--data BODY]\n"
    "              [--header 'Name: value'] [--print-token]\n"
    "              [--repeat N [--interval-ms MS] [--stop-file FILE]] URL\n"
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
    "  --repeat N         make N requests with the same client (token cache), printing one\n"
    "                     'N STATUS' line each and a summary; exit 0 only if all were 2xx\n"
    "  --interval-ms MS   pause between repeated requests (default 200)\n"
    "  --stop-file FILE   with --repeat: stop early once FILE exists\n"
    "\n"
    "Identity: MESH_CERTS_DIR (uses <dir>/NAME/ and <dir>/ca.pem) or TLS_CERT_PATH,\n"
    "TLS_KEY_PATH, TLS_CA_PATH; and MESH_ISSUER_URL.\n"
    "Exit status: 0 for a 2xx answer, 1 for any other status, 2 usage, 3 no answer.\n";

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

/* The request to send, built once: method, URL, audience, headers and body. */
static mesh_err_t build_request(const char *method, const char *url, const char *aud,
                                const char *const *headers, const char *data, mesh_request_t **out)
{
    mesh_request_t *req = NULL;
    mesh_err_t rc = mesh_request_new(method, url, &req);

    if (rc == MESH_OK) {
        rc = mesh_request_set_audience(req, aud);
    }
    for (size_t i = 0; rc == MESH_OK && headers[i] != NULL; i++) {
        rc = mesh_request_add_header(req, headers[i]);
    }
    if (rc == MESH_OK && data != NULL) {
        rc = mesh_request_set_body(req, data, strlen(data));
    }
    if (rc != MESH_OK) {
        mesh_request_free(req);
        return rc;
    }
    *out = req;
    return MESH_OK;
}

/*
 * Many requests through one client: the token is fetched once and refreshed in the
 * background, connections are reused. Used by the end-to-end tests as steady traffic.
 */
static int run_repeat(mesh_client_t *c, const mesh_request_t *req, long n, long interval_ms,
                      const char *stop_file)
{
    long ok = 0, failed = 0, i;
    for (i = 0; i < n; i++) {
        if (stop_file != NULL && access(stop_file, F_OK) == 0) {
            break;
        }
        mesh_response_t *resp = NULL;
        mesh_err_t rc = mesh_client_request(c, req, &resp);
        if (rc != MESH_OK) {
            printf("%ld error %s: %s\n", i + 1, mesh_err_name(rc), mesh_err_detail());
            failed++;
        } else {
            long status = mesh_response_status(resp);
            printf("%ld %ld\n", i + 1, status);
            if (status >= 200 && status < 300) {
                ok++;
            } else {
                failed++;
            }
            mesh_response_free(resp);
        }
        fflush(stdout);
        struct timespec ts = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("requests: %ld, ok: %ld, failed: %ld\n", i, ok, failed);
    return failed == 0 && i > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"service", required_argument, NULL, 's'},
                                          {"audience", required_argument, NULL, 'a'},
                                          {"method", required_argument, NULL, 'm'},
                                          {"data", required_argument, NULL, 'd'},
                                          {"header", required_argument, NULL, 'H'},
                                          {"print-token", no_argument, NULL, 't'},
                                          {"repeat", required_argument, NULL, 'r'},
                                          {"interval-ms", required_argument, NULL, 'i'},
                                          {"stop-file", required_argument, NULL, 'S'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    long repeat = 0, interval_ms = 200;
    const char *stop_file = NULL;
    const char *service = "web-service", *audience = "gateway", *method = "GET", *data = NULL;
    const char *headers[10] = {NULL};
    size_t nh = 0;
    int print_token = 0, ch;
    while ((ch = getopt_long(argc, argv, "s:a:m:d:H:th", longs, NULL)) != -1) {
        switch (ch) {
        case 's':
            service = optarg;
            break;
        case 'a':
            audience = optarg;
            break;
        case 'm':
            method = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'H':
            if (nh >= 8) {
                fprintf(stderr, PROG ": at most 8 --header options\n");
                return 2;
            }
            headers[nh++] = optarg;
            break;
        case 't':
            print_token = 1;
            break;
        case 'r':
            if (!parse_long(optarg, 1, 1000000, &repeat)) {
                fprintf(stderr, PROG ": --repeat '%s' must be 1..1000000\n", optarg);
                return 2;
            }
            break;
        case 'i':
            if (!parse_long(optarg, 0, 60000, &interval_ms)) {
                fprintf(stderr, PROG ": --interval-ms '%s' must be 0..60000\n", optarg);
                return 2;
            }
            break;
        case 'S':
            stop_file = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
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
        mesh_request_t *req = NULL;
        mesh_response_t *resp = NULL;
        rc = build_request(method, argv[optind], audience, headers, data, &req);
        if (rc == MESH_OK && repeat > 0) {
            status = run_repeat(c, req, repeat, interval_ms, stop_file);
        } else if (rc == MESH_OK && (rc = mesh_client_request(c, req, &resp)) == MESH_OK) {
            const char *body = mesh_response_body(resp);
            size_t len = mesh_response_body_len(resp);
            long code = mesh_response_status(resp);
            printf("HTTP %ld\n", code);
            fwrite(body, 1, len, stdout);
            if (len > 0 && body[len - 1] != '\n') {
                putchar('\n');
            }
            status = code >= 200 && code < 300 ? 0 : 1;
            mesh_response_free(resp);
        }
        mesh_request_free(req);
    }
    if (rc != MESH_OK) {
        fprintf(stderr, PROG ": %s: %s\n", mesh_strerror(rc), mesh_err_detail());
    }
    mesh_client_free(c);
    return status;
}
