/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clients pinned to the peer they meant to reach (issuer_id, mesh_client_request_peer,
 * mesh_client_setup_curl_peer): the real mesh-issuer answers a client pinned to its ID; a
 * server on 127.0.0.1 with another service's certificate of the same mesh CA (the fake issuer
 * serving svc-b's certificate and key) sees no request at all: no token, no secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <mesh/curl.h>
#include <mesh/mesh.h>

#include "../test-tmp.h"
#include "fake_issuer.h"
#include "real_issuer.h"
#include "testutil.h"

#define ISSUER_ID "spiffe://mesh.local/issuer"
#define SVC_B_ID  "spiffe://mesh.local/svc-b"

static real_issuer_t ri;
static bool have_issuer;
static fake_t *impostor; /* presents svc-b's certificate */
static mesh_key_t *key;
static char impostor_dir[300], ca[512], a_cert[512], a_key[512];

/* dir/ca.pem and dir/issuer/{cert,key}.pem = svc-b's, the layout fake_start reads. */
static void impostor_certs(void)
{
    char cmd[2048];

    snprintf(impostor_dir, sizeof(impostor_dir), "%s/impostor", ri.dir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/issuer' && cp '%s/ca.pem' '%s/' && "
             "cp '%s/svc-b/cert.pem' '%s/svc-b/key.pem' '%s/issuer/'",
             impostor_dir, ri.certs, impostor_dir, ri.certs, ri.certs, impostor_dir);
    if (system(cmd) != 0) {
        abort();
    }
}

static int group_setup(void **state)
{
    (void)state;
    have_issuer = ri_setup(&ri) && ri_start(&ri);
    if (!have_issuer) {
        return 0;
    }
    ri_path(&ri, "ca.pem", ca, sizeof(ca));
    ri_path(&ri, "svc-a/cert.pem", a_cert, sizeof(a_cert));
    ri_path(&ri, "svc-a/key.pem", a_key, sizeof(a_key));
    impostor_certs();
    key = tu_rsa_key();
    impostor = fake_start(impostor_dir, key, 0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_stop(impostor);
    mesh_key_free(key);
    ri_cleanup(&ri);
    return 0;
}

static int per_test(void **state)
{
    (void)state;
    if (have_issuer) {
        fake_reset_counts(impostor);
    }
    return 0;
}

/* svc-a's client for the issuer at `url`, pinned to `issuer_id` (NULL: not pinned). */
static mesh_client_t *client_a(const char *url, const char *issuer_id)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;

    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, url), MESH_OK);
    assert_int_equal(mesh_client_opts_set_cert_path(o, a_cert), MESH_OK);
    assert_int_equal(mesh_client_opts_set_key_path(o, a_key), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_id(o, issuer_id), MESH_OK);
    assert_int_equal(mesh_client_opts_set_retry_base_ms(o, 10), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    mesh_client_opts_free(o);
    return c;
}

static void assert_names_both(const char *got, const char *want)
{
    if (strstr(mesh_err_detail(), got) == NULL || strstr(mesh_err_detail(), want) == NULL) {
        fail_msg("detail \"%s\" does not name %s and %s", mesh_err_detail(), got, want);
    }
}

static void test_client_pinned_to_issuer_id_gets_token_from_real_issuer(void **state)
{
    mesh_client_t *c;
    char *tok = NULL;
    (void)state;
    NEED_ISSUER();

    c = client_a(ri.url, ISSUER_ID);
    assert_int_equal(mesh_client_token(c, "svc-b", "read", &tok, NULL), MESH_OK);
    mesh_free(tok);
    mesh_client_free(c);
}

static mesh_verifier_t *verifier_for(const char *url, const char *issuer_id)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, url), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer_id(o, issuer_id), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK); /* fetch failures are not fatal */
    mesh_verifier_opts_free(o);
    return v;
}

/* regression: a verifier's own fetches (metadata, JWKS, revocation feed) went to whichever
 * mesh service answered on the issuer's address, which could then serve its own keys */
