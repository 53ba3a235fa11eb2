/* SPDX-License-Identifier: Apache-2.0 */
#include "decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/b64url.h>
#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <mesh/util.h>
#include <mesh/verifier.h>

#include "fwd.h"
#include "route.h"

static void set(decision_t *d, int status, const char *outcome, const char *error,
                const char *reason)
{
    d->status = status;
    d->outcome = outcome;
    d->error = error;
    d->reason = reason;
}

/* A libmesh verdict: its HTTP status, RFC 6750 challenge and reason name. */
static void from_err(decision_t *d, mesh_err_t e, const char *scope)
{
    int st = mesh_verify_http_status(e, scope, d->www, sizeof(d->www));
    const char *error = st == 401   ? (e == MESH_ERR_NO_TOKEN ? "unauthorized" : "invalid_token")
                        : st == 403 ? "insufficient_scope"
                        : st == 400 ? "invalid_request"
                        : st == 503 ? "temporarily_unavailable"
                                    : "server_error";
    set(d, st, st >= 500 ? "error" : "deny", error, mesh_err_name(e));
}

/* A certificate header that cannot be read: the token cannot be bound to it (RFC 8705 §3). */
static void bad_cert(decision_t *d, const char *reason)
{
    snprintf(d->www, sizeof(d->www), "Bearer error=\"invalid_token\", error_description=\"%s\"",
             reason);
    set(d, 401, "deny", "invalid_token", reason);
}

static const char *cert_decode(const authz_req_t *rq, char **pem, size_t *len)
{
    if (rq->two_cert) {
        return "cert_header_malformed";
    }
    switch (rq->fe) {
    case FE_NONE:
        return "no_front_end";
    case FE_ENVOY:
        return fwd_xfcc_cert(rq->cert, pem, len);
    case FE_FORWARD:
        return fwd_traefik_cert(rq->cert, pem, len);
    default:
        return fwd_nginx_cert(rq->cert, pem, len);
    }
}

/* The unverified iss of a bearer token, to pick the verifier of a route with several
 * issuers (the chosen verifier then checks everything, iss included). */
static mesh_err_t peek_issuer(const char *authorization, char *iss, size_t cap)
{
    if (authorization == NULL) {
        return MESH_ERR_NO_TOKEN;
    }
    const char *tok = strncmp(authorization, "Bearer ", 7) == 0 ? authorization + 7 : NULL;
    if (tok == NULL) {
        return MESH_ERR_NO_TOKEN;
    }
    const char *dot1 = strchr(tok, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strlen(tok) > MESH_MAX_TOKEN_BYTES) {
        return MESH_ERR_TOKEN_MALFORMED;
    }
    uint8_t payload[MESH_MAX_TOKEN_BYTES];
    size_t plen = 0;
    if (mesh_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload, sizeof(payload), &plen) !=
        MESH_OK) {
        return MESH_ERR_TOKEN_MALFORMED;
    }
    json_t *claims = NULL;
    if (mesh_json_parse_object((const char *)payload, plen, MESH_MAX_JSON_DEPTH, "token claims",
                               &claims) != MESH_OK) {
        return MESH_ERR_TOKEN_MALFORMED;
    }
    const char *s = json_string_value(json_object_get(claims, "iss"));
    mesh_err_t e = s != NULL && strlen(s) < cap ? MESH_OK : MESH_ERR_ISSUER;
    if (e == MESH_OK) {
        snprintf(iss, cap, "%s", s);
    }
    json_decref(claims);
    return e;
}

static bool route_binding_ok(const route_t *r, const mesh_identity_t *id)
{
    if (mesh_identity_bound(id) || r->binding == BIND_WHEN_PRESENTED) {
        return true;
    }
    if (r->binding == BIND_UNBOUND_FOR) {
        for (size_t i = 0; i < r->n_unbound; i++) {
            if (strcmp(r->unbound[i], mesh_identity_subject(id)) == 0) {
                return true;
            }
        }
    }
    return false;
}

