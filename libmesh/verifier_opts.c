/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_verifier_opts_t (verifier.h): defaults, setters that validate, and the deep copy a
 * verifier keeps. */
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>
#include <mesh/util.h>

#include "internal.h"
#include "opts.h"

#define VOPT "verifier option"
#include "jwt_internal.h"
#include "key_select.h"
#include "verifier_internal.h"

static void defaults(struct mesh_verifier_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->jwks_source = MESH_JWKS_FROM_ISSUER;
    o->skew = MESH_DEFAULT_SKEW;
    o->max_lifetime = MESH_DEFAULT_MAX_LIFETIME;
    o->binding.mode = MESH_BIND_REQUIRED;
    o->revocation_feed = true;
    o->revocation_poll_ms = 10000;
    o->jwks_cooldown_ms = 30000;
    o->jwks_max_age_min = 10;
    o->jwks_max_age_max = 3600;
    o->jwks_stale_if_error = 86400;
    o->cache_entries = 16384;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_new(mesh_verifier_opts_t **out)
{
    struct mesh_verifier_opts *o;

    mesh_err_clear();
    if (out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_verifier_opts_new: out is NULL");
    }
    if ((o = malloc(sizeof(*o))) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "verifier options");
    }
    defaults(o);
    *out = o;
    return MESH_OK;
}

void mesh_verifier_opts_clear(struct mesh_verifier_opts *o)
{
    char **s[] = {&o->issuer,    &o->audience, &o->jwks_location,  &o->ca_path,
                  &o->cert_path, &o->key_path, &o->issuer_id,      &o->trust_bundle_path,
                  &o->crl_path,  &o->typ,      &o->required_claims};

    for (size_t i = 0; i < MESH_ARRAY_LEN(s); i++) {
        free(*s[i]);
        *s[i] = NULL;
    }
    mesh_binding_clear(&o->binding);
    if (o->hmac_key != NULL) {
        mesh_wipe(o->hmac_key, o->hmac_len);
        free(o->hmac_key);
        o->hmac_key = NULL;
        o->hmac_len = 0;
    }
}

MESH_EXPORT void mesh_verifier_opts_free(mesh_verifier_opts_t *o)
{
    if (o != NULL) {
        mesh_verifier_opts_clear(o);
        free(o);
    }
}

