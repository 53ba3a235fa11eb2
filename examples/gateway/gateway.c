/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gateway: an example of linking libmesh directly (examples/gateway/README.md). It is NOT
 * the pattern to deploy: put nginx, Envoy or Traefik in front with mesh-authz deciding
 * (docs/AUTHZ.md; ./dev demo does). This program shows, in one file, what a server that
 * verifies in-process does with the verifier and the client.
 *
 * Every request: find the route, verify the bearer token with the libmesh verifier
 * (signature, claims, audience "gateway", revocation, binding to the TLS client certificate,
 * the route's scope), then forward it to the backend as the gateway itself (its own
 * certificate and a token for audience "asset-service"), with the client's identity headers
 * replaced by X-Mesh-Subject / X-Mesh-Scope.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <mesh/jansson.h>

#include <mesh/mesh.h>

#include "../common/https_server.h"
#include "../common/service_env.h"
#include "routes.h"

#define PROG             "gateway"
#define AUDIENCE         "gateway"
#define BACKEND_AUDIENCE "asset-service"

static const char USAGE[] =
    "usage: gateway [--listen HOST:PORT] --backend https://HOST:PORT [--port-file FILE]\n"
    "               [--revocation-poll-ms N] [--binding POLICY] [--help]\n"
    "\n"
    "An HTTPS gateway that requires mTLS and a certificate-bound mesh token on every route\n"
    "(service tokens without a certificate only on /ci/), and forwards verified requests to\n"
    "the backend (asset-service) with its own certificate and token.\n"
    "\n"
    "  --listen HOST:PORT       where to listen (default 127.0.0.1:9000); port 0 picks a\n"
    "                           free port\n"
    "  --backend URL            the backend's base URL, e.g. https://127.0.0.1:9443\n"
    "  --port-file FILE         write the bound port to FILE once listening\n"
    "  --revocation-poll-ms N   how often to poll the issuer's revocation feed (default 10000)\n"
    "  --binding POLICY         the certificate-binding policy (default from routes.c:\n"
    "                           unbound-for:svc-token:ci); unbound tokens are accepted\n"
    "                           only on service-token routes (/ci/)\n"
    "\n"
    "Identity (as every mesh service): MESH_CERTS_DIR (uses <dir>/gateway/ and <dir>/ca.pem)\n"
    "or TLS_CERT_PATH, TLS_KEY_PATH, TLS_CA_PATH; and MESH_ISSUER_URL.\n"
    "SIGINT or SIGTERM stops it. Exit status: 0 stopped by a signal, 1 could not start or\n"
    "serve (keys, issuer, listen address), 2 usage or incomplete identity environment.\n";

typedef struct {
    mesh_verifier_t *verifier; /* binding policy ROUTE_BINDING: unbound only for CI tokens */
    mesh_client_t *client;     /* the gateway's own identity towards the backend */
    const char *backend;
    https_server_t *srv; /* for its rate-limited refusal log */
} gateway_t;

/* Client headers passed on to the backend; everything else (Authorization, X-Mesh-*,
 * Forwarded, ...) is dropped, so a caller cannot claim an identity. */
static const char *const FORWARD_HEADERS[] = {"Content-Type", "Accept", "User-Agent",
                                              "X-Request-Id", NULL};

static void reply_error(struct evhttp_request *req, int status, const char *error,
                        const char *description, const char *www)
{
    json_t *j = json_pack("{s:s, s:s}", "error", error, "error_description", description);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    const char *reason = status == 401   ? "Unauthorized"
                         : status == 403 ? "Forbidden"
                         : status == 404 ? "Not Found"
                         : status == 400 ? "Bad Request"
                         : status == 502 ? "Bad Gateway"
                         : status == 503 ? "Service Unavailable"
                                         : "Error";
    if (status == 503) {
        https_reply_json(req, status, reason, body ? body : "{}", "Retry-After", "5");
    } else {
        https_reply_json(req, status, reason, body ? body : "{}", "WWW-Authenticate", www);
    }
    free(body);
    json_decref(j);
}

/* The JSON body's "error", matching the WWW-Authenticate error (RFC 6750 §3.1). */
static const char *error_code(int status, mesh_err_t rc)
{
    switch (status) {
    case 400:
        return "invalid_request";
    case 403:
        return "insufficient_scope";
    case 503:
        return "temporarily_unavailable";
    case 401:
        return rc == MESH_ERR_NO_TOKEN ? "unauthorized" : "invalid_token";
    default:
        return "server_error";
    }
}

/* The one Authorization header, or NULL; *count says how many there were. */
static const char *authorization(struct evhttp_request *req, int *count)
{
    const char *value = NULL;
    struct evkeyval *h;
    *count = 0;
    TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next)
    {
        if (evutil_ascii_strcasecmp(h->key, "Authorization") == 0) {
            value = h->value;
            (*count)++;
        }
    }
    return value;
}

/*
 * One verifier, one binding policy (routes.c ROUTE_BINDING): every token is bound to the
 * client certificate, except tokens of the listed service tokens (CI pipelines, which never
 * hold a certificate). Those unbound identities open only service_tokens routes; the scope
 * is checked after, so an unbound token elsewhere is cnf_missing (401), as a token without
 * its certificate is.
 */
