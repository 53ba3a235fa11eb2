/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text rendering: expected lines, label escaping, bounded cardinality. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

/* True when text has a line exactly equal to line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && strncmp(p, line, n) == 0) {
            return true;
        }
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

static size_t count_prefix(const char *text, const char *prefix)
{
    size_t count = 0, n = strlen(prefix);

    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        count += strncmp(p, prefix, n) == 0;
        p = nl ? nl + 1 : NULL;
    }
    return count;
}

static void test_render_all_families(void **state)
{
    metrics_t *m = metrics_new();
    char *text;

    (void)state;
    metrics_token_issued(m, "orders", "tls_client_auth");
    metrics_token_issued(m, "orders", "tls_client_auth");
    metrics_token_issued(m, "orders", "client_secret_basic");
    metrics_denied(m, "access_denied");
    metrics_request(m, 0.0003);
    metrics_request(m, 0.002);
    metrics_request(m, 5.0);
    metrics_conn_open(m);
    metrics_conn_open(m);
    metrics_conn_close(m);
    metrics_tls_failure(m);
    metrics_revocation(m);
    metrics_revocation(m);
    metrics_svc_token_expiry(m, "ci-deploy", 3600);
    metrics_svc_token_expiry(m, "ci-deploy", 1800); /* replaced */
    text = metrics_render(m);
    assert_non_null(text);
    assert_true(has_line(text, "# TYPE mesh_issuer_tokens_issued_total counter"));
    assert_true(count_prefix(text, "# HELP mesh_issuer_tokens_issued_total ") == 1);
    assert_true(has_line(text, "mesh_issuer_tokens_issued_total{audience=\"orders\","
                               "auth_method=\"tls_client_auth\"} 2"));
    assert_true(has_line(text, "mesh_issuer_tokens_issued_total{audience=\"orders\","
                               "auth_method=\"client_secret_basic\"} 1"));
    assert_true(has_line(text, "# TYPE mesh_issuer_denials_total counter"));
    assert_true(has_line(text, "mesh_issuer_denials_total{reason=\"access_denied\"} 1"));
    assert_true(has_line(text, "# TYPE mesh_issuer_request_duration_seconds histogram"));
    assert_true(has_line(text, "mesh_issuer_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
    assert_true(has_line(text, "mesh_issuer_request_duration_seconds_bucket{le=\"0.001\"} 1"));
    assert_true(has_line(text, "mesh_issuer_request_duration_seconds_bucket{le=\"0.0025\"} 2"));
    assert_true(has_line(text, "mesh_issuer_request_duration_seconds_bucket{le=\"2.5\"} 2"));
    assert_true(has_line(text, "mesh_issuer_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
    assert_true(has_line(text, "mesh_issuer_request_duration_seconds_count 3"));
    assert_true(has_line(text, "mesh_issuer_request_duration_seconds_sum 5.0023"));
    assert_true(has_line(text, "# TYPE mesh_issuer_active_connections gauge"));
    assert_true(has_line(text, "mesh_issuer_active_connections 1"));
    assert_true(has_line(text, "mesh_issuer_tls_handshake_failures_total 1"));
    assert_true(has_line(text, "mesh_issuer_revocations_total 2"));
    assert_true(has_line(text, "# TYPE mesh_issuer_service_token_expiry_seconds gauge"));
    assert_true(
        has_line(text, "mesh_issuer_service_token_expiry_seconds{name=\"ci-deploy\"} 1800"));
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
    metrics_free(m);
}

/* Exposition format: backslash, double quote and newline are escaped in label values. */
static void test_label_values_escaped(void **state)
{
    metrics_t *m = metrics_new();
    char *text;

    (void)state;
    metrics_token_issued(m, "a\"b\\c\nd", "x");
    metrics_denied(m, "bad\x01\xff");
    text = metrics_render(m);
    assert_true(has_line(text, "mesh_issuer_tokens_issued_total{audience=\"a\\\"b\\\\c\\nd\","
                               "auth_method=\"x\"} 1"));
    assert_true(has_line(text, "mesh_issuer_denials_total{reason=\"bad__\"} 1"));
    free(text);
    metrics_free(m);
}

/* An attacker choosing audiences cannot grow the registry: past 256 sets, "other". */
static void test_cardinality_bounded(void **state)
{
    metrics_t *m = metrics_new();
    char aud[32], *text;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        snprintf(aud, sizeof(aud), "aud-%d", i);
        metrics_token_issued(m, aud, "tls_client_auth");
        metrics_svc_token_expiry(m, aud, 5000 - i);
    }
    metrics_token_issued(m, "aud-0", "tls_client_auth"); /* an early set still counts */
    text = metrics_render(m);
    assert_int_equal(count_prefix(text, "mesh_issuer_tokens_issued_total{"), 257);
    assert_true(has_line(text, "mesh_issuer_tokens_issued_total{audience=\"aud-0\","
                               "auth_method=\"tls_client_auth\"} 2"));
    assert_true(has_line(text, "mesh_issuer_tokens_issued_total{audience=\"other\","
                               "auth_method=\"other\"} 744"));
    assert_int_equal(count_prefix(text, "mesh_issuer_service_token_expiry_seconds{"), 257);
    assert_true(has_line(text, "mesh_issuer_service_token_expiry_seconds{name=\"other\"} 4001"));
    free(text);
    metrics_free(m);
}

static void test_null_safe(void **state)
{
    (void)state;
    metrics_token_issued(NULL, "a", "b");
    metrics_denied(NULL, "x");
    metrics_request(NULL, 1);
    metrics_conn_open(NULL);
    metrics_tls_failure(NULL);
    metrics_svc_token_expiry(NULL, "x", 1);
    assert_null(metrics_render(NULL));
    metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_all_families),
        cmocka_unit_test(test_label_values_escaped),
        cmocka_unit_test(test_cardinality_bounded),
        cmocka_unit_test(test_null_safe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
