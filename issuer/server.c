/* SPDX-License-Identifier: Apache-2.0 */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <openssl/ssl.h>

#include <mesh/limits.h>

#include "log.h"
#include "maintenance.h"
#include "sources.h"

struct worker {
    int id;
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *drain_ev;
    struct event *drain_timer;
    store_t *store;
    int conns;
    int max_conns;
    bool draining;
    bool paused;
    bool fd_paused; /* out of file descriptors: accepting again after MESH_ACCEPT_PAUSE_MS */
    bool failed;
    struct event *fd_timer;
    unsigned long fd_refusals; /* accept() failures in this episode, for the one log line */
    struct timespec fd_last;   /* the last of them (CLOCK_MONOTONIC) */
    conn_t *list;
};

static worker_t *all_workers; /* the listener's error callback gets the evhttp, not the worker */
static int n_workers;
static int worker_max_conns; /* max_connections, or less when descriptors are short */

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static issuer_state_t *current;
static metrics_t *metrics;
static int listen_fd = -1;

issuer_state_t *server_state_get(void)
{
    pthread_mutex_lock(&state_lock);
    issuer_state_t *st = state_ref(current);
    pthread_mutex_unlock(&state_lock);
    return st;
}

metrics_t *server_metrics(void)
{
    return metrics;
}

store_t *worker_store(worker_t *w)
{
    return w->store;
}

bool worker_draining(worker_t *w)
{
    return w->draining;
}

static void listener_update(worker_t *w)
{
    if (w->bound == NULL) {
        return;
    }
    struct evconnlistener *l = evhttp_bound_socket_get_listener(w->bound);
    bool stop = w->conns >= w->max_conns || w->fd_paused;
    if (!w->paused && stop) {
        evconnlistener_disable(l); /* other workers, or the backlog, take new connections */
        w->paused = true;
    } else if (w->paused && !stop) {
        evconnlistener_enable(l);
        w->paused = false;
    }
}

static void conn_free(void *p)
{
    conn_t *c = p;
    worker_t *w = c->w;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->list = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    if (c->deadline != NULL) {
        event_free(c->deadline);
    }
    if (c->accepted != NULL) {
        event_free(c->accepted);
    }
    if (c->counted) {
        sources_release(c->source);
    }
    tls_peer_clear(&c->peer);
    free(c);
    w->conns--;
    metrics_conn_close(metrics);
    listener_update(w);
    if (w->draining && w->conns == 0) {
        event_base_loopbreak(w->base);
    }
}

/* A request that has not fully arrived in time: end the connection (slowloris). */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    evutil_socket_t s = bufferevent_getfd(c->bev);
    if (s >= 0) {
        log_msg(LOG_DEBUG, "connection deadline",
                "closing a connection that sent no "
                "complete request within %d s",
                MESH_REQUEST_TIMEOUT);
        shutdown(s, SHUT_RDWR); /* evhttp sees EOF and frees the connection itself */
    }
}

static void on_answer_sent(struct evhttp_request *req, void *arg)
{
    conn_t *c = arg;
    c->idle = true;
}

/* Decrypted request bytes arrived: the connection is busy until its answer is out. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    if (info->n_added > 0) {
        ((conn_t *)arg)->idle = false;
    }
}

void server_conn_answering(conn_t *c, const issuer_state_t *st, struct evhttp_request *req)
{
    if (c == NULL) {
        return;
    }
    evhttp_request_set_on_complete_cb(req, on_answer_sent, c);
    if (c->deadline != NULL) {
        /* A connection nobody has authenticated on (a /healthz poller, a scanner) gets a short
         * idle deadline, so idle sockets cannot hold the slots others need. */
        bool authenticated = server_conn_peer(c, st)->verified;
        struct timeval tv = {authenticated ? MESH_IDLE_TIMEOUT + MESH_REQUEST_TIMEOUT
                                           : MESH_UNAUTH_IDLE_TIMEOUT + MESH_REQUEST_TIMEOUT,
                             0};
        evtimer_add(c->deadline, &tv);
    }
}

conn_t *server_conn_of(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    return ssl ? tls_get_conn(ssl) : NULL;
}

bool server_conn_too_old(const conn_t *c, const config_t *cfg)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return c != NULL && now.tv_sec - c->opened.tv_sec >= cfg->max_connection_age;
}

