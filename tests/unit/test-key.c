/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_key_t: PEM loading, checks, generation, accessors, atomic file writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <mesh/key.h>
#include <mesh/openssl.h>

#include "key_internal.h"
#include "key-test-util.h"
#include "../test-tmp.h"

static void test_alg_names(void **state)
{
    (void)state;
    assert_string_equal(mesh_alg_name(MESH_ALG_RS256), "RS256");
    assert_string_equal(mesh_alg_name(MESH_ALG_PS256), "PS256");
    assert_string_equal(mesh_alg_name(MESH_ALG_ES256), "ES256");
    assert_string_equal(mesh_alg_name(MESH_ALG_EDDSA), "EdDSA");
    assert_string_equal(mesh_alg_name(MESH_ALG_UNSET), "");
    assert_int_equal(mesh_alg_from_name("ES256", 5), MESH_ALG_ES256);
    assert_int_equal(mesh_alg_from_name("EdDSA", 5), MESH_ALG_EDDSA);
    assert_int_equal(mesh_alg_from_name("es256", 5), MESH_ALG_UNSET);  /* case-sensitive */
    assert_int_equal(mesh_alg_from_name("RS2560", 5), MESH_ALG_RS256); /* length-bounded */
    assert_int_equal(mesh_alg_from_name("none", 4), MESH_ALG_UNSET);
    assert_int_equal(mesh_alg_from_name("HS256", 5), MESH_ALG_UNSET);
    assert_int_equal(mesh_alg_from_name(NULL, 0), MESH_ALG_UNSET);
}

static void test_generate_each_type(void **state)
{
    static const struct {
        mesh_key_type_t type;
        mesh_alg_t alg;
        int bits;
    } cases[] = {
        {MESH_KEY_RSA2048, MESH_ALG_RS256, 2048},
        {MESH_KEY_RSA3072, MESH_ALG_RS256, 3072},
        {MESH_KEY_P256, MESH_ALG_ES256, 256},
        {MESH_KEY_ED25519, MESH_ALG_EDDSA, 256},
    };
    mesh_key_t *key = SENTINEL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(mesh_key_generate(cases[i].type, &key), MESH_OK);
        assert_int_equal(mesh_key_alg(key), cases[i].alg);
        assert_int_equal(mesh_key_bits(key), cases[i].bits);
        assert_true(mesh_key_is_private(key));
        assert_int_equal(strlen(mesh_key_thumbprint(key)), 43);
        assert_string_equal(mesh_key_kid(key), mesh_key_thumbprint(key));
        assert_non_null(mesh_key_evp(key));
        mesh_key_free(key);
    }
    key = SENTINEL;
    assert_int_equal(mesh_key_generate((mesh_key_type_t)99, &key), MESH_ERR_INVALID_ARG);
    assert_ptr_equal(key, SENTINEL);
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, NULL), MESH_ERR_INVALID_ARG);
}

static void test_generate_rsa_e_65537(void **state)
{
    mesh_key_t *key = NULL;
    char *jwk = NULL;

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_RSA2048, &key), MESH_OK);
    assert_int_equal(mesh_key_to_jwk(key, &jwk), MESH_OK);
    assert_non_null(strstr(jwk, "\"e\":\"AQAB\""));
    mesh_free(jwk);
    mesh_key_free(key);
}

static void test_ref_and_free(void **state)
{
    mesh_key_t *key = NULL;

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &key), MESH_OK);
    assert_ptr_equal(mesh_key_ref(key), key);
    mesh_key_free(key);
    assert_int_equal(mesh_key_alg(key), MESH_ALG_ES256); /* still alive: one ref left */
    mesh_key_free(key);
    mesh_key_free(NULL);
    assert_null(mesh_key_ref(NULL));
    assert_int_equal(mesh_key_alg(NULL), MESH_ALG_UNSET);
    assert_false(mesh_key_is_private(NULL));
    assert_string_equal(mesh_key_kid(NULL), "");
    assert_string_equal(mesh_key_thumbprint(NULL), "");
    assert_int_equal(mesh_key_bits(NULL), 0);
    assert_null(mesh_key_evp(NULL));
}

