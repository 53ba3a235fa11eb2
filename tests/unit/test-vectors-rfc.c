/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWS examples from RFC 7515 App. A, RFC 7520 §4 and RFC 8037 App. A (rfc/jose-rfc-vectors.json)
 * verified with mesh_jws_verify and the vector's own JWK, plus the RFC 7638/8037 thumbprints.
 * HS256, PS384, ES512, JSON-serialization-only and detached-payload vectors are counted as
 * skipped (libmesh implements none of them), but every skipped compact JWS must still be
 * rejected by libmesh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "b64url.h"
#include "vectors-util.h"

#define RFC_FILE "rfc/jose-rfc-vectors.json"

static mesh_key_t *any_rsa; /* for vectors without a JWK ("none"): must still be rejected */

static int setup(void **state)
{
    (void)state;
    return mesh_key_generate(MESH_KEY_RSA2048, &any_rsa) == MESH_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mesh_key_free(any_rsa);
    return 0;
}

static mesh_key_t *load_jwk(json_t *jwk)
{
    char *s = json_dumps(jwk, JSON_COMPACT);
    mesh_key_t *key = NULL;

    if (mesh_key_from_jwk(s, strlen(s), MESH_ALG_UNSET, &key) != MESH_OK) {
        key = NULL;
    }
    free(s);
    return key;
}

static void one_jws(vcount_t *c, json_t *v)
{
    const char *id = json_string_value(json_object_get(v, "id"));
    const char *jws = json_string_value(json_object_get(v, "jws_compact"));
    const char *want = json_string_value(json_object_get(v, "expected_result"));
    const char *exp_b64 = json_string_value(json_object_get(v, "expected_payload_b64url"));
    json_t *jalg = json_object_get(v, "alg");
    const char *alg = json_is_string(jalg) ? json_string_value(jalg) : "";
    json_t *jwk = json_object_get(v, "jwk");
    bool supported = mesh_alg_from_name(alg, strlen(alg)) != MESH_ALG_UNSET;
    mesh_key_t *key = NULL;
    uint8_t payload[MESH_MAX_TOKEN_BYTES], expected[MESH_MAX_TOKEN_BYTES];
    size_t plen = 0, elen = 0;
    mesh_err_t rc;

    if (jws == NULL) {
        c->skipped++;
        printf("  %s: skipped (JSON serialization only)\n", id);
        return;
    }
    if (json_object_get(v, "detached_payload_b64url") != NULL) {
        c->skipped++;
        printf("  %s: skipped (detached payload, %s)\n", id, alg);
        return;
    }
    key = json_is_object(jwk) ? load_jwk(jwk) : NULL;
    rc = mesh_jws_verify(key != NULL ? key : any_rsa, jws, strlen(jws), payload, sizeof(payload),
                         &plen);
    if (!supported && strcmp(alg, "none") != 0) {
        c->skipped++;
        printf("  %s: skipped (%s is outside libmesh's algorithms; libmesh %s it)\n", id, alg,
               rc == MESH_OK ? "ACCEPTS" : "rejects");
        if (rc == MESH_OK) {
            c->failed++;
        }
    } else if (strcmp(want, "valid") == 0) {
        if (key == NULL || rc != MESH_OK) {
            c->failed++;
            printf("  FAIL %s: %s (%s)\n", id, mesh_err_name(rc), mesh_err_detail());
        } else if (mesh_b64url_decode(exp_b64, strlen(exp_b64), expected, sizeof(expected),
                                      &elen) != MESH_OK ||
                   elen != plen || memcmp(expected, payload, plen) != 0) {
            c->failed++;
            printf("  FAIL %s: payload differs from expected_payload_b64url\n", id);
        } else {
            c->passed++;
        }
    } else {
        vcount_check(c, 0, want, rc == MESH_OK, mesh_err_name(rc));
        printf("  %s: %s rejected with %s\n", id, alg, mesh_err_name(rc));
    }
    mesh_key_free(key);
}

static void test_rfc_jws(void **state)
{
    json_t *root = vectors_load(RFC_FILE);
    vcount_t c = {.file = RFC_FILE " (JWS)"};
    size_t i;
    json_t *v;

    (void)state;
    assert_non_null(root);
    json_array_foreach(json_object_get(root, "jws_vectors"), i, v)
    {
        one_jws(&c, v);
    }
    vcount_print(&c);
    json_decref(root);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.passed, 5); /* 7515-A.2, A.3, A.5 (none, rejected), 7520-4.1, 8037-A.4 */
}

static void test_rfc_thumbprints(void **state)
{
    json_t *root = vectors_load(RFC_FILE);
    vcount_t c = {.file = RFC_FILE " (thumbprints)"};
    size_t i;
    json_t *v;

    (void)state;
    assert_non_null(root);
    json_array_foreach(json_object_get(root, "jwk_thumbprints"), i, v)
    {
        mesh_key_t *key = load_jwk(json_object_get(v, "jwk"));
        const char *want = json_string_value(json_object_get(v, "expected_thumbprint_b64url"));

        if (key != NULL && strcmp(mesh_key_thumbprint(key), want) == 0) {
            c.passed++;
        } else {
            c.failed++;
            printf("  FAIL %s\n", json_string_value(json_object_get(v, "id")));
        }
        mesh_key_free(key);
    }
    vcount_print(&c);
    json_decref(root);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.passed, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_jws),
        cmocka_unit_test(test_rfc_thumbprints),
    };

    vectors_require(RFC_FILE);
    return cmocka_run_group_tests(tests, setup, teardown);
}
