/* SPDX-License-Identifier: Apache-2.0 */
/* evhttp over bufferevent_openssl with client certificates: see https_server.h. */
#include "https_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mesh/limits.h>

#include <mesh/renew.h>
#include <mesh/util.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "log_limit.h"

struct https_server {
    struct event_base *base;
    struct evhttp *http;
    struct event *sigint, *sigterm;
    struct event *log_timer; /* armed while suppressed refusal lines wait for their summary */
    SSL_CTX *ctx;
    int port;
    const char *name;
    https_handler_fn fn;
    void *arg;
    log_limit_t refusals;
    long long (*clock)(void);
    /* Renewed identity files are picked up without a restart: on SIGHUP, and when a poll
     * sees the certificate or key file change (mesh renew, a renewing client). */
    https_server_opts_t o; /* the strings below are copies */
    char *cert_path, *key_path, *ca_path;
    struct event *sighup, *reload_timer;
    struct stat cert_st, key_st;
    unsigned reloads;
};

static long long monotonic_seconds(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (long long)ts.tv_sec;
}

bool https_socket_set_nodelay(evutil_socket_t fd)
{
    int one = 1;

    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0;
}

/* The summary of a flood is written within about a second of its interval's end, even when
 * no further request comes to trigger it. */
static void on_log_timer(evutil_socket_t fd, short what, void *arg)
{
    https_server_t *s = arg;

    (void)fd;
    (void)what;
    if (!log_limit_tick(&s->refusals, s->clock())) {
        (void)event_del(s->log_timer);
    }
}

void https_server_log_refusal(https_server_t *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof(line), fmt, ap); /* a cut-off log line is fine */
    va_end(ap);
    /* The path and reasons come from the peer: no control bytes (terminal escapes, fake
     * line breaks) reach the log. */
    for (char *p = line; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
            *p = '?';
        }
    }
    if (!log_limit_printf(&s->refusals, s->clock(), "%s: %s", s->name, line) &&
        s->log_timer != NULL && !event_pending(s->log_timer, EV_TIMEOUT, NULL)) {
        struct timeval tv = {LOG_LIMIT_INTERVAL_S, 0};
        (void)event_add(s->log_timer, &tv);
    }
}

static void tls_error(const char *name, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
    }
    fprintf(stderr, "%s: %s %s: %s\n", name, what, path, buf[0] ? buf : "unreadable");
    ERR_clear_error();
}

/* The chain and key as one consistent pair (mesh_identity_read_pair reads again while a
 * renewal is between its two renames), loaded from memory. */
static bool use_pair(SSL_CTX *ctx, const https_server_opts_t *o)
{
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    BIO *cb = NULL, *kb = NULL;
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    bool ok = false;
    mesh_err_t rc = mesh_identity_read_pair(o->cert_path, o->key_path, &cert, &cl, &key, &kl);

    if (rc != MESH_OK) {
        fprintf(stderr, "%s: cannot load the certificate and key: %s\n", o->name,
                mesh_err_detail());
        return false;
    }
    cb = BIO_new_mem_buf(cert, (int)cl);
    kb = BIO_new_mem_buf(key, (int)kl);
    x = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
        tls_error(o->name, "cannot load certificate", o->cert_path);
        goto out;
    }
    for (X509 *ch; (ch = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL;) {
        if (SSL_CTX_add0_chain_cert(ctx, ch) != 1) {
            X509_free(ch);
            tls_error(o->name, "cannot load the chain in", o->cert_path);
            goto out;
        }
    }
    ERR_clear_error(); /* the end of the chain */
    pk = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    if (pk == NULL || SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
        tls_error(o->name, "cannot load key", o->key_path);
        goto out;
    }
    ok = true;
out:
    EVP_PKEY_free(pk);
    X509_free(x);
    BIO_free(cb);
    BIO_free(kb);
    mesh_wipe(key, kl);
    mesh_free(key);
    mesh_free(cert);
    return ok;
}

