/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixture the mesh-issuer end-to-end programs share: helpers that assert with cmocka
 * (JWKS, verification, token and revocation requests), the group setup and teardown (clean
 * SIGTERM exit, no secret in the log) and the runner with E2E_ONLY.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "e2e.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include <mesh/mesh.h>

const char *const TOKEN_FORM = "grant_type=client_credentials&audience=asset-service";

mesh_jwks_t *served_jwks(void)
{
    req_t r = {.path = "/.well-known/jwks.json"};
    resp_t *x = do_req(&r);
    assert_int_equal(x->status, 200);
    mesh_jwks_t *set = NULL;
    assert_int_equal(mesh_jwks_parse(x->body, strlen(x->body), &set), MESH_OK);
    resp_free(x);
    return set;
}

/* Verifies with libmesh against the served JWKS; `leaf` binds to that certificate. */
mesh_err_t verify(const char *token, const char *aud, const char *leaf, mesh_identity_t **claims)
{
    mesh_jwks_t *set = served_jwks();
    mesh_jwt_verify_opts_t *o = NULL;
    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, srv.url), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, aud), MESH_OK);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (leaf != NULL) {
        char path[400];
        snprintf(path, sizeof(path), "%s/%s/cert.pem", srv.dir, leaf);
        assert_int_equal(mesh_x509_load_der(path, &der, &der_len), MESH_OK);
        assert_int_equal(mesh_jwt_verify_opts_set_cert(o, der, der_len), MESH_OK);
    } else {
        assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "when-presented"), MESH_OK);
    }
    mesh_err_t rc = mesh_jwt_verify(set, token, strlen(token), o, claims);
    mesh_jwt_verify_opts_free(o);
    mesh_free(der);
    mesh_jwks_free(set);
    return rc;
}

resp_t *post_token(const char *cert, const char *body)
{
    req_t r = {.path = "/v1/token", .cert = cert, .body = body};
    return do_req(&r);
}

void expect_error(resp_t *x, long status, const char *error, const char *needle)
{
    if (x->status != status || strcmp(jstr(x, "error"), error) != 0 ||
        (needle && strstr(jstr(x, "error_description"), needle) == NULL)) {
        fprintf(stderr, "expected %ld %s (~%s), got %ld %s\n", status, error, needle ? needle : "",
                x->status, x->body);
        fail();
    }
    resp_free(x);
}

char *svc_create(const char *name, const char *args, char *id, size_t idcap)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof(cmd), "'%s' token create %s %s --json --config '%s'", srv.bin, name, args,
             srv.config);
    int rc = run_cmd(cmd, &out);
    if (rc != 0) {
        fprintf(stderr, "%s\n", out);
    }
    assert_int_equal(rc, 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    snprintf(id, idcap, "%s", json_string_value(json_object_get(j, "client_id")));
    char *secret = strdup(json_string_value(json_object_get(j, "client_secret")));
    json_decref(j);
    free(out);
    return secret;
}

/* ---- revocation ---- */

void crl_revoke(const char *leaf)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl ca -config intermediate.cnf -cert intermediate.pem -keyfile "
             "intermediate.key -revoke '%s/leaf.pem' && openssl ca -gencrl -config "
             "intermediate.cnf -cert intermediate.pem -keyfile intermediate.key -out crl.new "
             "&& mv crl.new crl.pem",
             srv.dir, leaf);
    assert_int_equal(run_cmd(cmd, NULL), 0);
}

char *svc_token_issue(const char *name, char **secret)
{
    char id[64], up[300];
    *secret = svc_create(name, "--audience asset-service", id, sizeof(id));
    snprintf(up, sizeof(up), "%s:%s", id, *secret);
    req_t r = {.path = "/v1/token", .body = TOKEN_FORM, .userpwd = up};
    resp_t *x = do_req(&r);
    assert_int_equal(x->status, 200);
    char *t = strdup(jstr(x, "access_token"));
    resp_free(x);
    return t;
}

resp_t *do_revoke(const char *cert, const char *body)
{
    req_t r = {.path = "/v1/revoke", .cert = cert, .body = body};
    return do_req(&r);
}

