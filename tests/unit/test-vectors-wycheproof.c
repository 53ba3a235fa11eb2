/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wycheproof (C2SP/wycheproof, testvectors_v1) against libmesh: the four signature primitives
 * through mesh_sig_verify, whole compact JWS strings through mesh_jws_verify, and JWS + JWK Set
 * through mesh_jwks_parse + mesh_jws_verify_jwks. Every "valid" must verify, every "invalid"
 * must be rejected; "acceptable" is logged. Algorithms libmesh does not implement (HS*, RS384,
 * PS384/512, ES384/512...) are counted as skipped, never as passed. Per-file counts are printed.
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
#include "jws_internal.h"
#include "vectors-util.h"

#define WP "wycheproof/"

/*
 * Upstream label quirks (wycheproof/SOURCE.md and vectors/README.md). These tcIds are run, their
 * outcome is printed, but their label is not asserted.
 */
static const struct {
    int tc_id;
    const char *why;
} jws_label_exceptions[] = {
    /* byte-identical to the valid tcId 357 (ValidMac) yet labelled invalid */
    {367, "same jws, group and key as valid tcId 357"},
    {370, "same jws, group and key as valid tcId 357"},
    /* a '?' inside a base64url part, labelled valid: strict RFC 7515 parsing rejects it */
    {372, "'?' in base64url header labelled valid"},
    {373, "'?' in base64url payload labelled valid"},
    /* JWK alg (PS256 / ES521) contradicts the JWS alg (PS384 / ES512) */
    {346, "JWK alg PS256 but JWS uses PS384"},
    {347, "JWK alg PS256 but JWS uses PS384"},
    {350, "JWK alg ES521 but JWS uses ES512"},
    {351, "JWK alg ES521 but JWS uses ES512"},
};

static const char *label_exception(int tc_id)
{
    for (size_t i = 0; i < sizeof(jws_label_exceptions) / sizeof(jws_label_exceptions[0]); i++) {
        if (jws_label_exceptions[i].tc_id == tc_id) {
            return jws_label_exceptions[i].why;
        }
    }
    return NULL;
}

/* ---- primitives -------------------------------------------------------------------------- */

/* A JWK for an ECDSA group that has none: x and y from wx/wy, normalised to 32 bytes. */
static char *ec_jwk_from_hex(json_t *pub)
{
    const char *hx = json_string_value(json_object_get(pub, "wx"));
    const char *hy = json_string_value(json_object_get(pub, "wy"));
    uint8_t x[32] = {0}, y[32] = {0};
    char bx[64], by[64];
    char *out = malloc(256);
    size_t lx = 0, ly = 0;
    unsigned char *rx = hex_decode(hx, &lx), *ry = hex_decode(hy, &ly);
    unsigned char *px = rx, *py = ry;

    while (lx > 32 && *px == 0) {
        px++, lx--;
    }
    while (ly > 32 && *py == 0) {
        py++, ly--;
    }
    assert_true(lx <= 32 && ly <= 32);
    memcpy(x + 32 - lx, px, lx);
    memcpy(y + 32 - ly, py, ly);
    mesh_b64url_encode(x, 32, bx);
    mesh_b64url_encode(y, 32, by);
    snprintf(out, 256, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", bx, by);
    free(rx);
    free(ry);
    return out;
}

static mesh_key_t *group_jwk_key(json_t *g, const char *field, mesh_alg_t alg)
{
    json_t *jwk = json_object_get(g, field);
    mesh_key_t *key = NULL;
    char *s;

    if (jwk != NULL) {
        s = json_dumps(jwk, JSON_COMPACT);
    } else if (alg == MESH_ALG_ES256) {
        s = ec_jwk_from_hex(json_object_get(g, "publicKey"));
    } else {
        return NULL;
    }
    if (mesh_key_from_jwk(s, strlen(s), alg, &key) != MESH_OK) {
        printf("  group JWK did not load: %s\n", mesh_err_detail());
        key = NULL;
    }
    free(s);
    return key;
}

/*
 * One primitive file: the group key is loaded twice, from publicKeyPem and from the JWK, and
 * both must give the same answer for every test.
 */
static void run_primitive(const char *file, mesh_alg_t alg, const char *jwk_field)
{
    json_t *root = vectors_load(file);
    vcount_t c = {.file = file};
    size_t gi, ti;
    json_t *g, *t;

    assert_non_null(root);
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        const char *pem = json_string_value(json_object_get(g, "publicKeyPem"));
        mesh_key_t *kp = NULL;
        mesh_key_t *kj = group_jwk_key(g, jwk_field, alg);

        if (alg == MESH_ALG_PS256) {
            /* the file is PS256 only; make sure no group says otherwise */
            assert_int_equal(json_integer_value(json_object_get(g, "sLen")), 32);
            assert_string_equal(json_string_value(json_object_get(g, "mgfSha")), "SHA-256");
        }
        if (mesh_key_from_pem(pem, strlen(pem), alg, &kp) != MESH_OK) {
            printf("  FAIL %s group %zu: PEM key did not load: %s\n", file, gi, mesh_err_detail());
            c.failed += (unsigned)json_array_size(json_object_get(g, "tests"));
            mesh_key_free(kj);
            continue;
        }
        if (kj == NULL) {
            printf("  FAIL %s group %zu: JWK key did not load\n", file, gi);
            c.failed++;
        }
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t ml = 0, sl = 0;
            unsigned char *msg = hex_decode(json_string_value(json_object_get(t, "msg")), &ml);
            unsigned char *sig = hex_decode(json_string_value(json_object_get(t, "sig")), &sl);
            int id = (int)json_integer_value(json_object_get(t, "tcId"));
            int ok = mesh_sig_verify(kp, msg, ml, sig, sl) == MESH_OK;

            if (kj != NULL && (mesh_sig_verify(kj, msg, ml, sig, sl) == MESH_OK) != ok) {
                printf("  FAIL %s tcId %d: PEM and JWK keys disagree\n", file, id);
                c.failed++;
            }
            vcount_check(&c, id, json_string_value(json_object_get(t, "result")), ok,
                         mesh_err_detail());
            free(msg);
            free(sig);
        }
        mesh_key_free(kp);
        mesh_key_free(kj);
    }
    vcount_print(&c);
    json_decref(root);
    assert_int_equal(c.failed, 0);
    assert_true(c.passed > 0);
}

