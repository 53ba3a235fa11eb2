/* SPDX-License-Identifier: Apache-2.0 */
/* JWK Sets: parsing rules (skips, duplicates, mixing, limits), building, publishing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <mesh/jwks.h>
#include <mesh/limits.h>
#include "../test-tmp.h"

#define EC_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define EC_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define ED_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define EC_KEY(kid, extra)                                                                         \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\",\"kid\":\"" kid       \
    "\"" extra "}"
#define ED_KEY(kid, extra)                                                                         \
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"kid\":\"" kid "\"" extra "}"
#define SET(keys) "{\"keys\":[" keys "]}"
#define SENTINEL  ((mesh_jwks_t *)(uintptr_t)0x1)

static mesh_err_t parse(const char *json, size_t *count)
{
    mesh_jwks_t *set = SENTINEL;
    mesh_err_t rc = mesh_jwks_parse(json, strlen(json), &set);

    if (rc == MESH_OK) {
        *count = mesh_jwks_count(set);
        mesh_jwks_free(set);
    } else {
        assert_ptr_equal(set, SENTINEL);
        assert_true(mesh_err_detail()[0] != '\0');
    }
    return rc;
}

static void test_parse_and_find(void **state)
{
    static const char doc[] = SET(EC_KEY("ec-1", "") "," ED_KEY("ed-1", ",\"alg\":\"EdDSA\""));
    mesh_jwks_t *set = NULL;
    const mesh_key_t *k;

    (void)state;
    assert_int_equal(mesh_jwks_parse(doc, strlen(doc), &set), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 2);
    k = mesh_jwks_find(set, "ed-1", 4);
    assert_non_null(k);
    assert_int_equal(mesh_key_alg(k), MESH_ALG_EDDSA);
    assert_ptr_equal(mesh_jwks_get(set, 1), k);
    assert_int_equal(mesh_key_alg(mesh_jwks_find(set, "ec-1", 4)), MESH_ALG_ES256);
    /* RFC 7515 §4.1.4: exact match only */
    assert_null(mesh_jwks_find(set, "ec-1x", 3 + 1 + 1));
    assert_null(mesh_jwks_find(set, "ec-", 3));
    assert_null(mesh_jwks_find(set, "EC-1", 4));
    assert_null(mesh_jwks_find(set, NULL, 0));
    assert_null(mesh_jwks_get(set, 2));
    assert_ptr_equal(mesh_jwks_ref(set), set);
    mesh_jwks_free(set);
    assert_int_equal(mesh_jwks_count(set), 2);
    mesh_jwks_free(set);
    mesh_jwks_free(NULL);
    assert_null(mesh_jwks_ref(NULL));
    assert_int_equal(mesh_jwks_count(NULL), 0);
    assert_null(mesh_jwks_get(NULL, 0));
    assert_null(mesh_jwks_find(NULL, "a", 1));
}

static void test_skips_unusable_keys(void **state)
{
    size_t n = 99;

    (void)state;
    /* unknown kty, unknown crv, "use":"enc", unknown alg: skipped, not errors */
    assert_int_equal(
        parse(
            SET("{\"kty\":\"foo\",\"kid\":\"a\"}"
                "," EC_KEY("b", "") ",{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}"
                                    "," ED_KEY("c", ",\"use\":\"enc\"") "," ED_KEY(
                                        "d", ",\"alg\":\"ES512\"")),
            &n),
        MESH_OK);
    assert_int_equal(n, 1);
    /* a skipped key may share a kid with a usable one */
    assert_int_equal(parse(SET(EC_KEY("same", "") "," ED_KEY("same", ",\"use\":\"enc\"")), &n),
                     MESH_OK);
    assert_int_equal(n, 1);
    assert_int_equal(parse(SET(""), &n), MESH_OK);
    assert_int_equal(n, 0);
    /* only symmetric keys: all skipped (HMAC is not supported) */
    assert_int_equal(parse(SET("{\"kty\":\"oct\",\"k\":\"AAAA\"}"), &n), MESH_OK);
    assert_int_equal(n, 0);
}

static void test_rejects_bad_sets(void **state)
{
    size_t n;

    (void)state;
    assert_int_equal(parse(SET(EC_KEY("k", "") "," ED_KEY("k", "")), &n),
                     MESH_ERR_JWKS_DUPLICATE_KID);
    assert_int_equal(parse(SET(ED_KEY("pub", "") "," ED_KEY("priv", ",\"d\":\"" ED_D "\"")), &n),
                     MESH_ERR_KEY_MIXED);
    assert_int_equal(parse(SET(ED_KEY("priv", ",\"d\":\"" ED_D "\"") "," ED_KEY("pub", "")), &n),
                     MESH_ERR_KEY_MIXED);
    /* a symmetric secret next to public keys is mixing too */
    assert_int_equal(parse(SET("{\"kty\":\"oct\",\"k\":\"AAAA\"}"
                               "," ED_KEY("pub", "")),
                           &n),
                     MESH_ERR_KEY_MIXED);
    /* a supported key that is broken fails the whole set */
    assert_int_equal(parse(SET(ED_KEY("a", "") ",{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X
                                               "\",\"y\":\"" EC_X "\"}"),
                           &n),
                     MESH_ERR_KEY_INVALID);
    assert_int_equal(parse(SET(ED_KEY("a", "") ",{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}"), &n),
                     MESH_ERR_KEY_PARSE);
    assert_int_equal(parse(SET("7"), &n), MESH_ERR_KEY_PARSE);
    assert_int_equal(parse("{}", &n), MESH_ERR_JSON);
    assert_int_equal(parse("{\"keys\":{}}", &n), MESH_ERR_JSON);
    assert_int_equal(parse("[]", &n), MESH_ERR_JSON);
    assert_int_equal(parse("{\"keys\":[],\"keys\":[]}", &n), MESH_ERR_JSON_DUPLICATE);
    assert_int_equal(parse(SET(ED_KEY("a", ",\"kid\":\"b\"")), &n), MESH_ERR_JSON_DUPLICATE);
}

