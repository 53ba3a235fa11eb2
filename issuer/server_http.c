/* SPDX-License-Identifier: Apache-2.0 */
/* Routing and HTTP framing: evhttp request -> issuer_req_t -> token.c -> JSON response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <mesh/limits.h>

#include "log.h"
#include "server.h"
#include "token.h"

typedef struct {
    worker_t *w;
    conn_t *conn;
    struct evhttp_request *req;
    const char *source;
    issuer_state_t *st;
} hctx_t;

typedef void (*route_fn)(hctx_t *h, issuer_resp_t *resp);

typedef struct {
    const char *path;
    int methods;
    const char *allow;
    route_fn fn;
    int limit; /* the per-source rate limit: RL_* */
} route_t;

enum {
    RL_NONE,   /* cheap, unauthenticated: /healthz, /metrics */
    RL_SOURCE, /* every request takes from its source's bucket */
    RL_AUTH,   /* authenticating routes: an empty bucket refuses; failures take (token.c) */
};

static void send_text(hctx_t *h, int status, const char *ctype, const char *text, size_t len)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(h->req);
    evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    /* A connection ends after its maximum age: clients reconnect, and a new handshake is a
     * new look at the certificate and the trust material (RFC 9112 §9.6). */
    if (worker_draining(h->w) || (h->st != NULL && server_conn_too_old(h->conn, h->st->cfg))) {
        evhttp_add_header(out, "Connection", "close");
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf != NULL) {
        evbuffer_add(buf, text, len);
    }
    evhttp_send_reply(h->req, status, NULL, buf);
    evbuffer_free(buf);
}

static void send_resp(hctx_t *h, issuer_resp_t *resp)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(h->req);
    char *text = resp->body ? json_dumps(resp->body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text == NULL) {
        resp->status = 500;
        resp->no_store = true;
    }
    if (resp->no_store) {
        evhttp_add_header(out, "Cache-Control", "no-store");
        evhttp_add_header(out, "Pragma", "no-cache");
    }
    if (resp->www_authenticate[0] != '\0') {
        evhttp_add_header(out, "WWW-Authenticate", resp->www_authenticate);
    }
    if (resp->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", resp->retry_after);
        evhttp_add_header(out, "Retry-After", ra);
    }
    static const char fallback[] =
        "{\"error\":\"server_error\",\"error_description\":\"the response could not be built\"}";
    send_text(h, resp->status, "application/json", text ? text : fallback,
              text ? strlen(text) : sizeof(fallback) - 1);
    free(text);
    json_decref(resp->body);
    resp->body = NULL;
}

static void send_doc(hctx_t *h, const char *doc, const char *cache)
{
    evhttp_add_header(evhttp_request_get_output_headers(h->req), "Cache-Control", cache);
    send_text(h, 200, "application/json", doc, strlen(doc));
}

/* ---- request bodies ---- */

typedef struct {
    char *names[REQ_MAX_PARAMS];
    char *values[REQ_MAX_PARAMS];
    size_t n;
} body_t;

static void body_free(body_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->names[i]);
        if (b->values[i] != NULL) {
            size_t len = strlen(b->values[i]);
            memset(b->values[i], 0, len); /* may hold a token */
            free(b->values[i]);
        }
    }
    b->n = 0;
}

static bool body_add(body_t *b, const char *name, const char *value, issuer_resp_t *resp)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->names[i], name) == 0) {
            /* RFC 6749 §3.2: parameters MUST NOT be included more than once */
            resp_error(resp, 400, "invalid_request",
                       "parameter '%.64s' is sent more than "
                       "once; send it once",
                       name);
            return false;
        }
    }
    if (b->n == REQ_MAX_PARAMS) {
        resp_error(resp, 400, "invalid_request", "more than %d parameters", REQ_MAX_PARAMS);
        return false;
    }
    json_t *n = json_string(name), *v = json_string(value);
    bool utf8 = n != NULL && v != NULL;
    json_decref(n);
    json_decref(v);
    if (!utf8) {
        resp_error(resp, 400, "invalid_request", "parameters must be UTF-8 text");
        return false;
    }
    b->names[b->n] = strdup(name);
    b->values[b->n] = strdup(value);
    b->n++;
    if (b->names[b->n - 1] == NULL || b->values[b->n - 1] == NULL) {
        resp_error(resp, 500, "server_error", "out of memory");
        return false;
    }
    return true;
}

