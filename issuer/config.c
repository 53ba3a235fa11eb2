/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <mesh/limits.h>

typedef struct {
    char *msg;
    size_t len;
    const char *dir; /* the config file's directory, for relative paths */
} ctx_t;

__attribute__((format(printf, 3, 4))) static bool fail(ctx_t *c, const char *path,
                                                       const char *fmt, ...)
{
    int n = snprintf(c->msg, c->len, "%s: ", path);
    if (n < 0 || (size_t)n >= c->len) {
        return false;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg + n, c->len - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static void join(char *out, size_t cap, const char *a, const char *b)
{
    snprintf(out, cap, "%s%s%s", a, a[0] ? "." : "", b);
}

/* Every member of `obj` must be in the NULL-terminated `known` list: typos are errors. */
static bool only_known(ctx_t *c, const json_t *obj, const char *path, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL; i++) {
            if (strcmp(key, known[i]) == 0) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            char list[512] = "";
            size_t used = 0;
            for (size_t i = 0; known[i] != NULL; i++) {
                int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                 known[i]);
                if (n < 0 || (size_t)n >= sizeof(list) - used) {
                    break;
                }
                used += (size_t)n;
            }
            char p[256];
            join(p, sizeof(p), path, key);
            return fail(c, p, "unknown member; known members here: %s", list);
        }
    }
    return true;
}

static bool get_str(ctx_t *c, const json_t *obj, const char *path, const char *key,
                    bool required, char **out)
{
    char p[256];
    join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required) {
            return fail(c, p, "required, missing");
        }
        *out = NULL;
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return fail(c, p, "must be a non-empty string, got %s", type_name(v));
    }
    *out = strdup(json_string_value(v));
    return *out != NULL || fail(c, p, "out of memory");
}

static bool get_int(ctx_t *c, const json_t *obj, const char *path, const char *key,
                    int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    char p[256];
    join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (!json_is_integer(v)) {
        return fail(c, p, "must be an integer, got %s", type_name(v));
    }
    int64_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        return fail(c, p, "%lld is out of range; use %lld..%lld", (long long)x, (long long)lo,
                    (long long)hi);
    }
    *out = x;
    return true;
}

static bool get_num(ctx_t *c, const json_t *obj, const char *path, const char *key,
                    double def, double *out)
{
    char p[256];
    join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e6) {
        return fail(c, p, "must be a number from 0 to 1000000");
    }
    *out = json_number_value(v);
    return true;
}

/* Resolves a relative path against the config's directory; "" stays as is. */
static bool resolve(ctx_t *c, const char *path, char **p)
{
    if (*p == NULL || (*p)[0] == '/' || c->dir[0] == '\0') {
        return true;
    }
    size_t n = strlen(c->dir) + strlen(*p) + 2;
    char *full = malloc(n);
    if (full == NULL) {
        return fail(c, path, "out of memory");
    }
    snprintf(full, n, "%s/%s", c->dir, *p);
    free(*p);
    *p = full;
    return true;
}

static bool get_path(ctx_t *c, const json_t *obj, const char *path, const char *key,
                     bool required, char **out)
{
    char p[256];
    join(p, sizeof(p), path, key);
    return get_str(c, obj, path, key, required, out) && resolve(c, p, out);
}

static bool get_str_array(ctx_t *c, const json_t *obj, const char *path, const char *key,
                          bool required, char ***out, size_t *n, bool *present)
{
    char p[256];
    join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (present != NULL) {
        *present = v != NULL;
    }
    if (v == NULL) {
        return !required || fail(c, p, "required, missing");
    }
    if (!json_is_array(v)) {
        return fail(c, p, "must be an array of strings, got %s", type_name(v));
    }
    size_t len = json_array_size(v);
    if (len == 0) {
        return true;
    }
    *out = calloc(len, sizeof(char *));
    if (*out == NULL) {
        return fail(c, p, "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        json_t *s = json_array_get(v, i);
        char pi[300];
        snprintf(pi, sizeof(pi), "%s[%zu]", p, i);
        if (!json_is_string(s) || json_string_length(s) == 0) {
            return fail(c, pi, "must be a non-empty string, got %s", type_name(s));
        }
        if (strpbrk(json_string_value(s), " \t\r\n\"\\,") != NULL) {
            return fail(c, pi, "'%s' contains a space, comma, quote or backslash; use a "
                        "single word", json_string_value(s));
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp((*out)[j], json_string_value(s)) == 0) {
                return fail(c, pi, "'%s' is listed twice", json_string_value(s));
            }
        }
        (*out)[i] = strdup(json_string_value(s));
        if ((*out)[i] == NULL) {
            return fail(c, pi, "out of memory");
        }
        (*n)++;
    }
    return true;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static bool parse_listen(ctx_t *c, config_t *cfg, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen) {
        return fail(c, "listen", "'%s' must be HOST:PORT, e.g. \"127.0.0.1:8443\"", listen);
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
        return fail(c, "listen", "port '%s' must be a number 0..65535", colon + 1);
    }
    cfg->listen_host = strndup(host, hlen);
    cfg->listen_port = (int)port;
    return cfg->listen_host != NULL || fail(c, "listen", "out of memory");
}

