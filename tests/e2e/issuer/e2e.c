/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer end to end: a real server process on 127.0.0.1 with a test PKI from the openssl
 * CLI (gen-certs.sh), driven with libcurl; tokens are checked with libmesh's verifier against
 * the JWKS the server publishes. The endpoints and their errors; the server's lifecycle
 * (restarts, signals, connection limits) is e2e_lifecycle.c.
 * usage: test-issuer-e2e MESH_ISSUER GEN_CERTS_SH
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <mesh/mesh.h>

#include "e2e.h"

/* ---- discovery endpoints ---- */

static void test_discovery(void **state)
{
    req_t r = {.path = "/healthz"};
    resp_t *x = do_req(&r);
    assert_int_equal(x->status, 200);
    assert_string_equal(jstr(x, "status"), "ok");
    resp_free(x);

    r.path = "/.well-known/jwks.json";
    x = do_req(&r);
    char h[128];
    assert_int_equal(x->status, 200);
    assert_non_null(resp_header(x, "Cache-Control", h, sizeof(h)));
    assert_non_null(strstr(h, "max-age="));
    assert_int_equal(json_array_size(json_object_get(x->json, "keys")), 1);
    assert_null(strstr(x->body, "\"d\"")); /* never a private part */
    resp_free(x);

    r.path = "/.well-known/oauth-authorization-server";
    x = do_req(&r);
    assert_int_equal(x->status, 200);
    assert_string_equal(jstr(x, "issuer"), srv.url);
    char want[128];
    snprintf(want, sizeof(want), "%s/v1/token", srv.url);
    assert_string_equal(jstr(x, "token_endpoint"), want);
    snprintf(want, sizeof(want), "%s/.well-known/jwks.json", srv.url);
    assert_string_equal(jstr(x, "jwks_uri"), want);
    snprintf(want, sizeof(want), "%s/v1/revoke", srv.url);
    assert_string_equal(jstr(x, "revocation_endpoint"), want);
    assert_true(
        json_is_true(json_object_get(x->json, "tls_client_certificate_bound_access_tokens")));
    json_t *m = json_object_get(x->json, "token_endpoint_auth_methods_supported");
    assert_string_equal(json_string_value(json_array_get(m, 0)), "tls_client_auth");
    assert_string_equal(json_string_value(json_array_get(m, 1)), "client_secret_basic");
    m = json_object_get(x->json, "grant_types_supported");
    assert_string_equal(json_string_value(json_array_get(m, 0)), "client_credentials");
    resp_free(x);

    r.path = "/v1/audiences";
    x = do_req(&r);
    assert_int_equal(x->status, 200);
    json_t *a = json_object_get(x->json, "audiences");
    assert_int_equal(json_array_size(a), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "name")),
                        "asset-service");
    resp_free(x);

    r.path = "/metrics";
    x = do_req(&r);
    assert_int_equal(x->status, 200);
    assert_non_null(strstr(x->body, "mesh_issuer_"));
    resp_free(x);
}

static void test_routes(void **state)
{
    req_t r = {.path = "/v1/token", .method = "GET"};
    resp_t *x = do_req(&r);
    char h[64];
    assert_non_null(resp_header(x, "Allow", h, sizeof(h)));
    assert_string_equal(h, "POST");
    expect_error(x, 405, "invalid_request", "POST");

    req_t r2 = {.path = "/.well-known/jwks.json", .method = "DELETE"};
    x = do_req(&r2);
    assert_non_null(resp_header(x, "Allow", h, sizeof(h)));
    expect_error(x, 405, "invalid_request", "GET");

    req_t r3 = {.path = "/no/such/thing"};
    expect_error(do_req(&r3), 404, "not_found", "/v1/token");
}

/* ---- mTLS tokens ---- */

