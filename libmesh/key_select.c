/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The keys of an external issuer's JWKS a verifier may use under its algorithm list
 * (key_select.h). Identity providers often publish keys without "alg"; such a key is used
 * only when its type leaves exactly one allowed algorithm, so a token can never pick one.
 */
#include "key_select.h"

#include <stdio.h>
#include <string.h>

#include <mesh/util.h>

#include "internal.h"
#include "json.h"
#include "key_internal.h"

static const mesh_alg_t all_algs[] = {MESH_ALG_RS256, MESH_ALG_PS256, MESH_ALG_ES256,
                                      MESH_ALG_EDDSA};

mesh_err_t mesh_algs_parse(const char *list, const char *what, unsigned *mask)
{
    const char *cursor = list, *w;
    unsigned m = 0;
    size_t n;

    while (list != NULL && mesh_words_next(&cursor, &w, &n)) {
        mesh_alg_t alg = mesh_alg_from_name(w, n);
        if (alg == MESH_ALG_UNSET) {
            return mesh_err_set(MESH_ERR_INVALID_ARG,
                                "%s: \"%.*s\" is not an algorithm libmesh verifies (RS256, "
                                "PS256, ES256, EdDSA; HS256 only through an HMAC key)",
                                what, (int)(n > 32 ? 32 : n), w);
        }
        m |= MESH_ALG_BIT(alg);
    }
    if (m == 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "%s: no algorithm given", what);
    }
    *mask = m;
    return MESH_OK;
}

void mesh_algs_format(unsigned mask, char *buf, size_t cap)
{
    size_t pos = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < MESH_ARRAY_LEN(all_algs); i++) {
        if (mask & MESH_ALG_BIT(all_algs[i])) {
            int w =
                snprintf(buf + pos, cap - pos, "%s%s", pos ? " " : "", mesh_alg_name(all_algs[i]));
            if (w < 0 || (size_t)w >= cap - pos) {
                return;
            }
            pos += (size_t)w;
        }
    }
}

static void skip(mesh_jwks_skipped_t *s, const json_t *jwk, const char *why, const char *alg)
{
    const char *kid = json_string_value(json_object_get(jwk, "kid"));

    if (s == NULL) {
        return;
    }
    s->total++;
    if (s->n < MESH_MAX_JWKS_KEYS) {
        snprintf(s->k[s->n].kid, sizeof(s->k[s->n].kid), "%s", kid != NULL ? kid : "");
        if (alg != NULL) {
            snprintf(s->k[s->n].why, sizeof(s->k[s->n].why), "its alg %.32s %s", alg, why);
        } else {
            snprintf(s->k[s->n].why, sizeof(s->k[s->n].why), "%s", why);
        }
        s->n++;
    }
}

static bool is(const json_t *jwk, const char *member, const char *value)
{
    const char *s = json_string_value(json_object_get(jwk, member));
    return s != NULL && strcmp(s, value) == 0;
}

/* The algorithm `mask` gives this JWK: MESH_ALG_UNSET (and why, *alg the JWK's) when none. */
static mesh_alg_t key_alg(const json_t *jwk, unsigned mask, const char **why, const char **alg)
{
    const char *name = json_string_value(json_object_get(jwk, "alg"));

    *alg = NULL;
    if (name != NULL) {
        mesh_alg_t a = mesh_alg_from_name(name, strlen(name));
        *alg = name;
        *why = a == MESH_ALG_UNSET ? "is not one libmesh verifies"
                                   : "is outside this verifier's algorithm list";
        return a != MESH_ALG_UNSET && (mask & MESH_ALG_BIT(a)) ? a : MESH_ALG_UNSET;
    }
    if (is(jwk, "kty", "EC") && is(jwk, "crv", "P-256")) {
        *why = "an EC P-256 key without alg, and ES256 is outside the algorithm list";
        return mask & MESH_ALG_BIT(MESH_ALG_ES256) ? MESH_ALG_ES256 : MESH_ALG_UNSET;
    }
    if (is(jwk, "kty", "OKP") && is(jwk, "crv", "Ed25519")) {
        *why = "an Ed25519 key without alg, and EdDSA is outside the algorithm list";
        return mask & MESH_ALG_BIT(MESH_ALG_EDDSA) ? MESH_ALG_EDDSA : MESH_ALG_UNSET;
    }
    if (is(jwk, "kty", "RSA")) {
        bool rs = mask & MESH_ALG_BIT(MESH_ALG_RS256), ps = mask & MESH_ALG_BIT(MESH_ALG_PS256);
        *why = "an RSA key without alg, and the algorithm list does not name exactly one RSA "
               "algorithm";
        return rs && !ps ? MESH_ALG_RS256 : ps && !rs ? MESH_ALG_PS256 : MESH_ALG_UNSET;
    }
    *why = "a key type libmesh does not verify with (an \"oct\" key never comes from a JWKS)";
    return MESH_ALG_UNSET;
}