static bool parse_tls(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *tls = json_object_get(root, "tls");
    if (tls == NULL) {
        return fail(c, "tls", "required, missing: {\"cert\":..., \"key\":..., \"ca\":...}");
    }
    if (!json_is_object(tls)) {
        return fail(c, "tls", "must be an object, got %s", type_name(tls));
    }
    static const char *const known[] = {"cert", "key", "ca", "crl", NULL};
    return only_known(c, tls, "tls", known) &&
           get_path(c, tls, "tls", "cert", true, &cfg->tls_cert) &&
           get_path(c, tls, "tls", "key", true, &cfg->tls_key) &&
           get_path(c, tls, "tls", "ca", true, &cfg->tls_ca) &&
           get_path(c, tls, "tls", "crl", false, &cfg->tls_crl);
}

static bool parse_keys(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *k = json_object_get(root, "signing_keys");
    if (k == NULL) {
        return fail(c, "signing_keys", "required, missing: {\"current\": \"jwt-signing.key\"}");
    }
    if (!json_is_object(k)) {
        return fail(c, "signing_keys", "must be an object, got %s", type_name(k));
    }
    static const char *const known[] = {"current", "next", "previous", NULL};
    return only_known(c, k, "signing_keys", known) &&
           get_path(c, k, "signing_keys", "current", true, &cfg->key_current) &&
           get_path(c, k, "signing_keys", "next", false, &cfg->key_next) &&
           get_path(c, k, "signing_keys", "previous", false, &cfg->key_previous);
}

static bool parse_tokens(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *t = json_object_get(root, "tokens");
    json_t *empty = NULL;
    if (t == NULL) {
        t = empty = json_object();
    } else if (!json_is_object(t)) {
        return fail(c, "tokens", "must be an object, got %s", type_name(t));
    }
    static const char *const known[] = {"default_ttl", "min_ttl", "max_ttl",
                                        "svc_token_max_ttl", "clock_skew", NULL};
    bool ok = only_known(c, t, "tokens", known) &&
              get_int(c, t, "tokens", "min_ttl", MESH_TTL_MIN, MESH_TTL_MIN, MESH_TTL_MAX,
                      &cfg->ttl_min) &&
              get_int(c, t, "tokens", "max_ttl", MESH_TTL_MAX, MESH_TTL_MIN, MESH_TTL_MAX,
                      &cfg->ttl_max) &&
              get_int(c, t, "tokens", "default_ttl", MESH_TTL_DEFAULT, MESH_TTL_MIN,
                      MESH_TTL_MAX, &cfg->ttl_default) &&
              get_int(c, t, "tokens", "svc_token_max_ttl", MESH_TTL_DEFAULT, MESH_TTL_MIN,
                      MESH_TTL_MAX, &cfg->svc_ttl_max) &&
              get_int(c, t, "tokens", "clock_skew", MESH_DEFAULT_SKEW, 0, 300, &cfg->skew);
    json_decref(empty);
    if (!ok) {
        return false;
    }
    if (cfg->ttl_min > cfg->ttl_max) {
        return fail(c, "tokens.min_ttl", "%lld is above tokens.max_ttl %lld",
                    (long long)cfg->ttl_min, (long long)cfg->ttl_max);
    }
    if (cfg->ttl_default < cfg->ttl_min || cfg->ttl_default > cfg->ttl_max) {
        return fail(c, "tokens.default_ttl", "%lld must lie within min_ttl..max_ttl (%lld..%lld)",
                    (long long)cfg->ttl_default, (long long)cfg->ttl_min,
                    (long long)cfg->ttl_max);
    }
    if (cfg->svc_ttl_max < cfg->ttl_min) {
        return fail(c, "tokens.svc_token_max_ttl", "%lld is below tokens.min_ttl %lld",
                    (long long)cfg->svc_ttl_max, (long long)cfg->ttl_min);
    }
    return true;
}

