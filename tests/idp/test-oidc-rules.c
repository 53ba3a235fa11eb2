/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier's rules for an external identity provider (profile "oidc", verifier.h) without
 * a network: typ lists, jti optional, scopes from scp, required claims, the algorithm list
 * against JWKS files with and without "alg", legacy HS256 with a configured key (tokens MACed
 * by OpenSSL's HMAC) and the alg-confusion cases, and mesh_identity_claim.
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

#include "idp-test-util.h"
#include "test-tmp.h"

#define ISS "https://idp.test/auth/v1"
#define AUD "authenticated"

static mesh_key_t *rsa, *ec, *ed;
static char dir[512], jwks_plain[600], jwks_algless[600];
static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";

static void write_file(const char *path, const char *s)
{
    assert_int_equal(mesh_file_write_atomic(path, s, strlen(s), 0644, true), MESH_OK);
}

static int group_setup(void **state)
{
    char doc[16384];
    char *j[3];
    (void)state;

    assert_non_null(test_tmp_template(dir, sizeof(dir), "test-oidc-rules"));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(mesh_key_generate(MESH_KEY_RSA2048, &rsa), MESH_OK);
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &ec), MESH_OK);
    assert_int_equal(mesh_key_generate(MESH_KEY_ED25519, &ed), MESH_OK);
    /* every key with its alg */
    snprintf(jwks_plain, sizeof(jwks_plain), "%s/plain.json", dir);
    j[0] = it_jwk(rsa, 0), j[1] = it_jwk(ec, 0), j[2] = it_jwk(ed, 0);
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", j[0], j[1], j[2]);
    write_file(jwks_plain, doc);
    for (int i = 0; i < 3; i++) {
        mesh_free(j[i]);
    }
    /* as many IdPs publish them: no "alg"; plus an "oct" key, never used */
    snprintf(jwks_algless, sizeof(jwks_algless), "%s/algless.json", dir);
    j[0] = it_jwk(rsa, 1), j[1] = it_jwk(ec, 1), j[2] = it_jwk(ed, 1);
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", j[0], j[1], j[2]);
    write_file(jwks_algless, doc);
    for (int i = 0; i < 3; i++) {
        mesh_free(j[i]);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(jwks_plain);
    unlink(jwks_algless);
    rmdir(dir);
    mesh_key_free(rsa);
    mesh_key_free(ec);
    mesh_key_free(ed);
    return 0;
}

/* Options for an external IdP with keys from `jwks` (NULL: none, for an HMAC issuer). */
static mesh_verifier_opts_t *oidc_opts(const char *jwks)
{
    mesh_verifier_opts_t *o = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, AUD), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_profile(o, "oidc"), MESH_OK);
    if (jwks != NULL) {
        assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, jwks), MESH_OK);
    }
    return o;
}

static mesh_verifier_t *make(mesh_verifier_opts_t *o)
{
    mesh_verifier_t *v = NULL;

    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    return v;
}

static char *signed_tok(const mesh_key_t *key, const char *typ, const char *claims)
{
    char *tok = NULL;

    assert_int_equal(mesh_jws_sign(key, typ, claims, strlen(claims), &tok), MESH_OK);
    return tok;
}

static mesh_err_t check(mesh_verifier_t *v, const char *tok, mesh_identity_t **id)
{
    return mesh_verify(v, it_bearer(tok), NULL, 0, NULL, id);
}

static long long now(void)
{
    return (long long)time(NULL);
}

static void test_profile_option_and_feed(void **state)
{
    mesh_verifier_opts_t *o = oidc_opts(jwks_plain);
    mesh_verifier_t *v = NULL;
    (void)state;

    assert_int_equal(mesh_verifier_opts_set_profile(o, "okta"), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "\"oidc\""));
    assert_int_equal(mesh_verifier_opts_set_profile(o, NULL), MESH_ERR_CONFIG);
    /* the feed turned on explicitly: refused, with the reason */
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, true), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "revocation feed"));
    assert_null(v);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_ERR_CONFIG);
    mesh_verifier_free(v);
    mesh_verifier_opts_free(o);
}

