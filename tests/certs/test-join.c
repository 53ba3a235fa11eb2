/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The issuer's side of online issuance without a server: join tokens (format, hash, used
 * once, expiry, revocation), the issued-certificate records, the schema migration to version
 * 3, and the `certificates` config section with its errors naming the key path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "config.h"
#include "join_tokens.h"
#include "store.h"

struct fx {
    char dir[256];
    char db[300];
    char url[320];
    store_t *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    (void)snprintf(f->dir, sizeof(f->dir), "%s/mesh-join.XXXXXX",
                   getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->db, sizeof(f->db), "%s/issuer.db", f->dir);
    (void)snprintf(f->url, sizeof(f->url), "sqlite:%s", f->db);
    assert_int_equal(store_open(f->url, &f->s), MESH_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    static const char *const ext[] = {"", "-wal", "-shm"};
    char p[340];

    store_close(f->s);
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(p, sizeof(p), "%s%s", f->db, ext[i]);
        (void)unlink(p);
    }
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

static void test_token_is_used_once(void **state)
{
    struct fx *f = *state;
    char tok[MESH_MAX_JOIN_TOKEN + 1], hash[48];
    join_token_rec_t rec, got;

    assert_int_equal(join_token_create(f->s, "svc-a", 3600, 1000, tok, &rec), MESH_OK);
    assert_int_equal(strlen(tok), 4 + 43);
    assert_memory_equal(tok, "mjt_", 4);
    assert_int_equal(join_token_hash(tok, hash), MESH_OK);
    assert_string_equal(hash, rec.hash);
    assert_int_equal(strlen(rec.id), 12);
    assert_int_equal(store_join_get(f->s, hash, &got), MESH_OK);
    assert_string_equal(got.service, "svc-a");
    assert_int_equal(got.expires, 4600);
    assert_int_equal(got.used_at, 0);
    assert_int_equal(store_join_consume(f->s, hash, 1001), MESH_OK);
    assert_int_equal(store_join_consume(f->s, hash, 1002), MESH_ERR_NOT_FOUND);
    assert_int_equal(store_join_get(f->s, hash, &got), MESH_OK);
    assert_int_equal(got.used_at, 1001);
}

static void test_token_expires_and_revokes(void **state)
{
    struct fx *f = *state;
    char tok[MESH_MAX_JOIN_TOKEN + 1], hash[48];
    join_token_rec_t rec;

    assert_int_equal(join_token_create(f->s, "svc-a", 10, 1000, tok, &rec), MESH_OK);
    assert_int_equal(join_token_hash(tok, hash), MESH_OK);
    assert_int_equal(store_join_consume(f->s, hash, 1010), MESH_ERR_NOT_FOUND); /* at expiry */
    assert_int_equal(join_token_create(f->s, "svc-a", 10, 1000, tok, &rec), MESH_OK);
    assert_int_equal(join_token_hash(tok, hash), MESH_OK);
    assert_int_equal(store_join_revoke(f->s, rec.id), MESH_OK);
    assert_int_equal(store_join_consume(f->s, hash, 1001), MESH_ERR_NOT_FOUND);
    assert_int_equal(store_join_revoke(f->s, "no-such-id"), MESH_ERR_NOT_FOUND);
    /* pruned once expired */
    size_t removed = 0;
    assert_int_equal(store_prune(f->s, 2000, &removed), MESH_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(store_join_get(f->s, hash, &rec), MESH_ERR_NOT_FOUND);
}

static void test_token_create_refuses_bad_input(void **state)
{
    struct fx *f = *state;
    char tok[MESH_MAX_JOIN_TOKEN + 1];
    join_token_rec_t rec;

    assert_int_equal(join_token_create(f->s, "Svc", 60, 1, tok, &rec), MESH_ERR_CONFIG);
    assert_int_equal(join_token_create(f->s, "-svc", 60, 1, tok, &rec), MESH_ERR_CONFIG);
    assert_int_equal(join_token_create(f->s, "", 60, 1, tok, &rec), MESH_ERR_CONFIG);
    assert_int_equal(join_token_create(f->s, "svc", 0, 1, tok, &rec), MESH_ERR_CONFIG);
    assert_int_equal(join_token_create(f->s, "svc", MESH_JOIN_TOKEN_TTL_MAX + 1, 1, tok, &rec),
                     MESH_ERR_CONFIG);
}

static void test_token_hash_refuses_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "mjt_",
        "mjt_AAAA",
        "xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "mjt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
        "mjt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "mjt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "mjt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", /* non-zero trailing bits */
        "mjt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    char hash[48];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (join_token_hash(bad[i], hash) != MESH_ERR_INVALID_ARG) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
    assert_int_equal(join_token_hash(NULL, hash), MESH_ERR_INVALID_ARG);
    assert_int_equal(join_token_hash("mjt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", hash),
                     MESH_OK);
}

static bool count(void *p, const issued_cert_rec_t *r)
{
    (void)r;
    (*(int *)p)++;
    return true;
}

static void test_issued_records(void **state)
{
    struct fx *f = *state;
    issued_cert_rec_t a = {.not_before = 100, .not_after = 1000}, b = a, got;
    int n = 0;

    (void)snprintf(a.serial, sizeof(a.serial), "0a1b");
    (void)snprintf(a.spiffe_id, sizeof(a.spiffe_id), "spiffe://mesh.local/a");
    (void)snprintf(a.x5t, sizeof(a.x5t), "x5t-a");
    (void)snprintf(a.auth_method, sizeof(a.auth_method), "join_token");
    b = a;
    (void)snprintf(b.serial, sizeof(b.serial), "0c2d");
    (void)snprintf(b.x5t, sizeof(b.x5t), "x5t-b");
    b.not_after = 5000;
    assert_int_equal(store_issued_insert(f->s, &a), MESH_OK);
    assert_int_equal(store_issued_insert(f->s, &b), MESH_OK);
    assert_int_not_equal(store_issued_insert(f->s, &b), MESH_OK); /* serial is unique */
    assert_int_equal(store_issued_by_x5t(f->s, "x5t-b", &got), MESH_OK);
    assert_string_equal(got.serial, "0c2d");
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(store_issued_revoke(f->s, "0c2d", 200), MESH_OK);
    assert_int_equal(store_issued_revoke(f->s, "0c2d", 300), MESH_OK); /* the first time stays */
    assert_int_equal(store_issued_by_serial(f->s, "0c2d", &got), MESH_OK);
    assert_int_equal(got.revoked_at, 200);
    assert_int_equal(store_issued_revoke(f->s, "ffff", 200), MESH_ERR_NOT_FOUND);
    assert_int_equal(store_issued_list(f->s, true, 400, count, &n), MESH_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_issued_list(f->s, false, 400, count, &n), MESH_OK);
    assert_int_equal(n, 2);
    n = 0; /* a revoked certificate past its notAfter needs no CRL entry */
    assert_int_equal(store_issued_list(f->s, true, 6000, count, &n), MESH_OK);
    assert_int_equal(n, 0);
}

/* A version-2 store (before online issuance) opens, and is version 3 with both tables. */
static void test_schema_v2_migrates(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char tok[MESH_MAX_JOIN_TOKEN + 1];
    join_token_rec_t rec;

    store_close(f->s);
    f->s = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE join_tokens; DROP TABLE issued_certs; "
                                  "UPDATE schema_version SET version = 2",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->url, &f->s), MESH_OK);
    assert_int_equal(join_token_create(f->s, "svc", 60, 1, tok, &rec), MESH_OK);
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- the certificates section ---- */

