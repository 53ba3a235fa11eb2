/* SPDX-License-Identifier: Apache-2.0 */
/* Building access tokens for the issuer: RFC 9068 claims, RFC 8705 cnf, a fresh jti. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/jwt.h>

#include "b64url.h"
#include "internal.h"
#include "opts.h"
#include "json_emit.h"
#include "jws_internal.h"

/* mesh_jwt_claims_in_t (jwt.h): what the issuer puts in a token, every string owned. */
struct mesh_jwt_claims_in {
    char *iss, *sub, *aud, *scope, *client_id, *x5t_s256; /* NULL: not set */
    int64_t iat;                                          /* -1: the clock at signing */
    int64_t ttl;
};

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_new(mesh_jwt_claims_in_t **out)
{
    struct mesh_jwt_claims_in *in;

    mesh_err_clear();
    if (out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_jwt_claims_in_new: out is NULL");
    }
    if ((in = calloc(1, sizeof(*in))) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWT claims");
    }
    in->iat = -1;
    in->ttl = MESH_TTL_DEFAULT;
    *out = in;
    return MESH_OK;
}

MESH_EXPORT void mesh_jwt_claims_in_free(mesh_jwt_claims_in_t *in)
{
    if (in == NULL) {
        return;
    }
    free(in->iss);
    free(in->sub);
    free(in->aud);
    free(in->scope);
    free(in->client_id);
    free(in->x5t_s256);
    free(in);
}

/* *slot = a copy of `v`; "" or NULL clear it when `optional`, else are refused. A string
 * longer than `max` is MESH_ERR_LIMIT. */
static mesh_err_t set_str(mesh_jwt_claims_in_t *in, char **slot, const char *v, bool optional,
                          size_t max, const char *name)
{
    MESH_OPT_NEED(in, "JWT claim", name);
    return mesh_opt_str("JWT claim", name, slot, v, max, MESH_ERR_LIMIT,
                        optional ? MESH_OPT_EMPTY_UNSETS : MESH_OPT_REQUIRED);
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_set_issuer(mesh_jwt_claims_in_t *in, const char *iss)
{
    return set_str(in, in != NULL ? &in->iss : NULL, iss, false, MESH_MAX_CLAIM_STRING, "iss");
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_set_subject(mesh_jwt_claims_in_t *in, const char *sub)
{
    return set_str(in, in != NULL ? &in->sub : NULL, sub, false, MESH_MAX_CLAIM_STRING, "sub");
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_set_audience(mesh_jwt_claims_in_t *in, const char *aud)
{
    return set_str(in, in != NULL ? &in->aud : NULL, aud, false, MESH_MAX_CLAIM_STRING, "aud");
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_set_scopes(mesh_jwt_claims_in_t *in, const char *scope)
{
    return set_str(in, in != NULL ? &in->scope : NULL, scope, true, MESH_MAX_TOKEN_BYTES, "scope");
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_set_client_id(mesh_jwt_claims_in_t *in, const char *id)
{
    return set_str(in, in != NULL ? &in->client_id : NULL, id, true, MESH_MAX_CLAIM_STRING,
                   "client_id");
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_set_x5t(mesh_jwt_claims_in_t *in, const char *x5t)
{
    if (x5t != NULL && strlen(x5t) != MESH_X5T_LEN) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "JWT claim cnf.x5t#S256: must be %d base64url characters",
                            MESH_X5T_LEN);
    }
    return set_str(in, in != NULL ? &in->x5t_s256 : NULL, x5t, true, MESH_X5T_LEN, "cnf");
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_set_issued_at(mesh_jwt_claims_in_t *in, int64_t iat)
{
    mesh_err_clear();
    if (in == NULL || iat < 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT claim iat: %lld is out of range",
                            (long long)iat);
    }
    in->iat = iat;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_jwt_claims_in_set_ttl(mesh_jwt_claims_in_t *in, int64_t ttl)
{
    mesh_err_clear();
    if (in == NULL || ttl <= 0 || ttl > MESH_TTL_MAX) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT claim ttl: %lld is outside 1..%d s",
                            (long long)ttl, MESH_TTL_MAX);
    }
    in->ttl = ttl;
    return MESH_OK;
}

/* What no setter can judge alone: the required claims, and iat + ttl in range. */
static mesh_err_t check_in(const mesh_jwt_claims_in_t *in, int64_t iat)
{
    if (!nonempty(in->iss) || !nonempty(in->sub) || !nonempty(in->aud)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: iss, sub and aud are required");
    }
    if (iat > INT64_MAX - in->ttl) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: iat %lld is out of range",
                            (long long)iat);
    }
    return MESH_OK;
}

/* The claims, in the order of DESIGN.md "Tokens", into w. */
static void claims_json(mesh_jemit_t *w, const mesh_jwt_claims_in_t *in, int64_t iat,
                        const char *jti)
{
    mesh_jemit_raw(w, "{\"iss\":");
    mesh_jemit_str(w, in->iss);
    mesh_jemit_raw(w, ",\"sub\":");
    mesh_jemit_str(w, in->sub);
    mesh_jemit_raw(w, ",\"aud\":");
    mesh_jemit_str(w, in->aud);
    mesh_jemit_raw(w, ",\"iat\":");
    mesh_jemit_int(w, iat);
    mesh_jemit_raw(w, ",\"nbf\":");
    mesh_jemit_int(w, iat);
    mesh_jemit_raw(w, ",\"exp\":");
    mesh_jemit_int(w, iat + in->ttl);
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
    int64_t iat;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || in == NULL || token == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT sign: NULL argument");
    }
    iat = in->iat >= 0 ? in->iat : (int64_t)time(NULL);
    rc = check_in(in, iat);
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
    claims_json(&w, in, iat, id);
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
