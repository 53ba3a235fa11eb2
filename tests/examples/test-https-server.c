/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The examples' HTTPS server (examples/common/https_server.c) and its refusal log limit
 * (examples/common/log_limit.c). The server tests run the real server in this process: a
 * TLS client thread talks to it over 127.0.0.1 while the main thread runs its event loop.
 * No assertion depends on how fast anything is: TCP_NODELAY is read back with getsockopt on
 * the server's side of the connection, and the log limit runs on a fake clock.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/thread.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mesh/limits.h>

#include "../../examples/common/https_server.h"
#include "../../examples/common/log_limit.h"
#include "../test-tmp.h"

#define FLOOD_REQUESTS 1000

static char tmpdir[256], cert_path[320], key_path[320];

/* ---- fixture: a self-signed P-256 certificate for "localhost" ---- */

static void write_identity(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    FILE *f;

    assert_non_null(key);
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"localhost", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    f = fopen(cert_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

static int setup(void **state)
{
    (void)state;
    if (evthread_use_pthreads() != 0) { /* the client thread stops the server's loop */
        return -1;
    }
    if (test_tmp_template(tmpdir, sizeof(tmpdir), "https-server") == NULL ||
        mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    (void)snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
    (void)snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
    write_identity();
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- a TLS client in a thread: n sequential requests on one keep-alive connection ---- */

typedef struct {
    https_server_t *srv; /* stopped when the client is done (or failed) */
    int port;
    int requests;
    int answered; /* responses read completely */
    int last_status;
} client_t;

/* Reads one HTTP/1.1 response (headers + Content-Length body); returns its status or -1. */
static int read_response(SSL *ssl)
{
    char buf[8192];
    size_t used = 0;
    char *end = NULL;

    while (end == NULL) {
        if (used == sizeof(buf) - 1) {
            return -1;
        }
        int n = SSL_read(ssl, buf + used, (int)(sizeof(buf) - 1 - used));
        if (n <= 0) {
            return -1;
        }
        used += (size_t)n;
        buf[used] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = -1;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1) {
        return -1;
    }
    const char *cl = strstr(buf, "Content-Length: ");
    long want = cl != NULL ? strtol(cl + 16, NULL, 10) : 0;
    long have = (long)(used - (size_t)(end + 4 - buf));
    while (have < want) {
        int n = SSL_read(ssl, buf, (int)sizeof(buf));
        if (n <= 0) {
            return -1;
        }
        have += n;
    }
    return status;
}

static void *client_main(void *arg)
{
    client_t *c = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    static const char req[] = "GET /assets/1 HTTP/1.1\r\nHost: localhost\r\n"
                              "Authorization: Bearer not-a-token\r\n\r\n";

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ctx == NULL || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        goto out;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* the server's identity is not the point */
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
        ERR_print_errors_fp(stderr);
        goto out;
    }
    for (int i = 0; i < c->requests; i++) {
        if (SSL_write(ssl, req, (int)sizeof(req) - 1) != (int)sizeof(req) - 1) {
            break;
        }
        c->last_status = read_response(ssl);
        if (c->last_status < 0) {
            break;
        }
        c->answered++;
    }
    (void)SSL_shutdown(ssl);
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0) {
        close(fd);
    }
    https_server_stop(c->srv); /* from this thread: libevent threading is on (setup) */
    return NULL;
}

/* ---- the server side ---- */

typedef struct {
    https_server_t *srv;
    int seen;
    int nodelay;        /* TCP_NODELAY of the server's socket of the last request; -1 unread */
    bool refuse;        /* answer 401 and log the refusal, as the gateway does */
    long long fake_now; /* the clock the log limit sees */
} server_t;

static server_t *current;

static long long fake_clock(void)
{
    return current->fake_now;
}

static void handler(struct evhttp_request *req, void *arg)
{
    server_t *t = arg;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
    evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
    int v = -1;
    socklen_t len = sizeof(v);

    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) != 0) {
        v = -1;
    }
    t->nodelay = v;
    t->seen++;
    if (t->refuse) {
        https_server_log_refusal(t->srv, "401 GET /assets/1: MESH_ERR_TOKEN_MALFORMED (request %d)",
                                 t->seen);
        https_reply_json(req, 401, "Unauthorized", "{\"error\":\"invalid_token\"}",
                         "WWW-Authenticate", "Bearer error=\"invalid_token\"");
    } else {
        https_reply_json(req, 200, "OK", "{\"status\":\"ok\"}", NULL, NULL);
    }
}

