/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Renewals against the scripted issuer (tests/common/fake_issuer.c, which signs each CSR with
 * the test intermediate for real): renew once, join-token bootstrap, the issuer's error
 * answers, the pair never seen mismatched by a concurrent reader, the background renewer's
 * backoff while the issuer is down, and the client renewing its own identity under traffic.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mesh/mesh.h>
#include <mesh/renew.h>

#include "fake_issuer.h"
#include "testutil.h"

#define JOIN "mjt_0123456789abcdefghijABCDEFGHIJ-_01234567890"

static tu_env_t env;
static mesh_key_t *key;
static fake_t *fake;
static char ca[512], inter[512], inter_key[512], dir[600], cert[700], keyp[700];
static int seq;

static void copy_file(const char *from, const char *to, mode_t mode)
{
    char *data = NULL;
    size_t len = 0;

    assert_int_equal(mesh_file_read(from, MESH_MAX_PEM_BYTES, &data, &len), MESH_OK);
    assert_int_equal(mesh_file_write_atomic(to, data, len, mode, true), MESH_OK);
    mesh_free(data);
}

static int group_setup(void **state)
{
    (void)state;
    tu_env_init(&env);
    key = tu_rsa_key();
    fake = fake_start(env.certs, key, 0);
    tu_path(&env, "ca.pem", ca, sizeof(ca));
    tu_path(&env, "intermediate.pem", inter, sizeof(inter));
    tu_path(&env, "intermediate.key", inter_key, sizeof(inter_key));
    fake_set_cert_ca(fake, inter, inter_key, 3600);
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

/* A fresh directory per test with svc-a's pair copied in (or empty: `with_pair` false). */
static void fresh(bool with_pair)
{
    char from[512];

    snprintf(dir, sizeof(dir), "%s/t%d", env.dir, ++seq);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(keyp, sizeof(keyp), "%s/key.pem", dir);
    if (with_pair) {
        copy_file(tu_path(&env, "svc-a/cert.pem", from, sizeof(from)), cert, 0644);
        copy_file(tu_path(&env, "svc-a/key.pem", from, sizeof(from)), keyp, 0600);
    }
    fake_reset_counts(fake);
    fake_set_down(fake, FAKE_CERT, false);
    fake_set_cert_ca(fake, inter, inter_key, 3600);
}

static mesh_renew_opts_t *opts(void)
{
    mesh_renew_opts_t *o = NULL;
    assert_int_equal(mesh_renew_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_issuer_url(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_cert_path(o, cert), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_key_path(o, keyp), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_retry_base_ms(o, 20), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_retry_max_ms(o, 200), MESH_OK);
    return o;
}

static char *slurp(const char *path)
{
    char *d = NULL;
    assert_int_equal(mesh_file_read(path, MESH_MAX_PEM_BYTES, &d, NULL), MESH_OK);
    return d;
}

static void expect_detail(const char *needle)
{
    if (strstr(mesh_err_detail(), needle) == NULL) {
        fail_msg("detail \"%s\" does not name \"%s\"", mesh_err_detail(), needle);
    }
}

static void test_renew_once_writes_a_new_matching_pair(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renew_info_t info;
    char *old_key, *new_key, *knew;
    struct stat st;
    int64_t na = 0;
    (void)state;

    fresh(true);
    o = opts();
    old_key = slurp(keyp);
    assert_int_equal(mesh_renew_once(o, &info), MESH_OK);
    assert_string_equal(info.spiffe_id, "spiffe://mesh.local/svc-a");
    assert_true(info.not_after - info.not_before == 3600);
    assert_true(strlen(info.serial) > 0);
    new_key = slurp(keyp);
    assert_string_not_equal(old_key, new_key); /* a new key every renewal */
    assert_int_equal(stat(keyp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    assert_int_equal(mesh_certfile_check_chain(cert, ca), MESH_OK);
    assert_int_equal(mesh_certfile_check_time(cert, 0, &na), MESH_OK);
    assert_int_equal(na, info.not_after);
    assert_int_equal(fake_count(fake, FAKE_CERT), 1);
    assert_int_equal(fake_count(fake, FAKE_META), 1); /* the endpoint from RFC 8414 metadata */
    /* Nothing left beside the pair. */
    knew = malloc(strlen(keyp) + 5);
    snprintf(knew, strlen(keyp) + 5, "%s.new", keyp);
    assert_int_not_equal(access(knew, F_OK), 0);
    free(knew);
    /* And once more, now authenticated by the renewed certificate. */
    assert_int_equal(mesh_renew_once(o, &info), MESH_OK);
    assert_string_equal(info.spiffe_id, "spiffe://mesh.local/svc-a");
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    mesh_free(old_key);
    mesh_wipe(new_key, strlen(new_key));
    mesh_free(new_key);
    mesh_renew_opts_free(o);
}

static void test_join_token_bootstraps_once(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renew_info_t info;
    (void)state;

    fresh(false);
    fake_set_join_token(fake, JOIN, "spiffe://mesh.local/svc-new");
    o = opts();
    assert_int_equal(mesh_renew_opts_set_join_token(o, JOIN), MESH_OK);
    assert_int_equal(mesh_renew_once(o, &info), MESH_OK);
    assert_string_equal(info.spiffe_id, "spiffe://mesh.local/svc-new");
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    assert_int_equal(mesh_certfile_check_chain(cert, ca), MESH_OK);
    /* The token is spent: a second bootstrap with it is refused, with the issuer's reason. */
    unlink(cert);
    unlink(keyp);
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_ISSUER_ERROR);
    expect_detail("HTTP 401 invalid_client");
    expect_detail("join token unknown, expired or used");
    assert_null(strstr(mesh_err_detail(), JOIN)); /* a credential is never in a message */
    assert_int_not_equal(access(cert, F_OK), 0);  /* nothing written */
    mesh_renew_opts_free(o);
}

static void test_issuer_errors_surface_with_the_reason(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renew_info_t info;
    char *before;
    (void)state;

    fresh(true);
    o = opts();
    before = slurp(cert);
    fake_push_cert_reply(fake, 403,
                         "{\"error\":\"access_denied\",\"error_description\":\"certificate "
                         "revoked (serial 1F)\"}");
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_ISSUER_ERROR);
    expect_detail("HTTP 403 access_denied: certificate revoked (serial 1F)");
    fake_push_cert_reply(fake, 503, "{\"error\":\"temporarily_unavailable\"}");
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_ISSUER_ERROR);
    expect_detail("HTTP 503 temporarily_unavailable");
    /* A 200 whose certificate is not for the key of the request: refused, nothing written. */
    char *other = slurp(inter);
    char body[8192];
    snprintf(body, sizeof(body), "{\"chain\":\"");
    for (const char *p = other; *p != '\0' && strlen(body) < sizeof(body) - 8; p++) {
        size_t n = strlen(body);
        if (*p == '\n') {
            body[n] = '\\';
            body[n + 1] = 'n';
            body[n + 2] = '\0';
        } else {
            body[n] = *p;
            body[n + 1] = '\0';
        }
    }
    strncat(body, "\"}", sizeof(body) - strlen(body) - 1);
    fake_push_cert_reply(fake, 200, body);
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_CERT);
    expect_detail("not for the key of this request");
    char *after = slurp(cert);
    assert_string_equal(before, after);
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    mesh_free(other);
    mesh_free(before);
    mesh_free(after);
    mesh_renew_opts_free(o);
}

