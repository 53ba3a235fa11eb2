/* SPDX-License-Identifier: Apache-2.0 */
/* The verifier against every hostile class of DESIGN.md, key rotation, an unreachable
 * issuer, the revocation feed, stolen tokens and concurrent use. */
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

/* A verifier on the fake issuer (metadata discovery), feed off unless asked. */
static mesh_verifier_t *new_verifier(bool feed, int64_t cooldown_ms)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, feed), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_poll_ms(o, 100), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks_cooldown_ms(o, cooldown_ms), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    return v;
}

static mesh_err_t verify_tok(mesh_verifier_t *v, const char *tok, const uint8_t *der, size_t len,
                             const char *scope)
{
    return mesh_verify(v, tu_bearer(tok), der, len, scope, NULL);
}

static void test_valid_bound_token_and_identity(void **state)
{
    mesh_verifier_t *v = new_verifier(false, 0);
    char *tok = tu_token(key1, fake_url(fake), "svc-b", "read write", env.a_x5t, 300);
    mesh_identity_t *id = NULL;
    tu_vstats_t st;
    (void)state;

    assert_int_equal(mesh_verify(v, tu_bearer(tok), env.a_der, env.a_len, "read", &id), MESH_OK);
    assert_string_equal(mesh_identity_subject(id), "spiffe://mesh.local/svc-a");
    assert_string_equal(mesh_identity_client_id(id), "svc-a");
    assert_string_equal(mesh_identity_audience(id), "svc-b");
    assert_string_equal(mesh_identity_scopes(id), "read write");
    assert_int_equal(strlen(mesh_identity_jti(id)), MESH_JTI_LEN);
    assert_true(mesh_identity_expiry(id) > time(NULL));
    assert_true(mesh_identity_has_scope(id, "write"));
    assert_false(mesh_identity_has_scope(id, "wri"));
    mesh_identity_free(id);
    /* The second presentation is a cache hit: a hash, not an RSA verify. */
    assert_int_equal(verify_tok(v, tok, env.a_der, env.a_len, "write"), MESH_OK);
    st = tu_vstats(v);
    assert_int_equal(st.cache_hits, 1);
    assert_int_equal(st.verified, 2);
    /* Scope still checked on a hit. */
    assert_int_equal(verify_tok(v, tok, env.a_der, env.a_len, "admin"), MESH_ERR_SCOPE);
    free(tok);
    mesh_verifier_free(v);
}

