/* SPDX-License-Identifier: Apache-2.0 */
/* One route of the config: what it matches and what it requires. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mesh/limits.h>

#include "cfg_json.h"
#include "config.h"
#include "route.h"

static bool parse_host(cfg_t *c, route_t *r, const json_t *o, const char *path)
{
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "host");
    if (!cfg_str(c, o, path, "host", false, &r->host)) {
        return false;
    }
    if (r->host == NULL) {
        return true;
    }
    if (strcmp(r->host, "*") == 0) {
        free(r->host);
        r->host = NULL;
        return true;
    }
    if (strlen(r->host) > MESH_AUTHZ_MAX_HOST) {
        return cfg_fail(c, p, "longer than %d bytes (MESH_AUTHZ_MAX_HOST)", MESH_AUTHZ_MAX_HOST);
    }
    for (char *q = r->host; *q; q++) {
        if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-') {
            return cfg_fail(c, p,
                            "'%s' must be a host name (letters, digits, '.', '-'; no "
                            "port) or \"*\"",
                            r->host);
        }
        *q = (char)tolower((unsigned char)*q);
    }
    return true;
}

static bool parse_binding(cfg_t *c, route_t *r, const json_t *o, const char *path)
{
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "binding");
    json_t *b = json_object_get(o, "binding");
    r->binding = BIND_REQUIRED;
    if (b == NULL) {
        return true;
    }
    if (json_is_string(b) && strcmp(json_string_value(b), "required") == 0) {
        return true;
    }
    if (json_is_string(b) && strcmp(json_string_value(b), "when-presented") == 0) {
        r->binding = BIND_WHEN_PRESENTED;
        return true;
    }
    if (json_is_object(b)) {
        static const char *const known[] = {"unbound-for", NULL};
        if (!cfg_known(c, b, p, known) ||
            !cfg_words(c, b, p, "unbound-for", &r->unbound, &r->n_unbound)) {
            return false;
        }
        if (r->n_unbound > 0) {
            r->binding = BIND_UNBOUND_FOR;
            return true;
        }
    }
    return cfg_fail(c, p,
                    "must be \"required\", \"when-presented\" or {\"unbound-for\": "
                    "[\"svc-token:ci\", ...]} (a non-empty subject list)");
}

static bool parse_methods(cfg_t *c, route_t *r, const json_t *o, const char *path)
{
    if (!cfg_words(c, o, path, "methods", &r->methods, &r->n_methods)) {
        return false;
    }
    for (size_t i = 0; i < r->n_methods; i++) {
        char p[CFG_PATH], q[CFG_PATH];
        cfg_join(p, sizeof(p), path, "methods");
        cfg_index(q, sizeof(q), p, i);
        const char *m = r->methods[i];
        if (strlen(m) > MESH_AUTHZ_MAX_METHOD) {
            return cfg_fail(c, q, "longer than %d bytes", MESH_AUTHZ_MAX_METHOD);
        }
        for (const char *k = m; *k; k++) {
            if (*k < 'A' || *k > 'Z') {
                return cfg_fail(c, q, "'%s' must be an upper-case method such as GET", m);
            }
        }
    }
    return true;
}

static bool parse_issuer_refs(cfg_t *c, config_t *cfg, const json_t *o, const char *path,
                              const char *key, size_t **out, size_t *n_out)
{
    char **names = NULL;
    size_t n = 0;
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, key);
    if (!cfg_words(c, o, path, key, &names, &n)) {
        cfg_free_strs(names, n);
        return false;
    }
    bool given = json_object_get(o, key) != NULL;
    if (cfg->n_issuers == 0) {
        cfg_free_strs(names, n);
        return cfg_fail(c, p,
                        "no issuer is configured: add one under \"issuers\" to verify "
                        "tokens, or make the route public");
    }
    if (given && n == 0) {
        return cfg_fail(c, p, "must name at least one issuer of \"issuers\"");
    }
    if (!given && strcmp(key, "issuers") != 0) {
        return true;
    }
    size_t count = given ? n : cfg->n_issuers;
    *out = calloc(count, sizeof(size_t));
    if (*out == NULL) {
        cfg_free_strs(names, n);
        return cfg_fail(c, p, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        size_t k = i;
        if (given) {
            for (k = 0; k < cfg->n_issuers; k++) {
                if (strcmp(cfg->issuers[k].name, names[i]) == 0) {
                    break;
                }
            }
            if (k == cfg->n_issuers) {
                char q[CFG_PATH];
                cfg_index(q, sizeof(q), p, i);
                cfg_fail(c, q, "'%s' is not an issuer of \"issuers\"", names[i]);
                cfg_free_strs(names, n);
                return false;
            }
        }
        (*out)[(*n_out)++] = k;
    }
    cfg_free_strs(names, n);
    return true;
}

static bool join_scopes(cfg_t *c, route_t *r, const char *path)
{
    size_t len = 1;
    for (size_t i = 0; i < r->n_scopes; i++) {
        len += strlen(r->scopes[i]) + 1;
    }
    r->scope_str = calloc(1, len);
    if (r->scope_str == NULL) {
        return cfg_fail(c, path, "out of memory");
    }
    size_t used = 0;
    for (size_t i = 0; i < r->n_scopes; i++) {
        int n = snprintf(r->scope_str + used, len - used, "%s%s", i ? " " : "", r->scopes[i]);
        if (n < 0 || (size_t)n >= len - used) {
            return cfg_fail(c, path, "internal: scope list does not fit");
        }
        used += (size_t)n;
    }
    return true;
}

/* A route checks its own audience for issuers without their own "audiences". */
static bool needs_audience(const config_t *cfg, const route_t *r)
{
    for (size_t i = 0; i < r->n_issuers + r->n_all; i++) {
        const issuer_t *is =
            &cfg->issuers[i < r->n_issuers ? r->issuers[i] : r->all[i - r->n_issuers]];
        if (is->kind == ISSUER_MESH || (is->kind == ISSUER_OIDC && !is->own_audiences)) {
            return true;
        }
    }
    return false;
}

