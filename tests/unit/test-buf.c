/* SPDX-License-Identifier: Apache-2.0 */
/* <mesh/buf.h>: the bounded buffer every untrusted body goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/buf.h>
#include <mesh/error.h>

static void test_new_refuses_zero_and_huge(void **state)
{
    (void)state;
    assert_null(mesh_buf_new(0));
    assert_null(mesh_buf_new(SIZE_MAX));
    mesh_buf_free(NULL); /* NULL-safe */
    assert_int_equal(mesh_buf_len(NULL), 0);
    assert_string_equal(mesh_buf_data(NULL), "");
}

static void test_empty_buffer_is_an_empty_string(void **state)
{
    mesh_buf_t *b = mesh_buf_new(4);

    (void)state;
    assert_non_null(b);
    assert_int_equal(mesh_buf_len(b), 0);
    assert_int_equal(mesh_buf_max(b), 4);
    assert_string_equal(mesh_buf_data(b), "");
    assert_int_equal(mesh_buf_append(b, NULL, 0, "body"), MESH_OK);
    assert_string_equal(mesh_buf_data(b), "");
    mesh_buf_free(b);
}

static void test_limit_exact_then_over_by_one(void **state)
{
    mesh_buf_t *b = mesh_buf_new(8);

    (void)state;
    assert_int_equal(mesh_buf_append(b, "abcd", 4, "body"), MESH_OK);
    assert_int_equal(mesh_buf_append(b, "efgh", 4, "body"), MESH_OK); /* exactly the limit */
    assert_int_equal(mesh_buf_len(b), 8);
    assert_string_equal(mesh_buf_data(b), "abcdefgh");
    /* one byte more is refused and appends nothing */
    assert_int_equal(mesh_buf_append(b, "i", 1, "request body"), MESH_ERR_LIMIT);
    assert_non_null(strstr(mesh_err_detail(), "request body"));
    assert_non_null(strstr(mesh_err_detail(), "8-byte limit"));
    assert_int_equal(mesh_buf_len(b), 8);
    assert_string_equal(mesh_buf_data(b), "abcdefgh");
    mesh_buf_free(b);
}

static void test_over_by_one_in_one_append(void **state)
{
    mesh_buf_t *b = mesh_buf_new(3);

    (void)state;
    assert_int_equal(mesh_buf_append(b, "abcd", 4, NULL), MESH_ERR_LIMIT);
    assert_int_equal(mesh_buf_len(b), 0);
    assert_int_equal(mesh_buf_append(b, "abc", 3, NULL), MESH_OK);
    mesh_buf_free(b);
}

static void test_grows_past_first_allocation(void **state)
{
    enum { BIG = 100000 };
    static char chunk[1000];
    mesh_buf_t *b = mesh_buf_new(BIG);

    (void)state;
    memset(chunk, 'x', sizeof(chunk));
    for (size_t i = 0; i < BIG / sizeof(chunk); i++) {
        assert_int_equal(mesh_buf_append(b, chunk, sizeof(chunk), "body"), MESH_OK);
    }
    assert_int_equal(mesh_buf_len(b), BIG);
    assert_int_equal(strlen(mesh_buf_data(b)), BIG);
    assert_int_equal(mesh_buf_append(b, "x", 1, "body"), MESH_ERR_LIMIT);
    mesh_buf_free(b);
}

static void test_nul_terminated_after_every_append(void **state)
{
    mesh_buf_t *b = mesh_buf_new(16);

    (void)state;
    assert_int_equal(mesh_buf_append(b, "ab\0cd", 5, "body"), MESH_OK); /* a NUL inside is data */
    assert_int_equal(mesh_buf_len(b), 5);
    assert_memory_equal(mesh_buf_data(b), "ab\0cd", 6); /* and one after */
    assert_int_equal(mesh_buf_append(b, "e", 1, "body"), MESH_OK);
    assert_int_equal(mesh_buf_data(b)[6], '\0');
    mesh_buf_free(b);
}

