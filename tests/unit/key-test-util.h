/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by test-key.c and test-key-jwk.c; include after <cmocka.h>. */
#ifndef KEY_TEST_UTIL_H
#define KEY_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <mesh/key.h>

#define JWK(s)   s, strlen(s)
#define SENTINEL ((mesh_key_t *)(uintptr_t)0x1)

/* Loads a JWK and frees it; on failure checks that *out was untouched and a detail was set. */
static inline mesh_err_t load_jwk(const char *json, mesh_alg_t alg)
{
    mesh_key_t *key = SENTINEL;
    mesh_err_t rc = mesh_key_from_jwk(json, strlen(json), alg, &key);

    if (rc == MESH_OK) {
        mesh_key_free(key);
    } else {
        assert_ptr_equal(key, SENTINEL); /* outputs untouched on failure */
        assert_true(mesh_err_detail()[0] != '\0');
    }
    return rc;
}

/* PEM of an OpenSSL key: SPKI for public, PKCS#8 or traditional for private. */
static inline char *pem_of(EVP_PKEY *pkey, int which)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    char *s;
    long n;

    assert_non_null(bio);
    if (which == 0) {
        assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    } else if (which == 1) {
        assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    } else {
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL),
                         1);
    }
    n = BIO_get_mem_data(bio, &data);
    s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    BIO_free(bio);
    return s;
}

#endif /* KEY_TEST_UTIL_H */
