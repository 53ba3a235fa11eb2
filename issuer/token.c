/* SPDX-License-Identifier: Apache-2.0 */
#include "token.h"

#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mesh/jansson.h>
#include <mesh/jws.h>
#include <mesh/jwt.h>
#include <mesh/limits.h>
#include <mesh/util.h>

#include "audit.h"
#include "log.h"
#include "policy.h"
#include "svc_tokens.h"

#define REVOCATIONS_PAGE 1000

typedef struct {
    char identity[320];
    const char *method; /* tls_client_auth | client_secret_basic | client_secret_header */
    const char *x5t;    /* mTLS only */
    char client_id[128];
    bool svc;
    svc_token_rec_t rec;
} auth_t;

/* RFC 6749 §5.2: error_description holds only %x20-21 / %x23-5B / %x5D-7E. */
static bool description_byte_ok(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}

void resp_error(issuer_resp_t *resp, int status, const char *error, const char *fmt, ...)
{
    char desc[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof(desc), fmt, ap);
    va_end(ap);
    /* The text quotes client bytes (a grant_type, a parameter name): each byte the grammar
     * forbids (a quote, a backslash, CR, LF, DEL, any UTF-8 byte) becomes one '?', so the
     * message stays readable and stays what a client may show or log. */
    for (char *p = desc; *p != '\0'; p++) {
        if (!description_byte_ok((unsigned char)*p)) {
            *p = '?';
        }
    }
    json_decref(resp->body);
    resp->status = status;
    resp->body = json_pack("{s:s, s:s}", "error", error, "error_description", desc);
    resp->no_store = true;
}

static const char *param(const issuer_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++) {
        if (strcmp(req->params[i].name, name) == 0) {
            return req->params[i].value;
        }
    }
    return NULL;
}

static void audit(issuer_ctx_t *ctx, const issuer_req_t *req, const auth_t *a, const char *audience,
                  const char *scope, const char *jti, int64_t lifetime, const char *outcome,
                  const char *reason)
{
    audit_event_t ev = {
        .time = (int64_t)time(NULL),
        .identity = a ? a->identity : "",
        .auth_method = a && a->method ? a->method : "",
        .audience = audience ? audience : "",
        .scope = scope ? scope : "",
        .jti = jti ? jti : "",
        .lifetime = lifetime,
        .outcome = outcome,
        .reason = reason ? reason : "",
        .source = req->source ? req->source : "",
    };
    audit_log(stderr, &ev);
}

static void deny(issuer_ctx_t *ctx, const issuer_req_t *req, const auth_t *a, const char *audience,
                 issuer_resp_t *resp)
{
    const char *err = json_string_value(json_object_get(resp->body, "error"));
    metrics_denied(ctx->metrics, err ? err : "server_error");
    audit(ctx, req, a, audience, NULL, NULL, 0, "denied", err);
}

/* RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding. */
static bool pct_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r != '\0'; r++) {
        if (*r == '%') {
            if (!isxdigit((unsigned char)r[1]) || !isxdigit((unsigned char)r[2])) {
                return false;
            }
            char hex[3] = {r[1], r[2], '\0'};
            *w++ = (char)strtol(hex, NULL, 16);
            r += 2;
        } else {
            *w++ = *r == '+' ? ' ' : *r;
        }
    }
    *w = '\0';
    return true;
}

static void invalid_client(issuer_resp_t *resp, const char *desc)
{
    resp_error(resp, 401, "invalid_client", "%s", desc);
    snprintf(resp->www_authenticate, sizeof(resp->www_authenticate),
             "Basic realm=\"mesh-issuer\", charset=\"UTF-8\"");
}

