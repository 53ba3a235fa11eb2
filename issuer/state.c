/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"
#include "online.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/jansson.h>

#include <mesh/jwks.h>

struct shared_rl {
    atomic_int refs;
    ratelimit_t *rl;
    double rate, burst;
};

static shared_rl_t *rl_get(const shared_rl_t *prev, cfg_rate_t r)
{
    if (prev != NULL && prev->rate == r.rate && prev->burst == r.burst) {
        shared_rl_t *p = (shared_rl_t *)prev;
        atomic_fetch_add(&p->refs, 1);
        return p;
    }
    shared_rl_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->rate = r.rate;
    s->burst = r.burst;
    if (r.rate > 0) {
        s->rl = ratelimit_new(r.rate, r.burst, MESH_MAX_RATELIMIT_KEYS);
        if (s->rl == NULL) {
            free(s);
            return NULL;
        }
    }
    return s;
}

static void rl_put(shared_rl_t *s)
{
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1) {
        ratelimit_free(s->rl);
        free(s);
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool state_rl_take(shared_rl_t *rl, const char *key, int *retry_after)
{
    return rl == NULL || rl->rl == NULL || ratelimit_take(rl->rl, key, mono_ms(), retry_after);
}

bool state_rl_peek(shared_rl_t *rl, const char *key, int *retry_after)
{
    return rl == NULL || rl->rl == NULL || ratelimit_peek(rl->rl, key, mono_ms(), retry_after);
}

static mesh_err_t load_key(const char *what, const char *path, mesh_key_t **out, char *err,
                           size_t errlen)
{
    mesh_err_t rc = mesh_key_load_pem_file(path, MESH_ALG_UNSET, out);
    if (rc != MESH_OK) {
        snprintf(err, errlen, "signing_keys.%s: %s: %s", what, mesh_strerror(rc),
                 mesh_err_detail());
    }
    return rc;
}

static char *url(const config_t *cfg, const char *suffix)
{
    size_t n = strlen(cfg->issuer) + strlen(suffix) + 1;
    char *s = malloc(n);
    if (s != NULL) {
        snprintf(s, n, "%s%s", cfg->issuer, suffix);
    }
    return s;
}

static json_t *jurl(const config_t *cfg, const char *suffix)
{
    char *s = url(cfg, suffix);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

static char *build_metadata(const config_t *cfg)
{
    json_t *scopes = json_array();
    for (size_t i = 0; i < cfg->n_audiences; i++) {
        for (size_t j = 0; j < cfg->audiences[i].n_scopes; j++) {
            bool dup = false;
            size_t k;
            json_t *v;
            json_array_foreach(scopes, k, v)
            {
                dup = dup || strcmp(json_string_value(v), cfg->audiences[i].scopes[j]) == 0;
            }
            if (!dup) {
                json_array_append_new(scopes, json_string(cfg->audiences[i].scopes[j]));
            }
        }
    }
    /* RFC 8414 §2 and RFC 8705 §3.3 */
    json_t *m = json_pack(
        "{s:s, s:o, s:o, s:o, s:[s], s:[s,s], s:[s,s], s:b, s:[], s:o, s:o, s:o, s:[s]}", "issuer",
        cfg->issuer, "token_endpoint", jurl(cfg, "/v1/token"), "jwks_uri",
        jurl(cfg, "/.well-known/jwks.json"), "revocation_endpoint", jurl(cfg, "/v1/revoke"),
        "grant_types_supported", "client_credentials", "token_endpoint_auth_methods_supported",
        "tls_client_auth", "client_secret_basic", "revocation_endpoint_auth_methods_supported",
        "tls_client_auth", "client_secret_basic", "tls_client_certificate_bound_access_tokens", 1,
        "response_types_supported", "scopes_supported", scopes, "mesh_revocations_endpoint",
        jurl(cfg, "/v1/revocations"), "mesh_audiences_endpoint", jurl(cfg, "/v1/audiences"),
        "access_token_types_supported", "at+jwt");
    if (m != NULL && cfg->certs.enabled &&
        json_object_set_new(m, "mesh_certificate_endpoint", jurl(cfg, "/v1/certificate")) != 0) {
        json_decref(m);
        m = NULL;
    }
    if (m == NULL) {
        return NULL;
    }
    char *s = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(m);
    return s;
}

static char *build_audiences(const config_t *cfg)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < cfg->n_audiences; i++) {
        json_t *sc = json_array();
        for (size_t j = 0; j < cfg->audiences[i].n_scopes; j++) {
            json_array_append_new(sc, json_string(cfg->audiences[i].scopes[j]));
        }
        const char *d = cfg->audiences[i].description;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "name", cfg->audiences[i].name,
                                             "description", d ? d : "", "scopes", sc));
    }
    json_t *doc = json_pack("{s:o}", "audiences", arr);
    char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    return s;
}

