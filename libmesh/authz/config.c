/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <mesh/util.h>

#include "cfg_json.h"
#include "secret.h"

const char *bind_kind_name(bind_kind_t b)
{
    switch (b) {
    case BIND_REQUIRED:
        return "required";
    case BIND_UNBOUND_FOR:
        return "unbound-for";
    default:
        return "when-presented";
    }
}

static bool parse_top(cfg_t *c, config_t *cfg, const json_t *root)
{
    char *metrics = NULL;
    int64_t workers;
    json_t *trust, *log;
    if (!cfg_str(c, root, "", "metrics", false, &metrics)) {
        return false;
    }
    if (metrics != NULL) {
        bool loop = false;
        bool ok =
            cfg_hostport(c, "metrics", metrics, &cfg->metrics_host, &cfg->metrics_port, &loop);
        free(metrics);
        if (!ok) {
            return false;
        }
        if (!loop) {
            return cfg_fail(c, "metrics",
                            "must be a loopback address (127.0.0.1:PORT or "
                            "[::1]:PORT); scrape it through a local agent");
        }
    }
    if (!cfg_int(c, root, "", "workers", 2, 1, MESH_AUTHZ_MAX_WORKERS, &workers)) {
        return false;
    }
    cfg->workers = (int)workers;
    if (!cfg_object(c, root, "", "log", false, &log)) {
        return false;
    }
    if (log != NULL) {
        static const char *const known[] = {"decisions", NULL};
        if (!cfg_known(c, log, "log", known) ||
            !cfg_str(c, log, "log", "decisions", false, &cfg->log_path)) {
            return false;
        }
        if (cfg->log_path != NULL && strcmp(cfg->log_path, "stderr") == 0) {
            free(cfg->log_path);
            cfg->log_path = NULL;
        } else if (cfg->log_path != NULL && strcmp(cfg->log_path, "off") == 0) {
            free(cfg->log_path);
            cfg->log_path = strdup("-");
        } else if (cfg->log_path != NULL && cfg->log_path[0] != '/') {
            return cfg_fail(c, "log.decisions",
                            "'%s' must be \"stderr\", \"off\" or an "
                            "absolute file path",
                            cfg->log_path);
        }
    }
    if (!cfg_object(c, root, "", "trust", false, &trust)) {
        return false;
    }
    if (trust != NULL) {
        static const char *const known[] = {"bundle", "crl", NULL};
        return cfg_known(c, trust, "trust", known) &&
               cfg_file(c, trust, "trust", "bundle", true, &cfg->trust_bundle) &&
               cfg_file(c, trust, "trust", "crl", false, &cfg->trust_crl);
    }
    return true;
}

static bool parse_issuers(cfg_t *c, config_t *cfg, const json_t *root)
{
    json_t *o = json_object_get(root, "issuers");
    if (o == NULL) {
        return true; /* a config of public routes only */
    }
    if (!json_is_object(o)) {
        return cfg_fail(c, "issuers",
                        "must be an object {name: {\"kind\": \"mesh\", ...}}, "
                        "got %s",
                        cfg_type(o));
    }
    if (json_object_size(o) > MESH_AUTHZ_MAX_ISSUERS) {
        return cfg_fail(c, "issuers", "at most %d issuers (MESH_AUTHZ_MAX_ISSUERS)",
                        MESH_AUTHZ_MAX_ISSUERS);
    }
    cfg->issuers = calloc(json_object_size(o) + 1, sizeof(issuer_t));
    if (cfg->issuers == NULL) {
        return cfg_fail(c, "issuers", "out of memory");
    }
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v)
    {
        cfg->n_issuers++;
        if (!config_parse_issuer(c, &cfg->issuers[cfg->n_issuers - 1], name, v)) {
            return false;
        }
    }
    return true;
}