static SSL_CTX *make_ctx(const https_server_opts_t *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (!use_pair(ctx, o)) {
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_error(o->name, "key does not match the certificate", o->key_path);
        goto fail;
    }
    if (SSL_CTX_load_verify_locations(ctx, o->ca_path, NULL) != 1) {
        tls_error(o->name, "cannot load CA", o->ca_path);
        goto fail;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_path);
    if (names != NULL) {
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    /* A presented certificate must always chain to the mesh CA; whether one is required at
     * all is either the TLS layer's call or, for the gateway, the route's. */
    int mode = SSL_VERIFY_PEER;
    if (o->require_client_cert) {
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"mesh-example", 12);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static struct bufferevent *on_accept(struct event_base *base, void *arg)
{
    https_server_t *s = arg;
    SSL *ssl = SSL_new(s->ctx);
    if (ssl == NULL) {
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev != NULL) {
        /* Clients that close without close_notify are normal HTTP/1.1 behaviour. */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    return bev;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    https_server_t *s = arg;
    s->fn(req, s->arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    https_server_t *s = arg;
    fprintf(stderr, "%s: signal %d, stopping\n", s->name, (int)sig);
    event_base_loopexit(s->base, NULL);
}

/* Takes the renewed pair: new connections get a context with it, connections already open
 * keep theirs (each SSL holds a reference to the context it was made from). */
static void reload(https_server_t *s, const char *why)
{
    SSL_CTX *ctx = make_ctx(&s->o);

    if (ctx == NULL) {
        fprintf(stderr, "%s: reload (%s) failed: still serving the previous certificate\n", s->name,
                why);
        return;
    }
    SSL_CTX_free(s->ctx);
    s->ctx = ctx;
    s->reloads++;
    fprintf(stderr, "%s: reloaded %s (%s)\n", s->name, s->cert_path, why);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void on_reload_poll(evutil_socket_t fd, short what, void *arg)
{
    https_server_t *s = arg;
    struct stat c, k;
    (void)fd;
    (void)what;

    if (stat(s->cert_path, &c) != 0 || stat(s->key_path, &k) != 0) {
        return; /* between renames, or gone: keep serving, look again */
    }
    if (!same_file(&c, &s->cert_st) || !same_file(&k, &s->key_st)) {
        s->cert_st = c;
        s->key_st = k;
        reload(s, "the files changed");
    }
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    https_server_t *s = arg;
    (void)sig;
    (void)what;
    stat(s->cert_path, &s->cert_st);
    stat(s->key_path, &s->key_st);
    reload(s, "SIGHUP");
}

unsigned https_server_reloads(const https_server_t *s)
{
    return s->reloads;
}

static bool split_listen(const char *listen, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= cap || colon == listen) {
        return false;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || p < 0 || p > 65535) {
        return false;
    }
    *port = (int)p;
    return true;
}

static bool write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        return false;
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return false;
    }
    bool ok = fprintf(f, "%d\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    return ok && rename(tmp, path) == 0; /* readers never see a half-written port */
}

https_server_t *https_server_new(const https_server_opts_t *o, https_handler_fn fn, void *arg)
{
    char host[256];
    int port;
    if (!split_listen(o->listen, host, sizeof(host), &port)) {
        fprintf(stderr, "%s: --listen '%s' must be HOST:PORT, e.g. 127.0.0.1:8080\n", o->name,
                o->listen);
        return NULL;
    }
    https_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->name = o->name;
    s->fn = fn;
    s->arg = arg;
    s->clock = o->clock != NULL ? o->clock : monotonic_seconds;
    log_limit_init(&s->refusals, o->log != NULL ? o->log : stderr, o->name);
    s->ctx = make_ctx(o);
    s->base = event_base_new();
    s->http = s->base ? evhttp_new(s->base) : NULL;
    if (s->ctx == NULL || s->http == NULL) {
        goto fail;
    }
    evhttp_set_bevcb(s->http, on_accept, s);
    evhttp_set_gencb(s->http, on_request, s);
    evhttp_set_max_headers_size(s->http, MESH_GATEWAY_MAX_HEADER_BYTES);
    evhttp_set_max_body_size(s->http, MESH_GATEWAY_MAX_BODY);
    evhttp_set_timeout(s->http, MESH_GATEWAY_IO_TIMEOUT);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port);
    if (bound == NULL) {
        /* libevent closes the socket on failure, so errno no longer says why. */
        fprintf(stderr,
                "%s: cannot listen on %s: the port is in use or the address is not local; "
                "pick another --listen HOST:PORT\n",
                o->name, o->listen);
        goto fail;
    }
    /* Without it every response waits for the client's delayed ACK of the previous one
     * (~40 ms: ~23 requests/s on a keep-alive connection). Accepted sockets inherit it. */
    if (!https_socket_set_nodelay(evhttp_bound_socket_get_fd(bound))) {
        fprintf(stderr, "%s: cannot set TCP_NODELAY on %s: %s\n", o->name, o->listen,
                strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) != 0) {
        goto fail;
    }
    s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    s->sigint = evsignal_new(s->base, SIGINT, on_signal, s);
    s->sigterm = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->log_timer = event_new(s->base, -1, EV_PERSIST, on_log_timer, s);
    if (s->sigint == NULL || s->sigterm == NULL || s->log_timer == NULL ||
        evsignal_add(s->sigint, NULL) != 0 || evsignal_add(s->sigterm, NULL) != 0) {
        goto fail;
    }
    s->o = *o;
    s->cert_path = strdup(o->cert_path);
    s->key_path = strdup(o->key_path);
    s->ca_path = strdup(o->ca_path);
    s->o.cert_path = s->cert_path;
    s->o.key_path = s->key_path;
    s->o.ca_path = s->ca_path;
    s->o.name = s->name;
    s->sighup = evsignal_new(s->base, SIGHUP, on_sighup, s);
    int poll_ms = o->reload_poll_ms;
    const char *env_poll = getenv("MESH_TLS_RELOAD_POLL_MS");
    if (poll_ms <= 0 && env_poll != NULL && env_poll[0] != '\0') {
        char *end = NULL;
        long v = strtol(env_poll, &end, 10);
        if (end == env_poll || *end != '\0' || v < 100 || v > 3600000) {
            fprintf(stderr, "%s: MESH_TLS_RELOAD_POLL_MS=%s: give milliseconds, 100..3600000\n",
                    o->name, env_poll);
            goto fail;
        }
        poll_ms = (int)v;
    }
    if (s->cert_path == NULL || s->key_path == NULL || s->ca_path == NULL || s->sighup == NULL ||
        evsignal_add(s->sighup, NULL) != 0) {
        goto fail;
    }
    if (poll_ms > 0) {
        struct timeval poll = {poll_ms / 1000, (poll_ms % 1000) * 1000};
        s->reload_timer = event_new(s->base, -1, EV_PERSIST, on_reload_poll, s);
        if (s->reload_timer == NULL || event_add(s->reload_timer, &poll) != 0) {
            goto fail;
        }
    }
    stat(s->cert_path, &s->cert_st);
    stat(s->key_path, &s->key_st);
    signal(SIGPIPE, SIG_IGN);
    if (o->port_file != NULL && !write_port_file(o->port_file, s->port)) {
        fprintf(stderr, "%s: cannot write port file %s: %s\n", o->name, o->port_file,
                strerror(errno));
        goto fail;
    }
    fprintf(stderr, "%s: listening on https://%s:%d (client certificates %s)\n", o->name, host,
            s->port, o->require_client_cert ? "required" : "requested");
    return s;
fail:
    https_server_free(s);
    return NULL;
}

int https_server_run(https_server_t *s)
{
    int rc = event_base_dispatch(s->base) < 0 ? 1 : 0;

    log_limit_flush(&s->refusals); /* a flood's count is not lost at shutdown */
    return rc;
}

void https_server_stop(https_server_t *s)
{
    event_base_loopexit(s->base, NULL);
}

int https_server_port(const https_server_t *s)
{
    return s->port;
}

void https_server_free(https_server_t *s)
{
    if (s == NULL) {
        return;
    }
    if (s->sigint != NULL) {
        event_free(s->sigint);
    }
    if (s->sigterm != NULL) {
        event_free(s->sigterm);
    }
    if (s->log_timer != NULL) {
        event_free(s->log_timer);
    }
    if (s->sighup != NULL) {
        event_free(s->sighup);
    }
    if (s->reload_timer != NULL) {
        event_free(s->reload_timer);
    }
    free(s->cert_path);
    free(s->key_path);
    free(s->ca_path);
    if (s->http != NULL) {
        evhttp_free(s->http);
    }
    if (s->base != NULL) {
        /* bufferevents (and their SSL) are freed by finalizers that run in the loop */
        event_base_loop(s->base, EVLOOP_NONBLOCK);
        event_base_free(s->base);
    }
    SSL_CTX_free(s->ctx);
    free(s);
}

bool https_peer_cert_der(struct evhttp_request *req, uint8_t **der, size_t *len)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK) {
        return false;
    }
    unsigned char *buf = NULL;
    int n = i2d_X509(peer, &buf);
    if (n <= 0) {
        return false;
    }
    *der = malloc((size_t)n);
    if (*der == NULL) {
        OPENSSL_free(buf);
        return false;
    }
    memcpy(*der, buf, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(buf);
    return true;
}

mesh_err_t https_request_body(struct evhttp_request *req, mesh_buf_t **out)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    mesh_buf_t *b = mesh_buf_new(MESH_GATEWAY_MAX_BODY);
    struct evbuffer_iovec *v = NULL;
    mesh_err_t rc = MESH_OK;
    int n;

    if (b == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "request body");
    }
    n = in != NULL ? evbuffer_peek(in, -1, NULL, NULL, 0) : 0;
    if (n > 0) {
        v = calloc((size_t)n, sizeof(*v));
        if (v == NULL) {
            rc = mesh_err_set(MESH_ERR_NOMEM, "request body");
            goto out;
        }
        n = evbuffer_peek(in, -1, NULL, v, n);
    }
    for (int i = 0; i < n && rc == MESH_OK; i++) {
        rc = mesh_buf_append(b, v[i].iov_base, v[i].iov_len, "request body");
    }
out:
    free(v);
    if (rc != MESH_OK) {
        mesh_buf_free(b);
        return rc;
    }
    *out = b;
    return MESH_OK;
}

void https_reply_json(struct evhttp_request *req, int status, const char *reason, const char *json,
                      const char *hdr_name, const char *hdr_value)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "Cache-Control", "no-store");
    if (hdr_name != NULL && hdr_value != NULL && hdr_value[0] != '\0') {
        evhttp_add_header(out, hdr_name, hdr_value);
    }
    struct evbuffer *body = evbuffer_new();
    if (body != NULL) {
        evbuffer_add(body, json, strlen(json));
        evbuffer_add(body, "\n", 1);
    }
    evhttp_send_reply(req, status, reason, body);
    if (body != NULL) {
        evbuffer_free(body);
    }
}

const char *https_method_name(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}