static bool check_secret(issuer_ctx_t *ctx, const char *id, const char *secret, auth_t *a,
                         issuer_resp_t *resp)
{
    const char *why = "";
    mesh_err_t rc = svc_token_check(ctx->store, id, secret, (int64_t)time(NULL), &a->rec, &why);
    if (rc != MESH_OK && rc != MESH_ERR_ISSUER_ERROR) {
        log_msg(LOG_ERROR, "store failed", "%s: %s", mesh_strerror(rc), mesh_err_detail());
        resp_error(resp, 503, "temporarily_unavailable", "the issuer's store failed; retry");
        return false;
    }
    if (rc != MESH_OK) {
        log_msg(LOG_INFO, "service token rejected", "%s", why ? why : "");
        invalid_client(resp, "client authentication failed: unknown client id or wrong "
                             "secret, or the service token is revoked or expired; check the "
                             "credentials with `mesh-issuer token list`");
        return false;
    }
    a->svc = true;
    metrics_svc_token_expiry(ctx->metrics, a->rec.name, a->rec.expires - (int64_t)time(NULL));
    snprintf(a->identity, sizeof(a->identity), "svc-token:%s", a->rec.name);
    snprintf(a->client_id, sizeof(a->client_id), "%s", a->rec.name);
    return true;
}

static bool auth_basic(issuer_ctx_t *ctx, const char *hdr, auth_t *a, issuer_resp_t *resp)
{
    const char *b64 = hdr + 6;
    while (*b64 == ' ') {
        b64++;
    }
    char buf[512];
    size_t len;
    if (!tls_b64_decode(b64, strlen(b64), buf, sizeof(buf), &len) || memchr(buf, 0, len)) {
        invalid_client(resp, "Authorization: Basic is not base64 of CLIENT_ID:SECRET");
        return false;
    }
    char *colon = strchr(buf, ':');
    bool ok = false;
    if (colon == NULL) {
        invalid_client(resp, "Authorization: Basic must hold CLIENT_ID:SECRET");
    } else {
        *colon = '\0';
        if (!pct_decode(buf) || !pct_decode(colon + 1)) {
            invalid_client(resp, "Authorization: Basic has a bad %-escape");
        } else {
            ok = check_secret(ctx, buf, colon + 1, a, resp);
        }
    }
    mesh_wipe(buf, sizeof(buf));
    return ok;
}

/* Exactly one client authentication method (RFC 6749 §2.3: "MUST NOT use more than one"). */
static bool authenticate(issuer_ctx_t *ctx, const issuer_req_t *req, auth_t *a, issuer_resp_t *resp)
{
    memset(a, 0, sizeof(*a));
    const char *authz = req->authorization;
    bool basic = authz != NULL && strncasecmp(authz, "Basic ", 6) == 0;
    bool headers = req->mesh_client_id != NULL || req->mesh_client_secret != NULL;
    bool cert = req->peer != NULL && req->peer->presented;
    if (authz != NULL && !basic) {
        resp_error(resp, 400, "invalid_request",
                   "Authorization scheme is not accepted here; "
                   "authenticate with a client certificate, Authorization: Basic, or "
                   "Mesh-Client-Id + Mesh-Client-Secret");
        return false;
    }
    if (param(req, "client_secret") != NULL) {
        resp_error(resp, 400, "invalid_request",
                   "client_secret in the body "
                   "(client_secret_post) is not accepted; send it with Authorization: Basic");
        return false;
    }
    int methods = (int)cert + (int)basic + (int)headers;
    if (methods > 1) {
        char used[128];
        snprintf(used, sizeof(used), "%s%s%s%s%s", cert ? "client certificate" : "",
                 cert && (basic || headers) ? " + " : "", basic ? "Authorization: Basic" : "",
                 basic && headers ? " + " : "", headers ? "Mesh-Client-Id/Secret headers" : "");
        resp_error(resp, 400, "invalid_request",
                   "more than one client authentication method (%s); use exactly one", used);
        return false;
    }
    if (methods == 0) {
        invalid_client(resp, "no client authentication: present a client certificate "
                             "issued by the mesh CA (tls_client_auth), or a service token with "
                             "Authorization: Basic or Mesh-Client-Id + Mesh-Client-Secret");
        return false;
    }
    if (cert) {
        if (!req->peer->verified) {
            char desc[512];
            snprintf(desc, sizeof(desc),
                     "client certificate rejected: %s; use a current "
                     "certificate issued by the mesh CA that is not revoked",
                     req->peer->error);
            invalid_client(resp, desc);
            return false;
        }
        snprintf(a->identity, sizeof(a->identity), "%s", req->peer->identity);
        const char *slash = strrchr(a->identity, '/');
        const char *cid = slash ? slash + 1 : a->identity;
        size_t cl = strlen(cid) < sizeof(a->client_id) ? strlen(cid) : sizeof(a->client_id) - 1;
        memcpy(a->client_id, cid, cl);
        a->client_id[cl] = '\0';
        a->method = "tls_client_auth";
        a->x5t = req->peer->x5t;
        return true;
    }
    if (basic) {
        a->method = "client_secret_basic";
        return auth_basic(ctx, authz, a, resp);
    }
    a->method = "client_secret_header";
    if (req->mesh_client_id == NULL || req->mesh_client_secret == NULL) {
        invalid_client(resp, "send both Mesh-Client-Id and Mesh-Client-Secret");
        return false;
    }
    return check_secret(ctx, req->mesh_client_id, req->mesh_client_secret, a, resp);
}

