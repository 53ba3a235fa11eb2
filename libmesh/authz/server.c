/* SPDX-License-Identifier: Apache-2.0 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <mesh/jansson.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <mesh/limits.h>
#include <mesh/renew.h>
#include <mesh/util.h>

#include "log.h"
#include "metrics.h"
#include "server_http.h"

typedef struct {
    const listener_t *l; /* from the config the daemon started with (listeners never reload) */
    int fd;
    pthread_mutex_t tls_mu; /* tls is swapped by a reload while workers make SSLs from it */
    SSL_CTX *tls;
    struct stat cert_st, key_st; /* the pair's files as last read */
    char bound[128];             /* "unix:PATH" or "HOST:PORT" as bound */
    atomic_int conns;            /* open now, all workers together */
} lsock_t;

typedef struct {
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http[MESH_AUTHZ_MAX_LISTENERS];
    bool started;
} worker_t;

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static config_t *live;
static lsock_t socks[MESH_AUTHZ_MAX_LISTENERS];
static size_t n_socks;

config_t *server_config(void)
{
    pthread_mutex_lock(&cfg_lock);
    config_t *c = config_ref(live);
    pthread_mutex_unlock(&cfg_lock);
    return c;
}

static void swap_config(config_t *cfg)
{
    pthread_mutex_lock(&cfg_lock);
    config_t *old = live;
    live = cfg;
    pthread_mutex_unlock(&cfg_lock);
    config_unref(old); /* freed when the last request that holds it is answered */
}

