/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Public vectors at the key layer: RFC 7638 / RFC 8037 thumbprints (canonical JSON and hash),
 * and Wycheproof json_web_key_test.json key sets through mesh_jwks_parse. Signature checks of
 * the same vectors live in test-vectors-wycheproof.c (jws.c); here we check what the key layer
 * alone must decide: which sets are refused and which keys are usable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <mesh/jwks.h>

#include "b64url.h"
#include "key_internal.h"
#include "vectors-util.h"

#define RFC_FILE "rfc/jose-rfc-vectors.json"
#define JWK_FILE "wycheproof/json_web_key_test.json"

static void test_rfc_thumbprints(void **state)
{
    json_t *root = vectors_load(RFC_FILE);
    json_t *v;
    size_t i;

    (void)state;
    assert_non_null(root);
    json_array_foreach(json_object_get(root, "jwk_thumbprints"), i, v)
    {
        const json_t *jwk = json_object_get(v, "jwk");
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        char *text = json_dumps(jwk, JSON_COMPACT);
        mesh_key_t *key = NULL;
        json_t *members = NULL;
        char *canon;

        assert_int_equal(mesh_key_from_jwk(text, strlen(text), MESH_ALG_UNSET, &key), MESH_OK);
        /* RFC 7638 §3.3: the exact hash input, then its SHA-256 */
        assert_int_equal(mesh_key_public_members(mesh_key_evp(key), &members), MESH_OK);
        canon = json_dumps(members, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(canon, json_string_value(json_object_get(v, "canonical_json")));
        assert_string_equal(mesh_key_thumbprint(key),
                            json_string_value(json_object_get(v, "expected_thumbprint_b64url")));
        assert_string_equal(mesh_key_kid(key), kid != NULL ? kid : mesh_key_thumbprint(key));
        printf("%s: thumbprint %s ok\n", json_string_value(json_object_get(v, "id")),
               mesh_key_thumbprint(key));
        free(canon);
        free(text);
        json_decref(members);
        mesh_key_free(key);
    }
    json_decref(root);
}

/* The protected header's kid and alg of a compact JWS (empty strings when unreadable). */
static void jws_header(const char *jws, char *kid, char *alg, size_t cap)
{
    const char *dot = strchr(jws, '.');
    uint8_t buf[1024];
    size_t n = 0;
    json_t *h;

    kid[0] = alg[0] = '\0';
    if (dot == NULL || mesh_b64url_decode(jws, (size_t)(dot - jws), buf, sizeof(buf), &n) != 0) {
        return;
    }
    h = json_loadb((const char *)buf, n, 0, NULL);
    if (json_is_string(json_object_get(h, "kid"))) {
        snprintf(kid, cap, "%s", json_string_value(json_object_get(h, "kid")));
    }
    if (json_is_string(json_object_get(h, "alg"))) {
        snprintf(alg, cap, "%s", json_string_value(json_object_get(h, "alg")));
    }
    json_decref(h);
}

/* What the key layer makes of a test's key set: the parse result and a usable key. */
typedef struct {
    mesh_err_t rc;
    bool usable; /* a key with the JWS's kid exists and its alg is the JWS's alg */
} set_outcome_t;

static set_outcome_t jwk_set_outcome(const json_t *group, const json_t *test)
{
    const json_t *keys = json_object_get(group, "public");
    char *text = json_dumps(keys != NULL ? keys : json_object_get(group, "private"), JSON_COMPACT);
    char kid[256], alg[64];
    mesh_jwks_t *set = NULL;
    set_outcome_t o = {MESH_OK, false};
    const mesh_key_t *k;

    jws_header(json_string_value(json_object_get(test, "jws")), kid, alg, sizeof(alg));
    o.rc = mesh_jwks_parse(text, strlen(text), &set);
    k = o.rc == MESH_OK ? mesh_jwks_find(set, kid, strlen(kid)) : NULL;
    o.usable = k != NULL && strcmp(mesh_alg_name(mesh_key_alg(k)), alg) == 0;
    mesh_jwks_free(set);
    free(text);
    return o;
}

/* The exact key-layer result for every test of json_web_key_test.json. */
static const struct {
    int tc;
    mesh_err_t rc;
    bool usable;
} expected[] = {
    {1, MESH_ERR_KEY_MIXED, false},   /* MixedKeySet: HMAC secret next to an EC key */
    {2, MESH_OK, false},              /* valid HS256: HMAC is not supported (skipped) */
    {3, MESH_OK, false},              /* modified HS256 signature */
    {4, MESH_OK, false},              /* duplicate kid among oct keys, all skipped */
    {5, MESH_OK, true},               /* valid RS256 */
    {6, MESH_OK, false},              /* "use":"enc" skipped */
    {7, MESH_ERR_KEY_WEAK, false},    /* ROCA modulus */
    {8, MESH_ERR_KEY_WEAK, false},    /* 1024-bit RSA */
    {9, MESH_ERR_KEY_INVALID, false}, /* e = 1 */
    {10, MESH_OK, false},
    {11, MESH_OK, false},
    {12, MESH_OK, false}, /* short HMAC */
    {13, MESH_OK, false},
    {14, MESH_OK, false},
    {15, MESH_OK, false}, /* long HMAC */
    {16, MESH_OK, false},
    {17, MESH_OK, false},
    {18, MESH_OK, false},              /* empty HMAC */
    {19, MESH_OK, false},              /* alg ES521 on P-256: unsupported alg, skipped */
    {20, MESH_OK, false},              /* alg ES224 on P-256 */
    {21, MESH_OK, false},              /* "use":"enc" */
    {22, MESH_ERR_KEY_INVALID, false}, /* point not on the curve */
    {23, MESH_OK, false},              /* P-384: unknown curve, skipped */
    {24, MESH_ERR_KEY_PARSE, false},   /* kty RSA holding EC members */
    {25, MESH_OK, false},
    {26, MESH_OK, false}, /* AES keys (kty oct) */
};

static void test_wycheproof_jwk_sets(void **state)
{
    json_t *root = vectors_load(JWK_FILE);
    vcount_t c = {.file = JWK_FILE " (key sets)"};
    json_t *g, *t;
    size_t gi, ti, seen = 0;

    (void)state;
    assert_non_null(root);
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            int tc = (int)json_integer_value(json_object_get(t, "tcId"));
            const char *result = json_string_value(json_object_get(t, "result"));
            set_outcome_t o = jwk_set_outcome(g, t);
            bool ok = false;

            for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
                if (expected[i].tc == tc) {
                    ok = expected[i].rc == o.rc && expected[i].usable == o.usable;
                    seen++;
                }
            }
            /* Invariant: an "invalid" key set never yields a usable key (tcId 3 is a bad
             * signature over a good key, the jws test's business). */
            ok = ok && !(strcmp(result, "invalid") == 0 && tc != 3 && o.usable);
            if (!ok) {
                printf("  FAIL tcId %d (%s): rc %s usable %d\n", tc, result, mesh_err_name(o.rc),
                       o.usable);
            }
            ok ? c.passed++ : c.failed++;
        }
    }
    vcount_print(&c);
    assert_int_equal(seen, sizeof(expected) / sizeof(expected[0]));
    assert_int_equal(c.failed, 0);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_thumbprints),
        cmocka_unit_test(test_wycheproof_jwk_sets),
    };

    vectors_require(RFC_FILE);
    vectors_require(JWK_FILE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
