/* SPDX-License-Identifier: Apache-2.0 */
/* Token buckets with an injected clock (milliseconds): no sleeps, no timing assertions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"

static void test_rejects_bad_parameters(void **state)
{
    (void)state;
    assert_null(ratelimit_new(0, 5, 10));
    assert_null(ratelimit_new(-1, 5, 10));
    assert_null(ratelimit_new(1, 0.5, 10));
    assert_null(ratelimit_new(1, 5, 0));
    ratelimit_free(NULL);
}

static void test_burst_then_refill(void **state)
{
    ratelimit_t *rl = ratelimit_new(2.0, 3.0, 16); /* 2/s, burst 3 */
    int retry = 0;

    (void)state;
    assert_non_null(rl);
    for (int i = 0; i < 3; i++) {
        assert_true(ratelimit_take(rl, "svc-a", 1000, &retry));
    }
    assert_false(ratelimit_take(rl, "svc-a", 1000, &retry));
    assert_int_equal(retry, 1); /* one token at 2/s: 0.5 s, rounded up to 1 */
    assert_true(ratelimit_take(rl, "svc-b", 1000, &retry)); /* keys are independent */
    assert_false(ratelimit_take(rl, "svc-a", 1499, &retry));
    assert_true(ratelimit_take(rl, "svc-a", 1500, &retry)); /* 0.5 s refilled one */
    assert_false(ratelimit_take(rl, "svc-a", 1500, &retry));
    /* A long pause refills up to the burst, not beyond. */
    for (int i = 0; i < 3; i++) {
        assert_true(ratelimit_take(rl, "svc-a", 100000, &retry));
    }
    assert_false(ratelimit_take(rl, "svc-a", 100000, &retry));
    ratelimit_free(rl);
}

/* Retry-After comes from the deficit: at 0.1/s a missing token takes 10 s. */
static void test_retry_after_from_deficit(void **state)
{
    ratelimit_t *rl = ratelimit_new(0.1, 1.0, 16);
    int retry = 0;

    (void)state;
    assert_true(ratelimit_take(rl, "k", 0, &retry));
    assert_false(ratelimit_take(rl, "k", 0, &retry));
    assert_int_equal(retry, 10);
    assert_false(ratelimit_take(rl, "k", 4000, &retry)); /* 0.4 token refilled */
    assert_int_equal(retry, 6);
    assert_false(ratelimit_take(rl, "k", 9950, &retry)); /* 0.995: never below 1 s */
    assert_int_equal(retry, 1);
    assert_true(ratelimit_take(rl, "k", 10000, &retry));
    ratelimit_free(rl);
}

static void test_clock_going_back_refills_nothing(void **state)
{
    ratelimit_t *rl = ratelimit_new(1.0, 1.0, 4);
    int retry = 0;

    (void)state;
    assert_true(ratelimit_take(rl, "k", 50000, &retry));
    assert_false(ratelimit_take(rl, "k", 10000, &retry));
    assert_false(ratelimit_take(rl, "k", 50500, &retry));
    assert_true(ratelimit_take(rl, "k", 51000, &retry));
    ratelimit_free(rl);
}

/* max_keys bounds memory: the least recently used key is forgotten (and starts full again). */
static void test_eviction_bound(void **state)
{
    ratelimit_t *rl = ratelimit_new(1.0, 1.0, 3);
    int retry = 0;
    char key[32];

    (void)state;
    assert_true(ratelimit_take(rl, "a", 0, &retry));
    assert_true(ratelimit_take(rl, "b", 0, &retry));
    assert_true(ratelimit_take(rl, "c", 0, &retry));
    assert_false(ratelimit_take(rl, "a", 0, &retry)); /* touches a: b is now the oldest */
    assert_true(ratelimit_take(rl, "d", 0, &retry));  /* evicts b */
    assert_false(ratelimit_take(rl, "a", 0, &retry)); /* a kept its empty bucket */
    assert_false(ratelimit_take(rl, "d", 0, &retry));
    assert_true(ratelimit_take(rl, "b", 0, &retry)); /* b was forgotten: full again */
    /* Many distinct keys: stays bounded (ASan would see a leak or overrun otherwise). */
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
        assert_true(ratelimit_take(rl, key, 0, &retry));
        assert_true(ratelimit_count(rl) <= 3);
    }
    assert_int_equal(ratelimit_count(rl), 3);
    ratelimit_free(rl);
}

struct race {
    ratelimit_t *rl;
    int granted;
};

static void *hammer(void *arg)
{
    struct race *r = arg;
    int retry;

    for (int i = 0; i < 500; i++) {
        if (ratelimit_take(r->rl, i % 2 ? "shared" : "other", 0, &retry)) {
            r->granted++;
        }
    }
    return NULL;
}

/* Four threads on one clock instant: exactly the burst is granted per key, never more. */
static void test_threads_share_buckets(void **state)
{
    struct race r[4];
    pthread_t th[4];
    int total = 0;
    ratelimit_t *rl = ratelimit_new(1.0, 300.0, 8);

    (void)state;
    for (int i = 0; i < 4; i++) {
        r[i] = (struct race){.rl = rl, .granted = 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        total += r[i].granted;
    }
    assert_int_equal(total, 600);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_parameters),
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_retry_after_from_deficit),
        cmocka_unit_test(test_clock_going_back_refills_nothing),
        cmocka_unit_test(test_eviction_bound),
        cmocka_unit_test(test_threads_share_buckets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
