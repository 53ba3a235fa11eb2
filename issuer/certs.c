/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POST /v1/certificate: request -> CSR checks -> authentication (current certificate or join
 * token) -> names decided by the identity and certificates.services[] -> signed by the issuing
 * CA (ca/online.h) -> recorded -> response. The CSR contributes only its public key.
 */
#include "certs.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <mesh/util.h>

#include "audit.h"
#include "join_tokens.h"
#include "log.h"
#include "online.h"

typedef struct {
    const char *method; /* renewal | join_token */
    char identity[MESH_MAX_SPIFFE_ID + 1];
    const cfg_cert_service_t *svc;
    char join_hash[48];
} cert_auth_t;

static void refuse(issuer_ctx_t *ctx, const issuer_req_t *req, const cert_auth_t *a,
                   issuer_resp_t *resp)
{
    const char *err = json_string_value(json_object_get(resp->body, "error"));
    audit_event_t ev = {
        .time = (int64_t)time(NULL),
        .identity = a != NULL ? a->identity : "",
        .auth_method = a != NULL && a->method ? a->method : "",
        .outcome = "certificate_denied",
        .reason = err ? err : "server_error",
        .source = req->source ? req->source : "",
    };
    metrics_cert_refused(ctx->metrics, err ? err : "server_error");
    audit_log(stderr, &ev);
}

static void store_failed(issuer_resp_t *resp)
{
    log_msg(LOG_ERROR, "store failed", "%s", mesh_err_detail());
    resp_error(resp, 503, "temporarily_unavailable", "the issuer's store failed; retry");
}

/* Body: exactly {"csr": "..."}; unknown members are named (a typo is not ignored). */
static const char *csr_param(const issuer_req_t *req, issuer_resp_t *resp)
{
    const char *csr = NULL;

    for (size_t i = 0; i < req->n_params; i++) {
        if (strcmp(req->params[i].name, "csr") != 0) {
            resp_error(resp, 400, "invalid_request",
                       "unknown member '%.64s'; the body is {\"csr\": \"<PEM CERTIFICATE "
                       "REQUEST>\"}",
                       req->params[i].name);
            return NULL;
        }
        csr = req->params[i].value;
    }
    if (csr == NULL || csr[0] == '\0') {
        resp_error(resp, 400, "invalid_request",
                   "csr is required: {\"csr\": \"<PEM CERTIFICATE REQUEST>\"} (openssl req -new)");
    }
    return csr;
}

/* "spiffe://<td>/<name>" of a configured service, else NULL. */
static const cfg_cert_service_t *service_of(const config_t *cfg, const char *id)
{
    char prefix[300];
    int n = snprintf(prefix, sizeof(prefix), "spiffe://%s/", cfg->certs.trust_domain);

    if (n < 0 || (size_t)n >= sizeof(prefix) || strncmp(id, prefix, (size_t)n) != 0) {
        return NULL;
    }
    return config_cert_service(cfg, id + n);
}

static bool auth_renewal(issuer_ctx_t *ctx, const issuer_req_t *req, cert_auth_t *a,
                         issuer_resp_t *resp)
{
    const tls_peer_t *p = req->peer;
    issued_cert_rec_t rec;
    mesh_err_t rc;

    a->method = "renewal";
    if (!p->verified) {
        /* contract: an expired or revoked certificate is known but may not renew (403) */
        resp_error(resp, p->lapsed ? 403 : 401, p->lapsed ? "access_denied" : "invalid_client",
                   "client certificate rejected: %s; a certificate renews only while it is "
                   "valid and not revoked: get a new one with a join token "
                   "(mesh-issuer join-token create)",
                   p->error);
        return false;
    }
    (void)snprintf(a->identity, sizeof(a->identity), "%s", p->identity ? p->identity : "");
    if ((a->svc = service_of(ctx->st->cfg, a->identity)) == NULL) {
        resp_error(resp, 403, "access_denied",
                   "%.300s may not get certificates from this issuer: it is not spiffe://%s/ "
                   "and a service in certificates.services[]",
                   a->identity, ctx->st->cfg->certs.trust_domain);
        return false;
    }
    /* revoked by `cert revoke`: refused at once, before the CRL reaches the TLS verdict */
    rc = store_issued_by_x5t(ctx->store, p->x5t, &rec);
    if (rc == MESH_OK && rec.revoked_at != 0) {
        resp_error(resp, 403, "access_denied",
                   "client certificate %s is revoked; get a new one with a join token", rec.serial);
        return false;
    }
    if (rc != MESH_OK && rc != MESH_ERR_NOT_FOUND) {
        store_failed(resp);
        return false;
    }
    return true;
}