static bool parse_audiences(ctx_t *c, config_t *cfg, const json_t *root)
{
    json_t *a = json_object_get(root, "audiences");
    if (a == NULL || !json_is_array(a) || json_array_size(a) == 0) {
        return fail(c, "audiences", "required: a non-empty array of "
                    "{\"name\", \"description\", \"scopes\"}");
    }
    cfg->audiences = calloc(json_array_size(a), sizeof(cfg_audience_t));
    if (cfg->audiences == NULL) {
        return fail(c, "audiences", "out of memory");
    }
    static const char *const known[] = {"name", "description", "scopes", NULL};
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        char p[64];
        snprintf(p, sizeof(p), "audiences[%zu]", i);
        if (!json_is_object(e)) {
            return fail(c, p, "must be an object, got %s", type_name(e));
        }
        cfg_audience_t *au = &cfg->audiences[i];
        cfg->n_audiences++;
        if (!only_known(c, e, p, known) || !get_str(c, e, p, "name", true, &au->name) ||
            !get_str(c, e, p, "description", false, &au->description) ||
            !get_str_array(c, e, p, "scopes", false, &au->scopes, &au->n_scopes, NULL)) {
            return false;
        }
        if (strpbrk(au->name, " \t\r\n\"\\,") != NULL) {
            return fail(c, p, "name '%s' must be one word without commas or quotes", au->name);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->audiences[j].name, au->name) == 0) {
                return fail(c, p, "name '%s' is already used by audiences[%zu]", au->name, j);
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
        return fail(c, "policy", "must be an array, got %s", type_name(a));
    }
    if (json_array_size(a) == 0) {
        return true;
    }
    cfg->policy = calloc(json_array_size(a), sizeof(cfg_policy_t));
    if (cfg->policy == NULL) {
        return fail(c, "policy", "out of memory");
    }
    static const char *const known[] = {"identity", "audiences", "scopes", "max_ttl", NULL};
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        char p[64];
        snprintf(p, sizeof(p), "policy[%zu]", i);
        if (!json_is_object(e)) {
            return fail(c, p, "must be an object, got %s", type_name(e));
        }
        cfg_policy_t *po = &cfg->policy[i];
        cfg->n_policy++;
        bool have_scopes;
        if (!only_known(c, e, p, known) || !get_str(c, e, p, "identity", true, &po->identity) ||
            !get_str_array(c, e, p, "audiences", true, &po->audiences, &po->n_audiences, NULL) ||
            !get_str_array(c, e, p, "scopes", false, &po->scopes, &po->n_scopes,
                           &have_scopes) ||
            !get_int(c, e, p, "max_ttl", 0, MESH_TTL_MIN, MESH_TTL_MAX, &po->max_ttl)) {
            return false;
        }
        po->all_scopes = !have_scopes;
        if (strncmp(po->identity, "spiffe://", 9) != 0 &&
            strncmp(po->identity, "svc-token:", 10) != 0) {
            return fail(c, p, "identity '%s' must start with spiffe:// or svc-token:",
                        po->identity);
        }
        char *star = strchr(po->identity, '*');
        if (star != NULL && star[1] != '\0') {
            return fail(c, p, "identity '%s': '*' may only end the pattern", po->identity);
        }
        if (po->n_audiences == 0) {
            return fail(c, p, "audiences is empty; list at least one audience");
        }
        for (size_t j = 0; j < po->n_audiences; j++) {
            if (config_audience(cfg, po->audiences[j]) != NULL) {
                continue;
            }
            char pj[96];
            snprintf(pj, sizeof(pj), "%s.audiences[%zu]", p, j);
            return fail(c, pj, "'%s' is not a registered audience; add it to audiences[] or "
                        "fix the name", po->audiences[j]);
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
                return fail(c, ps, "'%s' is not a scope of any of this entry's audiences",
                            po->scopes[s]);
            }
        }
    }
    return true;
}

