/* SPDX-License-Identifier: Apache-2.0 */
/* Token requests to mesh-issuer: RFC 6749 §4.4 client credentials, with retries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mesh/limits.h>

#include "client_internal.h"
#include <mesh/util.h>
#include "internal.h"
#include "json.h"
#include "stripe.h"

/* grant_type=client_credentials&audience=A[&scope=S][&ttl=N], form-encoded. */
static char *token_form(const mesh_client_t *c, const char *audience, const char *scope)
{
    char *a = mesh_http_form_escape(audience);
    char *s = scope != NULL && scope[0] != '\0' ? mesh_http_form_escape(scope) : NULL;
    char *body = NULL;
    size_t n;

    if (a == NULL || (scope != NULL && scope[0] != '\0' && s == NULL)) {
        goto out;
    }
    n = strlen(a) + (s != NULL ? strlen(s) : 0) + 96;
    body = malloc(n);
    if (body != NULL) {
        int w = snprintf(body, n, "grant_type=client_credentials&audience=%s", a);
        if (s != NULL) {
            w += snprintf(body + w, n - (size_t)w, "&scope=%s", s);
        }
        if (c->o.token_ttl > 0) {
            snprintf(body + w, n - (size_t)w, "&ttl=%lld", (long long)c->o.token_ttl);
        }
    }
out:
    free(a);
    free(s);
    return body;
}

/* Copies a string from the issuer for a detail message, dropping control characters. */
static void clean(char *out, size_t cap, const char *in)
{
    size_t j = 0;

    for (size_t i = 0; in != NULL && in[i] != '\0' && j + 1 < cap; i++) {
        out[j++] = (unsigned char)in[i] < 0x20 ? ' ' : in[i];
    }
    out[j] = '\0';
}

/* RFC 6749 §5.2: the issuer's error and error_description become the detail. */
static mesh_err_t issuer_error(const mesh_client_t *c, const mesh_http_resp_t *r,
                               const char *audience)
{
    json_t *doc = NULL;
    char err[96] = "", desc[320] = "";

    if (mesh_json_parse_object(r->body, r->body_len, MESH_MAX_JSON_DEPTH, "issuer error", &doc) ==
        MESH_OK) {
        clean(err, sizeof(err), json_string_value(json_object_get(doc, "error")));
        clean(desc, sizeof(desc), json_string_value(json_object_get(doc, "error_description")));
        json_decref(doc);
    }
    if (err[0] == '\0') {
        return mesh_err_set(MESH_ERR_ISSUER_ERROR,
                            "issuer %s answered HTTP %ld without an "
                            "OAuth error body (token for audience \"%s\")",
                            c->token_url, r->status, audience);
    }
    return mesh_err_set(MESH_ERR_ISSUER_ERROR,
                        "issuer refused a token for audience \"%s\": "
                        "HTTP %ld %s: %s",
                        audience, r->status, err, desc[0] != '\0' ? desc : "(no description)");
}

/* RFC 6749 §5.1 success response. */
mesh_err_t mesh_client_parse_token(const char *body, size_t len, const char *url, char **token,
                                   int64_t *expires_in)
{
    json_t *doc = NULL;
    const char *tok, *type;
    json_t *exp;
    mesh_err_t rc;

    rc = mesh_json_parse_object(body, len, MESH_MAX_JSON_DEPTH, "token response", &doc);
    if (rc != MESH_OK) {
        return rc;
    }
    tok = json_string_value(json_object_get(doc, "access_token"));
    type = json_string_value(json_object_get(doc, "token_type"));
    exp = json_object_get(doc, "expires_in");
    if (tok == NULL || tok[0] == '\0' || strlen(tok) > MESH_MAX_TOKEN_BYTES || type == NULL ||
        strcasecmp(type, "Bearer") != 0 || !json_is_integer(exp) || json_integer_value(exp) <= 0 ||
        json_integer_value(exp) > MESH_MAX_EXPIRES_IN) {
        rc = mesh_err_set(MESH_ERR_ISSUER_ERROR,
                          "issuer %s: token response lacks a Bearer "
                          "access_token (at most %d bytes) or an expires_in of 1..%d s",
                          url, MESH_MAX_TOKEN_BYTES, MESH_MAX_EXPIRES_IN);
    } else if ((*token = strdup(tok)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "token");
    } else {
        *expires_in = json_integer_value(exp);
    }
    json_decref(doc);
    return rc;
}