static bool parse_form(char *text, body_t *b, issuer_resp_t *resp)
{
    struct evkeyvalq kv;
    TAILQ_INIT(&kv);
    if (evhttp_parse_query_str(text, &kv) != 0) {
        evhttp_clear_headers(&kv);
        resp_error(resp, 400, "invalid_request",
                   "the form body is malformed; send "
                   "application/x-www-form-urlencoded key=value pairs joined by &");
        return false;
    }
    bool ok = true;
    for (struct evkeyval *e = kv.tqh_first; ok && e != NULL; e = e->next.tqe_next) {
        ok = body_add(b, e->key, e->value, resp);
    }
    evhttp_clear_headers(&kv);
    return ok;
}

static bool parse_json(const char *text, size_t len, body_t *b, issuer_resp_t *resp)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL || !json_is_object(o)) {
        resp_error(resp, 400, "invalid_request",
                   "the JSON body is malformed (%s); send one "
                   "object of string members",
                   o ? "not an object" : je.text);
        json_decref(o);
        return false;
    }
    const char *key;
    json_t *v;
    bool ok = true;
    json_object_foreach(o, key, v)
    {
        char num[32];
        const char *s = NULL;
        if (json_is_string(v)) {
            s = json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            s = num;
        } else {
            resp_error(resp, 400, "invalid_request", "member '%.64s' must be a string", key);
            ok = false;
            break;
        }
        if (strlen(s) != (json_is_string(v) ? json_string_length(v) : strlen(s))) {
            resp_error(resp, 400, "invalid_request", "member '%.64s' contains NUL", key);
            ok = false;
            break;
        }
        if (!(ok = body_add(b, key, s, resp))) {
            break;
        }
    }
    json_decref(o);
    return ok;
}

static bool read_body(hctx_t *h, body_t *b, issuer_resp_t *resp)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(h->req);
    size_t len = evbuffer_get_length(in);
    if (len > MESH_MAX_REQUEST_BODY) {
        resp_error(resp, 413, "invalid_request", "body larger than %d bytes",
                   MESH_MAX_REQUEST_BODY);
        return false;
    }
    char *text = malloc(len + 1);
    if (text == NULL) {
        resp_error(resp, 500, "server_error", "out of memory");
        return false;
    }
    evbuffer_copyout(in, text, len);
    text[len] = '\0';
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(h->req), "Content-Type");
    bool ok;
    if (memchr(text, '\0', len) != NULL) {
        resp_error(resp, 400, "invalid_request", "the body contains a NUL byte");
        ok = false;
    } else if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        /* %00 would decode to a NUL that silently cuts the value short */
        if (strstr(text, "%00") != NULL) {
            resp_error(resp, 400, "invalid_request", "a parameter contains %%00 (NUL)");
            ok = false;
        } else {
            ok = parse_form(text, b, resp);
        }
    } else if (strncasecmp(ct, "application/json", 16) == 0) {
        ok = parse_json(text, len, b, resp);
    } else {
        resp_error(resp, 415, "invalid_request",
                   "Content-Type '%.80s' is not accepted; send "
                   "application/x-www-form-urlencoded or application/json",
                   ct);
        ok = false;
    }
    memset(text, 0, len);
    free(text);
    return ok;
}

/* ---- routes ---- */

static void oauth_post(hctx_t *h, issuer_resp_t *resp,
                       void (*fn)(issuer_ctx_t *, const issuer_req_t *, issuer_resp_t *))
{
    body_t b = {.n = 0};
    if (!read_body(h, &b, resp)) {
        body_free(&b);
        return;
    }
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(h->req);
    issuer_req_t r = {
        .source = h->source,
        .peer = server_conn_peer(h->conn, h->st),
        .authorization = evhttp_find_header(hdrs, "Authorization"),
        .mesh_client_id = evhttp_find_header(hdrs, "Mesh-Client-Id"),
        .mesh_client_secret = evhttp_find_header(hdrs, "Mesh-Client-Secret"),
        .n_params = b.n,
    };
    for (size_t i = 0; i < b.n; i++) {
        r.params[i].name = b.names[i];
        r.params[i].value = b.values[i];
    }
    issuer_ctx_t ctx = {.st = h->st, .store = worker_store(h->w), .metrics = server_metrics()};
    fn(&ctx, &r, resp);
    body_free(&b);
}

static void r_token(hctx_t *h, issuer_resp_t *resp)
{
    oauth_post(h, resp, token_endpoint);
}

static void r_revoke(hctx_t *h, issuer_resp_t *resp)
{
    oauth_post(h, resp, revoke_endpoint);
}

static void r_revocations(hctx_t *h, issuer_resp_t *resp)
{
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(h->req));
    struct evkeyvalq kv;
    TAILQ_INIT(&kv);
    if (q != NULL && evhttp_parse_query_str(q, &kv) != 0) {
        evhttp_clear_headers(&kv);
        resp_error(resp, 400, "invalid_request", "malformed query; use ?since=N");
        return;
    }
    issuer_ctx_t ctx = {.st = h->st, .store = worker_store(h->w), .metrics = server_metrics()};
    revocations_endpoint(&ctx, evhttp_find_header(&kv, "since"), resp);
    evhttp_clear_headers(&kv);
}