static bool parse_rate(ctx_t *c, const json_t *rl, const char *key, cfg_rate_t *out,
                       double rate, double burst)
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
        return fail(c, p, "must be {\"rate\": PER_SECOND, \"burst\": N}");
    }
    static const char *const known[] = {"rate", "burst", NULL};
    if (!only_known(c, v, p, known) || !get_num(c, v, p, "rate", rate, &out->rate) ||
        !get_num(c, v, p, "burst", burst, &out->burst)) {
        return false;
    }
    if (out->rate > 0 && out->burst < 1) {
        return fail(c, p, "burst must be at least 1 when rate is set");
    }
    return true;
}

static bool parse_root(ctx_t *c, config_t *cfg, const json_t *root)
{
    static const char *const known[] = {
        "issuer", "listen", "tls", "signing_keys", "store", "tokens", "audiences", "policy",
        "admins", "rate_limits", "workers", "max_connections", "jwks_max_age", NULL};
    if (!only_known(c, root, "", known)) {
        return false;
    }
    char *listen = NULL;
    if (!get_str(c, root, "", "issuer", true, &cfg->issuer)) {
        return false;
    }
    if (strncmp(cfg->issuer, "https://", 8) != 0 || cfg->issuer[8] == '\0') {
        return fail(c, "issuer", "'%s' must be an https:// URL (RFC 8414 §2)", cfg->issuer);
    }
    size_t il = strlen(cfg->issuer);
    if (cfg->issuer[il - 1] == '/') {
        cfg->issuer[il - 1] = '\0'; /* endpoint URLs are appended to it */
    }
    if (!get_str(c, root, "", "listen", true, &listen)) {
        return false;
    }
    bool ok = parse_listen(c, cfg, listen);
    free(listen);
    if (!ok || !parse_tls(c, cfg, root) || !parse_keys(c, cfg, root)) {
        return false;
    }
    if (!get_str(c, root, "", "store", true, &cfg->store)) {
        return false;
    }
    if (strncmp(cfg->store, "sqlite:", 7) != 0 || cfg->store[7] == '\0') {
        return fail(c, "store", "'%s' must be sqlite:PATH (the only store today)", cfg->store);
    }
    if (cfg->store[7] != '/' && c->dir[0] != '\0') {
        size_t n = strlen(c->dir) + strlen(cfg->store) + 2;
        char *full = malloc(n);
        if (full == NULL) {
            return fail(c, "store", "out of memory");
        }
        snprintf(full, n, "sqlite:%s/%s", c->dir, cfg->store + 7);
        free(cfg->store);
        cfg->store = full;
    }
    if (!parse_tokens(c, cfg, root) || !parse_audiences(c, cfg, root) ||
        !parse_policy(c, cfg, root) ||
        !get_str_array(c, root, "", "admins", false, &cfg->admins, &cfg->n_admins, NULL)) {
        return false;
    }
    json_t *rl = json_object_get(root, "rate_limits");
    if (rl != NULL && !json_is_object(rl)) {
        return fail(c, "rate_limits", "must be an object, got %s", type_name(rl));
    }
    static const char *const rl_known[] = {"per_identity", "per_source", NULL};
    if ((rl != NULL && !only_known(c, rl, "rate_limits", rl_known)) ||
        !parse_rate(c, rl, "per_identity", &cfg->rl_identity, 20, 40) ||
        !parse_rate(c, rl, "per_source", &cfg->rl_source, 50, 100)) {
        return false;
    }
    int64_t workers, maxc, maxage;
    if (!get_int(c, root, "", "workers", 0, 0, 256, &workers) ||
        !get_int(c, root, "", "max_connections", 1024, 1, 65536, &maxc) ||
        !get_int(c, root, "", "jwks_max_age", 300, 0, 86400, &maxage)) {
        return false;
    }
    cfg->workers = (int)workers;
    cfg->max_connections = (int)maxc;
    cfg->jwks_max_age = (int)maxage;
    return true;
}

