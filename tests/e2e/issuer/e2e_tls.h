/* SPDX-License-Identifier: Apache-2.0 */
/* Raw TLS connections to the server under test (e2e_tls.c); the test fails on a broken one. */
#ifndef E2E_TLS_H
#define E2E_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* A client context trusting the test CA; with `leaf` ("gateway"), its certificate. */
SSL_CTX *client_ctx(const char *leaf);
void set_wait(SSL *ssl, int seconds); /* receive and send timeouts of its socket */
/* Connects and sends the ClientHello; tls_finish() completes the handshake. */
SSL *tls_begin(SSL_CTX *ctx);
/* true once the handshake is complete; false when wait_s passed without it (or it failed). */
bool tls_finish(SSL *ssl, int wait_s);
void tls_send(SSL *ssl, const char *data, size_t len); /* all of it */
void tls_close(SSL *ssl);

enum { ANSWER_ENDED = -1, ANSWER_WAIT_OVER = -2 };

/* Reads one whole HTTP answer (headers, Content-Length body) into buf: its status, or
 * ANSWER_ENDED when the connection ended first, ANSWER_WAIT_OVER when wait_s ran out first. */
int read_answer(SSL *ssl, int wait_s, char *buf, size_t cap);

#endif /* E2E_TLS_H */