/* Runs the server until the client thread is done with its requests. */
static void serve(server_t *t, FILE *log, client_t *c)
{
    https_server_opts_t so = {.listen = "127.0.0.1:0",
                              .cert_path = cert_path,
                              .key_path = key_path,
                              .ca_path = cert_path,
                              .require_client_cert = false,
                              .name = "test-server",
                              .log = log,
                              .clock = fake_clock};
    pthread_t th;

    current = t;
    t->srv = https_server_new(&so, handler, t);
    assert_non_null(t->srv);
    c->srv = t->srv;
    c->port = https_server_port(t->srv);
    assert_int_equal(pthread_create(&th, NULL, client_main, c), 0);
    assert_int_equal(https_server_run(t->srv), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    https_server_free(t->srv);
    t->srv = NULL;
}

static void test_set_nodelay_sets_the_option(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), v = 0;
    socklen_t len = sizeof(v);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_int_equal(v, 0); /* the kernel's default: Nagle on */
    assert_true(https_socket_set_nodelay(fd));
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_int_not_equal(v, 0);
    close(fd);
    assert_false(https_socket_set_nodelay(-1));
}

/* Regression: without TCP_NODELAY on the accepted socket every keep-alive response waited
 * for the client's delayed ACK (~44 ms; the gateway topped out at ~23 requests/s). */
static void test_accepted_socket_has_tcp_nodelay(void **state)
{
    server_t t = {.nodelay = -1};
    client_t c = {.requests = 3};

    (void)state;
    serve(&t, NULL, &c);
    assert_int_equal(c.answered, 3);
    assert_int_equal(c.last_status, 200);
    assert_int_equal(t.seen, 3);
    assert_int_not_equal(t.nodelay, -1); /* the option was read on the server's socket */
    assert_int_not_equal(t.nodelay, 0);
}

static size_t count_lines(FILE *f, const char *needle, char *last, size_t cap)
{
    char line[2048];
    size_t n = 0;

    rewind(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (needle == NULL || strstr(line, needle) != NULL) {
            n++;
            size_t k = strnlen(line, cap - 1); /* the last line, cut to the caller's buffer */
            memcpy(last, line, k);
            last[k] = '\0';
        }
    }
    return n;
}

/* Regression: a bad-token flood logged one line per refused request (43 MB in 25 s). Now a
 * flood within one interval costs LOG_LIMIT_BURST lines plus one summary with the count. */
static void test_refusal_flood_log_is_bounded(void **state)
{
    char path[320], last[2048] = "", want[128];
    server_t t = {.refuse = true, .fake_now = 1000};
    client_t c = {.requests = FLOOD_REQUESTS};
    FILE *log;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/flood.log", tmpdir);
    log = fopen(path, "w+");
    assert_non_null(log);
    serve(&t, log, &c); /* the fake clock stands still: the whole flood is one interval */
    assert_int_equal(c.answered, FLOOD_REQUESTS);
    assert_int_equal(c.last_status, 401);
    assert_int_equal(count_lines(log, "401 GET /assets/1", last, sizeof(last)), LOG_LIMIT_BURST);
    assert_int_equal(count_lines(log, "suppressed", last, sizeof(last)), 1);
    (void)snprintf(want, sizeof(want), "test-server: suppressed %d similar lines",
                   FLOOD_REQUESTS - LOG_LIMIT_BURST);
    if (strstr(last, want) == NULL) {
        fail_msg("summary \"%s\" lacks \"%s\"", last, want);
    }
    assert_int_equal(count_lines(log, NULL, last, sizeof(last)), LOG_LIMIT_BURST + 1);
    fclose(log);
}

/* A refusal line carries peer-chosen bytes (the path): control bytes never reach the log. */
static void test_refusal_log_strips_control_bytes(void **state)
{
    char path[320], last[2048] = "";
    server_t t = {.fake_now = 5};
    https_server_opts_t so = {.listen = "127.0.0.1:0",
                              .cert_path = cert_path,
                              .key_path = key_path,
                              .ca_path = cert_path,
                              .name = "test-server",
                              .clock = fake_clock};
    FILE *log;

    (void)state;
    (void)snprintf(path, sizeof(path), "%s/ctl.log", tmpdir);
    log = fopen(path, "w+");
    assert_non_null(log);
    so.log = log;
    current = &t;
    t.srv = https_server_new(&so, handler, &t);
    assert_non_null(t.srv);
    https_server_log_refusal(t.srv, "401 GET %s: bad", "/a\x1b[2J\nfake: line\r");
    https_server_free(t.srv);
    (void)fflush(log);
    assert_int_equal(count_lines(log, NULL, last, sizeof(last)), 1);
    assert_string_equal(last, "test-server: 401 GET /a?[2J?fake: line?: bad\n");
    fclose(log);
}

/* ---- log_limit on its own, with explicit time ---- */

static FILE *mem_log(void)
{
    FILE *f = tmpfile();

    assert_non_null(f);
    return f;
}

