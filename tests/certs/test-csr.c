/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca/online.h against hostile input: CSRs built here with OpenSSL, each wrong in one way
 * (key, signature, PEM shape, names), the leaf profile of ca_online_sign (names come from the
 * request, never from the CSR) and the issuing CA's CRL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <mesh/limits.h>

#include "ca.h"
#include "online.h"

static EVP_PKEY *gen(const char *alg, const char *param)
{
    EVP_PKEY *k = NULL;

    if (strcmp(alg, "RSA") == 0) {
        char *end = NULL;
        unsigned long bits = strtoul(param, &end, 10);
        assert_true(end != param && *end == '\0' && bits >= 512 && bits <= 16384);
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    } else if (strcmp(alg, "EC") == 0) {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
    } else {
        k = EVP_PKEY_Q_keygen(NULL, NULL, alg);
    }
    assert_non_null(k);
    return k;
}

/* GEN_DNS/GEN_URI/GEN_IPADD entries as raw bytes (so a NUL or a 5-byte IP can be made). */
struct raw_name {
    int type;
    const char *bytes;
    int len;
};

static X509_REQ *make_req(EVP_PKEY *k, const char *cn, const struct raw_name *names, size_t n)
{
    X509_REQ *r = X509_REQ_new();
    X509_NAME *subj = X509_NAME_new();

    assert_non_null(r);
    assert_int_equal(X509_REQ_set_version(r, 0), 1);
    if (cn != NULL) {
        assert_int_equal(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
                                                    (const unsigned char *)cn, -1, -1, 0),
                         1);
    }
    assert_int_equal(X509_REQ_set_subject_name(r, subj), 1);
    X509_NAME_free(subj);
    assert_int_equal(X509_REQ_set_pubkey(r, k), 1);
    if (n > 0) {
        GENERAL_NAMES *gens = GENERAL_NAMES_new();
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        for (size_t i = 0; i < n; i++) {
            GENERAL_NAME *gn = GENERAL_NAME_new();
            ASN1_STRING *s =
                names[i].type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
            assert_int_equal(ASN1_STRING_set(s, names[i].bytes, names[i].len), 1);
            GENERAL_NAME_set0_value(gn, names[i].type, s);
            sk_GENERAL_NAME_push(gens, gn);
        }
        X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
        sk_X509_EXTENSION_push(exts, ext);
        assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        GENERAL_NAMES_free(gens);
    }
    assert_true(X509_REQ_sign(r, k,
                              EVP_PKEY_is_a(k, "ED25519") || EVP_PKEY_is_a(k, "ED448")
                                  ? NULL
                                  : EVP_sha256()) > 0);
    return r;
}

static char *pem_of(X509_REQ *r)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long n;

    assert_int_equal(PEM_write_bio_X509_REQ(b, r), 1);
    n = BIO_get_mem_data(b, &data);
    out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

static char *csr_pem(const char *alg, const char *param, const char *cn,
                     const struct raw_name *names, size_t n)
{
    EVP_PKEY *k = gen(alg, param);
    X509_REQ *r = make_req(k, cn, names, n);
    char *pem = pem_of(r);

    X509_REQ_free(r);
    EVP_PKEY_free(k);
    return pem;
}

static mesh_err_t parse(const char *pem, ca_csr_t **out)
{
    return ca_csr_parse(pem, strlen(pem), out);
}

static void expect_refused(const char *pem, mesh_err_t want, const char *detail_has)
{
    ca_csr_t *c = NULL;
    mesh_err_t rc = parse(pem, &c);

    if (rc != want || strstr(mesh_err_detail(), detail_has) == NULL) {
        fail_msg("want %s containing '%s', got %s: %s", mesh_strerror(want), detail_has,
                 mesh_strerror(rc), mesh_err_detail());
    }
    assert_null(c);
}

static const struct raw_name good_names[] = {
    {GEN_URI, "spiffe://mesh.local/svc", 23},
    {GEN_DNS, "svc", 3},
    {GEN_IPADD, "\x7f\x00\x00\x01", 4},
};

