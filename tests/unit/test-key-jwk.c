/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_key_t from and to JWK: RFC 7517/7518/8037 rules, thumbprints, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include <openssl/core_names.h>

#include <mesh/key.h>

#include "b64url.h"
#include "key_internal.h"
#include "key-test-util.h"

/* RFC 7638 §3.1 (RSA, with its own kid). */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJ"
    "ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
    "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vM"
    "QFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

/* RFC 7515 §A.3.1 (P-256). */
#define EC_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define EC_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
/* RFC 8037 §A.1-A.3 (Ed25519). */
#define ED_X     "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define ED_D     "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define ED_THUMB "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

/* The RFC 7638 RSA JWK with exponent e, n prefixed by `pre`, and `extra` members. */
static char *rsa_jwk(const char *e, const char *pre, const char *extra)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "{\"kty\":\"RSA\",\"e\":\"%s\",\"n\":\"%s%s\"%s}", e, pre,
                     rfc7638_n, extra);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static void test_jwk_rsa(void **state)
{
    mesh_key_t *key = NULL;
    const char *j = rsa_jwk("AQAB", "", ",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"");

    (void)state;
    assert_int_equal(mesh_key_from_jwk(JWK(j), MESH_ALG_UNSET, &key), MESH_OK);
    assert_string_equal(mesh_key_kid(key), "2011-04-29");
    /* RFC 7638 §3.1 */
    assert_string_equal(mesh_key_thumbprint(key), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_int_equal(mesh_key_alg(key), MESH_ALG_RS256);
    assert_int_equal(mesh_key_bits(key), 2048);
    assert_false(mesh_key_is_private(key));
    mesh_key_free(key);
    /* without a kid, the thumbprint is the kid */
    j = rsa_jwk("AQAB", "", "");
    assert_int_equal(mesh_key_from_jwk(JWK(j), MESH_ALG_PS256, &key), MESH_OK);
    assert_string_equal(mesh_key_kid(key), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_int_equal(mesh_key_alg(key), MESH_ALG_PS256);
    mesh_key_free(key);
}

/* A private RSA JWK of `pkey`: the public members, "d" (from `dkey`), and CRT members if asked. */
static char *rsa_private_jwk(EVP_PKEY *pkey, EVP_PKEY *dkey, bool crt)
{
    static const char *const names[] = {"d", "p", "q", "dp", "dq", "qi"};
    static const char *const params[] = {
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    json_t *m = NULL;
    char *s;

    assert_int_equal(mesh_key_public_members(pkey, &m), MESH_OK);
    for (size_t i = 0; i < (crt ? 6u : 1u); i++) {
        BIGNUM *bn = NULL;
        uint8_t raw[512];
        char enc[700];
        int n;

        assert_int_equal(EVP_PKEY_get_bn_param(i == 0 ? dkey : pkey, params[i], &bn), 1);
        n = BN_bn2bin(bn, raw);
        mesh_b64url_encode(raw, (size_t)n, enc);
        json_object_set_new(m, names[i], json_string(enc));
        BN_clear_free(bn);
    }
    s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return s;
}

static void test_jwk_rsa_private(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char *pem = pem_of(pkey, 0);
    mesh_key_t *pub = NULL;

    (void)state;
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &pub), MESH_OK);
    for (int crt = 0; crt < 2; crt++) {
        char *good = rsa_private_jwk(pkey, pkey, crt);
        char *bad = rsa_private_jwk(pkey, other, crt);
        mesh_key_t *key = NULL;

        assert_int_equal(mesh_key_from_jwk(JWK(good), MESH_ALG_UNSET, &key), MESH_OK);
        assert_true(mesh_key_is_private(key));
        assert_string_equal(mesh_key_thumbprint(key), mesh_key_thumbprint(pub));
        mesh_key_free(key);
        /* a "d" that belongs to another modulus */
        assert_int_equal(load_jwk(bad, MESH_ALG_UNSET), MESH_ERR_KEY_INVALID);
        free(good);
        free(bad);
    }
    mesh_key_free(pub);
    free(pem);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pkey);
}

static void test_jwk_rsa_alg_rules(void **state)
{
    (void)state;
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"alg\":\"PS256\""), MESH_ALG_UNSET), MESH_OK);
    /* JWK alg and the caller's alg disagree */
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"alg\":\"RS256\""), MESH_ALG_PS256),
                     MESH_ERR_KEY_UNSUPPORTED);
    /* JWK alg does not fit the key type */
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"alg\":\"ES256\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"alg\":\"RS384\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"alg\":\"none\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"alg\":7"), MESH_ALG_UNSET),
                     MESH_ERR_KEY_PARSE);
}

