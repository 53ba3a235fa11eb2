/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh_renew_opts_t: the renewal options behind setters (as client_opts.c), and the schedule
 * they imply: the renewal point in a certificate's life and the backoff while the issuer is
 * down. Both are pure functions of the options, so the unit tests hold their bounds.
 */
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "internal.h"
#include "opts.h"
#include "renew_internal.h"

#define WHAT "renew option"

MESH_EXPORT mesh_err_t mesh_renew_opts_new(mesh_renew_opts_t **out)
{
    mesh_renew_opts_t *o;

    mesh_err_clear();
    if (out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_renew_opts_new: out is required");
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "renew options");
    }
    o->key_type = MESH_KEY_P256;
    o->fraction = 2.0 / 3.0;
    o->jitter = 0.1;
    o->retry_base_ms = 1000;
    o->retry_max_ms = 300000;
    o->timeout_ms = 10000;
    *out = o;
    return MESH_OK;
}

MESH_EXPORT void mesh_renew_opts_free(mesh_renew_opts_t *o)
{
    if (o == NULL) {
        return;
    }
    free(o->issuer_url);
    free(o->ca_path);
    free(o->cert_path);
    free(o->key_path);
    mesh_opt_free_secret(o->join_token);
    free(o);
}

mesh_err_t mesh_renew_opts_copy(const mesh_renew_opts_t *o, mesh_renew_opts_t **out)
{
    mesh_renew_opts_t *c = malloc(sizeof(*c));
    const char *src[] = {o->issuer_url, o->ca_path, o->cert_path, o->key_path, o->join_token};

    if (c == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "renew options");
    }
    *c = *o;
    char **dst[] = {&c->issuer_url, &c->ca_path, &c->cert_path, &c->key_path, &c->join_token};
    for (size_t i = 0; i < MESH_ARRAY_LEN(src); i++) {
        *dst[i] = NULL;
    }
    for (size_t i = 0; i < MESH_ARRAY_LEN(src); i++) {
        if (src[i] != NULL && (*dst[i] = strdup(src[i])) == NULL) {
            mesh_renew_opts_free(c);
            return mesh_err_set(MESH_ERR_NOMEM, "renew options");
        }
    }
    *out = c;
    return MESH_OK;
}

mesh_err_t mesh_renew_opts_check(const mesh_renew_opts_t *o)
{
    const char *names[] = {"issuer_url", "ca_path", "cert_path", "key_path"};
    const char *vals[] = {o->issuer_url, o->ca_path, o->cert_path, o->key_path};
    const char *hints[] = {"the issuer's https URL (MESH_ISSUER_URL, mesh renew --issuer)",
                           "the mesh CA file (TLS_CA_PATH, mesh renew --ca)",
                           "where the certificate lives (TLS_CERT_PATH, mesh renew --cert)",
                           "where the key lives (TLS_KEY_PATH, mesh renew --key)"};

    for (size_t i = 0; i < MESH_ARRAY_LEN(names); i++) {
        if (vals[i] == NULL) {
            return mesh_err_set(MESH_ERR_CONFIG, "renew option %s is not set: give %s", names[i],
                                hints[i]);
        }
    }
    if (o->retry_max_ms < o->retry_base_ms) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "renew options: retry_max_ms (%lld) is below "
                            "retry_base_ms (%lld)",
                            (long long)o->retry_max_ms, (long long)o->retry_base_ms);
    }
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_issuer_url(mesh_renew_opts_t *o, const char *url)
{
    MESH_OPT_NEED(o, WHAT, "issuer_url");
    if (url == NULL || strncmp(url, "https://", 8) != 0 || url[8] == '\0') {
        return mesh_err_set(MESH_ERR_CONFIG,
                            WHAT " issuer_url: \"%s\" is not an https:// URL "
                                 "(give the issuer's, e.g. https://127.0.0.1:8443)",
                            url != NULL ? url : "(none)");
    }
    return mesh_opt_str(WHAT, "issuer_url", &o->issuer_url, url, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, 0);
}

