/* SPDX-License-Identifier: Apache-2.0 */
/* JSON Web Key Sets (RFC 7517 §5): parse with limits, build from keys, publish public halves. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <mesh/jwks.h>

#include "internal.h"
#include "json.h"
#include "key_internal.h"

struct mesh_jwks {
    atomic_int refs;
    size_t n;
    mesh_key_t *keys[MESH_MAX_JWKS_KEYS];
};

static void jwks_destroy(mesh_jwks_t *set)
{
    for (size_t i = 0; i < set->n; i++) {
        mesh_key_free(set->keys[i]);
    }
    free(set);
}

static mesh_jwks_t *jwks_new(void)
{
    mesh_jwks_t *set = calloc(1, sizeof(*set));

    if (set != NULL) {
        atomic_init(&set->refs, 1);
    }
    return set;
}

/* RFC 7517 §4.5: kid is how a verifier picks the key, so two usable keys may not share one. */
static mesh_err_t jwks_add(mesh_jwks_t *set, mesh_key_t *key, const char *what)
{
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->keys[i]->kid, key->kid) == 0) {
            return mesh_err_set(MESH_ERR_JWKS_DUPLICATE_KID,
                                "%s: kid \"%.64s\" appears twice; "
                                "give every key its own kid",
                                what, key->kid);
        }
    }
    if (set->n == MESH_MAX_JWKS_KEYS) {
        return mesh_err_set(MESH_ERR_LIMIT, "%s: more than %d usable keys", what,
                            MESH_MAX_JWKS_KEYS);
    }
    set->keys[set->n++] = key;
    return MESH_OK;
}

/* Secret material: an asymmetric private key ("d") or a symmetric key ("k", kty oct). */
static bool jwk_is_secret(const json_t *jwk)
{
    return json_object_get(jwk, "d") != NULL || json_object_get(jwk, "k") != NULL;
}

/* The members of "keys": every one counts for mixing; only usable ones join the set. */
static mesh_err_t jwks_fill(mesh_jwks_t *set, const json_t *keys, const char *what)
{
    size_t i;
    const json_t *jwk;
    size_t n_secret = 0;
    size_t n_public = 0;

    json_array_foreach(keys, i, jwk)
    {
        char name[256];
        mesh_key_t *key = NULL;
        mesh_err_t rc;

        (void)snprintf(name, sizeof(name), "%s: key %zu", what, i);
        if (json_is_object(jwk)) {
            *(jwk_is_secret(jwk) ? &n_secret : &n_public) += 1;
        }
        /* A set that carries secrets next to public keys was published by mistake. */
        if (n_secret > 0 && n_public > 0) {
            return mesh_err_set(MESH_ERR_KEY_MIXED,
                                "%s: mixes public keys with private or "
                                "symmetric keys; publish public keys only",
                                name);
        }
        rc = mesh_key_from_jwk_json(jwk, MESH_ALG_UNSET, name, &key);
        if (rc == MESH_ERR_KEY_UNSUPPORTED) {
            continue; /* RFC 7517 §5: ignore keys we do not understand */
        }
        if (rc == MESH_OK) {
            rc = jwks_add(set, key, name);
        }
        if (rc != MESH_OK) {
            mesh_key_free(key);
            return rc;
        }
    }
    return MESH_OK;
}

static mesh_err_t jwks_parse_named(const char *json, size_t len, const char *what,
                                   mesh_jwks_t **out)
{
    json_t *doc = NULL;
    const json_t *keys;
    mesh_jwks_t *set = NULL;
    mesh_err_t rc;

    if (len > MESH_MAX_JWKS_BYTES) {
        return mesh_err_set(MESH_ERR_LIMIT, "%s: %zu bytes, over the %d-byte JWKS limit", what, len,
                            MESH_MAX_JWKS_BYTES);
    }
    rc = mesh_json_parse_object(json, len, MESH_MAX_JSON_DEPTH, what, &doc);
    if (rc != MESH_OK) {
        return rc;
    }
    keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        rc = mesh_err_set(MESH_ERR_JSON, "%s: a JWKS needs a \"keys\" array (RFC 7517 §5)", what);
        goto out;
    }
    set = jwks_new();
    if (set == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "%s: out of memory", what);
        goto out;
    }
    rc = jwks_fill(set, keys, what);
    if (rc == MESH_OK) {
        *out = set;
        set = NULL;
    }
