/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a connection costs mesh-issuer (./dev bench; nothing is asserted):
 *
 *   1. full TLS 1.3 handshakes with a client certificate (no resumption), against mesh-issuer
 *      and against `openssl s_server -WWW` started with the same certificate, key and CA;
 *      the server's CPU time (utime + stime from /proc/PID/stat) per handshake, in
 *      alternating rounds; the ratio is the median of the per-round ratios. Two modes:
 *      the handshake alone (until the client has the server's session ticket, which the
 *      server sends once it has checked the client's certificate and Finished), and the
 *      handshake plus one tiny request (issuer: GET /healthz; s_server: GET of a 2-byte file).
 *      A second s_server also checks the CRL (-CRL crl.pem -crl_check), as the issuer does.
 *   2. the issuer's VmRSS with BENCH_IDLE (default 1000) idle keep-alive mTLS connections
 *      open, each having made one request.
 *
 * env: BENCH_HANDSHAKES (per round and server, default 300), BENCH_ROUNDS (default 5),
 *      BENCH_IDLE (default 1000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_util.h"
#include "e2e.h"

static int got_ticket;

static int on_ticket(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    (void)sess;
    got_ticket = 1;
    return 0; /* not kept: every handshake is a full one */
}

static SSL_CTX *client_ctx(const char *dir)
{
    char cert[400], key[400], ca[400];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    snprintf(cert, sizeof(cert), "%s/gateway/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/gateway/key.pem", dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        ERR_print_errors_fp(stderr);
        abort();
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_ticket);
    return ctx;
}

static int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    for (int i = 0; i < 50; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            return fd;
        }
        close(fd);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* A full handshake; with `req`, one request sent and read to the end (the server closes). */
static bool one_conn(SSL_CTX *ctx, int port, const char *req)
{
    int fd = tcp_connect(port);
    if (fd < 0) {
        return false;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    bool ok = SSL_connect(ssl) == 1;
    char buf[4096];
    if (ok && req != NULL) {
        ok = SSL_write(ssl, req, (int)strlen(req)) > 0;
        while (ok && SSL_read(ssl, buf, sizeof(buf)) > 0) {
        }
    } else if (ok) {
        /* wait (bounded) for the ticket: the server has then finished its side */
        got_ticket = 0;
        fcntl(fd, F_SETFL, O_NONBLOCK);
        for (int i = 0; i < 100 && !got_ticket; i++) {
            if (SSL_read(ssl, buf, sizeof(buf)) <= 0 &&
                SSL_get_error(ssl, -1) != SSL_ERROR_WANT_READ) {
                break;
            }
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (!got_ticket) {
                poll(&p, 1, 100);
            }
        }
        ok = got_ticket;
    }
    ERR_clear_error();
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    return ok;
}

/* server CPU seconds for n connections */
static double conns_cpu(SSL_CTX *ctx, pid_t pid, int port, const char *req, int n, int *failed)
{
    double c0 = bench_proc_cpu(pid);
    for (int i = 0; i < n; i++) {
        if (!one_conn(ctx, port, req)) {
            (*failed)++;
        }
    }
    struct timespec ts = {0, 50 * 1000 * 1000}; /* let the server finish closing */
    nanosleep(&ts, NULL);
    return bench_proc_cpu(pid) - c0;
}

static pid_t start_s_server(int port, bool crl)
{
    char accept[64];
    snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (chdir(srv.dir) != 0) {
            _exit(127);
        }
        /* as the issuer: ask for (not require) a client certificate, send the CA names,
         * one TLS 1.3 ticket */
        execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept, "-cert",
               "mesh-issuer/leaf.pem", "-cert_chain", "intermediate.pem", "-key",
               "mesh-issuer/key.pem", "-CAfile", "ca.pem", "-verify", "4", "-num_tickets", "1",
               "-WWW", /* without crl the list ends here */ crl ? "-CRL" : NULL, "crl.pem",
               "-crl_check", (char *)NULL);
        _exit(127);
    }
    return pid;
}

typedef struct {
    double issuer_ms, s_server_ms, ratio;
    double crl_ms, crl_ratio; /* s_server also checking the CRL, as the issuer does */
    int failed;
} hs_t;

static hs_t handshakes(SSL_CTX *ctx, const pid_t *sp, const int *sport, const char *req_i,
                       const char *req_s, int n, int rounds)
{
    hs_t h = {0};
    double ri[16], rs[16], rc[16], ratio[16], ratio_c[16];
    for (int r = 0; r < rounds; r++) {
        double a = conns_cpu(ctx, srv.pid, srv.port, req_i, n, &h.failed);
        double b = conns_cpu(ctx, sp[0], sport[0], req_s, n, &h.failed);
        double c = conns_cpu(ctx, sp[1], sport[1], req_s, n, &h.failed);
        ri[r] = a / n * 1e3;
        rs[r] = b / n * 1e3;
        rc[r] = c / n * 1e3;
        ratio[r] = b > 0 ? a / b : 0;
        ratio_c[r] = c > 0 ? a / c : 0;
    }
    h.issuer_ms = bench_median(ri, (size_t)rounds);
    h.s_server_ms = bench_median(rs, (size_t)rounds);
    h.crl_ms = bench_median(rc, (size_t)rounds);
    h.ratio = bench_median(ratio, (size_t)rounds);
    h.crl_ratio = bench_median(ratio_c, (size_t)rounds);
    return h;
}

/* opens `n` connections, one keep-alive request each, and reads the issuer's RSS */
static int idle_rss(SSL_CTX *ctx, int n, long *rss_before, long *rss_after)
{
    SSL **ssl = calloc((size_t)n, sizeof(SSL *));
    const char *req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char buf[4096];
    int open_ok = 0;
    *rss_before = bench_proc_rss_kib(srv.pid);
    double t0 = bench_now();
    for (int i = 0; i < n && bench_now() - t0 < 40; i++) { /* idle connections live 60 s */
        int fd = tcp_connect(srv.port);
        if (fd < 0) {
            break;
        }
        ssl[i] = SSL_new(ctx);
        SSL_set_fd(ssl[i], fd);
        SSL_set_tlsext_host_name(ssl[i], "localhost");
        if (SSL_connect(ssl[i]) == 1 && SSL_write(ssl[i], req, (int)strlen(req)) > 0 &&
            SSL_read(ssl[i], buf, sizeof(buf)) > 0) {
            open_ok++;
        }
    }
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    *rss_after = bench_proc_rss_kib(srv.pid);
    for (int i = 0; i < n; i++) {
        if (ssl[i] != NULL) {
            int fd = SSL_get_fd(ssl[i]);
            SSL_free(ssl[i]);
            close(fd);
        }
    }
    free(ssl);
    return open_ok;
}

int main(void)
{
    const char *root = getenv("MESH_SOURCE_ROOT");
    const char *build = getenv("MESH_BUILD_ROOT");
    if (root == NULL || build == NULL) {
        fprintf(stderr, "bench-issuer-conn: run through ./dev bench\n");
        return 2;
    }
    int n = (int)bench_env("BENCH_HANDSHAKES", 300);
    int rounds = (int)bench_env("BENCH_ROUNDS", 5);
    int idle = (int)bench_env("BENCH_IDLE", 1000);
    rounds = rounds < 1 ? 1 : rounds > 16 ? 16 : rounds;

    /* the issuer (a child, forked later) inherits the limit: both ends need idle + slack */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t need = (rlim_t)idle + 256;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);

    char cmd[600];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e2e_init_roots(root, build);
    srv.extra = "\"max_connections_per_source\": 65536"; /* every connection is from 127.0.0.1 */
    write_config("{\"current\": \"jwt-signing.key\"}",
                 "{\"per_identity\": {\"rate\": 0}, \"per_source\": {\"rate\": 0}}");
    snprintf(cmd, sizeof(cmd), "printf ok > '%s/ok.txt'", srv.dir);
    if (run_cmd(cmd, NULL) != 0) {
        return 1;
    }
    server_start();
    int sport[2] = {e2e_free_port(), 0};
    pid_t sp[2] = {start_s_server(sport[0], false), 0};
    sport[1] = e2e_free_port();
    sp[1] = start_s_server(sport[1], true);
    SSL_CTX *ctx = client_ctx(srv.dir);

    printf("mesh-issuer connections (load average %.2f; %d rounds of %d per server; issuer "
           "with 2 workers)\n",
           bench_loadavg(), rounds, n);
    hs_t a = handshakes(ctx, sp, sport, NULL, NULL, n, rounds);
    printf("  full TLS 1.3 handshake, P-256 client certificate, no resumption:\n");
    printf("    issuer CPU per handshake:           %7.3f ms\n", a.issuer_ms);
    printf("    openssl s_server CPU per handshake: %7.3f ms\n", a.s_server_ms);
    printf("    ratio issuer / s_server:            %7.2f   (median of rounds; target <= 1.15 "
           "%s)%s\n",
           a.ratio, a.ratio <= 1.15 ? "met" : "NOT met", a.failed ? "  FAILED HANDSHAKES" : "");
    printf("    s_server with -CRL crl.pem -crl_check: %5.3f ms; issuer / that: %.2f\n", a.crl_ms,
           a.crl_ratio);
    hs_t b = handshakes(ctx, sp, sport,
                        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                        "GET /ok.txt HTTP/1.0\r\n\r\n", n, rounds);
    printf("  the same plus one tiny request (issuer GET /healthz, s_server -WWW a 2-byte "
           "file):\n");
    printf("    issuer CPU per connection:          %7.3f ms\n", b.issuer_ms);
    printf("    openssl s_server CPU per connection:%7.3f ms\n", b.s_server_ms);
    printf("    ratio issuer / s_server:            %7.2f%s\n", b.ratio,
           b.failed ? "  FAILED CONNECTIONS" : "");
    printf("    s_server with the CRL check:        %7.3f ms; issuer / that: %.2f\n", b.crl_ms,
           b.crl_ratio);
    fflush(stdout);
    for (int i = 0; i < 2; i++) {
        kill(sp[i], SIGKILL);
        waitpid(sp[i], NULL, 0);
    }

    long before = 0, after = 0;
    int opened = idle_rss(ctx, idle, &before, &after);
    printf("  issuer VmRSS, %d idle keep-alive mTLS connections (RLIMIT_NOFILE %ld):\n", opened,
           (long)rl.rlim_cur);
    printf("    before: %.1f MiB  with them open: %.1f MiB  (%.1f KiB per connection; target "
           "<= 64 MiB %s)\n",
           (double)before / 1024, (double)after / 1024,
           opened > 0 ? (double)(after - before) / opened : 0,
           after <= 64 * 1024 && opened == idle ? "met" : "NOT met");
    int st = 0;
    server_stop_signal(SIGTERM, &st);
    SSL_CTX_free(ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", srv.dir);
    }
    curl_global_cleanup();
    return a.failed == 0 && b.failed == 0 && opened == idle ? 0 : 1;
}
