/* SPDX-License-Identifier: Apache-2.0 */
/* The verifier's configuration: the binding policies (fresh and cached path alike),
 * mesh_verifier_from_env and the option setters. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "fake_issuer.h"
#include "testutil.h"

static tu_env_t env;
static mesh_key_t *key1, *key2;
static fake_t *fake;
static char ca[512];

static int group_setup(void **state)
{
    (void)state;
    tu_env_init(&env);
    key1 = tu_rsa_key();
    key2 = tu_rsa_key();
    fake = fake_start(env.certs, key1, 0);
    tu_path(&env, "ca.pem", ca, sizeof(ca));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_stop(fake);
    mesh_key_free(key1);
    mesh_key_free(key2);
    tu_env_cleanup(&env);
    return 0;
}

static mesh_err_t verify_tok(mesh_verifier_t *v, const char *tok, const uint8_t *der, size_t len,
                             const char *scope)
{
    return mesh_verify(v, tu_bearer(tok), der, len, scope, NULL);
}

/*
 * Point 1 of issue 10: one binding policy, the same verdict on the fresh path (cache off) and
 * on the cached path (the token cached by a presentation that passes, then presented as the
 * case says: a cached path that skipped the binding would accept a stolen token).
 */
enum { B_MATCH, B_OTHER, B_NONE, U_CERT, U_NONE, N_CERT, N_NONE, B_CASES };

static const char *const POLICIES[] = {"required", "when-presented",
                                       "unbound-for:svc-token:deploy,svc-token:ci"};
static const mesh_err_t BIND_WANT[3][B_CASES] = {
    /* bound+match, bound+other, bound+none, unbound+cert, unbound+none, named+cert, named */
    {MESH_OK, MESH_ERR_CNF_MISMATCH, MESH_ERR_CNF_MISMATCH, MESH_ERR_CNF_MISSING,
     MESH_ERR_CNF_MISSING, MESH_ERR_CNF_MISSING, MESH_ERR_CNF_MISSING},
    {MESH_OK, MESH_ERR_CNF_MISMATCH, MESH_ERR_CNF_MISMATCH, MESH_OK, MESH_OK, MESH_OK, MESH_OK},
    {MESH_OK, MESH_ERR_CNF_MISMATCH, MESH_ERR_CNF_MISMATCH, MESH_ERR_CNF_MISSING,
     MESH_ERR_CNF_MISSING, MESH_OK, MESH_OK},
};

static mesh_verifier_t *binding_verifier(const char *policy, size_t cache_entries)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_binding(o, policy), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_cache_entries(o, cache_entries), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    return v;
}

/* A service token: sub svc-token:<name>, no cnf. */
static char *named_token(const char *name)
{
    char claims[1024];
    long long now = (long long)time(NULL);

    snprintf(claims, sizeof(claims),
             "{\"iss\":\"%s\",\"sub\":\"svc-token:%s\",\"aud\":\"svc-b\",\"iat\":%lld,"
             "\"nbf\":%lld,\"exp\":%lld,\"jti\":\"j-%s\",\"scope\":\"ci:deploy\","
             "\"client_id\":\"%s\"}",
             fake_url(fake), name, now, now, now + 300, name, name);
    return tu_sign_claims(key1, claims);
}

