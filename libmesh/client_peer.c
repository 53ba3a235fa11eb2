/* SPDX-License-Identifier: Apache-2.0 */
/* Calling peers through a client, and building a client from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mesh/curl.h>
#include <mesh/limits.h>
#include <mesh/util.h>

#include "client_internal.h"
#include "internal.h"
#include "x509_internal.h"

static void free_token(char *t)
{
    if (t != NULL) {
        mesh_wipe(t, strlen(t));
        mesh_free(t);
    }
}

MESH_EXPORT mesh_err_t mesh_client_setup_curl(mesh_client_t *c, CURL *handle, const char *audience)
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
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "%s: peer ID \"%s\" is not a SPIFFE ID "
                            "(spiffe://trust-domain/service)",
                            fn, peer_id);
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

/* ---- requests ---- */

struct mesh_request {
    char *method; /* NULL: GET, or POST with a body (http.c) */
    char *url, *audience, *peer_id;
    char *headers[MESH_MAX_HEADER_COUNT + 1]; /* NULL-terminated */
    size_t nheaders;
    void *body;
    size_t body_len, max_body;
};

/* An HTTP method is an RFC 9110 token; letters are all the methods anyone uses. */
static bool method_valid(const char *m)
{
    size_t n = strlen(m);

    if (n == 0 || n > 16) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= 'a' && m[i] <= 'z'))) {
            return false;
        }
    }
    return true;
}

MESH_EXPORT mesh_err_t mesh_request_new(const char *method, const char *url, mesh_request_t **out)
{
    mesh_request_t *r;

    mesh_err_clear();
    if (url == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_request_new: url and out are required");
    }
    if (method != NULL && !method_valid(method)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "mesh_request_new: method \"%.32s\" is not "
                            "an HTTP method (letters only)",
                            method);
    }
    if (strpbrk(url, "\r\n ") != NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_request_new: the URL holds a space or "
                                                  "a line break");
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->url = strdup(url)) == NULL ||
        (method != NULL && (r->method = strdup(method)) == NULL)) {
        mesh_request_free(r);
        return mesh_err_set(MESH_ERR_NOMEM, "request");
    }
    *out = r;
    return MESH_OK;
}

MESH_EXPORT void mesh_request_free(mesh_request_t *req)
{
    if (req == NULL) {
        return;
    }
    free(req->method);
    free(req->url);
    free(req->audience);
    free(req->peer_id);
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i]);
    }
    free(req->body);
    free(req);
}

static mesh_err_t replace(char **slot, const char *v, const char *what)
{
    char *copy = NULL;

    if (v != NULL && (copy = strdup(v)) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "request %s", what);
    }
    free(*slot);
    *slot = copy;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_request_set_audience(mesh_request_t *req, const char *audience)
{
    mesh_err_clear();
    if (req == NULL || (audience != NULL && audience[0] == '\0')) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "mesh_request_set_audience: a request and a "
                            "non-empty audience (or NULL for none) are required");
    }
    return replace(&req->audience, audience, "audience");
}

