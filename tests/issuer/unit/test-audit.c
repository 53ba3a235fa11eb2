/* SPDX-License-Identifier: Apache-2.0 */
/* Audit lines: one valid JSON object per line with the documented fields. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit.h"

/* Reads everything written to f so far. */
static char *slurp(FILE *f)
{
    long n;
    char *buf;

    fflush(f);
    n = ftell(f);
    assert_true(n >= 0);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

static json_t *parse_line(const char *line, size_t len)
{
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);

    if (o == NULL) {
        fail_msg("not JSON: %.*s (%s)", (int)len, line, err.text);
    }
    return o;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_issued_line(void **state)
{
    FILE *f = tmpfile();
    audit_event_t ev = {
        .time = 1700000000,
        .identity = "spiffe://mesh.local/orders",
        .auth_method = "tls_client_auth",
        .audience = "billing",
        .scope = "read write",
        .jti = "abc123",
        .lifetime = 300,
        .outcome = "issued",
        .reason = "",
        .source = "127.0.0.1:5555",
    };
    char *text;
    json_t *o;

    (void)state;
    audit_log(f, &ev);
    text = slurp(f);
    assert_non_null(strchr(text, '\n'));
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1); /* exactly one line */
    o = parse_line(text, strlen(text) - 1);
    assert_int_equal(json_integer_value(json_object_get(o, "time")), 1700000000);
    assert_string_equal(str(o, "identity"), "spiffe://mesh.local/orders");
    assert_string_equal(str(o, "auth_method"), "tls_client_auth");
    assert_string_equal(str(o, "audience"), "billing");
    assert_string_equal(str(o, "scope"), "read write");
    assert_string_equal(str(o, "jti"), "abc123");
    assert_int_equal(json_integer_value(json_object_get(o, "lifetime")), 300);
    assert_string_equal(str(o, "outcome"), "issued");
    assert_string_equal(str(o, "reason"), "");
    assert_string_equal(str(o, "source"), "127.0.0.1:5555");
    assert_int_equal(json_object_size(o), 10);
    json_decref(o);
    free(text);
    fclose(f);
}

/* Hostile request values: newlines stay escaped, bad UTF-8 and long values never lose the line. */
static void test_hostile_values(void **state)
{
    FILE *f = tmpfile();
    char long_aud[2000];
    audit_event_t ev = {.outcome = "denied", .reason = "invalid_target"};
    char *text, *nl;
    json_t *o;

    (void)state;
    memset(long_aud, 'a', sizeof(long_aud) - 1);
    long_aud[sizeof(long_aud) - 1] = '\0';
    long_aud[511] = (char)0xc3; /* a two-byte character straddling the cut at 512 */
    long_aud[512] = (char)0xa9;
    ev.audience = "x\ny\"z";
    ev.scope = "\xff\xfe";
    audit_log(f, &ev);
    ev.audience = long_aud;
    ev.scope = NULL;
    audit_log(f, &ev);
    text = slurp(f);
    nl = strchr(text, '\n');
    o = parse_line(text, (size_t)(nl - text));
    assert_string_equal(str(o, "audience"), "x\ny\"z");
    assert_string_equal(str(o, "scope"), "<invalid utf-8>");
    assert_string_equal(str(o, "identity"), ""); /* NULL reads as "" */
    json_decref(o);
    o = parse_line(nl + 1, strlen(nl + 1) - 1);
    assert_int_equal(strlen(str(o, "audience")), 511); /* cut before the character */
    assert_string_equal(str(o, "scope"), "");
    json_decref(o);
    free(text);
    fclose(f);
}

static FILE *shared_file;

static void *writer(void *arg)
{
    audit_event_t ev = {.outcome = "issued", .audience = arg, .lifetime = 300};

    for (int i = 0; i < 200; i++) {
        ev.time = i;
        audit_log(shared_file, &ev);
    }
    return NULL;
}

/* Lines from concurrent threads never interleave. */
static void test_threads_whole_lines(void **state)
{
    pthread_t th[4];
    char *names[4] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbb", "cccccccccccc", "d"};
    char *text, *p;
    size_t lines = 0;

    (void)state;
    shared_file = tmpfile();
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, writer, names[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
    }
    text = slurp(shared_file);
    for (p = text; *p != '\0'; lines++) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        json_decref(parse_line(p, (size_t)(nl - p)));
        p = nl + 1;
    }
    assert_int_equal(lines, 800);
    free(text);
    fclose(shared_file);
}

static void test_null_event_ignored(void **state)
{
    (void)state;
    audit_log(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issued_line),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_threads_whole_lines),
        cmocka_unit_test(test_null_event_ignored),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