static bool auth_join(issuer_ctx_t *ctx, const issuer_req_t *req, cert_auth_t *a,
                      issuer_resp_t *resp)
{
    join_token_rec_t rec;
    int64_t now = (int64_t)time(NULL);
    const char *why = NULL;
    mesh_err_t rc;

    a->method = "join_token";
    if (join_token_hash(req->join_token, a->join_hash) != MESH_OK) {
        why = "malformed";
    } else if ((rc = store_join_get(ctx->store, a->join_hash, &rec)) == MESH_ERR_NOT_FOUND) {
        why = "unknown";
    } else if (rc != MESH_OK) {
        store_failed(resp);
        return false;
    } else if (rec.revoked) {
        why = "revoked";
    } else if (rec.used_at != 0) {
        why = "used";
    } else if (rec.expires <= now) {
        why = "expired";
    }
    if (why != NULL) {
        log_msg(LOG_INFO, "join token rejected", "%s (from %s)", why, req->source);
        resp_error(resp, 401, "invalid_client",
                   "join token rejected: unknown, already used, revoked or expired; a join "
                   "token works once, within its --ttl; ask for a new one "
                   "(mesh-issuer join-token create)");
        return false;
    }
    (void)snprintf(a->identity, sizeof(a->identity), "spiffe://%s/%s",
                   ctx->st->cfg->certs.trust_domain, rec.service);
    if ((a->svc = config_cert_service(ctx->st->cfg, rec.service)) == NULL) {
        resp_error(resp, 403, "access_denied",
                   "the join token is for service '%s', which certificates.services[] no "
                   "longer lists",
                   rec.service);
        return false;
    }
    return true;
}

/* Exactly one way in: the current certificate, or a join token. */
static bool authenticate(issuer_ctx_t *ctx, const issuer_req_t *req, cert_auth_t *a,
                         issuer_resp_t *resp)
{
    bool cert = req->peer != NULL && req->peer->presented;
    bool join = req->join_token != NULL;
    int retry = 1;
    bool ok = false;

    if (req->authorization != NULL || req->mesh_client_id != NULL ||
        req->mesh_client_secret != NULL) {
        resp_error(resp, 400, "invalid_request",
                   "service tokens do not get certificates; authenticate with the current "
                   "client certificate (renewal) or Mesh-Join-Token (first issuance)");
    } else if (cert && join) {
        resp_error(resp, 400, "invalid_request",
                   "a client certificate and Mesh-Join-Token together; use exactly one");
    } else if (!cert && !join) {
        resp_error(resp, 401, "invalid_client",
                   "no authentication: present the current client certificate to renew it, "
                   "or send Mesh-Join-Token for a first certificate");
    } else {
        ok = cert ? auth_renewal(ctx, req, a, resp) : auth_join(ctx, req, a, resp);
    }
    if (!ok && resp->status == 401) { /* guessing join tokens spends the source's budget */
        (void)state_rl_take(ctx->st->rl_source, req->source ? req->source : "", &retry);
    }
    return ok;
}

