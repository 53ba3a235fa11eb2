/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One verifier for several audiences (issue 11, "Trusted issuers"): a space-separated audience
 * list in the JWT verify options, the verifier options and MESH_AUDIENCE; a token is accepted
 * when its aud names one of them; mesh_identity_audience() is the first configured one it names
 * and mesh_identity_has_audience() lets each route check its own. Real keys, real signatures,
 * a JWKS file (no network).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "test-tmp.h"

#define ISS "https://issuer.test"

static mesh_key_t *key;
static char dir[512], jwks_path[600];

static int group_setup(void **state)
{
    mesh_jwks_t *set = NULL;
    char *json = NULL;
    (void)state;

    assert_non_null(test_tmp_template(dir, sizeof(dir), "test-audiences"));
    assert_non_null(mkdtemp(dir));
    snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", dir);
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &key), MESH_OK);
    assert_int_equal(mesh_jwks_from_keys(&key, 1, &set), MESH_OK);
    assert_int_equal(mesh_jwks_to_json(set, &json), MESH_OK);
    assert_int_equal(mesh_file_write_atomic(jwks_path, json, strlen(json), 0644, true), MESH_OK);
    mesh_free(json);
    mesh_jwks_free(set);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(jwks_path);
    rmdir(dir);
    mesh_key_free(key);
    return 0;
}

/* A token whose aud member is the JSON text `aud_json` (a string or an array). */
static char *token_aud(const char *aud_json)
{
    char payload[1024], *tok = NULL;
    long long now = (long long)time(NULL);
    int n = snprintf(payload, sizeof(payload),
                     "{\"iss\":\"" ISS "\",\"sub\":\"spiffe://mesh.local/caller\",\"aud\":%s,"
                     "\"iat\":%lld,\"exp\":%lld,\"jti\":\"j-%s\",\"scope\":\"read\"}",
                     aud_json, now, now + 300, aud_json[0] == '[' ? "array" : "string");

    assert_true(n > 0 && (size_t)n < sizeof(payload));
    assert_int_equal(mesh_jws_sign(key, "at+jwt", payload, (size_t)n, &tok), MESH_OK);
    return tok;
}

static mesh_jwt_verify_opts_t *jwt_opts(const char *audiences)
{
    mesh_jwt_verify_opts_t *o = NULL;

    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, audiences), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "when-presented"), MESH_OK);
    return o;
}

static mesh_err_t jwt_check(const char *audiences, const char *aud_json, mesh_identity_t **id)
{
    mesh_jwt_verify_opts_t *o = jwt_opts(audiences);
    mesh_jwks_t *set = NULL;
    char *tok = token_aud(aud_json);
    mesh_err_t rc;

    assert_int_equal(mesh_jwks_from_keys(&key, 1, &set), MESH_OK);
    rc = mesh_jwt_verify(set, tok, strlen(tok), o, id);
    mesh_jwks_free(set);
    mesh_free(tok);
    mesh_jwt_verify_opts_free(o);
    return rc;
}

static void test_string_aud_one_of_the_list(void **state)
{
    mesh_identity_t *id = NULL;
    (void)state;

    assert_int_equal(jwt_check("asset-service jobs-service", "\"jobs-service\"", &id), MESH_OK);
    assert_string_equal(mesh_identity_audience(id), "jobs-service");
    assert_true(mesh_identity_has_audience(id, "jobs-service"));
    assert_false(mesh_identity_has_audience(id, "asset-service"));
    assert_false(mesh_identity_has_audience(id, "jobs"));
    assert_false(mesh_identity_has_audience(id, "jobs-service "));
    mesh_identity_free(id);
    /* one word behaves as before */
    id = NULL;
    assert_int_equal(jwt_check("asset-service", "\"asset-service\"", &id), MESH_OK);
    assert_string_equal(mesh_identity_audience(id), "asset-service");
    assert_true(mesh_identity_has_audience(id, "asset-service"));
    mesh_identity_free(id);
}

static void test_array_aud_first_configured_wins(void **state)
{
    mesh_identity_t *id = NULL;
    (void)state;

    /* the token lists jobs-service first; the verifier lists asset-service first */
    assert_int_equal(jwt_check("asset-service jobs-service",
                               "[\"other\",\"jobs-service\",\"asset-service\"]", &id),
                     MESH_OK);
    assert_string_equal(mesh_identity_audience(id), "asset-service");
    assert_true(mesh_identity_has_audience(id, "asset-service"));
    assert_true(mesh_identity_has_audience(id, "jobs-service"));
    assert_true(mesh_identity_has_audience(id, "other")); /* what the token says */
    assert_false(mesh_identity_has_audience(id, "billing"));
    assert_false(mesh_identity_has_audience(id, ""));
    assert_false(mesh_identity_has_audience(id, NULL));
    assert_false(mesh_identity_has_audience(NULL, "asset-service"));
    mesh_identity_free(id);
}

static void test_aud_names_none_of_the_list(void **state)
{
    mesh_identity_t *id = NULL;
    (void)state;

    assert_int_equal(jwt_check("asset-service jobs-service", "\"billing\"", &id),
                     MESH_ERR_AUDIENCE);
    assert_null(id);
    assert_int_equal(jwt_check("asset-service jobs-service", "[\"billing\",\"asset\"]", &id),
                     MESH_ERR_AUDIENCE);
    assert_non_null(strstr(mesh_err_detail(), "asset-service jobs-service"));
    /* a prefix or a joined pair is not a match */
    assert_int_equal(jwt_check("asset-service jobs-service", "\"asset-service jobs-service\"", &id),
                     MESH_ERR_AUDIENCE);
    assert_int_equal(jwt_check("asset-service", "[1,\"asset-service\"]", &id), MESH_ERR_CLAIM_TYPE);
    assert_null(id);
}

