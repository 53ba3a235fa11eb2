/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The revocation set (revocations.c) and feed pages (revocations_feed.c) without a network:
 * SipHash-2-4 against the reference vectors, per-set keys, growth, lookups of the three entry
 * kinds, pruning, the entry limit, and every malformed-entry rule.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "revocations_internal.h"

#define X5T_A "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
#define X5T_B "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg"

static mesh_revset_t *new_set(void)
{
    mesh_revset_t *s = NULL;

    assert_int_equal(mesh_revset_new(&s), MESH_OK);
    return s;
}

/* SipHash-2-4 reference vectors (github.com/veorq/SipHash vectors.h; the paper's Appendix A):
 * key 00..0f, message 00 01 02 ... of each length. */
static void test_siphash24_reference_vectors(void **state)
{
    static const struct {
        size_t len;
        uint64_t want;
    } v[] = {
        {0, 0x726fdb47dd0e0e31ULL}, {1, 0x74f839c593dc67fdULL},  {7, 0xab0200f58b01d137ULL},
        {8, 0x93f5f5799a932462ULL}, {15, 0xa129ca6149be45e5ULL}, {63, 0x958a324ceb064572ULL},
    };
    uint8_t key[16], msg[64];
    (void)state;

    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)i;
    }
    for (int i = 0; i < 64; i++) {
        msg[i] = (uint8_t)i;
    }
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint64_t got = mesh_siphash24(key, msg, v[i].len);
        if (got != v[i].want) {
            fail_msg("length %zu: got %016llx, want %016llx", v[i].len, (unsigned long long)got,
                     (unsigned long long)v[i].want);
        }
    }
}

/* regression: an unkeyed hash let feed contents be chosen to land in one bucket */
static void test_revset_two_sets_hash_differently(void **state)
{
    mesh_revset_t *a = new_set(), *b = new_set();
    int same = 0;
    (void)state;

    for (int i = 0; i < 64; i++) {
        char jti[32];
        snprintf(jti, sizeof(jti), "jti-%d", i);
        same += mesh_revset_hash(a, MESH_REV_JTI, jti) == mesh_revset_hash(b, MESH_REV_JTI, jti);
    }
    assert_int_equal(same, 0);
    /* Kinds are keyed apart too: a jti and a sub with the same text are different entries. */
    assert_true(mesh_revset_hash(a, MESH_REV_JTI, "x") != mesh_revset_hash(a, MESH_REV_SUB, "x"));
    mesh_revset_free(a);
    mesh_revset_free(b);
}

static size_t total_buckets(const mesh_revset_t *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->nstripes; i++) {
        n += s->stripes[i].nbuckets;
    }
    return n;
}

/* regression: a fixed 2048-bucket table turned 1e6 revocations into 500-long chains */
static void test_revset_grows_with_many_entries(void **state)
{
    enum { N = 200000 };
    mesh_revset_t *s = new_set();
    size_t before = total_buckets(s);
    char jti[32];
    (void)state;

    for (int i = 0; i < N; i++) {
        snprintf(jti, sizeof(jti), "jti-%d", i);
        assert_int_equal(mesh_revset_add(s, jti, i % 2 == 0 ? 1000 : 2000), MESH_OK);
    }
    assert_int_equal(mesh_revset_count(s), N);
    assert_int_equal(mesh_revset_count_kind(s, MESH_REV_JTI), N);
    assert_true(total_buckets(s) >= N / REV_LOAD);
    assert_true(total_buckets(s) > before);
    for (size_t i = 0; i < s->nstripes; i++) {
        assert_true(s->stripes[i].count <= s->stripes[i].nbuckets * REV_LOAD);
    }
    for (int i = 0; i < N; i++) {
        snprintf(jti, sizeof(jti), "jti-%d", i);
        assert_true(mesh_revset_contains(s, jti));
    }
    assert_false(mesh_revset_contains(s, "jti-200000"));
    assert_false(mesh_revset_contains(s, "jti-"));
    /* Adding again is not a second entry. */
    assert_int_equal(mesh_revset_add(s, "jti-7", 2000), MESH_OK);
    assert_int_equal(mesh_revset_count(s), N);
    /* Prune drops exactly the entries that expired before the cut. */
    mesh_revset_prune(s, 1500);
    assert_int_equal(mesh_revset_count(s), N / 2);
    for (int i = 0; i < N; i++) {
        snprintf(jti, sizeof(jti), "jti-%d", i);
        if (mesh_revset_contains(s, jti) != (i % 2 == 1)) {
            fail_msg("%s after prune", jti);
        }
    }
    mesh_revset_prune(s, 3000);
    assert_int_equal(mesh_revset_count(s), 0);
    assert_false(mesh_revset_contains(s, "jti-1"));
    mesh_revset_free(s);
}