const tls_peer_t *server_conn_peer(conn_t *c, const issuer_state_t *st)
{
    /* Judged once per connection, and again when the trust material changed (SIGHUP: a new
     * CRL or CA) or the verdict ran out (a certificate in the chain expired, a CRL is due). */
    bool stale = !c->peer_loaded ||
                 (c->peer.presented && (c->peer.gen != tls_ctx_gen(st->tls) ||
                                        (c->peer.verified && time(NULL) >= c->peer.until)));
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    if (stale && ssl != NULL) {
        tls_peer_judge(ssl, st->tls, &c->peer);
        c->peer_loaded = true;
        if (c->peer.presented && !c->peer.verified) {
            metrics_tls_failure(metrics);
        }
    }
    return &c->peer;
}

/* The socket is set by now (evhttp calls bev_cb before it has one): count it by source. */
static void accepted_cb(evutil_socket_t unused, short what, void *arg)
{
    conn_t *c = arg;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
        return;
    }
    const void *a = ss.ss_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
    if (inet_ntop(ss.ss_family, a, c->source, sizeof(c->source)) == NULL) {
        return;
    }
    if (sources_take(c->source)) {
        c->counted = true;
        return;
    }
    metrics_denied(metrics, "too_many_connections");
    log_msg(LOG_DEBUG, "connection refused",
            "%s already holds max_connections_per_source connections", c->source);
    shutdown(fd, SHUT_RDWR); /* evhttp sees EOF and frees the connection itself */
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
    worker_t *w = arg;
    issuer_state_t *st = server_state_get();
    SSL *ssl = tls_ssl_new(st->tls);
    state_unref(st);
    conn_t *c = calloc(1, sizeof(*c));
    if (ssl == NULL || c == NULL) {
        free(c);
        SSL_free(ssl);
        log_msg(LOG_ERROR, "connection refused", "out of memory for a TLS connection");
        return NULL;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (w->fd_refusals > 0 && now.tv_sec - w->fd_last.tv_sec > 5) { /* the episode is over */
        log_msg(LOG_INFO, "accepting again",
                "worker %d: %lu accept() calls failed for lack of file descriptors", w->id,
                w->fd_refusals);
        w->fd_refusals = 0;
    }
    c->w = w;
    clock_gettime(CLOCK_MONOTONIC, &c->opened);
    c->idle = true;    /* nothing asked yet */
    c->next = w->list; /* linked first: conn_free unlinks on every path */
    if (w->list != NULL) {
        w->list->prev = c;
    }
    w->list = c;
    w->conns++;
    metrics_conn_open(metrics);
    tls_set_conn(ssl, c); /* from here conn_free runs when the SSL is freed */
    c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c);
    c->deadline = evtimer_new(base, deadline_cb, c);
    if (c->deadline != NULL) {
        struct timeval tv = {MESH_REQUEST_TIMEOUT, 0};
        evtimer_add(c->deadline, &tv);
    }
    c->accepted = evtimer_new(base, accepted_cb, c);
    if (c->accepted != NULL) {
        struct timeval at_once = {0, 0};
        evtimer_add(c->accepted, &at_once);
    }
    listener_update(w);
    return c->bev;
}

static void fd_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    w->fd_paused = false;
    listener_update(w); /* a new failure pauses again, without a new log line */
}

/* accept() failed. Out of descriptors (EMFILE/ENFILE) the listening socket stays readable, so
 * retrying at once spins and logs without end: pause, say so once per episode. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    worker_t *w = NULL;
    for (int i = 0; i < n_workers && w == NULL; i++) {
        w = all_workers[i].http == arg ? &all_workers[i] : NULL;
    }
    if (w == NULL) {
        return;
    }
    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) {
        log_msg(LOG_WARN, "accept failed", "%s", strerror(e));
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &w->fd_last);
    if (w->fd_refusals++ == 0) {
        log_msg(LOG_ERROR, "out of file descriptors",
                "worker %d: accept(): %s; pausing new connections for %d ms at a time until "
                "some close (raise LimitNOFILE / ulimit -n, or lower max_connections)",
                w->id, strerror(e), MESH_ACCEPT_PAUSE_MS);
    }
    w->fd_paused = true;
    listener_update(w);
    struct timeval tv = {MESH_ACCEPT_PAUSE_MS / 1000, (MESH_ACCEPT_PAUSE_MS % 1000) * 1000};
    evtimer_add(w->fd_timer, &tv);
}

static void drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    log_msg(LOG_INFO, "drain timeout", "worker %d closes %d remaining connections", w->id,
            w->conns);
    event_base_loopbreak(w->base);
}

/* Idle, and nothing waiting to be read. Bytes in the socket or in OpenSSL's buffers are a
 * request the client sent before the drain began: closing then would drop it unanswered. */
