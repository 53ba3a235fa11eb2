/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier against the issuer's revocation feed over HTTPS (the in-process fake issuer,
 * paging as mesh-issuer does): every page in one poll, pruning before applying, failing closed
 * when revocations are known to be missing, and credential (sub, certificate) revocations that
 * reach cached tokens too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "fake_issuer.h"
#include "testutil.h"
#include "verifier_internal.h"

static tu_env_t env;
static mesh_key_t *key;
static char ca[512];
static char b_x5t[MESH_X5T_LEN + 1];
static _Atomic int64_t clock_offset; /* the verifier's clock runs this far ahead */

static int64_t test_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL) + atomic_load(&clock_offset);
}

static int64_t now(void)
{
    return test_clock(NULL);
}

static int group_setup(void **state)
{
    (void)state;
    tu_env_init(&env);
    key = tu_rsa_key();
    tu_path(&env, "ca.pem", ca, sizeof(ca));
    return mesh_x5t_s256(env.b_der, env.b_len, b_x5t) == MESH_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    mesh_key_free(key);
    tu_env_cleanup(&env);
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    atomic_store(&clock_offset, 0);
    return 0;
}

/* A verifier on `f` that polls only when told to (the first poll is at creation). */
static mesh_verifier_t *new_verifier(fake_t *f)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, fake_url(f)), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, true), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_poll_ms(o, 3600000), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_clock(o, test_clock, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    return v;
}

/* A token with these claims, bound to `x5t`, valid from `iat` for 300 s. */
static char *token(fake_t *f, const char *jti, const char *sub, int64_t iat, const char *x5t)
{
    char claims[1024];

    snprintf(claims, sizeof(claims),
             "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"svc-b\",\"iat\":%lld,\"exp\":%lld,"
             "\"jti\":\"%s\",\"cnf\":{\"x5t#S256\":\"%s\"}}",
             fake_url(f), sub, (long long)iat, (long long)iat + 300, jti, x5t);
    return tu_sign_claims(key, claims);
}

static mesh_err_t verify_a(mesh_verifier_t *v, const char *tok)
{
    return mesh_verify(v, tu_bearer(tok), env.a_der, env.a_len, NULL, NULL);
}

static void revoke_jtis(fake_t *f, int from, int n, int64_t exp)
{
    for (int i = from; i < from + n; i++) {
        char jti[32];
        snprintf(jti, sizeof(jti), "rev-%d", i);
        fake_revoke(f, jti, exp);
    }
}

static void assert_jtis_revoked(mesh_verifier_t *v, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char jti[32];
        snprintf(jti, sizeof(jti), "rev-%d", i);
        if (!mesh_revset_contains(v->revoked, jti)) {
            fail_msg("%s is not revoked after the poll", jti);
        }
    }
}

