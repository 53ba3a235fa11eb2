/* SPDX-License-Identifier: Apache-2.0 */
/* The verifier against every hostile class of DESIGN.md, key rotation, an unreachable
 * issuer, the revocation feed, stolen tokens and concurrent use. Its options and binding
 * policies: test-verifier-policy.c. */
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
        cmocka_unit_test(test_every_hostile_class),
        cmocka_unit_test(test_structure_size_and_header_shape),
        cmocka_unit_test(test_rotation_new_kid_and_purge),
        cmocka_unit_test(test_unknown_kid_storm_bounded),
        cmocka_unit_test(test_issuer_down_keeps_keys_then_503),
        cmocka_unit_test(test_revocation_within_a_poll),
        cmocka_unit_test(test_jwks_file_source_reload),
        cmocka_unit_test(test_jwks_max_age_honoured),
        cmocka_unit_test(test_concurrent_verification),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