static void test_binding_policy_matrix(void **state)
{
    char *bound = tu_token(key1, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    char *unbound = tu_token(key1, fake_url(fake), "svc-b", "read", NULL, 300);
    char *named = named_token("ci");
    const struct {
        const char *tok;
        const uint8_t *der;
        size_t len;
    } cases[B_CASES] = {
        [B_MATCH] = {bound, env.a_der, env.a_len},
        [B_OTHER] = {bound, env.b_der, env.b_len},
        [B_NONE] = {bound, NULL, 0},
        [U_CERT] = {unbound, env.a_der, env.a_len},
        [U_NONE] = {unbound, NULL, 0},
        [N_CERT] = {named, env.a_der, env.a_len},
        [N_NONE] = {named, NULL, 0},
    };
    (void)state;

    for (size_t p = 0; p < 3; p++) {
        mesh_verifier_t *fresh = binding_verifier(POLICIES[p], 0);
        for (int c = 0; c < B_CASES; c++) {
            mesh_identity_t *id = NULL;
            mesh_err_t rc =
                mesh_verify(fresh, tu_bearer(cases[c].tok), cases[c].der, cases[c].len, NULL, &id);
            if (rc != BIND_WANT[p][c]) {
                fail_msg("fresh path, policy %s, case %d: %s, want %s", POLICIES[p], c,
                         mesh_err_name(rc), mesh_err_name(BIND_WANT[p][c]));
            }
            if (rc == MESH_OK) {
                assert_int_equal(mesh_identity_bound(id), c <= B_NONE);
            }
            mesh_identity_free(id);
        }
        mesh_verifier_free(fresh);

        for (int c = 0; c < B_CASES; c++) {
            mesh_verifier_t *v = binding_verifier(POLICIES[p], 1024);
            tu_vstats_t st;
            mesh_identity_t *id = NULL;
            /* the presentation that passes, if any: the token's own certificate, or none */
            const uint8_t *pd = cases[c].tok == bound ? env.a_der : NULL;
            size_t pl = cases[c].tok == bound ? env.a_len : 0;
            bool primed = mesh_verify(v, tu_bearer(cases[c].tok), pd, pl, NULL, NULL) == MESH_OK;
            mesh_err_t rc =
                mesh_verify(v, tu_bearer(cases[c].tok), cases[c].der, cases[c].len, NULL, &id);
            if (rc != BIND_WANT[p][c]) {
                fail_msg("cached path, policy %s, case %d: %s, want %s", POLICIES[p], c,
                         mesh_err_name(rc), mesh_err_name(BIND_WANT[p][c]));
            }
            st = tu_vstats(v);
            assert_int_equal(st.cache_hits, primed ? 1 : 0);
            if (rc == MESH_OK) {
                assert_true(primed);
                assert_int_equal(mesh_identity_bound(id), c <= B_NONE);
            }
            mesh_identity_free(id);
            mesh_verifier_free(v);
        }
    }
    free(bound);
    free(unbound);
    free(named);
}

/* The subject list is exact: no prefix match, and a bound named token is still checked. */
static void test_binding_unbound_for_exact(void **state)
{
    mesh_verifier_t *v = binding_verifier("unbound-for:svc-token:c,svc-token:ci-x", 1024);
    char *named = named_token("ci");
    mesh_verifier_opts_t *o = NULL;
    const char *bad_specs[] = {"sometimes",
                               "unbound-for:",
                               "unbound-for:a,,b",
                               "unbound-for:a, b",
                               "unbound-for:a,",
                               "Required",
                               NULL};
    (void)state;

    assert_int_equal(verify_tok(v, named, NULL, 0, NULL), MESH_ERR_CNF_MISSING);
    assert_int_equal(verify_tok(v, named, env.a_der, env.a_len, NULL), MESH_ERR_CNF_MISSING);
    mesh_verifier_free(v);
    free(named);
    /* A bad policy is refused by the setter, which names the option; the old one stays. */
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_binding(o, "when-presented"), MESH_OK);
    for (size_t i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
        assert_int_equal(mesh_verifier_opts_set_binding(o, bad_specs[i]), MESH_ERR_CONFIG);
        assert_non_null(strstr(mesh_err_detail(), "binding"));
    }
    mesh_verifier_opts_free(o);
}

/* Point 5 of issue 10: mesh_verifier_from_env, each variable and each error naming it. */
static const char *const VERIFIER_ENV[] = {"MESH_ISSUER_URL",
                                           "MESH_AUDIENCE",
                                           "MESH_ISSUER_ID",
                                           "TLS_CA_PATH",
                                           "TLS_CERT_PATH",
                                           "TLS_KEY_PATH",
                                           "MESH_CERTS_DIR",
                                           "MESH_TRUST_BUNDLE",
                                           "MESH_CRL_PATH",
                                           "MESH_JWKS_URL",
                                           "MESH_JWKS_FILE",
                                           "MESH_BINDING",
                                           NULL};