static void test_revset_credential_kinds(void **state)
{
    mesh_revset_t *s = new_set();
    (void)state;

    assert_false(mesh_revset_sub_revoked(s, "svc-token:ci", 0));
    assert_int_equal(mesh_revset_add_entry(s, MESH_REV_SUB, "svc-token:ci", 1000, 5000), MESH_OK);
    assert_int_equal(mesh_revset_add_entry(s, MESH_REV_X5T, X5T_A, 0, 5000), MESH_OK);
    assert_true(mesh_revset_sub_revoked(s, "svc-token:ci", 999));
    assert_false(mesh_revset_sub_revoked(s, "svc-token:ci", 1000)); /* iat == T: after it */
    assert_false(mesh_revset_sub_revoked(s, "svc-token:c", 999));
    assert_true(mesh_revset_x5t_revoked(s, X5T_A));
    assert_false(mesh_revset_x5t_revoked(s, X5T_B));
    /* Kinds do not see each other's keys. */
    assert_false(mesh_revset_contains(s, "svc-token:ci"));
    assert_false(mesh_revset_contains(s, X5T_A));
    /* A second revocation of the same credential keeps the later time. */
    assert_int_equal(mesh_revset_add_entry(s, MESH_REV_SUB, "svc-token:ci", 2000, 4000), MESH_OK);
    assert_int_equal(mesh_revset_add_entry(s, MESH_REV_SUB, "svc-token:ci", 1500, 4000), MESH_OK);
    assert_true(mesh_revset_sub_revoked(s, "svc-token:ci", 1999));
    assert_int_equal(mesh_revset_count_kind(s, MESH_REV_SUB), 1);
    assert_int_equal(mesh_revset_count(s), 2);
    mesh_revset_prune(s, 6000);
    assert_false(mesh_revset_sub_revoked(s, "svc-token:ci", 0));
    assert_false(mesh_revset_x5t_revoked(s, X5T_A));
    assert_int_equal(mesh_revset_count_kind(s, MESH_REV_SUB), 0);
    mesh_revset_free(s);
}

static void test_revset_limit(void **state)
{
    mesh_revset_t *s = new_set();
    char big[MESH_MAX_CLAIM_STRING + 2];
    (void)state;

    mesh_revset_set_max(s, 2);
    assert_int_equal(mesh_revset_add(s, "a", 10), MESH_OK);
    assert_int_equal(mesh_revset_add(s, "b", 10), MESH_OK);
    assert_int_equal(mesh_revset_add(s, "c", 10), MESH_ERR_LIMIT);
    assert_non_null(strstr(mesh_err_detail(), "maximum of 2"));
    assert_int_equal(mesh_revset_add(s, "a", 20), MESH_OK); /* an update takes no place */
    assert_int_equal(mesh_revset_count(s), 2);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mesh_revset_set_max(s, MESH_MAX_REVOKED);
    assert_int_equal(mesh_revset_add(s, big, 10), MESH_ERR_LIMIT);
    assert_int_equal(mesh_revset_add(s, "", 10), MESH_ERR_LIMIT);
    mesh_revset_free(s);
}

static mesh_err_t apply(mesh_revset_t *s, const char *doc, int64_t drop_before, int64_t *seq,
                        bool *more)
{
    return mesh_revset_apply(s, doc, strlen(doc), "feed", drop_before, seq, more);
}