static const char base[] =
    "{\"issuer\": \"https://127.0.0.1:8443\", \"listen\": \"127.0.0.1:8443\","
    " \"tls\": {\"cert\": \"c.pem\", \"key\": \"k.pem\", \"ca\": \"ca.pem\"},"
    " \"signing_keys\": {\"current\": \"j.key\"}, \"store\": \"sqlite:x.db\","
    " \"audiences\": [{\"name\": \"a\"}]%s}";

static mesh_err_t parse(const char *section, config_t **cfg, char *err, size_t cap)
{
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), base, section);

    assert_true(n > 0 && (size_t)n < sizeof(buf));
    return config_parse(buf, (size_t)n, "/etc/mesh/issuer.json", cfg, err, cap);
}

static void test_config_section(void **state)
{
    config_t *cfg = NULL;
    char err[1024];
    const cfg_cert_service_t *svc;

    (void)state;
    assert_int_equal(parse("", &cfg, err, sizeof(err)), MESH_OK);
    assert_false(cfg->certs.enabled);
    config_free(cfg);
    cfg = NULL;
    assert_int_equal(
        parse(", \"certificates\": {\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": "
              "\"i.crl\", \"trust_domain\": \"mesh.local\", \"services\": [{\"name\": \"svc-a\"},"
              " {\"name\": \"web\", \"dns\": [\"web\", \"localhost\"], \"ips\": [\"127.0.0.1\"],"
              " \"lifetime\": 600}]}",
              &cfg, err, sizeof(err)),
        MESH_OK);
    assert_true(cfg->certs.enabled);
    assert_string_equal(cfg->certs.ca_cert, "/etc/mesh/i.pem");
    assert_int_equal(cfg->certs.default_lifetime, 86400);
    assert_int_equal(cfg->certs.min_lifetime, MESH_CERT_MIN_LIFETIME_DEFAULT);
    svc = config_cert_service(cfg, "svc-a");
    assert_non_null(svc);
    assert_int_equal(svc->n_dns, 1);
    assert_string_equal(svc->dns[0], "svc-a");
    svc = config_cert_service(cfg, "web");
    assert_int_equal(svc->n_ips, 1);
    assert_int_equal(svc->lifetime, 600);
    assert_null(config_cert_service(cfg, "nope"));
    config_free(cfg);
}

