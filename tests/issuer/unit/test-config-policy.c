/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-issuer config loading (every error names its key path) and policy decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "../../test-tmp.h"

static char tmpdir[96]; /* $TMPDIR/issuer-config-XXXXXX; the paths below append to it */

static const char BASE[] =
    "\"issuer\": \"https://issuer.mesh.local\", \"listen\": \"127.0.0.1:8443\","
    "\"tls\": {\"cert\": \"c.pem\", \"key\": \"k.pem\", \"ca\": \"ca.pem\"},"
    "\"signing_keys\": {\"current\": \"jwt.key\"}, \"store\": \"sqlite:x.db\"";

static const char AUDS[] = "\"audiences\": [{\"name\": \"a\", \"scopes\": [\"a:r\", \"a:w\"]},"
                           "{\"name\": \"b\", \"scopes\": [\"b:r\"]}]";

/* Loads {BASE, AUDS?, extra}; returns the error text ("" on success). */
static mesh_err_t load(const char *extra, bool auds, config_t **cfg, char *err, size_t cap)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/c.json", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{%s%s%s%s%s}", BASE, auds ? "," : "", auds ? AUDS : "", extra[0] ? "," : "", extra);
    fclose(f);
    *cfg = NULL;
    return config_load(path, cfg, err, cap);
}

static void expect_err(const char *extra, bool auds, const char *needle)
{
    config_t *cfg;
    char err[1024];
    mesh_err_t rc = load(extra, auds, &cfg, err, sizeof(err));
    if (rc == MESH_OK || strstr(err, needle) == NULL) {
        fprintf(stderr, "config {%s}: want error with '%s', got rc %d '%s'\n", extra, needle, rc,
                err);
        fail();
    }
    assert_null(cfg);
}

static void test_demo_config(void **state)
{
    const char *root = getenv("MESH_SOURCE_ROOT");
    assert_non_null(root);
    char path[512], err[1024];
    snprintf(path, sizeof(path), "%s/certs-templates/issuer.json", root);
    config_t *cfg = NULL;
    if (config_load(path, &cfg, err, sizeof(err)) != MESH_OK) {
        fprintf(stderr, "%s\n", err);
        fail();
    }
    assert_int_equal(cfg->n_audiences, 5);
    assert_non_null(config_audience(cfg, "web-service"));
    assert_true(strstr(cfg->tls_ca, "/certs-templates/../certs/ca.pem") != NULL);
    config_free(cfg);
}

static void test_config_errors(void **state)
{
    expect_err("\"polcy\": []", true, ": polcy: unknown member");
    expect_err("", false, "audiences: required");
    expect_err("\"policy\": [{\"identity\": \"spiffe://m/x\", \"audiences\": [\"a\", \"zz\"]}]",
               true, "policy[0].audiences[1]: 'zz' is not a registered audience");
    expect_err("\"policy\": [{\"identity\": \"spiffe://m/x\", \"audiences\": [\"a\"]},"
               "{\"identity\": \"spiffe://m/y\", \"audiences\": [\"b\"], \"scopes\": [\"a:r\"]}]",
               true, "policy[1].scopes[0]: 'a:r' is not a scope");
    expect_err("\"policy\": [{\"identity\": \"alice\", \"audiences\": [\"a\"]}]", true,
               "policy[0]: identity 'alice' must start with spiffe://");
    /* regression: svc-token: entries were accepted, explained, then ignored */
    expect_err("\"policy\": [{\"identity\": \"svc-token:ci\", \"audiences\": [\"a\"], "
               "\"max_ttl\": 60}]",
               true, "policy[0]: identity 'svc-token:ci': service tokens take their audiences");
    expect_err("\"max_connection_age\": 0", true, "max_connection_age: 0 is out of range");
    expect_err("\"policy\": [{\"identity\": \"spiffe://m/*x\", \"audiences\": [\"a\"]}]", true,
               "'*' may only end");
    expect_err("\"policy\": [{\"identity\": \"spiffe://m/x\", \"audiences\": [\"a\"], "
               "\"max_ttl\": 900}]",
               true, "policy[0].max_ttl: 900 is out of range");
    expect_err("\"tokens\": {\"max_ttl\": 900}", true, "tokens.max_ttl: 900 is out of range");
    expect_err("\"tokens\": {\"default_ttl\": 500, \"max_ttl\": 400}", true,
               "tokens.default_ttl: 500 must lie within");
    expect_err("\"tokens\": {\"min_ttl\": \"30\"}", true, "tokens.min_ttl: must be an integer");
    expect_err("\"audiences\": [{\"name\": \"a\"}, {\"name\": \"a\"}]", false,
               "audiences[1]: name 'a' is already used by audiences[0]");
    expect_err("\"audiences\": [{\"name\": \"a\", \"scopes\": [\"x y\"]}]", false,
               "audiences[0].scopes[0]");
    expect_err("\"admins\": [\"spiffe://m/x\", \"spiffe://m/x\"]", true, "admins[1]");
    expect_err("\"rate_limits\": {\"per_identity\": {\"rate\": 5, \"burst\": 0}}", true,
               "rate_limits.per_identity: burst");
    expect_err("\"workers\": -1", true, "workers: -1 is out of range");
    expect_err("\"issuer\": \"x\"", true, "duplicate");
}

/* Regression (issue 10, point 3): the config file is read through <mesh/jansson.h>: nesting
 * past MESH_MAX_CONFIG_JSON_DEPTH is refused unread, a duplicate member and a syntax error
 * still say where (path:line:column), invalid UTF-8 is refused. */
