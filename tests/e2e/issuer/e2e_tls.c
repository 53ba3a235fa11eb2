/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Raw TLS connections to the server under test, for the states and bytes curl never
 * produces: idle or half-sent requests, hand-written HTTP framing. Asserts with cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "e2e_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "e2e.h"

SSL_CTX *client_ctx(const char *leaf)
{
    char ca[400], cert[400], key[400];
    snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* closes come without close_notify */
    if (leaf != NULL) {
        snprintf(cert, sizeof(cert), "%s/%s/cert.pem", srv.dir, leaf);
        snprintf(key, sizeof(key), "%s/%s/key.pem", srv.dir, leaf);
        assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    }
    return ctx;
}

void set_wait(SSL *ssl, int seconds)
{
    struct timeval tv = {seconds, 0};
    int fd = SSL_get_fd(ssl);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

SSL *tls_begin(SSL_CTX *ctx)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0); /* the backlog takes it */
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    return ssl;
}

bool tls_finish(SSL *ssl, int wait_s)
{
    set_wait(ssl, wait_s);
    return SSL_is_init_finished(ssl) || SSL_connect(ssl) == 1;
}

void tls_send(SSL *ssl, const char *data, size_t len)
{
    set_wait(ssl, 60);
    assert_int_equal(SSL_write(ssl, data, (int)len), (int)len);
}

void tls_close(SSL *ssl)
{
    int fd = SSL_get_fd(ssl);
    SSL_free(ssl);
    close(fd);
}

int read_answer(SSL *ssl, int wait_s, char *buf, size_t cap)
{
    set_wait(ssl, wait_s);
    size_t n = 0;
    for (;;) {
        buf[n] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strstr(buf, "\r\nContent-Length:");
        if (end != NULL && cl != NULL && cl < end) {
            size_t body = (size_t)strtoul(cl + 17, NULL, 10);
            if ((size_t)(end + 4 - buf) + body <= n) {
                return (int)strtol(buf + 9, NULL, 10); /* "HTTP/1.1 200 OK" */
            }
        }
        if (n + 1 >= cap) {
            return ANSWER_ENDED;
        }
        int r = SSL_read(ssl, buf + n, (int)(cap - 1 - n));
        if (r <= 0) {
            return SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ ? ANSWER_WAIT_OVER : ANSWER_ENDED;
        }
        n += (size_t)r;
    }
}
