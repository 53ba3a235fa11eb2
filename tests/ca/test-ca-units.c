/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of mesh-ca's pieces: strict parsing, template validation, leaf profile, pair
 * commit and crash recovery. End-to-end behaviour is in the *.sh tests beside this file. */
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

#include <mesh/limits.h>
#include <mesh/openssl.h>

#include "ca.h"
#include "../test-tmp.h"

static void test_parse_int_strict(void **state)
{
    long long v = 0;

    (void)state;
    assert_true(ca_parse_int("42", 0, 100, &v));
    assert_int_equal(v, 42);
    assert_false(ca_parse_int("", 0, 100, &v));
    assert_false(ca_parse_int("4x", 0, 100, &v));
    assert_false(ca_parse_int(" 4", 0, 100, &v));
    assert_false(ca_parse_int("+4", 0, 100, &v));
    assert_false(ca_parse_int("101", 0, 100, &v));
    assert_false(ca_parse_int("99999999999999999999999", 0, 100, &v));
}

static void test_parse_duration(void **state)
{
    long long s = 0;

    (void)state;
    assert_true(ca_parse_duration("30d", &s));
    assert_int_equal(s, 30 * 86400);
    assert_true(ca_parse_duration("12h", &s));
    assert_int_equal(s, 12 * 3600);
    assert_true(ca_parse_duration("7", &s));
    assert_int_equal(s, 7 * 86400);
    assert_false(ca_parse_duration("d", &s));
    assert_false(ca_parse_duration("3w", &s));
    assert_false(ca_parse_duration("-1d", &s));
}

static void test_names(void **state)
{
    (void)state;
    assert_true(ca_valid_label("gateway"));
    assert_true(ca_valid_label("svc-1"));
    assert_false(ca_valid_label("Gateway"));
    assert_false(ca_valid_label("-svc"));
    assert_false(ca_valid_label("svc-"));
    assert_false(ca_valid_label("a_b"));
    assert_false(ca_valid_label(""));
    assert_false(
        ca_valid_label("a234567890123456789012345678901234567890123456789012345678901234"));
    assert_true(ca_valid_dns("mesh.local", false));
    assert_false(ca_valid_dns("mesh..local", false));
    assert_false(ca_valid_dns("mesh.local.", false));
    assert_false(ca_valid_dns("*.mesh.local", false));
    assert_true(ca_valid_dns("*.mesh.local", true));
    assert_true(ca_is_ip("127.0.0.1"));
    assert_true(ca_is_ip("::1"));
    assert_false(ca_is_ip("1.2.3"));
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    return test_tmp_template(tmpdir, sizeof(tmpdir), "mesh-ca-unit") && mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    char cmd[128];

    (void)state;
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static mesh_err_t load_text(const char *json, struct ca_template *t)
{
    char path[128];
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/t.json", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    return ca_template_load(path, t);
}

static void test_template_valid(void **state)
{
    struct ca_template t;

    (void)state;
    assert_int_equal(load_text("{\"trust_domain\":\"x.test\",\"keys\":{\"leaf\":\"rsa2048\"},"
                               "\"services\":[{\"name\":\"a\",\"sans\":[\"a.x.test\",\"10.0.0.1\"],"
                               "\"days\":7},{\"name\":\"b\",\"key\":\"ed25519\"}]}",
                               &t),
                     MESH_OK);
    assert_string_equal(t.trust_domain, "x.test");
    assert_int_equal(t.nsvcs, 2);
    assert_int_equal(t.svcs[0].key, MESH_KEY_RSA2048);
    assert_int_equal(t.svcs[1].key, MESH_KEY_ED25519);
    assert_int_equal(t.svcs[0].days, 7);
    assert_int_equal(t.svcs[0].dns.n, 1);
    assert_int_equal(t.svcs[0].ips.n, 1);
    assert_int_equal(t.leaf_days, 90);
    ca_template_free(&t);
}

static void test_template_errors_name_key_path(void **state)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{\"services\":[{\"name\":\"a\"},{\"name\":\"b\",\"sans\":[\"ok\",\"no way\"]}]}",
         "services[1].sans[1]"},
        {"{\"services\":[{\"name\":\"A\"}]}", "services[0].name"},
        {"{\"keys\":{\"jwt\":\"dsa\"}}", "keys.jwt"},
        {"{\"lifetimes\":{\"root_days\":10,\"intermediate_days\":20}}",
         "lifetimes.intermediate_days"},
        {"{\"a\":1,\"a\":2}", "duplicate"},
        {"{\"servics\":[]}", "unknown member \"servics\""},
        {"{\"services\":{}}", "services"},
        {"{\"name_constraints\":{\"dns\":[\"UP\"]}}", "name_constraints.dns[0]"},
    };
    struct ca_template t;

    (void)state;
    for (size_t i = 0; i < CA_ARRAY_LEN(cases); i++) {
        assert_int_equal(load_text(cases[i].json, &t), MESH_ERR_CONFIG);
        if (strstr(mesh_err_detail(), cases[i].msg) == NULL ||
            strstr(mesh_err_detail(), "t.json") == NULL) {
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, mesh_err_detail(), cases[i].msg);
        }
    }
}

