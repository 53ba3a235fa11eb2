/* SPDX-License-Identifier: Apache-2.0 */
/* JWK to mesh_key_t: RFC 7517 (common members), RFC 7518 §6 (RSA, EC), RFC 8037 §2 (OKP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include "b64url.h"
#include "internal.h"
#include "json.h"
#include "key_internal.h"

#define RSA_MAX_BYTES (MESH_MAX_RSA_BITS / 8)
#define P256_BYTES    32
#define ED25519_BYTES 32
#define FIELD_MAX     (RSA_MAX_BYTES + 1)

/* A string member, or NULL when absent; present but not a string is MESH_ERR_KEY_PARSE. */
static mesh_err_t get_str(const json_t *jwk, const char *name, const char *what, const char **out)
{
    const json_t *v = json_object_get(jwk, name);

    *out = NULL;
    if (v == NULL) {
        return MESH_OK;
    }
    if (!json_is_string(v)) {
        return mesh_err_set(MESH_ERR_KEY_PARSE, "%s: JWK member \"%s\" must be a string", what,
                            name);
    }
    /* A NUL inside a member would make two different strings compare equal in C. */
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        return mesh_err_set(MESH_ERR_KEY_PARSE,
                            "%s: JWK member \"%s\" contains a NUL "
                            "character",
                            what, name);
    }
    *out = json_string_value(v);
    return MESH_OK;
}

/*
 * Decodes a base64url member into buf (capacity FIELD_MAX). `exact` > 0 demands that many bytes
 * (RFC 7518 §6.2.1.2); `minimal` rejects a leading zero byte (RFC 7518 §2, Base64urlUInt).
 */
static mesh_err_t get_bytes(const json_t *jwk, const char *name, const char *what, size_t exact,
                            bool minimal, uint8_t *buf, size_t *len)
{
    const char *s = NULL;
    mesh_err_t rc = get_str(jwk, name, what, &s);

    if (rc != MESH_OK) {
        return rc;
    }
    if (s == NULL) {
        return mesh_err_set(MESH_ERR_KEY_PARSE, "%s: JWK member \"%s\" is missing", what, name);
    }
    rc = mesh_b64url_decode(s, strlen(s), buf, FIELD_MAX, len);
    if (rc == MESH_ERR_LIMIT) {
        return mesh_err_set(MESH_ERR_LIMIT, "%s: JWK member \"%s\" is longer than %d bytes", what,
                            name, FIELD_MAX);
    }
    if (rc != MESH_OK) {
        return mesh_err_set(rc,
                            "%s: JWK member \"%s\" is not strict base64url (no padding, "
                            "no whitespace, alphabet A-Z a-z 0-9 - _)",
                            what, name);
    }
    if (exact > 0 && *len != exact) {
        return mesh_err_set(MESH_ERR_KEY_INVALID,
                            "%s: JWK member \"%s\" must be exactly %zu "
                            "bytes, got %zu",
                            what, name, exact, *len);
    }
    if (minimal && (*len == 0 || buf[0] == 0)) {
        return mesh_err_set(MESH_ERR_KEY_INVALID,
                            "%s: JWK member \"%s\" must be the minimal "
                            "big-endian encoding (no leading zero byte)",
                            what, name);
    }
    return MESH_OK;
}

/* A big-endian unsigned member pushed onto the param builder; secret values are wiped. */
static mesh_err_t push_bn(OSSL_PARAM_BLD *bld, const json_t *jwk, const char *name,
                          const char *param, bool secret, const char *what, BIGNUM **keep)
{
    uint8_t buf[FIELD_MAX];
    size_t len = 0;
    BIGNUM *bn = NULL;
    mesh_err_t rc = get_bytes(jwk, name, what, 0, !secret, buf, &len);

    if (rc != MESH_OK) {
        goto out;
    }
    bn = secret ? BN_secure_new() : BN_new();
    if (bn == NULL || BN_bin2bn(buf, (int)len, bn) == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, param, bn) != 1) {
        BN_clear_free(bn);
        rc = mesh_err_openssl(MESH_ERR_NOMEM, what);
        goto out;
    }
    *keep = bn; /* the builder refers to bn until OSSL_PARAM_BLD_to_param */
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

static mesh_err_t from_params(const char *type, OSSL_PARAM_BLD *bld, bool priv, const char *what,
                              EVP_PKEY **out)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    mesh_err_t rc = MESH_OK;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = mesh_err_openssl(MESH_ERR_KEY_INVALID, what);
    } else {
        *out = pkey;
    }
    OSSL_PARAM_free(params); /* secure BNs were copied to secure memory, cleared on free */
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* RFC 7518 §6.3.2: with d, the CRT members p, q, dp, dq, qi come all together or not at all. */
static const char *const rsa_priv_names[] = {"d", "p", "q", "dp", "dq", "qi"};
static const char *const rsa_priv_params[] = {
    OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,
    OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
};