static bool rate_ok(issuer_ctx_t *ctx, const auth_t *a, issuer_resp_t *resp)
{
    int retry = 1;
    if (state_rl_take(ctx->st->rl_identity, a->identity, &retry)) {
        return true;
    }
    resp_error(resp, 429, "slow_down",
               "too many requests from %s; retry after %d s, and cache "
               "tokens until shortly before they expire",
               a->identity, retry);
    resp->retry_after = retry;
    return false;
}

static bool parse_ttl(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0' || strlen(s) > 9) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
    }
    *out = strtoll(s, NULL, 10);
    return true;
}

static bool token_params(const issuer_req_t *req, policy_request_t *pr, issuer_resp_t *resp)
{
    const char *gt = param(req, "grant_type");
    if (gt == NULL) {
        resp_error(resp, 400, "invalid_request",
                   "grant_type is required; send "
                   "grant_type=client_credentials");
        return false;
    }
    if (strcmp(gt, "client_credentials") != 0) {
        resp_error(resp, 400, "unsupported_grant_type",
                   "grant_type '%.100s' is not supported; "
                   "this issuer only grants client_credentials",
                   gt);
        return false;
    }
    pr->audience = param(req, "audience");
    if (pr->audience == NULL || pr->audience[0] == '\0') {
        resp_error(resp, 400, "invalid_request",
                   "audience is required: name the service the "
                   "token is for (GET /v1/audiences lists them)");
        return false;
    }
    pr->scope = param(req, "scope");
    const char *ttl = param(req, "ttl");
    if (ttl != NULL) {
        if (!parse_ttl(ttl, &pr->ttl)) {
            resp_error(resp, 400, "invalid_request",
                       "ttl '%.40s' must be a whole number of "
                       "seconds",
                       ttl);
            return false;
        }
        pr->has_ttl = true;
    }
    return true;
}

/*
 * A failed authentication is what the per-source limit is for (guessing secrets, replaying
 * bad certificates): it is charged here, not on every request, so that one service's load
 * never spends its neighbours' budget behind the same address (server_http.c only checks
 * that the source still has budget).
 */
static bool authenticate_charged(issuer_ctx_t *ctx, const issuer_req_t *req, auth_t *a,
                                 issuer_resp_t *resp)
{
    if (authenticate(ctx, req, a, resp)) {
        return true;
    }
    int retry = 1;
    (void)state_rl_take(ctx->st->rl_source, req->source != NULL ? req->source : "", &retry);
    return false;
}

/* Certificates that got a token are recorded once per process, so a later CRL entry for one
 * can revoke its tokens (certificate_revocations in state.c). */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char *seen[MESH_MAX_SEEN_CERTS];
static size_t seen_n;

