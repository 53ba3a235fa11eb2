/* SPDX-License-Identifier: Apache-2.0 */
/* The certificate headers of nginx, Envoy (XFCC) and Traefik, including hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mesh/limits.h>

#include "fwd.h"

#define PEM1     "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define PEM1_ENC "-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A"
#define PEM2_ENC "-----BEGIN%20CERTIFICATE-----%0AMIIC%0A-----END%20CERTIFICATE-----%0A"

typedef const char *(*decode_fn)(const char *, char **, size_t *);

static void expect_ok(decode_fn fn, const char *value, const char *want)
{
    char *pem = (char *)"unset";
    size_t len = 99;
    const char *why = fn(value, &pem, &len);
    if (why != NULL) {
        fail_msg("'%.80s': %s", value ? value : "(null)", why);
    }
    if (want == NULL) {
        assert_null(pem);
        assert_int_equal(len, 0);
        return;
    }
    assert_non_null(pem);
    assert_string_equal(pem, want);
    assert_int_equal(len, strlen(want));
    free(pem);
}

static void expect_refused(decode_fn fn, const char *value, const char *reason)
{
    char *pem = (char *)"unset";
    size_t len = 99;
    const char *why = fn(value, &pem, &len);
    if (why == NULL || strcmp(why, reason) != 0) {
        fail_msg("'%.80s': got %s, want %s", value ? value : "(null)", why ? why : "(accepted)",
                 reason);
    }
    assert_null(pem);
}

static void test_pct_decode(void **state)
{
    char out[64];
    size_t n;
    assert_true(fwd_pct_decode("a%20b+c%2F", 10, out, &n));
    assert_string_equal(out, "a b+c/");
    assert_int_equal(n, 6);
    assert_false(fwd_pct_decode("%", 1, out, &n));
    assert_false(fwd_pct_decode("%2", 2, out, &n));
    assert_false(fwd_pct_decode("ab%2", 4, out, &n));
    assert_false(fwd_pct_decode("%zz", 3, out, &n));
    assert_false(fwd_pct_decode("%00", 3, out, &n)); /* no NUL smuggled into a PEM */
}

static void test_nginx(void **state)
{
    expect_ok(fwd_nginx_cert, NULL, NULL);
    expect_ok(fwd_nginx_cert, "", NULL);
    expect_ok(fwd_nginx_cert, PEM1_ENC, PEM1);
    expect_refused(fwd_nginx_cert, "MIIB", "cert_header_malformed");
    expect_refused(fwd_nginx_cert, "-----BEGIN%20CERT", "cert_header_malformed");
    expect_refused(fwd_nginx_cert, PEM1_ENC "%", "cert_header_malformed");
}