MESH_EXPORT mesh_err_t mesh_request_add_header(mesh_request_t *req, const char *header)
{
    const char *colon;

    mesh_err_clear();
    if (req == NULL || header == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_request_add_header: request and header "
                                                  "are required");
    }
    colon = strchr(header, ':');
    /* RFC 9110 §5.5: no CR or LF in a field; a name before the colon. */
    if (colon == NULL || colon == header || strpbrk(header, "\r\n") != NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_request_add_header: not one "
                                                  "\"Name: value\" line");
    }
    if ((size_t)(colon - header) == 13 && strncasecmp(header, "Authorization", 13) == 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "mesh_request_add_header: Authorization "
                            "would replace the mesh token; set the audience instead");
    }
    if (req->nheaders >= MESH_MAX_HEADER_COUNT) {
        return mesh_err_set(MESH_ERR_LIMIT, "mesh_request_add_header: more than %d headers",
                            MESH_MAX_HEADER_COUNT);
    }
    if ((req->headers[req->nheaders] = strdup(header)) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "request header");
    }
    req->nheaders++;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_request_set_body(mesh_request_t *req, const void *body, size_t len)
{
    void *copy = NULL;

    mesh_err_clear();
    if (req == NULL || (body == NULL && len != 0)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_request_set_body: a request, and a body "
                                                  "when len > 0");
    }
    if (body != NULL) {
        copy = malloc(len > 0 ? len : 1);
        if (copy == NULL) {
            return mesh_err_set(MESH_ERR_NOMEM, "request body");
        }
        memcpy(copy, body, len);
    }
    free(req->body);
    req->body = copy;
    req->body_len = len;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_request_set_max_body(mesh_request_t *req, size_t max)
{
    mesh_err_clear();
    if (req == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_request_set_max_body: no request");
    }
    req->max_body = max;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_request_set_peer_id(mesh_request_t *req, const char *peer_id)
{
    mesh_err_t rc;

    mesh_err_clear();
    if (req == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_request_set_peer_id: no request");
    }
    if ((rc = check_peer_id("mesh_request_set_peer_id", peer_id)) != MESH_OK) {
        return rc;
    }
    return replace(&req->peer_id, peer_id, "peer_id");
}

/* ---- responses ---- */

struct mesh_response {
    long status;
    char *headers; /* the raw last header block */
    size_t headers_len;
    char *body;
    size_t body_len;
    long new_connections;
    char *fields; /* a copy of headers split into NUL-terminated names and values */
    char **names, **values;
    size_t nfields;
};

MESH_EXPORT void mesh_response_free(mesh_response_t *r)
{
    if (r == NULL) {
        return;
    }
    free(r->headers);
    free(r->body);
    free(r->fields);
    free(r->names);
    free(r->values);
    free(r);
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Splits the header block once, so that lookups return stable NUL-terminated values. */
static mesh_err_t split_headers(mesh_response_t *r)
{
    size_t lines = 1;
    char *p, *next;

    for (size_t i = 0; i < r->headers_len; i++) {
        lines += r->headers[i] == '\n';
    }
    r->fields = malloc(r->headers_len + 1);
    r->names = calloc(lines, sizeof(*r->names));
    r->values = calloc(lines, sizeof(*r->values));
    if (r->fields == NULL || r->names == NULL || r->values == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "response headers");
    }
    memcpy(r->fields, r->headers, r->headers_len);
    r->fields[r->headers_len] = '\0';
    for (p = r->fields; p != NULL && *p != '\0'; p = next) {
        char *eol = strchr(p, '\n'), *colon, *v, *end;
        next = eol != NULL ? eol + 1 : NULL;
        if (eol != NULL) {
            *eol = '\0';
        }
        colon = strchr(p, ':');
        if (colon == NULL || colon == p || r->nfields >= lines) {
            continue; /* the status line, the blank line */
        }
        *colon = '\0';
        for (v = colon + 1; is_space(*v); v++) {
        }
        end = v + strlen(v);
        while (end > v && (is_space(end[-1]) || end[-1] == '\r')) {
            *--end = '\0';
        }
        r->names[r->nfields] = p;
        r->values[r->nfields] = v;
        r->nfields++;
    }
    return MESH_OK;
}

MESH_EXPORT long mesh_response_status(const mesh_response_t *r)
{
    return r != NULL ? r->status : 0;
}

MESH_EXPORT const char *mesh_response_header(const mesh_response_t *r, const char *name)
{
    if (r == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < r->nfields; i++) {
        if (strcasecmp(r->names[i], name) == 0) {
            return r->values[i];
        }
    }
    return NULL;
}

MESH_EXPORT const char *mesh_response_headers(const mesh_response_t *r, size_t *len)
{
    if (len != NULL) {
        *len = r != NULL ? r->headers_len : 0;
    }
    return r != NULL ? r->headers : NULL;
}

MESH_EXPORT const char *mesh_response_body(const mesh_response_t *r)
{
    return r != NULL ? r->body : NULL;
}

MESH_EXPORT size_t mesh_response_body_len(const mesh_response_t *r)
{
    return r != NULL ? r->body_len : 0;
}

MESH_EXPORT long mesh_response_new_connections(const mesh_response_t *r)
{
    return r != NULL ? r->new_connections : 0;
}

MESH_EXPORT mesh_err_t mesh_client_request(mesh_client_t *c, const mesh_request_t *req,
                                           mesh_response_t **resp)
{
    mesh_http_req_t hr = {0};
    mesh_http_resp_t r = {0};
    mesh_response_t *out = NULL;
    char *token = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    if (c == NULL || req == NULL || resp == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_client_request: client, request and "
                                                  "resp are required");
    }
    if (req->audience != NULL &&
        (rc = mesh_client_token(c, req->audience, NULL, &token, NULL)) != MESH_OK) {
        return rc;
    }
    hr.method = req->method;
    hr.url = req->url;
    hr.headers = req->nheaders > 0 ? (const char *const *)req->headers : NULL;
    hr.body = req->body;
    hr.body_len = req->body_len;
    hr.max_body = req->max_body != 0 ? req->max_body : MESH_MAX_PEER_RESPONSE_BODY;
    hr.bearer = token;
    hr.with_cert = true;
    hr.peer_id = req->peer_id;
    rc = mesh_http_do(c->http, &hr, &r);
    free_token(token);
    if (rc != MESH_OK) {
        return rc;
    }
    out = calloc(1, sizeof(*out));
    if (out == NULL) {
        mesh_http_resp_clear(&r);
        return mesh_err_set(MESH_ERR_NOMEM, "response");
    }
    out->status = r.status;
    out->headers = r.headers;
    out->headers_len = r.headers_len;
    out->body = r.body;
    out->body_len = r.body_len;
    out->new_connections = r.new_connections;
    if (out->headers == NULL && (out->headers = calloc(1, 1)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "response");
    }
    if (rc == MESH_OK && out->body == NULL && (out->body = calloc(1, 1)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "response");
    }
    if (rc == MESH_OK) {
        rc = split_headers(out);
    }
    if (rc != MESH_OK) {
        mesh_response_free(out);
        return rc;
    }
    *resp = out;
    return MESH_OK;
}

