/* SPDX-License-Identifier: Apache-2.0 */
/* Certificate helpers: x5t#S256, SPIFFE ID extraction, PEM certificate loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <mesh/x509.h>
#include "../test-tmp.h"

/* A self-signed Ed25519 certificate; `san` is a subjectAltName value or NULL. */
static X509 *make_cert(const char *san)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);

    assert_non_null(pkey);
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"svc", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, pkey), 1);
    if (san != NULL) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, pkey, NULL) > 0);
    EVP_PKEY_free(pkey);
    return x;
}

static size_t der_of(X509 *x, uint8_t **der)
{
    int n = i2d_X509(x, NULL);
    uint8_t *p;

    assert_true(n > 0);
    *der = malloc((size_t)n);
    assert_non_null(*der);
    p = *der;
    assert_int_equal(i2d_X509(x, &p), n);
    return (size_t)n;
}

static mesh_err_t spiffe_of(const char *san, char **id)
{
    X509 *x = make_cert(san);
    uint8_t *der = NULL;
    size_t len = der_of(x, &der);
    mesh_err_t rc = mesh_x509_spiffe_id(der, len, id);

    free(der);
    X509_free(x);
    return rc;
}

static void test_x5t_s256(void **state)
{
    char out[MESH_X5T_LEN + 1];

    (void)state;
    /* SHA-256("abc") (FIPS 180-2 B.1), base64url */
    assert_int_equal(mesh_x5t_s256((const uint8_t *)"abc", 3, out), MESH_OK);
    assert_string_equal(out, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    assert_int_equal(strlen(out), MESH_X5T_LEN);
    assert_int_equal(mesh_x5t_s256(NULL, 3, out), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_x5t_s256((const uint8_t *)"abc", 0, out), MESH_ERR_INVALID_ARG);
}

static void test_spiffe_id(void **state)
{
    char *id = NULL;

    (void)state;
    assert_int_equal(spiffe_of("URI:spiffe://mesh.local/orders, DNS:orders, DNS:localhost, "
                               "IP:127.0.0.1",
                               &id),
                     MESH_OK);
    assert_string_equal(id, "spiffe://mesh.local/orders");
    mesh_free(id);
    /* other URI SANs are ignored */
    assert_int_equal(spiffe_of("URI:https://example.com/x, URI:spiffe://td/ns/a/sa/b", &id),
                     MESH_OK);
    assert_string_equal(id, "spiffe://td/ns/a/sa/b");
    mesh_free(id);
}

static void test_spiffe_id_rejects(void **state)
{
    static const char *const bad[] = {
        NULL,                                                   /* no SAN extension */
        "DNS:orders",                                           /* no URI SAN */
        "URI:https://mesh.local/orders",                        /* no spiffe URI */
        "URI:spiffe://mesh.local/a, URI:spiffe://mesh.local/b", /* two */
        "URI:spiffe://",                                        /* empty trust domain */
        "URI:spiffe://Mesh.local/a",                            /* upper-case trust domain */
        "URI:spiffe://mesh.local/a/../b",                       /* dot segment */
        "URI:spiffe://mesh.local/a/",                           /* trailing slash */
        "URI:spiffe://mesh.local/a?x=1",                        /* query */
    };
    char *id = (char *)"untouched";

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(spiffe_of(bad[i], &id), MESH_ERR_CERT);
        assert_string_equal(id, "untouched");
        assert_true(mesh_err_detail()[0] != '\0');
    }
}

static void test_spiffe_id_bad_der(void **state)
{
    X509 *x = make_cert("URI:spiffe://mesh.local/a");
    uint8_t *der = NULL;
    size_t len = der_of(x, &der);
    uint8_t *longer = malloc(len + 1);
    char *id = NULL;

    (void)state;
    assert_int_equal(mesh_x509_spiffe_id((const uint8_t *)"junk", 4, &id), MESH_ERR_CERT);
    assert_int_equal(mesh_x509_spiffe_id(der, len - 1, &id), MESH_ERR_CERT);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(mesh_x509_spiffe_id(longer, len + 1, &id), MESH_ERR_CERT); /* trailing */
    assert_int_equal(mesh_x509_spiffe_id(NULL, 0, &id), MESH_ERR_INVALID_ARG);
    assert_null(id);
    free(longer);
    free(der);
    X509_free(x);
}

static void test_load_der(void **state)
{
    X509 *x = make_cert("URI:spiffe://mesh.local/a");
    X509 *second = make_cert(NULL);
    uint8_t *want = NULL;
    size_t want_len = der_of(x, &want);
    uint8_t *der = NULL;
    size_t len = 0;
    char path[512];
    int fd = test_tmp_template(path, sizeof(path), "mesh-test-x509") ? mkstemp(path) : -1;
    FILE *f = fdopen(fd, "w");

    (void)state;
    assert_non_null(f);
    /* a chain file: the first certificate is the leaf */
    assert_int_equal(PEM_write_X509(f, x), 1);
    assert_int_equal(PEM_write_X509(f, second), 1);
    fclose(f);
    assert_int_equal(mesh_x509_load_der(path, &der, &len), MESH_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(der, want, len);
    mesh_free(der);
    der = NULL;

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("no certificate here\n", f);
    fclose(f);
    assert_int_equal(mesh_x509_load_der(path, &der, &len), MESH_ERR_CERT);
    assert_non_null(strstr(mesh_err_detail(), path));
    unlink(path);
    assert_int_equal(mesh_x509_load_der(path, &der, &len), MESH_ERR_IO);
    assert_int_equal(mesh_x509_load_der(NULL, &der, &len), MESH_ERR_INVALID_ARG);
    assert_null(der);
    free(want);
    X509_free(second);
    X509_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x5t_s256),          cmocka_unit_test(test_spiffe_id),
        cmocka_unit_test(test_spiffe_id_rejects), cmocka_unit_test(test_spiffe_id_bad_der),
        cmocka_unit_test(test_load_der),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