/* jti and client_id optional; binding when-presented, but a cnf is still checked. */
static void test_oidc_claims_relaxed_where_documented(void **state)
{
    mesh_verifier_t *v = make(oidc_opts(jwks_plain));
    char cnf[160];
    char *plain = signed_tok(rsa, "at+jwt", it_claims(ISS, AUD, now(), ""));
    char *bound;
    mesh_identity_t *id = NULL;
    (void)state;

    assert_int_equal(check(v, plain, &id), MESH_OK);
    assert_string_equal(mesh_identity_jti(id), "");
    assert_string_equal(mesh_identity_client_id(id), "");
    assert_false(mesh_identity_bound(id));
    mesh_identity_free(id);
    snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"x5t#S256\":\"%s\"}",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    bound = signed_tok(rsa, "at+jwt", it_claims(ISS, AUD, now(), cnf));
    assert_int_equal(check(v, bound, NULL), MESH_ERR_CNF_MISMATCH);
    mesh_free(bound);
    /* the same token under the mesh profile: jti is required */
    mesh_verifier_opts_t *o = oidc_opts(jwks_plain);
    assert_int_equal(mesh_verifier_opts_set_profile(o, "mesh"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_binding(o, "when-presented"), MESH_OK);
    mesh_verifier_t *m = make(o);
    assert_int_equal(check(m, plain, NULL), MESH_ERR_CLAIM_MISSING);
    assert_non_null(strstr(mesh_err_detail(), "jti"));
    mesh_verifier_free(m);
    mesh_free(plain);
    mesh_verifier_free(v);
}

static void test_typ_list_and_none(void **state)
{
    mesh_verifier_opts_t *o = oidc_opts(jwks_plain);
    mesh_verifier_t *strict, *jwt, *none;
    const char *claims = it_claims(ISS, AUD, now(), "");
    char *t_at = signed_tok(ec, "at+jwt", claims), *t_jwt = signed_tok(ec, "JWT", claims);
    char *t_app = signed_tok(ec, "application/at+jwt", claims),
         *t_no = signed_tok(ec, NULL, claims);
    char *t_none = signed_tok(ec, "none", claims);
    (void)state;

    strict = make(o);
    assert_int_equal(check(strict, t_at, NULL), MESH_OK);
    assert_int_equal(check(strict, t_app, NULL), MESH_OK);
    assert_int_equal(check(strict, t_jwt, NULL), MESH_ERR_TYP);
    assert_int_equal(check(strict, t_no, NULL), MESH_ERR_TYP);
    o = oidc_opts(jwks_plain);
    assert_int_equal(mesh_verifier_opts_set_typ(o, "at+jwt jwt"), MESH_OK);
    jwt = make(o);
    assert_int_equal(check(jwt, t_jwt, NULL), MESH_OK);
    assert_int_equal(check(jwt, t_no, NULL), MESH_ERR_TYP);
    o = oidc_opts(jwks_plain);
    assert_int_equal(mesh_verifier_opts_set_typ(o, "JWT none"), MESH_OK);
    none = make(o);
    assert_int_equal(check(none, t_no, NULL), MESH_OK);
    assert_int_equal(check(none, t_jwt, NULL), MESH_OK);
    assert_int_equal(check(none, t_at, NULL), MESH_ERR_TYP);
    /* "none" stands for no typ, never for a header that says typ "none" */
    assert_int_equal(check(none, t_none, NULL), MESH_ERR_TYP);
    o = oidc_opts(jwks_plain);
    assert_int_equal(mesh_verifier_opts_set_typ(o, ""), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_typ(o, "a b c d e f g h i"), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_typ(o, "at+jwt\tJWT"), MESH_ERR_INVALID_ARG);
    mesh_verifier_opts_free(o);
    mesh_free(t_at);
    mesh_free(t_jwt);
    mesh_free(t_app);
    mesh_free(t_no);
    mesh_free(t_none);
    mesh_verifier_free(strict);
    mesh_verifier_free(jwt);
    mesh_verifier_free(none);
}

static void test_scopes_from_scope_or_scp(void **state)
{
    mesh_verifier_t *v = make(oidc_opts(jwks_plain));
    struct {
        const char *extra;
        mesh_err_t rc;
        const char *scopes;
    } cases[] = {
        {",\"scp\":[\"read\",\"write\"]", MESH_OK, "read write"},
        {",\"scp\":\"User.Read Mail.Send\"", MESH_OK, "User.Read Mail.Send"},
        {",\"scope\":\"a b\",\"scp\":[\"c\"]", MESH_OK, "a b"}, /* scope wins */
        {",\"scp\":[]", MESH_OK, ""},
        {",\"scp\":[\"two words\"]", MESH_ERR_CLAIM_TYPE, NULL},
        {",\"scp\":[\"quote\\\"\"]", MESH_ERR_CLAIM_TYPE, NULL},
        {",\"scp\":[1]", MESH_ERR_CLAIM_TYPE, NULL},
        {",\"scp\":{\"a\":1}", MESH_ERR_CLAIM_TYPE, NULL},
        {",\"scope\":[\"a\"]", MESH_ERR_CLAIM_TYPE, NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = signed_tok(rsa, "at+jwt", it_claims(ISS, AUD, now(), cases[i].extra));
        mesh_identity_t *id = NULL;
        mesh_err_t rc = check(v, tok, &id);
        if (rc != cases[i].rc) {
            fail_msg("case %zu (%s): %s, expected %s (%s)", i, cases[i].extra, mesh_err_name(rc),
                     mesh_err_name(cases[i].rc), mesh_err_detail());
        }
        if (rc == MESH_OK) {
            assert_string_equal(mesh_identity_scopes(id), cases[i].scopes);
        }
        mesh_identity_free(id);
        mesh_free(tok);
    }
    /* scp counts for a required scope, on the fresh and the cached path */
    char *tok = signed_tok(rsa, "at+jwt", it_claims(ISS, AUD, now(), ",\"scp\":[\"read\"]"));
    assert_int_equal(mesh_verify(v, it_bearer(tok), NULL, 0, "read", NULL), MESH_OK);
    assert_int_equal(mesh_verify(v, it_bearer(tok), NULL, 0, "write", NULL), MESH_ERR_SCOPE);
    mesh_free(tok);
    mesh_verifier_free(v);
    /* the mesh profile does not read scp */
    mesh_verifier_opts_t *o = oidc_opts(jwks_plain);
    assert_int_equal(mesh_verifier_opts_set_profile(o, "mesh"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_binding(o, "when-presented"), MESH_OK);
    v = make(o);
    tok =
        signed_tok(rsa, "at+jwt", it_claims(ISS, AUD, now(), ",\"jti\":\"j\",\"scp\":[\"read\"]"));
    mesh_identity_t *id = NULL;
    assert_int_equal(check(v, tok, &id), MESH_OK);
    assert_string_equal(mesh_identity_scopes(id), "");
    mesh_identity_free(id);
    mesh_free(tok);
    mesh_verifier_free(v);
}

static void test_required_claims(void **state)
{
    mesh_verifier_opts_t *o = oidc_opts(jwks_plain);
    mesh_verifier_t *v;
    char *both, *no_verified;
    (void)state;

    assert_int_equal(mesh_verifier_opts_set_required_claims(o, "email\temail_verified"),
                     MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_required_claims(o, "email email_verified"), MESH_OK);
    v = make(o);
    both = signed_tok(rsa, "at+jwt",
                      it_claims(ISS, AUD, now(), ",\"email\":\"a@b.c\",\"email_verified\":false"));
    no_verified = signed_tok(rsa, "at+jwt", it_claims(ISS, AUD, now(), ",\"email\":\"a@b.c\""));
    assert_int_equal(check(v, both, NULL), MESH_OK);
    assert_int_equal(check(v, no_verified, NULL), MESH_ERR_CLAIM_MISSING);
    assert_non_null(strstr(mesh_err_detail(), "\"email_verified\""));
    mesh_free(both);
    mesh_free(no_verified);
    mesh_verifier_free(v);
}

static mesh_verifier_t *with_algs(const char *jwks, const char *algs)
{
    mesh_verifier_opts_t *o = oidc_opts(jwks);

    assert_int_equal(mesh_verifier_opts_set_algorithms(o, algs), MESH_OK);
    return make(o);
}

static void test_algorithm_list_and_algless_keys(void **state)
{
    const char *claims = it_claims(ISS, AUD, now(), "");
    char *t_rsa = signed_tok(rsa, "at+jwt", claims), *t_ec = signed_tok(ec, "at+jwt", claims);
    char *t_ed = signed_tok(ed, "at+jwt", claims);
    mesh_verifier_t *v;
    mesh_verifier_opts_t *o = oidc_opts(jwks_plain);
    (void)state;

    assert_int_equal(mesh_verifier_opts_set_algorithms(o, "HS256"), MESH_ERR_INVALID_ARG);
    assert_non_null(strstr(mesh_err_detail(), "HMAC key"));
    assert_int_equal(mesh_verifier_opts_set_algorithms(o, "RS384"), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_algorithms(o, " "), MESH_ERR_INVALID_ARG);
    mesh_verifier_opts_free(o);

    /* keys with alg: the list decides which are used */
    v = with_algs(jwks_plain, "RS256");
    assert_int_equal(check(v, t_rsa, NULL), MESH_OK);
    assert_int_equal(check(v, t_ec, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    assert_non_null(strstr(mesh_err_detail(), "ES256"));
    assert_int_equal(check(v, t_ed, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_JWKS_KEYS_SKIPPED), 2);
    /* a kid the list left out costs no refetch */
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_JWKS_FETCHES), 1);
    mesh_verifier_free(v);

    /* keys without alg: used only when their type fixes one allowed algorithm */
    v = with_algs(jwks_algless, "RS256 ES256");
    assert_int_equal(check(v, t_rsa, NULL), MESH_OK);
    assert_int_equal(check(v, t_ec, NULL), MESH_OK);
    assert_int_equal(check(v, t_ed, NULL), MESH_ERR_ALG_NOT_ALLOWED); /* EdDSA not listed */
    mesh_verifier_free(v);
    v = with_algs(jwks_algless, "RS256 PS256 EdDSA");
    assert_int_equal(check(v, t_rsa, NULL), MESH_ERR_ALG_NOT_ALLOWED); /* two RSA algorithms */
    assert_non_null(strstr(mesh_err_detail(), "exactly one RSA"));
    assert_int_equal(check(v, t_ed, NULL), MESH_OK);
    mesh_verifier_free(v);
    /* an alg-less RSA key under "PS256" is a PS256 key: an RS256 token does not fit it */
    v = with_algs(jwks_algless, "PS256");
    assert_int_equal(check(v, t_rsa, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    assert_non_null(strstr(mesh_err_detail(), "header alg RS256"));
    mesh_verifier_free(v);
    /* no list: the mesh rules, an alg-less RSA key is RS256 */
    v = make(oidc_opts(jwks_algless));
    assert_int_equal(check(v, t_rsa, NULL), MESH_OK);
    assert_int_equal(check(v, t_ed, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_JWKS_KEYS_SKIPPED), 0);
    mesh_verifier_free(v);
    mesh_free(t_rsa);
    mesh_free(t_ec);
    mesh_free(t_ed);
}

/* An "oct" key in an IdP's JWKS is never a verification key, not even with a list: alone it
 * leaves no usable key (the verifier fails closed), beside public keys the set is refused. */
static void test_jwks_oct_key_never_used(void **state)
{
    const char *oct = "{\"kty\":\"oct\",\"kid\":\"k1\",\"alg\":\"HS256\",\"k\":"
                      "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}";
    char path[700], doc[8192], header[128];
    char *jwk = it_jwk(ec, 0);
    const char *claims = it_claims(ISS, AUD, now(), "");
    mesh_verifier_t *v;
    char *hs, *es;
    (void)state;

    snprintf(path, sizeof(path), "%s/oct.json", dir);
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", oct);
    write_file(path, doc);
    v = with_algs(path, "RS256 ES256");
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}");
    hs = it_hs256(secret, sizeof(secret), header, claims);
    assert_int_equal(check(v, hs, NULL), MESH_ERR_KEYS_UNAVAILABLE);
    assert_int_equal(mesh_verify_http_status(MESH_ERR_KEYS_UNAVAILABLE, NULL, NULL, 0), 503);
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_JWKS_KEYS_SKIPPED), 1);
    mesh_verifier_free(v);
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", jwk, oct);
    write_file(path, doc);
    v = with_algs(path, "RS256 ES256");
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_ERR_KEY_MIXED);
    es = signed_tok(ec, "at+jwt", claims);
    assert_int_equal(check(v, es, NULL), MESH_ERR_KEYS_UNAVAILABLE);
    mesh_verifier_free(v);
    free(hs);
    mesh_free(es);
    unlink(path);
    mesh_free(jwk);
}

static mesh_verifier_t *hmac_verifier(void)
{
    mesh_verifier_opts_t *o = oidc_opts(NULL);

    assert_int_equal(mesh_verifier_opts_set_hmac_key(o, secret, sizeof(secret)), MESH_OK);
    return make(o);
}

static void test_hmac_key_option_rules(void **state)
{
    mesh_verifier_opts_t *o = oidc_opts(NULL);
    mesh_verifier_t *v = NULL;
    (void)state;

    assert_int_equal(mesh_verifier_opts_set_hmac_key(o, secret, 31), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_hmac_key(o, NULL, 32), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_verifier_opts_set_hmac_key(o, secret, sizeof(secret)), MESH_OK);
    /* never beside a JWKS or an algorithm list */
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, jwks_plain), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_ERR_CONFIG);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_ISSUER, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_algorithms(o, "RS256"), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_ERR_CONFIG);
    assert_int_equal(mesh_verifier_opts_set_algorithms(o, NULL), MESH_OK);
    /* profile mesh: refused */
    assert_int_equal(mesh_verifier_opts_set_profile(o, "mesh"), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "oidc"));
    /* the secret never shows in a detail */
    assert_null(strstr(mesh_err_detail(), "0123456789abcdef"));
    assert_int_equal(mesh_verifier_opts_set_profile(o, "oidc"), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_ERR_CONFIG);
    mesh_verifier_free(v);
    mesh_verifier_opts_free(o);
}

