/* SPDX-License-Identifier: Apache-2.0 */
/* Building access tokens for the issuer: RFC 9068 claims, RFC 8705 cnf, a fresh jti. */
#include <string.h>

#include <mesh/jwt.h>

#include "b64url.h"
#include "internal.h"
#include "json_emit.h"
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

/* The claims, in the order of DESIGN.md "Tokens", into w. */
static void claims_json(mesh_jemit_t *w, const mesh_jwt_claims_in_t *in, const char *jti)
{
    mesh_jemit_raw(w, "{\"iss\":");
    mesh_jemit_str(w, in->iss);
    mesh_jemit_raw(w, ",\"sub\":");
    mesh_jemit_str(w, in->sub);
    mesh_jemit_raw(w, ",\"aud\":");
    mesh_jemit_str(w, in->aud);
    mesh_jemit_raw(w, ",\"iat\":");
    mesh_jemit_int(w, in->iat);
    mesh_jemit_raw(w, ",\"nbf\":");
    mesh_jemit_int(w, in->iat);
    mesh_jemit_raw(w, ",\"exp\":");
    mesh_jemit_int(w, in->iat + in->ttl);
    mesh_jemit_raw(w, ",\"jti\":");
    mesh_jemit_str(w, jti);
    if (nonempty(in->scope)) {
        mesh_jemit_raw(w, ",\"scope\":");
        mesh_jemit_str(w, in->scope);
    }
    if (nonempty(in->client_id)) {
        mesh_jemit_raw(w, ",\"client_id\":");
        mesh_jemit_str(w, in->client_id);
    }
    if (in->x5t_s256 != NULL) {
        /* RFC 8705 §3.1: the token is bound to the certificate with this thumbprint. */
        mesh_jemit_raw(w, ",\"cnf\":{\"x5t#S256\":");
        mesh_jemit_str(w, in->x5t_s256);
        mesh_jemit_raw(w, "}");
    }
    mesh_jemit_raw(w, "}");
}

MESH_EXPORT mesh_err_t mesh_jwt_sign(const mesh_key_t *key, const mesh_jwt_claims_in_t *in,
                                     char **token, char jti[MESH_JTI_LEN + 1])
{
    uint8_t rnd[MESH_RANDOM_ID_BYTES];
    char id[MESH_JTI_LEN + 1];
    /* Claims that do not fit here would make a token over the limit anyway. */
    char payload[MESH_MAX_TOKEN_BYTES];
    mesh_jemit_t w;
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
    rc = mesh_random_id(rnd);
    if (rc != MESH_OK) {
        return rc;
    }
    mesh_b64url_encode(rnd, sizeof(rnd), id);
    mesh_jemit_init(&w, payload, sizeof(payload));
    claims_json(&w, in, id);
    if (w.err == MESH_ERR_UTF8) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: a claim string is not valid UTF-8");
    }
    if (w.err != MESH_OK) {
        return mesh_err_set(MESH_ERR_LIMIT, "JWT sign: the claims would make a token over %d bytes",
                            MESH_MAX_TOKEN_BYTES);
    }
    rc = mesh_jws_sign(key, MESH_TYP_AT_JWT, payload, w.len, token);
    if (rc == MESH_OK && jti != NULL) {
        memcpy(jti, id, sizeof(id));
    }
    return rc;
}