out:
    if (set != NULL) {
        jwks_destroy(set);
    }
    json_decref(doc);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_jwks_parse(const char *json, size_t len, mesh_jwks_t **out)
{
    mesh_err_clear();
    if (json == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_jwks_parse: NULL argument");
    }
    return jwks_parse_named(json, len, "JWKS", out);
}

MESH_EXPORT mesh_err_t mesh_jwks_load_file(const char *path, mesh_jwks_t **out)
{
    char *buf = NULL;
    size_t len = 0;
    mesh_err_t rc;

    mesh_err_clear();
    if (path == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_jwks_load_file: NULL argument");
    }
    rc = mesh_file_read(path, MESH_MAX_JWKS_BYTES, &buf, &len);
    if (rc == MESH_OK) {
        rc = jwks_parse_named(buf, len, path, out);
        OPENSSL_cleanse(buf, len); /* a private set may have been read */
    }
    free(buf);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_jwks_from_keys(mesh_key_t *const *keys, size_t n, mesh_jwks_t **out)
{
    mesh_jwks_t *set;
    mesh_err_t rc = MESH_OK;

    mesh_err_clear();
    if ((keys == NULL && n > 0) || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_jwks_from_keys: NULL argument");
    }
    set = jwks_new();
    if (set == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "key set: out of memory");
    }
    for (size_t i = 0; i < n && rc == MESH_OK; i++) {
        if (keys[i] == NULL) {
            rc = mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_jwks_from_keys: key %zu is NULL", i);
        } else {
            rc = jwks_add(set, keys[i], "key set");
            if (rc == MESH_OK) {
                mesh_key_ref(keys[i]);
            }
        }
    }
    if (rc != MESH_OK) {
        jwks_destroy(set);
        return rc;
    }
    *out = set;
    return MESH_OK;
}

MESH_EXPORT mesh_jwks_t *mesh_jwks_ref(mesh_jwks_t *set)
{
    if (set != NULL) {
        atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    }
    return set;
}

MESH_EXPORT void mesh_jwks_free(mesh_jwks_t *set)
{
    if (set != NULL && atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1) {
        jwks_destroy(set);
    }
}

MESH_EXPORT size_t mesh_jwks_count(const mesh_jwks_t *set)
{
    return set != NULL ? set->n : 0;
}

MESH_EXPORT const mesh_key_t *mesh_jwks_get(const mesh_jwks_t *set, size_t i)
{
    return set != NULL && i < set->n ? set->keys[i] : NULL;
}

MESH_EXPORT const mesh_key_t *mesh_jwks_find(const mesh_jwks_t *set, const char *kid,
                                             size_t kid_len)
{
    if (set == NULL || kid == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < set->n; i++) {
        const char *k = set->keys[i]->kid;
        /* RFC 7515 §4.1.4: kid is compared exactly; no prefix, no case folding. */
        if (strlen(k) == kid_len && memcmp(k, kid, kid_len) == 0) {
            return set->keys[i];
        }
    }
    return NULL;
}

MESH_EXPORT mesh_err_t mesh_jwks_to_json(const mesh_jwks_t *set, char **out)
{
    json_t *doc = NULL;
    json_t *arr = json_array();
    char *s = NULL;
    mesh_err_t rc = MESH_OK;

    mesh_err_clear();
    if (set == NULL || out == NULL) {
        json_decref(arr);
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_jwks_to_json: NULL argument");
    }
    for (size_t i = 0; i < set->n && rc == MESH_OK; i++) {
        json_t *jwk = NULL;
        rc = mesh_key_to_jwk_json(set->keys[i], &jwk);
        if (rc == MESH_OK && json_array_append_new(arr, jwk) != 0) {
            rc = mesh_err_set(MESH_ERR_NOMEM, "JWKS: out of memory");
        }
    }
    if (rc == MESH_OK) {
        doc = json_pack("{s:o}", "keys", arr);
        arr = NULL; /* json_pack's "o" takes the reference, even on failure */
        s = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        rc = s != NULL ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "JWKS: out of memory");
    }
    if (rc == MESH_OK) {
        *out = s;
    }
    json_decref(doc);
    json_decref(arr);
    return rc;
}
