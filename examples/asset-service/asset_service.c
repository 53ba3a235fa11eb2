/* SPDX-License-Identifier: Apache-2.0 */
/*
 * asset-service: a backend behind the gateway (examples/asset-service/README.md).
 *
 * It requires mTLS and answers JSON naming who called. Two callers are served:
 * - a service with a token for audience "asset-service" (bound to its certificate), verified
 *   with mesh_verify(); when that token's subject is the trusted forwarder (the example C
 *   gateway), its X-Mesh-Subject / X-Mesh-Scope headers name the original caller;
 * - the trusted proxy (nginx with mesh-authz deciding) without a token: its TLS client
 *   certificate (chain checked against the mesh CA in the handshake) carries the trusted
 *   forwarder's SPIFFE ID, and mesh-authz already verified the caller, so its X-Mesh-Subject /
 *   X-Mesh-Scopes headers are believed (nginx sets them, replacing client copies).
 * From anyone else those headers are ignored.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <mesh/jansson.h>

#include <mesh/mesh.h>
#include <mesh/x509.h>

#include "../common/https_server.h"
#include "../common/service_env.h"

#define PROG     "asset-service"
#define AUDIENCE "asset-service"

static const char USAGE[] =
    "usage: asset-service [--listen HOST:PORT] [--port-file FILE]\n"
    "                     [--trust-forwarder SPIFFE-ID] [--help]\n"
    "\n"
    "A backend that requires mTLS and a mesh token for audience asset-service, and answers\n"
    "JSON naming the caller: the original subject forwarded by a trusted gateway, and the\n"
    "verified identity of the service that called it. The trusted forwarder may also call\n"
    "without a token (nginx with mesh-authz deciding): then its certificate's SPIFFE ID\n"
    "must be the forwarder's, and its X-Mesh-Subject / X-Mesh-Scopes name the caller.\n"
    "\n"
    "  --listen HOST:PORT          where to listen (default 127.0.0.1:9443); port 0 picks a\n"
    "                              free port\n"
    "  --port-file FILE            write the bound port to FILE once listening\n"
    "  --trust-forwarder ID        whose X-Mesh-Subject to believe: a token's subject or,\n"
    "                              without a token, the client certificate's SPIFFE ID\n"
    "                              (default spiffe://mesh.local/gateway)\n"
    "\n"
    "Identity: MESH_CERTS_DIR (uses <dir>/asset-service/ and <dir>/ca.pem) or TLS_CERT_PATH,\n"
    "TLS_KEY_PATH, TLS_CA_PATH; and MESH_ISSUER_URL.\n"
    "SIGINT or SIGTERM stops it. Exit status: 0 stopped by a signal, 1 could not start or\n"
    "serve (keys, issuer, listen address), 2 usage or incomplete identity environment.\n";

typedef struct {
    mesh_verifier_t *verifier;
    const char *forwarder;
    https_server_t *srv; /* for its rate-limited refusal log */
} asset_service_t;

static void reply(struct evhttp_request *req, int status, const char *reason, json_t *j,
                  const char *www)
{
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    https_reply_json(req, status, reason, body ? body : "{}", "WWW-Authenticate", www);
    free(body);
    json_decref(j);
}

static void reply_asset(struct evhttp_request *req, const char *path, const char *caller,
                        const char *caller_scope, const char *via)
{
    const char *last = strrchr(path, '/');
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "service", PROG, "method",
                          https_method_name(req), "path", path, "caller", caller, "caller_scope",
                          caller_scope, "via", via, "asset", "id",
                          last && last[1] ? last + 1 : "all", "name", "demo asset");
    reply(req, 200, "OK", j, NULL);
}

/*
 * A request without a token from the trusted proxy (nginx + mesh-authz). The handshake
 * already checked the certificate's chain against the mesh CA (EKU clientAuth); here its one
 * SPIFFE ID must be the trusted forwarder's. Returns false when the peer is someone else
 * (then the request is treated as any other: it needs a token).
 */