static void test_rsa_pkcs1_sha256(void **state)
{
    (void)state;
    run_primitive(WP "rsa_signature_2048_sha256_test.json", MESH_ALG_RS256, "keyJwk");
}

static void test_rsa_pss_sha256(void **state)
{
    (void)state;
    run_primitive(WP "rsa_pss_2048_sha256_mgf1_32_test.json", MESH_ALG_PS256, "publicKeyJwk");
}

static void test_ecdsa_p256_p1363(void **state)
{
    (void)state;
    run_primitive(WP "ecdsa_secp256r1_sha256_p1363_test.json", MESH_ALG_ES256, "publicKeyJwk");
}

static void test_ed25519(void **state)
{
    (void)state;
    run_primitive(WP "ed25519_test.json", MESH_ALG_EDDSA, "publicKeyJwk");
}

/* ---- whole JWS strings ------------------------------------------------------------------- */

/* The header's alg when the token decodes, else "" (then the verifier decides). */
static void header_alg(const char *jws, char *alg, size_t cap)
{
    char *h = NULL, *p = NULL;
    json_t *root;

    alg[0] = '\0';
    if (mesh_jws_decode_unverified(jws, strlen(jws), &h, &p) == MESH_OK) {
        root = json_loads(h, 0, NULL);
        if (json_is_string(json_object_get(root, "alg"))) {
            snprintf(alg, cap, "%s", json_string_value(json_object_get(root, "alg")));
        }
        json_decref(root);
    }
    mesh_free(h);
    mesh_free(p);
}

static bool alg_supported(const char *alg)
{
    return mesh_alg_from_name(alg, strlen(alg)) != MESH_ALG_UNSET;
}

