/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DESIGN.md "Rules that hold across them" for tokens: sub non-empty (RFC 9068 §2.2), a cnf with
 * an unknown confirmation method refused (RFC 7800 §3), b64 refused like crit (RFC 7797) — in
 * the claim rules, the JWS layer, and through a verifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../test-tmp.h"
#include "jose-test-util.h"

#define ISS "https://issuer.mesh.local"
#define NOW 1700000000

static const uint8_t cert[] = "caller certificate DER stand-in";
static char x5t[MESH_X5T_LEN + 1];
static mesh_key_t *key;
static mesh_jwks_t *set;

static int setup(void **state)
{
    (void)state;
    if (mesh_key_generate(MESH_KEY_P256, &key) != MESH_OK ||
        mesh_x5t_s256(cert, sizeof(cert), x5t) != MESH_OK) {
        return -1;
    }
    return mesh_jwks_from_keys(&key, 1, &set) == MESH_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mesh_jwks_free(set);
    mesh_key_free(key);
    return 0;
}

/* Claims with `sub` and `extra` (",\"cnf\":{...}" or ""), valid at NOW. */
static char *claims(const char *sub, const char *extra)
{
    char *c = malloc(1024);

    assert_non_null(c);
    snprintf(c, 1024,
             "{\"iss\":\"" ISS "\",\"sub\":\"%s\",\"aud\":\"svc-b\",\"iat\":%d,\"exp\":%d,"
             "\"jti\":\"j1\"%s}",
             sub, NOW, NOW + 300, extra);
    return c;
}

static mesh_err_t validate(const char *json, bool require_cnf, bool with_cert)
{
    mesh_jwt_verify_opts_t *o = NULL;

    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, NOW + 10), MESH_OK);
    assert_int_equal(
        mesh_jwt_verify_opts_set_binding(o, require_cnf ? "required" : "when-presented"), MESH_OK);
    assert_int_equal(
        mesh_jwt_verify_opts_set_cert(o, with_cert ? cert : NULL, with_cert ? sizeof(cert) : 0),
        MESH_OK);
    mesh_err_t rc = mesh_jwt_validate_claims((const uint8_t *)json, strlen(json), NULL, o, NULL);
    mesh_jwt_verify_opts_free(o);
    return rc;
}

/* regression: cnf {"jkt":...} (DPoP) was read as "unbound" and accepted where binding is not
 * required: a token bound to a key the verifier never checks */
static void test_cnf_unknown_method_refused_even_when_binding_optional(void **state)
{
    char good[200];
    static const char *const bad[] = {
        ",\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}",
        ",\"cnf\":{\"jwk\":{\"kty\":\"oct\"}}",
        ",\"cnf\":{\"kid\":\"k\"}",
        ",\"cnf\":{}",
        NULL, /* x5t#S256 plus jkt: filled below */
    };
    char both[300];
    (void)state;

    snprintf(both, sizeof(both), ",\"cnf\":{\"x5t#S256\":\"%s\",\"jkt\":\"x\"}", x5t);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *c = claims("svc-token:ci", bad[i] != NULL ? bad[i] : both);
        for (int req = 0; req < 2; req++) {
            for (int with_cert = 0; with_cert < 2; with_cert++) {
                mesh_err_t rc = validate(c, req, with_cert);
                if (rc != MESH_ERR_CNF_UNSUPPORTED) {
                    fail_msg("%s (require %d, cert %d): got %s (%s)", c, req, with_cert,
                             mesh_err_name(rc), mesh_err_detail());
                }
            }
        }
        free(c);
    }
    assert_non_null(strstr(mesh_err_detail(), "x5t#S256"));
    /* The one method libmesh confirms still works, and unbound tokens where allowed. */
    snprintf(good, sizeof(good), ",\"cnf\":{\"x5t#S256\":\"%s\"}", x5t);
    char *c = claims("spiffe://mesh.local/svc-a", good);
    assert_int_equal(validate(c, true, true), MESH_OK);
    free(c);
    c = claims("svc-token:ci", "");
    assert_int_equal(validate(c, false, false), MESH_OK);
    free(c);
}

