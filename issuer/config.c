/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jansson.h>

#include <mesh/limits.h>
#include <mesh/util.h>

#include "config_json.h"

static bool parse_listen(ctx_t *c, config_t *cfg, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen) {
        return cfg_fail(c, "listen", "'%s' must be HOST:PORT, e.g. \"127.0.0.1:8443\"", listen);
    }
    const char *host = listen;
    size_t hlen = (size_t)(colon - listen);
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0 || port > 65535) {
        return cfg_fail(c, "listen", "port '%s' must be a number 0..65535", colon + 1);
    }
    cfg->listen_host = strndup(host, hlen);
    cfg->listen_port = (int)port;
    return cfg->listen_host != NULL || cfg_fail(c, "listen", "out of memory");
}

static bool parse_tls(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *tls = json_object_get(root, "tls");
    if (tls == NULL) {
        return cfg_fail(c, "tls", "required, missing: {\"cert\":..., \"key\":..., \"ca\":...}");
    }
    if (!json_is_object(tls)) {
        return cfg_fail(c, "tls", "must be an object, got %s", cfg_type_name(tls));
    }
    static const char *const known[] = {"cert", "key", "ca", "crl", NULL};
    return cfg_only_known(c, tls, "tls", known) &&
           cfg_get_path(c, tls, "tls", "cert", true, &cfg->tls_cert) &&
           cfg_get_path(c, tls, "tls", "key", true, &cfg->tls_key) &&
           cfg_get_path(c, tls, "tls", "ca", true, &cfg->tls_ca) &&
           cfg_get_path(c, tls, "tls", "crl", false, &cfg->tls_crl);
}

static bool parse_keys(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *k = json_object_get(root, "signing_keys");
    if (k == NULL) {
        return cfg_fail(c, "signing_keys", "required, missing: {\"current\": \"jwt-signing.key\"}");
    }
    if (!json_is_object(k)) {
        return cfg_fail(c, "signing_keys", "must be an object, got %s", cfg_type_name(k));
    }
    static const char *const known[] = {"current", "next", "previous", NULL};
    return cfg_only_known(c, k, "signing_keys", known) &&
           cfg_get_path(c, k, "signing_keys", "current", true, &cfg->key_current) &&
           cfg_get_path(c, k, "signing_keys", "next", false, &cfg->key_next) &&
           cfg_get_path(c, k, "signing_keys", "previous", false, &cfg->key_previous);
}

static bool parse_tokens(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *t = json_object_get(root, "tokens");
    json_t *empty = NULL;
    if (t == NULL) {
        t = empty = json_object();
    } else if (!json_is_object(t)) {
        return cfg_fail(c, "tokens", "must be an object, got %s", cfg_type_name(t));
    }
    static const char *const known[] = {"default_ttl",       "min_ttl",    "max_ttl",
                                        "svc_token_max_ttl", "clock_skew", NULL};
    bool ok = cfg_only_known(c, t, "tokens", known) &&
              cfg_get_int(c, t, "tokens", "min_ttl", MESH_TTL_MIN, MESH_TTL_MIN, MESH_TTL_MAX,
                          &cfg->ttl_min) &&
              cfg_get_int(c, t, "tokens", "max_ttl", MESH_TTL_MAX, MESH_TTL_MIN, MESH_TTL_MAX,
                          &cfg->ttl_max) &&
              cfg_get_int(c, t, "tokens", "default_ttl", MESH_TTL_DEFAULT, MESH_TTL_MIN,
                          MESH_TTL_MAX, &cfg->ttl_default) &&
              cfg_get_int(c, t, "tokens", "svc_token_max_ttl", MESH_TTL_DEFAULT, MESH_TTL_MIN,
                          MESH_TTL_MAX, &cfg->svc_ttl_max) &&
              cfg_get_int(c, t, "tokens", "clock_skew", MESH_DEFAULT_SKEW, 0, 300, &cfg->skew);
    json_decref(empty);
    if (!ok) {
        return false;
    }
    if (cfg->ttl_min > cfg->ttl_max) {
        return cfg_fail(c, "tokens.min_ttl", "%lld is above tokens.max_ttl %lld",
                        (long long)cfg->ttl_min, (long long)cfg->ttl_max);
    }
    if (cfg->ttl_default < cfg->ttl_min || cfg->ttl_default > cfg->ttl_max) {
        return cfg_fail(
            c, "tokens.default_ttl", "%lld must lie within min_ttl..max_ttl (%lld..%lld)",
            (long long)cfg->ttl_default, (long long)cfg->ttl_min, (long long)cfg->ttl_max);
    }
    if (cfg->svc_ttl_max < cfg->ttl_min) {
        return cfg_fail(c, "tokens.svc_token_max_ttl", "%lld is below tokens.min_ttl %lld",
                        (long long)cfg->svc_ttl_max, (long long)cfg->ttl_min);
    }
    return true;
}

