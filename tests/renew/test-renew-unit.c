/* SPDX-License-Identifier: Apache-2.0 */
/* <mesh/renew.h> without a network: the renewal point (fraction and jitter bounds), the
 * backoff schedule while the issuer is down, and option checks that name the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/mesh.h>
#include <mesh/renew.h>

static mesh_renew_opts_t *opts(void)
{
    mesh_renew_opts_t *o = NULL;
    assert_int_equal(mesh_renew_opts_new(&o), MESH_OK);
    return o;
}

/* Default: 2/3 of the lifetime, spread over +-5 % of it. */
static void test_point_default_fraction_and_jitter_bounds(void **state)
{
    mesh_renew_opts_t *o = opts();
    const int64_t nb = 1700000000, day = 86400;
    (void)state;

    /* Within a second of the exact figures (floating point). */
    assert_true(llabs(mesh_renew_point(o, nb, nb + day, 0.0) - (nb + 14 * 3600 + 48 * 60)) <= 1);
    assert_true(llabs(mesh_renew_point(o, nb, nb + day, 1.0) - (nb + 17 * 3600 + 12 * 60)) <= 1);
    assert_true(llabs(mesh_renew_point(o, nb, nb + day, 0.5) - (nb + day * 2 / 3)) <= 1);
    for (int i = 0; i <= 100; i++) {
        int64_t at = mesh_renew_point(o, nb, nb + day, i / 100.0);
        assert_true(at >= nb + 14 * 3600 + 48 * 60 - 1); /* 14.8 h */
        assert_true(at <= nb + 17 * 3600 + 12 * 60 + 1); /* 17.2 h */
    }
    /* A draw outside [0, 1] (or NaN) is the middle, never outside the bounds. */
    assert_true(llabs(mesh_renew_point(o, nb, nb + day, 7.0) - (nb + day * 2 / 3)) <= 1);
    mesh_renew_opts_free(o);
}

static void test_point_never_outside_the_lifetime(void **state)
{
    mesh_renew_opts_t *o = opts();
    const int64_t nb = 1000;
    (void)state;

    assert_int_equal(mesh_renew_opts_set_fraction(o, 0.99), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_jitter(o, 0.5), MESH_OK);
    assert_int_equal(mesh_renew_point(o, nb, nb + 60, 1.0), nb + 59); /* not_after - 1 */
    assert_int_equal(mesh_renew_opts_set_fraction(o, 0.01), MESH_OK);
    assert_int_equal(mesh_renew_point(o, nb, nb + 60, 0.0), nb); /* not before not_before */
    /* A 60 s certificate at the defaults renews between 37 s and 43 s (36 s: the floor). */
    mesh_renew_opts_free(o);
    o = opts();
    for (int i = 0; i <= 10; i++) {
        int64_t at = mesh_renew_point(o, nb, nb + 60, i / 10.0) - nb;
        assert_true(at >= 36 && at <= 43);
    }
    assert_int_equal(mesh_renew_opts_set_jitter(o, 0.0), MESH_OK);
    assert_true(llabs(mesh_renew_point(o, nb, nb + 60, 0.0) - (nb + 40)) <= 1);
    assert_int_equal(mesh_renew_point(o, nb, nb + 60, 0.0), mesh_renew_point(o, nb, nb + 60, 1.0));
    mesh_renew_opts_free(o);
}

static void test_backoff_doubles_capped_with_equal_jitter(void **state)
{
    mesh_renew_opts_t *o = opts();
    (void)state;

    assert_int_equal(mesh_renew_opts_set_retry_base_ms(o, 100), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_retry_max_ms(o, 1000), MESH_OK);
    const int64_t want[] = {100, 200, 400, 800, 1000, 1000};
    for (int a = 0; a < 6; a++) {
        assert_int_equal(mesh_renew_backoff_ms(o, a, 1.0), want[a]);
        assert_int_equal(mesh_renew_backoff_ms(o, a, 0.0), want[a] / 2);
        for (int i = 0; i <= 20; i++) {
            int64_t d = mesh_renew_backoff_ms(o, a, i / 20.0);
            assert_true(d >= want[a] / 2 && d <= want[a]);
        }
    }
    /* Far into an outage: capped, never overflowing. */
    assert_int_equal(mesh_renew_backoff_ms(o, 10000, 1.0), 1000);
    /* Defaults: 1 s doubling to 5 min. */
    mesh_renew_opts_free(o);
    o = opts();
    assert_int_equal(mesh_renew_backoff_ms(o, 0, 1.0), 1000);
    assert_int_equal(mesh_renew_backoff_ms(o, 30, 1.0), 300000);
    mesh_renew_opts_free(o);
}

