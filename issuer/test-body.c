/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of issuer/body.c (request bodies) and of resp_error's error_description bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <mesh/jansson.h>
#include <mesh/limits.h>

#include "body.h"

typedef struct {
    body_t b;
    issuer_resp_t resp;
    bool ok;
} parsed_t;

static void parse(parsed_t *p, const char *ctype, const char *buf, size_t len)
{
    memset(p, 0, sizeof(*p));
    p->ok = body_parse(ctype, buf, len, &p->b, &p->resp);
}

static void parsed_free(parsed_t *p)
{
    body_free(&p->b);
    json_decref(p->resp.body);
    p->resp.body = NULL;
}

static const char *value(const parsed_t *p, const char *name)
{
    for (size_t i = 0; i < p->b.n; i++) {
        if (strcmp(p->b.names[i], name) == 0) {
            return p->b.values[i];
        }
    }
    return NULL;
}

/* The body is refused with `status` and an error_description holding `needle`. */
static void expect_refused(const char *ctype, const char *buf, size_t len, int status,
                           const char *needle)
{
    parsed_t p;
    parse(&p, ctype, buf, len);
    assert_false(p.ok);
    assert_int_equal(p.resp.status, status);
    assert_string_equal(json_string_value(json_object_get(p.resp.body, "error")),
                        status == 500 ? "server_error" : "invalid_request");
    const char *d = json_string_value(json_object_get(p.resp.body, "error_description"));
    assert_non_null(d);
    if (strstr(d, needle) == NULL) {
        fail_msg("'%s' does not say '%s'", d, needle);
    }
    parsed_free(&p);
}

static void expect_form_refused(const char *text, const char *needle)
{
    expect_refused("application/x-www-form-urlencoded", text, strlen(text), 400, needle);
}

/* ---- forms: RFC 6749 appendix B ---- */

static void test_form_decoding(void **state)
{
    parsed_t p;
    const char *t = "grant_type=client_credentials&a+b=c+d%20e&n%41me=%41&tail=%4&bad=%zz%"
                    "&euro=%e2%82%AC&empty=";
    parse(&p, NULL, t, strlen(t)); /* no Content-Type reads as a form */
    assert_true(p.ok);
    assert_int_equal(p.b.n, 7);
    assert_string_equal(value(&p, "grant_type"), "client_credentials");
    assert_string_equal(value(&p, "a b"), "c d e"); /* '+' is a space, in names too */
    assert_string_equal(value(&p, "nAme"), "A");    /* %XX last in the body is decoded */
    assert_string_equal(value(&p, "tail"), "%4");   /* an incomplete escape is itself */
    assert_string_equal(value(&p, "bad"), "%zz%");
    assert_string_equal(value(&p, "euro"), "\xe2\x82\xac");
    assert_string_equal(value(&p, "empty"), "");
    assert_string_equal(p.b.names[0], "grant_type"); /* in body order */
    parsed_free(&p);

    parse(&p, "Application/X-WWW-Form-Urlencoded; charset=UTF-8", "a=1&", 4);
    assert_true(p.ok); /* a trailing '&' ends the body */
    assert_int_equal(p.b.n, 1);
    parsed_free(&p);
    parse(&p, NULL, "", 0);
    assert_true(p.ok);
    assert_int_equal(p.b.n, 0);
    parsed_free(&p);
}

static void test_form_malformed_refused(void **state)
{
    static const char *const bad[] = {"a", "a=1&b", "&a=1", "a=1&&b=2", "=1", "a=1&=2", "&"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_form_refused(bad[i], "key=value pairs joined by &");
    }
}

static void test_form_duplicates_refused(void **state)
{
    /* RFC 6749 §3.2: a parameter MUST NOT be included more than once */
    expect_form_refused("audience=a&audience=b", "'audience' is sent more than once");
    expect_form_refused("audience=a&aud%69ence=a", "more than once"); /* the same decoded */
    char many[256] = "";
    size_t n = 0;
    for (int i = 0; i <= MESH_MAX_REQUEST_PARAMS; i++) {
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%sp%d=1", i ? "&" : "", i);
    }
    expect_form_refused(many, "more than 16 parameters");
    many[strrchr(many, '&') - many] = '\0'; /* MESH_MAX_REQUEST_PARAMS exactly */
    parsed_t p;
    parse(&p, NULL, many, strlen(many));
    assert_true(p.ok);
    assert_int_equal(p.b.n, MESH_MAX_REQUEST_PARAMS);
    parsed_free(&p);
}

static void test_form_nul_and_utf8_refused(void **state)
{
    expect_form_refused("audience=asset-service%00x", "%00 (NUL)");
    expect_refused(NULL, "audience=a\0b", 12, 400, "NUL byte");
    expect_form_refused("audience=%ff%fe", "UTF-8");
    expect_form_refused("audience=%c0%af", "UTF-8");       /* overlong '/' */
    expect_form_refused("audience=%ed%a0%80", "UTF-8");    /* a surrogate */
    expect_form_refused("audience=%f4%90%80%80", "UTF-8"); /* past U+10FFFF */
    expect_form_refused("audience=%e2%82", "UTF-8");       /* cut short */
    expect_form_refused("%ff=1", "UTF-8");
    parsed_t p;
    const char *ok = "audience=%c3%a9%f0%9f%98%80";
    parse(&p, NULL, ok, strlen(ok));
    assert_true(p.ok);
    assert_string_equal(value(&p, "audience"), "\xc3\xa9\xf0\x9f\x98\x80");
    parsed_free(&p);
}