static void test_verifier_fetches_pinned_to_issuer_id(void **state)
{
    (void)state;
    NEED_ISSUER();

    mesh_verifier_t *v = verifier_for(ri.url, ISSUER_ID);
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_OK);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    mesh_verifier_free(v);

    v = verifier_for(fake_url(impostor), ISSUER_ID);
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_ERR_PEER_ID);
    assert_names_both(SVC_B_ID, ISSUER_ID);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_ERR_PEER_ID);
    assert_int_equal(fake_count(impostor, FAKE_META), 0);
    assert_int_equal(fake_count(impostor, FAKE_JWKS), 0);
    assert_int_equal(fake_count(impostor, FAKE_REVOCATIONS), 0);
    mesh_verifier_free(v);

    v = verifier_for(fake_url(impostor), NULL); /* unpinned, the impostor is asked */
    mesh_err_t unpinned = mesh_verifier_refresh_keys(v);
    assert_int_not_equal(unpinned, MESH_ERR_PEER_ID);
    assert_true(fake_count(impostor, FAKE_META) > 0);
    mesh_verifier_free(v);

    mesh_verifier_opts_t *o = NULL;
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ri.url), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    /* not a spiffe:// ID: the setter refuses it */
    assert_int_equal(mesh_verifier_opts_set_issuer_id(o, "issuer"), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "issuer_id"));
    mesh_verifier_opts_free(o);
}

/* regression: any mesh service on loopback could answer for the issuer and get the caller's
 * credentials; pinned, the client sends nothing to it */
static void test_issuer_impostor_refused_before_any_request(void **state)
{
    mesh_client_t *c;
    char *tok = NULL;
    (void)state;
    NEED_ISSUER();

    c = client_a(fake_url(impostor), ISSUER_ID);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &tok, NULL), MESH_ERR_PEER_ID);
    assert_names_both(SVC_B_ID, ISSUER_ID);
    assert_non_null(strstr(mesh_err_detail(), "not sent"));
    assert_null(tok);
    assert_int_equal(fake_count(impostor, FAKE_TOKEN), 0); /* the server saw no request */
    assert_int_equal(mesh_client_stat(c, MESH_CLIENT_STAT_ISSUER_REQUESTS),
                     1); /* not retried: asking again will not help */
    mesh_client_free(c);

    /* Without the pin the impostor is believed (what the pin is for). */
    c = client_a(fake_url(impostor), NULL);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &tok, NULL), MESH_OK);
    assert_int_equal(fake_count(impostor, FAKE_TOKEN), 1);
    mesh_free(tok);
    mesh_client_free(c);
}

/* regression: a pinned service-token client never sends its secret to an impostor */
static void test_service_token_secret_never_sent_to_impostor(void **state)
{
    char id[128], secret[256];
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char *tok = NULL;
    (void)state;
    NEED_ISSUER();

    assert_true(ri_service_token(&ri, "ci", id, sizeof(id), secret, sizeof(secret)));
    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, fake_url(impostor)), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_id(o, id), MESH_OK);
    assert_int_equal(mesh_client_opts_set_client_secret(o, secret), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_id(o, ISSUER_ID), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &tok, NULL), MESH_ERR_PEER_ID);
    assert_null(strstr(mesh_err_detail(), secret));
    assert_int_equal(fake_count(impostor, FAKE_TOKEN), 0);
    mesh_client_free(c);
    /* The same service token, pinned, at the real issuer. */
    assert_int_equal(mesh_client_opts_set_issuer_url(o, ri.url), MESH_OK);
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &tok, NULL), MESH_OK);
    mesh_free(tok);
    mesh_client_free(c);
    mesh_client_opts_free(o);
}

