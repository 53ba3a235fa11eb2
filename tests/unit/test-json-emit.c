/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON writer against jansson: for every string, the writer accepts exactly what
 * json_string() accepts, writes exactly what json_dumps() writes, and jansson reads the result
 * back to the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "json_emit.h"

/* Writes `s` with the writer and with jansson; both must agree on validity and on bytes. */
static void same_as_jansson(const char *s)
{
    char buf[4096];
    mesh_jemit_t w;
    json_t *j = json_string(s);
    char *dumped;
    json_t *back;
    json_error_t jerr;

    mesh_jemit_init(&w, buf, sizeof(buf));
    mesh_jemit_str(&w, s);
    if (j == NULL) {
        assert_int_equal(w.err, MESH_ERR_UTF8);
        return;
    }
    assert_int_equal(w.err, MESH_OK);
    dumped = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(dumped);
    assert_int_equal(w.len, strlen(dumped));
    assert_memory_equal(buf, dumped, w.len);
    back = json_loadb(buf, w.len, JSON_DECODE_ANY, &jerr);
    assert_non_null(back);
    assert_string_equal(json_string_value(back), s);
    json_decref(back);
    free(dumped);
    json_decref(j);
}

static void test_escapes(void **state)
{
    static const char *cases[] = {
        "",
        "plain ascii",
        "quote \" backslash \\ slash / done",
        "\"\\\"\\",
        "\b\f\n\r\t",
        ("\x01\x02\x03\x04\x05\x06\x07\x0b\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"
         "\x1b\x1c\x1d\x1e\x1f"), /* one string: every other control character */
        "del \x7f stays",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91",   /* é € and a 4-byte emoji */
        "\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf", /* 2- and 3-byte bounds */
        "\xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf", /* around surrogates, max */
        "spiffe://mesh.local/web-service",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        same_as_jansson(cases[i]);
    }
}

static void test_invalid_utf8(void **state)
{
    static const char *cases[] = {
        "\x80",             /* lone continuation */
        "a\xbf",            /* lone continuation */
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\x80",     /* overlong 3-byte */
        "\xe0\x9f\xbf",     /* overlong 3-byte */
        "\xed\xa0\x80",     /* surrogate D800 */
        "\xed\xbf\xbf",     /* surrogate DFFF */
        "\xf0\x80\x80\x80", /* overlong 4-byte */
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* never a lead byte */
        "\xff",
        "\xc3",         /* truncated at the end */
        "\xe2\x82",     /* truncated at the end */
        "\xf0\x9f\x94", /* truncated at the end */
        "\xc3\x28",     /* bad continuation */
        "\xe2\x28\xa1", /* bad continuation */
        "\xe2\x82\x28", /* bad continuation */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        same_as_jansson(cases[i]);
    }
}

/* Every 1- and 2-byte string and a pseudo-random sample of longer ones. */
static void test_exhaustive_short_and_random(void **state)
{
    char s[9];
    uint32_t x = 12345;

    (void)state;
    for (int a = 1; a < 256; a++) {
        s[0] = (char)a;
        s[1] = '\0';
        same_as_jansson(s);
        for (int b = 1; b < 256; b++) {
            s[1] = (char)b;
            s[2] = '\0';
            same_as_jansson(s);
        }
    }
    for (int i = 0; i < 200000; i++) {
        size_t n = 3 + (size_t)(i % 6);
        for (size_t k = 0; k < n; k++) {
            x = x * 1103515245u + 12345u;
            /* mostly high bytes, so multi-byte sequences (valid and not) are common */
            s[k] = (char)(((x >> 16) & 0x7f) | ((x >> 8) & 0x80) | 0x01);
        }
        s[n] = '\0';
        same_as_jansson(s);
    }
}

static void test_integers(void **state)
{
    static const int64_t cases[] = {0,         1,         -1,           9, 10, 1700000000,
                                    INT64_MAX, INT64_MIN, INT64_MIN + 1};
    char buf[64];
    mesh_jemit_t w;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_integer(cases[i]);
        char *dumped = json_dumps(j, JSON_ENCODE_ANY);
        mesh_jemit_init(&w, buf, sizeof(buf));
        mesh_jemit_int(&w, cases[i]);
        assert_int_equal(w.err, MESH_OK);
        assert_int_equal(w.len, strlen(dumped));
        assert_memory_equal(buf, dumped, w.len);
        free(dumped);
        json_decref(j);
    }
}

/* An object written member by member is what jansson dumps for the same object. */
static void test_object_matches_jansson(void **state)
{
    char buf[256];
    mesh_jemit_t w;
    json_t *o = json_pack("{s:s, s:I, s:{s:s}}", "iss", "https://i\"ss\n", "exp",
                          (json_int_t)1700000300, "cnf", "x5t#S256", "abc");
    char *dumped = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

    (void)state;
    mesh_jemit_init(&w, buf, sizeof(buf));
    mesh_jemit_raw(&w, "{\"iss\":");
    mesh_jemit_str(&w, "https://i\"ss\n");
    mesh_jemit_raw(&w, ",\"exp\":");
    mesh_jemit_int(&w, 1700000300);
    mesh_jemit_raw(&w, ",\"cnf\":{\"x5t#S256\":");
    mesh_jemit_str(&w, "abc");
    mesh_jemit_raw(&w, "}}");
    assert_int_equal(w.err, MESH_OK);
    assert_int_equal(w.len, strlen(dumped));
    assert_memory_equal(buf, dumped, w.len);
    free(dumped);
    json_decref(o);
}

/* Output that does not fit is MESH_ERR_LIMIT, never a write past the capacity. */
static void test_capacity(void **state)
{
    char buf[16];
    mesh_jemit_t w;

    (void)state;
    for (size_t cap = 0; cap <= 10; cap++) {
        memset(buf, 'Z', sizeof(buf));
        mesh_jemit_init(&w, buf, cap);
        mesh_jemit_str(&w, "a\tb"); /* "a\tb" with quotes: 6 bytes */
        mesh_jemit_int(&w, -12);    /* 3 more */
        assert_int_equal(w.err, cap >= 9 ? MESH_OK : MESH_ERR_LIMIT);
        assert_true(w.len <= cap);
        for (size_t i = cap; i < sizeof(buf); i++) {
            assert_int_equal(buf[i], 'Z');
        }
    }
    /* the first failure sticks */
    mesh_jemit_init(&w, buf, sizeof(buf));
    mesh_jemit_str(&w, "\xff");
    mesh_jemit_raw(&w, "0123456789abcdefghij");
    assert_int_equal(w.err, MESH_ERR_UTF8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_exhaustive_short_and_random),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_object_matches_jansson),
        cmocka_unit_test(test_capacity),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
