/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_key_t: PEM and JWK loading, checks, thumbprints, export, generation, file writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <mesh/key.h>

#include <openssl/core_names.h>

#include "b64url.h"
#include "key_internal.h"

#define JWK(s) s, strlen(s)
#define SENTINEL ((mesh_key_t *)(uintptr_t)0x1)

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
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define ED_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define ED_THUMB "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

/* The RFC 7638 RSA JWK with exponent e, n prefixed by `pre`, and `extra` members. */
static char *rsa_jwk(const char *e, const char *pre, const char *extra)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "{\"kty\":\"RSA\",\"e\":\"%s\",\"n\":\"%s%s\"%s}", e,
                     pre, rfc7638_n, extra);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return buf;
}

static mesh_err_t load_jwk(const char *json, mesh_alg_t alg)
{
    mesh_key_t *key = SENTINEL;
    mesh_err_t rc = mesh_key_from_jwk(json, strlen(json), alg, &key);

    if (rc == MESH_OK) {
        mesh_key_free(key);
    } else {
        assert_ptr_equal(key, SENTINEL); /* outputs untouched on failure */
        assert_true(mesh_err_detail()[0] != '\0');
    }
    return rc;
}

/* PEM of an OpenSSL key: SPKI for public, PKCS#8 or traditional for private. */
static char *pem_of(EVP_PKEY *pkey, int which)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    char *s;
    long n;

    assert_non_null(bio);
    if (which == 0) {
        assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    } else if (which == 1) {
        assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    } else {
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL,
                                                              NULL), 1);
    }
    n = BIO_get_mem_data(bio, &data);
    s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    BIO_free(bio);
    return s;
}

static void test_alg_names(void **state)
{
    (void)state;
    assert_string_equal(mesh_alg_name(MESH_ALG_RS256), "RS256");
    assert_string_equal(mesh_alg_name(MESH_ALG_PS256), "PS256");
    assert_string_equal(mesh_alg_name(MESH_ALG_ES256), "ES256");
    assert_string_equal(mesh_alg_name(MESH_ALG_EDDSA), "EdDSA");
    assert_string_equal(mesh_alg_name(MESH_ALG_UNSET), "");
    assert_int_equal(mesh_alg_from_name("ES256", 5), MESH_ALG_ES256);
    assert_int_equal(mesh_alg_from_name("EdDSA", 5), MESH_ALG_EDDSA);
    assert_int_equal(mesh_alg_from_name("es256", 5), MESH_ALG_UNSET); /* case-sensitive */
    assert_int_equal(mesh_alg_from_name("RS2560", 5), MESH_ALG_RS256); /* length-bounded */
    assert_int_equal(mesh_alg_from_name("none", 4), MESH_ALG_UNSET);
    assert_int_equal(mesh_alg_from_name("HS256", 5), MESH_ALG_UNSET);
    assert_int_equal(mesh_alg_from_name(NULL, 0), MESH_ALG_UNSET);
}

static void test_generate_each_type(void **state)
{
    static const struct {
        mesh_key_type_t type;
        mesh_alg_t alg;
        int bits;
    } cases[] = {
        {MESH_KEY_RSA2048, MESH_ALG_RS256, 2048},
        {MESH_KEY_RSA3072, MESH_ALG_RS256, 3072},
        {MESH_KEY_P256, MESH_ALG_ES256, 256},
        {MESH_KEY_ED25519, MESH_ALG_EDDSA, 256},
    };
    mesh_key_t *key = SENTINEL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(mesh_key_generate(cases[i].type, &key), MESH_OK);
        assert_int_equal(mesh_key_alg(key), cases[i].alg);
        assert_int_equal(mesh_key_bits(key), cases[i].bits);
        assert_true(mesh_key_is_private(key));
        assert_int_equal(strlen(mesh_key_thumbprint(key)), 43);
        assert_string_equal(mesh_key_kid(key), mesh_key_thumbprint(key));
        assert_non_null(mesh_key_evp(key));
        mesh_key_free(key);
    }
    key = SENTINEL;
    assert_int_equal(mesh_key_generate((mesh_key_type_t)99, &key), MESH_ERR_INVALID_ARG);
    assert_ptr_equal(key, SENTINEL);
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, NULL), MESH_ERR_INVALID_ARG);
}

static void test_generate_rsa_e_65537(void **state)
{
    mesh_key_t *key = NULL;
    char *jwk = NULL;

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_RSA2048, &key), MESH_OK);
    assert_int_equal(mesh_key_to_jwk(key, &jwk), MESH_OK);
    assert_non_null(strstr(jwk, "\"e\":\"AQAB\""));
    mesh_free(jwk);
    mesh_key_free(key);
}