static bool conn_quiet(conn_t *c)
{
    if (!c->idle) {
        return false;
    }
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    if (ssl != NULL && SSL_has_pending(ssl)) {
        return false;
    }
    int unread = 0;
    evutil_socket_t s = bufferevent_getfd(c->bev);
    return s < 0 || ioctl(s, FIONREAD, &unread) != 0 || unread == 0;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    w->draining = true;
    if (w->bound != NULL) {
        evhttp_del_accept_socket(w->http, w->bound); /* our fd stays open: no CLOSE_ON_FREE */
        w->bound = NULL;
    }
    if (w->conns == 0) {
        event_base_loopbreak(w->base);
        return;
    }
    /* Idle keep-alive connections end now (clients retry on a fresh one, RFC 9112 §9.3.1);
     * busy ones get their answer, with Connection: close, within the drain timeout. */
    for (conn_t *c = w->list; c != NULL; c = c->next) {
        evutil_socket_t s = conn_quiet(c) ? bufferevent_getfd(c->bev) : -1;
        if (s >= 0) {
            shutdown(s, SHUT_RDWR);
        }
    }
    struct timeval tv = {MESH_REQUEST_TIMEOUT, 0};
    evtimer_add(w->drain_timer, &tv);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    event_base_dispatch(w->base);
    evhttp_free(w->http); /* closes what is left */
    w->http = NULL;
    /* bufferevents are freed by finalizers that run in the loop: let them run here. */
    event_base_loop(w->base, EVLOOP_NONBLOCK);
    return NULL;
}

static bool worker_init(worker_t *w, int id, const config_t *cfg)
{
    w->id = id;
    w->max_conns = worker_max_conns;
    mesh_err_t rc = store_open(cfg->store, &w->store);
    if (rc != MESH_OK) {
        log_msg(LOG_ERROR, "cannot open store", "%s: %s: %s", cfg->store, mesh_strerror(rc),
                mesh_err_detail());
        return false;
    }
    w->base = event_base_new();
    w->http = w->base ? evhttp_new(w->base) : NULL;
    if (w->http == NULL) {
        return false;
    }
    evhttp_set_max_headers_size(w->http, MESH_MAX_HEADER_BYTES);
    evhttp_set_max_body_size(w->http, MESH_MAX_REQUEST_BODY);
    evhttp_set_timeout(w->http, MESH_IDLE_TIMEOUT);
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(w->http, "application/json");
    evhttp_set_bevcb(w->http, bev_cb, w);
    evhttp_set_gencb(w->http, http_handle, w);
    struct evconnlistener *l =
        evconnlistener_new(w->base, NULL, NULL, LEV_OPT_REUSEABLE, 0, listen_fd);
    w->bound = l ? evhttp_bind_listener(w->http, l) : NULL;
    if (l != NULL) {
        evconnlistener_set_error_cb(l, accept_error_cb);
    }
    w->drain_ev = event_new(w->base, -1, 0, drain_cb, w);
    w->drain_timer = evtimer_new(w->base, drain_timeout_cb, w);
    w->fd_timer = evtimer_new(w->base, fd_resume_cb, w);
    return w->bound != NULL && w->drain_ev != NULL && w->drain_timer != NULL && w->fd_timer != NULL;
}

static void worker_destroy(worker_t *w)
{
    if (w->http != NULL) {
        evhttp_free(w->http);
    }
    if (w->drain_ev != NULL) {
        event_free(w->drain_ev);
    }
    if (w->drain_timer != NULL) {
        event_free(w->drain_timer);
    }
    if (w->fd_timer != NULL) {
        event_free(w->fd_timer);
    }
    if (w->base != NULL) {
        event_base_free(w->base);
    }
    store_close(w->store);
}