/* regression: a token copied off the wire is useless with another service's certificate */
static void test_stolen_token_rejected_with_other_cert(void **state)
{
    mesh_verifier_t *v = new_verifier(false, 0);
    char *tok = tu_token(key1, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    (void)state;

    assert_int_equal(verify_tok(v, tok, env.b_der, env.b_len, NULL), MESH_ERR_CNF_MISMATCH);
    assert_int_equal(verify_tok(v, tok, NULL, 0, NULL), MESH_ERR_CNF_MISMATCH);
    assert_int_equal(verify_tok(v, tok, env.a_der, env.a_len, NULL), MESH_OK);
    /* Cached now; still bound. */
    assert_int_equal(verify_tok(v, tok, env.b_der, env.b_len, NULL), MESH_ERR_CNF_MISMATCH);
    assert_int_equal(verify_tok(v, tok, env.a_der, env.a_len, NULL), MESH_OK);
    free(tok);
    mesh_verifier_free(v);
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
        [B_MATCH] = {bound, env.a_der, env.a_len}, [B_OTHER] = {bound, env.b_der, env.b_len},
        [B_NONE] = {bound, NULL, 0},               [U_CERT] = {unbound, env.a_der, env.a_len},
        [U_NONE] = {unbound, NULL, 0},             [N_CERT] = {named, env.a_der, env.a_len},
        [N_NONE] = {named, NULL, 0},
    };
    (void)state;

    for (size_t p = 0; p < 3; p++) {
        mesh_verifier_t *fresh = binding_verifier(POLICIES[p], 0);
        for (int c = 0; c < B_CASES; c++) {
            mesh_identity_t *id = NULL;
            mesh_err_t rc = mesh_verify(fresh, tu_bearer(cases[c].tok), cases[c].der,
                                        cases[c].len, NULL, &id);
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
            mesh_err_t rc = mesh_verify(v, tu_bearer(cases[c].tok), cases[c].der, cases[c].len,
                                        NULL, &id);
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

typedef struct {
    const char *name;
    const char *header; /* NULL: the key's normal header */
    const char *claims; /* printf format: %s iss, %lld now (used several times) */
    mesh_err_t want;
} hostile_t;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* The table's formats are test data. */
static char *build(const hostile_t *h, const mesh_key_t *key, int64_t now)
{
    char claims[4096], hdr[512];
    const char *iss = fake_url(fake);
    long long n = (long long)now;

    snprintf(claims, sizeof(claims), h->claims, iss, n, n, n + 300);
    if (h->header == NULL) {
        return tu_sign_claims(key, claims);
    }
    snprintf(hdr, sizeof(hdr), h->header, mesh_key_kid(key));
    /* Raw: header and payload bytes as given, then a real signature by key. */
    return tu_raw_token(key, hdr, claims);
}
#pragma GCC diagnostic pop

#define OKC                                                                                        \
    "{\"iss\":\"%s\",\"sub\":\"spiffe://mesh.local/svc-a\",\"aud\":\"svc-b\",\"iat\":%lld,"        \
    "\"nbf\":%lld,\"exp\":%lld,\"jti\":\"j1\",\"scope\":\"read\",\"cnf\":{\"x5t#S256\":\"X5T\"}}"

static void test_every_hostile_class(void **state)
{
    static const hostile_t cases[] = {
        {"alg none", "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", OKC,
         MESH_ERR_ALG_NOT_ALLOWED},
        {"HMAC with the public key", "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", OKC,
         MESH_ERR_ALG_NOT_ALLOWED},
        {"alg not the key's", "{\"alg\":\"PS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", OKC,
         MESH_ERR_ALG_NOT_ALLOWED},
        {"kid missing", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"%.0s}", OKC, MESH_ERR_KID_MISSING},
        {"kid unknown", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"nope%.0s\"}", OKC,
         MESH_ERR_KID_UNKNOWN},
        {"crit", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"crit\":[\"x\"],\"x\":1}",
         OKC, MESH_ERR_HEADER_FORBIDDEN},
        {"jku", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"jku\":\"https://evil/\"}",
         OKC, MESH_ERR_HEADER_FORBIDDEN},
        {"x5u", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"x5u\":\"https://evil/\"}",
         OKC, MESH_ERR_HEADER_FORBIDDEN},
        {"jwk", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"jwk\":{}}", OKC,
         MESH_ERR_HEADER_FORBIDDEN},
        {"x5c", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"x5c\":[]}", OKC,
         MESH_ERR_HEADER_FORBIDDEN},
        {"duplicate header member",
         "{\"alg\":\"RS256\",\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", OKC,
         MESH_ERR_JSON_DUPLICATE},
        {"duplicate claim", NULL,
         "{\"iss\":\"%s\",\"aud\":\"svc-b\",\"aud\":\"svc-b\",\"sub\":\"s\",\"iat\":%lld,\"nbf"
         "\":%lld,\"exp\":%lld,\"jti\":\"j\"}",
         MESH_ERR_JSON_DUPLICATE},
        {"deep JSON", NULL,
         "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-b\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%l"
         "ld,\"x\":[[[[[[[[[[1]]]]]]]]]]}",
         MESH_ERR_JSON_DEPTH},
        {"exp not an integer", NULL,
         "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-b\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%l"
         "ld.5,\"jti\":\"j\"}",
         MESH_ERR_CLAIM_TYPE},
        {"wrong iss", NULL,
         "{\"iss\":\"https://evil%.0s\",\"sub\":\"s\",\"aud\":\"svc-b\",\"iat\":%lld,\"nbf\":%"
         "lld,\"exp\":%lld,\"jti\":\"j\"}",
         MESH_ERR_ISSUER},
        {"wrong aud", NULL,
         "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-c\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%l"
         "ld,\"jti\":\"j\"}",
         MESH_ERR_AUDIENCE},
        {"expired", NULL,
         "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-b\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%l"
         "ld,\"jti\":\"j\",\"x\":\"EXPIRED\"}",
         MESH_ERR_EXPIRED},
        {"nbf in the future", NULL,
         "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-b\",\"iat\":%lld,\"nbf\":%lld000,\"exp\""
         ":%lld,\"jti\":\"j\"}",
         MESH_ERR_NOT_YET_VALID},
        {"lifetime above max", NULL,
         "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-b\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%l"
         "ld00,\"jti\":\"j\"}",
         MESH_ERR_LIFETIME},
        {"no cnf where binding is required", NULL,
         "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-b\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%l"
         "ld,\"jti\":\"j\"}",
         MESH_ERR_CNF_MISSING},
    };
    mesh_verifier_t *v = new_verifier(false, 3600000);
    int64_t now = time(NULL);
    char www[256];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hostile_t h = cases[i];
        char claims[2048];
        /* Put svc-a's real thumbprint in cnf so only the named rule is broken. */
        const char *x = strstr(h.claims, "X5T");
        if (x != NULL) {
            snprintf(claims, sizeof(claims), "%.*s%s%s", (int)(x - h.claims), h.claims, env.a_x5t,
                     x + 3);
            h.claims = claims;
        }
        int64_t t = strstr(h.claims, "EXPIRED") != NULL ? now - 1000 : now;
        char *tok = build(&h, key1, t);
        mesh_err_t rc = verify_tok(v, tok, env.a_der, env.a_len, NULL);
        if (rc != h.want) {
            fail_msg("%s: got %s (%s), want %s", h.name, mesh_err_name(rc), mesh_err_detail(),
                     mesh_err_name(h.want));
        }
        assert_int_equal(mesh_verify_http_status(rc, NULL, www, sizeof(www)), 401);
        assert_non_null(strstr(www, "error=\"invalid_token\""));
        free(tok);
    }
    mesh_verifier_free(v);
}

static void test_structure_size_and_header_shape(void **state)
{
    mesh_verifier_t *v = new_verifier(false, 3600000);
    char *tok = tu_token(key1, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    char *big = malloc(MESH_MAX_TOKEN_BYTES + 64);
    char www[256], buf[MESH_MAX_TOKEN_BYTES * 2];
    mesh_err_t rc;
    (void)state;

    /* Two parts, four parts, bad base64url. */
    char *dot = strrchr(tok, '.');
    snprintf(buf, sizeof(buf), "Bearer %.*s", (int)(dot - tok), tok);
    assert_int_equal(mesh_verify(v, buf, env.a_der, env.a_len, NULL, NULL),
                     MESH_ERR_TOKEN_MALFORMED);
    snprintf(buf, sizeof(buf), "Bearer %s.AAAA", tok);
    rc = mesh_verify(v, buf, env.a_der, env.a_len, NULL, NULL);
    assert_true(rc == MESH_ERR_TOKEN_MALFORMED);
    snprintf(buf, sizeof(buf), "Bearer %s", tok);
    buf[10] = '+';
    rc = mesh_verify(v, buf, env.a_der, env.a_len, NULL, NULL);
    assert_true(rc == MESH_ERR_B64URL || rc == MESH_ERR_TOKEN_MALFORMED);
    /* Over 8 KiB: rejected unread. */
    memset(big, 'A', MESH_MAX_TOKEN_BYTES + 10);
    big[MESH_MAX_TOKEN_BYTES + 10] = '\0';
    assert_int_equal(verify_tok(v, big, env.a_der, env.a_len, NULL), MESH_ERR_TOKEN_TOO_LARGE);
    /* No credential, not Bearer, two credentials. */
    assert_int_equal(mesh_verify(v, NULL, NULL, 0, NULL, NULL), MESH_ERR_NO_TOKEN);
    assert_int_equal(mesh_verify_http_status(MESH_ERR_NO_TOKEN, NULL, www, sizeof(www)), 401);
    assert_null(strstr(www, "error="));
    assert_int_equal(mesh_verify(v, "Basic dXNlcjpwdw==", NULL, 0, NULL, NULL), MESH_ERR_NO_TOKEN);
    snprintf(buf, sizeof(buf), "Bearer %s, Bearer %s", tok, tok);
    rc = mesh_verify(v, buf, env.a_der, env.a_len, NULL, NULL);
    assert_int_equal(rc, MESH_ERR_TWO_CREDENTIALS);
    assert_int_equal(mesh_verify_http_status(rc, NULL, www, sizeof(www)), 400);
    assert_non_null(strstr(www, "invalid_request"));
    /* Scheme is case-insensitive. */
    snprintf(buf, sizeof(buf), "bearer %s", tok);
    assert_int_equal(mesh_verify(v, buf, env.a_der, env.a_len, NULL, NULL), MESH_OK);
    /* Missing scope: 403 insufficient_scope naming it. */
    rc = verify_tok(v, tok, env.a_der, env.a_len, "admin");
    assert_int_equal(rc, MESH_ERR_SCOPE);
    assert_int_equal(mesh_verify_http_status(rc, "admin", www, sizeof(www)), 403);
    assert_non_null(strstr(www, "insufficient_scope"));
    assert_non_null(strstr(www, "scope=\"admin\""));
    assert_int_equal(mesh_verify_http_status(MESH_ERR_KEYS_UNAVAILABLE, NULL, www, sizeof(www)),
                     503);
    free(big);
    free(tok);
    mesh_verifier_free(v);
}

static void test_rotation_new_kid_and_purge(void **state)
{
    mesh_verifier_t *v = new_verifier(false, 0);
    mesh_key_t *both[] = {key1, key2};
    char *old = tu_token(key1, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    char *nw = tu_token(key2, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    char *json;
    (void)state;

    assert_int_equal(verify_tok(v, old, env.a_der, env.a_len, NULL), MESH_OK);
    /* The issuer publishes the next key: a token with the new kid triggers one refetch. */
    json = tu_jwks_json(both, 2);
    fake_set_jwks(fake, json, "max-age=300");
    mesh_free(json);
    assert_int_equal(verify_tok(v, nw, env.a_der, env.a_len, NULL), MESH_OK);
    /* The old key leaves the JWKS: cached tokens it signed are purged with it. */
    json = tu_jwks_json(&key2, 1);
    fake_set_jwks(fake, json, "max-age=300");
    mesh_free(json);
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_OK);
    assert_int_equal(verify_tok(v, old, env.a_der, env.a_len, NULL), MESH_ERR_KID_UNKNOWN);
    assert_int_equal(verify_tok(v, nw, env.a_der, env.a_len, NULL), MESH_OK);
    /* Restore for the other tests. */
    json = tu_jwks_json(&key1, 1);
    fake_set_jwks(fake, json, "max-age=300");
    mesh_free(json);
    free(old);
    free(nw);
    mesh_verifier_free(v);
}

/* regression: random kids must not turn the verifier into a JWKS-fetching amplifier */
static void test_unknown_kid_storm_bounded(void **state)
{
    mesh_verifier_t *v = new_verifier(false, 3600000);
    int64_t now = time(NULL);
    tu_vstats_t before, after;
    (void)state;

    before = tu_vstats(v);
    for (int i = 0; i < 1000; i++) {
        char hdr[128], claims[512];
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k%d\"}", i);
        snprintf(claims, sizeof(claims),
                 "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-b\","
                 "\"iat\":%lld,\"exp\":%lld,\"jti\":\"j%d\"}",
                 fake_url(fake), (long long)now, (long long)now + 60, i);
        char *tok = tu_raw_token(key1, hdr, claims);
        assert_int_equal(verify_tok(v, tok, env.a_der, env.a_len, NULL), MESH_ERR_KID_UNKNOWN);
        free(tok);
    }
    after = tu_vstats(v);
    assert_true(after.jwks_fetches - before.jwks_fetches <= 1);
    mesh_verifier_free(v);
}

static void test_issuer_down_keeps_keys_then_503(void **state)
{
    mesh_key_t *k = tu_rsa_key();
    fake_t *f = fake_start(env.certs, k, 0);
    int port = fake_port(f);
    char iss[64], www[64];
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL, *v2 = NULL;
    char *tok;
    mesh_err_t rc;
    (void)state;

    snprintf(iss, sizeof(iss), "%s", fake_url(f));
    tok = tu_token(k, iss, "svc-b", "read", env.a_x5t, 300);
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, iss), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks_cooldown_ms(o, 0), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_cache_entries(o, 0),
                     MESH_OK); /* every call verifies the signature with the cached keys */
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    assert_int_equal(verify_tok(v, tok, env.a_der, env.a_len, NULL), MESH_OK);
    fake_stop(f);
    /* Unreachable issuer: the refresh fails, the known keys keep working. */
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_ERR_NETWORK);
    assert_int_equal(verify_tok(v, tok, env.a_der, env.a_len, NULL), MESH_OK);
    /* A verifier that never got keys says so distinctly: 503, not 401. */
    assert_int_equal(mesh_verifier_new(o, &v2), MESH_OK);
    mesh_verifier_opts_free(o);
    rc = verify_tok(v2, tok, env.a_der, env.a_len, NULL);
    assert_int_equal(rc, MESH_ERR_KEYS_UNAVAILABLE);
    assert_non_null(strstr(mesh_err_detail(), "127.0.0.1")); /* why: the fetch's own error */
    assert_int_equal(mesh_verify_http_status(rc, NULL, www, sizeof(www)), 503);
    /* The issuer comes back on the same port: keys arrive on the next attempt. */
    f = fake_start(env.certs, k, port);
    assert_int_equal(verify_tok(v2, tok, env.a_der, env.a_len, NULL), MESH_OK);
    fake_stop(f);
    mesh_verifier_free(v);
    mesh_verifier_free(v2);
    mesh_key_free(k);
    free(tok);
}

