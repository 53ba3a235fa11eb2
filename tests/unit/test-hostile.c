/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One test per rejection rule of DESIGN.md "Verification rules". Every token is built by hand
 * (header JSON + payload JSON + a real signature from a generated key), so that exactly the
 * targeted rule is broken and everything else would pass: test_baseline_accepted proves it.
 */
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

/* ---- the baseline ------------------------------------------------------------------------ */

static void test_baseline_accepted(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);
    char *t2 = token_with(ec, "", NULL, NULL);

    (void)state;
    assert_int_equal(verify(t), MESH_OK);
    assert_int_equal(verify(t2), MESH_OK);
    free(t);
    free(t2);
}

/* ---- alg ---------------------------------------------------------------------------------- */

static void test_rule_alg_none(void **state)
{
    char h[256];
    char *p = payload(NULL, NULL);
    char tok[4096];
    size_t pos;

    (void)state;
    snprintf(h, sizeof(h), "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             mesh_key_kid(rsa));
    pos = mesh_b64url_encode((const uint8_t *)h, strlen(h), tok);
    tok[pos++] = '.';
    pos += mesh_b64url_encode((const uint8_t *)p, strlen(p), tok + pos);
    tok[pos++] = '.';
    tok[pos] = '\0';
    expect_raw(tok, MESH_ERR_ALG_NOT_ALLOWED);
    free(p);
}

/* The classic confusion attack: HMAC keyed with the verifier's public key. */
static void test_rule_alg_hmac_with_public_key(void **state)
{
    char h[256], tok[4096];
    char *p = payload(NULL, NULL);
    char *pem = NULL;
    uint8_t mac[32];
    unsigned int maclen = 0;
    size_t pos;

    (void)state;
    assert_int_equal(mesh_key_public_pem(rsa, &pem), MESH_OK);
    snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             mesh_key_kid(rsa));
    pos = mesh_b64url_encode((const uint8_t *)h, strlen(h), tok);
    tok[pos++] = '.';
    pos += mesh_b64url_encode((const uint8_t *)p, strlen(p), tok + pos);
    assert_non_null(
        HMAC(EVP_sha256(), pem, (int)strlen(pem), (const uint8_t *)tok, pos, mac, &maclen));
    tok[pos++] = '.';
    mesh_b64url_encode(mac, maclen, tok + pos);
    expect_raw(tok, MESH_ERR_ALG_NOT_ALLOWED);
    mesh_free(pem);
    free(p);
}

/* RFC 8725 §3.1: the key's alg wins; a header naming another alg is refused. */
static void test_rule_alg_not_the_keys(void **state)
{
    char h[256];

    (void)state;
    snprintf(h, sizeof(h), "{\"alg\":\"PS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             mesh_key_kid(rsa));
    expect_header(h, MESH_ERR_ALG_NOT_ALLOWED);
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             mesh_key_kid(rsa));
    expect_header(h, MESH_ERR_ALG_NOT_ALLOWED);
}

