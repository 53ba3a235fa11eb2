/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer end to end: a real server process on 127.0.0.1 with a test PKI from the openssl
 * CLI (gen-certs.sh), driven with libcurl; tokens are checked with libmesh's verifier against
 * the JWKS the server publishes. usage: test-issuer-e2e MESH_ISSUER GEN_CERTS_SH
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <mesh/mesh.h>

#include "e2e.h"

void e2e_init(const char *bin, const char *gen);

static const char *TOKEN_FORM = "grant_type=client_credentials&audience=asset-service";

/* ---- helpers ---- */

static mesh_jwks_t *served_jwks(void)
{
    req_t r = {.path = "/.well-known/jwks.json"};
    resp_t *x = do_req(&r);
    assert_int_equal(x->status, 200);
    mesh_jwks_t *set = NULL;
    assert_int_equal(mesh_jwks_parse(x->body, strlen(x->body), &set), MESH_OK);
    resp_free(x);
    return set;
}

/* Verifies with libmesh against the served JWKS; `leaf` binds to that certificate. */
static mesh_err_t verify(const char *token, const char *aud, const char *leaf,
                         mesh_claims_t **claims)
{
    mesh_jwks_t *set = served_jwks();
    mesh_jwt_verify_opts_t o;
    mesh_jwt_verify_opts_init(&o);
    o.issuer = srv.url;
    o.audience = aud;
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (leaf != NULL) {
        char path[400];
        snprintf(path, sizeof(path), "%s/%s/cert.pem", srv.dir, leaf);
        assert_int_equal(mesh_x509_load_der(path, &der, &der_len), MESH_OK);
        o.cert_der = der;
        o.cert_der_len = der_len;
    } else {
        o.require_cnf = false;
    }
    mesh_err_t rc = mesh_jwt_verify(set, token, strlen(token), &o, claims);
    mesh_free(der);
    mesh_jwks_free(set);
    return rc;
}

static resp_t *post_token(const char *cert, const char *body)
{
    req_t r = {.path = "/v1/token", .cert = cert, .body = body};
    return do_req(&r);
}

static void expect_error(resp_t *x, long status, const char *error, const char *needle)
{
    if (x->status != status || strcmp(jstr(x, "error"), error) != 0 ||
        (needle && strstr(jstr(x, "error_description"), needle) == NULL)) {
        fprintf(stderr, "expected %ld %s (~%s), got %ld %s\n", status, error, needle ? needle : "",
                x->status, x->body);
        fail();
    }
    resp_free(x);
}

static char *svc_create(const char *name, const char *args, char *id, size_t idcap)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof(cmd), "'%s' token create %s %s --json --config '%s'", srv.bin, name, args,
             srv.config);
    int rc = run_cmd(cmd, &out);
    if (rc != 0) {
        fprintf(stderr, "%s\n", out);
    }
    assert_int_equal(rc, 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    snprintf(id, idcap, "%s", json_string_value(json_object_get(j, "client_id")));
    char *secret = strdup(json_string_value(json_object_get(j, "client_secret")));
    json_decref(j);
    free(out);
    return secret;
}

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
    mesh_claims_t *c = NULL;
    assert_int_equal(verify(jstr(x, "access_token"), "asset-service", "gateway", &c), MESH_OK);
    assert_string_equal(mesh_claims_sub(c), "spiffe://mesh.local/gateway");
    assert_string_equal(mesh_claims_client_id(c), "gateway");
    assert_int_equal(strlen(mesh_claims_cnf_x5t(c)), MESH_X5T_LEN);
    assert_int_equal(mesh_claims_exp(c) - mesh_claims_iat(c), 300);
    mesh_claims_free(c);
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
    mesh_claims_t *c = NULL;
    assert_int_equal(verify(jstr(x, "access_token"), "asset-service", NULL, &c), MESH_OK);
    assert_string_equal(mesh_claims_sub(c), "svc-token:ci-deploy");
    assert_string_equal(mesh_claims_cnf_x5t(c), ""); /* no certificate, no binding */
    mesh_claims_free(c);
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

static resp_t *do_revoke(const char *cert, const char *body)
{
    req_t r = {.path = "/v1/revoke", .cert = cert, .body = body};
    return do_req(&r);
}

static json_t *feed(int64_t since)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/revocations?since=%lld", (long long)since);
    req_t r = {.path = path};
    resp_t *x = do_req(&r);
    assert_int_equal(x->status, 200);
    json_t *j = json_incref(x->json);
    resp_free(x);
    return j;
}

static bool feed_has(json_t *f, const char *jti)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(f, "revoked"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "jti")), jti) == 0) {
            return true;
        }
    }
    return false;
}

static char *jti_of(const char *token)
{
    char *hdr = NULL, *payload = NULL;
    assert_int_equal(mesh_jws_decode_unverified(token, strlen(token), &hdr, &payload), MESH_OK);
    json_t *j = json_loads(payload, 0, NULL);
    char *jti = strdup(json_string_value(json_object_get(j, "jti")));
    json_decref(j);
    mesh_free(hdr);
    mesh_free(payload);
    return jti;
}

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