static void test_mtls_token(void **state)
{
    resp_t *x = post_token("gateway", TOKEN_FORM);
    assert_int_equal(x->status, 200);
    char h[64];
    assert_non_null(resp_header(x, "Cache-Control", h, sizeof(h)));
    assert_string_equal(h, "no-store");
    assert_string_equal(jstr(x, "token_type"), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(x->json, "expires_in")), 300);
    assert_string_equal(jstr(x, "scope"), "assets:read assets:write");
    mesh_identity_t *c = NULL;
    assert_int_equal(verify(jstr(x, "access_token"), "asset-service", "gateway", &c), MESH_OK);
    assert_string_equal(mesh_identity_subject(c), "spiffe://mesh.local/gateway");
    assert_string_equal(mesh_identity_client_id(c), "gateway");
    assert_int_equal(strlen(mesh_identity_x5t(c)), MESH_X5T_LEN);
    assert_int_equal(mesh_identity_expiry(c) - mesh_identity_issued_at(c), 300);
    mesh_identity_free(c);
    /* Bound to the gateway's certificate: useless with another one. */
    assert_int_equal(verify(jstr(x, "access_token"), "asset-service", "chat-service", NULL),
                     MESH_ERR_CNF_MISMATCH);
    resp_free(x);

    /* JSON body, one scope, explicit ttl */
    req_t r = {.path = "/v1/token",
               .cert = "gateway",
               .ctype = "application/json",
               .body = "{\"grant_type\":\"client_credentials\",\"audience\":\"chat-service\","
                       "\"scope\":\"chat:read\",\"ttl\":60}"};
    x = do_req(&r);
    assert_int_equal(x->status, 200);
    assert_string_equal(jstr(x, "scope"), "chat:read");
    assert_int_equal(json_integer_value(json_object_get(x->json, "expires_in")), 60);
    assert_int_equal(verify(jstr(x, "access_token"), "chat-service", "gateway", NULL), MESH_OK);
    resp_free(x);

    /* form-encoded scope with '+' between scopes */
    x = post_token("gateway", "grant_type=client_credentials&audience=asset-service"
                              "&scope=assets:read+assets:write");
    assert_int_equal(x->status, 200);
    assert_string_equal(jstr(x, "scope"), "assets:read assets:write");
    resp_free(x);
}

static void test_mtls_bad_certs(void **state)
{
    expect_error(post_token("gateway-foreign", TOKEN_FORM), 401, "invalid_client",
                 "certificate rejected");
    expect_error(post_token("expired-svc", TOKEN_FORM), 401, "invalid_client", "expired");
    expect_error(post_token("revoked-svc", TOKEN_FORM), 401, "invalid_client", "revoked");
    resp_t *x = post_token(NULL, TOKEN_FORM);
    char h[128];
    assert_non_null(resp_header(x, "WWW-Authenticate", h, sizeof(h)));
    assert_non_null(strstr(h, "Basic"));
    expect_error(x, 401, "invalid_client", "client certificate");
}

static void test_policy_errors(void **state)
{
    expect_error(post_token("gateway", "grant_type=client_credentials&audience=nope"), 400,
                 "invalid_target", "gateway, asset-service, chat-service");
    expect_error(post_token("chat-service", "grant_type=client_credentials&audience=chat-service"),
                 403, "access_denied", "spiffe://mesh.local/chat-service");
    expect_error(post_token("admin", TOKEN_FORM), 403, "access_denied",
                 "allowed: spiffe://mesh.local/gateway");
    expect_error(post_token("chat-service", "grant_type=client_credentials&audience=asset-service"
                                            "&scope=assets:write"),
                 400, "invalid_scope", "allowed: assets:read");
    expect_error(post_token("gateway", "grant_type=client_credentials&audience=asset-service"
                                       "&scope=root"),
                 400, "invalid_scope", "assets:read assets:write");
    /* TTL bounds: global 30..600, chat-service's policy caps at 120 */
    expect_error(post_token("gateway", "grant_type=client_credentials&audience=asset-service"
                                       "&ttl=601"),
                 400, "invalid_request", "30..600");
    expect_error(post_token("gateway", "grant_type=client_credentials&audience=asset-service"
                                       "&ttl=29"),
                 400, "invalid_request", "30..600");
    expect_error(post_token("gateway", "grant_type=client_credentials&audience=asset-service"
                                       "&ttl=abc"),
                 400, "invalid_request", "whole number");
    expect_error(post_token("chat-service", "grant_type=client_credentials&audience=asset-service"
                                            "&ttl=121"),
                 400, "invalid_request", "30..120");
    resp_t *x = post_token("chat-service", TOKEN_FORM);
    assert_int_equal(json_integer_value(json_object_get(x->json, "expires_in")), 120);
    resp_free(x);
    x = post_token("gateway", "grant_type=client_credentials&audience=asset-service&ttl=600");
    assert_int_equal(json_integer_value(json_object_get(x->json, "expires_in")), 600);
    resp_free(x);
    x = post_token("gateway", "grant_type=client_credentials&audience=asset-service&ttl=30");
    assert_int_equal(json_integer_value(json_object_get(x->json, "expires_in")), 30);
    resp_free(x);
}