static bool alg_known_unsupported(const char *alg)
{
    static const char *const others[] = {"HS256", "HS384", "HS512", "RS384", "RS512",
                                         "PS384", "PS512", "ES384", "ES512", "ES256K"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        if (strcmp(alg, others[i]) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Common to the two JWS files: decides skip/exception, runs `verify`, checks the label. A test
 * whose alg libmesh does not implement is skipped, but libmesh must still reject it.
 */
static void jws_case(vcount_t *c, json_t *t, mesh_err_t (*verify)(void *, const char *), void *ctx)
{
    int id = (int)json_integer_value(json_object_get(t, "tcId"));
    const char *result = json_string_value(json_object_get(t, "result"));
    json_t *jv = json_object_get(t, "jws");
    char *jws = json_is_string(jv) ? strdup(json_string_value(jv)) : json_dumps(jv, JSON_COMPACT);
    const char *why = label_exception(id);
    char alg[32];
    mesh_err_t rc;

    header_alg(jws, alg, sizeof(alg));
    rc = verify(ctx, jws);
    if (why != NULL && strstr(c->file, "json_web_signature") != NULL) {
        c->exceptions++;
        printf("  %s tcId %d: label exception (%s): labelled %s, libmesh %s\n", c->file, id, why,
               result, rc == MESH_OK ? "accepts" : "rejects");
    } else if (alg_known_unsupported(alg)) {
        c->skipped++;
        if (rc == MESH_OK) {
            c->failed++;
            printf("  FAIL %s tcId %d: unsupported alg %s accepted\n", c->file, id, alg);
        }
    } else {
        vcount_check(c, id, result, rc == MESH_OK, mesh_err_name(rc));
    }
    free(jws);
}

static mesh_err_t verify_with_key(void *ctx, const char *jws)
{
    uint8_t payload[MESH_MAX_TOKEN_BYTES];
    size_t n = 0;

    if (ctx == NULL || jws == NULL) {
        return MESH_ERR_KEY_UNSUPPORTED; /* the group's key was refused */
    }
    return mesh_jws_verify(ctx, jws, strlen(jws), payload, sizeof(payload), &n);
}

static void test_json_web_signature(void **state)
{
    const char *file = WP "json_web_signature_test.json";
    json_t *root = vectors_load(file);
    vcount_t c = {.file = file};
    size_t gi, ti;
    json_t *g, *t;

    (void)state;
    assert_non_null(root);
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        json_t *jwk = json_object_get(g, "public");
        mesh_key_t *key = NULL;
        char *s;
        const char *jalg;
        bool unsupported;

        if (jwk == NULL) {
            jwk = json_object_get(g, "private");
        }
        jalg = json_string_value(json_object_get(jwk, "alg"));
        s = json_dumps(jwk, JSON_COMPACT);
        /* oct (HMAC) keys and RS384/PS512/ES521... keys: libmesh does not implement them */
        unsupported = strcmp(json_string_value(json_object_get(jwk, "kty")), "oct") == 0 ||
                      (jalg != NULL && !alg_supported(jalg));
        if (mesh_key_from_jwk(s, strlen(s), MESH_ALG_UNSET, &key) != MESH_OK) {
            printf("  %s group \"%s\": key (alg %s) refused: %s\n", file,
                   json_string_value(json_object_get(g, "comment")), jalg ? jalg : "absent",
                   mesh_err_detail());
            key = NULL;
        }
        free(s);
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            int id = (int)json_integer_value(json_object_get(t, "tcId"));
            if (unsupported && label_exception(id) == NULL) {
                /* still run: whatever the label, libmesh must not accept it */
                if (verify_with_key(key, json_string_value(json_object_get(t, "jws"))) == MESH_OK) {
                    printf("  FAIL %s tcId %d: unsupported key accepted\n", file, id);
                    c.failed++;
                }
                c.skipped++;
                continue;
            }
            /* a usable alg with a key refused (use "enc", key_ops): the label decides */
            jws_case(&c, t, verify_with_key, key);
        }
        mesh_key_free(key);
    }
    vcount_print(&c);
    json_decref(root);
    assert_int_equal(c.failed, 0);
    assert_true(c.passed > 0);
}

static mesh_err_t verify_with_set(void *ctx, const char *jws)
{
    uint8_t payload[MESH_MAX_TOKEN_BYTES];
    size_t n = 0;
    const char *set_json = ctx;
    mesh_jwks_t *set = NULL;
    mesh_err_t rc = mesh_jwks_parse(set_json, strlen(set_json), &set);

    if (rc != MESH_OK) {
        return rc;
    }
    rc = mesh_jws_verify_jwks(set, jws, strlen(jws), payload, sizeof(payload), &n, NULL);
    mesh_jwks_free(set);
    return rc;
}

static void test_json_web_key(void **state)
{
    const char *file = WP "json_web_key_test.json";
    json_t *root = vectors_load(file);
    vcount_t c = {.file = file};
    size_t gi, ti;
    json_t *g, *t;

    (void)state;
    assert_non_null(root);
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        json_t *set = json_object_get(g, "public");
        char *s;

        if (set == NULL) {
            set = json_object_get(g, "private");
        }
        s = json_dumps(set, JSON_COMPACT);
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            jws_case(&c, t, verify_with_set, s);
        }
        free(s);
    }
    vcount_print(&c);
    json_decref(root);
    assert_int_equal(c.failed, 0);
    assert_true(c.passed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_pkcs1_sha256),   cmocka_unit_test(test_rsa_pss_sha256),
        cmocka_unit_test(test_ecdsa_p256_p1363),   cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_json_web_signature), cmocka_unit_test(test_json_web_key),
    };

    vectors_require(WP "rsa_signature_2048_sha256_test.json");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
