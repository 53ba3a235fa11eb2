/* SPDX-License-Identifier: Apache-2.0 */
/* JWK in and out (RFC 7517, RFC 7518 §6, RFC 8037 §2) and the RFC 7638 member set. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "b64url.h"
#include "internal.h"
#include "json.h"
#include "key_internal.h"

#define RSA_MAX_BYTES (MESH_MAX_RSA_BITS / 8)
#define P256_BYTES    32
#define ED25519_BYTES 32

/* ---- out: the public members ---- */

static mesh_err_t set_b64(json_t *obj, const char *name, const uint8_t *buf, size_t len)
{
    char enc[((RSA_MAX_BYTES + 2) / 3) * 4 + 1];

    if (len > RSA_MAX_BYTES) {
        return mesh_err_set(MESH_ERR_INTERNAL, "JWK member %s too long", name);
    }
    mesh_b64url_encode(buf, len, enc);
    if (json_object_set_new(obj, name, json_string(enc)) != 0) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWK member %s: out of memory", name);
    }
    return MESH_OK;
}

/* A BIGNUM parameter as base64url; `pad` > 0 gives a fixed width (EC), 0 the minimum (RSA). */
static mesh_err_t set_bn(json_t *obj, const char *name, const EVP_PKEY *pkey, const char *param,
                         int pad)
{
    uint8_t buf[RSA_MAX_BYTES];
    BIGNUM *bn = NULL;
    int len;
    mesh_err_t rc;

    if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "reading a public key parameter");
    }
    len = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_num_bytes(bn);
    if (len < 0 || len > (int)sizeof(buf)) {
        rc = mesh_err_set(MESH_ERR_INTERNAL, "JWK member %s does not fit", name);
    } else {
        if (pad == 0) {
            BN_bn2bin(bn, buf);
        }
        rc = set_b64(obj, name, buf, (size_t)len);
    }
    BN_free(bn);
    return rc;
}

static mesh_err_t okp_members(json_t *obj, const EVP_PKEY *pkey)
{
    uint8_t x[ED25519_BYTES];
    size_t len = sizeof(x);

    if (EVP_PKEY_get_raw_public_key(pkey, x, &len) != 1 || len != sizeof(x)) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "reading an Ed25519 public key");
    }
    /* RFC 8037 §2: crv, kty, x. */
    if (json_object_set_new(obj, "kty", json_string("OKP")) != 0 ||
        json_object_set_new(obj, "crv", json_string("Ed25519")) != 0) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWK: out of memory");
    }
    return set_b64(obj, "x", x, len);
}

mesh_err_t mesh_key_public_members(const EVP_PKEY *pkey, json_t **out)
{
    json_t *obj = json_object();
    mesh_err_t rc = MESH_ERR_NOMEM;

    if (obj == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWK: out of memory");
    }
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA: /* RFC 7638 §3.2: e, kty, n */
        if (json_object_set_new(obj, "kty", json_string("RSA")) == 0 &&
            (rc = set_bn(obj, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0)) == MESH_OK) {
            rc = set_bn(obj, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        }
        break;
    case EVP_PKEY_EC: /* RFC 7638 §3.2: crv, kty, x, y; RFC 7518 §6.2.1.2: 32 bytes each */
        if (json_object_set_new(obj, "kty", json_string("EC")) == 0 &&
            json_object_set_new(obj, "crv", json_string("P-256")) == 0 &&
            (rc = set_bn(obj, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X, P256_BYTES)) == MESH_OK) {
            rc = set_bn(obj, "y", pkey, OSSL_PKEY_PARAM_EC_PUB_Y, P256_BYTES);
        }
        break;
    case EVP_PKEY_ED25519:
        rc = okp_members(obj, pkey);
        break;
    default:
        rc = mesh_err_set(MESH_ERR_KEY_UNSUPPORTED, "JWK: unsupported key type");
        break;
    }
    if (rc != MESH_OK) {
        json_decref(obj);
        return rc == MESH_ERR_NOMEM ? mesh_err_set(rc, "JWK: out of memory") : rc;
    }
    *out = obj;
    return MESH_OK;
}

mesh_err_t mesh_key_to_jwk_json(const mesh_key_t *key, json_t **out)
{
    json_t *obj = NULL;
    mesh_err_t rc = mesh_key_public_members(key->pkey, &obj);

    if (rc != MESH_OK) {
        return rc;
    }
    /* RFC 7517 §4.2, §4.4, §4.5 */
    if (json_object_set_new(obj, "use", json_string("sig")) != 0 ||
        json_object_set_new(obj, "alg", json_string(mesh_alg_name(key->alg))) != 0 ||
        json_object_set_new(obj, "kid", json_string(key->kid)) != 0) {
        json_decref(obj);
        return mesh_err_set(MESH_ERR_NOMEM, "JWK: out of memory");
    }
    *out = obj;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_key_to_jwk(const mesh_key_t *key, char **out)
{
    json_t *obj = NULL;
    char *s;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_to_jwk: NULL argument");
    }
    rc = mesh_key_to_jwk_json(key, &obj);
    if (rc != MESH_OK) {
        return rc;
    }
    s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    if (s == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWK: out of memory");
    }
    *out = s;
    return MESH_OK;
}