static mesh_err_t verify(gateway_t *g, const route_t *r, const char *auth, const uint8_t *der,
                         size_t len, mesh_identity_t **id)
{
    mesh_err_t rc = mesh_verify(g->verifier, auth, der, len, NULL, id);
    if (rc != MESH_OK) {
        return rc;
    }
    if (!mesh_identity_bound(*id) && !r->service_tokens) {
        rc = mesh_err_set(MESH_ERR_CNF_MISSING,
                          "an unbound token (sub %s) on a route that "
                          "needs a certificate-bound one",
                          mesh_identity_subject(*id));
    } else if (r->scope != NULL && !mesh_identity_has_scope(*id, r->scope)) {
        rc = mesh_err_set(MESH_ERR_SCOPE, "token lacks scope \"%s\" (has \"%s\")", r->scope,
                          mesh_identity_scopes(*id));
    }
    if (rc != MESH_OK) {
        mesh_identity_free(*id);
        *id = NULL;
    }
    return rc;
}

/* The verifier: audience "gateway", the identity's files, the route file's binding policy. */
static mesh_err_t verifier_new(const service_env_t *env, long poll_ms, const char *binding,
                               mesh_verifier_t **out)
{
    mesh_verifier_opts_t *vo = NULL;
    mesh_err_t rc = mesh_verifier_opts_new(&vo);
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_issuer(vo, env->issuer);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_audience(vo, AUDIENCE);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_ca_path(vo, env->ca);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_client_cert(vo, env->cert, env->key);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_revocation_poll_ms(vo, poll_ms);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_binding(vo, binding);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_new(vo, out);
    }
    mesh_verifier_opts_free(vo);
    return rc;
}

/* Builds the header list for the backend: the allowed client headers plus our own. */
static size_t forward_headers(struct evhttp_request *req, const mesh_identity_t *id,
                              char lines[][1024], const char **out, size_t cap)
{
    size_t n = 0;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    for (size_t i = 0; FORWARD_HEADERS[i] != NULL && n + 4 < cap; i++) {
        const char *v = evhttp_find_header(in, FORWARD_HEADERS[i]);
        if (v != NULL && strpbrk(v, "\r\n") == NULL &&
            snprintf(lines[n], 1024, "%s: %s", FORWARD_HEADERS[i], v) < 1024) {
            out[n] = lines[n];
            n++;
        }
    }
    snprintf(lines[n], 1024, "X-Mesh-Subject: %s", mesh_identity_subject(id));
    out[n] = lines[n];
    n++;
    snprintf(lines[n], 1024, "X-Mesh-Scope: %s", mesh_identity_scopes(id));
    out[n] = lines[n];
    n++;
    snprintf(lines[n], 1024, "X-Mesh-Client-Id: %s", mesh_identity_client_id(id));
    out[n] = lines[n];
    n++;
    out[n] = NULL;
    return n;
}

/* The backend's Content-Type, if it sent one, from the raw header block. */
static void copy_content_type(const mesh_response_t *resp, struct evkeyvalq *out)
{
    const char *p = mesh_response_headers(resp, NULL);
    while (p != NULL && *p != '\0') {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > 13 && len < 256 && evutil_ascii_strncasecmp(p, "Content-Type:", 13) == 0) {
            char v[256];
            const char *s = p + 13;
            while (*s == ' ' || *s == '\t') {
                s++;
            }
            size_t vl = len - (size_t)(s - p);
            memcpy(v, s, vl);
            v[vl] = '\0';
            evhttp_remove_header(out, "Content-Type");
            evhttp_add_header(out, "Content-Type", v);
        }
        p = eol ? eol + 2 : NULL;
    }
}

static void forward(gateway_t *g, struct evhttp_request *req, const mesh_identity_t *id)
{
    const char *method = https_method_name(req);
    const char *uri = evhttp_request_get_uri(req);
    char url[8192];
    if (snprintf(url, sizeof(url), "%s%s", g->backend, uri) >= (int)sizeof(url)) {
        reply_error(req, 400, "invalid_request", "request URI too long", NULL);
        return;
    }
    char lines[8][1024];
    const char *hdrs[9];
    forward_headers(req, id, lines, hdrs, 8);

    mesh_buf_t *body = NULL;
    mesh_err_t brc = https_request_body(req, &body);
    if (brc != MESH_OK) {
        reply_error(req, brc == MESH_ERR_LIMIT ? 413 : 500,
                    brc == MESH_ERR_LIMIT ? "invalid_request" : "server_error",
                    brc == MESH_ERR_LIMIT ? "request body too large" : "out of memory", NULL);
        return;
    }
    size_t blen = mesh_buf_len(body);

    mesh_request_t *breq = NULL;
    mesh_response_t *resp = NULL;
    mesh_err_t rc = mesh_request_new(method, url, &breq);
    if (rc == MESH_OK) {
        rc = mesh_request_set_audience(breq, BACKEND_AUDIENCE);
    }
    for (size_t i = 0; rc == MESH_OK && hdrs[i] != NULL; i++) {
        rc = mesh_request_add_header(breq, hdrs[i]);
    }
    if (rc == MESH_OK) {
        rc = mesh_request_set_body(breq, blen ? mesh_buf_data(body) : NULL, blen);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_request(g->client, breq, &resp);
    }
    mesh_request_free(breq);
    mesh_buf_free(body);
    if (rc != MESH_OK) {
        https_server_log_refusal(g->srv, "backend %s %s failed: %s (%s)", method, url,
                                 mesh_err_name(rc), mesh_err_detail());
        reply_error(req, 502, "bad_gateway", "the backend could not be reached", NULL);
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "application/octet-stream");
    copy_content_type(resp, out);
    evhttp_add_header(out, "Cache-Control", "no-store");
    struct evbuffer *rb = evbuffer_new();
    if (rb != NULL) {
        evbuffer_add(rb, mesh_response_body(resp), mesh_response_body_len(resp));
    }
    long status = mesh_response_status(resp);
    evhttp_send_reply(req, (int)status, status < 400 ? "OK" : "Backend error", rb);
    if (rb != NULL) {
        evbuffer_free(rb);
    }
    mesh_response_free(resp);
}