static int open_unix(const listener_t *l, lsock_t *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
    struct stat st;
    if (lstat(l->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_msg("listen unix %s: exists and is not a socket; remove it or choose another path",
                    l->path);
            return -1;
        }
        unlink(l->path); /* a socket a previous run left behind */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* The socket is created with no access for anyone but the owner, then opened to exactly
     * `mode`: there is no moment when others could connect. */
    mode_t old = umask(0177);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    gid_t gid = (gid_t)-1;
    if (rc == 0 && l->group != NULL) {
        struct group gr, *found = NULL;
        char buf[4096];
        if (getgrnam_r(l->group, &gr, buf, sizeof(buf), &found) != 0 || found == NULL) {
            log_msg("listen unix %s: group '%s' does not exist", l->path, l->group);
            close(fd);
            unlink(l->path);
            return -1;
        }
        gid = gr.gr_gid;
    }
    if (rc != 0 || (gid != (gid_t)-1 && chown(l->path, (uid_t)-1, gid) != 0) ||
        chmod(l->path, l->mode) != 0 || listen(fd, 1024) != 0 ||
        evutil_make_socket_nonblocking(fd) != 0) {
        log_msg("listen unix %s: %s", l->path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    snprintf(s->bound, sizeof(s->bound), "unix:%s", l->path);
    return fd;
}

static int open_tcp(const char *host, int port, char *bound, size_t cap)
{
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc != 0) {
        log_msg("listen %s:%d: %s", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        evutil_make_socket_nonblocking(fd) != 0) {
        log_msg("listen %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int real = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        real = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    }
    snprintf(bound, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, real);
    return fd;
}

enum { TLS_POLL_MS = 1000 }; /* how often the TLS listeners' pair files are looked at */

static void tls_fail(const listener_t *l, const char *what)
{
    char e[256];
    ERR_error_string_n(ERR_get_error(), e, sizeof(e));
    log_msg("listen %s:%d: tls %s: %s", l->host, l->port, what, e);
    ERR_clear_error();
}

/* The listener's certificate chain and key, read as a pair that belongs together
 * (mesh_identity_read_pair: a renewal between its two renames is read again). */
static bool use_pair(SSL_CTX *ctx, const listener_t *l)
{
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    if (mesh_identity_read_pair(l->tls_cert, l->tls_key, &cert, &cl, &key, &kl) != MESH_OK) {
        log_msg("listen %s:%d: tls (cert %s, key %s): %s", l->host, l->port, l->tls_cert,
                l->tls_key, mesh_err_detail());
        return false;
    }
    BIO *cb = BIO_new_mem_buf(cert, (int)cl), *kb = BIO_new_mem_buf(key, (int)kl);
    X509 *x = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *pk = NULL;
    bool ok = false;
    if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
        tls_fail(l, "certificate");
        goto out;
    }
    for (X509 *ch; (ch = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL;) {
        if (SSL_CTX_add0_chain_cert(ctx, ch) != 1) {
            X509_free(ch);
            tls_fail(l, "chain");
            goto out;
        }
    }
    ERR_clear_error(); /* the end of the chain */
    pk = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    if (pk == NULL || SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        tls_fail(l, "key");
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

static SSL_CTX *tls_ctx(const listener_t *l)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        tls_fail(l, "context");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!use_pair(ctx, l)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_load_verify_locations(ctx, l->tls_client_ca, NULL) != 1) {
        tls_fail(l, l->tls_client_ca);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* The proxy's own certificate is required: without it nothing is believed. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_verify_depth(ctx, MESH_MAX_CHAIN_DEPTH);
    return ctx;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * A renewed pair for the TLS listeners, without a restart: new connections get a context
 * with it, connections already open keep theirs (each SSL holds a reference to the context
 * it was made from). `force` (SIGHUP) reads every pair again; otherwise only pairs whose
 * files changed since they were read (the poll). A pair that cannot be read keeps the old one.
 */
static void tls_reload(bool force)
{
    for (size_t i = 0; i < n_socks; i++) {
        lsock_t *s = &socks[i];
        const listener_t *l = s->l;
        if (l->tls_cert == NULL) {
            continue;
        }
        struct stat c, k;
        if (stat(l->tls_cert, &c) != 0 || stat(l->tls_key, &k) != 0) {
            continue; /* between renames, or gone: keep serving, look again */
        }
        if (!force && same_file(&c, &s->cert_st) && same_file(&k, &s->key_st)) {
            continue;
        }
        s->cert_st = c;
        s->key_st = k;
        SSL_CTX *ctx = tls_ctx(l);
        if (ctx == NULL) {
            log_msg("listen %s: tls reload failed: still serving the previous certificate",
                    s->bound);
            continue;
        }
        pthread_mutex_lock(&s->tls_mu);
        SSL_CTX *old = s->tls;
        s->tls = ctx;
        pthread_mutex_unlock(&s->tls_mu);
        SSL_CTX_free(old);
        log_msg("listen %s: tls certificate %s reloaded (%s)", s->bound, l->tls_cert,
                force ? "SIGHUP" : "the files changed");
    }
}

static void on_tls_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    tls_reload(false);
}

/* Every connection is a descriptor: the listeners' max_connections together, and a reserve
 * for the verifiers, log and metrics, must fit RLIMIT_NOFILE. The soft limit is raised as far
 * as the hard one allows; when even that is short, the log says so (accept then fails with
 * EMFILE before the cap is reached, and libevent retries later). */
static void fit_nofile(const config_t *cfg)
{
    enum { FD_RESERVE = 64 };
    rlim_t need = FD_RESERVE;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        need += (rlim_t)cfg->listeners[i].max_connections;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) {
        return;
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need) {
        log_msg("descriptors: the listeners' max_connections need %llu, RLIMIT_NOFILE allows "
                "%llu: raise LimitNOFILE / ulimit -n, or lower max_connections",
                (unsigned long long)need, (unsigned long long)rl.rlim_cur);
    }
}

static bool open_sockets(const config_t *cfg)
{
    fit_nofile(cfg);
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const listener_t *l = &cfg->listeners[i];
        lsock_t *s = &socks[n_socks];
        s->l = l;
        s->fd = l->kind == LISTEN_UNIX ? open_unix(l, s)
                                       : open_tcp(l->host, l->port, s->bound, sizeof(s->bound));
        if (s->fd < 0) {
            return false;
        }
        n_socks++;
        pthread_mutex_init(&s->tls_mu, NULL);
        if (l->tls_cert != NULL) {
            stat(l->tls_cert, &s->cert_st);
            stat(l->tls_key, &s->key_st);
            if ((s->tls = tls_ctx(l)) == NULL) {
                return false;
            }
        }
    }
    return true;
}

static void close_sockets(void)
{
    for (size_t i = 0; i < n_socks; i++) {
        close(socks[i].fd);
        if (socks[i].l->kind == LISTEN_UNIX) {
            unlink(socks[i].l->path);
        }
        SSL_CTX_free(socks[i].tls);
        socks[i].tls = NULL;
        pthread_mutex_destroy(&socks[i].tls_mu);
    }
    n_socks = 0;
}

/*
 * Connections per listener. evhttp (libevent 2.1) has no cap and no hook when it accepts, so
 * the count is kept around the bufferevent evhttp asks conn_bev for: conn_bev counts the
 * connection and activates conn_attach at a higher priority than any I/O, so it runs before
 * the connection's first byte is read. conn_attach finds the evhttp connection (the
 * bufferevent's callback argument), closes it when the listener was already full, else
 * registers conn_closed, which uncounts it when evhttp frees it.
 */
typedef struct {
    lsock_t *s;
    struct bufferevent *bev;
    struct event *ev;
    bool over; /* the listener held max_connections when it was accepted */
} conn_t;

enum { PRIO_CONN = 0, PRIO_IO = 1, N_PRIO = 2 };

static void conn_done(conn_t *c)
{
    atomic_fetch_sub(&c->s->conns, 1);
    metrics_connection(-1);
    free(c);
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    evhttp_connection_set_closecb(evcon, NULL, NULL); /* once, whatever evhttp does next */
    conn_done(arg);
}

static void conn_attach(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = arg;
    struct bufferevent *bev = c->bev;
    event_free(c->ev);
    c->ev = NULL;
    void *cbarg = NULL;
    bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
    struct evhttp_connection *evcon = cbarg; /* NULL: evhttp freed it already */
    if (evcon == NULL) {
        conn_done(c);
    } else if (c->over) {
        metrics_connection_refused();
        evhttp_connection_free(evcon);
        conn_done(c);
    } else {
        evhttp_connection_set_closecb(evcon, conn_closed, c);
    }
    bufferevent_decref(bev); /* conn_bev's reference */
}

static struct bufferevent *conn_bev(struct event_base *base, void *arg)
{
    lsock_t *s = arg;
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    if (s->l->tls_cert != NULL) {
        pthread_mutex_lock(&s->tls_mu);
        SSL *ssl = SSL_new(s->tls); /* holds its own reference to the context */
        pthread_mutex_unlock(&s->tls_mu);
        c->bev =
            ssl == NULL
                ? NULL
                : bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    } else {
        c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    c->ev = c->bev != NULL ? event_new(base, -1, 0, conn_attach, c) : NULL;
    if (c->ev == NULL || event_priority_set(c->ev, PRIO_CONN) != 0) {
        if (c->ev != NULL) {
            event_free(c->ev);
        }
        if (c->bev != NULL) {
            bufferevent_free(c->bev);
        }
        free(c);
        return NULL; /* evhttp then makes a plain one: conn_bev only fails out of memory */
    }
    c->s = s;
    c->over = atomic_fetch_add(&s->conns, 1) >= s->l->max_connections;
    metrics_connection(+1);
    bufferevent_incref(c->bev); /* kept until conn_attach has looked at it */
    event_active(c->ev, EV_TIMEOUT, 0);
    return c->bev;
}

static struct evhttp *http_new(struct event_base *base, void (*cb)(struct evhttp_request *, void *),
                               void *arg)
{
    struct evhttp *h = evhttp_new(base);
    if (h == NULL) {
        return NULL;
    }
    evhttp_set_max_headers_size(h, MESH_AUTHZ_MAX_HEADER_BYTES);
    evhttp_set_max_body_size(h, MESH_AUTHZ_MAX_BODY);
    evhttp_set_timeout(h, MESH_AUTHZ_IDLE_TIMEOUT);
    evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                      EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h, cb, arg);
    return h;
}

static bool bind_fd(struct event_base *base, struct evhttp *h, int fd)
{
    /* LEV_OPT_CLOSE_ON_FREE is left out: every worker listens on the same socket. */
    struct evconnlistener *l = evconnlistener_new(base, NULL, NULL, LEV_OPT_REUSEABLE, 0, fd);
    return l != NULL && evhttp_bind_listener(h, l) != NULL;
}

static bool worker_init(worker_t *w)
{
    w->base = event_base_new();
    if (w->base == NULL || event_base_priority_init(w->base, N_PRIO) != 0) {
        return false;
    }
    for (size_t i = 0; i < n_socks; i++) {
        w->http[i] = http_new(w->base, http_handle, (void *)socks[i].l);
        if (w->http[i] == NULL) {
            return false;
        }
        evhttp_set_bevcb(w->http[i], conn_bev, &socks[i]);
        if (!bind_fd(w->base, w->http[i], socks[i].fd)) {
            return false;
        }
    }
    return true;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static void worker_free(worker_t *w)
{
    for (size_t i = 0; i < n_socks; i++) {
        if (w->http[i] != NULL) {
            evhttp_free(w->http[i]);
        }
    }
    if (w->base != NULL) {
        /* bufferevents are freed by finalizers that run in the loop: let them run. */
        event_base_loop(w->base, EVLOOP_NONBLOCK);
        event_base_free(w->base);
    }
}

static bool same_listeners(const config_t *a, const config_t *b)
{
    if (a->n_listeners != b->n_listeners) {
        return false;
    }
    for (size_t i = 0; i < a->n_listeners; i++) {
        const listener_t *x = &a->listeners[i], *y = &b->listeners[i];
        bool same = x->kind == y->kind && x->port == y->port && x->mode == y->mode &&
                    (x->path == NULL) == (y->path == NULL) &&
                    (x->path == NULL || strcmp(x->path, y->path) == 0) &&
                    (x->host == NULL || (y->host != NULL && strcmp(x->host, y->host) == 0)) &&
                    (x->tls_cert == NULL) == (y->tls_cert == NULL) &&
                    x->max_connections == y->max_connections;
        if (!same) {
            return false;
        }
    }
    return true;
}

typedef struct {
    const char *path;
    struct event_base *main_base;
    const config_t *boot;
    worker_t *workers;
    int n_workers;
} run_t;

static void reload(run_t *r)
{
    char err[1024];
    config_t *cfg = config_load(r->path, err, sizeof(err));
    if (cfg != NULL && !config_start(cfg, err, sizeof(err))) {
        config_unref(cfg);
        cfg = NULL;
    }
    if (cfg == NULL) {
        metrics_reload(false);
        log_msg("reload failed, keeping the old config: %s", err);
        return;
    }
    if (!same_listeners(r->boot, cfg) || cfg->workers != r->n_workers ||
        (cfg->metrics_host == NULL) != (r->boot->metrics_host == NULL)) {
        log_msg("reload: listeners, metrics or workers changed; those apply after a restart "
                "(routes, issuers and trust apply now)");
    }
    if (!log_open(cfg->log_path, err, sizeof(err))) {
        log_msg("reload: %s; decisions still go where they went", err);
    }
    swap_config(cfg);
    metrics_reload(true);
    log_msg("reloaded %s: %zu routes, %zu issuers", r->path, cfg->n_routes, cfg->n_issuers);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    run_t *r = arg;
    if (sig == SIGHUP) {
        reload(r);
        tls_reload(true);
        return;
    }
    log_msg("signal %d: stopping", (int)sig);
    for (int i = 0; i < r->n_workers; i++) {
        if (r->workers[i].started) {
            event_base_loopbreak(r->workers[i].base);
        }
    }
    event_base_loopbreak(r->main_base);
}

static bool write_ready(const char *path, const char *metrics)
{
    json_t *ls = json_array();
    for (size_t i = 0; i < n_socks; i++) {
        json_array_append_new(ls, json_string(socks[i].bound));
    }
    json_t *o =
        json_pack("{s:i, s:o, s:s?}", "pid", (int)getpid(), "listen", ls, "metrics", metrics);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        return false;
    }
    mesh_err_t e = mesh_file_write_atomic(path, text, strlen(text), 0644, true);
    free(text);
    if (e != MESH_OK) {
        log_msg("--ready-file: %s", mesh_err_detail());
        return false;
    }
    return true;
}

int server_run(config_t *cfg, const char *ready_file)
{
    int status = 1;
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        log_msg("libevent threads unavailable");
        config_unref(cfg);
        return 1;
    }
    char err[512];
    if (!log_open(cfg->log_path, err, sizeof(err))) {
        log_msg("%s", err);
        config_unref(cfg);
        return 1;
    }
    live = cfg;
    const config_t *boot = config_ref(cfg); /* its listeners stay in use until the end */
    worker_t workers[MESH_AUTHZ_MAX_WORKERS] = {0};
    run_t run = {.path = cfg->path, .boot = boot, .workers = workers, .n_workers = cfg->workers};
    struct event_base *main_base = event_base_new();
    run.main_base = main_base;
    struct evhttp *mhttp = NULL;
    struct event *sigs[3] = {0}, *tls_poll = NULL;
    char mbound[128] = "";
    int mfd = -1;
    if (main_base == NULL || !open_sockets(cfg)) {
        goto out;
    }
    if (cfg->metrics_host != NULL) {
        mfd = open_tcp(cfg->metrics_host, cfg->metrics_port, mbound, sizeof(mbound));
        mhttp = mfd >= 0 ? http_new(main_base, metrics_handle, NULL) : NULL;
        if (mhttp == NULL || !bind_fd(main_base, mhttp, mfd)) {
            goto out;
        }
    }
    const int signums[3] = {SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(main_base, signums[i], on_signal, &run);
        if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0) {
            goto out;
        }
    }
    for (size_t i = 0; i < n_socks && tls_poll == NULL; i++) {
        if (socks[i].l->tls_cert != NULL) {
            /* a renewal writes the files in place: look at them every TLS_POLL_MS */
            struct timeval every = {TLS_POLL_MS / 1000, (TLS_POLL_MS % 1000) * 1000};
            tls_poll = event_new(main_base, -1, EV_PERSIST, on_tls_poll, NULL);
            if (tls_poll == NULL || event_add(tls_poll, &every) != 0) {
                goto out;
            }
        }
    }
    for (int i = 0; i < cfg->workers; i++) {
        if (!worker_init(&workers[i]) ||
            pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            log_msg("cannot start worker %d", i);
            goto out;
        }
        workers[i].started = true;
    }
    if (ready_file != NULL && !write_ready(ready_file, mbound[0] ? mbound : NULL)) {
        goto out;
    }
    log_msg("serving: %zu listeners, %d workers, %zu routes%s%s", n_socks, cfg->workers,
            cfg->n_routes, mbound[0] ? ", metrics on " : "", mbound);
    event_base_dispatch(main_base);
    status = 0;
out:
    for (int i = 0; i < MESH_AUTHZ_MAX_WORKERS; i++) {
        if (workers[i].started) {
            event_base_loopbreak(workers[i].base);
            pthread_join(workers[i].thread, NULL);
        }
        worker_free(&workers[i]);
    }
    for (int i = 0; i < 3; i++) {
        if (sigs[i] != NULL) {
            event_free(sigs[i]);
        }
    }
    if (tls_poll != NULL) {
        event_free(tls_poll);
    }
    if (mhttp != NULL) {
        evhttp_free(mhttp);
    }
    if (mfd >= 0) {
        close(mfd);
    }
    if (main_base != NULL) {
        event_base_loop(main_base, EVLOOP_NONBLOCK);
        event_base_free(main_base);
    }
    close_sockets();
    swap_config(NULL);
    config_unref((config_t *)boot);
    log_close();
    libevent_global_shutdown();
    return status;
}