static bool listed(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static bool ip_listed(char *const *v, size_t n, const char *s)
{
    unsigned char a[16], b[16];
    int af = strchr(s, ':') ? AF_INET6 : AF_INET;

    for (size_t i = 0; i < n; i++) {
        if (inet_pton(af, s, a) == 1 && inet_pton(af, v[i], b) == 1 &&
            memcmp(a, b, af == AF_INET ? 4 : 16) == 0) {
            return true;
        }
    }
    return false;
}

/* Every name the CSR asks for must be one the identity may have; a name it may not have is
 * refused and named, never dropped silently. */
static bool names_allowed(const ca_csr_t *csr, const cert_auth_t *a, issuer_resp_t *resp)
{
    const char *const *names;
    size_t n = ca_csr_names(csr, &names);
    const char *cn = ca_csr_cn(csr);

    if (cn[0] != '\0' && strcmp(cn, a->svc->name) != 0 && !listed(a->svc->dns, a->svc->n_dns, cn)) {
        resp_error(resp, 400, "invalid_request",
                   "csr subject CN '%.64s' is not a name %s may have; use CN=%s or leave it out",
                   cn, a->identity, a->svc->name);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = strchr(names[i], ':') + 1;
        bool ok = (strncmp(names[i], "URI:", 4) == 0 && strcmp(v, a->identity) == 0) ||
                  (strncmp(names[i], "DNS:", 4) == 0 && listed(a->svc->dns, a->svc->n_dns, v)) ||
                  (strncmp(names[i], "IP:", 3) == 0 && ip_listed(a->svc->ips, a->svc->n_ips, v));
        if (!ok) {
            resp_error(resp, 400, "invalid_request",
                       "csr asks for the name %.300s, which %.300s may not have; remove it "
                       "(the certificate carries the names certificates.services[] gives "
                       "'%s')",
                       names[i], a->identity, a->svc->name);
            return false;
        }
    }
    return true;
}

static void respond(issuer_ctx_t *ctx, const cert_auth_t *a, const ca_online_cert_t *c,
                    issuer_resp_t *resp)
{
    const char *inter = ca_issuing_pem(ctx->st->issuing);
    size_t n = strlen(c->pem) + strlen(inter) + 1;
    char *chain = malloc(n);

    if (chain == NULL) {
        resp_error(resp, 500, "server_error", "out of memory");
        return;
    }
    (void)snprintf(chain, n, "%s%s", c->pem, inter);
    resp->status = 200;
    resp->no_store = true;
    json_decref(resp->body);
    resp->body = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "certificate", c->pem, "chain", chain,
                           "serial", c->serial, "spiffe_id", a->identity, "not_before",
                           (json_int_t)c->not_before, "not_after", (json_int_t)c->not_after);
    free(chain);
    if (resp->body == NULL) {
        resp_error(resp, 500, "server_error", "out of memory");
    }
}

static bool sign_and_record(issuer_ctx_t *ctx, const ca_csr_t *csr, const cert_auth_t *a,
                            ca_online_cert_t *out, issuer_resp_t *resp)
{
    const cfg_certs_t *cc = &ctx->st->cfg->certs;
    int64_t now = (int64_t)time(NULL);
    ca_online_req_t r = {
        .service = a->svc->name,
        .trust_domain = cc->trust_domain,
        .dns = (const char *const *)a->svc->dns,
        .n_dns = a->svc->n_dns,
        .ips = (const char *const *)a->svc->ips,
        .n_ips = a->svc->n_ips,
        .lifetime = a->svc->lifetime ? a->svc->lifetime : cc->default_lifetime,
        .now = now,
    };
    issued_cert_rec_t rec = {.not_before = 0};
    mesh_err_t rc;

    /* the join token is spent only now, when nothing else can refuse the request; one
     * statement decides between two concurrent uses (store_join_consume) */
    if (a->join_hash[0] != '\0' &&
        (rc = store_join_consume(ctx->store, a->join_hash, now)) != MESH_OK) {
        if (rc != MESH_ERR_NOT_FOUND) {
            store_failed(resp);
        } else {
            resp_error(resp, 401, "invalid_client",
                       "join token rejected: it was used by another request just now");
        }
        return false;
    }
    if ((rc = ca_online_sign(ctx->st->issuing, csr, &r, out)) != MESH_OK) {
        log_msg(LOG_ERROR, "cannot sign a certificate", "%s", mesh_err_detail());
        resp_error(resp, 500, "server_error", "the certificate could not be signed");
        return false;
    }
    (void)snprintf(rec.serial, sizeof(rec.serial), "%s", out->serial);
    (void)snprintf(rec.spiffe_id, sizeof(rec.spiffe_id), "%s", a->identity);
    (void)snprintf(rec.x5t, sizeof(rec.x5t), "%s", out->x5t);
    (void)snprintf(rec.auth_method, sizeof(rec.auth_method), "%s", a->method);
    rec.not_before = out->not_before;
    rec.not_after = out->not_after;
    /* inventory first: a certificate the store does not know is never handed out */
    if ((rc = store_issued_insert(ctx->store, &rec)) != MESH_OK) {
        store_failed(resp);
        return false;
    }
    return true;
}

