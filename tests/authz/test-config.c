/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-authz's config: every error names its key path; the verifier plan per issuer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <mesh/limits.h>

#include "config.h"

#define L "\"listen\": [{\"unix\": \"/tmp/a.sock\"}]"
#define I "\"issuers\": {\"mesh\": {\"kind\": \"mesh\", \"url\": \"https://127.0.0.1:8443\"}}"
#define T "\"trust\": {\"bundle\": \"/tmp/ca.pem\"}"

static config_t *parse(const char *json, char *err, size_t cap)
{
    return config_parse(json, strlen(json), "/etc/mesh", err, cap);
}

/* The config is refused, and the error starts with `path` and contains `words`. */
static void refused(const char *json, const char *path, const char *words)
{
    char err[1024];
    config_t *c = parse(json, err, sizeof(err));
    if (c != NULL || strncmp(err, path, strlen(path)) != 0 || strstr(err, words) == NULL) {
        fail_msg("config %s\n  gave: %s\n  want: %s ... %s", json, c ? "(accepted)" : err, path,
                 words);
    }
}

static void test_errors_name_key_paths(void **state)
{
    refused("{" L ", \"routes\": [{\"prefix\": \"/\", \"public\": true}], \"extra\": 1}", "extra",
            "unknown member");
    refused("{\"routes\": [{\"prefix\": \"/\", \"public\": true}]}", "listen", "required");
    refused("{\"listen\": [{\"tcp\": \"0.0.0.0:9\"}], \"routes\": [{\"prefix\": \"/\", \"public\": "
            "true}]}",
            "listen[0].tls", "non-loopback");
    refused("{\"listen\": [{\"tcp\": \"localhost:9\"}], \"routes\": []}", "listen[0].tcp",
            "numeric");
    refused("{\"listen\": [{\"unix\": \"/a\", \"mode\": \"0666\"}], \"routes\": []}",
            "listen[0].mode", "others nothing");
    refused("{\"listen\": [{\"unix\": \"/a\", \"group\": 5}], \"routes\": []}", "listen[0].group",
            "non-empty string");
    refused("{\"listen\": [{\"unix\": \"/a\", \"tcp\": \"127.0.0.1:1\"}], \"routes\": []}",
            "listen[0]", "exactly one");
    refused("{\"listen\": [{\"tcp\": \"10.0.0.1:9\", \"tls\": {\"cert\": \"c\", \"key\": \"k\", "
            "\"client_ca\": \"ca\"}}], \"routes\": []}",
            "listen[0].tls.allowed_proxies", "required");
    refused("{" L ", \"routes\": []}", "routes", "non-empty");
    refused("{" L ", \"routes\": [{\"prefix\": \"/a/../b\", \"public\": true}]}",
            "routes[0].prefix", "segment");
    refused("{" L ", \"routes\": [{\"prefix\": \"/\", \"public\": true, \"audience\": \"x\"}]}",
            "routes[0].audience", "public route");
    refused("{" L ", " T ", \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\"}]}",
            "routes[0].issuers", "no issuer");
    refused("{" L ", " I ", \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\"}]}", "trust",
            "required");
    refused("{" L ", " I ", " T ", \"routes\": [{\"prefix\": \"/\"}]}", "routes[0].audience",
            "required");
    refused("{" L ", " I ", " T ", \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"issuers\": [\"other\"]}]}",
            "routes[0].issuers[0]", "not an issuer");
    refused("{" L ", " I ", " T ", \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"binding\": \"sometimes\"}]}",
            "routes[0].binding", "when-presented");
    refused("{" L ", " I ", " T ", \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"methods\": [\"get\"]}]}",
            "routes[0].methods[0]", "upper-case");
    refused("{" L ", " I ", " T ", \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"scopes\": [\"a\", \"a\"]}]}",
            "routes[0].scopes[1]", "twice");
    refused("{" L ", " I ", " T ", \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"scopes\": [\"a b\"]}]}",
            "routes[0].scopes[0]", "one word");
    refused("{" L ", \"issuers\": {\"x\": {\"kind\": \"ldap\"}}, \"routes\": [{\"prefix\": \"/\", "
            "\"public\": true}]}",
            "issuers.x.kind", "\"oidc\"");
    refused("{" L ", \"issuers\": {\"x\": {\"kind\": \"mesh\", \"url\": \"http://i\"}}, "
            "\"routes\": [{\"prefix\": \"/\", \"public\": true}]}",
            "issuers.x.url", "https://");
    refused("{" L ", \"issuers\": {\"x\": {\"kind\": \"mesh\", \"url\": \"https://i\", "
            "\"cert\": \"c\"}}, \"routes\": [{\"prefix\": \"/\", \"public\": true}]}",
            "issuers.x", "go together");
    refused("{" L ", \"issuers\": {\"x\": {\"kind\": \"mesh\", \"url\": \"https://i\", "
            "\"jwks\": {\"url\": \"https://j\", \"file\": \"f\"}}}, \"routes\": [{\"prefix\": "
            "\"/\", \"public\": true}]}",
            "issuers.x.jwks", "exactly one");
    refused("{" L ", " I ", \"routes\": [{\"prefix\": \"/\", \"public\": true}]}", "issuers.mesh",
            "no route accepts");
    refused("{" L ", \"workers\": 0, \"routes\": [{\"prefix\": \"/\", \"public\": true}]}",
            "workers", "out of range");
    refused("{" L ", \"metrics\": \"0.0.0.0:9\", \"routes\": [{\"prefix\": \"/\", \"public\": "
            "true}]}",
            "metrics", "loopback");
    refused("{" L ", \"log\": {\"decisions\": \"rel.log\"}, \"routes\": [{\"prefix\": \"/\", "
            "\"public\": true}]}",
            "log.decisions", "absolute");
    refused("{" L ", \"routes\": [{\"prefix\": \"/\", \"public\": \"yes\"}]}", "routes[0].public",
            "true or false");
    refused("{\"listen\": 1, \"listen\": 2}", "mesh-authz config", "");
}