static int open_listener(const config_t *cfg, int *port_out)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(cfg->listen_host, port, &hints, &ai);
    if (rc != 0) {
        log_msg(LOG_ERROR, "cannot listen", "listen %s:%s: %s", cfg->listen_host, port,
                gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    /* TCP_NODELAY is inherited by accepted sockets on Linux: without it a response split in
     * TLS records waits for the client's delayed ACK (Nagle), ~40 ms per request. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        evutil_make_socket_nonblocking(fd) != 0) {
        log_msg(LOG_ERROR, "cannot listen", "listen %s:%s: %s", cfg->listen_host, port,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    *port_out = cfg->listen_port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            *port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            *port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    return fd;
}

static void reload(const char *config_path)
{
    char err[1024];
    issuer_state_t *old = server_state_get();
    issuer_state_t *st = NULL;
    mesh_err_t rc = state_load(config_path, old, &st, err, sizeof(err));
    if (rc != MESH_OK) {
        log_msg(LOG_ERROR, "reload failed; keeping the running configuration", "%s", err);
        state_unref(old);
        return;
    }
    const config_t *a = old->cfg, *b = st->cfg;
    if (strcmp(a->listen_host, b->listen_host) != 0 || a->listen_port != b->listen_port ||
        strcmp(a->store, b->store) != 0 || a->workers != b->workers ||
        a->max_connections != b->max_connections ||
        a->max_connections_per_source != b->max_connections_per_source) {
        log_msg(LOG_WARN, "reload: some changes need a restart",
                "listen, store, workers, max_connections and max_connections_per_source keep "
                "their old values until mesh-issuer restarts");
    }
    state_unref(old);
    pthread_mutex_lock(&state_lock);
    old = current;
    current = st;
    pthread_mutex_unlock(&state_lock);
    state_unref(old);
    log_json(LOG_INFO, "reloaded",
             json_pack("{s:s, s:s}", "config", config_path, "kid", mesh_key_kid(st->sign_key)));
}

static void maintain_current(store_t *s, const char *config_path)
{
    issuer_state_t *st = server_state_get();
    maintenance_run(s, st);
    bool crl_changed = maintenance_certs_crl(s, st);
    state_unref(st);
    if (crl_changed) { /* the issuing CA's CRL changed: the TLS verdict reads it now */
        log_msg(LOG_INFO, "CRL changed", "reloading %s", config_path);
        reload(config_path);
    }
}

/*
 * The server's own certificate renews in place (mesh renew, the issuer's own renewer): a
 * change of tls.cert or tls.key is a reload, as SIGHUP is, so that new handshakes present
 * the new certificate; connections opened before keep the context they started with.
 */
#define TLS_FILES_POLL_INTERVAL 1 /* seconds between looks at tls.cert and tls.key */

typedef struct {
    struct stat cert, key;
} tls_files_t;