static void test_pem_each_type_and_form(void **state)
{
    static const mesh_alg_t algs[] = {MESH_ALG_RS256, MESH_ALG_ES256, MESH_ALG_EDDSA};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *pkey = i == 0   ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                         : i == 1 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                  : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        char thumb[44] = "";

        assert_non_null(pkey);
        /* Ed25519 has no traditional form: only SPKI and PKCS#8. */
        for (int form = 0; form < (i == 2 ? 2 : 3); form++) {
            char *pem = pem_of(pkey, form);
            mesh_key_t *key = NULL;

            assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &key), MESH_OK);
            assert_int_equal(mesh_key_alg(key), algs[i]);
            assert_int_equal(mesh_key_is_private(key), form != 0);
            if (form == 0) {
                memcpy(thumb, mesh_key_thumbprint(key), sizeof(thumb));
            }
            assert_string_equal(mesh_key_thumbprint(key), thumb); /* same key, same kid */
            mesh_key_free(key);
            free(pem);
        }
        EVP_PKEY_free(pkey);
    }
}

static void test_pem_rsa_pss_alg(void **state)
{
    mesh_key_t *gen = NULL;
    mesh_key_t *key = SENTINEL;
    char *pem = NULL;

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_RSA2048, &gen), MESH_OK);
    assert_int_equal(mesh_key_public_pem(gen, &pem), MESH_OK);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_PS256, &key), MESH_OK);
    assert_int_equal(mesh_key_alg(key), MESH_ALG_PS256);
    mesh_key_free(key);
    key = SENTINEL;
    /* RFC 8725 §3.1: an alg that does not fit the key type is refused. */
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_ES256, &key),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_ptr_equal(key, SENTINEL);
    mesh_free(pem);
    mesh_key_free(gen);
}

static void test_pem_rsa_1024_is_weak(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    mesh_key_t *key = SENTINEL;

    (void)state;
    for (int form = 0; form < 2; form++) {
        char *pem = pem_of(pkey, form);
        assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &key),
                         MESH_ERR_KEY_WEAK);
        assert_ptr_equal(key, SENTINEL);
        assert_non_null(strstr(mesh_err_detail(), "2048"));
        free(pem);
    }
    EVP_PKEY_free(pkey);
}

static void test_pem_unsupported_curve_and_type(void **state)
{
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    char *pem1 = pem_of(p384, 0);
    char *pem2 = pem_of(ed448, 0);
    mesh_key_t *key = SENTINEL;

    (void)state;
    assert_int_equal(mesh_key_from_pem(pem1, strlen(pem1), MESH_ALG_UNSET, &key),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(mesh_key_from_pem(pem2, strlen(pem2), MESH_ALG_UNSET, &key),
                     MESH_ERR_KEY_UNSUPPORTED);
    assert_ptr_equal(key, SENTINEL);
    free(pem1);
    free(pem2);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed448);
}

static void test_pem_garbage_and_encrypted(void **state)
{
    static const char garbage[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    mesh_key_t *key = SENTINEL;

    (void)state;
    assert_int_equal(mesh_key_from_pem(garbage, strlen(garbage), MESH_ALG_UNSET, &key),
                     MESH_ERR_KEY_PARSE);
    assert_int_equal(mesh_key_from_pem("", 0, MESH_ALG_UNSET, &key), MESH_ERR_KEY_PARSE);
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), NULL, 0, NULL,
                                                   (void *)"secret"),
                     1);
    n = BIO_get_mem_data(bio, &data);
    assert_int_equal(mesh_key_from_pem(data, (size_t)n, MESH_ALG_UNSET, &key), MESH_ERR_KEY_PARSE);
    assert_ptr_equal(key, SENTINEL);
    assert_int_equal(mesh_key_from_pem(NULL, 0, MESH_ALG_UNSET, &key), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_key_from_pem(garbage, MESH_MAX_PEM_BYTES + 1, MESH_ALG_UNSET, &key),
                     MESH_ERR_LIMIT);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
}

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    return test_tmp_template(tmpdir, sizeof(tmpdir), "mesh-test-key") && mkdtemp(tmpdir) != NULL
               ? 0
               : -1;
}