static void test_revset_apply_every_entry_kind(void **state)
{
    mesh_revset_t *s = new_set();
    int64_t seq = -1;
    bool more = true;
    (void)state;

    assert_int_equal(apply(s,
                           "{\"seq\":4,\"revoked\":[{\"jti\":\"j1\",\"exp\":5000},"
                           "{\"sub\":\"spiffe://mesh.local/a\",\"iat_before\":1000,\"exp\":5000},"
                           "{\"x5t#S256\":\"" X5T_A "\",\"exp\":5000},"
                           "{\"jti\":\"old\",\"exp\":10}]}",
                           100, &seq, &more),
                     MESH_OK);
    assert_int_equal(seq, 4);
    assert_false(more);
    assert_true(mesh_revset_contains(s, "j1"));
    assert_true(mesh_revset_sub_revoked(s, "spiffe://mesh.local/a", 999));
    assert_true(mesh_revset_x5t_revoked(s, X5T_A));
    assert_false(mesh_revset_contains(s, "old")); /* expired before drop_before: skipped */
    assert_int_equal(mesh_revset_count(s), 3);
    assert_int_equal(apply(s, "{\"seq\":1004,\"revoked\":[],\"more\":true}", 100, &seq, &more),
                     MESH_OK);
    assert_int_equal(seq, 1004);
    assert_true(more);
    mesh_revset_free(s);
}

/* A malformed page is refused as a whole, with the entry named. */
static void test_revset_apply_malformed_entry_named(void **state)
{
    static const struct {
        const char *doc;
        const char *detail;
    } cases[] = {
        {"{\"seq\":2,\"revoked\":[{\"jti\":\"ok\",\"exp\":9},{\"exp\":9}]}",
         "revoked[1] names none of jti, sub, x5t#S256"},
        {"{\"seq\":2,\"revoked\":[{\"jti\":\"ok\",\"exp\":9},{\"sub\":\"s\",\"exp\":9}]}",
         "revoked[1] has sub but no integer iat_before"},
        {"{\"seq\":2,\"revoked\":[{\"jti\":\"ok\",\"exp\":9},"
         "{\"sub\":\"s\",\"iat_before\":1.5,\"exp\":9}]}",
         "revoked[1] has sub but no integer iat_before"},
        {"{\"seq\":2,\"revoked\":[{\"jti\":\"ok\",\"exp\":9},{\"sub\":\"\",\"iat_before\":1,"
         "\"exp\":9}]}",
         "revoked[1].sub"},
        {"{\"seq\":2,\"revoked\":[{\"jti\":\"ok\",\"exp\":9},{\"jti\":\"j\",\"exp\":\"9\"}]}",
         "revoked[1] needs an integer exp"},
        {"{\"seq\":2,\"revoked\":[{\"jti\":\"ok\",\"exp\":9},{\"x5t#S256\":\"abc\",\"exp\":9}]}",
         "revoked[1].x5t#S256 is not 43 characters"},
        {"{\"seq\":2,\"revoked\":[{\"jti\":\"ok\",\"exp\":9},\"j\"]}",
         "revoked[1] is not an object"},
        {"{\"seq\":2,\"revoked\":[{\"jti\":\"ok\",\"exp\":9}],\"more\":1}", "\"more\":bool"},
        {"{\"seq\":-1,\"revoked\":[]}", "want {\"seq\":N"},
        {"{\"revoked\":[]}", "want {\"seq\":N"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mesh_revset_t *s = new_set();
        int64_t seq = 77;
        bool more = false;
        mesh_err_t rc = apply(s, cases[i].doc, 0, &seq, &more);
        if (rc != MESH_ERR_JSON || strstr(mesh_err_detail(), cases[i].detail) == NULL) {
            fail_msg("%s: got %s (%s)", cases[i].doc, mesh_err_name(rc), mesh_err_detail());
        }
        assert_int_equal(mesh_revset_count(s), 0); /* not even the good first entry */
        assert_int_equal(seq, 77);                 /* outputs untouched */
        mesh_revset_free(s);
    }
}

/* A full set prunes once, then gives up: the poll turns that into failing closed. */
static void test_revset_apply_full_set_prunes_then_refuses(void **state)
{
    mesh_revset_t *s = new_set();
    int64_t seq = 0;
    bool more = false;
    (void)state;

    mesh_revset_set_max(s, 2);
    assert_int_equal(mesh_revset_add(s, "old1", 50), MESH_OK);
    assert_int_equal(mesh_revset_add(s, "old2", 50), MESH_OK);
    /* The old entries expired before drop_before: pruned to make room. */
    assert_int_equal(apply(s,
                           "{\"seq\":2,\"revoked\":[{\"jti\":\"n1\",\"exp\":500},"
                           "{\"jti\":\"n2\",\"exp\":500}]}",
                           100, &seq, &more),
                     MESH_OK);
    assert_int_equal(mesh_revset_count(s), 2);
    assert_int_equal(
        apply(s, "{\"seq\":3,\"revoked\":[{\"jti\":\"n3\",\"exp\":500}]}", 100, &seq, &more),
        MESH_ERR_LIMIT);
    assert_int_equal(seq, 2);
    mesh_revset_free(s);
}

static void test_revset_usable_reports_why(void **state)
{
    mesh_revset_t *s = new_set();
    (void)state;

    assert_int_equal(mesh_revset_usable(s), MESH_OK);
    mesh_revset_mark(s, REV_FULL, "revocation set holds its maximum of 3 entries");
    assert_int_equal(mesh_revset_usable(s), MESH_ERR_REVOCATIONS_INCOMPLETE);
    assert_non_null(strstr(mesh_err_detail(), "full"));
    assert_non_null(strstr(mesh_err_detail(), "maximum of 3"));
    mesh_revset_mark(s, REV_COMPLETE, NULL);
    assert_int_equal(mesh_revset_usable(s), MESH_OK);
    mesh_revset_free(s);
}

/* Lookups from many threads while entries are added (stripes grow) and pruned. */
typedef struct {
    mesh_revset_t *s;
    int errors;
} conc_t;

static void *reader(void *arg)
{
    conc_t *c = arg;

    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 1000; i++) {
            char k[32];
            snprintf(k, sizeof(k), "fixed-%d", i);
            if (!mesh_revset_contains(c->s, k) ||
                !mesh_revset_sub_revoked(c->s, "spiffe://mesh.local/a", 0)) {
                c->errors++;
            }
        }
    }
    return NULL;
}