/* "development": a boolean, true when absent (the templates from before the member). */
static void test_template_development_flag(void **state)
{
    static const char *const bad_values[] = {"\"false\"", "0", "1", "null", "[]", "{}"};
    struct ca_template t;
    char json[128];

    (void)state;
    assert_int_equal(load_text("{\"services\":[{\"name\":\"a\"}]}", &t), MESH_OK);
    assert_true(t.development);
    ca_template_free(&t);
    assert_int_equal(load_text("{\"development\":true}", &t), MESH_OK);
    assert_true(t.development);
    ca_template_free(&t);
    assert_int_equal(load_text("{\"development\":false}", &t), MESH_OK);
    assert_false(t.development);
    ca_template_free(&t);
    for (size_t i = 0; i < CA_ARRAY_LEN(bad_values); i++) {
        (void)snprintf(json, sizeof(json), "{\"development\":%s}", bad_values[i]);
        assert_int_equal(load_text(json, &t), MESH_ERR_CONFIG);
        if (strstr(mesh_err_detail(), "t.json: development: must be true or false") == NULL) {
            fail_msg("%s: \"%s\" does not name the key", json, mesh_err_detail());
        }
    }
}

/* Outside development a leaf names only itself (plus what the template lists): no loopback
 * SAN lets one service answer as another on a shared host. */
static void test_leaf_names_no_loopback_outside_development(void **state)
{
    struct ca_strv dns = {0}, ips = {0}, xdns = {0}, xips = {0};

    (void)state;
    assert_int_equal(ca_leaf_names("svc", false, NULL, NULL, &dns, &ips), MESH_OK);
    assert_int_equal(dns.n, 1);
    assert_string_equal(dns.v[0], "svc");
    assert_int_equal(ips.n, 0);
    ca_strv_free(&dns);
    /* listed explicitly, loopback names are kept */
    assert_int_equal(ca_strv_add(&xdns, "localhost"), MESH_OK);
    assert_int_equal(ca_strv_add(&xips, "::1"), MESH_OK);
    assert_int_equal(ca_leaf_names("svc", false, &xdns, &xips, &dns, &ips), MESH_OK);
    assert_true(ca_strv_has(&dns, "localhost"));
    assert_false(ca_strv_has(&ips, "127.0.0.1"));
    assert_true(ca_strv_has(&ips, "::1"));
    ca_strv_free(&dns);
    ca_strv_free(&ips);
    /* development: the loopback names come without listing them */
    assert_int_equal(ca_leaf_names("svc", true, NULL, NULL, &dns, &ips), MESH_OK);
    assert_true(ca_strv_has(&dns, "localhost"));
    assert_true(ca_strv_has(&ips, "127.0.0.1"));
    ca_strv_free(&dns);
    ca_strv_free(&ips);
    ca_strv_free(&xdns);
    ca_strv_free(&xips);
}