static void test_request_errors(void **state)
{
    expect_error(post_token("gateway", "audience=asset-service"), 400, "invalid_request",
                 "grant_type");
    expect_error(post_token("gateway", "grant_type=password&audience=asset-service"), 400,
                 "unsupported_grant_type", "client_credentials");
    expect_error(post_token("gateway", "grant_type=client_credentials"), 400, "invalid_request",
                 "audience is required");
    expect_error(post_token("gateway", "grant_type=client_credentials&audience=a&audience=b"), 400,
                 "invalid_request", "more than once");
    expect_error(post_token("gateway", "grant_type=client_credentials&audience=asset-service"
                                       "%00x"),
                 400, "invalid_request", "NUL");
    char longaud[1200];
    int used = snprintf(longaud, sizeof(longaud), "grant_type=client_credentials&audience=");
    for (int i = 0; i < 150; i++) { /* é x150: the quoted audience is cut mid-character */
        used += snprintf(longaud + used, sizeof(longaud) - (size_t)used, "%%C3%%A9");
    }
    expect_error(post_token("gateway", longaud), 400, "invalid_target", "is not registered");
    expect_error(post_token("gateway", "grant_type=client_credentials&audience=%ff%fe"), 400,
                 "invalid_request", "UTF-8");
    req_t r = {.path = "/v1/token",
               .cert = "gateway",
               .ctype = "application/json",
               .body = "{\"grant_type\":\"client_credentials\",\"audience\":"};
    expect_error(do_req(&r), 400, "invalid_request", "JSON");
    r.body = "{\"grant_type\":\"client_credentials\",\"audience\":\"a\",\"audience\":\"b\"}";
    expect_error(do_req(&r), 400, "invalid_request", "duplicate");
    /* the library's JSON door (issue 10): deeper than MESH_MAX_JSON_DEPTH, a member twice */
    r.body = "{\"grant_type\":\"client_credentials\",\"audience\":[[[[[[[[\"a\"]]]]]]]]}";
    expect_error(do_req(&r), 400, "invalid_request", "nested deeper than");
    r.body = "{\"grant_type\":\"client_credentials\",\"grant_type\":\"client_credentials\"}";
    expect_error(do_req(&r), 400, "invalid_request", "more than once");
    r.body = "[1,2]";
    expect_error(do_req(&r), 400, "invalid_request", "object");
    r.body = "{\"grant_type\":\"client_credentials\",\"audience\":{\"x\":1}}";
    expect_error(do_req(&r), 400, "invalid_request", "string");
    r.ctype = "text/plain";
    r.body = "hello";
    expect_error(do_req(&r), 415, "invalid_request", "Content-Type");
    req_t r2 = {
        .path = "/v1/token", .cert = "gateway", .body = TOKEN_FORM, .userpwd = "msi_x:mss_y"};
    expect_error(do_req(&r2), 400, "invalid_request", "more than one");
    req_t r3 = {.path = "/v1/token", .body = TOKEN_FORM, .hdrs = {"Authorization: Bearer x"}};
    expect_error(do_req(&r3), 400, "invalid_request", "Authorization scheme");
    req_t r4 = {.path = "/v1/token", .body = TOKEN_FORM, .userpwd = "nobody:wrong"};
    resp_t *x = do_req(&r4);
    char h[128];
    assert_non_null(resp_header(x, "WWW-Authenticate", h, sizeof(h)));
    expect_error(x, 401, "invalid_client", "unknown client id or wrong secret");
    req_t r5 = {.path = "/v1/token", .body = TOKEN_FORM, .hdrs = {"Mesh-Client-Id: x"}};
    expect_error(do_req(&r5), 401, "invalid_client", "Mesh-Client-Secret");
}

