/* SPDX-License-Identifier: Apache-2.0 */
/* The client: creation checks, token cache, single flight, refresh ahead, retries, service
 * tokens, curl setup against a TLS peer, and the round trip through a verifier. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <mesh/curl.h>
#include <mesh/mesh.h>

#include "fake_issuer.h"
#include "testutil.h"

static tu_env_t env;
static mesh_key_t *key;
static fake_t *fake;
static char ca[512], a_cert[512], a_key[512], b_key[512];

static int group_setup(void **state)
{
    (void)state;
    tu_env_init(&env);
    key = tu_rsa_key();
    fake = fake_start(env.certs, key, 0);
    tu_path(&env, "ca.pem", ca, sizeof(ca));
    tu_path(&env, "svc-a/cert.pem", a_cert, sizeof(a_cert));
    tu_path(&env, "svc-a/key.pem", a_key, sizeof(a_key));
    tu_path(&env, "svc-b/key.pem", b_key, sizeof(b_key));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_stop(fake);
    mesh_key_free(key);
    tu_env_cleanup(&env);
    return 0;
}

static int per_test(void **state)
{
    (void)state;
    fake_reset_counts(fake);
    fake_set_delay_ms(fake, 0);
    fake_set_ttl(fake, 300);
    return 0;
}

/* *o (freed first when set) becomes svc-a's options for the fake issuer. */
static void opts_a(mesh_client_opts_t **o)
{
    mesh_client_opts_free(*o);
    *o = NULL;
    assert_int_equal(mesh_client_opts_new(o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_url(*o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_client_opts_set_cert_path(*o, a_cert), MESH_OK);
    assert_int_equal(mesh_client_opts_set_key_path(*o, a_key), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(*o, ca), MESH_OK);
    assert_int_equal(mesh_client_opts_set_retry_base_ms(*o, 20), MESH_OK);
    assert_int_equal(mesh_client_opts_set_retry_max_ms(*o, 2000), MESH_OK);
}

static mesh_client_t *client_a(void)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;

    opts_a(&o);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    mesh_client_opts_free(o);
    return c;
}

static void test_creation_names_the_wrong_file(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char p1[512], p2[512];
    (void)state;

    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_key_path(o, b_key),
                     MESH_OK); /* svc-b's key with svc-a's certificate */
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_CERT_KEY_MISMATCH);
    assert_non_null(strstr(mesh_err_detail(), b_key));
    opts_a(&o);
    assert_int_equal(
        mesh_client_opts_set_ca_path(o, tu_path(&env, "other-ca/ca.pem", p1, sizeof(p1))), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_CERT);
    assert_non_null(strstr(mesh_err_detail(), "does not chain"));
    assert_non_null(strstr(mesh_err_detail(), p1));
    opts_a(&o);
    assert_int_equal(
        mesh_client_opts_set_cert_path(o, tu_path(&env, "expired/cert.pem", p1, sizeof(p1))),
        MESH_OK);
    assert_int_equal(
        mesh_client_opts_set_key_path(o, tu_path(&env, "expired/key.pem", p2, sizeof(p2))),
        MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_CERT);
    assert_non_null(strstr(mesh_err_detail(), "expired"));
    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_cert_path(o, "/nonexistent/cert.pem"), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "/nonexistent/cert.pem"));
    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_cert_path(o, a_key),
                     MESH_OK); /* a key where the certificate belongs */
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_CERT);
    assert_null(c);
    mesh_client_free(NULL);
    mesh_client_opts_free(o);
}