static void test_config_section_errors(void **state)
{
    static const char *const cases[][2] = {
        {"\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": \"c\", \"trust_domain\": "
         "\"mesh.local\", \"services\": [{\"name\": \"a\"}], \"lifetimes\": 1",
         "certificates.lifetimes: unknown member"},
        {"\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": \"c\", \"trust_domain\": "
         "\"mesh.local\"",
         "certificates.services"},
        {"\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": \"c\", \"trust_domain\": "
         "\"mesh.local\", \"services\": [{\"name\": \"a\"}, {\"name\": \"a\"}]",
         "certificates.services[1]: service 'a' is listed twice"},
        {"\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": \"c\", \"trust_domain\": "
         "\"Mesh Local\", \"services\": [{\"name\": \"a\"}]",
         "certificates.trust_domain"},
        {"\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": \"c\", \"trust_domain\": "
         "\"mesh.local\", \"services\": [{\"name\": \"a\", \"dns\": [\"a..b\"]}]",
         "certificates.services[0].dns[0]"},
        {"\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": \"c\", \"trust_domain\": "
         "\"mesh.local\", \"services\": [{\"name\": \"a\", \"ips\": [\"999.1.1.1\"]}]",
         "certificates.services[0].ips[0]"},
        {"\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": \"c\", \"trust_domain\": "
         "\"mesh.local\", \"services\": [{\"name\": \"a\", \"lifetime\": 100}]",
         "min_lifetime..max_lifetime"},
        {"\"ca_cert\": \"i.pem\", \"ca_key\": \"i.key\", \"crl\": \"c\", \"trust_domain\": "
         "\"mesh.local\", \"min_lifetime\": 10, \"services\": [{\"name\": \"a\"}]",
         "certificates.min_lifetime"},
        {"\"ca_cert\": \"i.pem\", \"crl\": \"c\", \"trust_domain\": \"mesh.local\", "
         "\"services\": [{\"name\": \"a\"}]",
         "certificates.ca_key"},
    };
    char section[1200], err[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        config_t *cfg = NULL;
        (void)snprintf(section, sizeof(section), ", \"certificates\": {%s}", cases[i][0]);
        assert_int_equal(parse(section, &cfg, err, sizeof(err)), MESH_ERR_CONFIG);
        assert_null(cfg);
        if (strstr(err, cases[i][1]) == NULL) {
            fail_msg("case %zu: want '%s' in: %s", i, cases[i][1], err);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_is_used_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_expires_and_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_create_refuses_bad_input, setup, teardown),
        cmocka_unit_test(test_token_hash_refuses_malformed),
        cmocka_unit_test_setup_teardown(test_issued_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_v2_migrates, setup, teardown),
        cmocka_unit_test(test_config_section),
        cmocka_unit_test(test_config_section_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