static void test_revset_concurrent_lookups_while_growing(void **state)
{
    mesh_revset_t *s = new_set();
    pthread_t th[4];
    conc_t c[4];
    (void)state;

    for (int i = 0; i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "fixed-%d", i);
        assert_int_equal(mesh_revset_add(s, k, 1000000), MESH_OK);
    }
    assert_int_equal(mesh_revset_add_entry(s, MESH_REV_SUB, "spiffe://mesh.local/a", 5, 1000000),
                     MESH_OK);
    for (int i = 0; i < 4; i++) {
        c[i].s = s;
        c[i].errors = 0;
        pthread_create(&th[i], NULL, reader, &c[i]);
    }
    for (int i = 0; i < 50000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "moving-%d", i);
        assert_int_equal(mesh_revset_add(s, k, i), MESH_OK);
        if (i % 10000 == 0) {
            mesh_revset_prune(s, i);
        }
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].errors, 0);
    }
    mesh_revset_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash24_reference_vectors),
        cmocka_unit_test(test_revset_two_sets_hash_differently),
        cmocka_unit_test(test_revset_grows_with_many_entries),
        cmocka_unit_test(test_revset_credential_kinds),
        cmocka_unit_test(test_revset_limit),
        cmocka_unit_test(test_revset_apply_every_entry_kind),
        cmocka_unit_test(test_revset_apply_malformed_entry_named),
        cmocka_unit_test(test_revset_apply_full_set_prunes_then_refuses),
        cmocka_unit_test(test_revset_usable_reports_why),
        cmocka_unit_test(test_revset_concurrent_lookups_while_growing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