/* Each setter checks its value and names the option; the option keeps its old value. */
static void test_opts_setters_validate_and_name_the_option(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    (void)state;

    assert_int_equal(mesh_client_opts_new(NULL), MESH_ERR_INVALID_ARG);
    /* A client needs an issuer URL, a CA and an identity: mesh_client_new names them. */
    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "MESH_ISSUER_URL"));
    mesh_client_opts_free(o);
    o = NULL;
    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, "http://127.0.0.1:1"), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "issuer_url"));
    assert_int_equal(mesh_client_opts_set_issuer_url(o, NULL), MESH_ERR_CONFIG);
    assert_int_equal(mesh_client_opts_set_issuer_id(o, "issuer"), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "issuer_id"));
    assert_int_equal(mesh_client_opts_set_cache_entries(o, 0), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "cache_entries"));
    assert_int_equal(mesh_client_opts_set_refresh_fraction(o, 1.0), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "refresh_fraction"));
    assert_int_equal(mesh_client_opts_set_refresh_fraction(o, NAN), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_client_opts_set_token_ttl(o, -1), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "token_ttl"));
    assert_int_equal(mesh_client_opts_set_max_retries(o, -1), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "max_retries"));
    assert_int_equal(mesh_client_opts_set_retry_base_ms(o, 0), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "retry_base_ms"));
    assert_int_equal(mesh_client_opts_set_retry_max_ms(o, -5), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "retry_max_ms"));
    assert_int_equal(mesh_client_opts_set_timeout_ms(o, 0), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "timeout_ms"));
    assert_int_equal(mesh_client_opts_set_cert_path(NULL, a_cert), MESH_ERR_INVALID_ARG);
    /* Every refused value left the good ones in place. */
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    mesh_client_free(c);
    c = NULL;
    /* What depends on two options is checked at creation. */
    assert_int_equal(mesh_client_opts_set_retry_base_ms(o, 500), MESH_OK);
    assert_int_equal(mesh_client_opts_set_retry_max_ms(o, 100), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "retry_max_ms"));
    assert_null(c);
    /* A secret may be replaced and unset (each old copy is wiped), and the handle reused. */
    assert_int_equal(mesh_client_opts_set_client_secret(o, "one"), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_secret(o, "two"), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_secret(o, NULL), MESH_OK);
    mesh_client_opts_free(o);
    mesh_client_opts_free(NULL);
}

static void test_token_cached(void **state)
{
    mesh_client_t *c = client_a();
    char *t1 = NULL, *t2 = NULL;
    int64_t exp = 0;
    (void)state;

    assert_int_equal(mesh_client_token(c, "svc-b", "read", &t1, &exp), MESH_OK);
    assert_true(exp > time(NULL));
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mesh_client_token(c, "svc-b", "read", &t2, NULL), MESH_OK);
        assert_string_equal(t1, t2);
        mesh_free(t2);
    }
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 1);
    /* Another scope is another cache entry. */
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t2, NULL), MESH_OK);
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 2);
    assert_int_equal(mesh_client_stat(c, MESH_CLIENT_STAT_ISSUER_REQUESTS), 2);
    assert_int_equal(mesh_client_stat(c, MESH_CLIENT_STAT_CACHE_HITS), 100);
    assert_int_equal(mesh_client_stat(c, MESH_CLIENT_STAT_REFRESHES), 0);
    assert_int_equal(mesh_client_stat(c, (mesh_client_stat_t)99), 0); /* unknown counter */
    assert_int_equal(mesh_client_stat(NULL, MESH_CLIENT_STAT_CACHE_HITS), 0);
    mesh_free(t1);
    mesh_free(t2);
    mesh_client_free(c);
}

typedef struct {
    mesh_client_t *c;
    mesh_err_t rc;
} th_arg_t;

static void *ask(void *p)
{
    th_arg_t *a = p;
    char *t = NULL;
    a->rc = mesh_client_token(a->c, "svc-b", "read", &t, NULL);
    mesh_free(t);
    return NULL;
}

static void test_single_flight_100_threads(void **state)
{
    enum { N = 100 };
    mesh_client_t *c = client_a();
    pthread_t th[N];
    th_arg_t a[N];
    (void)state;

    fake_set_delay_ms(fake, 300); /* everyone arrives while the first request is in flight */
    for (int i = 0; i < N; i++) {
        a[i].c = c;
        pthread_create(&th[i], NULL, ask, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].rc, MESH_OK);
    }
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 1);
    mesh_client_free(c);
}

/* Many threads, more audiences than cache entries: eviction under load stays correct. */
typedef struct {
    mesh_client_t *c;
    int id, errors;
} churn_t;