static int teardown_dir(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[512];

    (void)state;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return rmdir(tmpdir);
}

static size_t dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void test_write_pem_file(void **state)
{
    mesh_key_t *key = NULL;
    mesh_key_t *back = NULL;
    mesh_key_t *other = NULL;
    char priv[128], pub[128];
    struct stat st;
    mode_t old_umask = umask(0); /* the mode must not depend on the umask */

    (void)state;
    snprintf(priv, sizeof(priv), "%s/key.pem", tmpdir);
    snprintf(pub, sizeof(pub), "%s/key.pub", tmpdir);
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &key), MESH_OK);
    assert_int_equal(mesh_key_write_pem_file(key, priv, true, false), MESH_OK);
    assert_int_equal(stat(priv, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(mesh_key_write_pem_file(key, pub, false, false), MESH_OK);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    umask(old_umask);

    assert_int_equal(mesh_key_load_pem_file(priv, MESH_ALG_UNSET, &back), MESH_OK);
    assert_true(mesh_key_is_private(back));
    assert_string_equal(mesh_key_thumbprint(back), mesh_key_thumbprint(key));
    mesh_key_free(back);
    assert_int_equal(mesh_key_load_pem_file(pub, MESH_ALG_UNSET, &back), MESH_OK);
    assert_false(mesh_key_is_private(back));

    /* refuses to overwrite; the old file stays */
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &other), MESH_OK);
    assert_int_equal(mesh_key_write_pem_file(other, priv, true, false), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "exists"));
    mesh_key_free(back);
    assert_int_equal(mesh_key_load_pem_file(priv, MESH_ALG_UNSET, &back), MESH_OK);
    assert_string_equal(mesh_key_thumbprint(back), mesh_key_thumbprint(key));
    mesh_key_free(back);
    /* overwrite when asked */
    assert_int_equal(mesh_key_write_pem_file(other, priv, true, true), MESH_OK);
    assert_int_equal(stat(priv, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(mesh_key_load_pem_file(priv, MESH_ALG_UNSET, &back), MESH_OK);
    assert_string_equal(mesh_key_thumbprint(back), mesh_key_thumbprint(other));
    mesh_key_free(back);
    assert_int_equal(dir_entries(), 2); /* no temporary files left behind */
    mesh_key_free(other);
    mesh_key_free(key);
}

static void test_write_pem_file_failures(void **state)
{
    mesh_key_t *key = NULL;
    mesh_key_t *pubkey = NULL;
    char *pem = NULL;
    char path[128];

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_ED25519, &key), MESH_OK);
    assert_int_equal(mesh_key_public_pem(key, &pem), MESH_OK);
    assert_int_equal(mesh_key_from_pem(pem, strlen(pem), MESH_ALG_UNSET, &pubkey), MESH_OK);
    snprintf(path, sizeof(path), "%s/pub-only.pem", tmpdir);
    assert_int_equal(mesh_key_write_pem_file(pubkey, path, true, false), MESH_ERR_KEY_NOT_PRIVATE);
    assert_int_equal(mesh_key_write_pem_file(key, "/nonexistent-dir/k.pem", true, false),
                     MESH_ERR_IO);
    assert_int_equal(mesh_key_write_pem_file(NULL, path, true, false), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_key_public_pem(NULL, &pem), MESH_ERR_INVALID_ARG);
    assert_int_equal(access(path, F_OK), -1);
    mesh_free(pem);
    mesh_key_free(pubkey);
    mesh_key_free(key);
}

static void test_load_pem_file_failures(void **state)
{
    mesh_key_t *key = SENTINEL;
    char path[128];
    FILE *f;

    (void)state;
    assert_int_equal(mesh_key_load_pem_file("/nonexistent/key.pem", MESH_ALG_UNSET, &key),
                     MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "/nonexistent/key.pem"));
    snprintf(path, sizeof(path), "%s/junk.pem", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(mesh_key_load_pem_file(path, MESH_ALG_UNSET, &key), MESH_ERR_KEY_PARSE);
    assert_non_null(strstr(mesh_err_detail(), path));
    assert_int_equal(mesh_key_load_pem_file(NULL, MESH_ALG_UNSET, &key), MESH_ERR_INVALID_ARG);
    assert_ptr_equal(key, SENTINEL);
    unlink(path);
}