static void test_config_json_door(void **state)
{
    (void)state;
    expect_err("\"x\": [[[[[[[[1]]]]]]]]", true, "JSON nested deeper than 8");
    expect_err("\"issuer\": \"x\"", true, "c.json:1:");
    expect_err("\"issuer\": \"x\"", true, "duplicate");
    expect_err("\"x\": \"\xff\"", true, "c.json:1:");
    expect_err("\"x\": ", true, "c.json:1:");
}

static void test_config_values(void **state)
{
    config_t *cfg;
    char err[1024];
    /* listen, issuer and store forms are checked too */
    char path[128];
    snprintf(path, sizeof(path), "%s/d.json", tmpdir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"issuer\": \"http://x\", \"listen\": \"1:2\"}");
    fclose(f);
    assert_int_equal(config_load(path, &cfg, err, sizeof(err)), MESH_ERR_CONFIG);
    assert_non_null(strstr(err, "issuer: 'http://x' must be an https:// URL"));
    assert_int_equal(load("", true, &cfg, err, sizeof(err)), MESH_OK);
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8443);
    assert_int_equal(cfg->ttl_default, 300);
    assert_int_equal(cfg->ttl_min, 30);
    assert_int_equal(cfg->ttl_max, 600);
    char want[160];
    snprintf(want, sizeof(want), "sqlite:%s/x.db", tmpdir);
    assert_string_equal(cfg->store, want);
    snprintf(want, sizeof(want), "%s/ca.pem", tmpdir);
    assert_string_equal(cfg->tls_ca, want);
    assert_null(cfg->tls_crl);
    config_free(cfg);
}

static config_t *policy_cfg(void)
{
    config_t *cfg;
    char err[1024];
    mesh_err_t rc =
        load("\"policy\": [{\"identity\": \"spiffe://m/web\", \"audiences\": [\"a\"],"
             "\"scopes\": [\"a:r\"], \"max_ttl\": 60},"
             "{\"identity\": \"spiffe://m/*\", \"audiences\": [\"b\"]},"
             "{\"identity\": \"spiffe://m/web\", \"audiences\": [\"a\"], \"scopes\": [\"a:w\"]}],"
             "\"admins\": [\"spiffe://m/admin\"]",
             true, &cfg, err, sizeof(err));
    if (rc != MESH_OK) {
        fprintf(stderr, "%s\n", err);
    }
    assert_int_equal(rc, MESH_OK);
    return cfg;
}

static void test_policy(void **state)
{
    config_t *cfg = policy_cfg();
    policy_result_t r;
    policy_request_t q = {.identity = "spiffe://m/web", .audience = "a"};
    /* two entries for the same identity: scopes unite, the larger max_ttl wins */
    assert_true(policy_decide(cfg, &q, &r));
    assert_string_equal(r.scope, "a:r a:w");
    assert_int_equal(r.ttl, 300);
    q.scope = "a:w";
    q.has_ttl = true;
    q.ttl = 600;
    assert_true(policy_decide(cfg, &q, &r));
    assert_string_equal(r.scope, "a:w");
    q.ttl = 601;
    assert_false(policy_decide(cfg, &q, &r));
    assert_string_equal(r.error, "invalid_request");
    /* the wildcard entry */
    policy_request_t w = {.identity = "spiffe://m/anything", .audience = "b", .scope = "b:r b:r"};
    assert_true(policy_decide(cfg, &w, &r));
    assert_string_equal(r.scope, "b:r");
    w.audience = "a";
    assert_false(policy_decide(cfg, &w, &r));
    assert_string_equal(r.error, "access_denied");
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.description, "allowed: spiffe://m/web"));
    w.audience = "nope";
    assert_false(policy_decide(cfg, &w, &r));
    assert_string_equal(r.error, "invalid_target");
    assert_non_null(strstr(r.description, "registered audiences: a, b"));
    policy_request_t bad = {.identity = "spiffe://m/web", .audience = "a", .scope = "a:r \"x"};
    assert_false(policy_decide(cfg, &bad, &r));
    assert_string_equal(r.error, "invalid_scope");
    /* service tokens: their own audiences and scopes, the separate lifetime cap */
    policy_request_t s = {.identity = "svc-token:ci",
                          .svc_token = true,
                          .svc_audiences = "b,a",
                          .svc_scopes = "a:r",
                          .audience = "a"};
    assert_true(policy_decide(cfg, &s, &r));
    assert_string_equal(r.scope, "a:r");
    assert_int_equal(r.ttl, 300);
    s.scope = "a:w";
    assert_false(policy_decide(cfg, &s, &r));
    assert_string_equal(r.error, "invalid_scope");
    s.scope = NULL;
    s.svc_audiences = "b";
    assert_false(policy_decide(cfg, &s, &r));
    assert_string_equal(r.error, "access_denied");
    assert_true(config_is_admin(cfg, "spiffe://m/admin"));
    assert_false(config_is_admin(cfg, "spiffe://m/admin2"));
    config_free(cfg);
}

int main(void)
{
    if (test_tmp_template(tmpdir, sizeof(tmpdir), "issuer-config") == NULL ||
        mkdtemp(tmpdir) == NULL) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_config),      cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_json_door), cmocka_unit_test(test_config_values),
        cmocka_unit_test(test_policy),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        rc = 1;
    }
    return rc;
}
