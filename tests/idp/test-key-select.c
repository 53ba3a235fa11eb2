/* SPDX-License-Identifier: Apache-2.0 */
/*
 * key_select.c, the JWKS parse under an algorithm list, on hostile and odd documents: it
 * refuses what mesh_jwks_parse refuses (malformed keys, mixed secrets, duplicate kids, too
 * many keys, oversized documents), skips what it cannot use, and says why per kid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "idp-test-util.h"
#include "key_select.h"

#define RS MESH_ALG_BIT(MESH_ALG_RS256)
#define PS MESH_ALG_BIT(MESH_ALG_PS256)
#define ES MESH_ALG_BIT(MESH_ALG_ES256)
#define ED MESH_ALG_BIT(MESH_ALG_EDDSA)

static mesh_key_t *rsa, *ec, *ed;

static int group_setup(void **state)
{
    (void)state;
    assert_int_equal(mesh_key_generate(MESH_KEY_RSA2048, &rsa), MESH_OK);
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &ec), MESH_OK);
    assert_int_equal(mesh_key_generate(MESH_KEY_ED25519, &ed), MESH_OK);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mesh_key_free(rsa);
    mesh_key_free(ec);
    mesh_key_free(ed);
    return 0;
}

static mesh_err_t parse(const char *doc, unsigned mask, mesh_jwks_t **out, mesh_jwks_skipped_t *sk)
{
    return mesh_jwks_parse_allowed(doc, strlen(doc), mask, "test JWKS", out, sk);
}

/* {"keys":[<jwk of k with member `extra` added, or alg dropped>]} into a static buffer. */
static const char *doc1(const mesh_key_t *k, int drop_alg, const char *extra)
{
    static char buf[16384];
    char *jwk = it_jwk(k, drop_alg);

    /* jwk is {...}: insert `extra` after the opening brace */
    snprintf(buf, sizeof(buf), "{\"keys\":[{%s%s]}", extra, jwk + 1);
    mesh_free(jwk);
    return buf;
}

static void test_alg_names(void **state)
{
    unsigned m = 0;
    char buf[64];
    (void)state;

    assert_int_equal(mesh_algs_parse("ES256  RS256", "algs", &m), MESH_OK);
    assert_int_equal(m, RS | ES);
    mesh_algs_format(m, buf, sizeof(buf));
    assert_string_equal(buf, "RS256 ES256");
    assert_int_equal(mesh_algs_parse("rs256", "algs", &m), MESH_ERR_INVALID_ARG); /* exact */
    assert_int_equal(mesh_algs_parse("none", "algs", &m), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_algs_parse("HS256", "algs", &m), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_algs_parse("", "algs", &m), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_algs_parse(NULL, "algs", &m), MESH_ERR_INVALID_ARG);
    assert_int_equal(m, RS | ES); /* untouched on failure */
}

static void test_documents_refused_as_mesh_jwks_parse_refuses(void **state)
{
    static char big[MESH_MAX_JWKS_BYTES + 64];
    mesh_jwks_t *set = NULL;
    char *jwk = it_jwk(ec, 0);
    char doc[8192];
    (void)state;

    assert_int_equal(parse("", RS, &set, NULL), MESH_ERR_JSON);
    assert_int_equal(parse("[]", RS, &set, NULL), MESH_ERR_JSON);
    assert_int_equal(parse("{\"keys\":{}}", RS, &set, NULL), MESH_ERR_JSON);
    assert_int_equal(parse("{\"keys\":[1]}", RS, &set, NULL), MESH_ERR_KEY_PARSE);
    assert_int_equal(parse("{\"keys\":[{\"alg\":\"RS256\"}]}", RS, &set, NULL),
                     MESH_ERR_KEY_PARSE); /* no kty */
    assert_int_equal(parse("{\"keys\":[{\"kty\":7}]}", RS, &set, NULL), MESH_ERR_KEY_PARSE);
    assert_int_equal(parse(doc1(rsa, 0, "\"alg\":5,"), RS, &set, NULL), MESH_ERR_JSON_DUPLICATE);
    assert_int_equal(parse(doc1(rsa, 1, "\"alg\":5,"), RS, &set, NULL), MESH_ERR_KEY_PARSE);
    /* a malformed key is refused even when the list would leave it out */
    assert_int_equal(parse("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\","
                           "\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
                           RS, &set, NULL),
                     MESH_ERR_KEY_INVALID);
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", jwk);
    assert_int_equal(parse(doc, ES, &set, NULL), MESH_ERR_KEY_MIXED);
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", jwk, jwk);
    assert_int_equal(parse(doc, ES, &set, NULL), MESH_ERR_JWKS_DUPLICATE_KID);
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    assert_int_equal(parse(big, ES, &set, NULL), MESH_ERR_LIMIT);
    assert_null(set);
    mesh_free(jwk);
}