static void test_revocation_durable(void **state)
{
    char *tok = get_token("gateway", "chat-service", NULL);
    char *jti = jti_of(tok);
    char body[9000];
    snprintf(body, sizeof(body), "token=%s", tok);
    resp_t *x = do_revoke("gateway", body);
    assert_int_equal(x->status, 200); /* answered only after the store write is durable */
    resp_free(x);
    server_kill9();
    server_start();
    json_t *f = feed(0);
    assert_true(feed_has(f, jti));
    json_decref(f);
    free(jti);
    free(tok);
}

/* ---- SIGHUP: key rotation and rate limits ---- */

static const char *kid_of(const char *token, char *buf, size_t cap)
{
    char *hdr = NULL, *payload = NULL;
    assert_int_equal(mesh_jws_decode_unverified(token, strlen(token), &hdr, &payload), MESH_OK);
    json_t *j = json_loads(hdr, 0, NULL);
    snprintf(buf, cap, "%s", json_string_value(json_object_get(j, "kid")));
    json_decref(j);
    mesh_free(hdr);
    mesh_free(payload);
    return buf;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

static CURL *idle_handle;

/* A keep-alive connection opened before SIGHUP keeps working after it, on the new rules. */
static void test_sighup_keeps_connections(void **state)
{
    char ca[400], cert[400], key[400], url[128];
    snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
    snprintf(cert, sizeof(cert), "%s/gateway/cert.pem", srv.dir);
    snprintf(key, sizeof(key), "%s/gateway/key.pem", srv.dir);
    snprintf(url, sizeof(url), "%s/v1/token", srv.url);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, TOKEN_FORM);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    long code = 0, connects = -1;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    kill(srv.pid, SIGHUP);
    struct timespec ts = {0, 500 * 1000 * 1000};
    nanosleep(&ts, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        assert_int_equal(code, 200);
        assert_int_equal(connects, 0); /* the same connection */
    }
    idle_handle = c; /* left open and idle: SIGTERM must close it at once, see teardown */
}

