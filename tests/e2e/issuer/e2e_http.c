/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer end to end, the HTTP edges: request framing curl never sends, written by hand
 * over raw TLS (RFC 9112 §3.2 Host, §6.1 Transfer-Encoding, §6.3 message body length), and
 * what an error_description may hold (RFC 6749 §5.2). An ambiguous frame is answered 400 (501
 * for a transfer coding the server lacks) with Connection: close, and the bytes after it are
 * never read as a request: a second request smuggled in a body is never answered.
 * usage: test-issuer-e2e-http MESH_ISSUER GEN_CERTS_SH
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "e2e.h"
#include "e2e_tls.h"

/* A request smuggled in a body: answered only if the server reads it as a second request. */
#define SMUGGLED "GET /v1/audiences HTTP/1.1\r\nHost: localhost\r\n\r\n"

/* A sent request and everything the server answered until it closed (or `wait_s` passed). */
typedef struct {
    int status;        /* of the first answer, or 0 */
    int answers;       /* status lines seen */
    bool closed;       /* the server ended the connection */
    bool close_header; /* the first answer says Connection: close */
    char text[32768];
} exchange_t;

/* The answers in `text`, one after another: a status line, headers, a Content-Length body. */
static int count_answers(const char *text)
{
    int n = 0;
    const char *p = text;
    while (strncmp(p, "HTTP/1.", 7) == 0) {
        n++;
        const char *end = strstr(p, "\r\n\r\n");
        if (end == NULL) {
            break;
        }
        size_t body = 0;
        for (const char *h = p; (h = strstr(h, "\r\n")) != NULL && h < end; h += 2) {
            if (strncasecmp(h + 2, "Content-Length:", 15) == 0) {
                body = (size_t)strtoul(h + 17, NULL, 10);
            }
        }
        if (strlen(end + 4) < body) {
            break;
        }
        p = end + 4 + body;
    }
    return n;
}

/* Sends `request` on a new connection (as `leaf`, or anonymous) and reads until the end. */
static void exchange(const char *leaf, const char *request, int wait_s, exchange_t *x)
{
    memset(x, 0, sizeof(*x));
    SSL_CTX *ctx = client_ctx(leaf);
    SSL *ssl = tls_begin(ctx);
    assert_true(tls_finish(ssl, 60));
    tls_send(ssl, request, strlen(request));
    set_wait(ssl, wait_s);
    size_t n = 0;
    for (;;) {
        if (n + 1 >= sizeof(x->text)) {
            break;
        }
        int r = SSL_read(ssl, x->text + n, (int)(sizeof(x->text) - 1 - n));
        if (r <= 0) {
            x->closed = SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ;
            break;
        }
        n += (size_t)r;
        x->text[n] = '\0';
    }
    x->text[n] = '\0';
    if (strncmp(x->text, "HTTP/1.", 7) == 0) {
        x->status = (int)strtol(x->text + 9, NULL, 10);
    }
    x->answers = count_answers(x->text);
    const char *end = strstr(x->text, "\r\n\r\n");
    for (const char *p = x->text; end != NULL && (p = strstr(p, "\r\n")) != NULL && p < end;
         p += 2) {
        if (strncasecmp(p + 2, "Connection: close\r\n", 19) == 0) {
            x->close_header = true;
        }
    }
    tls_close(ssl);
    SSL_CTX_free(ctx);
}

/* The request is refused with `status` and Connection: close, the connection ends, and
 * nothing after the refused frame is answered. */
static void expect_refused(const char *leaf, const char *request, int status, const char *needle)
{
    exchange_t *x = malloc(sizeof(*x));
    assert_non_null(x);
    exchange(leaf, request, 20, x);
    if (x->status != status || x->answers != 1 || !x->closed || !x->close_header ||
        (needle != NULL && strstr(x->text, needle) == NULL)) {
        fail_msg("want one %d answer with Connection: close%s%s, then the end; got %d answers "
                 "(first %d), %s, for\n%s\n---\n%s",
                 status, needle ? " saying " : "", needle ? needle : "", x->answers, x->status,
                 x->closed ? "closed" : "left open", request, x->text);
    }
    free(x);
}

/* A POST /v1/token for the gateway's certificate with `headers` (each ending in CRLF). */
static char *token_request(const char *headers, const char *body)
{
    size_t cap = strlen(headers) + strlen(body) + 256;
    char *s = malloc(cap);
    assert_non_null(s);
    snprintf(s, cap,
             "POST /v1/token HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\n%s\r\n%s",
             headers, body);
    return s;
}

/* ---- well-formed framing keeps working (passes before and after the fix) ---- */