static bool parse_audiences(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *a = json_object_get(root, "audiences");
    if (a == NULL || !json_is_array(a) || json_array_size(a) == 0) {
        return cfg_fail(c, "audiences",
                        "required: a non-empty array of "
                        "{\"name\", \"description\", \"scopes\"}");
    }
    cfg->audiences = calloc(json_array_size(a), sizeof(cfg_audience_t));
    if (cfg->audiences == NULL) {
        return cfg_fail(c, "audiences", "out of memory");
    }
    static const char *const known[] = {"name", "description", "scopes", NULL};
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        char p[64];
        snprintf(p, sizeof(p), "audiences[%zu]", i);
        if (!json_is_object(e)) {
            return cfg_fail(c, p, "must be an object, got %s", cfg_type_name(e));
        }
        cfg_audience_t *au = &cfg->audiences[i];
        cfg->n_audiences++;
        if (!cfg_only_known(c, e, p, known) || !cfg_get_str(c, e, p, "name", true, &au->name) ||
            !cfg_get_str(c, e, p, "description", false, &au->description) ||
            !cfg_get_str_array(c, e, p, "scopes", false, &au->scopes, &au->n_scopes, NULL)) {
            return false;
        }
        if (strpbrk(au->name, " \t\r\n\"\\,") != NULL) {
            return cfg_fail(c, p, "name '%s' must be one word without commas or quotes", au->name);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->audiences[j].name, au->name) == 0) {
                return cfg_fail(c, p, "name '%s' is already used by audiences[%zu]", au->name, j);
            }
        }
    }
    return true;
}

static bool parse_policy(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *a = json_object_get(root, "policy");
    if (a == NULL) {
        return true; /* no mTLS caller gets anything; service tokens still can */
    }
    if (!json_is_array(a)) {
        return cfg_fail(c, "policy", "must be an array, got %s", cfg_type_name(a));
    }
    if (json_array_size(a) == 0) {
        return true;
    }
    cfg->policy = calloc(json_array_size(a), sizeof(cfg_policy_t));
    if (cfg->policy == NULL) {
        return cfg_fail(c, "policy", "out of memory");
    }
    static const char *const known[] = {"identity", "audiences", "scopes", "max_ttl", NULL};
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        char p[64];
        snprintf(p, sizeof(p), "policy[%zu]", i);
        if (!json_is_object(e)) {
            return cfg_fail(c, p, "must be an object, got %s", cfg_type_name(e));
        }
        cfg_policy_t *po = &cfg->policy[i];
        cfg->n_policy++;
        bool have_scopes;
        if (!cfg_only_known(c, e, p, known) ||
            !cfg_get_str(c, e, p, "identity", true, &po->identity) ||
            !cfg_get_str_array(c, e, p, "audiences", true, &po->audiences, &po->n_audiences,
                               NULL) ||
            !cfg_get_str_array(c, e, p, "scopes", false, &po->scopes, &po->n_scopes,
                               &have_scopes) ||
            !cfg_get_int(c, e, p, "max_ttl", 0, MESH_TTL_MIN, MESH_TTL_MAX, &po->max_ttl)) {
            return false;
        }
        po->all_scopes = !have_scopes;
        if (strncmp(po->identity, "svc-token:", 10) == 0) {
            /* A service token carries its own audiences and scopes: an entry here would be
             * explained and then ignored, so it is refused. */
            return cfg_fail(c, p,
                            "identity '%s': service tokens take their audiences and scopes from "
                            "`mesh-issuer token create --audience ... --scope ...`, not from "
                            "policy; remove this entry",
                            po->identity);
        }
        if (strncmp(po->identity, "spiffe://", 9) != 0) {
            return cfg_fail(c, p, "identity '%s' must start with spiffe://", po->identity);
        }
        char *star = strchr(po->identity, '*');
        if (star != NULL && star[1] != '\0') {
            return cfg_fail(c, p, "identity '%s': '*' may only end the pattern", po->identity);
        }
        if (po->n_audiences == 0) {
            return cfg_fail(c, p, "audiences is empty; list at least one audience");
        }
        for (size_t j = 0; j < po->n_audiences; j++) {
            if (config_audience(cfg, po->audiences[j]) != NULL) {
                continue;
            }
            char pj[96];
            snprintf(pj, sizeof(pj), "%s.audiences[%zu]", p, j);
            return cfg_fail(c, pj,
                            "'%s' is not a registered audience; add it to audiences[] or "
                            "fix the name",
                            po->audiences[j]);
        }
        for (size_t s = 0; s < po->n_scopes; s++) {
            bool found = false;
            for (size_t j = 0; j < po->n_audiences && !found; j++) {
                const cfg_audience_t *au = config_audience(cfg, po->audiences[j]);
                for (size_t k = 0; k < au->n_scopes; k++) {
                    if (strcmp(au->scopes[k], po->scopes[s]) == 0) {
                        found = true;
                        break;
                    }
                }
            }
            if (!found) {
                char ps[96];
                snprintf(ps, sizeof(ps), "%s.scopes[%zu]", p, s);
                return cfg_fail(c, ps, "'%s' is not a scope of any of this entry's audiences",
                                po->scopes[s]);
            }
        }
    }
    return true;
}