static mesh_err_t load_keys(issuer_state_t *st, char *err, size_t errlen)
{
    const config_t *cfg = st->cfg;
    mesh_key_t *keys[3] = {NULL, NULL, NULL};
    size_t n = 0;
    mesh_err_t rc = load_key("current", cfg->key_current, &keys[n], err, errlen);
    if (rc != MESH_OK) {
        return rc;
    }
    if (!mesh_key_is_private(keys[0])) {
        snprintf(err, errlen,
                 "signing_keys.current: %s is a public key; the issuer needs the "
                 "private key to sign",
                 cfg->key_current);
        mesh_key_free(keys[0]);
        return MESH_ERR_KEY_NOT_PRIVATE;
    }
    n++;
    if (cfg->key_next != NULL &&
        (rc = load_key("next", cfg->key_next, &keys[n++], err, errlen)) != MESH_OK) {
        n--;
        goto out;
    }
    if (cfg->key_previous != NULL &&
        (rc = load_key("previous", cfg->key_previous, &keys[n++], err, errlen)) != MESH_OK) {
        n--;
        goto out;
    }
    rc = mesh_jwks_from_keys(keys, n, &st->jwks);
    if (rc != MESH_OK) {
        snprintf(err, errlen, "signing_keys: %s: %s (is the same key listed twice?)",
                 mesh_strerror(rc), mesh_err_detail());
        goto out;
    }
    rc = mesh_jwks_to_json(st->jwks, &st->jwks_json);
    if (rc != MESH_OK) {
        snprintf(err, errlen, "signing_keys: cannot serialize the JWKS: %s", mesh_strerror(rc));
        goto out;
    }
    st->sign_key = mesh_key_ref(keys[0]);
out:
    for (size_t i = 0; i < n; i++) {
        mesh_key_free(keys[i]);
    }
    return rc;
}

mesh_err_t state_load(const char *config_path, const issuer_state_t *prev, issuer_state_t **out,
                      char *err, size_t errlen)
{
    issuer_state_t *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return MESH_ERR_NOMEM;
    }
    atomic_init(&st->refs, 1);
    mesh_err_t rc = config_load(config_path, &st->cfg, err, errlen);
    if (rc != MESH_OK) {
        goto fail;
    }
    if ((rc = load_keys(st, err, errlen)) != MESH_OK) {
        goto fail;
    }
    if ((rc = tls_ctx_new(st->cfg, &st->tls, err, errlen)) != MESH_OK) {
        goto fail;
    }
    if (st->cfg->certs.enabled &&
        (rc = ca_issuing_load(st->cfg->certs.ca_cert, st->cfg->certs.ca_key, &st->issuing)) !=
            MESH_OK) {
        snprintf(err, errlen, "certificates: %s", mesh_err_detail());
        goto fail;
    }
    st->metadata_json = build_metadata(st->cfg);
    st->audiences_json = build_audiences(st->cfg);
    st->rl_identity = rl_get(prev ? prev->rl_identity : NULL, st->cfg->rl_identity);
    st->rl_source = rl_get(prev ? prev->rl_source : NULL, st->cfg->rl_source);
    if (st->metadata_json == NULL || st->audiences_json == NULL || st->rl_identity == NULL ||
        st->rl_source == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = MESH_ERR_NOMEM;
        goto fail;
    }
    *out = st;
    return MESH_OK;
fail:
    state_unref(st);
    return rc;
}

issuer_state_t *state_ref(issuer_state_t *st)
{
    atomic_fetch_add(&st->refs, 1);
    return st;
}

void state_unref(issuer_state_t *st)
{
    if (st == NULL || atomic_fetch_sub(&st->refs, 1) != 1) {
        return;
    }
    config_free(st->cfg);
    mesh_key_free(st->sign_key);
    mesh_jwks_free(st->jwks);
    mesh_free(st->jwks_json);
    free(st->metadata_json);
    free(st->audiences_json);
    tls_ctx_free(st->tls);
    rl_put(st->rl_identity);
    rl_put(st->rl_source);
    ca_issuing_free(st->issuing);
    free(st);
}
