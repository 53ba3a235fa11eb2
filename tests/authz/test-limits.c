/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-authz's limits after the verdict: the sliding-window rate limit (per route, per
 * subject, "*"; bounded and fail-closed when full), the jti replay cache of single-use routes
 * (bounded, fail-closed), and legacy API keys through the decision engine (hashed, named,
 * dated, the enabled switch, key scopes, the rate limit on their subject).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <mesh/limits.h>

#include "config.h"
#include "decide.h"
#include "quota.h"
#include "replay.h"
#include "secret.h"

static void test_sliding_window(void **state)
{
    quota_reset();
    route_t r = {.name = "r", .per_route = {.n = 3, .period_s = 60}};
    int64_t retry = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(quota_take(&r, "a", 600, &retry), QUOTA_OK);
    }
    assert_int_equal(quota_take(&r, "b", 610, &retry), QUOTA_LIMITED); /* per route: anyone */
    assert_int_equal(retry, 50); /* the current window ends in 50 s */
    /* the next window: the previous one still weighs fully at its start */
    assert_int_equal(quota_take(&r, "a", 660, &retry), QUOTA_LIMITED);
    assert_true(retry >= 1 && retry <= 60);
    /* half-way into it, half of the previous three count: 1 + 0 < 3 */
    assert_int_equal(quota_take(&r, "a", 690, &retry), QUOTA_OK);
    assert_int_equal(quota_take(&r, "a", 690, &retry), QUOTA_OK);
    assert_int_equal(quota_take(&r, "a", 690, &retry), QUOTA_LIMITED);
    /* two windows later nothing is left */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(quota_take(&r, "a", 900, &retry), QUOTA_OK);
    }
}

static void test_per_subject_and_star(void **state)
{
    quota_reset();
    char *subs[] = {"svc-token:ci", "*"};
    quota_t qs[] = {{.n = 2, .period_s = 3600}, {.n = 1, .period_s = 60}};
    route_t r = {.name = "r", .per_subject = qs, .quota_subjects = subs, .n_per_subject = 2};
    int64_t retry = 0;
    assert_int_equal(quota_take(&r, "svc-token:ci", 10, &retry), QUOTA_OK);
    assert_int_equal(quota_take(&r, "svc-token:ci", 10, &retry), QUOTA_OK);
    assert_int_equal(quota_take(&r, "svc-token:ci", 10, &retry), QUOTA_LIMITED);
    /* every other subject has its own "*" count */
    assert_int_equal(quota_take(&r, "u1", 10, &retry), QUOTA_OK);
    assert_int_equal(quota_take(&r, "u1", 10, &retry), QUOTA_LIMITED);
    assert_int_equal(quota_take(&r, "u2", 10, &retry), QUOTA_OK);
    /* a refused request is not counted: u2 is not over after its refusal */
    route_t other = {
        .name = "other", .per_subject = qs, .quota_subjects = subs, .n_per_subject = 2};
    assert_int_equal(quota_take(&other, "u1", 10, &retry), QUOTA_OK); /* per route name */
}

/* More live (route, subject) counters than MESH_AUTHZ_MAX_RATE_KEYS: refused, never
 * unlimited; once their windows pass, the slots are reused. */
static void test_quota_table_full(void **state)
{
    quota_reset();
    char *subs[] = {"*"};
    quota_t qs[] = {{.n = 5, .period_s = 60}};
    route_t r = {.name = "r", .per_subject = qs, .quota_subjects = subs, .n_per_subject = 1};
    int64_t retry = 0;
    size_t full = 0;
    char sub[32], refused[32] = "";
    for (int i = 0; i < MESH_AUTHZ_MAX_RATE_KEYS + 1000; i++) {
        snprintf(sub, sizeof(sub), "s%d", i);
        if (quota_take(&r, sub, 100, &retry) == QUOTA_FULL) {
            full++;
            snprintf(refused, sizeof(refused), "%s", sub);
        }
    }
    assert_true(full >= 1000);
    assert_int_equal(quota_take(&r, refused, 100, &retry), QUOTA_FULL); /* still no room */
    assert_int_equal(quota_take(&r, refused, 100 + 180, &retry), QUOTA_OK);
    quota_reset();
}

static void test_replay_cache(void **state)
{
    replay_reset();
    int64_t now = 1000000;
    assert_int_equal(replay_use("https://i", "j1", now + 60, now), REPLAY_FIRST);
    assert_int_equal(replay_use("https://i", "j1", now + 60, now + 1), REPLAY_SEEN);
    assert_int_equal(replay_use("https://other", "j1", now + 60, now), REPLAY_FIRST);
    assert_int_equal(replay_use("https://i", "j2", now + 60, now), REPLAY_FIRST);
    /* kept past exp by the verifier's skew (it still accepts the token that long) */
    assert_int_equal(replay_use("https://i", "j1", now + 60, now + 60 + MESH_DEFAULT_SKEW),
                     REPLAY_SEEN);
    replay_reset();
}

static void test_replay_cache_full(void **state)
{
    replay_reset();
    int64_t now = 2000000;
    char jti[32];
    size_t full = 0;
    char refused[32] = "";
    for (int i = 0; i < MESH_AUTHZ_MAX_REPLAY_ENTRIES + 1000; i++) {
        snprintf(jti, sizeof(jti), "j%d", i);
        if (replay_use("https://i", jti, now + 300, now) == REPLAY_FULL) {
            full++;
            snprintf(refused, sizeof(refused), "%s", jti);
        }
    }
    assert_true(full >= 1000); /* fail closed: never forgets a live jti to make room */
    assert_int_equal(replay_use("https://i", refused, now + 300, now), REPLAY_FULL);
    /* once those tokens are past exp (and the skew), their room is reused */
    assert_int_equal(replay_use("https://i", refused, now + 900, now + 400), REPLAY_FIRST);
    replay_reset();
}

