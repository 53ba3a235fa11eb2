/* SPDX-License-Identifier: Apache-2.0 */
/* One proxy request: which front end, its headers into an authz_req_t, the verdict out. */
#include "server_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mesh/limits.h>
#include <mesh/x509.h>

#include "decide.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

/* The header that carries nginx's $ssl_client_escaped_cert (docs/AUTHZ.md). */
#define NGINX_CERT_HEADER "X-Client-Cert"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The first value of `name` and how often it came. */
static const char *header(const struct evkeyvalq *h, const char *name, int *count)
{
    const char *first = NULL;
    int n = 0;
    for (const struct evkeyval *kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        if (strcasecmp(kv->key, name) == 0) {
            first = n == 0 ? kv->value : first;
            n++;
        }
    }
    if (count != NULL) {
        *count = n;
    }
    return first;
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return NULL;
    }
}

static void reply(struct evhttp_request *req, const decision_t *d)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "Cache-Control", "no-store");
    if (d->www[0] != '\0') {
        evhttp_add_header(out, "WWW-Authenticate", d->www);
    }
    if (d->status == 503 || d->status == 429) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%lld", (long long)(d->retry_after > 0 ? d->retry_after : 5));
        evhttp_add_header(out, "Retry-After", ra);
    }
    char body[256];
    if (d->status == 200) {
        snprintf(body, sizeof(body), "{\"result\":\"%s\"}", d->outcome);
    } else {
        snprintf(body, sizeof(body), "{\"error\":\"%s\",\"reason\":\"%s\"}", d->error, d->reason);
    }
    struct evbuffer *b = evbuffer_new();
    if (b != NULL) {
        evbuffer_add(b, body, strlen(body));
    }
    evhttp_send_reply(req, d->status,
                      d->status == 200   ? "OK"
                      : d->status == 429 ? "Too Many Requests"
                                         : "Refused",
                      b);
    evbuffer_free(b);
}

/* A verified claim printable as a header value (visible ASCII and spaces only). */
static bool printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
            return false;
        }
    }
    return true;
}

/* A claim's value for a header: no control character (CR, LF, NUL, DEL among them). */
static bool header_safe(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
            return false;
        }
    }
    return true;
}

/* claims_to_headers of one verified token; an absent claim sets no header. */
static bool add_claims(struct evkeyvalq *out, const issuer_t *is, const mesh_identity_t *id)
{
    for (size_t i = 0; is != NULL && i < is->n_claims; i++) {
        char *v = NULL;
        mesh_err_t e = mesh_identity_claim(id, is->claims[i].claim, &v);
        if (e == MESH_ERR_NOT_FOUND) {
            continue;
        }
        bool ok = e == MESH_OK && strlen(v) <= MESH_MAX_CLAIM_STRING && header_safe(v) &&
                  evhttp_add_header(out, is->claims[i].header, v) == 0;
        mesh_free(v);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool add_key_identity(struct evhttp_request *req, const api_key_t *k)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char sub[MESH_MAX_METRIC_LABEL + 16];
    snprintf(sub, sizeof(sub), "api-key:%s", k->name);
    return evhttp_add_header(out, "X-Mesh-Subject", sub) == 0 &&
           evhttp_add_header(out, "X-Mesh-Client-Id", k->name) == 0 &&
           evhttp_add_header(out, "X-Mesh-Bound", "false") == 0;
}

static bool add_identity(struct evhttp_request *req, const mesh_identity_t *id)
{
    struct {
        const char *name, *value;
    } h[] = {
        {"X-Mesh-Subject", mesh_identity_subject(id)},
        {"X-Mesh-Client-Id", mesh_identity_client_id(id)},
        {"X-Mesh-Audience", mesh_identity_audience(id)},
        {"X-Mesh-Scopes", mesh_identity_scopes(id)},
        {"X-Mesh-Token-Id", mesh_identity_jti(id)},
        {"X-Mesh-Bound", mesh_identity_bound(id) ? "true" : "false"},
    };
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        if (!printable(h[i].value)) {
            return false;
        }
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        if (evhttp_add_header(out, h[i].name, h[i].value) != 0) {
            return false;
        }
    }
    return true;
}

/* On a TLS listener: the proxy's certificate must carry an allowed SPIFFE ID. */
static bool proxy_allowed(struct evhttp_request *req, const listener_t *l)
{
    if (l->tls_cert == NULL) {
        return true; /* unix socket or loopback: the listener itself is the boundary */
    }
    struct evhttp_connection *con = evhttp_request_get_connection(req);
    struct bufferevent *bev = con ? evhttp_connection_get_bufferevent(con) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK) {
        return false;
    }
    unsigned char *der = NULL;
    int len = i2d_X509(peer, &der);
    char *id = NULL;
    bool ok = false;
    if (len > 0 && mesh_x509_spiffe_id(der, (size_t)len, &id) == MESH_OK) {
        for (size_t i = 0; i < l->n_proxies && !ok; i++) {
            ok = strcmp(l->proxies[i], id) == 0;
        }
    }
    mesh_free(id);
    OPENSSL_free(der);
    return ok;
}

static void simple(struct evhttp_request *req, decision_t *d, int status, const char *error,
                   const char *reason)
{
    d->status = status;
    d->outcome = status >= 500 ? "error" : "deny";
    d->error = error;
    d->reason = reason;
}

static const char *other_header(void *ctx, const char *name, int *count)
{
    return header(ctx, name, count);
}