static void test_jwk_rsa_exponents(void **state)
{
    (void)state;
    /* e = 3 loads (Wycheproof primitive groups); stricter policy is a separate layer */
    assert_int_equal(load_jwk(rsa_jwk("Aw", "", ""), MESH_ALG_UNSET), MESH_OK);
    assert_int_equal(load_jwk(rsa_jwk("AQ", "", ""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_INVALID); /* e = 1 */
    assert_int_equal(load_jwk(rsa_jwk("Ag", "", ""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_INVALID); /* e = 2 */
    assert_int_equal(load_jwk(rsa_jwk("AAEAAQ", "", ""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_INVALID); /* RFC 7518 §2: leading zero byte */
    assert_int_equal(load_jwk(rsa_jwk("", "", ""), MESH_ALG_UNSET), MESH_ERR_KEY_INVALID);
}

static void test_jwk_rsa_shape(void **state)
{
    (void)state;
    /* RFC 7518 §6.3.1.1: n is minimal; "AAAA" puts three zero bytes in front */
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "AAAA", ""), MESH_ALG_UNSET), MESH_ERR_KEY_INVALID);
    assert_int_equal(load_jwk("{\"kty\":\"RSA\",\"e\":\"AQAB\"}", MESH_ALG_UNSET),
                     MESH_ERR_KEY_PARSE);
    assert_int_equal(
        load_jwk(rsa_jwk("AQAB", "", ",\"d\":\"AQAB\",\"p\":\"AQAB\""), MESH_ALG_UNSET),
        MESH_ERR_KEY_PARSE); /* partial CRT */
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"p\":\"AQAB\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_PARSE);
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"d\":\"AQAB\",\"oth\":[]"), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
}

static void test_jwk_rsa_1024_is_weak(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    json_t *m = NULL;
    char *jwk = NULL;

    (void)state;
    /* Build the JWK by hand: mesh_key_wrap would refuse the key. */
    assert_int_equal(mesh_key_public_members(pkey, &m), MESH_OK);
    jwk = json_dumps(m, JSON_COMPACT);
    assert_int_equal(load_jwk(jwk, MESH_ALG_UNSET), MESH_ERR_KEY_WEAK);
    free(jwk);
    json_decref(m);
    EVP_PKEY_free(pkey);
}

#define EC_JWK(x, y, extra)                                                                        \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" x "\",\"y\":\"" y "\"" extra "}"
#define ED_JWK(x, extra) "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" x "\"" extra "}"
#define EC_Y_OFF_CURVE   "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"

/* A private EC JWK for a fresh P-256 key: the public members plus "d". */
static char *ec_private_jwk(EVP_PKEY **pkey_out)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIGNUM *d = NULL;
    uint8_t raw[32];
    char enc[64];
    json_t *m = NULL;
    char *s;

    assert_non_null(pkey);
    assert_int_equal(mesh_key_public_members(pkey, &m), MESH_OK);
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    assert_int_equal(BN_bn2binpad(d, raw, sizeof(raw)), 32);
    mesh_b64url_encode(raw, sizeof(raw), enc);
    json_object_set_new(m, "d", json_string(enc));
    s = json_dumps(m, JSON_COMPACT);
    BN_clear_free(d);
    json_decref(m);
    *pkey_out = pkey;
    return s;
}

static void test_jwk_ec(void **state)
{
    mesh_key_t *pub = NULL;
    mesh_key_t *priv = NULL;
    EVP_PKEY *pkey = NULL;
    char *jwk = ec_private_jwk(&pkey);
    char *pem = pem_of(pkey, 0);

    (void)state;
    assert_int_equal(mesh_key_from_jwk(JWK(EC_JWK(EC_X, EC_Y, "")), MESH_ALG_UNSET, &pub), MESH_OK);
    assert_int_equal(mesh_key_alg(pub), MESH_ALG_ES256);
    assert_false(mesh_key_is_private(pub));
    assert_int_equal(mesh_key_bits(pub), 256);
    mesh_key_free(pub);
    assert_int_equal(mesh_key_from_jwk(JWK(jwk), MESH_ALG_ES256, &priv), MESH_OK);
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &pub), MESH_OK);
    assert_true(mesh_key_is_private(priv));
    assert_string_equal(mesh_key_thumbprint(pub), mesh_key_thumbprint(priv));
    mesh_key_free(pub);
    mesh_key_free(priv);
    free(pem);
    free(jwk);
    EVP_PKEY_free(pkey);
}