static void test_ref_and_free(void **state)
{
    mesh_key_t *key = NULL;

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &key), MESH_OK);
    assert_ptr_equal(mesh_key_ref(key), key);
    mesh_key_free(key);
    assert_int_equal(mesh_key_alg(key), MESH_ALG_ES256); /* still alive: one ref left */
    mesh_key_free(key);
    mesh_key_free(NULL);
    assert_null(mesh_key_ref(NULL));
    assert_int_equal(mesh_key_alg(NULL), MESH_ALG_UNSET);
    assert_false(mesh_key_is_private(NULL));
    assert_string_equal(mesh_key_kid(NULL), "");
    assert_string_equal(mesh_key_thumbprint(NULL), "");
    assert_int_equal(mesh_key_bits(NULL), 0);
    assert_null(mesh_key_evp(NULL));
}

static void test_pem_each_type_and_form(void **state)
{
    static const mesh_alg_t algs[] = {MESH_ALG_RS256, MESH_ALG_ES256, MESH_ALG_EDDSA};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *pkey = i == 0   ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                         : i == 1 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                  : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        char thumb[44] = "";

        assert_non_null(pkey);
        /* Ed25519 has no traditional form: only SPKI and PKCS#8. */
        for (int form = 0; form < (i == 2 ? 2 : 3); form++) {
            char *pem = pem_of(pkey, form);
            mesh_key_t *key = NULL;

            assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &key), MESH_OK);
            assert_int_equal(mesh_key_alg(key), algs[i]);
            assert_int_equal(mesh_key_is_private(key), form != 0);
            if (form == 0) {
                memcpy(thumb, mesh_key_thumbprint(key), sizeof(thumb));
            }
            assert_string_equal(mesh_key_thumbprint(key), thumb); /* same key, same kid */
            mesh_key_free(key);
            free(pem);
        }
        EVP_PKEY_free(pkey);
    }
}

static void test_pem_rsa_pss_alg(void **state)
{
    mesh_key_t *gen = NULL;
    mesh_key_t *key = SENTINEL;
    char *pem = NULL;

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_RSA2048, &gen), MESH_OK);
    assert_int_equal(mesh_key_public_pem(gen, &pem), MESH_OK);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_PS256, &key), MESH_OK);
    assert_int_equal(mesh_key_alg(key), MESH_ALG_PS256);
    mesh_key_free(key);
    key = SENTINEL;
    /* RFC 8725 §3.1: an alg that does not fit the key type is refused. */
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_ES256, &key),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_ptr_equal(key, SENTINEL);
    mesh_free(pem);
    mesh_key_free(gen);
}

static void test_pem_rsa_1024_is_weak(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    mesh_key_t *key = SENTINEL;

    (void)state;
    for (int form = 0; form < 2; form++) {
        char *pem = pem_of(pkey, form);
        assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &key),
                         MESH_ERR_KEY_WEAK);
        assert_ptr_equal(key, SENTINEL);
        assert_non_null(strstr(mesh_err_detail(), "2048"));
        free(pem);
    }
    EVP_PKEY_free(pkey);
}

