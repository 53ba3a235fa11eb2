/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer end to end, the server's lifecycle: revocations durable across kill -9, SIGHUP
 * (connections kept, key rotation, CRL, rate limits), the per-worker connection limit, and
 * SIGTERM with requests in flight. Same fixture as e2e.c (e2e_fixture.c).
 * usage: test-issuer-e2e-lifecycle MESH_ISSUER GEN_CERTS_SH
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <mesh/mesh.h>

#include "e2e.h"
#include "e2e_tls.h"

static const char *ROTATED_KEYS =
    "{\"current\": \"jwt-signing-2.key\", \"previous\": \"jwt-signing.key\"}";

/* ---- revocation survives kill -9 ---- */

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
    e2e_idle_conn_open = true;
}

static void test_sighup_rotation(void **state)
{
    char *old = get_token("gateway", "asset-service", NULL);
    char kid_old[64], kid_new[64];
    kid_of(old, kid_old, sizeof(kid_old));
    write_config(ROTATED_KEYS, "{}");
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
    write_config(ROTATED_KEYS, "{}"); /* the previous test left a broken file behind */
    crl_revoke("admin");
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
    write_config(ROTATED_KEYS, "{\"per_identity\": {\"rate\": 0.01, \"burst\": 3}}");
    kill(srv.pid, SIGHUP);
    bool limited = false;
    for (int i = 0; i < 400 && !limited; i++) { /* until the reload lands and the bucket empties */
        resp_t *x = post_token("asset-service", "grant_type=client_credentials&audience=gateway");
        if (x->status == 429) {
            char h[32];
            assert_string_equal(jstr(x, "error"), "slow_down");
            assert_non_null(resp_header(x, "Retry-After", h, sizeof(h)));
            assert_true(strtol(h, NULL, 10) >= 1);
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

    /* per source address, for what has not authenticated; /healthz is never limited */
    write_config(ROTATED_KEYS, "{\"per_source\": {\"rate\": 0.01, \"burst\": 3}}");
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
    expect_error(post_token(NULL, TOKEN_FORM), 429, "slow_down", NULL);
    x = post_token("gateway", TOKEN_FORM); /* a verified certificate: its identity's budget */
    assert_int_equal(x->status, 200);
    resp_free(x);
    req_t hz = {.path = "/healthz"};
    x = do_req(&hz);
    assert_int_equal(x->status, 200);
    resp_free(x);
}
/* ---- raw TLS connections: states curl does not keep (idle, half sent, still waiting) ---- */

static const char *HEALTHZ = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

static int get_healthz(SSL *ssl)
{
    char buf[4096];
    tls_send(ssl, HEALTHZ, strlen(HEALTHZ));
    return read_answer(ssl, 60, buf, sizeof(buf));
}

/* ---- max_connections: a full worker leaves new connections in the backlog ---- */

static void test_worker_connection_limit(void **state)
{
    srv.workers = 1; /* one worker with room for three connections */
    srv.max_connections = 3;
    write_config(ROTATED_KEYS, "{}");
    assert_true(server_stop_clean(idle_handle != NULL));
    curl_easy_cleanup(idle_handle);
    idle_handle = NULL;
    e2e_idle_conn_open = false;
    server_start();

    SSL_CTX *ctx = client_ctx("gateway"); /* authenticated: not closed by the 5 s deadline */
    SSL *held[3];
    for (int i = 0; i < 3; i++) { /* served, then kept open and idle */
        held[i] = tls_begin(ctx);
        assert_true(tls_finish(held[i], 60)); /* the last /healthz poll may still be closing */
        assert_int_equal(get_healthz(held[i]), 200);
    }
    /* Full: a fourth connection is not accepted, its handshake does not even start. (A slow
     * machine can only make this pass, never fail.) */
    SSL *waiting = tls_begin(ctx);
    assert_false(tls_finish(waiting, 3));
    for (int i = 0; i < 3; i++) { /* the connections it holds are still answered */
        assert_int_equal(get_healthz(held[i]), 200);
    }
    assert_false(tls_finish(waiting, 1));
    /* one leaves: the waiting connection is accepted and served */
    tls_close(held[1]);
    assert_true(tls_finish(waiting, 60));
    assert_int_equal(get_healthz(waiting), 200);
    assert_int_equal(get_healthz(held[0]), 200);
    tls_close(waiting);
    tls_close(held[0]);
    tls_close(held[2]);
    SSL_CTX_free(ctx);
}

/* ---- one host cannot take every slot ---- */

/* true when the server ended the connection (EOF or reset) within wait_s */
static bool ended_by_server(SSL *ssl, int wait_s)
{
    char buf[256];
    set_wait(ssl, wait_s);
    if (!SSL_is_init_finished(ssl) && SSL_connect(ssl) != 1) {
        return true; /* closed during the handshake */
    }
    int r = SSL_read(ssl, buf, sizeof(buf));
    return r <= 0 && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ;
}

static void restart_with(const char *extra)
{
    srv.extra = extra;
    write_config(ROTATED_KEYS, "{}");
    assert_true(server_stop_clean(false));
    server_start();
}

static void test_per_source_connection_limit(void **state)
{
    srv.workers = 2;
    srv.max_connections = 0;
    restart_with("\"max_connections_per_source\": 3");
    /* Held connections present a certificate, so the 5 s idle deadline of unauthenticated
     * ones (MESH_UNAUTH_IDLE_TIMEOUT) cannot close them while a loaded machine is slow to
     * refuse the fourth: what is tested is the per-source count, not that deadline. */
    SSL_CTX *ctx = client_ctx("gateway");
    SSL *held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = tls_begin(ctx);
        assert_true(tls_finish(held[i], 60));
        assert_int_equal(get_healthz(held[i]), 200);
    }
    /* a fourth from the same address is accepted and closed at once */
    SSL *extra = tls_begin(ctx);
    assert_true(ended_by_server(extra, 30));
    tls_close(extra);
    for (int i = 0; i < 3; i++) { /* the ones it holds are still served */
        assert_int_equal(get_healthz(held[i]), 200);
    }
    tls_close(held[0]); /* one leaves: room for one more */
    SSL *next = NULL;
    for (int i = 0; i < 100 && next == NULL; i++) { /* its close reaches the server first */
        next = tls_begin(ctx);
        if (!tls_finish(next, 30) || get_healthz(next) != 200) {
            tls_close(next);
            next = NULL;
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    assert_non_null(next);
    tls_close(next);
    tls_close(held[1]);
    tls_close(held[2]);
    SSL_CTX_free(ctx);
}

/* An idle connection nobody authenticated on is closed long before the keep-alive timeout;
 * one whose certificate verified keeps the long one. */
static void test_unauthenticated_idle_deadline(void **state)
{
    restart_with(NULL);
    SSL_CTX *anon = client_ctx(NULL), *gw = client_ctx("gateway");
    SSL *a = tls_begin(anon), *g = tls_begin(gw);
    assert_true(tls_finish(a, 60));
    assert_true(tls_finish(g, 60));
    assert_int_equal(get_healthz(a), 200);
    assert_int_equal(get_healthz(g), 200);
    /* bound: MESH_UNAUTH_IDLE_TIMEOUT + MESH_REQUEST_TIMEOUT (15 s), far below 60 s */
    assert_true(ended_by_server(a, 40));
    assert_int_equal(get_healthz(g), 200);
    tls_close(a);
    tls_close(g);
    SSL_CTX_free(anon);
    SSL_CTX_free(gw);
}

/* Out of file descriptors: accepting pauses and says so once, instead of spinning and
 * writing a log line per accept() (5 million lines in 16 s, before). */
static void test_out_of_descriptors(void **state)
{
    srv.workers = 1;
    srv.nofile = 64;
    srv.inherit_fds = 30; /* descriptors the limit check at start cannot know about */
    restart_with(NULL);
    assert_true(server_log_has("file descriptor limit")); /* 1024 connections do not fit */
    int fds[80];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    for (int i = 0; i < 80; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0); /* backlog */
    }
    struct timespec ts = {3, 0};
    nanosleep(&ts, NULL);
    assert_true(server_log_has("out of file descriptors"));
    assert_false(server_log_has("Error from accept() call"));
    struct stat sb;
    assert_int_equal(stat(srv.log, &sb), 0);
    assert_true(sb.st_size - srv.log_start < 64 * 1024);
    for (int i = 0; i < 80; i++) {
        close(fds[i]);
    }
    /* served again once descriptors are free */
    bool ok = false;
    for (int i = 0; i < 300 && !ok; i++) {
        req_t r = {.path = "/healthz"};
        resp_t *x = do_req(&r);
        ok = x->status == 200;
        resp_free(x);
        struct timespec w = {0, 100 * 1000 * 1000};
        nanosleep(&w, NULL);
    }
    assert_true(ok);
    srv.nofile = 0;
    srv.inherit_fds = 0;
    srv.workers = 0;
    restart_with(NULL);
}

/* ---- SIGTERM with one request complete and one half received ---- */

static void test_sigterm_mid_request(void **state)
{
    SSL_CTX *ctx = client_ctx("gateway");
    char head[256], buf[8192];
    size_t len = strlen(TOKEN_FORM);
    snprintf(head, sizeof(head),
             "POST /v1/token HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n",
             len);
    SSL *partial = tls_begin(ctx); /* the headers and half the body; the rest never comes */
    assert_true(tls_finish(partial, 60));
    tls_send(partial, head, strlen(head));
    tls_send(partial, TOKEN_FORM, len / 2);
    SSL *whole = tls_begin(ctx); /* a complete request */
    assert_true(tls_finish(whole, 60));
    tls_send(whole, head, strlen(head));
    tls_send(whole, TOKEN_FORM, len);

    kill(srv.pid, SIGTERM);
    /* the complete request gets its whole answer */
    assert_int_equal(read_answer(whole, 60, buf, sizeof(buf)), 200);
    assert_non_null(strstr(buf, "\"access_token\""));
    /* the half-received one is ended without an answer (its request deadline, or the drain
     * timeout): it never holds the server */
    int r = read_answer(partial, 60, buf, sizeof(buf));
    if (r != ANSWER_ENDED) {
        fprintf(stderr, "mid-request connection after SIGTERM: %d\n%s\n", r, buf);
    }
    assert_int_equal(r, ANSWER_ENDED);
    int st = 0;
    assert_true(server_wait_exit(120, &st)); /* generous: "it ends", not "how fast" */
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(server_log_has("\"msg\":\"stopped\""));
    tls_close(partial);
    tls_close(whole);
    SSL_CTX_free(ctx);
    server_start(); /* for the group teardown */
}

static int teardown(void **state)
{
    int rc = e2e_teardown(state);
    curl_easy_cleanup(idle_handle);
    idle_handle = NULL;
    return rc;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revocation_durable),
        cmocka_unit_test(test_sighup_keeps_connections),
        cmocka_unit_test(test_sighup_rotation),
        cmocka_unit_test(test_sighup_crl),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_worker_connection_limit),
        cmocka_unit_test(test_per_source_connection_limit),
        cmocka_unit_test(test_unauthenticated_idle_deadline),
        cmocka_unit_test(test_out_of_descriptors),
        cmocka_unit_test(test_sigterm_mid_request),
    };
    return e2e_run("issuer-e2e-lifecycle", tests, sizeof(tests) / sizeof(tests[0]), teardown, argc,
                   argv);
}