static bool cert_recorded(issuer_ctx_t *ctx, const tls_peer_t *peer)
{
    uint32_t h = 2166136261u; /* FNV-1a over a SHA-256 and a serial: spread enough */
    for (const char *p = peer->cert_key; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    pthread_mutex_lock(&seen_lock);
    size_t i = h % MESH_MAX_SEEN_CERTS;
    for (size_t probes = 0; seen[i] != NULL && probes < MESH_MAX_SEEN_CERTS; probes++) {
        if (strcmp(seen[i], peer->cert_key) == 0) {
            pthread_mutex_unlock(&seen_lock);
            return true;
        }
        i = (i + 1) % MESH_MAX_SEEN_CERTS;
    }
    pthread_mutex_unlock(&seen_lock);
    mesh_err_t rc = store_cert_seen(ctx->store, peer->cert_key, peer->x5t, peer->not_after);
    if (rc != MESH_OK) {
        log_msg(LOG_ERROR, "cannot record a certificate", "%s", mesh_err_detail());
        return false;
    }
    pthread_mutex_lock(&seen_lock);
    if (seen_n >= MESH_MAX_SEEN_CERTS / 2) { /* a fresh table: records are idempotent */
        for (size_t k = 0; k < MESH_MAX_SEEN_CERTS; k++) {
            free(seen[k]);
            seen[k] = NULL;
        }
        seen_n = 0;
    }
    i = h % MESH_MAX_SEEN_CERTS;
    while (seen[i] != NULL && strcmp(seen[i], peer->cert_key) != 0) {
        i = (i + 1) % MESH_MAX_SEEN_CERTS;
    }
    if (seen[i] == NULL && (seen[i] = strdup(peer->cert_key)) != NULL) {
        seen_n++;
    }
    pthread_mutex_unlock(&seen_lock);
    return true;
}

void token_endpoint(issuer_ctx_t *ctx, const issuer_req_t *req, issuer_resp_t *resp)
{
    auth_t a;
    if (!authenticate_charged(ctx, req, &a, resp)) {
        deny(ctx, req, NULL, param(req, "audience"), resp);
        return;
    }
    if (!rate_ok(ctx, &a, resp)) {
        deny(ctx, req, &a, param(req, "audience"), resp);
        return;
    }
    const config_t *cfg = ctx->st->cfg;
    policy_request_t pr = {
        .identity = a.identity,
        .svc_token = a.svc,
        .svc_audiences = a.rec.audiences,
        .svc_scopes = a.rec.scopes,
    };
    if (!token_params(req, &pr, resp)) {
        deny(ctx, req, &a, param(req, "audience"), resp);
        return;
    }
    policy_result_t res;
    if (!policy_decide(cfg, &pr, &res)) {
        resp_error(resp, res.status, res.error, "%s", res.description);
        deny(ctx, req, &a, pr.audience, resp);
        return;
    }
    if (!a.svc && !cert_recorded(ctx, req->peer)) {
        resp_error(resp, 503, "temporarily_unavailable",
                   "the issuer cannot write its store; retry");
        deny(ctx, req, &a, pr.audience, resp);
        return;
    }
    int64_t iat = (int64_t)time(NULL);
    mesh_jwt_claims_in_t *in = NULL;
    char *jwt = NULL;
    char jti[MESH_JTI_LEN + 1];
    mesh_err_t rc = mesh_jwt_claims_in_new(&in);
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_issuer(in, cfg->issuer);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_subject(in, a.identity);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_audience(in, pr.audience);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_scopes(in, res.scope);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_client_id(in, a.client_id);
    }
    if (rc == MESH_OK) { /* RFC 8705 §3: bind to the presented certificate */
        rc = mesh_jwt_claims_in_set_x5t(in, a.svc ? NULL : a.x5t);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_issued_at(in, iat);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_ttl(in, res.ttl);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_sign(ctx->st->sign_key, in, &jwt, jti);
    }
    mesh_jwt_claims_in_free(in);
    if (rc != MESH_OK) {
        log_msg(LOG_ERROR, "signing failed", "%s: %s", mesh_strerror(rc), mesh_err_detail());
        resp_error(resp, 500, "server_error",
                   "the issuer could not sign the token; see its "
                   "log");
        deny(ctx, req, &a, pr.audience, resp);
        return;
    }
    if (a.svc) {
        (void)store_svc_touch(ctx->store, a.rec.name, iat);
    }
    json_decref(resp->body);
    resp->status = 200;
    resp->body = json_pack("{s:s, s:s, s:I}", "access_token", jwt, "token_type", "Bearer",
                           "expires_in", (json_int_t)res.ttl);
    if (res.scope[0] != '\0') {
        json_object_set_new(resp->body, "scope", json_string(res.scope));
    }
    resp->no_store = true; /* RFC 6749 §5.1 */
    mesh_wipe(jwt, strlen(jwt));
    mesh_free(jwt);
    metrics_token_issued(ctx->metrics, pr.audience, a.method);
    audit(ctx, req, &a, pr.audience, res.scope, jti, res.ttl, "issued", NULL);
}