static void test_limits(void **state)
{
    char *doc = malloc(MESH_MAX_JWKS_BYTES + 1);
    size_t off = 0;
    size_t n = 0;
    mesh_jwks_t *set = SENTINEL;

    (void)state;
    assert_non_null(doc);
    /* MESH_MAX_JWKS_KEYS + 1 distinct usable keys */
    off += (size_t)snprintf(doc + off, MESH_MAX_JWKS_BYTES - off, "{\"keys\":[");
    for (int i = 0; i <= MESH_MAX_JWKS_KEYS; i++) {
        off += (size_t)snprintf(doc + off, MESH_MAX_JWKS_BYTES - off,
                                "%s{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X
                                "\",\"kid\":\"k%d\"}",
                                i ? "," : "", i);
    }
    off += (size_t)snprintf(doc + off, MESH_MAX_JWKS_BYTES - off, "]}");
    assert_true(off < MESH_MAX_JWKS_BYTES);
    assert_int_equal(parse(doc, &n), MESH_ERR_LIMIT);
    memset(doc, ' ', MESH_MAX_JWKS_BYTES + 1);
    assert_int_equal(mesh_jwks_parse(doc, MESH_MAX_JWKS_BYTES + 1, &set), MESH_ERR_LIMIT);
    assert_int_equal(mesh_jwks_parse(NULL, 0, &set), MESH_ERR_INVALID_ARG);
    assert_ptr_equal(set, SENTINEL);
    free(doc);
}

static void test_from_keys_and_to_json(void **state)
{
    mesh_key_t *keys[3] = {NULL};
    mesh_jwks_t *set = NULL;
    mesh_jwks_t *back = NULL;
    char *json = NULL;

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_RSA2048, &keys[0]), MESH_OK);
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &keys[1]), MESH_OK);
    assert_int_equal(mesh_key_generate(MESH_KEY_ED25519, &keys[2]), MESH_OK);
    assert_int_equal(mesh_jwks_from_keys(keys, 3, &set), MESH_OK);
    for (size_t i = 0; i < 3; i++) {
        mesh_key_free(keys[i]); /* the set holds its own references */
    }
    assert_int_equal(mesh_jwks_count(set), 3);
    assert_int_equal(mesh_jwks_to_json(set, &json), MESH_OK);
    assert_null(strstr(json, "\"d\"")); /* only public halves are published */
    assert_int_equal(strncmp(json, "{\"keys\":[{", 10), 0);
    assert_int_equal(mesh_jwks_parse(json, strlen(json), &back), MESH_OK);
    assert_int_equal(mesh_jwks_count(back), 3);
    for (size_t i = 0; i < 3; i++) {
        const mesh_key_t *k = mesh_jwks_get(set, i);
        const mesh_key_t *b = mesh_jwks_find(back, mesh_key_kid(k), strlen(mesh_key_kid(k)));
        assert_non_null(b);
        assert_string_equal(mesh_key_thumbprint(b), mesh_key_thumbprint(k));
        assert_int_equal(mesh_key_alg(b), mesh_key_alg(k));
        assert_false(mesh_key_is_private(b));
    }
    mesh_free(json);
    mesh_jwks_free(back);
    mesh_jwks_free(set);
}

static void test_from_keys_failures(void **state)
{
    mesh_key_t *keys[2] = {NULL};
    mesh_jwks_t *set = SENTINEL;
    char *json = NULL;

    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_ED25519, &keys[0]), MESH_OK);
    keys[1] = keys[0];
    assert_int_equal(mesh_jwks_from_keys(keys, 2, &set), MESH_ERR_JWKS_DUPLICATE_KID);
    keys[1] = NULL;
    assert_int_equal(mesh_jwks_from_keys(keys, 2, &set), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jwks_from_keys(NULL, 1, &set), MESH_ERR_INVALID_ARG);
    assert_ptr_equal(set, SENTINEL);
    assert_int_equal(mesh_jwks_from_keys(NULL, 0, &set), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 0);
    assert_int_equal(mesh_jwks_to_json(set, &json), MESH_OK);
    assert_string_equal(json, "{\"keys\":[]}");
    assert_int_equal(mesh_jwks_to_json(NULL, &json), MESH_ERR_INVALID_ARG);
    mesh_free(json);
    mesh_jwks_free(set);
    mesh_key_free(keys[0]);
}

static void test_load_file(void **state)
{
    static const char doc[] = SET(EC_KEY("ec-1", ""));
    char path[512];
    mesh_jwks_t *set = SENTINEL;
    int fd = test_tmp_template(path, sizeof(path), "mesh-test-jwks") ? mkstemp(path) : -1;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    assert_int_equal(mesh_jwks_load_file(path, &set), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 1);
    mesh_jwks_free(set);
    unlink(path);
    set = SENTINEL;
    assert_int_equal(mesh_jwks_load_file(path, &set), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), path));
    assert_int_equal(mesh_jwks_load_file(NULL, &set), MESH_ERR_INVALID_ARG);
    assert_ptr_equal(set, SENTINEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_find),
        cmocka_unit_test(test_skips_unusable_keys),
        cmocka_unit_test(test_rejects_bad_sets),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_from_keys_and_to_json),
        cmocka_unit_test(test_from_keys_failures),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
