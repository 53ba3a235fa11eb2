/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh_verify(): Authorization parsing, the verified-token cache, the JOSE core (jws.c,
 * jwt.c) with the cached keys, the certificate binding, and the RFC 6750 mapping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mesh/x509.h>

#include "binding.h"
#include "internal.h"
#include "jws_internal.h"
#include "jwt_internal.h"
#include "verifier_internal.h"

/* "Bearer <token68>" (RFC 6750 §2.1); the scheme is case-insensitive (RFC 9110 §11.1). */
static mesh_err_t parse_authorization(const char *h, const char **tok, size_t *len)
{
    const char *p, *e;

    if (h == NULL || h[0] == '\0') {
        return mesh_err_set(MESH_ERR_NO_TOKEN, "no Authorization header");
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        return mesh_err_set(MESH_ERR_NO_TOKEN, "Authorization is not a Bearer credential");
    }
    for (p = h + 7; *p == ' '; p++) {
    }
    e = p + strcspn(p, " ,\t");
    if (*e != '\0') {
        const char *rest = e;
        while (*rest == ' ' || *rest == '\t') {
            rest++;
        }
        if (*rest != '\0') {
            /* "Bearer a, Bearer b" (two headers folded into one) or "Bearer a b". */
            return mesh_err_set(MESH_ERR_TWO_CREDENTIALS,
                                "Authorization carries more than one credential");
        }
    }
    if (e == p) {
        return mesh_err_set(MESH_ERR_NO_TOKEN, "Authorization: Bearer with an empty token");
    }
    if ((size_t)(e - p) > MESH_MAX_TOKEN_BYTES) {
        return mesh_err_set(MESH_ERR_TOKEN_TOO_LARGE,
                            "token of %zu bytes, over the %d-byte "
                            "limit",
                            (size_t)(e - p), MESH_MAX_TOKEN_BYTES);
    }
    *tok = p;
    *len = (size_t)(e - p);
    return MESH_OK;
}

/* An untrusted string for a detail message: shown only when short, printable ASCII. */
static const char *shown(const char *s)
{
    size_t n = strlen(s);

    if (n > 128) {
        return "(too long to show)";
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return "(not printable)";
        }
    }
    return s;
}

/*
 * DESIGN.md "Revoking a credential (service token, certificate) revokes the tokens it
 * obtained": the feed names the subject and the time its credential was revoked, or the
 * certificate. Checked on every path, cached tokens too; a kind the feed never sent costs one
 * atomic load.
 */
static mesh_err_t check_credential(mesh_verifier_t *v, const mesh_identity_t *c)
{
    const char *x5t = c->x5t;

    if (v->revoked == NULL) {
        return MESH_OK;
    }
    if (mesh_revset_sub_revoked(v->revoked, c->sub, c->iat)) {
        return mesh_err_set(MESH_ERR_REVOKED,
                            "the credential of sub %s was revoked after this token was issued "
                            "(iat %lld)",
                            shown(c->sub), (long long)c->iat);
    }
    if (x5t[0] != '\0' && mesh_revset_x5t_revoked(v->revoked, x5t)) {
        return mesh_err_set(MESH_ERR_REVOKED,
                            "the certificate this token is bound to (x5t#S256 %s) is revoked",
                            shown(x5t));
    }
    return MESH_OK;
}

/*
 * What every accepted token must pass on both paths, fresh and cached, after its claims:
 * the credential it came from is not revoked, and the one binding policy (binding.c).
 */
static mesh_err_t check_presented(mesh_verifier_t *v, const mesh_identity_t *c, const uint8_t *der,
                                  size_t len)
{
    mesh_err_t rc = check_credential(v, c);

    if (rc != MESH_OK) {
        return rc;
    }
    return mesh_binding_check(&v->o.binding, c->x5t, c->sub, der, len);
}

/* What still has to hold when a token comes from the cache: time, revocation, binding. */
static mesh_err_t recheck(mesh_verifier_t *v, const mesh_identity_t *id, const uint8_t *der,
                          size_t len)
{
    int64_t now = mesh_verifier_now(v);

    if (now >= id->exp + v->o.skew) {
        return mesh_err_set(MESH_ERR_EXPIRED, "exp %lld is %lld s before now (skew %lld s)",
                            (long long)id->exp, (long long)(now - id->exp), (long long)v->o.skew);
    }
    if (mesh_verifier_is_revoked(v, id->jti)) {
        return mesh_err_set(MESH_ERR_REVOKED, "jti %s is revoked", shown(id->jti));
    }
    return check_presented(v, id, der, len);
}