static void test_pem_unsupported_curve_and_type(void **state)
{
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    char *pem1 = pem_of(p384, 0);
    char *pem2 = pem_of(ed448, 0);
    mesh_key_t *key = SENTINEL;

    (void)state;
    assert_int_equal(mesh_key_from_pem(pem1, strlen(pem1), MESH_ALG_UNSET, &key),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(mesh_key_from_pem(pem2, strlen(pem2), MESH_ALG_UNSET, &key),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_ptr_equal(key, SENTINEL);
    free(pem1);
    free(pem2);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed448);
}

static void test_pem_garbage_and_encrypted(void **state)
{
    static const char garbage[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    mesh_key_t *key = SENTINEL;

    (void)state;
    assert_int_equal(mesh_key_from_pem(garbage, strlen(garbage), MESH_ALG_UNSET, &key),
                     MESH_ERR_KEY_PARSE);
    assert_int_equal(mesh_key_from_pem("", 0, MESH_ALG_UNSET, &key), MESH_ERR_KEY_PARSE);
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), NULL, 0, NULL,
                                                   (void *)"secret"), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_int_equal(mesh_key_from_pem(data, (size_t)n, MESH_ALG_UNSET, &key),
                     MESH_ERR_KEY_PARSE);
    assert_ptr_equal(key, SENTINEL);
    assert_int_equal(mesh_key_from_pem(NULL, 0, MESH_ALG_UNSET, &key), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_key_from_pem(garbage, MESH_MAX_PEM_BYTES + 1, MESH_ALG_UNSET, &key),
                     MESH_ERR_LIMIT);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
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

static void test_jwk_rsa_alg_rules(void **state)
{
    (void)state;
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"alg\":\"PS256\""), MESH_ALG_UNSET),
                     MESH_OK);
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
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "AAAA", ""),
                              MESH_ALG_UNSET), MESH_ERR_KEY_INVALID);
    assert_int_equal(load_jwk("{\"kty\":\"RSA\",\"e\":\"AQAB\"}", MESH_ALG_UNSET),
                     MESH_ERR_KEY_PARSE);
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"d\":\"AQAB\",\"p\":\"AQAB\""),
                              MESH_ALG_UNSET), MESH_ERR_KEY_PARSE); /* partial CRT */
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"p\":\"AQAB\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_PARSE);
    assert_int_equal(load_jwk(rsa_jwk("AQAB", "", ",\"d\":\"AQAB\",\"oth\":[]"),
                              MESH_ALG_UNSET), MESH_ERR_KEY_UNSUPPORTED);
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

#define EC_JWK(x, y, extra) "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" x "\",\"y\":\"" y "\"" extra "}"
#define ED_JWK(x, extra) "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" x "\"" extra "}"
#define EC_Y_OFF_CURVE "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"

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
    assert_int_equal(mesh_key_from_jwk(JWK(EC_JWK(EC_X, EC_Y, "")), MESH_ALG_UNSET, &pub),
                     MESH_OK);
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
    assert_int_equal(load_jwk(EC_JWK("AAAA" EC_X, EC_Y, ""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_INVALID);
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
                              "\"}", MESH_ALG_UNSET), MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk("{\"kty\":\"EC\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}",
                              MESH_ALG_UNSET), MESH_ERR_KEY_UNSUPPORTED);
}

static void test_jwk_ed25519(void **state)
{
    mesh_key_t *pub = NULL;
    mesh_key_t *priv = NULL;

    (void)state;
    assert_int_equal(mesh_key_from_jwk(JWK(ED_JWK(ED_X, "")), MESH_ALG_UNSET, &pub), MESH_OK);
    assert_int_equal(mesh_key_from_jwk(JWK(ED_JWK(ED_X, ",\"d\":\"" ED_D "\"")), MESH_ALG_EDDSA,
                                       &priv), MESH_OK);
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
    assert_int_equal(load_jwk(ED_JWK("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcH", ""),
                              MESH_ALG_UNSET), MESH_ERR_KEY_INVALID); /* 30 bytes */
    assert_int_equal(load_jwk("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" ED_X "\"}",
                              MESH_ALG_UNSET), MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ""), MESH_ALG_RS256), MESH_ERR_KEY_UNSUPPORTED);
}

static void test_jwk_bad_input(void **state)
{
    char big[MESH_MAX_JWK_BYTES + 2];
    mesh_key_t *key = SENTINEL;

    (void)state;
    assert_int_equal(load_jwk(ED_JWK("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=", ""),
                              MESH_ALG_UNSET), MESH_ERR_B64URL);
    assert_int_equal(load_jwk(ED_JWK("11qYAYKxCrfVS+7TyWQHOg7hcvPapiMlrwIaaPcHURo", ""),
                              MESH_ALG_UNSET), MESH_ERR_B64URL);
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
    assert_int_equal(load_jwk("{\"kty\":\"oct\",\"k\":\"AQAB\"}", MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    /* RFC 7517 §4.2-4.3: encryption keys are not signing keys */
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"use\":\"enc\""), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"key_ops\":[\"encrypt\"]"), MESH_ALG_UNSET),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(load_jwk(ED_JWK(ED_X, ",\"key_ops\":[\"verify\"]"), MESH_ALG_UNSET),
                     MESH_OK);
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

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mesh-test-key-XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown_dir(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[512];

    (void)state;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return rmdir(tmpdir);
}