static mesh_err_t rsa_private_count(const json_t *jwk, const char *what, size_t *n)
{
    size_t crt = 0;

    if (json_object_get(jwk, "oth") != NULL) {
        return mesh_err_set(MESH_ERR_KEY_UNSUPPORTED,
                            "%s: multi-prime RSA (\"oth\") is not "
                            "supported",
                            what);
    }
    for (size_t i = 1; i < MESH_ARRAY_LEN(rsa_priv_names); i++) {
        crt += json_object_get(jwk, rsa_priv_names[i]) != NULL;
    }
    if (json_object_get(jwk, "d") == NULL) {
        *n = 0;
        return crt == 0 ? MESH_OK
                        : mesh_err_set(MESH_ERR_KEY_PARSE,
                                       "%s: RSA JWK has CRT members but "
                                       "no \"d\"",
                                       what);
    }
    if (crt != 0 && crt != 5) {
        return mesh_err_set(MESH_ERR_KEY_PARSE,
                            "%s: RSA JWK must have all of p, q, dp, dq, qi "
                            "or none",
                            what);
    }
    *n = 1 + crt;
    return MESH_OK;
}

/* For a private JWK, the private members must belong to the public ones beside them. */
static mesh_err_t pair_check(EVP_PKEY *pkey, const char *what)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    mesh_err_t rc = MESH_OK;

    if (ctx == NULL || EVP_PKEY_pairwise_check(ctx) != 1) {
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_KEY_INVALID,
                          "%s: JWK private key \"d\" does not match its "
                          "public key",
                          what);
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/*
 * With "d" alone (RFC 7518 §6.3.2 allows it) OpenSSL has no p and q to check, so check the
 * defining property instead: (2^e)^d = 2 mod n.
 */
static mesh_err_t rsa_d_check(BIGNUM *const *bns, const char *what)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *x = BN_new();
    BIGNUM *y = BN_new();
    mesh_err_t rc = MESH_OK;

    if (ctx == NULL || x == NULL || y == NULL || !BN_set_word(x, 2) ||
        !BN_mod_exp(y, x, bns[1], bns[0], ctx) ||
        !BN_mod_exp_mont_consttime(y, y, bns[2], bns[0], ctx, NULL)) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, what);
    } else if (BN_cmp(x, y) != 0) {
        rc = mesh_err_set(MESH_ERR_KEY_INVALID,
                          "%s: JWK private key \"d\" does not match its "
                          "public key",
                          what);
    }
    BN_clear_free(y);
    BN_free(x);
    BN_CTX_free(ctx);
    return rc;
}

static mesh_err_t jwk_rsa(const json_t *jwk, const char *what, EVP_PKEY **out)
{
    BIGNUM *bns[8] = {NULL};
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    size_t npriv = 0;
    mesh_err_t rc = rsa_private_count(jwk, what, &npriv);

    if (bld == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "%s: out of memory", what);
    }
    if (rc != MESH_OK) {
        goto out;
    }
    /* RFC 7518 §6.3.1: n and e are Base64urlUInt, minimal encodings. */
    rc = push_bn(bld, jwk, "n", OSSL_PKEY_PARAM_RSA_N, false, what, &bns[0]);
    if (rc == MESH_OK) {
        rc = push_bn(bld, jwk, "e", OSSL_PKEY_PARAM_RSA_E, false, what, &bns[1]);
    }
    for (size_t i = 0; i < npriv && rc == MESH_OK; i++) {
        rc = push_bn(bld, jwk, rsa_priv_names[i], rsa_priv_params[i], true, what, &bns[2 + i]);
    }
    if (rc == MESH_OK && npriv == 1) {
        rc = rsa_d_check(bns, what);
    }
    if (rc == MESH_OK) {
        rc = from_params("RSA", bld, npriv > 0, what, &pkey);
    }
    if (rc == MESH_OK && npriv > 1) {
        rc = pair_check(pkey, what); /* RFC 8017 §3.2: p, q, dP, dQ, qInv consistent */
    }
    if (rc == MESH_OK) {
        *out = pkey;
        pkey = NULL;
    }
out:
    EVP_PKEY_free(pkey);
    for (size_t i = 0; i < MESH_ARRAY_LEN(bns); i++) {
        BN_clear_free(bns[i]);
    }
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