#define IDP   "\"idp\": {\"kind\": \"oidc\", \"url\": \"https://idp.example\", \"discovery\": true"
#define R_IDP "\"routes\": [{\"prefix\": \"/u/\", \"audience\": \"g\", \"issuers\": [\"idp\"]}]"

/* External OpenID providers, requires_all, API keys, rate limits: each error names its key. */
static void test_issue11_shapes(void **state)
{
    refused("{" L ", \"issuers\": {\"idp\": {\"kind\": \"oidc\", \"url\": \"https://i\"}}, " R_IDP
            "}",
            "issuers.idp", "exactly one key source");
    refused("{" L ", \"issuers\": {" IDP ", \"jwks\": {\"url\": \"https://j\"}}}, " R_IDP "}",
            "issuers.idp", "exactly one key source");
    refused("{" L ", \"issuers\": {" IDP
            ", \"claims_to_headers\": {\"email\": \"X-Mesh-Subject\"}}}, " R_IDP "}",
            "issuers.idp.claims_to_headers.email", "header name");
    refused("{" L ", \"issuers\": {" IDP ", \"claims_to_headers\": {\"email\": \"X Bad\"}}}, " R_IDP
            "}",
            "issuers.idp.claims_to_headers.email", "header name");
    refused("{" L ", \"issuers\": {" IDP ", \"token_header\": \"Cf:Access\"}}, " R_IDP "}",
            "issuers.idp.token_header", "header name");
    refused("{" L ", \"issuers\": {" IDP ", \"binding\": \"maybe\"}}, " R_IDP "}",
            "issuers.idp.binding", "when-presented");
    refused("{" L ", \"issuers\": {" IDP ", \"max_lifetime\": 0.5}}, " R_IDP "}",
            "issuers.idp.max_lifetime", "integer");
    refused("{" L ", \"issuers\": {\"idp\": {\"kind\": \"oidc\", \"url\": \"https://i\", "
            "\"hmac_key_file\": \"/nonexistent/key\"}}, " R_IDP "}",
            "issuers.idp.hmac_key_file", "No such file");
    /* requires_all: two credentials cannot share one header */
    refused("{" L ", " T ", \"issuers\": {" IDP "}, \"mesh\": {\"kind\": \"mesh\", \"url\": "
            "\"https://m\"}}, \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"requires_all\": [\"idp\", \"mesh\"]}]}",
            "routes[0].requires_all", "its own header");
    refused("{" L ", " T ", \"issuers\": {" IDP
            "}}, \"routes\": [{\"prefix\": \"/\", \"audience\": "
            "\"g\", \"requires_all\": [\"idp\"], \"issuers\": [\"idp\"]}]}",
            "routes[0].requires_all", "not both");
    refused("{" L ", \"issuers\": {" IDP
            "}}, \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"rate_limit\": {\"per_route\": \"10/week\"}}]}",
            "routes[0].rate_limit.per_route", "N/period");
    refused("{" L ", \"issuers\": {" IDP
            "}}, \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"rate_limit\": {\"per_subject\": {\"svc-token:ci\": \"0/h\"}}}]}",
            "routes[0].rate_limit.per_subject.svc-token:ci", "N/period");
    refused("{" L ", \"issuers\": {" IDP
            "}}, \"routes\": [{\"prefix\": \"/\", \"audience\": \"g\", "
            "\"rate_limit\": {}}]}",
            "routes[0].rate_limit", "no quota");
    refused("{" L ", \"routes\": [{\"prefix\": \"/\", \"public\": true, \"single_use\": true}]}",
            "routes[0].single_use", "public route");
    /* API keys: hashed, named, dated */
    refused("{" L ", \"issuers\": {\"k\": {\"kind\": \"api-keys\", \"keys\": [{\"name\": \"ci\", "
            "\"hash\": \"s3cr3t\", \"expires\": \"never\"}]}}, \"routes\": [{\"prefix\": \"/\"}]}",
            "issuers.k.keys[0].hash", "sha256:");
    refused("{" L ", \"issuers\": {\"k\": {\"kind\": \"api-keys\", \"keys\": [{\"name\": \"ci\", "
            "\"hash\": \"sha256:"
            "0000000000000000000000000000000000000000000000000000000000000000"
            "\", \"expires\": \"soon\"}]}}, \"routes\": [{\"prefix\": \"/\"}]}",
            "issuers.k.keys[0].expires", "UTC date");
    refused("{" L ", \"issuers\": {\"k\": {\"kind\": \"api-keys\", \"header\": \"Authorization\", "
            "\"keys\": []}}, \"routes\": [{\"prefix\": \"/\"}]}",
            "issuers.k.header", "X-Api-Key");
    refused("{" L ", " I ", " T ", \"routes\": [{\"prefix\": \"/\"}]}", "routes[0].audience",
            "required");
    refused(
        "{" L ", \"issuers\": {\"k\": {\"kind\": \"api-keys\", \"keys\": [{\"name\": \"ci\", "
        "\"hash\": \"sha256:"
        "0000000000000000000000000000000000000000000000000000000000000000"
        "\", \"expires\": \"never\"}]}}, \"routes\": [{\"prefix\": \"/\", \"single_use\": true}]}",
        "routes[0].single_use", "API keys");

    char err[1024];
    config_t *c =
        parse("{" L ", \"issuers\": {" IDP ", \"audiences\": [\"asset-service\"], "
              "\"algorithms\": [\"RS256\", \"ES256\"], \"typ\": [\"at+jwt\", \"JWT\"], "
              "\"required_claims\": [\"email\"], \"token_header\": "
              "\"Cf-Access-Jwt-Assertion\", \"claims_to_headers\": {\"email\": "
              "\"X-Mesh-User-Email\"}}, "
              "\"k\": {\"kind\": \"api-keys\", \"enabled\": false, \"keys\": [{\"name\": "
              "\"legacy-ci\", \"hash\": \"sha256:"
              "00112233445566778899aabbccddeeff"
              "00112233445566778899AABBCCDDEEFF\", \"expires\": \"2027-01-31T12:00:00Z\"}]}}, "
              "\"routes\": [{\"prefix\": \"/k/\", \"issuers\": [\"k\"]}, {\"prefix\": \"/u/\", "
              "\"issuers\": [\"idp\"], "
              "\"single_use\": true, \"rate_limit\": {\"per_route\": \"1000/h\", "
              "\"per_subject\": {\"*\": \"50/m\", \"svc-token:ci\": \"5/10s\"}}}]}",
              err, sizeof(err));
    if (c == NULL) {
        fail_msg("%s", err);
    }
    const issuer_t *idp = &c->issuers[0], *k = &c->issuers[1];
    assert_int_equal(idp->kind, ISSUER_OIDC);
    assert_int_equal(idp->jwks_src, MESH_JWKS_FROM_OIDC);
    assert_true(idp->own_audiences);
    assert_string_equal(idp->audiences, "asset-service");
    assert_string_equal(idp->algorithms, "RS256 ES256");
    assert_string_equal(idp->typ, "at+jwt JWT");
    assert_string_equal(idp->token_header, "Cf-Access-Jwt-Assertion");
    assert_string_equal(idp->claims[0].header, "X-Mesh-User-Email");
    assert_int_equal(idp->binding, BIND_WHEN_PRESENTED);
    assert_null(c->trust_bundle); /* no mesh issuer: no bundle needed */
    assert_int_equal(k->kind, ISSUER_API_KEYS);
    assert_string_equal(k->token_header, "X-Api-Key");
    assert_false(k->enabled);
    assert_int_equal(k->keys[0].expires, 1801396800);
    assert_int_equal(k->keys[0].hash[15], 0xff);
    const route_t *r = &c->routes[1];
    assert_null(r->audience);
    assert_true(r->single_use);
    assert_int_equal(r->per_route.n, 1000);
    assert_int_equal(r->per_route.period_s, 3600);
    assert_string_equal(r->quota_subjects[0], "svc-token:ci"); /* exact first, "*" last */
    assert_int_equal(r->per_subject[0].period_s, 10);
    assert_string_equal(r->quota_subjects[1], "*");
    config_unref(c);
}

