/* SPDX-License-Identifier: Apache-2.0 */
/* One hand-built hostile token per claim rule of DESIGN.md "Verification rules". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jose-test-util.h"
#include "hostile-util.h"

/* ---- claims ------------------------------------------------------------------------------ */

static void test_rule_claim_missing(void **state)
{
    static const char *required[] = {"iss", "sub", "aud", "exp", "iat", "jti"};

    (void)state;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        expect_claim(required[i], NULL, MESH_ERR_CLAIM_MISSING);
    }
}

static void test_rule_numericdate_not_integer(void **state)
{
    (void)state;
    expect_claim("exp", "1700000300.5", MESH_ERR_CLAIM_TYPE);
    expect_claim("exp", "1.7000003e9", MESH_ERR_CLAIM_TYPE);
    expect_claim("exp", "1e9", MESH_ERR_CLAIM_TYPE);
    expect_claim("exp", "\"1700000300\"", MESH_ERR_CLAIM_TYPE);
    expect_claim("iat", "1700000000.0", MESH_ERR_CLAIM_TYPE);
    expect_claim("nbf", "true", MESH_ERR_CLAIM_TYPE);
}

static void test_rule_claim_wrong_type(void **state)
{
    (void)state;
    expect_claim("iss", "42", MESH_ERR_CLAIM_TYPE);
    expect_claim("sub", "null", MESH_ERR_CLAIM_TYPE);
    expect_claim("aud", "{\"aud\":\"payments\"}", MESH_ERR_CLAIM_TYPE);
    expect_claim("aud", "[\"payments\",7]", MESH_ERR_CLAIM_TYPE);
    expect_claim("jti", "[]", MESH_ERR_CLAIM_TYPE);
    expect_claim("scope", "[\"payments:write\"]", MESH_ERR_CLAIM_TYPE);
    expect_claim("cnf", "\"bound\"", MESH_ERR_CLAIM_TYPE);
}

static void test_rule_wrong_iss(void **state)
{
    (void)state;
    expect_claim("iss", "\"https://evil.example\"", MESH_ERR_ISSUER);
    expect_claim("iss", "\"" ISS "/\"", MESH_ERR_ISSUER);
    expect_claim("iss", "\"https://issuer.mesh\"", MESH_ERR_ISSUER);
}

static void test_rule_aud_not_ours(void **state)
{
    (void)state;
    expect_claim("aud", "\"orders\"", MESH_ERR_AUDIENCE);
    expect_claim("aud", "\"payments-admin\"", MESH_ERR_AUDIENCE); /* no prefix matches */
    expect_claim("aud", "\"pay\"", MESH_ERR_AUDIENCE);
    expect_claim("aud", "[\"orders\",\"paymentsx\"]", MESH_ERR_AUDIENCE);
    expect_claim("aud", "[\"orders\",\"" AUD "\"]", MESH_OK);
}

static void test_rule_expired(void **state)
{
    char *t = token_with(rsa, "", "exp", "1699999958"); /* 42 s before now */

    char *good = token_with(rsa, "", NULL, NULL); /* exp = NOW + 300 */
    mesh_jwt_verify_opts_t *o = NULL;

    (void)state;
    assert_int_equal(verify(t), MESH_ERR_EXPIRED);
    assert_string_equal(mesh_err_detail(), "exp 1699999958 is 42 s before now (skew 30 s)");
    o = opts_default(o);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, NOW + 300 + 30),
                     MESH_OK); /* exactly exp + skew */
    assert_int_equal(verify_opts(good, o), MESH_ERR_EXPIRED);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, NOW + 300 + 29),
                     MESH_OK); /* inside the skew */
    assert_int_equal(verify_opts(good, o), MESH_OK);
    free(t);
    free(good);
    mesh_jwt_verify_opts_free(o);
}

/* Hostile NumericDates at the edges of int64 must be judged, not overflow (UBSan watches). */
static void test_rule_dates_at_int64_edges(void **state)
{
    (void)state;
    expect_claim("exp", "-9223372036854775808", MESH_ERR_EXPIRED);
    expect_claim("nbf", "9223372036854775807", MESH_ERR_NOT_YET_VALID);
    expect_claim("iat", "-9223372036854775808", MESH_ERR_LIFETIME);
    expect_claim("exp", "9223372036854775807", MESH_ERR_LIFETIME);
    expect_claim("exp", "9223372036854775808", MESH_ERR_JSON); /* beyond int64 */
    expect_claim("exp", "1699999999", MESH_ERR_LIFETIME);      /* before iat, not yet expired */
}

static void test_rule_nbf_future(void **state)
{
    (void)state;
    expect_claim("nbf", "1700000031", MESH_ERR_NOT_YET_VALID);
    expect_claim("nbf", "1700000030", MESH_OK);
}

static void test_rule_iat_future(void **state)
{
    char *t = token_with(rsa, "", "iat", "1700000031");

    (void)state;
    /* nbf stays at now; exp - iat stays small */
    assert_int_equal(verify(t), MESH_ERR_IAT_FUTURE);
    free(t);
}

static void test_rule_lifetime(void **state)
{
    (void)state;
    expect_claim("exp", "1700000601", MESH_ERR_LIFETIME);
    expect_claim("exp", "1700000600", MESH_OK);
}

