/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_jwt_* and mesh_identity_*: building tokens, verifying them, reading the claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jose-test-util.h"

#define ISS "https://issuer.mesh.local"

static const uint8_t cert[] = "caller certificate DER stand-in";
static mesh_key_t *rs, *es, *ed;
static mesh_jwks_t *set;
static char x5t[MESH_X5T_LEN + 1];

static int setup(void **state)
{
    mesh_key_t *keys[3];

    (void)state;
    if (mesh_key_generate(MESH_KEY_RSA2048, &rs) != MESH_OK ||
        mesh_key_generate(MESH_KEY_P256, &es) != MESH_OK ||
        mesh_key_generate(MESH_KEY_ED25519, &ed) != MESH_OK ||
        mesh_x5t_s256(cert, sizeof(cert), x5t) != MESH_OK) {
        return -1;
    }
    keys[0] = rs;
    keys[1] = es;
    keys[2] = ed;
    return mesh_jwks_from_keys(keys, 3, &set) == MESH_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mesh_jwks_free(set);
    mesh_key_free(rs);
    mesh_key_free(es);
    mesh_key_free(ed);
    return 0;
}

/* New claims (mesh_jwt_claims_in_free()): orders -> payments, bound to x5t, ttl 300. */
static mesh_jwt_claims_in_t *claims_in(int64_t iat)
{
    mesh_jwt_claims_in_t *in = NULL;

    assert_int_equal(mesh_jwt_claims_in_new(&in), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_issuer(in, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_subject(in, "spiffe://mesh.local/orders"), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_audience(in, "payments"), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_scopes(in, "payments:read payments:write"), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_client_id(in, "orders"), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_x5t(in, x5t), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_issued_at(in, iat), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_ttl(in, 300), MESH_OK);
    return in;
}

/* Frees `old` and returns new options: ISS, audience payments, `now`, the test certificate. */
static mesh_jwt_verify_opts_t *opts_for(mesh_jwt_verify_opts_t *old, int64_t now)
{
    mesh_jwt_verify_opts_t *o = NULL;

    mesh_jwt_verify_opts_free(old);
    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, "payments"), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, now), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_cert(o, cert, sizeof(cert)), MESH_OK);
    return o;
}

/* The defaults, and every setter refusing a bad value with a detail naming the option. */
static void test_opts_defaults_and_setters(void **state)
{
    mesh_jwt_verify_opts_t *o = NULL;

    (void)state;
    assert_int_equal(mesh_jwt_verify_opts_new(NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    /* issuer and audience have no default */
    assert_int_equal(mesh_jwt_validate_claims((const uint8_t *)"{}", 2, NULL, o, NULL),
                     MESH_ERR_INVALID_ARG);
    const struct {
        mesh_err_t rc;
        const char *name;
    } bad[] = {
        {mesh_jwt_verify_opts_set_issuer(o, NULL), "issuer"},
        {mesh_jwt_verify_opts_set_issuer(o, ""), "issuer"},
        {mesh_jwt_verify_opts_set_audience(o, NULL), "audience"},
        {mesh_jwt_verify_opts_set_typ(o, ""), "typ"},
        {mesh_jwt_verify_opts_set_skew(o, -1), "skew"},
        {mesh_jwt_verify_opts_set_skew(o, 86401), "skew"},
        {mesh_jwt_verify_opts_set_max_lifetime(o, 0), "max_lifetime"},
        {mesh_jwt_verify_opts_set_now(o, -5), "now"},
        {mesh_jwt_verify_opts_set_cert(o, NULL, 5), "cert"},
        {mesh_jwt_verify_opts_set_cert(o, cert, 0), "cert"},
        {mesh_jwt_verify_opts_set_required_scope(o, ""), "required_scope"},
        {mesh_jwt_verify_opts_set_issuer(NULL, ISS), "issuer"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bad[i].rc, MESH_ERR_INVALID_ARG);
    }
    assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "maybe"), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "binding"));
    assert_int_equal(mesh_jwt_verify_opts_set_skew(o, 86401), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "skew"));
    assert_int_equal(mesh_jwt_verify_opts_set_typ(o, NULL), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_required_scope(o, NULL), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_revoked(o, NULL, NULL), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_clock(o, NULL, NULL), MESH_OK);
    mesh_jwt_verify_opts_free(o);
    mesh_jwt_verify_opts_free(NULL); /* no crash */
}

