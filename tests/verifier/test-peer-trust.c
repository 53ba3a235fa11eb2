/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A verifier that checks the presenting certificate itself (trust_bundle_path, crl_path):
 * mesh_verify with the TLS client certificate and mesh_verify_pem with a chain a proxy
 * forwarded, against the PKI of mkpeercerts.sh. Keys come from a JWKS file: no network.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mesh/mesh.h>

#include "../test-tmp.h"
#include "testutil.h"
#include "verifier_internal.h"

#define ISS "https://issuer.test"
#define DAY (24 * 3600)

static char dir[256], jwks[512];
static mesh_key_t *key;
static int64_t clock_offset; /* seconds added to the verifier's clock */

static int64_t test_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL) + clock_offset;
}

/* dir/pki/<rel>, in one of a few rotating buffers so several paths can be live at once. */
static const char *pki(const char *rel)
{
    static _Thread_local char bufs[8][600];
    static _Thread_local int next;
    char *b = bufs[next++ % 8];

    snprintf(b, sizeof(bufs[0]), "%s/pki/%s", dir, rel);
    return b;
}

static int group_setup(void **state)
{
    const char *src = getenv("MESH_SOURCE_ROOT");
    char cmd[1024];
    (void)state;

    if (test_tmp_template(dir, sizeof(dir), "mesh-peer-trust") == NULL || mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "bash '%s/tests/common/mkpeercerts.sh' '%s/pki'",
             src != NULL ? src : ".", dir);
    if (system(cmd) != 0) {
        return -1;
    }
    key = tu_rsa_key();
    snprintf(jwks, sizeof(jwks), "%s/jwks.json", dir);
    tu_write_jwks(jwks, &key, 1);
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[512];
    (void)state;

    mesh_key_free(key);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (dir[0] == '/' && system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    return 0;
}

static int per_test(void **state)
{
    (void)state;
    clock_offset = 0;
    return 0;
}

/* A verifier with keys from the JWKS file; `bundle`/`crl` are under pki/ (NULL: none). */
static mesh_err_t try_verifier(const char *bundle, const char *crl, mesh_verifier_t **v)
{
    mesh_verifier_opts_t *o = NULL;

    assert_int_equal(mesh_verifier_opts_new(&o), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_issuer(o, ISS), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_audience(o, "svc-b"), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, jwks), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_revocation_feed(o, false), MESH_OK);
    assert_int_equal(mesh_verifier_opts_set_clock(o, test_clock, NULL), MESH_OK);
    /* a CRL without a bundle is refused by the setter already */
    mesh_err_t vrc = mesh_verifier_opts_set_trust_bundle(o, bundle != NULL ? pki(bundle) : NULL,
                                                         crl != NULL ? pki(crl) : NULL);
    if (vrc == MESH_OK) {
        vrc = mesh_verifier_new(o, v);
    }
    mesh_verifier_opts_free(o);
    return vrc;
}

static mesh_verifier_t *verifier(const char *bundle, const char *crl)
{
    mesh_verifier_t *v = NULL;

    assert_int_equal(try_verifier(bundle, crl, &v), MESH_OK);
    return v;
}

/* A token bound to the first certificate of pki/<rel>. */
static char *token_for(const char *rel)
{
    char x5t[MESH_X5T_LEN + 1];
    uint8_t *der = NULL;
    size_t len = 0;

    assert_int_equal(mesh_x509_load_der(pki(rel), &der, &len), MESH_OK);
    assert_int_equal(mesh_x5t_s256(der, len, x5t), MESH_OK);
    mesh_free(der);
    return tu_token(key, ISS, "svc-b", "read", x5t, 300);
}