static void test_rule_alg_unsupported(void **state)
{
    char h[256];

    (void)state;
    snprintf(h, sizeof(h), "{\"alg\":\"RS384\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             mesh_key_kid(rsa));
    expect_header(h, MESH_ERR_ALG_NOT_ALLOWED);
}

/* ---- kid and forbidden header members ---------------------------------------------------- */

static void test_rule_kid_missing(void **state)
{
    (void)state;
    expect_header("{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", MESH_ERR_KID_MISSING);
}

static void test_rule_kid_unknown(void **state)
{
    char *t = token_with(other, "", NULL, NULL);

    (void)state;
    expect_raw(t, MESH_ERR_KID_UNKNOWN);
    free(t);
    expect_header("{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"no-such-key\"}",
                  MESH_ERR_KID_UNKNOWN);
}

static void expect_forbidden(const char *extra)
{
    char *h = jt_header(rsa, "at+jwt", extra);

    expect_header(h, MESH_ERR_HEADER_FORBIDDEN);
    free(h);
}

static void test_rule_header_crit(void **state)
{
    (void)state;
    expect_forbidden(",\"crit\":[\"exp\"],\"exp\":1");
}

static void test_rule_header_jku(void **state)
{
    (void)state;
    expect_forbidden(",\"jku\":\"https://attacker.example/jwks.json\"");
}

static void test_rule_header_x5u(void **state)
{
    (void)state;
    expect_forbidden(",\"x5u\":\"https://attacker.example/cert.pem\"");
}

static void test_rule_header_jwk(void **state)
{
    (void)state;
    expect_forbidden(",\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}");
}

static void test_rule_header_x5c(void **state)
{
    (void)state;
    expect_forbidden(",\"x5c\":[\"MIIB\"]");
}

/* ---- structure --------------------------------------------------------------------------- */

static void test_rule_b64url_header_padding(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);
    char *bad = malloc(strlen(t) + 2);
    char *dot = strchr(t, '.');

    (void)state;
    /* header + "=" + rest: padding is not base64url */
    memcpy(bad, t, (size_t)(dot - t));
    bad[dot - t] = '=';
    memcpy(bad + (dot - t) + 1, dot, strlen(dot) + 1);
    expect_raw(bad, MESH_ERR_B64URL);
    free(bad);
    free(t);
}

static void test_rule_b64url_payload_alphabet(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);
    char *p = strchr(t, '.') + 1;

    (void)state;
    p[2] = '+'; /* standard base64, not base64url */
    expect_raw(t, MESH_ERR_B64URL);
    free(t);
}

static void test_rule_b64url_signature_whitespace(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);
    char *s = strrchr(t, '.') + 1;

    (void)state;
    s[4] = ' ';
    expect_raw(t, MESH_ERR_B64URL);
    free(t);
}

static void test_rule_b64url_trailing_bits(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);
    size_t n = strlen(t);

    (void)state;
    /* RS256 signatures are 256 bytes: 342 characters, the last carrying 4 unused bits. */
    t[n - 1] = 'B';
    expect_raw(t, MESH_ERR_B64URL);
    free(t);
}

static void test_rule_json_header_malformed(void **state)
{
    (void)state;
    expect_header("{\"alg\":\"RS256\",", MESH_ERR_JSON);
}

static void test_rule_json_claims_malformed(void **state)
{
    char *h = jt_header(rsa, "at+jwt", "");
    char *t = jt_token(rsa, h, "{\"iss\":\"x\",}");

    (void)state;
    expect_raw(t, MESH_ERR_JSON);
    free(h);
    free(t);
}

static void test_rule_header_not_object(void **state)
{
    (void)state;
    expect_header("[\"RS256\"]", MESH_ERR_TOKEN_MALFORMED);
    expect_header("{\"alg\":256}", MESH_ERR_TOKEN_MALFORMED);
}

static void test_rule_duplicate_header_member(void **state)
{
    char h[256];

    (void)state;
    snprintf(h, sizeof(h), "{\"alg\":\"RS256\",\"kid\":\"%s\",\"alg\":\"none\"}",
             mesh_key_kid(rsa));
    expect_header(h, MESH_ERR_JSON_DUPLICATE);
}

static void test_rule_duplicate_claim(void **state)
{
    (void)state;
    expect_claim("exp", "1700000300,\"exp\":1900000000", MESH_ERR_JSON_DUPLICATE);
}

static void test_rule_two_parts(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);

    (void)state;
    *strrchr(t, '.') = '\0';
    expect_raw(t, MESH_ERR_TOKEN_MALFORMED);
    free(t);
}

static void test_rule_four_parts(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);
    char *t4 = malloc(strlen(t) + 8);

    (void)state;
    snprintf(t4, strlen(t) + 8, "%s.AAAA", t);
    expect_raw(t4, MESH_ERR_TOKEN_MALFORMED);
    free(t4);
    free(t);
}

