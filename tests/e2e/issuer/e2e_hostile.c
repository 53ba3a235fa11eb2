/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer against hostile client certificates: each claims a mesh identity (gen-certs.sh
 * makes them) and each must get 401 invalid_client or a failed handshake, never a token,
 * with a CRL configured and without. Then the two keep-alive cases: a certificate revoked,
 * and one that expires, while its connection stays open; and the connection age limit.
 * usage: test-issuer-e2e-hostile MESH_ISSUER GEN_CERTS_SH
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "e2e.h"

static const char *const HOSTILE[] = {
    "hostile-self",              /* self-signed, URI spiffe://mesh.local/web-service */
    "hostile-foreign-root",      /* leaf + the attacker's own root in the chain */
    "hostile-foreign-int",       /* foreign root + intermediate */
    "hostile-same-names",        /* CAs whose names equal the mesh CAs' names */
    "hostile-same-names-noroot", /* ... without the forged root: chains by name to ours */
    "expired-svc",               /* expired */
    "hostile-not-yet",           /* not yet valid */
    "hostile-server-only",       /* EKU serverAuth only */
    "hostile-two-uris",          /* two SPIFFE URIs */
    "hostile-no-uri",            /* no URI SAN */
    "hostile-intermediate",      /* the mesh intermediate CA's own certificate as a client */
    "gateway-foreign",           /* a foreign CA's leaf for the gateway's identity */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* 401 invalid_client, or no answer at all (a failed handshake): never a token. */
static void expect_refused(const char *cert, const char *body)
{
    resp_t *x = post_token(cert, body);
    if (x->status != -1 && (x->status != 401 || strcmp(jstr(x, "error"), "invalid_client") != 0)) {
        fail_msg("%s got %ld %s", cert, x->status, x->body);
    }
    resp_free(x);
}

/* A SIGHUP has landed once revoked-svc (no policy entry) is judged as `expect_status`. */
static void reload_until(long expect_status)
{
    kill(srv.pid, SIGHUP);
    long status = 0;
    for (int i = 0; i < 300 && status != expect_status; i++) {
        resp_t *x = post_token("revoked-svc", TOKEN_FORM);
        status = x->status;
        resp_free(x);
        if (status != expect_status) {
            sleep_ms(100);
        }
    }
    assert_int_equal(status, expect_status);
}

static void all_refused(void)
{
    for (size_t i = 0; i < sizeof(HOSTILE) / sizeof(HOSTILE[0]); i++) {
        expect_refused(HOSTILE[i], TOKEN_FORM);
        /* an admin identity's revocation is refused as well */
        resp_t *x = do_revoke(HOSTILE[i], "token=anything");
        if (x->status != -1 && x->status != 401) {
            fail_msg("%s revoked with %ld %s", HOSTILE[i], x->status, x->body);
        }
        resp_free(x);
    }
}

/* The critical defect: with a CRL configured, an earlier real verification error was lowered
 * to "verified" by a missing CRL for the attacker's CA. */
static void test_hostile_certs_with_crl(void **state)
{
    all_refused();
    expect_refused("revoked-svc", TOKEN_FORM);
    char *t = get_token("gateway", "asset-service", NULL); /* the real ones still work */
    assert_non_null(t);
    free(t);
}

static void test_hostile_certs_without_crl(void **state)
{
    srv.no_crl = true;
    write_config("{\"current\": \"jwt-signing.key\"}", "{}");
    reload_until(403); /* revoked-svc is no longer known to be revoked: policy answers */
    all_refused();
    srv.no_crl = false;
    write_config("{\"current\": \"jwt-signing.key\"}", "{}");
    reload_until(401);
}

static resp_t *keepalive_token(CURL *c, const char *cert)
{
    /* asset-service's policy allows the gateway audience; the others are gateways */
    const char *body = strcmp(cert, "asset-service") == 0
                           ? "grant_type=client_credentials&audience=gateway"
                           : TOKEN_FORM;
    req_t r = {.path = "/v1/token", .cert = cert, .body = body, .curl = c};
    return do_req(&r);
}

/* Asks on one connection until the answer is `status`; every answer on that connection. */
static void same_conn_until(CURL *c, const char *cert, long status, const char *needle)
{
    long got = 0;
    for (int i = 0; i < 300 && got != status; i++) {
        resp_t *x = keepalive_token(c, cert);
        got = x->status;
        assert_int_equal(x->new_conns, 0);
        if (got == status && needle != NULL) {
            assert_non_null(strstr(jstr(x, "error_description"), needle));
        }
        resp_free(x);
        if (got != status) {
            sleep_ms(100);
        }
    }
    assert_int_equal(got, status);
}

/* The feed entry whose `member` is `value`, once it is there (written after a reload). */
static json_t *feed_until(const char *member, const char *value)
{
    for (int i = 0; i < 300; i++) {
        json_t *f = feed(0);
        json_t *e = feed_entry(f, member, value);
        if (e != NULL) {
            json_incref(e);
            json_decref(f);
            return e;
        }
        json_decref(f);
        sleep_ms(100);
    }
    fail_msg("no feed entry with %s = %s", member, value);
    return NULL;
}

/* A revoked certificate: the connection it holds is refused, and the tokens it obtained are
 * revoked in the feed by its x5t#S256. */
static void test_keepalive_revoked_cert(void **state)
{
    CURL *c = curl_easy_init();
    resp_t *x = keepalive_token(c, "asset-service");
    assert_int_equal(x->status, 200);
    assert_int_equal(x->new_conns, 1);
    mesh_identity_t *claims = NULL;
    assert_int_equal(verify(jstr(x, "access_token"), "gateway", "asset-service", &claims), MESH_OK);
    char x5t[64];
    snprintf(x5t, sizeof(x5t), "%s", mesh_identity_x5t(claims));
    mesh_identity_free(claims);
    resp_free(x);
    crl_revoke("asset-service");
    kill(srv.pid, SIGHUP);
    /* the connection opened before the revocation is judged by the new CRL */
    same_conn_until(c, "asset-service", 401, "revoked");
    curl_easy_cleanup(c);
    json_t *e = feed_until("x5t#S256", x5t);
    int64_t exp = json_integer_value(json_object_get(e, "exp"));
    assert_true(exp >= (int64_t)time(NULL) + 600); /* outlives every token of the certificate */
    json_decref(e);
}

/* Waits for the feed entry that revokes the certificate `token` is bound to. */
static void wait_cert_revoked(const char *token)
{
    mesh_identity_t *c = NULL;
    assert_int_equal(verify(token, "asset-service", "chat-service", &c), MESH_OK);
    json_decref(feed_until("x5t#S256", mesh_identity_x5t(c)));
    mesh_identity_free(c);
}

/* A revoked service token: its tokens are revoked in the feed by subject and issue time. */
static void test_svc_token_revocation_feed(void **state)
{
    char cmd[1024], *secret = NULL;
    char *tok = svc_token_issue("leaky", &secret);
    mesh_identity_t *claims = NULL;
    assert_int_equal(verify(tok, "asset-service", NULL, &claims), MESH_OK);
    int64_t iat = mesh_identity_issued_at(claims);
    mesh_identity_free(claims);
    free(tok);
    snprintf(cmd, sizeof(cmd), "'%s' token revoke leaky --config '%s'", srv.bin, srv.config);
    assert_int_equal(run_cmd(cmd, NULL), 0);
    json_t *e = feed_until("sub", "svc-token:leaky");
    assert_true(json_integer_value(json_object_get(e, "iat_before")) > iat);
    assert_true(json_integer_value(json_object_get(e, "exp")) >= iat + 120);
    json_decref(e);
    free(secret);
}

static void test_keepalive_expiring_cert(void **state)
{
    /* a leaf that expires a few seconds from now */
    time_t now = time(NULL);
    char start[32], end[32], cmd[1200];
    time_t from = now - 60, to = now + 6;
    strftime(start, sizeof(start), "%Y%m%d%H%M%SZ", gmtime(&from));
    strftime(end, sizeof(end), "%Y%m%d%H%M%SZ", gmtime(&to));
    snprintf(cmd, sizeof(cmd), "cd '%s' && ID=gateway bash '%s' . leaf short-lived %s %s", srv.dir,
             srv.gen, start, end);
    char *out = NULL;
    if (run_cmd(cmd, &out) != 0) {
        fail_msg("%s: %s", cmd, out);
    }
    free(out);
    CURL *c = curl_easy_init();
    resp_t *x = keepalive_token(c, "short-lived");
    long first = x->status;
    resp_free(x);
    if (first != 200) {
        curl_easy_cleanup(c);
        if (time(NULL) < to) {
            fail_msg("a current certificate got %ld", first);
        }
        skip(); /* the machine was slower than the certificate's life: nothing to check */
    }
    same_conn_until(c, "short-lived", 401, "expired");
    curl_easy_cleanup(c);
}

static void test_connection_max_age(void **state)
{
    srv.extra = "\"max_connection_age\": 1";
    write_config("{\"current\": \"jwt-signing.key\"}", "{}");
    reload_until(401);
    sleep_ms(1500); /* the reload is in: new connections have the new rule */
    CURL *c = curl_easy_init();
    req_t r = {.path = "/healthz", .curl = c};
    resp_t *x = do_req(&r);
    assert_int_equal(x->status, 200);
    assert_int_equal(x->new_conns, 1);
    resp_free(x);
    sleep_ms(1500);
    x = do_req(&r); /* past its age: answered, and told to close */
    assert_int_equal(x->status, 200);
    assert_int_equal(x->new_conns, 0);
    char h[32];
    assert_non_null(resp_header(x, "Connection", h, sizeof(h)));
    assert_string_equal(h, "close");
    resp_free(x);
    x = do_req(&r);
    assert_int_equal(x->status, 200);
    assert_int_equal(x->new_conns, 1);
    resp_free(x);
    curl_easy_cleanup(c);
    srv.extra = NULL;
}

/* One noisy service behind an address never spends the budget of the others behind it. */
static void test_quiet_neighbour_not_starved(void **state)
{
    write_config("{\"current\": \"jwt-signing.key\"}",
                 "{\"per_identity\": {\"rate\": 0.01, \"burst\": 2},"
                 " \"per_source\": {\"rate\": 0.01, \"burst\": 5}}");
    kill(srv.pid, SIGHUP);
    int limited = 0;
    for (int i = 0; i < 300 && limited < 20; i++) { /* until the reload lands, then more */
        resp_t *x = post_token("gateway", TOKEN_FORM);
        limited += x->status == 429;
        resp_free(x);
    }
    assert_int_equal(limited, 20);
    resp_t *x = post_token("chat-service", "grant_type=client_credentials&audience=asset-service"
                                           "&scope=assets:read");
    assert_int_equal(x->status, 200);
    resp_free(x);
    /* failed authentications are what spends the source's budget */
    for (int i = 0; i < 6; i++) {
        resp_free(post_token(NULL, TOKEN_FORM));
    }
    expect_error(post_token(NULL, TOKEN_FORM), 429, "slow_down", NULL);
    x = post_token("asset-service", "grant_type=client_credentials&audience=gateway");
    assert_int_equal(x->status, 200); /* a verified certificate is limited by identity only */
    resp_free(x);
    write_config("{\"current\": \"jwt-signing.key\"}", "{}");
    kill(srv.pid, SIGHUP);
    long status = 0;
    for (int i = 0; i < 300 && status != 200; i++) { /* the limits are gone once it lands */
        x = post_token("gateway", TOKEN_FORM);
        status = x->status;
        resp_free(x);
        sleep_ms(status == 200 ? 0 : 100);
    }
    assert_int_equal(status, 200);
}

static mesh_verifier_t *real_verifier(const char *audience, bool binding)
{
    char ca[400];
    snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
    mesh_verifier_opts_t *o = NULL;
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, srv.url), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, audience), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_binding(o, (binding) ? "required" : "when-presented"),
                     MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_cache_entries(o, 64),
                     MESH_OK); /* cached tokens must die too */
    mesh_verifier_t *v = NULL;
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    return v;
}