static void *churn(void *p)
{
    churn_t *a = p;
    for (int i = 0; i < 150; i++) {
        char aud[16], *t = NULL, *h = NULL, *claims = NULL;
        snprintf(aud, sizeof(aud), "aud-%d", (i * 7 + a->id) % 10);
        if (mesh_client_token(a->c, aud, NULL, &t, NULL) != MESH_OK ||
            mesh_jws_decode_unverified(t, strlen(t), &h, &claims) != MESH_OK ||
            strstr(claims, aud) == NULL) {
            a->errors++;
        }
        mesh_free(t);
        mesh_free(h);
        mesh_free(claims);
    }
    return NULL;
}

static void test_bounded_cache_under_concurrency(void **state)
{
    enum { N = 8 };
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    pthread_t th[N];
    churn_t a[N];
    (void)state;

    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_cache_entries(o, 4), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    for (int i = 0; i < N; i++) {
        a[i] = (churn_t){c, i, 0};
        pthread_create(&th[i], NULL, churn, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].errors, 0);
    }
    mesh_client_free(c);
    mesh_client_opts_free(o);
}

static void test_refresh_ahead_in_background(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char *t1 = NULL, *t2 = NULL;
    (void)state;

    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_refresh_fraction(o, 0.05),
                     MESH_OK); /* 30 s tokens: refreshed after ~1.5 s */
    fake_set_ttl(fake, 30);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t1, NULL), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t2, NULL), MESH_OK); /* in use */
    mesh_free(t2);
    t2 = NULL;
    /* Wait on the client's own count: it moves once the new token is cached (the issuer's
     * request count moves earlier, which raced with the cache read below under load). */
    for (int i = 0; i < 400 && mesh_client_stat(c, MESH_CLIENT_STAT_REFRESHES) < 1; i++) {
        tu_sleep_ms(50);
    }
    assert_true(mesh_client_stat(c, MESH_CLIENT_STAT_REFRESHES) >= 1);
    assert_true(fake_count(fake, FAKE_TOKEN) >= 2);
    /* The caller gets the refreshed token straight from the cache. */
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t2, NULL), MESH_OK);
    assert_string_not_equal(t1, t2);
    mesh_free(t1);
    mesh_free(t2);
    mesh_client_free(c);
    mesh_client_opts_free(o);
}

static void test_retry_on_503_and_429(void **state)
{
    mesh_client_t *c = client_a();
    char *t = NULL;
    (void)state;

    fake_push_reply(fake, 503, -1, "{\"error\":\"temporarily_unavailable\"}");
    fake_push_reply(fake, 429, 1, "{\"error\":\"slow_down\",\"error_description\":\"wait\"}");
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_OK);
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 3);
    mesh_free(t);
    mesh_client_free(c);
}

static void test_retries_exhausted_keep_issuer_words(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char *t = NULL;
    (void)state;

    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_max_retries(o, 2), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    for (int i = 0; i < 3; i++) {
        fake_push_reply(fake, 500, -1,
                        "{\"error\":\"server_error\",\"error_description\":"
                        "\"store locked\"}");
    }
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_ERR_ISSUER_ERROR);
    assert_non_null(strstr(mesh_err_detail(), "server_error"));
    assert_non_null(strstr(mesh_err_detail(), "store locked"));
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 3);
    /* Retry-After longer than the client will wait: give up at once with the reason. */
    fake_push_reply(fake, 429, 3600, "{\"error\":\"slow_down\"}");
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_ERR_ISSUER_ERROR);
    assert_non_null(strstr(mesh_err_detail(), "3600"));
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 4);
    mesh_client_free(c);
    mesh_client_opts_free(o);
}