static void verify(const config_t *cfg, const route_t *r, const authz_req_t *rq, decision_t *d)
{
    char *pem = NULL;
    size_t pem_len = 0;
    const char *why = cert_decode(rq, &pem, &pem_len);
    if (why != NULL) {
        bad_cert(d, why);
        return;
    }
    size_t which = r->issuers[0];
    mesh_err_t e = MESH_OK;
    if (r->n_issuers > 1) {
        char iss[MESH_MAX_OPT_STRING + 1];
        e = peek_issuer(rq->authorization, iss, sizeof(iss));
        bool found = false;
        for (size_t i = 0; e == MESH_OK && i < r->n_issuers && !found; i++) {
            if (strcmp(cfg->issuers[r->issuers[i]].url, iss) == 0) {
                which = r->issuers[i];
                found = true;
            }
        }
        if (e == MESH_OK && !found) {
            e = MESH_ERR_ISSUER;
        }
    }
    if (e == MESH_OK && rq->two_auth) {
        e = MESH_ERR_TWO_CREDENTIALS;
    }
    mesh_verifier_t *v = cfg->issuers[which].v;
    if (e == MESH_OK && v == NULL) {
        e = MESH_ERR_KEYS_UNAVAILABLE; /* not started: never allow */
    }
    if (e == MESH_OK) {
        e = mesh_verify_pem(v, rq->authorization, pem, pem_len, NULL, &d->id);
    }
    free(pem);
    if (e != MESH_OK) {
        snprintf(d->detail, sizeof(d->detail), "%s", mesh_err_detail());
        from_err(d, e, NULL);
        return;
    }
    /* The issuer's one verifier accepts every audience its routes use: this route's own
     * audience is checked here (a token for /admin/'s audience is no token for /assets/). */
    if (!mesh_identity_has_audience(d->id, r->audience)) {
        snprintf(d->detail, sizeof(d->detail), "aud does not name the route's audience %s",
                 r->audience);
        mesh_identity_free(d->id);
        d->id = NULL;
        from_err(d, MESH_ERR_AUDIENCE, NULL);
        return;
    }
    /* The verifier ran the loosest binding policy of the issuer's routes; this route's own
     * rule is applied here (a "required" route refuses the unbound token a "when-presented"
     * neighbour lets through). */
    if (!route_binding_ok(r, d->id)) {
        snprintf(d->detail, sizeof(d->detail), "route %s requires a certificate-bound token",
                 r->name);
        mesh_identity_free(d->id);
        d->id = NULL;
        from_err(d, MESH_ERR_CNF_MISSING, NULL);
        return;
    }
    for (size_t i = 0; i < r->n_scopes; i++) {
        if (!mesh_identity_has_scope(d->id, r->scopes[i])) {
            mesh_identity_free(d->id);
            d->id = NULL;
            from_err(d, MESH_ERR_SCOPE, r->scope_str);
            return;
        }
    }
    set(d, 200, "allow", NULL, "ok");
}

void authz_decide(const config_t *cfg, const authz_req_t *rq, decision_t *d)
{
    memset(d, 0, sizeof(*d));
    if (rq->method == NULL || rq->uri == NULL) {
        set(d, 400, "error", "invalid_request", "proxy_headers_missing");
        return;
    }
    size_t ulen = strlen(rq->uri);
    if (ulen > MESH_AUTHZ_MAX_URI || strlen(rq->method) > MESH_AUTHZ_MAX_METHOD ||
        (rq->host != NULL && strlen(rq->host) > MESH_AUTHZ_MAX_HOST)) {
        set(d, 403, "deny", "access_denied", "request_too_large");
        return;
    }
    for (const char *m = rq->method; *m; m++) {
        if (*m < 'A' || *m > 'Z') {
            set(d, 403, "deny", "access_denied", "method_malformed");
            return;
        }
    }
    const char *q = memchr(rq->uri, '?', ulen);
    size_t plen = q ? (size_t)(q - rq->uri) : ulen;
    if (!route_path_canonical(rq->uri, plen)) {
        set(d, 403, "deny", "access_denied", "path_not_canonical");
        return;
    }
    char path[MESH_AUTHZ_MAX_URI + 1];
    memcpy(path, rq->uri, plen);
    path[plen] = '\0';
    const char *why = NULL;
    const route_t *r = route_match(cfg, rq->method, rq->host, path, &why);
    d->route = r;
    if (r == NULL) {
        set(d, 403, "deny", "access_denied", why);
        return;
    }
    if (r->is_public) {
        set(d, 200, "public", NULL, "public");
        return;
    }
    verify(cfg, r, rq, d);
}
