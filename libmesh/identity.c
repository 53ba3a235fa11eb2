/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_identity_t (jwt.h): what a verified token said. Immutable once returned, so every
 * accessor is a plain read; only the reference count changes. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jwt.h>
#include <mesh/limits.h>

#include "internal.h"
#include "jwt_internal.h"

MESH_EXPORT mesh_identity_t *mesh_identity_ref(mesh_identity_t *id)
{
    if (id != NULL) {
        atomic_fetch_add_explicit(&id->refs, 1, memory_order_relaxed);
    }
    return id;
}

MESH_EXPORT void mesh_identity_free(mesh_identity_t *id)
{
    if (id != NULL && atomic_fetch_sub_explicit(&id->refs, 1, memory_order_acq_rel) == 1) {
        json_decref(id->root);
        free(id->scope_buf);
        free(id);
    }
}

#define IDENTITY_STR(name, field)                                                                  \
    MESH_EXPORT const char *mesh_identity_##name(const mesh_identity_t *id)                        \
    {                                                                                              \
        return id != NULL ? id->field : "";                                                        \
    }
IDENTITY_STR(issuer, iss)
IDENTITY_STR(subject, sub)
IDENTITY_STR(audience, aud)
IDENTITY_STR(scopes, scope)
IDENTITY_STR(jti, jti)
IDENTITY_STR(client_id, client_id)
IDENTITY_STR(x5t, x5t)

#define IDENTITY_TIME(name, field)                                                                 \
    MESH_EXPORT int64_t mesh_identity_##name(const mesh_identity_t *id)                            \
    {                                                                                              \
        return id != NULL ? id->field : 0;                                                         \
    }
IDENTITY_TIME(expiry, exp)
IDENTITY_TIME(issued_at, iat)
IDENTITY_TIME(not_before, nbf)

MESH_EXPORT bool mesh_identity_has_scope(const mesh_identity_t *id, const char *scope)
{
    return id != NULL && scope != NULL && mesh_words_contains(id->scope, scope);
}

/* The aud claim was type-checked when the token was verified: a string or an array of
 * strings (jwt_claims.c). */
MESH_EXPORT bool mesh_identity_has_audience(const mesh_identity_t *id, const char *aud)
{
    size_t i, n;
    json_t *e;

    if (id == NULL || aud == NULL || id->aud_claim == NULL || (n = strlen(aud)) == 0) {
        return false;
    }
    if (json_is_string(id->aud_claim)) {
        return json_string_length(id->aud_claim) == n &&
               memcmp(json_string_value(id->aud_claim), aud, n) == 0;
    }
    json_array_foreach(id->aud_claim, i, e)
    {
        if (json_string_length(e) == n && memcmp(json_string_value(e), aud, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Every accepted token's cnf named the presenting certificate (binding.c), so a token that
 * carried one was bound to the certificate that presented it. */
MESH_EXPORT bool mesh_identity_bound(const mesh_identity_t *id)
{
    return id != NULL && id->x5t[0] != '\0';
}

MESH_EXPORT mesh_err_t mesh_identity_to_json(const mesh_identity_t *id, char **out)
{
    char *s;

    mesh_err_clear();
    if (id == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "identity to JSON: NULL argument");
    }
    s = json_dumps(id->root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "identity to JSON: out of memory");
    }
    *out = s;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_identity_claim(const mesh_identity_t *id, const char *name, char **out)
{
    size_t n;
    json_t *v;
    char *s;

    mesh_err_clear();
    if (id == NULL || name == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "identity claim: NULL argument");
    }
    if ((n = strlen(name)) == 0 || n > MESH_MAX_CLAIM_NAME) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "identity claim: a claim name has 1..%d bytes",
                            MESH_MAX_CLAIM_NAME);
    }
    if ((v = json_object_get(id->root, name)) == NULL) {
        return mesh_err_set(MESH_ERR_NOT_FOUND, "the token has no claim \"%.64s\"", name);
    }
    if (json_is_string(v)) {
        const char *str = json_string_value(v);
        size_t len = json_string_length(v);
        /* Text for a header: no control character can reach one through here. */
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)str[i] < 0x20 || str[i] == 0x7f) {
                return mesh_err_set(MESH_ERR_CLAIM_TYPE,
                                    "claim \"%.64s\" holds a control "
                                    "character; it cannot be given as header text",
                                    name);
            }
        }
        s = strdup(str);
    } else {
        /* jansson escapes control characters in JSON text; compact, members in token order */
        s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    }
    if (s == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "identity claim: out of memory");
    }
    *out = s;
    return MESH_OK;
}
