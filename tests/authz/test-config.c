/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-authz's config: every error names its key path; the verifier plan per issuer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    refused("{" L ", \"issuers\": {\"x\": {\"kind\": \"oidc\"}}, \"routes\": [{\"prefix\": \"/\", "
            "\"public\": true}]}",
            "issuers.x.kind", "not supported yet");
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
        cmocka_unit_test(test_errors_name_key_paths),
        cmocka_unit_test(test_too_many_routes),
        cmocka_unit_test(test_verifier_plan),
        cmocka_unit_test(test_defaults_and_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