/* Signature with our own keys, then the claims we need; exp is not checked (RFC 7009). */
static bool read_own_token(issuer_ctx_t *ctx, const char *token, char *sub, size_t sublen,
                           char *jti, size_t jtilen, int64_t *exp, const char **why)
{
    size_t len = strlen(token);
    if (len > MESH_MAX_TOKEN_BYTES) {
        *why = "token is larger than any this issuer signs";
        return false;
    }
    uint8_t *payload = malloc(MESH_MAX_TOKEN_BYTES);
    if (payload == NULL) {
        *why = "out of memory";
        return false;
    }
    size_t plen = 0;
    mesh_err_t rc =
        mesh_jws_verify_jwks(ctx->st->jwks, token, len, payload, MESH_MAX_TOKEN_BYTES, &plen, NULL);
    bool ok = false;
    json_t *claims = NULL;
    if (rc != MESH_OK) {
        *why = mesh_err_name(rc);
    } else if (mesh_json_parse_object((const char *)payload, plen, MESH_MAX_JSON_DEPTH,
                                      "token claims", &claims) != MESH_OK) {
        *why = "claims are not one JSON object";
    } else if (!json_is_string(json_object_get(claims, "iss")) ||
               strcmp(json_string_value(json_object_get(claims, "iss")), ctx->st->cfg->issuer) !=
                   0) {
        *why = "token was issued by another issuer";
    } else if (!json_is_string(json_object_get(claims, "sub")) ||
               !json_is_string(json_object_get(claims, "jti")) ||
               !json_is_integer(json_object_get(claims, "exp"))) {
        *why = "token lacks sub, jti or exp";
    } else {
        snprintf(sub, sublen, "%s", json_string_value(json_object_get(claims, "sub")));
        snprintf(jti, jtilen, "%s", json_string_value(json_object_get(claims, "jti")));
        *exp = json_integer_value(json_object_get(claims, "exp"));
        ok = true;
    }
    json_decref(claims);
    free(payload);
    return ok;
}