/* Every identity header of an allowed request: the primary credential's X-Mesh-*, then the
 * claims_to_headers of each verified token. */
static bool add_all(struct evhttp_request *req, const decision_t *d)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    if (d->id != NULL && (!add_identity(req, d->id) || !add_claims(out, d->id_issuer, d->id))) {
        return false;
    }
    if (d->id == NULL && d->key != NULL && !add_key_identity(req, d->key)) {
        return false;
    }
    for (size_t i = 0; i < d->n_more; i++) {
        if (!add_claims(out, d->more_issuer[i], d->more[i])) {
            return false;
        }
    }
    return true;
}

void http_handle(struct evhttp_request *req, void *arg)
{
    const listener_t *l = arg;
    int64_t t0 = now_us();
    const char *uri = evhttp_request_get_uri(req);
    const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    authz_req_t rq = {0};
    decision_t d = {0};
    int n_headers = 0, n;
    for (const struct evkeyval *kv = in->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        n_headers++;
    }
    config_t *cfg = server_config();
    bool known_fe = true;
    if (strcmp(uri, "/nginx") == 0 || strncmp(uri, "/nginx?", 7) == 0) {
        rq.fe = FE_NGINX;
        int nm, nu, nh;
        rq.method = header(in, "X-Original-Method", &nm);
        rq.uri = header(in, "X-Original-URI", &nu);
        rq.host = header(in, "X-Original-Host", &nh);
        if (rq.host == NULL) {
            rq.host = header(in, "Host", &nh);
        }
        rq.cert = header(in, NGINX_CERT_HEADER, &n);
        rq.two_cert = n > 1;
        if (nm > 1 || nu > 1 || nh > 1) {
            simple(req, &d, 401, "invalid_request", "header_repeated");
        }
    } else if (strncmp(uri, "/envoy/", 7) == 0) {
        /* ext_authz http_service: path_prefix "/envoy" + the original path and query */
        rq.fe = FE_ENVOY;
        rq.method = method_name(evhttp_request_get_command(req));
        rq.uri = uri + 6;
        rq.host = header(in, "Host", NULL);
        rq.cert = header(in, "X-Forwarded-Client-Cert", &n);
        rq.two_cert = n > 1;
    } else if (strcmp(uri, "/forward") == 0 || strncmp(uri, "/forward?", 9) == 0 ||
               strcmp(uri, "/forward/") == 0) {
        rq.fe = FE_FORWARD;
        int nm, nu, nh;
        rq.method = header(in, "X-Forwarded-Method", &nm);
        rq.uri = header(in, "X-Forwarded-Uri", &nu);
        rq.host = header(in, "X-Forwarded-Host", &nh);
        rq.cert = header(in, "X-Forwarded-Tls-Client-Cert", &n);
        rq.two_cert = n > 1;
        if (nm > 1 || nu > 1 || nh > 1) {
            simple(req, &d, 401, "invalid_request", "header_repeated");
        }
    } else {
        rq.fe = FE_NONE;
        known_fe = false;
    }
    rq.header = other_header;
    rq.hctx = (void *)in;
    rq.authorization = header(in, "Authorization", &n);
    rq.two_auth = n > 1;
    if (cfg == NULL) {
        simple(req, &d, 503, "temporarily_unavailable", "stopping");
    } else if (!proxy_allowed(req, l)) {
        simple(req, &d, 403, "access_denied", "proxy_not_allowed");
    } else if (!known_fe) {
        simple(req, &d, 404, "not_found", "no_front_end");
    } else if (n_headers > MESH_MAX_HEADER_COUNT) {
        simple(req, &d, 401, "invalid_request", "too_many_headers");
    } else if (d.status == 0) {
        authz_decide(cfg, &rq, &d);
    }
    if (d.status == 200 && !add_all(req, &d)) {
        authz_decision_free(&d);
        d.key = NULL;
        evhttp_clear_headers(evhttp_request_get_output_headers(req));
        simple(req, &d, 401, "invalid_token", "claim_not_printable");
    }
    if (d.key != NULL) {
        metrics_legacy_key(d.key_issuer->name, d.key->name, d.reason);
    }
    if (d.id != NULL) {
        metrics_client(mesh_identity_client_id(d.id), d.outcome);
    }
    int64_t took = now_us() - t0;
    reply(req, &d);
    metrics_decision(d.route ? d.route->name : NULL, d.outcome, d.reason, took);
    log_decision(&rq, &d, took);
    authz_decision_free(&d);
    config_unref(cfg);
}

void metrics_handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (strcmp(uri, "/metrics") == 0) {
        config_t *cfg = server_config();
        char *text = metrics_render(cfg);
        config_unref(cfg);
        if (text == NULL) {
            evbuffer_free(b);
            evhttp_send_error(req, 500, NULL);
            return;
        }
        evhttp_add_header(out, "Content-Type", "text/plain; version=0.0.4");
        evbuffer_add(b, text, strlen(text));
        free(text);
        evhttp_send_reply(req, 200, "OK", b);
    } else if (strcmp(uri, "/healthz") == 0) {
        evhttp_add_header(out, "Content-Type", "application/json");
        evbuffer_add_printf(b, "{\"status\":\"ok\"}");
        evhttp_send_reply(req, 200, "OK", b);
    } else {
        evhttp_add_header(out, "Content-Type", "application/json");
        evbuffer_add_printf(b, "{\"error\":\"not_found\"}");
        evhttp_send_reply(req, 404, "Not Found", b);
    }
    evbuffer_free(b);
}