mesh_err_t mesh_verifier_claim_rules(mesh_verifier_t *v)
{
    mesh_err_t rc = mesh_jwt_verify_opts_new(&v->jo);

    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_issuer(v->jo, v->o.issuer);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_audience(v->jo, v->o.audience);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_skew(v->jo, v->o.skew);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_max_lifetime(v->jo, v->o.max_lifetime);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_clock(v->jo, v->o.clock, v->o.clock_ctx);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_revoked(v->jo, mesh_verifier_is_revoked, v);
    }
    if (rc == MESH_OK && v->o.typ != NULL) {
        rc = mesh_jwt_verify_opts_set_typ(v->jo, v->o.typ);
    }
    if (rc == MESH_OK && v->o.required_claims != NULL &&
        (v->jo->required_claims = strdup(v->o.required_claims)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "verifier");
    }
    if (rc == MESH_OK) {
        v->jo->oidc = v->o.profile == MESH_PROFILE_OIDC;
    }
    return rc;
}

/* The key-set generation cached verifications belong to; an HMAC issuer's one key never
 * changes during the verifier's life. */
static uint64_t keys_generation(mesh_verifier_t *v)
{
    return v->keys != NULL ? mesh_jwks_cache_generation(v->keys) : 1;
}

/*
 * The verifier's algorithm list left this kid's key out of the set (set_algorithms): the
 * refusal says so, at once, with no refetch (the same JWKS would leave it out again).
 */
static bool kid_skipped(mesh_verifier_t *v, const char *kid)
{
    char why[128];

    if (v->o.algs == 0 || mesh_jwks_cache_skipped(v->keys) == 0) {
        return false;
    }
    if (!mesh_jwks_cache_skipped_kid(v->keys, kid, strlen(kid), why, sizeof(why))) {
        return false;
    }
    mesh_err_set(MESH_ERR_ALG_NOT_ALLOWED, "the issuer's key \"%s\" is not used: %s", shown(kid),
                 why);
    return true;
}

/* Signature and claims with the current keys; one limited refetch on an unknown kid.
 * *generation: the key set's, for the cache. */
static mesh_err_t verify_full(mesh_verifier_t *v, const char *tok, size_t len, const uint8_t *der,
                              size_t der_len, mesh_identity_t **out, uint64_t *generation)
{
    uint8_t payload[MESH_MAX_TOKEN_BYTES];
    size_t plen = 0;
    mesh_jws_header_t hdr;
    mesh_jwks_t *set;
    mesh_err_t rc;

    if (v->o.hmac_key != NULL) {
        *generation = 1;
        rc = mesh_jws_verify_hmac(v->o.hmac_key, v->o.hmac_len, tok, len, &hdr, payload,
                                  sizeof(payload), &plen);
        goto claims;
    }
    for (int attempt = 0;; attempt++) {
        set = mesh_jwks_cache_get(v->keys, generation);
        if (set == NULL || mesh_jwks_count(set) == 0) {
            bool empty_set = set != NULL;
            mesh_jwks_free(set);
            if (attempt == 0 && mesh_jwks_cache_fetch_limited(v->keys) == MESH_OK) {
                continue;
            }
            char why[512];
            uint64_t skipped = mesh_jwks_cache_skipped(v->keys);
            if (empty_set && skipped > 0) {
                return mesh_err_set(MESH_ERR_KEYS_UNAVAILABLE,
                                    "no usable verification keys: "
                                    "the algorithm list left out all %llu keys of the JWKS",
                                    (unsigned long long)skipped);
            }
            mesh_jwks_cache_last_error(v->keys, why, sizeof(why));
            return mesh_err_set(MESH_ERR_KEYS_UNAVAILABLE,
                                "no verification keys (last fetch: "
                                "%s)",
                                why);
        }
        rc = mesh_jws_verify_header(NULL, set, tok, len, &hdr, payload, sizeof(payload), &plen,
                                    NULL);
        mesh_jwks_free(set);
        if (rc == MESH_ERR_KID_UNKNOWN && kid_skipped(v, hdr.kid)) {
            return MESH_ERR_ALG_NOT_ALLOWED;
        }
        if (rc == MESH_ERR_KID_UNKNOWN && attempt == 0 &&
            mesh_jwks_cache_fetch_limited(v->keys) == MESH_OK) {
            continue; /* DESIGN: an unknown kid earns at most one rate-limited refresh */
        }
        break;
    }
claims:
    if (rc != MESH_OK) {
        return rc;
    }
    rc = mesh_jwt_claims_validate(payload, plen, hdr.typ, v->jo, false, out);
    if (rc == MESH_OK) {
        rc = check_presented(v, *out, der, der_len);
        if (rc != MESH_OK) {
            mesh_identity_free(*out);
            *out = NULL;
        }
    }
    return rc;
}