static void test_xfcc(void **state)
{
    expect_ok(fwd_xfcc_cert, NULL, NULL);
    expect_ok(fwd_xfcc_cert,
              "By=spiffe://a;Hash=ab12;Cert=\"" PEM1_ENC "\";Subject=\"CN=x,O=\\\"q\\\"\";"
              "URI=spiffe://mesh.local/x;DNS=a;DNS=b",
              PEM1);
    /* Chain wins over Cert; unquoted values too */
    expect_ok(fwd_xfcc_cert, "Cert=" PEM2_ENC ";Chain=" PEM1_ENC, PEM1);
    /* several elements: the last one */
    expect_ok(fwd_xfcc_cert, "By=a;Cert=\"" PEM1_ENC "\",By=b;Cert=\"" PEM2_ENC "\"",
              "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
    /* a quoted comma inside the first element does not split it */
    expect_ok(fwd_xfcc_cert, "Subject=\"a,b\";By=x,Cert=\"" PEM1_ENC "\"", PEM1);
    expect_refused(fwd_xfcc_cert, "By=a;Hash=ab12", "xfcc_no_cert");
    expect_refused(fwd_xfcc_cert, "Cert=\"" PEM1_ENC "\",By=b", "xfcc_no_cert");
    static const char *const bad[] = {
        "Cert",
        "=x",
        "Cert=\"abc",
        "Cert=\"a\"b",
        "Cert=a;",
        "Cert=a,",
        ",Cert=a",
        ";",
        "Cert=a;;By=b",
        "Cert=\"a\\",
        "Cert=a\"b",
        "Cert=1;Cert=2",
        "Chain=1;Chain=2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refused(fwd_xfcc_cert, bad[i], "xfcc_malformed");
    }
    expect_refused(fwd_xfcc_cert, "Cert=\"abc\"", "cert_header_malformed");
    expect_refused(fwd_xfcc_cert, "Cert=\"%ZZ\"", "cert_header_malformed");
}

static void test_xfcc_limits(void **state)
{
    /* MESH_AUTHZ_MAX_XFCC_ELEMENTS elements pass, one more is refused */
    char v[4096] = "";
    size_t used = 0;
    for (int i = 0; i < MESH_AUTHZ_MAX_XFCC_ELEMENTS - 1; i++) {
        used += (size_t)snprintf(v + used, sizeof(v) - used, "By=a%d,", i);
    }
    snprintf(v + used, sizeof(v) - used, "Cert=\"%s\"", PEM1_ENC);
    expect_ok(fwd_xfcc_cert, v, PEM1);
    char w[4200];
    snprintf(w, sizeof(w), "By=z,%s", v);
    expect_refused(fwd_xfcc_cert, w, "xfcc_malformed");
    /* pairs in one element */
    used = 0;
    for (int i = 0; i <= MESH_AUTHZ_MAX_XFCC_PAIRS; i++) {
        used += (size_t)snprintf(v + used, sizeof(v) - used, "%sDNS=a%d", i ? ";" : "", i);
    }
    expect_refused(fwd_xfcc_cert, v, "xfcc_malformed");
    /* size: at the limit is read, over it is refused unread */
    char *big = malloc(MESH_AUTHZ_MAX_CERT_HEADER + 2);
    assert_non_null(big);
    memset(big, 'A', MESH_AUTHZ_MAX_CERT_HEADER + 1);
    big[MESH_AUTHZ_MAX_CERT_HEADER + 1] = '\0';
    expect_refused(fwd_xfcc_cert, big, "cert_header_too_large");
    expect_refused(fwd_nginx_cert, big, "cert_header_too_large");
    expect_refused(fwd_traefik_cert, big, "cert_header_too_large");
    big[MESH_AUTHZ_MAX_CERT_HEADER] = '\0';
    expect_refused(fwd_xfcc_cert, big, "xfcc_malformed"); /* read, and malformed */
    free(big);
}

static void test_traefik(void **state)
{
    expect_ok(fwd_traefik_cert, NULL, NULL);
    expect_ok(fwd_traefik_cert, "MIIB", PEM1);
    expect_ok(fwd_traefik_cert, "MIIB,MIIC",
              PEM1 "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
    expect_ok(fwd_traefik_cert, "MIIB%2CMIIC", /* Traefik v2: URL-escaped */
              PEM1 "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
    /* 64-column lines */
    char body[200], want[400];
    memset(body, 'Q', 128);
    body[128] = '\0';
    snprintf(want, sizeof(want),
             "-----BEGIN CERTIFICATE-----\n%.64s\n%.64s\n"
             "-----END CERTIFICATE-----\n",
             body, body);
    expect_ok(fwd_traefik_cert, body, want);
    static const char *const bad[] = {"MII",   "MI B",       "MIIB,",
                                      ",MIIB", "MIIB,,MIIC", "M=IB",
                                      "MIIB%", "-----BEGIN", "MIIB,MIIB,MIIB,MIIB,MIIB"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refused(fwd_traefik_cert, bad[i], "cert_header_malformed");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pct_decode), cmocka_unit_test(test_nginx),
        cmocka_unit_test(test_xfcc),       cmocka_unit_test(test_xfcc_limits),
        cmocka_unit_test(test_traefik),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