static void test_rule_jwe_five_parts(void **state)
{
    (void)state;
    /* RFC 7516 compact JWE shape (header.key.iv.ciphertext.tag) */
    expect_raw("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.AAAA.AAAA.AAAA.AAAA",
               MESH_ERR_TOKEN_JWE);
}

static void test_rule_json_serialization(void **state)
{
    (void)state;
    expect_raw("{\"payload\":\"eyJpc3MiOiJ4In0\",\"signatures\":[{\"protected\":"
               "\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"AAAA\"}]}",
               MESH_ERR_TOKEN_JSON_SERIALIZATION);
}

static void test_rule_token_too_large(void **state)
{
    char *big = malloc(MESH_MAX_TOKEN_BYTES + 2);
    char *t = token_with(rsa, "", NULL, NULL);

    (void)state;
    /* Checked before anything else: even a JSON-looking or JWE-looking blob is "too large". */
    memset(big, '{', MESH_MAX_TOKEN_BYTES + 1);
    big[MESH_MAX_TOKEN_BYTES + 1] = '\0';
    expect_raw(big, MESH_ERR_TOKEN_TOO_LARGE);
    /* A real token padded past the limit with a huge claim. */
    memset(big, 'a', MESH_MAX_TOKEN_BYTES - 100);
    big[0] = '"';
    big[MESH_MAX_TOKEN_BYTES - 101] = '"';
    big[MESH_MAX_TOKEN_BYTES - 100] = '\0';
    free(t);
    t = token_with(rsa, "", "pad", big);
    assert_true(strlen(t) > MESH_MAX_TOKEN_BYTES);
    expect_raw(t, MESH_ERR_TOKEN_TOO_LARGE);
    free(t);
    free(big);
}

static void test_rule_json_depth_claims(void **state)
{
    (void)state;
    /* 1 (claims) + 8 nested arrays = 9 > MESH_MAX_JSON_DEPTH */
    expect_claim("deep", "[[[[[[[[1]]]]]]]]", MESH_ERR_JSON_DEPTH);
}

static void test_rule_json_depth_header(void **state)
{
    char *h = jt_header(rsa, "at+jwt", ",\"x\":[[[[[[[[1]]]]]]]]");

    (void)state;
    expect_header(h, MESH_ERR_JSON_DEPTH);
    free(h);
}

static void test_rule_utf8_claims(void **state)
{
    (void)state;
    expect_claim("sub", "\"spiffe://mesh.local/\xc3\x28\"", MESH_ERR_UTF8);
}

static void test_rule_utf8_header(void **state)
{
    char *h = jt_header(rsa, "at+jwt", ",\"note\":\"\xff\xfe\"");

    (void)state;
    expect_header(h, MESH_ERR_UTF8);
    free(h);
}

/* ---- signature --------------------------------------------------------------------------- */

static void test_rule_signature_bad(void **state)
{
    char *t = token_with(rsa, "", NULL, NULL);
    char *s = strrchr(t, '.') + 1;

    (void)state;
    s[10] = s[10] == 'A' ? 'B' : 'A';
    expect_raw(t, MESH_ERR_SIGNATURE);
    free(t);
}

static void test_rule_signature_other_key(void **state)
{
    /* signed by `other` but claiming rsa's kid */
    char *h = jt_header(rsa, "at+jwt", "");
    char *p = payload(NULL, NULL);
    char *t = jt_token(other, h, p);

    (void)state;
    expect_raw(t, MESH_ERR_SIGNATURE);
    free(h);
    free(p);
    free(t);
}

static void test_rule_payload_changed(void **state)
{
    char *good = token_with(rsa, "", NULL, NULL);
    char *evil = token_with(rsa, "", "scope", "\"admin\"");
    char *mix = malloc(strlen(good) + strlen(evil));
    char *g2 = strchr(strchr(good, '.') + 1, '.');
    char *e1 = strchr(evil, '.');
    char *e2 = strchr(e1 + 1, '.');

    (void)state;
    /* good header, evil payload, good signature */
    snprintf(mix, strlen(good) + strlen(evil), "%.*s%.*s%s", (int)(strchr(good, '.') - good), good,
             (int)(e2 - e1), e1, g2);
    expect_raw(mix, MESH_ERR_SIGNATURE);
    free(mix);
    free(good);
    free(evil);
}