static mesh_err_t set_path(mesh_renew_opts_t *o, const char *name, char **slot, const char *p)
{
    MESH_OPT_NEED(o, WHAT, name);
    return mesh_opt_str(WHAT, name, slot, p, MESH_MAX_OPT_STRING, MESH_ERR_INVALID_ARG,
                        MESH_OPT_REQUIRED);
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_ca_path(mesh_renew_opts_t *o, const char *path)
{
    return set_path(o, "ca_path", o != NULL ? &o->ca_path : NULL, path);
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_cert_path(mesh_renew_opts_t *o, const char *path)
{
    return set_path(o, "cert_path", o != NULL ? &o->cert_path : NULL, path);
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_key_path(mesh_renew_opts_t *o, const char *path)
{
    return set_path(o, "key_path", o != NULL ? &o->key_path : NULL, path);
}

/* "mjt_" + base64url(32 bytes): 43 characters of the URL-safe alphabet, no padding. */
static bool join_token_shape(const char *t)
{
    if (strlen(t) != MESH_JOIN_TOKEN_LEN || strncmp(t, "mjt_", 4) != 0) {
        return false;
    }
    for (const char *p = t + 4; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_')) {
            return false;
        }
    }
    return true;
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_join_token(mesh_renew_opts_t *o, const char *token)
{
    MESH_OPT_NEED(o, WHAT, "join_token");
    if (token != NULL && token[0] != '\0' && !join_token_shape(token)) {
        /* Never the token itself in the detail: it is a credential. */
        return mesh_err_set(MESH_ERR_CONFIG,
                            WHAT " join_token: not a join token (\"mjt_\" and "
                                 "43 base64url characters, as `mesh-issuer join-token create` "
                                 "prints it)");
    }
    return mesh_opt_str(WHAT, "join_token", &o->join_token, token, MESH_JOIN_TOKEN_LEN,
                        MESH_ERR_INVALID_ARG, MESH_OPT_SECRET | MESH_OPT_EMPTY_UNSETS);
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_key_type(mesh_renew_opts_t *o, mesh_key_type_t type)
{
    MESH_OPT_NEED(o, WHAT, "key_type");
    if (mesh_key_type_name(type) == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            WHAT " key_type: %d is not a key type "
                                 "(p256, ed25519, rsa2048, rsa3072)",
                            (int)type);
    }
    o->key_type = type;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_fraction(mesh_renew_opts_t *o, double f)
{
    MESH_OPT_NEED(o, WHAT, "fraction");
    if (!(f > 0.0 && f < 1.0)) { /* also refuses NaN */
        return mesh_err_set(MESH_ERR_INVALID_ARG, WHAT " fraction: must be in (0, 1) (of the "
                                                       "certificate's lifetime; default 2/3)");
    }
    o->fraction = f;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_jitter(mesh_renew_opts_t *o, double j)
{
    MESH_OPT_NEED(o, WHAT, "jitter");
    if (!(j >= 0.0 && j <= 0.5)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, WHAT " jitter: must be in [0, 0.5] (of the "
                                                       "certificate's lifetime; default 0.1)");
    }
    o->jitter = j;
    return MESH_OK;
}

static mesh_err_t set_ms(mesh_renew_opts_t *o, const char *name, int64_t *slot, int64_t ms)
{
    MESH_OPT_NEED(o, WHAT, name);
    if (ms <= 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, WHAT " %s: must be > 0 ms", name);
    }
    *slot = ms;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_retry_base_ms(mesh_renew_opts_t *o, int64_t ms)
{
    return set_ms(o, "retry_base_ms", o != NULL ? &o->retry_base_ms : NULL, ms);
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_retry_max_ms(mesh_renew_opts_t *o, int64_t ms)
{
    return set_ms(o, "retry_max_ms", o != NULL ? &o->retry_max_ms : NULL, ms);
}

MESH_EXPORT mesh_err_t mesh_renew_opts_set_timeout_ms(mesh_renew_opts_t *o, int64_t ms)
{
    return set_ms(o, "timeout_ms", o != NULL ? &o->timeout_ms : NULL, ms);
}

static double unit(double u)
{
    return u >= 0.0 && u <= 1.0 ? u : 0.5; /* NaN and out of range: the middle */
}

MESH_EXPORT int64_t mesh_renew_point(const mesh_renew_opts_t *o, int64_t not_before,
                                     int64_t not_after, double u)
{
    int64_t life = not_after - not_before;
    double f;
    int64_t at;

    if (o == NULL || life <= 1) {
        return not_before;
    }
    f = o->fraction - o->jitter / 2.0 + unit(u) * o->jitter;
    at = not_before + (int64_t)((double)life * (f > 0.0 ? f : 0.0)); /* f >= 0: truncation floors */
    if (at < not_before) {
        at = not_before;
    }
    if (at > not_after - 1) {
        at = not_after - 1;
    }
    return at;
}

MESH_EXPORT int64_t mesh_renew_backoff_ms(const mesh_renew_opts_t *o, int attempt, double u)
{
    int64_t d;

    if (o == NULL) {
        return 0;
    }
    d = o->retry_base_ms;
    for (int i = 0; i < attempt && d < o->retry_max_ms; i++) {
        d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    }
    if (d > o->retry_max_ms) {
        d = o->retry_max_ms;
    }
    /* "Equal jitter": never less than half the step, so a fleet spreads out but still backs
     * off (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
    return d / 2 + (int64_t)((double)(d - d / 2) * unit(u));
}
