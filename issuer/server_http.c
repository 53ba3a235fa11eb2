/* SPDX-License-Identifier: Apache-2.0 */
/* Routing and HTTP framing: evhttp request -> issuer_req_t -> token.c -> JSON response. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h> /* the request's HTTP version: 2.1 has no getter */
#include <event2/keyvalq_struct.h>

#include <mesh/buf.h>
#include <mesh/limits.h>
#include <mesh/util.h>

#include "body.h"
#include "certs.h"
#include "log.h"
#include "server.h"
#include "token.h"

typedef struct {
    worker_t *w;
    conn_t *conn;
    struct evhttp_request *req;
    const char *source;
    issuer_state_t *st;
    bool close; /* the answer ends the connection: Connection: close */
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
    if (h->close || worker_draining(h->w) ||
        (h->st != NULL && server_conn_too_old(h->conn, h->st->cfg))) {
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

/*
 * Moves the body out of libevent into a bounded buffer (<mesh/buf.h>, wiped when freed) and
 * wipes libevent's copy as it goes: libevent frees its buffers without. (Its chunks are plain
 * heap memory for data read from a socket, so writing to them is allowed.) MESH_ERR_LIMIT
 * past the buffer's maximum; nothing of the body is left in `in` either way.
 */
static mesh_err_t body_take_evbuffer(struct evbuffer *in, mesh_buf_t *out)
{
    mesh_err_t rc = MESH_OK;
    int n = evbuffer_peek(in, -1, NULL, NULL, 0);
    struct evbuffer_iovec *v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL;
    if (n > 0 && v == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "request body");
    }
    n = n > 0 ? evbuffer_peek(in, -1, NULL, v, n) : 0;
    for (int i = 0; i < n; i++) {
        if (rc == MESH_OK) {
            rc = mesh_buf_append(out, v[i].iov_base, v[i].iov_len, "request body");
        }
        mesh_wipe(v[i].iov_base, v[i].iov_len);
    }
    free(v);
    evbuffer_drain(in, evbuffer_get_length(in));
    return rc;
}

static bool read_body(hctx_t *h, body_t *b, issuer_resp_t *resp)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(h->req);
    mesh_buf_t *text = mesh_buf_new(MESH_MAX_REQUEST_BODY);
    mesh_err_t rc = text != NULL ? body_take_evbuffer(in, text) : MESH_ERR_NOMEM;
    bool ok = false;
    if (rc == MESH_ERR_LIMIT) {
        resp_error(resp, 413, "invalid_request", "body larger than %d bytes",
                   MESH_MAX_REQUEST_BODY);
        goto out;
    }
    if (rc != MESH_OK) {
        resp_error(resp, 500, "server_error", "out of memory");
        goto out;
    }
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(h->req), "Content-Type");
    ok = body_parse(ct, mesh_buf_data(text), mesh_buf_len(text), b, resp);
out:
    mesh_buf_free(text); /* wipes: the body may hold a token or a client secret */
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
        .join_token = evhttp_find_header(hdrs, "Mesh-Join-Token"),
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

/* Without a certificates section the route is there and says why it cannot answer. */
static bool certs_enabled(hctx_t *h, issuer_resp_t *resp)
{
    if (h->st->cfg->certs.enabled) {
        return true;
    }
    resp_error(resp, 404, "not_found",
               "this issuer does not sign certificates: its config has no certificates section "
               "(docs/CERTIFICATES.md)");
    return false;
}

static void r_certificate(hctx_t *h, issuer_resp_t *resp)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(h->req), "Content-Type");
    if (!certs_enabled(h, resp)) {
        return;
    }
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        resp_error(resp, 415, "invalid_request",
                   "send Content-Type: application/json with {\"csr\": \"<PEM>\"}");
        return;
    }
    oauth_post(h, resp, certificate_endpoint);
}