/* <mesh/openssl.h>: wrapping runs libmesh's checks and leaves the caller its reference;
 * mesh_key_evp borrows. */
static void test_openssl_bridge(void **state)
{
    EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    mesh_key_t *key = NULL, *none = NULL;
    mesh_key_type_t t;

    (void)state;
    assert_non_null(p256);
    assert_non_null(weak);
    assert_non_null(p384);
    assert_int_equal(mesh_key_from_evp(p256, MESH_ALG_UNSET, &key), MESH_OK);
    assert_ptr_equal(mesh_key_evp(key), p256); /* borrowed: the same object, no copy */
    assert_int_equal(mesh_key_alg(key), MESH_ALG_ES256);
    assert_true(mesh_key_is_private(key));
    assert_true(mesh_key_type_of(key, &t));
    assert_int_equal(t, MESH_KEY_P256);
    mesh_key_free(key);
    /* the caller's reference survived the key */
    assert_int_equal(EVP_PKEY_get_bits(p256), 256);
    assert_int_equal(mesh_key_from_evp(weak, MESH_ALG_UNSET, &none), MESH_ERR_KEY_WEAK);
    assert_int_equal(mesh_key_from_evp(p384, MESH_ALG_UNSET, &none), MESH_ERR_KEY_UNSUPPORTED);
    assert_int_equal(mesh_key_from_evp(p256, MESH_ALG_RS256, &none), MESH_ERR_KEY_UNSUPPORTED);
    assert_null(none);
    assert_int_equal(mesh_key_from_evp(NULL, MESH_ALG_UNSET, &none), MESH_ERR_INVALID_ARG);
    assert_null(mesh_key_evp(NULL));
    EVP_PKEY_free(p256);
    EVP_PKEY_free(weak);
    EVP_PKEY_free(p384);
}

static void test_key_type_names(void **state)
{
    static const mesh_key_type_t types[] = {MESH_KEY_RSA2048, MESH_KEY_RSA3072, MESH_KEY_P256,
                                            MESH_KEY_ED25519};
    mesh_key_type_t t = MESH_KEY_P256;

    (void)state;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        mesh_key_t *key = NULL;
        mesh_key_type_t got;

        assert_true(mesh_key_type_from_name(mesh_key_type_name(types[i]), &got));
        assert_int_equal(got, types[i]);
        assert_int_equal(mesh_key_generate(types[i], &key), MESH_OK);
        assert_true(mesh_key_type_of(key, &got));
        assert_int_equal(got, types[i]);
        mesh_key_free(key);
    }
    assert_string_equal(mesh_key_type_name(MESH_KEY_P256), "p256");
    assert_null(mesh_key_type_name((mesh_key_type_t)99));
    assert_false(mesh_key_type_from_name("dsa1024", &t));
    assert_false(mesh_key_type_from_name("P256", &t));
    assert_false(mesh_key_type_from_name(NULL, &t));
    assert_int_equal(t, MESH_KEY_P256); /* untouched */
    assert_false(mesh_key_type_of(NULL, &t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_generate_each_type),
        cmocka_unit_test(test_generate_rsa_e_65537),
        cmocka_unit_test(test_ref_and_free),
        cmocka_unit_test(test_pem_each_type_and_form),
        cmocka_unit_test(test_pem_rsa_pss_alg),
        cmocka_unit_test(test_pem_rsa_1024_is_weak),
        cmocka_unit_test(test_pem_unsupported_curve_and_type),
        cmocka_unit_test(test_pem_garbage_and_encrypted),
        cmocka_unit_test(test_write_pem_file),
        cmocka_unit_test(test_write_pem_file_failures),
        cmocka_unit_test(test_load_pem_file_failures),
        cmocka_unit_test(test_openssl_bridge),
        cmocka_unit_test(test_key_type_names),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