static void test_revocation_within_a_poll(void **state)
{
    mesh_verifier_t *v = new_verifier(true, 0);
    mesh_identity_t *id = NULL;
    char *tok = tu_token(key1, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    mesh_err_t rc = MESH_OK;
    (void)state;

    assert_int_equal(mesh_verify(v, tu_bearer(tok), env.a_der, env.a_len, NULL, &id), MESH_OK);
    fake_revoke(fake, mesh_identity_jti(id), mesh_identity_expiry(id));
    /* Wait for the background poll (100 ms interval); generous bound, no timing assertion. */
    for (int i = 0; i < 300 && rc == MESH_OK; i++) {
        tu_sleep_ms(50);
        rc = verify_tok(v, tok, env.a_der, env.a_len, NULL);
    }
    assert_int_equal(rc, MESH_ERR_REVOKED);
    /* An explicit poll works too; a verifier with the feed off says so. */
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    mesh_identity_free(id);
    free(tok);
    mesh_verifier_free(v);
    v = new_verifier(false, 0);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_ERR_CONFIG);
    mesh_verifier_free(v);
}

static void test_jwks_file_source_reload(void **state)
{
    char path[600];
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;
    char *t1 = tu_token(key1, "https://file-issuer", "svc-b", "read", env.a_x5t, 300);
    char *t2 = tu_token(key2, "https://file-issuer", "svc-b", "read", env.a_x5t, 300);
    (void)state;

    snprintf(path, sizeof(path), "%s/jwks.json", env.dir);
    tu_write_jwks(path, &key1, 1);
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, "https://file-issuer"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, path), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks_cooldown_ms(o, 0), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    assert_int_equal(verify_tok(v, t1, env.a_der, env.a_len, NULL), MESH_OK);
    assert_int_equal(verify_tok(v, t2, env.a_der, env.a_len, NULL), MESH_ERR_KID_UNKNOWN);
    tu_write_jwks(path, &key2, 1);
    assert_int_equal(verify_tok(v, t2, env.a_der, env.a_len, NULL), MESH_OK);
    mesh_verifier_free(v);
    /* A URL source. */
    char url[128];
    snprintf(url, sizeof(url), "%s/.well-known/jwks.json", fake_url(fake));
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_URL, url), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    free(t1);
    t1 = tu_token(key1, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    assert_int_equal(verify_tok(v, t1, env.a_der, env.a_len, NULL), MESH_OK);
    mesh_verifier_free(v);
    free(t1);
    free(t2);
}