static bool parse_rate(ctx_t *c, const json_t *rl, const char *key, cfg_rate_t *out, double rate,
                       double burst)
{
    char p[64];
    snprintf(p, sizeof(p), "rate_limits.%s", key);
    json_t *v = rl != NULL ? json_object_get(rl, key) : NULL;
    if (v == NULL) {
        out->rate = rate;
        out->burst = burst;
        return true;
    }
    if (!json_is_object(v)) {
        return cfg_fail(c, p, "must be {\"rate\": PER_SECOND, \"burst\": N}");
    }
    static const char *const known[] = {"rate", "burst", NULL};
    if (!cfg_only_known(c, v, p, known) || !cfg_get_num(c, v, p, "rate", rate, &out->rate) ||
        !cfg_get_num(c, v, p, "burst", burst, &out->burst)) {
        return false;
    }
    if (out->rate > 0 && out->burst < 1) {
        return cfg_fail(c, p, "burst must be at least 1 when rate is set");
    }
    return true;
}

static bool parse_root(ctx_t *c, config_t *cfg, const json_t *root)
{
    static const char *const known[] = {"issuer",
                                        "listen",
                                        "tls",
                                        "signing_keys",
                                        "store",
                                        "tokens",
                                        "audiences",
                                        "policy",
                                        "admins",
                                        "rate_limits",
                                        "workers",
                                        "max_connections",
                                        "jwks_max_age",
                                        "max_connection_age",
                                        "max_connections_per_source",
                                        "certificates",
                                        NULL};
    if (!cfg_only_known(c, root, "", known)) {
        return false;
    }
    char *listen = NULL;
    if (!cfg_get_str(c, root, "", "issuer", true, &cfg->issuer)) {
        return false;
    }
    if (strncmp(cfg->issuer, "https://", 8) != 0 || cfg->issuer[8] == '\0') {
        return cfg_fail(c, "issuer", "'%s' must be an https:// URL (RFC 8414 §2)", cfg->issuer);
    }
    size_t il = strlen(cfg->issuer);
    if (cfg->issuer[il - 1] == '/') {
        cfg->issuer[il - 1] = '\0'; /* endpoint URLs are appended to it */
    }
    if (!cfg_get_str(c, root, "", "listen", true, &listen)) {
        return false;
    }
    bool ok = parse_listen(c, cfg, listen);
    free(listen);
    if (!ok || !parse_tls(c, cfg, root) || !parse_keys(c, cfg, root)) {
        return false;
    }
    if (!cfg_get_str(c, root, "", "store", true, &cfg->store)) {
        return false;
    }
    if (strncmp(cfg->store, "sqlite:", 7) != 0 || cfg->store[7] == '\0') {
        return cfg_fail(c, "store", "'%s' must be sqlite:PATH (the only store today)", cfg->store);
    }
    if (cfg->store[7] != '/' && c->dir[0] != '\0') {
        size_t n = strlen(c->dir) + strlen(cfg->store) + 2;
        char *full = malloc(n);
        if (full == NULL) {
            return cfg_fail(c, "store", "out of memory");
        }
        snprintf(full, n, "sqlite:%s/%s", c->dir, cfg->store + 7);
        free(cfg->store);
        cfg->store = full;
    }
    if (!parse_tokens(c, cfg, root) || !parse_audiences(c, cfg, root) ||
        !parse_policy(c, cfg, root) ||
        !cfg_get_str_array(c, root, "", "admins", false, &cfg->admins, &cfg->n_admins, NULL)) {
        return false;
    }
    json_t *rl = json_object_get(root, "rate_limits");
    if (rl != NULL && !json_is_object(rl)) {
        return cfg_fail(c, "rate_limits", "must be an object, got %s", cfg_type_name(rl));
    }
    static const char *const rl_known[] = {"per_identity", "per_source", NULL};
    if ((rl != NULL && !cfg_only_known(c, rl, "rate_limits", rl_known)) ||
        !parse_rate(c, rl, "per_identity", &cfg->rl_identity, 20, 40) ||
        !parse_rate(c, rl, "per_source", &cfg->rl_source, 50, 100)) {
        return false;
    }
    int64_t workers, maxc, maxage, connage, persrc;
    if (!cfg_get_int(c, root, "", "workers", 0, 0, 256, &workers) ||
        !cfg_get_int(c, root, "", "max_connections", 1024, 1, 65536, &maxc) ||
        !cfg_get_int(c, root, "", "max_connection_age", 600, 1, 86400, &connage) ||
        !cfg_get_int(c, root, "", "max_connections_per_source", 128, 1, 1048576, &persrc) ||
        !cfg_get_int(c, root, "", "jwks_max_age", 300, 0, 86400, &maxage)) {
        return false;
    }
    cfg->workers = (int)workers;
    cfg->max_connections = (int)maxc;
    cfg->jwks_max_age = (int)maxage;
    cfg->max_connection_age = (int)connage;
    cfg->max_connections_per_source = (int)persrc;
    return cfg_parse_certs(c, cfg, root);
}