static mesh_err_t jwk_ec(const json_t *jwk, const char *what, EVP_PKEY **out)
{
    uint8_t pub[1 + 2 * FIELD_MAX];
    uint8_t d[FIELD_MAX];
    char msg[300];
    size_t xl = 0, yl = 0, dl = 0;
    BIGNUM *dbn = NULL;
    EVP_PKEY *pkey = NULL;
    bool priv = json_object_get(jwk, "d") != NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    mesh_err_t rc = bld != NULL ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "%s: no memory", what);

    /* RFC 7518 §6.2.1.2-3, §6.2.2.1: x, y and d are exactly 32 bytes for P-256. */
    pub[0] = 0x04; /* SEC 1 §2.3.3 uncompressed point */
    if (rc == MESH_OK) {
        rc = get_bytes(jwk, "x", what, P256_BYTES, false, pub + 1, &xl);
    }
    if (rc == MESH_OK) {
        rc = get_bytes(jwk, "y", what, P256_BYTES, false, pub + 1 + P256_BYTES, &yl);
    }
    if (rc == MESH_OK && priv) {
        rc = get_bytes(jwk, "d", what, P256_BYTES, false, d, &dl);
    }
    if (rc != MESH_OK) {
        goto out;
    }
    dbn = priv ? BN_secure_new() : NULL;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * P256_BYTES) !=
            1 ||
        (priv && (dbn == NULL || BN_bin2bn(d, (int)dl, dbn) == NULL ||
                  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dbn) != 1))) {
        rc = mesh_err_openssl(MESH_ERR_NOMEM, what);
        goto out;
    }
    (void)snprintf(msg, sizeof(msg), "%s: EC point (x, y) is not on P-256", what);
    rc = from_params("EC", bld, priv, msg, &pkey);
    if (rc == MESH_OK && priv) {
        rc = pair_check(pkey, what);
    }
    if (rc == MESH_OK) {
        *out = pkey;
        pkey = NULL;
    }
out:
    EVP_PKEY_free(pkey);
    BN_clear_free(dbn);
    OSSL_PARAM_BLD_free(bld);
    OPENSSL_cleanse(d, sizeof(d));
    return rc;
}

static mesh_err_t jwk_okp(const json_t *jwk, const char *what, EVP_PKEY **out)
{
    uint8_t x[FIELD_MAX], d[FIELD_MAX], derived[ED25519_BYTES];
    size_t xl = 0, dl = 0, derived_len = sizeof(derived);
    EVP_PKEY *pkey = NULL;
    bool priv = json_object_get(jwk, "d") != NULL;
    mesh_err_t rc = get_bytes(jwk, "x", what, ED25519_BYTES, false, x, &xl);

    /* RFC 8037 §2: x is the 32-byte public key, d the 32-byte private key. */
    if (rc == MESH_OK && priv) {
        rc = get_bytes(jwk, "d", what, ED25519_BYTES, false, d, &dl);
    }
    if (rc != MESH_OK) {
        goto out;
    }
    pkey = priv ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, dl)
                : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
    if (pkey == NULL) {
        rc = mesh_err_openssl(MESH_ERR_KEY_INVALID, what);
        goto out;
    }
    if (priv && (EVP_PKEY_get_raw_public_key(pkey, derived, &derived_len) != 1 ||
                 CRYPTO_memcmp(derived, x, ED25519_BYTES) != 0)) {
        rc = mesh_err_set(MESH_ERR_KEY_INVALID,
                          "%s: JWK private key \"d\" does not match its "
                          "public key \"x\"",
                          what);
        goto out;
    }
    *out = pkey;
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    OPENSSL_cleanse(d, sizeof(d));
    return rc;
}

/* RFC 7517 §4.2-4.3: a key marked for encryption only cannot verify signatures. */
static mesh_err_t jwk_usage(const json_t *jwk, const char *what)
{
    const char *use = NULL;
    const json_t *ops = json_object_get(jwk, "key_ops");
    mesh_err_t rc = get_str(jwk, "use", what, &use);
    size_t i;
    const json_t *op;

    if (rc != MESH_OK) {
        return rc;
    }
    if (use != NULL && strcmp(use, "sig") != 0) {
        return mesh_err_set(MESH_ERR_KEY_UNSUPPORTED,
                            "%s: JWK \"use\" is \"%.32s\"; only \"sig\" "
                            "keys are used",
                            what, use);
    }
    if (ops == NULL) {
        return MESH_OK;
    }
    if (!json_is_array(ops)) {
        return mesh_err_set(MESH_ERR_KEY_PARSE, "%s: JWK \"key_ops\" must be an array", what);
    }
    json_array_foreach(ops, i, op)
    {
        const char *s = json_string_value(op);
        if (s != NULL && (strcmp(s, "verify") == 0 || strcmp(s, "sign") == 0)) {
            return MESH_OK;
        }
    }
    return mesh_err_set(MESH_ERR_KEY_UNSUPPORTED,
                        "%s: JWK \"key_ops\" allows neither sign nor "
                        "verify",
                        what);
}