static void test_accepts_the_key_types(void **state)
{
    static const char *const types[][3] = {
        {"EC", "P-256", "p256"},
        {"EC", "P-384", "p384"},
        {"ED25519", "", "ed25519"},
        {"RSA", "2048", "rsa2048"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char *pem = csr_pem(types[i][0], types[i][1], "svc", good_names, 3);
        ca_csr_t *c = NULL;
        const char *const *names;
        if (parse(pem, &c) != MESH_OK) {
            fail_msg("%s: %s", types[i][2], mesh_err_detail());
        }
        assert_string_equal(ca_csr_key_type(c), types[i][2]);
        assert_string_equal(ca_csr_cn(c), "svc");
        assert_int_equal(ca_csr_names(c, &names), 3);
        assert_string_equal(names[0], "URI:spiffe://mesh.local/svc");
        assert_string_equal(names[1], "DNS:svc");
        assert_string_equal(names[2], "IP:127.0.0.1");
        ca_csr_free(c);
        free(pem);
    }
}

static void test_refuses_weak_and_foreign_keys(void **state)
{
    char *pem;

    (void)state;
    pem = csr_pem("RSA", "1024", "svc", NULL, 0);
    expect_refused(pem, MESH_ERR_KEY_WEAK, "RSA of 1024 bits");
    free(pem);
    pem = csr_pem("EC", "P-521", "svc", NULL, 0);
    expect_refused(pem, MESH_ERR_KEY_UNSUPPORTED, "secp521r1");
    free(pem);
    pem = csr_pem("ED448", "", "svc", NULL, 0);
    expect_refused(pem, MESH_ERR_KEY_UNSUPPORTED, "not accepted");
    free(pem);
}

static void test_refuses_a_broken_signature(void **state)
{
    EVP_PKEY *k = gen("EC", "P-256"), *other = gen("EC", "P-256");
    X509_REQ *r = make_req(k, "svc", NULL, 0);
    char *pem;

    (void)state;
    /* signed by another key than the one it names */
    assert_true(X509_REQ_sign(r, other, EVP_sha256()) > 0);
    assert_int_equal(X509_REQ_set_pubkey(r, k), 1);
    pem = pem_of(r);
    expect_refused(pem, MESH_ERR_INVALID_ARG, "signature does not verify");
    free(pem);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

static void test_refuses_bad_pem_shapes(void **state)
{
    char *pem = csr_pem("EC", "P-256", "svc", NULL, 0);
    size_t n = strlen(pem);
    char *two = malloc(2 * n + 1), *junk = malloc(n + 16), *cut = strdup(pem);
    char *big = malloc(MESH_MAX_CSR_BYTES + 2);

    (void)state;
    (void)snprintf(two, 2 * n + 1, "%s%s", pem, pem);
    expect_refused(two, MESH_ERR_INVALID_ARG, "more than one PEM block");
    (void)snprintf(junk, n + 16, "hello\n%s", pem);
    expect_refused(junk, MESH_ERR_INVALID_ARG, "nothing else");
    (void)snprintf(junk, n + 16, "%sworld", pem);
    expect_refused(junk, MESH_ERR_INVALID_ARG, "nothing else");
    expect_refused("", MESH_ERR_INVALID_ARG, "not PEM");
    expect_refused("MIIB...", MESH_ERR_INVALID_ARG, "not PEM");
    expect_refused("-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
                   MESH_ERR_INVALID_ARG, "not a readable");
    expect_refused("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                   MESH_ERR_INVALID_ARG, "nothing else");
    /* the body cut in half, the END line kept */
    memmove(cut + n / 2, strstr(pem, "-----END"), strlen(strstr(pem, "-----END")) + 1);
    expect_refused(cut, MESH_ERR_INVALID_ARG, "not a readable");
    memset(big, ' ', MESH_MAX_CSR_BYTES + 1);
    big[MESH_MAX_CSR_BYTES + 1] = '\0';
    expect_refused(big, MESH_ERR_LIMIT, "larger than");
    free(pem);
    free(two);
    free(junk);
    free(cut);
    free(big);
}

static void test_refuses_hostile_names(void **state)
{
    static const struct raw_name nul[] = {{GEN_DNS, "svc\0.evil", 9}};
    static const struct raw_name ip5[] = {{GEN_IPADD, "\x7f\x00\x00\x01\x01", 5}};
    static const struct raw_name space[] = {{GEN_URI, "spiffe://mesh.local/a b", 23}};
    static const struct raw_name empty[] = {{GEN_DNS, "", 0}};
    struct raw_name many[MESH_MAX_CSR_NAMES + 1];
    char bufs[MESH_MAX_CSR_NAMES + 1][16];
    char *pem;

    (void)state;
    pem = csr_pem("EC", "P-256", "svc", nul, 1);
    expect_refused(pem, MESH_ERR_INVALID_ARG, "printable ASCII");
    free(pem);
    pem = csr_pem("EC", "P-256", "svc", ip5, 1);
    expect_refused(pem, MESH_ERR_INVALID_ARG, "IP address SAN of 5 bytes");
    free(pem);
    pem = csr_pem("EC", "P-256", "svc", space, 1);
    expect_refused(pem, MESH_ERR_INVALID_ARG, "URI SAN");
    free(pem);
    pem = csr_pem("EC", "P-256", "svc", empty, 1);
    expect_refused(pem, MESH_ERR_INVALID_ARG, "DNS SAN");
    free(pem);
    for (size_t i = 0; i <= MESH_MAX_CSR_NAMES; i++) {
        (void)snprintf(bufs[i], sizeof(bufs[i]), "n%zu", i);
        many[i] = (struct raw_name){GEN_DNS, bufs[i], (int)strlen(bufs[i])};
    }
    pem = csr_pem("EC", "P-256", "svc", many, MESH_MAX_CSR_NAMES + 1);
    expect_refused(pem, MESH_ERR_INVALID_ARG, "at most");
    free(pem);
}

/* A CN with a NUL inside ("svc\0.evil" would read as "svc" to C string code). */
static void test_refuses_a_cn_with_a_nul(void **state)
{
    EVP_PKEY *k = gen("EC", "P-256");
    X509_REQ *r = X509_REQ_new();
    X509_NAME *subj = X509_NAME_new();
    char *pem;

    (void)state;
    assert_int_equal(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)"svc\0.evil", 9, -1, 0),
                     1);
    X509_REQ_set_subject_name(r, subj);
    X509_REQ_set_pubkey(r, k);
    assert_true(X509_REQ_sign(r, k, EVP_sha256()) > 0);
    pem = pem_of(r);
    expect_refused(pem, MESH_ERR_INVALID_ARG, "CN");
    free(pem);
    X509_NAME_free(subj);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
}

static void test_refuses_two_common_names(void **state)
{
    EVP_PKEY *k = gen("EC", "P-256");
    X509_REQ *r = X509_REQ_new();
    X509_NAME *subj = X509_NAME_new();
    char *pem;

    (void)state;
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)"a", -1, -1, 0);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)"b", -1, -1, 0);
    X509_REQ_set_subject_name(r, subj);
    X509_REQ_set_pubkey(r, k);
    assert_true(X509_REQ_sign(r, k, EVP_sha256()) > 0);
    pem = pem_of(r);
    expect_refused(pem, MESH_ERR_INVALID_ARG, "more than one CN");
    free(pem);
    X509_NAME_free(subj);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
}

