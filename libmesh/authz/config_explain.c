/* SPDX-License-Identifier: Apache-2.0 */
/* --check-config: what the config means, in plain words or as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jansson.h>

#include "config.h"

static void binding_words(const route_t *r, char *out, size_t cap)
{
    if (r->binding == BIND_REQUIRED) {
        snprintf(out, cap,
                 "a mesh token must be bound to the caller's certificate (an IdP's "
                 "token: its issuer's binding policy)");
    } else if (r->binding == BIND_WHEN_PRESENTED) {
        snprintf(out, cap,
                 "a bound token must match the caller's certificate; unbound tokens "
                 "are accepted");
    } else {
        size_t used = (size_t)snprintf(out, cap, "bound tokens only, except unbound tokens of");
        for (size_t i = 0; i < r->n_unbound && used < cap; i++) {
            used += (size_t)snprintf(out + used, cap - used, "%s %s", i ? "," : "", r->unbound[i]);
        }
    }
}

static void list_words(char **v, size_t n, const char *none, char *out, size_t cap)
{
    if (n == 0) {
        snprintf(out, cap, "%s", none);
        return;
    }
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? " " : "", v[i]);
    }
}

static void explain_issuer(const issuer_t *is);

static void explain_text(const config_t *cfg)
{
    printf("mesh-authz config %s: valid\n\nlisteners (the trust boundary: identity and "
           "certificate headers are believed from whoever can reach these):\n",
           cfg->path ? cfg->path : "(text)");
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const listener_t *l = &cfg->listeners[i];
        if (l->kind == LISTEN_UNIX) {
            printf("  unix socket %s, mode %04o%s%s: only processes of the socket's owner%s may "
                   "ask\n",
                   l->path, l->mode, l->group ? ", group " : "", l->group ? l->group : "",
                   (l->mode & 0060) ? " or group" : "");
        } else if (l->tls_cert != NULL) {
            printf("  tcp %s:%d with TLS: only proxies presenting a certificate from %s with "
                   "SPIFFE ID",
                   l->host, l->port, l->tls_client_ca);
            for (size_t k = 0; k < l->n_proxies; k++) {
                printf("%s %s", k ? "," : "", l->proxies[k]);
            }
            printf("\n");
        } else {
            printf("  tcp %s:%d (loopback, no TLS): any process on this host may ask\n", l->host,
                   l->port);
        }
    }
    if (cfg->metrics_host != NULL) {
        printf("metrics: http://%s:%d/metrics (and /healthz)\n", cfg->metrics_host,
               cfg->metrics_port);
    } else {
        printf("metrics: off\n");
    }
    printf("workers: %d\ndecision log: %s\n", cfg->workers,
           cfg->log_path == NULL             ? "stderr"
           : strcmp(cfg->log_path, "-") == 0 ? "off"
                                             : cfg->log_path);
    if (cfg->trust_bundle != NULL) {
        printf("trust: a forwarded caller certificate must chain to %s%s%s\n", cfg->trust_bundle,
               cfg->trust_crl ? ", and is refused when revoked by " : "",
               cfg->trust_crl ? cfg->trust_crl : "");
    }
    printf("\nissuers:\n");
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        explain_issuer(&cfg->issuers[i]);
    }
    if (cfg->n_issuers == 0) {
        printf("  none (public routes only)\n");
    }
    printf("\nroutes (the request's host first, then the longest prefix; a request no route "
           "matches is refused, 403 no_route):\n");
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const route_t *r = &cfg->routes[i];
        char methods[512], scopes[1024], bind[1024];
        list_words(r->methods, r->n_methods, "any method", methods, sizeof(methods));
        printf("  [%zu] %s: %s, path %s%s, %s: ", i, r->name, r->host ? r->host : "any host",
               r->prefix, r->prefix[strlen(r->prefix) - 1] == '/' ? "*" : " and below it", methods);
        if (r->is_public) {
            printf("public, no token is checked and no identity passed on\n");
            continue;
        }
        list_words(r->scopes, r->n_scopes, "no particular scope", scopes, sizeof(scopes));
        binding_words(r, bind, sizeof(bind));
        if (r->n_all > 0) {
            printf("a credential of EACH of");
            for (size_t k = 0; k < r->n_all; k++) {
                printf("%s %s", k ? " and" : "", cfg->issuers[r->all[k]].name);
            }
        } else {
            printf("a credential from");
            for (size_t k = 0; k < r->n_issuers; k++) {
                printf("%s %s", k ? " or" : "", cfg->issuers[r->issuers[k]].name);
            }
        }
        printf(" for audience %s with %s; %s\n", r->audience ? r->audience : "(the issuers' own)",
               scopes, bind);
        if (r->per_route.n > 0) {
            printf("      rate limit: %lld requests per %lld s on the route\n",
                   (long long)r->per_route.n, (long long)r->per_route.period_s);
        }
        for (size_t k = 0; k < r->n_per_subject; k++) {
            printf("      rate limit: %lld requests per %lld s for %s%s\n",
                   (long long)r->per_subject[k].n, (long long)r->per_subject[k].period_s,
                   strcmp(r->quota_subjects[k], "*") == 0 ? "each other subject" : "subject ",
                   strcmp(r->quota_subjects[k], "*") == 0 ? "" : r->quota_subjects[k]);
        }
        if (r->single_use) {
            printf("      single use: a token's jti is accepted once (per mesh-authz process)\n");
        }
    }
}

static void explain_issuer(const issuer_t *is)
{
    const char *hdr = is->token_header ? is->token_header : "Authorization: Bearer";
    if (is->kind == ISSUER_API_KEYS) {
        printf("  %s: %zu legacy API keys in %s (SHA-256 hashes), %s\n", is->name, is->n_keys, hdr,
               is->enabled ? "accepted while in date" : "REFUSED (\"enabled\": false)");
        return;
    }
    const char *src = is->hmac_key != NULL                    ? "a legacy HS256 key file"
                      : is->jwks_src == MESH_JWKS_FROM_OIDC   ? "OpenID Connect discovery"
                      : is->jwks_src == MESH_JWKS_FROM_ISSUER ? "its RFC 8414 metadata"
                      : is->jwks_src == MESH_JWKS_FROM_URL    ? "the JWKS URL "
                                                              : "the JWKS file ";
    printf("  %s (%s): tokens with iss %s in %s, keys from %s%s", is->name,
           is->kind == ISSUER_OIDC ? "external OpenID provider" : "mesh issuer", is->url, hdr, src,
           is->jwks_loc && is->hmac_key == NULL ? is->jwks_loc : "");
    if (is->kind == ISSUER_MESH) {
        printf(", revocation feed %s", is->feed ? "polled every " : "off");
        if (is->feed) {
            printf("%lld ms", (long long)is->poll_ms);
        }
    }
    printf("\n    one verifier for audiences \"%s\"%s, binding policy \"%s\"\n",
           is->audiences ? is->audiences : "",
           is->own_audiences ? " (its own)" : " (those of its routes; each route checks its own)",
           is->binding_spec ? is->binding_spec : "");
    if (is->kind == ISSUER_OIDC) {
        printf("    algorithms %s, typ %s, required claims %s\n",
               is->algorithms ? is->algorithms : "(libmesh's rules)", is->typ ? is->typ : "at+jwt",
               is->required_claims ? is->required_claims : "none");
        for (size_t k = 0; k < is->n_claims; k++) {
            printf("    claim %s -> header %s\n", is->claims[k].claim, is->claims[k].header);
        }
    }
}

static json_t *strs(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

static void explain_json(const config_t *cfg)
{
    json_t *o = json_object();
    json_object_set_new(o, "valid", json_true());
    json_t *ls = json_array();
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const listener_t *l = &cfg->listeners[i];
        json_t *x = l->kind == LISTEN_UNIX ? json_pack("{s:s, s:s, s:i}", "kind", "unix", "path",
                                                       l->path, "mode", (int)l->mode)
                                           : json_pack("{s:s, s:s, s:i, s:b, s:b}", "kind", "tcp",
                                                       "host", l->host, "port", l->port, "loopback",
                                                       l->loopback, "tls", l->tls_cert != NULL);
        if (l->n_proxies > 0) {
            json_object_set_new(x, "allowed_proxies", strs(l->proxies, l->n_proxies));
        }
        json_array_append_new(ls, x);
    }
    json_object_set_new(o, "listen", ls);
    json_object_set_new(o, "workers", json_integer(cfg->workers));
    json_t *is = json_array();
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        const issuer_t *x = &cfg->issuers[i];
        static const char *const kinds[] = {"mesh", "oidc", "api-keys"};
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "name", x->name, "url", x->url, "kind",
                      kinds[x->kind], "audiences", x->audiences, "binding", x->binding_spec);
        json_object_set_new(j, "token_header",
                            x->token_header ? json_string(x->token_header) : json_null());
        if (x->kind == ISSUER_MESH) {
            json_object_set_new(j, "revocation_feed", json_boolean(x->feed));
        }
        if (x->kind == ISSUER_API_KEYS) {
            json_object_set_new(j, "enabled", json_boolean(x->enabled));
            json_t *names = json_array();
            for (size_t k = 0; k < x->n_keys; k++) {
                json_array_append_new(names, json_string(x->keys[k].name));
            }
            json_object_set_new(j, "keys", names);
        }
        json_array_append_new(is, j);
    }
    json_object_set_new(o, "issuers", is);
    json_t *rs = json_array();
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const route_t *r = &cfg->routes[i];
        json_t *x =
            json_pack("{s:s, s:s?, s:s, s:o, s:b}", "name", r->name, "host", r->host, "prefix",
                      r->prefix, "methods", strs(r->methods, r->n_methods), "public", r->is_public);
        if (!r->is_public) {
            json_t *iss = json_array();
            for (size_t k = 0; k < r->n_issuers; k++) {
                json_array_append_new(iss, json_string(cfg->issuers[r->issuers[k]].name));
            }
            json_object_set_new(x, "audience",
                                r->audience ? json_string(r->audience) : json_null());
            json_t *all = json_array();
            for (size_t k = 0; k < r->n_all; k++) {
                json_array_append_new(all, json_string(cfg->issuers[r->all[k]].name));
            }
            json_object_set_new(x, "requires_all", all);
            json_object_set_new(x, "single_use", json_boolean(r->single_use));
            json_object_set_new(x, "scopes", strs(r->scopes, r->n_scopes));
            json_object_set_new(x, "binding", json_string(bind_kind_name(r->binding)));
            json_object_set_new(x, "unbound_for", strs(r->unbound, r->n_unbound));
            json_object_set_new(x, "issuers", iss);
        }
        json_array_append_new(rs, x);
    }
    json_object_set_new(o, "routes", rs);
    char *s = json_dumps(o, JSON_INDENT(2));
    if (s != NULL) {
        printf("%s\n", s);
        free(s);
    }
    json_decref(o);
}

void config_explain(const config_t *cfg, bool json)
{
    if (json) {
        explain_json(cfg);
    } else {
        explain_text(cfg);
    }
}

void config_explain_error(const char *err)
{
    json_t *o = json_pack("{s:b, s:s}", "valid", 0, "error", err);
    char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    if (s != NULL) {
        printf("%s\n", s);
        free(s);
    }
    json_decref(o);
}