static void test_leaf_profile(void **state)
{
    struct ca_signer root = {0}, inter = {0};
    struct ca_strv dns = {0}, ips = {0}, want = {0}, have = {0};
    struct ca_leaf_req req = {"svc", "mesh.local", &dns, &ips, 90};
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    time_t now = 1700000000, na;

    (void)state;
    assert_int_equal(ca_key_generate(MESH_KEY_P256, &root.key), MESH_OK);
    assert_int_equal(ca_mint_root(root.key, "mesh.local", 3650, now, &root.cert), MESH_OK);
    assert_int_equal(ca_key_generate(MESH_KEY_P256, &inter.key), MESH_OK);
    assert_int_equal(
        ca_mint_intermediate(inter.key, &root, "mesh.local", 10, NULL, now, &inter.cert), MESH_OK);
    assert_int_equal(ca_leaf_names("svc", true, NULL, NULL, &dns, &ips), MESH_OK);
    assert_int_equal(ca_key_generate(MESH_KEY_ED25519, &key), MESH_OK);
    assert_int_equal(ca_mint_leaf(&req, key, &inter, now, &leaf), MESH_OK);
    assert_int_equal(ca_chain_verify(leaf, inter.cert, root.cert, now), MESH_OK);
    /* 90 days asked, the intermediate lives 10: capped */
    assert_true(ca_asn1_to_time(X509_get0_notAfter(leaf), &na));
    assert_int_equal(na, now + 10 * 86400);
    assert_int_equal(ca_req_names(&req, &want), MESH_OK);
    assert_int_equal(ca_cert_names(leaf, &have), MESH_OK);
    assert_int_equal(want.n, 4);
    assert_int_equal(have.n, 4);
    for (size_t i = 0; i < want.n; i++) {
        assert_string_equal(want.v[i], have.v[i]);
    }
    assert_true(ca_strv_has(&have, "URI:spiffe://mesh.local/svc"));
    /* a leaf of another CA does not verify */
    assert_int_equal(ca_chain_verify(leaf, root.cert, root.cert, now), MESH_ERR_CERT);
    ca_strv_free(&dns);
    ca_strv_free(&ips);
    ca_strv_free(&want);
    ca_strv_free(&have);
    X509_free(leaf);
    EVP_PKEY_free(key);
    X509_free(root.cert);
    EVP_PKEY_free(root.key);
    X509_free(inter.cert);
    EVP_PKEY_free(inter.key);
}

static void write_pair(const char *dir, const char *kname, EVP_PKEY *k, const char *pname)
{
    struct ca_pem kp = {0}, pp = {0};

    assert_int_equal(ca_pem_key(k, &kp), MESH_OK);
    assert_int_equal(ca_pem_pubkey(k, &pp), MESH_OK);
    assert_int_equal(ca_pair_commit(dir, kname, &kp, pname, &pp), MESH_OK);
    ca_pem_free(&kp);
    ca_pem_free(&pp);
}

static void stage(const char *dir, const char *name, EVP_PKEY *k, bool priv)
{
    struct ca_pem p = {0};
    char path[256];

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(priv ? ca_pem_key(k, &p) : ca_pem_pubkey(k, &p), MESH_OK);
    assert_int_equal(ca_write_atomic(path, p.data, p.len, priv ? 0600 : 0644), MESH_OK);
    ca_pem_free(&p);
}

static bool pair_is(const char *dir, EVP_PKEY *k)
{
    char kp[256], pp[256];
    EVP_PKEY *a = NULL, *b = NULL;
    bool same;

    (void)snprintf(kp, sizeof(kp), "%s/k.key", dir);
    (void)snprintf(pp, sizeof(pp), "%s/k.pub", dir);
    assert_int_equal(ca_load_key(kp, false, &a), MESH_OK);
    assert_int_equal(ca_load_pubkey(pp, &b), MESH_OK);
    same = EVP_PKEY_eq(a, k) == 1 && EVP_PKEY_eq(b, k) == 1;
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    return same;
}

/* The three places a crash can leave a pair commit; recovery must give old or new, whole. */
static void test_pair_recovery(void **state)
{
    EVP_PKEY *old = NULL, *new = NULL;
    char path[256];
    struct stat st;

    (void)state;
    assert_int_equal(ca_key_generate(MESH_KEY_P256, &old), MESH_OK);
    assert_int_equal(ca_key_generate(MESH_KEY_P256, &new), MESH_OK);
    write_pair(tmpdir, "k.key", old, "k.pub");
    (void)snprintf(path, sizeof(path), "%s/k.key", tmpdir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    stage(tmpdir, "k.pub.new", new, false); /* crash before key.new: roll back */
    assert_int_equal(ca_pair_recover(tmpdir, "k.key", "k.pub"), MESH_OK);
    assert_true(pair_is(tmpdir, old));

    stage(tmpdir, "k.pub.new", new, false); /* both staged: roll forward */
    stage(tmpdir, "k.key.new", new, true);
    assert_int_equal(ca_pair_recover(tmpdir, "k.key", "k.pub"), MESH_OK);
    assert_true(pair_is(tmpdir, new));

    stage(tmpdir, "k.pub.new", old, false); /* key renamed, pub not yet: roll forward */
    stage(tmpdir, "k.key", old, true);
    assert_int_equal(ca_pair_recover(tmpdir, "k.key", "k.pub"), MESH_OK);
    assert_true(pair_is(tmpdir, old));
    (void)snprintf(path, sizeof(path), "%s/k.pub.new", tmpdir);
    assert_false(ca_exists(path));
    EVP_PKEY_free(old);
    EVP_PKEY_free(new);
}

static void test_loose_key_refused(void **state)
{
    EVP_PKEY *k = NULL, *loaded = NULL;
    char path[256];

    (void)state;
    assert_int_equal(ca_key_generate(MESH_KEY_P256, &k), MESH_OK);
    stage(tmpdir, "loose.key", k, true);
    (void)snprintf(path, sizeof(path), "%s/loose.key", tmpdir);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(ca_load_key(path, false, &loaded), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "mode 0644"));
    assert_int_equal(ca_check_key_mode(path, false), MESH_ERR_IO);
    assert_int_equal(ca_check_key_mode(path, true), MESH_OK);
    assert_int_equal(ca_load_key(path, false, &loaded), MESH_OK);
    EVP_PKEY_free(loaded);
    EVP_PKEY_free(k);
}

