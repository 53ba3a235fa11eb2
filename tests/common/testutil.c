/* SPDX-License-Identifier: Apache-2.0 */
#include "../test-tmp.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what)
{
    fprintf(stderr, "test setup: %s: %s\n", what, mesh_err_detail());
    abort();
}

void tu_env_init(tu_env_t *e)
{
    const char *src = getenv("MESH_SOURCE_ROOT");
    char cmd[1024], p[512];

    memset(e, 0, sizeof(*e));
    if (test_tmp_template(e->dir, sizeof(e->dir), "mesh-client-test") == NULL ||
        mkdtemp(e->dir) == NULL) {
        fail("mkdtemp");
    }
    snprintf(e->certs, sizeof(e->certs), "%s/certs", e->dir);
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/common/mkcerts.sh' '%s' issuer svc-a svc-b",
             src != NULL ? src : ".", e->certs);
    if (system(cmd) != 0) {
        fail("mkcerts.sh");
    }
    if (mesh_x509_load_der(tu_path(e, "svc-a/cert.pem", p, sizeof(p)), &e->a_der, &e->a_len) ||
        mesh_x509_load_der(tu_path(e, "svc-b/cert.pem", p, sizeof(p)), &e->b_der, &e->b_len) ||
        mesh_x5t_s256(e->a_der, e->a_len, e->a_x5t)) {
        fail("load certs");
    }
}

void tu_env_cleanup(tu_env_t *e)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (e->dir[0] == '/' && system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", e->dir);
    }
    mesh_free(e->a_der);
    mesh_free(e->b_der);
}

const char *tu_path(const tu_env_t *e, const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", e->certs, rel);
    return out;
}

mesh_key_t *tu_rsa_key(void)
{
    mesh_key_t *k = NULL;

    if (mesh_key_generate(MESH_KEY_RSA2048, &k) != MESH_OK) {
        fail("key generate");
    }
    return k;
}

char *tu_sign_claims(const mesh_key_t *key, const char *claims_json)
{
    char *tok = NULL;

    if (mesh_jws_sign(key, MESH_TYP_AT_JWT, claims_json, strlen(claims_json), &tok) != MESH_OK) {
        fail("jws sign");
    }
    return tok;
}

char *tu_sign(const mesh_key_t *key, const tu_claims_t *c, char jti[MESH_JTI_LEN + 1])
{
    mesh_jwt_claims_in_t *in = NULL;
    char *tok = NULL;
    mesh_err_t rc = mesh_jwt_claims_in_new(&in);

    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_issuer(in, c->iss);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_subject(in, c->sub);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_audience(in, c->aud);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_scopes(in, c->scope);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_client_id(in, c->client_id);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_x5t(in, c->x5t);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_issued_at(in, c->iat);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_claims_in_set_ttl(in, c->ttl);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_sign(key, in, &tok, jti);
    }
    mesh_jwt_claims_in_free(in);
    return rc == MESH_OK ? tok : NULL;
}

char *tu_token(const mesh_key_t *key, const char *iss, const char *aud, const char *scope,
               const char *x5t, int64_t ttl)
{
    tu_claims_t c = {.iss = iss,
                     .sub = "spiffe://mesh.local/svc-a",
                     .aud = aud,
                     .scope = scope,
                     .client_id = "svc-a",
                     .x5t = x5t,
                     .iat = time(NULL),
                     .ttl = ttl};
    char *tok = tu_sign(key, &c, NULL);

    if (tok == NULL) {
        fail("jwt sign");
    }
    return tok;
}

char *tu_bearer(const char *tok)
{
    static _Thread_local char buf[MESH_MAX_TOKEN_BYTES * 2];
    snprintf(buf, sizeof(buf), "Bearer %s", tok);
    return buf;
}

char *tu_jwks_json(mesh_key_t **keys, size_t n)
{
    mesh_jwks_t *set = NULL;
    char *json = NULL;

    if (mesh_jwks_from_keys(keys, n, &set) != MESH_OK || mesh_jwks_to_json(set, &json)) {
        fail("jwks");
    }
    mesh_jwks_free(set);
    return json;
}

void tu_write_jwks(const char *path, mesh_key_t **keys, size_t n)
{
    char *json = tu_jwks_json(keys, n);
    char tmp[600];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL || fputs(json, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fail("write jwks");
    }
    mesh_free(json);
}

void tu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* A token with exactly these header and payload bytes and a real signature by `k`. */
#include "jose-test-util.h"

char *tu_raw_token(const mesh_key_t *k, const char *header, const char *payload)
{
    return jt_token(k, header, payload);
}

mesh_err_t tu_request(mesh_client_t *c, const char *peer_id, const char *method, const char *url,
                      const char *audience, const char *const *headers, const void *body,
                      size_t len, size_t max_body, mesh_response_t **resp)
{
    mesh_request_t *req = NULL;
    mesh_err_t rc = mesh_request_new(method, url, &req);

    if (rc == MESH_OK && audience != NULL) {
        rc = mesh_request_set_audience(req, audience);
    }
    for (size_t i = 0; rc == MESH_OK && headers != NULL && headers[i] != NULL; i++) {
        rc = mesh_request_add_header(req, headers[i]);
    }
    if (rc == MESH_OK && body != NULL) {
        rc = mesh_request_set_body(req, body, len);
    }
    if (rc == MESH_OK && max_body != 0) {
        rc = mesh_request_set_max_body(req, max_body);
    }
    if (rc == MESH_OK && peer_id != NULL) {
        rc = mesh_request_set_peer_id(req, peer_id);
    }
    if (rc == MESH_OK) {
        rc = mesh_client_request(c, req, resp);
    }
    mesh_request_free(req);
    return rc;
}

tu_vstats_t tu_vstats(const mesh_verifier_t *v)
{
    tu_vstats_t s = {
        .verified = mesh_verifier_stat(v, MESH_VSTAT_VERIFIED),
        .rejected = mesh_verifier_stat(v, MESH_VSTAT_REJECTED),
        .cache_hits = mesh_verifier_stat(v, MESH_VSTAT_CACHE_HITS),
        .jwks_fetches = mesh_verifier_stat(v, MESH_VSTAT_JWKS_FETCHES),
        .revocation_polls = mesh_verifier_stat(v, MESH_VSTAT_REVOCATION_POLLS),
    };
    return s;
}
