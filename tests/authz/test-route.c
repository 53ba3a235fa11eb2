/* SPDX-License-Identifier: Apache-2.0 */
/* Route matching: host first, longest prefix, method; canonical paths only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "route.h"

static config_t *cfg;

static int setup(void **state)
{
    static const char json[] =
        "{\"listen\": [{\"unix\": \"/tmp/a.sock\"}], \"routes\": ["
        "{\"name\": \"root\", \"prefix\": \"/\", \"public\": true},"
        "{\"name\": \"admin-get\", \"prefix\": \"/admin/\", \"methods\": [\"GET\"], \"public\": "
        "true},"
        "{\"name\": \"admin-del\", \"prefix\": \"/admin/\", \"methods\": [\"DELETE\"], "
        "\"public\": true},"
        "{\"name\": \"health\", \"prefix\": \"/healthz\", \"public\": true},"
        "{\"name\": \"api-host\", \"host\": \"api.example\", \"prefix\": \"/v1/\", \"methods\": "
        "[\"GET\"], \"public\": true},"
        "{\"name\": \"first\", \"prefix\": \"/dup/\", \"public\": true},"
        "{\"name\": \"second\", \"prefix\": \"/dup/\", \"public\": true}]}";
    char err[512];
    cfg = config_parse(json, strlen(json), "", err, sizeof(err));
    if (cfg == NULL) {
        fail_msg("%s", err);
    }
    return 0;
}

static int teardown(void **state)
{
    config_unref(cfg);
    return 0;
}

static const char *match(const char *method, const char *host, const char *path)
{
    const char *why = NULL;
    const route_t *r = route_match(cfg, method, host, path, &why);
    return r ? r->name : why;
}

static void test_longest_prefix_and_methods(void **state)
{
    assert_string_equal(match("GET", NULL, "/anything"), "root");
    assert_string_equal(match("GET", NULL, "/admin/x"), "admin-get");
    assert_string_equal(match("DELETE", NULL, "/admin/x"), "admin-del");
    /* POST under /admin/: refused, never handed to the looser "/" */
    assert_string_equal(match("POST", NULL, "/admin/x"), "method_not_allowed");
    assert_string_equal(match("GET", NULL, "/healthz"), "health");
    assert_string_equal(match("GET", NULL, "/healthz/live"), "health");
    assert_string_equal(match("GET", NULL, "/healthzX"), "root"); /* segment boundary */
    assert_string_equal(match("GET", NULL, "/dup/a"), "first");   /* ties: file order */
}

static void test_host_first(void **state)
{
    assert_string_equal(match("GET", "api.example", "/v1/x"), "api-host");
    assert_string_equal(match("GET", "API.EXAMPLE:8443", "/v1/x"), "api-host");
    /* the host's route matched the path: no fallback to the host-less "/" for POST */
    assert_string_equal(match("POST", "api.example", "/v1/x"), "method_not_allowed");
    /* the host's routes do not match this path: the host-less ones apply */
    assert_string_equal(match("GET", "api.example", "/other"), "root");
    assert_string_equal(match("GET", "other.example", "/v1/x"), "root");
    assert_string_equal(match("GET", "api.example.evil", "/v1/x"), "root");
}

static void test_no_route(void **state)
{
    const char json[] = "{\"listen\": [{\"unix\": \"/tmp/a.sock\"}], \"routes\": ["
                        "{\"prefix\": \"/only/\", \"public\": true}]}";
    char err[512];
    config_t *c = config_parse(json, strlen(json), "", err, sizeof(err));
    assert_non_null(c);
    const char *why = NULL;
    assert_null(route_match(c, "GET", NULL, "/other", &why));
    assert_string_equal(why, "no_route");
    assert_null(route_match(c, "GET", NULL, "/only", &why)); /* "/only/" needs the slash */
    config_unref(c);
}

static void test_canonical_paths(void **state)
{
    static const char *const good[] = {"/", "/a", "/a/", "/a/b.c", "/a/..b", "/a/.well-known/x"};
    static const char *const bad[] = {"",        "a",    "//",   "/a//b", "/a/./b",
                                      "/a/../b", "/..",  "/.",   "/a/..", "/%2e",
                                      "/a\\b",   "/a b", "/a?b", "/a#b",  "/a\x01"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!route_path_canonical(good[i], strlen(good[i]))) {
            fail_msg("'%s' should be canonical", good[i]);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (route_path_canonical(bad[i], strlen(bad[i]))) {
            fail_msg("'%s' should not be canonical", bad[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_prefix_and_methods),
        cmocka_unit_test(test_host_first),
        cmocka_unit_test(test_no_route),
        cmocka_unit_test(test_canonical_paths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
