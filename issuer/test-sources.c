/* SPDX-License-Identifier: Apache-2.0 */
/* sources.c: connections per source address (max_connections_per_source). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "sources.h"

static void test_limit_per_address(void **state)
{
    sources_init(3);
    for (int i = 0; i < 3; i++) {
        assert_true(sources_take("192.0.2.1"));
    }
    assert_false(sources_take("192.0.2.1"));  /* the fourth */
    assert_true(sources_take("2001:db8::1")); /* another address has its own count */
    sources_release("192.0.2.1");
    assert_true(sources_take("192.0.2.1")); /* room again */
    assert_false(sources_take("192.0.2.1"));
    for (int i = 0; i < 3; i++) {
        sources_release("192.0.2.1");
    }
    sources_release("2001:db8::1");
}

/* Many addresses coming and going (tombstones, rebuilds) keep every live count exact. */
static void test_churn_keeps_counts(void **state)
{
    char addr[64];
    sources_init(2);
    assert_true(sources_take("198.51.100.7"));
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 10000; i++) {
            snprintf(addr, sizeof(addr), "10.%d.%d.%d", round, i / 256, i % 256);
            assert_true(sources_take(addr));
        }
        for (int i = 0; i < 10000; i++) {
            snprintf(addr, sizeof(addr), "10.%d.%d.%d", round, i / 256, i % 256);
            sources_release(addr);
        }
    }
    assert_true(sources_take("198.51.100.7")); /* its count survived: one, now two */
    assert_false(sources_take("198.51.100.7"));
    sources_release("198.51.100.7");
    sources_release("198.51.100.7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_per_address),
        cmocka_unit_test(test_churn_keeps_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