mesh_err_t config_parse(const char *buf, size_t len, const char *path, config_t **out, char *err,
                        size_t errlen)
{
    err[0] = '\0';
    if (len > MESH_MAX_CONFIG_BYTES) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, MESH_MAX_CONFIG_BYTES);
        return MESH_ERR_LIMIT;
    }
    /* the library's door: duplicate members, nesting and UTF-8 by the rules of <mesh/jansson.h>;
     * its detail is "path:line:column: reason" */
    json_t *root = NULL;
    mesh_err_t rc = mesh_json_parse(buf, len, MESH_MAX_CONFIG_JSON_DEPTH, path, &root);
    if (rc == MESH_ERR_NOMEM) {
        return rc;
    }
    if (rc != MESH_OK) {
        snprintf(err, errlen, "%s", mesh_err_detail());
        return MESH_ERR_CONFIG;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "%s: the top level must be a JSON object", path);
        return MESH_ERR_CONFIG;
    }
    config_t *cfg = calloc(1, sizeof(*cfg));
    char *dir = strdup(path);
    char *msg = malloc(errlen);
    if (cfg == NULL || dir == NULL || msg == NULL) {
        free(cfg);
        free(dir);
        free(msg);
        json_decref(root);
        return MESH_ERR_NOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        slash[slash == dir ? 1 : 0] = '\0';
    } else {
        dir[0] = '\0';
    }
    msg[0] = '\0';
    ctx_t c = {.msg = msg, .len = errlen, .dir = dir};
    cfg->path = strdup(path);
    bool ok = cfg->path != NULL && parse_root(&c, cfg, root);
    json_decref(root);
    free(dir);
    if (!ok) {
        snprintf(err, errlen, "%s: %s", path, msg[0] ? msg : "out of memory");
        free(msg);
        config_free(cfg);
        return MESH_ERR_CONFIG;
    }
    free(msg);
    *out = cfg;
    return MESH_OK;
}

mesh_err_t config_load(const char *path, config_t **out, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    /* bounded: a huge file is refused unread (MESH_ERR_LIMIT), as is a FIFO or a directory */
    mesh_err_t rc = mesh_file_read(path, MESH_MAX_CONFIG_BYTES, &buf, &len);
    if (rc != MESH_OK) {
        snprintf(err, errlen, "%s", mesh_err_detail());
        return rc;
    }
    rc = config_parse(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

void config_free(config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    free(cfg->path);
    free(cfg->issuer);
    free(cfg->listen_host);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->tls_ca);
    free(cfg->tls_crl);
    free(cfg->key_current);
    free(cfg->key_next);
    free(cfg->key_previous);
    free(cfg->store);
    for (size_t i = 0; i < cfg->n_audiences; i++) {
        free(cfg->audiences[i].name);
        free(cfg->audiences[i].description);
        cfg_free_strs(cfg->audiences[i].scopes, cfg->audiences[i].n_scopes);
    }
    free(cfg->audiences);
    for (size_t i = 0; i < cfg->n_policy; i++) {
        free(cfg->policy[i].identity);
        cfg_free_strs(cfg->policy[i].audiences, cfg->policy[i].n_audiences);
        cfg_free_strs(cfg->policy[i].scopes, cfg->policy[i].n_scopes);
    }
    free(cfg->policy);
    cfg_free_strs(cfg->admins, cfg->n_admins);
    cfg_free_certs(cfg);
    free(cfg);
}

const cfg_audience_t *config_audience(const config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_audiences; i++) {
        if (cfg->audiences[i].name != NULL && strcmp(cfg->audiences[i].name, name) == 0) {
            return &cfg->audiences[i];
        }
    }
    return NULL;
}

bool config_identity_matches(const char *pattern, const char *identity)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*') {
        return strncmp(pattern, identity, n - 1) == 0;
    }
    return strcmp(pattern, identity) == 0;
}

bool config_is_admin(const config_t *cfg, const char *identity)
{
    for (size_t i = 0; i < cfg->n_admins; i++) {
        if (config_identity_matches(cfg->admins[i], identity)) {
            return true;
        }
    }
    return false;
}