static void test_issuer_id_from_environment(void **state)
{
    mesh_client_t *c = NULL;
    char *tok = NULL;
    (void)state;
    NEED_ISSUER();

    setenv("MESH_ISSUER_URL", fake_url(impostor), 1);
    setenv("TLS_CERT_PATH", a_cert, 1);
    setenv("TLS_KEY_PATH", a_key, 1);
    setenv("TLS_CA_PATH", ca, 1);
    setenv("MESH_ISSUER_ID", ISSUER_ID, 1);
    assert_int_equal(mesh_client_from_env(NULL, &c), MESH_OK);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &tok, NULL), MESH_ERR_PEER_ID);
    assert_int_equal(fake_count(impostor, FAKE_TOKEN), 0);
    mesh_client_free(c);
    setenv("MESH_ISSUER_ID", "mesh.local/issuer", 1); /* not a SPIFFE ID */
    assert_int_equal(mesh_client_from_env(NULL, &c), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "MESH_ISSUER_ID"));
    unsetenv("MESH_ISSUER_ID");
    unsetenv("MESH_ISSUER_URL");
    unsetenv("TLS_CERT_PATH");
    unsetenv("TLS_KEY_PATH");
    unsetenv("TLS_CA_PATH");
}

/* regression: a mesh call pinned to a peer is checked on reused connections too */
static void test_mesh_call_pinned_to_peer(void **state)
{
    mesh_client_t *c;
    mesh_response_t *r = NULL;
    char url[128];
    (void)state;
    NEED_ISSUER();

    c = client_a(ri.url, ISSUER_ID);
    snprintf(url, sizeof(url), "%s/peer", fake_url(impostor));
    assert_int_equal(tu_request(c, SVC_B_ID, NULL, url, "svc-b", NULL, NULL, 0, 0, &r), MESH_OK);
    assert_int_equal(mesh_response_status(r), 200);
    assert_non_null(strstr(mesh_response_body(r), "Bearer "));
    mesh_response_free(r);
    r = NULL;
    assert_int_equal(tu_request(c, SVC_B_ID, NULL, url, "svc-b", NULL, NULL, 0, 0, &r), MESH_OK);
    assert_int_equal(mesh_response_new_connections(r), 0); /* the pooled connection was reused */
    mesh_response_free(r);
    r = NULL;
    assert_int_equal(fake_count(impostor, FAKE_PEER), 2);
    /* The same pooled connection, another expected peer: nothing is sent. */
    assert_int_equal(tu_request(c, "spiffe://mesh.local/svc-c", "POST", url, "svc-b", NULL,
                                "secret body", 11, 0, &r),
                     MESH_ERR_PEER_ID);
    assert_names_both(SVC_B_ID, "spiffe://mesh.local/svc-c");
    assert_int_equal(fake_count(impostor, FAKE_PEER), 2);
    assert_null(mesh_response_body(r));
    /* Unpinned calls behave as before. */
    assert_int_equal(tu_request(c, NULL, NULL, url, "svc-b", NULL, NULL, 0, 0, &r), MESH_OK);
    mesh_response_free(r);
    r = NULL;
    assert_int_equal(tu_request(c, "svc-b", NULL, url, "svc-b", NULL, NULL, 0, 0, &r),
                     MESH_ERR_INVALID_ARG);
    mesh_client_free(c);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static CURLcode perform(CURL *h, const char *url)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    return curl_easy_perform(h);
}