static void env_clear(void)
{
    for (size_t i = 0; VERIFIER_ENV[i] != NULL; i++) {
        unsetenv(VERIFIER_ENV[i]);
    }
}

/* mesh_verifier_from_env("svc-b") fails with `want`, the detail naming `var`. */
static void env_refused(mesh_err_t want, const char *var)
{
    mesh_verifier_t *v = NULL;

    if (mesh_verifier_from_env("svc-b", &v) != want || strstr(mesh_err_detail(), var) == NULL) {
        fail_msg("from_env: want %s naming %s, got \"%s\"", mesh_err_name(want), var,
                 mesh_err_detail());
    }
    assert_null(v);
}

static void test_verifier_from_env(void **state)
{
    char *bound = tu_token(key1, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    char *unbound = tu_token(key1, fake_url(fake), "svc-b", "read", NULL, 300);
    char jwks[600];
    mesh_verifier_t *v = NULL;
    mesh_verifier_opts_t *o = NULL;
    (void)state;

    env_clear();
    env_refused(MESH_ERR_CONFIG, "MESH_ISSUER_URL");
    setenv("MESH_ISSUER_URL", fake_url(fake), 1);
    env_refused(MESH_ERR_CONFIG, "TLS_CA_PATH");
    setenv("TLS_CA_PATH", ca, 1);
    /* the defaults: audience = the service name, binding required, keys from the issuer */
    assert_int_equal(mesh_verifier_from_env("svc-b", &v), MESH_OK);
    assert_int_equal(verify_tok(v, bound, env.a_der, env.a_len, NULL), MESH_OK);
    assert_int_equal(verify_tok(v, unbound, NULL, 0, NULL), MESH_ERR_CNF_MISSING);
    mesh_verifier_free(v);
    setenv("MESH_BINDING", "when-presented", 1);
    assert_int_equal(mesh_verifier_from_env("svc-b", &v), MESH_OK);
    assert_int_equal(verify_tok(v, unbound, NULL, 0, NULL), MESH_OK);
    assert_int_equal(verify_tok(v, bound, env.b_der, env.b_len, NULL), MESH_ERR_CNF_MISMATCH);
    mesh_verifier_free(v);
    setenv("MESH_AUDIENCE", "svc-c", 1);
    assert_int_equal(mesh_verifier_from_env("svc-b", &v), MESH_OK);
    assert_int_equal(verify_tok(v, bound, env.a_der, env.a_len, NULL), MESH_ERR_AUDIENCE);
    mesh_verifier_free(v);
    unsetenv("MESH_AUDIENCE");
    assert_int_equal(mesh_verifier_from_env(NULL, &v), MESH_ERR_CONFIG); /* no default name */
    assert_non_null(strstr(mesh_err_detail(), "MESH_AUDIENCE"));
    setenv("MESH_AUDIENCE", "svc-b", 1);
    /* keys from a file: MESH_JWKS_FILE */
    tu_path(&env, "from-env-jwks.json", jwks, sizeof(jwks));
    tu_write_jwks(jwks, &key1, 1);
    setenv("MESH_JWKS_FILE", jwks, 1);
    assert_int_equal(mesh_verifier_opts_from_env(NULL, &o), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    assert_int_equal(verify_tok(v, bound, env.a_der, env.a_len, NULL), MESH_OK);
    mesh_verifier_free(v);
    /* every bad value is refused, naming its variable */
    setenv("MESH_JWKS_URL", "https://keys.example/jwks.json", 1);
    env_refused(MESH_ERR_CONFIG, "MESH_JWKS_URL and MESH_JWKS_FILE");
    unsetenv("MESH_JWKS_FILE");
    setenv("MESH_JWKS_URL", "http://keys.example/jwks.json", 1);
    env_refused(MESH_ERR_CONFIG, "MESH_JWKS_URL");
    unsetenv("MESH_JWKS_URL");
    setenv("MESH_BINDING", "sometimes", 1);
    env_refused(MESH_ERR_CONFIG, "MESH_BINDING");
    unsetenv("MESH_BINDING");
    setenv("MESH_ISSUER_ID", "issuer", 1);
    env_refused(MESH_ERR_CONFIG, "MESH_ISSUER_ID");
    unsetenv("MESH_ISSUER_ID");
    setenv("MESH_CRL_PATH", "/nonexistent/crl.pem", 1);
    env_refused(MESH_ERR_CONFIG, "MESH_CRL_PATH");
    setenv("MESH_TRUST_BUNDLE", "/nonexistent/bundle.pem", 1);
    env_refused(MESH_ERR_IO, "/nonexistent/bundle.pem");
    unsetenv("MESH_CRL_PATH");
    unsetenv("MESH_TRUST_BUNDLE");
    setenv("MESH_ISSUER_URL", "http://plain", 1);
    env_refused(MESH_ERR_CONFIG, "http://plain");
    /* TLS_CA_PATH unset: MESH_CERTS_DIR/ca.pem; and <dir>/svc-b/ is the fetches' identity */
    setenv("MESH_ISSUER_URL", fake_url(fake), 1);
    unsetenv("TLS_CA_PATH");
    setenv("MESH_CERTS_DIR", env.certs, 1);
    assert_int_equal(mesh_verifier_from_env("svc-b", &v), MESH_OK);
    assert_int_equal(verify_tok(v, bound, env.a_der, env.a_len, NULL), MESH_OK);
    mesh_verifier_free(v);
    assert_int_equal(mesh_verifier_from_env("svc-b", NULL), MESH_ERR_INVALID_ARG);
    env_clear();
    free(bound);
    free(unbound);
}

static void test_options_rejected(void **state)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;
    (void)state;

    assert_int_equal(mesh_verifier_opts_new(NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_issuer(NULL, "x"), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_ERR_INVALID_ARG); /* no issuer, audience */
    assert_int_equal(mesh_verifier_new(NULL, &v), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, "http://plain"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "a"), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "http://plain"));
    /* Each setter validates and names its option; the old value stays in force. */
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ""), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "issuer"));
    assert_int_equal(mesh_verifier_opts_set_audience(o, NULL), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "audience"));
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, NULL), MESH_ERR_CONFIG);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_URL, "http://k"),
                     MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "jwks"));
    assert_int_equal(mesh_verifier_opts_set_jwks(o, (mesh_jwks_source_t)7, "x"),
                     MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_client_cert(o, "c.pem", NULL), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "client_cert"));
    assert_int_equal(mesh_verifier_opts_set_issuer_id(o, "issuer"), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "issuer_id"));
    assert_int_equal(mesh_verifier_opts_set_skew(o, -1), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "skew"));
    assert_int_equal(mesh_verifier_opts_set_max_lifetime(o, 0), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "max_lifetime"));
    assert_int_equal(mesh_verifier_opts_set_revocation_poll_ms(o, 0), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_jwks_cooldown_ms(o, -1), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_jwks_max_age(o, 10, 5, 0), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "jwks_max_age"));
    assert_int_equal(mesh_verifier_opts_set_cache_entries(o, (size_t)1 << 30),
                     MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_trust_bundle(o, NULL, "crl.pem"), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "trust_bundle"));
    /* the values that stayed still make a whole verifier: file keys, feed off */
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, "/nonexistent"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_clock(o, NULL, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_JWKS_FETCHES), 1);
    assert_int_equal(mesh_verifier_stat(v, (mesh_verifier_stat_t)99), 0);
    assert_int_equal(mesh_verifier_stat(NULL, MESH_VSTAT_VERIFIED), 0);
    mesh_verifier_free(v);
    mesh_verifier_opts_free(o);
    mesh_verifier_opts_free(NULL);
    mesh_verifier_free(NULL);
    mesh_identity_free(NULL);
    assert_string_equal(mesh_identity_subject(NULL), "");
    assert_int_equal(mesh_identity_expiry(NULL), 0);
    assert_false(mesh_identity_has_scope(NULL, "read"));
    assert_false(mesh_identity_bound(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binding_policy_matrix),
        cmocka_unit_test(test_binding_unbound_for_exact),
        cmocka_unit_test(test_verifier_from_env),
        cmocka_unit_test(test_options_rejected),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