static void sign_and_verify(const mesh_key_t *key)
{
    mesh_jwt_claims_in_t *in = claims_in(1700000000);
    mesh_jwt_verify_opts_t *o = NULL;
    mesh_identity_t *c = NULL;
    char jti[MESH_JTI_LEN + 1];
    char *tok = NULL;

    assert_int_equal(mesh_jwt_sign(key, in, &tok, jti), MESH_OK);
    assert_int_equal(strlen(jti), MESH_JTI_LEN);
    o = opts_for(o, 1700000010);
    assert_int_equal(mesh_jwt_verify_opts_set_required_scope(o, "payments:write"), MESH_OK);
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, &c), MESH_OK);
    assert_string_equal(mesh_identity_issuer(c), ISS);
    assert_string_equal(mesh_identity_subject(c), "spiffe://mesh.local/orders");
    assert_string_equal(mesh_identity_audience(c), "payments");
    assert_string_equal(mesh_identity_jti(c), jti);
    assert_string_equal(mesh_identity_scopes(c), "payments:read payments:write");
    assert_string_equal(mesh_identity_client_id(c), "orders");
    assert_string_equal(mesh_identity_x5t(c), x5t);
    assert_int_equal(mesh_identity_issued_at(c), 1700000000);
    assert_int_equal(mesh_identity_not_before(c), 1700000000);
    assert_int_equal(mesh_identity_expiry(c), 1700000300);
    assert_true(mesh_identity_bound(c));
    /* one reference more, one less: still readable (reference counted, immutable) */
    assert_ptr_equal(mesh_identity_ref(c), c);
    mesh_identity_free(c);
    assert_string_equal(mesh_identity_issuer(c), ISS);
    mesh_identity_free(c);
    mesh_free(tok);
    mesh_jwt_verify_opts_free(o);
    mesh_jwt_claims_in_free(in);
}

static void test_sign_verify_rs256(void **state)
{
    (void)state;
    sign_and_verify(rs);
}

static void test_sign_verify_es256(void **state)
{
    (void)state;
    sign_and_verify(es);
}

static void test_sign_verify_eddsa(void **state)
{
    (void)state;
    sign_and_verify(ed);
}

static void test_token_layout(void **state)
{
    mesh_jwt_claims_in_t *in = claims_in(1700000000);
    char *tok = NULL, *h = NULL, *p = NULL;
    char jti[MESH_JTI_LEN + 1];
    char want[1024];

    (void)state;
    assert_int_equal(mesh_jwt_sign(rs, in, &tok, jti), MESH_OK);
    assert_int_equal(mesh_jws_decode_unverified(tok, strlen(tok), &h, &p), MESH_OK);
    snprintf(want, sizeof(want), "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             mesh_key_kid(rs));
    assert_string_equal(h, want);
    snprintf(want, sizeof(want),
             "{\"iss\":\"" ISS "\",\"sub\":\"spiffe://mesh.local/orders\",\"aud\":\"payments\","
             "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000300,\"jti\":\"%s\","
             "\"scope\":\"payments:read payments:write\",\"client_id\":\"orders\","
             "\"cnf\":{\"x5t#S256\":\"%s\"}}",
             jti, x5t);
    assert_string_equal(p, want);
    mesh_free(h);
    mesh_free(p);
    mesh_free(tok);
    mesh_jwt_claims_in_free(in);
}

static void test_jti_fresh_and_base64url(void **state)
{
    mesh_jwt_claims_in_t *in = claims_in(1700000000);
    char a[MESH_JTI_LEN + 1], b[MESH_JTI_LEN + 1];
    char *t1 = NULL, *t2 = NULL;
    uint8_t raw[32];
    size_t n = 0;

    (void)state;
    assert_int_equal(mesh_jwt_sign(es, in, &t1, a), MESH_OK);
    assert_int_equal(mesh_jwt_sign(es, in, &t2, b), MESH_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(mesh_b64url_decode(a, strlen(a), raw, sizeof(raw), &n), MESH_OK);
    assert_int_equal(n, 16);
    mesh_free(t1);
    mesh_free(t2);
    /* jti output is optional */
    assert_int_equal(mesh_jwt_sign(es, in, &t1, NULL), MESH_OK);
    mesh_free(t1);
    mesh_jwt_claims_in_free(in);
}

static void test_unbound_token(void **state)
{
    mesh_jwt_claims_in_t *in = claims_in(1700000000);
    mesh_jwt_verify_opts_t *o = NULL;
    mesh_identity_t *c = NULL;
    char *tok = NULL;

    (void)state;
    assert_int_equal(mesh_jwt_claims_in_set_x5t(in, NULL), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_scopes(in, NULL), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_client_id(in, ""), MESH_OK);
    assert_int_equal(mesh_jwt_sign(rs, in, &tok, NULL), MESH_OK);
    o = opts_for(o, 1700000000);
    assert_int_equal(mesh_jwt_verify_opts_set_cert(o, NULL, 0), MESH_OK);
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, NULL), MESH_ERR_CNF_MISSING);
    assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "when-presented"), MESH_OK);
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, &c), MESH_OK);
    assert_string_equal(mesh_identity_x5t(c), "");
    assert_string_equal(mesh_identity_scopes(c), "");
    assert_string_equal(mesh_identity_client_id(c), "");
    assert_false(mesh_identity_has_scope(c, "payments:read"));
    assert_false(mesh_identity_bound(c));
    mesh_identity_free(c);
    mesh_free(tok);
    mesh_jwt_verify_opts_free(o);
    mesh_jwt_claims_in_free(in);
}

