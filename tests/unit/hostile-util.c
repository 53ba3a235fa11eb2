/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by test-hostile.c and test-hostile-claims.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jose-test-util.h"
#include "hostile-util.h"

const uint8_t cert_der[] = "a stand-in for the DER bytes of the caller's certificate";
const size_t cert_der_len = sizeof(cert_der);

mesh_key_t *rsa;   /* RS256, in the set */
mesh_key_t *ec;    /* ES256, in the set */
mesh_key_t *other; /* RS256, not in the set */
mesh_jwks_t *set;
char x5t[MESH_X5T_LEN + 1];

int hostile_setup(void **state)
{
    mesh_key_t *keys[2];

    (void)state;
    if (mesh_key_generate(MESH_KEY_RSA2048, &rsa) != MESH_OK ||
        mesh_key_generate(MESH_KEY_P256, &ec) != MESH_OK ||
        mesh_key_generate(MESH_KEY_RSA2048, &other) != MESH_OK) {
        return -1;
    }
    keys[0] = rsa;
    keys[1] = ec;
    if (mesh_jwks_from_keys(keys, 2, &set) != MESH_OK ||
        mesh_x5t_s256(cert_der, sizeof(cert_der), x5t) != MESH_OK) {
        return -1;
    }
    return 0;
}

int hostile_teardown(void **state)
{
    (void)state;
    mesh_jwks_free(set);
    mesh_key_free(rsa);
    mesh_key_free(ec);
    mesh_key_free(other);
    return 0;
}

/* ---- building blocks --------------------------------------------------------------------- */

/*
 * The claims of a good token, with member `name` replaced by the raw JSON `json` (NULL removes
 * it; a name not among the defaults is appended). Returns a new string.
 */
char *payload(const char *name, const char *json)
{
    char cnf[96];
    const char *names[] = {"iss", "sub", "aud",   "iat",       "nbf",
                           "exp", "jti", "scope", "client_id", "cnf"};
    const char *vals[] = {"\"" ISS "\"",
                          "\"spiffe://mesh.local/orders\"",
                          "\"" AUD "\"",
                          "1700000000",
                          "1700000000",
                          "1700000300",
                          "\"q7xJ3v0kQyW8m2pL5nR9sA\"",
                          "\"orders:read payments:write\"",
                          "\"orders\"",
                          cnf};
    char *out = malloc(PAYLOAD_MAX);
    size_t pos = 0;
    bool found = false;

    assert_non_null(out);
    snprintf(cnf, sizeof(cnf), "{\"x5t#S256\":\"%s\"}", x5t);
    out[pos++] = '{';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = vals[i];
        if (name != NULL && strcmp(name, names[i]) == 0) {
            found = true;
            v = json;
        }
        if (v != NULL) {
            pos += (size_t)snprintf(out + pos, PAYLOAD_MAX - pos, "%s\"%s\":%s", pos > 1 ? "," : "",
                                    names[i], v);
        }
    }
    if (name != NULL && !found && json != NULL) {
        pos += (size_t)snprintf(out + pos, PAYLOAD_MAX - pos, ",\"%s\":%s", name, json);
    }
    snprintf(out + pos, PAYLOAD_MAX - pos, "}");
    return out;
}

mesh_jwt_verify_opts_t *opts_default(mesh_jwt_verify_opts_t *old)
{
    mesh_jwt_verify_opts_t *o = NULL;

    mesh_jwt_verify_opts_free(old);
    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, AUD), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, NOW), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_cert(o, cert_der, sizeof(cert_der)), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_required_scope(o, "payments:write"), MESH_OK);
    return o;
}

mesh_err_t verify_opts(const char *tok, const mesh_jwt_verify_opts_t *o)
{
    return mesh_jwt_verify(set, tok, strlen(tok), o, NULL);
}

mesh_err_t verify(const char *tok)
{
    mesh_jwt_verify_opts_t *o = NULL;

    mesh_err_t rc;

    o = opts_default(o);
    rc = verify_opts(tok, o);
    mesh_jwt_verify_opts_free(o);
    return rc;
}

/* A token by `key` with the standard header (plus `extra`) and the claims from payload(). */
char *token_with(const mesh_key_t *key, const char *extra, const char *name, const char *json)
{
    char *h = jt_header(key, "at+jwt", extra);
    char *p = payload(name, json);
    char *t = jt_token(key, h, p);

    free(h);
    free(p);
    return t;
}

/* Asserts that a token breaking one claim rule gets `want`. */
void expect_claim(const char *name, const char *json, mesh_err_t want)
{
    char *t = token_with(rsa, "", name, json);
    mesh_err_t got = verify(t);

    if (got != want) {
        print_error("claim %s=%s: got %s (%s), want %s\n", name, json ? json : "(removed)",
                    mesh_err_name(got), mesh_err_detail(), mesh_err_name(want));
    }
    assert_int_equal(got, want);
    assert_true(want == MESH_OK || strlen(mesh_err_detail()) > 0);
    free(t);
}

/* Asserts that a token with a hand-written header (signed by rsa) gets `want`. */
void expect_header(const char *header, mesh_err_t want)
{
    char *p = payload(NULL, NULL);
    char *t = jt_token(rsa, header, p);
    mesh_err_t got = verify(t);

    if (got != want) {
        print_error("header %s: got %s (%s), want %s\n", header, mesh_err_name(got),
                    mesh_err_detail(), mesh_err_name(want));
    }
    assert_int_equal(got, want);
    free(p);
    free(t);
}

void expect_raw(const char *tok, mesh_err_t want)
{
    mesh_jwt_verify_opts_t *o = NULL;
    mesh_err_t got;

    o = opts_default(o);
    got = verify_opts(tok, o);
    if (got != want) {
        print_error("token: got %s (%s), want %s\n", mesh_err_name(got), mesh_err_detail(),
                    mesh_err_name(want));
    }
    assert_int_equal(got, want);
    mesh_jwt_verify_opts_free(o);
}