/* ---- signing ---- */

struct fx {
    char dir[256];
    char cert[300], key[300];
    ca_issuing_t *ca;
};

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    return ca_write_atomic(path, data, len, mode) == MESH_OK ? 0 : -1;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct ca_signer root = {0};
    EVP_PKEY *ik = NULL;
    X509 *ic = NULL;
    struct ca_pem kp = {0}, cp = {0};
    time_t now = time(NULL);

    (void)snprintf(f->dir, sizeof(f->dir), "%s/mesh-csr.XXXXXX",
                   getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->cert, sizeof(f->cert), "%s/issuing-ca.pem", f->dir);
    (void)snprintf(f->key, sizeof(f->key), "%s/issuing-ca.key", f->dir);
    assert_int_equal(ca_key_generate(MESH_KEY_P256, &root.key), MESH_OK);
    assert_int_equal(ca_mint_root(root.key, "mesh.local", 30, now, &root.cert), MESH_OK);
    assert_int_equal(ca_key_generate(MESH_KEY_P256, &ik), MESH_OK);
    /* the issuing CA lives 2 days: leaves are capped there */
    assert_int_equal(ca_mint_issuing(ik, &root, "mesh.local", 2, NULL, now, &ic), MESH_OK);
    assert_int_equal(ca_pem_key(ik, &kp), MESH_OK);
    assert_int_equal(ca_pem_certs(ic, NULL, &cp), MESH_OK);
    assert_int_equal(write_file(f->key, kp.data, kp.len, 0600), 0);
    assert_int_equal(write_file(f->cert, cp.data, cp.len, 0644), 0);
    assert_int_equal(ca_issuing_load(f->cert, f->key, &f->ca), MESH_OK);
    ca_pem_free(&kp);
    ca_pem_free(&cp);
    X509_free(ic);
    EVP_PKEY_free(ik);
    X509_free(root.cert);
    EVP_PKEY_free(root.key);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char path[320];

    ca_issuing_free(f->ca);
    (void)unlink(f->cert);
    (void)unlink(f->key);
    (void)snprintf(path, sizeof(path), "%s/leaf.pem", f->dir);
    (void)unlink(path);
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