/* regression: a fresh verifier read one 1000-entry page per poll interval */
static void test_first_poll_loads_every_feed_page(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_t *v;
    const char *jtis[] = {"rev-0", "rev-999", "rev-1000", "rev-2499"};
    (void)state;

    fake_set_feed_page(f, 1000); /* mesh-issuer's page */
    revoke_jtis(f, 0, 2500, now() + 600);
    v = new_verifier(f);
    assert_int_equal(fake_count(f, FAKE_REVOCATIONS), 3);
    assert_int_equal(mesh_revset_count(v->revoked), 2500);
    assert_jtis_revoked(v, 0, 2500);
    for (size_t i = 0; i < sizeof(jtis) / sizeof(jtis[0]); i++) {
        char *tok = token(f, jtis[i], "spiffe://mesh.local/svc-a", now(), env.a_x5t);
        assert_int_equal(verify_a(v, tok), MESH_ERR_REVOKED);
        free(tok);
    }
    char *good = token(f, "not-revoked", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
    assert_int_equal(verify_a(v, good), MESH_OK);
    free(good);
    mesh_verifier_free(v);
    fake_stop(f);
}

/* regression: one poll follows "more" to the end, however far behind the verifier is */
static void test_one_poll_follows_more_pages(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_t *v;
    (void)state;

    fake_set_feed_page(f, 1000);
    revoke_jtis(f, 0, 10, now() + 600);
    v = new_verifier(f);
    assert_int_equal(mesh_revset_count(v->revoked), 10);
    revoke_jtis(f, 10, 2100, now() + 600);
    fake_reset_counts(f);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    assert_int_equal(fake_count(f, FAKE_REVOCATIONS), 3); /* from seq 10: 1000, 1000, 110 */
    assert_int_equal(mesh_revset_count(v->revoked), 2110);
    assert_jtis_revoked(v, 0, 2110);
    /* Up to date: the next poll is one request with nothing new. */
    fake_reset_counts(f);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    assert_int_equal(fake_count(f, FAKE_REVOCATIONS), 1);
    mesh_verifier_free(v);
    fake_stop(f);
}

/* The poll bound: a poll stops after MESH_MAX_FEED_PAGES_PER_POLL pages, refuses tokens while
 * it knows entries are unread, and the next poll continues where it stopped. */
static void test_feed_page_bound_fails_closed_until_the_next_poll(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_t *v;
    char *tok;
    char www[64];
    mesh_err_t rc;
    (void)state;

    fake_set_feed_page(f, 1);
    revoke_jtis(f, 0, MESH_MAX_FEED_PAGES_PER_POLL + 5, now() + 600);
    v = new_verifier(f); /* its first poll stops at the bound */
    assert_int_equal(mesh_revset_count(v->revoked), MESH_MAX_FEED_PAGES_PER_POLL);
    tok = token(f, "fresh", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
    rc = verify_a(v, tok);
    assert_int_equal(rc, MESH_ERR_REVOCATIONS_INCOMPLETE);
    assert_non_null(strstr(mesh_err_detail(), "pages"));
    assert_int_equal(mesh_verify_http_status(rc, NULL, www, sizeof(www)), 503);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    assert_jtis_revoked(v, 0, MESH_MAX_FEED_PAGES_PER_POLL + 5);
    assert_int_equal(verify_a(v, tok), MESH_OK);
    free(tok);
    mesh_verifier_free(v);
    fake_stop(f);
}

/* regression: expired entries were pruned only after a successful poll, so a full set could
 * never take the entries that would have made it succeed */
static void test_prune_before_apply_makes_room(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_t *v = new_verifier(f);
    char *tok;
    (void)state;

    mesh_revset_set_max(v->revoked, 3);
    revoke_jtis(f, 0, 3, now() + 50);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    assert_int_equal(mesh_revset_count(v->revoked), 3);
    revoke_jtis(f, 3, 2, now() + 1000);
    atomic_store(&clock_offset, 100); /* the first three have expired (and the skew with them) */
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    assert_int_equal(mesh_revset_count(v->revoked), 2);
    assert_jtis_revoked(v, 3, 2);
    tok = token(f, "fresh", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
    assert_int_equal(verify_a(v, tok), MESH_OK);
    free(tok);
    mesh_verifier_free(v);
    fake_stop(f);
}

/* regression: pruning ran only after a successful poll; an issuer that stays down must not
 * keep expired entries (and a full set) forever */
static void test_prune_runs_even_when_the_poll_fails(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_t *v = new_verifier(f);
    (void)state;

    revoke_jtis(f, 0, 3, now() + 50);
    revoke_jtis(f, 3, 1, now() + 1000);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    assert_int_equal(mesh_revset_count(v->revoked), 4);
    fake_set_down(f, FAKE_REVOCATIONS, true);
    atomic_store(&clock_offset, 100);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_ERR_NETWORK);
    assert_int_equal(mesh_revset_count(v->revoked), 1);
    assert_jtis_revoked(v, 3, 1);
    mesh_verifier_free(v);
    fake_stop(f);
}

/* regression: a full set stopped advancing for good and kept accepting every later revoked
 * token; now every token is refused (503) until a poll fits */
static void test_full_revocation_set_fails_closed_until_a_poll_fits(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_t *v = new_verifier(f);
    char *cached = token(f, "cached", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
    char *tok;
    char www[64];
    mesh_err_t rc;
    (void)state;

    assert_int_equal(verify_a(v, cached), MESH_OK); /* in the verified-token cache now */
    mesh_revset_set_max(v->revoked, 3);
    revoke_jtis(f, 0, 5, now() + 100);
    rc = mesh_verifier_poll_revocations(v);
    assert_int_equal(rc, MESH_ERR_REVOCATIONS_INCOMPLETE);
    assert_non_null(strstr(mesh_err_detail(), "maximum of 3"));
    /* Every token is refused, the cached one too, and the detail says why. */
    rc = verify_a(v, cached);
    assert_int_equal(rc, MESH_ERR_REVOCATIONS_INCOMPLETE);
    assert_non_null(strstr(mesh_err_detail(), "full"));
    assert_int_equal(mesh_verify_http_status(rc, NULL, www, sizeof(www)), 503);
    tok = token(f, "fresh", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
    assert_int_equal(verify_a(v, tok), MESH_ERR_REVOCATIONS_INCOMPLETE);
    free(tok);
    /* Still full on the next poll: still closed, and the poll says so again. */
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_ERR_REVOCATIONS_INCOMPLETE);
    /* Once the entries expire, the same feed fits: open again. */
    atomic_store(&clock_offset, 200);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    tok = token(f, "later", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
    assert_int_equal(verify_a(v, tok), MESH_OK);
    free(tok);
    free(cached);
    mesh_verifier_free(v);
    fake_stop(f);
}

/* A feed page the verifier cannot apply names the entry, adds nothing, and closes the verifier:
 * it knows there are revocations it does not hold. */
static void test_malformed_feed_entry_named_and_fails_closed(void **state)
{
    static const struct {
        const char *entry;
        const char *detail;
    } cases[] = {
        {"{\"exp\":1900000000}", "revoked[1] names none of jti, sub, x5t#S256"},
        {"{\"sub\":\"spiffe://mesh.local/svc-a\",\"exp\":1900000000}", "iat_before"},
        {"{\"sub\":\"spiffe://mesh.local/svc-a\",\"iat_before\":\"1\",\"exp\":1900000000}",
         "iat_before"},
        {"{\"jti\":\"j\"}", "revoked[1] needs an integer exp"},
        {"{\"x5t#S256\":\"short\",\"exp\":1900000000}", "x5t#S256"},
        {"{\"jti\":7,\"exp\":1900000000}", "revoked[1].jti"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_t *f = fake_start(env.certs, key, 0);
        mesh_verifier_t *v = new_verifier(f);
        char *tok = token(f, "fresh", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
        mesh_err_t rc;

        fake_revoke(f, "first", now() + 600);
        fake_revoke_raw(f, cases[i].entry);
        rc = mesh_verifier_poll_revocations(v);
        if (rc != MESH_ERR_JSON || strstr(mesh_err_detail(), cases[i].detail) == NULL) {
            fail_msg("%s: got %s (%s)", cases[i].entry, mesh_err_name(rc), mesh_err_detail());
        }
        assert_false(mesh_revset_contains(v->revoked, "first")); /* the page added nothing */
        assert_int_equal(verify_a(v, tok), MESH_ERR_REVOCATIONS_INCOMPLETE);
        assert_non_null(strstr(mesh_err_detail(), cases[i].detail));
        free(tok);
        mesh_verifier_free(v);
        fake_stop(f);
    }
}

/* regression: revoking a service token or certificate credential left the tokens it had
 * obtained valid; the feed's {"sub","iat_before"} entry reaches fresh and cached tokens */
static void test_sub_revocation_refuses_fresh_and_cached_tokens(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_t *v = new_verifier(f);
    const char *sub = "svc-token:ci";
    int64_t t = now();
    char *cached = token(f, "c1", sub, t - 20, env.a_x5t);
    char *fresh = token(f, "c2", sub, t - 20, env.a_x5t);
    char *after = token(f, "c3", sub, t - 10, env.a_x5t);
    char *other = token(f, "c4", "spiffe://mesh.local/svc-a", t - 20, env.a_x5t);
    char entry[256];
    tu_vstats_t before, st;
    (void)state;

    assert_int_equal(verify_a(v, cached), MESH_OK);
    snprintf(entry, sizeof(entry), "{\"sub\":\"%s\",\"iat_before\":%lld,\"exp\":%lld}", sub,
             (long long)t - 10, (long long)t + 600);
    fake_revoke_raw(f, entry);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    assert_int_equal(mesh_revset_count_kind(v->revoked, MESH_REV_SUB), 1);
    before = tu_vstats(v);
    assert_int_equal(verify_a(v, cached), MESH_ERR_REVOKED);
    st = tu_vstats(v);
    assert_int_equal(st.cache_hits, before.cache_hits + 1); /* refused on the cache path */
    assert_non_null(strstr(mesh_err_detail(), sub));
    assert_int_equal(verify_a(v, fresh), MESH_ERR_REVOKED);
    /* Issued at the revocation time or later: a new credential's tokens are fine. */
    assert_int_equal(verify_a(v, after), MESH_OK);
    assert_int_equal(verify_a(v, other), MESH_OK);
    free(cached);
    free(fresh);
    free(after);
    free(other);
    mesh_verifier_free(v);
    fake_stop(f);
}

/* regression: a revoked certificate's bound tokens stayed valid until they expired */
static void test_x5t_revocation_refuses_bound_tokens(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_t *v = new_verifier(f);
    char *cached = token(f, "x1", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
    char *fresh = token(f, "x2", "spiffe://mesh.local/svc-a", now(), env.a_x5t);
    char *b_tok = token(f, "x3", "spiffe://mesh.local/svc-b", now(), b_x5t);
    char entry[256];
    tu_vstats_t before, st;
    (void)state;

    assert_int_equal(verify_a(v, cached), MESH_OK);
    snprintf(entry, sizeof(entry), "{\"x5t#S256\":\"%s\",\"exp\":%lld}", env.a_x5t,
             (long long)now() + 600);
    fake_revoke_raw(f, entry);
    assert_int_equal(mesh_verifier_poll_revocations(v), MESH_OK);
    before = tu_vstats(v);
    assert_int_equal(verify_a(v, cached), MESH_ERR_REVOKED);
    st = tu_vstats(v);
    assert_int_equal(st.cache_hits, before.cache_hits + 1);
    assert_non_null(strstr(mesh_err_detail(), "certificate"));
    assert_int_equal(verify_a(v, fresh), MESH_ERR_REVOKED);
    assert_int_equal(mesh_verify(v, tu_bearer(b_tok), env.b_der, env.b_len, NULL, NULL), MESH_OK);
    free(cached);
    free(fresh);
    free(b_tok);
    mesh_verifier_free(v);
    fake_stop(f);
}

/* The background poll carries credential revocations to cached tokens within an interval. */
static void test_background_poll_reaches_cached_tokens(void **state)
{
    fake_t *f = fake_start(env.certs, key, 0);
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;
    char *tok = token(f, "bg", "svc-token:deploy", now() - 5, env.a_x5t);
    char entry[256];
    mesh_err_t rc = MESH_OK;
    (void)state;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, fake_url(f)), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_ca_path(o, ca), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_poll_ms(o, 100), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    assert_int_equal(verify_a(v, tok), MESH_OK);
    snprintf(entry, sizeof(entry),
             "{\"sub\":\"svc-token:deploy\",\"iat_before\":%lld,"
             "\"exp\":%lld}",
             (long long)now(), (long long)now() + 600);
    fake_revoke_raw(f, entry);
    for (int i = 0; i < 300 && rc == MESH_OK; i++) {
        tu_sleep_ms(50);
        rc = verify_a(v, tok);
    }
    assert_int_equal(rc, MESH_ERR_REVOKED);
    free(tok);
    mesh_verifier_free(v);
    fake_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_first_poll_loads_every_feed_page, test_setup),
        cmocka_unit_test_setup(test_one_poll_follows_more_pages, test_setup),
        cmocka_unit_test_setup(test_feed_page_bound_fails_closed_until_the_next_poll, test_setup),
        cmocka_unit_test_setup(test_prune_before_apply_makes_room, test_setup),
        cmocka_unit_test_setup(test_prune_runs_even_when_the_poll_fails, test_setup),
        cmocka_unit_test_setup(test_full_revocation_set_fails_closed_until_a_poll_fits, test_setup),
        cmocka_unit_test_setup(test_malformed_feed_entry_named_and_fails_closed, test_setup),
        cmocka_unit_test_setup(test_sub_revocation_refuses_fresh_and_cached_tokens, test_setup),
        cmocka_unit_test_setup(test_x5t_revocation_refuses_bound_tokens, test_setup),
        cmocka_unit_test_setup(test_background_poll_reaches_cached_tokens, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