static void test_oversized(void **state)
{
    size_t n = 40000;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    memcpy(big, "grant_type=", 11);
    big[n] = '\0';
    resp_t *x = post_token("gateway", big);
    /* libevent refuses it before our handler: 413, or the connection is closed */
    assert_true(x->status == 413 || x->status == -1);
    resp_free(x);
    char *hdr = malloc(12000);
    snprintf(hdr, 12000, "X-Big: %0*d", 11000, 0);
    req_t r = {.path = "/healthz", .hdrs = {hdr}};
    x = do_req(&r);
    assert_true(x->status == 400 || x->status == 413 || x->status == 431 || x->status == -1);
    resp_free(x);
    free(hdr);
    free(big);
    /* the server is still fine */
    req_t ok = {.path = "/healthz"};
    x = do_req(&ok);
    assert_int_equal(x->status, 200);
    resp_free(x);
}

/* ---- a slow client holds a connection, sending a header byte by byte ---- */

typedef struct {
    volatile int closed_by_server;
    volatile int bytes;
    volatile int stop;
} slow_t;

static void *slow_client(void *arg)
{
    slow_t *s = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        return NULL;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
        const char *start = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
        SSL_write(ssl, start, (int)strlen(start));
        /* one byte every 200 ms, for at most 90 s; the server must cut us off first */
        for (int i = 0; i < 450 && !s->stop; i++) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (SSL_write(ssl, "a", 1) != 1) {
                s->closed_by_server = 1;
                break;
            }
            s->bytes++;
        }
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    return NULL;
}

static void test_slow_client(void **state)
{
    /* a silent connection that never even starts the TLS handshake */
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(silent, (struct sockaddr *)&a, sizeof(a)), 0);
    slow_t s = {0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_client, &s), 0);
    for (int i = 0; i < 50 && s.bytes < 3; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(s.bytes >= 1);    /* it is connected and trickling */
    for (int i = 0; i < 5; i++) { /* others are served meanwhile */
        resp_t *x = post_token("gateway", TOKEN_FORM);
        assert_int_equal(x->status, 200);
        resp_free(x);
    }
    assert_false(s.closed_by_server);
    pthread_join(t, NULL);
    assert_true(s.closed_by_server); /* the request deadline ended it */
    struct timeval tv = {60, 0};     /* generous: only "it ends", not "how fast" */
    setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char byte;
    ssize_t r = read(silent, &byte, 1);
    assert_true(r == 0 || (r < 0 && errno == ECONNRESET)); /* closed by the server */
    close(silent);
}

/* ---- TLS: versions, ciphers, resumption with one ticket ---- */

static int tickets;

static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    tickets++;
    return 0; /* not kept by OpenSSL's cache; we take SSL_get1_session below */
}

/* One GET /healthz over a fresh connection; returns 1 when the handshake and request worked. */
static int tls_get(SSL_CTX *ctx, SSL_SESSION *resume, SSL_SESSION **out, int *reused)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (resume != NULL) {
        SSL_set_session(ssl, resume);
    }
    int ok = 0;
    if (SSL_connect(ssl) == 1) {
        const char *req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        char buf[2048];
        int n = 0, r;
        SSL_write(ssl, req, (int)strlen(req));
        while ((r = SSL_read(ssl, buf + n, (int)sizeof(buf) - 1 - n)) > 0) {
            n += r;
        }
        buf[n] = '\0';
        ok = strstr(buf, "200 OK") != NULL;
        if (reused != NULL) {
            *reused = SSL_session_reused(ssl);
        }
        if (out != NULL) {
            *out = SSL_get1_session(ssl);
        }
        SSL_shutdown(ssl); /* else OpenSSL marks the session not resumable */
    }
    SSL_free(ssl);
    close(fd);
    return ok;
}

