/* SPDX-License-Identifier: Apache-2.0 */
/* Building access tokens for the issuer: RFC 9068 claims, RFC 8705 cnf, a fresh jti. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jwt.h>

#include "b64url.h"
#include "internal.h"
#include "jws_internal.h"

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static mesh_err_t check_in(const mesh_jwt_claims_in_t *in)
{
    if (!nonempty(in->iss) || !nonempty(in->sub) || !nonempty(in->aud)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: iss, sub and aud are required");
    }
    if (in->ttl <= 0 || in->ttl > MESH_TTL_MAX) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: ttl %lld is outside 1..%d s",
                            (long long)in->ttl, MESH_TTL_MAX);
    }
    if (in->iat < 0 || in->iat > INT64_MAX - in->ttl) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: iat %lld is out of range",
                            (long long)in->iat);
    }
    if (in->x5t_s256 != NULL && strlen(in->x5t_s256) != MESH_X5T_LEN) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "JWT sign: x5t#S256 must be %d base64url characters", MESH_X5T_LEN);
    }
    return MESH_OK;
}

/* Claims in the order of DESIGN.md "Tokens"; NULL when a string is not valid UTF-8. */
static json_t *claims_build(const mesh_jwt_claims_in_t *in, const char *jti)
{
    json_t *c = json_object();
    int bad = c == NULL;

    bad = bad || json_object_set_new(c, "iss", json_string(in->iss));
    bad = bad || json_object_set_new(c, "sub", json_string(in->sub));
    bad = bad || json_object_set_new(c, "aud", json_string(in->aud));
    bad = bad || json_object_set_new(c, "iat", json_integer(in->iat));
    bad = bad || json_object_set_new(c, "nbf", json_integer(in->iat));
    bad = bad || json_object_set_new(c, "exp", json_integer(in->iat + in->ttl));
    bad = bad || json_object_set_new(c, "jti", json_string(jti));
    if (nonempty(in->scope)) {
        bad = bad || json_object_set_new(c, "scope", json_string(in->scope));
    }
    if (nonempty(in->client_id)) {
        bad = bad || json_object_set_new(c, "client_id", json_string(in->client_id));
    }
    if (in->x5t_s256 != NULL) {
        /* RFC 8705 §3.1: the token is bound to the certificate with this thumbprint. */
        bad = bad || json_object_set_new(c, "cnf", json_pack("{s:s}", "x5t#S256", in->x5t_s256));
    }
    if (bad) {
        json_decref(c);
        return NULL;
    }
    return c;
}

MESH_EXPORT mesh_err_t mesh_jwt_sign(const mesh_key_t *key, const mesh_jwt_claims_in_t *in,
                                     char **token, char jti[MESH_JTI_LEN + 1])
{
    uint8_t rnd[16];
    char id[MESH_JTI_LEN + 1];
    json_t *claims;
    char *payload;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || in == NULL || token == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: NULL argument");
    }
    rc = check_in(in);
    if (rc != MESH_OK) {
        return rc;
    }
    /* DESIGN.md "Tokens": jti is 128 random bits, base64url (22 characters). */
    rc = mesh_random_bytes(rnd, sizeof(rnd));
    if (rc != MESH_OK) {
        return rc;
    }
    mesh_b64url_encode(rnd, sizeof(rnd), id);
    claims = claims_build(in, id);
    if (claims == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: a claim string is not valid UTF-8");
    }
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(claims);
    if (payload == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWT sign: out of memory");
    }
    rc = mesh_jws_sign(key, MESH_TYP_AT_JWT, payload, strlen(payload), token);
    free(payload);
    if (rc == MESH_OK && jti != NULL) {
        memcpy(jti, id, sizeof(id));
    }
    return rc;
}