/* Cache-Control max-age decides when keys are fetched again (clamped to the configured min). */
static void test_jwks_max_age_honoured(void **state)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;
    tu_vstats_t st = {0};
    char *json = tu_jwks_json(&key1, 1);
    (void)state;

    fake_set_jwks(fake, json, "public, max-age=1");
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, fake_url(fake)), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks_max_age(o, 1, 3600, 86400), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    for (int i = 0; i < 200 && st.jwks_fetches < 3; i++) {
        tu_sleep_ms(50);
        st = tu_vstats(v);
    }
    assert_true(st.jwks_fetches >= 3); /* refetched in the background as the age ran out */
    mesh_verifier_free(v);
    /* A long max-age: no background fetch while the test runs. */
    fake_set_jwks(fake, json, "max-age=86400");
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    tu_sleep_ms(1500);
    st = tu_vstats(v);
    assert_int_equal(st.jwks_fetches, 1);
    mesh_verifier_free(v);
    mesh_verifier_opts_free(o);
    fake_set_jwks(fake, json, "max-age=300");
    mesh_free(json);
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

/* Concurrency: many threads verifying good, stolen and expired tokens while keys refresh. */
typedef struct {
    mesh_verifier_t *v;
    char *good, *expired;
    int errors;
} stress_t;