static mesh_err_t verify_with(mesh_verifier_t *v, const char *token, const char *leaf)
{
    char authz[4096], path[400];
    snprintf(authz, sizeof(authz), "Bearer %s", token);
    uint8_t *der = NULL;
    size_t len = 0;
    if (leaf != NULL) {
        snprintf(path, sizeof(path), "%s/%s/cert.pem", srv.dir, leaf);
        assert_int_equal(mesh_x509_load_der(path, &der, &len), MESH_OK);
    }
    mesh_identity_t *id = NULL;
    mesh_err_t rc = mesh_verify(v, authz, der, len, NULL, &id);
    mesh_identity_free(id);
    mesh_free(der);
    return rc;
}

/* Revoking a credential kills the tokens it already holds at a verifier polling the real
 * feed: a service token's (by subject) and a certificate's (by x5t#S256), cached or not. */
static void test_revoked_credentials_refused_by_verifier(void **state)
{
    char cmd[1024], *secret = NULL;
    char *svc_tok = svc_token_issue("leaky2", &secret);
    resp_t *x = post_token("chat-service", "grant_type=client_credentials&audience=asset-service"
                                           "&scope=assets:read");
    assert_int_equal(x->status, 200);
    char *cert_tok = strdup(jstr(x, "access_token"));
    resp_free(x);

    mesh_verifier_t *unbound = real_verifier("asset-service", false);
    mesh_verifier_t *bound = real_verifier("asset-service", true);
    assert_int_equal(verify_with(unbound, svc_tok, NULL), MESH_OK); /* and now cached */
    assert_int_equal(verify_with(bound, cert_tok, "chat-service"), MESH_OK);

    snprintf(cmd, sizeof(cmd), "'%s' token revoke leaky2 --config '%s'", srv.bin, srv.config);
    assert_int_equal(run_cmd(cmd, NULL), 0);
    crl_revoke("chat-service");
    kill(srv.pid, SIGHUP);
    wait_cert_revoked(cert_tok);
    assert_int_equal(mesh_verifier_poll_revocations(unbound), MESH_OK);
    assert_int_equal(mesh_verifier_poll_revocations(bound), MESH_OK);
    assert_int_equal(verify_with(unbound, svc_tok, NULL), MESH_ERR_REVOKED);
    assert_int_equal(verify_with(bound, cert_tok, "chat-service"), MESH_ERR_REVOKED);
    mesh_verifier_free(unbound);
    mesh_verifier_free(bound);

    /* a since beyond every seq (the store was reset): the answer's lower seq says so */
    json_t *f = feed(99999999);
    assert_true(json_integer_value(json_object_get(f, "seq")) < 99999999);
    json_decref(f);
    free(svc_tok);
    free(cert_tok);
    free(secret);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_certs_with_crl),
        cmocka_unit_test(test_hostile_certs_without_crl),
        cmocka_unit_test(test_quiet_neighbour_not_starved),
        cmocka_unit_test(test_keepalive_expiring_cert),
        cmocka_unit_test(test_keepalive_revoked_cert),
        cmocka_unit_test(test_svc_token_revocation_feed),
        cmocka_unit_test(test_revoked_credentials_refused_by_verifier),
        cmocka_unit_test(test_connection_max_age),
    };
    return e2e_run("issuer-e2e-hostile", tests, sizeof(tests) / sizeof(tests[0]), e2e_teardown,
                   argc, argv);
}