/* Templates go through libmesh's JSON door: nesting past MESH_MAX_JSON_DEPTH is refused with
 * an error that names the file and says why, before any member is looked at. */
static void test_template_too_deep_refused(void **state)
{
    char json[256];
    struct ca_template t;
    size_t n = 0;

    (void)state;
    /* {"services":[{"name":"a","sans":[[[[[[[[ ... ]]]]]]]]}]}: depth MESH_MAX_JSON_DEPTH + 2 */
    n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"services\":[{\"name\":\"a\",\"sans\":");
    for (int i = 0; i < MESH_MAX_JSON_DEPTH; i++) {
        json[n++] = '[';
    }
    for (int i = 0; i < MESH_MAX_JSON_DEPTH; i++) {
        json[n++] = ']';
    }
    (void)snprintf(json + n, sizeof(json) - n, "}]}");
    assert_int_equal(load_text(json, &t), MESH_ERR_CONFIG);
    if (strstr(mesh_err_detail(), "t.json") == NULL ||
        strstr(mesh_err_detail(), "nested deeper") == NULL) {
        fail_msg("\"%s\" does not say the template nests too deep", mesh_err_detail());
    }
    ca_template_free(&t);
    assert_int_equal(ca_template_parse("mem.json", json, strlen(json), &t), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "mem.json"));
    ca_template_free(&t);
}

/* mesh-ca mints keys with libmesh's generator: each type, written as mesh-ca writes it,
 * loads with mesh_key_load_pem_file and passes the checks verifiers run. */
static void test_generated_keys_load_with_libmesh(void **state)
{
    static const mesh_key_type_t types[] = {MESH_KEY_P256, MESH_KEY_RSA2048, MESH_KEY_RSA3072,
                                            MESH_KEY_ED25519};
    char kpath[256], ppath[256];
    struct stat st;

    (void)state;
    for (size_t i = 0; i < CA_ARRAY_LEN(types); i++) {
        EVP_PKEY *k = NULL;
        mesh_key_t *priv = NULL, *pub = NULL;
        mesh_key_type_t got;
        char kname[32];

        (void)snprintf(kname, sizeof(kname), "gen-%s", mesh_key_type_name(types[i]));
        assert_int_equal(ca_key_generate(types[i], &k), MESH_OK);
        assert_true(ca_key_type_of(k, &got));
        assert_int_equal(got, types[i]);
        stage(tmpdir, kname, k, true);
        (void)snprintf(kpath, sizeof(kpath), "%s/%s", tmpdir, kname);
        assert_int_equal(stat(kpath, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(mesh_key_load_pem_file(kpath, MESH_ALG_UNSET, &priv), MESH_OK);
        assert_true(mesh_key_is_private(priv));
        assert_true(mesh_key_type_of(priv, &got));
        assert_int_equal(got, types[i]);
        (void)snprintf(kname, sizeof(kname), "gen-%s.pub", mesh_key_type_name(types[i]));
        stage(tmpdir, kname, k, false);
        (void)snprintf(ppath, sizeof(ppath), "%s/%s", tmpdir, kname);
        assert_int_equal(mesh_key_load_pem_file(ppath, MESH_ALG_UNSET, &pub), MESH_OK);
        assert_false(mesh_key_is_private(pub));
        assert_string_equal(mesh_key_thumbprint(pub), mesh_key_thumbprint(priv));
        mesh_key_free(priv);
        mesh_key_free(pub);
        EVP_PKEY_free(k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_int_strict),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_template_valid),
        cmocka_unit_test(test_template_errors_name_key_path),
        cmocka_unit_test(test_template_development_flag),
        cmocka_unit_test(test_leaf_names_no_loopback_outside_development),
        cmocka_unit_test(test_leaf_profile),
        cmocka_unit_test(test_pair_recovery),
        cmocka_unit_test(test_loose_key_refused),
        cmocka_unit_test(test_template_too_deep_refused),
        cmocka_unit_test(test_generated_keys_load_with_libmesh),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
