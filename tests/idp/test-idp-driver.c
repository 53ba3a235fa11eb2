/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libmesh verifier against a real, independent OpenID provider (panva's oidc-provider,
 * started by test-idp.sh): keys found by OpenID Connect Discovery, JWT access tokens the
 * provider issued by client_credentials with resource indicators, profile "oidc".
 *
 * usage: test-idp-driver ISSUER CA.pem TOKENS_DIR PROVIDER_PID
 * TOKENS_DIR holds the provider's tokens: asset, asset2 (RS256 from an RSA key published
 * without "alg", audience asset-service), jobs (ES256, jobs-service), profile (RS256,
 * profile-service, with email claims). The last test stops the provider by its PID.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "idp-test-util.h"

static const char *issuer, *ca, *dir;
static pid_t provider;
static mesh_verifier_t *v;     /* asset-service jobs-service, RS256 ES256 */
static mesh_verifier_t *stale; /* the same with a clock the test moves, short max-age */
static int64_t clock_offset;

static char *token(const char *name)
{
    char path[1024], *s = NULL;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(mesh_file_read(path, MESH_MAX_TOKEN_BYTES, &s, &n), MESH_OK);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

static int64_t moved_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL) + clock_offset;
}

static mesh_verifier_opts_t *idp_opts(const char *audiences, const char *algs)
{
    mesh_verifier_opts_t *o = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, issuer), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, audiences), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_profile(o, "oidc"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_OIDC, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks_cooldown_ms(o, 0), MESH_OK);
    if (algs != NULL) {
        assert_int_equal(mesh_verifier_opts_set_algorithms(o, algs), MESH_OK);
    }
    return o;
}

static mesh_verifier_t *make(mesh_verifier_opts_t *o)
{
    mesh_verifier_t *out = NULL;

    assert_int_equal(mesh_verifier_new(o, &out), MESH_OK);
    mesh_verifier_opts_free(o);
    return out;
}

static mesh_err_t check(mesh_verifier_t *with, const char *tok, mesh_identity_t **id)
{
    mesh_err_t rc = mesh_verify(with, it_bearer(tok), NULL, 0, NULL, id);

    if (rc != MESH_OK) {
        print_message("# %s: %s\n", mesh_err_name(rc), mesh_err_detail());
    }
    return rc;
}

static int group_setup(void **state)
{
    mesh_verifier_opts_t *o;
    (void)state;

    v = make(idp_opts("asset-service jobs-service", "RS256 ES256"));
    o = idp_opts("asset-service jobs-service", "RS256 ES256");
    assert_int_equal(mesh_verifier_opts_set_clock(o, moved_clock, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks_max_age(o, 10, 10, 60), MESH_OK);
    stale = make(o);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mesh_verifier_free(v);
    mesh_verifier_free(stale);
    return 0;
}

static void test_discovered_keys_accept_the_right_audience(void **state)
{
    char *asset = token("asset"), *jobs = token("jobs");
    mesh_identity_t *id = NULL;
    (void)state;

    assert_int_equal(check(v, asset, &id), MESH_OK);
    assert_string_equal(mesh_identity_issuer(id), issuer);
    assert_string_equal(mesh_identity_audience(id), "asset-service");
    assert_true(mesh_identity_has_audience(id, "asset-service"));
    assert_false(mesh_identity_has_audience(id, "jobs-service"));
    assert_string_equal(mesh_identity_subject(id), "svc-client");
    assert_string_equal(mesh_identity_client_id(id), "svc-client");
    assert_true(mesh_identity_has_scope(id, "read"));
    assert_false(mesh_identity_has_scope(id, "write"));
    assert_true(strlen(mesh_identity_jti(id)) > 0);
    assert_false(mesh_identity_bound(id));
    mesh_identity_free(id);
    id = NULL;
    /* ES256, from the provider's EC key */
    assert_int_equal(check(v, jobs, &id), MESH_OK);
    assert_string_equal(mesh_identity_audience(id), "jobs-service");
    assert_true(mesh_identity_has_scope(id, "write"));
    mesh_identity_free(id);
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_JWKS_KEYS_SKIPPED), 0);
    mesh_free(asset);
    mesh_free(jobs);
}

static void test_wrong_audience_refused(void **state)
{
    char *profile = token("profile");
    char www[256];
    (void)state;

    assert_int_equal(check(v, profile, NULL), MESH_ERR_AUDIENCE);
    assert_int_equal(mesh_verify_http_status(MESH_ERR_AUDIENCE, NULL, www, sizeof(www)), 401);
    assert_non_null(strstr(www, "invalid_token"));
    mesh_free(profile);
}