static void es256_with_sig(const uint8_t sig[64], size_t siglen, mesh_err_t want)
{
    char *h = jt_header(ec, "at+jwt", "");
    char *p = payload(NULL, NULL);
    char *good = jt_token(ec, h, p);
    char tok[4096];
    size_t pos = (size_t)(strrchr(good, '.') - good) + 1;

    memcpy(tok, good, pos);
    mesh_b64url_encode(sig, siglen, tok + pos);
    expect_raw(tok, want);
    free(h);
    free(p);
    free(good);
}

static void test_rule_es256_r_or_s_zero(void **state)
{
    uint8_t sig[64] = {0};

    (void)state;
    es256_with_sig(sig, 64, MESH_ERR_SIGNATURE);
    memset(sig, 0x11, 32); /* r != 0, s = 0 */
    es256_with_sig(sig, 64, MESH_ERR_SIGNATURE);
}

static void test_rule_es256_r_at_least_n(void **state)
{
    uint8_t sig[64];

    (void)state;
    memset(sig, 0xff, sizeof(sig));
    es256_with_sig(sig, 64, MESH_ERR_SIGNATURE);
}

static void test_rule_es256_wrong_length(void **state)
{
    uint8_t sig[64];

    (void)state;
    memset(sig, 0x11, sizeof(sig));
    es256_with_sig(sig, 63, MESH_ERR_SIGNATURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_accepted),
        cmocka_unit_test(test_rule_alg_none),
        cmocka_unit_test(test_rule_alg_hmac_with_public_key),
        cmocka_unit_test(test_rule_alg_not_the_keys),
        cmocka_unit_test(test_rule_alg_unsupported),
        cmocka_unit_test(test_rule_kid_missing),
        cmocka_unit_test(test_rule_kid_unknown),
        cmocka_unit_test(test_rule_header_crit),
        cmocka_unit_test(test_rule_header_jku),
        cmocka_unit_test(test_rule_header_x5u),
        cmocka_unit_test(test_rule_header_jwk),
        cmocka_unit_test(test_rule_header_x5c),
        cmocka_unit_test(test_rule_b64url_header_padding),
        cmocka_unit_test(test_rule_b64url_payload_alphabet),
        cmocka_unit_test(test_rule_b64url_signature_whitespace),
        cmocka_unit_test(test_rule_b64url_trailing_bits),
        cmocka_unit_test(test_rule_json_header_malformed),
        cmocka_unit_test(test_rule_json_claims_malformed),
        cmocka_unit_test(test_rule_header_not_object),
        cmocka_unit_test(test_rule_duplicate_header_member),
        cmocka_unit_test(test_rule_duplicate_claim),
        cmocka_unit_test(test_rule_two_parts),
        cmocka_unit_test(test_rule_four_parts),
        cmocka_unit_test(test_rule_jwe_five_parts),
        cmocka_unit_test(test_rule_json_serialization),
        cmocka_unit_test(test_rule_token_too_large),
        cmocka_unit_test(test_rule_json_depth_claims),
        cmocka_unit_test(test_rule_json_depth_header),
        cmocka_unit_test(test_rule_utf8_claims),
        cmocka_unit_test(test_rule_utf8_header),
        cmocka_unit_test(test_rule_signature_bad),
        cmocka_unit_test(test_rule_signature_other_key),
        cmocka_unit_test(test_rule_payload_changed),
        cmocka_unit_test(test_rule_es256_r_or_s_zero),
        cmocka_unit_test(test_rule_es256_r_at_least_n),
        cmocka_unit_test(test_rule_es256_wrong_length),
    };

    return cmocka_run_group_tests(tests, hostile_setup, hostile_teardown);
}