static void test_no_retry_on_4xx(void **state)
{
    mesh_client_t *c = client_a();
    char *t = NULL;
    (void)state;

    assert_int_equal(mesh_client_token(c, "nope", NULL, &t, NULL), MESH_ERR_ISSUER_ERROR);
    assert_non_null(strstr(mesh_err_detail(), "invalid_target"));
    assert_non_null(strstr(mesh_err_detail(), "registered: svc-b"));
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 1);
    assert_int_equal(mesh_client_token(c, "forbidden", NULL, &t, NULL), MESH_ERR_ISSUER_ERROR);
    assert_non_null(strstr(mesh_err_detail(), "access_denied"));
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 2);
    mesh_client_free(c);
}

static void test_connection_refused_is_network_error(void **state)
{
    mesh_key_t *k = tu_rsa_key();
    fake_t *f = fake_start(env.certs, k, 0);
    char url[64];
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char *t = NULL;
    (void)state;

    snprintf(url, sizeof(url), "%s", fake_url(f));
    fake_stop(f); /* a port nobody listens on */
    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, url), MESH_OK);
    assert_int_equal(mesh_client_opts_set_max_retries(o, 2), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_ERR_NETWORK);
    assert_non_null(strstr(mesh_err_detail(), "127.0.0.1"));
    assert_int_equal(mesh_client_stat(c, MESH_CLIENT_STAT_ISSUER_REQUESTS), 3);
    mesh_client_free(c);
    mesh_key_free(k);
    mesh_client_opts_free(o);
}

static void test_service_token_mode(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char *t = NULL, *claims = NULL, *hdr = NULL;
    (void)state;

    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_id(o, "ci"), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_secret(o, "s3cret"), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_OK);
    assert_int_equal(mesh_jws_decode_unverified(t, strlen(t), &hdr, &claims), MESH_OK);
    assert_non_null(strstr(claims, "svc-token:ci"));
    assert_null(strstr(claims, "cnf"));
    mesh_free(t);
    mesh_free(hdr);
    mesh_free(claims);
    mesh_client_free(c);
    assert_int_equal(mesh_client_opts_set_client_secret(o, "wrong"), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_ERR_ISSUER_ERROR);
    assert_non_null(strstr(mesh_err_detail(), "invalid_client"));
    assert_null(strstr(mesh_err_detail(), "wrong")); /* the secret never shows */
    mesh_client_free(c);
    mesh_client_opts_free(o);
}

static void test_setup_curl_and_request_reuse_connection(void **state)
{
    mesh_client_t *c = client_a();
    char url[128], want[MESH_X5T_LEN + 16];
    mesh_response_t *r1 = NULL, *r2 = NULL;
    CURL *h = curl_easy_init();
    (void)state;

    snprintf(url, sizeof(url), "%s/peer", fake_url(fake));
    assert_int_equal(mesh_client_setup_curl(c, h, "svc-b"), MESH_OK);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, NULL);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    fclose(devnull);
    curl_easy_cleanup(h);

    assert_int_equal(tu_request(c, NULL, "GET", url, "svc-b", NULL, NULL, 0, 0, &r1), MESH_OK);
    assert_int_equal(mesh_response_status(r1), 200);
    assert_non_null(strstr(mesh_response_body(r1), "\"authorization\":\"Bearer ey"));
    snprintf(want, sizeof(want), "\"x5t\":\"%s\"", env.a_x5t);
    assert_non_null(strstr(mesh_response_body(r1), want)); /* mTLS with svc-a's certificate */
    /* Steady state: the connection (and its TLS session) is reused, no new handshake. */
    assert_int_equal(tu_request(c, NULL, NULL, url, "svc-b", NULL, NULL, 0, 0, &r2), MESH_OK);
    assert_int_equal(mesh_response_new_connections(r2), 0);
    mesh_response_free(r1);
    r1 = NULL;
    mesh_response_free(r2);
    r2 = NULL;
    mesh_client_free(c);
}