/* regression: a caller's own curl handle carries the token only to the pinned peer */
static void test_setup_curl_peer_pins_callers_handle(void **state)
{
    mesh_client_t *c;
    mesh_peer_pin_t *pin = NULL;
    char url[128];
    CURL *h;
    (void)state;
    NEED_ISSUER();

    c = client_a(ri.url, ISSUER_ID);
    snprintf(url, sizeof(url), "%s/peer", fake_url(impostor));
    h = curl_easy_init();
    assert_int_equal(mesh_client_setup_curl_peer(c, h, "svc-b", "spiffe://mesh.local/svc-c", &pin),
                     MESH_OK);
    assert_int_equal(mesh_peer_pin_result(pin), MESH_OK);
    assert_int_equal(perform(h, url), CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal(mesh_peer_pin_result(pin), MESH_ERR_PEER_ID);
    assert_names_both(SVC_B_ID, "spiffe://mesh.local/svc-c");
    assert_int_equal(fake_count(impostor, FAKE_PEER), 0);
    curl_easy_cleanup(h);
    mesh_peer_pin_free(pin);

    h = curl_easy_init();
    assert_int_equal(mesh_client_setup_curl_peer(c, h, "svc-b", SVC_B_ID, &pin), MESH_OK);
    assert_int_equal(perform(h, url), CURLE_OK);
    assert_int_equal(perform(h, url), CURLE_OK); /* reused connection, checked again */
    assert_int_equal(mesh_peer_pin_result(pin), MESH_OK);
    assert_int_equal(fake_count(impostor, FAKE_PEER), 2);
    curl_easy_cleanup(h);
    mesh_peer_pin_free(pin);

    pin = NULL;
    h = curl_easy_init();
    assert_int_equal(mesh_client_setup_curl_peer(c, h, "svc-b", "svc-b", &pin),
                     MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_client_setup_curl_peer(c, h, "svc-b", SVC_B_ID, NULL),
                     MESH_ERR_INVALID_ARG);
    assert_null(pin);
    curl_easy_cleanup(h);
    mesh_peer_pin_free(NULL);
    assert_int_equal(mesh_peer_pin_result(NULL), MESH_OK);
    mesh_client_free(c);
}

static void test_issuer_id_must_be_a_spiffe_id(void **state)
{
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    (void)state;
    NEED_ISSUER();

    assert_int_equal(mesh_client_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_client_opts_set_issuer_url(o, ri.url), MESH_OK);
    assert_int_equal(mesh_client_opts_set_cert_path(o, a_cert), MESH_OK);
    assert_int_equal(mesh_client_opts_set_key_path(o, a_key), MESH_OK);
    assert_int_equal(mesh_client_opts_set_ca_path(o, ca), MESH_OK);
    /* trust domains are lower case: the setter refuses it, naming the option */
    assert_int_equal(mesh_client_opts_set_issuer_id(o, "spiffe://Mesh.Local/issuer"),
                     MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "not a SPIFFE ID"));
    assert_non_null(strstr(mesh_err_detail(), "issuer_id"));
    /* the option kept its previous value (none): the client is created unpinned */
    assert_int_equal(mesh_client_new(o, &c), MESH_OK);
    mesh_client_free(c);
    c = NULL;
    assert_null(c);
    mesh_client_opts_free(o);
}

/* `mesh ARGS` as svc-a of the real issuer's certs; exit status, stderr into err. */
static int mesh_cli(const char *args, char *err, size_t cap)
{
    const char *b = getenv("MESH_BUILD_ROOT");
    char cmd[4096], errpath[400];
    FILE *f;
    size_t n = 0;
    int st;

    snprintf(errpath, sizeof(errpath), "%s/cli-err.txt", ri.dir);
    snprintf(cmd, sizeof(cmd),
             "env -u MESH_ISSUER_ID -u MESH_CLIENT_ID MESH_CERTS_DIR=%s "
             "MESH_SERVICE=svc-a %s/libmesh/cli/mesh %s >/dev/null 2>%s",
             ri.certs, b != NULL ? b : "build", args, errpath);
    st = system(cmd);
    f = fopen(errpath, "r");
    if (f != NULL) {
        n = fread(err, 1, cap - 1, f);
        fclose(f);
    }
    err[n] = '\0';
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli_issuer_id_and_peer_id_flags(void **state)
{
    char args[1024], err[4096];
    (void)state;
    NEED_ISSUER();

    snprintf(args, sizeof(args), "token --audience svc-b --issuer %s --issuer-id " ISSUER_ID,
             ri.url);
    assert_int_equal(mesh_cli(args, err, sizeof(err)), 0);
    snprintf(args, sizeof(args), "token --audience svc-b --issuer %s --issuer-id " ISSUER_ID,
             fake_url(impostor));
    assert_int_equal(mesh_cli(args, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "peer_id_mismatch"));
    snprintf(args, sizeof(args),
             "curl %s/peer --audience svc-b --issuer %s --peer-id "
             "spiffe://mesh.local/svc-c",
             fake_url(impostor), ri.url);
    assert_int_equal(mesh_cli(args, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "peer_id_mismatch"));
    assert_non_null(strstr(err, SVC_B_ID));
    snprintf(args, sizeof(args), "curl %s/peer --audience svc-b --issuer %s --peer-id " SVC_B_ID,
             fake_url(impostor), ri.url);
    assert_int_equal(mesh_cli(args, err, sizeof(err)), 0);
    assert_int_equal(fake_count(impostor, FAKE_TOKEN), 0);
    assert_int_equal(fake_count(impostor, FAKE_PEER), 1);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);

    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

static mesh_verifier_t *trusting_verifier(const char *bundle, const char *crl)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ri.url), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_trust_bundle(o, bundle, crl), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    return v;
}