static void test_log_limit_burst_then_summary_when_interval_ends(void **state)
{
    log_limit_t l;
    FILE *f = mem_log();
    char last[2048];
    int written = 0;

    (void)state;
    log_limit_init(&l, f, "svc");
    for (int i = 0; i < FLOOD_REQUESTS; i++) {
        written += log_limit_printf(&l, 50, "refused %d", i) ? 1 : 0;
    }
    assert_int_equal(written, LOG_LIMIT_BURST);
    assert_true(log_limit_tick(&l, 50)); /* the interval is not over: the summary waits */
    assert_int_equal(count_lines(f, "suppressed", last, sizeof(last)), 0);
    assert_false(log_limit_tick(&l, 50 + LOG_LIMIT_INTERVAL_S)); /* now it is written */
    assert_int_equal(count_lines(f, "suppressed", last, sizeof(last)), 1);
    assert_non_null(strstr(last, "svc: suppressed 990 similar lines in the last 1 s"));
    assert_int_equal(count_lines(f, NULL, last, sizeof(last)), LOG_LIMIT_BURST + 1);
    assert_int_equal(l.total_suppressed, FLOOD_REQUESTS - LOG_LIMIT_BURST);
    fclose(f);
}

static void test_log_limit_summary_precedes_next_interval(void **state)
{
    log_limit_t l;
    FILE *f = mem_log();
    char line[256];
    int n = 0;

    (void)state;
    log_limit_init(&l, f, "svc");
    for (int i = 0; i < LOG_LIMIT_BURST + 5; i++) {
        (void)log_limit_printf(&l, 7, "a %d", i);
    }
    assert_true(log_limit_printf(&l, 8, "b"));
    rewind(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        n++;
        if (n == LOG_LIMIT_BURST + 1) {
            assert_non_null(strstr(line, "suppressed 5 similar lines"));
        } else if (n == LOG_LIMIT_BURST + 2) {
            assert_string_equal(line, "b\n");
        }
    }
    assert_int_equal(n, LOG_LIMIT_BURST + 2);
    fclose(f);
}

static void test_log_limit_quiet_and_flush(void **state)
{
    log_limit_t l;
    FILE *f = mem_log();
    char last[256];

    (void)state;
    log_limit_init(&l, f, "svc");
    for (int s = 0; s < 5; s++) { /* under the limit every second: no summary, ever */
        for (int i = 0; i < LOG_LIMIT_BURST; i++) {
            assert_true(log_limit_printf(&l, s, "ok"));
        }
    }
    assert_false(log_limit_tick(&l, 100));
    assert_int_equal(count_lines(f, "suppressed", last, sizeof(last)), 0);
    for (int i = 0; i < LOG_LIMIT_BURST + 3; i++) {
        (void)log_limit_printf(&l, 200, "x");
    }
    log_limit_flush(&l); /* shutdown: the count is written at once */
    assert_int_equal(count_lines(f, "suppressed", last, sizeof(last)), 1);
    assert_non_null(strstr(last, "suppressed 3 similar lines"));
    log_limit_flush(&l); /* nothing new: nothing written */
    assert_int_equal(count_lines(f, "suppressed", last, sizeof(last)), 1);
    fclose(f);
}

/* The body reader hands the body over in one bounded buffer: several chunks joined, the
 * limit exact, and one byte over it refused (MESH_ERR_LIMIT), not forwarded. */
static void test_request_body_is_bounded(void **state)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    struct evbuffer *in = req != NULL ? evhttp_request_get_input_buffer(req) : NULL;
    static char big[MESH_GATEWAY_MAX_BODY + 1];
    mesh_buf_t *b = NULL;

    (void)state;
    assert_non_null(in);
    assert_int_equal(https_request_body(req, &b), MESH_OK); /* no body: empty */
    assert_int_equal(mesh_buf_len(b), 0);
    mesh_buf_free(b);
    b = NULL;

    assert_int_equal(evbuffer_add(in, "abc", 3), 0);
    assert_int_equal(evbuffer_add_reference(in, "def", 3, NULL, NULL), 0); /* a second chunk */
    assert_int_equal(https_request_body(req, &b), MESH_OK);
    assert_string_equal(mesh_buf_data(b), "abcdef");
    mesh_buf_free(b);
    b = NULL;

    memset(big, 'x', sizeof(big));
    assert_int_equal(evbuffer_drain(in, evbuffer_get_length(in)), 0);
    assert_int_equal(evbuffer_add(in, big, MESH_GATEWAY_MAX_BODY), 0);
    assert_int_equal(https_request_body(req, &b), MESH_OK);
    assert_int_equal(mesh_buf_len(b), MESH_GATEWAY_MAX_BODY);
    mesh_buf_free(b);
    b = NULL;

    assert_int_equal(evbuffer_add(in, "x", 1), 0);
    assert_int_equal(https_request_body(req, &b), MESH_ERR_LIMIT);
    assert_null(b);
    evhttp_request_free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_nodelay_sets_the_option),
        cmocka_unit_test(test_accepted_socket_has_tcp_nodelay),
        cmocka_unit_test(test_refusal_flood_log_is_bounded),
        cmocka_unit_test(test_refusal_log_strips_control_bytes),
        cmocka_unit_test(test_log_limit_burst_then_summary_when_interval_ends),
        cmocka_unit_test(test_log_limit_summary_precedes_next_interval),
        cmocka_unit_test(test_log_limit_quiet_and_flush),
        cmocka_unit_test(test_request_body_is_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
