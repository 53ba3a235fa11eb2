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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

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
              "By=spiffe://a;Cert=\"" PEM1_ENC "\";Subject=\"CN=x,O=\\\"q\\\"\";"
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

/* A real self-signed certificate (P-256), its PEM percent-encoded and its DER's SHA-256 in hex. */
typedef struct {
    char pem[2048], enc[6144], hash[65];
} real_cert_t;

static void make_cert(real_cert_t *c, const char *cn)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(key);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    int n = BIO_read(b, c->pem, sizeof(c->pem) - 1);
    assert_true(n > 0);
    c->pem[n] = '\0';
    BIO_free(b);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->pem[i];
        if (ch == '\n' || ch == ' ' || ch == '+' || ch == '/' || ch == '=') {
            o += (size_t)snprintf(c->enc + o, sizeof(c->enc) - o, "%%%02X", ch);
        } else {
            c->enc[o++] = (char)ch;
        }
    }
    c->enc[o] = '\0';
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
    for (unsigned int i = 0; i < mdlen; i++) {
        snprintf(c->hash + 2 * i, 3, "%02x", md[i]);
    }
    X509_free(x);
    EVP_PKEY_free(key);
}

/* Hash= beside Cert=/Chain= must be the SHA-256 of the leaf's DER. */
static void test_xfcc_hash(void **state)
{
    (void)state;
    static real_cert_t a, b;
    make_cert(&a, "a");
    make_cert(&b, "b");
    char v[32768], upper[65];
    snprintf(v, sizeof(v), "By=x;Hash=%s;Cert=\"%s\"", a.hash, a.enc);
    expect_ok(fwd_xfcc_cert, v, a.pem);
    for (int i = 0; i < 64; i++) { /* hex digits in either case */
        upper[i] = (a.hash[i] >= 'a' && a.hash[i] <= 'f') ? (char)(a.hash[i] - 32) : a.hash[i];
    }
    upper[64] = '\0';
    snprintf(v, sizeof(v), "Cert=\"%s\";Hash=%s", a.enc, upper);
    expect_ok(fwd_xfcc_cert, v, a.pem);
    /* the hash of another certificate */
    snprintf(v, sizeof(v), "By=x;Hash=%s;Cert=\"%s\"", b.hash, a.enc);
    expect_refused(fwd_xfcc_cert, v, "xfcc_hash_mismatch");
    /* Chain= alone: the hash is of its first certificate */
    char chain[13000];
    snprintf(chain, sizeof(chain), "%s%s", a.enc, b.enc);
    snprintf(v, sizeof(v), "Hash=%s;Chain=\"%s\"", a.hash, chain);
    char both[4200];
    snprintf(both, sizeof(both), "%s%s", a.pem, b.pem);
    expect_ok(fwd_xfcc_cert, v, both);
    snprintf(v, sizeof(v), "Hash=%s;Chain=\"%s\"", b.hash, chain);
    expect_refused(fwd_xfcc_cert, v, "xfcc_hash_mismatch");
    /* Cert= and Chain=: the hash is of Cert= */
    snprintf(v, sizeof(v), "Hash=%s;Cert=\"%s\";Chain=\"%s\"", a.hash, a.enc, chain);
    expect_ok(fwd_xfcc_cert, v, both);
    snprintf(v, sizeof(v), "Hash=%s;Cert=\"%s\";Chain=\"%s\"", a.hash, b.enc, chain);
    expect_refused(fwd_xfcc_cert, v, "xfcc_hash_mismatch");
    /* not 64 hex digits, or twice */
    static const char *const bad_hash[] = {"ab12", "", "zz"};
    for (size_t i = 0; i < sizeof(bad_hash) / sizeof(bad_hash[0]); i++) {
        snprintf(v, sizeof(v), "Hash=%s;Cert=\"%s\"", bad_hash[i], a.enc);
        expect_refused(fwd_xfcc_cert, v, "xfcc_malformed");
    }
    snprintf(v, sizeof(v), "Hash=%.63sg;Cert=\"%s\"", a.hash, a.enc);
    expect_refused(fwd_xfcc_cert, v, "xfcc_malformed");
    snprintf(v, sizeof(v), "Hash=%s;Hash=%s;Cert=\"%s\"", a.hash, a.hash, a.enc);
    expect_refused(fwd_xfcc_cert, v, "xfcc_malformed");
    /* a PEM whose body is no certificate: its bytes do not have the hash */
    snprintf(v, sizeof(v), "Hash=%s;Cert=\"%s\"", a.hash, PEM1_ENC);
    expect_refused(fwd_xfcc_cert, v, "xfcc_hash_mismatch");
    /* a body that is not base64 cannot be hashed */
    snprintf(v, sizeof(v),
             "Hash=%s;Cert=\"-----BEGIN%%20CERTIFICATE-----%%0A*%%0A-----END"
             "%%20CERTIFICATE-----%%0A\"",
             a.hash);
    expect_refused(fwd_xfcc_cert, v, "cert_header_malformed");
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
        cmocka_unit_test(test_xfcc_hash),  cmocka_unit_test(test_traefik),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