static void *stress_thread(void *arg)
{
    stress_t *s = arg;
    for (int i = 0; i < 3000; i++) {
        mesh_identity_t *id = NULL;
        if (mesh_verify(s->v, tu_bearer(s->good), env.a_der, env.a_len, "read", &id) != MESH_OK ||
            strcmp(mesh_identity_subject(id), "spiffe://mesh.local/svc-a") != 0) {
            s->errors++;
        }
        mesh_identity_free(id);
        if (mesh_verify(s->v, tu_bearer(s->good), env.b_der, env.b_len, "read", NULL) !=
            MESH_ERR_CNF_MISMATCH) {
            s->errors++;
        }
        if (i % 100 == 0 && mesh_verify(s->v, tu_bearer(s->expired), env.a_der, env.a_len, NULL,
                                        NULL) != MESH_ERR_EXPIRED) {
            s->errors++;
        }
    }
    return NULL;
}

static void *refresher(void *arg)
{
    stress_t *s = arg;
    for (int i = 0; i < 20; i++) {
        if (mesh_verifier_refresh_keys(s->v) != MESH_OK) {
            s->errors++;
        }
        tu_sleep_ms(5);
    }
    return NULL;
}

static void test_concurrent_verification(void **state)
{
    enum { N = 6 };
    pthread_t th[N + 1];
    stress_t s[N + 1];
    int64_t now = time(NULL);
    char claims[512];
    (void)state;

    memset(s, 0, sizeof(s));
    mesh_verifier_t *v = new_verifier(true, 0);
    char *good = tu_token(key1, fake_url(fake), "svc-b", "read", env.a_x5t, 300);
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"svc-b\","
             "\"iat\":%lld,\"exp\":%lld,\"jti\":\"old\",\"cnf\":{\"x5t#S256\":\"%s\"}}",
             fake_url(fake), (long long)now - 400, (long long)now - 100, env.a_x5t);
    char *expired = tu_sign_claims(key1, claims);
    for (int i = 0; i <= N; i++) {
        s[i].v = v;
        s[i].good = good;
        s[i].expired = expired;
        pthread_create(&th[i], NULL, i == N ? refresher : stress_thread, &s[i]);
    }
    for (int i = 0; i <= N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(s[i].errors, 0);
    }
    free(good);
    free(expired);
    mesh_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_bound_token_and_identity),
        cmocka_unit_test(test_stolen_token_rejected_with_other_cert),
        cmocka_unit_test(test_binding_policy_matrix),
        cmocka_unit_test(test_binding_unbound_for_exact),
        cmocka_unit_test(test_verifier_from_env),
        cmocka_unit_test(test_every_hostile_class),
        cmocka_unit_test(test_structure_size_and_header_shape),
        cmocka_unit_test(test_rotation_new_kid_and_purge),
        cmocka_unit_test(test_unknown_kid_storm_bounded),
        cmocka_unit_test(test_issuer_down_keeps_keys_then_503),
        cmocka_unit_test(test_revocation_within_a_poll),
        cmocka_unit_test(test_jwks_file_source_reload),
        cmocka_unit_test(test_jwks_max_age_honoured),
        cmocka_unit_test(test_options_rejected),
        cmocka_unit_test(test_concurrent_verification),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