static bool revoked_cb(void *ctx, const char *jti)
{
    return strcmp(jti, (const char *)ctx) == 0;
}

static void test_rule_revoked(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);
    mesh_jwt_verify_opts_t *o = NULL;

    (void)state;
    o = opts_default(o);
    assert_int_equal(
        mesh_jwt_verify_opts_set_revoked(o, revoked_cb, (void *)"q7xJ3v0kQyW8m2pL5nR9sA"), MESH_OK);
    assert_int_equal(verify_opts(t, o), MESH_ERR_REVOKED);
    assert_int_equal(mesh_jwt_verify_opts_set_revoked(o, revoked_cb, (void *)"someone-else"),
                     MESH_OK);
    assert_int_equal(verify_opts(t, o), MESH_OK);
    free(t);
    mesh_jwt_verify_opts_free(o);
}

static void test_rule_cnf_mismatch(void **state)
{
    static const uint8_t stolen_by[] = "another certificate";
    char *t = token_with(rsa, "", NULL, NULL);
    mesh_jwt_verify_opts_t *o = NULL;

    (void)state;
    o = opts_default(o);
    assert_int_equal(mesh_jwt_verify_opts_set_cert(o, stolen_by, sizeof(stolen_by)), MESH_OK);
    assert_int_equal(verify_opts(t, o), MESH_ERR_CNF_MISMATCH);
    /* a bound token presented without any certificate */
    assert_int_equal(mesh_jwt_verify_opts_set_cert(o, NULL, 0), MESH_OK);
    assert_int_equal(verify_opts(t, o), MESH_ERR_CNF_MISMATCH);
    free(t);
    expect_claim("cnf", "{\"x5t#S256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                 MESH_ERR_CNF_MISMATCH);
    mesh_jwt_verify_opts_free(o);
}

static void test_rule_cnf_missing(void **state)
{
    char *t = token_with(rsa, "", "cnf", NULL);
    mesh_jwt_verify_opts_t *o = NULL;

    (void)state;
    assert_int_equal(verify(t), MESH_ERR_CNF_MISSING);
    o = opts_default(o);
    assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "when-presented"),
                     MESH_OK); /* binding "when-presented": an unbound token is accepted, */
    assert_int_equal(verify_opts(t, o), MESH_OK); /* with a certificate presented or not */
    assert_int_equal(mesh_jwt_verify_opts_set_cert(o, NULL, 0), MESH_OK);
    assert_int_equal(verify_opts(t, o), MESH_OK);
    free(t);
    mesh_jwt_verify_opts_free(o);
}

static void test_rule_scope_missing(void **state)
{
    (void)state;
    expect_claim("scope", "\"orders:read\"", MESH_ERR_SCOPE);
    expect_claim("scope", "\"payments:writer payments\"", MESH_ERR_SCOPE); /* no prefix */
    expect_claim("scope", NULL, MESH_ERR_SCOPE);
    expect_claim("scope", "\"a payments:write\"", MESH_OK);
}

static void test_rule_scope_checked_last(void **state)
{
    /* an expired token without the scope is "expired" (401), not "insufficient scope" (403) */
    char *t = token_with(rsa, "", "exp", "1600000000");
    mesh_jwt_verify_opts_t *o = NULL;

    (void)state;
    o = opts_default(o);
    assert_int_equal(mesh_jwt_verify_opts_set_required_scope(o, "nope"), MESH_OK);
    assert_int_equal(verify_opts(t, o), MESH_ERR_EXPIRED);
    free(t);
    mesh_jwt_verify_opts_free(o);
}

static void test_rule_typ(void **state)
{
    char *h;
    char *p = payload(NULL, NULL);
    char *t;

    (void)state;
    h = jt_header(rsa, "JWT", "");
    expect_header(h, MESH_ERR_TYP);
    free(h);
    h = jt_header(rsa, NULL, "");
    expect_header(h, MESH_ERR_TYP);
    free(h);
    /* RFC 7515 §4.1.9: case-insensitive, "application/" may be present */
    h = jt_header(rsa, "application/AT+JWT", "");
    t = jt_token(rsa, h, p);
    assert_int_equal(verify(t), MESH_OK);
    free(h);
    free(t);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_claim_missing),
        cmocka_unit_test(test_rule_numericdate_not_integer),
        cmocka_unit_test(test_rule_claim_wrong_type),
        cmocka_unit_test(test_rule_wrong_iss),
        cmocka_unit_test(test_rule_aud_not_ours),
        cmocka_unit_test(test_rule_expired),
        cmocka_unit_test(test_rule_dates_at_int64_edges),
        cmocka_unit_test(test_rule_nbf_future),
        cmocka_unit_test(test_rule_iat_future),
        cmocka_unit_test(test_rule_lifetime),
        cmocka_unit_test(test_rule_revoked),
        cmocka_unit_test(test_rule_cnf_mismatch),
        cmocka_unit_test(test_rule_cnf_missing),
        cmocka_unit_test(test_rule_scope_missing),
        cmocka_unit_test(test_rule_scope_checked_last),
        cmocka_unit_test(test_rule_typ),
    };

    return cmocka_run_group_tests(tests, hostile_setup, hostile_teardown);
}