/* A CSR is for the caller's own identity: the issuer refusing another one is surfaced. */
static void test_refused_identity_change_is_surfaced(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renew_info_t info;
    (void)state;

    fresh(true);
    o = opts();
    fake_push_cert_reply(fake, 403,
                         "{\"error\":\"access_denied\",\"error_description\":\"csr "
                         "asks for another identity\"}");
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_ISSUER_ERROR);
    expect_detail("another identity");
    mesh_renew_opts_free(o);
}

/* ---- the pair as another process sees it while renewals run ---- */

typedef struct {
    atomic_bool stop;
    atomic_int reads, mismatches;
} reader_t;

static void *reader(void *arg)
{
    reader_t *r = arg;

    while (!atomic_load(&r->stop)) {
        char *c = NULL, *k = NULL;
        size_t kl = 0;
        if (mesh_identity_read_pair(cert, keyp, &c, NULL, &k, &kl) != MESH_OK) {
            atomic_fetch_add(&r->mismatches, 1);
            fprintf(stderr, "reader: %s\n", mesh_err_detail());
        } else {
            atomic_fetch_add(&r->reads, 1);
        }
        mesh_free(c);
        if (k != NULL) {
            mesh_wipe(k, kl);
        }
        mesh_free(k);
    }
    return NULL;
}