static void test_tls(void **state)
{
    char ca[400];
    snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
    /* TLS 1.3 with resumption: one ticket per connection, the second connection resumes */
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, ca, NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    /* the server closes after "Connection: close" without close_notify */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_SESSION *sess = NULL;
    tickets = 0;
    assert_int_equal(tls_get(ctx, NULL, &sess, NULL), 1);
    assert_int_equal(tickets, 1);
    assert_non_null(sess);
    int reused = 0;
    assert_int_equal(tls_get(ctx, sess, NULL, &reused), 1);
    assert_int_equal(reused, 1);
    SSL_SESSION_free(sess);
    SSL_CTX_free(ctx);

    /* TLS 1.2 works, with forward-secret AEAD suites only */
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    assert_int_equal(tls_get(ctx, NULL, NULL, NULL), 1);
    SSL_CTX_set_cipher_list(ctx, "AES128-SHA:AES256-SHA:AES128-GCM-SHA256");
    assert_int_equal(tls_get(ctx, NULL, NULL, NULL), 0);
    SSL_CTX_free(ctx);

    /* TLS 1.1 is refused by the server even when the client would allow it */
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
    assert_int_equal(tls_get(ctx, NULL, NULL, NULL), 0);
    SSL_CTX_free(ctx);
}

/* ---- service tokens ---- */

static resp_t *svc_token_basic(const char *id, const char *secret, const char *body)
{
    char up[300];
    snprintf(up, sizeof(up), "%s:%s", id, secret);
    req_t r = {.path = "/v1/token", .body = body, .userpwd = up};
    return do_req(&r);
}