static void test_too_many_usable_keys(void **state)
{
    static char doc[MESH_MAX_JWKS_BYTES];
    size_t pos = 0;
    mesh_jwks_t *set = NULL;
    (void)state;

    pos += (size_t)snprintf(doc, sizeof(doc), "{\"keys\":[");
    for (int i = 0; i <= MESH_MAX_JWKS_KEYS; i++) {
        mesh_key_t *k = NULL;
        char *jwk;
        assert_int_equal(mesh_key_generate(MESH_KEY_P256, &k), MESH_OK);
        jwk = it_jwk(k, 1);
        pos += (size_t)snprintf(doc + pos, sizeof(doc) - pos, "%s%s", i ? "," : "", jwk);
        mesh_free(jwk);
        mesh_key_free(k);
    }
    snprintf(doc + pos, sizeof(doc) - pos, "]}");
    assert_int_equal(parse(doc, ES, &set, NULL), MESH_ERR_LIMIT);
    /* the same keys under a list without ES256: all skipped, none kept, no limit hit */
    mesh_jwks_skipped_t *sk = malloc(sizeof(*sk));
    assert_non_null(sk);
    assert_int_equal(parse(doc, RS, &set, sk), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 0);
    assert_int_equal(sk->total, MESH_MAX_JWKS_KEYS + 1);
    assert_int_equal(sk->n, MESH_MAX_JWKS_KEYS); /* the notes are bounded */
    mesh_jwks_free(set);
    free(sk);
}

static void test_which_keys_are_used(void **state)
{
    mesh_jwks_skipped_t *sk = malloc(sizeof(*sk));
    mesh_jwks_t *set = NULL;
    char *j_rsa = it_jwk(rsa, 1), *j_ec = it_jwk(ec, 1), *j_ed = it_jwk(ed, 1);
    char *j_rsa_alg = it_jwk(rsa, 0);
    char doc[16384];
    (void)state;

    assert_non_null(sk);
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", j_rsa, j_ec, j_ed);
    struct {
        unsigned mask;
        size_t kept;
        mesh_alg_t rsa_alg; /* MESH_ALG_UNSET: the RSA key is left out */
    } cases[] = {
        {RS, 1, MESH_ALG_RS256},      {PS, 1, MESH_ALG_PS256},
        {RS | PS, 0, MESH_ALG_UNSET}, {RS | PS | ES | ED, 2, MESH_ALG_UNSET},
        {ES | ED, 2, MESH_ALG_UNSET}, {RS | ES | ED, 3, MESH_ALG_RS256},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(doc, cases[i].mask, &set, sk), MESH_OK);
        assert_int_equal(mesh_jwks_count(set), cases[i].kept);
        assert_int_equal(sk->total, 3 - cases[i].kept);
        const mesh_key_t *k = mesh_jwks_find(set, mesh_key_kid(rsa), strlen(mesh_key_kid(rsa)));
        assert_int_equal(k != NULL ? mesh_key_alg(k) : MESH_ALG_UNSET, cases[i].rsa_alg);
        mesh_jwks_free(set);
        set = NULL;
    }
    /* why, per kid */
    assert_int_equal(parse(doc, RS | PS, &set, sk), MESH_OK);
    assert_string_equal(sk->k[0].kid, mesh_key_kid(rsa));
    assert_non_null(strstr(sk->k[0].why, "exactly one RSA"));
    assert_non_null(strstr(sk->k[1].why, "ES256"));
    assert_non_null(strstr(sk->k[2].why, "EdDSA"));
    mesh_jwks_free(set);
    /* a JWK with alg: only that alg, and only when listed */
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", j_rsa_alg);
    assert_int_equal(parse(doc, RS | PS, &set, sk), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 1);
    mesh_jwks_free(set);
    assert_int_equal(parse(doc, PS, &set, sk), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 0);
    assert_non_null(strstr(sk->k[0].why, "RS256 is outside"));
    mesh_jwks_free(set);
    /* an alg libmesh does not implement, or one that does not fit the key: skipped */
    assert_int_equal(parse(doc1(rsa, 1, "\"alg\":\"RS384\","), RS, &set, sk), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 0);
    assert_non_null(strstr(sk->k[0].why, "not one libmesh verifies"));
    mesh_jwks_free(set);
    assert_int_equal(parse(doc1(rsa, 1, "\"alg\":\"ES256\","), ES, &set, sk), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 0);
    mesh_jwks_free(set);
    /* use "enc", an unknown kty: skipped as mesh_jwks_parse skips them */
    assert_int_equal(parse("{\"keys\":[{\"kty\":\"foo\"}]}", RS, &set, sk), MESH_OK);
    assert_int_equal(sk->total, 1);
    mesh_jwks_free(set);
    snprintf(doc, sizeof(doc), "%s", doc1(ec, 1, ""));
    char *use = strstr(doc, "\"use\":\"sig\"");
    assert_non_null(use);
    memcpy(use, "\"use\":\"enc\"", 11);
    assert_int_equal(parse(doc, ES, &set, sk), MESH_OK);
    assert_int_equal(mesh_jwks_count(set), 0);
    mesh_jwks_free(set);
    mesh_free(j_rsa);
    mesh_free(j_ec);
    mesh_free(j_ed);
    mesh_free(j_rsa_alg);
    free(sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_documents_refused_as_mesh_jwks_parse_refuses),
        cmocka_unit_test(test_too_many_usable_keys),
        cmocka_unit_test(test_which_keys_are_used),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
