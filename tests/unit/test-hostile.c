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

#define NOW         1700000000LL
#define ISS         "https://issuer.mesh.local"
#define AUD         "payments"
#define PAYLOAD_MAX 16384

static const uint8_t cert_der[] = "a stand-in for the DER bytes of the caller's certificate";

static mesh_key_t *rsa;   /* RS256, in the set */
static mesh_key_t *ec;    /* ES256, in the set */
static mesh_key_t *other; /* RS256, not in the set */
static mesh_jwks_t *set;
static char x5t[MESH_X5T_LEN + 1];

static int setup(void **state)
{
    mesh_key_t *keys[2];

    (void)state;
    if (mesh_key_generate(MESH_KEY_RSA2048, &rsa) != MESH_OK ||
        mesh_key_generate(MESH_KEY_P256, &ec) != MESH_OK ||
        mesh_key_generate(MESH_KEY_RSA2048, &other) != MESH_OK) {
        return -1;
    }
    keys[0] = rsa;
    keys[1] = ec;
    if (mesh_jwks_from_keys(keys, 2, &set) != MESH_OK ||
        mesh_x5t_s256(cert_der, sizeof(cert_der), x5t) != MESH_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mesh_jwks_free(set);
    mesh_key_free(rsa);
    mesh_key_free(ec);
    mesh_key_free(other);
    return 0;
}

/* ---- building blocks --------------------------------------------------------------------- */

/*
 * The claims of a good token, with member `name` replaced by the raw JSON `json` (NULL removes
 * it; a name not among the defaults is appended). Returns a new string.
 */
static char *payload(const char *name, const char *json)
{
    char cnf[96];
    const char *names[] = {"iss", "sub", "aud",   "iat",       "nbf",
                           "exp", "jti", "scope", "client_id", "cnf"};
    const char *vals[] = {"\"" ISS "\"",
                          "\"spiffe://mesh.local/orders\"",
                          "\"" AUD "\"",
                          "1700000000",
                          "1700000000",
                          "1700000300",
                          "\"q7xJ3v0kQyW8m2pL5nR9sA\"",
                          "\"orders:read payments:write\"",
                          "\"orders\"",
                          cnf};
    char *out = malloc(PAYLOAD_MAX);
    size_t pos = 0;
    bool found = false;

    assert_non_null(out);
    snprintf(cnf, sizeof(cnf), "{\"x5t#S256\":\"%s\"}", x5t);
    out[pos++] = '{';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = vals[i];
        if (name != NULL && strcmp(name, names[i]) == 0) {
            found = true;
            v = json;
        }
        if (v != NULL) {
            pos += (size_t)snprintf(out + pos, PAYLOAD_MAX - pos, "%s\"%s\":%s", pos > 1 ? "," : "",
                                    names[i], v);
        }
    }
    if (name != NULL && !found && json != NULL) {
        pos += (size_t)snprintf(out + pos, PAYLOAD_MAX - pos, ",\"%s\":%s", name, json);
    }
    snprintf(out + pos, PAYLOAD_MAX - pos, "}");
    return out;
}

static void opts_default(mesh_jwt_verify_opts_t *o)
{
    mesh_jwt_verify_opts_init(o);
    o->issuer = ISS;
    o->audience = AUD;
    o->now = NOW;
    o->cert_der = cert_der;
    o->cert_der_len = sizeof(cert_der);
    o->required_scope = "payments:write";
}

static mesh_err_t verify_opts(const char *tok, const mesh_jwt_verify_opts_t *o)
{
    return mesh_jwt_verify(set, tok, strlen(tok), o, NULL);
}

static mesh_err_t verify(const char *tok)
{
    mesh_jwt_verify_opts_t o;

    opts_default(&o);
    return verify_opts(tok, &o);
}

/* A token by `key` with the standard header (plus `extra`) and the claims from payload(). */
static char *token_with(const mesh_key_t *key, const char *extra, const char *name,
                        const char *json)
{
    char *h = jt_header(key, "at+jwt", extra);
    char *p = payload(name, json);
    char *t = jt_token(key, h, p);

    free(h);
    free(p);
    return t;
}