/* pki/<name>/leaf.pem presented as the TLS client certificate (DER), with a bound token. */
static mesh_err_t verify_der(mesh_verifier_t *v, const char *name)
{
    char rel[300];
    uint8_t *der = NULL;
    size_t len = 0;
    char *tok;
    mesh_err_t rc;

    snprintf(rel, sizeof(rel), "%s/leaf.pem", name);
    assert_int_equal(mesh_x509_load_der(pki(rel), &der, &len), MESH_OK);
    tok = token_for(rel);
    rc = mesh_verify(v, tu_bearer(tok), der, len, NULL, NULL);
    free(tok);
    mesh_free(der);
    return rc;
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);

    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

/* pki/<rel> (a PEM chain, leaf first) as a proxy forwards it, with a token bound to the first
 * certificate of pki/<bound_to> (NULL: the chain's own leaf). */
static mesh_err_t verify_pem_bound(mesh_verifier_t *v, const char *rel, const char *bound_to,
                                   mesh_identity_t **id)
{
    size_t len = 0;
    char *pem = read_text(pki(rel), &len);
    char *tok = token_for(bound_to != NULL ? bound_to : rel);
    mesh_err_t rc = mesh_verify_pem(v, tu_bearer(tok), pem, len, NULL, id);

    free(tok);
    free(pem);
    return rc;
}

static mesh_err_t verify_pem(mesh_verifier_t *v, const char *rel)
{
    return verify_pem_bound(v, rel, NULL, NULL);
}

#define assert_refused(call, why)                                                                  \
    do {                                                                                           \
        assert_int_equal((call), MESH_ERR_PEER_CERT);                                              \
        if (strstr(mesh_err_detail(), (why)) == NULL) {                                            \
            fail_msg("detail \"%s\" does not say \"%s\"", mesh_err_detail(), (why));               \
        }                                                                                          \
    } while (0)

static void test_valid_leaf_accepted(void **state)
{
    mesh_verifier_t *full = verifier("bundle.pem", NULL);
    mesh_verifier_t *root_only = verifier("ca.pem", NULL);
    mesh_identity_t *id = NULL;
    (void)state;

    /* The TLS client certificate alone: the intermediate comes from the bundle. */
    assert_int_equal(verify_der(full, "good"), MESH_OK);
    /* A forwarded chain: the intermediate comes from the chain, the root from the bundle. */
    assert_int_equal(verify_pem_bound(root_only, "good/chain.pem", NULL, &id), MESH_OK);
    assert_string_equal(mesh_identity_subject(id), "spiffe://mesh.local/svc-a");
    mesh_identity_free(id);
    assert_int_equal(verify_pem(full, "good/chain.pem"), MESH_OK);
    assert_int_equal(verify_pem(full, "good/leaf.pem"), MESH_OK);
    /* Neither the bundle nor the presented bytes hold the intermediate: no chain. */
    assert_refused(verify_der(root_only, "good"), "unable to get local issuer");
    assert_refused(verify_pem(root_only, "good/leaf.pem"), "unable to get local issuer");
    mesh_verifier_free(full);
    mesh_verifier_free(root_only);
}

/* regression: a self-signed certificate naming a mesh identity is not a mesh identity */
static void test_self_signed_with_mesh_spiffe_id_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    assert_refused(verify_der(v, "selfsigned"), "self-signed");
    assert_refused(verify_pem(v, "selfsigned/chain.pem"), "self-signed");
    mesh_verifier_free(v);
}

/* regression: a leaf shipped with its own (foreign) root does not borrow that root's trust */
static void test_leaf_with_foreign_root_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    assert_refused(verify_pem(v, "stranger/chain-with-root.pem"), "self-signed certificate in");
    assert_refused(verify_pem(v, "stranger/chain.pem"), "unable to get local issuer");
    assert_refused(verify_der(v, "stranger"), "unable to get local issuer");
    mesh_verifier_free(v);
}