/* ---- configuration from the environment ---- */

/* renew.h: MESH_RENEW=1 renews the certificate; MESH_JOIN_TOKEN gets the first one. */
static mesh_err_t renew_from_env(mesh_client_opts_t *o)
{
    const char *renew = mesh_env_get("MESH_RENEW"), *join = mesh_env_get("MESH_JOIN_TOKEN");
    mesh_err_t rc;

    if (renew != NULL && strcmp(renew, "1") != 0 && strcmp(renew, "0") != 0) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "MESH_RENEW is \"%s\": set it to 1 (renew the "
                            "certificate) or 0",
                            renew);
    }
    if ((rc = mesh_client_opts_set_renew(o, renew != NULL && renew[0] == '1')) != MESH_OK) {
        return rc;
    }
    if (join != NULL && (rc = mesh_client_opts_set_join_token(o, join)) != MESH_OK) {
        char why[256];
        snprintf(why, sizeof(why), "%s", mesh_err_detail()); /* not the buffer it rewrites */
        return mesh_err_set(rc, "MESH_JOIN_TOKEN: %s", why);
    }
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_from_env(const char *service_name, mesh_client_t **out)
{
    mesh_client_opts_t *o = NULL;
    const char *issuer = mesh_env_get("MESH_ISSUER_URL"), *id = mesh_env_get("MESH_CLIENT_ID");
    const char *secret = mesh_env_get("MESH_CLIENT_SECRET"),
               *issuer_id = mesh_env_get("MESH_ISSUER_ID");
    char *cert = NULL, *key = NULL, *ca = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    if (issuer == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "MESH_ISSUER_URL is not set (the issuer's https "
                                             "URL, e.g. https://127.0.0.1:8443)");
    }
    if ((id == NULL) != (secret == NULL)) {
        return mesh_err_set(MESH_ERR_CONFIG, "%s is not set (a service token needs both)",
                            id == NULL ? "MESH_CLIENT_ID" : "MESH_CLIENT_SECRET");
    }
    /* Service-token mode: the id and secret instead of the certificate (only the CA is
     * needed); a certificate named explicitly by TLS_CERT_PATH/TLS_KEY_PATH is still
     * presented, as before mesh_env_identity existed. */
    rc = id != NULL ? mesh_env_identity(service_name, NULL, NULL, &ca)
                    : mesh_env_identity(service_name, &cert, &key, &ca);
    if (rc != MESH_OK || (rc = mesh_client_opts_new(&o)) != MESH_OK) {
        goto out;
    }
    if ((rc = mesh_client_opts_set_issuer_url(o, issuer)) != MESH_OK ||
        (rc = mesh_client_opts_set_cert_path(o, id != NULL ? mesh_env_get("TLS_CERT_PATH")
                                                           : cert)) != MESH_OK ||
        (rc = mesh_client_opts_set_key_path(o, id != NULL ? mesh_env_get("TLS_KEY_PATH") : key)) !=
            MESH_OK ||
        (rc = mesh_client_opts_set_ca_path(o, ca)) != MESH_OK ||
        (rc = mesh_client_opts_set_client_id(o, id)) != MESH_OK ||
        (rc = mesh_client_opts_set_client_secret(o, secret)) != MESH_OK ||
        (rc = mesh_client_opts_set_issuer_id(o, issuer_id)) != MESH_OK ||
        (rc = renew_from_env(o)) != MESH_OK) {
        goto out;
    }
    rc = mesh_client_new(o, out);
out:
    mesh_client_opts_free(o);
    mesh_free(cert);
    mesh_free(key);
    mesh_free(ca);
    return rc;
}