mesh_err_t mesh_verifier_opts_copy(struct mesh_verifier_opts *dst,
                                   const struct mesh_verifier_opts *src)
{
    const char *from[] = {src->issuer,    src->audience,          src->jwks_location,
                          src->ca_path,   src->cert_path,         src->key_path,
                          src->issuer_id, src->trust_bundle_path, src->crl_path,
                          src->typ,       src->required_claims};
    char **to[] = {&dst->issuer,    &dst->audience, &dst->jwks_location,  &dst->ca_path,
                   &dst->cert_path, &dst->key_path, &dst->issuer_id,      &dst->trust_bundle_path,
                   &dst->crl_path,  &dst->typ,      &dst->required_claims};

    *dst = *src;
    for (size_t i = 0; i < MESH_ARRAY_LEN(to); i++) {
        *to[i] = NULL;
    }
    dst->binding.subjects = NULL;
    dst->hmac_key = NULL;
    dst->hmac_len = 0;
    if (src->hmac_key != NULL) {
        if ((dst->hmac_key = malloc(src->hmac_len)) == NULL) {
            for (size_t i = 0; i < MESH_ARRAY_LEN(to); i++) {
                *to[i] = NULL;
            }
            return mesh_err_set(MESH_ERR_NOMEM, "verifier options");
        }
        memcpy(dst->hmac_key, src->hmac_key, src->hmac_len);
        dst->hmac_len = src->hmac_len;
    }
    for (size_t i = 0; i < MESH_ARRAY_LEN(to); i++) {
        if (from[i] != NULL && (*to[i] = strdup(from[i])) == NULL) {
            mesh_verifier_opts_clear(dst);
            return mesh_err_set(MESH_ERR_NOMEM, "verifier options");
        }
    }
    if (mesh_binding_copy(&dst->binding, &src->binding) != MESH_OK) {
        mesh_verifier_opts_clear(dst);
        return MESH_ERR_NOMEM;
    }
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_issuer(mesh_verifier_opts_t *o, const char *issuer)
{
    MESH_OPT_NEED(o, VOPT, "issuer");
    return mesh_opt_str(VOPT, "issuer", &o->issuer, issuer, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, MESH_OPT_REQUIRED);
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_audience(mesh_verifier_opts_t *o, const char *aud)
{
    mesh_err_t rc;

    MESH_OPT_NEED(o, VOPT, "audience");
    if ((rc = mesh_audiences_check(VOPT, aud)) != MESH_OK) {
        return rc;
    }
    return mesh_opt_str(VOPT, "audience", &o->audience, aud, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, MESH_OPT_REQUIRED);
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_jwks(mesh_verifier_opts_t *o, mesh_jwks_source_t src,
                                                   const char *location)
{
    MESH_OPT_NEED(o, VOPT, "jwks");
    if (src != MESH_JWKS_FROM_ISSUER && src != MESH_JWKS_FROM_URL && src != MESH_JWKS_FROM_FILE &&
        src != MESH_JWKS_FROM_OIDC) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "verifier option jwks: unknown source %d",
                            (int)src);
    }
    bool discovered = src == MESH_JWKS_FROM_ISSUER || src == MESH_JWKS_FROM_OIDC;
    if (src == MESH_JWKS_FROM_OIDC && location != NULL && location[0] != '\0') {
        return mesh_err_set(MESH_ERR_CONFIG, "verifier option jwks: OIDC discovery finds the "
                                             "JWKS from the issuer; give no location");
    }
    if (!discovered && (location == NULL || location[0] == '\0')) {
        return mesh_err_set(MESH_ERR_CONFIG, "verifier option jwks: a JWKS URL or file source "
                                             "needs its location");
    }
    if (src == MESH_JWKS_FROM_URL && strncmp(location, "https://", 8) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "verifier option jwks: JWKS URL %.256s is not "
                            "https://",
                            location);
    }
    mesh_err_t rc = mesh_opt_str(VOPT, "jwks", &o->jwks_location, discovered ? NULL : location,
                                 MESH_MAX_OPT_STRING, MESH_ERR_INVALID_ARG, MESH_OPT_EMPTY_UNSETS);
    if (rc == MESH_OK) {
        o->jwks_source = src;
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_ca_path(mesh_verifier_opts_t *o, const char *path)
{
    MESH_OPT_NEED(o, VOPT, "ca_path");
    return mesh_opt_str(VOPT, "ca_path", &o->ca_path, path, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, MESH_OPT_EMPTY_UNSETS);
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_client_cert(mesh_verifier_opts_t *o,
                                                          const char *cert_path,
                                                          const char *key_path)
{
    char *cert = NULL;
    mesh_err_t rc;

    MESH_OPT_NEED(o, VOPT, "client_cert");
    if ((cert_path == NULL) != (key_path == NULL)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "verifier option client_cert: give the "
                                                  "certificate and its key, or neither");
    }
    if ((rc = mesh_opt_str(VOPT, "client_cert", &cert, cert_path, MESH_MAX_OPT_STRING,
                           MESH_ERR_INVALID_ARG, MESH_OPT_EMPTY_UNSETS)) != MESH_OK ||
        (rc = mesh_opt_str(VOPT, "client_cert key", &o->key_path, key_path, MESH_MAX_OPT_STRING,
                           MESH_ERR_INVALID_ARG, MESH_OPT_EMPTY_UNSETS)) != MESH_OK) {
        free(cert);
        return rc;
    }
    free(o->cert_path);
    o->cert_path = cert;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_issuer_id(mesh_verifier_opts_t *o, const char *id)
{
    MESH_OPT_NEED(o, VOPT, "issuer_id");
    if (id != NULL && strncmp(id, "spiffe://", 9) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "verifier option issuer_id: \"%.256s\" is not a "
                            "spiffe:// ID",
                            id);
    }
    return mesh_opt_str(VOPT, "issuer_id", &o->issuer_id, id, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, MESH_OPT_EMPTY_UNSETS);
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_skew(mesh_verifier_opts_t *o, int64_t seconds)
{
    MESH_OPT_NEED(o, VOPT, "skew");
    mesh_err_t rc = mesh_opt_range(VOPT, "skew", seconds, 0, MESH_MAX_OPT_SECONDS);
    if (rc == MESH_OK) {
        o->skew = seconds;
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_max_lifetime(mesh_verifier_opts_t *o, int64_t seconds)
{
    MESH_OPT_NEED(o, VOPT, "max_lifetime");
    mesh_err_t rc = mesh_opt_range(VOPT, "max_lifetime", seconds, 1, MESH_MAX_OPT_SECONDS);
    if (rc == MESH_OK) {
        o->max_lifetime = seconds;
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_binding(mesh_verifier_opts_t *o, const char *policy)
{
    MESH_OPT_NEED(o, VOPT, "binding");
    if (policy == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "verifier option binding: NULL policy");
    }
    mesh_err_t rc = mesh_binding_parse(policy, "verifier option binding", &o->binding);
    if (rc == MESH_OK) {
        o->binding_set = true;
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_revocation_feed(mesh_verifier_opts_t *o, bool on)
{
    MESH_OPT_NEED(o, VOPT, "revocation_feed");
    o->revocation_feed = on;
    o->feed_set = true;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_revocation_poll_ms(mesh_verifier_opts_t *o,
                                                                 int64_t ms)
{
    MESH_OPT_NEED(o, VOPT, "revocation_poll_ms");
    mesh_err_t rc = mesh_opt_range(VOPT, "revocation_poll_ms", ms, 1, MESH_MAX_OPT_MS);
    if (rc == MESH_OK) {
        o->revocation_poll_ms = ms;
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_jwks_cooldown_ms(mesh_verifier_opts_t *o, int64_t ms)
{
    MESH_OPT_NEED(o, VOPT, "jwks_cooldown_ms");
    mesh_err_t rc = mesh_opt_range(VOPT, "jwks_cooldown_ms", ms, 0, MESH_MAX_OPT_MS);
    if (rc == MESH_OK) {
        o->jwks_cooldown_ms = ms;
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_jwks_max_age(mesh_verifier_opts_t *o, int64_t min_s,
                                                           int64_t max_s, int64_t stale_if_error_s)
{
    MESH_OPT_NEED(o, VOPT, "jwks_max_age");
    mesh_err_t rc = mesh_opt_range(VOPT, "jwks_max_age min", min_s, 0, MESH_MAX_OPT_SECONDS * 365);
    if (rc == MESH_OK) {
        rc = mesh_opt_range(VOPT, "jwks_max_age max", max_s, min_s, MESH_MAX_OPT_SECONDS * 365);
    }
    if (rc == MESH_OK) {
        rc = mesh_opt_range(VOPT, "jwks_max_age stale_if_error", stale_if_error_s, 0,
                            MESH_MAX_OPT_SECONDS * 365);
    }
    if (rc == MESH_OK) {
        o->jwks_max_age_min = min_s;
        o->jwks_max_age_max = max_s;
        o->jwks_stale_if_error = stale_if_error_s;
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_cache_entries(mesh_verifier_opts_t *o, size_t n)
{
    MESH_OPT_NEED(o, VOPT, "cache_entries");
    if (n > MESH_MAX_OPT_CACHE) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "verifier option cache_entries: %zu is over "
                            "%zu",
                            n, MESH_MAX_OPT_CACHE);
    }
    o->cache_entries = n;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_clock(mesh_verifier_opts_t *o, mesh_clock_fn fn,
                                                    void *ctx)
{
    MESH_OPT_NEED(o, VOPT, "clock");
    o->clock = fn;
    o->clock_ctx = fn != NULL ? ctx : NULL;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_trust_bundle(mesh_verifier_opts_t *o,
                                                           const char *bundle_path,
                                                           const char *crl_path)
{
    char *bundle = NULL;
    mesh_err_t rc;

    MESH_OPT_NEED(o, VOPT, "trust_bundle");
    if (bundle_path == NULL && crl_path != NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "verifier option trust_bundle: a CRL path needs "
                                             "the bundle of the CAs whose CRLs they are");
    }
    if ((rc = mesh_opt_str(VOPT, "trust_bundle", &bundle, bundle_path, MESH_MAX_OPT_STRING,
                           MESH_ERR_INVALID_ARG, MESH_OPT_EMPTY_UNSETS)) != MESH_OK ||
        (rc = mesh_opt_str(VOPT, "trust_bundle crl", &o->crl_path, crl_path, MESH_MAX_OPT_STRING,
                           MESH_ERR_INVALID_ARG, MESH_OPT_EMPTY_UNSETS)) != MESH_OK) {
        free(bundle);
        return rc;
    }
    free(o->trust_bundle_path);
    o->trust_bundle_path = bundle;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_profile(mesh_verifier_opts_t *o, const char *profile)
{
    MESH_OPT_NEED(o, VOPT, "profile");
    if (profile != NULL && strcmp(profile, "mesh") == 0) {
        o->profile = MESH_PROFILE_MESH;
    } else if (profile != NULL && strcmp(profile, "oidc") == 0) {
        o->profile = MESH_PROFILE_OIDC;
    } else {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "verifier option profile: \"%.64s\" is neither "
                            "\"mesh\" (the mesh issuer) nor \"oidc\" (an external identity "
                            "provider)",
                            profile != NULL ? profile : "(NULL)");
    }
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_typ(mesh_verifier_opts_t *o, const char *typs)
{
    MESH_OPT_NEED(o, VOPT, "typ");
    if (typs != NULL) {
        mesh_err_t rc = mesh_typs_check(VOPT " typ", typs);
        if (rc != MESH_OK) {
            return rc;
        }
    }
    return mesh_opt_str(VOPT, "typ", &o->typ, typs, MESH_MAX_OPT_STRING, MESH_ERR_INVALID_ARG, 0);
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_algorithms(mesh_verifier_opts_t *o, const char *algs)
{
    unsigned mask = 0;

    MESH_OPT_NEED(o, VOPT, "algorithms");
    if (algs != NULL) {
        mesh_err_t rc = mesh_algs_parse(algs, VOPT " algorithms", &mask);
        if (rc != MESH_OK) {
            return rc;
        }
    }
    o->algs = mask;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_required_claims(mesh_verifier_opts_t *o,
                                                              const char *claims)
{
    MESH_OPT_NEED(o, VOPT, "required_claims");
    if (claims != NULL && claims[0] != '\0') {
        mesh_err_t rc = mesh_claim_names_check(VOPT " required_claims", claims);
        if (rc != MESH_OK) {
            return rc;
        }
    }
    return mesh_opt_str(VOPT, "required_claims", &o->required_claims, claims, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, MESH_OPT_EMPTY_UNSETS);
}

MESH_EXPORT mesh_err_t mesh_verifier_opts_set_hmac_key(mesh_verifier_opts_t *o, const uint8_t *key,
                                                       size_t len)
{
    uint8_t *copy = NULL;

    MESH_OPT_NEED(o, VOPT, "hmac_key");
    if ((key == NULL) != (len == 0)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "verifier option hmac_key: a key of %zu bytes "
                            "%s",
                            len, key == NULL ? "without its bytes" : "is empty");
    }
    if (key != NULL && (len < MESH_MIN_HMAC_KEY_BYTES || len > MESH_MAX_HMAC_KEY_BYTES)) {
        /* RFC 7518 §3.2: an HS256 key is at least as long as the hash output. */
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "verifier option hmac_key: %zu bytes; an HS256 "
                            "key has %d..%d bytes",
                            len, MESH_MIN_HMAC_KEY_BYTES, MESH_MAX_HMAC_KEY_BYTES);
    }
    if (key != NULL) {
        if ((copy = malloc(len)) == NULL) {
            return mesh_err_set(MESH_ERR_NOMEM, "verifier option hmac_key");
        }
        memcpy(copy, key, len);
    }
    if (o->hmac_key != NULL) {
        mesh_wipe(o->hmac_key, o->hmac_len);
        free(o->hmac_key);
    }
    o->hmac_key = copy;
    o->hmac_len = len;
    return MESH_OK;
}