static void test_sighup_rotation(void **state)
{
    char *old = get_token("gateway", "asset-service", NULL);
    char kid_old[64], kid_new[64];
    kid_of(old, kid_old, sizeof(kid_old));
    write_config("{\"current\": \"jwt-signing-2.key\", \"previous\": \"jwt-signing.key\"}", "{}");
    kill(srv.pid, SIGHUP);
    size_t n = 0;
    for (int i = 0; i < 300 && n != 2; i++) { /* the reload is asynchronous */
        mesh_jwks_t *set = served_jwks();
        n = mesh_jwks_count(set);
        mesh_jwks_free(set);
        if (n != 2) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(n, 2);
    char *fresh = get_token("gateway", "asset-service", NULL);
    kid_of(fresh, kid_new, sizeof(kid_new));
    assert_string_not_equal(kid_old, kid_new);
    assert_int_equal(verify(fresh, "asset-service", "gateway", NULL), MESH_OK);
    assert_int_equal(verify(old, "asset-service", "gateway", NULL), MESH_OK);
    free(old);
    free(fresh);

    /* a broken config on SIGHUP keeps the running one */
    FILE *f = fopen(srv.config, "w");
    fputs("{\"issuer\": ", f);
    fclose(f);
    kill(srv.pid, SIGHUP);
    struct timespec ts = {0, 500 * 1000 * 1000};
    nanosleep(&ts, NULL);
    char *still = get_token("gateway", "asset-service", NULL);
    assert_non_null(still);
    free(still);
}

static void test_sighup_crl(void **state)
{
    /* admin has no policy entry: 403 while its certificate is good, 401 once it is revoked */
    resp_t *x = post_token("admin", TOKEN_FORM);
    assert_int_equal(x->status, 403);
    resp_free(x);
    write_config("{\"current\": \"jwt-signing-2.key\", \"previous\": \"jwt-signing.key\"}",
                 "{}"); /* the previous test left a broken file behind */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl ca -config intermediate.cnf -cert intermediate.pem -keyfile "
             "intermediate.key -revoke admin/leaf.pem && openssl ca -gencrl -config "
             "intermediate.cnf -cert intermediate.pem -keyfile intermediate.key -out crl.new "
             "&& mv crl.new crl.pem",
             srv.dir);
    assert_int_equal(run_cmd(cmd, NULL), 0);
    kill(srv.pid, SIGHUP);
    long status = 0;
    for (int i = 0; i < 300 && status != 401; i++) { /* the reload is asynchronous */
        x = post_token("admin", TOKEN_FORM);
        status = x->status;
        if (status == 401) {
            assert_non_null(strstr(jstr(x, "error_description"), "revoked"));
        } else {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        resp_free(x);
    }
    assert_int_equal(status, 401);
    x = post_token("gateway", TOKEN_FORM); /* the others are unaffected */
    assert_int_equal(x->status, 200);
    resp_free(x);
}

static void test_rate_limit(void **state)
{
    write_config("{\"current\": \"jwt-signing-2.key\", \"previous\": \"jwt-signing.key\"}",
                 "{\"per_identity\": {\"rate\": 0.01, \"burst\": 3}}");
    kill(srv.pid, SIGHUP);
    bool limited = false;
    for (int i = 0; i < 400 && !limited; i++) { /* until the reload lands and the bucket empties */
        resp_t *x = post_token("asset-service", "grant_type=client_credentials&audience=gateway");
        if (x->status == 429) {
            char h[32];
            assert_string_equal(jstr(x, "error"), "slow_down");
            assert_non_null(resp_header(x, "Retry-After", h, sizeof(h)));
            assert_true(atoi(h) >= 1);
            limited = true;
        } else {
            assert_int_equal(x->status, 200);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        resp_free(x);
    }
    assert_true(limited);
    /* another identity has its own bucket */
    resp_t *x = post_token("gateway", TOKEN_FORM);
    assert_int_equal(x->status, 200);
    resp_free(x);

    /* per source address, before authentication; /healthz is never limited */
    write_config("{\"current\": \"jwt-signing-2.key\", \"previous\": \"jwt-signing.key\"}",
                 "{\"per_source\": {\"rate\": 0.01, \"burst\": 3}}");
    kill(srv.pid, SIGHUP);
    limited = false;
    for (int i = 0; i < 400 && !limited; i++) {
        req_t r = {.path = "/v1/audiences"};
        x = do_req(&r);
        if (x->status == 429) {
            char h[32];
            assert_string_equal(jstr(x, "error"), "slow_down");
            assert_non_null(resp_header(x, "Retry-After", h, sizeof(h)));
            limited = true;
        } else {
            assert_int_equal(x->status, 200);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        resp_free(x);
    }
    assert_true(limited);
    expect_error(post_token("gateway", TOKEN_FORM), 429, "slow_down", NULL);
    req_t hz = {.path = "/healthz"};
    x = do_req(&hz);
    assert_int_equal(x->status, 200);
    resp_free(x);
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

static int setup(void **state)
{
    server_start();
    return 0;
}

static bool teardown_failed; /* cmocka 1.1 does not count a failed group teardown */

static int teardown(void **state)
{
    teardown_failed = true;
    int st = 0;
    server_stop_signal(SIGTERM, &st); /* drains and exits 0 (and leak-free under ASan) */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "mesh-issuer did not exit cleanly (status %d); log %s\n", st, srv.log);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' >&2", srv.log);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot run: %s\n", cmd);
        }
        return -1;
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "grep -c '\"msg\":\"stopped\"' '%s' >/dev/null", srv.log);
    if (system(cmd) != 0) {
        return -1;
    }
    /* an idle keep-alive connection does not hold up the drain */
    snprintf(cmd, sizeof(cmd), "grep 'drain timeout' '%s' >&2", srv.log);
    if (idle_handle != NULL && system(cmd) == 0) {
        fprintf(stderr, "SIGTERM waited for an idle keep-alive connection\n");
        return -1;
    }
    curl_easy_cleanup(idle_handle);
    idle_handle = NULL;
    /* never a token (JWS header prefix), a client secret or key material in the log */
    snprintf(cmd, sizeof(cmd), "grep -E 'eyJhbGci|mss_|PRIVATE KEY' '%s' >&2", srv.log);
    if (system(cmd) == 0) {
        fprintf(stderr, "the issuer log holds a secret (lines above)\n");
        return -1;
    }
    if (getenv("MESH_KEEP_TMP") == NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot run: %s\n", cmd);
        }
    }
    teardown_failed = false;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MESH_ISSUER GEN_CERTS_SH\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* the slow client writes to a socket the server closed */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e2e_init(argv[1], argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_mtls_token),
        cmocka_unit_test(test_mtls_bad_certs),
        cmocka_unit_test(test_policy_errors),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_svc_tokens),
        cmocka_unit_test(test_revoke),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_revocation_durable),
        cmocka_unit_test(test_sighup_keeps_connections),
        cmocka_unit_test(test_sighup_rotation),
        cmocka_unit_test(test_sighup_crl),
        cmocka_unit_test(test_rate_limit),
    };
    /* E2E_ONLY=test_a,test_b runs a subset (in this order) for debugging */
    struct CMUnitTest chosen[sizeof(tests) / sizeof(tests[0])];
    size_t n = 0;
    const char *only = getenv("E2E_ONLY");
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (only == NULL || strstr(only, tests[i].name) != NULL) {
            chosen[n++] = tests[i];
        }
    }
    int rc = _cmocka_run_group_tests("issuer-e2e", chosen, n, setup, teardown);
    curl_global_cleanup();
    return rc != 0 || teardown_failed ? 1 : 0;
}