static void test_concurrent_reader_never_sees_a_mismatched_pair(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renew_info_t info;
    reader_t r = {0};
    pthread_t t;
    (void)state;

    fresh(true);
    o = opts();
    pthread_create(&t, NULL, reader, &r);
    for (int i = 0; i < 15; i++) {
        assert_int_equal(mesh_renew_once(o, &info), MESH_OK);
    }
    atomic_store(&r.stop, true);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&r.mismatches), 0);
    assert_true(atomic_load(&r.reads) > 0);
    assert_int_equal(fake_certs_issued(fake) >= 15, 1);
    mesh_renew_opts_free(o);
}

/* A renewal that stopped between its renames (new certificate, new key beside it) is finished
 * by the next one; readers until then get MESH_ERR_CERT_KEY_MISMATCH, never a wrong pair. */
static void test_interrupted_renewal_is_completed(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renew_info_t info;
    char knew[800], kept[800], *c = NULL, *k = NULL;
    (void)state;

    fresh(true);
    o = opts();
    snprintf(kept, sizeof(kept), "%s/kept.pem", dir);
    snprintf(knew, sizeof(knew), "%s.new", keyp);
    assert_int_equal(mesh_renew_once(o, &info), MESH_OK);
    copy_file(keyp, kept, 0600);
    assert_int_equal(mesh_renew_once(o, &info), MESH_OK);
    /* Now make it as if the last rename never happened: the new key at key.pem.new, the
     * previous one at key.pem. */
    assert_int_equal(rename(keyp, knew), 0);
    assert_int_equal(rename(kept, keyp), 0);
    assert_int_equal(mesh_identity_read_pair(cert, keyp, &c, NULL, &k, NULL),
                     MESH_ERR_CERT_KEY_MISMATCH);
    expect_detail("is not the one of the certificate");
    assert_int_equal(mesh_renew_once(o, &info), MESH_OK);
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    mesh_renew_opts_free(o);
}

/* ---- the background renewer ---- */

typedef struct {
    pthread_mutex_t mu;
    int ok, failed, final;
    mesh_err_t last;
    char detail[512];
} events_t;

static void on_event(void *arg, mesh_err_t rc, bool final, const mesh_renew_info_t *info)
{
    events_t *e = arg;
    pthread_mutex_lock(&e->mu);
    if (rc == MESH_OK) {
        assert_non_null(info);
        e->ok++;
    } else {
        e->failed++;
        snprintf(e->detail, sizeof(e->detail), "%s", mesh_err_detail());
    }
    e->final += final ? 1 : 0;
    e->last = rc;
    pthread_mutex_unlock(&e->mu);
}

static int count(events_t *e, int *field)
{
    pthread_mutex_lock(&e->mu);
    int n = *field;
    pthread_mutex_unlock(&e->mu);
    return n;
}

/* Waits (bounded: 30 s) until *field reaches n. */
static void await(events_t *e, int *field, int n)
{
    for (int i = 0; i < 3000 && count(e, field) < n; i++) {
        tu_sleep_ms(10);
    }
    assert_true(count(e, field) >= n);
}

