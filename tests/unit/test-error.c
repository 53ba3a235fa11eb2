/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/error.h>

#include "internal.h"

/* Every code must have its own reason name: peers and metrics key on them. */
static void test_names_are_distinct(void **state)
{
    const char *seen[128] = {0};
    size_t n = 0;

    (void)state;
    for (int code = 0; code < 128; code++) {
        const char *name = mesh_err_name((mesh_err_t)code);
        if (strcmp(name, "unknown_error") == 0) {
            continue;
        }
        assert_string_not_equal(mesh_strerror((mesh_err_t)code), "unknown error");
        for (size_t i = 0; i < n; i++) {
            assert_string_not_equal(seen[i], name);
        }
        seen[n++] = name;
    }
    assert_true(n >= 50);
    assert_string_equal(mesh_err_name(MESH_ERR_EXPIRED), "token_expired");
    assert_string_equal(mesh_err_name(MESH_OK), "ok");
    assert_string_equal(mesh_err_name((mesh_err_t)9999), "unknown_error");
}

static void test_detail_is_thread_local_message(void **state)
{
    (void)state;
    mesh_err_clear();
    assert_string_equal(mesh_err_detail(), "");
    assert_int_equal(mesh_err_set(MESH_ERR_EXPIRED, "exp %d is %d s before now", 10, 42),
                     MESH_ERR_EXPIRED);
    assert_string_equal(mesh_err_detail(), "exp 10 is 42 s before now");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_are_distinct),
        cmocka_unit_test(test_detail_is_thread_local_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