static void test_huge_n_is_a_limit_not_an_overflow(void **state)
{
    mesh_buf_t *b = mesh_buf_new(64);

    (void)state;
    assert_int_equal(mesh_buf_append(b, "abc", 3, "body"), MESH_OK);
    /* len + n would wrap around: must be refused, not read or written */
    assert_int_equal(mesh_buf_append(b, "x", SIZE_MAX, "body"), MESH_ERR_LIMIT);
    assert_int_equal(mesh_buf_append(b, "x", SIZE_MAX - 2, "body"), MESH_ERR_LIMIT);
    assert_int_equal(mesh_buf_len(b), 3);
    assert_string_equal(mesh_buf_data(b), "abc");
    mesh_buf_free(b);
}

static void test_invalid_arguments(void **state)
{
    mesh_buf_t *b = mesh_buf_new(4);

    (void)state;
    assert_int_equal(mesh_buf_append(NULL, "a", 1, "body"), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_buf_append(b, NULL, 1, "body"), MESH_ERR_INVALID_ARG);
    assert_null(mesh_buf_take(NULL, NULL));
    mesh_buf_free(b);
}

static void test_reset_wipes_and_keeps_memory(void **state)
{
    mesh_buf_t *b = mesh_buf_new(64);
    const char secret[] = "client_secret=s3cr3t";
    const char *p;

    (void)state;
    assert_int_equal(mesh_buf_append(b, secret, strlen(secret), "body"), MESH_OK);
    p = mesh_buf_data(b);
    mesh_buf_reset(b);
    assert_int_equal(mesh_buf_len(b), 0);
    assert_ptr_equal(mesh_buf_data(b), p); /* the memory is kept ... */
    for (size_t i = 0; i < strlen(secret); i++) {
        assert_int_equal(p[i], 0); /* ... and holds none of the secret */
    }
    assert_int_equal(mesh_buf_append(b, "new", 3, "body"), MESH_OK);
    assert_string_equal(mesh_buf_data(b), "new");
    mesh_buf_reset(NULL); /* NULL-safe */
    mesh_buf_free(b);
}

static void test_take_hands_over_and_empties(void **state)
{
    mesh_buf_t *b = mesh_buf_new(8);
    size_t len = 99;
    char *s;

    (void)state;
    assert_int_equal(mesh_buf_append(b, "token", 5, "body"), MESH_OK);
    s = mesh_buf_take(b, &len);
    assert_non_null(s);
    assert_int_equal(len, 5);
    assert_string_equal(s, "token");
    mesh_free(s);
    assert_int_equal(mesh_buf_len(b), 0);
    assert_string_equal(mesh_buf_data(b), "");

    /* an empty buffer gives an empty string, and the limit still holds after a take */
    s = mesh_buf_take(b, &len);
    assert_non_null(s);
    assert_int_equal(len, 0);
    assert_string_equal(s, "");
    mesh_free(s);
    assert_int_equal(mesh_buf_append(b, "12345678", 8, "body"), MESH_OK);
    assert_int_equal(mesh_buf_append(b, "9", 1, "body"), MESH_ERR_LIMIT);
    s = mesh_buf_take(b, NULL);
    assert_string_equal(s, "12345678");
    mesh_free(s);
    mesh_buf_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_refuses_zero_and_huge),
        cmocka_unit_test(test_empty_buffer_is_an_empty_string),
        cmocka_unit_test(test_limit_exact_then_over_by_one),
        cmocka_unit_test(test_over_by_one_in_one_append),
        cmocka_unit_test(test_grows_past_first_allocation),
        cmocka_unit_test(test_nul_terminated_after_every_append),
        cmocka_unit_test(test_huge_n_is_a_limit_not_an_overflow),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_reset_wipes_and_keeps_memory),
        cmocka_unit_test(test_take_hands_over_and_empties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