/* regression: issuer lookup is by name; a foreign CA named like the mesh CA must not pass */
static void test_foreign_ca_with_mesh_ca_name_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    mesh_verifier_t *root_only = verifier("ca.pem", NULL);
    (void)state;

    /* The names match the mesh CAs, the keys (and key identifiers) do not. */
    assert_refused(verify_der(v, "impostor"), "unable to get local issuer");
    assert_refused(verify_pem(v, "impostor/chain.pem"), "unable to get local issuer");
    assert_refused(verify_pem(v, "impostor/chain-with-root.pem"), "at chain depth");
    assert_refused(verify_pem(root_only, "impostor/chain.pem"), "unable to get local issuer");
    assert_refused(verify_pem(root_only, "impostor/chain-with-root.pem"), "at chain depth");
    mesh_verifier_free(v);
    mesh_verifier_free(root_only);
}

static void test_expired_leaf_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    assert_refused(verify_der(v, "expired"), "certificate has expired");
    assert_refused(verify_pem(v, "expired/chain.pem"), "certificate has expired");
    mesh_verifier_free(v);
}

static void test_not_yet_valid_leaf_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    assert_refused(verify_der(v, "future"), "not yet valid");
    assert_refused(verify_pem(v, "future/chain.pem"), "not yet valid");
    mesh_verifier_free(v);
}

/* regression: a server-only certificate (EKU serverAuth) cannot act as a client */
static void test_server_auth_only_eku_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    assert_refused(verify_der(v, "serveronly"), "unsuitable certificate purpose");
    assert_refused(verify_pem(v, "serveronly/chain.pem"), "unsuitable certificate purpose");
    /* No EKU at all is not a mesh service certificate either. */
    assert_refused(verify_der(v, "noeku"), "clientAuth");
    mesh_verifier_free(v);
}

/* regression: a CA certificate (here with EKU clientAuth and a SPIFFE ID) is no client */
static void test_ca_certificate_as_client_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    uint8_t *der = NULL;
    size_t len = 0;
    char *tok = token_for("intermediate.pem");
    (void)state;

    assert_refused(verify_der(v, "ca-client"), "is a CA certificate");
    assert_refused(verify_pem(v, "ca-client/chain.pem"), "is a CA certificate");
    /* The mesh's own intermediate, presented as a client certificate. */
    assert_int_equal(mesh_x509_load_der(pki("intermediate.pem"), &der, &len), MESH_OK);
    /* (its keyUsage keyCertSign already fails the client purpose, before the CA rule) */
    assert_int_equal(mesh_verify(v, tu_bearer(tok), der, len, NULL, NULL), MESH_ERR_PEER_CERT);
    mesh_free(der);
    free(tok);
    mesh_verifier_free(v);
}

static void test_two_spiffe_ids_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    assert_refused(verify_der(v, "twoids"), "exactly one");
    mesh_verifier_free(v);
}

/* regression: a certificate on the CRL is refused; the root's missing CRL is tolerated */
static void test_revoked_by_crl_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", "int-crl-1.pem");
    (void)state;

    assert_refused(verify_der(v, "revoked"), "certificate revoked");
    assert_refused(verify_pem(v, "revoked/chain.pem"), "certificate revoked");
    /* Not revoked; the intermediate's own status (the root's CRL) is not configured. */
    assert_int_equal(verify_der(v, "good"), MESH_OK);
    assert_int_equal(verify_pem(v, "good/chain.pem"), MESH_OK);
    mesh_verifier_free(v);
}

/*
 * regression: first error wins. A tolerated missing CRL (for a certificate whose issuer has
 * no CRL here) neither lowers a revocation found before it nor hides a failure after it.
 */
