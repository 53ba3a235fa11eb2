/* SPDX-License-Identifier: Apache-2.0 */
/* Client and verifier against the real mesh-issuer (certificates from mesh-ca), counting
 * issuer work through its /metrics tokens_issued counter. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "real_issuer.h"
#include "testutil.h"

static real_issuer_t ri;
static bool have_issuer;
static char ca[512], a_cert[512], a_key[512];
static uint8_t *a_der, *b_der;
static size_t a_len, b_len;

static int group_setup(void **state)
{
    char p[512];
    (void)state;

    have_issuer = ri_setup(&ri) && ri_start(&ri);
    if (!have_issuer) {
        return 0;
    }
    ri_path(&ri, "ca.pem", ca, sizeof(ca));
    ri_path(&ri, "svc-a/cert.pem", a_cert, sizeof(a_cert));
    ri_path(&ri, "svc-a/key.pem", a_key, sizeof(a_key));
    if (mesh_x509_load_der(a_cert, &a_der, &a_len) != MESH_OK ||
        mesh_x509_load_der(ri_path(&ri, "svc-b/cert.pem", p, sizeof(p)), &b_der, &b_len)) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ri_cleanup(&ri);
    mesh_free(a_der);
    mesh_free(b_der);
    return 0;
}

static mesh_client_t *client_a(double refresh_fraction, int64_t ttl)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;

    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, ri.url), MESH_OK);
    assert_int_equal(mesh_client_opts_set_cert_path(o, a_cert), MESH_OK);
    assert_int_equal(mesh_client_opts_set_key_path(o, a_key), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_client_opts_set_refresh_fraction(o, refresh_fraction), MESH_OK);
    assert_int_equal(mesh_client_opts_set_token_ttl(o, ttl), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    mesh_client_opts_free(o);
    return c;
}

static mesh_verifier_t *verifier(int64_t poll_ms)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ri.url), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_poll_ms(o, poll_ms), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    return v;
}

static void test_cached_tokens_cost_one_issuance(void **state)
{
    mesh_client_t *c;
    long before;
    (void)state;
    NEED_ISSUER();

    c = client_a(0.8, 0);
    before = ri_tokens_issued(&ri);
    for (int i = 0; i < 50; i++) {
        char *t = NULL;
        assert_int_equal(mesh_client_token(c, "svc-b", "read", &t, NULL), MESH_OK);
        mesh_free(t);
    }
    assert_int_equal(ri_tokens_issued(&ri) - before, 1);
    mesh_client_free(c);
}

static void *ask(void *p)
{
    char *t = NULL;
    if (mesh_client_token(p, "svc-b", NULL, &t, NULL) != MESH_OK) {
        return (void *)1;
    }
    mesh_free(t);
    return NULL;
}

static void test_single_flight_against_issuer(void **state)
{
    enum { N = 100 };
    pthread_t th[N];
    mesh_client_t *c;
    long before;
    (void)state;
    NEED_ISSUER();

    c = client_a(0.8, 0);
    before = ri_tokens_issued(&ri);
    for (int i = 0; i < N; i++) {
        pthread_create(&th[i], NULL, ask, c);
    }
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    assert_int_equal(ri_tokens_issued(&ri) - before, 1);
    mesh_client_free(c);
}

static void test_refresh_ahead_against_issuer(void **state)
{
    mesh_client_t *c;
    char *t = NULL;
    long before;
    (void)state;
    NEED_ISSUER();

    c = client_a(0.05, 30); /* 30 s tokens refreshed after ~1.5 s */
    before = ri_tokens_issued(&ri);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_OK);
    mesh_free(t);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_OK);
    mesh_free(t);
    for (int i = 0; i < 400 && ri_tokens_issued(&ri) - before < 2; i++) {
        tu_sleep_ms(50);
    }
    assert_true(ri_tokens_issued(&ri) - before >= 2);
    mesh_client_free(c);
}

static void test_verifier_binding_and_revocation(void **state)
{
    mesh_client_t *c;
    mesh_verifier_t *v;
    mesh_identity_t *id = NULL;
    char *t = NULL, auth[MESH_MAX_TOKEN_BYTES + 16];
    mesh_err_t rc = MESH_OK;
    (void)state;
    NEED_ISSUER();

    c = client_a(0.8, 0);
    v = verifier(200);
    assert_int_equal(mesh_client_token(c, "svc-b", "read", &t, NULL), MESH_OK);
    snprintf(auth, sizeof(auth), "Bearer %s", t);
    assert_int_equal(mesh_verify(v, auth, a_der, a_len, "read", &id), MESH_OK);
    assert_string_equal(mesh_identity_subject(id), "spiffe://mesh.local/svc-a");
    assert_string_equal(mesh_identity_client_id(id), "svc-a");
    /* Stolen: the same token with svc-b's certificate. */
    assert_int_equal(mesh_verify(v, auth, b_der, b_len, NULL, NULL), MESH_ERR_CNF_MISMATCH);
    assert_int_equal(mesh_verify(v, auth, a_der, a_len, "write", NULL), MESH_ERR_SCOPE);
    /* Revoked at the issuer: rejected within a poll. */
    assert_int_equal(ri_revoke(&ri, t), 200);
    for (int i = 0; i < 200 && rc == MESH_OK; i++) {
        tu_sleep_ms(50);
        rc = mesh_verify(v, auth, a_der, a_len, NULL, NULL);
    }
    assert_int_equal(rc, MESH_ERR_REVOKED);
    mesh_identity_free(id);
    mesh_free(t);
    mesh_verifier_free(v);
    mesh_client_free(c);
}