static void test_renewer_renews_short_certificates_on_schedule(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renewer_t *r = NULL;
    mesh_renew_info_t info;
    events_t ev = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, MESH_OK, ""};
    (void)state;

    fresh(true);
    fake_set_cert_ca(fake, inter, inter_key, 3);
    o = opts();
    /* svc-a's 30-day certificate is far from its renewal point: kick once, then the 3 s
     * certificates renew themselves at about 2 s. */
    assert_int_equal(mesh_renewer_new(o, on_event, &ev, &r), MESH_OK);
    /* The 30-day certificate's renewal point, read at start: days away. */
    for (int i = 0; i < 200 && mesh_renewer_info(r, &info) != MESH_OK; i++) {
        tu_sleep_ms(10);
    }
    assert_true(info.renew_at > (int64_t)time(NULL) + 86400);
    mesh_renewer_kick(r);
    await(&ev, &ev.ok, 3);
    assert_int_equal(count(&ev, &ev.failed), 0);
    assert_int_equal(mesh_renewer_info(r, &info), MESH_OK);
    assert_true(info.renew_at >= info.not_before && info.renew_at < info.not_after);
    assert_true(mesh_renewer_stat(r, MESH_RENEW_STAT_RENEWALS) >= 3);
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    mesh_renewer_free(r);
    mesh_renew_opts_free(o);
}

static void test_renewer_backs_off_while_the_issuer_is_down(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renewer_t *r = NULL;
    events_t ev = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, MESH_OK, ""};
    (void)state;

    fresh(true);
    o = opts();
    fake_set_down(fake, FAKE_CERT, true);
    assert_int_equal(mesh_renewer_new(o, on_event, &ev, &r), MESH_OK);
    mesh_renewer_kick(r);
    await(&ev, &ev.failed, 4);
    pthread_mutex_lock(&ev.mu);
    assert_int_equal(ev.final, 0); /* 503: retried, not given up */
    assert_non_null(strstr(ev.detail, "HTTP 503 temporarily_unavailable"));
    pthread_mutex_unlock(&ev.mu);
    assert_int_equal(count(&ev, &ev.ok), 0);
    fake_set_down(fake, FAKE_CERT, false);
    await(&ev, &ev.ok, 1);
    assert_true(mesh_renewer_stat(r, MESH_RENEW_STAT_FAILURES) >= 4);
    assert_true(mesh_renewer_stat(r, MESH_RENEW_STAT_ATTEMPTS) >=
                mesh_renewer_stat(r, MESH_RENEW_STAT_FAILURES) + 1);
    assert_int_equal(mesh_certfile_check_key(cert, keyp), MESH_OK);
    mesh_renewer_free(r);
    mesh_renew_opts_free(o);
}

static void test_renewer_gives_up_on_a_refusal(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renewer_t *r = NULL;
    events_t ev = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, MESH_OK, ""};
    (void)state;

    fresh(true);
    o = opts();
    fake_push_cert_reply(fake, 403,
                         "{\"error\":\"access_denied\",\"error_description\":"
                         "\"certificate revoked\"}");
    assert_int_equal(mesh_renewer_new(o, on_event, &ev, &r), MESH_OK);
    mesh_renewer_kick(r);
    await(&ev, &ev.final, 1);
    assert_int_equal(count(&ev, &ev.failed), 1);
    assert_non_null(strstr(ev.detail, "certificate revoked"));
    mesh_renewer_free(r);
    mesh_renew_opts_free(o);
}

static void test_renewer_bootstraps_with_a_join_token(void **state)
{
    mesh_renew_opts_t *o;
    mesh_renewer_t *r = NULL;
    events_t ev = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, MESH_OK, ""};
    mesh_renew_info_t info;
    (void)state;

    fresh(false);
    fake_set_join_token(fake, JOIN, "spiffe://mesh.local/svc-boot");
    fake_set_cert_ca(fake, inter, inter_key, 3);
    o = opts();
    assert_int_equal(mesh_renew_opts_set_join_token(o, JOIN), MESH_OK);
    assert_int_equal(mesh_renewer_new(o, on_event, &ev, &r), MESH_OK);
    /* No certificate: the first renewal is at once; later ones with the certificate (the
     * token worked once, so a second use would fail). */
    await(&ev, &ev.ok, 2);
    assert_int_equal(count(&ev, &ev.failed), 0);
    assert_int_equal(mesh_renewer_info(r, &info), MESH_OK);
    assert_string_equal(info.spiffe_id, "spiffe://mesh.local/svc-boot");
    mesh_renewer_free(r);
    mesh_renew_opts_free(o);
}

/* ---- the client renewing its own identity ---- */