mesh_err_t mesh_verify_core(mesh_verifier_t *v, const char *authorization,
                            const uint8_t *peer_cert_der, size_t peer_cert_len,
                            const char *required_scope, mesh_identity_t **identity,
                            mesh_err_t peer_rc)
{
    stat_stripe_t *st = &v->stats[mesh_thread_slot() % STAT_STRIPES];
    uint64_t h = 0, gen = 0;
    mesh_identity_t *id = NULL;
    const char *tok = NULL;
    size_t len = 0;
    mesh_err_t rc;

    rc = peer_rc != MESH_OK ? peer_rc : parse_authorization(authorization, &tok, &len);
    if (rc != MESH_OK) {
        goto out;
    }
    /* Fail closed: with revocations known to be missing, no token can be judged. */
    if (v->revoked != NULL && (rc = mesh_revset_usable(v->revoked)) != MESH_OK) {
        goto out;
    }
    if (v->cache != NULL) {
        h = mesh_tcache_hash(v->cache, tok, len);
        id = mesh_tcache_get(v->cache, h, tok, len, keys_generation(v));
    }
    if (id != NULL && v->keys != NULL && !mesh_jwks_cache_usable(v->keys)) {
        /* Fail closed: past stale-if-error the keys that verified it are not trusted either. */
        mesh_identity_free(id);
        id = NULL;
        rc = mesh_err_set(MESH_ERR_KEYS_UNAVAILABLE,
                          "the keys that verified this token are past "
                          "max-age and stale-if-error and have not been renewed");
        goto out;
    }
    if (id != NULL) {
        atomic_fetch_add_explicit(&st->cache_hits, 1, memory_order_relaxed);
        rc = recheck(v, id, peer_cert_der, peer_cert_len);
        if (rc == MESH_ERR_EXPIRED || rc == MESH_ERR_REVOKED) {
            mesh_tcache_remove(v->cache, h, tok, len);
        }
    } else {
        rc = verify_full(v, tok, len, peer_cert_der, peer_cert_len, &id, &gen);
        if (rc == MESH_OK && v->cache != NULL) {
            mesh_tcache_put(v->cache, h, tok, len, id, gen);
        }
    }
    if (rc == MESH_OK && required_scope != NULL && required_scope[0] != '\0' &&
        !mesh_identity_has_scope(id, required_scope)) {
        rc = mesh_err_set(MESH_ERR_SCOPE, "token lacks scope \"%s\" (has \"%s\")", required_scope,
                          mesh_identity_scopes(id));
    }
out:
    if (rc == MESH_OK) {
        atomic_fetch_add_explicit(&st->verified, 1, memory_order_relaxed);
        if (identity != NULL) {
            *identity = id;
            id = NULL;
        }
    } else {
        atomic_fetch_add_explicit(&st->rejected, 1, memory_order_relaxed);
    }
    mesh_identity_free(id);
    return rc;
}

MESH_EXPORT int mesh_verify_http_status(mesh_err_t result, const char *required_scope, char *www,
                                        size_t cap)
{
    int status;

    if (www != NULL && cap > 0) {
        www[0] = '\0';
    }
    switch (result) {
    case MESH_OK:
        return 200;
    case MESH_ERR_NO_TOKEN:
        /* RFC 6750 §3.1: no error code when the request had no credential at all. */
        status = 401;
        if (www != NULL) {
            snprintf(www, cap, "Bearer realm=\"mesh\"");
        }
        return status;
    case MESH_ERR_SCOPE:
        if (www != NULL) {
            snprintf(www, cap,
                     "Bearer realm=\"mesh\", error=\"insufficient_scope\", "
                     "scope=\"%s\"",
                     required_scope != NULL ? required_scope : "");
        }
        return 403;
    case MESH_ERR_TWO_CREDENTIALS:
        if (www != NULL) {
            snprintf(www, cap,
                     "Bearer realm=\"mesh\", error=\"invalid_request\", "
                     "error_description=\"%s\"",
                     mesh_err_name(result));
        }
        return 400;
    case MESH_ERR_KEYS_UNAVAILABLE:
    case MESH_ERR_REVOCATIONS_INCOMPLETE:
        return 503;
    case MESH_ERR_NOMEM:
    case MESH_ERR_INTERNAL:
    case MESH_ERR_INVALID_ARG:
    case MESH_ERR_CONFIG: /* this verifier's own setup, not the caller's fault */
        return 500;
    default:
        /* To the peer the reason stays coarse: invalid_token plus a short reason code. */
        if (www != NULL) {
            snprintf(www, cap,
                     "Bearer realm=\"mesh\", error=\"invalid_token\", "
                     "error_description=\"%s\"",
                     mesh_err_name(result));
        }
        return 401;
    }
}