static size_t dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void test_write_pem_file(void **state)
{
    mesh_key_t *key = NULL;
    mesh_key_t *back = NULL;
    mesh_key_t *other = NULL;
    char priv[128], pub[128];
    struct stat st;
    mode_t old_umask = umask(0); /* the mode must not depend on the umask */

    (void)state;
    snprintf(priv, sizeof(priv), "%s/key.pem", tmpdir);
    snprintf(pub, sizeof(pub), "%s/key.pub", tmpdir);
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &key), MESH_OK);
    assert_int_equal(mesh_key_write_pem_file(key, priv, true, false), MESH_OK);
    assert_int_equal(stat(priv, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(mesh_key_write_pem_file(key, pub, false, false), MESH_OK);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    umask(old_umask);

    assert_int_equal(mesh_key_load_pem_file(priv, MESH_ALG_UNSET, &back), MESH_OK);
    assert_true(mesh_key_is_private(back));
    assert_string_equal(mesh_key_thumbprint(back), mesh_key_thumbprint(key));
    mesh_key_free(back);
    assert_int_equal(mesh_key_load_pem_file(pub, MESH_ALG_UNSET, &back), MESH_OK);
    assert_false(mesh_key_is_private(back));

    /* refuses to overwrite; the old file stays */
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &other), MESH_OK);
    assert_int_equal(mesh_key_write_pem_file(other, priv, true, false), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "exists"));
    mesh_key_free(back);
    assert_int_equal(mesh_key_load_pem_file(priv, MESH_ALG_UNSET, &back), MESH_OK);
    assert_string_equal(mesh_key_thumbprint(back), mesh_key_thumbprint(key));
    mesh_key_free(back);
    /* overwrite when asked */
    assert_int_equal(mesh_key_write_pem_file(other, priv, true, true), MESH_OK);
    assert_int_equal(stat(priv, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(mesh_key_load_pem_file(priv, MESH_ALG_UNSET, &back), MESH_OK);
    assert_string_equal(mesh_key_thumbprint(back), mesh_key_thumbprint(other));
    mesh_key_free(back);
    assert_int_equal(dir_entries(), 2); /* no temporary files left behind */
    mesh_key_free(other);
    mesh_key_free(key);
}

static void test_write_pem_file_failures(void **state)
{
    mesh_key_t *key = NULL;
    mesh_key_t *pubkey = NULL;
    char *pem = NULL;
    char path[128];

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_ED25519, &key), MESH_OK);
    assert_int_equal(mesh_key_public_pem(key, &pem), MESH_OK);
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &pubkey), MESH_OK);
    snprintf(path, sizeof(path), "%s/pub-only.pem", tmpdir);
    assert_int_equal(mesh_key_write_pem_file(pubkey, path, true, false),
                     MESH_ERR_KEY_NOT_PRIVATE);
    assert_int_equal(mesh_key_write_pem_file(key, "/nonexistent-dir/k.pem", true, false),
                     MESH_ERR_IO);
    assert_int_equal(mesh_key_write_pem_file(NULL, path, true, false), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_key_public_pem(NULL, &pem), MESH_ERR_INVALID_ARG);
    assert_int_equal(access(path, F_OK), -1);
    mesh_free(pem);
    mesh_key_free(pubkey);
    mesh_key_free(key);
}

static void test_load_pem_file_failures(void **state)
{
    mesh_key_t *key = SENTINEL;
    char path[128];
    FILE *f;

    (void)state;
    assert_int_equal(mesh_key_load_pem_file("/nonexistent/key.pem", MESH_ALG_UNSET, &key),
                     MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "/nonexistent/key.pem"));
    snprintf(path, sizeof(path), "%s/junk.pem", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(mesh_key_load_pem_file(path, MESH_ALG_UNSET, &key), MESH_ERR_KEY_PARSE);
    assert_non_null(strstr(mesh_err_detail(), path));
    assert_int_equal(mesh_key_load_pem_file(NULL, MESH_ALG_UNSET, &key), MESH_ERR_INVALID_ARG);
    assert_ptr_equal(key, SENTINEL);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_generate_each_type),
        cmocka_unit_test(test_generate_rsa_e_65537),
        cmocka_unit_test(test_ref_and_free),
        cmocka_unit_test(test_pem_each_type_and_form),
        cmocka_unit_test(test_pem_rsa_pss_alg),
        cmocka_unit_test(test_pem_rsa_1024_is_weak),
        cmocka_unit_test(test_pem_unsupported_curve_and_type),
        cmocka_unit_test(test_pem_garbage_and_encrypted),
        cmocka_unit_test(test_jwk_rsa),
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
        cmocka_unit_test(test_write_pem_file),
        cmocka_unit_test(test_write_pem_file_failures),
        cmocka_unit_test(test_load_pem_file_failures),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