/* mesh-ca's own files as a verifier's trust material: ca.pem as the bundle, a service's
 * cert.pem (leaf + intermediate) as a proxy forwards it, crl.pem after `mesh-ca revoke`. */
static void test_trust_bundle_from_mesh_ca_files(void **state)
{
    char bundle[600], crl[600], cmd[2048], path[600], *tok = NULL, *pem;
    const char *b = getenv("MESH_BUILD_ROOT");
    mesh_client_t *c;
    mesh_verifier_t *v;
    mesh_identity_t *id = NULL;
    size_t len = 0;
    (void)state;
    NEED_ISSUER();

    c = client_a(ri.url, ISSUER_ID);
    assert_int_equal(mesh_client_token(c, "svc-b", NULL, &tok, NULL), MESH_OK);
    v = trusting_verifier(ca, NULL);
    pem = slurp(a_cert, &len);
    assert_int_equal(mesh_verify_pem(v, tu_bearer(tok), pem, len, NULL, &id), MESH_OK);
    assert_string_equal(mesh_identity_subject(id), "spiffe://mesh.local/svc-a");
    mesh_identity_free(id);
    free(pem);
    mesh_verifier_free(v);

    /* Revoke svc-b (the impostor's certificate, used by nothing else here). */
    snprintf(cmd, sizeof(cmd), "%s/ca/mesh-ca revoke svc-b --dir %s >/dev/null 2>&1",
             b != NULL ? b : "build", ri.certs);
    assert_int_equal(system(cmd), 0);
    snprintf(bundle, sizeof(bundle), "%s/bundle.pem", ri.dir);
    snprintf(cmd, sizeof(cmd), "cat '%s' '%s/intermediate.pem' >'%s'", ca, ri.certs, bundle);
    assert_int_equal(system(cmd), 0);
    ri_path(&ri, "crl.pem", crl, sizeof(crl));
    v = trusting_verifier(bundle, crl);
    pem = slurp(ri_path(&ri, "svc-b/cert.pem", path, sizeof(path)), &len);
    assert_int_equal(mesh_verify_pem(v, tu_bearer(tok), pem, len, NULL, NULL), MESH_ERR_PEER_CERT);
    assert_non_null(strstr(mesh_err_detail(), "revoked"));
    free(pem);
    pem = slurp(a_cert, &len);
    assert_int_equal(mesh_verify_pem(v, tu_bearer(tok), pem, len, NULL, NULL), MESH_OK);
    free(pem);
    mesh_verifier_free(v);
    mesh_free(tok);
    mesh_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_client_pinned_to_issuer_id_gets_token_from_real_issuer,
                               per_test),
        cmocka_unit_test_setup(test_issuer_impostor_refused_before_any_request, per_test),
        cmocka_unit_test_setup(test_verifier_fetches_pinned_to_issuer_id, per_test),
        cmocka_unit_test_setup(test_service_token_secret_never_sent_to_impostor, per_test),
        cmocka_unit_test_setup(test_issuer_id_from_environment, per_test),
        cmocka_unit_test_setup(test_mesh_call_pinned_to_peer, per_test),
        cmocka_unit_test_setup(test_setup_curl_peer_pins_callers_handle, per_test),
        cmocka_unit_test_setup(test_issuer_id_must_be_a_spiffe_id, per_test),
        cmocka_unit_test_setup(test_cli_issuer_id_and_peer_id_flags, per_test),
        cmocka_unit_test_setup(test_trust_bundle_from_mesh_ca_files, per_test), /* last */
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