static void test_svc_tokens(void **state)
{
    char id[64];
    char *secret = svc_create("ci-deploy",
                              "--audience asset-service --scope assets:read "
                              "--expires 48h",
                              id, sizeof(id));
    resp_t *x = svc_token_basic(id, secret, TOKEN_FORM);
    assert_int_equal(x->status, 200);
    assert_string_equal(jstr(x, "scope"), "assets:read");
    assert_int_equal(json_integer_value(json_object_get(x->json, "expires_in")), 120);
    mesh_identity_t *c = NULL;
    assert_int_equal(verify(jstr(x, "access_token"), "asset-service", NULL, &c), MESH_OK);
    assert_string_equal(mesh_identity_subject(c), "svc-token:ci-deploy");
    assert_string_equal(mesh_identity_x5t(c), ""); /* no certificate, no binding */
    mesh_identity_free(c);
    resp_free(x);

    /* the header form */
    char h1[128], h2[200];
    snprintf(h1, sizeof(h1), "Mesh-Client-Id: %s", id);
    snprintf(h2, sizeof(h2), "Mesh-Client-Secret: %s", secret);
    req_t r = {.path = "/v1/token", .body = TOKEN_FORM, .hdrs = {h1, h2}};
    x = do_req(&r);
    assert_int_equal(x->status, 200);
    resp_free(x);

    expect_error(svc_token_basic(id, secret,
                                 "grant_type=client_credentials&audience="
                                 "asset-service&ttl=300"),
                 400, "invalid_request", "30..120");
    expect_error(svc_token_basic(id, secret,
                                 "grant_type=client_credentials&audience="
                                 "chat-service"),
                 403, "access_denied", "svc-token:ci-deploy");
    expect_error(svc_token_basic(id, secret,
                                 "grant_type=client_credentials&audience="
                                 "asset-service&scope=assets:write"),
                 400, "invalid_scope", "assets:read");

    /* rotate with grace: old and new both work; revoke: neither does */
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof(cmd), "'%s' token rotate ci-deploy --grace 1h --json --config '%s'",
             srv.bin, srv.config);
    assert_int_equal(run_cmd(cmd, &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    char *secret2 = strdup(json_string_value(json_object_get(j, "client_secret")));
    json_decref(j);
    free(out);
    assert_string_not_equal(secret, secret2);
    x = svc_token_basic(id, secret, TOKEN_FORM);
    assert_int_equal(x->status, 200);
    resp_free(x);
    x = svc_token_basic(id, secret2, TOKEN_FORM);
    assert_int_equal(x->status, 200);
    resp_free(x);

    snprintf(cmd, sizeof(cmd), "'%s' token rotate ci-deploy --grace 1y --config '%s'", srv.bin,
             srv.config);
    assert_int_equal(run_cmd(cmd, NULL), 2); /* not a duration */
    /* --grace 0: the previous secret stops at once (a leaked secret) */
    snprintf(cmd, sizeof(cmd), "'%s' token rotate ci-deploy --grace 0 --json --config '%s'",
             srv.bin, srv.config);
    assert_int_equal(run_cmd(cmd, &out), 0);
    j = json_loads(out, 0, NULL);
    char *secret3 = strdup(json_string_value(json_object_get(j, "client_secret")));
    json_decref(j);
    free(out);
    expect_error(svc_token_basic(id, secret2, TOKEN_FORM), 401, "invalid_client", NULL);
    x = svc_token_basic(id, secret3, TOKEN_FORM);
    assert_int_equal(x->status, 200);
    resp_free(x);
    free(secret2);
    secret2 = secret3;

    snprintf(cmd, sizeof(cmd), "'%s' token revoke ci-deploy --config '%s'", srv.bin, srv.config);
    assert_int_equal(run_cmd(cmd, NULL), 0);
    expect_error(svc_token_basic(id, secret2, TOKEN_FORM), 401, "invalid_client", NULL);
    expect_error(svc_token_basic(id, secret, TOKEN_FORM), 401, "invalid_client", NULL);

    snprintf(cmd, sizeof(cmd), "'%s' token list --json --config '%s'", srv.bin, srv.config);
    assert_int_equal(run_cmd(cmd, &out), 0);
    assert_non_null(strstr(out, "\"status\":\"revoked\""));
    assert_null(strstr(out, secret2)); /* secrets are never shown again */
    free(out);

    snprintf(cmd, sizeof(cmd), "'%s' token create bad --audience nope --config '%s'", srv.bin,
             srv.config);
    assert_int_equal(run_cmd(cmd, &out), 2);
    assert_non_null(strstr(out, "not registered"));
    free(out);
    free(secret);
    free(secret2);
}

/* ---- revocation ---- */

static void test_revoke(void **state)
{
    char *tok = get_token("gateway", "asset-service", NULL);
    assert_non_null(tok);
    char *jti = jti_of(tok);
    char body[9000];
    snprintf(body, sizeof(body), "token=%s&token_type_hint=access_token", tok);
    expect_error(do_revoke("chat-service", body), 403, "access_denied",
                 "only spiffe://mesh.local/gateway or an admin");
    expect_error(do_revoke(NULL, body), 401, "invalid_client", NULL);
    expect_error(do_revoke("gateway", "token_type_hint=access_token"), 400, "invalid_request",
                 "exactly one");
    resp_t *x = do_revoke("gateway", body);
    assert_int_equal(x->status, 200);
    assert_true(json_is_true(json_object_get(x->json, "revoked")));
    int64_t seq = json_integer_value(json_object_get(x->json, "seq"));
    assert_true(seq >= 1);
    resp_free(x);
    json_t *f = feed(0);
    assert_true(feed_has(f, jti));
    assert_true(json_integer_value(json_object_get(f, "seq")) >= seq);
    json_decref(f);
    f = feed(seq);
    assert_false(feed_has(f, jti));
    json_decref(f);

    /* admins: any token, or a bare jti */
    char *tok2 = get_token("chat-service", "asset-service", NULL);
    snprintf(body, sizeof(body), "token=%s", tok2);
    x = do_revoke("admin", body);
    assert_int_equal(x->status, 200);
    resp_free(x);
    expect_error(do_revoke("gateway", "jti=AAAAAAAAAAAAAAAAAAAAAA"), 403, "access_denied", "admin");
    x = do_revoke("admin", "jti=BBBBBBBBBBBBBBBBBBBBBB");
    assert_int_equal(x->status, 200);
    resp_free(x);
    f = feed(0);
    assert_true(feed_has(f, "BBBBBBBBBBBBBBBBBBBBBB"));
    json_decref(f);

    /* RFC 7009 §2.2: a token that is not ours is answered 200, nothing revoked */
    x = do_revoke("gateway", "token=eyJhbGciOiJub25lIn0.e30.");
    assert_int_equal(x->status, 200);
    assert_false(json_is_true(json_object_get(x->json, "revoked")));
    resp_free(x);
    req_t bad = {.path = "/v1/revocations?since=-1"};
    expect_error(do_req(&bad), 400, "invalid_request", "since");
    free(jti);
    free(tok);
    free(tok2);
}

static void test_metrics(void **state)
{
    req_t r = {.path = "/metrics"};
    resp_t *x = do_req(&r);
    char h[128];
    assert_int_equal(x->status, 200);
    assert_non_null(resp_header(x, "Content-Type", h, sizeof(h)));
    assert_non_null(strstr(h, "text/plain"));
    /* the earlier tests issued, denied, revoked and refused certificates */
    assert_non_null(strstr(x->body, "mesh_issuer_tokens_issued_total{audience=\"asset-service\","
                                    "auth_method=\"tls_client_auth\"}"));
    assert_non_null(strstr(x->body, "auth_method=\"client_secret_basic\""));
    assert_non_null(strstr(x->body, "mesh_issuer_denials_total{reason=\"invalid_scope\"}"));
    assert_null(strstr(x->body, "mesh_issuer_revocations_total 0"));
    assert_null(strstr(x->body, "mesh_issuer_tls_handshake_failures_total 0"));
    assert_null(strstr(x->body, "mss_")); /* no secret, ever */
    resp_free(x);
}

static void test_check_config(void **state)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof(cmd), "'%s' --check-config --config '%s'", srv.bin, srv.config);
    assert_int_equal(run_cmd(cmd, &out), 0);
    assert_non_null(strstr(out, "config OK"));
    free(out);
    char bad[400];
    snprintf(bad, sizeof(bad), "%s/bad.json", srv.dir);
    FILE *f = fopen(bad, "w");
    fprintf(f, "{\"issuer\":\"https://x\",\"listen\":\"127.0.0.1:1\",\"tls\":{\"cert\":\"a\","
               "\"key\":\"b\",\"ca\":\"c\"},\"signing_keys\":{\"current\":\"k\"},\"store\":"
               "\"sqlite:x.db\",\"audiences\":[{\"name\":\"a\"}],\"policy\":[{\"identity\":"
               "\"spiffe://mesh.local/x\",\"audiences\":[\"a\",\"zz\"]}]}");
    fclose(f);
    snprintf(cmd, sizeof(cmd), "'%s' --check-config --config '%s'", srv.bin, bad);
    assert_int_equal(run_cmd(cmd, &out), 2);
    assert_non_null(strstr(out, "policy[0].audiences[1]"));
    free(out);
    f = fopen(bad, "w");
    fprintf(f, "{\"issuer\":\"https://x\",\"issuer\":\"https://y\"}");
    fclose(f);
    assert_int_equal(run_cmd(cmd, &out), 2);
    assert_non_null(strstr(out, "duplicate"));
    free(out);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery),     cmocka_unit_test(test_routes),
        cmocka_unit_test(test_mtls_token),    cmocka_unit_test(test_mtls_bad_certs),
        cmocka_unit_test(test_policy_errors), cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_oversized),     cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_tls),           cmocka_unit_test(test_svc_tokens),
        cmocka_unit_test(test_revoke),        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_check_config),
    };
    return e2e_run("issuer-e2e", tests, sizeof(tests) / sizeof(tests[0]), e2e_teardown, argc, argv);
}