static void test_jwk_ec_invalid(void **state)
{
    (void)state;
    /* SEC 1 §3.2.2.1: the point must be on the curve */
    assert_int_equal(load_jwk(EC_JWK(EC_X, EC_Y_OFF_CURVE, ""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_INVALID);
    /* RFC 7518 §6.2.1.2: exactly 32 bytes, even with a leading zero */
    assert_int_equal(load_jwk(EC_JWK("AA" EC_X, EC_Y, ""), MESH_ALG_UNSET), MESH_ERR_B64URL);
    assert_int_equal(load_jwk(EC_JWK("AAAA" EC_X, EC_Y, ""), MESH_ALG_UNSET), MESH_ERR_KEY_INVALID);
    assert_int_equal(load_jwk(EC_JWK(EC_X, "", ""), MESH_ALG_UNSET), MESH_ERR_KEY_INVALID);
    assert_int_equal(load_jwk(EC_JWK(EC_X, EC_Y, ",\"d\":\"" ED_D "\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_INVALID); /* d of another key */
    assert_int_equal(load_jwk(EC_JWK(EC_X, EC_Y, ",\"d\":\"" ED_X "x\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_INVALID); /* 33-byte d */
    assert_int_equal(load_jwk(EC_JWK(EC_X, EC_Y, ",\"alg\":\"EdDSA\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(EC_JWK(EC_X, EC_Y, ",\"alg\":\"ES384\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y
                              "\"}",
                              MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(
        load_jwk("{\"kty\":\"EC\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}", MESH_ALG_UNSET),
        MESH_ERR_KEY_UNSUPPORTED);
}

static void test_jwk_ed25519(void **state)
{
    mesh_key_t *pub = NULL;
    mesh_key_t *priv = NULL;

    (void)state;
    assert_int_equal(mesh_key_from_jwk(JWK(ED_JWK(ED_X, "")), MESH_ALG_UNSET, &pub), MESH_OK);
    assert_int_equal(
        mesh_key_from_jwk(JWK(ED_JWK(ED_X, ",\"d\":\"" ED_D "\"")), MESH_ALG_EDDSA, &priv),
        MESH_OK);
    /* RFC 8037 §A.3 */
    assert_string_equal(mesh_key_thumbprint(pub), ED_THUMB);
    assert_string_equal(mesh_key_thumbprint(priv), ED_THUMB);
    assert_int_equal(mesh_key_alg(pub), MESH_ALG_EDDSA);
    assert_true(mesh_key_is_private(priv));
    assert_false(mesh_key_is_private(pub));
    mesh_key_free(pub);
    mesh_key_free(priv);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"d\":\"" EC_X "\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_INVALID); /* d does not belong to x */
    assert_int_equal(
        load_jwk(ED_JWK("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcH", ""), MESH_ALG_UNSET),
        MESH_ERR_KEY_INVALID); /* 30 bytes */
    assert_int_equal(
        load_jwk("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" ED_X "\"}", MESH_ALG_UNSET),
        MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ""), MESH_ALG_RS256), MESH_ERR_KEY_UNSUPPORTED);
}

static void test_jwk_bad_input(void **state)
{
    char big[MESH_MAX_JWK_BYTES + 2];
    mesh_key_t *key = SENTINEL;

    (void)state;
    assert_int_equal(
        load_jwk(ED_JWK("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=", ""), MESH_ALG_UNSET),
        MESH_ERR_B64URL);
    assert_int_equal(
        load_jwk(ED_JWK("11qYAYKxCrfVS+7TyWQHOg7hcvPapiMlrwIaaPcHURo", ""), MESH_ALG_UNSET),
        MESH_ERR_B64URL);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"x\":\"" ED_X "\""), MESH_ALG_UNSET),
                     MESH_ERR_JSON_DUPLICATE);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"kty\":\"OKP\""), MESH_ALG_UNSET),
                     MESH_ERR_JSON_DUPLICATE);
    assert_int_equal(load_jwk("[]", MESH_ALG_UNSET), MESH_ERR_JSON);
    assert_int_equal(load_jwk("{\"kty\":", MESH_ALG_UNSET), MESH_ERR_JSON);
    assert_int_equal(load_jwk("{\"x\":[[[[[[[[[[[[]]]]]]]]]]]]}", MESH_ALG_UNSET),
                     MESH_ERR_JSON_DEPTH);
    assert_int_equal(load_jwk("{}", MESH_ALG_UNSET), MESH_ERR_KEY_PARSE);
    assert_int_equal(load_jwk("{\"kty\":1}", MESH_ALG_UNSET), MESH_ERR_KEY_PARSE);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"kid\":5"), MESH_ALG_UNSET), MESH_ERR_KEY_PARSE);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"kid\":\"a\\u0000b\""), MESH_ALG_UNSET),
                     MESH_ERR_JSON); /* embedded NUL: jansson refuses it */
    assert_int_equal(load_jwk("{\"kty\":\"oct\",\"k\":\"AQAB\"}", MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    /* RFC 7517 §4.2-4.3: encryption keys are not signing keys */
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"use\":\"enc\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"key_ops\":[\"encrypt\"]"), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"key_ops\":[\"verify\"]"), MESH_ALG_UNSET), MESH_OK);
    memset(big, ' ', sizeof(big));
    assert_int_equal(mesh_key_from_jwk(big, sizeof(big), MESH_ALG_UNSET, &key), MESH_ERR_LIMIT);
    assert_int_equal(mesh_key_from_jwk(NULL, 0, MESH_ALG_UNSET, &key), MESH_ERR_INVALID_ARG);
    assert_ptr_equal(key, SENTINEL);
}