static void test_hs256_with_configured_key(void **state)
{
    mesh_verifier_t *v = hmac_verifier();
    const char *claims = it_claims(ISS, AUD, now(), ",\"role\":\"authenticated\"");
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}";
    uint8_t other[32];
    char *good = it_hs256(secret, sizeof(secret), hdr, claims), *tampered = strdup(good);
    char *wrong_key, *rs, *none;
    size_t n = strlen(tampered);
    mesh_identity_t *id = NULL;
    (void)state;

    assert_int_equal(check(v, good, &id), MESH_OK);
    assert_string_equal(mesh_identity_subject(id), "user-1");
    mesh_identity_free(id);
    assert_int_equal(check(v, good, NULL), MESH_OK); /* cached */
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_CACHE_HITS), 1);
    tampered[n - 2] = tampered[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(check(v, tampered, NULL), MESH_ERR_SIGNATURE);
    memcpy(other, secret, sizeof(other));
    other[0] ^= 1;
    wrong_key = it_hs256(other, sizeof(other), hdr, claims);
    assert_int_equal(check(v, wrong_key, NULL), MESH_ERR_SIGNATURE);
    /* alg confusion: an RS256 token to the HMAC issuer */
    rs = signed_tok(rsa, "at+jwt", claims);
    assert_int_equal(check(v, rs, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    assert_non_null(strstr(mesh_err_detail(), "HS256"));
    none = it_hs256(secret, sizeof(secret), "{\"alg\":\"none\",\"typ\":\"at+jwt\"}", claims);
    assert_int_equal(check(v, none, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    free(none);
    none = it_hs256(secret, sizeof(secret), "{\"alg\":\"HS512\",\"typ\":\"at+jwt\"}", claims);
    assert_int_equal(check(v, none, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    free(none);
    /* the claim rules still apply */
    none = it_hs256(secret, sizeof(secret), hdr, it_claims(ISS, "other", now(), ""));
    assert_int_equal(check(v, none, NULL), MESH_ERR_AUDIENCE);
    free(none);
    none = it_hs256(secret, sizeof(secret), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"jku\":\"x\"}",
                    claims);
    assert_int_equal(check(v, none, NULL), MESH_ERR_HEADER_FORBIDDEN);
    free(none);
    free(good);
    free(tampered);
    free(wrong_key);
    mesh_free(rs);
    mesh_verifier_free(v);
}

/* alg confusion the other way: an HS256 token, MACed with the issuer's public key as the
 * secret, to an issuer of RSA keys. */
static void test_hs256_token_against_rsa_issuer(void **state)
{
    mesh_verifier_t *v = make(oidc_opts(jwks_plain));
    char *pem = NULL, *tok, header[256];
    (void)state;

    assert_int_equal(mesh_key_public_pem(rsa, &pem), MESH_OK);
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             mesh_key_kid(rsa));
    tok = it_hs256((const uint8_t *)pem, strlen(pem), header, it_claims(ISS, AUD, now(), ""));
    assert_int_equal(check(v, tok, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    free(tok);
    mesh_free(pem);
    mesh_verifier_free(v);
}

static void test_identity_claim(void **state)
{
    mesh_verifier_t *v = make(oidc_opts(jwks_plain));
    char *tok = signed_tok(
        ec, "at+jwt",
        it_claims(ISS, AUD, now(),
                  ",\"email\":\"ana@example.com\",\"email_verified\":true,\"n\":42,\"z\":null,"
                  "\"app_metadata\":{\"provider\":\"email\",\"roles\":[\"a\",\"b\"]},"
                  "\"amr\":[{\"method\":\"password\"}],\"nl\":\"a\\nb\",\"utf\":\"caf\\u00e9\""));
    mesh_identity_t *id = NULL;
    char *out = NULL, longname[MESH_MAX_CLAIM_NAME + 2];
    struct {
        const char *name, *want;
    } cases[] = {
        {"email", "ana@example.com"},
        {"email_verified", "true"},
        {"n", "42"},
        {"z", "null"},
        {"app_metadata", "{\"provider\":\"email\",\"roles\":[\"a\",\"b\"]}"},
        {"amr", "[{\"method\":\"password\"}]"},
        {"utf", "caf\xc3\xa9"},
        {"sub", "user-1"},
    };
    (void)state;

    assert_int_equal(check(v, tok, &id), MESH_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(mesh_identity_claim(id, cases[i].name, &out), MESH_OK);
        assert_string_equal(out, cases[i].want);
        mesh_free(out);
        out = NULL;
    }
    assert_int_equal(mesh_identity_claim(id, "phone", &out), MESH_ERR_NOT_FOUND);
    assert_int_equal(mesh_identity_claim(id, "nl", &out), MESH_ERR_CLAIM_TYPE);
    assert_int_equal(mesh_identity_claim(id, "", &out), MESH_ERR_INVALID_ARG);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(mesh_identity_claim(id, longname, &out), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_identity_claim(NULL, "email", &out), MESH_ERR_INVALID_ARG);
    assert_null(out);
    mesh_identity_free(id);
    /* from the verified-token cache: the same answers */
    id = NULL;
    assert_int_equal(check(v, tok, &id), MESH_OK);
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_CACHE_HITS), 1);
    assert_int_equal(mesh_identity_claim(id, "email", &out), MESH_OK);
    assert_string_equal(out, "ana@example.com");
    mesh_free(out);
    mesh_identity_free(id);
    mesh_free(tok);
    mesh_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_option_and_feed),
        cmocka_unit_test(test_oidc_claims_relaxed_where_documented),
        cmocka_unit_test(test_typ_list_and_none),
        cmocka_unit_test(test_scopes_from_scope_or_scp),
        cmocka_unit_test(test_required_claims),
        cmocka_unit_test(test_algorithm_list_and_algless_keys),
        cmocka_unit_test(test_jwks_oct_key_never_used),
        cmocka_unit_test(test_hmac_key_option_rules),
        cmocka_unit_test(test_hs256_with_configured_key),
        cmocka_unit_test(test_hs256_token_against_rsa_issuer),
        cmocka_unit_test(test_identity_claim),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