json_t *feed(int64_t since)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/revocations?since=%lld", (long long)since);
    req_t r = {.path = path};
    resp_t *x = do_req(&r);
    assert_int_equal(x->status, 200);
    json_t *j = json_incref(x->json);
    resp_free(x);
    return j;
}

json_t *feed_entry(json_t *f, const char *member, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(f, "revoked"), i, v)
    {
        const char *s = json_string_value(json_object_get(v, member));
        if (s != NULL && strcmp(s, value) == 0) {
            return v;
        }
    }
    return NULL;
}

bool feed_has(json_t *f, const char *jti)
{
    return feed_entry(f, "jti", jti) != NULL;
}

char *jti_of(const char *token)
{
    char *hdr = NULL, *payload = NULL;
    assert_int_equal(mesh_jws_decode_unverified(token, strlen(token), &hdr, &payload), MESH_OK);
    json_t *j = json_loads(payload, 0, NULL);
    char *jti = strdup(json_string_value(json_object_get(j, "jti")));
    json_decref(j);
    mesh_free(hdr);
    mesh_free(payload);
    return jti;
}

/* ---- the server's exit, and the group fixture ---- */

static void show_log_tail(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' >&2", srv.log);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot run: %s\n", cmd);
    }
}

bool server_stop_clean(bool idle_conn_open)
{
    int st = 0;
    kill(srv.pid, SIGTERM);
    if (!server_wait_exit(120, &st)) { /* generous: only "it ends", not "how fast" */
        fprintf(stderr, "mesh-issuer did not exit within 120 s of SIGTERM; log %s\n", srv.log);
        show_log_tail();
        return false;
    }
    /* drains and exits 0 (and leak-free under ASan) */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "mesh-issuer did not exit cleanly (status %d); log %s\n", st, srv.log);
        show_log_tail();
        return false;
    }
    if (!server_log_has("\"msg\":\"stopped\"")) {
        fprintf(stderr, "mesh-issuer exited without its \"stopped\" line; log %s\n", srv.log);
        return false;
    }
    /* an idle keep-alive connection does not hold up the drain */
    if (idle_conn_open && server_log_has("drain timeout")) {
        fprintf(stderr, "SIGTERM waited for an idle keep-alive connection\n");
        return false;
    }
    return true;
}

int e2e_setup(void **state)
{
    server_start();
    return 0;
}

bool e2e_teardown_failed; /* cmocka 1.1 does not count a failed group teardown */
bool e2e_idle_conn_open;

int e2e_teardown(void **state)
{
    e2e_teardown_failed = true;
    if (!server_stop_clean(e2e_idle_conn_open)) {
        return -1;
    }
    /* never a token (JWS header prefix), a client secret or key material in the log */
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "grep -E 'eyJhbGci|mss_|PRIVATE KEY' '%s' >&2", srv.log);
    if (system(cmd) == 0) {
        fprintf(stderr, "the issuer log holds a secret (lines above)\n");
        return -1;
    }
    if (getenv("MESH_KEEP_TMP") == NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot run: %s\n", cmd);
        }
    }
    e2e_teardown_failed = false;
    return 0;
}

int e2e_run(const char *group, const struct CMUnitTest *tests, size_t count,
            int (*teardown)(void **state), int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MESH_ISSUER GEN_CERTS_SH\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* clients write to sockets the server closed */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e2e_init(argv[1], argv[2]);
    /* E2E_ONLY=test_a,test_b runs a subset (in this order) for debugging */
    struct CMUnitTest *chosen = calloc(count, sizeof(*chosen));
    if (chosen == NULL) {
        abort();
    }
    size_t n = 0;
    const char *only = getenv("E2E_ONLY");
    for (size_t i = 0; i < count; i++) {
        if (only == NULL || strstr(only, tests[i].name) != NULL) {
            chosen[n++] = tests[i];
        }
    }
    int rc = _cmocka_run_group_tests(group, chosen, n, e2e_setup, teardown);
    free(chosen);
    curl_global_cleanup();
    return rc != 0 || e2e_teardown_failed ? 1 : 0;
}