static mesh_client_t *renewing_client(const char *join)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;

    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_client_opts_set_cert_path(o, cert), MESH_OK);
    assert_int_equal(mesh_client_opts_set_key_path(o, keyp), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_client_opts_set_renew(o, true), MESH_OK);
    if (join != NULL) {
        assert_int_equal(mesh_client_opts_set_join_token(o, join), MESH_OK);
    }
    if (mesh_client_new(o, &c) != MESH_OK) {
        fail_msg("mesh_client_new: %s", mesh_err_detail());
    }
    mesh_client_opts_free(o);
    return c;
}

/* The x5t#S256 of the leaf in the certificate file now. */
static void file_x5t(char out[MESH_X5T_LEN + 1])
{
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(mesh_x509_load_der(cert, &der, &len), MESH_OK);
    assert_int_equal(mesh_x5t_s256(der, len, out), MESH_OK);
    mesh_free(der);
}

typedef struct {
    mesh_client_t *c;
    atomic_bool stop;
    atomic_int ok, failed;
} traffic_t;

static void *traffic(void *arg)
{
    traffic_t *t = arg;
    char url[128];

    snprintf(url, sizeof(url), "%s/peer", fake_url(fake));
    while (!atomic_load(&t->stop)) {
        mesh_response_t *resp = NULL;
        mesh_err_t rc = tu_request(t->c, NULL, "GET", url, "svc-b", NULL, NULL, 0, 0, &resp);
        if (rc == MESH_OK && mesh_response_status(resp) == 200) {
            atomic_fetch_add(&t->ok, 1);
        } else {
            atomic_fetch_add(&t->failed, 1);
            fprintf(stderr, "traffic: %s (status %ld)\n", rc == MESH_OK ? "" : mesh_err_detail(),
                    resp != NULL ? mesh_response_status(resp) : 0L);
        }
        mesh_response_free(resp);
    }
    return NULL;
}