static void test_jwk_long_kid(void **state)
{
    char buf[512];
    char kid[MESH_KID_MAX + 2];

    (void)state;
    memset(kid, 'k', sizeof(kid) - 1);
    kid[sizeof(kid) - 1] = '\0';
    snprintf(buf, sizeof(buf), ED_JWK(ED_X, ",\"kid\":\"%s\""), kid);
    assert_int_equal(load_jwk(buf, MESH_ALG_UNSET), MESH_ERR_LIMIT);
    kid[MESH_KID_MAX] = '\0';
    snprintf(buf, sizeof(buf), ED_JWK(ED_X, ",\"kid\":\"%s\""), kid);
    assert_int_equal(load_jwk(buf, MESH_ALG_UNSET), MESH_OK);
}

static void test_to_jwk_roundtrip(void **state)
{
    static const mesh_key_type_t types[] = {MESH_KEY_RSA2048, MESH_KEY_P256, MESH_KEY_ED25519};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        mesh_key_t *gen = NULL;
        mesh_key_t *back = NULL;
        char *jwk = NULL;

        assert_int_equal(mesh_key_generate(types[i], &gen), MESH_OK);
        assert_int_equal(mesh_key_to_jwk(gen, &jwk), MESH_OK);
        assert_null(strstr(jwk, "\"d\"")); /* never private parts */
        assert_null(strstr(jwk, "\"p\""));
        assert_non_null(strstr(jwk, "\"use\":\"sig\""));
        assert_int_equal(jwk[1], '"'); /* compact */
        assert_int_equal(mesh_key_from_jwk(JWK(jwk), MESH_ALG_UNSET, &back), MESH_OK);
        assert_string_equal(mesh_key_kid(back), mesh_key_kid(gen));
        assert_string_equal(mesh_key_thumbprint(back), mesh_key_thumbprint(gen));
        assert_int_equal(mesh_key_alg(back), mesh_key_alg(gen));
        assert_false(mesh_key_is_private(back));
        mesh_free(jwk);
        mesh_key_free(back);
        mesh_key_free(gen);
    }
    assert_int_equal(mesh_key_to_jwk(NULL, &(char *){NULL}), MESH_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwk_rsa),
        cmocka_unit_test(test_jwk_rsa_private),
        cmocka_unit_test(test_jwk_rsa_alg_rules),
        cmocka_unit_test(test_jwk_rsa_exponents),
        cmocka_unit_test(test_jwk_rsa_shape),
        cmocka_unit_test(test_jwk_rsa_1024_is_weak),
        cmocka_unit_test(test_jwk_ec),
        cmocka_unit_test(test_jwk_ec_invalid),
        cmocka_unit_test(test_jwk_ed25519),
        cmocka_unit_test(test_jwk_bad_input),
        cmocka_unit_test(test_jwk_long_kid),
        cmocka_unit_test(test_to_jwk_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