static void test_sign_failures(void **state)
{
    mesh_jwt_claims_in_t *in = claims_in(1700000000);
    char *tok = (char *)"untouched";
    char *pem = NULL;
    mesh_key_t *pub = NULL;

    (void)state;
    assert_int_equal(mesh_jwt_sign(NULL, in, &tok, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_sign(rs, NULL, &tok, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_sign(rs, in, NULL, NULL), MESH_ERR_INVALID_ARG);
    /* the setters refuse bad values, name the claim, and keep the old value */
    assert_int_equal(mesh_jwt_claims_in_set_ttl(in, 0), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "ttl"));
    assert_int_equal(mesh_jwt_claims_in_set_ttl(in, MESH_TTL_MAX + 1), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_claims_in_set_issued_at(in, -1), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_claims_in_set_issuer(in, ""), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "iss"));
    assert_int_equal(mesh_jwt_claims_in_set_audience(in, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_claims_in_set_subject(NULL, "s"), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_claims_in_set_x5t(in, "short"), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "x5t"));
    assert_int_equal(mesh_jwt_sign(rs, in, &tok, NULL), MESH_OK); /* all still in place */
    mesh_free(tok);
    tok = (char *)"untouched";
    assert_int_equal(mesh_jwt_claims_in_set_subject(in, "spiffe://mesh.local/\xff"), MESH_OK);
    assert_int_equal(mesh_jwt_sign(rs, in, &tok, NULL), MESH_ERR_INVALID_ARG); /* not UTF-8 */
    mesh_jwt_claims_in_free(in);
    /* iss, sub and aud are required */
    assert_int_equal(mesh_jwt_claims_in_new(&in), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_issuer(in, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_subject(in, "s"), MESH_OK);
    assert_int_equal(mesh_jwt_sign(rs, in, &tok, NULL), MESH_ERR_INVALID_ARG);
    mesh_jwt_claims_in_free(in);
    /* claims that cannot fit in a token */
    {
        char *long_scope = malloc(MESH_MAX_TOKEN_BYTES + 2);
        assert_non_null(long_scope);
        memset(long_scope, 's', MESH_MAX_TOKEN_BYTES + 1);
        long_scope[MESH_MAX_TOKEN_BYTES] = '\0';
        in = claims_in(1700000000);
        assert_int_equal(mesh_jwt_claims_in_set_scopes(in, long_scope), MESH_OK);
        assert_int_equal(mesh_jwt_sign(rs, in, &tok, NULL), MESH_ERR_LIMIT);
        long_scope[MESH_MAX_TOKEN_BYTES] = 's';
        long_scope[MESH_MAX_TOKEN_BYTES + 1] = '\0';
        assert_int_equal(mesh_jwt_claims_in_set_scopes(in, long_scope), MESH_ERR_LIMIT);
        free(long_scope);
        mesh_jwt_claims_in_free(in);
    }
    assert_string_equal(tok, "untouched");
    in = claims_in(1700000000);
    assert_int_equal(mesh_key_public_pem(rs, &pem), MESH_OK);
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &pub), MESH_OK);
    assert_int_equal(mesh_jwt_sign(pub, in, &tok, NULL), MESH_ERR_KEY_NOT_PRIVATE);
    mesh_jwt_claims_in_free(in);
    mesh_jwt_claims_in_free(NULL);
    mesh_key_free(pub);
    mesh_free(pem);
}

