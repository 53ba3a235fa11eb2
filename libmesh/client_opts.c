/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh_client_opts_t: the client's options behind setters, so that adding one never changes
 * a layout a program compiled against (libmesh.so.0). Each setter checks its own value and
 * names the option; mesh_client_new checks what depends on several.
 */
#include <stdlib.h>
#include <string.h>

#include <mesh/util.h>

#include "client_internal.h"
#include <mesh/limits.h>

#include "internal.h"
#include "opts.h"
#include "x509_internal.h"

MESH_EXPORT mesh_err_t mesh_client_opts_new(mesh_client_opts_t **out)
{
    mesh_client_opts_t *o;

    mesh_err_clear();
    if (out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_client_opts_new: out is required");
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "client options");
    }
    o->cache_entries = 64;
    o->refresh_fraction = 0.8;
    o->max_retries = 3;
    o->retry_base_ms = 200;
    o->retry_max_ms = 5000;
    o->timeout_ms = 10000;
    *out = o;
    return MESH_OK;
}

MESH_EXPORT void mesh_client_opts_free(mesh_client_opts_t *o)
{
    if (o == NULL) {
        return;
    }
    free(o->issuer_url);
    free(o->cert_path);
    free(o->key_path);
    free(o->ca_path);
    free(o->client_id);
    mesh_opt_free_secret(o->client_secret);
    free(o->issuer_id);
    mesh_opt_free_secret(o->join_token);
    free(o);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_issuer_url(mesh_client_opts_t *o, const char *url)
{
    MESH_OPT_NEED(o, "client option", "issuer_url");
    if (url == NULL || strncmp(url, "https://", 8) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "client option issuer_url: \"%s\" is not https:// "
                            "(set MESH_ISSUER_URL to the issuer's https URL)",
                            url != NULL ? url : "(none)");
    }
    return mesh_opt_str("client option", "issuer_url", &o->issuer_url, url, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, 0);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_cert_path(mesh_client_opts_t *o, const char *path)
{
    MESH_OPT_NEED(o, "client option", "cert_path");
    return mesh_opt_str("client option", "cert_path", &o->cert_path, path, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, 0);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_key_path(mesh_client_opts_t *o, const char *path)
{
    MESH_OPT_NEED(o, "client option", "key_path");
    return mesh_opt_str("client option", "key_path", &o->key_path, path, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, 0);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_ca_path(mesh_client_opts_t *o, const char *path)
{
    MESH_OPT_NEED(o, "client option", "ca_path");
    return mesh_opt_str("client option", "ca_path", &o->ca_path, path, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, 0);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_client_id(mesh_client_opts_t *o, const char *id)
{
    MESH_OPT_NEED(o, "client option", "client_id");
    return mesh_opt_str("client option", "client_id", &o->client_id, id, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, 0);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_client_secret(mesh_client_opts_t *o, const char *secret)
{
    MESH_OPT_NEED(o, "client option", "client_secret");
    return mesh_opt_str("client option", "client_secret", &o->client_secret, secret,
                        MESH_MAX_OPT_STRING, MESH_ERR_INVALID_ARG, MESH_OPT_SECRET);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_issuer_id(mesh_client_opts_t *o, const char *id)
{
    MESH_OPT_NEED(o, "client option", "issuer_id");
    if (id != NULL && !mesh_spiffe_id_valid(id)) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "client option issuer_id: \"%s\" is not a SPIFFE "
                            "ID (set MESH_ISSUER_ID to the issuer's, e.g. "
                            "spiffe://mesh.local/issuer)",
                            id);
    }
    return mesh_opt_str("client option", "issuer_id", &o->issuer_id, id, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, 0);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_insecure_skip_hostname(mesh_client_opts_t *o, bool skip)
{
    MESH_OPT_NEED(o, "client option", "insecure_skip_hostname");
    o->insecure_skip_hostname = skip;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_cache_entries(mesh_client_opts_t *o, size_t n)
{
    MESH_OPT_NEED(o, "client option", "cache_entries");
    if (n == 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "client option cache_entries: must be >= 1");
    }
    o->cache_entries = n;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_refresh_fraction(mesh_client_opts_t *o, double f)
{
    MESH_OPT_NEED(o, "client option", "refresh_fraction");
    if (!(f > 0.0 && f < 1.0)) { /* also refuses NaN */
        return mesh_err_set(MESH_ERR_INVALID_ARG, "client option refresh_fraction: must be in "
                                                  "(0, 1)");
    }
    o->refresh_fraction = f;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_token_ttl(mesh_client_opts_t *o, int64_t seconds)
{
    MESH_OPT_NEED(o, "client option", "token_ttl");
    if (seconds < 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "client option token_ttl: must be >= 0 (0: "
                                                  "the issuer's default)");
    }
    o->token_ttl = seconds;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_max_retries(mesh_client_opts_t *o, int n)
{
    MESH_OPT_NEED(o, "client option", "max_retries");
    if (n < 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "client option max_retries: must be >= 0");
    }
    o->max_retries = n;
    return MESH_OK;
}

static mesh_err_t set_ms(mesh_client_opts_t *o, const char *name, int64_t *slot, int64_t ms)
{
    MESH_OPT_NEED(o, "client option", name);
    if (ms <= 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "client option %s: must be > 0 ms", name);
    }
    *slot = ms;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_retry_base_ms(mesh_client_opts_t *o, int64_t ms)
{
    return set_ms(o, "retry_base_ms", o != NULL ? &o->retry_base_ms : NULL, ms);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_retry_max_ms(mesh_client_opts_t *o, int64_t ms)
{
    return set_ms(o, "retry_max_ms", o != NULL ? &o->retry_max_ms : NULL, ms);
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_timeout_ms(mesh_client_opts_t *o, int64_t ms)
{
    return set_ms(o, "timeout_ms", o != NULL ? &o->timeout_ms : NULL, ms);
}