static void tls_files_stat(tls_files_t *f)
{
    issuer_state_t *st = server_state_get();
    memset(f, 0, sizeof(*f));
    if (stat(st->cfg->tls_cert, &f->cert) != 0) {
        memset(&f->cert, 0, sizeof(f->cert));
    }
    if (stat(st->cfg->tls_key, &f->key) != 0) {
        memset(&f->key, 0, sizeof(f->key));
    }
    state_unref(st);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* True when the files changed since *seen (which becomes what is there now). Missing files
 * (between renames, or gone) are no change: keep serving, look again. */
static bool tls_files_changed(tls_files_t *seen)
{
    tls_files_t now;
    tls_files_stat(&now);
    if (now.cert.st_ino == 0 || now.key.st_ino == 0) {
        return false;
    }
    if (same_file(&now.cert, &seen->cert) && same_file(&now.key, &seen->key)) {
        return false;
    }
    *seen = now;
    return true;
}

static int64_t monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/*
 * Every connection is a descriptor: workers x max_connections must fit RLIMIT_NOFILE, with
 * room for the listener, stores, logs and libevent's own. Raise the soft limit as far as the
 * hard one allows; what still does not fit lowers max_connections, loudly.
 */
#define FD_RESERVE 32

static void fit_descriptors(const config_t *cfg, int nworkers)
{
    worker_max_conns = cfg->max_connections;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    rlim_t need = (rlim_t)nworkers * (rlim_t)cfg->max_connections + FD_RESERVE;
    if (rl.rlim_cur < need) {
        struct rlimit want = {need < rl.rlim_max ? need : rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
            rl.rlim_cur = want.rlim_cur;
        }
    }
    if (rl.rlim_cur >= need) {
        return;
    }
    long fit = rl.rlim_cur > FD_RESERVE ? (long)((rl.rlim_cur - FD_RESERVE) / (rlim_t)nworkers) : 1;
    worker_max_conns = fit > 0 ? (int)fit : 1;
    log_msg(LOG_WARN, "file descriptor limit",
            "RLIMIT_NOFILE is %llu (hard %llu): %d workers x max_connections %d need %llu; "
            "serving at most %d connections per worker (raise LimitNOFILE / ulimit -n)",
            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, nworkers,
            cfg->max_connections, (unsigned long long)need, worker_max_conns);
}

int server_run(const char *config_path, issuer_state_t *st, int nworkers)
{
    current = st;
    metrics = metrics_new();
    if (metrics == NULL || evthread_use_pthreads() != 0) {
        log_msg(LOG_ERROR, "cannot start", "out of memory");
        return 1;
    }
    tls_set_conn_free_hook(conn_free);
    if (nworkers <= 0) {
        nworkers = st->cfg->workers > 0 ? st->cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (nworkers <= 0) {
        nworkers = 1;
    }
    int port = 0;
    listen_fd = open_listener(st->cfg, &port);
    if (listen_fd < 0) {
        return 1;
    }
    /* Signals go to this thread only, through sigwait(). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    fit_descriptors(st->cfg, nworkers);
    sources_init(st->cfg->max_connections_per_source);
    worker_t *workers = calloc((size_t)nworkers, sizeof(worker_t));
    all_workers = workers;
    n_workers = workers != NULL ? nworkers : 0;
    int started = 0, status = 0;
    for (int i = 0; workers != NULL && i < nworkers; i++) {
        if (!worker_init(&workers[i], i, st->cfg)) {
            log_msg(LOG_ERROR, "cannot start worker", "worker %d failed to start", i);
            worker_destroy(&workers[i]);
            status = 1;
            break;
        }
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            worker_destroy(&workers[i]);
            status = 1;
            break;
        }
        started++;
    }
    store_t *house = NULL;
    if (status == 0 && store_open(st->cfg->store, &house) != MESH_OK) {
        log_msg(LOG_ERROR, "cannot open store", "%s: %s", st->cfg->store, mesh_err_detail());
        status = 1;
    }
    if (status == 0) {
        maintain_current(house, config_path);
        /* maintenance may have reloaded (a new CRL): `st` may be gone, say what is current */
        issuer_state_t *now_st = server_state_get();
        log_json(LOG_INFO, "listening",
                 json_pack("{s:s, s:i, s:i, s:s, s:s, s:i}", "address", now_st->cfg->listen_host,
                           "port", port, "workers", nworkers, "issuer", now_st->cfg->issuer, "kid",
                           mesh_key_kid(now_st->sign_key), "pid", (int)getpid()));
        state_unref(now_st);
    }
    tls_files_t tls_seen;
    tls_files_stat(&tls_seen);
    int64_t next_maintenance = monotonic_s() + MAINTENANCE_INTERVAL;
    while (status == 0) {
        struct timespec every = {TLS_FILES_POLL_INTERVAL, 0};
        int sig = sigtimedwait(&set, NULL, &every);
        if (sig < 0) {
            if (errno != EAGAIN) {
                continue;
            }
            if (tls_files_changed(&tls_seen)) {
                log_msg(LOG_INFO, "TLS certificate changed", "reloading %s", config_path);
                reload(config_path);
                tls_files_stat(&tls_seen); /* the files the running configuration names */
            }
            if (monotonic_s() >= next_maintenance) {
                maintain_current(house, config_path);
                next_maintenance = monotonic_s() + MAINTENANCE_INTERVAL;
            }
            continue;
        }
        if (sig == SIGHUP) {
            log_msg(LOG_INFO, "SIGHUP", "reloading %s", config_path);
            reload(config_path);
            tls_files_stat(&tls_seen);
            maintain_current(house, config_path);
            continue;
        }
        log_msg(LOG_INFO, "draining", "signal %d: no new connections; finishing requests", sig);
        break;
    }
    for (int i = 0; i < started; i++) {
        event_active(workers[i].drain_ev, EV_READ, 0);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        worker_destroy(&workers[i]);
    }
    free(workers);
    store_close(house);
    close(listen_fd);
    pthread_mutex_lock(&state_lock);
    state_unref(current);
    current = NULL;
    pthread_mutex_unlock(&state_lock);
    metrics_free(metrics);
    log_msg(LOG_INFO, "stopped", "mesh-issuer exits with status %d", status);
    return status;
}