static void r_crl(hctx_t *h, issuer_resp_t *resp)
{
    char *pem = NULL;
    size_t len = 0;
    if (!certs_enabled(h, resp)) {
        return;
    }
    /* signed on request from the store: always the revocations in force now */
    if (!certs_crl_build(h->st, worker_store(h->w), (int64_t)time(NULL), MESH_CRL_SERVED_NEXT_S,
                         &pem, &len, resp)) {
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(h->req), "Cache-Control", "no-cache");
    send_text(h, 200, "application/x-pem-file", pem, len);
    free(pem);
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
    {"/v1/certificate", EVHTTP_REQ_POST, "POST", r_certificate, RL_AUTH},
    {"/v1/crl", GETS, "GET, HEAD", r_crl, RL_SOURCE},
    {"/.well-known/jwks.json", GETS, "GET, HEAD", r_jwks, RL_SOURCE},
    {"/.well-known/oauth-authorization-server", GETS, "GET, HEAD", r_metadata, RL_SOURCE},
    {"/v1/audiences", GETS, "GET, HEAD", r_audiences, RL_SOURCE},
    {"/healthz", GETS, "GET, HEAD", r_healthz, RL_NONE},
    {"/metrics", GETS, "GET, HEAD", r_metrics, RL_NONE},
};

/* ---- framing: one reading of where a request ends, or none ---- */

/*
 * libevent reads the body by its own reading of the headers before http_handle runs, and
 * serves whatever follows as the next request. Where two readings are possible (two
 * Content-Lengths, a transfer coding it does not know, a field name it does not match), a
 * front end may have read another request boundary than libevent: the request is refused
 * and the connection closed (Connection: close), so the bytes after it are never read.
 */

/* Every byte of `s` is a letter, a digit or one of `extra`. */
static bool all_of(const char *s, const char *extra)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(extra, c) != NULL)) {
            return false;
        }
    }
    return true;
}

/* RFC 9110 §5.6.2 */
static bool is_token(const char *s)
{
    return *s != '\0' && all_of(s, "!#$%&'*+-.^_`|~");
}

/* RFC 9112 §3.2: uri-host [ ":" port ] (the characters RFC 3986 §3.2.2 allows; may be "") */
static bool host_ok(const char *v)
{
    return all_of(v, "-._~!$&'()*+,;=:%[]");
}

/* RFC 9112 §6.3: 1*DIGIT (libevent has dropped the blanks around it, but for a leading tab) */
static bool length_ok(const char *v, bool *zero)
{
    v += strspn(v, " \t");
    size_t n = strspn(v, "0123456789");
    *zero = n > 0 && v[strspn(v, "0")] == '\0';
    return n > 0 && v[n] == '\0';
}

/* RFC 9112 §6.1, §6.3, §7: the codings of every Transfer-Encoding line in order; the last
 * must be chunked, and chunked only once. 0 when the one coding is chunked, and libevent
 * (which reads chunked only from one line that says exactly that) reads it so too. */
static int te_check(struct evkeyvalq *in, char *why, size_t cap)
{
    size_t lines = 0, chunked = 0, others = 0;
    bool last_chunked = false, exact = false;
    for (struct evkeyval *e = in->tqh_first; e != NULL; e = e->next.tqe_next) {
        if (strcasecmp(e->key, "Transfer-Encoding") != 0) {
            continue;
        }
        lines++;
        exact = strcasecmp(e->value, "chunked") == 0;
        for (const char *p = e->value; *p != '\0';) {
            p += strspn(p, " \t,");
            size_t n = strcspn(p, " \t,;");
            if (n == 0) {
                p += strcspn(p, ","); /* parameters of the coding before */
                continue;
            }
            last_chunked = n == 7 && strncasecmp(p, "chunked", 7) == 0;
            chunked += last_chunked;
            others += !last_chunked;
            p += n;
        }
    }
    if (!last_chunked || chunked != 1) {
        snprintf(why, cap,
                 "Transfer-Encoding without chunked as its one final coding: the body's length "
                 "cannot be known (RFC 9112 §6.3); send Content-Length or chunked");
        return 400;
    }
    if (others > 0) {
        snprintf(why, cap,
                 "Transfer-Encoding: only chunked is implemented; send the body "
                 "without other transfer codings");
        return 501;
    }
    if (lines != 1 || !exact) {
        snprintf(why, cap, "Transfer-Encoding must be one line saying chunked");
        return 400;
    }
    return 0;
}

/* 0 when the request's framing has one reading; else the status to refuse it with (400, or
 * 501 for a transfer coding the server lacks) and `why` says what to change. */
