/* SPDX-License-Identifier: Apache-2.0 */
#include "decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/b64url.h>
#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <mesh/util.h>
#include <mesh/verifier.h>

#include "fwd.h"
#include "quota.h"
#include "replay.h"
#include "route.h"
#include "secret.h"

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

/* The unverified iss of a bearer token, to pick the verifier among a route's issuers (the
 * chosen verifier then checks everything, iss included). */
static mesh_err_t peek_issuer(const char *authorization, char *iss, size_t cap)
{
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

/* The credential issuer `is` reads from the request: "Bearer <jwt>" for a JWT issuer (from
 * Authorization, or its token_header's raw value made into one), the raw key for api-keys.
 * NULL when absent; *twice when the header came more than once. */
static const char *credential(const authz_req_t *rq, const issuer_t *is, char *buf, size_t cap,
                              bool *twice)
{
    *twice = false;
    if (is->token_header == NULL) {
        *twice = rq->two_auth;
        return rq->authorization;
    }
    int n = 0;
    const char *v = rq->header != NULL ? rq->header(rq->hctx, is->token_header, &n) : NULL;
    *twice = n > 1;
    if (v == NULL || v[0] == '\0') {
        return NULL;
    }
    if (is->kind == ISSUER_API_KEYS) {
        return v;
    }
    int k = snprintf(buf, cap, "Bearer %s", v); /* a header with the raw JWT, no "Bearer" */
    return k > 0 && (size_t)k < cap ? buf : "Bearer -";
}

static bool route_binding_ok(const route_t *r, const issuer_t *is, const mesh_identity_t *id)
{
    if (is->kind != ISSUER_MESH || mesh_identity_bound(id) || r->binding == BIND_WHEN_PRESENTED) {
        return true; /* an IdP's tokens: its own policy, applied by its verifier */
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

/* One JWT credential verified for route `r` by issuer `is`: the verifier, then the route's
 * own audience and binding rules. false with d set to the refusal. */
static bool verify_jwt(const route_t *r, const issuer_t *is, const char *cred, const char *pem,
                       size_t pem_len, decision_t *d, mesh_identity_t **out)
{
    mesh_err_t e = is->v == NULL ? MESH_ERR_KEYS_UNAVAILABLE : MESH_OK; /* never allow */
    mesh_identity_t *id = NULL;
    if (e == MESH_OK) {
        e = mesh_verify_pem(is->v, cred, pem, pem_len, NULL, &id);
    }
    if (e == MESH_ERR_CONFIG && is->kind != ISSUER_MESH) {
        /* no trust bundle (a config of user routes only): no certificate is believed, so a
         * bound token fails (cnf_mismatch) and an unbound one is judged on its own */
        e = mesh_verify(is->v, cred, NULL, 0, NULL, &id);
    }
    if (e != MESH_OK) {
        snprintf(d->detail, sizeof(d->detail), "%s: %s", is->name, mesh_err_detail());
        from_err(d, e, NULL);
        return false;
    }
    /* The issuer's one verifier accepts every audience its routes use: this route's own
     * audience is checked here (a token for /admin/'s audience is no token for /assets/). */
    if (!is->own_audiences && r->audience != NULL && !mesh_identity_has_audience(id, r->audience)) {
        snprintf(d->detail, sizeof(d->detail), "aud does not name the route's audience %s",
                 r->audience);
        mesh_identity_free(id);
        from_err(d, MESH_ERR_AUDIENCE, NULL);
        return false;
    }
    /* The verifier ran the loosest binding policy of the issuer's routes; this route's own
     * rule is applied here (a "required" route refuses the unbound token a "when-presented"
     * neighbour lets through). */
    if (!route_binding_ok(r, is, id)) {
        snprintf(d->detail, sizeof(d->detail), "route %s requires a certificate-bound token",
                 r->name);
        mesh_identity_free(id);
        from_err(d, MESH_ERR_CNF_MISSING, NULL);
        return false;
    }
    *out = id;
    return true;
}

/* A legacy API key: a configured key, in date, while the switch lets them in. */
static bool verify_key(const issuer_t *is, const char *key, decision_t *d)
{
    size_t len = strlen(key);
    const api_key_t *k =
        len <= MESH_AUTHZ_MAX_API_KEY_BYTES ? secret_match_key(is, key, len) : NULL;
    d->key_issuer = is;
    d->key = k;
    if (k == NULL) {
        snprintf(d->www, sizeof(d->www), "ApiKey realm=\"mesh-authz\", error=\"invalid_key\"");
        set(d, 401, "deny", "invalid_token", "api_key_unknown");
        return false;
    }
    if (!is->enabled) {
        snprintf(d->detail, sizeof(d->detail), "issuer %s has \"enabled\": false", is->name);
        set(d, 401, "deny", "invalid_token", "legacy_key_refused");
        return false;
    }
    if (k->expires != 0 && k->expires <= (int64_t)time(NULL)) {
        set(d, 401, "deny", "invalid_token", "api_key_expired");
        return false;
    }
    return true;
}

static bool has_scope(const decision_t *d, const char *scope)
{
    if (d->id != NULL) {
        return mesh_identity_has_scope(d->id, scope);
    }
    for (size_t i = 0; d->key != NULL && i < d->key->n_scopes; i++) {
        if (strcmp(d->key->scopes[i], scope) == 0) {
            return true;
        }
    }
    return false;
}

/* Verifies the credential of issuer `is`; a JWT goes to d->id, or d->more when d->id is
 * taken (requires_all). */
static bool verify_one(const route_t *r, const issuer_t *is, const char *cred, const char *pem,
                       size_t pem_len, decision_t *d)
{
    if (is->kind == ISSUER_API_KEYS) {
        return verify_key(is, cred, d);
    }
    mesh_identity_t *id = NULL;
    if (!verify_jwt(r, is, cred, pem, pem_len, d, &id)) {
        return false;
    }
    if (d->id == NULL && d->key == NULL) {
        d->id = id;
        d->id_issuer = is;
    } else {
        d->more[d->n_more] = id;
        d->more_issuer[d->n_more++] = is;
    }
    return true;
}

/* "issuers": the first issuer whose header carries a credential that is its own (a JWT's iss;
 * any value of an API key header) decides. */
static bool verify_any(const config_t *cfg, const route_t *r, const authz_req_t *rq,
                       const char *pem, size_t pem_len, decision_t *d)
{
    char buf[MESH_MAX_TOKEN_BYTES + 8];
    mesh_err_t e = MESH_ERR_NO_TOKEN;
    for (size_t i = 0; i < r->n_issuers; i++) {
        const issuer_t *is = &cfg->issuers[r->issuers[i]];
        bool twice;
        const char *cred = credential(rq, is, buf, sizeof(buf), &twice);
        if (cred == NULL) {
            continue;
        }
        if (twice) {
            e = MESH_ERR_TWO_CREDENTIALS;
            break;
        }
        if (is->kind == ISSUER_API_KEYS || r->n_issuers == 1) {
            return verify_one(r, is, cred, pem, pem_len, d); /* its verifier judges it all */
        }
        /* several issuers: the token's unverified iss picks one (parsed only then: the
         * one-issuer route above, the common case, costs no extra decode and parse) */
        char iss[MESH_MAX_OPT_STRING + 1];
        mesh_err_t pe = peek_issuer(cred, iss, sizeof(iss));
        if (pe == MESH_OK && strcmp(iss, is->url) == 0) {
            return verify_one(r, is, cred, pem, pem_len, d);
        }
        e = e == MESH_ERR_NO_TOKEN ? (pe == MESH_OK ? MESH_ERR_ISSUER : pe) : e;
    }
    snprintf(d->detail, sizeof(d->detail), "%s",
             e == MESH_ERR_ISSUER     ? "the token's iss is none of the route's issuers"
             : e == MESH_ERR_NO_TOKEN ? "no credential in any header the route's issuers read"
                                      : "");
    from_err(d, e, NULL);
    return false;
}

/* "requires_all": a credential of each, each in its own header, each verified. */
static bool verify_all(const config_t *cfg, const route_t *r, const authz_req_t *rq,
                       const char *pem, size_t pem_len, decision_t *d)
{
    char buf[MESH_MAX_TOKEN_BYTES + 8];
    for (size_t i = 0; i < r->n_all; i++) {
        const issuer_t *is = &cfg->issuers[r->all[i]];
        bool twice;
        const char *cred = credential(rq, is, buf, sizeof(buf), &twice);
        mesh_err_t e = cred == NULL ? MESH_ERR_NO_TOKEN
                       : twice      ? MESH_ERR_TWO_CREDENTIALS
                                    : MESH_OK;
        if (e != MESH_OK) {
            snprintf(d->detail, sizeof(d->detail), "requires_all: no credential of %s in %s",
                     is->name, is->token_header ? is->token_header : "Authorization");
            from_err(d, e, NULL);
            return false;
        }
        if (!verify_one(r, is, cred, pem, pem_len, d)) {
            return false;
        }
    }
    return true;
}

const char *authz_subject(const decision_t *d, char *buf, size_t cap)
{
    if (d->id != NULL) {
        return mesh_identity_subject(d->id);
    }
    if (d->key != NULL) {
        snprintf(buf, cap, "api-key:%s", d->key->name);
        return buf;
    }
    return "";
}

void authz_decision_free(decision_t *d)
{
    mesh_identity_free(d->id);
    d->id = NULL;
    for (size_t i = 0; i < d->n_more; i++) {
        mesh_identity_free(d->more[i]);
        d->more[i] = NULL;
    }
    d->n_more = 0;
}

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* After the verdict: the route's rate limits, then its single-use rule. */
static void limits(const route_t *r, decision_t *d)
{
    char sub[MESH_MAX_METRIC_LABEL + 16];
    const char *subject = authz_subject(d, sub, sizeof(sub));
    int64_t retry = 0;
    quota_verdict_t q = quota_take(r, subject, mono_s(), &retry);
    if (q != QUOTA_OK) {
        authz_decision_free(d);
        d->retry_after = q == QUOTA_LIMITED ? retry : 0;
        set(d, q == QUOTA_LIMITED ? 429 : 503, q == QUOTA_LIMITED ? "deny" : "error",
            q == QUOTA_LIMITED ? "rate_limited" : "temporarily_unavailable",
            q == QUOTA_LIMITED ? "rate_limited" : "rate_limit_full");
        return;
    }
    if (!r->single_use) {
        return;
    }
    const char *jti = d->id ? mesh_identity_jti(d->id) : "";
    replay_verdict_t v = jti[0] == '\0' ? REPLAY_SEEN
                                        : replay_use(mesh_identity_issuer(d->id), jti,
                                                     mesh_identity_expiry(d->id), time(NULL));
    if (v != REPLAY_FIRST) {
        const char *reason = jti[0] == '\0'     ? "jti_required"
                             : v == REPLAY_SEEN ? "token_replayed"
                                                : "replay_cache_full";
        authz_decision_free(d);
        if (v == REPLAY_FULL) {
            set(d, 503, "error", "temporarily_unavailable", reason);
            return;
        }
        snprintf(d->www, sizeof(d->www), "Bearer error=\"invalid_token\", error_description=\"%s\"",
                 reason);
        set(d, 401, "deny", "invalid_token", reason);
    }
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
    bool ok = r->n_all > 0 ? verify_all(cfg, r, rq, pem, pem_len, d)
                           : verify_any(cfg, r, rq, pem, pem_len, d);
    free(pem);
    if (!ok) {
        authz_decision_free(d);
        return;
    }
    for (size_t i = 0; i < r->n_scopes; i++) {
        if (!has_scope(d, r->scopes[i])) {
            authz_decision_free(d);
            from_err(d, MESH_ERR_SCOPE, r->scope_str);
            return;
        }
    }
    set(d, 200, "allow", NULL, "ok");
    limits(r, d);
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