/* An issuer answering a "token" with a line break must not inject headers into peer calls. */
static void test_token_with_crlf_is_never_sent(void **state)
{
    mesh_client_t *c = client_a();
    mesh_response_t *r = NULL;
    char url[128];
    (void)state;

    fake_push_reply(fake, 200, -1,
                    "{\"access_token\":\"a.b.c\\r\\nX-Evil: 1\",\"token_type\":\"Bearer\","
                    "\"expires_in\":300}");
    snprintf(url, sizeof(url), "%s/peer", fake_url(fake));
    assert_int_not_equal(tu_request(c, NULL, "GET", url, "svc-b", NULL, NULL, 0, 0, &r), MESH_OK);
    /* The caller's own curl handle is refused the same token (it is cached by now). */
    CURL *h = curl_easy_init();
    assert_int_equal(mesh_client_setup_curl(c, h, "svc-b"), MESH_ERR_INVALID_ARG);
    curl_easy_cleanup(h);
    assert_int_equal(fake_count(fake, FAKE_PEER), 0); /* nothing reached the peer */
    mesh_response_free(r);
    r = NULL;
    mesh_client_free(c);
}

static void test_certfile_checks_and_bad_arguments(void **state)
{
    char p1[512];
    int64_t not_after = 0;
    mesh_client_t *c = client_a();
    char *t = NULL;
    mesh_response_t *r = NULL;
    (void)state;

    assert_int_equal(mesh_certfile_check_key(a_cert, a_key), MESH_OK);
    assert_int_equal(mesh_certfile_check_chain(a_cert, ca), MESH_OK);
    assert_int_equal(mesh_certfile_check_time(a_cert, 0, &not_after), MESH_OK);
    assert_true(not_after > time(NULL) + 86400);
    /* The same certificate a year from now: expired, and the detail says so. */
    assert_int_equal(mesh_certfile_check_time(a_cert, time(NULL) + 400 * 86400, NULL),
                     MESH_ERR_CERT);
    assert_non_null(strstr(mesh_err_detail(), a_cert));
    assert_int_equal(mesh_certfile_check_time(a_cert, 1000, NULL), MESH_ERR_CERT);
    assert_non_null(strstr(mesh_err_detail(), "not valid yet"));
    assert_int_equal(mesh_certfile_check_key(a_cert, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_certfile_check_key(a_cert, ca), MESH_ERR_KEY_PARSE);
    assert_int_equal(
        mesh_certfile_check_chain(a_cert, tu_path(&env, "svc-a/key.pem", p1, sizeof(p1))),
        MESH_ERR_CERT);
    /* Bad arguments are reported, not crashed on. */
    assert_int_equal(mesh_client_token(c, NULL, NULL, &t, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, NULL, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_client_setup_curl(c, NULL, "svc-b"), MESH_ERR_INVALID_ARG);
    assert_int_equal(tu_request(c, NULL, "GET", NULL, "svc-b", NULL, NULL, 0, 0, &r),
                     MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_client_new(NULL, &c), MESH_ERR_INVALID_ARG);
    mesh_response_free(NULL);
    mesh_client_free(c);
}

/* The request object refuses what could split or replace headers, naming the setter. */
static void test_request_setters_refuse_bad_values(void **state)
{
    mesh_request_t *req = NULL;
    mesh_response_t *r = NULL;
    (void)state;

    assert_int_equal(mesh_request_new("GET", NULL, &req), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_request_new("GE T", "https://x/", &req), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_request_new("GET\r\n", "https://x/", &req), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_request_new(NULL, "https://x/\r\nX: 1", &req), MESH_ERR_INVALID_ARG);
    assert_null(req);
    assert_int_equal(mesh_request_new(NULL, "https://x/", &req), MESH_OK);
    assert_int_equal(mesh_request_add_header(req, "X-A: 1\r\nX-B: 2"), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_request_add_header(req, "no colon"), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_request_add_header(req, "authorization: Bearer x"), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "mesh_request_add_header"));
    for (int i = 0; i < MESH_MAX_HEADER_COUNT; i++) {
        assert_int_equal(mesh_request_add_header(req, "X-N: 1"), MESH_OK);
    }
    assert_int_equal(mesh_request_add_header(req, "X-N: 1"), MESH_ERR_LIMIT);
    assert_int_equal(mesh_request_set_audience(req, ""), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_request_set_audience(req, "svc-b"), MESH_OK);
    assert_int_equal(mesh_request_set_audience(req, NULL), MESH_OK); /* unset: mTLS only */
    assert_int_equal(mesh_request_set_body(req, NULL, 3), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_request_set_body(req, "abc", 3), MESH_OK);
    assert_int_equal(mesh_request_set_body(req, NULL, 0), MESH_OK);
    assert_int_equal(mesh_request_set_peer_id(req, "svc-b"), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_request_set_peer_id(req, NULL), MESH_OK);
    assert_int_equal(mesh_request_set_max_body(NULL, 1), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_client_request(NULL, req, &r), MESH_ERR_INVALID_ARG);
    assert_null(r);
    mesh_request_free(req);
    mesh_request_free(NULL);
    /* The accessors accept NULL. */
    assert_int_equal(mesh_response_status(NULL), 0);
    assert_null(mesh_response_body(NULL));
    assert_int_equal(mesh_response_body_len(NULL), 0);
    assert_null(mesh_response_headers(NULL, NULL));
    assert_int_equal(mesh_response_new_connections(NULL), 0);
}

/* Without an audience the request carries no token: the peer sees mTLS only. */
static void test_request_without_audience_sends_no_token(void **state)
{
    mesh_client_t *c = client_a();
    mesh_response_t *r = NULL;
    char url[128];
    (void)state;

    snprintf(url, sizeof(url), "%s/peer", fake_url(fake));
    assert_int_equal(tu_request(c, NULL, NULL, url, NULL, NULL, NULL, 0, 0, &r), MESH_OK);
    assert_int_equal(mesh_response_status(r), 200);
    assert_null(strstr(mesh_response_body(r), "Bearer"));
    assert_int_equal(fake_count(fake, FAKE_TOKEN), 0); /* no token was fetched */
    mesh_response_free(r);
    mesh_client_free(c);
}

static void test_request_post_with_headers_and_limit(void **state)
{
    mesh_client_t *c = client_a();
    char url[128];
    const char *hdrs[] = {"X-Trace: 1", "Content-Type: application/json", NULL};
    mesh_response_t *r = NULL;
    (void)state;

    snprintf(url, sizeof(url), "%s/peer", fake_url(fake));
    assert_int_equal(tu_request(c, NULL, "POST", url, "svc-b", hdrs, "{}", 2, 0, &r), MESH_OK);
    assert_int_equal(mesh_response_status(r), 200);
    assert_non_null(strstr(mesh_response_headers(r, NULL), "HTTP/1.1 200"));
    assert_non_null(mesh_response_header(r, "content-type")); /* case-insensitive lookup */
    assert_null(mesh_response_header(r, "X-Not-There"));
    assert_null(mesh_response_header(r, NULL));
    mesh_response_free(r);
    r = NULL;
    assert_null(mesh_response_body(r));
    /* A body above the caller's limit is refused, not truncated. */
    assert_int_equal(tu_request(c, NULL, NULL, url, "svc-b", NULL, NULL, 0, 10, &r),
                     MESH_ERR_LIMIT);
    /* A peer answering 404 is still an answer. */
    snprintf(url, sizeof(url), "%s/nothing-here", fake_url(fake));
    assert_int_equal(tu_request(c, NULL, NULL, url, "svc-b", NULL, NULL, 0, 0, &r), MESH_OK);
    assert_int_equal(mesh_response_status(r), 404);
    mesh_response_free(r);
    r = NULL;
    mesh_client_free(c);
}

static void test_from_env(void **state)
{
    mesh_client_t *c = NULL;
    char *t = NULL;
    (void)state;

    unsetenv("TLS_CERT_PATH");
    unsetenv("TLS_KEY_PATH");
    unsetenv("TLS_CA_PATH");
    unsetenv("MESH_CLIENT_ID");
    unsetenv("MESH_CLIENT_SECRET");
    unsetenv("MESH_CERTS_DIR");
    unsetenv("MESH_ISSUER_URL");
    assert_int_equal(mesh_client_from_env("svc-a", &c), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "MESH_ISSUER_URL"));
    setenv("MESH_ISSUER_URL", fake_url(fake), 1);
    assert_int_equal(mesh_client_from_env("svc-a", &c), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "TLS_CA_PATH"));
    setenv("MESH_CERTS_DIR", env.certs, 1);
    assert_int_equal(mesh_client_from_env("svc-a", &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_OK);
    mesh_free(t);
    mesh_client_free(c);
    setenv("TLS_KEY_PATH", b_key, 1); /* explicit variables win, and are checked */
    assert_int_equal(mesh_client_from_env("svc-a", &c), MESH_ERR_CERT_KEY_MISMATCH);
    unsetenv("TLS_KEY_PATH");
    unsetenv("MESH_CERTS_DIR");
    unsetenv("MESH_ISSUER_URL");
}

