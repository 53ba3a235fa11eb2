/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_words_next / mesh_words_contains (<mesh/util.h>): RFC 6749 §3.3 word lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/util.h>

/* Joins the words of `list` with '|' into out. */
static size_t split(const char *list, char *out, size_t cap)
{
    const char *cursor = list;
    const char *w;
    size_t len;
    size_t n = 0;

    out[0] = '\0';
    while (mesh_words_next(&cursor, &w, &len)) {
        size_t used = strlen(out);
        assert_true(used + len + 2 < cap);
        if (n > 0) {
            out[used++] = '|';
        }
        memcpy(out + used, w, len);
        out[used + len] = '\0';
        n++;
    }
    return n;
}

static void test_next_splits_on_spaces(void **state)
{
    char out[128];

    (void)state;
    assert_int_equal(split("a:read a:write", out, sizeof(out)), 2);
    assert_string_equal(out, "a:read|a:write");
    assert_int_equal(split("  lead  and   trail  ", out, sizeof(out)), 3); /* runs of SP */
    assert_string_equal(out, "lead|and|trail");
    assert_int_equal(split("one", out, sizeof(out)), 1);
    assert_string_equal(out, "one");
    /* only SP separates (RFC 6749 §3.3): a tab stays inside the word for the caller to refuse */
    assert_int_equal(split("a\tb c", out, sizeof(out)), 2);
    assert_string_equal(out, "a\tb|c");
}

static void test_next_empty_and_null(void **state)
{
    const char *cursor = "";
    const char *w = "unchanged";
    size_t len = 7;
    char out[16];

    (void)state;
    assert_false(mesh_words_next(&cursor, &w, &len));
    assert_string_equal(w, "unchanged"); /* outputs untouched when no word is left */
    assert_int_equal(len, 7);
    assert_int_equal(split("    ", out, sizeof(out)), 0);
    cursor = NULL;
    assert_false(mesh_words_next(&cursor, &w, &len));
    assert_false(mesh_words_next(NULL, &w, &len));
    /* the outputs are optional: counting words */
    cursor = "x y z";
    size_t n = 0;
    while (mesh_words_next(&cursor, NULL, NULL)) {
        n++;
    }
    assert_int_equal(n, 3);
    assert_false(mesh_words_next(&cursor, NULL, NULL)); /* and stays done */
}

static void test_contains_is_exact(void **state)
{
    (void)state;
    assert_true(mesh_words_contains("a:read a:write", "a:write"));
    assert_true(mesh_words_contains(" a:read ", "a:read"));
    assert_false(mesh_words_contains("a:read a:write", "a:rea"));    /* no prefix match */
    assert_false(mesh_words_contains("a:read a:write", "read"));     /* no suffix match */
    assert_false(mesh_words_contains("a:read a:write", "a:read a")); /* not across words */
    assert_false(mesh_words_contains("a:readx", "a:read"));
    assert_false(mesh_words_contains("a:read", ""));
    assert_false(mesh_words_contains("", "a"));
    assert_false(mesh_words_contains(NULL, "a"));
    assert_false(mesh_words_contains("a", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_splits_on_spaces),
        cmocka_unit_test(test_next_empty_and_null),
        cmocka_unit_test(test_contains_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