static void test_issuing_load_refuses_an_open_key_and_a_leaf(void **state)
{
    struct fx *f = *state;
    ca_issuing_t *ca = NULL;
    char leaf[320];
    ca_online_cert_t c;
    static const char *const dns[] = {"svc"};
    ca_online_req_t req = {.service = "svc",
                           .trust_domain = "mesh.local",
                           .dns = dns,
                           .n_dns = 1,
                           .lifetime = 600,
                           .now = time(NULL)};
    char *pem = csr_pem("EC", "P-256", NULL, NULL, 0);
    ca_csr_t *csr = NULL;

    assert_int_equal(chmod(f->key, 0644), 0);
    assert_int_not_equal(ca_issuing_load(f->cert, f->key, &ca), MESH_OK);
    assert_null(ca);
    assert_int_equal(chmod(f->key, 0600), 0);
    /* a leaf is no issuing CA */
    assert_int_equal(parse(pem, &csr), MESH_OK);
    assert_int_equal(ca_online_sign(f->ca, csr, &req, &c), MESH_OK);
    (void)snprintf(leaf, sizeof(leaf), "%s/leaf.pem", f->dir);
    assert_int_equal(write_file(leaf, c.pem, strlen(c.pem), 0644), 0);
    assert_int_equal(ca_issuing_load(leaf, f->key, &ca), MESH_ERR_CERT);
    assert_non_null(strstr(mesh_err_detail(), "not a CA"));
    ca_online_cert_clear(&c);
    ca_csr_free(csr);
    free(pem);
}

static X509 *load_pem(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

    BIO_free(b);
    assert_non_null(x);
    return x;
}

static void test_sign_takes_names_from_the_request_only(void **state)
{
    struct fx *f = *state;
    static const struct raw_name asks[] = {{GEN_DNS, "evil.example", 12},
                                           {GEN_URI, "spiffe://mesh.local/admin", 25}};
    static const char *const dns[] = {"svc", "localhost"};
    static const char *const ips[] = {"127.0.0.1"};
    time_t now = time(NULL);
    ca_online_req_t req = {.service = "svc",
                           .trust_domain = "mesh.local",
                           .dns = dns,
                           .n_dns = 2,
                           .ips = ips,
                           .n_ips = 1,
                           .lifetime = 3600,
                           .now = now};
    char *pem = csr_pem("EC", "P-384", "evil", asks, 2);
    ca_csr_t *csr = NULL;
    ca_online_cert_t c;
    struct ca_strv names = {0};
    X509 *x;

    assert_int_equal(parse(pem, &csr), MESH_OK);
    assert_int_equal(ca_online_sign(f->ca, csr, &req, &c), MESH_OK);
    x = load_pem(c.pem);
    assert_int_equal(ca_cert_names(x, &names), MESH_OK);
    assert_int_equal(names.n, 4);
    assert_string_equal(names.v[0], "DNS:localhost");
    assert_string_equal(names.v[1], "DNS:svc");
    assert_string_equal(names.v[2], "IP:127.0.0.1");
    assert_string_equal(names.v[3], "URI:spiffe://mesh.local/svc");
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(c.not_after - c.not_before, 3600 + CA_BACKDATE_SECS);
    assert_int_equal(strlen(c.x5t), MESH_X5T_LEN);
    /* capped at the issuing CA's notAfter (2 days) */
    req.lifetime = 30 * 86400;
    ca_online_cert_clear(&c);
    assert_int_equal(ca_online_sign(f->ca, csr, &req, &c), MESH_OK);
    assert_int_equal(c.not_after, ca_issuing_not_after(f->ca));
    req.lifetime = 0;
    ca_online_cert_clear(&c);
    assert_int_equal(ca_online_sign(f->ca, csr, &req, &c), MESH_ERR_INVALID_ARG);
    assert_null(c.pem);
    ca_strv_free(&names);
    X509_free(x);
    ca_csr_free(csr);
    free(pem);
}

static void test_crl_lists_the_serials(void **state)
{
    struct fx *f = *state;
    ca_crl_entry_t e[] = {{"1a2b3c", 1000}, {"ff", 2000}};
    ca_crl_entry_t bad[] = {{"xyz", 1}};
    char *pem = NULL;
    size_t len = 0;
    time_t now = time(NULL);

    assert_int_equal(ca_online_crl(f->ca, e, 2, now, now + 3600, &pem, &len), MESH_OK);
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
    assert_non_null(crl);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
    X509_CRL_free(crl);
    BIO_free(b);
    free(pem);
    pem = NULL;
    assert_int_equal(ca_online_crl(f->ca, bad, 1, now, now + 3600, &pem, &len),
                     MESH_ERR_INVALID_ARG);
    assert_null(pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_the_key_types),
        cmocka_unit_test(test_refuses_weak_and_foreign_keys),
        cmocka_unit_test(test_refuses_a_broken_signature),
        cmocka_unit_test(test_refuses_bad_pem_shapes),
        cmocka_unit_test(test_refuses_hostile_names),
        cmocka_unit_test(test_refuses_two_common_names),
        cmocka_unit_test(test_refuses_a_cn_with_a_nul),
        cmocka_unit_test_setup_teardown(test_issuing_load_refuses_an_open_key_and_a_leaf, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sign_takes_names_from_the_request_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crl_lists_the_serials, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