/* hmac_key_file: a legacy HS256 secret is read only from a file no one else can read. */
static void test_hmac_key_file_mode(void **state)
{
    char dir[] = "/tmp/authz-hmac.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char key[64], json[1024], err[1024];
    snprintf(key, sizeof(key), "%s/k", dir);
    FILE *f = fopen(key, "w");
    assert_non_null(f);
    fputs("a-legacy-project-jwt-secret-of-32-bytes-or-more\n", f);
    fclose(f);
    assert_int_equal(chmod(key, 0644), 0);
    snprintf(json, sizeof(json),
             "{" L ", \"issuers\": {\"idp\": {\"kind\": \"oidc\", \"url\": \"https://i\", "
             "\"hmac_key_file\": \"%s\"}}, " R_IDP "}",
             key);
    config_t *c = parse(json, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "mode 0600"));
    assert_int_equal(chmod(key, 0600), 0);
    c = parse(json, err, sizeof(err));
    if (c == NULL) {
        fail_msg("%s", err);
    }
    assert_int_equal(c->issuers[0].hmac_len,
                     strlen("a-legacy-project-jwt-secret-of-32-bytes-or-more"));
    config_unref(c);
    unlink(key);
    rmdir(dir);
}

static void test_too_many_routes(void **state)
{
    size_t cap = (MESH_AUTHZ_MAX_ROUTES + 1) * 40 + 256;
    char *json = malloc(cap);
    assert_non_null(json);
    size_t used = (size_t)snprintf(json, cap, "{" L ", \"routes\": [");
    for (int i = 0; i <= MESH_AUTHZ_MAX_ROUTES; i++) {
        used += (size_t)snprintf(json + used, cap - used,
                                 "%s{\"prefix\": \"/r%d\", \"public\": "
                                 "true}",
                                 i ? "," : "", i);
    }
    snprintf(json + used, cap - used, "]}");
    refused(json, "routes", "MESH_AUTHZ_MAX_ROUTES");
    free(json);
}