/* The usable keys of `keys` into kept[] (references owned by the caller). */
static mesh_err_t select_keys(const json_t *keys, unsigned mask, const char *what,
                              mesh_key_t **kept, size_t *n_kept, mesh_jwks_skipped_t *skipped)
{
    size_t i, n_secret = 0, n_public = 0;
    const json_t *jwk;

    json_array_foreach(keys, i, jwk)
    {
        char name[256];
        const char *why = NULL, *arg = NULL;
        mesh_key_t *key = NULL;
        mesh_alg_t alg;
        mesh_err_t rc;

        (void)snprintf(name, sizeof(name), "%s: key %zu", what, i);
        if (!json_is_object(jwk)) {
            return mesh_err_set(MESH_ERR_KEY_PARSE, "%s: a JWK must be a JSON object", name);
        }
        /* As mesh_jwks_parse: secrets next to public keys were published by mistake. */
        *(json_object_get(jwk, "d") != NULL || json_object_get(jwk, "k") != NULL ? &n_secret
                                                                                 : &n_public) += 1;
        if (n_secret > 0 && n_public > 0) {
            return mesh_err_set(MESH_ERR_KEY_MIXED,
                                "%s: mixes public keys with private or "
                                "symmetric keys; publish public keys only",
                                name);
        }
        /* RFC 8725 §2.1: an "oct" key never comes from a JWKS (HMAC keys are configured). */
        alg = key_alg(jwk, mask, &why, &arg);
        /* A key of no type this file knows is judged as mesh_jwks_parse judges it: skipped
         * when unsupported, the set refused when malformed (no kty, a kty not a string). */
        rc = mesh_key_from_jwk_json(jwk, alg, name, &key);
        if (alg == MESH_ALG_UNSET && (rc == MESH_OK || rc == MESH_ERR_KEY_UNSUPPORTED)) {
            mesh_key_free(key);
            mesh_err_clear();
            skip(skipped, jwk, why, arg);
            continue;
        }
        if (rc == MESH_ERR_KEY_UNSUPPORTED) {
            skip(skipped, jwk, "not a usable signature key (use, key_ops or type)", NULL);
            continue;
        }
        if (rc != MESH_OK) {
            return rc;
        }
        if (*n_kept == MESH_MAX_JWKS_KEYS) {
            mesh_key_free(key);
            return mesh_err_set(MESH_ERR_LIMIT, "%s: more than %d usable keys", what,
                                MESH_MAX_JWKS_KEYS);
        }
        kept[(*n_kept)++] = key;
    }
    return MESH_OK;
}

mesh_err_t mesh_jwks_parse_allowed(const char *json, size_t len, unsigned mask, const char *what,
                                   mesh_jwks_t **out, mesh_jwks_skipped_t *skipped)
{
    mesh_key_t *kept[MESH_MAX_JWKS_KEYS];
    size_t n_kept = 0;
    json_t *doc = NULL;
    const json_t *keys;
    mesh_err_t rc;

    if (skipped != NULL) {
        skipped->total = skipped->n = 0;
    }
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
    } else {
        rc = select_keys(keys, mask, what, kept, &n_kept, skipped);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwks_from_keys(kept, n_kept, out);
    }
    for (size_t i = 0; i < n_kept; i++) {
        mesh_key_free(kept[i]);
    }
    json_decref(doc);
    return rc;
}