static void test_revoked_with_unrelated_missing_crl_still_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", "int-crl-1.pem");
    mesh_verifier_t *r = verifier("bundle.pem", "root-crl.pem");
    mesh_verifier_t *all = verifier("bundle.pem", "all-crl.pem");
    (void)state;

    /* Leaf revoked (depth 0), the intermediate's CRL missing (depth 1). */
    assert_refused(verify_der(v, "revoked"), "at chain depth 0");
    assert_refused(verify_der(v, "revoked"), "certificate revoked");
    /* The missing CRL is tolerated first; the expiry found after it still refuses. */
    assert_refused(verify_der(v, "expired"), "certificate has expired");
    /* Leaf's CRL missing (tolerated, depth 0), then its intermediate revoked (depth 1). */
    assert_refused(verify_der(r, "under2"), "at chain depth 1");
    assert_refused(verify_pem(r, "under2/chain.pem"), "certificate revoked");
    assert_int_equal(verify_der(r, "good"), MESH_OK);
    assert_int_equal(verify_der(r, "revoked"), MESH_OK); /* its CRL is not configured here */
    /* Both CRLs. */
    assert_refused(verify_der(all, "revoked"), "certificate revoked");
    assert_refused(verify_der(all, "under2"), "certificate revoked");
    assert_int_equal(verify_der(all, "good"), MESH_OK);
    mesh_verifier_free(v);
    mesh_verifier_free(r);
    mesh_verifier_free(all);
}

/* regression: a CRL from a same-named foreign CA must not pass as the mesh CA's CRL */
static void test_crl_not_signed_by_bundle_ca_refused_at_creation(void **state)
{
    mesh_verifier_t *v = NULL;
    (void)state;

    assert_int_equal(try_verifier("bundle.pem", "samename-crl.pem", &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "samename-crl.pem"));
    assert_non_null(strstr(mesh_err_detail(), "not signed by a CA of the trust bundle"));
    assert_null(v);
}

static void test_trust_bundle_misconfiguration_named_at_creation(void **state)
{
    mesh_verifier_t *v = NULL;
    (void)state;

    assert_int_equal(try_verifier("good/leaf.pem", NULL, &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "is not a CA certificate"));
    assert_int_equal(try_verifier("intermediate.pem", NULL, &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "no root"));
    assert_int_equal(try_verifier("int-crl-1.pem", NULL, &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "no PEM certificate"));
    assert_int_equal(try_verifier("bundle.pem", "ca.pem", &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "no PEM CRL"));
    assert_int_equal(try_verifier("missing.pem", NULL, &v), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "missing.pem"));
    assert_int_equal(try_verifier(NULL, "int-crl-1.pem", &v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "a CRL path needs the bundle"));
    assert_null(v);
}

/* The hot path: a certificate seen before costs a hash, for acceptances and refusals. */
static void test_verdict_remembered_per_certificate(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    for (int i = 0; i < 50; i++) {
        assert_int_equal(verify_der(v, "good"), MESH_OK);
        assert_int_equal(verify_pem(v, "good/chain.pem"), MESH_OK);
    }
    assert_int_equal(mesh_verifier_peer_checks(v), 2); /* one per distinct input */
    for (int i = 0; i < 10; i++) {
        mesh_err_clear();
        assert_refused(verify_der(v, "expired"), "certificate has expired"); /* replayed */
    }
    assert_int_equal(mesh_verifier_peer_checks(v), 3);
    mesh_verifier_free(v);
}

/* regression: a remembered acceptance ends at the chain's notAfter */
static void test_remembered_verdict_expires_at_not_after(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    assert_int_equal(verify_der(v, "good"), MESH_OK);
    clock_offset = 366 * DAY; /* the leaf is valid for 365 days */
    assert_refused(verify_der(v, "good"), "certificate has expired");
    assert_int_equal(mesh_verifier_peer_checks(v), 2);
    mesh_verifier_free(v);
}

/* regression: a remembered acceptance ends at the CRL's nextUpdate (a stale CRL refuses) */
static void test_remembered_verdict_expires_at_crl_next_update(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", "int-crl-1.pem");
    (void)state;

    assert_int_equal(verify_der(v, "good"), MESH_OK);
    clock_offset = 31 * DAY; /* the CRL's nextUpdate is 30 days out */
    assert_refused(verify_der(v, "good"), "CRL has expired");
    mesh_verifier_free(v);
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *buf = read_text(from, &len);
    char tmp[700];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", to);
    f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, to), 0);
    free(buf);
}