static bool parse_routes(cfg_t *c, config_t *cfg, const json_t *root)
{
    json_t *a = json_object_get(root, "routes");
    if (a == NULL || !json_is_array(a) || json_array_size(a) == 0) {
        return cfg_fail(c, "routes",
                        "required: a non-empty array of routes; a request no "
                        "route matches is refused");
    }
    if (json_array_size(a) > MESH_AUTHZ_MAX_ROUTES) {
        return cfg_fail(c, "routes", "at most %d routes (MESH_AUTHZ_MAX_ROUTES)",
                        MESH_AUTHZ_MAX_ROUTES);
    }
    cfg->routes = calloc(json_array_size(a), sizeof(route_t));
    if (cfg->routes == NULL) {
        return cfg_fail(c, "routes", "out of memory");
    }
    bool any_mesh = false;
    for (size_t i = 0; i < json_array_size(a); i++) {
        char p[CFG_PATH];
        cfg_index(p, sizeof(p), "routes", i);
        cfg->n_routes++;
        if (!config_parse_route(c, cfg, &cfg->routes[i], json_array_get(a, i), p)) {
            return false;
        }
        const route_t *r = &cfg->routes[i];
        for (size_t k = 0; k < r->n_issuers + r->n_all; k++) {
            size_t x = k < r->n_issuers ? r->issuers[k] : r->all[k - r->n_issuers];
            any_mesh |= cfg->issuers[x].kind == ISSUER_MESH;
        }
    }
    if (any_mesh && cfg->trust_bundle == NULL) {
        return cfg_fail(c, "trust",
                        "required when a route verifies tokens: the proxy forwards "
                        "the caller's certificate, and mesh-authz checks it against "
                        "this bundle (\"bundle\": the mesh CA PEM)");
    }
    return true;
}

/* Appends `word` to the space-separated list *list (n words) unless it is there already. */
static bool add_word(char **list, size_t *n, const char *word, size_t max_len)
{
    if (*list != NULL && mesh_words_contains(*list, word)) {
        return true;
    }
    size_t old = *list ? strlen(*list) : 0;
    if (old + 1 + strlen(word) > max_len) {
        return false;
    }
    char *p = realloc(*list, old + strlen(word) + 2);
    if (p == NULL) {
        return false;
    }
    snprintf(p + old, strlen(word) + 2, "%s%s", old ? " " : "", word);
    *list = p;
    (*n)++;
    return true;
}