static void test_service_token_and_issuer_errors(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char id[128], secret[128], *t = NULL;
    (void)state;
    NEED_ISSUER();

    assert_true(ri_service_token(&ri, "ci", id, sizeof(id), secret, sizeof(secret)));
    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, ri.url), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_id(o, id), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_secret(o, secret), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &t, NULL), MESH_OK);
    mesh_free(t);
    mesh_client_free(c);

    c = client_a(0.8, 0);
    assert_int_equal(mesh_client_token(c, "nope", NULL, &t, NULL), MESH_ERR_ISSUER_ERROR);
    assert_non_null(strstr(mesh_err_detail(), "invalid_target"));
    assert_int_equal(mesh_client_token(c, "admin-api", NULL, &t, NULL), MESH_ERR_ISSUER_ERROR);
    assert_non_null(strstr(mesh_err_detail(), "access_denied"));
    mesh_client_free(c);
    mesh_client_opts_free(o);
}

/* Rotation at the issuer: a token signed with the new key is accepted after one refetch. */
static void test_key_rotation_picked_up(void **state)
{
    mesh_client_t *c1, *c2;
    mesh_verifier_t *v;
    tu_vstats_t before, after;
    char *t1 = NULL, *t2 = NULL, auth[MESH_MAX_TOKEN_BYTES + 16];
    (void)state;
    NEED_ISSUER();

    c1 = client_a(0.8, 0);
    v = verifier(10000);
    assert_int_equal(mesh_client_token(c1, "svc-b", NULL, &t1, NULL), MESH_OK);
    snprintf(auth, sizeof(auth), "Bearer %s", t1);
    assert_int_equal(mesh_verify(v, auth, a_der, a_len, NULL, NULL), MESH_OK);
    assert_true(ri_rotate(&ri));
    c2 = client_a(0.8, 0); /* a fresh cache: its token is signed with the new key */
    assert_int_equal(mesh_client_token(c2, "svc-b", NULL, &t2, NULL), MESH_OK);
    before = tu_vstats(v);
    snprintf(auth, sizeof(auth), "Bearer %s", t2);
    assert_int_equal(mesh_verify(v, auth, a_der, a_len, NULL, NULL), MESH_OK);
    after = tu_vstats(v);
    assert_int_equal(after.jwks_fetches - before.jwks_fetches, 1);
    /* The old token still verifies: its key is published as "previous". */
    snprintf(auth, sizeof(auth), "Bearer %s", t1);
    assert_int_equal(mesh_verify(v, auth, a_der, a_len, NULL, NULL), MESH_OK);
    mesh_free(t1);
    mesh_free(t2);
    mesh_verifier_free(v);
    mesh_client_free(c1);
    mesh_client_free(c2);
}

/* Last: stops the issuer. Known keys keep verifying; doctor names the failing step. */
static void test_issuer_down(void **state)
{
    mesh_client_t *c;
    mesh_verifier_t *v, *v2;
    char *t = NULL, auth[MESH_MAX_TOKEN_BYTES + 16], cmd[2048];
    FILE *p;
    char out[8192];
    size_t n;
    int st;
    (void)state;
    NEED_ISSUER();

    c = client_a(0.8, 0);
    v = verifier(10000);
    assert_int_equal(mesh_client_token(c, "svc-b", "read", &t, NULL), MESH_OK);
    snprintf(auth, sizeof(auth), "Bearer %s", t);
    ri_stop(&ri);
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_ERR_NETWORK);
    assert_int_equal(mesh_verify(v, auth, a_der, a_len, NULL, NULL), MESH_OK);
    v2 = verifier(10000);
    assert_int_equal(mesh_verify(v2, auth, a_der, a_len, NULL, NULL), MESH_ERR_KEYS_UNAVAILABLE);
    snprintf(cmd, sizeof(cmd),
             "env -u TLS_CERT_PATH -u TLS_KEY_PATH -u TLS_CA_PATH "
             "MESH_ISSUER_URL=%s MESH_CERTS_DIR=%s %s/libmesh/cli/mesh doctor --service svc-a "
             "--audience svc-b",
             ri.url, ri.certs, getenv("MESH_BUILD_ROOT") ? getenv("MESH_BUILD_ROOT") : "build");
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    st = pclose(p);
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_non_null(strstr(out, "\u2717  issuer reachable"));
    mesh_free(t);
    mesh_verifier_free(v);
    mesh_verifier_free(v2);
    mesh_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_tokens_cost_one_issuance),
        cmocka_unit_test(test_single_flight_against_issuer),
        cmocka_unit_test(test_refresh_ahead_against_issuer),
        cmocka_unit_test(test_verifier_binding_and_revocation),
        cmocka_unit_test(test_service_token_and_issuer_errors),
        cmocka_unit_test(test_key_rotation_picked_up),
        cmocka_unit_test(test_issuer_down),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