/* Asserts that a token breaking one claim rule gets `want`. */
static void expect_claim(const char *name, const char *json, mesh_err_t want)
{
    char *t = token_with(rsa, "", name, json);
    mesh_err_t got = verify(t);

    if (got != want) {
        print_error("claim %s=%s: got %s (%s), want %s\n", name, json ? json : "(removed)",
                    mesh_err_name(got), mesh_err_detail(), mesh_err_name(want));
    }
    assert_int_equal(got, want);
    assert_true(want == MESH_OK || strlen(mesh_err_detail()) > 0);
    free(t);
}

/* Asserts that a token with a hand-written header (signed by rsa) gets `want`. */
static void expect_header(const char *header, mesh_err_t want)
{
    char *p = payload(NULL, NULL);
    char *t = jt_token(rsa, header, p);
    mesh_err_t got = verify(t);

    if (got != want) {
        print_error("header %s: got %s (%s), want %s\n", header, mesh_err_name(got),
                    mesh_err_detail(), mesh_err_name(want));
    }
    assert_int_equal(got, want);
    free(p);
    free(t);
}

static void expect_raw(const char *tok, mesh_err_t want)
{
    mesh_jwt_verify_opts_t o;
    mesh_err_t got;

    opts_default(&o);
    got = verify_opts(tok, &o);
    if (got != want) {
        print_error("token: got %s (%s), want %s\n", mesh_err_name(got), mesh_err_detail(),
                    mesh_err_name(want));
    }
    assert_int_equal(got, want);
}

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
    strcpy(bad + (dot - t) + 1, dot);
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
    mesh_jwt_verify_opts_t o;

    (void)state;
    assert_int_equal(verify(t), MESH_ERR_EXPIRED);
    assert_string_equal(mesh_err_detail(), "exp 1699999958 is 42 s before now (skew 30 s)");
    opts_default(&o);
    o.now = NOW + 300 + 30; /* exactly exp + skew */
    assert_int_equal(verify_opts(good, &o), MESH_ERR_EXPIRED);
    o.now = NOW + 300 + 29; /* inside the skew */
    assert_int_equal(verify_opts(good, &o), MESH_OK);
    free(t);
    free(good);
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
    mesh_jwt_verify_opts_t o;

    (void)state;
    opts_default(&o);
    o.revoked = revoked_cb;
    o.revoked_ctx = (void *)"q7xJ3v0kQyW8m2pL5nR9sA";
    assert_int_equal(verify_opts(t, &o), MESH_ERR_REVOKED);
    o.revoked_ctx = (void *)"someone-else";
    assert_int_equal(verify_opts(t, &o), MESH_OK);
    free(t);
}

static void test_rule_cnf_mismatch(void **state)
{
    static const uint8_t stolen_by[] = "another certificate";
    char *t = token_with(rsa, "", NULL, NULL);
    mesh_jwt_verify_opts_t o;

    (void)state;
    opts_default(&o);
    o.cert_der = stolen_by;
    o.cert_der_len = sizeof(stolen_by);
    assert_int_equal(verify_opts(t, &o), MESH_ERR_CNF_MISMATCH);
    /* a bound token presented without any certificate */
    o.cert_der = NULL;
    o.cert_der_len = 0;
    assert_int_equal(verify_opts(t, &o), MESH_ERR_CNF_MISMATCH);
    free(t);
    expect_claim("cnf", "{\"x5t#S256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                 MESH_ERR_CNF_MISMATCH);
}

static void test_rule_cnf_missing(void **state)
{
    char *t = token_with(rsa, "", "cnf", NULL);
    mesh_jwt_verify_opts_t o;

    (void)state;
    assert_int_equal(verify(t), MESH_ERR_CNF_MISSING);
    opts_default(&o);
    o.require_cnf = false; /* still: a certificate was presented, the token must name it */
    assert_int_equal(verify_opts(t, &o), MESH_ERR_CNF_MISSING);
    o.cert_der = NULL;
    o.cert_der_len = 0;
    assert_int_equal(verify_opts(t, &o), MESH_OK);
    free(t);
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
    mesh_jwt_verify_opts_t o;

    (void)state;
    opts_default(&o);
    o.required_scope = "nope";
    assert_int_equal(verify_opts(t, &o), MESH_ERR_EXPIRED);
    free(t);
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

    return cmocka_run_group_tests(tests, setup, teardown);
}