/* RFC 8725 §3.1: a JWK "alg" and the caller's alg must agree; an unknown alg is unsupported. */
static mesh_err_t jwk_alg(const json_t *jwk, mesh_alg_t want, const char *what, mesh_alg_t *out)
{
    const char *name = NULL;
    mesh_alg_t alg;
    mesh_err_t rc = get_str(jwk, "alg", what, &name);

    if (rc != MESH_OK) {
        return rc;
    }
    if (name == NULL) {
        *out = want;
        return MESH_OK;
    }
    alg = mesh_alg_from_name(name, strlen(name));
    if (alg == MESH_ALG_UNSET) {
        return mesh_err_set(MESH_ERR_KEY_UNSUPPORTED,
                            "%s: JWK \"alg\" \"%.32s\" is not "
                            "supported (RS256, PS256, ES256, EdDSA)",
                            what, name);
    }
    if (want != MESH_ALG_UNSET && want != alg) {
        return mesh_err_set(MESH_ERR_KEY_UNSUPPORTED,
                            "%s: JWK \"alg\" is %s but %s was asked "
                            "for",
                            what, name, mesh_alg_name(want));
    }
    *out = alg;
    return MESH_OK;
}

static mesh_err_t jwk_pkey(const json_t *jwk, const char *what, EVP_PKEY **out)
{
    const char *kty = NULL;
    const char *crv = NULL;
    mesh_err_t rc = get_str(jwk, "kty", what, &kty);

    if (rc == MESH_OK) {
        rc = get_str(jwk, "crv", what, &crv);
    }
    if (rc != MESH_OK) {
        return rc;
    }
    if (kty == NULL) {
        return mesh_err_set(MESH_ERR_KEY_PARSE, "%s: JWK has no \"kty\"", what);
    }
    if (strcmp(kty, "RSA") == 0) {
        return jwk_rsa(jwk, what, out);
    }
    if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0) {
        return jwk_ec(jwk, what, out);
    }
    if (strcmp(kty, "OKP") == 0 && crv != NULL && strcmp(crv, "Ed25519") == 0) {
        return jwk_okp(jwk, what, out);
    }
    if (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0) {
        return mesh_err_set(MESH_ERR_KEY_UNSUPPORTED,
                            "%s: JWK curve \"%.32s\" is not supported "
                            "for kty %s (P-256, Ed25519)",
                            what, crv ? crv : "(none)", kty);
    }
    /* "oct" included: HMAC keys are deliberately not supported (RFC 8725 §2.1). */
    return mesh_err_set(MESH_ERR_KEY_UNSUPPORTED,
                        "%s: JWK kty \"%.32s\" is not supported (RSA, "
                        "EC, OKP)",
                        what, kty);
}

mesh_err_t mesh_key_from_jwk_json(const json_t *jwk, mesh_alg_t alg, const char *what,
                                  mesh_key_t **out)
{
    const char *kid = NULL;
    EVP_PKEY *pkey = NULL;
    mesh_alg_t key_alg = MESH_ALG_UNSET;
    mesh_err_t rc;

    if (!json_is_object(jwk)) {
        return mesh_err_set(MESH_ERR_KEY_PARSE, "%s: a JWK must be a JSON object", what);
    }
    rc = jwk_usage(jwk, what);
    if (rc == MESH_OK) {
        rc = jwk_alg(jwk, alg, what, &key_alg);
    }
    if (rc == MESH_OK) {
        rc = get_str(jwk, "kid", what, &kid);
    }
    if (rc == MESH_OK) {
        rc = jwk_pkey(jwk, what, &pkey);
    }
    if (rc != MESH_OK) {
        return rc;
    }
    return mesh_key_wrap(pkey, key_alg, kid, what, out);
}

MESH_EXPORT mesh_err_t mesh_key_from_jwk(const char *json, size_t len, mesh_alg_t alg,
                                         mesh_key_t **out)
{
    json_t *jwk = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    if (json == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_from_jwk: NULL argument");
    }
    if (len > MESH_MAX_JWK_BYTES) {
        return mesh_err_set(MESH_ERR_LIMIT, "JWK: %zu bytes, over the %d-byte limit", len,
                            MESH_MAX_JWK_BYTES);
    }
    rc = mesh_json_parse_object(json, len, MESH_MAX_JSON_DEPTH, "JWK", &jwk);
    if (rc == MESH_OK) {
        rc = mesh_key_from_jwk_json(jwk, alg, "JWK", out);
    }
    json_decref(jwk);
    return rc;
}
