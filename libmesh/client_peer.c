/* SPDX-License-Identifier: Apache-2.0 */
/* Calling peers through a client, and building a client from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/curl.h>
#include <mesh/util.h>

#include "client_internal.h"
#include "secret.h"
#include "internal.h"
#include "x509_internal.h"

#define DEFAULT_MAX_BODY (16 * 1024 * 1024)

static void free_token(char *t)
{
    if (t != NULL) {
        mesh_wipe(t, strlen(t));
        mesh_free(t);
    }
}

MESH_EXPORT mesh_err_t mesh_client_setup_curl(mesh_client_t *c, CURL *handle,
                                              const char *audience)
{
    char *token = NULL;
    mesh_err_t rc;

    if (c == NULL || handle == NULL) {
        mesh_err_clear();
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_client_setup_curl: client and handle "
                            "are required");
    }
    rc = mesh_client_token(c, audience, NULL, &token, NULL);
    if (rc != MESH_OK) {
        return rc;
    }
    rc = mesh_http_setup_handle(c->http, handle, token);
    free_token(token);
    return rc;
}

static mesh_err_t check_peer_id(const char *fn, const char *peer_id)
{
    if (peer_id != NULL && !mesh_spiffe_id_valid(peer_id)) {
        mesh_err_clear();
        return mesh_err_set(MESH_ERR_INVALID_ARG, "%s: peer ID \"%s\" is not a SPIFFE ID "
                            "(spiffe://trust-domain/service)", fn, peer_id);
    }
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_setup_curl_peer(mesh_client_t *c, CURL *handle,
                                                   const char *audience, const char *peer_id,
                                                   mesh_peer_pin_t **pin)
{
    mesh_peer_pin_t *p = NULL;
    mesh_err_t rc;

    if (c == NULL || handle == NULL || peer_id == NULL || pin == NULL) {
        mesh_err_clear();
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_client_setup_curl_peer: client, "
                            "handle, peer_id and pin are required");
    }
    if ((rc = check_peer_id("mesh_client_setup_curl_peer", peer_id)) != MESH_OK) {
        return rc;
    }
    /* The pin goes on before the bearer, so the token is never on an unpinned handle. */
    rc = mesh_http_pin_handle(handle, peer_id, &p);
    if (rc == MESH_OK) {
        rc = mesh_client_setup_curl(c, handle, audience);
    }
    if (rc != MESH_OK) {
        if (p != NULL) {
            curl_easy_setopt(handle, CURLOPT_PREREQFUNCTION, NULL);
            curl_easy_setopt(handle, CURLOPT_PREREQDATA, NULL);
        }
        mesh_http_pin_free(p);
        return rc;
    }
    *pin = p;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_peer_pin_result(const mesh_peer_pin_t *pin)
{
    return mesh_http_pin_result(pin);
}

MESH_EXPORT void mesh_peer_pin_free(mesh_peer_pin_t *pin)
{
    mesh_http_pin_free(pin);
}

MESH_EXPORT void mesh_response_clear(mesh_response_t *r)
{
    if (r == NULL) {
        return;
    }
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

MESH_EXPORT mesh_err_t mesh_client_request(mesh_client_t *c, const char *method,
                                           const char *url, const char *audience,
                                           const char *const *headers, const void *body,
                                           size_t body_len, size_t max_body,
                                           mesh_response_t *resp)
{
    return mesh_client_request_peer(c, NULL, method, url, audience, headers, body, body_len,
                                    max_body, resp);
}

MESH_EXPORT mesh_err_t mesh_client_request_peer(mesh_client_t *c, const char *peer_id,
                                                const char *method, const char *url,
                                                const char *audience,
                                                const char *const *headers, const void *body,
                                                size_t body_len, size_t max_body,
                                                mesh_response_t *resp)
{
    mesh_http_req_t req = {0};
    mesh_http_resp_t r = {0};
    char *token = NULL;
    mesh_err_t rc;

    if (c == NULL || url == NULL || resp == NULL) {
        mesh_err_clear();
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_client_request: client, url and resp "
                            "are required");
    }
    if ((rc = check_peer_id("mesh_client_request_peer", peer_id)) != MESH_OK) {
        return rc;
    }
    rc = mesh_client_token(c, audience, NULL, &token, NULL);
    if (rc != MESH_OK) {
        return rc;
    }
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body_len;
    req.max_body = max_body != 0 ? max_body : DEFAULT_MAX_BODY;
    req.bearer = token;
    req.with_cert = true;
    req.peer_id = peer_id;
    rc = mesh_http_do(c->http, &req, &r);
    free_token(token);
    if (rc != MESH_OK) {
        return rc;
    }
    resp->status = r.status;
    resp->headers = r.headers;
    resp->headers_len = r.headers_len;
    resp->body = r.body;
    resp->body_len = r.body_len;
    resp->new_connections = r.new_connections;
    return MESH_OK;
}

/* ---- configuration from the environment ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

MESH_EXPORT mesh_err_t mesh_client_from_env(const char *service_name, mesh_client_t **out)
{
    mesh_client_opts_t o;
    char *cert = NULL, *key = NULL, *ca = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    mesh_client_opts_init(&o);
    o.issuer_url = env("MESH_ISSUER_URL");
    o.client_id = env("MESH_CLIENT_ID");
    o.client_secret = env("MESH_CLIENT_SECRET");
    o.issuer_id = env("MESH_ISSUER_ID");
    if (o.issuer_url == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "MESH_ISSUER_URL is not set (the issuer's https "
                            "URL, e.g. https://127.0.0.1:8443)");
    }
    if ((o.client_id == NULL) != (o.client_secret == NULL)) {
        return mesh_err_set(MESH_ERR_CONFIG, "%s is not set (a service token needs both)",
                            o.client_id == NULL ? "MESH_CLIENT_ID" : "MESH_CLIENT_SECRET");
    }
    /* Service-token mode: the id and secret instead of the certificate (only the CA). */
    rc = o.client_id != NULL ? mesh_env_identity(service_name, NULL, NULL, &ca)
                             : mesh_env_identity(service_name, &cert, &key, &ca);
    if (rc == MESH_OK) {
        o.cert_path = cert;
        o.key_path = key;
        o.ca_path = ca;
        rc = mesh_client_new(&o, out);
    }
    mesh_free(cert);
    mesh_free(key);
    mesh_free(ca);
    return rc;
}