static int framing_check(struct evhttp_request *req, char *why, size_t cap)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    size_t hosts = 0, lengths = 0, codings = 0;
    const char *host = NULL, *length = NULL;
    for (struct evkeyval *e = in->tqh_first; e != NULL; e = e->next.tqe_next) {
        if (!is_token(e->key)) {
            /* RFC 9112 §5.1: "Content-Length :" is no Content-Length to libevent */
            snprintf(why, cap,
                     "a header field name is not a token (RFC 9110 §5.1); no blank "
                     "before the colon");
            return 400;
        }
        if (strcasecmp(e->key, "Host") == 0) {
            hosts++;
            host = e->value;
        } else if (strcasecmp(e->key, "Content-Length") == 0) {
            lengths++;
            length = e->value;
        } else if (strcasecmp(e->key, "Transfer-Encoding") == 0) {
            codings++;
        }
    }
    bool http11 = req->major > 1 || (req->major == 1 && req->minor >= 1);
    if (hosts > 1 || (http11 && hosts == 0) || (host != NULL && !host_ok(host))) {
        snprintf(why, cap,
                 "an HTTP/1.1 request needs exactly one valid Host header "
                 "(RFC 9112 §3.2)");
        return 400;
    }
    /* HEAD is read without a body: any framing of one would be read as the next request */
    bool bodyless = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
    if (codings > 0) {
        if (!http11) {
            snprintf(why, cap,
                     "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1); "
                     "send Content-Length");
            return 400;
        }
        if (lengths > 0) {
            snprintf(why, cap,
                     "Transfer-Encoding and Content-Length together (RFC 9112 "
                     "§6.1); send one of them");
            return 400;
        }
        int status = te_check(in, why, cap);
        if (status != 0) {
            return status;
        }
        if (bodyless) {
            snprintf(why, cap, "HEAD has no body; send no Transfer-Encoding");
            return 400;
        }
    }
    bool zero = true;
    if (lengths > 1) {
        snprintf(why, cap, "Content-Length is sent more than once (RFC 9112 §6.3); send it once");
        return 400;
    }
    if (length != NULL && !length_ok(length, &zero)) {
        snprintf(why, cap, "Content-Length '%.32s' is not a decimal number (RFC 9112 §6.3)",
                 length);
        return 400;
    }
    if (bodyless && !zero) {
        snprintf(why, cap, "HEAD has no body; send no Content-Length or 0");
        return 400;
    }
    return 0;
}

/*
 * Refused framing is logged at most MESH_LOG_REFUSALS_PER_S lines a second over all workers;
 * the rest are counted and the count is said once the next second begins (a flood of bad
 * requests must not fill the disk, as it did in the examples' server).
 */
static pthread_mutex_t refusal_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t refusal_second;
static unsigned refusal_lines;
static unsigned long refusal_suppressed;

static void log_refusal(const char *source, const char *why)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&refusal_lock);
    unsigned long suppressed = 0;
    if (now != refusal_second) {
        suppressed = refusal_suppressed;
        refusal_second = now;
        refusal_lines = 0;
        refusal_suppressed = 0;
    }
    bool say = refusal_lines < MESH_LOG_REFUSALS_PER_S;
    refusal_lines += say;
    refusal_suppressed += !say;
    pthread_mutex_unlock(&refusal_lock);
    if (suppressed > 0) {
        log_msg(LOG_INFO, "request framing refused",
                "%lu more refusals in the second before were not logged (at most %d lines a "
                "second)",
                suppressed, MESH_LOG_REFUSALS_PER_S);
    }
    if (say) {
        log_msg(LOG_INFO, "request framing refused", "%s: %s", source, why);
    }
}

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
    char why[256];
    int refuse = framing_check(req, why, sizeof(why));
    if (refuse != 0) {
        log_refusal(h.source, why);
        resp_error(&resp, refuse, "invalid_request", "%s", why);
        h.close = true;
    } else if (too_many_headers(req)) {
        resp_error(&resp, 431, "invalid_request", "more than %d request headers",
                   MESH_MAX_HEADER_COUNT);
    } else if (route == NULL) {
        resp_error(&resp, 404, "not_found",
                   "no endpoint at this path; endpoints: POST "
                   "/v1/token, POST /v1/revoke, POST /v1/certificate, GET /v1/revocations, "
                   "/v1/crl, /v1/audiences, "
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