/* One verifier per issuer: the union of its routes' audiences and the loosest binding. */
static bool plan_verifiers(cfg_t *c, config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        issuer_t *is = &cfg->issuers[i];
        char *subjects = NULL; /* the unbound-for union, comma-separated below */
        size_t n_subjects = 0;
        bool used = false;
        bind_kind_t own = is->binding;
        is->binding = BIND_REQUIRED;
        for (size_t k = 0; k < cfg->n_routes; k++) {
            const route_t *r = &cfg->routes[k];
            bool uses = false;
            for (size_t j = 0; j < r->n_issuers; j++) {
                uses |= r->issuers[j] == i;
            }
            for (size_t j = 0; j < r->n_all; j++) {
                uses |= r->all[j] == i;
            }
            if (!uses) {
                continue;
            }
            used = true;
            if (is->kind != ISSUER_MESH) {
                continue; /* their own audiences and binding (config_issuer.c) */
            }
            if (!add_word(&is->audiences, &is->n_audiences, r->audience, MESH_MAX_OPT_STRING) ||
                is->n_audiences > MESH_MAX_VERIFIER_AUDIENCES) {
                free(subjects);
                char p[CFG_PATH];
                cfg_join(p, sizeof(p), "issuers", is->name);
                return cfg_fail(c, p,
                                "its routes use more than %d audiences or %d bytes of "
                                "them (MESH_MAX_VERIFIER_AUDIENCES)",
                                MESH_MAX_VERIFIER_AUDIENCES, MESH_MAX_OPT_STRING);
            }
            is->binding = r->binding > is->binding ? r->binding : is->binding;
            for (size_t s = 0; s < r->n_unbound; s++) {
                if (!add_word(&subjects, &n_subjects, r->unbound[s], MESH_MAX_BINDING_SPEC)) {
                    free(subjects);
                    return cfg_fail(c, "routes",
                                    "the unbound-for subjects of issuer %s exceed "
                                    "%d bytes (MESH_MAX_BINDING_SPEC)",
                                    is->name, MESH_MAX_BINDING_SPEC);
                }
            }
        }
        if (!used) {
            free(subjects);
            char p[CFG_PATH];
            cfg_join(p, sizeof(p), "issuers", is->name);
            return cfg_fail(c, p,
                            "no route accepts this issuer; remove it or name it in a "
                            "route's \"issuers\"");
        }
        if (is->kind == ISSUER_OIDC && !is->own_audiences) {
            /* no "audiences": the audiences of its routes, each route checking its own */
            for (size_t k = 0; k < cfg->n_routes; k++) {
                const route_t *r = &cfg->routes[k];
                bool uses = false;
                for (size_t j = 0; j < r->n_issuers + r->n_all; j++) {
                    uses |= (j < r->n_issuers ? r->issuers[j] : r->all[j - r->n_issuers]) == i;
                }
                if (uses && r->audience != NULL &&
                    (!add_word(&is->audiences, &is->n_audiences, r->audience,
                               MESH_MAX_OPT_STRING) ||
                     is->n_audiences > MESH_MAX_VERIFIER_AUDIENCES)) {
                    free(subjects);
                    return cfg_fail(c, "issuers", "issuer %s: too many audiences", is->name);
                }
            }
        }
        if (is->kind != ISSUER_MESH) {
            is->binding = own;
        }
        size_t len = sizeof("unbound-for:when-presented") + (subjects ? strlen(subjects) : 0);
        is->binding_spec = malloc(len);
        if (is->binding_spec == NULL) {
            free(subjects);
            return cfg_fail(c, "issuers", "out of memory");
        }
        if (is->binding == BIND_UNBOUND_FOR) {
            for (char *q = subjects; *q; q++) {
                *q = *q == ' ' ? ',' : *q; /* subjects are single words: no space inside */
            }
            snprintf(is->binding_spec, len, "unbound-for:%s", subjects);
        } else {
            snprintf(is->binding_spec, len, "%s", bind_kind_name(is->binding));
        }
        free(subjects);
    }
    return true;
}

config_t *config_parse(const char *text, size_t len, const char *dir, char *err, size_t errlen)
{
    cfg_t c = {.msg = err, .len = errlen, .dir = dir ? dir : ""};
    err[0] = '\0';
    json_t *root = NULL;
    if (mesh_json_parse_object(text, len, MESH_MAX_JSON_DEPTH, "mesh-authz config", &root) !=
        MESH_OK) {
        snprintf(err, errlen, "%s", mesh_err_detail());
        return NULL;
    }
    config_t *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        json_decref(root);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&cfg->refs, 1);
    static const char *const known[] = {"listen", "metrics", "workers", "log",
                                        "trust",  "issuers", "routes",  NULL};
    bool ok = cfg_known(&c, root, "", known) && config_parse_listen(&c, cfg, root) &&
              parse_top(&c, cfg, root) && parse_issuers(&c, cfg, root) &&
              parse_routes(&c, cfg, root) && plan_verifiers(&c, cfg);
    json_decref(root);
    if (!ok) {
        config_unref(cfg);
        return NULL;
    }
    return cfg;
}

config_t *config_load(const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (mesh_file_read(path, MESH_AUTHZ_MAX_CONFIG_BYTES, &text, &len) != MESH_OK) {
        snprintf(err, errlen, "%s", mesh_err_detail());
        return NULL;
    }
    char dir[MESH_MAX_PATH];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path) {
        snprintf(dir, sizeof(dir), "/");
    }
    char inner[1024];
    config_t *cfg = config_parse(text, len, dir, inner, sizeof(inner));
    mesh_free(text);
    if (cfg == NULL) {
        snprintf(err, errlen, "%s: %s", path, inner);
        return NULL;
    }
    cfg->path = strdup(path);
    if (cfg->path == NULL) {
        config_unref(cfg);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return cfg;
}