static long long backoff_ms(const mesh_client_t *c, int attempt)
{
    long long ms = c->o.retry_base_ms;
    uint16_t r = 0;

    for (int i = 0; i < attempt && ms < c->o.retry_max_ms; i++) {
        ms *= 2;
    }
    if (ms > c->o.retry_max_ms) {
        ms = c->o.retry_max_ms;
    }
    /* Jitter (50-100 %) keeps a fleet of clients from retrying in lockstep. */
    r = mesh_random_bytes(&r, sizeof(r)) == MESH_OK ? r : 0;
    return ms / 2 + (ms / 2) * r / 65535;
}

mesh_err_t mesh_client_fetch(mesh_client_t *c, const char *audience, const char *scope,
                             char **token, int64_t *expires_in)
{
    char id_hdr[320], secret_hdr[320];
    const char *headers[4] = {"Content-Type: application/x-www-form-urlencoded", NULL, NULL, NULL};
    mesh_http_req_t req = {0};
    mesh_err_t rc = MESH_ERR_INTERNAL;
    char *body = token_form(c, audience, scope);

    if (body == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "token request");
    }
    if (c->client_id != NULL) {
        snprintf(id_hdr, sizeof(id_hdr), "Mesh-Client-Id: %s", c->client_id);
        snprintf(secret_hdr, sizeof(secret_hdr), "Mesh-Client-Secret: %s", c->client_secret);
        headers[1] = id_hdr;
        headers[2] = secret_hdr;
    }
    req.method = "POST";
    req.url = c->token_url;
    req.headers = headers;
    req.body = body;
    req.body_len = strlen(body);
    req.max_body = MESH_MAX_TOKEN_RESPONSE_BYTES;
    req.with_cert = c->client_id == NULL; /* RFC 8705 tls_client_auth */
    req.peer_id = c->issuer_id;           /* checked before the secret or any byte is sent */
    for (int attempt = 0;; attempt++) {
        mesh_http_resp_t r = {0};
        long long wait;

        atomic_fetch_add(&c->issuer_requests, 1);
        rc = mesh_http_do(c->http, &req, &r);
        if (rc == MESH_OK && r.status == 200) {
            rc = mesh_client_parse_token(r.body, r.body_len, c->token_url, token, expires_in);
            mesh_http_resp_clear(&r);
            break;
        }
        if (rc == MESH_OK && r.status != 429 && r.status < 500) {
            rc = issuer_error(c, &r, audience); /* 4xx: asking again will not help */
            mesh_http_resp_clear(&r);
            break;
        }
        if (rc != MESH_OK && rc != MESH_ERR_NETWORK) {
            break; /* TLS, configuration: not transient */
        }
        wait = backoff_ms(c, attempt);
        if (rc == MESH_OK) {
            /* 5xx or 429: keep the issuer's words, honour its Retry-After. */
            rc = issuer_error(c, &r, audience);
            if (r.retry_after >= 0) {
                if (r.retry_after * 1000 > c->o.retry_max_ms) {
                    mesh_err_set(rc,
                                 "issuer asks to retry after %ld s (longer than the "
                                 "client's retry_max_ms): %s",
                                 r.retry_after, mesh_err_detail());
                    mesh_http_resp_clear(&r);
                    break;
                }
                wait = r.retry_after * 1000;
            }
        }
        mesh_http_resp_clear(&r);
        if (attempt >= c->o.max_retries) {
            break;
        }
        char detail[512];
        snprintf(detail, sizeof(detail), "%s", mesh_err_detail());
        if (!mesh_client_sleep(c, wait)) {
            mesh_err_set(rc, "%s", detail);
            break;
        }
        mesh_err_set(rc, "%s", detail);
    }
    mesh_wipe(secret_hdr, sizeof(secret_hdr));
    free(body);
    return rc;
}