/* One verifier per issuer: every audience of its routes, and the loosest binding. */
static void test_verifier_plan(void **state)
{
    char err[1024];
    config_t *c = parse("{" L ", " I ", " T ", \"routes\": ["
                        "{\"prefix\": \"/a/\", \"audience\": \"gw\"},"
                        "{\"prefix\": \"/b/\", \"audience\": \"chat\", "
                        "\"binding\": {\"unbound-for\": [\"svc-token:ci\", \"svc-token:x\"]}},"
                        "{\"prefix\": \"/c/\", \"audience\": \"gw\", "
                        "\"binding\": {\"unbound-for\": [\"svc-token:ci\"]}}]}",
                        err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->issuers[0].audiences, "gw chat");
    assert_int_equal(c->issuers[0].n_audiences, 2);
    assert_string_equal(c->issuers[0].binding_spec, "unbound-for:svc-token:ci,svc-token:x");
    assert_int_equal(c->routes[0].binding, BIND_REQUIRED); /* each route keeps its own */
    config_unref(c);

    c = parse("{" L ", " I ", " T ", \"routes\": ["
              "{\"prefix\": \"/a/\", \"audience\": \"gw\"},"
              "{\"prefix\": \"/b/\", \"audience\": \"gw\", \"binding\": \"when-presented\"},"
              "{\"prefix\": \"/c/\", \"audience\": \"gw\", "
              "\"binding\": {\"unbound-for\": [\"svc-token:ci\"]}}]}",
              err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->issuers[0].binding_spec, "when-presented");
    assert_string_equal(c->issuers[0].audiences, "gw");
    assert_string_equal(c->routes[0].scope_str, "");
    config_unref(c);
}

static void test_defaults_and_paths(void **state)
{
    char err[1024];
    config_t *c = parse("{\"listen\": [{\"unix\": \"run/a.sock\", \"mode\": \"0660\"}, "
                        "{\"tcp\": \"[::1]:0\"}], " I ", \"trust\": {\"bundle\": \"ca.pem\"}, "
                        "\"routes\": [{\"host\": \"API.Example\", \"prefix\": \"/x\", "
                        "\"audience\": \"gw\", \"scopes\": [\"a\", \"b\"]}]}",
                        err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->listeners[0].path, "/etc/mesh/run/a.sock"); /* relative to the file */
    assert_int_equal(c->listeners[0].mode, 0660);
    assert_true(c->listeners[1].loopback);
    assert_string_equal(c->trust_bundle, "/etc/mesh/ca.pem");
    assert_int_equal(c->workers, 2);
    assert_string_equal(c->routes[0].host, "api.example");
    assert_string_equal(c->routes[0].name, "api.example/x");
    assert_string_equal(c->routes[0].scope_str, "a b");
    config_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_name_key_paths), cmocka_unit_test(test_too_many_routes),
        cmocka_unit_test(test_issue11_shapes),        cmocka_unit_test(test_hmac_key_file_mode),
        cmocka_unit_test(test_verifier_plan),         cmocka_unit_test(test_defaults_and_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