static void test_tampered_token_refused(void **state)
{
    char *asset = token("asset");
    size_t n = strlen(asset);
    char *dot = strchr(asset, '.');
    (void)state;

    /* one bit of the signature */
    asset[n - 3] = asset[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(check(v, asset, NULL), MESH_ERR_SIGNATURE);
    asset[n - 3] = asset[n - 3] == 'B' ? 'A' : 'B';
    /* one character of the payload (still base64url) */
    dot[5] = dot[5] == 'x' ? 'y' : 'x';
    assert_true(check(v, asset, NULL) != MESH_OK);
    mesh_free(asset);
}

static void test_algorithm_outside_the_list_refused(void **state)
{
    mesh_verifier_t *rs_only = make(idp_opts("asset-service jobs-service", "RS256"));
    mesh_verifier_t *two_rsa = make(idp_opts("asset-service jobs-service", "RS256 PS256 ES256"));
    char *asset = token("asset"), *jobs = token("jobs");
    (void)state;

    /* the provider's ES256 key is left out, and its token with it */
    assert_int_equal(check(rs_only, jobs, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    assert_non_null(strstr(mesh_err_detail(), "idp-ec-1"));
    assert_int_equal(mesh_verifier_stat(rs_only, MESH_VSTAT_JWKS_KEYS_SKIPPED), 1);
    assert_int_equal(check(rs_only, asset, NULL), MESH_OK);
    /* its RSA key has no "alg": with two RSA algorithms allowed it fixes none, so unused */
    assert_int_equal(check(two_rsa, asset, NULL), MESH_ERR_ALG_NOT_ALLOWED);
    assert_non_null(strstr(mesh_err_detail(), "without alg"));
    assert_int_equal(check(two_rsa, jobs, NULL), MESH_OK);
    mesh_verifier_free(rs_only);
    mesh_verifier_free(two_rsa);
    mesh_free(asset);
    mesh_free(jobs);
}

static void test_required_claims_and_claim_text(void **state)
{
    mesh_verifier_opts_t *o = idp_opts("profile-service asset-service", NULL);
    mesh_verifier_t *rq;
    char *profile = token("profile"), *asset = token("asset"), *s = NULL;
    mesh_identity_t *id = NULL;
    (void)state;

    assert_int_equal(mesh_verifier_opts_set_required_claims(o, "email email_verified"), MESH_OK);
    rq = make(o);
    assert_int_equal(check(rq, asset, NULL), MESH_ERR_CLAIM_MISSING);
    assert_non_null(strstr(mesh_err_detail(), "\"email\""));
    assert_int_equal(check(rq, profile, &id), MESH_OK);
    assert_int_equal(mesh_identity_claim(id, "email", &s), MESH_OK);
    assert_string_equal(s, "ana@example.com");
    mesh_free(s);
    assert_int_equal(mesh_identity_claim(id, "email_verified", &s), MESH_OK);
    assert_string_equal(s, "true");
    mesh_free(s);
    assert_int_equal(mesh_identity_claim(id, "org", &s), MESH_OK);
    assert_string_equal(s, "{\"id\":7,\"name\":\"Acme\"}");
    mesh_free(s);
    assert_int_equal(mesh_identity_claim(id, "client_id", &s), MESH_OK);
    assert_string_equal(s, "svc-client");
    mesh_free(s);
    s = NULL;
    assert_int_equal(mesh_identity_claim(id, "phone_number", &s), MESH_ERR_NOT_FOUND);
    assert_null(s);
    mesh_identity_free(id);
    mesh_verifier_free(rq);
    mesh_free(profile);
    mesh_free(asset);
}

/* OpenID Connect Discovery §4.3: the metadata's issuer must be the configured one exactly. */
static void test_discovery_issuer_must_match_exactly(void **state)
{
    char with_slash[512];
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *w = NULL;
    char *asset = token("asset");
    (void)state;

    snprintf(with_slash, sizeof(with_slash), "%s/", issuer);
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, with_slash), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "asset-service"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_profile(o, "oidc"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_OIDC, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    w = make(o);
    assert_int_equal(mesh_verifier_refresh_keys(w), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "openid-configuration"));
    assert_non_null(strstr(mesh_err_detail(), "not the configured issuer"));
    assert_int_equal(check(w, asset, NULL), MESH_ERR_KEYS_UNAVAILABLE);
    mesh_verifier_free(w);
    mesh_free(asset);
}

/* A flood of unknown kids costs at most one JWKS fetch per cooldown (issue 11, "Bad input"). */
static void test_unknown_kid_flood_one_fetch(void **state)
{
    mesh_verifier_opts_t *o = idp_opts("asset-service", NULL);
    mesh_verifier_t *f;
    char *asset = token("asset"), *dot = strchr(asset, '.');
    char tok[MESH_MAX_TOKEN_BYTES + 1], header[128];
    (void)state;

    assert_int_equal(mesh_verifier_opts_set_jwks_cooldown_ms(o, 60000), MESH_OK);
    f = make(o);
    assert_int_equal(mesh_verifier_stat(f, MESH_VSTAT_JWKS_FETCHES), 1);
    for (int i = 0; i < 50; i++) {
        snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k%d\"}",
                 i);
        size_t pos = mesh_b64url_encode((const uint8_t *)header, strlen(header), tok);
        snprintf(tok + pos, sizeof(tok) - pos, "%s", dot);
        assert_int_equal(mesh_verify(f, it_bearer(tok), NULL, 0, NULL, NULL), MESH_ERR_KID_UNKNOWN);
    }
    assert_int_equal(mesh_verifier_stat(f, MESH_VSTAT_JWKS_FETCHES), 2);
    assert_int_equal(check(f, asset, NULL), MESH_OK);
    mesh_verifier_free(f);
    mesh_free(asset);
}

/* true once nothing accepts connections on the provider's port any more */
static bool port_closed(void)
{
    const char *p = strrchr(issuer, ':');
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool closed;

    assert_non_null(p);
    assert_true(fd >= 0);
    a.sin_port = htons((uint16_t)strtol(p + 1, NULL, 10));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    closed = connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno == ECONNREFUSED;
    close(fd);
    return closed;
}

static void test_provider_gone_cached_keys_then_fail_closed(void **state)
{
    char *asset2 = token("asset2"), *jobs = token("jobs"), *asset = token("asset");
    char unknown[MESH_MAX_TOKEN_BYTES + 1], header[128], *dot = strchr(asset, '.');
    size_t pos = 0;
    char www[256];
    (void)state;

    /* the stale verifier has fetched its keys and verified nothing yet */
    assert_int_equal(check(stale, jobs, NULL), MESH_OK);
    assert_int_equal(kill(provider, SIGTERM), 0);
    for (int i = 0; i < 200 && !port_closed(); i++) {
        usleep(50 * 1000);
    }
    assert_true(port_closed());
    /* keys fetched before keep working: a token never verified before is accepted */
    assert_int_equal(check(v, asset2, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_ERR_NETWORK);
    assert_int_equal(check(v, asset2, NULL), MESH_OK);
    /* a kid the cached keys do not have: the refetch fails, the token is refused (401) */
    snprintf(header, sizeof(header), "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rotated\"}");
    pos = mesh_b64url_encode((const uint8_t *)header, strlen(header), unknown);
    /* the provider's payload and signature, under the unknown kid */
    assert_true((size_t)snprintf(unknown + pos, sizeof(unknown) - pos, "%s", dot) <
                sizeof(unknown) - pos);
    assert_int_equal(check(v, unknown, NULL), MESH_ERR_KID_UNKNOWN);
    assert_int_equal(mesh_verify_http_status(MESH_ERR_KID_UNKNOWN, NULL, www, sizeof(www)), 401);
    /* past max-age (10 s) + stale-if-error (60 s) the keys are not used: 503 */
    assert_int_equal(check(stale, asset2, NULL), MESH_OK);
    clock_offset = 71;
    assert_int_equal(check(stale, asset2, NULL), MESH_ERR_KEYS_UNAVAILABLE); /* cached too */
    assert_int_equal(check(stale, asset, NULL), MESH_ERR_KEYS_UNAVAILABLE);
    assert_int_equal(mesh_verify_http_status(MESH_ERR_KEYS_UNAVAILABLE, NULL, www, sizeof(www)),
                     503);
    mesh_free(asset2);
    mesh_free(jobs);
    mesh_free(asset);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovered_keys_accept_the_right_audience),
        cmocka_unit_test(test_wrong_audience_refused),
        cmocka_unit_test(test_tampered_token_refused),
        cmocka_unit_test(test_algorithm_outside_the_list_refused),
        cmocka_unit_test(test_required_claims_and_claim_text),
        cmocka_unit_test(test_discovery_issuer_must_match_exactly),
        cmocka_unit_test(test_unknown_kid_flood_one_fetch),
        cmocka_unit_test(test_provider_gone_cached_keys_then_fail_closed),
    };

    if (argc != 5) {
        fprintf(stderr, "usage: %s ISSUER CA.pem TOKENS_DIR PROVIDER_PID\n", argv[0]);
        return 2;
    }
    issuer = argv[1];
    ca = argv[2];
    dir = argv[3];
    provider = (pid_t)strtol(argv[4], NULL, 10);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