/* The key cache and the OpenID profile's rules (kind "oidc"). */
static mesh_err_t oidc_opts(const issuer_t *is, mesh_verifier_opts_t *o)
{
    mesh_err_t e = MESH_OK;
    if (is->max_age_min >= 0) {
        e = mesh_verifier_opts_set_jwks_max_age(o, is->max_age_min, is->max_age_max, is->stale_s);
    }
    if (e == MESH_OK && is->cooldown_ms >= 0) {
        e = mesh_verifier_opts_set_jwks_cooldown_ms(o, is->cooldown_ms);
    }
    if (is->kind != ISSUER_OIDC) {
        return e;
    }
    if (e == MESH_OK) {
        e = mesh_verifier_opts_set_profile(o, "oidc");
    }
    if (e == MESH_OK && is->typ != NULL) {
        e = mesh_verifier_opts_set_typ(o, is->typ);
    }
    if (e == MESH_OK && is->algorithms != NULL) {
        e = mesh_verifier_opts_set_algorithms(o, is->algorithms);
    }
    if (e == MESH_OK && is->required_claims != NULL) {
        e = mesh_verifier_opts_set_required_claims(o, is->required_claims);
    }
    if (e == MESH_OK && is->hmac_key != NULL) {
        e = mesh_verifier_opts_set_hmac_key(o, is->hmac_key, is->hmac_len);
    }
    if (e == MESH_OK && is->max_lifetime > 0) {
        e = mesh_verifier_opts_set_max_lifetime(o, is->max_lifetime);
    }
    return e;
}

static mesh_err_t start_one(const config_t *cfg, issuer_t *is)
{
    mesh_verifier_opts_t *o = NULL;
    if (is->kind == ISSUER_API_KEYS) {
        return MESH_OK; /* no verifier: the keys are in the config */
    }
    mesh_err_t e = mesh_verifier_opts_new(&o);
    if (e == MESH_OK) {
        e = mesh_verifier_opts_set_issuer(o, is->url);
    }
    if (e == MESH_OK) {
        e = oidc_opts(is, o);
    }
    if (e == MESH_OK) {
        e = mesh_verifier_opts_set_audience(o, is->audiences);
    }
    if (e == MESH_OK) {
        e = mesh_verifier_opts_set_binding(o, is->binding_spec);
    }
    if (e == MESH_OK && is->jwks_src != MESH_JWKS_FROM_ISSUER && is->hmac_key == NULL) {
        e = mesh_verifier_opts_set_jwks(o, is->jwks_src, is->jwks_loc);
    }
    if (e == MESH_OK && is->ca != NULL) {
        e = mesh_verifier_opts_set_ca_path(o, is->ca);
    }
    if (e == MESH_OK && is->cert != NULL) {
        e = mesh_verifier_opts_set_client_cert(o, is->cert, is->key);
    }
    if (e == MESH_OK && is->issuer_id != NULL) {
        e = mesh_verifier_opts_set_issuer_id(o, is->issuer_id);
    }
    if (e == MESH_OK && is->kind == ISSUER_MESH) {
        e = mesh_verifier_opts_set_revocation_feed(o, is->feed);
    }
    if (e == MESH_OK && is->feed && is->kind == ISSUER_MESH) {
        e = mesh_verifier_opts_set_revocation_poll_ms(o, is->poll_ms);
    }
    if (e == MESH_OK && cfg->trust_bundle != NULL) {
        e = mesh_verifier_opts_set_trust_bundle(o, cfg->trust_bundle, cfg->trust_crl);
    }
    if (e == MESH_OK) {
        e = mesh_verifier_new(o, &is->v);
    }
    mesh_verifier_opts_free(o);
    return e;
}