static void test_well_formed_framing_answered(void **state)
{
    exchange_t *x = malloc(sizeof(*x));
    assert_non_null(x);
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "Content-Length: %zu\r\nConnection: close\r\n", strlen(TOKEN_FORM));
    char *req = token_request(hdr, TOKEN_FORM);
    exchange("gateway", req, 20, x);
    assert_int_equal(x->status, 200);
    assert_non_null(strstr(x->text, "\"access_token\""));
    free(req);

    /* chunked, the one transfer coding there is */
    char body[256];
    snprintf(body, sizeof(body), "%zx\r\n%s\r\n0\r\n\r\n", strlen(TOKEN_FORM), TOKEN_FORM);
    req = token_request("Transfer-Encoding: chunked\r\nConnection: close\r\n", body);
    exchange("gateway", req, 20, x);
    assert_int_equal(x->status, 200);
    free(req);

    /* two pipelined requests in one write: both answered, in order */
    exchange(NULL,
             "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
             "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
             20, x);
    assert_int_equal(x->status, 200);
    assert_int_equal(x->answers, 2);

    /* HTTP/1.0 has no Host requirement; Content-Length with surrounding blanks is one value */
    exchange(NULL, "GET /healthz HTTP/1.0\r\n\r\n", 20, x);
    assert_int_equal(x->status, 200);
    snprintf(hdr, sizeof(hdr), "Content-Length: \t%zu \r\nConnection: close\r\n",
             strlen(TOKEN_FORM));
    req = token_request(hdr, TOKEN_FORM);
    exchange("gateway", req, 20, x);
    assert_int_equal(x->status, 200);
    free(req);
    free(x);
}

/* ---- RFC 9112 §6.3: one body length, or 400 and close ---- */

static void test_content_length_twice_refused(void **state)
{
    char hdr[128];
    size_t len = strlen(TOKEN_FORM);
    snprintf(hdr, sizeof(hdr), "Content-Length: %zu\r\nContent-Length: %zu\r\n", len,
             len + sizeof(SMUGGLED) - 1);
    char body[256];
    snprintf(body, sizeof(body), "%s%s", TOKEN_FORM, SMUGGLED);
    char *req = token_request(hdr, body);
    expect_refused("gateway", req, 400, "Content-Length");
    free(req);
    /* one field line holding a list of two */
    snprintf(hdr, sizeof(hdr), "Content-Length: %zu, %zu\r\n", len, len);
    req = token_request(hdr, TOKEN_FORM);
    expect_refused("gateway", req, 400, NULL);
    free(req);
}

static void test_content_length_not_digits_refused(void **state)
{
    static const char *const bad[] = {"+", "-", "0x", " +0"};
    size_t len = strlen(TOKEN_FORM);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char hdr[128];
        snprintf(hdr, sizeof(hdr), "Content-Length: %s%zu\r\n", bad[i], len);
        char *req = token_request(hdr, TOKEN_FORM);
        expect_refused("gateway", req, 400, NULL);
        free(req);
    }
}

/* ---- RFC 9112 §6.1: Transfer-Encoding is chunked, alone, or refused ---- */

/* Debian's libevent 2.1.12 (with its security fixes) refuses some of these frames itself, with
 * its own HTML page: those cases check the refusal, not whose words it is in (needle NULL). */
static void test_transfer_encoding_gzip_refused(void **state)
{
    /* chunked is not the final coding: the length cannot be known (400) */
    char body[256];
    snprintf(body, sizeof(body), "%s%s", TOKEN_FORM, SMUGGLED);
    char *req = token_request("Transfer-Encoding: gzip\r\n", body);
    expect_refused("gateway", req, 400, "Transfer-Encoding");
    free(req);
    req = token_request("Transfer-Encoding: chunked, gzip\r\n", body);
    expect_refused("gateway", req, 400, NULL);
    free(req);
    req = token_request("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", body);
    expect_refused("gateway", req, 400, NULL);
    free(req);
    /* chunked applied twice (RFC 9112 §7) */
    req = token_request("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n");
    expect_refused("gateway", req, 400, NULL);
    free(req);
    /* chunked last after a coding the server does not implement (501) */
    req = token_request("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n" SMUGGLED);
    expect_refused("gateway", req, 501, "Transfer-Encoding");
    free(req);
    /* HTTP/1.0 has no transfer codings: the framing is faulty */
    expect_refused(
        NULL, "POST /v1/token HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
        400, "Transfer-Encoding");
}

/* The classic CL.TE desync: a front end that trusts Content-Length forwards it whole, a server
 * that trusts chunked reads SMUGGLED as the next request (and TE.CL the other way round). */
static void test_transfer_encoding_with_content_length_refused(void **state)
{
    char hdr[128];
    const char *body = "0\r\n\r\n" SMUGGLED;
    /* "Transfer-Encoding :" is chunked to a lenient front end, no field at all to libevent,
     * which reads 5 bytes by Content-Length and SMUGGLED as a request of its own */
    char *req = token_request("Content-Length: 5\r\nTransfer-Encoding : chunked\r\n", body);
    expect_refused("gateway", req, 400, NULL);
    free(req);
    snprintf(hdr, sizeof(hdr), "Content-Length: %zu\r\nTransfer-Encoding: chunked\r\n",
             strlen(body));
    req = token_request(hdr, body);
    expect_refused("gateway", req, 400, NULL);
    free(req);
    req = token_request("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", body);
    expect_refused("gateway", req, 400, NULL);
    free(req);
    req = token_request("Content-Length: 5\r\nTransfer-Encoding: gzip\r\n", body);
    expect_refused("gateway", req, 400, NULL);
    free(req);
}