/* "issuers" (any one of them) or "requires_all" (each of them, every one in its own header). */
static bool parse_requirers(cfg_t *c, config_t *cfg, route_t *r, const json_t *o, const char *path)
{
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "requires_all");
    if (json_object_get(o, "requires_all") == NULL) {
        return parse_issuer_refs(c, cfg, o, path, "issuers", &r->issuers, &r->n_issuers);
    }
    if (json_object_get(o, "issuers") != NULL) {
        return cfg_fail(c, p,
                        "a route has \"issuers\" (any one) or \"requires_all\" (each), "
                        "not both");
    }
    if (!parse_issuer_refs(c, cfg, o, path, "requires_all", &r->all, &r->n_all)) {
        return false;
    }
    if (r->n_all < 2 || r->n_all > MESH_AUTHZ_MAX_REQUIRES_ALL) {
        return cfg_fail(c, p,
                        "names 2..%d issuers (MESH_AUTHZ_MAX_REQUIRES_ALL); for one, use "
                        "\"issuers\"",
                        MESH_AUTHZ_MAX_REQUIRES_ALL);
    }
    for (size_t i = 0; i < r->n_all; i++) {
        for (size_t k = 0; k < i; k++) {
            const char *a = cfg->issuers[r->all[i]].token_header;
            const char *b = cfg->issuers[r->all[k]].token_header;
            if ((a == NULL && b == NULL) || (a != NULL && b != NULL && strcasecmp(a, b) == 0)) {
                return cfg_fail(c, p,
                                "%s and %s both read %s: each credential needs its own header "
                                "(set \"token_header\" on one, e.g. "
                                "\"Cf-Access-Jwt-Assertion\")",
                                cfg->issuers[r->all[k]].name, cfg->issuers[r->all[i]].name,
                                a ? a : "Authorization");
            }
        }
    }
    return true;
}