bool config_start(config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        issuer_t *is = &cfg->issuers[i];
        mesh_err_t e = start_one(cfg, is);
        if (e != MESH_OK) {
            snprintf(err, errlen, "issuers.%s: %s: %s", is->name, mesh_strerror(e),
                     mesh_err_detail());
            return false;
        }
    }
    return true;
}

static bool readable(const char *key, const char *path, char *err, size_t errlen)
{
    if (path == NULL || access(path, R_OK) == 0) {
        return true;
    }
    snprintf(err, errlen, "%s: %s: %s", key, path, strerror(errno));
    return false;
}

bool config_check_files(const config_t *cfg, char *err, size_t errlen)
{
    char key[CFG_PATH];
    if (!readable("trust.bundle", cfg->trust_bundle, err, errlen) ||
        !readable("trust.crl", cfg->trust_crl, err, errlen)) {
        return false;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const listener_t *l = &cfg->listeners[i];
        const char *files[] = {l->tls_cert, l->tls_key, l->tls_client_ca};
        const char *names[] = {"cert", "key", "client_ca"};
        for (size_t k = 0; k < 3; k++) {
            snprintf(key, sizeof(key), "listen[%zu].tls.%s", i, names[k]);
            if (!readable(key, files[k], err, errlen)) {
                return false;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        const issuer_t *is = &cfg->issuers[i];
        const char *files[] = {is->ca, is->cert, is->key,
                               is->jwks_src == MESH_JWKS_FROM_FILE ? is->jwks_loc : NULL};
        const char *names[] = {"ca", "cert", "key", "jwks.file"};
        for (size_t k = 0; k < 4; k++) {
            snprintf(key, sizeof(key), "issuers.%s.%s", is->name, names[k]);
            if (!readable(key, files[k], err, errlen)) {
                return false;
            }
        }
    }
    return true;
}

config_t *config_ref(config_t *cfg)
{
    if (cfg != NULL) {
        atomic_fetch_add(&cfg->refs, 1);
    }
    return cfg;
}

static void route_free(route_t *r)
{
    free(r->name);
    free(r->host);
    free(r->prefix);
    cfg_free_strs(r->methods, r->n_methods);
    free(r->audience);
    cfg_free_strs(r->scopes, r->n_scopes);
    free(r->scope_str);
    cfg_free_strs(r->unbound, r->n_unbound);
    free(r->issuers);
    free(r->all);
    free(r->per_subject);
    cfg_free_strs(r->quota_subjects, r->n_per_subject);
}

static void issuer_free(issuer_t *is)
{
    free(is->name);
    free(is->url);
    free(is->ca);
    free(is->cert);
    free(is->key);
    free(is->issuer_id);
    free(is->jwks_loc);
    mesh_verifier_free(is->v);
    free(is->audiences);
    free(is->binding_spec);
    free(is->token_header);
    free(is->algorithms);
    free(is->typ);
    free(is->required_claims);
    for (size_t i = 0; i < is->n_claims; i++) {
        free(is->claims[i].claim);
        free(is->claims[i].header);
    }
    free(is->claims);
    secret_wipe(is->hmac_key, is->hmac_len);
    free(is->hmac_key);
    for (size_t i = 0; i < is->n_keys; i++) {
        free(is->keys[i].name);
        cfg_free_strs(is->keys[i].scopes, is->keys[i].n_scopes);
    }
    free(is->keys);
}

void config_unref(config_t *cfg)
{
    if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        listener_t *l = &cfg->listeners[i];
        free(l->path);
        free(l->group);
        free(l->host);
        free(l->tls_cert);
        free(l->tls_key);
        free(l->tls_client_ca);
        cfg_free_strs(l->proxies, l->n_proxies);
    }
    free(cfg->listeners);
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        issuer_free(&cfg->issuers[i]);
    }
    free(cfg->issuers);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        route_free(&cfg->routes[i]);
    }
    free(cfg->routes);
    free(cfg->path);
    free(cfg->metrics_host);
    free(cfg->log_path);
    free(cfg->trust_bundle);
    free(cfg->trust_crl);
    free(cfg);
}
