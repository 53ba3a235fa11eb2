/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The examples' HTTPS server picks up a renewed pair without a restart: a renewal in place
 * (mesh_renew_once against the scripted issuer) is seen by the file poll, SIGHUP reloads
 * too; new connections get the new certificate while a connection opened before keeps
 * working.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mesh/mesh.h>
#include <mesh/renew.h>

#include "../../examples/common/https_server.h"
#include "fake_issuer.h"
#include "testutil.h"

static tu_env_t env;
static mesh_key_t *key;
static fake_t *fake;
static https_server_t *srv;
static pthread_t loop;
static char ca[512], cert[600], keyp[600], b_cert[512], b_key[512];

static void on_req(struct evhttp_request *req, void *arg)
{
    struct evbuffer *b = evbuffer_new();
    (void)arg;
    evbuffer_add(b, "ok", 2);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void *run(void *arg)
{
    https_server_run(arg);
    return NULL;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(mesh_file_read(from, MESH_MAX_PEM_BYTES, &data, &len), MESH_OK);
    assert_int_equal(mesh_file_write_atomic(to, data, len, mode, true), MESH_OK);
    mesh_free(data);
}

static int setup(void **state)
{
    char from[512], inter[512], inter_key[512];
    (void)state;

    evthread_use_pthreads();
    tu_env_init(&env);
    key = tu_rsa_key();
    fake = fake_start(env.certs, key, 0);
    tu_path(&env, "ca.pem", ca, sizeof(ca));
    tu_path(&env, "svc-b/cert.pem", b_cert, sizeof(b_cert));
    tu_path(&env, "svc-b/key.pem", b_key, sizeof(b_key));
    fake_set_cert_ca(fake, tu_path(&env, "intermediate.pem", inter, sizeof(inter)),
                     tu_path(&env, "intermediate.key", inter_key, sizeof(inter_key)), 3600);
    snprintf(cert, sizeof(cert), "%s/cert.pem", env.dir);
    snprintf(keyp, sizeof(keyp), "%s/key.pem", env.dir);
    copy_file(tu_path(&env, "svc-a/cert.pem", from, sizeof(from)), cert, 0644);
    copy_file(tu_path(&env, "svc-a/key.pem", from, sizeof(from)), keyp, 0600);
    https_server_opts_t o = {.listen = "127.0.0.1:0",
                             .cert_path = cert,
                             .key_path = keyp,
                             .ca_path = ca,
                             .require_client_cert = true,
                             .name = "reload-test",
                             .reload_poll_ms = 200};
    srv = https_server_new(&o, on_req, NULL);
    assert_non_null(srv);
    pthread_create(&loop, NULL, run, srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    https_server_stop(srv);
    pthread_join(loop, NULL);
    https_server_free(srv);
    fake_stop(fake);
    mesh_key_free(key);
    tu_env_cleanup(&env);
    return 0;
}

typedef struct {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
} conn_t;

/* A new mTLS connection to the server (as svc-b). */
static void conn_open(conn_t *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};

    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_int_equal(SSL_CTX_use_certificate_chain_file(c->ctx, b_cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(c->ctx, b_key, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, ca, NULL), 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    sa.sin_port = htons((uint16_t)https_server_port(srv));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    assert_int_equal(SSL_connect(c->ssl), 1);
}

/* One keep-alive request on the connection: true when it answers 200. */
static bool conn_get(conn_t *c)
{
    const char *q = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    char buf[1024];
    int n;

    if (SSL_write(c->ssl, q, (int)strlen(q)) <= 0) {
        return false;
    }
    /* The whole answer (headers and body may come in separate records): it ends in "ok". */
    size_t got = 0;
    buf[0] = '\0';
    while (got < 2 || strcmp(buf + got - 2, "ok") != 0) {
        n = SSL_read(c->ssl, buf + got, (int)(sizeof(buf) - 1 - got));
        if (n <= 0) {
            return false;
        }
        got += (size_t)n;
        buf[got] = '\0';
    }
    return strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

static void conn_x5t(conn_t *c, char out[MESH_X5T_LEN + 1])
{
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    assert_true(n > 0);
    assert_int_equal(mesh_x5t_s256(der, (size_t)n, out), MESH_OK);
    OPENSSL_free(der);
    X509_free(x);
}

static void conn_close(conn_t *c)
{
    SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    close(c->fd);
    SSL_CTX_free(c->ctx);
}

static void file_x5t(char out[MESH_X5T_LEN + 1])
{
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(mesh_x509_load_der(cert, &der, &len), MESH_OK);
    assert_int_equal(mesh_x5t_s256(der, len, out), MESH_OK);
    mesh_free(der);
}

/* Waits (bounded: 20 s) for the server's reload count to pass `n`. */
static void await_reloads(unsigned n)
{
    for (int i = 0; i < 2000 && https_server_reloads(srv) <= n; i++) {
        tu_sleep_ms(10);
    }
    assert_true(https_server_reloads(srv) > n);
}

static void renew(void)
{
    mesh_renew_opts_t *o = NULL;
    mesh_renew_info_t info;
    assert_int_equal(mesh_renew_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_issuer_url(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_cert_path(o, cert), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_key_path(o, keyp), MESH_OK);
    assert_int_equal(mesh_renew_once(o, &info), MESH_OK);
    mesh_renew_opts_free(o);
}

static void test_renewed_files_are_served_without_restart(void **state)
{
    conn_t old = {0}, fresh = {0};
    char before[MESH_X5T_LEN + 1], seen[MESH_X5T_LEN + 1], want[MESH_X5T_LEN + 1];
    (void)state;

    conn_open(&old);
    assert_true(conn_get(&old));
    conn_x5t(&old, before);
    file_x5t(want);
    assert_string_equal(before, want);

    unsigned n = https_server_reloads(srv);
    renew(); /* the poll sees the new files */
    await_reloads(n);
    file_x5t(want);
    conn_open(&fresh);
    conn_x5t(&fresh, seen);
    assert_string_equal(seen, want);
    assert_string_not_equal(seen, before);
    assert_true(conn_get(&fresh));
    assert_true(conn_get(&old)); /* the connection from before still works */
    conn_close(&fresh);

    /* SIGHUP reloads at once, too. */
    n = https_server_reloads(srv);
    assert_int_equal(raise(SIGHUP), 0);
    await_reloads(n);
    assert_true(conn_get(&old));
    conn_close(&old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renewed_files_are_served_without_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