static void handle(struct evhttp_request *req, void *arg)
{
    gateway_t *g = arg;
    const char *method = https_method_name(req);
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;

    if (path != NULL && strcmp(path, "/healthz") == 0) {
        https_reply_json(req, 200, "OK", "{\"status\":\"ok\"}", NULL, NULL);
        return;
    }
    const route_t *r = route_find(method, path);
    if (r == NULL) {
        reply_error(req, 404, "not_found",
                    "no route: GET /assets[/ID] (assets:read), POST|PUT|DELETE /assets "
                    "(assets:write), /ci/... (ci:deploy)",
                    NULL);
        return;
    }
    int count;
    const char *auth = authorization(req, &count);
    uint8_t *der = NULL;
    size_t len = 0;
    (void)https_peer_cert_der(req, &der, &len);

    mesh_identity_t *id = NULL;
    mesh_err_t rc = count > 1 ? MESH_ERR_TWO_CREDENTIALS : verify(g, r, auth, der, len, &id);
    free(der);
    if (rc != MESH_OK) {
        char www[512];
        int status = mesh_verify_http_status(rc, r->scope, www, sizeof(www));
        /* The precise reason stays in our log (rate-limited: a flood of bad tokens costs a
         * few lines a second); the peer gets the coarse code. */
        https_server_log_refusal(g->srv, "%d %s %s: %s (%s)", status, method, path,
                                 mesh_err_name(rc), mesh_err_detail());
        reply_error(req, status, error_code(status, rc), mesh_err_name(rc), www);
        return;
    }
    forward(g, req, id);
    mesh_identity_free(id);
}

static long parse_ms(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (errno != 0 || *end != '\0' || end == s || v < 100 || v > 3600000) ? -1 : v;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"listen", required_argument, NULL, 'l'},
                                          {"backend", required_argument, NULL, 'b'},
                                          {"port-file", required_argument, NULL, 'p'},
                                          {"revocation-poll-ms", required_argument, NULL, 'r'},
                                          {"binding", required_argument, NULL, 'B'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    const char *listen = "127.0.0.1:9000", *backend = NULL, *port_file = NULL;
    const char *binding = ROUTE_BINDING;
    long poll_ms = 10000;
    int ch;
    while ((ch = getopt_long(argc, argv, "l:b:p:r:B:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'l':
            listen = optarg;
            break;
        case 'b':
            backend = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'r':
            if ((poll_ms = parse_ms(optarg)) < 0) {
                fprintf(stderr, PROG ": --revocation-poll-ms '%s' must be 100..3600000\n", optarg);
                return 2;
            }
            break;
        case 'B':
            binding = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
        }
    }
    if (backend == NULL || strncmp(backend, "https://", 8) != 0) {
        fprintf(stderr, PROG ": --backend https://HOST:PORT is required\n\n%s", USAGE);
        return 2;
    }
    service_env_t env;
    if (!service_env_load(PROG, "gateway", &env)) {
        return 2;
    }

    gateway_t g = {.backend = backend};
    mesh_err_t rc = verifier_new(&env, poll_ms, binding, &g.verifier);
    if (rc == MESH_OK) {
        rc = mesh_client_from_env("gateway", &g.client);
    }
    int status = 1;
    if (rc != MESH_OK) {
        fprintf(stderr, PROG ": %s: %s\n", mesh_strerror(rc), mesh_err_detail());
        goto out;
    }
    https_server_opts_t so = {.listen = listen,
                              .cert_path = env.cert,
                              .key_path = env.key,
                              .ca_path = env.ca,
                              .require_client_cert = false, /* routes decide: see routes.c */
                              .port_file = port_file,
                              .name = PROG};
    g.srv = https_server_new(&so, handle, &g);
    if (g.srv != NULL) {
        status = https_server_run(g.srv);
        https_server_free(g.srv);
    }
out:
    mesh_client_free(g.client);
    mesh_verifier_free(g.verifier);
    return status;
}