static void test_insecure_mode_is_explicit(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char *t = NULL;
    (void)state;

    opts_a(&o);
    assert_int_equal(mesh_client_opts_set_insecure_skip_hostname(o, true),
                     MESH_OK); /* warns on stderr */
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_OK);
    mesh_free(t);
    mesh_client_free(c);
    mesh_client_opts_free(o);
}

/* The whole path: a token from the issuer, presented with the certificate, verified. */
static void test_round_trip_through_verifier(void **state)
{
    mesh_client_t *c = client_a();
    mesh_verifier_opts_t *vo = NULL;
    mesh_verifier_t *v = NULL;
    mesh_identity_t *id = NULL;
    char *t = NULL, auth[MESH_MAX_TOKEN_BYTES + 16];
    (void)state;

    assert_int_equal(mesh_verifier_opts_new(&vo), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(vo, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(vo, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(vo, ca), MESH_OK);
    assert_int_equal(mesh_verifier_new(vo, &v), MESH_OK);
    mesh_verifier_opts_free(vo);
    assert_int_equal(mesh_client_token(c, "svc-b", "read", &t, NULL), MESH_OK);
    snprintf(auth, sizeof(auth), "Bearer %s", t);
    assert_int_equal(mesh_verify(v, auth, env.a_der, env.a_len, "read", &id), MESH_OK);
    assert_string_equal(mesh_identity_subject(id), "spiffe://mesh.local/svc-a");
    assert_int_equal(mesh_verify(v, auth, env.b_der, env.b_len, "read", NULL),
                     MESH_ERR_CNF_MISMATCH);
    mesh_identity_free(id);
    mesh_free(t);
    mesh_verifier_free(v);
    mesh_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_creation_names_the_wrong_file, per_test),
        cmocka_unit_test_setup(test_opts_setters_validate_and_name_the_option, per_test),
        cmocka_unit_test_setup(test_token_cached, per_test),
        cmocka_unit_test_setup(test_single_flight_100_threads, per_test),
        cmocka_unit_test_setup(test_bounded_cache_under_concurrency, per_test),
        cmocka_unit_test_setup(test_refresh_ahead_in_background, per_test),
        cmocka_unit_test_setup(test_retry_on_503_and_429, per_test),
        cmocka_unit_test_setup(test_retries_exhausted_keep_issuer_words, per_test),
        cmocka_unit_test_setup(test_no_retry_on_4xx, per_test),
        cmocka_unit_test_setup(test_connection_refused_is_network_error, per_test),
        cmocka_unit_test_setup(test_service_token_mode, per_test),
        cmocka_unit_test_setup(test_setup_curl_and_request_reuse_connection, per_test),
        cmocka_unit_test_setup(test_token_with_crlf_is_never_sent, per_test),
        cmocka_unit_test_setup(test_certfile_checks_and_bad_arguments, per_test),
        cmocka_unit_test_setup(test_request_post_with_headers_and_limit, per_test),
        cmocka_unit_test_setup(test_request_setters_refuse_bad_values, per_test),
        cmocka_unit_test_setup(test_request_without_audience_sends_no_token, per_test),
        cmocka_unit_test_setup(test_from_env, per_test),
        cmocka_unit_test_setup(test_insecure_mode_is_explicit, per_test),
        cmocka_unit_test_setup(test_round_trip_through_verifier, per_test),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