mesh_err_t config_load(const char *path, config_t **out, char *err, size_t errlen)
{
    err[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return MESH_ERR_IO;
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    long size = ftell(f);
    fclose(f);
    if (root == NULL) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return MESH_ERR_CONFIG;
    }
    if (size > CONFIG_MAX_BYTES) {
        json_decref(root);
        snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
        return MESH_ERR_LIMIT;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "%s: the top level must be a JSON object", path);
        return MESH_ERR_CONFIG;
    }
    config_t *cfg = calloc(1, sizeof(*cfg));
    char *dir = strdup(path);
    if (cfg == NULL || dir == NULL) {
        free(cfg);
        free(dir);
        json_decref(root);
        return MESH_ERR_NOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        slash[slash == dir ? 1 : 0] = '\0';
    } else {
        dir[0] = '\0';
    }
    char *msg = malloc(errlen);
    ctx_t c = {.msg = msg, .len = errlen, .dir = dir};
    cfg->path = strdup(path);
    bool ok = msg != NULL && cfg->path != NULL && parse_root(&c, cfg, root);
    json_decref(root);
    free(dir);
    if (!ok) {
        snprintf(err, errlen, "%s: %s", path, msg != NULL ? msg : "out of memory");
        free(msg);
        config_free(cfg);
        return MESH_ERR_CONFIG;
    }
    free(msg);
    *out = cfg;
    return MESH_OK;
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
        free_strs(cfg->audiences[i].scopes, cfg->audiences[i].n_scopes);
    }
    free(cfg->audiences);
    for (size_t i = 0; i < cfg->n_policy; i++) {
        free(cfg->policy[i].identity);
        free_strs(cfg->policy[i].audiences, cfg->policy[i].n_audiences);
        free_strs(cfg->policy[i].scopes, cfg->policy[i].n_scopes);
    }
    free(cfg->policy);
    free_strs(cfg->admins, cfg->n_admins);
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

static void print_list(FILE *f, char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s%s", i ? ", " : "", v[i]);
    }
}

void config_explain(const config_t *cfg, FILE *f)
{
    char w[32];
    snprintf(w, sizeof(w), "%d", cfg->workers);
    fprintf(f, "issuer %s listens on %s:%d with %s worker threads\n", cfg->issuer,
            cfg->listen_host, cfg->listen_port, cfg->workers ? w : "one per core");
    fprintf(f, "  TLS certificate %s, client certificates checked against %s%s%s\n",
            cfg->tls_cert, cfg->tls_ca, cfg->tls_crl ? " and the CRL " : "",
            cfg->tls_crl ? cfg->tls_crl : "");
    fprintf(f, "  signs with %s%s%s%s%s\n", cfg->key_current,
            cfg->key_next ? "; publishes next " : "", cfg->key_next ? cfg->key_next : "",
            cfg->key_previous ? "; publishes previous " : "",
            cfg->key_previous ? cfg->key_previous : "");
    fprintf(f, "  store %s\n", cfg->store);
    fprintf(f, "  token lifetime %llds by default, %lld..%llds allowed; service-token tokens "
            "at most %llds; clock skew %llds\n", (long long)cfg->ttl_default,
            (long long)cfg->ttl_min, (long long)cfg->ttl_max, (long long)cfg->svc_ttl_max,
            (long long)cfg->skew);
    fprintf(f, "audiences:\n");
    for (size_t i = 0; i < cfg->n_audiences; i++) {
        fprintf(f, "  %s (scopes: ", cfg->audiences[i].name);
        print_list(f, cfg->audiences[i].scopes, cfg->audiences[i].n_scopes);
        fprintf(f, ")%s%s\n", cfg->audiences[i].description ? " - " : "",
                cfg->audiences[i].description ? cfg->audiences[i].description : "");
    }
    fprintf(f, "policy:\n");
    if (cfg->n_policy == 0) {
        fprintf(f, "  (none: no certificate holder can get a token)\n");
    }
    for (size_t i = 0; i < cfg->n_policy; i++) {
        const cfg_policy_t *p = &cfg->policy[i];
        fprintf(f, "  %s may get tokens for ", p->identity);
        print_list(f, p->audiences, p->n_audiences);
        if (p->all_scopes) {
            fprintf(f, " with any of their scopes");
        } else {
            fprintf(f, " with scopes ");
            print_list(f, p->scopes, p->n_scopes);
        }
        fprintf(f, ", lifetime up to %llds\n",
                (long long)(p->max_ttl ? p->max_ttl : cfg->ttl_max));
    }
    fprintf(f, "admins (may revoke any token): ");
    if (cfg->n_admins == 0) {
        fprintf(f, "(none)");
    }
    print_list(f, cfg->admins, cfg->n_admins);
    fprintf(f, "\nrate limits: %.1f/s burst %.0f per identity, %.1f/s burst %.0f per source "
            "address (0 = unlimited)\n", cfg->rl_identity.rate, cfg->rl_identity.burst,
            cfg->rl_source.rate, cfg->rl_source.burst);
}