static void expect_detail(const char *needle)
{
    if (strstr(mesh_err_detail(), needle) == NULL) {
        fail_msg("detail \"%s\" does not name \"%s\"", mesh_err_detail(), needle);
    }
}

static void test_options_name_what_is_wrong(void **state)
{
    mesh_renew_opts_t *o = opts();
    mesh_renew_info_t info;
    (void)state;

    assert_int_equal(mesh_renew_opts_set_issuer_url(o, "http://127.0.0.1:1"), MESH_ERR_CONFIG);
    expect_detail("issuer_url");
    assert_int_equal(mesh_renew_opts_set_fraction(o, 1.0), MESH_ERR_INVALID_ARG);
    expect_detail("fraction");
    assert_int_equal(mesh_renew_opts_set_fraction(o, 0.0 / 0.0), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_renew_opts_set_jitter(o, 0.6), MESH_ERR_INVALID_ARG);
    expect_detail("jitter");
    assert_int_equal(mesh_renew_opts_set_retry_base_ms(o, 0), MESH_ERR_INVALID_ARG);
    expect_detail("retry_base_ms");
    assert_int_equal(mesh_renew_opts_set_timeout_ms(o, -1), MESH_ERR_INVALID_ARG);
    expect_detail("timeout_ms");
    assert_int_equal(mesh_renew_opts_set_key_type(o, (mesh_key_type_t)99), MESH_ERR_INVALID_ARG);
    expect_detail("key_type");
    assert_int_equal(mesh_renew_opts_set_cert_path(o, ""), MESH_ERR_INVALID_ARG);
    expect_detail("cert_path");
    /* A join token of the wrong shape: refused, and never echoed. */
    assert_int_equal(mesh_renew_opts_set_join_token(o, "mjt_short-secret"), MESH_ERR_CONFIG);
    expect_detail("join_token");
    assert_null(strstr(mesh_err_detail(), "short-secret"));
    assert_int_equal(
        mesh_renew_opts_set_join_token(o, "mjt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        MESH_OK);
    assert_int_equal(mesh_renew_opts_set_join_token(o, NULL), MESH_OK);
    /* Missing options are named before any I/O. */
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_CONFIG);
    expect_detail("issuer_url");
    assert_int_equal(mesh_renew_opts_set_issuer_url(o, "https://127.0.0.1:1"), MESH_OK);
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_CONFIG);
    expect_detail("ca_path");
    assert_int_equal(mesh_renew_opts_set_ca_path(o, "/nonexistent/ca.pem"), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_cert_path(o, "/nonexistent/cert.pem"), MESH_OK);
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_CONFIG);
    expect_detail("key_path");
    assert_int_equal(mesh_renew_opts_set_key_path(o, "/nonexistent/key.pem"), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_retry_base_ms(o, 5000), MESH_OK);
    assert_int_equal(mesh_renew_opts_set_retry_max_ms(o, 1000), MESH_OK);
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_INVALID_ARG);
    expect_detail("retry_max_ms");
    assert_int_equal(mesh_renew_opts_set_retry_max_ms(o, 10000), MESH_OK);
    /* No certificate and no join token: says what to do. */
    assert_int_equal(mesh_renew_once(o, &info), MESH_ERR_CERT);
    expect_detail("join token");
    mesh_renew_opts_free(o);
    mesh_renew_opts_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_point_default_fraction_and_jitter_bounds),
        cmocka_unit_test(test_point_never_outside_the_lifetime),
        cmocka_unit_test(test_backoff_doubles_capped_with_equal_jitter),
        cmocka_unit_test(test_options_name_what_is_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