static void test_audience_list_limits(void **state)
{
    char list[MESH_MAX_VERIFIER_AUDIENCES * 8 + 16];
    size_t pos = 0;
    mesh_jwt_verify_opts_t *jo = jwt_opts("keep");
    mesh_verifier_opts_t *vo = NULL;
    mesh_identity_t *id = NULL;
    (void)state;

    for (int i = 0; i < MESH_MAX_VERIFIER_AUDIENCES; i++) {
        pos += (size_t)snprintf(list + pos, sizeof(list) - pos, "%sa%d", i ? " " : "", i);
    }
    assert_int_equal(mesh_verifier_opts_new(&vo), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(vo, list), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(jo, list), MESH_OK);
    snprintf(list + pos, sizeof(list) - pos, " one-too-many");
    assert_int_equal(mesh_verifier_opts_set_audience(vo, list), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "more than"));
    assert_int_equal(mesh_jwt_verify_opts_set_audience(jo, list), MESH_ERR_INVALID_ARG);
    const char *bad[] = {"", "   ", "a\tb", "a\nb", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mesh_verifier_opts_set_audience(vo, bad[i]), MESH_ERR_INVALID_ARG);
        assert_non_null(strstr(mesh_err_detail(), "audience"));
        assert_int_equal(mesh_jwt_verify_opts_set_audience(jo, bad[i]), MESH_ERR_INVALID_ARG);
    }
    assert_int_equal(mesh_verifier_opts_set_audience(vo, NULL), MESH_ERR_INVALID_ARG);
    /* spaces around and between words are separators */
    assert_int_equal(mesh_jwt_verify_opts_set_audience(jo, "  x   asset-service "), MESH_OK);
    mesh_jwt_verify_opts_free(jo);
    mesh_verifier_opts_free(vo);
    assert_int_equal(jwt_check("  x   asset-service ", "\"asset-service\"", &id), MESH_OK);
    assert_string_equal(mesh_identity_audience(id), "asset-service");
    mesh_identity_free(id);
}

static mesh_verifier_t *file_verifier(const char *audiences)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, audiences), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, jwks_path), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_binding(o, "when-presented"), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    return v;
}

static mesh_err_t verify(mesh_verifier_t *v, const char *tok, mesh_identity_t **id)
{
    char h[MESH_MAX_TOKEN_BYTES + 16];

    snprintf(h, sizeof(h), "Bearer %s", tok);
    return mesh_verify(v, h, NULL, 0, NULL, id);
}

static void test_verifier_several_audiences_fresh_and_cached(void **state)
{
    mesh_verifier_t *v = file_verifier("asset-service jobs-service");
    mesh_verifier_t *one = file_verifier("asset-service");
    char *jobs = token_aud("\"jobs-service\""), *billing = token_aud("\"billing\"");
    mesh_identity_t *id = NULL;
    (void)state;

    for (int round = 0; round < 2; round++) { /* fresh, then from the verified-token cache */
        assert_int_equal(verify(v, jobs, &id), MESH_OK);
        assert_string_equal(mesh_identity_audience(id), "jobs-service");
        assert_true(mesh_identity_has_audience(id, "jobs-service"));
        assert_false(mesh_identity_has_audience(id, "asset-service"));
        mesh_identity_free(id);
        id = NULL;
        assert_int_equal(verify(v, billing, &id), MESH_ERR_AUDIENCE);
        assert_null(id);
        /* the cache is the verifier's: another verifier's list is judged on its own */
        assert_int_equal(verify(one, jobs, NULL), MESH_ERR_AUDIENCE);
    }
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_CACHE_HITS), 1);
    assert_int_equal(mesh_verifier_stat(one, MESH_VSTAT_CACHE_HITS), 0);
    mesh_free(jobs);
    mesh_free(billing);
    mesh_verifier_free(v);
    mesh_verifier_free(one);
}

static void test_env_audience_list(void **state)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;
    char *tok = token_aud("\"jobs-service\"");
    mesh_identity_t *id = NULL;
    (void)state;

    setenv("MESH_ISSUER_URL", ISS, 1);
    setenv("MESH_JWKS_FILE", jwks_path, 1);
    setenv("TLS_CA_PATH", jwks_path, 1); /* named only: a JWKS file needs no HTTPS fetch */
    setenv("MESH_BINDING", "when-presented", 1);
    setenv("MESH_AUDIENCE", "asset-service\tjobs-service", 1);
    assert_int_equal(mesh_verifier_opts_from_env("gateway", &o), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "MESH_AUDIENCE"));
    setenv("MESH_AUDIENCE", "asset-service jobs-service", 1);
    assert_int_equal(mesh_verifier_opts_from_env("gateway", &o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    assert_int_equal(verify(v, tok, &id), MESH_OK);
    assert_string_equal(mesh_identity_audience(id), "jobs-service");
    mesh_identity_free(id);
    mesh_verifier_free(v);
    mesh_verifier_opts_free(o);
    mesh_free(tok);
    unsetenv("MESH_AUDIENCE");
    unsetenv("MESH_BINDING");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_aud_one_of_the_list),
        cmocka_unit_test(test_array_aud_first_configured_wins),
        cmocka_unit_test(test_aud_names_none_of_the_list),
        cmocka_unit_test(test_audience_list_limits),
        cmocka_unit_test(test_verifier_several_audiences_fresh_and_cached),
        cmocka_unit_test(test_env_audience_list),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