/* ---- JSON bodies ---- */

static void expect_json_refused(const char *text, const char *needle)
{
    expect_refused("application/json", text, strlen(text), 400, needle);
}

static void test_json_members(void **state)
{
    parsed_t p;
    const char *t = "{\"grant_type\":\"client_credentials\",\"audience\":\"asset-service\","
                    "\"ttl\":120,\"x\":\"\\u00e9\"}";
    parse(&p, "application/json; charset=utf-8", t, strlen(t));
    assert_true(p.ok);
    assert_int_equal(p.b.n, 4);
    assert_string_equal(value(&p, "audience"), "asset-service");
    assert_string_equal(value(&p, "ttl"), "120"); /* an integer reads as its digits */
    assert_string_equal(value(&p, "x"), "\xc3\xa9");
    parsed_free(&p);

    expect_json_refused("{\"grant_type\":\"client_credentials\",\"audience\":", "JSON");
    expect_json_refused("{\"audience\":\"a\",\"audience\":\"b\"}", "duplicate");
    expect_json_refused("[1,2]", "not an object");
    expect_json_refused("{\"audience\":{\"x\":1}}", "'audience' must be a string");
    expect_json_refused("{\"ttl\":1.5}", "must be a string");
    expect_json_refused("{\"audience\":\"a\\u0000b\"}", "JSON");
}

/* Regression (issue 10, point 3): the JSON body is read through the library's door
 * (<mesh/jansson.h>): nesting past MESH_MAX_JSON_DEPTH and a member sent twice are 400
 * invalid_request naming the reason, before any member is looked at. */
static void test_json_body_through_the_door(void **state)
{
    (void)state;
    /* an object and 8 arrays: depth 9 */
    expect_json_refused("{\"audience\":[[[[[[[[\"a\"]]]]]]]]}", "nested deeper than 8 levels");
    expect_json_refused("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                        "nested deeper than 8 levels");
    /* depth 8 exactly is within the limit: refused for its type, not its depth */
    expect_json_refused("{\"audience\":[[[[[[[\"a\"]]]]]]]}", "'audience' must be a string");
    expect_json_refused("{\"grant_type\":\"client_credentials\",\"grant_type\":\"x\"}",
                        "more than once");
    expect_json_refused("{\"a\":\"\xff\"}", "malformed");
}

/* ---- the body as a whole ---- */

static void test_body_content_type_and_size(void **state)
{
    expect_refused("text/plain", "hello", 5, 415, "Content-Type 'text/plain' is not accepted");
    expect_refused("application/jsonp", "{}", 2, 415, "not accepted");
    expect_refused("application/x-www-form-urlencodedX", "a=1", 3, 415, "not accepted");
    static char big[MESH_MAX_REQUEST_BODY + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[0] = 'a';
    big[1] = '=';
    expect_refused(NULL, big, MESH_MAX_REQUEST_BODY + 1, 413, "body larger than 16384 bytes");
    parsed_t p;
    parse(&p, NULL, big, MESH_MAX_REQUEST_BODY);
    assert_true(p.ok);
    parsed_free(&p);
}

/* body_free empties the body and may be called again (and with NULL). */
static void test_body_free_empties(void **state)
{
    parsed_t p;
    parse(&p, NULL, "client_secret=mss_secret", 24);
    assert_true(p.ok);
    body_free(&p.b);
    assert_int_equal(p.b.n, 0);
    assert_null(p.b.names[0]);
    assert_null(p.b.values[0]);
    body_free(&p.b);
    body_free(NULL);
}

/* ---- RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E ---- */

static void test_error_description_bytes(void **state)
{
    issuer_resp_t resp = {.status = 0};
    resp_error(&resp, 400, "unsupported_grant_type", "grant_type '%s' is not supported",
               "a\"b\\c\r\nd\x7f"
               "e\xc3\xa9\x01"
               "f");
    assert_int_equal(resp.status, 400);
    assert_true(resp.no_store);
    assert_string_equal(json_string_value(json_object_get(resp.body, "error_description")),
                        "grant_type 'a?b?c??d?e???f' is not supported");
    /* a second error replaces the first */
    resp_error(&resp, 413, "invalid_request", "%s", "plain text ~!#[]");
    assert_string_equal(json_string_value(json_object_get(resp.body, "error_description")),
                        "plain text ~!#[]");
    json_decref(resp.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_decoding),
        cmocka_unit_test(test_form_malformed_refused),
        cmocka_unit_test(test_form_duplicates_refused),
        cmocka_unit_test(test_form_nul_and_utf8_refused),
        cmocka_unit_test(test_json_members),
        cmocka_unit_test(test_json_body_through_the_door),
        cmocka_unit_test(test_body_content_type_and_size),
        cmocka_unit_test(test_body_free_empties),
        cmocka_unit_test(test_error_description_bytes),
    };
    return cmocka_run_group_tests_name("issuer-body", tests, NULL, NULL);
}