void certificate_endpoint(issuer_ctx_t *ctx, const issuer_req_t *req, issuer_resp_t *resp)
{
    cert_auth_t a = {.method = NULL};
    ca_csr_t *csr = NULL;
    ca_online_cert_t c = {.pem = NULL};
    const char *pem = csr_param(req, resp);
    int retry = 1;
    mesh_err_t rc;

    if (pem == NULL) {
        refuse(ctx, req, NULL, resp);
        return;
    }
    if (!authenticate(ctx, req, &a, resp)) {
        refuse(ctx, req, a.identity[0] ? &a : NULL, resp);
        return;
    }
    if (!state_rl_take(ctx->st->rl_identity, a.identity, &retry)) {
        resp_error(resp, 429, "slow_down",
                   "too many certificate requests from %.300s; retry after %d s", a.identity,
                   retry);
        resp->retry_after = retry;
        refuse(ctx, req, &a, resp);
        return;
    }
    if ((rc = ca_csr_parse(pem, strlen(pem), &csr)) != MESH_OK) {
        resp_error(resp, 400, "invalid_request", "%s", mesh_err_detail());
        refuse(ctx, req, &a, resp);
        return;
    }
    if (!names_allowed(csr, &a, resp) || !sign_and_record(ctx, csr, &a, &c, resp)) {
        refuse(ctx, req, &a, resp);
        goto out;
    }
    respond(ctx, &a, &c, resp);
    if (resp->status == 200) {
        audit_event_t ev = {
            .time = (int64_t)time(NULL),
            .identity = a.identity,
            .auth_method = a.method,
            .lifetime = c.not_after - c.not_before,
            .outcome = "certificate_issued",
            .source = req->source ? req->source : "",
            .serial = c.serial,
        };
        metrics_cert_issued(ctx->metrics, a.method);
        audit_log(stderr, &ev);
    }
out:
    ca_online_cert_clear(&c);
    ca_csr_free(csr);
}

typedef struct {
    ca_crl_entry_t *v;
    char (*serials)[48];
    size_t n, cap;
    bool oom;
} crl_list_t;

static bool crl_add(void *p, const issued_cert_rec_t *r)
{
    crl_list_t *l = p;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        ca_crl_entry_t *v = realloc(l->v, cap * sizeof(*v));
        char(*s)[48] = v ? realloc(l->serials, cap * sizeof(*s)) : NULL;
        if (v != NULL) {
            l->v = v;
        }
        if (s == NULL) {
            l->oom = true;
            return false;
        }
        l->serials = s;
        l->cap = cap;
    }
    (void)snprintf(l->serials[l->n], sizeof(l->serials[l->n]), "%s", r->serial);
    l->v[l->n].revoked_at = r->revoked_at;
    l->n++;
    return true;
}

mesh_err_t certs_crl_pem(const ca_issuing_t *ca, store_t *store, int64_t now, int64_t next_in,
                         char **pem, size_t *len)
{
    crl_list_t l = {.v = NULL};
    mesh_err_t rc = store_issued_list(store, true, now, crl_add, &l);

    for (size_t i = 0; i < l.n; i++) {
        l.v[i].serial = l.serials[i]; /* stable only once the list stopped growing */
    }
    if (rc == MESH_OK && l.oom) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    if (rc == MESH_OK) {
        rc = ca_online_crl(ca, l.v, l.n, now, now + next_in, pem, len);
    }
    free(l.v);
    free(l.serials);
    return rc;
}

mesh_err_t certs_crl_write(const ca_issuing_t *ca, store_t *store, const char *path, int64_t now)
{
    char *pem = NULL;
    size_t len = 0;
    mesh_err_t rc = certs_crl_pem(ca, store, now, MESH_CRL_FILE_NEXT_S, &pem, &len);

    if (rc == MESH_OK) {
        rc = mesh_file_write_atomic(path, pem, len, 0644, true);
    }
    free(pem);
    return rc;
}

bool certs_crl_build(const issuer_state_t *st, store_t *store, int64_t now, int64_t next_in,
                     char **pem, size_t *len, issuer_resp_t *resp)
{
    mesh_err_t rc = certs_crl_pem(st->issuing, store, now, next_in, pem, len);

    if (rc != MESH_OK) {
        log_msg(LOG_ERROR, "cannot build the CRL", "%s", mesh_err_detail());
        resp_error(resp, 503, "temporarily_unavailable", "the CRL could not be built; retry");
        return false;
    }
    return true;
}
