/* SPDX-License-Identifier: Apache-2.0 */
/* mesh curl URL --audience A [-X M] [-H H]... [-d DATA|@FILE] [-i] [-o FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mesh/curl.h>
#include <mesh/limits.h>
#include <mesh/mesh.h>

#include "cli.h"
#include "client_env.h"

static void curl_help(void)
{
    printf("usage: mesh curl URL --audience A [-X METHOD] [-H 'Name: value']... [-d DATA|@FILE]\n"
           "                [-i] [-o FILE] [--peer-id ID] [identity]\n\n"
           "Calls a peer as this service: presents the service certificate (mTLS), trusts\n"
           "the mesh CA, and sends Authorization: Bearer <token for audience A> (fetched\n"
           "from the issuer). -X sets the method (default GET, or POST with -d), -H adds a\n"
           "header, -d sends DATA (or the contents of FILE with @FILE), -i prints the\n"
           "response headers too, -o writes the body to FILE. --peer-id ID (a SPIFFE ID,\n"
           "spiffe://mesh.local/svc-b) pins the peer: a server with another ID fails before\n"
           "the request (and the token) is sent.\n"
           "Exits 0 when the peer answered below 400, 1 for an HTTP error status or a\n"
           "failed transfer (with the reason, e.g. the TLS alert), 2 for usage errors.\n\n%s",
           CLI_CLIENT_HELP);
}

typedef struct {
    const char *url, *audience, *method, *data, *out, *peer_id;
    const char *headers[MESH_MAX_CLI_HEADERS];
    int nheaders, include;
} curl_args_t;

static int parse(int argc, char **argv, curl_args_t *a)
{
    static const struct option opts[] = {{"audience", required_argument, NULL, 'a'},
                                         {"request", required_argument, NULL, 'X'},
                                         {"header", required_argument, NULL, 'H'},
                                         {"data", required_argument, NULL, 'd'},
                                         {"include", no_argument, NULL, 'i'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"peer-id", required_argument, NULL, 'P'},
                                         CLI_CLIENT_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "ha:X:H:d:io:", opts, NULL)) != -1) {
        if (cli_client_opt(c, optarg)) {
            continue;
        }
        switch (c) {
        case 'h':
            curl_help();
            return -1;
        case 'a':
            a->audience = optarg;
            break;
        case 'X':
            a->method = optarg;
            break;
        case 'd':
            a->data = optarg;
            break;
        case 'i':
            a->include = 1;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'P':
            a->peer_id = optarg;
            break;
        case 'H':
            if (a->nheaders >= MESH_MAX_CLI_HEADERS - 1 || strchr(optarg, ':') == NULL) {
                return cli_usage_error("curl", "-H needs 'Name: value' (at most %d)",
                                       MESH_MAX_CLI_HEADERS - 1);
            }
            if (strncasecmp(optarg, "Authorization:", 14) == 0) {
                return cli_usage_error("curl", "-H Authorization would replace the mesh token; "
                                               "leave it out");
            }
            a->headers[a->nheaders++] = optarg;
            break;
        default:
            return cli_usage_error("curl", "unknown option");
        }
    }
    if (optind + 1 != argc || a->audience == NULL) {
        return cli_usage_error("curl", "give one URL and --audience");
    }
    a->url = argv[optind];
    return CLI_OK;
}

static size_t write_to(char *p, size_t size, size_t n, void *f)
{
    return fwrite(p, size, n, f);
}

int cmd_curl(int argc, char **argv)
{
    curl_args_t a = {0};
    cli_identity_t id;
    mesh_client_t *client = NULL;
    mesh_peer_pin_t *pin = NULL;
    struct curl_slist *list = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", *body = NULL;
    size_t body_len = 0;
    FILE *out = stdout;
    CURL *h = NULL;
    CURLcode cc;
    long code = 0;
    int status = parse(argc, argv, &a);
    mesh_err_t rc;

    if (status != CLI_OK) {
        return status < 0 ? CLI_OK : status;
    }
    if (a.data != NULL && a.data[0] == '@') {
        if (cli_read_input(a.data + 1, MESH_MAX_CLI_DATA, &body, &body_len) != MESH_OK) {
            return CLI_USAGE;
        }
    } else if (a.data != NULL && (body = strdup(a.data)) != NULL) {
        body_len = strlen(body);
    }
    cli_identity_resolve(&id);
    rc = cli_make_client(&id, -1, 0, &client);
    cli_identity_free(&id); /* the client holds copies */
    if (rc != MESH_OK) {
        status = cli_mesh_error("curl", rc, CLI_USAGE);
        goto out;
    }
    h = curl_easy_init();
    if (h == NULL) {
        status = cli_mesh_error("curl", MESH_ERR_NOMEM, CLI_FAIL);
        goto out;
    }
    rc = a.peer_id != NULL ? mesh_client_setup_curl_peer(client, h, a.audience, a.peer_id, &pin)
                           : mesh_client_setup_curl(client, h, a.audience);
    if (rc != MESH_OK) {
        status = cli_mesh_error("curl", rc, rc == MESH_ERR_INVALID_ARG ? CLI_USAGE : CLI_FAIL);
        goto out;
    }
    if (a.out != NULL && (out = fopen(a.out, "wb")) == NULL) {
        perror(a.out);
        status = CLI_USAGE;
        out = stdout;
        goto out;
    }
    for (int i = 0; i < a.nheaders; i++) {
        list = curl_slist_append(list, a.headers[i]);
    }
    curl_easy_setopt(h, CURLOPT_URL, a.url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_to);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_HEADER, a.include ? 1L : 0L);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    if (a.method != NULL) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, a.method);
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK && mesh_peer_pin_result(pin) != MESH_OK) {
        status = cli_mesh_error("curl", mesh_peer_pin_result(pin), CLI_FAIL);
        goto out;
    }
    if (cc != CURLE_OK) {
        fprintf(stderr, "mesh curl: %s: %s\n", a.url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        status = CLI_FAIL;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 400) {
        fprintf(stderr, "mesh curl: %s answered HTTP %ld\n", a.url, code);
    }
    status = code >= 400 ? CLI_FAIL : CLI_OK;
out:
    if (out != stdout) {
        fclose(out);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    mesh_peer_pin_free(pin);
    mesh_client_free(client);
    free(body);
    return status;
}
