/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verified-token cache against key-set changes: every entry is tied to the key-set
 * generation it was verified under (token_cache.c, jwks_cache.c), so no cached verification
 * outlives its keys, whatever the order of a swap's purge and a slow put.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "../test-tmp.h"
#include "jwks_cache.h"
#include "key_internal.h"
#include "token_cache.h"

#define ISS "https://issuer.mesh.local"

static char dir[256], jwks_path[300];

static int setup(void **state)
{
    (void)state;
    if (test_tmp_template(dir, sizeof(dir), "mesh-tcache-test") == NULL || mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(jwks_path);
    rmdir(dir);
    return 0;
}

static mesh_key_t *key_with_kid(const char *kid)
{
    mesh_key_t *k = NULL;

    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &k), MESH_OK);
    snprintf(k->kid, sizeof(k->kid), "%s", kid); /* a JWKS may name any key "kid" */
    return k;
}

static void write_jwks(mesh_key_t *k)
{
    mesh_jwks_t *set = NULL;
    char *json = NULL, tmp[320];
    FILE *f;

    assert_int_equal(mesh_jwks_from_keys(&k, 1, &set), MESH_OK);
    assert_int_equal(mesh_jwks_to_json(set, &json), MESH_OK);
    snprintf(tmp, sizeof(tmp), "%s.tmp", jwks_path);
    f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fputs(json, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, jwks_path), 0);
    mesh_free(json);
    mesh_jwks_free(set);
}