static void test_client_renews_under_traffic_without_failures(void **state)
{
    traffic_t t = {0};
    pthread_t th[3];
    char before[MESH_X5T_LEN + 1], now[MESH_X5T_LEN + 1];
    char url[128];
    char *tok1 = NULL, *tok2 = NULL;
    (void)state;

    fresh(false);
    fake_set_join_token(fake, JOIN, "spiffe://mesh.local/svc-a");
    fake_set_cert_ca(fake, inter, inter_key, 4);
    /* A service started with only a join token: it gets its certificate, then tokens. */
    t.c = renewing_client(JOIN);
    assert_int_equal(fake_certs_issued(fake) > 0, 1);
    assert_int_equal(mesh_client_token(t.c, "svc-b", NULL, &tok1, NULL), MESH_OK);
    file_x5t(before);
    for (size_t i = 0; i < 3; i++) {
        pthread_create(&th[i], NULL, traffic, &t);
    }
    /* Three renewals of 4-second certificates (about every 2.7 s) under traffic. */
    for (int i = 0; i < 3000 && mesh_client_renew_stat(t.c, MESH_RENEW_STAT_RENEWALS) < 3; i++) {
        tu_sleep_ms(10);
    }
    assert_true(mesh_client_renew_stat(t.c, MESH_RENEW_STAT_RENEWALS) >= 3);
    atomic_store(&t.stop, true);
    for (size_t i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(atomic_load(&t.failed), 0);
    assert_true(atomic_load(&t.ok) > 0);
    /* New connections present the new certificate. The renewer goes on renewing (the client
     * swaps the pair in just after each write): give the next certificate an hour, then the
     * peer must see the certificate on disk (bounded wait, no timing assumed). */
    fake_set_cert_ca(fake, inter, inter_key, 3600);
    uint64_t n = mesh_client_renew_stat(t.c, MESH_RENEW_STAT_RENEWALS);
    for (int i = 0; i < 3000 && mesh_client_renew_stat(t.c, MESH_RENEW_STAT_RENEWALS) <= n; i++) {
        tu_sleep_ms(10);
    }
    snprintf(url, sizeof(url), "%s/peer", fake_url(fake));
    bool seen = false;
    for (int i = 0; i < 500 && !seen; i++) {
        mesh_response_t *resp = NULL;
        file_x5t(now);
        assert_int_equal(tu_request(t.c, NULL, "GET", url, "svc-b", NULL, NULL, 0, 0, &resp),
                         MESH_OK);
        seen = strstr(mesh_response_body(resp), now) != NULL;
        mesh_response_free(resp);
        if (!seen) {
            tu_sleep_ms(10);
        }
    }
    assert_true(seen);
    assert_string_not_equal(before, now);
    assert_int_equal(mesh_client_token(t.c, "svc-b", NULL, &tok2, NULL), MESH_OK);
    assert_string_not_equal(tok1, tok2); /* the old certificate's token was dropped */
    mesh_free(tok1);
    mesh_free(tok2);
    mesh_client_free(t.c);
}

static void test_client_renew_options_are_checked(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    (void)state;

    fresh(false);
    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_join_token(o, "mjt_nope"), MESH_ERR_CONFIG);
    expect_detail("join_token");
    assert_int_equal(mesh_client_opts_set_issuer_url(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_client_opts_set_cert_path(o, cert), MESH_OK);
    assert_int_equal(mesh_client_opts_set_key_path(o, keyp), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(o, ca), MESH_OK);
    /* A join token nobody issued: the client does not start, and says why. */
    fake_set_join_token(fake, NULL, NULL);
    assert_int_equal(mesh_client_opts_set_join_token(o, JOIN), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_ISSUER_ERROR);
    expect_detail("invalid_client");
    assert_null(c);
    /* Service-token mode has nothing to renew. */
    assert_int_equal(mesh_client_opts_set_client_id(o, "svc-x"), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_secret(o, "s3cret"), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_ERR_CONFIG);
    expect_detail("renew");
    mesh_client_opts_free(o);
}

static void test_client_from_env_bootstraps_from_a_join_token(void **state)
{
    mesh_client_t *c = NULL;
    char *tok = NULL;
    (void)state;

    fresh(false);
    fake_set_join_token(fake, JOIN, "spiffe://mesh.local/svc-env");
    setenv("MESH_ISSUER_URL", fake_url(fake), 1);
    setenv("TLS_CERT_PATH", cert, 1);
    setenv("TLS_KEY_PATH", keyp, 1);
    setenv("TLS_CA_PATH", ca, 1);
    setenv("MESH_RENEW", "yes", 1);
    assert_int_equal(mesh_client_from_env("svc-env", &c), MESH_ERR_CONFIG);
    expect_detail("MESH_RENEW");
    setenv("MESH_RENEW", "1", 1);
    setenv("MESH_JOIN_TOKEN", JOIN, 1);
    if (mesh_client_from_env("svc-env", &c) != MESH_OK) {
        fail_msg("from_env: %s", mesh_err_detail());
    }
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &tok, NULL), MESH_OK);
    mesh_free(tok);
    mesh_client_free(c);
    /* Started again with the same (spent) token and the certificate it got: no bootstrap. */
    assert_int_equal(mesh_client_from_env("svc-env", &c), MESH_OK);
    mesh_client_free(c);
    unsetenv("MESH_RENEW");
    unsetenv("MESH_JOIN_TOKEN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renew_once_writes_a_new_matching_pair),
        cmocka_unit_test(test_join_token_bootstraps_once),
        cmocka_unit_test(test_issuer_errors_surface_with_the_reason),
        cmocka_unit_test(test_refused_identity_change_is_surfaced),
        cmocka_unit_test(test_concurrent_reader_never_sees_a_mismatched_pair),
        cmocka_unit_test(test_interrupted_renewal_is_completed),
        cmocka_unit_test(test_renewer_renews_short_certificates_on_schedule),
        cmocka_unit_test(test_renewer_backs_off_while_the_issuer_is_down),
        cmocka_unit_test(test_renewer_gives_up_on_a_refusal),
        cmocka_unit_test(test_renewer_bootstraps_with_a_join_token),
        cmocka_unit_test(test_client_renews_under_traffic_without_failures),
        cmocka_unit_test(test_client_renew_options_are_checked),
        cmocka_unit_test(test_client_from_env_bootstraps_from_a_join_token),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