static void test_reload_trust_applies_a_new_crl(void **state)
{
    mesh_verifier_t *v, *plain = verifier("bundle.pem", NULL);
    (void)state;

    copy_file(pki("int-crl-1.pem"), pki("work-crl.pem"));
    v = verifier("bundle.pem", "work-crl.pem");
    assert_int_equal(verify_der(v, "later"), MESH_OK);
    copy_file(pki("int-crl-2.pem"), pki("work-crl.pem")); /* now revokes "later" too */
    assert_int_equal(mesh_verifier_reload_trust(v), MESH_OK);
    assert_refused(verify_der(v, "later"), "certificate revoked");
    assert_int_equal(verify_der(v, "good"), MESH_OK);
    /* A broken file on reload: the error names it, the material in force stays. */
    copy_file(pki("ca.pem"), pki("work-crl.pem"));
    assert_int_equal(mesh_verifier_reload_trust(v), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "work-crl.pem"));
    assert_refused(verify_der(v, "later"), "certificate revoked");
    assert_int_equal(verify_der(v, "good"), MESH_OK);
    assert_int_equal(mesh_verifier_reload_trust(plain), MESH_OK);
    mesh_verifier_free(v);
    mesh_verifier_free(plain);
    v = verifier(NULL, NULL);
    assert_int_equal(mesh_verifier_reload_trust(v), MESH_ERR_CONFIG);
    mesh_verifier_free(v);
}

/* regression: a forwarded certificate is never taken on trust */
static void test_verify_pem_requires_trust_bundle(void **state)
{
    mesh_verifier_t *v = verifier(NULL, NULL);
    char www[256];
    (void)state;

    assert_int_equal(verify_pem(v, "good/chain.pem"), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "trust bundle"));
    assert_int_equal(mesh_verify_http_status(MESH_ERR_CONFIG, NULL, www, sizeof(www)), 500);
    /* Without a trust bundle mesh_verify keeps trusting the TLS layer, as before. */
    assert_int_equal(verify_der(v, "selfsigned"), MESH_OK);
    mesh_verifier_free(v);
}

static void test_peer_certificate_maps_to_401_invalid_token(void **state)
{
    char www[256];
    (void)state;

    assert_int_equal(mesh_verify_http_status(MESH_ERR_PEER_CERT, NULL, www, sizeof(www)), 401);
    assert_non_null(strstr(www, "error=\"invalid_token\""));
    assert_non_null(strstr(www, "peer_certificate_invalid"));
    assert_string_equal(mesh_err_name(MESH_ERR_PEER_CERT), "peer_certificate_invalid");
}

static void test_malformed_and_oversized_chains_refused(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    char *tok = token_for("good/leaf.pem");
    size_t len = 0, n = 0;
    char *one = read_text(pki("good/leaf.pem"), &len);
    char *five = calloc(1, 5 * len + 1), *big = calloc(1, MESH_MAX_PEM_BYTES + 2);
    const char *garbage = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    (void)state;

    assert_refused(mesh_verify_pem(v, tu_bearer(tok), garbage, strlen(garbage), NULL, NULL),
                   "no PEM certificate");
    for (int i = 0; i < 5; i++) {
        memcpy(five + n, one, len);
        n += len;
    }
    assert_refused(mesh_verify_pem(v, tu_bearer(tok), five, n, NULL, NULL), "more than");
    memset(big, 'A', MESH_MAX_PEM_BYTES + 1);
    assert_int_equal(mesh_verify_pem(v, tu_bearer(tok), big, MESH_MAX_PEM_BYTES + 1, NULL, NULL),
                     MESH_ERR_LIMIT);
    assert_refused(mesh_verify(v, tu_bearer(tok), junk, sizeof(junk), NULL, NULL), "not one DER");
    /* No certificate at all: a bound token has nothing to be bound to. */
    assert_int_equal(mesh_verify_pem(v, tu_bearer(tok), NULL, 0, NULL, NULL),
                     MESH_ERR_CNF_MISMATCH);
    /* A chain that does not end where its length says: only `len` bytes count. */
    assert_int_equal(mesh_verify_pem(v, tu_bearer(tok), one, len / 2, NULL, NULL),
                     MESH_ERR_PEER_CERT);
    free(one);
    free(five);
    free(big);
    free(tok);
    mesh_verifier_free(v);
}