/* ---- legacy API keys through authz_decide ---- */

static const char *key_hdr;

static const char *headers(void *ctx, const char *name, int *count)
{
    (void)ctx;
    bool is_key = strcmp(name, "X-Api-Key") == 0 && key_hdr != NULL;
    *count = is_key ? 1 : 0;
    return is_key ? key_hdr : NULL;
}

static config_t *key_config(bool enabled)
{
    static const char *const good = "good-key-0123456789abcdef0123456789abcdef";
    static const char *const old = "old-key-0123456789abcdef0123456789abcdef00";
    uint8_t h1[32], h2[32];
    assert_true(secret_sha256(good, strlen(good), h1));
    assert_true(secret_sha256(old, strlen(old), h2));
    char x1[65], x2[65], json[2048], err[512];
    for (int i = 0; i < 32; i++) {
        snprintf(x1 + 2 * i, 3, "%02x", h1[i]);
        snprintf(x2 + 2 * i, 3, "%02x", h2[i]);
    }
    snprintf(json, sizeof(json),
             "{\"listen\": [{\"unix\": \"/tmp/a.sock\"}], \"issuers\": {\"legacy\": {\"kind\": "
             "\"api-keys\", \"enabled\": %s, \"keys\": ["
             "{\"name\": \"ci\", \"hash\": \"sha256:%s\", \"expires\": \"2099-01-01\", "
             "\"scopes\": [\"deploy\"]},"
             "{\"name\": \"old\", \"hash\": \"sha256:%s\", \"expires\": \"2020-01-01\"}]}}, "
             "\"routes\": [{\"name\": \"ci\", \"prefix\": \"/ci/\", \"issuers\": [\"legacy\"], "
             "\"scopes\": [\"deploy\"], \"rate_limit\": {\"per_subject\": {\"api-key:ci\": "
             "\"2/h\"}}},"
             "{\"name\": \"any\", \"prefix\": \"/any/\", \"issuers\": [\"legacy\"]}]}",
             enabled ? "true" : "false", x1, x2);
    config_t *c = config_parse(json, strlen(json), "", err, sizeof(err));
    if (c == NULL) {
        fail_msg("%s", err);
    }
    return c;
}

static void decide(const config_t *c, const char *uri, const char *key, decision_t *d)
{
    key_hdr = key;
    authz_req_t rq = {.fe = FE_NGINX, .method = "GET", .uri = uri, .header = headers};
    authz_decide(c, &rq, d);
}

static void test_api_keys(void **state)
{
    quota_reset();
    config_t *c = key_config(true);
    decision_t d;
    char sub[64];
    decide(c, "/ci/x", "good-key-0123456789abcdef0123456789abcdef", &d);
    assert_int_equal(d.status, 200);
    assert_string_equal(d.key->name, "ci");
    assert_string_equal(authz_subject(&d, sub, sizeof(sub)), "api-key:ci");
    authz_decision_free(&d);
    decide(c, "/ci/x", "good-key-0123456789abcdef0123456789abcdeF", &d);
    assert_int_equal(d.status, 401);
    assert_string_equal(d.reason, "api_key_unknown");
    decide(c, "/ci/x", NULL, &d);
    assert_int_equal(d.status, 401);
    assert_string_equal(d.reason, "no_token");
    decide(c, "/any/x", "old-key-0123456789abcdef0123456789abcdef00", &d);
    assert_int_equal(d.status, 401);
    assert_string_equal(d.reason, "api_key_expired");
    decide(c, "/ci/x", "old-key-0123456789abcdef0123456789abcdef00", &d);
    assert_int_equal(d.status, 401); /* expired before its missing scope matters */
    /* the per-subject quota of api-key:ci: one more pass, then 429 */
    decide(c, "/ci/x", "good-key-0123456789abcdef0123456789abcdef", &d);
    assert_int_equal(d.status, 200);
    decide(c, "/ci/x", "good-key-0123456789abcdef0123456789abcdef", &d);
    assert_int_equal(d.status, 429);
    assert_string_equal(d.reason, "rate_limited");
    assert_true(d.retry_after > 0);
    config_unref(c);

    c = key_config(false);
    decide(c, "/any/x", "good-key-0123456789abcdef0123456789abcdef", &d);
    assert_int_equal(d.status, 401);
    assert_string_equal(d.reason, "legacy_key_refused");
    assert_string_equal(d.key->name, "ci"); /* counted by name as refused */
    config_unref(c);
    quota_reset();
}

static void test_key_scopes(void **state)
{
    config_t *c = key_config(true);
    /* a route scope the key lacks: 403 */
    free(c->routes[1].scopes);
    static char *need[] = {"admin"};
    c->routes[1].scopes = need;
    c->routes[1].n_scopes = 1;
    decision_t d;
    decide(c, "/any/x", "good-key-0123456789abcdef0123456789abcdef", &d);
    assert_int_equal(d.status, 403);
    c->routes[1].scopes = NULL;
    c->routes[1].n_scopes = 0;
    config_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sliding_window),    cmocka_unit_test(test_per_subject_and_star),
        cmocka_unit_test(test_quota_table_full),  cmocka_unit_test(test_replay_cache),
        cmocka_unit_test(test_replay_cache_full), cmocka_unit_test(test_api_keys),
        cmocka_unit_test(test_key_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