/* ---- RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host ---- */

static void test_host_missing_refused(void **state)
{
    expect_refused(NULL, "GET /healthz HTTP/1.1\r\n\r\n", 400, "Host");
    expect_refused(NULL, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil\r\n\r\n", 400,
                   "Host");
}

/* ---- a flood of refusals is logged in bounded lines that still count it ---- */

static long log_count(const char *needle)
{
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof(cmd), "tail -c +%ld '%s' | grep -c -- '%s'", srv.log_start + 1, srv.log,
             needle);
    run_cmd(cmd, &out);
    long n = out != NULL ? strtol(out, NULL, 10) : -1;
    free(out);
    return n;
}

static void test_refusal_flood_log_bounded(void **state)
{
    enum { TOTAL = 100 };
    long before = log_count("request framing refused");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < TOTAL; i++) {
        expect_refused(NULL, "GET /healthz HTTP/1.1\r\n\r\n", 400, "Host");
    }
    struct timespec pause = {1, 200 * 1000 * 1000}; /* the next second's first refusal counts */
    nanosleep(&pause, NULL);
    expect_refused(NULL, "GET /healthz HTTP/1.1\r\n\r\n", 400, "Host");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long lines = log_count("request framing refused") - before;
    /* at most 10 lines a second plus one count line a second, however slow the machine */
    long bound = 11 * ((long)(t1.tv_sec - t0.tv_sec) + 2);
    if (lines > bound) {
        fail_msg("%ld log lines for %d refusals in %ld s", lines, TOTAL + 1,
                 (long)(t1.tv_sec - t0.tv_sec));
    }
    if (TOTAL > bound) { /* then some were suppressed, and the count said so */
        assert_true(log_count("more refusals in the second before were not logged") >= 1);
    }
}

/* ---- nothing after a refused frame is ever answered ---- */

static void test_smuggled_request_never_answered(void **state)
{
    /* no Content-Length: the body is SMUGGLED itself */
    expect_refused("gateway",
                   "POST /v1/token HTTP/1.1\r\nHost: localhost\r\n"
                   "Transfer-Encoding: gzip\r\n\r\n" SMUGGLED,
                   400, NULL);
    /* HEAD has no body in libevent's reading, but Content-Length frames one (RFC 9112 §6.3) */
    char req[256];
    snprintf(req, sizeof(req),
             "HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             sizeof(SMUGGLED) - 1, SMUGGLED);
    expect_refused(NULL, req, 400, NULL);
    /* a field name with a blank before its colon is no field libevent knows (RFC 9112 §5.1) */
    snprintf(req, sizeof(req),
             "POST /v1/token HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Length : %zu\r\n\r\n%s",
             sizeof(SMUGGLED) - 1, SMUGGLED);
    expect_refused(NULL, req, 400, NULL);
}

/* ---- RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E ---- */

static void test_error_description_sanitised(void **state)
{
    /* '"', '\', CR LF, DEL and a UTF-8 'é' in an unknown grant_type, which the answer quotes */
    resp_t *x =
        post_token("gateway", "grant_type=a%22b%5Cc%0D%0Ad%7Fe%C3%A9f&audience=asset-service");
    assert_int_equal(x->status, 400);
    assert_non_null(x->json); /* still JSON */
    assert_string_equal(jstr(x, "error"), "unsupported_grant_type");
    const char *d = jstr(x, "error_description");
    for (const unsigned char *p = (const unsigned char *)d; *p != '\0'; p++) {
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p > 0x7e) {
            fail_msg("byte 0x%02x in error_description: %s", *p, d);
        }
    }
    assert_non_null(strstr(d, "a?b?c??d?e??f")); /* readable: one '?' per byte */
    resp_free(x);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed_framing_answered),
        cmocka_unit_test(test_content_length_twice_refused),
        cmocka_unit_test(test_content_length_not_digits_refused),
        cmocka_unit_test(test_transfer_encoding_gzip_refused),
        cmocka_unit_test(test_transfer_encoding_with_content_length_refused),
        cmocka_unit_test(test_host_missing_refused),
        cmocka_unit_test(test_smuggled_request_never_answered),
        cmocka_unit_test(test_error_description_sanitised),
        cmocka_unit_test(test_refusal_flood_log_bounded),
    };
    return e2e_run("issuer-e2e-http", tests, sizeof(tests) / sizeof(tests[0]), e2e_teardown, argc,
                   argv);
}