bool config_parse_route(cfg_t *c, config_t *cfg, route_t *r, const json_t *o, const char *path)
{
    if (!json_is_object(o)) {
        return cfg_fail(c, path, "must be an object {\"prefix\": \"/x/\", ...}, got %s",
                        cfg_type(o));
    }
    static const char *const known[] = {
        "name",    "host",    "prefix",       "methods",    "public",     "audience", "scopes",
        "binding", "issuers", "requires_all", "rate_limit", "single_use", NULL};
    if (!cfg_known(c, o, path, known) || !cfg_str(c, o, path, "name", false, &r->name) ||
        !parse_host(c, r, o, path) || !cfg_str(c, o, path, "prefix", true, &r->prefix) ||
        !parse_methods(c, r, o, path) || !cfg_bool(c, o, path, "public", false, &r->is_public)) {
        return false;
    }
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "prefix");
    if (r->prefix[0] != '/' || !route_path_canonical(r->prefix, strlen(r->prefix)) ||
        strlen(r->prefix) > MESH_AUTHZ_MAX_URI) {
        return cfg_fail(c, p,
                        "'%s' must start with '/' and have no '.', '..' or empty segment, "
                        "no '%%', '?' or '#'",
                        r->prefix);
    }
    if (r->name == NULL) {
        size_t n = strlen(r->prefix) + (r->host ? strlen(r->host) : 0) + 1;
        r->name = malloc(n);
        if (r->name == NULL) {
            return cfg_fail(c, path, "out of memory");
        }
        snprintf(r->name, n, "%s%s", r->host ? r->host : "", r->prefix);
    }
    if (strlen(r->name) > MESH_MAX_METRIC_LABEL || strpbrk(r->name, "\"\\\n") != NULL) {
        cfg_join(p, sizeof(p), path, "name");
        return cfg_fail(c, p, "must be at most %d bytes without quote, backslash or newline",
                        MESH_MAX_METRIC_LABEL);
    }
    if (r->is_public) {
        static const char *const verifying[] = {
            "audience",     "scopes",     "binding",    "issuers",
            "requires_all", "rate_limit", "single_use", NULL};
        for (size_t i = 0; verifying[i] != NULL; i++) {
            if (json_object_get(o, verifying[i]) != NULL) {
                cfg_join(p, sizeof(p), path, verifying[i]);
                return cfg_fail(c, p,
                                "a public route verifies no token; remove this member or "
                                "set \"public\": false");
            }
        }
        return join_scopes(c, r, path);
    }
    if (!cfg_str(c, o, path, "audience", false, &r->audience) ||
        !cfg_words(c, o, path, "scopes", &r->scopes, &r->n_scopes) ||
        !parse_binding(c, r, o, path) || !parse_requirers(c, cfg, r, o, path) ||
        !config_parse_limits(c, r, o, path)) {
        return false;
    }
    for (size_t i = 0; r->single_use && i < r->n_issuers + r->n_all; i++) {
        size_t x = i < r->n_issuers ? r->issuers[i] : r->all[i - r->n_issuers];
        if (cfg->issuers[x].kind == ISSUER_API_KEYS) {
            cfg_join(p, sizeof(p), path, "single_use");
            return cfg_fail(c, p,
                            "a single-use route remembers each token's jti; API keys (%s) "
                            "have none and are used again and again",
                            cfg->issuers[x].name);
        }
    }
    if (r->audience == NULL && needs_audience(cfg, r)) {
        cfg_join(p, sizeof(p), path, "audience");
        return cfg_fail(c, p,
                        "required, missing (the aud a mesh token for this route carries; "
                        "only routes whose issuers all have their own \"audiences\" or "
                        "are api-keys may leave it out)");
    }
    if (r->audience != NULL && strpbrk(r->audience, " \t\r\n\"\\") != NULL) {
        cfg_join(p, sizeof(p), path, "audience");
        return cfg_fail(c, p, "'%s' must be one word", r->audience);
    }
    return join_scopes(c, r, path);
}
