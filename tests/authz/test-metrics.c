/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-authz's metrics: one series per label set, bounded cardinality, the histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/limits.h>

#include "metrics.h"

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

/* The same labels from two places (two string literals, two addresses) are one series. */
static void test_one_series_per_label_set(void **state)
{
    metrics_reset();
    char outcome1[] = "deny", outcome2[] = "deny";
    char reason1[] = "no_route", reason2[] = "no_route";
    metrics_decision("assets", outcome1, reason1, 10);
    metrics_decision("assets", outcome2, reason2, 20);
    metrics_decision("assets", "allow", "ok", 3000);
    char *t = metrics_render(NULL);
    assert_non_null(t);
    assert_non_null(strstr(
        t,
        "mesh_authz_decisions_total{route=\"assets\",outcome=\"deny\",reason=\"no_route\"} 2\n"));
    assert_non_null(strstr(
        t, "mesh_authz_decisions_total{route=\"assets\",outcome=\"allow\",reason=\"ok\"} 1\n"));
    assert_int_equal(count(t, "outcome=\"deny\""), 1);
    assert_non_null(strstr(t, "# TYPE mesh_authz_decision_duration_seconds histogram\n"));
    assert_non_null(strstr(t, "mesh_authz_decision_duration_seconds_bucket{le=\"+Inf\"}"));
    free(t);
}

/* Past MESH_MAX_METRIC_SERIES label sets, the rest is counted under route="other". */
static void test_bounded_cardinality(void **state)
{
    metrics_reset();
    char route[32];
    for (int i = 0; i < MESH_MAX_METRIC_SERIES + 10; i++) {
        snprintf(route, sizeof(route), "r%d", i);
        metrics_decision(route, "allow", "ok", 1);
    }
    char *t = metrics_render(NULL);
    assert_non_null(t);
    assert_int_equal(count(t, "mesh_authz_decisions_total{"), MESH_MAX_METRIC_SERIES + 1);
    assert_non_null(strstr(t, "{route=\"other\",outcome=\"other\",reason=\"other\"} 10\n"));
    free(t);
}

/* Decisions by client id: the id comes from a token, so it is escaped; bounded like the rest. */
static void test_by_client_escaped_and_bounded(void **state)
{
    metrics_reset();
    metrics_client("web-service", "allow");
    metrics_client("web-service", "allow");
    metrics_client("", "deny");
    metrics_client("a\"b\\c\nd", "allow");
    char *t = metrics_render(NULL);
    assert_non_null(t);
    assert_non_null(strstr(
        t,
        "mesh_authz_decisions_by_client_total{client_id=\"web-service\",outcome=\"allow\"} 2\n"));
    assert_non_null(
        strstr(t, "mesh_authz_decisions_by_client_total{client_id=\"none\",outcome=\"deny\"} 1\n"));
    assert_non_null(strstr(t, "{client_id=\"a\\\"b\\\\c\\nd\",outcome=\"allow\"} 1\n"));
    free(t);

    metrics_reset();
    char id[32];
    for (int i = 0; i < MESH_MAX_METRIC_SERIES + 5; i++) {
        snprintf(id, sizeof(id), "svc-%d", i);
        metrics_client(id, "allow");
    }
    t = metrics_render(NULL);
    assert_non_null(t);
    assert_int_equal(count(t, "mesh_authz_decisions_by_client_total{"), MESH_MAX_METRIC_SERIES + 1);
    assert_non_null(strstr(t, "{client_id=\"other\",outcome=\"other\"} 5\n"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_series_per_label_set),
        cmocka_unit_test(test_bounded_cardinality),
        cmocka_unit_test(test_by_client_escaped_and_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