static char *sign(mesh_key_t *k)
{
    mesh_jwt_claims_in_t *c = NULL;
    char *tok = NULL;

    assert_int_equal(mesh_jwt_claims_in_new(&c), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_issuer(c, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_subject(c, "svc-token:ci"), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_audience(c, "svc-b"), MESH_OK);
    assert_int_equal(mesh_jwt_claims_in_set_client_id(c, "ci"), MESH_OK);
    assert_int_equal(mesh_jwt_sign(k, c, &tok, NULL), MESH_OK); /* iat now, ttl 300 */
    mesh_jwt_claims_in_free(c);
    return tok;
}

static mesh_identity_t *identity(void)
{
    static const char claims[] = "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"svc-b\","
                                 "\"iat\":1700000000,\"exp\":1700000300,\"jti\":\"j\"}";
    mesh_jwt_verify_opts_t *o = NULL;
    mesh_identity_t *id = NULL;

    assert_int_equal(mesh_jwt_verify_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_now(o, 1700000100), MESH_OK);
    assert_int_equal(mesh_jwt_verify_opts_set_binding(o, "when-presented"), MESH_OK);
    assert_int_equal(
        mesh_jwt_validate_claims((const uint8_t *)claims, sizeof(claims) - 1, NULL, o, &id),
        MESH_OK);
    mesh_jwt_verify_opts_free(o);
    return id;
}

/* regression: a hit did not ask which key set had verified the entry */
static void test_tcache_hit_needs_the_current_generation(void **state)
{
    mesh_tcache_t *c = NULL;
    mesh_identity_t *id = identity(), *got;
    const char tok[] = "aaa.bbb.ccc";
    uint64_t h;
    (void)state;

    assert_int_equal(mesh_tcache_new(64, &c), MESH_OK);
    h = mesh_tcache_hash(c, tok, sizeof(tok) - 1);
    mesh_tcache_put(c, h, tok, sizeof(tok) - 1, id, 1);
    got = mesh_tcache_get(c, h, tok, sizeof(tok) - 1, 1);
    assert_ptr_equal(got, id);
    mesh_identity_free(got);
    /* Keys swapped (generation 2): the entry is a miss, never the old verdict. */
    assert_null(mesh_tcache_get(c, h, tok, sizeof(tok) - 1, 2));
    /* Verified again under 2: a hit again. */
    mesh_tcache_put(c, h, tok, sizeof(tok) - 1, id, 2);
    got = mesh_tcache_get(c, h, tok, sizeof(tok) - 1, 2);
    assert_ptr_equal(got, id);
    mesh_identity_free(got);
    mesh_identity_free(id);
    mesh_tcache_free(c);
}

/* regression: purge-then-put: a verification with the old key set, finishing after the swap's
 * purge, left an entry that outlived its key */
static void test_tcache_put_after_purge_of_old_generation_misses(void **state)
{
    mesh_tcache_t *c = NULL;
    mesh_identity_t *id = identity();
    const char tok[] = "old.key.token";
    uint64_t h;
    (void)state;

    assert_int_equal(mesh_tcache_new(64, &c), MESH_OK);
    h = mesh_tcache_hash(c, tok, sizeof(tok) - 1);
    /* The swap to generation 2 purges first ... */
    mesh_tcache_purge_before(c, 2);
    /* ... then the slow verifier thread, which read generation 1's keys, puts its result. */
    mesh_tcache_put(c, h, tok, sizeof(tok) - 1, id, 1);
    assert_null(mesh_tcache_get(c, h, tok, sizeof(tok) - 1, 2));
    /* Nor may that late put replace the token's entry of the newer generation. */
    mesh_tcache_put(c, h, tok, sizeof(tok) - 1, id, 2);
    mesh_tcache_put(c, h, tok, sizeof(tok) - 1, id, 1);
    mesh_identity_t *got = mesh_tcache_get(c, h, tok, sizeof(tok) - 1, 2);
    assert_ptr_equal(got, id);
    mesh_identity_free(got);
    /* A purge drops what is older than the generation it names, and nothing newer. */
    mesh_tcache_purge_before(c, 2);
    got = mesh_tcache_get(c, h, tok, sizeof(tok) - 1, 2);
    assert_ptr_equal(got, id);
    mesh_identity_free(got);
    mesh_tcache_purge_before(c, 3);
    assert_null(mesh_tcache_get(c, h, tok, sizeof(tok) - 1, 2));
    mesh_identity_free(id);
    mesh_tcache_free(c);
}

typedef struct {
    int calls;
    uint64_t gen;
} swaps_t;

static void on_swap(void *ctx, const mesh_jwks_t *set, uint64_t gen)
{
    swaps_t *s = ctx;
    (void)set;
    s->calls++;
    s->gen = gen;
}

/* Every install moves the generation, same keys or not; a set is read with its own number. */
static void test_jwks_cache_generation_moves_on_every_swap(void **state)
{
    mesh_key_t *k = key_with_kid("k1");
    mesh_jwks_cache_opts_t o = {.source = MESH_JWKS_FROM_FILE,
                                .location = jwks_path,
                                .max_age_min = 10,
                                .max_age_max = 3600,
                                .stale_if_error = 86400,
                                .on_swap = on_swap};
    mesh_jwks_cache_t *c = NULL;
    swaps_t swaps = {0};
    mesh_jwks_t *set;
    uint64_t gen = 99;
    (void)state;

    o.swap_ctx = &swaps;
    write_jwks(k);
    assert_int_equal(mesh_jwks_cache_new(&o, &c), MESH_OK);
    assert_int_equal(mesh_jwks_cache_generation(c), 0);
    assert_null(mesh_jwks_cache_get(c, &gen));
    assert_int_equal(mesh_jwks_cache_fetch(c), MESH_OK);
    assert_int_equal(mesh_jwks_cache_generation(c), 1);
    assert_int_equal(mesh_jwks_cache_fetch(c), MESH_OK); /* the same file again */
    assert_int_equal(mesh_jwks_cache_generation(c), 2);
    assert_int_equal(swaps.calls, 2);
    assert_int_equal(swaps.gen, 2);
    set = mesh_jwks_cache_get(c, &gen);
    assert_non_null(set);
    assert_int_equal(gen, 2);
    mesh_jwks_free(set);
    /* A failed fetch installs nothing: the generation stays. */
    unlink(jwks_path);
    assert_int_not_equal(mesh_jwks_cache_fetch(c), MESH_OK);
    assert_int_equal(mesh_jwks_cache_generation(c), 2);
    mesh_jwks_cache_free(c);
    mesh_key_free(k);
}

/* regression: a key replaced under the same kid kept its cached verifications: a token signed
 * by the withdrawn key went on being accepted from the cache */
static void test_verifier_key_replaced_under_same_kid_cached_token_refused(void **state)
{
    mesh_key_t *old_key = key_with_kid("k1"), *new_key = key_with_kid("k1");
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;
    char *old_tok = sign(old_key), *new_tok = sign(new_key);
    char auth[2048];
    (void)state;

    write_jwks(old_key);
    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, jwks_path), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_binding(o, "when-presented"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks_cooldown_ms(o, 3600000), MESH_OK);
    assert_int_equal(mesh_verifier_new(o, &v), MESH_OK);
    mesh_verifier_opts_free(o);
    snprintf(auth, sizeof(auth), "Bearer %s", old_tok);
    assert_int_equal(mesh_verify(v, auth, NULL, 0, NULL, NULL), MESH_OK);
    assert_int_equal(mesh_verify(v, auth, NULL, 0, NULL, NULL), MESH_OK);
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_CACHE_HITS), 1);
    /* The issuer replaces the key, keeping its kid. */
    write_jwks(new_key);
    assert_int_equal(mesh_verifier_refresh_keys(v), MESH_OK);
    assert_int_equal(mesh_verify(v, auth, NULL, 0, NULL, NULL), MESH_ERR_SIGNATURE);
    assert_int_equal(mesh_verifier_stat(v, MESH_VSTAT_CACHE_HITS),
                     1); /* a miss: verified again, and refused */
    snprintf(auth, sizeof(auth), "Bearer %s", new_tok);
    assert_int_equal(mesh_verify(v, auth, NULL, 0, NULL, NULL), MESH_OK);
    mesh_verifier_free(v);
    free(old_tok);
    free(new_tok);
    mesh_key_free(old_key);
    mesh_key_free(new_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcache_hit_needs_the_current_generation),
        cmocka_unit_test(test_tcache_put_after_purge_of_old_generation_misses),
        cmocka_unit_test(test_jwks_cache_generation_moves_on_every_swap),
        cmocka_unit_test(test_verifier_key_replaced_under_same_kid_cached_token_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