static void test_verify_args(void **state)
{
    mesh_jwt_claims_in_t *in = claims_in(1700000000);
    mesh_jwt_verify_opts_t *o = NULL;
    char *tok = NULL;

    (void)state;
    assert_int_equal(mesh_jwt_sign(rs, in, &tok, NULL), MESH_OK);
    o = opts_for(o, 1700000000);
    assert_int_equal(mesh_jwt_verify(NULL, tok, strlen(tok), o, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), NULL, NULL), MESH_ERR_INVALID_ARG);
    /* a refused setter leaves the old value: the options still verify */
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_verify_opts_set_skew(o, -1), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, NULL), MESH_OK);
    mesh_free(tok);
    mesh_jwt_verify_opts_free(o);
    mesh_jwt_claims_in_free(in);
}

static int64_t fixed_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

static void test_clock_callback(void **state)
{
    mesh_jwt_claims_in_t *in = claims_in(1700000000);
    mesh_jwt_verify_opts_t *o = NULL;
    int64_t t = 1700000400;
    char *tok = NULL;

    (void)state;
    assert_int_equal(mesh_jwt_sign(rs, in, &tok, NULL), MESH_OK);
    o = opts_for(o, 1700000000); /* now is ignored when a clock is given */
    assert_int_equal(mesh_jwt_verify_opts_set_clock(o, fixed_clock, &t), MESH_OK);
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, NULL), MESH_ERR_EXPIRED);
    t = 1700000100;
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, NULL), MESH_OK);
    mesh_free(tok);
    mesh_jwt_verify_opts_free(o);
    mesh_jwt_claims_in_free(in);
}

static void test_real_clock(void **state)
{
    mesh_jwt_claims_in_t *in = claims_in((int64_t)time(NULL));
    mesh_jwt_verify_opts_t *o = NULL;
    char *tok = NULL;

    (void)state;
    assert_int_equal(mesh_jwt_sign(ed, in, &tok, NULL), MESH_OK);
    o = opts_for(o, 0); /* now = 0 and no clock: time(NULL) */
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, NULL), MESH_OK);
    mesh_free(tok);
    mesh_jwt_verify_opts_free(o);
    mesh_jwt_claims_in_free(in);
}

static void test_validate_claims_direct(void **state)
{
    static const char claims[] =
        "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":[\"orders\",\"payments\"],\"iat\":100,"
        "\"exp\":200,\"jti\":\"j\",\"scope\":\"a b\"}";
    mesh_jwt_verify_opts_t *o = NULL;
    mesh_identity_t *c = NULL;
    char *json = NULL;

    (void)state;
    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, "payments"), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, 150), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "when-presented"), MESH_OK);
    /* header typ NULL: no typ rule */
    assert_int_equal(mesh_jwt_validate_claims((const uint8_t *)claims, strlen(claims), NULL, o, &c),
                     MESH_OK);
    assert_string_equal(mesh_identity_audience(c), "payments");
    assert_int_equal(mesh_identity_not_before(c), 0);
    assert_true(mesh_identity_has_scope(c, "a"));
    assert_true(mesh_identity_has_scope(c, "b"));
    assert_false(mesh_identity_has_scope(c, "a b"));
    assert_false(mesh_identity_has_scope(c, ""));
    assert_false(mesh_identity_has_scope(c, NULL));
    assert_int_equal(mesh_identity_to_json(c, &json), MESH_OK);
    assert_string_equal(json, claims);
    mesh_free(json);
    mesh_identity_free(c);
    /* typ "JWT" is not at+jwt; typ NULL in the options turns the rule off */
    assert_int_equal(
        mesh_jwt_validate_claims((const uint8_t *)claims, strlen(claims), "JWT", o, NULL),
        MESH_ERR_TYP);
    assert_int_equal(mesh_jwt_verify_opts_set_typ(o, NULL), MESH_OK);
    assert_int_equal(
        mesh_jwt_validate_claims((const uint8_t *)claims, strlen(claims), "JWT", o, NULL), MESH_OK);
    assert_int_equal(mesh_jwt_validate_claims(NULL, 0, NULL, o, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwt_validate_claims((const uint8_t *)"[]", 2, NULL, o, NULL),
                     MESH_ERR_JSON);
    mesh_jwt_verify_opts_free(o);
}