static bool serve_from_proxy(asset_service_t *a, struct evhttp_request *req, const char *path,
                             const uint8_t *der, size_t len)
{
    char *spiffe = NULL;
    if (der == NULL || mesh_x509_spiffe_id(der, len, &spiffe) != MESH_OK) {
        return false;
    }
    bool trusted = strcmp(spiffe, a->forwarder) == 0; /* an identity, not a secret */
    mesh_free(spiffe);
    if (!trusted) {
        return false;
    }
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *s = evhttp_find_header(in, "X-Mesh-Subject");
    const char *sc = evhttp_find_header(in, "X-Mesh-Scopes");
    if (s == NULL || s[0] == '\0') {
        /* mesh-authz allowed it as public (no identity): nothing here is public but /healthz */
        https_server_log_refusal(a->srv, "401 %s: the proxy forwarded no X-Mesh-Subject", path);
        reply(req, 401, "Unauthorized",
              json_pack("{s:s, s:s}", "error", "invalid_token", "error_description",
                        "the proxy forwarded no verified identity (X-Mesh-Subject)"),
              "Bearer realm=\"mesh\"");
        return true;
    }
    reply_asset(req, path, s, sc ? sc : "", a->forwarder);
    return true;
}

static void handle(struct evhttp_request *req, void *arg)
{
    asset_service_t *a = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u && evhttp_uri_get_path(u) ? evhttp_uri_get_path(u) : "/";
    if (strcmp(path, "/healthz") == 0) {
        https_reply_json(req, 200, "OK", "{\"status\":\"ok\"}", NULL, NULL);
        return;
    }
    /* Reads need assets:read, everything else assets:write. */
    const char *scope =
        (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) ? "assets:read" : "assets:write";
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    uint8_t *der = NULL;
    size_t len = 0;
    (void)https_peer_cert_der(req, &der, &len);
    /* mesh-authz decided (its routes hold the scopes); nginx sends no token upstream */
    if (evhttp_find_header(in, "Authorization") == NULL &&
        serve_from_proxy(a, req, path, der, len)) {
        free(der);
        return;
    }
    mesh_identity_t *id = NULL;
    mesh_err_t rc =
        mesh_verify(a->verifier, evhttp_find_header(in, "Authorization"), der, len, scope, &id);
    free(der);
    if (rc != MESH_OK) {
        char www[512];
        int status = mesh_verify_http_status(rc, scope, www, sizeof(www));
        https_server_log_refusal(a->srv, "%d %s: %s (%s)", status, path, mesh_err_name(rc),
                                 mesh_err_detail());
        reply(req, status, status == 403 ? "Forbidden" : "Unauthorized",
              json_pack("{s:s, s:s}", "error",
                        status == 403 ? "insufficient_scope" : "invalid_token", "error_description",
                        mesh_err_name(rc)),
              www);
        return;
    }
    const char *via = mesh_identity_subject(id);
    const char *caller = via, *caller_scope = mesh_identity_scopes(id);
    if (strcmp(via, a->forwarder) == 0) {
        /* The gateway verified the original caller and replaced any client-sent copies. */
        const char *s = evhttp_find_header(in, "X-Mesh-Subject");
        const char *sc = evhttp_find_header(in, "X-Mesh-Scope");
        if (s != NULL) {
            caller = s;
            caller_scope = sc ? sc : "";
        }
    }
    reply_asset(req, path, caller, caller_scope, via);
    mesh_identity_free(id);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"listen", required_argument, NULL, 'l'},
                                          {"port-file", required_argument, NULL, 'p'},
                                          {"trust-forwarder", required_argument, NULL, 't'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    const char *listen = "127.0.0.1:9443", *port_file = NULL;
    asset_service_t a = {.forwarder = "spiffe://mesh.local/gateway"};
    int ch;
    while ((ch = getopt_long(argc, argv, "l:p:t:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'l':
            listen = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 't':
            a.forwarder = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
        }
    }
    service_env_t env;
    if (!service_env_load(PROG, PROG, &env)) {
        return 2;
    }
    mesh_verifier_opts_t *vo = NULL;
    mesh_err_t rc = mesh_verifier_opts_new(&vo);
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_issuer(vo, env.issuer);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_audience(vo, AUDIENCE);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_ca_path(vo, env.ca);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_client_cert(vo, env.cert, env.key);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_new(vo, &a.verifier);
    }
    mesh_verifier_opts_free(vo);
    if (rc != MESH_OK) {
        fprintf(stderr, PROG ": %s: %s\n", mesh_strerror(rc), mesh_err_detail());
        return 1;
    }
    https_server_opts_t so = {.listen = listen,
                              .cert_path = env.cert,
                              .key_path = env.key,
                              .ca_path = env.ca,
                              .require_client_cert = true,
                              .port_file = port_file,
                              .name = PROG};
    int status = 1;
    a.srv = https_server_new(&so, handle, &a);
    if (a.srv != NULL) {
        status = https_server_run(a.srv);
        https_server_free(a.srv);
    }
    mesh_verifier_free(a.verifier);
    return status;
}