void revoke_endpoint(issuer_ctx_t *ctx, const issuer_req_t *req, issuer_resp_t *resp)
{
    auth_t a;
    if (!authenticate_charged(ctx, req, &a, resp)) {
        deny(ctx, req, NULL, NULL, resp);
        return;
    }
    if (!rate_ok(ctx, &a, resp)) {
        deny(ctx, req, &a, NULL, resp);
        return;
    }
    const config_t *cfg = ctx->st->cfg;
    const char *token = param(req, "token");
    const char *jti_param = param(req, "jti");
    if ((token == NULL) == (jti_param == NULL)) {
        resp_error(resp, 400, "invalid_request",
                   "send exactly one of token (the access "
                   "token) or jti (admins only)");
        deny(ctx, req, &a, NULL, resp);
        return;
    }
    int64_t now = (int64_t)time(NULL);
    char sub[320] = "", jti[128] = "";
    int64_t exp = 0;
    bool admin = config_is_admin(cfg, a.identity);
    if (token != NULL) {
        const char *why = "";
        if (!read_own_token(ctx, token, sub, sizeof(sub), jti, sizeof(jti), &exp, &why)) {
            /* RFC 7009 §2.2: an invalid token is answered 200; say why for humans. */
            resp->status = 200;
            resp->body = json_pack("{s:b, s:s}", "revoked", 0, "detail",
                                   "not a token this issuer signed; nothing was revoked");
            log_msg(LOG_INFO, "revoke: not our token", "%s", why);
            return;
        }
        if (strcmp(sub, a.identity) != 0 && !admin) {
            resp_error(resp, 403, "access_denied",
                       "the token belongs to %s; only %s or an "
                       "admin may revoke it",
                       sub, sub);
            deny(ctx, req, &a, NULL, resp);
            return;
        }
    } else {
        if (!admin) {
            resp_error(resp, 403, "access_denied",
                       "revoking by jti needs an admin identity "
                       "(config admins[]); %s is not one: send the token itself instead",
                       a.identity);
            deny(ctx, req, &a, NULL, resp);
            return;
        }
        if (strlen(jti_param) != MESH_JTI_LEN) {
            resp_error(resp, 400, "invalid_request",
                       "jti must be the %d-character jti claim "
                       "of the token",
                       MESH_JTI_LEN);
            deny(ctx, req, &a, NULL, resp);
            return;
        }
        snprintf(jti, sizeof(jti), "%s", jti_param);
        exp = now + cfg->ttl_max + cfg->skew; /* the longest any of our tokens can live */
    }
    int64_t seq = 0;
    mesh_err_t rc = store_revoke(ctx->store, jti, exp, now, &seq);
    if (rc != MESH_OK) {
        log_msg(LOG_ERROR, "revocation not stored", "%s: %s", mesh_strerror(rc), mesh_err_detail());
        resp_error(resp, 503, "temporarily_unavailable",
                   "the revocation could not be stored; "
                   "retry");
        deny(ctx, req, &a, NULL, resp);
        return;
    }
    metrics_revocation(ctx->metrics);
    audit(ctx, req, &a, NULL, NULL, jti, 0, "revoked", NULL);
    resp->status = 200;
    resp->no_store = true;
    resp->body = json_pack("{s:b, s:s, s:I, s:I}", "revoked", 1, "jti", jti, "exp", (json_int_t)exp,
                           "seq", (json_int_t)seq);
}

typedef struct {
    json_t *arr;
    int64_t last;
    size_t n;
} feed_t;

static bool feed_cb(void *p, int64_t seq, const char *key, int64_t exp)
{
    feed_t *f = p;
    int64_t iat_before = 0;
    const char *value = NULL;
    json_t *e = NULL;
    switch (store_rev_key_parse(key, &iat_before, &value)) {
    case REV_SUBJECT: /* a revoked credential: every token it obtained before then */
        e = json_pack("{s:s, s:I, s:I}", "sub", value, "iat_before", (json_int_t)iat_before, "exp",
                      (json_int_t)exp);
        break;
    case REV_CERT: /* a revoked certificate: every token bound to it */
        e = json_pack("{s:s, s:I}", "x5t#S256", value, "exp", (json_int_t)exp);
        break;
    case REV_JTI:
        e = json_pack("{s:s, s:I}", "jti", value, "exp", (json_int_t)exp);
        break;
    }
    json_array_append_new(f->arr, e);
    f->last = seq;
    f->n++;
    return true;
}

void revocations_endpoint(issuer_ctx_t *ctx, const char *since, issuer_resp_t *resp)
{
    int64_t from = 0;
    if (since != NULL && !parse_ttl(since, &from)) {
        resp_error(resp, 400, "invalid_request",
                   "since must be a whole number (the seq of "
                   "the last answer, or 0)");
        return;
    }
    feed_t f = {.arr = json_array(), .last = from};
    int64_t last = 0;
    mesh_err_t rc = store_revocations_since(ctx->store, from, REVOCATIONS_PAGE, feed_cb, &f, &last);
    if (rc != MESH_OK) {
        json_decref(f.arr);
        resp_error(resp, 503, "temporarily_unavailable", "revocations cannot be read; retry");
        return;
    }
    /* A full page: continue from the last entry sent, not from the newest in the store. A
     * `since` beyond every seq this store assigned means the store was reset or replaced:
     * answering the lower seq tells the verifier to start again from 0. */
    int64_t seq = f.n == REVOCATIONS_PAGE ? f.last : last;
    resp->status = 200;
    resp->body = json_pack("{s:I, s:o}", "seq", (json_int_t)seq, "revoked", f.arr);
    if (f.n == REVOCATIONS_PAGE) {
        json_object_set_new(resp->body, "more", json_true());
    }
}