static void test_claim_limits(void **state)
{
    char claims[8192];
    char scope[1024];
    mesh_jwt_verify_opts_t *o = NULL;
    size_t pos = 0;

    (void)state;
    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, "i"), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, "a"), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, 150), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "when-presented"), MESH_OK);
    for (int i = 0; i <= MESH_MAX_SCOPES; i++) {
        pos += (size_t)snprintf(scope + pos, sizeof(scope) - pos, "%ss%d", i ? " " : "", i);
    }
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"i\",\"sub\":\"s\",\"aud\":\"a\",\"iat\":100,\"exp\":200,\"jti\":\"j\","
             "\"scope\":\"%s\"}",
             scope);
    assert_int_equal(
        mesh_jwt_validate_claims((const uint8_t *)claims, strlen(claims), NULL, o, NULL),
        MESH_ERR_LIMIT);
    {
        char *sub = malloc(MESH_MAX_CLAIM_STRING + 2);
        memset(sub, 'x', MESH_MAX_CLAIM_STRING + 1);
        sub[MESH_MAX_CLAIM_STRING + 1] = '\0';
        snprintf(claims, sizeof(claims),
                 "{\"iss\":\"i\",\"sub\":\"%s\",\"aud\":\"a\",\"iat\":100,\"exp\":200,"
                 "\"jti\":\"j\"}",
                 sub);
        free(sub);
    }
    assert_int_equal(
        mesh_jwt_validate_claims((const uint8_t *)claims, strlen(claims), NULL, o, NULL),
        MESH_ERR_LIMIT);
    mesh_jwt_verify_opts_free(o);
}

static void test_claims_accessors_null(void **state)
{
    char *json = NULL;

    (void)state;
    mesh_identity_free(NULL);
    assert_string_equal(mesh_identity_issuer(NULL), "");
    assert_string_equal(mesh_identity_audience(NULL), "");
    assert_int_equal(mesh_identity_expiry(NULL), 0);
    assert_false(mesh_identity_has_scope(NULL, "x"));
    assert_int_equal(mesh_identity_to_json(NULL, &json), MESH_ERR_INVALID_ARG);
}

static void test_detail_never_has_token(void **state)
{
    mesh_jwt_claims_in_t *in = claims_in(1700000000);
    mesh_jwt_verify_opts_t *o = NULL;
    char *tok = NULL;
    char *sig;

    (void)state;
    assert_int_equal(mesh_jwt_sign(rs, in, &tok, NULL), MESH_OK);
    o = opts_for(o, 1800000000);
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, NULL), MESH_ERR_EXPIRED);
    sig = strrchr(tok, '.') + 1;
    assert_null(strstr(mesh_err_detail(), sig));
    assert_null(strstr(mesh_err_detail(), "eyJ"));
    mesh_free(tok);
    mesh_jwt_verify_opts_free(o);
    mesh_jwt_claims_in_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_defaults_and_setters),
        cmocka_unit_test(test_sign_verify_rs256),
        cmocka_unit_test(test_sign_verify_es256),
        cmocka_unit_test(test_sign_verify_eddsa),
        cmocka_unit_test(test_token_layout),
        cmocka_unit_test(test_jti_fresh_and_base64url),
        cmocka_unit_test(test_unbound_token),
        cmocka_unit_test(test_sign_failures),
        cmocka_unit_test(test_verify_args),
        cmocka_unit_test(test_clock_callback),
        cmocka_unit_test(test_real_clock),
        cmocka_unit_test(test_validate_claims_direct),
        cmocka_unit_test(test_claim_limits),
        cmocka_unit_test(test_claims_accessors_null),
        cmocka_unit_test(test_detail_never_has_token),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
