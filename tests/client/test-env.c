/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_env_identity: the one reading of the identity files from the environment. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/mesh.h>

static void clear_env(void)
{
    unsetenv("TLS_CERT_PATH");
    unsetenv("TLS_KEY_PATH");
    unsetenv("TLS_CA_PATH");
    unsetenv("MESH_CERTS_DIR");
}

static int per_test(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static void test_nothing_set_names_the_variable(void **state)
{
    char *cert = NULL, *key = NULL, *ca = NULL;
    (void)state;

    assert_int_equal(mesh_env_identity("svc-a", &cert, &key, &ca), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "TLS_CA_PATH")); /* the CA first */
    assert_null(cert);
    assert_null(key);
    assert_null(ca);
    setenv("TLS_CA_PATH", "/x/ca.pem", 1);
    assert_int_equal(mesh_env_identity("svc-a", &cert, &key, &ca), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "TLS_CERT_PATH"));
    setenv("TLS_CERT_PATH", "/x/cert.pem", 1);
    assert_int_equal(mesh_env_identity("svc-a", &cert, &key, &ca), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "TLS_KEY_PATH"));
    assert_null(cert); /* outputs are written only on success */
    assert_null(ca);
}

static void test_certs_dir_derives_the_three(void **state)
{
    char *cert = NULL, *key = NULL, *ca = NULL;
    (void)state;

    setenv("MESH_CERTS_DIR", "/certs", 1);
    assert_int_equal(mesh_env_identity("svc-a", &cert, &key, &ca), MESH_OK);
    assert_string_equal(cert, "/certs/svc-a/cert.pem");
    assert_string_equal(key, "/certs/svc-a/key.pem");
    assert_string_equal(ca, "/certs/ca.pem");
    mesh_free(cert);
    mesh_free(key);
    mesh_free(ca);
}

static void test_explicit_variables_win(void **state)
{
    char *cert = NULL, *key = NULL, *ca = NULL;
    (void)state;

    setenv("MESH_CERTS_DIR", "/certs", 1);
    setenv("TLS_KEY_PATH", "/elsewhere/key.pem", 1);
    setenv("TLS_CA_PATH", "", 1); /* empty counts as unset */
    assert_int_equal(mesh_env_identity("svc-a", &cert, &key, &ca), MESH_OK);
    assert_string_equal(cert, "/certs/svc-a/cert.pem");
    assert_string_equal(key, "/elsewhere/key.pem");
    assert_string_equal(ca, "/certs/ca.pem");
    mesh_free(cert);
    mesh_free(key);
    mesh_free(ca);
}

/* Regression (drift removed): the examples derived <dir>/cert.pem without a service name. */
static void test_certs_dir_needs_a_service_name_for_cert_and_key(void **state)
{
    char *cert = NULL, *ca = NULL;
    const char *bad[] = {NULL, "", "a/b", "..", "."};
    (void)state;

    setenv("MESH_CERTS_DIR", "/certs", 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mesh_env_identity(bad[i], &cert, NULL, NULL), MESH_ERR_CONFIG);
        assert_non_null(strstr(mesh_err_detail(), "service name"));
        assert_null(cert);
    }
    /* The CA alone needs no service (service-token mode, verifiers). */
    assert_int_equal(mesh_env_identity(NULL, NULL, NULL, &ca), MESH_OK);
    assert_string_equal(ca, "/certs/ca.pem");
    mesh_free(ca);
    /* Explicit variables need no service either. */
    setenv("TLS_CERT_PATH", "/x/cert.pem", 1);
    assert_int_equal(mesh_env_identity(NULL, &cert, NULL, NULL), MESH_OK);
    assert_string_equal(cert, "/x/cert.pem");
    mesh_free(cert);
}

static void test_overlong_derived_path_is_config_error(void **state)
{
    static char dir[PATH_MAX + 16];
    char *ca = NULL;
    (void)state;

    memset(dir, 'd', sizeof(dir) - 1);
    dir[0] = '/';
    setenv("MESH_CERTS_DIR", dir, 1);
    assert_int_equal(mesh_env_identity("svc-a", NULL, NULL, &ca), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "TLS_CA_PATH"));
    assert_null(ca);
}

static void test_all_outputs_optional(void **state)
{
    (void)state;
    assert_int_equal(mesh_env_identity(NULL, NULL, NULL, NULL), MESH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_nothing_set_names_the_variable, per_test),
        cmocka_unit_test_setup(test_certs_dir_derives_the_three, per_test),
        cmocka_unit_test_setup(test_explicit_variables_win, per_test),
        cmocka_unit_test_setup(test_certs_dir_needs_a_service_name_for_cert_and_key, per_test),
        cmocka_unit_test_setup(test_overlong_derived_path_is_config_error, per_test),
        cmocka_unit_test_setup(test_all_outputs_optional, per_test),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