static void r_jwks(hctx_t *h, issuer_resp_t *resp)
{
    char cache[64];
    snprintf(cache, sizeof(cache), "public, max-age=%d", h->st->cfg->jwks_max_age);
    send_doc(h, h->st->jwks_json, cache);
}

static void r_metadata(hctx_t *h, issuer_resp_t *resp)
{
    send_doc(h, h->st->metadata_json, "public, max-age=300");
}

static void r_audiences(hctx_t *h, issuer_resp_t *resp)
{
    send_doc(h, h->st->audiences_json, "no-cache");
}

static void r_healthz(hctx_t *h, issuer_resp_t *resp)
{
    resp->status = 200;
    resp->body = json_pack("{s:s}", "status", worker_draining(h->w) ? "draining" : "ok");
    resp->no_store = true;
}

static void r_metrics(hctx_t *h, issuer_resp_t *resp)
{
    char *text = metrics_render(server_metrics());
    if (text == NULL) {
        resp_error(resp, 500, "server_error", "out of memory");
        return;
    }
    send_text(h, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
}

#define GETS (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

static const route_t routes[] = {
    {"/v1/token", EVHTTP_REQ_POST, "POST", r_token, RL_AUTH},
    {"/v1/revoke", EVHTTP_REQ_POST, "POST", r_revoke, RL_AUTH},
    {"/v1/revocations", GETS, "GET, HEAD", r_revocations, RL_SOURCE},
    {"/.well-known/jwks.json", GETS, "GET, HEAD", r_jwks, RL_SOURCE},
    {"/.well-known/oauth-authorization-server", GETS, "GET, HEAD", r_metadata, RL_SOURCE},
    {"/v1/audiences", GETS, "GET, HEAD", r_audiences, RL_SOURCE},
    {"/healthz", GETS, "GET, HEAD", r_healthz, RL_NONE},
    {"/metrics", GETS, "GET, HEAD", r_metrics, RL_NONE},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool too_many_headers(struct evhttp_request *req)
{
    size_t n = 0;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    for (struct evkeyval *e = in->tqh_first; e != NULL; e = e->next.tqe_next) {
        n++;
    }
    return n > MESH_MAX_HEADER_COUNT;
}

/*
 * Whether the source address still has budget. A connection whose client certificate verified
 * is limited by identity instead (token.c), so a busy service never spends the budget of the
 * others behind the same address (one node, one NAT).
 */
static bool source_ok(hctx_t *h, int limit, int *retry)
{
    if (limit == RL_NONE || server_conn_peer(h->conn, h->st)->verified) {
        return true;
    }
    return limit == RL_AUTH ? state_rl_peek(h->st->rl_source, h->source, retry)
                            : state_rl_take(h->st->rl_source, h->source, retry);
}

void http_handle(struct evhttp_request *req, void *arg)
{
    double t0 = now_s();
    hctx_t h = {.w = arg, .req = req, .conn = server_conn_of(req)};
    if (h.conn == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    h.st = server_state_get();
    server_conn_answering(h.conn, h.st, req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr, &port);
    h.source = addr ? addr : "";

    issuer_resp_t resp = {.status = 0};
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    const route_t *route = NULL;
    for (size_t i = 0; path != NULL && i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, path) == 0) {
            route = &routes[i];
        }
    }
    int method = (int)evhttp_request_get_command(req);
    if (too_many_headers(req)) {
        resp_error(&resp, 431, "invalid_request", "more than %d request headers",
                   MESH_MAX_HEADER_COUNT);
    } else if (route == NULL) {
        resp_error(&resp, 404, "not_found",
                   "no endpoint at this path; endpoints: POST "
                   "/v1/token, POST /v1/revoke, GET /v1/revocations, /v1/audiences, "
                   "/.well-known/jwks.json, /.well-known/oauth-authorization-server, "
                   "/healthz, /metrics");
    } else if ((route->methods & method) == 0) {
        resp_error(&resp, 405, "invalid_request", "%s accepts only %s", route->path, route->allow);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", route->allow);
    } else {
        int retry = 1;
        if (!source_ok(&h, route->limit, &retry)) {
            resp_error(&resp, 429, "slow_down", "too many requests from %s; retry after %d s",
                       h.source, retry);
            resp.retry_after = retry;
            metrics_denied(server_metrics(), "slow_down");
        } else {
            route->fn(&h, &resp);
        }
    }
    if (resp.status != 0) {
        send_resp(&h, &resp);
    }
    state_unref(h.st);
    metrics_request(server_metrics(), now_s() - t0);
}