/* regression: the token must be bound to the forwarded leaf, not just any trusted one */
static void test_token_bound_to_forwarded_leaf(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", NULL);
    (void)state;

    assert_int_equal(verify_pem_bound(v, "later/chain.pem", "good/leaf.pem", NULL),
                     MESH_ERR_CNF_MISMATCH);
    /* and again from the remembered verdict */
    assert_int_equal(verify_pem_bound(v, "later/chain.pem", "good/leaf.pem", NULL),
                     MESH_ERR_CNF_MISMATCH);
    assert_int_equal(verify_pem_bound(v, "later/chain.pem", NULL, NULL), MESH_OK);
    mesh_verifier_free(v);
}

typedef struct {
    mesh_verifier_t *v;
    int failures;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;

    for (int i = 0; i < 40; i++) {
        w->failures += verify_der(w->v, "good") != MESH_OK;
        w->failures += verify_pem(w->v, "good/chain.pem") != MESH_OK;
        w->failures += verify_pem(w->v, "revoked/chain.pem") != MESH_ERR_PEER_CERT;
        w->failures += verify_der(w->v, "selfsigned") != MESH_ERR_PEER_CERT;
        if (i % 10 == 0) {
            w->failures += mesh_verifier_reload_trust(w->v) != MESH_OK;
        }
    }
    return NULL;
}

static void test_concurrent_checks_and_reloads(void **state)
{
    mesh_verifier_t *v = verifier("bundle.pem", "all-crl.pem");
    pthread_t t[6];
    worker_t w[6];
    (void)state;

    for (int i = 0; i < 6; i++) {
        w[i] = (worker_t){.v = v};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    mesh_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_valid_leaf_accepted, per_test),
        cmocka_unit_test_setup(test_self_signed_with_mesh_spiffe_id_refused, per_test),
        cmocka_unit_test_setup(test_leaf_with_foreign_root_refused, per_test),
        cmocka_unit_test_setup(test_foreign_ca_with_mesh_ca_name_refused, per_test),
        cmocka_unit_test_setup(test_expired_leaf_refused, per_test),
        cmocka_unit_test_setup(test_not_yet_valid_leaf_refused, per_test),
        cmocka_unit_test_setup(test_server_auth_only_eku_refused, per_test),
        cmocka_unit_test_setup(test_ca_certificate_as_client_refused, per_test),
        cmocka_unit_test_setup(test_two_spiffe_ids_refused, per_test),
        cmocka_unit_test_setup(test_revoked_by_crl_refused, per_test),
        cmocka_unit_test_setup(test_revoked_with_unrelated_missing_crl_still_refused, per_test),
        cmocka_unit_test_setup(test_crl_not_signed_by_bundle_ca_refused_at_creation, per_test),
        cmocka_unit_test_setup(test_trust_bundle_misconfiguration_named_at_creation, per_test),
        cmocka_unit_test_setup(test_verdict_remembered_per_certificate, per_test),
        cmocka_unit_test_setup(test_remembered_verdict_expires_at_not_after, per_test),
        cmocka_unit_test_setup(test_remembered_verdict_expires_at_crl_next_update, per_test),
        cmocka_unit_test_setup(test_reload_trust_applies_a_new_crl, per_test),
        cmocka_unit_test_setup(test_verify_pem_requires_trust_bundle, per_test),
        cmocka_unit_test_setup(test_peer_certificate_maps_to_401_invalid_token, per_test),
        cmocka_unit_test_setup(test_malformed_and_oversized_chains_refused, per_test),
        cmocka_unit_test_setup(test_token_bound_to_forwarded_leaf, per_test),
        cmocka_unit_test_setup(test_concurrent_checks_and_reloads, per_test),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