/* regression: "sub":"" identified nobody and was accepted */
static void test_empty_sub_refused(void **state)
{
    char *c = claims("", "");
    (void)state;

    assert_int_equal(validate(c, false, false), MESH_ERR_CLAIM_MISSING);
    assert_non_null(strstr(mesh_err_detail(), "\"sub\" is empty"));
    free(c);
    c = claims("s", "");
    assert_int_equal(validate(c, false, false), MESH_OK);
    free(c);
}

/* regression: a b64 header member (RFC 7797 unencoded payload) was ignored, not refused */
static void test_b64_header_refused(void **state)
{
    static const char *const extra[] = {",\"b64\":false", ",\"b64\":true",
                                        ",\"b64\":false,\"crit\":[\"b64\"]"};
    char *c = claims("s", "");
    mesh_jwt_verify_opts_t *o = NULL;
    uint8_t payload[1024];
    size_t plen = 0;
    (void)state;

    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, NOW + 10), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "when-presented"), MESH_OK);
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        char *h = jt_header(key, "at+jwt", extra[i]);
        char *tok = jt_token(key, h, c);
        assert_int_equal(mesh_jws_verify(key, tok, strlen(tok), payload, sizeof(payload), &plen),
                         MESH_ERR_HEADER_FORBIDDEN);
        assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, NULL),
                         MESH_ERR_HEADER_FORBIDDEN);
        if (i < 2) {
            assert_non_null(strstr(mesh_err_detail(), "\"b64\""));
        }
        free(tok);
        free(h);
    }
    /* The same token without b64 verifies. */
    char *h = jt_header(key, "at+jwt", "");
    char *tok = jt_token(key, h, c);
    assert_int_equal(mesh_jwt_verify(set, tok, strlen(tok), o, NULL), MESH_OK);
    free(tok);
    free(h);
    free(c);
    mesh_jwt_verify_opts_free(o);
}

/* The same rules through a verifier that accepts unbound tokens, with their HTTP answers. */
static void test_verifier_applies_token_rules(void **state)
{
    char dir[256], path[300], auth[2048], www[256];
    char *json = NULL;
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;
    int64_t now = time(NULL);
    FILE *f;
    struct {
        const char *sub, *hdr_extra, *claim_extra;
        mesh_err_t want;
        const char *reason;
    } cases[] = {
        {"svc-token:ci", "", ",\"cnf\":{\"jkt\":\"x\"}", MESH_ERR_CNF_UNSUPPORTED,
         "cnf_unsupported"},
        {"", "", "", MESH_ERR_CLAIM_MISSING, "claim_missing"},
        {"svc-token:ci", ",\"b64\":false", "", MESH_ERR_HEADER_FORBIDDEN, "header_forbidden"},
        {"svc-token:ci", "", "", MESH_OK, NULL},
    };
    (void)state;

    assert_non_null(test_tmp_template(dir, sizeof(dir), "mesh-rules-test"));
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/jwks.json", dir);
    assert_int_equal(mesh_jwks_to_json(set, &json), MESH_OK);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(json, f) >= 0);
    assert_int_equal(fclose(f), 0);
    mesh_free(json);
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, path), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_binding(o, "when-presented"), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char c[512];
        char *h = jt_header(key, "at+jwt", cases[i].hdr_extra);
        snprintf(c, sizeof(c),
                 "{\"iss\":\"" ISS "\",\"sub\":\"%s\",\"aud\":\"svc-b\",\"iat\":%lld,"
                 "\"exp\":%lld,\"jti\":\"j%zu\"%s}",
                 cases[i].sub, (long long)now, (long long)now + 300, i, cases[i].claim_extra);
        char *tok = jt_token(key, h, c);
        snprintf(auth, sizeof(auth), "Bearer %s", tok);
        mesh_err_t rc = mesh_verify(v, auth, NULL, 0, NULL, NULL);
        if (rc != cases[i].want) {
            fail_msg("case %zu: got %s (%s)", i, mesh_err_name(rc), mesh_err_detail());
        }
        if (cases[i].reason != NULL) {
            assert_int_equal(mesh_verify_http_status(rc, NULL, www, sizeof(www)), 401);
            assert_non_null(strstr(www, cases[i].reason));
        }
        free(tok);
        free(h);
    }
    mesh_verifier_free(v);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnf_unknown_method_refused_even_when_binding_optional),
        cmocka_unit_test(test_empty_sub_refused),
        cmocka_unit_test(test_b64_header_refused),
        cmocka_unit_test(test_verifier_applies_token_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
